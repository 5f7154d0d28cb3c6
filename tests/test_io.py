"""crmlib.io: reading client folders, every row accepted or rejected with its reason."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib import schema as s
from crmlib.errors import DataError
from crmlib.io import MASK, load_folder

HEADER = "order_id,customer_id,order_date,product_id,quantity,revenue,cost,channel\n"


def _counts_add_up(data):
    for r in data.reports.values():
        assert r.rows == r.accepted + r.rejected
        rejected_rows = data.rejects.loc[data.rejects["table"] == r.table, "row"].nunique()
        assert rejected_rows == r.rejected


def test_plain_csv_types_and_leading_zeros(write, tmp_path):
    write("transactions.csv", HEADER + "O1,007,2024-01-05,P1,2,10.50,4,web\n")
    data = load_folder(tmp_path, as_of="2024-12-31")
    tx = data.transactions
    assert tx.loc[0, s.CUSTOMER_ID] == "007"
    assert tx.loc[0, s.ORDER_DATE] == pd.Timestamp("2024-01-05")
    assert tx.loc[0, s.REVENUE] == 10.5
    assert tx.loc[0, s.SOURCE_ROW] == 2
    assert data.as_of == pd.Timestamp("2024-12-31")
    _counts_add_up(data)


@pytest.mark.parametrize(
    "encoding, sep, text_value",
    [
        ("utf-8", ",", "Café"),
        ("utf-8-sig", ";", "Café"),
        ("cp1252", "\t", "Café €"),
    ],
)
def test_encodings_and_delimiters(write, tmp_path, encoding, sep, text_value):
    header = HEADER.strip().split(",")
    row = ["O1", "C1", "2024-01-05", "P1", "1", "9.99", "1", text_value]
    write("transactions.csv", sep.join(header) + "\n" + sep.join(row) + "\n", encoding)
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert data.transactions.loc[0, s.CHANNEL] == text_value
    assert data.transactions.columns[1] == s.SOURCE_ROW or s.CUSTOMER_ID in data.transactions


def test_quoted_fields_keep_their_delimiters(write, tmp_path):
    write("transactions.csv", HEADER + 'O1,C1,2024-01-05,P1,1,5,1,"web, mobile"\n')
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert data.transactions.loc[0, s.CHANNEL] == "web, mobile"


def test_missing_value_placeholders(write, tmp_path):
    rows = [
        f"O{i},C1,2024-01-05,P1,1,5,{v},web" for i, v in enumerate(["", "NA", "N/A", "null", "-"])
    ]
    write("transactions.csv", HEADER + "\n".join(rows) + "\n")
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert data.transactions[s.COST].isna().all()
    assert len(data.transactions) == 5 and data.rejects.empty


def test_every_bad_row_is_named(write, tmp_path):
    lines = [
        "O1,C1,2024-01-05,P1,1,10,4,web",  # 2 good
        "O2,C2,2024-13-05,P1,1,10,4,web",  # 3 bad date
        "O3,,2024-01-06,P1,1,10,4,web",  # 4 missing customer
        "O4,C3,2024-01-06,P1,-1,10,4,web",  # 5 negative quantity on a sale
        "O5,C3,2024-01-07,P1,-1,-10,-4,web",  # 6 a return: kept
        "O6,C3,2030-01-07,P1,1,abc,4,web",  # 7 not a number, and after as-of
        "O1,C1,2024-01-05,P1,1,10,4,web",  # 8 duplicate of row 2
        "O7,C4,2024-01-08,P1,1,5",  # 9 ragged
        "",  # blank line: not a row
        "O8,C4,2024-01-09,P1,1,5,4,store",  # 11 good
    ]
    write("transactions.csv", HEADER + "\n".join(lines) + "\n")
    data = load_folder(tmp_path, as_of="2024-12-31")
    rej = data.rejects.set_index(["row", "column"])["reason"]
    assert "ISO date" in rej[(3, s.ORDER_DATE)]
    assert rej[(4, s.CUSTOMER_ID)] == "missing value"
    assert "negative quantity" in rej[(5, s.QUANTITY)]
    assert rej[(7, s.REVENUE)] == "not a number (decimal separator: set decimal in mapping.yml)"
    assert "after the as-of date 2024-12-31" in rej[(7, s.ORDER_DATE)]
    assert rej[(8, "")] == "duplicate order line of row 2"
    assert "has 6 fields, the header has 8" in rej[(9, "")]
    assert sorted(data.transactions[s.SOURCE_ROW]) == [2, 6, 11]
    returns = data.transactions.set_index(s.SOURCE_ROW)[s.IS_RETURN]
    assert returns[6] and not returns[2]
    assert data.reports["transactions"].rows == 9  # the blank line is not a row
    _counts_add_up(data)


def test_mapping_renames_headers_and_sets_formats(write, tmp_path):
    write(
        "Orders Export.csv",
        "Order No;Cust Ref;Date;Net;Extra Col\nA-1;0042;31/01/2024;1.234,50;x\n",
    )
    write(
        "mapping.yml",
        "transactions:\n  file: Orders Export.csv\n"
        "  columns: {Order No: order_id, Cust Ref: customer_id, Date: order_date, Net: revenue}\n"
        '  date_format: "%d/%m/%Y"\n  decimal: ","\n  thousands: "."\n',
    )
    data = load_folder(tmp_path, as_of="2024-12-31")
    row = data.transactions.iloc[0]
    assert row[s.CUSTOMER_ID] == "0042"
    assert row[s.ORDER_DATE] == pd.Timestamp("2024-01-31")
    assert row[s.REVENUE] == 1234.5
    assert "extra_col" in data.transactions  # unknown columns are kept, headers normalised


def test_xlsx_and_parquet(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["001", "002"],
            "order_date": ["2024-01-05", "2024-02-01"],
            "revenue": [5.0, 7.5],
        }
    )
    frame.to_excel(tmp_path / "transactions.xlsx", index=False)
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert list(data.transactions[s.CUSTOMER_ID]) == ["001", "002"]
    (tmp_path / "transactions.xlsx").unlink()
    frame.assign(order_date=pd.to_datetime(frame["order_date"])).to_parquet(
        tmp_path / "transactions.parquet"
    )
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert data.transactions[s.REVENUE].sum() == 12.5


def test_personal_data_is_masked_in_rejects(write, tmp_path):
    write("transactions.csv", HEADER + "O1,C1,2024-01-05,P1,1,10,4,web\n")
    write("customers.csv", "customer_id,name,email\nC1,Ann Example,ann.example-at-mail.test\n")
    data = load_folder(tmp_path, as_of="2024-12-31")
    bad = data.rejects[data.rejects["table"] == "customers"]
    assert list(bad["value"]) == [MASK]
    assert bad["reason"].iloc[0] == "not an e-mail address"
    assert "ann.example" not in data.rejects.to_csv()
    assert any("not in the customers table" in w for w in data.warnings)


def test_duplicate_keys_rejected(write, tmp_path):
    write("transactions.csv", HEADER + "O1,C1,2024-01-05,P1,1,10,4,web\n")
    write("customers.csv", "customer_id,city\nC1,Leeds\nC1,York\n")
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert data.rejects.iloc[0]["reason"] == "duplicate customer_id (first at row 2)"
    assert data.reports["customers"].accepted == 1


@pytest.mark.parametrize(
    "files, message",
    [
        ({"customers.csv": "customer_id\nC1\n"}, "no transactions file"),
        (
            {"transactions.csv": "customer_id,order_date\nC1,2024-01-01\n"},
            "required column 'revenue'",
        ),
        ({"transactions.csv": HEADER + "O1,C1,notadate,P1,1,10,4,web\n"}, "no valid rows"),
        ({"transactions.csv": ""}, "the file is empty"),
        ({"transactions.csv": HEADER, "mapping.yml": "transactions: [oops"}, "not valid YAML"),
        (
            {"transactions.csv": HEADER, "mapping.yml": "sales: {file: x.csv}"},
            "unknown table 'sales'",
        ),
        (
            {"transactions.csv": HEADER, "mapping.yml": "transactions: {columns: {Amt: amount}}"},
            "amount is not a column of transactions",
        ),
        ({"transactions.xlsx": "not really a spreadsheet"}, "transactions.xlsx: cannot be read"),
    ],
)
def test_unusable_data_raises_a_clear_error(write, tmp_path, files, message):
    for name, text in files.items():
        write(name, text)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_folder(tmp_path, as_of="2024-12-31")


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_folder(tmp_path / "nope")


def test_a_synthetic_folder_round_trips_without_rejects(tmp_path):
    from crmlib import synth

    company = synth.generate(n_customers=300, seed=5)
    synth.write_folder(company, tmp_path)
    data = load_folder(tmp_path, as_of=company.as_of)
    assert data.rejects.empty
    for name, frame in company.tables.items():
        assert data.reports[name].accepted == len(frame), name
    loaded = data.transactions
    assert loaded[s.REVENUE].sum() == pytest.approx(company.tables["transactions"][s.REVENUE].sum())
    assert set(loaded[s.CUSTOMER_ID]) == set(company.tables["transactions"][s.CUSTOMER_ID])
