"""Measures of the QCi customer management model that client data can give.

The QCi model (Woodcock, Stone & Foss, *The Customer Management Scorecard:
Managing CRM for Profit*, Kogan Page 2003, ch. 1) has eight areas; an
interview-based assessment (CMAT) scores each, and :mod:`crmlib.analytics.assessment`
implements that scoring. Three areas can also be *measured* from a client's
records, and this module measures them, so that the interview's claims can be
set beside the data (data quality and ticket resolution times also speak to
information & technology and to process management: :func:`data_evidence`):

Customer management activity (the REAP levers: retention, efficiency, acquisition, penetration)
    * acquisition: new customers per period and acquisition channel
      (:func:`new_customers`), campaign spend per new customer
      (:func:`cost_per_acquisition`);
    * penetration: categories per customer, cross-sell rate and the share of
      a customer's spend in their top category (:func:`penetration`);
    * retention: the cohort retention matrix (:func:`cohort_retention`), the
      repeat rate (:func:`repeat_rate`) and churn by an explicit inactivity
      rule (:func:`churn_status`, :func:`churn_rate`,
      :func:`churn_rule_backtest`);
    * efficiency: activity-based cost-to-serve per unit of revenue
      (:func:`cost_to_serve`, :func:`cost_to_serve_ratio`).
Measuring the effect
    Campaign lift against a holdout (or, failing one, the non-contacted
    customers) with a confidence interval for the difference of two
    proportions (:func:`campaign_groups`, :func:`campaign_lift`,
    :func:`proportion_difference_ci`).
Customer experience
    NPS and CSAT overall and by group (:func:`nps`, :func:`nps_table`,
    :func:`csat_table`), NPS by the service a customer received
    (:func:`nps_by_service`) and the relation of both to retention
    (:func:`retention_after`).

:func:`data_evidence` collects the headline measures per assessment question
and :func:`evidence_beside_scores` sets them beside the interview's scores.

Conventions shared by every function: a *purchase* is a transaction line with
non-negative revenue (a negative line is a return, as in :mod:`crmlib.data.io`);
``as_of`` is the last day observed, inclusive (default: the last order date);
lines after it are ignored.
"""

from crmlib.analytics.uplift import campaign_groups
from crmlib.models.qci._common import (
    ACT_CONTACT,
    ACT_DELIVERY,
    ACT_ORDER,
    ACT_RETURN,
    ACT_TICKET,
    ACTIVITY_COST,
    AREA,
    CATEGORIES_PER_CUSTOMER,
    CHURNED,
    COHORT,
    COHORT_SIZE,
    CONTROL,
    CONTROL_KIND,
    COST_PER_INCREMENTAL,
    CROSS_SELL_RATE,
    CUSTOMERS,
    DAYS_INACTIVE,
    EVENTS,
    HOLDOUT,
    INCREMENTAL,
    JUDGED,
    KIND_CONTACT,
    KIND_HOLDOUT,
    LIFT,
    MEASURE,
    N_CATEGORIES,
    N_CONTROL,
    N_TREATED,
    NOT_CONTACTED,
    QUESTION,
    RATE_CONTROL,
    RATE_TREATED,
    RESPONDED,
    RESPONDERS_CONTROL,
    RESPONDERS_TREATED,
    TOP_CATEGORY,
    TOP_CATEGORY_SHARE,
    TREATED,
    UNIT,
    UNIT_COST,
    VALUE,
    WINDOW_END,
    WINDOW_START,
)
from crmlib.models.qci.effect import (
    campaign_lift,
)
from crmlib.models.qci.evidence import (
    EVIDENCE_QUESTIONS,
    data_evidence,
    evidence_beside_scores,
)
from crmlib.models.qci.penetration import (
    customer_categories,
    penetration,
)
from crmlib.models.qci.retention import (
    SQL_PERIODS,
    churn_rate,
    churn_rule_backtest,
    churn_status,
    cohort_retention,
    repeat_rate,
    summary_churn_rate,
    summary_repeat_rate,
)

__all__ = [
    "campaign_lift",
    "campaign_groups",
    "churn_rate",
    "churn_rule_backtest",
    "churn_status",
    "cohort_retention",
    "customer_categories",
    "data_evidence",
    "evidence_beside_scores",
    "penetration",
    "repeat_rate",
    "summary_churn_rate",
    "summary_repeat_rate",
    "EVIDENCE_QUESTIONS",
    "SQL_PERIODS",
    "COHORT",
    "COHORT_SIZE",
    "N_CATEGORIES",
    "TOP_CATEGORY",
    "TOP_CATEGORY_SHARE",
    "CUSTOMERS",
    "CATEGORIES_PER_CUSTOMER",
    "CROSS_SELL_RATE",
    "DAYS_INACTIVE",
    "JUDGED",
    "CHURNED",
    "EVENTS",
    "UNIT_COST",
    "ACTIVITY_COST",
    "ACT_ORDER",
    "ACT_DELIVERY",
    "ACT_RETURN",
    "ACT_TICKET",
    "ACT_CONTACT",
    "KIND_CONTACT",
    "KIND_HOLDOUT",
    "TREATED",
    "CONTROL",
    "RESPONDED",
    "WINDOW_START",
    "WINDOW_END",
    "CONTROL_KIND",
    "HOLDOUT",
    "NOT_CONTACTED",
    "N_TREATED",
    "N_CONTROL",
    "RESPONDERS_TREATED",
    "RESPONDERS_CONTROL",
    "RATE_TREATED",
    "RATE_CONTROL",
    "INCREMENTAL",
    "COST_PER_INCREMENTAL",
    "AREA",
    "MEASURE",
    "VALUE",
    "UNIT",
    "QUESTION",
    "LIFT",
]
