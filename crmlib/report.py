"""Run the lessons as a client report: papermill → executed notebooks → HTML → index.

``run_report`` validates the client folder first, executes every lesson in
``notebooks/`` with papermill against it, writes an HTML copy of each with the
code hidden, an ``index.html`` that links them and a ``manifest.json`` (status
and time per lesson, parameters, a SHA-256 fingerprint of the input files and
the package versions).

Fail-safe: the report is built in a temporary folder beside the destination
and moved into place only when every lesson completed. A failed run leaves
the earlier complete report untouched, writes what it has to
``<out>.incomplete/`` (its index says INCOMPLETE) and returns a failed status.

Lessons hand their headline results to the report with :func:`record_results`
(a small JSON file beside the executed notebook), never by scraping outputs.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from crmlib.errors import CRMError

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
COMMON_PARAMETERS = ("data_path", "client_name", "as_of")
RESULTS_ENV = "CRM_RESULTS_DIR"
HIDDEN_PATH = "<client folder>"
PACKAGES = (
    "crm-workbook",
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
    "pandera",
    "duckdb",
    "papermill",
    "nbconvert",
    "ipykernel",
)


def record_results(lesson: str, results: dict) -> Path | None:
    """Hand a lesson's headline results to the report.

    Writes ``<lesson>.results.json`` into the folder named by the environment
    variable ``CRM_RESULTS_DIR`` (set by ``crm report``); does nothing when a
    student runs the lesson by hand. Values must be JSON-serialisable
    (numbers, strings, lists, dicts) and hold no personal data.
    """
    folder = os.environ.get(RESULTS_ENV)
    if not folder:
        return None
    path = Path(folder) / f"{lesson}.results.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    os.replace(tmp, path)
    return path


def lessons(only: list[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The lesson notebooks in order (``NN_name.ipynb``), optionally only some.

    ``only`` takes lesson names without number, e.g. ``["foundations", "idic"]``.
    """
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return found
    by_name = {p.stem.split("_", 1)[1]: p for p in found}
    unknown = [n for n in only if n not in by_name]
    if unknown:
        raise CRMError(f"unknown lesson(s) {', '.join(unknown)}; lessons: {', '.join(by_name)}")
    return [by_name[n] for n in only]


def _declared(notebook: Path) -> dict:
    import papermill

    return papermill.inspect_notebook(str(notebook))


def check_parameters(notebook: Path, parameters: dict) -> None:
    """Refuse a parameter the lesson's ``parameters`` cell does not define."""
    declared = _declared(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise CRMError(
            f"{notebook.name}: unknown parameter(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(declared)}"
        )


def fingerprint(folder: Path) -> dict[str, str]:
    """SHA-256 of every file in the client folder, by file name."""
    out = {}
    for path in sorted(folder.iterdir()):
        if path.is_file():
            out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@dataclass
class LessonRun:
    lesson: str
    notebook: str
    status: str = "pending"  # complete | failed | skipped
    reason: str = ""
    seconds: float = 0.0
    html: str = ""
    results: dict = field(default_factory=dict)


@dataclass
class ReportResult:
    out: Path
    complete: bool
    runs: list[LessonRun]


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _executed_completely(nb) -> str:
    """'' when every code cell ran; else which cell did not (e.g. after sys.exit)."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.source.strip() and cell.get("execution_count") is None:
            return f"cell {i + 1} never ran (the lesson stopped early)"
    return ""


def _scrub(nb, parameters: dict) -> None:
    """Keep paths out of the notebook's metadata (papermill stores them in clear)."""
    meta = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path", "cwd"):
        if key in meta:
            meta[key] = HIDDEN_PATH if key != "input_path" else Path(meta[key]).name
    params = meta.get("parameters", {})
    if "data_path" in params:
        params["data_path"] = HIDDEN_PATH
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace(
                repr(str(parameters.get("data_path", ""))), repr(HIDDEN_PATH)
            )


def _to_html(nb, path: Path) -> None:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(nb)
    path.write_text(offline_html(body), encoding="utf-8")


def offline_html(body: str) -> str:
    """Drop the scripts nbconvert's template loads from outside addresses.

    The report embeds its charts as images, so require.js, MathJax and the
    widget manager are not needed to read it, and it opens offline.
    """
    import re

    body = re.sub(r"<script[^>]+src=\"https?://[^\"]*\"[^>]*>\s*</script>", "", body)
    body = re.sub(r"<link[^>]+href=\"https?://[^\"]*\"[^>]*>", "", body)
    return body


def run_lesson(notebook: Path, parameters: dict, workdir: Path, timeout: int) -> LessonRun:
    """Execute one lesson with papermill in ``workdir``; never raises for a lesson failure."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    name = notebook.stem.split("_", 1)[1]
    run = LessonRun(lesson=name, notebook=notebook.name)
    failed_cell = None
    out_nb = workdir / notebook.name
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(out_nb),
            parameters=parameters,
            cwd=str(workdir),
            execution_timeout=timeout,
            progress_bar=False,
            log_output=False,
        )
        run.status = "complete"
    except PapermillExecutionError as exc:
        run.status = "failed"
        failed_cell = exc.cell_index
        run.reason = f"{exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel death, timeout: the lesson failed, the report goes on
        run.status = "failed"
        run.reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    run.seconds = round(time.perf_counter() - start, 2)
    if out_nb.exists():
        nb = nbformat.read(out_nb, as_version=4)
        if failed_cell is not None:
            executed = [
                c for c in nb.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
            ]
            injected = sum(
                "injected-parameters" in c.metadata.get("tags", []) for c in executed[:failed_cell]
            )
            first_line = executed[failed_cell].source.strip().splitlines()[0][:60]
            run.reason = f"cell {failed_cell - injected + 1} ({first_line}): {run.reason}"
        if run.status == "complete":
            early = _executed_completely(nb)
            if early:
                run.status, run.reason = "failed", early
        _scrub(nb, parameters)
        nbformat.write(nb, out_nb)
        html_path = out_nb.with_suffix(".html")
        _to_html(nb, html_path)
        run.html = html_path.name
    results = workdir / f"{name}.results.json"
    if results.exists():
        run.results = json.loads(results.read_text(encoding="utf-8"))
    return run


def run_report(
    data: Path,
    client: str,
    out: Path,
    as_of: str | None = None,
    only: list[str] | None = None,
    params: dict | None = None,
    timeout: int = 600,
    progress=None,
    lessons_dir: Path = NOTEBOOKS_DIR,
    jobs: int | None = None,
) -> ReportResult:
    """Validate the client folder, run every lesson on it and build the report.

    Returns
    -------
    ReportResult
        ``complete`` is True only when every lesson completed; the report is
        then in ``out``. Otherwise it is in ``<out>.incomplete``.

    Raises
    ------
    crmlib.errors.CRMError
        Unusable data (the validation message), an unknown lesson or parameter.
    """
    from crmlib import datasets

    jobs = jobs or os.cpu_count() or 1
    named = str(data) in datasets.NAMED
    data = str(data) if named else Path(data).resolve()
    out = Path(out).resolve()
    validated = datasets.load(data, as_of=as_of)
    notebooks = lessons(only, lessons_dir)
    if not notebooks:
        raise CRMError("no lessons found in notebooks/")
    parameters = {"data_path": str(data), "client_name": client, "as_of": as_of}
    parameters.update(params or {})
    declared = {nb: _declared(nb) for nb in notebooks}
    for nb in notebooks:
        check_parameters(nb, {k: v for k, v in parameters.items() if k in COMMON_PARAMETERS})
    taken = {name for names in declared.values() for name in names}
    unused = sorted(set(parameters) - taken)
    if unused:
        raise CRMError(
            f"unknown parameter(s) {', '.join(unused)}: no lesson takes them; "
            f"the lessons take: {', '.join(sorted(taken))}"
        )

    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    by_notebook: dict[Path, LessonRun] = {}
    os.environ[RESULTS_ENV] = str(work)
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {}
            for nb in notebooks:
                own = {k: v for k, v in parameters.items() if k in declared[nb]}
                futures[pool.submit(run_lesson, nb, own, work, timeout)] = nb
                if progress:
                    progress(f"{nb.name}: started")
            for future in as_completed(futures):
                run = by_notebook[futures[future]] = future.result()
                if progress:
                    progress(
                        f"{run.notebook}: {run.status} in {run.seconds:.1f} s {run.reason}".rstrip()
                    )
        runs = [by_notebook[nb] for nb in notebooks]
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        os.environ.pop(RESULTS_ENV, None)

    complete = all(r.status == "complete" for r in runs)
    manifest = {
        "client": client,
        "complete": complete,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "as_of": str(validated.as_of.date()) if validated.as_of is not None else None,
        "parameters": {k: (HIDDEN_PATH if k == "data_path" else v) for k, v in parameters.items()},
        "data_fingerprint": fingerprint(validated.source),
        "rows": {n: asdict(r) for n, r in validated.reports.items()},
        "lessons": [asdict(r) for r in runs],
        "versions": _versions(),
    }
    (work / "manifest.json").write_text(
        json.dumps(manifest, indent=2, default=str), encoding="utf-8"
    )
    (work / "index.html").write_text(_index(client, manifest, validated), encoding="utf-8")
    for f in work.glob("*.results.json"):
        f.unlink()

    target = out if complete else out.with_name(out.name + ".incomplete")
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        work.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        work.rename(target)
    if complete:
        shutil.rmtree(out.with_name(out.name + ".incomplete"), ignore_errors=True)
    return ReportResult(target, complete, runs)


def _index(client: str, manifest: dict, validated) -> str:
    esc = html.escape
    status = "Complete" if manifest["complete"] else "INCOMPLETE: a lesson failed"
    rows = []
    for r in manifest["lessons"]:
        link = (
            f'<a href="{esc(r["html"])}">{esc(r["lesson"])}</a>' if r["html"] else esc(r["lesson"])
        )
        results = "".join(f"<li>{esc(str(k))}: {esc(str(v))}</li>" for k, v in r["results"].items())
        rows.append(
            f"<tr><td>{link}</td><td class='{esc(r['status'])}'>{esc(r['status'])}</td>"
            f"<td>{r['seconds']:.1f} s</td><td>{esc(r['reason'])}<ul>{results}</ul></td></tr>"
        )
    table_rows = "".join(
        f"<tr><td>{esc(n)}</td><td>{v['rows']}</td><td>{v['accepted']}</td><td>{v['rejected']}</td></tr>"
        for n, v in manifest["rows"].items()
    )
    reasons = validated.top_reasons(10)
    reason_rows = (
        "".join(
            f"<tr><td>{esc(r.table)}</td><td>{esc(r.reason)}</td><td>{r.rows}</td></tr>"
            for r in reasons.itertuples()
        )
        or "<tr><td colspan=3>none</td></tr>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CRM assessment: {esc(client)}</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }}
.complete {{ color: #1a7f37; }} .failed {{ color: #b42318; font-weight: bold; }}
</style></head><body>
<h1>CRM assessment: {esc(client)}</h1>
<p><strong>Status: {esc(status)}</strong> · data as of {esc(str(manifest["as_of"]))}
· made {esc(manifest["created"])}</p>
<h2>Sections</h2>
<table><tr><th>section</th><th>status</th><th>time</th><th>notes</th></tr>{"".join(rows)}</table>
<h2>Appendix: the data</h2>
<table><tr><th>table</th><th>rows</th><th>accepted</th><th>rejected</th></tr>{table_rows}</table>
<h3>Most frequent reasons for rejected rows</h3>
<table><tr><th>table</th><th>reason</th><th>rows</th></tr>{reason_rows}</table>
<p>Reproduce: the same input files (see manifest.json, data_fingerprint) and versions give
the same report.</p>
</body></html>
"""
