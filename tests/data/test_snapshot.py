"""crmlib.data.snapshot: a validated folder written once and read back exactly, without validating."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from crmlib import engines
from crmlib.analytics.summary import customer_summary
from crmlib.data import datasets, snapshot
from crmlib.data import io as crm_io
from crmlib.data import schema as s
from crmlib.data.io import ClientData, TableReport
from crmlib.errors import DataError


def assert_same_data(expected: ClientData, got: ClientData) -> None:
    """Table by table, dtype by dtype, value by value; and every other fact."""
    assert list(got.tables) == list(expected.tables)
    for name, frame in expected.tables.items():
        pd.testing.assert_frame_equal(got.tables[name], frame, check_exact=True, obj=name)
    pd.testing.assert_frame_equal(got.rejects, expected.rejects, check_exact=True, obj="rejects")
    assert got.reports == expected.reports
    assert got.warnings == expected.warnings
    assert got.as_of == expected.as_of
    assert got.source == expected.source
    assert got.files == expected.files
    assert got.assessment_files == expected.assessment_files


def test_the_sample_reads_back_exactly(tmp_path):
    loaded = datasets.load("sample")
    folder = snapshot.write(loaded, tmp_path / "snap")
    assert snapshot.is_snapshot(folder) and not snapshot.is_snapshot(datasets.sample_path())
    again = datasets.load(folder)
    assert_same_data(loaded, again)
    # the published facts of the sample: ids as text, dates as datetimes
    tx = again.transactions
    assert tx[s.CUSTOMER_ID].dtype == loaded.transactions[s.CUSTOMER_ID].dtype
    assert tx[s.CUSTOMER_ID].map(type).eq(str).all()
    assert tx[s.ORDER_DATE].dtype == "datetime64[ns]"
    assert set(again.assessment_files) == {"qci", "value_chain", "payne_frow_readiness"}


MAPPING = """\
transactions:
  file: Orders Export.csv
  columns: {Order No: order_id, Cust Ref: customer_id, Date: order_date, Net: revenue}
  date_format: "%d/%m/%Y"
  decimal: ","
customers:
  columns: {Ref: customer_id, Town: city}
"""

ORDERS = """\
Order No;Cust Ref;Date;Net;channel
O1;007;05/01/2024;10,50;web
O2;007;06/01/2024;abc;web
O3;0042;07/02/2024;-3,25;store
O4;99;08/02/2024;4,00;store
O5;0042;31/12/2030;7,00;web
"""

CUSTOMERS = """\
Ref,Town,signup_date
007,Leeds,2023-05-01
0042,York,
0042,Hull,2023-06-01
"""


def test_a_mapped_folder_with_rejects_and_warnings_reads_back_exactly(tmp_path):
    client = tmp_path / "client"
    client.mkdir()
    (client / "mapping.yml").write_text(MAPPING)
    (client / "Orders Export.csv").write_text(ORDERS)
    (client / "customers.csv").write_text(CUSTOMERS)
    shutil.copy(datasets.sample_path() / "assessment_qci.csv", client)
    loaded = datasets.load(client, as_of="2024-12-31")
    # what was planted: a bad number, an order after the as-of date, a repeated customer id
    # (rejected); order of customer 99 unknown to customers (kept, warned); a return (kept)
    rejected = set(zip(loaded.rejects["table"], loaded.rejects["row"], strict=True))
    assert rejected == {("transactions", 3), ("transactions", 6), ("customers", 4)}
    assert loaded.warnings and "refer to customers not in the customers table" in loaded.warnings[0]
    assert loaded.transactions[s.IS_RETURN].sum() == 1

    folder = snapshot.write(loaded, tmp_path / "snap", as_of="2024-12-31")
    again = datasets.load(folder, as_of="2024-12-31")
    assert_same_data(loaded, again)
    assert again.transactions[s.CUSTOMER_ID].tolist() == ["007", "0042", "99"]  # zeros kept
    assert again.tables["customers"][s.SIGNUP_DATE].isna().sum() == 1


def test_every_kind_of_column_keeps_its_dtype(tmp_path):
    tx = pd.DataFrame(
        {
            s.SOURCE_ROW: pd.Series([2, 3, 4], dtype="int64"),
            s.CUSTOMER_ID: pd.Series(["0001", None, "12345678901234567890"], dtype="str"),
            s.ORDER_DATE: pd.to_datetime(
                ["2024-01-05", None, "2024-02-01 13:45:10"], format="ISO8601"
            ).astype("datetime64[ns]"),
            s.QUANTITY: pd.array([1, None, 3], dtype="Int64"),
            s.REVENUE: [1.5, float("nan"), -2.0],
            s.CHANNEL: pd.Categorical(["web", None, "store"]),
            s.IS_RETURN: [False, False, True],
            "extra_flag": pd.array([True, None, False], dtype="boolean"),
        }
    )
    data = ClientData(
        {"transactions": tx},
        pd.DataFrame(columns=list(s.REJECT_COLUMNS)),
        {"transactions": TableReport("transactions", "transactions.csv", 3, 3, 0)},
        ["a warning"],
        None,
        pd.Timestamp("2024-02-01"),
    )
    again = snapshot.load(snapshot.write(data, tmp_path / "snap"))
    assert_same_data(data, again)
    assert str(again.transactions[s.QUANTITY].dtype) == "Int64"
    assert str(again.transactions[s.CHANNEL].dtype) == "category"


def test_the_snapshot_is_read_without_validating_again(tmp_path, monkeypatch):
    folder = snapshot.write(datasets.load("cdnow"), tmp_path / "snap")

    def no_validation(*args, **kwargs):
        raise AssertionError("validated again")

    monkeypatch.setattr(crm_io, "load_folder", no_validation)
    assert len(datasets.load(folder).transactions) == 6919  # the CDNOW sample's lines


def test_another_as_of_date_or_a_broken_snapshot_is_refused(tmp_path):
    folder = snapshot.write(
        datasets.load("cdnow", as_of="1997-12-31"), tmp_path / "snap", "1997-12-31"
    )
    assert datasets.load(folder, as_of="1997-12-31").as_of == pd.Timestamp("1997-12-31")
    with pytest.raises(DataError, match="validated as of 1997-12-31"):
        datasets.load(folder)
    (folder / "transactions.parquet").unlink()
    with pytest.raises(DataError, match="incomplete"):
        datasets.load(folder, as_of="1997-12-31")


def test_a_table_parquet_cannot_hold_leaves_no_half_snapshot(tmp_path):
    data = datasets.load("cdnow")
    data.tables["transactions"]["mixed"] = pd.Series([1, "x"] * 3459 + [1], dtype=object)
    with pytest.raises(Exception, match="mixed"):
        snapshot.write(data, tmp_path / "snap")
    assert not (tmp_path / "snap").exists()


def test_the_engines_read_the_snapshot(tmp_path):
    loaded = datasets.load("sample")
    folder = snapshot.write(loaded, tmp_path / "snap")
    expected = customer_summary(loaded.transactions, as_of=loaded.as_of)
    from_memory = customer_summary(
        datasets.load(folder).transactions, as_of=loaded.as_of, engine="duckdb"
    )
    pd.testing.assert_frame_equal(from_memory, expected, check_dtype=False, atol=1e-9)
    with engines.Engine("duckdb", folder) as eng:  # the folder itself: <table>.parquet files
        n = eng.sql("SELECT count(*) AS n FROM transactions")["n"].iloc[0]
    assert n == len(loaded.transactions)
