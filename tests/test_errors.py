"""Errors in one module (issue #14, item 6): what a user can cause is a CRMError.

Every user-facing error is a :class:`crmlib.errors.CRMError` subclass; a
:class:`DataError` names the file, row and column; every warning class lives in
:mod:`crmlib.errors`; importing crmlib sets no warning filter.
"""

from __future__ import annotations

import ast
import builtins
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from crmlib import errors
from crmlib.cli.main import main
from crmlib.data.io import load_folder
from crmlib.errors import CRMError, DataError, NotFittedError

CRMLIB = Path(errors.__file__).parent
HEADER = "order_id,customer_id,order_date,product_id,quantity,revenue,cost,channel\n"

BUILTIN_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}

#: The only raises of a builtin exception left in crmlib: none reaches a user as an error.
ALLOWED_BUILTIN_RAISES = {
    (
        "cli/main.py",
        "KeyboardInterrupt",
    ): "SIGTERM handler: stops `crm report` like Ctrl-C (exit 130)",
    (
        "data/snapshot.py",
        "TypeError",
    ): "invariant: ClientData gained a field the snapshot does not store",
    (
        "report/kernels.py",
        "RuntimeError",
    ): "internal: refuses a kernel start once the run is stopped",
    ("report/kernels.py", "AssertionError"): "invariant: the kernel start loop returns or raises",
    (
        "synth/helpers.py",
        "RuntimeError",
    ): "invariant: ids fit the width fixed from the customer count",
}

#: Exception classes defined outside crmlib.errors.
ALLOWED_CLASSES_ELSEWHERE = {
    (
        "report/kernels.py",
        "KernelStartError",
    ): "caught in crmlib.report.execute: a lesson's failure reason",
}


def _modules():
    for path in sorted(CRMLIB.rglob("*.py")):
        yield path.relative_to(CRMLIB).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _name(node) -> str | None:
    node = node.func if isinstance(node, ast.Call) else node
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def test_no_bare_builtin_exception_is_raised_outside_the_allow_list():
    found = Counter(
        (path, _name(node.exc))
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Raise) and node.exc is not None
        if _name(node.exc) in BUILTIN_EXCEPTIONS
    )
    assert found == Counter(ALLOWED_BUILTIN_RAISES.keys()), (
        "raise a crmlib.errors.CRMError subclass for what a user can cause; "
        "an internal invariant goes on the allow-list with its reason"
    )


def test_the_scan_sees_a_bare_raise():
    tree = ast.parse("def f(x):\n    if x:\n        raise ValueError('bad x')\n")
    raised = [_name(n.exc) for n in ast.walk(tree) if isinstance(n, ast.Raise)]
    assert raised == ["ValueError"] and "ValueError" in BUILTIN_EXCEPTIONS


def test_error_and_warning_classes_live_in_crmlib_errors():
    elsewhere = {
        (path, node.name)
        for path, tree in _modules()
        if path != "errors.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        if any((_name(b) or "").endswith(("Error", "Exception", "Warning")) for b in node.bases)
    }
    assert elsewhere == set(ALLOWED_CLASSES_ELSEWHERE)


def test_every_warning_crmlib_gives_has_a_class_from_crmlib_errors():
    ours = {n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, Warning)}
    assert {"ConvergenceWarning", "CorrelationWarning"} <= ours
    categories = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) == "warn":
                given = [k.value for k in node.keywords if k.arg == "category"] + node.args[1:2]
                categories.append((path, _name(given[0]) if given else "UserWarning"))
    assert categories and all(c in ours for _, c in categories), categories


def test_data_error_carries_file_row_and_column_and_says_them_first():
    one = DataError("not a number", file="transactions.csv", row=3, column="revenue")
    assert (one.file, one.row, one.column) == ("transactions.csv", 3, "revenue")
    assert one.reason == "not a number"
    assert str(one) == "transactions.csv, row 3, column revenue: not a number"
    several = DataError("different unit costs", file="cost_rates", row=[2, 10])
    assert str(several) == "cost_rates, rows 2, 10: different unit costs"
    # without a row the message is said as given (it names its file itself)
    plain = DataError("customers.csv: the file is empty", file="customers.csv", column="name")
    assert plain.row is None and str(plain) == "customers.csv: the file is empty"
    assert plain.location == "customers.csv, column name"
    assert isinstance(one, CRMError)


def test_not_fitted_is_a_user_error_and_an_attribute_error():
    assert issubclass(NotFittedError, CRMError) and issubclass(NotFittedError, AttributeError)


@pytest.fixture
def one_bad_value(tmp_path):
    """A folder whose only order line has a revenue that is not a number (line 2)."""
    (tmp_path / "transactions.csv").write_text(
        HEADER + "O1,C1,2024-01-05,P1,1,ten pounds,4,web\n", encoding="utf-8"
    )
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,email\nC1,Ann Example,ann@example.org\n", encoding="utf-8"
    )
    return tmp_path


def test_a_folder_without_a_valid_order_names_the_row_and_column(one_bad_value):
    with pytest.raises(DataError) as caught:
        load_folder(one_bad_value, as_of="2024-12-31")
    error = caught.value
    assert (error.file, error.row, error.column) == ("transactions.csv", [2], "revenue")
    assert str(error).startswith("transactions.csv, row 2, column revenue: no valid rows")


def test_crm_validate_prints_file_row_and_column_without_a_traceback(one_bad_value, capsys):
    code = main(["validate", str(one_bad_value), "--as-of", "2024-12-31"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: transactions.csv, row 2, column revenue: no valid rows")
    assert "not a number" in err and "Traceback" not in err
    for personal in ("ten pounds", "Ann Example", "ann@example.org"):
        assert personal not in err
    assert main(["validate", str(one_bad_value), "--as-of", "2024-12-31", "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["usable"] is False
    assert summary["error_at"] == {"file": "transactions.csv", "row": [2], "column": "revenue"}


def test_importing_crmlib_sets_no_warning_filter():
    # numpy, pandas and scipy add filters of their own on import: import them first,
    # so that the comparison sees only what importing crmlib changes
    code = (
        "import warnings\n"
        "import numpy, pandas, scipy.optimize, scipy.special, scipy.stats\n"
        "before = list(warnings.filters)\n"
        "import crmlib, crmlib.data, crmlib.models.qci\n"
        "assert warnings.filters == before, [f for f in warnings.filters if f not in before]\n"
    )
    run = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_crmlib_changes_warning_filters_only_inside_catch_warnings():
    def scoped(tree):
        inside = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.With) and any(
                _name(item.context_expr) == "catch_warnings" for item in node.items
            ):
                inside |= {id(n) for n in ast.walk(node)}
        return inside

    loose = []
    for path, tree in _modules():
        inside = scoped(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in (
                "filterwarnings",
                "simplefilter",
            ):
                if id(node) not in inside:
                    loose.append(f"{path}:{node.lineno}")
    assert loose == []
