"""Customer portfolio analysis: ABC classes, net price, the profitability matrix and strategic
flags.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.analytics.concentration import _values, top_mask
from crmlib.analytics.orders import order_counts
from crmlib.analytics.profitability import (
    COST_TO_SERVE,
    ORDERS,
    PRODUCT_COST,
    PROFIT,
    _as_of,
    _observed,
)
from crmlib.data import schema as s
from crmlib.data.checks import need_columns as _need
from crmlib.errors import CRMError, DataError
from crmlib.models.value_chain._common import (
    ABC_CLASS,
    ABC_CLASSES,
    AGGRESSIVE,
    BARGAIN_BASEMENT,
    CARRIAGE_TRADE,
    CLASS_A,
    CLASS_B,
    CLASS_C,
    CLASS_D,
    COST_PER_ORDER,
    COSTLY_TO_SERVE,
    CUSTOMERS,
    HIGH_FUTURE_VALUE,
    HIGH_VOLUME,
    JUDGEMENT_ONLY,
    LOSS_MAKING,
    NET_PRICE,
    PASSIVE,
    PRICE_BASES,
    PRICE_LIST,
    PRICE_ORDER,
    PRICE_UNIT,
    PROFIT_PER_CUSTOMER,
    QUADRANT,
    QUADRANTS,
    SHARE,
)

# =========================================================================================
# Customer portfolio analysis
# =========================================================================================


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
        pd.Categorical(out, categories=ABC_CLASSES, ordered=True),
        index=series.index,
        name=ABC_CLASS,
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
    products = data.table("products")
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
        products = data.table("products")
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
        value = buys.groupby(s.CUSTOMER_ID)[s.REVENUE].sum() / order_counts(buys)
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
    cost_factor: float = 2.0,
) -> pd.DataFrame:
    """Strategically significant customers, and the costly-to-serve tail, per customer.

    Buttle & Maklan (*Customer Relationship Management: Concepts and Technologies*, the
    chapter on customer portfolio management) call customers strategically significant
    for more than this year's profit (:data:`STRATEGIC_SIGNIFICANCE`):

    * ``high_future_value``: high future lifetime value: CLV (e.g.
      :class:`crmlib.analytics.clv.CLVPipeline`) among the top ``top`` share of customers
      with a CLV; NA without ``clv``;
    * ``high_volume``: high volume: customers who absorb fixed costs, the volume that
      carries the fixed cost base and is worth keeping even at a thin margin; here the top
      ``top`` share by net revenue, whatever their profit;
    * ``benchmark``, ``inspiration``, ``door_opener``: benchmark customers others copy,
      customers who inspire change, door openers to new markets: the account team's
      judgement, no table records them, so the flags are NA (:data:`JUDGEMENT_ONLY`).

    Two more flags that are not Buttle's list:

    * ``costly_to_serve``: cost-to-serve per order at least ``cost_factor`` times the
      median over customers with an order, *and* profit < 0: the costly-to-serve tail of
      the whale curve, customers whose service demands (returns, tickets, costly channels)
      eat more than their margin (Kaplan & Cooper 1998, *Cost & Effect*). NA without cost
      rates;
    * ``loss_making``: profit < 0; NA when the data hold no cost at all (no product cost,
      no cost rates: the "profit" would be revenue, and absent costs are not zero costs).

    Returns
    -------
    DataFrame
        Index like ``profitability``; the seven columns above, nullable booleans.
    """
    if cost_factor <= 0:
        raise CRMError(f"cost_factor must be positive, not {cost_factor!r}")
    out = pd.DataFrame(index=profitability.index)
    missing = pd.array([pd.NA] * len(out), dtype="boolean")
    if clv is not None:
        value = pd.Series(clv, dtype="float64").dropna()
        value.index = value.index.astype(str)
        top_value = top_mask(value, top).reindex(profitability.index, fill_value=False)
        out[HIGH_FUTURE_VALUE] = top_value.astype("boolean")
    else:
        out[HIGH_FUTURE_VALUE] = missing
    out[HIGH_VOLUME] = top_mask(profitability[s.REVENUE], top).astype("boolean")
    for kind in JUDGEMENT_ONLY:
        out[kind] = missing
    if profitability[COST_TO_SERVE].notna().any():
        ordered = profitability[ORDERS] > 0
        per_order = profitability[COST_TO_SERVE] / profitability[ORDERS].where(ordered)
        costly = (per_order >= cost_factor * per_order[ordered].median()) & (
            profitability[PROFIT] < 0
        )
        out[COSTLY_TO_SERVE] = costly.astype("boolean")
    else:
        out[COSTLY_TO_SERVE] = missing
    no_cost = all(  # a frame of customer_profitability whose costs are all unknown
        c in profitability and profitability[c].isna().all() for c in (PRODUCT_COST, COST_TO_SERVE)
    )
    if no_cost:
        out[LOSS_MAKING] = missing
    else:
        out[LOSS_MAKING] = (profitability[PROFIT] < 0).astype("boolean")
    return out
