"""Measuring the effect: campaign lift with its interval and cost per incremental responder.

The groups and the uplift formula are shared with IDIC's offers and live in
:mod:`crmlib.analytics.uplift`; QCi adds the campaigns' names and costs.
"""

from __future__ import annotations

import pandas as pd

from crmlib.analytics.uplift import campaign_uplift
from crmlib.data import schema as s
from crmlib.models.qci._common import COST_PER_INCREMENTAL, INCREMENTAL, LIFT

# --- measuring the effect ----------------------------------------------------------------------


def campaign_lift(
    responses: pd.DataFrame,
    campaigns: pd.DataFrame | None = None,
    level: float = 0.95,
    method: str = "newcombe",
) -> pd.DataFrame:
    """Lift of each campaign: response rate of the treated minus that of the control group.

    ``lift = x_t / n_t - x_c / n_c`` with its confidence interval
    (:func:`crmlib.analytics.uplift.campaign_uplift`, Newcombe 1998 by default). A lift
    whose interval lies above 0 is evidence the campaign caused purchases;
    the response rate of the treated alone (what a CRM system usually
    reports as "responders") also counts customers who would have bought
    anyway. Measuring against a control group is QCi's "measuring the
    effect" (Woodcock, Stone & Foss 2003, ch. 1).

    Parameters
    ----------
    responses : DataFrame
        From :func:`crmlib.analytics.uplift.campaign_groups`.
    campaigns : DataFrame, optional
        Adds ``name`` and ``cost``, and the cost per incremental responder.
    level : float, default 0.95
    method : {"newcombe", "wald"}

    Returns
    -------
    DataFrame
        Index campaign_id; columns control_kind, n_treated, responders_treated,
        rate_treated, n_control, responders_control, rate_control, lift,
        ci_low, ci_high, incremental_responders (lift x n_treated); with
        campaigns also name, cost and cost_per_incremental (NaN unless the
        lift is above 0). Campaigns lacking a treated or a control customer
        are left out.
    """
    table = campaign_uplift(responses, level=level, method=method)
    if campaigns is not None and s.CAMPAIGN_ID in campaigns.columns:
        info = campaigns.drop_duplicates(s.CAMPAIGN_ID).set_index(s.CAMPAIGN_ID)
        if s.NAME in info.columns:
            table.insert(0, s.NAME, info[s.NAME].reindex(table.index))
        if s.COST in info.columns:
            table[s.COST] = info[s.COST].reindex(table.index)
            paid = table[INCREMENTAL].where(table[LIFT] > 0)
            table[COST_PER_INCREMENTAL] = table[s.COST] / paid
    return table
