"""What every chart shares: an Axes to draw on, without pyplot's global state."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from crmlib.plots import style

style.apply()  # one plot style for the workbook: every chart module imports this one


def new_axes(ax: Axes | None, figsize=(6.4, 4.8), polar: bool = False) -> Axes:
    """Return ``ax``, or the Axes of a new Figure that pyplot does not track.

    In a notebook, pass ``ax`` from ``plt.subplots()`` so that the chart shows
    inline; a widget shows a Figure of its own with :func:`figure_png`.
    """
    if ax is not None:
        return ax
    figure = Figure(figsize=figsize, layout="constrained")
    return figure.add_subplot(projection="polar" if polar else None)


def figure_png(figure: Figure, dpi: int = 100) -> bytes:
    """The PNG bytes of a Figure (for widgets, which show it with IPython's Image)."""
    from io import BytesIO

    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
