"""Read a client folder into validated tables and a rejects report.

A client folder holds one file per table of :mod:`crmlib.data.schema`, named after
the table (``transactions.csv``, ``customers.xlsx``, ``tickets.parquet`` …),
and optionally a ``mapping.yml`` that renames a CRM export's headers to the
workbook's and gives a date format, a decimal separator or a file name per
table::

    transactions:
      file: Orders Export.csv        # default: transactions.csv / .xlsx / .parquet
      columns: {Order No: order_id, Cust Ref: customer_id, Date: order_date, Net: revenue}
      date_format: "%d/%m/%Y"        # default: ISO 8601 (YYYY-MM-DD)
      decimal: ","                   # default "."
      thousands: "."                 # default: none

Every input row is either accepted into ``ClientData.tables`` or listed in
``ClientData.rejects`` with its table, file, row number (the line in the
file, header = 1), column, value (masked for personal data) and reason.
The rules applied, in order (the data dictionary in ``datasets/README.md``
states them for users):

1. a row with a different number of fields from the header: rejected; so is a
   row with a field longer than ``MAX_FIELD_CHARS`` characters (often a quote
   left open, which swallows the lines after it: the reason names them);
2. a value that cannot be parsed as its column's kind (number, date): rejected;
   an id that a spreadsheet has rounded into scientific notation
   (``1.23457E+19``) is rejected too, as its digits are lost;
3. an empty required value (e.g. an order line without customer_id): rejected;
4. a value failing its column's check (e.g. negative cost, NPS outside 0-10): rejected;
5. transactions: an order date after the as-of date (default: today): rejected;
   a negative quantity on a line with non-negative revenue: rejected;
   negative revenue: kept and flagged ``is_return`` (a return, not a purchase);
   an exact copy of an earlier line: rejected as a duplicate;
   subscriptions: an end date before the start date: rejected;
6. a repeated key (e.g. a second row with the same customers.customer_id): rejected;
7. rows referring to customer ids absent from ``customers`` (when present): kept, warned;
8. tickets closed before they were opened: kept, warned.

Data that cannot be used at all raises :class:`crmlib.errors.DataError`: no
transactions file, an unreadable file, a header naming a column twice (also
two headers that ``mapping.yml`` or the normalisation of headers turn into
one name), a required column missing after mapping, a malformed
``mapping.yml``, or no valid transaction.

Shapes of real exports that are read as they are: text in UTF-8 (with or
without a byte-order mark), UTF-16 with a byte-order mark (Excel's "Unicode
Text": tab-separated, CRLF) or Windows-1252; line ends LF, CRLF or CR; ids of
any length, kept exactly as written (leading zeros too; ids stored as numbers
in Parquet or Excel are written out in full, never as floats); dates with a
time of day (``2018-01-01 14:32:10``, ISO ``T``, with or without seconds, a
time-zone suffix ignored: the local day as written counts), which date
columns such as ``order_date`` keep as the day.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import yaml

from crmlib.data import schema as s
from crmlib.errors import DataError

SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".parquet")
MISSING = {"", "na", "n/a", "null", "none", "nan", "-", "#n/a"}
DELIMITERS = ",;\t|"
MASK = "[personal data]"
ENCODINGS = ("utf-8-sig", "cp1252")
BOMS = ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))  # Excel's "Unicode Text"
#: A longer field rejects its row (the csv module's own default limit, which
#: used to make the whole file unreadable).
MAX_FIELD_CHARS = 131_072
#: An id a spreadsheet has rounded into scientific notation (1.23457E+19): digits lost.
SCIENTIFIC_ID = r"\d(?:\.\d+)?[eE]\+\d+"  # for str.fullmatch
#: A time-zone suffix after a time of day (Z, +01:00, -0500): ignored, the local time counts.
TZ_SUFFIX = r"(\d:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|[+-]\d{2}:?\d{2})$"
#: Times of day tried after a date_format that does not give one.
TIME_FORMATS = (" %H:%M:%S", " %H:%M", "T%H:%M:%S", "T%H:%M", " %I:%M:%S %p", " %I:%M %p")
EXACT_FLOAT = 2**53  # integers up to this size are exact in a float
EXCEL_DIGITS = 1e15  # a spreadsheet keeps 15 significant digits of a number
SCIENTIFIC_REASON = (
    "an id in scientific notation: the program that wrote the file rounded it and its "
    "digits are lost; export the id column as text"
)
MAPPING_KEYS = {"file", "columns", "date_format", "decimal", "thousands", "sheet"}

__all__ = ["ClientData", "DataError", "load_folder", "read_mapping"]


@dataclass
class TableReport:
    """Row counts of one table: rows = accepted + rejected."""

    table: str
    file: str
    rows: int
    accepted: int
    rejected: int


def validation_summary(reports: dict[str, TableReport], warnings) -> dict:
    """What ``crm validate --json`` prints for a usable folder, whichever engine validated it.

    Parameters
    ----------
    reports : dict
        The row counts per table.
    warnings : iterable of str

    Returns
    -------
    dict
        ``usable`` (True), ``tables`` (file, rows, accepted, rejected per table),
        ``errors`` (empty) and ``warnings``.
    """
    return {
        "usable": True,
        "tables": {
            name: {"file": r.file, "rows": r.rows, "accepted": r.accepted, "rejected": r.rejected}
            for name, r in reports.items()
        },
        "errors": [],
        "warnings": list(warnings),
    }


@dataclass
class ClientData:
    """A validated client folder.

    Attributes
    ----------
    tables : dict of str to DataFrame
        The accepted rows of each table found, typed by :mod:`crmlib.data.schema`.
    rejects : DataFrame
        One row per rejected value: table, file, row, column, value, reason.
    reports : dict of str to TableReport
        Rows read, accepted and rejected per table.
    warnings : list of str
        Rules that kept rows but want attention (unknown customers …).
    assessment_files : dict of str to Path
        ``assessment_<bank>.csv`` files found, by bank, for :mod:`crmlib.analytics.assessment`.
    """

    tables: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    reports: dict[str, TableReport]
    warnings: list[str] = field(default_factory=list)
    source: Path | None = None
    as_of: pd.Timestamp | None = None
    files: dict[str, Path] = field(default_factory=dict)
    assessment_files: dict[str, Path] = field(default_factory=dict)

    @property
    def transactions(self) -> pd.DataFrame:
        return self.tables["transactions"]

    def has(self, table: str) -> bool:
        """True when the folder held this table with at least one valid row."""
        return table in self.tables and len(self.tables[table]) > 0

    def table(self, name: str) -> pd.DataFrame | None:
        """The table's valid rows, or None when the folder held none (see :meth:`has`)."""
        return self.tables[name] if self.has(name) else None

    def summary(self) -> dict:
        """A JSON-ready summary (what ``crm validate --json`` prints)."""
        return validation_summary(self.reports, self.warnings)

    def top_reasons(self, n: int = 5) -> pd.DataFrame:
        """The most frequent reject reasons per table, with row counts."""
        if self.rejects.empty:
            return pd.DataFrame(columns=["table", "reason", "rows"])
        generic = self.rejects.assign(
            reason=self.rejects["reason"].str.replace(r"\d+", "N", regex=True)
        )
        counts = generic.groupby(["table", "reason"]).size().rename("rows").reset_index()
        return counts.sort_values("rows", ascending=False).head(n).reset_index(drop=True)


# --- mapping ----------------------------------------------------------------


def read_mapping(mapping) -> dict:
    """Read and check a mapping: a dict, a path to ``mapping.yml``, or None."""
    if mapping is None:
        return {}
    where = "mapping"
    if isinstance(mapping, (str, Path)):
        where = Path(mapping).name
        try:
            mapping = yaml.safe_load(Path(mapping).read_text(encoding="utf-8-sig")) or {}
        except OSError as exc:
            raise DataError(f"{where}: cannot be read ({exc.strerror})", file=where) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark else ""
            raise DataError(
                f"{where}: not valid YAML{line}; see the mapping example in datasets/README.md",
                file=where,
            ) from None
    if not isinstance(mapping, dict):
        raise DataError(f"{where}: must map table names to settings", file=where)
    known = set(s.TABLES) - {"assessment"}
    for table, spec in mapping.items():
        if table not in known:
            raise DataError(
                f"{where}: unknown table {table!r}; known tables: {', '.join(sorted(known))}",
                file=where,
            )
        if not isinstance(spec, dict):
            raise DataError(f"{where}: {table}: expected settings (file, columns, …)", file=where)
        unknown = set(spec) - MAPPING_KEYS
        if unknown:
            raise DataError(
                f"{where}: {table}: unknown setting(s) {', '.join(sorted(unknown))}; "
                f"allowed: {', '.join(sorted(MAPPING_KEYS))}",
                file=where,
            )
        columns = spec.get("columns", {})
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            raise DataError(
                f"{where}: {table}: columns must map export headers to column names", file=where
            )
        bad = [v for v in columns.values() if v not in s.TABLES[table].names]
        if bad:
            raise DataError(
                f"{where}: {table}: {', '.join(bad)} is not a column of {table}; "
                f"its columns: {', '.join(s.TABLES[table].names)}",
                file=where,
            )
        for key in ("decimal", "thousands"):
            if key in spec and spec[key] not in (".", ",", " ", "'"):
                raise DataError(
                    f"{where}: {table}: {key} must be '.', ',', ' ' or \"'\"", file=where
                )
    return mapping


# --- reading files ----------------------------------------------------------


def _find_files(folder: Path, mapping: dict) -> tuple[dict[str, Path], dict[str, Path]]:
    files: dict[str, Path] = {}
    by_stem: dict[str, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in SUFFIXES:
            by_stem.setdefault(p.stem.lower(), []).append(p)
    for table in s.TABLES:
        if table == "assessment":
            continue
        if table in mapping and "file" in mapping[table]:
            path = folder / mapping[table]["file"]
            if not path.is_file():
                raise DataError(
                    f"mapping.yml names {mapping[table]['file']!r} for {table}, "
                    f"but there is no such file in the folder",
                    file="mapping.yml",
                )
            files[table] = path
        elif table in by_stem:
            candidates = by_stem[table]
            if len(candidates) > 1:
                names = ", ".join(p.name for p in candidates)
                raise DataError(
                    f"{table}: several files could hold it ({names}); keep one, "
                    f"or name it in mapping.yml as {table}: {{file: …}}",
                    file=candidates[0].name,
                )
            files[table] = candidates[0]
    assessments = {
        stem[len(s.ASSESSMENT_PREFIX) :]: paths[0]
        for stem, paths in by_stem.items()
        if stem.startswith(s.ASSESSMENT_PREFIX)
    }
    return files, assessments


def decode_text(path: Path) -> str:
    """The text of a file in UTF-8 (with or without BOM), UTF-16 (with BOM) or Windows-1252.

    UTF-16 with a byte-order mark is what Excel writes as "Unicode Text"; the
    mark is not part of the text returned.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path.name}: no such file", file=path.name) from None
    except OSError as exc:
        raise DataError(f"{path.name}: cannot be read ({exc.strerror})", file=path.name) from None
    for bom, encoding in BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path.name}: starts as {encoding.upper()} text but byte {exc.start} "
                    "is not; save it again as Unicode Text or UTF-8",
                    file=path.name,
                ) from None
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataError(f"{path.name}: not UTF-8, UTF-16 or Windows-1252 text", file=path.name)


def sniff_delimiter(text: str) -> str:
    """The delimiter of a delimited text: ``,`` ``;`` tab or ``|``."""
    head = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(head, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = text.splitlines()[0] if text else ""
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        if counts[best] == 0:
            return ","
        return best


@contextmanager
def _no_field_limit():
    """Let the csv module read fields of any length (the rows are checked afterwards)."""
    previous = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _name_blanks(header) -> list[str]:
    """Name an empty header cell after its position (``column_5``), as trailing
    separators or an unlabelled spreadsheet column leave them; kept as extra columns."""
    return [str(h) if str(h).strip() else f"column_{i}" for i, h in enumerate(header, start=1)]


def _check_header(header, name: str) -> None:
    """Raise :class:`DataError` when the file's header names a column twice."""
    seen: dict[str, int] = {}
    for position, column in enumerate(header, start=1):
        key = str(column).strip()
        if key in seen:
            raise DataError(
                f"{name}: the header names {key!r} twice (columns {seen[key]} and {position}); "
                "rename or remove one",
                file=name,
                column=key,
            )
        seen[key] = position


def _read_text_table(path: Path) -> tuple[pd.DataFrame, list[dict]]:
    """Read a delimited file as strings; returns the frame (index = line number) and bad rows.

    A bad row has a different number of fields from the header, or a field
    longer than :data:`MAX_FIELD_CHARS`; it is listed, not read, and the other
    rows are.
    """
    text = decode_text(path)
    if not text.strip():
        raise DataError(f"{path.name}: the file is empty", file=path.name)
    sep = sniff_delimiter(text)
    # read record by record (the csv module) so that every bad row is named with its line;
    # newline="" keeps quoted line breaks and reads LF, CRLF and CR line ends alike
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    rows, index, bad = [], [], []
    with _no_field_limit():
        try:
            header = _name_blanks(next(reader))
            _check_header(header, path.name)
            start = 2
            for record in reader:
                line = start
                start = reader.line_num + 1
                if not record or not "".join(record).strip():
                    continue
                if max(map(len, record)) > MAX_FIELD_CHARS:
                    long = next(i for i, f in enumerate(record) if len(f) > MAX_FIELD_CHARS)
                    column = header[long] if long < len(header) else ""
                    reason = f"field longer than {MAX_FIELD_CHARS} characters"
                    if reader.line_num > line:
                        reason += f" (lines {line}-{reader.line_num}: an unclosed quote?)"
                    bad.append({"row": line, "column": column, "value": "", "reason": reason})
                    continue
                if len(record) != len(header):
                    bad.append(
                        {
                            "row": line,
                            "column": "",
                            "value": "",
                            "reason": f"has {len(record)} fields, the header has {len(header)}",
                        }
                    )
                    continue
                rows.append(record)
                index.append(line)
        except csv.Error as exc:
            raise DataError(
                f"not readable as delimited text ({exc})", file=path.name, row=reader.line_num
            ) from None
    frame = pd.DataFrame(rows, columns=header, index=pd.Index(index, dtype="int64"), dtype=str)
    return frame, bad


def _excel_text(value) -> str:
    """A spreadsheet cell as text: whole numbers in full, dates in ISO 8601.

    A spreadsheet keeps 15 significant digits of a number: a larger whole
    number stored as a number (not as text) comes out in scientific notation,
    so that an id column rejects it rather than keep a rounded id.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value, EXCEL_DIGITS)
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "date") else value.isoformat()
    return str(value)


def _float_text(value: float, exact_below: float = EXACT_FLOAT) -> str:
    """A float as text: a whole number below ``exact_below`` in full, else Python's repr."""
    if value.is_integer() and abs(value) < exact_below:
        return str(int(value))
    return repr(value)


def _read_excel(path: Path, spec: dict) -> pd.DataFrame:
    """The cells of one sheet as text, read with openpyxl as stored (not through pandas,
    which renames a repeated header and turns rounded floats into plausible integers)."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = spec.get("sheet", 0)
        if isinstance(sheet, int):
            sheet = book.sheetnames[sheet]
        if sheet not in book.sheetnames:
            raise DataError(
                f"{path.name}: no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})",
                file=path.name,
            )
        rows = [[_excel_text(v) for v in row] for row in book[sheet].iter_rows(values_only=True)]
    finally:
        book.close()
    if not rows or not any(rows[0]):
        raise DataError(f"{path.name}: the sheet is empty", file=path.name)
    width = max(i + 1 for i, v in enumerate(rows[0]) if v)
    header = _name_blanks(rows[0][:width])
    _check_header(header, path.name)
    body = [(r + [""] * width)[:width] for r in rows[1:]]
    frame = pd.DataFrame(body, columns=header, index=pd.RangeIndex(2, len(body) + 2), dtype=str)
    keep = frame.apply(lambda r: any(v.strip() for v in r), axis=1) if len(frame) else []
    return frame.loc[keep] if len(frame) else frame


def _read_file(path: Path, spec: dict) -> tuple[pd.DataFrame, list[dict]]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
            _check_header(frame.columns, path.name)
            frame.index = pd.RangeIndex(2, len(frame) + 2)
            return frame, []
        if suffix == ".xlsx":
            return _read_excel(path, spec), []
        return _read_text_table(path)
    except DataError:
        raise
    except Exception as exc:  # any reader failure is a user-facing file problem
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path.name}: cannot be read ({reason})", file=path.name) from None


def _normalise_header(name) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip()).lower()


def _table_columns(raw: pd.DataFrame, table: s.Table, spec: dict, name: str) -> pd.DataFrame:
    """Rename the file's headers to the workbook's (mapping.yml, then normalised).

    Raises :class:`DataError` naming the file, both headers and the column when
    two headers become one name.
    """
    rename = {k: v for k, v in spec.get("columns", {}).items() if k in raw.columns}
    source = [str(c) for c in raw.columns]
    names = [
        rename.get(c, c) if rename.get(c, c) in table.names else _normalise_header(rename.get(c, c))
        for c in source
    ]
    first: dict[str, str] = {}
    for header, column in zip(source, names, strict=True):
        if column in first:
            raise DataError(
                f"{name}: the headers {first[column]!r} and {header!r} both become {column}"
                f"{' (mapping.yml)' if header in rename or first[column] in rename else ''}; "
                "keep one, or map the other to another name",
                file=name,
                column=column,
            )
        first[column] = header
    out = raw.copy(deep=False)
    out.columns = names
    return out


# --- parsing ----------------------------------------------------------------


def _missing(values: pd.Series) -> np.ndarray:
    if values.dtype.kind in "fiumMb":
        return values.isna().to_numpy()
    text = values.astype("string").str.strip().str.lower()
    return (text.isna() | text.isin(MISSING)).to_numpy()


def _parse_number(values: pd.Series, spec: dict) -> pd.Series:
    if values.dtype.kind in "fiub":
        return values.astype(float)
    text = values.astype("string").str.strip()
    text = text.str.replace(r"^[€$£]\s*|\s*[€$£]$", "", regex=True)
    thousands = spec.get("thousands")
    if thousands:
        text = text.str.replace(thousands, "", regex=False)
    if spec.get("decimal", ".") == ",":
        text = text.str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype(float)


def _parse_date(values: pd.Series, spec: dict, kind: str) -> pd.Series:
    """Dates (and times) from text; a date column keeps the day of a time stamp.

    ISO 8601 by default (``2018-01-01``, ``2018-01-01 14:32:10``, ``T``, with
    or without seconds); with ``date_format`` in mapping.yml, a value that
    does not match it is tried again with a time of day after it
    (:data:`TIME_FORMATS`). A time-zone suffix is ignored: the date and time
    as written count, so that an order is on the client's local day.
    """
    if values.dtype.kind == "M":
        parsed = values
    else:
        text = values.astype("string").str.strip()
        fmt = spec.get("date_format", "ISO8601")
        try:  # one offset throughout (or none) parses as it is; its wall time is kept below
            parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        except ValueError:  # offsets mixed with each other or with none: drop them
            text = text.str.replace(TZ_SUFFIX, r"\1", regex=True)
            parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        todo = text[parsed.isna() & text.notna()] if fmt != "ISO8601" else text.iloc[:0]
        if len(todo):  # a time of day (and an offset) after the date: tried again, rarely needed
            todo = todo.str.replace(TZ_SUFFIX, r"\1", regex=True)
            for suffix in ("", *TIME_FORMATS):
                again = pd.to_datetime(todo, format=fmt + suffix, errors="coerce")
                done = again.notna().to_numpy()
                parsed.loc[todo.index[done]] = again[done]
                todo = todo[~done]
                if todo.empty:
                    break
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    parsed = parsed.astype("datetime64[ns]")
    return parsed.dt.normalize() if kind == s.DATE_KIND else parsed


def _parse_id(values: pd.Series) -> pd.Series:
    """Ids as exact text: numbers stored as numbers (Parquet, Excel) written out in full.

    A float that cannot hold the whole number exactly comes out in scientific
    notation, which :func:`_parse` then rejects with the rounded ids.
    """
    if values.dtype.kind in "iub":
        return values.astype("string").astype(object)
    if values.dtype.kind == "f":
        return values.map(_float_text, na_action="ignore").astype(object)
    return values.astype(str).str.strip()


def _parse(frame: pd.DataFrame, table: s.Table, spec: dict, bad: list[dict]) -> pd.DataFrame:
    out = {}
    for column in table.columns:
        if column.name not in frame:
            continue
        raw = frame[column.name]
        missing = _missing(raw)
        if column.kind in (s.FLOAT, s.INT):
            parsed = _parse_number(raw, spec)
            what = "not a number" + (
                " (decimal separator: set decimal in mapping.yml)"
                if spec.get("decimal") is None
                else ""
            )
        elif column.kind in (s.DATE_KIND, s.DATETIME):
            parsed = _parse_date(raw, spec, column.kind)
            what = (
                f"not a date in the format {spec['date_format']}"
                if "date_format" in spec
                else "not an ISO date (YYYY-MM-DD); give date_format in mapping.yml"
            )
        elif column.kind == s.ID:
            parsed = _parse_id(raw).where(~missing)
            rounded = parsed.str.fullmatch(SCIENTIFIC_ID).fillna(False).to_numpy(dtype=bool)
            parsed = parsed.where(~rounded)  # reported below as not parsed, for this reason
            what = SCIENTIFIC_REASON
        else:
            parsed = raw.astype(str).str.strip().where(~missing)
            what = ""
        if column.kind == s.INT:
            fractional = parsed.notna() & (parsed % 1 != 0)
            for row in frame.index[fractional.to_numpy()]:
                bad.append(_bad(row, column, raw[row], "not a whole number"))
        unparsed = parsed.isna().to_numpy() & ~missing
        for row in frame.index[unparsed]:
            bad.append(_bad(row, column, raw[row], what))
        if not column.nullable:
            for row in frame.index[missing]:
                bad.append(_bad(row, column, "", "missing value"))
        out[column.name] = parsed.where(~missing)
    extra = [c for c in frame.columns if c not in table.names]
    typed = pd.DataFrame(out, index=frame.index)
    for name in extra:
        typed[name] = frame[name]
    return typed


def _bad(row, column: s.Column, value, reason: str) -> dict:
    value = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    return {
        "row": int(row),
        "column": column.name,
        "value": MASK if column.pii and value else value,
        "reason": reason,
    }


def _check_values(frame: pd.DataFrame, table: s.Table, bad: list[dict]) -> None:
    """Run the table's pandera schema lazily and collect every failing value.

    Rows already rejected while parsing are left out, so that a value is
    reported once, with the first reason that applies.
    """
    rejected = {b["row"] for b in bad}
    frame = frame.loc[~frame.index.isin(rejected)]
    try:
        s.pandera_schema(table).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        for case in cases.itertuples(index=False):
            if case.index is None or pd.isna(case.index) or case.column not in table.names:
                continue
            column = table.column(case.column)
            check = str(case.check)
            reason = "missing value" if "not_nullable" in check else check
            bad.append(_bad(case.index, column, case.failure_case, reason))


def _table_rules(
    name: str, frame: pd.DataFrame, table: s.Table, cutoff: pd.Timestamp, bad: list[dict]
) -> pd.DataFrame:
    if name == "transactions":
        late = frame[s.ORDER_DATE] > cutoff
        for row in frame.index[late.to_numpy()]:
            bad.append(
                _bad(
                    row,
                    table.column(s.ORDER_DATE),
                    frame.at[row, s.ORDER_DATE].date(),
                    f"after the as-of date {cutoff.date()}",
                )
            )
        if s.QUANTITY in frame:
            wrong = (frame[s.QUANTITY] < 0) & (frame[s.REVENUE] >= 0)
            for row in frame.index[wrong.to_numpy()]:
                bad.append(
                    _bad(
                        row,
                        table.column(s.QUANTITY),
                        frame.at[row, s.QUANTITY],
                        "negative quantity on a sale (a return has negative revenue)",
                    )
                )
        if s.COST in frame:
            wrong = (frame[s.COST] < 0) & (frame[s.REVENUE] >= 0)
            for row in frame.index[wrong.to_numpy()]:
                bad.append(
                    _bad(
                        row,
                        table.column(s.COST),
                        frame.at[row, s.COST],
                        "negative cost on a sale (only a return may reverse a cost)",
                    )
                )
        frame[s.IS_RETURN] = frame[s.REVENUE] < 0
    if name == "subscriptions" and s.END_DATE in frame:
        early = frame[s.END_DATE] < frame[s.START_DATE]
        for row in frame.index[early.to_numpy()]:
            start = frame.at[row, s.START_DATE].date()
            end = frame.at[row, s.END_DATE].date()
            bad.append(_bad(row, table.column(s.END_DATE), end, f"before the start date {start}"))
    return frame


def _duplicates(frame: pd.DataFrame, name: str, table: s.Table, bad: list[dict]) -> None:
    if name == "transactions":
        cols = [c for c in table.names if c in frame]
        dup = frame.duplicated(subset=cols, keep="first")
        if dup.any():
            first = frame.loc[~dup].reset_index().groupby(cols, dropna=False)["index"].first()
            for row, values in frame.loc[dup, cols].iterrows():
                original = first.get(tuple(values), None)
                where = f" of row {original}" if original is not None else ""
                bad.append(
                    {
                        "row": int(row),
                        "column": "",
                        "value": "",
                        "reason": f"duplicate order line{where}",
                    }
                )
    elif table.key and table.key in frame:
        keys = frame[table.key]
        dup = keys.duplicated(keep="first") & keys.notna()
        if dup.any():
            first_rows = pd.Series(
                frame.index[~keys.duplicated(keep="first")],
                index=keys[~keys.duplicated(keep="first")],
            )
            for row in frame.index[dup.to_numpy()]:
                key = keys[row]
                bad.append(
                    _bad(
                        row,
                        table.column(table.key),
                        key,
                        f"duplicate {table.key} (first at row {first_rows.get(key)})",
                    )
                )


# --- the loader ---------------------------------------------------------------


def client_folder(path, as_of=None) -> tuple[Path, pd.Timestamp]:
    """The client folder to validate and the as-of date its rows are checked against.

    Both validators start here (:func:`load_folder`, :func:`crmlib.data.outofcore.validate`).

    Returns
    -------
    (Path, pandas.Timestamp)
        The folder, and ``as_of`` as a timestamp (default today).

    Raises
    ------
    crmlib.errors.DataError
        ``as_of`` is not a date, or ``path`` is not a folder.
    """
    try:
        cutoff = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.today().normalize()
    except (ValueError, TypeError):
        raise DataError(f"as-of date {as_of!r} is not a date (YYYY-MM-DD)") from None
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder; give the folder holding the client's exports")
    return folder, cutoff


def load_folder(path, mapping=None, as_of=None) -> ClientData:
    """Read and validate every known table in a client folder.

    Parameters
    ----------
    path : str or Path
        The client folder.
    mapping : dict, str or Path, optional
        Header mapping; default: ``mapping.yml`` in the folder when present.
    as_of : date-like, optional
        Order dates after it are rejected (default: today). The returned
        ``ClientData.as_of`` is this date, or the last valid order date.

    Returns
    -------
    ClientData

    Raises
    ------
    crmlib.errors.DataError
        When the folder cannot be used (see the module docstring).
    """
    folder, cutoff = client_folder(path, as_of)
    if mapping is None and (folder / "mapping.yml").is_file():
        mapping = folder / "mapping.yml"
    mapping = read_mapping(mapping)
    files, assessments = _find_files(folder, mapping)
    if "transactions" not in files:
        found = ", ".join(sorted(p.name for p in folder.iterdir() if p.is_file())) or "no files"
        raise DataError(
            f"{folder.name}: no transactions file (found: {found}); name it transactions.csv "
            "(or .xlsx / .parquet), or point to it in mapping.yml as transactions: {file: …}",
            file="transactions",
        )

    tables, reports, reject_rows, warnings = {}, {}, [], []
    for name, file in files.items():
        table = s.TABLES[name]
        spec = mapping.get(name, {})
        raw, ragged = _read_file(file, spec)
        raw = _table_columns(raw, table, spec, file.name)
        missing_cols = [c for c in table.required if c not in raw.columns]
        if missing_cols:
            raise DataError(
                f"{file.name}: required column {missing_cols[0]!r} is missing "
                f"(columns found: {', '.join(map(str, raw.columns))}). Rename it in the file, or "
                f"map your header in mapping.yml, e.g. {name}: {{columns: {{Your Header: "
                f"{missing_cols[0]}}}}}",
                file=file.name,
                column=missing_cols[0],
            )
        bad: list[dict] = list(ragged)
        frame = _parse(raw, table, spec, bad)
        _check_values(frame, table, bad)
        frame = _table_rules(name, frame, table, cutoff, bad)
        rejected_rows = {b["row"] for b in bad}
        clean = frame.loc[~frame.index.isin(rejected_rows)]
        dup_bad: list[dict] = []
        _duplicates(clean, name, table, dup_bad)
        bad.extend(dup_bad)
        rejected_rows |= {b["row"] for b in dup_bad}
        accepted = frame.loc[~frame.index.isin(rejected_rows)].copy()
        n_rows = len(raw) + len(ragged)
        reports[name] = TableReport(name, file.name, n_rows, len(accepted), len(rejected_rows))
        seen = set()
        for b in bad:
            key = (b["row"], b["column"], b["reason"])
            if key not in seen:
                seen.add(key)
                reject_rows.append({"table": name, "file": file.name, **b})
        accepted.index.name = s.SOURCE_ROW
        tables[name] = accepted.reset_index()

    rejects = pd.DataFrame(reject_rows, columns=list(s.REJECT_COLUMNS))
    rejects = rejects.sort_values(["table", "row"], kind="stable").reset_index(drop=True)
    tx = tables["transactions"]
    if tx.empty:
        data = ClientData(tables, rejects, reports, warnings, folder, None, files, assessments)
        reasons = "; ".join(f"{r.reason} ({r.rows} rows)" for r in data.top_reasons(3).itertuples())
        bad = rejects[rejects["table"] == "transactions"]
        lines = sorted({int(r) for r in bad["row"]})
        columns = set(bad["column"])  # one column named only when every reject is in it
        raise DataError(
            f"no valid rows ({reports['transactions'].rows} read, all rejected): {reasons}",
            file=files["transactions"].name,
            row=lines if len(lines) <= 5 else ", ".join(map(str, lines[:5])) + ", ...",
            column=(columns.pop() or None) if len(columns) == 1 else None,
        )
    _warn_references(tables, warnings)
    last = tx[s.ORDER_DATE].max()
    data_as_of = pd.Timestamp(as_of) if as_of is not None else last
    return ClientData(tables, rejects, reports, warnings, folder, data_as_of, files, assessments)


def _warn_references(tables: dict[str, pd.DataFrame], warnings: list[str]) -> None:
    if "customers" in tables:
        known = set(tables["customers"][s.CUSTOMER_ID])
        for name, frame in tables.items():
            if name == "customers" or s.CUSTOMER_ID not in frame:
                continue
            unknown = ~frame[s.CUSTOMER_ID].isin(known)
            if unknown.any():
                rows = frame.loc[unknown, s.SOURCE_ROW].head(3).tolist()
                warnings.append(
                    f"{name}: {int(unknown.sum())} rows ({frame.loc[unknown, s.CUSTOMER_ID].nunique()}"
                    f" customer ids) refer to customers not in the customers table "
                    f"(e.g. rows {', '.join(map(str, rows))}); kept"
                )
    if "tickets" in tables and s.CLOSED_AT in tables["tickets"]:  # closed_at is optional
        t = tables["tickets"]
        backwards = t[s.CLOSED_AT] < t[s.OPENED_AT]
        if backwards.any():
            rows = t.loc[backwards, s.SOURCE_ROW].head(3).tolist()
            warnings.append(
                f"tickets: {int(backwards.sum())} tickets closed before they were opened "
                f"(e.g. rows {', '.join(map(str, rows))}); kept"
            )
