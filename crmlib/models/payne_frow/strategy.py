"""Strategy development: segments, segment profiles and the firm's strategic position."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.analytics import segments
from crmlib.analytics.orders import purchase_lines as _purchases
from crmlib.analytics.segments import NOT_SURVEYED
from crmlib.data import schema as s
from crmlib.data.checks import need_columns as _need
from crmlib.errors import CRMError
from crmlib.models.payne_frow._common import (
    AXIS,
    CUSTOMER_SHARE,
    CUSTOMERS,
    EVIDENCE,
    GROWTH,
    INDIVIDUAL_TARGETS,
    INDIVIDUALISATION,
    INFORMATION,
    INFORMATION_TABLES,
    MASS_TARGETS,
    QUADRANTS,
    REVENUE_BEFORE,
    REVENUE_PER_CUSTOMER,
    REVENUE_RECENT,
    REVENUE_SHARE,
    SEGMENT,
    SIGNAL,
    UNASSIGNED,
    VALUE,
    _check_rate,
    _labels,
)

# =========================================================================================
# Strategy development
# =========================================================================================


#: The strategy signals as a client reads them (:func:`strategy_position`'s reasoning).
SIGNAL_LABELS = {
    "customer_tables": "customer tables on file",
    "identified_revenue": "revenue from identified customers",
    "needs_known": "customers with known needs",
    "contact_history": "customers with a contact history",
    "targeted_offers": "targeting of offers",
    "targeted_reach": "customers reached by targeted offers",
}

def default_segments(data) -> tuple[pd.Series, str]:
    """The segmentation the client's data allows, best first, and what it is.

    1. needs segments when surveys hold needs answers: each surveyed
       customer's most important need (:func:`crmlib.analytics.segments.needs_segments`,
       ``"mixed"`` on a tie); buyers without an answer are ``"not surveyed"``;
    2. else the customers table's ``acquisition_channel``;
    3. else value tiers by net revenue to date (:func:`crmlib.analytics.segments.value_tiers`:
       top 20 %, next 30 %, bottom 50 %).

    Returns
    -------
    (Series, str)
        The segment of every buying customer (index customer_id) and a
        sentence saying which segmentation was used.
    """

    bought, _ = _purchases(data.transactions, data.as_of)
    buyers = pd.Index(bought[s.CUSTOMER_ID].unique(), name=s.CUSTOMER_ID)
    surveys = data.table("surveys")
    needs = [c for c in s.NEEDS if surveys is not None and c in surveys.columns]
    if needs and surveys.dropna(subset=needs).shape[0] > 0:
        labels = segments.needs_segments(surveys, columns=needs)
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
    tiers = segments.value_tiers(revenue).astype("object")
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
    surveys = data.table("surveys")
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
    inter = data.table("interactions")
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

    campaigns = data.table("campaigns")
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
            f"{SIGNAL_LABELS.get(r[SIGNAL], r[SIGNAL])} {r[VALUE]:.2f}"
            for _, r in part.iterrows()
            if pd.notna(r[VALUE])
        )
        word = words[0] if means[axis] >= threshold else words[1]
        return f"{axis} {means[axis]:.2f} ({word}; mean of {listed})"

    reasoning = (
        f"{describe(INFORMATION, ('extensive', 'limited'))}; "
        f"{describe(INDIVIDUALISATION, ('high', 'low'))}; "
        f"cut at {threshold:.2f}: {quadrant}."
    )
    return StrategyPosition(info, indiv, quadrant, threshold, reasoning)
