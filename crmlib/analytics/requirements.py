"""What a lesson section needs from the client data, and what could not be assessed.

Only ``transactions`` is required by the data contract (:mod:`crmlib.data.schema`);
every other table and column is optional. A lesson section declares what it
needs with a :class:`Need` and asks a :class:`Sections` whether the client's
data hold it::

    sections = requirements.Sections("qci", data)
    ...
    if sections.check("Cost per acquisition", Need(columns={"campaigns": [s.COST, s.START_DATE]})):
        display(acquisition.cost_per_acquisition(...))

When the data hold it, :meth:`Sections.check` returns True and prints
nothing. When they do not, it prints one sentence naming the section and the
missing piece ("Not assessed: cost per acquisition, for lack of the cost
column of the campaigns table."), records the skip, and
returns False: the section steps aside and the lesson goes on. Absent is
said, not zero: a section that steps aside computes no figure, and the
lesson's headline results hold None for it.

The lesson hands the record to the report with its results
(``results.record(lesson, {..., "not_assessed": sections.not_assessed})``, :mod:`crmlib.results`);
the report's summary page and ``manifest.json`` list, per lesson, what
could not be assessed and why.

A piece counts as present when its table has at least one valid row and the
column at least one value: a column that is in the file but empty in every
row is as absent as one that is not in the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from crmlib.analytics import assessment, readable
from crmlib.data import schema as s
from crmlib.errors import CRMError

#: The reserved key of a lesson's results that holds its :attr:`Sections.not_assessed`.
NOT_ASSESSED = "not_assessed"
SECTION, MISSING, REASON = "section", "missing", "reason"


def _tuple(values) -> tuple[str, ...]:
    return (values,) if isinstance(values, str) else tuple(values)


@dataclass(frozen=True)
class Need:
    """What one section needs from the client data.

    Parameters
    ----------
    tables : sequence of str
        Tables that must hold at least one valid row. Tables named in
        ``columns``, ``any_columns`` or ``min_rows`` are needed too.
    columns : mapping of str to sequence of str
        By table: columns that must each hold at least one value.
    any_columns : mapping of str to sequence of str
        By table: at least one of these columns must hold a value (e.g. the
        name, e-mail or phone that duplicate detection compares).
    min_rows : mapping of str to int
        By table: the fewest valid rows the section can work with.
    assessment : str, optional
        A question bank (``"qci"``, ``"value_chain"``, …) whose answer file
        (``assessment_<bank>.csv``) the section scores; the file must hold a
        column for each dimension the bank scores (e.g. intention, reality).
    """

    tables: Sequence[str] = ()
    columns: Mapping[str, Sequence[str]] = field(default_factory=dict)
    any_columns: Mapping[str, Sequence[str]] = field(default_factory=dict)
    min_rows: Mapping[str, int] = field(default_factory=dict)
    assessment: str | None = None

    def __post_init__(self):
        known = set(s.TABLES)
        named = (
            set(_tuple(self.tables))
            | set(self.columns)
            | set(self.any_columns)
            | set(self.min_rows)
        )
        unknown = sorted(named - known)
        if unknown:
            raise CRMError(f"Need: unknown table(s) {', '.join(unknown)}")
        for table, cols in [*self.columns.items(), *self.any_columns.items()]:
            bad = [c for c in _tuple(cols) if c not in s.TABLES[table].names]
            if bad:
                raise CRMError(f"Need: {', '.join(bad)} is not a column of {table}")

    @property
    def all_tables(self) -> tuple[str, ...]:
        """Every table the need names, in the order first named."""
        out: list[str] = []
        for t in [*_tuple(self.tables), *self.columns, *self.any_columns, *self.min_rows]:
            if t not in out:
                out.append(t)
        return tuple(out)


def _list(words: Sequence[str], joint: str = "and") -> str:
    words = list(words)
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} {joint} {words[-1]}"


def _has_values(frame, column: str) -> bool:
    return column in frame.columns and bool(frame[column].notna().any())


def _bank_title(bank: str) -> str:
    """A question bank by its title ("QCi ..."), or its key in words when it has none."""
    try:
        return assessment.load_bank(bank).title or readable.name(bank)
    except CRMError:
        return readable.name(bank)


def missing_pieces(data, need: Need, answer_files: Mapping | None = None) -> list[tuple]:
    """What the data lack of a need, as ``(pieces, words)`` pairs.

    Parameters
    ----------
    data : crmlib.data.io.ClientData
    need : Need
    answer_files : mapping, optional
        Answer files by bank that override ``data.assessment_files`` (a
        lesson's ``assessment_file`` parameter).

    Returns
    -------
    list of (list of str, str)
        Per missing piece: its names (``"campaigns"`` for a table,
        ``"campaigns.cost"`` for a column) and the words that name it in a
        sentence. Empty when the data hold everything. A table that is absent
        is named once, not with each of its columns.
    """
    out: list[tuple[list[str], str]] = []
    absent = [t for t in need.all_tables if not data.has(t)]
    for table in absent:
        out.append(([table], f"the {readable.name(table)} table"))
    for table, cols in need.columns.items():
        if table in absent:
            continue
        frame = data.tables[table]
        lacking = [c for c in _tuple(cols) if not _has_values(frame, c)]
        if lacking:
            noun = "column" if len(lacking) == 1 else "columns"
            out.append(
                (
                    [f"{table}.{c}" for c in lacking],
                    f"the {_list([readable.name(c) for c in lacking])} {noun} of the "
                    f"{readable.name(table)} table",
                )
            )
    for table, cols in need.any_columns.items():
        if table in absent:
            continue
        frame = data.tables[table]
        cols = _tuple(cols)
        if not any(_has_values(frame, c) for c in cols):
            out.append(
                (
                    [f"{table}.{c}" for c in cols],
                    f"the {_list([readable.name(c) for c in cols], 'or')} column of the "
                    f"{readable.name(table)} table",
                )
            )
    for table, rows in need.min_rows.items():
        if table in absent:
            continue
        have = len(data.tables[table])
        if have < rows:
            out.append(
                (
                    [table],
                    f"enough rows in the {readable.name(table)} table ({rows:,} needed, {have:,} held)",
                )
            )
    if need.assessment is not None:
        files = dict(getattr(data, "assessment_files", {}) or {})
        files.update({k: v for k, v in (answer_files or {}).items() if v})
        name = f"{s.ASSESSMENT_PREFIX}{need.assessment}.csv"
        path = files.get(need.assessment)
        if not path:
            out.append(
                (
                    ["assessment", name],
                    f"the answers to the questionnaire “{_bank_title(need.assessment)}” ({name})",
                )
            )
        else:
            header = assessment.answer_columns(path)
            dims = assessment.load_bank(need.assessment).dimensions
            lacking = [d for d in dims if d not in header]
            if lacking:
                noun = "column" if len(lacking) == 1 else "columns"
                out.append(
                    (
                        [f"assessment.{d}" for d in lacking],
                        f"the {_list(lacking)} {noun} of the answer file {Path(path).name}",
                    )
                )
    return out


def sentence(section: str, missing: list[tuple]) -> str:
    """The one sentence that says a section is not assessed and why.

    E.g. "Not assessed: cost per acquisition, for lack of the cost column of
    the campaigns table."
    """
    return f"Not assessed: {section}, for lack of {_list([w for _, w in missing])}."


class Sections:
    """The sections of one lesson that step aside when the data lack what they need.

    Parameters
    ----------
    lesson : str
        The lesson's name without its number, e.g. ``"qci"``.
    data : crmlib.data.io.ClientData
        The loaded client folder.
    answer_files : mapping of str to path, optional
        Answer files by question bank given as lesson parameters; they
        count as present even when the folder holds none.
    say : callable, default print
        Where the one sentence goes (a notebook cell's output).

    Attributes
    ----------
    not_assessed : list of dict
        One entry per section that stepped aside, in order: ``section``,
        ``missing`` (the pieces, ``table`` or ``table.column``) and
        ``reason`` (the sentence printed). A section checked twice is
        listed once.
    """

    def __init__(self, lesson: str, data, answer_files: Mapping | None = None, say=print):
        self.lesson = lesson
        self.data = data
        self.answer_files = dict(answer_files or {})
        self.say = say
        self.not_assessed: list[dict] = []

    def check(self, section: str, need: Need) -> bool:
        """True when the data hold what ``section`` needs; otherwise say so, record it, False.

        Parameters
        ----------
        section : str
            What the section computes, as the client reads it (e.g. "cost per
            acquisition").
        need : Need
            What it needs.

        Returns
        -------
        bool
        """
        missing = missing_pieces(self.data, need, self.answer_files)
        if not missing:
            return True
        pieces = [p for names, _ in missing for p in names]
        self._record(section, pieces, sentence(section, missing))
        return False

    def check_any(self, section: str, *needs: Need) -> bool:
        """True when the data hold at least one of ``needs`` (alternative sources).

        Otherwise say so in one sentence naming every alternative, record
        it, and return False. E.g. a profit needs product costs *or* cost
        rates.
        """
        if not needs:
            raise CRMError("check_any needs at least one Need")
        missing = [missing_pieces(self.data, n, self.answer_files) for n in needs]
        if any(not m for m in missing):
            return True
        pieces = [p for m in missing for names, _ in m for p in names]
        options = [_list([w for _, w in m]) for m in missing]
        reason = f"Not assessed: {section}, for lack of {_list(options, 'or')}."
        self._record(section, pieces, reason)
        return False

    def skip(self, section: str, missing: Sequence[str], reason: str) -> bool:
        """Record a section that steps aside for a reason a :class:`Need` cannot state.

        For what only the data's values show (e.g. interactions that hold no
        campaign contacts). Prints ``reason``, records it, returns False.

        Parameters
        ----------
        section : str
        missing : sequence of str
            The pieces lacking (``table`` or ``table.column``).
        reason : str
            One sentence, e.g. "Not assessed: campaign lift, for lack of
            campaign contacts in the interactions table."
        """
        self._record(section, list(_tuple(missing)), reason)
        return False

    def _record(self, section: str, pieces: list[str], reason: str) -> None:
        self.say(reason)
        entry = {SECTION: section, MISSING: pieces, REASON: reason}
        if entry not in self.not_assessed:
            self.not_assessed.append(entry)

    def __bool__(self) -> bool:  # an instance is always truthy, whatever it recorded
        return True
