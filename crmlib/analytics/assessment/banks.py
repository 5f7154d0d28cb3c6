"""Question banks: the YAML banks of ``crmlib/analytics/banks/`` (areas, weights, questions, benchmarks)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from crmlib.analytics.assessment._common import (
    ACTION,
    AREA,
    BANK_DIR,
    DESCRIPTION,
    DIMENSIONS,
    HOLDS_BACK,
    LABEL,
    NAME,
    SECTOR,
    SOURCE,
    STATISTIC,
    TEXT,
    TOPIC,
    VALUE,
    WEIGHT,
)
from crmlib.data import schema as s
from crmlib.errors import CRMError

# --- question banks -----------------------------------------------------------


@dataclass(frozen=True)
class QuestionBank:
    """A question bank: its areas, questions, answer scale and benchmarks.

    Attributes
    ----------
    id, title, source, note : str
        Identity and citation of the bank; ``note`` says what is the workbook's own.
    path : Path
        The YAML file it was read from.
    scale_min, scale_max, step : float
        The answer scale; ``step`` is the slider step of the form.
    unit : str
        Unit of the scale (``%`` or ``points``).
    labels : dict of float to str
        Anchors of the scale (e.g. ``0: no evidence``).
    dimensions : dict of str to str
        The dimensions scored (``intention``, ``reality``) and what each means.
    stages : tuple of (float, str)
        Lower bound and name of each stage, ascending (may be empty).
    areas : DataFrame
        Index ``area``; columns name, description, weight, holds_back, action.
    questions : DataFrame
        Index ``question_id``; columns area, topic, text, evidence, weight.
    benchmarks : DataFrame
        Index benchmark id; columns label, sector, statistic, value, source.
    primary_stages : dict of str to str
        Value chain only: id and name of each primary stage.
    """

    id: str
    title: str
    source: str
    path: Path
    scale_min: float
    scale_max: float
    step: float
    unit: str
    labels: dict
    dimensions: dict
    stages: tuple
    areas: pd.DataFrame = field(repr=False)
    questions: pd.DataFrame = field(repr=False)
    benchmarks: pd.DataFrame = field(repr=False)
    primary_stages: dict = field(default_factory=dict)
    note: str = ""

    def stage_of(self, value: float) -> str | None:
        """The stage a score falls in: the last stage whose lower bound is <= value."""
        if not self.stages or value is None or not np.isfinite(value):
            return None
        found = None
        for lower, name in self.stages:
            if value >= lower:
                found = name
        return found


def available_banks() -> list[str]:
    """Names of the question banks shipped with the package."""
    return sorted(p.stem for p in BANK_DIR.glob("*.yml"))


def _bank_path(name_or_path) -> Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yml", ".yaml")) or os.sep in text:
        return Path(name_or_path)
    path = BANK_DIR / f"{text}.yml"
    if not path.exists():
        raise CRMError(
            f"no question bank named '{text}'; the banks are: {', '.join(available_banks())} "
            "(or give the path of a .yml file)"
        )
    return path


class _Reader:
    """Reads keys of a parsed YAML document, naming the file and key on every error."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, key: str, reason: str) -> CRMError:
        return CRMError(f"{self.file}: key '{key}': {reason}")

    def get(self, node: dict, key: str, where: str, kind=str, default=None, required=True):
        full = f"{where}.{key}" if where else key
        if key not in node or node[key] is None:
            if required:
                raise self.fail(full, "is missing")
            return default
        value = node[key]
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(full, f"must be a number, got {value!r}")
            if not math.isfinite(value):
                raise self.fail(full, f"must be a finite number, got {value!r}")
            return float(value)
        if kind is str:
            if isinstance(value, (dict, list)):
                raise self.fail(full, "must be text")
            return str(value).strip()
        if not isinstance(value, kind):
            raise self.fail(full, f"must be a {'list' if kind is list else 'mapping'}")
        return value


def load_bank(name_or_path) -> QuestionBank:
    """Read and check a question bank.

    Parameters
    ----------
    name_or_path : str or Path
        A shipped bank's name (``"qci"``, ``"value_chain"``,
        ``"payne_frow_readiness"``; see :func:`available_banks`) or the path
        of a YAML file in the same format.

    Returns
    -------
    QuestionBank

    Raises
    ------
    CRMError
        Unknown name, unreadable file, or a malformed bank: the message names
        the file and the key (e.g. ``areas[2].questions[0].weight``).
    """
    path = _bank_path(name_or_path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CRMError(f"{path.name}: question bank cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise CRMError(f"{path.name}: not valid YAML{line}") from None
    r = _Reader(path.name)
    if not isinstance(doc, dict):
        raise r.fail("(top level)", "a question bank must be a mapping of keys")

    bank_id = r.get(doc, "id", "")
    title = r.get(doc, "title", "")
    source = r.get(doc, "source", "")
    note = r.get(doc, "note", "", required=False, default="")

    scale = r.get(doc, "scale", "", kind=dict)
    lo = r.get(scale, "min", "scale", kind=float)
    hi = r.get(scale, "max", "scale", kind=float)
    if not lo < hi:
        raise r.fail("scale.max", f"must be above scale.min ({lo:g}), got {hi:g}")
    step = r.get(scale, "step", "scale", kind=float, required=False, default=1.0)
    if not 0 < step <= hi - lo:
        raise r.fail("scale.step", f"must be above 0 and at most {hi - lo:g}")
    unit = r.get(scale, "unit", "scale", required=False, default="")
    labels = {}
    for key, text in (r.get(scale, "labels", "scale", kind=dict, required=False) or {}).items():
        if isinstance(key, bool) or not isinstance(key, (int, float)) or not lo <= key <= hi:
            raise r.fail(f"scale.labels.{key}", f"must be a number from {lo:g} to {hi:g}")
        labels[float(key)] = str(text)
    stages = []
    for i, node in enumerate(r.get(scale, "stages", "scale", kind=list, required=False) or []):
        where = f"scale.stages[{i}]"
        if not isinstance(node, dict):
            raise r.fail(where, "must be a mapping with 'min' and 'label'")
        lower = r.get(node, "min", where, kind=float)
        if not lo <= lower <= hi or (stages and lower <= stages[-1][0]):
            raise r.fail(f"{where}.min", "stages must ascend within the scale")
        stages.append((lower, r.get(node, "label", where)))
    if stages and stages[0][0] != lo:
        raise r.fail("scale.stages[0].min", f"the first stage must start at scale.min ({lo:g})")

    dims = r.get(doc, "dimensions", "", kind=dict)
    for name in dims:
        if name not in DIMENSIONS:
            raise r.fail(f"dimensions.{name}", f"must be one of {', '.join(DIMENSIONS)}")
    if s.REALITY not in dims:
        raise r.fail(f"dimensions.{s.REALITY}", "is missing: every bank scores reality")
    dimensions = {d: str(dims[d] or "").strip() for d in DIMENSIONS if d in dims}

    primary = {}
    for key, text in (r.get(doc, "primary_stages", "", kind=dict, required=False) or {}).items():
        primary[str(key)] = str(text)

    benchmarks = []
    for i, node in enumerate(r.get(doc, "benchmarks", "", kind=list, required=False) or []):
        where = f"benchmarks[{i}]"
        if not isinstance(node, dict):
            raise r.fail(where, "must be a mapping")
        value = r.get(node, "value", where, kind=float)
        if not lo <= value <= hi:
            raise r.fail(f"{where}.value", f"must be on the scale {lo:g} to {hi:g}")
        benchmarks.append(
            {
                "id": r.get(node, "id", where),
                LABEL: r.get(node, LABEL, where),
                SECTOR: r.get(node, SECTOR, where),
                STATISTIC: r.get(node, STATISTIC, where),
                VALUE: value,
                SOURCE: r.get(node, SOURCE, where),
            }
        )

    areas, questions = [], []
    area_nodes = r.get(doc, "areas", "", kind=list)
    if not area_nodes:
        raise r.fail("areas", "must list at least one area")
    for i, node in enumerate(area_nodes):
        where = f"areas[{i}]"
        if not isinstance(node, dict):
            raise r.fail(where, "must be a mapping")
        area_id = r.get(node, "id", where)
        weight = r.get(node, WEIGHT, where, kind=float, required=False, default=1.0)
        if weight < 0:
            raise r.fail(f"{where}.weight", f"must not be negative, got {weight:g}")
        holds_back = r.get(node, HOLDS_BACK, where, kind=list, required=False, default=[])
        for stage in holds_back:
            if stage not in primary:
                raise r.fail(f"{where}.holds_back", f"'{stage}' is not one of primary_stages")
        areas.append(
            {
                AREA: area_id,
                NAME: r.get(node, NAME, where),
                DESCRIPTION: r.get(node, DESCRIPTION, where, required=False, default=""),
                WEIGHT: weight,
                HOLDS_BACK: tuple(str(x) for x in holds_back),
                ACTION: r.get(node, ACTION, where, required=False, default=""),
            }
        )
        q_nodes = r.get(node, "questions", where, kind=list)
        if not q_nodes:
            raise r.fail(f"{where}.questions", "must list at least one question")
        for j, q in enumerate(q_nodes):
            qwhere = f"{where}.questions[{j}]"
            if not isinstance(q, dict):
                raise r.fail(qwhere, "must be a mapping")
            qweight = r.get(q, WEIGHT, qwhere, kind=float, required=False, default=1.0)
            if qweight <= 0:
                raise r.fail(f"{qwhere}.weight", f"must be above 0, got {qweight:g}")
            questions.append(
                {
                    s.QUESTION_ID: r.get(q, "id", qwhere),
                    AREA: area_id,
                    TOPIC: r.get(q, TOPIC, qwhere, required=False, default=""),
                    TEXT: r.get(q, TEXT, qwhere),
                    s.EVIDENCE: r.get(q, s.EVIDENCE, qwhere, required=False, default=""),
                    WEIGHT: qweight,
                    "_key": f"{qwhere}.id",
                }
            )
    seen: dict[str, str] = {}
    for i, a in enumerate(areas):
        if a[AREA] in seen:
            raise r.fail(f"areas[{i}].id", f"'{a[AREA]}' is used twice")
        seen[a[AREA]] = a[AREA]
    seen = {}
    for q in questions:
        if q[s.QUESTION_ID] in seen:
            raise r.fail(q["_key"], f"question id '{q[s.QUESTION_ID]}' is used twice")
        seen[q[s.QUESTION_ID]] = q["_key"]
    if sum(a[WEIGHT] for a in areas) <= 0:
        raise r.fail("areas", "at least one area needs a weight above 0")

    area_frame = pd.DataFrame(areas).set_index(AREA)
    question_frame = pd.DataFrame(questions).drop(columns="_key").set_index(s.QUESTION_ID)
    bench_columns = ["id", LABEL, SECTOR, STATISTIC, VALUE, SOURCE]
    bench_frame = pd.DataFrame(benchmarks, columns=bench_columns).set_index("id")
    return QuestionBank(
        id=bank_id,
        title=title,
        source=source,
        path=path,
        scale_min=lo,
        scale_max=hi,
        step=step,
        unit=unit,
        labels=labels,
        dimensions=dimensions,
        stages=tuple(stages),
        areas=area_frame,
        questions=question_frame,
        benchmarks=bench_frame,
        primary_stages=primary,
        note=note,
    )


def _as_bank(bank) -> QuestionBank:
    return bank if isinstance(bank, QuestionBank) else load_bank(bank)
