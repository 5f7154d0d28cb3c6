"""ipywidgets explorers and forms: thin layers over the tested functions.

Import the module of the lesson you need, e.g. ``from crmlib.widgets.foundations
import model_chooser``; each widget calls crmlib functions and holds no logic of its own.
"""
