"""Charts of the IDIC lesson (:mod:`crmlib.models.idic`).

Every function is ``plot_*(..., ax=None) -> Axes``: it draws only on ``ax`` and
creates a figure (not tracked by pyplot) only when ``ax`` is None. For the
BG/NBD matrices and the CLV distribution use :mod:`crmlib.plots.clv`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from crmlib.analytics import segments
from crmlib.analytics.metrics import currency_prefix
from crmlib.data import schema as s
from crmlib.models import idic
from crmlib.plots.base import new_axes
from crmlib.plots.style import PALETTE, money_axis


def _annotated_matrix(
    ax: Axes, table: pd.DataFrame, fmt: str, label: str, cmap: str, prefix: str = ""
) -> Axes:
    """Draw ``table`` as a heat map with its values written in the cells (after ``prefix``)."""
    values = table.to_numpy(dtype=float)
    image = ax.imshow(values, cmap=cmap, aspect="auto", origin="lower")
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.grid(False)  # grid lines would cut through the cells
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index])
    finite = values[np.isfinite(values)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for (row, col), value in np.ndenumerate(values):
        text = "" if not np.isfinite(value) else prefix + format(value, fmt)
        ax.text(
            col,
            row,
            text,
            ha="center",
            va="center",
            fontsize=8,
            color="white" if np.isfinite(value) and value > middle else "black",
        )
    return ax


def plot_rfm_heatmap(
    rfm: pd.DataFrame,
    value: str | None = None,
    bins: int | None = None,
    currency: str | None = "",
    ax: Axes | None = None,
) -> Axes:
    """Customers (or the mean of ``value``) by recency score and frequency score.

    Parameters
    ----------
    rfm : pandas.DataFrame
        From :func:`crmlib.models.idic.rfm_scores`.
    value : str, optional
        A column to average per cell (e.g. ``"monetary"``); default: count customers.
    bins : int, optional
        Number of scores; default the highest score present.
    currency : str, optional
        With ``value="monetary"``: the ISO code the cells and colour bar show
        money in (:func:`crmlib.plots.money_axis`); "" shows no unit.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One cell per (R, F) score pair; R on the vertical axis (5 = most recent).
    """
    ax = new_axes(ax, figsize=(6.4, 5))
    bins = int(bins or max(rfm[idic.R_SCORE].max(), rfm[idic.F_SCORE].max()))
    scores = range(1, bins + 1)
    if value is None:
        table = rfm.groupby([idic.R_SCORE, idic.F_SCORE]).size().unstack()
        label, fmt = "customers", ",.0f"
    else:
        table = rfm.groupby([idic.R_SCORE, idic.F_SCORE])[value].mean().unstack()
        label, fmt = f"mean {value.replace('_', ' ')}", ",.0f"
    money = value == idic.MONETARY
    if money:
        label = "mean net revenue"
    table = table.reindex(index=scores, columns=scores)
    if value is None:
        table = table.fillna(0)
    _annotated_matrix(
        ax, table, fmt, label, "Blues", prefix=currency_prefix(currency) if money else ""
    )
    if money:
        money_axis(ax.images[0].colorbar.ax, currency)
    ax.set_xlabel("F score (5 = most orders)")
    ax.set_ylabel("R score (5 = most recent)")
    # two lines: two heat maps side by side in a 9 in figure, each title within its panel
    ax.set_title("RFM: " + label + "\nby recency and frequency score")
    return ax


def plot_value_needs_portfolio(
    portfolio: pd.DataFrame, value: str | None = None, ax: Axes | None = None
) -> Axes:
    """The value x needs portfolio: customers per value class and needs segment.

    Parameters
    ----------
    portfolio : pandas.DataFrame
        From :func:`crmlib.models.idic.value_needs_portfolio`.
    value : str, optional
        A column to sum per cell instead (e.g. ``"actual_value"``).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Rows: MVC, MGC, other, BZ; columns: needs segments.
    """
    ax = new_axes(ax, figsize=(7, 4))
    grouped = portfolio.groupby([idic.VALUE_CLASS, idic.NEEDS_SEGMENT], observed=False)
    table = grouped.size() if value is None else grouped[value].sum()
    table = table.unstack(idic.NEEDS_SEGMENT).reindex(list(idic.VALUE_CLASSES)).fillna(0)
    table = table[sorted(table.columns, key=lambda c: (c == segments.NOT_SURVEYED, c))]
    label = "customers" if value is None else f"sum of {value}"
    _annotated_matrix(ax, table.iloc[::-1], ",.0f", label, "Greens")
    ax.set_xlabel("needs segment")
    ax.set_ylabel("value class")
    ax.set_title("Value x needs portfolio (Peppers & Rogers)")
    return ax


def plot_channel_response(rates: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Response rate per group (e.g. channel) with its interval as error bars.

    Parameters
    ----------
    rates : pandas.DataFrame
        From :func:`crmlib.models.idic.response_rates` (``rate``, ``lower``, ``upper``,
        ``contacts``), one bar per row.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax, figsize=(6.4, 4))
    labels = [" / ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in rates.index]
    rate = rates[idic.RATE].to_numpy(dtype=float)
    errors = np.vstack(
        [rate - rates[idic.LOWER].to_numpy(dtype=float), rates[idic.UPPER].to_numpy() - rate]
    )
    positions = np.arange(len(rates))
    ax.bar(positions, rate, yerr=errors, capsize=4, color=PALETTE[0], alpha=0.85)
    upper = rates[idic.UPPER].to_numpy(dtype=float)
    for x, (r, top, n) in enumerate(zip(rate, upper, rates[idic.CONTACTS], strict=True)):
        ax.annotate(
            f"{r:.0%} (n={n:,})",
            (x, top),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    rotated = len(labels) > 5
    ax.set_xticks(
        positions, labels, rotation=30 if rotated else 0, ha="right" if rotated else "center"
    )
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, max(float(np.nanmax(upper)) * 1.15, 0.01))  # room for the labels
    ax.set_ylabel("response rate (90 % interval)")
    ax.set_xlabel(" / ".join(map(str, rates.index.names)))
    ax.set_title("Campaign response by " + " / ".join(map(str, rates.index.names)))
    return ax


def plot_propensity_history(history: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """One customer's posterior mean per channel after each interaction, with its interval.

    Parameters
    ----------
    history : pandas.DataFrame
        From :meth:`crmlib.models.idic.ChannelPropensity.history`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One line (and shaded interval) per channel; step 0 is the population prior.
    """
    ax = new_axes(ax, figsize=(7, 4))
    for channel, part in history.groupby(s.CHANNEL, sort=True):
        line = ax.plot(part[idic.STEP], part[idic.MEAN], marker="o", label=str(channel))[0]
        ax.fill_between(
            part[idic.STEP], part[idic.LOWER], part[idic.UPPER], color=line.get_color(), alpha=0.12
        )
    ax.set_xlabel("interactions so far (0 = population prior)")
    ax.set_ylabel("propensity: posterior mean and 90 % interval")
    ax.set_ylim(0, 1)
    ax.set_title("What each interaction teaches about one customer")
    # beside the axes: inside, the legend would cover the lines of a 0-1 axis
    ax.legend(title="channel", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
