"""The engines of ``crm aggregate`` at 1 M, 10 M and 100 M transaction lines: step time,
growth with size and peak memory of the whole process tree, against plain DuckDB SQL.

Issue "Beyond one machine's memory". For each size a synthetic client folder is written
once by :func:`crmlib.synth.write_large_folder` (fixed seed). Each size x engine x step
runs ``crm aggregate FOLDER --engine E --steps STEP`` in a fresh process (Spark's JVM is
its child), polling the resident memory of the process and all its children every
0.2 s; the step time is the one crm prints (the step alone, without the process start or,
for pandas, the loading of the folder). The baseline, measured at each size in the same
run and in a fresh process of its own, is one plain DuckDB query on the same
``transactions.parquet``: count, revenue and first/last date per customer, fetched to
pandas (one pass, no rules).

Stated caps (checked at every size): the DuckDB engine with a 4 GB memory limit stays
within 6 GB peak RSS; Spark local with a 4 GB driver heap stays within 8 GB for the whole
process tree. The exit code is 1 when a DuckDB or Spark run exceeds its cap, fails or
times out, else 0. GB here is 10^9 bytes. A run is killed at ``--timeout``; a Spark run is
also killed (and counted as failed) a minute after its JVM logs an OutOfMemoryError, since
Spark can then wait forever for a lost task result.

    python benchmarks/bench_engines.py --sizes 1,10,100 --engines pandas,duckdb,spark \
        [--data DIR] [--timeout 1800] [--pandas-max 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import psutil
import pyarrow.parquet as pq

from crmlib.data import schema as s
from crmlib.synth import write_large_folder

SEED = 20261122
#: Transaction lines per customer that write_large_folder writes (measured: 99.3 M lines
#: for 9.7 M customers); sets the customers drawn for a size in lines.
LINES_PER_CUSTOMER = 10.23
STEPS = ("summary", "profitability")
ENGINES = ("pandas", "duckdb", "spark")
DUCKDB_MEMORY = "4GB"
SPARK_DRIVER_MEMORY = "4g"
GB = 1e9
#: Peak RSS of the whole process tree allowed per engine (the stated caps).
CAPS_GB = {"duckdb": 6.0, "spark": 8.0}
POLL_SECONDS = 0.2
#: A Spark driver out of heap can lose a task's result and then wait for it forever: a run
#: whose JVM logged this and has not exited this many seconds later is stopped as failed.
JVM_OOM = "java.lang.OutOfMemoryError"
OOM_GRACE_SECONDS = 60
BASELINE = "DuckDB SQL (baseline)"


@dataclass
class Run:
    """One measured (or skipped) process."""

    millions: float
    lines: int
    engine: str
    step: str
    status: str  # ok, failed, timeout, skipped
    wall: float | None = None
    seconds: float | None = None  # the step alone, as the process reports it
    peak_rss: int = 0
    rows: int | None = None
    note: str = ""

    @property
    def cap(self) -> str:
        if self.engine not in CAPS_GB:
            return "-"
        if self.status != "ok":
            return f"FAIL ({self.status})"
        ok = self.peak_rss <= CAPS_GB[self.engine] * GB
        return f"{'PASS' if ok else 'FAIL'} (<= {CAPS_GB[self.engine]:g} GB)"


# --- children: the baseline query and the Spark start-up, each in its own process ---------


def baseline_child(path: str) -> None:
    """Run the baseline query on one Parquet file and print its time and rows as JSON."""
    literal = path.replace("'", "''")
    query = (
        f"SELECT {s.CUSTOMER_ID}, COUNT(*) AS lines, SUM({s.REVENUE}) AS {s.REVENUE}, "
        f"MIN({s.ORDER_DATE}) AS first_date, MAX({s.ORDER_DATE}) AS last_date "
        f"FROM read_parquet('{literal}') GROUP BY {s.CUSTOMER_ID}"
    )
    con = duckdb.connect()
    start = time.perf_counter()
    frame = con.execute(query).df()
    seconds = time.perf_counter() - start
    con.close()
    print(json.dumps({"seconds": seconds, "rows": len(frame)}))


def spark_startup_child() -> None:
    """Start crmlib's local Spark session and print how long it took as JSON."""
    from crmlib import spark

    start = time.perf_counter()
    spark.spark_session()
    print(json.dumps({"seconds": time.perf_counter() - start, "rows": 0}))


# --- measuring a process tree ---------------------------------------------------------------


def tree_rss(proc: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_info().rss
    return total


def kill_tree(proc: psutil.Process) -> None:
    """Kill a process started in its own session, and every descendant."""
    descendants = []
    with contextlib.suppress(psutil.NoSuchProcess):
        descendants = proc.children(recursive=True)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for p in [proc, *descendants]:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()


def jvm_out_of_memory(work: Path) -> str | None:
    """The first OutOfMemoryError line of a Spark run's JVM log (crmlib writes the JVM's
    messages to ``spark.log`` in its scratch folder), or None."""
    for log in work.glob("tmp/crm-spark-*/spark.log"):
        with open(log, errors="replace") as lines:
            for line in lines:
                if JVM_OOM in line:
                    return line.strip()[:160]
    return None


def measure(cmd: list[str], env: dict, work: Path, timeout: float) -> dict:
    """Run ``cmd`` in ``work``; its wall time, peak tree RSS, exit code, stdout, stderr.

    ``stopped`` is None when the process exited by itself, "timeout" when it was killed
    at ``timeout`` seconds, "oom" when it was killed :data:`OOM_GRACE_SECONDS` after its
    JVM ran out of heap (``oom`` then holds the JVM's line and ``oom_at`` the seconds).
    """
    out_file, err_file = work / "stdout.txt", work / "stderr.txt"
    with open(out_file, "wb") as out, open(err_file, "wb") as err:
        start = time.perf_counter()
        popen = subprocess.Popen(
            cmd, env=env, cwd=work, stdout=out, stderr=err, start_new_session=True
        )
        proc = psutil.Process(popen.pid)
        peak, stopped, oom, oom_at, polls = 0, None, None, None, 0
        while popen.poll() is None:
            peak = max(peak, tree_rss(proc))
            now = time.perf_counter() - start
            polls += 1
            if oom is None and polls % 25 == 0:
                oom = jvm_out_of_memory(work)
                oom_at = now if oom else None
            if now > timeout or (oom and now - oom_at > OOM_GRACE_SECONDS):
                stopped = "timeout" if now > timeout else "oom"
                kill_tree(proc)
                break
            time.sleep(POLL_SECONDS)
        popen.wait()
        wall = time.perf_counter() - start
    return {
        "returncode": popen.returncode,
        "stopped": stopped,
        "oom": oom,
        "oom_at": oom_at,
        "wall": wall,
        "peak": peak,
        "stdout": out_file.read_text(errors="replace"),
        "stderr": err_file.read_text(errors="replace"),
    }


def child_env(work: Path) -> dict:
    """The environment of a measured process: the stated memory settings, local Spark,
    and a temporary folder of its own (DuckDB's spill, Spark's scratch) removed after it."""
    env = dict(os.environ)
    env.pop("CRM_SPARK_MASTER", None)
    env["CRM_DUCKDB_MEMORY"] = DUCKDB_MEMORY
    env["CRM_SPARK_DRIVER_MEMORY"] = SPARK_DRIVER_MEMORY
    env["TMPDIR"] = str(work / "tmp")
    (work / "tmp").mkdir()
    return env


def crm_command() -> list[str]:
    """The ``crm`` console script next to this Python, else ``python -m crmlib.cli``."""
    script = Path(sys.executable).parent / "crm"
    return [str(script)] if script.exists() else [sys.executable, "-m", "crmlib.cli"]


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no message"


def run_crm(folder: Path, millions, lines, engine, step, timeout, scratch: Path) -> Run:
    """One ``crm aggregate`` step in a fresh process."""
    work = Path(tempfile.mkdtemp(prefix=f"{engine}-{step}-", dir=scratch))
    try:
        cmd = [*crm_command(), "aggregate", str(folder), "--out", str(work / "out")]
        cmd += ["--engine", engine, "--steps", step]
        if engine == "duckdb":
            cmd += ["--memory-limit", DUCKDB_MEMORY]
        got = measure(cmd, child_env(work), work, timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run = Run(millions, lines, engine, step, "ok", wall=got["wall"], peak_rss=got["peak"])
    if got["stopped"] == "timeout":
        run.status, run.note = "timeout", f"killed after {timeout:g} s"
        return run
    if got["stopped"] == "oom":
        run.status = "failed"
        run.note = (
            f"JVM out of heap at about {got['oom_at']:.0f} s ({got['oom']}); no exit "
            f"{OOM_GRACE_SECONDS} s later, killed"
        )
        return run
    found = re.search(rf"^{step}: ([\d,]+) rows in ([\d.]+) s$", got["stderr"], re.MULTILINE)
    if got["returncode"] != 0 or found is None:
        run.status = "failed"
        run.note = f"exit {got['returncode']}: {last_line(got['stderr'])}"
        return run
    run.rows = int(found.group(1).replace(",", ""))
    run.seconds = float(found.group(2))
    return run


def run_child(flag: list[str], millions, lines, engine, step, timeout, scratch: Path) -> Run:
    """This script in a fresh process, in one of its child modes (a JSON line out)."""
    work = Path(tempfile.mkdtemp(prefix="child-", dir=scratch))
    try:
        cmd = [sys.executable, str(Path(__file__).resolve()), *flag]
        got = measure(cmd, child_env(work), work, timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run = Run(millions, lines, engine, step, "ok", wall=got["wall"], peak_rss=got["peak"])
    if got["stopped"]:
        run.status, run.note = "timeout", f"killed after {got['wall']:.0f} s"
    elif got["returncode"] != 0:
        run.status = "failed"
        run.note = f"exit {got['returncode']}: {last_line(got['stderr'])}"
    else:
        result = json.loads(got["stdout"].strip().splitlines()[-1])
        run.seconds, run.rows = result["seconds"], result["rows"]
    return run


# --- data -------------------------------------------------------------------------------------


def folder_for(data: Path, millions: float) -> tuple[Path, int]:
    """The client folder of a size (written once, reused when present) and its line count."""
    customers = round(millions * 1e6 / LINES_PER_CUSTOMER)
    folder = data / f"lines-{millions:g}M-customers-{customers}-seed-{SEED}"
    if not (folder / "transactions.parquet").exists():
        print(f"writing {customers:,} customers to {folder.name} ...", flush=True)
        start = time.perf_counter()
        write_large_folder(customers, folder, seed=SEED)
        took = time.perf_counter() - start
        size = sum(f.stat().st_size for f in folder.iterdir()) / GB
        print(f"  written in {took:.0f} s, {size:.2f} GB on disk", flush=True)
    lines = pq.ParquetFile(folder / "transactions.parquet").metadata.num_rows
    return folder, lines


# --- report -----------------------------------------------------------------------------------


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def describe(run: Run) -> str:
    """One progress line for a run."""
    if run.status == "skipped":
        return f"{run.millions:g} M  {run.engine:<22}{run.step:<14}skipped: {run.note}"
    return (
        f"{run.millions:g} M  {run.engine:<22}{run.step:<14}{run.status:<8}"
        f"step {fmt(run.seconds, '.2f')} s, wall {run.wall:.1f} s, "
        f"peak {run.peak_rss / GB:.2f} GB, rows {fmt(run.rows, ',')}  {run.cap}"
        + (f"  [{run.note}]" if run.note else "")
    )


def table(runs: list[Run], baselines: dict[float, Run]) -> str:
    """The markdown table of every run."""
    head = (
        "| lines | engine | step | step s | s per M lines | x baseline | wall s "
        "| peak RSS GB | cap |\n|---|---|---|---|---|---|---|---|---|"
    )
    rows = [head]
    for run in runs:
        base = baselines.get(run.millions)
        ratio = None
        if run.seconds is not None and base is not None and base.seconds:
            ratio = run.seconds / base.seconds
        per_m = None if run.seconds is None else run.seconds / (run.lines / 1e6)
        status = "" if run.status == "ok" else f" ({run.status})"
        rows.append(
            f"| {run.lines / 1e6:.1f} M | {run.engine} | {run.step}{status} "
            f"| {fmt(run.seconds, '.2f')} | {fmt(per_m, '.2f')} | {fmt(ratio, '.2f')} "
            f"| {fmt(run.wall, '.1f')} | {run.peak_rss / GB:.2f} | {run.cap} |"
        )
    return "\n".join(rows)


def growth(runs: list[Run], spark_startup: float | None) -> list[str]:
    """Seconds per million lines at each size and the growth exponents between sizes.

    The exponent between sizes a and b is log(t_b / t_a) / log(n_b / n_a): 1 is linear
    growth, below 1 means fixed costs still weigh (start-up), above 1 worse than linear.
    """
    out = []
    keys = sorted({(r.engine, r.step) for r in runs if r.status == "ok"})
    for engine, step in keys:
        done = sorted(
            (r.lines, r.millions, r.seconds)
            for r in runs
            if (r.engine, r.step, r.status) == (engine, step, "ok")
        )
        variants = [("", 0.0)]
        if engine == "spark" and spark_startup is not None:
            variants.append((f" minus {spark_startup:.1f} s Spark start-up", spark_startup))
        for label, fixed in variants:
            points = [(n, m, t - fixed) for n, m, t in done if t - fixed > 0]
            per_m = ", ".join(f"{m:g} M: {t / (n / 1e6):.2f}" for n, m, t in points)
            exps = [
                f"{ma:g}->{mb:g} M: {math.log(tb / ta) / math.log(b / a):.2f}"
                for (a, ma, ta), (b, mb, tb) in zip(points, points[1:], strict=False)
            ]
            out.append(
                f"{engine} {step}{label}: s per M lines {per_m}; exponent {', '.join(exps) or '-'}"
            )
    return out


def versions() -> str:
    try:
        from importlib.metadata import version

        spark = version("pyspark")
    except Exception:
        spark = "not installed"
    ram = psutil.virtual_memory().total / 2**30
    return (
        f"{os.cpu_count()} cores, {ram:.0f} GiB RAM; Python {platform.python_version()}, "
        f"duckdb {duckdb.__version__}, pandas {pd.__version__}, pyspark {spark}"
    )


# --- main -------------------------------------------------------------------------------------


def parse_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100", help="Millions of transaction lines.")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--data", type=Path, help="Keep and reuse the generated folders here.")
    parser.add_argument("--timeout", type=float, default=1800, help="Seconds per run.")
    parser.add_argument(
        "--pandas-max", type=float, default=10, help="Largest size (M lines) for pandas."
    )
    parser.add_argument("--baseline-child", help=argparse.SUPPRESS)
    parser.add_argument("--spark-startup-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_child:
        baseline_child(args.baseline_child)
        return 0
    if args.spark_startup_child:
        spark_startup_child()
        return 0

    sizes = sorted(float(x) for x in parse_list(args.sizes))
    engines = parse_list(args.engines)
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines or not sizes:
        parser.error(f"--engines: some of {', '.join(ENGINES)}; --sizes: numbers")
    print(versions(), flush=True)
    print(
        f"caps: duckdb memory limit {DUCKDB_MEMORY}, peak RSS <= {CAPS_GB['duckdb']:g} GB; "
        f"spark local driver heap {SPARK_DRIVER_MEMORY}, tree <= {CAPS_GB['spark']:g} GB",
        flush=True,
    )

    keep = args.data is not None
    data = args.data or Path(tempfile.mkdtemp(prefix="crm-bench-data-"))
    data.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="crm-bench-runs-"))
    runs: list[Run] = []
    baselines: dict[float, Run] = {}
    spark_startup = None
    try:
        if "spark" in engines:
            start = run_child(["--spark-startup-child"], 0, 0, "spark", "start-up", 600, scratch)
            if start.status == "ok":
                spark_startup = start.seconds
            print(
                f"Spark session start-up (fresh process): {fmt(start.seconds, '.1f')} s "
                f"({start.status})",
                flush=True,
            )
        for millions in sizes:
            folder, lines = folder_for(data, millions)
            print(f"{millions:g} M: {lines:,} transaction lines", flush=True)
            base = run_child(
                ["--baseline-child", str(folder / "transactions.parquet")],
                millions,
                lines,
                BASELINE,
                "one GROUP BY",
                args.timeout,
                scratch,
            )
            baselines[millions] = base
            runs.append(base)
            print(describe(base), flush=True)
            for engine in engines:
                for step in STEPS:
                    if engine == "pandas" and millions > args.pandas_max:
                        run = Run(millions, lines, engine, step, "skipped")
                        run.note = "does not fit: loads every table in memory"
                    else:
                        run = run_crm(folder, millions, lines, engine, step, args.timeout, scratch)
                    runs.append(run)
                    print(describe(run), flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if not keep:
            shutil.rmtree(data, ignore_errors=True)

    print("\n" + table([r for r in runs if r.status != "skipped"], baselines))
    for r in runs:
        if r.status == "skipped":
            print(f"skipped: {r.engine} {r.step} at {r.millions:g} M ({r.note})")
    print()
    for line in growth(runs, spark_startup):
        print(line)
    failed = [r for r in runs if r.engine in CAPS_GB and r.cap.startswith("FAIL")]
    for r in failed:
        print(f"FAIL: {r.engine} {r.step} at {r.millions:g} M: {r.cap} {r.note}".rstrip())
    print(f"caps: {'all PASS' if not failed else f'{len(failed)} FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
