"""Customer summary on 10 M synthetic transactions: crmlib against raw DuckDB SQL and
a plain pandas groupby, measured in the same run and printed as ratios.

Target (foundations issue): ``customer_summary(engine="duckdb")`` within 1.3x of the
raw DuckDB query that computes the same columns.

    python benchmarks/bench_summary.py [--rows 10000000] [--customers 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import duckdb
import numpy as np
import pandas as pd

from crmlib.analytics.summary import customer_summary
from crmlib.data import schema as s

# The same columns as crmlib's summary, written as one plain query: the baseline.
RAW_SQL = """
WITH tx AS (SELECT * FROM tx WHERE CAST(order_date AS DATE) <= DATE '2024-12-31'),
daily AS (
    SELECT customer_id, CAST(order_date AS DATE) AS day, SUM(revenue) AS value
    FROM tx WHERE revenue >= 0 GROUP BY 1, 2
), per AS (
    SELECT customer_id, MIN(day) AS first, MAX(day) AS last, COUNT(*) AS n,
           SUM(value) AS total, arg_min(value, day) AS first_value
    FROM daily GROUP BY 1
), totals AS (
    SELECT customer_id, SUM(revenue) AS revenue, SUM(cost) AS cost,
           COUNT(DISTINCT order_id) FILTER (WHERE revenue >= 0) AS orders
    FROM tx GROUP BY 1
)
SELECT customer_id, n - 1 AS frequency, date_diff('day', first, last) AS recency,
       date_diff('day', first, DATE '2024-12-31') AS T,
       CASE WHEN n > 1 THEN (total - first_value) / (n - 1) ELSE 0 END AS monetary_value,
       first, last, orders, revenue, revenue - cost AS margin
FROM per JOIN totals USING (customer_id) ORDER BY customer_id
"""


def make_transactions(rows: int, customers: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            s.ORDER_ID: rng.integers(0, rows // 2, rows).astype(str),
            s.CUSTOMER_ID: rng.integers(0, customers, rows).astype(str),
            s.ORDER_DATE: pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 730, rows), "D"),
            s.REVENUE: np.round(rng.gamma(2.0, 20.0, rows), 2),
            s.COST: np.round(rng.gamma(2.0, 8.0, rows), 2),
        }
    )


def pandas_groupby(tx: pd.DataFrame) -> pd.DataFrame:
    g = tx.groupby(s.CUSTOMER_ID)
    return pd.DataFrame(
        {
            "first": g[s.ORDER_DATE].min(),
            "last": g[s.ORDER_DATE].max(),
            "days": g[s.ORDER_DATE].nunique(),
            "revenue": g[s.REVENUE].sum(),
        }
    )


def raw_duckdb(tx: pd.DataFrame) -> pd.DataFrame:
    con = duckdb.connect()
    con.register("tx", tx)
    out = con.execute(RAW_SQL).df()
    con.close()
    return out


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tx = make_transactions(args.rows, args.customers)
    print(f"{args.rows:,} transactions, {tx[s.CUSTOMER_ID].nunique():,} customers; best of {args.repeat}")
    baseline = best_of(lambda: raw_duckdb(tx), args.repeat)
    ours = best_of(lambda: customer_summary(tx, as_of="2024-12-31", engine="duckdb"), args.repeat)
    ours_pd = best_of(lambda: customer_summary(tx, as_of="2024-12-31", engine="pandas"), 1)
    plain = best_of(lambda: pandas_groupby(tx), 1)
    print(f"{'method':<38}{'seconds':>9}{'× raw DuckDB':>14}")
    for name, t in [
        ("raw DuckDB SQL (baseline)", baseline),
        ("crmlib customer_summary, duckdb", ours),
        ("crmlib customer_summary, pandas", ours_pd),
        ("plain pandas groupby (fewer columns)", plain),
    ]:
        print(f"{name:<38}{t:>9.2f}{t / baseline:>14.2f}")
    verdict = "met" if ours / baseline <= 1.3 else "NOT met"
    print(f"target: crmlib duckdb within 1.3x of raw DuckDB: {ours / baseline:.2f}x ({verdict})")


if __name__ == "__main__":
    main()
