"""Charts of the foundations lesson: the customer lifecycle, revenue concentration,
customers over time."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from crmlib.analytics import concentration
from crmlib.models.value_chain import ACTIVE, AT_RISK, LAPSED, NEW, WON_BACK
from crmlib.plots.base import new_axes
from crmlib.plots.style import PALETTE

#: The customer lifecycle as the foundations lesson draws it: each department, what it
#: does for the customer, and the move between the lifecycle stages of the CRM value
#: chain (:data:`crmlib.models.value_chain.STAGES`, lesson 03) on the way to the next.
LIFECYCLE = (
    ("marketing", "attract and acquire;\nretain and win back", f"prospect → {NEW}"),
    ("sales", "convert and sell;\ncross-sell, up-sell", f"{NEW} → {ACTIVE}"),
    (
        "operations",
        "deliver, serve,\nsolve problems",
        f"{ACTIVE} → {AT_RISK} → {LAPSED};\nwin-back → {WON_BACK}",
    ),
)

#: The most points :func:`plot_lorenz_curve` draws: its line is smooth at any width a
#: report or a notebook gives it well before this many.
LORENZ_POINTS = 2_000


def plot_lifecycle(ax: Axes | None = None) -> Axes:
    """The customer lifecycle: marketing → sales → operations → back to marketing.

    Each department is a box saying what it does for the customer; each arrow says how
    the customer moves between the CRM value chain's lifecycle stages (new, active, at
    risk, lapsed, won back: :func:`crmlib.models.value_chain.lifecycle_stages`, Buttle &
    Maklan's relationship management) on the way to the next department. The arrow from
    operations back to marketing closes the loop: retention, cross-selling and win-back
    are marketing and sales again.

    Returns
    -------
    matplotlib.axes.Axes
        Three boxes (:data:`LIFECYCLE`) and three arrows, axes switched off.
    """
    ax = new_axes(ax, figsize=(7, 5))
    # the three departments on a circle, marketing at the top, clockwise
    angles = np.pi / 2 - np.arange(len(LIFECYCLE)) * 2 * np.pi / len(LIFECYCLE)
    centres = [(0.5 + 0.34 * np.cos(a), 0.5 + 0.34 * np.sin(a)) for a in angles]
    for i, ((name, does, _), (x, y)) in enumerate(zip(LIFECYCLE, centres, strict=True)):
        ax.text(
            x,
            y,
            f"{name.upper()}\n{does}",
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.6", "facecolor": "white", "edgecolor": PALETTE[i]},
        )
    for i, (_, _, move) in enumerate(LIFECYCLE):
        (x0, y0), (x1, y1) = centres[i], centres[(i + 1) % len(centres)]
        ax.annotate(
            "",
            xy=(x0 + 0.72 * (x1 - x0), y0 + 0.72 * (y1 - y0)),
            xytext=(x0 + 0.28 * (x1 - x0), y0 + 0.28 * (y1 - y0)),
            arrowprops={
                "arrowstyle": "-|>",
                "color": "0.3",
                "connectionstyle": "arc3,rad=-0.35",
                "linewidth": 1.2,
            },
        )
        # the stage move, just outside its arrow's bend
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        dx, dy = mx - 0.5, my - 0.5
        norm = max(float(np.hypot(dx, dy)), 1e-9)
        side = "center" if abs(dx) < 1e-6 else ("left" if dx > 0 else "right")
        ax.text(
            0.5 + dx / norm * 0.32,
            0.5 + dy / norm * 0.32,
            move,
            ha=side,
            va="top" if side == "center" else "center",
            fontsize=8.5,
            style="italic",
            color="0.25",
        )
    ax.text(
        0.5,
        0.5,
        "the customer\nlifecycle",
        ha="center",
        va="center",
        fontsize=10,
        color="0.45",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("The customer lifecycle, with the value chain's stages")
    return ax


def plot_lorenz_curve(curve: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Cumulative revenue share against cumulative customer share.

    ``curve`` is :func:`crmlib.analytics.concentration.revenue_curve`; the diagonal is an
    even spread, and the 20 % mark shows the Pareto reading. A curve of more than
    :data:`LORENZ_POINTS` points is drawn through that many of them, evenly spaced along
    the customers, first and last included (a chart of 11 million points shows nothing
    more; the 20 % mark is read on the whole curve).
    """
    ax = new_axes(ax, figsize=(6, 4))
    x, y = curve[concentration.CUSTOMER_SHARE], curve[concentration.VALUE_SHARE]
    shown = np.unique(np.linspace(0, len(curve) - 1, min(len(curve), LORENZ_POINTS)).round())
    ax.plot(x.iloc[shown.astype(int)], y.iloc[shown.astype(int)], label="customers, largest first")
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
