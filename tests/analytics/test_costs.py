"""crmlib.analytics.costs: the activity-based cost-to-serve on a hand-computed example, its rate
lookup and checks, and its agreement with the QCi aggregate on a synthetic company."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib import synth
from crmlib.analytics import costs
from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

SEED = 20240620  # the synthetic company of the agreement test
AS_OF = "2024-01-31"


def _tx(rows, columns=(s.ORDER_ID, s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, s.CHANNEL)):
    frame = pd.DataFrame(rows, columns=list(columns))
    frame[s.ORDER_DATE] = pd.to_datetime(frame[s.ORDER_DATE])
    return frame


# Two customers, one month (as_of 2024-01-31):
#   A  order O1 on the web (two lines, one order), order O2 in store, a web return of O1,
#      a phone ticket, an e-mail campaign contact and a web visit (not a contact);
#   B  order O3 by phone; order O4 on 1 February (after as_of: not counted),
#      a chat ticket on the last day at 18:00 (counted), an e-mail ticket on 1 February
#      (not counted), an SMS campaign contact.
TX = _tx(
    [
        ("O1", "A", "2024-01-01", 10.0, "web"),
        ("O1", "A", "2024-01-01", 20.0, "web"),
        ("O2", "A", "2024-01-05", 30.0, "store"),
        ("O1", "A", "2024-01-09", -10.0, "web"),
        ("O3", "B", "2024-01-07", 15.0, "phone"),
        ("O4", "B", "2024-02-01", 5.0, "phone"),
    ]
)
TICKETS = pd.DataFrame(
    {
        s.CUSTOMER_ID: ["A", "B", "B"],
        s.OPENED_AT: pd.to_datetime(["2024-01-02 10:00", "2024-01-31 18:00", "2024-02-01 09:00"]),
        s.CHANNEL: ["phone", "chat", "email"],
    }
)
INTERACTIONS = pd.DataFrame(
    {
        s.CUSTOMER_ID: ["A", "A", "B"],
        s.TIMESTAMP: pd.to_datetime(["2024-01-03", "2024-01-04", "2024-01-10"]),
        s.CHANNEL: ["email", "web", "sms"],
        s.KIND: [s.KIND_CAMPAIGN_CONTACT, s.KIND_WEB_VISIT, s.KIND_CAMPAIGN_CONTACT],
    }
)
RATES = pd.DataFrame(
    [
        ("order", "web", 2.0),
        ("order", "store", 4.0),
        ("order", "phone", 12.0),
        ("delivery", "web", 5.0),  # only web orders are delivered
        ("return", "web", 3.0),
        ("ticket", "phone", 10.0),
        ("ticket", None, 1.0),  # any other ticket channel
        ("contact", "email", 0.5),  # no SMS rate: an SMS contact costs 0
    ],
    columns=[s.ACTIVITY, s.CHANNEL, s.UNIT_COST_RATE],
)
# By hand:
#   A = order web 2 + order store 4 + delivery web 5 + delivery store 0 + return web 3
#       + ticket phone 10 + contact email 0.5                                  = 24.5
#   B = order phone 12 + delivery phone 0 + ticket chat 1 (any channel) + contact sms 0 = 13
COST_A, COST_B = 24.5, 13.0


def test_activity_events_by_hand():
    events = costs.activity_events(TX, TICKETS, INTERACTIONS, as_of=AS_OF)
    counted = events.set_index([s.CUSTOMER_ID, s.ACTIVITY, s.CHANNEL])[costs.EVENTS]
    assert counted[("A", "order", "web")] == 1  # two lines, one order
    assert counted[("A", "return", "web")] == 1
    assert counted[("B", "order", "phone")] == 1  # O4 falls after as_of
    assert counted[("B", "ticket", "chat")] == 1  # the last day counts whole
    assert ("B", "ticket", "email") not in counted.index
    assert ("A", "contact", "web") not in counted.index  # a visit is not a contact
    assert counted.sum() == 2 * 3 + 1 + 2 + 2  # orders and deliveries, return, tickets, contacts


def test_cost_to_serve_per_customer_by_hand():
    per_customer = costs.cost_to_serve(TX, RATES, TICKETS, INTERACTIONS, as_of=AS_OF)
    assert per_customer.to_dict() == pytest.approx({"A": COST_A, "B": COST_B})
    assert per_customer.name == costs.COST_TO_SERVE


def test_the_aggregate_is_the_sum_over_customers():
    total = costs.cost_by_activity(TX, RATES, TICKETS, INTERACTIONS, as_of=AS_OF)
    assert total[costs.ACTIVITY_COST].sum() == pytest.approx(COST_A + COST_B)
    row = total.set_index([s.ACTIVITY, s.CHANNEL]).loc[("ticket", "chat")]
    assert (row[costs.EVENTS], row[costs.UNIT_COST]) == (1, 1.0)
    # qci's efficiency measure delegates to the same rule
    pd.testing.assert_frame_equal(
        costs.cost_by_activity(TX, RATES, TICKETS, INTERACTIONS, as_of=AS_OF), total
    )


def test_repricing_counted_events_needs_no_tables():
    events = costs.activity_events(TX, TICKETS, INTERACTIONS, as_of=AS_OF)
    dearer = costs.override_rates(RATES, {"order/phone": 20.0})
    again = costs.cost_to_serve(TX, dearer, events=events)
    assert again["B"] == pytest.approx(COST_B + 8.0)  # one phone order, 8 dearer
    assert again["A"] == pytest.approx(COST_A)


def test_without_order_ids_an_order_is_a_purchase_day():
    tx = _tx(
        [("A", "2024-01-01", 10.0), ("A", "2024-01-01", 5.0), ("A", "2024-01-02", 7.0)],
        columns=(s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE),
    )
    rates = pd.DataFrame({s.ACTIVITY: ["order"], s.UNIT_COST_RATE: [3.0]})  # no channel column
    assert costs.cost_to_serve(tx, rates)["A"] == pytest.approx(2 * 3.0)


def test_override_rates():
    rates = costs.override_rates(RATES, {"order/web": 9.0, "delivery/store": 1.5, "return/": 2})
    lookup = rates.set_index([s.ACTIVITY, s.CHANNEL])[s.UNIT_COST_RATE]
    assert lookup[("order", "web")] == 9.0  # replaced
    assert lookup[("delivery", "store")] == 1.5  # added
    assert lookup[("return", "")] == 2.0  # an any-channel rate
    assert len(rates) == len(RATES) + 2
    assert costs.rate_key("ticket", None) == "ticket/"
    with pytest.raises(CRMError, match="activity/channel"):
        costs.override_rates(RATES, {"shipping/web": 1.0})
    with pytest.raises(CRMError, match="not a unit cost"):
        costs.override_rates(RATES, {"order/web": -1.0})


def test_bad_cost_rates_are_user_errors_naming_the_row():
    unknown = pd.concat(
        [
            RATES,
            pd.DataFrame({s.ACTIVITY: ["shipping"], s.CHANNEL: ["web"], s.UNIT_COST_RATE: 1.0}),
        ],
        ignore_index=True,
    )
    with pytest.raises(DataError, match=r"row 10, column activity: 'shipping'") as info:
        costs.cost_to_serve(TX, unknown)
    assert (info.value.file, info.value.row, info.value.column) == ("cost_rates", 10, "activity")
    clash = pd.concat([RATES, RATES.iloc[[0]].assign(**{s.UNIT_COST_RATE: 3.0})], ignore_index=True)
    with pytest.raises(DataError, match="rows 2, 10, column unit_cost: different unit costs") as info:
        costs.cost_to_serve(TX, clash)
    assert info.value.row == [2, 10] and "order/web" in info.value.reason
    same = pd.concat([RATES, RATES.iloc[[0]]], ignore_index=True)  # a repeated, equal rate is fine
    assert costs.cost_to_serve(TX, same, TICKETS, INTERACTIONS, as_of=AS_OF)["A"] == COST_A
    with pytest.raises(DataError, match="unit_cost"):
        costs.cost_to_serve(TX, RATES.drop(columns=s.UNIT_COST_RATE))


def test_per_customer_and_aggregate_agree_on_a_synthetic_company():
    company = synth.generate(n_customers=800, seed=SEED)
    t = company.tables
    args = (t["transactions"], t["cost_rates"], t["tickets"], t["interactions"])
    per_customer = costs.cost_to_serve(*args, as_of=company.as_of)
    total = costs.cost_by_activity(*args, as_of=company.as_of)
    truth = company.truth.records[synth.COST_TO_SERVE].sum()
    assert per_customer.sum() == pytest.approx(total[costs.ACTIVITY_COST].sum())
    assert per_customer.sum() == pytest.approx(truth)
