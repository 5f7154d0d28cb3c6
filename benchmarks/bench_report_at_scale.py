"""`crm report --engine duckdb` on large folders: wall time and peak memory of the whole tree.

A report at scale validates the folder out of core, computes the per-customer tables
on every row, draws a sample of customers and runs every lesson on the sample
(:func:`crmlib.pipeline.at_scale`). For each folder this script runs, each in a fresh
process whose resident memory is polled with all its children (the lessons' kernels)
every 0.2 s:

* the baseline: ``crm aggregate FOLDER --engine duckdb`` (the per-customer tables
  alone, the part of the report that reads every row besides the validation);
* ``crm validate --engine duckdb FOLDER`` (the out-of-core validation alone);
* ``crm report FOLDER --engine duckdb`` (the whole report).

and prints their times, the report's time as a multiple of the baseline, the steps'
times the report printed, and the peak memory against the stated cap (issue 20:
the whole process tree <= 8 GB at 100 M lines; GB = 10^9 bytes). Exit code 1 when a
run fails, times out or exceeds the cap.

    python benchmarks/bench_report_at_scale.py FOLDER [FOLDER ...] [--timeout 5400]

The folders are Parquet client folders, e.g. ``crm synth --customers 10900000
--format parquet --out FOLDER`` (100.1 M transaction lines, 3.0 GB).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engines import child_env, crm_command, last_line, measure  # noqa: E402

CAP_BYTES = 8e9  # the whole process tree, issue 20
STEP = re.compile(r"^data: (\w+) in ([\d.]+) s", re.MULTILINE)


def run(cmd: list[str], scratch: Path, timeout: float) -> dict:
    """One command in a fresh process and work folder of its own (removed after)."""
    work = Path(tempfile.mkdtemp(dir=scratch))
    try:
        return measure(cmd, child_env(work), work, timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--timeout", type=float, default=5400.0)
    args = parser.parse_args()
    crm = crm_command()
    failed = False
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-at-scale-") as tmp:
        scratch = Path(tmp)
        for folder in args.folders:
            lines = pq.ParquetFile(folder / "transactions.parquet").metadata.num_rows
            out = scratch / "out"
            runs = {
                "baseline: crm aggregate": [*crm, "aggregate", str(folder), "--out", str(out / "agg")],
                "crm validate": [*crm, "validate", "--engine", "duckdb", str(folder)],
                "crm report": [
                    *crm, "report", str(folder), "--engine", "duckdb", "--out", str(out / "report"),
                    "--client", "Benchmark",
                ],
            }
            measured = {}
            for name, cmd in runs.items():
                got = measured[name] = run(cmd, scratch, args.timeout)
                ok = got["returncode"] == 0 and got["stopped"] is None
                capped = name != "crm report" or got["peak"] <= CAP_BYTES
                failed |= not (ok and capped)
                note = "" if ok else f" FAILED ({got['stopped'] or last_line(got['stderr'])})"
                print(
                    f"{lines / 1e6:.1f} M lines  {name:<24} {got['wall']:8.1f} s  "
                    f"peak {got['peak'] / 1e9:5.2f} GB{note}",
                    flush=True,
                )
                shutil.rmtree(out, ignore_errors=True)
            report, base = measured["crm report"], measured["baseline: crm aggregate"]
            steps = ", ".join(f"{k} {float(v):.1f} s" for k, v in STEP.findall(report["stderr"]))
            rows.append(
                f"| {lines / 1e6:.1f} M | {base['wall']:.1f} | {measured['crm validate']['wall']:.1f} "
                f"({measured['crm validate']['peak'] / 1e9:.2f} GB) | {report['wall']:.1f} | "
                f"{report['wall'] / base['wall']:.2f}x | {report['peak'] / 1e9:.2f} | "
                f"{'PASS' if report['peak'] <= CAP_BYTES else 'FAIL'} (<= 8 GB) | {steps} |"
            )
    print()
    print(
        "| lines | baseline: crm aggregate s | crm validate s (peak) | crm report s | "
        "x baseline | report peak GB (tree) | cap | report's data steps |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
