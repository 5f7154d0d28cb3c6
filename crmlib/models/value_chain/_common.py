"""The value chain's vocabulary: the columns and values its five stages add."""

from __future__ import annotations

import pandas as pd

from crmlib.data import schema as s

# --- vocabulary of the results (the inputs' columns come from crmlib.data.schema) --------------

RANK = "rank"
CUSTOMER_SHARE = "customer_share"
CUSTOMERS = "customers"
TOTAL = "total"

ABC_CLASS = "abc_class"  # ABC analysis (not IDIC's value class MVC/MGC/BZ)
CLASS_A, CLASS_B, CLASS_C, CLASS_D = "A", "B", "C", "D"
ABC_CLASSES = (CLASS_A, CLASS_B, CLASS_C, CLASS_D)

NET_PRICE = "net_price"
PRICE_LIST, PRICE_UNIT, PRICE_ORDER = "list", "unit", "order"
PRICE_BASES = {
    PRICE_LIST: "net revenue / list value (quantity × the catalogue's unit price) of the purchases",
    PRICE_UNIT: "net revenue per unit bought",
    PRICE_ORDER: "net revenue per order",
}
COST_PER_ORDER = "cost_per_order"
QUADRANT = "quadrant"
#: Shapiro, Rangan, Moriarty & Ross (1987): (high price?, high cost?) -> quadrant.
CARRIAGE_TRADE, AGGRESSIVE, PASSIVE, BARGAIN_BASEMENT = (
    "carriage trade",
    "aggressive",
    "passive",
    "bargain basement",
)
QUADRANTS = (CARRIAGE_TRADE, AGGRESSIVE, PASSIVE, BARGAIN_BASEMENT)
PROFIT_PER_CUSTOMER = "profit_per_customer"
SHARE = "share"

HIGH_FUTURE_VALUE = "high_future_value"
HIGH_VOLUME = "high_volume"
BENCHMARK = "benchmark"
INSPIRATION = "inspiration"
DOOR_OPENER = "door_opener"
COSTLY_TO_SERVE = "costly_to_serve"
LOSS_MAKING = "loss_making"
#: Buttle & Maklan's strategically significant customers (customer portfolio management):
#: each kind as the source means it, and what the data can show of it.
STRATEGIC_SIGNIFICANCE = {
    HIGH_FUTURE_VALUE: (
        "high future lifetime value",
        "the top share by CLV over the horizon",
    ),
    HIGH_VOLUME: (
        "high volume: customers whose volume absorbs the fixed cost base, valuable even at "
        "thin margins",
        "the top share by net revenue",
    ),
    BENCHMARK: (
        "benchmark customers, whose choices other customers copy",
        "the account team's judgement: no data column records it",
    ),
    INSPIRATION: (
        "customers who inspire change: new products, better processes",
        "the account team's judgement: no data column records it",
    ),
    DOOR_OPENER: (
        "door openers, who give access to a new market or network",
        "the account team's judgement: no data column records it",
    ),
}
#: The kinds no table records: the flag is NA until the account team sets it.
JUDGEMENT_ONLY = (BENCHMARK, INSPIRATION, DOOR_OPENER)

PROFILE_COMPLETENESS = "profile_completeness"
TOUCHPOINTS = "touchpoints"
SURVEYED = "surveyed"
VALUE_GROUP = "value_group"
THIN = "thin_knowledge"
COMPLETE_PROFILE = "complete_profile"
#: Columns of ``customers`` that describe a customer (everything but the key).
PROFILE_FIELDS = tuple(c for c in s.TABLES["customers"].names if c != s.CUSTOMER_ID)

#: Words that mark a partner or supplier column in a client's export.
PARTNER_WORDS = (
    "partner",
    "supplier",
    "carrier",
    "courier",
    "vendor",
    "distributor",
    "dealer",
    "reseller",
    "agent",
    "logistics",
    "fulfil",
    "installer",
    "franchise",
)
PARTNER = "partner"
LINES = "lines"
RETURN_RATE = "return_rate"
TICKETS_PER_CUSTOMER = "tickets_per_customer"
MEAN_CSAT = "mean_csat"
RESOLUTION_HOURS = "median_resolution_hours"

REVENUE_PER_CUSTOMER = "revenue_per_customer"
COST_TO_SERVE_PER_CUSTOMER = "cost_to_serve_per_customer"
TOP_CATEGORIES = "top_categories"
CHANNEL_MIX = "channel_mix"
SUPPRESSED = "suppressed"
MIN_CELL = 5  # a segment of fewer customers is suppressed (small-cell rule)

STAGE = "stage"
NEW, WON_BACK, ACTIVE, AT_RISK, LAPSED = "new", "won back", "active", "at risk", "lapsed"
STAGES = (NEW, WON_BACK, ACTIVE, AT_RISK, LAPSED)
NOT_YET = "not yet a customer"
PERIOD_END = "period_end"
FROM_STAGE, TO_STAGE = "from", "to"

ACQUISITION, RETENTION, DEVELOPMENT, WON_BACK_REVENUE = (
    "acquisition",
    "retention",
    "development",
    "won_back",
)

CONDITIONS = "conditions"
REALITY_MEAN = "mean_reality"
WEAKEST = "weakest_condition"
WEAKEST_REALITY = "weakest_reality"


# --- shared helpers -------------------------------------------------------------------








def _last_day(transactions: pd.DataFrame) -> pd.Timestamp:
    """The last order date (the default as-of date)."""
    return pd.Timestamp(transactions[s.ORDER_DATE].max()).normalize()






def _pct(value: float) -> str:
    return f"{value:.0%}".replace("%", " %")
