"""`crm report` on a 1.5 M-line client folder: validated once (a snapshot) against once per lesson.

Issue "Any valid client folder gives a complete report", part "Load once per
report". Before the snapshot, ``crm report`` validated the client folder and
then every lesson's kernel loaded and validated it again (six times for five
lessons and the summary). Now the run validates once, writes the validated
tables as Parquet in its work folder, and the lessons read that back.

Both ways run in this one invocation, on the same folder, with the same code,
each as its own ``crm report`` process (as a user runs it):

- before: ``crm report FOLDER --no-snapshot`` (every lesson validates the folder);
- after:  ``crm report FOLDER`` (validated once).

With ``--repeat N`` the two alternate N times and the best of each counts.
The folder is written by ``crm synth`` into a temporary folder (not the
repository) and removed at the end. ``crm synth`` makes about 10 lines per
customer, so 1.5 M lines means ~150,000 customers, and then the lessons' own
work per customer (duplicate detection, CLV fits) dwarfs loading the data.
``--households H`` gives the folder the shape of the issue's client (a
grocery panel: 2,469 households, 1.47 M basket lines): every customer id
``C<n>`` in every table becomes ``C<(n - 1) mod H + 1>``, and the customers
table keeps its first H records, so the same lines belong to H customers. Printed: the folder, the load average
before and after each run (the machine may be shared), wall time, the peak
memory of the report's process tree, the lessons' start-up (kernel start to
first cell) and the ratio. Target: after / before <= 0.6; the exit code is 0
when it is met. A lesson that fails on the data fails at the same cell both
ways (the same code runs on the same validated rows): the run is timed up to
there and the failure printed, so the comparison still holds.

    python benchmarks/bench_report_load.py --households 2469  # 1.5 M lines, 2,469 customers
    python benchmarks/bench_report_load.py                    # 1.5 M lines, 146,000 customers
    python benchmarks/bench_report_load.py --customers 5000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

TARGET = 0.6
CRM = Path(sys.executable).with_name("crm")


def crm_command() -> list[str]:
    return [str(CRM)] if CRM.exists() else [sys.executable, "-m", "crmlib.cli"]


def loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def to_households(folder: Path, households: int) -> None:
    """Give every line of the folder to one of ``households`` customers (see the docstring)."""
    import pandas as pd

    for path in sorted(folder.glob("*.csv")):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "customer_id" not in table:
            continue
        number = table["customer_id"].str[1:].astype("int64")
        if path.stem == "customers":
            table = table[number <= households]
        else:
            table["customer_id"] = "C" + ((number - 1) % households + 1).map("{:07d}".format)
        table.to_csv(path, index=False)


def timed_report(folder: Path, out: Path, snapshot: bool, jobs: int | None) -> dict:
    """One `crm report` process: wall seconds, peak RSS of its process tree, its manifest."""
    cmd = [*crm_command(), "report", str(folder), "--client", "Benchmark", "--out", str(out)]
    cmd += [] if snapshot else ["--no-snapshot"]
    cmd += ["--jobs", str(jobs)] if jobs else []
    load_before = loadavg()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                rss = 0
                for p in tree:
                    try:
                        rss += p.memory_info().rss
                    except psutil.NoSuchProcess:
                        pass
                peak[0] = max(peak[0], rss)
            except psutil.NoSuchProcess:
                return
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    written = out if proc.returncode == 0 else out.with_name(out.name + ".incomplete")
    if not (written / "manifest.json").exists():
        sys.exit(f"crm report ({'after' if snapshot else 'before'}) failed:\n{stderr[-2000:]}")
    manifest = json.loads((written / "manifest.json").read_text(encoding="utf-8"))
    shutil.rmtree(written)
    return {
        "wall": wall,
        "peak_gb": peak[0] / 1e9,
        "load": f"{load_before} -> {loadavg()}",
        "lessons": manifest["lessons"],
        "failed": [
            f"{e['lesson']} ({e['reason']})" for e in manifest["lessons"] if e["status"] == "failed"
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=146_000, help="crm synth --customers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--households", type=int, help="give the lines to this many customers")
    parser.add_argument("--repeat", type=int, default=1, help="before/after pairs; best counts")
    parser.add_argument("--jobs", type=int, help="crm report --jobs (default: the cores)")
    args = parser.parse_args()
    os.environ.setdefault("CRM_PSEUDONYM_KEY", "benchmark-key")  # leave the user's key alone

    with tempfile.TemporaryDirectory(prefix="crm-bench-report-load-") as tmp:
        folder = Path(tmp) / "client"
        subprocess.run(
            [*crm_command(), "synth", "--customers", str(args.customers), "--seed", str(args.seed)]
            + ["--out", str(folder)],
            check=True,
            capture_output=True,
        )
        if args.households:
            to_households(folder, args.households)
        with open(folder / "transactions.csv", "rb") as fh:
            lines = sum(1 for _ in fh) - 1
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        shape = f", given to {args.households:,} households" if args.households else ""
        print(
            f"client folder: crm synth --customers {args.customers:,} --seed {args.seed}{shape}: "
            f"{lines:,} transaction lines, {size:.0f} MB in {len(list(folder.iterdir()))} files"
        )
        print(f"cores: {os.cpu_count()}, load average now: {loadavg()}")
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        for i in range(args.repeat):
            for name, snapshot in (("before", False), ("after", True)):
                run = timed_report(folder, Path(tmp) / f"{name}{i}", snapshot, args.jobs)
                runs[name].append(run)
                print(
                    f"  run {i + 1} {name:<6} {run['wall']:7.1f} s  peak {run['peak_gb']:.2f} GB"
                    f"  load {run['load']}"
                )
                for failed in run["failed"]:  # the same cells fail both ways: same work
                    print(f"    INCOMPLETE: {failed}")

    best = {name: min(r, key=lambda run: run["wall"]) for name, r in runs.items()}
    print()
    print(f"{'lesson':<16}{'before: start-up':>17}{'total':>8}{'after: start-up':>17}{'total':>8}")
    for old, new in zip(best["before"]["lessons"], best["after"]["lessons"], strict=True):
        print(
            f"{old['lesson']:<16}{old['startup_seconds']:>16.1f}s{old['seconds']:>7.1f}s"
            f"{new['startup_seconds']:>16.1f}s{new['seconds']:>7.1f}s"
        )
    ratio = best["after"]["wall"] / best["before"]["wall"]
    print()
    print("| run | wall s | peak GB | x before |")
    print("|---|---|---|---|")
    for name, label in (
        ("before", "`--no-snapshot` (each lesson validates)"),
        ("after", "validated once (snapshot)"),
    ):
        run = best[name]
        print(
            f"| {label} | {run['wall']:.1f} | {run['peak_gb']:.2f} | {run['wall'] / best['before']['wall']:.2f} |"
        )
    print(f"\nafter / before: {ratio:.2f} (target <= {TARGET})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
