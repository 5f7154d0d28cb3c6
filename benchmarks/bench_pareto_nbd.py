"""Pareto/NBD fit: crmlib.analytics.clv.ParetoNBD against lifetimes' ParetoNBDFitter.

Draws a customer summary from a Pareto/NBD model with the published CDNOW
parameters (r 0.5533, alpha 10.5776, s 0.6061, beta 11.6650; Fader, Hardie &
Lee 2005, "A note on implementing the Pareto/NBD model in MATLAB"), ages of 1
to 78 weeks with recency and T in whole days expressed in weeks, as a real
summary has them. Both libraries fit, with their default settings and in
this one run, the same first ``--lifetimes-customers`` rows (all of them by
default; lifetimes' Pareto/NBD is slow, a Nelder-Mead search over every row
with 2F1 per row, about 3.5 minutes on 1 M, so a smaller n can be given); the
script prints both times, the speed ratio on those rows (target: crmlib at
least 10x faster) and the largest absolute difference between the two sets
of parameters (target: <= 1e-3). crmlib then fits all ``--customers`` rows,
timed on its own. crmlib's time includes its standard errors; lifetimes'
Pareto/NBD computes none. Both parameter sets are also put into one
log-likelihood (crmlib's), to show which fit found the higher maximum:
lifetimes' default Nelder-Mead tolerance (1e-4) stops before the parameters
settle to 1e-3 on large samples, where the likelihood is flat in s and beta.

lifetimes is not a dependency of crmlib; see benchmarks/README.md for the
separate environment this script runs in.

    python benchmarks/bench_pareto_nbd.py [--customers 1000000] [--lifetimes-customers 1000000]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

from crmlib.analytics.clv import ParetoNBD
from crmlib.analytics.clv.pareto_nbd import _pnbd_loglik, _PNBDData
from crmlib.data import schema as s

PUBLISHED = {"r": 0.5533, "alpha": 10.5776, "s": 0.6061, "beta": 11.6650}
SPEED_TARGET = 10.0
PARAMETER_TARGET = 1e-3


def simulated_summary(customers: int, seed: int):
    """A day-resolution summary in weeks: ages of 1 to 78 weeks, whole days."""
    rng = np.random.default_rng(seed)
    age_days = rng.integers(7, 547, customers)
    summary = ParetoNBD.from_params(**PUBLISHED).simulate(customers, age_days / 7.0, seed=rng)
    summary[s.RECENCY] = np.floor(summary[s.RECENCY] * 7.0) / 7.0
    return summary


def _params(values: dict) -> str:
    return " ".join(f"{k}={float(values[k]):.5f}" for k in PUBLISHED)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lifetimes-customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lifetimes import ParetoNBDFitter
    except ImportError:
        sys.exit("lifetimes is missing: pip install lifetimes 'setuptools<81' (in a separate venv)")

    summary = simulated_summary(max(args.customers, args.lifetimes_customers), args.seed)
    subset = summary.iloc[: args.lifetimes_customers]
    distinct = len(subset.drop_duplicates([s.FREQUENCY, s.RECENCY, s.T]))
    print(
        f"{len(subset):,} simulated customers for both ({distinct:,} distinct frequency/recency/T)"
    )

    start = time.perf_counter()
    ours = ParetoNBD().fit(subset)
    ours_seconds = time.perf_counter() - start

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ParetoNBDFitter().fit(subset[s.FREQUENCY], subset[s.RECENCY], subset[s.T])
    theirs_seconds = time.perf_counter() - start

    difference = max(abs(ours.params_[k] - float(theirs.params_[k])) for k in PUBLISHED)
    ratio = theirs_seconds / ours_seconds
    print(f"crmlib ParetoNBD        {_params(ours.params_)}  {ours_seconds:.2f} s")
    print(f"lifetimes ParetoNBDFitter {_params(theirs.params_)}  {theirs_seconds:.2f} s")
    print(f"speed ratio (lifetimes / crmlib): {ratio:.1f}x (target >= {SPEED_TARGET:g}x)")
    print(f"max abs parameter difference: {difference:.2e} (target <= {PARAMETER_TARGET:g})")
    # Which optimum is higher: both parameter sets in the one likelihood (crmlib's, which
    # reproduces the published CDNOW log-likelihood).
    data = _PNBDData.build(
        *(subset[c].to_numpy(dtype=float) for c in (s.FREQUENCY, s.RECENCY, s.T))
    )
    their_ll = _pnbd_loglik(tuple(float(theirs.params_[k]) for k in PUBLISHED), data)
    print(
        f"log-likelihood at crmlib's parameters {ours.log_likelihood_:.4f}, "
        f"at lifetimes' {their_ll:.4f} (difference {ours.log_likelihood_ - their_ll:.2e})"
    )

    if args.customers > args.lifetimes_customers:
        full = summary.iloc[: args.customers]
        distinct = len(full.drop_duplicates([s.FREQUENCY, s.RECENCY, s.T]))
        start = time.perf_counter()
        everyone = ParetoNBD().fit(full)
        seconds = time.perf_counter() - start
        print(
            f"crmlib ParetoNBD on {len(full):,} customers ({distinct:,} distinct): "
            f"{_params(everyone.params_)}  {seconds:.2f} s"
        )
    met = ratio >= SPEED_TARGET and difference <= PARAMETER_TARGET
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
