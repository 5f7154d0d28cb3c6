"""Subscribers on the value-at-stake basis: margin over a horizon, and who is at risk.

Checked against closed forms: the sBG survival S(t) = B(alpha, beta + t) /
B(alpha, beta) and retention r(t) = (beta + t - 1) / (alpha + beta + t - 1)
(Fader & Hardie 2007), and the DERL of Fader & Hardie (2010) (its 2F1 closed
form, :meth:`ShiftedBetaGeo.discounted_expected_residual_lifetime`), and on a
planted population of monthly subscribers drawn from a known sBG.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from crmlib.analytics import contractual as c
from crmlib.analytics import stakes
from crmlib.analytics.clv import ShiftedBetaGeo
from crmlib.data import schema as s
from crmlib.data.io import ClientData
from crmlib.errors import CRMError

ALPHA, BETA = 0.704, 1.182  # Fader & Hardie (2007), "regular"
D = 1.10 ** (1 / 12) - 1  # 10 % a year, monthly


def _survival(alpha, beta, t):
    return np.exp(special.betaln(alpha, beta + t) - special.betaln(alpha, beta))


@pytest.mark.parametrize("renewals", [0, 3, 10])
@pytest.mark.parametrize("horizon", [1, 12, 60])
def test_monthly_payments_are_the_defining_sum_and_the_truncated_derl(renewals, horizon):
    model = ShiftedBetaGeo.from_params(ALPHA, BETA)
    got = c.horizon_payments(model, renewals, 1, 1, horizon, D)[0]
    # defining sum: retention rates by period multiplied, each month's payment discounted
    alive, by_sum = 1.0, 0.0
    for k in range(1, horizon + 1):
        t = renewals + k
        alive *= (BETA + t - 1) / (ALPHA + BETA + t - 1)  # r(t)
        by_sum += alive / (1 + D) ** k
    assert got == pytest.approx(by_sum, rel=1e-12)
    # closed form: the first H terms of the DERL, one month later
    derl = model.discounted_expected_residual_lifetime
    tail = (
        _survival(ALPHA, BETA, renewals + horizon)
        / _survival(ALPHA, BETA, renewals)
        / (1 + D) ** horizon
        * derl(D, renewals + horizon)
    )
    assert got == pytest.approx((derl(D, renewals) - tail) / (1 + D), rel=1e-9)


def test_monthly_payments_tend_to_the_derl_a_month_later():
    model = ShiftedBetaGeo.from_params(ALPHA, BETA)
    far = c.horizon_payments(model, 4, 1, 1, 20_000, D)[0]
    assert far == pytest.approx(
        model.discounted_expected_residual_lifetime(D, 4) / (1 + D), rel=1e-9
    )


def test_yearly_payments_fall_in_the_month_of_the_renewal():
    model = ShiftedBetaGeo.from_params(ALPHA, BETA)
    n, first = np.array([2, 5]), np.array([2, 12])
    one_year = c.horizon_payments(model, n, first, 12, 12, D)
    kept = (BETA + n) / (ALPHA + BETA + n)  # r(n + 1)
    np.testing.assert_allclose(one_year, kept / (1 + D) ** first, rtol=1e-12)
    two_years = c.horizon_payments(model, n, first, 12, 24, D)
    second = _survival(ALPHA, BETA, n + 2) / _survival(ALPHA, BETA, n) / (1 + D) ** (first + 12)
    np.testing.assert_allclose(two_years, one_year + second, rtol=1e-12)
    with pytest.raises(CRMError):
        c.horizon_payments(model, 1, 1, 1, 0, D)


# --- the published cohorts, as yearly subscriptions -----------------------------------------

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]


def _yearly(survivors, price, start="2000-01-01"):
    start = pd.Timestamp(start)
    ends = []
    for t in range(1, len(survivors)):
        ends += [start + pd.DateOffset(years=t - 1, months=6)] * (survivors[t - 1] - survivors[t])
    ends += [pd.NaT] * survivors[-1]
    return pd.DataFrame(
        {
            s.SUBSCRIPTION_ID: [f"s{i}" for i in range(len(ends))],
            s.CUSTOMER_ID: [f"c{i}" for i in range(len(ends))],
            s.PLAN: "regular",
            s.START_DATE: start,
            s.END_DATE: ends,
            s.PRICE: price,
            s.PERIOD: "year",
        }
    )


def test_horizon_margin_of_a_yearly_plan_by_hand():
    value = c.contractual_value(
        _yearly(REGULAR, 50.0), as_of="2007-01-01", annual_discount_rate=0.10, margin_share=0.4
    )
    row = value.plans.loc["regular"]
    a, b = row[c.ALPHA], row[c.BETA]
    assert a == pytest.approx(ALPHA, abs=1e-3) and b == pytest.approx(BETA, abs=1e-3)
    # 7 whole years held: the 8th renewal falls on 2008-01-01, in month 12, discounted a year
    active = value.active
    renew = (b + 7) / (a + b + 7)
    assert active[c.NEXT_RETENTION].to_numpy() == pytest.approx(renew, rel=1e-12)
    assert active[c.HORIZON_MARGIN].to_numpy() == pytest.approx(0.4 * 50 * renew / 1.10, rel=1e-9)
    assert row[c.HORIZON_CLV] == pytest.approx(241 * 0.4 * 50 * renew / 1.10, rel=1e-9)
    assert value.horizon_total == pytest.approx(row[c.HORIZON_CLV])
    assert value.horizon_months == 12 and value.margin_share == 0.4
    # the DERL-based lifetime value is unchanged: price x DERL, revenue
    derl = (b + 8 - 1) / (a + b + 8 - 1) * special.hyp2f1(1, b + 8, a + b + 8, 1 / 1.10)
    assert row[c.CONTRACTUAL_CLV] == pytest.approx(241 * 50 * derl, rel=1e-9)
    with pytest.raises(CRMError):
        c.contractual_value(_yearly(REGULAR, 50.0), as_of="2007-01-01", margin_share=1.5)


# --- a planted monthly population --------------------------------------------------------------

PLANTED = (1.0, 6.0)  # alpha, beta: mean churn 1/7 a month
AS_OF = pd.Timestamp("2024-01-15")


@pytest.fixture(scope="module")
def planted():
    """Cohorts of 1,500 monthly subscribers starting on the 1st of each of 24 months.

    Each draws a churn probability theta ~ Beta(1, 6) and cancels in period
    t ~ Geometric(theta) (never renews when t = 1), ten days into it.
    """
    rng = np.random.default_rng(20260107)
    starts = pd.date_range("2022-01-01", periods=24, freq="MS").repeat(1500)
    n = len(starts)
    churn_period = rng.geometric(rng.beta(*PLANTED, n))
    periods = starts.to_period("M") + (churn_period - 1)  # the month of period t
    ends = periods.to_timestamp() + pd.Timedelta(days=10)
    table = pd.DataFrame(
        {
            s.SUBSCRIPTION_ID: np.arange(n).astype(str),
            s.CUSTOMER_ID: [f"c{i // 2}" for i in range(n)],  # two subscriptions a customer
            s.PLAN: "monthly",
            s.START_DATE: starts,
            s.END_DATE: ends.where(ends <= AS_OF),
            s.PRICE: 20.0,
        }
    )
    return c.contractual_value(table, as_of=AS_OF, annual_discount_rate=0.10, margin_share=0.5)


def test_planted_population_recovers_the_sbg_and_its_horizon_margin(planted):
    row = planted.plans.loc["monthly"]
    assert row[c.ALPHA] == pytest.approx(PLANTED[0], rel=0.05)  # standard error 0.023
    assert row[c.BETA] == pytest.approx(PLANTED[1], rel=0.1)  # standard error 0.19
    # with the planted parameters: within 2 % of the fitted model's
    active = planted.active
    true_model = ShiftedBetaGeo.from_params(*PLANTED)
    truth = 0.5 * 20.0 * c.horizon_payments(true_model, active[c.RENEWALS], 1, 1, 12, D)
    assert active[c.HORIZON_MARGIN].sum() == pytest.approx(truth.sum(), rel=0.02)


def test_at_risk_are_the_newest_and_the_stake_is_step_times_margin_if_renewed(planted):
    at_risk = c.at_risk_subscribers(planted, share=0.2)
    active = planted.active
    assert len(at_risk) == int(np.ceil(0.2 * len(active)))
    # one plan: the sBG retention rises with tenure, so the newest are the most at risk
    assert at_risk[c.RENEWALS].max() <= active[c.RENEWALS].drop(at_risk.index).min()
    a, b = planted.plans.loc["monthly", [c.ALPHA, c.BETA]]
    r = (b + at_risk[c.RENEWALS]) / (a + b + at_risk[c.RENEWALS])
    np.testing.assert_allclose(at_risk[c.NEXT_RETENTION], r, rtol=1e-12)
    step = 0.02
    per_customer = stakes.subscriber_retention_stake(at_risk, step)
    by_hand = (step * at_risk[c.HORIZON_MARGIN] / r).groupby(at_risk[s.CUSTOMER_ID]).sum()
    pd.testing.assert_series_equal(
        per_customer.sort_index(), by_hand.sort_index(), check_names=False, rtol=1e-12
    )
    rec = stakes.subscriber_retention_recommendation(planted, step, 0.2, "sBG", "lesson 04")
    assert rec[stakes.KIND] == stakes.RETENTION
    assert rec[stakes.HORIZON_MONTHS] == 12
    assert rec[stakes.CUSTOMERS] == at_risk[s.CUSTOMER_ID].nunique()
    assert rec[stakes.VALUE_AT_STAKE] == round(float(by_hand.sum()), 0)
    assert f"{len(at_risk):,} subscriptions" in rec[stakes.TEXT]


def test_subscriber_stake_by_hand():
    subs = pd.DataFrame(
        {
            s.CUSTOMER_ID: ["a", "a", "b", "c"],
            c.NEXT_RETENTION: [0.5, 0.8, 0.995, 0.9],
            c.HORIZON_MARGIN: [100.0, 40.0, 50.0, 0.0],
        }
    )
    got = stakes.subscriber_retention_stake(subs, 0.01)
    # a: 0.01 x 100 / 0.5 + 0.01 x 40 / 0.8; b: at most 1 - 0.995; c: no margin
    assert got.to_dict() == pytest.approx({"a": 2.5, "b": 0.005 * 50 / 0.995, "c": 0.0})
    with pytest.raises(CRMError):
        stakes.subscriber_retention_stake(subs, 1.0)
    with pytest.raises(CRMError):
        stakes.subscriber_retention_stake(subs.drop(columns=c.HORIZON_MARGIN), 0.01)


# --- the three-way guard of a subscriber section ---------------------------------------------


def _client(subscriptions=None):
    tables = {"transactions": pd.DataFrame({s.CUSTOMER_ID: ["a"], s.ORDER_DATE: [AS_OF]})}
    if subscriptions is not None:
        tables[c.SUBSCRIPTIONS] = subscriptions
    return ClientData(tables=tables, rejects=pd.DataFrame(), reports={}, as_of=AS_OF)


def test_section_state_no_table_missing_columns_ready():
    section = "lifetime value of subscribers (sBG)"
    none = c.section_state(_client(), section)
    assert (none.status, none.missing, none.ready) == (c.NO_TABLE, ["subscriptions"], False)
    assert none.sentence == (
        "Not assessed: lifetime value of subscribers (sBG), for lack of the subscriptions table."
    )
    keys_only = pd.DataFrame({s.CUSTOMER_ID: ["a"], s.START_DATE: ["2023-01-01"]})
    partial = c.section_state(_client(keys_only), section)
    assert partial.status == c.MISSING_COLUMNS
    assert partial.missing == ["subscriptions.end_date", "subscriptions.price"]
    assert partial.sentence == (
        "Not assessed: lifetime value of subscribers (sBG), for lack of the subscriptions' "
        "end_date, price."
    )
    full = keys_only.assign(**{s.END_DATE: pd.NaT, s.PRICE: 10.0})
    ready = c.section_state(_client(full), section)
    assert ready.ready and ready.status == c.READY and ready.sentence == ""
