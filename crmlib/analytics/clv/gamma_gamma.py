"""The Gamma-Gamma model of spend per purchase: Fader, Hardie & Lee (2005b).

Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005b). RFM and CLV: Using
iso-value curves for customer base analysis. *Journal of Marketing Research*
42(4), 415-430, in the form of Hardie's note "The Gamma-Gamma model of
monetary value" (2013). Fitted by maximum likelihood (BFGS on the log
parameters, analytic gradient) on the repeat buyers of a customer summary.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import special

from crmlib.analytics.clv._inputs import (
    broadcast,
    check_btyd,
    no_spend_is_zero,
    rows_text,
    summary_columns,
    wrap,
)
from crmlib.analytics.clv.base import PenalizedEstimator, compress, maximise
from crmlib.data import schema as s
from crmlib.errors import CorrelationWarning, CRMError, DataError

_GG_PARAMS = ("p", "q", "v")


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


class GammaGamma(PenalizedEstimator):
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
    covariance_ : pandas.DataFrame
        Covariance of the estimates (inverse Hessian of the negative
        log-likelihood at the optimum).
    summary_ : pandas.DataFrame
        Estimate, standard error and 95 % bounds of each parameter.
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

    _model = "Gamma-Gamma"
    _param_names = _GG_PARAMS

    def __init__(
        self,
        penalizer: float = 0.0,
        tol: float | None = None,
        maxiter: int = 1000,
        correlation_threshold: float = 0.3,
    ):
        super().__init__(penalizer=penalizer, tol=tol, maxiter=maxiter)
        self.correlation_threshold = correlation_threshold

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
        GammaGamma
            ``self``, fitted.

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
        values = summary_columns(no_spend_is_zero(summary), cols, what)
        check_btyd({s.FREQUENCY: values[s.FREQUENCY]}, summary.index, what)
        repeat = values[s.FREQUENCY] > 0
        x, m = values[s.FREQUENCY][repeat], values[s.MONETARY_VALUE][repeat]
        if x.size == 0:
            raise DataError(f"{what}: no customer has a repeat purchase (frequency > 0)")
        bad = m <= 0
        if bad.any():
            raise DataError(
                f"{what}: column {s.MONETARY_VALUE!r} is zero or negative for "
                f"{rows_text(summary.index[repeat], bad)} among the repeat buyers; the model needs "
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
        rows = compress(pd.DataFrame({s.FREQUENCY: x, s.MONETARY_VALUE: m}), list(cols))
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
        result = maximise(objective, x0, self.tol, self.maxiter, self._model)
        params = self._set_maximum_likelihood_fit(objective, result, n)
        self.log_likelihood_ = float(w @ _gamma_gamma_loglik(params, xs, ms))
        self.n_customers_ = int(n)
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
        p, q, v = self._fitted_params().values()
        arrays, index, labels = broadcast(
            "GammaGamma.expected_spend", frequency=frequency, monetary_value=monetary_value
        )
        x, m = arrays["frequency"], arrays["monetary_value"]
        check_btyd({s.FREQUENCY: x}, labels, "GammaGamma.expected_spend")
        if ((x == 0) & ~(q > 1)).any():
            raise CRMError(
                f"the fitted q = {q:.3g} is not above 1, so the model's population mean spend "
                "is infinite: expected spend of customers with frequency 0 is undefined"
            )
        m = np.where(x > 0, m, 0.0)
        return wrap(p * (v + x * m) / (p * x + q - 1.0), index)
