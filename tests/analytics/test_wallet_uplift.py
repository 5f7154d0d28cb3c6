"""Wallet (high-quantile regression), growth potential, campaign uplift and offer value.

Planted truths built here: a conditional 90th percentile known in closed form, a
planted difference of response rates, hand-computed offer values.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crmlib.analytics import uplift, wallet
from crmlib.analytics.experience import GROUP
from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

SEED = 20261207  # the one seed of this file's random draws


def test_estimate_wallet_recovers_a_planted_conditional_90th_percentile():
    rng = np.random.default_rng(SEED)
    n = 4000
    x = rng.uniform(0, 4, n)
    sd = 1.0 + x  # the spread grows with x, so the 90th percentile is not the mean + a constant
    spend = 10 + 5 * x + sd * rng.normal(size=n)
    features = pd.DataFrame({"x": x}, index=[f"c{i}" for i in range(n)])
    got = wallet.estimate_wallet(features, pd.Series(spend, index=features.index), quantile=0.9)
    z90 = stats.norm.ppf(0.9)  # 1.2816
    truth = 10 + 5 * x + z90 * sd
    assert np.abs(got.to_numpy() - truth).max() < 0.6  # within 0.6 of values from 11 to 37
    share_below = float((spend <= got.to_numpy()).mean())
    assert share_below == pytest.approx(0.9, abs=0.02)


def test_growth_potential_by_hand():
    idx = ["a", "b", "c"]
    out = wallet.growth_potential(
        wallet=pd.Series([1200.0, 100.0, 600.0], index=idx),  # a year's wallet
        expected_spend=pd.Series([200.0, 300.0, 100.0], index=idx),
        p_alive=pd.Series([0.8, 0.9, 0.2], index=idx),
        margin_share=0.5,
        threshold=0.5,
        horizon_months=12,
        annual_discount_rate=0.0,
    )
    assert out[wallet.GAP].tolist() == [1000.0, 0.0, 500.0]
    assert out[wallet.EXPECTED_GAP].tolist() == pytest.approx([400.0, 0.0, 50.0])
    assert out[wallet.ELIGIBLE].tolist() == [True, True, False]
    # six months: half a year's wallet; a 12.68 % annual rate is 1 % a month
    half = wallet.growth_potential(
        pd.Series([1200.0]), pd.Series([0.0]), pd.Series([1.0]), 1.0, horizon_months=6,
        annual_discount_rate=1.01**12 - 1,
    )
    by_hand = 600.0 * np.mean([1.01**-m for m in range(1, 7)])
    assert half[wallet.EXPECTED_GAP].iloc[0] == pytest.approx(by_hand)


def test_wallet_features_use_only_the_columns_the_client_has():
    summary = pd.DataFrame(
        {s.T: [52.0, 104.0, 26.0], s.REVENUE: [10.0, 20.0, 5.0]}, index=["1", "2", "3"]
    )

    class Data:
        tables = {
            "transactions": pd.DataFrame(
                {s.CUSTOMER_ID: ["1", "1", "2"], s.PRODUCT_ID: ["p", "q", "p"], s.REVENUE: [5.0, 5.0, 20.0]}
            ),
            "products": pd.DataFrame({s.PRODUCT_ID: ["p", "q"], s.CATEGORY: ["A", "B"]}),
            "customers": pd.DataFrame({s.CUSTOMER_ID: ["1", "2", "3"], s.CITY: ["X", "Y", "X"]}),
        }

    f = wallet.wallet_features(Data(), summary)
    assert f[wallet.TENURE_YEARS].tolist() == pytest.approx([52 * 7 / 365, 104 * 7 / 365, 26 * 7 / 365])
    assert "categories_bought" not in f  # grows with purchases: a proxy of the target
    assert s.HOUSEHOLD_SIZE not in f and s.REVENUE not in f
    assert f.filter(like="city").sum(axis=1).tolist() == [0.0, 1.0, 0.0]  # X is the left-out level
    Data.tables["customers"][s.HOUSEHOLD_SIZE] = [2, None, 4]
    f = wallet.wallet_features(Data(), summary)
    assert f[s.HOUSEHOLD_SIZE].tolist() == [2.0, 3.0, 4.0]
    assert f[wallet.HOUSEHOLD_MISSING].tolist() == [0.0, 1.0, 0.0]


def _groups(n_t, x_t, n_c, x_c, campaign="K1"):
    treated = [True] * x_t + [False] * (n_t - x_t)
    control = [True] * x_c + [False] * (n_c - x_c)
    return pd.DataFrame(
        {
            s.CAMPAIGN_ID: campaign,
            s.CUSTOMER_ID: [f"c{i}" for i in range(n_t + n_c)],
            GROUP: [uplift.TREATED] * n_t + [uplift.CONTROL] * n_c,
            uplift.CONTROL_KIND: uplift.HOLDOUT,
            uplift.RESPONDED: treated + control,
        }
    )


def test_campaign_uplift_recovers_a_planted_difference():
    rng = np.random.default_rng(SEED)
    n = 20_000
    planted = {"K1": (0.15, 0.10), "K2": (0.08, 0.08)}  # uplift 0.05 and 0
    parts = [
        _groups(n, int(rng.binomial(n, pt)), n, int(rng.binomial(n, pc)), k)
        for k, (pt, pc) in planted.items()
    ]
    table = uplift.campaign_uplift(pd.concat(parts, ignore_index=True))
    assert table.loc["K1", uplift.LIFT] == pytest.approx(0.05, abs=0.01)
    assert table.loc["K2", uplift.LIFT] == pytest.approx(0.0, abs=0.01)
    assert table.loc["K1", "ci_low"] > 0 and table.loc["K2", "ci_low"] < 0 < table.loc["K2", "ci_high"]


def test_campaign_uplift_by_hand():
    table = uplift.campaign_uplift(_groups(10, 3, 20, 2))
    assert table.loc["K1", uplift.LIFT] == pytest.approx(0.3 - 0.1)
    assert table.loc["K1", uplift.INCREMENTAL] == pytest.approx(2.0)


def test_offer_value_by_hand():
    assert uplift.offer_value(0.5, 0.1, 40.0, 0.5) == pytest.approx(1.5)
    assert uplift.offer_value(0.0, 0.1, 40.0, 0.5) == pytest.approx(-0.5)  # a dead customer only costs
    got = uplift.offer_value(pd.Series([1.0, 0.25], index=["a", "b"]), 0.2, 10.0, 1.0)
    assert got.tolist() == pytest.approx([1.0, -0.5]) and got.index.tolist() == ["a", "b"]
    with pytest.raises(CRMError):
        uplift.offer_value(1.5, 0.1, 10.0, 0.0)


def test_pooled_uplift_adds_the_holdout_campaigns_counts_only():
    table = uplift.campaign_uplift(
        pd.concat(
            [
                _groups(10, 3, 20, 2, "K1"),  # 3/10 vs 2/20
                _groups(30, 6, 20, 2, "K2"),  # 6/30 vs 2/20
                _groups(50, 50, 50, 0, "K3").assign(**{uplift.CONTROL_KIND: uplift.NOT_CONTACTED}),
            ],
            ignore_index=True,
        )
    )
    lift, low, high = uplift.pooled_uplift(table)
    assert lift == pytest.approx(9 / 40 - 4 / 40)  # K3's biased control is left out
    assert low < lift < high
    assert uplift.pooled_uplift(table.iloc[2:]) is None


def test_holdout_counts_in_sql_by_hand():
    """Two campaigns with a holdout and one without, counted by hand on DuckDB.

    K1 has dates in the campaigns table (1-10 March); K2 has none: its window is 28 days
    from its first contact (5 March), to 1 April inclusive. K3 kept no holdout: it is left out.
    """
    from crmlib.engines import Engine

    contact, holdout = s.KIND_CAMPAIGN_CONTACT, s.KIND_CAMPAIGN_HOLDOUT
    rows = [  # (campaign, customer, kind, day)
        ("K1", "a", contact, "2024-03-01"), ("K1", "b", contact, "2024-03-01"),
        ("K1", "c", contact, "2024-03-02"), ("K1", "d", holdout, "2024-03-01"),
        ("K1", "e", holdout, "2024-03-01"), ("K1", "a", holdout, "2024-03-01"),  # a: treated
        ("K2", "a", contact, "2024-03-05"), ("K2", "f", holdout, "2024-03-06"),
        ("K3", "b", contact, "2024-03-01"),
    ]
    interactions = pd.DataFrame(rows, columns=[s.CAMPAIGN_ID, s.CUSTOMER_ID, s.KIND, s.TIMESTAMP])
    interactions[s.TIMESTAMP] = pd.to_datetime(interactions[s.TIMESTAMP])
    campaigns = pd.DataFrame(
        {s.CAMPAIGN_ID: ["K1", "K2", "K3"], s.START_DATE: pd.to_datetime(["2024-03-01", None, None]),
         s.END_DATE: pd.to_datetime(["2024-03-10", None, None])}
    )
    purchases = [  # (customer, day, revenue)
        ("a", "2024-03-10", 5.0),  # K1's last day: a response to K1; in K2's window too
        ("b", "2024-03-11", 5.0),  # a day after K1's window
        ("c", "2024-03-05", -5.0),  # a return is no response
        ("d", "2024-03-03", 5.0),  # a holdout customer who bought anyway
        ("f", "2024-04-01", 5.0),  # K2's window ends on 1 April (day 28): a response
        ("e", "2024-02-01", 5.0),  # before the window
    ]
    tx = pd.DataFrame(purchases, columns=[s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE])
    tx[s.ORDER_DATE] = pd.to_datetime(tx[s.ORDER_DATE])
    tables = {"transactions": tx, "interactions": interactions, "campaigns": campaigns}
    with Engine("duckdb", tables) as eng:
        got = eng.sql(uplift.holdout_counts_query(eng)).set_index(s.CAMPAIGN_ID)
    assert got.index.tolist() == ["K1", "K2"]
    assert got.loc["K1", [uplift.N_TREATED, uplift.RESPONDERS_TREATED]].tolist() == [3, 1]
    assert got.loc["K1", [uplift.N_CONTROL, uplift.RESPONDERS_CONTROL]].tolist() == [2, 1]
    assert got.loc["K2"].drop(uplift.CONTROL_KIND).tolist() == [1, 1, 1, 1]
    # the same counts as campaign_uplift's, and so the same effect
    groups = uplift.campaign_groups(tx, interactions, campaigns)
    table = uplift.campaign_uplift(groups)
    held = table[table[uplift.CONTROL_KIND] == uplift.HOLDOUT]
    pd.testing.assert_frame_equal(
        got[held.columns.intersection(got.columns)], held[held.columns.intersection(got.columns)],
        check_dtype=False,
    )
    assert uplift.effect_of(got) == uplift.action_effect(tx, interactions, campaigns)
    assert uplift.effect_of(got.iloc[:0]).source == uplift.ASSUMED
    # no campaign column: nothing to count
    with Engine("duckdb", {"transactions": tx}) as eng:
        assert uplift.holdout_counts_query(eng) is None
    # the row checks cover every interaction, an arm's or not, in the same scan
    bad = pd.concat(
        [interactions, pd.DataFrame(
            [("K1", "", contact, "2024-03-01"), (None, None, "email", "2024-03-02")],
            columns=interactions.columns,
        ).astype({s.TIMESTAMP: "datetime64[ns]"})],
        ignore_index=True,
    )
    with Engine("duckdb", {**tables, "interactions": bad}) as eng:
        with pytest.raises(DataError, match=r"column customer_id: 2 row\(s\)"):
            uplift.holdout_counts_query(eng)
