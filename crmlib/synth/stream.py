"""Write a client folder of any size, chunk by chunk, in bounded memory (no ground truth).

:func:`crmlib.synth.simulate.generate` holds the whole company in memory (1 M
persons: about 5 GB). :func:`write_large_folder` writes a client folder of any
size (10 M persons give about 90 M transaction lines) in memory bounded by its
chunk size, and keeps no ground truth. It simulates the persons in equal
chunks, each by the very steps of ``generate`` (same planted parameters, same
window and ``as_of``) with its own generator, seeded by the ``i``-th child of
``numpy.random.SeedSequence(seed)``, and appends each chunk's rows to one
file per table. What the chunks share:

- one product catalogue, the one ``generate(..., seed)`` draws first, so a
  line's product, price and cost come from the one ``products`` table;
- one campaign calendar (``campaigns`` written once; a contact campaign's cost
  is its fixed cost plus the contacts of every chunk, an acquisition
  campaign's the planted cost per new customer times the new customers of
  every chunk) and ``cost_rates``;
- the id sequences: customer, order, ticket, interaction and survey numbers
  continue from chunk to chunk at one width per id, so ids stay unique and
  sort as text (a chunk's own orders are numbered in time order);
- one phone numbering over all persons and one count of e-mail usernames, so
  that a phone number or an e-mail address still belongs to one person.

A chunk's subscriptions are drawn as :func:`~crmlib.synth.simulate.generate`
draws them, from a stream of their own
(:func:`~crmlib.synth.subscriptions.subscription_rng` with the chunk's number),
their ids continuing from chunk to chunk.

Each chunk is a company in itself: its persons only ever appear in it, so
per chunk every planted rule holds as in :func:`crmlib.synth.simulate.generate`. The defects are
planted per chunk (at least one ticket closed before it was opened in each).
The new columns are written with the same plants as ``generate``'s
(``household_size`` and the wallet, ``supplier`` and its return rates,
``objective`` and the acquisition costs, each campaign's planted uplift over
its own chunk's target list); two differences: the wallet's feature score is
standardised and ranked within each chunk (a chunk of a handful of persons
gets a coarse wallet), and the future year is simulated but no truth is kept.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from contextlib import ExitStack, closing
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crmlib.data.schema import (
    DATE_KIND,
    DATETIME,
    FLOAT,
    ID,
    INT,
    TABLES,
    TEXT,
)
from crmlib.errors import CRMError
from crmlib.synth.helpers import (
    _Run,
    _width,
)
from crmlib.synth.parameters import (
    CAMPAIGNS,
)
from crmlib.synth.simulate import (
    _check_args,
    _person_tables,
    _primary_ids,
    _simulate,
    _window,
)
from crmlib.synth.subscriptions import (
    _subscriptions,
    subscription_rng,
)
from crmlib.synth.world import (
    _products,
    _small_tables,
)
from crmlib.synth.writers import (
    _check_fmt,
    _make_dir,
)

# --- large folders ----------------------------------------------------------------

#: Persons per chunk of :func:`write_large_folder` (about 1.5 GB of peak memory).
CHUNK_CUSTOMERS = 250_000
#: Orders, tickets and interactions per person that the fixed id widths of a large
#: folder leave room for (the generator makes about 5, 0.7 and 8 per person).
_IDS_PER_PERSON = 100
_PERSON_TABLES = (
    "customers",
    "transactions",
    "interactions",
    "tickets",
    "surveys",
    "subscriptions",
)
#: Arrow type of each column kind: the types pandas writes for the frames of generate().
_ARROW_TYPES = {
    ID: pa.large_string(),
    TEXT: pa.large_string(),
    DATE_KIND: pa.timestamp("us"),
    DATETIME: pa.timestamp("us"),
    FLOAT: pa.float64(),
    INT: pa.int64(),
}


def _arrow_schema(table: str) -> pa.Schema:
    """The one Parquet schema of a table, from the data contract (never from a chunk's values)."""
    return pa.schema([(c.name, _ARROW_TYPES[c.kind]) for c in TABLES[table].columns])


class _ParquetSink:
    """Appends frames to one Parquet file: one or more row groups per frame, one schema."""

    def __init__(self, path: Path, table: str):
        self.schema = _arrow_schema(table)
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, df: pd.DataFrame) -> None:
        arrow = pa.Table.from_pandas(df, schema=self.schema, preserve_index=False)
        self.writer.write_table(arrow)

    def close(self) -> None:
        self.writer.close()


class _CsvSink:
    """Appends frames to one CSV file, header once, formatted as :func:`~crmlib.synth.writers.write_folder` does."""

    def __init__(self, path: Path, table: str):
        self.columns = list(TABLES[table].names)
        kinds = {c.kind for c in TABLES[table].columns}
        self.date_format = "%Y-%m-%d %H:%M:%S" if DATETIME in kinds else "%Y-%m-%d"
        self.file = open(path, "w", encoding="utf-8", newline="")  # closed by close()
        self.header = True

    def write(self, df: pd.DataFrame) -> None:
        df[self.columns].to_csv(
            self.file, index=False, header=self.header, date_format=self.date_format
        )
        self.header = False

    def close(self) -> None:
        self.file.close()


def write_large_folder(
    n_customers: int,
    out_dir,
    seed: int = 20261122,
    chunk_customers: int = CHUNK_CUSTOMERS,
    fmt: str = "parquet",
    start="2023-01-01",
    end="2024-12-31",
    duplicate_rate: float = 0.05,
    progress: Callable[[int, int, dict[str, int]], None] | None = None,
) -> dict[Path, int]:
    """Write a client folder of any size in bounded memory, chunk by chunk (no ground truth).

    The persons are simulated in chunks of at most ``chunk_customers`` and
    each chunk's rows are appended to one file per table, so that peak memory
    depends on the chunk size, not on ``n_customers``. The folder has the
    same files and columns as :func:`~crmlib.synth.writers.write_folder` writes; see the module
    docstring ("Large folders") for how the chunks relate to :func:`~crmlib.synth.simulate.generate`.

    Parameters
    ----------
    n_customers : int
        Number of persons; about 9 transaction lines each (10 M persons give
        about 90 M lines).
    out_dir : str or Path
        The folder to create. It must not exist yet (or be empty): the files
        are written to a hidden ``.<name>.partial-…`` folder beside it, which
        is renamed to ``out_dir`` only when every table is complete, and
        removed when writing fails or is interrupted.
    seed : int
        The one seed: the product catalogue and the phone numbering come from
        ``numpy.random.default_rng(seed)``, chunk ``i`` from the ``i``-th
        child of ``numpy.random.SeedSequence(seed)``. Same arguments, same files.
    chunk_customers : int
        Persons per chunk. Chunks are of equal size (within one person).
    fmt : {"parquet", "csv"}
        Parquet: one file per table written with ``pyarrow.parquet.ParquetWriter``
        under one schema taken from the data contract, one or more row groups
        per chunk. CSV: appended chunk by chunk, header once.
    start, end : str or date-like
        First and last day of the observation window, the same for every chunk.
    duplicate_rate : float
        Share of persons with a second record in another source system.
    progress : callable, optional
        Called after each chunk as ``progress(chunk, n_chunks, rows)``, ``chunk``
        counting from 1 and ``rows`` the rows that chunk added, per table.

    Returns
    -------
    dict of Path to int
        Each file written (``<table>.<fmt>``, in the order of
        :data:`crmlib.data.schema.TABLES`) and its number of rows.

    Raises
    ------
    CRMError
        On a bad argument, when ``out_dir`` exists and is not an empty folder,
        or when a file cannot be written (e.g. the disk is full).

    Notes
    -----
    Each chunk is simulated by the same steps as
    :func:`~crmlib.synth.simulate.generate` (the BG/NBD purchases of Fader,
    Hardie & Lee 2005, *Marketing Science* 24(2); the planted campaigns,
    service and defects of :mod:`crmlib.synth.parameters`). A campaign's
    ``cost`` is :data:`~crmlib.synth.parameters.CAMPAIGN_FIXED_COST` once plus
    the contact unit cost times the contacts of all chunks.
    """
    t_start, t_end = _check_args(n_customers, seed, start, end, duplicate_rate)
    _check_fmt(fmt)
    if (
        isinstance(chunk_customers, bool)
        or not isinstance(chunk_customers, int | np.integer)
        or chunk_customers < 1
    ):
        raise CRMError(f"chunk_customers must be a positive whole number, got {chunk_customers!r}")
    out = Path(out_dir)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise CRMError(
            f"{out}: already exists and is not an empty folder; a large folder is written whole "
            "into a new one: choose another folder or remove this one"
        )
    _make_dir(out.parent)
    partial = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:12]}"
    _make_dir(partial)
    try:
        rows = _write_chunks(
            partial,
            int(n_customers),
            int(seed),
            int(chunk_customers),
            fmt,
            _window(t_start, t_end),
            float(duplicate_rate),
            progress,
        )
        if out.is_dir():
            out.rmdir()
        partial.rename(out)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise CRMError(f"{out}: cannot write the folder ({exc.strerror or exc})") from None
    except BaseException:  # an error or an interrupt: leave nothing that looks like a folder
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return {out / f"{name}.{fmt}": count for name, count in rows.items()}


def _write_chunks(folder, n, seed, chunk, fmt, window, duplicate_rate, progress) -> dict:
    """Simulate and append the chunks, then write the shared tables; rows per table."""
    start64, span = window
    shared = np.random.default_rng(seed)
    prod = _products(shared)  # the catalogue generate(..., seed) draws first
    per_person = _IDS_PER_PERSON * n
    run = _Run(
        width={
            "C": _width(2 * n, 7),  # at most two records per person
            "O": _width(per_person, 9),
            "T": _width(per_person, 7),
            "I": _width(per_person, 9),
            "S": _width(n, 7),  # at most one survey answer per person
            "SB": _width(n, 7),  # at most one subscription per person
        },
        next_id=dict.fromkeys(("C", "O", "T", "I", "S", "SB"), 1),
        first_person=0,
        phone_offset=int(shared.integers(0, 10**7)),
        email_seen={},
    )
    n_chunks = -(-n // chunk)
    base, extra = divmod(n, n_chunks)
    sizes = [base + 1] * extra + [base] * (n_chunks - extra)
    seeds = np.random.SeedSequence(seed).spawn(n_chunks)
    sink = _ParquetSink if fmt == "parquet" else _CsvSink
    rows = dict.fromkeys(_PERSON_TABLES, 0)
    n_treated = np.zeros(len(CAMPAIGNS), dtype=np.int64)
    acq_counts = 0
    with ExitStack() as stack:
        sinks = {
            name: stack.enter_context(closing(sink(folder / f"{name}.{fmt}", name)))
            for name in _PERSON_TABLES
        }
        for i, (size, child) in enumerate(zip(sizes, seeds, strict=True)):
            rng = np.random.default_rng(child)
            sim = _simulate(rng, prod, size, span, start64, duplicate_rate, run)
            tables = _person_tables(sim, prod, start64)
            tables["subscriptions"], _ = _subscriptions(
                subscription_rng(seed, i),
                sim["per"]["t0"],
                _primary_ids(sim["rec"]),
                span,
                start64,
                run,
            )
            for name, df in tables.items():
                sinks[name].write(df)
                rows[name] += len(df)
            camp_rows = sim["camp_rows"]
            n_treated += [r["n_treated"] for r in camp_rows]
            acq_counts = acq_counts + sim["acq_counts"]
            counts = {
                "C": sim["rec"]["n"],
                "O": sim["orders"]["n"],
                "T": sim["tick"]["n"],
                "I": sim["inter"]["t"].size,
                "S": sim["surv"]["t"].size,
                "SB": len(tables["subscriptions"]),
            }
            for prefix, count in counts.items():
                run.next_id[prefix] += count
            run.first_person += size
            chunk_rows = {name: len(df) for name, df in tables.items()}
            del sim, tables  # free this chunk before the next one is simulated
            if progress is not None:
                progress(i + 1, n_chunks, chunk_rows)
    # every chunk has the same campaign calendar; the contacts add up over the chunks
    totals = [{**r, "n_treated": int(k)} for r, k in zip(camp_rows, n_treated, strict=True)]
    for name, df in _small_tables(start64, prod, totals, acq_counts, span).items():
        with closing(sink(folder / f"{name}.{fmt}", name)) as one:
            one.write(df)
        rows[name] = len(df)
    return {name: rows[name] for name in TABLES if name in rows}
