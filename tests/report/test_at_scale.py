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
    one customer in both reports. Linking records at scale is not done yet."""
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


def test_a_sample_is_for_the_engines_only(folder, tmp_path):
    result = crm("report", folder, "--out", tmp_path / "r", "--engine", "duckdb", "--param", "aggregates_dir=x")
    assert result.returncode == 1 and "aggregates_dir is set by crm report" in result.stderr


def test_every_lesson_loading_the_whole_folder_is_refused_at_scale(folder, tmp_path):
    result = crm("report", folder, "--out", tmp_path / "r", "--engine", "duckdb", "--no-snapshot")
    assert result.returncode == 1 and "--no-snapshot is for a report in memory" in result.stderr
