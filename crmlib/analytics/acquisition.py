"""Acquisition: new customers per period, cost per acquisition, and what a first order leaves.

Shared by QCi's acquisition component and Payne & Frow's acquisition cost KPI and CLV/CAC:
:func:`acquisition_spend` counts only the campaigns whose ``objective`` is
"acquisition" and says, in one sentence, when the data cannot support a cost per
new customer; :func:`first_order_margin` is the first order's part of a new
customer's value (:meth:`crmlib.analytics.clv.CLVPipeline.new_customer_value`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.analytics.experience import ALL_CHANNELS, UNKNOWN
from crmlib.analytics.orders import purchase_lines as _purchases
from crmlib.analytics.periods import period_coverage
from crmlib.data import schema as s
from crmlib.data.checks import need_columns as _need
from crmlib.errors import CRMError

# --- acquisition ----------------------------------------------------------------------


# --- names this module defines ---------------------------------------------
PERIOD = "period"
CAMPAIGN_COST = "campaign_cost"
NEW_CUSTOMERS = "new_customers"
COST_PER_NEW_CUSTOMER = "cost_per_new_customer"
def _periods(dates: pd.Series, freq: str) -> pd.Series:
    try:
        return dates.dt.to_period(freq)
    except ValueError:
        raise CRMError(
            f"freq must be a pandas period such as 'M', 'Q' or 'W', not {freq!r}"
        ) from None


def new_customers(
    transactions: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    freq: str = "M",
    as_of=None,
    complete_only: bool = False,
) -> pd.DataFrame:
    """New customers per period and acquisition channel.

    A customer is *new* in the period of their first purchase. The channel is
    ``customers.acquisition_channel`` when the customers table has it, else the
    channel of the first purchase (``transactions.channel``), else ``"all"``.
    Acquisition is the "A" of REAP (Woodcock, Stone & Foss 2003, ch. 1).

    Parameters
    ----------
    transactions : DataFrame
        Order lines (customer_id, order_date, revenue; channel when present).
    customers : DataFrame, optional
        The customers table; its ``acquisition_channel`` names the channel.
    freq : str, default "M"
        A pandas period: "M" month, "Q" quarter, "W" week.
    as_of : date-like, optional
    complete_only : bool, default False
        Leave out a first or last period the data cover only in part
        (:func:`crmlib.analytics.periods.period_coverage`: the data start after its first
        day, or ``as_of`` falls before its last): a part-observed period
        understates its count.

    Returns
    -------
    DataFrame
        Index ``period`` (the period's first day), from the first purchase's
        period to ``as_of``'s, one column per channel (largest first), values
        the number of new customers; periods without one are 0.
    """
    bought, when = _purchases(transactions, as_of)
    first = bought.sort_values(s.ORDER_DATE, kind="stable").drop_duplicates(s.CUSTOMER_ID)
    if customers is not None and s.ACQUISITION_CHANNEL in customers.columns:
        channel_of = customers.drop_duplicates(s.CUSTOMER_ID).set_index(s.CUSTOMER_ID)[
            s.ACQUISITION_CHANNEL
        ]
        channel = first[s.CUSTOMER_ID].map(channel_of)
    elif s.CHANNEL in first.columns:
        channel = first[s.CHANNEL]
    else:
        channel = pd.Series(ALL_CHANNELS, index=first.index)
    channel = channel.astype("object").where(channel.notna(), UNKNOWN)
    period = _periods(first[s.ORDER_DATE], freq)
    counts = pd.crosstab(period.rename(PERIOD), channel.rename(s.CHANNEL))
    last = pd.Period(when, freq=period.dt.freq)
    full = pd.period_range(period.min(), last, freq=period.dt.freq)
    counts = counts.reindex(full, fill_value=0)
    counts.index = counts.index.to_timestamp()
    counts.index.name = PERIOD
    counts.columns.name = s.CHANNEL
    order = counts.sum().sort_values(ascending=False, kind="stable").index
    if complete_only:
        start = transactions[s.ORDER_DATE].min()
        counts = period_coverage(transactions, freq, as_of=when, start=start).complete(counts)
    return counts[order]


def cost_per_acquisition(
    transactions: pd.DataFrame, campaigns: pd.DataFrame, freq: str = "Q", as_of=None
) -> pd.DataFrame:
    """Campaign spend per new customer, period by period (a blended acquisition cost).

    ``cost_per_new_customer = campaign cost of the period / new customers of the
    period``: the average acquisition cost of Farris, Bendle, Pfeifer &
    Reibstein, *Marketing Metrics*, 2nd ed., Pearson 2010, ch. 5 (acquisition
    spending / customers acquired). A campaign's cost counts in the period of
    its ``start_date``. When the campaigns table has an ``objective`` column,
    only the campaigns meant to acquire (objective ``acquisition``) count, as
    in :func:`acquisition_spend`; without it the table does not say which spend
    was meant for acquisition and which for retention, so every campaign
    counts and the figure is an upper bound on the true acquisition cost.

    Parameters
    ----------
    transactions : DataFrame
    campaigns : DataFrame
        With ``cost`` and ``start_date``; rows without either are left out.
    freq : str, default "Q"
    as_of : date-like, optional

    Returns
    -------
    DataFrame
        Index ``period``; columns campaign_cost, new_customers,
        cost_per_new_customer (NaN in a period without new customers).
    """
    _need(campaigns, "campaigns", (s.COST, s.START_DATE))
    new = new_customers(transactions, freq=freq, as_of=as_of).sum(axis=1)
    costed = campaigns.dropna(subset=[s.COST, s.START_DATE])
    if _states_objective(campaigns):
        costed = costed.loc[_acquiring(costed)]
    period = _periods(costed[s.START_DATE], freq).dt.to_timestamp()
    spend = costed.groupby(period)[s.COST].sum()
    index = new.index.union(spend.index)
    out = pd.DataFrame(
        {
            CAMPAIGN_COST: spend.reindex(index, fill_value=0.0),
            NEW_CUSTOMERS: new.reindex(index, fill_value=0).astype(int),
        }
    )
    out[COST_PER_NEW_CUSTOMER] = out[CAMPAIGN_COST] / out[NEW_CUSTOMERS].where(
        out[NEW_CUSTOMERS] > 0
    )
    out.index.name = PERIOD
    return out


ACQUISITION = "acquisition"  # the campaigns.objective of campaigns meant to win new customers


def _states_objective(campaigns: pd.DataFrame) -> bool:
    """True when the campaigns table says what at least one campaign was for."""
    return s.OBJECTIVE in campaigns.columns and bool(campaigns[s.OBJECTIVE].notna().any())


def _acquiring(campaigns: pd.DataFrame) -> pd.Series:
    """Which campaigns were meant to win new customers (objective "acquisition")."""
    return campaigns[s.OBJECTIVE].astype(str) == ACQUISITION


@dataclass(frozen=True)
class AcquisitionSpend:
    """Acquisition spend and new customers over a window, and the cost per new customer.

    Attributes
    ----------
    start, end : pandas.Timestamp
        The window: after ``start``, up to ``end`` inclusive.
    spend : float or None
        Cost of the acquisition campaigns that started in the window.
    new_customers : int or None
        Customers whose first purchase falls in the window.
    cost_per_new_customer : float or None
        spend / new customers; None when the data cannot support it.
    reason : str or None
        One sentence on why there is no cost per new customer (None when there is one).
    """

    start: pd.Timestamp
    end: pd.Timestamp
    spend: float | None
    new_customers: int | None
    cost_per_new_customer: float | None
    reason: str | None


def acquisition_spend(
    transactions: pd.DataFrame, campaigns: pd.DataFrame | None, as_of=None, months: int = 12
) -> AcquisitionSpend:
    """Cost per new customer from the campaigns meant to acquire, over the last ``months`` months.

    ``cost per new customer = cost of campaigns with objective "acquisition"
    started in the window / customers whose first purchase is in the window``
    (the average acquisition cost of Farris, Bendle, Pfeifer & Reibstein,
    *Marketing Metrics*, 2nd ed. 2010, ch. 5: acquisition spending / customers
    acquired). The figure is given only when the data support it; otherwise
    ``reason`` says why in one sentence:

    - no campaigns table, or no ``cost`` or ``start_date``;
    - no ``objective`` column: acquisition spend cannot be told apart from
      spend on keeping or developing customers (counting all of it, as a
      blended figure does, overstates the acquisition cost by an unknown amount);
    - an acquisition campaign in the window without a cost, or months of the
      window with no acquisition campaign running (from ``start_date`` to
      ``end_date``): the spend behind the window's new customers is only partly
      recorded;
    - no new customer in the window.

    Parameters
    ----------
    transactions : DataFrame
    campaigns : DataFrame or None
    as_of : date-like, optional
        End of the window; default the last order date.
    months : int, default 12
    """
    _, when = _purchases(transactions, as_of)
    start = when - pd.DateOffset(months=int(months))

    def none(reason: str, spend=None, new=None) -> AcquisitionSpend:
        return AcquisitionSpend(start, when, spend, new, None, reason)

    if campaigns is None or not {s.COST, s.START_DATE} <= set(campaigns.columns):
        return none("There is no campaign cost with a start date, so acquisition spend is unknown.")
    if not _states_objective(campaigns):
        return none(
            "The campaigns table does not say which campaigns were meant to acquire customers "
            "(no objective column), so acquisition spend cannot be separated from the rest."
        )
    inside = (campaigns[s.START_DATE] > start) & (campaigns[s.START_DATE] <= when)
    acquiring = campaigns.loc[inside & _acquiring(campaigns)]
    if acquiring.empty:
        return none(f"No acquisition campaign started in the {months} months to {when:%Y-%m-%d}.")
    if acquiring[s.COST].isna().any():
        return none(
            f"{int(acquiring[s.COST].isna().sum())} acquisition campaign(s) in the window have "
            "no cost, so acquisition spend is only partly known."
        )
    month = pd.period_range(start + pd.Timedelta(days=1), when, freq="M")
    covered = set()
    ends = acquiring[s.END_DATE] if s.END_DATE in acquiring else acquiring[s.START_DATE]
    for first, last in zip(acquiring[s.START_DATE], ends.fillna(acquiring[s.START_DATE]), strict=True):
        covered.update(pd.period_range(first, max(first, min(last, when)), freq="M"))
    missing = [m for m in month if m not in covered]
    spend = float(acquiring[s.COST].sum())
    bought, _ = _purchases(transactions, when)
    first_day = bought.groupby(s.CUSTOMER_ID)[s.ORDER_DATE].min()
    new = int(((first_day > start) & (first_day <= when)).sum())
    if missing:
        return none(
            f"Acquisition campaigns ran in only {len(month) - len(missing)} of the {len(month)} "
            f"months to {when:%Y-%m-%d}, so the spend behind that period's {new:,} new "
            "customers is only partly recorded.",
            spend,
            new,
        )
    if new == 0:
        return none(f"No customer bought for the first time in the {months} months to {when:%Y-%m-%d}.", spend, 0)
    return AcquisitionSpend(start, when, spend, new, spend / new, None)


def first_order_margin(transactions: pd.DataFrame, cost_per_order: float = 0.0, as_of=None) -> float:
    """What a new customer's first order leaves: mean margin of each customer's first purchase day.

    ``mean over customers of (revenue - product cost of their first purchase
    day) - cost_per_order`` (revenue alone when the data have no cost). It is
    the value received at acquisition, before the repeat purchases the BG/NBD
    model counts (Fader, Hardie & Lee 2005a: X(t) counts repeat purchases only).
    """
    bought, _ = _purchases(transactions, as_of)
    day = bought[s.ORDER_DATE].dt.normalize()
    first = day.groupby(bought[s.CUSTOMER_ID]).transform("min")
    lines = bought.loc[day == first]
    margin = lines[s.REVENUE].astype(float)
    if s.COST in lines.columns:
        margin = margin - lines[s.COST].fillna(0.0).astype(float)
    per_customer = margin.groupby(lines[s.CUSTOMER_ID]).sum()
    return float(np.mean(per_customer)) - float(cost_per_order)
