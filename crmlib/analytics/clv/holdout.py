"""Calibration/holdout validation of a purchase model (Fader, Hardie & Lee 2005a, section 4).

:func:`calibration_holdout_split` builds the customer summary of a
calibration period and counts each customer's purchases in the holdout period
after it; :func:`holdout_metrics` compares a fitted model's predicted holdout
purchases with those counts; :func:`choose_purchase_model` fits every
non-contractual purchase model (BG/NBD, Pareto/NBD) on the calibration period
and keeps the first (BG/NBD) unless another predicts the holdout significantly
better (a paired test on per-customer squared errors, Diebold & Mariano 1995);
:func:`holdout_tracking` and
:func:`cumulative_repeat_tracking` give the cumulative purchases over the
holdout and over the whole calibration + holdout window (the paper's
tracking chart).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from crmlib.analytics.clv._inputs import summary_columns
from crmlib.analytics.clv.base import Estimator
from crmlib.analytics.clv.beta_geo import BetaGeo
from crmlib.analytics.clv.pareto_nbd import ParetoNBD
from crmlib.analytics.summary import TIME_UNITS, customer_summary
from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

# Columns this module adds (not customer-summary columns, so not in crmlib.data.schema).
FREQUENCY_HOLDOUT = "frequency_holdout"
DURATION_HOLDOUT = "duration_holdout"
# Columns of HoldoutMetrics.by_frequency.
CUSTOMERS = "customers"
ACTUAL = "actual"
PREDICTED = "predicted"
# Columns of ModelChoice.table (one row per model, indexed by MODEL_NAME).
MODEL_NAME = "model"
LOG_LIKELIHOOD = "log_likelihood"
MAE = "mae"
RMSE = "rmse"
ACTUAL_TOTAL = "actual_total"
PREDICTED_TOTAL = "predicted_total"
TOTAL_ERROR = "total_error"
FREQUENCY_MAE = "frequency_mae"
TRACKING_MAE = "tracking_mae"
P_VALUE = "p_value"  # the paired test against the first model (NaN for that model)
#: A model replaces the first (default) one only when its holdout squared error is lower
#: with a paired-test p-value below this.
SIGNIFICANCE = 0.05
# Index of holdout_tracking.
PERIOD = "period"


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
    if time_unit not in TIME_UNITS:
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
    _check_transactions(transactions, "calibration_holdout_split")
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
    values = summary_columns(
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


def holdout_tracking(
    models: dict[str, Estimator],
    cal_holdout: pd.DataFrame,
    transactions: pd.DataFrame,
    calibration_end,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Cumulative repeat purchases over the holdout, actual and as each model predicts them.

    The holdout-period counterpart of the tracking plot of Fader, Hardie & Lee
    (2005a), figure 3: after k periods of the holdout, the actual cumulative
    purchase occasions of the calibration customers (distinct days with a
    purchase, as in :func:`calibration_holdout_split`) against the sum over
    those customers of each model's conditional expectation
    E[Y(k) | x, t_x, T].

    Parameters
    ----------
    models : dict
        Name -> purchase model fitted on the calibration part of ``cal_holdout``.
    cal_holdout : pandas.DataFrame
        From :func:`calibration_holdout_split` on ``transactions``.
    transactions : pandas.DataFrame
        The order lines the split was made from.
    calibration_end : date-like
        The split's ``calibration_end``.
    time_unit : {"D", "W"}, default "W"
        The split's time unit.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``period`` (1, 2, ... up to the holdout duration; its last
        row is the whole holdout), columns ``actual`` and one per model.
    """
    if time_unit not in TIME_UNITS:
        raise CRMError(f"time_unit must be 'D' (days) or 'W' (weeks), not {time_unit!r}")
    values = summary_columns(
        cal_holdout, (s.FREQUENCY, s.RECENCY, s.T, DURATION_HOLDOUT), "holdout_tracking"
    )
    duration = float(values[DURATION_HOLDOUT].max())
    periods = np.arange(1.0, np.floor(duration) + 1.0)
    if periods.size == 0 or periods[-1] < duration:
        periods = np.append(periods, duration)
    cal_end = pd.Timestamp(calibration_end).normalize()
    days = pd.to_datetime(transactions[s.ORDER_DATE]).dt.normalize()
    keep = (
        (days > cal_end)
        & (transactions[s.REVENUE] >= 0)
        & transactions[s.CUSTOMER_ID].isin(cal_holdout.index)
    ).to_numpy()
    occasions = pd.DataFrame(
        {s.CUSTOMER_ID: transactions[s.CUSTOMER_ID].to_numpy()[keep], "day": days[keep]}
    ).drop_duplicates()
    elapsed = ((occasions["day"] - cal_end).dt.days / TIME_UNITS[time_unit]).to_numpy()
    table = pd.DataFrame(
        {ACTUAL: [float((elapsed <= k).sum()) for k in periods]},
        index=pd.Index(periods, name=PERIOD),
    )
    for name, model in models.items():
        table[name] = [
            float(
                np.sum(
                    model.expected_purchases(k, values[s.FREQUENCY], values[s.RECENCY], values[s.T])
                )
            )
            for k in periods
        ]
    return table


@dataclass(frozen=True)
class ModelChoice:
    """Purchase models compared on a holdout, and the one chosen.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model (index ``model``): calibration ``log_likelihood``;
        per-customer holdout ``mae`` and ``rmse``; ``actual_total`` and
        ``predicted_total`` repeat purchases of all customers over the
        holdout (the end point of the cumulative tracking curve of Fader,
        Hardie & Lee 2005a, figure 3) and ``total_error`` = predicted / actual - 1;
        ``frequency_mae``, the mean absolute gap between mean actual and mean
        predicted holdout purchases over the calibration-frequency groups
        (the conditional expectations of figure 4); with transactions given,
        ``tracking_mae``, the mean absolute gap between the actual and
        predicted cumulative purchases over the holdout periods
        (:func:`holdout_tracking`).
    chosen : str
        Name of the chosen model (lowest ``mae``).
    reason : str
        The choice in one sentence.
    models : dict
        Name -> the model fitted on the calibration period.
    metrics : dict
        Name -> its :class:`HoldoutMetrics`.
    tracking : pandas.DataFrame or None
        :func:`holdout_tracking` of the fitted models, when transactions were given.
    """

    table: pd.DataFrame
    chosen: str
    reason: str
    models: dict[str, Estimator]
    metrics: dict[str, HoldoutMetrics]
    tracking: pd.DataFrame | None = None


def choose_purchase_model(
    cal_holdout: pd.DataFrame,
    models: dict[str, Estimator] | None = None,
    max_frequency: int = 7,
    transactions: pd.DataFrame | None = None,
    calibration_end=None,
    time_unit: str = "W",
) -> ModelChoice:
    """Fit each non-contractual purchase model on the calibration period; choose on the holdout.

    Each model is fitted on the calibration summary of ``cal_holdout``
    (``frequency``, ``recency``, ``T``) and predicts each customer's holdout
    purchases (:func:`holdout_metrics`); the model with the lowest
    per-customer holdout purchases are compared as in the holdout validation
    of Fader, Hardie & Lee (2005a), section 4, which compares BG/NBD and
    Pareto/NBD on CDNOW. The first model (BG/NBD) is kept unless another has a
    lower squared error per customer with a paired test's two-sided p-value
    below :data:`SIGNIFICANCE` (the loss-differential test of Diebold & Mariano
    1995, "Comparing predictive accuracy", Journal of Business & Economic
    Statistics 13(3), 253-263, across independent customers). Squared error
    is the loss a forecast of the *expected* count minimises; mean absolute
    error rewards forecasts near the median of mostly-zero holdout counts and
    so favours a model that writes one-time buyers off.

    Parameters
    ----------
    cal_holdout : pandas.DataFrame
        From :func:`calibration_holdout_split`.
    models : dict, optional
        Name -> unfitted estimator with ``fit`` and ``expected_purchases``.
        Default: ``{"BG/NBD": BetaGeo(), "Pareto/NBD": ParetoNBD()}``.
    max_frequency : int, default 7
        Passed to :func:`holdout_metrics`.
    transactions : pandas.DataFrame, optional
        The order lines of the split; with ``calibration_end`` (and the
        split's ``time_unit``) the cumulative tracking over the holdout is
        added (:func:`holdout_tracking`, column ``tracking_mae``).
    calibration_end : date-like, optional
        The split's ``calibration_end``; needed with ``transactions``.
    time_unit : {"D", "W"}, default "W"
        The split's time unit.

    Returns
    -------
    ModelChoice
    """
    if models is None:
        models = {"BG/NBD": BetaGeo(), "Pareto/NBD": ParetoNBD()}
    if not models:
        raise CRMError("choose_purchase_model needs at least one model")
    rows, fitted, all_metrics, squared = {}, {}, {}, {}
    observed = cal_holdout[FREQUENCY_HOLDOUT].to_numpy(dtype=float)
    for name, model in models.items():
        model.fit(cal_holdout)
        metrics = holdout_metrics(model, cal_holdout, max_frequency=max_frequency)
        actual = float(observed.sum())
        each = np.asarray(
            model.expected_purchases(
                cal_holdout[DURATION_HOLDOUT].to_numpy(dtype=float),
                cal_holdout[s.FREQUENCY].to_numpy(dtype=float),
                cal_holdout[s.RECENCY].to_numpy(dtype=float),
                cal_holdout[s.T].to_numpy(dtype=float),
            ),
            dtype=float,
        )
        squared[name] = (each - observed) ** 2
        predicted = float(each.sum())
        by_frequency = metrics.by_frequency
        rows[name] = {
            LOG_LIKELIHOOD: float(model.log_likelihood_),
            MAE: metrics.mae,
            RMSE: metrics.rmse,
            ACTUAL_TOTAL: actual,
            PREDICTED_TOTAL: predicted,
            TOTAL_ERROR: predicted / actual - 1.0 if actual > 0 else np.nan,
            FREQUENCY_MAE: float((by_frequency[PREDICTED] - by_frequency[ACTUAL]).abs().mean()),
        }
        fitted[name] = model
        all_metrics[name] = metrics
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = MODEL_NAME
    tracking = None
    if transactions is not None:
        if calibration_end is None:
            raise CRMError("choose_purchase_model: give calibration_end with transactions")
        tracking = holdout_tracking(fitted, cal_holdout, transactions, calibration_end, time_unit)
        table[TRACKING_MAE] = [
            float((tracking[name] - tracking[ACTUAL]).abs().mean()) for name in table.index
        ]
    default = next(iter(models))
    table[P_VALUE] = [
        np.nan if name == default else _paired_p_value(squared[default], squared[name])
        for name in table.index
    ]
    better = table[(table[P_VALUE] < SIGNIFICANCE) & (table[RMSE] < table.loc[default, RMSE])]
    chosen = str(better[RMSE].idxmin()) if len(better) else default
    others = [n for n in table.index if n != default]
    if chosen != default:
        reason = (
            f"{chosen} is chosen because it predicts each customer's holdout purchases "
            f"significantly better than {default} (root mean squared error "
            f"{table.loc[chosen, RMSE]:.4f} against {table.loc[default, RMSE]:.4f}; paired "
            f"test p = {table.loc[chosen, P_VALUE]:.3f})."
        )
    elif others:
        runner_up = min(others, key=lambda n: table.loc[n, RMSE])
        reason = (
            f"{default} is kept: {runner_up} does not predict each customer's holdout "
            f"purchases significantly better (root mean squared error "
            f"{table.loc[runner_up, RMSE]:.4f} against {table.loc[default, RMSE]:.4f}; paired "
            f"test p = {table.loc[runner_up, P_VALUE]:.3f})."
        )
    else:
        reason = (
            f"{chosen} is the only model compared (holdout RMSE {table.loc[chosen, RMSE]:.4f})."
        )
    return ModelChoice(
        table=table,
        chosen=chosen,
        reason=reason,
        models=fitted,
        metrics=all_metrics,
        tracking=tracking,
    )


def _paired_p_value(base: np.ndarray, other: np.ndarray) -> float:
    """Two-sided p-value that two forecasts' mean squared errors per customer are equal.

    The loss differential ``d = base - other`` per customer; with customers
    independent, ``z = mean(d) / (sd(d) / sqrt(n))`` is asymptotically normal
    (Diebold & Mariano 1995). Identical losses give 1.
    """
    d = np.asarray(base, dtype=float) - np.asarray(other, dtype=float)
    sd = float(np.std(d, ddof=1)) if len(d) > 1 else 0.0
    if sd == 0.0:
        return 1.0
    z = float(np.mean(d)) / (sd / np.sqrt(len(d)))
    return float(2.0 * norm.sf(abs(z)))


def cumulative_repeat_tracking(
    models: dict[str, Estimator],
    transactions: pd.DataFrame,
    observation_end,
    start=None,
    calibration_end=None,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Cumulative repeat purchases period by period, actual and as each model expects them.

    The tracking chart of Fader, Hardie & Lee (2005a), figure 2 (CDNOW: weeks
    1-78, the first 39 the calibration period). Period ``k`` ends on day
    ``7k - 1`` after ``start`` (weeks; ``k - 1`` for days), the day counted in.
    A customer whose first purchase fell on day ``d_i`` is ``(7k - 1 - d_i) / 7``
    weeks old at the end of period ``k``, the age convention of the BTYD
    summary (T = days from the first purchase to the end of the window / 7).

    - actual: the repeat purchase occasions (distinct days with a purchase,
      after the first purchase day, as in
      :func:`crmlib.analytics.summary.customer_summary`) made by the end of
      period ``k``;
    - model: the sum over customers of the unconditional expectation of
      repeat purchases in their first ``t`` periods, E[X(t)] (BG/NBD:
      Fader, Hardie & Lee 2005a, eq. 9; Pareto/NBD: Schmittlein, Morrison &
      Colombo 1987, eq. 17), at each customer's age ``t`` (0 before their
      first purchase): ``sum_i E[X(age_ik)]``.

    Parameters
    ----------
    models : dict
        Name -> fitted purchase model with ``expected_purchases_new(t)``
        (:class:`~crmlib.analytics.clv.BetaGeo`, :class:`~crmlib.analytics.clv.ParetoNBD`),
        usually fitted on the calibration period.
    transactions : pandas.DataFrame
        Order lines (customer_id, order_date, revenue). Lines with negative
        revenue (returns) are not purchases.
    observation_end : date-like
        Last day tracked (inclusive).
    start : date-like, optional
        Day 0 of period 1; default the first order date.
    calibration_end : date-like, optional
        When given, only customers whose first purchase is on or before it
        are tracked (the customers a model fitted on the calibration period
        knows), as in the paper's cohort.
    time_unit : {"D", "W"}, default "W"

    Returns
    -------
    pandas.DataFrame
        Indexed by ``period`` (1, 2, ...: every whole period up to
        ``observation_end``), columns ``actual`` and one per model.

    Raises
    ------
    crmlib.errors.CRMError
        Unknown time unit, a date that is not a date, or ``observation_end``
        before ``start``.
    crmlib.errors.DataError
        Transactions lacking a needed column.
    """
    if time_unit not in TIME_UNITS:
        raise CRMError(f"time_unit must be 'D' (days) or 'W' (weeks), not {time_unit!r}")
    _check_transactions(transactions, "cumulative_repeat_tracking")
    days = pd.to_datetime(transactions[s.ORDER_DATE]).dt.normalize()
    bought = (transactions[s.REVENUE] >= 0).to_numpy()
    try:
        day0 = days[bought].min() if start is None else pd.Timestamp(start).normalize()
        obs_end = pd.Timestamp(observation_end).normalize()
        cal_end = None if calibration_end is None else pd.Timestamp(calibration_end).normalize()
    except (TypeError, ValueError) as exc:
        raise CRMError(
            f"start, calibration_end and observation_end must be dates ({exc})"
        ) from None
    if obs_end < day0:
        raise CRMError(f"observation_end ({obs_end.date()}) is before start ({day0.date()})")
    occasions = pd.DataFrame(
        {s.CUSTOMER_ID: transactions[s.CUSTOMER_ID].to_numpy()[bought], "day": days[bought]}
    )
    occasions = occasions[(occasions["day"] >= day0) & (occasions["day"] <= obs_end)]
    occasions = occasions.drop_duplicates()
    first = occasions.groupby(s.CUSTOMER_ID)["day"].transform("min")
    if cal_end is not None:
        occasions = occasions[first <= cal_end]
        first = first[first <= cal_end]
    offset = (occasions["day"] - day0).dt.days.to_numpy()
    first_offset = (first - day0).dt.days.to_numpy()
    length = int(TIME_UNITS[time_unit])
    periods = np.arange(1, ((obs_end - day0).days + 1) // length + 1)
    period_end = periods * length - 1  # the last day of each period, counted from day 0
    repeat = offset[offset > first_offset]
    table = pd.DataFrame(
        {ACTUAL: np.searchsorted(np.sort(repeat), period_end, side="right").astype(float)},
        index=pd.Index(periods, name=PERIOD),
    )
    # customers who first bought on the same day share their expectation
    cohort_day, cohort_size = np.unique(first_offset[offset == first_offset], return_counts=True)
    for name, model in models.items():
        ages = np.clip((period_end[:, None] - cohort_day[None, :]) / length, 0.0, None)
        expected = np.asarray(model.expected_purchases_new(ages.ravel()), dtype=float)
        table[name] = expected.reshape(ages.shape) @ cohort_size.astype(float)
    return table


def _check_transactions(transactions, caller: str) -> None:
    """Order lines with a customer, an order date and a revenue, or a DataError naming them."""
    if not isinstance(transactions, pd.DataFrame):
        raise DataError(f"{caller} needs a transactions DataFrame")
    missing = [c for c in (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE) if c not in transactions]
    if missing:
        raise DataError(
            f"{caller}: transactions lack the column(s) {', '.join(missing)}", column=missing[0]
        )
