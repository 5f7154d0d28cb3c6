"""The planted subscriptions of crmlib.synth: shifted-beta-geometric churn per plan.

The planted ``alpha`` and ``beta`` of each plan (Fader & Hardie 2007) are
recovered by :class:`crmlib.analytics.clv.ShiftedBetaGeo` from the survivor
counts :func:`crmlib.analytics.clv.survivors_from_subscriptions` builds from
the generated table: within their 95 % intervals for the sample's seed, and
over 40 seeds the intervals cover the planted values at about their nominal
rate (measured: 0.93-0.98 for each parameter of each plan) with median
estimates within 10 % of them (measured ratios 1.01-1.08). A plant one day off
(an ``end_date`` on the first unpaid day) gives coverage 0.03 and a median
estimate 2.8 times the planted ``alpha`` of "plus", so these checks would fail.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from crmlib import synth
from crmlib.analytics.clv import ShiftedBetaGeo, survivors_from_subscriptions
from crmlib.cli import cli
from crmlib.data import schema as s
from crmlib.synth import subscriptions as subs

SEED = 20261122  # the sample's seed (datasets/README.md)
N = 5000
SAMPLE = Path(__file__).resolve().parents[2] / "datasets" / "sample"


@pytest.fixture(scope="module")
def company():
    return synth.generate(N, seed=SEED)


@pytest.fixture(scope="module")
def table(company):
    return company.tables["subscriptions"]


def _fit(frame: pd.DataFrame, as_of) -> ShiftedBetaGeo:
    return ShiftedBetaGeo().fit(survivors_from_subscriptions(frame, period="M", as_of=as_of))


def _covers(model: ShiftedBetaGeo, name: str, value: float) -> bool:
    row = model.summary_.loc[name]
    return bool(row["lower_95"] <= value <= row["upper_95"])


def test_sbg_recovers_each_plans_planted_alpha_and_beta(company, table):
    plans = company.truth.subscription_plans.set_index(s.PLAN)
    assert set(plans.index) == {p.plan for p in synth.SUBSCRIPTION_PLANS} == set(table[s.PLAN])
    for spec in synth.SUBSCRIPTION_PLANS:
        assert (plans.loc[spec.plan, ["alpha", "beta"]] == [spec.alpha, spec.beta]).all()
        model = _fit(table[table[s.PLAN] == spec.plan], company.as_of)
        assert _covers(model, "alpha", spec.alpha), (spec.plan, model.summary_)
        assert _covers(model, "beta", spec.beta), (spec.plan, model.summary_)


@pytest.mark.slow
def test_recovery_over_forty_seeds(company):
    """Coverage of the 95 % intervals and the median estimate over seeds of the plant alone."""
    persons = company.truth.persons
    start64 = np.datetime64("2023-01-01")
    t0 = (persons["acquisition_date"].to_numpy().astype("datetime64[D]") - start64).astype(float)
    found = {p.plan: [] for p in synth.SUBSCRIPTION_PLANS}
    for seed in range(40):
        frame, _ = subs._subscriptions(
            subs.subscription_rng(seed), t0 + 0.5, persons["customer_id"], 731.0, start64
        )
        for spec in synth.SUBSCRIPTION_PLANS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a rare "precision loss" stop at the optimum
                model = _fit(frame[frame[s.PLAN] == spec.plan], "2024-12-31")
            found[spec.plan].append(
                [
                    _covers(model, "alpha", spec.alpha),
                    _covers(model, "beta", spec.beta),
                    model.params_["alpha"] / spec.alpha,
                    model.params_["beta"] / spec.beta,
                ]
            )
    for plan, rows in found.items():
        rows = np.array(rows)
        assert (rows[:, :2].mean(axis=0) >= 0.85).all(), (plan, rows[:, :2].mean(axis=0))
        ratio = np.median(rows[:, 2:], axis=0)
        assert (np.abs(ratio - 1) <= 0.15).all(), (plan, ratio)


def test_a_share_of_persons_subscribes_once_after_their_first_purchase(company, table):
    persons = company.truth.persons.set_index("customer_id")
    n = len(persons)
    share = len(table) / n
    p = synth.SUBSCRIPTION_SHARE
    assert abs(share - p) <= 4 * np.sqrt(p * (1 - p) / n)
    assert table[s.CUSTOMER_ID].is_unique  # one subscription per person, on the primary record
    assert set(table[s.CUSTOMER_ID]) <= set(persons.index)
    first = table[s.CUSTOMER_ID].map(persons["acquisition_date"])
    waited = (table[s.START_DATE] - first).dt.days
    assert waited.min() >= 0 and waited.max() <= synth.SUBSCRIPTION_JOIN_DAYS
    assert table[s.START_DATE].max() <= company.as_of
    assert table[s.SUBSCRIPTION_ID].is_monotonic_increasing
    assert table[s.START_DATE].is_monotonic_increasing  # ids numbered in order of start
    spec = {p.plan: p for p in synth.SUBSCRIPTION_PLANS}
    for plan, rows in table.groupby(s.PLAN):
        assert (rows[s.PRICE] == spec[plan].price).all()
        assert spec[plan].period == "month" and (rows[s.PERIOD] == "month").all()
        assert abs(len(rows) / len(table) - spec[plan].share) <= 4 * np.sqrt(0.25 / len(table))


def test_end_date_is_the_last_day_of_the_last_paid_month(company, table):
    ended = table.dropna(subset=[s.END_DATE])
    assert 0 < len(ended) < len(table)
    # by pandas' own month arithmetic, end + 1 day is start plus a whole number k >= 1 of
    # months; k is the months between the two dates, or one more when end is a month's last day
    months = (ended[s.END_DATE].dt.year - ended[s.START_DATE].dt.year) * 12 + (
        ended[s.END_DATE].dt.month - ended[s.START_DATE].dt.month
    )
    paid = [
        next(
            (k for k in (m, m + 1) if d0 + pd.DateOffset(months=k) - pd.Timedelta(days=1) == d1),
            None,
        )
        for d0, d1, m in zip(
            ended[s.START_DATE], ended[s.END_DATE], months.astype(int), strict=True
        )
    ]
    assert None not in paid and min(paid) >= 1
    assert ended[s.END_DATE].max() <= company.as_of
    # an empty end date: still paid up after the window's last day; the truth counts them
    plans = company.truth.subscription_plans.set_index(s.PLAN)
    active = table[s.END_DATE].isna().groupby(table[s.PLAN]).sum()
    assert (active == plans["n_active"].reindex(active.index)).all()
    assert (plans["n"] == table.groupby(s.PLAN).size().reindex(plans.index)).all()


@pytest.mark.parametrize("months", [0, 1, 2, 11, 12, 13, 25, 240])
def test_add_months_counts_months_as_pandas_does(months):
    days = pd.date_range("2023-01-01", "2025-12-31", freq="D")
    got = subs.add_months(days.to_numpy().astype("datetime64[D]"), np.full(days.size, months))
    expected = days + pd.DateOffset(months=months)
    np.testing.assert_array_equal(got, expected.to_numpy().astype("datetime64[D]"))


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.glob("*.csv")
        if not p.name.startswith(s.ASSESSMENT_PREFIX)
    }


def test_regenerating_the_sample_changes_no_file(tmp_path):
    """The README's command rewrites every generated file of datasets/sample byte for byte.

    The subscriptions come from a stream of their own, so the files the sample
    had before the table existed are unchanged and ``subscriptions.csv`` is the
    one added.
    """
    out = tmp_path / "sample"
    args = ["synth", "--customers", str(N), "--seed", str(SEED), "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    written = _digests(out)
    assert "subscriptions.csv" in written
    assert written == _digests(SAMPLE)


def test_subscriptions_in_a_large_folder(tmp_path):
    """The streaming writer writes the table too: same plans, ids continuing over chunks."""
    out = tmp_path / "large"
    synth.write_large_folder(600, out, seed=3, chunk_customers=200, fmt="csv")
    frame = pd.read_csv(out / "subscriptions.csv", dtype=str)
    assert list(frame.columns) == list(s.TABLES["subscriptions"].names)
    numbers = np.sort(frame[s.SUBSCRIPTION_ID].str[2:].astype(int).to_numpy())
    np.testing.assert_array_equal(numbers, np.arange(1, len(frame) + 1))
    assert set(frame[s.PLAN]) == {p.plan for p in synth.SUBSCRIPTION_PLANS}
    customers = pd.read_csv(out / "customers.csv", dtype=str)
    assert set(frame[s.CUSTOMER_ID]) <= set(customers[s.CUSTOMER_ID])
    assert abs(len(frame) / 600 - synth.SUBSCRIPTION_SHARE) <= 4 * np.sqrt(0.25 * 0.75 / 600)
