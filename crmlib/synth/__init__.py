"""A seeded synthetic CRM company with known ground truth.

:func:`generate` builds every table of the data contract (:data:`crmlib.data.schema.TABLES`,
except ``assessment``) for a fictional UK omnichannel retailer of home and
lifestyle goods that sells through a webshop, stores and a phone service desk.
Each modelling idea the workbook teaches is planted on purpose and recorded in
:class:`SynthTruth`, so that every other module can be tested against a truth
that is known rather than against its own earlier output.

One module per job, each importing only the ones above it in this list:

- :mod:`~crmlib.synth.parameters`: the planted parameters and what each plants;
- :mod:`~crmlib.synth.helpers`: ids, labels, string columns and dates;
- :mod:`~crmlib.synth.truth`: the ground truth's columns, :class:`SynthTruth`
  and the cost-to-serve rule behind its profit;
- :mod:`~crmlib.synth.world`: products, persons, purchases, records,
  campaigns and customers;
- :mod:`~crmlib.synth.simulate`: :func:`generate` and its steps;
- :mod:`~crmlib.synth.writers`: :func:`write_folder`, :func:`write_truth`;
- :mod:`~crmlib.synth.stream`: :func:`write_large_folder`, a folder of any
  size in bounded memory.

This package re-exports the public names of parameters, truth, simulate,
writers and stream.
"""

from crmlib.synth.parameters import (
    ACQUISITION_SHARE,
    ALL_CHANNELS,
    BGNBD_PARAMS,
    CAMPAIGN_CHANNELS,
    CAMPAIGN_FIXED_COST,
    CAMPAIGNS,
    CATEGORIES,
    CATEGORY_MIX,
    CHANNEL_RESPONSE,
    COST_MAGNET_SHARE,
    COST_RATES,
    COUNTRY_NAME,
    CSAT_MODEL,
    DEFECT_RATES,
    DISCOUNTS,
    HOLDOUT_SHARE,
    INTERACTION_KINDS,
    LAPSED_DAYS,
    NEEDS_MODEL,
    NPS_MODEL,
    ORDER_CHANNEL_LOYALTY,
    ORDER_CHANNELS,
    OUTCOMES,
    PHONE_FORMATS,
    PREFERRED_CHANNEL_PROBS,
    RETURN_PROBS,
    SEGMENT_SHARES,
    SEGMENTS,
    SOURCE_SYSTEMS,
    SURVEY_SHARE,
    TICKET_CATEGORIES,
    TICKET_CHANNELS,
    TICKET_PROBS,
    TIER_MIX,
    TIERS,
    WHALE_SHARE,
    CampaignSpec,
)
from crmlib.synth.simulate import (
    SynthCompany,
    generate,
)
from crmlib.synth.stream import (
    CHUNK_CUSTOMERS,
    write_large_folder,
)
from crmlib.synth.truth import (
    ACQUISITION_DATE,
    ALIVE_AT_END,
    CITY_CHANGED,
    COLUMN_COL,
    COST_TO_SERVE,
    DEFECT_KIND,
    DROPOUT_DATE,
    EMAIL_VARIANT,
    IS_COST_MAGNET,
    IS_PRIMARY,
    IS_WHALE,
    KEY_COL,
    LAM,
    N_CAMPAIGN_ORDERS,
    N_ORDERS,
    N_RECORDS,
    N_TICKETS,
    NAME_VARIANT,
    NEEDS_SEGMENT,
    P_DROPOUT,
    PERSON_ID,
    PHONE_FORMAT,
    PREFERRED_CHANNEL,
    PRODUCT_COST,
    PROFIT,
    SERVICE_SCORE,
    TABLE_COL,
    SynthTruth,
)
from crmlib.synth.writers import (
    write_folder,
    write_truth,
)

__all__ = [
    "ACQUISITION_DATE",
    "ACQUISITION_SHARE",
    "ALIVE_AT_END",
    "ALL_CHANNELS",
    "BGNBD_PARAMS",
    "CAMPAIGNS",
    "CAMPAIGN_CHANNELS",
    "CAMPAIGN_FIXED_COST",
    "CATEGORIES",
    "CATEGORY_MIX",
    "CHANNEL_RESPONSE",
    "CHUNK_CUSTOMERS",
    "CITY_CHANGED",
    "COLUMN_COL",
    "COST_MAGNET_SHARE",
    "COST_RATES",
    "COST_TO_SERVE",
    "COUNTRY_NAME",
    "CSAT_MODEL",
    "CampaignSpec",
    "DEFECT_KIND",
    "DEFECT_RATES",
    "DISCOUNTS",
    "DROPOUT_DATE",
    "EMAIL_VARIANT",
    "HOLDOUT_SHARE",
    "INTERACTION_KINDS",
    "IS_COST_MAGNET",
    "IS_PRIMARY",
    "IS_WHALE",
    "KEY_COL",
    "LAM",
    "LAPSED_DAYS",
    "NAME_VARIANT",
    "NEEDS_MODEL",
    "NEEDS_SEGMENT",
    "NPS_MODEL",
    "N_CAMPAIGN_ORDERS",
    "N_ORDERS",
    "N_RECORDS",
    "N_TICKETS",
    "ORDER_CHANNELS",
    "ORDER_CHANNEL_LOYALTY",
    "OUTCOMES",
    "PERSON_ID",
    "PHONE_FORMAT",
    "PHONE_FORMATS",
    "PREFERRED_CHANNEL",
    "PREFERRED_CHANNEL_PROBS",
    "PRODUCT_COST",
    "PROFIT",
    "P_DROPOUT",
    "RETURN_PROBS",
    "SEGMENTS",
    "SEGMENT_SHARES",
    "SERVICE_SCORE",
    "SOURCE_SYSTEMS",
    "SURVEY_SHARE",
    "SynthCompany",
    "SynthTruth",
    "TABLE_COL",
    "TICKET_CATEGORIES",
    "TICKET_CHANNELS",
    "TICKET_PROBS",
    "TIERS",
    "TIER_MIX",
    "WHALE_SHARE",
    "generate",
    "write_folder",
    "write_large_folder",
    "write_truth",
]
