"""Penetration: categories per customer and cross-sell rate."""

from __future__ import annotations

import pandas as pd

from crmlib.analytics.orders import purchase_lines as _purchases
from crmlib.data import schema as s
from crmlib.data.checks import need_columns as _need
from crmlib.errors import DataError
from crmlib.models.qci._common import (
    CATEGORIES_PER_CUSTOMER,
    CROSS_SELL_RATE,
    CUSTOMERS,
    N_CATEGORIES,
    TOP_CATEGORY,
    TOP_CATEGORY_SHARE,
)

# --- penetration ------------------------------------------------------------------------


def customer_categories(
    transactions: pd.DataFrame, products: pd.DataFrame, as_of=None
) -> pd.DataFrame:
    """Per customer: categories bought, the top category and its share of spend.

    Purchase lines are joined to ``products.category`` through ``product_id``;
    lines whose product or category is unknown are left out.

    Returns
    -------
    DataFrame
        Index customer_id; columns ``n_categories`` (distinct categories
        bought), ``top_category`` (the category with the largest revenue,
        ties to the first in name order) and ``top_category_share`` (its
        revenue / the customer's categorised revenue; NaN when that is 0).
    """
    _need(transactions, "transactions", (s.PRODUCT_ID,))
    _need(products, "products", (s.PRODUCT_ID, s.CATEGORY))
    bought, _ = _purchases(transactions, as_of)
    category_of = products.drop_duplicates(s.PRODUCT_ID).set_index(s.PRODUCT_ID)[s.CATEGORY]
    lines = bought[[s.CUSTOMER_ID, s.PRODUCT_ID, s.REVENUE]].assign(
        **{s.CATEGORY: bought[s.PRODUCT_ID].map(category_of)}
    )
    lines = lines.dropna(subset=[s.CATEGORY])
    if lines.empty:
        raise DataError("transactions: no purchase line has a product found in products")
    spend = lines.groupby([s.CUSTOMER_ID, s.CATEGORY])[s.REVENUE].sum().reset_index()
    spend = spend.sort_values(
        [s.CUSTOMER_ID, s.REVENUE, s.CATEGORY], ascending=[True, False, True], kind="stable"
    )
    top = spend.drop_duplicates(s.CUSTOMER_ID).set_index(s.CUSTOMER_ID)
    total = spend.groupby(s.CUSTOMER_ID)[s.REVENUE].sum()
    out = pd.DataFrame(
        {
            N_CATEGORIES: spend.groupby(s.CUSTOMER_ID)[s.CATEGORY].nunique(),
            TOP_CATEGORY: top[s.CATEGORY],
            TOP_CATEGORY_SHARE: top[s.REVENUE] / total.where(total > 0),
        }
    )
    out.index.name = s.CUSTOMER_ID
    return out


def penetration(transactions: pd.DataFrame, products: pd.DataFrame, as_of=None) -> pd.Series:
    """Penetration of the customer base: how far customers buy across the range.

    * categories per customer = mean of ``n_categories``;
    * cross-sell rate = share of customers who bought in two or more categories;
    * top-category share = mean share of a customer's spend in their top
      category (1 = every customer buys in one category only).

    Penetration is the "P" of REAP (Woodcock, Stone & Foss 2003, ch. 1);
    the product-holding measures follow Kamakura, Wedel, de Rosa & Mazzon
    (2003), "Cross-selling through database marketing", *International
    Journal of Research in Marketing* 20(1).

    Returns
    -------
    Series
        customers, categories_per_customer, cross_sell_rate, top_category_share.
    """
    per = customer_categories(transactions, products, as_of)
    return pd.Series(
        {
            CUSTOMERS: float(len(per)),
            CATEGORIES_PER_CUSTOMER: float(per[N_CATEGORIES].mean()),
            CROSS_SELL_RATE: float((per[N_CATEGORIES] >= 2).mean()),
            TOP_CATEGORY_SHARE: float(per[TOP_CATEGORY_SHARE].mean()),
        }
    )
