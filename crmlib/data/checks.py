"""Checks and window rules every model module applies to its input frames.

Shared by :mod:`crmlib.models.qci`, :mod:`crmlib.models.payne_frow`, :mod:`crmlib.analytics.costs` and
:mod:`crmlib.models.value_chain`, so that a missing column or a bad as-of date is
reported the same way everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError


def need_columns(frame: pd.DataFrame, table: str, columns, purpose: str = "here") -> None:
    """Raise :class:`DataError` naming the table and the first missing column.

    The one check of a table's columns before a step uses them; ``purpose`` says what needs
    them ("for cost-to-serve"). A table that is not a DataFrame is refused the same way.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"{table}: needed {purpose} as a table (DataFrame), not {type(frame).__name__}",
            file=table,
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{table}: the column(s) {', '.join(missing)} are needed {purpose} and are missing",
            file=table,
            column=missing[0],
        )


def row_labels(frame: pd.DataFrame, bad, listed: int = 5) -> list:
    """The first ``listed`` rows where ``bad`` is true: the file's lines when known
    (``source_row``), else the frame's index labels; for :class:`DataError`'s ``row``."""
    bad = np.asarray(bad, dtype=bool)
    labels = frame[s.SOURCE_ROW][bad] if s.SOURCE_ROW in frame else frame.index[bad]
    return [x.item() if isinstance(x, np.generic) else x for x in list(labels)[:listed]]


def describe_rows(frame: pd.DataFrame, bad, listed: int = 5) -> str:
    """'N row(s) (e.g. 3, 7, ...)' naming the file's lines when known (``source_row``).

    Parameters
    ----------
    frame : DataFrame
        The table; its ``source_row`` column (:mod:`crmlib.data.io`) numbers the file's lines.
    bad : array of bool
        Which rows to describe.
    listed : int
        How many row numbers to show at most.
    """
    bad = np.asarray(bad, dtype=bool)
    labels = list(frame[s.SOURCE_ROW][bad] if s.SOURCE_ROW in frame else frame.index[bad])
    shown = ", ".join(str(x) for x in labels[:listed])
    return f"{len(labels)} row(s) (e.g. {shown}{', ...' if len(labels) > listed else ''})"


def as_of_date(transactions: pd.DataFrame, as_of) -> pd.Timestamp:
    """The last day of the window: ``as_of``, or the last order date."""
    if as_of is None:
        return pd.Timestamp(transactions[s.ORDER_DATE].max()).normalize()
    try:
        return pd.Timestamp(as_of).normalize()
    except (ValueError, TypeError):
        raise CRMError(f"as_of must be a date (YYYY-MM-DD), not {as_of!r}") from None


