"""A table as a client reads it: names in words, numbers formatted, "n/a" for what is absent.

Lessons show pandas tables to clients; :func:`readable` turns keys such as
``unit_cost`` into "unit cost" (or into the label a mapping gives), dates into
``YYYY-MM-DD``, whole numbers of 10 and more into "1,234", other numbers into
two decimals, and missing values (NaN, NaT, None) into "n/a".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from crmlib.analytics.metrics import ABSENT


def name(key, labels: Mapping | None = None):
    """A key in words: its label, or the key with spaces for underscores ("cost rates").

    The one spelling of a data-contract name for a client: tables and columns in the
    sentences of :mod:`crmlib.analytics.requirements`, the report's tables and headings.
    """
    if not isinstance(key, str):
        return key
    return (labels or {}).get(key, key.replace("_", " "))


def cell(value):
    """One value as a client reads it (see the module docstring)."""
    if value is None or value is pd.NaT:
        return ABSENT
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return ABSENT
        if abs(value) >= 10 and float(value).is_integer():
            return f"{value:,.0f}"
        return f"{value:,.2f}"
    return value


def readable(frame: pd.DataFrame, labels: Mapping | None = None) -> pd.DataFrame:
    """The frame with its names in words and every value formatted for a client.

    Parameters
    ----------
    frame : pandas.DataFrame
    labels : mapping of str to str, optional
        Labels for keys (e.g. KPI names); other keys get spaces for underscores.

    Returns
    -------
    pandas.DataFrame
        Same shape; values are strings (or the original non-numeric values).
    """
    out = frame.rename(columns=lambda k: name(k, labels), index=lambda k: name(k, labels))
    out.columns.name = name(out.columns.name, labels) if out.columns.name else None
    out.index.name = name(out.index.name, labels) if out.index.name else None
    return out.map(cell)
