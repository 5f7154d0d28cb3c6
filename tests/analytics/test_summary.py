"""crmlib.analytics.summary: the BTYD customer summary, checked against the published CDNOW file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib.analytics.summary import customer_summary
from crmlib.data import schema as s
from crmlib.data.datasets import CDNOW_CALIBRATION_END, load_cdnow_summary, load_cdnow_transactions
from crmlib.errors import CRMError, DataError


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_transactions()


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_reproduces_published_cdnow_summary(cdnow, engine):
    ours = customer_summary(cdnow, as_of=CDNOW_CALIBRATION_END, time_unit="W", engine=engine)
    published = load_cdnow_summary().set_index(s.CUSTOMER_ID)
    assert len(ours) == len(published) == 2357
    published = published.loc[ours.index]
    assert (ours[s.FREQUENCY] == published[s.FREQUENCY]).all()
    # the published file rounds recency and T to 2 decimals, monetary value to cents
    np.testing.assert_allclose(ours[s.RECENCY], published[s.RECENCY], atol=0.005)
    np.testing.assert_allclose(ours[s.T], published[s.T], atol=0.005)
    np.testing.assert_allclose(ours[s.MONETARY_VALUE], published[s.MONETARY_VALUE], atol=0.0051)


def _tx(rows):
    return pd.DataFrame(
        rows, columns=[s.ORDER_ID, s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, s.COST]
    ).assign(**{s.ORDER_DATE: lambda d: pd.to_datetime(d[s.ORDER_DATE])})


HAND = [
    # customer A: two orders on day 1 (one occasion), one on day 8, a return on day 10
    ("o1", "A", "2024-01-01", 10.0, 4.0),
    ("o2", "A", "2024-01-01", 5.0, 2.0),
    ("o3", "A", "2024-01-08", 30.0, 12.0),
    ("o4", "A", "2024-01-10", -10.0, -4.0),
    # customer B: one purchase, and one after the window
    ("o5", "B", "2024-01-03", 20.0, 8.0),
    ("o6", "B", "2024-02-01", 99.0, 40.0),
    # customer C: only a return inside the window: not a customer yet
    ("o7", "C", "2024-01-05", -5.0, -2.0),
]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_hand_computed_example(engine):
    out = customer_summary(_tx(HAND), as_of="2024-01-15", time_unit="D", engine=engine)
    assert list(out.index) == ["A", "B"]
    a, b = out.loc["A"], out.loc["B"]
    assert (a[s.FREQUENCY], a[s.RECENCY], a[s.T]) == (1, 7, 14)
    assert a[s.MONETARY_VALUE] == 30.0  # the repeat occasion only
    assert a[s.ORDERS] == 3  # purchases, not the return
    assert a[s.REVENUE] == 35.0  # net of the return
    assert a[s.MARGIN] == 35.0 - 14.0
    assert (b[s.FREQUENCY], b[s.RECENCY], b[s.T], b[s.MONETARY_VALUE]) == (0, 0, 12, 0)
    assert a[s.FIRST_PURCHASE] == pd.Timestamp("2024-01-01")
    weeks = customer_summary(_tx(HAND), as_of="2024-01-15", time_unit="W", engine=engine)
    assert weeks.loc["A", s.T] == 2.0


def test_engines_agree_on_a_larger_random_history():
    rng = np.random.default_rng(7)
    n = 20_000
    tx = pd.DataFrame(
        {
            s.ORDER_ID: rng.integers(0, 8000, n).astype(str),
            s.CUSTOMER_ID: rng.integers(0, 3000, n).astype(str),
            s.ORDER_DATE: pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 700, n), "D"),
            s.REVENUE: np.round(rng.normal(40, 30, n), 2),
        }
    )
    tx[s.COST] = np.round(tx[s.REVENUE].abs() * 0.4, 2)
    a = customer_summary(tx, as_of="2024-10-01", time_unit="W", engine="pandas")
    b = customer_summary(tx, as_of="2024-10-01", time_unit="W", engine="duckdb")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-10, atol=1e-9)


def test_duckdb_reads_a_parquet_path(tmp_path, cdnow):
    path = tmp_path / "tx.parquet"
    cdnow.to_parquet(path)
    from_path = customer_summary(str(path), as_of=CDNOW_CALIBRATION_END, time_unit="W")
    in_memory = customer_summary(cdnow, as_of=CDNOW_CALIBRATION_END, time_unit="W", engine="pandas")
    pd.testing.assert_frame_equal(from_path, in_memory, check_exact=False, rtol=1e-12)


def test_bad_arguments():
    with pytest.raises(CRMError, match="time_unit"):
        customer_summary(_tx(HAND), time_unit="M")
    with pytest.raises(DataError, match="revenue"):
        customer_summary(_tx(HAND).drop(columns=[s.REVENUE]))
