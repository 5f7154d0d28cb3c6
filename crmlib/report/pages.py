"""What makes the report's pages one report: navigation, a table of contents, print headers.

Every page of a report (the executive summary ``index.html`` and one page per
section) carries:

- a **top bar** (:func:`navigation`): the client's name, a link to the
  summary and one to every section in lesson order, the current page marked
  (``aria-current="page"``); a section that failed says so, one that did not
  run (``--only``) shows as text without a link;
- a **table of contents** of the page's ``##`` and ``###`` headings, linked to
  their anchors (:func:`table_of_contents`);
- the report's style sheet (``assets/report.css``, inlined: the page opens
  offline) and a print header naming the client and the section
  (:func:`print_header`, CSS ``@page`` margin boxes).

The runner knows the pages only as the lessons finish: each page is written
with the navigation known then, and :func:`set_navigation` writes the final
one (statuses included) once every lesson has run. The bar sits between
:data:`NAV_START` and :data:`NAV_END`, so that it can be replaced without
parsing the page.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

NAV_START, NAV_END = "<!--crm-nav-->", "<!--/crm-nav-->"
MAIN_START, MAIN_END = "<!--crm-main-->", "<!--/crm-main-->"
SUMMARY_PAGE = "index.html"
SUMMARY_LABEL = "Summary"

_HEADING = re.compile(r"<h([23])\b[^>]*\bid=\"([^\"]+)\"[^>]*>(.*?)</h\1>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_ANCHOR = re.compile(r"<a class=\"anchor-link\"[^>]*>.*?</a>", re.DOTALL)
_BODY = re.compile(r"(<body\b[^>]*>)", re.IGNORECASE)


@dataclass
class Page:
    """One section of the report as the navigation shows it.

    ``status``: ``complete`` (or ``running``/``pending`` while the run goes
    on), ``failed`` or ``skipped``; ``html`` is empty when the section has no
    page.
    """

    lesson: str
    title: str
    html: str = ""
    status: str = "pending"


def style_sheet() -> str:
    """The report's CSS (``crmlib/report/assets/report.css``)."""
    return resources.files("crmlib.report").joinpath("assets", "report.css").read_text("utf-8")


def short_title(title: str) -> str:
    """'02 · QCi: scoring customer management' → 'QCi' for the bar (the page keeps it whole)."""
    text = title.split("·", 1)[-1].strip()
    return text.split(":", 1)[0].strip() or title


def navigation(client: str, pages: list[Page], current: str) -> str:
    """The top bar of one page.

    Parameters
    ----------
    client : str
        The client's name.
    pages : list of Page
        The sections in lesson order (the summary is not among them).
    current : str
        The file name of the page that shows the bar (``index.html`` for the summary).

    Returns
    -------
    str
        ``<nav class="crm-topbar">…</nav>`` between :data:`NAV_START` and :data:`NAV_END`.
    """
    esc = html.escape

    def item(href: str, label: str, status: str = "complete", title: str = "") -> str:
        note = {"failed": " (failed)", "skipped": " (not run)"}.get(status, "")
        hover = f' title="{esc(title)}"' if title else ""
        cls = f' class="crm-{status}"' if note else ""
        if not href:
            return f"<li{cls}><span{hover}>{esc(label)}{note}</span></li>"
        mark = ' aria-current="page"' if href == current else ""
        return f'<li{cls}><a href="{esc(href)}"{mark}{hover}>{esc(label)}{note}</a></li>'

    items = [item(SUMMARY_PAGE, SUMMARY_LABEL)]
    items += [item(p.html, short_title(p.title), p.status, p.title) for p in pages]
    return (
        f'{NAV_START}<nav class="crm-topbar" aria-label="Report">'
        f'<span class="crm-client">{esc(client)}</span>'
        f'<ul>{"".join(items)}</ul></nav>{NAV_END}'
    )


def table_of_contents(body: str) -> str:
    """A page's table of contents from its ``<h2>``/``<h3>`` headings (with ids); "" if none."""
    entries = []
    for level, anchor, inner in _HEADING.findall(body):
        text = _TAG.sub("", _ANCHOR.sub("", inner))
        text = html.escape(html.unescape(text).replace("¶", "").strip())
        if text:
            entries.append(f'<li class="crm-toc-h{level}"><a href="#{anchor}">{text}</a></li>')
    if not entries:
        return ""
    return (
        '<nav class="crm-toc" aria-label="On this page"><details>'
        f'<summary>On this page</summary><ul>{"".join(entries)}</ul></details></nav>'
    )


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def print_header(client: str, section: str, page_name: str = "") -> str:
    """CSS ``@page`` margin boxes: the client top left, the section top right, page numbers.

    Chromium supports margin boxes since version 131. ``page_name`` names
    the ``@page`` (CSS named pages) for one section of the printed report.
    """
    name = f" {page_name}" if page_name else ""
    return (
        f"@page{name} {{ @top-left {{ content: {_css_string(client)}; }} "
        f"@top-right {{ content: {_css_string(section)}; }} "
        '@bottom-right { content: "Page " counter(page) " of " counter(pages); } }'
    )


def set_navigation(path: Path, nav: str) -> None:
    """Replace a written page's top bar with ``nav`` (or put it first in the body)."""
    page = Path(path).read_text(encoding="utf-8")
    start, end = page.find(NAV_START), page.find(NAV_END)
    if start >= 0 and end > start:
        page = page[:start] + nav + page[end + len(NAV_END) :]
    else:  # a page written without one (the plain index): the bar and the style sheet
        page = _BODY.sub(lambda m: m.group(1) + nav, page, count=1)
        page = page.replace("</head>", f"<style>{style_sheet()}</style></head>", 1)
    Path(path).write_text(page, encoding="utf-8")


def main_content(page: str) -> str:
    """What a page shows between its top bar and its end (for the printed report)."""
    start, end = page.find(MAIN_START), page.find(MAIN_END)
    if start >= 0 and end > start:
        return page[start + len(MAIN_START) : end]
    body = re.search(r"<body\b[^>]*>(.*)</body>", page, re.DOTALL | re.IGNORECASE)
    content = body.group(1) if body else page
    a, b = content.find(NAV_START), content.find(NAV_END)
    return content[:a] + content[b + len(NAV_END) :] if a >= 0 and b > a else content
