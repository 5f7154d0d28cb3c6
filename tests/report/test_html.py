"""The report's pages from an executed notebook: two views, MathML, navigation, charts, print.

Small planted notebooks, exported with :func:`crmlib.report.html.write_html`; no lesson
runs here (the pages of real reports are read in a browser by test_client_pages.py).
"""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from crmlib.errors import CRMError
from crmlib.report import mathml, pages
from crmlib.report.html import outside_references, write_html
from crmlib.report.pages import Page, navigation, set_navigation
from crmlib.report.pdf import print_document, print_report

REPO = Path(__file__).resolve().parents[2]
# a 1×1 PNG
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d4944415478da63f8ffff3f0005fe02fea7d6a4f50000000049454e44ae426082"
    )
).decode()


def cell_with(source: str, text: str = "", tags=(), png: bool = False, **metadata):
    cell = new_code_cell(source, execution_count=1)
    if text:
        cell.outputs.append(new_output("stream", name="stdout", text=text))
    if png:
        cell.outputs.append(new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}))
    cell.metadata.update(metadata)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def markdown(source: str, tags=()):
    cell = new_markdown_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def planted() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            markdown("# 01 · Planted\n\nFor everyone."),
            markdown("In this lesson you will plant things.", tags=["lesson-only"]),
            markdown("A sentence for the client only.", tags=["report-only"]),
            markdown("## Findings\n\nThe finding.\n\n### Detail\n\nMore."),
            cell_with("print('planted output')", text="planted output\n"),
            cell_with("explore()", text="an explorer\n", tags=["explorer"]),
            cell_with("draw()", png=True, caption="Look at the top bar.", alt="Bars by month."),
            cell_with("draw_again()", png=True),
            markdown("## References\n\nA, B (2005)."),
        ]
    )


def page_of(tmp_path, nb=None, **kw) -> str:
    path = tmp_path / "01_planted.html"
    write_html(nb or planted(), path, "01 · Planted", **kw)
    return path.read_text()


def visible_text(page: str) -> str:
    """The page's text without its style sheets."""
    return re.sub(r"<style.*?</style>|<[^>]+>", " ", page, flags=re.DOTALL)


# --- two views -------------------------------------------------------------------------------


def test_report_view_leaves_out_the_cells_for_students_and_the_code(tmp_path):
    page = page_of(tmp_path)
    text = visible_text(page)
    assert "For everyone." in text and "A sentence for the client only." in text
    assert "planted output" in text
    assert "In this lesson you will" not in text
    assert "an explorer" not in text
    assert "print(" not in page and "draw_again" not in page


def test_lesson_view_shows_the_code_and_leaves_out_report_only_cells(tmp_path):
    page = page_of(tmp_path, view="lesson")
    text = visible_text(page)
    assert "In this lesson you will" in text and "planted output" in text
    assert "A sentence for the client only." not in text
    assert "print" in text and "draw_again" in text  # the code inputs show
    assert "explore" in text  # everything else stays (a report never runs explorers)


def test_unknown_view_is_refused(tmp_path):
    with pytest.raises(CRMError, match="unknown view 'teacher'"):
        page_of(tmp_path, view="teacher")


# --- formulas as MathML --------------------------------------------------------------------


def test_a_formula_becomes_mathml():
    out = mathml.to_mathml(r"\frac{a}{b}")
    assert out.startswith("<math") and 'display="inline"' in out
    assert re.search(r"<mfrac>(<mrow>)?<mi>a</mi>(</mrow>)?(<mrow>)?<mi>b</mi>(</mrow>)?</mfrac>", out)
    assert 'display="block"' in mathml.to_mathml("x^2", display=True)


def test_a_formula_latex2mathml_cannot_read_shows_as_code():
    assert mathml.to_mathml(r"\frac{1}{") == r'<code class="crm-tex">\frac{1}{</code>'


def test_math_outside_code_only_and_escaped_dollars_kept(tmp_path):
    nb = new_notebook(
        cells=[
            markdown(
                "## Margin $m$ per period\n\n"
                "Inline $x_1 + y_2$ beside `code $a$ span` and a price of \\$5 and \\$7.\n\n"
                "$$\\text{CLV} = m\\,\\frac{r}{1 + d - r}$$\n\n"
                "```\nfenced $b$ stays\n```\n\n"
                "Broken $\\frac{1}{$ formula."
            )
        ]
    )
    page = page_of(tmp_path, nb)
    body = page.split("<main>", 1)[1]
    assert body.count("<math") == 3  # the heading's, the inline one and the display one
    assert body.count('display="block"') == 1
    assert "<code>code $a$ span</code>" in body and "fenced $b$ stays" in body
    assert "$5 and $7" in body  # a dollar sign in prose stays one
    assert '<code class="crm-tex">\\frac{1}{</code>' in body
    text = visible_text(body.replace("<code>code $a$ span</code>", "").replace("$5 and $7", ""))
    assert "$" not in text.replace("fenced $b$ stays", "")
    heading = re.search(r'<h2 id="([^"]*)"', body).group(1)
    assert "<" not in heading and "CRMMATH" not in body  # no placeholder left, even in an id


def lesson_formulas() -> list[tuple[str, bool]]:
    found = []
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                found += [(m, True) for m in re.findall(r"\$\$(.+?)\$\$", cell.source, re.DOTALL)]
                rest = re.sub(r"\$\$.+?\$\$|`[^`]*`", "", cell.source, flags=re.DOTALL)
                found += [(m, False) for m in re.findall(r"\$([^$\n]+)\$", rest)]
    return found


def test_every_formula_of_the_lessons_converts():
    formulas = lesson_formulas()
    assert len(formulas) >= 10  # the lessons do use formulas
    for tex, display in formulas:
        out = mathml.to_mathml(tex, display)
        assert out.startswith("<math") and "crm-tex" not in out, tex


# --- navigation, contents, charts ----------------------------------------------------------


SECTIONS = [
    Page("foundations", "00 · Foundations: the first look", "00_foundations.html", "complete"),
    Page("idic", "01 · IDIC: Identify", "01_idic.html", "failed"),
    Page("qci", "02 · QCi: scoring", "", "skipped"),
]


def test_navigation_marks_the_current_page_and_failed_and_skipped_sections():
    nav = navigation("Acme <Ltd>", SECTIONS, "00_foundations.html")
    assert nav.startswith(pages.NAV_START) and nav.endswith(pages.NAV_END)
    assert "Acme &lt;Ltd&gt;" in nav
    assert '<a href="index.html">Summary</a>' in nav
    assert '<a href="00_foundations.html" aria-current="page"' in nav
    assert re.search(r'<a href="01_idic.html"[^>]*>IDIC \(failed\)</a>', nav)
    assert "QCi (not run)" in nav and 'href=""' not in nav
    assert nav.count("aria-current") == 1


def test_every_page_has_the_navigation_and_a_table_of_contents(tmp_path):
    nav = navigation("Acme", SECTIONS, "01_planted.html")
    page = page_of(tmp_path, nav=nav)
    bar = page[page.index(pages.NAV_START) : page.index(pages.NAV_END)]
    links = re.findall(r'<a [^>]*href="([^"]+)"', bar)
    assert links == ["index.html", "00_foundations.html", "01_idic.html"]
    toc = re.search(r'<nav class="crm-toc".*?</nav>', page, re.DOTALL).group(0)
    assert re.findall(r'href="#([^"]+)"', toc) == ["Findings", "Detail", "References"]
    for anchor in ("Findings", "Detail", "References"):
        assert f'id="{anchor}"' in page
    assert "Planted" not in toc  # the page's # title is not an entry


def test_set_navigation_replaces_the_bar_or_adds_it(tmp_path):
    page_of(tmp_path, nav=navigation("Acme", SECTIONS, "01_planted.html"))
    path = tmp_path / "01_planted.html"
    final = [Page("foundations", "00 · Foundations", "00_foundations.html", "complete")]
    set_navigation(path, navigation("Acme", final, "01_planted.html"))
    text = path.read_text()
    assert text.count(pages.NAV_START) == 1 and "IDIC" not in text.split(pages.NAV_END)[0]
    plain = tmp_path / "index.html"
    plain.write_text("<html><head><title>t</title></head><body><h1>Plain</h1></body></html>")
    set_navigation(plain, navigation("Acme", final, "index.html"))
    text = plain.read_text()
    assert re.search(r"<body><!--crm-nav--><nav class=\"crm-topbar\"", text)
    assert ".crm-topbar" in text  # the style sheet came along


def test_a_chart_gets_its_caption_and_alt_text_from_the_cell(tmp_path):
    page = page_of(tmp_path)
    figures = re.findall(r'<figure class="crm-figure">.*?</figure>', page, re.DOTALL)
    assert len(figures) == 2
    assert 'alt="Bars by month."' in figures[0]
    assert "<figcaption>Look at the top bar.</figcaption>" in figures[0]
    assert 'alt="Chart"' in figures[1] and "figcaption" not in figures[1]


def test_a_page_loads_nothing_from_outside(tmp_path):
    page = page_of(tmp_path, nav=navigation("Acme", SECTIONS, "01_planted.html"))
    assert outside_references(page) == []
    assert "<script" not in page


def test_print_header_names_client_and_section(tmp_path):
    page = page_of(tmp_path, client='Acme "North"')
    header = re.search(r'<style id="crm-print-header">(.*?)</style>', page, re.DOTALL).group(1)
    assert '@top-left { content: "Acme \\"North\\""; }' in header
    assert '@top-right { content: "01 · Planted"; }' in header


# --- the printed report --------------------------------------------------------------------


def two_pages(tmp_path) -> list[Path]:
    summary = tmp_path / "index.html"
    write_html(new_notebook(cells=[markdown("# Summary page\n\nS.")]), summary, "Client summary")
    section = tmp_path / "01_planted.html"
    write_html(planted(), section, "01 · Planted", nav=navigation("Acme", SECTIONS, "x"))
    return [summary, section]


def test_the_print_document_puts_each_page_in_a_section_of_its_own(tmp_path):
    document = print_document(two_pages(tmp_path), "Acme")
    assert document.count('<section class="crm-print-section"') == 2
    assert 'style="page: crm-s0"' in document and 'style="page: crm-s1"' in document
    assert '@page crm-s1 { @top-left { content: "Acme"; } @top-right { content: "01 · Planted"; }' in document
    assert "crm-topbar" not in document.split("</head>", 1)[1]  # no navigation printed
    assert "Summary page" in document and "planted output" in document


@pytest.mark.skipif(not shutil.which("chromium"), reason="no chromium here")
def test_the_report_prints_one_pdf_each_section_on_new_pages(tmp_path):
    pdf = print_report(two_pages(tmp_path), tmp_path / "summary.pdf", shutil.which("chromium"), "Acme")
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    # two short pages: one printed page each, as every section starts on a new page
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) == 2
    assert not list(tmp_path.glob(".*print.html"))  # the print document is gone


# --- through crm report ----------------------------------------------------------------------


@pytest.mark.slow
def test_crm_report_lesson_view_with_the_final_navigation(tmp_path):
    import json

    from report_helpers import crm

    out = tmp_path / "r"
    run = crm("report", "cdnow", "--client", "Acme", "--only", "foundations", "--view", "lesson", "--out", out)
    assert run.returncode == 0, run.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["view"] == "lesson"
    section = (out / "00_foundations.html").read_text()
    assert "crm-view-lesson" in section and "import" in visible_text(section)  # code shows
    for name in ("index.html", "00_foundations.html"):
        page = (out / name).read_text()
        bar = page[page.index(pages.NAV_START) : page.index(pages.NAV_END)]
        assert re.findall(r'<a href="([^"]+)"', bar) == ["index.html", "00_foundations.html"]
        assert re.search(rf'<a href="{name}" aria-current="page"', bar)
        assert "IDIC (not run)" in bar and "Payne &amp; Frow (not run)" in bar
        assert outside_references(page) == []


def planted_lesson(folder: Path, name: str, title: str, body: str) -> None:
    params = new_code_cell('data_path = None\nclient_name = "x"\nas_of = None')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(
        cells=[markdown(f"# {title}\n\n## Finding\n\nText $x^2$."), params, new_code_cell(body)]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / name)


@pytest.mark.slow
def test_the_run_marks_failed_and_skipped_sections_on_every_page(tmp_path):
    from crmlib.report import run_report

    lessons = tmp_path / "lessons"
    lessons.mkdir()
    planted_lesson(lessons, "00_good.ipynb", "00 · Good: it runs", "x = 1")
    planted_lesson(lessons, "01_bad.ipynb", "01 · Bad: it fails", "raise RuntimeError('planted')")
    planted_lesson(lessons, "02_left.ipynb", "02 · Left: not asked for", "x = 2")
    result = run_report(
        "cdnow", "Acme", tmp_path / "r", only=["good", "bad"], lessons_dir=lessons, jobs=2
    )
    assert not result.complete
    for name in ("index.html", "00_good.html", "01_bad.html"):  # index: the plain page
        page = (result.out / name).read_text()
        bar = page[page.index(pages.NAV_START) : page.index(pages.NAV_END)]
        assert re.findall(r'<a href="([^"]+)"', bar) == ["index.html", "00_good.html", "01_bad.html"]
        assert re.search(r'<a href="01_bad.html"[^>]*>Bad \(failed\)</a>', bar), name
        assert "<span" in bar and "Left (not run)</span>" in bar
        assert re.search(rf'<a href="{name}" aria-current="page"', bar), name
        assert outside_references(page) == []
    assert "<math" in (result.out / "00_good.html").read_text()
