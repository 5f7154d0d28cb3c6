"""Small helpers of the simulation: ids, labels, string columns and dates.

Ids are zero-padded serial numbers of one width per id (:func:`_serial`, which
continues a sequence across the chunks of :mod:`crmlib.synth.stream` through
:class:`_Run`), so that they stay unique and sort as text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crmlib.synth.parameters import (
    CAMPAIGNS,
)

# --- small helpers ------------------------------------------------------------


def _str(values) -> pd.Series:
    """A pandas string Series (pyarrow backed) from any array of text."""
    return pd.Series(values, dtype="str")


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    """``prefix`` + zero-padded ``numbers`` as a string Series (fast, in pyarrow)."""
    digits = pc.utf8_lpad(
        pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0"
    )
    return _str(pc.binary_join_element_wise(prefix, digits, ""))


def _labels(labels, codes: np.ndarray) -> pd.Series:
    """Text labels by code; a negative code gives a missing value."""
    codes = np.asarray(codes, dtype=np.int64)
    arr = pa.array(codes, mask=codes < 0)
    return _str(pc.take(pa.array(list(labels), pa.string()), arr))


def _choice_rows(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category per element, from the row ``rows[i]`` of ``probs``."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(len(rows))
    out = np.empty(len(rows), dtype=np.int64)
    for r in range(probs.shape[0]):
        m = rows == r
        out[m] = np.searchsorted(cum[r], u[m], side="right")
    return out


def _width(n: int, minimum: int) -> int:
    return max(minimum, len(str(max(int(n), 1))))


@dataclass
class _Run:
    """What the chunks of a large folder share, carried from one chunk to the next.

    ``width`` (id prefix -> digits) is fixed for the whole folder, so that ids
    sort as text; ``next_id`` (id prefix -> number) is where the next chunk's
    ids start; ``first_person`` counts the persons of earlier chunks and,
    with the one ``phone_offset``, keeps phone numbers unique per person;
    ``email_seen`` (e-mail username -> persons using it so far) keeps e-mail
    addresses unique per person. See :func:`~crmlib.synth.stream.write_large_folder`.
    """

    width: dict[str, int]
    next_id: dict[str, int]
    first_person: int
    phone_offset: int
    email_seen: dict[str, int]


def _serial(prefix: str, numbers: np.ndarray, minimum: int, run: _Run | None) -> pd.Series:
    """Ids ``prefix`` + ``numbers`` (1-based within the company or chunk).

    Alone (``run`` None) the width is the digits of the count, at least
    ``minimum``; in a chunk the numbers continue the earlier chunks' at the
    folder's fixed width.
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    if run is None:
        return _ids(prefix, numbers, _width(numbers.size, minimum))
    numbers = numbers + (run.next_id[prefix] - 1)
    if numbers.size and numbers.max() >= 10 ** run.width[prefix]:
        # the code's own invariant: the folder's id width is fixed from its customer count
        raise RuntimeError(f"{prefix} ids overflow their {run.width[prefix]} digits")
    return _ids(prefix, numbers, run.width[prefix])


def _days(start: np.datetime64, t: np.ndarray) -> np.ndarray:
    """Dates (datetime64[us], midnight) of fractional days ``t`` since ``start``."""
    return (start + np.floor(t).astype("timedelta64[D]")).astype("datetime64[us]")


def _stamps(start: np.datetime64, t: np.ndarray) -> np.ndarray:
    """Timestamps (datetime64[us], whole seconds) of fractional days ``t`` since ``start``."""
    secs = np.floor(np.asarray(t) * 86400.0).astype(np.int64).astype("timedelta64[s]")
    return (start.astype("datetime64[s]") + secs).astype("datetime64[us]")


def _take(ids: pd.Series, index: np.ndarray) -> pd.Series:
    """``ids[index]`` as a fresh string Series (fast, in pyarrow)."""
    return _str(pc.take(pa.array(ids), pa.array(np.asarray(index, dtype=np.int64))))


def _campaign_ids() -> pd.Series:
    return _ids("CP", np.arange(1, len(CAMPAIGNS) + 1), 2)


def _acquisition_ids(n: int) -> pd.Series:
    """Ids of the ``n`` acquisition campaigns (``AQ01`` ...), after the contact campaigns' ``CP`` ids."""
    return _ids("AQ", np.arange(1, n + 1), 2)
