"""Lapsed: when a customer counts as gone, defined once for every lesson.

A customer has **lapsed** on a date when their last purchase lies more than
:data:`LAPSED_AFTER_DAYS` days before it: the "hiatus" heuristic of Wübben & von Wangenheim
(2008, "Instant customer base analysis: managerial heuristics often get it right", *Journal
of Marketing* 72(3), 82-93), which they found to predict future inactivity about as well as
a BTYD model. QCi's churn rate, the value chain's lifecycle stage "lapsed", the retention after
a survey or a ticket and Payne & Frow's retention KPIs all use this rule; a lesson may choose
another threshold for a client (a parameter), and then says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.errors import CRMError

LAPSED_AFTER_DAYS = 180  # six months without a purchase


def check_days(days, name: str = "inactivity_days") -> int:
    """A number of days as a positive whole number, or a :class:`CRMError` naming ``name``."""
    if isinstance(days, bool) or not isinstance(days, (int, np.integer)):
        raise CRMError(f"{name} must be a whole number of days, not {days!r}")
    if days < 1:
        raise CRMError(f"{name} must be at least 1, not {days}")
    return int(days)


def is_lapsed(days_since_last_purchase, after: int = LAPSED_AFTER_DAYS):
    """True where the last purchase lies more than ``after`` days back (the hiatus rule).

    Parameters
    ----------
    days_since_last_purchase : number, array or Series
        Days from each customer's last purchase to the date judged.
    after : int, default :data:`LAPSED_AFTER_DAYS`
    """
    after = check_days(after)
    if isinstance(days_since_last_purchase, pd.Series):
        return days_since_last_purchase > after
    return np.asarray(days_since_last_purchase) > after
