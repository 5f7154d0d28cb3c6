"""Acquisition: new customers per period and cost per acquisition (campaign spend / new customers).

Shared by QCi's acquisition component and Payne & Frow's acquisition cost KPI.
"""

from __future__ import annotations

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
    Acquisition is the "A" of REAP (Woodcock, Starkey & Stone 2003, ch. 1).

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
    its ``start_date``. The campaigns table does not say which spend was meant
    for acquisition and which for retention, so every campaign counts: the
    figure is an upper bound on the true acquisition cost.

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
