"""Tests of crmlib.analytics.contractual: the client's setting and the value of subscribers.

Published values: Fader & Hardie (2007), "How to project customer retention",
Journal of Interactive Marketing 21(1): survivors of two cohorts of 1,000
customers at the end of years 0-7, "high end" alpha 0.668, beta 3.806 and
"regular" alpha 0.704, beta 1.182. DERL: Fader & Hardie (2010), "Customer-base
valuation in a contractual setting", Marketing Science 29(1), worked by hand
from its closed form and from its defining sum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from crmlib.analytics import contractual as c
from crmlib.data import schema as s
from crmlib.data.io import ClientData
from crmlib.errors import DataError

# the subscriptions table's columns, as the data contract will name them
SUBSCRIPTION_ID, PLAN, START_DATE, END_DATE, PRICE, PERIOD = (
    "subscription_id",
    "plan",
    "start_date",
    "end_date",
    "price",
    "period",
)
HIGHEND = [1000, 869, 743, 653, 593, 551, 517, 491]
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
PUBLISHED = {"high end": (0.668, 3.806), "regular": (0.704, 1.182)}
PRICES = {"high end": 120.0, "regular": 50.0}
AS_OF = "2007-01-01"


def _subscriptions_from_survivors(
    plan: str, survivors: list[int], price: float, start="2000-01-01", unit="years"
) -> pd.DataFrame:
    """One subscription per customer, all started on ``start``, renewed every year (or
    month); the churners of period t end half-way through it, the last survivors are active."""
    start = pd.Timestamp(start)
    half = {"years": pd.DateOffset(months=6), "months": pd.DateOffset(days=10)}[unit]
    ends = []
    for t in range(1, len(survivors)):
        churned = survivors[t - 1] - survivors[t]
        ends += [start + pd.DateOffset(**{unit: t - 1}) + half] * churned
    ends += [pd.NaT] * survivors[-1]
    n = len(ends)
    return pd.DataFrame(
        {
            SUBSCRIPTION_ID: [f"{plan}-{i}" for i in range(n)],
            s.CUSTOMER_ID: [f"{plan}-c{i}" for i in range(n)],
            PLAN: plan,
            START_DATE: start,
            END_DATE: ends,
            PRICE: price,
            PERIOD: "year",
        }
    )


@pytest.fixture(scope="module")
def published():
    table = pd.concat(
        [
            _subscriptions_from_survivors("high end", HIGHEND, PRICES["high end"]),
            _subscriptions_from_survivors("regular", REGULAR, PRICES["regular"]),
        ],
        ignore_index=True,
    )
    return c.contractual_value(table, as_of=AS_OF, annual_discount_rate=0.10)


@pytest.mark.parametrize("plan", ["high end", "regular"])
def test_reproduces_fader_hardie_2007_per_plan(published, plan):
    row = published.plans.loc[plan]
    alpha, beta = PUBLISHED[plan]
    assert row[c.ALPHA] == pytest.approx(alpha, abs=1e-3)
    assert row[c.BETA] == pytest.approx(beta, abs=1e-3)
    assert row[c.ALPHA_SE] > 0 and row[c.BETA_SE] > 0
    assert row[c.SUBSCRIPTIONS_HELD] == 1000
    assert row[c.ACTIVE] == {"high end": 491, "regular": 241}[plan]
    assert row[c.PERIOD] == "year"
    assert row[c.DISCOUNT_RATE] == pytest.approx(0.10)


def _derl_by_hand(alpha, beta, renewals, d):
    """F&H (2010): B(a, b + n) / B(a, b + n - 1) 2F1(1, b + n; a + b + n; 1 / (1 + d)),
    n - 1 = renewals made."""
    n = renewals + 1
    return (
        special.beta(alpha, beta + n)
        / special.beta(alpha, beta + n - 1)
        * special.hyp2f1(1, beta + n, alpha + beta + n, 1 / (1 + d))
    )


def _derl_by_sum(alpha, beta, renewals, d, terms=5000):
    """sum_{k>=0} S(n + k) / S(n - 1) / (1 + d)**k, from S(t) = B(a, b + t) / B(a, b)."""
    n = renewals + 1
    k = np.arange(terms)
    ratio = np.exp(special.betaln(alpha, beta + n + k) - special.betaln(alpha, beta + n - 1))
    return float((ratio / (1 + d) ** k).sum())


@pytest.mark.parametrize("plan", ["high end", "regular"])
def test_value_of_the_active_base_is_price_times_derl_by_hand(published, plan):
    row = published.plans.loc[plan]
    # every survivor started 2000-01-01: 7 whole years held at 2007-01-01, 7 renewals
    active = published.active[published.active[c.PLAN] == plan]
    assert (active[c.RENEWALS] == 7).all()
    derl = _derl_by_hand(row[c.ALPHA], row[c.BETA], 7, 0.10)
    assert derl == pytest.approx(_derl_by_sum(row[c.ALPHA], row[c.BETA], 7, 0.10), rel=1e-9)
    assert active[c.DERL].to_numpy() == pytest.approx(derl, rel=1e-9)
    survivors = {"high end": 491, "regular": 241}[plan]
    assert row[c.CONTRACTUAL_CLV] == pytest.approx(survivors * PRICES[plan] * derl, rel=1e-9)
    # with the published parameters, to the paper's three decimals
    alpha, beta = PUBLISHED[plan]
    assert row[c.CONTRACTUAL_CLV] == pytest.approx(
        survivors * PRICES[plan] * _derl_by_hand(alpha, beta, 7, 0.10), rel=2e-3
    )
    # twelve months = one yearly renewal: S(8) / S(7) = r(8) = (beta + 7) / (alpha + beta + 7)
    assert row[c.RETAINED_12M] == pytest.approx(
        (row[c.BETA] + 7) / (row[c.ALPHA] + row[c.BETA] + 7), rel=1e-9
    )


def test_total_and_retention_curve(published):
    plans = published.plans
    assert published.total == pytest.approx(plans[c.CONTRACTUAL_CLV].sum())
    assert published.active_subscribers == 491 + 241
    curve = published.retention.set_index([c.PLAN, c.T])
    assert curve.loc[("high end", 1), c.OBSERVED_RETENTION] == pytest.approx(869 / 1000)
    assert curve.loc[("regular", 7), c.OBSERVED_RETENTION] == pytest.approx(241 / 262)
    assert curve.loc[("regular", 7), c.OBSERVED_SURVIVAL] == pytest.approx(0.241)
    a, b = plans.loc["regular", c.ALPHA], plans.loc["regular", c.BETA]
    assert curve.loc[("regular", 3), c.SBG_RETENTION] == pytest.approx((b + 2) / (a + b + 2))
    # projected beyond the 7 observed years (twice as far), no observed value there
    assert curve.loc[("regular", 14), c.SBG_SURVIVAL] == pytest.approx(
        np.exp(special.betaln(a, b + 14) - special.betaln(a, b))
    )
    assert np.isnan(curve.loc[("regular", 8), c.OBSERVED_RETENTION])


def test_monthly_plan_renewals_and_discount_rate():
    # the "regular" cohort as monthly subscribers from 2020-01-01, plus three later starts
    base = _subscriptions_from_survivors("basic", REGULAR, 10.0, "2020-01-01", "months")
    base = base.drop(columns=PERIOD)
    later = pd.DataFrame(
        {
            s.CUSTOMER_ID: ["a", "d", "e"],
            PLAN: "basic",
            START_DATE: pd.to_datetime(["2020-03-15", "2020-05-05", "2020-05-20"]),
            END_DATE: pd.to_datetime([None, None, "2020-09-01"]),
            PRICE: [10.0, 12.0, 10.0],
        }
    )
    # no period column: monthly by default
    table = pd.concat([base, later], ignore_index=True)
    got = c.contractual_value(table, as_of="2020-08-10", annual_discount_rate=0.10)
    row = got.plans.loc["basic"]
    assert row[c.PERIOD] == "month"
    assert row[c.DISCOUNT_RATE] == pytest.approx(1.1 ** (1 / 12) - 1)
    active = got.active.set_index(s.CUSTOMER_ID)
    # a: Mar 15 -> Aug 10, 4 whole months; d: May 5 -> Aug 10, 3; e ends after as_of: active, 2;
    # the 241 of 2020-01-01: 7
    assert active.loc[["a", "d", "e"], c.RENEWALS].to_dict() == {"a": 4, "d": 3, "e": 2}
    assert (active.loc[active.index.str.startswith("basic"), c.RENEWALS] == 7).all()
    assert row[c.ACTIVE] == 241 + 3
    d = row[c.DISCOUNT_RATE]
    expected = sum(
        price * _derl_by_hand(row[c.ALPHA], row[c.BETA], n, d)
        for price, n in ((10.0, 4), (12.0, 3), (10.0, 2), *[(10.0, 7)] * 241)
    )
    assert row[c.CONTRACTUAL_CLV] == pytest.approx(expected, rel=1e-9)
    # twelve months = twelve renewals: mean of S(n + 12) / S(n)
    a, b = row[c.ALPHA], row[c.BETA]
    kept = [
        np.exp(special.betaln(a, b + n + 12) - special.betaln(a, b + n))
        for n in [4, 3, 2] + [7] * 241
    ]
    assert row[c.RETAINED_12M] == pytest.approx(np.mean(kept), rel=1e-9)


def test_a_plan_without_churn_is_not_valued():
    table = pd.DataFrame(
        {
            s.CUSTOMER_ID: ["a", "b"],
            PLAN: "new",
            START_DATE: ["2023-01-01", "2023-01-01"],
            END_DATE: [None, None],
            PRICE: [10.0, 10.0],
        }
    )
    got = c.contractual_value(table, as_of="2023-06-01")
    assert "has left yet" in got.not_valued["new"]
    assert np.isnan(got.plans.loc["new", c.CONTRACTUAL_CLV])
    assert got.total is None


def test_bad_subscriptions_are_data_errors():
    table = pd.DataFrame({s.CUSTOMER_ID: ["a"], START_DATE: ["2023-01-01"], END_DATE: [None]})
    with pytest.raises(DataError, match="price"):
        c.contractual_value(table, as_of="2023-06-01")
    table[PRICE] = 10.0
    table[PERIOD] = "week"
    with pytest.raises(DataError, match="period must be"):
        c.contractual_value(table, as_of="2023-06-01")


def test_geometric_residual_lifetime_by_hand():
    # r (1 + d) / (1 + d - r): 0.8 x 1.12 / 0.32 = 2.8; the sum of r**(k+1) / 1.12**k
    assert c.geometric_residual_lifetime(0.8, 0.12) == pytest.approx(2.8)
    assert sum(0.8 ** (k + 1) / 1.12**k for k in range(500)) == pytest.approx(2.8)


def _client(transactions_ids, subscriptions=None):
    tables = {
        "transactions": pd.DataFrame(
            {s.CUSTOMER_ID: transactions_ids, s.ORDER_DATE: pd.Timestamp("2023-01-01")}
        )
    }
    if subscriptions is not None:
        tables[c.SUBSCRIPTIONS] = subscriptions
    return ClientData(
        tables=tables, rejects=pd.DataFrame(), reports={}, as_of=pd.Timestamp("2023-06-01")
    )


def test_a_client_without_subscriptions_is_non_contractual():
    data = _client(["a", "b", "a"])
    assert c.customer_setting(data) == c.NON_CONTRACTUAL == "non-contractual"
    assert "non-contractual setting: 2 customers" in c.setting_sentence(data)
    # an empty table is no table
    assert c.customer_setting(_client(["a"], pd.DataFrame(columns=[s.CUSTOMER_ID]))) == (
        c.NON_CONTRACTUAL
    )


def test_contractual_and_both_settings():
    subs = pd.DataFrame(
        {s.CUSTOMER_ID: ["a", "b", "z"], START_DATE: ["2022-01-01"] * 2 + ["2024-01-01"]}
    )
    assert c.customer_setting(_client(["a", "b"], subs)) == c.CONTRACTUAL
    assert "all 2 customers hold a subscription" in c.setting_sentence(_client(["a", "b"], subs))
    both = _client(["a", "b", "x", "y"], subs)
    assert c.customer_setting(both) == c.BOTH
    assert "2 customers hold a subscription" in c.setting_sentence(both)
    assert "2 buy without one" in c.setting_sentence(both)
    # z's subscription starts after the as-of date: not yet a subscriber
    assert c.customer_setting(_client(["z"], subs)) == c.BOTH
