"""A seeded sample of customers with every row of theirs: the rows a report at scale charts and fits.

A report on a folder too large for memory (``crm report --engine duckdb`` or
``spark``) computes its per-customer tables on every row, out of core
(:mod:`crmlib.pipeline`). What needs rows in memory (a chart of order
timing, a model fitted to individual purchases, the record linkage) runs on
a sample drawn here: a fixed number of customers, chosen by a seeded hash of
their id, with **every** row of theirs in every table keyed by customer
(transactions, customers, interactions, tickets, surveys, subscriptions).
Sampling customers, not rows, keeps each sampled customer's history whole,
so that a per-customer figure of the sample (frequency, recency, revenue) is
that customer's figure in the full data (Cochran 1977, ch. 9: cluster
sampling, the customer as the cluster).

The choice is reproducible and needs no random state: the customers with the
smallest ``md5(customer_id || ':' || seed)`` are taken, so that the same
folder and seed give the same sample on any machine, and a larger sample
contains a smaller one drawn with the same seed. Tables without a customer
id (products, campaigns, cost rates, questionnaires) are copied whole.

The sampler reads a folder of Parquet files, ``<table>.parquet``, as
:func:`crmlib.data.outofcore.validate` writes the accepted rows
(``accepted_to``), with DuckDB, and writes the sample's files in the same
layout; :func:`crmlib.data.io.load_folder` then loads the sample in memory.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

#: The number of customers a report at scale samples unless told otherwise.
SAMPLE_CUSTOMERS = 20_000
#: The seed of the sample unless told otherwise.
SAMPLE_SEED = 20261207
#: The tables whose rows belong to one customer each.
KEYED = tuple(name for name, table in s.TABLES.items() if s.CUSTOMER_ID in table.names)

__all__ = ["KEYED", "SAMPLE_CUSTOMERS", "SAMPLE_SEED", "CustomerSample", "customer_sample", "quoted_path"]


@dataclass(frozen=True)
class CustomerSample:
    """What :func:`customer_sample` drew.

    Attributes
    ----------
    customers : int
        Customers in the whole folder (customer ids in the customers table or
        the transactions, counted once).
    sampled : int
        Customers in the sample: ``min(customers, asked)``.
    seed : int
    rows : dict
        Rows written per table.
    unit : str
        What was counted and drawn: "customer ids", or "persons" when the records of one
        person were linked before (``persons`` of :func:`customer_sample`).
    """

    customers: int
    sampled: int
    seed: int
    rows: dict = field(default_factory=dict)
    unit: str = "customer ids"

    @property
    def partial(self) -> bool:
        """True when some customers are not in the sample."""
        return self.sampled < self.customers

    @property
    def fraction(self) -> float:
        """The sampled share of the customers (1.0 when every customer is in it)."""
        return self.sampled / self.customers if self.customers else 1.0

    def sentence(self) -> str:
        """One sentence for a reader: how large the sample is and how it was drawn."""
        if not self.partial:
            return f"Every one of the {self.customers:,} {self.unit} is in the sample."
        return (
            f"Charts and fits that need individual rows use a sample of {self.sampled:,} of the "
            f"{self.customers:,} {self.unit} ({self.fraction:.1%}), with all of their rows, "
            f"drawn by a seeded hash of the id (seed {self.seed})."
        )


def customer_sample(
    folder,
    out,
    customers: int = SAMPLE_CUSTOMERS,
    seed: int = SAMPLE_SEED,
    memory_limit: str | None = None,
    persons=None,
) -> CustomerSample:
    """Write every row of a seeded sample of customers to a new folder.

    Parameters
    ----------
    folder : str or Path
        A folder of ``<table>.parquet`` files with the workbook's column names.
    out : str or Path
        The folder to write (created; it must not exist).
    customers : int, default :data:`SAMPLE_CUSTOMERS`
        How many customers to take; all of them when the folder has fewer.
    seed : int, default :data:`SAMPLE_SEED`
    memory_limit : str, optional
        DuckDB's memory limit (e.g. ``"4GB"``); past it DuckDB spills to disk.
    persons : str or Path, optional
        A Parquet file of ``customer_id`` and ``person_id``: the records of one person
        (:func:`crmlib.analytics.linkage.person_ids`). Then persons are drawn, by the hash
        of the person's id, each with every record of theirs and those records' rows; an id
        not in the file is its own person.

    Returns
    -------
    CustomerSample

    Raises
    ------
    CRMError
        ``customers`` is below 1.
    crmlib.errors.DataError
        The folder has neither a customers nor a transactions table.
    """
    import duckdb

    if customers < 1:
        raise CRMError(f"a sample needs at least one customer, not {customers}")
    folder, out = Path(folder), Path(out)
    keyed = [t for t in KEYED if (folder / f"{t}.parquet").is_file()]
    if not {"customers", "transactions"} & set(keyed):
        raise DataError(
            f"{folder.name}: no customers or transactions table to sample customers from",
            file=folder.name,
        )
    out.mkdir(parents=True)
    con = duckdb.connect()
    try:
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET enable_progress_bar = false")
        ids = " UNION ".join(
            f"SELECT DISTINCT CAST({s.CUSTOMER_ID} AS VARCHAR) AS id FROM read_parquet(?)"
            for t in keyed
            if t in ("customers", "transactions")
        )
        paths = [str(folder / f"{t}.parquet") for t in keyed if t in ("customers", "transactions")]
        con.execute(f"CREATE TEMP TABLE records AS {ids}", paths)
        con.execute("CREATE TEMP TABLE persons (id VARCHAR, person VARCHAR)")
        if persons is not None:
            con.execute(
                "INSERT INTO persons SELECT CAST(customer_id AS VARCHAR), CAST(person_id AS "
                "VARCHAR) FROM read_parquet(?)",
                [str(persons)],
            )
        con.execute(
            "CREATE TEMP TABLE everyone AS SELECT id, coalesce(person, id) AS person "
            "FROM records LEFT JOIN persons USING (id)"
        )
        total = con.execute("SELECT count(DISTINCT person) FROM everyone").fetchone()[0]
        con.execute(
            "CREATE TEMP TABLE drawn AS SELECT person FROM (SELECT DISTINCT person FROM "
            "everyone) ORDER BY md5(person || ':' || ?), person LIMIT ?",
            [str(seed), int(customers)],
        )
        sampled = con.execute("SELECT count(*) FROM drawn").fetchone()[0]
        con.execute(  # every record of a drawn person
            "CREATE TEMP TABLE chosen AS SELECT id FROM everyone WHERE person IN "
            "(SELECT person FROM drawn)"
        )
        rows = {}
        for path in sorted(folder.iterdir()):
            table = path.name.removesuffix(".parquet")
            if path.suffix != ".parquet":  # questionnaires and other files: as they are
                if path.is_file():
                    shutil.copy2(path, out / path.name)
                continue
            names = {
                r[0]
                for r in con.execute(
                    "DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]
                ).fetchall()
            }
            # the validator's line numbers are of the client's file, not of the sample's
            dropped = ", ".join(
                ["file_row_number", *([s.SOURCE_ROW] if s.SOURCE_ROW in names else [])]
            )
            # the rows of the chosen customers, or every row of a table without a customer id
            chosen = (
                f"WHERE CAST({s.CUSTOMER_ID} AS VARCHAR) IN (SELECT id FROM chosen) "
                if table in keyed
                else ""
            )
            target = out / path.name
            con.execute(
                f"COPY (SELECT * EXCLUDE ({dropped}) FROM read_parquet(?, file_row_number = true) "
                f"{chosen}ORDER BY file_row_number) TO '{quoted_path(target)}' (FORMAT parquet)",
                [str(path)],
            )
            if table in keyed:
                rows[table] = con.execute(
                    "SELECT count(*) FROM read_parquet(?)", [str(target)]
                ).fetchone()[0]
    finally:
        con.close()
    unit = "customer ids" if persons is None else "persons"
    return CustomerSample(int(total), int(sampled), int(seed), rows, unit)


def quoted_path(path: Path) -> str:
    """A path for a SQL string literal (COPY TO takes no parameter)."""
    return str(path).replace("'", "''")
