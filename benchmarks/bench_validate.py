"""``crm validate --engine duckdb`` (out-of-core validation) on large Parquet folders: wall
time and peak memory of the whole process tree, against a plain DuckDB baseline.

Issue #20. For each folder given, two commands run, each in a fresh process whose
resident memory (the process and all its children) is polled every 0.2 s with psutil:

* **baseline** ("plain DuckDB GROUP BY"): one DuckDB query per table file of the folder,
  ``SELECT <first column>, count(*) FROM read_parquet(file) GROUP BY ALL``, fetched as
  a count of groups: every table read once, no rules;
* **crm validate --engine duckdb FOLDER --memory-limit LIMIT --rejects FILE --json**:
  every rule of the data dictionary in SQL (crmlib.data.outofcore).

The stated cap: with ``--memory-limit 4GB`` the tree's peak RSS stays within 6 GB
(GB = 10^9 bytes). The exit code is 1 when a validation fails, times out or exceeds the
cap. A folder is made with ``crm synth --customers N --format parquet --out DIR``
(97 752 customers give about 1 M transaction lines).

    python benchmarks/bench_validate.py FOLDER [FOLDER ...] [--memory-limit 4GB]
        [--cap-gb 6] [--timeout 3600]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engines import GB, child_env, crm_command, last_line, measure  # noqa: E402


def baseline_child(folder: Path) -> None:
    """The baseline query (run in a child process): every table file read once."""
    con = duckdb.connect()
    start = time.perf_counter()
    groups = 0
    for path in sorted(folder.glob("*.parquet")):
        literal = str(path).replace("'", "''")
        first = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{literal}')").fetchone()[0]
        groups += con.execute(
            f"SELECT count(*) FROM (SELECT \"{first}\", count(*) FROM read_parquet('{literal}') "
            "GROUP BY ALL)"
        ).fetchone()[0]
    print(json.dumps({"seconds": time.perf_counter() - start, "groups": groups}))


def lines_of(folder: Path) -> int:
    literal = str(folder / "transactions.parquet").replace("'", "''")
    return duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{literal}')").fetchone()[0]


def run(cmd: list[str], timeout: float, scratch: Path, memory: str) -> dict:
    work = Path(tempfile.mkdtemp(prefix="validate-", dir=scratch))
    try:
        env = child_env(work)
        env["CRM_DUCKDB_MEMORY"] = memory
        return measure([c.replace("{work}", str(work)) for c in cmd], env, work, timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB's memory limit.")
    parser.add_argument("--cap-gb", type=float, default=6.0, help="Peak tree RSS allowed.")
    parser.add_argument("--timeout", type=float, default=3600, help="Seconds per run.")
    parser.add_argument("--baseline-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_child:
        baseline_child(args.baseline_child)
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="bench-validate-"))
    failed = False
    rows = []
    try:
        for folder in args.folders:
            lines = lines_of(folder)
            base = run(
                [sys.executable, __file__, "--baseline-child", str(folder)],
                args.timeout,
                scratch,
                args.memory_limit,
            )
            rows.append((lines, "plain DuckDB GROUP BY (baseline)", base, None))
            cmd = [*crm_command(), "validate", "--engine", "duckdb", str(folder)]
            cmd += ["--memory-limit", args.memory_limit, "--json", "--rejects", "{work}/r.csv"]
            got = run(cmd, args.timeout, scratch, args.memory_limit)
            ok = got["returncode"] == 0 and got["stopped"] is None
            within = got["peak"] <= args.cap_gb * GB
            failed |= not (ok and within)
            note = None
            if ok:
                summary = json.loads(got["stdout"])
                rejected = sum(t["rejected"] for t in summary["tables"].values())
                note = f"{rejected:,} rows rejected, {len(summary['warnings'])} warnings"
            else:
                note = got["stopped"] or last_line(got["stderr"])
            rows.append((lines, "crm validate --engine duckdb", got, (ok, within, note)))
            print(f"{folder.name}: done", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"memory limit {args.memory_limit}; cap {args.cap_gb:g} GB peak tree RSS\n")
    print("| lines | command | wall s | x baseline | peak tree RSS GB | cap | note |")
    print("|---|---|---|---|---|---|---|")
    base_wall = None
    for lines, name, got, check in rows:
        if check is None:
            base_wall = got["wall"]
            cap, note = "-", "-"
        else:
            ok, within, note = check
            cap = ("PASS" if within else "FAIL") + f" (<= {args.cap_gb:g} GB)" if ok else "FAIL"
        ratio = got["wall"] / base_wall if base_wall else float("nan")
        print(
            f"| {lines / 1e6:.2f} M | {name} | {got['wall']:.1f} | {ratio:.2f} | "
            f"{got['peak'] / GB:.2f} | {cap} | {note} |"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
