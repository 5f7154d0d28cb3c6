"""The one column vocabulary of the workbook.

Every table a client folder may hold, its columns, their kinds and the checks
a valid row passes are named here once. Every other module imports the names
from this module instead of spelling column names itself.

Only ``transactions`` is required, and of its columns only ``customer_id``,
``order_date`` and ``revenue``. Identifiers are strings (leading zeros kept).
Columns marked ``pii`` hold personal data: their values are masked in every
message and never written to a report.

The value checks are pandera schemas (:func:`pandera_schema`), run lazily by
:mod:`crmlib.data.io` on already-parsed frames, so that every failing row is
collected rather than only the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.pandas as pa

from crmlib.errors import CRMError

# --- column names -----------------------------------------------------------
CUSTOMER_ID = "customer_id"
ORDER_ID = "order_id"
ORDER_DATE = "order_date"
PRODUCT_ID = "product_id"
QUANTITY = "quantity"
REVENUE = "revenue"
COST = "cost"
CHANNEL = "channel"
IS_RETURN = "is_return"  # derived by crmlib.data.io: revenue < 0

NAME = "name"
EMAIL = "email"
PHONE = "phone"
CITY = "city"
COUNTRY = "country"
SIGNUP_DATE = "signup_date"
ACQUISITION_CHANNEL = "acquisition_channel"
SOURCE_SYSTEM = "source_system"
HOUSEHOLD_SIZE = "household_size"

CATEGORY = "category"
UNIT_PRICE = "unit_price"
UNIT_COST = "unit_cost"
SUPPLIER = "supplier"

INTERACTION_ID = "interaction_id"
TIMESTAMP = "timestamp"
KIND = "kind"
CAMPAIGN_ID = "campaign_id"
OUTCOME = "outcome"

OFFER = "offer"
START_DATE = "start_date"
END_DATE = "end_date"
TARGET_SEGMENT = "target_segment"
OBJECTIVE = "objective"
OBJECTIVES = ("acquisition", "retention", "development")

TICKET_ID = "ticket_id"
OPENED_AT = "opened_at"
CLOSED_AT = "closed_at"
CSAT = "csat"

RESPONSE_ID = "response_id"
DATE = "date"
NPS = "nps"
NEEDS = ("need_price", "need_convenience", "need_quality", "need_service")

ACTIVITY = "activity"
UNIT_COST_RATE = "unit_cost"

QUESTION_ID = "question_id"
INTENTION = "intention"
REALITY = "reality"
EVIDENCE = "evidence"
ASSESSOR = "assessor"

SUBSCRIPTION_ID = "subscription_id"
PLAN = "plan"
PRICE = "price"
PERIOD = "period"
#: ``subscriptions.period`` values: the billing period of the price.
PERIODS = ("month", "year")

# --- values with a meaning ----------------------------------------------------
#: Activities of the activity-based cost-to-serve rule (``cost_rates.activity``).
ACT_ORDER, ACT_DELIVERY, ACT_RETURN, ACT_TICKET, ACT_CONTACT = (
    "order",
    "delivery",
    "return",
    "ticket",
    "contact",
)
ACTIVITIES = (ACT_ORDER, ACT_DELIVERY, ACT_RETURN, ACT_TICKET, ACT_CONTACT)
#: ``interactions.kind`` values the lessons read.
KIND_CAMPAIGN_CONTACT = "campaign_contact"  # a customer contacted by a campaign
KIND_CAMPAIGN_HOLDOUT = "campaign_holdout"  # a targeted customer held out (not contacted)
KIND_WEB_VISIT = "web_visit"
KIND_STORE_VISIT = "store_visit"
KIND_SERVICE_CALL = "service_call"

# --- customer summary (crmlib.analytics.summary) ----------------------------------------
FREQUENCY = "frequency"
RECENCY = "recency"
T = "T"
MONETARY_VALUE = "monetary_value"
FIRST_PURCHASE = "first_purchase"
LAST_PURCHASE = "last_purchase"
ORDERS = "orders"
MARGIN = "margin"
GROSS_REVENUE = "gross_revenue"  # revenue of the purchase lines, before returns

SUMMARY_COLUMNS = (
    FREQUENCY,
    RECENCY,
    T,
    MONETARY_VALUE,
    FIRST_PURCHASE,
    LAST_PURCHASE,
    ORDERS,
    REVENUE,
    MARGIN,
    GROSS_REVENUE,
)

# --- rejects report -----------------------------------------------------------
SOURCE_ROW = "source_row"  # added by crmlib.data.io: the line of the input file (header = 1)
REJECT_COLUMNS = ("table", "file", "row", "column", "value", "reason")

# column kinds: how crmlib.data.io parses raw text into a typed column
ID, TEXT, DATE_KIND, DATETIME, FLOAT, INT = "id", "text", "date", "datetime", "float", "int"
KINDS = (ID, TEXT, DATE_KIND, DATETIME, FLOAT, INT)


@dataclass(frozen=True)
class Column:
    """One column of a table.

    Parameters
    ----------
    name : str
        The column's name in the workbook's vocabulary.
    kind : str
        One of ``id``, ``text``, ``date``, ``datetime``, ``float``, ``int``.
    required : bool
        The table is unusable without this column.
    nullable : bool
        An empty value is allowed (otherwise the row is rejected).
    pii : bool
        Personal data: masked in messages, never in reports.
    checks : tuple of pandera.Check
        Value rules a parsed, non-empty value must pass.
    description : str
        One line for the data dictionary.
    """

    name: str
    kind: str
    required: bool = False
    nullable: bool = True
    pii: bool = False
    checks: tuple = ()
    description: str = ""


@dataclass(frozen=True)
class Table:
    """A table of the data contract: its columns and its primary key."""

    name: str
    columns: tuple[Column, ...]
    key: str | None = None
    description: str = ""
    extra_columns_allowed: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def pii(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.pii)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise CRMError(f"{self.name} has no column {name!r}; its columns: {', '.join(self.names)}")


_ge0 = (pa.Check.ge(0, error="must not be negative"),)
_email = (pa.Check.str_matches(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", error="not an e-mail address"),)
_score_0_10 = (pa.Check.in_range(0, 10, error="must be an NPS answer from 0 to 10"),)
_score_1_5 = (pa.Check.in_range(1, 5, error="must be a score from 1 to 5"),)
_period = (pa.Check.isin(PERIODS, error=f"must be one of: {', '.join(PERIODS)}"),)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "customers",
            (
                Column(CUSTOMER_ID, ID, required=True, nullable=False, description="customer key"),
                Column(NAME, TEXT, pii=True, description="full name (personal data)"),
                Column(
                    EMAIL,
                    TEXT,
                    pii=True,
                    checks=_email,
                    description="e-mail address (personal data); a malformed one rejects the row",
                ),
                Column(PHONE, TEXT, pii=True, description="phone number (personal data)"),
                Column(CITY, TEXT, description="city"),
                Column(COUNTRY, TEXT, description="country"),
                Column(SIGNUP_DATE, DATE_KIND, description="date the customer record was created"),
                Column(ACQUISITION_CHANNEL, TEXT, description="channel that acquired the customer"),
                Column(SOURCE_SYSTEM, TEXT, description="system the record comes from"),
                Column(
                    HOUSEHOLD_SIZE,
                    FLOAT,
                    checks=_ge0,
                    description="people in the customer's household (a wallet-size feature)",
                ),
            ),
            key=CUSTOMER_ID,
            description="one row per customer record (a person may have several records)",
        ),
        Table(
            "transactions",
            (
                Column(ORDER_ID, ID, description="order number; several lines may share it"),
                Column(CUSTOMER_ID, ID, required=True, nullable=False, description="who bought"),
                Column(
                    ORDER_DATE, DATE_KIND, required=True, nullable=False, description="order date"
                ),
                Column(PRODUCT_ID, ID, description="product bought"),
                Column(
                    QUANTITY,
                    FLOAT,
                    description="units; negative only on returns (negative revenue)",
                ),
                Column(
                    REVENUE,
                    FLOAT,
                    required=True,
                    nullable=False,
                    description="net revenue of the line; negative = a return",
                ),
                Column(
                    COST, FLOAT, description="product cost of the line; negative only on returns"
                ),
                Column(CHANNEL, TEXT, description="sales channel (web, store, phone, ...)"),
            ),
            description="order lines: the one table every lesson needs",
        ),
        Table(
            "products",
            (
                Column(PRODUCT_ID, ID, required=True, nullable=False),
                Column(NAME, TEXT, description="product name"),
                Column(CATEGORY, TEXT),
                Column(UNIT_PRICE, FLOAT, checks=_ge0),
                Column(UNIT_COST, FLOAT, checks=_ge0),
                Column(SUPPLIER, TEXT, description="supplier of the product (a partner)"),
            ),
            key=PRODUCT_ID,
            description="product catalogue",
        ),
        Table(
            "interactions",
            (
                Column(INTERACTION_ID, ID, required=True, nullable=False),
                Column(CUSTOMER_ID, ID, required=True, nullable=False),
                Column(TIMESTAMP, DATETIME, required=True, nullable=False),
                Column(CHANNEL, TEXT, description="email, sms, phone, store, web, ..."),
                Column(KIND, TEXT, description="campaign contact, service call, visit, ..."),
                Column(CAMPAIGN_ID, ID, description="campaign, when the contact belongs to one"),
                Column(OUTCOME, TEXT, description="e.g. responded, no_response, opened"),
            ),
            key=INTERACTION_ID,
            description="contacts between the firm and a customer",
        ),
        Table(
            "campaigns",
            (
                Column(CAMPAIGN_ID, ID, required=True, nullable=False),
                Column(NAME, TEXT, description="campaign name"),
                Column(CHANNEL, TEXT),
                Column(OFFER, TEXT),
                Column(COST, FLOAT, checks=_ge0, description="total campaign cost"),
                Column(START_DATE, DATE_KIND),
                Column(END_DATE, DATE_KIND),
                Column(TARGET_SEGMENT, TEXT),
                Column(
                    OBJECTIVE,
                    TEXT,
                    description="what the spend is for: acquisition, retention or development",
                ),
            ),
            key=CAMPAIGN_ID,
            description="marketing campaigns",
        ),
        Table(
            "tickets",
            (
                Column(TICKET_ID, ID, required=True, nullable=False),
                Column(CUSTOMER_ID, ID, required=True, nullable=False),
                Column(OPENED_AT, DATETIME, required=True, nullable=False),
                Column(CLOSED_AT, DATETIME),
                Column(CHANNEL, TEXT),
                Column(CATEGORY, TEXT),
                Column(CSAT, FLOAT, checks=_score_1_5, description="satisfaction 1-5"),
            ),
            key=TICKET_ID,
            description="service tickets",
        ),
        Table(
            "surveys",
            (
                Column(RESPONSE_ID, ID, required=True, nullable=False),
                Column(CUSTOMER_ID, ID, required=True, nullable=False),
                Column(DATE, DATE_KIND),
                Column(NPS, FLOAT, checks=_score_0_10, description="likelihood to recommend 0-10"),
                *(
                    Column(n, FLOAT, checks=_score_1_5, description="importance of the need, 1-5")
                    for n in NEEDS
                ),
            ),
            key=RESPONSE_ID,
            description="survey answers: NPS and stated needs",
        ),
        Table(
            "cost_rates",
            (
                Column(ACTIVITY, TEXT, required=True, nullable=False),
                Column(CHANNEL, TEXT, description="empty = any channel"),
                Column(UNIT_COST_RATE, FLOAT, required=True, nullable=False, checks=_ge0),
            ),
            description="activity-based cost-to-serve: cost of one activity in a channel",
        ),
        Table(
            "subscriptions",
            (
                Column(SUBSCRIPTION_ID, ID, required=True, nullable=False),
                Column(CUSTOMER_ID, ID, required=True, nullable=False, description="subscriber"),
                Column(PLAN, TEXT, description="the plan subscribed to"),
                Column(
                    START_DATE,
                    DATE_KIND,
                    required=True,
                    nullable=False,
                    description="first day of the subscription",
                ),
                Column(
                    END_DATE,
                    DATE_KIND,
                    description=(
                        "last day of the subscription; empty while active; "
                        "one before start_date rejects the row"
                    ),
                ),
                Column(PRICE, FLOAT, checks=_ge0, description="price per billing period"),
                Column(
                    PERIOD,
                    TEXT,
                    checks=_period,
                    description="billing period of the price: month or year",
                ),
            ),
            key=SUBSCRIPTION_ID,
            description=(
                "contracts renewed each period (memberships, plans): one row per subscription"
            ),
        ),
        Table(
            "assessment",
            (
                Column(QUESTION_ID, ID, required=True, nullable=False),
                Column(INTENTION, FLOAT, description="score on the bank's answer scale"),
                Column(REALITY, FLOAT, description="score on the bank's answer scale"),
                Column(EVIDENCE, TEXT),
                Column(ASSESSOR, TEXT),
                Column(DATE, DATE_KIND),
            ),
            description="answers to a question bank (file assessment_<bank>.csv)",
        ),
    )
}

REQUIRED_TABLES = ("transactions",)
ASSESSMENT_PREFIX = "assessment_"  # assessment_qci.csv, assessment_value_chain.csv, ...


def pandera_schema(table: str | Table) -> pa.DataFrameSchema:
    """The pandera schema of a table, for frames already parsed by kind.

    Parsing (text to dates and numbers) is done first by :mod:`crmlib.data.io`, so
    that a value that cannot be parsed is reported once, with its reason,
    rather than once for coercion and again for every later check.
    """
    spec = TABLES[table] if isinstance(table, str) else table
    columns = {
        c.name: pa.Column(
            None,
            checks=list(c.checks),
            nullable=c.nullable,
            required=False,
            name=c.name,
        )
        for c in spec.columns
    }
    return pa.DataFrameSchema(columns, strict=False, name=spec.name)
