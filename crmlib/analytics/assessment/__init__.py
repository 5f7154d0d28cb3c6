"""Questionnaire engine: YAML question banks → validated answers → scores, gaps, priorities.

One engine serves the workbook's three question banks, shipped in
``crmlib/analytics/banks/``:

``qci``
    QCi's customer management model, assessed CMAT-style: every practice is
    scored as a percentage of best practice on **Intention** (clear plans,
    communicated, bought into) and **Reality** (evidence of full implementation
    and adoption) (Woodcock, Stone & Foss, *The Customer Management
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
a score against best practice per area and overall: Woodcock, Stone & Foss
2003, ch. 1); QCi's own weights are not public, so the workbook's are equal
by default and can be overridden per area.
"""

from crmlib.analytics.assessment._common import (
    ACTION,
    ANSWER_COLUMNS,
    AREA,
    BANK_DIR,
    DESCRIPTION,
    DIMENSIONS,
    GAP,
    HOLDS_BACK,
    LABEL,
    MAX,
    MEAN,
    MIN,
    MISSING_COLUMNS,
    N_ASSESSORS,
    N_QUESTIONS,
    NAME,
    PRIORITY,
    R_COLUMN,
    R_FILE,
    R_REASON,
    R_ROW,
    R_TABLE,
    R_VALUE,
    RANK,
    SECTOR,
    SOURCE,
    STAGE,
    STATISTIC,
    STD,
    TABLE,
    TEXT,
    TOPIC,
    VALUE,
    WEIGHT,
    WEIGHT_SHARE,
    N,
    answered_column,
)
from crmlib.analytics.assessment.answers import (
    Answers,
    answer_columns,
    read_answers,
    save_answers,
)
from crmlib.analytics.assessment.banks import (
    QuestionBank,
    available_banks,
    load_bank,
)
from crmlib.analytics.assessment.scoring import (
    AssessmentResult,
    benchmark_position,
    combine_assessors,
    score,
)

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
    "BANK_DIR",
    "TABLE",
    "DIMENSIONS",
    "ANSWER_COLUMNS",
    "AREA",
    "NAME",
    "DESCRIPTION",
    "WEIGHT",
    "WEIGHT_SHARE",
    "HOLDS_BACK",
    "ACTION",
    "TOPIC",
    "TEXT",
    "GAP",
    "STAGE",
    "PRIORITY",
    "RANK",
    "N_QUESTIONS",
    "N_ASSESSORS",
    "SECTOR",
    "STATISTIC",
    "VALUE",
    "LABEL",
    "SOURCE",
    "MEAN",
    "STD",
    "MIN",
    "MAX",
    "N",
    "R_TABLE",
    "R_FILE",
    "R_ROW",
    "R_COLUMN",
    "R_VALUE",
    "R_REASON",
    "MISSING_COLUMNS",
    "answered_column",
    "answer_columns",
]
