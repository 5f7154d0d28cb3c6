"""Value creation: value by segment, acquisition cost, CLV/CAC, customer equity and
retention economics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.analytics import acquisition, costs, experience
from crmlib.analytics import profitability as prof
from crmlib.analytics.orders import purchase_lines as _purchases
from crmlib.data import schema as s
from crmlib.data.checks import as_of_date as _as_of
from crmlib.data.checks import need_columns as _need
from crmlib.errors import CRMError, DataError
from crmlib.models.payne_frow._common import (
    CLV_MEAN,
    CLV_SHARE,
    CLV_TOTAL,
    COST_TO_SERVE_PER_CUSTOMER,
    CSAT_ANSWERS,
    CUSTOMERS,
    MEAN_CSAT,
    PROFIT_PER_CUSTOMER,
    RESPONDENTS,
    SATISFIED,
    SEGMENT,
    TOP_NEED,
    UNASSIGNED,
    _check_rate,
    _labels,
)

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
        out[CSAT_ANSWERS] = csat[experience.N].reindex(out.index)
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
    :func:`crmlib.analytics.profitability.customer_profitability`: revenue - product cost
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
        _need(profitability, "profitability", (prof.PROFIT, prof.COST_TO_SERVE))
        known = profitability.reindex(clv.index)
        out[PROFIT_PER_CUSTOMER] = known[prof.PROFIT].groupby(segment).mean()
        out[COST_TO_SERVE_PER_CUSTOMER] = known[prof.COST_TO_SERVE].groupby(segment).mean()
    out.index.name = SEGMENT
    return out.sort_values(CLV_TOTAL, ascending=False, kind="stable")


def acquisition_cost(transactions: pd.DataFrame, campaigns: pd.DataFrame, as_of=None) -> float:
    """Blended acquisition cost: campaign spend per new customer since the first campaign.

    ``CAC = sum of campaign costs / new customers``, both counted from the
    month of the first campaign with a cost to ``as_of`` (campaigns starting
    later are left out): the average acquisition cost of Farris, Bendle,
    Pfeifer & Reibstein, *Marketing Metrics*, 2nd ed., Pearson 2010, ch. 5,
    through :func:`crmlib.analytics.acquisition.cost_per_acquisition`: only the campaigns
    whose objective is acquisition when the campaigns table says so, else every campaign
    (also those meant to retain), an upper bound.
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


@dataclass
class NewCustomerEconomics:
    """What a new customer is worth against what one costs to acquire.

    Attributes
    ----------
    value : float
        Expected value of a new customer over the horizon
        (:meth:`crmlib.analytics.clv.CLVPipeline.new_customer_value`, first order included).
    first_order_margin : float
    horizon_months : int
    acquisition : crmlib.analytics.acquisition.AcquisitionSpend
    ratio : float or None
        value / acquisition cost per new customer; None when the data do not support it.
    reason : str or None
        Why there is no ratio, in one sentence.
    """

    value: float
    first_order_margin: float
    horizon_months: int
    acquisition: acquisition.AcquisitionSpend
    ratio: float | None
    reason: str | None


def new_customer_economics(
    pipeline, transactions: pd.DataFrame, campaigns: pd.DataFrame | None, as_of=None
) -> NewCustomerEconomics:
    """CLV/CAC on one basis: a *new* customer's expected value against acquisition spend.

    value = :func:`crmlib.analytics.acquisition.first_order_margin` (less the
    mean cost-to-serve of an order) + the fitted pipeline's expected margin of
    a new customer's repeat purchases over its horizon, discounted
    (:meth:`crmlib.analytics.clv.CLVPipeline.new_customer_value`: Fader, Hardie
    & Lee 2005a E[X(t)] x the Gamma-Gamma mean spend); acquisition cost =
    acquisition campaigns' spend / new customers over the same number of
    months (:func:`crmlib.analytics.acquisition.acquisition_spend`). Gupta &
    Lehmann (2003) compare the same two quantities as a difference. The
    ratio is None, with the reason, when the data hold no objective for the
    campaigns or only part of the period's acquisition spend.
    """
    first = acquisition.first_order_margin(
        transactions, cost_per_order=pipeline.mean_cost_per_order_, as_of=as_of
    )
    value = pipeline.new_customer_value(first_order_margin=first)
    spend = acquisition.acquisition_spend(
        transactions, campaigns, as_of=as_of, months=pipeline.horizon_months
    )
    cac = spend.cost_per_new_customer
    ratio = float(clv_to_cac(value, cac)) if cac else None
    reason = spend.reason if cac is None else None
    if cac == 0:
        reason = "The acquisition campaigns cost nothing, so there is no ratio."
    return NewCustomerEconomics(value, first, int(pipeline.horizon_months), spend, ratio, reason)


def clv_to_cac(clv, cac: float):
    """CLV / CAC: what a customer is worth for each unit spent to acquire one.

    Use the value of a *new* customer (:func:`new_customer_economics`), not the
    CLV of the existing base: existing customers have already survived the
    early churn a new one faces.

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
