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
import copy
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from crmlib.analytics import lapse, linkage, linkage_spark, profitability, uplift
from crmlib.analytics.summary import customer_summary, summary_query
from crmlib.data import datasets, outofcore, rowsample
from crmlib.data import schema as s
from crmlib.data.io import ClientData, load_folder
from crmlib.engines import Engine, check_engine, duckdb_connection, duckdb_memory
from crmlib.errors import CRMError, DataError
from crmlib.models import qci
from crmlib.spark import spark_job, stop_session

STEPS = ("summary", "profitability", "cohorts", "gaps", "campaigns", "duplicates")
STEP_FILES = {
    "summary": "customer_summary.parquet",
    "profitability": "customer_profitability.parquet",
    "cohorts": "cohort_counts.csv",
    "gaps": "purchase_gaps.csv",
    "campaigns": "campaign_holdouts.csv",
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
    length (:func:`crmlib.analytics.lapse.gap_counts`: the lapse rule's data), the treated and
    holdout customers of each campaign kept with a holdout and how many of each responded
    (:func:`crmlib.analytics.uplift.holdout_counts_query`: the effect's data) and duplicate
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
            elif step == "campaigns":  # one row per campaign kept with a holdout
                counts = _holdout_counts(data, eng)
                counts.to_csv(path, index=False)
                rows = len(counts)
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


def _holdout_counts(data, eng) -> pd.DataFrame:
    """The campaigns kept with a holdout, counted (:data:`crmlib.analytics.uplift.HOLDOUT_COUNTS`);
    no row when no campaign can be measured."""
    columns = list(uplift.HOLDOUT_COUNTS)
    if eng is not None:
        query = uplift.holdout_counts_query(eng)
        return pd.DataFrame(columns=columns) if query is None else eng.sql(query)[columns]
    counts = uplift.holdout_counts(
        data.transactions, data.table("interactions"), data.table("campaigns")
    )
    return pd.DataFrame(columns=columns) if counts is None else counts


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


#: The steps a report at scale computes on every row (the records are linked before them).
PER_CUSTOMER_STEPS = STEPS[:5]
#: In an aggregates folder: how the sample was drawn (:class:`crmlib.data.rowsample.CustomerSample`).
SAMPLE_FILE = "sample.json"
#: At scale, the customer records are linked into persons on every record when the folder has
#: at most this many (splink in this process, :func:`crmlib.analytics.linkage.find_duplicates`:
#: 200,000 records take about 3 minutes and 4.4 GB); past it, only within the sample.
LINK_RECORDS = 250_000
#: In an aggregates folder, when every record was linked: records and persons (JSON), the records
#: whose person has another id (Parquet: ``customer_id``, ``person_id``) and the sample's links.
LINKED_FILE, PERSONS_FILE, IDENTITY_DIR = "linkage.json", "persons.parquet", "identity"


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
    holdouts : DataFrame
        The campaigns kept with a holdout, their treated and control customers and
        responders counted on every row (:func:`crmlib.analytics.uplift.holdout_counts_query`):
        the effect's data (:func:`crmlib.analytics.uplift.effect_of`).
    sample : crmlib.data.rowsample.CustomerSample
        The sample the lesson's rows come from.
    records, persons : int or None
        The customer records and the persons they belong to, when every record was linked
        before the tables were computed (then the tables are one row per person); None when
        the records were linked only within the sample (the tables are one row per id).
    """

    summary: pd.DataFrame
    profitability: pd.DataFrame
    cohorts: pd.DataFrame
    gaps: pd.Series
    holdouts: pd.DataFrame
    sample: rowsample.CustomerSample
    records: int | None = None
    persons: int | None = None

    @property
    def linked(self) -> bool:
        """True when every record was linked into persons before the tables were computed."""
        return self.persons is not None


def read_per_customer(folder) -> PerCustomer | None:
    """The per-customer tables :func:`at_scale` wrote to ``folder``, when the lesson needs them.

    A lesson calls this with its ``aggregates_dir`` parameter. None when the lesson computes
    everything from the rows it loaded itself: ``folder`` is None (a report in memory), or
    the sample holds every customer, so that the rows loaded are all the rows (and the
    records linked into persons count as they do in memory, which the per-customer tables
    do only when every record was linked before them: :attr:`PerCustomer.linked`).
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
        holdouts = pd.read_csv(folder / STEP_FILES["campaigns"], dtype={s.CAMPAIGN_ID: str})
        sample = rowsample.CustomerSample(**json.loads((folder / SAMPLE_FILE).read_text()))
        linked = folder / LINKED_FILE
        linked = json.loads(linked.read_text()) if linked.is_file() else {}
    except (OSError, ValueError, TypeError) as exc:
        raise CRMError(f"{folder.name}: not a complete folder of per-customer tables ({exc})") from None
    cohorts.columns = cohorts.columns.astype(int)
    if not sample.partial:
        return None
    return PerCustomer(
        tables["summary"],
        tables["profitability"],
        cohorts,
        gaps,
        holdouts,
        sample,
        linked.get("records"),
        linked.get("persons"),
    )


def customers(identity, whole: PerCustomer | None) -> int:
    """The customers a lesson reports: every customer, whether its rows are all or a sample.

    Parameters
    ----------
    identity : crmlib.analytics.linkage.Identity
        What :func:`crmlib.analytics.linkage.identify` did with the rows the lesson loaded:
        its ``customers`` are the persons with a purchase (:func:`crmlib.analytics.linkage.buyers`).
    whole : PerCustomer or None
        :func:`read_per_customer`'s tables at scale: then the customers are the rows of every
        customer's summary, persons with a purchase when every record was linked
        (:attr:`PerCustomer.linked`), else ids with a purchase.
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
    identity : Path or None
        When every customer record was linked: the links among the sample's records
        (:func:`crmlib.analytics.linkage.write_finder`), for the lessons' ``identify``.
    """

    checked: object
    sample: ClientData
    drawn: rowsample.CustomerSample
    aggregates: Path
    steps: dict
    identity: Path | None = None


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
    threshold: float = 0.9,
    link_records: int = LINK_RECORDS,
) -> AtScale:
    """Validate a large folder out of core, link the records, aggregate every row once, sample.

    When the customers table can be linked (a name, e-mail or phone) and has at most
    ``link_records`` records, every record is linked into persons first
    (:func:`crmlib.analytics.linkage.find_duplicates`, the survivor's id as the person's,
    :func:`crmlib.analytics.linkage.person_ids`) and every table's rows are relabelled onto
    persons, as :func:`crmlib.analytics.linkage.identify` does in memory: the per-customer
    tables are then one row per person, and the sample draws persons with all their records.
    Past ``link_records``, the tables are one row per customer id and the records are linked
    only within the sample.

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
    threshold : float, default 0.9
        The match probability at which two records are one person.
    link_records : int, default :data:`LINK_RECORDS`
        The most customer records linked on every record.

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
    aggregates.mkdir()
    start = time.perf_counter()
    by_person = folder / "by-person"  # the accepted rows on persons, when every record is linked
    finder = _link_every_record(accepted, by_person, aggregates, threshold, link_records, memory_limit)
    if finder is not None:
        note("linkage", start, finder.n_records_)
    steps = aggregate(
        accepted if finder is None else by_person,
        aggregates,
        engine=engine,
        steps=PER_CUSTOMER_STEPS,
        as_of=checked.as_of,
        spark_master=spark_master,
        progress=progress,
        spark_progress=spark_progress,
    )
    if engine == "spark":  # the lessons' kernels start applications of their own
        stop_session()
    start = time.perf_counter()
    persons = aggregates / PERSONS_FILE
    drawn = rowsample.customer_sample(
        accepted,
        folder / "sample",
        customers=customers,
        seed=seed,
        memory_limit=memory_limit,
        persons=persons if finder is not None else None,
    )
    identity = None
    if finder is not None:  # the lessons read the links among the sample's records
        records = pd.read_parquet(folder / "sample" / "customers.parquet", columns=[s.CUSTOMER_ID])
        identity = linkage.write_finder(
            _among(finder, records[s.CUSTOMER_ID].astype(str)), aggregates / IDENTITY_DIR
        )
    (aggregates / SAMPLE_FILE).write_text(json.dumps(asdict(drawn), indent=2), encoding="utf-8")
    for path in checked.assessment_files.values():  # the questionnaires travel with the rows
        if not (folder / "sample" / Path(path).name).exists():
            shutil.copy2(path, folder / "sample" / Path(path).name)
    shutil.rmtree(accepted)
    shutil.rmtree(by_person, ignore_errors=True)
    sample = load_folder(folder / "sample", as_of=checked.as_of)
    note("sample", start, drawn.sampled)
    return AtScale(checked, sample, drawn, aggregates, steps, identity)


def _link_every_record(
    accepted: Path, by_person: Path, aggregates: Path, threshold, limit: int, memory_limit
):
    """Link every customer record of the accepted rows and relabel the rows onto persons.

    Writes :data:`LINKED_FILE` and :data:`PERSONS_FILE` to ``aggregates``; rewrites each
    accepted table with a customer id but the customers table, every id replaced by its
    person's, in the same row order (the sampler then draws every record of a person from
    the customers table as it is); and fills ``by_person`` with the tables to aggregate:
    these, and the customers table's ids replaced likewise (a person listed once per record:
    the steps read the customers' ids as a set). Returns the fitted finder, or None when there
    is nothing to link (no customers table with a name, e-mail or phone value) or more than
    ``limit`` records.
    """
    path = accepted / "customers.parquet"
    if not path.is_file():
        return None
    con, spill = duckdb_connection(memory_limit, kind="link")
    try:
        con.execute("SET enable_progress_bar = false")
        names = {r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()}
        compared = [c for c in (s.NAME, s.EMAIL, s.PHONE) if c in names]
        if not compared:
            return None
        values = " OR ".join(f'"{c}" IS NOT NULL' for c in compared)
        records, comparable = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {values}) FROM read_parquet(?)", [str(path)]
        ).fetchone()
        if not comparable or records > limit:
            return None
        wanted = [s.CUSTOMER_ID, *compared, s.CITY, s.SIGNUP_DATE]
        columns = ", ".join(f'"{c}"' for c in wanted if c in names)
        customers = con.execute(f"SELECT {columns} FROM read_parquet(?)", [str(path)]).df()
        finder = linkage.find_duplicates(customers, threshold=threshold)
        ids = linkage.person_ids(customers, finder.clusters_)
        moved = ids[ids.index != ids.to_numpy()]
        persons = pd.DataFrame({s.CUSTOMER_ID: moved.index, "person_id": moved.to_numpy()})
        persons.to_parquet(aggregates / PERSONS_FILE, index=False)
        linked = {"records": int(len(ids)), "persons": int(ids.nunique())}
        (aggregates / LINKED_FILE).write_text(json.dumps(linked), encoding="utf-8")
        by_person.mkdir()
        for rows in sorted(accepted.iterdir()):
            table = rows.name.removesuffix(".parquet")
            if table not in rowsample.KEYED or rows.suffix != ".parquet" or persons.empty:
                (by_person / rows.name).symlink_to(rows.resolve())
                continue
            relabelled = by_person / rows.name
            con.execute(
                "COPY (SELECT t.* EXCLUDE (file_row_number) REPLACE "
                "(coalesce(p.person_id, t.customer_id) AS customer_id) "
                "FROM read_parquet(?, file_row_number = true) t "
                "LEFT JOIN read_parquet(?) p ON t.customer_id = p.customer_id "
                f"ORDER BY t.file_row_number) TO '{rowsample.quoted_path(relabelled)}' (FORMAT parquet)",
                [str(rows), str(aggregates / PERSONS_FILE)],
            )
            if table != "customers":
                relabelled.replace(rows)
                (by_person / rows.name).symlink_to(rows.resolve())
        return finder
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _among(finder, ids: pd.Series):
    """The whole folder's links among some records, every record of each of their persons
    (the sample's): what :func:`crmlib.analytics.linkage.identify` reads for the lessons."""
    part = copy.copy(finder)
    ids = set(ids)
    part.clusters_ = finder.clusters_[finder.clusters_.index.isin(ids)]
    pairs = finder.pairs_
    both = pairs[linkage.CUSTOMER_ID_L].astype(str).isin(ids) & pairs[
        linkage.CUSTOMER_ID_R
    ].astype(str).isin(ids)
    part.pairs_ = pairs[both].reset_index(drop=True)
    part.n_records_ = len(part.clusters_)
    return part
