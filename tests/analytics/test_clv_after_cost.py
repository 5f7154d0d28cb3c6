"""CLV after cost-to-serve, and the value of a new customer (BG/NBD E[X(t)] x Gamma-Gamma mean)."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from crmlib.analytics.clv import (
    BASIS_AFTER_SERVE,
    BASIS_MARGIN,
    BetaGeo,
    CLVPipeline,
    GammaGamma,
    cost_per_order,
    discounted_expected_purchases,
)
from crmlib.data import schema as s

PUBLISHED_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW, Fader et al. 2005a
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "v": 15.44}  # CDNOW, Fader, Hardie & Lee 2005b (approx.)


def _fitted(cost=None):
    """A pipeline with known parameters (no fit), margin share 0.4, 12 % a year."""
    pipe = CLVPipeline(horizon_months=12, annual_discount_rate=0.12, time_unit="W")
    pipe.beta_geo_ = BetaGeo.from_params(**PUBLISHED_BG)
    pipe.gamma_gamma_ = GammaGamma.from_params(**PUBLISHED_GG)
    pipe.margin_share_ = 0.4
    pipe.monthly_discount_rate_ = 1.12 ** (1 / 12) - 1
    from crmlib.analytics.clv.pipeline import _check_cost

    pipe.cost_per_order_ = _check_cost(cost)
    pipe.mean_cost_per_order_ = 0.0 if cost is None else float(np.mean(cost))
    return pipe


SUMMARY = pd.DataFrame(
    {
        s.FREQUENCY: [0.0, 2.0, 10.0],
        s.RECENCY: [0.0, 30.0, 38.0],
        s.T: [39.0, 39.0, 39.0],
        s.MONETARY_VALUE: [0.0, 40.0, 25.0],
    },
    index=["a", "b", "c"],
)


def test_clv_after_cost_to_serve_charges_each_discounted_expected_purchase():
    costs = pd.Series([1.0, 5.0, 100.0], index=["a", "b", "c"])
    gross = _fitted().clv(SUMMARY)
    net = _fitted(costs).clv(SUMMARY)
    purchases = discounted_expected_purchases(
        BetaGeo.from_params(**PUBLISHED_BG), SUMMARY, 12, "W", 1.12 ** (1 / 12) - 1
    )
    np.testing.assert_allclose(net, gross - costs * purchases, rtol=1e-12)
    assert net["c"] < 0 < gross["c"]  # 100 a purchase to serve: below zero


def test_fit_states_the_clv_basis_and_cost_per_order_is_cost_to_serve_over_orders():
    profit = pd.DataFrame(
        {"cost_to_serve": [10.0, 9.0, np.nan], s.ORDERS: [2, 3, 1]}, index=["x", "y", "z"]
    )
    assert cost_per_order(profit).to_dict() == {"x": 5.0, "y": 3.0}
    rng = np.random.default_rng(7)
    sim = BetaGeo.from_params(0.5, 6.0, 0.8, 2.5).simulate(800, 52.0, seed=rng)
    sim = sim.set_index(s.CUSTOMER_ID)
    sim[s.MONETARY_VALUE] = np.where(sim[s.FREQUENCY] > 0, rng.gamma(4.0, 10.0, len(sim)), 0.0)
    sim[s.REVENUE] = sim[s.MONETARY_VALUE] * (sim[s.FREQUENCY] + 1)
    sim[s.MARGIN] = 0.3 * sim[s.REVENUE]
    assert CLVPipeline().fit(sim).clv_basis_ == BASIS_MARGIN
    assert CLVPipeline().fit(sim, cost_per_order=2.0).clv_basis_ == BASIS_AFTER_SERVE


def test_new_customer_expectation_matches_a_numerical_integral():
    """E[X(t)] = E over p ~ Beta(a, b) of (1 - (alpha / (alpha + p t))**r) / p (BG/NBD, lambda integrated out)."""
    model = BetaGeo.from_params(**PUBLISHED_BG)
    r, alpha, a, b = PUBLISHED_BG.values()
    for t in (13.0, 39.0, 78.0):
        by_quad = integrate.quad(
            lambda p, t=t: (1 - (alpha / (alpha + p * t)) ** r) / p * stats.beta.pdf(p, a, b),
            0,
            1,
            limit=200,
        )[0]
        assert model.expected_purchases_new(t) == pytest.approx(by_quad, rel=1e-6)


def test_new_customer_value_by_hand():
    pipe = _fitted(cost=pd.Series([2.0, 4.0]))
    p, q, v = PUBLISHED_GG.values()
    per_order = 0.4 * p * v / (q - 1) - 3.0
    d = 1.12 ** (1 / 12) - 1
    weeks = np.arange(13) * 30 / 7
    cumulative = np.array([BetaGeo.from_params(**PUBLISHED_BG).expected_purchases_new(w) for w in weeks])
    by_hand = 7.5 + per_order * sum(
        (cumulative[m] - cumulative[m - 1]) / (1 + d) ** m for m in range(1, 13)
    )
    assert pipe.new_customer_value(first_order_margin=7.5) == pytest.approx(by_hand, rel=1e-12)


def test_p_active_lets_a_one_time_buyer_from_long_ago_have_left():
    rng = np.random.default_rng(11)
    sim = BetaGeo.from_params(0.5, 6.0, 0.8, 2.5).simulate(2000, rng.uniform(20, 104, 2000), seed=rng)
    sim = sim.set_index(s.CUSTOMER_ID)
    sim[s.MONETARY_VALUE] = np.where(sim[s.FREQUENCY] > 0, rng.gamma(4.0, 10.0, len(sim)), 0.0)
    pipe = CLVPipeline().fit(sim)
    one_timers = pd.DataFrame(
        {s.FREQUENCY: [0.0, 0.0], s.RECENCY: [0.0, 0.0], s.T: [2.0, 100.0], s.MONETARY_VALUE: 0.0},
        index=["new", "old"],
    )
    assert pipe.p_alive(one_timers).tolist() == [1.0, 1.0]  # the BG/NBD cannot tell them apart
    active = pipe.p_active(one_timers)
    assert active["old"] < 0.5 < active["new"]
