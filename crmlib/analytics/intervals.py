"""Interval estimators for proportions: the workbook's one place for them.

Wilson's score interval and Newcombe's interval for a difference of two proportions (QCi's
campaign lift, experience tables), and Jeffreys' interval (IDIC's response rates). Each
cites its source; the tests check them against published worked examples.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from scipy.stats import norm

from crmlib.errors import CRMError


def z_value(level: float) -> float:
    if not 0 < level < 1:
        raise CRMError(f"level must be a confidence level between 0 and 1, not {level!r}")
    return float(norm.ppf(0.5 + level / 2))


def _counts(x, n) -> tuple[int, int]:
    if n < 1 or x < 0 or x > n:
        raise CRMError(f"a proportion needs 0 <= successes <= trials and trials >= 1, got {x}/{n}")
    return int(x), int(n)


def wilson_interval(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a proportion x / n.

    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` with
    ``p = x / n`` and ``z`` the normal quantile of the level (Wilson 1927,
    "Probable inference, the law of succession, and statistical inference",
    *JASA* 22, 209-212; Newcombe 1998, *Statistics in Medicine* 17, 857-872,
    method 3).
    """
    x, n = _counts(x, n)
    z = z_value(level)
    p = x / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return (centre - half) / scale, (centre + half) / scale


def proportion_difference_ci(
    x1: int, n1: int, x2: int, n2: int, level: float = 0.95, method: str = "newcombe"
) -> tuple[float, float, float]:
    """Difference of two independent proportions x1/n1 - x2/n2 and its confidence interval.

    ``method="newcombe"``: Newcombe's hybrid score interval (Newcombe 1998,
    "Interval estimation for the difference between independent
    proportions: comparison of eleven methods", *Statistics in Medicine* 17,
    873-890, method 10). With Wilson intervals (l1, u1) and (l2, u2) of the
    two proportions and d = p1 - p2::

        low  = d - sqrt((p1 - l1)² + (u2 - p2)²)
        high = d + sqrt((u1 - p1)² + (p2 - l2)²)

    It keeps its coverage for small groups and proportions near 0 or 1,
    where the Wald interval does not.

    ``method="wald"``: ``d ± z·sqrt(p1(1-p1)/n1 + p2(1-p2)/n2)`` (Newcombe
    1998, method 1), the textbook interval.

    Returns
    -------
    (difference, low, high)
    """
    x1, n1 = _counts(x1, n1)
    x2, n2 = _counts(x2, n2)
    if method not in METHODS:
        raise CRMError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    if method == "wald":
        z = z_value(level)
        half = z * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
        return d, d - half, d + half
    l1, u1 = wilson_interval(x1, n1, level)
    l2, u2 = wilson_interval(x2, n2, level)
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high

METHODS = ("newcombe", "wald")


def jeffreys_interval(successes, trials, level: float = 0.9):
    """Jeffreys interval for proportions k / n: quantiles of Beta(k + 1/2, n - k + 1/2), with the lower limit 0
    when k = 0 and the upper limit 1 when k = n (Brown, Cai & DasGupta 2001, sec. 4.1.2)."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    tail = (1 - level) / 2
    lower = np.where(k == 0, 0.0, stats.beta.ppf(tail, k + 0.5, n - k + 0.5))
    upper = np.where(k == n, 1.0, stats.beta.ppf(1 - tail, k + 0.5, n - k + 0.5))
    return lower, upper
