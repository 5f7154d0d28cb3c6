"""Helpers of the report tests: run the ``crm`` command as a user would, with a fixed key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crmlib.data import privacy

CRM = Path(sys.executable).with_name("crm")
TEST_KEY = "test-pseudonym-key"  # fixed: the tests recompute the pseudonyms the report shows


def crm(*args, env=None):
    """``crm ARGS`` in a subprocess (the venv's entry point, else ``python -m crmlib.cli``)."""
    cmd = [str(CRM)] if CRM.exists() else [sys.executable, "-m", "crmlib.cli"]
    full_env = {**os.environ, privacy.KEY_ENV: TEST_KEY, **(env or {})}
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, env=full_env)
