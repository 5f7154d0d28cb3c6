"""The out-of-core validator (DuckDB) against the in-memory one and against planted rows.

Every planted case names the rows it plants and the reject lines they must give
(ground truth written here, not read from either validator); both engines must
give exactly those, the same counts and the same warnings.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmlib.cli.main import main
from crmlib.data import io, outofcore
from crmlib.data import schema as s
from crmlib.errors import DataError

SAMPLE = Path(__file__).resolve().parents[2] / "datasets" / "sample"
AS_OF = "2025-12-31"
COLUMNS = list(s.REJECT_COLUMNS)
NUMBER = "not a number (decimal separator: set decimal in mapping.yml)"
DATE = "not an ISO date (YYYY-MM-DD); give date_format in mapping.yml"


def reject_set(frame: pd.DataFrame) -> set[tuple]:
    return {tuple(str(v) for v in row) for row in frame[COLUMNS].itertuples(index=False)}


def read_rejects(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def run_both(folder: Path, tmp_path: Path, as_of=AS_OF):
    """Both validators on one folder; the DuckDB rejects read back from the file it wrote."""
    data = io.load_folder(folder, as_of=as_of)
    rejects = tmp_path / "duckdb-rejects.csv"
    ooc = outofcore.validate(folder, as_of=as_of, rejects_path=rejects, memory_limit="1GB")
    return data, ooc, read_rejects(rejects)


def assert_same(data, ooc, rejects):
    assert ooc.summary() == data.summary()  # counts per table (rows, accepted, rejected), warnings
    assert reject_set(rejects) == reject_set(data.rejects)
    assert ooc.rejected_values == len(data.rejects)
    assert ooc.as_of == data.as_of
    assert reject_set(ooc.rejects_sample) == reject_set(data.rejects)


def to_parquet(source: Path, target: Path, *, text: bool) -> Path:
    """A Parquet copy of a CSV folder: every column as text, or typed as pandas reads it."""
    target.mkdir()
    csv.field_size_limit(sys.maxsize)
    for path in source.iterdir():
        if path.name.startswith(s.ASSESSMENT_PREFIX):
            shutil.copy(path, target / path.name)
            continue
        if text:
            with open(path, newline="", encoding="utf-8") as fh:
                header, *rows = list(csv.reader(fh))
            frame = pd.DataFrame(rows, columns=header, dtype=object)
        else:
            frame = pd.read_csv(path)
        frame.to_parquet(target / f"{path.stem}.parquet", index=False)
    return target


# --- the bundled sample ----------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_parquet(tmp_path_factory):
    return to_parquet(SAMPLE, tmp_path_factory.mktemp("pq") / "sample", text=False)


def test_sample_csv_gives_the_in_memory_counts_rejects_and_warnings(tmp_path):
    data, ooc, rejects = run_both(SAMPLE, tmp_path)
    assert_same(data, ooc, rejects)
    assert ooc.reports["transactions"].rows == 44710  # lines of transactions.csv less the header
    assert ooc.warnings  # the sample's tickets closed before they were opened
    assert set(ooc.assessment_files) == set(data.assessment_files)


def test_sample_parquet_gives_the_in_memory_counts_rejects_and_warnings(tmp_path, sample_parquet):
    data, ooc, rejects = run_both(sample_parquet, tmp_path)
    assert_same(data, ooc, rejects)
    assert ooc.reports["transactions"].file == "transactions.parquet"


def every_plant(folder: Path) -> Path:
    """The base folder with the rows of every planted case at once."""
    folder.mkdir()
    for name, rows in BASE.items():
        lines = [line for case in CASES if case[1] == name for line in case[2]]
        (folder / f"{name}.csv").write_text("\n".join(rows + lines) + "\n", encoding="utf-8")
    return folder


def test_every_planted_rule_at_once_gives_the_in_memory_result(tmp_path):
    data, ooc, rejects = run_both(every_plant(tmp_path / "all"), tmp_path)
    assert_same(data, ooc, rejects)
    # the transactions rows planted with a reason: the expected rows of the cases above
    assert ooc.reports[TX].rejected == len(
        {(c[0], k) for c in CASES if c[1] == TX for k, *_ in c[3]}
    )


@pytest.mark.parametrize("which", ["sample_parquet", "planted_csv"])
def test_accepted_parquet_equals_the_in_memory_accepted_tables(tmp_path, request, which):
    folder = (
        request.getfixturevalue("sample_parquet")
        if which == "sample_parquet"
        else every_plant(tmp_path / "all")
    )
    out = tmp_path / "accepted"
    outofcore.validate(folder, as_of=AS_OF, accepted_to=out)
    data = io.load_folder(folder, as_of=AS_OF)
    for name, frame in data.tables.items():
        back = pd.read_parquet(out / f"{name}.parquet")
        assert len(back) == len(frame)
        for column in back.columns:
            kind = s.TABLES[name].column(column).kind if column in s.TABLES[name].names else None
            got, want = back[column], frame[column]
            if kind in (s.DATE_KIND, s.DATETIME):
                got, want = pd.to_datetime(got), pd.to_datetime(want)
                assert (got.isna() == want.isna()).all()
                assert (got[got.notna()].to_numpy() == want[want.notna()].to_numpy()).all()
            elif kind in (s.FLOAT, s.INT):
                np.testing.assert_array_equal(got.to_numpy(float), want.to_numpy(float))
            else:
                assert (
                    got.astype(object).where(got.notna(), None).tolist()
                    == want.astype(object).where(want.notna(), None).tolist()
                ), (name, column)
    if which == "sample_parquet":
        assert (out / "assessment_qci.csv").is_file()


# --- planted rows ------------------------------------------------------------------------

BASE = {
    "customers": [
        "customer_id,name,email,phone,city,country,signup_date,acquisition_channel,"
        "source_system,household_size",
        "C1,Customer One,one@example.com,+100,Town,Land,2023-01-01,web,webshop,2",
        "C2,Customer Two,two@example.com,+200,Town,Land,2023-01-02,store,pos,1",
    ],
    "transactions": [
        "order_id,customer_id,order_date,product_id,quantity,revenue,cost,channel",
        "O1,C1,2023-01-01,P1,2,20.0,8.0,web",
        "O2,C2,2023-01-02,P1,1,10.0,4.0,store",
        "O3,C1,2023-02-01,P1,-1,-10.0,-4.0,web",
    ],
    "tickets": [
        "ticket_id,customer_id,opened_at,closed_at,channel,category,csat",
        "T1,C1,2023-01-03 09:00:00,2023-01-04 10:00:00,email,billing,4",
    ],
    "surveys": [
        "response_id,customer_id,date,nps,need_price,need_convenience,need_quality,need_service",
        "S1,C1,2023-01-21,8,3,4,3,2",
    ],
    "subscriptions": [
        "subscription_id,customer_id,plan,start_date,end_date,price,period",
        "SB1,C2,plus,2023-01-05,2023-10-04,8.99,month",
    ],
}
LONG = "x" * (io.MAX_FIELD_CHARS + 1)
TX = "transactions"
# (id, table, lines appended, [(line offset, column, value, reason)], warning or None,
#  also on a Parquet copy)
# the first appended line is line len(BASE[table]) + 1 of the file (header = line 1)
CASES = [
    (
        "fields",
        TX,
        ["O9,C1,2023-01-01,P1,1,5,2,web,extra"],
        [(0, "", "", "has 9 fields, the header has 8")],
        None,
        False,
    ),
    (
        "long_field",
        TX,
        [f"O9,C1,2023-01-01,P1,1,5,2,{LONG}"],
        [(0, "channel", "", f"field longer than {io.MAX_FIELD_CHARS} characters")],
        None,
        False,
    ),
    (
        "empty_required",
        TX,
        ["O9,,2023-01-01,P1,1,5,2,web"],
        [(0, "customer_id", "", "missing value")],
        None,
        True,
    ),
    (
        "missing_spellings",
        TX,
        [
            f"O9,C1,2023-01-01,P1,1,{m},2,web"
            for m in ("N/A", "null", "-", "#N/A", "nan", "None", " na ")
        ],
        [(i, "revenue", "", "missing value") for i in range(7)],
        None,
        True,
    ),
    (
        "not_a_number",
        TX,
        ["O9,C1,2023-01-01,P1,1,abc,2,web"],
        [(0, "revenue", "abc", NUMBER)],
        None,
        True,
    ),
    (
        "not_a_date",
        TX,
        ["O9,C1,05/01/2023,P1,1,5,2,web", "O9,C1,2023-02-30,P1,1,5,2,web"],
        [(0, "order_date", "05/01/2023", DATE), (1, "order_date", "2023-02-30", DATE)],
        None,
        True,
    ),
    (
        "scientific_id",
        TX,
        ["O9,1.23457E+19,2023-01-01,P1,1,5,2,web"],
        [(0, "customer_id", "1.23457E+19", io.SCIENTIFIC_REASON)],
        None,
        True,
    ),
    (
        "future_date",
        TX,
        ["O9,C1,2030-01-01,P1,1,5,2,web"],
        [(0, "order_date", "2030-01-01", f"after the as-of date {AS_OF}")],
        None,
        True,
    ),
    (
        "negative_quantity",
        TX,
        ["O9,C1,2023-01-01,P1,-1,5,2,web"],
        [(0, "quantity", "-1.0", "negative quantity on a sale (a return has negative revenue)")],
        None,
        False,
    ),
    (
        "negative_cost",
        TX,
        ["O9,C1,2023-01-01,P1,1,5,-2,web"],
        [(0, "cost", "-2.0", "negative cost on a sale (only a return may reverse a cost)")],
        None,
        False,
    ),
    (
        "duplicate_line",
        TX,
        ["O1,C1,2023-01-01,P1,2,20.0,8.0,web", "O1, C1 ,2023-01-01,P1,2.0,20,8,web"],
        [
            (0, "", "", "duplicate order line of row 2"),
            (1, "", "", "duplicate order line of row 2"),
        ],
        None,
        True,
    ),
    # crmlib.data.io names no first row when a compared value is empty
    (
        "duplicate_line_with_empty",
        TX,
        ["O8,C1,2023-01-01,P1,1,5,2,", "O8,C1,2023-01-01,P1,1,5,2,"],
        [(1, "", "", "duplicate order line")],
        None,
        True,
    ),
    (
        "repeated_key",
        "customers",
        ["C1,Customer Three,three@example.com,+300,Town,Land,2023-01-03,web,webshop,3"],
        [(0, "customer_id", "C1", "duplicate customer_id (first at row 2)")],
        None,
        True,
    ),
    (
        "bad_email_masked",
        "customers",
        ["C3,Customer Three,not-an-email,+300,Town,Land,2023-01-03,web,webshop,3"],
        [(0, "email", io.MASK, "not an e-mail address")],
        None,
        True,
    ),
    (
        "negative_household",
        "customers",
        ["C3,Customer Three,three@example.com,+300,Town,Land,2023-01-03,web,webshop,-1"],
        [(0, "household_size", "-1.0", "must not be negative")],
        None,
        False,
    ),
    (
        "nps_range",
        "surveys",
        ["S9,C1,2023-01-21,11,3,4,3,0"],
        [
            (0, "nps", "11.0", "must be an NPS answer from 0 to 10"),
            (0, "need_service", "0.0", "must be a score from 1 to 5"),
        ],
        None,
        False,
    ),
    (
        "subscription_rules",
        "subscriptions",
        ["SB9,C1,plus,2023-05-01,2023-04-01,-1,week"],
        [
            (0, "price", "-1.0", "must not be negative"),
            (0, "period", "week", "must be one of: month, year"),
            (0, "end_date", "2023-04-01", "before the start date 2023-05-01"),
        ],
        None,
        False,
    ),
    (
        "ticket_csat",
        "tickets",
        ["T9,C1,2023-01-03 09:00:00,,email,billing,6"],
        [(0, "csat", "6.0", "must be a score from 1 to 5")],
        None,
        False,
    ),
    (
        "lines_after_a_quoted_break",
        TX,
        ['O7,C1,2023-01-01,P1,1,5,2,"we', 'b"', "", "O9,C1,2023-01-01,P1,1,abc,2,web"],
        [(3, "revenue", "abc", NUMBER)],
        None,
        False,
    ),
    (
        "accepted_spellings",
        TX,
        ["O6,C1,2023-01-01T10:00:00+01:00,P1,1,€5,2,web", "O5,C1, 2023-01-05 ,P1,1e0,5.,2,web"],
        [],
        None,
        False,
    ),
    (
        "orphan_ids",
        TX,
        ["O9,C9,2023-01-01,P1,1,5,2,web"],
        [],
        "transactions: 1 rows (1 customer ids) refer to customers not in the customers table "
        "(e.g. rows 5); kept",
        True,
    ),
    (
        "ticket_closed_first",
        "tickets",
        ["T9,C1,2023-01-05 09:00:00,2023-01-04 10:00:00,email,x,4"],
        [],
        "tickets: 1 tickets closed before they were opened (e.g. rows 3); kept",
        False,
    ),
]


def plant(folder: Path, table: str, lines: list[str]) -> int:
    """Write the base folder plus the planted lines; return the first planted line number."""
    folder.mkdir()
    for name, rows in BASE.items():
        body = rows + (lines if name == table else [])
        (folder / f"{name}.csv").write_text("\n".join(body) + "\n", encoding="utf-8")
    return len(BASE[table]) + 1


@pytest.mark.parametrize(
    ("table", "lines", "expected", "warning", "parquet"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_planted_rule_gives_its_rows_on_both_engines(
    tmp_path, table, lines, expected, warning, parquet, fmt
):
    if fmt == "parquet" and not parquet:
        pytest.skip(
            "CSV only: a Parquet file has no ragged rows, long lines or quoted line breaks, "
            "and past reading a rule's SQL is the same for both (reading: the other cases)"
        )
    first = plant(tmp_path / "csv", table, lines)
    folder = tmp_path / "csv"
    if fmt == "parquet":
        folder = to_parquet(folder, tmp_path / "parquet", text=True)
    file = f"{table}.{fmt}"
    want = {(table, file, str(first + k), c, v, r) for k, c, v, r in expected}
    data, ooc, rejects = run_both(folder, tmp_path)
    assert reject_set(data.rejects) == want
    assert reject_set(rejects) == want
    assert_same(data, ooc, rejects)
    planted_rows = len([line for line in lines if line and line != 'b"'])
    report = ooc.reports[table]
    assert report.rows == len(BASE[table]) - 1 + planted_rows
    assert report.rejected == len({k for k, *_ in expected})
    base_warnings = []
    assert ooc.warnings == base_warnings + ([warning] if warning else [])


def test_optional_tables_and_columns_may_be_absent(tmp_path):
    folder = tmp_path / "minimal"
    folder.mkdir()
    (folder / "transactions.csv").write_text(
        "customer_id,order_date,revenue,note\nC1,2023-01-01,5,a\nC1,2023-01-01,5,b\n"
        "C2,2023-01-02,abc,c\n",
        encoding="utf-8",
    )
    data, ooc, rejects = run_both(folder, tmp_path)
    assert_same(data, ooc, rejects)
    assert reject_set(rejects) == {
        (TX, "transactions.csv", "3", "", "", "duplicate order line of row 2"),
        (TX, "transactions.csv", "4", "revenue", "abc", NUMBER),
    }
    assert ooc.warnings == []  # no customers table: no orphan ids to warn about


def test_a_renamed_header_in_mapping_is_applied_and_a_date_format_is_refused(tmp_path):
    folder = tmp_path / "mapped"
    folder.mkdir()
    (folder / "orders.csv").write_text(
        "Cust Ref;Date;Net\nC1;2023-01-01;5,5\nC1;2023-01-02;x\n", encoding="utf-8"
    )
    (folder / "mapping.yml").write_text(
        "transactions:\n  file: orders.csv\n  decimal: ','\n"
        "  columns: {Cust Ref: customer_id, Date: order_date, Net: revenue}\n",
        encoding="utf-8",
    )
    data, ooc, rejects = run_both(folder, tmp_path)
    assert_same(data, ooc, rejects)
    assert reject_set(rejects) == {(TX, "orders.csv", "3", "revenue", "x", "not a number")}
    with open(folder / "mapping.yml", "a", encoding="utf-8") as fh:
        fh.write("  date_format: '%d/%m/%Y'\n")
    with pytest.raises(DataError, match="date_format is applied by the in-memory validator"):
        outofcore.validate(folder, as_of=AS_OF)


@pytest.mark.parametrize(
    "body",
    [
        "customer_id,revenue\nC1,5\n",  # a required column missing
        "customer_id,order_date,revenue\n,2023-01-01,5\n,2023-01-02,6\n",  # no valid row
        "customer_id,order_date,revenue,revenue\nC1,2023-01-01,5,5\n",  # a header twice
    ],
    ids=["required_column", "no_valid_row", "header_twice"],
)
def test_an_unusable_folder_gives_the_same_error_and_exit_1(tmp_path, capsys, body):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "transactions.csv").write_text(body, encoding="utf-8")
    with pytest.raises(DataError) as in_memory:
        io.load_folder(folder, as_of=AS_OF)
    with pytest.raises(DataError) as out_of_core:
        outofcore.validate(folder, as_of=AS_OF)
    assert str(out_of_core.value) == str(in_memory.value)
    assert main(["validate", "--engine", "duckdb", str(folder)]) == 1
    assert capsys.readouterr().err.strip() == f"error: {in_memory.value}"


def test_cli_duckdb_writes_the_rejects_file_of_the_pandas_engine(tmp_path, capsys):
    folder = tmp_path / "csv"
    plant(folder, TX, ["O9,C1,2023-01-01,P1,1,=1+1,2,web", "O9,,2023-01-01,P1,1,5,2,web"])
    files = {}
    for engine in ("pandas", "duckdb"):
        files[engine] = tmp_path / f"{engine}.csv"
        args = ["validate", str(folder), "--as-of", AS_OF, "--engine", engine]
        assert main([*args, "--rejects", str(files[engine])]) == 0
        text = capsys.readouterr().out
        assert "transactions  transactions.csv" in text
        assert main([*args, "--json"]) == 0
        files[f"{engine}-json"] = capsys.readouterr().out
    lines = {
        e: sorted(files[e].read_text(encoding="utf-8").splitlines()) for e in ("pandas", "duckdb")
    }
    assert lines["duckdb"] == lines["pandas"]
    assert len(lines["duckdb"]) == 3  # the header and the two planted rows
    assert "'=1+1" in files["duckdb"].read_text(encoding="utf-8")  # a formula cell escaped
    pandas_json, duckdb_json = json.loads(files["pandas-json"]), json.loads(files["duckdb-json"])
    assert duckdb_json.pop("notes") == []  # the period notes need the order lines in memory
    pandas_json.pop("notes")
    assert duckdb_json == pandas_json


def test_typed_parquet_columns_are_read_as_the_in_memory_validator_reads_them(tmp_path):
    """Ids stored as numbers, dates as timestamps, numbers as text, booleans as text."""
    folder = tmp_path / "typed"
    folder.mkdir()
    pd.DataFrame(
        {
            "customer_id": [1.0, 2.0, 3.0, 1.2345678901234567e19, 5.5, np.nan],
            "order_date": pd.to_datetime(
                ["2023-01-01", "2023-01-02", None, "2023-01-04", "2023-01-05", "2023-01-06"]
            ),
            "revenue": [1.0, -2.0, 3.0, np.nan, 5.0, 6.0],
            "quantity": [1, -1, 2, 3, -4, 1],
            "channel": [True, False, True, True, False, True],
        }
    ).to_parquet(folder / "transactions.parquet", index=False)
    pd.DataFrame(
        {
            "customer_id": pd.array([1, 2, 2], dtype="Int64"),
            "signup_date": ["2023-01-01", "x", None],
            "household_size": ["1", "-2", " 3 "],
        }
    ).to_parquet(folder / "customers.parquet", index=False)
    data, ooc, rejects = run_both(folder, tmp_path)
    assert_same(data, ooc, rejects)
    c, t = ("customers", "customers.parquet"), (TX, "transactions.parquet")
    assert reject_set(rejects) == {
        (*c, "3", "signup_date", "x", DATE),
        # no "must not be negative" for its household_size -2: a row rejected while
        # parsing is left out of the value checks (crmlib.data.io._check_values)
        (*t, "4", "order_date", "", "missing value"),
        (*t, "5", "customer_id", "1.2345678901234567e+19", io.SCIENTIFIC_REASON),
        (*t, "5", "revenue", "", "missing value"),
        (
            *t,
            "6",
            "quantity",
            "-4.0",
            "negative quantity on a sale (a return has negative revenue)",
        ),
        (*t, "7", "customer_id", "", "missing value"),
    }
