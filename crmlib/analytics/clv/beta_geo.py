"""The BG/NBD model of repeat purchasing: Fader, Hardie & Lee (2005a).

Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005a). "Counting your customers"
the easy way: An alternative to the Pareto/NBD model. *Marketing Science*
24(2), 275-284. Equation numbers below are the paper's.

Fitted by maximum likelihood with :func:`scipy.optimize.minimize` (BFGS) on
the log of the parameters, with the analytic gradient derived in
:func:`_bgnbd_loglik`. Customers with identical (frequency, recency, T) are
compressed into one weighted row first (a pandas groupby): with recency and T
in whole days, a base of 1 M customers becomes about a quarter of a million
rows. The model works in whatever unit ``recency`` and ``T`` were measured in
(days or weeks); ``alpha`` scales with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from crmlib.analytics.clv._inputs import broadcast, btyd_rows, check_btyd, wrap
from crmlib.analytics.clv.base import PenalizedEstimator, maximise
from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

_BG_PARAMS = ("r", "alpha", "a", "b")


def _dot(weights: np.ndarray, values: np.ndarray) -> float:
    """Weighted sum without BLAS (whose threads only add overhead on one vector)."""
    return float(np.add.reduce(weights * values))


@dataclass(frozen=True)
class _BGNBDData:
    """Compressed BG/NBD input, split for :func:`_bgnbd_loglik`.

    Customers without repeat purchases (x = 0) contribute only A1, A2 and A3,
    which depend on T alone; repeat buyers are kept row by row. Terms of x
    alone are evaluated per distinct x, weighted by its number of customers.
    """

    T0: np.ndarray  # ages of the x = 0 rows
    weight0: np.ndarray
    x: np.ndarray  # the repeat buyers' rows (x > 0)
    tx: np.ndarray
    T: np.ndarray
    weight: np.ndarray
    x_index: np.ndarray  # position of each repeat row's x in distinct_x
    distinct_x: np.ndarray  # every distinct x, 0 included
    weight_of_x: np.ndarray

    @classmethod
    def build(cls, x, tx, T, weight=None) -> _BGNBDData:
        x, tx, T = (np.asarray(v, dtype=float).ravel() for v in (x, tx, T))
        weight = np.ones_like(x) if weight is None else np.asarray(weight, dtype=float).ravel()
        distinct_x, inverse = np.unique(x, return_inverse=True)
        repeat = x > 0
        return cls(
            T0=T[~repeat],
            weight0=weight[~repeat],
            x=x[repeat],
            tx=tx[repeat],
            T=T[repeat],
            weight=weight[repeat],
            x_index=inverse.ravel()[repeat],
            distinct_x=distinct_x,
            weight_of_x=np.bincount(inverse.ravel(), weights=weight),
        )


def _bgnbd_loglik(params, data: _BGNBDData, gradient: bool = False):
    """Weighted BG/NBD log-likelihood and its gradient in (r, alpha, a, b).

    The likelihood of one customer in Fader, Hardie & Lee (2005a), summed over
    customers (times their weights)::

        L = A1 * A2 * (A3 + [x > 0] A4)
        ln A1 = lnG(r + x) - lnG(r) + r ln(alpha)
        ln A2 = lnG(a + b) + lnG(b + x) - lnG(b) - lnG(a + b + x)
        ln A3 = -(r + x) ln(alpha + T)
        ln A4 = ln(a) - ln(b + x - 1) - (r + x) ln(alpha + t_x)

    (A4 uses B(a + 1, b + x - 1) / B(a, b + x) = a / (b + x - 1)). For a
    repeat buyer ln(A3 + A4) = ln A3 + softplus(d) with d = ln A4 - ln A3,
    which stays finite in floating point. With w4 = A4 / (A3 + A4) =
    expit(d), w3 = 1 - w4 (w4 = 0 where x = 0) and psi the digamma function,
    the gradient (derived here) is::

        d/dr     = psi(r + x) - psi(r) + ln(alpha) - w3 ln(alpha + T) - w4 ln(alpha + t_x)
        d/dalpha = r / alpha - (r + x) (w3 / (alpha + T) + w4 / (alpha + t_x))
        d/da     = psi(a + b) - psi(a + b + x) + w4 / a
        d/db     = psi(a + b) + psi(b + x) - psi(b) - psi(a + b + x) - w4 / (b + x - 1)

    A1 and A2 depend on x alone, so their log-gamma and digamma terms are
    evaluated once per distinct x and weighted by the customers with that x;
    only the A3/A4 part is computed per row.
    """
    r, alpha, a, b = params
    ux, wx = data.distinct_x, data.weight_of_x
    ln_a1_a2 = (
        special.gammaln(r + ux)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.gammaln(a + b)
        + special.gammaln(b + ux)
        - special.gammaln(b)
        - special.gammaln(a + b + ux)
    )
    # customers without repeat purchases: ln A3 only
    log_alpha_T0 = np.log(alpha + data.T0)
    # repeat buyers
    x, w = data.x, data.weight
    log_alpha_T = np.log(alpha + data.T)
    log_alpha_tx = np.log(alpha + data.tx)
    log_b_x_1 = np.log(b + np.maximum(ux - 1.0, 0.0))[data.x_index]  # x = 0 unused
    gap = log_alpha_tx - log_alpha_T
    d = np.log(a) - log_b_x_1 - (r + x) * gap
    total = (
        _dot(wx, ln_a1_a2)
        - r * _dot(data.weight0, log_alpha_T0)
        + _dot(w, np.logaddexp(0.0, d) - (r + x) * log_alpha_T)
    )
    if not gradient:
        return total
    w4 = special.expit(d)
    inv_T0 = 1.0 / (alpha + data.T0)
    inv_T = 1.0 / (alpha + data.T)
    inv_tx = 1.0 / (alpha + data.tx)
    psi_ab, psi_abx = special.digamma(a + b), special.digamma(a + b + ux)
    w_w4 = w * w4
    grad = np.array(
        [
            _dot(wx, special.digamma(r + ux) - special.digamma(r) + np.log(alpha))
            - _dot(data.weight0, log_alpha_T0)
            - _dot(w, log_alpha_T)
            - _dot(w_w4, gap),
            wx.sum() * r / alpha
            - r * _dot(data.weight0, inv_T0)
            - _dot(w * (r + x), inv_T + w4 * (inv_tx - inv_T)),
            _dot(wx, psi_ab - psi_abx) + w_w4.sum() / a,
            _dot(wx, psi_ab + special.digamma(b + ux) - special.digamma(b) - psi_abx)
            - _dot(w_w4, 1.0 / (b + x - 1.0)),
        ]
    )
    return total, grad


def _one_minus_survival(r, alpha, a, b, x, T, t):
    """``1 - ((alpha+T)/(alpha+T+t))**(r+x) * 2F1(r+x, b+x; a+b+x-1; z)``, z = t/(alpha+T+t).

    The bracket of eqs. (9) and (10) of Fader, Hardie & Lee (2005a).

    Numerical range: the hypergeometric factor grows like ``(1-z)**(a-1-r-x)``
    as z -> 1 and overflows for heavy buyers over long horizons (x = 200,
    t = 10,000 already gives NaN). Euler's transformation 2F1(A, B; C; z) =
    (1-z)**(C-A-B) 2F1(C-A, C-B; C; z) (Abramowitz & Stegun 15.3.3) turns the
    product into ``(1-z)**(a-1) * 2F1(a+b-1-r, a-1; a+b+x-1; z)``, whose
    parameters stay small while c grows with x; scipy's hyp2f1 computes it to
    ~1e-14 over r in [0.05, 5], a in [0.1, 5], b in [0.1, 20], x up to 3,000
    and z up to 1 - 1e-5. The one case where it returns NaN is an integer
    C - A - B = x + r - a + 1 with z near 1 (a pole of its z -> 1 - z
    connection formula); as 2F1 is smooth in c, c is then nudged by a relative
    1e-10 (error of that order). A value still not finite raises CRMError.
    The bracket is 0 at a = 1 exactly, where eqs. (9) and (10) divide by
    a - 1 = 0: callers evaluate a within 1e-8 of 1 at 1 +- 1e-8.
    """
    z = t / (alpha + T + t)
    one_minus_z = (alpha + T) / (alpha + T + t)
    A, B, C = a + b - 1.0 - r, a - 1.0, a + b + x - 1.0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        series = special.hyp2f1(A, B, C, z)
        bad = ~np.isfinite(series)
        if bad.any():
            series = np.where(bad, special.hyp2f1(A, B, C * (1.0 + 1e-10), z), series)
        term = one_minus_z**B * series
    if not np.isfinite(term).all():
        raise CRMError(
            "the BG/NBD expectation is outside the numerical range of scipy's hyp2f1 for "
            f"{int((~np.isfinite(term)).sum())} value(s); shorten the horizon t or check the "
            "time unit of the summary"
        )
    return 1.0 - term


def _away_from_one(a: float) -> float:
    """``a`` moved to 1 +- 1e-8 when closer to 1, where eqs. (9)-(10) are 0/0."""
    if abs(a - 1.0) < 1e-8:
        return 1.0 + np.copysign(1e-8, a - 1.0 if a != 1.0 else 1.0)
    return a


class BetaGeo(PenalizedEstimator):
    """BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005a).

    While alive, a customer buys as a Poisson process with rate lambda;
    after each repeat purchase they drop out with probability p.
    Across customers lambda ~ Gamma(r, alpha) and p ~ Beta(a, b).

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty on the parameters, added to the mean negative
        log-likelihood (as lifetimes' ``penalizer_coef``). 0 is plain maximum
        likelihood and reproduces the paper.
    tol : float, default 1e-7
        Gradient tolerance of the BFGS optimiser (on the mean negative
        log-likelihood per customer, with respect to the log parameters).
    maxiter : int, default 1000
        Iteration limit of the optimiser.

    Attributes
    ----------
    params_ : dict
        Fitted ``r``, ``alpha``, ``a``, ``b``. ``alpha`` is in the time unit
        of the summary (7 times larger in days than in weeks).
    covariance_ : pandas.DataFrame
        Covariance of the estimates: the inverse Hessian of the negative
        log-likelihood at the optimum (:func:`crmlib.analytics.clv.base.covariance_from_hessian`).
    summary_ : pandas.DataFrame
        Estimate, standard error and 95 % bounds of each parameter
        (:attr:`crmlib.analytics.clv.base.Estimator.summary_`); on CDNOW the
        standard errors are r 0.0126, alpha 0.3782, a 0.1857, b 0.7053, as
        lifetimes 0.11.3 reports them.
    log_likelihood_ : float
        Log-likelihood of the data at ``params_``, summed over customers.
    n_customers_ : int
        Customers the model was fitted on.
    n_iter_ : int
        Optimiser iterations.

    References
    ----------
    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005a). "Counting your
    customers" the easy way: An alternative to the Pareto/NBD model.
    Marketing Science, 24(2), 275-284.

    Examples
    --------
    >>> from crmlib.data.datasets import load_cdnow_summary
    >>> model = BetaGeo().fit(load_cdnow_summary())
    >>> {k: round(v, 3) for k, v in model.params_.items()}
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    """

    _model = "BG/NBD"
    _param_names = _BG_PARAMS

    def fit(self, summary: pd.DataFrame) -> BetaGeo:
        """Fit r, alpha, a, b by maximum likelihood.

        Parameters
        ----------
        summary : pandas.DataFrame
            One row per customer with ``frequency`` (repeat purchases),
            ``recency`` and ``T`` (same time unit), as made by
            :func:`crmlib.analytics.summary.customer_summary`. Other columns are ignored.

        Returns
        -------
        BetaGeo
            ``self``, fitted.

        Raises
        ------
        crmlib.errors.DataError
            A column is missing or not numeric, a value is negative,
            frequency is not a whole number, recency > T, or recency is not 0
            where frequency is 0.

        Warns
        -----
        ConvergenceWarning
            The optimiser stopped before converging (its message and
            iteration count are given).
        """
        cols = (s.FREQUENCY, s.RECENCY, s.T)
        rows = btyd_rows(summary, "BetaGeo.fit")
        data = _BGNBDData.build(*(rows[c].to_numpy(dtype=float) for c in (*cols, "weight")))
        n = data.weight_of_x.sum()
        penalizer = float(self.penalizer)

        def objective(log_params):
            params = np.exp(log_params)
            ll, grad = _bgnbd_loglik(params, data, gradient=True)
            value = -ll / n + penalizer * (params**2).sum()
            d_params = -grad / n + 2.0 * penalizer * params
            return value, d_params * params  # chain rule for the log scale

        # Start from r = a = b = 1, with alpha such that the mean purchase rate 1/alpha
        # matches the data's (mean x / mean T): the right scale for days or weeks.
        mean_x = _dot(data.weight, data.x) / n
        mean_T = (_dot(data.weight, data.T) + _dot(data.weight0, data.T0)) / n
        alpha0 = mean_T / mean_x if mean_x > 0 and mean_T > 0 else 1.0
        x0 = np.log([1.0, alpha0, 1.0, 1.0])
        result = maximise(objective, x0, self.tol, self.maxiter, self._model)
        params = self._set_maximum_likelihood_fit(objective, result, n)
        self.log_likelihood_ = _bgnbd_loglik(params, data)
        self.n_customers_ = int(n)
        return self

    def expected_purchases(self, t, frequency, recency, T):
        """Expected number of purchases in the next ``t`` periods of a customer.

        Fader, Hardie & Lee (2005a), eq. (10), E[Y(t) | x, t_x, T]::

            (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))**(r+x)
                                   * 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
            / (1 + [x > 0] a/(b+x-1) * ((alpha+T)/(alpha+t_x))**(r+x))

        The hypergeometric factor is computed in a transformed form that stays
        finite for heavy buyers and long horizons (see ``_one_minus_survival``);
        at a = 1, where the formula is 0/0, it is evaluated at a = 1 + 1e-8.

        Parameters
        ----------
        t : float or array-like
            Horizon, in the time unit of the fit.
        frequency, recency, T : float or array-like
            The customer's summary (broadcast together with ``t``).

        Returns
        -------
        float, numpy.ndarray or pandas.Series
            A Series (indexed like the input) when an input is a Series.
        """
        r, alpha, a, b = self._fitted_params().values()
        v, index, labels = broadcast(
            "BetaGeo.expected_purchases", t=t, frequency=frequency, recency=recency, T=T
        )
        check_btyd(
            {s.FREQUENCY: v["frequency"], s.RECENCY: v["recency"], s.T: v["T"]},
            labels,
            "BetaGeo.expected_purchases",
        )
        if (v["t"] < 0).any():
            raise DataError("BetaGeo.expected_purchases: the horizon t must not be negative")
        x, tx, T_ = v["frequency"], v["recency"], v["T"]
        a = _away_from_one(a)
        bracket = _one_minus_survival(r, alpha, a, b, x, T_, v["t"])
        result = (a + b + x - 1.0) / (a - 1.0) * bracket * self._p_alive(x, tx, T_)
        return wrap(result, index)

    def _p_alive(self, x, tx, T):
        """``1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))**(r+x))`` in log space."""
        r, alpha, a, b = (self.params_[k] for k in _BG_PARAMS)
        repeat = x > 0
        b_x_1 = b + np.where(repeat, x - 1.0, 0.0)
        log_odds_dead = (
            np.log(a) - np.log(b_x_1) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        )
        return np.where(repeat, special.expit(-log_odds_dead), 1.0)

    def p_alive(self, frequency, recency, T):
        """Probability that a customer is still alive at the end of their window.

        Fader, Hardie & Lee (2008), "Computing P(alive) using the BG/NBD
        model" (note)::

            P(alive | x, t_x, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))**(r+x))

        A customer without repeat purchases is alive with probability 1: in
        the BG/NBD, dropping out can only follow a repeat purchase.

        Returns
        -------
        float, numpy.ndarray or pandas.Series
        """
        self._fitted_params()
        v, index, labels = broadcast("BetaGeo.p_alive", frequency=frequency, recency=recency, T=T)
        check_btyd(
            {s.FREQUENCY: v["frequency"], s.RECENCY: v["recency"], s.T: v["T"]},
            labels,
            "BetaGeo.p_alive",
        )
        return wrap(self._p_alive(v["frequency"], v["recency"], v["T"]), index)

    def expected_purchases_new(self, t):
        """Expected purchases of a new customer in their first ``t`` periods.

        Fader, Hardie & Lee (2005a), eq. (9), E[X(t)]::

            (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))**r * 2F1(r, b; a+b-1; t/(alpha+t))]

        Repeat purchases only: the first purchase at time 0 is not counted.
        """
        r, alpha, a, b = self._fitted_params().values()
        v, index, _ = broadcast("BetaGeo.expected_purchases_new", t=t)
        if (v["t"] < 0).any():
            raise DataError("BetaGeo.expected_purchases_new: the horizon t must not be negative")
        a = _away_from_one(a)
        bracket = _one_minus_survival(r, alpha, a, b, 0.0, 0.0, v["t"])
        return wrap((a + b - 1.0) / (a - 1.0) * bracket, index)

    def simulate(self, n: int, T, seed) -> pd.DataFrame:
        """Draw a customer summary from the fitted model.

        Each customer draws lambda ~ Gamma(r, rate alpha) and p ~ Beta(a, b);
        their repeat purchases (before dropping out) number N ~ Geometric(p) on
        1, 2, ...; purchases arrive as a Poisson process of rate lambda. With
        K ~ Poisson(lambda T) purchases possible in (0, T], the customer makes
        x = min(N, K), and the last of them falls at the x-th order statistic
        of K uniform times, t_x = T * Beta(x, K - x + 1) (Fader, Hardie & Lee
        2005a, section 2 assumptions).

        Parameters
        ----------
        n : int
            Number of customers.
        T : float or array-like of length n
            Each customer's observation window (time since first purchase).
        seed : int or numpy.random.Generator
            Random seed, for reproducible draws.

        Returns
        -------
        pandas.DataFrame
            ``customer_id`` ("1" ... "n"), ``frequency``, ``recency``, ``T``.
        """
        r, alpha, a, b = self._fitted_params().values()
        if int(n) != n or n < 1:
            raise CRMError(f"simulate: n must be a positive whole number, not {n}")
        n = int(n)
        window = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
        if not (np.isfinite(window).all() and (window > 0).all()):
            raise CRMError("simulate: T must be positive and finite")
        rng = np.random.default_rng(seed)
        lam = rng.gamma(r, 1.0 / alpha, n)
        p = rng.beta(a, b, n)
        purchases_before_dropout = rng.geometric(np.clip(p, 1e-300, 1.0))
        possible = rng.poisson(lam * window)
        x = np.minimum(purchases_before_dropout, possible)
        buys = x > 0
        recency = np.zeros(n)
        recency[buys] = window[buys] * rng.beta(x[buys], possible[buys] - x[buys] + 1)
        return pd.DataFrame(
            {
                s.CUSTOMER_ID: np.arange(1, n + 1).astype(str),
                s.FREQUENCY: x.astype(float),
                s.RECENCY: recency,
                s.T: window,
            }
        )
