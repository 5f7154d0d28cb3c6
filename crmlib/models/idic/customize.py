"""Customize: category associations (support, confidence, lift) and next best offers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from crmlib.analytics.summary import customer_summary
from crmlib.data import schema as s
from crmlib.data.checks import need_columns
from crmlib.errors import CRMError

if TYPE_CHECKING:
    pass
from crmlib.models.idic._common import (
    ANTECEDENT,
    CONFIDENCE,
    CONSEQUENT,
    CUSTOMERS_A,
    CUSTOMERS_AB,
    CUSTOMERS_B,
    EXPECTED_GAIN,
    KIND_OF_OFFER,
    LIFT,
    NEEDS_SEGMENT,
    NET_GAIN,
    RANK,
    REASON,
    RFM_SEGMENT,
    SUPPORT,
)

# =========================================================================================
# Customize
# =========================================================================================


def _purchases_with_category(transactions, products) -> pd.DataFrame:
    need_columns(transactions, "transactions", (s.CUSTOMER_ID, s.PRODUCT_ID, s.REVENUE), purpose="for category_associations")  # fmt: skip
    need_columns(products, "products", (s.PRODUCT_ID, s.CATEGORY), purpose="for category_associations")
    category = products.drop_duplicates(s.PRODUCT_ID).set_index(s.PRODUCT_ID)[s.CATEGORY]
    lines = transactions[transactions[s.REVENUE] > 0]
    out = pd.DataFrame(
        {
            s.CUSTOMER_ID: lines[s.CUSTOMER_ID].astype("str").to_numpy(),
            s.CATEGORY: lines[s.PRODUCT_ID].map(category).to_numpy(),
            s.MARGIN: (
                lines[s.REVENUE] - lines[s.COST].fillna(0.0)
                if s.COST in lines
                else lines[s.REVENUE]
            ).to_numpy(),
        }
    )
    return out.dropna(subset=[s.CATEGORY])


def category_associations(transactions: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Customers who bought category A also bought B: support, confidence, lift.

    Over the N customers with a purchase, with n_A the customers who bought
    A and n_AB those who bought both::

        support(A -> B)    = n_AB / N
        confidence(A -> B) = n_AB / n_A          (P(B | A))
        lift(A -> B)       = confidence / (n_B / N)   (> 1: A makes B likelier)

    Parameters
    ----------
    transactions, products : pandas.DataFrame
        Purchase lines (positive revenue) and the catalogue's categories.

    Returns
    -------
    pandas.DataFrame
        One row per ordered pair A != B bought together by at least one
        customer: ``antecedent``, ``consequent``, ``customers_a``,
        ``customers_b``, ``customers_ab``, ``support``, ``confidence``, ``lift``.

    References
    ----------
    Agrawal, R., Imielinski, T., & Swami, A. (1993). Mining association rules
    between sets of items in large databases. SIGMOD '93, 207-216.
    Brin, S., Motwani, R., Ullman, J. D., & Tsur, S. (1997). Dynamic itemset
    counting and implication rules for market basket data. SIGMOD '97.
    """
    bought = _purchases_with_category(transactions, products)[[s.CUSTOMER_ID, s.CATEGORY]]
    bought = bought.drop_duplicates()
    n = bought[s.CUSTOMER_ID].nunique()
    per_category = bought.groupby(s.CATEGORY).size()
    both = bought.merge(bought, on=s.CUSTOMER_ID, suffixes=("_a", "_b"))
    both = both[both[f"{s.CATEGORY}_a"] != both[f"{s.CATEGORY}_b"]]
    out = (
        both.groupby([f"{s.CATEGORY}_a", f"{s.CATEGORY}_b"])
        .size()
        .rename(CUSTOMERS_AB)
        .reset_index()
        .rename(columns={f"{s.CATEGORY}_a": ANTECEDENT, f"{s.CATEGORY}_b": CONSEQUENT})
    )
    out[CUSTOMERS_A] = out[ANTECEDENT].map(per_category)
    out[CUSTOMERS_B] = out[CONSEQUENT].map(per_category)
    out[SUPPORT] = out[CUSTOMERS_AB] / n
    out[CONFIDENCE] = out[CUSTOMERS_AB] / out[CUSTOMERS_A]
    out[LIFT] = out[CONFIDENCE] / (out[CUSTOMERS_B] / n)
    columns = [ANTECEDENT, CONSEQUENT, CUSTOMERS_A, CUSTOMERS_B, CUSTOMERS_AB]
    return out[[*columns, SUPPORT, CONFIDENCE, LIFT]].sort_values(
        [LIFT, CONFIDENCE], ascending=False, ignore_index=True
    )


#: Illustrative segment rules for :func:`next_best_offers`: who gets which offer,
#: the response rate assumed and the cost of one offer (GBP). Edit them for a client.
SEGMENT_OFFERS = pd.DataFrame(
    [
        (RFM_SEGMENT, "champions", "early access to new ranges", 0.25, 1.0),
        (RFM_SEGMENT, "at risk", "win-back voucher", 0.10, 5.0),
        (RFM_SEGMENT, "can't lose them", "personal call from the service team", 0.20, 6.0),
        (RFM_SEGMENT, "new customers", "welcome series", 0.15, 0.5),
        (NEEDS_SEGMENT, "price", "price-drop alerts", 0.08, 0.1),
        (NEEDS_SEGMENT, "convenience", "free delivery on the next order", 0.12, 3.0),
        (NEEDS_SEGMENT, "quality", "premium range preview", 0.10, 1.0),
        (NEEDS_SEGMENT, "service", "personal advice appointment", 0.12, 4.0),
    ],
    columns=["segment_column", "segment", "offer", "response_rate", "cost"],
)


def next_best_offers(
    transactions: pd.DataFrame,
    products: pd.DataFrame,
    segments: pd.DataFrame | None = None,
    rules: pd.DataFrame = SEGMENT_OFFERS,
    offer_cost: float = 0.5,
    n_offers: int = 2,
    min_lift: float = 1.0,
) -> pd.DataFrame:
    """Up to ``n_offers`` offers per customer whose expected value gain covers their cost.

    Two sources of offers:

    - cross-sell: for a category B the customer has not bought, the
      association A -> B (:func:`category_associations`) with the highest
      confidence among the categories A they have bought and lift above
      ``min_lift``; expected gain = confidence x the mean margin of a
      purchase line in B (an upper bound of what the offer adds: some would
      buy B anyway); cost = ``offer_cost``;
    - segment rules (:data:`SEGMENT_OFFERS`): a customer whose
      ``segments[segment_column]`` equals ``segment`` gets the rule's offer;
      expected gain = the rule's response rate x the customer's mean margin
      per order; cost = the rule's cost.

    The budget rule keeps an offer only when expected gain >= cost; the
    offers left are ranked by net gain = expected gain - cost.

    Parameters
    ----------
    transactions, products : pandas.DataFrame
    segments : pandas.DataFrame, optional
        Indexed by customer_id, with the columns the rules name (e.g.
        ``rfm_segment``, ``needs_segment``).
    rules : pandas.DataFrame
        ``segment_column``, ``segment``, ``offer``, ``response_rate``, ``cost``.
    offer_cost : float, default 0.5
        Cost of one cross-sell offer (e.g. an e-mail with a voucher's expected cost).
    n_offers : int, default 2
    min_lift : float, default 1.0

    Returns
    -------
    pandas.DataFrame
        customer_id, rank, offer, kind ("cross-sell" or "segment"),
        expected_gain, cost, net_gain, reason (text).
    """
    if isinstance(n_offers, bool) or not float(n_offers).is_integer() or n_offers < 1:
        raise CRMError(f"n_offers is a whole number of at least 1, not {n_offers!r}")
    lines = _purchases_with_category(transactions, products)
    associations = category_associations(transactions, products)
    associations = associations[associations[LIFT] > min_lift]
    line_margin = lines.groupby(s.CATEGORY)[s.MARGIN].mean()
    bought = lines[[s.CUSTOMER_ID, s.CATEGORY]].drop_duplicates()
    candidates = bought.merge(associations, left_on=s.CATEGORY, right_on=ANTECEDENT)
    owned = pd.MultiIndex.from_frame(bought)
    new = ~pd.MultiIndex.from_arrays([candidates[s.CUSTOMER_ID], candidates[CONSEQUENT]]).isin(
        owned
    )
    candidates = candidates[new].sort_values(
        [CONFIDENCE, LIFT, ANTECEDENT], ascending=[False, False, True]
    )
    best = candidates.drop_duplicates([s.CUSTOMER_ID, CONSEQUENT])
    cross = pd.DataFrame(
        {
            s.CUSTOMER_ID: best[s.CUSTOMER_ID].to_numpy(),
            "offer": ("cross-sell: " + best[CONSEQUENT].astype(str)).to_numpy(),
            KIND_OF_OFFER: "cross-sell",
            EXPECTED_GAIN: (
                best[CONFIDENCE] * best[CONSEQUENT].map(line_margin).astype(float)
            ).to_numpy(),
            "cost": float(offer_cost),
            REASON: (
                "bought "
                + best[ANTECEDENT].astype(str)
                + "; "
                + (best[CONFIDENCE] * 100).round().astype(int).astype(str)
                + " % of "
                + best[ANTECEDENT].astype(str)
                + " buyers also bought "
                + best[CONSEQUENT].astype(str)
                + " (lift "
                + best[LIFT].round(2).astype(str)
                + ")"
            ).to_numpy(),
        }
    )
    parts = [cross]
    if segments is not None and len(rules):
        order_margin = _margin_per_order(transactions)
        for rule in rules.itertuples(index=False):
            if rule.segment_column not in segments:
                continue
            who = segments.index[segments[rule.segment_column].astype("str") == rule.segment]
            who = who.astype("str")
            gain = rule.response_rate * order_margin.reindex(who).fillna(0.0).to_numpy()
            parts.append(
                pd.DataFrame(
                    {
                        s.CUSTOMER_ID: who,
                        "offer": rule.offer,
                        KIND_OF_OFFER: "segment",
                        EXPECTED_GAIN: gain,
                        "cost": float(rule.cost),
                        REASON: f"{rule.segment_column} is {rule.segment}: assumed response "
                        f"{rule.response_rate:.0%} x the customer's margin per order",
                    }
                )
            )
    offers = pd.concat([p for p in parts if len(p)] or [cross], ignore_index=True)
    offers = offers[offers[EXPECTED_GAIN] >= offers["cost"]].copy()
    offers[NET_GAIN] = offers[EXPECTED_GAIN] - offers["cost"]
    offers = offers.sort_values([s.CUSTOMER_ID, NET_GAIN, "offer"], ascending=[True, False, True])
    offers[RANK] = offers.groupby(s.CUSTOMER_ID).cumcount() + 1
    offers = offers[offers[RANK] <= n_offers]
    columns = [s.CUSTOMER_ID, RANK, "offer", KIND_OF_OFFER, EXPECTED_GAIN, "cost", NET_GAIN, REASON]
    return offers[columns].reset_index(drop=True)


def _margin_per_order(transactions: pd.DataFrame) -> pd.Series:
    """Mean margin (revenue - cost; revenue without costs) per order of each customer."""
    summary = customer_summary(transactions)
    value = summary[s.MARGIN].fillna(summary[s.REVENUE])
    per_order = value / summary[s.ORDERS].where(summary[s.ORDERS] > 0)
    per_order.index = per_order.index.astype("str")
    return per_order
