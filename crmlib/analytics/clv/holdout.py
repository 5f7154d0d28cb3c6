"""Calibration/holdout validation of a purchase model (Fader, Hardie & Lee 2005a, section 4).

:func:`calibration_holdout_split` builds the customer summary of a
calibration period and counts each customer's purchases in the holdout period
after it; :func:`holdout_metrics` compares a fitted model's predicted holdout
purchases with those counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.analytics.clv._inputs import summary_columns
from crmlib.analytics.clv.beta_geo import BetaGeo
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
