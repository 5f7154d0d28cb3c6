"""Multi-step jobs over the engines: one row per customer out of a client folder (``crm aggregate``).

Each step is a shared analytic or a model step that runs on any engine of
:mod:`crmlib.engines`; this module only chains them and writes their outputs.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pandas as pd

from crmlib.analytics import linkage, linkage_spark, profitability
from crmlib.analytics.summary import customer_summary, summary_query
from crmlib.data import datasets
from crmlib.data import schema as s
from crmlib.engines import Engine, check_engine, spark_job
from crmlib.errors import CRMError, DataError
from crmlib.models import qci

STEPS = ("summary", "profitability", "cohorts", "duplicates")
STEP_FILES = {
    "summary": "customer_summary.parquet",
    "profitability": "customer_profitability.parquet",
    "cohorts": "cohort_counts.csv",
    "duplicates": "duplicate_clusters.parquet",
}


def aggregate(
    source,
    out,
    engine: str = "duckdb",
    steps=STEPS[:3],
    as_of=None,
    spark_master: str | None = None,
    progress=None,
    spark_progress=None,
) -> dict[str, dict]:
    """Run the transaction-level steps on a client folder and write one row per customer.

    What ``crm aggregate`` does: the customer summary
    (:func:`crmlib.analytics.summary.customer_summary`, in weeks), customer profitability
    (:func:`crmlib.analytics.profitability.customer_profitability`), the monthly cohort
    counts (:func:`crmlib.models.qci.cohort_retention` with ``counts=True``) and,
    when asked, duplicate clusters (:func:`crmlib.analytics.linkage.find_duplicates`),
    each written to ``out`` (:data:`STEP_FILES`). The outputs hold ids and
    figures only, no personal data. DuckDB and Spark write the per-customer
    tables from the engine straight to Parquet (Spark: a folder of part
    files), not through pandas, so that this process's memory does not grow
    with the number of customers; pandas reads them back with
    ``pandas.read_parquet(path).set_index("customer_id")``.

    Parameters
    ----------
    source : path
        A client folder (see the module docstring).
    out : path
        Folder for the outputs (created).
    engine : {"duckdb", "spark", "pandas"}
        "pandas" loads and validates the folder in memory first (:mod:`crmlib.data.io`).
    steps : iterable of str
        Some of :data:`STEPS`.
    as_of : date-like, optional
        Last day counted; default the last order date.
    spark_master : str, optional
    progress : callable, optional
        Called with (step, seconds, rows) after each step.
    spark_progress : callable, optional
        For ``engine="spark"``: called with a :class:`crmlib.engines.SparkProgress`
        while a Spark job runs (:func:`crmlib.engines.spark_job`).

    Returns
    -------
    dict
        Per step: ``file``, ``rows`` and ``seconds``.
    """
    check_engine(engine)
    unknown = [step for step in steps if step not in STEPS]
    if unknown:
        raise CRMError(f"unknown step(s) {', '.join(unknown)}; the steps: {', '.join(STEPS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run = {"engine": engine, "spark_master": spark_master}
    with contextlib.ExitStack() as stack:
        if engine == "spark":  # first, so that it also sees the tables registered
            stack.enter_context(spark_job(spark_master, progress=spark_progress))
        if engine == "pandas":
            data, eng = datasets.load(source, as_of=as_of), None
        else:  # one engine, its views registered once, for the steps that write per customer
            data, eng = source, stack.enter_context(Engine(engine, source, spark_master))
        done = {}
        for step in steps:
            start = time.perf_counter()
            path = out / STEP_FILES[step]
            if step == "summary" and eng is not None:
                rows = eng.write(summary_query(eng, as_of, time_unit="W"), path)
            elif step == "summary":
                summary = customer_summary(data.transactions, as_of=as_of, time_unit="W", **run)
                rows = _to_parquet(summary, path)
            elif step == "profitability" and eng is not None:
                rows = eng.write(profitability.profitability_query(eng, None, None, as_of), path)
            elif step == "profitability":
                rows = _to_parquet(profitability.customer_profitability(data, as_of=as_of), path)
            elif step == "cohorts":  # one row per cohort: small whatever the engine
                tx = data.transactions if engine == "pandas" else data
                cohorts = qci.cohort_retention(tx, freq="M", as_of=as_of, counts=True, **run)
                cohorts.to_csv(path)
                rows = len(cohorts)
            elif engine == "spark":  # clustered and written by Spark, never collected
                customers = _customers_for_linkage(data, engine)
                rows = linkage_spark.write_clusters(customers, path, spark_master=spark_master)[1]
            else:
                customers = _customers_for_linkage(data, engine)
                rows = _to_parquet(linkage.find_duplicates(customers, **run).clusters_, path)
            done[step] = {"file": path.name, "rows": rows, "seconds": time.perf_counter() - start}
            if progress:
                progress(step, done[step]["seconds"], rows)
    return done


def _to_parquet(frame: pd.DataFrame, path: Path) -> int:
    """Write a per-customer frame with customer_id as a column, as the SQL engines do."""
    frame.reset_index().to_parquet(path, index=False)
    return len(frame)


def _customers_for_linkage(data, engine: str) -> pd.DataFrame:
    """The customers table's id and matching columns (loaded: splink compares in the engine)."""
    if engine == "pandas":
        if not data.has("customers"):
            raise DataError("duplicates need a customers table", file="customers")
        return data.tables["customers"]
    columns = [s.CUSTOMER_ID, s.NAME, s.EMAIL, s.PHONE, s.CITY]
    with Engine("duckdb", data) as eng:
        if not eng.has("customers"):
            raise DataError("duplicates need a customers table", file="customers")
        eng.need("customers", [s.CUSTOMER_ID], "for duplicate detection")
        present = [f'"{c}"' for c in columns if eng.has("customers", c)]
        return eng.sql(f"SELECT {', '.join(present)} FROM customers")
