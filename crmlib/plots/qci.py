"""Charts of the QCi lesson's data measures (:mod:`crmlib.models.qci`).

Every function is ``plot_*(..., ax=None) -> Axes``: it draws only on ``ax``
and creates a :class:`matplotlib.figure.Figure` (outside pyplot) only when
``ax`` is None. The assessment's own charts (radar, gaps, priorities) are in
:mod:`crmlib.plots.assessment`.
"""

from __future__ import annotations

import math

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


def _require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CRMError(f"{what} lacks the column(s) {', '.join(missing)}")


def plot_cohort_retention(
    matrix: pd.DataFrame, ax: Axes | None = None, already_customers: bool = False
) -> Axes:
    """Heatmap of a cohort retention matrix: cohorts down, periods since first purchase across.

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
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
    image = ax.imshow(
        np.ma.masked_invalid(values), aspect="auto", cmap="viridis", vmin=0.0, vmax=max(top, 1e-9)
    )
    ax.figure.colorbar(image, ax=ax, label="share of the cohort active", format=PercentFormatter(1))
    rows, cols = values.shape
    if rows * cols <= ANNOTATE_MAX_CELLS:
        for i in range(rows):
            for j in range(cols):
                if np.isfinite(values[i, j]):
                    colour = "white" if values[i, j] < top / 2 else "black"
                    ax.text(
                        j,
                        i,
                        f"{values[i, j]:.0%}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color=colour,
                    )
    step = max(1, math.ceil(rows / 12))
    labels = [pd.Timestamp(d).strftime("%Y-%m") for d in matrix.index]
    if already_customers:
        labels[0] = f"{labels[0]}: already customers"
    ax.set_yticks(range(0, rows, step), labels[::step])
    xstep = max(1, math.ceil(cols / 12))
    ax.set_xticks(range(0, cols, xstep), [str(c) for c in later.columns[::xstep]])
    ax.set_xlabel("periods since the first purchase")
    ax.set_ylabel("cohort (first purchase)")
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
    ax.set_yticks(y, [str(v) for v in labels])
    ax.set_xlabel("lift: treated minus control response rate (percentage points)")
    ax.set_title("Campaign lift with its confidence interval")
    ax.legend(loc="lower right", fontsize=8)
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
    for xi, v, n in zip(x, score, nps_table[experience.N], strict=True):
        ax.annotate(
            f"n={n}",
            (xi, 0),
            xytext=(0, -12 if v >= 0 else 4),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_xticks(x, [str(g) for g in nps_table.index])
    ax.set_ylim(-100, 100)
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
        ax.bar(x, values, bottom=bottom, label=str(channel))
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
    ax.legend(fontsize=8, ncol=2)
    return ax
