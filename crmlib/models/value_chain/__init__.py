"""Buttle's CRM value chain: the five primary stages measured from client data.

Francis Buttle's CRM value chain (Buttle & Maklan, *Customer Relationship
Management: Concepts and Technologies*, Routledge; built on Porter's
value chain, Porter, *Competitive Advantage*, Free Press 1985) has five
primary stages, each resting on five supporting conditions (leadership &
culture, procurement, HR, IT / data, organisation design: the ``value_chain``
question bank of :mod:`crmlib.analytics.assessment`, tied back to the stages by
:func:`conditions_by_stage`). What the data can show per stage:

Customer portfolio analysis
    Which customers create value: :func:`customer_profitability` (revenue -
    product cost - activity-based cost-to-serve, :mod:`crmlib.analytics.costs`), the
    whale curve and its figures (:func:`whale_curve`, :func:`whale_summary`,
    :func:`profit_gini`), ABC classes (:func:`abc_classes`), the profitability
    matrix of net price against cost-to-serve (:func:`net_price`,
    :func:`profitability_matrix`) and strategically significant customers
    (:func:`strategic_flags`).
Customer intimacy
    What the organisation knows about each customer (:func:`customer_knowledge`)
    and where knowledge is thin for valuable customers (:func:`knowledge_by_value`,
    :func:`thin_knowledge`, said in one sentence by :func:`knowledge_headline`).
Network development
    Partners and suppliers named in the data (:func:`partner_columns`) and
    the experience and value of the customers each serves
    (:func:`partner_performance`).
Value proposition development
    Per segment (:func:`needs_segments` from surveys, else a value class):
    what they buy, through which channels, what they value and what they
    cost (:func:`value_proposition`), small cells suppressed.
Relationship management
    Lifecycle stages by explicit rules (:func:`lifecycle_stages`), their
    counts per period (:func:`stage_counts`), the migration between two dates
    (:func:`migration_matrix`) and the acquisition / retention / development
    split of revenue (:func:`revenue_sources`).

Conventions: a *purchase* is a transaction line with revenue >= 0 (a
negative line is a return, as in :mod:`crmlib.data.io`); ``as_of`` is the last
day observed, inclusive (default ``data.as_of``, else the last order date).
"""

from crmlib.models.value_chain._common import (
    ABC_CLASS,
    ABC_CLASSES,
    ACQUISITION,
    ACTIVE,
    AGGRESSIVE,
    AT_RISK,
    BARGAIN_BASEMENT,
    BENCHMARK,
    CARRIAGE_TRADE,
    CHANNEL_MIX,
    CLASS_A,
    CLASS_B,
    CLASS_C,
    CLASS_D,
    COMPLETE_PROFILE,
    CONDITIONS,
    COST_PER_ORDER,
    COST_TO_SERVE_PER_CUSTOMER,
    COSTLY_TO_SERVE,
    CUSTOMER_SHARE,
    CUSTOMERS,
    DEVELOPMENT,
    DOOR_OPENER,
    FROM_STAGE,
    HIGH_FUTURE_VALUE,
    HIGH_VOLUME,
    INSPIRATION,
    JUDGEMENT_ONLY,
    LAPSED,
    LINES,
    LOSS_MAKING,
    MEAN_CSAT,
    MIN_CELL,
    NET_PRICE,
    NEW,
    NOT_YET,
    PARTNER,
    PARTNER_WORDS,
    PASSIVE,
    PERIOD_END,
    PRICE_BASES,
    PRICE_LIST,
    PRICE_ORDER,
    PRICE_UNIT,
    PROFILE_COMPLETENESS,
    PROFILE_FIELDS,
    PROFIT_PER_CUSTOMER,
    QUADRANT,
    QUADRANTS,
    RANK,
    REALITY_MEAN,
    RESOLUTION_HOURS,
    RETENTION,
    RETURN_RATE,
    REVENUE_PER_CUSTOMER,
    SHARE,
    STAGE,
    STAGES,
    STRATEGIC_SIGNIFICANCE,
    SUPPRESSED,
    SURVEYED,
    THIN,
    TICKETS_PER_CUSTOMER,
    TO_STAGE,
    TOP_CATEGORIES,
    TOTAL,
    TOUCHPOINTS,
    VALUE_GROUP,
    WEAKEST,
    WEAKEST_REALITY,
    WON_BACK,
    WON_BACK_REVENUE,
)
from crmlib.models.value_chain.conditions import (
    conditions_by_stage,
)
from crmlib.models.value_chain.intimacy import (
    customer_knowledge,
    knowledge_by_value,
    knowledge_headline,
    thin_knowledge,
)
from crmlib.models.value_chain.network import (
    partner_columns,
    partner_performance,
)
from crmlib.models.value_chain.portfolio import (
    ProfitabilityMatrix,
    abc_classes,
    net_price,
    net_price_basis,
    profitability_matrix,
    strategic_flags,
)
from crmlib.models.value_chain.proposition import (
    value_proposition,
)
from crmlib.models.value_chain.relationship import (
    lifecycle_stages,
    migration_matrix,
    revenue_sources,
    stage_counts,
)

__all__ = [
    "ProfitabilityMatrix",
    "abc_classes",
    "conditions_by_stage",
    "customer_knowledge",
    "knowledge_by_value",
    "knowledge_headline",
    "lifecycle_stages",
    "migration_matrix",
    "net_price",
    "net_price_basis",
    "partner_columns",
    "partner_performance",
    "profitability_matrix",
    "revenue_sources",
    "stage_counts",
    "strategic_flags",
    "thin_knowledge",
    "value_proposition",
    "RANK",
    "CUSTOMER_SHARE",
    "CUSTOMERS",
    "TOTAL",
    "ABC_CLASS",
    "CLASS_A",
    "CLASS_B",
    "CLASS_C",
    "CLASS_D",
    "ABC_CLASSES",
    "NET_PRICE",
    "PRICE_LIST",
    "PRICE_UNIT",
    "PRICE_ORDER",
    "PRICE_BASES",
    "COST_PER_ORDER",
    "QUADRANT",
    "CARRIAGE_TRADE",
    "AGGRESSIVE",
    "PASSIVE",
    "BARGAIN_BASEMENT",
    "QUADRANTS",
    "PROFIT_PER_CUSTOMER",
    "SHARE",
    "HIGH_FUTURE_VALUE",
    "HIGH_VOLUME",
    "BENCHMARK",
    "INSPIRATION",
    "DOOR_OPENER",
    "JUDGEMENT_ONLY",
    "STRATEGIC_SIGNIFICANCE",
    "COSTLY_TO_SERVE",
    "LOSS_MAKING",
    "PROFILE_COMPLETENESS",
    "TOUCHPOINTS",
    "SURVEYED",
    "VALUE_GROUP",
    "THIN",
    "COMPLETE_PROFILE",
    "PROFILE_FIELDS",
    "PARTNER_WORDS",
    "PARTNER",
    "LINES",
    "RETURN_RATE",
    "TICKETS_PER_CUSTOMER",
    "MEAN_CSAT",
    "RESOLUTION_HOURS",
    "REVENUE_PER_CUSTOMER",
    "COST_TO_SERVE_PER_CUSTOMER",
    "TOP_CATEGORIES",
    "CHANNEL_MIX",
    "SUPPRESSED",
    "MIN_CELL",
    "STAGE",
    "NEW",
    "WON_BACK",
    "ACTIVE",
    "AT_RISK",
    "LAPSED",
    "STAGES",
    "NOT_YET",
    "PERIOD_END",
    "FROM_STAGE",
    "TO_STAGE",
    "ACQUISITION",
    "RETENTION",
    "DEVELOPMENT",
    "WON_BACK_REVENUE",
    "CONDITIONS",
    "REALITY_MEAN",
    "WEAKEST",
    "WEAKEST_REALITY",
]
