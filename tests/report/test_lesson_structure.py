"""Each lesson is a course unit (#17) and a client section (#16), checked on the committed notebook.

A lesson has learning goals; every main section (a ``##`` heading other than the closing
ones) asks at least one check-your-understanding question with a collapsed solution; it
ends with key takeaways, references and the graded exercise; it states at least one
display equation; every chart cell carries a caption and an image description; and no
cell shown to the client (untagged) speaks of lessons, exercises or students.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
LESSONS = sorted(p for p in NOTEBOOKS.glob("0[0-4]_*.ipynb"))
CLOSING = ("key takeaways", "references", "graded exercise")
STUDENT_ONLY = "lesson-only"
STUDENT_WORDS = re.compile(r"\b(lessons?|exercises?|students?|you will)\b", re.IGNORECASE)
QUESTION = re.compile(
    r"\*\*Check your understanding\.\*\*.*<details>\s*<summary>\s*Solution\s*</summary>.*</details>",
    re.DOTALL,
)
CHART = re.compile(r"\bplot_\w+\(|\.subplots\(|record_chart\(")


def _tags(cell) -> set[str]:
    return set(cell.metadata.get("tags", []))


def _sections(nb) -> list[tuple[str, list]]:
    """(heading, cells under it) for each ``##`` heading, in order."""
    out: list[tuple[str, list]] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("## "):
                    out.append((line[3:].strip(), []))
                    break
        if out:
            out[-1][1].append(cell)
    return out


@pytest.fixture(params=LESSONS, ids=lambda p: p.stem)
def lesson(request):
    return nbformat.read(request.param, as_version=4)


def test_learning_goals_and_closing_material_in_order(lesson):
    headings = [h.lower() for h, _ in _sections(lesson)]
    assert any("learning goals" in h for h in headings), headings
    closing = [next(i for i, h in enumerate(headings) if h.startswith(c)) for c in CLOSING]
    assert closing == sorted(closing) and closing[-1] == len(headings) - 1, headings


def test_every_main_section_asks_a_question_with_a_hidden_solution(lesson):
    for heading, cells in _sections(lesson):
        if heading.lower().startswith(CLOSING) or "learning goals" in heading.lower():
            continue
        asked = [c for c in cells if c.cell_type == "markdown" and QUESTION.search(c.source)]
        assert asked, f"section {heading!r} asks no check-your-understanding question"
        assert all(STUDENT_ONLY in _tags(c) for c in asked), heading


def test_references_are_full_citations(lesson):
    (refs,) = [cells for h, cells in _sections(lesson) if h.lower().startswith("references")]
    text = "\n".join(c.source for c in refs)
    entries = [line for line in text.splitlines() if line.lstrip().startswith(("-", "*", "1"))]
    assert len(entries) >= 2
    assert all(re.search(r"\(?(19|20)\d\d\)?", e) for e in entries), entries


def test_at_least_one_display_equation(lesson):
    text = "\n".join(c.source for c in lesson.cells if c.cell_type == "markdown")
    assert re.search(r"\$\$.+?\$\$", text, re.DOTALL)


def test_every_chart_cell_has_a_caption_and_an_image_description(lesson):
    for cell in lesson.cells:
        if cell.cell_type == "code" and CHART.search(cell.source) and "explorer" not in _tags(cell):
            assert cell.metadata.get("caption") and cell.metadata.get("alt"), cell.source[:80]


def test_cells_shown_to_the_client_do_not_speak_to_students(lesson):
    for cell in lesson.cells:
        if cell.cell_type == "markdown" and STUDENT_ONLY not in _tags(cell):
            hit = STUDENT_WORDS.search(cell.source)
            assert hit is None, f"{hit.group(0)!r} in an untagged cell: {cell.source[:80]!r}"
