"""One `crm report`, one set of numbers: every lesson agrees with every other (issue 15).

Run on the bundled sample and on a fresh `crm synth` client (every lesson), the
report's lessons must count the same customers (linked persons with a purchase),
apply the same lapse rule, compute the same total CLV, and the client summary's
ranked recommendations must never count the same customers' same kind of value
twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from report_helpers import crm

from crmlib import results
from crmlib.analytics import stakes


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("consistency")
    made = crm("synth", "--customers", "1500", "--seed", "11", "--out", root / "client")
    assert made.returncode == 0, made.stderr
    out = {}
    for name, source in (("sample", []), ("synth", [root / "client"])):
        run = crm("report", *source, "--client", name, "--out", root / name)
        assert run.returncode == 0, run.stderr
        out[name] = root / name
    return out


def _lessons(folder: Path) -> dict[str, dict]:
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["complete"] is True
    return {entry["lesson"]: entry for entry in manifest["lessons"]}


@pytest.mark.slow
@pytest.mark.parametrize("client", ["sample", "synth"])
def test_every_lesson_gives_the_same_customers_lapse_rule_and_clv(reports, client):
    lessons = _lessons(reports[client])
    figures = {name: entry["results"] for name, entry in lessons.items()}
    assert all(entry["status"] == "complete" for entry in lessons.values())
    customers = {name: r["customers"] for name, r in figures.items() if "customers" in r}
    assert len(customers) == 6 and len(set(customers.values())) == 1, customers
    lapsed = {name: r["lapsed_days"] for name, r in figures.items() if "lapsed_days" in r}
    assert len(lapsed) == 3 and len(set(lapsed.values())) == 1, lapsed
    clv = {name: r["total_clv"] for name, r in figures.items() if r.get("total_clv") is not None}
    assert set(clv) == {"idic", "value_chain", "payne_frow"}
    assert max(clv.values()) - min(clv.values()) <= 0.01, clv  # rounded to cents, else equal


def _by_lesson(folder: Path, lessons: dict[str, dict]) -> dict[str, dict]:
    out = {}
    for name, entry in lessons.items():
        if name == results.SUMMARY:
            continue
        side = folder / f"{name}{results.STAKES_SUFFIX}"
        out[name] = {
            "results": entry["results"],
            "stakes": pd.read_csv(side, dtype={stakes.CUSTOMER_ID: str}) if side.exists() else None,
        }
    return out


@pytest.mark.slow
@pytest.mark.parametrize("client", ["sample", "synth"])
def test_no_two_recommendations_count_the_same_customers_value(reports, client):
    folder = reports[client]
    by_lesson = _by_lesson(folder, _lessons(folder))
    # each valued recommendation's customers, by kind, as the lessons gave them
    members = {kind: [] for kind in stakes.KINDS}
    for entry in by_lesson.values():
        side = entry["stakes"]
        for number, rec in enumerate(entry["results"].get("recommendations") or [], start=1):
            if rec.get(stakes.KIND) and side is not None:
                mine = side[side[stakes.REC_ID] == number]
                assert len(mine) == rec[stakes.CUSTOMERS]
                members[rec[stakes.KIND]].append(mine.set_index(stakes.CUSTOMER_ID)[stakes.VALUE])
    ranked = results.recommendations(by_lesson)
    overlapped = False
    for kind, parts in members.items():
        if not parts:
            continue
        everyone = pd.concat(parts)
        best = everyone.groupby(level=0).max()
        overlapped |= len(everyone) > len(best)
        rows = ranked[ranked[stakes.KIND] == kind]
        # the rows of one kind cover each customer once: disjoint, and valued once
        assert rows[stakes.CUSTOMERS].sum() == len(best), kind
        assert rows[results.VALUE_AT_STAKE].sum() == pytest.approx(best.sum(), abs=len(rows))
    if client == "sample":  # the lessons do recommend overlapping actions: merging is tested
        assert overlapped
    # the report ships keyed pseudonyms only, never a customer id
    ids = set(
        pd.read_csv(
            Path(__file__).parents[2] / "datasets" / "sample" / "customers.csv",
            usecols=["customer_id"],
        )["customer_id"]
    )
    for name in by_lesson:
        side = folder / f"{name}{results.STAKES_SUFFIX}"
        if side.exists():
            assert not ids & set(pd.read_csv(side, dtype=str)[stakes.CUSTOMER_ID])
