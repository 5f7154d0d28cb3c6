"""Differentiate: the value x needs portfolio (most valuable, most growable, below zero)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from crmlib.errors import CRMError

if TYPE_CHECKING:
    pass
from crmlib.analytics.concentration import top_count
from crmlib.analytics.segments import NOT_SURVEYED
from crmlib.models.idic._common import (
    ACTUAL_VALUE,
    BZ,
    HISTORICAL_VALUE,
    MGC,
    MVC,
    NEEDS_SEGMENT,
    OTHER,
    POTENTIAL_VALUE,
    UNREALISED_VALUE,
    VALUE_CLASS,
    VALUE_CLASSES,
)

# =========================================================================================
# Differentiate: the value x needs portfolio
# =========================================================================================


def value_needs_portfolio(
    actual_value: pd.Series,
    historical_value: pd.Series,
    needs_segment: pd.Series | None = None,
    mvc_share: float = 0.2,
    mgc_share: float = 0.2,
    potential_quantile: float = 0.9,
) -> pd.DataFrame:
    """Peppers & Rogers' value classes of each customer, with actual and potential value.

    - actual value: the customer's CLV (future margin, discounted);
    - potential value: the ``potential_quantile`` (default the 90th
      percentile) of actual value among customers of the same needs segment
      ("what a similar customer is worth under the best strategy"); customers
      without a segment form the group "not surveyed";
    - unrealised value = max(potential - actual, 0);
    - classes, in this order: **BZ** (below zero) when historical value
      (margin to date, after returns) is negative; **MVC** (most valuable)
      the top ``mvc_share`` by actual value; **MGC** (most growable) the top
      ``mgc_share`` of all customers by unrealised value among the rest;
      else "other".

    Parameters
    ----------
    actual_value, historical_value : pandas.Series
        Indexed by customer_id (the portfolio covers ``actual_value``'s index).
    needs_segment : pandas.Series, optional
    mvc_share, mgc_share : float
    potential_quantile : float

    Returns
    -------
    pandas.DataFrame
        ``actual_value``, ``historical_value``, ``needs_segment``,
        ``potential_value``, ``unrealised_value``, ``value_class``.

    References
    ----------
    Peppers, D., & Rogers, M. (2011). Managing Customer Relationships (2nd
    ed.), ch. 5: actual and potential value; MVCs, MGCs and BZs.
    """
    for name, share in (("mvc_share", mvc_share), ("mgc_share", mgc_share)):
        if not 0 <= share < 1:
            raise CRMError(f"{name} is a share between 0 and 1, not {share}")
    if not 0 < potential_quantile <= 1:
        raise CRMError(f"potential_quantile is between 0 and 1, not {potential_quantile}")
    actual = pd.Series(actual_value, dtype=float)
    out = pd.DataFrame({ACTUAL_VALUE: actual})
    out[HISTORICAL_VALUE] = pd.Series(historical_value, dtype=float).reindex(out.index)
    needs = needs_segment.reindex(out.index) if needs_segment is not None else None
    out[NEEDS_SEGMENT] = needs.astype("str").fillna(NOT_SURVEYED) if needs is not None else NOT_SURVEYED
    out[POTENTIAL_VALUE] = out.groupby(NEEDS_SEGMENT)[ACTUAL_VALUE].transform(
        lambda v: v.quantile(potential_quantile)
    )
    out[UNREALISED_VALUE] = (out[POTENTIAL_VALUE] - out[ACTUAL_VALUE]).clip(lower=0.0)
    n = len(out)
    value_class = pd.Series(OTHER, index=out.index, dtype="str")
    below_zero = out[HISTORICAL_VALUE] < 0
    value_class[below_zero] = BZ
    rank_actual = out[ACTUAL_VALUE].rank(ascending=False, method="first")
    value_class[(rank_actual <= top_count(n, mvc_share)) & ~below_zero] = MVC
    rest = value_class == OTHER
    rank_gap = out.loc[rest, UNREALISED_VALUE].rank(ascending=False, method="first")
    value_class[rank_gap.index[rank_gap <= top_count(n, mgc_share)]] = MGC
    out[VALUE_CLASS] = pd.Categorical(value_class, categories=VALUE_CLASSES)
    return out
