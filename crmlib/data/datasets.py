"""Bundled data sets, found through the package whatever the current directory.

- :func:`load_sample`: the committed sample client folder (a synthetic
  omnichannel retailer made by :mod:`crmlib.synth`, about 5,000 customers).
- :func:`load_cdnow_transactions` and :func:`load_cdnow_summary`: the real
  CDNOW data of Fader, Hardie & Lee (2005), "Counting your customers the easy
  way: an alternative to the Pareto/NBD model", Marketing Science 24(2),
  redistributed by Bruce Hardie and Peter Fader for teaching and research.
- :func:`load_donations_summary`: the donations of the 1995 cohort of a
  non-profit (Fader, Hardie & Shang 2010), the BG/BB's data.
- :func:`load_sbg_cohorts`: survivors per year of two cohorts of 1,000
  customers (Fader & Hardie 2007), the shifted-beta-geometric's data.

The files live in the repository's ``datasets/`` folder (see its README for
the data dictionary and provenance). Set the environment variable
``CRM_DATASETS`` to use a copy elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from crmlib.data import schema as s
from crmlib.data import snapshot
from crmlib.data.io import ClientData, TableReport, load_folder
from crmlib.errors import DataError

CDNOW_CALIBRATION_END = "1997-09-30"
NAMED = ("sample", "cdnow")  # data_path values that name a bundled data set


def datasets_dir() -> Path:
    """The folder holding the bundled data sets."""
    env = os.environ.get("CRM_DATASETS")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "datasets"
    if not path.is_dir():
        raise DataError(
            f"the bundled data sets were not found in {path}: install the workbook from its "
            "repository (pip install -e .) or set CRM_DATASETS to the datasets folder"
        )
    return path


def sample_path() -> Path:
    """The sample client folder (pass it to ``crm report`` or ``load_folder``)."""
    return datasets_dir() / "sample"


def load_sample(as_of=None):
    """Load and validate the sample client folder.

    Returns
    -------
    crmlib.data.io.ClientData
        ``.tables`` holds every table of the data contract; ``.rejects`` is empty.

    Examples
    --------
    >>> data = load_sample()
    >>> data.tables["transactions"].columns[:3].tolist()
    ['order_id', 'customer_id', 'order_date']
    """
    return load_folder(sample_path(), as_of=as_of)


def load_cdnow_transactions(master: bool = False) -> pd.DataFrame:
    """CDNOW purchases, one row per purchase record.

    Parameters
    ----------
    master : bool, default False
        False: the 1/10 sample (6,919 rows, 2,357 customers) with the sample's
        own customer ids 1-2,357, the ids of :func:`load_cdnow_summary`.
        True: the full master file (69,659 rows, 23,570 customers).

    Returns
    -------
    pandas.DataFrame
        customer_id (str), order_date (datetime64), quantity (CDs), revenue (USD).

    Examples
    --------
    >>> load_cdnow_transactions().head(2)  # doctest: +NORMALIZE_WHITESPACE
      customer_id order_date  quantity  revenue
    0           1 1997-01-01       2.0    29.33
    1           1 1997-01-18       2.0    29.73
    """
    folder = datasets_dir() / "cdnow"
    if master:
        raw = pd.read_csv(
            folder / "CDNOW_master.txt",
            sep=r"\s+",
            skiprows=1,
            names=["id", "date", "cds", "dollars"],
            dtype={"id": str, "date": str},
        )
    else:
        raw = pd.read_csv(
            folder / "CDNOW_sample.txt",
            sep=r"\s+",
            header=None,
            names=["master_id", "id", "date", "cds", "dollars"],
            dtype={"master_id": str, "id": str, "date": str},
        )
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: raw["id"].str.lstrip("0"),
            s.ORDER_DATE: pd.to_datetime(raw["date"], format="%Y%m%d"),
            s.QUANTITY: raw["cds"].astype(float),
            s.REVENUE: raw["dollars"].astype(float),
        }
    )


def load_cdnow_summary() -> pd.DataFrame:
    """The published CDNOW calibration summary (weeks, to 1997-09-30).

    Returns
    -------
    pandas.DataFrame
        customer_id (str), frequency (repeat purchase days), recency and T
        (weeks from the first purchase), monetary_value (mean value of the
        repeat purchases, 0 for customers without one), 2,357 rows.
    """
    folder = datasets_dir() / "cdnow"
    raw = pd.read_csv(folder / "cdnow_customers_summary_with_transactions.csv")
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: raw["ID"].astype(str),
            s.FREQUENCY: raw["x"].astype(float),
            s.RECENCY: raw["t_x"].astype(float),
            s.T: raw["T"].astype(float),
            s.MONETARY_VALUE: raw["zbar"].astype(float),
        }
    )


def load_donations_summary() -> pd.DataFrame:
    """The donations summary of Fader, Hardie & Shang (2010): one row per donor.

    The 11,104 first-time supporters of a non-profit in 1995, and whether each
    gave again in each of the six years 1996-2001 (Fader, P. S., Hardie, B. G.
    S., & Shang, J. (2010). Customer-base analysis in a discrete-time
    noncontractual setting. Marketing Science, 29(6), 1086-1108).

    Returns
    -------
    pandas.DataFrame
        customer_id (str), frequency (years with a repeat donation), recency
        (the last such year, 1-6; 0 without one) and T (6, the years
        observed), 11,104 rows. The BTYD summary in periods, as
        :class:`crmlib.analytics.clv.BetaGeoBetaBinom` fits it.

    Examples
    --------
    >>> load_donations_summary().head(3)  # doctest: +NORMALIZE_WHITESPACE
      customer_id  frequency  recency    T
    0           0        0.0      0.0  6.0
    1           1        0.0      0.0  6.0
    2           2        0.0      0.0  6.0
    """
    raw = pd.read_csv(
        datasets_dir() / "donations" / "bgbb_donations_per_customer.csv",
        dtype={"customer_id": str},
    )
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: raw["customer_id"],
            s.FREQUENCY: raw["frequency"].astype(float),
            s.RECENCY: raw["recency"].astype(float),
            s.T: raw["T"].astype(float),
        }
    )


def load_sbg_cohorts() -> pd.DataFrame:
    """Survivors per year of the two cohorts of Fader & Hardie (2007).

    Two cohorts of 1,000 customers each ("highend" and "regular"), and how
    many of them are still customers at the end of each of years 0-7 (Fader,
    P. S., & Hardie, B. G. S. (2007). How to project customer retention.
    Journal of Interactive Marketing, 21(1), 76-90). Counted from the file's
    one row per customer: a customer with recency k < 8 churned in year k.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``year`` (0-7), columns ``highend`` and ``regular``
        (survivor counts): the form :meth:`crmlib.analytics.clv.ShiftedBetaGeo.fit`
        takes.

    Examples
    --------
    >>> load_sbg_cohorts().head(3)  # doctest: +NORMALIZE_WHITESPACE
          highend  regular
    year
    0        1000     1000
    1         869      631
    2         743      468
    """
    raw = pd.read_csv(datasets_dir() / "sbg_cohorts" / "sbg_cohorts.csv")
    years = pd.RangeIndex(0, int(raw["T"].max()), name="year")
    out = {}
    for cohort, group in raw.groupby("cohort", sort=True):
        # alive at the end of year k when churned in a later year (recency > k)
        out[cohort] = [int((group["recency"] > k).sum()) for k in years]
    return pd.DataFrame(out, index=years)


def load(data_path=None, as_of=None):
    """Load what a lesson's ``data_path`` parameter names.

    Parameters
    ----------
    data_path : str, Path or None
        ``None`` or ``"sample"``: the bundled sample client folder;
        ``"cdnow"``: the CDNOW sample as a client folder holding transactions
        only; a data snapshot written by ``crm report`` (:mod:`crmlib.data.snapshot`:
        read back as validated, in a fraction of the time); anything else: a
        client folder (see :func:`crmlib.data.io.load_folder`).
    as_of : date-like, optional
        Passed to the loader: later orders are rejected. For a snapshot, the
        as-of date it was written with.

    Returns
    -------
    crmlib.data.io.ClientData
    """
    if data_path is not None and snapshot.is_snapshot(data_path):
        return snapshot.load(data_path, as_of=as_of)
    if data_path is None or str(data_path) == "sample":
        return load_sample(as_of=as_of)
    if str(data_path) == "cdnow":
        tx = load_cdnow_transactions()
        tx.index = pd.RangeIndex(1, len(tx) + 1, name=s.SOURCE_ROW)  # the file has no header
        rows = len(tx)
        late = (
            tx[s.ORDER_DATE] > pd.Timestamp(as_of)
            if as_of is not None
            else tx[s.REVENUE] != tx[s.REVENUE]
        )
        rejects = pd.DataFrame(
            {
                "table": "transactions",
                "file": "CDNOW_sample.txt",
                "row": tx.index[late],
                "column": s.ORDER_DATE,
                "value": tx.loc[late, s.ORDER_DATE].dt.date.astype(str),
                "reason": f"after the as-of date {as_of}",
            },
            columns=list(s.REJECT_COLUMNS),
        )
        tx = tx.loc[~late].reset_index()
        tx[s.IS_RETURN] = tx[s.REVENUE] < 0
        report = TableReport("transactions", "CDNOW_sample.txt", rows, len(tx), rows - len(tx))
        when = pd.Timestamp(as_of) if as_of is not None else tx[s.ORDER_DATE].max()
        return ClientData(
            {"transactions": tx},
            rejects,
            {"transactions": report},
            source=datasets_dir() / "cdnow",
            as_of=when,
        )
    return load_folder(data_path, as_of=as_of)
