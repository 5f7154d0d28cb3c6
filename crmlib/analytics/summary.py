"""Transactions to one row per customer: the BTYD summary plus totals.

The definitions follow Fader, Hardie & Lee (2005), "Counting your customers
the easy way", Marketing Science 24(2), and the CDNOW summary files they
published:

- purchases on the same calendar day are merged into one purchase occasion;
  returns (negative revenue) are not purchases;
- ``frequency`` = number of repeat purchase occasions (occasions − 1);
- ``recency`` = last − first purchase occasion (not RFM recency, which is the
  time since the last purchase);
- ``T`` = as-of date − first purchase occasion;
- ``monetary_value`` = mean value of the repeat occasions (0 without one);

``recency`` and ``T`` are measured in days (``time_unit="D"``) or weeks
(``"W"``, days / 7). Totals: ``orders`` (:mod:`crmlib.analytics.orders`: distinct order ids,
a line without one counting as its customer's order of that day), ``revenue`` (net of returns),
``margin`` (revenue − cost, missing when cost is unknown) and ``gross_revenue`` (the purchase
occasions' value before returns: what ``monetary_value`` averages over the repeat ones).
``orders`` counts purchases only.

The engines of :mod:`crmlib.engines` give identical results: ``"pandas"``,
``"duckdb"`` (SQL, also on a CSV/Parquet file or client folder too large for
memory) and ``"spark"`` (the same SQL as Spark jobs). ``"auto"`` picks DuckDB
above :data:`DUCKDB_THRESHOLD` rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crmlib.analytics.orders import order_counts, order_key_sql
from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

DUCKDB_THRESHOLD = 1_000_000
TIME_UNITS = {"D": 1.0, "W": 7.0}


def _check(transactions: pd.DataFrame, time_unit: str) -> None:
    if time_unit not in TIME_UNITS:
        raise CRMError(f"time_unit must be 'D' (days) or 'W' (weeks), not {time_unit!r}")
    missing = [c for c in (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE) if c not in transactions]
    if missing:
        raise DataError(
            f"transactions lack the column(s) {', '.join(missing)} needed for a customer summary",
            column=missing[0],
        )


def customer_summary(
    transactions: pd.DataFrame | str | Path,
    as_of=None,
    time_unit: str = "D",
    engine: str = "auto",
    spark_master: str | None = None,
) -> pd.DataFrame:
    """One row per customer: frequency, recency, T, monetary value and totals.

    Parameters
    ----------
    transactions : pandas.DataFrame or path
        Order lines with at least customer_id, order_date and revenue; cost and
        order_id are used when present. A path (CSV or Parquet file or glob)
        is read by DuckDB without loading it into memory.
    as_of : date-like, optional
        Last day of the observation window, inclusive. Later lines are
        ignored. Default: the last order date in the data.
    time_unit : {"D", "W"}
        Unit of recency and T: days or weeks (days / 7).
    engine : {"auto", "pandas", "duckdb", "spark"}
        Where the aggregation runs (:mod:`crmlib.engines`); "auto" is DuckDB
        for a path or more than :data:`DUCKDB_THRESHOLD` rows, else pandas.
        Every engine gives the same summary.
    spark_master : str, optional
        For ``engine="spark"``: the cluster (:func:`crmlib.spark.spark_session`).

    Returns
    -------
    pandas.DataFrame
        Indexed by customer_id (sorted), with the columns
        :data:`crmlib.data.schema.SUMMARY_COLUMNS`. Customers without a purchase
        up to ``as_of`` (e.g. only returns) are not in it.

    References
    ----------
    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). Counting your
    customers the easy way: An alternative to the Pareto/NBD model.
    Marketing Science, 24(2), 275-284.
    """
    from crmlib.engines import check_engine

    check_engine(engine, ("auto", "pandas", "duckdb", "spark"))
    if isinstance(transactions, (str, Path)):
        if engine == "pandas":
            raise CRMError("engine='pandas' needs a DataFrame; use engine='duckdb' for a path")
        engine = "duckdb" if engine == "auto" else engine
        return _summary_sql(engine, Path(transactions), as_of, time_unit, spark_master)
    _check(transactions, time_unit)
    if engine == "auto":
        engine = "duckdb" if len(transactions) > DUCKDB_THRESHOLD else "pandas"
    if engine != "pandas":
        return _summary_sql(engine, transactions, as_of, time_unit, spark_master)
    return _summary_pandas(transactions, as_of, time_unit)


def _summary_pandas(tx: pd.DataFrame, as_of, time_unit: str) -> pd.DataFrame:
    cid, date, rev = s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE
    dates = pd.to_datetime(tx[date]).dt.normalize()
    as_of = dates.max() if as_of is None else pd.Timestamp(as_of)
    window = (dates <= as_of).to_numpy()
    tx = tx.loc[window]
    dates = dates[window]
    has_cost = s.COST in tx and tx[s.COST].notna().any()

    purchase = (tx[rev] >= 0).to_numpy()
    daily = (
        pd.DataFrame(
            {
                cid: tx[cid].to_numpy()[purchase],
                "day": dates.to_numpy()[purchase],
                "value": tx[rev].to_numpy()[purchase],
            }
        )
        .groupby([cid, "day"], sort=True)["value"]
        .sum()
        .reset_index()
    )
    per = daily.groupby(cid, sort=True)
    first = per["day"].min()
    last = per["day"].max()
    occasions = per["day"].size()
    first_value = per["value"].first()
    total_value = per["value"].sum()
    unit = TIME_UNITS[time_unit]

    out = pd.DataFrame(index=first.index)
    out[s.FREQUENCY] = (occasions - 1).astype(float)
    out[s.RECENCY] = (last - first).dt.days / unit
    out[s.T] = (as_of - first).dt.days / unit
    repeat = occasions > 1
    out[s.MONETARY_VALUE] = np.where(
        repeat, (total_value - first_value) / (occasions - 1).where(repeat, 1), 0.0
    )
    out[s.FIRST_PURCHASE] = first.astype("datetime64[ns]")
    out[s.LAST_PURCHASE] = last.astype("datetime64[ns]")
    totals = tx.groupby(cid, sort=True)
    out[s.ORDERS] = order_counts(tx.loc[purchase]).reindex(out.index).astype(float)
    out[s.REVENUE] = totals[rev].sum().reindex(out.index)
    if has_cost:
        cost = totals[s.COST].sum(min_count=1).reindex(out.index)
        out[s.MARGIN] = out[s.REVENUE] - cost
    else:
        out[s.MARGIN] = np.nan
    out[s.GROSS_REVENUE] = total_value.astype(float)
    out.index.name = cid
    return out[list(s.SUMMARY_COLUMNS)]


# The summary's columns from the per-customer table of ``_one_pass`` (``per``, read by
# ``_FOLDED_SQL``): the definitions of the module docstring.
_SELECT_SQL = """
SELECT per.cid AS {cid},
       CAST(occasions - 1 AS DOUBLE) AS {frequency},
       date_diff('day', first, last) / CAST({unit} AS DOUBLE) AS {recency},
       date_diff('day', first, {as_of}) / CAST({unit} AS DOUBLE) AS "{T}",
       CASE WHEN occasions > 1 THEN (total - first_value) / (occasions - 1) ELSE 0.0 END
           AS {monetary},
       CAST(first AS TIMESTAMP) AS {first_purchase},
       CAST(last AS TIMESTAMP) AS {last_purchase},
       CAST(per.orders AS DOUBLE) AS {orders},
       per.revenue AS {revenue},
       per.revenue - per.cost AS {margin},
       per.total AS {gross}
FROM per
ORDER BY per.cid
"""


# DuckDB, one query over the transactions: the per-customer sums of the summary without
# as-of (or with the as-of given), the row checks' counts and each customer's last order
# date, into a temporary table; the checks, the default as-of date (the last order date of
# every line, returns included) and the summary then come from that small table.
_PER_CUSTOMER_SQL = """
CREATE OR REPLACE TEMPORARY TABLE {table} AS
WITH tx AS (
    SELECT {cid} AS cid, {day} AS day, {rev} AS rev, {cost} AS cost, {okey} AS okey{checks}
    FROM raw_transactions
),
daily AS (
    SELECT cid, day, SUM(rev) AS value FROM tx WHERE rev >= 0 AND {window} GROUP BY cid, day
),
per AS (
    SELECT cid, MIN(day) AS first, MAX(day) AS last, COUNT(*) AS occasions,
           SUM(value) AS total, arg_min(value, day) AS first_value
    FROM daily GROUP BY cid
),
totals AS (
    SELECT cid, SUM(rev) FILTER (WHERE {window}) AS revenue,
           SUM(cost) FILTER (WHERE {window}) AS cost,
           COUNT(DISTINCT okey) FILTER (WHERE rev >= 0 AND {window}) AS orders,
           MAX(day) AS last_day{check_sums}
    FROM tx GROUP BY cid
)
SELECT * FROM totals LEFT JOIN per USING (cid)
"""

# Spark, the same table in one scan: the lines are shuffled once, by customer (the hint, see
# crmlib.engines.Engine._spark_sql), and every grouping after it (customer and day; customer
# and order; customer) then runs where the customer's lines are, without another shuffle;
# the totals and the last order date are summed from the days.
_SPARK_PER_CUSTOMER_SQL = """
CREATE OR REPLACE TEMPORARY TABLE {table} AS
WITH tx AS (
    SELECT /*+ REPARTITION(cid) */
           {cid} AS cid, {day} AS day, {rev} AS rev, {cost} AS cost, {okey} AS okey{checks}
    FROM raw_transactions
),
days AS (
    SELECT cid, day, SUM(rev) FILTER (WHERE rev >= 0 AND {window}) AS value,
           COUNT(*) FILTER (WHERE rev >= 0 AND {window}) AS buys,
           SUM(rev) FILTER (WHERE {window}) AS revenue,
           SUM(cost) FILTER (WHERE {window}) AS cost{check_sums}
    FROM tx GROUP BY cid, day
),
per AS (
    SELECT cid, SUM(revenue) AS revenue, SUM(cost) AS cost, MAX(day) AS last_day{check_sums},
           MIN(day) FILTER (WHERE buys > 0) AS first, MAX(day) FILTER (WHERE buys > 0) AS last,
           COUNT(*) FILTER (WHERE buys > 0) AS occasions, SUM(value) AS total,
           arg_min(value, day) FILTER (WHERE buys > 0) AS first_value
    FROM days GROUP BY cid
),
bought AS (
    SELECT cid, COUNT(*) AS orders
    FROM (
        SELECT cid, okey FROM tx WHERE rev >= 0 AND {window} AND okey IS NOT NULL
        GROUP BY cid, okey
    ) o
    GROUP BY cid
)
SELECT per.*, COALESCE(bought.orders, 0) AS orders FROM per LEFT JOIN bought USING (cid)
"""

_FOLDED_SQL = """
WITH per AS (SELECT * FROM {table} WHERE occasions > 0)
"""


def _one_pass(eng, as_of, columns) -> tuple[str, object]:
    """Aggregate the transactions per customer in one query; return the table and as-of date.

    The row checks of :meth:`crmlib.engines.Engine.check_rows` are counted in
    the same query and raise the same error. DuckDB keeps the table as a
    temporary table, Spark as a cached one (:meth:`crmlib.engines.Engine.sql`).
    """
    from crmlib.engines import as_of_sql

    table = "onepass_summary"
    checks = eng.row_checks("transactions", columns)

    def typed(column):
        return eng.typed("transactions", column)

    day = f"CAST({typed(s.ORDER_DATE)} AS DATE)"
    has_id = eng.has("transactions", s.ORDER_ID)
    template = _PER_CUSTOMER_SQL if eng.name == "duckdb" else _SPARK_PER_CUSTOMER_SQL
    eng.sql_no_result(
        template.format(
            table=table,
            cid=typed(s.CUSTOMER_ID),
            day=day,
            rev=typed(s.REVENUE),
            cost=typed(s.COST) if eng.has("transactions", s.COST) else "CAST(NULL AS DOUBLE)",
            okey=order_key_sql(has_id, typed(s.ORDER_ID) if has_id else s.ORDER_ID, day),
            window="day IS NOT NULL" if as_of is None else f"day <= {as_of_sql(as_of)}",
            checks=checks.flags,
            check_sums=checks.sums,
        )
    )
    _, as_of = eng.refuse_and_date(checks, table, "last_day", as_of)
    return table, as_of


def summary_query(eng, as_of=None, time_unit: str = "D") -> str:
    """The customer summary as one SQL query on an open engine (:class:`crmlib.engines.Engine`).

    Checks the transactions first (missing columns, unreadable values). The
    query's columns are customer_id and :data:`crmlib.data.schema.SUMMARY_COLUMNS`,
    ordered by customer_id; :func:`customer_summary` runs it into pandas,
    ``crm aggregate`` writes it straight to Parquet.

    On either engine the transactions are read by one query (:func:`_one_pass`):
    the row checks and the last order date are computed in it, and the query
    returned reads the per-customer table it left.
    """
    from crmlib.engines import as_of_sql

    if time_unit not in TIME_UNITS:
        raise CRMError(f"time_unit must be 'D' (days) or 'W' (weeks), not {time_unit!r}")
    needed = (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE)
    eng.need("transactions", needed, "for a customer summary")
    columns = [*needed, s.COST, s.ORDER_ID]
    table, as_of = _one_pass(eng, as_of, columns)
    head = _FOLDED_SQL.format(table=table, as_of=as_of_sql(as_of))
    return head + _SELECT_SQL.format(
        cid=s.CUSTOMER_ID,
        as_of=as_of_sql(as_of),
        unit=TIME_UNITS[time_unit],
        frequency=s.FREQUENCY,
        recency=s.RECENCY,
        T=s.T,
        monetary=s.MONETARY_VALUE,
        first_purchase=s.FIRST_PURCHASE,
        last_purchase=s.LAST_PURCHASE,
        orders=s.ORDERS,
        revenue=s.REVENUE,
        margin=s.MARGIN,
        gross=s.GROSS_REVENUE,
    )


def _summary_sql(engine: str, source, as_of, time_unit: str, spark_master=None) -> pd.DataFrame:
    from crmlib.engines import Engine

    with Engine(engine, source, spark_master=spark_master) as eng:
        out = eng.sql(summary_query(eng, as_of, time_unit))
    out[s.CUSTOMER_ID] = out[s.CUSTOMER_ID].astype(str)
    out = out.set_index(s.CUSTOMER_ID)
    if not out.index.is_monotonic_increasing:
        out = out.sort_index()
    for col in (s.FIRST_PURCHASE, s.LAST_PURCHASE):
        out[col] = out[col].astype("datetime64[ns]")
    for col in (
        s.FREQUENCY,
        s.RECENCY,
        s.T,
        s.MONETARY_VALUE,
        s.ORDERS,
        s.REVENUE,
        s.MARGIN,
        s.GROSS_REVENUE,
    ):
        out[col] = out[col].astype(float)
    return out[list(s.SUMMARY_COLUMNS)]
