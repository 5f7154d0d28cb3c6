"""Payne & Frow's five cross-functional CRM processes, measured on client data.

Payne & Frow (2005), "A strategic framework for customer relationship
management", *Journal of Marketing* 69(4), 167-176, see CRM as five
cross-functional processes; Payne & Frow (2006), "Customer relationship
management: from strategy to implementation", *Journal of Marketing
Management* 22(1-2), 135-168, add four implementation factors. Each process
is measured here from what a client's records can show, and each function
names the source of its formula:

Strategy development
    Which segments matter by size, value and growth (:func:`segment_profile`)
    and where the client sits in the CRM strategy matrix, placed from
    measurable signals (:func:`strategy_signals`, :func:`strategy_position`).
Value creation
    The value the customer receives, per segment, from stated needs and
    experience scores (:func:`customer_value_by_segment`); the value the
    organisation receives: segment CLV (:func:`segment_value`), blended
    acquisition cost (:func:`acquisition_cost`), CLV/CAC (:func:`clv_to_cac`)
    and retention economics with the geometric retention model of Gupta &
    Lehmann (2003) (:func:`margin_multiple`, :func:`customer_equity`,
    :func:`retention_point_value`, :func:`retention_economics`).
Multichannel integration
    Channel mix per segment (:func:`channel_mix`), the channel paths before a
    purchase (:func:`channel_paths`), channel switching between orders
    (:func:`channel_switching`, :func:`switching_summary`) and the
    consistency of the experience across channels
    (:func:`experience_by_channel`, :func:`integration_breaks`).
Information management
    A data-quality audit of every table on five dimensions with the rows
    behind each finding (:func:`crmlib.analytics.quality.audit_data_quality`).
Performance assessment
    KPIs per period (:func:`kpi_table`), a scorecard with targets and a
    red/amber/green rule (:func:`scorecard`, :func:`rag_status`) and the link
    between what customers say and what they spend (:func:`value_after_survey`).
Implementation
    The stage of each readiness factor and the action each gap calls for
    (:func:`readiness_actions`; the scores come from :mod:`crmlib.analytics.assessment`).

Conventions shared with :mod:`crmlib.models.qci`: a *purchase* is a transaction line
with non-negative revenue; an *order* is a distinct ``order_id`` among
purchase lines (else the customer's purchase day and channel); ``as_of`` is
the last day observed, inclusive (default: the last order date).
"""

from crmlib.models.payne_frow._common import (
    ACTIVE,
    AMBER,
    AXIS,
    BEST_CHANNEL,
    BEST_VALUE,
    CAC,
    CHANGE,
    CLV,
    CLV_MEAN,
    CLV_SHARE,
    CLV_TOTAL,
    COST_TO_SERVE,
    COST_TO_SERVE_PER_CUSTOMER,
    CSAT_ANSWERS,
    CUSTOMER_SHARE,
    CUSTOMERS,
    DIRECTION,
    EVIDENCE,
    FROM_CHANNEL,
    GAP,
    GAP_TO_READY,
    GREEN,
    GROWTH,
    INDIVIDUAL_TARGETS,
    INDIVIDUALISATION,
    INFORMATION,
    INFORMATION_TABLES,
    KPI,
    KPI_LABELS,
    LABEL,
    LOWER_IS_BETTER,
    MARGIN_PER_CUSTOMER,
    MASS_TARGETS,
    MEAN_CSAT,
    MEASURE,
    NEW,
    NO_DATA,
    NO_TOUCH,
    NPS_ANSWERS,
    ORDER_CHANNEL,
    ORDERS,
    PATH,
    PERIOD,
    PREVIOUS,
    PROFIT_PER_CUSTOMER,
    QUADRANTS,
    RED,
    RESPONDENTS,
    RETAINED,
    RETENTION,
    REVENUE_AFTER,
    REVENUE_BEFORE,
    REVENUE_PER_CUSTOMER,
    REVENUE_RECENT,
    REVENUE_SHARE,
    SATISFIED,
    SEGMENT,
    SHARE,
    SIGNAL,
    STATUS,
    TARGET,
    TO_CHANNEL,
    TOP_NEED,
    TOUCHES,
    UNASSIGNED,
    VALUE,
    WALLET,
)
from crmlib.models.payne_frow.implementation import (
    readiness_actions,
)
from crmlib.models.payne_frow.multichannel import (
    channel_mix,
    channel_paths,
    channel_switching,
    experience_by_channel,
    integration_breaks,
    switching_summary,
)
from crmlib.models.payne_frow.performance import (
    baseline,
    kpi_table,
    kpi_targets,
    rag_status,
    scorecard,
    value_after_survey,
)
from crmlib.models.payne_frow.strategy import (
    StrategyPosition,
    default_segments,
    segment_profile,
    strategy_position,
    strategy_signals,
)
from crmlib.models.payne_frow.value_creation import (
    NewCustomerEconomics,
    RetentionEconomics,
    acquisition_cost,
    clv_to_cac,
    customer_equity,
    customer_value_by_segment,
    margin_multiple,
    new_customer_economics,
    retention_economics,
    retention_point_value,
    segment_value,
)

__all__ = [
    "RetentionEconomics",
    "StrategyPosition",
    "acquisition_cost",
    "baseline",
    "channel_mix",
    "channel_paths",
    "channel_switching",
    "NewCustomerEconomics",
    "clv_to_cac",
    "new_customer_economics",
    "customer_equity",
    "customer_value_by_segment",
    "default_segments",
    "experience_by_channel",
    "integration_breaks",
    "kpi_table",
    "kpi_targets",
    "margin_multiple",
    "rag_status",
    "readiness_actions",
    "retention_economics",
    "retention_point_value",
    "scorecard",
    "segment_profile",
    "segment_value",
    "strategy_position",
    "strategy_signals",
    "switching_summary",
    "value_after_survey",
    "SEGMENT",
    "UNASSIGNED",
    "CUSTOMERS",
    "CUSTOMER_SHARE",
    "REVENUE_SHARE",
    "REVENUE_PER_CUSTOMER",
    "REVENUE_RECENT",
    "REVENUE_BEFORE",
    "GROWTH",
    "SIGNAL",
    "AXIS",
    "VALUE",
    "EVIDENCE",
    "INFORMATION",
    "INDIVIDUALISATION",
    "RESPONDENTS",
    "TOP_NEED",
    "CLV",
    "CLV_MEAN",
    "CLV_TOTAL",
    "CLV_SHARE",
    "PROFIT_PER_CUSTOMER",
    "COST_TO_SERVE_PER_CUSTOMER",
    "ORDERS",
    "SHARE",
    "PATH",
    "TOUCHES",
    "ORDER_CHANNEL",
    "FROM_CHANNEL",
    "TO_CHANNEL",
    "MEASURE",
    "BEST_CHANNEL",
    "BEST_VALUE",
    "GAP",
    "CSAT_ANSWERS",
    "NPS_ANSWERS",
    "NO_TOUCH",
    "PERIOD",
    "ACTIVE",
    "NEW",
    "RETENTION",
    "MARGIN_PER_CUSTOMER",
    "CAC",
    "MEAN_CSAT",
    "SATISFIED",
    "COST_TO_SERVE",
    "WALLET",
    "KPI",
    "LABEL",
    "TARGET",
    "PREVIOUS",
    "CHANGE",
    "STATUS",
    "DIRECTION",
    "GREEN",
    "AMBER",
    "RED",
    "NO_DATA",
    "RETAINED",
    "REVENUE_AFTER",
    "GAP_TO_READY",
    "KPI_LABELS",
    "LOWER_IS_BETTER",
    "INFORMATION_TABLES",
    "MASS_TARGETS",
    "INDIVIDUAL_TARGETS",
    "QUADRANTS",
]
