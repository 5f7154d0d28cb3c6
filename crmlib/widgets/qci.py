"""Explorers of the QCi lesson: thin layers over :mod:`crmlib.models.qci` and its charts."""

from __future__ import annotations

import html

import ipywidgets as widgets
import pandas as pd
from IPython.display import Image, display

from crmlib.analytics import experience, intervals
from crmlib.analytics.lapse import LAPSED_AFTER_DAYS
from crmlib.errors import CRMError
from crmlib.models import qci
from crmlib.plots.base import figure_png
from crmlib.plots.qci import plot_campaign_lift

__all__ = ["lift_explorer", "retention_explorer"]


def retention_explorer(
    transactions: pd.DataFrame, as_of=None, inactivity_days: int = LAPSED_AFTER_DAYS
) -> widgets.VBox:
    """A slider for the inactivity rule: the churn rate it gives and how often it is wrong.

    Moving the slider recomputes :func:`crmlib.models.qci.churn_rate` and
    :func:`crmlib.models.qci.churn_rule_backtest` (the rule applied one rule-length
    in the past, then checked against what customers did next).
    """
    days = widgets.IntSlider(
        value=int(inactivity_days),
        min=30,
        max=540,
        step=15,
        description="inactive days",
        style={"description_width": "initial"},
        continuous_update=False,
    )
    answer = widgets.HTML()

    def update(_=None):
        rule = days.value
        rate = qci.churn_rate(transactions, rule, as_of=as_of)
        text = (
            f"<p>With <b>{rule} days</b> without a purchase as the rule, "
            f"<b>{rate:.1%}</b> of the customers who can be judged have churned.</p>"
        )
        try:
            test = qci.churn_rule_backtest(transactions, rule, as_of=as_of, horizon_days=rule)
        except CRMError as exc:
            text += f"<p>No back-test: {html.escape(str(exc))}</p>"
        else:
            text += (
                f"<p>Applied on {test['cutoff']:%Y-%m-%d}, the rule called "
                f"{test['churn_rate']:.1%} churned; <b>{test['came_back']:.1%}</b> of them "
                f"bought again in the next {rule} days (false alarms), and "
                f"{test['active_silent']:.1%} of those it called active did not buy.</p>"
            )
        answer.value = text

    days.observe(update, names="value")
    update()
    return widgets.VBox([days, answer])


def lift_explorer(responses: pd.DataFrame, campaigns: pd.DataFrame | None = None) -> widgets.VBox:
    """Choose the confidence level and the interval method; the lift chart redraws.

    A thin layer over :func:`crmlib.models.qci.campaign_lift` and
    :func:`crmlib.plots.qci.plot_campaign_lift`: compare the Newcombe and the
    Wald interval, and see which campaigns keep a lift above 0 as the level rises.
    """
    level = widgets.FloatSlider(
        value=0.95,
        min=0.80,
        max=0.99,
        step=0.01,
        description="confidence",
        readout_format=".0%",
        continuous_update=False,
    )
    method = widgets.ToggleButtons(options=list(intervals.METHODS), value="newcombe")
    answer = widgets.HTML()
    chart = widgets.Output()

    def update(_=None):
        table = qci.campaign_lift(responses, campaigns, level=level.value, method=method.value)
        above = int((table[experience.CI_LOW] > 0).sum())
        answer.value = (
            f"<p>{above} of {len(table)} campaigns have a lift whose {level.value:.0%} "
            f"{method.value} interval lies above 0.</p>"
        )
        with chart:
            chart.clear_output(wait=True)
            display(Image(figure_png(plot_campaign_lift(table).figure)))

    level.observe(update, names="value")
    method.observe(update, names="value")
    update()
    return widgets.VBox([level, method, answer, chart])
