"""Buttle's CRM value chain: the five primary stages measured from client data.

Francis Buttle's CRM value chain (Buttle & Maklan, *Customer Relationship
Management: Concepts and Technologies*, Routledge; built on Porter's
value chain, Porter, *Competitive Advantage*, Free Press 1985) has five
primary stages, each resting on five supporting conditions (leadership &
culture, procurement, HR, IT / data, organisation design: the ``value_chain``
question bank of :mod:`crmlib.analytics.assessment`, tied back to the stages by
:func:`conditions_by_stage`). What the data can show per stage:

Customer portfolio analysis
    Which customers create value: :func:`customer_profitability` (revenue -
    product cost - activity-based cost-to-serve, :mod:`crmlib.analytics.costs`), the
    whale curve and its figures (:func:`whale_curve`, :func:`whale_summary`,
    :func:`profit_gini`), ABC classes (:func:`abc_classes`), the profitability
    matrix of net price against cost-to-serve (:func:`net_price`,
    :func:`profitability_matrix`) and strategically significant customers
    (:func:`strategic_flags`).
Customer intimacy
    What the organisation knows about each customer (:func:`customer_knowledge`)
    and where knowledge is thin for valuable customers (:func:`knowledge_by_value`,
    :func:`thin_knowledge`).
Network development
    Partners and suppliers named in the data (:func:`partner_columns`) and
    the experience and value of the customers each serves
    (:func:`partner_performance`).
Value proposition development
    Per segment (:func:`needs_segments` from surveys, else a value class):
    what they buy, through which channels, what they value and what they
    cost (:func:`value_proposition`), small cells suppressed.
Relationship management
    Lifecycle stages by explicit rules (:func:`lifecycle_stages`), their
    counts per period (:func:`stage_counts`), the migration between two dates
    (:func:`migration_matrix`) and the acquisition / retention / development
    split of revenue (:func:`revenue_sources`).

Conventions: a *purchase* is a transaction line with revenue >= 0 (a
negative line is a return, as in :mod:`crmlib.data.io`); ``as_of`` is the last
day observed, inclusive (default ``data.as_of``, else the last order date).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.analytics import costs
from crmlib.data import schema as s
from crmlib.data.checks import need_columns as _need
from crmlib.errors import CRMError, DataError
from crmlib.models.qci import nps  # Reichheld's Net Promoter Score, defined once in the workbook

__all__ = [
    "ProfitabilityMatrix",
    "abc_classes",
    "conditions_by_stage",
    "customer_knowledge",
    "customer_profitability",
    "knowledge_by_value",
    "lifecycle_stages",
    "migration_matrix",
    "needs_segments",
    "net_price",
    "net_price_basis",
    "partner_columns",
    "partner_performance",
    "profit_basis",
    "profit_gini",
    "profitability_matrix",
    "revenue_sources",
    "stage_counts",
    "strategic_flags",
    "thin_knowledge",
    "value_proposition",
    "whale_curve",
    "whale_summary",
]

# --- vocabulary of the results (the inputs' columns come from crmlib.data.schema) --------------
PRODUCT_COST = "product_cost"
COST_TO_SERVE = costs.COST_TO_SERVE
PROFIT = "profit"
ORDERS = s.ORDERS
UNITS = "units"
PROFITABILITY_COLUMNS = (s.REVENUE, PRODUCT_COST, COST_TO_SERVE, PROFIT, ORDERS, UNITS)

RANK = "rank"
CUSTOMER_SHARE = "customer_share"
PROFIT_SHARE = "profit_share"
CUSTOMERS = "customers"
TOTAL = "total"
TOP_SHARE = "top_share"
PEAK_SHARE = "peak_share"
PEAK_AT = "peak_at"
LOSS_MAKING_SHARE = "loss_making_share"
LOSSES_SHARE = "losses_share"
GINI = "gini"

VALUE_CLASS = "value_class"
CLASS_A, CLASS_B, CLASS_C, CLASS_D = "A", "B", "C", "D"
VALUE_CLASSES = (CLASS_A, CLASS_B, CLASS_C, CLASS_D)

NET_PRICE = "net_price"
PRICE_LIST, PRICE_UNIT, PRICE_ORDER = "list", "unit", "order"
PRICE_BASES = {
    PRICE_LIST: "net revenue / list value (quantity x products.unit_price) of the purchases",
    PRICE_UNIT: "net revenue per unit bought",
    PRICE_ORDER: "net revenue per order",
}
COST_PER_ORDER = "cost_per_order"
QUADRANT = "quadrant"
#: Shapiro, Rangan, Moriarty & Ross (1987): (high price?, high cost?) -> quadrant.
CARRIAGE_TRADE, AGGRESSIVE, PASSIVE, BARGAIN_BASEMENT = (
    "carriage trade",
    "aggressive",
    "passive",
    "bargain basement",
)
QUADRANTS = (CARRIAGE_TRADE, AGGRESSIVE, PASSIVE, BARGAIN_BASEMENT)
PROFIT_PER_CUSTOMER = "profit_per_customer"
SHARE = "share"

HIGH_FUTURE_VALUE = "high_future_value"
HIGH_VOLUME = "high_volume"
COST_MAGNET = "cost_magnet"
LOSS_MAKING = "loss_making"

PROFILE_COMPLETENESS = "profile_completeness"
TOUCHPOINTS = "touchpoints"
SURVEYED = "surveyed"
VALUE_GROUP = "value_group"
THIN = "thin_knowledge"
COMPLETE_PROFILE = "complete_profile"
#: Columns of ``customers`` that describe a customer (everything but the key).
PROFILE_FIELDS = tuple(c for c in s.TABLES["customers"].names if c != s.CUSTOMER_ID)

#: Words that mark a partner or supplier column in a client's export.
PARTNER_WORDS = (
    "partner",
    "supplier",
    "carrier",
    "courier",
    "vendor",
    "distributor",
    "dealer",
    "reseller",
    "agent",
    "logistics",
    "fulfil",
    "installer",
    "franchise",
)
PARTNER = "partner"
LINES = "lines"
RETURN_RATE = "return_rate"
TICKETS_PER_CUSTOMER = "tickets_per_customer"
MEAN_CSAT = "mean_csat"
RESOLUTION_HOURS = "median_resolution_hours"

SEGMENT = "segment"
MIXED = "mixed"
NOT_SURVEYED = "no survey answer"
REVENUE_PER_CUSTOMER = "revenue_per_customer"
COST_TO_SERVE_PER_CUSTOMER = "cost_to_serve_per_customer"
TOP_CATEGORIES = "top_categories"
CHANNEL_MIX = "channel_mix"
SUPPRESSED = "suppressed"
MIN_CELL = 5  # a segment of fewer customers is suppressed (small-cell rule)

STAGE = "stage"
NEW, WON_BACK, ACTIVE, AT_RISK, LAPSED = "new", "won back", "active", "at risk", "lapsed"
STAGES = (NEW, WON_BACK, ACTIVE, AT_RISK, LAPSED)
NOT_YET = "not yet a customer"
PERIOD_END = "period_end"
FROM_STAGE, TO_STAGE = "from", "to"

ACQUISITION, RETENTION, DEVELOPMENT, WON_BACK_REVENUE = (
    "acquisition",
    "retention",
    "development",
    "won_back",
)

CONDITIONS = "conditions"
REALITY_MEAN = "mean_reality"
WEAKEST = "weakest_condition"
WEAKEST_REALITY = "weakest_reality"


# --- shared helpers -------------------------------------------------------------------


def _table(data, name: str) -> pd.DataFrame | None:
    """A table of the client data, or None when absent or empty."""
    return data.tables[name] if data.has(name) else None


def _as_of(data, transactions: pd.DataFrame) -> pd.Timestamp:
    when = getattr(data, "as_of", None)
    if when is None:
        when = transactions[s.ORDER_DATE].max()
    return pd.Timestamp(when).normalize()


def _timestamp(value, what: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(value).normalize()
    except (ValueError, TypeError):
        raise CRMError(f"{what} must be a date (YYYY-MM-DD), not {value!r}") from None


def _last_day(transactions: pd.DataFrame) -> pd.Timestamp:
    """The last order date (the default as-of date)."""
    return pd.Timestamp(transactions[s.ORDER_DATE].max()).normalize()


def _observed(transactions: pd.DataFrame, when: pd.Timestamp) -> pd.DataFrame:
    _need(transactions, "transactions", (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE))
    return transactions.loc[transactions[s.ORDER_DATE] <= when]


def _order_key(lines: pd.DataFrame) -> list[str]:
    if s.ORDER_ID in lines.columns and lines[s.ORDER_ID].notna().all():
        return [s.CUSTOMER_ID, s.ORDER_ID]
    return [s.CUSTOMER_ID, s.ORDER_DATE]


def _top(values: pd.Series, share: float) -> pd.Series:
    """True for the ceil(share x n) largest values (ties in index order)."""
    if not 0 < share < 1:
        raise CRMError(f"the top share must lie between 0 and 1, not {share!r}")
    k = math.ceil(share * len(values))
    return values.rank(ascending=False, method="first") <= k


def _pct(value: float) -> str:
    return f"{value:.0%}".replace("%", " %")


# =========================================================================================
# Customer portfolio analysis
# =========================================================================================


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
        For ``engine="spark"``: see :func:`crmlib.engines.spark_session`.

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
    customers = _table(data, "customers")
    if customers is not None:
        ids.append(customers[s.CUSTOMER_ID])
    rates = cost_rates if cost_rates is not None else _table(data, "cost_rates")
    if rates is not None:
        if events is None:
            events = costs.activity_events(
                lines, _table(data, "tickets"), _table(data, "interactions"), as_of=when
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
    orders = buys.drop_duplicates(_order_key(buys)).groupby(s.CUSTOMER_ID).size()
    out[ORDERS] = orders.reindex(index, fill_value=0).astype(int)
    if s.QUANTITY in buys.columns and buys[s.QUANTITY].notna().any():
        units = buys.groupby(s.CUSTOMER_ID)[s.QUANTITY].sum()
        out[UNITS] = units.reindex(index, fill_value=0.0).astype(float)
    else:
        out[UNITS] = np.nan
    return out


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
sums AS (
    SELECT {cid} AS cid, SUM({revenue}) AS revenue, SUM({cost}) AS product_cost
    FROM transactions WHERE {window}
    GROUP BY {cid}
),
buys AS (
    SELECT cid, COUNT(DISTINCT okey) AS orders, SUM(qty) AS units
    FROM (
        SELECT {cid} AS cid, {okey} AS okey, {qty} AS qty
        FROM transactions WHERE {window} AND {revenue} >= 0
    ) b
    GROUP BY cid
),
ids AS (
    {ids}
),
parts AS (
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
)
SELECT cid AS {cid},
       CAST(revenue AS DOUBLE) AS {revenue},
       CAST(product_cost AS DOUBLE) AS {product_cost},
       CAST(serve AS DOUBLE) AS {cost_to_serve},
       CAST(revenue - COALESCE(product_cost, 0.0) - COALESCE(serve, 0.0) AS DOUBLE) AS {profit},
       orders AS {orders},
       CAST(units AS DOUBLE) AS {units}
FROM parts
ORDER BY cid
"""
_NO_RATES = pd.DataFrame({s.ACTIVITY: [], s.CHANNEL: [], s.UNIT_COST_RATE: []})


def profitability_query(eng, source=None, cost_rates=None, as_of=None) -> str:
    """:func:`customer_profitability` as one SQL query on an open engine.

    Checks the tables first (missing columns, unreadable values). The query's
    columns are customer_id and :data:`PROFITABILITY_COLUMNS`, ordered by
    customer_id, with the same NULLs (no cost, no rates, no quantities) as the
    pandas rule. ``source`` gives the default ``as_of`` (a ClientData's);
    otherwise the last order date.
    """
    from crmlib.engines import as_of_sql

    needed = (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE)
    eng.need("transactions", needed, "for customer profitability")
    eng.check_rows("transactions", [*needed, s.COST, s.QUANTITY])
    when = as_of if as_of is not None else getattr(source, "as_of", None)
    if when is None:
        when = eng.last_order_date()
    when = _timestamp(when, "as_of")
    day = as_of_sql(when)
    window = f"CAST({s.ORDER_DATE} AS DATE) <= {day}"
    bought = f"{window} AND {s.REVENUE} >= 0"
    has_cost = eng.has("transactions", s.COST) and bool(
        eng.scalar(f"SELECT COUNT({s.COST}) FROM transactions WHERE {window}")
    )
    has_qty = eng.has("transactions", s.QUANTITY) and bool(
        eng.scalar(f"SELECT COUNT({s.QUANTITY}) FROM transactions WHERE {bought}")
    )
    by_order_id = eng.has("transactions", s.ORDER_ID) and bool(
        eng.scalar(f"SELECT COUNT(*) = COUNT({s.ORDER_ID}) FROM transactions WHERE {bought}")
    )
    rates = cost_rates
    if rates is None and eng.has("cost_rates", s.ACTIVITY):
        rates = eng.sql("SELECT * FROM cost_rates")
    if rates is not None and rates.empty:
        rates = None
    for table, stamp in (("tickets", s.OPENED_AT), ("interactions", s.TIMESTAMP)):
        if eng.has(table):
            eng.check_rows(table, [s.CUSTOMER_ID, stamp])
    ids = ["SELECT cid FROM sums"]
    if eng.has("customers", s.CUSTOMER_ID):
        ids.append(f"SELECT {s.CUSTOMER_ID} AS cid FROM customers")
    if rates is not None:
        ids.append("SELECT cid FROM events WHERE cid IS NOT NULL")
    return _PROFIT_SQL.format(
        events=costs.events_sql(eng, day, by_order_id),
        rates=costs.rates_sql(rates if rates is not None else _NO_RATES),
        cid=s.CUSTOMER_ID,
        revenue=s.REVENUE,
        cost=s.COST if has_cost else "CAST(NULL AS DOUBLE)",
        qty=s.QUANTITY if has_qty else "CAST(NULL AS DOUBLE)",
        okey=s.ORDER_ID if by_order_id else f"CAST(CAST({s.ORDER_DATE} AS DATE) AS VARCHAR)",
        window=window,
        ids=" UNION ".join(ids),
        has_cost=str(has_cost).upper(),
        has_rates=str(rates is not None).upper(),
        has_qty=str(has_qty).upper(),
        product_cost=PRODUCT_COST,
        cost_to_serve=COST_TO_SERVE,
        profit=PROFIT,
        orders=ORDERS,
        units=UNITS,
    )


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


def _values(values, what: str = "values") -> pd.Series:
    series = pd.Series(values, dtype="float64").dropna()
    if series.empty:
        raise CRMError(f"there are no {what} to rank")
    return series


def whale_curve(values) -> pd.DataFrame:
    """The whale curve: cumulative profit (share of the total) of customers ranked by profit.

    Customers are sorted from the most to the least profitable; point k is
    ``(k / n, sum of the k largest profits / total profit)``. The curve
    rises above 1 (100 %) while profitable customers are added, peaks where
    the loss-making customers begin, and falls back to 1: the "whale" of
    Kaplan & Cooper (*Cost & Effect: Using Integrated Cost Systems to Drive
    Profitability and Performance*, Harvard Business School Press 1998).

    Parameters
    ----------
    values : Series
        Profit (or revenue) per customer; missing values are left out.

    Returns
    -------
    DataFrame
        n + 1 rows from (0, 0): columns rank (0..n), customer_share and
        profit_share (fractions: 1.0 = 100 %), and customer_id (None on the
        first row).

    Raises
    ------
    CRMError
        When the total is not positive: shares of a loss are undefined.
    """
    series = _values(values)
    total = float(series.sum())
    if not total > 0:
        raise CRMError(
            f"the total is {total:,.2f}: the whale curve shows shares of a positive total only"
        )
    ranked = series.sort_values(ascending=False, kind="stable")
    n = len(ranked)
    return pd.DataFrame(
        {
            RANK: np.arange(n + 1),
            CUSTOMER_SHARE: np.arange(n + 1) / n,
            PROFIT_SHARE: np.concatenate([[0.0], ranked.cumsum().to_numpy() / total]),
            s.CUSTOMER_ID: [None, *ranked.index],
        }
    )


def profit_gini(values) -> float:
    """Concentration of profit: a Gini coefficient that stays in [0, 1) with loss-makers.

    ``G = sum_i sum_j |x_i - x_j| / (2 n^2 mean|x|)``, computed on the sorted
    values as ``sum_i (2i - n - 1) x_(i) / (n sum|x|)``. For non-negative
    values this is Gini's coefficient (the mean difference over twice the
    mean: Gini 1912, "Variabilità e mutabilità"); dividing by the mean
    *absolute* value keeps it within [0, 1) when some customers lose money,
    where the classical coefficient exceeds 1. 0 = every customer earns the
    same; near 1 = one customer carries everything.

    Storbacka's Stobachoff index (Storbacka 1995; van Raaij 2005, "The
    strategic value of customer profitability analysis", *Marketing
    Intelligence & Planning* 23(4), 372-381) measures the same
    cross-subsidisation of loss-makers by profitable customers, but its
    formula could not be confirmed from a source available to the workbook,
    so this clearly defined alternative is used instead (and the whale curve's
    peak and losses share, :func:`whale_summary`, state the subsidy directly).

    Parameters
    ----------
    values : Series or array-like
        Profit per customer; missing values are left out.

    Returns
    -------
    float
        NaN when every value is 0.
    """
    x = np.sort(_values(values).to_numpy())
    n = x.size
    scale = np.abs(x).sum()
    if scale == 0:
        return float("nan")
    weights = 2 * np.arange(1, n + 1) - n - 1
    return float((weights * x).sum() / (n * scale))


def whale_summary(values, top: float = 0.2) -> pd.Series:
    """The figures a whale curve is read by.

    Parameters
    ----------
    values : Series
        Profit per customer.
    top : float, default 0.2
        The share of most profitable customers whose profit share is reported.

    Returns
    -------
    Series
        ``customers``; ``total`` profit; ``top_share`` (profit of the top
        ceil(top n) customers / total: Kaplan & Cooper's "the top 20 % earn
        150-300 % of profit"); ``peak_share`` (the curve's height at its peak
        = profit of the profitable customers / total) and ``peak_at`` (the
        share of customers at the peak); ``loss_making_share`` (share of
        customers with profit < 0: they destroy profit); ``losses_share``
        (their losses / total profit = peak_share - 1: how much of the
        profitable customers' profit they consume, in shares of the total);
        ``gini`` (:func:`profit_gini`).
    """
    if not 0 < top < 1:
        raise CRMError(f"top must lie between 0 and 1, not {top!r}")
    series = _values(values)
    curve = whale_curve(series)
    total = float(series.sum())
    k = math.ceil(top * len(series))
    peak = int(curve[PROFIT_SHARE].to_numpy().argmax())
    return pd.Series(
        {
            CUSTOMERS: float(len(series)),
            TOTAL: total,
            TOP_SHARE: float(curve[PROFIT_SHARE].iloc[k]),
            PEAK_SHARE: float(curve[PROFIT_SHARE].iloc[peak]),
            PEAK_AT: float(curve[CUSTOMER_SHARE].iloc[peak]),
            LOSS_MAKING_SHARE: float((series < 0).mean()),
            LOSSES_SHARE: float(-series[series < 0].sum() / total),
            GINI: profit_gini(series),
        }
    )


def abc_classes(values, a: float = 0.8, b: float = 0.95) -> pd.Series:
    """ABC (Pareto) classes of customers by their share of the profit the profitable ones make.

    Customers are ranked by profit, largest first; P is the sum of the
    positive profits. A customer is in class

    * ``A`` while the profit of the customers ranked before them is below
      ``a`` x P (the few who make the first 80 %),
    * ``B`` while it is below ``b`` x P (the next 15 %),
    * ``C`` otherwise, with profit >= 0 (the long tail),
    * ``D`` with profit < 0 (loss-makers, a class the classical ABC analysis
      of inventory, with only positive values, does not need).

    The 80/20 reading is Pareto's; ABC classes for customers follow the
    inventory practice (Dickie 1951, "ABC inventory analysis shoots for
    dollars, not pennies", *Factory Management and Maintenance* 109).

    Returns
    -------
    Series
        Categorical A < B < C < D named ``value_class``, indexed like ``values``.
    """
    if not 0 < a < b <= 1:
        raise CRMError(f"the ABC limits must satisfy 0 < a < b <= 1, not a={a}, b={b}")
    series = _values(values)
    ranked = series.sort_values(ascending=False, kind="stable")
    positive = float(ranked.clip(lower=0).sum())
    before = ranked.clip(lower=0).cumsum() - ranked.clip(lower=0)
    share = before / positive if positive > 0 else pd.Series(1.0, index=ranked.index)
    labels = np.where(
        ranked < 0, CLASS_D, np.where(share < a, CLASS_A, np.where(share < b, CLASS_B, CLASS_C))
    )
    out = pd.Series(labels, index=ranked.index).reindex(series.index)
    return pd.Series(
        pd.Categorical(out, categories=VALUE_CLASSES, ordered=True),
        index=series.index,
        name=VALUE_CLASS,
    )


def net_price_basis(data) -> str:
    """The best net-price measure the data allow: ``"list"``, ``"unit"`` or ``"order"``.

    ``list`` needs products.unit_price and transactions.product_id and
    quantity; ``unit`` needs quantity; ``order`` always works.

    Parameters
    ----------
    data : crmlib.data.io.ClientData

    Returns
    -------
    str
        A key of :data:`PRICE_BASES`.
    """
    tx = data.transactions
    products = _table(data, "products")
    has_qty = s.QUANTITY in tx.columns and tx[s.QUANTITY].notna().any()
    if (
        products is not None
        and s.UNIT_PRICE in products.columns
        and products[s.UNIT_PRICE].notna().any()
        and s.PRODUCT_ID in tx.columns
        and has_qty
    ):
        return PRICE_LIST
    return PRICE_UNIT if has_qty else PRICE_ORDER


def net_price(data, basis: str | None = None) -> pd.Series:
    """The net price each customer pays: the price axis of the profitability matrix.

    Shapiro, Rangan, Moriarty & Ross (1987), "Manage customers for profits
    (not just sales)", *Harvard Business Review* 65(5), place customers by the
    net price they pay (after discounts, allowances and concessions) and
    the cost to serve them. On purchase lines (revenue >= 0) up to ``as_of``:

    * ``"list"``: sum of revenue / sum of quantity x ``products.unit_price``:
      the share of list price realised (1.0 = full price, 0.8 = on average
      20 % below list), over the lines whose product has a list price;
    * ``"unit"``: revenue per unit bought (without list prices: comparable
      only within a similar range of products);
    * ``"order"``: revenue per order (without quantities).

    Parameters
    ----------
    data : crmlib.data.io.ClientData
    basis : {"list", "unit", "order"}, optional
        Default :func:`net_price_basis`.

    Returns
    -------
    Series
        Named ``net_price``, indexed by customer_id (customers with a priced purchase).
    """
    basis = basis or net_price_basis(data)
    if basis not in PRICE_BASES:
        raise CRMError(f"basis must be one of {', '.join(PRICE_BASES)}, not {basis!r}")
    tx = data.transactions
    buys = _observed(tx, _as_of(data, tx))
    buys = buys.loc[buys[s.REVENUE] >= 0]
    if basis == PRICE_LIST:
        products = _table(data, "products")
        if products is None or s.UNIT_PRICE not in products.columns:
            raise DataError("net price against list price needs products.unit_price")
        _need(buys, "transactions", (s.PRODUCT_ID, s.QUANTITY))
        price = products.drop_duplicates(s.PRODUCT_ID).set_index(s.PRODUCT_ID)[s.UNIT_PRICE]
        listed = buys[s.QUANTITY] * buys[s.PRODUCT_ID].map(price)
        priced = buys.assign(_list=listed).loc[listed > 0]
        sums = priced.groupby(s.CUSTOMER_ID)[[s.REVENUE, "_list"]].sum()
        value = sums[s.REVENUE] / sums["_list"]
    elif basis == PRICE_UNIT:
        _need(buys, "transactions", (s.QUANTITY,))
        sums = buys.loc[buys[s.QUANTITY] > 0].groupby(s.CUSTOMER_ID)[[s.REVENUE, s.QUANTITY]].sum()
        value = sums[s.REVENUE] / sums[s.QUANTITY]
    else:
        orders = buys.drop_duplicates(_order_key(buys)).groupby(s.CUSTOMER_ID).size()
        value = buys.groupby(s.CUSTOMER_ID)[s.REVENUE].sum() / orders
    value.index = value.index.astype(str)
    return value.rename(NET_PRICE).sort_index()


@dataclass
class ProfitabilityMatrix:
    """Customers placed by net price and cost-to-serve (see :func:`profitability_matrix`).

    Attributes
    ----------
    customers : DataFrame
        Index customer_id; columns net_price, cost_per_order, revenue, profit, quadrant.
    price_split, cost_split : float
        The lines between low and high (a value above the line is high).
    price_basis : str
        What net price measures (a key of :data:`PRICE_BASES`).
    """

    customers: pd.DataFrame
    price_split: float
    cost_split: float
    price_basis: str

    def summary(self) -> pd.DataFrame:
        """Per quadrant: customers, their share, revenue, profit and profit per customer."""
        grouped = self.customers.groupby(QUADRANT, observed=False)
        out = pd.DataFrame(
            {
                CUSTOMERS: grouped.size(),
                s.REVENUE: grouped[s.REVENUE].sum(),
                PROFIT: grouped[PROFIT].sum(),
            }
        ).reindex(list(QUADRANTS), fill_value=0)
        out[SHARE] = out[CUSTOMERS] / max(len(self.customers), 1)
        out[PROFIT_PER_CUSTOMER] = out[PROFIT] / out[CUSTOMERS].where(out[CUSTOMERS] > 0)
        out.index.name = QUADRANT
        return out[[CUSTOMERS, SHARE, s.REVENUE, PROFIT, PROFIT_PER_CUSTOMER]]


def profitability_matrix(
    profitability: pd.DataFrame,
    price: pd.Series,
    price_split: float | None = None,
    cost_split: float | None = None,
    price_basis: str = PRICE_LIST,
) -> ProfitabilityMatrix:
    """The customer profitability matrix: net price received against cost to serve.

    Shapiro, Rangan, Moriarty & Ross (1987), "Manage customers for profits
    (not just sales)", *Harvard Business Review* 65(5), 101-108:

    ================  ===========  ============
    quadrant          net price    cost to serve
    ================  ===========  ============
    carriage trade    high         high
    aggressive        low          high
    passive           high         low
    bargain basement  low          low
    ================  ===========  ============

    Cost to serve is per order (``cost_to_serve / orders``), so that a large
    customer is not "high cost" merely for buying often. High = above the
    split; the default splits are the medians over the customers placed.

    Parameters
    ----------
    profitability : DataFrame
        From :func:`customer_profitability`, with cost-to-serve.
    price : Series
        From :func:`net_price`.
    price_split, cost_split : float, optional
    price_basis : str
        What ``price`` measures, for the chart's label.

    Returns
    -------
    ProfitabilityMatrix
        Customers with at least one order and a net price.
    """
    if profitability[COST_TO_SERVE].isna().all():
        raise CRMError(
            "the profitability matrix needs cost-to-serve, and these data have no cost rates"
        )
    placed = profitability.loc[profitability[ORDERS] > 0, [s.REVENUE, PROFIT]].copy()
    placed[COST_PER_ORDER] = (
        profitability[COST_TO_SERVE] / profitability[ORDERS].where(profitability[ORDERS] > 0)
    ).reindex(placed.index)
    placed[NET_PRICE] = pd.Series(price, dtype="float64").reindex(placed.index)
    placed = placed.dropna(subset=[NET_PRICE, COST_PER_ORDER])
    if placed.empty:
        raise CRMError("no customer has both a net price and a cost-to-serve per order")
    p = float(placed[NET_PRICE].median()) if price_split is None else float(price_split)
    c = float(placed[COST_PER_ORDER].median()) if cost_split is None else float(cost_split)
    high_price = placed[NET_PRICE] > p
    high_cost = placed[COST_PER_ORDER] > c
    quadrant = np.select(
        [high_price & high_cost, ~high_price & high_cost, high_price & ~high_cost],
        [CARRIAGE_TRADE, AGGRESSIVE, PASSIVE],
        default=BARGAIN_BASEMENT,
    )
    placed[QUADRANT] = pd.Categorical(quadrant, categories=QUADRANTS)
    columns = [NET_PRICE, COST_PER_ORDER, s.REVENUE, PROFIT, QUADRANT]
    return ProfitabilityMatrix(placed[columns], p, c, price_basis)


def strategic_flags(
    profitability: pd.DataFrame,
    clv: pd.Series | None = None,
    top: float = 0.2,
    magnet_factor: float = 2.0,
) -> pd.DataFrame:
    """Flags for strategically significant customers that the data can show.

    Buttle & Maklan (customer portfolio analysis) list strategically
    significant customers: high future lifetime value, high volume,
    benchmark customers, those who inspire change, door openers, and those
    whose demands make them expensive to serve. Data can show three:

    * ``high_future_value``: CLV (e.g. :func:`crmlib.analytics.clv.customer_lifetime_value`)
      among the top ``top`` share of customers with a CLV; NA without ``clv``;
    * ``high_volume``: revenue among the top ``top`` share;
    * ``cost_magnet``: cost-to-serve per order at least ``magnet_factor`` times
      the median over customers with an order, *and* profit < 0: customers
      whose service demands (returns, tickets, costly channels) eat more than
      their margin (the "cost magnets" of the whale curve's tail: Kaplan &
      Cooper 1998). NA without cost rates;
    * ``loss_making``: profit < 0; NA when the data hold no cost at all (no
      product cost, no cost rates: the "profit" would be revenue, and absent
      costs are not zero costs).

    Benchmark customers, change inspirers and door openers need the
    consultant's judgement: no table records them.

    Returns
    -------
    DataFrame
        Index like ``profitability``; the four columns above, nullable booleans.
    """
    if magnet_factor <= 0:
        raise CRMError(f"magnet_factor must be positive, not {magnet_factor!r}")
    out = pd.DataFrame(index=profitability.index)
    if clv is not None:
        value = pd.Series(clv, dtype="float64").dropna()
        value.index = value.index.astype(str)
        top_value = _top(value, top).reindex(profitability.index, fill_value=False)
        out[HIGH_FUTURE_VALUE] = top_value.astype("boolean")
    else:
        out[HIGH_FUTURE_VALUE] = pd.array([pd.NA] * len(out), dtype="boolean")
    out[HIGH_VOLUME] = _top(profitability[s.REVENUE], top).astype("boolean")
    if profitability[COST_TO_SERVE].notna().any():
        ordered = profitability[ORDERS] > 0
        per_order = profitability[COST_TO_SERVE] / profitability[ORDERS].where(ordered)
        magnet = (per_order >= magnet_factor * per_order[ordered].median()) & (
            profitability[PROFIT] < 0
        )
        out[COST_MAGNET] = magnet.astype("boolean")
    else:
        out[COST_MAGNET] = pd.array([pd.NA] * len(out), dtype="boolean")
    no_cost = all(  # a frame of customer_profitability whose costs are all unknown
        c in profitability and profitability[c].isna().all() for c in (PRODUCT_COST, COST_TO_SERVE)
    )
    if no_cost:
        out[LOSS_MAKING] = pd.array([pd.NA] * len(out), dtype="boolean")
    else:
        out[LOSS_MAKING] = (profitability[PROFIT] < 0).astype("boolean")
    return out


# =========================================================================================
# Customer intimacy
# =========================================================================================


def customer_knowledge(data) -> pd.DataFrame:
    """What the organisation knows about each customer.

    Customer intimacy rests on a customer database and learning from every
    touchpoint (Buttle & Maklan, the value chain's second stage). Per customer:

    * ``profile_completeness``: share of the customers table's descriptive
      fields (name, e-mail, phone, city, country, sign-up date, acquisition
      channel, source system: those the table has) that are filled; 0 for a
      buyer without a customer record; NaN without a customers table;
    * ``touchpoints``: recorded contacts outside purchases: rows of
      interactions, tickets and survey answers;
    * ``surveyed``: at least one survey answer (NA without a surveys table).

    Returns
    -------
    DataFrame
        Index customer_id: the customers table's customers and every buyer.
    """
    tx = data.transactions
    ids = [tx[s.CUSTOMER_ID]]
    customers = _table(data, "customers")
    if customers is not None:
        ids.append(customers[s.CUSTOMER_ID])
    index = pd.Index(pd.concat(ids).astype(str).unique(), name=s.CUSTOMER_ID).sort_values()
    out = pd.DataFrame(index=index)
    if customers is not None:
        fields = [c for c in PROFILE_FIELDS if c in customers.columns]
        records = customers.drop_duplicates(s.CUSTOMER_ID).set_index(s.CUSTOMER_ID)
        records.index = records.index.astype(str)
        filled = records[fields].notna() if fields else pd.DataFrame(index=records.index)
        if fields:
            text = records[fields].astype("string").apply(lambda c: c.str.strip() != "")
            filled &= text.fillna(False).astype(bool)
        share = filled.mean(axis=1) if fields else pd.Series(np.nan, index=records.index)
        out[PROFILE_COMPLETENESS] = share.reindex(index, fill_value=0.0).astype(float)
    else:
        out[PROFILE_COMPLETENESS] = np.nan
    touch = pd.Series(0, index=index, dtype="int64")
    for name in ("interactions", "tickets", "surveys"):
        table = _table(data, name)
        if table is not None and s.CUSTOMER_ID in table.columns:
            counts = table[s.CUSTOMER_ID].astype(str).value_counts()
            touch = touch.add(counts.reindex(index, fill_value=0), fill_value=0).astype("int64")
    out[TOUCHPOINTS] = touch
    surveys = _table(data, "surveys")
    if surveys is not None:
        out[SURVEYED] = index.isin(surveys[s.CUSTOMER_ID].astype(str))
        out[SURVEYED] = out[SURVEYED].astype("boolean")
    else:
        out[SURVEYED] = pd.array([pd.NA] * len(out), dtype="boolean")
    return out


def _value_group(value: pd.Series, top: float) -> tuple[pd.Series, tuple[str, str]]:
    valued = pd.Series(value, dtype="float64").dropna()
    valued.index = valued.index.astype(str)
    label_top, label_rest = f"top {_pct(top)} by value", "the rest"
    group = np.where(_top(valued, top), label_top, label_rest)
    return pd.Series(group, index=valued.index, name=VALUE_GROUP), (label_top, label_rest)


def knowledge_by_value(knowledge: pd.DataFrame, value: pd.Series, top: float = 0.2):
    """Knowledge of the most valuable customers beside that of the rest.

    Parameters
    ----------
    knowledge : DataFrame
        From :func:`customer_knowledge`.
    value : Series
        Value per customer (profit, CLV, or revenue).
    top : float, default 0.2

    Returns
    -------
    DataFrame
        Rows "top 20 % by value" and "the rest"; columns customers, mean
        profile completeness, share with a complete profile, mean touchpoints
        and survey coverage (share surveyed).
    """
    group, labels = _value_group(value, top)
    joined = knowledge.join(group, how="inner")
    grouped = joined.groupby(VALUE_GROUP)
    out = pd.DataFrame(
        {
            CUSTOMERS: grouped.size(),
            PROFILE_COMPLETENESS: grouped[PROFILE_COMPLETENESS].mean(),
            COMPLETE_PROFILE: grouped[PROFILE_COMPLETENESS].apply(
                lambda v: float((v >= 1).mean()) if v.notna().any() else np.nan
            ),
            TOUCHPOINTS: grouped[TOUCHPOINTS].mean(),
            SURVEYED: grouped[SURVEYED].apply(
                lambda v: float(v.astype("float64").mean()) if v.notna().any() else np.nan
            ),
        }
    )
    return out.reindex(list(labels))


def thin_knowledge(
    knowledge: pd.DataFrame, value: pd.Series, top: float = 0.2, min_completeness: float = 1.0
) -> pd.Series:
    """Valuable customers the organisation knows too little about.

    A customer among the top ``top`` share by ``value`` has *thin knowledge*
    when their profile completeness is below ``min_completeness`` or they
    have never answered a survey (when the client runs surveys): the firm
    cannot say what they need. Without a customers table every valuable
    customer has thin knowledge: nothing about them is recorded.

    Parameters
    ----------
    knowledge : DataFrame
        From :func:`customer_knowledge`.
    value : Series
        Value per customer (profit, CLV, or revenue).
    top : float, default 0.2
        The share of customers, by value, who count as valuable.
    min_completeness : float, default 1.0
        The profile completeness below which knowledge is thin.

    Returns
    -------
    Series
        Boolean ``thin_knowledge`` for the valuable customers only, indexed by customer_id.
    """
    group, labels = _value_group(value, top)
    valuable = knowledge.reindex(group.index[group == labels[0]])
    thin = valuable[PROFILE_COMPLETENESS].fillna(0) < min_completeness
    if valuable[SURVEYED].notna().any():
        thin |= ~valuable[SURVEYED].fillna(False).astype(bool)
    return thin.rename(THIN)


# =========================================================================================
# Network development
# =========================================================================================


def partner_columns(data) -> list[tuple[str, str]]:
    """Columns that name a partner or supplier (carrier, courier, dealer, ...), by table.

    Client exports may carry columns beyond the data contract (kept by
    :mod:`crmlib.data.io`); a column whose name contains one of
    :data:`PARTNER_WORDS` is taken to name the partner that handled the row.

    Parameters
    ----------
    data : crmlib.data.io.ClientData

    Returns
    -------
    list of (table, column)
    """
    found = []
    for name, table in data.tables.items():
        known = set(s.TABLES[name].names) if name in s.TABLES else set()
        for column in table.columns:
            text = str(column).lower()
            if column not in known and any(word in text for word in PARTNER_WORDS):
                if table[column].notna().any():
                    found.append((name, str(column)))
    return found


def partner_performance(
    data, table: str, column: str, profitability: pd.DataFrame | None = None
) -> pd.DataFrame:
    """How each partner's customers fare: volume, returns, service and value.

    Network development (Buttle & Maklan) asks whether suppliers, partners
    and employees work from the same customer knowledge to create value.
    Grouping a table's rows by the partner that handled them:

    * transactions: lines, customers, revenue and the return rate (returned
      lines / purchase lines); each customer is assigned the partner of most
      of their lines, and gets the mean ``profit`` of the customers assigned
      to each partner (with ``profitability``) and their tickets per customer
      and mean CSAT (with tickets);
    * tickets: tickets, customers, mean CSAT and median resolution hours;
    * other tables: rows and customers.

    These are associations: a partner may serve harder customers.

    Parameters
    ----------
    data : crmlib.data.io.ClientData
    table, column : str
        Where the partner is named (from :func:`partner_columns`).
    profitability : DataFrame, optional
        From :func:`customer_profitability`, for the profit per customer.

    Returns
    -------
    DataFrame
        Index ``partner``, one row per partner value, largest first.
    """
    if not data.has(table):
        raise DataError(f"{table}: the table is absent or empty", file=table)
    frame = data.tables[table]
    _need(frame, table, (column, s.CUSTOMER_ID))
    rows = frame.dropna(subset=[column]).assign(**{PARTNER: lambda f: f[column].astype(str)})
    grouped = rows.groupby(PARTNER)
    out = pd.DataFrame({LINES: grouped.size(), CUSTOMERS: grouped[s.CUSTOMER_ID].nunique()})
    if table == "transactions":
        out[s.REVENUE] = grouped[s.REVENUE].sum()
        returned = grouped[s.REVENUE].apply(lambda r: (r < 0).sum())
        bought = grouped[s.REVENUE].apply(lambda r: (r >= 0).sum())
        out[RETURN_RATE] = returned / bought.where(bought > 0)
        counts = rows.groupby([s.CUSTOMER_ID, PARTNER]).size().rename("n").reset_index()
        counts = counts.sort_values([s.CUSTOMER_ID, "n", PARTNER], ascending=[True, False, True])
        main = counts.drop_duplicates(s.CUSTOMER_ID).set_index(s.CUSTOMER_ID)[PARTNER]
        main.index = main.index.astype(str)
        if profitability is not None:
            out[PROFIT_PER_CUSTOMER] = profitability[PROFIT].groupby(main).mean()
        tickets = _table(data, "tickets")
        if tickets is not None:
            ids = tickets[s.CUSTOMER_ID].astype(str)
            per_customer = ids.value_counts().reindex(main.index, fill_value=0)
            out[TICKETS_PER_CUSTOMER] = per_customer.groupby(main).mean()
            if s.CSAT in tickets.columns:
                out[MEAN_CSAT] = tickets[s.CSAT].groupby(ids.map(main)).mean()
    elif table == "tickets":
        if s.CSAT in rows.columns:
            out[MEAN_CSAT] = grouped[s.CSAT].mean()
        if s.CLOSED_AT in rows.columns and s.OPENED_AT in rows.columns:
            hours = (rows[s.CLOSED_AT] - rows[s.OPENED_AT]).dt.total_seconds() / 3600
            out[RESOLUTION_HOURS] = hours.where(hours >= 0).groupby(rows[PARTNER]).median()
    out.index.name = PARTNER
    return out.sort_values(LINES, ascending=False, kind="stable")


# =========================================================================================
# Value proposition development
# =========================================================================================


def needs_segments(surveys: pd.DataFrame, columns=s.NEEDS) -> pd.Series:
    """Each surveyed customer's needs segment: the need they rate most important.

    The answers of a customer who replied more than once are averaged; the
    segment is the need with the highest mean (``need_price`` gives
    ``"price"``), or ``"mixed"`` when two or more needs tie for the highest.
    A transparent rule for a first value proposition; a statistical
    segmentation of the answers (k-means) is in :mod:`crmlib.models.idic`.

    Parameters
    ----------
    surveys : DataFrame
        customer_id and the needs answers.
    columns : tuple of str, default :data:`crmlib.data.schema.NEEDS`

    Returns
    -------
    Series
        Named ``segment``, indexed by customer_id (customers with all needs answered).
    """
    columns = list(columns)
    _need(surveys, "surveys", [s.CUSTOMER_ID, *columns])
    answers = surveys.dropna(subset=columns)
    if answers.empty:
        raise DataError("surveys: no answer has every needs question answered", file="surveys")
    means = answers.groupby(answers[s.CUSTOMER_ID].astype(str))[columns].mean()
    best = means.max(axis=1)
    ties = means.eq(best, axis=0).sum(axis=1)
    names = pd.Series([c.removeprefix("need_") for c in columns], index=columns)
    segment = names.reindex(means.idxmax(axis=1)).to_numpy()
    out = pd.Series(np.where(ties > 1, MIXED, segment), index=means.index, name=SEGMENT)
    out.index.name = s.CUSTOMER_ID
    return out


def _mix(frame: pd.DataFrame, key: str, weight: str, top: int) -> pd.Series:
    """Per segment, "a 40 %, b 30 %" of the top ``top`` values of ``key`` by ``weight``."""
    sums = frame.groupby([SEGMENT, key])[weight].sum()
    total = sums.groupby(level=0).sum()
    shares = sums / total.reindex(sums.index.get_level_values(0)).to_numpy()

    def text(group: pd.Series) -> str:
        best = group.droplevel(0).sort_values(ascending=False, kind="stable").head(top)
        return ", ".join(f"{k} {_pct(v)}" for k, v in best.items() if v > 0)

    return shares.groupby(level=0).apply(text)


def value_proposition(
    data,
    profitability: pd.DataFrame,
    segments: pd.Series,
    min_cell: int = MIN_CELL,
    top_categories: int = 3,
) -> pd.DataFrame:
    """A segment value-proposition table a consultant can hand over.

    Value proposition development (Buttle & Maklan) designs what each chosen
    segment gets, from what they buy, how they buy and what they value, at a
    cost to serve the firm can bear. Per segment:

    * customers and their share; revenue, profit and cost-to-serve per customer;
    * ``top_categories``: the categories with the largest share of the
      segment's purchase revenue (needs products.category);
    * ``channel_mix``: the channels' shares of the segment's orders;
    * the mean importance of each need (surveys: what they value) and NPS;
    * ``suppressed``: a segment of fewer than ``min_cell`` customers shows
      no figures at all (not even its count), so that no small group (a few
      identifiable customers) can be read off the table.

    Parameters
    ----------
    data : crmlib.data.io.ClientData
    profitability : DataFrame
        From :func:`customer_profitability`.
    segments : Series
        Segment per customer_id (:func:`needs_segments`, or value classes).
        Customers without one are grouped as "no survey answer".
    min_cell : int, default 5
    top_categories : int, default 3

    Returns
    -------
    DataFrame
        Index ``segment``, largest first.
    """
    if min_cell < 1:
        raise CRMError(f"min_cell must be at least 1, not {min_cell!r}")
    segment = pd.Series(segments).astype("object")
    segment.index = segment.index.astype(str)
    members = segment.reindex(profitability.index).fillna(NOT_SURVEYED).rename(SEGMENT)
    base = profitability.join(members)
    grouped = base.groupby(SEGMENT)
    out = pd.DataFrame(
        {
            CUSTOMERS: grouped.size(),
            REVENUE_PER_CUSTOMER: grouped[s.REVENUE].mean(),
            PROFIT_PER_CUSTOMER: grouped[PROFIT].mean(),
            COST_TO_SERVE_PER_CUSTOMER: grouped[COST_TO_SERVE].mean(),
        }
    )
    out.insert(1, SHARE, out[CUSTOMERS] / out[CUSTOMERS].sum())
    tx = data.transactions
    buys = _observed(tx, _as_of(data, tx))
    buys = buys.loc[buys[s.REVENUE] >= 0].assign(
        **{SEGMENT: lambda f: f[s.CUSTOMER_ID].astype(str).map(members)}
    )
    products = _table(data, "products")
    if products is not None and s.CATEGORY in products.columns and s.PRODUCT_ID in buys.columns:
        category = products.drop_duplicates(s.PRODUCT_ID).set_index(s.PRODUCT_ID)[s.CATEGORY]
        lines = buys.assign(**{s.CATEGORY: buys[s.PRODUCT_ID].map(category)})
        out[TOP_CATEGORIES] = _mix(
            lines.dropna(subset=[s.CATEGORY]), s.CATEGORY, s.REVENUE, top_categories
        )
    if s.CHANNEL in buys.columns:
        orders = buys.drop_duplicates(_order_key(buys)).dropna(subset=[s.CHANNEL])
        out[CHANNEL_MIX] = _mix(orders.assign(_one=1), s.CHANNEL, "_one", 3)
    surveys = _table(data, "surveys")
    if surveys is not None:
        answers = surveys.assign(**{SEGMENT: surveys[s.CUSTOMER_ID].astype(str).map(members)})
        needs = [c for c in (*s.NEEDS, s.NPS) if c in answers.columns]
        means = answers.groupby(SEGMENT)[needs[:-1]].mean() if len(needs) > 1 else None
        if means is not None:
            out = out.join(means)
        if s.NPS in answers.columns:
            out[s.NPS] = answers.groupby(SEGMENT)[s.NPS].apply(nps)
    out = out.sort_values(CUSTOMERS, ascending=False, kind="stable")
    small = out[CUSTOMERS] < min_cell
    out[CUSTOMERS] = out[CUSTOMERS].astype("Int64")
    for column in out.columns:
        out.loc[small, column] = pd.NA if column == CUSTOMERS else np.nan
    out[SUPPRESSED] = small
    out.index.name = SEGMENT
    return out


# =========================================================================================
# Relationship management
# =========================================================================================


def _check_rules(new_days, at_risk_days, lapsed_days) -> tuple[int, int, int]:
    values = (new_days, at_risk_days, lapsed_days)
    for name, value in zip(("new_days", "at_risk_days", "lapsed_days"), values, strict=True):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise CRMError(f"{name} must be a whole number of days, at least 1, not {value!r}")
    if not new_days <= at_risk_days < lapsed_days:
        raise CRMError(
            "the lifecycle rules need new_days <= at_risk_days < lapsed_days, not "
            f"{new_days}, {at_risk_days}, {lapsed_days}"
        )
    return int(new_days), int(at_risk_days), int(lapsed_days)


def _purchase_days(transactions: pd.DataFrame) -> pd.DataFrame:
    """Distinct purchase days per customer with the gap (days) since the previous one."""
    _need(transactions, "transactions", (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE))
    bought = transactions.loc[transactions[s.REVENUE] >= 0, [s.CUSTOMER_ID, s.ORDER_DATE]]
    days = pd.DataFrame(
        {
            s.CUSTOMER_ID: bought[s.CUSTOMER_ID].astype(str),
            s.ORDER_DATE: bought[s.ORDER_DATE].dt.normalize(),
        }
    ).drop_duplicates()
    days = days.sort_values([s.CUSTOMER_ID, s.ORDER_DATE], kind="stable")
    previous = days.groupby(s.CUSTOMER_ID)[s.ORDER_DATE].shift(1)
    days["_gap"] = (days[s.ORDER_DATE] - previous).dt.days
    return days


def _stages_at(days: pd.DataFrame, at: pd.Timestamp, rules: tuple[int, int, int]) -> pd.Series:
    new_days, at_risk_days, lapsed_days = rules
    seen = days.loc[days[s.ORDER_DATE] <= at]
    grouped = seen.groupby(s.CUSTOMER_ID)[s.ORDER_DATE]
    since_first = (at - grouped.min()).dt.days
    since_last = (at - grouped.max()).dt.days
    recent = seen.loc[(at - seen[s.ORDER_DATE]).dt.days <= new_days]
    came_back = recent.loc[recent["_gap"] > lapsed_days, s.CUSTOMER_ID].unique()
    stage = np.select(
        [
            since_first <= new_days,
            since_first.index.isin(came_back),
            since_last <= at_risk_days,
            since_last <= lapsed_days,
        ],
        [NEW, WON_BACK, ACTIVE, AT_RISK],
        default=LAPSED,
    )
    return pd.Series(pd.Categorical(stage, categories=STAGES), index=since_first.index, name=STAGE)


def lifecycle_stages(
    transactions: pd.DataFrame,
    at=None,
    new_days: int = 90,
    at_risk_days: int = 180,
    lapsed_days: int = 365,
) -> pd.Series:
    """Each customer's lifecycle stage on a date, by explicit rules.

    With purchases (revenue >= 0) on or before ``at``, the first rule that
    holds gives the stage:

    1. ``new``: the first purchase is at most ``new_days`` days before ``at``;
    2. ``won back``: a purchase at most ``new_days`` days before ``at`` came
       more than ``lapsed_days`` days after the purchase before it (the
       customer had lapsed and came back);
    3. ``active``: the last purchase is at most ``at_risk_days`` days before ``at``;
    4. ``at risk``: the last purchase is more than ``at_risk_days`` and at most
       ``lapsed_days`` days before ``at``;
    5. ``lapsed``: the last purchase is more than ``lapsed_days`` days before ``at``.

    Relationship management across the customer lifecycle (acquisition,
    retention, development, win-back: Buttle & Maklan, the value chain's
    fifth stage); inactivity thresholds are the "hiatus" rules of Wübben &
    von Wangenheim (2008), *Journal of Marketing* 72(3): choose them from
    the client's buying cycle and state them.

    Parameters
    ----------
    transactions : DataFrame
    at : date-like, optional
        Default the last order date.
    new_days, at_risk_days, lapsed_days : int
        ``new_days <= at_risk_days < lapsed_days``.

    Returns
    -------
    Series
        Categorical ``stage`` (categories :data:`STAGES`), indexed by the
        customer_id of every customer with a purchase on or before ``at``.
    """
    rules = _check_rules(new_days, at_risk_days, lapsed_days)
    days = _purchase_days(transactions)
    when = _last_day(transactions) if at is None else _timestamp(at, "at")
    return _stages_at(days, when, rules)


def stage_counts(
    transactions: pd.DataFrame,
    freq: str = "Q",
    as_of=None,
    new_days: int = 90,
    at_risk_days: int = 180,
    lapsed_days: int = 365,
) -> pd.DataFrame:
    """Customers in each lifecycle stage at the end of every period.

    Parameters
    ----------
    transactions : DataFrame
    freq : str, default "Q"
        A pandas period: "M", "Q" or "Y".
    as_of : date-like, optional
        The last period ends here (default the last order date).
    new_days, at_risk_days, lapsed_days : int
        The rules of :func:`lifecycle_stages`.

    Returns
    -------
    DataFrame
        Index ``period_end`` (the last day of each period from the first
        purchase's period on; the last one is ``as_of``), one column per
        stage, counts of customers.
    """
    rules = _check_rules(new_days, at_risk_days, lapsed_days)
    days = _purchase_days(transactions)
    if days.empty:
        raise DataError("transactions: there is no purchase to place in a lifecycle stage")
    when = _last_day(transactions) if as_of is None else _timestamp(as_of, "as_of")
    try:
        periods = pd.period_range(days[s.ORDER_DATE].min(), when, freq=freq)
    except ValueError:
        raise CRMError(
            f"freq must be a pandas period such as 'M', 'Q' or 'Y', not {freq!r}"
        ) from None
    ends = [min(p.end_time.normalize(), when) for p in periods]
    rows = {end: _stages_at(days, end, rules).value_counts().reindex(STAGES) for end in ends}
    out = pd.DataFrame(rows).T.fillna(0).astype(int)
    out.index.name = PERIOD_END
    out.columns.name = STAGE
    return out


def migration_matrix(
    transactions: pd.DataFrame,
    start,
    end,
    new_days: int = 90,
    at_risk_days: int = 180,
    lapsed_days: int = 365,
) -> pd.DataFrame:
    """How customers moved between lifecycle stages from one date to another.

    Rows are the stage on ``start`` (with a row "not yet a customer" for
    those whose first purchase came after it), columns the stage on ``end``;
    cells count customers. Read across a row: where the customers of that
    stage went (a migration matrix, as in the Markov models of customer
    relationships of Pfeifer & Carraway 2000, "Modeling customer relationships
    as Markov chains", *Journal of Interactive Marketing* 14(2)).

    Parameters
    ----------
    transactions : DataFrame
    start, end : date-like
        The two dates, ``start`` before ``end``.
    new_days, at_risk_days, lapsed_days : int
        The rules of :func:`lifecycle_stages`.

    Returns
    -------
    DataFrame
        Index ``from`` (:data:`NOT_YET` then :data:`STAGES`), columns ``to``
        (:data:`STAGES`), integer counts.
    """
    rules = _check_rules(new_days, at_risk_days, lapsed_days)
    t0, t1 = _timestamp(start, "start"), _timestamp(end, "end")
    if not t0 < t1:
        raise CRMError(f"start ({t0:%Y-%m-%d}) must come before end ({t1:%Y-%m-%d})")
    days = _purchase_days(transactions)
    before = _stages_at(days, t0, rules).astype("object")
    after = _stages_at(days, t1, rules)
    origin = before.reindex(after.index).fillna(NOT_YET)
    rows = [NOT_YET, *STAGES]
    table = pd.crosstab(
        pd.Categorical(origin, categories=rows), pd.Categorical(after, categories=STAGES)
    )
    table = table.reindex(index=rows, columns=list(STAGES), fill_value=0).astype(int)
    table.index.name, table.columns.name = FROM_STAGE, TO_STAGE
    return table


def revenue_sources(transactions: pd.DataFrame, as_of=None, months: int = 12) -> pd.Series:
    """Split the revenue of the last ``months`` into acquisition, retention, development, win-back.

    With R(c) a customer's net revenue in the period (``as_of`` - months,
    ``as_of``] and R'(c) in the period of the same length before it:

    * ``acquisition``: R of customers whose first purchase falls in the period;
    * ``retention``: sum of min(R, R') over existing customers who also
      bought in the previous period (the revenue kept);
    * ``development``: sum of max(R - R', 0) over the same customers (the
      growth: up-selling and cross-selling);
    * ``won_back``: R of existing customers who did not buy in the previous period.

    The four add up to ``total``, the period's net revenue. Acquisition,
    retention and development are the three tasks of relationship management
    (Buttle & Maklan; Blattberg, Getz & Thomas 2001, *Customer Equity*,
    Harvard Business School Press: acquisition, retention, add-on selling).

    Parameters
    ----------
    transactions : DataFrame
    as_of : date-like, optional
        Default the last order date.
    months : int, default 12

    Returns
    -------
    Series
        acquisition, retention, development, won_back, total; its name gives the period.

    Raises
    ------
    CRMError
        When the period starts before the first order: every customer would
        look newly acquired.
    """
    if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or months < 1:
        raise CRMError(f"months must be a whole number of months, at least 1, not {months!r}")
    _need(transactions, "transactions", (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE))
    end = _last_day(transactions) if as_of is None else _timestamp(as_of, "as_of")
    start = end - pd.DateOffset(months=int(months))
    previous_start = start - pd.DateOffset(months=int(months))
    first_order = transactions[s.ORDER_DATE].min()
    if start < first_order:
        raise CRMError(
            f"the data begin on {first_order:%Y-%m-%d}, after the period's start "
            f"({start:%Y-%m-%d}): revenue sources need history before the period; use fewer months"
        )
    ids = transactions[s.CUSTOMER_ID].astype(str)
    dates = transactions[s.ORDER_DATE]
    now = transactions[s.REVENUE].where((dates > start) & (dates <= end)).groupby(ids).sum()
    before = transactions[s.REVENUE].where((dates > previous_start) & (dates <= start))
    earlier = before.groupby(ids).sum()
    buys = transactions[s.REVENUE] >= 0
    first = dates.where(buys).groupby(ids).min()
    bought_before = ((dates > previous_start) & (dates <= start) & buys).groupby(ids).any()
    in_period = ((dates > start) & (dates <= end)).groupby(ids).any()
    now = now[in_period]
    new = first.reindex(now.index) > start
    kept = bought_before.reindex(now.index, fill_value=False) & ~new
    prev = earlier.reindex(now.index, fill_value=0.0)
    retention = np.minimum(now[kept], prev[kept])
    out = pd.Series(
        {
            ACQUISITION: float(now[new].sum()),
            RETENTION: float(retention.sum()),
            DEVELOPMENT: float((now[kept] - retention).sum()),
            WON_BACK_REVENUE: float(now[~new & ~kept].sum()),
            TOTAL: float(now.sum()),
        }
    )
    out.name = f"{(start + pd.Timedelta(days=1)):%Y-%m-%d} to {end:%Y-%m-%d}"
    return out


# =========================================================================================
# Supporting conditions
# =========================================================================================


def conditions_by_stage(result) -> pd.DataFrame:
    """The supporting conditions that hold back each primary stage, with their scores.

    Each area (supporting condition) of the ``value_chain`` question bank
    names the primary stages it holds back (``holds_back``; the workbook's
    reading of Buttle & Maklan's model). Per primary stage: the conditions
    that bear on it, the mean of their reality scores, and the weakest of
    them: the condition to fix first for that stage.

    Parameters
    ----------
    result : crmlib.analytics.assessment.AssessmentResult
        The scored ``value_chain`` assessment.

    Returns
    -------
    DataFrame
        Index the primary stage id; columns name, conditions (names, weakest
        first), mean_reality, weakest_condition, weakest_reality.
    """
    from crmlib.analytics.assessment import HOLDS_BACK, NAME

    stages = result.bank.primary_stages
    if not stages:
        raise CRMError(f"the '{result.bank.id}' bank has no primary stages to tie conditions to")
    rows = []
    for stage_id, stage_name in stages.items():
        held = result.areas[[stage_id in ids for ids in result.areas[HOLDS_BACK]]]
        held = held.sort_values(s.REALITY, kind="stable", na_position="last")
        scored = held.dropna(subset=[s.REALITY])
        rows.append(
            {
                "stage": stage_id,
                NAME: stage_name,
                CONDITIONS: ", ".join(held[NAME]),
                REALITY_MEAN: float(scored[s.REALITY].mean()) if len(scored) else np.nan,
                WEAKEST: scored[NAME].iloc[0] if len(scored) else None,
                WEAKEST_REALITY: float(scored[s.REALITY].iloc[0]) if len(scored) else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("stage")
