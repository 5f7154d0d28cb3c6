"""Customer lifetime value: historical, BG/NBD, Gamma-Gamma and discounted CLV.

The models take the customer summary of :func:`crmlib.analytics.summary.customer_summary`
(``frequency``, ``recency``, ``T``, ``monetary_value``; BTYD definitions, see
that module) and follow the papers that introduced them:

- :class:`BetaGeo`: the BG/NBD purchase model of Fader, Hardie & Lee (2005a),
  "Counting your customers the easy way: An alternative to the Pareto/NBD
  model", *Marketing Science* 24(2), 275-284. Equation numbers below are the
  paper's.
- :class:`GammaGamma`: the spend model of Fader, Hardie & Lee (2005b), "RFM and
  CLV: Using iso-value curves for customer base analysis", *Journal of
  Marketing Research* 42(4), 415-430, in the form of Hardie's note "The
  Gamma-Gamma model of monetary value" (2013).
- :func:`customer_lifetime_value`: discounted expected margin month by month,
  as in Fader, Hardie & Lee (2005b, "discounted expected transactions") and
  the ``customer_lifetime_value`` of the lifetimes package (Davidson-Pilon
  et al.).

Both models are fitted by maximum likelihood with :func:`scipy.optimize.minimize`
(BFGS) on the log of the parameters, with analytic gradients derived from the
papers' likelihoods. Customers with identical inputs are compressed into one
weighted row first (a pandas groupby): with recency and T in whole days, a base of
1 M customers becomes about a quarter of a million rows.

Time units: the models work in whatever unit ``recency`` and ``T`` were
measured in (days or weeks); ``alpha`` scales with it. Only
:func:`customer_lifetime_value` needs to be told the unit, to turn its
horizon in months into that unit (:data:`PERIODS_PER_MONTH`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

# Columns this module adds (not customer-summary columns, so not in crmlib.data.schema).
FREQUENCY_HOLDOUT = "frequency_holdout"
DURATION_HOLDOUT = "duration_holdout"
CLV = "clv"
HISTORICAL_CLV = "historical_clv"
# Columns of HoldoutMetrics.by_frequency.
CUSTOMERS = "customers"
ACTUAL = "actual"
PREDICTED = "predicted"

#: Length of a month in each time unit a summary may use: 30 days, or 30/7 weeks.
PERIODS_PER_MONTH = {"D": 30.0, "W": 30.0 / 7.0}

_BG_PARAMS = ("r", "alpha", "a", "b")
_GG_PARAMS = ("p", "q", "v")
_MAX_LISTED = 5


class ConvergenceWarning(UserWarning):
    """The likelihood maximisation stopped before converging."""


class CorrelationWarning(UserWarning):
    """Spend and purchase frequency are correlated, against the Gamma-Gamma assumption."""


# --- input checks --------------------------------------------------------------------------


def _rows(labels, bad: np.ndarray) -> str:
    """'N row(s) (e.g. a, b, c)' for the labels where ``bad`` is true."""
    where = np.flatnonzero(bad)
    shown = ", ".join(str(labels[i]) for i in where[:_MAX_LISTED])
    more = ", ..." if where.size > _MAX_LISTED else ""
    return f"{where.size} row(s) (e.g. {shown}{more})"


def _summary_columns(summary, columns: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    """The given summary columns as float arrays; DataError when missing or not numeric."""
    if not isinstance(summary, pd.DataFrame):
        raise DataError(
            f"{what} needs a customer summary DataFrame (crmlib.analytics.summary.customer_summary), "
            f"not {type(summary).__name__}"
        )
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise DataError(
            f"{what}: the summary has no column(s) {', '.join(map(repr, missing))}; build it with "
            "crmlib.analytics.summary.customer_summary",
            column=missing[0],
        )
    out = {}
    for c in columns:
        values = pd.to_numeric(summary[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(
                f"{what}: column {c!r} has {_rows(summary.index, bad)} that are empty, "
                "not numbers or infinite",
                column=c,
            )
        out[c] = values
    return out


def _no_spend_is_zero(summary):
    """The summary with an empty monetary_value read as 0 where frequency is 0.

    Customers without a repeat purchase have no mean repeat spend; some tools
    leave it empty rather than 0. Neither the fit nor the CLV uses it.
    """
    if not (
        isinstance(summary, pd.DataFrame)
        and s.MONETARY_VALUE in summary.columns
        and s.FREQUENCY in summary.columns
    ):
        return summary
    empty = summary[s.MONETARY_VALUE].isna() & (
        pd.to_numeric(summary[s.FREQUENCY], errors="coerce") == 0
    )
    if not empty.any():
        return summary
    return summary.assign(**{s.MONETARY_VALUE: summary[s.MONETARY_VALUE].mask(empty, 0.0)})


def _check_btyd(values: dict[str, np.ndarray], labels, what: str) -> None:
    """The BTYD rules a (frequency, recency, T) triple must obey, as DataError."""
    for c, v in values.items():
        if (v < 0).any():
            raise DataError(
                f"{what}: column {c!r} has {_rows(labels, v < 0)} with negative values",
                column=c,
            )
    x = values.get(s.FREQUENCY)
    tx = values.get(s.RECENCY)
    T = values.get(s.T)
    if x is not None:
        bad = x != np.round(x)
        if bad.any():
            raise DataError(
                f"{what}: column {s.FREQUENCY!r} has {_rows(labels, bad)} that are not whole "
                "numbers (it counts repeat purchases)",
                column=s.FREQUENCY,
            )
    if tx is not None and T is not None:
        bad = tx > T
        if bad.any():
            raise DataError(
                f"{what}: column {s.RECENCY!r} is larger than {s.T!r} in {_rows(labels, bad)}; "
                "recency is last - first purchase and T is as-of date - first purchase, "
                "in the same time unit",
                column=s.RECENCY,
            )
    if x is not None and tx is not None:
        bad = (x == 0) & (tx != 0)
        if bad.any():
            raise DataError(
                f"{what}: column {s.RECENCY!r} is not 0 in {_rows(labels, bad)} whose "
                f"{s.FREQUENCY!r} is 0 (without a repeat purchase, last = first purchase)",
                column=s.RECENCY,
            )


def _broadcast(what: str, **named) -> tuple[dict[str, np.ndarray], object, object]:
    """Named array-likes as broadcast float arrays, the index of the first Series (or None),
    and row labels for messages (that index, or positions)."""
    index = next((v.index for v in named.values() if isinstance(v, pd.Series)), None)
    try:
        arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in named.values()))
    except ValueError as exc:
        raise DataError(f"{what}: {', '.join(named)} have incompatible shapes ({exc})") from None
    out = dict(zip(named, arrays, strict=True))
    flat = np.arange(arrays[0].size)
    labels = index if index is not None and len(index) == arrays[0].size else flat
    for name, v in out.items():
        bad = ~np.isfinite(v).ravel()
        if bad.any():
            raise DataError(
                f"{what}: {name} has {_rows(labels, bad)} that are empty or infinite",
                column=name,
            )
    return out, index, labels


def _wrap(values: np.ndarray, index, name: str | None = None):
    """A Series when an input was one, a float for scalars, else the array."""
    if index is not None and values.ndim == 1 and len(index) == values.size:
        return pd.Series(values, index=index, name=name)
    if values.ndim == 0:
        return float(values)
    return values


def _maximise(objective, x0: np.ndarray, tol: float, maxiter: int, model: str):
    """Minimise ``objective`` (value, gradient) with BFGS; warn if it did not converge."""
    result = optimize.minimize(
        objective, x0, jac=True, method="BFGS", options={"gtol": tol, "maxiter": maxiter}
    )
    if not result.success:
        warnings.warn(
            f"{model} maximum likelihood did not converge after {result.nit} iterations "
            f"({result.message}); the parameters may be off. Try a larger maxiter, a looser tol "
            "or a small penalizer, and check the summary's time unit",
            ConvergenceWarning,
            stacklevel=3,
        )
    return result


def _compress(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Identical rows of ``columns`` as one row each, with their count in ``weight``."""
    return frame.groupby(columns, sort=False).size().rename("weight").reset_index()


def _check_fitted(model, params: tuple[str, ...]) -> dict[str, float]:
    fitted = getattr(model, "params_", None)
    if fitted is None:
        raise CRMError(f"this {type(model).__name__} is not fitted yet: call fit(summary) first")
    return {k: float(fitted[k]) for k in params}


# --- BG/NBD ----------------------------------------------------------------------------------


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


class BetaGeo:
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

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-7, maxiter: int = 1000):
        self.penalizer = penalizer
        self.tol = tol
        self.maxiter = maxiter

    @classmethod
    def from_params(cls, r: float, alpha: float, a: float, b: float) -> BetaGeo:
        """A model with known parameters (e.g. published ones, or to simulate from)."""
        for name, value in zip(_BG_PARAMS, (r, alpha, a, b), strict=True):
            if not (np.isfinite(value) and value > 0):
                raise CRMError(f"BG/NBD parameter {name} must be a positive number, not {value}")
        model = cls()
        model.params_ = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
        return model

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
        self

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
        values = _summary_columns(summary, cols, "BetaGeo.fit")
        _check_btyd(values, summary.index, "BetaGeo.fit")
        if len(summary) == 0:
            raise DataError("BetaGeo.fit: the summary has no customers")
        rows = _compress(pd.DataFrame(values), list(cols))
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
        result = _maximise(objective, x0, self.tol, self.maxiter, "BG/NBD")
        params = np.exp(result.x)
        self.params_ = dict(zip(_BG_PARAMS, map(float, params), strict=True))
        self.log_likelihood_ = _bgnbd_loglik(params, data)
        self.n_customers_ = int(n)
        self.n_iter_ = int(result.nit)
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
        r, alpha, a, b = _check_fitted(self, _BG_PARAMS).values()
        v, index, labels = _broadcast(
            "BetaGeo.expected_purchases", t=t, frequency=frequency, recency=recency, T=T
        )
        _check_btyd(
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
        return _wrap(result, index)

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
        _check_fitted(self, _BG_PARAMS)
        v, index, labels = _broadcast("BetaGeo.p_alive", frequency=frequency, recency=recency, T=T)
        _check_btyd(
            {s.FREQUENCY: v["frequency"], s.RECENCY: v["recency"], s.T: v["T"]},
            labels,
            "BetaGeo.p_alive",
        )
        return _wrap(self._p_alive(v["frequency"], v["recency"], v["T"]), index)

    def expected_purchases_new(self, t):
        """Expected purchases of a new customer in their first ``t`` periods.

        Fader, Hardie & Lee (2005a), eq. (9), E[X(t)]::

            (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))**r * 2F1(r, b; a+b-1; t/(alpha+t))]

        Repeat purchases only: the first purchase at time 0 is not counted.
        """
        r, alpha, a, b = _check_fitted(self, _BG_PARAMS).values()
        v, index, _ = _broadcast("BetaGeo.expected_purchases_new", t=t)
        if (v["t"] < 0).any():
            raise DataError("BetaGeo.expected_purchases_new: the horizon t must not be negative")
        a = _away_from_one(a)
        bracket = _one_minus_survival(r, alpha, a, b, 0.0, 0.0, v["t"])
        return _wrap((a + b - 1.0) / (a - 1.0) * bracket, index)

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
        r, alpha, a, b = _check_fitted(self, _BG_PARAMS).values()
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


# --- Gamma-Gamma ---------------------------------------------------------------------------


def _gamma_gamma_loglik(params, x, m, gradient: bool = False):
    """Per-customer Gamma-Gamma log-likelihood of the mean spend m over x purchases.

    Hardie (2013), the density of the mean transaction value zbar = m::

        f(m | p, q, v; x) = G(px+q) / (G(px) G(q)) * v**q * m**(px-1) * x**(px)
                            / (v + x m)**(px+q)

    and its gradient (psi the digamma function)::

        d/dp = x [psi(px+q) - psi(px) + ln(m) + ln(x) - ln(v + x m)]
        d/dq = psi(px+q) - psi(q) + ln(v) - ln(v + x m)
        d/dv = q / v - (px+q) / (v + x m)
    """
    p, q, v = params
    px = p * x
    log_vxm = np.log(v + x * m)
    ll = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_vxm
    )
    if not gradient:
        return ll
    psi_pxq = special.digamma(px + q)
    grad = np.stack(
        [
            x * (psi_pxq - special.digamma(px) + np.log(m) + np.log(x) - log_vxm),
            psi_pxq - special.digamma(q) + np.log(v) - log_vxm,
            q / v - (px + q) / (v + x * m),
        ]
    )
    return ll, grad


class GammaGamma:
    """Gamma-Gamma model of the average spend per purchase (Fader, Hardie & Lee 2005b).

    A customer's purchases are worth z ~ Gamma(p, nu); across customers
    nu ~ Gamma(q, v). The model assumes spend is independent of purchase
    frequency, and is fitted on repeat buyers only: ``monetary_value`` is
    the mean of the repeat purchases, which customers with frequency 0 do
    not have. They are left out of the fit (and get the population mean
    from :meth:`expected_spend`).

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty on the parameters, added to the mean negative log-likelihood.
    tol : float, default 1e-7
        Gradient tolerance of the BFGS optimiser.
    maxiter : int, default 1000
        Iteration limit of the optimiser.
    correlation_threshold : float, default 0.3
        :meth:`fit` warns (:class:`CorrelationWarning`) when the Pearson
        correlation of frequency and monetary value among repeat buyers
        reaches this in absolute value.

    Attributes
    ----------
    params_ : dict
        Fitted ``p``, ``q``, ``v`` (v in currency units).
    log_likelihood_ : float
    n_customers_ : int
        Repeat buyers the model was fitted on.
    correlation_ : float
        Pearson correlation of frequency and monetary value among them.
    n_iter_ : int

    References
    ----------
    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005b). RFM and CLV: Using
    iso-value curves for customer base analysis. Journal of Marketing
    Research, 42(4), 415-430.
    Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
    Note, brucehardie.com.
    """

    def __init__(
        self,
        penalizer: float = 0.0,
        tol: float = 1e-7,
        maxiter: int = 1000,
        correlation_threshold: float = 0.3,
    ):
        self.penalizer = penalizer
        self.tol = tol
        self.maxiter = maxiter
        self.correlation_threshold = correlation_threshold

    @classmethod
    def from_params(cls, p: float, q: float, v: float) -> GammaGamma:
        """A model with known parameters (e.g. the published ones)."""
        for name, value in zip(_GG_PARAMS, (p, q, v), strict=True):
            if not (np.isfinite(value) and value > 0):
                raise CRMError(f"Gamma-Gamma parameter {name} must be positive, not {value}")
        model = cls()
        model.params_ = {"p": float(p), "q": float(q), "v": float(v)}
        return model

    def fit(self, summary: pd.DataFrame) -> GammaGamma:
        """Fit p, q, v by maximum likelihood on the repeat buyers of ``summary``.

        Customers with frequency 0 are excluded from the fit.

        Parameters
        ----------
        summary : pandas.DataFrame
            With ``frequency`` and ``monetary_value`` (mean of the repeat
            purchases), as made by :func:`crmlib.analytics.summary.customer_summary`.

        Returns
        -------
        self

        Raises
        ------
        crmlib.errors.DataError
            A column is missing or not numeric, frequency is negative or not
            whole, there are no repeat buyers, or a repeat buyer's monetary
            value is zero or negative (the model needs positive spend).

        Warns
        -----
        CorrelationWarning
            |Pearson r| of frequency and monetary value >= ``correlation_threshold``.
        ConvergenceWarning
            The optimiser stopped before converging.
        """
        what = "GammaGamma.fit"
        cols = (s.FREQUENCY, s.MONETARY_VALUE)
        values = _summary_columns(_no_spend_is_zero(summary), cols, what)
        _check_btyd({s.FREQUENCY: values[s.FREQUENCY]}, summary.index, what)
        repeat = values[s.FREQUENCY] > 0
        x, m = values[s.FREQUENCY][repeat], values[s.MONETARY_VALUE][repeat]
        if x.size == 0:
            raise DataError(f"{what}: no customer has a repeat purchase (frequency > 0)")
        bad = m <= 0
        if bad.any():
            raise DataError(
                f"{what}: column {s.MONETARY_VALUE!r} is zero or negative for "
                f"{_rows(summary.index[repeat], bad)} among the repeat buyers; the model needs "
                "positive spend: drop those customers (or net returns differently) before fitting",
                column=s.MONETARY_VALUE,
            )
        self.correlation_ = (
            float(np.corrcoef(x, m)[0, 1]) if x.size > 2 and x.std() > 0 and m.std() > 0 else 0.0
        )
        if abs(self.correlation_) >= self.correlation_threshold:
            warnings.warn(
                f"frequency and monetary_value are correlated (Pearson r = "
                f"{self.correlation_:.2f} among {x.size} repeat buyers); the Gamma-Gamma model "
                "assumes they are independent, so its spend predictions may be biased",
                CorrelationWarning,
                stacklevel=2,
            )
        rows = _compress(pd.DataFrame({s.FREQUENCY: x, s.MONETARY_VALUE: m}), list(cols))
        xs, ms, w = (rows[c].to_numpy(dtype=float) for c in (*cols, "weight"))
        n = w.sum()
        penalizer = float(self.penalizer)

        def objective(log_params):
            params = np.exp(log_params)
            ll, grad = _gamma_gamma_loglik(params, xs, ms, gradient=True)
            value = -(w @ ll) / n + penalizer * (params**2).sum()
            d_params = -(grad @ w) / n + 2.0 * penalizer * params
            return value, d_params * params

        # Start at p = q = 1 with v matching the mean spend (E[z] = p v / (q - 1) ~ v p / q).
        x0 = np.log([1.0, 1.0, max(float(np.mean(m)), 1e-6)])
        result = _maximise(objective, x0, self.tol, self.maxiter, "Gamma-Gamma")
        params = np.exp(result.x)
        self.params_ = dict(zip(_GG_PARAMS, map(float, params), strict=True))
        self.log_likelihood_ = float(w @ _gamma_gamma_loglik(params, xs, ms))
        self.n_customers_ = int(n)
        self.n_iter_ = int(result.nit)
        return self

    def expected_spend(self, frequency, monetary_value):
        """Expected average spend per purchase of a customer.

        Fader, Hardie & Lee (2005b); Hardie (2013)::

            E[M | x, m] = p (v + x m) / (p x + q - 1)
                        = (q-1)/(px+q-1) * p v/(q-1) + px/(px+q-1) * m

        a weighted mean of the population mean p v / (q - 1) and the
        customer's own mean m. A customer with frequency 0 gets the
        population mean, which exists only when q > 1.

        Returns
        -------
        float, numpy.ndarray or pandas.Series
        """
        p, q, v = _check_fitted(self, _GG_PARAMS).values()
        arrays, index, labels = _broadcast(
            "GammaGamma.expected_spend", frequency=frequency, monetary_value=monetary_value
        )
        x, m = arrays["frequency"], arrays["monetary_value"]
        _check_btyd({s.FREQUENCY: x}, labels, "GammaGamma.expected_spend")
        if ((x == 0) & ~(q > 1)).any():
            raise CRMError(
                f"the fitted q = {q:.3g} is not above 1, so the model's population mean spend "
                "is infinite: expected spend of customers with frequency 0 is undefined"
            )
        m = np.where(x > 0, m, 0.0)
        return _wrap(p * (v + x * m) / (p * x + q - 1.0), index)


# --- CLV -----------------------------------------------------------------------------------


def annual_to_monthly_rate(annual_rate: float) -> float:
    """The monthly discount rate equivalent to an annual one: (1 + annual)**(1/12) - 1.

    For example an annual cost of capital of 12.68 % is 1 % a month.
    """
    if not np.isfinite(annual_rate) or annual_rate <= -1:
        raise CRMError(f"annual_rate must be a number above -1 (e.g. 0.10), not {annual_rate}")
    return float((1.0 + annual_rate) ** (1.0 / 12.0) - 1.0)


def customer_lifetime_value(
    beta_geo: BetaGeo,
    gamma_gamma: GammaGamma,
    summary: pd.DataFrame,
    horizon: int,
    time_unit: str,
    discount_rate: float,
    margin=1.0,
) -> pd.Series:
    """Discounted expected margin of each customer over the next ``horizon`` months.

    ::

        CLV = sum over m = 1 .. horizon of
              margin * E[spend] * (E[Y(m months)] - E[Y(m - 1 months)]) / (1 + d)**m

    with E[Y] the BG/NBD conditional expected purchases
    (:meth:`BetaGeo.expected_purchases`), E[spend] the Gamma-Gamma expected
    spend (:meth:`GammaGamma.expected_spend`) and d the monthly discount rate:
    each month's expected purchases are discounted at the month's end. This is
    the discounted-expected-transactions approach of Fader, Hardie & Lee
    (2005b) in the monthly discrete form of lifetimes'
    ``customer_lifetime_value`` (which uses 4.345 weeks a month; here a month
    is 30 days or 30/7 weeks, :data:`PERIODS_PER_MONTH`).

    Parameters
    ----------
    beta_geo : BetaGeo
        Fitted on a summary in ``time_unit``.
    gamma_gamma : GammaGamma
        Fitted spend model.
    summary : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` (in ``time_unit``) and ``monetary_value``.
    horizon : int
        Number of months ahead, at least 1.
    time_unit : {"D", "W"}
        The unit of ``recency`` and ``T`` in the summary and in the fit: days
        or weeks. It is not guessed: a wrong unit scales every CLV.
    discount_rate : float
        MONTHLY discount rate, 0 <= d < 1 (0.01 = 1 % a month). From an
        annual rate use :func:`annual_to_monthly_rate`.
    margin : float or pandas.Series, default 1.0
        Share of spend that is profit, 0 to 1 (1.0 gives revenue-based CLV);
        a Series gives one value per customer, aligned on the summary's index.

    Returns
    -------
    pandas.Series
        Named ``clv``, indexed like ``summary``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005b). RFM and CLV: Using
    iso-value curves for customer base analysis. Journal of Marketing
    Research, 42(4), 415-430.
    """
    if time_unit not in PERIODS_PER_MONTH:
        raise CRMError(
            f"time_unit must be 'D' (days) or 'W' (weeks), the unit of recency and T in the "
            f"summary, not {time_unit!r}"
        )
    if isinstance(horizon, bool) or not float(horizon).is_integer() or horizon < 1:
        raise CRMError(f"horizon is a whole number of months, at least 1, not {horizon!r}")
    if not (np.isfinite(discount_rate) and 0 <= discount_rate < 1):
        raise CRMError(
            f"discount_rate is a monthly rate between 0 and 1 (0.01 = 1 % a month), not "
            f"{discount_rate!r}; convert an annual rate with annual_to_monthly_rate"
        )
    values = _summary_columns(
        _no_spend_is_zero(summary),
        (s.FREQUENCY, s.RECENCY, s.T, s.MONETARY_VALUE),
        "customer_lifetime_value",
    )
    if isinstance(margin, pd.Series):
        margin_values = margin.reindex(summary.index).to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(margin_values)
        if bad.any():
            raise DataError(
                f"customer_lifetime_value: margin is missing for {_rows(summary.index, bad)}",
                column="margin",
            )
    else:
        if not (np.isfinite(margin) and 0 <= margin <= 1):
            raise CRMError(f"margin is a share of spend between 0 and 1, not {margin!r}")
        margin_values = float(margin)
    x, tx, T = values[s.FREQUENCY], values[s.RECENCY], values[s.T]
    spend = np.asarray(gamma_gamma.expected_spend(x, values[s.MONETARY_VALUE]), dtype=float)
    per_month = PERIODS_PER_MONTH[time_unit]
    clv = np.zeros(len(summary))
    previous = np.zeros(len(summary))
    for month in range(1, int(horizon) + 1):
        cumulative = np.asarray(beta_geo.expected_purchases(month * per_month, x, tx, T))
        clv += (cumulative - previous) / (1.0 + discount_rate) ** month
        previous = cumulative
    return pd.Series(margin_values * spend * clv, index=summary.index, name=CLV)


def historical_clv(summary: pd.DataFrame) -> pd.Series:
    """Value to date of each customer: margin, or revenue where margin is missing.

    The backward-looking counterpart of CLV: the "past customer value" of
    Kumar & Reinartz, *Customer Relationship Management: Concept, Strategy,
    and Tools* (Springer, 3rd ed. 2018), chapter on customer value metrics,
    here as a plain sum (not compounded to today's money).

    Parameters
    ----------
    summary : pandas.DataFrame
        With ``margin`` and/or ``revenue`` (e.g. from
        :func:`crmlib.analytics.summary.customer_summary`).

    Returns
    -------
    pandas.Series
        Named ``historical_clv``, indexed like ``summary``.
    """
    if not isinstance(summary, pd.DataFrame):
        raise DataError("historical_clv needs a customer summary DataFrame")
    if s.MARGIN not in summary and s.REVENUE not in summary:
        raise DataError(
            f"historical_clv: the summary has neither {s.MARGIN!r} nor {s.REVENUE!r}",
            column=s.MARGIN,
        )
    value = (
        summary[s.MARGIN].astype(float)
        if s.MARGIN in summary
        else pd.Series(np.nan, index=summary.index)
    )
    if s.REVENUE in summary:
        value = value.fillna(summary[s.REVENUE].astype(float))
    missing = value.isna().to_numpy()
    if missing.any():
        raise DataError(
            f"historical_clv: neither margin nor revenue is known for "
            f"{_rows(summary.index, missing)}",
            column=s.REVENUE,
        )
    return value.rename(HISTORICAL_CLV)


# --- calibration / holdout -----------------------------------------------------------------


def calibration_holdout_split(
    transactions: pd.DataFrame, calibration_end, observation_end, time_unit: str = "W"
) -> pd.DataFrame:
    """Customer summary of a calibration period plus the purchases of the holdout period.

    The calibration summary is :func:`crmlib.analytics.summary.customer_summary` of the
    transactions up to ``calibration_end`` (inclusive, as-of that day); only
    customers who bought by then are kept. The holdout is the period after
    it up to ``observation_end`` (inclusive), as in the validation of Fader,
    Hardie & Lee (2005a), section 4.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Order lines (customer_id, order_date, revenue, ...).
    calibration_end, observation_end : date-like
        Last day of the calibration period and of the holdout period.
    time_unit : {"D", "W"}, default "W"
        Unit of recency, T and the holdout duration.

    Returns
    -------
    pandas.DataFrame
        The calibration summary (indexed by customer_id) plus
        ``frequency_holdout`` (purchase occasions in the holdout: distinct
        days with a purchase, as in the summary) and ``duration_holdout``
        (its length in ``time_unit``).
    """
    from crmlib.analytics.summary import TIME_UNITS, customer_summary

    if time_unit not in PERIODS_PER_MONTH:
        raise CRMError(f"time_unit must be 'D' (days) or 'W' (weeks), not {time_unit!r}")
    try:
        cal_end = pd.Timestamp(calibration_end).normalize()
        obs_end = pd.Timestamp(observation_end).normalize()
    except (TypeError, ValueError) as exc:
        raise CRMError(f"calibration_end and observation_end must be dates ({exc})") from None
    if not obs_end > cal_end:
        raise CRMError(
            f"observation_end ({obs_end.date()}) must be after calibration_end ({cal_end.date()})"
        )
    if not isinstance(transactions, pd.DataFrame):
        raise DataError("calibration_holdout_split needs a transactions DataFrame")
    missing = [c for c in (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE) if c not in transactions]
    if missing:
        raise DataError(
            f"calibration_holdout_split: transactions lack the column(s) {', '.join(missing)}",
            column=missing[0],
        )
    days = pd.to_datetime(transactions[s.ORDER_DATE]).dt.normalize()
    calibration = customer_summary(
        transactions.loc[(days <= cal_end).to_numpy()], as_of=cal_end, time_unit=time_unit
    )
    holdout = ((days > cal_end) & (days <= obs_end) & (transactions[s.REVENUE] >= 0)).to_numpy()
    occasions = (
        pd.DataFrame(
            {s.CUSTOMER_ID: transactions[s.CUSTOMER_ID].to_numpy()[holdout], "day": days[holdout]}
        )
        .drop_duplicates()
        .groupby(s.CUSTOMER_ID)
        .size()
    )
    out = calibration.copy()
    out[FREQUENCY_HOLDOUT] = occasions.reindex(out.index, fill_value=0).astype(float)
    out[DURATION_HOLDOUT] = (obs_end - cal_end).days / TIME_UNITS[time_unit]
    return out


@dataclass(frozen=True)
class HoldoutMetrics:
    """How well a purchase model predicted the holdout period.

    Attributes
    ----------
    mae, rmse : float
        Mean absolute and root mean squared error of predicted vs actual
        holdout purchases per customer.
    by_frequency : pandas.DataFrame
        Indexed by calibration frequency (the last row, labelled e.g. "7+",
        pools the rest): ``customers``, mean ``actual`` and mean ``predicted``
        holdout purchases (Fader, Hardie & Lee 2005a, figure 4).
    """

    mae: float
    rmse: float
    by_frequency: pd.DataFrame


def holdout_metrics(model: BetaGeo, cal_holdout: pd.DataFrame, max_frequency: int = 7):
    """Compare a fitted model's predicted holdout purchases with the actual ones.

    Parameters
    ----------
    model : BetaGeo
        Fitted on the calibration part of ``cal_holdout``.
    cal_holdout : pandas.DataFrame
        From :func:`calibration_holdout_split`.
    max_frequency : int, default 7
        Calibration frequencies from this up are pooled in one row ("7+").

    Returns
    -------
    HoldoutMetrics
    """
    values = _summary_columns(
        cal_holdout,
        (s.FREQUENCY, s.RECENCY, s.T, FREQUENCY_HOLDOUT, DURATION_HOLDOUT),
        "holdout_metrics",
    )
    predicted = np.asarray(
        model.expected_purchases(
            values[DURATION_HOLDOUT], values[s.FREQUENCY], values[s.RECENCY], values[s.T]
        )
    )
    actual = values[FREQUENCY_HOLDOUT]
    error = predicted - actual
    x = values[s.FREQUENCY].astype(int)
    group = np.where(x >= max_frequency, f"{max_frequency}+", x.astype(str))
    order = [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]
    table = (
        pd.DataFrame({s.FREQUENCY: group, ACTUAL: actual, PREDICTED: predicted})
        .groupby(s.FREQUENCY)
        .agg(
            **{
                CUSTOMERS: (ACTUAL, "size"),
                ACTUAL: (ACTUAL, "mean"),
                PREDICTED: (PREDICTED, "mean"),
            }
        )
    )
    table = table.reindex([k for k in order if k in table.index])
    return HoldoutMetrics(
        mae=float(np.mean(np.abs(error))),
        rmse=float(np.sqrt(np.mean(error**2))),
        by_frequency=table,
    )
