"""Input checks shared by the CLV models, the CLV arithmetic and the holdout tools.

Every check raises :class:`crmlib.errors.DataError` naming the column and up to
five row labels, so a user sees which customers to look at.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics.clv.base import compress
from crmlib.data import schema as s
from crmlib.errors import DataError

_MAX_LISTED = 5


def rows_text(labels, bad: np.ndarray) -> str:
    """'N row(s) (e.g. a, b, c)' for the labels where ``bad`` is true."""
    where = np.flatnonzero(bad)
    shown = ", ".join(str(labels[i]) for i in where[:_MAX_LISTED])
    more = ", ..." if where.size > _MAX_LISTED else ""
    return f"{where.size} row(s) (e.g. {shown}{more})"


def summary_columns(summary, columns: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    """The given summary columns as float arrays; DataError when missing or not numeric."""
    if not isinstance(summary, pd.DataFrame):
        raise DataError(
            f"{what} needs a customer summary DataFrame (crmlib.analytics.summary.customer_summary), "
            f"not {type(summary).__name__}"
        )
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise DataError(
            f"{what}: the summary has no column(s) {', '.join(map(repr, missing))}; build it with "
            "crmlib.analytics.summary.customer_summary",
            column=missing[0],
        )
    out = {}
    for c in columns:
        values = pd.to_numeric(summary[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(
                f"{what}: column {c!r} has {rows_text(summary.index, bad)} that are empty, "
                "not numbers or infinite",
                column=c,
            )
        out[c] = values
    return out


def no_spend_is_zero(summary):
    """The summary with an empty monetary_value read as 0 where frequency is 0.

    Customers without a repeat purchase have no mean repeat spend; some tools
    leave it empty rather than 0. Neither the fit nor the CLV uses it.
    """
    if not (
        isinstance(summary, pd.DataFrame)
        and s.MONETARY_VALUE in summary.columns
        and s.FREQUENCY in summary.columns
    ):
        return summary
    empty = summary[s.MONETARY_VALUE].isna() & (
        pd.to_numeric(summary[s.FREQUENCY], errors="coerce") == 0
    )
    if not empty.any():
        return summary
    return summary.assign(**{s.MONETARY_VALUE: summary[s.MONETARY_VALUE].mask(empty, 0.0)})


def check_btyd(values: dict[str, np.ndarray], labels, what: str) -> None:
    """The BTYD rules a (frequency, recency, T) triple must obey, as DataError."""
    for c, v in values.items():
        if (v < 0).any():
            raise DataError(
                f"{what}: column {c!r} has {rows_text(labels, v < 0)} with negative values",
                column=c,
            )
    x = values.get(s.FREQUENCY)
    tx = values.get(s.RECENCY)
    T = values.get(s.T)
    if x is not None:
        bad = x != np.round(x)
        if bad.any():
            raise DataError(
                f"{what}: column {s.FREQUENCY!r} has {rows_text(labels, bad)} that are not whole "
                "numbers (it counts repeat purchases)",
                column=s.FREQUENCY,
            )
    if tx is not None and T is not None:
        bad = tx > T
        if bad.any():
            raise DataError(
                f"{what}: column {s.RECENCY!r} is larger than {s.T!r} in {rows_text(labels, bad)}; "
                "recency is last - first purchase and T is as-of date - first purchase, "
                "in the same time unit",
                column=s.RECENCY,
            )
    if x is not None and tx is not None:
        bad = (x == 0) & (tx != 0)
        if bad.any():
            raise DataError(
                f"{what}: column {s.RECENCY!r} is not 0 in {rows_text(labels, bad)} whose "
                f"{s.FREQUENCY!r} is 0 (without a repeat purchase, last = first purchase)",
                column=s.RECENCY,
            )


def broadcast(what: str, **named) -> tuple[dict[str, np.ndarray], object, object]:
    """Named array-likes as broadcast float arrays, the index of the first Series (or None),
    and row labels for messages (that index, or positions)."""
    index = next((v.index for v in named.values() if isinstance(v, pd.Series)), None)
    try:
        arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in named.values()))
    except ValueError as exc:
        raise DataError(f"{what}: {', '.join(named)} have incompatible shapes ({exc})") from None
    out = dict(zip(named, arrays, strict=True))
    flat = np.arange(arrays[0].size)
    labels = index if index is not None and len(index) == arrays[0].size else flat
    for name, v in out.items():
        bad = ~np.isfinite(v).ravel()
        if bad.any():
            raise DataError(
                f"{what}: {name} has {rows_text(labels, bad)} that are empty or infinite",
                column=name,
            )
    return out, index, labels


def wrap(values: np.ndarray, index, name: str | None = None):
    """A Series when an input was one, a float for scalars, else the array."""
    if index is not None and values.ndim == 1 and len(index) == values.size:
        return pd.Series(values, index=index, name=name)
    if values.ndim == 0:
        return float(values)
    return values


def btyd_rows(summary, what: str, check=check_btyd) -> pd.DataFrame:
    """The summary's (frequency, recency, T) checked and compressed to distinct rows.

    ``check`` validates the columns (default :func:`check_btyd`; the discrete-time models pass
    their whole-period check). Returns the distinct rows with a ``weight`` column (how many
    customers share each), as :func:`crmlib.analytics.clv.base.compress` makes them.
    """
    columns = (s.FREQUENCY, s.RECENCY, s.T)
    values = summary_columns(summary, columns, what)
    check(values, summary.index, what)
    if len(summary) == 0:
        raise DataError(f"{what}: the summary has no customers")
    return compress(pd.DataFrame(values), list(columns))
