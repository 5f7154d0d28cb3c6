"""crmlib.results: what a lesson hands the report, and the summary's tables of it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmlib import results
from crmlib.errors import CRMError


def test_record_writes_only_under_a_report(tmp_path, monkeypatch):
    monkeypatch.delenv(results.RESULTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    results.record("x", {"customers": 1})
    assert not list(tmp_path.iterdir())  # by hand: nothing written anywhere
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    results.record("x", {"customers": np.int64(3), "churn_rate": np.float64(0.25), "finding": "f"})
    path = tmp_path / "x.results.json"
    assert json.loads(path.read_text()) == {"customers": 3, "churn_rate": 0.25, "finding": "f"}


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"finding": 3}, "finding"),
        ({"recommendations": "do it"}, "list"),
        ({"recommendations": [{"value_at_stake": 5}]}, "text"),
        ({"recommendations": [{"text": "t", "value_at_stake": "lots"}]}, "number"),
        ({"not_assessed": "campaigns.cost"}, "not_assessed"),
        ({"recommendations": [{"text": "t", "value_at_stake": None, "not_valued": 3}]}, "words"),
    ],
)
def test_record_checks_the_documented_form(bad, message):
    with pytest.raises(CRMError, match=message):
        results.record("x", bad)


def test_record_refuses_a_key_not_in_the_catalogue(tmp_path, monkeypatch):
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    with pytest.raises(CRMError) as caught:
        results.record("idic", {"customers": 3, "top_customer_revenue": 12.0})
    message = str(caught.value)
    assert "'top_customer_revenue'" in message and "idic" in message
    assert "crmlib/analytics/metrics.py" in message  # where to declare it
    assert not list(tmp_path.iterdir())  # nothing written
    # the reserved keys need no declaration
    results.record("idic", {"finding": "f", "recommendations": [], "not_assessed": []})
    assert (tmp_path / "idic.results.json").exists()


def _results_folder(tmp_path: Path) -> Path:
    (tmp_path / results.SECTIONS_FILE).write_text(
        json.dumps(
            [
                {"lesson": "idic", "title": "01 · IDIC", "status": "complete", "html": "01.html"},
                {"lesson": "qci", "title": "02 · QCi", "status": "failed", "reason": "cell 3"},
                {"lesson": "value_chain", "title": "03", "status": "complete", "html": "03.html"},
            ]
        )
    )
    (tmp_path / "idic.results.json").write_text(
        json.dumps(
            {
                "customers": 1234,
                "rfm_segments": {"a": 1},
                "finding": "Few customers matter.",
                "recommendations": [
                    {"text": "keep the best", "value_at_stake": 500},
                    {"text": "no value", "value_at_stake": None},
                ],
            }
        )
    )
    (tmp_path / "value_chain.results.json").write_text(
        json.dumps(
            {
                "total_profit": 12345.4,
                "profit_basis": "margin",
                "loss_making_share": 0.125,
                "whale_peak_share": None,
                "recommendations": [{"text": "cut cost", "value_at_stake": 2000.0}],
            }
        )
    )
    (tmp_path / "client_summary.results.json").write_text("{}")
    return tmp_path


def test_load_merges_status_and_results_in_lesson_order(tmp_path):
    loaded = results.load(_results_folder(tmp_path))
    assert list(loaded) == ["idic", "qci", "value_chain"]  # the summary itself left out
    assert loaded["qci"] == {
        "status": "failed",
        "reason": "cell 3",
        "title": "02 · QCi",
        "html": "",
        "results": {},
        "chart": None,
    }
    assert loaded["idic"]["html"] == "01.html"
    assert loaded["idic"]["results"]["finding"] == "Few customers matter."


def test_load_by_hand_and_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(results.RESULTS_ENV, raising=False)
    assert results.load() == {}
    monkeypatch.setenv(results.RESULTS_ENV, str(_results_folder(tmp_path)))
    assert list(results.load()) == ["idic", "qci", "value_chain"]
    (tmp_path / "qci.results.json").write_text("{not json")
    with pytest.raises(CRMError, match="qci.results.json"):
        results.load(tmp_path)


def test_recommendations_are_ranked_by_value_at_stake(tmp_path):
    ranked = results.recommendations(results.load(_results_folder(tmp_path)))
    assert ranked["recommendation"].tolist() == ["cut cost", "keep the best", "no value"]
    assert ranked["lesson"].tolist() == ["value_chain", "idic", "idic"]
    assert ranked["value_at_stake"].iloc[:2].tolist() == [2000.0, 500.0]
    assert pd.isna(ranked["value_at_stake"].iloc[2])
    assert results.recommendations({}).empty


def test_headline_figures_are_scalars_with_label_and_value_formatted_by_unit(tmp_path):
    figures = results.headline_figures(results.load(_results_folder(tmp_path)))
    # mappings, absent values and the reserved keys are left out
    assert figures[["lesson", "measure", "label", "unit", "value"]].values.tolist() == [
        ["idic", "customers", "Customers", "count", "1,234"],
        ["value_chain", "total_profit", "Customer profit, all customers", "currency", "12,345"],
        ["value_chain", "profit_basis", "Customer profit measured on", "text", "margin"],
        ["value_chain", "loss_making_share", "Customers who lose money", "share", "12.5 %"],
    ]
    assert figures["definition"].str.len().gt(10).all()
    pounds = results.headline_figures(results.load(tmp_path), currency="£")
    assert pounds.loc[pounds["measure"] == "total_profit", "value"].item() == "£12,345"


def test_headline_figures_refuse_a_results_file_with_an_undeclared_key(tmp_path):
    (tmp_path / "idic.results.json").write_text(json.dumps({"mystery": 3}))
    with pytest.raises(CRMError, match="'mystery'"):
        results.headline_figures(results.load(tmp_path))


def test_status_table_and_failed_sections(tmp_path):
    loaded = results.load(_results_folder(tmp_path))
    loaded["extra"] = {"status": None, "reason": "", "title": "", "html": "", "results": {}}
    table = results.status_table(loaded)
    assert table.columns.tolist() == ["lesson", "title", "status", "reason", "html"]
    assert table.to_dict("records") == [
        {"lesson": "idic", "title": "01 · IDIC", "status": "complete", "reason": "", "html": "01.html"},
        {"lesson": "qci", "title": "02 · QCi", "status": "failed", "reason": "cell 3", "html": ""},
        {"lesson": "value_chain", "title": "03", "status": "complete", "reason": "", "html": "03.html"},
        {"lesson": "extra", "title": "extra", "status": "unknown", "reason": "", "html": ""},
    ]
    assert results.failed_sections(loaded) == ["qci"]
    assert results.failed_sections({}) == [] and results.status_table({}).empty


def test_status_html_links_each_section_and_escapes(tmp_path):
    loaded = results.load(_results_folder(tmp_path))
    loaded["qci"]["reason"] = "cell 3 (x < 1)"
    assert results.section_link("idic", loaded["idic"]) == '<a href="01.html">01 · IDIC</a>'
    assert results.section_link("qci", loaded["qci"]) == "02 · QCi"  # no page: no link
    assert results.section_link("a&b", {"title": "", "html": ""}) == "a&amp;b"
    page = results.status_html(loaded)
    assert page.startswith("<table><tr><th>section</th><th>status</th><th>notes</th></tr>")
    assert "<tr><td>02 · QCi</td><td>failed</td><td>cell 3 (x &lt; 1)</td></tr>" in page
    assert '<tr><td><a href="03.html">03</a></td><td>complete</td><td></td></tr>' in page
    assert page.endswith(
        '<tr><td><a href="index.html">Client summary</a></td><td>this page</td><td></td></tr></table>'
    )
    assert page.count("<tr>") == 5  # header, three lessons, this page


def test_a_key_chart_reaches_the_summary_with_its_caption(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    figure = Figure()
    figure.add_subplot().plot([0, 1], [0, 1])
    results.record("idic", {"customers": 3})
    results.record_chart("idic", figure, caption="Look at the tail.", alt="A rising line.")
    entry = results.load(tmp_path)["idic"]
    assert entry["chart"]["png"].startswith(b"\x89PNG")
    assert entry["chart"]["caption"] == "Look at the tail."
    assert entry["chart"]["alt"] == "A rising line."
    with pytest.raises(CRMError, match="caption"):
        results.record_chart("idic", figure, caption=" ", alt="x")


def test_lesson_parameters_are_read_from_the_executed_lessons(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    defaults = new_code_cell("clv_horizon_months = 12\nannual_discount_rate = 0.10\nlapsed_days = None")
    defaults.metadata["tags"] = ["parameters"]
    injected = new_code_cell('# Parameters\nlapsed_days = 90\ndata_path = "<client folder>"')
    injected.metadata["tags"] = ["injected-parameters"]
    code = new_code_cell("annual_discount_rate = 0.5  # a later cell: not a parameter")
    nbformat.write(new_notebook(cells=[defaults, injected, code]), tmp_path / "01_idic.ipynb")
    nbformat.write(new_notebook(cells=[defaults]), tmp_path / "05_client_summary.ipynb")
    assert results.lesson_parameters(tmp_path) == {
        "idic": {
            "clv_horizon_months": 12,
            "annual_discount_rate": 0.10,
            "lapsed_days": 90,  # the run's value over the default
            "data_path": "<client folder>",
        }
    }
    assert results.lesson_parameters(tmp_path / "absent") == {}
