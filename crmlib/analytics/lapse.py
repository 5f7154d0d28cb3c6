"""Lapsed: when a customer counts as gone, defined once for every lesson.

A customer has **lapsed** on a date when their last purchase lies more than ``days`` days
before it: the "hiatus" heuristic of Wübben & von Wangenheim (2008, "Instant customer base
analysis: managerial heuristics often get it right", *Journal of Marketing* 72(3), 82-93),
which they found to predict future inactivity about as well as a BTYD model. The hiatus
should follow the client's buying cycle, so the workbook derives it from the data
(:func:`lapse_rule`): the :data:`LAPSE_QUANTILE` quantile of the gaps between a customer's
consecutive purchase days (:func:`purchase_days`), i.e. a customer is lapsed once silent for
longer than nine in ten observed repeat purchases took. QCi's churn rate and its back-test
(lesson 02), the value chain's lifecycle stages and revenue sources (lesson 03), and the
retention after a survey (lessons 02 and 04) all use the same rule; a lesson's common
parameter ``lapsed_days`` (None: derived) sets another for a client, and the lesson then
says so. :data:`LAPSED_AFTER_DAYS` is the fallback when the data hold too few repeat
purchases to derive one.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from crmlib.data import schema as s
from crmlib.data.checks import as_of_date, need_columns
from crmlib.errors import CRMError

LAPSED_AFTER_DAYS = 180  # six months without a purchase: the fallback
LAPSE_QUANTILE = 0.9  # the share of observed repeat gaps the rule waits out
MIN_GAPS = 30  # fewer repeat gaps than this: too few to derive the rule from
GAP = "gap_days"
GAPS = "gaps"  # of :func:`gap_counts`: how many repeat gaps have a length


def check_days(days, name: str = "inactivity_days") -> int:
    """A number of days as a positive whole number, or a :class:`CRMError` naming ``name``."""
    if isinstance(days, bool) or not isinstance(days, (int, np.integer)):
        raise CRMError(f"{name} must be a whole number of days, not {days!r}")
    if days < 1:
        raise CRMError(f"{name} must be at least 1, not {days}")
    return int(days)


def is_lapsed(days_since_last_purchase, after: int = LAPSED_AFTER_DAYS):
    """True where the last purchase lies more than ``after`` days back (the hiatus rule).

    Parameters
    ----------
    days_since_last_purchase : number, array or Series
        Days from each customer's last purchase to the date judged.
    after : int, default :data:`LAPSED_AFTER_DAYS`
    """
    after = check_days(after)
    if isinstance(days_since_last_purchase, pd.Series):
        return days_since_last_purchase > after
    return np.asarray(days_since_last_purchase) > after


def purchase_days(transactions: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Distinct purchase days per customer, with the gap in days since the previous one.

    A purchase is a line with revenue >= 0 (a negative line is a return); with ``as_of``
    only the days up to it count.

    Returns
    -------
    DataFrame
        customer_id (str), order_date (the day), ``gap_days`` (NaN on a customer's first
        day), sorted by customer and day.
    """
    need_columns(transactions, "transactions", (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE))
    keep = transactions[s.REVENUE] >= 0
    if as_of is not None:
        keep &= transactions[s.ORDER_DATE] <= pd.Timestamp(as_of)
    bought = transactions.loc[keep]
    days = pd.DataFrame(
        {
            s.CUSTOMER_ID: bought[s.CUSTOMER_ID].astype(str),
            s.ORDER_DATE: bought[s.ORDER_DATE].dt.normalize(),
        }
    ).drop_duplicates()
    days = days.sort_values([s.CUSTOMER_ID, s.ORDER_DATE], kind="stable", ignore_index=True)
    days[GAP] = (days[s.ORDER_DATE] - days.groupby(s.CUSTOMER_ID)[s.ORDER_DATE].shift(1)).dt.days
    return days


def gap_counts(transactions: pd.DataFrame, as_of=None) -> pd.Series:
    """How many gaps between a customer's consecutive purchase days have each length.

    The gaps of :func:`purchase_days`, counted by length: all :func:`lapse_rule` needs,
    and small whatever the number of customers (a report at scale computes it on every
    row with :func:`gap_counts_query`).

    Returns
    -------
    Series
        Index ``gap_days`` (int, ascending), values: how many gaps (name ``gaps``).
    """
    gaps = purchase_days(transactions, as_of)[GAP].dropna().astype("int64")
    counts = gaps.value_counts().sort_index()
    counts.index.name, counts.name = GAP, GAPS
    return counts


def gap_counts_query(eng, as_of) -> str:
    """:func:`gap_counts` as one SQL query on an open engine (:class:`crmlib.engines.Engine`).

    Columns ``gap_days`` and ``gaps``, ordered by ``gap_days``; the purchase days up to
    ``as_of`` (a date-like).
    """
    from crmlib.engines import as_of_sql

    needed = (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE)
    eng.need("transactions", needed, "for the gaps between purchases")
    eng.check_rows("transactions", needed)
    day = f"CAST({s.ORDER_DATE} AS DATE)"
    return f"""
WITH days AS (
    SELECT DISTINCT CAST({s.CUSTOMER_ID} AS VARCHAR) AS cid, {day} AS day
    FROM transactions WHERE {s.REVENUE} >= 0 AND {day} <= {as_of_sql(pd.Timestamp(as_of))}
),
gaps AS (
    SELECT date_diff('day', LAG(day) OVER (PARTITION BY cid ORDER BY day), day) AS {GAP}
    FROM days
)
SELECT {GAP}, COUNT(*) AS {GAPS} FROM gaps WHERE {GAP} IS NOT NULL GROUP BY {GAP} ORDER BY {GAP}
"""


def _counted_quantile(counts: pd.Series, quantile: float) -> float:
    """The ``quantile`` of the values ``counts.index`` repeated ``counts`` times.

    numpy's default (linear interpolation between the order statistics at
    ``(n - 1) * quantile``), without writing the ``n`` values out.
    """
    values = counts.index.to_numpy(dtype=float)
    below = np.cumsum(counts.to_numpy(dtype="int64"))  # how many values are <= each value
    position = (below[-1] - 1) * quantile
    low = int(np.floor(position))

    def nth(k: int) -> float:  # the k-th smallest value, from 0
        return float(values[np.searchsorted(below, k, side="right")])

    if position == low:
        return nth(low)
    return nth(low) + (position - low) * (nth(low + 1) - nth(low))


@dataclasses.dataclass(frozen=True)
class LapseRule:
    """The lapse rule a lesson uses: ``days``, and where the number comes from.

    ``basis`` is ``"data"`` (the :data:`LAPSE_QUANTILE` quantile of ``gaps`` repeat gaps),
    ``"parameter"`` (set for the client) or ``"default"`` (too few repeat gaps:
    :data:`LAPSED_AFTER_DAYS`).
    """

    days: int
    basis: str
    gaps: int
    quantile: float = LAPSE_QUANTILE

    def sentence(self) -> str:
        """The rule in one sentence, with where its number comes from."""
        rule = f"Lapsed: no purchase for more than {self.days} days"
        if self.basis == "data":
            share = f"{self.quantile:.0%}".replace("%", " %")
            return (
                f"{rule}: {share} of the {self.gaps:,} gaps between a customer's consecutive "
                f"purchase days are at most {self.days} days (derived from these data)."
            )
        if self.basis == "parameter":
            return f"{rule} (set for this client)."
        return (
            f"{rule} (the workbook's default: only {self.gaps:,} repeat gaps, too few to derive "
            "the rule from the data)."
        )


def lapse_rule(
    transactions: pd.DataFrame,
    days: int | None = None,
    as_of=None,
    quantile: float = LAPSE_QUANTILE,
    min_gaps: int = MIN_GAPS,
    gaps: pd.Series | None = None,
) -> LapseRule:
    """The lapse rule for these data: ``days`` when given, else derived from the buying cycle.

    Derived: the smallest whole number of days at or above the ``quantile`` quantile of the
    gaps between consecutive purchase days of the same customer (:func:`purchase_days`) up to
    ``as_of``. With fewer than ``min_gaps`` gaps, :data:`LAPSED_AFTER_DAYS`. The observed gaps
    leave out the customers still silent, so the rule errs short; lesson 02's back-test
    measures how often a customer it calls lapsed comes back.

    Parameters
    ----------
    transactions : DataFrame
    days : int, optional
        The client's own rule; None: derive it.
    as_of : date-like, optional
        Default the last order date.
    quantile : float, default :data:`LAPSE_QUANTILE`
    min_gaps : int, default :data:`MIN_GAPS`
    gaps : Series, optional
        :func:`gap_counts` of every customer, when ``transactions`` are a sample of them
        (a report at scale): the rule is derived from these instead.

    Returns
    -------
    LapseRule
    """
    if days is not None:
        return LapseRule(check_days(days, "lapsed_days"), "parameter", 0, quantile)
    if not 0 < quantile < 1:
        raise CRMError(f"quantile must lie between 0 and 1, not {quantile!r}")
    if gaps is None:
        gaps = gap_counts(transactions, as_of_date(transactions, as_of))
    n = int(gaps.sum())
    if n < min_gaps:
        return LapseRule(LAPSED_AFTER_DAYS, "default", n, quantile)
    derived = int(np.ceil(_counted_quantile(gaps, quantile) - 1e-9))
    return LapseRule(max(derived, 1), "data", n, quantile)
