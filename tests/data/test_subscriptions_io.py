"""The optional subscriptions table: validated like the other tables of a client folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crmlib.data import schema as s
from crmlib.data.io import load_folder

SAMPLE = Path(__file__).resolve().parents[2] / "datasets" / "sample"
TX = "order_id,customer_id,order_date,revenue\nO1,C1,2024-01-05,10\nO2,C2,2024-02-05,12\n"
SUBS = "subscription_id,customer_id,plan,start_date,end_date,price,period\n"


def test_the_table_is_in_the_contract_with_its_kinds():
    table = s.TABLES["subscriptions"]
    assert table.key == s.SUBSCRIPTION_ID
    assert table.names == (
        "subscription_id",
        "customer_id",
        "plan",
        "start_date",
        "end_date",
        "price",
        "period",
    )
    assert table.required == ("subscription_id", "customer_id", "start_date")
    kinds = {c.name: c.kind for c in table.columns}
    assert kinds == {
        "subscription_id": s.ID,
        "customer_id": s.ID,
        "plan": s.TEXT,
        "start_date": s.DATE_KIND,
        "end_date": s.DATE_KIND,
        "price": s.FLOAT,
        "period": s.TEXT,
    }
    assert "subscriptions" not in s.REQUIRED_TABLES


def test_valid_rows_load_and_an_empty_end_date_means_active(write, tmp_path):
    write("transactions.csv", TX)
    write(
        "subscriptions.csv",
        SUBS
        + "S1,C1,plus,2024-01-05,2024-03-04,4.99,month\n"
        + "S2,C2,plus family,2024-02-05,,8.99,month\n"
        + "S3,C2,annual,2023-02-05,,49,year\n",
    )
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert data.rejects.empty and not data.warnings
    sub = data.table("subscriptions").set_index(s.SUBSCRIPTION_ID)
    assert sub.loc["S1", s.END_DATE] == pd.Timestamp("2024-03-04")
    assert pd.isna(sub.loc["S2", s.END_DATE])
    assert sub.loc["S3", s.PRICE] == 49.0 and sub.loc["S3", s.PERIOD] == "year"
    assert list(sub[s.SOURCE_ROW]) == [2, 3, 4]


def test_every_bad_row_is_named_with_file_row_column_and_reason(write, tmp_path):
    write("transactions.csv", TX)
    write(
        "subscriptions.csv",
        SUBS
        + "S1,C1,plus,2024-03-05,2024-03-04,4.99,month\n"  # 2: ends before it starts
        + "S2,C1,plus,2024-03-05,2024-03-05,4.99,month\n"  # 3: one day: kept
        + "S3,C2,plus,,,4.99,month\n"  # 4: no start date
        + "S4,C2,plus,2024-01-01,,-1,month\n"  # 5: negative price
        + "S5,C2,plus,2024-01-01,,4.99,week\n"  # 6: unknown period
        + "S2,C2,plus,2024-01-01,,4.99,month\n"  # 7: repeated key
        + "S6,,plus,2024-01-01,,4.99,month\n",  # 8: no customer
    )
    data = load_folder(tmp_path, as_of="2024-12-31")
    rej = data.rejects[data.rejects["table"] == "subscriptions"]
    assert set(rej["file"]) == {"subscriptions.csv"}
    reason = rej.set_index(["row", "column"])["reason"]
    assert reason[(2, s.END_DATE)] == "before the start date 2024-03-05"
    assert rej.set_index("row").loc[2, "value"] == "2024-03-04"
    assert reason[(4, s.START_DATE)] == "missing value"
    assert reason[(5, s.PRICE)] == "must not be negative"
    assert reason[(6, s.PERIOD)] == "must be one of: month, year"
    assert reason[(7, s.SUBSCRIPTION_ID)] == "duplicate subscription_id (first at row 3)"
    assert reason[(8, s.CUSTOMER_ID)] == "missing value"
    assert list(data.tables["subscriptions"][s.SOURCE_ROW]) == [3]
    report = data.reports["subscriptions"]
    assert (report.rows, report.accepted, report.rejected) == (7, 1, 6)


def test_an_unknown_customer_is_kept_with_a_warning(write, tmp_path):
    write("transactions.csv", TX)
    write("customers.csv", "customer_id\nC1\nC2\n")
    write(
        "subscriptions.csv",
        SUBS + "S1,C1,plus,2024-01-05,,4.99,month\nS2,C9,plus,2024-01-05,,4.99,month\n",
    )
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert len(data.tables["subscriptions"]) == 2 and data.rejects.empty
    assert data.warnings == [
        "subscriptions: 1 rows (1 customer ids) refer to customers not in the customers table "
        "(e.g. rows 3); kept"
    ]


def test_a_folder_without_the_table_still_loads(write, tmp_path):
    write("transactions.csv", TX)
    data = load_folder(tmp_path, as_of="2024-12-31")
    assert not data.has("subscriptions") and data.table("subscriptions") is None
    assert "subscriptions" not in data.reports


def test_the_sample_holds_subscriptions_without_rejects():
    data = load_folder(SAMPLE, as_of="2024-12-31")
    sub = data.table("subscriptions")
    assert sub is not None and data.reports["subscriptions"].rejected == 0
    assert sub[s.END_DATE].isna().any() and sub[s.END_DATE].notna().any()
    assert (sub[s.END_DATE].dropna() >= sub.loc[sub[s.END_DATE].notna(), s.START_DATE]).all()
    assert set(sub[s.CUSTOMER_ID]) <= set(data.tables["customers"][s.CUSTOMER_ID])


def test_the_quality_audit_counts_an_active_subscription_as_complete(write, tmp_path):
    from crmlib.analytics import quality

    write("transactions.csv", TX)
    write("customers.csv", "customer_id\nC1\nC2\n")
    write(
        "subscriptions.csv",
        SUBS
        + "S1,C1,plus,2024-01-05,,4.99,month\n"  # active: complete
        + "S2,C9,plus,2024-01-05,2024-02-04,4.99,month\n"  # unknown customer
        + "S3,C2,,2024-01-05,2024-02-04,4.99,month\n",  # no plan: incomplete
    )
    audit = quality.audit_data_quality(load_folder(tmp_path, as_of="2024-12-31"), link_people=False)
    scores = audit.scores.loc["subscriptions"]
    assert scores[quality.COMPLETENESS] == pytest.approx(2 / 3)
    assert scores[quality.CONSISTENCY] == pytest.approx(2 / 3)
    assert list(audit.rows("subscriptions", quality.COMPLETENESS)["key"]) == ["S3"]
    assert list(audit.rows("subscriptions", quality.CONSISTENCY)["key"]) == ["S2"]
