"""Validate a client folder out of core: the rules of :mod:`crmlib.data.io`, in SQL on DuckDB.

:func:`validate` applies every rule that :func:`crmlib.data.io.load_folder`
applies (the list is in that module's docstring) without loading the folder
into pandas: each table is a DuckDB relation, each rule a SQL expression
derived from the declarations in :mod:`crmlib.data.schema` (column kinds,
required and nullable columns, the pandera checks, keys), and the reject rows
are written by DuckDB (``COPY``) rather than held in memory. DuckDB works
within ``memory_limit`` and spills to a temporary folder past it.

How each input is read:

* Parquet: ``read_parquet(…, file_row_number = true)``; the row number
  reported is ``file_row_number + 2``, as :mod:`crmlib.data.io` numbers a
  Parquet file's rows (header = 1).
* CSV (``.csv``, ``.txt``, ``.tsv``): tokenised record by record with Python's
  :mod:`csv` module (the encodings, delimiters, quoted line breaks, blank
  lines and over-long fields that :mod:`crmlib.data.io` accepts, with the same
  line numbers) and streamed into a DuckDB table in batches; every rule after
  tokenising runs in SQL.
* Refused with one sentence: ``.xlsx`` files (a spreadsheet holds at most about
  a million rows: ``crm validate --engine pandas`` reads it) and a
  ``mapping.yml`` that gives a ``date_format`` or a ``sheet``. ``file``,
  ``columns``, ``decimal`` and ``thousands`` are applied.

Dates are read as :mod:`crmlib.data.io` reads them with pandas' ISO 8601
parser, in the forms of :data:`ISO_FORMATS` after a time-zone suffix is
dropped (:data:`crmlib.data.io.TZ_SUFFIX`).
"""

from __future__ import annotations

import csv
import logging
import shutil
import string
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from crmlib.data import io
from crmlib.data import schema as s
from crmlib.data.scratch import scratch_dir
from crmlib.errors import CRMError, DataError

__all__ = ["OutOfCoreData", "validate"]

LOG = logging.getLogger(__name__)

#: The ISO 8601 spellings pandas' ``format="ISO8601"`` reads, for DuckDB's ``strptime``.
ISO_FORMATS = (
    *("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S.%f"),
    *("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H"),
    *("%Y-%m-%d %H", "%Y%m%d", "%Y-%m", "%Y", "%Y/%m/%d"),
)
#: What Python's ``str.strip()`` removes (DuckDB's ``trim`` removes spaces only).
WHITESPACE = (
    string.whitespace
    + "\x1c\x1d\x1e\x1f\x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
#: Reject rows kept in memory for printing; the rejects file holds them all.
SAMPLE_ROWS = 5000
STAGE_BATCH = 100_000
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
NUMERIC_TYPES = tuple(
    "TINYINT SMALLINT INTEGER BIGINT HUGEINT UTINYINT USMALLINT UINTEGER UBIGINT UHUGEINT "
    "FLOAT DOUBLE BOOLEAN".split()
)
SQL_TYPES = {
    s.ID: "VARCHAR",
    s.TEXT: "VARCHAR",
    s.DATE_KIND: "DATE",
    s.DATETIME: "TIMESTAMP",
    s.FLOAT: "DOUBLE",
    s.INT: "BIGINT",
}
# the order of a row's reject lines, as crmlib.data.io appends them
_ORD_PARSE, _ORD_CHECK, _ORD_RULE, _ORD_DUPLICATE = 1000, 2000, 3000, 9000


@dataclass
class OutOfCoreData:
    """A client folder validated out of core: counts, warnings and a sample of the rejects.

    Attributes
    ----------
    reports : dict of str to crmlib.data.io.TableReport
        Rows read, accepted and rejected per table (as ``ClientData.reports``).
    warnings : list of str
        Rules that kept rows but want attention (as ``ClientData.warnings``).
    as_of : Timestamp
        The as-of date given, or the last valid order date.
    files, assessment_files : dict of str to Path
        The table files and ``assessment_<bank>`` files found.
    rejected_values : int
        Reject lines in all (one per rejected value; a row may have several).
    rejects_sample : DataFrame
        The first :data:`SAMPLE_ROWS` reject lines (columns ``schema.REJECT_COLUMNS``).
    reason_counts : DataFrame
        Reject lines per table and reason, digits read as ``N`` (table, reason, rows).
    """

    reports: dict[str, io.TableReport]
    warnings: list[str]
    as_of: pd.Timestamp
    files: dict[str, Path]
    assessment_files: dict[str, Path]
    rejected_values: int
    rejects_sample: pd.DataFrame
    reason_counts: pd.DataFrame = field(repr=False)
    source: Path | None = None

    def summary(self) -> dict:
        """A JSON-ready summary, as :meth:`crmlib.data.io.ClientData.summary` gives."""
        return io.validation_summary(self.reports, self.warnings)

    def top_reasons(self, n: int = 5) -> pd.DataFrame:
        """The most frequent reject reasons per table, as :meth:`ClientData.top_reasons`."""
        return self.reason_counts.head(n).reset_index(drop=True)


# --- SQL spelling -------------------------------------------------------------


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _lit(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _strip(expr: str) -> str:
    """``expr`` without the whitespace ``str.strip()`` removes.

    Every such character is at most U+0020 or at least U+0085, so a value that
    starts and ends with a character between them is kept as it is, and the
    (slow) full ``trim`` runs on the others only.
    """
    plain = f"unicode({expr}) BETWEEN 33 AND 132 AND unicode(substr({expr}, -1)) BETWEEN 33 AND 132"
    return f"(CASE WHEN {plain} THEN {expr} ELSE trim({expr}, {_lit(WHITESPACE)}) END)"


# --- reading the files --------------------------------------------------------


@dataclass
class _Source:
    """One table's file as a DuckDB relation: ``__row`` and the file's columns."""

    table: str
    file: Path
    relation: str
    columns: dict[str, tuple[str, str]]  # workbook name -> (SQL column, DuckDB type)
    rows: int
    ragged: list[dict]


def _encoding(path: Path) -> tuple[str, int, bool]:
    """The file's encoding (as :func:`crmlib.data.io.decode_text` chooses it), the
    bytes of its byte-order mark, and whether it holds any text; read in chunks."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise DataError(f"{path.name}: cannot be read ({exc.strerror})", file=path.name) from None
    choices = [(enc, len(bom)) for bom, enc in io.BOMS if head.startswith(bom)]
    choices = choices or [(enc, 0) for enc in io.ENCODINGS]
    for encoding, skip in choices:
        try:
            text = False
            with open(path, "rb") as fh:
                fh.seek(skip)
                reader = _text(fh, encoding)
                for chunk in iter(lambda r=reader: r.read(1 << 20), ""):
                    text = text or bool(chunk.strip())
            return encoding, skip, text
        except UnicodeDecodeError:
            if skip:
                raise DataError(
                    f"{path.name}: starts as {encoding.upper()} text but is not; "
                    "save it again as Unicode Text or UTF-8",
                    file=path.name,
                ) from None
    raise DataError(f"{path.name}: not UTF-8, UTF-16 or Windows-1252 text", file=path.name)


def _text(fh, encoding: str):
    import io as stdio

    return stdio.TextIOWrapper(fh, encoding=encoding, newline="")


def _stage_csv(con, table: str, path: Path) -> tuple[str, list[str], int, list[dict]]:
    """Tokenise a delimited file into the DuckDB table ``stage_<table>``.

    The rules and line numbers of :func:`crmlib.data.io._read_text_table`: a
    blank line is skipped, a row with a field longer than
    :data:`crmlib.data.io.MAX_FIELD_CHARS` or another number of fields than the
    header is listed (returned), not staged.
    """
    encoding, skip, has_text = _encoding(path)
    if not has_text:
        raise DataError(f"{path.name}: the file is empty", file=path.name)
    with open(path, "rb") as fh:
        fh.seek(skip)
        reader = _text(fh, encoding)
        head = ""
        while True:  # the first 20 lines whole, for the delimiter
            chunk = reader.read(1 << 16)
            head += chunk
            if not chunk or len(head.splitlines()) > 20:
                break
    sep = io.sniff_delimiter(head)
    name = f"stage_{table}"
    bad: list[dict] = []
    count = 0
    previous = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        with open(path, "rb") as fh:
            fh.seek(skip)
            reader = csv.reader(_text(fh, encoding), delimiter=sep)
            try:
                header = io._name_blanks(next(reader))
                io._check_header(header, path.name)
                width = len(header)
                names = ["__row", *(f"c{i}" for i in range(width))]
                columns = ", ".join(f"{n} {'BIGINT' if n == '__row' else 'VARCHAR'}" for n in names)
                con.execute(f"CREATE TABLE {name} ({columns})")
                batch: list[list] = [[] for _ in names]
                start = 2
                for record in reader:
                    line = start
                    start = reader.line_num + 1
                    if not record or not "".join(record).strip():
                        continue
                    if max(map(len, record)) > io.MAX_FIELD_CHARS:
                        long = next(i for i, f in enumerate(record) if len(f) > io.MAX_FIELD_CHARS)
                        reason = f"field longer than {io.MAX_FIELD_CHARS} characters"
                        if reader.line_num > line:
                            reason += f" (lines {line}-{reader.line_num}: an unclosed quote?)"
                        column = header[long] if long < width else ""
                        bad.append({"row": line, "column": column, "value": "", "reason": reason})
                        continue
                    if len(record) != width:
                        reason = f"has {len(record)} fields, the header has {width}"
                        bad.append({"row": line, "column": "", "value": "", "reason": reason})
                        continue
                    batch[0].append(line)
                    for i, value in enumerate(record, start=1):
                        batch[i].append(value)
                    if len(batch[0]) >= STAGE_BATCH:
                        count += _flush(con, name, names, batch)
                        batch = [[] for _ in names]
                count += _flush(con, name, names, batch)
            except csv.Error as exc:
                raise DataError(
                    f"not readable as delimited text ({exc})", file=path.name, row=reader.line_num
                ) from None
            except StopIteration:
                raise DataError(f"{path.name}: the file is empty", file=path.name) from None
    finally:
        csv.field_size_limit(previous)
    return name, header, count, bad


def _flush(con, name: str, names: list[str], batch: list[list]) -> int:
    if not batch[0]:
        return 0
    arrow = pa.table(
        {
            n: pa.array(v, type=pa.int64() if n == "__row" else pa.string())
            for n, v in zip(names, batch, strict=True)
        }
    )
    con.register("batch_view", arrow)
    con.execute(f"INSERT INTO {name} SELECT * FROM batch_view")
    con.unregister("batch_view")
    return len(batch[0])


def _source(con, name: str, path: Path, spec: dict) -> _Source:
    """The table's file as a relation with ``__row`` and its columns under workbook names."""
    table = s.TABLES[name]
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        raise DataError(
            f"{path.name}: a spreadsheet is validated in memory (crm validate --engine pandas); "
            "for --engine duckdb save it as CSV or Parquet",
            file=path.name,
        )
    if suffix == ".parquet":
        literal = _lit(path)
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({literal})").fetchall()
            rows = con.execute(f"SELECT count(*) FROM read_parquet({literal})").fetchone()[0]
        except duckdb.Error as exc:
            reason = str(exc).splitlines()[0]
            raise DataError(f"{path.name}: cannot be read ({reason})", file=path.name) from None
        header = [d[0] for d in described]
        io._check_header(header, path.name)
        sources = [(_ident(h), d[1]) for h, d in zip(header, described, strict=True)]
        relation = (
            f"(SELECT file_row_number + 2 AS __row, * EXCLUDE (file_row_number) "
            f"FROM read_parquet({literal}, file_row_number = true))"
        )
        ragged: list[dict] = []
    else:
        relation, header, rows, ragged = _stage_csv(con, name, path)
        sources = [(f"c{i}", "VARCHAR") for i in range(len(header))]
        rows += len(ragged)
    names = list(io._table_columns(pd.DataFrame(columns=header), table, spec, path.name).columns)
    missing = [c for c in table.required if c not in names]
    if missing:
        raise DataError(
            f"{path.name}: required column {missing[0]!r} is missing "
            f"(columns found: {', '.join(map(str, names))}). Rename it in the file, or "
            f"map your header in mapping.yml, e.g. {name}: {{columns: {{Your Header: "
            f"{missing[0]}}}}}",
            file=path.name,
            column=missing[0],
        )
    columns = {n: src for n, src in zip(names, sources, strict=True) if n in table.names}
    return _Source(name, path, relation, columns, rows, ragged)


# --- the rules, as SQL ------------------------------------------------------------


def _is_text(kind: str) -> bool:
    return kind == "VARCHAR"


def _is_number(kind: str) -> bool:
    return kind in NUMERIC_TYPES or kind.startswith("DECIMAL")


def _is_time(kind: str) -> bool:
    return kind == "DATE" or kind.startswith("TIMESTAMP")


@dataclass(frozen=True)
class _ColumnSQL:
    """SQL for one column, in three steps so that each is computed once per value.

    ``raw`` is the value as written (for the rejects) and ``clean`` the value to
    parse (text stripped), both from the file's column; ``missing`` reads
    ``clean`` as the column ``t``; ``value``, the parsed value (NULL when missing
    or unreadable, :func:`crmlib.data.io._parse`), reads the columns ``t`` and ``m``
    (spelled :data:`_T` and :data:`_M` until :func:`_rename` numbers them).
    """

    raw: str
    clean: str
    missing: str
    value: str


def _column_sql(column: s.Column, expr: str, kind: str, spec: dict) -> _ColumnSQL:
    """The SQL of :class:`_ColumnSQL` for one column of the workbook's schema."""
    text_source = _is_text(kind)
    raw = expr if text_source else f"CAST({expr} AS VARCHAR)"
    clean = _strip(expr) if text_source else expr
    t = _T
    if text_source:
        spellings = ", ".join(_lit(m) for m in sorted(io.MISSING))
        longest = max(len(m.encode()) for m in io.MISSING)
        missing = f"({t} IS NULL OR (strlen({t}) <= {longest} AND lower({t}) IN ({spellings})))"
    else:
        missing = f"({t} IS NULL)"
    if column.kind in (s.FLOAT, s.INT):
        if _is_number(kind):
            value = f"CAST({t} AS DOUBLE)"
        else:
            symbols = " OR ".join(f"contains({t}, {_lit(c)})" for c in "€$£")
            number = (
                f"(CASE WHEN {symbols} THEN regexp_replace({t}, '^[€$£]\\s*|\\s*[€$£]$', '', 'g') "
                f"ELSE {t} END)"
            )
            if spec.get("thousands"):
                number = f"replace({number}, {_lit(spec['thousands'])}, '')"
            if spec.get("decimal", ".") == ",":
                number = f"replace({number}, ',', '.')"
            value = (
                f"(CASE WHEN contains({t}, '_') THEN NULL ELSE TRY_CAST({number} AS DOUBLE) END)"
            )
    elif column.kind in (s.DATE_KIND, s.DATETIME):
        if _is_time(kind):
            stamp = f"CAST({t} AS TIMESTAMP)"
        else:
            formats = "[" + ", ".join(_lit(f) for f in ISO_FORMATS) + "]"
            bare = (  # a time-zone suffix dropped; a plain date (10 characters) has none
                f"(CASE WHEN strlen({t}) > 10 THEN regexp_replace({t}, {_lit(io.TZ_SUFFIX)}, '\\1') "
                f"ELSE {t} END)"
            )
            stamp = f"try_strptime({bare}, {formats})"
        value = f"CAST({stamp} AS DATE)" if column.kind == s.DATE_KIND else stamp
    elif column.kind == s.ID:
        text = t
        if kind in ("FLOAT", "DOUBLE"):  # a whole number in full, else as Python writes it
            whole = f"(trunc({t}) = {t} AND abs({t}) < {io.EXACT_FLOAT})"
            text = (
                f"(CASE WHEN {whole} THEN CAST(CAST({t} AS HUGEINT) AS VARCHAR) "
                f"ELSE CAST({t} AS VARCHAR) END)"
            )
        elif not text_source:
            text = f"CAST({t} AS VARCHAR)"
        rounded = f"(contains({text}, '+') AND regexp_full_match({text}, {_lit(io.SCIENTIFIC_ID)}))"
        value = f"(CASE WHEN {rounded} THEN NULL ELSE {text} END)"
    else:
        value = t if text_source else f"CAST({t} AS VARCHAR)"
    return _ColumnSQL(raw, clean, missing, f"(CASE WHEN {_M} THEN NULL ELSE {value} END)")


_T, _M = "<<t>>", "<<m>>"  # placeholders in a column step for the columns t<i> and m<i>


def _rename(sql: str, i: int) -> str:
    """The SQL of a column step with ``t`` and ``m`` read as column ``i``'s."""
    return sql.replace(_T, f"t{i}").replace(_M, f"m{i}")


def _check_sql(check, value: str) -> str:
    """A pandera check (:mod:`crmlib.data.schema`) as a SQL condition a valid value meets."""
    st = check.statistics
    if check.name == "greater_than_or_equal_to":
        return f"{value} >= {st['min_value']}"
    if check.name == "greater_than":
        return f"{value} > {st['min_value']}"
    if check.name == "less_than_or_equal_to":
        return f"{value} <= {st['max_value']}"
    if check.name == "less_than":
        return f"{value} < {st['max_value']}"
    if check.name == "in_range":
        low = ">=" if st.get("include_min", True) else ">"
        high = "<=" if st.get("include_max", True) else "<"
        return f"({value} {low} {st['min_value']} AND {value} {high} {st['max_value']})"
    if check.name == "isin":
        return f"{value} IN ({', '.join(_lit(v) for v in st['allowed_values'])})"
    if check.name == "str_matches":
        pattern = st["pattern"]
        pattern = pattern if pattern.startswith("^") else "^" + pattern  # re.match
        return f"regexp_matches({value}, {_lit(pattern)})"
    raise CRMError(f"the check {check.name} has no SQL form in crmlib.data.outofcore yet")


@dataclass
class _Plan:
    """The SQL of one table's rules: its columns and the reject lines a row may give."""

    columns: list[s.Column]
    view: str  # the table of __row, m<i>, v<i>, bad and (on bad rows) r<i>
    entries: list[str]  # SQL: a struct (column, value, reason, ord) or NULL, per rule


def _plan(con, src: _Source, spec: dict, cutoff: pd.Timestamp) -> _Plan:
    """Parse and flag every row of one table into ``checked_<table>``; the SQL of its rules."""
    table = s.TABLES[src.table]
    cols = [c for c in table.columns if c.name in src.columns]
    sql = [_column_sql(c, *src.columns[c.name], spec) for c in cols]
    first = ", ".join(f"{q.raw} AS r{i}, {q.clean} AS t{i}" for i, q in enumerate(sql))
    second = ", ".join(f"{_rename(q.missing, i)} AS m{i}" for i, q in enumerate(sql))
    third = ", ".join(f"{_rename(q.value, i)} AS v{i}" for i, q in enumerate(sql))
    con.execute(
        f"CREATE VIEW parsed_{src.table} AS SELECT *, {third} FROM (SELECT *, {second} FROM "
        f"(SELECT __row, {first} FROM {src.relation}))"
    )
    at = {c.name: i for i, c in enumerate(cols)}

    def entry(cond: str, i: int | None, value: str, reason: str, order: int) -> str:
        name = cols[i].name if i is not None else ""
        if i is not None and cols[i].pii:
            value = f"(CASE WHEN coalesce({value}, '') <> '' THEN {_lit(io.MASK)} ELSE {value} END)"
        return (
            f"(CASE WHEN {cond} THEN {{'column': {_lit(name)}, 'value': coalesce({value}, ''), "
            f"'reason': {reason}, 'ord': {order}}} END)"
        )

    parse, parse_bad = [], []
    for i, c in enumerate(cols):
        if c.kind in (s.DATE_KIND, s.DATETIME):
            what = "not an ISO date (YYYY-MM-DD); give date_format in mapping.yml"
        elif c.kind in (s.FLOAT, s.INT):
            what = "not a number" + (
                " (decimal separator: set decimal in mapping.yml)"
                if spec.get("decimal") is None
                else ""
            )
        else:
            what = io.SCIENTIFIC_REASON
        if c.kind == s.INT:
            cond = f"(v{i} IS NOT NULL AND v{i} % 1 <> 0)"
            parse.append(entry(cond, i, f"r{i}", _lit("not a whole number"), _ORD_PARSE + 3 * i))
            parse_bad.append(cond)
        if c.kind != s.TEXT:
            cond = f"(NOT m{i} AND v{i} IS NULL)"
            parse.append(entry(cond, i, f"r{i}", _lit(what), _ORD_PARSE + 3 * i + 1))
            parse_bad.append(cond)
        if not c.nullable:
            parse.append(entry(f"m{i}", i, "''", _lit("missing value"), _ORD_PARSE + 3 * i + 2))
            parse_bad.append(f"m{i}")
    parsed_ok = f"NOT ({' OR '.join(parse_bad)})" if parse_bad else "true"
    checks, check_bad = [], []
    for i, c in enumerate(cols):
        for k, check in enumerate(c.checks):
            value = f"CAST(v{i} AS VARCHAR)"
            cond = f"({parsed_ok} AND v{i} IS NOT NULL AND NOT ({_check_sql(check, f'v{i}')}))"
            checks.append(entry(cond, i, value, _lit(check.error), _ORD_CHECK + 10 * i + k))
            check_bad.append(cond)
    rules, rule_bad = _table_rules(src.table, at, entry, cutoff)
    # a comparison with an empty value is NULL in SQL: not a failure (as NaN in pandas)
    bad = f"coalesce({' OR '.join(parse_bad + check_bad + rule_bad) or 'false'}, false)"
    # one scan parses and flags every row; the later steps read this table, not the file
    kept = ", ".join(f"m{i}, v{i}" for i in range(len(cols)))
    raw = "".join(f", CASE WHEN bad THEN r{i} END AS r{i}" for i in range(len(cols)))
    con.execute(
        f"CREATE TABLE checked_{src.table} AS SELECT __row, {kept}, bad{raw} FROM "
        f"(SELECT *, ({bad}) AS bad FROM parsed_{src.table})"
    )
    return _Plan(cols, f"checked_{src.table}", parse + checks + rules)


def _table_rules(name: str, at: dict, entry, cutoff: pd.Timestamp) -> tuple[list, list]:
    """The rules of :func:`crmlib.data.io._table_rules`, on every parsed row."""
    entries, conds = [], []

    def add(cond, column, value, reason, k):
        entries.append(entry(cond, at[column], value, reason, _ORD_RULE + k))
        conds.append(cond)

    if name == "transactions":
        od, rev = f"v{at[s.ORDER_DATE]}", f"v{at[s.REVENUE]}"
        stamp = _lit(cutoff.strftime("%Y-%m-%d %H:%M:%S.%f"))
        add(
            f"(CAST({od} AS TIMESTAMP) > TIMESTAMP {stamp})",
            s.ORDER_DATE,
            f"CAST({od} AS VARCHAR)",
            _lit(f"after the as-of date {cutoff.date()}"),
            0,
        )
        if s.QUANTITY in at:
            q = f"v{at[s.QUANTITY]}"
            reason = "negative quantity on a sale (a return has negative revenue)"
            add(f"({q} < 0 AND {rev} >= 0)", s.QUANTITY, f"CAST({q} AS VARCHAR)", _lit(reason), 1)
        if s.COST in at:
            c = f"v{at[s.COST]}"
            reason = "negative cost on a sale (only a return may reverse a cost)"
            add(f"({c} < 0 AND {rev} >= 0)", s.COST, f"CAST({c} AS VARCHAR)", _lit(reason), 2)
    if name == "subscriptions" and s.END_DATE in at:
        end, start = f"v{at[s.END_DATE]}", f"v{at[s.START_DATE]}"
        reason = f"'before the start date ' || CAST({start} AS VARCHAR)"
        add(f"({end} < {start})", s.END_DATE, f"CAST({end} AS VARCHAR)", reason, 3)
    return entries, conds


def _duplicates(con, name: str, plan: _Plan) -> None:
    """Repeated lines among the rows no other rule rejected (:func:`crmlib.data.io._duplicates`).

    Rows are first grouped by a 64-bit hash of the compared values (a small
    aggregate that spills when it must); only rows in a hash group of two or
    more are then compared value by value.
    """
    table = s.TABLES[name]
    if name == "transactions":
        keys = [f"v{i}" for i in range(len(plan.columns))]
    elif table.key and table.key in [c.name for c in plan.columns]:
        keys = [f"v{[c.name for c in plan.columns].index(table.key)}"]
    else:
        con.execute(
            f"CREATE TABLE dup_{name} (row BIGINT, first BIGINT, has_null BOOLEAN, k VARCHAR)"
        )
        return
    joined = ", ".join(keys)
    con.execute(
        f"CREATE TABLE cand_{name} AS SELECT h FROM (SELECT hash({joined}) AS h FROM {plan.view} "
        f"WHERE NOT bad{' AND ' + keys[0] + ' IS NOT NULL' if len(keys) == 1 else ''}) "
        "GROUP BY h HAVING count(*) > 1"
    )
    has_null = " OR ".join(f"{k} IS NULL" for k in keys)
    con.execute(
        f"CREATE TABLE dup_{name} AS SELECT row, first, has_null, k FROM ("
        f"SELECT __row AS row, min(__row) OVER (PARTITION BY {joined}) AS first, "
        f"({has_null}) AS has_null, CAST({keys[0]} AS VARCHAR) AS k FROM {plan.view} "
        f"WHERE NOT bad AND hash({joined}) IN (SELECT h FROM cand_{name})"
        f"{' AND ' + keys[0] + ' IS NOT NULL' if len(keys) == 1 else ''}) WHERE row > first"
    )


def _collect(con, src: _Source, plan: _Plan) -> None:
    """Insert every reject line of the table into ``rejects``."""
    t, f = _lit(src.table), _lit(src.file.name)
    if src.ragged:
        frame = pd.DataFrame(src.ragged, columns=["row", "column", "value", "reason"])
        con.register("ragged_view", frame)
        con.execute(
            f'INSERT INTO rejects SELECT {t}, {f}, row, "column", value, reason, 0 FROM ragged_view'
        )
        con.unregister("ragged_view")
    if plan.entries:
        con.execute(
            f"INSERT INTO rejects SELECT {t}, {f}, __row, x['column'], x['value'], x['reason'], "
            f"x['ord'] FROM (SELECT __row, unnest(list_filter([{', '.join(plan.entries)}], "
            f"lambda e: e IS NOT NULL)) AS x FROM {plan.view} WHERE bad)"
        )
    table = s.TABLES[src.table]
    if src.table == "transactions":
        column, value = "''", "''"
        reason = "CASE WHEN has_null THEN 'duplicate order line' ELSE 'duplicate order line of row ' || first END"
    else:
        column, value = _lit(table.key or ""), "k"
        reason = f"'duplicate {table.key} (first at row ' || first || ')'"
    con.execute(
        f"INSERT INTO rejects SELECT {t}, {f}, row, {column}, {value}, {reason}, {_ORD_DUPLICATE} "
        f"FROM dup_{src.table}"
    )


def _accepted(con, name: str, plan: _Plan) -> str:
    """A view of the accepted rows: ``source_row`` and the typed columns (plus ``is_return``).

    An explicit anti join on the (few) duplicate rows: a correlated ``NOT EXISTS`` may be
    planned with a hash table of every row number of the table (1 GiB at 100 M rows).
    """
    cols = ", ".join(
        f"CAST(v{i} AS {SQL_TYPES[c.kind]}) AS {_ident(c.name)}" for i, c in enumerate(plan.columns)
    )
    extra = ""
    if name == "transactions":
        extra = f", (v{[c.name for c in plan.columns].index(s.REVENUE)} < 0) AS {s.IS_RETURN}"
    con.execute(
        f"CREATE VIEW accepted_{name} AS SELECT __row AS {s.SOURCE_ROW}, {cols}{extra} "
        f"FROM {plan.view} p ANTI JOIN dup_{name} d ON d.row = p.__row WHERE NOT p.bad"
    )
    return f"accepted_{name}"


# --- warnings ------------------------------------------------------------------------


def _warnings(con, sources: dict[str, _Source]) -> list[str]:
    """The warnings of :func:`crmlib.data.io._warn_references`, in its order."""
    out = []
    if "customers" in sources:
        # distinct ids first, then the rows of the (few) unknown ones: no hash table is
        # ever built on a large table's rows
        con.execute(
            f"CREATE TABLE known AS SELECT DISTINCT {s.CUSTOMER_ID} AS id FROM accepted_customers"
        )
        for name, src in sources.items():
            if name == "customers" or s.CUSTOMER_ID not in src.columns:
                continue
            con.execute(
                f"CREATE OR REPLACE TABLE ids AS SELECT DISTINCT {s.CUSTOMER_ID} AS id "
                f"FROM accepted_{name}"
            )
            con.execute(
                "CREATE OR REPLACE TABLE unknown AS SELECT id FROM ids EXCEPT SELECT id FROM known"
            )
            ids = con.execute("SELECT count(*) FROM unknown").fetchone()[0]
            if not ids:
                continue
            n, rows = con.execute(
                f"SELECT count(*), min({s.SOURCE_ROW}, 3) FROM accepted_{name} "
                f"WHERE {s.CUSTOMER_ID} IN (SELECT id FROM unknown)"
            ).fetchone()
            out.append(
                f"{name}: {n} rows ({ids} customer ids) refer to customers not in the "
                f"customers table (e.g. rows {', '.join(map(str, rows))}); kept"
            )
    if "tickets" in sources and s.CLOSED_AT in sources["tickets"].columns:
        n, rows = con.execute(
            f"SELECT count(*), min({s.SOURCE_ROW}, 3) FROM accepted_tickets "
            f"WHERE {s.CLOSED_AT} < {s.OPENED_AT}"
        ).fetchone()
        if n:
            out.append(
                f"tickets: {n} tickets closed before they were opened "
                f"(e.g. rows {', '.join(map(str, rows))}); kept"
            )
    return out


# --- the validator ----------------------------------------------------------------


def validate(
    folder, *, as_of=None, memory_limit=None, rejects_path=None, accepted_to=None
) -> OutOfCoreData:
    """Validate a client folder out of core, with the rules of :func:`crmlib.data.io.load_folder`.

    Parameters
    ----------
    folder : str or Path
        The client folder (Parquet or CSV files; see the module docstring).
    as_of : date-like, optional
        Order dates after it are rejected (default: today); ``as_of`` of the
        result is this date, or the last valid order date.
    memory_limit : str, optional
        DuckDB's memory limit, e.g. ``"4GB"``; past it DuckDB spills to a
        temporary folder. Default: DuckDB's own (80 % of the memory).
    rejects_path : str or Path, optional
        Write every reject line here as CSV (columns ``schema.REJECT_COLUMNS``,
        personal values masked, sorted by table and row), by DuckDB.
    accepted_to : str or Path, optional
        A folder to write each table's accepted rows to as typed Parquet
        (``<table>.parquet``: ``source_row``, the table's columns typed by kind;
        ``transactions`` with ``is_return``); the assessment files are copied.

    Returns
    -------
    OutOfCoreData

    Raises
    ------
    crmlib.errors.DataError
        When the folder cannot be used, as :func:`crmlib.data.io.load_folder` says.
    """
    folder, cutoff = io.client_folder(folder, as_of)
    mapping = io.read_mapping(
        folder / "mapping.yml" if (folder / "mapping.yml").is_file() else None
    )
    for table, spec in mapping.items():
        for key in ("date_format", "sheet"):
            if key in spec:
                raise DataError(
                    f"mapping.yml: {table}: {key} is applied by the in-memory validator only "
                    "(crm validate --engine pandas); for --engine duckdb write ISO dates "
                    "(YYYY-MM-DD) in CSV or Parquet",
                    file="mapping.yml",
                )
    files, assessments = io._find_files(folder, mapping)
    if "transactions" not in files:
        found = ", ".join(sorted(p.name for p in folder.iterdir() if p.is_file())) or "no files"
        raise DataError(
            f"{folder.name}: no transactions file (found: {found}); name it transactions.csv "
            "(or .xlsx / .parquet), or point to it in mapping.yml as transactions: {file: …}",
            file="transactions",
        )
    work = scratch_dir("validate")
    con = duckdb.connect()  # in memory: its tables spill to temp_directory past the limit
    try:
        con.execute(f"SET temp_directory = {_lit(Path(work) / 'spill')}")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        # every join here has its small side on the right (known ids, duplicates,
        # candidates); DuckDB's swap of the sides, on a view's low row estimate,
        # built a hash table on 100 M rows and ran out of memory
        con.execute("SET disabled_optimizers = 'build_side_probe_side'")
        if memory_limit:
            con.execute(f"SET memory_limit = {_lit(memory_limit)}")
        return _run(
            con, folder, files, assessments, mapping, cutoff, as_of, rejects_path, accepted_to
        )
    except duckdb.OutOfMemoryException as exc:
        raise CRMError(
            f"DuckDB ran out of memory ({str(exc).splitlines()[0]}); "
            "give a larger --memory-limit or free disk space for spilling"
        ) from None
    except (duckdb.IOException, duckdb.InvalidInputException) as exc:
        raise DataError(
            f"{folder.name}: a file cannot be read ({str(exc).splitlines()[0]})"
        ) from None
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _step(table: str, what: str):
    """Log a step's time (logger ``crmlib.data.outofcore``, level INFO)."""
    start = time.perf_counter()
    yield
    LOG.info("%s: %s in %.1f s", table, what, time.perf_counter() - start)


def _run(con, folder, files, assessments, mapping, cutoff, as_of, rejects_path, accepted_to):
    con.execute(
        'CREATE TABLE rejects ("table" VARCHAR, file VARCHAR, row BIGINT, "column" VARCHAR, '
        "value VARCHAR, reason VARCHAR, ord INTEGER)"
    )
    sources, plans = {}, {}
    for name, path in files.items():
        spec = mapping.get(name, {})
        with _step(name, "read"):
            src = _source(con, name, path, spec)
        with _step(name, "parse and check"):
            plan = _plan(con, src, spec, cutoff)
        with _step(name, "duplicates"):
            _duplicates(con, name, plan)
        with _step(name, "rejects"):
            _collect(con, src, plan)
        _accepted(con, name, plan)
        sources[name], plans[name] = src, plan
    rejected = dict(
        con.execute('SELECT "table", count(DISTINCT row) FROM rejects GROUP BY ALL').fetchall()
    )
    reports = {}
    for name, src in sources.items():
        bad = rejected.get(name, 0)
        reports[name] = io.TableReport(name, src.file.name, src.rows, src.rows - bad, bad)
    counts = con.execute(
        "SELECT \"table\", regexp_replace(reason, '\\d+', 'N', 'g') AS reason, count(*) AS rows "
        'FROM rejects GROUP BY ALL ORDER BY rows DESC, "table", reason'
    ).df()
    if reports["transactions"].accepted == 0:
        _no_valid_rows(con, reports["transactions"], files["transactions"], counts)
    with _step("all tables", "warnings"):
        warnings = _warnings(con, sources)
    last = con.execute(f"SELECT max({s.ORDER_DATE}) FROM accepted_transactions").fetchone()[0]
    order = 'ORDER BY "table", row, ord'
    columns = ", ".join(_ident(c) for c in s.REJECT_COLUMNS)
    if rejects_path is not None:
        con.execute(
            f"COPY (SELECT {columns} FROM rejects {order}) TO {_lit(rejects_path)} "
            "(FORMAT csv, HEADER true)"
        )
    sample = con.execute(f"SELECT {columns} FROM rejects {order} LIMIT {SAMPLE_ROWS}").df()
    total = con.execute("SELECT count(*) FROM rejects").fetchone()[0]
    if accepted_to is not None:
        out = Path(accepted_to)
        out.mkdir(parents=True, exist_ok=True)
        for name in sources:
            con.execute(
                f"COPY (SELECT * FROM accepted_{name} ORDER BY {s.SOURCE_ROW}) TO "
                f"{_lit(out / f'{name}.parquet')} (FORMAT parquet)"
            )
        for path in assessments.values():
            shutil.copy2(path, out / path.name)
    data_as_of = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(last)
    return OutOfCoreData(
        reports,
        warnings,
        data_as_of,
        dict(files),
        dict(assessments),
        int(total),
        sample,
        counts,
        folder,
    )


def _no_valid_rows(con, report: io.TableReport, path: Path, counts: pd.DataFrame) -> None:
    """Raise the error of :func:`crmlib.data.io.load_folder` for a folder without a valid order line."""
    top = counts.head(3)
    reasons = "; ".join(f"{r.reason} ({r.rows} rows)" for r in top.itertuples())
    lines = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT row FROM rejects WHERE \"table\" = 'transactions' ORDER BY row LIMIT 6"
        ).fetchall()
    ]
    columns = [
        r[0]
        for r in con.execute(
            'SELECT DISTINCT "column" FROM rejects WHERE "table" = \'transactions\' LIMIT 2'
        ).fetchall()
    ]
    raise DataError(
        f"no valid rows ({report.rows} read, all rejected): {reasons}",
        file=path.name,
        row=lines if len(lines) <= 5 else ", ".join(map(str, lines[:5])) + ", ...",
        column=(columns[0] or None) if len(columns) == 1 else None,
    )
