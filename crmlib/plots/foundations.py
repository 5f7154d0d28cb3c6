"""Charts of the foundations lesson."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from crmlib.analytics import concentration
from crmlib.plots.base import new_axes


def plot_lorenz_curve(curve: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Cumulative revenue share against cumulative customer share.

    ``curve`` is :func:`crmlib.analytics.concentration.revenue_curve`; the diagonal is an
    even spread, and the 20 % mark shows the Pareto reading.
    """
    ax = new_axes(ax, figsize=(6, 4))
    x, y = curve[concentration.CUSTOMER_SHARE], curve[concentration.VALUE_SHARE]
    ax.plot(x, y, label="customers, largest first")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="even spread")
    top20 = float(y.iloc[concentration.top_count(len(curve) - 1, 0.2)])
    ax.axvline(0.2, color="tab:red", linewidth=0.8)
    ax.annotate(
        f"top 20 %: {top20:.0%} of revenue",
        (0.2, top20),
        xytext=(0.3, top20 - 0.15),
        arrowprops={"arrowstyle": "->"},
    )
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.yaxis.set_major_formatter(PercentFormatter(1))
    ax.set_xlabel("customers (cumulative)")
    ax.set_ylabel("revenue (cumulative)")
    ax.set_title("Revenue concentration")
    ax.legend(loc="lower right")
    return ax


def plot_customers_over_time(
    counts: pd.DataFrame, ax: Axes | None = None, already_customers: bool = False
) -> Axes:
    """New and active customers per period (:func:`crmlib.models.foundations.customers_over_time`).

    With ``already_customers`` (left-censored data, :func:`crmlib.analytics.periods.left_censoring`)
    the first period's "new" bar is grey and hatched and labelled as customers
    already there when the data start.
    """
    ax = new_axes(ax, figsize=(6, 4))
    ax.plot(counts.index, counts["active"], label="active", marker="o", markersize=3)
    first = 1 if already_customers and len(counts) > 1 else 0
    ax.bar(
        counts.index[first:],
        counts["new"].iloc[first:],
        width=20,
        alpha=0.5,
        label="new",
        color="tab:orange",
    )
    if first:
        ax.bar(
            counts.index[:1],
            counts["new"].iloc[:1],
            width=20,
            color="0.85",
            edgecolor="0.4",
            hatch="//",
            label="already customers when the data start",
        )
    ax.set_xlabel("period")
    ax.set_ylabel("customers")
    ax.set_title("Customers over time")
    ax.legend()
    return ax
