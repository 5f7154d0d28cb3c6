"""Keyed pseudonyms, the key kept outside the report, small-cell suppression, redaction."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmlib.data import privacy
from crmlib.errors import CRMError


@pytest.fixture
def no_key(monkeypatch, tmp_path):
    """No key variable, and a private configuration folder for the key file."""
    monkeypatch.delenv(privacy.KEY_ENV, raising=False)
    monkeypatch.delenv(privacy.KEY_FILE_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "crm-workbook" / "key"


def test_pseudonym_is_the_published_hmac_sha256():
    # RFC 4231, test case 2: HMAC-SHA-256(key "Jefe", "what do ya want for nothing?")
    published = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    out = privacy.pseudonymise(["what do ya want for nothing?"], key=b"Jefe")
    assert out.tolist() == ["P-" + published[:16]]
    assert privacy.pseudonymise(["what do ya want for nothing?"], key="Jefe").iloc[0] == out[0]


def test_pseudonyms_are_stable_keyed_and_keep_the_index():
    ids = pd.Series(["C1", "C2", "C1", None, 7], index=[10, 11, 12, 13, 14], name="customer_id")
    a = privacy.pseudonymise(ids, key=b"k1")
    assert a.index.tolist() == [10, 11, 12, 13, 14] and a.name == "customer_id"
    assert a[10] == a[12] != a[11]  # same customer, same pseudonym; others differ
    assert pd.isna(a[13])  # a missing id stays missing
    assert a[14] == privacy.pseudonymise(["7"], key=b"k1")[0]  # ids compared as text
    b = privacy.pseudonymise(ids, key=b"k2")
    assert not set(a.dropna()) & set(b.dropna())  # another key, other pseudonyms
    assert all(p.startswith("P-") and len(p) == 18 for p in a.dropna())
    assert "C1" not in "".join(a.dropna())


def test_key_comes_from_the_environment_first(no_key, monkeypatch):
    monkeypatch.setenv(privacy.KEY_ENV, "from-env")
    assert privacy.load_key() == b"from-env"
    assert privacy.pseudonymise(["C1"])[0] == privacy.pseudonymise(["C1"], key=b"from-env")[0]
    assert not no_key.exists()  # no key file made when the variable is set


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_key_file_is_created_once_private_and_reused(no_key):
    first = privacy.load_key()
    assert no_key.exists() and privacy.key_path() == no_key
    assert stat.S_IMODE(no_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(no_key.parent.stat().st_mode) == 0o700
    assert len(first) == 64  # 32 random bytes, hex
    assert privacy.load_key() == first  # reused, not replaced
    assert privacy.pseudonymise(["C1"])[0] == privacy.pseudonymise(["C1"], key=first)[0]


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_key_file_others_can_read_is_refused(no_key):
    privacy.load_key()
    no_key.chmod(0o644)
    with pytest.raises(CRMError, match="chmod 600"):
        privacy.load_key()


def test_missing_or_empty_key_file_is_a_clear_error(no_key):
    with pytest.raises(CRMError, match="no pseudonym key"):
        privacy.load_key(create=False)
    no_key.parent.mkdir(parents=True)
    no_key.write_text("\n")
    no_key.chmod(0o600)
    with pytest.raises(CRMError, match="empty"):
        privacy.load_key()


def test_small_cells_are_suppressed_by_row_and_said_so():
    table = pd.DataFrame(
        {"customers": [3, 10, 5, 4], "revenue": [30.0, 900.0, 55.0, 41.0]},
        index=["a", "b", "c", "d"],
    )
    out = privacy.suppress_small_cells(table, table["customers"], threshold=5)
    assert out.loc[["a", "d"]].isna().all().all()  # 3 and 4 customers: blanked
    assert out.loc["c", "customers"] == 5  # exactly the threshold: kept
    assert out.loc["b", "revenue"] == 900.0
    assert out.attrs["suppressed"] == 4
    assert "4 cells in 2 rows" in out.attrs["note"] and "fewer than 5" in out.attrs["note"]
    assert table.loc["a", "customers"] == 3  # the input is not changed


def test_small_cells_per_cell_counts_and_nothing_to_suppress():
    rates = pd.DataFrame([[0.5, 0.25], [0.4, np.nan]], index=["2023-01", "2023-02"])
    counts = pd.DataFrame([[40, 2], [6, 0]], index=rates.index)
    out = privacy.suppress_small_cells(rates, counts, threshold=5)
    assert np.isnan(out.iloc[0, 1]) and out.iloc[0, 0] == 0.5 and out.iloc[1, 0] == 0.4
    assert out.attrs["suppressed"] == 2  # the 2-customer cell and the empty one
    big = privacy.suppress_small_cells(rates, counts * 100 + 100, threshold=5)
    assert big.attrs == {"suppressed": 0, "note": ""}
    assert big.equals(rates)


def test_small_cell_counts_must_match_the_table():
    table = pd.DataFrame({"x": [1.0, 2.0]}, index=["a", "b"])
    with pytest.raises(CRMError, match="shape"):
        privacy.suppress_small_cells(table, pd.DataFrame({"x": [1]}))
    with pytest.raises(CRMError, match="rows"):
        privacy.suppress_small_cells(table, pd.Series([10]))
    # a Series in another order is aligned on the index
    out = privacy.suppress_small_cells(table, pd.Series({"b": 1, "a": 9}), threshold=5)
    assert out.loc["a", "x"] == 1.0 and np.isnan(out.loc["b", "x"])


def test_redact_parameters_hides_existing_paths_and_secrets(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text("x")
    params = {
        "data_path": str(tmp_path),
        "assessment_file": str(answers),
        "missing_file": str(tmp_path / "nope.csv"),
        "api_token": "s3cr3t",
        "client_name": "Acme",
        "horizon": 12,
        "as_of": None,
    }
    out = privacy.redact_parameters(params, {"data_path": "<client folder>"})
    assert out["data_path"] == "<client folder>"
    assert out["assessment_file"] == privacy.HIDDEN_PATH
    assert out["api_token"] == privacy.HIDDEN_SECRET
    assert out["missing_file"] == str(tmp_path / "nope.csv")  # not a path that exists
    assert (out["client_name"], out["horizon"], out["as_of"]) == ("Acme", 12, None)
    assert params["data_path"] == str(tmp_path)  # the input is not changed


def test_crm_key_makes_the_key_file_once_and_never_shows_it(tmp_path):
    crm = Path(sys.executable).with_name("crm")
    cmd = [str(crm)] if crm.exists() else [sys.executable, "-m", "crmlib.cli"]
    env = {k: v for k, v in os.environ.items() if k not in (privacy.KEY_ENV, privacy.KEY_FILE_ENV)}
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    first = subprocess.run([*cmd, "key"], capture_output=True, text=True, env=env)
    key_file = tmp_path / "crm-workbook" / "key"
    assert first.returncode == 0 and "created" in first.stdout and key_file.exists()
    again = subprocess.run([*cmd, "key"], capture_output=True, text=True, env=env)
    assert "existing" in again.stdout
    assert key_file.read_text().strip() not in first.stdout + again.stdout  # never printed
    from_env = subprocess.run(
        [*cmd, "key"], capture_output=True, text=True, env={**env, privacy.KEY_ENV: "x"}
    )
    assert "environment variable" in from_env.stdout


def test_pseudonymise_ids_replaces_index_and_id_columns_only():
    from crmlib.data.privacy import pseudonymise, pseudonymise_ids

    key = b"k"
    frame = pd.DataFrame(
        {"customer_id_l": ["A", "B"], "score": [1.0, 2.0]},
        index=pd.Index(["C1", "C2"], name="customer_id"),
    )
    shown = pseudonymise_ids(frame, key)
    assert list(shown.index) == pseudonymise(["C1", "C2"], key).tolist()
    assert list(shown["customer_id_l"]) == pseudonymise(["A", "B"], key).tolist()
    assert list(shown["score"]) == [1.0, 2.0]
    assert list(frame.index) == ["C1", "C2"]  # the original is left alone
    ids = pd.Series(["C1", "C9"])
    assert pseudonymise_ids(ids, key).tolist() == pseudonymise(["C1", "C9"], key).tolist()
