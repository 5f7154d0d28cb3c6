"""Charts of an assessment: radar by area, intention-reality gaps, priority matrix.

Each function draws an :class:`crmlib.analytics.assessment.AssessmentResult` (see
:func:`crmlib.analytics.assessment.score` for how the scores, gaps and priorities are
computed) and only draws: no figure is created when ``ax`` is given. When
``ax`` is None a new :class:`matplotlib.figure.Figure` (outside pyplot) is
made; show it in a notebook with ``ax.figure``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from crmlib.analytics.assessment import (
    GAP,
    LABEL,
    NAME,
    RANK,
    VALUE,
    WEIGHT_SHARE,
    AssessmentResult,
)
from crmlib.data import schema as s
from crmlib.errors import CRMError
from crmlib.plots.base import new_axes
from crmlib.plots.style import PALETTE

__all__ = ["plot_assessment_gaps", "plot_assessment_radar", "plot_priority_matrix"]

_COLOURS = {s.INTENTION: PALETTE[5], s.REALITY: PALETTE[0]}  # reality: the client's practice
_BENCHMARK_COLOUR = "0.35"


def _wrap(name: str, width: int = 14) -> str:
    return "\n".join(textwrap.wrap(name, width)) or name


def _unit(result: AssessmentResult) -> str:
    unit = result.bank.unit
    return f" ({unit})" if unit else ""


def _benchmark_values(result: AssessmentResult, benchmark) -> tuple[np.ndarray, str]:
    """Benchmark per area: a bank benchmark id, a number, or a mapping of area id to value."""
    areas = result.areas.index
    bank = result.bank
    if isinstance(benchmark, str):
        if benchmark not in bank.benchmarks.index:
            known = ", ".join(bank.benchmarks.index) or "none"
            raise CRMError(
                f"benchmark '{benchmark}' is not one of the '{bank.id}' bank's benchmarks ({known})"
            )
        row = bank.benchmarks.loc[benchmark]
        return np.full(len(areas), float(row[VALUE])), str(row[LABEL])
    if isinstance(benchmark, (int, float)) and not isinstance(benchmark, bool):
        return np.full(len(areas), float(benchmark)), f"benchmark {benchmark:g}"
    if isinstance(benchmark, (Mapping, pd.Series)):
        values = pd.Series(dict(benchmark), dtype="float64").reindex(areas)
        return values.to_numpy(), "benchmark"
    raise CRMError(
        "benchmark must be a benchmark id of the bank, a number, or a mapping of area id to value"
    )


def plot_assessment_radar(result: AssessmentResult, benchmark=None, ax: Axes | None = None) -> Axes:
    """Radar chart of the area scores: one line per dimension, plus a benchmark.

    Parameters
    ----------
    result : AssessmentResult
        From :func:`crmlib.analytics.assessment.score`.
    benchmark : str, float or mapping, optional
        A benchmark id of the bank (e.g. ``"retail_average"`` for QCi's
        published CMAT average of retailers, drawn as a circle), a number, or
        a mapping of area id to value.
    ax : matplotlib Axes, optional
        A polar Axes to draw on; when None a figure with one is created.

    Returns
    -------
    matplotlib.axes.Axes
        One line per dimension scored (Intention, Reality), then the benchmark.
    """
    ax = new_axes(ax, figsize=(8, 8), polar=True)
    if ax.name != "polar":
        raise CRMError("plot_assessment_radar needs polar axes (projection='polar')")
    areas = result.areas
    n = len(areas)
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    closed = np.append(angles, angles[0])
    for dim in result.dimensions:
        values = areas[dim].to_numpy(dtype=float)
        ring = np.append(values, values[0])
        ax.plot(closed, ring, marker="o", color=_COLOURS[dim], label=dim.capitalize())
        ax.fill(
            closed, np.nan_to_num(ring, nan=result.bank.scale_min), color=_COLOURS[dim], alpha=0.1
        )
    if benchmark is not None:
        values, label = _benchmark_values(result, benchmark)
        ax.plot(
            closed,
            np.append(values, values[0]),
            linestyle="--",
            color=_BENCHMARK_COLOUR,
            label=label,
        )
    ax.set_xticks(angles, [_wrap(name) for name in areas[NAME]])
    ax.set_ylim(result.bank.scale_min, result.bank.scale_max)
    ax.set_title(f"{result.bank.title}{_unit(result)}", pad=24)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, frameon=False)
    return ax


def plot_assessment_gaps(result: AssessmentResult, ax: Axes | None = None) -> Axes:
    """Horizontal bars of the intention - reality gap per area.

    A positive gap means plans run ahead of practice (QCi's Intention above
    Reality): the organisation knows what to do but has not done it yet.

    Parameters
    ----------
    result : AssessmentResult
        From :func:`crmlib.analytics.assessment.score` on a bank scoring both dimensions.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One bar per area with both scores.
    """
    if GAP not in result.areas.columns:
        raise CRMError(
            f"the '{result.bank.id}' bank scores only reality: there is no intention-reality gap"
        )
    ax = new_axes(ax, figsize=(8, 0.5 * len(result.areas) + 1.5))
    gaps = result.areas.dropna(subset=[GAP]).iloc[::-1]  # first area at the top
    colours = ["tab:red" if g > 0 else "tab:green" for g in gaps[GAP]]
    bars = ax.barh(gaps[NAME], gaps[GAP], color=colours)
    ax.bar_label(bars, fmt="%.0f", padding=3)
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_xlabel(f"Intention - Reality{_unit(result)}")
    ax.set_title("Intention-reality gap by area (positive: plans ahead of practice)")
    return ax


def plot_priority_matrix(result: AssessmentResult, benchmark=None, ax: Axes | None = None) -> Axes:
    """Each area's reality score against its intention-reality gap: what to act on, and how.

    The priority of an area is weight share x (scale max - reality) (see
    :func:`crmlib.analytics.assessment.score`): with equal weights it is the reality
    score alone, so the x axis is the reality score and the areas furthest left come
    first (each point carries its rank; the key beside the axes names them). The y axis
    is the gap, which says what kind of action the area needs: high up, plans are in
    place and practice lags (deliver them); low down, there is little plan either
    (plan first). The point's area grows with the area's weight share, so unequal
    weights show.

    Parameters
    ----------
    result : AssessmentResult
        On a bank scoring intention and reality.
    benchmark : str or float, optional
        A benchmark id of the bank (e.g. ``"all_average"``) or a number: a dashed
        vertical line at that overall score.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One point per area with a reality and a gap score, at (reality, gap).
    """
    if GAP not in result.areas.columns:
        raise CRMError(
            f"the '{result.bank.id}' bank scores only reality: there is no intention-reality gap"
        )
    ax = new_axes(ax, figsize=(10, 6))
    bank = result.bank
    scored = result.priorities.dropna(subset=[s.REALITY, GAP])
    x, y = scored[s.REALITY].to_numpy(float), scored[GAP].to_numpy(float)
    sizes = 60 * scored[WEIGHT_SHARE].to_numpy(float) * len(result.areas)
    ax.scatter(x, y, s=sizes, color=PALETTE[0], zorder=3)
    # each point carries its rank, on the side away from its nearest neighbour
    for i, (rank, xi, yi) in enumerate(zip(scored[RANK], x, y, strict=True)):
        others = [j for j in range(len(x)) if j != i]
        nearest = min(others, key=lambda j: (x[j] - xi) ** 2 + (y[j] - yi) ** 2) if others else i
        right = x[nearest] <= xi
        ax.annotate(
            str(rank),
            (xi, yi),
            xytext=(8 if right else -8, 0),
            textcoords="offset points",
            ha="left" if right else "right",
            va="center",
            fontweight="bold",
        )
    key = "\n".join(
        f"{rank}. {_wrap(name, 30)} ({reality:.0f}; gap {gap:+.0f})".replace("\n", "\n    ")
        for rank, name, reality, gap in zip(scored[RANK], scored[NAME], x, y, strict=True)
    )
    ax.text(
        1.03,
        1.0,
        f"Priority (reality; gap)\n{key}",
        transform=ax.transAxes,
        va="top",
        fontsize=9,
    )
    ax.axhline(0, color="0.6", linewidth=0.8)
    if benchmark is not None:
        values, label = _benchmark_values(result, benchmark)
        ax.axvline(values[0], color=_BENCHMARK_COLOUR, linestyle="--", linewidth=1)
        ax.annotate(
            textwrap.fill(label, 18),
            (values[0], 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -4),
            textcoords="offset points",
            va="top",
            fontsize=8,
            color=_BENCHMARK_COLOUR,
        )
    ax.set_xlim(bank.scale_min, bank.scale_max)
    span = max(10.0, float(np.nanmax(np.abs(y))) if len(y) else 0.0)
    ax.set_ylim(min(-5.0, float(np.nanmin(y)) - 0.15 * span), float(np.nanmax(y)) + 0.2 * span)
    ax.text(
        0.01,
        0.98,
        "plans ahead of practice:\ndeliver them",
        transform=ax.transAxes,
        va="top",
        fontsize=8,
        color="0.4",
    )
    ax.text(
        0.01,
        0.02,
        "little plan and little practice:\nplan first",
        transform=ax.transAxes,
        va="bottom",
        fontsize=8,
        color="0.4",
    )
    ax.set_xlabel(f"Reality{_unit(result)}: further left, higher priority")
    ax.set_ylabel(f"Intention - Reality{_unit(result)}")
    ax.set_title("Priorities: lowest reality first; the gap says whether plans exist")
    return ax
