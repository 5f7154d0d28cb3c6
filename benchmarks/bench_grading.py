"""Grading throughput: ``crm grade`` (parallel, sandboxed) against serial ``nbgrader autograde``.

Both grade the same N submissions of the foundations assignment (each the
master's solutions in the student version: every cell runs, every test
passes) in fresh courses in a temporary folder, as separate processes, on 2
cores (the benchmark pins itself and its children to 2 CPUs when it may use
more). Timings include each command's start-up.

- baseline: ``nbgrader autograde foundations`` (one process, one kernel at a
  time, no sandbox, no feedback);
- baseline + feedback: the same followed by ``nbgrader generate_feedback``,
  which ``crm grade`` also does;
- ``crm grade --jobs 1`` and ``crm grade --jobs 2``: sandboxed kernels,
  scratch course per submission, feedback with hidden tests withheld.

Each is run ``--repeat`` times, interleaved, and the best run is reported
(the one least disturbed by other processes on the machine).

Usage: ``python benchmarks/bench_grading.py [--n 20] [--repeat 3] [--all]``.
Target: ``crm grade --jobs 2`` grades at least 1.8 times as many
submissions per minute as the baseline.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from crmlib import grading

REPO = Path(__file__).resolve().parent.parent
MASTER = REPO / "exercises" / "foundations" / "foundations.ipynb"
ASSIGNMENT = "foundations"


def make_course(folder: Path, template: Path | None = None) -> grading.Course:
    """A course in ``folder`` with the repository's settings and foundations released.

    With ``template`` (an earlier course folder), its released course is copied
    instead of released again.
    """
    folder.mkdir(parents=True)
    config = folder / "nbgrader_config.py"
    root = folder / "course"
    config.write_text(
        "c = get_config()\n"
        f"load_subconfig({str(REPO / 'nbgrader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / 'gradebook.db')!r}\n",
        encoding="utf-8",
    )
    course = grading.Course.load(config)
    if template is None:
        grading.release(ASSIGNMENT, course)
    else:
        shutil.copytree(template / "course", root)
    return course


def write_submissions(release: Path, folder: Path, n: int) -> None:
    """n copies of the student version with the master's solutions filled in."""
    answers = {}
    for cell in nbformat.read(MASTER, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [line for line in cell.source.splitlines() if "### " not in line]
            answers[meta["grade_id"]] = "\n".join(lines)
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    for i in range(n):
        (folder / f"student{i:03d}").mkdir(parents=True)
        nbformat.write(nb, folder / f"student{i:03d}" / f"{ASSIGNMENT}.ipynb")


def timed(command: list[str], cwd: Path) -> float:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed:\n{done.stderr[-2000:]}")
    return elapsed


def nbgrader_serial(folder: Path, template: Path, submissions: Path, feedback: bool) -> float:
    course = make_course(folder, template)
    for student in sorted(submissions.iterdir()):
        target = course.folder("submitted") / student.name / ASSIGNMENT
        target.mkdir(parents=True)
        (target / f"{ASSIGNMENT}.ipynb").write_bytes((student / f"{ASSIGNMENT}.ipynb").read_bytes())
    nbgrader = [sys.executable, "-m", "nbgrader"]
    elapsed = timed([*nbgrader, "autograde", ASSIGNMENT, "--force"], folder)
    if feedback:
        elapsed += timed([*nbgrader, "generate_feedback", ASSIGNMENT, "--force"], folder)
    return elapsed


def crm_grade(folder: Path, template: Path, submissions: Path, jobs: int, n: int) -> float:
    course = make_course(folder, template)
    out = folder / "grades.csv"
    command = [sys.executable, "-m", "crmlib.cli", "grade", ASSIGNMENT, "--jobs", str(jobs)]
    command += ["--submissions", str(submissions), "--out", str(out)]
    elapsed = timed([*command, "--config", str(course.config_file)], folder)
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    full = [r for r in rows if r["status"] == "graded" and float(r["score"]) == 13]
    if len(full) != n:
        raise SystemExit(f"crm grade --jobs {jobs}: {n - len(full)} submissions not at full marks")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="submissions (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument(
        "--all", action="store_true", help="also time crm grade --jobs 1 and nbgrader + feedback"
    )
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 2:
        os.sched_setaffinity(0, cpus[:2])
    problem = grading.sandbox_problem()
    if problem:
        raise SystemExit(f"crm grade cannot sandbox here: {problem}")
    runs = {
        "nbgrader autograde (serial)": lambda f, t, s: nbgrader_serial(f, t, s, False),
        "crm grade --jobs 2": lambda f, t, s: crm_grade(f, t, s, 2, args.n),
    }
    if args.all:
        runs["nbgrader autograde + generate_feedback"] = lambda f, t, s: nbgrader_serial(
            f, t, s, True
        )
        runs["crm grade --jobs 1"] = lambda f, t, s: crm_grade(f, t, s, 1, args.n)
    times: dict[str, list[float]] = {name: [] for name in runs}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        template = tmp / "template"
        seed = make_course(template)
        submissions = tmp / "submissions"
        release = seed.folder("release") / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        write_submissions(release, submissions, args.n)
        for repeat in range(args.repeat):  # interleaved, so that other load hits all alike
            for number, (name, run) in enumerate(runs.items()):
                times[name].append(run(tmp / f"r{repeat}-{number}", template, submissions))
    # The best of the repeats: the run least disturbed by other processes.
    base = args.n / min(times["nbgrader autograde (serial)"]) * 60
    print(
        f"{args.n} submissions of {ASSIGNMENT}, {len(os.sched_getaffinity(0))} cores, "
        f"best of {args.repeat} (load average at start {load:.1f})"
    )
    print(f"{'run':<42}{'seconds':>9}{'all runs':>22}{'per minute':>12}{'vs baseline':>13}")
    for name, seconds in times.items():
        rate = args.n / min(seconds) * 60
        every = " ".join(f"{t:.0f}" for t in seconds)
        print(f"{name:<42}{min(seconds):>9.1f}{every:>22}{rate:>12.1f}{rate / base:>12.2f}x")


if __name__ == "__main__":
    main()
