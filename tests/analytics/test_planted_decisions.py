"""The decision numbers against the truths the synthetic company plants (issue 15).

One company of 3,000 persons (seed 2, no duplicate records, so a customer id is a
person) is written to a folder and loaded the way a client's folder is; the
numbers the lessons compute are then compared with what the generator planted
(:class:`crmlib.synth.SynthTruth`):

- the 12-month CLV after cost-to-serve with the future year the generator
  simulated and kept out of the tables (``future_margin_12m``);
- the most growable customers (MGC) with the planted ``growable`` persons
  (alive at the end, largest unrealised wallet);
- the campaign uplift the offers use with each campaign's planted uplift;
- below-zero customers with the persons whose planted future margin is negative.

Measured over seeds 1-5 when these tests were written: CLV / planted margin
0.94-1.21; MGC precision 0.18-0.22 against a base rate of 0.10-0.11 of the
planted growable among the customers MGC are chosen from, recall 0.51-0.59
(a random pick of as many: 0.28); the pooled uplift's 95 % interval held the planted pooled uplift
in every seed; offers 0.1-0.9 % of the base's CLV.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib import synth
from crmlib.analytics import clv, profitability, uplift, wallet
from crmlib.analytics.summary import customer_summary
from crmlib.data import schema as s
from crmlib.data.io import load_folder
from crmlib.models import idic
from crmlib.synth.writers import write_folder


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    made = synth.generate(n_customers=3000, seed=2, duplicate_rate=0.0)
    folder = tmp_path_factory.mktemp("planted")
    write_folder(made, folder)
    data = load_folder(folder)
    summary = customer_summary(data.tables["transactions"], as_of=data.as_of, time_unit="W")
    serve = clv.cost_per_order(profitability.customer_profitability(data))
    pipeline = clv.CLVPipeline(12, 0.10, time_unit="W").fit(summary, cost_per_order=serve)
    truth = made.truth.persons.set_index(s.CUSTOMER_ID)
    return made, data, summary, serve, pipeline, truth


def test_clv_after_cost_to_serve_tracks_the_planted_future_margin(company):
    _, _, summary, serve, _, truth = company
    undiscounted = clv.CLVPipeline(12, 0.0, time_unit="W").fit(summary, cost_per_order=serve)
    value = undiscounted.clv(summary)
    planted = truth[synth.FUTURE_MARGIN].reindex(value.index)
    assert planted.notna().all()
    # the total within 25 % (1.11 here; 0.94-1.21 over five seeds)
    assert value.sum() / planted.sum() == pytest.approx(1.0, abs=0.25)
    # and customer by customer, the model ranks who will bring margin
    assert np.corrcoef(value, planted)[0, 1] > 0.5
    # after cost-to-serve a customer's CLV can be negative, as the planted margin can
    assert (value < 0).any() and (planted < 0).any()


def test_below_zero_customers_are_mostly_planted_future_loss_makers(company):
    _, data, summary, _, pipeline, truth = company
    value = pipeline.clv(summary)
    growth = wallet.customer_growth_potential(data, summary, pipeline)
    portfolio = idic.value_needs_portfolio(value, growth)
    bz = portfolio.index[portfolio[idic.VALUE_CLASS] == idic.BZ]
    losing = truth[synth.FUTURE_MARGIN].reindex(value.index) < 0
    assert len(bz) > 50
    assert losing[bz].mean() > 2.5 * losing.mean()  # 0.45 against 0.14 here


def _segment_constant_rule(value: pd.Series, segment: pd.Series) -> set:
    """The rule MGC replaced: potential = the segment's 90th percentile of CLV, gap = potential - CLV."""
    potential = value.groupby(segment).transform(lambda v: v.quantile(0.9))
    gap = (potential - value).clip(lower=0)
    mvc = value.rank(ascending=False, method="first") <= round(0.2 * len(value))
    rest = gap[~mvc & (value >= 0)]
    return set(rest.sort_values(ascending=False).index[: round(0.2 * len(value))])


def test_most_growable_customers_recover_the_planted_growable(company):
    _, data, summary, _, pipeline, truth = company
    value = pipeline.clv(summary)
    growth = wallet.customer_growth_potential(data, summary, pipeline)
    portfolio = idic.value_needs_portfolio(value, growth)
    classes = portfolio[idic.VALUE_CLASS]
    mgc = set(classes.index[classes == idic.MGC])
    # MGC are chosen among the customers who are neither most valuable nor below zero
    # (Peppers & Rogers); the planted growable persons may be either, so the list is
    # judged within that pool
    pool = set(classes.index[~classes.isin([idic.MVC, idic.BZ])])
    growable = set(truth.index[truth[synth.GROWABLE]]) & pool
    base_rate = len(growable) / len(pool)
    precision = len(mgc & growable) / len(mgc)
    recall = len(mgc & growable) / len(growable)
    chance_recall = len(mgc) / len(pool)
    # stated (seed 2): precision 0.20 against a base rate of 0.11; recall 0.51 where a
    # random pick of as many customers would find 0.28
    assert precision > 1.6 * base_rate
    assert recall > 1.6 * chance_recall
    # better than the rule it replaced (the segment's 90th percentile of CLV minus CLV: 0.17)
    segment = truth[synth.NEEDS_SEGMENT].reindex(value.index)
    old = _segment_constant_rule(value, segment)
    assert len(old & growable) / len(old) < precision
    # only customers likely to be alive are counted
    assert growth.loc[list(mgc), wallet.P_ALIVE].min() >= 0.5


def test_the_offers_uplift_recovers_the_planted_uplift(company):
    made, data, _, _, _, _ = company
    tx, interactions = data.tables["transactions"], data.tables["interactions"]
    table = uplift.campaign_uplift(
        uplift.campaign_groups(tx, interactions, data.table("campaigns"))
    )
    planted = made.truth.campaign_lift.set_index("campaign_id")
    assert set(table.index) == set(planted.index)
    weights = table["n_treated"]
    planted_pooled = float((planted.loc[table.index, "lift"] * weights).sum() / weights.sum())
    # the one effect offers and recommendations use
    effect = uplift.action_effect(tx, interactions, data.table("campaigns"))
    assert effect.source == uplift.MEASURED
    assert effect.low <= planted_pooled <= effect.high
    assert effect.uplift == pytest.approx(planted_pooled, abs=0.02)
    # a campaign planted with no effect is not measured as the best one
    assert table["lift"].idxmax() != planted["planted_uplift"].idxmin()
    # without a holdout to measure against, the effect is the stated assumption
    assumed = uplift.action_effect(tx, interactions.drop(columns=[s.CAMPAIGN_ID]))
    assert (assumed.uplift, assumed.source) == (uplift.DEFAULT_UPLIFT, uplift.ASSUMED)
    assert "assumed" in assumed.describe()


def test_offer_values_are_small_against_the_base_clv(company):
    _, data, summary, _, pipeline, _ = company
    tx = data.tables["transactions"]
    measured = uplift.action_effect(tx, data.tables["interactions"], data.table("campaigns"))
    offers = idic.next_best_offers(
        tx,
        data.tables["products"],
        None,
        p_alive=pipeline.p_active(summary),
        measured_uplift=measured.uplift,
        offer_cost=0.5,
    )
    total = offers[idic.NET_GAIN].sum()
    assert len(offers) > 0 and (offers[idic.NET_GAIN] > 0).all()
    assert total < 0.05 * pipeline.clv(summary).clip(lower=0).sum()  # 0.8 % here
