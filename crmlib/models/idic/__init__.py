"""IDIC: Identify, Differentiate, Interact, Customize.

The four tasks of Peppers & Rogers' one-to-one relationship model (Don
Peppers & Martha Rogers, *Managing Customer Relationships: A Strategic
Framework*, Wiley, 2nd ed. 2011, ch. 4-5 for Identify and Differentiate; the
later chapters for Interact and Customize), each as tested code the lesson
``notebooks/01_idic.ipynb`` calls after showing its formula once.

Identify
    One customer per person: the workbook's record linkage, :mod:`crmlib.analytics.linkage`
    (splink's Fellegi-Sunter model; also used by Payne & Frow's information management and
    ``crm aggregate``), which lesson 01 calls as IDIC's first task.
Differentiate
    By value and by needs. :func:`rfm_values` and :func:`rfm_scores` (RFM
    quantile scores, Hughes, *Strategic Database Marketing*, 1994) with the
    named segments of :data:`RFM_SEGMENTS`; :class:`crmlib.analytics.clv.CLVPipeline` (CLV from
    BG/NBD + Gamma-Gamma) and :func:`crmlib.analytics.segments.value_tiers`;
    needs segments (:func:`crmlib.analytics.segments.needs_segments`, each respondent's
    highest-rated need, the one definition of every lesson);
    :func:`value_needs_portfolio` (MVC, MGC from each customer's
    wallet gap, :mod:`crmlib.analytics.wallet`; BZ from CLV after cost-to-serve), whose
    value-only classes (BZ, MVC) are :func:`value_classes`.
Interact
    :func:`contact_outcomes`, :func:`response_rates` and :func:`engagement`
    describe the interactions table; :class:`ChannelPropensity` learns each
    customer's propensity per channel with a Beta-Binomial update from a
    population prior (Gelman et al., *Bayesian Data Analysis*, 3rd ed. 2013,
    sec. 2.4 and 5.3), one interaction at a time (:meth:`ChannelPropensity.history`).
Customize
    :func:`category_associations` (support, confidence, lift of "customers who
    bought A also bought B": Agrawal, Imielinski & Swami 1993; Brin et al.
    1997) and :func:`next_best_offers`, which adds segment rules and keeps an
    offer only when its expected value, P(alive) x uplift x margin - contact
    cost (:func:`crmlib.analytics.uplift.offer_value`), is positive.

Personal data (names, e-mails, phones) is used to match records and is never
put into a message, a returned table of pairs or a chart; :func:`mask` hides
it for the few masked examples a lesson may show.
"""

from crmlib.models.idic._common import (
    ACTUAL_VALUE,
    ALPHA,
    ANTECEDENT,
    BETA,
    BZ,
    CONFIDENCE,
    CONSEQUENT,
    CONTACT_KIND,
    CONTACTS,
    CUSTOMERS_A,
    CUSTOMERS_AB,
    CUSTOMERS_B,
    EXPECTED_GAIN,
    F_SCORE,
    HISTORICAL_VALUE,
    KIND_OF_OFFER,
    LIFT,
    LOWER,
    M_SCORE,
    MEAN,
    MGC,
    MONETARY,
    MVC,
    NEEDS_SEGMENT,
    NET_GAIN,
    OTHER,
    POTENTIAL_VALUE,
    R_SCORE,
    RANK,
    RATE,
    REASON,
    RECENCY_DAYS,
    RESPONDED,
    RESPONSES,
    RFM_CELL,
    RFM_SEGMENT,
    SEED,
    STEP,
    SUCCESS,
    SUCCESSES,
    SUPPORT,
    TRIALS,
    UNREALISED_VALUE,
    UPPER,
    VALUE_CLASS,
    VALUE_CLASSES,
)
from crmlib.models.idic.customize import (
    SEGMENT_OFFERS,
    UPLIFT,
    UPLIFT_SOURCE,
    category_associations,
    next_best_offers,
)
from crmlib.models.idic.interact import (
    DEFAULT_PRIOR_STRENGTH,
    ChannelPropensity,
    contact_outcomes,
    engagement,
    fit_beta_prior,
    order_channel_choices,
    response_rates,
)
from crmlib.models.idic.portfolio import (
    value_classes,
    value_needs_portfolio,
)
from crmlib.models.idic.rfm import (
    RFM_SEGMENTS,
    quantile_cuts,
    rfm_scores,
    rfm_segment,
    rfm_values,
    score,
    summary_rfm_values,
)

__all__ = [
    "UPLIFT",
    "UPLIFT_SOURCE",
    "ACTUAL_VALUE",
    "ALPHA",
    "ANTECEDENT",
    "BETA",
    "BZ",
    "CONFIDENCE",
    "CONSEQUENT",
    "CONTACTS",
    "CONTACT_KIND",
    "CUSTOMERS_A",
    "CUSTOMERS_AB",
    "CUSTOMERS_B",
    "ChannelPropensity",
    "DEFAULT_PRIOR_STRENGTH",
    "EXPECTED_GAIN",
    "F_SCORE",
    "HISTORICAL_VALUE",
    "KIND_OF_OFFER",
    "LIFT",
    "LOWER",
    "MEAN",
    "MGC",
    "MONETARY",
    "MVC",
    "M_SCORE",
    "NEEDS_SEGMENT",
    "NET_GAIN",
    "OTHER",
    "POTENTIAL_VALUE",
    "RANK",
    "RATE",
    "REASON",
    "RECENCY_DAYS",
    "RESPONDED",
    "RESPONSES",
    "RFM_CELL",
    "RFM_SEGMENT",
    "RFM_SEGMENTS",
    "R_SCORE",
    "SEED",
    "SEGMENT_OFFERS",
    "STEP",
    "SUCCESS",
    "SUCCESSES",
    "SUPPORT",
    "TRIALS",
    "UNREALISED_VALUE",
    "UPPER",
    "VALUE_CLASS",
    "VALUE_CLASSES",
    "contact_outcomes",
    "category_associations",
    "engagement",
    "fit_beta_prior",
    "next_best_offers",
    "order_channel_choices",
    "quantile_cuts",
    "response_rates",
    "rfm_scores",
    "rfm_segment",
    "rfm_values",
    "summary_rfm_values",
    "score",
    "value_classes",
    "value_needs_portfolio",
]
