"""Questionnaire engine: YAML question banks → validated answers → scores, gaps, priorities.

One engine serves the workbook's three question banks, shipped in
``crmlib/analytics/banks/``:

``qci``
    QCi's customer management model, assessed CMAT-style: every practice is
    scored as a percentage of best practice on **Intention** (clear plans,
    communicated, bought into) and **Reality** (evidence of full implementation
    and adoption) (Woodcock, Starkey & Stone, *The Customer Management
    Scorecard*, Kogan Page 2003, ch. 1). The questions are the workbook's own:
    QCi's are not public.
``value_chain``
    The five supporting conditions of Buttle's CRM value chain, each naming the
    primary stages it holds back (Buttle & Maklan, *Customer Relationship
    Management: Concepts and Technologies*, Routledge).
``payne_frow_readiness``
    Payne & Frow's four implementation factors: CRM readiness assessment,
    change management, project management and employee engagement (Payne &
    Frow 2006, *Journal of Marketing Management* 22(1-2), 135-168), on a 1-5
    scale with the workbook's own readiness stages.

A bank is a YAML file: ``id``, ``title``, ``source``, ``scale`` (``min``,
``max``, ``step``, ``unit``, ``labels``, optional ``stages``), ``dimensions``
(``intention`` and/or ``reality``, each with a description; ``reality`` is
required), optional ``benchmarks`` and ``primary_stages``, and ``areas``, each
with ``id``, ``name``, ``description``, ``weight`` (default 1), optional
``holds_back`` (primary stage ids) and ``action``, and its ``questions`` (``id``,
``text``, ``evidence``, ``weight`` default 1, optional ``topic``).

Answers live in ``assessment_<bank>.csv`` with the columns of
:data:`crmlib.data.schema.TABLES` ``["assessment"]``: question_id, intention,
reality, evidence, assessor, date. One row per question and assessor.

The scoring rules (:func:`score`)
---------------------------------
Several assessors are first averaged per question (:func:`combine_assessors`).
For a dimension *d* (intention or reality), with question weights *w_q* and
area weights *W_a*, over the questions *answered* (an unanswered question is
left out and counted, never scored as 0):

* area score ``S_a = sum(w_q * x_q) / sum(w_q)`` over the answered questions of *a*;
* overall score ``S = sum(W_a * S_a) / sum(W_a)`` over the areas with a score;
* gap ``G_a = S_a(intention) - S_a(reality)``: plans ahead of practice when positive;
* priority ``P_a = W_a / sum(W) * (scale max - S_a(reality))``: the weighted
  shortfall from best practice. Areas are listed by descending priority (ties:
  lower reality first), so the lowest reality in the most heavily weighted
  areas comes first.

This is the usual weighted-mean scoring of capability assessments (CMAT reports
a score against best practice per area and overall: Woodcock, Starkey & Stone
2003, ch. 1); QCi's own weights are not public, so the workbook's are equal
by default and can be overridden per area.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from crmlib.data import schema as s
from crmlib.data.io import MISSING, decode_text, sniff_delimiter
from crmlib.errors import CRMError, DataError

__all__ = [
    "Answers",
    "AssessmentResult",
    "QuestionBank",
    "available_banks",
    "benchmark_position",
    "combine_assessors",
    "load_bank",
    "read_answers",
    "save_answers",
    "score",
]

BANK_DIR = Path(__file__).resolve().parent / "banks"
TABLE = "assessment"  # the schema table the answer files follow
DIMENSIONS = (s.INTENTION, s.REALITY)  # the dimensions a bank may score
ANSWER_COLUMNS = s.TABLES[TABLE].names

# columns of the bank and result tables (the answer file's columns come from crmlib.data.schema)
AREA = "area"
NAME = "name"
DESCRIPTION = "description"
WEIGHT = "weight"
WEIGHT_SHARE = "weight_share"
HOLDS_BACK = "holds_back"
ACTION = "action"
TOPIC = "topic"
TEXT = "text"
GAP = "gap"
STAGE = "stage"
PRIORITY = "priority"
RANK = "rank"
N_QUESTIONS = "n_questions"
N_ASSESSORS = "n_assessors"
SECTOR = "sector"
STATISTIC = "statistic"
VALUE = "value"
LABEL = "label"
SOURCE = "source"
MEAN, STD, MIN, MAX, N = "mean", "std", "min", "max", "n"  # statistics of combine_assessors
R_TABLE, R_FILE, R_ROW, R_COLUMN, R_VALUE, R_REASON = s.REJECT_COLUMNS
MISSING_COLUMNS = (s.QUESTION_ID, s.ASSESSOR, R_COLUMN, R_ROW, R_REASON)

_QUARTILE_STATS = ("q1", "median", "q3")


def answered_column(dimension: str) -> str:
    """Name of the column counting the questions answered on ``dimension``."""
    return f"n_{dimension}"


# --- question banks -----------------------------------------------------------


@dataclass(frozen=True)
class QuestionBank:
    """A question bank: its areas, questions, answer scale and benchmarks.

    Attributes
    ----------
    id, title, source, note : str
        Identity and citation of the bank; ``note`` says what is the workbook's own.
    path : Path
        The YAML file it was read from.
    scale_min, scale_max, step : float
        The answer scale; ``step`` is the slider step of the form.
    unit : str
        Unit of the scale (``%`` or ``points``).
    labels : dict of float to str
        Anchors of the scale (e.g. ``0: no evidence``).
    dimensions : dict of str to str
        The dimensions scored (``intention``, ``reality``) and what each means.
    stages : tuple of (float, str)
        Lower bound and name of each stage, ascending (may be empty).
    areas : DataFrame
        Index ``area``; columns name, description, weight, holds_back, action.
    questions : DataFrame
        Index ``question_id``; columns area, topic, text, evidence, weight.
    benchmarks : DataFrame
        Index benchmark id; columns label, sector, statistic, value, source.
    primary_stages : dict of str to str
        Value chain only: id and name of each primary stage.
    """

    id: str
    title: str
    source: str
    path: Path
    scale_min: float
    scale_max: float
    step: float
    unit: str
    labels: dict
    dimensions: dict
    stages: tuple
    areas: pd.DataFrame = field(repr=False)
    questions: pd.DataFrame = field(repr=False)
    benchmarks: pd.DataFrame = field(repr=False)
    primary_stages: dict = field(default_factory=dict)
    note: str = ""

    def stage_of(self, value: float) -> str | None:
        """The stage a score falls in: the last stage whose lower bound is <= value."""
        if not self.stages or value is None or not np.isfinite(value):
            return None
        found = None
        for lower, name in self.stages:
            if value >= lower:
                found = name
        return found


def available_banks() -> list[str]:
    """Names of the question banks shipped with the package."""
    return sorted(p.stem for p in BANK_DIR.glob("*.yml"))


def _bank_path(name_or_path) -> Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yml", ".yaml")) or os.sep in text:
        return Path(name_or_path)
    path = BANK_DIR / f"{text}.yml"
    if not path.exists():
        raise CRMError(
            f"no question bank named '{text}'; the banks are: {', '.join(available_banks())} "
            "(or give the path of a .yml file)"
        )
    return path


class _Reader:
    """Reads keys of a parsed YAML document, naming the file and key on every error."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, key: str, reason: str) -> CRMError:
        return CRMError(f"{self.file}: key '{key}': {reason}")

    def get(self, node: dict, key: str, where: str, kind=str, default=None, required=True):
        full = f"{where}.{key}" if where else key
        if key not in node or node[key] is None:
            if required:
                raise self.fail(full, "is missing")
            return default
        value = node[key]
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(full, f"must be a number, got {value!r}")
            if not math.isfinite(value):
                raise self.fail(full, f"must be a finite number, got {value!r}")
            return float(value)
        if kind is str:
            if isinstance(value, (dict, list)):
                raise self.fail(full, "must be text")
            return str(value).strip()
        if not isinstance(value, kind):
            raise self.fail(full, f"must be a {'list' if kind is list else 'mapping'}")
        return value


def load_bank(name_or_path) -> QuestionBank:
    """Read and check a question bank.

    Parameters
    ----------
    name_or_path : str or Path
        A shipped bank's name (``"qci"``, ``"value_chain"``,
        ``"payne_frow_readiness"``; see :func:`available_banks`) or the path
        of a YAML file in the same format.

    Returns
    -------
    QuestionBank

    Raises
    ------
    CRMError
        Unknown name, unreadable file, or a malformed bank: the message names
        the file and the key (e.g. ``areas[2].questions[0].weight``).
    """
    path = _bank_path(name_or_path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CRMError(f"{path.name}: question bank cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise CRMError(f"{path.name}: not valid YAML{line}") from None
    r = _Reader(path.name)
    if not isinstance(doc, dict):
        raise r.fail("(top level)", "a question bank must be a mapping of keys")

    bank_id = r.get(doc, "id", "")
    title = r.get(doc, "title", "")
    source = r.get(doc, "source", "")
    note = r.get(doc, "note", "", required=False, default="")

    scale = r.get(doc, "scale", "", kind=dict)
    lo = r.get(scale, "min", "scale", kind=float)
    hi = r.get(scale, "max", "scale", kind=float)
    if not lo < hi:
        raise r.fail("scale.max", f"must be above scale.min ({lo:g}), got {hi:g}")
    step = r.get(scale, "step", "scale", kind=float, required=False, default=1.0)
    if not 0 < step <= hi - lo:
        raise r.fail("scale.step", f"must be above 0 and at most {hi - lo:g}")
    unit = r.get(scale, "unit", "scale", required=False, default="")
    labels = {}
    for key, text in (r.get(scale, "labels", "scale", kind=dict, required=False) or {}).items():
        if isinstance(key, bool) or not isinstance(key, (int, float)) or not lo <= key <= hi:
            raise r.fail(f"scale.labels.{key}", f"must be a number from {lo:g} to {hi:g}")
        labels[float(key)] = str(text)
    stages = []
    for i, node in enumerate(r.get(scale, "stages", "scale", kind=list, required=False) or []):
        where = f"scale.stages[{i}]"
        if not isinstance(node, dict):
            raise r.fail(where, "must be a mapping with 'min' and 'label'")
        lower = r.get(node, "min", where, kind=float)
        if not lo <= lower <= hi or (stages and lower <= stages[-1][0]):
            raise r.fail(f"{where}.min", "stages must ascend within the scale")
        stages.append((lower, r.get(node, "label", where)))
    if stages and stages[0][0] != lo:
        raise r.fail("scale.stages[0].min", f"the first stage must start at scale.min ({lo:g})")

    dims = r.get(doc, "dimensions", "", kind=dict)
    for name in dims:
        if name not in DIMENSIONS:
            raise r.fail(f"dimensions.{name}", f"must be one of {', '.join(DIMENSIONS)}")
    if s.REALITY not in dims:
        raise r.fail(f"dimensions.{s.REALITY}", "is missing: every bank scores reality")
    dimensions = {d: str(dims[d] or "").strip() for d in DIMENSIONS if d in dims}

    primary = {}
    for key, text in (r.get(doc, "primary_stages", "", kind=dict, required=False) or {}).items():
        primary[str(key)] = str(text)

    benchmarks = []
    for i, node in enumerate(r.get(doc, "benchmarks", "", kind=list, required=False) or []):
        where = f"benchmarks[{i}]"
        if not isinstance(node, dict):
            raise r.fail(where, "must be a mapping")
        value = r.get(node, "value", where, kind=float)
        if not lo <= value <= hi:
            raise r.fail(f"{where}.value", f"must be on the scale {lo:g} to {hi:g}")
        benchmarks.append(
            {
                "id": r.get(node, "id", where),
                LABEL: r.get(node, LABEL, where),
                SECTOR: r.get(node, SECTOR, where),
                STATISTIC: r.get(node, STATISTIC, where),
                VALUE: value,
                SOURCE: r.get(node, SOURCE, where),
            }
        )

    areas, questions = [], []
    area_nodes = r.get(doc, "areas", "", kind=list)
    if not area_nodes:
        raise r.fail("areas", "must list at least one area")
    for i, node in enumerate(area_nodes):
        where = f"areas[{i}]"
        if not isinstance(node, dict):
            raise r.fail(where, "must be a mapping")
        area_id = r.get(node, "id", where)
        weight = r.get(node, WEIGHT, where, kind=float, required=False, default=1.0)
        if weight < 0:
            raise r.fail(f"{where}.weight", f"must not be negative, got {weight:g}")
        holds_back = r.get(node, HOLDS_BACK, where, kind=list, required=False, default=[])
        for stage in holds_back:
            if stage not in primary:
                raise r.fail(f"{where}.holds_back", f"'{stage}' is not one of primary_stages")
        areas.append(
            {
                AREA: area_id,
                NAME: r.get(node, NAME, where),
                DESCRIPTION: r.get(node, DESCRIPTION, where, required=False, default=""),
                WEIGHT: weight,
                HOLDS_BACK: tuple(str(x) for x in holds_back),
                ACTION: r.get(node, ACTION, where, required=False, default=""),
            }
        )
        q_nodes = r.get(node, "questions", where, kind=list)
        if not q_nodes:
            raise r.fail(f"{where}.questions", "must list at least one question")
        for j, q in enumerate(q_nodes):
            qwhere = f"{where}.questions[{j}]"
            if not isinstance(q, dict):
                raise r.fail(qwhere, "must be a mapping")
            qweight = r.get(q, WEIGHT, qwhere, kind=float, required=False, default=1.0)
            if qweight <= 0:
                raise r.fail(f"{qwhere}.weight", f"must be above 0, got {qweight:g}")
            questions.append(
                {
                    s.QUESTION_ID: r.get(q, "id", qwhere),
                    AREA: area_id,
                    TOPIC: r.get(q, TOPIC, qwhere, required=False, default=""),
                    TEXT: r.get(q, TEXT, qwhere),
                    s.EVIDENCE: r.get(q, s.EVIDENCE, qwhere, required=False, default=""),
                    WEIGHT: qweight,
                    "_key": f"{qwhere}.id",
                }
            )
    seen: dict[str, str] = {}
    for i, a in enumerate(areas):
        if a[AREA] in seen:
            raise r.fail(f"areas[{i}].id", f"'{a[AREA]}' is used twice")
        seen[a[AREA]] = a[AREA]
    seen = {}
    for q in questions:
        if q[s.QUESTION_ID] in seen:
            raise r.fail(q["_key"], f"question id '{q[s.QUESTION_ID]}' is used twice")
        seen[q[s.QUESTION_ID]] = q["_key"]
    if sum(a[WEIGHT] for a in areas) <= 0:
        raise r.fail("areas", "at least one area needs a weight above 0")

    area_frame = pd.DataFrame(areas).set_index(AREA)
    question_frame = pd.DataFrame(questions).drop(columns="_key").set_index(s.QUESTION_ID)
    bench_columns = ["id", LABEL, SECTOR, STATISTIC, VALUE, SOURCE]
    bench_frame = pd.DataFrame(benchmarks, columns=bench_columns).set_index("id")
    return QuestionBank(
        id=bank_id,
        title=title,
        source=source,
        path=path,
        scale_min=lo,
        scale_max=hi,
        step=step,
        unit=unit,
        labels=labels,
        dimensions=dimensions,
        stages=tuple(stages),
        areas=area_frame,
        questions=question_frame,
        benchmarks=bench_frame,
        primary_stages=primary,
        note=note,
    )


def _as_bank(bank) -> QuestionBank:
    return bank if isinstance(bank, QuestionBank) else load_bank(bank)


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
        raise DataError(
            f"{name}: line {reader.line_num}: not readable as CSV ({exc})", file=name
        ) from None


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


# --- scoring --------------------------------------------------------------------


def _dimensions_of(answers, table: pd.DataFrame) -> tuple[str, ...]:
    if isinstance(answers, Answers):
        return tuple(answers.bank.dimensions)
    return tuple(d for d in DIMENSIONS if d in table.columns)


def combine_assessors(answers) -> pd.DataFrame:
    """Combine several assessors' scores per question: mean and spread.

    Parameters
    ----------
    answers : Answers or DataFrame
        Answers from :func:`read_answers` (or their ``table``): one row per
        question and assessor.

    Returns
    -------
    DataFrame
        Index ``question_id``; columns a MultiIndex (dimension, statistic)
        with statistics ``mean``, ``std`` (sample standard deviation, ddof=1:
        NaN with one assessor), ``min``, ``max`` and ``n`` (assessors who
        scored the question). Unanswered scores are left out, not counted as 0.
    """
    table = _answer_table(answers)
    dims = _dimensions_of(answers, table)
    if not dims:
        raise CRMError(f"the answers have no {' or '.join(DIMENSIONS)} column")
    scores = table[[s.QUESTION_ID, *dims]].astype({d: "float64" for d in dims})
    grouped = scores.groupby(s.QUESTION_ID, sort=False)[list(dims)]
    combined = grouped.agg([MEAN, STD, MIN, MAX, "count"])
    combined = combined.rename(columns={"count": N}, level=1)
    if isinstance(answers, Answers):
        order = [q for q in answers.bank.questions.index if q in combined.index]
        combined = combined.loc[order]
    combined.columns = combined.columns.set_names(["dimension", "statistic"])
    return combined


def _area_weights(bank: QuestionBank, weights) -> pd.Series:
    base = bank.areas[WEIGHT].astype("float64").copy()
    if weights is None:
        return base
    if not isinstance(weights, Mapping):
        raise CRMError("weights must be a mapping of area id to weight, e.g. {'proposition': 2}")
    for area, weight in weights.items():
        if area not in base.index:
            raise CRMError(
                f"weights: '{area}' is not an area of the '{bank.id}' bank "
                f"(areas: {', '.join(base.index)})"
            )
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
            raise CRMError(f"weights: '{area}' must be a number of 0 or more, got {weight!r}")
        base[area] = float(weight)
    if base.sum() <= 0:
        raise CRMError("weights: at least one area needs a weight above 0")
    return base


def _weighted_mean(values: pd.Series, weights: pd.Series) -> float:
    """sum(w * x) / sum(w) over the non-missing x; NaN when nothing is left or sum(w) = 0."""
    keep = values.notna() & (weights > 0)
    total = weights[keep].sum()
    if not keep.any() or total <= 0:
        return np.nan
    return float((values[keep] * weights[keep]).sum() / total)


def benchmark_position(
    value: float, benchmarks: pd.DataFrame, sector: str
) -> tuple[str, str | None]:
    """Place a score among the published benchmarks of one sector.

    Parameters
    ----------
    value : float
        The score to place (same scale as the benchmarks).
    benchmarks : DataFrame
        A bank's ``benchmarks``: columns sector, statistic, value.
    sector : str
        The sector whose ``worst``, ``average``, ``best`` (and, where
        published, ``q1``, ``median``, ``q3``) are used.

    Returns
    -------
    position : str
        Where the score lies against worst, average and best, in words.
    quartile : str or None
        ``top``, ``second``, ``third`` or ``bottom`` quartile when the sector's
        quartiles are published; None otherwise (CMAT's are not: QCi reports a
        quartile position against its own database, Woodcock, Starkey & Stone
        2003, ch. 1, but publishes only the average, best and worst).
    """
    if value is None or not np.isfinite(value):
        return "not scored", None
    rows = benchmarks[benchmarks[SECTOR] == sector]
    stat = dict(zip(rows[STATISTIC], rows[VALUE].astype(float), strict=True))
    points = [
        (label, stat[key])
        for key, label in (
            ("worst", "the lowest published score"),
            ("average", "the published average"),
            ("best", "the best published score"),
        )
        if key in stat
    ]
    below = [p for p in points if p[1] <= value]
    above = [p for p in points if p[1] > value]
    parts = []
    if below and above:
        parts.append(
            f"between {below[-1][0]} ({below[-1][1]:g}) and {above[0][0]} ({above[0][1]:g})"
        )
    elif above:
        parts.append(f"below {above[0][0]} ({above[0][1]:g})")
    elif below:
        parts.append(f"at or above {below[-1][0]} ({below[-1][1]:g})")
    quartile = None
    if all(k in stat for k in _QUARTILE_STATS):
        q1, median, q3 = (stat[k] for k in _QUARTILE_STATS)
        if value >= q3:
            quartile = "top"
        elif value >= median:
            quartile = "second"
        elif value >= q1:
            quartile = "third"
        else:
            quartile = "bottom"
        parts.append(f"{quartile} quartile")
    return ("; ".join(parts) or "no benchmark for this sector"), quartile


@dataclass
class AssessmentResult:
    """Scores of one assessment (see :func:`score` for the rules).

    Attributes
    ----------
    bank : QuestionBank
    questions : DataFrame
        Per question: area, weight, the mean score per dimension and the
        number of assessors who answered (``n_assessors``).
    areas : DataFrame
        Per area: name, weight, weight_share, n_questions, answered counts
        (``n_intention``, ``n_reality``), the score per dimension, gap,
        priority, stage (banks with stages), holds_back, action.
    overall : Series
        Overall score per dimension, and ``gap`` when the bank scores intention.
    overall_stage : str or None
        Stage of the overall reality score (banks with stages).
    priorities : DataFrame
        The areas by descending priority, with rank 1 = first to act on.
    unanswered : DataFrame
        Questions no assessor scored, per dimension: question_id, area, column.
    benchmarks : DataFrame or None
        The bank's benchmarks with the difference overall - benchmark per dimension.
    benchmark_position : str or None
        Where the overall reality score lies among the all-sector benchmarks.
    quartile : str or None
        The quartile position, where the published benchmarks allow it.
    """

    bank: QuestionBank
    questions: pd.DataFrame
    areas: pd.DataFrame
    overall: pd.Series
    overall_stage: str | None
    priorities: pd.DataFrame
    unanswered: pd.DataFrame
    benchmarks: pd.DataFrame | None = None
    benchmark_position: str | None = None
    quartile: str | None = None

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(self.bank.dimensions)


def score(bank, answers, weights=None, sector: str = "all sectors") -> AssessmentResult:
    """Score an assessment: area and overall scores, gaps, priorities, benchmarks.

    Rules (stated in full in the module docstring): several assessors are
    averaged per question; an area's score is the question-weighted mean of
    its answered questions; the overall score is the area-weighted mean of
    the areas with a score; unanswered questions are left out and counted,
    never scored as 0. The gap is intention - reality. Priority =
    weight share x (scale max - reality), highest first. Readiness-style
    banks also get the stage of each area's reality score.

    Parameters
    ----------
    bank : QuestionBank or str
    answers : Answers or DataFrame
        From :func:`read_answers` (or a table with its columns).
    weights : mapping of str to float, optional
        Area weights replacing the bank's, e.g. ``{"proposition": 2}``; areas
        not named keep their weight. 0 leaves an area out of the overall score.
    sector : str, default "all sectors"
        The benchmark sector used for the position (QCi only).

    Returns
    -------
    AssessmentResult

    Raises
    ------
    CRMError
        Answers read for another bank, or bad weights.
    """
    bank = _as_bank(bank)
    if isinstance(answers, Answers) and answers.bank.id != bank.id:
        raise CRMError(f"the answers were read for the '{answers.bank.id}' bank, not '{bank.id}'")
    table = _answer_table(answers)
    dims = tuple(bank.dimensions)
    absent = [d for d in dims if d not in table.columns]
    if absent:
        raise CRMError(
            f"the answers have no '{absent[0]}' column, which the '{bank.id}' bank scores"
        )
    unknown = sorted(set(table[s.QUESTION_ID]) - set(bank.questions.index))
    if unknown:
        raise CRMError(f"answers to questions the '{bank.id}' bank does not have: {unknown[0]} ...")
    area_w = _area_weights(bank, weights)
    combined = combine_assessors(table[[s.QUESTION_ID, *dims]])

    questions = bank.questions[[AREA, WEIGHT]].copy()
    for d in dims:
        questions[d] = combined[(d, MEAN)].reindex(questions.index) if len(combined) else np.nan
    n_by_dim = [combined[(d, N)].reindex(questions.index) for d in dims] if len(combined) else []
    questions[N_ASSESSORS] = (
        pd.concat(n_by_dim, axis=1).max(axis=1).fillna(0).astype(int) if n_by_dim else 0
    )

    areas = bank.areas[[NAME]].copy()
    areas[WEIGHT] = area_w
    areas[WEIGHT_SHARE] = area_w / area_w.sum()
    grouped = questions.groupby(AREA, sort=False)
    areas[N_QUESTIONS] = grouped.size().reindex(areas.index).astype(int)
    for d in dims:
        areas[answered_column(d)] = grouped[d].count().reindex(areas.index).astype(int)
        areas[d] = [
            _weighted_mean(
                questions.loc[questions[AREA] == a, d], questions.loc[questions[AREA] == a, WEIGHT]
            )
            for a in areas.index
        ]
    overall = pd.Series({d: _weighted_mean(areas[d], areas[WEIGHT]) for d in dims}, dtype="float64")
    if s.INTENTION in dims:
        areas[GAP] = areas[s.INTENTION] - areas[s.REALITY]
        overall[GAP] = overall[s.INTENTION] - overall[s.REALITY]
    areas[PRIORITY] = areas[WEIGHT_SHARE] * (bank.scale_max - areas[s.REALITY])
    if bank.stages:
        areas[STAGE] = [bank.stage_of(v) for v in areas[s.REALITY]]
    areas[HOLDS_BACK] = bank.areas[HOLDS_BACK]
    areas[ACTION] = bank.areas[ACTION]

    order = areas.assign(_pos=np.arange(len(areas))).sort_values(
        [PRIORITY, s.REALITY, "_pos"], ascending=[False, True, True], na_position="last"
    )
    priorities = order.drop(columns="_pos")
    priorities.insert(0, RANK, np.arange(1, len(priorities) + 1))

    unanswered = [
        {s.QUESTION_ID: q, AREA: questions.at[q, AREA], R_COLUMN: d}
        for q in questions.index
        for d in dims
        if np.isnan(questions.at[q, d])
    ]

    result = AssessmentResult(
        bank=bank,
        questions=questions,
        areas=areas,
        overall=overall,
        overall_stage=bank.stage_of(overall[s.REALITY]),
        priorities=priorities,
        unanswered=pd.DataFrame(unanswered, columns=[s.QUESTION_ID, AREA, R_COLUMN]),
    )
    if not bank.benchmarks.empty:
        bench = bank.benchmarks.copy()
        for d in dims:
            bench[d] = overall[d] - bench[VALUE]
        result.benchmarks = bench
        result.benchmark_position, result.quartile = benchmark_position(
            overall[s.REALITY], bank.benchmarks, sector
        )
    return result
