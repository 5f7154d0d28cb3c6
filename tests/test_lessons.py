"""Every lesson runs under papermill with non-default parameters, on CDNOW and on a
client folder made by `crm synth`, and hands its results to the report."""

from __future__ import annotations

import json

import nbformat
import papermill
import pytest

from crmlib import synth
from crmlib.datasets import load_cdnow_transactions
from crmlib.lessons import write_batch_notebook
from crmlib.report import RESULTS_ENV, lessons

LESSONS = lessons()


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
    assert images, "the lesson showed no chart"
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
        company = synth.generate(n_customers=600, seed=11)
        buyers = company.tables["transactions"]
        assert results["customers"] == buyers.loc[buyers["revenue"] >= 0, "customer_id"].nunique()
