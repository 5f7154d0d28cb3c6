"""Measures of the QCi customer management model that client data can give.

The QCi model (Woodcock, Starkey & Stone, *The Customer Management Scorecard:
Managing CRM for Profit*, Kogan Page 2003, ch. 1) has eight areas; an
interview-based assessment (CMAT) scores each, and :mod:`crmlib.analytics.assessment`
implements that scoring. Three areas can also be *measured* from a client's
records, and this module measures them, so that the interview's claims can be
set beside the data (data quality and ticket resolution times also speak to
information & technology and to process management: :func:`data_evidence`):

Customer management activity (the REAP levers: retention, efficiency, acquisition, penetration)
    * acquisition: new customers per period and acquisition channel
      (:func:`new_customers`), campaign spend per new customer
      (:func:`cost_per_acquisition`);
    * penetration: categories per customer, cross-sell rate and the share of
      a customer's spend in their top category (:func:`penetration`);
    * retention: the cohort retention matrix (:func:`cohort_retention`), the
      repeat rate (:func:`repeat_rate`) and churn by an explicit inactivity
      rule (:func:`churn_status`, :func:`churn_rate`,
      :func:`churn_rule_backtest`);
    * efficiency: activity-based cost-to-serve per unit of revenue
      (:func:`cost_to_serve`, :func:`cost_to_serve_ratio`).
Measuring the effect
    Campaign lift against a holdout (or, failing one, the non-contacted
    customers) with a confidence interval for the difference of two
    proportions (:func:`campaign_responses`, :func:`campaign_lift`,
    :func:`proportion_difference_ci`).
Customer experience
    NPS and CSAT overall and by group (:func:`nps`, :func:`nps_table`,
    :func:`csat_table`), NPS by the service a customer received
    (:func:`nps_by_service`) and the relation of both to retention
    (:func:`retention_after`).

:func:`data_evidence` collects the headline measures per assessment question
and :func:`evidence_beside_scores` sets them beside the interview's scores.

Conventions shared by every function: a *purchase* is a transaction line with
non-negative revenue (a negative line is a return, as in :mod:`crmlib.data.io`);
``as_of`` is the last day observed, inclusive (default: the last order date);
lines after it are ignored.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import norm

from crmlib.analytics.assessment import NAME as AREA_NAME
from crmlib.analytics.assessment import TEXT as QUESTION_TEXT
from crmlib.analytics.periods import PeriodCoverage, period_coverage
from crmlib.analytics.requirements import Need, missing_pieces
from crmlib.analytics.summary import customer_summary
from crmlib.data import schema as s
from crmlib.data.checks import as_of_date as _as_of
from crmlib.data.checks import need_columns as _need
from crmlib.data.checks import purchase_lines as _purchases
from crmlib.errors import CRMError, DataError

__all__ = [
    "campaign_lift",
    "campaign_responses",
    "churn_rate",
    "churn_rule_backtest",
    "churn_status",
    "cohort_retention",
    "cost_per_acquisition",
    "cost_to_serve",
    "cost_to_serve_ratio",
    "csat_table",
    "customer_categories",
    "data_evidence",
    "evidence_beside_scores",
    "main_channel",
    "new_customers",
    "nps",
    "nps_by_service",
    "nps_class",
    "nps_table",
    "penetration",
    "proportion_difference_ci",
    "repeat_rate",
    "retention_after",
    "wilson_interval",
]

# --- vocabulary of the results (the inputs' columns come from crmlib.data.schema) --------
PERIOD = "period"
COHORT = "cohort"
COHORT_SIZE = "cohort_size"
ALL_CHANNELS = "all"
UNKNOWN = "unknown"
CAMPAIGN_COST = "campaign_cost"
NEW_CUSTOMERS = "new_customers"
COST_PER_NEW_CUSTOMER = "cost_per_new_customer"

N_CATEGORIES = "n_categories"
TOP_CATEGORY = "top_category"
TOP_CATEGORY_SHARE = "top_category_share"
CUSTOMERS = "customers"
CATEGORIES_PER_CUSTOMER = "categories_per_customer"
CROSS_SELL_RATE = "cross_sell_rate"

DAYS_INACTIVE = "days_inactive"
JUDGED = "judged"
CHURNED = "churned"

EVENTS = "events"
UNIT_COST = "unit_cost"
ACTIVITY_COST = "cost"
ACT_ORDER, ACT_DELIVERY, ACT_RETURN = s.ACT_ORDER, s.ACT_DELIVERY, s.ACT_RETURN
ACT_TICKET, ACT_CONTACT = s.ACT_TICKET, s.ACT_CONTACT
KIND_CONTACT, KIND_HOLDOUT = s.KIND_CAMPAIGN_CONTACT, s.KIND_CAMPAIGN_HOLDOUT
GROUP = "group"
TREATED, CONTROL = "treated", "control"
RESPONDED = "responded"
WINDOW_START, WINDOW_END = "window_start", "window_end"
CONTROL_KIND = "control_kind"
HOLDOUT, NOT_CONTACTED = "holdout", "not contacted"
N_TREATED, N_CONTROL = "n_treated", "n_control"
RESPONDERS_TREATED, RESPONDERS_CONTROL = "responders_treated", "responders_control"
RATE_TREATED, RATE_CONTROL = "rate_treated", "rate_control"
LIFT, CI_LOW, CI_HIGH = "lift", "ci_low", "ci_high"
INCREMENTAL = "incremental_responders"
COST_PER_INCREMENTAL = "cost_per_incremental"
METHODS = ("newcombe", "wald")

N = "n"
PROMOTERS, PASSIVES, DETRACTORS = "promoters", "passives", "detractors"
NPS_CLASS = "nps_class"
MEAN_CSAT = "mean_csat"
SATISFIED = "satisfied"
SERVICE = "service"
NO_TICKET = "no rated ticket before"
SERVICE_POOR, SERVICE_FAIR, SERVICE_GOOD = "poor (<3)", "fair (3-<4)", "good (4-5)"
RETAINED = "retained"

AREA, MEASURE, VALUE, UNIT = "area", "measure", "value", "unit"
QUESTION = s.QUESTION_ID

PROMOTER_MIN, DETRACTOR_MAX = 9, 6  # Reichheld (2003): promoters 9-10, detractors 0-6
SATISFIED_MIN = 4  # CSAT 1-5: "satisfied" = the top two boxes, 4 and 5


# --- shared helpers --------------------------------------------------------------


def _check_days(inactivity_days) -> int:
    if isinstance(inactivity_days, bool) or not isinstance(inactivity_days, (int, np.integer)):
        raise CRMError(f"inactivity_days must be a whole number of days, not {inactivity_days!r}")
    if inactivity_days < 1:
        raise CRMError(f"inactivity_days must be at least 1, not {inactivity_days}")
    return int(inactivity_days)


def _periods(dates: pd.Series, freq: str) -> pd.Series:
    try:
        return dates.dt.to_period(freq)
    except ValueError:
        raise CRMError(
            f"freq must be a pandas period such as 'M', 'Q' or 'W', not {freq!r}"
        ) from None


# --- acquisition ----------------------------------------------------------------------


def new_customers(
    transactions: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    freq: str = "M",
    as_of=None,
    complete_only: bool = False,
) -> pd.DataFrame:
    """New customers per period and acquisition channel.

    A customer is *new* in the period of their first purchase. The channel is
    ``customers.acquisition_channel`` when the customers table has it, else the
    channel of the first purchase (``transactions.channel``), else ``"all"``.
    Acquisition is the "A" of REAP (Woodcock, Starkey & Stone 2003, ch. 1).

    Parameters
    ----------
    transactions : DataFrame
        Order lines (customer_id, order_date, revenue; channel when present).
    customers : DataFrame, optional
        The customers table; its ``acquisition_channel`` names the channel.
    freq : str, default "M"
        A pandas period: "M" month, "Q" quarter, "W" week.
    as_of : date-like, optional
    complete_only : bool, default False
        Leave out a first or last period the data cover only in part
        (:func:`crmlib.analytics.periods.period_coverage`: the data start after its first
        day, or ``as_of`` falls before its last): a part-observed period
        understates its count.

    Returns
    -------
    DataFrame
        Index ``period`` (the period's first day), from the first purchase's
        period to ``as_of``'s, one column per channel (largest first), values
        the number of new customers; periods without one are 0.
    """
    bought, when = _purchases(transactions, as_of)
    first = bought.sort_values(s.ORDER_DATE, kind="stable").drop_duplicates(s.CUSTOMER_ID)
    if customers is not None and s.ACQUISITION_CHANNEL in customers.columns:
        channel_of = customers.drop_duplicates(s.CUSTOMER_ID).set_index(s.CUSTOMER_ID)[
            s.ACQUISITION_CHANNEL
        ]
        channel = first[s.CUSTOMER_ID].map(channel_of)
    elif s.CHANNEL in first.columns:
        channel = first[s.CHANNEL]
    else:
        channel = pd.Series(ALL_CHANNELS, index=first.index)
    channel = channel.astype("object").where(channel.notna(), UNKNOWN)
    period = _periods(first[s.ORDER_DATE], freq)
    counts = pd.crosstab(period.rename(PERIOD), channel.rename(s.CHANNEL))
    last = pd.Period(when, freq=period.dt.freq)
    full = pd.period_range(period.min(), last, freq=period.dt.freq)
    counts = counts.reindex(full, fill_value=0)
    counts.index = counts.index.to_timestamp()
    counts.index.name = PERIOD
    counts.columns.name = s.CHANNEL
    order = counts.sum().sort_values(ascending=False, kind="stable").index
    if complete_only:
        start = transactions[s.ORDER_DATE].min()
        counts = period_coverage(transactions, freq, as_of=when, start=start).complete(counts)
    return counts[order]


def cost_per_acquisition(
    transactions: pd.DataFrame, campaigns: pd.DataFrame, freq: str = "Q", as_of=None
) -> pd.DataFrame:
    """Campaign spend per new customer, period by period (a blended acquisition cost).

    ``cost_per_new_customer = campaign cost of the period / new customers of the
    period``: the average acquisition cost of Farris, Bendle, Pfeifer &
    Reibstein, *Marketing Metrics*, 2nd ed., Pearson 2010, ch. 5 (acquisition
    spending / customers acquired). A campaign's cost counts in the period of
    its ``start_date``. The campaigns table does not say which spend was meant
    for acquisition and which for retention, so every campaign counts: the
    figure is an upper bound on the true acquisition cost.

    Parameters
    ----------
    transactions : DataFrame
    campaigns : DataFrame
        With ``cost`` and ``start_date``; rows without either are left out.
    freq : str, default "Q"
    as_of : date-like, optional

    Returns
    -------
    DataFrame
        Index ``period``; columns campaign_cost, new_customers,
        cost_per_new_customer (NaN in a period without new customers).
    """
    _need(campaigns, "campaigns", (s.COST, s.START_DATE))
    new = new_customers(transactions, freq=freq, as_of=as_of).sum(axis=1)
    costed = campaigns.dropna(subset=[s.COST, s.START_DATE])
    period = _periods(costed[s.START_DATE], freq).dt.to_timestamp()
    spend = costed.groupby(period)[s.COST].sum()
    index = new.index.union(spend.index)
    out = pd.DataFrame(
        {
            CAMPAIGN_COST: spend.reindex(index, fill_value=0.0),
            NEW_CUSTOMERS: new.reindex(index, fill_value=0).astype(int),
        }
    )
    out[COST_PER_NEW_CUSTOMER] = out[CAMPAIGN_COST] / out[NEW_CUSTOMERS].where(
        out[NEW_CUSTOMERS] > 0
    )
    out.index.name = PERIOD
    return out


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

    Penetration is the "P" of REAP (Woodcock, Starkey & Stone 2003, ch. 1);
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
        For ``engine="spark"``: see :func:`crmlib.engines.spark_session`.
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
    from crmlib.engines import check_engine

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

_COHORT_SQL = """
WITH bought AS (
    SELECT {cid} AS cid, date_trunc('{unit}', CAST({date} AS DATE)) AS period
    FROM transactions
    WHERE {revenue} >= 0 AND CAST({date} AS DATE) <= {as_of}
),
firsts AS (SELECT cid, MIN(period) AS cohort FROM bought GROUP BY cid)
SELECT CAST(firsts.cohort AS DATE) AS cohort, CAST(bought.period AS DATE) AS period,
       COUNT(DISTINCT bought.cid) AS customers
FROM bought JOIN firsts ON bought.cid = firsts.cid
GROUP BY firsts.cohort, bought.period
"""


def _cohort_cells_sql(source, freq, as_of, engine, spark_master):
    """Active customers per (cohort, age) counted by DuckDB or Spark (:mod:`crmlib.engines`).

    Returns the cells (Series indexed by cohort ordinal and age), as-of
    date, the pandas frequency, the ordinal of the last purchase period and
    the first order date, as the pandas branch of :func:`cohort_retention`
    computes them.
    """
    from crmlib.engines import Engine, as_of_sql

    if freq not in SQL_PERIODS:
        raise CRMError(
            f"freq must be one of {', '.join(SQL_PERIODS)} with engine={engine!r}, not {freq!r}"
        )
    with Engine(engine, source, spark_master=spark_master) as eng:
        needed = (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE)
        eng.need("transactions", needed, "for cohort retention")
        eng.check_rows("transactions", needed)
        if as_of is None:
            as_of = eng.last_order_date()
        when = _as_of(None, as_of)
        start = eng.sql(f"SELECT MIN(CAST({s.ORDER_DATE} AS DATE)) AS start FROM transactions")
        cells = eng.sql(
            _COHORT_SQL.format(
                cid=s.CUSTOMER_ID,
                date=s.ORDER_DATE,
                revenue=s.REVENUE,
                unit=SQL_PERIODS[freq],
                as_of=as_of_sql(when),
            )
        )
    if cells.empty:
        raise DataError(f"transactions: no purchase on or before {when:%Y-%m-%d}")
    cohort = _periods(pd.to_datetime(cells[COHORT]), freq)
    period = _periods(pd.to_datetime(cells[PERIOD]), freq)
    ordinals = pd.DataFrame(
        {COHORT: cohort.array.asi8, "age": period.array.asi8 - cohort.array.asi8}
    )
    series = pd.Series(cells["customers"].to_numpy(), index=pd.MultiIndex.from_frame(ordinals))
    first_day = pd.Timestamp(start["start"].iloc[0])
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
    summary = customer_summary(bought, as_of=when, engine="pandas")
    return float((summary[s.FREQUENCY] > 0).mean())


def churn_status(
    transactions: pd.DataFrame, inactivity_days: int = 180, as_of=None
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
    days = _check_days(inactivity_days)
    bought, when = _purchases(transactions, as_of)
    dates = bought.groupby(s.CUSTOMER_ID)[s.ORDER_DATE]
    out = pd.DataFrame({s.FIRST_PURCHASE: dates.min(), s.LAST_PURCHASE: dates.max()})
    out[DAYS_INACTIVE] = (when - out[s.LAST_PURCHASE]).dt.days
    out[JUDGED] = (when - out[s.FIRST_PURCHASE]).dt.days > days
    out[CHURNED] = out[DAYS_INACTIVE] > days
    return out


def churn_rate(transactions: pd.DataFrame, inactivity_days: int = 180, as_of=None) -> float:
    """Share of churned customers among those the inactivity rule can judge.

    ``churn rate = churned / judged`` with the rule of :func:`churn_status`;
    NaN when no customer can be judged yet.
    """
    status = churn_status(transactions, inactivity_days, as_of)
    judged = status[JUDGED]
    return float(status.loc[judged, CHURNED].mean()) if judged.any() else float("nan")


def churn_rule_backtest(
    transactions: pd.DataFrame, inactivity_days: int = 180, as_of=None, horizon_days: int = 180
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
    days = _check_days(inactivity_days)
    horizon = _check_days(horizon_days)
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


# --- efficiency -------------------------------------------------------------------------------


def cost_to_serve(
    transactions: pd.DataFrame,
    cost_rates: pd.DataFrame,
    tickets: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    as_of=None,
) -> pd.DataFrame:
    """Activity-based cost-to-serve: events per activity and channel times their unit cost.

    Activity-based costing (Kaplan & Cooper, *Cost & Effect*, Harvard
    Business School Press 1998, ch. 10; Buttle & Maklan, *Customer
    Relationship Management*, 4th ed., Routledge, ch. 5) with the workbook's
    activities, one event per:

    * ``order`` and ``delivery``: distinct order (``order_id``, else the
      customer's purchase day) among purchase lines, in the lines' channel;
    * ``return``: line with negative revenue, in its channel;
    * ``ticket``: row of ``tickets``, in its channel;
    * ``contact``: row of ``interactions`` whose kind is ``campaign_contact``.

    The unit cost is looked up in ``cost_rates`` by (activity, channel); a
    rate with an empty channel applies to the activity's channels without
    their own rate; an event without a rate costs 0. The rule lives in
    :mod:`crmlib.analytics.costs` (:func:`crmlib.analytics.costs.cost_by_activity`), shared with the
    value chain's customer profitability.

    Returns
    -------
    DataFrame
        One row per (activity, channel) with events: columns activity,
        channel, events, unit_cost, cost.
    """
    from crmlib.analytics import costs  # the shared activity-based rule (also used by value_chain)

    return costs.cost_by_activity(transactions, cost_rates, tickets, interactions, as_of=as_of)


def cost_to_serve_ratio(
    transactions: pd.DataFrame,
    cost_rates: pd.DataFrame,
    tickets: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    as_of=None,
) -> float:
    """Cost-to-serve per unit of net revenue: sum of :func:`cost_to_serve` / net revenue.

    Efficiency is the "E" of REAP (Woodcock, Starkey & Stone 2003, ch. 1):
    what it costs to serve the revenue the customers bring. Net revenue is
    the sum of ``revenue`` up to ``as_of``, returns included (negative).
    """
    when = _as_of(transactions, as_of)
    revenue = float(transactions.loc[transactions[s.ORDER_DATE] <= when, s.REVENUE].sum())
    if revenue <= 0:
        raise DataError(
            "transactions: net revenue is not positive, so cost per revenue is undefined"
        )
    costs = cost_to_serve(transactions, cost_rates, tickets, interactions, as_of=when)
    return float(costs[ACTIVITY_COST].sum() / revenue)


# --- measuring the effect ----------------------------------------------------------------------


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise CRMError(f"level must be a confidence level between 0 and 1, not {level!r}")
    return float(norm.ppf(0.5 + level / 2))


def _counts(x, n) -> tuple[int, int]:
    if n < 1 or x < 0 or x > n:
        raise CRMError(f"a proportion needs 0 <= successes <= trials and trials >= 1, got {x}/{n}")
    return int(x), int(n)


def wilson_interval(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a proportion x / n.

    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` with
    ``p = x / n`` and ``z`` the normal quantile of the level (Wilson 1927,
    "Probable inference, the law of succession, and statistical inference",
    *JASA* 22, 209-212; Newcombe 1998, *Statistics in Medicine* 17, 857-872,
    method 3).
    """
    x, n = _counts(x, n)
    z = _z(level)
    p = x / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return (centre - half) / scale, (centre + half) / scale


def proportion_difference_ci(
    x1: int, n1: int, x2: int, n2: int, level: float = 0.95, method: str = "newcombe"
) -> tuple[float, float, float]:
    """Difference of two independent proportions x1/n1 - x2/n2 and its confidence interval.

    ``method="newcombe"``: Newcombe's hybrid score interval (Newcombe 1998,
    "Interval estimation for the difference between independent
    proportions: comparison of eleven methods", *Statistics in Medicine* 17,
    873-890, method 10). With Wilson intervals (l1, u1) and (l2, u2) of the
    two proportions and d = p1 - p2::

        low  = d - sqrt((p1 - l1)² + (u2 - p2)²)
        high = d + sqrt((u1 - p1)² + (p2 - l2)²)

    It keeps its coverage for small groups and proportions near 0 or 1,
    where the Wald interval does not.

    ``method="wald"``: ``d ± z·sqrt(p1(1-p1)/n1 + p2(1-p2)/n2)`` (Newcombe
    1998, method 1), the textbook interval.

    Returns
    -------
    (difference, low, high)
    """
    x1, n1 = _counts(x1, n1)
    x2, n2 = _counts(x2, n2)
    if method not in METHODS:
        raise CRMError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    if method == "wald":
        z = _z(level)
        half = z * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
        return d, d - half, d + half
    l1, u1 = wilson_interval(x1, n1, level)
    l2, u2 = wilson_interval(x2, n2, level)
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def _campaign_windows(
    interactions: pd.DataFrame, campaigns: pd.DataFrame | None, window_days: int
) -> pd.DataFrame:
    """Start and end (inclusive) of each campaign's response window."""
    first = interactions.groupby(s.CAMPAIGN_ID)[s.TIMESTAMP].min().dt.normalize()
    windows = pd.DataFrame(
        {WINDOW_START: first, WINDOW_END: first + pd.Timedelta(days=window_days - 1)}
    )
    if campaigns is not None and {s.START_DATE, s.END_DATE} <= set(campaigns.columns):
        dated = campaigns.dropna(subset=[s.START_DATE, s.END_DATE]).drop_duplicates(s.CAMPAIGN_ID)
        dated = dated.set_index(s.CAMPAIGN_ID)
        known = windows.index.intersection(dated.index)
        windows.loc[known, WINDOW_START] = dated.loc[known, s.START_DATE].dt.normalize()
        windows.loc[known, WINDOW_END] = dated.loc[known, s.END_DATE].dt.normalize()
    return windows


def campaign_responses(
    transactions: pd.DataFrame,
    interactions: pd.DataFrame,
    campaigns: pd.DataFrame | None = None,
    window_days: int = 28,
) -> pd.DataFrame:
    """Who was in each campaign's treated and control group, and who responded.

    * Treated: customers with an interaction of kind ``campaign_contact`` for
      the campaign. Control: customers with kind ``campaign_holdout`` (a
      random holdout kept from the contact), not also contacted. A campaign
      without a holdout is compared with the *non-contacted* customers: those
      with a purchase before its window who got neither. That comparison is
      biased whenever the contacted were chosen (by segment, by value), so the
      lift table says which control was used.
    * Response: a purchase (revenue >= 0) dated inside the campaign window,
      ``start_date`` to ``end_date`` inclusive from the campaigns table, else
      ``window_days`` days from the campaign's first contact. A window still
      open on the last order date understates the responses of both groups.

    Returns
    -------
    DataFrame
        One row per (campaign, customer): campaign_id, customer_id, group
        (``treated`` / ``control``), control_kind (``holdout`` / ``not
        contacted``), responded (bool), window_start, window_end.
    """
    _need(interactions, "interactions", (s.CUSTOMER_ID, s.TIMESTAMP, s.KIND, s.CAMPAIGN_ID))
    days = _check_days(window_days)
    bought, _ = _purchases(transactions)
    arms = interactions.loc[
        interactions[s.KIND].isin([KIND_CONTACT, KIND_HOLDOUT])
        & interactions[s.CAMPAIGN_ID].notna(),
        [s.CAMPAIGN_ID, s.CUSTOMER_ID, s.KIND, s.TIMESTAMP],
    ]
    columns = [
        s.CAMPAIGN_ID,
        s.CUSTOMER_ID,
        GROUP,
        CONTROL_KIND,
        RESPONDED,
        WINDOW_START,
        WINDOW_END,
    ]
    if arms.empty:
        return pd.DataFrame(columns=columns)
    windows = _campaign_windows(arms, campaigns, days)
    treated = arms.loc[arms[s.KIND] == KIND_CONTACT, [s.CAMPAIGN_ID, s.CUSTOMER_ID]]
    treated = treated.drop_duplicates().assign(**{GROUP: TREATED})
    holdout = arms.loc[
        arms[s.KIND] == KIND_HOLDOUT, [s.CAMPAIGN_ID, s.CUSTOMER_ID]
    ].drop_duplicates()
    contacted = pd.MultiIndex.from_frame(treated[[s.CAMPAIGN_ID, s.CUSTOMER_ID]])
    holdout = holdout.loc[~pd.MultiIndex.from_frame(holdout).isin(contacted)]
    holdout = holdout.assign(**{GROUP: CONTROL, CONTROL_KIND: HOLDOUT})
    parts = [treated, holdout]
    for campaign in treated[s.CAMPAIGN_ID].unique():
        if (holdout[s.CAMPAIGN_ID] == campaign).any():
            continue
        start = windows.at[campaign, WINDOW_START]
        earlier = bought.loc[bought[s.ORDER_DATE] < start, s.CUSTOMER_ID].unique()
        reached = arms.loc[arms[s.CAMPAIGN_ID] == campaign, s.CUSTOMER_ID].unique()
        others = np.setdiff1d(earlier.astype(object), reached.astype(object))
        parts.append(
            pd.DataFrame(
                {
                    s.CAMPAIGN_ID: campaign,
                    s.CUSTOMER_ID: others,
                    GROUP: CONTROL,
                    CONTROL_KIND: NOT_CONTACTED,
                }
            )
        )
    groups = pd.concat(parts, ignore_index=True)
    kind = groups.groupby(s.CAMPAIGN_ID)[CONTROL_KIND].first()  # NaN: no control at all
    groups[CONTROL_KIND] = groups[s.CAMPAIGN_ID].map(kind)
    groups = groups.join(windows, on=s.CAMPAIGN_ID)
    # a response: any purchase of the customer inside the campaign's window
    joined = groups[[s.CAMPAIGN_ID, s.CUSTOMER_ID, WINDOW_START, WINDOW_END]].merge(
        bought[[s.CUSTOMER_ID, s.ORDER_DATE]], on=s.CUSTOMER_ID
    )
    inside = joined.loc[
        (joined[s.ORDER_DATE] >= joined[WINDOW_START])
        & (joined[s.ORDER_DATE] <= joined[WINDOW_END])
    ]
    hit = pd.MultiIndex.from_frame(inside[[s.CAMPAIGN_ID, s.CUSTOMER_ID]].drop_duplicates())
    groups[RESPONDED] = pd.MultiIndex.from_frame(groups[[s.CAMPAIGN_ID, s.CUSTOMER_ID]]).isin(hit)
    return groups[columns].sort_values([s.CAMPAIGN_ID, GROUP], ignore_index=True, kind="stable")


def campaign_lift(
    responses: pd.DataFrame,
    campaigns: pd.DataFrame | None = None,
    level: float = 0.95,
    method: str = "newcombe",
) -> pd.DataFrame:
    """Lift of each campaign: response rate of the treated minus that of the control group.

    ``lift = x_t / n_t - x_c / n_c`` with its confidence interval from
    :func:`proportion_difference_ci` (Newcombe 1998 by default). A lift
    whose interval lies above 0 is evidence the campaign caused purchases;
    the response rate of the treated alone (what a CRM system usually
    reports as "responders") also counts customers who would have bought
    anyway. Measuring against a control group is QCi's "measuring the
    effect" (Woodcock, Starkey & Stone 2003, ch. 1).

    Parameters
    ----------
    responses : DataFrame
        From :func:`campaign_responses`.
    campaigns : DataFrame, optional
        Adds ``name`` and ``cost``, and the cost per incremental responder.
    level : float, default 0.95
    method : {"newcombe", "wald"}

    Returns
    -------
    DataFrame
        Index campaign_id; columns control_kind, n_treated, responders_treated,
        rate_treated, n_control, responders_control, rate_control, lift,
        ci_low, ci_high, incremental_responders (lift x n_treated); with
        campaigns also name, cost and cost_per_incremental (NaN unless the
        lift is above 0). Campaigns lacking a treated or a control customer
        are left out.
    """
    _need(responses, "campaign responses", (s.CAMPAIGN_ID, GROUP, RESPONDED, CONTROL_KIND))
    rows = []
    for campaign, part in responses.groupby(s.CAMPAIGN_ID, sort=True):
        t = part.loc[part[GROUP] == TREATED, RESPONDED]
        c = part.loc[part[GROUP] == CONTROL, RESPONDED]
        if t.empty or c.empty:
            continue
        lift, low, high = proportion_difference_ci(
            int(t.sum()), len(t), int(c.sum()), len(c), level=level, method=method
        )
        rows.append(
            {
                s.CAMPAIGN_ID: campaign,
                CONTROL_KIND: part[CONTROL_KIND].iloc[0],
                N_TREATED: len(t),
                RESPONDERS_TREATED: int(t.sum()),
                RATE_TREATED: float(t.mean()),
                N_CONTROL: len(c),
                RESPONDERS_CONTROL: int(c.sum()),
                RATE_CONTROL: float(c.mean()),
                LIFT: lift,
                CI_LOW: low,
                CI_HIGH: high,
                INCREMENTAL: lift * len(t),
            }
        )
    columns = [
        s.CAMPAIGN_ID,
        CONTROL_KIND,
        N_TREATED,
        RESPONDERS_TREATED,
        RATE_TREATED,
        N_CONTROL,
        RESPONDERS_CONTROL,
        RATE_CONTROL,
        LIFT,
        CI_LOW,
        CI_HIGH,
        INCREMENTAL,
    ]
    table = pd.DataFrame(rows, columns=columns).set_index(s.CAMPAIGN_ID)
    if campaigns is not None and s.CAMPAIGN_ID in campaigns.columns:
        info = campaigns.drop_duplicates(s.CAMPAIGN_ID).set_index(s.CAMPAIGN_ID)
        if s.NAME in info.columns:
            table.insert(0, s.NAME, info[s.NAME].reindex(table.index))
        if s.COST in info.columns:
            table[s.COST] = info[s.COST].reindex(table.index)
            paid = table[INCREMENTAL].where(table[LIFT] > 0)
            table[COST_PER_INCREMENTAL] = table[s.COST] / paid
    return table


# --- customer experience -----------------------------------------------------------------------


def nps_class(scores) -> pd.Series:
    """Promoter (9-10), passive (7-8) or detractor (0-6) per answer; NaN stays NaN.

    The classes of the Net Promoter Score (Reichheld 2003, "The one number
    you need to grow", *Harvard Business Review* 81(12), 46-54).
    """
    scores = pd.Series(scores, dtype="float64")
    out = pd.Series(np.nan, index=scores.index, dtype="object")
    out[scores >= PROMOTER_MIN] = PROMOTERS
    out[(scores > DETRACTOR_MAX) & (scores < PROMOTER_MIN)] = PASSIVES
    out[scores <= DETRACTOR_MAX] = DETRACTORS
    return out


def nps(scores) -> float:
    """Net Promoter Score: % promoters (9-10) - % detractors (0-6), from -100 to 100.

    Reichheld 2003, "The one number you need to grow", *Harvard Business
    Review* 81(12), 46-54. Missing answers are left out; NaN without any.
    """
    scores = pd.Series(scores, dtype="float64").dropna()
    if ((scores < 0) | (scores > 10)).any():
        raise DataError("NPS answers must lie from 0 to 10", column=s.NPS)
    if scores.empty:
        return float("nan")
    return float(100 * ((scores >= PROMOTER_MIN).mean() - (scores <= DETRACTOR_MAX).mean()))


def _group_labels(frame: pd.DataFrame, by, what: str) -> pd.Series:
    if by is None:
        return pd.Series(ALL_CHANNELS, index=frame.index)
    if isinstance(by, str):
        _need(frame, what, (by,))
        return frame[by].astype("object").fillna(UNKNOWN)
    if isinstance(by, pd.Series):
        return frame[s.CUSTOMER_ID].map(by).astype("object").fillna(UNKNOWN)
    raise CRMError("by must be None, a column name, or a Series mapping customer_id to a group")


def nps_table(surveys: pd.DataFrame, by=None, level: float = 0.95) -> pd.DataFrame:
    """NPS per group with its confidence interval.

    The NPS of n answers with promoter share P and detractor share D is
    ``100 (P - D)``; its standard error follows from the multinomial
    variances and covariance of P and D,
    ``100 sqrt((P + D - (P - D)²) / n)`` (Agresti, *Categorical Data
    Analysis*, 3rd ed., Wiley 2013, ch. 1, on the multinomial distribution),
    and the interval is the estimate ± z standard errors, kept within -100 to 100.

    Parameters
    ----------
    surveys : DataFrame
        With customer_id and nps.
    by : None, str or Series
        None: one row for everyone; a column of ``surveys``; or a Series
        mapping customer_id to a group (e.g. :func:`main_channel`).
    level : float, default 0.95

    Returns
    -------
    DataFrame
        Index the group; columns n, promoters, passives, detractors (shares),
        nps, ci_low, ci_high; groups by descending n.
    """
    _need(surveys, "surveys", (s.CUSTOMER_ID, s.NPS))
    answered = surveys.dropna(subset=[s.NPS])
    z = _z(level)
    group = _group_labels(answered, by, "surveys")
    cls = nps_class(answered[s.NPS])
    rows = []
    for label, idx in group.groupby(group, sort=False).groups.items():
        c = cls.loc[idx]
        n = len(c)
        p, d = float((c == PROMOTERS).mean()), float((c == DETRACTORS).mean())
        se = 100 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
        score = 100 * (p - d)
        rows.append(
            {
                GROUP: label,
                N: n,
                PROMOTERS: p,
                PASSIVES: float((c == PASSIVES).mean()),
                DETRACTORS: d,
                s.NPS: score,
                CI_LOW: max(score - z * se, -100.0),
                CI_HIGH: min(score + z * se, 100.0),
            }
        )
    columns = [GROUP, N, PROMOTERS, PASSIVES, DETRACTORS, s.NPS, CI_LOW, CI_HIGH]
    table = pd.DataFrame(rows, columns=columns).set_index(GROUP)
    return table.sort_values(N, ascending=False, kind="stable")


def main_channel(transactions: pd.DataFrame) -> pd.Series:
    """Each customer's main purchase channel: the channel of most of their orders.

    Orders are distinct ``order_id`` (else purchase days); ties go to the
    channel first in name order.
    """
    _need(transactions, "transactions", (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, s.CHANNEL))
    bought, _ = _purchases(transactions)
    key = [s.ORDER_ID] if s.ORDER_ID in bought.columns else [s.CUSTOMER_ID, s.ORDER_DATE]
    orders = bought.drop_duplicates(key).dropna(subset=[s.CHANNEL])
    counts = orders.groupby([s.CUSTOMER_ID, s.CHANNEL]).size().rename(N).reset_index()
    counts = counts.sort_values([s.CUSTOMER_ID, N, s.CHANNEL], ascending=[True, False, True])
    return counts.drop_duplicates(s.CUSTOMER_ID).set_index(s.CUSTOMER_ID)[s.CHANNEL]


def csat_table(tickets: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """CSAT per group of tickets: answers, mean score and share satisfied.

    CSAT is asked on a 1-5 scale after a service contact; the share
    *satisfied* is the share of answers of 4 or 5 (the "top two boxes":
    Farris, Bendle, Pfeifer & Reibstein, *Marketing Metrics*, 2nd ed.,
    Pearson 2010, ch. 2, customer satisfaction).

    Parameters
    ----------
    tickets : DataFrame
        With csat (empty = not answered).
    by : str, optional
        A column of ``tickets`` to group by: ``channel`` or ``category``
        (the touchpoint: delivery, product, billing, ...).

    Returns
    -------
    DataFrame
        Index the group; columns tickets, n (answers), answer_rate, mean_csat,
        satisfied; groups by descending number of answers.
    """
    _need(tickets, "tickets", (s.CSAT,))
    group = _group_labels(tickets, by, "tickets") if by else pd.Series(ALL_CHANNELS, tickets.index)
    rows = []
    for label, idx in group.groupby(group, sort=False).groups.items():
        answers = tickets.loc[idx, s.CSAT].dropna()
        rows.append(
            {
                GROUP: label,
                "tickets": len(idx),
                N: len(answers),
                "answer_rate": len(answers) / len(idx),
                MEAN_CSAT: float(answers.mean()) if len(answers) else np.nan,
                SATISFIED: float((answers >= SATISFIED_MIN).mean()) if len(answers) else np.nan,
            }
        )
    columns = [GROUP, "tickets", N, "answer_rate", MEAN_CSAT, SATISFIED]
    table = pd.DataFrame(rows, columns=columns).set_index(GROUP)
    return table.sort_values(N, ascending=False, kind="stable")


def nps_by_service(
    surveys: pd.DataFrame, tickets: pd.DataFrame, level: float = 0.95
) -> pd.DataFrame:
    """NPS of respondents grouped by the service they had received before answering.

    Each survey answer is matched to the same customer's tickets opened
    before the survey date that carry a CSAT answer; the respondent's
    service is the mean of those CSAT scores, banded as ``poor (<3)``,
    ``fair (3-<4)`` and ``good (4-5)``, or ``no rated ticket before``.
    The table is :func:`nps_table` by that band. It shows the association
    only: customers who contact service differ from those who do not.

    Returns
    -------
    DataFrame
        As :func:`nps_table`, index the service band.
    """
    _need(surveys, "surveys", (s.RESPONSE_ID, s.CUSTOMER_ID, s.DATE, s.NPS))
    _need(tickets, "tickets", (s.CUSTOMER_ID, s.OPENED_AT, s.CSAT))
    answers = surveys.dropna(subset=[s.NPS])
    rated = tickets.dropna(subset=[s.CSAT])[[s.CUSTOMER_ID, s.OPENED_AT, s.CSAT]]
    pairs = answers[[s.RESPONSE_ID, s.CUSTOMER_ID, s.DATE]].merge(rated, on=s.CUSTOMER_ID)
    before = pairs.loc[pairs[s.OPENED_AT] < pairs[s.DATE]]
    mean = before.groupby(s.RESPONSE_ID)[s.CSAT].mean()
    score = answers[s.RESPONSE_ID].map(mean)
    band = pd.Series(NO_TICKET, index=answers.index, dtype="object")
    band[score < 3] = SERVICE_POOR
    band[(score >= 3) & (score < 4)] = SERVICE_FAIR
    band[score >= 4] = SERVICE_GOOD
    return nps_table(answers.assign(**{SERVICE: band}), by=SERVICE, level=level)


def retention_after(
    events: pd.DataFrame,
    transactions: pd.DataFrame,
    by: str,
    date: str,
    inactivity_days: int = 180,
    as_of=None,
) -> pd.DataFrame:
    """Share of customers who bought again within ``inactivity_days`` after an event, per group.

    An event is a survey answer or a rated ticket; ``by`` groups them (an
    NPS class, a CSAT score). Retained = a purchase in the
    ``inactivity_days`` after the event's date, i.e. not churned by the
    inactivity rule of :func:`churn_status` one rule-length later. Events
    less than ``inactivity_days`` before ``as_of`` are left out: their
    customers have not had the full time to come back.

    This measures the link between what customers say and what they do
    (Reichheld 2003, *Harvard Business Review* 81(12) argued NPS predicts
    growth; Keiningham, Cooil, Andreassen & Aksoy 2007, "A longitudinal
    examination of net promoter and firm revenue growth", *Journal of
    Marketing* 71(3), found it predicts no better than other satisfaction
    measures). It is an association, not an effect.

    Returns
    -------
    DataFrame
        Index the group; columns n (events judged) and retained (share).
    """
    days = _check_days(inactivity_days)
    _need(events, "events", (s.CUSTOMER_ID, by, date))
    bought, when = _purchases(transactions, as_of)
    dated = events.dropna(subset=[by, date])
    dated = dated.loc[dated[date].dt.normalize() + pd.Timedelta(days=days) <= when]
    if dated.empty:
        return pd.DataFrame(columns=[N, RETAINED], index=pd.Index([], name=by))
    ev = dated[[s.CUSTOMER_ID, by, date]].reset_index(drop=True).rename_axis("_event").reset_index()
    pairs = ev.merge(bought[[s.CUSTOMER_ID, s.ORDER_DATE]], on=s.CUSTOMER_ID)
    start = pairs[date].dt.normalize()
    inside = (pairs[s.ORDER_DATE] > start) & (
        pairs[s.ORDER_DATE] <= start + pd.Timedelta(days=days)
    )
    retained = ev["_event"].isin(pairs.loc[inside, "_event"])
    grouped = pd.DataFrame({by: ev[by], RETAINED: retained}).groupby(by)[RETAINED]
    return grouped.agg(**{N: "size", RETAINED: "mean"})


# --- the data beside the interview -------------------------------------------------------------

#: Assessment questions of the ``qci`` bank that client data can speak to.
EVIDENCE_QUESTIONS = {
    "cma1": "customer_management_activity",  # acquisition tracked
    "cma2": "customer_management_activity",  # penetration tracked
    "cma3": "customer_management_activity",  # customers at risk identified
    "me2": "measuring_effect",  # campaigns measured against control groups
    "me3": "measuring_effect",  # satisfaction measured by segment and touchpoint
    "it2": "information_technology",  # data quality measured
    "pm3": "process_management",  # process performance measured
    "cx3": "customer_experience",  # easy to reach, the same answer in each channel
    "cx4": "customer_experience",  # feedback on the experience collected
}


def data_evidence(data, inactivity_days: int = 180) -> pd.DataFrame:
    """The measures client data gives for the assessment questions it can speak to.

    Each row pairs a question of the ``qci`` bank with one measure from the
    tables the client folder holds (tables that are absent give no rows):

    * cma1 acquisition: new customers per month (mean over the last 12 months);
    * cma2 penetration: cross-sell rate (products);
    * cma3 retention: repeat rate and churn rate by the inactivity rule;
    * me2 measuring the effect: share of campaigns with a holdout, share of
      campaigns whose lift interval lies above 0 (interactions);
    * me3 satisfaction measured: NPS (surveys);
    * cx3 and cx4 experience: share of service contacts satisfied and CSAT
      answer rate (tickets);
    * it2 data quality: share of input values rejected in validation.

    A measure whose table or column is absent gives no row (absent is not 0).
    * pm3 process: median ticket resolution time in hours (tickets).

    Parameters
    ----------
    data : crmlib.data.io.ClientData
        A validated client folder (:func:`crmlib.data.datasets.load`).
    inactivity_days : int, default 180

    Returns
    -------
    DataFrame
        Columns area, question_id, measure, value, unit.
    """
    tx = data.transactions
    rows = []

    def add(question, measure, value, unit):
        rows.append(
            {
                AREA: EVIDENCE_QUESTIONS[question],
                QUESTION: question,
                MEASURE: measure,
                VALUE: float(value),
                UNIT: unit,
            }
        )

    customers = data.tables.get("customers") if data.has("customers") else None
    monthly = new_customers(tx, customers, freq="M", as_of=data.as_of).sum(axis=1)
    add("cma1", "new customers per month (last 12 months)", monthly.tail(12).mean(), "customers")
    def holds(**columns) -> bool:  # the tables hold these columns, each with a value
        return not missing_pieces(data, Need(columns=columns))

    if holds(transactions=[s.PRODUCT_ID], products=[s.CATEGORY]):
        pen = penetration(tx, data.tables["products"], as_of=data.as_of)
        add("cma2", "cross-sell rate (2+ categories)", pen[CROSS_SELL_RATE], "share")
    add("cma3", "repeat rate", repeat_rate(tx, as_of=data.as_of), "share")
    add(
        "cma3",
        f"churn rate ({inactivity_days} days without a purchase)",
        churn_rate(tx, inactivity_days, as_of=data.as_of),
        "share",
    )
    if holds(interactions=[s.KIND, s.CAMPAIGN_ID]):
        inter = data.tables["interactions"]
        campaigns = data.tables["campaigns"] if data.has("campaigns") else None
        responses = campaign_responses(tx, inter, campaigns)
        if len(responses):
            lift = campaign_lift(responses, campaigns)
            held = responses.groupby(s.CAMPAIGN_ID)[CONTROL_KIND].first() == HOLDOUT
            add("me2", "campaigns with a holdout group", held.mean(), "share")
            if len(lift):
                add(
                    "me2",
                    "campaigns with lift above 0 (95 % CI)",
                    (lift[CI_LOW] > 0).mean(),
                    "share",
                )
    if holds(surveys=[s.NPS]):
        add("me3", "NPS", nps(data.tables["surveys"][s.NPS]), "points")
    if holds(tickets=[s.CSAT]):
        csat = csat_table(data.tables["tickets"]).iloc[0]
        add("cx4", "CSAT answer rate", csat["answer_rate"], "share")
        add("cx3", "CSAT share satisfied (4-5)", csat[SATISFIED], "share")
    if holds(tickets=[s.CLOSED_AT]):
        tickets = data.tables["tickets"]
        closed = tickets.dropna(subset=[s.CLOSED_AT])
        hours = (closed[s.CLOSED_AT] - closed[s.OPENED_AT]).dt.total_seconds() / 3600
        hours = hours[hours >= 0]
        if len(hours):
            add("pm3", "median ticket resolution time", hours.median(), "hours")
    read = sum(r.rows for r in data.reports.values())
    if read:
        add("it2", "input rows rejected in validation", len(data.rejects) / read, "share")
    return pd.DataFrame(rows, columns=[AREA, QUESTION, MEASURE, VALUE, UNIT])


def evidence_beside_scores(evidence: pd.DataFrame, result) -> pd.DataFrame:
    """Set the data's measures beside the interview's scores of the same questions.

    Parameters
    ----------
    evidence : DataFrame
        From :func:`data_evidence`.
    result : crmlib.analytics.assessment.AssessmentResult
        The scored ``qci`` assessment.

    Returns
    -------
    DataFrame
        The evidence with the area's name and the question's text, intention
        and reality scores (NaN when unanswered).
    """
    questions = result.bank.questions
    unknown = sorted(set(evidence[QUESTION]) - set(questions.index))
    if unknown:
        raise CRMError(f"the '{result.bank.id}' bank has no question {unknown[0]}")
    scores = result.questions.reindex(evidence[QUESTION])
    out = evidence.copy()
    out.insert(1, "area_name", result.areas[AREA_NAME].reindex(evidence[AREA]).to_numpy())
    out[QUESTION_TEXT] = questions[QUESTION_TEXT].reindex(evidence[QUESTION]).to_numpy()
    for dim in result.dimensions:
        out[dim] = scores[dim].to_numpy()
    return out
