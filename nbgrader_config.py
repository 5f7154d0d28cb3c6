"""nbgrader configuration of the workbook's course (read by ``nbgrader`` and ``crm grade``).

The masters (solutions and hidden tests) live in ``exercises/<assignment>/``,
which is nbgrader's source directory. Everything nbgrader generates (release,
submitted, autograded, feedback and the SQLite gradebook) lives in
``var/course/``, which git ignores.

``crm exercises release`` and ``crm grade`` read this file and then run every
submission in a sandboxed kernel. nbgrader's own tools read it too, and it
makes them safe for this course:

- feedback, however it is produced (``crm grade``, ``nbgrader
  generate_feedback``, formgrader's "Generate Feedback" button), hides the
  hidden tests, reduces a failing hidden test to its message, names each
  graded cell by its question and shows tracebacks without library frames
  or paths of this machine;
- ``nbgrader autograde`` and formgrader's "Autograde" button refuse to run
  (they would run student code unsandboxed, as the instructor) and point to
  ``crm grade``.
"""

from pathlib import Path

from crmlib.grading.feedback import FEEDBACK_PREPROCESSORS

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

# Feedback without hidden tests, whoever generates it (see crmlib.grading.feedback).
c.GenerateFeedback.preprocessors = FEEDBACK_PREPROCESSORS
c.GenerateFeedback.exporter_class = "crmlib.grading.feedback.FeedbackExporter"

# Autograding only through crm grade's sandbox: nbgrader's Autograde (the
# command and formgrader's button) gets an exporter that refuses to start.
c.Autograde.exporter_class = "crmlib.grading.feedback.CrmGradeOnly"
