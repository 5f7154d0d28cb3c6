"""`crm aggregate` on Spark in local mode against DuckDB, step by step (issue 20).

For each client folder given (``crm synth --customers N --format parquet``) and each
step (summary, profitability, cohorts), runs the step as ``crm aggregate --steps STEP``
runs it (:func:`crmlib.pipeline.aggregate`), each time in a fresh Python process whose
imports are not timed: once with ``engine="duckdb"`` and once with ``engine="spark"``
(local mode, :func:`crmlib.spark.spark_session`'s defaults). The Spark process first
starts the session (the JVM; timed on its own as "start-up") and then runs the step.
Best of ``--repeat`` runs each. Printed per step: the DuckDB seconds, Spark's start-up
and step seconds, the ratio Spark / DuckDB with the start-up counted (what a consultant
waits for) and without it, and the peak resident memory of each process tree (the
Python process and Spark's JVM), polled every 0.1 s, and the one-minute load average
when the step's runs end (other work on the machine slows both engines). Target (issue 20): Spark within
3x DuckDB at 10 M lines, start-up counted. The exit code is 0 when every folder of at
least 5 M lines meets it. ``--crmlib PATH`` measures another checkout's ``crmlib`` (e.g.
the code before a change, exported with ``git archive``).

    python benchmarks/bench_spark_local.py FOLDER [FOLDER ...] [--repeat 2] [--crmlib PATH]

Needs psutil (the ``test`` extra), pyspark and Java 17 (the ``spark`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engines import tree_rss  # noqa: E402
from bench_one_pass import checkout_env, crmlib_used  # noqa: E402

STEPS = ("summary", "profitability", "cohorts")
TARGET = 3.0
#: Folders of at least this many lines are held to the target.
TARGET_LINES = 5_000_000

# what each fresh process runs: prints {"startup": s, "step": s} as JSON on its last line
CHILD = """
import json, sys, time
FLOOR = sys.argv[5]
from crmlib import pipeline
from crmlib.spark import spark_session
folder, out, engine, step = sys.argv[1:5]
startup = 0.0
if engine == "spark":
    start = time.perf_counter()
    spark_session()
    startup = time.perf_counter() - start
start = time.perf_counter()
if step == "floor":  # the least work any customer summary needs, as one plain query
    tx = f"{folder}/transactions.parquet"
    if engine == "spark":
        query = FLOOR.format(source=f"parquet.`{tx}`")
        spark_session().sql(query).write.mode("overwrite").parquet(out)
    else:
        import duckdb
        query = FLOOR.format(source=f"read_parquet('{tx}')")
        duckdb.sql(f"COPY ({query}) TO '{out}' (FORMAT parquet)")
else:
    pipeline.aggregate(folder, out, engine=engine, steps=[step])
print(json.dumps({"startup": startup, "step": time.perf_counter() - start}))
"""

#: The floor: one grouping of the lines by customer (revenue, lines, first and last date),
#: with no daily step, no order count, no row checks; read the same way by both engines.
FLOOR = (
    "SELECT customer_id, SUM(revenue) AS revenue, COUNT(*) AS lines, MIN(order_date) AS first, "
    "MAX(order_date) AS last FROM {source} GROUP BY customer_id"
)


def fresh(args: list[str], path: str | None) -> dict:
    """Run CHILD in a new Python process; its seconds and the tree's peak memory (GB)."""
    env = checkout_env(path)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        popen = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args],
            stdout=out,
            stderr=err,
            env=env,
            cwd=tempfile.gettempdir(),  # not a checkout: `-c` puts the working folder first
        )
        proc, peak = psutil.Process(popen.pid), 0
        while popen.poll() is None:
            peak = max(peak, tree_rss(proc))
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        if popen.returncode:
            raise SystemExit(f"{' '.join(args)} failed:\n{err.read()[-2000:]}")
        found = json.loads(out.read().strip().splitlines()[-1])
    return {**found, "peak": peak / 1e9}


def best(runs: list[dict]) -> dict:
    """The run with the least total time; the peak is the largest of all runs."""
    fastest = min(runs, key=lambda r: r["startup"] + r["step"])
    return {**fastest, "peak": max(r["peak"] for r in runs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--steps", default=",".join(STEPS), help=f"of {', '.join(STEPS)} and 'floor'"
    )
    parser.add_argument("--crmlib", help="a checkout whose crmlib to measure instead")
    args = parser.parse_args()
    print(
        f"each run a fresh process, best of {args.repeat}; crmlib from "
        f"{crmlib_used(args.crmlib)}; load average at start "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    header = (
        f"{'lines':>8} {'step':<14}{'duckdb s':>9}{'spark start':>12}{'spark step':>11}"
        f"{'ratio':>7}{'w/o start':>10}{'duckdb GB':>10}{'spark GB':>9}{'load':>6}"
    )
    print(header)
    met = True
    with tempfile.TemporaryDirectory(prefix="bench-spark-local-") as work:
        for folder in args.folders:
            folder = folder.resolve()
            lines = pq.ParquetFile(folder / "transactions.parquet").metadata.num_rows
            for step in args.steps.split(","):
                found = {}
                for engine in ("duckdb", "spark"):
                    out = Path(work) / f"{engine}-{step}"
                    runs = [
                        fresh([str(folder), str(out), engine, step, FLOOR], args.crmlib)
                        for _ in range(args.repeat)
                    ]
                    found[engine] = best(runs)
                duck, spark = found["duckdb"], found["spark"]
                ratio = (spark["startup"] + spark["step"]) / duck["step"]
                if lines >= TARGET_LINES and ratio > TARGET:
                    met = False
                print(
                    f"{lines / 1e6:>7.2f}M {step:<14}{duck['step']:>9.2f}{spark['startup']:>12.2f}"
                    f"{spark['step']:>11.2f}{ratio:>6.2f}x{spark['step'] / duck['step']:>9.2f}x"
                    f"{duck['peak']:>10.2f}{spark['peak']:>9.2f}{os.getloadavg()[0]:>6.1f}",
                    flush=True,
                )
    print(
        f"load average at end {' '.join(f'{x:.1f}' for x in os.getloadavg())}; target: "
        f"spark (start-up counted) <= {TARGET:.0f}x duckdb at >= {TARGET_LINES / 1e6:.0f} M "
        f"lines: {'met' if met else 'NOT met'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
