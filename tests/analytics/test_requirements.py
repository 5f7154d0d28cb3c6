"""crmlib.analytics.requirements: a section declares what it needs; absent data is said, not zero."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from crmlib import results
from crmlib.analytics.requirements import NOT_ASSESSED, Need, Sections, missing_pieces
from crmlib.data import schema as s
from crmlib.data.io import ClientData
from crmlib.errors import CRMError

TX = pd.DataFrame(
    {
        s.CUSTOMER_ID: ["A", "B"],
        s.ORDER_DATE: pd.to_datetime(["2024-01-01", "2024-02-01"]),
        s.REVENUE: [10.0, 20.0],
    }
)
CAMPAIGNS = pd.DataFrame({s.CAMPAIGN_ID: ["C1", "C2"], s.NAME: ["spring", "summer"]})


def data(assessment_files=None, **tables) -> ClientData:
    return ClientData(
        {"transactions": TX, **tables},
        pd.DataFrame(columns=list(s.REJECT_COLUMNS)),
        {},
        assessment_files=dict(assessment_files or {}),
    )


def sections(client: ClientData, **kw) -> tuple[Sections, list[str]]:
    said: list[str] = []
    return Sections("qci", client, say=said.append, **kw), said


def test_present_data_passes_silently():
    costed = CAMPAIGNS.assign(**{s.COST: [100.0, None]})  # one value is enough
    checker, said = sections(data(campaigns=costed))
    assert checker.check("cost per acquisition", Need(columns={"campaigns": [s.COST]}))
    assert said == [] and checker.not_assessed == []


def test_absent_column_is_said_once_and_recorded():
    checker, said = sections(data(campaigns=CAMPAIGNS))
    need = Need(columns={"campaigns": [s.COST]})
    assert not checker.check("cost per acquisition", need)
    assert said == [
        "Not assessed: cost per acquisition, for lack of the cost column of the campaigns table."
    ]
    assert checker.not_assessed == [
        {"section": "cost per acquisition", "missing": ["campaigns.cost"], "reason": said[0]}
    ]
    checker.check("cost per acquisition", need)  # a cell run twice: listed once
    assert len(checker.not_assessed) == 1


def test_an_empty_column_is_as_absent_as_a_missing_one():
    empty = CAMPAIGNS.assign(**{s.COST: [None, None]})
    assert missing_pieces(data(campaigns=empty), Need(columns={"campaigns": [s.COST]})) == [
        (["campaigns.cost"], "the cost column of the campaigns table")
    ]


def test_absent_table_is_named_once_not_with_each_column():
    checker, said = sections(data())
    assert not checker.check(
        "acquisition cost", Need(columns={"campaigns": [s.COST, s.START_DATE]})
    )
    assert said == ["Not assessed: acquisition cost, for lack of the campaigns table."]
    assert checker.not_assessed[0]["missing"] == ["campaigns"]


def test_a_table_with_no_valid_row_is_absent():
    checker, _ = sections(data(campaigns=CAMPAIGNS.iloc[:0]))
    assert not checker.check("campaigns", Need(tables=["campaigns"]))


def test_any_of_columns():
    # a customers table without personal data: nothing to compare records on
    anonymous = pd.DataFrame({s.CUSTOMER_ID: ["A", "B"], s.CITY: ["Leeds", "York"]})
    need = Need(any_columns={"customers": [s.NAME, s.EMAIL, s.PHONE]})
    checker, said = sections(data(customers=anonymous))
    assert not checker.check("Identify", need)
    assert said == [
        "Not assessed: Identify, for lack of the name, email or phone column of the "
        "customers table."
    ]
    assert checker.not_assessed[0]["missing"] == [
        "customers.name",
        "customers.email",
        "customers.phone",
    ]
    with_phone = anonymous.assign(**{s.PHONE: [None, "0113 496 0000"]})
    assert sections(data(customers=with_phone))[0].check("Identify", need)


def test_min_rows():
    surveys = pd.DataFrame({s.RESPONSE_ID: ["1", "2"], s.CUSTOMER_ID: ["A", "B"]})
    checker, said = sections(data(surveys=surveys))
    assert not checker.check("needs segments", Need(min_rows={"surveys": 10}))
    assert said == [
        "Not assessed: needs segments, for lack of enough rows in the surveys table "
        "(10 needed, 2 held)."
    ]
    assert checker.check("needs segments", Need(min_rows={"surveys": 2}))


def test_check_any_passes_on_one_source_and_names_every_alternative_otherwise():
    tickets = pd.DataFrame({s.TICKET_ID: ["T"], s.CUSTOMER_ID: ["A"], s.CHANNEL: ["phone"]})
    by_tickets = Need(columns={"tickets": [s.CHANNEL, s.CSAT]})
    by_surveys = Need(columns={"surveys": [s.NPS]})
    checker, said = sections(data(tickets=tickets))
    assert not checker.check_any("experience by channel", by_tickets, by_surveys)
    assert said == [
        "Not assessed: experience by channel, for lack of the csat column of the tickets "
        "table or the surveys table."
    ]
    assert checker.not_assessed[0]["missing"] == ["tickets.csat", "surveys"]
    rated = tickets.assign(**{s.CSAT: [4.0]})
    assert sections(data(tickets=rated))[0].check_any("experience", by_tickets, by_surveys)


def test_assessment_answer_file(tmp_path):
    checker, said = sections(data())
    assert not checker.check("interview scores", Need(assessment="qci"))
    assert said == [
        "Not assessed: interview scores, for lack of the answers to the questionnaire "
        "“QCi customer management assessment (CMAT-style)” (assessment_qci.csv)."
    ]
    assert checker.not_assessed[0]["missing"] == ["assessment", "assessment_qci.csv"]
    # a file without a column the bank scores (QCi scores intention and reality)
    only_reality = tmp_path / "assessment_qci.csv"
    only_reality.write_text("question_id,reality\ncma1,50\n", encoding="utf-8")
    checker, said = sections(data({"qci": only_reality}))
    assert not checker.check("interview scores", Need(assessment="qci"))
    assert checker.not_assessed[0]["missing"] == ["assessment.intention"]
    # the readiness bank scores reality only; a lesson parameter counts as a file
    readiness = tmp_path / "answers.csv"
    readiness.write_text("question_id,reality\nsd1,3\n", encoding="utf-8")
    checker, _ = sections(data(), answer_files={"payne_frow_readiness": readiness})
    assert checker.check("readiness", Need(assessment="payne_frow_readiness"))


def test_skip_records_a_reason_a_need_cannot_state():
    checker, said = sections(data())
    stepped = checker.skip(
        "campaign lift", ["interactions.kind"], "Not assessed: lift, no contacts."
    )
    assert stepped is False
    assert said == ["Not assessed: lift, no contacts."]
    assert checker.not_assessed[0]["missing"] == ["interactions.kind"]


@pytest.mark.parametrize(
    "need, message",
    [
        (dict(tables=["orders"]), "unknown table"),
        (dict(columns={"campaigns": ["budget"]}), "budget is not a column of campaigns"),
    ],
)
def test_a_need_names_only_pieces_of_the_contract(need, message):
    with pytest.raises(CRMError, match=message):
        Need(**need)


# --- handed to the report ---------------------------------------------------------------------


def test_the_report_lists_what_each_lesson_could_not_assess(tmp_path, monkeypatch):
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    checker, _ = sections(data(campaigns=CAMPAIGNS))
    checker.check("cost per acquisition", Need(columns={"campaigns": [s.COST]}))
    results.record("qci", {"nps": None, NOT_ASSESSED: checker.not_assessed})
    saved = json.loads((tmp_path / "qci.results.json").read_text())
    assert saved["nps"] is None  # absent, not 0
    table = results.not_assessed(results.load(tmp_path))
    assert table.to_dict(orient="records") == [
        {
            "lesson": "qci",
            "section": "cost per acquisition",
            "missing": "campaigns.cost",
            "reason": "Not assessed: cost per acquisition, for lack of the cost column of the "
            "campaigns table.",
        }
    ]
    # not a headline figure
    assert results.headline_figures(results.load(tmp_path)).empty


@pytest.mark.parametrize(
    "value", ["campaigns.cost", [{"section": "x", "missing": "campaigns.cost", "reason": "r"}]]
)
def test_record_refuses_a_malformed_list(value):
    with pytest.raises(CRMError, match="not_assessed"):
        results.record("qci", {NOT_ASSESSED: value})


def test_keys_are_named_in_words_and_listed_as_keys():
    checker, said = sections(data())
    need = Need(tables=["cost_rates"], columns={"transactions": [s.PRODUCT_ID]})
    assert not checker.check("cost-to-serve", need)
    assert said == [
        "Not assessed: cost-to-serve, for lack of the cost rates table and the product id "
        "column of the transactions table."
    ]
    assert checker.not_assessed[0]["missing"] == ["cost_rates", "transactions.product_id"]
