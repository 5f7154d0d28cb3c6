"""BG/NBD fit: crmlib.analytics.clv.BetaGeo against lifetimes' BetaGeoFitter on the same customers.

Draws a customer summary from a BG/NBD model with the published CDNOW
parameters (Fader, Hardie & Lee 2005), with ages and recencies in whole days
expressed in weeks, as a real summary has them, then fits both libraries with
their default settings on the same rows in this one run and prints both
times, the speed ratio (target: crmlib at least 5x faster), the largest
absolute difference between the two sets of parameters (target: <= 1e-3) and
between their standard errors (crmlib's ``summary_`` against lifetimes'
``standard_errors_``, both from the Hessian at the optimum; target: <= 1 % of
lifetimes'). crmlib's time includes its standard errors.

lifetimes is not a dependency of crmlib; see benchmarks/README.md for the
separate environment this script runs in.

    python benchmarks/bench_bgnbd.py [--customers 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

from crmlib.analytics.clv import STANDARD_ERROR, BetaGeo
from crmlib.data import schema as s

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
SPEED_TARGET = 5.0
PARAMETER_TARGET = 1e-3
SE_TARGET = 0.01  # relative


def simulated_summary(customers: int, seed: int):
    """A day-resolution summary in weeks: ages of 1 to 78 weeks, whole days."""
    rng = np.random.default_rng(seed)
    age_days = rng.integers(7, 547, customers)
    summary = BetaGeo.from_params(**PUBLISHED).simulate(customers, age_days / 7.0, seed=rng)
    summary[s.RECENCY] = np.floor(summary[s.RECENCY] * 7.0) / 7.0
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lifetimes import BetaGeoFitter
    except ImportError:
        sys.exit("lifetimes is missing: pip install lifetimes 'setuptools<81' (in a separate venv)")

    summary = simulated_summary(args.customers, args.seed)
    distinct = len(summary.drop_duplicates([s.FREQUENCY, s.RECENCY, s.T]))
    print(f"{len(summary):,} simulated customers ({distinct:,} distinct frequency/recency/T)")

    start = time.perf_counter()
    ours = BetaGeo().fit(summary)
    ours_seconds = time.perf_counter() - start

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = BetaGeoFitter().fit(summary[s.FREQUENCY], summary[s.RECENCY], summary[s.T])
    theirs_seconds = time.perf_counter() - start

    difference = max(abs(ours.params_[k] - float(theirs.params_[k])) for k in PUBLISHED)
    our_se = ours.summary_[STANDARD_ERROR]
    their_se = {k: float(theirs.standard_errors_[k]) for k in PUBLISHED}
    se_difference = max(abs(our_se[k] / their_se[k] - 1.0) for k in PUBLISHED)
    ratio = theirs_seconds / ours_seconds
    print(
        "crmlib.analytics.clv.BetaGeo  "
        + " ".join(f"{k}={v:.5f}" for k, v in ours.params_.items())
        + f"  {ours_seconds:.2f} s"
    )
    print(
        "lifetimes           "
        + " ".join(f"{k}={float(theirs.params_[k]):.5f}" for k in PUBLISHED)
        + f"  {theirs_seconds:.2f} s"
    )
    print("standard errors, crmlib    " + " ".join(f"{k}={our_se[k]:.5f}" for k in PUBLISHED))
    print("standard errors, lifetimes " + " ".join(f"{k}={their_se[k]:.5f}" for k in PUBLISHED))
    print(f"speed ratio (lifetimes / crmlib): {ratio:.1f}x (target >= {SPEED_TARGET:g}x)")
    print(f"max abs parameter difference: {difference:.2e} (target <= {PARAMETER_TARGET:g})")
    print(f"max relative standard error difference: {se_difference:.2e} (target <= {SE_TARGET:g})")
    met = ratio >= SPEED_TARGET and difference <= PARAMETER_TARGET and se_difference <= SE_TARGET
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
