"""Explorers of the Payne & Frow lesson: thin layers over :mod:`crmlib.models.payne_frow`.

* :func:`scorecard_explorer`: move the KPI targets, watch the red/amber/green
  scorecard change (:func:`crmlib.models.payne_frow.scorecard`);
* :func:`equity_explorer`: move the retention rate, watch customer equity and
  the value of one more point of retention (:func:`crmlib.models.payne_frow.customer_equity`).
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import Image, display

from crmlib.models import payne_frow as pf
from crmlib.plots.base import figure_png
from crmlib.plots.payne_frow import RAG_COLOURS, plot_equity_curve, plot_scorecard

__all__ = ["equity_explorer", "scorecard_explorer"]


def _target_input(kpi: str, target: float) -> widgets.BoundedFloatText:
    step = 0.01 if abs(float(target)) <= 1 else 1.0  # shares move by points, counts by units
    return widgets.BoundedFloatText(
        value=float(target),
        min=-1e12,
        max=1e12,
        step=step,
        description=pf.KPI_LABELS.get(kpi, kpi)[:28],
        style={"description_width": "16em"},
        layout=widgets.Layout(width="26em"),
    )


def _card_html(card: pd.DataFrame) -> str:
    rows = []
    for _, row in card.iterrows():
        colour = RAG_COLOURS.get(row[pf.STATUS], "grey")
        value = "no data" if pd.isna(row[pf.VALUE]) else f"{row[pf.VALUE]:,.3g}"
        change = "" if pd.isna(row[pf.CHANGE]) else f"{row[pf.CHANGE]:+,.3g}"
        rows.append(
            f"<tr><td>{html.escape(str(row[pf.LABEL]))}</td><td>{value}</td><td>{change}</td>"
            f"<td>{row[pf.TARGET]:,.3g}</td>"
            f"<td style='background:{colour};color:white;padding:0 6px'>"
            f"{html.escape(str(row[pf.STATUS]))}</td></tr>"
        )
    head = "<tr><th>KPI</th><th>latest</th><th>change</th><th>target</th><th>status</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def scorecard_explorer(kpis: pd.DataFrame, targets: dict, tolerance: float = 0.10) -> widgets.VBox:
    """One box per KPI target and a slider for the amber band; the scorecard redraws.

    A thin layer over :func:`crmlib.models.payne_frow.scorecard` and
    :func:`crmlib.plots.payne_frow.plot_scorecard`.
    """
    inputs = {kpi: _target_input(kpi, target) for kpi, target in targets.items()}
    band = widgets.FloatSlider(
        value=float(tolerance),
        min=0.0,
        max=0.5,
        step=0.01,
        description="amber band",
        readout_format=".0%",
        continuous_update=False,
    )
    table = widgets.HTML()
    chart = widgets.Output()

    def update(_=None):
        card = pf.scorecard(kpis, {k: w.value for k, w in inputs.items()}, tolerance=band.value)
        table.value = _card_html(card)
        with chart:
            chart.clear_output(wait=True)
            display(Image(figure_png(plot_scorecard(card).figure)))

    for w in [*inputs.values(), band]:
        w.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([widgets.VBox(list(inputs.values())), band]), table, chart])


def equity_explorer(economics: pf.RetentionEconomics) -> widgets.VBox:
    """A slider for the retention rate: customer equity and the value of one more point.

    Starts at the retention the data show (:func:`crmlib.models.payne_frow.retention_economics`)
    and keeps its margin, discount rate and customer base.
    """
    rate = widgets.FloatSlider(
        value=round(float(economics.retention), 2),
        min=0.05,
        max=0.95,
        step=0.01,
        description="retention",
        readout_format=".0%",
    )
    answer = widgets.HTML()
    chart = widgets.Output()
    m, d, n = economics.margin, economics.discount_rate, economics.customers
    base = pf.customer_equity(m, economics.retention, d, n)

    def update(_=None):
        r = rate.value
        equity = pf.customer_equity(m, r, d, n)
        point = pf.retention_point_value(m, r, d, n) if r + 0.01 < 1 else np.nan
        answer.value = (
            f"<p>At <b>{r:.0%}</b> retention, {n:,} customers who each leave {m:,.2f} a period "
            f"({html.escape(economics.margin_basis)}) are worth <b>{equity:,.0f}</b> "
            f"({equity - base:+,.0f} against the {economics.retention:.1%} the data show); "
            f"one more point of retention adds <b>{point:,.0f}</b>.</p>"
        )
        with chart:
            chart.clear_output(wait=True)
            display(Image(figure_png(plot_equity_curve(m, r, d, n).figure)))

    rate.observe(update, names="value")
    update()
    return widgets.VBox([rate, answer, chart])
