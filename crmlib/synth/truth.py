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
    CITY,
    CLOSED_AT,
    COST,
    CUSTOMER_ID,
    END_DATE,
    HOUSEHOLD_SIZE,
    NAME,
    NPS,
    OBJECTIVE,
    ORDER_ID,
    REVENUE,
    SOURCE_SYSTEM,
    START_DATE,
    SUPPLIER,
    TARGET_SEGMENT,
)
from crmlib.synth.helpers import (
    _acquisition_ids,
    _campaign_ids,
    _days,
    _ids,
    _labels,
    _str,
    _take,
    _width,
)
from crmlib.synth.parameters import (
    _ACQ_SOURCES,
    _CITIES,
    _MAGNET,
    _NORMAL,
    _WHALE,
    ACQUISITION_COST,
    BGNBD_PARAMS,
    CAMPAIGN_CHANNELS,
    CATEGORIES,
    CATEGORY_MIX,
    CHANNEL_RESPONSE,
    CSAT_MODEL,
    FUTURE_DAYS,
    GROWABLE_SHARE,
    NEEDS_MODEL,
    NPS_MODEL,
    ORDER_CHANNELS,
    PREFERRED_CHANNEL_PROBS,
    RETURN_PROBS,
    SEGMENT_SHARES,
    SEGMENTS,
    SOURCE_SYSTEMS,
    SUPPLIER_RETURN_FACTOR,
    SUPPLIERS,
    TIER_MIX,
    TIERS,
    WALLET_MODEL,
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
ACQUISITION_SOURCE = "acquisition_source"
WALLET = "wallet"
SHARE_OF_WALLET = "share_of_wallet"
EXPECTED_SPEND = "expected_spend"
UNREALISED_WALLET = "unrealised_wallet"
GROWABLE = "growable"
FUTURE_REVENUE = "future_revenue_12m"
FUTURE_PRODUCT_COST = "future_product_cost_12m"
FUTURE_COST_TO_SERVE = "future_cost_to_serve_12m"
FUTURE_MARGIN = "future_margin_12m"
RETURN_FACTOR = "return_factor"
PLANTED_RETURN_RATE = "planted_return_rate"
N_PRODUCTS = "n_products"
BASE_RATE = "base_rate"
PLANTED_UPLIFT = "planted_uplift"
UPLIFT_IF_ALIVE = "uplift_if_alive"
ALIVE_SHARE = "alive_share"
N_NEW = "n_new"
COST_PER_NEW = "cost_per_new"
SOURCES = "sources"


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
        module's cost-to-serve rule); ``customer_id`` of the primary record;
        ``household_size``, ``city`` and ``acquisition_source`` (the primary
        record's values, the wallet's observable features); the planted wallet
        (:data:`~crmlib.synth.parameters.WALLET_MODEL`, Perlich, Rosset,
        Lawrence & Zadrozny 2007, "High-quantile modeling for customer wallet
        estimation and other applications", *KDD '07*): ``wallet`` (annual
        spend on the category with all firms, GBP, revenue basis),
        ``share_of_wallet`` ``s``, ``expected_spend`` (``s * wallet``: the
        expected annual revenue with the firm while alive), ``unrealised_wallet``
        (``wallet * (1 - s)``) and ``growable``: alive at the end and among the
        top :data:`~crmlib.synth.parameters.GROWABLE_SHARE` (20 %, rounded) of
        the alive persons by ``unrealised_wallet``; the planted future
        (:data:`~crmlib.synth.parameters.FUTURE_DAYS` = 365 days after the
        window, simulated by the same process and kept out of the tables):
        ``future_revenue_12m``, ``future_product_cost_12m``,
        ``future_cost_to_serve_12m`` and ``future_margin_12m`` (revenue -
        product cost - cost-to-serve by the module's rule, of the purchases,
        returns, orders, deliveries and tickets of those 365 days; no campaign
        runs then, so no contact costs; undiscounted).
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
        One row per contact campaign: ``campaign_id``, ``channel``,
        ``target_segment``, ``objective``, ``n_target``, ``n_treated``,
        ``n_holdout``, ``alive_share`` (share of the target list alive at the
        start), ``control_prob`` and ``treated_prob`` (expected share of the
        target list that buys in the campaign window without and with contact,
        averaged over the target list from the latent ``lam``, alive state and
        channel fit), ``lift`` (``treated_prob - control_prob``),
        ``planted_uplift`` (the campaign's planted incremental response rate;
        ``lift`` equals it unless a person's response chance hit 1),
        ``base_rate`` (= ``control_prob``: the holdout's expected response)
        and ``uplift_if_alive`` (the expected incremental response of a target
        alive at the start).
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
    suppliers : pandas.DataFrame
        One row per supplier: ``supplier``, ``n_products``, ``return_factor``
        (:data:`~crmlib.synth.parameters.SUPPLIER_RETURN_FACTOR`) and
        ``planted_return_rate`` (chance that an ordinary customer's purchase
        line of its products is returned).
    acquisition : pandas.DataFrame
        One row per acquisition campaign (objective ``acquisition``):
        ``campaign_id``, ``name``, ``start_date``, ``end_date``, ``sources``
        (the acquisition sources it pays for, ``+``-joined), ``n_new`` (persons
        first buying in its quarter through those sources), ``cost`` and
        ``cost_per_new``.
    acquisition_cost : dict
        :data:`~crmlib.synth.parameters.ACQUISITION_COST`, GBP per new customer by source.
    wallet_model : dict
        :data:`~crmlib.synth.parameters.WALLET_MODEL`.
    future : dict
        ``days`` (365) and the undiscounted totals over all persons of the
        future year: ``revenue``, ``product_cost``, ``cost_to_serve``, ``margin``.
    subscription_plans : pandas.DataFrame
        One row per subscription plan (:data:`~crmlib.synth.parameters.SUBSCRIPTION_PLANS`):
        ``plan``, ``price``, ``period``, the planted shifted-beta-geometric
        ``alpha`` and ``beta`` of its subscribers' churn probability per
        period (Fader & Hardie 2007), ``n`` (subscribers) and ``n_active``
        (still active at the end of the window).
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
    suppliers: pd.DataFrame
    acquisition: pd.DataFrame
    acquisition_cost: dict
    wallet_model: dict
    future: dict
    subscription_plans: pd.DataFrame


def _growable(alive: np.ndarray, unrealised: np.ndarray) -> np.ndarray:
    """Alive and among the top ``GROWABLE_SHARE`` (rounded) of the alive by unrealised wallet."""
    idx = np.flatnonzero(alive)
    top = idx[np.argsort(-unrealised[idx], kind="stable")[: round(GROWABLE_SHARE * idx.size)]]
    out = np.zeros(alive.size, dtype=bool)
    out[top] = True
    return out


def _truth(
    start64,
    per,
    rec,
    nat,
    camp_rows,
    orders,
    tick,
    surv,
    variants,
    cust_defects,
    money,
    future,
    prod,
    acq_rows,
    subscription_plans,
):
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
            HOUSEHOLD_SIZE: per["household"],
            CITY: _labels(_CITIES, per["city"]),
            ACQUISITION_SOURCE: _labels(_ACQ_SOURCES, per["acq"]),
            WALLET: per["wallet"],
            SHARE_OF_WALLET: per["share"],
            EXPECTED_SPEND: per["share"] * per["wallet"],
            UNREALISED_WALLET: (1.0 - per["share"]) * per["wallet"],
            FUTURE_REVENUE: future[REVENUE],
            FUTURE_PRODUCT_COST: future[PRODUCT_COST],
            FUTURE_COST_TO_SERVE: future[COST_TO_SERVE],
            FUTURE_MARGIN: future[REVENUE] - future[PRODUCT_COST] - future[COST_TO_SERVE],
        }
    )
    persons[GROWABLE] = _growable(
        persons[ALIVE_AT_END].to_numpy(), persons[UNREALISED_WALLET].to_numpy()
    )
    camp_ids = _campaign_ids()
    lift = pd.DataFrame(
        {
            CAMPAIGN_ID: camp_ids,
            CHANNEL: _str([r["spec"].channel for r in camp_rows]),
            TARGET_SEGMENT: _str([r["spec"].target for r in camp_rows]),
            OBJECTIVE: _str([r["spec"].objective for r in camp_rows]),
            **{
                name: [r[name] for r in camp_rows]
                for name in (
                    "n_target",
                    "n_treated",
                    "n_holdout",
                    ALIVE_SHARE,
                    "control_prob",
                    "treated_prob",
                )
            },
        }
    )
    lift["lift"] = lift["treated_prob"] - lift["control_prob"]
    lift[PLANTED_UPLIFT] = [r["spec"].uplift for r in camp_rows]
    lift[BASE_RATE] = lift["control_prob"]
    lift[UPLIFT_IF_ALIVE] = [r[UPLIFT_IF_ALIVE] for r in camp_rows]
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
    factor = np.array(SUPPLIER_RETURN_FACTOR)
    suppliers = pd.DataFrame(
        {
            SUPPLIER: _str(list(SUPPLIERS)),
            N_PRODUCTS: np.bincount(prod["supplier"], minlength=len(SUPPLIERS)),
            RETURN_FACTOR: factor,
            PLANTED_RETURN_RATE: np.minimum(RETURN_PROBS[_NORMAL] * factor, 0.95),
        }
    )
    acquisition = pd.DataFrame(
        {
            CAMPAIGN_ID: _acquisition_ids(len(acq_rows)),
            NAME: _str([a["name"] for a in acq_rows]),
            START_DATE: _days(start64, np.array([a["start"] for a in acq_rows])),
            END_DATE: _days(start64, np.array([a["end"] - 1 for a in acq_rows])),
            SOURCES: _str(["+".join(a["sources"]) for a in acq_rows]),
            N_NEW: [a["n_new"] for a in acq_rows],
            COST: [a["cost"] for a in acq_rows],
        }
    )
    acquisition[COST_PER_NEW] = acquisition[COST] / acquisition[N_NEW].where(acquisition[N_NEW] > 0)
    future_totals = {k: float(v.sum()) for k, v in future.items()}
    future_totals["margin"] = (
        future_totals[REVENUE] - future_totals[PRODUCT_COST] - future_totals[COST_TO_SERVE]
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
        suppliers=suppliers,
        acquisition=acquisition,
        acquisition_cost=dict(ACQUISITION_COST),
        wallet_model=json.loads(json.dumps(WALLET_MODEL)),
        future={"days": FUTURE_DAYS, **future_totals},
        subscription_plans=subscription_plans,
    )
