"""Tests of the discrete-time CLV models: BG/BB and the shifted-beta-geometric.

Published values: Fader, Hardie & Shang (2010), "Customer-base analysis in a
discrete-time noncontractual setting", Marketing Science 29(6) (BG/BB on the
donations data); Fader & Hardie (2007), "How to project customer retention",
Journal of Interactive Marketing 21(1) (sBG on two cohorts, fitted on years
1-7: the survivor counts at the end of years 0-7). Standard errors: lifetimes
0.11.3 (BetaGeoBetaBinomFitter.summary) on the donations data. Predictions
are checked against the model's definition integrated numerically, and
against sums and closed forms worked by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from crmlib.analytics import clv
from crmlib.analytics.clv import BetaGeoBetaBinom, ShiftedBetaGeo, survivors_from_subscriptions
from crmlib.data import schema as s
from crmlib.data.datasets import datasets_dir, load_donations_summary, load_sbg_cohorts
from crmlib.errors import DataError, NotFittedError

PUBLISHED_BGBB = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
PUBLISHED_BGBB_LL = -33225.6
LIFETIMES_BGBB_SE = {"alpha": 0.0694, "beta": 0.0294, "gamma": 0.0510, "delta": 0.3208}
HIGHEND = [1000, 869, 743, 653, 593, 551, 517, 491]
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
PUBLISHED_SBG = {"highend": (0.668, 3.806), "regular": (0.704, 1.182)}


@pytest.fixture(scope="module")
def bgbb():
    return BetaGeoBetaBinom().fit(load_donations_summary())


# --- BG/BB --------------------------------------------------------------------------------


def test_bgbb_reproduces_the_published_donations_fit(bgbb):
    for name, value in PUBLISHED_BGBB.items():
        assert bgbb.params_[name] == pytest.approx(value, abs=1e-3), name
    assert bgbb.log_likelihood_ == pytest.approx(PUBLISHED_BGBB_LL, abs=0.1)
    assert bgbb.n_customers_ == 11104


def test_bgbb_standard_errors_match_lifetimes(bgbb):
    table = bgbb.summary_
    for name, se in LIFETIMES_BGBB_SE.items():
        assert table.loc[name, clv.STANDARD_ERROR] == pytest.approx(se, abs=2e-3), name
    assert (table[clv.LOWER_95] < table[clv.ESTIMATE]).all()
    assert (table[clv.ESTIMATE] < table[clv.UPPER_95]).all()


def test_bgbb_compressed_fit_equals_the_per_row_likelihood(bgbb):
    # the 22-row count table of lifetimes, expanded row by row, gives the same fit
    counts = pd.read_csv(datasets_dir() / "donations" / "donations.csv")
    expanded = counts.loc[counts.index.repeat(counts["weights"])].rename(columns={"periods": s.T})[
        [s.FREQUENCY, s.RECENCY, s.T]
    ]
    refit = BetaGeoBetaBinom().fit(expanded.reset_index(drop=True))
    assert refit.log_likelihood_ == pytest.approx(bgbb.log_likelihood_, abs=1e-6)


def _integrate_over_p_theta(model, p_part, theta_part):
    """E over p ~ Beta(alpha, beta), theta ~ Beta(gamma, delta) of p_part(p) * theta_part(theta)."""
    a, b, g, d = model.params_.values()
    ip = integrate.quad(lambda p: p_part(p) * stats.beta.pdf(p, a, b), 0, 1, limit=200)[0]
    it = integrate.quad(lambda q: theta_part(q) * stats.beta.pdf(q, g, d), 0, 1, limit=200)[0]
    return ip * it


def _likelihood_by_integration(model, x, tx, n):
    """The BG/BB likelihood from its definition (FHS 2010 eq. (3)), integrated numerically."""
    alive = _integrate_over_p_theta(
        model, lambda p: p**x * (1 - p) ** (n - x), lambda q: (1 - q) ** n
    )
    dropped = sum(
        _integrate_over_p_theta(
            model,
            lambda p, i=i: p**x * (1 - p) ** (tx - x + i),
            lambda q, i=i: q * (1 - q) ** (tx + i),
        )
        for i in range(n - tx)
    )
    return alive + dropped


@pytest.mark.parametrize(("x", "tx", "n"), [(0, 0, 6), (3, 4, 6), (6, 6, 6), (1, 1, 6)])
def test_bgbb_p_alive_and_expected_purchases_match_the_definition(x, tx, n):
    model = BetaGeoBetaBinom.from_params(**PUBLISHED_BGBB)
    likelihood = _likelihood_by_integration(model, x, tx, n)
    alive_next = _integrate_over_p_theta(
        model, lambda p: p**x * (1 - p) ** (n - x), lambda q: (1 - q) ** (n + 1)
    )
    assert model.p_alive(x, tx, n) == pytest.approx(alive_next / likelihood, rel=1e-6)
    horizon = 5
    # alive through n, then a transaction with probability p in each period n+k it is alive
    future = _integrate_over_p_theta(
        model,
        lambda p: p ** (x + 1) * (1 - p) ** (n - x),
        lambda q: (1 - q) ** n * sum((1 - q) ** k for k in range(1, horizon + 1)),
    )
    assert model.expected_purchases(horizon, x, tx, n) == pytest.approx(
        future / likelihood, rel=1e-6
    )


def test_bgbb_predictions_keep_a_series_index_and_grow_with_the_horizon(bgbb):
    summary = load_donations_summary().iloc[[0, 5000, 11000]].set_index(s.CUSTOMER_ID)
    got = bgbb.expected_purchases(10, summary[s.FREQUENCY], summary[s.RECENCY], summary[s.T])
    assert list(got.index) == list(summary.index)
    assert bgbb.expected_purchases(0, 3, 4, 6) == pytest.approx(0.0)
    assert bgbb.expected_purchases(10, 3, 4, 6) > bgbb.expected_purchases(5, 3, 4, 6)


def test_bgbb_rejects_data_that_are_not_whole_periods():
    bad = pd.DataFrame({s.FREQUENCY: [2.0], s.RECENCY: [1.0], s.T: [6.0]})
    with pytest.raises(DataError, match="at most one transaction per period"):
        BetaGeoBetaBinom().fit(bad)
    half = pd.DataFrame({s.FREQUENCY: [1.0], s.RECENCY: [1.5], s.T: [6.0]})
    with pytest.raises(DataError, match="whole numbers of periods"):
        BetaGeoBetaBinom().fit(half)
    with pytest.raises(NotFittedError):
        BetaGeoBetaBinom().p_alive(1, 1, 6)


# --- shifted-beta-geometric ---------------------------------------------------------------


@pytest.mark.parametrize(("cohort", "survivors"), [("highend", HIGHEND), ("regular", REGULAR)])
def test_sbg_reproduces_the_published_fits(cohort, survivors):
    model = ShiftedBetaGeo().fit(survivors)
    alpha, beta = PUBLISHED_SBG[cohort]
    assert model.params_["alpha"] == pytest.approx(alpha, abs=1e-3)
    assert model.params_["beta"] == pytest.approx(beta, abs=1e-3)
    assert model.n_customers_ == 1000
    table = model.summary_
    assert (table[clv.STANDARD_ERROR] > 0).all()


def _sbg_log_likelihood_by_hand(alpha, beta, cohorts):
    """Sum over cohorts of churned_t ln(S(t-1) - S(t)) + survivors_last ln S(last)."""
    model = ShiftedBetaGeo.from_params(alpha=alpha, beta=beta)
    total = 0.0
    for counts in cohorts:
        surv = [model.survival(t) for t in range(len(counts))]
        for t in range(1, len(counts)):
            total += (counts[t - 1] - counts[t]) * np.log(surv[t - 1] - surv[t])
        total += counts[-1] * np.log(surv[-1])
    return total


def test_sbg_fits_the_bundled_cohorts_and_several_cohorts_at_once():
    cohorts = load_sbg_cohorts()
    regular = ShiftedBetaGeo().fit(cohorts["regular"])
    assert regular.params_["alpha"] == pytest.approx(0.704, abs=1e-3)
    assert regular.log_likelihood_ == pytest.approx(
        _sbg_log_likelihood_by_hand(0.704, 1.182, [REGULAR]), abs=0.05
    )
    # a second cohort observed for 3 years only (trailing NaN): the likelihood is the sum
    # of both cohorts', and the fit is its maximum
    short = [1000, 700, 540, 450]
    combined = ShiftedBetaGeo().fit(pd.DataFrame([REGULAR, short + [np.nan] * 4]))
    a, b = combined.params_["alpha"], combined.params_["beta"]
    assert combined.n_customers_ == 2000
    assert combined.log_likelihood_ == pytest.approx(
        _sbg_log_likelihood_by_hand(a, b, [REGULAR, short]), abs=1e-6
    )
    for da, db in ((0.01, 0), (-0.01, 0), (0, 0.01), (0, -0.01)):
        assert _sbg_log_likelihood_by_hand(a + da, b + db, [REGULAR, short]) < (
            combined.log_likelihood_
        )


def test_sbg_retention_and_survival_by_hand():
    model = ShiftedBetaGeo.from_params(alpha=0.704, beta=1.182)
    # r(t) = (beta + t - 1) / (alpha + beta + t - 1): 1.182 / 1.886, 2.182 / 2.886
    assert model.retention_rate(1) == pytest.approx(0.626723, abs=1e-6)
    assert model.retention_rate(2) == pytest.approx(0.756064, abs=1e-6)
    # S(2) = r(1) r(2)
    assert model.survival(2) == pytest.approx(0.626723 * 0.756064, abs=1e-6)
    curve = model.survival(pd.Series([0.0, 1.0, 7.0], index=["start", "y1", "y7"]))
    assert list(curve.index) == ["start", "y1", "y7"]
    assert curve["start"] == pytest.approx(1.0)
    with pytest.raises(DataError, match="t = 1"):
        model.retention_rate(0)


def test_sbg_derl_closed_form_by_hand():
    # alpha = beta = 1: S(t) = 1 / (1 + t); a new customer's DERL is
    # sum_k z**k / (k + 2) = (-ln(1 - z) - z) / z**2 with z = 1 / (1 + d)
    model = ShiftedBetaGeo.from_params(alpha=1.0, beta=1.0)
    z = 1 / 1.1
    assert model.discounted_expected_residual_lifetime(0.1) == pytest.approx(
        (-np.log(1 - z) - z) / z**2, rel=1e-10
    )
    assert (-np.log(1 - z) - z) / z**2 == pytest.approx(1.801453, abs=1e-6)


def test_sbg_derl_equals_the_discounted_sum_of_renewals():
    # DERL(d | n - 1 renewals) = sum_k S(n + k) / S(n - 1) / (1 + d)**k, the sum taken
    # directly from the retention rates (beta + t - 1) / (alpha + beta + t - 1)
    alpha, beta, d = 0.704, 1.182, 0.1
    model = ShiftedBetaGeo.from_params(alpha=alpha, beta=beta)
    for renewals in (0, 1, 4):
        n = renewals + 1
        total, alive = 0.0, 1.0
        for k in range(2000):
            t = n + k
            alive *= (beta + t - 1) / (alpha + beta + t - 1)
            total += alive / (1 + d) ** k
        assert model.discounted_expected_residual_lifetime(d, renewals) == pytest.approx(
            total, rel=1e-9
        )
    # the first renewal: r(1) = 1.182 / 1.886 of a payment now, then discounted ones
    first_terms = 0.626723 + 0.626723 * 0.756064 / 1.1
    assert model.discounted_expected_residual_lifetime(d) > first_terms
    # heterogeneity: a customer who has renewed more often is worth more
    assert model.discounted_expected_residual_lifetime(
        d, 4
    ) > model.discounted_expected_residual_lifetime(d, 0)


def test_sbg_rejects_rising_counts():
    with pytest.raises(DataError, match="must not rise"):
        ShiftedBetaGeo().fit([100, 80, 90])
    with pytest.raises(DataError, match="at least one later period"):
        ShiftedBetaGeo().fit([100])


# --- survivors from a subscriptions table ---------------------------------------------------


def test_survivors_from_a_hand_made_subscriptions_table():
    table = pd.DataFrame(
        {
            s.CUSTOMER_ID: ["a", "b", "c", "d", "e"],
            "start_date": ["2020-01-01", "2020-01-01", "2020-03-01", "2022-01-01", "2023-06-01"],
            "end_date": ["2020-06-30", "2021-03-01", None, None, None],
        }
    )
    got = survivors_from_subscriptions(table, period="Y", as_of="2023-01-01")
    # cohort 2020 watched 2 whole years from its last start (2020-03-01): a churned in
    # year 1, b in year 2, c active; cohort 2022: d active for 1 year
    assert got.loc[pd.Period("2020", "Y")].tolist() == [3, 2, 1]
    assert got.loc[pd.Period("2022", "Y")].iloc[:2].tolist() == [1, 1]
    assert np.isnan(got.loc[pd.Period("2022", "Y")].iloc[2])
    assert len(got) == 2  # e starts after the as-of date


def test_survivors_from_subscriptions_give_the_published_cohorts():
    # the per-customer file: recency k < 8 means churned in year k, 8 still active
    raw = pd.read_csv(datasets_dir() / "sbg_cohorts" / "sbg_cohorts.csv")
    raw = raw[raw["cohort"] == "highend"]
    start = pd.Timestamp("2000-01-01")
    end = [
        start + pd.DateOffset(years=int(k) - 1, months=6) if k < 8 else pd.NaT
        for k in raw["recency"]
    ]
    table = pd.DataFrame(
        {s.CUSTOMER_ID: raw["customer_id"].astype(str), "start_date": start, "end_date": end}
    )
    got = survivors_from_subscriptions(table, period="Y", as_of="2007-01-01")
    assert got.iloc[0].tolist() == HIGHEND
    model = ShiftedBetaGeo().fit(got)
    assert model.params_["alpha"] == pytest.approx(0.668, abs=1e-3)


def test_survivors_from_subscriptions_rejects_an_end_before_its_start():
    table = pd.DataFrame(
        {s.CUSTOMER_ID: ["a"], "start_date": ["2021-01-01"], "end_date": ["2020-01-01"]}
    )
    with pytest.raises(DataError, match="end before they start"):
        survivors_from_subscriptions(table)
    with pytest.raises(DataError, match="period must be one of"):
        survivors_from_subscriptions(table, period="W")
