"""crmlib.models.value_chain, its charts and explorer: hand-computed small examples for every
rule, and the planted truth of a synthetic company (profit per record to the cent,
whales and the costly-to-serve recovered, the whale curve's shape)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from crmlib import synth
from crmlib.analytics import assessment, concentration, segments
from crmlib.analytics import profitability as prof
from crmlib.data import datasets
from crmlib.data import schema as s
from crmlib.data.io import ClientData
from crmlib.errors import CRMError, DataError
from crmlib.models import value_chain as vc
from crmlib.plots import value_chain as vc_plots
from crmlib.widgets.value_chain import cost_rate_explorer

SEED = 20240618  # the one seed of this file's synthetic companies
D = pd.Timestamp


def _client(tables, as_of=None) -> ClientData:
    return ClientData(dict(tables), pd.DataFrame(), {}, as_of=None if as_of is None else D(as_of))


def _tx(rows, columns):
    frame = pd.DataFrame(rows, columns=list(columns))
    frame[s.ORDER_DATE] = pd.to_datetime(frame[s.ORDER_DATE])
    return frame


# --- customer profitability by hand ------------------------------------------------------
#
# Four customers to 2024-03-31. Products: P1 list price 10 (kitchen), P2 list price 30 (home).
#   A  O1 on the web: 2 x P1 for 18 (10 % off) and 1 x P2 for 30; O2 in store: 1 x P1 for 10;
#      P2 of O1 returned (revenue -30, cost 0: written off); a web visit (no cost).
#   B  O3 by phone: 1 x P2 for 24 (20 % off); a phone ticket.
#   C  an e-mail campaign contact, nothing bought.
#   D  a customer record, nothing else.
# Rates: order web 2, store 4, phone 12; delivery web 5; return web 3; ticket phone 10;
#        contact email 0.5.
#   A  revenue 18 + 30 + 10 - 30 = 28; product cost 12 + 20 + 6 = 38;
#      cost-to-serve 2 (web order) + 4 (store order) + 5 (web delivery) + 3 (return) = 14;
#      profit 28 - 38 - 14 = -24; orders 2; units 2 + 1 + 1 = 4
#   B  revenue 24, product cost 20, cost-to-serve 12 + 10 = 22, profit -18; orders 1; units 1
#   C  cost-to-serve 0.5, profit -0.5;  D  everything 0
HAND = {
    "customers": pd.DataFrame({s.CUSTOMER_ID: ["A", "B", "C", "D"]}),
    "transactions": _tx(
        [
            ("O1", "A", "2024-01-10", "P1", 2.0, 18.0, 12.0, "web"),
            ("O1", "A", "2024-01-10", "P2", 1.0, 30.0, 20.0, "web"),
            ("O2", "A", "2024-02-01", "P1", 1.0, 10.0, 6.0, "store"),
            ("O1", "A", "2024-02-05", "P2", -1.0, -30.0, 0.0, "web"),
            ("O3", "B", "2024-03-01", "P2", 1.0, 24.0, 20.0, "phone"),
        ],
        (
            s.ORDER_ID,
            s.CUSTOMER_ID,
            s.ORDER_DATE,
            s.PRODUCT_ID,
            s.QUANTITY,
            s.REVENUE,
            s.COST,
            s.CHANNEL,
        ),
    ),
    "products": pd.DataFrame(
        {
            s.PRODUCT_ID: ["P1", "P2"],
            s.CATEGORY: ["kitchen", "home"],
            s.UNIT_PRICE: [10.0, 30.0],
        }
    ),
    "tickets": pd.DataFrame(
        {
            s.TICKET_ID: ["T1"],
            s.CUSTOMER_ID: ["B"],
            s.OPENED_AT: [D("2024-03-02 11:00")],
            s.CHANNEL: ["phone"],
        }
    ),
    "interactions": pd.DataFrame(
        {
            s.CUSTOMER_ID: ["C", "A"],
            s.TIMESTAMP: [D("2024-03-05"), D("2024-03-06")],
            s.CHANNEL: ["email", "web"],
            s.KIND: [s.KIND_CAMPAIGN_CONTACT, s.KIND_WEB_VISIT],
        }
    ),
    "cost_rates": pd.DataFrame(
        [
            ("order", "web", 2.0),
            ("order", "store", 4.0),
            ("order", "phone", 12.0),
            ("delivery", "web", 5.0),
            ("return", "web", 3.0),
            ("ticket", "phone", 10.0),
            ("contact", "email", 0.5),
        ],
        columns=[s.ACTIVITY, s.CHANNEL, s.UNIT_COST_RATE],
    ),
}


def test_customer_profitability_by_hand():
    p = prof.customer_profitability(_client(HAND, "2024-03-31"))
    assert list(p.index) == ["A", "B", "C", "D"]
    expected = {
        "A": (28.0, 38.0, 14.0, -24.0, 2, 4.0),
        "B": (24.0, 20.0, 22.0, -18.0, 1, 1.0),
        "C": (0.0, 0.0, 0.5, -0.5, 0, 0.0),
        "D": (0.0, 0.0, 0.0, 0.0, 0, 0.0),
    }
    columns = [s.REVENUE, prof.PRODUCT_COST, prof.COST_TO_SERVE, prof.PROFIT, prof.ORDERS, prof.UNITS]
    for customer, row in expected.items():
        assert tuple(p.loc[customer, columns]) == pytest.approx(row), customer
    assert prof.profit_basis(p) == "profit"


def test_profit_basis_says_what_is_missing():
    no_rates = {k: v for k, v in HAND.items() if k != "cost_rates"}
    p = prof.customer_profitability(_client(no_rates, "2024-03-31"))
    assert prof.profit_basis(p) == "gross margin"
    assert p[prof.COST_TO_SERVE].isna().all()
    assert p.loc["A", prof.PROFIT] == pytest.approx(28.0 - 38.0)
    revenue_only = {"transactions": HAND["transactions"].drop(columns=s.COST)}
    p = prof.customer_profitability(_client(revenue_only, "2024-03-31"))
    assert prof.profit_basis(p) == "revenue"
    assert (p[prof.PROFIT] == p[s.REVENUE]).all()
    with pytest.raises(CRMError, match="no cost rates"):
        vc.profitability_matrix(p, vc.net_price(_client(revenue_only, "2024-03-31")))


def test_net_price_by_hand():
    data = _client(HAND, "2024-03-31")
    assert vc.net_price_basis(data) == vc.PRICE_LIST
    # A paid 18 + 30 + 10 = 58 for a list value of 2 x 10 + 30 + 10 = 60; B 24 for 30
    listed = vc.net_price(data)
    assert listed.to_dict() == pytest.approx({"A": 58 / 60, "B": 0.8})
    assert vc.net_price(data, vc.PRICE_UNIT).to_dict() == pytest.approx({"A": 58 / 4, "B": 24.0})
    assert vc.net_price(data, vc.PRICE_ORDER).to_dict() == pytest.approx({"A": 29.0, "B": 24.0})
    bare = _client({"transactions": HAND["transactions"].drop(columns=s.QUANTITY)})
    assert vc.net_price_basis(bare) == vc.PRICE_ORDER


# --- the whale curve, its figures and the classes -------------------------------------------

PROFITS = pd.Series({"a": 30.0, "b": 50.0, "c": -40.0, "d": 20.0, "e": -10.0})  # total 50


def test_whale_curve_by_hand():
    curve = concentration.concentration_curve(PROFITS)
    # ranked 50, 30, 20, -10, -40: cumulative 50, 80, 100, 90, 50 of a total of 50
    assert curve[concentration.VALUE_SHARE].tolist() == pytest.approx([0, 1.0, 1.6, 2.0, 1.8, 1.0])
    assert curve[concentration.CUSTOMER_SHARE].tolist() == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert curve[s.CUSTOMER_ID].tolist()[1:] == ["b", "a", "d", "e", "c"]
    summary = concentration.whale_summary(PROFITS, top=0.2)
    assert summary[concentration.TOP_SHARE] == pytest.approx(1.0)  # the top customer earns all of it
    assert summary[concentration.PEAK_SHARE] == pytest.approx(2.0)
    assert summary[concentration.PEAK_AT] == pytest.approx(0.6)
    assert summary[concentration.LOSS_MAKING_SHARE] == pytest.approx(0.4)
    assert summary[concentration.LOSSES_SHARE] == pytest.approx(1.0)  # the tail loses 50 = the total
    with pytest.raises(CRMError, match="positive total"):
        concentration.concentration_curve(-PROFITS)


def test_profit_gini_by_hand():
    # sorted -40, -10, 20, 30, 50; weights 2i - n - 1 = -4, -2, 0, 2, 4:
    # 160 + 20 + 0 + 60 + 200 = 440, over n sum|x| = 5 x 150
    assert concentration.profit_gini(PROFITS) == pytest.approx(440 / 750)
    x = PROFITS.to_numpy()
    mean_difference = np.abs(x[:, None] - x[None, :]).sum()
    assert concentration.profit_gini(PROFITS) == pytest.approx(mean_difference / (2 * 25 * np.abs(x).mean()))
    assert concentration.profit_gini([0, 0, 0, 1]) == pytest.approx(0.75)  # Gini's (n - 1) / n
    assert concentration.profit_gini([5, 5, 5]) == 0.0


def test_abc_classes_by_hand():
    values = pd.Series({"p": 25.0, "q": 60.0, "r": 10.0, "s": 5.0, "t": 0.0, "u": -3.0})
    # positive total 100; profit of those ranked before: q 0, p 60, r 85, s 95, t 100
    classes = vc.abc_classes(values)
    assert classes.to_dict() == {"p": "A", "q": "A", "r": "B", "s": "C", "t": "C", "u": "D"}
    assert list(classes.cat.categories) == list(vc.ABC_CLASSES)
    with pytest.raises(CRMError):
        vc.abc_classes(values, a=0.9, b=0.8)


# --- the profitability matrix and the flags ---------------------------------------------------

MATRIX_CUSTOMERS = pd.DataFrame(
    {
        s.REVENUE: [100.0, 80.0, 120.0, 60.0],
        prof.COST_TO_SERVE: [40.0, 40.0, 10.0, 10.0],
        prof.ORDERS: [2, 2, 2, 2],
        prof.PROFIT: [5.0, -20.0, 40.0, 10.0],
    },
    index=pd.Index(["W", "X", "Y", "Z"], name=s.CUSTOMER_ID),
)
PRICES = pd.Series({"W": 0.95, "X": 0.70, "Y": 0.95, "Z": 0.70})


def test_profitability_matrix_by_hand():
    matrix = vc.profitability_matrix(MATRIX_CUSTOMERS, PRICES, price_split=0.8, cost_split=10)
    table = matrix.customers
    assert table[vc.COST_PER_ORDER].tolist() == [20.0, 20.0, 5.0, 5.0]
    assert table[vc.QUADRANT].tolist() == [
        vc.CARRIAGE_TRADE,  # high price, high cost
        vc.AGGRESSIVE,  # low price, high cost
        vc.PASSIVE,  # high price, low cost
        vc.BARGAIN_BASEMENT,  # low price, low cost
    ]
    default = vc.profitability_matrix(MATRIX_CUSTOMERS, PRICES)  # the medians
    assert (default.price_split, default.cost_split) == (0.825, 12.5)
    assert default.customers[vc.QUADRANT].tolist() == table[vc.QUADRANT].tolist()
    summary = matrix.summary()
    assert summary.loc[vc.AGGRESSIVE, prof.PROFIT] == -20.0
    assert summary[vc.SHARE].sum() == pytest.approx(1.0)


def test_strategic_flags_by_hand():
    p = pd.DataFrame(
        {
            s.REVENUE: [100.0, 90.0, 10.0, 20.0, 30.0, 40.0],
            prof.COST_TO_SERVE: [5.0, 5.0, 5.0, 5.0, 12.0, 12.0],
            prof.ORDERS: [1, 1, 1, 1, 1, 1],
            prof.PROFIT: [10.0, 5.0, -1.0, 3.0, -4.0, 2.0],
        },
        index=pd.Index(list("uvwxyz"), name=s.CUSTOMER_ID),
    )
    clv = pd.Series({"u": 1.0, "v": 2.0, "w": 50.0, "x": 3.0, "y": 4.0})
    flags = vc.strategic_flags(p, clv=clv, top=0.2)
    # median cost per order 5: y and z cost at least 2 x 5, and only y loses money
    assert flags[vc.COSTLY_TO_SERVE].tolist() == [False, False, False, False, True, False]
    assert flags[vc.HIGH_VOLUME].tolist() == [True, True, False, False, False, False]
    assert flags[vc.HIGH_FUTURE_VALUE].tolist() == [False, False, True, False, False, False]
    assert flags[vc.LOSS_MAKING].sum() == 2
    assert vc.strategic_flags(p)[vc.HIGH_FUTURE_VALUE].isna().all()  # no CLV, no judgement
    # benchmark, inspiration, door opener: the account team's judgement, never a guess
    for kind in (vc.BENCHMARK, vc.INSPIRATION, vc.DOOR_OPENER):
        assert flags[kind].isna().all()
    assert set(vc.STRATEGIC_SIGNIFICANCE) == {
        vc.HIGH_FUTURE_VALUE, vc.HIGH_VOLUME, vc.BENCHMARK, vc.INSPIRATION, vc.DOOR_OPENER
    }
    with pytest.raises(CRMError, match="cost_factor"):
        vc.strategic_flags(p, cost_factor=0)


def test_high_volume_customers_absorb_fixed_costs_even_at_a_thin_margin():
    # Buttle & Maklan's high-volume customers: the largest volume, whatever the margin;
    # v buys most and earns least, the costly-to-serve rule does not make it less significant
    p = pd.DataFrame(
        {
            s.REVENUE: [100.0, 500.0, 50.0, 40.0, 30.0],
            prof.COST_TO_SERVE: [5.0, 5.0, 5.0, 5.0, 5.0],
            prof.ORDERS: [2, 10, 1, 1, 1],
            prof.PROFIT: [30.0, 1.0, 15.0, 12.0, 9.0],
        },
        index=pd.Index(list("uvwxy"), name=s.CUSTOMER_ID),
    )
    flags = vc.strategic_flags(p, top=0.2)
    assert flags[vc.HIGH_VOLUME].tolist() == [False, True, False, False, False]
    assert not flags[vc.COSTLY_TO_SERVE].any() and not flags[vc.LOSS_MAKING].any()


def test_without_any_cost_no_customer_is_called_loss_making():
    # customer_profitability on data without product cost or cost rates: profit = revenue
    p = pd.DataFrame(
        {
            s.REVENUE: [100.0, -20.0],  # B only returned goods
            prof.PRODUCT_COST: [np.nan, np.nan],
            prof.COST_TO_SERVE: [np.nan, np.nan],
            prof.ORDERS: [1, 0],
            prof.PROFIT: [100.0, -20.0],
        },
        index=pd.Index(["A", "B"], name=s.CUSTOMER_ID),
    )
    assert prof.profit_basis(p) == "revenue"
    assert vc.strategic_flags(p)[vc.LOSS_MAKING].isna().all()  # unknown, not False and not True
    costed = p.assign(**{prof.PRODUCT_COST: [60.0, 0.0], prof.PROFIT: [40.0, -20.0]})
    assert vc.strategic_flags(costed)[vc.LOSS_MAKING].tolist() == [False, True]


# --- customer intimacy -----------------------------------------------------------------------

KNOW = {
    "customers": pd.DataFrame(
        {
            s.CUSTOMER_ID: ["A", "B", "C"],
            s.NAME: ["x", "y", "z"],
            s.EMAIL: ["a@e.com", None, "c@e.com"],
            s.PHONE: ["1", None, "3"],
            s.CITY: ["L", "M", "N"],
        }
    ),
    "transactions": _tx(
        [("A", "2024-01-01", 100.0), ("B", "2024-01-02", 50.0), ("E", "2024-01-03", 10.0)],
        (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE),
    ),
    "interactions": pd.DataFrame({s.CUSTOMER_ID: ["A", "A"]}),
    "tickets": pd.DataFrame({s.CUSTOMER_ID: ["B"]}),
    "surveys": pd.DataFrame({s.CUSTOMER_ID: ["A"], s.NPS: [9.0]}),
}


def test_customer_knowledge_by_hand():
    known = vc.customer_knowledge(_client(KNOW))
    # four profile fields in this customers table: B lacks e-mail and phone; E has no record
    assert known[vc.PROFILE_COMPLETENESS].to_dict() == {"A": 1.0, "B": 0.5, "C": 1.0, "E": 0.0}
    assert known[vc.TOUCHPOINTS].to_dict() == {"A": 3, "B": 1, "C": 0, "E": 0}
    assert known[vc.SURVEYED].tolist() == [True, False, False, False]
    value = pd.Series({"A": 100.0, "B": 50.0, "C": 0.0, "E": 10.0})
    by_value = vc.knowledge_by_value(known, value, top=0.5)  # A and B are the top half
    top = by_value.iloc[0]
    assert top[vc.CUSTOMERS] == 2
    assert top[vc.PROFILE_COMPLETENESS] == pytest.approx(0.75)
    assert top[vc.SURVEYED] == pytest.approx(0.5)
    thin = vc.thin_knowledge(known, value, top=0.5)
    assert thin.to_dict() == {"A": False, "B": True}  # B: incomplete and never surveyed
    # the rest (C, E) are known less (completeness 0.25 vs 0.75, nobody surveyed):
    # the headline says so first, even though half the top has thin knowledge
    headline = vc.knowledge_headline(by_value, thin)
    assert headline.startswith("The top 50 % by value are better known than the rest")
    assert "1 of the 2 (50%)" in headline
    flipped = vc.knowledge_by_value(known, -value, top=0.5)  # now C and E are the top half
    assert vc.knowledge_headline(flipped, thin).startswith("Knowledge is thinnest where value")


# --- network development ---------------------------------------------------------------------


def test_partners_found_and_measured():
    tx = _tx(
        [
            ("A", "2024-01-01", 40.0, "DHL"),
            ("A", "2024-01-05", 20.0, "DHL"),
            ("A", "2024-01-09", -20.0, "DHL"),
            ("B", "2024-01-02", 30.0, "UPS"),
            ("B", "2024-01-03", 30.0, "UPS"),
        ],
        (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, "carrier"),
    )
    tickets = pd.DataFrame({s.CUSTOMER_ID: ["A", "A", "B"], s.CSAT: [2.0, 3.0, 5.0]})
    data = _client({"transactions": tx, "tickets": tickets})
    assert vc.partner_columns(data) == [("transactions", "carrier")]
    profit = pd.DataFrame({prof.PROFIT: [12.0, 30.0]}, index=pd.Index(["A", "B"]))
    table = vc.partner_performance(data, "transactions", "carrier", profit)
    assert table.loc["DHL", vc.RETURN_RATE] == pytest.approx(0.5)  # one of two purchases
    assert table.loc["UPS", vc.RETURN_RATE] == 0.0
    assert table.loc["DHL", vc.TICKETS_PER_CUSTOMER] == 2.0
    assert table.loc["DHL", vc.MEAN_CSAT] == pytest.approx(2.5)
    assert table.loc["UPS", vc.PROFIT_PER_CUSTOMER] == 30.0
    assert vc.partner_columns(_client(HAND)) == []


def test_network_development_finds_the_supplier_of_each_product():
    tx = _tx(
        [
            ("A", "2024-01-01", "P1", 40.0),
            ("A", "2024-01-05", "P1", -40.0),  # a return of Acme's product
            ("A", "2024-01-09", "P2", 20.0),
            ("B", "2024-01-02", "P2", 30.0),
            ("B", "2024-01-03", "P3", 30.0),  # P3 has no supplier on file
        ],
        (s.CUSTOMER_ID, s.ORDER_DATE, s.PRODUCT_ID, s.REVENUE),
    )
    products = pd.DataFrame(
        {s.PRODUCT_ID: ["P1", "P2", "P3"], s.SUPPLIER: ["Acme", "Bolt", None]}
    )
    data = _client({"transactions": tx, "products": products})
    assert vc.partner_columns(data) == [("products", s.SUPPLIER)]
    table = vc.partner_performance(data, "products", s.SUPPLIER)
    assert table.loc["Acme", vc.LINES] == 2 and table.loc["Bolt", vc.LINES] == 2
    assert table.loc["Acme", vc.RETURN_RATE] == pytest.approx(1.0)  # one return, one purchase
    assert table.loc["Bolt", vc.CUSTOMERS] == 2
    assert table.loc["Bolt", s.REVENUE] == pytest.approx(50.0)
    empty = products.assign(**{s.SUPPLIER: None})
    assert vc.partner_columns(_client({"transactions": tx, "products": empty})) == []
    # order lines that do not name their product cannot be followed to a supplier
    unnamed = tx.drop(columns=[s.PRODUCT_ID])
    assert vc.partner_columns(_client({"transactions": unnamed, "products": products})) == []


# --- value proposition -----------------------------------------------------------------------


def test_needs_segments_by_hand():
    surveys = pd.DataFrame(
        [
            ("X", 5, 3, 3, 3),
            ("X", 3, 3, 3, 3),  # X's mean: price 4, the others 3
            ("Y", 4, 4, 2, 2),  # a tie: mixed
            ("Z", 2, 2, 5, 1),
            ("W", 5, None, 1, 1),  # an unanswered need: left out
        ],
        columns=[s.CUSTOMER_ID, *s.NEEDS],
    )
    assert segments.needs_segments(surveys).to_dict() == {"X": "price", "Y": segments.MIXED, "Z": "quality"}


def test_value_proposition_suppresses_small_cells():
    ids = [f"c{i}" for i in range(8)]
    rows = []
    for i, c in enumerate(ids[:6]):  # six price customers: kitchen 30 + home 10 each, on the web
        rows += [
            (f"O{i}", c, "2024-01-01", "P1", 30.0, "web"),
            (f"O{i}", c, "2024-01-01", "P2", 10.0, "web"),
        ]
    rows += [
        ("O6", "c6", "2024-01-02", "P2", 50.0, "store"),
        ("O7", "c7", "2024-01-02", "P2", 70.0, "store"),
    ]
    tx = _tx(rows, (s.ORDER_ID, s.CUSTOMER_ID, s.ORDER_DATE, s.PRODUCT_ID, s.REVENUE, s.CHANNEL))
    surveys = pd.DataFrame(
        {
            s.CUSTOMER_ID: ids,
            **{n: [5, 1, 1, 1][k] * np.ones(8) for k, n in enumerate(s.NEEDS)},
            s.NPS: [10, 10, 10, 0, 8, 8, 9, 9],
        }
    )
    surveys.loc[6:, list(s.NEEDS)] = [1, 1, 5, 1]  # c6 and c7 value quality
    data = _client({"transactions": tx, "products": HAND["products"], "surveys": surveys})
    profit = prof.customer_profitability(data)
    table = vc.value_proposition(data, profit, segments.needs_segments(surveys))
    price = table.loc["price"]
    assert price[vc.CUSTOMERS] == 6 and not price[vc.SUPPRESSED]
    assert price[vc.REVENUE_PER_CUSTOMER] == pytest.approx(40.0)
    assert price[vc.TOP_CATEGORIES] == "kitchen 75 %, home 25 %"
    assert price[vc.CHANNEL_MIX] == "web 100 %"
    assert price["need_price"] == 5.0
    assert price[s.NPS] == pytest.approx(100 * (3 / 6 - 1 / 6))
    quality = table.loc["quality"]  # two customers: below the five of the small-cell rule
    assert quality[vc.SUPPRESSED]
    assert pd.isna(quality[vc.CUSTOMERS]) and pd.isna(quality[vc.REVENUE_PER_CUSTOMER])
    assert pd.isna(quality[vc.TOP_CATEGORIES])


# --- relationship management ------------------------------------------------------------------

LIFE_AT = "2024-12-31"  # rules: new 90, at risk 180, lapsed 365 days
LIFE = _tx(
    [
        ("N", "2024-10-15", 10.0),  # first purchase 77 days before: new
        ("N90", "2024-10-02", 10.0),  # exactly 90 days: still new
        ("W", "2023-01-10", 10.0),
        ("W", "2024-11-01", 10.0),  # 661 days after the last one, 60 days ago: won back
        ("A", "2023-05-01", 10.0),
        ("A", "2024-08-01", 10.0),  # also after a long gap, but 152 days ago: active
        ("A180", "2024-01-01", 10.0),
        ("A180", "2024-07-04", 10.0),  # exactly 180 days: active
        ("R", "2024-03-01", 10.0),
        ("R", "2024-06-01", 10.0),  # 213 days: at risk
        ("R", "2024-12-01", -10.0),  # a return is not a purchase
        ("L365", "2023-06-01", 10.0),
        ("L365", "2024-01-01", 10.0),  # exactly 365 days: still at risk
        ("L", "2023-10-01", 10.0),  # 457 days: lapsed
        ("X", "2025-01-05", 10.0),  # after the date: not yet a customer
    ],
    (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE),
)


# the boundaries LIFE is built around (the defaults are the workbook's lapse rule: tests/analytics)
RULES = {"new_days": 90, "at_risk_days": 180, "lapsed_days": 365}


def test_lifecycle_rules_by_hand():
    stages = vc.lifecycle_stages(LIFE, at=LIFE_AT, **RULES).astype(str).to_dict()
    assert stages == {
        "A": vc.ACTIVE,
        "A180": vc.ACTIVE,
        "L": vc.LAPSED,
        "L365": vc.AT_RISK,
        "N": vc.NEW,
        "N90": vc.NEW,
        "R": vc.AT_RISK,
        "W": vc.WON_BACK,
    }
    shorter = vc.lifecycle_stages(LIFE, at=LIFE_AT, new_days=60, at_risk_days=150, lapsed_days=200)
    assert shorter["N"] == vc.ACTIVE and shorter["A"] == vc.AT_RISK and shorter["R"] == vc.LAPSED
    with pytest.raises(CRMError, match="new_days <= at_risk_days < lapsed_days"):
        vc.lifecycle_stages(LIFE, new_days=200, at_risk_days=100)


def test_stage_counts_by_hand():
    counts = vc.stage_counts(LIFE, freq="Y", as_of=LIFE_AT, **RULES)
    assert list(counts.index) == [D("2023-12-31"), D("2024-12-31")]
    # end of 2023: W, A and L365 bought 355, 244 and 213 days before (at risk); L 91 days (active)
    assert counts.loc["2023-12-31"].to_dict() == {
        vc.NEW: 0,
        vc.WON_BACK: 0,
        vc.ACTIVE: 1,
        vc.AT_RISK: 3,
        vc.LAPSED: 0,
    }
    assert counts.loc["2024-12-31"].tolist() == [2, 1, 2, 2, 1]


def test_migration_matrix_by_hand():
    m = vc.migration_matrix(LIFE, "2024-06-30", LIFE_AT, **RULES)
    expected = {
        (vc.NOT_YET, vc.NEW): 2,  # N and N90
        (vc.LAPSED, vc.WON_BACK): 1,  # W
        (vc.LAPSED, vc.ACTIVE): 1,  # A: its comeback is more than 90 days old by the end
        (vc.AT_RISK, vc.ACTIVE): 1,  # A180
        (vc.ACTIVE, vc.AT_RISK): 1,  # R
        (vc.AT_RISK, vc.AT_RISK): 1,  # L365
        (vc.AT_RISK, vc.LAPSED): 1,  # L
    }
    assert list(m.index) == [vc.NOT_YET, *vc.STAGES] and list(m.columns) == list(vc.STAGES)
    for (row, column), n in expected.items():
        assert m.loc[row, column] == n, (row, column)
    assert m.to_numpy().sum() == sum(expected.values())


def test_revenue_sources_by_hand():
    tx = _tx(
        [
            ("P", "2023-11-01", 100.0),
            ("P", "2024-03-01", 60.0),  # 121 days later: kept 60 of 100, retention 60
            ("G", "2023-10-01", 50.0),
            ("G", "2024-01-15", 90.0),
            ("G", "2024-05-01", -10.0),  # net 80: retention 50, development 30
            ("N", "2024-03-01", 40.0),  # first purchase in the period: acquisition 40
            ("W", "2023-02-01", 30.0),  # bought in the year before, then lapsed:
            ("W", "2024-06-01", 25.0),  # back after 486 days: won back 25
            ("V", "2022-06-01", 30.0),
            ("V", "2024-06-01", 25.0),  # nothing in 2023: won back 25
            ("R", "2023-12-01", 20.0),
            ("R", "2024-02-01", 20.0),  # 62 days later
            ("R", "2024-09-01", 20.0),  # 213 days later: won back 40 (its year's revenue)
            ("Q", "2023-05-01", 70.0),  # lost: not in this year's revenue
        ],
        (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE),
    )
    split = vc.revenue_sources(tx, as_of="2024-12-31", months=12, lapsed_days=180)
    assert split.to_dict() == pytest.approx(
        {
            vc.ACQUISITION: 40.0,
            vc.RETENTION: 110.0,
            vc.DEVELOPMENT: 30.0,
            vc.WON_BACK_REVENUE: 90.0,
            vc.TOTAL: 270.0,
        }
    )
    assert split.name == "2024-01-01 to 2024-12-31"
    # a longer lapse rule: R's 213 days are no lapse, so R is kept (20 before, 40 now)
    longer = vc.revenue_sources(tx, as_of="2024-12-31", months=12, lapsed_days=365)
    assert longer[vc.WON_BACK_REVENUE] == pytest.approx(50.0)
    assert (longer[vc.RETENTION], longer[vc.DEVELOPMENT]) == pytest.approx((130.0, 50.0))
    # the same customers the lifecycle calls won back (new_days 90 before 2024-09-10)
    stages = vc.lifecycle_stages(tx, at="2024-09-10", lapsed_days=180)
    assert set(stages[stages == vc.WON_BACK].index) == {"R"}
    with pytest.raises(CRMError, match="history before the period"):
        vc.revenue_sources(tx, as_of="2024-12-31", months=36)


def test_won_back_revenue_with_two_years_of_data():
    # the data start a year before the period: every existing customer bought in the year
    # before, so a "nothing the year before" rule could never find a won-back customer
    tx = _tx(
        [
            ("A", "2023-01-10", 10.0),
            ("A", "2024-03-01", 15.0),  # 416 days later: won back
            ("B", "2023-11-10", 10.0),
            ("B", "2024-01-10", 15.0),  # 61 days later: kept
        ],
        (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE),
    )
    split = vc.revenue_sources(tx, as_of="2024-12-31", months=12, lapsed_days=180)
    assert split[vc.WON_BACK_REVENUE] == pytest.approx(15.0)
    assert split[vc.RETENTION] == pytest.approx(10.0)
    assert split[vc.DEVELOPMENT] == pytest.approx(5.0)


# --- supporting conditions --------------------------------------------------------------------


def test_conditions_tied_to_the_stages_they_hold_back():
    bank = assessment.load_bank("value_chain")
    reality = {
        "leadership_culture": 40,
        "procurement": 20,
        "hr_management": 60,
        "it_data": 30,
        "organisation_design": 50,
    }
    questions = bank.questions[assessment.AREA]
    answers = pd.DataFrame(
        {
            s.QUESTION_ID: questions.index,
            s.INTENTION: 80.0,
            s.REALITY: [float(reality[a]) for a in questions],
            s.ASSESSOR: "a",
        }
    )
    table = vc.conditions_by_stage(assessment.score(bank, answers))
    assert list(table.index) == list(bank.primary_stages)
    portfolio = table.loc["customer_portfolio_analysis"]  # leadership 40, IT / data 30
    assert portfolio[vc.REALITY_MEAN] == pytest.approx(35.0)
    assert portfolio[vc.WEAKEST] == bank.areas.loc["it_data", assessment.NAME]
    network = table.loc["network_development"]  # procurement 20, HR 60, organisation 50
    assert network[vc.REALITY_MEAN] == pytest.approx(130 / 3)
    assert network[vc.WEAKEST_REALITY] == 20.0


# --- charts and the explorer ------------------------------------------------------------------


def test_charts_draw_on_the_given_axes():
    figure = Figure()
    axes = figure.subplots(2, 2)
    curve = concentration.concentration_curve(PROFITS)
    ax = vc_plots.plot_whale_curve(curve, ax=axes[0, 0])
    assert ax is axes[0, 0]
    assert ax.lines[0].get_ydata().tolist() == pytest.approx(
        (curve[concentration.VALUE_SHARE] * 100).tolist()
    )

    matrix = vc.profitability_matrix(MATRIX_CUSTOMERS, PRICES, price_split=0.8, cost_split=10)
    ax = vc_plots.plot_profitability_matrix(matrix, ax=axes[0, 1])
    assert len(ax.collections) == 4  # one scatter per quadrant
    assert ax.collections[0].get_offsets().tolist() == [[0.95, 20.0]]  # W, carriage trade
    lines = {(tuple(line.get_xdata()), tuple(line.get_ydata())) for line in ax.lines}
    assert ((0.8, 0.8), (0, 1)) in lines and ((0, 1), (10.0, 10.0)) in lines  # the splits

    migration = vc.migration_matrix(LIFE, "2024-06-30", LIFE_AT, **RULES)
    ax = vc_plots.plot_migration_matrix(migration, ax=axes[1, 0])
    shares = ax.images[0].get_array()
    assert shares[list(migration.index).index(vc.AT_RISK)].tolist() == pytest.approx(
        [0, 0, 1 / 3, 1 / 3, 1 / 3]
    )

    counts = vc.stage_counts(LIFE, freq="Y", as_of=LIFE_AT, **RULES)
    ax = vc_plots.plot_lifecycle_stages(counts, ax=axes[1, 1])
    heights = [p.get_height() for p in ax.patches]
    assert heights == counts.T.to_numpy().ravel().tolist()  # stage by stage, period by period

    own = vc_plots.plot_whale_curve(curve)
    assert own.figure is not figure
    with pytest.raises(CRMError, match="no stage counts"):
        vc_plots.plot_lifecycle_stages(counts.iloc[:0])


@pytest.fixture(scope="module")
def company():
    return synth.generate(n_customers=3000, seed=SEED)


@pytest.fixture(scope="module")
def profitability(company):
    return prof.customer_profitability(_client(company.tables, company.as_of))


def test_cost_rate_explorer_moves_profit_by_the_rate_change():
    small = synth.generate(n_customers=300, seed=SEED)
    data = _client(small.tables, small.as_of)
    explorer = cost_rate_explorer(data)
    before = explorer.state["whale"][vc.TOTAL]
    explorer.rate.value = "order/phone"
    explorer.unit_cost.value = explorer.unit_cost.value + 5.0
    tx = small.tables["transactions"]
    phone_orders = tx.loc[(tx[s.CHANNEL] == "phone") & (tx[s.REVENUE] >= 0), s.ORDER_ID].nunique()
    assert explorer.state["whale"][vc.TOTAL] == pytest.approx(before - 5.0 * phone_orders)
    assert "order/phone" in explorer.summary.value
    explorer.reset.click()
    assert explorer.state["whale"][vc.TOTAL] == pytest.approx(before)


# --- planted truth: a synthetic company ----------------------------------------------------------


def test_profit_equals_the_planted_truth_per_record(company, profitability):
    truth = company.truth.records.set_index(s.CUSTOMER_ID)
    assert set(profitability.index) == set(truth.index)  # every record, bought or not
    for column in (s.REVENUE, prof.PRODUCT_COST, prof.COST_TO_SERVE, prof.PROFIT):
        gap = (profitability[column] - truth[column].reindex(profitability.index)).abs()
        assert gap.max() < 0.005, column  # to the cent


def _planted(company, flag: str, index: pd.Index) -> np.ndarray:
    person = company.truth.records.set_index(s.CUSTOMER_ID)[synth.PERSON_ID].reindex(index)
    return company.truth.persons.set_index(synth.PERSON_ID)[flag].reindex(person).to_numpy()


def test_planted_whales_are_among_the_most_profitable(company, profitability):
    whale = _planted(company, synth.IS_WHALE, profitability.index)
    top = vc.strategic_flags(profitability, top=0.2)[vc.HIGH_VOLUME].to_numpy(dtype=bool)
    top_profit = (
        profitability[prof.PROFIT].rank(ascending=False, method="first") <= 0.2 * len(whale)
    ).to_numpy()
    recall = (top_profit & whale).sum() / whale.sum()
    precision = (top_profit & whale).sum() / top_profit.sum()
    # about 5 % of persons are whales, so the top 20 % can be at most ~25 % whales
    assert recall >= 0.85
    assert precision >= 3 * whale.mean()
    assert (top & whale).sum() / whale.sum() >= 0.85  # and among the top 20 % by revenue


def test_planted_costly_to_serve_customers_are_flagged(company, profitability):
    magnet = _planted(company, synth.IS_COST_MAGNET, profitability.index)
    flagged = vc.strategic_flags(profitability)[vc.COSTLY_TO_SERVE].to_numpy(dtype=bool)
    recall = (flagged & magnet).sum() / magnet.sum()
    precision = (flagged & magnet).sum() / flagged.sum()
    assert recall >= 0.65  # measured 0.76-0.80 over five seeds
    assert precision >= 0.55  # from a base rate of about 4 %
    bottom = (profitability[prof.PROFIT].rank(method="first") <= 0.1 * len(magnet)).to_numpy()
    assert (bottom & magnet).sum() / bottom.sum() >= 4 * magnet.mean()  # crowding the tail


def test_the_synthetic_whale_curve(profitability):
    summary = concentration.whale_summary(profitability[prof.PROFIT], top=0.2)
    # the generator's whale curve (Kaplan & Cooper): the top 20 % earn most of the profit,
    # the curve peaks above 100 % of the total, and a retailer's plausible 15-35 % of
    # customers lose money (small web orders that do not cover delivery, cost magnets)
    assert summary[concentration.TOP_SHARE] >= 0.8
    assert summary[concentration.PEAK_SHARE] > max(summary[concentration.TOP_SHARE], 1.05)
    assert 0.15 < summary[concentration.LOSS_MAKING_SHARE] < 0.35
    classes = vc.abc_classes(profitability[prof.PROFIT])
    assert (classes == vc.CLASS_D).mean() == pytest.approx(summary[concentration.LOSS_MAKING_SHARE])


def test_cdnow_is_portfolio_analysis_on_revenue_only():
    data = datasets.load("cdnow")
    p = prof.customer_profitability(data)
    assert prof.profit_basis(p) == "revenue"
    assert len(p) == 2357
    assert p[prof.PROFIT].sum() == pytest.approx(data.transactions[s.REVENUE].sum())
    assert vc.strategic_flags(p)[vc.COSTLY_TO_SERVE].isna().all()
    assert concentration.whale_summary(p[prof.PROFIT])[concentration.LOSS_MAKING_SHARE] == 0.0


def test_bad_input_is_a_user_error():
    with pytest.raises(DataError, match="revenue"):
        prof.customer_profitability(
            _client({"transactions": HAND["transactions"].drop(columns=s.REVENUE)})
        )
    with pytest.raises(DataError, match="need_price.* are missing"):
        segments.needs_segments(pd.DataFrame({s.CUSTOMER_ID: ["a"]}))
    with pytest.raises(CRMError, match="months"):
        vc.revenue_sources(LIFE, months=0)
    with pytest.raises(CRMError, match="freq"):
        vc.stage_counts(LIFE, freq="fortnight")


def _point_inside(bbox, points) -> bool:
    return bool(
        (
            (points[:, 0] > bbox.x0)
            & (points[:, 0] < bbox.x1)
            & (points[:, 1] > bbox.y0)
            & (points[:, 1] < bbox.y1)
        ).any()
    )


def test_profitability_matrix_names_its_quadrants_where_no_customer_hides_them():
    # customers in every corner of the data's range: the corners are where the names used to sit
    rng = np.random.default_rng(7)
    n = 400
    ids = pd.Index([f"C{i}" for i in range(n)], name=s.CUSTOMER_ID)
    price = pd.Series(np.r_[[0.7, 0.7, 1.0, 1.0], rng.uniform(0.7, 1.0, n - 4)], index=ids)
    serve = np.r_[[1.0, 40.0, 1.0, 40.0], rng.uniform(1.0, 40.0, n - 4)]
    customers = pd.DataFrame(
        {
            s.REVENUE: 100.0,
            prof.COST_TO_SERVE: serve * 2,
            prof.ORDERS: 2,
            prof.PROFIT: 100.0 - serve * 2,
        },
        index=ids,
    )
    matrix = vc.profitability_matrix(customers, price)
    figure = Figure(figsize=(8, 5.5), layout="constrained")
    ax = vc_plots.plot_profitability_matrix(matrix, ax=figure.add_subplot(), currency="EUR")
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    points = np.vstack([ax.transData.transform(c.get_offsets()) for c in ax.collections])
    names = [t for t in ax.texts if t.get_text() in vc.QUADRANTS]
    assert sorted(t.get_text() for t in names) == sorted(vc.QUADRANTS)
    hidden = [t.get_text() for t in names if _point_inside(t.get_window_extent(renderer), points)]
    assert hidden == []
    assert ax.get_yticklabels()[-1].get_text().startswith("€")  # money in the client's currency


def test_whale_curve_marks_a_peak_only_where_the_curve_falls_back():
    rising = concentration.concentration_curve(pd.Series([40.0, 30.0, 20.0, 10.0]))
    ax = vc_plots.plot_whale_curve(rising, label="revenue")
    assert len(ax.lines) == 2 and len(ax.texts) == 0  # the curve and the 100 % line, no peak
    assert "highest to the lowest revenue" in ax.get_xlabel()
    whale = concentration.concentration_curve(pd.Series([50.0, 30.0, 20.0, -10.0, -40.0]))
    ax = vc_plots.plot_whale_curve(whale)
    assert [t.get_text() for t in ax.texts] == ["peak 200 % at 60 % of customers"]
