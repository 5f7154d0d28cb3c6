"""crmlib.data.io: reading client folders, every row accepted or rejected with its reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib.data import schema as s
from crmlib.data.io import MASK, load_folder
from crmlib.errors import DataError

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


# --- real-world shapes (issue 19) ------------------------------------------------------

TX4 = "order_id,customer_id,order_date,revenue\n"


@pytest.mark.parametrize(
    "written",
    [
        "2018-01-01 14:32:10",
        "2018-01-01T14:32:10",
        "2018-01-01 14:32",
        "2018-01-01T14:32",
        "2018-01-01T23:59:59.250",
        "2018-01-01T14:32:10Z",
        "2018-01-01T23:30:00-05:00",  # the local day as written, not the day in UTC
    ],
)
def test_order_timestamps_with_a_time_of_day_are_dates(write, tmp_path, written):
    write("transactions.csv", TX4 + f"1,C1,{written},5\n2,C2,2018-01-02,3\n")
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert data.rejects.empty
    assert list(data.transactions[s.ORDER_DATE]) == [
        pd.Timestamp("2018-01-01"),
        pd.Timestamp("2018-01-02"),
    ]


@pytest.mark.parametrize(
    "fmt, first, second",
    [
        ("%d/%m/%Y", "31/01/2024 14:32:10", "01/02/2024 09:05"),
        ("%d-%m-%Y", "31-01-2024", "01-02-2024 09:05:00+01:00"),  # not a time-zone suffix
        ("%m/%d/%Y", "1/31/2024 2:32:10 PM", "2/1/2024 9:05 AM"),  # a US spreadsheet
    ],
)
def test_a_date_format_with_a_time_of_day(write, tmp_path, fmt, first, second):
    write("transactions.csv", TX4 + f"1,C1,{first},5\n2,C1,{second},5\n")
    write("mapping.yml", f'transactions:\n  date_format: "{fmt}"\n')
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert data.rejects.empty
    assert list(data.transactions[s.ORDER_DATE]) == [D("2024-01-31"), D("2024-02-01")]


def test_a_datetime_column_keeps_its_time_of_day(write, tmp_path):
    write("transactions.csv", TX4 + "1,C1,2024-01-05,5\n")
    write(
        "tickets.csv",
        "ticket_id,customer_id,opened_at,closed_at\nT1,C1,2024-01-05 14:32:10,2024-01-06T08:00\n",
    )
    tickets = load_folder(tmp_path, as_of="2024-12-31").tables["tickets"]
    assert tickets.loc[0, s.OPENED_AT] == pd.Timestamp("2024-01-05 14:32:10")
    assert tickets.loc[0, s.CLOSED_AT] == pd.Timestamp("2024-01-06 08:00")


def test_same_day_orders_at_different_times_are_one_purchase_occasion(write, tmp_path):
    from crmlib.analytics.summary import customer_summary

    write(
        "transactions.csv",
        TX4 + "1,C1,2018-01-01 09:00:00,5\n2,C1,2018-01-01 17:45:00,5\n3,C1,2018-01-08 10:00,4\n",
    )
    data = load_folder(tmp_path, as_of="2018-01-15")
    row = customer_summary(data.transactions, as_of="2018-01-15").iloc[0]
    assert row[s.FREQUENCY] == 1  # 1 Jan (twice) and 8 Jan: one repeat occasion
    assert row[s.RECENCY] == 7 and row[s.T] == 14


def D(day: str) -> pd.Timestamp:
    return pd.Timestamp(day)


LONG_IDS = ["12345678901234567890", "00000000000000000042", "0042", "98765432109876543210"]


def test_numeric_ids_of_any_length_stay_exact_text(write, tmp_path):
    rows = "".join(f"O{i},{cid},2024-01-0{i + 1},5\n" for i, cid in enumerate(LONG_IDS))
    write("transactions.csv", TX4 + rows)
    write(
        "customers.csv",
        "customer_id,city\n" + "".join(f"{cid},Leeds\n" for cid in LONG_IDS),
    )
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert list(data.transactions[s.CUSTOMER_ID]) == LONG_IDS
    assert list(data.tables["customers"][s.CUSTOMER_ID]) == LONG_IDS
    joined = data.transactions.merge(data.tables["customers"], on=s.CUSTOMER_ID)
    assert len(joined) == 4 and not data.warnings  # every order finds its customer


def test_numeric_ids_in_parquet_and_excel_stay_exact(tmp_path):
    tx = pd.DataFrame(
        {
            "customer_id": np.array([12345678901234567890, 7, 12], dtype=np.uint64),
            "order_id": [1.0, None, 3.0],  # a float column: a NaN made it float
            "order_date": pd.to_datetime(["2018-01-01 14:32:10"] * 3),
            "revenue": [1.0, 2.0, 3.0],
        }
    )
    tx.to_parquet(tmp_path / "transactions.parquet")
    loaded = load_folder(tmp_path, as_of="2024-12-31").transactions
    assert list(loaded[s.CUSTOMER_ID]) == ["12345678901234567890", "7", "12"]
    assert loaded[s.ORDER_ID].tolist()[::2] == ["1", "3"] and pd.isna(loaded[s.ORDER_ID][1])
    (tmp_path / "transactions.parquet").unlink()
    ids = ["12345678901234567890", 123456789012345, 12345678901234567]  # text, 15 and 17 digits
    tx.assign(customer_id=ids).to_excel(tmp_path / "transactions.xlsx", index=False)
    data = load_folder(tmp_path, as_of="2024-12-31")
    loaded = data.transactions
    # 17 digits stored as a number: a spreadsheet keeps 15 of them, so that id is rejected
    assert list(loaded[s.CUSTOMER_ID]) == ["12345678901234567890", "123456789012345"]
    assert data.rejects.iloc[0]["row"] == 4
    assert "scientific notation" in data.rejects.iloc[0]["reason"]
    assert list(loaded[s.ORDER_DATE]) == [D("2018-01-01")] * 2


def test_an_id_rounded_to_scientific_notation_is_rejected(write, tmp_path):
    # what Excel writes to CSV for a 20-digit id it has stored as a number
    write("transactions.csv", TX4 + "1,1.23457E+19,2024-01-05,5\n2,0042,2024-01-05,5\n")
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert len(data.rejects) == 1  # one reason, not also "missing value"
    bad = data.rejects.iloc[0]
    assert (bad["row"], bad["column"]) == (2, s.CUSTOMER_ID)
    assert "scientific notation" in bad["reason"] and "as text" in bad["reason"]
    assert list(data.transactions[s.CUSTOMER_ID]) == ["0042"]


def test_a_field_longer_than_the_limit_rejects_its_row_not_the_file(write, tmp_path):
    from crmlib.data.io import MAX_FIELD_CHARS

    huge = "x" * (MAX_FIELD_CHARS + 1)
    write(
        "transactions.csv",
        "order_id,customer_id,order_date,revenue,note\n"
        f"1,C1,2024-01-05,5,short\n2,C2,2024-01-06,3,{huge}\n3,C3,2024-01-07,4,\n",
    )
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert list(data.transactions[s.CUSTOMER_ID]) == ["C1", "C3"]
    bad = data.rejects.iloc[0]
    assert (bad["file"], bad["row"], bad["column"]) == ("transactions.csv", 3, "note")
    assert bad["reason"] == f"field longer than {MAX_FIELD_CHARS} characters"
    assert bad["value"] == ""  # the value itself is not repeated
    _counts_add_up(data)


def test_a_field_just_under_the_limit_is_kept(write, tmp_path):
    from crmlib.data.io import MAX_FIELD_CHARS

    long = "y" * MAX_FIELD_CHARS
    write("transactions.csv", f"customer_id,order_date,revenue,note\nC1,2024-01-05,5,{long}\n")
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert data.rejects.empty and len(data.transactions.loc[0, "note"]) == MAX_FIELD_CHARS


def test_an_unclosed_quote_says_which_lines_it_swallowed(write, tmp_path):
    from crmlib.data.io import MAX_FIELD_CHARS

    swallowed = "".join(f"{i},C{i},2024-01-05,5,fine\n" for i in range(MAX_FIELD_CHARS // 20))
    lines = 1 + MAX_FIELD_CHARS // 20  # the opening line and the swallowed ones
    write(
        "transactions.csv",
        "order_id,customer_id,order_date,revenue,note\n"
        f'1,C1,2024-01-05,5,"open\n{swallowed}closed"\n9,C9,2024-01-07,4,after\n',
    )
    data = load_folder(tmp_path, as_of="2024-12-31")
    bad = data.rejects.iloc[0]
    assert bad["row"] == 2 and bad["column"] == "note"
    assert f"(lines 2-{2 + lines}: an unclosed quote?)" in bad["reason"]
    assert list(data.transactions[s.SOURCE_ROW]) == [3 + lines]  # the file goes on after it


EXCEL_UNICODE_TEXT = (
    "order_id\tcustomer_id\torder_date\trevenue\tchannel\r\n"
    "1\t0042\t2024-01-05\t5.5\tCafé €\r\n"
    '2\t0043\t2024-01-06\t3\t"web\r\nmobile"\r\n'
)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_excel_unicode_text_export(write, tmp_path, encoding):
    # Excel's "Unicode Text (*.txt)": UTF-16 with a byte-order mark, tabs, CRLF
    bom = "\ufeff"
    write("transactions.txt", bom + EXCEL_UNICODE_TEXT, encoding)
    data = load_folder(tmp_path, as_of="2024-12-31")
    tx = data.transactions
    assert data.rejects.empty
    assert list(tx[s.CUSTOMER_ID]) == ["0042", "0043"]  # the BOM is not in the first header
    assert list(tx[s.CHANNEL]) == ["Café €", "web\r\nmobile"]
    assert list(tx[s.REVENUE]) == [5.5, 3.0]


def test_old_mac_line_endings(write, tmp_path):
    write("transactions.csv", TX4.replace("\n", "\r") + "1,C1,2024-01-05,5\r2,C2,2024-01-06,3\r")
    assert list(load_folder(tmp_path, as_of="2024-12-31").transactions[s.SOURCE_ROW]) == [2, 3]


def test_a_header_naming_a_column_twice(write, tmp_path):
    write("transactions.csv", "customer_id,order_date,revenue,revenue\nC1,2024-01-05,5,6\n")
    with pytest.raises(DataError, match="transactions.csv: the header names 'revenue' twice") as e:
        load_folder(tmp_path, as_of="2024-12-31")
    assert (e.value.file, e.value.column) == ("transactions.csv", "revenue")


def test_two_headers_mapped_to_one_column(write, tmp_path):
    write("transactions.csv", "Cust Ref,Customer,Date,Net\nC1,C9,2024-01-05,5\n")
    write(
        "mapping.yml",
        "transactions:\n  columns: {Cust Ref: customer_id, Customer: customer_id, "
        "Date: order_date, Net: revenue}\n",
    )
    with pytest.raises(DataError, match="'Cust Ref' and 'Customer' both become customer_id") as e:
        load_folder(tmp_path, as_of="2024-12-31")
    assert (e.value.file, e.value.column) == ("transactions.csv", "customer_id")


def test_two_headers_that_normalise_to_one_column(write, tmp_path):
    write("transactions.csv", "customer_id,Order Date,order-date,revenue\nC1,2024-01-05,x,5\n")
    with pytest.raises(DataError, match="'Order Date' and 'order-date' both become order_date"):
        load_folder(tmp_path, as_of="2024-12-31")


def test_a_duplicate_header_in_excel(tmp_path):
    frame = pd.DataFrame([["C1", "2024-01-05", 5, 6]])
    frame.columns = ["customer_id", "order_date", "revenue", "revenue"]
    frame.to_excel(tmp_path / "transactions.xlsx", index=False)
    with pytest.raises(DataError, match="transactions.xlsx: the header names 'revenue' twice"):
        load_folder(tmp_path, as_of="2024-12-31")


def test_crm_validate_names_a_repeated_header_without_a_traceback(write, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    write("transactions.csv", "customer_id,order_date,revenue,Revenue \nC1,2024-01-05,5,6\n")
    crm = Path(sys.executable).with_name("crm")
    out = subprocess.run([str(crm), "validate", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.startswith(
        "error: transactions.csv: the headers 'revenue' and 'Revenue ' both become revenue"
    )
    assert "Traceback" not in out.stderr and "dtype" not in out.stderr


def test_crm_validate_says_partial_periods_and_a_left_censored_panel(write, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    # 30 households already buying in January 2017, two newcomers a month, data to 1 Jan 2018
    rows = [f"H{i},2017-01-{i % 28 + 1:02d} 10:15:00,5" for i in range(30)]
    rows += [f"N{m}{j},2017-{m:02d}-0{j + 3},5" for m in range(2, 13) for j in range(2)]
    rows += ["H1,2018-01-01 08:00:00,5"]
    write("transactions.csv", "customer_id,order_date,revenue\n" + "\n".join(rows) + "\n")
    crm = Path(sys.executable).with_name("crm")
    out = subprocess.run([str(crm), "validate", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    notes = [line for line in out.stdout.splitlines() if line.startswith("note: ")]
    assert notes[0] == (
        "note: January 2018 (1 of its 31 days, 2018-01-01) is only partly in the data, "
        "so the per-month charts and rates leave it out."
    )
    assert notes[1].startswith("note: 30 of the 52 customers (58%) first appear in January 2017")
    assert "15 times as many as in a typical later month" in notes[1]
    assert notes[1].endswith("cannot be measured from this extract.")
    as_json = subprocess.run(
        [str(crm), "validate", str(tmp_path), "--json"], capture_output=True, text=True
    )
    assert [f"note: {n}" for n in json.loads(as_json.stdout)["notes"]] == notes


def test_empty_header_cells_are_named_by_position(write, tmp_path):
    # trailing separators, as spreadsheets often write them: not a repeated header
    write("transactions.csv", "customer_id,order_date,revenue,,\nC1,2024-01-05,5,,x\n")
    tx = load_folder(tmp_path, as_of="2024-12-31").transactions
    assert tx.loc[0, "column_5"] == "x" and "column_4" in tx
