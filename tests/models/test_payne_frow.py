"""crmlib.models.payne_frow: each measure on a small hand-computed example, the retention
economics against Gupta & Lehmann's published margin multiples, and the data-quality
audit against the planted defects of a synthetic company."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from crmlib import synth
from crmlib.analytics import assessment, quality, segments
from crmlib.data import schema as s
from crmlib.data.io import ClientData, TableReport, load_folder
from crmlib.errors import CRMError, DataError
from crmlib.models import payne_frow as pf
from crmlib.plots import payne_frow as pf_plots
from crmlib.widgets import payne_frow as pf_widgets

SEED = 11  # the synthetic company of the planted-defect tests
N_CUSTOMERS = 1500
D = pd.Timestamp


def frame(rows, columns, dates=()):
    out = pd.DataFrame(rows, columns=list(columns))
    for column in dates:
        out[column] = pd.to_datetime(out[column])
    return out


def tx(rows, columns=(s.ORDER_ID, s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, s.CHANNEL)):
    return frame(rows, columns, dates=(s.ORDER_DATE,))


def client(as_of, **tables) -> ClientData:
    """A ClientData as crmlib.data.io builds it: source_row on every table, nothing rejected."""
    frames = {}
    for name, table in tables.items():
        table = table.copy()
        table.insert(0, s.SOURCE_ROW, np.arange(2, len(table) + 2))
        frames[name] = table
    reports = {n: TableReport(n, f"{n}.csv", len(f), len(f), 0) for n, f in frames.items()}
    rejects = pd.DataFrame(columns=list(s.REJECT_COLUMNS))
    return ClientData(frames, rejects, reports, as_of=D(as_of))


# --- retention economics: Gupta & Lehmann's geometric model ---------------------------------


@pytest.mark.parametrize(
    "retention, discount, multiple",
    # Gupta & Lehmann (2003), "Customers as assets", table of margin multiples r / (1 + i - r)
    [(0.8, 0.12, 2.5), (0.9, 0.10, 4.5), (0.6, 0.10, 1.2), (0.5, 0.0, 1.0)],
)
def test_margin_multiple_published_values(retention, discount, multiple):
    assert pf.margin_multiple(retention, discount) == pytest.approx(multiple)


def test_customer_equity_and_the_value_of_one_point_by_hand():
    # 10 customers, margin 100, r = 0.8, d = 0.12: 10 x 100 x 2.5
    assert pf.customer_equity(100, 0.8, 0.12, customers=10) == pytest.approx(2500)
    # one point from 0.9 to 0.91 at d = 0.10: 100 x (0.91 / 0.19 - 0.9 / 0.2)
    point = pf.retention_point_value(100, 0.9, 0.10)
    assert point == pytest.approx(100 * (0.91 / 0.19 - 4.5))
    # a point is worth more the higher retention already is (convexity)
    assert point > pf.retention_point_value(100, 0.8, 0.10)


@pytest.mark.parametrize("bad", [1.0, -0.1, float("nan"), "high"])
def test_retention_outside_the_model_is_refused(bad):
    with pytest.raises(CRMError, match="retention"):
        pf.margin_multiple(bad, 0.1)


def test_clv_to_cac():
    assert pf.clv_to_cac(300.0, 100.0) == 3.0
    ratios = pf.clv_to_cac(pd.Series([50.0, 200.0]), 100.0)
    assert ratios.tolist() == [0.5, 2.0]
    with pytest.raises(CRMError, match="above 0"):
        pf.clv_to_cac(300.0, 0.0)


ECON_TX = frame(
    [
        ("A", "2023-06-01", 40.0, 20.0, "web"),
        ("B", "2023-06-01", 40.0, 20.0, "web"),
        ("C", "2023-06-01", 40.0, 20.0, "web"),
        ("D", "2023-06-01", 40.0, 20.0, "web"),
        ("A", "2024-06-01", 100.0, 60.0, "web"),
        ("B", "2024-06-01", 50.0, 30.0, "store"),
        ("E", "2024-06-01", 30.0, 10.0, "web"),
    ],
    (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, s.COST, s.CHANNEL),
    dates=(s.ORDER_DATE,),
)


def test_retention_economics_by_hand():
    e = pf.retention_economics(ECON_TX, annual_discount_rate=0.10, as_of="2024-12-31")
    assert e.retention == 0.5  # A and B of A, B, C, D bought again
    assert e.customers == 3  # A, B, E
    assert e.margin == pytest.approx((100 + 50 + 30 - 60 - 30 - 10) / 3)
    assert e.discount_rate == pytest.approx(0.10)
    assert e.clv == pytest.approx(80 / 3 * 0.5 / 0.6)
    assert e.customer_equity == pytest.approx(80 * 0.5 / 0.6)
    assert e.value_of_one_point == pytest.approx(80 * (0.51 / 0.59 - 0.5 / 0.6))


def test_retention_economics_subtracts_the_cost_to_serve():
    rates = frame([("order", "", 5.0)], (s.ACTIVITY, s.CHANNEL, s.UNIT_COST_RATE))
    e = pf.retention_economics(ECON_TX, as_of="2024-12-31", cost_rates=rates)
    assert e.margin == pytest.approx((80 - 3 * 5.0) / 3)  # three orders in the last year
    assert e.margin_basis == "revenue - product cost - cost-to-serve"


def test_retention_economics_needs_an_earlier_period():
    with pytest.raises(DataError, match="shorten period_days"):
        pf.retention_economics(ECON_TX, period_days=365, as_of="2023-12-31")


def test_acquisition_cost_counts_from_the_first_campaign():
    orders = tx(
        [
            ("1", "A", "2024-01-05", 10.0, "web"),  # before the first campaign month: not counted
            ("2", "B", "2024-02-10", 10.0, "web"),
            ("3", "C", "2024-03-10", 10.0, "web"),
            ("4", "A", "2024-03-11", 10.0, "web"),  # a repeat, not a new customer
            ("5", "D", "2024-04-01", 10.0, "web"),
        ]
    )
    campaigns = frame(
        [("K1", 300.0, "2024-02-01"), ("K2", 150.0, "2024-03-01"), ("K3", 999.0, "2024-06-01")],
        (s.CAMPAIGN_ID, s.COST, s.START_DATE),
        dates=(s.START_DATE,),
    )
    # K3 starts after as_of; B, C, D are new since February: (300 + 150) / 3
    assert pf.acquisition_cost(orders, campaigns, as_of="2024-04-30") == pytest.approx(150.0)


# --- strategy development -----------------------------------------------------------------

PROFILE_TX = tx(
    [
        ("1", "A", "2023-03-01", 100.0, "web"),
        ("2", "A", "2024-03-01", 150.0, "web"),
        ("3", "B", "2024-05-01", 50.0, "store"),
        ("3", "B", "2024-05-20", -20.0, "store"),  # a return: netted in revenue
        ("4", "C", "2023-05-01", 80.0, "web"),
        ("5", "D", "2022-05-01", 10.0, "web"),  # earlier than both windows
    ]
)


def test_segment_profile_by_hand():
    segment_of = pd.Series({"A": "X", "B": "X", "C": "Y"})  # D has no segment
    p = pf.segment_profile(PROFILE_TX, segment_of, as_of="2024-12-31", window_days=365)
    assert list(p.index) == ["X", "Y", pf.UNASSIGNED]
    assert p.loc["X", pf.CUSTOMERS] == 2
    assert p.loc["X", pf.CUSTOMER_SHARE] == 0.5
    assert p.loc["X", s.REVENUE] == 280.0
    assert p.loc["X", pf.REVENUE_SHARE] == pytest.approx(280 / 370)
    assert p.loc["X", pf.REVENUE_PER_CUSTOMER] == 140.0
    # X: 180 in 2024 against 100 in 2023; Y: nothing in 2024 against 80
    assert p.loc["X", pf.GROWTH] == pytest.approx(0.8)
    assert p.loc["Y", pf.GROWTH] == -1.0
    assert np.isnan(p.loc[pf.UNASSIGNED, pf.GROWTH])  # no revenue in the earlier window
    assert np.isnan(p.loc["X", s.MARGIN])  # no costs in the data


def test_segment_profile_growth_unknown_when_the_earlier_window_is_not_observed():
    p = pf.segment_profile(PROFILE_TX, pd.Series(dtype=object), as_of="2024-12-31", window_days=730)
    assert p[pf.GROWTH].isna().all()


def _strategy_client(targets):
    customers = frame([("A",), ("B",), ("C",), ("D",)], (s.CUSTOMER_ID,))
    campaigns = frame(
        [(f"K{i}", t) for i, t in enumerate(targets)], (s.CAMPAIGN_ID, s.TARGET_SEGMENT)
    )
    contacts = frame(
        [
            ("I1", "A", "2024-01-01", s.KIND_CAMPAIGN_CONTACT, "K0"),
            ("I2", "B", "2024-01-01", s.KIND_CAMPAIGN_CONTACT, "K0"),
            ("I3", "C", "2024-01-01", s.KIND_CAMPAIGN_CONTACT, "K1"),
            ("I4", "D", "2024-01-01", s.KIND_CAMPAIGN_HOLDOUT, "K1"),  # not a contact
        ],
        (s.INTERACTION_ID, s.CUSTOMER_ID, s.TIMESTAMP, s.KIND, s.CAMPAIGN_ID),
        dates=(s.TIMESTAMP,),
    )
    orders = tx(
        [
            ("1", "A", "2024-02-01", 10.0, "web"),
            ("2", "B", "2024-02-01", 10.0, "web"),
            ("3", "C", "2024-02-01", 10.0, "web"),
            ("4", "D", "2024-02-01", 10.0, "web"),
            ("5", "Z", "2024-02-01", 30.0, "web"),  # not on file
        ]
    )
    return client(
        "2024-12-31",
        transactions=orders,
        customers=customers,
        campaigns=campaigns,
        interactions=contacts,
    )


def test_strategy_signals_by_hand():
    data = _strategy_client(["all", "price"])
    signals = pf.strategy_signals(data).set_index(pf.SIGNAL)[pf.VALUE]
    assert signals["customer_tables"] == 3 / 5  # customers, interactions, campaigns
    assert signals["identified_revenue"] == 40 / 70
    assert np.isnan(signals["needs_known"])  # no surveys: cannot be seen, not 0
    assert signals["contact_history"] == 3 / 5  # A-C; D's holdout was not a contact
    # two contacts of a mass campaign (0), one of a segment campaign (0.5)
    assert signals["targeted_offers"] == pytest.approx(0.5 / 3)
    assert signals["targeted_reach"] == 1 / 5  # C
    position = pf.strategy_position(pf.strategy_signals(data))
    # the mean of the observed signals only: needs_known is not in it
    assert position.information == pytest.approx((0.6 + 4 / 7 + 0.6) / 3)
    assert position.individualisation == pytest.approx((0.5 / 3 + 0.2) / 2)
    assert position.quadrant == "customer-based marketing"
    assert "information 0.59" in position.reasoning  # the score, shown with its signals
    assert "customer tables on file 0.60" in position.reasoning  # by label, as a client reads
    assert "known needs" not in position.reasoning and "needs_known" not in position.reasoning


def test_strategy_signals_absent_is_not_zero():
    # transactions only: nothing shows how customer information is used or offers targeted
    data = client("2024-12-31", transactions=PROFILE_TX)
    signals = pf.strategy_signals(data).set_index(pf.SIGNAL)[pf.VALUE]
    assert signals["customer_tables"] == 0.0  # a fact: none of the five tables is held
    for unseen in ("identified_revenue", "needs_known", "contact_history", "targeted_offers"):
        assert np.isnan(signals[unseen]), unseen
    with pytest.raises(CRMError, match="no observed signal of the individualisation axis"):
        pf.strategy_position(pf.strategy_signals(data))


@pytest.mark.parametrize(
    "info, indiv, quadrant",
    [
        (0.2, 0.2, "product-based selling"),
        (0.8, 0.2, "customer-based marketing"),
        (0.2, 0.8, "managed service and support"),
        (0.8, 0.8, "individualised CRM"),
        (0.5, 0.5, "individualised CRM"),  # the cut belongs to the upper half
    ],
)
def test_strategy_quadrants(info, indiv, quadrant):
    signals = pd.DataFrame(
        {
            pf.SIGNAL: ["a", "b"],
            pf.AXIS: [pf.INFORMATION, pf.INDIVIDUALISATION],
            pf.VALUE: [info, indiv],
        }
    )
    assert pf.strategy_position(signals).quadrant == quadrant


def test_targeting_levels():
    one_to_one = _strategy_client(["individual", "individual"])
    signals = pf.strategy_signals(one_to_one).set_index(pf.SIGNAL)[pf.VALUE]
    assert signals["targeted_offers"] == 1.0
    assert signals["targeted_reach"] == 3 / 5


def test_default_segments_fall_back_to_value_tiers():
    data = client("2024-12-31", transactions=PROFILE_TX)
    segment, how = pf.default_segments(data)
    assert "value tiers" in how
    # four buyers by net revenue: A 250, C 80, B 30, D 10; the top 20 % of 4 customers is
    # ceil(0.8) = 1 customer (A), the top 50 % ceil(2.0) = 2 (A and C): the workbook's one
    # top-k rule (crmlib.analytics.concentration.top_count)
    assert segment.to_dict() == {"A": "top 20 %", "B": "bottom 50 %", "C": "next 30 %"} | {
        "D": "bottom 50 %"
    }


def test_default_segments_from_needs():
    surveys = frame(
        [("R1", "A", 5, 1, 1, 1), ("R2", "B", 1, 1, 5, 1)],
        (s.RESPONSE_ID, s.CUSTOMER_ID, *s.NEEDS),
    )
    data = client("2024-12-31", transactions=PROFILE_TX, surveys=surveys)
    segment, _ = pf.default_segments(data)
    assert segment.to_dict() == {
        "A": "price",
        "B": "quality",
        "C": segments.NOT_SURVEYED,
        "D": segments.NOT_SURVEYED,
    }


# --- value creation -------------------------------------------------------------------------


def test_customer_value_by_segment_by_hand():
    surveys = frame(
        [
            ("R1", "A", 10, 5, 2, 1, 1),
            ("R2", "B", 6, 3, 4, 1, 1),
            ("R3", "C", 8, 1, 1, 5, 2),
        ],
        (s.RESPONSE_ID, s.CUSTOMER_ID, s.NPS, *s.NEEDS),
    )
    tickets = frame(
        [("T1", "A", 5.0), ("T2", "B", 3.0), ("T3", "B", np.nan), ("T4", "C", 4.0)],
        (s.TICKET_ID, s.CUSTOMER_ID, s.CSAT),
    )
    segment_of = pd.Series({"A": "X", "B": "X", "C": "Y"})
    v = pf.customer_value_by_segment(surveys, segment_of, tickets)
    assert v.loc["X", pf.RESPONDENTS] == 2
    assert v.loc["X", "need_price"] == 4.0
    assert v.loc["X", pf.TOP_NEED] == "price"
    assert v.loc["Y", pf.TOP_NEED] == "quality"
    assert v.loc["X", s.NPS] == 0.0  # one promoter, one detractor
    assert v.loc["Y", s.NPS] == 0.0  # one passive
    assert v.loc["X", pf.MEAN_CSAT] == 4.0
    assert v.loc["X", pf.SATISFIED] == 0.5


def test_segment_value_by_hand():
    clv = pd.Series({"A": 10.0, "B": 30.0, "C": 60.0})
    profit = frame(
        [("A", 5.0, 1.0), ("B", 15.0, 3.0), ("C", -4.0, 8.0)],
        (s.CUSTOMER_ID, "profit", "cost_to_serve"),
    ).set_index(s.CUSTOMER_ID)
    v = pf.segment_value(clv, pd.Series({"A": "X", "B": "X"}), profit)
    assert list(v.index) == [pf.UNASSIGNED, "X"]  # largest total first
    assert v.loc["X", pf.CLV_MEAN] == 20.0
    assert v.loc["X", pf.CLV_SHARE] == 0.4
    assert v.loc["X", pf.PROFIT_PER_CUSTOMER] == 10.0
    assert v.loc[pf.UNASSIGNED, pf.COST_TO_SERVE_PER_CUSTOMER] == 8.0


# --- multichannel integration ---------------------------------------------------------------

CHANNEL_TX = tx(
    [
        ("1", "A", "2024-01-05", 10.0, "web"),
        ("1", "A", "2024-01-05", 5.0, "web"),  # a second line of the same order
        ("2", "A", "2024-02-01", 10.0, "web"),
        ("3", "A", "2024-03-01", 10.0, "store"),
        ("4", "B", "2024-01-10", 10.0, "store"),
        ("5", "B", "2024-02-10", 10.0, "store"),
    ]
)


def test_channel_switching_by_hand():
    matrix = pf.channel_switching(CHANNEL_TX)
    # A: web -> web -> store; B: store -> store
    assert matrix.loc["web", "web"] == 0.5
    assert matrix.loc["web", "store"] == 0.5
    assert matrix.loc["store", "store"] == 1.0
    summary = pf.switching_summary(CHANNEL_TX)
    assert summary["switching_rate"] == pytest.approx(1 / 3)
    assert summary["multichannel_share"] == 0.5
    assert summary["repeat_customers"] == 2


def test_channel_mix_by_hand():
    mix = pf.channel_mix(CHANNEL_TX, pd.Series({"A": "X", "B": "Y"}))
    assert mix.loc["X", "web"] == pytest.approx(2 / 3)
    assert mix.loc["Y", "store"] == 1.0
    assert mix.loc["X", pf.ORDERS] == 3


def test_channel_paths_by_hand():
    interactions = frame(
        [
            ("I1", "A", "2023-12-01 10:00", "email", "campaign_contact"),  # outside 30 days
            ("I2", "A", "2024-01-01 10:00", "sms", "campaign_contact"),
            ("I3", "A", "2024-01-02 10:00", "web", "web_visit"),
            ("I4", "A", "2024-01-05 09:00", "web", "web_visit"),  # repeats web: counts once
            ("I5", "A", "2024-01-04 10:00", "post", s.KIND_CAMPAIGN_HOLDOUT),  # not a touch
            ("I6", "A", "2024-01-06 10:00", "phone", "service_call"),  # after the order
        ],
        (s.INTERACTION_ID, s.CUSTOMER_ID, s.TIMESTAMP, s.CHANNEL, s.KIND),
        dates=(s.TIMESTAMP,),
    )
    paths = pf.channel_paths(CHANNEL_TX, interactions, lookback_days=30, top=10)
    counts = dict(zip(paths[pf.PATH], paths[pf.ORDERS], strict=True))
    assert counts["sms > web > [web order]"] == 1  # order 1
    # order 2 (Feb 1) looks back to Jan 2: the web visits and the phone call of Jan 6
    assert counts["web > phone > [web order]"] == 1
    assert counts[f"{pf.NO_TOUCH} > [store order]"] == 3
    assert paths[pf.SHARE].sum() == pytest.approx(1.0)
    short = pf.channel_paths(CHANNEL_TX, interactions, max_touches=1)
    assert "web > [web order]" in set(short[pf.PATH])


def test_no_channel_column_is_a_data_error():
    with pytest.raises(DataError, match="channel"):
        pf.channel_mix(ECON_TX.drop(columns=[s.CHANNEL]))


def test_experience_by_channel_and_integration_breaks():
    tickets = frame(
        [("T1", "A", "phone", 5.0), ("T2", "B", "phone", 4.0), ("T3", "C", "email", 3.0)]
        + [("T4", "D", "email", 4.0), ("T5", "E", "chat", 4.5), ("T6", "F", "chat", 4.5)],
        (s.TICKET_ID, s.CUSTOMER_ID, s.CHANNEL, s.CSAT),
    )
    experience = pf.experience_by_channel(tickets)
    assert experience.loc["email", pf.MEAN_CSAT] == 3.5
    assert experience.loc["phone", pf.SATISFIED] == 1.0
    breaks = pf.integration_breaks(experience, csat_gap=0.3, min_answers=2)
    # best: phone and chat at 4.5; email is 1.0 below
    assert breaks[s.CHANNEL].tolist() == ["email"]
    assert breaks[pf.GAP].iloc[0] == pytest.approx(1.0)
    assert pf.integration_breaks(experience, csat_gap=1.0, min_answers=2).empty
    assert pf.integration_breaks(experience, csat_gap=0.3, min_answers=3).empty  # too few


# --- information management: the data-quality audit -----------------------------------------


@pytest.fixture
def small_folder(write):
    write(
        "customers.csv",
        "customer_id,name,email,phone,city,signup_date\n"
        "C1,Ann Lee,ann@example.com,0201,London,2024-01-01\n"
        "C2,Bob Ray,bob@example.com,0202,,2024-01-01\n"  # missing city
        "C3,Cy Day,not-an-email,0203,Leeds,2024-01-01\n"  # invalid: rejected
        "C1,Ann Lee,ann@example.com,0201,London,2024-01-01\n"  # repeated key: rejected
        "C4,Di Fox,di@example.com,0204,York,2024-03-01\n",  # signed up after first order
    )
    write(
        "transactions.csv",
        "order_id,customer_id,order_date,revenue\n"
        "O1,C1,2024-06-30,10\n"
        "O2,C9,2024-06-01,20\n"  # unknown customer
        "O3,C4,2024-02-01,5\n",
    )
    path = write(
        "tickets.csv",
        "ticket_id,customer_id,opened_at,closed_at,csat\n"
        "T1,C1,2024-05-01 10:00:00,2024-05-01 09:00:00,4\n"  # closed before opened
        "T2,C2,2024-05-02 10:00:00,,\n",  # still open, unanswered: complete
    )
    return load_folder(path.parent, as_of="2024-06-30")


def test_audit_scores_by_hand(small_folder):
    audit = quality.audit_data_quality(small_folder, link_people=False)
    c = audit.scores.loc["customers"]
    assert c[quality.COMPLETENESS] == pytest.approx(2 / 3)  # C2 of C1, C2, C4
    assert c[quality.UNIQUENESS] == pytest.approx(4 / 5)  # 1 repeated key of 5 rows read
    assert c[quality.VALIDITY] == pytest.approx(4 / 5)  # the malformed e-mail
    assert c[quality.CONSISTENCY] == pytest.approx(2 / 3)  # C4
    # newest signup 2024-03-01 is 121 days old: 1 - (121 - 31) / (365 - 31)
    assert c[quality.TIMELINESS] == pytest.approx(1 - 90 / 334)
    t = audit.scores.loc["transactions"]
    assert t[quality.CONSISTENCY] == pytest.approx(2 / 3)  # O2
    assert t[quality.TIMELINESS] == 1.0
    k = audit.scores.loc["tickets"]
    assert k[quality.COMPLETENESS] == 1.0  # an open, unanswered ticket is complete
    assert k[quality.CONSISTENCY] == 0.5
    assert audit.duplicate_method == "exact keys only"


def test_audit_rows_behind_each_finding(small_folder):
    audit = quality.audit_data_quality(small_folder, link_people=False)
    rows = audit.rows("customers", quality.COMPLETENESS)
    assert rows[quality.KEY].tolist() == ["C2"]
    assert rows[s.SOURCE_ROW].tolist() == [3]
    assert rows[quality.CHECK].tolist() == ["missing city"]
    assert audit.rows("customers", quality.VALIDITY)[s.SOURCE_ROW].tolist() == [4]
    assert audit.rows("customers", quality.UNIQUENESS)[s.SOURCE_ROW].tolist() == [5]
    assert audit.rows("customers", quality.CONSISTENCY)[quality.KEY].tolist() == ["C4"]
    assert audit.rows("tickets", quality.CONSISTENCY)[quality.KEY].tolist() == ["T1"]
    assert audit.rows("transactions", quality.CONSISTENCY)[quality.CHECK].tolist() == [
        "customer not in customers"
    ]
    assert audit.rows("transactions", quality.TIMELINESS)[quality.KEY].tolist() == [2]  # no key: the line
    assert "not-an-email" not in audit.details.to_string()  # no personal data
    with pytest.raises(CRMError, match="dimension"):
        audit.rows("customers", "accuracy")
    with pytest.raises(CRMError, match="no table"):
        audit.rows("surveys", quality.COMPLETENESS)


def test_rows_after_the_as_of_date_are_not_defects(small_folder, tmp_path):
    earlier = load_folder(tmp_path, as_of="2024-06-29")  # O1 falls after it
    assert len(earlier.rejects[earlier.rejects["table"] == "transactions"]) == 1
    audit = quality.audit_data_quality(earlier, link_people=False)
    validity = audit.findings.set_index([quality.TABLE, quality.DIMENSION]).loc[("transactions", quality.VALIDITY)]
    assert validity[quality.ROWS] == 0 and validity[quality.CHECKED] == 2
    assert audit.scores.loc["transactions", quality.VALIDITY] == 1.0


def test_audit_counts_a_person_with_two_records_once(small_folder):
    clusters = pd.DataFrame({"cluster_id": ["C1", "C1", "C4"]}, index=["C1", "C2", "C4"])
    audit = quality.audit_data_quality(small_folder, clusters=clusters)
    # 3 accepted records of 2 persons, plus the rejected repeated key: 2 surplus of 5 read
    assert audit.scores.loc["customers", quality.UNIQUENESS] == pytest.approx(3 / 5)
    keys = set(audit.rows("customers", quality.UNIQUENESS)[quality.KEY].dropna())
    assert keys == {"C1", "C2"}


@pytest.fixture(scope="module")
def company_data(tmp_path_factory):
    company = synth.generate(n_customers=N_CUSTOMERS, seed=SEED)
    folder = tmp_path_factory.mktemp("synth")
    synth.write_folder(company, folder)
    return company, load_folder(folder, as_of=company.as_of)


def _planted(company, table, kind):
    defects = company.truth.defects
    return set(defects.loc[(defects["table"] == table) & (defects["kind"] == kind), "key"])


def _duplicated_records(company):
    records = company.truth.records
    size = records.groupby("person_id")["customer_id"].transform("size")
    return set(records.loc[size > 1, "customer_id"])


def test_audit_finds_the_planted_missing_values_and_backward_tickets(company_data):
    company, data = company_data
    audit = quality.audit_data_quality(data, link_people=False)
    missing = set(audit.rows("customers", quality.COMPLETENESS)[quality.KEY])
    assert missing == _planted(company, "customers", "missing")
    backwards = audit.rows("tickets", quality.CONSISTENCY)
    closed_early = set(backwards.loc[backwards[quality.CHECK] == "closed before opened", quality.KEY])
    assert closed_early == _planted(company, "tickets", "closed_before_opened")
    assert len(closed_early) > 0
    n = len(data.tables["customers"])
    assert audit.scores.loc["customers", quality.COMPLETENESS] == pytest.approx(1 - len(missing) / n)


def test_audit_uniqueness_with_the_true_persons(company_data):
    company, data = company_data
    truth = company.truth.records.set_index("customer_id")["person_id"].rename("cluster_id")
    audit = quality.audit_data_quality(data, clusters=truth.to_frame())
    assert set(audit.rows("customers", quality.UNIQUENESS)[quality.KEY]) == _duplicated_records(company)
    records, persons = len(truth), truth.nunique()
    assert audit.scores.loc["customers", quality.UNIQUENESS] == pytest.approx(persons / records)


@pytest.mark.slow
def test_audit_finds_the_planted_duplicates_with_record_linkage(company_data):
    company, data = company_data
    audit = quality.audit_data_quality(data)  # splink through crmlib.analytics.linkage.find_duplicates
    assert audit.duplicate_method.startswith("splink")
    found = set(audit.rows("customers", quality.UNIQUENESS)[quality.KEY])
    planted = _duplicated_records(company)
    precision = len(found & planted) / len(found)
    recall = len(found & planted) / len(planted)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


# --- performance assessment -----------------------------------------------------------------


def _kpi_client():
    orders = frame(
        [
            ("1", "A", "2024-01-10", 100.0, 60.0, "P1"),
            ("2", "B", "2024-02-10", 50.0, 20.0, "P2"),
            ("3", "A", "2024-04-10", 80.0, 40.0, "P1"),
            ("3", "A", "2024-04-10", 20.0, 10.0, "P2"),
            ("4", "C", "2024-05-10", 40.0, 30.0, "P1"),
            ("4", "C", "2024-05-20", -40.0, 0.0, "P1"),  # C returns it
            ("5", "A", "2024-07-10", 30.0, 10.0, "P1"),
            ("6", "B", "2024-08-10", 30.0, 10.0, "P3"),
            ("7", "D", "2024-10-02", 30.0, 10.0, "P1"),  # the last quarter is not over
        ],
        (s.ORDER_ID, s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, s.COST, s.PRODUCT_ID),
        dates=(s.ORDER_DATE,),
    )
    products = frame(
        [("P1", "kitchen"), ("P2", "garden"), ("P3", "bath"), ("P4", "toys")],
        (s.PRODUCT_ID, s.CATEGORY),
    )
    surveys = frame(
        [("R1", "A", "2024-02-01", 10), ("R2", "B", "2024-02-02", 3), ("R3", "C", "2024-05-01", 9)],
        (s.RESPONSE_ID, s.CUSTOMER_ID, s.DATE, s.NPS),
        dates=(s.DATE,),
    )
    campaigns = frame(
        [("K1", 90.0, "2024-04-01")], (s.CAMPAIGN_ID, s.COST, s.START_DATE), dates=(s.START_DATE,)
    )
    return client(
        "2024-10-15",
        transactions=orders,
        products=products,
        surveys=surveys,
        campaigns=campaigns,
    )


def test_kpi_table_by_hand():
    k = pf.kpi_table(_kpi_client(), freq="Q", annual_discount_rate=0.10)
    assert list(k.index) == [D("2024-01-01"), D("2024-04-01"), D("2024-07-01")]  # Q4 not over
    assert k[pf.NEW].tolist() == [2, 1, 0]
    assert k[pf.ACTIVE].tolist() == [2, 2, 2]
    assert np.isnan(k[pf.RETENTION].iloc[0])
    assert k[pf.RETENTION].iloc[1:].tolist() == [0.5, 0.5]  # Q2: A of A, B; Q3: A of A, C
    assert k[s.REVENUE].tolist() == [150.0, 100.0, 60.0]
    # Q2: revenue 80 + 20 + 40 - 40, product cost 40 + 10 + 30 (the returned goods are lost)
    assert k[s.MARGIN].tolist() == [70.0, 20.0, 40.0]
    assert k[pf.MARGIN_PER_CUSTOMER].tolist() == [35.0, 10.0, 20.0]
    d_q2 = 1.1 ** (91 / 365) - 1  # April to June: 91 days
    assert k[pf.CLV].iloc[1] == pytest.approx(10.0 * 0.5 / (1 + d_q2 - 0.5))
    assert k[pf.CAC].iloc[1] == 90.0  # one new customer in Q2
    assert k[pf.CAC].isna().iloc[[0, 2]].all()  # no campaign spend
    assert k[s.NPS].iloc[0] == 0.0  # one promoter, one detractor
    assert k[s.NPS].iloc[1] == 100.0
    assert np.isnan(k[s.NPS].iloc[2])
    # Q2: A bought 2 of 4 categories, C 1 of 4; Q3: A 1, B 1
    assert k[pf.WALLET].tolist() == pytest.approx([0.25, 0.375, 0.25])
    assert pf.COST_TO_SERVE not in k  # no cost rates


def test_kpi_table_leaves_out_kpis_whose_columns_are_absent():
    data = _kpi_client()
    data.tables["campaigns"] = data.tables["campaigns"].drop(columns=[s.START_DATE])
    data.tables["surveys"] = data.tables["surveys"].drop(columns=[s.DATE])
    k = pf.kpi_table(data, freq="Q")
    assert pf.CAC not in k and s.NPS not in k  # absent, not 0 and not an error
    assert k[pf.NEW].tolist() == [2, 1, 0]  # the rest as before


def test_kpi_table_cost_to_serve_by_hand():
    data = _kpi_client()
    rates = frame([("order", "", 2.0), ("return", "", 3.0)], (s.ACTIVITY, s.CHANNEL, s.UNIT_COST))
    rates.insert(0, s.SOURCE_ROW, [2, 3])
    data.tables["cost_rates"] = rates
    k = pf.kpi_table(data, freq="Q")
    # Q2: orders 3 and 4 (2 each), one return (3): 7 on revenue 100
    assert k[pf.COST_TO_SERVE].iloc[1] == pytest.approx(7 / 100)
    assert k[pf.MARGIN_PER_CUSTOMER].iloc[1] == pytest.approx((20 - 7) / 2)


@pytest.mark.parametrize(
    "value, target, higher, status",
    [
        (100, 100, True, pf.GREEN),
        (90, 100, True, pf.AMBER),  # within 10 % below
        (89.9, 100, True, pf.RED),
        (95, 100, False, pf.GREEN),
        (110, 100, False, pf.AMBER),  # within 10 % above
        (110.1, 100, False, pf.RED),
        (-1, 0, True, pf.RED),  # a target of 0 has no amber band
        (float("nan"), 100, True, pf.NO_DATA),
        (5, None, True, pf.NO_DATA),
    ],
)
def test_rag_rule(value, target, higher, status):
    assert pf.rag_status(value, target, tolerance=0.10, higher_is_better=higher) == status


def test_scorecard_latest_value_trend_and_status():
    kpis = pd.DataFrame(
        {pf.RETENTION: [0.5, 0.55, 0.58], pf.CAC: [10.0, 12.0, np.nan], s.NPS: [np.nan] * 3},
        index=pd.date_range("2024-01-01", periods=3, freq="QS"),
    )
    card = pf.scorecard(kpis, {pf.RETENTION: 0.6, pf.CAC: 11.0, s.NPS: 20, pf.WALLET: 0.3})
    r = card.loc[pf.RETENTION]
    assert r[pf.VALUE] == 0.58 and r[pf.PREVIOUS] == 0.55
    assert r[pf.CHANGE] == pytest.approx(0.03)
    assert r[pf.STATUS] == pf.AMBER
    c = card.loc[pf.CAC]
    assert c[pf.VALUE] == 12.0 and c[pf.PERIOD] == D("2024-04-01")  # the last measured period
    assert c[pf.STATUS] == pf.AMBER  # lower is better: 12 within 10 % above 11
    assert card.loc[s.NPS, pf.STATUS] == pf.NO_DATA
    assert card.loc[pf.WALLET, pf.STATUS] == pf.NO_DATA  # not measured at all
    with pytest.raises(CRMError, match="no KPI called"):
        pf.scorecard(kpis, {"happiness": 1})


def test_kpi_targets_fill_a_missing_target_with_the_earlier_mean():
    kpis = pd.DataFrame(
        {
            pf.NEW: [10.0, np.nan, 20.0, 40.0],  # measured in 3 periods: baseline (10 + 20) / 2
            pf.CLV: [np.nan, np.nan, np.nan, 50.0],  # one period: no baseline
            pf.RETENTION: [np.nan, 0.5, 0.7, 0.9],
        },
        index=pd.date_range("2024-01-01", periods=4, freq="QS"),
    )
    assert pf.baseline(kpis, pf.NEW) == 15.0
    assert pf.baseline(kpis, pf.RETENTION) == pytest.approx(0.6)
    assert pf.baseline(kpis, pf.CLV) is None
    assert pf.baseline(kpis, pf.CAC) is None  # not measured at all
    targets = pf.kpi_targets(
        kpis, {pf.NEW: None, pf.RETENTION: 0.6, pf.CLV: None, pf.CAC: None, s.NPS: 20}
    )
    assert targets == {pf.NEW: 15.0, pf.RETENTION: 0.6, s.NPS: 20}  # agreed targets kept
    assert list(targets) == [pf.NEW, pf.RETENTION, s.NPS]
    assert pf.kpi_targets(kpis, {pf.RETENTION: None})[pf.RETENTION] == pytest.approx(0.6)
    with pytest.raises(CRMError, match="no KPI called 'happiness'"):
        pf.kpi_targets(kpis, {"happiness": 1})


def test_value_after_survey_by_hand():
    surveys = frame(
        [("R1", "A", "2024-01-01", 10), ("R2", "B", "2024-01-01", 2), ("R3", "C", "2024-11-01", 9)],
        (s.RESPONSE_ID, s.CUSTOMER_ID, s.DATE, s.NPS),
        dates=(s.DATE,),
    )
    orders = tx(
        [
            ("1", "A", "2024-03-01", 40.0, "web"),
            ("2", "A", "2024-06-01", 60.0, "web"),
            ("3", "B", "2024-01-01", 30.0, "web"),  # on the survey day: not after
            ("4", "C", "2024-12-01", 99.0, "web"),
        ]
    )
    after = pf.value_after_survey(surveys, orders, days=180, as_of="2024-12-31")
    assert list(after.index) == ["promoters", "detractors"]  # C answered too late to judge
    assert after.loc["promoters", pf.RETAINED] == 1.0
    assert after.loc["promoters", pf.REVENUE_AFTER] == 100.0
    assert after.loc["detractors", pf.REVENUE_AFTER] == 0.0


# --- implementation ---------------------------------------------------------------------------


def _readiness():
    bank = assessment.load_bank("payne_frow_readiness")
    scores = {"readiness_assessment": 1.5, "change_management": 2.5, "project_management": 4.5}
    scores["employee_engagement"] = 3.0
    rows = [
        {s.QUESTION_ID: q, s.REALITY: scores[area]}
        for q, area in bank.questions[assessment.AREA].items()
    ]
    return assessment.score(bank, pd.DataFrame(rows))


def test_readiness_actions_by_hand():
    actions = pf.readiness_actions(_readiness())
    assert actions.index[0] == "readiness_assessment"  # the lowest reality comes first
    assert actions.loc["readiness_assessment", assessment.STAGE] == "not ready"
    assert actions.loc["change_management", pf.GAP_TO_READY] == 1.5  # ready from 4
    assert actions.loc["project_management", pf.GAP_TO_READY] == 0.0
    assert actions.loc["project_management", assessment.ACTION] == "keep it up"
    assert actions.loc["employee_engagement", assessment.STAGE] == "developing"


# --- charts -------------------------------------------------------------------------------------


def test_plots_draw_on_the_axes_given():
    figure = Figure()
    ax = figure.add_subplot()
    position = pf.StrategyPosition(0.7, 0.2, "customer-based marketing", 0.5, "")
    assert pf_plots.plot_strategy_matrix(position, ax=ax) is ax
    marker = [line for line in ax.get_lines() if line.get_label() == "client"][0]
    assert marker.get_xdata()[0] == 0.2 and marker.get_ydata()[0] == 0.7
    assert len(figure.axes) == 1


def test_plot_equity_curve_marks_the_current_equity():
    ax = pf_plots.plot_equity_curve(100, 0.8, 0.12, customers=10)
    marker = ax.get_lines()[1]
    assert marker.get_ydata()[0] == pytest.approx(2500)
    curve = ax.get_lines()[0]
    assert np.all(np.diff(curve.get_ydata()) > 0)  # equity rises with retention


def test_plot_data_quality_shows_the_scores(small_folder):
    audit = quality.audit_data_quality(small_folder, link_people=False)
    ax = pf_plots.plot_data_quality(audit.scores)
    image = ax.get_images()[0].get_array()
    assert image.shape == audit.scores.shape
    np.testing.assert_allclose(image.filled(np.nan), audit.scores.to_numpy(), equal_nan=True)
    assert "66.7%" in [t.get_text() for t in ax.texts]


def test_plot_scorecard_colours_by_status():
    card = pd.DataFrame(
        {
            pf.LABEL: ["retention", "cost"],
            pf.VALUE: [0.3, 5.0],
            pf.TARGET: [0.6, 10.0],
            pf.STATUS: [pf.RED, pf.GREEN],
            pf.DIRECTION: ["higher is better", "lower is better"],
        }
    )
    ax = pf_plots.plot_scorecard(card)
    widths = [p.get_width() for p in ax.patches]
    assert widths == pytest.approx([0.5, 2.0])  # 0.3 / 0.6 and 10 / 5
    colours = [p.get_facecolor() for p in ax.patches]
    assert colours[0] != colours[1]


def test_plot_segment_profile_channel_and_readiness_charts():
    profile = pf.segment_profile(PROFILE_TX, pd.Series({"A": "X", "C": "Y"}), as_of="2024-12-31")
    ax = pf_plots.plot_segment_profile(profile)
    points = np.vstack([c.get_offsets() for c in ax.collections])
    assert len(points) == len(profile)
    assert set(points[:, 1]) == set(profile[pf.REVENUE_PER_CUSTOMER])

    # colours follow the sign of growth: a shrinking segment red, a growing one green
    planted = profile.iloc[:2].assign(**{pf.GROWTH: [-0.37, 0.2]})
    ax = pf_plots.plot_segment_profile(planted, period="2024-10-01 to 2024-12-31")
    points = ax.collections[-1]
    red, green = points.to_rgba(points.get_array())
    assert red[0] > red[1] and green[1] > green[0]
    both_grow = planted.assign(**{pf.GROWTH: [0.05, 0.3]})  # no red for a small growth
    points = pf_plots.plot_segment_profile(both_grow).collections[-1]
    assert all(g > r for r, g, *_ in points.to_rgba(points.get_array()))
    assert "2024-10-01 to 2024-12-31" in ax.figure.axes[-1].get_ylabel()

    mix = pf.channel_mix(CHANNEL_TX, pd.Series({"A": "X", "B": "Y"}))
    ax = pf_plots.plot_channel_mix(mix)
    assert len(ax.patches) == 2 * 2  # two segments x two channels

    result = _readiness()
    ax = pf_plots.plot_readiness(result)
    widths = sorted(bar.get_width() for bar in ax.containers[0])
    assert widths == sorted(result.areas[s.REALITY])

    ax = pf_plots.plot_kpi_trend(pf.kpi_table(_kpi_client()), pf.RETENTION, target=0.6)
    assert ax.get_lines()[0].get_ydata().tolist() == [0.5, 0.5]
    assert ax.get_lines()[1].get_ydata()[0] == 0.6


def test_plot_errors_are_user_errors():
    with pytest.raises(CRMError, match="no 'nps'"):
        pf_plots.plot_experience_by_channel(pd.DataFrame({pf.MEAN_CSAT: [4.0]}), s.NPS)
    with pytest.raises(CRMError, match="no 'happiness'"):
        pf_plots.plot_kpi_trend(pf.kpi_table(_kpi_client()), "happiness")


# --- widgets ------------------------------------------------------------------------------------


def test_scorecard_explorer_follows_the_targets():
    kpis = pd.DataFrame({pf.RETENTION: [0.5, 0.58]}, index=pd.date_range("2024", periods=2))
    box = pf_widgets.scorecard_explorer(kpis, {pf.RETENTION: 0.6})
    table = box.children[1]
    assert "amber" in table.value
    target = box.children[0].children[0].children[0]
    target.value = 0.8
    assert "red" in table.value and "amber" not in table.value
    target.value = 0.5
    assert "green" in table.value


def test_equity_explorer_follows_the_retention_rate():
    economics = pf.retention_economics(ECON_TX, as_of="2024-12-31")
    box = pf_widgets.equity_explorer(economics)
    slider, answer = box.children[0], box.children[1]
    slider.value = 0.8
    expected = pf.customer_equity(economics.margin, 0.8, economics.discount_rate, 3)
    assert f"{expected:,.0f}" in answer.value
    assert math.isclose(slider.value, 0.8)


def test_channel_paths_equal_a_plain_loop_over_each_orders_window():
    # The paths are found by binary search over runs of one channel; a plain loop over each
    # order's window (the definition in the docstring) must give the same counts.
    rng = np.random.default_rng(7)
    n, m = 300, 600
    tx = pd.DataFrame(
        {
            s.ORDER_ID: [f"o{i}" for i in range(n)],
            s.CUSTOMER_ID: [f"c{i}" for i in rng.integers(0, 12, n)],
            s.ORDER_DATE: pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, n), "D"),
            s.REVENUE: 10.0,
            s.CHANNEL: rng.choice(["web", "store"], n),
        }
    )
    touches = pd.DataFrame(
        {
            s.INTERACTION_ID: [f"i{i}" for i in range(m)],
            s.CUSTOMER_ID: [f"c{i}" for i in rng.integers(0, 14, m)],
            s.TIMESTAMP: pd.Timestamp("2023-12-15")
            + pd.to_timedelta(rng.integers(0, 105 * 24 * 60, m), "min"),
            s.CHANNEL: rng.choice(["email", "sms", "web"], m),
            s.KIND: rng.choice([s.KIND_CAMPAIGN_HOLDOUT, "visit"], m, p=[0.2, 0.8]),
        }
    )
    lookback, most = 20, 2
    kept = touches[touches[s.KIND] != s.KIND_CAMPAIGN_HOLDOUT].sort_values(s.TIMESTAMP, kind="stable")
    expected = {}
    for order in tx.drop_duplicates(s.ORDER_ID).itertuples(index=False):
        day = kept[s.TIMESTAMP].dt.normalize()
        window = kept[
            (kept[s.CUSTOMER_ID] == order.customer_id)
            & (day <= order.order_date)
            & (day >= order.order_date - pd.Timedelta(days=lookback))
        ][s.CHANNEL].tolist()
        steps = [c for i, c in enumerate(window) if i == 0 or c != window[i - 1]][-most:]
        label = " > ".join([*(steps or [pf.NO_TOUCH]), f"[{order.channel} order]"])
        expected[label] = expected.get(label, 0) + 1
    paths = pf.channel_paths(tx, touches, lookback_days=lookback, max_touches=most, top=1000)
    assert dict(zip(paths[pf.PATH], paths[pf.ORDERS], strict=True)) == expected


def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and a.x1 > b.x0 and a.y0 < b.y1 and a.y1 > b.y0


def test_segment_names_overlap_neither_each_other_nor_another_bubble():
    # three segments almost on one spot (as service, convenience and mixed in the sample)
    profile = pd.DataFrame(
        {
            pf.CUSTOMER_SHARE: [0.06, 0.065, 0.07, 0.6],
            pf.REVENUE_PER_CUSTOMER: [230.0, 222.0, 226.0, 215.0],
            s.REVENUE: [1.4e4, 1.5e4, 1.6e4, 1.3e5],
            pf.GROWTH: [0.2, 0.1, 0.3, 0.15],
            pf.CUSTOMERS: [60, 65, 70, 600],
        },
        index=["service", "convenience", "mixed", "not surveyed"],
    )
    figure = Figure(figsize=(8, 5), layout="constrained")
    ax = pf_plots.plot_segment_profile(profile, ax=figure.add_subplot(), currency="EUR")
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    labels = {t.get_text(): t.get_window_extent(renderer) for t in ax.texts}
    assert set(labels) == set(profile.index)
    names = list(labels)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not _boxes_overlap(labels[a], labels[b]), (a, b)
    centres = ax.transData.transform(
        profile[[pf.CUSTOMER_SHARE, pf.REVENUE_PER_CUSTOMER]].to_numpy()
    )
    inside = [
        name
        for name, box in labels.items()
        for other, (cx, cy) in zip(profile.index, centres, strict=True)
        if other != name and box.x0 < cx < box.x1 and box.y0 < cy < box.y1
    ]
    assert inside == []  # no name sits on another segment's centre


def test_an_nps_of_zero_and_a_kpi_without_attainment_stay_visible():
    experience = pd.DataFrame({s.NPS: [0.0, -9.0, -11.0]}, index=["phone", "store", "web"])
    ax = pf_plots.plot_experience_by_channel(experience, s.NPS)
    markers = ax.collections[-1].get_offsets()
    assert [float(v) for v in markers[:, 1]] == [0.0, -9.0, -11.0]  # a mark at every value
    low, high = ax.get_ylim()
    assert low < -11.0 and high > 0.0

    card = pd.DataFrame(
        {
            pf.LABEL: ["NPS", "retention"],
            pf.VALUE: [-5.3, 0.58],
            pf.TARGET: [20.0, 0.6],
            pf.STATUS: [pf.RED, pf.AMBER],
            pf.DIRECTION: ["higher is better", "higher is better"],
        }
    )
    ax = pf_plots.plot_scorecard(card)
    assert [p.get_width() for p in ax.patches] == pytest.approx([0.0, 0.58 / 0.6])
    marker = ax.collections[-1].get_offsets()
    assert marker.tolist() == [[0.0, 0.0]]  # the NPS row, at 0 attainment
    assert "-5.3 vs target 20" in [t.get_text() for t in ax.texts]
    # a count of thousands reads as one, not as 3.29e+03
    card = card.assign(**{pf.VALUE: [3287.0, 0.58], pf.TARGET: [2375.4, 0.6]})
    labels = [t.get_text() for t in pf_plots.plot_scorecard(card).texts]
    assert "3,287 vs target 2,375" in labels and "0.58 vs target 0.6" in labels


def test_kpi_trend_ticks_name_the_periods_under_their_points():
    kpis = pd.DataFrame(
        {pf.RETENTION: [0.5, 0.55, 0.6]},
        index=pd.to_datetime(["2024-01-01", "2024-04-01", "2024-07-01"]),
    )
    ax = pf_plots.plot_kpi_trend(kpis, pf.RETENTION, target=0.6, freq="Q")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2024Q1", "2024Q2", "2024Q3"]
    assert ax.get_xticks().tolist() == ax.get_lines()[0].get_xdata().tolist()
