"""The data beside the interview: measured evidence for each QCi area next to its score."""

from __future__ import annotations

import pandas as pd

from crmlib.analytics.acquisition import new_customers
from crmlib.analytics.assessment import NAME as AREA_NAME
from crmlib.analytics.assessment import TEXT as QUESTION_TEXT
from crmlib.analytics.experience import CI_LOW, SATISFIED, csat_table, nps
from crmlib.analytics.lapse import LAPSED_AFTER_DAYS
from crmlib.analytics.requirements import Need, missing_pieces
from crmlib.analytics.uplift import campaign_groups
from crmlib.data import schema as s
from crmlib.errors import CRMError
from crmlib.models.qci._common import (
    AREA,
    CONTROL_KIND,
    CROSS_SELL_RATE,
    HOLDOUT,
    MEASURE,
    QUESTION,
    UNIT,
    VALUE,
)
from crmlib.models.qci.effect import campaign_lift
from crmlib.models.qci.penetration import (
    penetration,
)
from crmlib.models.qci.retention import (
    churn_rate,
    repeat_rate,
)

# --- the data beside the interview -------------------------------------------------------------

#: Assessment questions of the ``qci`` bank that client data can speak to.
EVIDENCE_QUESTIONS = {
    "cma1": "customer_management_activity",  # acquisition tracked
    "cma2": "customer_management_activity",  # penetration tracked
    "cma3": "customer_management_activity",  # customers at risk identified
    "me2": "measuring_effect",  # campaigns measured against control groups
    "me3": "measuring_effect",  # satisfaction measured by segment and touchpoint
    "it2": "information_technology",  # data quality measured
    "pm3": "process_management",  # process performance measured
    "cx3": "customer_experience",  # easy to reach, the same answer in each channel
    "cx4": "customer_experience",  # feedback on the experience collected
}


def data_evidence(data, inactivity_days: int = LAPSED_AFTER_DAYS) -> pd.DataFrame:
    """The measures client data gives for the assessment questions it can speak to.

    Each row pairs a question of the ``qci`` bank with one measure from the
    tables the client folder holds (tables that are absent give no rows):

    * cma1 acquisition: new customers per month (mean over the last 12 months);
    * cma2 penetration: cross-sell rate (products);
    * cma3 retention: repeat rate and churn rate by the inactivity rule;
    * me2 measuring the effect: share of campaigns with a holdout, share of
      campaigns whose lift interval lies above 0 (interactions);
    * me3 satisfaction measured: NPS (surveys);
    * cx3 and cx4 experience: share of service contacts satisfied and CSAT
      answer rate (tickets);
    * it2 data quality: share of input values rejected in validation.

    A measure whose table or column is absent gives no row (absent is not 0).
    * pm3 process: median ticket resolution time in hours (tickets).

    Parameters
    ----------
    data : crmlib.data.io.ClientData
        A validated client folder (:func:`crmlib.data.datasets.load`).
    inactivity_days : int, default 180

    Returns
    -------
    DataFrame
        Columns area, question_id, measure, value, unit.
    """
    tx = data.transactions
    rows = []

    def add(question, measure, value, unit):
        rows.append(
            {
                AREA: EVIDENCE_QUESTIONS[question],
                QUESTION: question,
                MEASURE: measure,
                VALUE: float(value),
                UNIT: unit,
            }
        )

    customers = data.table("customers")
    monthly = new_customers(tx, customers, freq="M", as_of=data.as_of).sum(axis=1)
    add("cma1", "new customers per month (last 12 months)", monthly.tail(12).mean(), "customers")
    def holds(**columns) -> bool:  # the tables hold these columns, each with a value
        return not missing_pieces(data, Need(columns=columns))

    if holds(transactions=[s.PRODUCT_ID], products=[s.CATEGORY]):
        pen = penetration(tx, data.tables["products"], as_of=data.as_of)
        add("cma2", "cross-sell rate (2+ categories)", pen[CROSS_SELL_RATE], "share")
    add("cma3", "repeat rate", repeat_rate(tx, as_of=data.as_of), "share")
    add(
        "cma3",
        f"churn rate ({inactivity_days} days without a purchase)",
        churn_rate(tx, inactivity_days, as_of=data.as_of),
        "share",
    )
    if holds(interactions=[s.KIND, s.CAMPAIGN_ID]):
        inter = data.tables["interactions"]
        campaigns = data.table("campaigns")
        responses = campaign_groups(tx, inter, campaigns)
        if len(responses):
            lift = campaign_lift(responses, campaigns)
            held = responses.groupby(s.CAMPAIGN_ID)[CONTROL_KIND].first() == HOLDOUT
            add("me2", "campaigns with a holdout group", held.mean(), "share")
            if len(lift):
                add(
                    "me2",
                    "campaigns with lift above 0 (95 % CI)",
                    (lift[CI_LOW] > 0).mean(),
                    "share",
                )
    if holds(surveys=[s.NPS]):
        add("me3", "NPS", nps(data.tables["surveys"][s.NPS]), "points")
    if holds(tickets=[s.CSAT]):
        csat = csat_table(data.tables["tickets"]).iloc[0]
        add("cx4", "CSAT answer rate", csat["answer_rate"], "share")
        add("cx3", "CSAT share satisfied (4-5)", csat[SATISFIED], "share")
    if holds(tickets=[s.CLOSED_AT]):
        tickets = data.tables["tickets"]
        closed = tickets.dropna(subset=[s.CLOSED_AT])
        hours = (closed[s.CLOSED_AT] - closed[s.OPENED_AT]).dt.total_seconds() / 3600
        hours = hours[hours >= 0]
        if len(hours):
            add("pm3", "median ticket resolution time", hours.median(), "hours")
    read = sum(r.rows for r in data.reports.values())
    if read:
        add("it2", "input rows rejected in validation", len(data.rejects) / read, "share")
    return pd.DataFrame(rows, columns=[AREA, QUESTION, MEASURE, VALUE, UNIT])


def evidence_beside_scores(evidence: pd.DataFrame, result) -> pd.DataFrame:
    """Set the data's measures beside the interview's scores of the same questions.

    Parameters
    ----------
    evidence : DataFrame
        From :func:`data_evidence`.
    result : crmlib.analytics.assessment.AssessmentResult
        The scored ``qci`` assessment.

    Returns
    -------
    DataFrame
        The evidence with the area's name and the question's text, intention
        and reality scores (NaN when unanswered).
    """
    questions = result.bank.questions
    unknown = sorted(set(evidence[QUESTION]) - set(questions.index))
    if unknown:
        raise CRMError(f"the '{result.bank.id}' bank has no question {unknown[0]}")
    scores = result.questions.reindex(evidence[QUESTION])
    out = evidence.copy()
    out.insert(1, "area_name", result.areas[AREA_NAME].reindex(evidence[AREA]).to_numpy())
    out[QUESTION_TEXT] = questions[QUESTION_TEXT].reindex(evidence[QUESTION]).to_numpy()
    for dim in result.dimensions:
        out[dim] = scores[dim].to_numpy()
    return out
