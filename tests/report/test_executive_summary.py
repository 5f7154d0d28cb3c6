"""The executive summary (crmlib.report.summary and notebooks/05_client_summary.ipynb).

Unit tests on planted section results, then one report on the sample whose executed summary
is read as a client reads it: the tiles show the sections' recorded figures formatted by the
catalogue, every recommendation's value is money in the client's currency over its horizon
or says why there is none, and no key name, NaN or truncation is visible.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import nbformat
import pandas as pd
import pytest
from report_helpers import crm

from crmlib import results
from crmlib.analytics import metrics
from crmlib.data.rowsample import CustomerSample
from crmlib.errors import CRMError
from crmlib.report import summary

RETENTION_TEXT = (
    "Protect the top 20 % of customers by profit (1,001): value = the margin kept over "
    "12 months if a programme keeps 4.3% more of them"
)


def _by_lesson(chart=None) -> dict:
    """Four planted sections as results.load returns them."""
    return {
        "foundations": {
            "status": "complete",
            "title": "00 · Foundations: what CRM is",
            "html": "00_foundations.html",
            "results": {"customers": None, "finding": "the top 20 % bring 71% of revenue"},
            "chart": chart,
        },
        "idic": {
            "status": "complete",
            "title": "01 · IDIC: Identify, Differentiate, Interact, Customize",
            "html": "01_idic.html",
            "results": {
                "customers": 5000,
                "total_clv": 158715.29,
                "clv_horizon_months": 12,
                "offer_uplift": 0.0431,
                "offer_uplift_source": "measured",
                "recommendations": [
                    {
                        "text": "Re-price the 395 below-zero customers: value = their expected loss",
                        "value_at_stake": 6557.0,
                        "kind": "cost",
                        "customers": 395,
                        "horizon_months": 12,
                        "confidence": "model estimate; effect: measured over the holdouts",
                        "evidence": "IDIC lesson, Differentiate: below-zero customers",
                    },
                ],
            },
        },
        "qci": {
            "status": "complete",
            "title": "02 · QCi: scoring customer management",
            "html": "02_qci.html",
            "results": {
                "overall_reality": 34.2,
                "benchmark_position": "between the lowest published score (17) and the average (35)",
                "lapsed_days": 112,
                "recommendations": [
                    {"text": "Start with Measuring the effect", "value_at_stake": None},
                    {
                        "text": "Cut the cost of the web channel",
                        "value_at_stake": None,
                        "not_valued": "no cost data",
                    },
                ],
                "not_assessed": [
                    {"section": "nps", "missing": ["surveys"], "reason": "no surveys table"}
                ],
            },
        },
        "value_chain": {
            "status": "complete",
            "title": "03 · The CRM value chain: which customers create value",
            "html": "03_value_chain.html",
            "results": {
                "recommendations": [
                    {
                        "text": RETENTION_TEXT,
                        "value_at_stake": 8264.0,
                        "kind": "retention",
                        "customers": 965,
                        "horizon_months": 12,
                        "confidence": "effect: 4.3% incremental response, assumed default",
                        "evidence": "Value chain lesson, customer portfolio analysis (whale curve)",
                    }
                ]
            },
        },
        "payne_frow": {"status": "skipped", "title": "payne_frow", "html": "", "results": {}},
    }


def test_a_recommendation_splits_into_action_and_basis_without_losing_a_word():
    action, basis = summary.action_and_basis(RETENTION_TEXT)
    assert action == "Protect the top 20 % of customers by profit (1,001)"
    assert basis == "the margin kept over 12 months if a programme keeps 4.3% more of them"
    merged = "Keep A (10); Keep B (20). Value: each customer counted once"
    assert summary.action_and_basis(merged) == (
        "Keep A (10); Keep B (20)",
        "each customer counted once",
    )
    assert summary.action_and_basis("Appoint a sponsor.") == ("Appoint a sponsor", "")


@pytest.mark.parametrize(
    "confidence, expected",
    [
        ("effect: 4.3% incremental response, measured over the client's holdouts", "measured"),
        ("effect: 2% incremental response, an assumed default (no holdouts)", "assumed"),
        ("model estimate: BG/NBD P(alive); how one point is won is not modelled", "assumed"),
        ("model estimate: BG/NBD and Gamma-Gamma fitted on the purchases", "model estimate"),
        (None, ""),
        (float("nan"), ""),
    ],
)
def test_how_sure_is_read_from_the_recorded_confidence(confidence, expected):
    assert summary.how_sure(confidence) == expected


def test_evidence_names_the_section_by_its_title_and_the_place_in_it():
    by_lesson = _by_lesson()
    places = summary.evidence_places(
        "IDIC lesson, Differentiate: the portfolio; Value chain lesson, whale curve; elsewhere",
        by_lesson,
    )
    assert places == [
        ("idic", "Differentiate: the portfolio"),
        ("value_chain", "whale curve"),
        (None, "elsewhere"),
    ]


def test_recommendations_read_as_money_over_a_horizon_or_say_why_not():
    recs = summary.recommendation_list(_by_lesson(), "EUR")
    assert list(recs[summary.VALUE_TEXT]) == [
        "€8,264 over 12 months",
        "€6,557 over 12 months",
        "not valued: " + summary.NOT_VALUED_REASON,
        "not valued: no cost data",
    ]
    assert list(recs[summary.RANK]) == [1, 2, 3, 4]
    first = recs.iloc[0]
    assert first[summary.ACTION] == "Protect the top 20 % of customers by profit (1,001)"
    assert first[summary.CUSTOMERS] == 965 and first[summary.HOW_SURE] == "assumed"
    assert first[summary.EVIDENCE] == [("value_chain", "customer portfolio analysis (whale curve)")]
    assert recs.iloc[1][summary.HOW_SURE] == "measured"
    assert recs.iloc[2][summary.CUSTOMERS] is None and recs.iloc[2][summary.HOW_SURE] == ""
    assert summary.recommendation_list(_by_lesson(), "USD").iloc[0][summary.VALUE_TEXT] == (
        "USD 8,264 over 12 months"
    )


def test_headline_tiles_show_each_figure_as_its_section_recorded_it():
    own = {"customers": 4999, "net_revenue": 1065714.76}
    tiles = summary.headline_tiles(_by_lesson(), "EUR", own=own, limit=4).set_index("key")
    # customers: foundations recorded none (None), so IDIC's, not the summary's own
    assert tiles.loc["customers", "value"] == "5,000" and tiles.loc["customers", "lesson"] == "idic"
    assert tiles.loc["net_revenue", "value"] == "€1,065,715"  # no section has it: the summary's
    assert tiles.loc["total_clv", "value"] == "€158,715"
    assert tiles.loc["total_clv", "label"] == "Lifetime value of the customer base, next 12 months"
    assert tiles.loc["overall_reality", "value"] == "34.2"
    assert tiles.loc["overall_reality", "meaning"].endswith(
        "Between the lowest published score (17) and the average (35)."
    )
    assert len(tiles) == 4  # limit
    failed = _by_lesson()
    failed["idic"]["status"] = "failed"  # its figures must not be quoted: the next section's
    assert summary.first_figure(failed, "customers") is None
    assert summary.first_figure(_by_lesson(), "customers") == ("idic", 5000)
    assert tiles.loc["customers", "meaning"] == metrics.get("customers").meaning
    tile = summary.recommendation_tile(summary.recommendation_list(_by_lesson(), "EUR"), "EUR")
    assert tile["value"] == "€8,264"
    assert tile["label"].endswith("over 12 months")
    assert tile["meaning"] == "Protect the top 20 % of customers by profit (1,001)."


class _Text(HTMLParser):
    """The text a browser shows (styles left out), and the images with their alt text."""

    def __init__(self):
        super().__init__()
        self.parts, self.images, self._skip = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)

    @classmethod
    def of(cls, page: str) -> tuple[str, list[dict]]:
        parser = cls()
        parser.feed(page)
        return " ".join(" ".join(parser.parts).split()), parser.images


def test_findings_show_the_key_chart_with_caption_and_alt_or_the_finding_alone():
    chart = {"png": b"\x89PNG planted", "caption": "Look at the bend.", "alt": "A Lorenz curve."}
    text, images = _Text.of(summary.findings_html(_by_lesson(chart)))
    assert images == [{"src": "data:image/png;base64,iVBORyBwbGFudGVk", "alt": "A Lorenz curve."}]
    assert "The top 20 % bring 71% of revenue. Look at the bend." in text
    assert "IDIC This section states no single finding" in text
    assert "Payne & Frow This section not run in this report." in text  # titled by its name
    _, images = _Text.of(summary.findings_html(_by_lesson()))
    assert images == []


def test_recommendation_cards_and_gaps_read_in_words():
    by_lesson = _by_lesson()
    page = summary.recommendations_html(summary.recommendation_list(by_lesson, "EUR"), by_lesson)
    text, _ = _Text.of(page)
    assert "Value at stake €8,264 over 12 months (the margin kept over 12 months" in text
    assert "How sure Effect assumed. Effect: 4.3% incremental response, assumed default." in text
    assert '<a href="03_value_chain.html">The CRM value chain</a>: customer portfolio' in page
    assert "Not valued: no cost data" in text
    assert "nan" not in text.lower() and "lesson" not in text.lower()
    gaps, _ = _Text.of(summary.not_assessed_html(by_lesson))
    assert gaps == (
        "The assessment would be complete with the surveys table. QCi No surveys table. "
        "Payne & Frow: the whole section not run in this report."
    )


def test_what_is_missing_is_said_in_words_once():
    gaps = [
        {
            "section": "a",
            "missing": ["cost_rates"],
            "reason": "Not assessed: x, for lack of the cost_rates table",
        },
        {"section": "b", "missing": ["products", "transactions.product_id"], "reason": "y"},
        {"section": "c", "missing": ["cost_rates", "transactions.cost"], "reason": "z"},
        {"section": "d", "missing": ["assessment", "assessment_qci.csv"], "reason": "q"},
        {"section": "e", "missing": ["transactions"], "reason": "too short a history"},
    ]
    by_lesson = {
        "qci": {"status": "complete", "title": "02 · QCi", "results": {"not_assessed": gaps}}
    }
    assert summary.missing_data(by_lesson, present=["transactions"]) == (
        "The assessment would be complete with the cost rates and products tables; the cost and "
        "product id columns of the transactions table; the answers to the assessment questions "
        "(assessment_qci.csv)."
    )
    text, _ = _Text.of(summary.not_assessed_html(by_lesson, present=["transactions"]))
    assert "QCi X, for lack of the cost rates table." in text  # names in words, prefix gone
    assert summary.in_words("the cost_rates table (assessment_qci.csv)") == (
        "the cost rates table (assessment_qci.csv)"
    )
    assert (
        summary.in_words(
            "the answers to the payne_frow_readiness questions (assessment_payne_frow_readiness.csv)"
        )
        == "the answers to the Payne & Frow readiness questions (assessment_payne_frow_readiness.csv)"
    )
    assert summary.in_words("the qci questions") == "the QCi questions"


def test_assumptions_come_from_the_sections_and_their_parameters():
    page = summary.assumptions_html(
        _by_lesson(),
        {"idic": {"annual_discount_rate": 0.1, "lapsed_days": None}},
        "GBP",
        "2024-12-31",
    )
    text, _ = _Text.of(page)
    assert "As-of date : 31 December 2024" in text
    assert "Horizon : 12 months" in text
    assert "Discount rate : 10.0 % a year" in text
    assert "after 112 days without a purchase (the client's own buying cycle" in text
    assert "raises their response rate by 4.3 percentage points, measured against" in text
    assert "amounts in GBP, written £1,234." in text


# --- the summary of a real report ---------------------------------------------------------

SNAKE = re.compile(r"\b[a-z]+_[a-z0-9_]+\b")
FILE_NAME = re.compile(r"\b\w+\.(csv|txt|parquet|xlsx|json)\b")  # a client's file, as named


def _client_view(notebook) -> tuple[str, list[str]]:
    """The visible text of the report view of an executed summary (cells tagged
    lesson-only left out), and every output's HTML."""
    texts, pages = [], []
    for cell in notebook.cells:
        if "lesson-only" in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "markdown":
            texts.append(cell.source)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                pages.append(data["text/html"])
                texts.append(_Text.of(data["text/html"])[0])
            elif "text/markdown" in data:
                texts.append(data["text/markdown"])
            elif "text/plain" in data:
                texts.append(data["text/plain"])
            elif output.get("output_type") == "stream":
                texts.append(output["text"])
    return "\n".join(texts), pages


@pytest.mark.slow
@pytest.mark.parametrize(
    "data, currency, prefix",
    [("sample", "EUR", "€"), ("cdnow", "USD", "USD ")],  # a full client; transactions only
)
def test_the_summary_of_a_report_shows_the_sections_figures_in_the_currency(
    tmp_path, data, currency, prefix
):
    out = tmp_path / "report"
    run = crm("report", data, "--only", "idic,qci", "--currency", currency, "--out", out)
    assert run.returncode == 0, run.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    recorded = {e["lesson"]: e["results"] for e in manifest["lessons"]}
    assert manifest["parameters"]["currency"] == currency
    executed = nbformat.read(out / "05_client_summary.ipynb", as_version=4)
    text, pages = _client_view(executed)
    tiles = re.findall(
        r'<div class="crm-value">(.*?)</div><div class="crm-label">(.*?)</div>', "".join(pages)
    )
    shown = {html.unescape(label): html.unescape(value) for value, label in tiles}
    assert 4 <= len(shown) <= 6
    money = re.escape(prefix) + r"\d{1,3}(,\d{3})*"
    # each tile is the figure its section recorded, formatted by the catalogue in the currency
    assert shown["Customers"] == f"{recorded['idic']['customers']:,}"
    clv = shown["Lifetime value of the customer base, next 12 months"]
    assert clv == metrics.format_value("total_clv", recorded["idic"]["total_clv"], currency)
    assert re.fullmatch(money, clv)
    reality = "Customer management in practice (% of best practice)"
    if recorded["qci"].get("overall_reality") is None:  # no assessment answers: no tile
        assert reality not in shown
    else:
        assert shown[reality] == f"{recorded['qci']['overall_reality']:.1f}"
    # every recommendation's value: money in the currency over its horizon, or why not
    values = re.findall(r"<dt>Value at stake</dt><dd>(.*?)(?: \(|</dd>)", "".join(pages))
    recs = sum(len(r.get("recommendations") or []) for r in recorded.values())
    assert 0 < len(values) <= recs
    for value in map(html.unescape, values):
        assert re.fullmatch(money + r" over \d+ months", value) or value.startswith(
            "Not valued: "
        ), value
    # nothing a client should not read
    words = FILE_NAME.sub("", text)
    assert not SNAKE.findall(words), SNAKE.findall(words)[:5]
    assert "NaN" not in text and "nan " not in text
    assert "rows ×" not in text and "..." not in text
    assert not re.search(r"\b(lessons?|exercises?|students?)\b", text, re.IGNORECASE)
    assert "Appendix A · The data" in text and "Appendix B · Methods and assumptions" in text
    assert "Foundations: the whole section not run in this report." in text


def test_the_plain_index_is_the_same_page_from_the_manifest_in_the_currency():
    from crmlib.report.index import index_page

    lessons = [
        {"lesson": name, "seconds": 1.0, "not_assessed": [], **entry}
        for name, entry in _by_lesson().items()
    ]
    manifest = {
        "complete": True,
        "as_of": "2024-12-31",
        "created": "now",
        "parameters": {"currency": "EUR"},
        "lessons": lessons,
        "rows": {"cost_rates": {"rows": 15, "accepted": 15, "rejected": 0}},
    }

    class Validated:
        tables = {"transactions": None}

        def top_reasons(self, n):
            return pd.DataFrame(columns=["table", "reason", "rows"])

    page = index_page("Client", manifest, Validated())
    text, _ = _Text.of(page)
    assert "€158,715 Lifetime value of the customer base, next 12 months" in text  # a tile
    assert "Value at stake €8,264 over 12 months" in text  # the ranked recommendations
    assert "Not valued: no cost data" in text
    assert "Cost rates 15 15 0" in text  # the data, in words
    assert not SNAKE.findall(FILE_NAME.sub("", text)), SNAKE.findall(text)[:5]


# --- a report at scale: sections on a sample of customers ---------------------------------


def _drawn(customers, sampled, seed=7):
    """A sample as crmlib.data.rowsample.customer_sample draws it."""
    return CustomerSample(customers, sampled, seed)


def _at_scale() -> dict:
    """The planted sections with IDIC and the value chain on a sample of 1,000 of 5,248 ids,
    and QCi on the same sample but with its questionnaire figures of the whole client."""
    by_lesson = _by_lesson()
    drawn = _drawn(5248, 1000)
    by_lesson["idic"]["results"].update(results.on_a_sample(drawn))
    by_lesson["value_chain"]["results"].update(results.on_a_sample(drawn))
    by_lesson["qci"]["results"].update(
        results.on_a_sample(drawn, every_customer=["overall_reality", "benchmark_position"])
    )
    by_lesson["idic"]["results"]["finding"] = "194 most valuable customers hold 74% of CLV"
    return by_lesson


def test_a_sample_that_holds_every_customer_is_not_a_sample():
    assert results.on_a_sample(None) == {}
    assert results.on_a_sample(_drawn(600, 600)) == {}
    entry = results.on_a_sample(_drawn(5248, 1000), every_customer=["customers"])["sample"]
    assert (entry["customers"], entry["sampled"], entry["every_customer"]) == (5248, 1000, ["customers"])
    with pytest.raises(CRMError, match="results.on_a_sample"):
        results.record("idic", {"sample": {"customers": 3}})


def test_at_scale_the_summary_quotes_no_figure_of_a_sample_as_the_clients():
    by_lesson = _at_scale()
    own = {"customers": 5136, "net_revenue": 1065714.76}
    tiles = summary.headline_tiles(by_lesson, "EUR", own=own, limit=5).set_index("key")
    # IDIC's customers and CLV are the sample's: the summary's own count of every customer instead
    assert tiles.loc["customers", "value"] == "5,136" and tiles.loc["customers", "lesson"] == "client_summary"
    assert "total_clv" not in tiles.index
    # QCi's reality comes from the questionnaire: the client's, whatever the sample
    assert tiles.loc["overall_reality", "lesson"] == "qci"

    recs = summary.recommendation_list(by_lesson, "EUR")
    assert recs[results.VALUE_AT_STAKE].isna().all()  # none valued on every customer
    sampled = recs[recs[results.LESSON].isin(["idic", "value_chain"])]
    assert set(sampled[summary.VALUE_TEXT]) == {
        "not valued: its section was computed on a sample of 1,000 of 5,248 customer ids"
    }
    assert summary.recommendation_tile(recs, "EUR") is None

    findings = summary.findings_html(by_lesson)
    assert "74% of CLV. Computed on a sample of 1,000 of 5,248 customer ids." in findings
    assert "71% of revenue. Computed" not in findings  # foundations has every row here
    title = summary.title_block_html("Client", "2024-12-31", "2023-01-01", "2024-12-31", by_lesson)
    assert "count every customer and every order line" in title
    assert "a sample of 1,000 of 5,248 customer ids" in title
    assert "linked only within" not in title  # the planted IDIC had no records to compare
    by_lesson["idic"]["results"]["records"] = 1040
    title = summary.title_block_html("Client", "2024-12-31", "2023-01-01", "2024-12-31", by_lesson)
    assert "linked only within the sample, so a count over every customer counts customer ids" in title
    assert "sample" not in summary.title_block_html(
        "Client", "2024-12-31", "2023-01-01", "2024-12-31", _by_lesson()
    )
