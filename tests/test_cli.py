"""The `crm` command as a user runs it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

CRM = Path(sys.executable).with_name("crm")
HEADER = "order_id,customer_id,order_date,product_id,quantity,revenue,cost,channel\n"


def crm(*args, cwd=None):
    cmd = [str(CRM)] if CRM.exists() else [sys.executable, "-m", "crmlib.cli"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "transactions.csv").write_text(
        HEADER
        + "O1,C1,2024-01-05,P1,1,10,4,web\n"
        + "O2,C2,2024-01-06,P1,1,=HYPERLINK(1),4,web\n"
        + "O3,C3,2024-01-07,P1,1,12,4,store\n"
    )
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,email\nC1,Ann Example,ann@example.org\nC2,Bo Person,bo-at-example\n"
    )
    return tmp_path


def test_validate_prints_a_readable_summary(folder):
    out = crm("validate", folder, "--as-of", "2024-12-31")
    assert out.returncode == 0, out.stderr
    assert "usable" in out.stdout
    lines = {line.split()[0]: line.split()[-3:] for line in out.stdout.splitlines()[2:4]}
    assert lines["transactions"] == ["3", "2", "1"]
    assert lines["customers"] == ["2", "1", "1"]
    assert "not a number" in out.stdout
    assert "Bo Person" not in out.stdout + out.stderr and "bo-at-example" not in out.stdout


def test_validate_json_and_rejects_file(folder, tmp_path_factory):
    rejects = tmp_path_factory.mktemp("out") / "rejects.csv"
    out = crm("validate", folder, "--as-of", "2024-12-31", "--json", "--rejects", rejects)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["usable"] is True
    assert summary["tables"]["transactions"] == {
        "file": "transactions.csv",
        "rows": 3,
        "accepted": 2,
        "rejected": 1,
    }
    rows = list(csv.DictReader(rejects.open()))
    values = {r["table"]: r["value"] for r in rows}
    assert values["transactions"] == "'=HYPERLINK(1)"  # a spreadsheet must not run it
    assert values["customers"] == "[personal data]"
    assert {r["row"] for r in rows} == {"3"}


def test_unusable_folder_exits_1_without_traceback(tmp_path):
    (tmp_path / "transactions.csv").write_text("customer_id,order_date\nC1,2024-01-01\n")
    out = crm("validate", tmp_path)
    assert out.returncode == 1
    assert out.stderr.startswith("error: transactions.csv: required column 'revenue' is missing")
    assert "Traceback" not in out.stderr
    as_json = crm("validate", tmp_path, "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["usable"] is False
    debug = crm("--debug", "validate", tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_bad_option_values(tmp_path):
    out = crm("validate", tmp_path / "missing")
    assert out.returncode == 1 and "no such folder" in out.stderr
    out = crm("validate", tmp_path, "--as-of", "yesterday")
    assert out.returncode == 1 and "not a date" in out.stderr and "Traceback" not in out.stderr


def test_currency_sets_every_lessons_currency_parameter():
    from crmlib.cli.main import with_currency
    from crmlib.errors import CRMError

    assert with_currency({"lapsed_days": 90}, "eur") == {"lapsed_days": 90, "currency": "EUR"}
    assert with_currency({"lapsed_days": 90}, None) == {"lapsed_days": 90}
    with pytest.raises(CRMError, match="given twice"):
        with_currency({"currency": "USD"}, "EUR")
    for bad in ("EURO", "€", "E1R", ""):
        with pytest.raises(CRMError, match="three-letter ISO 4217 code"):
            with_currency({}, bad)


def test_a_bad_currency_stops_the_report_before_anything_runs(tmp_path):
    out = crm("report", "--currency", "euro", "--out", tmp_path / "r")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "--currency 'euro': expected a three-letter ISO 4217 code" in out.stderr
    assert not (tmp_path / "r").exists()
    assert "--currency CODE" in crm("report", "--help").stdout
