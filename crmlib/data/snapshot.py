"""A validated client folder written once and read back fast: what ``crm report`` hands the lessons.

Validating a client folder (:func:`crmlib.data.io.load_folder`) reads every file as
text, parses and checks every value: about 23 s for 1.5 M transaction lines on
two cores. ``crm report`` does it once, writes the result here with
:func:`write`, and passes the lessons this folder as their ``data_path``;
:func:`crmlib.data.datasets.load` recognises it (:func:`is_snapshot`) and reads it
back with :func:`load` in a fraction of a second, without validating again.

A snapshot folder holds::

    snapshot.json           the marker and manifest: format, the as-of date asked
                            for and the one found, the source folder and the
                            SHA-256 of each of its files, rows read / accepted /
                            rejected per table, rejected values, warnings, the
                            files found and the assessment files
    <table>.parquet         the accepted rows of each table, as validated
    rejects.parquet         the rejects report (one row per rejected value)

Parquet keeps every column's dtype (ids as strings, dates as datetimes,
categories, nullable integers, booleans): :func:`load` returns a
:class:`crmlib.data.io.ClientData` equal, table by table, to the one written.

The folder holds the client's personal data: ``crm report`` writes it inside
its private working folder and deletes it before the report is moved into
place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from crmlib.data.io import ClientData, TableReport
from crmlib.errors import DataError

MARKER = "snapshot.json"
REJECTS = "rejects.parquet"
FORMAT = 1
_FIELDS = (  # every field of ClientData, so that a new one is not silently dropped
    "tables",
    "rejects",
    "reports",
    "warnings",
    "source",
    "as_of",
    "files",
    "assessment_files",
)

__all__ = ["MARKER", "is_snapshot", "load", "write"]


def is_snapshot(path) -> bool:
    """True when ``path`` is a folder written by :func:`write`."""
    try:
        return (Path(path) / MARKER).is_file()
    except (TypeError, OSError):
        return False


def write(data: ClientData, folder, as_of=None) -> Path:
    """Write a validated client folder as a snapshot.

    Parameters
    ----------
    data : crmlib.data.io.ClientData
        What :func:`crmlib.data.datasets.load` returned.
    folder : str or Path
        The snapshot folder to create (it must not exist yet).
    as_of : date-like, optional
        The as-of date ``data`` was loaded with (None: the default). A
        :func:`load` with another as-of date is refused.

    Returns
    -------
    Path
        ``folder``.

    Raises
    ------
    TypeError
        ``ClientData`` has a field this module does not know how to store.
    Exception
        Whatever pyarrow raises for a column Parquet cannot hold (e.g. an
        object column mixing numbers and text); ``folder`` is then removed.
    """
    names = tuple(f.name for f in dataclasses.fields(ClientData))
    if names != _FIELDS:
        # the code's own invariant (a developer added a ClientData field), not a user error
        raise TypeError(
            f"crmlib.data.snapshot stores the ClientData fields {_FIELDS}, not {names}: teach it the new ones"
        )
    folder = Path(folder)
    folder.mkdir(mode=0o700)
    try:
        for name, frame in data.tables.items():
            frame.to_parquet(folder / f"{name}.parquet")
        data.rejects.to_parquet(folder / REJECTS)
        manifest = {
            "format": FORMAT,
            "requested_as_of": _iso(as_of),
            "as_of": _iso(data.as_of),
            "source": str(Path(data.source).resolve()) if data.source is not None else None,
            "source_sha256": _hashes(data.source),
            "tables": list(data.tables),
            "reports": {name: dataclasses.asdict(r) for name, r in data.reports.items()},
            "rejected_values": int(len(data.rejects)),
            "warnings": list(data.warnings),
            "files": {name: str(Path(p).resolve()) for name, p in data.files.items()},
            "assessment_files": {
                name: str(Path(p).resolve()) for name, p in data.assessment_files.items()
            },
        }
        tmp = folder / (MARKER + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        os.replace(tmp, folder / MARKER)  # last: a folder without it is not a snapshot
    except BaseException:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
        raise
    return folder


def load(folder, as_of=None) -> ClientData:
    """Read a snapshot back, without validating again.

    Parameters
    ----------
    folder : str or Path
        A folder written by :func:`write`.
    as_of : date-like, optional
        Must be the as-of date the snapshot was written with (None: the
        default): the rows were accepted or rejected against it.

    Returns
    -------
    crmlib.data.io.ClientData
        Equal to the one written: same tables, dtypes, rejects, row counts,
        warnings, as-of date and files.

    Raises
    ------
    crmlib.errors.DataError
        Not a snapshot, one of another format, a file missing, or another
        as-of date asked for.
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"{folder.name}: not a readable data snapshot ({exc})", file=MARKER
        ) from None
    if manifest.get("format") != FORMAT:
        raise DataError(
            f"{folder.name}: a data snapshot of format {manifest.get('format')!r}; this "
            f"workbook reads format {FORMAT}: run crm report again",
            file=MARKER,
        )
    if _iso(as_of) != manifest["requested_as_of"]:
        raise DataError(
            f"{folder.name}: this data snapshot was validated as of "
            f"{manifest['requested_as_of'] or 'the default (today)'}, not {_iso(as_of)}: "
            "load the client folder itself for another as-of date"
        )
    try:
        tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in manifest["tables"]}
        rejects = pd.read_parquet(folder / REJECTS)
    except OSError as exc:
        raise DataError(f"{folder.name}: the data snapshot is incomplete ({exc})") from None
    return ClientData(
        tables=tables,
        rejects=rejects,
        reports={name: TableReport(**r) for name, r in manifest["reports"].items()},
        warnings=list(manifest["warnings"]),
        source=Path(manifest["source"]) if manifest["source"] is not None else None,
        as_of=pd.Timestamp(manifest["as_of"]) if manifest["as_of"] is not None else None,
        files={name: Path(p) for name, p in manifest["files"].items()},
        assessment_files={name: Path(p) for name, p in manifest["assessment_files"].items()},
    )


def _iso(value) -> str | None:
    """An as-of date as ISO text (None stays None); a time of day is kept."""
    if value is None:
        return None
    try:
        return pd.Timestamp(value).isoformat()
    except (ValueError, TypeError):
        raise DataError(f"as-of date {value!r} is not a date (YYYY-MM-DD)") from None


def _hashes(source) -> dict[str, str]:
    """SHA-256 of every file in the source folder, by name: what was validated."""
    out: dict[str, str] = {}
    if source is None or not Path(source).is_dir():
        return out
    for path in sorted(Path(source).iterdir()):
        if path.is_file():
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            out[path.name] = digest.hexdigest()
    return out
