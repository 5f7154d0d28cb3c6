"""Explorers of the foundations lesson: thin layers over crmlib.models.foundations."""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd
from IPython.display import Image, display

from crmlib.analytics.concentration import revenue_concentration, revenue_curve
from crmlib.models.foundations import ClientProfile, choose_model
from crmlib.plots.base import figure_png
from crmlib.plots.foundations import plot_lorenz_curve


def concentration_explorer(transactions: pd.DataFrame) -> widgets.VBox:
    """A slider for the top share of customers and the share of revenue they bring."""
    top = widgets.FloatSlider(
        value=0.2, min=0.01, max=1.0, step=0.01, description="top share", readout_format=".0%"
    )
    answer = widgets.HTML()
    plot = widgets.Output()
    curve = revenue_curve(transactions)

    def update(_=None):
        share = revenue_concentration(transactions, top=top.value)
        answer.value = (
            f"The top <b>{top.value:.0%}</b> of customers bring <b>{share:.1%}</b> of revenue."
        )
        with plot:
            plot.clear_output(wait=True)
            ax = plot_lorenz_curve(curve)
            ax.axvline(top.value, color="tab:green")
            display(Image(figure_png(ax.figure)))

    top.observe(update, names="value")
    update()
    return widgets.VBox([top, answer, plot])


def model_chooser(top20_revenue_share: float) -> widgets.VBox:
    """The chooser's interview questions as controls; the answer updates as they change."""
    needs = widgets.IntSlider(value=3, min=1, max=5, description="needs complexity")
    channels = widgets.IntSlider(value=3, min=1, max=5, description="channel inconsistency")
    diagnostic = widgets.Checkbox(value=False, description="wants a scored diagnostic")
    answer = widgets.HTML()

    def update(_=None):
        rec = choose_model(
            ClientProfile(top20_revenue_share, needs.value, diagnostic.value, channels.value)
        )
        items = "".join(
            f"<li><b>{m}</b> ({rec.scores[m]:.2f}): {rec.reasons[m]}</li>" for m in rec.scores.index
        )
        answer.value = f"<p>Recommended: <b>{rec.model}</b></p><ul>{items}</ul>"

    for control in (needs, channels, diagnostic):
        control.observe(update, names="value")
    update()
    return widgets.VBox([needs, channels, diagnostic, answer])
