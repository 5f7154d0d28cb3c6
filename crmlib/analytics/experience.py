"""Customer experience: NPS and CSAT, defined once for every lesson.

The Net Promoter Score (Reichheld 2003) and CSAT (share of satisfied answers, top two boxes of a
1-5 scale), per group and with Wilson intervals (:mod:`crmlib.analytics.intervals`), and how
retention follows an experience (:func:`retention_after`). QCi's customer-experience component,
the value chain's customer intimacy and Payne & Frow's performance assessment all use these.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from crmlib.analytics.intervals import (
    z_value,
)
from crmlib.analytics.lapse import LAPSED_AFTER_DAYS, check_days
from crmlib.analytics.orders import purchase_lines as _purchases
from crmlib.data import schema as s
from crmlib.data.checks import need_columns as _need
from crmlib.errors import CRMError, DataError

# --- names this module defines ------------------------------------------------------------
ALL_CHANNELS = "all"
UNKNOWN = "unknown"
GROUP = "group"
CI_LOW, CI_HIGH = "ci_low", "ci_high"
N = "n"
NPS_CLASS = "nps_class"
PROMOTERS, PASSIVES, DETRACTORS = "promoters", "passives", "detractors"
MEAN_CSAT = "mean_csat"
SATISFIED = "satisfied"
SERVICE = "service"
NO_TICKET = "no rated ticket before"
SERVICE_POOR, SERVICE_FAIR, SERVICE_GOOD = "poor (<3)", "fair (3-<4)", "good (4-5)"
RETAINED = "retained"
PROMOTER_MIN, DETRACTOR_MAX = 9, 6  # Reichheld (2003): promoters 9-10, detractors 0-6
SATISFIED_MIN = 4  # CSAT 1-5: "satisfied" = the top two boxes, 4 and 5


def nps_class(scores) -> pd.Series:
    """Promoter (9-10), passive (7-8) or detractor (0-6) per answer; NaN stays NaN.

    The classes of the Net Promoter Score (Reichheld 2003, "The one number
    you need to grow", *Harvard Business Review* 81(12), 46-54).
    """
    scores = pd.Series(scores, dtype="float64")
    out = pd.Series(np.nan, index=scores.index, dtype="object")
    out[scores >= PROMOTER_MIN] = PROMOTERS
    out[(scores > DETRACTOR_MAX) & (scores < PROMOTER_MIN)] = PASSIVES
    out[scores <= DETRACTOR_MAX] = DETRACTORS
    return out


def nps(scores) -> float:
    """Net Promoter Score: % promoters (9-10) - % detractors (0-6), from -100 to 100.

    Reichheld 2003, "The one number you need to grow", *Harvard Business
    Review* 81(12), 46-54. Missing answers are left out; NaN without any.
    """
    scores = pd.Series(scores, dtype="float64").dropna()
    if ((scores < 0) | (scores > 10)).any():
        raise DataError("NPS answers must lie from 0 to 10", column=s.NPS)
    if scores.empty:
        return float("nan")
    return float(100 * ((scores >= PROMOTER_MIN).mean() - (scores <= DETRACTOR_MAX).mean()))


def _group_labels(frame: pd.DataFrame, by, what: str) -> pd.Series:
    if by is None:
        return pd.Series(ALL_CHANNELS, index=frame.index)
    if isinstance(by, str):
        _need(frame, what, (by,))
        return frame[by].astype("object").fillna(UNKNOWN)
    if isinstance(by, pd.Series):
        return frame[s.CUSTOMER_ID].map(by).astype("object").fillna(UNKNOWN)
    raise CRMError("by must be None, a column name, or a Series mapping customer_id to a group")


def nps_table(surveys: pd.DataFrame, by=None, level: float = 0.95) -> pd.DataFrame:
    """NPS per group with its confidence interval.

    The NPS of n answers with promoter share P and detractor share D is
    ``100 (P - D)``; its standard error follows from the multinomial
    variances and covariance of P and D,
    ``100 sqrt((P + D - (P - D)²) / n)`` (Agresti, *Categorical Data
    Analysis*, 3rd ed., Wiley 2013, ch. 1, on the multinomial distribution),
    and the interval is the estimate ± z standard errors, kept within -100 to 100.

    Parameters
    ----------
    surveys : DataFrame
        With customer_id and nps.
    by : None, str or Series
        None: one row for everyone; a column of ``surveys``; or a Series
        mapping customer_id to a group (e.g. :func:`crmlib.analytics.orders.main_channel`).
    level : float, default 0.95

    Returns
    -------
    DataFrame
        Index the group; columns n, promoters, passives, detractors (shares),
        nps, ci_low, ci_high; groups by descending n.
    """
    _need(surveys, "surveys", (s.CUSTOMER_ID, s.NPS))
    answered = surveys.dropna(subset=[s.NPS])
    z = z_value(level)
    group = _group_labels(answered, by, "surveys")
    cls = nps_class(answered[s.NPS])
    rows = []
    for label, idx in group.groupby(group, sort=False).groups.items():
        c = cls.loc[idx]
        n = len(c)
        p, d = float((c == PROMOTERS).mean()), float((c == DETRACTORS).mean())
        se = 100 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
        score = 100 * (p - d)
        rows.append(
            {
                GROUP: label,
                N: n,
                PROMOTERS: p,
                PASSIVES: float((c == PASSIVES).mean()),
                DETRACTORS: d,
                s.NPS: score,
                CI_LOW: max(score - z * se, -100.0),
                CI_HIGH: min(score + z * se, 100.0),
            }
        )
    columns = [GROUP, N, PROMOTERS, PASSIVES, DETRACTORS, s.NPS, CI_LOW, CI_HIGH]
    table = pd.DataFrame(rows, columns=columns).set_index(GROUP)
    return table.sort_values(N, ascending=False, kind="stable")


def csat_table(tickets: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """CSAT per group of tickets: answers, mean score and share satisfied.

    CSAT is asked on a 1-5 scale after a service contact; the share
    *satisfied* is the share of answers of 4 or 5 (the "top two boxes":
    Farris, Bendle, Pfeifer & Reibstein, *Marketing Metrics*, 2nd ed.,
    Pearson 2010, ch. 2, customer satisfaction).

    Parameters
    ----------
    tickets : DataFrame
        With csat (empty = not answered).
    by : str, optional
        A column of ``tickets`` to group by: ``channel`` or ``category``
        (the touchpoint: delivery, product, billing, ...).

    Returns
    -------
    DataFrame
        Index the group; columns tickets, n (answers), answer_rate, mean_csat,
        satisfied; groups by descending number of answers.
    """
    _need(tickets, "tickets", (s.CSAT,))
    group = _group_labels(tickets, by, "tickets") if by else pd.Series(ALL_CHANNELS, tickets.index)
    rows = []
    for label, idx in group.groupby(group, sort=False).groups.items():
        answers = tickets.loc[idx, s.CSAT].dropna()
        rows.append(
            {
                GROUP: label,
                "tickets": len(idx),
                N: len(answers),
                "answer_rate": len(answers) / len(idx),
                MEAN_CSAT: float(answers.mean()) if len(answers) else np.nan,
                SATISFIED: float((answers >= SATISFIED_MIN).mean()) if len(answers) else np.nan,
            }
        )
    columns = [GROUP, "tickets", N, "answer_rate", MEAN_CSAT, SATISFIED]
    table = pd.DataFrame(rows, columns=columns).set_index(GROUP)
    return table.sort_values(N, ascending=False, kind="stable")


def nps_by_service(
    surveys: pd.DataFrame, tickets: pd.DataFrame, level: float = 0.95
) -> pd.DataFrame:
    """NPS of respondents grouped by the service they had received before answering.

    Each survey answer is matched to the same customer's tickets opened
    before the survey date that carry a CSAT answer; the respondent's
    service is the mean of those CSAT scores, banded as ``poor (<3)``,
    ``fair (3-<4)`` and ``good (4-5)``, or ``no rated ticket before``.
    The table is :func:`nps_table` by that band. It shows the association
    only: customers who contact service differ from those who do not.

    Returns
    -------
    DataFrame
        As :func:`nps_table`, index the service band.
    """
    _need(surveys, "surveys", (s.RESPONSE_ID, s.CUSTOMER_ID, s.DATE, s.NPS))
    _need(tickets, "tickets", (s.CUSTOMER_ID, s.OPENED_AT, s.CSAT))
    answers = surveys.dropna(subset=[s.NPS])
    rated = tickets.dropna(subset=[s.CSAT])[[s.CUSTOMER_ID, s.OPENED_AT, s.CSAT]]
    pairs = answers[[s.RESPONSE_ID, s.CUSTOMER_ID, s.DATE]].merge(rated, on=s.CUSTOMER_ID)
    before = pairs.loc[pairs[s.OPENED_AT] < pairs[s.DATE]]
    mean = before.groupby(s.RESPONSE_ID)[s.CSAT].mean()
    score = answers[s.RESPONSE_ID].map(mean)
    band = pd.Series(NO_TICKET, index=answers.index, dtype="object")
    band[score < 3] = SERVICE_POOR
    band[(score >= 3) & (score < 4)] = SERVICE_FAIR
    band[score >= 4] = SERVICE_GOOD
    return nps_table(answers.assign(**{SERVICE: band}), by=SERVICE, level=level)


def retention_after(
    events: pd.DataFrame,
    transactions: pd.DataFrame,
    by: str,
    date: str,
    inactivity_days: int = LAPSED_AFTER_DAYS,
    as_of=None,
) -> pd.DataFrame:
    """Share of customers who bought again within ``inactivity_days`` after an event, per group.

    An event is a survey answer or a rated ticket; ``by`` groups them (an
    NPS class, a CSAT score). Retained = a purchase in the
    ``inactivity_days`` after the event's date, i.e. not churned by the
    inactivity rule of :func:`churn_status` one rule-length later. Events
    less than ``inactivity_days`` before ``as_of`` are left out: their
    customers have not had the full time to come back.

    This measures the link between what customers say and what they do
    (Reichheld 2003, *Harvard Business Review* 81(12) argued NPS predicts
    growth; Keiningham, Cooil, Andreassen & Aksoy 2007, "A longitudinal
    examination of net promoter and firm revenue growth", *Journal of
    Marketing* 71(3), found it predicts no better than other satisfaction
    measures). It is an association, not an effect.

    Returns
    -------
    DataFrame
        Index the group; columns n (events judged) and retained (share).
    """
    days = check_days(inactivity_days)
    _need(events, "events", (s.CUSTOMER_ID, by, date))
    bought, when = _purchases(transactions, as_of)
    dated = events.dropna(subset=[by, date])
    dated = dated.loc[dated[date].dt.normalize() + pd.Timedelta(days=days) <= when]
    if dated.empty:
        return pd.DataFrame(columns=[N, RETAINED], index=pd.Index([], name=by))
    ev = dated[[s.CUSTOMER_ID, by, date]].reset_index(drop=True).rename_axis("_event").reset_index()
    pairs = ev.merge(bought[[s.CUSTOMER_ID, s.ORDER_DATE]], on=s.CUSTOMER_ID)
    start = pairs[date].dt.normalize()
    inside = (pairs[s.ORDER_DATE] > start) & (
        pairs[s.ORDER_DATE] <= start + pd.Timedelta(days=days)
    )
    retained = ev["_event"].isin(pairs.loc[inside, "_event"])
    grouped = pd.DataFrame({by: ev[by], RETAINED: retained}).groupby(by)[RETAINED]
    return grouped.agg(**{N: "size", RETAINED: "mean"})
