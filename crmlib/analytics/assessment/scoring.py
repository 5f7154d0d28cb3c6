"""Scoring an assessment: assessors combined, area scores, intention-reality gaps, benchmark position."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.analytics.assessment._common import (
    _QUARTILE_STATS,
    ACTION,
    AREA,
    DIMENSIONS,
    GAP,
    HOLDS_BACK,
    MAX,
    MEAN,
    MIN,
    N_ASSESSORS,
    N_QUESTIONS,
    NAME,
    PRIORITY,
    R_COLUMN,
    RANK,
    SECTOR,
    STAGE,
    STATISTIC,
    STD,
    VALUE,
    WEIGHT,
    WEIGHT_SHARE,
    N,
    answered_column,
)
from crmlib.analytics.assessment.answers import Answers, _answer_table
from crmlib.analytics.assessment.banks import QuestionBank, _as_bank
from crmlib.data import schema as s
from crmlib.errors import CRMError

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
        quartile position against its own database, Woodcock, Stone & Foss
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
