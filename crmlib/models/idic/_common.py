"""IDIC's vocabulary: the columns and values the IDIC steps add."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


# --- columns this module adds (not in crmlib.data.schema: derived, like crmlib.analytics.clv's) ---------

RECENCY_DAYS = "recency_days"
MONETARY = "monetary"
R_SCORE, F_SCORE, M_SCORE = "r_score", "f_score", "m_score"
RFM_CELL = "rfm_cell"
RFM_SEGMENT = "rfm_segment"
NEEDS_SEGMENT = "needs_segment"
ACTUAL_VALUE = "actual_value"
POTENTIAL_VALUE = "potential_value"
UNREALISED_VALUE = "unrealised_value"
HISTORICAL_VALUE = "historical_value"
VALUE_CLASS = "value_class"

SUCCESS = "success"
TRIALS = "trials"
SUCCESSES = "successes"
ALPHA, BETA = "alpha", "beta"
MEAN, LOWER, UPPER = "mean", "lower", "upper"
STEP = "step"
CONTACTS = "contacts"
RESPONSES = "responses"
RATE = "rate"

ANTECEDENT, CONSEQUENT = "antecedent", "consequent"
CUSTOMERS_A, CUSTOMERS_B, CUSTOMERS_AB = "customers_a", "customers_b", "customers_ab"
SUPPORT, CONFIDENCE, LIFT = "support", "confidence", "lift"
RANK, KIND_OF_OFFER, EXPECTED_GAIN, NET_GAIN, REASON = (
    "rank",
    "kind",
    "expected_gain",
    "net_gain",
    "reason",
)

# --- values -------------------------------------------------------------------------------
MVC, MGC, BZ, OTHER = "MVC", "MGC", "BZ", "other"
VALUE_CLASSES = (MVC, MGC, OTHER, BZ)
CONTACT_KIND = "campaign_contact"  # interactions.kind of a campaign contact
RESPONDED = ("responded",)  # interactions.outcome values counted as a response
SEED = 20240401  # the one declared seed of the IDIC steps' random draws

_MAX_LISTED = 5
