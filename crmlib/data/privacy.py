"""Privacy in every output: keyed pseudonyms, small-cell suppression, redacted parameters.

Three rules keep personal data out of a report:

- **Customer identifiers are keyed pseudonyms.** :func:`pseudonymise` replaces
  each id by ``HMAC-SHA256(key, id)`` (RFC 2104 with FIPS 180-4 SHA-256),
  the keyed hash that ENISA recommends for pseudonymisation ("Pseudonymisation
  techniques and best practices", 2019, section 5.2): the same id gets the
  same pseudonym in every lesson and every run, so an analyst can still join
  and count, but without the key nobody can recompute the mapping, not even by
  hashing every possible id (which breaks an unkeyed hash of short ids). The
  key stays outside the report: the environment variable
  ``CRM_PSEUDONYM_KEY``, else a key file that is created on first use with
  owner-only permissions (0600) in the user's configuration folder
  (``$XDG_CONFIG_HOME/crm-workbook/key``, by default
  ``~/.config/crm-workbook/key``). Whoever holds the key can re-identify a
  customer (GDPR art. 4(5): pseudonymised data is still personal data), so
  share the report, not the key.
- **Small groups are suppressed.** :func:`suppress_small_cells` blanks every
  cell of a segment or cohort table that describes fewer customers than a
  threshold (default 5): the threshold rule of statistical disclosure control
  (Hundepool et al., *Statistical Disclosure Control*, Wiley 2012, ch. 5.2).
  Only primary suppression: a total shown beside the table can still reveal a
  suppressed cell by subtraction, so do not print totals of suppressed tables.
- **Paths and secrets stay out of notebooks and manifests.**
  :func:`redact_parameters` replaces any parameter value that is an existing
  path, and any parameter named like a secret (key, token, password, secret),
  by a placeholder.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from pathlib import Path

import numpy as np
import pandas as pd

from crmlib.data import schema as s
from crmlib.errors import CRMError, PseudonymKeyError

KEY_ENV = "CRM_PSEUDONYM_KEY"
KEY_FILE_ENV = "CRM_PSEUDONYM_KEY_FILE"
PSEUDONYM_PREFIX = "P-"
PSEUDONYM_HEX = 16  # 64 bits: for a million ids, the chance of any collision is about 3e-8
SMALL_CELL_THRESHOLD = 5
HIDDEN_PATH = "<path>"
HIDDEN_SECRET = "<secret>"
SECRET_NAME = re.compile(r"(key|secret|token|password|passwd|credential)", re.IGNORECASE)

__all__ = [
    "key_path",
    "load_key",
    "pseudonymise",
    "redact_parameters",
    "suppress_small_cells",
]


def key_path() -> Path:
    """Where the local pseudonym key file lives (it may not exist yet).

    ``$CRM_PSEUDONYM_KEY_FILE`` when set, else ``crm-workbook/key`` in
    ``$XDG_CONFIG_HOME`` (default ``~/.config``): outside any report folder.
    """
    explicit = os.environ.get(KEY_FILE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config).expanduser() / "crm-workbook" / "key"


def load_key(create: bool = True) -> bytes:
    """The pseudonym key: ``$CRM_PSEUDONYM_KEY``, else the local key file.

    Parameters
    ----------
    create : bool, default True
        Create the key file (32 random bytes from :mod:`secrets`, hex, mode
        0600 in a 0700 folder) when there is neither a key variable nor a file.

    Returns
    -------
    bytes

    Raises
    ------
    crmlib.errors.CRMError
        The key file is missing (and ``create`` is False), empty, unreadable or
        readable by other users.
    """
    env = os.environ.get(KEY_ENV, "")
    if env.strip():
        return env.strip().encode("utf-8")
    path = key_path()
    if not path.exists():
        if not create:
            raise PseudonymKeyError(
                f"no pseudonym key: set {KEY_ENV} or create a key file with `crm key` ({path})"
            )
        return _create_key(path)
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PseudonymKeyError(
            f"the pseudonym key file {path} can be read by other users; "
            f"make it private with: chmod 600 {path}"
        )
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise PseudonymKeyError(
            f"the pseudonym key file {path} cannot be read ({exc.strerror})"
        ) from None
    if not key:
        raise PseudonymKeyError(
            f"the pseudonym key file {path} is empty; delete it to make a new key"
        )
    return key.encode("utf-8")


def _create_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return load_key(create=False)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    return key.encode("utf-8")


def pseudonymise(ids, key: bytes | str | None = None) -> pd.Series:
    """Keyed pseudonyms of customer identifiers: ``P-`` + HMAC-SHA256, 16 hex digits.

    ``pseudonym = "P-" + hex(HMAC-SHA256(key, str(id)))[:16]``
    (HMAC: Krawczyk, Bellare & Canetti, RFC 2104, 1997; SHA-256: FIPS 180-4;
    a keyed hash as the pseudonymisation function: ENISA 2019, section 5.2).

    Parameters
    ----------
    ids : array-like or pandas.Series
        Customer identifiers; compared as text, so ``1`` and ``"1"`` match.
    key : bytes or str, optional
        The secret key; default :func:`load_key` (environment variable, else
        the local key file, created on first use).

    Returns
    -------
    pandas.Series
        Pseudonyms (str) with the index of ``ids`` (when a Series); missing
        ids stay missing.

    Examples
    --------
    >>> pseudonymise(["C1", "C2", "C1"], key=b"demo").tolist()
    ['P-a2d32b8d7fb2f8d9', 'P-e81b2f32f2324d3d', 'P-a2d32b8d7fb2f8d9']
    """
    secret = load_key() if key is None else key
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    series = ids if isinstance(ids, pd.Series) else pd.Series(list(ids))
    missing = series.isna().to_numpy()
    codes = {}
    out = np.empty(len(series), dtype=object)
    for i, value in enumerate(series.to_numpy()):
        if missing[i]:
            out[i] = None
            continue
        text = str(value)
        if text not in codes:
            digest = hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()
            codes[text] = PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX]
        out[i] = codes[text]
    return pd.Series(out, index=series.index, name=series.name, dtype="string")


def suppress_small_cells(
    table: pd.DataFrame, counts, threshold: int = SMALL_CELL_THRESHOLD
) -> pd.DataFrame:
    """Blank the cells of a segment or cohort table that describe too few customers.

    The threshold rule (Hundepool et al., *Statistical Disclosure Control*,
    Wiley 2012, ch. 5.2): a cell computed from fewer than ``threshold``
    customers is suppressed (primary suppression only).

    Parameters
    ----------
    table : pandas.DataFrame
        The table to publish (counts, sums, means, rates …).
    counts : pandas.Series or pandas.DataFrame
        Customers behind each cell: a Series aligned with ``table``'s rows
        (every cell of a row describes the same customers, e.g. one segment
        per row), or a DataFrame of the same shape as ``table`` (one count per
        cell, e.g. a cohort-by-month matrix).
    threshold : int, default 5
        Cells with fewer customers than this are suppressed.

    Returns
    -------
    pandas.DataFrame
        A copy with suppressed cells set to missing. ``.attrs["suppressed"]``
        holds how many cells were suppressed and ``.attrs["note"]`` a sentence
        saying so, to print under the table ("" when nothing was suppressed).

    Raises
    ------
    crmlib.errors.CRMError
        ``counts`` does not match the table's rows or shape.
    """
    if isinstance(counts, pd.DataFrame):
        if counts.shape != table.shape:
            raise CRMError(
                f"counts has shape {counts.shape}, the table {table.shape}: "
                "give one count per cell, or a Series with one count per row"
            )
        small = counts.to_numpy(dtype=float) < threshold
    else:
        per_row = pd.Series(counts)
        if len(per_row) != len(table):
            raise CRMError(f"counts has {len(per_row)} values, the table {len(table)} rows")
        if per_row.index.equals(table.index):
            values = per_row.to_numpy(dtype=float)
        else:
            values = per_row.reindex(table.index).to_numpy(dtype=float)
            if np.isnan(values).any():
                raise CRMError("counts has no value for some rows of the table")
        small = np.repeat((values < threshold)[:, None], table.shape[1], axis=1)
    out = table.mask(pd.DataFrame(small, index=table.index, columns=table.columns))
    n = int(small.sum())
    rows = int(small.any(axis=1).sum())
    out.attrs["suppressed"] = n
    out.attrs["note"] = (
        f"{n} cell{'s' if n != 1 else ''} in {rows} row{'s' if rows != 1 else ''} "
        f"describe{'s' if n == 1 else ''} fewer than {threshold} customers: suppressed "
        "(shown blank) to protect privacy."
        if n
        else ""
    )
    return out


def redact_parameters(parameters: dict, placeholders: dict | None = None) -> dict:
    """A copy of notebook parameters with paths and secrets replaced by placeholders.

    A value is hidden when it is a string (or path) naming a file or folder
    that exists, or when the parameter's name looks like a secret (``key``,
    ``token``, ``password``, ``secret``, ``credential``).

    Parameters
    ----------
    parameters : dict
        Name to value.
    placeholders : dict, optional
        Placeholder per parameter name, e.g. ``{"data_path": "<client folder>"}``;
        default ``"<path>"`` for paths and ``"<secret>"`` for secrets.

    Returns
    -------
    dict
    """
    placeholders = placeholders or {}
    out = {}
    for name, value in parameters.items():
        if SECRET_NAME.search(name) and value not in (None, ""):
            out[name] = placeholders.get(name, HIDDEN_SECRET)
        elif is_existing_path(value):
            out[name] = placeholders.get(name, HIDDEN_PATH)
        else:
            out[name] = value
    return out


def is_existing_path(value) -> bool:
    """True when ``value`` is a str or Path naming an existing file or folder."""
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        return False
    text = str(value)
    if "\n" in text or len(text) > 4096:
        return False
    try:
        return Path(text).expanduser().exists()
    except (OSError, ValueError):
        return False


def pseudonymise_ids(table, key: bytes | str | None = None):
    """A copy of a table to show, its customer ids pseudonymised (:func:`pseudonymise`).

    The index is replaced when it is named ``customer_id``, and so is every
    column named ``customer_id`` or starting ``customer_id_`` (e.g. the
    ``customer_id_l`` of a pair). A Series not indexed by customer id is taken
    to hold ids. Lessons pass what they display through this, so that a report
    shows no raw customer identifier.
    """
    if isinstance(table, pd.Series) and table.index.name != s.CUSTOMER_ID:
        return pseudonymise(table, key)
    out = table.copy()
    if out.index.name == s.CUSTOMER_ID:
        out.index = pd.Index(
            pseudonymise(out.index.to_series(), key).to_numpy(), name=s.CUSTOMER_ID
        )
    if isinstance(out, pd.DataFrame):
        for column in out.columns:
            if str(column) == s.CUSTOMER_ID or str(column).startswith(s.CUSTOMER_ID + "_"):
                out[column] = pseudonymise(out[column], key).to_numpy()
    return out
