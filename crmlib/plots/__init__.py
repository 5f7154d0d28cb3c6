"""Charts: every function is ``plot_*(..., ax=None) -> Axes`` and draws only on ``ax``.

One module per subject; this package re-exports them all, so that
``from crmlib import plots; plots.plot_lorenz_curve(...)`` works. Without ``ax``
a chart draws on a new Figure outside pyplot (see :mod:`crmlib.plots.base`).
"""

from crmlib.plots.assessment import (
    plot_assessment_gaps,
    plot_assessment_radar,
    plot_priority_matrix,
)
from crmlib.plots.clv import (
    plot_calibration_holdout,
    plot_clv_distribution,
    plot_frequency_recency_matrix,
    plot_probability_alive_matrix,
    plot_tracking,
)
from crmlib.plots.foundations import plot_customers_over_time, plot_lifecycle, plot_lorenz_curve
from crmlib.plots.idic import (
    plot_channel_response,
    plot_propensity_history,
    plot_rfm_heatmap,
    plot_value_needs_portfolio,
)
from crmlib.plots.payne_frow import (
    plot_channel_mix,
    plot_channel_paths,
    plot_data_quality,
    plot_equity_curve,
    plot_experience_by_channel,
    plot_kpi_trend,
    plot_readiness,
    plot_scorecard,
    plot_segment_profile,
    plot_strategy_matrix,
)
from crmlib.plots.qci import (
    plot_campaign_lift,
    plot_cohort_retention,
    plot_new_customers,
    plot_nps_by_channel,
)
from crmlib.plots.style import PALETTE, money_axis
from crmlib.plots.value_chain import (
    plot_lifecycle_stages,
    plot_migration_matrix,
    plot_profitability_matrix,
    plot_whale_curve,
)

__all__ = [
    "PALETTE",
    "money_axis",
    "plot_assessment_gaps",
    "plot_assessment_radar",
    "plot_calibration_holdout",
    "plot_campaign_lift",
    "plot_channel_mix",
    "plot_channel_paths",
    "plot_channel_response",
    "plot_clv_distribution",
    "plot_cohort_retention",
    "plot_customers_over_time",
    "plot_data_quality",
    "plot_equity_curve",
    "plot_experience_by_channel",
    "plot_frequency_recency_matrix",
    "plot_kpi_trend",
    "plot_lifecycle",
    "plot_lifecycle_stages",
    "plot_lorenz_curve",
    "plot_migration_matrix",
    "plot_new_customers",
    "plot_nps_by_channel",
    "plot_priority_matrix",
    "plot_probability_alive_matrix",
    "plot_profitability_matrix",
    "plot_propensity_history",
    "plot_readiness",
    "plot_rfm_heatmap",
    "plot_scorecard",
    "plot_segment_profile",
    "plot_strategy_matrix",
    "plot_tracking",
    "plot_value_needs_portfolio",
    "plot_whale_curve",
]
