"""Customer lifetime value: one model per module over one estimator base.

- :mod:`~crmlib.analytics.clv.base`: the estimator base (``fit`` returns self,
  fitted values end in ``_``, ``summary_`` with standard errors).
- :mod:`~crmlib.analytics.clv.beta_geo`: BG/NBD purchases (Fader, Hardie & Lee 2005a).
- :mod:`~crmlib.analytics.clv.beta_geo_beta_binom`: BG/BB discrete-time transactions
  (Fader, Hardie & Shang 2010).
- :mod:`~crmlib.analytics.clv.shifted_beta_geo`: shifted-beta-geometric contractual
  retention (Fader & Hardie 2007, 2010).
- :mod:`~crmlib.analytics.clv.pareto_nbd`: Pareto/NBD purchases (Schmittlein, Morrison & Colombo 1987).
- :mod:`~crmlib.analytics.clv.gamma_gamma`: Gamma-Gamma spend (Fader, Hardie & Lee 2005b).
- :mod:`~crmlib.analytics.clv.value`: discounted CLV, discount rates, value to date.
- :mod:`~crmlib.analytics.clv.holdout`: calibration/holdout split and metrics.
- :mod:`~crmlib.analytics.clv.pipeline`: the one CLV pipeline the lessons use (BG/NBD or
  Pareto/NBD, set or chosen on a holdout, with Gamma-Gamma).

The models take the customer summary of :func:`crmlib.analytics.summary.customer_summary`
(``frequency``, ``recency``, ``T``, ``monetary_value``; BTYD definitions).
"""

from crmlib.analytics.clv.base import (
    ESTIMATE,
    LOWER_95,
    PARAMETER,
    STANDARD_ERROR,
    UPPER_95,
    Estimator,
)
from crmlib.analytics.clv.beta_geo import BetaGeo
from crmlib.analytics.clv.beta_geo_beta_binom import BetaGeoBetaBinom
from crmlib.analytics.clv.gamma_gamma import GammaGamma
from crmlib.analytics.clv.holdout import (
    ACTUAL,
    CUSTOMERS,
    DURATION_HOLDOUT,
    FREQUENCY_HOLDOUT,
    PREDICTED,
    HoldoutMetrics,
    ModelChoice,
    calibration_holdout_split,
    choose_purchase_model,
    cumulative_repeat_tracking,
    holdout_metrics,
    holdout_tracking,
)
from crmlib.analytics.clv.pareto_nbd import ParetoNBD
from crmlib.analytics.clv.pipeline import (
    AUTO,
    BASIS_AFTER_SERVE,
    BASIS_MARGIN,
    BASIS_REVENUE,
    BGNBD,
    MODEL,
    PARETO_NBD,
    PURCHASE_MODELS,
    CLVPipeline,
    cost_per_order,
    margin_share,
)
from crmlib.analytics.clv.shifted_beta_geo import ShiftedBetaGeo, survivors_from_subscriptions
from crmlib.analytics.clv.value import (
    CLV,
    HISTORICAL_CLV,
    PERIODS_PER_MONTH,
    annual_to_monthly_rate,
    customer_lifetime_value,
    discounted_expected_purchases,
    historical_clv,
)

__all__ = [
    "AUTO",
    "BASIS_AFTER_SERVE",
    "BASIS_MARGIN",
    "BASIS_REVENUE",
    "BGNBD",
    "PARETO_NBD",
    "PURCHASE_MODELS",
    "cost_per_order",
    "discounted_expected_purchases",
    "ACTUAL",
    "CLV",
    "CUSTOMERS",
    "DURATION_HOLDOUT",
    "ESTIMATE",
    "FREQUENCY_HOLDOUT",
    "HISTORICAL_CLV",
    "LOWER_95",
    "MODEL",
    "PARAMETER",
    "PERIODS_PER_MONTH",
    "PREDICTED",
    "STANDARD_ERROR",
    "UPPER_95",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "CLVPipeline",
    "Estimator",
    "GammaGamma",
    "HoldoutMetrics",
    "ShiftedBetaGeo",
    "ModelChoice",
    "ParetoNBD",
    "annual_to_monthly_rate",
    "calibration_holdout_split",
    "choose_purchase_model",
    "cumulative_repeat_tracking",
    "customer_lifetime_value",
    "historical_clv",
    "holdout_metrics",
    "survivors_from_subscriptions",
    "holdout_tracking",
    "margin_share",
]
