"""The engines (crmlib.engines): pandas, DuckDB and Spark give the same results.

Each transaction-level step runs on the same data with every engine; the
results must agree (equal ids, counts and dates; sums up to the order of
floating-point addition), and where the synthetic generator planted the
answer (profit per record, duplicate records) the SQL engines must find it
too. Spark runs in local mode; its session starts once for this file.
"""

from __future__ import annotations

import importlib.util
import json
import os

import pandas as pd
import pytest
from test_cli import crm  # the crm command in a subprocess, as users run it

from crmlib import engines, synth
from crmlib.analytics import lapse, linkage, linkquality, uplift
from crmlib.analytics import profitability as prof
from crmlib.analytics.summary import customer_summary, summary_query
from crmlib.data import datasets
from crmlib.data import schema as s
from crmlib.data.io import ClientData
from crmlib.errors import CRMError, DataError
from crmlib.models import qci

SEED = 20261122
SQL_ENGINES = ["duckdb", "spark"]
RTOL = 1e-9  # sums in another order


def _needs(engine: str) -> None:
    """Skip the Spark engine without pyspark, except in CI, where `make test` installs it."""
    if engine == "spark" and importlib.util.find_spec("pyspark") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pyspark is missing: make test installs the crm-workbook[spark] extra")
        pytest.skip("pyspark is not installed (the crm-workbook[spark] extra)")


def _same(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(expected, got, check_exact=False, rtol=RTOL, atol=1e-9)


@pytest.fixture(scope="module")
def company():
    return synth.generate(n_customers=400, seed=SEED)


@pytest.fixture(scope="module")
def client(company):
    return ClientData(dict(company.tables), pd.DataFrame(), {}, as_of=company.as_of)


@pytest.fixture(scope="module")
def parquet_folder(company, tmp_path_factory):
    folder = tmp_path_factory.mktemp("parquet")
    synth.write_folder(company, folder, fmt="parquet")
    return folder


@pytest.fixture(scope="module")
def csv_folder(company, tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    synth.write_folder(company, folder, fmt="csv")
    return folder


# --- the same summary, profitability and cohorts on every engine ------------------------


@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_customer_summary_is_the_same_on_every_engine(engine, client):
    _needs(engine)
    tx = client.transactions
    expected = customer_summary(tx, time_unit="W", engine="pandas")
    _same(expected, customer_summary(tx, time_unit="W", engine=engine))


def test_cdnow_summary_on_spark_reproduces_the_published_file():
    """As tests/analytics/test_summary.py checks the pandas and DuckDB engines."""
    _needs("spark")
    tx = datasets.load_cdnow_transactions()
    published = datasets.load_cdnow_summary().set_index(s.CUSTOMER_ID)
    end = datasets.CDNOW_CALIBRATION_END
    got = customer_summary(tx, as_of=end, time_unit="W", engine="spark")
    _same(customer_summary(tx, as_of=end, time_unit="W", engine="pandas"), got)
    assert len(got) == len(published) == 2357
    published = published.loc[got.index]
    assert (got[s.FREQUENCY] == published[s.FREQUENCY]).all()
    assert (got[s.T] - published[s.T]).abs().max() <= 0.005


@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_profitability_is_the_same_on_every_engine_and_equals_the_planted_profit(
    engine, client, company
):
    _needs(engine)
    expected = prof.customer_profitability(client)
    got = prof.customer_profitability(client, engine=engine)
    _same(expected, got)
    truth = company.truth.records.set_index(s.CUSTOMER_ID)[prof.PROFIT]
    assert (got[prof.PROFIT] - truth.reindex(got.index)).abs().max() < 1e-6


@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_profitability_without_rates_or_costs_is_the_same(engine, client):
    _needs(engine)
    tables = {k: v for k, v in client.tables.items() if k != "cost_rates"}
    tables["transactions"] = tables["transactions"].drop(columns=[s.COST, s.QUANTITY])
    bare = ClientData(tables, pd.DataFrame(), {}, as_of=client.as_of)
    expected = prof.customer_profitability(bare)
    assert expected[prof.COST_TO_SERVE].isna().all() and expected[prof.UNITS].isna().all()
    _same(expected, prof.customer_profitability(bare, engine=engine))


@pytest.mark.parametrize("engine", SQL_ENGINES)
@pytest.mark.parametrize("freq", ["M", "W", "Q"])
def test_cohort_tables_are_the_same_on_every_engine(engine, freq, client):
    _needs(engine)
    tx = client.transactions
    for counts in (False, True):
        expected = qci.cohort_retention(tx, freq=freq, as_of=client.as_of, counts=counts)
        got = qci.cohort_retention(tx, freq=freq, as_of=client.as_of, counts=counts, engine=engine)
        _same(expected, got)


def test_cohort_engines_refuse_a_period_sql_cannot_truncate_to(client):
    with pytest.raises(CRMError, match="freq must be one of"):
        qci.cohort_retention(client.transactions, freq="2M", engine="duckdb")


# --- a folder on disk, read without loading it ------------------------------------------


@pytest.mark.parametrize("engine", SQL_ENGINES)
@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_a_folder_on_disk_gives_what_the_same_tables_give_in_memory(
    engine, kind, client, parquet_folder, csv_folder
):
    _needs(engine)
    folder = parquet_folder if kind == "parquet" else csv_folder
    as_of = client.as_of
    _same(
        customer_summary(client.transactions, as_of=as_of, engine="pandas"),
        customer_summary(folder, as_of=as_of, engine=engine),
    )
    _same(
        prof.customer_profitability(client),
        prof.customer_profitability(folder, engine=engine, as_of=as_of),
    )
    _same(
        qci.cohort_retention(client.transactions, as_of=as_of),
        qci.cohort_retention(folder, as_of=as_of, engine=engine),
    )


def test_a_transactions_file_alone_is_a_source(parquet_folder, client):
    got = customer_summary(parquet_folder / "transactions.parquet", as_of=client.as_of)
    _same(customer_summary(client.transactions, as_of=client.as_of, engine="pandas"), got)


def _parquet_scans(node) -> int:
    """Parquet scans in a DuckDB profile (its operator tree, as JSON)."""
    own = node.get("type") == "TABLE_SCAN" and "PARQUET" in str(node.get("extra_info", {}))
    return int(own) + sum(_parquet_scans(child) for child in node.get("children", []))


@pytest.mark.parametrize("step", ["summary", "profitability"])
def test_duckdb_steps_scan_the_transactions_as_often_as_stated(step, parquet_folder, tmp_path):
    """Every statement a step runs is profiled by DuckDB and its Parquet scans counted.

    The summary reads the transactions once (checks, last order date and sums in
    one query, its common table expression shared); profitability reads them once
    more, for the activity events of cost-to-serve. Before the one-pass change the
    summary read them three times (row checks, last order date, the query).
    """
    profile = tmp_path / "profile.json"
    scans = []
    with engines.Engine("duckdb", parquet_folder) as eng:
        eng._con.execute("PRAGMA enable_profiling = 'json'")
        eng._con.execute(f"PRAGMA profiling_output = '{profile}'")

        def counted(run):
            def wrapper(query):
                result = run(query)
                scans.append(sum(map(_parquet_scans, json.loads(profile.read_text())["operator"])))
                return result

            return wrapper

        eng.sql, eng.sql_no_result = counted(eng.sql), counted(eng.sql_no_result)
        if step == "summary":
            got = eng.sql(summary_query(eng))
        else:
            got = eng.sql(prof.profitability_query(eng))
    assert len(got) > 100
    # summary: the one query over the transactions, then its small per-customer table
    # twice (checks and last date; the summary). Profitability: its one query over the
    # transactions, its per-customer table, the cost rates, the row checks of tickets and
    # of interactions, then the final query (the transactions once more for the activity
    # events of cost-to-serve, tickets, interactions, the customers' ids).
    expected = [1, 0, 0] if step == "summary" else [1, 0, 1, 1, 1, 4]
    assert scans == expected, scans



def test_duckdb_cohorts_scan_the_transactions_once(parquet_folder, client, tmp_path, monkeypatch):
    """The cohort counts read the transactions in one query (the row checks, the first and
    last order date, each customer's purchase periods); the rest reads the small table it
    left. Before, DuckDB scanned them four times (row checks, last order date, first order
    date, cells). The counts equal the pandas engine's.

    The gaps and the campaigns steps keep their separate row-check scan: folded into one pass
    they were slower at 100 M lines (benchmarks/README.md)."""
    profile = tmp_path / "profile.json"
    scans = []

    def counted(run):
        def wrapper(self, query, *args, **kwargs):
            self._con.execute("PRAGMA enable_profiling = 'json'")
            self._con.execute(f"PRAGMA profiling_output = '{profile}'")
            result = run(self, query, *args, **kwargs)
            if "VIEW" not in query:  # registering the tables reads no rows
                tree = json.loads(profile.read_text())["operator"]
                scans.append(sum(map(_parquet_scans, tree)))
            return result

        return wrapper

    monkeypatch.setattr(engines.Engine, "sql", counted(engines.Engine.sql))
    monkeypatch.setattr(engines.Engine, "sql_no_result", counted(engines.Engine.sql_no_result))
    got = qci.cohort_retention(parquet_folder, freq="M", counts=True, engine="duckdb")
    monkeypatch.undo()
    assert scans == [1, 0, 0], scans
    want = qci.cohort_retention(client.transactions, freq="M", counts=True, engine="pandas")
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


# --- bad input: a clear answer naming the file and column --------------------------------


def test_a_missing_column_names_the_file_and_column(tmp_path, company):
    company.tables["transactions"].drop(columns=[s.REVENUE]).to_parquet(
        tmp_path / "transactions.parquet"
    )
    with pytest.raises(DataError, match=r"transactions\.parquet.*revenue") as caught:
        customer_summary(tmp_path, engine="duckdb")
    assert caught.value.column == s.REVENUE


def test_unreadable_values_are_counted_not_silently_dropped(tmp_path, company):
    tx = company.tables["transactions"].copy()
    text = tx.astype({s.ORDER_DATE: str})
    text.loc[[3, 7, 11], s.ORDER_DATE] = "31/02/2024"
    text.loc[5, s.CUSTOMER_ID] = ""
    text.to_csv(tmp_path / "transactions.csv", index=False)
    with pytest.raises(DataError) as caught:
        prof.customer_profitability(tmp_path, engine="duckdb")
    message = str(caught.value)
    assert "transactions.csv" in message and "crm validate" in message
    assert caught.value.column in (s.CUSTOMER_ID, s.ORDER_DATE)
    # each fault is named with its count
    text.loc[5, s.CUSTOMER_ID] = tx.loc[5, s.CUSTOMER_ID]
    text.to_csv(tmp_path / "transactions.csv", index=False)
    with pytest.raises(DataError, match=r"column order_date: 3 row\(s\)"):
        qci.cohort_retention(tmp_path, engine="duckdb")


def test_missing_value_spellings_are_empty_not_unreadable(tmp_path, company):
    tx = company.tables["transactions"].astype({s.COST: object})
    tx.loc[[1, 2], s.COST] = "n/a"
    tx.to_csv(tmp_path / "transactions.csv", index=False, date_format="%Y-%m-%d")
    got = customer_summary(tmp_path, engine="duckdb")
    assert got[s.MARGIN].notna().sum() > 0


def test_a_mapping_file_is_refused_with_the_reason(tmp_path, company):
    company.tables["transactions"].to_parquet(tmp_path / "transactions.parquet")
    (tmp_path / "mapping.yml").write_text("transactions:\n  columns: {Net: revenue}\n")
    with pytest.raises(DataError, match="mapping.yml.*loaded into memory"):
        customer_summary(tmp_path, engine="duckdb")


def test_a_folder_without_transactions_is_refused(tmp_path):
    with pytest.raises(DataError, match="no transactions"):
        customer_summary(tmp_path, engine="duckdb")


def test_an_unknown_engine_is_refused(client):
    with pytest.raises(CRMError, match="engine must be one of"):
        prof.customer_profitability(client, engine="polars")
    with pytest.raises(CRMError, match="engine must be one of"):
        qci.cohort_retention(client.transactions, engine="sqlite")


# --- duplicate detection: splink on DuckDB and on Spark ----------------------------------


@pytest.mark.slow
def test_duplicate_detection_is_the_same_on_spark_and_finds_the_planted_pairs():
    _needs("spark")
    small = synth.generate(n_customers=300, seed=SEED, duplicate_rate=0.1)
    customers = small.tables["customers"]
    on_duckdb = linkage.find_duplicates(customers, engine="duckdb")
    on_spark = linkage.find_duplicates(customers, engine="spark")
    # the same persons, record for record
    cluster = [linkage.CLUSTER_ID, linkage.CLUSTER_SIZE]
    pd.testing.assert_frame_equal(on_duckdb.clusters_[cluster], on_spark.clusters_[cluster])
    # the same model, up to the backends' Jaro-Winkler functions (DuckDB's own and
    # splink's Java one differ on a few name pairs, which moves u of the fuzzy name
    # levels by a few per cent) and EM's convergence tolerance
    params = on_duckdb.parameters_.merge(on_spark.parameters_, on=["comparison", "level"])
    assert len(params) == len(on_duckdb.parameters_)
    for p in ("m", "u"):
        assert ((params[f"{p}_x"] - params[f"{p}_y"]).abs() <= 0.05 * params[f"{p}_x"]).all()
    key = [linkage.CUSTOMER_ID_L, linkage.CUSTOMER_ID_R]
    linked = [
        f.pairs_.loc[f.pairs_[linkage.MATCH_PROBABILITY] >= f.threshold, key]
        .sort_values(key)
        .reset_index(drop=True)
        for f in (on_duckdb, on_spark)
    ]
    pd.testing.assert_frame_equal(*linked)
    truth = small.truth.records.set_index(s.CUSTOMER_ID)[synth.PERSON_ID]
    quality = linkquality.pairwise_link_quality(on_spark.clusters_[linkage.CLUSTER_ID], truth)
    assert quality["true_pairs"] >= 20 and quality["f1"] >= 0.95


# --- crm aggregate ------------------------------------------------------------------------


def _per_customer(path) -> pd.DataFrame:
    frame = pd.read_parquet(path).set_index(s.CUSTOMER_ID).sort_index()
    dates = frame.select_dtypes("datetime").columns
    return frame.astype({c: "datetime64[ns]" for c in dates})


@pytest.mark.parametrize("engine", ["duckdb", "spark", "pandas"])
def test_crm_aggregate_writes_one_row_per_customer(engine, parquet_folder, client, tmp_path):
    """The SQL engines read the folder as it is; pandas loads and validates it first."""
    _needs(engine)
    out = tmp_path / "out"
    steps = "summary,profitability,cohorts,gaps,campaigns"
    result = crm("aggregate", parquet_folder, "--out", out, "--engine", engine, "--steps", steps)
    assert result.returncode == 0, result.stderr
    data = datasets.load(parquet_folder) if engine == "pandas" else client
    summary = customer_summary(data.transactions, time_unit="W", engine="pandas")
    _same(summary, _per_customer(out / "customer_summary.parquet"))
    assert f"summary: {len(summary):,} rows" in result.stdout
    profit = _per_customer(out / "customer_profitability.parquet")
    _same(prof.customer_profitability(data), profit)
    cohorts = pd.read_csv(out / "cohort_counts.csv", index_col=0)
    expected = qci.cohort_retention(data.transactions, counts=True)
    assert cohorts.iloc[:, 0].tolist() == expected[0].tolist()  # cohort sizes
    # the lapse rule's data: every gap between a customer's purchase days, counted by length
    gaps = pd.read_csv(out / "purchase_gaps.csv", index_col=lapse.GAP)[lapse.GAPS]
    expected = lapse.gap_counts(data.transactions, data.transactions[s.ORDER_DATE].max())
    assert gaps.to_dict() == expected.to_dict() and gaps.sum() > 1000
    # the effect's data: each campaign kept with a holdout, its groups and responders counted
    held = pd.read_csv(out / "campaign_holdouts.csv", dtype={s.CAMPAIGN_ID: str})
    table = uplift.campaign_uplift(
        uplift.campaign_groups(data.transactions, data.table("interactions"), data.table("campaigns"))
    )
    table = table[table[uplift.CONTROL_KIND] == uplift.HOLDOUT].reset_index()
    assert len(held) >= 3 and held[uplift.N_CONTROL].sum() > 50
    pd.testing.assert_frame_equal(held, table[list(uplift.HOLDOUT_COUNTS)], check_dtype=False)


def test_crm_aggregate_on_a_bad_folder_exits_1_without_traceback(tmp_path):
    (tmp_path / "transactions.csv").write_text("customer_id,order_date\nC1,2024-01-01\n")
    result = crm("aggregate", tmp_path, "--out", tmp_path / "o")
    assert result.returncode == 1
    assert result.stderr.startswith("error: transactions.csv: the column(s) revenue")
    assert "Traceback" not in result.stderr


# --- crm report passes the engine to every lesson ----------------------------------------


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("client")
    synth.write_folder(synth.generate(n_customers=600, seed=SEED), folder)
    return folder


def _report(folder, out, *extra):
    result = crm("report", folder, "--out", out, "--only", "qci,value_chain", *extra)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    findings = {}
    for lesson in ("02_qci", "03_value_chain"):
        nb = json.loads((out / f"{lesson}.ipynb").read_text())
        findings[lesson] = [
            "".join(o.get("text", ""))
            for c in nb["cells"]
            for o in c.get("outputs", [])
            if o.get("name") == "stdout"
        ]
    return manifest, findings


def _engine_line(outputs: list[str]) -> str:
    return next(line for line in "".join(outputs).splitlines() if "transaction-level" in line)


def _without_engine_line(outputs: list[str]) -> list[str]:
    return [line for line in "".join(outputs).splitlines() if "transaction-level" not in line]


@pytest.mark.slow
@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_crm_report_runs_the_lessons_on_the_engine_with_the_same_figures(
    engine, small_folder, tmp_path
):
    _needs(engine)
    _, on_pandas = _report(small_folder, tmp_path / "pandas")
    manifest, on_engine = _report(small_folder, tmp_path / engine, "--engine", engine)
    for lesson, outputs in on_engine.items():
        assert engine in _engine_line(outputs).lower()
        assert "pandas" in _engine_line(on_pandas[lesson])
        assert _without_engine_line(outputs) == _without_engine_line(on_pandas[lesson])
    assert manifest["parameters"]["engine"] == engine


def test_crm_report_refuses_a_spark_master_without_spark(small_folder, tmp_path):
    result = crm("report", small_folder, "--out", tmp_path / "r", "--spark-master", "local[1]")
    assert result.returncode == 1 and "--engine spark" in result.stderr


def test_engine_is_a_report_option_not_a_param(small_folder, tmp_path):
    result = crm("report", small_folder, "--out", tmp_path / "r", "--param", "engine=spark")
    assert result.returncode == 1 and "--engine" in result.stderr


def test_describe_names_the_engine():
    assert engines.describe("duckdb").startswith("DuckDB")
    assert engines.describe("pandas").startswith("pandas")


def test_duckdb_runs_under_the_stated_memory_limit_and_spills(client, monkeypatch):
    monkeypatch.setenv("CRM_DUCKDB_MEMORY", "300MB")
    with engines.Engine("duckdb", client) as eng:
        limit = eng.scalar("SELECT current_setting('memory_limit')")
        spill = eng.scalar("SELECT current_setting('temp_directory')")
        assert "crm-duckdb-" in spill
    assert limit == "286.1 MiB"  # 300 MB as DuckDB prints it
