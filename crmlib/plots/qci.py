"""Charts of the QCi lesson's data measures (:mod:`crmlib.models.qci`).

Every function is ``plot_*(..., ax=None) -> Axes``: it draws only on ``ax``
and creates a :class:`matplotlib.figure.Figure` (outside pyplot) only when
``ax`` is None. The assessment's own charts (radar, gaps, priorities) are in
:mod:`crmlib.plots.assessment`.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from crmlib.analytics import experience
from crmlib.data import schema as s
from crmlib.errors import CRMError
from crmlib.models import qci
from crmlib.plots.base import new_axes

__all__ = [
    "plot_campaign_lift",
    "plot_cohort_retention",
    "plot_new_customers",
    "plot_nps_by_channel",
]

ANNOTATE_MAX_CELLS = 200  # write the share in each cell of a heatmap up to this size
MIN_COHORT = 30  # a cohort of fewer customers is greyed out of the retention heatmap


def _require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CRMError(f"{what} lacks the column(s) {', '.join(missing)}")


def plot_cohort_retention(
    matrix: pd.DataFrame,
    ax: Axes | None = None,
    already_customers: bool = False,
    sizes: pd.Series | None = None,
    min_size: int = MIN_COHORT,
) -> Axes:
    """Heatmap of a cohort retention matrix: cohorts down, periods since first purchase across.

    A share of a cohort of a handful of customers jumps by whole customers (one of five
    is 20 %), so when ``sizes`` are given the cohorts of fewer than ``min_size``
    customers are greyed out and hatched, and left out of the colour scale: the colours
    then compare the cohorts large enough to compare. Each cohort's size is written
    beside its label.

    Parameters
    ----------
    matrix : DataFrame
        From :func:`crmlib.models.qci.cohort_retention` (shares); unobserved cells
        (NaN) stay blank.
    ax : matplotlib Axes, optional
    already_customers : bool, default False
        The data are left-censored (:func:`crmlib.analytics.periods.left_censoring`):
        the first cohort is labelled as the customers already there when the
        data start, not an acquisition cohort.
    sizes : Series, optional
        Customers per cohort, indexed like ``matrix`` (column 0 of
        ``cohort_retention(..., counts=True)``).
    min_size : int, default 30
        Cohorts with fewer customers are masked (only with ``sizes``).

    Returns
    -------
    matplotlib.axes.Axes
        One image from period 1 on: period 0 is 100 % by definition and is not drawn.
    """
    if matrix.empty:
        raise CRMError("the cohort matrix is empty: there is nothing to draw")
    ax = new_axes(ax, figsize=(10, 6))
    later = matrix.drop(columns=matrix.columns[0]) if matrix.shape[1] > 1 else matrix
    values = later.to_numpy(dtype=float)
    rows, cols = values.shape
    if sizes is not None:
        n = sizes.reindex(matrix.index).to_numpy(dtype=float)
        small = ~(n >= min_size)  # an unknown size counts as small
    else:
        n, small = None, np.zeros(rows, dtype=bool)
    shown = np.where(small[:, None], np.nan, values)
    top = float(np.nanmax(shown)) if np.isfinite(shown).any() else 1.0
    image = ax.imshow(
        np.ma.masked_invalid(shown), aspect="auto", cmap="viridis", vmin=0.0, vmax=max(top, 1e-9)
    )
    ax.figure.colorbar(image, ax=ax, label="share of the cohort active", format=PercentFormatter(1))
    for i in np.flatnonzero(small):
        observed = np.isfinite(values[i])
        ax.barh(
            i,
            int(observed.sum()),
            left=-0.5,
            height=1.0,
            color="0.9",
            edgecolor="0.6",
            hatch="//",
            linewidth=0,
            label=f"cohort of fewer than {min_size} customers" if i == np.flatnonzero(small)[0] else None,
        )
    if rows * cols <= ANNOTATE_MAX_CELLS:
        for i in range(rows):
            for j in range(cols):
                if np.isfinite(shown[i, j]):
                    colour = "white" if shown[i, j] < top / 2 else "black"
                    ax.text(
                        j,
                        i,
                        f"{shown[i, j]:.0%}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color=colour,
                    )
    step = max(1, math.ceil(rows / 12))
    labels = [pd.Timestamp(d).strftime("%Y-%m") for d in matrix.index]
    if n is not None:
        labels = [
            f"{label} (n = {size:,.0f})" if np.isfinite(size) else label
            for label, size in zip(labels, n, strict=True)
        ]
    if already_customers:
        labels[0] = f"{labels[0]}: already customers"
    ax.set_yticks(range(0, rows, step), labels[::step])
    xstep = max(1, math.ceil(cols / 12))
    ax.set_xticks(range(0, cols, xstep), [str(c) for c in later.columns[::xstep]])
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.grid(False)
    if small.any():
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False, fontsize=8)
    ax.set_xlabel("periods since the first purchase")
    ax.set_ylabel("cohort (first purchase) and its customers")
    ax.set_title("Cohort retention: share of each cohort buying again")
    return ax


def plot_campaign_lift(lift_table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Each campaign's lift with its confidence interval, against zero.

    Parameters
    ----------
    lift_table : DataFrame
        From :func:`crmlib.models.qci.campaign_lift`. Campaigns are labelled by
        ``name`` when the table has it, else by campaign id.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One point with an error bar per campaign, in percentage points; green
        when the interval lies above 0.
    """
    _require(lift_table, (qci.LIFT, experience.CI_LOW, experience.CI_HIGH), "the lift table")
    if lift_table.empty:
        raise CRMError(
            "the lift table is empty: no campaign had both a treated and a control group"
        )
    ax = new_axes(ax, figsize=(8, 0.5 * len(lift_table) + 1.5))
    table = lift_table.iloc[::-1]  # first campaign at the top
    labels = table[s.NAME] if s.NAME in table.columns else table.index.to_series()
    y = np.arange(len(table))
    lift = table[qci.LIFT].to_numpy() * 100
    low = table[experience.CI_LOW].to_numpy() * 100
    high = table[experience.CI_HIGH].to_numpy() * 100
    above = low > 0
    for mask, colour, label in (
        (above, "tab:green", "interval above 0"),
        (~above, "tab:gray", "interval includes 0 or below"),
    ):
        if mask.any():
            ax.errorbar(
                lift[mask],
                y[mask],
                xerr=[lift[mask] - low[mask], high[mask] - lift[mask]],
                fmt="o",
                color=colour,
                capsize=4,
                label=label,
            )
    ax.axvline(0, color="0.3", linewidth=0.8)
    # limits that hold every interval (and 0), with room for the caps
    lo, hi = min(float(np.nanmin(low)), 0.0), max(float(np.nanmax(high)), 0.0)
    pad = 0.08 * max(hi - lo, 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-0.7, len(table) - 0.3 + (0.6 if len(table) > 1 else 0.3))
    ax.set_yticks(y, [textwrap.fill(str(v), 28) for v in labels])
    ax.set_xlabel("lift: treated minus control response rate (percentage points)")
    ax.set_title("Campaign lift with its confidence interval")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    return ax


def plot_nps_by_channel(nps_table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """NPS per group (channel, touchpoint, service band) with its confidence interval.

    Parameters
    ----------
    nps_table : DataFrame
        From :func:`crmlib.analytics.experience.nps_table` or :func:`crmlib.analytics.experience.nps_by_service`.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One bar per group, labelled with its number of answers.
    """
    _require(nps_table, (s.NPS, experience.CI_LOW, experience.CI_HIGH, experience.N), "the NPS table")
    if nps_table.empty:
        raise CRMError("the NPS table is empty: there are no answers to draw")
    ax = new_axes(ax, figsize=(7, 4))
    x = np.arange(len(nps_table))
    score = nps_table[s.NPS].to_numpy(dtype=float)
    colours = ["tab:green" if v >= 0 else "tab:red" for v in score]
    ax.bar(
        x,
        score,
        color=colours,
        yerr=[score - nps_table[experience.CI_LOW].to_numpy(), nps_table[experience.CI_HIGH].to_numpy() - score],
        capsize=4,
    )
    # the number of answers under each bar, in the free band at the foot of the axes
    for xi, n in zip(x, nps_table[experience.N], strict=True):
        ax.annotate(
            f"n = {n:,}",
            (xi, 0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            color="0.3",
        )
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_xticks(x, [textwrap.fill(str(g), 14) for g in nps_table.index])
    # limits that hold every interval and 0 (an interval may reach -100 or 100)
    low = float(np.nanmin(nps_table[experience.CI_LOW].to_numpy(dtype=float)))
    high = float(np.nanmax(nps_table[experience.CI_HIGH].to_numpy(dtype=float)))
    lo, hi = min(low, float(np.nanmin(score)), 0.0), max(high, float(np.nanmax(score)), 0.0)
    pad = 0.1 * max(hi - lo, 10.0)
    ax.set_ylim(lo - 1.5 * pad, hi + pad)  # the foot holds the n labels
    ax.set_ylabel("NPS (% promoters - % detractors)")
    ax.set_title("Net Promoter Score by group, with its confidence interval")
    return ax


def plot_new_customers(
    counts: pd.DataFrame, ax: Axes | None = None, already_customers: bool = False
) -> Axes:
    """New customers per period, stacked by acquisition channel.

    Parameters
    ----------
    counts : DataFrame
        From :func:`crmlib.analytics.acquisition.new_customers`.
    ax : matplotlib Axes, optional
    already_customers : bool, default False
        The data are left-censored (:func:`crmlib.analytics.periods.left_censoring`):
        the first period is drawn as a grey, hatched bar labelled "already
        customers when the data start", cut at the height the later periods
        need, with its count written on it, so that it neither passes for
        acquisition nor flattens the other bars.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if counts.empty:
        raise CRMError("there are no new customers to draw")
    ax = new_axes(ax, figsize=(9, 4))
    x = np.arange(len(counts))
    bottom = np.zeros(len(counts))
    first = 1 if already_customers and len(counts) > 1 else 0
    for channel in counts.columns:
        values = counts[channel].to_numpy(dtype=float)
        values[:first] = 0.0
        ax.bar(x, values, bottom=bottom, label=str(channel).replace("_", " "))
        bottom += values
    if first:
        opening = float(counts.iloc[0].sum())
        top = max(float(bottom[1:].max()), 1.0) * 1.25
        ax.bar(
            x[0],
            min(opening, top),
            color="0.85",
            edgecolor="0.4",
            hatch="//",
            label="already customers when the data start",
        )
        ax.annotate(
            f"{opening:,.0f}",
            (x[0], min(opening, top)),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )
        ax.set_ylim(0, top * 1.1)
    step = max(1, math.ceil(len(counts) / 8))
    ax.set_xticks(x[::step], [pd.Timestamp(d).strftime("%Y-%m") for d in counts.index[::step]])
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_ylabel("new customers")
    ax.set_title(
        "First seen per period (acquisition cannot be told apart)"
        if first
        else "Acquisition: new customers per period and channel"
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside, not over, the bars
    return ax
