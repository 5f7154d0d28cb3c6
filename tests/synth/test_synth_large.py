"""Tests of crmlib.synth.write_large_folder: a client folder written chunk by chunk.

A small folder (900 persons in three chunks of 300) stands in for a large
one: every property that must hold across chunks (ids, shared tables, one
schema, reproducibility) is checked on it against what a correct chunked
writer must produce, never against the writer's own earlier output.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from crmlib import synth
from crmlib.cli import cli, main
from crmlib.data.io import load_folder
from crmlib.data.schema import TABLES
from crmlib.errors import CRMError
from crmlib.synth import stream

SEED = 20261122
N, CHUNK = 900, 300  # three chunks
END = "2024-12-31"  # the generator's default window end (its as_of)
KEYS = {
    "customers": ("customer_id", "C"),
    "interactions": ("interaction_id", "I"),
    "tickets": ("ticket_id", "T"),
    "surveys": ("response_id", "S"),
    "subscriptions": ("subscription_id", "SB"),
}


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """The folder, what write_large_folder returned, and the rows of each chunk."""
    out = tmp_path_factory.mktemp("large") / "client"
    chunks = []
    written = synth.write_large_folder(
        N,
        out,
        seed=SEED,
        chunk_customers=CHUNK,
        progress=lambda i, n, rows: chunks.append((i, n, rows)),
    )
    return out, written, chunks


@pytest.fixture(scope="module")
def tables(large):
    out = large[0]
    return {p.stem: pd.read_parquet(p) for p in out.glob("*.parquet")}


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _number(ids: pd.Series, prefix: str) -> np.ndarray:
    assert ids.str.startswith(prefix).all()
    return ids.str[len(prefix) :].astype(int).to_numpy()


# --- ids ---------------------------------------------------------------------------


def test_three_chunks_were_written(large):
    _, _, chunks = large
    assert [(i, n) for i, n, _ in chunks] == [(1, 3), (2, 3), (3, 3)]


def test_ids_continue_over_the_chunks_at_one_width(tables):
    # each id sequence runs 1..count with no gap and no repeat: the chunks' numbers neither
    # restart (a repeat) nor skip; one width per id keeps them sortable as text
    for name, (key, prefix) in KEYS.items():
        ids = tables[name][key]
        assert ids.str.len().nunique() == 1, name
        numbers = np.sort(_number(ids, prefix))
        np.testing.assert_array_equal(numbers, np.arange(1, len(ids) + 1), err_msg=name)
    orders = tables["transactions"]["order_id"]
    assert orders.str.len().nunique() == 1
    numbers = np.unique(_number(orders, "O"))
    np.testing.assert_array_equal(numbers, np.arange(1, numbers.size + 1))
    # an order belongs to one customer (a restarted order number would be shared)
    assert (tables["transactions"].groupby("order_id")["customer_id"].nunique() == 1).all()
    assert tables["customers"]["customer_id"].is_monotonic_increasing


def test_emails_and_phones_identify_one_person_across_chunks(tables):
    cust = tables["customers"]
    user = cust["email"].str.lower().str.split("@").str[0]
    digits = cust["phone"].str.replace(r"\D", "", regex=True).str[-8:]
    known = pd.DataFrame({"user": user, "digits": digits}).dropna()
    # a person's records share the e-mail username (up to case) and the phone number
    assert (known.groupby("user")["digits"].nunique() == 1).all()
    assert (known.groupby("digits")["user"].nunique() == 1).all()
    assert cust.groupby(digits).size().max() <= 2
    # phone = lead digit + (person * 7654321 + offset) mod 10**7, person counted over all
    # chunks: undoing the multiplication gives N consecutive person numbers, not 3 runs
    inverse = pow(7_654_321, -1, 10**7)
    sub = digits.dropna().str[-7:].astype(int).unique()
    person = np.sort([(int(v) * inverse) % 10**7 for v in sub])
    assert len(person) > 0.9 * N
    assert person[-1] - person[0] < N


# --- shared tables -----------------------------------------------------------------


def test_transactions_refer_to_customers_and_to_the_one_product_catalogue(tables):
    ids = set(tables["customers"]["customer_id"])
    for name in ("transactions", "interactions", "tickets", "surveys", "subscriptions"):
        assert set(tables[name]["customer_id"]) <= ids, name
    products = tables["products"]
    # the catalogue is the one generate() draws first from the same seed
    pd.testing.assert_frame_equal(products, synth.generate(5, seed=SEED).tables["products"])
    lines = tables["transactions"].merge(products, on="product_id", how="left")
    assert lines["unit_price"].notna().all()
    sale = lines[lines["revenue"] > 0]
    # cost = unit cost x quantity; revenue = unit price x quantity less a planted discount
    np.testing.assert_array_equal(sale["cost"], np.round(sale["unit_cost"] * sale["quantity"], 2))
    discounts = sorted({0.0, *synth.DISCOUNTS, *(c.discount for c in synth.CAMPAIGNS)})
    full = sale["unit_price"] * sale["quantity"]
    priced = np.zeros(len(sale), dtype=bool)
    for d in discounts:
        priced |= np.isclose(sale["revenue"], np.round(full * (1 - d), 2), atol=1e-9)
    assert priced.all()


def test_campaigns_once_with_the_contacts_of_every_chunk(large, tables):
    everything, inter = tables["campaigns"], tables["interactions"]
    assert everything["campaign_id"].is_unique
    acquisition = everything[everything["objective"] == "acquisition"]
    campaigns = everything[everything["objective"] != "acquisition"]
    assert len(campaigns) == len(synth.CAMPAIGNS)
    assert set(inter["campaign_id"].dropna()) == set(campaigns["campaign_id"])
    # acquisition spend: the planted cost per new customer of every chunk's new customers
    cust = tables["customers"]
    buyers = cust[cust["customer_id"].isin(set(tables["transactions"]["customer_id"]))]
    assert (
        acquisition["cost"].sum() <= buyers["acquisition_channel"].map(synth.ACQUISITION_COST).sum()
    )
    assert acquisition["cost"].sum() > 0
    contacts = inter[inter["kind"] == "campaign_contact"].groupby("campaign_id").size()
    rate = {c: u for a, c, u in synth.COST_RATES if a == "contact"}
    expected = synth.CAMPAIGN_FIXED_COST + campaigns["campaign_id"].map(contacts).fillna(0) * (
        campaigns["channel"].map(rate)
    )
    np.testing.assert_allclose(campaigns["cost"], expected)
    # the contacts summed above come from every chunk (chunk k holds the next customer numbers)
    bounds = np.cumsum([rows["customers"] for _, _, rows in large[2]])
    contacted = inter.loc[inter["kind"] == "campaign_contact", "customer_id"]
    chunk_of = np.searchsorted(bounds, _number(contacted, "C"))
    assert set(chunk_of) == {0, 1, 2}


def test_row_counts_are_the_sums_over_the_chunks(large, tables):
    out, written, chunks = large
    assert list(written) == [out / f"{name}.parquet" for name in TABLES if name != "assessment"]
    for path, rows in written.items():
        name = path.stem
        assert rows == len(tables[name]) == pq.ParquetFile(path).metadata.num_rows
        if name in chunks[0][2]:
            assert rows == sum(c[2][name] for c in chunks), name
            assert pq.ParquetFile(path).metadata.num_row_groups >= len(chunks), name
    assert written[out / "products.parquet"] == 200


# --- files -------------------------------------------------------------------------


def _row_group_types(path):
    meta = pq.ParquetFile(path).metadata
    return [
        [
            (meta.row_group(g).column(j).path_in_schema, meta.row_group(g).column(j).physical_type)
            for j in range(meta.num_columns)
        ]
        for g in range(meta.num_row_groups)
    ]


def test_one_schema_in_every_row_group_even_for_tiny_chunks(large, tmp_path):
    # one person per chunk: some chunks have no tickets, no closed_at, no campaign ids at all
    tiny = tmp_path / "tiny"
    synth.write_large_folder(8, tiny, seed=SEED, chunk_customers=1)
    normal = tmp_path / "normal"
    synth.write_folder(synth.generate(300, seed=SEED), normal, fmt="parquet")
    for name in TABLES:
        if name == "assessment":
            continue
        expected = pq.read_schema(normal / f"{name}.parquet")
        for folder in (large[0], tiny):
            path = folder / f"{name}.parquet"
            assert pq.read_schema(path).equals(expected, check_metadata=False), (folder, name)
            groups = _row_group_types(path)
            assert all(g == groups[0] for g in groups), (folder, name)
        assert pd.read_parquet(tiny / f"{name}.parquet").dtypes.equals(
            pd.read_parquet(normal / f"{name}.parquet").dtypes
        ), name


def test_folder_loads_with_no_rejected_rows(large):
    out, written, chunks = large
    data = load_folder(out, as_of=END)
    assert data.rejects.empty
    assert {r.table: r.rows for r in data.reports.values()} == {
        p.stem: n for p, n in written.items()
    }
    # the one planted defect the loader reports: tickets closed before they were opened,
    # at least one per chunk (crmlib.synth.DEFECT_RATES)
    assert len(data.warnings) == 1 and data.warnings[0].startswith("tickets:")
    t = data.tables["tickets"]
    assert (t["closed_at"] < t["opened_at"]).sum() >= len(chunks)


def test_same_seed_same_files_other_seed_other(large, tmp_path):
    again = tmp_path / "again"
    synth.write_large_folder(N, again, seed=SEED, chunk_customers=CHUNK)
    assert _digest(again) == _digest(large[0])
    other = tmp_path / "other"
    synth.write_large_folder(N, other, seed=SEED + 1, chunk_customers=CHUNK)
    first, second = _digest(large[0]), _digest(other)
    assert first["transactions.parquet"] != second["transactions.parquet"]
    assert first["customers.parquet"] != second["customers.parquet"]
    assert first["cost_rates.parquet"] == second["cost_rates.parquet"]  # no randomness in it


def test_csv_folder_holds_the_same_rows_as_the_parquet_one(large, tables, tmp_path):
    out = tmp_path / "csv"
    written = synth.write_large_folder(N, out, seed=SEED, chunk_customers=CHUNK, fmt="csv")
    assert {p.stem: n for p, n in written.items()} == {p.stem: n for p, n in large[1].items()}
    tx = pd.read_csv(out / "transactions.csv", dtype={"order_id": str, "customer_id": str})
    assert tx["revenue"].dtype == float  # the header was written once, not once per chunk
    expected = tables["transactions"]
    assert tx["order_id"].tolist() == expected["order_id"].tolist()
    np.testing.assert_array_equal(tx["revenue"], expected["revenue"])
    inter = pd.read_csv(out / "interactions.csv", dtype=str)
    assert inter["timestamp"].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}").all()
    assert load_folder(out, as_of=END).rejects.empty


# --- failures ----------------------------------------------------------------------


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_write_leaves_no_folder(tmp_path, monkeypatch, error):
    real = stream._person_tables  # what write_large_folder calls per chunk
    calls = []

    def fail_on_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(stream, "_person_tables", fail_on_second_chunk)
    out = tmp_path / "client"
    with pytest.raises(type(error)):
        synth.write_large_folder(N, out, seed=SEED, chunk_customers=CHUNK)
    assert len(calls) == 2
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its partial copy


def test_refuses_a_used_folder_and_bad_arguments(tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("keep me")
    with pytest.raises(CRMError, match="not an empty folder"):
        synth.write_large_folder(10, used, chunk_customers=5)
    assert [p.name for p in used.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    written = synth.write_large_folder(10, empty, chunk_customers=5)
    assert all(p.parent == empty and p.is_file() for p in written)
    for kwargs in ({"chunk_customers": 0}, {"chunk_customers": 2.5}, {"fmt": "xlsx"}):
        with pytest.raises(CRMError):
            synth.write_large_folder(10, tmp_path / "bad", **kwargs)
    with pytest.raises(CRMError, match="n_customers"):
        synth.write_large_folder(0, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


# --- the command -------------------------------------------------------------------


def test_crm_synth_streams_a_large_folder(tmp_path):
    out = tmp_path / "client"
    args = ["synth", "--customers", 700, "--chunk-customers", 300]
    result = CliRunner().invoke(cli, [*map(str, args), "--format", "parquet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{name}.parquet" for name in TABLES if name != "assessment"
    )
    printed = {
        line.split()[0]: int(line.split()[1].replace(",", ""))
        for line in result.stdout.splitlines()
        if line.endswith(" rows")
    }
    assert printed == {p.name: pq.ParquetFile(p).metadata.num_rows for p in out.iterdir()}
    assert "chunk 3/3" in result.stderr and "chunk 4/" not in result.stderr


def test_crm_synth_refuses_truth_for_a_chunked_folder(tmp_path, capsys):
    out = tmp_path / "client"
    args = ["synth", "--customers", "700", "--chunk-customers", "300", "--out", str(out)]
    code = main([*args, "--truth", str(tmp_path / "truth")])
    err = capsys.readouterr().err
    assert code == 1
    assert "error: --truth needs the whole company in memory" in err
    assert "Traceback" not in err
    assert not out.exists() and not (tmp_path / "truth").exists()
    # up to the chunk size the company is made in memory, with its truth
    small = ["synth", "--customers", "300", "--chunk-customers", "300", "--out", str(out)]
    assert main([*small, "--truth", str(tmp_path / "truth")]) == 0
    assert (tmp_path / "truth" / "persons.csv").is_file()
    assert (out / "transactions.csv").is_file()
