"""Scratch folders: a killed command's folder is removed by the next one; SIGTERM cleans up."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from crmlib.data.scratch import scratch_dir, sweep


def _ended_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_sweep_removes_only_the_folders_of_ended_processes(tmp_path):
    dead = tmp_path / f"crm-duckdb-{_ended_pid()}-abc"
    alive = tmp_path / f"crm-spark-{os.getpid()}-def"
    other = tmp_path / "crm-workbook-cache"  # no process id in its name
    plain = tmp_path / "crm-validate-xyz"  # the old unnamed kind: left alone
    for folder in (dead, alive, other, plain):
        (folder / "spill").mkdir(parents=True)
        (folder / "spill" / "block.tmp").write_bytes(b"x" * 100)
    assert sweep(tmp_path) == [dead]
    assert not dead.exists()
    assert alive.exists() and other.exists() and plain.exists()


def _python(code: str, tmp: Path, *args) -> subprocess.Popen:
    """``python -c code args`` whose temporary folder is ``tmp``, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        env={**os.environ, "TMPDIR": str(tmp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_killed_process_leaves_its_spill_folder_to_the_next_one(tmp_path):
    code = (
        "from crmlib.engines import duckdb_connection\n"
        "con, spill = duckdb_connection()\n"
        "print(spill, flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    proc = _python(code, tmp_path)
    spill = Path(proc.stdout.readline().strip())
    assert spill.parent == tmp_path and spill.name.startswith(f"crm-duckdb-{proc.pid}-")
    proc.send_signal(signal.SIGKILL)  # no clean-up can run
    proc.wait()
    assert spill.is_dir()
    fresh = scratch_dir("duckdb", tmp_path)
    assert not spill.exists()
    assert fresh.is_dir() and fresh.name.startswith(f"crm-duckdb-{os.getpid()}-")


def test_sigterm_stops_any_command_like_ctrl_c_and_removes_its_scratch(tmp_path):
    # `crm aggregate` with its step replaced by a wait, so that the kill comes mid-step
    code = (
        "import sys, time\n"
        "import crmlib.pipeline as p\n"
        "from crmlib.engines import Engine\n"
        "def slow(source, *a, **k):\n"
        "    with Engine('duckdb', source):\n"
        "        print('open', flush=True)\n"
        "        time.sleep(60)\n"
        "p.aggregate = slow\n"
        "from crmlib.cli.main import main\n"
        "sys.exit(main(['aggregate', sys.argv[1], '--out', sys.argv[2], '--engine', 'duckdb']))\n"
    )
    folder = tmp_path / "client"
    folder.mkdir()
    (folder / "transactions.csv").write_text(
        "order_id,customer_id,order_date,revenue\nO1,C1,2024-01-02,10\n"
    )
    proc = _python(code, tmp_path, folder, tmp_path / "out")
    assert proc.stdout.readline().strip() == "open"
    assert list(tmp_path.glob(f"crm-duckdb-{proc.pid}-*"))
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - start < 30
    assert proc.returncode == 130, err
    assert "Traceback" not in err  # click reports the interruption as "aborted"
    assert not list(tmp_path.glob("crm-duckdb-*"))
