"""A page of the report from an executed lesson: HTML that opens offline, in one of two views.

**Two views of one notebook** (nbconvert's ``TagRemovePreprocessor``, no
string surgery): the *report view* (``crm report``, for the client) hides
every code cell's input and leaves out the cells tagged ``lesson-only``
(learning goals, derivations by hand, exercises), ``remove-cell`` and
``explorer``; the *lesson view* (``crm report --view lesson``, for an
instructor to hand out) shows the code and leaves out the cells tagged
``report-only``. In both, a cell tagged ``remove-output`` keeps no output.

**One report.** Every page carries the report's navigation, a table of
contents of its ``##``/``###`` headings, the report's style sheet and print
header (:mod:`crmlib.report.pages`). A chart's cell metadata ``caption``
becomes a ``<figcaption>`` under its image and ``alt`` the image's alt text
(``"Chart"`` when the cell has none). Formulas in markdown become MathML
(:mod:`crmlib.report.mathml`).

**Offline.** Pages open offline: the template
(:data:`OFFLINE_TEMPLATE`) loads no script, style sheet or font from anywhere
(no require.js, MathJax, mermaid or widget manager), charts are embedded PNG
images, and a page that would still fetch something from an outside address
is refused (:func:`outside_references`).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from crmlib.errors import CRMError
from crmlib.report import mathml, pages
from crmlib.report.lessons import EXPLORER_TAG
from crmlib.report.pages import MAIN_END, MAIN_START

REPORT_VIEW, LESSON_VIEW = "report", "lesson"
VIEWS = (REPORT_VIEW, LESSON_VIEW)
LESSON_ONLY, REPORT_ONLY = "lesson-only", "report-only"
#: cells each view leaves out (nbconvert's TagRemovePreprocessor); explorer cells never run in a
#: report (crmlib.report.lessons) and are listed for a notebook that still has them
REMOVED_TAGS = {
    REPORT_VIEW: {"remove-cell", LESSON_ONLY, EXPLORER_TAG},
    LESSON_VIEW: {"remove-cell", REPORT_ONLY},
}
CHART_ALT = "Chart"  # the alt text of a chart whose cell has no "alt" metadata

OFFLINE_TEMPLATE = r"""{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style>{{ resources.crm_css }}</style>
<style id="crm-print-header">{{ resources.crm_print_header }}</style>
{%- endblock html_head_css -%}
{%- block body_header -%}
<body class="jp-Notebook crm-page crm-view-{{ resources.crm_view }}" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
{{ resources.crm_nav }}
<div class="crm-layout"><!--crm-toc-->
<main>""" + MAIN_START + r"""
{%- endblock body_header -%}
{% block body_footer %}""" + MAIN_END + r"""
</main></div>
</body>
{% endblock body_footer %}
{%- block data_widget_view -%}
<div class="jp-OutputArea-output"><p><em>An interactive explorer: open the executed
notebook in JupyterLab to use it.</em></p></div>
{%- endblock data_widget_view -%}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<figure class="crm-figure">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}" alt="
{{- (cell.metadata.get('alt') or '""" + CHART_ALT + r"""') | escape_html }}">
{%- if cell.metadata.get('caption') %}
<figcaption>{{ cell.metadata.get('caption') | escape_html }}</figcaption>
{%- endif %}
</figure>
</div>
{%- endblock data_png %}
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


def _exporter(view: str):
    """nbconvert's HTML exporter with the offline template and formulas as MathML."""
    import jinja2
    from nbconvert import HTMLExporter

    class ReportExporter(HTMLExporter):
        @jinja2.pass_context
        def markdown2html(self, context, source):
            text, maths = mathml.protect(source)
            return mathml.restore(super().markdown2html(context, text), maths)

    return ReportExporter(
        extra_loaders=[jinja2.DictLoader({"crm_offline.html.j2": OFFLINE_TEMPLATE})],
        template_file="crm_offline.html.j2",
        exclude_input=view == REPORT_VIEW,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def write_html(
    nb,
    path: Path,
    title: str,
    view: str = REPORT_VIEW,
    client: str = "",
    nav: str = "",
) -> None:
    """Write one page of the report from an executed notebook: offline, in one of two views.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook (not changed).
    path : Path
        The page to write.
    title : str
        The page's title (and its section in the print header).
    view : {"report", "lesson"}
        ``report``: code hidden, cells tagged ``lesson-only``, ``remove-cell`` or
        ``explorer`` left out (:data:`REMOVED_TAGS`); ``lesson``: code shown,
        ``report-only`` and ``remove-cell`` cells left out.
    client : str
        The client's name, for the print header.
    nav : str
        The top bar (:func:`crmlib.report.pages.navigation`); the runner puts
        the final one in when every lesson has run.

    Raises
    ------
    crmlib.errors.CRMError
        An unknown view, or a page that would load something from outside.
    """
    import copy

    from nbconvert.preprocessors import TagRemovePreprocessor

    if view not in VIEWS:
        raise CRMError(f"unknown view {view!r}: choose {' or '.join(VIEWS)}")
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)  # widget state: needs the online widget manager
    nb.metadata["title"] = title
    tags = TagRemovePreprocessor(
        remove_cell_tags=REMOVED_TAGS[view],
        remove_all_outputs_tags={"remove-output"},
        remove_input_tags={"hide-input"},
        enabled=True,
    )
    nb, _ = tags.preprocess(nb, {})
    resources = {
        "crm_css": pages.style_sheet(),
        "crm_print_header": pages.print_header(client, title),
        "crm_nav": nav,
        "crm_view": view,
    }
    body, _ = _exporter(view).from_notebook_node(nb, resources=resources)
    body = body.replace("<!--crm-toc-->", pages.table_of_contents(body), 1)
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
