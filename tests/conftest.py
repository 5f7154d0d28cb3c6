"""Shared fixtures: small client folders written by the tests themselves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# a fixed pseudonym key for the tests, so that no test creates or reads the user's own key
os.environ.setdefault("CRM_PSEUDONYM_KEY", "test-key-not-secret")


@pytest.fixture
def write(tmp_path):
    """write(name, text, encoding='utf-8') -> Path, in a fresh client folder."""

    def _write(name: str, text: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return _write
