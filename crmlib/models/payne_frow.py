"""Payne & Frow's five cross-functional CRM processes, measured on client data.

Payne & Frow (2005), "A strategic framework for customer relationship
management", *Journal of Marketing* 69(4), 167-176, see CRM as five
cross-functional processes; Payne & Frow (2006), "Customer relationship
management: from strategy to implementation", *Journal of Marketing
Management* 22(1-2), 135-168, add four implementation factors. Each process
is measured here from what a client's records can show, and each function
names the source of its formula:

Strategy development
    Which segments matter by size, value and growth (:func:`segment_profile`)
    and where the client sits in the CRM strategy matrix, placed from
    measurable signals (:func:`strategy_signals`, :func:`strategy_position`).
Value creation
    The value the customer receives, per segment, from stated needs and
    experience scores (:func:`customer_value_by_segment`); the value the
    organisation receives: segment CLV (:func:`segment_value`), blended
    acquisition cost (:func:`acquisition_cost`), CLV/CAC (:func:`clv_to_cac`)
    and retention economics with the geometric retention model of Gupta &
    Lehmann (2003) (:func:`margin_multiple`, :func:`customer_equity`,
    :func:`retention_point_value`, :func:`retention_economics`).
Multichannel integration
    Channel mix per segment (:func:`channel_mix`), the channel paths before a
    purchase (:func:`channel_paths`), channel switching between orders
    (:func:`channel_switching`, :func:`switching_summary`) and the
    consistency of the experience across channels
    (:func:`experience_by_channel`, :func:`integration_breaks`).
Information management
    A data-quality audit of every table on five dimensions with the rows
    behind each finding (:func:`audit_data_quality`, :class:`DataQualityAudit`).
Performance assessment
    KPIs per period (:func:`kpi_table`), a scorecard with targets and a
    red/amber/green rule (:func:`scorecard`, :func:`rag_status`) and the link
    between what customers say and what they spend (:func:`value_after_survey`).
Implementation
    The stage of each readiness factor and the action each gap calls for
    (:func:`readiness_actions`; the scores come from :mod:`crmlib.analytics.assessment`).

Conventions shared with :mod:`crmlib.models.qci`: a *purchase* is a transaction line
with non-negative revenue; an *order* is a distinct ``order_id`` among
purchase lines (else the customer's purchase day and channel); ``as_of`` is
the last day observed, inclusive (default: the last order date).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.analytics import acquisition, costs, experience
from crmlib.analytics.assessment import ACTION, NAME, PRIORITY, RANK, STAGE, AssessmentResult
from crmlib.analytics.requirements import Need, missing_pieces
from crmlib.data import schema as s
from crmlib.data.checks import as_of_date as _as_of
from crmlib.data.checks import need_columns as _need
from crmlib.data.checks import purchase_lines as _purchases
from crmlib.errors import CRMError, DataError
from crmlib.models import qci

__all__ = [
    "DataQualityAudit",
    "RetentionEconomics",
    "StrategyPosition",
    "acquisition_cost",
    "audit_data_quality",
    "channel_mix",
    "channel_paths",
    "channel_switching",
    "clv_to_cac",
    "customer_equity",
    "customer_value_by_segment",
    "default_segments",
    "experience_by_channel",
    "integration_breaks",
    "kpi_table",
    "margin_multiple",
    "rag_status",
    "readiness_actions",
    "retention_economics",
    "retention_point_value",
    "scorecard",
    "segment_profile",
    "segment_value",
    "strategy_position",
    "strategy_signals",
    "switching_summary",
    "value_after_survey",
]

# --- vocabulary of the results (the inputs' columns come from crmlib.data.schema) -------------
SEGMENT = "segment"
UNASSIGNED = "unassigned"
NOT_SURVEYED = "not surveyed"
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

TABLE, DIMENSION, CHECK, ROWS, CHECKED, SCORE, KEY = (
    "table",
    "dimension",
    "check",
    "rows",
    "checked",
    "score",
    "key",
)
COMPLETENESS, UNIQUENESS, VALIDITY, CONSISTENCY, TIMELINESS = (
    "completeness",
    "uniqueness",
    "validity",
    "consistency",
    "timeliness",
)
DIMENSIONS = (COMPLETENESS, UNIQUENESS, VALIDITY, CONSISTENCY, TIMELINESS)

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
MAY_BE_EMPTY = frozenset(
    {
        ("tickets", s.CLOSED_AT),
        ("tickets", s.CSAT),
        ("interactions", s.CAMPAIGN_ID),
        ("cost_rates", s.CHANNEL),
    }
)
#: The column that dates each table's records (timeliness, dates after as-of).
DATE_COLUMNS = {
    "transactions": s.ORDER_DATE,
    "customers": s.SIGNUP_DATE,
    "interactions": s.TIMESTAMP,
    "tickets": s.OPENED_AT,
    "surveys": s.DATE,
    "campaigns": s.START_DATE,
}
#: How crmlib.data.io words the rejection of a row dated after the as-of date.
OUT_OF_WINDOW = "after the as-of date"
#: Tables a live system adds to every day: their newest record says how fresh the
#: extract is (timeliness). A campaigns table grows only when a campaign runs.
FEED_TABLES = ("transactions", "customers", "interactions", "tickets", "surveys")
#: Tables whose rows refer to a customer.
CUSTOMER_TABLES = ("transactions", "interactions", "tickets", "surveys")


# --- shared helpers ------------------------------------------------------------------------


def _orders(transactions: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """One row per order: customer_id, order_date and channel (when known), by date."""
    bought, _ = _purchases(transactions, as_of)
    if s.ORDER_ID in bought.columns and bought[s.ORDER_ID].notna().all():
        key = [s.ORDER_ID]
    else:
        key = [s.CUSTOMER_ID, s.ORDER_DATE] + ([s.CHANNEL] if s.CHANNEL in bought.columns else [])
    columns = [s.CUSTOMER_ID, s.ORDER_DATE] + ([s.CHANNEL] if s.CHANNEL in bought.columns else [])
    orders = bought.drop_duplicates(key)[columns]
    return orders.sort_values([s.CUSTOMER_ID, s.ORDER_DATE], kind="stable", ignore_index=True)


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


# =========================================================================================
# Strategy development
# =========================================================================================


def default_segments(data) -> tuple[pd.Series, str]:
    """The segmentation the client's data allows, best first, and what it is.

    1. needs segments when surveys hold needs answers: each surveyed
       customer's most important need (:func:`crmlib.models.value_chain.needs_segments`,
       ``"mixed"`` on a tie); buyers without an answer are ``"not surveyed"``;
    2. else the customers table's ``acquisition_channel``;
    3. else value tiers by net revenue to date (:func:`crmlib.models.idic.value_tiers`:
       top 20 %, next 30 %, bottom 50 %).

    Returns
    -------
    (Series, str)
        The segment of every buying customer (index customer_id) and a
        sentence saying which segmentation was used.
    """
    from crmlib.models import idic, value_chain

    bought, _ = _purchases(data.transactions, data.as_of)
    buyers = pd.Index(bought[s.CUSTOMER_ID].unique(), name=s.CUSTOMER_ID)
    surveys = data.tables.get("surveys") if data.has("surveys") else None
    needs = [c for c in s.NEEDS if surveys is not None and c in surveys.columns]
    if needs and surveys.dropna(subset=needs).shape[0] > 0:
        labels = value_chain.needs_segments(surveys, columns=needs)
        segment = labels.reindex(buyers.astype(str)).astype("object").fillna(NOT_SURVEYED)
        segment.index = buyers
        return segment.rename(SEGMENT), (
            "needs segments: each surveyed customer's most important need; "
            f"{int((segment == NOT_SURVEYED).sum()):,} buying customers without an answer "
            "are 'not surveyed'"
        )
    if data.has("customers") and s.ACQUISITION_CHANNEL in data.tables["customers"].columns:
        channel = (
            data.tables["customers"]
            .drop_duplicates(s.CUSTOMER_ID)
            .set_index(s.CUSTOMER_ID)[s.ACQUISITION_CHANNEL]
        )
        segment = channel.reindex(buyers).astype("object").fillna(UNASSIGNED)
        return segment.rename(SEGMENT), "acquisition channel (the customers table)"
    revenue = data.transactions.groupby(s.CUSTOMER_ID)[s.REVENUE].sum().reindex(buyers)
    tiers = idic.value_tiers(revenue).astype("object")
    return tiers.rename(SEGMENT), "value tiers by net revenue to date (no survey, no customers)"


def segment_profile(
    transactions: pd.DataFrame, segment_of: pd.Series, as_of=None, window_days: int = 365
) -> pd.DataFrame:
    """Size, value and growth of each segment: which segments matter.

    * size: buying customers and their share of all buyers;
    * value: net revenue (returns included), its share, revenue per customer
      and margin (revenue - cost) when costs are known;
    * growth: net revenue of the last ``window_days`` against the
      ``window_days`` before, ``recent / before - 1``.

    Choosing the customers to serve by their current and future value and
    by segment is Payne & Frow's customer strategy (Payne & Frow 2005,
    *Journal of Marketing* 69(4), the strategy development process).

    Parameters
    ----------
    transactions : DataFrame
    segment_of : Series
        Segment of each customer (index customer_id); customers not in it are
        ``"unassigned"``.
    as_of : date-like, optional
    window_days : int, default 365

    Returns
    -------
    DataFrame
        Index ``segment``; columns customers, customer_share, revenue,
        revenue_share, revenue_per_customer, margin (NaN without costs),
        revenue_recent, revenue_before, growth (NaN when the earlier window
        starts before the first order: it is not fully observed, or holds
        no revenue); largest revenue first.
    """
    if isinstance(window_days, bool) or not isinstance(window_days, (int, np.integer)):
        raise CRMError(f"window_days must be a whole number of days, not {window_days!r}")
    if window_days < 1:
        raise CRMError(f"window_days must be at least 1, not {window_days}")
    bought, when = _purchases(transactions, as_of)
    lines = transactions.loc[transactions[s.ORDER_DATE] <= when]
    lines = lines.loc[lines[s.CUSTOMER_ID].isin(bought[s.CUSTOMER_ID])]
    segment = _labels(lines[s.CUSTOMER_ID], segment_of, UNASSIGNED)
    buyers = bought.drop_duplicates(s.CUSTOMER_ID)
    sizes = _labels(buyers[s.CUSTOMER_ID], segment_of, UNASSIGNED).value_counts()
    revenue = lines.groupby(segment)[s.REVENUE].sum()
    if s.COST in lines.columns and lines[s.COST].notna().any():
        margin = (lines[s.REVENUE] - lines[s.COST].fillna(0.0)).groupby(segment).sum()
    else:
        margin = pd.Series(np.nan, index=revenue.index)
    recent_start = when - pd.Timedelta(days=window_days)
    before_start = recent_start - pd.Timedelta(days=window_days)
    dates = lines[s.ORDER_DATE]
    recent = lines.loc[dates > recent_start].groupby(segment)[s.REVENUE].sum()
    before = lines.loc[(dates > before_start) & (dates <= recent_start)]
    before = before.groupby(segment)[s.REVENUE].sum()
    index = sizes.index
    out = pd.DataFrame(
        {
            CUSTOMERS: sizes.astype(int),
            CUSTOMER_SHARE: sizes / sizes.sum(),
            s.REVENUE: revenue.reindex(index, fill_value=0.0),
            s.MARGIN: margin.reindex(index),
            REVENUE_RECENT: recent.reindex(index, fill_value=0.0),
            REVENUE_BEFORE: before.reindex(index, fill_value=0.0),
        }
    )
    total = out[s.REVENUE].sum()
    out.insert(3, REVENUE_SHARE, out[s.REVENUE] / total if total else np.nan)
    out.insert(4, REVENUE_PER_CUSTOMER, out[s.REVENUE] / out[CUSTOMERS])
    observed = transactions[s.ORDER_DATE].min() <= before_start + pd.Timedelta(days=1)
    growth = out[REVENUE_RECENT] / out[REVENUE_BEFORE].where(out[REVENUE_BEFORE] > 0) - 1
    out[GROWTH] = growth if observed else np.nan
    out.index.name = SEGMENT
    return out.sort_values(s.REVENUE, ascending=False, kind="stable")


def _targeting_level(target) -> float:
    """0 for a mass offer, 0.5 for a segment, 1 for an individual offer."""
    text = "" if pd.isna(target) else target
    text = str(text).strip().lower()
    if text in MASS_TARGETS:
        return 0.0
    if text in INDIVIDUAL_TARGETS:
        return 1.0
    return 0.5


def strategy_signals(data) -> pd.DataFrame:
    """Measurable signals of the two axes of the CRM strategy matrix, each from 0 to 1.

    How much customer information is used (axis ``information``):

    * ``customer_tables``: share of the five customer-information tables
      held (customers, interactions, tickets, surveys, campaigns);
    * ``identified_revenue``: share of purchase revenue from customer ids
      found in the customers table;
    * ``needs_known``: share of buying customers with a needs answer in surveys;
    * ``contact_history``: share of buying customers with a recorded
      interaction (holdouts excluded) or service ticket.

    How far offers are individualised (axis ``individualisation``):

    * ``targeted_offers``: the mean targeting level of campaign contacts
      (each campaign weighted by its contacts, equally without contacts):
      0 for a mass offer (``target_segment`` empty or "all"), 0.5 for a
      segment, 1 for an individual offer (:data:`INDIVIDUAL_TARGETS`);
    * ``targeted_reach``: share of buying customers who received at least
      one contact of a targeted (segment or individual) campaign.

    A signal the data cannot show (its table or column is absent) is NaN,
    not 0, with the reason in ``evidence``: absent evidence is not evidence
    of practice, nor of its absence. :func:`strategy_position` places the
    client only on axes with at least one observed signal.

    Parameters
    ----------
    data : crmlib.data.io.ClientData

    Returns
    -------
    DataFrame
        Columns signal, axis, value, evidence.
    """
    bought, _ = _purchases(data.transactions, data.as_of)
    buyers = pd.Index(bought[s.CUSTOMER_ID].unique())
    rows = []

    def add(signal, axis, value, evidence):
        rows.append({SIGNAL: signal, AXIS: axis, VALUE: float(value), EVIDENCE: evidence})

    held = [t for t in INFORMATION_TABLES if data.has(t)]
    add(
        "customer_tables",
        INFORMATION,
        len(held) / len(INFORMATION_TABLES),
        f"{len(held)} of {len(INFORMATION_TABLES)} customer tables held"
        + (f" ({', '.join(held)})" if held else ""),
    )
    if data.has("customers"):
        known = bought[s.CUSTOMER_ID].isin(data.tables["customers"][s.CUSTOMER_ID])
        total = bought[s.REVENUE].sum()
        share = bought.loc[known, s.REVENUE].sum() / total if total > 0 else 0.0
        add("identified_revenue", INFORMATION, share, "revenue from customers on file")
    else:
        add("identified_revenue", INFORMATION, np.nan, "no customers table: cannot be seen")
    surveys = data.tables.get("surveys") if data.has("surveys") else None
    needs = [c for c in s.NEEDS if surveys is not None and c in surveys.columns]
    if needs:
        answered = surveys.dropna(subset=needs, how="all")[s.CUSTOMER_ID].unique()
        add(
            "needs_known",
            INFORMATION,
            buyers.isin(answered).mean(),
            "buyers with a needs answer in surveys",
        )
    else:
        add("needs_known", INFORMATION, np.nan, "no surveys with needs answers: cannot be seen")
    contacts = []
    inter = data.tables.get("interactions") if data.has("interactions") else None
    if inter is not None:
        real = (
            inter
            if s.KIND not in inter.columns
            else inter[inter[s.KIND] != s.KIND_CAMPAIGN_HOLDOUT]
        )
        contacts.append(real[s.CUSTOMER_ID])
    if data.has("tickets"):
        contacts.append(data.tables["tickets"][s.CUSTOMER_ID])
    if contacts:
        seen = pd.concat(contacts).unique()
        add(
            "contact_history",
            INFORMATION,
            buyers.isin(seen).mean(),
            "buyers with a recorded interaction or ticket",
        )
    else:
        add("contact_history", INFORMATION, np.nan, "no interactions or tickets: cannot be seen")

    campaigns = data.tables.get("campaigns") if data.has("campaigns") else None
    if (
        campaigns is None
        or s.TARGET_SEGMENT not in campaigns.columns
        or campaigns[s.TARGET_SEGMENT].isna().all()
    ):
        why = "no campaigns with a target: cannot be seen"
        add("targeted_offers", INDIVIDUALISATION, np.nan, why)
        add("targeted_reach", INDIVIDUALISATION, np.nan, why)
    else:
        level = campaigns.drop_duplicates(s.CAMPAIGN_ID).set_index(s.CAMPAIGN_ID)[s.TARGET_SEGMENT]
        level = level.map(_targeting_level)
        contacted = pd.DataFrame(columns=[s.CAMPAIGN_ID, s.CUSTOMER_ID])
        if inter is not None and {s.KIND, s.CAMPAIGN_ID} <= set(inter.columns):
            contacted = inter.loc[
                (inter[s.KIND] == s.KIND_CAMPAIGN_CONTACT) & inter[s.CAMPAIGN_ID].isin(level.index),
                [s.CAMPAIGN_ID, s.CUSTOMER_ID],
            ]
        if len(contacted):
            weights = contacted[s.CAMPAIGN_ID].value_counts()
            offers = float((level.reindex(weights.index) * weights).sum() / weights.sum())
            how = f"{len(contacted):,} campaign contacts, weighted by campaign"
        else:
            offers = float(level.mean()) if len(level) else 0.0
            how = f"{len(level)} campaigns, equally weighted (no contacts recorded)"
        targeted = level[level > 0].index
        add("targeted_offers", INDIVIDUALISATION, offers, f"targeting level of {how}")
        reached = contacted.loc[contacted[s.CAMPAIGN_ID].isin(targeted), s.CUSTOMER_ID].unique()
        add(
            "targeted_reach",
            INDIVIDUALISATION,
            buyers.isin(reached).mean() if len(contacted) else 0.0,
            f"buyers contacted by a targeted campaign ({len(targeted)} of {len(level)} campaigns "
            "targeted)",
        )
    return pd.DataFrame(rows, columns=[SIGNAL, AXIS, VALUE, EVIDENCE])


@dataclass
class StrategyPosition:
    """Where the client sits in the CRM strategy matrix.

    Attributes
    ----------
    information, individualisation : float
        The mean of each axis's signals, 0 to 1.
    quadrant : str
        One of :data:`QUADRANTS`.
    threshold : float
        The cut between limited and extensive / low and high.
    reasoning : str
        How the position follows from the signals.
    """

    information: float
    individualisation: float
    quadrant: str
    threshold: float
    reasoning: str


def strategy_position(signals: pd.DataFrame, threshold: float = 0.5) -> StrategyPosition:
    """Place the client in Payne & Frow's CRM strategy matrix from measured signals.

    Payne & Frow (2005, *Journal of Marketing* 69(4), the strategy
    development process; Frow & Payne 2009, "Customer relationship
    management: a strategic perspective", *Journal of Business Market
    Management* 3(1), 7-27) set four CRM strategies by how much customer
    information an organisation uses and how far it individualises what
    customers get: **product-based selling**, **managed service and
    support**, **customer-based marketing** and **individualised CRM**.
    The axis scores are the means of :func:`strategy_signals`; an axis is
    "extensive" / "high" at or above ``threshold``. Product-based selling
    (limited, low) and individualised CRM (extensive, high) are the two ends;
    customer-based marketing is extensive information with low
    individualisation and managed service and support the reverse, following
    Payne's *Handbook of CRM* (2006, p. 84), which puts the highly individualised
    strategies on the right-hand side of the matrix (:data:`QUADRANTS`; the
    axis labels are the workbook's wording).

    Returns
    -------
    StrategyPosition
    """
    _need(signals, "strategy signals", (AXIS, VALUE, SIGNAL))
    threshold = _check_rate("threshold", threshold, 0.0, 1.0, high_open=False)
    means = {}
    for axis in (INFORMATION, INDIVIDUALISATION):
        values = signals.loc[signals[AXIS] == axis, VALUE].dropna()
        if values.empty:
            raise CRMError(
                f"the strategy signals hold no observed signal of the {axis} axis: "
                "the data cannot place the client on it"
            )
        means[axis] = float(values.mean())
    info, indiv = means[INFORMATION], means[INDIVIDUALISATION]
    quadrant = QUADRANTS[(info >= threshold, indiv >= threshold)]

    def describe(axis, words):
        part = signals[signals[AXIS] == axis]
        listed = ", ".join(
            f"{r[SIGNAL]} {r[VALUE]:.2f}" for _, r in part.iterrows() if pd.notna(r[VALUE])
        )
        word = words[0] if means[axis] >= threshold else words[1]
        return f"{axis} {means[axis]:.2f} ({word}; mean of {listed})"

    reasoning = (
        f"{describe(INFORMATION, ('extensive', 'limited'))}; "
        f"{describe(INDIVIDUALISATION, ('high', 'low'))}; "
        f"cut at {threshold:.2f}: {quadrant}."
    )
    return StrategyPosition(info, indiv, quadrant, threshold, reasoning)


# =========================================================================================
# Value creation
# =========================================================================================


def customer_value_by_segment(
    surveys: pd.DataFrame, segment_of: pd.Series, tickets: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The value the customer receives, per segment: what they need and what they experience.

    Payne & Frow's value creation process asks what value the customer
    receives from the proposition (Payne & Frow 2005, *Journal of
    Marketing* 69(4)). From the client's records: the mean importance of
    each stated need (1-5), the need rated highest, NPS (:func:`crmlib.analytics.experience.nps`,
    Reichheld 2003) and, with tickets, the mean CSAT and the share satisfied
    (:func:`crmlib.analytics.experience.csat_table`).

    Returns
    -------
    DataFrame
        Index segment; columns respondents, the need columns present,
        top_need, nps (NaN without answers), and with tickets csat_answers,
        mean_csat, satisfied.
    """
    _need(surveys, "surveys", (s.CUSTOMER_ID,))
    segment = _labels(surveys[s.CUSTOMER_ID], segment_of, UNASSIGNED)
    frame = surveys.assign(**{SEGMENT: segment})
    needs = [c for c in s.NEEDS if c in surveys.columns]
    out = pd.DataFrame({RESPONDENTS: frame.groupby(SEGMENT).size()})
    if needs:
        means = frame.groupby(SEGMENT)[needs].mean()
        out = out.join(means)
        top = means.dropna(how="all")
        out[TOP_NEED] = pd.Series(
            [top.columns[int(np.nanargmax(r))].removeprefix("need_") for r in top.to_numpy()],
            index=top.index,
            dtype="object",
        )
    if s.NPS in surveys.columns and surveys[s.NPS].notna().any():
        out[s.NPS] = experience.nps_table(frame, by=SEGMENT)[s.NPS]
    if tickets is not None and len(tickets) and s.CSAT in tickets.columns:
        rated = tickets.assign(**{SEGMENT: _labels(tickets[s.CUSTOMER_ID], segment_of, UNASSIGNED)})
        csat = experience.csat_table(rated, by=SEGMENT)
        out[CSAT_ANSWERS] = csat[qci.N].reindex(out.index)
        out[MEAN_CSAT] = csat[MEAN_CSAT].reindex(out.index)
        out[SATISFIED] = csat[SATISFIED].reindex(out.index)
    out.index.name = SEGMENT
    return out.sort_values(RESPONDENTS, ascending=False, kind="stable")


def segment_value(
    clv: pd.Series, segment_of: pd.Series, profitability: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Customer segment lifetime value, and what each segment earned and cost to serve.

    The value the organisation receives per segment (Payne & Frow 2005:
    "customer segment lifetime value"), with each customer's CLV from
    :func:`crmlib.analytics.clv.customer_lifetime_value` (Fader, Hardie & Lee 2005,
    *Journal of Marketing Research* 42(4)). With ``profitability`` (from
    :func:`crmlib.models.value_chain.customer_profitability`: revenue - product cost
    - activity-based cost-to-serve, Kaplan & Cooper 1998) it adds the profit
    and cost-to-serve per customer to date.

    Returns
    -------
    DataFrame
        Index segment; columns customers, clv_mean, clv_total, clv_share and,
        with profitability, profit_per_customer and cost_to_serve_per_customer;
        largest total CLV first.
    """
    if not isinstance(clv, pd.Series):
        raise CRMError("clv must be a Series of CLV per customer (index customer_id)")
    ids = pd.Series(clv.index, index=clv.index)
    segment = _labels(ids, segment_of, UNASSIGNED)
    grouped = clv.astype(float).groupby(segment)
    out = pd.DataFrame(
        {CUSTOMERS: grouped.size(), CLV_MEAN: grouped.mean(), CLV_TOTAL: grouped.sum()}
    )
    total = out[CLV_TOTAL].sum()
    out[CLV_SHARE] = out[CLV_TOTAL] / total if total else np.nan
    if profitability is not None:
        from crmlib.models import value_chain

        _need(profitability, "profitability", (value_chain.PROFIT, value_chain.COST_TO_SERVE))
        known = profitability.reindex(clv.index)
        out[PROFIT_PER_CUSTOMER] = known[value_chain.PROFIT].groupby(segment).mean()
        out[COST_TO_SERVE_PER_CUSTOMER] = known[value_chain.COST_TO_SERVE].groupby(segment).mean()
    out.index.name = SEGMENT
    return out.sort_values(CLV_TOTAL, ascending=False, kind="stable")


def acquisition_cost(transactions: pd.DataFrame, campaigns: pd.DataFrame, as_of=None) -> float:
    """Blended acquisition cost: campaign spend per new customer since the first campaign.

    ``CAC = sum of campaign costs / new customers``, both counted from the
    month of the first campaign with a cost to ``as_of`` (campaigns starting
    later are left out): the average acquisition cost of Farris, Bendle,
    Pfeifer & Reibstein, *Marketing Metrics*, 2nd ed., Pearson 2010, ch. 5,
    through :func:`crmlib.analytics.acquisition.cost_per_acquisition`. Every campaign counts,
    also those meant to retain: the figure is an upper bound.
    """
    _need(campaigns, "campaigns", (s.COST, s.START_DATE))
    when = _as_of(transactions, as_of)
    started = campaigns.loc[campaigns[s.START_DATE] <= when]
    table = acquisition.cost_per_acquisition(transactions, started, freq="M", as_of=when)
    spent = table[acquisition.CAMPAIGN_COST] > 0
    if not spent.any():
        raise DataError("campaigns: no campaign with a cost started by the as-of date")
    window = table.loc[table.index >= table.index[int(np.argmax(spent.to_numpy()))]]
    new = int(window[acquisition.NEW_CUSTOMERS].sum())
    if new == 0:
        raise DataError("transactions: no new customer since the first campaign")
    return float(window[acquisition.CAMPAIGN_COST].sum() / new)


def clv_to_cac(clv, cac: float):
    """CLV / CAC: what a customer is worth for each unit spent to acquire one.

    Above 1 an acquired customer repays their acquisition cost; practitioners
    often look for 3 or more (a rule of thumb, not a law). Gupta & Lehmann
    (2003, *Journal of Interactive Marketing* 17(1)) value a newly acquired
    customer as CLV minus acquisition cost, the same comparison as a difference.

    Parameters
    ----------
    clv : float or Series
    cac : float
        Acquisition cost, above 0.
    """
    cac = float(cac)
    if not (math.isfinite(cac) and cac > 0):
        raise CRMError(f"the acquisition cost must be above 0, not {cac!r}")
    return clv / cac


def margin_multiple(retention: float, discount_rate: float) -> float:
    """The margin multiple r / (1 + d - r) of the geometric retention model.

    With a constant margin m per period, a constant retention rate r and a
    discount rate d per period, over an infinite horizon, a customer's
    lifetime value is ``CLV = m * r / (1 + d - r)`` (Gupta & Lehmann 2003,
    "Customers as assets", *Journal of Interactive Marketing* 17(1), 9-24;
    Gupta & Lehmann, *Managing Customers as Investments*, Wharton School
    Publishing 2005, ch. 2): margins are received at the end of each period
    the customer stays. For example r = 0.8 and d = 0.12 give 2.5.
    """
    r = _check_rate("retention", retention, 0.0, 1.0)
    d = _check_rate("discount_rate", discount_rate, 0.0, 1.0)
    return r / (1.0 + d - r)


def customer_equity(
    margin: float, retention: float, discount_rate: float, customers: float = 1.0
) -> float:
    """Customer equity of the current base: ``customers * m * r / (1 + d - r)``.

    The sum of the current customers' lifetime values under the geometric
    retention model (:func:`margin_multiple`; Gupta & Lehmann 2003).
    """
    return float(customers) * float(margin) * margin_multiple(retention, discount_rate)


def retention_point_value(
    margin: float,
    retention: float,
    discount_rate: float,
    customers: float = 1.0,
    step: float = 0.01,
) -> float:
    """What one point of retention is worth: equity(r + step) - equity(r).

    The derivative of ``m r / (1 + d - r)`` is ``m (1 + d) / (1 + d - r)²``,
    so a point is worth more the higher retention already is: Gupta, Lehmann
    & Stuart (2004), "Valuing customers", *Journal of Marketing Research*
    41(1), 7-18, found a 1 % improvement in retention raised firm value
    by about 5 %, far more than the same change in margin or acquisition cost.
    """
    high = _check_rate("retention + step", retention + step, 0.0, 1.0)
    return customer_equity(margin, high, discount_rate, customers) - customer_equity(
        margin, retention, discount_rate, customers
    )


@dataclass
class RetentionEconomics:
    """The inputs and results of the geometric retention model on client data.

    Attributes
    ----------
    margin : float
        What an active customer of the last period left, per head.
    margin_basis : str
        What the margin is, e.g. ``"revenue - product cost - cost-to-serve"``.
    retention : float
        Share of the previous period's active customers active in the last period.
    discount_rate : float
        Discount rate per period.
    customers : int
        Customers active in the last period (the current base).
    period_days : int
    margin_multiple, clv, customer_equity, value_of_one_point : float
        r / (1 + d - r), m times that, customers times that, and the change
        in customer equity for one more point (0.01) of retention.
    """

    margin: float
    margin_basis: str
    retention: float
    discount_rate: float
    customers: int
    period_days: int
    margin_multiple: float
    clv: float
    customer_equity: float
    value_of_one_point: float


def _activity_cost(
    lines: pd.DataFrame,
    cost_rates: pd.DataFrame,
    tickets: pd.DataFrame | None,
    interactions: pd.DataFrame | None,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> float:
    """Activity-based cost-to-serve of what happened after day ``start`` up to day ``end``.

    :func:`crmlib.analytics.costs.cost_by_activity` on the order lines given and the
    tickets and interactions dated in the window (Kaplan & Cooper 1998, ch. 10).
    """

    def window(frame, column):
        if frame is None or not len(frame) or column not in frame.columns:
            return None
        day = frame[column].dt.normalize()
        return frame.loc[(day > start) & (day <= end)]

    if lines.empty:
        return 0.0
    table = costs.cost_by_activity(
        lines,
        cost_rates,
        window(tickets, s.OPENED_AT),
        window(interactions, s.TIMESTAMP),
        as_of=end,
    )
    return float(table[costs.ACTIVITY_COST].sum())


def retention_economics(
    transactions: pd.DataFrame,
    annual_discount_rate: float = 0.10,
    period_days: int = 365,
    as_of=None,
    cost_rates: pd.DataFrame | None = None,
    tickets: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
) -> RetentionEconomics:
    """Estimate m, r and d from the data and value the base with the geometric model.

    * period: the last ``period_days`` up to ``as_of``, and the one before;
    * retention r = customers who bought in both periods / customers who
      bought in the earlier one (a period-to-period retention rate);
    * margin m = what the last period's active customers left per head:
      revenue - product cost (when the data have costs) - activity-based
      cost-to-serve (when ``cost_rates`` are given, :mod:`crmlib.analytics.costs`,
      with the tickets and campaign contacts of the period); Gupta &
      Lehmann's m is revenue minus operating expenses per customer;
    * d = (1 + annual_discount_rate) ** (period_days / 365) - 1.

    Then CLV, customer equity and the value of one point of retention follow
    Gupta & Lehmann (2003) (:func:`margin_multiple`, :func:`customer_equity`,
    :func:`retention_point_value`). The model assumes constant margin and
    retention: a young, growing base breaks the first, a base that churns
    early and then stabilises the second (Fader & Hardie 2010, *Marketing
    Science* 29(1)), so read it as a rule of thumb for what retention is worth.
    """
    if isinstance(period_days, bool) or not isinstance(period_days, (int, np.integer)):
        raise CRMError(f"period_days must be a whole number of days, not {period_days!r}")
    if period_days < 1:
        raise CRMError(f"period_days must be at least 1, not {period_days}")
    annual = _check_rate("annual_discount_rate", annual_discount_rate, 0.0, 1.0)
    bought, when = _purchases(transactions, as_of)
    start = when - pd.Timedelta(days=period_days)
    earlier = start - pd.Timedelta(days=period_days)
    dates = bought[s.ORDER_DATE]
    now = set(bought.loc[dates > start, s.CUSTOMER_ID])
    before = set(bought.loc[(dates > earlier) & (dates <= start), s.CUSTOMER_ID])
    if not before:
        raise DataError(
            f"transactions: nobody bought between {earlier:%Y-%m-%d} and {start:%Y-%m-%d}, "
            "so there is no retention to measure: shorten period_days"
        )
    if not now:
        raise DataError(f"transactions: nobody bought in the {period_days} days to {when:%Y-%m-%d}")
    retention = len(now & before) / len(before)
    if retention >= 1.0:
        raise DataError(
            "transactions: every customer of the earlier period bought again: the geometric "
            "model needs a retention rate below 1"
        )
    lines = transactions.loc[
        (transactions[s.ORDER_DATE] > start) & (transactions[s.ORDER_DATE] <= when)
    ]
    left = float(lines[s.REVENUE].sum())
    basis = ["revenue"]
    if s.COST in lines.columns and lines[s.COST].notna().any():
        left -= float(lines[s.COST].fillna(0.0).sum())
        basis.append("product cost")
    if cost_rates is not None:
        left -= _activity_cost(lines, cost_rates, tickets, interactions, start, when)
        basis.append("cost-to-serve")
    margin = left / len(now)
    d = (1.0 + annual) ** (period_days / 365.0) - 1.0
    multiple = margin_multiple(retention, d)
    point = (
        retention_point_value(margin, retention, d, len(now)) if retention + 0.01 < 1 else np.nan
    )
    return RetentionEconomics(
        margin=margin,
        margin_basis=" - ".join(basis),
        retention=retention,
        discount_rate=d,
        customers=len(now),
        period_days=int(period_days),
        margin_multiple=multiple,
        clv=margin * multiple,
        customer_equity=len(now) * margin * multiple,
        value_of_one_point=float(point),
    )


# =========================================================================================
# Multichannel integration
# =========================================================================================


def _need_channel(transactions: pd.DataFrame) -> None:
    if s.CHANNEL not in transactions.columns or transactions[s.CHANNEL].isna().all():
        raise DataError(
            "transactions: there is no channel column, so channels cannot be compared",
            column=s.CHANNEL,
        )


def channel_mix(
    transactions: pd.DataFrame, segment_of: pd.Series | None = None, as_of=None
) -> pd.DataFrame:
    """Share of each segment's orders placed in each channel.

    Payne & Frow's multichannel integration process starts from where each
    customer group deals with the firm (Payne & Frow 2005, *Journal of
    Marketing* 69(4); Payne & Frow 2004, "The role of multichannel
    integration in customer relationship management", *Industrial Marketing
    Management* 33(6)).

    Returns
    -------
    DataFrame
        Index segment (``"all"`` without ``segment_of``), one column per
        channel (largest overall first), shares summing to 1 per row; an
        ``orders`` column with the number of orders.
    """
    _need_channel(transactions)
    orders = _orders(transactions, as_of).dropna(subset=[s.CHANNEL])
    segment = _labels(orders[s.CUSTOMER_ID], segment_of, UNASSIGNED)
    counts = pd.crosstab(segment.rename(SEGMENT), orders[s.CHANNEL].rename(s.CHANNEL))
    counts = counts[counts.sum().sort_values(ascending=False, kind="stable").index]
    shares = counts.div(counts.sum(axis=1), axis=0)
    shares[ORDERS] = counts.sum(axis=1)
    return shares.sort_values(ORDERS, ascending=False, kind="stable")


def channel_paths(
    transactions: pd.DataFrame,
    interactions: pd.DataFrame,
    lookback_days: int = 30,
    max_touches: int = 3,
    top: int = 10,
    as_of=None,
) -> pd.DataFrame:
    """The most common channel paths in the days before a purchase.

    For each order, the customer's interactions dated from ``lookback_days``
    before the order day to the order day are put in time order, campaign
    holdouts left out (they record a contact that did not happen); repeats
    of one channel in a row count once, and the last ``max_touches`` channels
    make the path, ending in the order's channel, e.g.
    ``sms > web > [web order]``. This is the customer journey across
    channels of Payne & Frow's multichannel integration process (Payne &
    Frow 2005; Lemon & Verhoef 2016, "Understanding customer experience
    throughout the customer journey", *Journal of Marketing* 80(6)). The
    paths are what customers did before buying, not what caused the purchase.

    Returns
    -------
    DataFrame
        Columns path, order_channel, touches (channels in the path), orders
        and share (of all orders); the ``top`` most common paths.
    """
    _need_channel(transactions)
    _need(interactions, "interactions", (s.CUSTOMER_ID, s.TIMESTAMP, s.CHANNEL))
    for name, value in (("lookback_days", lookback_days), ("max_touches", max_touches)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise CRMError(f"{name} must be a whole number of at least 1, not {value!r}")
    orders = _orders(transactions, as_of).dropna(subset=[s.CHANNEL])
    orders = orders.rename_axis("_order").reset_index()
    touches = interactions.dropna(subset=[s.CHANNEL])
    if s.KIND in touches.columns:
        touches = touches.loc[touches[s.KIND] != s.KIND_CAMPAIGN_HOLDOUT]
    touches = touches[[s.CUSTOMER_ID, s.TIMESTAMP, s.CHANNEL]]
    # A customer's touches as runs of one channel in a row (a run counts once): the path of
    # an order is the last max_touches runs that reach into its window. Found by binary
    # search per order, not by pairing every order with every touch of its customer (which
    # needs orders x touches rows: billions for a household panel).
    customers = pd.Index(pd.unique(pd.concat([orders[s.CUSTOMER_ID], touches[s.CUSTOMER_ID]])))
    who = customers.get_indexer(touches[s.CUSTOMER_ID]).astype(np.int64)
    in_order = np.lexsort((touches[s.TIMESTAMP].to_numpy(), who))  # stable: ties keep file order
    touches, who = touches.iloc[in_order], who[in_order]
    day = touches[s.TIMESTAMP].dt.normalize().to_numpy("datetime64[D]").astype(np.int64)
    channel = touches[s.CHANNEL].to_numpy(object)
    new_run = np.ones(len(touches), dtype=bool)
    new_run[1:] = (who[1:] != who[:-1]) | (channel[1:] != channel[:-1])
    first = np.flatnonzero(new_run)
    last = np.append(first[1:], len(touches)) - 1
    span = np.int64(1 << 32)  # days of one customer never reach it
    run_start, run_end = who[first] * span + day[first], who[first] * span + day[last]
    run_channel = channel[first]
    order_who = customers.get_indexer(orders[s.CUSTOMER_ID]).astype(np.int64)
    order_day = orders[s.ORDER_DATE].to_numpy("datetime64[D]").astype(np.int64)
    hi = np.searchsorted(run_start, order_who * span + order_day, side="right") - 1
    lo = np.searchsorted(run_end, order_who * span + order_day - lookback_days, side="left")
    # a run can straddle a window that holds none of its touches: count only windows with a touch
    touch_key = who * span + day
    inside = np.searchsorted(touch_key, order_who * span + order_day, side="right")
    inside -= np.searchsorted(touch_key, order_who * span + order_day - lookback_days, "left")
    count = np.where((hi >= lo) & (inside > 0), hi - lo + 1, 0)
    take = np.minimum(count, max_touches)
    path_of = [list(run_channel[h - n + 1 : h + 1]) for h, n in zip(hi, take, strict=True)]
    labels, lengths = [], []
    for steps_, channel in zip(path_of, orders[s.CHANNEL], strict=True):
        labels.append(" > ".join([*(steps_ or [NO_TOUCH]), f"[{channel} order]"]))
        lengths.append(len(steps_))
    frame = pd.DataFrame(
        {PATH: labels, ORDER_CHANNEL: orders[s.CHANNEL].to_numpy(), TOUCHES: lengths}
    )
    counts = frame.groupby([PATH, ORDER_CHANNEL, TOUCHES]).size().rename(ORDERS).reset_index()
    counts[SHARE] = counts[ORDERS] / len(frame)
    counts = counts.sort_values([ORDERS, PATH], ascending=[False, True], kind="stable")
    return counts.head(top).reset_index(drop=True)


def channel_switching(transactions: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Where a customer's next order goes, given the channel of this one.

    Each pair of a customer's consecutive orders is one transition from the
    earlier order's channel to the later one's. Row shares read "of the
    orders followed by another, the share whose next order came through each
    channel": the diagonal is staying, the rest is switching (a first-order
    Markov view of channel choice, as in Pfeifer & Carraway 2000, "Modeling
    customer relationships as Markov chains", *Journal of Interactive
    Marketing* 14(2)).

    Returns
    -------
    DataFrame
        Index from_channel, columns to_channel; row shares.
    """
    _need_channel(transactions)
    orders = _orders(transactions, as_of).dropna(subset=[s.CHANNEL])
    same = orders[s.CUSTOMER_ID] == orders[s.CUSTOMER_ID].shift(-1)
    pairs = pd.DataFrame(
        {
            FROM_CHANNEL: orders[s.CHANNEL].to_numpy(),
            TO_CHANNEL: orders[s.CHANNEL].shift(-1).to_numpy(),
        }
    ).loc[same.to_numpy()]
    if pairs.empty:
        raise DataError("transactions: no customer has two orders, so nobody could switch")
    return pd.crosstab(pairs[FROM_CHANNEL], pairs[TO_CHANNEL], normalize="index")


def switching_summary(transactions: pd.DataFrame, as_of=None) -> pd.Series:
    """How multichannel the customers are.

    * ``switching_rate``: share of consecutive order pairs in different channels;
    * ``multichannel_share``: share of customers with two or more orders who
      used two or more channels;
    * ``repeat_customers``: customers with two or more orders.
    """
    _need_channel(transactions)
    orders = _orders(transactions, as_of).dropna(subset=[s.CHANNEL])
    same = orders[s.CUSTOMER_ID] == orders[s.CUSTOMER_ID].shift(-1)
    switched = orders[s.CHANNEL] != orders[s.CHANNEL].shift(-1)
    n_orders = orders.groupby(s.CUSTOMER_ID).size()
    repeaters = n_orders[n_orders >= 2].index
    channels = orders.groupby(s.CUSTOMER_ID)[s.CHANNEL].nunique().reindex(repeaters)
    return pd.Series(
        {
            "switching_rate": float(switched[same].mean()) if same.any() else np.nan,
            "multichannel_share": float((channels >= 2).mean()) if len(repeaters) else np.nan,
            "repeat_customers": float(len(repeaters)),
        }
    )


def experience_by_channel(
    tickets: pd.DataFrame | None = None,
    surveys: pd.DataFrame | None = None,
    transactions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The experience each channel gives: CSAT of its service contacts, NPS of its buyers.

    * CSAT by the channel of the service ticket (:func:`crmlib.analytics.experience.csat_table`);
    * NPS by the respondent's main purchase channel (:func:`crmlib.analytics.experience.nps_table`
      with :func:`crmlib.analytics.experience.main_channel`).

    An integrated, consistent experience across channels is the aim of Payne
    & Frow's multichannel integration process (Payne & Frow 2005, *Journal
    of Marketing* 69(4)): a channel far below the others is where it breaks
    (:func:`integration_breaks`).

    Returns
    -------
    DataFrame
        Index channel; columns csat_answers, mean_csat, satisfied (tickets),
        nps_answers, nps (surveys and purchase channels); NaN where a channel
        has no such answers.
    """
    parts = []
    if tickets is not None and len(tickets) and {s.CSAT, s.CHANNEL} <= set(tickets.columns):
        csat = experience.csat_table(tickets, by=s.CHANNEL)
        parts.append(csat[[qci.N, MEAN_CSAT, SATISFIED]].rename(columns={qci.N: CSAT_ANSWERS}))
    if (
        surveys is not None
        and len(surveys)
        and transactions is not None
        and s.CHANNEL in transactions.columns
        and transactions[s.CHANNEL].notna().any()
    ):
        table = experience.nps_table(surveys, by=experience.main_channel(transactions))
        parts.append(table[[qci.N, s.NPS]].rename(columns={qci.N: NPS_ANSWERS}))
    if not parts:
        raise DataError(
            "neither tickets with csat and channel nor surveys with purchase channels are "
            "available: the experience by channel cannot be measured"
        )
    out = pd.concat(parts, axis=1)
    out = out.drop(index=[experience.UNKNOWN], errors="ignore")
    out.index.name = s.CHANNEL
    return out


def integration_breaks(
    experience: pd.DataFrame,
    csat_gap: float = 0.3,
    nps_gap: float = 10.0,
    min_answers: int = 30,
) -> pd.DataFrame:
    """Channels whose experience lags the best channel by more than a tolerance.

    For each measure (mean CSAT, NPS), channels with at least ``min_answers``
    answers are compared with the best of them; a channel more than
    ``csat_gap`` CSAT points or ``nps_gap`` NPS points below it is where the
    multichannel experience breaks (Payne & Frow 2005). The tolerances are
    the workbook's rules of thumb: about a third of a point on a 1-5 scale
    and 10 NPS points, larger than the sampling noise of a few hundred answers.

    Returns
    -------
    DataFrame
        Columns measure, channel, value, best_channel, best_value, gap (best
        - value); empty when every channel is within the tolerance.
    """
    rows = []
    for measure, count, tolerance in (
        (MEAN_CSAT, CSAT_ANSWERS, csat_gap),
        (s.NPS, NPS_ANSWERS, nps_gap),
    ):
        if measure not in experience.columns:
            continue
        judged = experience.loc[experience[count] >= min_answers, measure].dropna()
        if len(judged) < 2:
            continue
        best = judged.idxmax()
        for channel, value in judged.items():
            gap = float(judged[best] - value)
            if gap > tolerance:
                rows.append(
                    {
                        MEASURE: measure,
                        s.CHANNEL: channel,
                        VALUE: float(value),
                        BEST_CHANNEL: best,
                        BEST_VALUE: float(judged[best]),
                        GAP: gap,
                    }
                )
    columns = [MEASURE, s.CHANNEL, VALUE, BEST_CHANNEL, BEST_VALUE, GAP]
    return pd.DataFrame(rows, columns=columns).sort_values(GAP, ascending=False, ignore_index=True)


# =========================================================================================
# Information management: the data-quality audit
# =========================================================================================


@dataclass
class DataQualityAudit:
    """A data-quality audit of every table of a client folder.

    Attributes
    ----------
    scores : DataFrame
        Index table, columns :data:`DIMENSIONS`: the score from 0 (every row
        fails) to 1 (no row fails); NaN where no check of the dimension applies.
    findings : DataFrame
        One row per check: table, dimension, check, rows (failing), checked
        (rows examined) and score.
    details : DataFrame
        The rows behind every finding: table, dimension, check, key (the
        table's key, or the file's line where it has none), source_row (the
        line in the input file). No personal data.
    duplicate_method : str
        How duplicate customers were found.
    """

    scores: pd.DataFrame
    findings: pd.DataFrame
    details: pd.DataFrame
    duplicate_method: str

    def rows(self, table: str, dimension: str) -> pd.DataFrame:
        """The rows behind the finding of ``table`` on ``dimension``.

        Returns
        -------
        DataFrame
            Columns key, source_row, check; one row per failing row and check.
        """
        if dimension not in DIMENSIONS:
            raise CRMError(f"unknown dimension {dimension!r}; dimensions: {', '.join(DIMENSIONS)}")
        if table not in self.scores.index:
            raise CRMError(
                f"the audit has no table {table!r}; tables: {', '.join(self.scores.index)}"
            )
        hit = (self.details[TABLE] == table) & (self.details[DIMENSION] == dimension)
        return self.details.loc[hit, [KEY, s.SOURCE_ROW, CHECK]].reset_index(drop=True)


def _key_column(table: str, frame: pd.DataFrame) -> str:
    key = s.TABLES[table].key
    return key if key and key in frame.columns else s.SOURCE_ROW


def _timeliness_score(age_days: float, fresh_days: int, stale_days: int) -> float:
    """1 up to ``fresh_days`` old, 0 from ``stale_days``, linear between."""
    if age_days <= fresh_days:
        return 1.0
    if age_days >= stale_days:
        return 0.0
    return 1.0 - (age_days - fresh_days) / (stale_days - fresh_days)


class _Findings:
    """Collects the checks of an audit: one summary row per check, one detail row per row hit."""

    def __init__(self):
        self.summary: list[dict] = []
        self.rows: list[pd.DataFrame] = []

    def add(self, table, dimension, check, keys, source_rows, checked, failing=None, score=None):
        """One check of ``table``: the rows it hit and the rows it examined.

        ``check`` is one label, or one label per row hit; ``failing`` (default:
        the distinct rows hit) and ``score`` (default: 1 - failing / checked)
        may be given where the rule counts otherwise.
        """
        source_rows = np.asarray(source_rows)
        if failing is None:
            failing = len(pd.unique(source_rows))
        if score is None:
            score = 1.0 - failing / checked if checked else np.nan
        self.summary.append(
            {
                TABLE: table,
                DIMENSION: dimension,
                CHECK: check if isinstance(check, str) else _summary_label(dimension),
                ROWS: int(failing),
                CHECKED: int(checked),
                SCORE: float(score),
            }
        )
        if len(source_rows):
            self.rows.append(
                pd.DataFrame(
                    {
                        TABLE: table,
                        DIMENSION: dimension,
                        CHECK: check if isinstance(check, str) else list(check),
                        KEY: pd.Series(list(keys), dtype="object"),
                        s.SOURCE_ROW: source_rows,
                    }
                )
            )

    def details(self) -> pd.DataFrame:
        columns = [TABLE, DIMENSION, CHECK, KEY, s.SOURCE_ROW]
        if not self.rows:
            return pd.DataFrame(columns=columns)
        return pd.concat(self.rows, ignore_index=True)[columns]


def _summary_label(dimension: str) -> str:
    return {
        COMPLETENESS: "empty values",
        UNIQUENESS: "duplicate records",
        VALIDITY: "rejected on loading",
    }.get(dimension, dimension)


def audit_data_quality(
    data,
    clusters: pd.DataFrame | None = None,
    link_people: bool = True,
    fresh_days: int = 31,
    stale_days: int = 365,
) -> DataQualityAudit:
    """Score every table on completeness, uniqueness, validity, consistency and timeliness.

    Payne & Frow's information management process rests on the quality of
    the customer data repository (Payne & Frow 2005, *Journal of
    Marketing* 69(4)); the five dimensions are the usual ones of data-quality
    assessment (Wang & Strong 1996, "Beyond accuracy: what data quality means
    to data consumers", *Journal of Management Information Systems* 12(4);
    Batini, Cappiello, Francalanci & Maurino 2009, "Methodologies for data
    quality assessment and improvement", *ACM Computing Surveys* 41(3)).
    Every score is ``1 - failing rows / rows checked``:

    completeness
        Rows of the table with an empty value in a column of the data
        contract, except the columns of :data:`MAY_BE_EMPTY`; over accepted rows.
    uniqueness
        Rows rejected on loading as exact copies or repeated keys (crmlib.data.io),
        and, for customers, the records beyond the first of each person
        (``records - persons``): persons come from ``clusters`` (e.g.
        :attr:`crmlib.models.idic.DuplicateFinder.clusters_`), else from
        :func:`crmlib.models.idic.find_duplicates` when ``link_people`` (splink),
        else only exact keys count. Over the rows read. Every record of a
        person with several is listed as a row behind the finding.
    validity
        Rows rejected on loading for any other reason (unparseable, out of
        range, malformed e-mail ...: the rejects of :mod:`crmlib.data.io`); over the
        rows read. Rows rejected only for being dated after the as-of date
        lie outside the window observed and count nowhere.
    consistency
        Rows that disagree with another table or with themselves: a customer
        id not in customers, a product not in products, a campaign not in
        campaigns, a ticket closed before it was opened, a campaign ending
        before it starts, a customer signed up after their first order, a
        record dated after the as-of date; over accepted rows.
    timeliness
        Age of the newest record against the as-of date: 1 up to
        ``fresh_days``, 0 from ``stale_days``, linear between; the row behind
        it is the newest record. Only the tables a live system feeds every
        day (:data:`FEED_TABLES`) are judged.

    Parameters
    ----------
    data : crmlib.data.io.ClientData
    clusters : DataFrame, optional
        Index customer_id with ``cluster_id``: the person of each record.
    link_people : bool, default True
    fresh_days, stale_days : int

    Returns
    -------
    DataQualityAudit
    """
    if not (0 <= fresh_days < stale_days):
        raise CRMError(
            f"fresh_days must be >= 0 and below stale_days, not {fresh_days} and {stale_days}"
        )
    when = pd.Timestamp(data.as_of).normalize()
    person_of, method = _persons(data, clusters, link_people)
    reasons = data.rejects["reason"].astype("str")
    # a row rejected for being dated after the as-of date lies outside the window: no defect
    later = reasons.str.startswith(OUT_OF_WINDOW)
    found = _Findings()
    tables = [name for name in data.tables if name in s.TABLES]
    for table in tables:
        frame = data.tables[table]
        key = _key_column(table, frame)
        mine = data.rejects["table"] == table
        read = data.reports[table].rows if table in data.reports else len(frame)
        read -= data.rejects.loc[mine & later, "row"].nunique()
        rejected = data.rejects.loc[mine & ~later]
        duplicate = rejected["reason"].astype("str").str.startswith("duplicate")

        _completeness(found, table, frame, key)
        _uniqueness(found, table, frame, key, rejected[duplicate], read, person_of)
        invalid = rejected[~duplicate]
        found.add(table, VALIDITY, invalid["reason"], [None] * len(invalid), invalid["row"], read)
        _consistency(found, data, table, frame, key, when)
        _timeliness(found, table, frame, key, when, fresh_days, stale_days)

    summary = pd.DataFrame(found.summary, columns=[TABLE, DIMENSION, CHECK, ROWS, CHECKED, SCORE])
    details = found.details()
    return DataQualityAudit(_dimension_scores(summary, details, tables), summary, details, method)


def _persons(data, clusters, link_people: bool) -> tuple[pd.Series | None, str]:
    """The person of each customer record, and how it was found."""
    if not data.has("customers"):
        return None, "exact keys only (no customers table)"
    if clusters is not None:
        from crmlib.models import idic

        if not isinstance(clusters, pd.DataFrame) or idic.CLUSTER_ID not in clusters.columns:
            raise CRMError(
                "clusters must be a DataFrame indexed by customer_id with a cluster_id column "
                "(crmlib.models.idic.DuplicateFinder.clusters_)"
            )
        return clusters[idic.CLUSTER_ID], "the person clusters given"
    customers = data.tables["customers"]
    if link_people and {s.NAME, s.EMAIL, s.PHONE} & set(customers.columns):
        from crmlib.models import idic

        try:
            finder = idic.find_duplicates(customers)
        except CRMError as exc:
            return None, f"exact keys only (record linkage not possible: {exc})"
        return finder.clusters_[idic.CLUSTER_ID], (
            "splink record linkage (crmlib.models.idic.find_duplicates)"
        )
    return None, "exact keys only"


def _completeness(found: _Findings, table: str, frame: pd.DataFrame, key: str) -> None:
    columns = [
        c for c in s.TABLES[table].names if c in frame.columns and (table, c) not in MAY_BE_EMPTY
    ]
    empty = frame[columns].isna()
    failing = empty.any(axis=1)
    labels = [
        "missing " + ", ".join(c for c, e in zip(columns, row, strict=True) if e)
        for row in empty.loc[failing].to_numpy()
    ]
    rows = frame.loc[failing]
    found.add(table, COMPLETENESS, labels, rows[key], rows[s.SOURCE_ROW], len(frame))


def _uniqueness(found, table, frame, key, duplicates, read, person_of) -> None:
    """Rejected copies and repeated keys; for customers also the records of one person."""
    checks = list(duplicates["reason"])
    keys = [None] * len(duplicates)  # a rejected row is not in the table: its line says where
    rows = list(duplicates["row"])
    surplus = 0
    if table == "customers" and person_of is not None:
        person = frame[s.CUSTOMER_ID].map(person_of.astype("object"))
        person = person.where(person.notna(), frame[s.CUSTOMER_ID])
        shared = person.map(person.value_counts()) > 1
        surplus = int(len(frame) - person.nunique())  # records beyond the first of each person
        checks += [f"same person as record {p}" for p in person[shared]]
        keys += list(frame.loc[shared, key])
        rows += list(frame.loc[shared, s.SOURCE_ROW])
    failing = duplicates["row"].nunique() + surplus
    found.add(table, UNIQUENESS, checks, keys, rows, read, failing=failing)


def _consistency(found, data, table: str, frame: pd.DataFrame, key: str, when) -> None:
    """Add the consistency checks that apply to ``table``, one finding per check."""
    checks = []
    if table in CUSTOMER_TABLES and data.has("customers") and s.CUSTOMER_ID in frame.columns:
        known = frame[s.CUSTOMER_ID].isin(data.tables["customers"][s.CUSTOMER_ID])
        checks.append(("customer not in customers", ~known))
    if table == "transactions" and data.has("products") and s.PRODUCT_ID in frame.columns:
        listed = frame[s.PRODUCT_ID].isin(data.tables["products"][s.PRODUCT_ID])
        checks.append(("product not in products", frame[s.PRODUCT_ID].notna() & ~listed))
    if table == "interactions" and data.has("campaigns") and s.CAMPAIGN_ID in frame.columns:
        listed = frame[s.CAMPAIGN_ID].isin(data.tables["campaigns"][s.CAMPAIGN_ID])
        checks.append(("campaign not in campaigns", frame[s.CAMPAIGN_ID].notna() & ~listed))
    if table == "tickets" and {s.OPENED_AT, s.CLOSED_AT} <= set(frame.columns):
        checks.append(("closed before opened", frame[s.CLOSED_AT] < frame[s.OPENED_AT]))
    if table == "campaigns" and {s.START_DATE, s.END_DATE} <= set(frame.columns):
        checks.append(("ends before it starts", frame[s.END_DATE] < frame[s.START_DATE]))
    if table == "customers" and s.SIGNUP_DATE in frame.columns:
        first = data.transactions.groupby(s.CUSTOMER_ID)[s.ORDER_DATE].min()
        late = frame[s.SIGNUP_DATE] > frame[s.CUSTOMER_ID].map(first)
        checks.append(("signed up after their first order", late))
    date = DATE_COLUMNS.get(table)
    if date in frame.columns:
        checks.append(("dated after the as-of date", frame[date].dt.normalize() > when))
    for name, failing in checks:
        rows = frame.loc[failing.fillna(False).astype(bool)]
        found.add(table, CONSISTENCY, name, rows[key], rows[s.SOURCE_ROW], len(frame))


def _timeliness(found, table, frame, key, when, fresh_days: int, stale_days: int) -> None:
    """The age of the newest record of a table a live system feeds every day."""
    date = DATE_COLUMNS.get(table) if table in FEED_TABLES else None
    if date not in frame.columns or frame[date].isna().all():
        return
    newest = frame[date].max()
    age = max((when - newest.normalize()).days, 0)
    rows = frame.loc[frame[date] == newest]
    found.add(
        table,
        TIMELINESS,
        f"newest record {age} days before the as-of date",
        rows[key],
        rows[s.SOURCE_ROW],
        len(frame),
        failing=len(rows),
        score=_timeliness_score(age, fresh_days, stale_days),
    )


def _dimension_scores(found: pd.DataFrame, details: pd.DataFrame, tables: list[str]):
    """Per table and dimension: 1 - rows failing any of its checks / rows checked.

    A row failing two checks counts once (the rows are those of ``details``);
    uniqueness counts the surplus records of ``found``; timeliness keeps its own score.
    """
    out = pd.DataFrame(np.nan, index=pd.Index(tables, name=TABLE), columns=list(DIMENSIONS))
    for (table, dimension), part in found.groupby([TABLE, DIMENSION], sort=False):
        checked = part[CHECKED].max()
        if dimension == TIMELINESS:
            out.loc[table, dimension] = part[SCORE].min()
            continue
        if dimension == UNIQUENESS:
            failing = part[ROWS].sum()
        else:
            mine = details[(details[TABLE] == table) & (details[DIMENSION] == dimension)]
            failing = mine[s.SOURCE_ROW].nunique()
        out.loc[table, dimension] = 1.0 - failing / checked if checked else np.nan
    return out


# =========================================================================================
# Performance assessment
# =========================================================================================


def _period_days(period: pd.Period) -> int:
    return int((period.end_time.normalize() - period.start_time).days + 1)


def kpi_table(
    data, freq: str = "Q", as_of=None, annual_discount_rate: float = 0.10
) -> pd.DataFrame:
    """CRM KPIs per period, from every table the client folder holds.

    Only periods over by ``as_of`` are measured (a part-observed period would
    understate every count). Per period p:

    * ``new_customers``: customers whose first purchase falls in p (acquisition);
    * ``active_customers``: customers with a purchase in p;
    * ``retention_rate``: customers active in both p - 1 and p / customers
      active in p - 1 (NaN for the first period);
    * ``revenue``; ``margin`` = revenue - product cost (NaN without costs);
    * ``cost_to_serve_ratio``: activity-based cost-to-serve of p
      (:func:`crmlib.analytics.costs.cost_by_activity` on the orders, returns, tickets
      and campaign contacts of p) / net revenue of p (cost_rates);
    * ``margin_per_customer``: (revenue - product cost - cost-to-serve, each
      part the data have) / active customers;
    * ``clv``: margin per customer x r / (1 + d - r), the geometric retention
      model of Gupta & Lehmann (2003) with the period's retention r and the
      annual discount rate turned into the period's d (:func:`margin_multiple`);
    * ``acquisition_cost``: cost of the campaigns starting in p / new
      customers of p (campaigns; NaN in a period without campaign spend;
      Farris et al., *Marketing Metrics*, 2010, ch. 5);
    * ``nps`` (surveys dated in p; Reichheld 2003), ``mean_csat`` and
      ``satisfied`` (tickets opened in p);
    * ``share_of_wallet_proxy``: mean over active customers of the product
      categories they bought in p / the categories the catalogue offers
      (products). Share of wallet, the customer's spend with the firm over
      their spend in the category (Du, Kamakura & Mela 2007, "Size and share
      of customer wallet", *Journal of Marketing* 71(2)), needs the spend at
      competitors, which a client's records do not hold: this proxy only says
      how much of the range a customer draws on.

    These are the "results and KPIs" of Payne & Frow's performance monitoring
    (Payne & Frow 2005, *Journal of Marketing* 69(4)).

    Returns
    -------
    DataFrame
        Index ``period`` (its first day); one column per KPI the data allow.
    """
    tx = data.transactions
    bought, when = _purchases(tx, as_of if as_of is not None else data.as_of)
    annual = _check_rate("annual_discount_rate", annual_discount_rate, 0.0, 1.0)
    try:
        period = bought[s.ORDER_DATE].dt.to_period(freq)
    except ValueError:
        raise CRMError(f"freq must be a pandas period such as 'M' or 'Q', not {freq!r}") from None
    kind = period.dt.freq
    last = pd.Period(when, freq=kind)
    if last.end_time.normalize() > when:
        last = last - 1
    periods = pd.period_range(period.min(), last, freq=kind)
    if len(periods) == 0:
        raise DataError(f"transactions: no {freq} period is over by {when:%Y-%m-%d}")
    active = bought.groupby(period)[s.CUSTOMER_ID].agg(set)
    first = period.groupby(bought[s.CUSTOMER_ID]).min()
    lines = tx.loc[tx[s.ORDER_DATE] <= when]
    line_period = lines[s.ORDER_DATE].dt.to_period(kind)
    has_cost = s.COST in lines.columns and lines[s.COST].notna().any()
    rates = data.tables["cost_rates"] if data.has("cost_rates") else None
    tickets = data.tables.get("tickets") if data.has("tickets") else None
    inter = data.tables.get("interactions") if data.has("interactions") else None
    rows = []
    previous = None
    for p in periods:
        now = active.get(p, set())
        row = {PERIOD: p.start_time, NEW: int((first == p).sum()), ACTIVE: len(now)}
        row[RETENTION] = len(now & previous) / len(previous) if previous else np.nan
        in_p = lines.loc[line_period == p]
        row[s.REVENUE] = float(in_p[s.REVENUE].sum())
        product_cost = float(in_p[s.COST].fillna(0.0).sum()) if has_cost else np.nan
        row[s.MARGIN] = row[s.REVENUE] - product_cost
        left = row[s.REVENUE] - (product_cost if has_cost else 0.0)
        if rates is not None:
            start = p.start_time.normalize() - pd.Timedelta(days=1)
            serve = _activity_cost(in_p, rates, tickets, inter, start, p.end_time.normalize())
            row[COST_TO_SERVE] = serve / row[s.REVENUE] if row[s.REVENUE] > 0 else np.nan
            left -= serve
        row[MARGIN_PER_CUSTOMER] = left / len(now) if now else np.nan
        r = row[RETENTION]
        d = (1.0 + annual) ** (_period_days(p) / 365.0) - 1.0
        row[CLV] = row[MARGIN_PER_CUSTOMER] * r / (1.0 + d - r) if 0 <= r < 1 else np.nan
        rows.append(row)
        previous = now
    out = pd.DataFrame(rows).set_index(PERIOD)
    _campaign_kpis(data, out, periods)
    _experience_kpis(data, out, periods)
    _wallet_kpis(data, out, periods, bought, period)
    return out


def _campaign_kpis(data, out: pd.DataFrame, periods) -> None:
    if missing_pieces(data, Need(columns={"campaigns": [s.COST, s.START_DATE]})):
        return  # no acquisition cost column: absent, not 0
    campaigns = data.tables["campaigns"].dropna(subset=[s.COST, s.START_DATE])
    spend = campaigns.groupby(campaigns[s.START_DATE].dt.to_period(periods.freq))[s.COST].sum()
    spend = pd.Series(spend.reindex(periods).to_numpy(), index=out.index)
    out[CAC] = spend.where(spend > 0) / out[NEW].where(out[NEW] > 0)


def _experience_kpis(data, out: pd.DataFrame, periods) -> None:
    if not missing_pieces(data, Need(columns={"surveys": [s.NPS, s.DATE]})):
        surveys = data.tables["surveys"].dropna(subset=[s.DATE])
        by = surveys[s.DATE].dt.to_period(periods.freq)
        out[s.NPS] = [
            experience.nps(surveys.loc[by == p, s.NPS]) if (by == p).any() else np.nan for p in periods
        ]
    if not missing_pieces(data, Need(columns={"tickets": [s.CSAT]})):
        tickets = data.tables["tickets"]
        by = tickets[s.OPENED_AT].dt.to_period(periods.freq)
        answers = [tickets.loc[by == p, s.CSAT].dropna() for p in periods]
        out[MEAN_CSAT] = [a.mean() if len(a) else np.nan for a in answers]
        out[SATISFIED] = [(a >= experience.SATISFIED_MIN).mean() if len(a) else np.nan for a in answers]


def _wallet_kpis(data, out: pd.DataFrame, periods, bought, period) -> None:
    if not data.has("products") or s.PRODUCT_ID not in bought.columns:
        return
    products = data.tables["products"]
    if s.CATEGORY not in products.columns or products[s.CATEGORY].isna().all():
        return
    category_of = products.drop_duplicates(s.PRODUCT_ID).set_index(s.PRODUCT_ID)[s.CATEGORY]
    offered = category_of.nunique()
    category = bought[s.PRODUCT_ID].map(category_of)
    frame = pd.DataFrame(
        {PERIOD: period.to_numpy(), s.CUSTOMER_ID: bought[s.CUSTOMER_ID], s.CATEGORY: category}
    ).dropna(subset=[s.CATEGORY])
    per_customer = frame.groupby([PERIOD, s.CUSTOMER_ID])[s.CATEGORY].nunique() / offered
    share = per_customer.groupby(level=PERIOD).mean()
    out[WALLET] = share.reindex(periods).to_numpy()


def rag_status(value, target, tolerance: float = 0.10, higher_is_better: bool = True) -> str:
    """Red, amber or green: a KPI against its target.

    The rule (the workbook's, stated in the lesson): with the band
    ``b = tolerance * |target|``,

    * higher is better: green when value >= target, amber when value >=
      target - b, red below;
    * lower is better: green when value <= target, amber when value <=
      target + b, red above;
    * ``"no data"`` when the value or the target is missing.

    A target of 0 has no amber band. Targets and tolerances are the
    "standards" of Payne & Frow's performance monitoring (Payne & Frow 2005).
    """
    tolerance = _check_rate("tolerance", tolerance, 0.0, 1.0, high_open=False)
    try:
        value, target = float(value), float(target)
    except (TypeError, ValueError):
        return NO_DATA
    if not (math.isfinite(value) and math.isfinite(target)):
        return NO_DATA
    band = tolerance * abs(target)
    if higher_is_better:
        return GREEN if value >= target else AMBER if value >= target - band else RED
    return GREEN if value <= target else AMBER if value <= target + band else RED


def scorecard(kpis: pd.DataFrame, targets: dict, tolerance: float = 0.10) -> pd.DataFrame:
    """The CRM KPI scorecard: latest value, trend, target and red/amber/green status.

    For each KPI with a target: its latest measured value (the last period
    with a value), the value of the period before, the change between them,
    and the status of :func:`rag_status` (lower is better for
    :data:`LOWER_IS_BETTER`).

    Parameters
    ----------
    kpis : DataFrame
        From :func:`kpi_table`.
    targets : dict
        KPI column -> target value, e.g. ``{"retention_rate": 0.6, "nps": 20}``.
    tolerance : float, default 0.10
        The amber band as a share of the target.

    Returns
    -------
    DataFrame
        Index kpi; columns label, period, value, previous, change, target,
        direction, status. KPIs the data do not measure show ``"no data"``.
    """
    unknown = sorted(set(targets) - set(KPI_LABELS))
    if unknown:
        raise CRMError(f"no KPI called {unknown[0]!r}; the KPIs: {', '.join(KPI_LABELS)}")
    rows = []
    for kpi, target in targets.items():
        series = kpis[kpi].dropna() if kpi in kpis.columns else pd.Series(dtype=float)
        latest = float(series.iloc[-1]) if len(series) else np.nan
        before = float(series.iloc[-2]) if len(series) > 1 else np.nan
        higher = kpi not in LOWER_IS_BETTER
        rows.append(
            {
                KPI: kpi,
                LABEL: KPI_LABELS[kpi],
                PERIOD: series.index[-1] if len(series) else pd.NaT,
                VALUE: latest,
                PREVIOUS: before,
                CHANGE: latest - before,
                TARGET: float(target) if target is not None else np.nan,
                DIRECTION: "higher is better" if higher else "lower is better",
                STATUS: rag_status(latest, target, tolerance, higher),
            }
        )
    columns = [KPI, LABEL, PERIOD, VALUE, PREVIOUS, CHANGE, TARGET, DIRECTION, STATUS]
    return pd.DataFrame(rows, columns=columns).set_index(KPI)


def value_after_survey(
    surveys: pd.DataFrame, transactions: pd.DataFrame, days: int = 365, as_of=None
) -> pd.DataFrame:
    """What customers did after answering the survey, by NPS class: the link to money.

    For each answer at least ``days`` before ``as_of``: whether the customer
    bought again in the ``days`` after it (:func:`crmlib.analytics.experience.retention_after`)
    and the net revenue they brought in that time. Payne & Frow's
    performance assessment asks how customer measures drive shareholder
    results (Payne & Frow 2005); Reichheld (2003) claimed NPS predicts growth,
    Keiningham et al. (2007, *Journal of Marketing* 71(3)) found it no better
    than other measures: this table shows the association in the client's
    own data, not an effect.

    Returns
    -------
    DataFrame
        Index nps_class (promoters, passives, detractors); columns n,
        retained (share) and revenue_after (mean per answer).
    """
    _need(surveys, "surveys", (s.RESPONSE_ID, s.CUSTOMER_ID, s.DATE, s.NPS))
    when = _as_of(transactions, as_of)
    events = surveys.dropna(subset=[s.NPS, s.DATE]).assign(
        **{qci.NPS_CLASS: lambda f: experience.nps_class(f[s.NPS])}
    )
    retained = experience.retention_after(
        events, transactions, by=qci.NPS_CLASS, date=s.DATE, inactivity_days=days, as_of=when
    )
    judged = events.loc[events[s.DATE].dt.normalize() + pd.Timedelta(days=days) <= when]
    lines = transactions.loc[
        transactions[s.ORDER_DATE] <= when, [s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE]
    ]
    pairs = judged[[s.RESPONSE_ID, s.CUSTOMER_ID, s.DATE]].merge(lines, on=s.CUSTOMER_ID)
    start = pairs[s.DATE].dt.normalize()
    inside = (pairs[s.ORDER_DATE] > start) & (
        pairs[s.ORDER_DATE] <= start + pd.Timedelta(days=days)
    )
    revenue = pairs.loc[inside].groupby(s.RESPONSE_ID)[s.REVENUE].sum()
    per_answer = judged[s.RESPONSE_ID].map(revenue).fillna(0.0)
    mean = per_answer.groupby(judged[qci.NPS_CLASS].to_numpy()).mean()
    out = retained.copy()
    out[REVENUE_AFTER] = mean.reindex(out.index)
    order = [c for c in (experience.PROMOTERS, experience.PASSIVES, experience.DETRACTORS) if c in out.index]
    return out.loc[order]


# =========================================================================================
# Implementation
# =========================================================================================


def readiness_actions(result: AssessmentResult) -> pd.DataFrame:
    """Each implementation factor's stage, its distance to "ready" and the action it calls for.

    The four factors are Payne & Frow's (2006), "Customer relationship
    management: from strategy to implementation", *Journal of Marketing
    Management* 22(1-2), 135-168: CRM readiness assessment, CRM change
    management, CRM project management and employee engagement. Scores,
    stages and actions come from the ``payne_frow_readiness`` bank through
    :func:`crmlib.analytics.assessment.score`; the gap to ready is the lower bound of
    the bank's last stage minus the reality score (0 when reached).

    Returns
    -------
    DataFrame
        Index area, in priority order; columns rank, name, reality, stage,
        gap_to_ready, action (``"keep it up"`` for a factor already ready).
    """
    if not isinstance(result, AssessmentResult):
        raise CRMError("readiness_actions needs the AssessmentResult of crmlib.analytics.assessment.score")
    stages = result.bank.stages
    if not stages:
        raise CRMError(f"the '{result.bank.id}' bank has no stages, so there is no 'ready'")
    ready_at, ready = stages[-1]
    table = result.priorities[[RANK, NAME, s.REALITY, STAGE, PRIORITY, ACTION]].copy()
    table[GAP_TO_READY] = (ready_at - table[s.REALITY]).clip(lower=0.0)
    table[ACTION] = table[ACTION].where(table[STAGE] != ready, "keep it up")
    return table[[RANK, NAME, s.REALITY, STAGE, GAP_TO_READY, ACTION]]
