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
from crmlib.analytics.metrics import format_money
from crmlib.plots.base import new_axes
from crmlib.plots.style import PALETTE, money_axis


def _grid(T: float, max_frequency: int, max_recency: float | None, points: int):
    """Frequencies 0..max_frequency and recencies 0..max_recency (<= T) for a matrix chart."""
    max_recency = T if max_recency is None else min(float(max_recency), float(T))
    frequency = np.arange(int(max_frequency) + 1, dtype=float)
    recency = np.linspace(0.0, max_recency, points)
    x, tx = np.meshgrid(frequency, recency, indexing="ij")
    tx = np.where(x == 0, 0.0, tx)  # without repeat purchases recency is 0 (and unused)
    return frequency, recency, x, tx


def _matrix(ax, values, frequency, recency, label, title, unit="periods"):
    image = ax.imshow(
        values,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=(recency[0], recency[-1], frequency[0] - 0.5, frequency[-1] + 0.5),
    )
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.grid(False)  # grid lines would cut through the cells
    ax.set_xlabel(f"recency: {unit} from first to last purchase")
    ax.set_ylabel("frequency (repeat purchases)")
    ax.set_title(title)
    return ax


def _horizon_label(t: float, unit: str) -> str:
    """"4 weeks", "1 week", "2.5 weeks": a whole horizon without decimals, else one decimal."""
    whole = float(t).is_integer()
    amount = f"{int(t):d}" if whole else f"{t:.1f}"
    plural = unit if not (whole and int(t) == 1) else unit.removesuffix("s")
    return f"{amount} {plural}"


def plot_frequency_recency_matrix(
    model: _clv.BetaGeo,
    T: float,
    t: float = 1.0,
    max_frequency: int = 20,
    max_recency: float | None = None,
    points: int = 60,
    unit: str = "periods",
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
    unit : str, default "periods"
        The model's time unit in words (plural, e.g. ``"weeks"``), for the
        labels. Pass a whole ``t`` ("the next 4 weeks"): a fraction is shown
        with one decimal.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    frequency, recency, x, tx = _grid(T, max_frequency, max_recency, points)
    values = model.expected_purchases(t, x, tx, T)
    ax = _matrix(
        ax,
        values,
        frequency,
        recency,
        f"expected purchases in the next {_horizon_label(t, unit)}",
        f"Expected purchases, customers {_horizon_label(T, unit)} old",
        unit,
    )
    return ax


def plot_probability_alive_matrix(
    model: _clv.BetaGeo,
    T: float,
    max_frequency: int = 20,
    max_recency: float | None = None,
    points: int = 60,
    unit: str = "periods",
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
    unit : str, default "periods"
        The model's time unit in words (plural), for the labels.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    frequency, recency, x, tx = _grid(T, max_frequency, max_recency, points)
    values = model.p_alive(x, tx, T)
    return _matrix(
        ax,
        values,
        frequency,
        recency,
        "P(alive)",
        f"Probability alive, customers {_horizon_label(T, unit)} old",
        unit,
    )


def plot_clv_distribution(
    clv: pd.Series,
    bins: int = 40,
    currency: str | None = "",
    ax: Axes | None = None,
) -> Axes:
    """Histogram of customer lifetime values on a symmetric log scale, mean and median marked.

    CLV is very skewed (a few customers carry most of the value): on a linear
    axis nearly every customer falls into the first one or two bins. The bins
    here are equally wide on matplotlib's symmetric log scale (linear within
    +-1 unit of money, logarithmic beyond; Webber 2013, "A bi-symmetric log
    transformation for wide-range data", Measurement Science and Technology
    24(2)), so that customers worth 5, 50 and 500 are all seen, and negative
    values (customers who cost more to serve than they bring) keep their
    own bins left of zero.

    Parameters
    ----------
    clv : pandas.Series
        E.g. from :func:`crmlib.analytics.clv.customer_lifetime_value`.
    bins : int, default 40
        Number of bins between the smallest and the largest value.
    currency : str, optional
        ISO code of the money axis (:func:`crmlib.plots.money_axis`); "" shows no unit.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    values = pd.Series(clv, dtype=float).dropna()
    ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
    ax.set_xlabel("customer lifetime value (symmetric log scale)")
    ax.set_ylabel("customers")
    ax.set_title(f"CLV of {len(values):,} customers")
    money_axis(ax, currency, axis="x")
    if values.empty:
        return ax
    low, high = float(values.min()), float(values.max())
    if high <= low:
        high = low + 1.0
    # equal steps on the symlog scale: y = sign(v) * log10(1 + |v|) is close to it
    forward = lambda v: np.sign(v) * np.log10(1.0 + np.abs(v))  # noqa: E731
    back = lambda y: np.sign(y) * (10.0 ** np.abs(y) - 1.0)  # noqa: E731
    edges = back(np.linspace(forward(low), forward(high), int(bins) + 1))
    ax.hist(values, bins=edges, color=PALETTE[0], alpha=0.85)
    mean, median = float(values.mean()), float(values.median())
    ax.axvline(mean, color=PALETTE[3], label="mean")
    ax.axvline(median, color=PALETTE[1], linestyle="--", label="median")
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(
        handles,
        [f"mean {format_money(mean, currency)}", f"median {format_money(median, currency)}"],
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=2,
        borderaxespad=0.0,
    )
    return ax


def plot_calibration_holdout(metrics, unit: str = "periods", ax: Axes | None = None) -> Axes:
    """Mean actual vs predicted holdout purchases by calibration frequency.

    The conditional expectations chart of Fader, Hardie & Lee (2005),
    figure 4: customers grouped by their repeat purchases in the calibration
    period; for each group the mean purchases they made in the holdout period
    against the mean the model expected, E[Y(t) | x, t_x, T].

    Parameters
    ----------
    metrics : HoldoutMetrics, pandas.DataFrame or dict
        From :func:`crmlib.analytics.clv.holdout_metrics` (or its
        ``by_frequency`` table); or a dict name -> HoldoutMetrics (e.g.
        :attr:`crmlib.analytics.clv.ModelChoice.metrics`) to draw one dashed
        line per model against the one actual line.
    unit : str, default "periods"
        The time unit in words, for the title (e.g. ``"weeks"``).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    named = metrics if isinstance(metrics, dict) else {"model": metrics}
    tables = {
        name: m.by_frequency if isinstance(m, _clv.HoldoutMetrics) else m
        for name, m in named.items()
    }
    first = next(iter(tables.values()))
    positions = np.arange(len(first))
    ax.plot(positions, first[_clv.ACTUAL], marker="o", color="black", label="actual")
    markers = "sD^v"
    for k, (name, table) in enumerate(tables.items()):
        ax.plot(
            positions,
            table[_clv.PREDICTED].reindex(first.index),
            marker=markers[k % len(markers)],
            linestyle="--",
            color=PALETTE[(k + 1) % len(PALETTE)],
            label=name,
        )
    ax.set_xticks(positions, [str(k) for k in first.index])
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel("mean purchases in the holdout period")
    ax.set_title(f"Holdout purchases by calibration frequency ({unit})")
    ax.legend(loc="upper left")
    return ax


def plot_tracking(
    tracking: pd.DataFrame,
    calibration_end: float | None = None,
    unit: str = "periods",
    ax: Axes | None = None,
) -> Axes:
    """Cumulative repeat purchases, actual against each model, period by period.

    The tracking chart of Fader, Hardie & Lee (2005), figure 2: the actual
    cumulative repeat purchases of the customer base (solid) and each model's
    expectation (dashed), with the end of the calibration period marked; right
    of the mark the models forecast purchases they were not fitted on.

    Parameters
    ----------
    tracking : pandas.DataFrame
        From :func:`crmlib.analytics.clv.cumulative_repeat_tracking` or
        :func:`crmlib.analytics.clv.holdout_tracking`: indexed by period, a
        column ``actual`` and one per model.
    calibration_end : float, optional
        The period the calibration ends with (a dotted vertical line).
    unit : str, default "periods"
        The time unit in words, for the axis label (e.g. ``"weeks"``).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    index = tracking.index.to_numpy(dtype=float)
    ax.plot(index, tracking[_clv.ACTUAL], color="black", linewidth=2, label="actual")
    models = [c for c in tracking.columns if c != _clv.ACTUAL]
    for k, name in enumerate(models):
        ax.plot(
            index,
            tracking[name],
            linestyle="--",
            color=PALETTE[(k + 1) % len(PALETTE)],
            label=name,
        )
    if calibration_end is not None:
        ax.axvline(calibration_end, color="grey", linestyle=":", linewidth=1)
        ax.annotate(
            "end of calibration",
            (calibration_end, 0.02),
            xycoords=("data", "axes fraction"),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=8,
            color="grey",
        )
    ax.set_xlabel(unit)
    ax.set_ylabel("cumulative repeat purchases")
    ax.set_ylim(bottom=0)
    ax.set_title("Cumulative repeat purchases: actual and expected")
    ax.legend(loc="upper left")
    return ax
