"""Orders and purchase occasions: what the workbook counts, defined once.

A **purchase line** is a transaction line with revenue >= 0 up to the as-of date (a line
with negative revenue is a return, not a purchase: :mod:`crmlib.data.io`).

An **order** is the set of a customer's purchase lines that share an ``order_id``; a line
without an ``order_id`` (the column absent, or empty on that line) counts as its customer's
order of that calendar day. :func:`order_keys` gives each line its order, the same rule in
pandas and in SQL (:func:`order_key_sql`), so that a summary, a cost-to-serve, a channel
path and a KPI count the same orders whatever engine runs them and however many order ids
the export lacks. An order's day is its first line's day; its channel the first, in
alphabetical order, of its lines' channels (one channel in practice: the rule only keeps
the count independent of line order).

A **purchase occasion** is a day on which a customer bought (one or more orders): the unit
of the BTYD models (Fader, Hardie & Lee 2005), whose ``frequency`` counts repeat occasions.
"""

from __future__ import annotations

import pandas as pd

from crmlib.data import schema as s
from crmlib.data.checks import as_of_date, need_columns
from crmlib.errors import DataError

ORDER_KEY = "order_key"
DAY_PREFIX = "day "  # the order key of a line without an order_id: "day 2024-03-31"


def purchase_lines(transactions: pd.DataFrame, as_of=None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Purchase lines (revenue >= 0) up to ``as_of`` inclusive, and ``as_of``.

    Returns are not purchases (see :mod:`crmlib.data.io`).
    """
    need_columns(transactions, "transactions", (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE))
    if transactions.empty:
        raise DataError("transactions: there are no order lines to measure", file="transactions")
    when = as_of_date(transactions, as_of)
    keep = (transactions[s.REVENUE] >= 0) & (transactions[s.ORDER_DATE] <= when)
    bought = transactions.loc[keep]
    if bought.empty:
        raise DataError(
            f"transactions: no purchase on or before {when:%Y-%m-%d}", file="transactions"
        )
    return bought, when


def order_keys(lines: pd.DataFrame) -> pd.Series:
    """Each line's order within its customer: its ``order_id``, else ``"day YYYY-MM-DD"``.

    Parameters
    ----------
    lines : DataFrame
        Transaction lines with ``order_date`` and, optionally, ``order_id``.

    Returns
    -------
    Series of str
        Same index as ``lines``, named ``order_key``. Orders are the distinct
        (customer_id, order_key) pairs.
    """
    if s.ORDER_ID in lines.columns:
        keys = lines[s.ORDER_ID].astype(object)
        missing = keys.isna()
    else:
        keys = pd.Series(None, index=lines.index, dtype=object)
        missing = pd.Series(True, index=lines.index)
    if missing.any():  # the day's key only where a line has no order id
        day = pd.to_datetime(lines.loc[missing, s.ORDER_DATE]).dt.strftime("%Y-%m-%d")
        keys = keys.where(~missing, DAY_PREFIX + day)
    return keys.astype(str).rename(ORDER_KEY)


def order_key_sql(has_order_id: bool, order_id: str = s.ORDER_ID, day: str | None = None) -> str:
    """:func:`order_keys` as an SQL expression (DuckDB dialect; Spark through sqlglot).

    Parameters
    ----------
    has_order_id : bool
        Whether the table has an ``order_id`` column.
    order_id : str
        The order id column (or alias) in the query.
    day : str, optional
        An expression for the line's day (a DATE); default ``CAST(order_date AS DATE)``.
    """
    day = day or f"CAST({s.ORDER_DATE} AS DATE)"
    by_day = f"'{DAY_PREFIX}' || CAST({day} AS VARCHAR)"
    if not has_order_id:
        return by_day
    return f"COALESCE(CAST({order_id} AS VARCHAR), {by_day})"


def order_table(transactions: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """One row per order (:func:`order_keys`) among the purchase lines up to ``as_of``.

    Returns
    -------
    DataFrame
        Columns customer_id, order_key, order_date (the order's first day), channel (when
        the lines have one) and revenue (the order's lines summed), sorted by customer and
        date.
    """
    bought, _ = purchase_lines(transactions, as_of)
    frame = pd.DataFrame(
        {
            s.CUSTOMER_ID: bought[s.CUSTOMER_ID].to_numpy(),
            ORDER_KEY: order_keys(bought).to_numpy(),
            s.ORDER_DATE: pd.to_datetime(bought[s.ORDER_DATE]).dt.normalize().to_numpy(),
            s.REVENUE: bought[s.REVENUE].to_numpy(),
        }
    )
    how = {s.ORDER_DATE: "min", s.REVENUE: "sum"}
    if s.CHANNEL in bought.columns:
        frame[s.CHANNEL] = bought[s.CHANNEL].astype(object).to_numpy()
        how[s.CHANNEL] = "min"  # NaN skipped: the first channel in alphabetical order
    out = frame.groupby([s.CUSTOMER_ID, ORDER_KEY], sort=False, as_index=False).agg(how)
    columns = [s.CUSTOMER_ID, ORDER_KEY, s.ORDER_DATE] + (
        [s.CHANNEL] if s.CHANNEL in out.columns else []
    ) + [s.REVENUE]
    return out[columns].sort_values(
        [s.CUSTOMER_ID, s.ORDER_DATE, ORDER_KEY], kind="stable", ignore_index=True
    )


def main_channel(transactions: pd.DataFrame) -> pd.Series:
    """Each customer's main purchase channel: the channel of most of their orders.

    Orders as :func:`order_table` lists them; ties go to the channel first in name order.
    """
    need_columns(
        transactions, "transactions", (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, s.CHANNEL),
        purpose="for each customer's main channel",
    )  # fmt: skip
    placed = order_table(transactions).dropna(subset=[s.CHANNEL])
    counts = placed.groupby([s.CUSTOMER_ID, s.CHANNEL]).size().rename("n").reset_index()
    counts = counts.sort_values([s.CUSTOMER_ID, "n", s.CHANNEL], ascending=[True, False, True])
    return counts.drop_duplicates(s.CUSTOMER_ID).set_index(s.CUSTOMER_ID)[s.CHANNEL]


def one_line_per_order(lines: pd.DataFrame) -> pd.DataFrame:
    """The purchase lines reduced to one per order (:func:`order_keys`), with ``order_key``.

    The line kept carries the order's channel: the first, in alphabetical order, of its lines'
    channels (missing channels last).
    """
    keyed = lines.assign(**{ORDER_KEY: order_keys(lines)})
    if s.CHANNEL in keyed.columns:
        keyed = keyed.sort_values(s.CHANNEL, kind="stable", na_position="last")
    return keyed.drop_duplicates([s.CUSTOMER_ID, ORDER_KEY]).sort_index()


def order_counts(lines: pd.DataFrame) -> pd.Series:
    """Orders per customer among ``lines`` (purchase lines): distinct :func:`order_keys`."""
    keys = order_keys(lines)
    return keys.groupby(lines[s.CUSTOMER_ID].to_numpy()).nunique().rename(s.ORDERS)
