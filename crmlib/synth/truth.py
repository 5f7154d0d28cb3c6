"""The ground truth of a synthetic company: its column names, :class:`SynthTruth`, and how it is built.

Profit per record (the cost-to-serve rule)
------------------------------------------
Customer profit = revenue - product cost - cost-to-serve, the cost-to-serve
allocated by activity-based costing (Kaplan & Cooper 1998; Buttle & Maklan,
*Customer Relationship Management*, Routledge, on customer portfolio
analysis). For one ``customer_id``:

``revenue``
    sum of ``transactions.revenue`` (returns are negative),
``product_cost``
    sum of ``transactions.cost`` (0 on returns),
``cost_to_serve``
    the sum over the activities below of *count x unit cost*, the unit cost
    looked up in ``cost_rates`` by (``activity``, ``channel``):

    - ``order``: one per distinct ``order_id`` among the record's lines with
      ``revenue > 0``, at those lines' ``channel``;
    - ``delivery``: one per such order, at the same ``channel``;
    - ``return``: one per line with ``revenue < 0``, at its ``channel``;
    - ``ticket``: one per row of ``tickets``, at its ``channel``;
    - ``contact``: one per row of ``interactions`` with
      ``kind == "campaign_contact"``, at its ``channel``.

    A pair absent from ``cost_rates`` costs 0 (``delivery`` has a rate for
    ``web`` only, so only web orders pay for delivery); a row whose
    ``channel`` is empty applies to the activity's channels without their
    own row (the generated table has none).

``profit = revenue - product_cost - cost_to_serve``. ``truth.records`` (:func:`_truth`) holds
the three parts and the profit per record; ``truth.persons`` the sums over a
person's records. ``crmlib.analytics.profitability.customer_profitability`` is to apply
this same rule to client data, and is tested against this truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.data.schema import (
    CAMPAIGN_ID,
    CHANNEL,
    CLOSED_AT,
    CUSTOMER_ID,
    NPS,
    ORDER_ID,
    SOURCE_SYSTEM,
    TARGET_SEGMENT,
)
from crmlib.synth.helpers import (
    _campaign_ids,
    _days,
    _ids,
    _labels,
    _str,
    _take,
    _width,
)
from crmlib.synth.parameters import (
    _MAGNET,
    _WHALE,
    BGNBD_PARAMS,
    CAMPAIGN_CHANNELS,
    CATEGORIES,
    CATEGORY_MIX,
    CHANNEL_RESPONSE,
    CSAT_MODEL,
    NEEDS_MODEL,
    NPS_MODEL,
    ORDER_CHANNELS,
    PREFERRED_CHANNEL_PROBS,
    SEGMENT_SHARES,
    SEGMENTS,
    SOURCE_SYSTEMS,
    TIER_MIX,
    TIERS,
)

# --- truth column names (the ground truth's own vocabulary) -----------------
PERSON_ID = "person_id"
NEEDS_SEGMENT = "needs_segment"
IS_WHALE = "is_whale"
IS_COST_MAGNET = "is_cost_magnet"
PREFERRED_CHANNEL = "preferred_channel"
ACQUISITION_DATE = "acquisition_date"
LAM = "lam"
P_DROPOUT = "p"
DROPOUT_DATE = "dropout_date"
ALIVE_AT_END = "alive_at_end"
N_RECORDS = "n_records"
N_ORDERS = "n_orders"
N_CAMPAIGN_ORDERS = "n_campaign_orders"
N_TICKETS = "n_tickets"
SERVICE_SCORE = "service_score"
PRODUCT_COST = "product_cost"
COST_TO_SERVE = "cost_to_serve"
PROFIT = "profit"
IS_PRIMARY = "is_primary"
NAME_VARIANT = "name_variant"
EMAIL_VARIANT = "email_variant"
PHONE_FORMAT = "phone_format"
CITY_CHANGED = "city_changed"
TABLE_COL = "table"
KEY_COL = "key"
COLUMN_COL = "column"
DEFECT_KIND = "kind"


@dataclass
class SynthTruth:
    """Ground truth of a synthetic company: what was planted, by whom and how.

    Attributes
    ----------
    persons : pandas.DataFrame
        One row per person: ``person_id``; ``needs_segment``; ``is_whale``;
        ``is_cost_magnet``; ``preferred_channel`` (web, store, phone);
        ``acquisition_date`` (first purchase); BG/NBD latents ``lam`` (purchase
        rate per week) and ``p`` (dropout probability after each purchase);
        ``dropout_date`` (the date of the repeat purchase after which the
        person dropped out, NaT if alive at the end) and ``alive_at_end``;
        ``n_records``; ``n_orders`` (all orders) and ``n_campaign_orders``;
        ``n_tickets``; ``service_score`` (mean true CSAT of tickets opened
        before the survey, NaN without survey or such tickets); ``nps`` (the
        survey answer, NaN without survey); ``revenue``, ``product_cost``,
        ``cost_to_serve``, ``profit`` (sums over the person's records, see the
        module's cost-to-serve rule); ``customer_id`` of the primary record.
    records : pandas.DataFrame
        One row per ``customers`` record: ``customer_id``, ``person_id``,
        ``is_primary``, ``source_system``, ``name_variant`` (original, swap,
        drop, replace, or same when a swap changed nothing), ``email_variant``
        (original, same, case, domain, missing), ``phone_format`` (index into
        :data:`~crmlib.synth.parameters.PHONE_FORMATS`), ``city_changed``, ``n_orders``, ``revenue``,
        ``product_cost``, ``cost_to_serve``, ``profit`` (the rule, per record).
    bgnbd_params : dict
        The true ``r``, ``alpha``, ``a``, ``b`` and their ``time_unit``
        ("week").
    campaign_lift : pandas.DataFrame
        One row per campaign: ``campaign_id``, ``channel``, ``target_segment``,
        ``n_target``, ``n_treated``, ``n_holdout``, ``uplift`` (planted),
        ``control_prob`` and ``treated_prob`` (expected share of the target
        list that buys in the window without and with contact, averaged over
        the target list from the latent ``lam``, alive state and channel fit),
        ``lift`` (``treated_prob - control_prob``).
    campaign_orders : pandas.DataFrame
        Orders caused by campaigns (outside the BG/NBD process):
        ``order_id``, ``campaign_id``, ``person_id``, ``customer_id``.
    channel_response : pandas.DataFrame
        :data:`CHANNEL_RESPONSE`: index preferred channel, columns campaign
        channel.
    segments : pandas.DataFrame
        One row per needs segment: its share, preferred-channel mix
        (``pref_web`` ...), category mix (``cat_kitchen`` ...), tier mix
        (``tier_budget`` ...) and NPS offset.
    csat_model, nps_model, needs_model : dict
        :data:`CSAT_MODEL`, :data:`NPS_MODEL`, :data:`NEEDS_MODEL`.
    defects : pandas.DataFrame
        Planted data-quality defects: ``table``, ``key`` (the row's key value),
        ``column``, ``kind`` (``missing`` or ``closed_before_opened``).
    """

    persons: pd.DataFrame
    records: pd.DataFrame
    bgnbd_params: dict
    campaign_lift: pd.DataFrame
    campaign_orders: pd.DataFrame
    channel_response: pd.DataFrame
    segments: pd.DataFrame
    csat_model: dict
    nps_model: dict
    needs_model: dict
    defects: pd.DataFrame


def _truth(start64, per, rec, nat, camp_rows, orders, tick, surv, variants, cust_defects, money):
    """Assemble :class:`SynthTruth` from the internal arrays."""
    n, cid = per["n"], rec["cid"]
    pid = _ids("H", np.arange(1, n + 1), _width(n, 7))
    records = pd.DataFrame(
        {
            CUSTOMER_ID: cid,
            PERSON_ID: _take(pid, rec["person"]),
            IS_PRIMARY: rec["primary"],
            SOURCE_SYSTEM: _labels(SOURCE_SYSTEMS, rec["sys"]),
            NAME_VARIANT: _str(variants[NAME_VARIANT]),
            EMAIL_VARIANT: _str(variants[EMAIL_VARIANT]),
            PHONE_FORMAT: variants[PHONE_FORMAT],
            CITY_CHANGED: variants[CITY_CHANGED],
            N_ORDERS: np.bincount(orders["record"], minlength=rec["n"]),
            **money,
        }
    ).sort_values(CUSTOMER_ID, ignore_index=True)

    def by_person(values):
        return np.bincount(rec["person"], weights=values, minlength=n)

    def answer(values):
        out = np.full(n, np.nan)
        out[surv["person"]] = values
        return out

    dropout = nat["dropout"]
    is_camp = np.flatnonzero(orders["campaign"] >= 0)
    persons = pd.DataFrame(
        {
            PERSON_ID: pid,
            NEEDS_SEGMENT: _labels(SEGMENTS, per["seg"]),
            IS_WHALE: per["kind"] == _WHALE,
            IS_COST_MAGNET: per["kind"] == _MAGNET,
            PREFERRED_CHANNEL: _labels(ORDER_CHANNELS, per["pref"]),
            ACQUISITION_DATE: _days(start64, per["t0"]),
            LAM: per["lam"],
            P_DROPOUT: per["p"],
            DROPOUT_DATE: pd.Series(_days(start64, np.nan_to_num(dropout))).where(
                ~np.isnan(dropout)
            ),
            ALIVE_AT_END: np.isnan(dropout),
            N_RECORDS: np.bincount(rec["person"], minlength=n),
            N_ORDERS: np.bincount(orders["person"], minlength=n),
            N_CAMPAIGN_ORDERS: np.bincount(orders["person"][is_camp], minlength=n),
            N_TICKETS: np.bincount(tick["person"], minlength=n),
            SERVICE_SCORE: answer(surv["score"]),
            NPS: answer(surv["nps"]),
            **{name: by_person(values) for name, values in money.items()},
            CUSTOMER_ID: _take(cid, rec["prim_rec"]),
        }
    )
    camp_ids = _campaign_ids()
    lift = pd.DataFrame(
        {
            CAMPAIGN_ID: camp_ids,
            CHANNEL: _str([r["spec"].channel for r in camp_rows]),
            TARGET_SEGMENT: _str([r["spec"].target for r in camp_rows]),
            **{
                name: [r[name] for r in camp_rows]
                for name in ("n_target", "n_treated", "n_holdout", "control_prob", "treated_prob")
            },
            "uplift": [r["spec"].uplift for r in camp_rows],
        }
    )
    lift["lift"] = lift["treated_prob"] - lift["control_prob"]
    campaign_orders = pd.DataFrame(
        {
            ORDER_ID: _take(orders["id"], is_camp),
            CAMPAIGN_ID: _take(camp_ids, orders["campaign"][is_camp]),
            PERSON_ID: _take(pid, orders["person"][is_camp]),
            CUSTOMER_ID: _take(cid, orders["record"][is_camp]),
        }
    )
    channel_response = pd.DataFrame(
        CHANNEL_RESPONSE,
        index=pd.Index(ORDER_CHANNELS, name=PREFERRED_CHANNEL),
        columns=list(CAMPAIGN_CHANNELS),
    )
    seg_rows = {"share": list(SEGMENT_SHARES)}
    for j, c in enumerate(ORDER_CHANNELS):
        seg_rows[f"pref_{c}"] = PREFERRED_CHANNEL_PROBS[:, j]
    for j, c in enumerate(CATEGORIES):
        seg_rows[f"cat_{c}"] = CATEGORY_MIX[:, j]
    for j, t in enumerate(TIERS):
        seg_rows[f"tier_{t}"] = TIER_MIX[: len(SEGMENTS), j]
    seg_rows["nps_offset"] = [NPS_MODEL["segment_offset"][s] for s in SEGMENTS]
    segments = pd.DataFrame(seg_rows, index=pd.Index(SEGMENTS, name=NEEDS_SEGMENT))
    parts = [
        pd.DataFrame(
            {TABLE_COL: "customers", KEY_COL: keys, COLUMN_COL: col, DEFECT_KIND: "missing"}
        )
        for keys, col in cust_defects
    ]
    parts.append(
        pd.DataFrame(
            {
                TABLE_COL: "tickets",
                KEY_COL: _take(tick["id"], tick["bad"]),
                COLUMN_COL: CLOSED_AT,
                DEFECT_KIND: "closed_before_opened",
            }
        )
    )
    return SynthTruth(
        persons=persons,
        records=records,
        bgnbd_params=dict(BGNBD_PARAMS),
        campaign_lift=lift,
        campaign_orders=campaign_orders,
        channel_response=channel_response,
        segments=segments,
        csat_model=json.loads(json.dumps(CSAT_MODEL)),
        nps_model=json.loads(json.dumps(NPS_MODEL)),
        needs_model=dict(NEEDS_MODEL),
        defects=pd.concat(parts, ignore_index=True).astype("str"),
    )
