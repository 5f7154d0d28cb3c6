"""Value: part of :mod:`crmlib.models.idic`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmlib.analytics import clv as _clv
from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

if TYPE_CHECKING:
    pass

# =========================================================================================
# Differentiate: value
# =========================================================================================


class ValueModel:
    """Customer lifetime value from BG/NBD and Gamma-Gamma, with an explicit horizon and rate.

    ``fit`` fits :class:`crmlib.analytics.clv.BetaGeo` on every customer of the
    summary and :class:`crmlib.analytics.clv.GammaGamma` on the repeat buyers with
    positive spend; :meth:`clv` is :func:`crmlib.analytics.clv.customer_lifetime_value`
    with the monthly discount rate d = (1 + annual rate)**(1/12) - 1 and the
    summary's margin share (total margin / total revenue, 1 without costs).

    Parameters
    ----------
    horizon_months : int, default 12
    annual_discount_rate : float, default 0.10
    time_unit : {"W", "D"}, default "W"
        The unit of recency and T in the summary.

    Attributes
    ----------
    beta_geo_, gamma_gamma_ : fitted models
    margin_share_ : float
    monthly_discount_rate_ : float

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

    def fit(self, summary: pd.DataFrame) -> ValueModel:
        """Fit both models on a customer summary (:func:`crmlib.analytics.summary.customer_summary`)."""
        self.beta_geo_ = _clv.BetaGeo().fit(summary)
        spenders = summary[(summary[s.FREQUENCY] > 0) & (summary[s.MONETARY_VALUE] > 0)]
        if len(spenders) < 3:
            raise DataError(
                f"ValueModel: only {len(spenders)} customer(s) bought more than once; the "
                "Gamma-Gamma spend model needs repeat buyers"
            )
        self.gamma_gamma_ = _clv.GammaGamma().fit(spenders)
        revenue = float(summary[s.REVENUE].sum())
        margin = summary[s.MARGIN] if s.MARGIN in summary else pd.Series(np.nan)
        share = float(margin.sum()) / revenue if margin.notna().any() and revenue > 0 else 1.0
        self.margin_share_ = float(np.clip(share, 0.0, 1.0))
        self.monthly_discount_rate_ = _clv.annual_to_monthly_rate(self.annual_discount_rate)
        return self

    def clv(
        self, summary: pd.DataFrame, horizon_months=None, annual_discount_rate=None
    ) -> pd.Series:
        """CLV of each customer of ``summary``, optionally at another horizon or rate."""
        if not hasattr(self, "beta_geo_"):
            raise CRMError("this ValueModel is not fitted yet: call fit(summary) first")
        horizon = self.horizon_months if horizon_months is None else horizon_months
        annual = self.annual_discount_rate if annual_discount_rate is None else annual_discount_rate
        return _clv.customer_lifetime_value(
            self.beta_geo_,
            self.gamma_gamma_,
            summary,
            horizon=horizon,
            time_unit=self.time_unit,
            discount_rate=_clv.annual_to_monthly_rate(annual),
            margin=self.margin_share_,
        )


