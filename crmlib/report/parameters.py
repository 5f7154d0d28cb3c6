"""The lessons a report runs and the parameters they declare.

Every lesson's ``parameters`` cell starts with :data:`COMMON_PARAMETERS`;
``crm report`` passes each lesson only the parameters it declares and
refuses one that no lesson takes (papermill itself would only log it).
Paths and secrets among them are shown as placeholders
(:data:`HIDDEN_PATH`, :data:`HIDDEN_REPORT`) in everything a report writes.
"""

from __future__ import annotations

import ast
from pathlib import Path

from crmlib.data import privacy
from crmlib.errors import CRMError

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
COMMON_PARAMETERS = ("data_path", "client_name", "as_of")
ENGINE_PARAMETER, SPARK_PARAMETER = "engine", "spark_master"  # taken by the model lessons
RESULTS_PARAMETER = "results_dir"  # the summary's: the report's work folder
IDENTITY_PARAMETER = "identity_dir"  # the record linkage the report ran once (ids only)
AGGREGATES_PARAMETER = "aggregates_dir"  # a report at scale: the per-customer tables of every row
#: The parameters crm report sets itself (paths in its private work folder): never passed by a user.
SET_BY_REPORT = (RESULTS_PARAMETER, IDENTITY_PARAMETER, AGGREGATES_PARAMETER)
MATCH_PARAMETER = "match_threshold"  # lesson 01's; the report links at it when given
HIDDEN_PATH = "<client folder>"
HIDDEN_REPORT = "<report folder>"


def lesson_notebooks(only: list[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The lesson notebooks in order (``NN_name.ipynb``), optionally only some.

    ``only`` takes lesson names without number, e.g. ``["foundations", "idic"]``.
    """
    found = sorted(p for p in Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return found
    by_name = {lesson_name(p): p for p in found}
    unknown = [n for n in only if n not in by_name]
    if unknown:
        raise CRMError(f"unknown lesson(s) {', '.join(unknown)}; lessons: {', '.join(by_name)}")
    return [by_name[n] for n in only]


def lesson_name(notebook: Path) -> str:
    return notebook.stem.split("_", 1)[1]


def declared_parameters(notebook: Path) -> dict:
    import papermill

    return papermill.inspect_notebook(str(notebook))


def check_parameters(notebook: Path, parameters: dict) -> None:
    """Refuse a parameter the lesson's ``parameters`` cell does not define."""
    declared = declared_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise CRMError(
            f"{notebook.name}: unknown parameter(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(declared)}"
        )


def default_values(declared: dict) -> dict:
    """The parameters cell's default values (literals parsed, other code kept as text)."""
    out = {}
    for name, info in declared.items():
        try:
            out[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError, TypeError):
            out[name] = info["default"]
    return out


def resolve_paths(parameters: dict) -> dict:
    """Relative paths given as parameters, made absolute: the kernels run elsewhere."""
    return {
        k: str(Path(v).expanduser().resolve())
        if isinstance(v, str) and privacy.is_existing_path(v) and k != "client_name"
        else v
        for k, v in parameters.items()
    }
