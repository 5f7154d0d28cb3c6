"""The lessons in a real JupyterLab, driven by Debian's Chromium through Playwright.

One JupyterLab server (with the settings shipped in ``jupyter/``) and one browser serve
all the tests of this module. Each lesson in ``notebooks/`` is opened, run with
Run > Run All Cells, and checked: no error output, every explorer cell shows a rendered
widget, no dialog or notification in the way, and one control of the lesson, moved with
the keyboard, changes the text next to it the way it should. A screenshot of each lesson
lands in ``$CRM_SCREENSHOTS_DIR`` (default ``var/screenshots/``).

Outside CI the module skips itself when no ``chromium`` is installed; in CI
(``CI=true``) a missing Chromium is a failure.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import nbformat
import pytest
from browser_helpers import (
    NOTEBOOK,
    STDERR,
    LabServer,
    cell,
    chromium_browser,
    explorer,
    open_notebook,
    press,
    run_all,
    slider,
)
from playwright.sync_api import Locator, Page, expect

REPO = Path(__file__).resolve().parents[2]
LESSONS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted(
    p for p in (REPO / "exercises").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)
CHROMIUM = shutil.which("chromium")
IN_CI = os.environ.get("CI") == "true"
SCREENSHOTS_ENV = "CRM_SCREENSHOTS_DIR"

pytestmark = pytest.mark.slow

if CHROMIUM is None and not IN_CI:
    pytest.skip(
        "no `chromium` on PATH: the browser test drives Debian's Chromium "
        "(apt-get install chromium); in CI (CI=true) this is a failure instead",
        allow_module_level=True,
    )


# --- fixtures: one server, one browser, a fresh page per test ------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """JupyterLab with the shipped settings, serving copies of notebooks/ and exercises/."""
    root = tmp_path_factory.mktemp("lab-root")
    skip = shutil.ignore_patterns(".ipynb_checkpoints", "var", "__pycache__")
    for folder in ("notebooks", "exercises"):
        shutil.copytree(REPO / folder, root / folder, ignore=skip)
    lab = LabServer(root, tmp_path_factory.mktemp("lab-home"))
    try:
        yield lab.start()
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()
        server.shutdown_kernels()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or REPO / "var" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- what a notebook file says -------------------------------------------------------------


def code_cell_count(notebook) -> int:
    return sum(c.cell_type == "code" for c in notebook.cells)


def widget_cells(notebook) -> list[int]:
    """Indices of the cells that call an explorer imported from ``crmlib.widgets``."""
    trees = {}
    for i, c in enumerate(notebook.cells):
        if c.cell_type == "code":
            try:
                trees[i] = ast.parse(c.source)
            except SyntaxError:  # IPython syntax (magics): not an explorer call
                continue
    explorers = {
        alias.asname or alias.name
        for tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("crmlib.widgets")
        for alias in node.names
    }
    return [
        i
        for i, tree in trees.items()
        if any(
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in explorers
            for node in ast.walk(tree)
        )
    ]


def kernel_display_name(server: LabServer, notebook) -> str:
    """The display name of the kernel the notebook asks for, as the server knows it."""
    name = notebook.metadata["kernelspec"]["name"]
    specs = server.api("GET", "/api/kernelspecs")["kernelspecs"]
    assert name in specs, f"the server has no kernel {name!r}; it has {sorted(specs)}"
    return specs[name]["spec"]["display_name"]


# --- checks on the page --------------------------------------------------------------------


def error_outputs(page: Page) -> list[tuple[int, str]]:
    """(cell index, text) of every stderr or error output shown in the notebook."""
    return page.locator(f"{NOTEBOOK} {STDERR}").evaluate_all(
        """(outputs, selector) => outputs.map(o => [
            [...document.querySelectorAll(selector + ' .jp-Cell')].indexOf(o.closest('.jp-Cell')),
            o.textContent])""",
        NOTEBOOK,
    )


def check_widgets(page: Page, lesson: str, cells: list[int]) -> None:
    """Each explorer cell shows a rendered widget view; no widget failed or still loads."""
    for i in cells:
        view = cell(page, i).locator(".jp-OutputArea-output > .jupyter-widgets").first
        expect(view, f"{lesson}, cell {i}: no widget view").to_be_attached(timeout=15_000)
    outputs = page.locator(f"{NOTEBOOK} .jp-OutputArea").evaluate_all(
        "areas => areas.map(a => a.textContent).join('\\n')"
    )
    for failure in ("Error displaying widget", "Loading widget..."):
        assert failure not in outputs, f"{lesson}: a widget shows {failure!r}"


def check_nothing_in_the_way(page: Page, lesson: str) -> None:
    """No dialog (kernel picker, build prompt) and no notification (news, updates) shows."""
    dialogs = page.locator(".jp-Dialog").all_text_contents()
    assert not dialogs, f"{lesson}: a dialog is open: {dialogs[0][:300]}"
    toasts = page.locator(".Toastify__toast").all_text_contents()
    assert not toasts, f"{lesson}: a notification shows: {toasts[0][:300]}"


# --- one interaction per lesson ------------------------------------------------------------


def numbers(text: str, pattern: str) -> tuple[str, ...]:
    """The groups of ``pattern`` in ``text`` (a failed match says what the text was)."""
    match = re.search(pattern, " ".join(text.split()))
    assert match, f"{pattern!r} not found in {text!r}"
    return match.groups()


def amount(text: str) -> float:
    """'1,234.5' -> 1234.5; '-1,234' -> -1234.0."""
    return float(text.replace(",", ""))


def readout(control: Locator) -> float:
    """The value a slider shows next to it: '59%' -> 59.0, '2.50' -> 2.5, '1,200' -> 1200.0.

    (The handle's aria-valuenow is rounded to one decimal: no use for 0.59.)
    """
    return amount(control.locator(".widget-readout").text_content().strip().rstrip("%"))


def top_share(page: Page) -> str:
    """00_foundations: moving "top share" up 10 steps raises the share of revenue."""
    top = slider(page, "top share")
    box = explorer(top)
    sentence = box.locator(".widget-html-content").first
    pattern = r"The top (\d+)% of customers bring ([\d.]+)% of revenue"
    x0, y0 = numbers(sentence.text_content(), pattern)
    chart = box.locator(".widget-output img").first
    before = chart.get_attribute("src")
    press(top, "ArrowRight", 10)
    x1 = round(readout(top))
    assert x1 == int(x0) + 10, f"10 steps of 1 % from {x0} % gave {x1} %"
    expect(sentence).to_contain_text(f"The top {x1}% of customers bring")
    _, y1 = numbers(sentence.text_content(), pattern)
    assert float(y1) > float(y0), f"top {x0}% bring {y0}%, but the larger top {x1}% bring {y1}%"
    expect(chart).not_to_have_attribute("src", before)
    return f"top share {x0}% -> {x1}%: revenue share {y0}% -> {y1}%, chart redrawn"


def clv_horizon(page: Page) -> str:
    """01_idic: a longer CLV horizon (6 more months) gives a larger total CLV."""
    months = slider(page, "months")
    text = explorer(months).locator(".widget-html-content").first
    pattern = r"Total CLV (-?[\d,.]+) over (\d+) months"
    total0, n0 = numbers(text.text_content(), pattern)
    press(months, "ArrowRight", 6)
    n1 = round(readout(months))
    assert n1 == int(n0) + 6
    expect(text).to_contain_text(f"over {n1} months")
    total1, _ = numbers(text.text_content(), pattern)
    assert amount(total1) > amount(total0), f"CLV {total0} at {n0} months, {total1} at {n1}"
    return f"CLV horizon {n0} -> {n1} months: total CLV {total0} -> {total1}"


def inactivity_rule(page: Page) -> str:
    """02_qci: a longer inactivity rule moves the back-test cutoff back by the same days."""
    days = slider(page, "inactive days")
    text = explorer(days).locator(".widget-html-content").first
    pattern = r"With (\d+) days without a purchase.*?Applied on (\d{4}-\d{2}-\d{2})"
    rule0, cutoff0 = numbers(text.text_content(), pattern)
    press(days, "ArrowRight", 2)
    rule1 = round(readout(days))
    assert rule1 > int(rule0)
    expect(text).to_contain_text(f"With {rule1} days without a purchase")
    _, cutoff1 = numbers(text.text_content(), pattern)
    shift = date.fromisoformat(cutoff0) - date.fromisoformat(cutoff1)
    assert shift == timedelta(days=rule1 - int(rule0)), (cutoff0, cutoff1)
    expect(text).to_contain_text(f"bought again in the next {rule1} days")
    return f"inactivity rule {rule0} -> {rule1} days: back-test cutoff {cutoff0} -> {cutoff1}"


def unit_cost(page: Page) -> str:
    """03_value_chain: a higher unit cost of the chosen cost rate lowers total profit."""
    cost = slider(page, "unit cost")
    box = explorer(cost)
    rate = box.locator(".widget-dropdown select").first.input_value()
    text = box.locator(".widget-html-content").first
    pattern = r"Total profit (-?[\d,]+)"
    (profit0,) = numbers(text.text_content(), pattern)
    c0 = readout(cost)
    press(cost, "ArrowRight", 10)
    c1 = readout(cost)
    assert c1 > c0
    expect(text).to_contain_text(f"{rate} = {c1:.2f} (was {c0:.2f})")
    (profit1,) = numbers(text.text_content(), pattern)
    assert amount(profit1) < amount(profit0), f"{rate} {c0} -> {c1}: profit {profit0} -> {profit1}"
    return f"unit cost of {rate} {c0:.2f} -> {c1:.2f}: total profit {profit0} -> {profit1}"


def retention_rate(page: Page) -> str:
    """04_payne_frow: customer equity moves with the retention rate (5 points, towards 50 %)."""
    rate = slider(page, "retention")
    text = explorer(rate).locator(".widget-html-content").first
    pattern = r"At (\d+)% retention.*? worth (-?[\d,]+) \(([+-][\d,]+) against"
    r0, equity0, _ = numbers(text.text_content(), pattern)
    up = readout(rate) < 50
    press(rate, "ArrowRight" if up else "ArrowLeft", 5)
    r1 = round(readout(rate))
    assert r1 == int(r0) + (5 if up else -5)
    expect(text).to_contain_text(f"At {r1}% retention")
    _, equity1, change = numbers(text.text_content(), pattern)
    assert (amount(equity1) > amount(equity0)) == up, f"{r0}% -> {r1}%: {equity0} -> {equity1}"
    assert (amount(change) > 0) == up, f"at {r1}% the change against the data is {change}"
    return f"retention {r0}% -> {r1}%: customer equity {equity0} -> {equity1} ({change})"


INTERACTIONS = {
    "00_foundations": top_share,
    "01_idic": clv_horizon,
    "02_qci": inactivity_rule,
    "03_value_chain": unit_cost,
    "04_payne_frow": retention_rate,
}


# --- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_in_jupyterlab(lesson, server, page, screenshots):
    notebook = nbformat.read(lesson, as_version=4)
    n_code = code_cell_count(notebook)
    cells = widget_cells(notebook)
    if cells:
        assert lesson.stem in INTERACTIONS, f"{lesson.stem} has explorers: add an interaction"
    else:
        assert lesson.stem not in INTERACTIONS, f"{lesson.stem} no longer shows an explorer"
    kernel = kernel_display_name(server, notebook)
    start = time.monotonic()
    try:
        open_notebook(page, server, f"notebooks/{lesson.name}", n_code, kernel)
        sessions = server.api("GET", "/api/sessions")
        assert [s["kernel"]["name"] for s in sessions] == [notebook.metadata.kernelspec.name]
        check_nothing_in_the_way(page, lesson.stem)
        opened = time.monotonic()
        run_all(page, n_code)
        ran = time.monotonic()

        errors = error_outputs(page)
        assert not errors, f"{lesson.stem}, cell {errors[0][0]}: {errors[0][1][-2000:]}"
        effect = "no explorer"
        if cells:
            check_widgets(page, lesson.stem, cells)
            effect = INTERACTIONS[lesson.stem](page)
        check_nothing_in_the_way(page, lesson.stem)
        print(
            f"{lesson.stem}: open {opened - start:.1f} s, run all {ran - opened:.1f} s, "
            f"checks and interaction {time.monotonic() - ran:.1f} s; {effect}"
        )
    finally:
        page.screenshot(path=screenshots / f"{lesson.stem}.png")


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda p: p.parent.name + "/" + p.stem)
def test_exercise_opens_in_jupyterlab(exercise, server, page, screenshots):
    notebook = nbformat.read(exercise, as_version=4)
    path = exercise.relative_to(REPO).as_posix()
    try:
        open_notebook(
            page, server, path, code_cell_count(notebook), kernel_display_name(server, notebook)
        )
        check_nothing_in_the_way(page, path)
    finally:
        page.screenshot(path=screenshots / f"exercise_{exercise.parent.name}_{exercise.stem}.png")


def test_jupyterlab_opens_on_the_lessons_in_order(server, page):
    """The server's start page (what `make lab` opens) browses notebooks/, lessons in order."""
    page.goto(f"{server.url}/?token={server.token}")
    # the file browser shows "/" until the lab has restored its layout: seconds under load
    crumbs = page.locator(".jp-FileBrowser .jp-BreadCrumbs")
    expect(crumbs).to_contain_text("notebooks", timeout=30_000)
    names = page.locator(".jp-FileBrowser .jp-DirListing-item .jp-DirListing-itemText")
    expect(names.first).to_be_attached(timeout=30_000)
    listed = [n for n in names.all_text_contents() if n.endswith(".ipynb")]
    assert listed == [p.name for p in LESSONS]
    check_nothing_in_the_way(page, "start page")


def test_a_notebook_for_an_unknown_kernel_opens_on_the_workbook_kernel(server, page):
    """No kernel picker: a notebook naming a kernel this machine lacks starts the default
    kernel, which runs in the workbook's environment (this test's Python)."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys\n\nimport crmlib\n\nprint(sys.prefix)")]
    )
    notebook.metadata["kernelspec"] = {
        "name": "another-machine",
        "display_name": "Python (another machine)",
        "language": "python",
    }
    nbformat.write(notebook, server.root / "unknown_kernel.ipynb")
    specs = server.api("GET", "/api/kernelspecs")
    default = specs["kernelspecs"][specs["default"]]["spec"]["display_name"]

    open_notebook(page, server, "unknown_kernel.ipynb", 1, default)
    check_nothing_in_the_way(page, "unknown_kernel.ipynb")
    run_all(page, 1)
    assert error_outputs(page) == []
    printed = cell(page, 0).locator(".jp-OutputArea-output").first.text_content()
    assert Path(printed.strip()) == Path(sys.prefix)
