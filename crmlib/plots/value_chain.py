"""Charts of the CRM value chain lesson (:mod:`crmlib.models.value_chain`).

Every function is ``plot_*(..., ax=None) -> Axes``: it draws only on ``ax``
and creates a :class:`matplotlib.figure.Figure` (outside pyplot) only when
``ax`` is None. The supporting conditions are charted with
:mod:`crmlib.plots.assessment`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from crmlib.analytics import concentration
from crmlib.errors import CRMError
from crmlib.models import value_chain as vc
from crmlib.plots.base import new_axes
from crmlib.plots.style import money_axis

__all__ = [
    "plot_lifecycle_stages",
    "plot_migration_matrix",
    "plot_profitability_matrix",
    "plot_whale_curve",
]

#: One colour per quadrant of the profitability matrix, in :data:`crmlib.models.value_chain.QUADRANTS` order.
QUADRANT_COLOURS = ("tab:purple", "tab:red", "tab:green", "tab:blue")
#: One colour per lifecycle stage, in :data:`crmlib.models.value_chain.STAGES` order.
STAGE_COLOURS = ("tab:cyan", "tab:olive", "tab:green", "tab:orange", "tab:gray")
MAX_POINTS = 5000  # the profitability matrix draws at most this many customers (every n-th)
#: The band above and below the points of the profitability matrix that holds the quadrant
#: names, as a share of the cost axis's range.
LABEL_MARGIN = 0.14


def _require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CRMError(f"{what} lacks the column(s) {', '.join(missing)}")


def plot_whale_curve(curve: pd.DataFrame, ax: Axes | None = None, label: str = "profit") -> Axes:
    """The whale curve: cumulative share of total profit against the share of customers.

    Parameters
    ----------
    curve : DataFrame
        From :func:`crmlib.analytics.concentration.concentration_curve`.
    ax : matplotlib Axes, optional
    label : str, default "profit"
        What the curve accumulates (e.g. "revenue" when costs are unknown).

    Returns
    -------
    matplotlib.axes.Axes
        The curve (first line) in percent, the 100 % line, the peak marked and
        annotated, and the loss-making tail shaded.
    """
    _require(curve, (concentration.CUSTOMER_SHARE, concentration.VALUE_SHARE), "the whale curve")
    if len(curve) < 2:
        raise CRMError("the whale curve is empty: there are no customers to draw")
    ax = new_axes(ax, figsize=(7, 4.5))
    x = curve[concentration.CUSTOMER_SHARE].to_numpy() * 100
    y = curve[concentration.VALUE_SHARE].to_numpy() * 100
    ax.plot(x, y, color="tab:blue", linewidth=2, label=f"cumulative {label}")
    ax.axhline(100, color="0.4", linestyle="--", linewidth=0.8, label=f"100 % of total {label}")
    peak = int(np.argmax(y))
    if y[peak] > y[-1] + 1e-9:  # a whale's back: mark its peak (a curve that only rises has none)
        ax.plot([x[peak]], [y[peak]], "o", color="tab:red")
        late = x[peak] > 50  # a peak on the right half: the note goes to its left, inside the axes
        ax.annotate(
            f"peak {y[peak]:.0f} % at {x[peak]:.0f} % of customers",
            (x[peak], y[peak]),
            xytext=(-8 if late else 8, 6),
            textcoords="offset points",
            ha="right" if late else "left",
            fontsize=9,
        )
    if peak < len(x) - 1 and y[peak] > y[-1]:
        ax.axvspan(x[peak], 100, color="tab:red", alpha=0.08, label="loss-making customers")
    ax.set_xlim(0, 100)
    ax.set_ylim(min(0.0, float(y.min())), max(105.0, float(y.max()) * 1.08))
    ax.xaxis.set_major_formatter(PercentFormatter(100))
    ax.yaxis.set_major_formatter(PercentFormatter(100))
    ax.set_xlabel(
        "customers, ranked from the most to the least profitable"
        if label == "profit"
        else f"customers, ranked from the highest to the lowest {label}"
    )
    ax.set_ylabel(f"cumulative share of total {label}")
    ax.set_title(f"Whale curve of customer {label}")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_profitability_matrix(
    matrix: vc.ProfitabilityMatrix, ax: Axes | None = None, currency: str | None = ""
) -> Axes:
    """Scatter of net price against cost-to-serve per order, with the quadrant lines.

    Parameters
    ----------
    matrix : crmlib.models.value_chain.ProfitabilityMatrix
        From :func:`crmlib.models.value_chain.profitability_matrix`.
    ax : matplotlib Axes, optional
    currency : str, default ""
        ISO code of the client's currency for the cost axis
        (:func:`crmlib.plots.style.money_axis`); "" shows plain numbers.

    Returns
    -------
    matplotlib.axes.Axes
        One scatter per non-empty quadrant (carriage trade, aggressive,
        passive, bargain basement, in that order), the split lines at
        ``matrix.price_split`` (vertical) and ``matrix.cost_split``
        (horizontal), and each quadrant's name in its corner, in a margin
        kept free of points (the limits are padded by :data:`LABEL_MARGIN`
        of the data's range). Above :data:`MAX_POINTS` customers every n-th
        is drawn.
    """
    table = matrix.customers
    _require(table, (vc.NET_PRICE, vc.COST_PER_ORDER, vc.QUADRANT), "the profitability matrix")
    if table.empty:
        raise CRMError("the profitability matrix is empty: there are no customers to draw")
    ax = new_axes(ax, figsize=(8, 5.5))
    step = max(1, int(np.ceil(len(table) / MAX_POINTS)))
    shown = table.iloc[::step]
    for name, colour in zip(vc.QUADRANTS, QUADRANT_COLOURS, strict=True):
        part = shown[shown[vc.QUADRANT] == name]
        if len(part):
            ax.scatter(
                part[vc.NET_PRICE],
                part[vc.COST_PER_ORDER],
                s=8,
                alpha=0.5,
                color=colour,
                label=f"{name} ({int((table[vc.QUADRANT] == name).sum()):,})",
            )
    ax.axvline(matrix.price_split, color="0.3", linewidth=0.9)
    ax.axhline(matrix.cost_split, color="0.3", linewidth=0.9)
    # the quadrant names sit in a band above and below the points, so no point hides them
    x = np.append(shown[vc.NET_PRICE].to_numpy(dtype=float), matrix.price_split)
    y = np.append(shown[vc.COST_PER_ORDER].to_numpy(dtype=float), matrix.cost_split)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    x_pad = max(float(np.ptp(x)), 1e-9) * 0.03
    y_pad = max(float(np.ptp(y)), 1e-9) * LABEL_MARGIN
    ax.set_xlim(float(x.min()) - x_pad, float(x.max()) + x_pad)
    ax.set_ylim(float(y.min()) - y_pad, float(y.max()) + y_pad)
    corners = {
        vc.CARRIAGE_TRADE: (0.99, 0.99, "right", "top"),
        vc.AGGRESSIVE: (0.01, 0.99, "left", "top"),
        vc.PASSIVE: (0.99, 0.01, "right", "bottom"),
        vc.BARGAIN_BASEMENT: (0.01, 0.01, "left", "bottom"),
    }
    for name, (cx, cy, ha, va) in corners.items():
        ax.text(
            cx,
            cy,
            name,
            transform=ax.transAxes,
            ha=ha,
            va=va,
            fontsize=9,
            fontweight="bold",
            color="0.25",
            bbox={
                "boxstyle": "round,pad=0.2",
                "facecolor": "white",
                "edgecolor": "none",
                "alpha": 0.85,
            },
            zorder=5,
        )
    if matrix.price_basis == vc.PRICE_LIST:
        ax.xaxis.set_major_formatter(PercentFormatter(1, decimals=0))
        ax.set_xlabel("net price: share of list price paid")
    else:
        ax.set_xlabel(f"net price: {vc.PRICE_BASES.get(matrix.price_basis, matrix.price_basis)}")
    money_axis(ax, currency)
    ax.set_ylabel("cost-to-serve per order")
    ax.set_title("Customer profitability matrix (Shapiro et al. 1987)")
    ax.legend(
        loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False, title="customers"
    )
    return ax


def plot_migration_matrix(
    matrix: pd.DataFrame, ax: Axes | None = None, shares: bool = True
) -> Axes:
    """Heatmap of lifecycle migration: stage at the start (rows) to stage at the end (columns).

    Parameters
    ----------
    matrix : DataFrame
        From :func:`crmlib.models.value_chain.migration_matrix` (counts).
    ax : matplotlib Axes, optional
    shares : bool, default True
        Colour by the share of each row (where that stage's customers went);
        every cell is labelled with its count.

    Returns
    -------
    matplotlib.axes.Axes
        One image with a cell per (from, to) pair.
    """
    if matrix.empty:
        raise CRMError("the migration matrix is empty: there is nothing to draw")
    ax = new_axes(ax, figsize=(7, 5))
    counts = matrix.to_numpy(dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    values = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    values = values if shares else counts
    image = ax.imshow(values, cmap="Blues", aspect="auto", vmin=0)
    ax.figure.colorbar(
        image,
        ax=ax,
        label="share of the row" if shares else "customers",
        format=PercentFormatter(1) if shares else None,
    )
    top = values.max() if values.size else 1.0
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            colour = "white" if values[i, j] > top / 2 else "black"
            ax.text(
                j, i, f"{counts[i, j]:,.0f}", ha="center", va="center", fontsize=8, color=colour
            )
    ax.set_xticks(range(counts.shape[1]), [str(c) for c in matrix.columns])
    ax.set_yticks(range(counts.shape[0]), [str(r) for r in matrix.index])
    ax.set_xlabel(f"stage at the end ({matrix.columns.name or 'to'})")
    ax.set_ylabel(f"stage at the start ({matrix.index.name or 'from'})")
    ax.set_title("Lifecycle migration between two dates")
    return ax


def plot_lifecycle_stages(counts: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Customers in each lifecycle stage at the end of every period, stacked.

    Parameters
    ----------
    counts : DataFrame
        From :func:`crmlib.models.value_chain.stage_counts`.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One stacked bar per period, one colour per stage (a BarContainer per stage).
    """
    if counts.empty:
        raise CRMError("there are no stage counts to draw")
    ax = new_axes(ax, figsize=(9, 4.5))
    x = np.arange(len(counts))
    bottom = np.zeros(len(counts))
    colours = dict(zip(vc.STAGES, STAGE_COLOURS, strict=True))
    for stage in counts.columns:
        values = counts[stage].to_numpy(dtype=float)
        ax.bar(x, values, bottom=bottom, color=colours.get(stage), label=str(stage))
        bottom += values
    ax.set_ylim(0, max(float(bottom.max()), 1.0) * 1.06)  # headroom above the tallest bar
    labels = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in counts.index]
    step = max(1, int(np.ceil(len(labels) / 12)))
    ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right")
    ax.set_ylabel("customers")
    ax.set_xlabel("end of period")
    ax.set_title("Customers by lifecycle stage")
    # beside the bars, not over them
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="stage")
    return ax
