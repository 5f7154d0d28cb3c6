"""The one CLV pipeline every lesson uses: BG/NBD + Gamma-Gamma + margin + discounting.

:class:`CLVPipeline` fits the purchase model (:class:`~crmlib.analytics.clv.beta_geo.BetaGeo`)
and the spend model (:class:`~crmlib.analytics.clv.gamma_gamma.GammaGamma`) on a
customer summary, learns the margin share, and gives each customer's
discounted CLV with :func:`~crmlib.analytics.clv.value.customer_lifetime_value`.
The choices are made once, here:

- the time unit is weeks unless told otherwise (``recency`` and ``T`` of the summary);
- Gamma-Gamma is fitted on the repeat buyers with positive mean spend;
- the margin is one share for all customers: total margin / total revenue of
  the summary, clipped to [0, 1], and 1 (CLV of revenue) when the summary
  has no margin;
- an annual discount rate is turned into a monthly one by compounding,
  d = (1 + annual)**(1/12) - 1 (:func:`~crmlib.analytics.clv.value.annual_to_monthly_rate`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics.clv.base import Estimator
from crmlib.analytics.clv.beta_geo import BetaGeo
from crmlib.analytics.clv.gamma_gamma import GammaGamma
from crmlib.analytics.clv.value import annual_to_monthly_rate, customer_lifetime_value
from crmlib.data import schema as s
from crmlib.errors import DataError

MODEL = "model"  # the first index level of CLVPipeline.summary_

_MIN_SPENDERS = 3  # repeat buyers with positive spend the Gamma-Gamma fit needs at least


def margin_share(summary: pd.DataFrame) -> float:
    """Total margin / total revenue of a customer summary, clipped to [0, 1].

    1.0 (CLV of revenue) when the summary has no margin (no product cost in the
    data), no revenue column, or no positive total revenue.
    """
    if s.MARGIN not in summary or s.REVENUE not in summary:
        return 1.0
    revenue = float(summary[s.REVENUE].sum())
    margin = summary[s.MARGIN]
    if not margin.notna().any() or revenue <= 0:
        return 1.0
    return float(np.clip(float(margin.sum()) / revenue, 0.0, 1.0))


class CLVPipeline(Estimator):
    """Customer lifetime value from BG/NBD and Gamma-Gamma, with an explicit horizon and rate.

    ``fit`` fits :class:`BetaGeo` on every customer of the summary and
    :class:`GammaGamma` on the repeat buyers with positive spend; :meth:`clv`
    is :func:`customer_lifetime_value` at the monthly discount rate
    d = (1 + annual rate)**(1/12) - 1 on the summary's margin share (total
    margin / total revenue, 1 without costs)::

        CLV = sum over m = 1 .. H of
              margin share * E[spend] * (E[Y(m months)] - E[Y(m - 1 months)]) / (1 + d)**m

    Parameters
    ----------
    horizon_months : int, default 12
        H, the number of months ahead.
    annual_discount_rate : float, default 0.10
        The cost of capital, a year.
    time_unit : {"W", "D"}, default "W"
        The unit of recency and T in the summary.

    Attributes
    ----------
    beta_geo_ : BetaGeo
    gamma_gamma_ : GammaGamma
    margin_share_ : float
        Total margin / total revenue of the fitted summary, in [0, 1]; 1
        when the summary has no margin (CLV of revenue).
    monthly_discount_rate_ : float
    summary_ : pandas.DataFrame
        Both models' parameter tables, indexed by (``model``, ``parameter``).

    References
    ----------
    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). RFM and CLV: Using
    iso-value curves for customer base analysis. Journal of Marketing
    Research, 42(4), 415-430.
    """

    def __init__(
        self, horizon_months: int = 12, annual_discount_rate: float = 0.10, time_unit: str = "W"
    ):
        self.horizon_months = horizon_months
        self.annual_discount_rate = annual_discount_rate
        self.time_unit = time_unit

    def fit(self, summary: pd.DataFrame) -> CLVPipeline:
        """Fit both models on a customer summary (:func:`crmlib.analytics.summary.customer_summary`).

        Returns
        -------
        CLVPipeline
            ``self``, fitted.

        Raises
        ------
        crmlib.errors.DataError
            The summary is not a valid BTYD summary (see :meth:`BetaGeo.fit`),
            or fewer than three customers bought again with positive spend.
        """
        beta_geo = BetaGeo().fit(summary)
        spenders = summary[(summary[s.FREQUENCY] > 0) & (summary[s.MONETARY_VALUE] > 0)]
        if len(spenders) < _MIN_SPENDERS:
            raise DataError(
                f"CLVPipeline: only {len(spenders)} customer(s) bought more than once; the "
                "Gamma-Gamma spend model needs repeat buyers"
            )
        gamma_gamma = GammaGamma().fit(spenders)
        self.beta_geo_, self.gamma_gamma_ = beta_geo, gamma_gamma
        self.margin_share_ = margin_share(summary)
        self.monthly_discount_rate_ = annual_to_monthly_rate(self.annual_discount_rate)
        return self

    def clv(
        self, summary: pd.DataFrame, horizon_months=None, annual_discount_rate=None
    ) -> pd.Series:
        """CLV of each customer of ``summary``, optionally at another horizon or rate.

        Returns
        -------
        pandas.Series
            Named ``clv``, indexed like ``summary``.

        Raises
        ------
        crmlib.errors.NotFittedError
            Before :meth:`fit`.
        """
        self._require_fitted("beta_geo_")
        horizon = self.horizon_months if horizon_months is None else horizon_months
        annual = self.annual_discount_rate if annual_discount_rate is None else annual_discount_rate
        return customer_lifetime_value(
            self.beta_geo_,
            self.gamma_gamma_,
            summary,
            horizon=horizon,
            time_unit=self.time_unit,
            discount_rate=annual_to_monthly_rate(annual),
            margin=self.margin_share_,
        )

    @property
    def summary_(self) -> pd.DataFrame:
        """The parameter tables of both models, one under the other.

        Raises
        ------
        crmlib.errors.NotFittedError
            Before :meth:`fit`.
        """
        self._require_fitted("beta_geo_")
        return pd.concat(
            {"BG/NBD": self.beta_geo_.summary_, "Gamma-Gamma": self.gamma_gamma_.summary_},
            names=[MODEL],
        )
