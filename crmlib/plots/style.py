"""One plot style for the whole workbook, and money on axes in the client's currency.

:data:`STYLE` is applied once when :mod:`crmlib.plots` is imported, so every
chart (lesson, widget, report) shares fonts, colours, grid and sizes. Charts
that show money label their axis with :func:`money_axis`.

A chart meant for the report is at most 9 in wide with ``layout="constrained"``
(``plt.subplots(figsize=(9, h), layout="constrained")``): the report's text column is
920 px at a 1280 px window, the saved image is 100 dpi, and without a layout engine the
image's tight bounding box grows past the figure to hold long tick labels, so the browser
shrinks it, labels and all.
"""

from __future__ import annotations

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from crmlib.analytics.metrics import currency_prefix

#: Colours in a fixed order: the first for "the client", the second for "the benchmark" or
#: "the model", the rest for further series (Okabe & Ito 2008, readable with colour blindness).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

STYLE = {
    "figure.figsize": (7.0, 4.2),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
    "legend.frameon": False,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "image.cmap": "viridis",
}


def apply() -> None:
    """Set the workbook's style on matplotlib's defaults (idempotent)."""
    mpl.rcParams.update(STYLE)


def money_axis(ax: Axes, currency: str | None = "", axis: str = "y") -> Axes:
    """Label an axis's ticks as money in the client's currency ("€1,234", "USD 1.2 M").

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    currency : str or None
        ISO 4217 code or symbol (:func:`crmlib.analytics.metrics.currency_prefix`).
    axis : {"x", "y"}
    """
    prefix = currency_prefix(currency)

    def tick(value, _pos):
        sign = "-" if value < 0 else ""
        value = abs(value)
        if value >= 1e6:
            return f"{sign}{prefix}{value / 1e6:,.1f} M"
        if value >= 1e4:
            return f"{sign}{prefix}{value / 1e3:,.0f} k"
        return f"{sign}{prefix}{value:,.0f}"

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(FuncFormatter(tick))
    return ax
