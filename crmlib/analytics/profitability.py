"""Customer profitability: revenue less product cost and activity-based cost-to-serve, per customer.

One definition for every lesson and the pipeline (the value chain's customer portfolio
analysis, Payne & Frow's value creation, ``crm aggregate``): Buttle & Maklan, *Customer
Relationship Management*, 4th ed., Routledge, ch. 5 (customer portfolio analysis) with the
activity-based cost-to-serve of :mod:`crmlib.analytics.costs` (Kaplan & Cooper 1998).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics import costs
from crmlib.analytics.orders import order_counts, order_key_sql
from crmlib.data import schema as s
from crmlib.data.checks import as_of_date, need_columns
from crmlib.errors import CRMError

_PROFIT_SQL = """
WITH {events},
rates AS ({rates}),
priced AS (
    SELECT e.cid, SUM(e.n * COALESCE(x.unit_cost, g.unit_cost, 0.0)) AS serve
    FROM events e
    LEFT JOIN rates x ON x.activity = e.activity AND x.channel = e.ch
    LEFT JOIN (SELECT * FROM rates WHERE channel = '') g ON g.activity = e.activity
    WHERE e.cid IS NOT NULL
    GROUP BY e.cid
),
{sums_and_buys},
ids AS (
    {ids}
),
totals AS (
    SELECT ids.cid,
           COALESCE(sums.revenue, 0.0) AS revenue,
           CASE WHEN {has_cost} THEN COALESCE(sums.product_cost, 0.0) END AS product_cost,
           CASE WHEN {has_rates} THEN COALESCE(priced.serve, 0.0) END AS serve,
           CAST(COALESCE(buys.orders, 0) AS BIGINT) AS orders,
           CASE WHEN {has_qty} THEN COALESCE(buys.units, 0.0) END AS units
    FROM ids
    LEFT JOIN sums ON sums.cid = ids.cid
    LEFT JOIN priced ON priced.cid = ids.cid
    LEFT JOIN buys ON buys.cid = ids.cid
)"""

# One scan of the transactions (DuckDB and Spark) gives the sums and the units bought, with
# the row checks, whether any cost and quantity is known, and the last order date.
# The sums both engines' one scan of the transactions takes (``{window}``: the lines up to
# as-of; quantities count for purchases only)
_LINE_SUMS_SQL = """
       COUNT(*) FILTER (WHERE {window}) AS lines,
       SUM(rev) FILTER (WHERE {window}) AS revenue,
       SUM(cost) FILTER (WHERE {window}) AS product_cost,
       COUNT(cost) FILTER (WHERE {window}) AS costs,
       SUM(qty) FILTER (WHERE {window} AND rev >= 0) AS units,
       COUNT(qty) FILTER (WHERE {window} AND rev >= 0) AS quantities,
"""

_ONE_PASS_SQL = """
CREATE OR REPLACE TEMPORARY TABLE {table} AS
SELECT cid,"""
_ONE_PASS_SQL += _LINE_SUMS_SQL + """       MAX(day) AS last{check_sums}
FROM (
    SELECT {cid} AS cid, {day} AS day, {rev} AS rev, {cost} AS cost, {qty} AS qty{checks}
    FROM raw_transactions
) t
GROUP BY cid
"""

# the orders are counted from the activity events' ``orders`` (one row per customer and
# purchase order up to as-of: :func:`crmlib.analytics.costs.events_sql`), not a second time
_FOLDED_SQL = """sums AS (SELECT cid, revenue, product_cost FROM {table} WHERE lines > 0),
buys AS (
    SELECT t.cid, COALESCE(o.orders, 0) AS orders, t.units
    FROM {table} t LEFT JOIN (SELECT cid, COUNT(*) AS orders FROM orders GROUP BY cid) o
        ON o.cid = t.cid
    WHERE t.lines > 0
)"""

# Spark, the one scan of the transactions: the lines summed per customer, order key and
# channel (partial sums before the shuffle: an order's lines meet in one row), with the row
# checks and the last order date. Everything else is read from this table: the customers'
# sums, their order and return events (:func:`crmlib.analytics.costs.spark_events`).
_SPARK_ONE_PASS_SQL = """
CREATE OR REPLACE TEMPORARY TABLE {table} AS
SELECT cid, okey, ch,"""
_SPARK_ONE_PASS_SQL += _LINE_SUMS_SQL + """       COUNT(*) FILTER (WHERE {window} AND rev >= 0) AS buys,
       COUNT(*) FILTER (WHERE {window} AND rev < 0) AS returns,
       MAX(day) AS last{check_sums}
FROM (
    SELECT {cid} AS cid, {day} AS day, {rev} AS rev, {cost} AS cost, {qty} AS qty,
           {okey} AS okey, {ch} AS ch{checks}
    FROM raw_transactions
) t
GROUP BY cid, okey, ch
"""

# Spark, the table of _PROFIT_SQL from the lines' table, the customers' ids and the events
# in one grouping by customer (a row per source, then summed; no joins by customer). A
# customer is listed as in _PROFIT_SQL's ids: a line up to as-of, a customer record, or an
# event when there are rates.
_SPARK_PROFIT_SQL = """
WITH rates AS ({rates}),
parts AS (
    SELECT cid, CASE WHEN lines > 0 THEN 1 ELSE 0 END AS listed, lines, revenue,
           product_cost, units, CAST(0 AS BIGINT) AS orders, CAST(NULL AS DOUBLE) AS serve
    FROM {lines}{customers}
    UNION ALL
    SELECT e.cid, {events_listed} AS listed, 0 AS lines, CAST(NULL AS DOUBLE) AS revenue,
           CAST(NULL AS DOUBLE) AS product_cost, CAST(NULL AS DOUBLE) AS units,
           CASE WHEN e.activity = '{order}' THEN e.n ELSE 0 END AS orders,
           e.n * COALESCE(x.unit_cost, g.unit_cost, 0.0) AS serve
    FROM {events} e
    LEFT JOIN rates x ON x.activity = e.activity AND x.channel = e.ch
    LEFT JOIN (SELECT * FROM rates WHERE channel = '') g ON g.activity = e.activity
    WHERE e.cid IS NOT NULL
),
per AS (
    SELECT cid, SUM(revenue) AS revenue, SUM(product_cost) AS product_cost,
           SUM(serve) AS serve, SUM(orders) AS orders, SUM(units) AS units
    FROM parts GROUP BY cid HAVING MAX(listed) = 1
),
totals AS (
    SELECT cid, COALESCE(revenue, 0.0) AS revenue,
           CASE WHEN {has_cost} THEN COALESCE(product_cost, 0.0) END AS product_cost,
           CASE WHEN {has_rates} THEN COALESCE(serve, 0.0) END AS serve,
           CAST(COALESCE(orders, 0) AS BIGINT) AS orders,
           CASE WHEN {has_qty} THEN COALESCE(units, 0.0) END AS units
    FROM per
)"""

# Both engines: the profitability columns from the ``totals`` of the queries above
_PROFIT_COLUMNS_SQL = """
SELECT cid AS {cid},
       CAST(revenue AS DOUBLE) AS {revenue},
       CAST(product_cost AS DOUBLE) AS {product_cost},
       CAST(serve AS DOUBLE) AS {cost_to_serve},
       CAST(revenue - COALESCE(product_cost, 0.0) - COALESCE(serve, 0.0) AS DOUBLE) AS {profit},
       orders AS {orders},
       CAST(units AS DOUBLE) AS {units}
FROM totals
ORDER BY cid
"""

_SPARK_CUSTOMER_IDS = """
    UNION ALL
    SELECT {cid} AS cid, 1 AS listed, 0 AS lines, CAST(NULL AS DOUBLE) AS revenue,
           CAST(NULL AS DOUBLE) AS product_cost, CAST(NULL AS DOUBLE) AS units,
           CAST(0 AS BIGINT) AS orders, CAST(NULL AS DOUBLE) AS serve
    FROM customers"""

#: Spark's table of the lines summed per customer, order key and channel (_SPARK_ONE_PASS_SQL)
_SPARK_LINES = "profit_lines"
_NO_RATES = pd.DataFrame({s.ACTIVITY: [], s.CHANNEL: [], s.UNIT_COST_RATE: []})

# --- names this module defines ---------------------------------------------
PRODUCT_COST = "product_cost"
COST_TO_SERVE = costs.COST_TO_SERVE
PROFIT = "profit"
ORDERS = s.ORDERS
UNITS = "units"
PROFITABILITY_COLUMNS = (s.REVENUE, PRODUCT_COST, COST_TO_SERVE, PROFIT, ORDERS, UNITS)


def _as_of(data, transactions: pd.DataFrame) -> pd.Timestamp:
    """The client data's as-of date, else the last order date (:func:`as_of_date`)."""
    return as_of_date(transactions, getattr(data, "as_of", None))


def _timestamp(value, what: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(value).normalize()
    except (ValueError, TypeError):
        raise CRMError(f"{what} must be a date (YYYY-MM-DD), not {value!r}") from None


def _observed(transactions: pd.DataFrame, when: pd.Timestamp) -> pd.DataFrame:
    need_columns(transactions, "transactions", (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE))
    return transactions.loc[transactions[s.ORDER_DATE] <= when]


def customer_profitability(
    data,
    cost_rates=None,
    events: pd.DataFrame | None = None,
    engine: str = "pandas",
    as_of=None,
    spark_master: str | None = None,
) -> pd.DataFrame:
    """Profit of each customer: revenue - product cost - activity-based cost-to-serve.

    Customer profitability as in Buttle & Maklan (*Customer Relationship
    Management*, Routledge, on customer portfolio analysis) and Kaplan &
    Cooper (*Cost & Effect*, 1998)::

        profit = revenue - product_cost - cost_to_serve

    * ``revenue``: sum of ``transactions.revenue`` up to ``as_of`` (returns are
      negative lines, so they are netted);
    * ``product_cost``: sum of ``transactions.cost`` (a line without a cost
      counts 0; NaN for every customer when the data have no cost at all);
    * ``cost_to_serve``: :func:`crmlib.analytics.costs.cost_to_serve` with the
      client's ``cost_rates`` (orders, deliveries, returns, tickets,
      campaign contacts; NaN for every customer without cost rates).

    Unknown parts count 0 in ``profit``: without cost data the "profit" is
    revenue, without cost rates it is the gross margin; :func:`profit_basis`
    says which.

    Parameters
    ----------
    data : crmlib.data.io.ClientData or path
        The client's tables (:func:`crmlib.data.datasets.load`); its ``as_of``.
        With ``engine="duckdb"`` or ``"spark"`` also a client folder on disk,
        read without loading it (:mod:`crmlib.engines`).
    cost_rates : DataFrame, optional
        Unit costs by activity and channel; default the client's
        ``cost_rates`` table (see :func:`crmlib.analytics.costs.override_rates` to try others).
    events : DataFrame, optional
        Activity events already counted by :func:`crmlib.analytics.costs.activity_events`
        (to re-price them quickly with other rates; pandas engine only).
    engine : {"pandas", "duckdb", "spark"}
        Where the transaction-level sums run; every engine gives the same table.
    as_of : date-like, optional
        Last day counted; default ``data.as_of``, else the last order date.
    spark_master : str, optional
        For ``engine="spark"``: see :func:`crmlib.spark.spark_session`.

    Returns
    -------
    DataFrame
        Index customer_id: every customer of the customers table and every
        customer with a transaction or an activity event; columns revenue,
        product_cost, cost_to_serve, profit, orders (distinct purchase orders:
        ``order_id``, else purchase days) and units (quantity bought; NaN
        without quantities).
    """
    from crmlib.engines import check_engine

    if check_engine(engine) != "pandas":
        if events is not None:
            raise CRMError("events= re-prices counted events in memory: use engine='pandas'")
        return _profitability_sql(data, cost_rates, engine, as_of, spark_master)
    if not hasattr(data, "tables"):
        raise CRMError(
            "engine='pandas' needs the loaded client data; a folder path needs "
            "engine='duckdb' or 'spark'"
        )
    tx = data.transactions
    when = _as_of(data, tx) if as_of is None else _timestamp(as_of, "as_of")
    lines = _observed(tx, when)
    ids = [lines[s.CUSTOMER_ID]]
    customers = data.table("customers")
    if customers is not None:
        ids.append(customers[s.CUSTOMER_ID])
    rates = cost_rates if cost_rates is not None else data.table("cost_rates")
    if rates is not None:
        if events is None:
            events = costs.activity_events(
                lines, data.table("tickets"), data.table("interactions"), as_of=when
            )
        ids.append(events[s.CUSTOMER_ID].dropna())
    index = pd.Index(pd.concat(ids).astype(str).unique(), name=s.CUSTOMER_ID).sort_values()
    by_customer = lines.groupby(s.CUSTOMER_ID)
    out = pd.DataFrame(index=index)
    out[s.REVENUE] = by_customer[s.REVENUE].sum().reindex(index, fill_value=0.0).astype(float)
    if s.COST in lines.columns and lines[s.COST].notna().any():
        cost = by_customer[s.COST].sum().reindex(index, fill_value=0.0)
        out[PRODUCT_COST] = cost.astype(float)
    else:
        out[PRODUCT_COST] = np.nan
    if rates is not None:
        serve = costs.cost_to_serve(lines, rates, events=events)
        serve.index = serve.index.astype(str)
        out[COST_TO_SERVE] = serve.reindex(index, fill_value=0.0).astype(float)
    else:
        out[COST_TO_SERVE] = np.nan
    out[PROFIT] = out[s.REVENUE] - out[PRODUCT_COST].fillna(0.0) - out[COST_TO_SERVE].fillna(0.0)
    buys = lines.loc[lines[s.REVENUE] >= 0]
    out[ORDERS] = order_counts(buys).reindex(index, fill_value=0).astype(int)
    if s.QUANTITY in buys.columns and buys[s.QUANTITY].notna().any():
        units = buys.groupby(s.CUSTOMER_ID)[s.QUANTITY].sum()
        out[UNITS] = units.reindex(index, fill_value=0.0).astype(float)
    else:
        out[UNITS] = np.nan
    return out


def profitability_query(eng, source=None, cost_rates=None, as_of=None) -> str:
    """:func:`customer_profitability` as one SQL query on an open engine.

    Checks the tables first (missing columns, unreadable values). The query's
    columns are customer_id and :data:`PROFITABILITY_COLUMNS`, ordered by
    customer_id, with the same NULLs (no cost, no rates, no quantities) as the
    pandas rule. ``source`` gives the default ``as_of`` (a ClientData's);
    otherwise the last order date.

    On either engine the row checks, the last order date, whether any cost and
    any quantity is known, and the per-customer sums come from one query over
    the transactions (:func:`_one_pass`). On DuckDB the query returned reads them
    once more for the activity events of cost-to-serve, after a scan of tickets and
    of interactions for their row checks. On Spark the one query sums the lines per
    customer, order key and channel, and the events come from that table and one
    scan each of tickets and interactions that also counts their row checks
    (:func:`crmlib.analytics.costs.spark_events`).
    """
    from crmlib.engines import as_of_sql

    needed = (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE)
    eng.need("transactions", needed, "for customer profitability")
    columns = [*needed, s.COST, s.QUANTITY]
    when = as_of if as_of is not None else getattr(source, "as_of", None)
    when, has_cost, has_qty, sums_and_buys = _one_pass(eng, columns, when)
    day = as_of_sql(when)
    rates = cost_rates
    if rates is None and eng.has("cost_rates", s.ACTIVITY):
        rates = eng.sql("SELECT * FROM cost_rates")
    if rates is not None and rates.empty:
        rates = None
    names = {
        "cid": s.CUSTOMER_ID,
        "revenue": s.REVENUE,
        "has_cost": str(has_cost).upper(),
        "has_rates": str(rates is not None).upper(),
        "has_qty": str(has_qty).upper(),
        "product_cost": PRODUCT_COST,
        "cost_to_serve": COST_TO_SERVE,
        "profit": PROFIT,
        "orders": ORDERS,
        "units": UNITS,
        "rates": costs.rates_sql(rates if rates is not None else _NO_RATES),
    }
    if eng.name == "spark":  # tickets and interactions read once each, their checks counted
        customers = eng.has("customers", s.CUSTOMER_ID)
        return (_SPARK_PROFIT_SQL + _PROFIT_COLUMNS_SQL).format(
            lines=_SPARK_LINES,
            customers=_SPARK_CUSTOMER_IDS.format(cid=s.CUSTOMER_ID) if customers else "",
            events=costs.spark_events(eng, day, _SPARK_LINES),
            events_listed=int(rates is not None),
            order=s.ACT_ORDER,
            **names,
        )
    for table, stamp in (("tickets", s.OPENED_AT), ("interactions", s.TIMESTAMP)):
        if eng.has(table):
            eng.check_rows(table, [s.CUSTOMER_ID, stamp])
    ids = ["SELECT cid FROM sums"]
    if eng.has("customers", s.CUSTOMER_ID):
        ids.append(f"SELECT {s.CUSTOMER_ID} AS cid FROM customers")
    if rates is not None:
        ids.append("SELECT cid FROM events WHERE cid IS NOT NULL")
    return (_PROFIT_SQL + _PROFIT_COLUMNS_SQL).format(
        events=costs.events_sql(eng, day),
        sums_and_buys=sums_and_buys,
        ids=" UNION ".join(ids),
        **names,
    )


def _one_pass(eng, columns, when):
    """Read the transactions once (see ``_ONE_PASS_SQL``; Spark caches the table it makes).

    Returns
    -------
    tuple
        The as-of date (``when``, else the last order date), whether any cost
        and any quantity is known up to it, and the ``sums`` and ``buys``
        common table expressions over the per-customer table the scan left.

    Raises
    ------
    DataError
        The error of :meth:`crmlib.engines.Engine.check_rows` when a row
        fails a check (counted in the same scan), or no order line.
    """
    from crmlib.engines import as_of_sql

    table = _SPARK_LINES if eng.name == "spark" else "onepass_profitability"
    checks = eng.row_checks("transactions", columns)
    when = None if when is None else _timestamp(when, "as_of")

    def typed(column, absent="CAST(NULL AS DOUBLE)"):
        return eng.typed("transactions", column) if eng.has("transactions", column) else absent

    day = f"CAST({typed(s.ORDER_DATE)} AS DATE)"
    has_id = eng.has("transactions", s.ORDER_ID)
    channel = typed(s.CHANNEL, absent="''")
    eng.sql_no_result(
        (_SPARK_ONE_PASS_SQL if eng.name == "spark" else _ONE_PASS_SQL).format(
            table=table,
            window="day IS NOT NULL" if when is None else f"day <= {as_of_sql(when)}",
            cid=typed(s.CUSTOMER_ID),
            day=day,
            rev=typed(s.REVENUE),
            cost=typed(s.COST),
            qty=typed(s.QUANTITY),
            okey=order_key_sql(has_id, typed(s.ORDER_ID) if has_id else s.ORDER_ID, day),
            ch=f"COALESCE({channel}, '')",
            checks=checks.flags,
            check_sums=checks.sums,
        )
    )
    also = ", SUM(costs) AS costs, SUM(quantities) AS quantities"
    found, when = eng.refuse_and_date(checks, table, "last", when, also=also)
    when = _timestamp(when, "as_of")
    has_cost = eng.has("transactions", s.COST) and bool(found["costs"] or 0)
    has_qty = eng.has("transactions", s.QUANTITY) and bool(found["quantities"] or 0)
    return when, has_cost, has_qty, _FOLDED_SQL.format(table=table)


def _profitability_sql(source, cost_rates, engine, as_of, spark_master) -> pd.DataFrame:
    """:func:`customer_profitability` in SQL, on DuckDB or Spark (:mod:`crmlib.engines`)."""
    from crmlib.engines import Engine

    with Engine(engine, source, spark_master=spark_master) as eng:
        out = eng.sql(profitability_query(eng, source, cost_rates, as_of))
    out[s.CUSTOMER_ID] = out[s.CUSTOMER_ID].astype(str)
    out = out.set_index(s.CUSTOMER_ID)
    if not out.index.is_monotonic_increasing:
        out = out.sort_index()
    for col in (s.REVENUE, PRODUCT_COST, COST_TO_SERVE, PROFIT, UNITS):
        out[col] = out[col].astype(float)
    out[ORDERS] = out[ORDERS].astype(int)
    return out[list(PROFITABILITY_COLUMNS)]


def profit_basis(profitability: pd.DataFrame) -> str:
    """What the ``profit`` column of :func:`customer_profitability` measures.

    Parameters
    ----------
    profitability : DataFrame
        From :func:`customer_profitability`.

    Returns
    -------
    str
        ``"profit"`` (revenue - product cost - cost-to-serve), ``"gross margin"``
        (no cost rates), ``"revenue less cost-to-serve"`` (no product cost) or
        ``"revenue"`` (neither).
    """
    has_cost = profitability[PRODUCT_COST].notna().any()
    has_serve = profitability[COST_TO_SERVE].notna().any()
    if has_cost and has_serve:
        return "profit"
    if has_cost:
        return "gross margin"
    if has_serve:
        return "revenue less cost-to-serve"
    return "revenue"
