"""Answers to a question bank: reading, checking and saving an assessment file (one row per answer)."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from crmlib.analytics.assessment._common import (
    ANSWER_COLUMNS,
    DIMENSIONS,
    MISSING_COLUMNS,
    R_COLUMN,
    R_FILE,
    R_REASON,
    R_ROW,
    R_TABLE,
    R_VALUE,
    TABLE,
)
from crmlib.analytics.assessment.banks import QuestionBank, _as_bank
from crmlib.data import schema as s
from crmlib.data.io import MISSING, decode_text, sniff_delimiter
from crmlib.errors import CRMError, DataError

# --- answers ------------------------------------------------------------------


@dataclass
class Answers:
    """Answers read from ``assessment_<bank>.csv`` and what was wrong with them.

    Attributes
    ----------
    bank : QuestionBank
    file : str
        Name of the file read.
    table : DataFrame
        The valid rows (index ``row``: the line in the file, header = 1);
        columns question_id, intention, reality, evidence, assessor, date. A
        score left empty is NaN: the question is unanswered on that dimension.
    rejects : DataFrame
        One row per problem that rejected a row: table, file, row, column,
        value, reason. Rejected rows are not in ``table``.
    missing : DataFrame
        One row per assessor, question and dimension without a valid score:
        question_id, assessor, column (the dimension), row (the line of the
        assessor's row for that question, <NA> when there is none), reason.
    """

    bank: QuestionBank
    file: str
    table: pd.DataFrame
    rejects: pd.DataFrame
    missing: pd.DataFrame

    @property
    def ok(self) -> bool:
        """True when no row was rejected and every question was answered."""
        return self.rejects.empty and self.missing.empty

    @property
    def problems(self) -> pd.DataFrame:
        """Rejects and missing answers together, in the rejects-report columns."""
        missing = self.missing.assign(**{R_TABLE: TABLE, R_FILE: self.file, R_VALUE: ""})
        parts = [f for f in (self.rejects, missing[list(s.REJECT_COLUMNS)]) if not f.empty]
        if not parts:
            return _frame([], s.REJECT_COLUMNS)
        return pd.concat(parts, ignore_index=True).astype({R_ROW: "Int64"})


def _frame(rows: list[dict], columns) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    return frame.astype({R_ROW: "Int64"}) if R_ROW in frame.columns else frame


def _records(text: str, name: str):
    """Yield (line, fields) for each non-blank record after the header, and the header first."""
    if not text.strip():
        raise DataError(f"{name}: the file is empty", file=name)
    sep = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        yield 1, next(reader)
        start = 2
        for record in reader:
            line, start = start, reader.line_num + 1
            if record and any(f.strip() for f in record):
                yield line, record
    except csv.Error as exc:
        raise DataError(f"not readable as CSV ({exc})", file=name, row=reader.line_num) from None


def _parse_score(raw: str, bank: QuestionBank) -> tuple[float, str | None]:
    """(value, reason): value NaN when empty; reason set when the text is not a valid score."""
    text = raw.strip()
    if text.lower() in MISSING:
        return np.nan, None
    try:
        value = float(text)
    except ValueError:
        return np.nan, "not a number"
    if not math.isfinite(value):
        return np.nan, "not a finite number"
    if not bank.scale_min <= value <= bank.scale_max:
        return np.nan, f"outside the answer scale {bank.scale_min:g} to {bank.scale_max:g}"
    return value, None


def _header(header) -> list[str]:
    return [h.strip().lower().replace(" ", "_") for h in header]


def answer_columns(path) -> list[str]:
    """The columns of an answer file, as :func:`read_answers` names them (its header only).

    Raises
    ------
    crmlib.errors.DataError
        The file cannot be read as text or is empty.
    """
    path = Path(path)
    _, header = next(_records(decode_text(path), path.name))
    return _header(header)


def read_answers(path, bank) -> Answers:
    """Read and validate an answer file ``assessment_<bank>.csv``.

    Every problem is collected, not only the first: a question id the bank
    does not have, a score that is not a number or lies outside the bank's
    scale, a score in a dimension the bank does not score, a date that is not
    ``YYYY-MM-DD``, a row with more fields than the header, and a second
    answer from the same assessor to the same question (the first is kept).
    Each is reported with the file, the row (the line in the file, header =
    1), the column, the value and the reason, and its row goes to
    ``rejects``. An empty score (or ``n/a``) is not an error: the question is
    unanswered on that dimension and is listed in ``missing``, as is every
    question of the bank an assessor gave no row for. A row with fewer fields
    than the header is read as if its last cells were empty.

    Parameters
    ----------
    path : str or Path
        The CSV file (comma, semicolon or tab separated; UTF-8 or Windows-1252).
    bank : QuestionBank or str
        The bank the answers belong to, or its name.

    Returns
    -------
    Answers

    Raises
    ------
    DataError
        The file cannot be read at all: missing, empty, not text, not CSV, or
        without a ``question_id`` column or a column for a dimension the bank scores.
    """
    bank = _as_bank(bank)
    path = Path(path)
    name = path.name
    records = _records(decode_text(path), name)
    _, header = next(records)
    header = _header(header)
    for col in (s.QUESTION_ID, *bank.dimensions):
        if col not in header:
            raise DataError(
                f"{name}: no '{col}' column; the columns are {', '.join(ANSWER_COLUMNS)}",
                file=name,
                column=col,
            )
    doubled = sorted({h for h in header if h and header.count(h) > 1})
    if doubled:
        raise DataError(f"{name}: column '{doubled[0]}' appears twice", file=name)

    rejects: list[dict] = []
    valid: list[dict] = []
    first_seen: dict[tuple[str, str], int] = {}
    row_of: dict[tuple[str, str], int] = {}  # (question, assessor) -> line of its first row
    assessors: list[str] = []

    def bad(line, column, value, reason):
        rejects.append(
            {
                R_TABLE: TABLE,
                R_FILE: name,
                R_ROW: line,
                R_COLUMN: column,
                R_VALUE: value,
                R_REASON: reason,
            }
        )

    for line, fields in records:
        n_before = len(rejects)
        if len(fields) > len(header):
            bad(line, "", "", f"has {len(fields)} fields, the header has {len(header)}")
            continue
        cells = dict(zip(header, fields + [""] * (len(header) - len(fields)), strict=True))
        qid = cells[s.QUESTION_ID].strip()
        assessor = cells.get(s.ASSESSOR, "").strip()
        if assessor not in assessors:
            assessors.append(assessor)
        row = {s.QUESTION_ID: qid, s.ASSESSOR: assessor, R_ROW: line}
        if not qid:
            bad(line, s.QUESTION_ID, "", "empty question id")
        elif qid not in bank.questions.index:
            bad(line, s.QUESTION_ID, qid, f"not a question of the '{bank.id}' bank")
        else:
            key = (qid, assessor)
            if key in first_seen:
                bad(
                    line,
                    s.QUESTION_ID,
                    qid,
                    f"second answer to this question from the same assessor (first on line {first_seen[key]})",
                )
            else:
                first_seen[key] = line
            row_of.setdefault(key, line)
        for dim in DIMENSIONS:
            raw = cells.get(dim, "")
            if dim not in bank.dimensions:
                if raw.strip().lower() not in MISSING:
                    bad(
                        line, dim, raw, f"the '{bank.id}' bank does not score {dim}: leave it empty"
                    )
                row[dim] = np.nan
                continue
            value, reason = _parse_score(raw, bank)
            if reason:
                bad(line, dim, raw, reason)
            row[dim] = value
        row[s.EVIDENCE] = cells.get(s.EVIDENCE, "").strip()
        raw_date = cells.get(s.DATE, "").strip()
        row[s.DATE] = pd.NaT
        if raw_date.lower() not in MISSING:
            try:
                row[s.DATE] = pd.Timestamp(date.fromisoformat(raw_date))
            except ValueError:
                bad(line, s.DATE, raw_date, "not a date (YYYY-MM-DD)")
        if len(rejects) == n_before:
            valid.append(row)

    table = pd.DataFrame(valid, columns=[R_ROW, *ANSWER_COLUMNS])
    table = table.astype(
        {s.INTENTION: "float64", s.REALITY: "float64", s.DATE: "datetime64[ns]", R_ROW: "int64"}
    ).set_index(R_ROW)
    missing = _missing_answers(bank, table, assessors or [""], row_of)
    return Answers(
        bank=bank,
        file=name,
        table=table,
        rejects=_frame(rejects, s.REJECT_COLUMNS),
        missing=missing,
    )


def _missing_answers(
    bank: QuestionBank, table: pd.DataFrame, assessors: list[str], row_of: dict
) -> pd.DataFrame:
    """Each (assessor, question, dimension) of the bank without a valid score, with its reason."""
    dims = list(bank.dimensions)
    scored = table.melt(
        id_vars=[s.QUESTION_ID, s.ASSESSOR], value_vars=dims, var_name=R_COLUMN, value_name=R_VALUE
    ).dropna(subset=[R_VALUE])
    answered = set(zip(scored[s.QUESTION_ID], scored[s.ASSESSOR], scored[R_COLUMN], strict=True))
    valid_rows = set(zip(table[s.QUESTION_ID], table[s.ASSESSOR], strict=True))
    missing = []
    for assessor in assessors:
        for qid in bank.questions.index:
            line = row_of.get((qid, assessor))
            if line is None:
                reason = "no row for this question"
            elif (qid, assessor) in valid_rows:
                reason = "no score given"
            else:
                reason = "the row was rejected"
            missing.extend(
                {
                    s.QUESTION_ID: qid,
                    s.ASSESSOR: assessor,
                    R_COLUMN: dim,
                    R_ROW: line,
                    R_REASON: reason,
                }
                for dim in dims
                if (qid, assessor, dim) not in answered
            )
    return _frame(missing, MISSING_COLUMNS)


def _answer_table(answers) -> pd.DataFrame:
    if isinstance(answers, Answers):
        return answers.table
    if isinstance(answers, pd.DataFrame):
        if s.QUESTION_ID not in answers.columns:
            raise CRMError(f"the answers have no '{s.QUESTION_ID}' column")
        return answers
    raise CRMError("answers must be read with read_answers() or be a DataFrame of answers")


def _format_cell(column: str, value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if column in DIMENSIONS:
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if column == s.DATE:
        return pd.Timestamp(value).date().isoformat()
    return str(value)


def save_answers(path, table) -> Path:
    """Write answers to ``path`` atomically, in the answer-file format.

    The rows are written to a temporary file in the same folder, which then
    replaces ``path`` in one step (:func:`os.replace`), so an interrupted save
    leaves the earlier file as it was. Scores are written exactly (shortest
    round-trip form), dates as ``YYYY-MM-DD``: :func:`read_answers` on the
    saved file gives back the same answers.

    Parameters
    ----------
    path : str or Path
        The answer file; its folder is created when missing.
    table : DataFrame or Answers
        Rows with at least ``question_id``; the other answer columns
        (intention, reality, evidence, assessor, date) are written empty when absent.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    DataError
        The file cannot be written (the earlier file, if any, is unchanged).
    """
    table = _answer_table(table)
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(ANSWER_COLUMNS)
            columns = [
                table[c] if c in table.columns else [None] * len(table) for c in ANSWER_COLUMNS
            ]
            for values in zip(*columns, strict=True):
                writer.writerow(
                    _format_cell(c, v) for c, v in zip(ANSWER_COLUMNS, values, strict=True)
                )
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        reason = exc.strerror or str(exc)
        raise DataError(
            f"{path.name}: answers could not be saved ({reason}); the earlier file is unchanged",
            file=path.name,
        ) from None
    return path
