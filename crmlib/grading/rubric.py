"""The rubric: the master's model answer beside each hand-graded answer, never in feedback.

:func:`add_rubric_cells` puts the master's model answer of every hand-graded
cell right below the student's answer in the autograded notebook, where the
grader reads it in formgrader; :class:`WithholdRubric` removes those cells
from feedback.
"""

from __future__ import annotations

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

RUBRIC_TITLE = "Rubric for the grader (the model answer; never shown to the student)"


# --- rubric beside hand-graded answers -----------------------------------------------------


def _is_rubric(cell) -> bool:
    return bool(cell.get("metadata", {}).get("crm", {}).get("rubric"))


def _hand_graded(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool((meta.get("grade") and meta.get("solution")) or meta.get("task"))


def _rubric_cell(master_cell) -> nbformat.NotebookNode:
    source = master_cell.source
    if master_cell.cell_type == "code":
        source = f"```python\n{source}\n```"
    quoted = "\n".join(f"> {line}" if line else ">" for line in source.splitlines())
    cell = nbformat.v4.new_markdown_cell(f"**{RUBRIC_TITLE}**\n\n{quoted}")
    cell.metadata["crm"] = {"rubric": True}
    cell.metadata["tags"] = ["crm-rubric"]
    cell.metadata["editable"] = False
    return cell


def rubric_withheld(course) -> bool:
    """Whether nbgrader's own feedback route (``nbgrader generate_feedback``, formgrader's
    button) withholds the rubric: ``nbgrader_config.py`` lists :class:`WithholdRubric`
    in ``c.GenerateFeedback.preprocessors``. Only then does crm grade add rubric cells.
    """
    listed = course.config.GenerateFeedback.get("preprocessors", [])
    return any(p is WithholdRubric or p == "crmlib.grading.rubric.WithholdRubric" for p in listed)


def add_rubric_cells(course, assignment: str, students: list[str]) -> int:
    """Put the master's model answer below each hand-graded answer of the autograded notebooks.

    Formgrader shows the autograded notebook, so the grader reads the rubric
    right below the student's answer. The cells carry ``metadata.crm.rubric``
    (no nbgrader metadata: they are not graded); :class:`WithholdRubric`
    removes them from feedback (crm feedback always runs it; nbgrader's own
    route runs it when :func:`rubric_withheld`). Running it again replaces them.

    Returns
    -------
    int
        The number of rubric cells written.
    """
    masters = {path.stem: nbformat.read(path, as_version=4) for path in course.masters(assignment)}
    written = 0
    for student in students:
        folder = course.folder("autograded") / student / assignment
        for stem, master in masters.items():
            path = folder / f"{stem}.ipynb"
            if not path.is_file():
                continue
            model = {
                c.metadata.get("nbgrader", {}).get("grade_id"): c
                for c in master.cells
                if _hand_graded(c)
            }
            nb = nbformat.read(path, as_version=4)
            cells = []
            for cell in nb.cells:
                if _is_rubric(cell):
                    continue
                cells.append(cell)
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                if _hand_graded(cell) and grade_id in model:
                    cells.append(_rubric_cell(model[grade_id]))
                    written += 1
            nb.cells = cells
            nbformat.write(nb, path)
    return written


class WithholdRubric(Preprocessor):
    """Remove the rubric cells (:func:`add_rubric_cells`) from a notebook, for feedback.

    Enabled by default (nbconvert's preprocessors are not), so that listing it
    in ``GenerateFeedback.preprocessors`` is enough.
    """

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        nb.cells = [cell for cell in nb.cells if not _is_rubric(cell)]
        return nb, resources
