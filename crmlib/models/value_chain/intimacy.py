"""Customer intimacy: what the firm knows about its customers, by value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics.concentration import top_mask
from crmlib.data import schema as s
from crmlib.models.value_chain._common import (
    COMPLETE_PROFILE,
    CUSTOMERS,
    PROFILE_COMPLETENESS,
    PROFILE_FIELDS,
    SURVEYED,
    THIN,
    TOUCHPOINTS,
    VALUE_GROUP,
    _pct,
)

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
    customers = data.table("customers")
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
        table = data.table(name)
        if table is not None and s.CUSTOMER_ID in table.columns:
            counts = table[s.CUSTOMER_ID].astype(str).value_counts()
            touch = touch.add(counts.reindex(index, fill_value=0), fill_value=0).astype("int64")
    out[TOUCHPOINTS] = touch
    surveys = data.table("surveys")
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
    group = np.where(top_mask(valued, top), label_top, label_rest)
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


def knowledge_headline(by_value: pd.DataFrame, thin: pd.Series) -> str:
    """What :func:`knowledge_by_value` shows, in one sentence: is knowledge thinner where value is?

    Compares the most valuable customers with the rest on the two measures of
    :func:`thin_knowledge` (mean profile completeness, and the share surveyed when the
    client surveys) and says which group is better known, then how many valuable customers
    still have thin knowledge. The comparison leads, so that a high thin share among
    valuable customers is not read as "the valuable are known least" when the rest are
    known even less.

    Parameters
    ----------
    by_value : DataFrame
        From :func:`knowledge_by_value` (rows: the top group, then the rest).
    thin : Series
        From :func:`thin_knowledge`.
    """
    top, rest = by_value.iloc[0], by_value.iloc[1]
    measures = [(PROFILE_COMPLETENESS, "mean profile completeness")]
    if pd.notna(top[SURVEYED]) and pd.notna(rest[SURVEYED]):
        measures.append((SURVEYED, "surveyed"))
    better = sum(top[c] > rest[c] for c, _ in measures)
    worse = sum(top[c] < rest[c] for c, _ in measures)
    if better and not worse:
        verdict = f"The {by_value.index[0]} are better known than the rest"
    elif worse and not better:
        verdict = f"Knowledge is thinnest where value is highest: the {by_value.index[0]} are known less than the rest"
    else:
        verdict = f"The {by_value.index[0]} are known about as well as the rest"
    detail = ", ".join(f"{label} {top[c]:.0%} against {rest[c]:.0%}" for c, label in measures)
    share = float(thin.mean()) if len(thin) else 0.0
    return (
        f"{verdict} ({detail}); still {int(thin.sum()):,} of the {len(thin):,} ({share:.0%}) "
        "have an incomplete profile or have never answered a survey."
    )
