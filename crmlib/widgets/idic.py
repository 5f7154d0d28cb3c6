"""Explorers of the IDIC lesson: thin layers over crmlib.models.idic, the CLV pipeline and the plots."""

from __future__ import annotations

import html

import ipywidgets as widgets
import pandas as pd
from IPython.display import display

from crmlib.analytics.clv import CLVPipeline
from crmlib.analytics.concentration import top_mask
from crmlib.data import schema as s
from crmlib.errors import CRMError
from crmlib.models import idic
from crmlib.plots.clv import plot_clv_distribution
from crmlib.plots.idic import plot_rfm_heatmap

_MEASURES = (idic.RECENCY_DAYS, s.ORDERS, idic.MONETARY)


def _as_text(cuts) -> str:
    return ", ".join(f"{c:g}" for c in cuts)


def rfm_explorer(values: pd.DataFrame, bins: int = 5) -> widgets.VBox:
    """Edit the RFM cut points (or the number of scores) and see scores and segments change.

    Parameters
    ----------
    values : pandas.DataFrame
        From :func:`crmlib.models.idic.rfm_values`.
    bins : int, default 5
        Starting number of scores; the cut points start at the quantiles.
    """
    count = widgets.IntSlider(value=bins, min=3, max=7, description="scores")
    boxes = {m: widgets.Text(description=m, layout=widgets.Layout(width="32em")) for m in _MEASURES}
    message = widgets.HTML()
    output = widgets.Output()

    def fill(_=None):
        for m, box in boxes.items():
            box.value = _as_text(idic.quantile_cuts(values[m], count.value))

    def update(_=None):
        try:
            cuts = {
                m: [float(x) for x in box.value.split(",") if x.strip()] for m, box in boxes.items()
            }
            scored = idic.rfm_scores(values, bins=count.value, cuts=cuts)
        except (CRMError, ValueError) as exc:
            message.value = f"<b>Check the cut points:</b> {html.escape(str(exc))}"
            return
        message.value = "Cut points are ascending; a score's bin is (previous cut, cut]."
        with output:
            output.clear_output(wait=True)
            display(plot_rfm_heatmap(scored, bins=count.value).figure)
            display(scored[idic.RFM_SEGMENT].value_counts().rename("customers").to_frame())

    fill()
    count.observe(lambda _: (fill(), update()), names="value")
    for box in boxes.values():
        box.observe(update, names="value")
    update()
    return widgets.VBox([count, *boxes.values(), message, output])


def clv_explorer(model: CLVPipeline, summary: pd.DataFrame) -> widgets.VBox:
    """Move the CLV horizon and the annual discount rate; see the CLV distribution change.

    Parameters
    ----------
    model : crmlib.analytics.clv.CLVPipeline
        Fitted on ``summary``.
    summary : pandas.DataFrame
        The customer summary the model was fitted on.
    """
    horizon = widgets.IntSlider(
        value=int(model.horizon_months), min=1, max=60, description="months"
    )
    rate = widgets.FloatSlider(
        value=float(model.annual_discount_rate),
        min=0.0,
        max=0.5,
        step=0.01,
        description="annual rate",
        readout_format=".0%",
    )
    answer = widgets.HTML()
    output = widgets.Output()

    def update(_=None):
        values = model.clv(summary, horizon_months=horizon.value, annual_discount_rate=rate.value)
        top = values[top_mask(values, 0.2)].sum()
        answer.value = (
            f"Total CLV <b>{values.sum():,.0f}</b> over {horizon.value} months at "
            f"{rate.value:.0%} a year; the top 20 % of customers hold "
            f"<b>{top / values.sum():.0%}</b> of it."
        )
        with output:
            output.clear_output(wait=True)
            display(plot_clv_distribution(values).figure)

    horizon.observe(update, names="value")
    rate.observe(update, names="value")
    update()
    return widgets.VBox([horizon, rate, answer, output])


def segment_drilldown(table: pd.DataFrame, column: str, rows: int = 10) -> widgets.VBox:
    """Pick a segment; see its size, its means and its first customers (ids and numbers only).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per customer (index customer_id), with ``column``. Columns
        holding personal data (name, e-mail, phone) are dropped.
    column : str
        The segment column, e.g. ``"rfm_segment"`` or ``"value_class"``.
    rows : int, default 10
    """
    if column not in table:
        raise CRMError(f"segment_drilldown: the table has no column {column!r}")
    table = table.drop(columns=[c for c in s.TABLES["customers"].pii if c in table])
    options = sorted(table[column].dropna().astype(str).unique())
    choice = widgets.Dropdown(options=options, description="segment")
    output = widgets.Output()
    numbers = table.select_dtypes("number").columns

    def update(_=None):
        part = table[table[column].astype(str) == choice.value]
        with output:
            output.clear_output(wait=True)
            display(
                widgets.HTML(
                    f"<b>{len(part):,}</b> customers ({len(part) / len(table):.0%} of "
                    f"{len(table):,}); their means:"
                )
            )
            display(part[numbers].mean().to_frame("mean").T.round(2))
            display(part.head(rows))

    choice.observe(update, names="value")
    update()
    return widgets.VBox([choice, output])
