"""An ipywidgets form for answering a question bank, saving every change at once.

The form is a thin layer over :mod:`crmlib.analytics.assessment`: it reads the answer
file with :func:`~crmlib.analytics.assessment.read_answers`, writes it with
:func:`~crmlib.analytics.assessment.save_answers` (atomically) after every change, and
does no scoring of its own.
"""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pandas as pd

from crmlib.analytics.assessment import (
    ANSWER_COLUMNS,
    AREA,
    DESCRIPTION,
    NAME,
    R_COLUMN,
    R_REASON,
    R_ROW,
    TEXT,
    QuestionBank,
    load_bank,
    read_answers,
    save_answers,
)
from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

__all__ = ["assessment_form"]


def _existing(path: Path, bank: QuestionBank) -> pd.DataFrame:
    """The valid rows already saved; refuse a file with rejected rows (saving would drop them)."""
    if not path.exists():
        return pd.DataFrame(columns=list(ANSWER_COLUMNS))
    answers = read_answers(path, bank)
    if not answers.rejects.empty:
        first = answers.rejects.iloc[0]
        raise DataError(
            f"{first[R_REASON]}; {len(answers.rejects)} problem(s) in the saved answers. Fix the "
            "file first (read_answers lists them all): the form would otherwise drop those rows.",
            file=answers.file,
            row=int(first[R_ROW]) if pd.notna(first[R_ROW]) else None,
            column=first[R_COLUMN] or None,
        )
    return answers.table.reset_index(drop=True)


def assessment_form(bank, path, assessor: str) -> widgets.VBox:
    """Build a form to answer a question bank; every change is saved at once.

    One row per question: its text and the evidence to look for, a slider per
    dimension the bank scores (Intention, Reality) and a box for the evidence
    seen. A slider starts at the bottom of the scale and counts as answered
    once moved; a row's status says which dimensions are still unanswered.
    Each change (a slider released, the evidence box left) rewrites the answer
    file with :func:`crmlib.analytics.assessment.save_answers`, keeping other
    assessors' rows. Building the form again on the same file shows what was
    saved.

    Parameters
    ----------
    bank : QuestionBank or str
        The question bank, or its name (``"qci"`` …).
    path : str or Path
        The answer file, e.g. ``<client folder>/assessment_qci.csv``.
    assessor : str
        Whose answers these are; each assessor has their own rows.

    Returns
    -------
    ipywidgets.VBox
        The form. ``form.controls`` maps ``(question_id, dimension)`` and
        ``(question_id, "evidence")`` to the widgets; ``form.status`` is the
        label reporting the last save.

    Raises
    ------
    CRMError
        An empty assessor, or an answer file holding rows that fail validation.
    """
    bank = bank if isinstance(bank, QuestionBank) else load_bank(bank)
    assessor = str(assessor).strip()
    if not assessor:
        raise CRMError("assessment_form needs an assessor name (whose answers these are)")
    path = Path(path)
    saved = _existing(path, bank)
    mine = saved[saved[s.ASSESSOR] == assessor].set_index(s.QUESTION_ID)

    # this assessor's answers, one dict per question, kept in bank order
    answers: dict[str, dict] = {}
    for qid in bank.questions.index:
        row = {s.QUESTION_ID: qid, s.ASSESSOR: assessor, s.EVIDENCE: "", s.DATE: pd.NaT}
        row.update({d: np.nan for d in bank.dimensions})
        if qid in mine.index:
            row.update({c: mine.at[qid, c] for c in ANSWER_COLUMNS if c in mine.columns})
        answers[qid] = row

    status = widgets.Label(value=f"Answers are saved to {path.name} after every change.")
    controls: dict[tuple[str, str], widgets.Widget] = {}
    row_status: dict[str, widgets.Label] = {}

    def touched(qid: str) -> bool:
        row = answers[qid]
        return row[s.EVIDENCE] != "" or any(not pd.isna(row[d]) for d in bank.dimensions)

    def describe(qid: str) -> str:
        todo = [d for d in bank.dimensions if pd.isna(answers[qid][d])]
        return "answered" if not todo else "not answered: " + ", ".join(todo)

    question_order = {q: i for i, q in enumerate(bank.questions.index)}

    def save() -> None:
        # other assessors' rows are re-read at each save, so two forms on one file both keep theirs
        current = _existing(path, bank)
        others = current[current[s.ASSESSOR] != assessor]
        mine_now = pd.DataFrame(
            [answers[q] for q in bank.questions.index if touched(q)], columns=list(ANSWER_COLUMNS)
        )
        parts = [f for f in (others, mine_now) if len(f)]
        table = pd.concat(parts, ignore_index=True) if parts else mine_now
        # assessor by assessor (in the file's order), questions in bank order
        assessor_order = list(dict.fromkeys([*current[s.ASSESSOR], assessor]))
        table = table.iloc[
            np.lexsort(
                (
                    table[s.QUESTION_ID].map(question_order).to_numpy(),
                    table[s.ASSESSOR].map(assessor_order.index).to_numpy(),
                )
            )
        ]
        save_answers(path, table)
        status.value = f"Saved {len(mine_now)} answer(s) of {assessor} to {path.name}."

    def on_change(qid: str, column: str):
        def handler(change):
            answers[qid][column] = change["new"]
            answers[qid][s.DATE] = pd.Timestamp(date.today())
            row_status[qid].value = describe(qid)
            try:
                save()
            except CRMError as exc:  # shown in the form rather than lost in the kernel log
                status.value = f"Not saved: {exc}"

        return handler

    scale_text = ", ".join(f"{k:g} = {v}" for k, v in bank.labels.items())
    children: list[widgets.Widget] = [
        widgets.HTML(
            f"<h3>{html.escape(bank.title)}</h3><p><i>{html.escape(bank.source)}</i></p>"
            f"<p>Scale {bank.scale_min:g} to {bank.scale_max:g} {html.escape(bank.unit)}: "
            f"{html.escape(scale_text)}</p>"
            + "".join(f"<p>{html.escape(text)}</p>" for text in bank.dimensions.values())
        )
    ]
    for area_id, area in bank.areas.iterrows():
        children.append(
            widgets.HTML(
                f"<h4>{html.escape(area[NAME])}</h4><p>{html.escape(area[DESCRIPTION])}</p>"
            )
        )
        for qid, question in bank.questions[bank.questions[AREA] == area_id].iterrows():
            row = answers[qid]
            sliders = []
            for dim in bank.dimensions:
                value = row[dim]
                slider = widgets.FloatSlider(
                    value=bank.scale_min if pd.isna(value) else float(value),
                    min=bank.scale_min,
                    max=bank.scale_max,
                    step=bank.step,
                    description=dim.capitalize(),
                    continuous_update=False,
                    readout_format=".1f" if bank.step < 1 else ".0f",
                )
                slider.observe(on_change(qid, dim), names="value")
                controls[(qid, dim)] = slider
                sliders.append(slider)
            evidence = widgets.Textarea(
                value=str(row[s.EVIDENCE]),
                placeholder="Evidence seen",
                continuous_update=False,
                layout=widgets.Layout(width="60%"),
            )
            evidence.observe(on_change(qid, s.EVIDENCE), names="value")
            controls[(qid, s.EVIDENCE)] = evidence
            row_status[qid] = widgets.Label(value=describe(qid))
            children.append(
                widgets.VBox(
                    [
                        widgets.HTML(
                            f"<b>{html.escape(qid)}</b> {html.escape(question[TEXT])}<br>"
                            f"<small>Look for: {html.escape(question[s.EVIDENCE])}</small>"
                        ),
                        widgets.HBox([*sliders, row_status[qid]]),
                        evidence,
                    ],
                    layout=widgets.Layout(margin="0 0 12px 0"),
                )
            )
    children.append(status)
    form = widgets.VBox(children)
    form.controls = controls
    form.status = status
    return form
