"""What every chart shares: an Axes to draw on, without pyplot's global state."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure


def new_axes(ax: Axes | None, figsize=(6.4, 4.8), polar: bool = False) -> Axes:
    """Return ``ax``, or the Axes of a new Figure that pyplot does not track.

    In a notebook, pass ``ax`` from ``plt.subplots()``; a chart drawn on its own
    Figure is shown by ending the cell with ``ax.figure``.
    """
    if ax is not None:
        return ax
    figure = Figure(figsize=figsize, layout="constrained")
    return figure.add_subplot(projection="polar" if polar else None)
