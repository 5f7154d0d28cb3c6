"""Charts of the Payne & Frow lesson (:mod:`crmlib.models.payne_frow`).

Every function is ``plot_*(..., ax=None) -> Axes``: it draws only on ``ax``
and creates a :class:`matplotlib.figure.Figure` (outside pyplot) only when
``ax`` is None (:func:`crmlib.plots.base.new_axes`).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.ticker import PercentFormatter

from crmlib.analytics.assessment import NAME, AssessmentResult
from crmlib.analytics.metrics import format_money
from crmlib.data import schema as s
from crmlib.errors import CRMError
from crmlib.models import payne_frow as pf
from crmlib.plots.base import new_axes
from crmlib.plots.style import money_axis

__all__ = [
    "plot_channel_mix",
    "plot_channel_paths",
    "plot_data_quality",
    "plot_equity_curve",
    "plot_experience_by_channel",
    "plot_kpi_trend",
    "plot_readiness",
    "plot_scorecard",
    "plot_segment_profile",
    "plot_strategy_matrix",
]

RAG_COLOURS = {pf.GREEN: "tab:green", pf.AMBER: "orange", pf.RED: "tab:red", pf.NO_DATA: "0.7"}
#: KPIs that are shares (0-1), shown in percent.
SHARE_KPIS = (pf.RETENTION, pf.WALLET, pf.SATISFIED)


def _spread_labels(ax: Axes, x, y, radius_pt, labels, fontsize: float = 9.0) -> None:
    """Name each bubble where the name overlaps neither another name nor a bubble.

    Work in display units: each name (wrapped at 18 characters) tries the
    places above, below, right and left of its bubble, then the same places
    one step further out, and so on, and takes the first whose box clears
    every bubble and every name placed before it (the largest bubbles are
    named first). A name placed away from its bubble gets a thin leader line.
    The y limit grows to keep the names inside the axes.
    """
    scale = ax.figure.dpi / 72.0  # points to pixels
    to_pixels = ax.transData
    line_height = fontsize * 1.3 * scale
    centres = to_pixels.transform(np.column_stack([x, y]))
    radii = np.asarray(radius_pt, dtype=float) * scale
    obstacles = [
        (cx - r, cy - r, cx + r, cy + r) for (cx, cy), r in zip(centres, radii, strict=True)
    ]

    def clear(box, own: int) -> bool:
        for k, (left, bottom, right, top) in enumerate(obstacles):
            if k == own:
                continue
            if box[0] < right and box[2] > left and box[1] < top and box[3] > bottom:
                return False
        return True

    inverse = to_pixels.inverted()
    top_needed = ax.get_ylim()[1]
    for i in np.argsort(-radii, kind="stable"):
        text = textwrap.fill(str(labels[i]), 18)
        parts = text.split("\n")
        width = max(len(part) for part in parts) * fontsize * 0.6 * scale
        height = len(parts) * line_height
        (cx, cy), r = centres[i], radii[i]
        gap = 3 * scale
        chosen = None
        for step in range(12):
            reach = r + gap + step * line_height
            for dx, dy in ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)):
                left = cx - width / 2 + dx * (reach + width / 2)
                bottom = cy - height / 2 + dy * (reach + height / 2)
                box = (left, bottom, left + width, bottom + height)
                if clear(box, i):
                    chosen = (box, step > 0 or (dx and dy))
                    break
            if chosen:
                break
        if chosen is None:  # nowhere free nearby: above the bubble, as before
            box = (cx - width / 2, cy + r + gap, cx + width / 2, cy + r + gap + height)
            chosen = (box, False)
        box, lead = chosen
        obstacles.append(box)
        middle = inverse.transform(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2))
        ax.annotate(
            text,
            (x[i], y[i]),
            xytext=tuple(middle),
            textcoords="data",
            ha="center",
            va="center",
            fontsize=fontsize,
            arrowprops={"arrowstyle": "-", "color": "0.5", "linewidth": 0.6} if lead else None,
        )
        top_needed = max(top_needed, float(inverse.transform((0, box[3] + 4 * scale))[1]))
    ax.set_ylim(ax.get_ylim()[0], top_needed)


def _require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CRMError(f"{what} lacks the column(s) {', '.join(missing)}")


def plot_strategy_matrix(position: pf.StrategyPosition, ax: Axes | None = None) -> Axes:
    """The CRM strategy matrix with the client's position.

    Horizontal: how far offers are individualised; vertical: how much
    customer information is used (both 0-1, cut at the position's
    threshold). The quadrant names are Payne & Frow's (2005); the placement
    of the two middle strategies is the workbook's reading
    (:data:`crmlib.models.payne_frow.QUADRANTS`).

    Returns
    -------
    matplotlib.axes.Axes
        Four labelled quadrants and one marker at the client's position.
    """
    if not isinstance(position, pf.StrategyPosition):
        raise CRMError("plot_strategy_matrix needs a StrategyPosition (strategy_position)")
    ax = new_axes(ax, figsize=(6, 6))
    cut = position.threshold
    for (info, indiv), name in pf.QUADRANTS.items():
        x0, x1 = (cut, 1.0) if indiv else (0.0, cut)
        y0, y1 = (cut, 1.0) if info else (0.0, cut)
        here = name == position.quadrant
        ax.fill_between([x0, x1], y0, y1, color="tab:blue" if here else "0.92", alpha=0.25)
        ax.text(
            (x0 + x1) / 2,
            (y0 + y1) / 2,
            name.replace(" ", "\n", 1) if len(name) > 16 else name,
            ha="center",
            va="center",
            fontsize=10,
            fontweight="bold" if here else "normal",
            color="0.15" if here else "0.45",
        )
    ax.axvline(cut, color="0.4", linewidth=0.8)
    ax.axhline(cut, color="0.4", linewidth=0.8)
    ax.plot(
        [position.individualisation],
        [position.information],
        marker="o",
        markersize=12,
        color="tab:red",
        label="client",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("how far offers are individualised (0-1)")
    ax.set_ylabel("how much customer information is used (0-1)")
    ax.set_title("CRM strategy matrix")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the matrix, not in a quadrant
    return ax


def plot_segment_profile(
    profile: pd.DataFrame,
    ax: Axes | None = None,
    period: str | None = None,
    currency: str | None = "",
) -> Axes:
    """Segments by size (share of customers), value (revenue per customer) and growth (colour).

    Bubble area is the segment's revenue; the dashed line is the revenue per
    customer of all segments together; colour is the sign and size of revenue
    growth on a scale centred on 0: green grows, red shrinks, yellow about flat
    (grey when it cannot be measured).

    Parameters
    ----------
    profile : DataFrame
        From :func:`crmlib.models.payne_frow.segment_profile`.
    period : str, optional
        Over which period growth is measured (e.g. "2024-10-01 to 2024-12-31 against
        the 92 days before"): shown on the colour bar, so the colours are read with it.
    currency : str, default ""
        ISO code of the client's currency for the value axis
        (:func:`crmlib.plots.style.money_axis`).

    Returns
    -------
    matplotlib.axes.Axes
        One bubble per segment, each named above it; names that would overlap
        are moved up, with a leader line to their bubble.
    """
    columns = (pf.CUSTOMER_SHARE, pf.REVENUE_PER_CUSTOMER, s.REVENUE, pf.GROWTH, pf.CUSTOMERS)
    _require(profile, columns, "profile")
    if profile.empty:
        raise CRMError("the segment profile is empty: there is nothing to draw")
    ax = new_axes(ax, figsize=(7, 5))
    revenue = profile[s.REVENUE].clip(lower=0).to_numpy(dtype=float)
    sizes = 1500 * revenue / revenue.max() if revenue.max() > 0 else np.full(len(profile), 100.0)
    x = profile[pf.CUSTOMER_SHARE].to_numpy(dtype=float)
    y = profile[pf.REVENUE_PER_CUSTOMER].to_numpy(dtype=float)
    growth = profile[pf.GROWTH].to_numpy(dtype=float)
    known = np.isfinite(growth)
    ax.scatter(x[~known], y[~known], s=sizes[~known], color="0.7", alpha=0.6, edgecolor="0.3")
    if known.any():
        top = max(float(np.nanmax(np.abs(growth))), 1e-9)
        points = ax.scatter(
            x[known],
            y[known],
            s=sizes[known],
            c=growth[known],
            cmap="RdYlGn",
            vmin=-top,
            vmax=top,
            alpha=0.7,
            edgecolor="0.3",
        )
        label = "revenue growth" + (f"\n{period}" if period else "")
        ax.figure.colorbar(points, ax=ax, label=label, format=PercentFormatter(1))
    average = profile[s.REVENUE].sum() / profile[pf.CUSTOMERS].sum()
    ax.axhline(average, color="0.5", linestyle="--", linewidth=0.8, label="all customers")
    ax.set_xlim(0, min(1.0, x.max() * 1.2 + 0.02))
    ax.set_ylim(min(0.0, float(y.min()) * 1.1), max(float(y.max()), 1e-9) * 1.15)
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    money_axis(ax, currency)
    ax.set_xlabel("share of customers (size)")
    ax.set_ylabel("net revenue per customer (value)")
    ax.set_title("Segments by size, value and growth")
    # above the plot, right of the left-aligned title: never over a bubble or a name
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2)
    ax.figure.canvas.draw_idle()  # the colour bar has taken its room: place labels after it
    if ax.figure.get_layout_engine() is not None:
        ax.figure.get_layout_engine().execute(ax.figure)
    _spread_labels(ax, x, y, np.sqrt(sizes) / 2, list(profile.index))
    return ax


def plot_equity_curve(
    margin: float,
    retention: float,
    discount_rate: float,
    customers: float = 1.0,
    ax: Axes | None = None,
    currency: str | None = "",
) -> Axes:
    """Customer equity against the retention rate, with the current rate marked.

    ``equity(r) = customers * margin * r / (1 + d - r)``
    (:func:`crmlib.models.payne_frow.customer_equity`, Gupta & Lehmann 2003): the
    curve steepens as retention rises, so each point is worth more.

    Returns
    -------
    matplotlib.axes.Axes
        The curve and one marker at ``retention``.
    """
    current = pf.customer_equity(margin, retention, discount_rate, customers)
    ax = new_axes(ax, figsize=(7, 4.5))
    rates = np.linspace(0.0, 0.95, 96)
    equity = [pf.customer_equity(margin, r, discount_rate, customers) for r in rates]
    ax.plot(rates, equity, color="tab:blue")
    ax.plot([retention], [current], marker="o", markersize=9, color="tab:red")
    ax.annotate(
        f"r = {retention:.0%}: {format_money(current, currency)}",
        (retention, current),
        textcoords="offset points",
        xytext=(-10, 12),
        ha="right",
    )
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    money_axis(ax, currency)
    ax.set_xlabel("retention rate per period")
    ax.set_ylabel("customer equity")
    ax.set_title(f"Customer equity = N m r / (1 + d - r), d = {discount_rate:.1%}")
    return ax


def plot_channel_mix(mix: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Stacked bars: the share of each segment's orders in each channel.

    Parameters
    ----------
    mix : DataFrame
        From :func:`crmlib.models.payne_frow.channel_mix`.
    """
    shares = mix.drop(columns=[pf.ORDERS], errors="ignore")
    if shares.empty:
        raise CRMError("the channel mix is empty: there is nothing to draw")
    ax = new_axes(ax, figsize=(8, 0.5 * len(shares) + 1.5))
    left = np.zeros(len(shares))
    labels = [str(i) for i in shares.index]
    for channel in shares.columns:
        values = shares[channel].to_numpy(dtype=float)
        bars = ax.barh(labels, values, left=left, label=str(channel))
        ax.bar_label(
            bars, labels=[f"{v:.0%}" if v >= 0.06 else "" for v in values], label_type="center"
        )
        left += values
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of orders")
    ax.set_title("Channel mix by segment")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=len(shares.columns))
    return ax


def plot_channel_paths(paths: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Horizontal bars: the most common channel paths before a purchase, by share of orders.

    Parameters
    ----------
    paths : DataFrame
        From :func:`crmlib.models.payne_frow.channel_paths`.
    """
    _require(paths, (pf.PATH, pf.SHARE), "paths")
    if paths.empty:
        raise CRMError("there are no channel paths to draw")
    ax = new_axes(ax, figsize=(8, 0.45 * len(paths) + 1.5))
    bars = ax.barh(paths[pf.PATH], paths[pf.SHARE], color="tab:blue")
    ax.bar_label(bars, labels=[f"{v:.1%}" for v in paths[pf.SHARE]], padding=3)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.set_xlabel("share of orders")
    ax.set_title("Channel paths before a purchase")
    return ax


def plot_experience_by_channel(
    experience: pd.DataFrame, measure: str = pf.MEAN_CSAT, ax: Axes | None = None
) -> Axes:
    """Bars of one experience measure per channel, with the best channel's level.

    Parameters
    ----------
    experience : DataFrame
        From :func:`crmlib.models.payne_frow.experience_by_channel`.
    measure : {"mean_csat", "satisfied", "nps"}
    """
    if measure not in experience.columns:
        raise CRMError(
            f"the experience table has no {measure!r}; it has: {', '.join(experience.columns)}"
        )
    values = experience[measure].dropna().sort_values(ascending=False)
    if values.empty:
        raise CRMError(f"no channel has a {measure} value to draw")
    ax = new_axes(ax, figsize=(7, 4))
    best = float(values.iloc[0])
    names = [str(c) for c in values.index]
    heights = values.to_numpy(dtype=float)
    bars = ax.bar(names, heights, color="tab:blue")
    # a marker at every value, so that a value at or near 0 (an NPS of 0) is still seen
    ax.scatter(names, heights, marker="_", s=600, linewidths=2.5, color="0.15", zorder=3)
    if measure == pf.SATISFIED:
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], padding=3)
        ax.yaxis.set_major_formatter(PercentFormatter(1))
    else:
        ax.bar_label(bars, fmt="%.0f" if measure == s.NPS else "%.2f", padding=3)
    ax.axhline(best, color="tab:green", linestyle="--", linewidth=1, label="best channel")
    if measure == pf.MEAN_CSAT:
        ax.set_ylim(1, 5.3)
    if measure == s.NPS:
        ax.axhline(0, color="0.3", linewidth=0.8)
        low, high = min(0.0, float(heights.min())), max(0.0, float(heights.max()))
        pad = max(0.15 * (high - low), 3.0)  # room for the labels beyond the bars' ends
        ax.set_ylim(low - pad, high + pad)
    ax.set_ylabel(pf.KPI_LABELS.get(measure, measure))
    ax.set_title(f"{pf.KPI_LABELS.get(measure, measure)} by channel")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars, not over them
    return ax


def plot_data_quality(scores: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Heatmap of the data-quality scores: tables down, dimensions across.

    Parameters
    ----------
    scores : DataFrame
        :attr:`crmlib.analytics.quality.DataQualityAudit.scores` (0-1; NaN = no check
        of that dimension applies, drawn grey).
    """
    if scores.empty:
        raise CRMError("the audit has no table to draw")
    ax = new_axes(ax, figsize=(8, 0.5 * len(scores) + 1.5))
    values = scores.to_numpy(dtype=float)
    cmap = ListedColormap(["tab:red", "orange", "gold", "yellowgreen", "tab:green"])
    cmap = cmap.with_extremes(bad="0.85")  # no check of that dimension applies
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0.75, vmax=1.0, aspect="auto")
    ax.figure.colorbar(image, ax=ax, label="score (share of rows passing)")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            text = "n/a" if not np.isfinite(values[i, j]) else f"{values[i, j]:.1%}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8)
    ax.set_xticks(range(values.shape[1]), [str(c) for c in scores.columns])
    ax.set_yticks(range(values.shape[0]), [str(i) for i in scores.index])
    ax.set_title("Data quality by table and dimension")
    return ax


def plot_kpi_trend(
    kpis: pd.DataFrame,
    kpi: str,
    target: float | None = None,
    ax: Axes | None = None,
    freq: str | None = None,
) -> Axes:
    """One KPI per period, with its target as a dashed line.

    The periods are drawn one step apart and each tick names its period
    ("2024Q3", "2024-07"), so that a tick sits under its point whatever the
    period's length.

    Parameters
    ----------
    kpis : DataFrame
        From :func:`crmlib.models.payne_frow.kpi_table` (indexed by the start of each period).
    kpi : str
        A column of ``kpis``.
    target : float, optional
    freq : str, optional
        The periods' frequency (``"Q"``, ``"M"``): the ticks name the periods; None
        names them by their first day.
    """
    if kpi not in kpis.columns:
        raise CRMError(f"the KPI table has no {kpi!r}; it has: {', '.join(kpis.columns)}")
    series = kpis[kpi].dropna()
    if series.empty:
        raise CRMError(f"the KPI {kpi!r} has no value to draw")
    ax = new_axes(ax, figsize=(7, 3.5))
    positions = np.arange(len(series))
    ax.plot(positions, series.to_numpy(), marker="o", label=pf.KPI_LABELS.get(kpi, kpi))
    if target is not None:
        ax.axhline(float(target), color="tab:red", linestyle="--", label="target")
    starts = pd.DatetimeIndex(series.index)
    names = [str(p) for p in starts.to_period(freq)] if freq else [f"{d:%Y-%m-%d}" for d in starts]
    step = max(1, int(np.ceil(len(names) / 12)))
    ax.set_xticks(positions[::step], names[::step])
    ax.set_xlim(-0.5, len(series) - 0.5)
    if kpi in SHARE_KPIS:
        ax.yaxis.set_major_formatter(PercentFormatter(1))
    ax.set_xlabel("period")
    ax.set_ylabel(pf.KPI_LABELS.get(kpi, kpi))
    ax.set_title(f"{pf.KPI_LABELS.get(kpi, kpi)} per period")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def _figure(value: float) -> str:
    """Three significant figures as a client reads them, never an exponent (3,287 not 3.29e+03)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.3g}"


def plot_scorecard(card: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """The scorecard as bars of attainment (value against target), coloured red/amber/green.

    Attainment is value / target where higher is better and target / value
    where lower is better, so 100 % is on target either way; a KPI without
    data has no bar.

    Parameters
    ----------
    card : DataFrame
        From :func:`crmlib.models.payne_frow.scorecard`.
    """
    _require(card, (pf.LABEL, pf.VALUE, pf.TARGET, pf.STATUS, pf.DIRECTION), "scorecard")
    if card.empty:
        raise CRMError("the scorecard is empty: there is nothing to draw")
    ax = new_axes(ax, figsize=(8, 0.5 * len(card) + 1.5))
    value = card[pf.VALUE].astype(float)
    target = card[pf.TARGET].astype(float)
    higher = card[pf.DIRECTION].str.startswith("higher")
    with np.errstate(divide="ignore", invalid="ignore"):
        attainment = np.where(higher, value / target, target / value)
    # a negative ratio (e.g. an NPS below 0 against a positive target) is no attainment
    attainment = np.clip(np.where(np.isfinite(attainment), attainment, 0.0), 0.0, None)
    colours = [RAG_COLOURS.get(status, "0.7") for status in card[pf.STATUS]]
    names = [textwrap.fill(str(label), 34) for label in card[pf.LABEL]]
    ax.barh(names, attainment, color=colours)
    rows = np.arange(len(card))
    # a KPI with no attainment (e.g. an NPS below 0) has no bar: a marker at 0 shows it
    none = (attainment <= 0.0) & (card[pf.STATUS] != pf.NO_DATA).to_numpy()
    if none.any():
        ax.scatter(
            np.zeros(int(none.sum())),
            rows[none],
            marker="D",
            s=40,
            color=[c for c, n in zip(colours, none, strict=True) if n],
            zorder=3,
            clip_on=False,
        )
    labels = [
        pf.NO_DATA if status == pf.NO_DATA else f"{_figure(v)} vs target {_figure(t)}"
        for v, t, status in zip(value, target, card[pf.STATUS], strict=True)
    ]
    right = max(1.0, float(np.nanmax(attainment)))
    for row, (label, reach) in enumerate(zip(labels, attainment, strict=True)):
        # right of the bar and of the 100 % line, so that the line never crosses the text
        ax.text(max(reach, 1.0) + 0.03 * right, row, label, va="center", fontsize=8)
    ax.axvline(1.0, color="0.3", linestyle="--", linewidth=1)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.set_xlim(0, right * 1.45)
    ax.set_xlabel("attainment of target (100 % = on target)")
    ax.set_title("CRM KPI scorecard")
    return ax


def plot_readiness(result: AssessmentResult, ax: Axes | None = None) -> Axes:
    """Reality score of each implementation factor over the bank's stage bands.

    Parameters
    ----------
    result : AssessmentResult
        The scored ``payne_frow_readiness`` bank (:func:`crmlib.analytics.assessment.score`).
    """
    if not isinstance(result, AssessmentResult):
        raise CRMError(
            "plot_readiness needs the AssessmentResult of crmlib.analytics.assessment.score"
        )
    bank = result.bank
    areas = result.areas.iloc[::-1]  # first factor at the top
    ax = new_axes(ax, figsize=(8, 0.6 * len(areas) + 1.5))
    bounds = [lower for lower, _ in bank.stages] + [bank.scale_max]
    shades = np.linspace(0.95, 0.8, max(len(bank.stages), 1))
    for (lower, name), upper, shade in zip(bank.stages, bounds[1:], shades, strict=False):
        ax.axvspan(lower, upper, color=str(shade), zorder=0)
        ax.text((lower + upper) / 2, len(areas) - 0.45, name, ha="center", fontsize=8, color="0.3")
    bars = ax.barh(areas[NAME], areas[s.REALITY], color="tab:orange", zorder=2)
    ax.bar_label(bars, fmt="%.1f", padding=3)
    ax.set_xlim(bank.scale_min, bank.scale_max)
    ax.set_ylim(-0.6, len(areas) - 0.2)
    ax.set_xlabel(f"reality ({bank.unit})")
    ax.set_title("Implementation readiness by factor")
    return ax
