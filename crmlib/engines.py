"""Where the transaction-level steps run: pandas in memory, DuckDB out of core, or Spark.

The steps that read raw transactions (the customer summary of
:mod:`crmlib.analytics.summary`, customer profitability of :mod:`crmlib.models.value_chain`,
the cohort tables of :mod:`crmlib.models.qci`) and duplicate detection of
:mod:`crmlib.models.idic` take ``engine=``:

``"pandas"``
    the tables in memory (a :class:`crmlib.data.io.ClientData` or DataFrames);
``"duckdb"``
    SQL in DuckDB (one process, out of core: it streams Parquet/CSV files and
    spills to a temporary folder past its memory limit, :data:`DUCKDB_MEMORY`);
``"spark"``
    the same SQL as Spark jobs (:func:`crmlib.spark.spark_session`: local mode, or a
    cluster given by ``spark_master`` / ``CRM_SPARK_MASTER``). Needs the
    optional extra ``crm-workbook[spark]`` and Java 17 or newer.

Each model module writes its SQL once, in DuckDB's dialect; for Spark it is
translated by sqlglot (:meth:`Engine.sql`), the SQL translator splink uses
for the same purpose. The engines give the same results on the same data:
equal counts, dates and ids, and sums equal up to the order of floating-point
addition (tests/test_engines.py checks this).

A step's source is either data already in memory (a ``ClientData``, a dict
of DataFrames, or one transactions DataFrame) or a client folder on disk
whose files use the workbook's column names (:mod:`crmlib.data.schema`):
``<table>.parquet``, a folder ``<table>/`` of Parquet parts, or
``<table>.csv`` (comma-separated, UTF-8, ISO dates). A folder read this way
is not loaded into memory, so it is not validated row by row as
:mod:`crmlib.data.io` does: :meth:`Engine.check_rows` refuses it when a required
value is empty or a value cannot be read as its column's kind, naming the
file, column, reason, count and first row; ``crm validate`` lists every
such row. A ``mapping.yml`` (renamed headers, other date formats) is only
applied when a folder is loaded into memory.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crmlib.data import schema as s
from crmlib.data.io import MISSING
from crmlib.data.outofcore import SQL_TYPES  # one type per column kind, as validated
from crmlib.data.scratch import scratch_dir
from crmlib.errors import CRMError, DataError
from crmlib.spark import spark_session

ENGINES = ("pandas", "duckdb", "spark")
SQL_ENGINES = ("duckdb", "spark")
#: DuckDB's memory limit unless ``CRM_DUCKDB_MEMORY`` says otherwise; past it,
#: DuckDB spills to a temporary folder.
DUCKDB_MEMORY = "4GB"
#: Tables the engines read; the others are one row per customer or small.
ENGINE_TABLES = ("transactions", "customers", "tickets", "interactions", "cost_rates", "campaigns")

#: The longest missing-value spelling, in bytes (``crmlib.data.io.MISSING``).
_MISSING_BYTES = max(len(m.encode()) for m in MISSING)


def duckdb_memory(limit: str | None = None) -> str:
    """DuckDB's memory limit: ``limit``, else ``CRM_DUCKDB_MEMORY``, else :data:`DUCKDB_MEMORY`."""
    return limit or os.environ.get("CRM_DUCKDB_MEMORY") or DUCKDB_MEMORY


def duckdb_connection(limit: str | None = None, kind: str = "duckdb"):
    """A new in-memory DuckDB connection under the workbook's memory limit, spilling past it.

    Parameters
    ----------
    limit : str, optional
        See :func:`duckdb_memory`.
    kind : str
        Names the folder DuckDB spills to (:func:`crmlib.data.scratch.scratch_dir`).

    Returns
    -------
    (duckdb.DuckDBPyConnection, Path)
        The connection and its spill folder: the caller closes the one and removes the other.
    """
    import duckdb

    spill = scratch_dir(kind)
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{duckdb_memory(limit)}'")
    con.execute(f"SET temp_directory = '{spill}'")
    return con, spill


def check_engine(engine: str, allowed=ENGINES) -> str:
    """Return ``engine`` if it is one of ``allowed``, else raise :class:`CRMError`."""
    if engine not in allowed:
        raise CRMError(f"engine must be one of {', '.join(map(repr, allowed))}, not {engine!r}")
    return engine


# --- one engine, its tables, its SQL -------------------------------------------------


def _files(folder: Path, table: str) -> tuple[str, str] | None:
    """(reader, path) of a table in a folder on disk, or None when it is absent."""
    parts = folder / table
    if parts.is_dir() and any(parts.glob("*.parquet")):
        return "parquet", str(parts / "*.parquet")
    for suffix, reader in ((".parquet", "parquet"), (".csv", "csv")):
        path = folder / f"{table}{suffix}"
        if path.is_file():
            return reader, str(path)
    return None


def _in_memory(source) -> dict[str, pd.DataFrame] | None:
    """The tables of a source held in memory, or None for a folder on disk."""
    if isinstance(source, pd.DataFrame):
        return {"transactions": source}
    if isinstance(source, dict):
        return {k: v for k, v in source.items() if isinstance(v, pd.DataFrame)}
    if hasattr(source, "tables"):  # crmlib.data.io.ClientData
        return {k: v for k, v in source.tables.items() if len(v)}
    return None


@dataclass(frozen=True)
class RowChecks:
    """The row checks of one table (:meth:`Engine.row_checks`), as SQL a query counts.

    A step that scans the table anyway counts the failing rows in its own query:
    :attr:`flags` per row, :attr:`sums` per group, then :meth:`Engine.refuse_rows`
    on a row summing those; :meth:`Engine.check_rows` counts them in a scan of its own
    (:attr:`totals`).
    """

    table: str
    checks: tuple  # (column, condition, reason)

    @property
    def flags(self) -> str:
        """``, CAST(<condition> AS INTEGER) AS check<i>``: 1 on a row failing check i."""
        return "".join(
            f", CAST({cond} AS INTEGER) AS check{i}" for i, (_, cond, _) in enumerate(self.checks)
        )

    @property
    def sums(self) -> str:
        """``, SUM(check<i>) AS check<i>``: the flags of :attr:`flags` counted."""
        return "".join(f", SUM(check{i}) AS check{i}" for i in range(len(self.checks)))

    @property
    def totals(self) -> str:
        """``SUM(CAST(<condition> AS INTEGER)) AS check<i>, …``: the checks counted in one scan."""
        return ", ".join(
            f"SUM(CAST({cond} AS INTEGER)) AS check{i}"
            for i, (_, cond, _) in enumerate(self.checks)
        )


class Engine:
    """A DuckDB connection or the Spark session, with a client's tables as SQL views.

    Use as a context manager; inside it, :meth:`sql` runs a query written in
    DuckDB's SQL against views named after the tables (``transactions``,
    ``customers`` ...), each with the workbook's columns cast to their kind
    (:data:`crmlib.data.schema.TABLES`).

    Parameters
    ----------
    name : {"duckdb", "spark"}
    source : ClientData, dict of DataFrame, DataFrame or path
        The tables (see the module docstring). A path is a client folder, or
        one transactions file.
    spark_master : str, optional
        For ``"spark"``: see :func:`spark_session`.
    memory_limit : str, optional
        For ``"duckdb"``: e.g. ``"4GB"``; default ``CRM_DUCKDB_MEMORY`` or
        :data:`DUCKDB_MEMORY`.
    """

    def __init__(self, name: str, source, spark_master: str | None = None, memory_limit=None):
        self.name = check_engine(name, SQL_ENGINES)
        self.source = source
        self.spark_master = spark_master
        self.memory_limit = duckdb_memory(memory_limit)
        self.tables: dict[str, str] = {}  # table -> file name for messages
        self.columns: dict[str, set[str]] = {}
        self._raw_text: dict[str, set[str]] = {}
        self._con = None
        self._spark = None
        self._views: list[str] = []
        self._spill: Path | None = None

    # -- lifecycle --
    def __enter__(self) -> Engine:
        if self.name == "duckdb":
            self._con, self._spill = duckdb_connection(self.memory_limit)
            self._con.execute("SET preserve_insertion_order = false")
        else:  # a session of its own: its temporary views are not another Engine's
            self._spark = spark_session(self.spark_master).newSession()
        try:
            self._register_all()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._spark is not None:
            for view in self._views:
                self._spark.catalog.dropTempView(view)
            self._views = []
        if self._spill is not None:
            shutil.rmtree(self._spill, ignore_errors=True)

    # -- tables --
    def _register_all(self) -> None:
        frames = _in_memory(self.source)
        if frames is not None:
            for table, frame in frames.items():
                if table in ENGINE_TABLES:
                    self._register(table, frame, table)
            return
        path = Path(self.source)
        if path.is_file():
            if path.suffix not in (".parquet", ".csv"):
                raise DataError(f"{path.name}: not a CSV or Parquet file", file=path.name)
            reader = "parquet" if path.suffix == ".parquet" else "csv"
            self._register("transactions", (reader, str(path)), path.name)
            return
        if not path.is_dir():
            raise DataError(f"{path.name}: no such folder or file", file=path.name)
        if (path / "mapping.yml").exists():
            raise DataError(
                f"{path.name}/mapping.yml: a column mapping is applied only when the folder is "
                "loaded into memory (engine='pandas'); for engine='duckdb' or 'spark', write the "
                "tables with the workbook's column names (datasets/README.md)",
                file="mapping.yml",
            )
        for table in ENGINE_TABLES:
            found = _files(path, table)
            if found is not None:
                self._register(table, found, Path(found[1]).name)
        if "transactions" not in self.tables:
            raise DataError(
                f"{path.name}: no transactions.parquet, transactions/ or transactions.csv",
                file="transactions",
            )

    def _register(self, table: str, data, file: str) -> None:
        raw = f"raw_{table}"
        if self.name == "duckdb":
            if isinstance(data, pd.DataFrame):
                self._con.register(raw, data)
            else:
                reader, path = data
                literal = path.replace("'", "''")
                call = (
                    f"read_parquet('{literal}')"
                    if reader == "parquet"
                    else f"read_csv('{literal}', header = true, all_varchar = true)"
                )
                self._con.execute(f"CREATE VIEW {raw} AS SELECT * FROM {call}")
            described = self._con.execute(f"DESCRIBE {raw}").fetchall()
            types = {name: kind for name, kind, *_ in described}
            text = {c for c, kind in types.items() if kind == "VARCHAR"}
        else:
            if isinstance(data, pd.DataFrame):
                frame = self._spark.createDataFrame(_for_spark(data))
            else:
                reader, path = data
                read = self._spark.read
                if reader == "parquet":
                    schema = _parquet_schema(path)
                    frame = (read if schema is None else read.schema(schema)).parquet(path)
                else:
                    frame = read.option("header", True).option("encoding", "UTF-8").csv(path)
            frame.createOrReplaceTempView(raw)
            self._views.append(raw)
            types = dict(frame.dtypes)
            text = {c for c, kind in types.items() if kind == "string"}
        self.tables[table] = file
        self.columns[table] = set(types)
        self._raw_text[table] = text
        self._typed_view(table)

    def _value(self, table: str, column: str) -> str:
        """SQL for a raw column with missing-value spellings as NULL (text columns)."""
        if column not in self._raw_text[table]:
            return column
        spellings = ", ".join(f"'{m}'" for m in sorted(MISSING))  # as when loading
        missing = f"lower(trim({column})) IN ({spellings})"
        # the same test, skipped for most values: a spelling is at most _MISSING_BYTES
        # bytes once trimmed of spaces (strlen / octet_length: the stored length, not a scan)
        length = "strlen" if self.name == "duckdb" else "octet_length"
        missing = (
            f"({length}({column}) <= {_MISSING_BYTES} OR starts_with({column}, ' ') "
            f"OR ends_with({column}, ' ')) AND {missing}"
        )
        return f"CASE WHEN {missing} THEN NULL ELSE {column} END"

    def _typed_view(self, table: str) -> None:
        spec = s.TABLES[table]
        parts = []
        for col in spec.columns:
            if col.name in self.columns[table]:
                sql_type = SQL_TYPES[col.kind]
                parts.append(
                    f'TRY_CAST({self._value(table, col.name)} AS {sql_type}) AS "{col.name}"'
                )
        self.sql_no_result(
            f"CREATE OR REPLACE TEMPORARY VIEW {table} AS SELECT {', '.join(parts)} FROM raw_{table}"
        )
        if self.name == "spark":
            self._views.append(table)

    def has(self, table: str, column: str | None = None) -> bool:
        """True when the source holds the table (and the column)."""
        if table not in self.tables:
            return False
        return column is None or column in self.columns[table]

    def need(self, table: str, columns, purpose: str) -> None:
        """Raise :class:`DataError` naming the file and the first missing column."""
        missing = [c for c in columns if not self.has(table, c)]
        if table not in self.tables or missing:
            file = self.tables.get(table, table)
            raise DataError(
                f"{file}: the column(s) {', '.join(missing or columns)} are needed {purpose} "
                "and are missing",
                file=file,
                column=(missing or list(columns))[0],
            )

    def typed(self, table: str, column: str) -> str:
        """SQL for a column of ``raw_<table>`` read as its kind, as the typed view reads it."""
        sql_type = SQL_TYPES[s.TABLES[table].column(column).kind]
        return f"TRY_CAST({self._value(table, column)} AS {sql_type})"

    def row_checks(self, table: str, columns) -> RowChecks:
        """The row checks of :meth:`check_rows` as SQL conditions on ``raw_<table>``.

        Returns
        -------
        RowChecks
            One (column, condition, reason) per check: a row fails a check when
            its condition is true (a required value is empty, or a text value
            cannot be read as its column's kind).
        """
        spec = s.TABLES[table]
        checks = []
        for name in columns:
            if not self.has(table, name):
                continue
            col = spec.column(name)
            raw = self._value(table, name)
            if not col.nullable:
                checks.append((name, f"{raw} IS NULL", "is empty"))
            if name in self._raw_text[table] and SQL_TYPES[col.kind] != "VARCHAR":
                checks.append(
                    (
                        name,
                        f"{raw} IS NOT NULL AND TRY_CAST({raw} AS {SQL_TYPES[col.kind]}) IS NULL",
                        f"cannot be read as a {col.kind} (ISO dates, '.' decimals)",
                    )
                )
        return RowChecks(table, tuple(checks))

    def refuse_rows(self, checks: RowChecks, found) -> None:
        """Raise the :class:`DataError` of the first check that rows failed.

        Parameters
        ----------
        checks : RowChecks
            From :meth:`row_checks`.
        found : mapping
            A result row holding ``check<i>``, how many rows failed check ``i``
            (:attr:`RowChecks.totals`, or :attr:`RowChecks.sums` in a step's own query).
        """
        for i, (name, _, reason) in enumerate(checks.checks):
            n = int(found[f"check{i}"] or 0)
            if n:
                file = self.tables[checks.table]
                raise DataError(
                    f"{file}: column {name}: {n:,} row(s) where the value {reason}; "
                    "run `crm validate` on the folder to list them",
                    file=file,
                    column=name,
                )

    def refuse_and_date(self, checks: RowChecks, table: str, last: str, as_of, also: str = ""):
        """After a step's one pass over the transactions: refuse, then the as-of date.

        Reads the small table the pass left (``table``) once: the row checks' counts,
        refused as :meth:`refuse_rows` does, and the last order date (``MAX(last)``), the
        default as-of date of every step.

        Parameters
        ----------
        checks : RowChecks
            Whose :attr:`RowChecks.sums` the pass kept as columns of ``table``.
        table, last : str
            The table and its column of each group's last order date.
        as_of : date-like or None
            Given, it is returned as it is.
        also : str
            More of that row's columns, as SQL (``", MIN(first_day) AS start"``).

        Returns
        -------
        (pandas.Series, as-of date)
            The row read, and ``as_of`` or the last order date.
        """
        found = self.sql(f"SELECT MAX({last}) AS last{also}{checks.sums} FROM {table}").iloc[0]
        self.refuse_rows(checks, found)
        if as_of is None:
            if pd.isna(found["last"]):
                raise self.no_order_lines()
            as_of = found["last"]
        return found, as_of

    def check_rows(self, table: str, columns) -> None:
        """Refuse the table when a needed value is empty or cannot be read as its kind.

        One scan of the table. The customer summary, profitability and the cohort
        counts count the same checks inside their own one pass instead
        (:meth:`row_checks`, :meth:`refuse_and_date`).

        Parameters
        ----------
        table : str
        columns : iterable of str
            The columns the step reads; required ones must not be empty.

        Raises
        ------
        DataError
            Naming the file, the column, the reason, how many rows and the
            ``crm validate`` lists the rows; never the value itself.
        """
        checks = self.row_checks(table, columns)
        if not checks.checks:
            return
        self.refuse_rows(checks, self.sql(f"SELECT {checks.totals} FROM raw_{table}").iloc[0])

    def no_order_lines(self) -> DataError:
        """The error for transactions without a dated order line."""
        return DataError(
            f"{self.tables['transactions']}: there are no order lines", file="transactions"
        )

    # -- SQL --
    def _spark_sql(self, query: str):
        """A DuckDB-dialect query translated by sqlglot and run by Spark (a DataFrame).

        Two statements are Spark's own. ``CREATE [OR REPLACE] TEMPORARY TABLE name AS
        query`` (a step's small per-customer table, read by the queries after it) is
        computed once, now, and kept in the session's memory (spilling to disk) as a
        checkpoint the view ``name`` reads (``DataFrame.localCheckpoint``). A comment
        ``/*+ HINT(...) */`` before a SELECT, which DuckDB ignores, becomes Spark's hint
        on that SELECT (e.g. ``REPARTITION(cid)``: one shuffle of the lines by customer,
        after which every grouping by customer and more needs no other).
        """
        import sqlglot
        from sqlglot import expressions as exp

        tree = sqlglot.parse_one(query, read="duckdb")
        temporary = isinstance(tree, exp.Create) and tree.kind == "TABLE"
        temporary = temporary and tree.find(exp.TemporaryProperty) is not None
        if temporary:
            # computed now and kept (memory, spilling to disk) without its plan: a cached
            # view (CACHE TABLE) is not used by a later query that reads it in a WITH clause
            frame = self._spark.sql(_spark_text(tree.expression)).localCheckpoint(eager=True)
            frame.createOrReplaceTempView(tree.this.name)
            self._views.append(tree.this.name)
            return frame
        return self._spark.sql(_spark_text(tree))

    def sql(self, query: str) -> pd.DataFrame:
        """Run a DuckDB-dialect query and return its result as a pandas DataFrame."""
        if self.name == "duckdb":
            return self._con.execute(query).df()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            return self._spark_sql(query).toPandas()

    def sql_no_result(self, query: str) -> None:
        """Run a statement that returns nothing (CREATE VIEW ...)."""
        if self.name == "duckdb":
            self._con.execute(query)
        else:
            self._spark_sql(query)

    def write(self, query: str, path: Path) -> int:
        """Write a query's result to Parquet without passing it through pandas.

        DuckDB writes one file; Spark writes a folder of part files (both read
        back with ``pandas.read_parquet``). Returns the number of rows written.
        """
        import pyarrow.dataset as ds

        path = Path(path)
        if self.name == "duckdb":
            literal = str(path).replace("'", "''")
            self._con.execute(f"COPY ({query}) TO '{literal}' (FORMAT parquet)")
        else:
            self._spark_sql(query).write.mode("overwrite").parquet(str(path))
        return ds.dataset(str(path), format="parquet").count_rows()

    def scalar(self, query: str):
        """The single value of a one-row, one-column query."""
        value = self.sql(query).iloc[0, 0]
        return None if pd.isna(value) else value

    def last_order_date(self):
        """The last order date of the transactions (the default as-of date)."""
        last = self.scalar(f"SELECT MAX(CAST({s.ORDER_DATE} AS DATE)) FROM transactions")
        if last is None:
            raise self.no_order_lines()
        return last


def _spark_text(tree) -> str:
    """Spark SQL for a parsed DuckDB statement, with ``/* + HINT */ SELECT`` as a hint."""
    text = tree.sql(dialect="spark")
    return re.sub(r"/\* \+ ([A-Z_]+\([^*]*\)) \*/ SELECT ", r"SELECT /*+ \1 */ ", text)


def _parquet_schema(path: str):
    """The Spark schema of a Parquet table, read from its footer here, or None to let Spark infer it.

    Spark infers a Parquet schema by reading a footer in a job of its own (in a new JVM,
    seconds); this reads the same footer with pyarrow and gives Spark the types it would
    infer (text, numbers, booleans, dates, micro- and millisecond timestamps: with a
    time zone ``timestamp``, without ``timestamp_ntz``). Any other type, or a footer
    that cannot be read, leaves the schema to Spark.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import from_arrow_schema

    files = sorted(Path(path).parent.glob(Path(path).name)) if "*" in path else [Path(path)]
    try:
        schema = pq.read_schema(files[0])
    except (IndexError, OSError, pa.ArrowException):
        return None
    for field in schema:
        kind = field.type
        known = (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_floating(kind)
            or pa.types.is_signed_integer(kind)
            or pa.types.is_boolean(kind)
            or pa.types.is_date32(kind)
            or (pa.types.is_timestamp(kind) and kind.unit in ("ms", "us"))
        )
        if not known or pa.types.is_float16(kind):
            return None
    return from_arrow_schema(schema, prefer_timestamp_ntz=True)


def _for_spark(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame Spark's Arrow conversion reads: text as object, no pandas-only dtypes."""
    out = frame.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if pd.api.types.is_object_dtype(dtype) or isinstance(
            dtype, (pd.StringDtype, pd.CategoricalDtype)
        ):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
        elif pd.api.types.is_bool_dtype(dtype):
            out[col] = out[col].astype(bool)
    return out


def describe(engine: str, spark_master: str | None = None) -> str:
    """One line naming the engine that runs the transaction-level steps."""
    check_engine(engine)
    if engine == "pandas":
        return f"pandas {pd.__version__} (in memory)"
    if engine == "duckdb":
        import duckdb

        memory = duckdb_memory()
        return f"DuckDB {duckdb.__version__} (out of core, memory limit {memory})"
    spark = spark_session(spark_master)
    return f"Spark {spark.version} at {spark.sparkContext.master}"


def as_of_sql(when) -> str:
    """A date literal for the engines' SQL."""
    return f"DATE '{pd.Timestamp(when).date().isoformat()}'"


# --- the transaction-level steps on a folder, one command ---------------------------------
