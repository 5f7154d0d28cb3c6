"""Simulate a synthetic company: :func:`generate` and the steps it runs.

:func:`generate` draws the world (:mod:`crmlib.synth.world`), then orders,
lines, returns, tickets, surveys and interactions, then subscriptions
(:mod:`crmlib.synth.subscriptions`), and records what it planted
(:mod:`crmlib.synth.truth`).

Everything is drawn from one :class:`numpy.random.Generator` seeded with
``seed`` (the subscriptions from a second one of their own, seeded with
``[seed, 7]``), so a seed gives the same company on every run and no global
random state is touched. Phone numbers are unique per person up to 10 million persons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.data.schema import (
    ACT_CONTACT,
    ACT_DELIVERY,
    ACT_ORDER,
    ACT_RETURN,
    ACT_TICKET,
    CAMPAIGN_ID,
    CATEGORY,
    CHANNEL,
    CLOSED_AT,
    COST,
    CSAT,
    CUSTOMER_ID,
    DATE,
    INTERACTION_ID,
    KIND,
    KIND_CAMPAIGN_CONTACT,
    KIND_CAMPAIGN_HOLDOUT,
    KIND_SERVICE_CALL,
    KIND_STORE_VISIT,
    KIND_WEB_VISIT,
    NEEDS,
    NPS,
    OPENED_AT,
    ORDER_DATE,
    ORDER_ID,
    OUTCOME,
    PRODUCT_ID,
    QUANTITY,
    RESPONSE_ID,
    REVENUE,
    TABLES,
    TICKET_ID,
    TIMESTAMP,
)
from crmlib.errors import CRMError
from crmlib.synth.helpers import (
    _campaign_ids,
    _choice_rows,
    _days,
    _labels,
    _serial,
    _stamps,
    _take,
)
from crmlib.synth.parameters import (
    _DISCOUNT_PROBS,
    _EXTRA_UNITS,
    _LINES_PROBS,
    _RETURN_TICKET_PROB,
    _TICKET_CHANNEL_PROBS,
    _TICKET_SYSTEM,
    ALL_CHANNELS,
    CAMPAIGNS,
    COST_RATES,
    CSAT_MODEL,
    DEFECT_RATES,
    DISCOUNTS,
    FUTURE_DAYS,
    INTERACTION_KINDS,
    NEEDS_MODEL,
    NPS_MODEL,
    ORDER_CHANNELS,
    OUTCOMES,
    SEGMENTS,
    SURVEY_SHARE,
    TICKET_CATEGORIES,
    TICKET_CHANNELS,
    TICKET_PROBS,
)
from crmlib.synth.subscriptions import (
    _subscriptions,
    subscription_rng,
)
from crmlib.synth.truth import (
    COST_TO_SERVE,
    PRODUCT_COST,
    PROFIT,
    SynthTruth,
    _truth,
)
from crmlib.synth.world import (
    _acquisition_counts,
    _acquisition_rows,
    _campaigns,
    _customers,
    _order_channels,
    _persons,
    _product_probs,
    _products,
    _purchases,
    _record_of,
    _records,
    _return_probs,
    _small_tables,
)


@dataclass
class SynthCompany:
    """A synthetic company: its tables, its ground truth, its seed and as-of date.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        One frame per table of :data:`crmlib.data.schema.TABLES` except
        ``assessment``, with exactly that table's columns.
    truth : SynthTruth
        What was planted.
    seed : int
        The seed it was generated from.
    as_of : pandas.Timestamp
        The last day of the window.
    """

    tables: dict[str, pd.DataFrame]
    truth: SynthTruth
    seed: int
    as_of: pd.Timestamp


# --- generate -----------------------------------------------------------------


def _check_args(n_customers, seed, start, end, duplicate_rate):
    if (
        isinstance(n_customers, bool)
        or not isinstance(n_customers, int | np.integer)
        or n_customers < 1
    ):
        raise CRMError(f"n_customers must be a positive whole number, got {n_customers!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise CRMError(f"seed must be a non-negative whole number, got {seed!r}")
    try:
        t_start, t_end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    except (ValueError, TypeError) as exc:
        raise CRMError(f"start and end must be dates (YYYY-MM-DD): {exc}") from None
    if (t_end - t_start).days + 1 < 180:
        raise CRMError(
            f"the window from {t_start.date()} to {t_end.date()} is shorter than 180 days; "
            "campaigns and repeat purchases need a longer one"
        )
    if not 0.0 <= float(duplicate_rate) < 1.0:
        raise CRMError(f"duplicate_rate must be in [0, 1), got {duplicate_rate!r}")
    return t_start, t_end


def _orders(rng, per, rec, nat, camp) -> dict:
    """All orders, natural and campaign, in time order (their number is their position + 1)."""
    person = np.concatenate([nat["person"], camp["person"]])
    t = np.concatenate([nat["t"], camp["t"]])
    campaign = np.concatenate([np.full(nat["person"].size, -1), camp["campaign"]])
    channel = _order_channels(rng, per, rec, person)
    first = np.concatenate([nat["first"], np.zeros(camp["person"].size, dtype=bool)])
    channel[first] = per["pref"][person[first]]  # the acquisition order: preferred channel
    srt = np.argsort(t, kind="stable")
    person, t, campaign, channel = person[srt], t[srt], campaign[srt], channel[srt]
    return {
        "n": person.size,
        "person": person,
        "t": t,
        "campaign": campaign,
        "channel": channel,
        "record": _record_of(rec, person, channel),
        "kind": per["kind"][person],
    }


def _lines(rng, prod, per, orders, span) -> dict:
    """Purchase lines (1 to 4 per order) and the returns among them (those before day ``span``)."""
    n_lines = _choice_rows(rng, _LINES_PROBS, orders["kind"]) + 1
    order = np.repeat(np.arange(orders["n"]), n_lines)
    kind = orders["kind"][order]
    seg = per["seg"][orders["person"][order]]
    product = _choice_rows(rng, _product_probs(prod), kind * len(SEGMENTS) + seg)
    # one line per product in an order: a second draw of the same product is dropped, so that
    # no two lines are exact copies (crmlib.data.io rejects exact copies as duplicate lines)
    pair = order.astype(np.int64) * len(prod["price"]) + product
    first = np.sort(np.unique(pair, return_index=True)[1])
    order, kind, seg, product = order[first], kind[first], seg[first], product[first]
    qty = 1.0 + rng.poisson(_EXTRA_UNITS[kind]).astype(float)
    disc_row = (seg != SEGMENTS.index("price")).astype(np.int64)
    disc = np.array(DISCOUNTS)[_choice_rows(rng, _DISCOUNT_PROBS, disc_row)]
    camp_disc = np.array([c.discount for c in CAMPAIGNS] + [0.0])[orders["campaign"][order]]
    disc = np.maximum(disc, camp_disc)
    ret = np.flatnonzero(rng.random(order.size) < _return_probs(prod)[kind, product])
    ret_t = orders["t"][order[ret]] + rng.uniform(2.0, 30.0, size=ret.size)
    keep = ret_t < span  # a return after the window is not (yet) recorded
    return {
        "order": order,
        "product": product,
        "qty": qty,
        "revenue": np.round(prod["price"][product] * qty * (1.0 - disc), 2),
        "cost": np.round(prod["cost"][product] * qty, 2),
        "ret": ret[keep],
        "ret_t": ret_t[keep],
    }


def _ledger(orders, lines) -> dict:
    """Purchase and return lines together, sorted by date, order, purchase before return."""
    ret = lines["ret"]
    order = np.concatenate([lines["order"], lines["order"][ret]])
    t = np.concatenate([orders["t"][lines["order"]], lines["ret_t"]])
    is_ret = np.concatenate([np.zeros(lines["order"].size, bool), np.ones(ret.size, bool)])
    srt = np.lexsort((is_ret, order, np.floor(t)))
    return {
        "order": order[srt],
        "t": t[srt],
        "product": np.concatenate([lines["product"], lines["product"][ret]])[srt],
        "qty": np.concatenate([lines["qty"], -lines["qty"][ret]])[srt],
        "revenue": np.concatenate([lines["revenue"], -lines["revenue"][ret]])[srt],
        "cost": np.concatenate([lines["cost"], np.zeros(ret.size)])[srt],
        "record": orders["record"][order[srt]],
        "channel": orders["channel"][order[srt]],
    }


def _tickets(rng, per, rec, orders, lines, span, horizon) -> dict:
    """Tickets after orders and returns; resolution time drives CSAT (CSAT_MODEL).

    Tickets opened before day ``horizon``; those closed before ``span`` (the
    end of the observed window) are closed, and the defects are planted among them.
    """
    from_order = np.flatnonzero(rng.random(orders["n"]) < TICKET_PROBS[orders["kind"]])
    ret = lines["ret"]
    from_ret = np.flatnonzero(rng.random(ret.size) < _RETURN_TICKET_PROB)
    person = np.concatenate(
        [orders["person"][from_order], orders["person"][lines["order"][ret[from_ret]]]]
    )
    t = np.concatenate(
        [
            orders["t"][from_order] + rng.uniform(0.0, 10.0, size=from_order.size),
            lines["ret_t"][from_ret] + rng.uniform(0.0, 3.0, size=from_ret.size),
        ]
    )
    cat = np.concatenate(
        [
            rng.choice(4, size=from_order.size, p=[0.4, 0.3, 0.2, 0.1]),
            np.full(from_ret.size, TICKET_CATEGORIES.index("return")),
        ]
    )
    inside = t < horizon
    srt = np.argsort(t[inside], kind="stable")
    person, t, cat = person[inside][srt], t[inside][srt], cat[inside][srt]
    channel = _choice_rows(rng, _TICKET_CHANNEL_PROBS, per["pref"][person])
    median = np.array([CSAT_MODEL["median_hours"][c] for c in TICKET_CHANNELS])
    hours = median[channel] * rng.lognormal(0.0, CSAT_MODEL["sigma_log_hours"], size=t.size)
    close = t + hours / 24.0
    csat = CSAT_MODEL["intercept"] + CSAT_MODEL["slope_log_days"] * np.log1p(hours / 24.0)
    csat = np.clip(np.round(csat + rng.normal(0.0, CSAT_MODEL["noise_sd"], size=t.size)), 1, 5)
    closed = close < span
    answered = closed & (rng.random(t.size) < CSAT_MODEL["answer_rate"])
    # defect: a few closed tickets whose closing time was entered before the opening
    closed_idx = np.flatnonzero(closed)
    n_bad = round(DEFECT_RATES["closed_before_opened"] * closed_idx.size)
    n_bad = max(n_bad, 1) if closed_idx.size else 0
    bad = np.sort(rng.choice(closed_idx, size=n_bad, replace=False))
    close_shown = close.copy()
    close_shown[bad] = t[bad] - rng.uniform(0.05, 2.0, size=bad.size)
    return {
        "n": t.size,
        "person": person,
        "t": t,
        "category": cat,
        "channel": channel,
        "record": _record_of(rec, person, _TICKET_SYSTEM[channel]),
        "csat_true": csat,
        "closed": closed,
        "answered": answered,
        "close_shown": close_shown,
        "bad": bad,
    }


def _surveys(rng, per, tick, span) -> dict:
    """Survey answers of SURVEY_SHARE of persons: needs (NEEDS_MODEL) and NPS (NPS_MODEL)."""
    n = per["n"]
    who = np.flatnonzero(rng.random(n) < SURVEY_SHARE)
    t = rng.uniform(per["t0"][who], span)
    srt = np.argsort(t, kind="stable")
    who, t = who[srt], t[srt]
    pos = np.full(n, -1)
    pos[who] = np.arange(who.size)
    k = pos[tick["person"]]
    before = tick["t"] < np.append(t, -np.inf)[k]  # k == -1: the person was not surveyed
    total = np.bincount(k[before], weights=tick["csat_true"][before], minlength=who.size)
    count = np.bincount(k[before], minlength=who.size)
    score = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    seg = per["seg"][who]
    offset = np.array([NPS_MODEL["segment_offset"][s] for s in SEGMENTS])[seg]
    service = NPS_MODEL["service_coef"] * (score - NPS_MODEL["reference_csat"])
    nps = NPS_MODEL["intercept"] + offset + np.where(count > 0, service, 0.0)
    nps = np.clip(np.round(nps + rng.normal(0, NPS_MODEL["noise_sd"], who.size)), 0, 10)
    m = NEEDS_MODEL
    needs = rng.normal(m["other_mean"], m["other_sd"], (who.size, len(NEEDS)))
    needs[np.arange(who.size), seg] = rng.normal(m["own_mean"], m["own_sd"], who.size)
    return {
        "person": who,
        "t": t,
        "score": score,
        "nps": nps,
        "needs": np.clip(np.round(needs), 1, 5),
    }


def _interactions(rng, per, rec, orders, contacts, tick, span) -> dict:
    """Campaign contacts and holdouts, web and store visits, service calls; in time order."""
    parts = []  # dicts of equal-length arrays

    def part(record, t, channel, kind, outcome, campaign=-1):
        size = len(t)
        values = {"channel": channel, "kind": kind, "outcome": outcome, "campaign": campaign}
        parts.append(
            {"record": record, "t": t}
            | {name: np.broadcast_to(v, size) for name, v in values.items()}
        )

    # orders sorted by person, then time: a person's purchases in a window by binary search
    by_p = np.lexsort((orders["t"], orders["person"]))
    key = orders["person"][by_p] * (span + 1.0) + orders["t"][by_p]
    outcome_code = {o: i for i, o in enumerate(OUTCOMES)}
    for k, (target, holdout, t, s, e) in enumerate(contacts):
        lo = np.searchsorted(key, target * (span + 1.0) + s)
        hi = np.searchsorted(key, target * (span + 1.0) + e)
        outcome = np.where(
            holdout,
            outcome_code["not_contacted"],
            np.where(hi > lo, outcome_code["responded"], outcome_code["no_response"]),
        )
        kind = np.where(
            holdout,
            INTERACTION_KINDS.index(KIND_CAMPAIGN_HOLDOUT),
            INTERACTION_KINDS.index(KIND_CAMPAIGN_CONTACT),
        )
        channel = ALL_CHANNELS.index(CAMPAIGNS[k].channel)
        part(rec["prim_rec"][target], t, channel, kind, outcome, campaign=k)
    for chan, kind, mean_browse in ((0, KIND_WEB_VISIT, 0.5), (1, KIND_STORE_VISIT, 0.2)):
        m = orders["channel"] == chan
        person, t = orders["person"][m], orders["t"][m]
        kind_code = INTERACTION_KINDS.index(kind)
        part(_record_of(rec, person, chan), t, chan, kind_code, outcome_code["purchase"])
        n_browse = rng.poisson(mean_browse, size=person.size)
        person = np.repeat(person, n_browse)
        t = np.repeat(t, n_browse) - rng.uniform(0, 14, size=person.size)
        known = t >= per["t0"][person]  # browsing before the first purchase is anonymous
        person, t = person[known], t[known]
        part(_record_of(rec, person, chan), t, chan, kind_code, outcome_code["browse"])
    calls = np.flatnonzero(tick["channel"] == TICKET_CHANNELS.index("phone"))
    part(
        tick["record"][calls],
        tick["t"][calls],
        ALL_CHANNELS.index("phone"),
        INTERACTION_KINDS.index(KIND_SERVICE_CALL),
        outcome_code["ticket_opened"],
    )
    out = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    srt = np.argsort(out["t"], kind="stable")
    return {name: values[srt] for name, values in out.items()}


def _signup_times(rng, per, rec, orders, tick, inter, span) -> np.ndarray:
    """A primary record starts at acquisition; a second record at its first activity."""
    signup = np.full(rec["n"], np.inf)
    np.minimum.at(signup, orders["record"], orders["t"])
    np.minimum.at(signup, tick["record"], tick["t"])
    np.minimum.at(signup, inter["record"], inter["t"])
    idle = ~np.isfinite(signup)  # a second record without activity: created some day
    signup[idle] = rng.uniform(per["t0"][rec["person"][idle]], span)
    signup[rec["primary"]] = per["t0"]
    return signup


def _profit(rec, orders, lines, ledger, tick, inter) -> dict:
    """Revenue, product cost, cost-to-serve and profit per record (the rule of :mod:`crmlib.synth.truth`)."""
    rates = _rates
    n_rec = rec["n"]
    revenue = np.bincount(ledger["record"], weights=ledger["revenue"], minlength=n_rec)
    cost = np.bincount(ledger["record"], weights=ledger["cost"], minlength=n_rec)
    per_order = rates(ACT_ORDER, ORDER_CHANNELS) + rates(ACT_DELIVERY, ORDER_CHANNELS)
    cts = np.bincount(orders["record"], weights=per_order[orders["channel"]], minlength=n_rec)
    ret_order = lines["order"][lines["ret"]]
    ret_rate = rates(ACT_RETURN, ORDER_CHANNELS)[orders["channel"][ret_order]]
    cts += np.bincount(orders["record"][ret_order], weights=ret_rate, minlength=n_rec)
    tick_rate = rates(ACT_TICKET, TICKET_CHANNELS)[tick["channel"]]
    cts += np.bincount(tick["record"], weights=tick_rate, minlength=n_rec)
    contact = inter["kind"] == INTERACTION_KINDS.index(KIND_CAMPAIGN_CONTACT)
    contact_rate = rates(ACT_CONTACT, ALL_CHANNELS)[inter["channel"][contact]]
    cts += np.bincount(inter["record"][contact], weights=contact_rate, minlength=n_rec)
    return {
        REVENUE: revenue,
        PRODUCT_COST: cost,
        COST_TO_SERVE: cts,
        PROFIT: revenue - cost - cts,
    }


def generate(
    n_customers: int = 5000,
    seed: int = 20261122,
    start="2023-01-01",
    end="2024-12-31",
    duplicate_rate: float = 0.05,
) -> SynthCompany:
    """Generate a synthetic omnichannel retailer with known ground truth.

    Parameters
    ----------
    n_customers : int
        Number of persons (real customers); the ``customers`` table has about
        ``n_customers * (1 + duplicate_rate)`` records. About 9 transaction
        lines per person.
    seed : int
        Seed of the :class:`numpy.random.Generator` used throughout (and of the
        subscriptions' own, :func:`~crmlib.synth.subscriptions.subscription_rng`).
    start, end : str or date-like
        First and last day of the observation window (at least 180 days).
    duplicate_rate : float
        Share of persons with a second record in another source system.

    Returns
    -------
    SynthCompany
        Tables, truth, seed and ``as_of`` (= ``end``). See the module
        docstring for what is planted and :class:`SynthTruth` for the truth.

    Raises
    ------
    CRMError
        On a bad argument.

    Notes
    -----
    The purchase process is the BG/NBD story (Fader, Hardie & Lee 2005,
    *Marketing Science* 24(2)); profit follows the activity-based cost-to-serve
    rule of :mod:`crmlib.synth.truth` (Kaplan & Cooper 1998).
    """
    t_start, t_end = _check_args(n_customers, seed, start, end, duplicate_rate)
    rng = np.random.default_rng(seed)
    start64, span = _window(t_start, t_end)
    prod = _products(rng)
    sim = _simulate(rng, prod, int(n_customers), span, start64, float(duplicate_rate))
    tables = {
        **_person_tables(sim, prod, start64),
        **_small_tables(start64, prod, sim["camp_rows"], sim["acq_counts"], span),
    }
    tables["subscriptions"], plans = _subscriptions(
        subscription_rng(seed), sim["per"]["t0"], _primary_ids(sim["rec"]), span, start64
    )
    tables = {name: tables[name][list(TABLES[name].names)] for name in TABLES if name in tables}
    money = _profit(*(sim[k] for k in ("rec", "orders", "lines", "ledger", "tick", "inter")))
    parts = ("per", "rec", "nat", "camp_rows", "orders", "tick", "surv", "variants", "defects")
    acq_rows = _acquisition_rows(sim["acq_counts"], start64, span)
    truth = _truth(start64, *(sim[k] for k in parts), money, sim["future"], prod, acq_rows, plans)
    return SynthCompany(tables=tables, truth=truth, seed=int(seed), as_of=t_end)


def _primary_ids(rec: dict) -> pd.Series:
    """Each person's ``customer_id``: that of their primary record."""
    return _take(rec["cid"], rec["prim_rec"])


def _window(t_start: pd.Timestamp, t_end: pd.Timestamp) -> tuple[np.datetime64, float]:
    """The window's first day and its length in days (the window is ``[0, span)`` in days)."""
    return np.datetime64(t_start.date(), "D"), float((t_end - t_start).days + 1)


def _simulate(rng, prod, n, span, start64, duplicate_rate, run=None) -> dict:
    """``n`` persons and everything they do in the window, as arrays (and the customers table).

    The steps of :func:`generate`, in the order they draw from ``rng``; ``run``
    numbers the ids of a chunk of a large folder (see :func:`~crmlib.synth.stream.write_large_folder`).
    Purchases, returns and tickets are simulated :data:`FUTURE_DAYS` past the
    window; what falls after it is summed per person in ``future`` (the planted
    future margin) and left out of every other part.
    """
    horizon = span + FUTURE_DAYS
    per = _persons(rng, n, span, start64, prod)
    nat = _purchases(rng, per, horizon)
    nat["dropout"] = np.where(nat["dropout"] < span, nat["dropout"], np.nan)  # alive at the end
    rec = _records(rng, per, duplicate_rate, run)
    camp_rows, contacts, camp = _campaigns(rng, per, nat, span)
    orders = _orders(rng, per, rec, nat, camp)
    lines = _lines(rng, prod, per, orders, horizon)
    tick = _tickets(rng, per, rec, orders, lines, span, horizon)
    future = _future_money(per, orders, lines, tick, span)
    orders, lines, tick = _observed(orders, lines, tick, span)
    ledger = _ledger(orders, lines)
    surv = _surveys(rng, per, tick, span)
    inter = _interactions(rng, per, rec, orders, contacts, tick, span)
    signup = _signup_times(rng, per, rec, orders, tick, inter, span)
    customers, variants, defects = _customers(rng, per, rec, signup, start64, run)
    orders["id"] = _serial("O", np.arange(1, orders["n"] + 1), 9, run)
    tick["id"] = _serial("T", np.arange(1, tick["n"] + 1), 7, run)
    inter["id"] = _serial("I", np.arange(1, inter["t"].size + 1), 9, run)
    surv["id"] = _serial("S", np.arange(1, surv["t"].size + 1), 7, run)
    return {
        "per": per,
        "nat": nat,
        "rec": rec,
        "camp_rows": camp_rows,
        "acq_counts": _acquisition_counts(per, start64, span),
        "orders": orders,
        "lines": lines,
        "ledger": ledger,
        "tick": tick,
        "surv": surv,
        "inter": inter,
        "customers": customers,
        "variants": variants,
        "defects": defects,
        "future": future,
    }


def _rates(activity: str, labels) -> np.ndarray:
    """Unit cost of ``activity`` in each channel of ``labels`` (0 where ``COST_RATES`` has none)."""
    rate = {(a, c): u for a, c, u in COST_RATES}
    return np.array([rate.get((activity, c), 0.0) for c in labels])


def _future_money(per, orders, lines, tick, span) -> dict:
    """Revenue, product cost and cost-to-serve per person from day ``span`` on (the future year).

    The rule of :mod:`crmlib.synth.truth`, applied to what happens after the
    window: purchase lines of orders placed then, returns made then (also of
    orders placed in the window), orders and deliveries placed then, tickets
    opened then. No campaign runs in the future year, so no contact costs.
    """
    n = per["n"]
    later = orders["t"] >= span
    line_person = orders["person"][lines["order"]]
    buy = later[lines["order"]]
    revenue = np.bincount(line_person[buy], weights=lines["revenue"][buy], minlength=n)
    cost = np.bincount(line_person[buy], weights=lines["cost"][buy], minlength=n)
    ret = lines["ret"][lines["ret_t"] >= span]
    revenue -= np.bincount(line_person[ret], weights=lines["revenue"][ret], minlength=n)
    per_order = _rates(ACT_ORDER, ORDER_CHANNELS) + _rates(ACT_DELIVERY, ORDER_CHANNELS)
    cts = np.bincount(
        orders["person"][later], weights=per_order[orders["channel"][later]], minlength=n
    )
    ret_order = lines["order"][ret]
    ret_rate = _rates(ACT_RETURN, ORDER_CHANNELS)[orders["channel"][ret_order]]
    cts += np.bincount(orders["person"][ret_order], weights=ret_rate, minlength=n)
    opened = tick["t"] >= span
    tick_rate = _rates(ACT_TICKET, TICKET_CHANNELS)[tick["channel"][opened]]
    cts += np.bincount(tick["person"][opened], weights=tick_rate, minlength=n)
    return {REVENUE: revenue, PRODUCT_COST: cost, COST_TO_SERVE: cts}


def _observed(orders, lines, tick, span) -> tuple[dict, dict, dict]:
    """Orders, lines (with their returns) and tickets of the window ``[0, span)`` only.

    Orders and tickets are in time order, so the window's are a prefix; a
    line keeps its order's index and a return its line's new index.
    """
    n_obs = int(np.searchsorted(orders["t"], span))
    kept = {k: v[:n_obs] if isinstance(v, np.ndarray) else v for k, v in orders.items()}
    kept["n"] = n_obs
    keep = lines["order"] < n_obs
    new_index = np.cumsum(keep) - 1
    ret_keep = keep[lines["ret"]] & (lines["ret_t"] < span)
    kept_lines = {k: lines[k][keep] for k in ("order", "product", "qty", "revenue", "cost")}
    kept_lines["ret"] = new_index[lines["ret"][ret_keep]]
    kept_lines["ret_t"] = lines["ret_t"][ret_keep]
    n_tick = int(np.searchsorted(tick["t"], span))
    kept_tick = {
        k: v[:n_tick] if isinstance(v, np.ndarray) and v.size == tick["n"] and k != "bad" else v
        for k, v in tick.items()
    }
    kept_tick["n"] = n_tick
    return kept, kept_lines, kept_tick


def _person_tables(sim: dict, prod: dict, start64: np.datetime64) -> dict[str, pd.DataFrame]:
    """The customers, transactions, interactions, tickets and surveys tables of a simulation."""
    rec, orders, ledger = sim["rec"], sim["orders"], sim["ledger"]
    inter, tick, surv = sim["inter"], sim["tick"], sim["surv"]
    cid = rec["cid"]
    return {
        "customers": sim["customers"],
        "transactions": pd.DataFrame(
            {
                ORDER_ID: _take(orders["id"], ledger["order"]),
                CUSTOMER_ID: _take(cid, ledger["record"]),
                ORDER_DATE: _days(start64, ledger["t"]),
                PRODUCT_ID: _take(prod["id"], ledger["product"]),
                QUANTITY: ledger["qty"],
                REVENUE: ledger["revenue"],
                COST: ledger["cost"],
                CHANNEL: _labels(ORDER_CHANNELS, ledger["channel"]),
            }
        ),
        "interactions": pd.DataFrame(
            {
                INTERACTION_ID: inter["id"],
                CUSTOMER_ID: _take(cid, inter["record"]),
                TIMESTAMP: _stamps(start64, inter["t"]),
                CHANNEL: _labels(ALL_CHANNELS, inter["channel"]),
                KIND: _labels(INTERACTION_KINDS, inter["kind"]),
                CAMPAIGN_ID: _labels(list(_campaign_ids()), inter["campaign"]),
                OUTCOME: _labels(OUTCOMES, inter["outcome"]),
            }
        ),
        "tickets": pd.DataFrame(
            {
                TICKET_ID: tick["id"],
                CUSTOMER_ID: _take(cid, tick["record"]),
                OPENED_AT: _stamps(start64, tick["t"]),
                CLOSED_AT: pd.Series(_stamps(start64, tick["close_shown"])).where(tick["closed"]),
                CHANNEL: _labels(TICKET_CHANNELS, tick["channel"]),
                CATEGORY: _labels(TICKET_CATEGORIES, tick["category"]),
                CSAT: np.where(tick["answered"], tick["csat_true"], np.nan),
            }
        ),
        "surveys": pd.DataFrame(
            {
                RESPONSE_ID: surv["id"],
                CUSTOMER_ID: _take(cid, rec["prim_rec"][surv["person"]]),
                DATE: _days(start64, surv["t"]),
                NPS: surv["nps"],
                **{col: surv["needs"][:, j] for j, col in enumerate(NEEDS)},
            }
        ),
    }
