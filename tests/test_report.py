"""`crm report` end to end, and what happens when a lesson fails."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from crmlib import datasets
from crmlib.errors import CRMError
from crmlib.report import lessons, run_report

CRM = Path(sys.executable).with_name("crm")


def crm(*args):
    cmd = [str(CRM)] if CRM.exists() else [sys.executable, "-m", "crmlib.cli"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "sample"
    run = crm("report", "--client", "Sample client", "--out", out)
    return run, out


@pytest.mark.slow
def test_report_on_the_sample(sample_report):
    run, out = sample_report
    assert run.returncode == 0, run.stderr
    assert f"report complete: {out / 'index.html'}" in run.stdout
    index = (out / "index.html").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert len(manifest["lessons"]) == len(lessons())
    for lesson in manifest["lessons"]:
        assert lesson["status"] == "complete"
        assert f'href="{lesson["html"]}"' in index
        page = (out / lesson["html"]).read_text()
        assert "import crmlib" not in page  # code hidden
        assert "<img" in page  # charts embedded as images
    sample_files = {p.name for p in datasets.sample_path().iterdir() if p.is_file()}
    assert set(manifest["data_fingerprint"]) == sample_files
    assert manifest["lessons"][0]["results"]["customers"] > 0


@pytest.mark.slow
def test_report_has_no_outside_urls_and_no_personal_data(sample_report):
    _, out = sample_report
    customers = datasets.load_sample().tables["customers"]
    planted = set(customers["email"].dropna().head(200)) | set(customers["name"].dropna().head(200))
    for page in out.glob("*.html"):
        text = page.read_text()
        assert not re.search(r"(src|href)=\"https?://", text), page.name
        assert not any(p in text for p in planted), page.name
    for nb in out.glob("*.ipynb"):
        text = nb.read_text()
        assert str(datasets.sample_path()) not in text  # paths kept out of the metadata


def _lesson(folder: Path, name: str, body: str) -> Path:
    nb = new_notebook()
    params = new_code_cell('data_path = None\nclient_name = "x"\nas_of = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [new_code_cell("import sys"), params, new_code_cell(body), new_code_cell("x = 1")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / name
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "body, reason",
    [
        (
            "raise ValueError('planted failure')",
            "cell 3 (raise ValueError('planted failure')): ValueError: planted failure",
        ),
        ("sys.exit(0)", "never ran"),
    ],
)
def test_failed_lesson_marks_the_report_incomplete(tmp_path, body, reason):
    lessons_dir = tmp_path / "lessons"
    lessons_dir.mkdir()
    _lesson(lessons_dir, "00_good.ipynb", "y = 2")
    _lesson(lessons_dir, "01_bad.ipynb", body)
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.html").write_text("earlier complete report")
    result = run_report("cdnow", "Client", out, lessons_dir=lessons_dir, timeout=60)
    assert not result.complete
    assert result.out == tmp_path / "report.incomplete"
    assert (out / "index.html").read_text() == "earlier complete report"  # untouched
    index = (result.out / "index.html").read_text()
    assert "INCOMPLETE" in index
    statuses = {r.lesson: (r.status, r.reason) for r in result.runs}
    assert statuses["good"] == ("complete", "")
    assert statuses["bad"][0] == "failed" and reason in statuses["bad"][1]
    assert not list(tmp_path.glob(".report.*"))  # no temporary folder left behind


def test_unknown_parameter_is_refused_before_anything_runs(tmp_path):
    run = crm("report", "cdnow", "--out", tmp_path / "r", "--param", "horizn=12")
    assert run.returncode == 1
    assert "unknown parameter(s) horizn" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "r").exists()
    with pytest.raises(CRMError, match="unknown lesson"):
        lessons(["nonsense"])
