"""The seeded customer sample of a report at scale: whole customers, reproducible, nested."""

import hashlib

import pandas as pd
import pytest

from crmlib.data import rowsample
from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError


@pytest.fixture
def folder(tmp_path):
    """Twelve customers: each has i + 1 order lines and one ticket; C12 only buys (no record)."""
    ids = [f"C{i:02d}" for i in range(1, 13)]
    tx = pd.DataFrame(
        {
            s.ORDER_ID: [f"O{i}-{k}" for i, c in enumerate(ids) for k in range(i + 1)],
            s.CUSTOMER_ID: [c for i, c in enumerate(ids) for _ in range(i + 1)],
            s.REVENUE: [float(i) for i, c in enumerate(ids) for _ in range(i + 1)],
        }
    )
    folder = tmp_path / "accepted"
    folder.mkdir()
    tx.to_parquet(folder / "transactions.parquet")
    pd.DataFrame({s.CUSTOMER_ID: ids[:-1], s.CITY: ["x"] * 11}).to_parquet(folder / "customers.parquet")
    pd.DataFrame({s.TICKET_ID: [f"T{c}" for c in ids], s.CUSTOMER_ID: ids}).to_parquet(
        folder / "tickets.parquet"
    )
    pd.DataFrame({s.PRODUCT_ID: ["P1"], s.UNIT_PRICE: [2.0]}).to_parquet(folder / "products.parquet")
    return folder, ids, tx


def _smallest_hashes(ids, seed, k):
    """The sample's rule, written independently: the k ids of smallest md5(id:seed)."""
    return set(sorted(ids, key=lambda c: (hashlib.md5(f"{c}:{seed}".encode()).hexdigest(), c))[:k])


def test_the_sample_holds_every_row_of_the_chosen_customers_and_no_other(folder, tmp_path):
    src, ids, tx = folder
    got = rowsample.customer_sample(src, tmp_path / "s", customers=4, seed=7)
    chosen = _smallest_hashes(ids, 7, 4)
    assert (got.customers, got.sampled, got.seed) == (12, 4, 7)
    sampled_tx = pd.read_parquet(tmp_path / "s" / "transactions.parquet")
    expected = tx[tx[s.CUSTOMER_ID].isin(chosen)].reset_index(drop=True)
    pd.testing.assert_frame_equal(sampled_tx.reset_index(drop=True), expected)  # same order too
    tickets = pd.read_parquet(tmp_path / "s" / "tickets.parquet")
    assert set(tickets[s.CUSTOMER_ID]) == chosen
    customers = pd.read_parquet(tmp_path / "s" / "customers.parquet")
    assert set(customers[s.CUSTOMER_ID]) == chosen - {"C12"}
    assert got.rows == {"customers": len(customers), "tickets": 4, "transactions": len(expected)}
    # a table without a customer id is copied whole
    assert pd.read_parquet(tmp_path / "s" / "products.parquet")[s.PRODUCT_ID].tolist() == ["P1"]
    assert "4 of the 12 customer ids (33.3%)" in got.sentence() and "seed 7" in got.sentence()


def test_the_same_seed_gives_the_same_sample_and_a_larger_one_contains_it(folder, tmp_path):
    src, ids, _ = folder
    rowsample.customer_sample(src, tmp_path / "a", customers=3, seed=1)
    rowsample.customer_sample(src, tmp_path / "b", customers=3, seed=1)
    rowsample.customer_sample(src, tmp_path / "c", customers=6, seed=1)
    rowsample.customer_sample(src, tmp_path / "d", customers=3, seed=2)

    def chosen(name):
        return set(pd.read_parquet(tmp_path / name / "transactions.parquet")[s.CUSTOMER_ID])

    assert chosen("a") == chosen("b") == _smallest_hashes(ids, 1, 3)
    assert chosen("a") < chosen("c")
    assert chosen("d") == _smallest_hashes(ids, 2, 3) != chosen("a")


def test_a_sample_larger_than_the_folder_is_the_whole_folder(folder, tmp_path):
    src, ids, tx = folder
    got = rowsample.customer_sample(src, tmp_path / "s", customers=100)
    assert (got.customers, got.sampled, got.fraction) == (12, 12, 1.0)
    assert len(pd.read_parquet(tmp_path / "s" / "transactions.parquet")) == len(tx)
    assert got.sentence() == "Every one of the 12 customer ids is in the sample."


def test_bad_requests_are_refused(folder, tmp_path):
    src, _, _ = folder
    with pytest.raises(CRMError, match="at least one customer"):
        rowsample.customer_sample(src, tmp_path / "s", customers=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no customers or transactions"):
        rowsample.customer_sample(empty, tmp_path / "t")


def test_with_persons_whole_persons_are_drawn_with_every_record(folder, tmp_path):
    """Records C01-C03 are one person (C01) and C04-C05 another (C04): nine persons."""
    src, ids, _ = folder
    persons = tmp_path / "persons.parquet"
    pd.DataFrame(
        {s.CUSTOMER_ID: ["C02", "C03", "C05"], "person_id": ["C01", "C01", "C04"]}
    ).to_parquet(persons)
    person = {c: {"C02": "C01", "C03": "C01", "C05": "C04"}.get(c, c) for c in ids}
    everyone = sorted(set(person.values()))
    for k in (1, 2, 4, 9):
        got = rowsample.customer_sample(src, tmp_path / f"p{k}", customers=k, seed=3, persons=persons)
        drawn = _smallest_hashes(everyone, 3, k)  # persons, by the hash of the person's id
        assert (got.customers, got.sampled, got.unit) == (9, k, "persons")
        records = set(pd.read_parquet(tmp_path / f"p{k}" / "customers.parquet")[s.CUSTOMER_ID])
        assert records == {c for c in ids[:-1] if person[c] in drawn}  # every record of theirs
        tickets = set(pd.read_parquet(tmp_path / f"p{k}" / "tickets.parquet")[s.CUSTOMER_ID])
        assert tickets == {c for c in ids if person[c] in drawn}
        assert f"{k} of the 9 persons" in got.sentence() if k < 9 else "9 persons" in got.sentence()
