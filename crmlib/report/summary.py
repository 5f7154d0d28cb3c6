"""The executive summary a client reads in five minutes: its figures, recommendations and HTML.

The summary lesson (``notebooks/05_client_summary.ipynb``, the report's ``index.html``) and
the plain index that stands in for it (:mod:`crmlib.report.index`) build the same page
from what the sections handed the report (:func:`crmlib.results.load`):

- a title block: client, as-of date, the period of the data, what was assessed
  (:func:`title_block_html`);
- 4-6 headline tiles, each figure as its section recorded it, formatted from the metric
  catalogue with the client's currency, with a one-line meaning (:func:`headline_tiles`,
  :func:`tiles_html`);
- each model's finding in one sentence with its key chart (:func:`findings_html`);
- the ranked recommendations: action, customers, value at stake in the client's currency
  over the stated horizon or why there is none, how sure, where the evidence is
  (:func:`recommendation_list`, :func:`recommendations_html`);
- what could not be assessed and why (:func:`not_assessed_html`).

Every text is whole (wrapped by the browser, never cut), every value formatted from its
unit, and every name a client reads is a label, never a key.
"""

from __future__ import annotations

import base64
import html
import math
import re

import pandas as pd

from crmlib import results
from crmlib.analytics import metrics, readable, stakes

#: The headline tiles of the executive summary, in order: a tile is shown when a section (or the
#: summary itself) recorded the figure; the first recommendation's value at stake comes after.
TILES = (
    "customers",
    "net_revenue",
    "total_clv",
    "top_20pct_revenue_share",
    "overall_reality",
    "churn_rate",
    "repeat_customer_share",
    "total_profit",
)
#: A tile's label qualified by another figure the same section recorded ("over 12 months").
_TILE_HORIZON = {"total_clv": "clv_horizon_months"}
#: A tile's meaning followed by another figure of the same section, as it recorded it.
_TILE_CONTEXT = {"overall_reality": "benchmark_position"}
MEANING, KEY = "meaning", metrics.KEY


def first_figure(by_lesson: dict[str, dict], key: str) -> tuple[str, object] | None:
    """The first section, in lesson order, that recorded ``key``, and its value.

    Sections that recorded the figure as absent (None, NaN), and sections that failed
    (their figures must not be quoted), are passed over: the summary shows a figure as
    the section that measured it shows it.

    Parameters
    ----------
    by_lesson : dict
        What :func:`load` returns.
    key : str
        A metric key.

    Returns
    -------
    tuple of (str, value) or None
        The lesson's name and the value as recorded; None when no section has it.
    """
    for lesson, entry in by_lesson.items():
        if entry.get(results.STATUS) == results.FAILED:  # its figures must not be quoted
            continue
        if results.sampled_figure(entry.get("results", {}), key):  # not the client's figure
            continue
        value = entry.get("results", {}).get(key)
        if results.is_figure(key, value):
            return lesson, value
    return None


def headline_tiles(
    by_lesson: dict[str, dict],
    currency: str = "",
    own: dict | None = None,
    keys: tuple[str, ...] = TILES,
    limit: int = 5,
) -> pd.DataFrame:
    """The executive summary's headline figures: label, value and a one-line meaning each.

    Each figure comes from the first section that recorded it (:func:`first_figure`), so
    that the summary shows the number its section shows; a figure no section recorded comes
    from ``own`` (the summary's own figures from the data, same metric keys). Absent
    figures are left out, and the next key in ``keys`` takes their place.

    Parameters
    ----------
    by_lesson : dict
        What :func:`load` returns (``{}`` when run by hand).
    currency : str, default ""
        The client's currency (:func:`crmlib.analytics.metrics.format_value`).
    own : dict, optional
        Figures by metric key computed by the summary itself.
    keys : tuple of str
        Candidate metric keys, in order of preference.
    limit : int, default 5
        At most this many tiles.

    Returns
    -------
    pandas.DataFrame
        Columns ``key``, ``lesson`` (the section it comes from; ``client_summary`` for
        ``own``), ``label``, ``value`` (formatted from the unit) and ``meaning``
        (:attr:`crmlib.analytics.metrics.Metric.plain`).
    """
    rows = []
    for key in keys:
        if len(rows) >= limit:
            break
        found = first_figure(by_lesson, key)
        if found is None and own is not None and results.is_figure(key, own.get(key)):
            found = results.SUMMARY, own[key]
        if found is None:
            continue
        lesson, value = found
        recorded = by_lesson.get(lesson, {}).get("results", {})
        metric = metrics.get(key)
        label, meaning = metric.label, metric.plain
        horizon = recorded.get(_TILE_HORIZON.get(key, ""))
        if results.is_figure("clv_horizon_months", horizon):
            label = f"{label}, next {metrics.format_value('clv_horizon_months', horizon)}"
        context = recorded.get(_TILE_CONTEXT.get(key, ""))
        if isinstance(context, str) and context.strip():
            meaning = f"{meaning} {_sentence(context)}"
        rows.append(
            {
                KEY: key,
                results.LESSON: lesson,
                results.LABEL: label,
                results.VALUE: metrics.format_value(metric, value, currency),
                MEANING: meaning,
            }
        )
    return pd.DataFrame(rows, columns=[KEY, results.LESSON, results.LABEL, results.VALUE, MEANING])


def _sentence(text: str) -> str:
    """``text`` as a sentence: first letter upper case, a full stop at the end."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


#: Where a recommendation's text turns from the action to how it is valued: a lesson's
#: "…: value = …" clause, or the "…. Value: …" of merged recommendations
#: (:func:`crmlib.analytics.stakes.merge_overlapping`).
_BASIS = re.compile(r"(?:[:;,]\s*value\s*=|\.\s*Value:)\s*")
#: Where the evidence of a recommendation names its section: "IDIC lesson, Differentiate…".
_EVIDENCE = re.compile(r"^\s*(?P<name>[^,;]+?)\s+lesson\s*,\s*(?P<where>.*)$", re.IGNORECASE)
NOT_VALUED = "not_valued"  # optional in a recommendation: why it has no value, in words
#: Why a recommendation has no value, when it does not say.
NOT_VALUED_REASON = "no measure in the data of what it adds in money"
# columns of :func:`recommendation_list`
RANK, ACTION, BASIS, CUSTOMERS, VALUE_TEXT, HOW_SURE, CONFIDENCE, EVIDENCE = (
    "rank",
    "action",
    "basis",
    "customers",
    "value_text",
    "how_sure",
    "confidence",
    "evidence",
)
ACTIONS = "actions"  # the actions of a merged recommendation, one each
MEASURED, ASSUMED, MODELLED = "measured", "assumed", "model estimate"
#: How sure, as a client reads it before the recorded confidence.
SURE_WORDS = {
    MEASURED: "Effect measured.",
    ASSUMED: "Effect assumed.",
    MODELLED: "Model estimate.",
}


def action_and_basis(text: str) -> tuple[str, str]:
    """A recommendation's action and how its value is counted, split at its value clause.

    "Protect the top 20 % (1,001): value = the margin kept over 12 months" gives
    ("Protect the top 20 % (1,001)", "the margin kept over 12 months"); a text without a
    value clause is all action. Nothing is cut: the two parts hold every word of the text.
    """
    parts = _BASIS.split(str(text).strip(), maxsplit=1)
    action = parts[0].strip().rstrip(".;:,")
    basis = parts[1].strip().rstrip(".") if len(parts) > 1 else ""
    return action, basis


def how_sure(confidence) -> str:
    """How sure a value at stake is, from its recorded confidence: measured, assumed or modelled.

    "assumed" (or an effect "not modelled", or "default") wins over "measured": a value is as
    sure as its least sure part. A recommendation with no confidence recorded gives "".
    """
    text = str(confidence or "").lower()
    if not text.strip() or text == "nan":
        return ""
    if "assumed" in text or "not modelled" in text or "default" in text:
        return ASSUMED
    if "measured" in text:
        return MEASURED
    return MODELLED


def evidence_places(evidence, by_lesson: dict[str, dict]) -> list[tuple[str | None, str]]:
    """Where a recommendation's evidence is: (section, place in it) for each part.

    A lesson records its evidence as "<Model> lesson, <place>" (several joined by "; " when
    recommendations were merged); the model's name is matched to a section's title, so that
    the summary can link the section and name the place in the client's words.

    Returns
    -------
    list of (str or None, str)
        The section's lesson name (None when no title matches) and the place in it.
    """
    out = []
    for part in str(evidence or "").split(";"):
        part = part.strip()
        if not part or part == "nan":
            continue
        match = _EVIDENCE.match(part)
        if match is None:
            out.append((None, part))
            continue
        name = match["name"].strip().lower()
        lesson = next(
            (
                lesson
                for lesson, entry in by_lesson.items()
                if name in str(entry.get(results.TITLE) or lesson).lower()
                or name.replace(" ", "_") == lesson
            ),
            None,
        )
        out.append((lesson, match["where"].strip()))
    return out


def recommendation_list(by_lesson: dict[str, dict], currency: str = "") -> pd.DataFrame:
    """The ranked recommendations as a client reads them, one row each.

    The rows of :func:`recommendations` (overlaps merged, highest value first), with the
    action and the way its value is counted apart (:func:`action_and_basis`), the value at
    stake in the client's currency over its horizon ("€8,264 over 12 months") or, when it
    has none, why in words ("not valued: …", the recommendation's ``not_valued`` or
    :data:`NOT_VALUED_REASON`), and how sure it is (:func:`how_sure`).

    Parameters
    ----------
    by_lesson : dict
        What :func:`load` returns.
    currency : str, default ""
        The client's currency.

    Returns
    -------
    pandas.DataFrame
        Columns ``rank`` (1, 2, …), ``lesson``, ``action``, ``basis``, ``customers`` (int,
        or None when not stated), ``value_at_stake`` (float, NaN when not valued),
        ``value_text``, ``how_sure``, ``confidence`` ("" when none) and ``evidence``
        (:func:`evidence_places`), ``actions`` (the actions of a merged row, one each;
        one item otherwise).
    """
    ranked = results.recommendations(by_lesson)
    reasons = {
        rec["text"]: rec.get(NOT_VALUED)
        for entry in by_lesson.values()
        for rec in entry.get("results", {}).get(results.RECOMMENDATIONS) or []
        if isinstance(rec.get(NOT_VALUED), str) and rec.get(NOT_VALUED).strip()
    }
    for entry in by_lesson.values():  # at scale: valued on a sample, not on every customer
        recorded = entry.get("results", {})
        for rec in recorded.get(results.RECOMMENDATIONS) or []:
            if results.valued_on_sample(recorded, rec):
                reasons[rec["text"]] = f"its section was computed on {results.sample_words(recorded)}"
    rows = []
    for rank, row in enumerate(ranked.itertuples(index=False), start=1):
        text = getattr(row, results.RECOMMENDATION)
        action, basis = action_and_basis(text)
        value = getattr(row, results.VALUE_AT_STAKE)
        horizon = getattr(row, stakes.HORIZON_MONTHS)
        if stakes.is_value(value):
            money = metrics.format_money(value, currency)
            months = (
                metrics.format_value("clv_horizon_months", horizon)
                if stakes.is_value(horizon)
                else ""
            )
            value_text = f"{money} over {months}" if months else money
        else:
            value_text = f"not valued: {reasons.get(text) or NOT_VALUED_REASON}"
        customers = getattr(row, stakes.CUSTOMERS)
        confidence = getattr(row, stakes.CONFIDENCE)
        rows.append(
            {
                RANK: rank,
                results.LESSON: getattr(row, results.LESSON),
                ACTION: action,
                ACTIONS: (
                    [a.strip() for a in action.split("; ") if a.strip()]
                    if getattr(row, "merged", 1) > 1
                    else [action]
                ),
                BASIS: basis,
                CUSTOMERS: int(customers) if stakes.is_value(customers) else None,
                results.VALUE_AT_STAKE: float(value) if stakes.is_value(value) else math.nan,
                VALUE_TEXT: value_text,
                HOW_SURE: how_sure(confidence) if stakes.is_value(value) else "",
                CONFIDENCE: "" if metrics.is_absent(confidence) else str(confidence),
                EVIDENCE: evidence_places(getattr(row, stakes.EVIDENCE), by_lesson),
            }
        )
    customers = pd.Series([r[CUSTOMERS] for r in rows], dtype=object)  # ints, or None
    columns = [
        RANK,
        results.LESSON,
        ACTION,
        BASIS,
        CUSTOMERS,
        results.VALUE_AT_STAKE,
        VALUE_TEXT,
        HOW_SURE,
    ]
    table = pd.DataFrame(rows, columns=[*columns, CONFIDENCE, EVIDENCE, ACTIONS])
    table[CUSTOMERS] = customers
    return table


# --- names and dates as a client reads them ------------------------------------------------

#: A section's status in the client's words.
STATUS_WORDS = {
    "complete": "assessed",
    "failed": "failed: its figures must not be quoted",
    "skipped": "not run in this report",
}


#: The sections' names for a run that gave no title (a section not run is titled by its
#: lesson's name).
SECTION_NAMES = {
    "foundations": "Foundations",
    "idic": "IDIC",
    "qci": "QCi",
    "value_chain": "The CRM value chain",
    "payne_frow": "Payne & Frow",
}


def section_name(title: str) -> str:
    """A section's short name: "IDIC" of "01 · IDIC: Identify, Differentiate, …".

    A bare lesson name (the title of a section that did not run) gives its name in
    :data:`SECTION_NAMES`, else its words (``value_chain`` → "value chain").
    """
    title = str(title)
    if title in SECTION_NAMES:
        return SECTION_NAMES[title]
    name = re.sub(r"^\s*\d+\s*·\s*", "", title.split(":", 1)[0]).strip() or title
    return readable.name(name)


def format_date(value) -> str:
    """A date as a client writes it: "31 December 2024"; "" when absent."""
    if metrics.is_absent(value):
        return ""
    day = pd.Timestamp(value)
    return f"{day.day} {day:%B %Y}"


def link(lesson: str | None, by_lesson: dict, text: str | None = None) -> str:
    """The section's name (or ``text``), linked to its page when it has one; escaped."""
    entry = by_lesson.get(lesson, {}) if lesson else {}
    label = html.escape(text if text is not None else section_name(entry.get("title") or lesson))
    page = entry.get(results.PAGE)
    return f'<a href="{html.escape(page)}">{label}</a>' if page else label


# --- HTML ------------------------------------------------------------------------------------

#: The summary's styles: tiles in a grid that folds to one column on a phone, figures no
#: wider than the page, recommendations as numbered cards.
CSS = """
<style>
.crm-summary { max-width: 60rem; width: 100%; min-width: 0; box-sizing: border-box; }
.crm-title { border-left: 0.4rem solid #1f4e79; padding: 0.2rem 0 0.2rem 1rem; margin: 0 0 1.5rem; }
.crm-title .crm-client { font-size: 1.6rem; font-weight: 600; margin: 0; }
.crm-title p { margin: 0.25rem 0; }
.crm-status-ok { color: #1a7f37; font-weight: 600; }
.crm-status-bad { color: #b42318; font-weight: 600; }
.crm-tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(15rem, 100%), 1fr));
  gap: 0.8rem; margin: 1rem 0 1.5rem; }
.crm-tile { border: 1px solid #d0d7de; border-radius: 0.5rem; padding: 0.8rem 1rem;
  background: #f6f8fa; }
.crm-tile .crm-value { font-size: 1.9rem; font-weight: 700; line-height: 1.2;
  overflow-wrap: anywhere; }
.crm-tile .crm-label { font-weight: 600; margin-top: 0.2rem; }
.crm-tile .crm-meaning { font-size: 0.9rem; color: #57606a; margin-top: 0.3rem; }
.crm-finding { margin: 1rem 0 1.8rem; }
.crm-finding h3 { margin-bottom: 0.3rem; }
.crm-finding figure { margin: 0.6rem 0 0; }
.crm-finding img { max-width: 100%; height: auto; border: 1px solid #eaeef2;
  box-sizing: border-box; }  /* the border inside the 100 %: no sideways scroll */
.crm-finding figcaption { font-size: 0.9rem; color: #57606a; margin-top: 0.3rem; }
ol.crm-recs { padding-left: 1.4rem; }
ol.crm-recs > li { margin: 0 0 1rem; padding: 0.6rem 0.8rem; border: 1px solid #d0d7de;
  border-radius: 0.5rem; }
ol.crm-recs .crm-action { font-weight: 600; }
ol.crm-recs dl { display: grid; grid-template-columns: 11rem 1fr; gap: 0.2rem 0.8rem;
  margin: 0.4rem 0 0; }
ol.crm-recs dt { color: #57606a; white-space: nowrap; font-weight: 600; }
ol.crm-recs .crm-action ul { margin: 0.3rem 0 0; padding-left: 1.2rem; }
ol.crm-recs dd { margin: 0; }
@media (max-width: 40rem) {
  .crm-tiles { grid-template-columns: 1fr; }
  ol.crm-recs dl { grid-template-columns: 1fr; }
  ol.crm-recs dd { margin-bottom: 0.3rem; }
}
</style>
"""


def title_block_html(
    client: str, as_of, first_order, last_order, by_lesson: dict[str, dict]
) -> str:
    """The title block: client, as-of date, the period of the data and what was assessed.

    Parameters
    ----------
    client : str
        The client's name.
    as_of, first_order, last_order : date-like
        The as-of date and the first and last order dates of the data.
    by_lesson : dict
        What :func:`crmlib.results.load` returns; ``{}`` run by hand.
    """
    lines = [
        f'<p class="crm-client">CRM assessment: {html.escape(client)}</p>',
        f"<p>Data as of <strong>{format_date(as_of)}</strong>; orders from "
        f"{format_date(first_order)} to {format_date(last_order)}.</p>",
    ]
    if by_lesson:
        parts = [
            f"{link(lesson, by_lesson)} ({STATUS_WORDS.get(entry.get(results.STATUS) or '', 'status not reported')})"
            for lesson, entry in by_lesson.items()
        ]
        lines.append(f"<p>Assessed: {', '.join(parts)}.</p>")
        sampled = next(
            (results.sample_words(e.get("results", {})) for e in by_lesson.values()
             if results.sample_words(e.get("results", {}))),
            "",
        )
        if sampled:  # a report at scale
            lines.append(
                "<p>The figures at a glance count every customer and every order line; a "
                f"section marked so computed its detail on {html.escape(sampled)}."
                f"{_linked_in_sample(by_lesson)}</p>"
            )
        failed = results.failed_sections(by_lesson)
        if failed:
            names = ", ".join(section_name(by_lesson[f].get("title") or f) for f in failed)
            lines.append(
                f'<p class="crm-status-bad">INCOMPLETE REPORT: {len(failed)} section(s) failed '
                f"({html.escape(names)}). Do not quote its figures.</p>"
            )
        else:
            lines.append('<p class="crm-status-ok">Complete: every section ran.</p>')
    return f'{CSS}<div class="crm-summary crm-title">{"".join(lines)}</div>'


def _linked_in_sample(by_lesson: dict[str, dict]) -> str:
    """At scale, when the customer records could be linked into persons (IDIC compared
    them) but were too many to link every one (``pipeline.LINK_RECORDS``): what a count of
    every customer counts, since they are linked only within the
    sample (whose few duplicates say little of the folder's: a person is in the sample by
    one record's id, seldom by two)."""
    idic = by_lesson.get("idic", {}).get("results") or {}
    every = (idic.get(results.SAMPLE) or {}).get("every_customer", ())
    if idic.get("records") is None or "records" in every:  # nothing to link, or all linked
        return ""
    return (
        " Records of one person are linked only within the sample, so a count over every "
        "customer counts customer ids: a person with two records counts twice."
    )


def tiles_html(tiles: pd.DataFrame) -> str:
    """Headline tiles (:func:`headline_tiles`, or rows of the same columns): value big,
    label, one-line meaning."""
    cells = "".join(
        f'<div class="crm-tile"><div class="crm-value">{html.escape(str(t[results.VALUE]))}</div>'
        f'<div class="crm-label">{html.escape(str(t[results.LABEL]))}</div>'
        f'<div class="crm-meaning">{html.escape(str(t[MEANING]))}</div></div>'
        for _, t in tiles.iterrows()
    )
    return f'{CSS}<div class="crm-summary crm-tiles">{cells}</div>'


def recommendation_tile(recs: pd.DataFrame, currency: str = "") -> dict | None:
    """The tile of the first valued recommendation: its value at stake and its action.

    ``recs`` is what :func:`recommendation_list` returns; None when no recommendation
    is valued.
    """
    valued = recs[recs[results.VALUE_AT_STAKE].notna()]
    if valued.empty:
        return None
    first = valued.iloc[0]
    actions = first[ACTIONS]
    meaning = actions[0] + (
        f", with {len(actions) - 1} related action{'s' if len(actions) > 2 else ''} "
        "over the same customers"
        if len(actions) > 1
        else ""
    )
    horizon = first[VALUE_TEXT].partition(" over ")[2]
    return {
        KEY: results.VALUE_AT_STAKE,
        results.LESSON: first[results.LESSON],
        results.LABEL: f"Value at stake of the first recommendation{', over ' + horizon if horizon else ''}",
        results.VALUE: metrics.format_money(first[results.VALUE_AT_STAKE], currency),
        MEANING: _sentence(meaning),
    }


def findings_html(by_lesson: dict[str, dict]) -> str:
    """Each section's finding in one sentence, linked to its page, with its key chart.

    A section without a finding says so; one without a chart shows its finding alone; one
    that failed or was not run says that instead.
    """
    blocks = []
    for lesson, entry in by_lesson.items():
        status = entry.get(results.STATUS)
        finding = entry.get("results", {}).get(results.FINDING)
        if status in ("failed", "skipped"):
            text = f"This section {STATUS_WORDS[status]}."
        elif finding:
            text = _sentence(finding)
            recorded = entry.get("results", {})
            if results.sampled_figure(recorded, results.FINDING):
                text += f" Computed on {results.sample_words(recorded)}."
        else:
            text = "This section states no single finding; its page shows its figures."
        figure = ""
        chart = entry.get("chart")
        if chart and status not in ("failed", "skipped"):
            png = base64.b64encode(chart["png"]).decode("ascii")
            figure = (
                f'<figure><img src="data:image/png;base64,{png}" '
                f'alt="{html.escape(chart.get("alt", ""), quote=True)}">'
                f"<figcaption>{html.escape(chart.get('caption', ''))}</figcaption></figure>"
            )
        blocks.append(
            f'<div class="crm-finding"><h3>{link(lesson, by_lesson)}</h3>'
            f"<p>{html.escape(text)}</p>{figure}</div>"
        )
    return f'{CSS}<div class="crm-summary">{"".join(blocks)}</div>'


def recommendations_html(recs: pd.DataFrame, by_lesson: dict[str, dict]) -> str:
    """The ranked recommendations (:func:`recommendation_list`) as numbered cards."""
    items = []
    for _, r in recs.iterrows():
        rows = []
        if r[CUSTOMERS] is not None and not metrics.is_absent(r[CUSTOMERS]):
            rows.append(("Customers valued", f"{int(r[CUSTOMERS]):,}"))
        value = html.escape(r[VALUE_TEXT][:1].upper() + r[VALUE_TEXT][1:])
        if r[BASIS]:
            value += f" ({html.escape(r[BASIS])})"
        rows.append(("Value at stake", value))
        if r[HOW_SURE]:
            sure = f"<strong>{SURE_WORDS[r[HOW_SURE]]}</strong>"
            if r[CONFIDENCE]:
                sure += f" {html.escape(_sentence(r[CONFIDENCE]))}"
            rows.append(("How sure", sure))
        places = r[EVIDENCE] or [(r[results.LESSON], "")]
        evidence = "; ".join(
            link(lesson, by_lesson) + (f": {html.escape(where)}" if where else "")
            if lesson
            else html.escape(where)
            for lesson, where in places
        )
        rows.append(("Evidence", evidence))
        details = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
        actions = r[ACTIONS]
        head = html.escape(_sentence(actions[0]))
        if len(actions) > 1:  # merged: every action, then how the value was counted
            head = (
                "Together, over the same customers:<ul>"
                + "".join(f"<li>{html.escape(_sentence(a))}</li>" for a in actions)
                + "</ul>"
            )
        items.append(f'<li><div class="crm-action">{head}</div><dl>{details}</dl></li>')
    return f'{CSS}<ol class="crm-summary crm-recs">{"".join(items)}</ol>'


#: A data-contract name in a sentence (``cost_rates``, ``product_id``), not a file name.
_NAME = re.compile(r"(?<![\w.])([a-z]+(?:_[a-z0-9]+)+)\b(?!\.\w)")
_NOT_ASSESSED = re.compile(r"^\s*not assessed:\s*", re.IGNORECASE)


#: Model names inside the data contract's names, as a client writes them.
_MODEL_WORDS = {
    "payne_frow": "Payne & Frow",
    "value_chain": "value chain",
    "qci": "QCi",
    "idic": "IDIC",
}
_MODEL = re.compile(r"(?<![\w.])(payne_frow|value_chain|qci|idic)(_|\b)(?![\w.]*\.\w)")


def in_words(text: str) -> str:
    """A sentence with the data contract's names in words ("the cost rates table", "the
    Payne & Frow readiness questions"); file names ("assessment_qci.csv") are kept as the
    client must name the file."""
    text = _MODEL.sub(lambda m: _MODEL_WORDS[m[1]] + (" " if m[2] else ""), str(text))
    return _NAME.sub(lambda m: m[1].replace("_", " "), text)


def missing_data(by_lesson: dict[str, dict], present=()) -> str:
    """One sentence: the data that would complete the assessment, most needed first.

    Parameters
    ----------
    by_lesson : dict
        What :func:`crmlib.results.load` returns.
    present : iterable of str
        The tables the client provided (a section may step aside for a table it has, e.g.
        too short a history): they are not asked for.

    Returns
    -------
    str
        E.g. "The assessment would be complete with the customers and surveys tables; the
        cost column of the transactions table; the answers in assessment_qci.csv." ("" when
        nothing is missing).
    """
    present = set(present)
    tables: dict[str, int] = {}
    columns: dict[str, int] = {}
    files: dict[str, int] = {}
    for entry in by_lesson.values():
        for gap in entry.get("results", {}).get(results.NOT_ASSESSED) or []:
            for piece in gap.get(results.MISSING) or []:
                piece = str(piece)
                if piece.endswith((".csv", ".xlsx", ".parquet")):
                    files[piece] = files.get(piece, 0) + 1
                elif "." in piece and " " not in piece:
                    columns[piece] = columns.get(piece, 0) + 1
                elif " " not in piece and piece not in present and piece != "assessment":
                    tables[piece] = tables.get(piece, 0) + 1

    def ordered(counts):
        return [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    def joined(words):
        return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]

    parts = []
    if tables:
        names = [readable.name(t) for t in ordered(tables)]
        parts.append(f"the {joined(names)} table{'s' if len(names) > 1 else ''}")
    by_table: dict[str, list[str]] = {}
    for piece in ordered(columns):
        table, column = piece.split(".", 1)
        by_table.setdefault(table, []).append(readable.name(column))
    for table, cols in by_table.items():
        parts.append(
            f"the {joined(cols)} column{'s' if len(cols) > 1 else ''} of the "
            f"{readable.name(table)} table"
        )
    if files:
        parts.append(f"the answers to the assessment questions ({', '.join(ordered(files))})")
    if not parts:
        return ""
    return "The assessment would be complete with " + "; ".join(parts) + "."


def not_assessed_html(by_lesson: dict[str, dict], present=()) -> str:
    """What could not be assessed and why, per section, each gap in one sentence.

    Opens with the data that would complete the assessment (:func:`missing_data`);
    sections that failed or were not run are named too. Empty string when everything
    was assessed.
    """
    items = []
    for lesson, entry in by_lesson.items():
        status = entry.get(results.STATUS)
        if status in ("failed", "skipped"):
            # a failed section's reason names the cell and error; a skipped one's, an option
            items.append(
                f"<li>{link(lesson, by_lesson)}: the whole section {STATUS_WORDS[status]}.</li>"
            )
            continue
        gaps = entry.get("results", {}).get(results.NOT_ASSESSED) or []
        if gaps:
            sentences = "".join(
                f"<li>{html.escape(_sentence(in_words(_NOT_ASSESSED.sub('', e[results.REASON]))))}</li>"
                for e in gaps
            )
            items.append(f"<li>{link(lesson, by_lesson)}<ul>{sentences}</ul></li>")
    if not items:
        return ""
    lead = missing_data(by_lesson, present)
    lead = f"<p>{html.escape(lead)}</p>" if lead else ""
    return f'<div class="crm-summary">{lead}<ul>{"".join(items)}</ul></div>'


def assumptions_html(
    by_lesson: dict[str, dict], parameters: dict[str, dict], currency: str, as_of
) -> str:
    """The assumptions the sections share, each in a sentence with its value.

    Parameters
    ----------
    by_lesson : dict
        What :func:`crmlib.results.load` returns.
    parameters : dict
        What :func:`crmlib.results.lesson_parameters` returns (the parameters each section
        ran with).
    currency : str
        The client's currency ("" when none was given).
    as_of : date-like
        The as-of date of the data.
    """
    items = [
        (
            "As-of date",
            f"{format_date(as_of)}: the data end here, and every section measures up to this day.",
        )
    ]
    horizon = first_figure(by_lesson, "clv_horizon_months")
    if horizon is not None:
        months = metrics.format_value("clv_horizon_months", horizon[1])
        items.append(
            (
                "Horizon",
                f"{months}: customer lifetime value and every value at stake look this far ahead.",
            )
        )
    rate = next(
        (
            p["annual_discount_rate"]
            for p in parameters.values()
            if stakes.is_value(p.get("annual_discount_rate"))
        ),
        None,
    )
    if rate is not None:
        items.append(
            (
                "Discount rate",
                f"{float(rate) * 100:.1f} % a year: future margin is "
                "discounted to today at this rate (the cost of capital).",
            )
        )
    lapse = first_figure(by_lesson, "lapsed_days")
    if lapse is not None:
        days = metrics.format_value("lapsed_days", lapse[1])
        set_here = any(stakes.is_value(p.get("lapsed_days")) for p in parameters.values())
        why = (
            "set for this client"
            if set_here
            else "the client's own buying cycle: 90 % of the gaps between a customer's "
            "purchases are no longer"
        )
        items.append(
            ("Lapse rule", f"a customer has lapsed after {days} without a purchase ({why}).")
        )
    uplift = first_figure(by_lesson, "offer_uplift")
    if uplift is not None:
        source = str(by_lesson[uplift[0]].get("results", {}).get("offer_uplift_source") or "")
        how = {
            "measured": "measured against the control groups of the client's campaigns",
            "assumed": "assumed: no campaign of the client had a control group",
        }.get(source, "")
        items.append(
            (
                "Effect of an action",
                f"contacting customers raises their response rate by {float(uplift[1]) * 100:.1f} "
                f"percentage points{', ' + how if how else ''}.",
            )
        )
    if currency:
        written = metrics.format_money(1234, currency)
        items.append(
            ("Currency", f"amounts in {html.escape(currency.upper())}, written {written}.")
        )
    else:
        items.append(("Currency", "amounts in the client's currency, not named for this report."))
    rows = "".join(f"<li><strong>{k}</strong>: {v}</li>" for k, v in items)
    return f'<ul class="crm-summary">{rows}</ul>'
