"""Each master's answer key: the crmlib names a question's answer must not use.

crmlib implements what most questions ask (``rfm_values``,
``customer_lifetime_value`` ...), and a student can import it. Each master
therefore declares, per question, the crmlib names its answer must not use,
in the notebook's metadata (edit it in JupyterLab's property inspector, or
with nbformat)::

    "metadata": {
      "crm": {
        "answer_key": {
          "q2_answer": ["crmlib.models.idic.rfm_values", "crmlib.analytics.summary.customer_summary"],
          "q4_answer": ["crmlib.models.idic.ChannelPropensity"]
        }
      }
    }

Keys are the grade ids of code answer cells; a question's tests are the
graded cells after its answer cell, up to the next answer cell. A name also
covers every other crmlib module that exposes the same object
(:func:`answer_key_aliases`). After autograding, :func:`answer_key_uses`
(run by :mod:`crmlib.grading.worker`) reads the student's code cells (answers and cells they added; a static scan
of imports, attribute access, module aliases, ``getattr`` and
``importlib.import_module``): a question whose answer key is reached scores 0
on its tests, its answer cell gets a comment saying why (the student sees it
in the feedback), and :attr:`crmlib.grading.batch.GradeResult.flags` (and
the reason in ``grades.csv``) names the question and the names used. A
grader who disagrees gives the points back by hand in formgrader (a manual
score overrides the automatic one). :func:`crmlib.grading.release.check_master`
refuses a master whose solutions or tests use a declared name: tests compare
with fixed expected values or properties. :func:`crmlib.grading.release.release`
removes the declaration from the student version.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

from crmlib.errors import CRMError
from crmlib.grading.course import cell_label

#: Where a master declares its answer key: ``nb.metadata["crm"]["answer_key"]``.
ANSWER_KEY_METADATA = ("crm", "answer_key")


def declared_answer_key(nb) -> dict[str, list[str]]:
    """A master's answer key: code answer grade id -> crmlib names its answer must not use."""
    block = nb.metadata
    for key in ANSWER_KEY_METADATA:
        block = block.get(key, {}) if isinstance(block, dict) else {}
    return {str(k): [str(name) for name in v] for k, v in dict(block).items()}


@functools.cache
def _crmlib_names() -> dict[str, str]:
    """Every module-level name of crmlib, and the crmlib name it is bound to.

    Read from the source (no import): ``crmlib.analytics.experience.nps`` -> itself
    (defined there), ``crmlib.models.value_chain.proposition.nps`` ->
    ``crmlib.analytics.experience.nps`` (imported from
    it). Names imported from outside crmlib map to themselves.
    """
    package = Path(__file__).resolve().parents[1]
    bound: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package_name = ".".join(parts[:-1])
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound[f"{module}.{node.name}"] = f"{module}.{node.name}"
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        bound[f"{module}.{target.id}"] = f"{module}.{target.id}"
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:
                    base = package_name.split(".")[: len(package_name.split(".")) - node.level + 1]
                    source = ".".join([*base, source] if source else base)
                for alias in node.names:
                    if alias.name != "*":
                        name = f"{module}.{alias.asname or alias.name}"
                        bound[name] = f"{source}.{alias.name}"
    return bound


def _crmlib_origin(name: str) -> str:
    """Where a crmlib name is defined, following imports from module to module."""
    bound, seen = _crmlib_names(), set()
    while name in bound and bound[name] != name and name not in seen:
        seen.add(name)
        name = bound[name]
    return name


def answer_key_aliases(names: list[str]) -> list[str]:
    """Every crmlib name bound to the same object as one of ``names``.

    ``crmlib.analytics.summary.customer_summary`` is also
    ``crmlib.models.qci.retention.customer_summary``
    (qci imports it): an answer that reaches it through either counts.
    CRMError for a name crmlib does not define.
    """
    bound = _crmlib_names()
    origins = set()
    for name in names:
        if name not in bound:
            raise CRMError(f"the answer key names {name}, which crmlib does not define")
        origins.add(_crmlib_origin(name))
    found = set(names) | {other for other in bound if _crmlib_origin(other) in origins}
    return sorted(found)


def _python_source(source: str) -> str:
    """A cell's source as Python (IPython's ``%magic`` and ``!shell`` lines translated)."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # IPython gives up on odd input; the parser then decides
        return source


class _AnswerKeyScan(ast.NodeVisitor):
    """Which forbidden names a cell reaches, following its imports and module aliases.

    ``aliases`` (local name -> dotted crmlib path) carries over from cell to
    cell, as the kernel's namespace does.
    """

    def __init__(self, forbidden: set[str], aliases: dict[str, str]):
        self.forbidden, self.aliases, self.hits = forbidden, aliases, set()

    def _hit(self, path: str | None) -> None:
        if path in self.forbidden:
            self.hits.add(path)

    def _resolve(self, node) -> str | None:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def visit_Import(self, node):
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.aliases[top] = top
            self._hit(alias.name)

    def visit_ImportFrom(self, node):
        if node.level or not node.module:
            return
        for alias in node.names:
            if alias.name == "*":
                self.hits.update(n for n in self.forbidden if n.startswith(node.module + "."))
                continue
            path = f"{node.module}.{alias.name}"
            self.aliases[alias.asname or alias.name] = path
            self._hit(path)

    def visit_Name(self, node):
        self._hit(self.aliases.get(node.id))

    def visit_Attribute(self, node):
        self._hit(self._resolve(node))
        self.generic_visit(node)

    def visit_Assign(self, node):
        self.generic_visit(node)
        path = self._resolve(node.value)
        for target in node.targets:  # key = crmlib.models.idic: a module alias by assignment
            if path and isinstance(target, ast.Name):
                self.aliases[target.id] = path

    def visit_Call(self, node):
        self.generic_visit(node)
        strings = [a.value for a in node.args if isinstance(a, ast.Constant)]
        strings = [text for text in strings if isinstance(text, str)]
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        if name == "getattr" and len(node.args) >= 2 and len(strings) >= 1:
            base = self._resolve(node.args[0])
            self._hit(f"{base}.{strings[0]}" if base else None)
        elif name in ("import_module", "__import__") and strings:
            self.hits.update(n for n in self.forbidden if n.startswith(strings[0] + "."))


def answer_key_references(
    source: str, forbidden: list[str], aliases: dict[str, str] | None = None
) -> list[str]:
    """The forbidden names that code reaches (imports, attributes, aliases, getattr).

    A static scan: it reads the code, it does not run it, so code that
    builds a name at run time (``exec`` of a computed string) escapes it, as
    does code nested too deeply for Python's parser; the autograded notebook
    keeps what ran, for review.

    Parameters
    ----------
    source : str
        A cell's code.
    forbidden : list of str
        Fully qualified names (``crmlib.models.idic.rfm_values``), e.g. from
        :func:`answer_key_aliases`.
    aliases : dict, optional
        Names earlier cells bound to crmlib paths; updated in place.
    """
    aliases = {} if aliases is None else aliases
    scan = _AnswerKeyScan(set(forbidden), aliases)
    try:
        scan.visit(ast.parse(_python_source(source)))
    except (SyntaxError, ValueError, RecursionError):  # a cell the kernel could not run either
        return []
    return sorted(scan.hits)


def _is_student_code(cell) -> bool:
    """A code cell the student wrote: an answer cell or a cell they added."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and (meta.get("solution") or not meta.get("locked"))


@dataclass(frozen=True)
class AnswerKeyRule:
    """One question's answer key: the names its answer must not use, the tests it voids.

    Parameters
    ----------
    notebook : str
        The notebook's name, without ``.ipynb``.
    answer : str
        The grade id of the question's answer cell.
    declared : tuple of str
        The names the master declares.
    names : tuple of str
        Those names and every other crmlib name of the same objects.
    tests : tuple of str
        The grade ids of the question's test cells (the graded cells after the
        answer cell, up to the next answer cell).
    """

    notebook: str
    answer: str
    declared: tuple[str, ...]
    names: tuple[str, ...]
    tests: tuple[str, ...]


def answer_key_rules(nb, notebook: str, label: str | None = None) -> list[AnswerKeyRule]:
    """The answer-key rules a master declares; CRMError for a declaration that cannot hold."""
    label = label or notebook
    declared = declared_answer_key(nb)
    tests: dict[str, list[str]] = {}
    answers, current = set(), None
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            current = meta.get("grade_id") if cell.cell_type == "code" else None
            answers.add(current)
        elif meta.get("grade") and current:
            tests.setdefault(current, []).append(meta["grade_id"])
    rules = []
    for answer, names in declared.items():
        if answer not in answers or not tests.get(answer):
            raise CRMError(
                f"{label}: the answer key names {answer!r}, which is not a code answer "
                "followed by its test cells"
            )
        if not names:
            raise CRMError(f"{label}: the answer key of {answer!r} names nothing")
        aliases = answer_key_aliases(names)
        rules.append(
            AnswerKeyRule(notebook, answer, tuple(names), tuple(aliases), tuple(tests[answer]))
        )
    return rules


def answer_key_uses(nb, rules: list[AnswerKeyRule]) -> dict[str, list[tuple[str, str]]]:
    """Where the student's code reaches a question's answer key.

    Every code cell is read in order (the instructor's too, for the aliases
    they bind, as ``from crmlib.analytics import assessment`` in a setup cell); only
    the cells the student wrote count. A name reached in a question's answer
    cell counts against that question when its key holds the name (so that a
    later answer may reuse an earlier one), and otherwise against every
    question whose key holds it, as does a name reached in a cell the
    student added.

    Returns
    -------
    dict
        answer grade id -> [(name reached, cell label)], for the questions
        whose answer key is reached.
    """
    forbidden = sorted({name for rule in rules for name in rule.names})
    keys = {rule.answer: set(rule.names) for rule in rules}
    aliases: dict[str, str] = {}
    found: dict[str, list[tuple[str, str]]] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        hits = answer_key_references(cell.source, forbidden, aliases)
        if not _is_student_code(cell):
            continue
        answer = cell.metadata.get("nbgrader", {}).get("grade_id")
        for name in hits:
            if name in keys.get(answer, ()):
                charged = [answer]
            else:
                charged = [other for other, names in keys.items() if name in names]
            for other in charged:
                found.setdefault(other, []).append((name, cell_label(cell, index)))
    return {rule.answer: found[rule.answer] for rule in rules if rule.answer in found}
