"""A report at scale (``crm report --engine duckdb``): the folder is validated out of core, the
per-customer tables are computed on every row, and the lessons load a sample of customers.

The figures over all customers must not depend on the sample: on a folder small enough for
both, they equal the in-memory report's although the lessons see a fifth of the customers.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from report_helpers import crm

from crmlib import synth
from crmlib.analytics import concentration
from crmlib.data import schema as s

CUSTOMERS = 600


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A client whose customer records cannot be linked (no name, e-mail or phone): one id is
    one customer in both reports, so that the raw file's ids are the planted customers (the
    linked case: :func:`test_every_record_is_linked_into_persons_before_the_tables_at_scale`)."""
    folder = tmp_path_factory.mktemp("client")
    synth.write_folder(synth.generate(n_customers=CUSTOMERS, seed=11), folder)
    customers = pd.read_csv(folder / "customers.csv", dtype=str)
    customers.drop(columns=[s.NAME, s.EMAIL, s.PHONE]).to_csv(folder / "customers.csv", index=False)
    return folder


def _run(folder, out, *extra):
    lessons = "foundations,idic,qci,value_chain,payne_frow"
    result = crm("report", folder, "--out", out, "--only", lessons, *extra)
    assert result.returncode == 0, result.stderr
    return result, json.loads((out / "manifest.json").read_text())


def at_scale_sample(manifest, lesson):
    entry = _figures(manifest, lesson)["sample"]
    return {"customers": entry["customers"], "sampled": entry["sampled"]}


def _figures(manifest, lesson):
    entry = next(e for e in manifest["lessons"] if e["lesson"] == lesson)
    return entry["results"]


@pytest.mark.slow
def test_the_figures_over_all_customers_do_not_depend_on_the_sample(folder, tmp_path):
    _, in_memory = _run(folder, tmp_path / "memory")
    result, at_scale = _run(folder, tmp_path / "scale", "--engine", "duckdb", "--sample-customers", "120")

    scale = at_scale["at_scale"]
    assert scale["sampled_customers"] == 120 < scale["customers"]
    assert "data: summary in" in result.stderr and "data: sample in" in result.stderr
    # the whole folder's row counts, not the sample's
    assert at_scale["rows"] == in_memory["rows"]
    assert at_scale["rejected_values"] == in_memory["rejected_values"]

    for lesson, keys in (
        ("foundations", ("customers", "top_20pct_revenue_share", "recommended_model", "finding")),
        ("idic", ("customers", "total_clv", "clv_horizon_months", "rfm_segments")),
        ("qci", ("customers", "lapsed_days", "churn_rate", "repeat_rate", "finding")),
        ("value_chain", ("customers", "lapsed_days", "portfolio_customers", "total_clv", "total_profit", "top_20pct_profit_share",
                         "whale_peak_share", "loss_making_share", "profit_gini", "finding")),
        ("payne_frow", ("customers", "lapsed_days", "total_clv", "value_of_one_retention_point")),
        ("client_summary", ("customers", "orders", "net_revenue", "net_revenue_per_customer",
                            "repeat_customer_share", "top_20pct_revenue_share")),
    ):
        memory, scaled = _figures(in_memory, lesson), _figures(at_scale, lesson)
        for key in keys:
            assert scaled[key] == memory[key], (lesson, key)
    # planted: the folder's own buyers and their revenue, counted here from the raw file
    tx = pd.read_csv(folder / "transactions.csv", dtype={s.CUSTOMER_ID: str})
    bought = tx[tx[s.REVENUE] >= 0]
    revenue = tx[tx[s.CUSTOMER_ID].isin(set(bought[s.CUSTOMER_ID]))].groupby(s.CUSTOMER_ID)[s.REVENUE].sum()
    scaled = _figures(at_scale, "client_summary")
    assert scaled["customers"] == bought[s.CUSTOMER_ID].nunique()
    assert scaled["net_revenue"] == round(tx[s.REVENUE].sum(), 2)
    assert scaled["top_20pct_revenue_share"] == round(concentration.top_share(revenue, 0.2), 4)
    # planted: the lapse rule (the 90 % quantile of the gaps between a customer's purchase
    # days, rounded up), churn by it and repeat buying, by hand on the raw file
    days = pd.DataFrame({"c": bought[s.CUSTOMER_ID], "d": pd.to_datetime(bought[s.ORDER_DATE]).dt.normalize()})
    days = days.drop_duplicates().sort_values(["c", "d"])
    gaps = (days["d"] - days.groupby("c")["d"].shift()).dt.days.dropna()
    rule = int(np.ceil(np.quantile(gaps, 0.9) - 1e-9))
    by_customer = days.groupby("c")["d"]
    as_of = pd.Timestamp(at_scale["as_of"])
    first, last = by_customer.min(), by_customer.max()
    judged = (as_of - first).dt.days > rule
    qci_figures = _figures(at_scale, "qci")
    assert qci_figures["lapsed_days"] == rule
    assert qci_figures["churn_rate"] == round(((as_of - last).dt.days > rule)[judged].mean(), 3)
    assert qci_figures["repeat_rate"] == round((by_customer.nunique() > 1).mean(), 3)
    assert set(qci_figures["sample"]["every_customer"]) >= {"customers", "lapsed_days", "churn_rate", "repeat_rate", "finding"}
    # one CLV of the customer base in every section that shows it
    assert len({_figures(at_scale, n)["total_clv"] for n in ("idic", "value_chain", "payne_frow")}) == 1
    for lesson in ("foundations", "idic", "qci", "value_chain", "payne_frow"):
        assert _figures(at_scale, lesson)["customers"] == bought[s.CUSTOMER_ID].nunique(), lesson
    # every customer is in one RFM segment, not only the sample's
    assert sum(_figures(at_scale, "idic")["rfm_segments"].values()) == bought[s.CUSTOMER_ID].nunique()

    # the one recommendation valued on every customer keeps its value; the others have none
    def valued(manifest):
        return {
            r["text"]: r["value_at_stake"]
            for r in _figures(manifest, "payne_frow")["recommendations"]
            if r.get("every_customer") or "sample" not in _figures(manifest, "payne_frow")
        }

    point = next(t for t in valued(at_scale) if t.startswith("Raise every current customer"))
    assert valued(at_scale)[point] == valued(in_memory)[point] > 0
    # the sections' other figures are the sample's, and marked so
    assert at_scale_sample(at_scale, "idic") == {"customers": scale["customers"], "sampled": 120}
    assert "sample" not in _figures(in_memory, "idic")

    # the lesson says that its rows are a sample, and how large
    nb = json.loads((tmp_path / "scale" / "00_foundations.ipynb").read_text())
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "a sample of 120 of the" in text and "seed 20261207" in text
    # the per-customer tables and the sample are private: gone with the work folder
    assert not list((tmp_path / "scale").glob("**/*.parquet"))


@pytest.fixture(scope="module")
def linkable(tmp_path_factory):
    """A client whose customer records can be linked: about 5 % of its persons have a second
    record in another source system (the synthetic world's ``truth.records``)."""
    folder = tmp_path_factory.mktemp("linkable")
    company = synth.generate(n_customers=CUSTOMERS, seed=11)
    synth.write_folder(company, folder)
    return folder, company.truth.records


@pytest.mark.slow
def test_every_record_is_linked_into_persons_before_the_tables_at_scale(linkable, tmp_path):
    folder, records = linkable
    _, in_memory = _run(folder, tmp_path / "memory")
    result, at_scale = _run(folder, tmp_path / "scale", "--engine", "duckdb", "--sample-customers", "120")
    assert "data: linkage in" in result.stderr

    # planted: the world's persons (each record's person_id); the linkage (F1 0.99-1.0)
    # finds all but a link or two of every record, not only of the sample's
    persons = records["person_id"].nunique()
    idic = _figures(at_scale, "idic")
    assert idic["records"] == len(records) > persons
    assert persons <= idic["persons"] <= persons + 2
    tx = pd.read_csv(folder / "transactions.csv", dtype={s.CUSTOMER_ID: str})
    ids = tx.loc[tx[s.REVENUE] >= 0, s.CUSTOMER_ID]
    bought = ids.map(records.set_index(s.CUSTOMER_ID)["person_id"]).nunique()
    assert bought < ids.nunique() - 10  # counting ids would overcount
    for lesson in ("foundations", "idic", "qci", "value_chain", "payne_frow", "client_summary"):
        assert bought <= _figures(at_scale, lesson)["customers"] <= bought + 2, lesson
    # the sample draws persons, each with every record of theirs
    scale = at_scale["at_scale"]
    assert scale["customers"] == idic["persons"] and scale["sampled_customers"] == 120
    assert "a sample of 120 of the" in scale["sample"] and "persons" in scale["sample"]

    # every figure over all customers equals the in-memory report's, persons counted alike
    for lesson, keys in (
        ("foundations", ("customers", "top_20pct_revenue_share", "recommended_model", "finding")),
        ("idic", ("customers", "records", "persons", "duplicate_rate", "total_clv", "rfm_segments")),
        ("qci", ("customers", "lapsed_days", "churn_rate", "repeat_rate", "finding")),
        ("value_chain", ("customers", "lapsed_days", "portfolio_customers", "total_clv", "total_profit",
                         "top_20pct_profit_share", "loss_making_share", "profit_gini")),
        ("payne_frow", ("customers", "lapsed_days", "total_clv", "value_of_one_retention_point")),
        ("client_summary", ("customers", "orders", "net_revenue", "net_revenue_per_customer",
                            "repeat_customer_share", "top_20pct_revenue_share")),
    ):
        memory, scaled = _figures(in_memory, lesson), _figures(at_scale, lesson)
        for key in keys:
            assert scaled[key] == memory[key], (lesson, key, scaled[key], memory[key])
    assert {"records", "persons", "duplicate_rate"} <= set(idic["sample"]["every_customer"])
    # the recommendations that need only every customer's CLV, P(alive), profit and the effect
    # of the campaigns (counted on every row) are valued on every customer, as in memory
    for lesson, start in (
        ("idic", "Protect the most valuable"),
        ("idic", "Re-price or re-serve"),
        ("value_chain", "Protect the top 20 %"),
        ("value_chain", "Re-price or change"),
    ):
        scaled = {r["text"]: r for r in _figures(at_scale, lesson)["recommendations"]}
        memory = {r["text"]: r for r in _figures(in_memory, lesson)["recommendations"]}
        text = next(t for t in scaled if t.startswith(start))
        assert scaled[text]["every_customer"] is True
        assert scaled[text]["value_at_stake"] == memory[text]["value_at_stake"] > 0, lesson
        assert scaled[text]["customers"] == memory[text]["customers"] > 0, lesson
    # the growth of the most growable needs wallets: the sample's, not valued at scale
    grow = next(r for r in _figures(at_scale, "idic")["recommendations"] if r["text"].startswith("Grow"))
    assert not grow.get("every_customer")
    # the title block does not say that the records were linked only within the sample
    index = (tmp_path / "scale" / "index.html").read_text()
    assert "linked only within the sample" not in index
    assert f"a sample of 120 of {idic['persons']:,} persons" in index


def test_a_sample_is_for_the_engines_only(folder, tmp_path):
    result = crm("report", folder, "--out", tmp_path / "r", "--engine", "duckdb", "--param", "aggregates_dir=x")
    assert result.returncode == 1 and "aggregates_dir is set by crm report" in result.stderr


def test_every_lesson_loading_the_whole_folder_is_refused_at_scale(folder, tmp_path):
    result = crm("report", folder, "--out", tmp_path / "r", "--engine", "duckdb", "--no-snapshot")
    assert result.returncode == 1 and "--no-snapshot is for a report in memory" in result.stderr


@pytest.mark.slow
def test_past_the_linkage_limit_records_are_linked_only_within_the_sample(linkable, tmp_path):
    folder, records = linkable
    out = tmp_path / "r"
    result = crm("report", folder, "--out", out, "--only", "idic", "--engine", "duckdb",
                 "--sample-customers", "120", "--link-records", str(len(records) - 1))
    assert result.returncode == 0, result.stderr
    assert "data: linkage in" not in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    tx = pd.read_csv(folder / "transactions.csv", dtype={s.CUSTOMER_ID: str})
    ids = set(records[s.CUSTOMER_ID]) | set(tx[s.CUSTOMER_ID])
    assert f"of the {len(ids)} customer ids" in manifest["at_scale"]["sample"]
    # the tables are one row per customer id: the buyer ids, counted from the raw file
    assert _figures(manifest, "idic")["customers"] == tx.loc[tx[s.REVENUE] >= 0, s.CUSTOMER_ID].nunique()
    assert "records" not in _figures(manifest, "idic")["sample"]["every_customer"]
    assert "linked only within the sample" in (out / "index.html").read_text()


def test_the_linkage_limit_the_help_states_is_the_pipeline_s():
    from crmlib import pipeline

    text = " ".join(crm("report", "--help").stdout.split())
    assert f"(default {pipeline.LINK_RECORDS:,}:" in text
