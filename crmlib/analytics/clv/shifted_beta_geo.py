"""The shifted-beta-geometric (sBG) model of contractual retention.

Fader, P. S., & Hardie, B. G. S. (2007). How to project customer retention.
*Journal of Interactive Marketing* 21(1), 76-90: each customer has a constant
churn probability theta per period, theta ~ Beta(alpha, beta) across
customers; the cohort's retention rate then rises with tenure because the
likely churners leave first.

Fader, P. S., & Hardie, B. G. S. (2010). Customer-base valuation in a
contractual setting: the perils of ignoring heterogeneity. *Marketing
Science* 29(1), 85-93: the discounted expected residual lifetime (DERL).

Fitted by maximum likelihood with :func:`scipy.optimize.minimize` (BFGS) on
the log of the parameters, from survivor counts per period (the paper's form);
:func:`survivors_from_subscriptions` builds them from a subscriptions table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from crmlib.analytics.clv._inputs import broadcast, wrap
from crmlib.analytics.clv.base import MaximumLikelihoodEstimator, maximise
from crmlib.data import schema as s
from crmlib.errors import DataError

_SBG_PARAMS = ("alpha", "beta")
_MONTHS_PER_PERIOD = {"M": 1, "Q": 3, "Y": 12}


def _cohorts(survivors) -> list[np.ndarray]:
    """Survivor counts as one array per cohort (trailing NaN dropped); DataError if invalid.

    A 1-D input (list, array, Series) is one cohort; a DataFrame or 2-D array
    holds one cohort per ROW (periods as columns), as
    :func:`survivors_from_subscriptions` returns it.
    """
    if isinstance(survivors, pd.DataFrame):
        rows = survivors.to_numpy(dtype=float)
    else:
        try:
            rows = np.asarray(survivors, dtype=float)
        except (TypeError, ValueError):
            raise DataError("ShiftedBetaGeo.fit: survivors must be numbers") from None
        if rows.ndim == 1:
            rows = rows[None, :]
    if rows.ndim != 2 or rows.size == 0:
        raise DataError("ShiftedBetaGeo.fit: survivors must be counts per period (1-D or 2-D)")
    out = []
    for row in rows:
        observed = ~np.isnan(row)
        k = int(np.argmin(observed)) if not observed.all() else row.size
        counts = row[:k]
        if observed[k:].any():
            raise DataError(
                "ShiftedBetaGeo.fit: survivors may be empty only at the end of a cohort"
            )
        if counts.size < 2:
            raise DataError(
                "ShiftedBetaGeo.fit: each cohort needs its start and at least one later period"
            )
        if (counts < 0).any() or (counts != np.round(counts)).any() or np.isinf(counts).any():
            raise DataError("ShiftedBetaGeo.fit: survivor counts must be whole numbers >= 0")
        if (np.diff(counts) > 0).any():
            raise DataError(
                "ShiftedBetaGeo.fit: survivor counts must not rise; they count the customers "
                "still active at the end of each period"
            )
        out.append(counts)
    return out


def _sbg_loglik(params, churned, last, n_last, gradient: bool = False):
    """sBG log-likelihood of the survivor counts, Fader & Hardie (2007).

    With P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta) the chance to
    churn in period t and S(t) = B(alpha, beta + t) / B(alpha, beta) to
    survive it::

        LL = sum_t churned_t ln P(T = t) + sum_cohorts n_last ln S(last)

    ``churned`` is summed over cohorts per period t = 1, 2, ... . With
    d lnB(a, b) / da = psi(a) - psi(a + b), the gradient follows term by term.
    """
    alpha, beta = params
    psi = special.digamma
    t = np.arange(1, churned.size + 1, dtype=float)
    ln_p = special.betaln(alpha + 1.0, beta + t - 1.0) - special.betaln(alpha, beta)
    ln_s = special.betaln(alpha, beta + last) - special.betaln(alpha, beta)
    total = float(churned @ ln_p + n_last @ ln_s)
    if not gradient:
        return total
    common_a = psi(alpha) - psi(alpha + beta)
    common_b = psi(beta) - psi(alpha + beta)
    d_p_a = psi(alpha + 1.0) - psi(alpha + beta + t) - common_a
    d_p_b = psi(beta + t - 1.0) - psi(alpha + beta + t) - common_b
    d_s_a = psi(alpha) - psi(alpha + beta + last) - common_a
    d_s_b = psi(beta + last) - psi(alpha + beta + last) - common_b
    grad = np.array([churned @ d_p_a + n_last @ d_s_a, churned @ d_p_b + n_last @ d_s_b])
    return total, grad


class ShiftedBetaGeo(MaximumLikelihoodEstimator):
    """Shifted-beta-geometric retention of a contractual cohort, Fader & Hardie (2007).

    Every customer renews each period until they churn, with a churn
    probability theta of their own, theta ~ Beta(alpha, beta). The cohort's
    survival and retention curves follow (Fader & Hardie 2007, section 2)::

        P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta),   t = 1, 2, ...
        S(t) = B(alpha, beta + t) / B(alpha, beta)
        r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)

    Parameters
    ----------
    tol : float, default 1e-8
        Gradient tolerance of the BFGS optimiser (on the mean negative
        log-likelihood per customer, with respect to the log parameters).
    maxiter : int, default 1000
        Iteration limit of the optimiser.

    Attributes
    ----------
    params_ : dict
        Fitted ``alpha`` and ``beta``.
    covariance_ : pandas.DataFrame
        Covariance of the estimates (inverse Hessian of the negative log-likelihood).
    summary_ : pandas.DataFrame
        Estimate, standard error and 95 % bounds of each parameter.
    log_likelihood_ : float
        Log-likelihood of the survivor counts at ``params_``.
    n_customers_ : int
        Customers at the start of the cohorts.
    n_iter_ : int
        Optimiser iterations.

    References
    ----------
    Fader, P. S., & Hardie, B. G. S. (2007). How to project customer
    retention. Journal of Interactive Marketing, 21(1), 76-90.

    Fader, P. S., & Hardie, B. G. S. (2010). Customer-base valuation in a
    contractual setting: the perils of ignoring heterogeneity. Marketing
    Science, 29(1), 85-93.

    Examples
    --------
    The paper's "regular" cohort, years 0-7:

    >>> model = ShiftedBetaGeo().fit([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> {k: round(v, 3) for k, v in model.params_.items()}
    {'alpha': 0.704, 'beta': 1.182}
    """

    _model = "sBG"
    _param_names = _SBG_PARAMS
    _default_tol = 1e-8

    def fit(self, survivors) -> ShiftedBetaGeo:
        """Fit alpha and beta by maximum likelihood from survivor counts.

        Parameters
        ----------
        survivors : array-like or pandas.DataFrame
            Customers still active at the end of periods 0, 1, 2, ... (period
            0: the cohort's size at the start). One cohort as a 1-D list,
            array or Series; several as a DataFrame (or 2-D array) with one
            cohort per row, empty (NaN) after its last observed period, as
            :func:`survivors_from_subscriptions` returns.

        Returns
        -------
        ShiftedBetaGeo
            ``self``, fitted.

        Raises
        ------
        crmlib.errors.DataError
            Counts that are negative, not whole, rising, or a cohort with
            fewer than two periods.
        """
        cohorts = _cohorts(survivors)
        width = max(c.size for c in cohorts) - 1
        churned = np.zeros(width)
        for c in cohorts:
            churned[: c.size - 1] += -np.diff(c)
        last = np.array([c.size - 1 for c in cohorts], dtype=float)
        n_last = np.array([c[-1] for c in cohorts])
        n = float(sum(c[0] for c in cohorts))
        if n == 0:
            raise DataError("ShiftedBetaGeo.fit: the cohorts have no customers")

        def objective(log_params):
            params = np.exp(log_params)
            ll, grad = _sbg_loglik(params, churned, last, n_last, gradient=True)
            return -ll / n, -grad / n * params

        result = maximise(objective, np.zeros(2), self.tol, self.maxiter, self._model)
        params = self._set_maximum_likelihood_fit(objective, result, n)
        self.log_likelihood_ = _sbg_loglik(params, churned, last, n_last)
        self.n_customers_ = int(n)
        return self

    def _periods(self, t, what: str):
        v, index, _ = broadcast(what, t=t)
        if (v["t"] < 0).any():
            raise DataError(f"{what}: the period t must not be negative")
        return v["t"], index

    def survival(self, t):
        """Share of the cohort still active at the end of period ``t`` (Fader & Hardie 2007).

        ``S(t) = B(alpha, beta + t) / B(alpha, beta)``; S(0) = 1.

        Returns
        -------
        float, numpy.ndarray or pandas.Series
        """
        alpha, beta = self._fitted_params().values()
        t, index = self._periods(t, "ShiftedBetaGeo.survival")
        return wrap(np.exp(special.betaln(alpha, beta + t) - special.betaln(alpha, beta)), index)

    def retention_rate(self, t):
        """Share of period ``t - 1``'s survivors who renew in period ``t`` (Fader & Hardie 2007).

        ``r(t) = (beta + t - 1) / (alpha + beta + t - 1)`` for t = 1, 2, ...

        Returns
        -------
        float, numpy.ndarray or pandas.Series
        """
        alpha, beta = self._fitted_params().values()
        t, index = self._periods(t, "ShiftedBetaGeo.retention_rate")
        if (t < 1).any():
            raise DataError("ShiftedBetaGeo.retention_rate: periods start at t = 1")
        return wrap((beta + t - 1.0) / (alpha + beta + t - 1.0), index)

    def discounted_expected_residual_lifetime(self, discount_rate, renewals=0):
        """DERL of a customer who has made ``renewals`` renewals, Fader & Hardie (2010).

        For a customer at the end of period n = renewals + 1 ("on the brink" of
        their next renewal), the expected number of further payments, the
        next one counted now and each later one discounted by (1 + d) per
        period::

            DERL(d | alpha, beta, n - 1 renewals)
                = sum_{k>=0} S(n + k) / S(n - 1) / (1 + d)**k
                = B(alpha, beta + n) / B(alpha, beta + n - 1)
                  * 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d))

        Multiply by the margin per period for the residual value of the customer.

        Parameters
        ----------
        discount_rate : float or array-like
            Discount rate d per period, > 0.
        renewals : int or array-like, default 0
            Renewals already made (0: a customer just acquired).

        Returns
        -------
        float, numpy.ndarray or pandas.Series
        """
        alpha, beta = self._fitted_params().values()
        what = "ShiftedBetaGeo.discounted_expected_residual_lifetime"
        v, index, _ = broadcast(what, discount_rate=discount_rate, renewals=renewals)
        d, renewals = v["discount_rate"], v["renewals"]
        if (d <= 0).any():
            raise DataError(f"{what}: the discount rate must be positive")
        if (renewals < 0).any() or (renewals != np.round(renewals)).any():
            raise DataError(f"{what}: renewals must be whole numbers >= 0")
        n = renewals + 1.0
        ratio = (beta + n - 1.0) / (alpha + beta + n - 1.0)  # B(a, b + n) / B(a, b + n - 1)
        return wrap(ratio * special.hyp2f1(1.0, beta + n, alpha + beta + n, 1.0 / (1.0 + d)), index)


def elapsed_periods(start: pd.Series, end: pd.Series, months: int) -> np.ndarray:
    """Whole periods of ``months`` months from ``start`` to ``end`` (calendar months)."""
    total = (end.dt.year - start.dt.year) * 12 + (end.dt.month - start.dt.month)
    total = total - (end.dt.day < start.dt.day).astype(int)
    return (total // months).to_numpy(dtype=int)


def survivors_from_subscriptions(
    table: pd.DataFrame, period: str = "Y", as_of=None
) -> pd.DataFrame:
    """Survivor counts per start cohort from a subscriptions table, for :meth:`ShiftedBetaGeo.fit`.

    A subscription's tenure is the number of whole periods from its
    ``start_date`` to its ``end_date`` (or to ``as_of`` while ``end_date`` is
    empty: still active). Subscriptions are grouped into cohorts by the
    calendar period of their start; a cohort is observed for the whole
    periods from its LAST start to ``as_of``, so that each of its members was
    watched that long, and its survivors at the end of period k are the
    members with a tenure of at least k.

    Parameters
    ----------
    table : pandas.DataFrame
        ``customer_id``, ``start_date``, ``end_date`` (empty while active).
    period : {"Y", "Q", "M"}, default "Y"
        The renewal period: year, quarter or month.
    as_of : date-like, optional
        End of observation; default the latest start or end date in the table.
        An end date after it counts as still active; a start after it is left out.

    Returns
    -------
    pandas.DataFrame
        One row per cohort (indexed by its start period, ``cohort``), columns
        0, 1, ... (periods); survivors, empty after the cohort's last observed
        period. Cohorts observed for less than one whole period are left out.

    Raises
    ------
    crmlib.errors.DataError
        A column is missing, a date is not a date, an end before its start,
        or an unknown period.
    """
    what = "survivors_from_subscriptions"
    if period not in _MONTHS_PER_PERIOD:
        raise DataError(
            f"{what}: period must be one of {sorted(_MONTHS_PER_PERIOD)}, not {period!r}"
        )
    missing = [c for c in (s.CUSTOMER_ID, s.START_DATE, s.END_DATE) if c not in table.columns]
    if missing:
        raise DataError(
            f"{what}: the table has no column(s) {', '.join(map(repr, missing))}", column=missing[0]
        )
    start = pd.to_datetime(table[s.START_DATE], errors="coerce")
    end = pd.to_datetime(table[s.END_DATE], errors="coerce")
    if start.isna().any():
        raise DataError(
            f"{what}: {int(start.isna().sum())} start_date value(s) are empty or not dates",
            column=s.START_DATE,
        )
    if (end.isna() != table[s.END_DATE].isna()).any():
        raise DataError(f"{what}: some end_date values are not dates", column=s.END_DATE)
    if (end < start).any():
        raise DataError(
            f"{what}: {int((end < start).sum())} subscription(s) end before they start",
            column=s.END_DATE,
        )
    if as_of is None:
        as_of = pd.concat([start, end]).max()  # NaT (still active) is skipped
    as_of = pd.Timestamp(as_of)
    started = start <= as_of  # a subscription starting later is not observed yet
    start, end = start[started], end[started]
    months = _MONTHS_PER_PERIOD[period]
    stop = end.where(end.notna() & (end <= as_of), as_of)
    tenure = elapsed_periods(start, stop, months)
    cohort = start.dt.to_period(period)
    rows = {}
    for key, members in pd.Series(tenure, index=start.index).groupby(cohort.to_numpy()):
        window = int(
            elapsed_periods(pd.Series([start[members.index].max()]), pd.Series([as_of]), months)[0]
        )
        if window < 1:
            continue
        rows[key] = [int((members >= k).sum()) for k in range(window + 1)]
    width = max((len(r) for r in rows.values()), default=0)
    return pd.DataFrame(
        [r + [np.nan] * (width - len(r)) for r in rows.values()],
        index=pd.Index(list(rows), name="cohort"),
        columns=range(width),
    )
