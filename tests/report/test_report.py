"""`crm report` end to end, and what happens when a lesson fails."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from report_helpers import CRM, TEST_KEY, crm

from crmlib import synth
from crmlib.analytics import linkage
from crmlib.analytics.summary import customer_summary
from crmlib.data import datasets, privacy
from crmlib.data import schema as s
from crmlib.errors import CRMError
from crmlib.report import (
    IDENTITY_DIR,
    KERNEL_ENV,
    NOTEBOOKS_DIR,
    SNAPSHOT_DIR,
    LessonRun,
    find_chromium,
    lesson_notebooks,
    outside_references,
    run_lesson,
    run_report,
)
from crmlib.report import kernels as report_kernels
from crmlib.report.index import index_page
from crmlib.report.kernels import Kernels, KernelStartError, start_and_run
from crmlib.report.lock import OutLock
from crmlib.results import RESULTS_ENV


@pytest.fixture(autouse=True)
def pseudonym_key(monkeypatch):
    """Never touch the user's key file: every run in these tests uses TEST_KEY."""
    monkeypatch.setenv(privacy.KEY_ENV, TEST_KEY)


def kernels_of(pid: int | None = None) -> list[psutil.Process]:
    """Live ipykernel processes below ``pid`` (default: this test process)."""
    found = []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return found
    for p in children:
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(p.cmdline()):
                found.append(p)
        except psutil.NoSuchProcess:
            continue
    return found


def alive(pids) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            continue
    return out


REF = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']|url\(\s*["']?([^"')\s]+)""", re.I)
LINK = re.compile(r"""<a\b[^>]*?\bhref\s*=\s*["']([^"']*)["']""", re.I)


def assert_offline(page: Path) -> None:
    """Every src / href / url( in the page is embedded, an anchor, or a file of the report.

    A link a reader clicks (``<a href="https://doi.org/…">``, a reference's DOI) is not
    fetched when the page opens; it may point outside, but a relative one must exist.
    """
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text.lower(), page.name  # nothing that could fetch at run time
    clicked = {m.group(1) for m in LINK.finditer(text)}
    for match in REF.finditer(text):
        ref = (match.group(1) or match.group(2)).strip()
        if not ref or ref.startswith(("data:", "#")):
            continue
        outside = re.match(r"^[a-z][a-z0-9+.-]*:|^//", ref, re.I)
        if outside and ref in clicked and ref.lower().startswith(("https://", "http://")):
            continue
        assert not outside, f"{page.name}: {ref}"
        assert (page.parent / ref.split("#")[0]).is_file(), f"{page.name}: broken link {ref}"


def assert_no_snapshot(report_folder: Path) -> None:
    """The validated data (personal data) never stays in a report, nor does the run's lock."""
    left = [p.name for p in report_folder.rglob("*") if p.suffix in (".parquet", ".lock")]
    assert not left and not list(report_folder.rglob(SNAPSHOT_DIR)), left
    assert not list(report_folder.rglob("snapshot.json"))
    assert not list(report_folder.parent.glob("*.lock"))


IMAGES = re.compile(r"data:image/[^\"')\s]+|\"image/png\": \"[^\"]*\"")


def personal_data_in(text: str, planted: set[str]) -> list[str]:
    """The planted names and e-mails found in the text (embedded images left out)."""
    text = IMAGES.sub("", text)
    return [p for p in planted if p in text]


def report_texts(folder: Path):
    for path in sorted(folder.iterdir()):
        if path.suffix in (".html", ".ipynb", ".json"):
            yield path, path.read_text(encoding="utf-8")


# --- HTML (fast) -------------------------------------------------------------------------


class _NoRejects:
    def top_reasons(self, n):
        return pd.DataFrame(columns=["table", "reason", "rows"])


def test_the_plain_index_shows_figures_by_label_formatted_by_unit():
    lesson = {
        "lesson": "qci",
        "title": "02 · QCi: scoring customer management",
        "status": "failed",
        "reason": "cell 9 (x): ValueError: planted",
        "seconds": 1.0,
        "html": "02_qci.html",
        "results": {
            "churn_rate": 0.597,
            "lapsed_days": 180,
            "nps": None,
            "handwritten": "x",  # a results file not written by results.record
            "finding": "not a figure",
        },
        "not_assessed": [{"section": "nps", "missing": ["surveys"], "reason": "Not assessed: NPS."}],
    }
    manifest = {"complete": False, "as_of": "2024-12-31", "created": "now", "lessons": [lesson]}
    manifest["rows"] = {"transactions": {"rows": 51115, "accepted": 51115, "rejected": 0}}
    page = index_page("Client", manifest, _NoRejects())
    assert "<li>Lapsed customers: 59.7 %</li>" in page
    assert "<li>Inactivity after which a customer counts as lapsed: 180 days</li>" in page
    assert "Net Promoter Score" not in page  # absent: left out, never shown as 0
    assert "<li>handwritten: x</li>" in page and "not a figure</li>" not in page
    assert "<p>not a figure</p>" in page  # the finding, as a sentence
    assert "<li>Not assessed: NPS.</li>" in page
    assert '<a href="02_qci.html">QCi</a>' in page  # the section's name, linked
    assert "<td>51,115</td>" in page and "INCOMPLETE: QCi failed" in page
    assert "cell 9 (x): ValueError: planted" in page  # a failed section says where and why
    assert "_" not in page.split("<body>")[1].replace("02_qci.html", "")  # no key names


def test_outside_references_finds_what_a_browser_would_fetch():
    page = """<html><head>
    <script src="https://cdn.example.org/require.js"></script>
    <link rel="stylesheet" href="//fonts.example.com/a.css">
    <style>@import "https://x.example/b.css"; .a { background: url(data:image/png;base64,AA) }
    .b { background: url('https://img.example/c.png') }</style>
    <script>var s = document.createElement('script'); s.src = 'https://unpkg.com/w.js';</script>
    </head><body><img src="data:image/png;base64,AAAA"><a href="https://example.org/paper">a
    paper</a><a href="01_idic.html">IDIC</a><img src="chart.png"><div style="x: url(file:///etc/p)">
    </div></body></html>"""
    found = outside_references(page)
    assert sorted(found) == sorted(
        [
            "https://cdn.example.org/require.js",
            "//fonts.example.com/a.css",
            "https://x.example/b.css",
            "https://img.example/c.png",
            "https://unpkg.com/w.js",
            "file:///etc/p",
        ]
    )


def test_pdf_without_chromium_is_refused_before_anything_runs(tmp_path):
    run = crm(
        "report", "cdnow", "--out", tmp_path / "r", "--pdf", env={"CRM_CHROMIUM": "/no/chromium"}
    )
    assert run.returncode == 1
    assert "--pdf needs Chromium" in run.stderr and "Traceback" not in run.stderr
    assert not list(tmp_path.iterdir())


def test_unusable_data_stops_the_run_with_the_validation_message(tmp_path):
    folder = tmp_path / "client"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id,name\nC1,Ann Smith\n")
    run = crm("report", folder, "--out", tmp_path / "r")
    assert run.returncode == 1
    assert "no transactions file" in run.stderr and "Traceback" not in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["client"]


def test_a_folder_that_is_not_a_report_is_not_replaced(tmp_path):
    out = tmp_path / "documents"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    with pytest.raises(CRMError, match="not a crm report"):
        run_report("cdnow", "Client", out, only=["foundations"])
    assert (out / "thesis.docx").read_text() == "precious"


def test_unknown_parameter_is_refused_before_anything_runs(tmp_path):
    run = crm("report", "cdnow", "--out", tmp_path / "r", "--param", "horizn=12")
    assert run.returncode == 1
    assert "unknown parameter(s) horizn" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "r").exists()
    with pytest.raises(CRMError, match="unknown lesson"):
        lesson_notebooks(["nonsense"])


# --- the sample report, once -----------------------------------------------------------


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "sample"
    pdf = ["--pdf"] if find_chromium() else []
    start = time.perf_counter()
    run = crm("report", "--client", "Sample client", "--out", out, *pdf)
    return run, out, time.perf_counter() - start


@pytest.mark.slow
def test_report_on_the_sample(sample_report):
    run, out, _ = sample_report
    assert run.returncode == 0, run.stderr
    assert f"report complete: {out / 'index.html'}" in run.stdout
    index = (out / "index.html").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert len(manifest["lessons"]) == len(lesson_notebooks())
    for lesson in manifest["lessons"]:
        assert lesson["status"] == "complete"
        assert f'href="{lesson["html"]}"' in index
        page = (out / lesson["html"]).read_text()
        assert "import crmlib" not in page  # code hidden
        assert "<img" in page  # charts embedded as images
    sample_files = {p.name for p in datasets.sample_path().iterdir() if p.is_file()}
    assert set(manifest["data_fingerprint"]) == sample_files
    assert manifest["lessons"][0]["results"]["customers"] > 0
    assert_no_snapshot(out)


@pytest.mark.slow
def test_every_lesson_counts_the_same_customers_by_the_same_lapse_rule(sample_report):
    _, out, _ = sample_report
    lessons = json.loads((out / "manifest.json").read_text())["lessons"]
    figures = {e["lesson"]: e["results"] for e in lessons}
    customers = {name: r["customers"] for name, r in figures.items() if "customers" in r}
    assert set(customers) == {
        "foundations", "idic", "qci", "value_chain", "payne_frow", "client_summary"
    }
    # the sample's records come from three source systems: every lesson counts linked persons
    data = datasets.load_sample()
    ids = data.transactions.loc[data.transactions[s.REVENUE] >= 0, s.CUSTOMER_ID].nunique()
    assert len(set(customers.values())) == 1 and customers["idic"] < ids
    assert customers["idic"] <= figures["idic"]["persons"] < figures["idic"]["records"]
    lapsed = {name: r["lapsed_days"] for name, r in figures.items() if "lapsed_days" in r}
    assert set(lapsed) == {"qci", "value_chain", "payne_frow"} and len(set(lapsed.values())) == 1
    assert not (out / IDENTITY_DIR).exists()


@pytest.mark.slow
def test_sample_manifest_reproduces_the_inputs(sample_report):
    _, out, _ = sample_report
    manifest = json.loads((out / "manifest.json").read_text())
    for name, digest in manifest["data_fingerprint"].items():
        data = (datasets.sample_path() / name).read_bytes()
        assert digest == hashlib.sha256(data).hexdigest(), name
    assert manifest["versions"]["pandas"] == pd.__version__
    assert manifest["seeds"]["PYTHONHASHSEED"] == "0"
    assert manifest["parameters"]["data_path"] == "<client folder>"
    by_name = {entry["lesson"]: entry for entry in manifest["lessons"]}
    assert by_name["client_summary"]["html"] == "index.html"
    assert by_name["foundations"]["parameters"]["top_share"] == 0.2  # the cell's default
    for entry in manifest["lessons"]:
        assert entry["cells_run"] == entry["cells"] > 0
        assert 0 < entry["compute_seconds"] < entry["seconds"]


@pytest.mark.slow
def test_sample_summary_is_the_index(sample_report):
    _, out, _ = sample_report
    index = (out / "index.html").read_text()
    assert "CRM assessment: Sample client" in index
    assert "Complete: every section ran." in index and "INCOMPLETE" not in index
    for name in ("00_foundations.html", "01_idic.html", "02_qci.html"):
        assert f'href="{name}"' in index
    data, _ = linkage.identify(datasets.load_sample())  # the report counts linked persons
    per_customer = customer_summary(data.transactions, as_of=data.as_of)
    keys = [s.CITY, s.ACQUISITION_CHANNEL]
    buyers = per_customer.join(data.tables["customers"].set_index(s.CUSTOMER_ID)[keys])
    small = buyers.fillna({k: "unknown" for k in keys}).groupby(keys).size().lt(5).sum()
    executed = (out / "05_client_summary.ipynb").read_text()  # the note is for the lesson view
    assert small > 0 and f"cells in {small} row" in executed  # small segments blanked
    # the most valuable customers are listed by their keyed pseudonym, never by id
    top = per_customer[s.REVENUE].nlargest(10).index
    for pseudonym in privacy.pseudonymise(top, key=TEST_KEY):
        assert pseudonym in index
    assert not any(customer in index for customer in top)
    # headline figures by label, formatted from their unit, not by raw key
    figures = json.loads((out / "manifest.json").read_text())["lessons"]
    foundations = next(e for e in figures if e["lesson"] == "foundations")["results"]
    assert "Revenue from the top 20 % of customers" in index
    assert f"{foundations['top_20pct_revenue_share'] * 100:.1f} %" in index
    assert f"{data.transactions[s.REVENUE].sum():,.0f}" in index  # net revenue, no decimals
    assert "top_20pct_revenue_share" not in index and "value_at_stake" not in index


@pytest.mark.slow
def test_report_has_no_outside_urls_and_no_personal_data(sample_report):
    _, out, _ = sample_report
    customers = datasets.load_sample().tables["customers"]
    planted = set(customers[s.NAME].dropna()) | set(customers[s.EMAIL].dropna())
    pages = list(out.glob("*.html"))
    assert len(pages) == len(lesson_notebooks())
    for page in pages:
        assert_offline(page)
    for path, text in report_texts(out):
        assert not personal_data_in(text, planted), path.name
        assert str(datasets.sample_path()) not in text, path.name  # paths kept out
        assert str(out.parent) not in text, path.name  # nor the report's work folder


@pytest.mark.slow
def test_pdf_of_the_summary(sample_report):
    if not find_chromium():
        pytest.skip("no Chromium here")
    run, out, _ = sample_report
    assert f"pdf: {out / 'summary.pdf'}" in run.stdout
    assert (out / "summary.pdf").read_bytes()[:5] == b"%PDF-"


# --- a client folder made with crm synth ----------------------------------------------------


@pytest.fixture(scope="module")
def synth_reports(tmp_path_factory):
    """The same small synthetic client reported twice, with --only, --as-of and --param."""
    root = tmp_path_factory.mktemp("synth")
    folder = root / "client"
    made = crm("synth", "--customers", "300", "--seed", "7", "--out", folder)
    assert made.returncode == 0, made.stderr
    args = ["--only", "foundations,qci", "--as-of", "2024-06-30", "--param", "lapsed_days=90"]
    runs = [  # r1 as crm report runs; r2 the way before the snapshot: each lesson validates
        crm("report", folder, "--client", "Synth Ltd", "--out", root / f"r{i}", *args, *extra)
        for i, extra in ((1, []), (2, ["--no-snapshot"]))
    ]
    return folder, root, runs


def printed(notebook: Path) -> list[str]:
    """What each executed cell printed (text only: streams and plain results).

    A cell's printed text is joined into one string: the kernel splits a stream into
    outputs as its buffer flushes, which differs from run to run.
    """
    nb = nbformat.read(notebook, as_version=4)
    out = []
    for cell in nb.cells:
        text = ""
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                text += output["text"]
            elif "text/plain" in output.get("data", {}):
                text += output["data"]["text/plain"] + "\n"
        out.append(text)
    return out


@pytest.mark.slow
def test_report_on_a_synth_client_folder(synth_reports):
    folder, root, runs = synth_reports
    assert runs[0].returncode == 0, runs[0].stderr
    manifest = json.loads((root / "r1" / "manifest.json").read_text())
    by_name = {entry["lesson"]: entry for entry in manifest["lessons"]}
    assert manifest["as_of"] == "2024-06-30"
    assert by_name["idic"]["status"] == "skipped" and "--only" in by_name["idic"]["reason"]
    assert by_name["qci"]["results"]["lapsed_days"] == 90  # --param reached the lesson
    assert by_name["qci"]["parameters"]["lapsed_days"] == 90
    tx = pd.read_csv(folder / "transactions.csv", parse_dates=[s.ORDER_DATE])
    kept = tx[tx[s.ORDER_DATE] <= "2024-06-30"]  # --as-of: later orders rejected
    # customers are linked persons with a purchase: the planted persons of crm synth's client
    person_of = synth.generate(n_customers=300, seed=7).truth.records.set_index(s.CUSTOMER_ID)
    bought = kept.loc[kept[s.REVENUE] >= 0, s.CUSTOMER_ID]
    persons = bought.map(person_of[synth.PERSON_ID]).nunique()
    assert by_name["foundations"]["results"]["customers"] == persons < bought.nunique()
    assert by_name["qci"]["results"]["customers"] == persons
    index = (root / "r1" / "index.html").read_text()
    assert "CRM assessment: Synth Ltd" in index and 'href="00_foundations.html"' in index
    assert_offline(root / "r1" / "index.html")


@pytest.mark.slow
def test_synth_report_leaks_no_personal_data_or_path(synth_reports):
    folder, root, _ = synth_reports
    customers = pd.read_csv(folder / "customers.csv", dtype=str)
    planted = set(customers[s.NAME].dropna()) | set(customers[s.EMAIL].dropna())
    assert len(planted) > 500
    for path, text in report_texts(root / "r1"):
        assert not personal_data_in(text, planted), path.name
        assert str(folder) not in text, path.name


@pytest.mark.slow
def test_same_inputs_reproduce_the_same_numbers(synth_reports):
    folder, root, runs = synth_reports
    assert all(r.returncode == 0 for r in runs), runs[1].stderr
    first, second = (json.loads((root / f"r{i}" / "manifest.json").read_text()) for i in (1, 2))
    assert first["data_fingerprint"] == second["data_fingerprint"]
    assert (
        first["data_fingerprint"]["transactions.csv"]
        == hashlib.sha256((folder / "transactions.csv").read_bytes()).hexdigest()
    )
    assert first["data_fingerprint_sha256"] == second["data_fingerprint_sha256"]
    assert [e["results"] for e in first["lessons"]] == [e["results"] for e in second["lessons"]]
    assert first["lessons"][0]["results"]["customers"] > 0
    # the snapshot (r1) and every lesson validating the folder itself (r2) print the same
    for name in ("00_foundations.ipynb", "02_qci.ipynb"):
        assert printed(root / "r1" / name) == printed(root / "r2" / name), name
    assert_no_snapshot(root / "r1")


# --- failures ------------------------------------------------------------------------------


def _lesson(folder: Path, name: str, body: str, explorer: bool = False) -> Path:
    nb = new_notebook()
    params = new_code_cell('data_path = None\nclient_name = "x"\nas_of = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [new_code_cell("import sys"), params, new_code_cell(body), new_code_cell("x = 1")]
    if explorer:  # an ipywidgets explorer before the body: not run in a report
        widget = new_code_cell("import ipywidgets; ipywidgets.IntSlider()")
        widget.metadata["tags"] = ["explorer"]
        nb.cells.insert(2, widget)
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


GOOD_RESULTS = """
from crmlib import results
results.record("good", {
    "customers": 42,
    "finding": "A planted finding.",
    "recommendations": [
        {"text": "Planted small action", "value_at_stake": 10},
        {"text": "Planted big action", "value_at_stake": 1000},
    ],
})
"""


# long enough for the summary lesson's imports on a loaded 2-core machine, short enough for
# the planted 120 s sleep to time out
TIMEOUT = 20


@pytest.mark.slow
def test_every_kind_of_failure_is_caught_and_leaves_no_kernel(tmp_path):
    lessons_dir = tmp_path / "lessons"
    lessons_dir.mkdir()
    _lesson(lessons_dir, "00_good.ipynb", GOOD_RESULTS)
    _lesson(lessons_dir, "01_raise.ipynb", "raise RuntimeError('planted')", explorer=True)
    _lesson(lessons_dir, "02_exit.ipynb", "import os; os._exit(3)")
    _lesson(lessons_dir, "03_killed.ipynb", "import os, signal; os.kill(os.getpid(), 9)")
    _lesson(lessons_dir, "04_slow.ipynb", "import time; time.sleep(120)")
    _lesson(lessons_dir, "05_quits.ipynb", "sys.exit(0)")
    shutil.copy(NOTEBOOKS_DIR / "05_client_summary.ipynb", lessons_dir / "09_client_summary.ipynb")
    out = tmp_path / "report"
    seen: set[int] = set()

    def watch(event):
        seen.update(p.pid for p in kernels_of())

    assert not kernels_of()
    result = run_report(
        "cdnow", "Client", out, lessons_dir=lessons_dir, timeout=TIMEOUT, jobs=2, progress=watch
    )
    assert seen, "the run started no kernel?"
    assert not alive(seen) and not kernels_of()  # every kernel it started is gone

    reasons = {r.lesson: (r.status, r.reason) for r in result.runs}
    assert reasons["good"] == ("complete", "")
    assert reasons["raise"] == (
        "failed",
        "cell 4 (raise RuntimeError('planted')): RuntimeError: planted",
    )
    assert reasons["exit"] == (
        "failed",
        "cell 3 (import os; os._exit(3)): the kernel died (it crashed or was killed)",
    )
    assert (
        reasons["killed"][1].startswith("cell 3 (import os, signal")
        and "kernel died" in reasons["killed"][1]
    )
    assert reasons["slow"] == (
        "failed",
        f"cell 3 (import time; time.sleep(120)): timed out after {TIMEOUT} s (the per-cell timeout)",
    )
    assert reasons["quits"] == ("failed", "cell 4 (x = 1) never ran: the lesson stopped early")
    assert reasons["client_summary"][0] == "complete"
    assert not result.complete and result.out == tmp_path / "report.incomplete"
    assert not out.exists() and not list(tmp_path.glob(".report.*"))

    # the summary is the index: it says the report is incomplete and ranks the recommendations
    index = (result.out / "index.html").read_text()
    assert "INCOMPLETE REPORT: 5 section(s) failed" in index
    assert index.index("Planted big action") < index.index("Planted small action")
    assert "A planted finding." in index and 'href="00_good.html"' in index
    manifest = json.loads((result.out / "manifest.json").read_text())
    assert manifest["complete"] is False
    assert [e["status"] for e in manifest["lessons"]].count("failed") == 5


@pytest.mark.slow
def test_a_timeout_in_a_real_lesson_exits_non_zero(tmp_path):
    run = crm("report", "cdnow", "--only", "foundations", "--timeout", "1", "--out", tmp_path / "r")
    assert run.returncode == 1
    assert "report INCOMPLETE" in run.stderr and "timed out after 1 s" in run.stderr
    assert not (tmp_path / "r").exists() and (tmp_path / "r.incomplete" / "index.html").exists()


INTERRUPTED = """
import sys
from pathlib import Path
from crmlib.report import run_report
run_report("cdnow", "Client", Path(sys.argv[2]), lessons_dir=Path(sys.argv[1]), jobs=2)
"""


def _wait_for_kernels(pid: int, n: int, seconds: float = 60) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = {p.pid for p in kernels_of(pid)}
        if len(found) >= n:
            time.sleep(1.5)  # let the kernels reach the sleeping cell
            return found
        time.sleep(0.2)
    raise AssertionError("the kernels did not start")


@pytest.mark.slow
def test_ctrl_c_stops_every_kernel_and_leaves_nothing(tmp_path):
    lessons_dir = tmp_path / "lessons"
    lessons_dir.mkdir()
    _lesson(lessons_dir, "00_a.ipynb", "import time; time.sleep(120)")
    _lesson(lessons_dir, "01_b.ipynb", "import time; time.sleep(120)")
    out = tmp_path / "report"
    proc = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED, str(lessons_dir), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = _wait_for_kernels(proc.pid, 2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert "KeyboardInterrupt" in err
    assert not alive(started)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lessons"]  # no report, no temp folder


@pytest.mark.slow
def test_sigterm_to_crm_report_cleans_up_like_ctrl_c(tmp_path):
    cmd = [str(CRM)] if CRM.exists() else [sys.executable, "-m", "crmlib.cli"]
    out = tmp_path / "r"
    proc = subprocess.Popen(
        [*cmd, "report", "cdnow", "--only", "idic", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, privacy.KEY_ENV: TEST_KEY},
    )
    try:
        started = _wait_for_kernels(proc.pid, 1)
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "aborted" in err
    assert not alive(started)
    assert list(tmp_path.iterdir()) == []


# --- validated once: the lessons get a snapshot, the report keeps none ------------------------

FIGURES = """
import json, os
from crmlib.data import datasets, snapshot
from crmlib import results
data = datasets.load(data_path, as_of=as_of)
tx = data.transactions
figures = {
    "snapshot": snapshot.is_snapshot(data_path),
    "lines": len(tx),
    "customers": sorted(tx["customer_id"]),
    "revenue": float(tx["revenue"].sum()),
    "dtypes": {c: str(d) for c, d in tx.dtypes.items()},
    "rejected_rows": sorted(data.rejects["row"]),
    "warnings": data.warnings,
    "as_of": str(data.as_of),
    "qci_answers": data.assessment_files["qci"].name,
}
# the data as read, written as the lesson's results file (not headline figures: no catalogue)
with open(os.path.join(os.environ[results.RESULTS_ENV], "figures.results.json"), "w") as fh:
    json.dump(figures, fh)
print({k: v for k, v in figures.items() if k != "snapshot"})
"""

MAPPED = {
    "mapping.yml": "transactions:\n  file: Orders.csv\n  columns: {Ref: customer_id, Net: revenue}\n"
    '  date_format: "%d/%m/%Y"\n',
    "Orders.csv": "order_id,Ref,order_date,Net\nO1,007,05/01/2024,10.5\nO2,0042,06/01/2024,x\n"
    "O3,0042,07/02/2024,-3.25\nO4,99,31/12/2030,4\n",
    "customers.csv": "customer_id,city\n007,Leeds\n0042,York\n",
}


def test_the_lessons_get_the_validated_data_and_the_report_keeps_none_of_it(tmp_path):
    client = tmp_path / "client"
    client.mkdir()
    for name, text in MAPPED.items():
        (client / name).write_text(text)
    shutil.copy(datasets.sample_path() / "assessment_qci.csv", client)
    lessons_dir = tmp_path / "lessons"
    lessons_dir.mkdir()
    _lesson(lessons_dir, "00_figures.ipynb", FIGURES)
    _lesson(lessons_dir, "01_bad.ipynb", "raise ValueError('planted failure')")
    args = dict(lessons_dir=lessons_dir, timeout=60, as_of="2024-12-31")

    with_snapshot = run_report(client, "Client", tmp_path / "a", **args)
    without = run_report(client, "Client", tmp_path / "b", only=["figures"], snapshot=False, **args)

    assert not with_snapshot.complete and without.complete  # 01_bad failed, not in --only
    first, second = (
        next(r for r in x.runs if r.lesson == "figures") for x in (with_snapshot, without)
    )
    assert first.status == second.status == "complete"
    assert first.results.pop("snapshot") is True and second.results.pop("snapshot") is False
    assert first.results == second.results
    # the planted facts: O2 not a number (row 3), O4 after the as-of date (row 5), customer 99
    # unknown; ids keep their zeros
    assert first.results["customers"] == ["0042", "007"] and first.results["rejected_rows"] == [
        3,
        5,
    ]
    assert (
        first.results["revenue"] == 10.5 - 3.25
        and first.results["qci_answers"] == "assessment_qci.csv"
    )
    assert printed(with_snapshot.out / "00_figures.ipynb") == printed(
        without.out / "00_figures.ipynb"
    )
    assert with_snapshot.out == tmp_path / "a.incomplete"
    assert_no_snapshot(with_snapshot.out)
    assert_no_snapshot(without.out)
    for path, text in report_texts(with_snapshot.out):
        assert str(tmp_path) not in text, path.name  # nor the snapshot's path


# --- one run per report folder ----------------------------------------------------------------


def test_a_second_report_into_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "r"
    with OutLock(out):  # this test process is writing the report
        run = crm("report", "cdnow", "--out", out)
        with pytest.raises(CRMError, match="another crm report"):
            run_report("cdnow", "Client", out, only=["foundations"])
        assert sorted(p.name for p in tmp_path.iterdir()) == [".r.lock"]  # nothing else
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"another crm report (process {os.getpid()}, started " in run.stderr
    assert "is writing r now" in run.stderr
    assert not list(tmp_path.iterdir())  # the lock is removed with its run


def test_a_lock_left_by_a_run_that_is_gone_is_taken_over(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    lock = tmp_path / ".r.lock"
    lock.write_text(json.dumps({"pid": gone.pid, "host": "h", "started": "2024-01-01T00:00:00"}))
    assert not psutil.pid_exists(gone.pid)
    with OutLock(tmp_path / "r"):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()


def test_a_lock_in_a_new_folder_leaves_no_folder_behind(tmp_path):
    out = tmp_path / "new" / "deeper" / "r"
    with pytest.raises(CRMError, match="no transactions file"):
        run_report(tmp_path, "Client", out)  # refused after the lock was taken
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_two_reports_into_one_folder_a_second_apart(tmp_path):
    cmd = [str(CRM)] if CRM.exists() else [sys.executable, "-m", "crmlib.cli"]
    out = tmp_path / "r"
    env = {**os.environ, privacy.KEY_ENV: TEST_KEY}
    args = [*cmd, "report", "cdnow", "--only", "foundations", "--out", str(out)]
    first = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / ".r.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        second = subprocess.run(args, capture_output=True, text=True, env=env)
        _, err = first.communicate(timeout=600)
    finally:
        first.kill()
    assert first.returncode == 0, err
    assert second.returncode == 1 and "another crm report" in second.stderr
    assert json.loads((out / "manifest.json").read_text())["complete"] is True
    assert not (tmp_path / ".r.lock").exists()


# --- kernels slow to start ------------------------------------------------------------------


class _Tracked:
    first_cell_at = None
    nb = current = None


def test_a_kernel_start_is_waited_for_within_the_cell_timeout_and_retried(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(report_kernels.time, "perf_counter", lambda: clock[0])
    waits = []

    def slow_then_ready(wait):
        waits.append(wait)
        if len(waits) == 1:
            clock[0] += wait  # it waited that long for the kernel's answer
            raise RuntimeError(f"Kernel didn't respond in {wait} seconds")
        return "executed"

    run = LessonRun("x", "x.ipynb")
    idle = Kernels({})
    assert start_and_run(slow_then_ready, _Tracked(), idle, 600, run) == "executed"
    assert waits == [300, 300] and run.kernel_starts == 2  # the per-cell timeout, shared
    waits.clear()
    start_and_run(slow_then_ready, _Tracked(), idle, None, run)  # no cell timeout: 600 s
    assert waits == [300, 300]
    waits.clear()
    with pytest.raises(KernelStartError, match="1 attempt"):  # a short cell timeout:
        start_and_run(slow_then_ready, _Tracked(), idle, 5, run)  # jupyter's 60 s, as before
    assert waits == [60]

    def fails(wait):
        raise RuntimeError("planted")

    ran = _Tracked()
    ran.first_cell_at = 1.0  # a cell ran: the failure is the lesson's, not the start's
    with pytest.raises(RuntimeError, match="planted"):
        start_and_run(fails, ran, idle, 600, run)
    assert run.kernel_starts == 1
    idle.kill_all()  # the run was stopped: no new attempt
    with pytest.raises(RuntimeError, match="planted"):
        start_and_run(fails, _Tracked(), idle, 600, run)
    assert run.kernel_starts == 1


def _kernels_whose_first_starts_fail(workdir: Path, prefix: list[str], every: bool = False):
    """A report's kernels, the first start (or every start) run through ``prefix``."""
    kernels = Kernels(dict(KERNEL_ENV, **{RESULTS_ENV: str(workdir)}))
    starts = []

    class FirstStartFails(kernels.manager_class):
        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            starts.append(cmd)
            return [*prefix, *cmd] if every or len(starts) == 1 else cmd

    kernels.manager_class = FirstStartFails
    return kernels, starts


@pytest.mark.parametrize(
    "prefix",
    [
        ["sh", "-c", 'sleep 120; exec "$@"', "sh"],  # no answer within the wait
        ["sh", "-c", "exit 1", "sh"],  # dies while starting
    ],
    ids=["hangs", "dies"],
)
def test_a_kernel_that_fails_to_start_is_started_again(tmp_path, monkeypatch, prefix):
    monkeypatch.setattr(report_kernels, "KERNEL_START_MIN", 2)  # first wait: half of 10 s
    lesson = _lesson(tmp_path, "00_x.ipynb", "y = 2")
    kernels, starts = _kernels_whose_first_starts_fail(tmp_path, prefix)
    try:
        run = run_lesson(lesson, {}, tmp_path, 10, kernels)
    finally:
        kernels.kill_all()
    assert (run.status, run.reason) == ("complete", "")
    assert run.kernel_starts == 2 and len(starts) == 2 and run.cells_run == run.cells
    assert not kernels_of()


@pytest.mark.slow
def test_a_kernel_that_never_starts_fails_its_lesson_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(report_kernels, "KERNEL_START_MIN", 2)
    lesson = _lesson(tmp_path, "00_x.ipynb", "y = 2")
    kernels, starts = _kernels_whose_first_starts_fail(tmp_path, ["sh", "-c", "exit 1", "sh"], True)
    try:
        run = run_lesson(lesson, {}, tmp_path, 10, kernels)
    finally:
        kernels.kill_all()
    assert run.status == "failed" and len(starts) == 3
    assert run.reason.startswith("the kernel did not start (3 attempt(s) within 10 s; last: ")


# --- identified once: the report links the records once and every lesson reuses the links ----

LINKED = """
import json, os
from crmlib import results
from crmlib.analytics import linkage
from crmlib.data import datasets
data = datasets.load(data_path, as_of=as_of)
persons, identity = linkage.identify(data, saved=identity_dir)
figures = {
    "saved": identity_dir is not None and os.path.isdir(identity_dir),
    "records": identity.records,
    "persons": identity.persons,
    "customers": identity.customers,
    "ids": sorted(persons.transactions["customer_id"].unique()),
}
with open(os.path.join(os.environ[results.RESULTS_ENV], NAME + ".results.json"), "w") as fh:
    json.dump(figures, fh)
"""

TWO_SYSTEMS = {
    "customers.csv": "customer_id,name,email,phone,source_system\n"
    "1,Ann Lee,ann@x.org,020 7946 0001,webshop\n2,Anne Lee,ANN@x.org,+44 20 7946 0001,store\n"
    "3,Bob Stone,bob@x.org,,store\n4,Cy Young,cy@x.org,020 7946 0003,store\n"
    "5,Di Moss,di@x.org,,webshop\n6,Ed Hart,,,store\n",
    "transactions.csv": "order_id,customer_id,order_date,revenue\nO1,1,2024-01-05,10\n"
    "O2,2,2024-02-01,20\nO3,3,2024-03-01,30\nO4,5,2024-03-02,-5\n",
}


def _linked_lesson(folder: Path, name: str) -> None:
    nb = new_notebook()
    params = new_code_cell('data_path = None\nclient_name = "x"\nas_of = None\nidentity_dir = None')
    params.metadata["tags"] = ["parameters"]
    body = LINKED.replace("NAME", repr(name.split("_", 1)[1].removesuffix(".ipynb")))
    nb.cells = [params, new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / name)


def test_the_report_links_once_and_every_lesson_counts_the_same_persons(tmp_path):
    client = tmp_path / "client"
    client.mkdir()
    for name, text in TWO_SYSTEMS.items():
        (client / name).write_text(text)
    lessons_dir = tmp_path / "lessons"
    lessons_dir.mkdir()
    for name in ("00_one.ipynb", "01_two.ipynb"):
        _linked_lesson(lessons_dir, name)
    with pytest.raises(CRMError, match="identity_dir is set by crm report"):
        run_report(client, "Client", tmp_path / "x", lessons_dir=lessons_dir,
                   params={"identity_dir": str(tmp_path)})
    done = run_report(client, "Client", tmp_path / "r", lessons_dir=lessons_dir, timeout=60)
    assert done.complete
    one, two = (r.results for r in sorted(done.runs, key=lambda r: r.notebook))
    # records 1 and 2 are one person (two systems); persons who bought: 1 (with 2) and 3
    assert one == two
    assert one["saved"] is True  # the lesson read the report's links, it did not link again
    assert (one["records"], one["persons"], one["customers"]) == (6, 5, 2)
    assert one["ids"] == ["1", "3", "5"]
    assert not (done.out / IDENTITY_DIR).exists()  # ids of the client's records: not kept
    manifest = json.loads((done.out / "manifest.json").read_text())
    assert {e["parameters"]["identity_dir"] for e in manifest["lessons"]} == {"<report folder>"}
