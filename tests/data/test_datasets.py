"""crmlib.data.datasets: bundled data found from any folder, with its documented shape."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd

from crmlib.data import datasets
from crmlib.data import schema as s


def test_cdnow_transactions_sample_and_master():
    tx = datasets.load_cdnow_transactions()
    assert len(tx) == 6919 and tx[s.CUSTOMER_ID].nunique() == 2357
    assert set(tx[s.CUSTOMER_ID]) == {str(i) for i in range(1, 2358)}
    assert tx[s.ORDER_DATE].min() == pd.Timestamp("1997-01-01")
    assert tx[s.ORDER_DATE].max() == pd.Timestamp("1998-06-30")
    master = datasets.load_cdnow_transactions(master=True)
    assert len(master) == 69659 and master[s.CUSTOMER_ID].nunique() == 23570


def test_cdnow_summary_matches_its_sibling_file():
    summary = datasets.load_cdnow_summary()
    assert len(summary) == 2357
    plain = pd.read_csv(datasets.datasets_dir() / "cdnow" / "cdnow_customers_summary.csv")
    assert (summary[s.FREQUENCY].to_numpy() == plain["frequency"].to_numpy()).all()
    assert (summary.loc[summary[s.FREQUENCY] == 0, s.MONETARY_VALUE] == 0).all()


def test_found_from_another_directory(tmp_path):
    code = "from crmlib.data import datasets; print(len(datasets.load_cdnow_transactions()))"
    env = {k: v for k, v in os.environ.items() if k != "CRM_DATASETS"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "6919"


def test_load_cdnow_as_client_data_lists_later_rows_as_rejected():
    data = datasets.load("cdnow", as_of="1997-09-30")
    report = data.reports["transactions"]
    assert report.rows == 6919 == report.accepted + report.rejected
    assert len(data.rejects) == report.rejected > 0
    assert data.transactions[s.ORDER_DATE].max() <= pd.Timestamp("1997-09-30")


def test_donations_summary_matches_its_count_table():
    summary = datasets.load_donations_summary()
    assert len(summary) == 11104  # the 1995 cohort of Fader, Hardie & Shang (2010)
    assert list(summary.columns) == [s.CUSTOMER_ID, s.FREQUENCY, s.RECENCY, s.T]
    assert (summary[s.T] == 6).all()
    counts = pd.read_csv(datasets.datasets_dir() / "donations" / "donations.csv")
    got = summary.groupby([s.FREQUENCY, s.RECENCY]).size()
    want = counts.set_index([s.FREQUENCY, s.RECENCY])["weights"]
    assert got.to_dict() == {(float(x), float(t)): int(w) for (x, t), w in want.items()}
    assert got[(0.0, 0.0)] == 3464


def test_sbg_cohorts_are_the_published_survivors():
    cohorts = datasets.load_sbg_cohorts()
    # Fader & Hardie (2007), years 0-7
    assert cohorts["highend"].tolist() == [1000, 869, 743, 653, 593, 551, 517, 491]
    assert cohorts["regular"].tolist() == [1000, 631, 468, 382, 326, 289, 262, 241]
    assert cohorts.index.name == "year"
    assert cohorts.index.tolist() == list(range(8))
