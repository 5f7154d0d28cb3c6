"""Customer lifetime value: discounting, CLV from a purchase and a spend model, value to date.

- :func:`customer_lifetime_value`: discounted expected margin month by month,
  as in Fader, Hardie & Lee (2005b, "discounted expected transactions") and
  the ``customer_lifetime_value`` of the lifetimes package (Davidson-Pilon
  et al.).
- :func:`annual_to_monthly_rate`: the compound conversion of a discount rate.
- :func:`historical_clv`: the backward-looking value to date.

Time units: the models work in whatever unit ``recency`` and ``T`` were
measured in (days or weeks). Only :func:`customer_lifetime_value` needs to be
told the unit, to turn its horizon in months into that unit
(:data:`PERIODS_PER_MONTH`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics.clv._inputs import no_spend_is_zero, rows_text, summary_columns
from crmlib.analytics.clv.beta_geo import BetaGeo
from crmlib.analytics.clv.gamma_gamma import GammaGamma
from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

# Columns this module adds (not customer-summary columns, so not in crmlib.data.schema).
CLV = "clv"
HISTORICAL_CLV = "historical_clv"

#: Length of a month in each time unit a summary may use: 30 days, or 30/7 weeks.
PERIODS_PER_MONTH = {"D": 30.0, "W": 30.0 / 7.0}


def annual_to_monthly_rate(annual_rate: float) -> float:
    """The monthly discount rate equivalent to an annual one: (1 + annual)**(1/12) - 1.

    For example an annual cost of capital of 12.68 % is 1 % a month.
    """
    if not np.isfinite(annual_rate) or annual_rate <= -1:
        raise CRMError(f"annual_rate must be a number above -1 (e.g. 0.10), not {annual_rate}")
    return float((1.0 + annual_rate) ** (1.0 / 12.0) - 1.0)


def check_horizon_months(horizon, name: str = "horizon_months") -> None:
    """A horizon is a whole number of months, at least 1 (not a bool); else a CRMError."""
    if isinstance(horizon, bool) or not float(horizon).is_integer() or horizon < 1:
        raise CRMError(f"{name} is a whole number of months, at least 1, not {horizon!r}")


def customer_lifetime_value(
    beta_geo: BetaGeo,
    gamma_gamma: GammaGamma,
    summary: pd.DataFrame,
    horizon: int,
    time_unit: str,
    discount_rate: float,
    margin=1.0,
) -> pd.Series:
    """Discounted expected margin of each customer over the next ``horizon`` months.

    ::

        CLV = sum over m = 1 .. horizon of
              margin * E[spend] * (E[Y(m months)] - E[Y(m - 1 months)]) / (1 + d)**m

    with E[Y] the BG/NBD conditional expected purchases
    (:meth:`BetaGeo.expected_purchases`), E[spend] the Gamma-Gamma expected
    spend (:meth:`GammaGamma.expected_spend`) and d the monthly discount rate:
    each month's expected purchases are discounted at the month's end. This is
    the discounted-expected-transactions approach of Fader, Hardie & Lee
    (2005b) in the monthly discrete form of lifetimes'
    ``customer_lifetime_value`` (which uses 4.345 weeks a month; here a month
    is 30 days or 30/7 weeks, :data:`PERIODS_PER_MONTH`).

    Parameters
    ----------
    beta_geo : BetaGeo
        Fitted on a summary in ``time_unit``.
    gamma_gamma : GammaGamma
        Fitted spend model.
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` (in ``time_unit``) and ``monetary_value``.
    horizon : int
        Number of months ahead, at least 1.
    time_unit : {"D", "W"}
        The unit of ``recency`` and ``T`` in the summary and in the fit: days
        or weeks. It is not guessed: a wrong unit scales every CLV.
    discount_rate : float
        MONTHLY discount rate, 0 <= d < 1 (0.01 = 1 % a month). From an
        annual rate use :func:`annual_to_monthly_rate`.
    margin : float or pandas.Series, default 1.0
        Share of spend that is profit, 0 to 1 (1.0 gives revenue-based CLV);
        a Series gives one value per customer, aligned on the summary's index.

    Returns
    -------
    pandas.Series
        Named ``clv``, indexed like ``summary``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005b). RFM and CLV: Using
    iso-value curves for customer base analysis. Journal of Marketing
    Research, 42(4), 415-430.
    """
    if time_unit not in PERIODS_PER_MONTH:
        raise CRMError(
            f"time_unit must be 'D' (days) or 'W' (weeks), the unit of recency and T in the "
            f"summary, not {time_unit!r}"
        )
    check_horizon_months(horizon, "horizon")
    if not (np.isfinite(discount_rate) and 0 <= discount_rate < 1):
        raise CRMError(
            f"discount_rate is a monthly rate between 0 and 1 (0.01 = 1 % a month), not "
            f"{discount_rate!r}; convert an annual rate with annual_to_monthly_rate"
        )
    values = summary_columns(
        no_spend_is_zero(summary),
        (s.FREQUENCY, s.RECENCY, s.T, s.MONETARY_VALUE),
        "customer_lifetime_value",
    )
    if isinstance(margin, pd.Series):
        margin_values = margin.reindex(summary.index).to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(margin_values)
        if bad.any():
            raise DataError(
                f"customer_lifetime_value: margin is missing for {rows_text(summary.index, bad)}",
                column="margin",
            )
    else:
        if not (np.isfinite(margin) and 0 <= margin <= 1):
            raise CRMError(f"margin is a share of spend between 0 and 1, not {margin!r}")
        margin_values = float(margin)
    x = values[s.FREQUENCY]
    spend = np.asarray(gamma_gamma.expected_spend(x, values[s.MONETARY_VALUE]), dtype=float)
    purchases = _discounted_purchases(beta_geo, values, horizon, time_unit, discount_rate)
    return pd.Series(margin_values * spend * purchases, index=summary.index, name=CLV)


def _discounted_purchases(beta_geo, values, horizon, time_unit, discount_rate) -> np.ndarray:
    """sum over m = 1 .. horizon of (E[Y(m months)] - E[Y(m - 1 months)]) / (1 + d)**m."""
    x, tx, T = values[s.FREQUENCY], values[s.RECENCY], values[s.T]
    per_month = PERIODS_PER_MONTH[time_unit]
    total = np.zeros(len(x))
    previous = np.zeros(len(x))
    for month in range(1, int(horizon) + 1):
        cumulative = np.asarray(beta_geo.expected_purchases(month * per_month, x, tx, T))
        total += (cumulative - previous) / (1.0 + discount_rate) ** month
        previous = cumulative
    return total


def discounted_expected_purchases(
    beta_geo: BetaGeo, summary: pd.DataFrame, horizon: int, time_unit: str, discount_rate: float
) -> pd.Series:
    """Each customer's expected purchases over the next ``horizon`` months, each discounted.

    ``sum over m = 1 .. horizon of (E[Y(m months)] - E[Y(m - 1 months)]) / (1 + d)**m``:
    the purchase part of :func:`customer_lifetime_value` (Fader, Hardie & Lee
    2005b), which a cost per purchase (cost-to-serve) multiplies.
    """
    if time_unit not in PERIODS_PER_MONTH:
        raise CRMError(f"time_unit must be 'D' or 'W', not {time_unit!r}")
    values = summary_columns(summary, (s.FREQUENCY, s.RECENCY, s.T), "discounted_expected_purchases")
    total = _discounted_purchases(beta_geo, values, horizon, time_unit, discount_rate)
    return pd.Series(total, index=summary.index, name="discounted_purchases")


def historical_clv(summary: pd.DataFrame) -> pd.Series:
    """Value to date of each customer: margin, or revenue where margin is missing.

    The backward-looking counterpart of CLV: the "past customer value" of
    Kumar & Reinartz, *Customer Relationship Management: Concept, Strategy,
    and Tools* (Springer, 3rd ed. 2018), chapter on customer value metrics,
    here as a plain sum (not compounded to today's money).

    Parameters
    ----------
    summary : pandas.DataFrame
        With ``margin`` and/or ``revenue`` (e.g. from
        :func:`crmlib.analytics.summary.customer_summary`).

    Returns
    -------
    pandas.Series
        Named ``historical_clv``, indexed like ``summary``.
    """
    if not isinstance(summary, pd.DataFrame):
        raise DataError("historical_clv needs a customer summary DataFrame")
    if s.MARGIN not in summary and s.REVENUE not in summary:
        raise DataError(
            f"historical_clv: the summary has neither {s.MARGIN!r} nor {s.REVENUE!r}",
            column=s.MARGIN,
        )
    value = (
        summary[s.MARGIN].astype(float)
        if s.MARGIN in summary
        else pd.Series(np.nan, index=summary.index)
    )
    if s.REVENUE in summary:
        value = value.fillna(summary[s.REVENUE].astype(float))
    missing = value.isna().to_numpy()
    if missing.any():
        raise DataError(
            f"historical_clv: neither margin nor revenue is known for "
            f"{rows_text(summary.index, missing)}",
            column=s.REVENUE,
        )
    return value.rename(HISTORICAL_CLV)
