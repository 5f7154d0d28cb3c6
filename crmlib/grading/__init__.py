"""Release nbgrader exercises, autograde submissions in a sandbox, return grades and feedback.

The course is an nbgrader course configured by ``nbgrader_config.py`` at the
repository root: the masters live in ``exercises/<assignment>/``; the student
versions, submissions, autograded notebooks, feedback and the SQLite gradebook
live in ``var/course/``. One module per job, each importing only the ones
above it in this list:

- :mod:`~crmlib.grading.course`: the course (:class:`Course`), its lock,
  nbgrader's converters, the markers and helpers every step shares;
- :mod:`~crmlib.grading.answer_key`: the crmlib names a question's answer
  must not use, and the static scan that finds them;
- :mod:`~crmlib.grading.release`: check a master, release its student
  version (``crm exercises check``, ``crm exercises release``);
- :mod:`~crmlib.grading.roster`: the class roster;
- :mod:`~crmlib.grading.submissions`: submission folders and LMS downloads;
- :mod:`~crmlib.grading.sandbox`: bubblewrap, limits, the guarded Execute;
- :mod:`~crmlib.grading.feedback`: the feedback pipeline and exporter that
  ``nbgrader_config.py`` names;
- :mod:`~crmlib.grading.rubric`: the model answer beside hand-graded cells;
- :mod:`~crmlib.grading.worker`: one submission graded in a worker process;
- :mod:`~crmlib.grading.batch`: a batch graded in parallel (``crm grade``);
- :mod:`~crmlib.grading.gradebook`: the class's grades for the LMS
  (``crm grades``);
- :mod:`~crmlib.grading.feedback_return`: feedback generated, checked and
  packed for the LMS (``crm feedback``).

This package re-exports each module's public names.
"""

from crmlib.grading.answer_key import (
    ANSWER_KEY_METADATA,
    AnswerKeyRule,
    answer_key_aliases,
    answer_key_references,
    answer_key_rules,
    answer_key_uses,
    declared_answer_key,
)
from crmlib.grading.batch import (
    CSV_COLUMNS,
    STATUSES,
    GradeResult,
    default_jobs,
    grade,
    write_grades_csv,
)
from crmlib.grading.course import (
    DEFAULT_CONFIG,
    HIDDEN_BEGIN,
    HIDDEN_END,
    REPO_ROOT,
    SOLUTION_BEGIN,
    SOLUTION_END,
    Course,
    released_assignment,
)
from crmlib.grading.feedback import (
    AUTOGRADE_REFUSAL,
    FEEDBACK_PREPROCESSORS,
    FEEDBACK_TEMPLATE_FILE,
    CleanTracebacks,
    CrmGradeOnly,
    FeedbackExporter,
    HideHiddenTests,
    NameQuestions,
    feedback_template_dirs,
    without_paths,
)
from crmlib.grading.feedback_return import (
    FEEDBACK_FORMATS,
    FeedbackPackage,
    check_feedback,
    generate_feedback,
    hidden_test_lines,
    package_feedback,
)
from crmlib.grading.gradebook import FORMATS, StudentGrade, class_report, question_of, write_grades
from crmlib.grading.release import check_master, release
from crmlib.grading.roster import (
    ROSTER_COLUMNS,
    ROSTER_OPTIONAL,
    RosterStudent,
    apply_roster,
    read_roster,
)
from crmlib.grading.rubric import RUBRIC_TITLE, WithholdRubric, add_rubric_cells, rubric_withheld
from crmlib.grading.sandbox import (
    SANDBOX_HOME,
    GuardedExecute,
    Limits,
    SandboxedKernelManager,
    sandbox_command,
    sandbox_problem,
)
from crmlib.grading.submissions import (
    SUBMISSION_COLUMNS,
    SUBMISSIONS_FILE,
    Entry,
    Submission,
    assign_students,
    collect_zip,
    find_submissions,
    identify_entry,
    record_submissions,
    submissions_record,
    write_submissions_record,
    zip_times,
)

__all__ = [
    "ANSWER_KEY_METADATA",
    "AUTOGRADE_REFUSAL",
    "CSV_COLUMNS",
    "DEFAULT_CONFIG",
    "FEEDBACK_FORMATS",
    "FEEDBACK_PREPROCESSORS",
    "FEEDBACK_TEMPLATE_FILE",
    "FORMATS",
    "HIDDEN_BEGIN",
    "HIDDEN_END",
    "REPO_ROOT",
    "ROSTER_COLUMNS",
    "ROSTER_OPTIONAL",
    "RUBRIC_TITLE",
    "SANDBOX_HOME",
    "SOLUTION_BEGIN",
    "SOLUTION_END",
    "STATUSES",
    "SUBMISSIONS_FILE",
    "SUBMISSION_COLUMNS",
    "AnswerKeyRule",
    "CleanTracebacks",
    "Course",
    "CrmGradeOnly",
    "Entry",
    "FeedbackExporter",
    "FeedbackPackage",
    "GradeResult",
    "GuardedExecute",
    "HideHiddenTests",
    "Limits",
    "NameQuestions",
    "RosterStudent",
    "SandboxedKernelManager",
    "StudentGrade",
    "Submission",
    "WithholdRubric",
    "add_rubric_cells",
    "answer_key_aliases",
    "answer_key_references",
    "answer_key_rules",
    "answer_key_uses",
    "apply_roster",
    "assign_students",
    "check_feedback",
    "check_master",
    "class_report",
    "collect_zip",
    "declared_answer_key",
    "default_jobs",
    "feedback_template_dirs",
    "find_submissions",
    "generate_feedback",
    "grade",
    "hidden_test_lines",
    "identify_entry",
    "package_feedback",
    "question_of",
    "read_roster",
    "record_submissions",
    "release",
    "released_assignment",
    "rubric_withheld",
    "sandbox_command",
    "sandbox_problem",
    "submissions_record",
    "without_paths",
    "write_grades",
    "write_grades_csv",
    "write_submissions_record",
    "zip_times",
]
