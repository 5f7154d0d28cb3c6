"""The one small base of the CLV estimators, and their maximum-likelihood fit.

Every estimator of :mod:`crmlib.analytics.clv` follows scikit-learn's
conventions (Buitinck et al. 2013, "API design for machine learning software:
experiences from the scikit-learn project", section 2):

- ``__init__`` stores settings only;
- ``fit(summary)`` learns from data and returns ``self``;
- what was learned ends in an underscore (``params_``, ``covariance_``, ...);
- asking an unfitted model for a prediction or a fitted value raises
  :class:`crmlib.errors.NotFittedError`;
- ``summary_`` is a table of each parameter's estimate, standard error and
  95 % bounds (:meth:`Estimator.summary_`).

Standard errors are the usual maximum-likelihood ones: the covariance of the
estimates is the inverse of the observed information, the Hessian of the
negative log-likelihood at the optimum (Casella & Berger, *Statistical
Inference*, 2nd ed. 2002, sec. 10.1.3). The models are fitted on the log of
their parameters, so :func:`covariance_from_hessian` takes that Hessian in
the log parameters, by central differences of the analytic gradient, and
carries it to the parameters themselves by the delta method (Casella & Berger,
sec. 5.5.4): with theta = exp(phi), Cov(theta) = D Cov(phi) D, D = diag(theta).
The diagonal is what lifetimes reports (``BaseFitter._compute_variance_matrix``:
``params**2 * inv(hessian) / n``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize

from crmlib.errors import ConvergenceWarning, CRMError, NotFittedError

# Columns of Estimator.summary_.
ESTIMATE = "estimate"
STANDARD_ERROR = "standard_error"
LOWER_95 = "lower_95"
UPPER_95 = "upper_95"
PARAMETER = "parameter"  # its index name
Z_95 = 1.96  # two-sided 95 % quantile of the standard normal, rounded as in lifetimes


class Estimator:
    """Base of the CLV estimators: fitted checks and the parameter table.

    A subclass names its parameters in ``_param_names`` and its ``fit`` sets
    ``params_`` (a dict, parameter -> estimate) and, when the model was
    fitted on data, ``covariance_`` (a DataFrame over the same names).
    """

    _param_names: tuple[str, ...] = ()

    def _require_fitted(self, attribute: str = "params_"):
        """The fitted ``attribute``; NotFittedError when fit has not set it."""
        value = getattr(self, attribute, None)
        if value is None:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(summary) first"
            )
        return value

    def _fitted_params(self) -> dict[str, float]:
        """The fitted parameters in ``_param_names`` order, as floats."""
        params = self._require_fitted()
        return {k: float(params[k]) for k in self._param_names}

    def _set_maximum_likelihood_fit(self, objective, result, n: float) -> np.ndarray:
        """Store ``params_``, ``covariance_`` and ``n_iter_`` of a fit on the log parameters.

        ``objective`` is what was minimised: the mean negative log-likelihood
        over ``n`` customers (plus any penalty) as a function of the log
        parameters, returning (value, gradient). Returns the parameters.
        """
        params = np.exp(result.x)
        names = list(self._param_names)
        self.params_ = dict(zip(names, map(float, params), strict=True))
        self.covariance_ = pd.DataFrame(
            covariance_from_hessian(objective, result.x, n), index=names, columns=names
        )
        self.n_iter_ = int(result.nit)
        return params

    @property
    def summary_(self) -> pd.DataFrame:
        """Each parameter's estimate, standard error and 95 % bounds.

        The standard error is the square root of the diagonal of
        ``covariance_`` (the inverse Hessian of the negative log-likelihood at
        the optimum, see :func:`covariance_from_hessian`); the bounds are
        estimate -/+ 1.96 standard errors (a Wald interval, as lifetimes'
        ``summary``). A model made from known parameters (``from_params``) has
        no standard errors: they are NaN.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``parameter``; columns ``estimate``, ``standard_error``,
            ``lower_95``, ``upper_95``.

        Raises
        ------
        crmlib.errors.NotFittedError
            The model has no parameters yet.
        """
        params = self._fitted_params()
        covariance = getattr(self, "covariance_", None)
        if covariance is None:
            variance = np.full(len(params), np.nan)
        else:
            variance = np.diag(covariance.loc[list(params), list(params)].to_numpy(dtype=float))
        se = np.sqrt(np.where(variance >= 0, variance, np.nan))
        estimate = np.array(list(params.values()))
        table = pd.DataFrame(
            {
                ESTIMATE: estimate,
                STANDARD_ERROR: se,
                LOWER_95: estimate - Z_95 * se,
                UPPER_95: estimate + Z_95 * se,
            },
            index=pd.Index(list(params), name=PARAMETER),
        )
        return table


class MaximumLikelihoodEstimator(Estimator):
    """Base of the models fitted by maximum likelihood: optimiser settings and known parameters.

    A subclass names itself in ``_model`` (for messages, e.g. "BG/NBD") and its
    parameters in ``_param_names``, and fits with :func:`maximise` using
    ``self.tol`` and ``self.maxiter``.

    Parameters
    ----------
    tol : float, optional
        Gradient tolerance of the BFGS optimiser (on the mean negative
        log-likelihood per customer, with respect to the log parameters);
        default the model's ``_default_tol``.
    maxiter : int, default 1000
        Iteration limit of the optimiser.
    """

    _model: str = ""
    _default_tol: float = 1e-7

    def __init__(self, tol: float | None = None, maxiter: int = 1000):
        self.tol = self._default_tol if tol is None else tol
        self.maxiter = maxiter

    @classmethod
    def from_params(cls, *values: float, **named: float):
        """A model holding known parameters (e.g. published ones, or to simulate from).

        The parameters in ``_param_names`` order, by name, or both (e.g.
        ``BetaGeo.from_params(0.243, 4.414, 0.793, 2.426)`` or
        ``BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)``);
        every parameter of these models is a positive finite number.

        Raises
        ------
        crmlib.errors.CRMError
            A parameter missing, unknown, given twice, or not positive.
        """
        names = cls._param_names
        if len(values) > len(names):
            raise CRMError(f"{cls._model} has {len(names)} parameters ({', '.join(names)})")
        given = dict(zip(names, values, strict=False))
        unknown = sorted(set(named) - set(names))
        twice = sorted(set(named) & set(given))
        missing = [n for n in names if n not in given and n not in named]
        for problem, which in (("unknown", unknown), ("given twice", twice), ("missing", missing)):
            if which:
                raise CRMError(f"{cls._model} parameter(s) {problem}: {', '.join(which)}")
        given.update(named)
        for name in names:
            value = given[name]
            if not (np.isfinite(value) and value > 0):
                raise CRMError(
                    f"{cls._model} parameter {name} must be a positive number, not {value}"
                )
        instance = cls()
        instance.params_ = {name: float(given[name]) for name in names}
        return instance


class PenalizedEstimator(MaximumLikelihoodEstimator):
    """A :class:`MaximumLikelihoodEstimator` with an L2 penalty on its parameters.

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty on the parameters, added to the mean negative
        log-likelihood (as lifetimes' ``penalizer_coef``). 0 is plain maximum
        likelihood and reproduces the published fits.
    tol, maxiter
        As :class:`MaximumLikelihoodEstimator`.
    """

    def __init__(self, penalizer: float = 0.0, tol: float | None = None, maxiter: int = 1000):
        super().__init__(tol=tol, maxiter=maxiter)
        self.penalizer = penalizer


def maximise(objective, x0: np.ndarray, tol: float, maxiter: int, model: str):
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


def compress(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Identical rows of ``columns`` as one row each, with their count in ``weight``."""
    return frame.groupby(columns, sort=False).size().rename("weight").reset_index()


def covariance_from_hessian(objective, log_params: np.ndarray, n: float, step: float = 1e-5):
    """Covariance of the parameters theta = exp(log_params) at a maximum-likelihood fit.

    The Hessian H of the total negative log-likelihood in the log parameters
    phi is taken by central differences of the analytic gradient::

        H[:, i] = n * (g(phi + h e_i) - g(phi - h e_i)) / (2 h),   then (H + H') / 2

    with g the gradient of ``objective`` (the MEAN negative log-likelihood
    over ``n`` customers, so n g is the total's) and h = ``step``, a relative
    step in theta. Then Cov(phi) = H^-1 (the inverse observed information)
    and, by the delta method, Cov(theta) = D H^-1 D with D = diag(theta).

    Returns
    -------
    numpy.ndarray
        k x k covariance matrix; all NaN when H is not positive definite
        (the optimum is not a proper maximum, e.g. a parameter ran off to 0
        or infinity), as no standard error can then be given.
    """
    log_params = np.asarray(log_params, dtype=float)
    k = log_params.size
    hessian = np.empty((k, k))
    for i in range(k):
        shift = np.zeros(k)
        shift[i] = step
        hessian[:, i] = (objective(log_params + shift)[1] - objective(log_params - shift)[1]) / (
            2.0 * step
        )
    hessian = n * (hessian + hessian.T) / 2.0
    try:
        np.linalg.cholesky(hessian)
        inverse = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return np.full((k, k), np.nan)
    theta = np.exp(log_params)
    return inverse * np.outer(theta, theta)
