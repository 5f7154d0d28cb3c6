"""Value proposition development: what each needs segment buys, values and costs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics.experience import nps
from crmlib.analytics.orders import one_line_per_order
from crmlib.analytics.profitability import (
    COST_TO_SERVE,
    PROFIT,
    _as_of,
    _observed,
)
from crmlib.analytics.segments import NOT_SURVEYED, SEGMENT
from crmlib.data import schema as s
from crmlib.errors import CRMError
from crmlib.models.value_chain._common import (
    CHANNEL_MIX,
    COST_TO_SERVE_PER_CUSTOMER,
    CUSTOMERS,
    MIN_CELL,
    PROFIT_PER_CUSTOMER,
    REVENUE_PER_CUSTOMER,
    SHARE,
    SUPPRESSED,
    TOP_CATEGORIES,
    _pct,
)

# =========================================================================================
# Value proposition development
# =========================================================================================


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
        Customers without one are grouped as "not surveyed".
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
    products = data.table("products")
    if products is not None and s.CATEGORY in products.columns and s.PRODUCT_ID in buys.columns:
        category = products.drop_duplicates(s.PRODUCT_ID).set_index(s.PRODUCT_ID)[s.CATEGORY]
        lines = buys.assign(**{s.CATEGORY: buys[s.PRODUCT_ID].map(category)})
        out[TOP_CATEGORIES] = _mix(
            lines.dropna(subset=[s.CATEGORY]), s.CATEGORY, s.REVENUE, top_categories
        )
    if s.CHANNEL in buys.columns:
        orders = one_line_per_order(buys).dropna(subset=[s.CHANNEL])
        out[CHANNEL_MIX] = _mix(orders.assign(_one=1), s.CHANNEL, "_one", 3)
    surveys = data.table("surveys")
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
