"""Time and peak memory of :func:`crmlib.synth.generate` by company size.

Each size runs in its own child process, so that its peak resident memory is
its own. There is no baseline to compare with: the figures are the budget
other modules plan with (1 M customers, about 10 M transaction lines).

Usage: ``python benchmarks/bench_synth.py [N ...] [--csv]`` (default sizes
5000 and 100000); ``--csv`` also writes the company as CSV into a temporary
folder and reports the time and the folder's size.
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import json, resource, sys, tempfile, time
from pathlib import Path
from crmlib import synth
n, write_csv = int(sys.argv[1]), sys.argv[2] == "1"
t = time.perf_counter()
company = synth.generate(n)
out = {"n": n, "generate_s": time.perf_counter() - t,
       "records": len(company.tables["customers"]),
       "lines": len(company.tables["transactions"]),
       "interactions": len(company.tables["interactions"])}
if write_csv:
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        paths = synth.write_folder(company, d)
        out["csv_s"] = time.perf_counter() - t
        out["csv_mb"] = sum(p.stat().st_size for p in paths) / 1e6
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run(n: int, write_csv: bool) -> dict:
    """Generate ``n`` customers in a child process; return its figures (peak RSS its own)."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), "1" if write_csv else "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def main(argv: list[str]) -> None:
    write_csv = "--csv" in argv
    sizes = [int(a) for a in argv if not a.startswith("--")] or [5000, 100_000]
    for n in sizes:
        r = run(n, write_csv)
        line = (
            f"n={r['n']:>9,}  generate {r['generate_s']:7.2f} s  peak RSS {r['peak_rss_mb']:8.0f} MB"
            f"  records {r['records']:,}  lines {r['lines']:,} ({r['lines'] / n:.2f}/customer)"
            f"  interactions {r['interactions']:,}"
        )
        if write_csv:
            line += f"  csv {r['csv_s']:.1f} s, {r['csv_mb']:.1f} MB"
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
