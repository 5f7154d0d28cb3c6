"""Every lesson runs under papermill with non-default parameters, on CDNOW and on a
client folder made by `crm synth`, and hands its results to the report."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import papermill
import pytest

from crmlib import synth
from crmlib.data.datasets import load_cdnow_transactions
from crmlib.report import lesson_notebooks
from crmlib.report.lessons import write_batch_notebook
from crmlib.results import RESULTS_ENV

LESSONS = lesson_notebooks()


@pytest.fixture(scope="module")
def client_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("client")
    synth.write_folder(synth.generate(n_customers=600, seed=11), folder)
    return folder


def _output_text(path):
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            parts.append(str(o.get("text", "")))
            data = o.get("data", {})
            parts += [str(data.get("text/plain", "")), str(data.get("text/html", ""))]
    return "\n".join(parts)


def _run(lesson, tmp_path, monkeypatch, **parameters):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    (tmp_path / "batch").mkdir()
    batch = write_batch_notebook(lesson, tmp_path / "batch")  # explorers run in the browser test
    papermill.execute_notebook(
        str(batch),
        str(tmp_path / lesson.name),
        parameters=parameters,
        cwd=str(tmp_path),
        progress_bar=False,
        execution_timeout=300,
    )
    executed = nbformat.read(tmp_path / lesson.name, as_version=4)
    images = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    # the summary draws no chart of its own: it embeds the key charts the other lessons
    # recorded (none when it runs alone, as here)
    assert images or lesson.stem.endswith("client_summary"), "the lesson showed no chart"
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")
    ]
    assert not errors, errors[:1]
    name = lesson.stem.split("_", 1)[1]
    return json.loads((tmp_path / f"{name}.results.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_on_cdnow(lesson, tmp_path, monkeypatch):
    results = _run(
        lesson, tmp_path, monkeypatch, data_path="cdnow", client_name="CDNOW", as_of="1998-06-30"
    )
    if lesson.stem == "00_foundations":
        assert results["customers"] == load_cdnow_transactions()["customer_id"].nunique() == 2357


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_on_a_client_folder(lesson, tmp_path, monkeypatch, client_folder):
    results = _run(
        lesson,
        tmp_path,
        monkeypatch,
        data_path=str(client_folder),
        client_name="Synth Ltd",
        as_of=None,
    )
    # no raw customer id, name or e-mail of the client in what the lesson shows
    customers = synth.generate(n_customers=600, seed=11).tables["customers"]
    shown = _output_text(tmp_path / lesson.name)
    for column in ("customer_id", "name", "email"):
        leaked = [v for v in customers[column].dropna() if str(v) in shown]
        assert not leaked, (column, leaked[:3])
    if lesson.stem == "00_foundations":
        # customers are linked persons with a purchase: the planted persons, within the
        # linkage's error, and fewer than the record ids that bought (5 % planted duplicates)
        company = synth.generate(n_customers=600, seed=11)
        lines = company.tables["transactions"]
        bought = lines.loc[lines["revenue"] >= 0, "customer_id"]
        person_of = company.truth.records.set_index("customer_id")[synth.PERSON_ID]
        persons = bought.map(person_of).nunique()
        assert abs(results["customers"] - persons) <= 0.01 * persons
        assert results["customers"] < bought.nunique()


@pytest.fixture(scope="module")
def panel_folder(tmp_path_factory):
    """A household panel: every line given to one of 60 customers, all there from the start
    (left-censored), each buying in every category (no cross-sell left to offer)."""
    folder = tmp_path_factory.mktemp("panel")
    company = synth.generate(n_customers=1500, seed=12)
    households = 60
    for name, table in company.tables.items():
        if "customer_id" in table:
            number = table["customer_id"].str[1:].astype("int64")
            if name == "customers":
                company.tables[name] = table[number <= households]
            else:
                table["customer_id"] = "C" + ((number - 1) % households + 1).map("{:07d}".format)
    synth.write_folder(company, folder)
    return folder


@pytest.fixture(scope="module")
def one_year_folder(tmp_path_factory):
    """A client extract of one year and a day (like a loyalty panel's yearly export)."""
    folder = tmp_path_factory.mktemp("one_year")
    company = synth.generate(n_customers=1500, seed=13)
    lines = company.tables["transactions"]
    end = lines["order_date"].max()
    company.tables["transactions"] = lines[lines["order_date"] >= end - pd.Timedelta(days=365)]
    synth.write_folder(company, folder)
    return folder


SOME_LESSONS = [p for p in LESSONS if p.stem in ("01_idic", "02_qci", "04_payne_frow")]


@pytest.mark.slow
@pytest.mark.parametrize("lesson", SOME_LESSONS, ids=lambda p: p.stem)
def test_lesson_on_a_left_censored_panel(lesson, tmp_path, monkeypatch, panel_folder):
    results = _run(lesson, tmp_path, monkeypatch, data_path=str(panel_folder), as_of=None)
    skipped = {entry["section"]: entry["reason"] for entry in results.get("not_assessed", [])}
    acquisition = {
        "02_qci": "cost per acquisition",
        "04_payne_frow": "acquisition cost and CLV/CAC",
    }.get(lesson.stem)
    if acquisition:
        assert "customers already there" in skipped[acquisition]
    if lesson.stem == "04_payne_frow":  # the panel keeps every household: retention is 1
        assert "bought again" in skipped["retention economics"]
        assert results["retention_rate"] is None and results["customer_equity"] is None


@pytest.mark.slow
@pytest.mark.parametrize("lesson", SOME_LESSONS, ids=lambda p: p.stem)
def test_lesson_on_one_year_of_data(lesson, tmp_path, monkeypatch, one_year_folder):
    results = _run(lesson, tmp_path, monkeypatch, data_path=str(one_year_folder), as_of=None)
    skipped = {entry["section"]: entry["reason"] for entry in results.get("not_assessed", [])}
    if lesson.stem == "04_payne_frow":
        assert "less than two years" in skipped["retention economics"]
        assert results["retention_rate"] is None  # the geometric model needs two years
        # one retention point on the CLV pipeline's 12 months needs no year-on-year rate
        assert results["value_of_one_retention_point"] > 0
