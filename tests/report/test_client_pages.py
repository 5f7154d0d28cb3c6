"""Every page of a fresh client report, read in Chromium as the client sees it (issue #16).

Three reports are made as a user makes them: the sample (in euros), a CDNOW-only client
(transactions only, ``crm report cdnow``) and a fresh ``crm synth`` client of 1,500
customers. Every page is opened from disk in Debian's Chromium (Playwright) with the network
blocked, and its visible text (``innerText``) and elements are checked: no snake_case key,
no ``NaN``, no TeX, no lesson or exercise wording, no label cut mid-word, no pandas
truncation; navigation on every page; formulas typeset as MathML with a size; every image
described. At phone width (375 px) the page must not scroll sideways; at 1280 px neither,
no image is wider than the box that holds it, and every chart shows at its own size (no
wider than the text column). Screenshots of every page at 1280 and 375 px land in
``$CRM_SCREENSHOTS_DIR`` (default ``var/screenshots/``): look at them.

Each check is its own test, per client, and lists every page and passage that fails it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from browser_helpers import PAGE_FACTS, block_network, chromium_browser
from report_helpers import crm

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium")
IN_CI = os.environ.get("CI") == "true"
SCREENSHOTS_ENV = "CRM_SCREENSHOTS_DIR"
WIDE, PHONE = 1280, 375

pytestmark = pytest.mark.slow

if CHROMIUM is None and not IN_CI:
    pytest.skip(
        "no `chromium` on PATH: the client-pages test reads the report in Debian's Chromium "
        "(apt-get install chromium); in CI (CI=true) this is a failure instead",
        allow_module_level=True,
    )

# --- what a client page must never show ------------------------------------------------------

#: a word with an underscore: a key, a column or a parameter name (a file the client named,
#: such as cost_rates.csv, is shown as named)
SNAKE_CASE = re.compile(
    r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b(?!\.(?:csv|txt|tsv|parquet|json|xlsx)\b)"
)
MISSING = re.compile(r"\bNaN\b|\bnan\b|<NA>|\bNaT\b")
TEX = re.compile(
    r"\$\$|\$[^\s$][^$\n]*\$|\\(?:frac|sum|text|sqrt|cdot|times|le|ge|pm|lceil|rceil|overline)\b"
)
WORDING = re.compile(r"\b(?:lessons?|exercises?|students?)\b|\byou will\b", re.IGNORECASE)
#: a word cut short: letters run straight into an ellipsis ("value a…", "betwe...")
CUT = re.compile(r"[A-Za-z](?:…|\.\.\.)")
#: pandas' truncation: a row or column of "..." / "…", or the "N rows × M columns" line
TRUNCATED = re.compile(r"(?:^|[\s|])(?:\.\.\.|…)(?=[\s|]|$)|\d+ rows × \d+ columns", re.MULTILINE)


def passages(pattern: re.Pattern, text: str, limit: int = 4) -> list[str]:
    """Up to ``limit`` places where ``pattern`` occurs, each with a little context."""
    out = []
    for match in pattern.finditer(text):
        start, end = max(0, match.start() - 30), min(len(text), match.end() + 30)
        out.append(repr(text[start:end].replace("\n", " / ")))
        if len(out) == limit:
            break
    return out


# --- three fresh reports -------------------------------------------------------------------


def currency_args(code: str) -> list[str]:
    """``--currency CODE``; where the command does not have that option yet, the lessons'
    ``currency`` parameter (``--param currency=CODE``)."""
    has_option = "--currency" in crm("report", "--help").stdout
    return ["--currency", code] if has_option else ["--param", f"currency={code}"]


def make_report(name: str, root: Path) -> Path:
    out = root / name
    if name == "sample":
        run = crm("report", "--client", "Sample client", "--out", out, *currency_args("EUR"))
    elif name == "cdnow":
        run = crm("report", "cdnow", "--client", "CDNOW client", "--out", out)
    else:
        folder = root / "synth-data"
        made = crm("synth", "--customers", "1500", "--seed", "16", "--out", folder)
        assert made.returncode == 0, made.stderr
        run = crm("report", folder, "--client", "Synth client", "--out", out)
    if run.returncode != 0:  # the checks still read the pages of the incomplete report
        incomplete = out.with_name(out.name + ".incomplete")
        assert incomplete.exists(), run.stderr
        return incomplete
    return out


def formulas_in(notebook: Path) -> int:
    """Markdown cells of the report view that hold a formula (``$…$`` outside code)."""
    nb = nbformat.read(notebook, as_version=4)
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "markdown" or "lesson-only" in cell.metadata.get("tags", []):
            continue
        prose = re.sub(r"```.*?```|`[^`\n]*`", "", cell.source, flags=re.DOTALL)
        prose = prose.replace("\\$", "")
        count += bool(re.search(r"\$[^$\s][^$]*\$", prose))
    return count


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or REPO / "var" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module", params=["sample", "cdnow", "synth"])
def client(request, tmp_path_factory, browser, screenshots):
    """One fresh report, every page read in the browser at 1280 and at 375 px wide."""
    name = request.param
    out = make_report(name, tmp_path_factory.mktemp(f"client-{name}"))
    manifest = json.loads((out / "manifest.json").read_text())
    pages = {}
    for path in sorted(out.glob("*.html")):
        facts = {}
        for width in (WIDE, PHONE):
            context = browser.new_context(viewport={"width": width, "height": 900})
            tried = block_network(context)
            try:
                page = context.new_page()
                page.goto(path.as_uri(), wait_until="load")
                facts[width] = page.evaluate(PAGE_FACTS)
                facts[width]["fetched"] = list(tried)
                page.screenshot(path=screenshots / f"{name}-{path.stem}-{width}.png", full_page=True)
            finally:
                context.close()
        notebook = out / ("05_client_summary.ipynb" if path.name == "index.html" else path.stem + ".ipynb")
        pages[path.name] = {
            "wide": facts[WIDE],
            "phone": facts[PHONE],
            "formulas": formulas_in(notebook) if notebook.exists() else 0,
        }
    return {"name": name, "out": out, "manifest": manifest, "pages": pages}


def fail_on(problems: dict[str, list[str]], what: str) -> None:
    problems = {page: found for page, found in problems.items() if found}
    if problems:
        lines = [f"{page}: {'; '.join(found)}" for page, found in sorted(problems.items())]
        pytest.fail(f"{what}:\n" + "\n".join(lines), pytrace=False)


def text_check(client, pattern: re.Pattern, what: str) -> None:
    fail_on({n: passages(pattern, p["wide"]["prose"]) for n, p in client["pages"].items()}, what)


# --- the checks ----------------------------------------------------------------------------


def test_the_report_is_complete(client):
    failed = [
        f"{e['lesson']}: {e.get('reason', '')}"
        for e in client["manifest"]["lessons"]
        if e["status"] != "complete"
    ]
    assert client["manifest"]["complete"] and not failed, failed


def test_every_section_has_a_page(client):
    expected = {"index.html"} | {
        e["html"] for e in client["manifest"]["lessons"] if e.get("html")
    }
    assert set(client["pages"]) == expected and len(expected) >= 2


def test_no_snake_case_key(client):
    text_check(client, SNAKE_CASE, "a key name (a word with an underscore) shows")


def test_no_nan(client):
    text_check(client, MISSING, "a missing value shows as NaN (say why it is missing)")


def test_no_tex(client):
    text_check(client, TEX, "TeX shows as typed")


def test_no_lesson_or_exercise_wording(client):
    text_check(client, WORDING, "lesson, exercise or student wording on a client page")


def test_no_label_cut_mid_word(client):
    text_check(client, CUT, "a label is cut mid-word")


def test_no_pandas_truncation(client):
    text_check(client, TRUNCATED, "a table is truncated by pandas")


def test_navigation_on_every_page(client):
    sections = [e["html"] for e in client["manifest"]["lessons"] if e.get("html")]
    problems = {}
    for name, page in client["pages"].items():
        facts, found = page["wide"], []
        if facts["nav"] is None:
            found.append("no top bar")
        else:
            missing = sorted(set(sections) - set(facts["nav"]))
            if missing:
                found.append(f"no link to {', '.join(missing)}")
            if facts["current"] != [name]:
                found.append(f"marked as current: {facts['current']} (expected {name})")
        headings = set(facts["headings"])
        if headings and set(facts["toc"]) != headings:
            found.append(
                f"table of contents {len(facts['toc'])} entries for {len(headings)} headings"
            )
        problems[name] = found
    fail_on(problems, "navigation")


def test_formulas_are_typeset(client):
    problems = {}
    for name, page in client["pages"].items():
        facts, found = page["wide"], []
        if page["formulas"] and not facts["math"]:
            found.append(f"{page['formulas']} cell(s) with formulas but no math element")
        empty = [box for box in facts["math"] if box[0] <= 0 or box[1] <= 0]
        if empty:
            found.append(f"{len(empty)} of {len(facts['math'])} math elements have no size")
        if facts["tex"]:
            found.append(f"not converted: {facts['tex'][:3]}")
        if facts["mathTyped"]:
            found.append(f"a TeX command shows as typed: {facts['mathTyped'][:3]}")
        if facts["mathWide"]:
            found.append(f"wider than the text column: {facts['mathWide'][:3]}")
        problems[name] = found
    fail_on(problems, "formulas")


def test_every_image_is_described(client):
    problems = {}
    for name, page in client["pages"].items():
        images = page["wide"]["images"]
        found = []
        blank = [i for i in images if not (i["alt"] or "").strip()]
        if blank:
            found.append(f"{len(blank)} image(s) without alt text")
        plain = [i for i in images if i["alt"] == "Chart"]
        if plain:
            found.append(
                f"{len(plain)} chart(s) without the cell metadata alt and caption "
                "(shown as 'Chart', no caption)"
            )
        broken = [i for i in images if not i["width"]]
        if broken:
            found.append(f"{len(broken)} image(s) that did not load")
        problems[name] = found
    fail_on(problems, "images")


def test_pages_load_nothing_from_outside(client):
    fail_on(
        {
            n: p["wide"]["fetched"][:3] + p["phone"]["fetched"][:3]
            for n, p in client["pages"].items()
        },
        "a page tried to fetch from the network",
    )


def test_phone_width_has_no_sideways_scroll(client):
    fail_on(
        {
            n: [f"page {p['phone']['pageWidth']} px wide in a {p['phone']['viewWidth']} px view"]
            for n, p in client["pages"].items()
            if p["phone"]["pageWidth"] > p["phone"]["viewWidth"]
        },
        f"the page scrolls sideways at {PHONE} px",
    )


def test_wide_view_has_no_sideways_scroll(client):
    """At 1280 px no page scrolls sideways and no image overflows its box (a box that
    overflows scrolls sideways on its own: a chart with a border one pixel too wide did)."""
    problems = {}
    for name, page in client["pages"].items():
        facts, found = page["wide"], []
        if facts["pageWidth"] > facts["viewWidth"]:
            found.append(f"page {facts['pageWidth']} px wide in a {facts['viewWidth']} px view")
        for image in facts["images"]:
            if image["shown"] > image["box"] + 0.5:
                found.append(
                    f"image {image['alt'][:40]!r} {image['shown']:.0f} px in a "
                    f"{image['box']} px box"
                )
        problems[name] = found
    fail_on(problems, f"sideways at {WIDE} px")


def test_charts_fit_the_text_column(client):
    """Every chart is drawn no wider than the text column at 1280 px (920 px: a 9 in figure
    at 100 dpi, crmlib.plots.style), so the browser does not shrink it and its labels; the
    summary shows a key chart."""
    summary = client["pages"]["index.html"]["wide"]
    assert any(i["keyChart"] for i in summary["images"]), "the summary shows no key chart"
    fail_on(
        {
            name: [
                f"{i['alt'][:40]!r} drawn {i['width']} px wide for a "
                f"{page['wide']['column']} px column"
                for i in page["wide"]["images"]
                if i["width"] > page["wide"]["column"]
            ]
            for name, page in client["pages"].items()
        },
        f"a chart is wider than the text column at {WIDE} px",
    )
