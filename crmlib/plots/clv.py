"""Charts of the CLV models of :mod:`crmlib.analytics.clv`.

Every function is ``plot_*(..., ax=None) -> Axes``: it draws only on ``ax``
and creates a figure only when ``ax`` is None. The charts are the usual ones
of the BTYD literature (Fader, Hardie & Lee 2005, "Counting your customers
the easy way", Marketing Science 24(2): figure 4 for the calibration/holdout
chart) and of the lifetimes package's ``plotting`` module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from crmlib.analytics import clv as _clv
from crmlib.plots.base import new_axes


def _grid(T: float, max_frequency: int, max_recency: float | None, points: int):
    """Frequencies 0..max_frequency and recencies 0..max_recency (<= T) for a matrix chart."""
    max_recency = T if max_recency is None else min(float(max_recency), float(T))
    frequency = np.arange(int(max_frequency) + 1, dtype=float)
    recency = np.linspace(0.0, max_recency, points)
    x, tx = np.meshgrid(frequency, recency, indexing="ij")
    tx = np.where(x == 0, 0.0, tx)  # without repeat purchases recency is 0 (and unused)
    return frequency, recency, x, tx


def _matrix(ax, values, frequency, recency, label, title):
    image = ax.imshow(
        values,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=(recency[0], recency[-1], frequency[0] - 0.5, frequency[-1] + 0.5),
    )
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.set_xlabel("recency (time from first to last purchase)")
    ax.set_ylabel("frequency (repeat purchases)")
    ax.set_title(title)
    return ax


def plot_frequency_recency_matrix(
    model: _clv.BetaGeo,
    T: float,
    t: float = 1.0,
    max_frequency: int = 20,
    max_recency: float | None = None,
    points: int = 60,
    ax: Axes | None = None,
) -> Axes:
    """Heat map of expected purchases in the next ``t`` periods by frequency and recency.

    For customers of age ``T`` (BG/NBD conditional expectation, Fader, Hardie
    & Lee 2005, eq. 10). Recent, frequent buyers are at the top right.

    Parameters
    ----------
    model : crmlib.analytics.clv.BetaGeo
        A fitted model.
    T : float
        Customer age (time since first purchase), in the model's time unit.
    t : float, default 1
        Horizon, in the model's time unit.
    max_frequency : int, default 20
    max_recency : float, optional
        Default ``T``.
    points : int, default 60
        Recency grid points.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    frequency, recency, x, tx = _grid(T, max_frequency, max_recency, points)
    values = model.expected_purchases(t, x, tx, T)
    return _matrix(
        ax,
        values,
        frequency,
        recency,
        f"expected purchases in the next {t:g} periods",
        f"Expected purchases, customers of age T = {T:g}",
    )


def plot_probability_alive_matrix(
    model: _clv.BetaGeo,
    T: float,
    max_frequency: int = 20,
    max_recency: float | None = None,
    points: int = 60,
    ax: Axes | None = None,
) -> Axes:
    """Heat map of P(alive) by frequency and recency for customers of age ``T``.

    BG/NBD P(alive) (Fader, Hardie & Lee 2008, "Computing P(alive) using the
    BG/NBD model"). Frequent buyers who have not bought for a long time (top
    left) are the likeliest to have left.

    Parameters
    ----------
    model : crmlib.analytics.clv.BetaGeo
        A fitted model.
    T : float
        Customer age, in the model's time unit.
    max_frequency : int, default 20
    max_recency : float, optional
        Default ``T``.
    points : int, default 60
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    frequency, recency, x, tx = _grid(T, max_frequency, max_recency, points)
    values = model.p_alive(x, tx, T)
    return _matrix(
        ax, values, frequency, recency, "P(alive)", f"Probability alive, customers of age T = {T:g}"
    )


def plot_clv_distribution(clv: pd.Series, bins: int = 50, ax: Axes | None = None) -> Axes:
    """Histogram of customer lifetime values, with the mean and median marked.

    CLV is usually very skewed (a few customers carry most of the value), so
    the mean lies well above the median.

    Parameters
    ----------
    clv : pandas.Series
        E.g. from :func:`crmlib.analytics.clv.customer_lifetime_value`.
    bins : int, default 50
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    values = pd.Series(clv, dtype=float).dropna()
    ax.hist(values, bins=bins, color="tab:blue", alpha=0.8)
    ax.axvline(values.mean(), color="tab:red", label=f"mean {values.mean():,.2f}")
    ax.axvline(
        values.median(), color="tab:orange", linestyle="--", label=f"median {values.median():,.2f}"
    )
    ax.set_xlabel("customer lifetime value")
    ax.set_ylabel("customers")
    ax.set_title(f"CLV of {len(values):,} customers")
    ax.legend()
    return ax


def plot_calibration_holdout(metrics, ax: Axes | None = None) -> Axes:
    """Mean actual vs predicted holdout purchases by calibration frequency.

    The validation chart of Fader, Hardie & Lee (2005), figure 4
    ("conditional expectations").

    Parameters
    ----------
    metrics : crmlib.analytics.clv.HoldoutMetrics or pandas.DataFrame
        From :func:`crmlib.analytics.clv.holdout_metrics`, or its ``by_frequency`` table.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    table = metrics.by_frequency if isinstance(metrics, _clv.HoldoutMetrics) else metrics
    positions = np.arange(len(table))
    ax.plot(positions, table[_clv.ACTUAL], marker="o", label="actual")
    ax.plot(positions, table[_clv.PREDICTED], marker="s", linestyle="--", label="model")
    ax.set_xticks(positions, [str(k) for k in table.index])
    ax.set_xlabel("purchases in the calibration period")
    ax.set_ylabel("mean purchases in the holdout period")
    ax.set_title("Actual vs predicted holdout purchases")
    ax.legend()
    return ax
