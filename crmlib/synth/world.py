"""The parts of the synthetic world: products, persons, purchases, records, campaigns, customers.

Each function draws one part from the generator it is given, with the
parameters of :mod:`crmlib.synth.parameters`; :mod:`crmlib.synth.simulate`
puts the parts together in a fixed order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from crmlib.data.schema import (
    ACQUISITION_CHANNEL,
    ACT_CONTACT,
    ACTIVITY,
    CAMPAIGN_ID,
    CATEGORY,
    CHANNEL,
    CITY,
    COST,
    COUNTRY,
    CUSTOMER_ID,
    EMAIL,
    END_DATE,
    HOUSEHOLD_SIZE,
    NAME,
    OBJECTIVE,
    OFFER,
    PHONE,
    PRODUCT_ID,
    SIGNUP_DATE,
    SOURCE_SYSTEM,
    START_DATE,
    SUPPLIER,
    TARGET_SEGMENT,
    UNIT_COST,
    UNIT_COST_RATE,
    UNIT_PRICE,
)
from crmlib.synth.helpers import (
    _acquisition_ids,
    _campaign_ids,
    _choice_rows,
    _days,
    _ids,
    _labels,
    _Run,
    _serial,
    _str,
    _take,
)
from crmlib.synth.parameters import (
    _ACQ_SOURCE_PROBS,
    _ACQ_SOURCES,
    _CATEGORY_BASE_PRICE,
    _CATEGORY_NOUNS,
    _CITIES,
    _CITY_WEIGHTS,
    _DISCOUNT_PROBS,
    _DUP_CHANNEL_SPLIT,
    _EMAIL_DOMAINS,
    _EXTRA_UNITS,
    _FIRST_NAMES,
    _LINES_PROBS,
    _MAGNET,
    _MAGNET_PREFERRED,
    _NORMAL,
    _SUPPLIER_MIX,
    _SURNAMES,
    _SYSTEM_PHONE_FORMATS,
    _TIER_ADJECTIVES,
    _TIER_COST_RATIO,
    _TIER_COUNTS,
    _TIER_PRICE,
    _WEEK,
    _WHALE,
    ACQUISITION_COST,
    ACQUISITION_PROGRAMMES,
    ACQUISITION_SEASON,
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
    DEFECT_RATES,
    DISCOUNTS,
    HOLDOUT_SHARE,
    HOUSEHOLD_SHARES,
    HOUSEHOLD_SIZES,
    LAPSED_DAYS,
    ORDER_CHANNEL_LOYALTY,
    PHONE_FORMATS,
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
    WEEKS_PER_YEAR,
    WHALE_SHARE,
)
from crmlib.synth.truth import (
    CITY_CHANGED,
    EMAIL_VARIANT,
    NAME_VARIANT,
    PHONE_FORMAT,
)

# --- the parts of the world ---------------------------------------------------


def _products(rng: np.random.Generator) -> dict:
    """~200 products: 25 per category, in three price tiers."""
    cat, tier, names = [], [], []
    k = 0
    for c, nouns in enumerate(_CATEGORY_NOUNS):
        for t, count in enumerate(_TIER_COUNTS):
            for _ in range(count):
                k += 1
                adj = _TIER_ADJECTIVES[t][k % len(_TIER_ADJECTIVES[t])]
                names.append(f"{adj} {nouns[k % len(nouns)]} {k:03d}")
                cat.append(c)
                tier.append(t)
    cat, tier = np.array(cat), np.array(tier)
    n = len(cat)
    price = _CATEGORY_BASE_PRICE[cat] * np.array(_TIER_PRICE)[tier] * rng.lognormal(0, 0.25, n)
    price = np.floor(price) + 0.99
    cost = np.round(price * np.array(_TIER_COST_RATIO)[tier] * rng.lognormal(0, 0.05, n), 2)
    popularity = rng.lognormal(0, 0.6, n)
    supplier = _choice_rows(rng, _SUPPLIER_MIX, cat)
    return {
        "id": _ids("P", np.arange(1, n + 1), 4),
        "cat": cat,
        "tier": tier,
        "name": names,
        "price": price,
        "cost": cost,
        "pop": popularity,
        "supplier": supplier,
    }


def _return_probs(prod: dict) -> np.ndarray:
    """P(a purchase line is returned) by customer group (rows) and product (columns).

    ``RETURN_PROBS[group] * SUPPLIER_RETURN_FACTOR[the product's supplier]``, at most 0.95.
    """
    factor = np.array(SUPPLIER_RETURN_FACTOR)[prod["supplier"]]
    return np.minimum(RETURN_PROBS[:, None] * factor[None, :], 0.95)


def _order_values(prod: dict) -> np.ndarray:
    """Expected net revenue of one order (after discounts and returns) by product group.

    Groups as the rows of :func:`_product_probs` (segment for ordinary persons,
    then whales, then cost magnets of each segment): expected lines per order x
    expected units per line x expected discounted, not-returned revenue of a
    line. Campaign discounts and the rare second draw of a product already in
    the order (dropped) are left out.
    """
    probs = _product_probs(prod)
    ret = _return_probs(prod)
    disc = _DISCOUNT_PROBS @ np.array(DISCOUNTS)  # price segment, every other segment
    n_seg = len(SEGMENTS)
    out = np.empty(probs.shape[0])
    for row in range(probs.shape[0]):
        group, seg = divmod(row, n_seg)
        lines = _LINES_PROBS[group] @ np.arange(1, _LINES_PROBS.shape[1] + 1)
        units = 1.0 + _EXTRA_UNITS[group]
        off = disc[0] if SEGMENTS[seg] == "price" else disc[1]
        line = probs[row] @ (prod["price"] * (1.0 - ret[group]))
        out[row] = lines * units * (1.0 - off) * line
    return out


def _product_probs(prod: dict) -> np.ndarray:
    """P(product | group), group = segment for ordinary persons, then whale, magnet.

    Rows 0..3: SEGMENTS; 4..7: whales of each segment; 8..11: cost magnets of
    each segment (category mix from the segment, tier mix from the group).
    """
    ncat, ntier = len(CATEGORIES), len(TIERS)
    out = np.zeros((3 * len(SEGMENTS), len(prod["cat"])))
    for g in range(3):
        for s in range(len(SEGMENTS)):
            tier_mix = TIER_MIX[s] if g == _NORMAL else TIER_MIX[len(SEGMENTS) + g - 1]
            w = np.zeros(len(prod["cat"]))
            for c in range(ncat):
                for t in range(ntier):
                    m = (prod["cat"] == c) & (prod["tier"] == t)
                    w[m] = CATEGORY_MIX[s, c] * tier_mix[t] * prod["pop"][m] / prod["pop"][m].sum()
            out[g * len(SEGMENTS) + s] = w / w.sum()
    return out


def _birth_times(rng: np.random.Generator, n: int, span: float, start64) -> np.ndarray:
    """Acquisition times (days since the window's start) over the whole window, seasonal.

    The density of a day is proportional to :data:`ACQUISITION_SEASON` of its
    calendar month: a steady flow of new customers with a summer dip and a
    November-December peak.
    """
    days = start64 + np.arange(int(span)).astype("timedelta64[D]")
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    cum = np.cumsum(np.array(ACQUISITION_SEASON)[month])
    day = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
    return np.minimum(day, int(span) - 1) + rng.random(n)


def _persons(rng: np.random.Generator, n: int, span: float, start64, prod: dict) -> dict:
    """Draw each person's segment, type, channel, household, wallet and BG/NBD latents.

    The wallet, its share and the purchase rate follow :data:`WALLET_MODEL`:
    ``lam = share * g`` with ``g`` ranked by the observable features, so that
    ``lam ~ Gamma(r, alpha)`` as BG/NBD plants it.
    """
    seg = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARES)
    prm, wm = BGNBD_PARAMS, WALLET_MODEL
    t0 = _birth_times(rng, n, span, start64)
    magnet_candidate = rng.random(n) < COST_MAGNET_SHARE / (1 - WHALE_SHARE)
    pref = _choice_rows(rng, PREFERRED_CHANNEL_PROBS, seg)
    pref_magnet = _choice_rows(rng, _MAGNET_PREFERRED[None, :], np.zeros(n, dtype=np.int64))
    pref = np.where(magnet_candidate, pref_magnet, pref)
    acq = _choice_rows(rng, _ACQ_SOURCE_PROBS, pref)
    household = rng.choice(len(HOUSEHOLD_SIZES), size=n, p=HOUSEHOLD_SHARES)
    city = rng.choice(len(_CITIES), size=n, p=_CITY_WEIGHTS / _CITY_WEIGHTS.sum())
    city_effect = np.array([wm["city_effect"].get(c, 0.0) for c in _CITIES])
    source_effect = np.array([wm["source_effect"][a] for a in _ACQ_SOURCES])
    z = (
        wm["hh_coef"] * np.log(np.array(HOUSEHOLD_SIZES)[household])
        + city_effect[city]
        + source_effect[acq]
    )
    sd = z.std()
    z = (z - z.mean()) / sd if sd > 0 else np.zeros(n)
    latent = wm["rho"] * z + np.sqrt(1.0 - wm["rho"] ** 2) * rng.standard_normal(n)
    u = (np.argsort(np.argsort(latent, kind="stable"), kind="stable") + 0.5) / n
    g = stats.gamma.ppf(u, prm["r"] + wm["share_b"], scale=1.0 / prm["alpha"])
    share = rng.beta(prm["r"], wm["share_b"], size=n)
    lam = share * g
    whale_prob = np.minimum(WHALE_SHARE * lam / (prm["r"] / prm["alpha"]), 0.9)
    whale = rng.random(n) < whale_prob
    magnet = ~whale & magnet_candidate
    kind = np.where(whale, _WHALE, np.where(magnet, _MAGNET, _NORMAL))
    value = _order_values(prod)[kind * len(SEGMENTS) + seg]
    return {
        "n": n,
        "seg": seg,
        "lam": lam,
        "p": rng.beta(prm["a"], prm["b"], size=n),
        "t0": t0,
        "kind": kind,
        "pref": pref,
        "acq": acq,
        "household": np.array(HOUSEHOLD_SIZES)[household],
        "city": city,
        "share": share,
        "order_value": value,
        "wallet": WEEKS_PER_YEAR * g * value,
    }


def _purchases(rng: np.random.Generator, per: dict, span: float) -> dict:
    """Simulate the BG/NBD process up to day ``span``; return natural orders and dropout times.

    Rounds of one purchase each: every person still alive and inside
    ``[0, span)`` draws an exponential gap (rate ``lam`` per week), buys if
    still inside, then drops out with probability ``p``. The first purchase
    (acquisition) is not followed by a dropout draw, as in BG/NBD. ``span`` is
    the simulated horizon: the observed window plus :data:`FUTURE_DAYS`.
    """
    n = per["n"]
    lam_day = per["lam"] / _WEEK
    t = per["t0"].copy()
    dropout = np.full(n, np.nan)
    persons, times = [np.arange(n)], [t.copy()]
    active = np.arange(n)
    while active.size:
        t_new = t[active] + rng.exponential(1.0, active.size) / lam_day[active]
        inside = t_new < span
        active, t_new = active[inside], t_new[inside]
        persons.append(active)
        times.append(t_new)
        t[active] = t_new
        drop = rng.random(active.size) < per["p"][active]
        dropout[active[drop]] = t_new[drop]
        active = active[~drop]
    person = np.concatenate(persons)
    first = np.zeros(person.size, dtype=bool)
    first[:n] = True
    return {"person": person, "t": np.concatenate(times), "first": first, "dropout": dropout}


def _records(
    rng: np.random.Generator, per: dict, duplicate_rate: float, run: _Run | None = None
) -> dict:
    """Primary record per person plus a second record for ``duplicate_rate`` of them."""
    n = per["n"]
    has_dup = rng.random(n) < duplicate_rate
    # the second record sits in one of the two other systems, chosen at random
    shift = rng.integers(1, 3, size=n)
    dup_sys = np.where(has_dup, (per["pref"] + shift) % 3, -1)
    dup_persons = np.flatnonzero(has_dup)
    n_rec = n + dup_persons.size
    rec_person = np.concatenate([np.arange(n), dup_persons])
    rec_sys = np.concatenate([per["pref"], dup_sys[dup_persons]])
    rec_primary = np.arange(n_rec) < n
    prim_rec = np.arange(n)
    dup_rec = np.full(n, -1)
    dup_rec[dup_persons] = np.arange(n, n_rec)
    number = rng.permutation(n_rec) + 1  # customer numbers, shuffled over systems
    return {
        "n": n_rec,
        "person": rec_person,
        "sys": rec_sys,
        "primary": rec_primary,
        "prim_rec": prim_rec,
        "dup_rec": dup_rec,
        "dup_sys": dup_sys,
        "number": number,
        "cid": _serial("C", number, 7, run),
    }


def _record_of(rec: dict, person: np.ndarray, system: np.ndarray) -> np.ndarray:
    """The record an activity lands on: the person's record in that system, else the primary."""
    return np.where(
        rec["dup_sys"][person] == system, rec["dup_rec"][person], rec["prim_rec"][person]
    )


def _order_channels(
    rng: np.random.Generator, per: dict, rec: dict, person: np.ndarray
) -> np.ndarray:
    """Channel of each order from the person's preference (and second record)."""
    pref = per["pref"][person]
    dup = rec["dup_sys"][person]
    u = rng.random(person.size)
    other = rng.integers(1, 3, size=person.size)
    loyal = ORDER_CHANNEL_LOYALTY
    ch = np.where(u < loyal, pref, (pref + other) % 3)
    has = dup >= 0
    third = 3 - pref - np.where(has, dup, 0)
    p_pref, p_dup, _ = _DUP_CHANNEL_SPLIT
    ch_dup = np.where(u < p_pref, pref, np.where(u < p_pref + p_dup, dup, third))
    return np.where(has, ch_dup, ch)


def _campaigns(rng, per, nat, span):
    """Plan the campaigns, draw target lists, arms and campaign orders."""
    n = per["n"]
    alive_until = np.where(np.isnan(nat["dropout"]), np.inf, nat["dropout"])
    order_p, order_t = [nat["person"]], [nat["t"]]
    rows, contacts, extra = [], [], []
    chan_idx = {c: i for i, c in enumerate(CAMPAIGN_CHANNELS)}
    for k, spec in enumerate(CAMPAIGNS):
        s = float(np.floor(spec.start_share * span))
        days = min(spec.days, int(span - s))
        e = s + days
        eligible = per["t0"] < s
        if spec.target in SEGMENTS:
            eligible &= per["seg"] == SEGMENTS.index(spec.target)
        elif spec.target == "lapsed":
            op, ot = np.concatenate(order_p), np.concatenate(order_t)
            before = ot < s
            last = np.full(n, -np.inf)
            np.maximum.at(last, op[before], ot[before])
            eligible &= last < s - LAPSED_DAYS
        target = np.flatnonzero(eligible & (rng.random(n) < spec.reach))
        holdout = rng.random(target.size) < HOLDOUT_SHARE
        alive = alive_until[target] > s
        p0 = np.where(alive, 1.0 - np.exp(-per["lam"][target] * days / _WEEK), 0.0)
        fit = CHANNEL_RESPONSE[per["pref"][target], chan_idx[spec.channel]]
        # scale the channel fit so that the expected incremental response over the
        # target list, mean(q * (1 - p0)), is the planted uplift
        room = float(np.mean(np.where(alive, fit * (1.0 - p0), 0.0))) if target.size else 0.0
        scale = spec.uplift / room if room > 0 else 0.0
        q = np.where(alive, np.minimum(scale * fit, 1.0), 0.0)
        p1 = 1.0 - (1.0 - p0) * (1.0 - q)
        responds = ~holdout & (rng.random(target.size) < q)
        who = target[responds]
        t_ord = s + rng.random(who.size) * days
        order_p.append(who)
        order_t.append(t_ord)
        extra.append((who, t_ord, np.full(who.size, k)))
        contacts.append((target, holdout, s + rng.random(target.size) * 0.5, s, e))
        gain = q * (1.0 - p0)
        rows.append(
            {
                "spec": spec,
                "start": s,
                "end": e,
                "n_target": target.size,
                "n_treated": int((~holdout).sum()),
                "n_holdout": int(holdout.sum()),
                "alive_share": float(alive.mean()) if target.size else np.nan,
                "control_prob": float(p0.mean()) if target.size else np.nan,
                "treated_prob": float(p1.mean()) if target.size else np.nan,
                "uplift_if_alive": float(gain[alive].mean()) if alive.any() else np.nan,
            }
        )
    camp_orders = {
        "person": np.concatenate([x[0] for x in extra]),
        "t": np.concatenate([x[1] for x in extra]),
        "campaign": np.concatenate([x[2] for x in extra]),
    }
    return rows, contacts, camp_orders


def _names(rng, n):
    """First and last names; surnames follow a skewed (Zipf-like) frequency."""
    ranks = np.arange(1, len(_SURNAMES) + 1)
    w_last = 1.0 / ranks**0.9
    w_first = 1.0 / np.arange(1, len(_FIRST_NAMES) + 1) ** 0.5
    first = rng.choice(len(_FIRST_NAMES), size=n, p=w_first / w_first.sum())
    last = rng.choice(len(_SURNAMES), size=n, p=w_last / w_last.sum())
    sd = np.dtypes.StringDType()
    return np.array(_FIRST_NAMES, dtype=sd)[first], np.array(_SURNAMES, dtype=sd)[last]


def _typos(rng, names):
    """One typo per name: two characters swapped, one dropped or one replaced."""
    n = names.size
    length = np.strings.str_len(names)
    kind = rng.integers(0, 3, size=n)
    i = 1 + np.floor(rng.random(n) * np.maximum(length - 2, 1)).astype(np.int64)
    left = np.strings.slice(names, 0, i)
    ch = np.strings.slice(names, i, i + 1)
    nxt = np.strings.slice(names, i + 1, i + 2)
    rest1 = np.strings.slice(names, i + 1, length)
    rest2 = np.strings.slice(names, i + 2, length)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"), dtype=np.dtypes.StringDType())
    rep = letters[rng.integers(0, 26, size=n)]
    rep = np.where(rep == ch, np.where(ch == "e", "a", "e"), rep)
    swapped = np.strings.add(np.strings.add(np.strings.add(left, nxt), ch), rest2)
    dropped = np.strings.add(left, rest1)
    replaced = np.strings.add(np.strings.add(left, rep), rest1)
    out = np.where(kind == 0, swapped, np.where(kind == 1, dropped, replaced))
    return out, kind


def _phone_text(digits8, fmt):
    """Format 8-digit London numbers in the formats ``fmt`` (indices into PHONE_FORMATS)."""
    a = np.strings.slice(digits8, 0, 4)
    b = np.strings.slice(digits8, 4, 8)
    out = np.empty(digits8.size, dtype=np.dtypes.StringDType())
    for f, pattern in enumerate(PHONE_FORMATS):
        m = fmt == f
        if not m.any():
            continue
        pre, rest = pattern.split("{a}")
        mid, post = rest.split("{b}")
        out[m] = np.strings.add(
            np.strings.add(np.strings.add(np.strings.add(pre, a[m]), mid), b[m]), post
        )
    return out


def _customers(rng, per, rec, signup_t, start64, run=None):
    """The customers table and the record-level truth of the identity variants.

    In a chunk of a large folder (``run`` given) phone numbers and e-mail
    usernames continue those of the earlier chunks, and ``run.email_seen`` is
    updated with this chunk's usernames.
    """
    n, n_rec = per["n"], rec["n"]
    sd = np.dtypes.StringDType()
    first, last = _names(rng, n)
    full = np.strings.add(np.strings.add(first, " "), last)
    # e-mail: a username pattern, a rank suffix to keep it unique per person, a domain
    fl, ll = np.strings.lower(first), np.strings.lower(last)
    pattern = rng.integers(0, 4, size=n)
    initial = np.strings.slice(fl, 0, 1)
    user = np.where(
        pattern == 0,
        np.strings.add(np.strings.add(fl, "."), ll),
        np.where(
            pattern == 1,
            np.strings.add(np.strings.add(initial, "."), ll),
            np.where(
                pattern == 2, np.strings.add(fl, ll), np.strings.add(np.strings.add(fl, "_"), ll)
            ),
        ),
    )
    users = pd.Series(user.astype(object))
    rank = users.groupby(users).cumcount().to_numpy()
    if run is not None:  # persons of earlier chunks already use some usernames
        rank = rank + users.map(run.email_seen).fillna(0).to_numpy(dtype=np.int64)
        for name, count in users.value_counts().items():
            run.email_seen[name] = run.email_seen.get(name, 0) + int(count)
    suffix = np.where(rank > 0, (rank + 1).astype(sd), "")
    user = np.strings.add(user, suffix)
    domain_idx = rng.choice(len(_EMAIL_DOMAINS), size=n, p=[0.5, 0.3, 0.2])
    domains = np.array(_EMAIL_DOMAINS, dtype=sd)
    email = np.strings.add(np.strings.add(user, "@"), domains[domain_idx])
    # phone: a unique 8-digit London number per person (an affine bijection of the index)
    offset = int(rng.integers(0, 10**7))
    first_person = 0
    if run is not None:  # one mapping for the whole folder, over the persons of all chunks
        offset, first_person = run.phone_offset, run.first_person
    sub = ((first_person + np.arange(n, dtype=np.int64)) * 7_654_321 + offset) % 10**7
    lead = np.array([3, 7, 8])[rng.integers(0, 3, size=n)]
    digits8 = (lead * 10**7 + sub).astype(sd)
    city = per["city"]

    person = rec["person"]
    sys = rec["sys"]
    dup = ~rec["primary"]
    n_dup = int(dup.sum())
    # names of second records: 60 % with one typo
    rec_name = full[person]
    name_variant = np.where(rec["primary"], "original", "same").astype(object)
    dup_idx = np.flatnonzero(dup)
    typo = rng.random(n_dup) < 0.6
    typo_names, typo_kind = _typos(rng, rec_name[dup_idx[typo]])
    changed = typo_names != rec_name[dup_idx[typo]]
    rec_name[dup_idx[typo]] = typo_names
    kinds = np.array(["swap", "drop", "replace"], dtype=object)[typo_kind]
    name_variant[dup_idx[typo]] = np.where(changed, kinds, "same")
    # e-mails of second records: same, case change, other domain or missing
    rec_email = email[person]
    email_missing = np.zeros(n_rec, dtype=bool)
    email_variant = np.where(rec["primary"], "original", "same").astype(object)
    ev = rng.choice(4, size=n_dup, p=[0.4, 0.3, 0.2, 0.1])
    e_dup = rec_email[dup_idx]
    title = np.strings.add(
        np.strings.add(np.strings.title(user[person[dup_idx]]), "@"),
        domains[domain_idx[person[dup_idx]]],
    )
    cased = np.where(rng.random(n_dup) < 0.5, np.strings.upper(e_dup), title)
    other_dom = domains[(domain_idx[person[dup_idx]] + rng.integers(1, 3, size=n_dup)) % 3]
    moved_dom = np.strings.add(np.strings.add(user[person[dup_idx]], "@"), other_dom)
    e_dup = np.where(ev == 1, cased, np.where(ev == 2, moved_dom, e_dup))
    rec_email[dup_idx] = e_dup
    email_variant[dup_idx] = np.array(["same", "case", "domain", "missing"], dtype=object)[ev]
    email_missing[dup_idx] = ev == 3
    # phones: primary in a format its system favours, second record in another format
    fmt = np.empty(n_rec, dtype=np.int64)
    for s_i, fmts in enumerate(_SYSTEM_PHONE_FORMATS):
        m = sys == s_i
        fmt[m] = np.array(fmts)[rng.integers(0, len(fmts), size=int(m.sum()))]
    prim_fmt = fmt[rec["prim_rec"][person[dup_idx]]]
    fmt[dup_idx] = (prim_fmt + rng.integers(1, len(PHONE_FORMATS), size=n_dup)) % len(PHONE_FORMATS)
    rec_phone = _phone_text(digits8[person], fmt)
    # city: one in ten second records moved
    rec_city = city[person].copy()
    moved = np.zeros(n_rec, dtype=bool)
    moved[dup_idx] = rng.random(n_dup) < 0.1
    rec_city[moved] = (
        rec_city[moved] + rng.integers(1, len(_CITIES), size=int(moved.sum()))
    ) % len(_CITIES)
    # the primary record carries the person's acquisition source; a second record
    # the source its own system recorded
    acq = np.where(rec["primary"], per["acq"][person], _choice_rows(rng, _ACQ_SOURCE_PROBS, sys))
    # defects: missing phone / city on exactly the planted share of records
    miss_phone = np.zeros(n_rec, dtype=bool)
    miss_city = np.zeros(n_rec, dtype=bool)
    miss_phone[
        rng.choice(n_rec, size=round(DEFECT_RATES["missing_phone"] * n_rec), replace=False)
    ] = True
    miss_city[
        rng.choice(n_rec, size=round(DEFECT_RATES["missing_city"] * n_rec), replace=False)
    ] = True

    order = np.argsort(rec["number"])  # customers table sorted by customer number
    df = pd.DataFrame(
        {
            CUSTOMER_ID: _take(rec["cid"], order),
            NAME: _str(rec_name[order]),
            EMAIL: _str(rec_email[order]).mask(email_missing[order]),
            PHONE: _str(rec_phone[order]).mask(miss_phone[order]),
            CITY: _labels(_CITIES, np.where(miss_city, -1, rec_city)[order]),
            COUNTRY: _labels([COUNTRY_NAME], np.zeros(n_rec, dtype=np.int64)),
            SIGNUP_DATE: _days(start64, signup_t[order]),
            ACQUISITION_CHANNEL: _labels(_ACQ_SOURCES, acq[order]),
            SOURCE_SYSTEM: _labels(SOURCE_SYSTEMS, sys[order]),
            HOUSEHOLD_SIZE: per["household"][person[order]],
        }
    )
    variants = {
        NAME_VARIANT: name_variant,
        EMAIL_VARIANT: email_variant,
        PHONE_FORMAT: fmt,
        CITY_CHANGED: moved,
    }
    defects = [
        (_take(rec["cid"], np.flatnonzero(email_missing)), EMAIL),
        (_take(rec["cid"], np.flatnonzero(miss_phone)), PHONE),
        (_take(rec["cid"], np.flatnonzero(miss_city)), CITY),
    ]
    return df, variants, defects


def _quarters(start64, span: float) -> np.ndarray:
    """First day (days since the window's start) of each calendar quarter the window touches."""
    days = start64 + np.arange(int(span)).astype("timedelta64[D]")
    month = days.astype("datetime64[M]").astype(np.int64)
    first = np.flatnonzero(np.diff(month // 3, prepend=month[0] // 3 - 1) != 0)
    return first.astype(float)


def _acquisition_counts(per: dict, start64, span: float) -> np.ndarray:
    """New persons by calendar quarter (rows) and acquisition source (columns ``_ACQ_SOURCES``)."""
    quarters = _quarters(start64, span)
    q = np.searchsorted(quarters, per["t0"], side="right") - 1
    counts = np.zeros((quarters.size, len(_ACQ_SOURCES)), dtype=np.int64)
    np.add.at(counts, (q, per["acq"]), 1)
    return counts


def _acquisition_rows(counts: np.ndarray, start64, span: float) -> list[dict]:
    """One acquisition campaign per quarter and programme, its cost from the new persons it paid for.

    Cost = sum over the programme's sources of :data:`ACQUISITION_COST` x the
    persons first buying in the quarter through that source.
    """
    quarters = _quarters(start64, span)
    ends = np.append(quarters[1:], span)
    rows = []
    for q, (s, e) in enumerate(zip(quarters, ends, strict=True)):
        label = pd.Timestamp(start64 + np.timedelta64(int(s), "D"))
        for name, channel, sources in ACQUISITION_PROGRAMMES:
            idx = [_ACQ_SOURCES.index(src) for src in sources]
            n_new = int(counts[q, idx].sum())
            cost = float(sum(ACQUISITION_COST[_ACQ_SOURCES[i]] * counts[q, i] for i in idx))
            rows.append(
                {
                    "name": f"{name} {label.year} Q{(label.month - 1) // 3 + 1}",
                    "channel": channel,
                    "sources": sources,
                    "start": s,
                    "end": e,
                    "n_new": n_new,
                    "cost": round(cost, 2),
                }
            )
    return rows


def _small_tables(start64, prod, camp_rows, acq_counts, span) -> dict:
    """The products, cost_rates and campaigns tables (contact campaigns, then acquisition)."""
    products = pd.DataFrame(
        {
            PRODUCT_ID: prod["id"],
            NAME: _str(prod["name"]),
            CATEGORY: _labels(CATEGORIES, prod["cat"]),
            UNIT_PRICE: prod["price"],
            UNIT_COST: prod["cost"],
            SUPPLIER: _labels(SUPPLIERS, prod["supplier"]),
        }
    )
    cost_rates = pd.DataFrame(
        {
            ACTIVITY: _str([a for a, _, _ in COST_RATES]),
            CHANNEL: _str([c for _, c, _ in COST_RATES]),
            UNIT_COST_RATE: [float(u) for _, _, u in COST_RATES],
        }
    )
    rate = {(a, c): u for a, c, u in COST_RATES}
    acq = _acquisition_rows(acq_counts, start64, span)
    campaigns = pd.DataFrame(
        {
            CAMPAIGN_ID: pd.concat(
                [_campaign_ids(), _acquisition_ids(len(acq))], ignore_index=True
            ),
            NAME: _str([c.name for c in CAMPAIGNS] + [a["name"] for a in acq]),
            CHANNEL: _str([c.channel for c in CAMPAIGNS] + [a["channel"] for a in acq]),
            OFFER: _str([c.offer for c in CAMPAIGNS] + ["new customers"] * len(acq)),
            COST: [
                CAMPAIGN_FIXED_COST + r["n_treated"] * rate.get((ACT_CONTACT, r["spec"].channel), 0)
                for r in camp_rows
            ]
            + [a["cost"] for a in acq],
            START_DATE: _days(
                start64, np.array([r["start"] for r in camp_rows] + [a["start"] for a in acq])
            ),
            END_DATE: _days(
                start64, np.array([r["end"] - 1 for r in camp_rows] + [a["end"] - 1 for a in acq])
            ),
            TARGET_SEGMENT: _str([c.target for c in CAMPAIGNS] + ["prospects"] * len(acq)),
            OBJECTIVE: _str([c.objective for c in CAMPAIGNS] + ["acquisition"] * len(acq)),
        }
    )
    return {"products": products, "cost_rates": cost_rates, "campaigns": campaigns}
