"""Differentiate by value: RFM values, quantile scores and named RFM segments (Hughes 1994)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmlib.analytics.summary import customer_summary
from crmlib.data import schema as s
from crmlib.data.checks import need_columns
from crmlib.errors import CRMError, DataError

if TYPE_CHECKING:
    pass
from crmlib.models.idic._common import (
    F_SCORE,
    M_SCORE,
    MONETARY,
    R_SCORE,
    RECENCY_DAYS,
    RFM_CELL,
    RFM_SEGMENT,
)

# =========================================================================================
# Differentiate: RFM
# =========================================================================================

#: Named RFM segments on the recency (R) and frequency (F) scores, 1 (worst) to 5
#: (best): ``segment: (R from, R to, F from, F to)``. The common practitioner
#: "RFM segment map"; names are convention, not theory. The ranges cover the
#: 5 x 5 grid once.
RFM_SEGMENTS = pd.DataFrame(
    [
        ("champions", 5, 5, 4, 5, "bought recently, buy often"),
        ("loyal", 3, 4, 4, 5, "buy often, fairly recently"),
        ("potential loyalists", 4, 5, 2, 3, "recent, a few purchases"),
        ("new customers", 5, 5, 1, 1, "first purchase very recently"),
        ("promising", 4, 4, 1, 1, "recent, one purchase"),
        ("need attention", 3, 3, 3, 3, "middle of the road"),
        ("about to sleep", 3, 3, 1, 2, "fading, few purchases"),
        ("can't lose them", 1, 2, 5, 5, "bought most often, long ago"),
        ("at risk", 1, 2, 3, 4, "bought often, long ago"),
        ("hibernating", 1, 2, 1, 2, "few purchases, long ago"),
    ],
    columns=[RFM_SEGMENT, "r_from", "r_to", "f_from", "f_to", "description"],
)


def rfm_values(transactions: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Recency, frequency and monetary value of each customer.

    - ``recency_days``: days from the last purchase to ``as_of`` (RFM
      recency: time *since* the last purchase; not BTYD recency, which is
      last - first purchase);
    - ``orders``: number of orders (:mod:`crmlib.analytics.orders`), the F of RFM (named
      ``orders`` because ``frequency`` is the BTYD count of repeat purchase occasions);
    - ``monetary``: net revenue (returns subtracted).

    Built on :func:`crmlib.analytics.summary.customer_summary`.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer_id.
    """
    return summary_rfm_values(customer_summary(transactions, as_of=as_of), as_of)


def summary_rfm_values(summary: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """:func:`rfm_values` from a customer summary (last purchase, orders, net revenue).

    A report at scale scores every customer from its per-customer tables this way.

    Parameters
    ----------
    summary : DataFrame
        :func:`crmlib.analytics.summary.customer_summary` as of ``as_of``, in any time unit.
    as_of : date-like, optional
        The date the summary was computed at; default its last purchase.
    """
    end = pd.Timestamp(as_of) if as_of is not None else summary[s.LAST_PURCHASE].max()
    return pd.DataFrame(
        {
            RECENCY_DAYS: (end.normalize() - summary[s.LAST_PURCHASE]).dt.days.astype(float),
            s.ORDERS: summary[s.ORDERS].astype(float),
            MONETARY: summary[s.REVENUE].astype(float),
        },
        index=summary.index,
    )


def quantile_cuts(values, bins: int = 5) -> np.ndarray:
    """The ``bins - 1`` inner quantiles of ``values``: cut points for equal-count bins.

    Quantiles at 1/bins, 2/bins, ... with linear interpolation (numpy's
    default, as :func:`pandas.qcut`).
    """
    if isinstance(bins, bool) or not float(bins).is_integer() or bins < 2:
        raise CRMError(f"bins is a whole number of at least 2, not {bins!r}")
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise DataError("quantile_cuts: no values to cut")
    return np.quantile(values, np.arange(1, int(bins)) / int(bins))


def score(values, cuts, higher_is_better: bool = True) -> pd.Series:
    """Scores 1 to len(cuts) + 1 from ascending cut points.

    A value's bin is the number of cut points strictly below it, so the bins
    are (c[i-1], c[i]], closed on the right as :func:`pandas.qcut`'s: with
    quantile cuts the bins hold equal counts when values are not tied; tied
    values always share a score (so a score may be skipped). The score is
    bin + 1, or len(cuts) + 1 - bin when lower values are better (recency).
    """
    cuts = np.asarray(cuts, dtype=float)
    if cuts.ndim != 1 or cuts.size == 0 or not np.all(np.isfinite(cuts)):
        raise CRMError("cut points must be a non-empty list of numbers")
    if np.any(np.diff(cuts) < 0):
        raise CRMError(f"cut points must be in ascending order, not {cuts.tolist()}")
    index = values.index if isinstance(values, pd.Series) else None
    bins = np.searchsorted(cuts, np.asarray(values, dtype=float), side="left")
    scores = bins + 1 if higher_is_better else cuts.size + 1 - bins
    return pd.Series(scores.astype(int), index=index)


def rfm_segment(r_score, f_score, bins: int = 5, rules: pd.DataFrame = RFM_SEGMENTS) -> pd.Series:
    """Named segment of each (R, F) score pair by the rule table.

    Scores on another scale than 1-5 are mapped onto it first:
    1 + round((score - 1) * 4 / (bins - 1)).
    """
    r = pd.Series(r_score)
    f = pd.Series(f_score, index=r.index)
    if bins != 5:
        r = 1 + ((r - 1) * 4 / (bins - 1)).round().astype(int)
        f = 1 + ((f - 1) * 4 / (bins - 1)).round().astype(int)
    out = pd.Series(pd.NA, index=r.index, dtype="str")
    for rule in rules.itertuples(index=False):
        hit = r.between(rule.r_from, rule.r_to) & f.between(rule.f_from, rule.f_to) & out.isna()
        out[hit] = getattr(rule, RFM_SEGMENT)
    return out


def rfm_scores(values: pd.DataFrame, bins: int = 5, cuts: dict | None = None) -> pd.DataFrame:
    """RFM scores, cell and named segment of each customer.

    Parameters
    ----------
    values : pandas.DataFrame
        From :func:`rfm_values`.
    bins : int, default 5
        Quantile bins (5: quintiles) where ``cuts`` does not give cut points.
    cuts : dict, optional
        Ascending cut points per measure, e.g. ``{"recency_days": [30, 90, 180,
        365], "orders": [1, 2, 4, 8], "monetary": [...]}``; a measure left
        out is cut at its quantiles. Each list must have ``bins - 1`` points.

    Returns
    -------
    pandas.DataFrame
        ``values`` plus ``r_score``, ``f_score``, ``m_score`` (5 = best:
        most recent, most frequent, highest spend), ``rfm_cell`` (e.g. "545")
        and ``rfm_segment`` (:data:`RFM_SEGMENTS`, on R and F).

    References
    ----------
    Hughes, A. M. (1994). Strategic Database Marketing. Probus (RFM quintile
    scoring).
    """
    need_columns(values, "RFM values", (RECENCY_DAYS, s.ORDERS, MONETARY), purpose="for rfm_scores")
    cuts = dict(cuts or {})
    unknown = set(cuts) - {RECENCY_DAYS, s.ORDERS, MONETARY}
    if unknown:
        raise CRMError(
            f"rfm_scores: unknown measure(s) {', '.join(sorted(unknown))} in cuts; "
            f"use {RECENCY_DAYS}, {s.ORDERS}, {MONETARY}"
        )
    used = {}
    for measure in (RECENCY_DAYS, s.ORDERS, MONETARY):
        given = cuts.get(measure)
        if given is None:
            used[measure] = quantile_cuts(values[measure], bins)
        else:
            used[measure] = np.asarray(given, dtype=float)
            if used[measure].size != bins - 1:
                raise CRMError(
                    f"rfm_scores: {measure} needs {bins - 1} cut points for {bins} scores, "
                    f"not {used[measure].size}"
                )
    out = values.copy()
    out[R_SCORE] = score(values[RECENCY_DAYS], used[RECENCY_DAYS], higher_is_better=False)
    out[F_SCORE] = score(values[s.ORDERS], used[s.ORDERS])
    out[M_SCORE] = score(values[MONETARY], used[MONETARY])
    out[RFM_CELL] = out[R_SCORE].astype(str) + out[F_SCORE].astype(str) + out[M_SCORE].astype(str)
    out[RFM_SEGMENT] = rfm_segment(out[R_SCORE], out[F_SCORE], bins=bins)
    return out
