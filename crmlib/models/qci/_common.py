"""QCi's vocabulary: the columns and values the QCi measures add."""

from __future__ import annotations

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
KIND_CONTACT, KIND_HOLDOUT = s.KIND_CAMPAIGN_CONTACT, s.KIND_CAMPAIGN_HOLDOUT
TREATED, CONTROL = "treated", "control"
RESPONDED = "responded"
WINDOW_START, WINDOW_END = "window_start", "window_end"
CONTROL_KIND = "control_kind"
HOLDOUT, NOT_CONTACTED = "holdout", "not contacted"
N_TREATED, N_CONTROL = "n_treated", "n_control"
RESPONDERS_TREATED, RESPONDERS_CONTROL = "responders_treated", "responders_control"
RATE_TREATED, RATE_CONTROL = "rate_treated", "rate_control"
INCREMENTAL = "incremental_responders"
COST_PER_INCREMENTAL = "cost_per_incremental"


AREA, MEASURE, VALUE, UNIT = "area", "measure", "value", "unit"
QUESTION = s.QUESTION_ID


# --- shared helpers --------------------------------------------------------------
LIFT = "lift"  # the difference of response rates, treated - control
