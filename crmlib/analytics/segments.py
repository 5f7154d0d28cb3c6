"""Segments every lesson shares: value tiers by rank and needs segments from survey answers.

:func:`value_tiers` ranks customers by a value with the workbook's one top-k rule
(:func:`crmlib.analytics.concentration.top_count`); :func:`needs_segments` labels each
respondent by the need they rate highest (the one needs segmentation of every lesson).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics.concentration import top_count
from crmlib.data import schema as s
from crmlib.data.checks import need_columns
from crmlib.errors import CRMError, DataError

NOT_SURVEYED = "not surveyed"  # the needs segment of a customer without a survey answer

# --- names this module defines ---------------------------------------------
VALUE_TIER = "value_tier"


# --- names this module defines ---------------------------------------------
SEGMENT = "segment"
MIXED = "mixed"


def needs_segments(surveys: pd.DataFrame, columns=s.NEEDS) -> pd.Series:
    """Each surveyed customer's needs segment: the need they rate most important.

    The answers of a customer who replied more than once are averaged; the
    segment is the need with the highest mean (``need_price`` gives
    ``"price"``), or ``"mixed"`` when two or more needs tie for the highest.
    The workbook's one needs segmentation: lessons 01 (IDIC's Differentiate),
    03 (value propositions) and 04 (Payne & Frow's segments) all use it.

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
    need_columns(surveys, "surveys", [s.CUSTOMER_ID, *columns])
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


def value_tiers(values: pd.Series, top: float = 0.2, middle: float = 0.3) -> pd.Series:
    """Tiers by rank of value: the top ``top`` share, the next ``middle``, the rest.

    Ranks are taken largest first; ties are broken by the order of the
    index. The top tier is the :func:`~crmlib.analytics.concentration.top_count` largest
    values, the first two tiers together the ``top_count(n, top + middle)`` largest (the
    workbook's one top-k rule). Labels read e.g. "top 20 %", "next 30 %", "bottom 50 %".
    """
    if not (0 < top < 1 and 0 <= middle < 1 and top + middle <= 1):
        raise CRMError(f"top and middle are shares with top + middle <= 1, not {top}, {middle}")
    values = pd.Series(values, dtype=float)
    rank = values.rank(ascending=False, method="first")
    first, second = top_count(len(values), top), top_count(len(values), top + middle)
    labels = (
        f"top {top:.0%}".replace("%", " %"),
        f"next {middle:.0%}".replace("%", " %"),
        f"bottom {1 - top - middle:.0%}".replace("%", " %"),
    )
    tier = np.where(rank <= first, labels[0], np.where(rank <= second, labels[1], labels[2]))
    return pd.Series(pd.Categorical(tier, categories=labels), index=values.index, name=VALUE_TIER)
