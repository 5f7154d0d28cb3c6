"""Charts: every function is ``plot_*(..., ax=None) -> Axes`` and draws only on ``ax``.

One module per subject; this package re-exports them all, so that
``from crmlib import plots; plots.plot_lorenz_curve(...)`` works.
"""

from crmlib.plots.foundations import plot_customers_over_time, plot_lorenz_curve

__all__ = ["plot_customers_over_time", "plot_lorenz_curve"]
