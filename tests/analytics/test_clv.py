"""Tests of crmlib.analytics.clv: published CDNOW values, hand computations, planted ground truth.

Published values: Fader, Hardie & Lee (2005), "Counting your customers the
easy way", Marketing Science 24(2) (BG/NBD on the CDNOW sample, weeks), and
Hardie (2013), "The Gamma-Gamma model of monetary value" (p, q, gamma).
Standard errors: lifetimes 0.11.3 (BetaGeoFitter.summary) on the CDNOW summary.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from crmlib.analytics import clv
from crmlib.analytics.clv import BetaGeo, CLVPipeline, GammaGamma
from crmlib.analytics.clv.beta_geo import _bgnbd_loglik, _BGNBDData
from crmlib.analytics.clv.gamma_gamma import _gamma_gamma_loglik
from crmlib.data import schema as s
from crmlib.data.datasets import load_cdnow_summary, load_cdnow_transactions
from crmlib.errors import (
    ConvergenceWarning,
    CorrelationWarning,
    CRMError,
    DataError,
    NotFittedError,
)
from crmlib.plots import clv as clv_plots

SEED = 20240501  # the one seed of this file's random draws
CDNOW_CALIBRATION_END = "1997-09-30"
PUBLISHED_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def bg_cdnow(cdnow):
    return BetaGeo().fit(cdnow)


@pytest.fixture(scope="module")
def gg_cdnow(cdnow):
    return GammaGamma().fit(cdnow)


# --- BG/NBD: published values -----------------------------------------------------------------


def test_bgnbd_cdnow_parameters_and_log_likelihood_match_the_paper(bg_cdnow):
    assert {k: round(v, 3) for k, v in bg_cdnow.params_.items()} == PUBLISHED_BG
    assert round(bg_cdnow.log_likelihood_, 1) == -9582.4
    assert bg_cdnow.n_customers_ == 2357


def test_bgnbd_conditional_expectation_matches_the_paper(bg_cdnow):
    # FHL 2005, section 4: customer with x = 2, t_x = 30.43, T = 38.86 -> 1.226 in 39 weeks.
    assert round(bg_cdnow.expected_purchases(39, 2, 30.43, 38.86), 3) == 1.226


def test_bgnbd_fit_in_days_scales_alpha_and_the_log_likelihood(cdnow, bg_cdnow):
    days = cdnow.assign(**{s.RECENCY: cdnow[s.RECENCY] * 7, s.T: cdnow[s.T] * 7})
    model = BetaGeo().fit(days)
    weeks = bg_cdnow.params_
    # alpha is a time scale: 7 times larger in days; r, a, b have no unit.
    assert model.params_["alpha"] == pytest.approx(7 * weeks["alpha"], rel=1e-5)
    for k in ("r", "a", "b"):
        assert model.params_[k] == pytest.approx(weeks[k], rel=1e-5)
    # The density of each of the x purchase times is per unit of time: 7**-x per customer.
    shift = -np.log(7) * cdnow[s.FREQUENCY].sum()
    assert model.log_likelihood_ == pytest.approx(bg_cdnow.log_likelihood_ + shift, abs=1e-4)
    # Same forecast for 39 weeks = 273 days.
    assert model.expected_purchases(273, 2, 30.43 * 7, 38.86 * 7) == pytest.approx(
        bg_cdnow.expected_purchases(39, 2, 30.43, 38.86), rel=1e-6
    )


def test_identical_rows_are_weights_duplicating_the_data_doubles_the_log_likelihood(
    cdnow, bg_cdnow
):
    doubled = BetaGeo().fit(pd.concat([cdnow, cdnow], ignore_index=True))
    for k, v in bg_cdnow.params_.items():
        assert doubled.params_[k] == pytest.approx(v, rel=1e-5)
    assert doubled.log_likelihood_ == pytest.approx(2 * bg_cdnow.log_likelihood_, rel=1e-9)


# --- analytic gradients ---------------------------------------------------------------------


def _finite_difference(f, params, h=1e-6):
    params = np.asarray(params, dtype=float)
    grad = np.empty_like(params)
    for i in range(params.size):
        step = np.zeros_like(params)
        step[i] = h * params[i]
        grad[i] = (f(params + step) - f(params - step)) / (2 * step[i])
    return grad


@pytest.mark.parametrize("params", [(0.243, 4.414, 0.793, 2.426), (1.7, 0.6, 3.2, 0.4)])
def test_bgnbd_gradient_matches_finite_differences(cdnow, params):
    data = _BGNBDData.build(*(cdnow[c].to_numpy() for c in (s.FREQUENCY, s.RECENCY, s.T)))
    _, grad = _bgnbd_loglik(np.array(params), data, gradient=True)
    numeric = _finite_difference(lambda p: _bgnbd_loglik(p, data), params)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("params", [(6.25, 3.74, 15.44), (0.8, 12.0, 2.0)])
def test_gamma_gamma_gradient_matches_finite_differences(cdnow, params):
    repeat = cdnow[cdnow[s.FREQUENCY] > 0]
    x, m = repeat[s.FREQUENCY].to_numpy(), repeat[s.MONETARY_VALUE].to_numpy()
    _, grad = _gamma_gamma_loglik(np.array(params), x, m, gradient=True)
    numeric = _finite_difference(lambda p: _gamma_gamma_loglik(p, x, m).sum(), params)
    np.testing.assert_allclose(grad.sum(axis=1), numeric, rtol=1e-5, atol=1e-4)


# --- BG/NBD predictions ---------------------------------------------------------------------


def test_p_alive_by_hand():
    model = BetaGeo.from_params(**PUBLISHED_BG)
    r, alpha, a, b = PUBLISHED_BG.values()
    x, tx, T = 2, 30.43, 38.86
    by_hand = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))
    assert model.p_alive(x, tx, T) == pytest.approx(by_hand, rel=1e-12)
    assert model.p_alive(0, 0, 38.86) == 1.0  # dropout only follows a repeat purchase
    series = model.p_alive(pd.Series([0, 2], index=["c1", "c2"]), [0, tx], T)
    assert list(series.index) == ["c1", "c2"]


@pytest.mark.parametrize("x, tx, T", [(0, 0, 30), (3, 20, 30), (150, 29.5, 30), (2000, 29.9, 30)])
def test_expected_purchases_slope_at_zero_is_p_alive_times_posterior_rate(x, tx, T):
    # For small t, E[Y(t)] ~ t * P(alive) * E[lambda | x, T] = t * P(alive) * (r+x)/(alpha+T).
    model = BetaGeo.from_params(0.5, 10.0, 2.5, 8.0)
    t = 1e-5
    slope = model.p_alive(x, tx, T) * (0.5 + x) / (10.0 + T)
    assert model.expected_purchases(t, x, tx, T) / t == pytest.approx(slope, rel=1e-4)


@pytest.mark.parametrize("x, tx, T", [(0, 0, 30), (3, 20, 30), (150, 29.5, 30), (2000, 29.9, 30)])
def test_expected_purchases_tend_to_p_alive_times_mean_purchases_before_dropout(x, tx, T):
    # For a > 1, as t -> infinity an alive customer makes E[1/p | Beta(a, b + x)] =
    # (a+b+x-1)/(a-1) more purchases (geometric number of purchases before dropping out).
    r, alpha, a, b = 0.5, 10.0, 2.5, 8.0
    model = BetaGeo.from_params(r, alpha, a, b)
    limit = model.p_alive(x, tx, T) * (a + b + x - 1) / (a - 1)
    assert model.expected_purchases(1e12, x, tx, T) == pytest.approx(limit, rel=1e-4)
    assert model.expected_purchases(1e3, x, tx, T) < limit


def test_expected_purchases_where_scipy_hyp2f1_returns_nan():
    # c - a - b of the transformed 2F1 is an integer (x + r - a + 1 = 99) and z is near 1:
    # scipy's hyp2f1 returns NaN there. Reference: the Gauss series, summed here
    # (it converges fast because c is large).
    r, alpha, a, b, x, tx, T, t = 0.5, 10.0, 2.5, 8.0, 100, 29.0, 30.0, 1000.0
    A, B, C, z = a + b - 1 - r, a - 1, a + b + x - 1, t / (alpha + T + t)
    n = np.arange(2000)
    terms = np.concatenate([[1.0], np.cumprod((A + n) * (B + n) / ((C + n) * (n + 1)) * z)])
    survival = ((alpha + T) / (alpha + T + t)) ** (a - 1) * terms.sum()
    p_alive = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))
    expected = (a + b + x - 1) / (a - 1) * (1 - survival) * p_alive
    model = BetaGeo.from_params(r, alpha, a, b)
    assert model.expected_purchases(t, x, tx, T) == pytest.approx(expected, rel=1e-8)


def test_heavy_buyer_over_a_long_horizon_is_finite(bg_cdnow):
    # The untransformed 2F1(r+x, b+x; a+b+x-1; z) is NaN here in scipy.
    value = bg_cdnow.expected_purchases(10_000, 1000, 38.8, 38.86)
    assert np.isfinite(value) and value > 0


def test_new_customer_expectation_is_the_conditional_one_at_age_zero(bg_cdnow):
    t = np.array([1.0, 39.0, 78.0])
    np.testing.assert_allclose(
        bg_cdnow.expected_purchases_new(t), bg_cdnow.expected_purchases(t, 0, 0, 0), rtol=1e-12
    )
    assert bg_cdnow.expected_purchases_new(0.0) == 0.0


def _simulate_two_periods(params, n, T, t, rng):
    """BG/NBD customers over a calibration window T and a holdout t, written independently
    of BetaGeo.simulate: returns frequency, recency and holdout purchases."""
    r, alpha, a, b = params
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    before_dropout = rng.geometric(p)  # repeat purchases made before dropping out: 1, 2, ...
    calibration_poisson = rng.poisson(lam * T)
    holdout_poisson = rng.poisson(lam * t)
    x = np.minimum(before_dropout, calibration_poisson)
    holdout = np.where(
        before_dropout > calibration_poisson,
        np.minimum(before_dropout - calibration_poisson, holdout_poisson),
        0,
    )
    tx = np.zeros(n)
    # the last of x purchases among the K uniform times in (0, T]
    for i in np.flatnonzero(x):
        tx[i] = np.sort(rng.uniform(0, T, calibration_poisson[i]))[x[i] - 1]
    return x, tx, holdout


def test_expected_purchases_match_simulated_holdout_purchases():
    # Planted ground truth: mean holdout purchases by calibration frequency equal the
    # mean of eq. (10) over the same customers (law of total expectation).
    params, T, t, n = (0.6, 5.0, 0.9, 3.0), 30.0, 40.0, 40_000
    x, tx, holdout = _simulate_two_periods(params, n, T, t, np.random.default_rng(SEED))
    predicted = BetaGeo.from_params(*params).expected_purchases(t, x, tx, T)
    for group in (x == 0, x == 1, (x >= 2) & (x <= 4), x >= 5):
        se = holdout[group].std() / np.sqrt(group.sum())
        assert abs(holdout[group].mean() - predicted[group].mean()) < 4 * se


def test_simulate_matches_the_unconditional_expectation():
    model = BetaGeo.from_params(0.5, 6.0, 0.8, 2.5)
    sample = model.simulate(50_000, 52.0, seed=SEED)
    assert list(sample.columns) == [s.CUSTOMER_ID, s.FREQUENCY, s.RECENCY, s.T]
    assert (sample[s.RECENCY] <= sample[s.T]).all()
    assert (sample.loc[sample[s.FREQUENCY] == 0, s.RECENCY] == 0).all()
    se = sample[s.FREQUENCY].std() / np.sqrt(len(sample))
    assert abs(sample[s.FREQUENCY].mean() - model.expected_purchases_new(52.0)) < 4 * se


def test_fit_on_simulated_data_recovers_the_parameters():
    true = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    T = np.random.default_rng(SEED).uniform(20, 80, 100_000)  # staggered ages
    sample = BetaGeo.from_params(**true).simulate(100_000, T, seed=SEED)
    fitted = BetaGeo().fit(sample).params_
    for k, v in true.items():
        assert fitted[k] == pytest.approx(v, rel=0.1), k


def test_a_fit_that_does_not_converge_warns_with_the_reason(cdnow):
    with pytest.warns(ConvergenceWarning, match=r"did not converge after 2 iterations \("):
        BetaGeo(maxiter=2).fit(cdnow)


def test_predicting_before_fitting_is_a_crm_error():
    with pytest.raises(CRMError, match="not fitted"):
        BetaGeo().p_alive(1, 1, 2)


# --- the estimator base: fit returns self, NotFittedError, summary_ with standard errors -----

# lifetimes 0.11.3, BetaGeoFitter().fit(frequency, recency, T).summary["se(coef)"] on CDNOW
LIFETIMES_BG_SE = {"r": 0.0126, "alpha": 0.3782, "a": 0.1857, "b": 0.7053}
# lifetimes 0.11.3, GammaGammaFitter().fit(frequency, monetary_value) on the repeat buyers of
# the CDNOW summary file (measured 2026-12 in a separate venv; not a crmlib dependency)
LIFETIMES_GG_SE = {"p": 1.1897, "q": 0.2902, "v": 4.1600}


def test_bgnbd_cdnow_standard_errors_match_lifetimes(bg_cdnow):
    table = bg_cdnow.summary_
    assert list(table.columns) == [clv.ESTIMATE, clv.STANDARD_ERROR, clv.LOWER_95, clv.UPPER_95]
    assert list(table.index) == list(PUBLISHED_BG)
    for k, se in LIFETIMES_BG_SE.items():
        assert table.loc[k, clv.STANDARD_ERROR] == pytest.approx(se, abs=1e-3), k
        assert table.loc[k, clv.ESTIMATE] == pytest.approx(PUBLISHED_BG[k], abs=1e-3), k
        # 95 % Wald bounds from the published estimate and lifetimes' standard error
        lower, upper = PUBLISHED_BG[k] - 1.96 * se, PUBLISHED_BG[k] + 1.96 * se
        assert table.loc[k, clv.LOWER_95] == pytest.approx(lower, abs=3e-3), k
        assert table.loc[k, clv.UPPER_95] == pytest.approx(upper, abs=3e-3), k


def test_standard_errors_shrink_with_the_square_root_of_the_customers(cdnow, bg_cdnow):
    # The same customers twice: twice the information, so standard errors / sqrt(2).
    doubled = BetaGeo().fit(pd.concat([cdnow, cdnow], ignore_index=True))
    np.testing.assert_allclose(
        doubled.summary_[clv.STANDARD_ERROR],
        bg_cdnow.summary_[clv.STANDARD_ERROR] / np.sqrt(2),
        rtol=1e-3,
    )


def test_standard_errors_are_the_spread_of_the_estimates_over_simulated_samples():
    # Planted truth: 60 samples of 4,000 BG/NBD customers; the standard deviation of the
    # 60 estimates is what a standard error claims to be (within sampling noise, ~9 %).
    true = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    rng = np.random.default_rng(SEED)
    estimates, errors = [], []
    for _ in range(60):
        sample = BetaGeo.from_params(**true).simulate(4000, rng.uniform(20, 80, 4000), seed=rng)
        table = BetaGeo().fit(sample).summary_
        estimates.append(table[clv.ESTIMATE])
        errors.append(table[clv.STANDARD_ERROR])
    spread = pd.DataFrame(estimates).std(ddof=1)
    ratio = spread / pd.DataFrame(errors).mean()
    assert ((ratio > 0.75) & (ratio < 1.33)).all(), ratio.to_dict()


def _natural_hessian(loglik, params, h=1e-4):
    """Hessian of loglik in the natural parameters by central second differences of its
    VALUE (no gradient, no log scale): an independent route to the observed information."""
    params = np.asarray(params, dtype=float)
    k = params.size
    hessian = np.empty((k, k))
    step = h * params
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * step[i], np.eye(k)[j] * step[j]
            hessian[i, j] = (
                loglik(params + ei + ej)
                - loglik(params + ei - ej)
                - loglik(params - ei + ej)
                + loglik(params - ei - ej)
            ) / (4 * step[i] * step[j])
    return hessian


def test_gamma_gamma_summary_has_the_standard_errors_of_the_observed_information(cdnow, gg_cdnow):
    table = gg_cdnow.summary_
    assert list(table.index) == ["p", "q", "v"]
    se = table[clv.STANDARD_ERROR].to_numpy()
    assert np.isfinite(se).all() and (se > 0).all()
    for k, expected in LIFETIMES_GG_SE.items():
        assert table.loc[k, clv.STANDARD_ERROR] == pytest.approx(expected, abs=1e-3), k
    repeat = cdnow[cdnow[s.FREQUENCY] > 0]
    x, m = repeat[s.FREQUENCY].to_numpy(float), repeat[s.MONETARY_VALUE].to_numpy(float)
    params = table[clv.ESTIMATE].to_numpy()
    information = -_natural_hessian(lambda p: _gamma_gamma_loglik(p, x, m).sum(), params)
    np.testing.assert_allclose(se, np.sqrt(np.diag(np.linalg.inv(information))), rtol=1e-3)
    assert ((table[clv.LOWER_95] < params) & (params < table[clv.UPPER_95])).all()


def test_bgnbd_standard_errors_agree_with_the_natural_parameter_hessian(cdnow, bg_cdnow):
    data = _BGNBDData.build(*(cdnow[c].to_numpy() for c in (s.FREQUENCY, s.RECENCY, s.T)))
    params = bg_cdnow.summary_[clv.ESTIMATE].to_numpy()
    information = -_natural_hessian(lambda p: _bgnbd_loglik(p, data), params)
    np.testing.assert_allclose(
        bg_cdnow.summary_[clv.STANDARD_ERROR],
        np.sqrt(np.diag(np.linalg.inv(information))),
        rtol=1e-3,
    )


def test_known_parameters_have_no_standard_errors():
    table = BetaGeo.from_params(**PUBLISHED_BG).summary_
    assert table[clv.ESTIMATE].to_dict() == PUBLISHED_BG
    assert table[clv.STANDARD_ERROR].isna().all()


def _cdnow_with_money(cdnow):
    """CDNOW with revenue and a margin of exactly a quarter of it."""
    revenue = (cdnow[s.FREQUENCY] + 1) * cdnow[s.MONETARY_VALUE].clip(lower=1.0)
    return cdnow.assign(**{s.REVENUE: revenue, s.MARGIN: 0.25 * revenue})


def test_fit_returns_self(cdnow):
    for model in (BetaGeo(), GammaGamma(), CLVPipeline()):
        assert model.fit(_cdnow_with_money(cdnow)) is model


@pytest.mark.parametrize(
    "call",
    [
        lambda: BetaGeo().summary_,
        lambda: BetaGeo().expected_purchases(4, 1, 1, 2),
        lambda: BetaGeo().expected_purchases_new(4),
        lambda: BetaGeo().simulate(10, 5.0, seed=SEED),
        lambda: GammaGamma().summary_,
        lambda: GammaGamma().expected_spend(2, 20.0),
        lambda: CLVPipeline().summary_,
        lambda: CLVPipeline().clv(_summary(**{s.MONETARY_VALUE: [0.0, 5.0, 5.0]})),
    ],
)
def test_an_unfitted_model_raises_not_fitted_error(call):
    with pytest.raises(NotFittedError, match="is not fitted yet: call fit"):
        call()
    assert issubclass(NotFittedError, CRMError)


def test_an_unfitted_model_has_no_summary():
    assert not hasattr(BetaGeo(), "summary_")
    assert not hasattr(CLVPipeline(), "summary_")


# --- the CLV pipeline -------------------------------------------------------------------------


def test_clv_pipeline_is_the_two_models_the_margin_share_and_the_monthly_rate(cdnow):
    summary = _cdnow_with_money(cdnow)
    pipeline = CLVPipeline(horizon_months=6, annual_discount_rate=0.10).fit(summary)
    assert pipeline.margin_share_ == pytest.approx(0.25, rel=1e-12)
    assert pipeline.monthly_discount_rate_ == pytest.approx(1.10 ** (1 / 12) - 1, rel=1e-12)
    assert {k: round(v, 3) for k, v in pipeline.beta_geo_.params_.items()} == PUBLISHED_BG
    # Gamma-Gamma on the repeat buyers with positive spend: the published CDNOW fit
    assert round(pipeline.gamma_gamma_.params_["p"], 2) == 6.25
    # by hand, month by month, from the two fitted models
    d = 1.10 ** (1 / 12) - 1
    row = summary.iloc[10]
    x, tx, T, m = row[s.FREQUENCY], row[s.RECENCY], row[s.T], row[s.MONETARY_VALUE]
    cumulative = [pipeline.beta_geo_.expected_purchases(k * 30 / 7, x, tx, T) for k in range(0, 7)]
    spend = pipeline.gamma_gamma_.expected_spend(x, m)
    by_hand = sum(
        0.25 * spend * (cumulative[k] - cumulative[k - 1]) / (1 + d) ** k for k in range(1, 7)
    )
    assert pipeline.clv(summary).iloc[10] == pytest.approx(by_hand, rel=1e-10)
    table = pipeline.summary_
    assert table.index.names == [clv.MODEL, clv.PARAMETER]
    assert table.loc["BG/NBD", clv.STANDARD_ERROR].to_dict() == pytest.approx(
        LIFETIMES_BG_SE, abs=1e-3
    )
    assert list(table.loc["Gamma-Gamma"].index) == ["p", "q", "v"]


def test_clv_pipeline_without_margin_is_clv_of_revenue(cdnow):
    assert CLVPipeline().fit(cdnow).margin_share_ == 1.0


@pytest.mark.filterwarnings("ignore::crmlib.errors.ConvergenceWarning")  # 3 customers
def test_clv_pipeline_needs_repeat_buyers_with_spend():
    summary = _summary(**{s.MONETARY_VALUE: [0.0, 5.0, 0.0], s.REVENUE: [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match="only 1 customer"):
        CLVPipeline().fit(summary)


# --- bad input ------------------------------------------------------------------------------


def _summary(**columns):
    base = {s.FREQUENCY: [0, 2, 1], s.RECENCY: [0.0, 5.0, 3.0], s.T: [10.0, 10.0, 10.0]}
    base.update(columns)
    return pd.DataFrame(base, index=["c1", "c2", "c3"])


@pytest.mark.parametrize(
    "summary, column, pattern",
    [
        (_summary().drop(columns=s.RECENCY), s.RECENCY, "no column"),
        (_summary(**{s.FREQUENCY: [0, -2, -1]}), s.FREQUENCY, "2 row.*negative"),
        (_summary(**{s.T: [10.0, 10.0, np.nan]}), s.T, "1 row.*empty"),
        (_summary(**{s.RECENCY: [0.0, 12.0, 11.0]}), s.RECENCY, "larger than 'T' in 2 row"),
        (_summary(**{s.RECENCY: [1.0, 5.0, 3.0]}), s.RECENCY, "not 0 in 1 row.*c1"),
        (_summary(**{s.FREQUENCY: [0, 2.5, 1]}), s.FREQUENCY, "1 row.*whole"),
    ],
)
def test_bad_summaries_raise_data_errors_naming_column_and_rows(summary, column, pattern):
    with pytest.raises(DataError, match=pattern) as info:
        BetaGeo().fit(summary)
    assert info.value.column == column
    assert repr(column) in str(info.value)


def test_gamma_gamma_rejects_non_positive_spend_of_repeat_buyers():
    summary = _summary(**{s.MONETARY_VALUE: [0.0, 0.0, -4.0]})
    with pytest.raises(DataError, match=r"'monetary_value'.*2 row\(s\).*drop those") as info:
        GammaGamma().fit(summary)
    assert info.value.column == s.MONETARY_VALUE


def test_gamma_gamma_needs_repeat_buyers():
    summary = _summary(**{s.FREQUENCY: [0, 0, 0], s.RECENCY: [0.0] * 3, s.MONETARY_VALUE: [0] * 3})
    with pytest.raises(DataError, match="no customer has a repeat purchase"):
        GammaGamma().fit(summary)


# --- Gamma-Gamma ----------------------------------------------------------------------------


def _cdnow_summary_from_transactions():
    from crmlib.analytics.summary import customer_summary

    return customer_summary(
        load_cdnow_transactions(), as_of=CDNOW_CALIBRATION_END, time_unit="W", engine="pandas"
    )


def test_gamma_gamma_cdnow_matches_the_published_values():
    # Published values come from the exact mean spends; the summary of the CDNOW
    # transactions has them (the summary CSV rounds zbar to cents).
    summary = _cdnow_summary_from_transactions()
    model = GammaGamma().fit(summary)
    assert {k: round(v, 2) for k, v in model.params_.items()} == {"p": 6.25, "q": 3.74, "v": 15.44}
    assert round(model.log_likelihood_, 2) == -4055.92
    assert model.n_customers_ == 946  # repeat buyers only


def test_gamma_gamma_on_the_rounded_summary_file(gg_cdnow):
    # zbar rounded to cents moves v by < 0.01 from the published 15.44.
    assert round(gg_cdnow.params_["p"], 2) == 6.25
    assert round(gg_cdnow.params_["q"], 2) == 3.74
    assert gg_cdnow.params_["v"] == pytest.approx(15.44, abs=0.01)
    assert abs(gg_cdnow.correlation_) < 0.3


def test_gamma_gamma_reads_empty_spend_of_non_repeat_buyers_as_zero(cdnow, gg_cdnow):
    empty = cdnow.assign(
        **{s.MONETARY_VALUE: cdnow[s.MONETARY_VALUE].where(cdnow[s.FREQUENCY] > 0)}
    )
    assert empty[s.MONETARY_VALUE].isna().sum() == 2357 - 946
    assert GammaGamma().fit(empty).params_ == pytest.approx(gg_cdnow.params_)


def test_expected_spend_is_the_weighted_mean_of_population_and_own_mean():
    p, q, v = 6.25, 3.74, 15.44
    model = GammaGamma.from_params(p, q, v)
    population = p * v / (q - 1)
    x, m = 2, 22.35
    weight = p * x / (p * x + q - 1)
    by_hand = (1 - weight) * population + weight * m
    assert model.expected_spend(x, m) == pytest.approx(by_hand, rel=1e-12)
    assert model.expected_spend(0, 0) == pytest.approx(population, rel=1e-12)


def test_correlated_frequency_and_spend_warn():
    # Planted: Gamma-Gamma spend whose scale nu falls with frequency, so frequent
    # buyers spend more per purchase (r ~ 0.5), against the model's independence.
    rng = np.random.default_rng(SEED)
    x = rng.integers(1, 15, 2000).astype(float)
    nu = rng.gamma(4.0, 1 / 15.0, 2000) / x
    m = rng.gamma(6.0 * x, 1 / (nu * x))  # mean of x Gamma(6, nu) purchases
    summary = pd.DataFrame({s.FREQUENCY: x, s.MONETARY_VALUE: m})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = GammaGamma().fit(summary)
    assert [w.category for w in caught] == [CorrelationWarning]
    assert "correlated (Pearson r = 0.5" in str(caught[0].message)
    assert model.correlation_ == pytest.approx(np.corrcoef(x, m)[0, 1])
    assert issubclass(CorrelationWarning, UserWarning)


def test_uncorrelated_data_does_not_warn(cdnow):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GammaGamma().fit(cdnow)


# --- CLV ------------------------------------------------------------------------------------


class _StubPurchases:
    """E[Y(t)] = 1.0 after one month and 1.8 after two, whatever the customer."""

    def __init__(self, periods_per_month):
        self.month = periods_per_month

    def expected_purchases(self, t, frequency, recency, T):
        months = t / self.month
        value = {0.0: 0.0, 1.0: 1.0, 2.0: 1.8}[round(months, 9)]
        return np.full(np.shape(frequency), value)


class _StubSpend:
    def expected_spend(self, frequency, monetary_value):
        return np.full(np.shape(frequency), 20.0)


@pytest.mark.parametrize("time_unit, periods_per_month", [("W", 30 / 7), ("D", 30.0)])
def test_clv_by_hand_one_customer_two_months(time_unit, periods_per_month):
    summary = pd.DataFrame(
        {s.FREQUENCY: [1.0], s.RECENCY: [2.0], s.T: [5.0], s.MONETARY_VALUE: [30.0]},
        index=["c9"],
    )
    value = clv.customer_lifetime_value(
        _StubPurchases(periods_per_month),
        _StubSpend(),
        summary,
        horizon=2,
        time_unit=time_unit,
        discount_rate=0.01,
        margin=0.5,
    )
    # month 1: 1.0 purchase, month 2: 0.8 more; 20 a purchase; half of it is margin.
    by_hand = 0.5 * 20 * (1.0 / 1.01 + 0.8 / 1.01**2)
    assert value.loc["c9"] == pytest.approx(by_hand, rel=1e-12)
    assert value.name == clv.CLV


def test_clv_with_fitted_models_is_the_same_in_days_and_weeks(cdnow, bg_cdnow, gg_cdnow):
    days = cdnow.assign(**{s.RECENCY: cdnow[s.RECENCY] * 7, s.T: cdnow[s.T] * 7})
    bg_days = BetaGeo().fit(days)
    weekly = clv.customer_lifetime_value(bg_cdnow, gg_cdnow, cdnow, 12, "W", 0.01)
    daily = clv.customer_lifetime_value(bg_days, gg_cdnow, days, 12, "D", 0.01)
    np.testing.assert_allclose(weekly, daily, rtol=1e-5)
    assert weekly.index.equals(cdnow.index)
    # Without discounting, 12 months of CLV = E[spend] * E[Y(12 months)].
    undiscounted = clv.customer_lifetime_value(bg_cdnow, gg_cdnow, cdnow, 12, "W", 0.0)
    row = cdnow.iloc[0]
    direct = gg_cdnow.expected_spend(
        row[s.FREQUENCY], row[s.MONETARY_VALUE]
    ) * bg_cdnow.expected_purchases(12 * 30 / 7, row[s.FREQUENCY], row[s.RECENCY], row[s.T])
    assert undiscounted.iloc[0] == pytest.approx(direct, rel=1e-10)
    assert (weekly < undiscounted).all()


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"time_unit": "M"}, "time_unit must be 'D'"),
        ({"horizon": 0}, "horizon"),
        ({"horizon": 2.5}, "horizon"),
        ({"discount_rate": 10}, "monthly rate.*annual_to_monthly_rate"),
        ({"discount_rate": -0.1}, "monthly rate"),
        ({"margin": 30}, "margin"),
    ],
)
def test_clv_validates_its_settings(cdnow, bg_cdnow, gg_cdnow, kwargs, pattern):
    settings = {"horizon": 12, "time_unit": "W", "discount_rate": 0.01} | kwargs
    with pytest.raises(CRMError, match=pattern):
        clv.customer_lifetime_value(bg_cdnow, gg_cdnow, cdnow, **settings)


def test_annual_to_monthly_rate():
    assert clv.annual_to_monthly_rate(1.01**12 - 1) == pytest.approx(0.01, rel=1e-12)
    assert clv.annual_to_monthly_rate(0.0) == 0.0


def test_historical_clv_is_margin_or_revenue_where_margin_is_missing():
    summary = pd.DataFrame(
        {s.REVENUE: [100.0, 50.0, 80.0], s.MARGIN: [30.0, np.nan, -5.0]}, index=["a", "b", "c"]
    )
    result = clv.historical_clv(summary)
    assert result.to_dict() == {"a": 30.0, "b": 50.0, "c": -5.0}
    assert clv.historical_clv(summary[[s.REVENUE]]).to_dict() == {"a": 100.0, "b": 50.0, "c": 80.0}
    with pytest.raises(DataError, match="neither"):
        clv.historical_clv(summary[[]])


# --- calibration / holdout --------------------------------------------------------------------


def _transactions():
    rows = [
        ("A", "2024-01-01", 10.0),
        ("A", "2024-01-08", 20.0),
        ("A", "2024-01-08", 5.0),  # same day: one occasion
        ("A", "2024-01-22", 30.0),  # holdout
        ("A", "2024-02-05", 12.0),  # holdout
        ("A", "2024-02-06", -5.0),  # a return is not a purchase
        ("B", "2024-01-20", 40.0),  # first purchase after calibration: not in the split
        ("C", "2024-01-15", 15.0),  # on the calibration end day: included
        ("C", "2024-02-12", 15.0),  # on the observation end day: included
        ("C", "2024-02-13", 15.0),  # after the observation end
    ]
    frame = pd.DataFrame(rows, columns=[s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE])
    frame[s.ORDER_DATE] = pd.to_datetime(frame[s.ORDER_DATE])
    return frame


def test_calibration_holdout_split_by_hand():
    split = clv.calibration_holdout_split(_transactions(), "2024-01-15", "2024-02-12", "W")
    assert sorted(split.index) == ["A", "C"]
    a, c = split.loc["A"], split.loc["C"]
    assert (a[s.FREQUENCY], a[s.RECENCY], a[s.T], a[s.MONETARY_VALUE]) == (1, 1.0, 2.0, 25.0)
    assert (c[s.FREQUENCY], c[s.RECENCY], c[s.T]) == (0, 0.0, 0.0)
    assert split[clv.FREQUENCY_HOLDOUT].to_dict() == {"A": 2.0, "C": 1.0}
    assert (split[clv.DURATION_HOLDOUT] == 4.0).all()  # 28 days


def test_calibration_holdout_split_rejects_bad_dates():
    with pytest.raises(CRMError, match="must be after"):
        clv.calibration_holdout_split(_transactions(), "2024-02-01", "2024-01-01")


def test_holdout_metrics_by_hand():
    split = clv.calibration_holdout_split(_transactions(), "2024-01-15", "2024-02-12", "W")
    model = BetaGeo.from_params(**PUBLISHED_BG)
    predicted = [model.expected_purchases(4.0, 1, 1.0, 2.0), model.expected_purchases(4, 0, 0, 0)]
    errors = np.array(predicted) - np.array([2.0, 1.0])
    metrics = clv.holdout_metrics(model, split, max_frequency=1)
    assert metrics.mae == pytest.approx(np.abs(errors).mean(), rel=1e-12)
    assert metrics.rmse == pytest.approx(np.sqrt((errors**2).mean()), rel=1e-12)
    table = metrics.by_frequency
    assert list(table.index) == ["0", "1+"]
    assert table.loc["1+", clv.ACTUAL] == 2.0
    assert table.loc["0", clv.PREDICTED] == pytest.approx(predicted[1])


def test_cdnow_calibration_split_reproduces_the_published_summary(cdnow):
    split = clv.calibration_holdout_split(
        load_cdnow_transactions(), CDNOW_CALIBRATION_END, "1998-06-30", "W"
    )
    published = cdnow.set_index(s.CUSTOMER_ID).reindex(split.index)
    assert len(split) == 2357
    assert (split[s.FREQUENCY] == published[s.FREQUENCY]).all()
    # the published file rounds weeks to 2 decimals
    assert (split[s.T] - published[s.T]).abs().max() < 0.006
    assert (split[clv.DURATION_HOLDOUT] == 273 / 7).all()  # 1997-10-01 .. 1998-06-30


# --- plots ----------------------------------------------------------------------------------


def test_frequency_recency_matrix_shows_the_expectations():
    model = BetaGeo.from_params(**PUBLISHED_BG)
    ax = Figure().add_subplot()
    assert clv_plots.plot_frequency_recency_matrix(model, T=38.0, t=4, ax=ax) is ax
    image = ax.images[0].get_array()
    assert image.shape == (21, 60)
    # top right: 20 repeat purchases, the last one just now
    assert image[20, -1] == pytest.approx(model.expected_purchases(4, 20, 38.0, 38.0))
    assert image[0, 0] == pytest.approx(model.expected_purchases(4, 0, 0.0, 38.0))


def test_probability_alive_matrix_shows_p_alive():
    model = BetaGeo.from_params(**PUBLISHED_BG)
    ax = clv_plots.plot_probability_alive_matrix(model, T=38.0, max_frequency=5, points=10)
    image = ax.images[0].get_array()
    assert image[5, 0] == pytest.approx(model.p_alive(5, 0.0, 38.0))
    assert (image[0] == 1.0).all()


def test_clv_distribution_and_calibration_charts():
    values = pd.Series([1.0, 2.0, 3.0, 10.0])
    ax = Figure().add_subplot()
    assert clv_plots.plot_clv_distribution(values, bins=4, ax=ax) is ax
    assert len(ax.patches) == 4
    assert ax.lines[0].get_xdata()[0] == 4.0  # the mean

    split = clv.calibration_holdout_split(_transactions(), "2024-01-15", "2024-02-12", "W")
    metrics = clv.holdout_metrics(BetaGeo.from_params(**PUBLISHED_BG), split)
    ax = clv_plots.plot_calibration_holdout(metrics)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), metrics.by_frequency[clv.ACTUAL])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), metrics.by_frequency[clv.PREDICTED])
