"""Relationship management: lifecycle stages, migration between them, revenue sources."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics.lapse import GAP, LAPSED_AFTER_DAYS, check_days, is_lapsed, purchase_days
from crmlib.analytics.profitability import _timestamp
from crmlib.data import schema as s
from crmlib.data.checks import need_columns as _need
from crmlib.errors import CRMError, DataError
from crmlib.models.value_chain._common import (
    ACQUISITION,
    ACTIVE,
    AT_RISK,
    DEVELOPMENT,
    FROM_STAGE,
    LAPSED,
    NEW,
    NOT_YET,
    PERIOD_END,
    RETENTION,
    STAGE,
    STAGES,
    TO_STAGE,
    TOTAL,
    WON_BACK,
    WON_BACK_REVENUE,
    _last_day,
)

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


def _stages_at(days: pd.DataFrame, at: pd.Timestamp, rules: tuple[int, int, int]) -> pd.Series:
    new_days, at_risk_days, lapsed_days = rules
    seen = days.loc[days[s.ORDER_DATE] <= at]
    grouped = seen.groupby(s.CUSTOMER_ID)[s.ORDER_DATE]
    since_first = (at - grouped.min()).dt.days
    since_last = (at - grouped.max()).dt.days
    recent = seen.loc[(at - seen[s.ORDER_DATE]).dt.days <= new_days]
    came_back = recent.loc[recent[GAP] > lapsed_days, s.CUSTOMER_ID].unique()
    stage = np.select(
        [
            since_first <= new_days,
            since_first.index.isin(came_back),
            since_last <= at_risk_days,
            ~is_lapsed(since_last, lapsed_days),
        ],
        [NEW, WON_BACK, ACTIVE, AT_RISK],
        default=LAPSED,
    )
    return pd.Series(pd.Categorical(stage, categories=STAGES), index=since_first.index, name=STAGE)


def lifecycle_stages(
    transactions: pd.DataFrame,
    at=None,
    new_days: int = 90,
    at_risk_days: int = 90,
    lapsed_days: int = LAPSED_AFTER_DAYS,
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
    days = purchase_days(transactions)
    when = _last_day(transactions) if at is None else _timestamp(at, "at")
    return _stages_at(days, when, rules)


def stage_counts(
    transactions: pd.DataFrame,
    freq: str = "Q",
    as_of=None,
    new_days: int = 90,
    at_risk_days: int = 90,
    lapsed_days: int = LAPSED_AFTER_DAYS,
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
    days = purchase_days(transactions)
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
    at_risk_days: int = 90,
    lapsed_days: int = LAPSED_AFTER_DAYS,
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
    days = purchase_days(transactions)
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


def revenue_sources(
    transactions: pd.DataFrame,
    as_of=None,
    months: int = 12,
    lapsed_days: int = LAPSED_AFTER_DAYS,
) -> pd.Series:
    """Split the revenue of the last ``months`` into acquisition, retention, development, win-back.

    With R(c) a customer's net revenue in the period (``as_of`` - months, ``as_of``] and R'(c)
    in the period of the same length before it:

    * ``acquisition``: R of customers whose first purchase falls in the period;
    * ``won_back``: R of existing customers who came back in the period after lapsing: a
      purchase day in the period came more than ``lapsed_days`` days after their purchase
      day before it (the won-back rule of :func:`lifecycle_stages`, on the workbook's one
      lapse rule, :mod:`crmlib.analytics.lapse`);
    * ``retention``: sum of min(R, R') over the other existing customers (the revenue kept);
    * ``development``: sum of R - min(R, R') over the same customers (the growth:
      up-selling and cross-selling).

    The four add up to ``total``, the period's net revenue. Acquisition, retention,
    development and win-back are the tasks of relationship management (Buttle & Maklan;
    Blattberg, Getz & Thomas 2001, *Customer Equity*, Harvard Business School Press:
    acquisition, retention, add-on selling).

    Parameters
    ----------
    transactions : DataFrame
    as_of : date-like, optional
        Default the last order date.
    months : int, default 12
    lapsed_days : int, default :data:`crmlib.analytics.lapse.LAPSED_AFTER_DAYS`
        The lapse rule: a customer silent for longer had lapsed.

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
    lapsed_days = check_days(lapsed_days, "lapsed_days")
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
    in_window = (dates > start) & (dates <= end)
    now = transactions[s.REVENUE].where(in_window).groupby(ids).sum()
    before = transactions[s.REVENUE].where((dates > previous_start) & (dates <= start))
    earlier = before.groupby(ids).sum()
    first = dates.where(transactions[s.REVENUE] >= 0).groupby(ids).min()
    now = now[in_window.groupby(ids).any()]
    new = first.reindex(now.index) > start
    days = purchase_days(transactions, end)
    returned = days.loc[(days[s.ORDER_DATE] > start) & (days[GAP] > lapsed_days), s.CUSTOMER_ID]
    won_back = now.index.isin(returned.unique()) & ~new
    kept = ~new & ~won_back
    prev = earlier.reindex(now.index, fill_value=0.0)
    retention = np.minimum(now[kept], prev[kept])
    out = pd.Series(
        {
            ACQUISITION: float(now[new].sum()),
            RETENTION: float(retention.sum()),
            DEVELOPMENT: float((now[kept] - retention).sum()),
            WON_BACK_REVENUE: float(now[won_back].sum()),
            TOTAL: float(now.sum()),
        }
    )
    out.name = f"{(start + pd.Timedelta(days=1)):%Y-%m-%d} to {end:%Y-%m-%d}"
    return out
