"""Spark's own paths of the steps (crmlib.engines, local mode): the same refusals and types as DuckDB.

Spark counts the row checks of tickets and interactions inside the scans that count their
activity events (costs.spark_events) and takes a Parquet table's schema from its footer
(engines._parquet_schema): a bad value must still be refused with DuckDB's sentence, and
the schema must be the one Spark infers.
"""

from __future__ import annotations

import importlib.util
import os

import pandas as pd
import pytest

from crmlib import engines, synth
from crmlib.analytics import profitability as prof
from crmlib.data import schema as s
from crmlib.errors import DataError

SEED = 20261207


@pytest.fixture(autouse=True)
def _spark():
    if importlib.util.find_spec("pyspark") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pyspark is missing: make test installs the crm-workbook[spark] extra")
        pytest.skip("pyspark is not installed (the crm-workbook[spark] extra)")


@pytest.fixture(scope="module")
def company():
    return synth.generate(n_customers=200, seed=SEED)


@pytest.mark.parametrize(
    ("table", "column"), [("tickets", s.OPENED_AT), ("interactions", s.TIMESTAMP)]
)
def test_an_unreadable_date_in_an_event_table_is_refused_as_duckdb_refuses_it(
    table, column, company, tmp_path
):
    for name in ("transactions", "customers", "cost_rates"):
        company.tables[name].to_parquet(tmp_path / f"{name}.parquet")
    rows = company.tables[table].astype({column: str})
    rows.loc[rows.index[[2, 5]], column] = "31/02/2024"  # two unreadable dates
    rows.to_csv(tmp_path / f"{table}.csv", index=False)
    messages = []
    for engine in ("duckdb", "spark"):
        with pytest.raises(DataError) as caught:
            prof.customer_profitability(tmp_path, engine=engine)
        assert caught.value.column == column
        messages.append(str(caught.value))
    assert f"{table}.csv: column {column}: 2 row(s)" in messages[0]
    assert messages[0] == messages[1]


def test_the_schema_from_the_footer_is_the_one_spark_infers(company, tmp_path):
    frame = company.tables["transactions"].assign(
        small=pd.array([1] * len(company.tables["transactions"]), dtype="int16"),
        flag=True,
        day=company.tables["transactions"][s.ORDER_DATE].dt.date,
        stamped=company.tables["transactions"][s.ORDER_DATE].dt.tz_localize("UTC"),
    )
    frame.to_parquet(tmp_path / "t.parquet")
    inferred = engines.spark_session().read.parquet(str(tmp_path / "t.parquet")).schema
    assert engines._parquet_schema(str(tmp_path / "t.parquet")) == inferred
    (tmp_path / "parts").mkdir()
    frame.to_parquet(tmp_path / "parts" / "part-0.parquet")
    assert engines._parquet_schema(str(tmp_path / "parts" / "*.parquet")) == inferred
    # a type this reader does not map is left to Spark
    frame.astype({s.CHANNEL: "category"}).to_parquet(tmp_path / "c.parquet")
    assert engines._parquet_schema(str(tmp_path / "c.parquet")) is None
