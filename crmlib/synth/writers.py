"""Write a synthetic company to a client folder (CSV or Parquet), and its ground truth."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pandas as pd

from crmlib.data.schema import (
    DATETIME,
    TABLES,
)
from crmlib.errors import CRMError
from crmlib.synth.simulate import (
    SynthCompany,
)

# --- writing ----------------------------------------------------------------------


def _write_frame(df: pd.DataFrame, path: Path, fmt: str, date_only: bool = True) -> None:
    """Write one frame; CSV dates as YYYY-MM-DD, with HH:MM:SS unless ``date_only``."""
    try:
        if fmt == "csv":
            date_format = "%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M:%S"
            df.to_csv(path, index=False, encoding="utf-8", date_format=date_format)
        else:
            df.to_parquet(path, index=False)
    except OSError as exc:
        raise CRMError(f"{path.name}: cannot write the file ({exc.strerror or exc})") from None


def _make_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CRMError(f"{out.name}: cannot create the folder ({exc.strerror or exc})") from None


def _check_fmt(fmt: str) -> None:
    if fmt not in ("csv", "parquet"):
        raise CRMError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")


def write_folder(company: SynthCompany, out_dir, fmt: str = "csv") -> list[Path]:
    """Write the company's tables as a client folder.

    Parameters
    ----------
    company : SynthCompany
        From :func:`~crmlib.synth.simulate.generate`.
    out_dir : str or Path
        Folder to write into (created if missing).
    fmt : {"csv", "parquet"}
        CSV is UTF-8 without index, dates as ``YYYY-MM-DD`` and timestamps as
        ``YYYY-MM-DD HH:MM:SS``.

    Returns
    -------
    list of Path
        The files written, one ``<table>.<fmt>`` per table.
    """
    _check_fmt(fmt)
    out = Path(out_dir)
    _make_dir(out)
    paths = []
    for name, df in company.tables.items():
        kinds = {c.kind for c in TABLES[name].columns}
        path = out / f"{name}.{fmt}"
        _write_frame(df, path, fmt, date_only=DATETIME not in kinds)
        paths.append(path)
    return paths


def write_truth(company: SynthCompany, out_dir, fmt: str = "csv") -> list[Path]:
    """Write the ground truth: one file per truth table and ``truth.json`` for the rest.

    The truth never goes into a client folder: a folder that already holds
    a table file (``customers.csv``, ``transactions.parquet`` ...) is refused.

    Parameters
    ----------
    company : SynthCompany
        From :func:`~crmlib.synth.simulate.generate`.
    out_dir : str or Path
        Folder for the truth (created if missing).
    fmt : {"csv", "parquet"}
        Format of the truth tables.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    CRMError
        If ``out_dir`` holds client tables, or ``fmt`` is unknown.
    """
    _check_fmt(fmt)
    out = Path(out_dir)
    clash = [p.name for p in out.glob("*.*") if p.stem in TABLES] if out.is_dir() else []
    if clash:
        raise CRMError(
            f"{out.name}: refusing to write the ground truth into a client folder "
            f"(it holds {', '.join(sorted(clash))}); choose a separate folder"
        )
    _make_dir(out)
    paths, scalars = [], {"seed": company.seed, "as_of": company.as_of.date().isoformat()}
    for f in fields(company.truth):
        value = getattr(company.truth, f.name)
        if isinstance(value, pd.DataFrame):
            path = out / f"{f.name}.{fmt}"
            keep_index = f.name in ("channel_response", "segments")
            frame = value.reset_index() if keep_index else value
            _write_frame(frame, path, fmt)
            paths.append(path)
        else:
            scalars[f.name] = value
    path = out / "truth.json"
    path.write_text(json.dumps(scalars, indent=2), encoding="utf-8")
    paths.append(path)
    return paths
