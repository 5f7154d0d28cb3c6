"""Planted truths of issue 15's sample company, measured from the written tables.

Each test measures a figure from the tables a client folder holds (never from
the generator's own arrays) and compares it with what :mod:`crmlib.synth`
plants: acquisition cost, the suppliers' return rates, the customer wallet,
each campaign's uplift over its holdout, and the future year's margin.
Tolerances are four standard errors or a stated band.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crmlib import synth

SEED = 20261122
N = 5000


@pytest.fixture(scope="module")
def company():
    return synth.generate(N, seed=SEED)


@pytest.fixture(scope="module")
def persons(company):
    return company.truth.persons.set_index(synth.PERSON_ID)


@pytest.fixture(scope="module")
def person_of(company):
    return company.truth.records.set_index("customer_id")[synth.PERSON_ID]


def test_new_columns_are_written(company):
    t = company.tables
    assert t["customers"]["household_size"].between(1, 6).all()
    assert set(t["products"]["supplier"]) == set(synth.SUPPLIERS)
    assert set(t["campaigns"]["objective"]) == {"acquisition", "retention", "development"}


# --- acquisition cost --------------------------------------------------------------------


def test_blended_acquisition_cost_is_realistic_and_as_planted(company, persons):
    t = company.tables
    camps = t["campaigns"]
    spend = camps.loc[camps["objective"] == "acquisition", "cost"].sum()
    buyers = (
        t["transactions"]["customer_id"]
        .map(company.truth.records.set_index("customer_id")[synth.PERSON_ID])
        .nunique()
    )
    assert buyers == N
    cac = spend / buyers
    assert 15 <= cac <= 40  # GBP per new customer, blended over paid and organic sources
    # a client who does not link records counts more "new customers", still in the band
    assert 15 <= spend / t["transactions"]["customer_id"].nunique() <= 40
    # the planted rule: each source's new persons times its cost per new customer
    source = persons[synth.ACQUISITION_SOURCE]
    planted = source.map(synth.ACQUISITION_COST).sum()
    assert spend == pytest.approx(planted)
    # and the written customers table carries that source on the primary record
    cust = t["customers"].set_index("customer_id")
    primary = persons["customer_id"]
    assert (cust.loc[primary, "acquisition_channel"].to_numpy() == source.to_numpy()).all()


def test_each_acquisition_campaign_pays_for_its_quarters_new_customers(company, person_of):
    t = company.tables
    cust = t["customers"].set_index("customer_id")
    first = t["transactions"].groupby("customer_id")["order_date"].min()
    prim = company.truth.records.query("is_primary").set_index(synth.PERSON_ID)["customer_id"]
    first_person = first.groupby(person_of).min()
    source = cust.loc[prim.reindex(first_person.index), "acquisition_channel"].to_numpy()
    camps = t["campaigns"][t["campaigns"]["objective"] == "acquisition"]
    assert len(camps) == 8 * len(synth.ACQUISITION_PROGRAMMES)
    sources_of = {name: src for name, _, src in synth.ACQUISITION_PROGRAMMES}
    for _, camp in camps.iterrows():
        programme = camp["name"].rsplit(" ", 2)[0]
        inside = first_person.between(camp["start_date"], camp["end_date"]).to_numpy()
        paid = sum(
            synth.ACQUISITION_COST[src] * int(np.sum(inside & (source == src)))
            for src in sources_of[programme]
        )
        assert camp["cost"] == pytest.approx(paid), camp["name"]


def test_a_new_customer_is_worth_about_its_acquisition_cost(company, persons):
    """First-order margin after picking and delivery ~10-20 GBP; the next 12 months' margin
    (the planted future) of the customers acquired in the last half year of the same order as
    the blended CAC: between half and four times it (1.5-2.2 times over eight seeds)."""
    t = company.tables
    camps = t["campaigns"]
    cac = camps.loc[camps["objective"] == "acquisition", "cost"].sum() / N
    tx = t["transactions"]
    buys = tx[tx["revenue"] > 0]
    orders = buys.groupby("order_id").agg(
        customer_id=("customer_id", "first"),
        date=("order_date", "first"),
        channel=("channel", "first"),
        margin=("revenue", "sum"),
        cost=("cost", "sum"),
    )
    first = orders.sort_values("date", kind="stable").drop_duplicates("customer_id")
    rates = t["cost_rates"].set_index(["activity", "channel"])["unit_cost"]
    to_serve = first["channel"].map(
        lambda c: rates.get(("order", c), 0.0) + rates.get(("delivery", c), 0.0)
    )
    margin = (first["margin"] - first["cost"] - to_serve).mean()
    assert 10 <= margin <= 20
    recent = persons[persons[synth.ACQUISITION_DATE] > company.as_of - pd.Timedelta(days=182)]
    value = recent[synth.FUTURE_MARGIN].mean()
    assert 0.5 * cac < value < 4 * cac


# --- suppliers ---------------------------------------------------------------------------


def test_the_planted_supplier_has_the_highest_return_rate(company):
    t = company.tables
    lines = t["transactions"].merge(t["products"][["product_id", "supplier"]], on="product_id")
    rate = (lines["revenue"] < 0).groupby(lines["supplier"]).sum() / (lines["revenue"] > 0).groupby(
        lines["supplier"]
    ).sum()
    planted = company.truth.suppliers.set_index("supplier")[synth.RETURN_FACTOR].idxmax()
    assert planted == "Keystone Imports"
    assert rate.idxmax() == planted
    assert rate[planted] > 1.8 * rate.drop(planted).max()
    # Keystone supplies every category: not a category effect
    cats = t["products"].loc[t["products"]["supplier"] == planted, "category"]
    assert cats.nunique() == 8


# --- wallet -------------------------------------------------------------------------------


def test_household_size_and_city_drive_the_wallet(company, persons):
    cust = company.tables["customers"].set_index("customer_id")
    hh = cust.loc[persons["customer_id"], "household_size"].to_numpy()
    wallet = persons[synth.WALLET].to_numpy()
    rho = stats.spearmanr(hh, wallet).statistic
    assert rho > 0.3
    by_size = pd.Series(wallet).groupby(hh).median()
    assert by_size.is_monotonic_increasing
    london = (persons["city"] == "London").to_numpy()
    assert np.median(wallet[london]) > 1.1 * np.median(wallet[~london])
    share = persons[synth.SHARE_OF_WALLET]
    assert share.between(0, 1, inclusive="neither").all()
    # Beta(r, share_b): mean r / (r + share_b)
    prm, wm = company.truth.bgnbd_params, company.truth.wallet_model
    mean = prm["r"] / (prm["r"] + wm["share_b"])
    assert abs(share.mean() - mean) < 4 * share.std() / np.sqrt(N)


def test_spend_while_alive_is_share_times_wallet(company, persons, person_of):
    """Natural orders' revenue = their count x the person's expected order value
    (expected_spend / (52.18 lam)), summed over persons, within 4 %."""
    tx = company.tables["transactions"]
    campaign = set(company.truth.campaign_orders["order_id"])
    natural = tx[~tx["order_id"].isin(campaign)]
    person = natural["customer_id"].map(person_of)
    revenue = natural.groupby(person)["revenue"].sum().reindex(persons.index, fill_value=0.0)
    orders = (
        natural[natural["revenue"] > 0]
        .groupby(person.loc[natural["revenue"] > 0])["order_id"]
        .nunique()
    )
    value = persons[synth.EXPECTED_SPEND] / (synth.WEEKS_PER_YEAR * persons[synth.LAM])
    expected = (orders.reindex(persons.index, fill_value=0) * value).sum()
    assert revenue.sum() == pytest.approx(expected, rel=0.04)
    assert (persons[synth.EXPECTED_SPEND] < persons[synth.WALLET]).all()


def test_growable_customers_follow_the_stated_rule(persons):
    alive = persons[persons[synth.ALIVE_AT_END]]
    k = round(synth.GROWABLE_SHARE * len(alive))
    top = alive[synth.WALLET] * (1 - alive[synth.SHARE_OF_WALLET])
    expected = set(top.sort_values(ascending=False, kind="stable").index[:k])
    assert set(persons.index[persons[synth.GROWABLE]]) == expected
    assert not persons.loc[~persons[synth.ALIVE_AT_END], synth.GROWABLE].any()
    # growable customers have room: their unrealised wallet dwarfs what they spend
    grow = persons[persons[synth.GROWABLE]]
    assert grow[synth.UNREALISED_WALLET].median() > 2 * grow[synth.EXPECTED_SPEND].median()


# --- campaign uplift -------------------------------------------------------------------


def test_holdout_comparison_recovers_each_campaigns_planted_uplift(company, person_of):
    t = company.tables
    inter = t["interactions"].dropna(subset=["campaign_id"])
    camps = t["campaigns"].set_index("campaign_id")
    truth = company.truth.campaign_lift.set_index("campaign_id")
    assert truth[synth.PLANTED_UPLIFT].nunique() >= 6  # a different plant per campaign
    buys = t["transactions"][t["transactions"]["revenue"] > 0]
    buys = buys.assign(person_id=buys["customer_id"].map(person_of))
    for cid, row in truth.iterrows():
        camp = camps.loc[cid]
        arm = inter[inter["campaign_id"] == cid]
        window = buys[buys["order_date"].between(camp["start_date"], camp["end_date"])]
        contacted = arm[arm["kind"] == "campaign_contact"]
        held = arm[arm["kind"] == "campaign_holdout"]
        assert (held["outcome"] == "not_contacted").all()
        r1 = (contacted["outcome"] == "responded").mean()
        r0 = held["customer_id"].map(person_of).isin(set(window["person_id"])).mean()
        se = np.sqrt(r1 * (1 - r1) / len(contacted) + max(r0 * (1 - r0), 0.01) / len(held))
        assert abs((r1 - r0) - row[synth.PLANTED_UPLIFT]) < 4 * se, cid
        assert row["lift"] == pytest.approx(row[synth.PLANTED_UPLIFT], abs=1e-9)
        assert 0.01 < row[synth.BASE_RATE] < 0.15, cid


def test_pooled_uplift_is_the_planted_one(company, person_of):
    """Over all campaigns the measured uplift is within 4 standard errors of the planted one."""
    t = company.tables
    inter = t["interactions"].dropna(subset=["campaign_id"])
    truth = company.truth.campaign_lift.set_index("campaign_id")
    camps = t["campaigns"].set_index("campaign_id")
    buys = t["transactions"][t["transactions"]["revenue"] > 0]
    bought = set()
    for cid in truth.index:
        c = camps.loc[cid]
        w = buys[buys["order_date"].between(c["start_date"], c["end_date"])]
        bought |= {(cid, p) for p in w["customer_id"].map(person_of)}
    inter = inter.assign(
        bought=[
            (c, p) in bought
            for c, p in zip(inter["campaign_id"], inter["customer_id"].map(person_of), strict=True)
        ]
    )
    rate = inter.groupby(["campaign_id", "kind"])["bought"].mean().unstack()
    size = inter.groupby(["campaign_id", "kind"]).size().unstack()
    diff = rate["campaign_contact"] - rate["campaign_holdout"]
    var = (rate * (1 - rate) / size).sum(axis=1)
    planted = truth[synth.PLANTED_UPLIFT].reindex(diff.index)
    z = ((diff - planted) / np.sqrt(var)).sum() / np.sqrt(len(diff))
    assert abs(z) < 4


# --- the future year --------------------------------------------------------------------------


def test_future_margin_follows_the_bgnbd_process(company, persons):
    """Future revenue of the persons alive at the end = their expected order value x the
    expected number of purchases in 52.14 weeks when each repeat purchase is followed by
    dropout with probability p: sum_k P(Poisson(52.14 lam) >= k) (1 - p)^(k - 1)."""
    days = company.truth.future["days"]
    alive = persons[persons[synth.ALIVE_AT_END]]
    mu = alive[synth.LAM].to_numpy() * days / 7.0
    k = np.arange(1, 400)[:, None]
    survive = (1 - alive[synth.P_DROPOUT].to_numpy()) ** (k - 1)
    count = (stats.poisson.sf(k - 1, mu) * survive).sum(axis=0)
    value = alive[synth.EXPECTED_SPEND] / (synth.WEEKS_PER_YEAR * alive[synth.LAM])
    expected = (count * value).sum()
    assert alive[synth.FUTURE_REVENUE].sum() == pytest.approx(expected, rel=0.08)
    # the dead buy nothing more (a return of an order in the window, at most)
    dead = persons[~persons[synth.ALIVE_AT_END]]
    assert (dead[synth.FUTURE_REVENUE] <= 0).all()
    total = company.truth.future
    assert total["margin"] == pytest.approx(persons[synth.FUTURE_MARGIN].sum())
    assert total["margin"] == pytest.approx(
        total["revenue"] - total["product_cost"] - total["cost_to_serve"]
    )
    assert persons[synth.FUTURE_MARGIN].sum() > 0
    assert (persons[synth.FUTURE_MARGIN] < 0).any()  # cost-to-serve makes some negative


def test_future_is_kept_out_of_the_tables(company):
    t = company.tables
    assert t["transactions"]["order_date"].max() <= company.as_of
    assert t["tickets"]["opened_at"].max() <= company.as_of + pd.Timedelta(days=1)
    assert t["interactions"]["timestamp"].max() < company.as_of + pd.Timedelta(days=1)
