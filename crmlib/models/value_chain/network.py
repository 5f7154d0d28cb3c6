"""Network development: partners (carriers, suppliers) and how they perform."""

from __future__ import annotations

import pandas as pd

from crmlib.analytics.profitability import PROFIT
from crmlib.data import schema as s
from crmlib.data.checks import need_columns as _need
from crmlib.errors import DataError
from crmlib.models.value_chain._common import (
    CUSTOMERS,
    LINES,
    MEAN_CSAT,
    PARTNER,
    PARTNER_WORDS,
    PROFIT_PER_CUSTOMER,
    RESOLUTION_HOURS,
    RETURN_RATE,
    TICKETS_PER_CUSTOMER,
)

# =========================================================================================
# Network development
# =========================================================================================


#: Partner columns of the data contract itself: the supplier of each product.
CONTRACT_PARTNER_COLUMNS = (("products", s.SUPPLIER),)


def partner_columns(data) -> list[tuple[str, str]]:
    """Columns that name a partner or supplier (carrier, courier, dealer, ...), by table.

    The contract's own partner columns (:data:`CONTRACT_PARTNER_COLUMNS`:
    ``products.supplier``) count when they hold a value and the transactions name
    the product of each line (a supplier is measured on its products' lines);
    client exports may also
    carry columns beyond the data contract (kept by :mod:`crmlib.data.io`), and a
    column whose name contains one of :data:`PARTNER_WORDS` is taken to name the
    partner that handled the row.

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
            contract = (name, column) in CONTRACT_PARTNER_COLUMNS and (
                name != "products" or s.PRODUCT_ID in data.tables.get("transactions", {})
            )
            if contract or (column not in known and any(w in text for w in PARTNER_WORDS)):
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
    * products (a supplier column): the order lines of each supplier's products,
      measured as transactions are;
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
    if table == "products":  # a supplier per product: measured on the lines of its products
        _need(frame, table, (s.PRODUCT_ID, column))
        tx = data.transactions
        _need(tx, "transactions", (s.PRODUCT_ID,), purpose="to measure the suppliers")
        supplier = frame.drop_duplicates(s.PRODUCT_ID).set_index(s.PRODUCT_ID)[column]
        frame = tx.assign(**{column: tx[s.PRODUCT_ID].map(supplier)})
        table = "transactions"
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
        tickets = data.table("tickets")
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
