"""Which periods the data cover, and whether acquisition can be measured from them.

A client's extract rarely starts and ends on a period's boundary: an extract
that ends on 1 January holds one day of January, and a chart of new customers
or revenue per month then shows January as a collapse. Per-period charts and
rates leave such *partial* periods out and say so (:func:`period_coverage`).

A panel cut out of an ongoing business is *left-censored*: the customers it
holds were mostly customers before it starts, and each is "first seen" in the
first period or so in which they happen to buy. New customers per period and
acquisition cohorts then describe the extract, not the business
(:func:`left_censoring`). A true acquisition cohort, such as CDNOW's
customers whose first purchase at CDNOW fell in the first quarter of 1997
(Fader, Hardie & Lee 2005), is not censored: its customers are new when the
data first see them, and the rule below does not flag it.

Periods are pandas periods: ``"M"`` month, ``"Q"`` quarter, ``"W"`` week
(Monday to Sunday).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.analytics.orders import purchase_lines
from crmlib.data import schema as s
from crmlib.data.checks import as_of_date
from crmlib.errors import CRMError

__all__ = [
    "CENSORED_RATIO",
    "CENSORED_SHARE",
    "LeftCensoring",
    "PeriodCoverage",
    "left_censoring",
    "period_coverage",
]

UNITS = {"M": "month", "Q": "quarter", "W": "week", "Y": "year", "D": "day"}
#: Left-censored when at least this share of all customers is first seen in the opening period.
CENSORED_SHARE = 0.5
#: ... or when the opening period's new customers are this many times the later median.
CENSORED_RATIO = 5.0
#: The later median needs at least this many complete later periods with new customers.
MIN_LATER_PERIODS = 2


def _period(day: pd.Timestamp, freq: str) -> pd.Period:
    try:
        return pd.Period(day, freq=freq)
    except (ValueError, TypeError):
        raise CRMError(
            f"freq must be a pandas period such as 'M', 'Q' or 'W', not {freq!r}"
        ) from None


def _unit(period: pd.Period) -> str:
    return UNITS.get(period.freqstr[0], "period")


def period_label(period: pd.Period) -> str:
    """A period in words: ``January 2018``, ``2017Q4``, ``the week of 2018-01-01``."""
    unit = _unit(period)
    if unit == "month":
        return period.start_time.strftime("%B %Y")
    if unit == "week":
        return f"the week of {period.start_time:%Y-%m-%d}"
    if unit == "day":
        return f"{period.start_time:%Y-%m-%d}"
    return str(period)


@dataclass(frozen=True)
class PeriodCoverage:
    """The periods from the data's first day to its last, and which of them are partial.

    A period is *partial* when the data do not cover every one of its days:
    the first period when the data start after its first day, the last when
    the data (``as_of``) end before its last day. The rule is the one
    :func:`crmlib.models.qci.cohort_retention` and :func:`crmlib.models.payne_frow.kpi_table`
    apply to the last period; an extract whose first day had no order can pass
    its real first day as ``start``.

    Attributes
    ----------
    freq : str
    start, end : Timestamp
        The first and the last day the data cover.
    first, last : Period
        The periods of ``start`` and ``end``.
    partial : tuple of Period
        The first and/or last period when partial (none, one or both).
    """

    freq: str
    start: pd.Timestamp
    end: pd.Timestamp
    first: pd.Period
    last: pd.Period
    partial: tuple[pd.Period, ...]

    @classmethod
    def from_dates(cls, start, end, freq: str = "M") -> PeriodCoverage:
        """The coverage of the days ``start`` to ``end`` inclusive."""
        start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
        if end < start:
            raise CRMError(f"the data end ({end:%Y-%m-%d}) before they start ({start:%Y-%m-%d})")
        first, last = _period(start, freq), _period(end, freq)
        partial = []
        if start > first.start_time.normalize():
            partial.append(first)
        if end < last.end_time.normalize() and last not in partial:
            partial.append(last)
        return cls(freq, start, end, first, last, tuple(partial))

    def days_covered(self, period: pd.Period) -> int:
        """How many of the period's days the data cover."""
        lo = max(period.start_time.normalize(), self.start)
        hi = min(period.end_time.normalize(), self.end)
        return max(0, (hi - lo).days + 1)

    def is_partial(self, when) -> bool:
        """True when the period holding the day ``when`` is partial."""
        return _period(pd.Timestamp(when), self.freq) in self.partial

    def complete(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` without the rows of partial periods (index: a day within each period,
        e.g. the period's first day, as :func:`crmlib.analytics.acquisition.new_customers` gives it)."""
        if not self.partial or frame.empty:
            return frame
        keep = [not self.is_partial(day) for day in frame.index]
        return frame.loc[np.asarray(keep, dtype=bool)]

    def sentence(self, what: str = "charts and rates") -> str:
        """One sentence naming the partial periods left out, or "" when there are none."""
        if not self.partial:
            return ""
        parts = []
        for p in self.partial:
            days = (p.end_time.normalize() - p.start_time.normalize()).days + 1
            lo = max(p.start_time.normalize(), self.start)
            hi = min(p.end_time.normalize(), self.end)
            span = f"{lo:%Y-%m-%d}" if lo == hi else f"{lo:%Y-%m-%d} to {hi:%Y-%m-%d}"
            parts.append(f"{period_label(p)} ({self.days_covered(p)} of its {days} days, {span})")
        unit = _unit(self.partial[0])
        verb = "is" if len(parts) == 1 else "are"
        return (
            f"{' and '.join(parts)} {verb} only partly in the data, so the per-{unit} "
            f"{what} leave {'it' if len(parts) == 1 else 'them'} out."
        )


def period_coverage(transactions: pd.DataFrame, freq: str = "M", as_of=None, start=None):
    """Which periods the transactions cover fully, and which only in part.

    Parameters
    ----------
    transactions : DataFrame
        Order lines with ``order_date``.
    freq : str, default "M"
        "M" month, "Q" quarter, "W" week.
    as_of : date-like, optional
        The last day of the data (default: the last order date).
    start : date-like, optional
        The first day of the data (default: the first order date).

    Returns
    -------
    PeriodCoverage
    """
    if s.ORDER_DATE not in transactions.columns or transactions.empty:
        raise CRMError("transactions: order dates are needed to tell which periods they cover")
    end = as_of_date(transactions, as_of)
    first = pd.Timestamp(transactions[s.ORDER_DATE].min()) if start is None else start
    return PeriodCoverage.from_dates(first, end, freq)


@dataclass(frozen=True)
class LeftCensoring:
    """Whether the customers of an extract were mostly customers before it starts.

    Attributes
    ----------
    flagged : bool
        The rule of :func:`left_censoring` says acquisition cannot be measured.
    opening : tuple of Period
        The opening period: the first, with the next one when the first is partial.
    customers : int
        Customers with a purchase.
    opening_new : int
        Customers first seen in the opening period.
    share : float
        ``opening_new / customers``.
    later_median : float
        Median new customers of the later complete periods that have any (NaN
        with fewer than ``MIN_LATER_PERIODS`` of them).
    ratio : float
        ``opening_new / later_median`` (NaN without a later median).
    """

    flagged: bool
    opening: tuple[pd.Period, ...]
    customers: int
    opening_new: int
    share: float
    later_median: float
    ratio: float

    def sentence(self) -> str:
        """One sentence for the reader, or "" when not flagged."""
        if not self.flagged:
            return ""
        label = " and ".join(period_label(p) for p in self.opening)
        text = (
            f"{self.opening_new:,} of the {self.customers:,} customers ({self.share:.0%}) "
            f"first appear in {label}"
        )
        if np.isfinite(self.ratio):
            text += (
                f", {self.ratio:.0f} times as many as in a typical later {_unit(self.opening[0])}"
            )
        return (
            f"{text}: most of them were customers before the data start, so acquisition "
            "(new customers, acquisition cohorts) cannot be measured from this extract."
        )

    def not_assessed(self, section: str) -> str:
        """The sentence a section that measures acquisition says when it steps aside."""
        return (
            f"Not assessed: {section}, because the data start with customers already there, "
            "so new customers cannot be told from those who bought before."
        )


def left_censoring(transactions: pd.DataFrame, freq: str = "M", as_of=None) -> LeftCensoring:
    """Detect a panel whose customers mostly appear in its first period (left-censored).

    The rule. The *opening* is the first period of the data, together with
    the next when the first is partial (:func:`period_coverage`). The panel
    is flagged when either

    * at least ``CENSORED_SHARE`` (half) of all customers are first seen in
      the opening: half a business's customers cannot have been acquired in
      one period of the extract unless the extract is a cohort of newcomers
      or is short, and in neither case can acquisition be read from it; or
    * the opening's new customers are at least ``CENSORED_RATIO`` (5) times
      the median new customers of the later complete periods that have any
      (at least two of them). Seasonality moves acquisition by a factor of two
      or three, not five; a one-off spike of first-seen customers followed by
      a trickle is the signature of customers who bought before the extract
      and reappear in it.

    Periods without any new customer do not count in the median, so that a
    true acquisition cohort (new customers in the first periods only, none
    later, as in CDNOW) is not flagged. The bundled sample (7 % of its
    customers in its first month, 1.1 times the later median) is not flagged;
    a grocery panel with 80 % of its households in the first month is.

    Parameters
    ----------
    transactions : DataFrame
        Order lines (customer_id, order_date, revenue); returns do not count.
    freq : str, default "M"
    as_of : date-like, optional

    Returns
    -------
    LeftCensoring
    """
    bought, when = purchase_lines(transactions, as_of)
    coverage = period_coverage(bought, freq, as_of=when, start=transactions[s.ORDER_DATE].min())
    first_seen = bought.groupby(s.CUSTOMER_ID)[s.ORDER_DATE].min().dt.to_period(freq)
    new = first_seen.value_counts().sort_index()
    opening = [coverage.first]
    if coverage.first in coverage.partial and coverage.first + 1 <= coverage.last:
        opening.append(coverage.first + 1)
    opening_new = int(new[new.index.isin(opening)].sum())
    customers = int(new.sum())
    later = new[(new.index > opening[-1]) & ~new.index.isin(coverage.partial)]
    later = later[later > 0]
    median = float(later.median()) if len(later) >= MIN_LATER_PERIODS else float("nan")
    ratio = opening_new / median if np.isfinite(median) and median > 0 else float("nan")
    share = opening_new / customers if customers else float("nan")
    flagged = bool(share >= CENSORED_SHARE or (np.isfinite(ratio) and ratio >= CENSORED_RATIO))
    return LeftCensoring(flagged, tuple(opening), customers, opening_new, share, median, ratio)
