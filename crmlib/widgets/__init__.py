"""ipywidgets explorers and forms: thin layers over the tested functions."""
