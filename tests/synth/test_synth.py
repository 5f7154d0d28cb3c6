"""Tests of crmlib.synth against the ground truth it plants.

Each statistical check compares the generated tables with the planted
parameters within a tolerance of four standard errors (or a margin stated
beside it), for the fixed seed below.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from crmlib import synth
from crmlib.data.schema import TABLES, pandera_schema
from crmlib.errors import CRMError

SEED = 20261122
N = 5000


@pytest.fixture(scope="module")
def company():
    return synth.generate(N, seed=SEED)


@pytest.fixture(scope="module")
def tables(company):
    return company.tables


@pytest.fixture(scope="module")
def person_of(company):
    """customer_id -> person_id, from the truth."""
    return company.truth.records.set_index("customer_id")["person_id"]


@pytest.fixture(scope="module")
def purchases(tables, person_of):
    """Purchase lines (revenue > 0) with their person."""
    tx = tables["transactions"]
    buys = tx[tx["revenue"] > 0].copy()
    buys["person_id"] = buys["customer_id"].map(person_of)
    return buys


def four_se(p: float, n: int) -> float:
    return 4 * np.sqrt(max(p * (1 - p), 1e-4) / max(n, 1))


# --- shape, schema, determinism ----------------------------------------------


def test_same_seed_same_company_other_seed_other(company):
    again = synth.generate(N, seed=SEED)
    for name, df in company.tables.items():
        pd.testing.assert_frame_equal(df, again.tables[name])
    pd.testing.assert_frame_equal(company.truth.persons, again.truth.persons)
    other = synth.generate(N, seed=SEED + 1)
    assert not other.tables["transactions"].equals(company.tables["transactions"])
    assert not other.tables["customers"]["name"].equals(company.tables["customers"]["name"])


def test_tables_have_exactly_the_schema_columns_and_pass_pandera(tables):
    assert set(tables) == set(TABLES) - {"assessment"}
    for name, df in tables.items():
        assert list(df.columns) == list(TABLES[name].names), name
        pandera_schema(name).validate(df, lazy=True)
        assert len(df) > 0, name


def test_column_kinds(tables):
    for name, df in tables.items():
        for col in TABLES[name].columns:
            s = df[col.name]
            if col.kind in ("id", "text"):
                assert pd.api.types.is_string_dtype(s), (name, col.name)
            elif col.kind == "date":
                assert pd.api.types.is_datetime64_dtype(s), (name, col.name)
                assert (s.dropna() == s.dropna().dt.normalize()).all(), (name, col.name)
            elif col.kind == "datetime":
                assert pd.api.types.is_datetime64_dtype(s), (name, col.name)
            else:
                assert pd.api.types.is_float_dtype(s), (name, col.name)
    assert tables["customers"]["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert tables["transactions"]["order_id"].str.fullmatch(r"O\d{9}").all()
    assert tables["products"]["product_id"].str.fullmatch(r"P\d{4}").all()


def test_keys_unique_and_references_resolve(tables):
    for name, df in tables.items():
        key = TABLES[name].key
        if key:
            assert df[key].is_unique, name
    ids = set(tables["customers"]["customer_id"])
    for name in ("transactions", "interactions", "tickets", "surveys", "subscriptions"):
        assert set(tables[name]["customer_id"]) <= ids, name
    assert set(tables["transactions"]["product_id"]) <= set(tables["products"]["product_id"])
    used = set(tables["interactions"]["campaign_id"].dropna())
    camps = tables["campaigns"]
    # contact campaigns have contacts; acquisition campaigns reach prospects, not customers
    assert used == set(camps.loc[camps["objective"] != "acquisition", "campaign_id"])
    assert set(camps["objective"]) == {"acquisition", "retention", "development"}


def test_products_and_cost_rates(tables):
    products = tables["products"]
    assert 150 <= len(products) <= 250
    assert products["category"].nunique() == 8
    assert (products["unit_cost"] < products["unit_price"]).all()
    rates = tables["cost_rates"]
    assert {"order", "delivery", "return", "ticket", "contact"} == set(rates["activity"])
    assert not rates.duplicated(["activity", "channel"]).any()


# --- persons and records -------------------------------------------------------


def test_records_map_every_customer_to_one_person(company, tables):
    records, persons = company.truth.records, company.truth.persons
    assert sorted(records["customer_id"]) == sorted(tables["customers"]["customer_id"])
    assert records["customer_id"].is_unique
    assert set(records["person_id"]) == set(persons["person_id"])
    assert len(persons) == N
    assert (
        records.groupby("person_id").size() == persons.set_index("person_id")["n_records"]
    ).all()


def test_duplicate_share_near_rate_and_second_record_in_other_system(company, tables):
    records = company.truth.records
    share = (records.groupby("person_id").size() == 2).mean()
    assert abs(share - 0.05) < four_se(0.05, N)
    assert records.groupby("person_id").size().max() == 2
    systems = records.groupby("person_id")["source_system"].nunique()
    assert (systems == records.groupby("person_id").size()).all()
    assert set(tables["customers"]["source_system"]) == {"webshop", "store", "service_desk"}


def _digits(phone: pd.Series) -> pd.Series:
    d = phone.str.replace(r"\D", "", regex=True)
    return d.str.replace(r"^(0044|44)", "0", regex=True)


def test_second_records_carry_realistic_variants(company, tables):
    cust = tables["customers"].merge(
        company.truth.records.drop(columns="source_system"), on="customer_id"
    )
    prim = cust[cust["is_primary"]].set_index("person_id")
    dup = cust[~cust["is_primary"]].set_index("person_id")
    pair = dup.join(prim.add_suffix("_p"))
    typo = pair[pair["name_variant"].isin(["swap", "drop", "replace"])]
    assert len(typo) > 0.3 * len(pair)
    assert (typo["name"] != typo["name_p"]).all()
    assert ((typo["name"].str.len() - typo["name_p"].str.len()).abs() <= 1).all()
    same = pair[pair["name_variant"].isin(["same"])]
    assert (same["name"] == same["name_p"]).all()
    cased = pair[pair["email_variant"] == "case"]
    assert len(cased) > 0
    assert (cased["email"] != cased["email_p"]).all()
    assert (cased["email"].str.lower() == cased["email_p"].str.lower()).all()
    moved = pair[pair["email_variant"] == "domain"]
    assert (moved["email"].str.split("@").str[0] == moved["email_p"].str.split("@").str[0]).all()
    assert (moved["email"].str.split("@").str[1] != moved["email_p"].str.split("@").str[1]).all()
    phones = pair.dropna(subset=["phone", "phone_p"])
    assert (_digits(phones["phone"]) == _digits(phones["phone_p"])).all()
    assert (phones["phone"] != phones["phone_p"]).all()
    assert tables["customers"]["phone"].dropna().map(_shape).nunique() == 7
    assert (
        tables["customers"]["email"]
        .dropna()
        .str.fullmatch(r"[^@\s]+@example\.(com|org|net)", case=False)
        .all()
    )


def _shape(phone: str) -> str:
    return "".join("9" if c.isdigit() else c for c in phone)


def test_distinct_persons_share_names_but_not_phones(company, tables):
    prim = tables["customers"].merge(company.truth.records, on="customer_id")
    prim = prim[prim["is_primary"]]
    assert prim["name"].duplicated().sum() > 50
    assert _digits(prim["phone"].dropna()).is_unique
    assert prim["email"].str.lower().is_unique


# --- BG/NBD purchases ----------------------------------------------------------------


def test_latents_drawn_from_the_planted_distributions(company):
    prm, persons = company.truth.bgnbd_params, company.truth.persons
    lam, p = persons["lam"], persons["p"]
    mean_lam = prm["r"] / prm["alpha"]
    assert abs(lam.mean() - mean_lam) < 4 * np.sqrt(prm["r"]) / prm["alpha"] / np.sqrt(N)
    mean_p = prm["a"] / (prm["a"] + prm["b"])
    assert abs(p.mean() - mean_p) < 4 * p.std() / np.sqrt(N)


def test_repeat_purchases_match_bgnbd_expectation(company, purchases):
    """Mean repeat purchases vs E[X(t)] of Fader, Hardie & Lee (2005), eq. 9."""
    prm, persons = company.truth.bgnbd_params, company.truth.persons.set_index("person_id")
    campaign = set(company.truth.campaign_orders["order_id"])
    natural = purchases[~purchases["order_id"].isin(campaign)]
    orders = natural.groupby("person_id")["order_id"].nunique().reindex(persons.index)
    x = orders - 1
    end = company.as_of + pd.Timedelta(days=1)
    t = ((end - persons["acquisition_date"]).dt.days - 0.5) / 7.0
    r, alpha, a, b = prm["r"], prm["alpha"], prm["a"], prm["b"]
    expected = (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    )
    assert abs(x.mean() - expected.mean()) < 4 * x.std() / np.sqrt(N)
    assert (orders >= 1).all()


def test_dropout_follows_the_last_natural_purchase(company, purchases):
    persons = company.truth.persons.set_index("person_id")
    campaign = set(company.truth.campaign_orders["order_id"])
    natural = purchases[~purchases["order_id"].isin(campaign)]
    last = natural.groupby("person_id")["order_date"].max()
    dead = persons[~persons["alive_at_end"]]
    assert 0.2 < len(dead) / N < 0.8
    assert (last.reindex(dead.index) == dead["dropout_date"]).all()
    assert persons.loc[persons["alive_at_end"], "dropout_date"].isna().all()


def test_acquisition_is_steady_over_the_window_with_a_season(company, tables):
    """New persons per quarter: the last year's equal to the first year's within four
    standard errors, quarter by quarter (Poisson counts), the two years' totals too, and the
    November-December peak above the summer dip (ACQUISITION_SEASON)."""
    acq = company.truth.persons["acquisition_date"]
    first = tables["transactions"].groupby("customer_id")["order_date"].min()
    person = company.truth.records.set_index("customer_id")["person_id"]
    assert (
        first.groupby(person).min().sort_index()
        == acq.set_axis(company.truth.persons["person_id"]).sort_index()
    ).all()
    per_quarter = acq.dt.to_period("Q").value_counts().sort_index()
    assert len(per_quarter) == 8
    year1, year2 = per_quarter.iloc[:4].to_numpy(), per_quarter.iloc[4:].to_numpy()
    assert np.all(np.abs(year2 - year1) < 4 * np.sqrt(year1 + year2))
    assert abs(year2.sum() - year1.sum()) < 4 * np.sqrt(year1.sum() + year2.sum())
    months = acq.dt.month.value_counts()
    assert months[[11, 12]].sum() / 2 > 1.5 * months[[7, 8]].sum() / 2
    # the business does not collapse: the last quarter's revenue is the highest
    tx = tables["transactions"]
    revenue = tx.groupby(tx["order_date"].dt.to_period("Q"))["revenue"].sum()
    assert revenue.idxmax() == revenue.index.max()
    assert len(tx) / N == pytest.approx(9, rel=0.15)


# --- profit, whales, cost magnets ---------------------------------------------------


def profit_by_rule(t: dict) -> pd.Series:
    """The module docstring's cost-to-serve rule, written independently."""
    tx = t["transactions"]
    buys = tx[tx["revenue"] > 0].drop_duplicates(["customer_id", "order_id"])
    contacts = t["interactions"][t["interactions"]["kind"] == "campaign_contact"]
    events = pd.concat(
        [
            buys[["customer_id", "channel"]].assign(activity="order"),
            buys[["customer_id", "channel"]].assign(activity="delivery"),
            tx.loc[tx["revenue"] < 0, ["customer_id", "channel"]].assign(activity="return"),
            t["tickets"][["customer_id", "channel"]].assign(activity="ticket"),
            contacts[["customer_id", "channel"]].assign(activity="contact"),
        ]
    )
    events = events.merge(t["cost_rates"], on=["activity", "channel"], how="left")
    to_serve = events.groupby("customer_id")["unit_cost"].sum()
    money = tx.groupby("customer_id")[["revenue", "cost"]].sum()
    ids = t["customers"]["customer_id"]
    money = money.reindex(ids, fill_value=0.0)
    return money["revenue"] - money["cost"] - to_serve.reindex(ids, fill_value=0.0)


def test_truth_profit_follows_the_documented_rule(company, tables):
    expected = profit_by_rule(tables)
    truth = company.truth.records.set_index("customer_id")["profit"].reindex(expected.index)
    np.testing.assert_allclose(truth.to_numpy(), expected.to_numpy(), atol=1e-6)
    persons = company.truth.persons.set_index("person_id")["profit"]
    by_person = truth.groupby(company.truth.records.set_index("customer_id")["person_id"]).sum()
    np.testing.assert_allclose(by_person.reindex(persons.index), persons, atol=1e-6)


def test_whale_curve_and_cost_magnets(company):
    persons = company.truth.persons
    profit = persons["profit"].sort_values(ascending=False)
    top = profit.iloc[: len(profit) // 5].sum()
    assert top >= 0.85 * profit.sum() > 0
    # a whale curve: cumulative profit peaks above the total (Kaplan & Cooper 1998)
    assert profit.cumsum().max() > 1.1 * profit.sum()
    # a retailer's plausible share of loss-making customers (not the 57 % of old)
    assert 0.15 < (persons["profit"] < 0).mean() < 0.35
    magnets = persons[persons["is_cost_magnet"]]
    whales = persons[persons["is_whale"]]
    assert 0.05 < len(magnets) / N < 0.09 and 0.03 < len(whales) / N < 0.07
    assert magnets["profit"].mean() < 0
    assert whales["profit"].mean() > 5 * persons["profit"].mean()
    assert not (persons["is_whale"] & persons["is_cost_magnet"]).any()


def test_cost_magnets_return_more_order_smaller_and_call_more(company, tables, person_of):
    magnets = set(company.truth.persons.loc[lambda d: d["is_cost_magnet"], "person_id"])
    tx = tables["transactions"].assign(
        magnet=lambda d: d["customer_id"].map(person_of).isin(magnets)
    )
    returned = tx.groupby("magnet")["revenue"].apply(lambda r: (r < 0).mean())
    assert returned[True] > 5 * returned[False]
    basket = (
        tx[tx["revenue"] > 0]
        .groupby(["magnet", "order_id"])["revenue"]
        .sum()
        .groupby("magnet")
        .mean()
    )
    assert basket[True] < 0.5 * basket[False]
    orders = tx[tx["revenue"] > 0].groupby("magnet")["order_id"].nunique()
    tk = tables["tickets"]["customer_id"].map(person_of).isin(magnets).value_counts()
    assert tk[True] / orders[True] > 5 * tk[False] / orders[False]


def test_returns_reverse_an_earlier_purchase_line(tables):
    tx = tables["transactions"]
    ret = tx[tx["revenue"] < 0]
    assert 0.03 < len(ret) / len(tx) < 0.15
    assert (ret["quantity"] < 0).all() and (ret["cost"] == 0).all()
    buys = tx[tx["revenue"] > 0]
    m = ret.reset_index().merge(
        buys, on=["order_id", "product_id", "customer_id", "channel"], suffixes=("", "_b")
    )
    m = m[(m["quantity"] == -m["quantity_b"]) & (m["revenue"] == -m["revenue_b"])]
    m = m[m["order_date"] > m["order_date_b"]]
    assert set(m["index"]) == set(ret.index)


# --- needs, channels, campaigns, service ----------------------------------------------


def test_needs_answers_highest_for_the_planted_segment(company, tables, person_of):
    seg = company.truth.persons.set_index("person_id")["needs_segment"]
    sv = tables["surveys"].assign(segment=lambda d: d["customer_id"].map(person_of).map(seg))
    assert len(sv) / N == pytest.approx(0.4, abs=four_se(0.4, N))
    means = sv.groupby("segment")[
        ["need_price", "need_convenience", "need_quality", "need_service"]
    ].mean()
    for segment, row in means.iterrows():
        assert row.idxmax() == f"need_{segment}"
        assert row.max() - row.drop(f"need_{segment}").max() > 1.0


def test_segments_drive_category_and_price_mix(company, purchases, tables):
    seg = company.truth.persons.set_index("person_id")["needs_segment"]
    lines = purchases.assign(segment=purchases["person_id"].map(seg))
    lines = lines.merge(tables["products"], on="product_id")
    plain = ~lines["person_id"].isin(
        company.truth.persons.loc[lambda d: d["is_whale"] | d["is_cost_magnet"], "person_id"]
    )
    price = lines[plain].groupby("segment")["unit_price"].mean()
    assert price["quality"] > 1.3 * price["price"]
    share = lines[plain].groupby("segment")["category"].value_counts(normalize=True)
    assert share["quality"]["electronics"] > 3 * share["price"]["electronics"]


def test_orders_mostly_in_the_preferred_channel(company, purchases):
    """Repeat orders of single-record persons: 80 % in the preferred channel."""
    persons = company.truth.persons.set_index("person_id")
    single = persons[persons["n_records"] == 1]
    orders = purchases.drop_duplicates("order_id").sort_values("order_id")
    orders = orders[orders["person_id"].isin(single.index)]
    preferred = orders["channel"] == orders["person_id"].map(single["preferred_channel"])
    first = ~orders["person_id"].duplicated()
    assert preferred[first].all()  # the acquisition order is in the preferred channel
    assert preferred[~first].mean() == pytest.approx(0.8, abs=four_se(0.8, int((~first).sum())))


def test_campaign_purchase_rates_match_planted_probabilities(company, tables, purchases, person_of):
    lift = company.truth.campaign_lift.set_index("campaign_id")
    camps = tables["campaigns"].query("objective != 'acquisition'").set_index("campaign_id")
    inter = tables["interactions"].dropna(subset=["campaign_id"])
    assert set(inter["kind"]) == {"campaign_contact", "campaign_holdout"}
    pooled = []
    for cid, camp in camps.iterrows():
        arm = inter[inter["campaign_id"] == cid].assign(
            person_id=lambda d: d["customer_id"].map(person_of)
        )
        window = purchases[purchases["order_date"].between(camp["start_date"], camp["end_date"])]
        bought = arm["person_id"].isin(set(window["person_id"]))
        treated = bought[arm["kind"] == "campaign_contact"]
        holdout = bought[arm["kind"] == "campaign_holdout"]
        truth = lift.loc[cid]
        assert len(treated) == truth["n_treated"] and len(holdout) == truth["n_holdout"]
        assert len(holdout) / len(arm) == pytest.approx(0.2, abs=four_se(0.2, len(arm)) + 0.01)
        assert abs(treated.mean() - truth["treated_prob"]) < four_se(
            truth["treated_prob"], len(treated)
        )
        assert abs(holdout.mean() - truth["control_prob"]) < four_se(
            truth["control_prob"], len(holdout)
        )
        # the contact outcome says "responded" exactly when the person bought in the window
        contact = arm[arm["kind"] == "campaign_contact"]
        assert ((contact["outcome"] == "responded") == treated).all()
        pooled.append((treated.sum(), len(treated), holdout.sum(), len(holdout), truth["lift"]))
    t1, n1, t0, n0, _ = np.array(pooled).sum(axis=0)
    planted = np.average([p[4] for p in pooled], weights=[p[1] + p[3] for p in pooled])
    observed = t1 / n1 - t0 / n0
    assert observed > 0
    assert abs(observed - planted) < 4 * np.sqrt(t1 / n1 / n1 + t0 / n0 / n0)


def test_campaign_orders_go_to_contacted_persons_in_the_window(company, tables, person_of):
    orders = company.truth.campaign_orders
    assert len(orders) > 0
    camps = tables["campaigns"].set_index("campaign_id")
    tx = tables["transactions"].drop_duplicates("order_id").set_index("order_id")
    lines = tx.loc[orders["order_id"]]
    assert (lines["customer_id"].to_numpy() == orders["customer_id"].to_numpy()).all()
    assert (lines["customer_id"].map(person_of).to_numpy() == orders["person_id"].to_numpy()).all()
    date = lines["order_date"].to_numpy()
    start = orders["campaign_id"].map(camps["start_date"]).to_numpy()
    end = orders["campaign_id"].map(camps["end_date"]).to_numpy()
    assert ((date >= start) & (date <= end)).all()
    contacts = tables["interactions"].query("kind == 'campaign_contact'")
    contacted = set(
        zip(contacts["campaign_id"], contacts["customer_id"].map(person_of), strict=True)
    )
    assert set(zip(orders["campaign_id"], orders["person_id"], strict=True)) <= contacted


def test_campaign_cost_is_fixed_plus_contacts(company, tables):
    rates = tables["cost_rates"].set_index(["activity", "channel"])["unit_cost"]
    camps = tables["campaigns"].set_index("campaign_id")
    camps = camps[camps["objective"] != "acquisition"]
    lift = company.truth.campaign_lift.set_index("campaign_id")
    for cid, camp in camps.iterrows():
        expected = 500.0 + lift.loc[cid, "n_treated"] * rates[("contact", camp["channel"])]
        assert camp["cost"] == pytest.approx(expected)


def test_nps_lower_after_bad_service(company, tables, person_of):
    tk = (
        tables["tickets"]
        .dropna(subset=["csat"])
        .assign(person_id=lambda d: d["customer_id"].map(person_of))
    )
    sv = tables["surveys"].assign(person_id=lambda d: d["customer_id"].map(person_of))
    m = sv.merge(tk[["person_id", "opened_at", "csat"]], on="person_id", how="left")
    m = m[m["opened_at"] < m["date"]]
    score = m.groupby("response_id")["csat"].mean()
    sv = sv.assign(score=sv["response_id"].map(score))
    bad = sv.loc[sv["score"] <= 3, "nps"]
    good = sv.loc[sv["score"] >= 4, "nps"]
    untouched = sv.loc[sv["score"].isna(), "nps"]
    assert len(bad) >= 30
    assert good.mean() - bad.mean() > 2.0
    assert untouched.mean() - bad.mean() > 1.5
    # and CSAT itself falls with resolution time
    closed = tables["tickets"].dropna(subset=["csat", "closed_at"])
    days = (closed["closed_at"] - closed["opened_at"]).dt.total_seconds() / 86400
    ok = days > 0
    assert np.corrcoef(np.log1p(days[ok]), closed.loc[ok, "csat"])[0, 1] < -0.4


def test_planted_defects_are_listed_and_only_those(company, tables):
    defects = company.truth.defects
    cust = tables["customers"].set_index("customer_id")
    for col in ("email", "phone", "city"):
        listed = set(
            defects.loc[(defects["table"] == "customers") & (defects["column"] == col), "key"]
        )
        assert listed == set(cust.index[cust[col].isna()])
        assert 0.001 < len(listed) / len(cust) < 0.05
    assert not cust.drop(columns=["email", "phone", "city"]).isna().any().any()
    tk = tables["tickets"].set_index("ticket_id")
    backwards = set(tk.index[tk["closed_at"] < tk["opened_at"]])
    assert 0 < len(backwards) == len(defects[defects["kind"] == "closed_before_opened"])
    assert backwards == set(defects.loc[defects["table"] == "tickets", "key"])


# --- writing -----------------------------------------------------------------------------


def test_write_folder_csv_round_trip_and_size(company, tmp_path):
    paths = synth.write_folder(company, tmp_path / "client")
    assert sorted(p.name for p in paths) == sorted(f"{t}.csv" for t in company.tables)
    assert sum(p.stat().st_size for p in paths) < 10_000_000
    tx = pd.read_csv(tmp_path / "client" / "transactions.csv", dtype=str)
    assert tx["customer_id"].equals(company.tables["transactions"]["customer_id"].astype(str))
    assert tx["order_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    np.testing.assert_array_equal(
        tx["revenue"].astype(float), company.tables["transactions"]["revenue"]
    )
    inter = pd.read_csv(tmp_path / "client" / "interactions.csv", dtype=str)
    assert inter["timestamp"].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}").all()


def test_write_folder_parquet(company, tmp_path):
    paths = synth.write_folder(company, tmp_path, fmt="parquet")
    back = pd.read_parquet(tmp_path / "customers.parquet")
    assert len(paths) == len(TABLES) - 1 == 9  # every table but the assessment answers
    assert back["customer_id"].tolist() == company.tables["customers"]["customer_id"].tolist()


def test_write_truth_separately_and_never_into_the_client_folder(company, tmp_path):
    synth.write_folder(company, tmp_path / "client")
    with pytest.raises(CRMError, match="client folder"):
        synth.write_truth(company, tmp_path / "client")
    paths = synth.write_truth(company, tmp_path / "truth")
    names = {p.name for p in paths}
    assert {"persons.csv", "records.csv", "campaign_lift.csv", "defects.csv", "truth.json"} <= names
    meta = json.loads((tmp_path / "truth" / "truth.json").read_text())
    assert meta["bgnbd_params"] == company.truth.bgnbd_params
    assert meta["seed"] == SEED


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_customers": 0},
        {"n_customers": 2.5},
        {"duplicate_rate": 1.5},
        {"start": "2024-01-01", "end": "2024-02-01"},
        {"start": "not a date"},
        {"seed": -1},
    ],
)
def test_bad_arguments_raise_crm_error(kwargs):
    with pytest.raises(CRMError):
        synth.generate(**kwargs)


def test_bad_format_or_folder_raises_crm_error(company, tmp_path):
    with pytest.raises(CRMError, match="fmt"):
        synth.write_folder(company, tmp_path, fmt="xlsx")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(CRMError, match="a_file"):
        synth.write_folder(company, blocker)
