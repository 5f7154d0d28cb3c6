"""crmlib.analytics.metrics: every recorded figure declared once, formatted from its unit."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import nbformat
import numpy as np
import pytest

from crmlib import results
from crmlib.analytics import metrics
from crmlib.analytics.metrics import Metric, format_value
from crmlib.errors import CRMError

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _metric(unit: str, decimals: int | None = None) -> Metric:
    return Metric("k", "K", unit, "a definition", "a source", decimals)


@pytest.mark.parametrize(
    "unit, value, expected",
    [
        ("share", 0.42, "42.0 %"),
        ("share", 0.12345, "12.3 %"),
        ("share", 1.5, "150.0 %"),  # a whale-curve peak may pass 100 %
        ("currency", 1234.4, "1,234"),
        ("currency", -98765.6, "-98,766"),
        ("count", 1234, "1,234"),
        ("count", np.int64(7), "7"),
        ("days", 37, "37 days"),
        ("days", 1, "1 day"),
        ("months", 12, "12 months"),
        ("score", 3.44, "3.4"),
        ("score", -12.0, "-12.0"),
        ("ratio", 2.346, "2.35×"),
        ("ratio", 3.0, "3.00×"),
        ("text", "margin", "margin"),
    ],
)
def test_values_are_formatted_from_their_unit(unit, value, expected):
    assert format_value(_metric(unit), value) == expected


def test_currency_symbol_decimals_and_absent_values():
    assert format_value(_metric("currency"), 1234, currency="£") == "£1,234"
    assert format_value(_metric("currency"), -5.5, currency="$") == "-$6"  # half to even
    assert format_value(_metric("currency", decimals=2), 1234.5, currency="€") == "€1,234.50"
    assert format_value(_metric("score", decimals=2), 0.625) == "0.62"  # half to even
    for absent in (None, math.nan, np.float64("nan")):
        assert format_value(_metric("share"), absent) == "n/a"
    assert format_value(_metric("count"), {"new": 3, "lapsed": 1200}) == "new: 3, lapsed: 1,200"


def test_format_by_key_uses_the_catalogue():
    assert format_value("top_20pct_revenue_share", 0.6123) == "61.2 %"
    assert format_value("lapsed_days", 180) == "180 days"
    assert format_value("net_revenue_per_customer", 97.5) == "97.50"
    assert format_value("nps", 23.456) == "23.5"
    assert format_value("clv_to_cac", 3.1) == "3.10×"


def test_unknown_keys_units_and_non_numbers_are_refused():
    with pytest.raises(CRMError, match="'top_customer'.*crmlib/analytics/metrics.py"):
        format_value("top_customer", 3)
    with pytest.raises(CRMError, match="'top_customer'"):
        metrics.get("top_customer")
    with pytest.raises(CRMError, match="unit 'percent'"):
        Metric("k", "K", "percent", "d", "s")
    with pytest.raises(CRMError, match="needs a number"):
        format_value("churn_rate", "high")
    with pytest.raises(CRMError, match="needs a number"):
        format_value("customers", True)


def test_every_metric_is_fully_declared():
    assert set(metrics.CATALOGUE).isdisjoint(results.RESERVED)
    for key, metric in metrics.CATALOGUE.items():
        assert metric.key == key
        assert metric.unit in metrics.UNITS
        assert metric.label and metric.label != key, key  # a label a client can read
        assert "_" not in metric.label, key
        assert len(metric.definition) > 20 and metric.source, key


def test_a_metric_reads_in_one_plain_line_for_a_headline_tile():
    assert metrics.get("net_revenue").plain == "Everything the customers paid, less what they returned."
    assert metrics.get("orders").plain == metrics.get("orders").definition  # no meaning: definition
    for metric in metrics.CATALOGUE.values():
        assert "\n" not in metric.plain and "_" not in metric.meaning, metric.key
    assert metrics.get("total_clv").label == "Lifetime value of the customer base"


def test_table_shows_labels_and_formatted_values():
    table = metrics.table({"customers": 1500, "churn_rate": 0.3})
    assert table.index.tolist() == ["Customers", "Lapsed customers"]
    assert table[metrics.VALUE].tolist() == ["1,500", "30.0 %"]


# --- every key a lesson records is declared -------------------------------------------------


def _recorded_keys(notebook: Path) -> set[str]:
    """Top-level keys of the dict each ``results.record(...)`` call of the lesson hands over.

    The dict may be written in the call, held in a variable (its literal plus
    ``name["key"] = ...`` assignments) or spread into it with ``**name``, or with
    ``**results.on_a_sample(...)`` (the reserved ``sample`` key).
    """
    trees = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code":
            trees.append(ast.parse(cell.source))
    nodes = [node for tree in trees for node in ast.walk(tree)]

    def keys_of_name(name: str) -> set[str]:
        out: set[str] = set()
        for node in nodes:
            if not isinstance(node, ast.Assign):
                continue
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == name:
                    out |= keys_of(node.value)
                elif (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == name
                    and isinstance(target.slice, ast.Constant)
                ):
                    out.add(target.slice.value)
        return out

    def keys_of(value) -> set[str]:
        if isinstance(value, ast.Name):
            return keys_of_name(value.id)
        if (  # **results.on_a_sample(...): the reserved "sample" key, or nothing
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr == "on_a_sample"
        ):
            return {results.SAMPLE}
        assert isinstance(value, ast.Dict), ast.dump(value)
        out: set[str] = set()
        for key, item in zip(value.keys, value.values, strict=True):
            if key is None:  # **name
                out |= keys_of(item)
            else:
                assert isinstance(key, ast.Constant), ast.dump(key)
                out.add(key.value)
        return out

    calls = [
        node
        for node in nodes
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "record"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "results"
    ]
    assert len(calls) == 1, f"{notebook.name}: {len(calls)} results.record calls"
    return keys_of(calls[0].args[1])


LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_the_scan_finds_what_lesson_00_records():
    # written out by hand from the record cell of lesson 00
    assert _recorded_keys(NOTEBOOKS / "00_foundations.ipynb") == {
        "customers",
        "top_20pct_revenue_share",
        "recommended_model",
        "not_assessed",
        "finding",
        "sample",
    }


@pytest.mark.parametrize("notebook", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_key_a_lesson_records_is_in_the_catalogue(notebook):
    recorded = _recorded_keys(notebook)
    assert len(recorded) >= 5
    undeclared = recorded - set(metrics.CATALOGUE) - set(results.RESERVED)
    assert not undeclared, f"{notebook.name} records undeclared keys {sorted(undeclared)}"


def test_currency_codes_print_as_a_client_writes_them():
    money = _metric("currency")
    assert format_value(money, 1234, currency="EUR") == "€1,234"
    assert format_value(money, -56.4, currency="gbp") == "-£56"
    # a code without a symbol of its own goes before the amount, never a bare "$"
    assert format_value(money, 1234, currency="USD") == "USD 1,234"
    assert format_value(money, 1234, currency="CHF") == "CHF 1,234"
    assert format_value(money, 1234, currency="") == "1,234"
