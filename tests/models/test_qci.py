"""crmlib.models.qci: each measure on a small hand-computed example, the confidence
intervals against published values, and planted truth of a synthetic company."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.stats import norm

from crmlib import synth
from crmlib.analytics import acquisition, assessment, costs, experience, intervals, orders
from crmlib.analytics.summary import customer_summary
from crmlib.data import schema as s
from crmlib.data.io import ClientData, TableReport
from crmlib.errors import CRMError, DataError
from crmlib.models import qci
from crmlib.plots import qci as qci_plots

SEED = 20240615  # the synthetic company of the planted-truth tests
D = pd.Timestamp


def tx(rows, columns=(s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE)):
    frame = pd.DataFrame(rows, columns=list(columns))
    frame[s.ORDER_DATE] = pd.to_datetime(frame[s.ORDER_DATE])
    return frame


# --- retention ---------------------------------------------------------------------

COHORT_TX = tx(
    [
        ("A", "2024-01-05", 10.0),
        ("A", "2024-02-10", 10.0),
        ("A", "2024-04-01", 10.0),
        ("B", "2024-01-20", 10.0),
        ("C", "2024-02-03", 10.0),
        ("C", "2024-03-15", 10.0),
        ("C", "2024-03-20", -10.0),  # a return: not a purchase
        ("D", "2024-02-28", 10.0),
        ("D", "2024-04-02", -10.0),  # only a return in April: D is not active then
    ]
)


def test_cohort_retention_by_hand():
    # as of mid-April, April is not over: its cells are unobserved
    m = qci.cohort_retention(COHORT_TX, as_of="2024-04-15")
    assert list(m.index) == [D("2024-01-01"), D("2024-02-01")]
    assert list(m.columns) == [0, 1, 2]
    np.testing.assert_allclose(m.loc[D("2024-01-01")], [1.0, 0.5, 0.0])  # A in Feb, nobody in Mar
    np.testing.assert_allclose(m.loc[D("2024-02-01"), [0, 1]], [1.0, 0.5])  # C in Mar
    assert np.isnan(m.loc[D("2024-02-01"), 2])  # April, not over


def test_cohort_retention_once_the_period_is_over():
    m = qci.cohort_retention(COHORT_TX, as_of="2024-04-30")
    assert list(m.columns) == [0, 1, 2, 3]
    assert m.loc[D("2024-01-01"), 3] == 0.5  # A bought in April
    assert m.loc[D("2024-02-01"), 2] == 0.0  # D only returned goods in April
    counts = qci.cohort_retention(COHORT_TX, as_of="2024-04-30", counts=True)
    assert counts.loc[D("2024-01-01")].tolist() == [2, 1, 0, 1]


def test_cohort_retention_by_quarter():
    m = qci.cohort_retention(COHORT_TX, freq="Q", as_of="2024-06-30")
    # Q1 cohort: A, B, C, D; in Q2 only A bought
    assert m.loc[D("2024-01-01")].tolist() == [1.0, 0.25]


CHURN_TX = tx(
    [
        ("A", "2024-01-01", 5.0),
        ("A", "2024-03-01", 5.0),  # 305 days before as_of: churned
        ("B", "2024-01-01", 5.0),
        ("B", "2024-12-01", 5.0),  # 30 days: active
        ("C", "2024-09-01", 5.0),  # first purchase 121 days ago: cannot be judged
        ("D", "2024-06-01", 5.0),  # 213 days: churned
        ("E", "2024-01-01", 5.0),
        ("E", "2024-07-04", 5.0),  # exactly 180 days: not more than the rule, active
    ]
)


def test_churn_by_the_inactivity_rule():
    status = qci.churn_status(CHURN_TX, inactivity_days=180, as_of="2024-12-31")
    assert status.loc["E", qci.DAYS_INACTIVE] == 180
    assert status[qci.JUDGED].to_dict() == {"A": True, "B": True, "C": False, "D": True, "E": True}
    assert status[qci.CHURNED].to_dict() == {
        "A": True,
        "B": False,
        "C": False,
        "D": True,
        "E": False,
    }
    assert qci.churn_rate(CHURN_TX, 180, as_of="2024-12-31") == 2 / 4
    # a 100-day rule judges C too (121 days) and calls C and E churned: A, C, D, E of five
    assert qci.churn_rate(CHURN_TX, 100, as_of="2024-12-31") == 4 / 5


def test_churn_rule_backtest_by_hand():
    data = tx(
        [
            ("A", "2024-01-01", 1.0),
            ("A", "2024-03-01", 1.0),
            ("A", "2024-10-10", 1.0),  # churned at the cutoff, came back
            ("B", "2024-01-01", 1.0),
            ("B", "2024-09-20", 1.0),  # active at the cutoff, silent after
            ("C", "2024-02-01", 1.0),  # churned, stays away
            ("D", "2024-09-01", 1.0),  # too young at the cutoff
            ("E", "2024-05-01", 1.0),
            ("E", "2024-09-01", 1.0),
            ("E", "2024-11-01", 1.0),  # active, buys again
            ("F", "2024-01-05", 1.0),  # churned, stays away
        ]
    )
    test = qci.churn_rule_backtest(data, inactivity_days=60, as_of="2024-12-31", horizon_days=100)
    assert test["cutoff"] == D("2024-09-22")
    assert test[qci.JUDGED] == 5
    assert test["churn_rate"] == pytest.approx(3 / 5)
    assert test["came_back"] == pytest.approx(1 / 3)
    assert test["active_silent"] == pytest.approx(1 / 2)


def test_repeat_rate_merges_same_day_purchases_and_ignores_returns():
    data = tx(
        [
            ("A", "2024-01-01", 5.0),
            ("A", "2024-02-01", 5.0),
            ("B", "2024-01-01", 5.0),
            ("B", "2024-01-01", 7.0),  # same day: one occasion
            ("C", "2024-01-01", 5.0),
            ("C", "2024-01-09", -5.0),  # a return is not a repeat purchase
        ]
    )
    assert qci.repeat_rate(data) == pytest.approx(1 / 3)
    # from a customer summary (a report at scale: every customer's per-customer table)
    assert qci.summary_repeat_rate(customer_summary(data, time_unit="W")) == pytest.approx(1 / 3)


def test_the_churn_rule_on_a_customer_summary_gives_the_planted_answers():
    # the planted answers of test_churn_by_the_inactivity_rule, from first and last purchases
    summary = customer_summary(CHURN_TX, as_of="2024-12-31", time_unit="W")
    assert qci.summary_churn_rate(summary, 180, as_of="2024-12-31") == 2 / 4
    assert qci.summary_churn_rate(summary, 100, as_of="2024-12-31") == 4 / 5
    with pytest.raises(CRMError, match="needs the as_of date"):
        qci.summary_churn_rate(summary, 180)


# --- acquisition and penetration -----------------------------------------------------

ACQ_TX = tx(
    [
        ("A", "2024-01-05", 10.0, "web"),
        ("A", "2024-02-05", 10.0, "store"),
        ("B", "2024-01-20", 10.0, "store"),
        ("C", "2024-03-03", 10.0, "web"),
        ("D", "2024-03-09", 10.0, "phone"),
    ],
    columns=(s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, s.CHANNEL),
)


def test_new_customers_by_acquisition_channel():
    customers = pd.DataFrame(
        {s.CUSTOMER_ID: ["A", "B", "C"], s.ACQUISITION_CHANNEL: ["search", "social", "search"]}
    )
    counts = acquisition.new_customers(ACQ_TX, customers, freq="M", as_of="2024-04-30")
    assert list(counts.index) == [
        D("2024-01-01"),
        D("2024-02-01"),
        D("2024-03-01"),
        D("2024-04-01"),
    ]
    assert counts["search"].tolist() == [1, 0, 1, 0]
    assert counts["social"].tolist() == [1, 0, 0, 0]
    assert counts[experience.UNKNOWN].tolist() == [0, 0, 1, 0]  # D has no customers row


def test_new_customers_by_first_order_channel_without_customers():
    counts = acquisition.new_customers(ACQ_TX, freq="M")
    assert counts.loc[D("2024-01-01")].to_dict() == {"web": 1, "store": 1, "phone": 0}
    assert counts.loc[D("2024-03-01")].to_dict() == {"web": 1, "store": 0, "phone": 1}


def test_cost_per_acquisition_by_hand():
    campaigns = pd.DataFrame(
        {
            s.CAMPAIGN_ID: ["K1", "K2"],
            s.COST: [100.0, 50.0],
            s.START_DATE: pd.to_datetime(["2024-01-15", "2024-02-01"]),
        }
    )
    table = acquisition.cost_per_acquisition(ACQ_TX, campaigns, freq="M")
    assert table.loc[D("2024-01-01"), acquisition.COST_PER_NEW_CUSTOMER] == 50.0  # 100 / A and B
    assert np.isnan(table.loc[D("2024-02-01"), acquisition.COST_PER_NEW_CUSTOMER])  # nobody new
    assert table.loc[D("2024-03-01"), acquisition.COST_PER_NEW_CUSTOMER] == 0.0  # C, D, no spend


def test_penetration_by_hand():
    products = pd.DataFrame({s.PRODUCT_ID: ["P1", "P2", "P3"], s.CATEGORY: ["a", "b", "c"]})
    data = tx(
        [
            ("A", "2024-01-01", 30.0, "P1"),
            ("A", "2024-01-02", 10.0, "P2"),
            ("A", "2024-01-03", -10.0, "P3"),  # a return: not a category bought
            ("B", "2024-01-01", 20.0, "P3"),
            ("C", "2024-01-01", 5.0, "P2"),
            ("C", "2024-01-01", 5.0, "P1"),  # a tie: the first category by name
            ("D", "2024-01-01", 9.0, "P9"),  # unknown product: left out
        ],
        columns=(s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, s.PRODUCT_ID),
    )
    per = qci.customer_categories(data, products)
    assert per[qci.N_CATEGORIES].to_dict() == {"A": 2, "B": 1, "C": 2}
    assert per[qci.TOP_CATEGORY].to_dict() == {"A": "a", "B": "c", "C": "a"}
    assert per[qci.TOP_CATEGORY_SHARE].to_dict() == {"A": 0.75, "B": 1.0, "C": 0.5}
    summary = qci.penetration(data, products)
    assert summary[qci.CATEGORIES_PER_CUSTOMER] == pytest.approx(5 / 3)
    assert summary[qci.CROSS_SELL_RATE] == pytest.approx(2 / 3)
    assert summary[qci.TOP_CATEGORY_SHARE] == pytest.approx(0.75)


# --- efficiency ------------------------------------------------------------------------


def test_cost_to_serve_by_hand():
    data = tx(
        [
            ("O1", "A", "2024-01-01", 10.0, "web"),
            ("O1", "A", "2024-01-01", 20.0, "web"),
            ("O2", "A", "2024-01-05", 30.0, "store"),
            ("O1", "A", "2024-01-09", -10.0, "web"),
        ],
        columns=(s.ORDER_ID, s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, s.CHANNEL),
    )
    tickets = pd.DataFrame({s.CUSTOMER_ID: ["A", "A"], s.CHANNEL: ["phone", "chat"]})
    interactions = pd.DataFrame(
        {s.KIND: [qci.KIND_CONTACT, qci.KIND_CONTACT, "web_visit"], s.CHANNEL: ["email"] * 3}
    )
    rates = pd.DataFrame(
        [
            ("order", "web", 2.0),
            ("order", "store", 4.0),
            ("delivery", "web", 5.0),
            ("return", "web", 3.0),
            ("ticket", "phone", 10.0),
            ("ticket", None, 1.0),  # any other ticket channel
            ("contact", "email", 0.5),
        ],
        columns=[s.ACTIVITY, s.CHANNEL, s.UNIT_COST_RATE],
    )
    table = costs.cost_by_activity(data, rates, tickets, interactions).set_index([s.ACTIVITY, s.CHANNEL])
    assert table.loc[("order", "web"), costs.EVENTS] == 1  # two lines, one order
    assert table.loc[("delivery", "store"), costs.ACTIVITY_COST] == 0.0  # no rate
    assert table.loc[("ticket", "chat"), costs.ACTIVITY_COST] == 1.0  # the any-channel rate
    assert table.loc[("contact", "email"), costs.EVENTS] == 2  # the web visit is not a contact
    # 2 + 4 + 5 + 0 + 3 + 10 + 1 + 2 x 0.5 = 26 on net revenue 10 + 20 + 30 - 10 = 50
    assert table[costs.ACTIVITY_COST].sum() == 26.0
    assert costs.cost_to_serve_ratio(data, rates, tickets, interactions) == pytest.approx(26 / 50)


# --- measuring the effect ------------------------------------------------------------------


def test_wilson_interval_matches_newcombe_1998():
    # Newcombe (1998), Statistics in Medicine 17, 857-872, table II, method 3 (score)
    for (x, n), expected in {
        (81, 263): (0.2553, 0.3662),
        (15, 148): (0.0624, 0.1605),
        (0, 20): (0.0, 0.1611),
        (1, 29): (0.0061, 0.1718),
    }.items():
        assert intervals.wilson_interval(x, n) == pytest.approx(expected, abs=5e-5)


def test_difference_intervals_match_published_values():
    # Newcombe (1998), Statistics in Medicine 17, 873-890, table II: 56/70 - 48/80
    d, lo, hi = intervals.proportion_difference_ci(56, 70, 48, 80, method="wald")
    assert (d, lo, hi) == pytest.approx((0.2, 0.0575, 0.3425), abs=5e-5)
    assert intervals.proportion_difference_ci(56, 70, 48, 80)[1:] == pytest.approx(
        (0.0524, 0.3339), abs=5e-5
    )
    assert intervals.proportion_difference_ci(9, 10, 3, 10)[1:] == pytest.approx(
        (0.1705, 0.8090), abs=5e-5
    )
    # Fagerland, Lydersen & Laake (2017), Statistical Analysis of Contingency
    # Tables, ch. 4: Perondi et al. (2004), 7/34 - 1/34
    assert intervals.proportion_difference_ci(7, 34, 1, 34, method="wald")[1:] == pytest.approx(
        (0.0292, 0.3238), abs=5e-5
    )
    assert intervals.proportion_difference_ci(7, 34, 1, 34)[1:] == pytest.approx(
        (0.0189, 0.3404), abs=5e-5
    )


def test_interval_arguments_are_checked():
    with pytest.raises(CRMError, match="successes"):
        intervals.proportion_difference_ci(5, 4, 1, 10)
    with pytest.raises(CRMError, match="level"):
        intervals.wilson_interval(1, 10, level=95)
    with pytest.raises(CRMError, match="method"):
        intervals.proportion_difference_ci(1, 10, 1, 10, method="exact")


LIFT_TX = tx(
    [
        ("t1", "2024-03-05", 10.0),
        ("t2", "2024-03-14", 10.0),  # last day of the window: a response
        ("t3", "2024-03-15", 10.0),  # the day after: not one
        ("t4", "2024-03-05", -10.0),  # a return is not a response
        ("x", "2024-02-01", 10.0),
        ("h1", "2024-03-01", 10.0),  # first day of the window
        ("c1", "2024-01-10", 10.0),
        ("c1", "2024-05-10", 10.0),
        ("n1", "2024-02-01", 10.0),
        ("n1", "2024-05-28", 10.0),
        ("n2", "2024-02-02", 10.0),
        ("n3", "2024-05-05", 10.0),  # first purchase after K2 began: not in its control group
    ]
)
LIFT_INTERACTIONS = pd.DataFrame(
    [
        *[
            ("K1", c, "2024-02-28T09:00:00", qci.KIND_CONTACT)
            for c in ("t1", "t2", "t3", "t4", "x")
        ],
        ("K1", "x", "2024-02-28", qci.KIND_HOLDOUT),  # contacted and held out: treated
        ("K1", "h1", "2024-02-28", qci.KIND_HOLDOUT),
        ("K1", "h2", "2024-02-28", qci.KIND_HOLDOUT),
        ("K2", "c1", "2024-05-01T10:00:00", qci.KIND_CONTACT),  # no holdout, not in campaigns
        (None, "n2", "2024-05-01", "web_visit"),
    ],
    columns=[s.CAMPAIGN_ID, s.CUSTOMER_ID, s.TIMESTAMP, s.KIND],
).assign(**{s.TIMESTAMP: lambda f: pd.to_datetime(f[s.TIMESTAMP], format="ISO8601")})
LIFT_CAMPAIGNS = pd.DataFrame(
    {
        s.CAMPAIGN_ID: ["K1"],
        s.NAME: ["Spring"],
        s.COST: [100.0],
        s.START_DATE: [D("2024-03-01")],
        s.END_DATE: [D("2024-03-14")],
    }
)


def test_campaign_groups_by_hand():
    r = qci.campaign_groups(LIFT_TX, LIFT_INTERACTIONS, LIFT_CAMPAIGNS)
    k1 = r[r[s.CAMPAIGN_ID] == "K1"].set_index(s.CUSTOMER_ID)
    treated = k1[k1[experience.GROUP] == qci.TREATED]
    assert sorted(treated.index) == ["t1", "t2", "t3", "t4", "x"]
    assert sorted(treated.index[treated[qci.RESPONDED]]) == ["t1", "t2"]
    control = k1[k1[experience.GROUP] == qci.CONTROL]
    assert control[qci.RESPONDED].to_dict() == {"h1": True, "h2": False}
    assert set(k1[qci.CONTROL_KIND]) == {qci.HOLDOUT}
    # K2 has no holdout and no campaigns row: 28 days from its first contact,
    # against the customers who had bought before and were not contacted
    k2 = r[r[s.CAMPAIGN_ID] == "K2"].set_index(s.CUSTOMER_ID)
    assert k2[qci.WINDOW_END].iloc[0] == D("2024-05-28")
    assert set(k2[qci.CONTROL_KIND]) == {qci.NOT_CONTACTED}
    control = k2[k2[experience.GROUP] == qci.CONTROL]
    assert sorted(control.index) == ["h1", "n1", "n2", "t1", "t2", "t3", "x"]
    assert sorted(control.index[control[qci.RESPONDED]]) == ["n1"]


def test_campaign_lift_by_hand():
    r = qci.campaign_groups(LIFT_TX, LIFT_INTERACTIONS, LIFT_CAMPAIGNS)
    lift = qci.campaign_lift(r, LIFT_CAMPAIGNS)
    k1 = lift.loc["K1"]
    assert (k1[qci.RESPONDERS_TREATED], k1[qci.N_TREATED]) == (2, 5)
    assert (k1[qci.RESPONDERS_CONTROL], k1[qci.N_CONTROL]) == (1, 2)
    assert k1[qci.LIFT] == pytest.approx(2 / 5 - 1 / 2)
    expected = intervals.proportion_difference_ci(2, 5, 1, 2)
    assert (k1[experience.CI_LOW], k1[experience.CI_HIGH]) == pytest.approx(expected[1:])
    assert k1[s.NAME] == "Spring" and np.isnan(k1[qci.COST_PER_INCREMENTAL])  # no gain, no price
    k2 = lift.loc["K2"]
    assert k2[qci.LIFT] == pytest.approx(1 - 1 / 7)
    assert np.isnan(k2[s.COST])


# --- customer experience -----------------------------------------------------------------


def test_nps_by_hand():
    scores = [10, 9, 8, 7, 6, 0, np.nan, 10]  # 3 promoters, 2 passives, 2 detractors of 7
    assert experience.nps(scores) == pytest.approx(100 / 7)
    assert experience.nps_class([9, 8, 7, 6]).tolist() == [
        experience.PROMOTERS,
        experience.PASSIVES,
        experience.PASSIVES,
        experience.DETRACTORS,
    ]
    surveys = pd.DataFrame({s.CUSTOMER_ID: list("abcdefgh"), s.NPS: scores})
    row = experience.nps_table(surveys).iloc[0]
    se = 100 * math.sqrt((5 / 7 - (1 / 7) ** 2) / 7)  # (P + D - (P - D)^2) / n
    assert row[experience.N] == 7
    assert row[experience.CI_LOW] == pytest.approx(100 / 7 - norm.ppf(0.975) * se)
    assert row[experience.CI_HIGH] == pytest.approx(100 / 7 + norm.ppf(0.975) * se)
    with pytest.raises(DataError, match="0 to 10"):
        experience.nps([11])


def test_nps_by_group_and_main_channel():
    data = tx(
        [
            ("O1", "a", "2024-01-01", 5.0, "web"),
            ("O2", "a", "2024-01-02", 5.0, "web"),
            ("O3", "a", "2024-01-03", 5.0, "store"),
            ("O4", "b", "2024-01-01", 5.0, "web"),
            ("O5", "b", "2024-01-02", 5.0, "store"),  # a tie: the first channel by name
        ],
        columns=(s.ORDER_ID, s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, s.CHANNEL),
    )
    channel = orders.main_channel(data)
    assert channel.to_dict() == {"a": "web", "b": "store"}
    surveys = pd.DataFrame({s.CUSTOMER_ID: ["a", "a", "b", "z"], s.NPS: [10, 0, 10, 10]})
    table = experience.nps_table(surveys, by=channel)
    assert table[s.NPS].to_dict() == {"web": 0.0, "store": 100.0, experience.UNKNOWN: 100.0}


def test_csat_by_touchpoint():
    tickets = pd.DataFrame(
        {s.CATEGORY: ["delivery", "delivery", "billing", "billing"], s.CSAT: [5, 4, np.nan, 2]}
    )
    table = experience.csat_table(tickets, by=s.CATEGORY)
    assert table.loc["delivery", [experience.N, experience.MEAN_CSAT, experience.SATISFIED]].tolist() == [2, 4.5, 1.0]
    assert table.loc["billing", [experience.N, "answer_rate", experience.SATISFIED]].tolist() == [1, 0.5, 0.0]


def test_nps_by_service_uses_only_tickets_before_the_survey():
    surveys = pd.DataFrame(
        {
            s.RESPONSE_ID: ["S1", "S2", "S3"],
            s.CUSTOMER_ID: ["a", "b", "c"],
            s.DATE: pd.to_datetime(["2024-06-01", "2024-06-01", "2024-06-01"]),
            s.NPS: [10, 3, 8],
        }
    )
    tickets = pd.DataFrame(
        {
            s.CUSTOMER_ID: ["a", "a", "b", "b"],
            s.OPENED_AT: pd.to_datetime(["2024-05-01", "2024-07-01", "2024-01-01", "2024-02-01"]),
            s.CSAT: [5, 1, 2, 3],  # a's 1 came after the survey; b's mean is 2.5
        }
    )
    table = experience.nps_by_service(surveys, tickets)
    assert table[s.NPS].to_dict() == {
        experience.SERVICE_GOOD: 100.0,
        experience.SERVICE_POOR: -100.0,
        experience.NO_TICKET: 0.0,
    }


def test_retention_after_an_event_by_hand():
    events = pd.DataFrame(
        {
            s.CUSTOMER_ID: ["x", "y", "z", "w"],
            s.DATE: pd.to_datetime(["2024-01-01", "2024-01-01", "2024-11-15", "2024-02-01"]),
            experience.NPS_CLASS: [experience.PROMOTERS, experience.DETRACTORS, experience.PROMOTERS, experience.DETRACTORS],
        }
    )
    data = tx(
        [
            ("x", "2024-03-01", 5.0),  # 60 days after: retained
            ("y", "2024-05-01", 5.0),  # 121 days after: not within 90
            ("z", "2024-12-01", 5.0),  # z answered too late to be judged
            ("w", "2024-02-01", 5.0),  # the same day as the answer does not count
            ("w", "2024-12-31", 5.0),
        ]
    )
    table = experience.retention_after(events, data, by=experience.NPS_CLASS, date=s.DATE, inactivity_days=90)
    assert table.loc[experience.PROMOTERS].tolist() == [1, 1.0]
    assert table.loc[experience.DETRACTORS].tolist() == [2, 0.0]


# --- user errors ----------------------------------------------------------------------------


def test_bad_input_raises_a_user_error_naming_the_column():
    with pytest.raises(DataError, match="revenue"):
        qci.cohort_retention(COHORT_TX.drop(columns=[s.REVENUE]))
    with pytest.raises(DataError, match="product_id"):
        qci.penetration(COHORT_TX, pd.DataFrame({s.PRODUCT_ID: [], s.CATEGORY: []}))
    with pytest.raises(CRMError, match="inactivity_days"):
        qci.churn_rate(CHURN_TX, inactivity_days=0)
    with pytest.raises(CRMError, match="freq"):
        qci.cohort_retention(COHORT_TX, freq="fortnight")


# --- the data beside the interview ------------------------------------------------------


def test_evidence_questions_exist_in_the_qci_bank():
    bank = assessment.load_bank("qci")
    for question, area in qci.EVIDENCE_QUESTIONS.items():
        assert bank.questions.loc[question, assessment.AREA] == area


def test_data_evidence_on_transactions_only(tmp_path):
    data = ClientData(
        {"transactions": CHURN_TX},
        pd.DataFrame(columns=list(s.REJECT_COLUMNS)),
        {"transactions": TableReport("transactions", "t.csv", 10, 8, 2)},
        as_of=D("2024-12-31"),
    )
    data.rejects = pd.DataFrame([{"table": "transactions"}] * 2, columns=list(s.REJECT_COLUMNS))
    evidence = qci.data_evidence(data, inactivity_days=180)
    assert set(evidence[qci.QUESTION]) == {"cma1", "cma3", "it2"}  # no other table, no other row
    values = evidence.set_index(qci.MEASURE)[qci.VALUE]
    assert values["repeat rate"] == pytest.approx(3 / 5)
    assert values["churn rate (180 days without a purchase)"] == pytest.approx(1 / 2)
    assert values["input rows rejected in validation"] == pytest.approx(2 / 10)
    # first purchases: A, B, E in January, D in June, C in September; 12 months to December
    assert values["new customers per month (last 12 months)"] == pytest.approx(5 / 12)

    answers = pd.DataFrame(
        {s.QUESTION_ID: ["cma3"], s.INTENTION: [80.0], s.REALITY: [40.0], s.ASSESSOR: ["a"]}
    )
    beside = qci.evidence_beside_scores(evidence, assessment.score("qci", answers))
    row = beside.set_index(qci.MEASURE).loc["repeat rate"]
    assert (row[s.INTENTION], row[s.REALITY]) == (80.0, 40.0)
    assert np.isnan(beside.set_index(qci.QUESTION).loc["cma1", s.REALITY])  # unanswered


def test_data_evidence_leaves_out_measures_whose_columns_are_absent():
    # tickets with only their keys and surveys without nps: no CSAT, NPS or resolution rows
    tickets = pd.DataFrame(
        {s.TICKET_ID: ["T1"], s.CUSTOMER_ID: ["A"], s.OPENED_AT: [D("2024-03-01")]}
    )
    surveys = pd.DataFrame({s.RESPONSE_ID: ["R1"], s.CUSTOMER_ID: ["A"]})
    data = ClientData(
        {"transactions": CHURN_TX, "tickets": tickets, "surveys": surveys},
        pd.DataFrame(columns=list(s.REJECT_COLUMNS)),
        {"transactions": TableReport("transactions", "t.csv", 8, 8, 0)},
        as_of=D("2024-12-31"),
    )
    evidence = qci.data_evidence(data, inactivity_days=180)
    assert set(evidence[qci.QUESTION]) == {"cma1", "cma3", "it2"}  # absent is not 0
    with_csat = tickets.assign(**{s.CSAT: [5.0]})
    data.tables["tickets"] = with_csat
    assert {"cx3", "cx4"} <= set(qci.data_evidence(data)[qci.QUESTION])
    assert "pm3" not in set(qci.data_evidence(data)[qci.QUESTION])  # no closed_at


# --- charts ------------------------------------------------------------------------------


def test_charts_draw_on_the_given_axes_only():
    figure = Figure()
    ax = figure.add_subplot()
    assert qci_plots.plot_cohort_retention(qci.cohort_retention(COHORT_TX), ax=ax) is ax
    r = qci.campaign_groups(LIFT_TX, LIFT_INTERACTIONS, LIFT_CAMPAIGNS)
    lift = qci.campaign_lift(r, LIFT_CAMPAIGNS)
    ax2 = figure.add_subplot(2, 1, 2)
    assert qci_plots.plot_campaign_lift(lift, ax=ax2) is ax2
    # one error bar per campaign, its ends at the interval
    segments = [c for c in ax2.collections if len(c.get_segments())]
    ends = sorted(x for c in segments for seg in c.get_segments() for x in (seg[0][0], seg[1][0]))
    assert ends == pytest.approx(sorted(100 * lift[[experience.CI_LOW, experience.CI_HIGH]].to_numpy().ravel()))
    own = qci_plots.plot_nps_by_channel(
        experience.nps_table(pd.DataFrame({s.CUSTOMER_ID: ["a", "b", "c"], s.NPS: [10, 10, 0]}))
    )
    assert own.figure is not figure
    assert own.patches[0].get_height() == pytest.approx(100 / 3)
    with pytest.raises(CRMError, match="empty"):
        qci_plots.plot_campaign_lift(lift.iloc[:0])


# --- planted truth: a synthetic company ---------------------------------------------------


@pytest.fixture(scope="module")
def company():
    return synth.generate(n_customers=3000, seed=SEED)


def test_cohort_retention_falls_with_age(company):
    transactions = company.tables["transactions"]
    shares = qci.cohort_retention(transactions)
    sizes = qci.cohort_retention(transactions, counts=True)[0]

    def mean_at(age):
        seen = shares[age].notna()
        return np.average(shares.loc[seen, age], weights=sizes[seen])

    # BG/NBD dropout (Fader, Hardie & Lee 2005): fewer customers are alive, so fewer buy
    assert mean_at(1) > mean_at(6) > mean_at(12) > 0


def test_customers_who_dropped_out_early_are_never_active_later(company):
    persons, records = company.truth.persons, company.truth.records
    transactions = company.tables["transactions"]
    month = pd.Timedelta(days=31)
    early = persons.loc[
        persons[synth.DROPOUT_DATE].notna()
        & (persons[synth.DROPOUT_DATE] < persons[synth.ACQUISITION_DATE] + month)
    ]
    alive = persons.loc[persons[synth.ALIVE_AT_END]]
    assert len(early) > 100 and len(alive) > 100

    def ids(group):
        return records.loc[records[synth.PERSON_ID].isin(group[synth.PERSON_ID]), s.CUSTOMER_ID]

    # no purchase after dropout: from two months after the first purchase on, nobody is active
    dropped = qci.cohort_retention(transactions[transactions[s.CUSTOMER_ID].isin(ids(early))])
    assert np.nanmax(dropped.loc[:, 2:].to_numpy()) == 0.0
    kept = qci.cohort_retention(transactions[transactions[s.CUSTOMER_ID].isin(ids(alive))])
    assert np.nanmean(kept.loc[:, 2:].to_numpy()) > 0.1


def test_the_inactivity_rule_separates_the_dead_from_the_alive(company):
    status = qci.churn_status(company.tables["transactions"], inactivity_days=180)
    primary = company.truth.persons.set_index(s.CUSTOMER_ID)[synth.ALIVE_AT_END]
    judged = status.loc[status[qci.JUDGED] & status.index.isin(primary.index)]
    dead = ~primary.reindex(judged.index)
    assert dead[judged[qci.CHURNED]].mean() > 2 * dead[~judged[qci.CHURNED]].mean()


def test_campaign_lift_recovers_the_planted_lift(company):
    tables = company.tables
    responses = qci.campaign_groups(
        tables["transactions"], tables["interactions"], tables["campaigns"]
    )
    lift = qci.campaign_lift(responses, tables["campaigns"])
    truth = company.truth.campaign_lift.set_index(s.CAMPAIGN_ID).reindex(lift.index)
    assert len(lift) == len(synth.CAMPAIGNS)
    # the groups are the planted target lists, split into contacted and holdout
    assert (lift[qci.N_TREATED] == truth["n_treated"]).all()
    assert (lift[qci.N_CONTROL] == truth["n_holdout"]).all()
    # Rule: the planted lift lies inside the measured 95 % interval for at least
    # 6 of the 8 campaigns. With calibrated intervals about 7.6 of 8 would; 5 or
    # fewer happens with probability below 0.6 %.
    inside = (lift[experience.CI_LOW] <= truth["lift"]) & (truth["lift"] <= lift[experience.CI_HIGH])
    assert inside.sum() >= 6
    # a response counted per customer id can only miss the orders a person placed
    # on a second record: at most what the CRM marked "responded", and close to it
    inter = tables["interactions"]
    marked = inter[(inter[s.KIND] == qci.KIND_CONTACT) & (inter[s.OUTCOME] == "responded")]
    marked = marked.groupby(s.CAMPAIGN_ID).size()
    share = lift[qci.RESPONDERS_TREATED] / marked.reindex(lift.index)
    assert ((share <= 1.0) & (share >= 0.9)).all()


def test_nps_matches_the_planted_model(company):
    persons, model = company.truth.persons, company.truth.nps_model
    answered = persons.loc[persons[s.NPS].notna()]
    service = answered[synth.SERVICE_SCORE]
    mean = (
        model["intercept"]
        + answered[synth.NEEDS_SEGMENT].map(model["segment_offset"]).astype(float)
        + np.where(service.notna(), model["service_coef"] * (service - model["reference_csat"]), 0)
    )
    sd = model["noise_sd"]
    # answer = round(mean + N(0, sd)): a promoter when >= 8.5, a detractor when < 6.5
    expected = 100 * np.mean(norm.sf((8.5 - mean) / sd) - norm.cdf((6.5 - mean) / sd))
    row = experience.nps_table(company.tables["surveys"]).iloc[0]
    se = (row[experience.CI_HIGH] - row[s.NPS]) / norm.ppf(0.975)
    assert abs(row[s.NPS] - expected) < 3 * se


def test_nps_is_lower_after_bad_service(company):
    persons = company.truth.persons
    answered = persons.loc[persons[s.NPS].notna()]
    bad = experience.nps(answered.loc[answered[synth.SERVICE_SCORE] < 3, s.NPS])
    good = experience.nps(answered.loc[answered[synth.SERVICE_SCORE] >= 4, s.NPS])
    assert good - bad > 50
    # measured from the tickets a client holds, without the truth
    table = experience.nps_by_service(company.tables["surveys"], company.tables["tickets"])[s.NPS]
    assert table[experience.SERVICE_GOOD] > table[experience.NO_TICKET] > table[experience.SERVICE_FAIR]
    assert table[experience.SERVICE_GOOD] - max(table[experience.SERVICE_FAIR], table[experience.SERVICE_POOR]) > 40


def test_retention_explorer_follows_its_slider():
    from crmlib.widgets.qci import retention_explorer

    explorer = retention_explorer(CHURN_TX, as_of="2024-12-31", inactivity_days=180)
    slider, answer = explorer.children
    assert "<b>50.0%</b>" in answer.value  # 2 of 4, as in test_churn_by_the_inactivity_rule
    slider.value = 105
    assert "<b>105 days</b>" in answer.value and "<b>80.0%</b>" in answer.value  # 4 of 5


# --- partial periods (issue 19) ------------------------------------------------------

# data from 15 December 2016 to 1 January 2018: both ends are partial months
PARTIAL_TX = tx(
    [
        ("A", "2016-12-15", 10.0),
        ("B", "2016-12-20", 10.0),
        ("A", "2017-01-10", 10.0),
        ("C", "2017-01-11", 10.0),
        ("B", "2017-02-03", 10.0),
        ("D", "2017-12-05", 10.0),
        ("E", "2018-01-01", 10.0),
        ("D", "2018-01-01", 10.0),
    ]
)


def test_new_customers_leave_out_partial_periods_on_request():
    every = acquisition.new_customers(PARTIAL_TX, freq="M").sum(axis=1)
    assert every.index[0] == D("2016-12-01") and every.index[-1] == D("2018-01-01")
    assert every[D("2018-01-01")] == 1  # E, on the one day of January 2018
    complete = acquisition.new_customers(PARTIAL_TX, freq="M", complete_only=True).sum(axis=1)
    assert complete.index[0] == D("2017-01-01") and complete.index[-1] == D("2017-12-01")
    assert complete[D("2017-01-01")] == 1 and complete[D("2017-12-01")] == 1  # C; D
    assert complete.sum() == 2 and len(complete) == 12


def test_cohort_retention_leaves_out_partial_cohorts_on_request():
    every = qci.cohort_retention(PARTIAL_TX, freq="M", counts=True)
    assert every.index[0] == D("2016-12-01")  # A and B, seen in half a month
    assert every.index[-1] == D("2018-01-01") and every.iloc[-1].notna().sum() == 1
    complete = qci.cohort_retention(PARTIAL_TX, freq="M", counts=True, complete_only=True)
    assert list(complete.index) == [D("2017-01-01"), D("2017-12-01")]  # C's cohort; D's
    assert complete.loc[D("2017-01-01"), 0] == 1 and complete.loc[D("2017-12-01"), 0] == 1
    # the last column is month 11 (January 2017 + 11 = December 2017): January 2018 is not over
    assert complete.columns[-1] == 11
    assert np.isnan(complete.loc[D("2017-12-01"), 1])


def test_cohort_retention_complete_only_with_duckdb(tmp_path):
    PARTIAL_TX.to_csv(tmp_path / "transactions.csv", index=False)
    expected = qci.cohort_retention(PARTIAL_TX, counts=True, complete_only=True)
    got = qci.cohort_retention(tmp_path, counts=True, complete_only=True, engine="duckdb")
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_plots_mark_the_customers_already_there_when_the_data_start():
    counts = pd.DataFrame(
        {"web": [900, 10, 12, 8]}, index=pd.date_range("2017-01-01", periods=4, freq="MS")
    )
    ax = qci_plots.plot_new_customers(counts, ax=Figure().add_subplot(), already_customers=True)
    labels = ax.get_legend_handles_labels()[1]
    assert "already customers when the data start" in labels
    assert ax.get_ylim()[1] < 900  # the opening does not flatten the later bars
    assert any(t.get_text() == "900" for t in ax.texts)  # its count is written on it
    plain = qci_plots.plot_new_customers(counts, ax=Figure().add_subplot())
    assert plain.get_ylim()[1] >= 900
    assert "already customers when the data start" not in plain.get_legend_handles_labels()[1]
    matrix = qci.cohort_retention(COHORT_TX, as_of="2024-04-30")
    ax = qci_plots.plot_cohort_retention(matrix, ax=Figure().add_subplot(), already_customers=True)
    assert ax.get_yticklabels()[0].get_text() == "2024-01: already customers"


# --- charts that teach (#17) -----------------------------------------------------------------


def test_cohort_heatmap_greys_out_small_cohorts_and_scales_colour_on_the_rest():
    # two cohorts of 40 customers whose month-1 shares are 25 % and 10 %, and one of 2
    # customers whose month-1 share is 100 %: the small one must not set the colour scale
    matrix = pd.DataFrame(
        {0: [1.0, 1.0, 1.0], 1: [0.25, 0.10, 1.0], 2: [0.20, 0.05, np.nan]},
        index=pd.DatetimeIndex(["2024-01-01", "2024-02-01", "2024-03-01"], name="cohort"),
    )
    sizes = pd.Series([40, 40, 2], index=matrix.index)
    ax = qci_plots.plot_cohort_retention(matrix, ax=Figure().add_subplot(), sizes=sizes)
    image = ax.images[0]
    assert image.get_clim() == pytest.approx((0.0, 0.25))
    assert image.get_array().mask[2].all()  # the 2-customer cohort is not coloured
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["2024-01 (n = 40)", "2024-02 (n = 40)", "2024-03 (n = 2)"]
    assert "cohort of fewer than 30 customers" in ax.get_legend_handles_labels()[1]
    assert "100%" not in [t.get_text() for t in ax.texts]  # its share is not written either
    # without sizes nothing is masked: the scale runs to the largest share
    plain = qci_plots.plot_cohort_retention(matrix, ax=Figure().add_subplot())
    assert plain.images[0].get_clim() == pytest.approx((0.0, 1.0))


def test_interval_charts_hold_every_interval():
    lift = pd.DataFrame(
        {qci.LIFT: [-0.5, 0.02], experience.CI_LOW: [-1.0, -0.01], experience.CI_HIGH: [0.1, 0.05]},
        index=pd.Index(["CP1", "CP2"], name=s.CAMPAIGN_ID),
    )
    ax = qci_plots.plot_campaign_lift(lift, ax=Figure().add_subplot())
    low, high = ax.get_xlim()
    assert low < -100 and high > 10  # the interval from -100 to +10 points fits with its caps
    nps = pd.DataFrame(
        {
            s.NPS: [-90.5, 30.0],
            experience.CI_LOW: [-100.0, 21.0],
            experience.CI_HIGH: [-77.9, 37.0],
            experience.N: [21, 291],
        },
        index=["poor", "good"],
    )
    ax = qci_plots.plot_nps_by_channel(nps, ax=Figure().add_subplot())
    low, high = ax.get_ylim()
    assert low < -100 and high > 37  # the cap at -100 is drawn, not cut off
