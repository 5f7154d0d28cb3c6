"""Payne & Frow's vocabulary: the columns, KPI keys and labels the five processes use."""

from __future__ import annotations

import math

import pandas as pd

from crmlib.analytics import experience
from crmlib.data import schema as s
from crmlib.errors import CRMError

# --- vocabulary of the results (the inputs' columns come from crmlib.data.schema) -------------
SEGMENT = "segment"
UNASSIGNED = "unassigned"
CUSTOMERS = "customers"
CUSTOMER_SHARE = "customer_share"
REVENUE_SHARE = "revenue_share"
REVENUE_PER_CUSTOMER = "revenue_per_customer"
REVENUE_RECENT = "revenue_recent"
REVENUE_BEFORE = "revenue_before"
GROWTH = "growth"

SIGNAL, AXIS, VALUE, EVIDENCE = "signal", "axis", "value", "evidence"
INFORMATION, INDIVIDUALISATION = "information", "individualisation"

RESPONDENTS = "respondents"
TOP_NEED = "top_need"
CLV = "clv"
CLV_MEAN, CLV_TOTAL, CLV_SHARE = "clv_mean", "clv_total", "clv_share"
PROFIT_PER_CUSTOMER = "profit_per_customer"
COST_TO_SERVE_PER_CUSTOMER = "cost_to_serve_per_customer"

ORDERS = "orders"
SHARE = "share"
PATH = "path"
TOUCHES = "touches"
ORDER_CHANNEL = "order_channel"
FROM_CHANNEL, TO_CHANNEL = "from_channel", "to_channel"
MEASURE, BEST_CHANNEL, BEST_VALUE, GAP = "measure", "best_channel", "best_value", "gap"
CSAT_ANSWERS, NPS_ANSWERS = "csat_answers", "nps_answers"
NO_TOUCH = "(no recorded touch)"


PERIOD = "period"
ACTIVE = "active_customers"
NEW = "new_customers"
RETENTION = "retention_rate"
MARGIN_PER_CUSTOMER = "margin_per_customer"
CAC = "acquisition_cost"
MEAN_CSAT = experience.MEAN_CSAT
SATISFIED = experience.SATISFIED
COST_TO_SERVE = "cost_to_serve_ratio"
WALLET = "share_of_wallet_proxy"
KPI = "kpi"
LABEL = "label"
TARGET = "target"
PREVIOUS = "previous"
CHANGE = "change"
STATUS = "status"
DIRECTION = "direction"
GREEN, AMBER, RED, NO_DATA = "green", "amber", "red", "no data"
RETAINED = experience.RETAINED
REVENUE_AFTER = "revenue_after"
GAP_TO_READY = "gap_to_ready"

#: What each KPI of :func:`kpi_table` measures, for labels and the scorecard.
KPI_LABELS = {
    NEW: "new customers",
    ACTIVE: "active customers",
    RETENTION: "retention rate",
    s.REVENUE: "net revenue",
    s.MARGIN: "margin",
    MARGIN_PER_CUSTOMER: "margin per active customer",
    CLV: "CLV (geometric retention model)",
    CAC: "campaign cost per new customer",
    s.NPS: "NPS",
    MEAN_CSAT: "mean CSAT (1-5)",
    SATISFIED: "share satisfied (CSAT 4-5)",
    COST_TO_SERVE: "cost-to-serve per revenue",
    WALLET: "share-of-wallet proxy (categories bought / offered)",
}
#: KPIs where a lower value is better; every other KPI is better higher.
LOWER_IS_BETTER = frozenset({CAC, COST_TO_SERVE})

#: Tables that hold information about customers (strategy matrix, information axis).
INFORMATION_TABLES = ("customers", "interactions", "tickets", "surveys", "campaigns")
#: ``campaigns.target_segment`` values that mean "everyone" (a mass offer).
MASS_TARGETS = frozenset({"", "all", "everyone", "all customers", "mass"})
#: ``campaigns.target_segment`` values that mean one offer per customer.
INDIVIDUAL_TARGETS = frozenset(
    {"individual", "one-to-one", "1:1", "personal", "personalised", "personalized"}
)
#: The workbook's reading of the CRM strategy matrix: (extensive information?,
#: high individualisation?) -> quadrant. The names are Payne & Frow's; which
#: off-diagonal cell each of the two middle strategies occupies is the
#: workbook's reading (see :func:`strategy_position`).
QUADRANTS = {
    (False, False): "product-based selling",
    (True, False): "customer-based marketing",
    (False, True): "managed service and support",
    (True, True): "individualised CRM",
}

#: Columns that may legitimately be empty: a ticket still open, a CSAT not
#: answered, an interaction outside any campaign, a cost rate for any channel.
#: The column that dates each table's records (timeliness, dates after as-of).
#: How crmlib.data.io words the rejection of a row dated after the as-of date.
#: Tables a live system adds to every day: their newest record says how fresh the
#: extract is (timeliness). A campaigns table grows only when a campaign runs.
#: Tables whose rows refer to a customer.


# --- shared helpers ------------------------------------------------------------------------


def _labels(customer_ids: pd.Series, segment_of: pd.Series | None, missing: str) -> pd.Series:
    """The segment of each customer id; ``missing`` for customers without one."""
    if segment_of is None:
        return pd.Series("all", index=customer_ids.index, dtype="object")
    if not isinstance(segment_of, pd.Series):
        raise CRMError("segment_of must be a Series mapping customer_id to a segment")
    labels = customer_ids.map(segment_of).astype("object")
    return labels.where(labels.notna(), missing)


def _check_rate(name: str, value, low: float, high: float, high_open: bool = True) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise CRMError(f"{name} must be a number, not {value!r}") from None
    inside = low <= value < high if high_open else low <= value <= high
    if not (math.isfinite(value) and inside):
        bracket = ")" if high_open else "]"
        raise CRMError(f"{name} must lie in [{low:g}, {high:g}{bracket}, not {value!r}")
    return value
