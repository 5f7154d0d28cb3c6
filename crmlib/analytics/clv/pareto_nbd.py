"""The Pareto/NBD model of repeat purchasing: Schmittlein, Morrison & Colombo (1987).

Schmittlein, D. C., Morrison, D. G., & Colombo, R. (1987). Counting your
customers: Who are they and what will they do next? *Management Science*
33(1), 1-24.

The likelihood is the numerically stable form of Fader, Hardie & Lee (2005c),
"A note on implementing the Pareto/NBD model in MATLAB" (eqs. 2-4 there),
with the Gaussian hypergeometric function 2F1 of :func:`scipy.special.hyp2f1`.
Fitted by maximum likelihood with :func:`scipy.optimize.minimize` (BFGS) on
the log of the parameters, like :class:`~crmlib.analytics.clv.beta_geo.BetaGeo`.
The derivative of 2F1 in its parameters has no closed form that scipy offers,
so the gradient is taken by central differences of the log-likelihood (step
1e-5 on the log parameters; truncation and rounding error both about 1e-10 of
the mean log-likelihood). Customers with identical (frequency, recency, T) are
compressed into one weighted row first, and the hypergeometric function is
evaluated once per distinct (frequency, recency) and (frequency, T) pair. The model works in whatever unit
``recency`` and ``T`` were measured in; ``alpha`` and ``beta`` scale with it.
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

_PNBD_PARAMS = ("r", "alpha", "s", "beta")
_GRADIENT_STEP = 1e-5  # central differences on the log parameters


def _log_f(params, x, t):
    """``ln F(t)``, F(t) = 2F1(c, b; c+1; |alpha-beta| / (m+t)) / (m+t)**c (see ``_log_terms``)."""
    r, alpha, s_, beta = params
    c = r + s_ + x
    if alpha >= beta:
        m, b_param, gap = alpha, s_ + 1.0, alpha - beta
    else:
        m, b_param, gap = beta, r + x, beta - alpha
    with np.errstate(divide="ignore"):
        return np.log(special.hyp2f1(c, b_param, c + 1.0, gap / (m + t))) - c * np.log(m + t)


def _combine(params, x, T, log_f_tx, log_f_T):
    """``ln A1`` and ``ln(s/(r+s+x) A0)`` from ln F(t_x) and ln F(T) (see ``_log_terms``)."""
    r, alpha, s_, beta = params
    log_a1 = -(r + x) * np.log(alpha + T) - s_ * np.log(beta + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.minimum(np.exp(log_f_T - log_f_tx), 1.0)
        log_a0 = log_f_tx + np.log1p(-ratio)
    return log_a1, np.log(s_) - np.log(r + s_ + x) + log_a0


def _log_terms(params, x, tx, T):
    """``ln A1`` and ``ln(s / (r+s+x) * A0)`` of Fader, Hardie & Lee (2005c).

    The likelihood of one customer is::

        L = G(r+x) alpha**r beta**s / G(r) * (A1 + s/(r+s+x) * A0)
        A1 = 1 / ((alpha+T)**(r+x) (beta+T)**s)

    and, with m = max(alpha, beta), c = r+s+x and
    F(t) = 2F1(c, b; c+1; |alpha-beta| / (m+t)) / (m+t)**c, where b = s+1 if
    alpha >= beta and b = r+x if alpha < beta::

        A0 = F(t_x) - F(T)

    The two cases keep the argument of 2F1 in [0, 1). A0 >= 0 is a
    difference of positive terms, taken in log space as
    ln F(t_x) + log1p(-F(T)/F(t_x)); it is 0 (log -inf) when t_x = T.
    """
    return _combine(params, x, T, _log_f(params, x, tx), _log_f(params, x, T))


@dataclass(frozen=True)
class _PNBDData:
    """Compressed Pareto/NBD input for :func:`_pnbd_loglik`.

    F(t) depends on (x, t) only, and many customers share an (x, t_x) or an
    (x, T) pair (t_x = 0 for every customer without repeat purchases; T takes
    one value per day of first purchase), so 2F1, the costly part, is
    evaluated once per distinct pair. Terms of x alone are evaluated once per
    distinct x.
    """

    x: np.ndarray
    T: np.ndarray
    weight: np.ndarray
    pair_x: np.ndarray  # distinct (x, t) pairs among (x, t_x) and (x, T)
    pair_t: np.ndarray
    tx_index: np.ndarray  # each row's (x, t_x) and (x, T) in the pairs
    T_index: np.ndarray
    distinct_x: np.ndarray
    weight_of_x: np.ndarray

    @classmethod
    def build(cls, x, tx, T, weight=None) -> _PNBDData:
        x, tx, T = (np.asarray(v, dtype=float).ravel() for v in (x, tx, T))
        weight = np.ones_like(x) if weight is None else np.asarray(weight, dtype=float).ravel()
        pairs = pd.DataFrame({"x": np.concatenate([x, x]), "t": np.concatenate([tx, T])})
        codes, distinct = pd.MultiIndex.from_frame(pairs).factorize()
        distinct_x, x_inverse = np.unique(x, return_inverse=True)
        return cls(
            x=x,
            T=T,
            weight=weight,
            pair_x=distinct.get_level_values(0).to_numpy(dtype=float),
            pair_t=distinct.get_level_values(1).to_numpy(dtype=float),
            tx_index=codes[: x.size],
            T_index=codes[x.size :],
            distinct_x=distinct_x,
            weight_of_x=np.bincount(x_inverse.ravel(), weights=weight),
        )


def _pnbd_loglik(params, data: _PNBDData) -> float:
    """Weighted Pareto/NBD log-likelihood (Fader, Hardie & Lee 2005c, eq. 2)::

        ln L = lnG(r+x) - lnG(r) + r ln(alpha) + s ln(beta) + ln(A1 + s/(r+s+x) A0)

    with A1 and A0 as in ``_log_terms``, summed over customers (times their weights).
    """
    r, alpha, s_, beta = params
    log_f = _log_f(params, data.pair_x, data.pair_t)
    log_a1, log_a0_term = _combine(
        params, data.x, data.T, log_f[data.tx_index], log_f[data.T_index]
    )
    ux, wx = data.distinct_x, data.weight_of_x
    by_x = special.gammaln(r + ux) - special.gammaln(r) + r * np.log(alpha) + s_ * np.log(beta)
    return float(
        np.add.reduce(wx * by_x) + np.add.reduce(data.weight * np.logaddexp(log_a1, log_a0_term))
    )


class ParetoNBD(PenalizedEstimator):
    """Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

    While alive, a customer buys as a Poisson process with rate lambda; their
    lifetime is exponential with rate mu, unobserved. Across customers
    lambda ~ Gamma(r, alpha) and mu ~ Gamma(s, beta), independently.

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
        Fitted ``r``, ``alpha``, ``s``, ``beta`` (``alpha`` and ``beta`` in the
        time unit of the summary).
    covariance_ : pandas.DataFrame
        Covariance of the estimates: the inverse Hessian of the negative
        log-likelihood at the optimum.
    summary_ : pandas.DataFrame
        Estimate, standard error and 95 % bounds of each parameter. On CDNOW
        the standard errors are r 0.048, alpha 0.843, s 0.187, beta 6.21: the
        likelihood is flat in s and beta (few customers are seen to drop out).
    log_likelihood_ : float
        Log-likelihood of the data at ``params_``, summed over customers.
    n_customers_ : int
        Customers the model was fitted on.
    n_iter_ : int
        Optimiser iterations.

    References
    ----------
    Schmittlein, D. C., Morrison, D. G., & Colombo, R. (1987). Counting your
    customers: Who are they and what will they do next? Management Science,
    33(1), 1-24.

    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005c). A note on
    implementing the Pareto/NBD model in MATLAB.
    http://brucehardie.com/notes/008/

    Examples
    --------
    >>> from crmlib.data.datasets import load_cdnow_summary
    >>> model = ParetoNBD().fit(load_cdnow_summary())
    >>> {k: round(v, 3) for k, v in model.params_.items()}
    {'r': 0.553, 'alpha': 10.578, 's': 0.606, 'beta': 11.668}
    """

    _model = "Pareto/NBD"
    _param_names = _PNBD_PARAMS

    def fit(self, summary: pd.DataFrame) -> ParetoNBD:
        """Fit r, alpha, s, beta by maximum likelihood.

        Parameters
        ----------
        summary : pandas.DataFrame
            One row per customer with ``frequency`` (repeat purchases),
            ``recency`` and ``T`` (same time unit), as made by
            :func:`crmlib.analytics.summary.customer_summary`. Other columns are ignored.

        Returns
        -------
        ParetoNBD
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
            The optimiser stopped before converging.
        """
        cols = (s.FREQUENCY, s.RECENCY, s.T)
        rows = btyd_rows(summary, "ParetoNBD.fit")
        x, tx, T, weight = (rows[c].to_numpy(dtype=float) for c in (*cols, "weight"))
        data = _PNBDData.build(x, tx, T, weight)
        n = float(weight.sum())
        penalizer = float(self.penalizer)

        def value(log_params):
            params = np.exp(log_params)
            return -_pnbd_loglik(params, data) / n + penalizer * (params**2).sum()

        def objective(log_params):
            grad = np.empty(4)
            for i in range(4):
                shift = np.zeros(4)
                shift[i] = _GRADIENT_STEP
                grad[i] = (value(log_params + shift) - value(log_params - shift)) / (
                    2.0 * _GRADIENT_STEP
                )
            return value(log_params), grad

        # Start from r = s = 1, with alpha such that the mean purchase rate 1/alpha
        # matches the data's (mean x / mean T), and beta = mean T (the time unit's scale).
        mean_x = float(np.add.reduce(weight * x)) / n
        mean_T = float(np.add.reduce(weight * T)) / n
        alpha0 = mean_T / mean_x if mean_x > 0 and mean_T > 0 else 1.0
        beta0 = mean_T if mean_T > 0 else 1.0
        x0 = np.log([1.0, alpha0, 1.0, beta0])
        result = maximise(objective, x0, self.tol, self.maxiter, self._model)
        params = self._set_maximum_likelihood_fit(objective, result, n)
        self.log_likelihood_ = _pnbd_loglik(params, data)
        self.n_customers_ = int(n)
        return self

    def _checked(self, what: str, **named):
        """Broadcast and validate the summary arguments of a prediction."""
        v, index, labels = broadcast(f"ParetoNBD.{what}", **named)
        check_btyd(
            {s.FREQUENCY: v["frequency"], s.RECENCY: v["recency"], s.T: v["T"]},
            labels,
            f"ParetoNBD.{what}",
        )
        return v, index

    def _p_alive(self, x, tx, T):
        """``1 / (1 + s/(r+s+x) (alpha+T)**(r+x) (beta+T)**s A0)`` = expit(ln A1 - ln(s/(r+s+x) A0))."""
        params = tuple(self._fitted_params().values())
        log_a1, log_a0_term = _log_terms(params, x, tx, T)
        return special.expit(log_a1 - log_a0_term)

    def p_alive(self, frequency, recency, T):
        """Probability that a customer is still alive at the end of their window.

        Schmittlein, Morrison & Colombo (1987), eq. (11), in the form of Fader,
        Hardie & Lee (2005c), eq. (5)::

            P(alive | x, t_x, T) = 1 / (1 + s/(r+s+x) (alpha+T)**(r+x) (beta+T)**s A0)

        with A0 as in the likelihood. Unlike the BG/NBD, a customer without
        repeat purchases may have dropped out too.

        Returns
        -------
        float, numpy.ndarray or pandas.Series
        """
        self._fitted_params()
        v, index = self._checked("p_alive", frequency=frequency, recency=recency, T=T)
        return wrap(self._p_alive(v["frequency"], v["recency"], v["T"]), index)

    def expected_purchases(self, t, frequency, recency, T):
        """Expected number of purchases in the next ``t`` periods of a customer.

        Schmittlein, Morrison & Colombo (1987), eq. (22); Fader, Hardie & Lee
        (2005c), eq. (6)::

            E[Y(t) | x, t_x, T] = (r+x)(beta+T) / ((alpha+T)(s-1))
                                  * [1 - ((beta+T)/(beta+T+t))**(s-1)] * P(alive)

        At s = 1 the bracket over (s-1) is its limit ln((beta+T+t)/(beta+T)).

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
        r, alpha, s_, beta = self._fitted_params().values()
        v, index = self._checked(
            "expected_purchases", t=t, frequency=frequency, recency=recency, T=T
        )
        if (v["t"] < 0).any():
            raise DataError("ParetoNBD.expected_purchases: the horizon t must not be negative")
        x, tx, T_ = v["frequency"], v["recency"], v["T"]
        lifetime = _horizon_factor(s_, beta + T_, v["t"])
        result = (r + x) / (alpha + T_) * lifetime * self._p_alive(x, tx, T_)
        return wrap(result, index)

    def expected_purchases_new(self, t):
        """Expected repeat purchases of a new customer in their first ``t`` periods.

        Schmittlein, Morrison & Colombo (1987), eq. (17)::

            E[X(t)] = r beta / (alpha (s-1)) * [1 - (beta/(beta+t))**(s-1)]
        """
        r, alpha, s_, beta = self._fitted_params().values()
        v, index, _ = broadcast("ParetoNBD.expected_purchases_new", t=t)
        if (v["t"] < 0).any():
            raise DataError("ParetoNBD.expected_purchases_new: the horizon t must not be negative")
        return wrap(r / alpha * _horizon_factor(s_, beta, v["t"]), index)

    def simulate(self, n: int, T, seed) -> pd.DataFrame:
        """Draw a customer summary from the fitted model.

        Each customer draws lambda ~ Gamma(r, rate alpha), mu ~ Gamma(s, rate
        beta) and a lifetime tau ~ Exponential(mu); while alive in (0, T] they
        buy as a Poisson process of rate lambda, so x ~ Poisson(lambda
        min(tau, T)) and, given x > 0, the last purchase is the largest of x
        uniform times on (0, min(tau, T)]: t_x = min(tau, T) * Beta(x, 1)
        (Schmittlein, Morrison & Colombo 1987, assumptions of section 2).

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
        r, alpha, s_, beta = self._fitted_params().values()
        if int(n) != n or n < 1:
            raise CRMError(f"simulate: n must be a positive whole number, not {n}")
        n = int(n)
        window = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
        if not (np.isfinite(window).all() and (window > 0).all()):
            raise CRMError("simulate: T must be positive and finite")
        rng = np.random.default_rng(seed)
        lam = rng.gamma(r, 1.0 / alpha, n)
        mu = rng.gamma(s_, 1.0 / beta, n)
        alive_for = np.minimum(rng.exponential(1.0 / np.maximum(mu, 1e-300)), window)
        x = rng.poisson(lam * alive_for)
        buys = x > 0
        recency = np.zeros(n)
        recency[buys] = alive_for[buys] * rng.beta(x[buys], 1.0)
        return pd.DataFrame(
            {
                s.CUSTOMER_ID: np.arange(1, n + 1).astype(str),
                s.FREQUENCY: x.astype(float),
                s.RECENCY: recency,
                s.T: window,
            }
        )


def _horizon_factor(s_: float, start, t):
    """``start/(s-1) * [1 - (start/(start+t))**(s-1)]``; its limit ``start ln(1+t/start)`` at s = 1."""
    log_ratio = np.log1p(t / start)
    if abs(s_ - 1.0) < 1e-10:
        return start * log_ratio
    return start * -np.expm1(-(s_ - 1.0) * log_ratio) / (s_ - 1.0)
