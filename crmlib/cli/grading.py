"""The ``crm exercises`` and ``crm grade`` commands (nbgrader, sandboxed autograding).

User errors raise :class:`crmlib.errors.CRMError`; the ``crm`` entry point
prints them as ``error: …`` and exits 1. The grading machinery (nbgrader,
nbconvert) is imported only when a command runs, so ``crm --help`` stays fast.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click

from crmlib.errors import CRMError

_CONFIG_HELP = "The course's nbgrader_config.py (default: the repository's)."
_ROSTER_HELP = (
    "The class: a CSV with student_id, first_name, last_name, email, lms_id "
    "(optional: section, login_id)."
)


def _grading():
    try:
        from crmlib import grading
    except ImportError as exc:
        raise CRMError(
            f"grading needs nbgrader ({exc.name} is missing): pip install 'nbgrader>=0.9.6'"
        ) from None
    return grading


@click.group(name="exercises")
def exercises():
    """Check and release the nbgrader exercises (masters in exercises/<assignment>/)."""


@exercises.command(name="list")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help=_CONFIG_HELP)
def list_command(config_file):
    """List the assignments and where their student versions are."""
    grading = _grading()
    course = grading.Course.load(config_file)
    names = course.assignments()
    if not names:
        click.echo(f"no assignments in {course.source}")
    for name in names:
        released = course.folder("release") / name
        state = f"released to {released}" if released.is_dir() else "not released"
        click.echo(f"{name}: {len(course.masters(name))} notebook(s), {state}")


@exercises.command(name="check")
@click.argument("assignment")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help=_CONFIG_HELP)
def check_command(assignment, config_file):
    """Run a master's tests against its own solutions, without releasing it."""
    grading = _grading()
    grading.check_master(assignment, grading.Course.load(config_file))
    click.echo(f"{assignment}: every cell of the master passes")


@exercises.command(name="release")
@click.argument("assignment", required=False)
@click.option("--config", "config_file", type=click.Path(path_type=Path), help=_CONFIG_HELP)
def release_command(assignment, config_file):
    """Check the master(s), then generate the student version(s) (all if no ASSIGNMENT).

    A master whose own solution fails one of its tests is not released.
    """
    grading = _grading()
    course = grading.Course.load(config_file)
    names = [assignment] if assignment else course.assignments()
    if not names:
        raise CRMError(f"no assignments in {course.source}")
    for name in names:
        click.echo(f"{name}: running the master's tests …", err=True)
        folder = grading.release(name, course)
        click.echo(f"{name}: released to {folder}")


@click.command(name="grade")
@click.argument("assignment")
@click.option(
    "--submissions",
    "submissions_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder of <student>/<notebook>.ipynb (with --zip: where to collect the zip).",
)
@click.option(
    "--zip",
    "zip_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="An LMS download of the submissions (collected with nbgrader's zip collect).",
)
@click.option(
    "--jobs", type=click.IntRange(min=1), help="Submissions graded at once (default: cores)."
)
@click.option(
    "--timeout", type=click.IntRange(min=1), help="Seconds per cell (default: nbgrader_config.py)."
)
@click.option(
    "--memory",
    type=click.IntRange(min=256),
    default=4096,
    show_default=True,
    help="Memory limit of a student's kernel, MB.",
)
@click.option(
    "--unsafe",
    is_flag=True,
    help="Grade without the bubblewrap sandbox when it cannot run (student code runs as you).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("grades.csv"),
    show_default=True,
    help="The grades table.",
)
@click.option("--roster", "roster_file", type=click.Path(path_type=Path), help=_ROSTER_HELP)
@click.option("--config", "config_file", type=click.Path(path_type=Path), help=_CONFIG_HELP)
def grade(
    assignment,
    submissions_dir,
    zip_file,
    jobs,
    timeout,
    memory,
    unsafe,
    out,
    roster_file,
    config_file,
):
    """Autograde every submission of ASSIGNMENT, each in a sandboxed kernel.

    Writes grades.csv (student, assignment, score, max_score, status,
    reason), records the scores in the course gradebook and writes each
    student's feedback (hidden tests withheld) to the course's feedback folder.
    Status: graded, timeout, crashed, missing or error.

    A zip may be an LMS download as it comes (Canvas's or Moodle's layout);
    with --roster its students are named by the roster (Canvas: lms_id,
    Moodle: full name), and the roster's names, e-mails and LMS ids go into
    the gradebook. The autograded notebooks get the master's rubric below
    each answer graded by hand, for formgrader (when nbgrader_config.py
    withholds it from nbgrader's own feedback: see crmlib.grading.rubric.rubric_withheld).
    """
    grading = _grading()
    course = grading.Course.load(config_file)
    course.masters(assignment)  # an unknown assignment fails before anything else
    if submissions_dir is None and zip_file is None:
        raise CRMError("give the submissions: --submissions DIR or --zip FILE")
    roster = grading.read_roster(roster_file) if roster_file else None
    with tempfile.TemporaryDirectory(prefix="crm-submissions-") as scratch:
        if zip_file is not None:
            target = submissions_dir or Path(scratch)
            name = roster_file.name if roster_file else "the roster"
            grading.collect_zip(zip_file, target, course, roster=roster, roster_name=name)
            submissions_dir = target
        submissions = grading.find_submissions(submissions_dir, assignment)
        timeout = timeout or int(course.config.Execute.get("timeout", grading.Limits.timeout))
        limits = grading.Limits(timeout=timeout, memory_mb=memory)
        jobs = min(jobs or grading.default_jobs(), len(submissions))
        click.echo(
            f"grading {len(submissions)} submission(s) of {assignment} with {jobs} job(s)"
            + (" WITHOUT a sandbox (--unsafe)" if unsafe else ""),
            err=True,
        )
        started = time.monotonic()

        def progress(result, done, total):
            score = "-" if result.score is None else f"{result.score:g}"
            line = (
                f"[{done}/{total}] {result.student}: {result.status} {score}/{result.max_score:g}"
            )
            click.echo(line + (f" ({result.reason})" if result.reason else ""), err=True)

        results = grading.grade(
            assignment,
            submissions,
            course=course,
            jobs=jobs,
            limits=limits,
            unsafe=unsafe,
            on_result=progress,
        )
        graded = [r.student for r in results if r.status not in ("missing", "error")]
        grading.record_submissions(course, assignment, submissions_dir, graded)
    if roster is not None:
        grading.apply_roster(course, roster)
    if grading.rubric_withheld(course):
        grading.add_rubric_cells(course, assignment, graded)
    else:
        click.echo(
            "no rubric beside the hand-graded answers: nbgrader's own feedback would show it. "
            "Add 'crmlib.grading.rubric.WithholdRubric' to c.GenerateFeedback.preprocessors in "
            f"{course.config_file.name}",
            err=True,
        )
    grading.write_grades_csv(results, out)
    counts = {s: sum(r.status == s for r in results) for s in grading.STATUSES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    elapsed = time.monotonic() - started
    click.echo(f"{summary} in {elapsed:.0f} s; grades in {out}")
    click.echo(f"feedback in {course.folder('feedback')}/<student>/{assignment}/")
    failed = [r for r in results if r.status == "error"]
    if failed:
        raise CRMError(
            f"{len(failed)} submission(s) could not be graded (status error in {out}): "
            + "; ".join(f"{r.student}: {r.reason}" for r in failed)
        )


@click.command(name="grades")
@click.argument("assignment")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "canvas", "moodle"]),
    default="csv",
    show_default=True,
    help="csv: every column; canvas / moodle: that LMS's gradebook import layout.",
)
@click.option("--roster", "roster_file", type=click.Path(path_type=Path), help=_ROSTER_HELP)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The file to write.",
)
@click.option(
    "--column",
    help="Canvas: the assignment column's header, e.g. 'Foundations (12345)' as in "
    "Canvas's own export (default: the assignment's name).",
)
@click.option("--config", "config_file", type=click.Path(path_type=Path), help=_CONFIG_HELP)
def grades_command(assignment, fmt, roster_file, out, column, config_file):
    """Export the grades of ASSIGNMENT from the gradebook, hand scores included.

    One row per student of the roster (missing ones marked missing; without
    --roster: the gradebook's students), with total and per-question scores,
    points still to grade by hand, and the late flag (Canvas's late mark, or
    a submission time after the assignment's due date).
    """
    grading = _grading()
    course = grading.Course.load(config_file)
    course.masters(assignment)
    roster = grading.read_roster(roster_file) if roster_file else None
    if roster is not None:
        grading.apply_roster(course, roster)
    questions, rows = grading.class_report(course, assignment, roster)
    grading.write_grades(questions, rows, out, fmt=fmt, assignment=assignment, column=column)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    click.echo(
        f"{len(rows)} student(s): "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        + f"; {fmt} grades in {out}"
    )
    outside = [r.student.student_id for r in rows if not r.in_roster]
    if outside:
        click.echo(
            f"warning: {len(outside)} graded student(s) not in the roster: {', '.join(outside)}",
            err=True,
        )
    if counts.get("hand grading pending"):
        click.echo(
            f"warning: {counts['hand grading pending']} submission(s) still have points to "
            "grade by hand (formgrader); their scores are incomplete",
            err=True,
        )


@click.command(name="feedback")
@click.argument("assignment")
@click.option(
    "--zip",
    "zip_file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The zip to write.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["folders", "canvas", "moodle"]),
    default="folders",
    show_default=True,
    help="canvas: for 'Re-Upload Submissions'; moodle: for 'Upload multiple feedback files "
    "in a zip'; folders: <student>/<file>.",
)
@click.option(
    "--no-regenerate",
    is_flag=True,
    help="Pack the feedback as it is instead of writing it again from the gradebook first.",
)
@click.option("--config", "config_file", type=click.Path(path_type=Path), help=_CONFIG_HELP)
def feedback_command(assignment, zip_file, fmt, no_regenerate, config_file):
    """Write every student's feedback on ASSIGNMENT and pack it for the LMS.

    The feedback is written again from the gradebook (nbgrader's
    generate_feedback, hidden tests and the grader's rubric withheld), so it
    holds the hand scores and comments given in formgrader. Each file is
    checked for hidden-test text and the rubric before it is packed; a
    student whose feedback is unsafe is left out and the command exits 1.
    The Canvas and Moodle layouts need the ids of each
    student's submission, which crm grade --zip recorded from the LMS download.
    """
    grading = _grading()
    course = grading.Course.load(config_file)
    course.masters(assignment)
    if not no_regenerate:
        ok, log = grading.generate_feedback(course, assignment)
        if not ok:
            from crmlib.grading.course import last_error

            raise CRMError(f"nbgrader could not write the feedback: {last_error(log)}")
    package = grading.package_feedback(course, assignment, zip_file, fmt=fmt)
    click.echo(
        f"{package.files} feedback file(s) of {len(package.students)} student(s) in {package.path}"
    )
    for student, reason in sorted(package.skipped.items()):
        click.echo(f"warning: {student} not packed: {reason}", err=True)
    if package.unsafe:
        raise CRMError(
            f"{len(package.unsafe)} student(s) left out of {package.path.name}, their feedback "
            "is not safe to send: "
            + "; ".join(f"{student}: {why}" for student, why in sorted(package.unsafe.items()))
        )
