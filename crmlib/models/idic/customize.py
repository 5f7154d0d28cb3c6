"""Customize: category associations (support, confidence, lift) and next best offers
(P(alive) x uplift x margin - contact cost)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from crmlib.analytics.summary import customer_summary
from crmlib.analytics.uplift import ASSUMED, DEFAULT_UPLIFT, MEASURED, offer_value
from crmlib.analytics.wallet import P_ALIVE
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

UPLIFT = "uplift"  # incremental response assumed or measured for an offer
UPLIFT_SOURCE = "uplift_source"  # "measured" (over a holdout) or "assumed"

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


#: Illustrative segment rules for :func:`next_best_offers`: who gets which offer, the
#: incremental response (uplift) ASSUMED for it when the client's data measure none, and
#: the cost of one contact (GBP). Assumptions to replace with measured uplift.
SEGMENT_OFFERS = pd.DataFrame(
    [
        (RFM_SEGMENT, "champions", "early access to new ranges", 0.03, 1.0),
        (RFM_SEGMENT, "at risk", "win-back voucher", 0.03, 5.0),
        (RFM_SEGMENT, "can't lose them", "personal call from the service team", 0.05, 6.0),
        (RFM_SEGMENT, "new customers", "welcome series", 0.03, 0.5),
        (NEEDS_SEGMENT, "price", "price-drop alerts", 0.02, 0.1),
        (NEEDS_SEGMENT, "convenience", "free delivery on the next order", 0.03, 3.0),
        (NEEDS_SEGMENT, "quality", "premium range preview", 0.02, 1.0),
        (NEEDS_SEGMENT, "service", "personal advice appointment", 0.03, 4.0),
    ],
    columns=["segment_column", "segment", "offer", UPLIFT, "cost"],
)


def next_best_offers(
    transactions: pd.DataFrame,
    products: pd.DataFrame,
    segments: pd.DataFrame | None = None,
    rules: pd.DataFrame = SEGMENT_OFFERS,
    p_alive: pd.Series | None = None,
    measured_uplift: float | None = None,
    offer_cost: float = 0.5,
    n_offers: int = 2,
    min_lift: float = 1.0,
    default_uplift: float = DEFAULT_UPLIFT,
) -> pd.DataFrame:
    """Up to ``n_offers`` offers per customer with a positive expected value.

    Expected value of an offer (:func:`crmlib.analytics.uplift.offer_value`)::

        value = P(alive) x uplift x margin - cost of the contact

    - P(alive): the customer's BG/NBD probability of still being a customer
      (a lapsed customer cannot respond);
    - uplift: the incremental response measured over campaign holdouts
      (``measured_uplift``, e.g. :func:`crmlib.analytics.uplift.pooled_uplift`)
      when the data have one, else the stated default (``default_uplift`` for
      cross-sell, the rule's ``uplift`` for segment offers), marked "assumed";
    - margin: for a cross-sell offer of category B, the mean margin of a
      purchase line in B; for a segment offer, the customer's mean margin per
      order.

    Candidates: cross-sell of a category B the customer has not bought, through
    the association A -> B (:func:`category_associations`) with the highest
    confidence among the categories A they bought and lift above ``min_lift``;
    segment rules (:data:`SEGMENT_OFFERS`) for customers whose
    ``segments[segment_column]`` equals ``segment``. An offer is kept when its
    expected value is positive; the offers left are ranked by it.

    Parameters
    ----------
    transactions, products : pandas.DataFrame
    segments : pandas.DataFrame, optional
        Indexed by customer_id, with the columns the rules name.
    rules : pandas.DataFrame
        ``segment_column``, ``segment``, ``offer``, ``uplift``, ``cost``.
    p_alive : pandas.Series, optional
        By customer_id; None counts every customer as alive (an upper bound).
    measured_uplift : float, optional
        Incremental response measured against a holdout; None: assumed uplifts.
    offer_cost : float, default 0.5
        Cost of one cross-sell contact.
    n_offers : int, default 2
    min_lift : float, default 1.0
    default_uplift : float, default :data:`DEFAULT_UPLIFT`

    Returns
    -------
    pandas.DataFrame
        customer_id, rank, offer, kind ("cross-sell" or "segment"), p_alive,
        uplift, uplift_source ("measured" or "assumed"), expected_gain
        (P(alive) x uplift x margin), cost, net_gain (the offer's expected
        value), reason (text).

    References
    ----------
    Lo, V. S. Y. (2002). The true lift model. SIGKDD Explorations 4(2), 78-86.
    Bult, J. R., & Wansbeek, T. (1995). Optimal selection for direct mail.
    Marketing Science 14(4), 378-394.
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
    source = MEASURED if measured_uplift is not None else ASSUMED
    cross_uplift = float(measured_uplift if measured_uplift is not None else default_uplift)
    cross = pd.DataFrame(
        {
            s.CUSTOMER_ID: best[s.CUSTOMER_ID].to_numpy(),
            "offer": ("cross-sell: " + best[CONSEQUENT].astype(str)).to_numpy(),
            KIND_OF_OFFER: "cross-sell",
            UPLIFT: cross_uplift,
            UPLIFT_SOURCE: source,
            "margin": best[CONSEQUENT].map(line_margin).astype(float).to_numpy(),
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
            rule_uplift = float(measured_uplift if measured_uplift is not None else rule.uplift)
            parts.append(
                pd.DataFrame(
                    {
                        s.CUSTOMER_ID: who,
                        "offer": rule.offer,
                        KIND_OF_OFFER: "segment",
                        UPLIFT: rule_uplift,
                        UPLIFT_SOURCE: source,
                        "margin": order_margin.reindex(who).fillna(0.0).to_numpy(),
                        "cost": float(rule.cost),
                        REASON: f"{rule.segment_column} is {rule.segment}; uplift "
                        f"{rule_uplift:.1%} ({source}) x the customer's margin per order",
                    }
                )
            )
    offers = pd.concat([p for p in parts if len(p)] or [cross], ignore_index=True)
    if p_alive is None:
        alive = pd.Series(1.0, index=offers.index)
    else:
        alive_of = pd.Series(p_alive, dtype=float)
        alive_of.index = alive_of.index.astype(str)
        alive = offers[s.CUSTOMER_ID].astype(str).map(alive_of).fillna(0.0)
    offers[P_ALIVE] = alive.to_numpy()
    offers[EXPECTED_GAIN] = offers[P_ALIVE] * offers[UPLIFT] * offers["margin"]
    offers[NET_GAIN] = offer_value(
        offers[P_ALIVE].to_numpy(), offers[UPLIFT].to_numpy(), offers["margin"].to_numpy(),
        offers["cost"].to_numpy(),
    )
    offers = offers[offers[NET_GAIN] > 0].copy()
    offers = offers.sort_values([s.CUSTOMER_ID, NET_GAIN, "offer"], ascending=[True, False, True])
    offers[RANK] = offers.groupby(s.CUSTOMER_ID).cumcount() + 1
    offers = offers[offers[RANK] <= n_offers]
    columns = [
        s.CUSTOMER_ID, RANK, "offer", KIND_OF_OFFER, P_ALIVE, UPLIFT, UPLIFT_SOURCE,
        EXPECTED_GAIN, "cost", NET_GAIN, REASON,
    ]  # fmt: skip
    return offers[columns].reset_index(drop=True)


def _margin_per_order(transactions: pd.DataFrame) -> pd.Series:
    """Mean margin (revenue - cost; revenue without costs) per order of each customer."""
    summary = customer_summary(transactions)
    value = summary[s.MARGIN].fillna(summary[s.REVENUE])
    per_order = value / summary[s.ORDERS].where(summary[s.ORDERS] > 0)
    per_order.index = per_order.index.astype("str")
    return per_order
