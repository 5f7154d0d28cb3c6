"""One definition of an order and a purchase occasion (crmlib.analytics.orders), on every path."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib.analytics import costs, orders, profitability
from crmlib.analytics.summary import customer_summary
from crmlib.data import schema as s
from crmlib.data.io import ClientData

# customer a: order A1 (two lines), two lines without an id on 2024-01-05 (one order that
# day), one line without an id on 2024-01-09; a return. Customer b: B1 and B2 on the same day.
LINES = pd.DataFrame(
    {
        s.ORDER_ID: ["A1", "A1", None, None, None, None, "B1", "B2"],
        s.CUSTOMER_ID: ["a", "a", "a", "a", "a", "a", "b", "b"],
        s.ORDER_DATE: pd.to_datetime(format="ISO8601", arg=
            [
                "2024-01-02",
                "2024-01-02",
                "2024-01-05T09:00",
                "2024-01-05T17:30",
                "2024-01-09",
                "2024-01-10",
                "2024-01-03",
                "2024-01-03",
            ]
        ),
        s.REVENUE: [10.0, 5.0, 7.0, 3.0, 4.0, -2.0, 20.0, 30.0],
        s.CHANNEL: ["web", "web", "store", "web", "web", "web", "web", "store"],
    }
)
# by hand: a has A1 + the 5 January order + the 9 January order = 3 orders on 3 occasions;
# b has B1 and B2 = 2 orders on 1 occasion
ORDERS = {"a": 3, "b": 2}
OCCASIONS = {"a": 3, "b": 1}


def test_order_keys_use_the_id_and_fall_back_to_the_day():
    keys = orders.order_keys(LINES)
    assert keys.tolist()[:5] == ["A1", "A1", "day 2024-01-05", "day 2024-01-05", "day 2024-01-09"]
    assert orders.order_counts(LINES[LINES[s.REVENUE] >= 0]).to_dict() == ORDERS


def test_order_table_one_row_per_order_in_its_first_channel():
    table = orders.order_table(LINES)
    assert len(table) == 5
    fifth = table[table[orders.ORDER_KEY] == "day 2024-01-05"].iloc[0]
    assert fifth[s.CHANNEL] == "store" and fifth[s.REVENUE] == 10.0  # store < web
    assert orders.main_channel(LINES).to_dict() == {"a": "web", "b": "store"}  # b: a tie


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_the_summary_counts_the_same_orders_and_occasions_on_every_engine(engine):
    summary = customer_summary(LINES, engine=engine)
    assert summary[s.ORDERS].to_dict() == {k: float(v) for k, v in ORDERS.items()}
    assert (summary[s.FREQUENCY] + 1).to_dict() == {k: float(v) for k, v in OCCASIONS.items()}


def test_costs_and_profitability_count_the_same_orders():
    rates = pd.DataFrame({s.ACTIVITY: ["order"], s.CHANNEL: [""], s.UNIT_COST_RATE: [1.0]})
    events = costs.activity_events(LINES)
    placed = events[events[s.ACTIVITY] == "order"].groupby(s.CUSTOMER_ID)[costs.EVENTS].sum()
    assert placed.to_dict() == ORDERS
    data = ClientData({"transactions": LINES, "cost_rates": rates}, pd.DataFrame(), {})
    for engine in ("pandas", "duckdb"):
        table = profitability.customer_profitability(data, engine=engine)
        assert table[profitability.ORDERS].to_dict() == ORDERS, engine
        assert table[profitability.COST_TO_SERVE].to_dict() == {"a": 3.0, "b": 2.0}, engine
