"""Performance assessment: the KPI table, targets, RAG status and the scorecard."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from crmlib.analytics import experience
from crmlib.analytics.lapse import LAPSED_AFTER_DAYS
from crmlib.analytics.orders import purchase_lines as _purchases
from crmlib.analytics.requirements import Need, missing_pieces
from crmlib.data import schema as s
from crmlib.data.checks import as_of_date as _as_of
from crmlib.data.checks import need_columns as _need
from crmlib.errors import CRMError, DataError
from crmlib.models.payne_frow._common import (
    ACTIVE,
    AMBER,
    CAC,
    CHANGE,
    CLV,
    COST_TO_SERVE,
    DIRECTION,
    GREEN,
    KPI,
    KPI_LABELS,
    LABEL,
    LOWER_IS_BETTER,
    MARGIN_PER_CUSTOMER,
    MEAN_CSAT,
    NEW,
    NO_DATA,
    PERIOD,
    PREVIOUS,
    RED,
    RETENTION,
    REVENUE_AFTER,
    SATISFIED,
    STATUS,
    TARGET,
    VALUE,
    WALLET,
    _check_rate,
)
from crmlib.models.payne_frow.value_creation import (
    _activity_cost,
)

# =========================================================================================
# Performance assessment
# =========================================================================================


def _period_days(period: pd.Period) -> int:
    return int((period.end_time.normalize() - period.start_time).days + 1)


def kpi_table(
    data, freq: str = "Q", as_of=None, annual_discount_rate: float = 0.10
) -> pd.DataFrame:
    """CRM KPIs per period, from every table the client folder holds.

    Only periods over by ``as_of`` are measured (a part-observed period would
    understate every count). Per period p:

    * ``new_customers``: customers whose first purchase falls in p (acquisition);
    * ``active_customers``: customers with a purchase in p;
    * ``retention_rate``: customers active in both p - 1 and p / customers
      active in p - 1 (NaN for the first period);
    * ``revenue``; ``margin`` = revenue - product cost (NaN without costs);
    * ``cost_to_serve_ratio``: activity-based cost-to-serve of p
      (:func:`crmlib.analytics.costs.cost_by_activity` on the orders, returns, tickets
      and campaign contacts of p) / net revenue of p (cost_rates);
    * ``margin_per_customer``: (revenue - product cost - cost-to-serve, each
      part the data have) / active customers;
    * ``clv``: margin per customer x r / (1 + d - r), the geometric retention
      model of Gupta & Lehmann (2003) with the period's retention r and the
      annual discount rate turned into the period's d (:func:`margin_multiple`);
    * ``acquisition_cost``: cost of the campaigns starting in p / new
      customers of p (campaigns; NaN in a period without campaign spend;
      Farris et al., *Marketing Metrics*, 2010, ch. 5);
    * ``nps`` (surveys dated in p; Reichheld 2003), ``mean_csat`` and
      ``satisfied`` (tickets opened in p);
    * ``share_of_wallet_proxy``: mean over active customers of the product
      categories they bought in p / the categories the catalogue offers
      (products). Share of wallet, the customer's spend with the firm over
      their spend in the category (Du, Kamakura & Mela 2007, "Size and share
      of customer wallet", *Journal of Marketing* 71(2)), needs the spend at
      competitors, which a client's records do not hold: this proxy only says
      how much of the range a customer draws on.

    These are the "results and KPIs" of Payne & Frow's performance monitoring
    (Payne & Frow 2005, *Journal of Marketing* 69(4)).

    Returns
    -------
    DataFrame
        Index ``period`` (its first day); one column per KPI the data allow.
    """
    tx = data.transactions
    bought, when = _purchases(tx, as_of if as_of is not None else data.as_of)
    annual = _check_rate("annual_discount_rate", annual_discount_rate, 0.0, 1.0)
    try:
        period = bought[s.ORDER_DATE].dt.to_period(freq)
    except ValueError:
        raise CRMError(f"freq must be a pandas period such as 'M' or 'Q', not {freq!r}") from None
    kind = period.dt.freq
    last = pd.Period(when, freq=kind)
    if last.end_time.normalize() > when:
        last = last - 1
    periods = pd.period_range(period.min(), last, freq=kind)
    if len(periods) == 0:
        raise DataError(f"transactions: no {freq} period is over by {when:%Y-%m-%d}")
    active = bought.groupby(period)[s.CUSTOMER_ID].agg(set)
    first = period.groupby(bought[s.CUSTOMER_ID]).min()
    lines = tx.loc[tx[s.ORDER_DATE] <= when]
    line_period = lines[s.ORDER_DATE].dt.to_period(kind)
    has_cost = s.COST in lines.columns and lines[s.COST].notna().any()
    rates = data.table("cost_rates")
    tickets = data.table("tickets")
    inter = data.table("interactions")
    rows = []
    previous = None
    for p in periods:
        now = active.get(p, set())
        row = {PERIOD: p.start_time, NEW: int((first == p).sum()), ACTIVE: len(now)}
        row[RETENTION] = len(now & previous) / len(previous) if previous else np.nan
        in_p = lines.loc[line_period == p]
        row[s.REVENUE] = float(in_p[s.REVENUE].sum())
        product_cost = float(in_p[s.COST].fillna(0.0).sum()) if has_cost else np.nan
        row[s.MARGIN] = row[s.REVENUE] - product_cost
        left = row[s.REVENUE] - (product_cost if has_cost else 0.0)
        if rates is not None:
            start = p.start_time.normalize() - pd.Timedelta(days=1)
            serve = _activity_cost(in_p, rates, tickets, inter, start, p.end_time.normalize())
            row[COST_TO_SERVE] = serve / row[s.REVENUE] if row[s.REVENUE] > 0 else np.nan
            left -= serve
        row[MARGIN_PER_CUSTOMER] = left / len(now) if now else np.nan
        r = row[RETENTION]
        d = (1.0 + annual) ** (_period_days(p) / 365.0) - 1.0
        row[CLV] = row[MARGIN_PER_CUSTOMER] * r / (1.0 + d - r) if 0 <= r < 1 else np.nan
        rows.append(row)
        previous = now
    out = pd.DataFrame(rows).set_index(PERIOD)
    _campaign_kpis(data, out, periods)
    _experience_kpis(data, out, periods)
    _wallet_kpis(data, out, periods, bought, period)
    return out


def _campaign_kpis(data, out: pd.DataFrame, periods) -> None:
    if missing_pieces(data, Need(columns={"campaigns": [s.COST, s.START_DATE]})):
        return  # no acquisition cost column: absent, not 0
    campaigns = data.tables["campaigns"].dropna(subset=[s.COST, s.START_DATE])
    spend = campaigns.groupby(campaigns[s.START_DATE].dt.to_period(periods.freq))[s.COST].sum()
    spend = pd.Series(spend.reindex(periods).to_numpy(), index=out.index)
    out[CAC] = spend.where(spend > 0) / out[NEW].where(out[NEW] > 0)


def _experience_kpis(data, out: pd.DataFrame, periods) -> None:
    if not missing_pieces(data, Need(columns={"surveys": [s.NPS, s.DATE]})):
        surveys = data.tables["surveys"].dropna(subset=[s.DATE])
        by = surveys[s.DATE].dt.to_period(periods.freq)
        out[s.NPS] = [
            experience.nps(surveys.loc[by == p, s.NPS]) if (by == p).any() else np.nan for p in periods
        ]
    if not missing_pieces(data, Need(columns={"tickets": [s.CSAT]})):
        tickets = data.tables["tickets"]
        by = tickets[s.OPENED_AT].dt.to_period(periods.freq)
        answers = [tickets.loc[by == p, s.CSAT].dropna() for p in periods]
        out[MEAN_CSAT] = [a.mean() if len(a) else np.nan for a in answers]
        out[SATISFIED] = [(a >= experience.SATISFIED_MIN).mean() if len(a) else np.nan for a in answers]


def _wallet_kpis(data, out: pd.DataFrame, periods, bought, period) -> None:
    if not data.has("products") or s.PRODUCT_ID not in bought.columns:
        return
    products = data.tables["products"]
    if s.CATEGORY not in products.columns or products[s.CATEGORY].isna().all():
        return
    category_of = products.drop_duplicates(s.PRODUCT_ID).set_index(s.PRODUCT_ID)[s.CATEGORY]
    offered = category_of.nunique()
    category = bought[s.PRODUCT_ID].map(category_of)
    frame = pd.DataFrame(
        {PERIOD: period.to_numpy(), s.CUSTOMER_ID: bought[s.CUSTOMER_ID], s.CATEGORY: category}
    ).dropna(subset=[s.CATEGORY])
    per_customer = frame.groupby([PERIOD, s.CUSTOMER_ID])[s.CATEGORY].nunique() / offered
    share = per_customer.groupby(level=PERIOD).mean()
    out[WALLET] = share.reindex(periods).to_numpy()


def rag_status(value, target, tolerance: float = 0.10, higher_is_better: bool = True) -> str:
    """Red, amber or green: a KPI against its target.

    The rule (the workbook's, stated in the lesson): with the band
    ``b = tolerance * |target|``,

    * higher is better: green when value >= target, amber when value >=
      target - b, red below;
    * lower is better: green when value <= target, amber when value <=
      target + b, red above;
    * ``"no data"`` when the value or the target is missing.

    A target of 0 has no amber band. Targets and tolerances are the
    "standards" of Payne & Frow's performance monitoring (Payne & Frow 2005).
    """
    tolerance = _check_rate("tolerance", tolerance, 0.0, 1.0, high_open=False)
    try:
        value, target = float(value), float(target)
    except (TypeError, ValueError):
        return NO_DATA
    if not (math.isfinite(value) and math.isfinite(target)):
        return NO_DATA
    band = tolerance * abs(target)
    if higher_is_better:
        return GREEN if value >= target else AMBER if value >= target - band else RED
    return GREEN if value <= target else AMBER if value <= target + band else RED


def baseline(kpis: pd.DataFrame, kpi: str) -> float | None:
    """The default standard of a KPI: the mean of its measured periods before the last one.

    ``mean(x_1, ..., x_{n-1})`` over the n periods with a value (missing periods left
    out), so that the latest period is judged against the client's own past when no target
    was agreed. Payne & Frow's performance monitoring compares results with standards
    (Payne & Frow 2005, *Journal of Marketing* 69(4)); the past average as that standard is
    the workbook's rule.

    Returns
    -------
    float or None
        None when the KPI is not in ``kpis`` or has a value in fewer than two periods.
    """
    if kpi not in kpis.columns:
        return None
    series = kpis[kpi].dropna()
    if series.size < 2:
        return None
    return float(series.iloc[:-1].mean())


def kpi_targets(kpis: pd.DataFrame, targets: dict) -> dict:
    """The scorecard's targets: each agreed target, else the KPI's :func:`baseline`.

    Parameters
    ----------
    kpis : DataFrame
        From :func:`kpi_table`.
    targets : dict
        KPI column -> agreed target, or None for "the mean of the earlier periods".

    Returns
    -------
    dict
        KPI column -> target, in the order given; a KPI whose target is None and whose
        baseline cannot be measured (:func:`baseline` is None) is left out.

    Raises
    ------
    CRMError
        A key that is not a KPI (:data:`KPI_LABELS`).
    """
    unknown = sorted(set(targets) - set(KPI_LABELS))
    if unknown:
        raise CRMError(f"no KPI called {unknown[0]!r}; the KPIs: {', '.join(KPI_LABELS)}")
    chosen = {
        kpi: target if target is not None else baseline(kpis, kpi)
        for kpi, target in targets.items()
    }
    return {kpi: target for kpi, target in chosen.items() if target is not None}


def scorecard(kpis: pd.DataFrame, targets: dict, tolerance: float = 0.10) -> pd.DataFrame:
    """The CRM KPI scorecard: latest value, trend, target and red/amber/green status.

    For each KPI with a target: its latest measured value (the last period
    with a value), the value of the period before, the change between them,
    and the status of :func:`rag_status` (lower is better for
    :data:`LOWER_IS_BETTER`).

    Parameters
    ----------
    kpis : DataFrame
        From :func:`kpi_table`.
    targets : dict
        KPI column -> target value, e.g. ``{"retention_rate": 0.6, "nps": 20}``.
    tolerance : float, default 0.10
        The amber band as a share of the target.

    Returns
    -------
    DataFrame
        Index kpi; columns label, period, value, previous, change, target,
        direction, status. KPIs the data do not measure show ``"no data"``.
    """
    unknown = sorted(set(targets) - set(KPI_LABELS))
    if unknown:
        raise CRMError(f"no KPI called {unknown[0]!r}; the KPIs: {', '.join(KPI_LABELS)}")
    rows = []
    for kpi, target in targets.items():
        series = kpis[kpi].dropna() if kpi in kpis.columns else pd.Series(dtype=float)
        latest = float(series.iloc[-1]) if len(series) else np.nan
        before = float(series.iloc[-2]) if len(series) > 1 else np.nan
        higher = kpi not in LOWER_IS_BETTER
        rows.append(
            {
                KPI: kpi,
                LABEL: KPI_LABELS[kpi],
                PERIOD: series.index[-1] if len(series) else pd.NaT,
                VALUE: latest,
                PREVIOUS: before,
                CHANGE: latest - before,
                TARGET: float(target) if target is not None else np.nan,
                DIRECTION: "higher is better" if higher else "lower is better",
                STATUS: rag_status(latest, target, tolerance, higher),
            }
        )
    columns = [KPI, LABEL, PERIOD, VALUE, PREVIOUS, CHANGE, TARGET, DIRECTION, STATUS]
    return pd.DataFrame(rows, columns=columns).set_index(KPI)


def value_after_survey(
    surveys: pd.DataFrame, transactions: pd.DataFrame, days: int = LAPSED_AFTER_DAYS, as_of=None
) -> pd.DataFrame:
    """What customers did after answering the survey, by NPS class: the link to money.

    For each answer at least ``days`` before ``as_of``: whether the customer
    bought again in the ``days`` after it (:func:`crmlib.analytics.experience.retention_after`)
    and the net revenue they brought in that time. Payne & Frow's
    performance assessment asks how customer measures drive shareholder
    results (Payne & Frow 2005); Reichheld (2003) claimed NPS predicts growth,
    Keiningham et al. (2007, *Journal of Marketing* 71(3)) found it no better
    than other measures: this table shows the association in the client's
    own data, not an effect.

    Returns
    -------
    DataFrame
        Index nps_class (promoters, passives, detractors); columns n,
        retained (share) and revenue_after (mean per answer).
    """
    _need(surveys, "surveys", (s.RESPONSE_ID, s.CUSTOMER_ID, s.DATE, s.NPS))
    when = _as_of(transactions, as_of)
    events = surveys.dropna(subset=[s.NPS, s.DATE]).assign(
        **{experience.NPS_CLASS: lambda f: experience.nps_class(f[s.NPS])}
    )
    retained = experience.retention_after(
        events, transactions, by=experience.NPS_CLASS, date=s.DATE, inactivity_days=days, as_of=when
    )
    judged = events.loc[events[s.DATE].dt.normalize() + pd.Timedelta(days=days) <= when]
    lines = transactions.loc[
        transactions[s.ORDER_DATE] <= when, [s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE]
    ]
    pairs = judged[[s.RESPONSE_ID, s.CUSTOMER_ID, s.DATE]].merge(lines, on=s.CUSTOMER_ID)
    start = pairs[s.DATE].dt.normalize()
    inside = (pairs[s.ORDER_DATE] > start) & (
        pairs[s.ORDER_DATE] <= start + pd.Timedelta(days=days)
    )
    revenue = pairs.loc[inside].groupby(s.RESPONSE_ID)[s.REVENUE].sum()
    per_answer = judged[s.RESPONSE_ID].map(revenue).fillna(0.0)
    mean = per_answer.groupby(judged[experience.NPS_CLASS].to_numpy()).mean()
    out = retained.copy()
    out[REVENUE_AFTER] = mean.reindex(out.index)
    order = [c for c in (experience.PROMOTERS, experience.PASSIVES, experience.DETRACTORS) if c in out.index]
    return out.loc[order]
