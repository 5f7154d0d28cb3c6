"""Helpers of the browser test: a JupyterLab server with the repository's settings, and the
few things a student does in it (open a notebook, Run All, move a slider).

The server loads ``jupyter/jupyter_server_config.py`` exactly as ``make lab`` does (the
``jupyter`` folder on ``JUPYTER_CONFIG_PATH``), but serves a copy of the notebooks and keeps
its own settings, workspaces and runtime files in a scratch folder: the test never writes
into the repository nor reads a developer's own JupyterLab settings.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO / "jupyter"

#: Chromium flags measured to work here (STACK-NOTES, "Real browser"); Playwright adds
#: --headless and --no-sandbox itself and gives every launch a fresh profile.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

START_TIMEOUT_S = 60
RUN_ALL_TIMEOUT_S = 150


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """``jupyter lab`` on 127.0.0.1 serving ``root``, in its own process group.

    Parameters
    ----------
    root : Path
        The folder the server serves (``root_dir``).
    home : Path
        Scratch folder for the server's config, data, runtime, settings and workspace
        directories and its log (``home / "jupyterlab.log"``).
    """

    def __init__(self, root: Path, home: Path):
        self.root = root
        self.home = home
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / "jupyterlab.log"
        self.process: subprocess.Popen | None = None

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("CRM_RESULTS_DIR", None)  # lessons record no results for a report here
        for name, folder in {
            "JUPYTER_CONFIG_DIR": "config",
            "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_SETTINGS_DIR": "user-settings",
            "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
        }.items():
            env[name] = str(self.home / folder)
        env["JUPYTER_CONFIG_PATH"] = str(SHIPPED_CONFIG)
        return env

    def start(self) -> LabServer:
        """Start the server and wait until its REST API answers."""
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",  # never end up talking to another server
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                env=self._environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, so that stop() can end it all
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited at start:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return self
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.25)
        raise RuntimeError(f"JupyterLab did not answer in {START_TIMEOUT_S} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """End the server and everything in its process group (TERM, then KILL)."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.shutdown_kernels()
        except (urllib.error.URLError, ConnectionError):
            pass  # the server is not answering: the signals below still end it
        for sig, wait_s in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def api(self, method: str, path: str):
        """Call the server's REST API; the decoded JSON answer (None when empty)."""
        request = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Shut down every running kernel (one lesson's kernel must not slow the next)."""
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def lab_url(self, path: str) -> str:
        """The address that opens ``path`` (relative to the root) in a fresh workspace."""
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"


# --- a notebook in JupyterLab ------------------------------------------------------------

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
KERNEL_STATUS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator"
KERNEL_NAME = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar-kernelName"
#: an output on stderr: a traceback (error output) or a stream written to stderr
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"

# Run All has finished when no code cell waits ("[*]") and every prompt shows an
# execution count (empty cells never get one), or when a cell failed (JupyterLab then
# clears the rest of the queue).
_RUN_ALL_DONE = """([selector, stderr, expected]) => {
  const cells = [...document.querySelectorAll(selector + ' .jp-CodeCell')];
  if (cells.length < expected) return false;
  const prompts = cells
    .filter(c => c.querySelector('.jp-InputArea-editor').textContent.trim() !== '')
    .map(c => c.querySelector('.jp-InputPrompt').textContent.trim());
  if (prompts.some(p => p.startsWith('[*]'))) return false;
  const failed = document.querySelector(selector + ' ' + stderr);
  return failed !== null || prompts.every(p => /^\\[\\d+\\]/.test(p));
}"""


def open_notebook(page: Page, server: LabServer, path: str, code_cells: int, kernel: str) -> None:
    """Open ``path`` in JupyterLab; wait until its cells show and the kernel named ``kernel``
    (its display name) idles. Had a dialog asked for a kernel, the toolbar would still say
    "No Kernel" and the wait would fail."""
    page.goto(server.lab_url(path))
    page.wait_for_function(
        "([s, n]) => document.querySelectorAll(s + ' .jp-CodeCell').length >= n",
        arg=[NOTEBOOK, code_cells],
        timeout=START_TIMEOUT_S * 1000,
    )
    expect(page.locator(KERNEL_NAME)).to_have_text(kernel, timeout=START_TIMEOUT_S * 1000)
    expect(page.locator(KERNEL_STATUS)).to_have_attribute(
        "data-status", "idle", timeout=START_TIMEOUT_S * 1000
    )


def run_all(page: Page, code_cells: int) -> None:
    """Run > Run All Cells from the menu bar; wait until every cell ran and the kernel idles."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    page.wait_for_function(
        _RUN_ALL_DONE, arg=[NOTEBOOK, STDERR, code_cells], timeout=RUN_ALL_TIMEOUT_S * 1000
    )
    expect(page.locator(KERNEL_STATUS)).to_have_attribute("data-status", "idle", timeout=30_000)


def cell(page: Page, index: int) -> Locator:
    """The notebook's cell number ``index`` (counting every cell from 0, as in the file)."""
    return page.locator(f"{NOTEBOOK} .jp-Cell").nth(index)


# --- ipywidgets controls -----------------------------------------------------------------


def slider(page: Page, description: str) -> Locator:
    """The ipywidgets slider whose label reads ``description``."""
    label = page.locator(".widget-label", has_text=re.compile(f"^{re.escape(description)}$"))
    return page.locator(f"{NOTEBOOK} .widget-slider").filter(has=label)


def explorer(control: Locator) -> Locator:
    """The explorer a control belongs to: its outermost enclosing ipywidgets VBox."""
    return control.locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][last()]")


def press(control: Locator, key: str, times: int) -> None:
    """Focus a slider's handle and press ``key`` (e.g. ArrowRight: one step up) ``times`` times."""
    handle = control.locator(".noUi-handle")
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(times):
        handle.press(key)


# --- a report's pages, opened from disk with the network blocked ---------------------------


def block_network(context) -> list[str]:
    """Let a browser context load ``file:`` and ``data:`` addresses only; return the list
    (filled as pages load) of every other address a page tried to fetch."""
    tried: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:", "about:")):
            r.continue_()
        else:
            tried.append(url)
            r.abort()

    context.route("**/*", route)
    return tried


#: what the client-pages test reads from a report page in the browser
PAGE_FACTS = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  const nav = document.querySelector('nav.crm-topbar');
  return {
    text: document.body.innerText,
    // the words a reader reads: every text outside formulas (MathML has its own "…"), styles
    // and scripts
    prose: (() => {
      const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
        acceptNode: n => n.parentElement.closest('math, style, script')
          ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
      });
      const out = [];
      while (walk.nextNode()) out.push(walk.currentNode.nodeValue);
      return out.join(' ');
    })(),
    nav: nav ? [...nav.querySelectorAll('a')].map(a => a.getAttribute('href')) : null,
    navText: nav ? nav.innerText : '',
    current: nav ? [...nav.querySelectorAll('a[aria-current="page"]')]
      .map(a => a.getAttribute('href')) : [],
    toc: [...document.querySelectorAll('nav.crm-toc a')].map(a => a.getAttribute('href')),
    headings: [...document.querySelectorAll('main h2[id], main h3[id]')].map(h => '#' + h.id),
    math: [...document.querySelectorAll('math')].map(box),
    // a TeX command the converter did not know stays in the formula as typed (backslash-arg)
    mathTyped: [...document.querySelectorAll('math')].map(m => m.textContent)
      .filter(t => t.includes(String.fromCharCode(92))),  // a backslash
    // a formula wider than the text column is cut off on the right
    mathWide: [...document.querySelectorAll('math[display="block"]')]
      .filter(m => m.scrollWidth > m.parentElement.clientWidth + 1).map(m => m.textContent.slice(0, 60)),
    tex: [...document.querySelectorAll('code.crm-tex')].map(c => c.textContent),
    images: [...document.querySelectorAll('img')].map(i => ({
      alt: i.getAttribute('alt'), width: i.naturalWidth,
      caption: !!(i.closest('figure') && i.closest('figure').querySelector('figcaption')),
      // as laid out: its width with border, and the content width of the box that holds it
      shown: i.getBoundingClientRect().width, box: i.parentElement.clientWidth,
      // a summary's key chart sits in the finding of its section
      keyChart: !!i.closest('.crm-finding'),
    })),
    // the text column (main) as laid out, in CSS px
    column: document.querySelector('main') ? document.querySelector('main').clientWidth : 0,
    pageWidth: document.documentElement.scrollWidth,
    viewWidth: document.documentElement.clientWidth,
  };
}"""


@contextmanager
def chromium_browser():
    """Debian's Chromium driven by Playwright, closed afterwards; missing, a test failure."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("CI=true but no `chromium` on PATH: install it (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
