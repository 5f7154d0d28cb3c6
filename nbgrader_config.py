"""nbgrader configuration of the workbook's course (read by ``nbgrader`` and ``crm grade``).

The masters (solutions and hidden tests) live in ``exercises/<assignment>/``,
which is nbgrader's source directory. Everything nbgrader generates (release,
submitted, autograded, feedback and the SQLite gradebook) lives in
``var/course/``, which git ignores.

``crm exercises release`` and ``crm grade`` read this file and then run every
submission in a sandboxed kernel; plain ``nbgrader autograde`` run from the
repository root uses the same folders but runs student code unsandboxed, as
the instructor.
"""

from pathlib import Path

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

_HERE = Path(__file__).resolve().parent
_COURSE = _HERE / "var" / "course"

c.CourseDirectory.course_id = "crm-workbook"
c.CourseDirectory.root = str(_COURSE)
c.CourseDirectory.source_directory = str(_HERE / "exercises")
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = f"sqlite:///{_COURSE / 'gradebook.db'}"

# Per-cell time limit (seconds); crm grade --timeout overrides it.
c.Execute.timeout = 30

# Student versions: solution regions become this stub.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
