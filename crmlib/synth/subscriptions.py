"""The subscriptions table: paid "plus" memberships whose churn is shifted-beta-geometric.

A share :data:`~crmlib.synth.parameters.SUBSCRIPTION_SHARE` of persons
subscribes once, on one of :data:`~crmlib.synth.parameters.SUBSCRIPTION_PLANS`,
on a day drawn uniformly from their first purchase to
:data:`~crmlib.synth.parameters.SUBSCRIPTION_JOIN_DAYS` later (at the latest
the window's last day). Each subscriber has a churn probability ``theta ~ Beta(alpha, beta)`` of their
plan, constant per period: they pay ``T`` periods, ``T`` geometric with
``P(T = t) = theta (1 - theta)**(t - 1)``, t = 1, 2, ..., so that across the
plan's subscribers ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``
(Fader, P. S., & Hardie, B. G. S. 2007, "How to project customer retention",
*Journal of Interactive Marketing* 21(1), 76-90, the shifted-beta-geometric).

``end_date`` is the last day of the last paid period (``start_date`` plus
``T`` periods, less one day; a day past the end of a shorter month is that
month's last day), empty when that day is after the window's end: the
subscription is still active. Whole periods from ``start_date`` to
``end_date`` are then ``T - 1``, the renewals made, as
:func:`crmlib.analytics.clv.survivors_from_subscriptions` counts them.

Everything here is drawn from a generator of its own (see
:func:`subscription_rng`), never from the one the other tables come from, so
that the other tables of a seed do not change with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.data.schema import (
    CUSTOMER_ID,
    END_DATE,
    PERIOD,
    PLAN,
    PRICE,
    START_DATE,
    SUBSCRIPTION_ID,
)
from crmlib.synth.helpers import _labels, _Run, _serial, _take
from crmlib.synth.parameters import (
    SUBSCRIPTION_JOIN_DAYS,
    SUBSCRIPTION_PLANS,
    SUBSCRIPTION_SHARE,
    SUBSCRIPTION_STREAM,
)

#: Truth columns of ``truth.subscription_plans`` beyond plan, price and period.
ALPHA, BETA, N_SUBSCRIBERS, N_ACTIVE = "alpha", "beta", "n", "n_active"
#: Periods paid beyond which a subscription is certainly active at the end of any window.
_MAX_PERIODS = 10_000
_MONTHS = {"month": 1, "year": 12}


def subscription_rng(seed: int, chunk: int | None = None) -> np.random.Generator:
    """The subscriptions' own generator: ``default_rng([seed, SUBSCRIPTION_STREAM(, chunk)])``.

    A separate stream, so that adding the table left every other table of a
    seed byte for byte as it was; ``chunk`` numbers the chunks of
    :func:`~crmlib.synth.stream.write_large_folder`.
    """
    words = [int(seed), SUBSCRIPTION_STREAM] + ([] if chunk is None else [int(chunk)])
    return np.random.default_rng(words)


def add_months(day: np.ndarray, months: np.ndarray) -> np.ndarray:
    """``day`` (datetime64[D]) plus whole ``months``, a day past a month's end clipped to it.

    As :class:`pandas.DateOffset` counts months: 31 January plus one month is
    28 (or 29) February.
    """
    month = day.astype("datetime64[M]")
    offset = (day - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months, dtype=np.int64).astype("timedelta64[M]")
    first = target.astype("datetime64[D]")
    length = ((target + 1).astype("datetime64[D]") - first).astype(np.int64)
    return first + np.minimum(offset, length - 1).astype("timedelta64[D]")


def _subscriptions(
    rng: np.random.Generator,
    t0: np.ndarray,
    customer_ids: pd.Series,
    span: float,
    start64: np.datetime64,
    run: _Run | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The subscriptions table of persons acquired at ``t0`` and the truth of each plan.

    Parameters
    ----------
    rng : numpy.random.Generator
        The subscriptions' own generator (:func:`subscription_rng`).
    t0 : numpy.ndarray
        Each person's first purchase, in days since ``start64``.
    customer_ids : pandas.Series
        Each person's ``customer_id`` (their primary record).
    span : float
        Length of the window in days (its last day is ``start64 + span - 1``).
    start64 : numpy.datetime64
        The window's first day.
    run : _Run, optional
        In a chunk of a large folder: continues the ``SB`` ids of earlier chunks.

    Returns
    -------
    table : pandas.DataFrame
        ``subscription_id``, ``customer_id``, ``plan``, ``start_date``,
        ``end_date`` (NaT while active), ``price``, ``period``; in order of
        start (ids numbered so).
    plans : pandas.DataFrame
        One row per plan: ``plan``, ``price``, ``period``, the planted
        ``alpha`` and ``beta``, ``n`` (subscribers) and ``n_active`` (active at
        the end of the window).
    """
    plans = SUBSCRIPTION_PLANS
    n = t0.size
    who = np.flatnonzero(rng.random(n) < SUBSCRIPTION_SHARE)
    plan = rng.choice(len(plans), size=who.size, p=[p.share for p in plans])
    join_by = np.minimum(t0[who] + SUBSCRIPTION_JOIN_DAYS, span)
    day = np.floor(rng.uniform(t0[who], join_by)).astype(np.int64)
    alpha = np.array([p.alpha for p in plans])[plan]
    beta = np.array([p.beta for p in plans])[plan]
    theta = rng.beta(alpha, beta)
    paid = np.minimum(rng.geometric(np.maximum(theta, 1e-12)), _MAX_PERIODS)
    step = np.array([_MONTHS[p.period] for p in plans])[plan]
    start = start64 + day.astype("timedelta64[D]")
    end = add_months(start, paid * step) - np.timedelta64(1, "D")
    last = start64 + np.timedelta64(int(span) - 1, "D")
    active = end > last
    order = np.argsort(day, kind="stable")
    who, plan, start, end, active = who[order], plan[order], start[order], end[order], active[order]
    table = pd.DataFrame(
        {
            SUBSCRIPTION_ID: _serial("SB", np.arange(1, who.size + 1), 7, run),
            CUSTOMER_ID: _take(customer_ids, who),
            PLAN: _labels([p.plan for p in plans], plan),
            START_DATE: start.astype("datetime64[us]"),
            END_DATE: pd.Series(end.astype("datetime64[us]")).where(~active),
            PRICE: np.array([p.price for p in plans])[plan],
            PERIOD: _labels([p.period for p in plans], plan),
        }
    )
    truth = pd.DataFrame(
        {
            PLAN: [p.plan for p in plans],
            PRICE: [p.price for p in plans],
            PERIOD: [p.period for p in plans],
            ALPHA: [p.alpha for p in plans],
            BETA: [p.beta for p in plans],
            N_SUBSCRIBERS: np.bincount(plan, minlength=len(plans)),
            N_ACTIVE: np.bincount(plan[active], minlength=len(plans)),
        }
    )
    return table, truth
