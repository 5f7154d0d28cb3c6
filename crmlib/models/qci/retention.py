"""Retention: cohort retention, repeat rate and churn by the workbook's lapse rule."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics.acquisition import PERIOD, _periods
from crmlib.analytics.lapse import LAPSED_AFTER_DAYS, check_days, is_lapsed
from crmlib.analytics.orders import purchase_lines as _purchases
from crmlib.analytics.periods import PeriodCoverage
from crmlib.analytics.summary import customer_summary
from crmlib.data import schema as s
from crmlib.data.checks import as_of_date as _as_of
from crmlib.engines import Engine, as_of_sql, check_engine
from crmlib.errors import CRMError, DataError
from crmlib.models.qci._common import (
    CHURNED,
    COHORT,
    DAYS_INACTIVE,
    JUDGED,
)

# --- retention ------------------------------------------------------------------------------


def cohort_retention(
    transactions: pd.DataFrame,
    freq: str = "M",
    as_of=None,
    counts: bool = False,
    engine: str = "pandas",
    spark_master: str | None = None,
    complete_only: bool = False,
) -> pd.DataFrame:
    """The cohort retention matrix: share of each first-purchase cohort active k periods later.

    A customer's cohort is the period of their first purchase; they are
    *active* in a period when they buy in it. Cell (cohort c, column k) =
    customers of c with a purchase in period c + k / customers of c, so column
    0 is 1 by definition. A cell is NaN when period c + k is not over by
    ``as_of`` (its last day is after ``as_of``): a part-observed period would
    understate retention. In a non-contractual business a cohort's activity
    falls steeply and then flattens, because the customers most likely to
    leave leave first (Fader & Hardie 2010, "Customer-base valuation in a
    contractual setting: the perils of ignoring heterogeneity", *Marketing
    Science* 29(1)).

    Parameters
    ----------
    transactions : DataFrame or path
        Order lines; with ``engine="duckdb"`` or ``"spark"`` also a client
        folder or transactions file on disk (:mod:`crmlib.engines`).
    freq : str, default "M"
        The period: "M" month, "Q" quarter, "W" week (weeks start on Monday).
    as_of : date-like, optional
    counts : bool, default False
        Return the numbers of active customers instead of shares.
    engine : {"pandas", "duckdb", "spark"}
        Where the customers are counted; every engine gives the same matrix.
    spark_master : str, optional
        For ``engine="spark"``: see :func:`crmlib.spark.spark_session`.
    complete_only : bool, default False
        Also leave out the cohorts of a first or last period the data cover
        only in part (:func:`crmlib.analytics.periods.period_coverage`): a cohort whose
        period was only partly observed holds only the customers who came in
        the observed days, and one in a period that is not over has no
        retention to show. The unobserved cells are NaN either way.

    Returns
    -------
    DataFrame
        Index ``cohort`` (first day of the cohort's period), columns
        0, 1, 2, ... (periods since the first purchase). The cohort sizes are
        column 0 of ``counts=True``.
    """
    if check_engine(engine) == "pandas":
        bought, when = _purchases(transactions, as_of)
        period = _periods(bought[s.ORDER_DATE], freq)
        ordinal = pd.Series(period.array.asi8, index=bought.index)
        cust = bought[s.CUSTOMER_ID]
        first = ordinal.groupby(cust).transform("min")
        active = pd.DataFrame({COHORT: first.to_numpy(), "age": (ordinal - first).to_numpy()})
        active[s.CUSTOMER_ID] = cust.to_numpy()
        cells = active.drop_duplicates().groupby([COHORT, "age"]).size()
        freq_obj, hi = period.dt.freq, int(ordinal.max())
        start = transactions[s.ORDER_DATE].min()
    else:
        cells, when, freq_obj, hi, start = _cohort_cells_sql(
            transactions, freq, as_of, engine, spark_master
        )
    # a cell is observed when its period (cohort + age) has ended by as_of
    current = pd.Period(when, freq=freq_obj)
    last_complete = current.ordinal if current.end_time.normalize() <= when else current.ordinal - 1
    matrix = cells.unstack("age", fill_value=0)
    lo = int(matrix.index.min())
    cohorts = np.arange(lo, hi + 1)
    ages = np.arange(max(hi, last_complete) - lo + 1)
    matrix = matrix.reindex(index=cohorts, columns=ages, fill_value=0).astype(float)
    if not counts:
        matrix = matrix.div(matrix[0].where(matrix[0] > 0), axis=0)
    observed = (cohorts[:, None] + ages[None, :]) <= last_complete
    observed[:, 0] = True
    matrix = matrix.where(observed)
    matrix = matrix.loc[matrix[0].notna() & (matrix[0] > 0)]
    matrix.index = pd.PeriodIndex.from_ordinals(matrix.index, freq=freq_obj).to_timestamp()
    matrix.index.name = COHORT
    matrix.columns.name = PERIOD
    if complete_only:
        matrix = PeriodCoverage.from_dates(start, when, freq).complete(matrix)
    return matrix.dropna(axis=1, how="all")


#: Periods the SQL engines count cohorts by: pandas frequency -> date_trunc unit.
SQL_PERIODS = {"M": "month", "Q": "quarter", "W": "week", "Y": "year", "D": "day"}

# One scan of the transactions, on either engine: each customer's purchase periods (with the
# row checks, the first and the last order date of all lines), into a temporary table (cached
# on Spark); the checks, the as-of date, the first day and the cells then come from that
# table. When as-of is not given it is the last order date, so every dated line is in the
# window.
_PERIODS_SQL = """
CREATE OR REPLACE TEMPORARY TABLE cohort_periods AS
SELECT cid, period, MIN(day) AS first_day, MAX(day) AS last_day,
       COUNT(*) FILTER (WHERE rev >= 0 AND {window}) AS buys{check_sums}
FROM (
    SELECT {cid} AS cid, {day} AS day, date_trunc('{unit}', {day}) AS period,
           {rev} AS rev{checks}
    FROM raw_transactions
) t
GROUP BY cid, period
"""

_CELLS_SQL = """
WITH bought AS (
    SELECT cid, period, MIN(period) OVER (PARTITION BY cid) AS cohort
    FROM cohort_periods WHERE buys > 0
)
SELECT CAST(cohort AS DATE) AS cohort, CAST(period AS DATE) AS period, COUNT(*) AS customers
FROM bought
GROUP BY cohort, period
"""


def _one_pass_cells(eng, freq, as_of):
    """What :func:`_cohort_cells_sql` reads: the cells, as-of date and first day (one scan)."""
    checks = eng.row_checks("transactions", (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE))
    day = f"CAST({eng.typed('transactions', s.ORDER_DATE)} AS DATE)"
    window = "day IS NOT NULL" if as_of is None else f"day <= {as_of_sql(_as_of(None, as_of))}"
    eng.sql_no_result(
        _PERIODS_SQL.format(
            cid=eng.typed("transactions", s.CUSTOMER_ID),
            day=day,
            unit=SQL_PERIODS[freq],
            rev=eng.typed("transactions", s.REVENUE),
            window=window,
            checks=checks.flags,
            check_sums=checks.sums,
        )
    )
    found, as_of = eng.refuse_and_date(
        checks, "cohort_periods", "last_day", as_of, also=", MIN(first_day) AS start"
    )
    return eng.sql(_CELLS_SQL), _as_of(None, as_of), found["start"]


def _cohort_cells_sql(source, freq, as_of, engine, spark_master):
    """Active customers per (cohort, age) counted by DuckDB or Spark (:mod:`crmlib.engines`).

    Returns the cells (Series indexed by cohort ordinal and age), as-of
    date, the pandas frequency, the ordinal of the last purchase period and
    the first order date, as the pandas branch of :func:`cohort_retention`
    computes them.
    """
    if freq not in SQL_PERIODS:
        raise CRMError(
            f"freq must be one of {', '.join(SQL_PERIODS)} with engine={engine!r}, not {freq!r}"
        )
    with Engine(engine, source, spark_master=spark_master) as eng:
        needed = (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE)
        eng.need("transactions", needed, "for cohort retention")
        cells, when, first_day = _one_pass_cells(eng, freq, as_of)
    if cells.empty:
        raise DataError(f"transactions: no purchase on or before {when:%Y-%m-%d}")
    cohort = _periods(pd.to_datetime(cells[COHORT]), freq)
    period = _periods(pd.to_datetime(cells[PERIOD]), freq)
    ordinals = pd.DataFrame(
        {COHORT: cohort.array.asi8, "age": period.array.asi8 - cohort.array.asi8}
    )
    series = pd.Series(cells["customers"].to_numpy(), index=pd.MultiIndex.from_frame(ordinals))
    first_day = pd.Timestamp(first_day)
    return series.sort_index(), when, cohort.dt.freq, int(period.array.asi8.max()), first_day


def repeat_rate(transactions: pd.DataFrame, as_of=None) -> float:
    """Share of customers with at least one repeat purchase.

    A repeat purchase is a purchase on a later day than the first (same-day
    purchases are one occasion), i.e. BTYD ``frequency > 0`` in
    :func:`crmlib.analytics.summary.customer_summary` (Fader, Hardie & Lee 2005,
    *Marketing Science* 24(2)). All customers with a purchase by ``as_of``
    count, however recent: a young customer base has a lower repeat rate.
    """
    bought, when = _purchases(transactions, as_of)
    return summary_repeat_rate(customer_summary(bought, as_of=when, engine="pandas"))


def summary_repeat_rate(summary: pd.DataFrame) -> float:
    """:func:`repeat_rate` from a customer summary: the share with ``frequency > 0``.

    Parameters
    ----------
    summary : DataFrame
        :func:`crmlib.analytics.summary.customer_summary`, one row per customer with a
        purchase (a report at scale reads every customer's from its per-customer tables).
    """
    return float((summary[s.FREQUENCY] > 0).mean())


def churn_status(
    transactions: pd.DataFrame, inactivity_days: int = LAPSED_AFTER_DAYS, as_of=None
) -> pd.DataFrame:
    """Each customer's state under an explicit inactivity rule.

    The rule (the "hiatus heuristic" of Wübben & von Wangenheim 2008,
    "Instant customer base analysis: managerial heuristics often get it
    right", *Journal of Marketing* 72(3), 82-93): a customer has churned at
    ``as_of`` when their last purchase lies more than ``inactivity_days``
    before it. Only customers whose first purchase lies more than
    ``inactivity_days`` before ``as_of`` can be judged; younger customers
    cannot have churned under the rule yet.

    Returns
    -------
    DataFrame
        Index customer_id; columns first_purchase, last_purchase,
        days_inactive (as_of - last purchase, in days), judged, churned.
    """
    days = check_days(inactivity_days)
    bought, when = _purchases(transactions, as_of)
    dates = bought.groupby(s.CUSTOMER_ID)[s.ORDER_DATE]
    return _status(dates.min(), dates.max(), days, when)


def _status(first: pd.Series, last: pd.Series, days: int, when: pd.Timestamp) -> pd.DataFrame:
    """The rule of :func:`churn_status` on each customer's first and last purchase dates."""
    out = pd.DataFrame({s.FIRST_PURCHASE: first, s.LAST_PURCHASE: last})
    out[DAYS_INACTIVE] = (when - out[s.LAST_PURCHASE]).dt.days
    out[JUDGED] = (when - out[s.FIRST_PURCHASE]).dt.days > days
    out[CHURNED] = is_lapsed(out[DAYS_INACTIVE], days)
    return out


def summary_churn_rate(
    summary: pd.DataFrame, inactivity_days: int = LAPSED_AFTER_DAYS, as_of=None
) -> float:
    """:func:`churn_rate` from a customer summary's first and last purchase dates.

    The same rule (:func:`churn_status`) on the dates the summary holds per customer, so a
    report at scale applies it to every customer (its per-customer tables) rather than to
    the rows of a sample.

    Parameters
    ----------
    summary : DataFrame
        :func:`crmlib.analytics.summary.customer_summary` as of ``as_of``: one row per
        customer with a purchase, with ``first_purchase`` and ``last_purchase``.
    inactivity_days : int
    as_of : date-like
        The date the summary was computed at.
    """
    days = check_days(inactivity_days)
    if as_of is None:
        raise CRMError("summary_churn_rate needs the as_of date the summary was computed at")
    status = _status(summary[s.FIRST_PURCHASE], summary[s.LAST_PURCHASE], days, pd.Timestamp(as_of))
    return _churned_share(status)


def churn_rate(
    transactions: pd.DataFrame, inactivity_days: int = LAPSED_AFTER_DAYS, as_of=None
) -> float:
    """Share of churned customers among those the inactivity rule can judge.

    ``churn rate = churned / judged`` with the rule of :func:`churn_status`;
    NaN when no customer can be judged yet.
    """
    return _churned_share(churn_status(transactions, inactivity_days, as_of))


def _churned_share(status: pd.DataFrame) -> float:
    judged = status[JUDGED]
    return float(status.loc[judged, CHURNED].mean()) if judged.any() else float("nan")


def churn_rule_backtest(
    transactions: pd.DataFrame,
    inactivity_days: int = LAPSED_AFTER_DAYS,
    as_of=None,
    horizon_days: int = LAPSED_AFTER_DAYS,
) -> pd.Series:
    """How often the inactivity rule is wrong: apply it in the past and look at what followed.

    The rule is applied at ``cutoff = as_of - horizon_days`` with only the
    purchases up to the cutoff; the purchases of the next ``horizon_days``
    then show its errors: a customer it called churned who bought again came
    back (a false alarm), and a customer it called active who did not buy
    stayed silent. Wübben & von Wangenheim (2008, *Journal of Marketing*
    72(3)) judge the hiatus heuristic the same way, on a holdout period.

    Returns
    -------
    Series
        cutoff (date), judged, churn_rate (at the cutoff), came_back (share of
        the churned who bought within the horizon), active_silent (share of
        the judged active who did not).
    """
    days = check_days(inactivity_days)
    horizon = check_days(horizon_days, "horizon_days")
    bought, when = _purchases(transactions, as_of)
    cutoff = when - pd.Timedelta(days=horizon)
    if bought[s.ORDER_DATE].min() > cutoff:
        raise CRMError(
            f"the data start after the back-test cutoff {cutoff:%Y-%m-%d}: shorten horizon_days"
        )
    status = churn_status(bought, days, as_of=cutoff)
    later = bought.loc[bought[s.ORDER_DATE] > cutoff, s.CUSTOMER_ID].unique()
    judged = status.loc[status[JUDGED]]
    bought_again = judged.index.isin(later)
    churned = judged[CHURNED].to_numpy()
    return pd.Series(
        {
            "cutoff": cutoff,
            JUDGED: int(len(judged)),
            "churn_rate": float(churned.mean()) if len(judged) else np.nan,
            "came_back": float(bought_again[churned].mean()) if churned.any() else np.nan,
            "active_silent": float((~bought_again[~churned]).mean())
            if (~churned).any()
            else np.nan,
        },
        dtype=object,
    )
