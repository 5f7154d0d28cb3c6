"""Value at stake on one basis, merged recommendations, and acquisition spend."""

import json

import numpy as np
import pandas as pd
import pytest

from crmlib import results
from crmlib.analytics import acquisition, stakes
from crmlib.data import schema as s
from crmlib.errors import CRMError


def test_stakes_by_hand():
    clv = pd.Series([100.0, -20.0, 0.0, 50.0], index=["a", "b", "c", "d"])
    assert stakes.cost_stake(clv).to_dict() == {"b": 20.0}
    alive = pd.Series([0.5, 0.9, 0.995, 1.0], index=clv.index)
    point = stakes.retention_stake(clv, alive, 0.01)
    # a: 0.01 x 100 / 0.5; b: negative CLV, nothing; d: already surely alive, nothing
    assert point.to_dict() == pytest.approx({"a": 2.0, "b": 0.0, "c": 0.0, "d": 0.0})
    # a larger effect, on some customers: a 0.04 x 100 / 0.5; c at most 1 - 0.995
    kept = stakes.retention_stake(clv, alive, 0.04, ["a", "c"])
    assert kept.to_dict() == pytest.approx({"a": 8.0, "c": 0.0})
    assert stakes.growth_stake(pd.Series({"a": 50.0, "b": -1.0}), 0.04).to_dict() == {
        "a": 2.0,
        "b": 0.0,
    }
    with pytest.raises(CRMError):
        stakes.retention_stake(clv, alive, 1.0)


def test_recommendation_sums_its_customers_and_checks_the_kind():
    rec = stakes.recommendation(
        "Keep them", "retention", pd.Series({"a": 10.4, "b": 0.0, "c": 5.0})
    )
    assert rec["value_at_stake"] == 15.0 and rec["customers"] == 2 and rec["horizon_months"] == 12
    with pytest.raises(CRMError):
        stakes.recommendation("x", "equity", pd.Series({"a": 1.0}))
    with pytest.raises(CRMError):
        stakes.recommendation("x", "cost", pd.Series({"a": -1.0}))


def test_overlapping_recommendations_are_merged_and_each_customer_counted_once(
    tmp_path, monkeypatch
):
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    mvc = stakes.recommendation(
        "Protect MVC; value = their margin",
        "retention",
        pd.Series({"a": 100.0, "b": 60.0}),
        evidence="01",
    )
    top = stakes.recommendation(
        "Protect top 20 %: value = the margin kept",
        "retention",
        pd.Series({"b": 60.0, "c": 40.0}),
        evidence="03",
    )
    grow = stakes.recommendation("Grow MGC", "growth", pd.Series({"a": 7.0, "d": 3.0}))
    loss = stakes.recommendation("Re-serve", "cost", pd.Series({"e": 9.0}))
    results.record("idic", {"recommendations": [mvc, grow]})
    results.record(
        "value_chain", {"recommendations": [top, loss, {"text": "t", "value_at_stake": None}]}
    )
    stored = json.loads((tmp_path / "idic.results.json").read_text())
    assert "per_customer" not in stored["recommendations"][0]  # customer values stay out of JSON
    side = pd.read_csv(tmp_path / "idic.stakes.csv")
    assert set(side.columns) == {"recommendation_id", "customer_id", "value"}

    ranked = results.recommendations(results.load(tmp_path))
    assert len(ranked) == 4  # the two protect actions are one row
    merged = ranked.iloc[0]
    assert merged["value_at_stake"] == 200.0  # a 100 + b 60 once + c 40, not 260
    assert merged["customers"] == 3 and merged["merged"] == 2
    assert (
        "Protect MVC" in merged["recommendation"] and "Protect top 20 %" in merged["recommendation"]
    )
    assert "their margin" not in merged["recommendation"]  # each action, without its own value
    assert "the margin kept" not in merged["recommendation"]
    assert ranked["value_at_stake"].tolist()[1:3] == [10.0, 9.0]  # growth and cost: other kinds
    assert pd.isna(ranked["value_at_stake"].iloc[3])


def _tx(first_days):
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: [str(i) for i in range(len(first_days))],
            s.ORDER_DATE: pd.to_datetime(first_days),
            s.REVENUE: 10.0,
            s.COST: 4.0,
        }
    )


def test_acquisition_spend_counts_acquisition_campaigns_only_and_says_when_it_cannot():
    tx = _tx(["2023-01-15", "2024-02-10", "2024-05-03", "2024-11-20", "2024-12-31"])
    campaigns = pd.DataFrame(
        {
            s.CAMPAIGN_ID: ["A", "R"],
            s.COST: [400.0, 999.0],
            s.START_DATE: pd.to_datetime(["2024-01-05", "2024-03-01"]),
            s.END_DATE: pd.to_datetime(["2024-12-31", "2024-03-31"]),
            s.OBJECTIVE: ["acquisition", "retention"],
        }
    )
    got = acquisition.acquisition_spend(tx, campaigns, months=12)
    assert got.reason is None and got.new_customers == 4 and got.cost_per_new_customer == 100.0
    no_objective = acquisition.acquisition_spend(tx, campaigns.drop(columns=s.OBJECTIVE))
    assert no_objective.cost_per_new_customer is None and "objective" in no_objective.reason
    short = campaigns.assign(**{s.END_DATE: pd.to_datetime(["2024-06-30", "2024-03-31"])})
    partial = acquisition.acquisition_spend(tx, short, months=12)
    assert partial.cost_per_new_customer is None and "6 of the 12 months" in partial.reason


def test_first_order_margin_is_the_mean_margin_of_first_purchase_days():
    tx = pd.concat([_tx(["2024-01-01", "2024-01-02"]), _tx(["2024-03-01"])], ignore_index=True)
    tx.loc[2, s.REVENUE] = 100.0  # customer 0's second purchase: not a first order
    assert acquisition.first_order_margin(tx) == pytest.approx(6.0)
    assert acquisition.first_order_margin(tx, cost_per_order=1.5) == pytest.approx(4.5)
    assert np.isfinite(acquisition.first_order_margin(tx.drop(columns=s.COST)))
