"""What a lesson hands the report: its results file, and reading them back.

A lesson hands its headline results to the report with :func:`record`
(``<lesson>.results.json`` in the report's work folder), never by scraping
outputs. The file is one JSON object:

- headline figures, ``"key": value``, each key declared in the metric
  catalogue (:mod:`crmlib.analytics.metrics`: label, unit, definition,
  source), where a value is a number, a string, ``null``, or a list or object
  of those (no personal data);
- optional ``"finding"``: the model's main finding in one sentence;
- optional ``"recommendations"``: a list of
  ``{"text": "…", "value_at_stake": number or null}``, where the value at
  stake is what acting on it is worth, in the data's currency; a valued
  recommendation is built with :func:`crmlib.analytics.stakes.recommendation`
  (one basis: incremental expected margin over a stated horizon, discounted)
  and also carries ``kind``, ``customers``, ``horizon_months``,
  ``confidence`` and ``evidence``; one without a value may say why in words in
  ``"not_valued"`` (e.g. "no cost data"; the summary says so); its values per customer go to the sidecar
  ``<lesson>.stakes.csv`` (recommendation number, the customer's keyed pseudonym
  of :func:`crmlib.data.privacy.pseudonymise`, value: no id, name or contact
  detail), never into the JSON or the manifest;
- optional ``"not_assessed"``: the sections that stepped aside because the
  data lack what they need, a list of ``{"section": "…", "missing": ["table"
  or "table.column", …], "reason": "one sentence"}``
  (:attr:`crmlib.analytics.requirements.Sections.not_assessed`). A headline
  figure of such a section is ``null``, never 0;
- in a report at scale, ``"sample"``: the lesson's rows are those of a sample
  of customers (:func:`on_a_sample`): ``customers``, ``sampled``, ``seed``,
  ``sentence`` and ``every_customer``, the keys of the figures it computed on
  every customer nonetheless. The summary quotes no other figure of such a
  lesson as the client's, and values none of its recommendations
  (:func:`sampled_figure`) except those marked ``"every_customer": true``
  (:func:`valued_on_sample`).

The summary lesson reads every results file with :func:`load` and the
parameters each lesson ran with (:func:`lesson_parameters`); its page
(:mod:`crmlib.report.summary`) ranks the recommendations with
:func:`recommendations` and names failed sections with :func:`failed_sections`.
The tables here also say which lessons ran (:func:`status_table`,
:func:`status_html`), list every figure (label and value formatted from the
unit, :func:`headline_figures`) and what could not be assessed
(:func:`not_assessed`).

``crm report`` (:mod:`crmlib.report`) sets the folder (the environment
variable :data:`RESULTS_ENV` in each lesson's kernel), writes the status of
every lesson to :data:`SECTIONS_FILE` for the summary, and lists each
lesson's ``not_assessed`` in ``manifest.json``.
"""

from __future__ import annotations

import ast
import html
import json
import math
import os
import time
from pathlib import Path

import pandas as pd

from crmlib.analytics import metrics, stakes
from crmlib.data.privacy import pseudonymise
from crmlib.errors import CRMError

RESULTS_ENV = "CRM_RESULTS_DIR"  # the folder a lesson writes its results file to
RESULTS_SUFFIX = ".results.json"
STAKES_SUFFIX = ".stakes.csv"  # per-customer values of the recommendations (keyed pseudonyms)
CHART_SUFFIX = ".chart.png"  # the lesson's key chart, shown with its finding in the summary
CHART_TEXT_SUFFIX = ".chart.json"  # that chart's caption and image description
SECTIONS_FILE = "sections.json"  # the status of every lesson, written by crm report
PENDING_FILE = "sections.pending"  # while it exists, the other lessons are still running
SUMMARY = "client_summary"  # the summary lesson, which reads the others' results

FINDING = "finding"
RECOMMENDATIONS = "recommendations"
NOT_ASSESSED = "not_assessed"  # = crmlib.analytics.requirements.NOT_ASSESSED
#: A report at scale: the sample of customers the lesson's rows come from (:func:`on_a_sample`).
SAMPLE = "sample"
#: In a recommendation of a lesson at scale: True when it was valued on every customer.
EVERY_CUSTOMER = "every_customer"
#: Keys of a results file that are not headline figures (and not in the catalogue).
RESERVED = (FINDING, RECOMMENDATIONS, NOT_ASSESSED, SAMPLE)

# columns of the tables below
LESSON = "lesson"
RECOMMENDATION = "recommendation"
VALUE_AT_STAKE = "value_at_stake"
MEASURE = "measure"  # the metric key
LABEL, UNIT, VALUE, DEFINITION = metrics.LABEL, metrics.UNIT, metrics.VALUE, metrics.DEFINITION
SECTION, MISSING, REASON = "section", "missing", "reason"
TITLE, STATUS, PAGE = "title", "status", "html"  # PAGE: the section's page in the report
FAILED = "failed"  # the status of a lesson that stopped with an error
UNKNOWN = "unknown"  # shown for a lesson whose run did not say its status


# --- writing ---------------------------------------------------------------------------


def record(lesson: str, figures: dict) -> None:
    """Hand a lesson's headline results to the report.

    Writes ``<lesson>.results.json`` into the folder named by the environment
    variable ``CRM_RESULTS_DIR`` (set by ``crm report`` in the kernel); only
    checks them when a student runs the lesson by hand. See the module
    docstring for the format.

    Parameters
    ----------
    lesson : str
        The lesson's name without its number, e.g. ``"idic"``.
    figures : dict
        Headline figures by metric key (each declared in
        :data:`crmlib.analytics.metrics.CATALOGUE`; JSON-ready: numbers,
        strings, None, lists, dicts; numpy and pandas scalars are converted),
        plus the optional ``finding`` (str), ``recommendations`` (list of
        dicts with ``text`` and ``value_at_stake``) and ``not_assessed``
        (list of dicts with ``section``, ``missing`` and ``reason``). No
        personal data.

    Returns
    -------
    None
        Nothing, so that a lesson ending with this call shows no output.

    Raises
    ------
    crmlib.errors.CRMError
        A key not in the metric catalogue (the message names it and where to
        declare it), or ``finding``, ``recommendations`` or ``not_assessed``
        not in the documented form.
    """
    _check(lesson, figures)
    folder = os.environ.get(RESULTS_ENV)
    if not folder:
        return
    figures, per_customer = _split_stakes(figures)
    if per_customer is not None:
        side = Path(folder) / f"{lesson}{STAKES_SUFFIX}"
        tmp = side.with_suffix(".tmp")
        per_customer.to_csv(tmp, index=False)
        os.replace(tmp, side)
    path = Path(folder) / f"{lesson}{RESULTS_SUFFIX}"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(figures, indent=2, default=jsonable), encoding="utf-8")
    os.replace(tmp, path)


def on_a_sample(sample, every_customer=()) -> dict:
    """The results entry saying that a lesson's rows are a sample of the customers.

    Parameters
    ----------
    sample : crmlib.data.rowsample.CustomerSample or None
        How the sample was drawn (``pipeline.read_per_customer(aggregates_dir).sample``
        in a lesson at scale); None when the lesson has every row.
    every_customer : iterable of str
        Keys of the figures the lesson computed on every customer (from the per-customer
        tables), which the summary may quote.

    Returns
    -------
    dict
        ``{"sample": {...}}`` to merge into the figures given to :func:`record`; ``{}``
        when ``sample`` is None or holds every customer.
    """
    if sample is None or not sample.partial:
        return {}
    return {
        SAMPLE: {
            "customers": int(sample.customers),
            "sampled": int(sample.sampled),
            "seed": int(sample.seed),
            "sentence": sample.sentence(),
            "unit": sample.unit,
            "every_customer": list(every_customer),
        }
    }


def sampled_figure(recorded: dict, key: str) -> bool:
    """True when ``key`` of a lesson's results was computed on a sample of the customers only.

    ``recorded`` is the lesson's results (what :func:`record` was given); a key listed in its
    sample's ``every_customer`` was computed on every customer.
    """
    sample = recorded.get(SAMPLE)
    return isinstance(sample, dict) and key not in sample.get("every_customer", ())


def valued_on_sample(recorded: dict, rec: dict) -> bool:
    """True when a recommendation of a lesson at scale was valued on its sample only.

    ``recorded`` is the lesson's results, ``rec`` one of its recommendations; a
    recommendation valued on every customer says so with ``"every_customer": True``.
    """
    return sampled_figure(recorded, VALUE_AT_STAKE) and not rec.get(EVERY_CUSTOMER)


def sample_words(recorded: dict) -> str:
    """"a sample of n of N customer ids" (or persons) for a lesson at scale (its results), else ""."""
    sample = recorded.get(SAMPLE)
    if not isinstance(sample, dict):
        return ""
    return f"a sample of {sample['sampled']:,} of {sample['customers']:,} {sample['unit']}"


def record_chart(lesson: str, figure, caption: str, alt: str) -> None:
    """Hand a lesson's key chart to the report's executive summary.

    Writes ``<lesson>.chart.png`` (the figure at 100 dpi) and
    ``<lesson>.chart.json`` (caption and image description) into the folder
    named by ``CRM_RESULTS_DIR``; run by hand (no folder), only checks the text.

    Parameters
    ----------
    lesson : str
        The lesson's name without its number, e.g. ``"idic"``.
    figure : matplotlib.figure.Figure
        The chart as drawn in the lesson (``ax.figure``).
    caption : str
        One sentence saying what to look at, in the client's words.
    alt : str
        An image description for a reader who cannot see the chart.

    Raises
    ------
    crmlib.errors.CRMError
        An empty caption or description.
    """
    if not str(caption).strip() or not str(alt).strip():
        raise CRMError(f"{lesson}: a key chart needs a caption and an image description")
    folder = os.environ.get(RESULTS_ENV)
    if not folder:
        return
    png = Path(folder) / f"{lesson}{CHART_SUFFIX}"
    tmp = png.with_name(png.name + ".tmp")
    figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")  # labels kept whole
    os.replace(tmp, png)
    text = Path(folder) / f"{lesson}{CHART_TEXT_SUFFIX}"
    text.write_text(json.dumps({"caption": caption, "alt": alt}), encoding="utf-8")


def _split_stakes(figures: dict) -> tuple[dict, pd.DataFrame | None]:
    """The figures without the recommendations' per-customer values, and those values."""
    recs = figures.get(RECOMMENDATIONS)
    if not recs or not any(stakes.PER_CUSTOMER in r for r in recs):
        return figures, None
    parts, clean = [], []
    for number, rec in enumerate(recs, start=1):
        rec = dict(rec)
        values = rec.pop(stakes.PER_CUSTOMER, None)
        if values is not None and len(values):
            parts.append(
                pd.DataFrame(
                    {
                        stakes.REC_ID: number,
                        # keyed pseudonyms: the file travels with the report, which names no
                        # customer; overlaps are found on pseudonyms just as on ids
                        stakes.CUSTOMER_ID: pseudonymise(values.index.astype(str)).to_numpy(),
                        stakes.VALUE: values.to_numpy(dtype=float),
                    }
                )
            )
        clean.append(rec)
    columns = [stakes.REC_ID, stakes.CUSTOMER_ID, stakes.VALUE]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    return {**figures, RECOMMENDATIONS: clean}, table


def _check(lesson: str, figures: dict) -> None:
    if not isinstance(figures, dict):
        raise CRMError(f"{lesson}: results must be a dict, not {type(figures).__name__}")
    for key in figures:
        if key not in RESERVED and key not in metrics.CATALOGUE:
            raise CRMError(
                f"{lesson}: {key!r} is not a declared metric: declare it (label, unit, "
                "definition, source) in CATALOGUE in crmlib/analytics/metrics.py, or use a "
                f"declared key; reserved keys: {', '.join(RESERVED)}"
            )
    sample = figures.get(SAMPLE)
    if sample is not None and not (
        isinstance(sample, dict)
        and all(isinstance(sample.get(k), int) for k in ("customers", "sampled", "seed"))
        and isinstance(sample.get("every_customer"), list)
    ):
        raise CRMError(f"{lesson}: '{SAMPLE}' is what results.on_a_sample returns")
    finding = figures.get(FINDING)
    if finding is not None and not isinstance(finding, str):
        raise CRMError(f"{lesson}: '{FINDING}' must be one sentence (a str)")
    skipped = figures.get(NOT_ASSESSED)
    if skipped is not None:
        if not isinstance(skipped, list):
            raise CRMError(f"{lesson}: '{NOT_ASSESSED}' must be a list of dicts")
        for i, entry in enumerate(skipped):
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get(SECTION), str)
                or not isinstance(entry.get(REASON), str)
                or not isinstance(entry.get(MISSING), list)
            ):
                raise CRMError(
                    f"{lesson}: '{NOT_ASSESSED}' entry {i + 1} needs a 'section' (str), "
                    "'missing' (list) and 'reason' (str)"
                )
    recs = figures.get(RECOMMENDATIONS)
    if recs is None:
        return
    if not isinstance(recs, list):
        raise CRMError(f"{lesson}: '{RECOMMENDATIONS}' must be a list of dicts")
    for i, rec in enumerate(recs):
        if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
            raise CRMError(f"{lesson}: recommendation {i + 1} needs a 'text' (str)")
        value = rec.get(VALUE_AT_STAKE)
        if value is not None and not stakes.is_value(value):
            raise CRMError(
                f"{lesson}: recommendation {i + 1}: '{VALUE_AT_STAKE}' must be a number or None"
            )
        note = rec.get("not_valued")
        if note is not None and not (isinstance(note, str) and note.strip()):
            raise CRMError(
                f"{lesson}: recommendation {i + 1}: 'not_valued' says why in words (a str)"
            )
        if not isinstance(rec.get(EVERY_CUSTOMER, False), bool):
            raise CRMError(f"{lesson}: recommendation {i + 1}: '{EVERY_CUSTOMER}' is True or False")
        kind = rec.get(stakes.KIND)
        if kind is not None and kind not in stakes.KINDS:
            raise CRMError(
                f"{lesson}: recommendation {i + 1}: kind must be one of {', '.join(stakes.KINDS)}"
            )
        values = rec.get(stakes.PER_CUSTOMER)
        if values is not None and not isinstance(values, pd.Series):
            raise CRMError(
                f"{lesson}: recommendation {i + 1}: '{stakes.PER_CUSTOMER}' must be a Series "
                "of values by customer id (crmlib.analytics.stakes.recommendation)"
            )


def jsonable(value):
    """JSON for numpy / pandas scalars, dates and paths (``json.dumps(default=…)``)."""
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Path):
        return value.name
    return str(value)


# --- reading -----------------------------------------------------------------------------


def load(folder=None) -> dict[str, dict]:
    """The results of the lessons of a report run, for the summary lesson.

    ``crm report`` starts the summary while the last lessons still run, so
    that its imports and data loading overlap them: while the folder holds
    ``sections.pending``, this waits until ``sections.json`` (the status of
    every lesson) is written.

    Parameters
    ----------
    folder : str or Path, optional
        The report's work folder; default the ``CRM_RESULTS_DIR`` environment
        variable. None and no variable (a lesson run by hand): ``{}``.

    Returns
    -------
    dict of str to dict
        By lesson name, in lesson order: ``status`` ("complete", "failed",
        "skipped", or None when the run did not say), ``reason``, ``title``,
        ``html`` (the section's page, "" when none), ``results`` (the
        lesson's results file, ``{}`` when it wrote none) and ``stakes`` (its
        recommendations' values per customer, :data:`STAKES_SUFFIX`; None when
        it wrote none) and ``chart`` (its key chart, :func:`record_chart`:
        ``png`` bytes, ``caption`` and ``alt``; None when it drew none). The
        summary lesson itself is left out.

    Raises
    ------
    crmlib.errors.CRMError
        A results or sections file that is not valid JSON.
    """
    folder = folder or os.environ.get(RESULTS_ENV)
    if not folder:
        return {}
    folder = Path(folder)
    if not folder.is_dir():
        raise CRMError(f"results folder {folder.name!r} does not exist")
    out: dict[str, dict] = {}
    sections = folder / SECTIONS_FILE
    while (folder / PENDING_FILE).exists() and not sections.exists():
        time.sleep(0.1)
    if sections.exists():
        for entry in _read_json(sections):
            if entry[LESSON] != SUMMARY:
                out[entry[LESSON]] = {
                    "status": entry.get("status"),
                    "reason": entry.get("reason", ""),
                    "title": entry.get("title", entry[LESSON]),
                    "html": entry.get("html", ""),
                    "results": {},
                }
    for path in sorted(folder.glob(f"*{RESULTS_SUFFIX}")):
        name = path.name[: -len(RESULTS_SUFFIX)]
        if name == SUMMARY:
            continue
        entry = out.setdefault(
            name, {"status": None, "reason": "", "title": name, "html": "", "results": {}}
        )
        entry["results"] = _read_json(path)
        side = folder / f"{name}{STAKES_SUFFIX}"
        entry["stakes"] = (
            pd.read_csv(side, dtype={stakes.CUSTOMER_ID: str}) if side.exists() else None
        )
    for entry in out.values():
        entry.setdefault("chart", None)
    for png in sorted(folder.glob(f"*{CHART_SUFFIX}")):
        name = png.name[: -len(CHART_SUFFIX)]
        text = folder / f"{name}{CHART_TEXT_SUFFIX}"
        if name in out and text.exists():
            out[name]["chart"] = {"png": png.read_bytes(), **_read_json(text)}
    return out


def lesson_parameters(folder=None) -> dict[str, dict]:
    """The parameters each lesson of a report run ran with, from its executed notebook.

    ``crm report`` writes every executed lesson (``NN_<lesson>.ipynb``) into the work
    folder before the summary reads the results; its ``parameters`` cell holds the
    defaults and papermill's ``injected-parameters`` cell what the run set. Only plain
    literal assignments are read (numbers, strings, None, lists, dicts), the injected ones
    over the defaults; the summary states the assumptions the sections made (horizon,
    discount rate, lapse rule) from them.

    Parameters
    ----------
    folder : str or Path, optional
        The report's work folder; default the ``CRM_RESULTS_DIR`` environment variable.

    Returns
    -------
    dict of str to dict
        Parameters by name, by lesson name (the summary left out); ``{}`` run by hand.
    """
    folder = folder or os.environ.get(RESULTS_ENV)
    if not folder or not Path(folder).is_dir():
        return {}
    out = {}
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        lesson = path.stem.split("_", 1)[1]
        if lesson == SUMMARY:
            continue
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, json.JSONDecodeError):
            continue
        values: dict = {}
        for tag in ("parameters", "injected-parameters"):
            for cell in cells:
                if cell.get("cell_type") == "code" and tag in cell.get("metadata", {}).get(
                    "tags", []
                ):
                    source = cell.get("source", "")
                    values.update(
                        _literals("".join(source) if isinstance(source, list) else source)
                    )
        out[lesson] = values
    return out


def _literals(source: str) -> dict:
    """``name = literal`` assignments of a cell's code (anything else is passed over)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    out[target.id] = ast.literal_eval(node.value)
                except (ValueError, SyntaxError, TypeError):
                    pass
    return out


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CRMError(f"{path.name}: not a readable results file ({exc})") from None


def recommendations(by_lesson: dict[str, dict]) -> pd.DataFrame:
    """Every lesson's recommendations, overlapping ones merged, ranked by value at stake.

    Recommendations of the same kind (retention, growth, cost) that cover
    some of the same customers are one row
    (:func:`crmlib.analytics.stakes.merge_overlapping`): its value counts each
    customer once, at the largest value any of them gives, so no two rows
    count the same customers' same value.

    Parameters
    ----------
    by_lesson : dict
        What :func:`load` returns.

    Returns
    -------
    pandas.DataFrame
        Columns ``lesson`` (of the highest-valued member of a merged row),
        ``recommendation``, ``value_at_stake`` (float, NaN when the lesson
        gave none), ``kind``, ``customers``, ``horizon_months``,
        ``confidence``, ``evidence`` and ``merged`` (recommendations in the
        row); highest value first, recommendations without a value last, in
        lesson order.
    """
    rows, sides = [], []
    for lesson, entry in by_lesson.items():
        side = entry.get("stakes")
        recorded = entry.get("results", {})
        ours = {}  # the lesson's recommendation number -> its row here, when valued per customer
        for number, rec in enumerate(recorded.get(RECOMMENDATIONS) or [], start=1):
            on_sample = valued_on_sample(recorded, rec)  # valued on some customers only
            value = None if on_sample else rec.get(VALUE_AT_STAKE)
            rid = len(rows)
            rows.append(
                {
                    "_id": rid,
                    LESSON: lesson,
                    RECOMMENDATION: rec["text"],
                    VALUE_AT_STAKE: float(value) if stakes.is_value(value) else math.nan,
                    stakes.KIND: rec.get(stakes.KIND),
                    stakes.CUSTOMERS: rec.get(stakes.CUSTOMERS),
                    stakes.HORIZON_MONTHS: rec.get(stakes.HORIZON_MONTHS),
                    stakes.CONFIDENCE: rec.get(stakes.CONFIDENCE),
                    stakes.EVIDENCE: rec.get(stakes.EVIDENCE),
                }
            )
            if side is not None and len(side) and not on_sample:
                ours[number] = rid
        if ours:  # one selection per lesson: at scale a side holds millions of customers
            mine = side.loc[side[stakes.REC_ID].isin(list(ours))]
            sides.append(mine.assign(**{stakes.REC_ID: mine[stakes.REC_ID].map(ours)}))
    columns = [
        LESSON,
        RECOMMENDATION,
        VALUE_AT_STAKE,
        stakes.KIND,
        stakes.CUSTOMERS,
        stakes.HORIZON_MONTHS,
        stakes.CONFIDENCE,
        stakes.EVIDENCE,
    ]
    table = pd.DataFrame(rows, columns=["_id", *columns]).set_index("_id")
    table = table.rename(columns={RECOMMENDATION: stakes.TEXT})
    per_customer = pd.concat(sides, ignore_index=True) if sides else None
    table = stakes.merge_overlapping(table, per_customer).rename(
        columns={stakes.TEXT: RECOMMENDATION}
    )
    table[VALUE_AT_STAKE] = table[VALUE_AT_STAKE].astype(float)
    return (
        table[[*columns, "merged"]]
        .sort_values(VALUE_AT_STAKE, ascending=False, kind="stable", na_position="last")
        .reset_index(drop=True)
    )


def is_figure(key: str, value) -> bool:
    """A scalar headline figure to show: a number or string, not reserved, not absent."""
    return (
        key not in RESERVED
        and isinstance(value, (int, float, str))
        and not isinstance(value, bool)
        and not metrics.is_absent(value)
    )


def headline_figures(by_lesson: dict[str, dict], currency: str = "") -> pd.DataFrame:
    """The scalar headline figures of every lesson, one row each, as a client reads them.

    Numbers and strings only: lists, dicts, absent values (None, NaN) and
    the reserved ``finding``, ``recommendations`` and ``not_assessed`` are
    left out.

    Parameters
    ----------
    by_lesson : dict
        What :func:`load` returns.
    currency : str, default ""
        Symbol for currency values (:func:`crmlib.analytics.metrics.format_value`).

    Returns
    -------
    pandas.DataFrame
        Columns ``lesson``, ``measure`` (the metric key), ``label``, ``unit``,
        ``value`` (formatted from the unit, a str) and ``definition``, in
        lesson order.

    Raises
    ------
    crmlib.errors.CRMError
        A results file with a key that is not in the metric catalogue.
    """
    rows = []
    for lesson, entry in by_lesson.items():
        for key, value in entry.get("results", {}).items():
            if not is_figure(key, value):
                continue
            metric = metrics.get(key)
            rows.append(
                {
                    LESSON: lesson,
                    MEASURE: key,
                    LABEL: metric.label,
                    UNIT: metric.unit,
                    VALUE: metrics.format_value(metric, value, currency),
                    DEFINITION: metric.definition,
                }
            )
    return pd.DataFrame(rows, columns=[LESSON, MEASURE, LABEL, UNIT, VALUE, DEFINITION])


def not_assessed(by_lesson: dict[str, dict]) -> pd.DataFrame:
    """What each lesson could not assess, and why, one row per section.

    Parameters
    ----------
    by_lesson : dict
        What :func:`load` returns.

    Returns
    -------
    pandas.DataFrame
        Columns ``lesson``, ``section``, ``missing`` (the pieces, e.g.
        ``campaigns.cost``, joined by ", ") and ``reason`` (one sentence), in
        lesson order.
    """
    rows = [
        {
            LESSON: lesson,
            SECTION: entry[SECTION],
            MISSING: ", ".join(entry[MISSING]),
            REASON: entry[REASON],
        }
        for lesson, lesson_results in by_lesson.items()
        for entry in lesson_results.get("results", {}).get(NOT_ASSESSED) or []
    ]
    return pd.DataFrame(rows, columns=[LESSON, SECTION, MISSING, REASON])


def status_table(by_lesson: dict[str, dict]) -> pd.DataFrame:
    """The status of every lesson of a report run, one row each, in lesson order.

    Parameters
    ----------
    by_lesson : dict
        What :func:`load` returns.

    Returns
    -------
    pandas.DataFrame
        Columns ``lesson``, ``title`` (the lesson's name when it has none), ``status``
        ("complete", "failed", "skipped"; "unknown" when the run did not say), ``reason``
        (the cell and error of a failed lesson, "" when none) and ``html`` (the section's
        page, "" when none).
    """
    rows = [
        {
            LESSON: lesson,
            TITLE: entry.get(TITLE) or lesson,
            STATUS: entry.get(STATUS) or UNKNOWN,
            REASON: entry.get(REASON) or "",
            PAGE: entry.get(PAGE) or "",
        }
        for lesson, entry in by_lesson.items()
    ]
    return pd.DataFrame(rows, columns=[LESSON, TITLE, STATUS, REASON, PAGE])


def failed_sections(by_lesson: dict[str, dict]) -> list[str]:
    """The lessons that failed, in lesson order: a report with any is incomplete."""
    return [lesson for lesson, entry in by_lesson.items() if entry.get(STATUS) == FAILED]


def section_link(lesson: str, entry: dict) -> str:
    """HTML naming a lesson: a link to its page when it has one (inside the report).

    ``entry`` is one value of what :func:`load` returns; the title (else the lesson's name)
    and the page are escaped.
    """
    title = html.escape(entry.get(TITLE) or lesson)
    page = entry.get(PAGE)
    return f'<a href="{html.escape(page)}">{title}</a>' if page else title


def status_html(by_lesson: dict[str, dict]) -> str:
    """The summary's status table as HTML: section (linked), status, notes.

    One row per lesson (:func:`status_table`, the section linked by :func:`section_link`),
    then a last row for the summary page itself (``index.html``).
    """
    rows = [
        f"<tr><td>{section_link(lesson, entry)}</td><td>{html.escape(row[STATUS])}</td>"
        f"<td>{html.escape(row[REASON])}</td></tr>"
        for (lesson, entry), (_, row) in zip(
            by_lesson.items(), status_table(by_lesson).iterrows(), strict=True
        )
    ]
    rows.append(
        '<tr><td><a href="index.html">Client summary</a></td><td>this page</td><td></td></tr>'
    )
    header = "<tr><th>section</th><th>status</th><th>notes</th></tr>"
    return f"<table>{header}{''.join(rows)}</table>"
