"""Identify once (crmlib.analytics.linkage.identify): one definition of a customer for every lesson."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib.analytics import linkage
from crmlib.data import schema as s
from crmlib.data.io import ClientData
from crmlib.errors import CRMError

AS_OF = pd.Timestamp("2024-06-30")
# records 1 and 2 are one person (same e-mail and phone, two systems); 6 never bought;
# 5 only returned goods; 4 bought after the as-of date only
CUSTOMERS = pd.DataFrame(
    {
        s.CUSTOMER_ID: ["1", "2", "3", "4", "5", "6"],
        s.NAME: ["Ann Lee", "Anne Lee", "Bob Stone", "Cy Young", "Di Moss", "Ed Hart"],
        s.EMAIL: ["ann@x.org", "ANN@x.org", "bob@x.org", "cy@x.org", "di@x.org", None],
        s.PHONE: ["020 7946 0001", "+44 20 7946 0001", None, "020 7946 0003", None, None],
        s.SIGNUP_DATE: pd.to_datetime(["2023-01-01", "2024-01-01", *["2023-05-01"] * 4]),
        s.SOURCE_SYSTEM: ["webshop", "store", "store", "store", "webshop", "store"],
    }
)
TX = pd.DataFrame(
    {
        s.CUSTOMER_ID: ["1", "2", "2", "3", "4", "5"],
        s.ORDER_DATE: pd.to_datetime(
            ["2024-01-05", "2024-02-01", "2024-03-01", "2024-04-01", "2024-07-15", "2024-05-01"]
        ),
        s.REVENUE: [10.0, 20.0, 5.0, 30.0, 40.0, -8.0],
    }
)
SURVEYS = pd.DataFrame({s.RESPONSE_ID: ["S1", "S2"], s.CUSTOMER_ID: ["2", "3"]})


def _data(customers=CUSTOMERS, as_of=AS_OF) -> ClientData:
    tables = {"transactions": TX, "surveys": SURVEYS}
    if customers is not None:
        tables["customers"] = customers
    return ClientData(tables, pd.DataFrame(), {}, as_of=as_of)


def test_identify_links_the_records_of_one_person_and_counts_persons_who_bought():
    data, identity = linkage.identify(_data())
    assert (identity.records, identity.persons, identity.duplicate_records) == (6, 5, 1)
    assert identity.linked and identity.source_systems == ("store", "webshop")
    # persons with a purchase (revenue >= 0) by the as-of date: 1 (with record 2) and 3;
    # 4 bought only after it, 5 only returned, 6 never bought
    assert identity.customers == 2
    assert list(linkage.buyers(data)) == ["1", "3"]
    assert data.transactions[s.CUSTOMER_ID].tolist() == ["1", "1", "1", "3", "4", "5"]
    assert data.tables["surveys"][s.CUSTOMER_ID].tolist() == ["1", "3"]
    assert len(data.tables["customers"]) == 5
    assert "5 persons" in identity.sentence() and "2 customers" in identity.sentence()


def test_one_system_without_duplicates_is_left_as_it_is():
    one = CUSTOMERS.drop(index=1).assign(**{s.SOURCE_SYSTEM: "store"})
    data = _data(one)
    same, identity = linkage.identify(data)
    assert not identity.linked and identity.merged is None
    assert same is data
    assert (identity.records, identity.persons) == (5, 5)
    # record 2's lines still carry its own id (no customers row): 1, 2 and 3 bought
    assert identity.customers == 3


def test_without_customer_records_a_customer_is_a_customer_id():
    data, identity = linkage.identify(_data(None))
    assert identity.records is None and identity.finder is None and not identity.linked
    assert identity.customers == 3  # 1, 2, 3: 4 after the as-of date, 5 only a return
    assert "No customer records to link" in identity.sentence()


def test_saved_links_are_ids_only_and_give_the_same_persons(tmp_path):
    data = _data()
    linked, identity = linkage.identify(data)
    folder = linkage.write_finder(identity.finder, tmp_path / "identity")
    text = " ".join(p.read_text(encoding="utf-8") for p in folder.iterdir())
    for personal in ("Ann", "Lee", "ann@x.org", "7946"):
        assert personal.lower() not in text.lower()
    again, reread = linkage.identify(data, saved=folder)
    pd.testing.assert_frame_equal(again.transactions, linked.transactions)
    assert (reread.records, reread.persons, reread.customers) == (6, 5, 2)
    pd.testing.assert_frame_equal(reread.finder.clusters_, identity.finder.clusters_)
    assert reread.finder.probability_two_random_records_match_ == pytest.approx(
        identity.finder.probability_two_random_records_match_
    )
    other = _data(CUSTOMERS.iloc[:4])
    with pytest.raises(CRMError, match="other customer records"):
        linkage.identify(other, saved=folder)
    with pytest.raises(CRMError, match="no saved record linkage"):
        linkage.identify(data, saved=tmp_path)


def test_a_level_whose_u_was_not_estimated_is_scored_with_splinks_default():
    """A fit on many records may see no random pair reach a rare level (an exact e-mail):
    the saved model then has no u for it, and splink scores it with its default u. The
    parameters must hold that u, so that a level's Bayes factor is the one the pairs got."""
    from types import SimpleNamespace

    model = {
        "comparisons": [
            {
                "output_column_name": "email",
                "comparison_levels": [
                    {"is_null_level": True, "label_for_charts": "null"},
                    {"label_for_charts": "Exact match on email", "m_probability": 0.9},
                    {"label_for_charts": "All other", "m_probability": 0.1, "u_probability": 0.99},
                ],
            }
        ]
    }
    levels = [
        SimpleNamespace(is_null_level=True, label_for_charts="null", u_probability=None),
        SimpleNamespace(is_null_level=False, label_for_charts="Exact match on email", u_probability=0.0009),
        SimpleNamespace(is_null_level=False, label_for_charts="All other", u_probability=0.99),
    ]
    linker = SimpleNamespace(
        _settings_obj=SimpleNamespace(
            comparisons=[SimpleNamespace(output_column_name="email", comparison_levels=levels)]
        )
    )
    got = linkage._parameters(model, linker).set_index("level")
    assert got.loc["Exact match on email", "u"] == 0.0009
    assert got.loc["Exact match on email", "bayes_factor"] == pytest.approx(1000.0)
    assert bool(got.loc["Exact match on email", "u_default"])
    assert not bool(got.loc["All other", "u_default"]) and got.loc["All other", "u"] == 0.99


def test_splinks_duckdb_keeps_the_workbooks_memory_limit_and_spills(monkeypatch):
    # DuckDB's own default is 80 % of the machine: 200,000 records of a synthetic client
    # took 8.0 GB of resident memory with it, 4.4 GB with the workbook's 4GB limit
    monkeypatch.setenv("CRM_DUCKDB_MEMORY", "700MB")
    with linkage._splink_backend("duckdb", None) as api:
        con = api.duckdb_con
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert limit == "667.5 MiB"  # 700 MB
    assert "crm-splink-" in spill
