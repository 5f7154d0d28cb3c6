"""The assessment's vocabulary: answer-file table, dimensions and result columns."""

from __future__ import annotations

from pathlib import Path

from crmlib.data import schema as s

BANK_DIR = Path(__file__).resolve().parents[1] / "banks"
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
