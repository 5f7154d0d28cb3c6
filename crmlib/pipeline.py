"""Multi-step jobs over the engines: one row per customer out of a client folder (``crm aggregate``).

Each step is a shared analytic or a model step that runs on any engine of
:mod:`crmlib.engines`; this module only chains them and writes their outputs.

:func:`at_scale` prepares a report on a folder too large for memory: it
validates the folder out of core (:mod:`crmlib.data.outofcore`), computes the
per-customer tables once on every accepted row (:func:`aggregate`), and draws
a seeded sample of customers with all their rows (:mod:`crmlib.data.rowsample`)
for what needs rows in memory. The lessons read the tables back with
:func:`read_per_customer`.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from crmlib.analytics import lapse, linkage, linkage_spark, profitability
from crmlib.analytics.summary import customer_summary, summary_query
from crmlib.data import datasets, outofcore, rowsample
from crmlib.data import schema as s
from crmlib.data.io import ClientData, load_folder
from crmlib.engines import Engine, check_engine, duckdb_memory
from crmlib.errors import CRMError, DataError
from crmlib.models import qci
from crmlib.spark import spark_job

STEPS = ("summary", "profitability", "cohorts", "gaps", "duplicates")
STEP_FILES = {
    "summary": "customer_summary.parquet",
    "profitability": "customer_profitability.parquet",
    "cohorts": "cohort_counts.csv",
    "gaps": "purchase_gaps.csv",
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
    when asked, how many gaps between a customer's consecutive purchase days have each
    length (:func:`crmlib.analytics.lapse.gap_counts`: the lapse rule's data) and duplicate
    clusters (:func:`crmlib.analytics.linkage.find_duplicates`),
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
        For ``engine="spark"``: called with a :class:`crmlib.spark.SparkProgress`
        while a Spark job runs (:func:`crmlib.spark.spark_job`).

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
            elif step == "gaps":  # one row per gap length: small whatever the engine
                if eng is None:
                    gaps = lapse.gap_counts(data.transactions, as_of or data.as_of).reset_index()
                else:
                    when = as_of if as_of is not None else eng.last_order_date()
                    gaps = eng.sql(lapse.gap_counts_query(eng, when))
                gaps.to_csv(path, index=False)
                rows = len(gaps)
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


#: The steps a report at scale computes on every row (the duplicates are linked on the sample).
PER_CUSTOMER_STEPS = STEPS[:4]
#: In an aggregates folder: how the sample was drawn (:class:`crmlib.data.rowsample.CustomerSample`).
SAMPLE_FILE = "sample.json"


@dataclass(frozen=True)
class PerCustomer:
    """The per-customer tables of a whole client folder, as :func:`at_scale` wrote them.

    Attributes
    ----------
    summary : DataFrame
        :func:`crmlib.analytics.summary.customer_summary` in weeks, one row per customer id.
    profitability : DataFrame
        :func:`crmlib.analytics.profitability.customer_profitability`, one row per customer id.
    cohorts : DataFrame
        Monthly cohort counts (:func:`crmlib.models.qci.cohort_retention`, ``counts=True``).
    gaps : Series
        Every customer's gaps between consecutive purchase days, counted by length
        (:func:`crmlib.analytics.lapse.gap_counts`): the lapse rule's data.
    sample : crmlib.data.rowsample.CustomerSample
        The sample the lesson's rows come from.
    """

    summary: pd.DataFrame
    profitability: pd.DataFrame
    cohorts: pd.DataFrame
    gaps: pd.Series
    sample: rowsample.CustomerSample


def read_per_customer(folder) -> PerCustomer | None:
    """The per-customer tables :func:`at_scale` wrote to ``folder``, when the lesson needs them.

    A lesson calls this with its ``aggregates_dir`` parameter. None when the lesson computes
    everything from the rows it loaded itself: ``folder`` is None (a report in memory), or
    the sample holds every customer, so that the rows loaded are all the rows (and the
    records linked into persons count as they do in memory, which the per-customer tables,
    one row per customer id, do not).
    """
    if folder is None:
        return None
    folder = Path(folder)
    try:
        tables = {
            step: pd.read_parquet(folder / STEP_FILES[step]).set_index(s.CUSTOMER_ID)
            for step in ("summary", "profitability")
        }
        cohorts = pd.read_csv(folder / STEP_FILES["cohorts"], index_col=0, parse_dates=[0])
        gaps = pd.read_csv(folder / STEP_FILES["gaps"], index_col=lapse.GAP)[lapse.GAPS]
        sample = rowsample.CustomerSample(**json.loads((folder / SAMPLE_FILE).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise CRMError(f"{folder.name}: not a complete folder of per-customer tables ({exc})") from None
    cohorts.columns = cohorts.columns.astype(int)
    if not sample.partial:
        return None
    return PerCustomer(tables["summary"], tables["profitability"], cohorts, gaps, sample)


def customers(identity, whole: PerCustomer | None) -> int:
    """The customers a lesson reports: every customer, whether its rows are all or a sample.

    Parameters
    ----------
    identity : crmlib.analytics.linkage.Identity
        What :func:`crmlib.analytics.linkage.identify` did with the rows the lesson loaded:
        its ``customers`` are the persons with a purchase (:func:`crmlib.analytics.linkage.buyers`).
    whole : PerCustomer or None
        :func:`read_per_customer`'s tables at scale: then the customers are the ids with a
        purchase in every row's customer summary (records are linked only within the sample).
    """
    return identity.customers if whole is None else len(whole.summary)


@dataclass(frozen=True)
class AtScale:
    """What :func:`at_scale` prepared for a report on a large folder.

    Attributes
    ----------
    checked : crmlib.data.outofcore.OutOfCoreData
        The whole folder's validation: rows read, accepted and rejected per table.
    sample : crmlib.data.io.ClientData
        The sampled customers' rows, validated in memory, as of the whole folder's as-of date.
    drawn : crmlib.data.rowsample.CustomerSample
    aggregates : Path
        The per-customer tables (:func:`read_per_customer`).
    steps : dict
        What :func:`aggregate` returned: file, rows and seconds per step.
    """

    checked: object
    sample: ClientData
    drawn: rowsample.CustomerSample
    aggregates: Path
    steps: dict


def at_scale(
    source,
    folder,
    engine: str = "duckdb",
    as_of=None,
    spark_master: str | None = None,
    customers: int = rowsample.SAMPLE_CUSTOMERS,
    seed: int = rowsample.SAMPLE_SEED,
    memory_limit: str | None = None,
    progress=None,
    spark_progress=None,
) -> AtScale:
    """Validate a large folder out of core, aggregate every row once, and sample customers.

    Parameters
    ----------
    source : path
        The client folder.
    folder : path
        A private working folder to create: it holds the accepted rows while
        they are aggregated and sampled (then deleted), the per-customer
        tables (``aggregates/``) and the sample's files (``sample/``).
    engine : {"duckdb", "spark"}
        Where the per-customer tables are computed.
    as_of : date-like, optional
    spark_master : str, optional
    customers, seed : int
        The sample's size and seed (:func:`crmlib.data.rowsample.customer_sample`).
    memory_limit : str, optional
        DuckDB's memory limit for the validation and the sample (default
        :func:`crmlib.engines.duckdb_memory`).
    progress : callable, optional
        Called with (step, seconds, rows) after the validation, each step and the sample.
    spark_progress : callable, optional
        For ``engine="spark"``: the progress of the Spark jobs (:func:`aggregate`).

    Returns
    -------
    AtScale

    Raises
    ------
    crmlib.errors.DataError
        The folder is not usable (what :func:`crmlib.data.outofcore.validate` says).
    """
    check_engine(engine, ("duckdb", "spark"))
    memory_limit = duckdb_memory(memory_limit)  # never DuckDB's own default, 80 % of the machine
    folder = Path(folder)
    folder.mkdir(mode=0o700)
    accepted = folder / "accepted"

    def note(step, start, rows):
        if progress:
            progress(step, time.perf_counter() - start, rows)

    start = time.perf_counter()
    checked = outofcore.validate(
        source, as_of=as_of, memory_limit=memory_limit, accepted_to=accepted
    )
    note("validation", start, sum(r.accepted for r in checked.reports.values()))
    aggregates = folder / "aggregates"
    steps = aggregate(
        accepted,
        aggregates,
        engine=engine,
        steps=PER_CUSTOMER_STEPS,
        as_of=checked.as_of,
        spark_master=spark_master,
        progress=progress,
        spark_progress=spark_progress,
    )
    start = time.perf_counter()
    drawn = rowsample.customer_sample(
        accepted, folder / "sample", customers=customers, seed=seed, memory_limit=memory_limit
    )
    (aggregates / SAMPLE_FILE).write_text(json.dumps(asdict(drawn), indent=2), encoding="utf-8")
    for path in checked.assessment_files.values():  # the questionnaires travel with the rows
        if not (folder / "sample" / Path(path).name).exists():
            shutil.copy2(path, folder / "sample" / Path(path).name)
    shutil.rmtree(accepted)
    sample = load_folder(folder / "sample", as_of=checked.as_of)
    note("sample", start, drawn.sampled)
    return AtScale(checked, sample, drawn, aggregates, steps)

