"""Concentration: the top k % of customers and the curve they are read from, defined once.

One rule for "the top share of customers" (:func:`top_count`: the ceil(share x n) customers
with the largest values, ties broken by the order of the index), so that "the top 20 % (N
customers)" is always the group behind the headline share; one concentration curve
(:func:`concentration_curve`) for revenue (the Lorenz-type curve of the foundations lesson) and
for profit (Kaplan & Cooper's whale curve, which rises above 100 % when some customers lose
money).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from crmlib.data import schema as s
from crmlib.errors import CRMError

RANK = "rank"
CUSTOMER_SHARE = "customer_share"
VALUE_SHARE = "value_share"
CUSTOMERS, TOTAL = "customers", "total"
TOP_SHARE, PEAK_SHARE, PEAK_AT = "top_share", "peak_share", "peak_at"
LOSS_MAKING_SHARE, LOSSES_SHARE, GINI = "loss_making_share", "losses_share", "gini"


def top_count(n: int, share: float) -> int:
    """How many customers "the top ``share``" of ``n`` customers is: ceil(share x n).

    The smallest group that holds at least ``share`` of the customers (so the top 20 % of 4
    customers is 1 customer, of 10 it is 2, of 11 it is 3). The product is rounded to 9
    decimals first, so that 0.3 x 10 counts 3 customers, not 4 (floating point makes it
    3.0000000000000004). Every lesson's "top k %" uses this rule.

    Raises
    ------
    CRMError
        ``share`` not in (0, 1].
    """
    if not 0 < share <= 1:
        raise CRMError(f"the top share must lie in (0, 1], not {share!r}")
    return math.ceil(round(share * n, 9))


def top_mask(values: pd.Series, share: float) -> pd.Series:
    """True for the :func:`top_count` largest values (ties in index order), same index."""
    values = pd.Series(values, dtype="float64")
    k = top_count(len(values), share)
    return values.rank(ascending=False, method="first") <= k


def _values(values, what: str = "values") -> pd.Series:
    series = pd.Series(values, dtype="float64").dropna()
    if series.empty:
        raise CRMError(f"there are no {what} to rank")
    return series


def concentration_curve(values) -> pd.DataFrame:
    """Cumulative share of the total against the share of customers, largest value first.

    Point k is ``(k / n, sum of the k largest values / total)``. On revenue this is the
    concentration (Lorenz-type) curve of the 80/20 rule; on profit it is the whale curve of
    Kaplan & Cooper (*Cost & Effect*, Harvard Business School Press 1998): it rises above 1
    while profitable customers are added, peaks where the loss-making ones begin and falls
    back to 1.

    Parameters
    ----------
    values : Series
        One value per customer (index: customer_id); missing values are left out.

    Returns
    -------
    DataFrame
        n + 1 rows from (0, 0): ``rank`` (0..n), ``customer_share``, ``value_share``
        (fractions: 1.0 = 100 %) and ``customer_id`` (None on the first row).

    Raises
    ------
    CRMError
        The total is not positive: shares of a loss are undefined.
    """
    series = _values(values)
    total = float(series.sum())
    if not total > 0:
        raise CRMError(f"the total is {total:,.2f}: a concentration curve needs a positive total")
    ranked = series.sort_values(ascending=False, kind="stable")
    n = len(ranked)
    return pd.DataFrame(
        {
            RANK: np.arange(n + 1),
            CUSTOMER_SHARE: np.arange(n + 1) / n,
            VALUE_SHARE: np.concatenate([[0.0], ranked.cumsum().to_numpy() / total]),
            s.CUSTOMER_ID: [None, *ranked.index],
        }
    )


def top_share(values, share: float = 0.2) -> float:
    """Share of the total held by the top ``share`` of customers (:func:`top_count` of them)."""
    curve = concentration_curve(values)
    return float(curve[VALUE_SHARE].iloc[top_count(len(curve) - 1, share)])


def revenue_concentration(transactions: pd.DataFrame, top: float = 0.2) -> float:
    """Share of net revenue brought by the top ``top`` share of customers.

    Net revenue per customer (returns included), then :func:`top_share`: one point of the
    concentration curve (the "80/20" of Pareto's rule).
    """
    per_customer = transactions.groupby(s.CUSTOMER_ID)[s.REVENUE].sum()
    return top_share(per_customer, top)


def profit_gini(values) -> float:
    """Concentration of profit: a Gini coefficient that stays in [0, 1) with loss-makers.

    ``G = sum_i sum_j |x_i - x_j| / (2 n^2 mean|x|)``, computed on the sorted values as
    ``sum_i (2i - n - 1) x_(i) / (n sum|x|)``. For non-negative values this is Gini's
    coefficient (the mean difference over twice the mean: Gini 1912, "Variabilità e
    mutabilità"); dividing by the mean *absolute* value keeps it within [0, 1) when some
    customers lose money, where the classical coefficient exceeds 1. 0 = every customer earns
    the same; near 1 = one customer carries everything.

    Storbacka's Stobachoff index (Storbacka 1995; van Raaij 2005, *Marketing Intelligence &
    Planning* 23(4), 372-381) measures the same cross-subsidisation of loss-makers by
    profitable customers; the workbook reports this Gini variant, whose formula is stated
    above, and states the subsidy itself through the whale curve's peak and losses share
    (:func:`whale_summary`).

    Returns
    -------
    float
        NaN when every value is 0.
    """
    x = np.sort(_values(values).to_numpy())
    n = x.size
    scale = np.abs(x).sum()
    if scale == 0:
        return float("nan")
    weights = 2 * np.arange(1, n + 1) - n - 1
    return float((weights * x).sum() / (n * scale))


def whale_summary(values, top: float = 0.2) -> pd.Series:
    """The figures a whale curve is read by.

    Parameters
    ----------
    values : Series
        Profit per customer.
    top : float, default 0.2
        The share of most profitable customers whose profit share is reported.

    Returns
    -------
    Series
        ``customers``; ``total`` profit; ``top_share`` (profit of the top :func:`top_count`
        customers / total: Kaplan & Cooper's "the top 20 % earn 150-300 % of profit");
        ``peak_share`` (the curve's height at its peak = profit of the profitable customers /
        total) and ``peak_at`` (the share of customers at the peak); ``loss_making_share``
        (share of customers with profit < 0); ``losses_share`` (their losses / total profit =
        peak_share - 1); ``gini`` (:func:`profit_gini`).
    """
    series = _values(values)
    curve = concentration_curve(series)
    total = float(series.sum())
    k = top_count(len(series), top)
    peak = int(curve[VALUE_SHARE].to_numpy().argmax())
    return pd.Series(
        {
            CUSTOMERS: float(len(series)),
            TOTAL: total,
            TOP_SHARE: float(curve[VALUE_SHARE].iloc[k]),
            PEAK_SHARE: float(curve[VALUE_SHARE].iloc[peak]),
            PEAK_AT: float(curve[CUSTOMER_SHARE].iloc[peak]),
            LOSS_MAKING_SHARE: float((series < 0).mean()),
            LOSSES_SHARE: float(-series[series < 0].sum() / total),
            GINI: profit_gini(series),
        }
    )


def revenue_curve(transactions: pd.DataFrame) -> pd.DataFrame:
    """:func:`concentration_curve` of net revenue per customer (returns included)."""
    return concentration_curve(transactions.groupby(s.CUSTOMER_ID)[s.REVENUE].sum())
