"""Value at stake on one basis: incremental expected margin over one horizon, per customer.

Every recommendation a lesson hands the report carries its value as the expected
margin the action adds (or protects) over one stated horizon (default 12
months), discounted, from the same models: the CLV of
:class:`crmlib.analytics.clv.CLVPipeline` (BG/NBD + Gamma-Gamma, after
cost-to-serve when the client has cost rates) and the wallet gap of
:mod:`crmlib.analytics.wallet`. Values are kept per customer, so that the report
can merge two recommendations of the same kind that cover the same customers
(:func:`merge_overlapping`) and count each customer's value once.

Kinds of value (:data:`KINDS`), each what the action *adds*, not the value it touches:

- ``retention``: keeping more of the customers (:func:`retention_stake`): the
  margin that ``step`` more probability of staying brings over the horizon,
  the step being the effect the client's campaigns showed over their holdouts
  (:func:`crmlib.analytics.uplift.action_effect`) or one point; for
  subscribers (:func:`subscriber_retention_stake`,
  :func:`subscriber_retention_recommendation`) the same on the margin of their
  subscriptions over the horizon (:func:`crmlib.analytics.contractual.contractual_value`)
  and the chance to renew at their next renewal (shifted-beta-geometric);
- ``growth``: the effect times the expected, discounted margin on the part of
  their wallet the firm does not get (:func:`growth_stake`,
  :func:`crmlib.analytics.wallet.growth_potential`);
- ``cost``: the expected loss of customers whose CLV after cost-to-serve is
  negative (:func:`cost_stake`): what re-pricing or re-serving them to break
  even adds.

A recommendation is a dict (:func:`recommendation`); its ``per_customer``
Series stays out of JSON (:func:`crmlib.results.record` writes it to a sidecar
file of keyed customer pseudonyms and values, never ids, names or contact details).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from crmlib.analytics.contractual import (
    AT_RISK_SHARE,
    HORIZON_MARGIN,
    NEXT_RETENTION,
    ContractualValue,
    at_risk_subscribers,
)
from crmlib.errors import CRMError

# --- names this module defines ---------------------------------------------
RETENTION, GROWTH, COST = "retention", "growth", "cost"
KINDS = (RETENTION, GROWTH, COST)

TEXT = "text"
VALUE_AT_STAKE = "value_at_stake"
KIND = "kind"
CUSTOMERS = "customers"
HORIZON_MONTHS = "horizon_months"
CONFIDENCE = "confidence"
EVIDENCE = "evidence"
PER_CUSTOMER = "per_customer"  # a pandas Series by customer_id: kept out of JSON
FIELDS = (TEXT, VALUE_AT_STAKE, KIND, CUSTOMERS, HORIZON_MONTHS, CONFIDENCE, EVIDENCE)

#: Where a recommendation's text turns from the action to how it is valued ("...: value = ...").
_VALUE_CLAUSE = re.compile(r"[:;,]\s*value\s*=")

# columns of the per-customer tables
REC_ID = "recommendation_id"
CUSTOMER_ID = "customer_id"
VALUE = "value"


def _values(values: pd.Series, what: str) -> pd.Series:
    if not isinstance(values, pd.Series):
        raise CRMError(f"{what} needs a Series of values by customer_id")
    out = values.astype(float)
    if not np.isfinite(out.to_numpy()).all():
        raise CRMError(f"{what}: every customer's value must be a finite number")
    if out.index.inferred_type != "string":  # ids as text; an index of text is kept, not copied
        out.index = out.index.astype(str)
    return out


def retention_stake(clv: pd.Series, p_alive: pd.Series, step: float, customers=None) -> pd.Series:
    """What ``step`` more probability of staying is worth, per customer, over the horizon.

    ``min(step, 1 - P(alive)) * CLV / P(alive)`` for customers with a positive
    CLV: CLV / P(alive) is what the customer brings if alive (the BG/NBD
    expectation is P(alive) times the expectation given alive, Fader, Hardie &
    Lee 2005a, eq. 10), and ``step`` more probability of being alive adds that
    share of it. With ``step`` = 0.01 this is the value of one retention point
    of the geometric retention model (Gupta & Lehmann 2003, "Customers as
    assets", *Journal of Interactive Marketing* 17(1)) on the CLV model's
    horizon and basis; with the measured campaign uplift it is what a
    programme as effective as the client's campaigns keeps.

    Parameters
    ----------
    clv : pandas.Series
        CLV by customer_id (over the horizon, discounted).
    p_alive : pandas.Series
        The BG/NBD P(alive) of the same customers (the model the CLV comes from).
    step : float
        The increase in the probability of staying, in [0, 1).
    customers : index-like, optional
        The customers the action covers; default all.
    """
    if not 0 <= step < 1:
        raise CRMError(f"step is a share from 0 to below 1, not {step!r}")
    values = _values(clv, "retention_stake")
    if customers is not None:
        values = values.reindex(pd.Index(customers).astype(str)).fillna(0.0)
    alive = _values(p_alive, "retention_stake").reindex(values.index)
    if alive.isna().any() or (alive <= 0).any() or (alive > 1).any():
        raise CRMError("retention_stake: P(alive) must be in (0, 1] for every customer")
    gain = np.minimum(step, 1.0 - alive) * values / alive
    return gain.where(values > 0, 0.0)


def subscriber_retention_stake(subscriptions: pd.DataFrame, step: float) -> pd.Series:
    """What ``step`` more probability of renewing is worth, per customer, over the horizon.

    Per active subscription, ``min(step, 1 - r) * V / r`` where V is its
    ``horizon_margin`` (margin share x price x the expected discounted payments
    over the horizon, :func:`crmlib.analytics.contractual.horizon_payments`)
    and r its ``next_retention``, the sBG chance to renew at the next renewal
    (Fader & Hardie 2007, r(n + 1) at tenure n). Every payment of the horizon
    needs that renewal first, so V = r x the horizon margin of a subscriber
    who renews (the survival S(n + k) / S(n) = r(n + 1) S(n + k) / S(n + 1)),
    and ``step`` more probability of renewing adds that share of it: the
    contractual counterpart of :func:`retention_stake`, on the same basis
    (margin over the horizon, discounted monthly). Summed per customer (a
    customer may hold several subscriptions).

    Parameters
    ----------
    subscriptions : pandas.DataFrame
        ``customer_id``, ``next_retention`` and ``horizon_margin``, one row per
        subscription (e.g. :func:`crmlib.analytics.contractual.at_risk_subscribers`).
    step : float
        The increase in the probability of renewing, in [0, 1).

    Returns
    -------
    pandas.Series
        By customer_id (as str); 0 for a subscription with no margin.
    """
    if not 0 <= step < 1:
        raise CRMError(f"step is a share from 0 to below 1, not {step!r}")
    missing = [c for c in (CUSTOMER_ID, NEXT_RETENTION, HORIZON_MARGIN) if c not in subscriptions]
    if missing:
        raise CRMError(f"subscriber_retention_stake: no column(s) {', '.join(missing)}")
    renew = subscriptions[NEXT_RETENTION].to_numpy(dtype=float)
    margin = subscriptions[HORIZON_MARGIN].to_numpy(dtype=float)
    if not (np.isfinite(margin).all() and np.isfinite(renew).all()):
        raise CRMError("subscriber_retention_stake: every subscription must be valued")
    if ((renew <= 0) | (renew > 1)).any():
        raise CRMError("subscriber_retention_stake: the chance to renew must be in (0, 1]")
    gain = np.where(margin > 0, np.minimum(step, 1.0 - renew) * margin / renew, 0.0)
    ids = subscriptions[CUSTOMER_ID].astype(str).to_numpy()
    out = pd.Series(gain, index=pd.Index(ids, name=CUSTOMER_ID)).groupby(level=0, sort=False).sum()
    return out.astype(float).rename(VALUE)


def subscriber_retention_recommendation(
    value: ContractualValue,
    step: float,
    share: float = AT_RISK_SHARE,
    confidence: str = "",
    evidence: str = "",
) -> dict | None:
    """Keep the subscribers most at risk of cancelling at their next renewal, valued.

    The ``share`` of active subscriptions with the lowest sBG chance to renew
    at their tenure (:func:`crmlib.analytics.contractual.at_risk_subscribers`),
    valued by :func:`subscriber_retention_stake` with ``step`` (the measured
    effect of the client's campaigns, or one point) over the horizon of
    ``value`` (its ``horizon_months``), as a :func:`recommendation` of kind
    ``retention``.

    Returns
    -------
    dict or None
        None when no active subscription is valued.
    """
    at_risk = at_risk_subscribers(value, share)
    if at_risk.empty:
        return None
    months = value.horizon_months
    text = (
        f"Keep the {len(at_risk):,} subscriptions most at risk of being cancelled at their next "
        f"renewal (the {100 * share:.0f} % of active subscriptions least likely to renew at "
        f"their tenure, mostly the newest): value = {100 * step:.1f} points more chance of "
        f"renewing, times their margin over {months} months"
    )
    return recommendation(
        text,
        RETENTION,
        subscriber_retention_stake(at_risk, step),
        months,
        confidence,
        evidence,
    )


def growth_stake(expected_gap: pd.Series, effect: float) -> pd.Series:
    """What growing customers towards their wallet adds: ``effect`` x expected gap.

    The expected gap (:func:`crmlib.analytics.wallet.growth_potential`:
    P(alive) x the wallet the firm does not get x margin, discounted) is the
    most the firm could win; an action wins the share of it its effect moves,
    the incremental response of :func:`crmlib.analytics.uplift.action_effect`.
    """
    if not 0 <= effect <= 1:
        raise CRMError(f"effect is a share between 0 and 1, not {effect!r}")
    return (_values(expected_gap, "growth_stake").clip(lower=0.0) * effect).astype(float)


def cost_stake(clv: pd.Series) -> pd.Series:
    """Expected loss of each below-zero customer: -CLV where CLV after cost-to-serve < 0.

    Peppers & Rogers' below-zero customers (*Managing Customer
    Relationships*, 2nd ed. 2011, ch. 5) "are expected to cost more than they
    bring": re-priced or served at a lower cost to break even, each adds
    their expected loss.
    """
    values = _values(clv, "cost_stake")
    return (-values[values < 0]).astype(float)


def recommendation(
    text: str,
    kind: str,
    per_customer: pd.Series,
    horizon_months: int = 12,
    confidence: str = "",
    evidence: str = "",
) -> dict:
    """A recommendation dict for :func:`crmlib.results.record`, valued per customer.

    Parameters
    ----------
    text : str
        The action, for a client.
    kind : {"retention", "growth", "cost"}
    per_customer : pandas.Series
        Each covered customer's value (currency), by customer_id; customers
        with 0 are left out. The recommendation's value is its sum.
    horizon_months : int, default 12
    confidence : str
        How sure, in words (e.g. what the estimate rests on).
    evidence : str
        Where it comes from: lesson and section.

    Returns
    -------
    dict
        text, value_at_stake (rounded to a whole unit), kind, customers
        (count), horizon_months, confidence, evidence and per_customer.
    """
    if kind not in KINDS:
        raise CRMError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    values = _values(per_customer, "recommendation")
    if (values < 0).any():
        raise CRMError("recommendation: a value at stake is not negative; choose the kind instead")
    values = values[values > 0]
    return {
        TEXT: text,
        VALUE_AT_STAKE: round(float(values.sum()), 0),
        KIND: kind,
        CUSTOMERS: int(len(values)),
        HORIZON_MONTHS: int(horizon_months),
        CONFIDENCE: confidence,
        EVIDENCE: evidence,
        PER_CUSTOMER: values,
    }


def merge_overlapping(table: pd.DataFrame, per_customer: pd.DataFrame) -> pd.DataFrame:
    """Merge recommendations of the same kind that cover some of the same customers.

    Two recommendations of one kind whose customers overlap (directly or
    through a chain) become one row: its customers are the union, and its
    value counts each customer once, at the largest value any of the merged
    recommendations gives them. Rows without a kind or without per-customer
    values are left as they are. So no two rows count the same customers'
    same kind of value.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per recommendation, index ``recommendation_id``, with ``text``,
        ``kind`` and ``value_at_stake`` (and any other columns; the merged row
        keeps those of its highest-valued member; its text names each member's action, the
        part of its text before its "value =" clause, and says how the value was counted).
    per_customer : pandas.DataFrame
        ``recommendation_id``, ``customer_id``, ``value``.

    Returns
    -------
    pandas.DataFrame
        The table with merged rows (index: the first member's id), a column
        ``merged`` (the number of recommendations in the row).
    """
    out = table.copy()
    out["merged"] = 1
    if per_customer is None or per_customer.empty:
        return out
    parent = {i: i for i in out.index}

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # by position: a customer is a code of pd.factorize, each recommendation the sorted codes
    # of its customers (millions of ids at scale, few recommendations)
    rec = per_customer[REC_ID].to_numpy()
    keep = np.isin(rec, out.index[out[KIND].notna()])
    rec = rec[keep]
    codes = pd.factorize(per_customer[CUSTOMER_ID])[0][keep]  # of the ids as stored (no copy)
    value = per_customer[VALUE].to_numpy(dtype=float)[keep]
    covered = {r: np.unique(codes[rec == r]) for r in pd.unique(rec)}
    kind_of = {r: out.at[r, KIND] for r in covered}
    ids = sorted(covered)
    for i, a in enumerate(ids):  # two of one kind sharing a customer are one row
        for b in ids[i + 1 :]:
            if kind_of[a] != kind_of[b] or find(a) == find(b):
                continue
            if np.intersect1d(covered[a], covered[b], assume_unique=True).size:
                parent[find(b)] = find(a)
    groups: dict = {}
    for i in out.index:
        groups.setdefault(find(i), []).append(i)
    rows = []
    for members in groups.values():
        if len(members) == 1:
            rows.append(out.loc[members[0]].to_dict() | {REC_ID: members[0]})
            continue
        ranked = out.loc[members].sort_values(VALUE_AT_STAKE, ascending=False, kind="stable")
        best = ranked.iloc[0].to_dict()
        mine = np.isin(rec, members)
        values = pd.Series(value[mine]).groupby(codes[mine]).max()
        actions = dict.fromkeys(_VALUE_CLAUSE.split(text)[0] for text in ranked[TEXT].astype(str))
        best[TEXT] = (
            "; ".join(actions) + ". Value: each customer counted once, at the largest value "
            "the merged recommendations give them"
        )
        best[VALUE_AT_STAKE] = round(float(values.sum()), 0)
        if CUSTOMERS in best:
            best[CUSTOMERS] = int(len(values))
        if EVIDENCE in best:
            best[EVIDENCE] = "; ".join(
                dict.fromkeys(e for e in ranked[EVIDENCE].astype(str) if e and e != "nan")
            )
        best["merged"] = len(members)
        rows.append(best | {REC_ID: min(members)})
    merged = pd.DataFrame(rows).set_index(REC_ID)
    merged.index.name = table.index.name
    return merged.loc[sorted(merged.index)]


def is_value(value) -> bool:
    """A finite number (not a bool or a string)."""
    try:
        return not isinstance(value, (bool, str)) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
