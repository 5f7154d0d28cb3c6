"""QCi's vocabulary: the columns and values the QCi measures add."""

from __future__ import annotations

# the campaign-effect vocabulary is shared with IDIC's offers (crmlib.analytics.uplift)
from crmlib.analytics.uplift import (  # noqa: F401
    CONTROL,
    CONTROL_KIND,
    HOLDOUT,
    INCREMENTAL,
    KIND_CONTACT,
    KIND_HOLDOUT,
    LIFT,
    N_CONTROL,
    N_TREATED,
    NOT_CONTACTED,
    RATE_CONTROL,
    RATE_TREATED,
    RESPONDED,
    RESPONDERS_CONTROL,
    RESPONDERS_TREATED,
    TREATED,
    WINDOW_END,
    WINDOW_START,
)
from crmlib.data import schema as s

# --- vocabulary of the results (the inputs' columns come from crmlib.data.schema) --------
COHORT = "cohort"
COHORT_SIZE = "cohort_size"

N_CATEGORIES = "n_categories"
TOP_CATEGORY = "top_category"
TOP_CATEGORY_SHARE = "top_category_share"
CUSTOMERS = "customers"
CATEGORIES_PER_CUSTOMER = "categories_per_customer"
CROSS_SELL_RATE = "cross_sell_rate"

DAYS_INACTIVE = "days_inactive"
JUDGED = "judged"
CHURNED = "churned"

EVENTS = "events"
UNIT_COST = "unit_cost"
ACTIVITY_COST = "cost"
ACT_ORDER, ACT_DELIVERY, ACT_RETURN = s.ACT_ORDER, s.ACT_DELIVERY, s.ACT_RETURN
ACT_TICKET, ACT_CONTACT = s.ACT_TICKET, s.ACT_CONTACT
COST_PER_INCREMENTAL = "cost_per_incremental"


AREA, MEASURE, VALUE, UNIT = "area", "measure", "value", "unit"
QUESTION = s.QUESTION_ID


# --- shared helpers --------------------------------------------------------------
