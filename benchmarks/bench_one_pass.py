"""`crm aggregate --engine duckdb` steps against the same columns as ONE plain DuckDB query.

For the customer summary and customer profitability on a Parquet client folder
(``crm synth --customers N --format parquet``), each measurement runs in a fresh
Python process (imports excluded from the time): crmlib's step as ``crm aggregate``
runs it (the engine opened on the folder, the step's checks, its query written to
Parquet), and the same columns written by one hand-written DuckDB query over the
same Parquet files (``COPY ... TO`` Parquet; the as-of date given as a literal, no
row checks). Best of ``--repeat`` runs; printed as ratios. Targets (issue 20):
summary <= 1.3x, profitability <= 1.5x. The two outputs are compared (ids, counts
and sums) so that the plain query is known to compute the same table.

    python benchmarks/bench_one_pass.py FOLDER [--repeat 2] [--crmlib PATH]

``--crmlib PATH`` puts another checkout's package first on the path (e.g. the
code before a change) to measure it the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

PLAIN_SUMMARY = """
WITH tx AS (
    SELECT customer_id AS cid, CAST(order_date AS DATE) AS day, revenue AS rev, cost,
           COALESCE(CAST(order_id AS VARCHAR), 'day ' || CAST(CAST(order_date AS DATE) AS VARCHAR))
               AS okey
    FROM read_parquet('{tx}') WHERE CAST(order_date AS DATE) <= {day}
),
daily AS (SELECT cid, day, SUM(rev) AS value FROM tx WHERE rev >= 0 GROUP BY cid, day),
per AS (
    SELECT cid, MIN(day) AS first, MAX(day) AS last, COUNT(*) AS n, SUM(value) AS total,
           arg_min(value, day) AS first_value
    FROM daily GROUP BY cid
),
totals AS (
    SELECT cid, SUM(rev) AS revenue, SUM(cost) AS cost,
           COUNT(DISTINCT okey) FILTER (WHERE rev >= 0) AS orders
    FROM tx GROUP BY cid
)
SELECT cid AS customer_id, CAST(n - 1 AS DOUBLE) AS frequency,
       date_diff('day', first, last) / 7.0 AS recency, date_diff('day', first, {day}) / 7.0 AS "T",
       CASE WHEN n > 1 THEN (total - first_value) / (n - 1) ELSE 0.0 END AS monetary_value,
       CAST(first AS TIMESTAMP) AS first_purchase, CAST(last AS TIMESTAMP) AS last_purchase,
       CAST(orders AS DOUBLE) AS orders, revenue, revenue - cost AS margin,
       total AS gross_revenue
FROM per JOIN totals USING (cid) ORDER BY cid
"""

PLAIN_PROFITABILITY = """
WITH tx AS (
    SELECT customer_id AS cid, CAST(order_date AS DATE) AS day, revenue AS rev, cost,
           quantity AS qty, COALESCE(channel, '') AS ch,
           COALESCE(CAST(order_id AS VARCHAR), 'day ' || CAST(CAST(order_date AS DATE) AS VARCHAR))
               AS okey
    FROM read_parquet('{tx}') WHERE CAST(order_date AS DATE) <= {day}
),
rates AS (SELECT activity, COALESCE(channel, '') AS channel, unit_cost
          FROM read_parquet('{rates}')),
orders AS (SELECT cid, okey, MIN(ch) AS ch FROM tx WHERE rev >= 0 GROUP BY cid, okey),
events AS (
    SELECT cid, 'order' AS activity, ch, COUNT(*) AS n FROM orders GROUP BY cid, ch
    UNION ALL SELECT cid, 'delivery', ch, COUNT(*) FROM orders GROUP BY cid, ch
    UNION ALL SELECT cid, 'return', ch, COUNT(*) FROM tx WHERE rev < 0 GROUP BY cid, ch
    UNION ALL SELECT customer_id, 'ticket', COALESCE(channel, ''), COUNT(*)
        FROM read_parquet('{tickets}')
        WHERE NOT COALESCE(opened_at >= {day} + INTERVAL 1 DAY, FALSE) GROUP BY 1, 3
    UNION ALL SELECT customer_id, 'contact', COALESCE(channel, ''), COUNT(*)
        FROM read_parquet('{interactions}')
        WHERE kind = 'campaign_contact'
          AND NOT COALESCE("timestamp" >= {day} + INTERVAL 1 DAY, FALSE) GROUP BY 1, 3
),
priced AS (
    SELECT e.cid, SUM(e.n * COALESCE(x.unit_cost, g.unit_cost, 0.0)) AS serve
    FROM events e
    LEFT JOIN rates x ON x.activity = e.activity AND x.channel = e.ch
    LEFT JOIN (SELECT * FROM rates WHERE channel = '') g ON g.activity = e.activity
    WHERE e.cid IS NOT NULL GROUP BY e.cid
),
sums AS (
    SELECT cid, SUM(rev) AS revenue, SUM(cost) AS product_cost,
           COUNT(DISTINCT okey) FILTER (WHERE rev >= 0) AS orders,
           SUM(qty) FILTER (WHERE rev >= 0) AS units
    FROM tx GROUP BY cid
),
ids AS (
    SELECT cid FROM sums UNION SELECT customer_id FROM read_parquet('{customers}')
    UNION SELECT cid FROM events WHERE cid IS NOT NULL
)
SELECT ids.cid AS customer_id, COALESCE(revenue, 0.0) AS revenue,
       COALESCE(product_cost, 0.0) AS product_cost, COALESCE(serve, 0.0) AS cost_to_serve,
       COALESCE(revenue, 0.0) - COALESCE(product_cost, 0.0) - COALESCE(serve, 0.0) AS profit,
       CAST(COALESCE(orders, 0) AS BIGINT) AS orders, CAST(COALESCE(units, 0.0) AS DOUBLE) AS units
FROM ids LEFT JOIN sums USING (cid) LEFT JOIN priced USING (cid)
ORDER BY customer_id
"""

# what each fresh process runs; prints its seconds as JSON
CRMLIB_RUN = """
import json, sys, time
from crmlib import pipeline
start = time.perf_counter()
pipeline.aggregate(sys.argv[1], sys.argv[2], engine="duckdb", steps=[sys.argv[3]])
print(json.dumps(time.perf_counter() - start))
"""

PLAIN_RUN = """
import json, sys, time
import duckdb
start = time.perf_counter()
con = duckdb.connect()
con.execute("SET memory_limit = '4GB'")
con.execute("SET preserve_insertion_order = false")
con.execute(sys.stdin.read())
con.close()
print(json.dumps(time.perf_counter() - start))
"""

OUTPUTS = {"summary": "customer_summary.parquet", "profitability": "customer_profitability.parquet"}


def checkout_env(path: str | None) -> dict:
    """The environment of a fresh process importing crmlib from the checkout ``path`` (None: this one)."""
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    return env


def fresh(code: str, args: list[str], stdin: str = "", path: str | None = None) -> float:
    """Seconds reported by ``code`` run in a new Python process."""
    env = checkout_env(path)
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),  # not a checkout: `-c` puts the working folder first on the path
        check=True,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def crmlib_used(path: str | None) -> str:
    """Where the fresh processes import crmlib from."""
    env = checkout_env(path)
    code = "import crmlib, pathlib; print(pathlib.Path(crmlib.__file__).parent.parent)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(), check=True,
    )
    return done.stdout.strip()


def last_day(folder: Path) -> str:
    tx = str(folder / "transactions.parquet")
    day = duckdb.sql(f"SELECT MAX(CAST(order_date AS DATE)) FROM read_parquet('{tx}')").fetchall()[0]
    return f"DATE '{day[0].isoformat()}'"


def same(ours: Path, plain: Path) -> str:
    a = pd.read_parquet(ours).set_index("customer_id").sort_index()
    b = pd.read_parquet(plain).set_index("customer_id").sort_index()
    if not a.index.equals(b.index):
        return f"DIFFERENT ids ({len(a)} vs {len(b)})"
    for col in b.columns:
        x, y = a[col], b[col]
        if np.issubdtype(y.dtype, np.number):
            ok = np.allclose(x.astype(float), y.astype(float), rtol=1e-9, atol=1e-9, equal_nan=True)
        else:
            ok = x.astype("datetime64[ns]").equals(y.astype("datetime64[ns]"))
        if not ok:
            return f"DIFFERENT {col}"
    return "same table"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--crmlib", help="a checkout whose crmlib to measure instead")
    parser.add_argument("--steps", default="summary,profitability")
    args = parser.parse_args()
    folder = args.folder.resolve()
    day = last_day(folder)
    lines = duckdb.sql(
        f"SELECT COUNT(*) FROM read_parquet('{folder / 'transactions.parquet'}')"
    ).fetchall()[0][0]
    print(f"{folder.name}: {lines:,} transaction lines; each run a fresh process, best of "
          f"{args.repeat}; crmlib from {crmlib_used(args.crmlib)}")
    print(f"{'step':<15}{'crmlib s':>10}{'plain s':>10}{'ratio':>8}{'target':>8}  check")
    targets = {"summary": 1.3, "profitability": 1.5}
    with tempfile.TemporaryDirectory(prefix="bench-one-pass-") as work:
        work = Path(work)
        for step in args.steps.split(","):
            out = work / f"ours-{step}"
            ours = min(
                fresh(CRMLIB_RUN, [str(folder), str(out), step], path=args.crmlib)
                for _ in range(args.repeat)
            )
            plain_path = work / f"plain-{step}.parquet"
            query = (PLAIN_SUMMARY if step == "summary" else PLAIN_PROFITABILITY).format(
                day=day,
                **{t: folder / f"{t}.parquet" for t in
                   ("tickets", "interactions", "customers")},
                tx=folder / "transactions.parquet",
                rates=folder / "cost_rates.parquet",
            )
            copy = f"COPY ({query}) TO '{plain_path}' (FORMAT parquet)"
            plain = min(fresh(PLAIN_RUN, [], stdin=copy) for _ in range(args.repeat))
            check = same(out / OUTPUTS[step], plain_path)
            ratio = ours / plain
            verdict = "met" if ratio <= targets[step] else "NOT met"
            print(f"{step:<15}{ours:>10.2f}{plain:>10.2f}{ratio:>7.2f}x{targets[step]:>7.1f}x"
                  f"  {check}; {verdict}")


if __name__ == "__main__":
    main()
