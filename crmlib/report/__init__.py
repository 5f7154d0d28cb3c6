"""Run the lessons as a client report: papermill → executed notebooks → HTML → index.

:func:`run_report` validates the client folder first (unusable data stops the
run with the validation message), checks every parameter against the
lessons' ``parameters`` cells, then executes the lessons in ``notebooks/``
with papermill against the validated data, several at once, and writes::

    DIR/index.html              the executive summary (lesson 05_client_summary)
    DIR/NN_<lesson>.ipynb       each lesson, executed
    DIR/NN_<lesson>.html        the same with its code hidden, for the client
    DIR/manifest.json           status, time and parameters per lesson, the data
                                fingerprint, package versions and seeds
    DIR/summary.pdf             with ``pdf=True`` (headless Chromium)

**HTML.** Every code cell's input is hidden (a client report shows results,
not code); a cell tagged ``remove-cell`` is left out whole and one tagged
``remove-output`` keeps no output. Pages open offline: the template loads no
script, style sheet or font from anywhere (no require.js, MathJax, mermaid
or widget manager), charts are embedded PNG images, and a page that would
still fetch something from an outside address fails its lesson
(:func:`outside_references`). Formulas written in TeX in the prose show as
typed.

**Explorers.** What runs is each lesson's batch form
(:func:`crmlib.report.lessons.batch_notebook`): its ``explorer`` cells (ipywidgets)
are left out, as a static page cannot use them, and executing widget cells
headless can stall nbclient for the whole cell timeout (jupyter/nbclient
issue 312; measured here: 600 s on a loaded machine). Failures still name
the cell by its number in the lesson file.

**Validated once.** The folder is validated once, by the run: the result
is written as a data snapshot (:mod:`crmlib.data.snapshot`: Parquet per table and
a small manifest) in the work folder, and each lesson's ``data_path`` names
the snapshot, which :func:`crmlib.data.datasets.load` reads back as validated in a
fraction of the time. The snapshot holds personal data: it is deleted before
the report moves into place, complete or not. ``snapshot=False``
(``crm report --no-snapshot``) lets every lesson load the folder itself.

**One run per report folder.** A run holds a lock file beside ``DIR``
(``.DIR.lock``: pid, host, start) while it writes; a second run into the
same ``DIR`` is refused with a message naming the first. The lock dies with
its process, so a run that was killed leaves no lock that blocks the next.

**Kernels slow to start.** On a loaded machine a kernel may take more than
jupyter's 60 s to answer, or die while starting. The run waits for it
within the per-cell timeout and starts it again if needed (nothing has run
in it yet); only a kernel that never starts fails its lesson.

**Fail-safe.** The report is built in a temporary folder beside ``DIR`` and
moved into place only when every lesson completed. A failed run leaves an
earlier complete report in ``DIR`` untouched and writes what it has to
``DIR.incomplete/``, whose index says INCOMPLETE and names the failed
section, cell and error. A lesson that stops early without an error
(``sys.exit``) counts as failed. Every kernel the run starts is shut down,
also after a failure, a timeout or Ctrl-C.

**Parallel.** The lessons run ``jobs`` at a time (default: the cores) from
threads of this one process, each in a kernel process of its own. This is
safe with papermill because nothing shared changes: the kernel's working
folder goes to nbclient instead of papermill's ``cwd=`` (which would
``os.chdir`` the whole process), input and output notebooks stay in memory,
each thread gets its own asyncio loop (jupyter_core), and jupyter_client's
port cache is created once before the threads start. The summary is queued
last: it starts when a slot frees after every lesson has started, loads its
data, and waits for their results.

**Privacy.** Parameters holding paths or secrets are replaced by
placeholders in the executed notebooks (papermill metadata, the injected
parameters cell and any output) and in the manifest; see
:mod:`crmlib.data.privacy` for pseudonyms and small-cell suppression.

Results files
-------------
A lesson hands its headline results to the report with :func:`record_results`
(``<lesson>.results.json`` in the report's work folder), never by scraping
outputs. The file is one JSON object:

- any number of headline figures, ``"name": value``, where a value is a
  number, a string, ``null``, or a list or object of those (no personal data);
- optional ``"finding"``: the model's main finding in one sentence;
- optional ``"recommendations"``: a list of
  ``{"text": "…", "value_at_stake": number or null}``, where the value at
  stake is what acting on it is worth, in the data's currency, over the
  horizon the text states;
- optional ``"not_assessed"``: the sections that stepped aside because the
  data lack what they need, a list of ``{"section": "…", "missing": ["table"
  or "table.column", …], "reason": "one sentence"}``
  (:attr:`crmlib.analytics.requirements.Sections.not_assessed`). A headline figure of
  such a section is ``null``, never 0.

The summary lesson reads every results file with :func:`load_results`, ranks
the recommendations with :func:`recommendations`, lists the figures with
:func:`headline_figures` and what could not be assessed with
:func:`not_assessed`; a lesson without a finding or recommendations is
shown with its figures only. ``manifest.json`` lists each lesson's
``not_assessed`` too.
"""

from __future__ import annotations

import ast
import hashlib
import html
import importlib.util
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path

import pandas as pd

from crmlib import engines
from crmlib.data import privacy
from crmlib.errors import CRMError
from crmlib.report.lessons import EXPLORER_TAG, batch_notebook

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
COMMON_PARAMETERS = ("data_path", "client_name", "as_of")
ENGINE_PARAMETER, SPARK_PARAMETER = "engine", "spark_master"  # taken by the model lessons
RESULTS_ENV = "CRM_RESULTS_DIR"
RESULTS_PARAMETER = "results_dir"
RESULTS_SUFFIX = ".results.json"
SECTIONS_FILE = "sections.json"
PENDING_FILE = "sections.pending"  # while it exists, the other lessons are still running
WAIT_TAG = "wait-for-results"  # the summary's cell that waits for them: no per-cell timeout
SUMMARY = "client_summary"
INDEX = "index.html"
PDF_NAME = "summary.pdf"
HIDDEN_PATH = "<client folder>"
HIDDEN_REPORT = "<report folder>"
KERNEL_ENV = {"PYTHONHASHSEED": "0"}  # fixed hash seed: same set/dict order on every run
SNAPSHOT_DIR = "data-snapshot"  # in the work folder; removed before the report moves into place
KERNEL_START_MIN = 60  # seconds a kernel start is waited for at least (jupyter's default)
KERNEL_START_BUDGET = 600  # seconds for all attempts when cells have no timeout
KERNEL_STARTS = 3  # attempts to start a lesson's kernel
LOCK_SUFFIX = ".lock"  # .<out>.lock beside the report folder while a run writes it
CHROMIUM_ENV = "CRM_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PACKAGES = (
    "crm-workbook",
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
    "scikit-learn",
    "pandera",
    "duckdb",
    "splink",
    "papermill",
    "nbclient",
    "nbconvert",
    "jupyter_client",
    "ipykernel",
)
# report-level column names (not data-contract columns: see crmlib.data.schema for those)
LESSON = "lesson"
RECOMMENDATION = "recommendation"
VALUE_AT_STAKE = "value_at_stake"
MEASURE = "measure"
VALUE = "value"
SECTION, MISSING, REASON = "section", "missing", "reason"
NOT_ASSESSED = "not_assessed"  # = crmlib.analytics.requirements.NOT_ASSESSED
RESERVED_RESULTS = ("finding", "recommendations", NOT_ASSESSED)

OFFLINE_TEMPLATE = r"""{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_widget_view -%}
<div class="jp-OutputArea-output"><p><em>An interactive explorer: open the executed
notebook in JupyterLab to use it.</em></p></div>
{%- endblock data_widget_view -%}
"""


# --- results files ------------------------------------------------------------


def record_results(lesson: str, results: dict) -> None:
    """Hand a lesson's headline results to the report.

    Writes ``<lesson>.results.json`` into the folder named by the environment
    variable ``CRM_RESULTS_DIR`` (set by ``crm report`` in the kernel); does
    nothing when a student runs the lesson by hand. See the module docstring
    for the format.

    Parameters
    ----------
    lesson : str
        The lesson's name without its number, e.g. ``"idic"``.
    results : dict
        Headline figures (JSON-ready: numbers, strings, None, lists, dicts;
        numpy and pandas scalars are converted), plus the optional
        ``finding`` (str), ``recommendations`` (list of dicts with ``text``
        and ``value_at_stake``) and ``not_assessed`` (list of dicts with
        ``section``, ``missing`` and ``reason``). No personal data.

    Returns
    -------
    None
        Nothing, so that a lesson ending with this call shows no output.

    Raises
    ------
    ValueError
        ``finding``, ``recommendations`` or ``not_assessed`` do not have the
        documented form.
    """
    _check_results(lesson, results)
    folder = os.environ.get(RESULTS_ENV)
    if not folder:
        return
    path = Path(folder) / f"{lesson}{RESULTS_SUFFIX}"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2, default=_jsonable), encoding="utf-8")
    os.replace(tmp, path)


def _check_results(lesson: str, results: dict) -> None:
    if not isinstance(results, dict):
        raise ValueError(f"{lesson}: results must be a dict, not {type(results).__name__}")
    finding = results.get("finding")
    if finding is not None and not isinstance(finding, str):
        raise ValueError(f"{lesson}: 'finding' must be one sentence (a str)")
    skipped = results.get(NOT_ASSESSED)
    if skipped is not None:
        if not isinstance(skipped, list):
            raise ValueError(f"{lesson}: '{NOT_ASSESSED}' must be a list of dicts")
        for i, entry in enumerate(skipped):
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get(SECTION), str)
                or not isinstance(entry.get(REASON), str)
                or not isinstance(entry.get(MISSING), list)
            ):
                raise ValueError(
                    f"{lesson}: '{NOT_ASSESSED}' entry {i + 1} needs a 'section' (str), "
                    "'missing' (list) and 'reason' (str)"
                )
    recs = results.get("recommendations")
    if recs is None:
        return
    if not isinstance(recs, list):
        raise ValueError(f"{lesson}: 'recommendations' must be a list of dicts")
    for i, rec in enumerate(recs):
        if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
            raise ValueError(f"{lesson}: recommendation {i + 1} needs a 'text' (str)")
        value = rec.get(VALUE_AT_STAKE)
        if value is not None and not _is_number(value):
            raise ValueError(
                f"{lesson}: recommendation {i + 1}: '{VALUE_AT_STAKE}' must be a number or None"
            )


def _is_number(value) -> bool:
    try:
        return not isinstance(value, (bool, str)) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _jsonable(value):
    """JSON for numpy / pandas scalars and dates (``json.dumps(default=…)``)."""
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Path):
        return value.name
    return str(value)


def load_results(folder=None) -> dict[str, dict]:
    """The results of the lessons of a report run, for the summary lesson.

    ``crm report`` starts the summary while the last lessons still run, so
    that its imports and data loading overlap them: while the folder holds
    ``sections.pending``, this waits until ``sections.json`` (the status of
    every lesson) is written.

    Parameters
    ----------
    folder : str or Path, optional
        The report's work folder; default the ``CRM_RESULTS_DIR`` environment
        variable. None and no variable (a lesson run by hand): ``{}``.

    Returns
    -------
    dict of str to dict
        By lesson name, in lesson order: ``status`` ("complete", "failed",
        "skipped", or None when the run did not say), ``reason``, ``title``,
        ``html`` (the section's page, "" when none) and ``results`` (the
        lesson's results file, ``{}`` when it wrote none). The summary lesson
        itself is left out.

    Raises
    ------
    crmlib.errors.CRMError
        A results or sections file that is not valid JSON.
    """
    folder = folder or os.environ.get(RESULTS_ENV)
    if not folder:
        return {}
    folder = Path(folder)
    if not folder.is_dir():
        raise CRMError(f"results folder {folder.name!r} does not exist")
    out: dict[str, dict] = {}
    sections = folder / SECTIONS_FILE
    while (folder / PENDING_FILE).exists() and not sections.exists():
        time.sleep(0.1)
    if sections.exists():
        for entry in _read_json(sections):
            if entry[LESSON] != SUMMARY:
                out[entry[LESSON]] = {
                    "status": entry.get("status"),
                    "reason": entry.get("reason", ""),
                    "title": entry.get("title", entry[LESSON]),
                    "html": entry.get("html", ""),
                    "results": {},
                }
    for path in sorted(folder.glob(f"*{RESULTS_SUFFIX}")):
        name = path.name[: -len(RESULTS_SUFFIX)]
        if name == SUMMARY:
            continue
        entry = out.setdefault(
            name, {"status": None, "reason": "", "title": name, "html": "", "results": {}}
        )
        entry["results"] = _read_json(path)
    return out


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CRMError(f"{path.name}: not a readable results file ({exc})") from None


def recommendations(results: dict[str, dict]) -> pd.DataFrame:
    """Every lesson's recommendations, ranked by value at stake.

    Parameters
    ----------
    results : dict
        What :func:`load_results` returns.

    Returns
    -------
    pandas.DataFrame
        Columns ``lesson``, ``recommendation``, ``value_at_stake`` (float,
        NaN when the lesson gave none); highest value first, recommendations
        without a value last, in lesson order.
    """
    rows = []
    for lesson, entry in results.items():
        for rec in entry.get("results", {}).get("recommendations") or []:
            value = rec.get(VALUE_AT_STAKE)
            rows.append(
                {
                    LESSON: lesson,
                    RECOMMENDATION: rec["text"],
                    VALUE_AT_STAKE: float(value) if _is_number(value) else math.nan,
                }
            )
    table = pd.DataFrame(rows, columns=[LESSON, RECOMMENDATION, VALUE_AT_STAKE])
    table[VALUE_AT_STAKE] = table[VALUE_AT_STAKE].astype(float)
    return table.sort_values(
        VALUE_AT_STAKE, ascending=False, kind="stable", na_position="last"
    ).reset_index(drop=True)


def headline_figures(results: dict[str, dict]) -> pd.DataFrame:
    """The scalar headline figures of every lesson, one row each.

    Numbers and strings only: lists, dicts, missing values and the reserved
    ``finding`` and ``recommendations`` are left out.

    Returns
    -------
    pandas.DataFrame
        Columns ``lesson``, ``measure``, ``value`` (object), in lesson order.
    """
    rows = [
        {LESSON: lesson, MEASURE: key, VALUE: value}
        for lesson, entry in results.items()
        for key, value in entry.get("results", {}).items()
        if key not in RESERVED_RESULTS
        and value is not None
        and isinstance(value, (int, float, str))
        and not (isinstance(value, float) and math.isnan(value))
    ]
    return pd.DataFrame(rows, columns=[LESSON, MEASURE, VALUE])


def not_assessed(results: dict[str, dict]) -> pd.DataFrame:
    """What each lesson could not assess, and why, one row per section.

    Parameters
    ----------
    results : dict
        What :func:`load_results` returns.

    Returns
    -------
    pandas.DataFrame
        Columns ``lesson``, ``section``, ``missing`` (the pieces, e.g.
        ``campaigns.cost``, joined by ", ") and ``reason`` (one sentence), in
        lesson order.
    """
    rows = [
        {
            LESSON: lesson,
            SECTION: entry[SECTION],
            MISSING: ", ".join(entry[MISSING]),
            REASON: entry[REASON],
        }
        for lesson, lesson_results in results.items()
        for entry in lesson_results.get("results", {}).get(NOT_ASSESSED) or []
    ]
    return pd.DataFrame(rows, columns=[LESSON, SECTION, MISSING, REASON])


# --- lessons and parameters ----------------------------------------------------


def lessons(only: list[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The lesson notebooks in order (``NN_name.ipynb``), optionally only some.

    ``only`` takes lesson names without number, e.g. ``["foundations", "idic"]``.
    """
    found = sorted(p for p in Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return found
    by_name = {_name(p): p for p in found}
    unknown = [n for n in only if n not in by_name]
    if unknown:
        raise CRMError(f"unknown lesson(s) {', '.join(unknown)}; lessons: {', '.join(by_name)}")
    return [by_name[n] for n in only]


def _name(notebook: Path) -> str:
    return notebook.stem.split("_", 1)[1]


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


def _defaults(declared: dict) -> dict:
    """The parameters cell's default values (literals parsed, other code kept as text)."""
    out = {}
    for name, info in declared.items():
        try:
            out[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError, TypeError):
            out[name] = info["default"]
    return out


def fingerprint(folder: Path) -> dict[str, str]:
    """SHA-256 (FIPS 180-4) of every file in the client folder, by file name.

    The same files give the same fingerprint; with the package versions of the
    manifest they reproduce the report.
    """
    out = {}
    for path in sorted(Path(folder).iterdir()):
        if path.is_file():
            out[path.name] = _sha256(path)
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _combined(hashes: dict[str, str]) -> str:
    """One SHA-256 over the sorted ``name<TAB>hash`` lines of the files."""
    text = "\n".join(f"{name}\t{digest}" for name, digest in sorted(hashes.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- HTML ----------------------------------------------------------------------


class _References(HTMLParser):
    """Collect what a browser would fetch when opening a page."""

    FETCH_ATTRS = {"src", "srcset", "poster", "data", "background", "action", "formaction"}
    CSS_URL = re.compile(r"url\(\s*[\"']?\s*([^\"')\s]+)", re.IGNORECASE)
    CSS_IMPORT = re.compile(r"@import\s+[\"']([^\"']+)", re.IGNORECASE)
    SCRIPT_URL = re.compile(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", re.IGNORECASE)

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fetched: list[str] = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        self._in = tag
        for name, value in attrs:
            if not value:
                continue
            if name in self.FETCH_ATTRS or (name == "href" and tag != "a"):
                parts = value.split(",") if name == "srcset" else [value]
                self.fetched.extend(p.strip().split(" ")[0] for p in parts)
            elif name == "style":
                self.fetched.extend(self.CSS_URL.findall(value))

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "style":
            self.fetched.extend(self.CSS_URL.findall(data) + self.CSS_IMPORT.findall(data))
        elif self._in == "script":
            self.fetched.extend(self.SCRIPT_URL.findall(data))


def outside_references(page: str) -> list[str]:
    """What opening the page would fetch from outside the report folder.

    Scans every ``src``/``srcset``/``href`` (except links a reader must
    click, ``<a href>``), CSS ``url(…)`` and ``@import``, and any address
    written in a script. ``data:`` URIs, ``#`` anchors and relative names are
    inside; any scheme (``https:``, ``file:`` …) or ``//host`` is outside.
    """
    parser = _References()
    parser.feed(page)
    outside = []
    for ref in parser.fetched:
        ref = ref.strip()
        low = ref.lower()
        if not ref or low.startswith(("data:", "#", "about:blank")):
            continue
        if low.startswith("//") or re.match(r"^[a-z][a-z0-9+.-]*:", low):
            outside.append(ref)
    return outside


def _to_html(nb, path: Path, title: str) -> None:
    """Write the client copy of an executed notebook: code hidden, offline."""
    import copy

    import jinja2
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)  # widget state: needs the online widget manager
    nb.metadata["title"] = title
    tags = TagRemovePreprocessor(
        remove_cell_tags={"remove-cell"},
        remove_all_outputs_tags={"remove-output"},
        remove_input_tags={"hide-input"},
        enabled=True,
    )
    nb, _ = tags.preprocess(nb, {})
    exporter = HTMLExporter(
        extra_loaders=[jinja2.DictLoader({"crm_offline.html.j2": OFFLINE_TEMPLATE})],
        template_file="crm_offline.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    outside = outside_references(body)
    if outside:
        raise CRMError(
            f"{path.name} would load {outside[0]} from outside the report: a lesson output "
            "must embed its images and styles"
        )
    path.write_text(body, encoding="utf-8")


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


# --- PDF -----------------------------------------------------------------------


def find_chromium(path=None) -> str | None:
    """The Chromium (or Chrome) executable: ``path``, ``$CRM_CHROMIUM``, or on PATH."""
    for candidate in (path, os.environ.get(CHROMIUM_ENV)):
        if candidate:
            return str(candidate) if shutil.which(str(candidate)) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(page: Path, pdf: Path, chromium: str, timeout: int = 120) -> Path:
    """Print an HTML page to PDF with headless Chromium, offline.

    Parameters
    ----------
    page : Path
        The HTML page (its images embedded: nothing is fetched).
    pdf : Path
        The PDF to write.
    chromium : str
        The executable (see :func:`find_chromium`).
    timeout : int, default 120
        Seconds Chromium may take.

    Returns
    -------
    Path
        ``pdf``.

    Raises
    ------
    crmlib.errors.CRMError
        Chromium failed or wrote nothing.
    """
    with tempfile.TemporaryDirectory(prefix="crm-chromium-") as profile:
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf}",
            Path(page).resolve().as_uri(),
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CRMError(f"Chromium did not print {page.name} within {timeout} s") from None
    if done.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise CRMError(f"Chromium could not print {page.name} (exit {done.returncode}): {last}")
    return pdf


# --- kernels ---------------------------------------------------------------------


class _Kernels:
    """Every kernel a report run starts, so that none outlives it.

    Gives papermill a kernel-manager class that starts each kernel with the
    run's environment (the results folder, a fixed hash seed), with CurveZMQ
    transport encryption when the kernel supports it, and records its process
    group. :meth:`kill_all` ends them all (the kernel and whatever it spawned)
    and refuses new ones: it runs on Ctrl-C, on any error and at the end.
    """

    def __init__(self, env: dict[str, str]):
        from jupyter_client.connect import LocalPortCache
        from jupyter_client.manager import AsyncKernelManager

        LocalPortCache.instance()  # made here, once: its first creation is not thread-safe
        self.env = env
        self.cancelled = False
        self._lock = threading.Lock()
        self._processes: list = []
        registry = self

        class RunKernelManager(AsyncKernelManager):
            async def start_kernel(self, **kw):
                if registry.cancelled:
                    raise RuntimeError("the report run was stopped")
                kw["env"] = {**os.environ, **kw.get("env", {}), **registry.env}
                if _curve_available() and hasattr(self, "transport_encryption"):
                    self.transport_encryption = "auto"
                await super().start_kernel(**kw)
                registry._add(self.provisioner)

        self.manager_class = RunKernelManager

    def _add(self, provisioner) -> None:
        process = getattr(provisioner, "process", None)
        if process is None:
            return
        pgid = getattr(provisioner, "pgid", None)
        with self._lock:
            self._processes.append((process, pgid))
            late = self.cancelled
        if late:
            self._kill(process, pgid)

    @property
    def pids(self) -> list[int]:
        """Process ids of the kernels started so far (running or not)."""
        with self._lock:
            return [p.pid for p, _ in self._processes]

    def kill_all(self) -> None:
        """Stop every kernel still running and refuse to start more."""
        with self._lock:
            self.cancelled = True
            processes = list(self._processes)
        for process, pgid in processes:
            self._kill(process, pgid)

    @staticmethod
    def _kill(process, pgid) -> None:
        if process.poll() is not None:  # ended (and reaped): its pid may be someone else's now
            return
        try:
            if pgid and hasattr(os, "killpg"):
                os.killpg(pgid, signal.SIGKILL)
            else:
                process.kill()
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _curve_available() -> bool:
    try:
        import zmq

        return bool(zmq.has("curve"))
    except ImportError:
        return False


# --- one lesson --------------------------------------------------------------------


@dataclass
class LessonRun:
    """What happened to one lesson in a report run."""

    lesson: str
    notebook: str
    status: str = "pending"  # complete | failed | skipped
    reason: str = ""
    seconds: float = 0.0
    html: str = ""
    results: dict = field(default_factory=dict)
    title: str = ""
    parameters: dict = field(default_factory=dict)
    started: float = 0.0  # seconds after the run started
    startup_seconds: float = 0.0  # until the first cell ran: kernel start, parameters
    kernel_starts: int = 0  # attempts to start the kernel (more than 1: it was slow to start)
    compute_seconds: float = 0.0  # the cells' own run time, summed
    cells: int = 0  # code cells
    cells_run: int = 0


@dataclass
class Progress:
    """A progress event of one lesson, passed to ``run_report(progress=…)``."""

    lesson: str
    status: str  # running | complete | failed | skipped
    cell: int  # code cells finished
    cells: int  # code cells in the lesson
    seconds: float
    reason: str = ""


class _Tracker:
    """Follows papermill's hooks: the notebook being run, which cell runs, progress."""

    def __init__(self, lesson: str, cells: int, notify, start: float):
        self.lesson, self.cells, self.notify, self.start = lesson, cells, notify, start
        self.nb = None  # the executed notebook, in memory (papermill writes no file)
        self.current = None  # the cell running (or last run)
        self.done = 0
        self.first_cell_at: float | None = None

    def on_notebook_start(self, notebook, **_):
        self.nb = notebook

    def on_cell_execute(self, cell, cell_index, **_):
        if self.first_cell_at is None:
            self.first_cell_at = time.perf_counter()
        self.current = cell

    def on_cell_executed(self, cell, cell_index, **_):
        if "injected-parameters" in cell.metadata.get("tags", []):
            return
        self.done += 1
        if self.notify:
            elapsed = time.perf_counter() - self.start
            self.notify(Progress(self.lesson, "running", self.done, self.cells, elapsed))


def run_lesson(
    notebook: Path,
    parameters: dict,
    workdir: Path,
    timeout: int | None,
    kernels: _Kernels | None = None,
    progress=None,
    html_name: str | None = None,
    hidden: dict[str, str] | None = None,
    run_start: float | None = None,
) -> LessonRun:
    """Execute one lesson with papermill in ``workdir``; never raises for a lesson failure.

    What runs is the lesson's batch form (:func:`crmlib.report.lessons.batch_notebook`:
    without its ``explorer`` cells, which need a person at JupyterLab). The
    kernel starts in ``workdir`` without changing this process's working
    directory (papermill's ``cwd=`` would ``os.chdir``, which threads share),
    and papermill writes no file: the executed notebook is written once,
    scrubbed, as ``workdir/<notebook>``, with its HTML copy.

    Parameters
    ----------
    notebook : Path
        The lesson.
    parameters : dict
        Values for its parameters cell.
    workdir : Path
        Where the executed notebook, its HTML and its results file go.
    timeout : int or None
        Seconds a single cell may run.
    kernels : optional
        The run's kernel registry; default a private one, emptied at the end.
    progress : callable, optional
        Called with a :class:`Progress` after each cell.
    html_name : str, optional
        The HTML file name; default ``<notebook>.html``.
    hidden : dict, optional
        Clear text to replace in the executed notebook (value → placeholder).
    run_start : float, optional
        ``time.perf_counter()`` at the start of the run, for ``LessonRun.started``.
    """
    import copy

    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    own_kernels = kernels is None
    kernels = kernels or _Kernels(dict(KERNEL_ENV, **{RESULTS_ENV: str(workdir)}))
    name = _name(notebook)
    lesson_nb = nbformat.read(notebook, as_version=4)
    batch = batch_notebook(notebook)
    cells = sum(c.cell_type == "code" for c in batch.cells)
    run = LessonRun(lesson=name, notebook=notebook.name, title=_title(lesson_nb, name), cells=cells)
    start = time.perf_counter()
    run.started = round(start - (run_start or start), 2)
    tracker = _Tracker(name, cells, progress, start)
    if progress:
        progress(Progress(name, "running", 0, cells, 0.0))
    nb = None

    def execute(start_timeout: int):
        return papermill.execute_notebook(
            copy.deepcopy(batch),
            None,
            parameters=parameters,
            execution_timeout=timeout,
            timeout_func=lambda cell: (
                None if WAIT_TAG in cell.metadata.get("tags", []) else timeout
            ),
            progress_bar=False,
            log_output=False,
            start_timeout=start_timeout,
            resources={"metadata": {"path": str(workdir)}},
            kernel_manager_class=kernels.manager_class,
            shutdown_kernel="immediate",
            on_notebook_start=tracker.on_notebook_start,
            on_cell_execute=tracker.on_cell_execute,
            on_cell_executed=tracker.on_cell_executed,
        )

    try:
        nb = _start_and_run(execute, tracker, kernels, timeout, run)
        run.status = "complete"
    except PapermillExecutionError as exc:
        run.status, run.reason = "failed", f"{exc.ename}: {exc.evalue}"
    except CellTimeoutError:
        run.status, run.reason = "failed", f"timed out after {timeout} s (the per-cell timeout)"
    except DeadKernelError:
        run.status, run.reason = "failed", "the kernel died (it crashed or was killed)"
    except _KernelStartError as exc:
        run.status, run.reason = "failed", str(exc)
    except Exception as exc:  # any other failure fails the lesson; the report goes on
        first = str(exc).splitlines()[0] if str(exc) else ""
        run.status, run.reason = "failed", f"{type(exc).__name__}: {first}".rstrip(": ")
    finally:
        if own_kernels:
            kernels.kill_all()
        _cancel_leftover_tasks()
    run.seconds = round(time.perf_counter() - start, 2)
    if tracker.first_cell_at is not None:
        run.startup_seconds = round(tracker.first_cell_at - start, 2)
    nb = nb if nb is not None else tracker.nb
    if run.status == "failed" and tracker.current is not None:
        run.reason = f"{_cell_label(lesson_nb, nb, tracker.current)}: {run.reason}"
    if nb is not None:
        try:
            if run.status == "complete":
                never = _first_unrun(nb)
                if never is not None:
                    label = _cell_label(lesson_nb, nb, never)
                    run.status, run.reason = (
                        "failed",
                        f"{label} never ran: the lesson stopped early",
                    )
            run.compute_seconds = round(_compute_seconds(nb), 2)
            run.cells_run = sum(
                c.cell_type == "code"
                and c.get("execution_count") is not None
                and "injected-parameters" not in c.metadata.get("tags", [])
                for c in nb.cells
            )
            nb = _scrub(nb, notebook.name, parameters, hidden or {})
            nbformat.write(nb, workdir / notebook.name)
            html_path = workdir / (html_name or Path(notebook.name).with_suffix(".html").name)
            _to_html(nb, html_path, run.title)
            run.html = html_path.name
        except Exception as exc:  # a broken page fails the lesson, not the run
            run.status = "failed"
            run.reason = f"the report page could not be written: {exc}"
    results = workdir / f"{name}{RESULTS_SUFFIX}"
    if results.exists():
        run.results = json.loads(results.read_text(encoding="utf-8"))
    if progress:
        progress(Progress(name, run.status, run.cells_run, cells, run.seconds, run.reason))
    return run


def _start_and_run(execute, tracker: _Tracker, kernels: _Kernels, timeout, run: LessonRun):
    """Run ``execute(start_timeout)``, starting the kernel again if it failed to start.

    On a loaded machine a kernel can take more than jupyter's 60 s to answer
    its first request ("Kernel didn't respond in 60 seconds"), or die while
    starting (e.g. a port taken by another process meanwhile). Nothing has
    run in it then, so the lesson is started again. All attempts share one
    budget: the per-cell timeout (at least :data:`KERNEL_START_MIN` s; with no
    per-cell timeout :data:`KERNEL_START_BUDGET` s). The first attempt waits
    up to half of it (at least :data:`KERNEL_START_MIN` s), later ones the
    rest, at most :data:`KERNEL_STARTS` attempts. A failure after the first
    cell started, or once the run was stopped, is not retried.
    """
    budget = max(KERNEL_START_MIN, timeout or KERNEL_START_BUDGET)
    deadline = time.perf_counter() + budget
    for attempt in range(1, KERNEL_STARTS + 1):
        remaining = deadline - time.perf_counter()
        wait = min(remaining, max(KERNEL_START_MIN, budget / 2)) if attempt == 1 else remaining
        run.kernel_starts = attempt
        try:
            return execute(max(1, math.ceil(wait)))
        except Exception as exc:
            started = tracker.first_cell_at is not None
            left = deadline - time.perf_counter()
            if started or kernels.cancelled:
                raise
            if attempt == KERNEL_STARTS or left < 1:
                raise _KernelStartError(attempt, budget, exc) from exc
            tracker.nb = tracker.current = None
            _cancel_leftover_tasks()
    raise AssertionError("unreachable")  # pragma: no cover


class _KernelStartError(Exception):
    """The lesson's kernel did not start, after every attempt."""

    def __init__(self, attempts: int, budget: float, cause: Exception):
        first = str(cause).splitlines()[0] if str(cause) else ""
        what = f"{type(cause).__name__}: {first}".rstrip(": ")
        super().__init__(
            f"the kernel did not start ({attempts} attempt(s) within {budget:.0f} s; last: {what})"
        )


def _cancel_leftover_tasks() -> None:
    """Cancel what nbclient left pending on this thread's event loop.

    After a kernel death or a timeout nbclient leaves its output-polling task
    behind; cancelled here, it does not end the process with "Task was
    destroyed but it is pending!".
    """
    import asyncio

    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return
    if loop.is_running() or loop.is_closed():
        return
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _cell_label(lesson_nb, executed, cell) -> str:
    """'cell N (first line)' for a cell of the executed notebook, N counted in the lesson.

    The executed notebook is the lesson without its explorer cells, plus
    papermill's injected-parameters cell (and, after an error, its banner
    cells): N is the cell's position in the lesson file, from 1.
    """
    own = [
        c
        for c in executed.cells
        if not {"injected-parameters", "papermill-error-cell-tag"} & set(c.metadata.get("tags", []))
    ]
    kept = [
        i for i, c in enumerate(lesson_nb.cells) if EXPLORER_TAG not in c.metadata.get("tags", [])
    ]
    position = next((i for i, c in enumerate(own) if c is cell), None)
    if position is None or position >= len(kept):  # the injected cell itself
        return "the injected parameters cell"
    lines = cell.source.strip().splitlines()
    first = lines[0][:60] if lines else ""
    return f"cell {kept[position] + 1} ({first})"


def _first_unrun(nb):
    """The first code cell that never ran (e.g. after sys.exit), or None."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.strip() and cell.get("execution_count") is None:
            return cell
    return None


def _compute_seconds(nb) -> float:
    return sum(
        float(c.metadata.get("papermill", {}).get("duration") or 0.0)
        for c in nb.cells
        if c.cell_type == "code"
    )


def _scrub(nb, name: str, parameters: dict, hidden: dict[str, str]):
    """Keep paths and secrets out of an executed notebook, wherever papermill put them.

    The papermill metadata keeps only the notebook's name and redacted
    parameters; then every clear value in ``hidden`` (and every parameter
    :func:`crmlib.data.privacy.redact_parameters` hides) is replaced in the whole
    notebook: the injected-parameters cell, outputs, tracebacks.
    """
    import nbformat

    redacted = privacy.redact_parameters(
        parameters, {"data_path": HIDDEN_PATH, RESULTS_PARAMETER: HIDDEN_REPORT}
    )
    for key, value in parameters.items():  # e.g. the data snapshot: shown as the data it holds
        if isinstance(value, (str, os.PathLike)) and str(value) in hidden:
            redacted[key] = hidden[str(value)]
    clear = dict(hidden)
    for key, value in parameters.items():
        if redacted.get(key) != value and isinstance(value, (str, os.PathLike)):
            clear.setdefault(str(value), str(redacted[key]))
    meta = nb.metadata.setdefault("papermill", {})
    meta["input_path"] = meta["output_path"] = name
    meta.pop("cwd", None)
    meta["parameters"] = redacted
    meta["environment_variables"] = {}
    text = json.dumps(nb)
    for value in sorted(clear, key=len, reverse=True):
        if value:
            text = text.replace(json.dumps(value)[1:-1], json.dumps(clear[value])[1:-1])
    return nbformat.from_dict(json.loads(text))


# --- the report --------------------------------------------------------------------


@dataclass
class ReportResult:
    """``out`` is the report folder written; ``complete`` only when every lesson completed."""

    out: Path
    complete: bool
    runs: list[LessonRun]
    pdf_error: str = ""


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _resolve_paths(parameters: dict) -> dict:
    """Relative paths given as parameters, made absolute: the kernels run elsewhere."""
    return {
        k: str(Path(v).expanduser().resolve())
        if isinstance(v, str) and privacy.is_existing_path(v) and k != "client_name"
        else v
        for k, v in parameters.items()
    }


def _check_out(out: Path) -> None:
    """Refuse to replace a folder that is not a report."""
    if out.exists() and (
        not out.is_dir()
        or (
            any(out.iterdir())
            and not (out / "manifest.json").exists()
            and not (out / INDEX).exists()
        )
    ):
        raise CRMError(
            f"{out.name} exists and is not a crm report; choose another --out (a report "
            "folder is replaced when the new report is complete)"
        )


def run_report(
    data,
    client: str,
    out: Path,
    as_of: str | None = None,
    only: list[str] | None = None,
    params: dict | None = None,
    timeout: int | None = 600,
    progress=None,
    lessons_dir: Path = NOTEBOOKS_DIR,
    jobs: int | None = None,
    pdf: bool = False,
    chromium: str | None = None,
    engine: str = "pandas",
    spark_master: str | None = None,
    snapshot: bool = True,
) -> ReportResult:
    """Validate the client folder, run the lessons on it and build the report.

    The model lessons run ``jobs`` at a time, each in its own kernel, from
    threads of this process; the summary lesson (``05_client_summary``, when
    present) runs last, reads their results and becomes ``index.html``.

    Parameters
    ----------
    data : str or Path
        A client folder, or ``"sample"`` / ``"cdnow"``.
    client : str
        The client's name, shown in the report.
    out : Path
        The report folder.
    as_of : str, optional
        Last day of the data (YYYY-MM-DD).
    only : list of str, optional
        Lessons to run (names without number); the others are listed as skipped.
        The summary always runs.
    params : dict, optional
        Lesson parameters; each must be declared by at least one lesson.
    timeout : int or None, default 600
        Seconds a single cell may run.
    progress : callable, optional
        Called with a :class:`Progress` per lesson event, from several threads
        (one at a time).
    lessons_dir : Path
        Where the lessons are.
    jobs : int, optional
        Lessons run at once; default the number of cores.
    pdf : bool, default False
        Also print the summary to ``summary.pdf`` with headless Chromium.
    chromium : str, optional
        The Chromium executable (default: ``$CRM_CHROMIUM`` or on PATH).
    engine : {"pandas", "duckdb", "spark"}
        Where the lessons run their transaction-level steps
        (:mod:`crmlib.engines`): passed to every lesson that takes an
        ``engine`` parameter, and recorded in the manifest.
    spark_master : str, optional
        For ``engine="spark"``: the cluster's master URL (default: Spark
        in local mode in each lesson's kernel).
    snapshot : bool, default True
        Hand the lessons the validated data as a snapshot
        (:mod:`crmlib.data.snapshot`), so that the folder is validated once. False:
        every lesson loads and validates the client folder itself (the way
        before the snapshot; slower, kept for comparison).

    Returns
    -------
    ReportResult
        ``complete`` is True only when every lesson completed; the report is
        then in ``out``. Otherwise it is in ``<out>.incomplete``.

    Raises
    ------
    crmlib.errors.CRMError
        Unusable data (the validation message), an unknown lesson or
        parameter, no Chromium for ``pdf``, an ``out`` that is not a report,
        or another run writing ``out`` now (see :class:`_OutLock`).
    KeyboardInterrupt
        After stopping every kernel and removing the temporary folder.
    """
    out = Path(out).resolve()
    with _OutLock(out):
        return _run_report(
            data,
            client,
            out,
            as_of,
            only,
            params,
            timeout,
            progress,
            lessons_dir,
            jobs,
            pdf,
            chromium,
            engine,
            spark_master,
            snapshot,
        )


def _run_report(
    data,
    client,
    out,
    as_of,
    only,
    params,
    timeout,
    progress,
    lessons_dir,
    jobs,
    pdf,
    chromium,
    engine,
    spark_master,
    snapshot,
) -> ReportResult:
    """:func:`run_report`, while it holds the lock on ``out``."""
    from crmlib.data import datasets

    run_start = time.perf_counter()
    engines.check_engine(engine)
    if spark_master and engine != "spark":
        raise CRMError("--spark-master is for --engine spark")
    if engine == "spark" and importlib.util.find_spec("pyspark") is None:
        raise CRMError("--engine spark needs pyspark: pip install 'crm-workbook[spark]'")
    chromium_path = None
    if pdf:
        chromium_path = find_chromium(chromium)
        if not chromium_path:
            raise CRMError(
                "--pdf needs Chromium, and none was found (looked for "
                f"{', '.join(CHROMIUM_NAMES)} on PATH and ${CHROMIUM_ENV}); install it, e.g. "
                "`apt-get install chromium`, or run without --pdf"
            )
    if jobs is None:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    jobs = max(1, jobs or 1)
    named = str(data) in datasets.NAMED
    data = str(data) if named else Path(data).resolve()
    out = Path(out).resolve()
    _check_out(out)
    if not os.environ.get(privacy.KEY_ENV, "").strip():
        key_file = privacy.key_path().expanduser().resolve()
        if any(key_file.is_relative_to(d) for d in (out, out.with_name(out.name + ".incomplete"))):
            raise CRMError("the pseudonym key file must not be inside the report folder")
    privacy.load_key()  # made (or refused) before any lesson needs it
    validated = datasets.load(data, as_of=as_of)

    every = lessons(None, lessons_dir)
    if not every:
        raise CRMError(f"no lessons found in {Path(lessons_dir).name}/")
    selected = lessons(only, lessons_dir)
    summary = next((nb for nb in every if _name(nb) == SUMMARY), None)
    models = [nb for nb in selected if nb != summary]
    skipped = [nb for nb in every if nb not in selected and nb != summary]

    user = dict(params or {})
    if RESULTS_PARAMETER in user:
        raise CRMError(f"{RESULTS_PARAMETER} is set by crm report; do not pass it")
    parameters = {"data_path": str(data), "client_name": client, "as_of": as_of}
    parameters.update(_resolve_paths(user))
    to_run = models + ([summary] if summary else [])
    declared = {nb: _declared(nb) for nb in to_run}
    for nb in to_run:
        check_parameters(nb, {k: v for k, v in parameters.items() if k in COMMON_PARAMETERS})
    taken = {name for nb in to_run for name in declared[nb]}
    unused = sorted(set(parameters) - taken)
    if unused:
        raise CRMError(
            f"unknown parameter(s) {', '.join(unused)}: no lesson takes them; "
            f"the lessons take: {', '.join(sorted(taken - {RESULTS_PARAMETER}))}"
        )
    for key, value in ((ENGINE_PARAMETER, engine), (SPARK_PARAMETER, spark_master)):
        if key in user:
            raise CRMError(f"set {key} with --{key.replace('_', '-')}, not --param")
        parameters[key] = value  # for the lessons that declare it

    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    hidden = {str(work): HIDDEN_REPORT}
    if not named:
        hidden[str(data)] = HIDDEN_PATH
    kernels = _Kernels(dict(KERNEL_ENV, **{RESULTS_ENV: str(work)}))
    lock = threading.Lock()

    def notify(event: Progress) -> None:
        if progress:
            with lock:
                progress(event)

    lesson_data = str(data)  # what the lessons load: the snapshot once it is written

    def own(nb: Path) -> dict:
        mine = {k: v for k, v in parameters.items() if k in declared[nb]}
        if "data_path" in mine:
            mine["data_path"] = lesson_data
        if RESULTS_PARAMETER in declared[nb]:
            mine[RESULTS_PARAMETER] = str(work)
        return mine

    def submit(pool, nb: Path, html_name: str | None = None):
        return pool.submit(
            run_lesson,
            nb,
            own(nb),
            work,
            timeout,
            kernels,
            notify,
            html_name,
            hidden,
            run_start,
        )

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="crm-lesson")
    try:
        if snapshot:
            lesson_data = _write_snapshot(validated, work / SNAPSHOT_DIR, as_of) or lesson_data
            hidden[str(work / SNAPSHOT_DIR)] = str(data) if named else HIDDEN_PATH
        futures = {submit(pool, nb): nb for nb in models}
        # queued last, the summary starts when a slot frees after every lesson has started;
        # it loads its data meanwhile and waits (load_results) for sections.json
        (work / PENDING_FILE).touch()
        summary_future = submit(pool, summary, INDEX) if summary else None
        by_notebook = {}
        for future in as_completed(futures):
            by_notebook[futures[future]] = future.result()
        runs = [by_notebook[nb] for nb in models]
        for nb in skipped:
            runs.append(_skipped(nb))
            notify(Progress(_name(nb), "skipped", 0, 0, 0.0, runs[-1].reason))
        runs.sort(key=lambda r: r.notebook)
        _write_sections(work, runs)
        (work / PENDING_FILE).unlink()
        if summary_future is not None:
            runs.append(summary_future.result())
    except BaseException:
        kernels.kill_all()  # first, so that the threads' lessons end now
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        kernels.kill_all()
    pool.shutdown(wait=True)

    summary_run = next((r for r in runs if r.lesson == SUMMARY), None)
    complete = all(r.status in ("complete", "skipped") for r in runs)
    manifest = _manifest(
        client, complete, validated, parameters, declared, runs, named, data, jobs, run_start
    )
    if summary_run is None or summary_run.status != "complete" or not (work / INDEX).exists():
        if summary_run is not None and summary_run.html == INDEX:  # keep the failed summary
            summary_run.html = summary.with_suffix(".html").name
            (work / INDEX).rename(work / summary_run.html)
            for entry in manifest["lessons"]:
                if entry[LESSON] == SUMMARY:
                    entry["html"] = summary_run.html
        (work / INDEX).write_text(_index(client, manifest, validated), encoding="utf-8")
    pdf_error = ""
    if pdf:
        try:
            print_pdf(work / INDEX, work / PDF_NAME, chromium_path)
            manifest["pdf"] = PDF_NAME
        except CRMError as exc:
            pdf_error = str(exc)
            manifest["pdf"] = None
            manifest["pdf_error"] = pdf_error
    (work / "manifest.json").write_text(
        json.dumps(manifest, indent=2, default=_jsonable), encoding="utf-8"
    )
    for f in [*work.glob(f"*{RESULTS_SUFFIX}"), work / SECTIONS_FILE]:
        f.unlink(missing_ok=True)

    target = _move_into_place(work, out, complete)
    return ReportResult(target, complete, runs, pdf_error)


def _skipped(nb: Path) -> LessonRun:
    return LessonRun(
        lesson=_name(nb),
        notebook=nb.name,
        status="skipped",
        reason="not in --only",
        title=_name(nb),
    )


def _write_sections(work: Path, runs: list[LessonRun]) -> None:
    sections = [
        {
            LESSON: r.lesson,
            "notebook": r.notebook,
            "title": r.title,
            "status": r.status,
            "reason": r.reason,
            "seconds": r.seconds,
            "html": r.html,
        }
        for r in runs
    ]
    tmp = work / (SECTIONS_FILE + ".tmp")
    tmp.write_text(json.dumps(sections, indent=2), encoding="utf-8")
    os.replace(tmp, work / SECTIONS_FILE)  # whole, for the summary that waits for it


def _manifest(client, complete, validated, parameters, declared, runs, named, data, jobs, start):
    redact = {"data_path": HIDDEN_PATH}
    lessons_out = []
    seeds = dict(KERNEL_ENV)
    for r in runs:
        entry = asdict(r)
        entry[NOT_ASSESSED] = list((r.results or {}).get(NOT_ASSESSED) or [])
        nb = next((n for n in declared if n.name == r.notebook), None)
        if nb is not None:
            effective = _defaults(declared[nb])
            effective.update({k: v for k, v in parameters.items() if k in declared[nb]})
            if RESULTS_PARAMETER in effective:
                effective[RESULTS_PARAMETER] = HIDDEN_REPORT
            entry["parameters"] = privacy.redact_parameters(effective, redact)
            seeds.update(
                {f"{r.lesson}.{k}": v for k, v in effective.items() if "seed" in k.lower()}
            )
        lessons_out.append(entry)
    data_hashes = fingerprint(validated.source)
    parameter_files = {
        k: {Path(v).name: _sha256(Path(v))}
        for k, v in parameters.items()
        if k != "data_path" and privacy.is_existing_path(v) and Path(v).is_file()
    }
    rejected = validated.top_reasons(10)
    return {
        "report_format": 1,
        "client": client,
        "complete": complete,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "as_of": str(validated.as_of.date()) if validated.as_of is not None else None,
        "data": str(data) if named else HIDDEN_PATH,
        "data_fingerprint": data_hashes,
        "data_fingerprint_sha256": _combined(data_hashes),
        "parameter_files": parameter_files,
        "parameters": privacy.redact_parameters(parameters, redact),
        "rows": {n: asdict(r) for n, r in validated.reports.items()},
        "rejected_values": int(len(validated.rejects)),
        "rejected_top_reasons": rejected.to_dict(orient="records"),
        "lessons": lessons_out,
        "seeds": seeds,
        "versions": _versions(),
        "jobs": jobs,
        "seconds": round(time.perf_counter() - start, 2),
    }


def _write_snapshot(validated, folder: Path, as_of) -> str | None:
    """Write the validated data for the lessons; None (and a logged warning) if it cannot be."""
    from crmlib.data import snapshot

    try:
        return str(snapshot.write(validated, folder, as_of=as_of))
    except Exception as exc:  # the lessons then load the client folder themselves
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        logging.getLogger(__name__).warning(
            "the validated data could not be stored for the lessons (%s); each lesson "
            "validates the client folder itself",
            first,
        )
        return None


class _OutLock:
    """``.<out>.lock`` beside the report folder: one run at a time writes a report folder.

    The file holds the pid, host and start time of the run that writes
    ``out``, under an exclusive ``flock``. A second run into the same folder
    finds the lock held and is refused with a :class:`CRMError` naming that
    run. The operating system releases the lock when its process ends, however
    it ends, so a file left by a run that was killed (its pid gone) is stale:
    the next run takes it over. The file is removed when the run ends.
    """

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = self.out.with_name(f".{self.out.name}{LOCK_SUFFIX}")
        self._fd: int | None = None
        self._made: list[Path] = []

    def __enter__(self) -> _OutLock:
        import fcntl

        missing = [p for p in (self.out.parent, *self.out.parent.parents) if not p.exists()]
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._made = missing  # deepest first, removed again if left empty
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = self._holder(fd)
                os.close(fd)
                self._remove_made()
                raise CRMError(
                    f"another crm report{holder} is writing {self.out.name} now; wait until it "
                    "ends, or choose another --out"
                ) from None
            try:  # the last holder may have removed the file meanwhile: lock the one in place
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        stamp = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(stamp).encode("utf-8"))
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing releases the lock
            self._fd = None
            self._remove_made()

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            stamp = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
            return f" (process {int(stamp['pid'])}, started {stamp['started']})"
        except (OSError, ValueError, KeyError, TypeError):
            return ""  # it is still writing its stamp

    def _remove_made(self) -> None:
        for folder in self._made:
            try:
                folder.rmdir()
            except OSError:
                break


def _move_into_place(work: Path, out: Path, complete: bool) -> Path:
    """Rename the finished work folder to ``out`` (complete) or ``out.incomplete``.

    The data snapshot (:data:`SNAPSHOT_DIR`, personal data) is deleted first:
    it is never part of a report, complete or not.
    """
    if (work / SNAPSHOT_DIR).exists():
        shutil.rmtree(work / SNAPSHOT_DIR)
    incomplete = out.with_name(out.name + ".incomplete")
    target = out if complete else incomplete
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        work.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        work.rename(target)
    if complete:
        shutil.rmtree(incomplete, ignore_errors=True)
    return target


def _index(client: str, manifest: dict, validated) -> str:
    """The plain index, used when the summary lesson is absent or failed."""
    esc = html.escape
    status = (
        "Complete"
        if manifest["complete"]
        else "INCOMPLETE: "
        + ", ".join(
            f"{r['lesson']} {r['status']}" for r in manifest["lessons"] if r["status"] == "failed"
        )
    )
    rows = []
    for r in manifest["lessons"]:
        link = (
            f'<a href="{esc(r["html"])}">{esc(r["lesson"])}</a>' if r["html"] else esc(r["lesson"])
        )
        results = "".join(
            f"<li>{esc(str(k))}: {esc(str(v))}</li>"
            for k, v in r["results"].items()
            if k not in RESERVED_RESULTS
        ) + "".join(
            f"<li>could not be assessed: {esc(e[REASON])}</li>" for e in r.get(NOT_ASSESSED, [])
        )
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
