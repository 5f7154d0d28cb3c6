"""Activity-based cost-to-serve: count what each customer makes the firm do, then price it.

Activity-based costing traces indirect cost to the customers whose demands
cause it, through *activities* and their *cost drivers* (Kaplan & Cooper,
*Cost & Effect: Using Integrated Cost Systems to Drive Profitability and
Performance*, Harvard Business School Press 1998, on activity-based
customer profitability). Buttle & Maklan (*Customer Relationship Management: Concepts
and Technologies*, Routledge, the chapter on customer portfolio analysis)
use the same rule for customer profitability: revenue - product cost -
cost-to-serve. The workbook's five activities (:data:`crmlib.data.schema.ACTIVITIES`)
and their drivers, one *event* per:

``order``
    distinct order among the customer's purchase lines (revenue >= 0): its
    ``order_id``, or the purchase day when the data has no complete
    ``order_id``; in the order's channel (the first in alphabetical order of
    its lines' channels, should they differ);
``delivery``
    such an order again (the client's ``cost_rates`` decide which channels
    deliver: a channel without a delivery rate costs nothing);
``return``
    transaction line with negative revenue, in its channel;
``ticket``
    row of ``tickets``, in its channel;
``contact``
    row of ``interactions`` whose kind is ``campaign_contact``, in its channel.

Cost of a customer = sum over their (activity, channel) pairs of
*events x unit cost*. The unit cost is looked up in ``cost_rates`` by
(activity, channel); a rate whose channel is empty applies to that activity's
channels without a rate of their own; an event with no rate at all costs 0.
Events after ``as_of`` (inclusive, the whole day) are not counted.

:mod:`crmlib.models.qci` prices the events of all customers together (efficiency,
:func:`cost_by_activity`); :mod:`crmlib.models.value_chain` prices them per customer
(profitability, :func:`cost_to_serve`). Both go through this module, so that
the two lessons can never disagree about what a customer costs.
:func:`events_sql` states the same rule in SQL for the DuckDB and Spark
engines (:mod:`crmlib.engines`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from crmlib.analytics.orders import one_line_per_order, order_key_sql
from crmlib.data import schema as s
from crmlib.data.checks import as_of_date as _as_of
from crmlib.data.checks import need_columns
from crmlib.errors import CRMError, DataError

__all__ = [
    "ACTIVITY_COST",
    "COST_TO_SERVE",
    "EVENTS",
    "UNIT_COST",
    "activity_costs",
    "activity_events",
    "check_cost_rates",
    "cost_by_activity",
    "cost_to_serve",
    "events_sql",
    "override_rates",
    "rates_sql",
    "rate_key",
    "spark_events",
]

EVENTS = "events"
UNIT_COST = s.UNIT_COST_RATE  # "unit_cost", as in the cost_rates table
ACTIVITY_COST = "cost"
COST_TO_SERVE = "cost_to_serve"
ANY_CHANNEL = ""  # a cost rate without a channel: any channel without its own rate

EVENT_COLUMNS = [s.CUSTOMER_ID, s.ACTIVITY, s.CHANNEL, EVENTS]


def _need(frame: pd.DataFrame, table: str, columns) -> None:
    need_columns(frame, table, columns, purpose="for cost-to-serve")


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    """A text column as objects with missing values as "" (or "" everywhere when absent)."""
    if column not in frame.columns:
        return pd.Series(ANY_CHANNEL, index=frame.index, dtype="object")
    return frame[column].astype("object").where(frame[column].notna(), ANY_CHANNEL)


def _customers(frame: pd.DataFrame) -> pd.Series:
    """The customer_id column, or missing ids when the table has none (aggregate use only)."""
    if s.CUSTOMER_ID in frame.columns:
        return frame[s.CUSTOMER_ID].astype("object")
    return pd.Series(None, index=frame.index, dtype="object")


def _until(frame: pd.DataFrame, column: str, when: pd.Timestamp) -> pd.DataFrame:
    """Rows dated on or before ``when`` (the whole day), or all rows when undated."""
    if column not in frame.columns:
        return frame
    return frame.loc[~(frame[column] >= when + pd.Timedelta(days=1))]


def _count(activity: str, customers: pd.Series, channels: pd.Series) -> pd.DataFrame:
    counts = (
        pd.DataFrame({s.CUSTOMER_ID: customers, s.CHANNEL: channels})
        .groupby([s.CUSTOMER_ID, s.CHANNEL], dropna=False, sort=False)
        .size()
        .rename(EVENTS)
        .reset_index()
    )
    counts.insert(1, s.ACTIVITY, activity)
    return counts


def activity_events(
    transactions: pd.DataFrame,
    tickets: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    as_of=None,
) -> pd.DataFrame:
    """Count the activity events of each customer, per activity and channel.

    The cost drivers of activity-based costing (Kaplan & Cooper 1998);
    the events counted are listed in the module docstring.

    Parameters
    ----------
    transactions : DataFrame
        Order lines: customer_id, order_date, revenue; order_id and channel when present.
    tickets : DataFrame, optional
        Service tickets (channel; opened_at is used to leave out later tickets).
    interactions : DataFrame, optional
        Interactions; only kind ``campaign_contact`` counts (timestamp as for tickets).
    as_of : date-like, optional
        Last day counted, inclusive; default the last order date.

    Returns
    -------
    DataFrame
        One row per (customer_id, activity, channel) with at least one event:
        columns customer_id, activity, channel ("" when the source has no
        channel), events. A tickets or interactions table without customer_id
        gives rows with a missing customer_id: they count in the firm's total
        (:func:`cost_by_activity`) but belong to no customer.
    """
    _need(transactions, "transactions", (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE))
    when = _as_of(transactions, as_of)
    tx = transactions.loc[transactions[s.ORDER_DATE] <= when]
    buys = tx.loc[tx[s.REVENUE] >= 0]
    # one event per order (crmlib.analytics.orders), in the order's channel
    orders = one_line_per_order(buys.assign(**{s.CHANNEL: _text(buys, s.CHANNEL)}))
    returns = tx.loc[tx[s.REVENUE] < 0]
    parts = [
        _count(s.ACT_ORDER, _customers(orders), orders[s.CHANNEL]),
        _count(s.ACT_DELIVERY, _customers(orders), orders[s.CHANNEL]),
        _count(s.ACT_RETURN, _customers(returns), _text(returns, s.CHANNEL)),
    ]
    if tickets is not None and len(tickets):
        opened = _until(tickets, s.OPENED_AT, when)
        parts.append(_count(s.ACT_TICKET, _customers(opened), _text(opened, s.CHANNEL)))
    if interactions is not None and len(interactions) and s.KIND in interactions.columns:
        contacts = interactions.loc[interactions[s.KIND] == s.KIND_CAMPAIGN_CONTACT]
        contacts = _until(contacts, s.TIMESTAMP, when)
        parts.append(_count(s.ACT_CONTACT, _customers(contacts), _text(contacts, s.CHANNEL)))
    events = pd.concat([p for p in parts if len(p)], ignore_index=True)
    if events.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    order = events[s.ACTIVITY].map({a: i for i, a in enumerate(s.ACTIVITIES)})
    events = events.assign(_order=order).sort_values(
        [s.CUSTOMER_ID, "_order", s.CHANNEL], kind="stable", na_position="last"
    )
    return events.drop(columns="_order").reset_index(drop=True)[EVENT_COLUMNS]


def rate_key(activity: str, channel: str | None = None) -> str:
    """The name of one cost rate, ``"activity/channel"`` (``"activity/"`` for any channel)."""
    return f"{activity}/{channel or ANY_CHANNEL}"


def check_cost_rates(cost_rates: pd.DataFrame) -> pd.DataFrame:
    """The cost rates with an empty channel as "", checked.

    Raises
    ------
    DataError
        A missing column, an activity the workbook does not know, a negative
        or missing unit cost, or two different unit costs for one
        (activity, channel) pair, naming the row (the line of cost_rates.csv
        when the table was read from a file).
    """
    _need(cost_rates, "cost_rates", (s.ACTIVITY, s.UNIT_COST_RATE))
    rates = cost_rates.copy()
    rates[s.CHANNEL] = _text(rates, s.CHANNEL)
    rows = rates[s.SOURCE_ROW] if s.SOURCE_ROW in rates.columns else rates.index.to_series() + 2
    unknown = ~rates[s.ACTIVITY].isin(s.ACTIVITIES)
    if unknown.any():
        i = unknown.to_numpy().nonzero()[0][0]
        raise DataError(
            f"{rates[s.ACTIVITY].iloc[i]!r} "
            f"is not an activity the workbook counts ({', '.join(s.ACTIVITIES)})",
            file="cost_rates",
            row=int(rows.iloc[i]),
            column=s.ACTIVITY,
        )
    unit = pd.to_numeric(rates[s.UNIT_COST_RATE], errors="coerce")
    bad = unit.isna() | (unit < 0)
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        raise DataError(
            f"{rates[s.UNIT_COST_RATE].iloc[i]!r} is not a unit cost (a number >= 0)",
            file="cost_rates",
            row=int(rows.iloc[i]),
            column=s.UNIT_COST_RATE,
        )
    rates[s.UNIT_COST_RATE] = unit.astype(float)
    per_pair = rates.groupby([s.ACTIVITY, s.CHANNEL])[s.UNIT_COST_RATE].nunique()
    clash = per_pair[per_pair > 1]
    if len(clash):
        activity, channel = clash.index[0]
        where = rows[(rates[s.ACTIVITY] == activity) & (rates[s.CHANNEL] == channel)]
        raise DataError(
            f"different unit costs for {rate_key(activity, channel)}; keep one",
            file="cost_rates",
            row=[int(r) for r in where],
            column=s.UNIT_COST_RATE,
        )
    return rates.drop_duplicates([s.ACTIVITY, s.CHANNEL]).reset_index(drop=True)


def override_rates(cost_rates: pd.DataFrame | None, overrides: Mapping[str, float]) -> pd.DataFrame:
    """The cost rates with some unit costs replaced or added.

    Parameters
    ----------
    cost_rates : DataFrame or None
        The client's rates (None: start from no rates).
    overrides : mapping of str to float
        ``{"order/phone": 15.0, "ticket/": 4.0}``: the key is
        :func:`rate_key` (activity, a slash, the channel; nothing after the
        slash for the any-channel rate), the value the new unit cost.

    Returns
    -------
    DataFrame
        activity, channel, unit_cost: the rates with each named pair set.

    Raises
    ------
    CRMError
        A key that is not ``activity/channel`` with a known activity, or a
        unit cost that is not a number >= 0.
    """
    base = (
        check_cost_rates(cost_rates)[[s.ACTIVITY, s.CHANNEL, s.UNIT_COST_RATE]]
        if cost_rates is not None
        else pd.DataFrame({s.ACTIVITY: [], s.CHANNEL: [], s.UNIT_COST_RATE: []})
    )
    rows = base.to_dict("records")
    for key, value in dict(overrides).items():
        activity, sep, channel = str(key).partition("/")
        if not sep or activity not in s.ACTIVITIES:
            raise CRMError(
                f"cost rate override {key!r}: write it as activity/channel, e.g. 'order/web' or "
                f"'ticket/' for any channel; activities: {', '.join(s.ACTIVITIES)}"
            )
        try:
            unit = float(value)
        except (TypeError, ValueError):
            unit = float("nan")
        if not unit >= 0:
            raise CRMError(f"cost rate override {key!r}: {value!r} is not a unit cost (>= 0)")
        channel = channel.strip()
        rows = [r for r in rows if (r[s.ACTIVITY], r[s.CHANNEL]) != (activity, channel)]
        rows.append({s.ACTIVITY: activity, s.CHANNEL: channel, s.UNIT_COST_RATE: unit})
    return pd.DataFrame(rows, columns=[s.ACTIVITY, s.CHANNEL, s.UNIT_COST_RATE])


def activity_costs(events: pd.DataFrame, cost_rates: pd.DataFrame) -> pd.DataFrame:
    """Price counted events: events x the unit cost of their (activity, channel).

    Parameters
    ----------
    events : DataFrame
        From :func:`activity_events` (or any frame with activity, channel, events).
    cost_rates : DataFrame
        activity, channel (empty = any channel without its own rate), unit_cost.

    Returns
    -------
    DataFrame
        ``events`` with two more columns: unit_cost (0 where no rate applies)
        and cost = events x unit_cost.
    """
    rates = check_cost_rates(cost_rates)
    exact = rates.set_index([s.ACTIVITY, s.CHANNEL])[s.UNIT_COST_RATE]
    generic = rates.loc[rates[s.CHANNEL] == ANY_CHANNEL].set_index(s.ACTIVITY)[s.UNIT_COST_RATE]
    out = events.copy()
    keys = pd.MultiIndex.from_arrays([out[s.ACTIVITY], _text(out, s.CHANNEL)])
    unit = pd.Series(exact.reindex(keys).to_numpy(), index=out.index, dtype=float)
    unit = unit.fillna(out[s.ACTIVITY].map(generic).astype(float)).fillna(0.0)
    out[UNIT_COST] = unit
    out[ACTIVITY_COST] = out[EVENTS].astype(float) * unit
    return out


def cost_to_serve(
    transactions: pd.DataFrame,
    cost_rates: pd.DataFrame,
    tickets: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    as_of=None,
    events: pd.DataFrame | None = None,
) -> pd.Series:
    """Activity-based cost-to-serve of each customer.

    ``cost_to_serve(c) = sum over (activity a, channel k) of events(c, a, k) x rate(a, k)``
    (Kaplan & Cooper 1998; the events and the rate lookup are in the
    module docstring).

    Parameters
    ----------
    transactions, tickets, interactions, as_of
        As :func:`activity_events`.
    cost_rates : DataFrame
        activity, channel, unit_cost.
    events : DataFrame, optional
        Events already counted by :func:`activity_events` (e.g. to re-price
        them with other rates without counting again); then the tables are
        not read.

    Returns
    -------
    Series
        Named ``cost_to_serve``, indexed by customer_id (customers with at
        least one event), sorted by customer_id.
    """
    if events is None:
        events = activity_events(transactions, tickets, interactions, as_of)
    priced = activity_costs(events.dropna(subset=[s.CUSTOMER_ID]), cost_rates)
    per_customer = priced.groupby(s.CUSTOMER_ID)[ACTIVITY_COST].sum()
    return per_customer.rename(COST_TO_SERVE).sort_index()


def cost_by_activity(
    transactions: pd.DataFrame,
    cost_rates: pd.DataFrame,
    tickets: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    as_of=None,
) -> pd.DataFrame:
    """The firm's cost-to-serve per activity and channel, all customers together.

    Returns
    -------
    DataFrame
        One row per (activity, channel) with events: columns activity,
        channel, events, unit_cost, cost; activities in the order of
        :data:`crmlib.data.schema.ACTIVITIES`, then by channel.
    """
    events = activity_events(transactions, tickets, interactions, as_of)
    totals = events.groupby([s.ACTIVITY, s.CHANNEL], sort=False)[EVENTS].sum().reset_index()
    order = totals[s.ACTIVITY].map({a: i for i, a in enumerate(s.ACTIVITIES)})
    totals = totals.assign(_order=order).sort_values(["_order", s.CHANNEL], kind="stable")
    totals = totals.drop(columns="_order").reset_index(drop=True)
    totals[EVENTS] = totals[EVENTS].astype(int)
    return activity_costs(totals, cost_rates)


def events_sql(eng, as_of_literal: str) -> str:
    """The rule of :func:`activity_events` as SQL common table expressions.

    Parameters
    ----------
    eng : crmlib.engines.Engine
        The engine whose views (``transactions``, ``tickets``, ``interactions``) are read.
    as_of_literal : str
        The last day counted, as a SQL date literal.

    Returns
    -------
    str
        ``tx`` (lines up to as-of: cid, day, rev, oid, ch), ``orders`` (cid,
        okey, ch) and ``events`` (cid, activity, ch, n: one row per customer,
        activity and channel), to follow a ``WITH``.
    """
    oid = s.ORDER_ID if eng.has("transactions", s.ORDER_ID) else "CAST(NULL AS VARCHAR)"
    channel = f"COALESCE({s.CHANNEL}, '')"
    okey = order_key_sql(eng.has("transactions", s.ORDER_ID), "oid", "day")
    next_day = f"({as_of_literal} + INTERVAL 1 DAY)"
    parts = [
        f"SELECT cid, '{s.ACT_ORDER}' AS activity, ch, COUNT(*) AS n FROM orders GROUP BY cid, ch",
        f"SELECT cid, '{s.ACT_DELIVERY}' AS activity, ch, COUNT(*) AS n FROM orders GROUP BY cid, ch",
        f"SELECT cid, '{s.ACT_RETURN}' AS activity, ch, COUNT(*) AS n FROM tx WHERE rev < 0 "
        "GROUP BY cid, ch",
    ]
    for table, activity, stamp, where in (
        ("tickets", s.ACT_TICKET, s.OPENED_AT, "TRUE"),
        ("interactions", s.ACT_CONTACT, s.TIMESTAMP, f"{s.KIND} = '{s.KIND_CAMPAIGN_CONTACT}'"),
    ):
        if not eng.has(table, s.CUSTOMER_ID) or (
            table == "interactions" and not eng.has(table, s.KIND)
        ):
            continue
        ch = channel if eng.has(table, s.CHANNEL) else "''"
        dated = f'NOT COALESCE("{stamp}" >= {next_day}, FALSE)' if eng.has(table, stamp) else "TRUE"
        parts.append(
            f"SELECT {s.CUSTOMER_ID} AS cid, '{activity}' AS activity, {ch} AS ch, COUNT(*) AS n "
            f"FROM {table} WHERE {where} AND {dated} GROUP BY {s.CUSTOMER_ID}, {ch}"
        )
    tx_channel = channel if eng.has("transactions", s.CHANNEL) else "''"
    return f"""
tx AS (
    SELECT {s.CUSTOMER_ID} AS cid, CAST({s.ORDER_DATE} AS DATE) AS day, {s.REVENUE} AS rev,
           {oid} AS oid, {tx_channel} AS ch
    FROM transactions WHERE CAST({s.ORDER_DATE} AS DATE) <= {as_of_literal}
),
orders AS (
    SELECT cid, {okey} AS okey, MIN(ch) AS ch FROM tx WHERE rev >= 0 GROUP BY cid, {okey}
),
events AS (
    {" UNION ALL ".join(parts)}
)"""


# Spark: one table's events (tickets; campaign contacts among the interactions) per customer
# and channel in one scan of the raw table, with the row checks of Engine.check_rows counted
# in the same scan; a row that is not an event is counted in one group without a customer.
_SPARK_TABLE_EVENTS_SQL = """
CREATE OR REPLACE TEMPORARY TABLE {name} AS
SELECT CASE WHEN counted THEN cid END AS cid, CASE WHEN counted THEN ch END AS ch,
       COUNT(*) FILTER (WHERE counted) AS n{check_sums}
FROM (
    SELECT {cid} AS cid, {ch} AS ch, {where} AND {dated} AS counted{checks}
    FROM raw_{table}
) t
GROUP BY 1, 2
"""

#: At most this many channels are ranked by :func:`spark_events` (a CASE of this many arms).
_SPARK_RANKED_CHANNELS = 64

# Spark: the events of events_sql from the transaction lines summed per customer, order key
# and channel (crmlib.analytics.profitability) and the tables above, kept once
_SPARK_EVENTS_SQL = """
CREATE OR REPLACE TEMPORARY TABLE {name} AS
WITH orders AS (
    SELECT cid, okey, MIN({rank}) AS ch FROM {lines} WHERE buys > 0 GROUP BY cid, okey
),
ordered AS (SELECT cid, ch, COUNT(*) AS n FROM orders GROUP BY cid, ch)
SELECT o.cid, a.activity, {channel} AS ch, o.n
FROM ordered o
CROSS JOIN (SELECT '{order}' AS activity UNION ALL SELECT '{delivery}' AS activity) a
UNION ALL
SELECT cid, '{return_}' AS activity, ch, SUM(returns) AS n FROM {lines} WHERE returns > 0
GROUP BY cid, ch{more}
"""


def spark_events(eng, as_of_literal: str, lines: str) -> str:
    """The events of :func:`events_sql` on Spark, each table read once; the name of their table.

    The order, delivery and return events come from ``lines``, the transaction lines up
    to as-of summed per customer, order key (:func:`crmlib.analytics.orders.order_key_sql`)
    and channel (columns cid, okey, ch, buys: purchase lines, returns: return lines), made
    by :func:`crmlib.analytics.profitability.profitability_query` in its one scan. The
    tickets and the campaign contacts are counted in one scan of each table, which also
    counts the row checks :meth:`crmlib.engines.Engine.check_rows` would (customer id and
    date) and refuses the table as it does.

    Parameters
    ----------
    eng : crmlib.engines.Engine
        A Spark engine.
    as_of_literal : str
        The last day counted, as a SQL date literal.
    lines : str
        The name of the lines' table.

    Returns
    -------
    str
        The name of a table of the events: cid, activity, ch, n (one row per customer,
        activity and channel), as ``events`` in :func:`events_sql`.
    """
    next_day = f"({as_of_literal} + INTERVAL 1 DAY)"
    more = []
    for table, activity, stamp, kind in (
        ("tickets", s.ACT_TICKET, s.OPENED_AT, None),
        ("interactions", s.ACT_CONTACT, s.TIMESTAMP, s.KIND_CAMPAIGN_CONTACT),
    ):
        if not eng.has(table):
            continue
        counts = eng.has(table, s.CUSTOMER_ID) and (kind is None or eng.has(table, s.KIND))
        if not counts:  # no events: the checks alone
            eng.check_rows(table, [s.CUSTOMER_ID, stamp])
            continue
        checks = eng.row_checks(table, [s.CUSTOMER_ID, stamp])
        stamped = eng.typed(table, stamp) if eng.has(table, stamp) else None
        name = f"{table}_events"
        eng.sql_no_result(
            _SPARK_TABLE_EVENTS_SQL.format(
                name=name,
                table=table,
                cid=eng.typed(table, s.CUSTOMER_ID),
                ch=f"COALESCE({eng.typed(table, s.CHANNEL)}, '')"
                if eng.has(table, s.CHANNEL)
                else "''",
                where="TRUE" if kind is None else f"{eng.typed(table, s.KIND)} = '{kind}'",
                dated="TRUE"
                if stamped is None
                else f"NOT COALESCE({stamped} >= {next_day}, FALSE)",
                checks=checks.flags,
                check_sums=checks.sums,
            )
        )
        if checks.checks:
            eng.refuse_rows(
                checks, eng.sql(f"SELECT COUNT(*) AS groups{checks.sums} FROM {name}").iloc[0]
            )
        more.append(f"SELECT cid, '{activity}' AS activity, ch, n FROM {name} WHERE n > 0")
    # An order's channel is the first of its lines' in alphabetical order: MIN of a text,
    # which Spark computes by sorting the rows. A few channels are ranked instead (MIN of
    # a number, hashed), then named back.
    channels = sorted(eng.sql(f"SELECT DISTINCT ch FROM {lines} WHERE buys > 0")["ch"])
    rank, channel = "ch", "o.ch"
    if 0 < len(channels) <= _SPARK_RANKED_CHANNELS:
        quoted = ["'" + str(c).replace("'", "''") + "'" for c in channels]
        rank = "CASE ch " + " ".join(f"WHEN {q} THEN {i}" for i, q in enumerate(quoted)) + " END"
        channel = "CASE o.ch " + " ".join(f"WHEN {i} THEN {q}" for i, q in enumerate(quoted))
        channel += " END"
    name = "spark_events"
    eng.sql_no_result(
        _SPARK_EVENTS_SQL.format(
            name=name,
            lines=lines,
            rank=rank,
            channel=channel,
            order=s.ACT_ORDER,
            delivery=s.ACT_DELIVERY,
            return_=s.ACT_RETURN,
            more="".join(f"\nUNION ALL\n{part}" for part in more),
        )
    )
    return name


def rates_sql(cost_rates: pd.DataFrame) -> str:
    """Checked cost rates as a SQL table expression ``rates(activity, channel, unit_cost)``."""
    rates = check_cost_rates(cost_rates)
    if rates.empty:
        return (
            "SELECT CAST(NULL AS VARCHAR) AS activity, CAST(NULL AS VARCHAR) AS channel, "
            "CAST(NULL AS DOUBLE) AS unit_cost WHERE FALSE"
        )

    def text(value) -> str:
        return "'" + str(value).replace("'", "''") + "'"

    rows = ", ".join(
        f"({text(a)}, {text(c)}, CAST({float(u)!r} AS DOUBLE))"
        for a, c, u in rates[[s.ACTIVITY, s.CHANNEL, s.UNIT_COST_RATE]].itertuples(index=False)
    )
    return f"SELECT * FROM (VALUES {rows}) AS r(activity, channel, unit_cost)"


def cost_to_serve_ratio(
    transactions: pd.DataFrame,
    cost_rates: pd.DataFrame,
    tickets: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    as_of=None,
) -> float:
    """Cost-to-serve per unit of net revenue: sum of :func:`cost_by_activity` / net revenue.

    Efficiency is the "E" of REAP (Woodcock, Stone & Foss 2003, ch. 1):
    what it costs to serve the revenue the customers bring. Net revenue is
    the sum of ``revenue`` up to ``as_of``, returns included (negative).
    """
    when = _as_of(transactions, as_of)
    revenue = float(transactions.loc[transactions[s.ORDER_DATE] <= when, s.REVENUE].sum())
    if revenue <= 0:
        raise DataError(
            "transactions: net revenue is not positive, so cost per revenue is undefined"
        )
    costs = cost_by_activity(transactions, cost_rates, tickets, interactions, as_of=when)
    return float(costs[ACTIVITY_COST].sum() / revenue)
