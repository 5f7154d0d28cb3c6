"""Explorer of the value chain lesson: change a cost rate, watch the whale and the quadrants move.

A thin layer over :mod:`crmlib.analytics.costs`, :mod:`crmlib.models.value_chain` and
:mod:`crmlib.plots.value_chain`: the activity events are counted once, and
each change of a unit cost re-prices them and redraws.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import pandas as pd
from IPython.display import Image, display
from matplotlib.figure import Figure

from crmlib.analytics import concentration, costs, profitability
from crmlib.data import schema as s
from crmlib.errors import CRMError
from crmlib.models import value_chain as vc
from crmlib.plots.base import figure_png
from crmlib.plots.value_chain import plot_profitability_matrix, plot_whale_curve

__all__ = ["cost_rate_explorer"]


def cost_rate_explorer(
    data,
    cost_rates: pd.DataFrame | None = None,
    price: pd.Series | None = None,
    price_basis: str | None = None,
) -> widgets.VBox:
    """Choose a cost rate and change its unit cost: the whale curve and the quadrants redraw.

    The activity events (orders, deliveries, returns, tickets, contacts) are
    counted once with :func:`crmlib.analytics.costs.activity_events`; each change
    re-prices them (:func:`crmlib.analytics.costs.override_rates`), recomputes
    :func:`crmlib.analytics.profitability.customer_profitability` and redraws the whale
    curve and the profitability matrix. The quadrant lines stay where the
    client's own rates put them, so that customers can be seen crossing them.

    Parameters
    ----------
    data : crmlib.data.io.ClientData
        With transactions and cost rates.
    cost_rates : DataFrame, optional
        The starting rates; default the client's ``cost_rates`` table.
    price : Series, optional
        Net price per customer (:func:`crmlib.models.value_chain.net_price`); computed when None.
    price_basis : str, optional
        What ``price`` measures (:func:`crmlib.models.value_chain.net_price_basis`).

    Returns
    -------
    ipywidgets.VBox
        The explorer. ``explorer.rate`` (the rate chosen), ``explorer.unit_cost``
        (its slider) and ``explorer.reset`` are the controls;
        ``explorer.summary`` is the text and ``explorer.state`` a dict holding
        the current ``cost_rates``, ``profitability`` and ``whale`` summary.

    Raises
    ------
    CRMError
        When there are no cost rates to change.
    """

    def table(name):
        return data.table(name)

    rates = cost_rates if cost_rates is not None else table("cost_rates")
    if rates is None:
        raise CRMError("the cost-rate explorer needs cost rates, and these data have none")
    base = costs.check_cost_rates(rates)
    events = costs.activity_events(
        data.transactions, table("tickets"), table("interactions"), as_of=data.as_of
    )
    basis = price_basis or vc.net_price_basis(data)
    price = price if price is not None else vc.net_price(data, basis)
    start = profitability.customer_profitability(data, base, events=events)
    reference = vc.profitability_matrix(start, price, price_basis=basis)

    keys = [costs.rate_key(a, c) for a, c in zip(base[s.ACTIVITY], base[s.CHANNEL], strict=True)]
    original = dict(zip(keys, base[s.UNIT_COST_RATE].astype(float), strict=True))
    changed: dict[str, float] = {}
    rate = widgets.Dropdown(options=keys, value=keys[0], description="cost rate")
    unit_cost = widgets.FloatSlider(
        value=original[keys[0]],
        min=0.0,
        max=max(3 * original[keys[0]], 1.0),
        step=0.05,
        description="unit cost",
        continuous_update=False,
        readout_format=".2f",
    )
    reset = widgets.Button(description="reset all rates")
    summary = widgets.HTML()
    chart = widgets.Output()
    state: dict = {}
    choosing = {"now": False}

    def update() -> None:
        new_rates = costs.override_rates(base, changed)
        profit = profitability.customer_profitability(data, new_rates, events=events)
        whale = concentration.whale_summary(profit[profitability.PROFIT])
        matrix = vc.profitability_matrix(
            profit, price, reference.price_split, reference.cost_split, price_basis=basis
        )
        counts = matrix.summary()[vc.CUSTOMERS]
        state.update(cost_rates=new_rates, profitability=profit, whale=whale, matrix=matrix)
        edits = ", ".join(
            f"{k} = {v:.2f} (was {original.get(k, 0):.2f})" for k, v in changed.items()
        )
        summary.value = (
            f"<p>Rates changed: {html.escape(edits) or 'none'}.</p>"
            f"<p>Total profit <b>{whale[vc.TOTAL]:,.0f}</b>; the top 20 % of customers earn "
            f"<b>{whale[concentration.TOP_SHARE]:.0%}</b> of it; the curve peaks at "
            f"<b>{whale[concentration.PEAK_SHARE]:.0%}</b>; <b>{whale[concentration.LOSS_MAKING_SHARE]:.0%}</b> of "
            f"customers lose money.</p><p>Quadrants: "
            + ", ".join(f"{html.escape(q)} {n:,}" for q, n in counts.items())
            + "</p>"
        )
        # a fixed layout: about half the drawing time of a constrained one, for a quick redraw
        figure = Figure(figsize=(12, 4.5))
        figure.subplots_adjust(left=0.06, right=0.8, bottom=0.12, top=0.92, wspace=0.22)
        left, right = figure.subplots(1, 2)
        plot_whale_curve(concentration.concentration_curve(profit[profitability.PROFIT]), ax=left, label=profitability.profit_basis(profit))
        plot_profitability_matrix(matrix, ax=right)
        with chart:
            chart.clear_output(wait=True)
            display(Image(figure_png(figure, dpi=80)))

    def on_rate(change) -> None:
        key = change["new"]
        value = changed.get(key, original[key])
        choosing["now"] = True  # moving the slider to the chosen rate is not a change
        unit_cost.max = max(3 * original[key], value, 1.0)
        unit_cost.value = value
        choosing["now"] = False

    def on_cost(change) -> None:
        if choosing["now"]:
            return
        changed[rate.value] = float(change["new"])
        update()

    def on_reset(_button) -> None:
        changed.clear()
        on_rate({"new": rate.value})
        update()

    rate.observe(on_rate, names="value")
    unit_cost.observe(on_cost, names="value")
    reset.on_click(on_reset)
    update()
    box = widgets.VBox([widgets.HBox([rate, unit_cost, reset]), summary, chart])
    box.rate, box.unit_cost, box.reset, box.summary, box.state = (
        rate,
        unit_cost,
        reset,
        summary,
        state,
    )
    return box
