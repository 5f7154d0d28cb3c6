"""The project's own files: notebooks valid and stripped, environments in step."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ALL_NOTEBOOKS = LESSONS + sorted((ROOT / "exercises").rglob("*.ipynb"))
TEACHING = [p for p in LESSONS if not p.stem.endswith("client_summary")]  # 05 is the report page
CONDA_NAMES = {"duckdb": "python-duckdb"}


def _bounds(requirements):
    out = {}
    for req in requirements:
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*>=\s*([0-9.]+)$", req.strip())
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_environment_yml_in_step_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = _bounds(project["dependencies"] + extras["test"] + extras["spark"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = _bounds(d for d in env["dependencies"] if isinstance(d, str))
    for name, bound in wanted.items():
        assert conda.get(CONDA_NAMES.get(name, name)) == bound, (
            f"{name}>={bound} not in environment.yml"
        )
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python>=")]
    assert python == [f"python{project['requires-python']}"]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_skeleton(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged parameters"
    names = re.findall(r"^(\w+)\s*=", tagged[0].source, flags=re.M)
    assert names[:3] == ["data_path", "client_name", "as_of"]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code.index(tagged[0]) == 1, "parameters right after the one imports cell"
    for cell in code:
        kept = cell.metadata.get("keep_output", False)
        if cell.outputs:
            assert kept and "# NBVAL_CHECK_OUTPUT" in cell.source, "outputs only on pinned cells"
        assert "pip install" not in cell.source and "http" not in cell.source


def test_data_dictionary_names_every_table_and_column():
    from crmlib.data import schema as s

    text = (ROOT / "datasets" / "README.md").read_text()
    for table in s.TABLES.values():
        assert f"### `{table.name}`" in text
        section = text.split(f"### `{table.name}`", 1)[1].split("###", 1)[0]
        for column in table.columns:
            assert f"| `{column.name}` | {column.kind} |" in section, (table.name, column.name)


@pytest.mark.parametrize("path", TEACHING, ids=lambda p: p.name)
def test_lesson_has_explorers_and_its_batch_form_drops_only_them(path):
    from crmlib.report.lessons import EXPLORER_TAG, batch_notebook

    nb = nbformat.read(path, as_version=4)
    explorers = [c for c in nb.cells if EXPLORER_TAG in c.metadata.get("tags", [])]
    assert explorers, "a lesson has an interactive explorer (a cell tagged explorer)"
    batch = batch_notebook(path)
    assert len(batch.cells) == len(nb.cells) - len(explorers)
