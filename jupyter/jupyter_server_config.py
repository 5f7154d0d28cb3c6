"""JupyterLab as the workbook opens it: ``make lab`` and the browser test load this file.

They put this folder on ``JUPYTER_CONFIG_PATH``; a user's own ``~/.jupyter``
configuration still comes first. The server serves the whole repository (so that
``exercises/`` opens too) and starts the file browser in ``notebooks/``.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent

c = get_config()  # noqa: F821 (traitlets provides get_config to config files)

c.ServerApp.root_dir = str(HERE.parent)
c.LabApp.default_url = "/lab/tree/notebooks"
# overrides.json (setting defaults) and page_config.json (no "build recommended" check)
c.LabApp.app_settings_dir = str(HERE / "lab" / "settings")
# no announcements feed and no update check: nothing fetched from the internet on start
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
