"""What a report says about itself: ``manifest.json`` and the plain index page.

The manifest holds, per lesson, its status, time, parameters and what it
could not assess, plus the data fingerprint (SHA-256 of every input file),
the package versions and the seeds: the same files and versions reproduce
the report. The plain index (:func:`index_page`) stands in for the summary
lesson when that is absent or failed: the summary's page (:mod:`crmlib.report.summary`)
built from the manifest, each section with its status, finding and headline figures by
label, formatted from their unit in the report's currency
(:mod:`crmlib.analytics.metrics`).
"""

from __future__ import annotations

import hashlib
import html
import sys
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from crmlib import results
from crmlib.analytics import metrics, readable
from crmlib.data import privacy
from crmlib.errors import CRMError
from crmlib.report import summary
from crmlib.report.kernels import KERNEL_ENV
from crmlib.report.parameters import (
    HIDDEN_PATH,
    HIDDEN_REPORT,
    SET_BY_REPORT,
    default_values,
)

MANIFEST = "manifest.json"
PACKAGES = (
    "crm-workbook",
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
    "scikit-learn",
    "pandera",
    "duckdb",
    "splink",
    "papermill",
    "nbclient",
    "nbconvert",
    "jupyter_client",
    "ipykernel",
)


def fingerprint(folder: Path) -> dict[str, str]:
    """SHA-256 (FIPS 180-4) of every file in the client folder, by file name.

    The same files give the same fingerprint; with the package versions of the
    manifest they reproduce the report.
    """
    out = {}
    for path in sorted(Path(folder).iterdir()):
        if path.is_file():
            out[path.name] = sha256(path)
    return out


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def combined_sha256(hashes: dict[str, str]) -> str:
    """One SHA-256 over the sorted ``name<TAB>hash`` lines of the files."""
    text = "\n".join(f"{name}\t{digest}" for name, digest in sorted(hashes.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def build_manifest(
    client, complete, validated, parameters, declared, runs, named, data, jobs, start
):
    redact = {"data_path": HIDDEN_PATH}
    lessons_out = []
    seeds = dict(KERNEL_ENV)
    for r in runs:
        entry = asdict(r)
        entry[results.NOT_ASSESSED] = list((r.results or {}).get(results.NOT_ASSESSED) or [])
        nb = next((n for n in declared if n.name == r.notebook), None)
        if nb is not None:
            effective = default_values(declared[nb])
            effective.update({k: v for k, v in parameters.items() if k in declared[nb]})
            for key in SET_BY_REPORT:
                if key in effective:
                    effective[key] = HIDDEN_REPORT
            entry["parameters"] = privacy.redact_parameters(effective, redact)
            seeds.update(
                {f"{r.lesson}.{k}": v for k, v in effective.items() if "seed" in k.lower()}
            )
        lessons_out.append(entry)
    data_hashes = fingerprint(validated.source)
    parameter_files = {
        k: {Path(v).name: sha256(Path(v))}
        for k, v in parameters.items()
        if k != "data_path" and privacy.is_existing_path(v) and Path(v).is_file()
    }
    rejected = validated.top_reasons(10)
    return {
        "report_format": 1,
        "client": client,
        "complete": complete,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "as_of": str(validated.as_of.date()) if validated.as_of is not None else None,
        "data": str(data) if named else HIDDEN_PATH,
        "data_fingerprint": data_hashes,
        "data_fingerprint_sha256": combined_sha256(data_hashes),
        "parameter_files": parameter_files,
        "parameters": privacy.redact_parameters(parameters, redact),
        "rows": {n: asdict(r) for n, r in validated.reports.items()},
        "rejected_values": int(len(validated.rejects)),
        "rejected_top_reasons": rejected.to_dict(orient="records"),
        "lessons": lessons_out,
        "seeds": seeds,
        "versions": _versions(),
        "jobs": jobs,
        "seconds": round(time.perf_counter() - start, 2),
    }


def _figures(recorded: dict, currency: str = "") -> list[tuple[str, str]]:
    """(label, formatted value) of each headline figure recorded, absent ones left out.

    This page is what a failed run shows: a key the catalogue does not know,
    or a value its unit cannot format (a results file not written by
    :func:`crmlib.results.record`), is shown as it is (the key's words apart) rather
    than failing it.
    """
    out = []
    for key, value in recorded.items():
        if key in results.RESERVED or metrics.is_absent(value):
            continue
        try:
            shown = metrics.format_value(key, value, currency)
            out.append((metrics.get(key).label, summary.in_words(shown)))  # a mapping's keys
        except CRMError:
            out.append((readable.name(key), str(value)))
    return out


def _by_lesson(manifest: dict) -> dict[str, dict]:
    """The manifest's sections in the form of :func:`crmlib.results.load` (no charts or
    per-customer values: the plain index has only the manifest)."""
    return {
        r[results.LESSON]: {
            results.STATUS: r.get(results.STATUS),
            results.REASON: r.get(results.REASON) or "",
            results.TITLE: r.get(results.TITLE) or r[results.LESSON],
            results.PAGE: r.get(results.PAGE) or "",
            "results": r.get("results") or {},
            "stakes": None,
            "chart": None,
        }
        for r in manifest["lessons"]
        if r[results.LESSON] != results.SUMMARY
    }


def index_page(client: str, manifest: dict, validated) -> str:
    """The plain index, used when the summary lesson is absent or failed.

    The same page as the summary's, from the manifest alone: title block, headline tiles,
    each section's status, finding and figures (a failed section with its cell and
    error), the ranked recommendations, what could not be assessed, and the data; every
    figure formatted from the metric catalogue in the report's currency.
    """
    esc = html.escape
    currency = str((manifest.get("parameters") or {}).get("currency") or "")
    by_lesson = _by_lesson(manifest)
    failed = [
        summary.section_name(r.get("title") or r["lesson"])
        for r in manifest["lessons"]
        if r["status"] == "failed"
    ]
    status = (
        "Complete"
        if manifest["complete"]
        else "INCOMPLETE: " + ", ".join(f"{name} failed" for name in failed)
    )
    tx = getattr(validated, "transactions", None)
    dates = tx["order_date"] if tx is not None and "order_date" in tx else None
    period = (
        f"; orders from {summary.format_date(dates.min())} to {summary.format_date(dates.max())}"
        if dates is not None and len(dates)
        else ""
    )
    try:
        recs = summary.recommendation_list(by_lesson, currency)
        tiles = summary.headline_tiles(by_lesson, currency)
    except CRMError:  # a results file not written by results.record: figures below only
        recs = tiles = None
    rows = []
    for r in manifest["lessons"]:
        link = (
            summary.link(r["lesson"], by_lesson)
            if r["lesson"] in by_lesson
            else esc(r.get("title") or r["lesson"])
        )
        finding = (r.get("results") or {}).get(results.FINDING)
        notes = "".join(
            f"<li>{esc(label)}: {esc(value)}</li>"
            for label, value in _figures(r.get("results") or {}, currency)
        ) + "".join(
            f"<li>{esc(e[results.REASON])}</li>"  # "Not assessed: …, for lack of …"
            for e in r.get(results.NOT_ASSESSED, [])
        )
        words = summary.STATUS_WORDS.get(r["status"], r["status"])
        rows.append(
            f"<tr><td>{link}</td><td class='{esc(r['status'])}'>{esc(words)}</td>"
            f"<td>{r['seconds']:.1f} s</td><td>"
            + (esc(r["reason"]) if r["status"] == "failed" else "")
            + (f"<p>{esc(finding)}</p>" if isinstance(finding, str) else "")
            + f"<ul>{notes}</ul></td></tr>"
        )
    table_rows = "".join(
        f"<tr><td>{esc(readable.name(n).capitalize())}</td><td>{v['rows']:,}</td>"
        f"<td>{v['accepted']:,}</td><td>{v['rejected']:,}</td></tr>"
        for n, v in manifest["rows"].items()
    )
    reasons = validated.top_reasons(10)
    reason_rows = (
        "".join(
            f"<tr><td>{esc(readable.name(r.table))}</td><td>{esc(r.reason)}</td>"
            f"<td>{r.rows:,}</td></tr>"
            for r in reasons.itertuples()
        )
        or "<tr><td colspan=3>none</td></tr>"
    )
    at_a_glance = summary.tiles_html(tiles) if tiles is not None and len(tiles) else ""
    ranked = (
        "<h2>Recommendations, ranked by value at stake</h2>"
        + summary.recommendations_html(recs, by_lesson)
        if recs is not None and len(recs)
        else ""
    )
    gaps = summary.not_assessed_html(by_lesson, present=getattr(validated, "tables", {}))
    gaps = f"<h2>What could not be assessed</h2>{gaps}" if gaps else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CRM assessment: {esc(client)}</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; display: block; overflow-x: auto; }}
td, th {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }}
.complete {{ color: #1a7f37; }} .failed {{ color: #b42318; font-weight: bold; }}
</style></head><body>
<h1>CRM assessment: {esc(client)}</h1>
<p><strong>Status: {esc(status)}</strong> · data as of
{esc(summary.format_date(manifest["as_of"]) or "the last order")}{esc(period)}
· made {esc(manifest["created"])}</p>
{at_a_glance}
<h2>Sections</h2>
<table><tr><th>section</th><th>status</th><th>time</th><th>finding and figures</th></tr>
{"".join(rows)}</table>
{ranked}
{gaps}
<h2>Appendix: the data</h2>
<table><tr><th>data</th><th>rows read</th><th>accepted</th><th>rejected</th></tr>{table_rows}</table>
<h3>Most frequent reasons for rejected rows</h3>
<table><tr><th>data</th><th>reason</th><th>values</th></tr>{reason_rows}</table>
<p>Reproduce: the same input files (see manifest.json, their fingerprints) and versions give
the same report.</p>
</body></html>
"""
