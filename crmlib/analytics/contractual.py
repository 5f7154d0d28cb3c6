"""The contractual setting: which setting a client is in, and the value of its subscribers.

Schmittlein, Morrison & Colombo (1987) and Fader & Hardie (2009, "Probability
models for customer-base analysis", *Journal of Interactive Marketing* 23(1))
sort customer bases by whether a customer's leaving is observed. In a
**non-contractual** setting (a shop) nobody says they have left: the
BG/NBD and Pareto/NBD models infer it from silence. In a **contractual**
setting (a subscription) the end of the contract says it, and the
shifted-beta-geometric model (sBG, Fader & Hardie 2007) describes how long
contracts last.

- :func:`customer_setting` and :func:`setting_sentence`: which setting the
  client data describe, and why, in one sentence.
- :func:`contractual_value`: per plan, the sBG fitted on the plan's survivor
  counts (:func:`crmlib.analytics.clv.survivors_from_subscriptions`), its
  retention curve against the observed one, and the value of the active
  subscribers, price x discounted expected residual lifetime (DERL, Fader &
  Hardie 2010, "Customer-base valuation in a contractual setting: the perils of
  ignoring heterogeneity", *Marketing Science* 29(1)).
- :func:`geometric_residual_lifetime`: the same residual lifetime under one
  constant retention rate, the model F&H (2010) compare it with.
- :func:`horizon_payments`: the expected, discounted payments of an active
  subscriber over the next ``horizon_months`` (month by month, as the
  non-contractual CLV of :class:`crmlib.analytics.clv.CLVPipeline`), which
  :func:`contractual_value` turns into each subscriber's margin over the
  horizon: the basis of the value at stake (:mod:`crmlib.analytics.stakes`).
- :func:`at_risk_subscribers`: the active subscriptions most likely to be
  cancelled at their next renewal.
- :func:`section_state`: whether a lesson's subscriber section can run (no
  subscriptions table, columns missing, or ready), with its sentence.

The subscriptions table (optional in the data contract): ``subscription_id``,
``customer_id``, ``plan``, ``start_date``, ``end_date`` (empty while active),
``price`` (per period) and ``period`` ("month" or "year", optional).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from crmlib.analytics import requirements
from crmlib.analytics.clv import ShiftedBetaGeo, annual_to_monthly_rate
from crmlib.analytics.clv.shifted_beta_geo import elapsed_periods, survivors_from_subscriptions
from crmlib.analytics.clv.value import check_horizon_months
from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

# The subscriptions table and its columns: the data contract's names.
SUBSCRIPTIONS = "subscriptions"
SUBSCRIPTION_ID, PLAN, PRICE, PERIOD = s.SUBSCRIPTION_ID, s.PLAN, s.PRICE, s.PERIOD
MONTH, YEAR = s.PERIODS
#: The columns :func:`contractual_value` needs (an empty end date: still active).
NEEDED = (s.CUSTOMER_ID, s.START_DATE, s.END_DATE, s.PRICE)
#: survivors_from_subscriptions' period code of each billing period.
PERIOD_CODES = {MONTH: "M", YEAR: "Y"}
#: Periods of each billing period in twelve months.
PERIODS_PER_YEAR = {MONTH: 12, YEAR: 1}

# The settings.
NON_CONTRACTUAL = "non-contractual"
CONTRACTUAL = "contractual"
BOTH = "contractual and non-contractual"

# Columns of ContractualValue.plans.
SUBSCRIPTIONS_HELD = "subscriptions"
ACTIVE = "active"
ALPHA, ALPHA_SE, BETA, BETA_SE = "alpha", "alpha_se", "beta", "beta_se"
LOG_LIKELIHOOD = "log_likelihood"
DISCOUNT_RATE = "discount_rate"  # per period
MEAN_DERL = "mean_derl"
RETAINED_12M = "retained_12m"
CONTRACTUAL_CLV = "contractual_clv"
HORIZON_CLV = "horizon_clv"  # margin of the active subscribers over the horizon
# Columns of ContractualValue.retention (one row per plan and period t).
T = "t"
OBSERVED_RETENTION = "observed_retention"
SBG_RETENTION = "sbg_retention"
OBSERVED_SURVIVAL = "observed_survival"
SBG_SURVIVAL = "sbg_survival"
# Columns of ContractualValue.active (one row per active subscription).
RENEWALS = "renewals"
DERL = "derl"
VALUE = "value"
NEXT_RETENTION = "next_retention"  # r(n + 1): the chance to renew at the next renewal
HORIZON_MARGIN = "horizon_margin"  # margin share x price x horizon_payments

#: The margin share of a subscription's price when none is given: 1, the price itself (revenue).
SUBSCRIPTION_MARGIN_SHARE = 1.0
#: The share of active subscriptions :func:`at_risk_subscribers` returns by default.
AT_RISK_SHARE = 0.2


# The states of a subscriber section (SectionState.status).
NO_TABLE = "no subscriptions table"
MISSING_COLUMNS = "missing columns"
READY = "ready"


@dataclass(frozen=True)
class SectionState:
    """Whether a lesson's subscriber section can run, from :func:`section_state`.

    Attributes
    ----------
    status : str
        :data:`NO_TABLE` (the client is non-contractual: it lacks nothing, say
        the sentence), :data:`MISSING_COLUMNS` (the section is not assessed:
        record it, e.g. with ``Sections.skip(section, missing, sentence)``) or
        :data:`READY` (fit).
    missing : list of str
        The missing pieces, ``subscriptions`` or ``subscriptions.<column>``.
    sentence : str
        What to say when the section does not run ("" when ready).
    """

    status: str
    missing: list = field(default_factory=list)
    sentence: str = ""

    @property
    def ready(self) -> bool:
        """True when the section can fit its models."""
        return self.status == READY


def section_state(data, section: str) -> SectionState:
    """The three-way guard of a subscriber section: no table, missing columns, or ready.

    Parameters
    ----------
    data : crmlib.data.io.ClientData
        The client data (``has``, ``tables``).
    section : str
        The section's name, as the sentence says it (e.g. "lifetime value of
        subscribers (sBG)").

    Returns
    -------
    SectionState
        Without a subscriptions table: :data:`NO_TABLE` and "Not assessed:
        <section>, for lack of the subscriptions table." (said, not listed as
        not assessed: a client without subscriptions lacks nothing). With a
        table that lacks a column of :data:`NEEDED`: :data:`MISSING_COLUMNS`,
        the pieces and "Not assessed: <section>, for lack of the
        subscriptions' <columns>.". Otherwise :data:`READY`.
    """
    if not data.has(SUBSCRIPTIONS):
        return SectionState(
            NO_TABLE,
            [SUBSCRIPTIONS],
            requirements.sentence(section, [([SUBSCRIPTIONS], "the subscriptions table")]),
        )
    lacking = [c for c in NEEDED if c not in data.tables[SUBSCRIPTIONS]]
    if lacking:
        return SectionState(
            MISSING_COLUMNS,
            [f"{SUBSCRIPTIONS}.{c}" for c in lacking],
            f"Not assessed: {section}, for lack of the subscriptions' {', '.join(lacking)}.",
        )
    return SectionState(READY)


def _setting_counts(data) -> tuple[int, int]:
    """(customers holding a subscription, buyers holding none) in the client data."""
    buyers = set(data.transactions[s.CUSTOMER_ID].dropna()) if data.has("transactions") else set()
    if not data.has(SUBSCRIPTIONS):
        return 0, len(buyers)
    table = data.tables[SUBSCRIPTIONS]
    as_of = getattr(data, "as_of", None)
    if as_of is not None and s.START_DATE in table.columns:
        table = table[pd.to_datetime(table[s.START_DATE], errors="coerce") <= pd.Timestamp(as_of)]
    subscribers = set(table[s.CUSTOMER_ID].dropna())
    return len(subscribers), len(buyers - subscribers)


def customer_setting(data) -> str:
    """Which setting the client's customers are in (Fader & Hardie 2009).

    - ``"non-contractual"``: purchases only (no subscriptions table, or no
      subscription started by the as-of date): a customer's leaving is never
      observed;
    - ``"contractual"``: every customer holds a subscription (their
      purchases, if any, are made while under contract): leaving is observed
      as the end of a contract;
    - ``"contractual and non-contractual"``: subscribers, and buyers who
      hold no subscription.

    Parameters
    ----------
    data : crmlib.data.io.ClientData
        The client data (``tables``, ``has``, ``as_of``).

    Returns
    -------
    str
        One of :data:`NON_CONTRACTUAL`, :data:`CONTRACTUAL`, :data:`BOTH`.
    """
    subscribers, buyers_without = _setting_counts(data)
    if subscribers == 0:
        return NON_CONTRACTUAL
    return CONTRACTUAL if buyers_without == 0 else BOTH


def setting_sentence(data) -> str:
    """One sentence: the client's setting (:func:`customer_setting`) and why."""
    subscribers, buyers_without = _setting_counts(data)
    setting = customer_setting(data)
    if setting == NON_CONTRACTUAL:
        return (
            f"The client is in the non-contractual setting: {buyers_without:,} customers buy "
            "without a contract (the data hold no subscriptions), so a customer's leaving is "
            "never observed, only inferred from silence (BG/NBD)."
        )
    if setting == CONTRACTUAL:
        return (
            f"The client is in the contractual setting: all {subscribers:,} customers hold a "
            "subscription, so a customer's leaving is observed as the end of a contract (sBG)."
        )
    return (
        f"The client is in both settings: {subscribers:,} customers hold a subscription (leaving "
        f"observed as a contract's end: sBG) and {buyers_without:,} buy without one (leaving "
        "inferred from silence: BG/NBD)."
    )


def geometric_residual_lifetime(retention, discount_rate):
    """DERL under one constant retention rate r, Fader & Hardie (2010, eq. 2).

    A customer on the brink of renewal, the next payment counted now::

        DERL = sum_{k>=0} r**(k+1) / (1 + d)**k = r (1 + d) / (1 + d - r)

    (Gupta & Lehmann's margin multiple r / (1 + d - r) times 1 + d, as the first
    payment is not discounted.) F&H (2010) show that with heterogeneous churn
    this undervalues the base: the sBG's DERL is larger.

    Parameters
    ----------
    retention : float or array-like
        Retention rate per period, 0 <= r < 1 + d.
    discount_rate : float
        Discount rate per period.

    Returns
    -------
    float or numpy.ndarray
    """
    r = np.asarray(retention, dtype=float)
    d = float(discount_rate)
    if (r < 0).any() or (r >= 1 + d).any():
        raise DataError("geometric_residual_lifetime: the retention rate must be in [0, 1 + d)")
    out = r * (1.0 + d) / (1.0 + d - r)
    return float(out) if out.ndim == 0 else out


def horizon_payments(
    model: ShiftedBetaGeo,
    renewals,
    first_month,
    months_per_period: int,
    horizon_months: int,
    monthly_rate: float,
):
    """Expected discounted payments of an active subscriber over the next ``horizon_months``.

    A subscriber who has made n renewals (held the plan n whole periods of L
    months) renews for the k-th time from now in month m_k = m_1 + (k - 1) L
    from now (m_1 in 1 .. L: the month their current period ends), with
    probability S(n + k) / S(n) under the plan's sBG (Fader & Hardie 2007,
    survival S(t) = B(alpha, beta + t) / B(alpha, beta); the retention rates
    by period multiplied, Fader & Hardie 2010). Each payment is discounted at
    the end of its month, as the non-contractual CLV discounts each month's
    purchases::

        P = sum over k >= 1 with m_k <= H of S(n + k) / S(n) / (1 + d)**m_k

    For a monthly plan (L = 1, m_k = k) this is the first H terms of the DERL
    one month later: P = (DERL(n) - S(n + H) / S(n) (1 + d)**-H DERL(n + H)) / (1 + d),
    which tends to DERL(n) / (1 + d) as H grows (Fader & Hardie 2010 count the
    next payment now; here it is paid within the month).

    Parameters
    ----------
    model : ShiftedBetaGeo
        The plan's fitted model (per billing period).
    renewals : int or array-like
        n, whole periods held.
    first_month : int or array-like
        m_1, the month from now (1 .. L) of the next renewal.
    months_per_period : int
        L: 1 (monthly) or 12 (yearly) billing.
    horizon_months : int
        H, at least 1.
    monthly_rate : float
        d, the monthly discount rate (:func:`crmlib.analytics.clv.annual_to_monthly_rate`).

    Returns
    -------
    numpy.ndarray
        One value per subscriber.
    """
    alpha, beta = (model.params_[k] for k in ("alpha", "beta"))
    n = np.atleast_1d(np.asarray(renewals, dtype=float))
    first = np.broadcast_to(np.asarray(first_month, dtype=float), n.shape)
    check_horizon_months(horizon_months)
    if ((first < 1) | (first > months_per_period)).any():
        raise DataError("horizon_payments: the next renewal falls within the current period")
    k = np.arange(1, math.ceil(horizon_months / months_per_period) + 1, dtype=float)
    month = first[:, None] + (k[None, :] - 1.0) * months_per_period
    kept = np.exp(
        special.betaln(alpha, beta + n[:, None] + k[None, :])
        - special.betaln(alpha, beta + n)[:, None]
    )
    terms = np.where(month <= horizon_months, kept / (1.0 + monthly_rate) ** month, 0.0)
    return terms.sum(axis=1)


@dataclass(frozen=True)
class ContractualValue:
    """What :func:`contractual_value` returns.

    Attributes
    ----------
    plans : pandas.DataFrame
        One row per plan (index ``plan``): ``period`` (billing period),
        ``subscriptions``, ``active`` (at the as-of date), ``alpha``,
        ``alpha_se``, ``beta``, ``beta_se``, ``log_likelihood``,
        ``discount_rate`` (per period), ``mean_derl`` (over the active
        subscribers), ``retained_12m`` (expected share of the active
        subscribers still subscribed in twelve months) and
        ``contractual_clv`` (sum over the active subscribers of price x DERL)
        and ``horizon_clv`` (sum of their ``horizon_margin``).
        A plan the sBG cannot be fitted on has NaN figures (see ``not_valued``).
    retention : pandas.DataFrame
        One row per plan and period t = 1 .. horizon: ``observed_retention``
        (survivors at t over survivors at t - 1, pooled over the cohorts
        observed at t), ``sbg_retention`` r(t), ``observed_survival`` (the
        product of the observed retention) and ``sbg_survival`` S(t).
    active : pandas.DataFrame
        One row per active subscription: ``plan``, ``customer_id``, ``price``,
        ``renewals`` (whole periods held), ``derl``, ``value`` (price x DERL),
        ``next_retention`` (r(n + 1), the sBG chance to renew at the next
        renewal) and ``horizon_margin`` (margin share x price x
        :func:`horizon_payments`: the expected margin over the horizon,
        discounted monthly).
    models : dict of str to ShiftedBetaGeo
        The fitted model of each plan valued.
    not_valued : dict of str to str
        Plans left out, with the reason in one sentence.
    as_of : pandas.Timestamp
    annual_discount_rate : float
    horizon_months : int
    margin_share : float
        The share of a subscription's price that is margin.
    """

    plans: pd.DataFrame
    retention: pd.DataFrame
    active: pd.DataFrame
    models: dict = field(default_factory=dict)
    not_valued: dict = field(default_factory=dict)
    as_of: pd.Timestamp | None = None
    annual_discount_rate: float = 0.10
    horizon_months: int = 12
    margin_share: float = SUBSCRIPTION_MARGIN_SHARE

    @property
    def total(self) -> float | None:
        """Contractual CLV of the active base, all plans valued; None when none was."""
        values = self.plans[CONTRACTUAL_CLV].dropna()
        return float(values.sum()) if len(values) else None

    @property
    def horizon_total(self) -> float | None:
        """Margin of the active subscribers over the horizon, all plans valued; None when none was."""
        values = self.plans[HORIZON_CLV].dropna()
        return float(values.sum()) if len(values) else None

    @property
    def active_subscribers(self) -> int:
        """Active subscriptions at the as-of date, all plans."""
        return int(self.plans[ACTIVE].sum())

    @property
    def retained_12m(self) -> float | None:
        """Expected share of the active subscribers of the plans valued still subscribed in 12 months."""
        valued = self.plans[self.plans[RETAINED_12M].notna()]
        if not valued[ACTIVE].sum():
            return None
        return float((valued[RETAINED_12M] * valued[ACTIVE]).sum() / valued[ACTIVE].sum())


def _billing_periods(table: pd.DataFrame, default_period: str) -> pd.Series:
    if PERIOD not in table.columns:
        return pd.Series(default_period, index=table.index)
    period = table[PERIOD].astype("string").str.strip().str.lower()
    period = period.fillna(default_period)
    unknown = sorted(set(period) - set(PERIOD_CODES))
    if unknown:
        raise DataError(
            f"contractual_value: period must be {MONTH!r} or {YEAR!r}, not {unknown[0]!r}",
            column=PERIOD,
        )
    return period.astype(str)


def _observed_retention(survivors: pd.DataFrame) -> pd.Series:
    """Pooled retention by period t: sum of survivors at t / sum at t - 1, cohorts seen at t."""
    out = {}
    for t in survivors.columns[1:]:
        seen = survivors[t].notna()
        before = survivors.loc[seen, t - 1].sum()
        out[t] = survivors.loc[seen, t].sum() / before if before > 0 else np.nan
    return pd.Series(out, dtype=float)


def contractual_value(
    subscriptions: pd.DataFrame,
    as_of,
    annual_discount_rate: float = 0.10,
    default_period: str = MONTH,
    horizon: int | None = None,
    horizon_months: int = 12,
    margin_share: float = SUBSCRIPTION_MARGIN_SHARE,
) -> ContractualValue:
    """Per plan: sBG retention and the contractual CLV of the active subscribers.

    For each plan (and billing period), the shifted-beta-geometric model
    (:class:`crmlib.analytics.clv.ShiftedBetaGeo`, Fader & Hardie 2007) is
    fitted by maximum likelihood on the plan's survivor counts per start
    cohort (:func:`crmlib.analytics.clv.survivors_from_subscriptions`). An
    active subscriber who has held the plan for n whole periods (n renewals)
    is worth, Fader & Hardie (2010)::

        value = price x DERL(d | alpha, beta, n renewals)
        DERL  = sum_{k>=0} S(n + 1 + k) / S(n) / (1 + d)**k
              = B(alpha, beta + n + 1) / B(alpha, beta + n)
                x 2F1(1, beta + n + 1; alpha + beta + n + 1; 1 / (1 + d))

    (:meth:`ShiftedBetaGeo.discounted_expected_residual_lifetime`): the
    payments still to come, the next renewal's counted now, the current
    period's already paid. d is the discount rate per billing period:
    (1 + annual)**(1/12) - 1 for monthly plans, the annual rate for yearly
    ones. The contractual CLV of the active base is the sum over the active
    subscribers, per plan and in total. It is a value of revenue (the price),
    not of margin.

    On the basis of the value at stake (:mod:`crmlib.analytics.stakes`: margin
    over one horizon, discounted monthly), each active subscriber is also worth
    ``horizon_margin`` = margin share x price x :func:`horizon_payments` (the
    payments expected in the next ``horizon_months``, the annual rate turned
    monthly), summed per plan as ``horizon_clv``.

    Parameters
    ----------
    subscriptions : pandas.DataFrame
        ``customer_id``, ``start_date``, ``end_date`` (empty while active),
        ``price`` (per period); ``plan`` (absent: one plan, "all") and
        ``period`` ("month" or "year"; absent or empty: ``default_period``).
    as_of : date-like
        The valuation date: a subscription is active when it started by then
        and has no end date, or one after it.
    annual_discount_rate : float, default 0.10
        The cost of capital, a year.
    default_period : {"month", "year"}, default "month"
        The billing period of rows that do not state one.
    horizon : int, optional
        Periods of the retention curve; default twice the longest observed.
    horizon_months : int, default 12
        The horizon of ``horizon_margin``.
    margin_share : float, default 1.0
        The share of a subscription's price that is margin, 0 to 1. The default
        1 values revenue; the lessons pass their ``subscription_margin_share``
        parameter or, when it is empty, the client's product margin share
        (:func:`crmlib.analytics.clv.margin_share` of the purchases, the share
        the non-contractual CLV uses).

    Returns
    -------
    ContractualValue

    Raises
    ------
    crmlib.errors.DataError
        A required column is missing, a price is negative, an unknown period,
        or dates :func:`survivors_from_subscriptions` rejects.
    """
    what = "contractual_value"
    missing = [c for c in NEEDED if c not in subscriptions]
    if missing:
        raise DataError(
            f"{what}: the subscriptions have no column(s) {', '.join(map(repr, missing))}",
            column=missing[0],
        )
    if default_period not in PERIOD_CODES:
        raise DataError(f"{what}: default_period must be {MONTH!r} or {YEAR!r}")
    if not (np.isfinite(margin_share) and 0 <= margin_share <= 1):
        raise CRMError(
            f"{what}: margin_share is a share of the price, 0 to 1, not {margin_share!r}"
        )
    monthly_rate = annual_to_monthly_rate(annual_discount_rate)
    as_of = pd.Timestamp(as_of)
    table = subscriptions.copy()
    table[s.START_DATE] = pd.to_datetime(table[s.START_DATE], errors="coerce")
    table[s.END_DATE] = pd.to_datetime(table[s.END_DATE], errors="coerce")
    table[PRICE] = pd.to_numeric(table[PRICE], errors="coerce")
    if (table[PRICE] < 0).any():
        raise DataError(f"{what}: a subscription's price must not be negative", column=PRICE)
    period = _billing_periods(table, default_period)
    plan = table[PLAN].astype("string").fillna("(no plan)") if PLAN in table else "all"
    table[PLAN] = plan
    table[PERIOD] = period
    mixed = table.groupby(PLAN)[PERIOD].transform("nunique") > 1
    table.loc[mixed, PLAN] = table.loc[mixed, PLAN] + " (" + table.loc[mixed, PERIOD] + ")"

    plan_rows, curves, actives, models, not_valued = [], [], [], {}, {}
    for name, rows in table.groupby(PLAN, sort=True):
        billing = rows[PERIOD].iloc[0]
        d = (
            annual_to_monthly_rate(annual_discount_rate)
            if billing == MONTH
            else float(annual_discount_rate)
        )
        started = rows[rows[s.START_DATE] <= as_of]
        is_active = started[s.END_DATE].isna() | (started[s.END_DATE] > as_of)
        active = started[is_active]
        renewals = elapsed_periods(
            active[s.START_DATE],
            pd.Series(as_of, index=active.index),
            12 // PERIODS_PER_YEAR[billing],
        )
        row = {PLAN: name, PERIOD: billing, SUBSCRIPTIONS_HELD: len(rows), ACTIVE: len(active)}
        row.update(dict.fromkeys([ALPHA, ALPHA_SE, BETA, BETA_SE, LOG_LIKELIHOOD], np.nan))
        row.update({DISCOUNT_RATE: d, MEAN_DERL: np.nan, RETAINED_12M: np.nan})
        row[CONTRACTUAL_CLV] = row[HORIZON_CLV] = np.nan
        survivors = survivors_from_subscriptions(rows, period=PERIOD_CODES[billing], as_of=as_of)
        each = pd.DataFrame(
            {
                PLAN: name,
                s.CUSTOMER_ID: active[s.CUSTOMER_ID].to_numpy(),
                PRICE: active[PRICE].to_numpy(),
                RENEWALS: renewals,
                DERL: np.nan,
                VALUE: np.nan,
                NEXT_RETENTION: np.nan,
                HORIZON_MARGIN: np.nan,
            }
        )
        reason = None
        if survivors.empty:
            reason = f"no start cohort of plan {name} has been watched for a whole {billing} yet"
        elif np.nansum(survivors[0] - survivors.ffill(axis=1).iloc[:, -1]) == 0:
            reason = f"no subscriber of plan {name} has left yet, so its churn cannot be estimated"
        if reason is not None:
            not_valued[name] = reason
            plan_rows.append(row)
            actives.append(each)
            continue
        model = ShiftedBetaGeo().fit(survivors)
        models[name] = model
        table_ = model.summary_
        row.update(
            {
                ALPHA: model.params_["alpha"],
                BETA: model.params_["beta"],
                ALPHA_SE: table_.loc["alpha", "standard_error"],
                BETA_SE: table_.loc["beta", "standard_error"],
                LOG_LIKELIHOOD: model.log_likelihood_,
            }
        )
        if len(each):
            each[DERL] = np.asarray(
                model.discounted_expected_residual_lifetime(d, renewals), dtype=float
            )
            each[VALUE] = each[PRICE] * each[DERL]
            each[NEXT_RETENTION] = np.asarray(model.retention_rate(renewals + 1), dtype=float)
            length = 12 // PERIODS_PER_YEAR[billing]  # months per billing period
            held = elapsed_periods(active[s.START_DATE], pd.Series(as_of, index=active.index), 1)
            payments = horizon_payments(
                model,
                renewals,
                length * (renewals + 1) - held,
                length,
                horizon_months,
                monthly_rate,
            )
            each[HORIZON_MARGIN] = margin_share * each[PRICE].to_numpy(dtype=float) * payments
            k = PERIODS_PER_YEAR[billing]
            kept = np.asarray(model.survival(renewals + k), dtype=float) / np.asarray(
                model.survival(renewals), dtype=float
            )
            row[MEAN_DERL] = float(each[DERL].mean())
            row[RETAINED_12M] = float(kept.mean())
            if each[PRICE].isna().any():
                not_valued[name] = (
                    f"{int(each[PRICE].isna().sum()):,} active subscriptions of plan {name} "
                    "have no price"
                )
            else:
                row[CONTRACTUAL_CLV] = float(each[VALUE].sum())
                row[HORIZON_CLV] = float(each[HORIZON_MARGIN].sum())
        else:
            # valued: no active subscriber is worth nothing more
            row[CONTRACTUAL_CLV] = row[HORIZON_CLV] = 0.0
        plan_rows.append(row)
        actives.append(each)
        width = survivors.shape[1] - 1
        periods = np.arange(1, (horizon or 2 * width) + 1)
        observed = _observed_retention(survivors).reindex(periods)
        curves.append(
            pd.DataFrame(
                {
                    PLAN: name,
                    T: periods,
                    OBSERVED_RETENTION: observed.to_numpy(),
                    SBG_RETENTION: np.asarray(model.retention_rate(periods), dtype=float),
                    OBSERVED_SURVIVAL: observed.cumprod(skipna=False).to_numpy(),
                    SBG_SURVIVAL: np.asarray(model.survival(periods), dtype=float),
                }
            )
        )
    columns = [PLAN, T, OBSERVED_RETENTION, SBG_RETENTION, OBSERVED_SURVIVAL, SBG_SURVIVAL]
    each_columns = [
        PLAN,
        s.CUSTOMER_ID,
        PRICE,
        RENEWALS,
        DERL,
        VALUE,
        NEXT_RETENTION,
        HORIZON_MARGIN,
    ]
    plan_columns = [
        PLAN,
        PERIOD,
        SUBSCRIPTIONS_HELD,
        ACTIVE,
        ALPHA,
        ALPHA_SE,
        BETA,
        BETA_SE,
        LOG_LIKELIHOOD,
        DISCOUNT_RATE,
        MEAN_DERL,
        RETAINED_12M,
        CONTRACTUAL_CLV,
        HORIZON_CLV,
    ]
    return ContractualValue(
        plans=pd.DataFrame(plan_rows, columns=plan_columns).set_index(PLAN),
        retention=pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=columns),
        active=pd.concat(actives, ignore_index=True)
        if actives
        else pd.DataFrame(columns=each_columns),
        models=models,
        not_valued=not_valued,
        as_of=as_of,
        annual_discount_rate=float(annual_discount_rate),
        horizon_months=int(horizon_months),
        margin_share=float(margin_share),
    )


def at_risk_subscribers(value: ContractualValue, share: float = AT_RISK_SHARE) -> pd.DataFrame:
    """The active subscriptions most likely to be cancelled at their next renewal.

    Ranks the valued active subscriptions of ``value.active`` by their chance
    to cancel at the next renewal, 1 - r(n + 1) of their plan's sBG at their
    tenure (Fader & Hardie 2007: within a plan the newest subscribers, as the
    likely churners leave first), then by ``horizon_margin``, and returns the
    first ``share`` of them (rounded up).

    Parameters
    ----------
    value : ContractualValue
        From :func:`contractual_value`.
    share : float, default 0.2
        The share of the valued active subscriptions, in (0, 1].

    Returns
    -------
    pandas.DataFrame
        Rows of ``value.active`` (all its columns), most at risk first.
    """
    if not 0 < share <= 1:
        raise CRMError(f"at_risk_subscribers: share is a share in (0, 1], not {share!r}")
    valued = value.active.dropna(subset=[NEXT_RETENTION, HORIZON_MARGIN])
    ranked = valued.assign(_risk=1.0 - valued[NEXT_RETENTION]).sort_values(
        ["_risk", HORIZON_MARGIN], ascending=False, kind="stable"
    )
    return ranked.head(math.ceil(share * len(ranked))).drop(columns="_risk")
