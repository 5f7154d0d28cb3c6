"""The client copy of an executed lesson: HTML with its code hidden, that opens offline.

Every code cell's input is hidden (a client report shows results, not code);
a cell tagged ``remove-cell`` is left out whole and one tagged
``remove-output`` keeps no output. Pages open offline: the template
(:data:`OFFLINE_TEMPLATE`) loads no script, style sheet or font from anywhere
(no require.js, MathJax, mermaid or widget manager), charts are embedded PNG
images, and a page that would still fetch something from an outside address
is refused (:func:`outside_references`). Formulas written in TeX in the prose
show as typed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from crmlib.errors import CRMError

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


def write_html(nb, path: Path, title: str) -> None:
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


def lesson_title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback
