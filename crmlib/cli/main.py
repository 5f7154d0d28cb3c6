"""The ``crm`` command: validate a client folder, run a report, make synthetic data.

A user error prints ``error: <what is wrong and what to do>`` and exits 1,
with no traceback; ``crm --debug …`` shows the traceback too. Bad data that
names its row says where first: ``error: transactions.csv, row 3, column
revenue: <reason>`` (:class:`crmlib.errors.DataError`), never a value from the row.
"""

from __future__ import annotations

import csv
import json
import signal
import sys
import threading
import traceback
from pathlib import Path

import click

from crmlib.data import rowsample
from crmlib.errors import CRMError

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _escape_cell(value) -> str:
    """Stop a spreadsheet from running a cell as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def write_rejects(rejects, path: Path) -> None:
    """Write the rejects report as CSV, formula-like cells escaped."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(rejects.columns)
        for row in rejects.itertuples(index=False):
            writer.writerow([_escape_cell(v) for v in row])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show a traceback on errors.")
@click.pass_context
def cli(ctx, debug):
    """crm-workbook: CRM models applied to a client's data."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def copy_rejects(source: Path, path: Path) -> None:
    """Copy a rejects CSV written by DuckDB to ``path`` row by row, formula-like cells escaped."""
    with open(source, newline="", encoding="utf-8") as src, open(
        path, "w", newline="", encoding="utf-8"
    ) as out:
        reader, writer = csv.reader(src), csv.writer(out)
        writer.writerow(next(reader))
        for row in reader:
            writer.writerow([_escape_cell(v) for v in row])


def spark_options(command):
    """The Spark options of ``crm report`` and ``crm aggregate``: the master and the memory."""
    command = click.option(
        "--executor-memory",
        metavar="SIZE",
        help="With --engine spark on a cluster: each executor's memory, e.g. 2g "
        "(default Spark's 1g; env CRM_SPARK_EXECUTOR_MEMORY).",
    )(command)
    command = click.option(
        "--driver-memory",
        metavar="SIZE",
        help="With --engine spark: the Spark driver's memory, e.g. 4g (default 4g; "
        "env CRM_SPARK_DRIVER_MEMORY).",
    )(command)
    return click.option(
        "--spark-master", metavar="URL", help="With --engine spark: the cluster's master."
    )(command)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--as-of", help="Last day of the data (YYYY-MM-DD); later orders are rejected.")
@click.option(
    "--rejects",
    "rejects_file",
    type=click.Path(path_type=Path),
    help="Write every rejected row (file, row, column, reason) to this CSV.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of text.")
@click.option(
    "--engine",
    type=click.Choice(["pandas", "duckdb"]),
    default="pandas",
    show_default=True,
    help="pandas: in memory; duckdb: out of core (every rule in SQL, for folders too large "
    "for memory; CSV or Parquet).",
)
@click.option(
    "--memory-limit",
    help="With --engine duckdb: DuckDB's memory limit, e.g. 4GB (default 4GB); it spills past it.",
)
def validate(path, as_of, rejects_file, as_json, engine, memory_limit):
    """Check a client folder: tables found, rows accepted and rejected, and why."""
    import tempfile

    from crmlib.errors import DataError

    if memory_limit and engine != "duckdb":
        raise CRMError("--memory-limit is for --engine duckdb")
    try:
        if engine == "duckdb":
            from crmlib.data import outofcore
            from crmlib.engines import duckdb_memory

            memory = duckdb_memory(memory_limit)
            with tempfile.TemporaryDirectory(prefix="crm-rejects-") as work:
                written = Path(work) / "rejects.csv" if rejects_file else None
                data = outofcore.validate(
                    path, as_of=as_of, memory_limit=memory, rejects_path=written
                )
                if rejects_file:
                    copy_rejects(written, rejects_file)
            notes = []  # the period notes need the order lines in memory (--engine pandas)
        else:
            from crmlib.data.io import load_folder

            data = load_folder(path, as_of=as_of)
            if rejects_file:
                write_rejects(data.rejects, rejects_file)
            notes = shape_notes(data)
    except DataError as exc:
        if as_json:
            at = {"file": exc.file, "row": exc.row, "column": exc.column}
            click.echo(
                json.dumps(
                    {
                        "usable": False,
                        "tables": {},
                        "errors": [str(exc)],
                        "error_at": at,
                        "warnings": [],
                    },
                    indent=2,
                )
            )
            sys.exit(1)
        raise
    print_validation(path, data, notes, as_json=as_json, rejects_written=bool(rejects_file))


def print_validation(path, data, notes, *, as_json: bool, rejects_written: bool) -> None:
    """Print what ``crm validate`` found, for either engine (``ClientData`` or ``OutOfCoreData``)."""
    if as_json:
        click.echo(json.dumps({**data.summary(), "notes": notes}, indent=2))
        return
    click.echo(f"{path}: usable; data as of {data.as_of.date()}")
    click.echo(f"{'table':<14}{'file':<28}{'rows':>9}{'accepted':>10}{'rejected':>10}")
    for r in data.reports.values():
        click.echo(f"{r.table:<14}{r.file:<28}{r.rows:>9}{r.accepted:>10}{r.rejected:>10}")
    reasons = data.top_reasons(8)
    if len(reasons):
        click.echo("\ntop reasons for rejected rows:")
        for r in reasons.itertuples():
            click.echo(f"  {r.table}: {r.reason} ({r.rows} rows)")
        if not rejects_written:
            click.echo("(write every rejected row with --rejects FILE)")
    for w in data.warnings:
        click.echo(f"warning: {w}")
    for note in notes:
        click.echo(f"note: {note}")


def shape_notes(data, freq: str = "M") -> list[str]:
    """Sentences on the shape of the data the lessons will say too: partial
    first or last months, and a left-censored panel (:mod:`crmlib.analytics.periods`)."""
    from crmlib.analytics import periods

    tx = data.transactions
    notes = []
    try:
        notes.append(periods.period_coverage(tx, freq, as_of=data.as_of).sentence())
        notes.append(periods.left_censoring(tx, freq, as_of=data.as_of).sentence())
    except CRMError:  # e.g. no purchase, only returns: nothing to say about periods
        pass
    return [n for n in notes if n]


CURRENCY_PARAMETER = "currency"  # every lesson's: the client's currency (ISO 4217 code)


def with_currency(params: dict, currency: str | None) -> dict:
    """The lesson parameters with ``currency`` set from ``--currency`` (every lesson takes it).

    Parameters
    ----------
    params : dict
        The parameters given with ``--param``.
    currency : str or None
        The ``--currency`` option: a three-letter ISO 4217 code, any case; None when not given.

    Returns
    -------
    dict
        ``params`` with ``currency`` set to the upper-case code (unchanged when None).

    Raises
    ------
    crmlib.errors.CRMError
        A code that is not three letters, or a currency given with both ``--currency``
        and ``--param``.
    """
    if currency is None:
        return params
    code = currency.strip()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise CRMError(
            f"--currency {currency!r}: expected a three-letter ISO 4217 code, e.g. EUR, USD, GBP"
        )
    if CURRENCY_PARAMETER in params:
        raise CRMError("the currency is given twice: use --currency, not --param currency=...")
    return {**params, CURRENCY_PARAMETER: code.upper()}


@cli.command()
@click.argument("data", required=False, type=click.Path(path_type=Path))
@click.option("--client", default="Sample client", show_default=True, help="Client name.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("reports/sample"),
    show_default=True,
    help="Report folder.",
)
@click.option("--as-of", help="Last day of the data (YYYY-MM-DD).")
@click.option("--only", help="Comma-separated lessons, e.g. foundations,idic.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A lesson parameter (YAML value), repeatable.",
)
@click.option(
    "--timeout",
    default=600,
    show_default=True,
    type=click.IntRange(min=1),
    help="Per-cell timeout in seconds.",
)
@click.option(
    "--currency",
    metavar="CODE",
    help="The client's currency, an ISO 4217 code (EUR, USD, GBP): every section shows its "
    "money figures and money axes in it. Default: amounts without a unit.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    help="Lessons run at once (default: cores; 1 with --engine duckdb or spark).",
)
@click.option("--pdf", is_flag=True, help="Also print the whole report (summary, then each section) to summary.pdf (Chromium).")
@click.option(
    "--engine",
    type=click.Choice(["pandas", "duckdb", "spark"]),
    default="pandas",
    show_default=True,
    help="Where the lessons run the transaction-level steps.",
)
@spark_options
@click.option(
    "--snapshot/--no-snapshot",
    default=True,
    show_default=True,
    help="Validate the folder once and hand the lessons the validated data; "
    "--no-snapshot: every lesson validates the folder itself (slower, for comparison).",
)
@click.option(
    "--sample-customers",
    type=click.IntRange(min=1),
    default=rowsample.SAMPLE_CUSTOMERS,
    show_default=True,
    help="With --engine duckdb or spark: the customers whose rows the lessons chart and fit; "
    "figures over all customers come from the per-customer tables of every row.",
)
@click.option(
    "--sample-seed", type=int, default=rowsample.SAMPLE_SEED, show_default=True, help="The sample's seed."
)
@click.option(
    "--link-records",
    type=click.IntRange(min=0),
    help="With --engine duckdb or spark: link every customer record into persons before the "
    "per-customer tables when there are at most this many (default 250,000: about 3 minutes "
    "and 4.4 GB per 200,000); past it, records are linked only within the sample and counts "
    "are of customer ids.",
)
@click.option(
    "--memory-limit",
    help="With --engine duckdb or spark: DuckDB's memory limit for validating and sampling "
    "(default 4GB); it spills past it.",
)
@click.option(
    "--view",
    type=click.Choice(["report", "lesson"]),
    default="report",
    show_default=True,
    help="report: the client's pages (code hidden, cells for students left out); "
    "lesson: the lesson view for an instructor to hand out (code shown).",
)
def report(
    data,
    client,
    out,
    as_of,
    only,
    params,
    timeout,
    currency,
    jobs,
    pdf,
    engine,
    spark_master,
    driver_memory,
    executor_memory,
    snapshot,
    sample_customers,
    sample_seed,
    link_records,
    memory_limit,
    view,
):
    """Run every lesson on a client folder (default: the sample) into a report.

    The report is written to a temporary folder and moved to --out only when
    every lesson completed; otherwise it goes to OUT.incomplete and the
    command exits 1. Ctrl-C stops every kernel and leaves no partial report.
    A second report into the same --out while one runs is refused (exit 1).
    """
    import logging

    import yaml

    from crmlib.data.datasets import sample_path
    from crmlib.report import run_report

    parsed = {}
    for p in params:
        key, sep, value = p.partition("=")
        if not sep or not key.strip():
            raise CRMError(f"--param {p!r}: expected KEY=VALUE")
        try:
            parsed[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise CRMError(f"--param {p!r}: the value is not valid YAML") from None
    parsed = with_currency(parsed, currency)
    if memory_limit:  # also the engine's limit when it computes the per-customer tables
        import os

        os.environ["CRM_DUCKDB_MEMORY"] = memory_limit
    _spark_memory(engine, driver_memory, executor_memory)  # the lessons' kernels inherit them

    # nbclient logs timeouts and kernel deaths that the progress lines already report
    logging.getLogger("papermill").addHandler(logging.NullHandler())

    live = sys.stderr.isatty()  # a terminal: one status line, redrawn; else a line per event
    running: dict[str, str] = {}

    def write(text: str, final: bool) -> None:
        if live:
            sys.stderr.write("\r\033[K" + text + ("\n" if final else ""))
        elif final:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def show(event) -> None:  # a crmlib.report.Progress, one lesson's news
        if event.status == "running":
            running[event.lesson] = f"{event.lesson} {event.cell}/{event.cells}"
            if event.cell == 0 and not live:
                write(f"{event.lesson}: started", final=True)
        else:
            running.pop(event.lesson, None)
            took = "" if event.status == "skipped" else f" in {event.seconds:.1f} s"
            note = f" ({event.reason})" if event.reason else ""
            write(f"{event.lesson}: {event.status}{took}{note}", final=True)
        if live:
            write(" · ".join(running.values()), final=False)

    result = run_report(
        data or sample_path(),
        client,
        out,
        as_of=as_of,
        only=[o.strip() for o in only.split(",") if o.strip()] if only else None,
        params=parsed,
        timeout=timeout,
        progress=show,
        jobs=jobs,
        pdf=pdf,
        engine=engine,
        spark_master=spark_master,
        snapshot=snapshot,
        view=view,
        sample_customers=sample_customers,
        sample_seed=sample_seed,
        link_records=link_records,
        memory_limit=memory_limit,
        spark_progress=spark_printer(live) if engine == "spark" else None,
    )
    index = result.out / "index.html"
    if not result.complete:
        failed = [f"{r.lesson} ({r.reason})" for r in result.runs if r.status == "failed"]
        click.echo(f"report INCOMPLETE: {index}", err=True)
        raise CRMError("lesson(s) failed: " + "; ".join(failed))
    click.echo(f"report complete: {index}")
    if result.pdf_error:
        raise CRMError(f"the report is complete, but its PDF is not: {result.pdf_error}")
    if pdf:
        click.echo(f"pdf: {result.out / 'summary.pdf'}")


@cli.command()
def key():
    """Show where the pseudonym key is kept, creating it on first use.

    Customer ids in reports are keyed pseudonyms (HMAC-SHA256). The key comes
    from $CRM_PSEUDONYM_KEY, else a private file (mode 0600) in your
    configuration folder, never from the report. The key itself is not shown:
    keep it, and share reports, not the key.
    """
    import os

    from crmlib.data import privacy

    if os.environ.get(privacy.KEY_ENV, "").strip():
        click.echo(f"pseudonym key: from the environment variable {privacy.KEY_ENV}")
        return
    path = privacy.key_path()
    existed = path.exists()
    privacy.load_key(create=True)
    click.echo(f"pseudonym key: {path} ({'existing' if existed else 'created'}, owner-only)")


@cli.command()
@click.option("--customers", default=5000, show_default=True, help="Number of customers.")
@click.option("--seed", default=20261122, show_default=True, help="Random seed.")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Client folder to write."
)
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True
)
@click.option(
    "--truth",
    type=click.Path(path_type=Path),
    help="Also write the planted ground truth to this folder (not with chunks).",
)
@click.option(
    "--chunk-customers",
    type=click.IntRange(min=1),
    help="Customers simulated at once (default 250000). More customers than this are "
    "written chunk by chunk in bounded memory, into a new folder, without ground truth.",
)
def synth(customers, seed, out, fmt, truth, chunk_customers):
    """Write a synthetic client folder with known ground truth.

    A folder of more than --chunk-customers customers (e.g. 10 million, about
    100 million transaction lines) is simulated chunk by chunk and appended to
    one file per table; it appears under --out only once it is complete.
    """
    from crmlib import synth as synthesis

    if customers < 1:
        raise CRMError("--customers must be at least 1")
    chunk = chunk_customers or synthesis.CHUNK_CUSTOMERS
    if customers > chunk:
        if truth:
            raise CRMError(
                f"--truth needs the whole company in memory: it is kept for at most {chunk} "
                "customers (--chunk-customers); drop --truth for a larger folder"
            )

        def show(i, n_chunks, rows):
            lines = rows["transactions"]
            click.echo(f"chunk {i}/{n_chunks}: {lines:,} transaction lines", err=True)

        written = synthesis.write_large_folder(
            customers, out, seed=seed, chunk_customers=chunk, fmt=fmt, progress=show
        )
        for path, rows in written.items():
            click.echo(f"{path.name:<24}{rows:>15,} rows")
        click.echo(f"wrote {len(written)} tables ({sum(written.values())} rows) to {out}")
        return
    company = synthesis.generate(n_customers=customers, seed=seed)
    files = synthesis.write_folder(company, out, fmt=fmt)
    if truth:
        synthesis.write_truth(company, truth)
    rows = sum(len(t) for t in company.tables.values())
    click.echo(f"wrote {len(files)} tables ({rows} rows) to {out}")


@cli.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark", "pandas"]),
    default="duckdb",
    show_default=True,
    help="duckdb: out of core on this machine; spark: local or a cluster; pandas: in memory.",
)
@click.option(
    "--steps",
    default="summary,profitability,cohorts",
    show_default=True,
    help="Comma-separated: summary, profitability, cohorts, gaps, campaigns, duplicates.",
)
@click.option("--as-of", help="Last day counted (YYYY-MM-DD); default the last order date.")
@click.option(
    "--memory-limit", help="DuckDB's memory limit, e.g. 4GB (default 4GB); it spills past it."
)
@spark_options
def aggregate(
    data, out, engine, steps, as_of, memory_limit, spark_master, driver_memory, executor_memory
):
    """Run the transaction-level steps on a folder too large for memory.

    Reads DATA (a client folder of Parquet or CSV files with the workbook's
    column names) with DuckDB or Spark and writes one row per customer:
    customer_summary.parquet, customer_profitability.parquet,
    cohort_counts.csv and, with the gaps step, purchase_gaps.csv (gaps between a
    customer's purchase days counted by length), with the campaigns step,
    campaign_holdouts.csv (each campaign kept with a holdout: its treated and control
    customers and responders), with the duplicates step, duplicate_clusters.parquet.
    With --engine spark, the Spark jobs' progress (stage, tasks done/total) is
    shown on stderr; a job that fails, loses its driver or executors, or
    finishes no task for CRM_SPARK_STALL_SECONDS (default 300) ends the
    command with an error (exit 1).
    """
    import os

    from crmlib import pipeline

    if memory_limit:
        os.environ["CRM_DUCKDB_MEMORY"] = memory_limit
    if spark_master and engine != "spark":
        raise CRMError("--spark-master is for --engine spark")
    _spark_memory(engine, driver_memory, executor_memory)
    live = sys.stderr.isatty()
    spark_progress = spark_printer(live)

    def show(step, seconds, rows):
        if live:
            sys.stderr.write("\r\033[K")
        click.echo(f"{step}: {rows:,} rows in {seconds:.1f} s", err=True)

    chosen = [x.strip() for x in steps.split(",") if x.strip()]
    done = pipeline.aggregate(
        data,
        out,
        engine=engine,
        steps=chosen,
        as_of=as_of,
        spark_master=spark_master,
        progress=show,
        spark_progress=spark_progress if engine == "spark" else None,
    )
    for step, info in done.items():
        click.echo(f"{step}: {info['rows']:,} rows -> {out / info['file']}")


def spark_printer(live: bool):
    """A callback that shows a Spark job's progress (:class:`crmlib.spark.SparkProgress`) on stderr.

    On a terminal (``live``) one line, redrawn; in a log, a line when the progress changed
    and at most every 5 s. It is called from a background thread.
    """
    import time

    shown = {"line": "", "at": 0.0}

    def show(event) -> None:
        line, now = str(event), time.monotonic()
        if live:
            sys.stderr.write("\r\033[K" + line)
        elif line != shown["line"] and now - shown["at"] >= 5:
            sys.stderr.write(line + "\n")
        else:
            return
        sys.stderr.flush()
        shown.update(line=line, at=now)

    return show


def _spark_memory(engine: str, driver: str | None, executor: str | None) -> None:
    """Set the Spark memory options as the environment variables Spark sessions read."""
    import os

    from crmlib import spark

    if (driver or executor) and engine != "spark":
        raise CRMError("--driver-memory and --executor-memory are for --engine spark")
    for name, value in (("DRIVER", driver), ("EXECUTOR", executor)):
        if value:
            os.environ[f"CRM_SPARK_{name}_MEMORY"] = value.strip()
    if engine == "spark":
        spark.spark_memory()  # a size Spark reads, or a CRMError now


def _register_optional() -> None:
    try:
        from crmlib.cli.grading import exercises, feedback_command, grade, grades_command
    except ImportError:
        return
    cli.add_command(exercises)
    cli.add_command(grade)
    cli.add_command(grades_command)
    cli.add_command(feedback_command)


_register_optional()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``crm`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop) if main_thread else None
    try:
        cli.main(args=argv, prog_name="crm", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except CRMError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _stop(signum, frame):
    """A kill (SIGTERM) stops any command as Ctrl-C does, so that its clean-up runs:
    scratch folders (:mod:`crmlib.data.scratch`), lesson kernels, a Spark session."""
    raise KeyboardInterrupt  # not an error: main() reports "interrupted", exit 130
