"""Differentiate: the value x needs portfolio (most valuable, most growable, below zero)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics.concentration import top_count
from crmlib.analytics.segments import NOT_SURVEYED
from crmlib.analytics.wallet import ELIGIBLE, EXPECTED_GAP
from crmlib.errors import CRMError
from crmlib.models.idic._common import (
    ACTUAL_VALUE,
    BZ,
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
    growth: pd.DataFrame,
    needs_segment: pd.Series | None = None,
    mvc_share: float = 0.2,
    mgc_share: float = 0.2,
) -> pd.DataFrame:
    """Peppers & Rogers' value classes of each customer, with actual and potential value.

    - actual value: the customer's CLV over the horizon (discounted future
      margin, after cost-to-serve when the client has cost rates);
    - unrealised value: the customer's own expected, discounted margin on the
      part of their wallet the firm does not get
      (:func:`crmlib.analytics.wallet.growth_potential`: P(alive) x max(wallet -
      expected spend, 0) x margin; wallet by high-quantile regression, Perlich
      et al. 2007); potential value = actual + unrealised;
    - classes, in this order: **BZ** (below zero) when the CLV is negative
      (expected to cost more to serve than they bring); **MVC** (most
      valuable) the top ``mvc_share`` of all customers by actual value among
      the rest; **MGC** (most growable) the ``mgc_share`` of all customers
      with the largest unrealised value among the remaining customers who are
      eligible (P(alive) at least the threshold of ``growth``) and have a gap;
      else "other".

    Parameters
    ----------
    actual_value : pandas.Series
        CLV by customer_id (the portfolio covers its index).
    growth : pandas.DataFrame
        :func:`crmlib.analytics.wallet.growth_potential`, with ``expected_gap``
        and ``eligible``, by customer_id.
    needs_segment : pandas.Series, optional
        Customers without one form the group "not surveyed".
    mvc_share, mgc_share : float

    Returns
    -------
    pandas.DataFrame
        ``actual_value``, ``needs_segment``, ``potential_value``,
        ``unrealised_value``, ``eligible``, ``value_class``.

    References
    ----------
    Peppers, D., & Rogers, M. (2011). Managing Customer Relationships (2nd
    ed.), ch. 5: actual and potential value; MVCs, MGCs and BZs.
    Perlich, C., Rosset, S., Lawrence, R. D., & Zadrozny, B. (2007).
    High-quantile modeling for customer wallet estimation and other
    applications. KDD '07, 977-985.
    """
    for name, share in (("mvc_share", mvc_share), ("mgc_share", mgc_share)):
        if not 0 <= share < 1:
            raise CRMError(f"{name} is a share between 0 and 1, not {share}")
    if not isinstance(growth, pd.DataFrame) or not {EXPECTED_GAP, ELIGIBLE} <= set(growth):
        raise CRMError(
            "growth must be the table of crmlib.analytics.wallet.growth_potential "
            f"(columns {EXPECTED_GAP!r} and {ELIGIBLE!r})"
        )
    actual = pd.Series(actual_value, dtype=float)
    value_class = value_classes(actual, mvc_share).astype("str")
    out = pd.DataFrame({ACTUAL_VALUE: actual})
    needs = needs_segment.reindex(out.index) if needs_segment is not None else None
    out[NEEDS_SEGMENT] = needs.astype("str").fillna(NOT_SURVEYED) if needs is not None else NOT_SURVEYED
    out[UNREALISED_VALUE] = growth[EXPECTED_GAP].reindex(out.index).fillna(0.0).astype(float)
    out[POTENTIAL_VALUE] = out[ACTUAL_VALUE] + out[UNREALISED_VALUE]
    out[ELIGIBLE] = growth[ELIGIBLE].reindex(out.index).fillna(False).astype(bool)
    rest = (value_class == OTHER) & out[ELIGIBLE] & (out[UNREALISED_VALUE] > 0)
    rank_gap = out.loc[rest, UNREALISED_VALUE].rank(ascending=False, method="first")
    value_class[rank_gap.index[rank_gap <= top_count(len(out), mgc_share)]] = MGC
    out[VALUE_CLASS] = pd.Categorical(value_class, categories=VALUE_CLASSES)
    return out


def value_classes(actual_value: pd.Series, mvc_share: float = 0.2) -> pd.Series:
    """The value classes that need only each customer's value: below zero, most valuable.

    The first two steps of :func:`value_needs_portfolio`, written once: **BZ** when the CLV
    is negative; **MVC** the top ``mvc_share`` of all customers by CLV among the rest (ties
    in the order given); every other customer "other" (the portfolio then picks the most
    growable among them, which needs their wallets). On every customer's CLV it gives a
    report at scale the MVCs and BZs of the whole base.

    Parameters
    ----------
    actual_value : pandas.Series
        CLV by customer_id.
    mvc_share : float, default 0.2

    Returns
    -------
    pandas.Series
        Categorical over :data:`VALUE_CLASSES` ("MGC" unused), by customer_id.

    References
    ----------
    Peppers, D., & Rogers, M. (2011). Managing Customer Relationships (2nd ed.), ch. 5.
    """
    if not 0 <= mvc_share < 1:
        raise CRMError(f"mvc_share is a share between 0 and 1, not {mvc_share}")
    actual = pd.Series(actual_value, dtype=float)
    values = actual.to_numpy()
    codes = np.full(len(values), VALUE_CLASSES.index(OTHER), dtype=np.int8)
    below_zero = values < 0
    codes[below_zero] = VALUE_CLASSES.index(BZ)
    rest = np.flatnonzero(~below_zero)
    # by position, not by label: on millions of customers a label index would be hashed
    ranked = rest[np.argsort(-values[rest], kind="stable")]  # ties in the order given
    codes[ranked[: top_count(len(values), mvc_share)]] = VALUE_CLASSES.index(MVC)
    classes = pd.Categorical.from_codes(codes, categories=VALUE_CLASSES)
    return pd.Series(classes, index=actual.index, name=VALUE_CLASS)
