"""Student submissions for the grading tests, written from the foundations notebooks.

Each submission starts from the student version (the release notebook) and
replaces the answer cells, found by their nbgrader grade id, with code that
is right, wrong or hostile. ``EXPECTED`` says what grading must make of each.

The autograded points of foundations are, per question (visible + hidden
tests): q1 1 + 2, q2 1 + 2, q3 1 + 3, q4 1 + 2, q5c (the model chooser's score) 1 + 2,
16 in all; q5_written (question 6, 3 points) is graded by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

POINTS = {"q1": 3, "q2": 3, "q3": 4, "q4": 3, "q5c": 3}
AUTOGRADED = sum(POINTS.values())
MANUAL = 3  # q5_written, graded by hand
MAX_SCORE = AUTOGRADED + MANUAL
HIDDEN = {"q1": 2, "q2": 2, "q3": 3, "q4": 2, "q5c": 2}

WRITTEN_ANSWER = (
    "Buttle's CRM value chain: the top 20 % of customers bring two thirds of the revenue, "
    "so customer portfolio analysis comes first. Many channels acting apart would call "
    "for Payne & Frow instead."
)

# q1 rounds the top group down (int instead of ceil): the visible tests pass,
# the hidden ones (5 customers, top 30 %) do not.
WRONG_Q1 = """
def revenue_concentration(transactions, top=0.2):
    per_customer = transactions.groupby("customer_id")["revenue"].sum()
    per_customer = per_customer.sort_values(ascending=False)
    n_top = int(top * len(per_customer))
    return per_customer.iloc[:n_top].sum() / per_customer.sum()
"""

# q4 returns the BTYD recency (first to last purchase) instead of the RFM one.
WRONG_Q4 = """
def rfm_recency(transactions, end):
    bought = transactions.loc[transactions["order_date"] <= pd.Timestamp(end)]
    dates = bought.groupby("customer_id")["order_date"]
    return (dates.max() - dates.min()).dt.days / 7
"""

INFINITE_LOOP = """
while True:
    pass
"""

PRINT_FLOOD = """
while True:
    print("spam " * 200)
"""

MEMORY_BOMB = """
import numpy as np

hoard = []
while True:
    hoard.append(np.ones(2**30))  # 8 GiB more each time
"""

KILL_KERNEL = """
import os
import signal

os.kill(os.getpid(), signal.SIGKILL)
"""

EXIT_KERNEL = """
import os

os._exit(0)
"""

SNOOP = """
import glob
import os
import socket
import stat

SECRETS = {secrets!r}
leaks = []
for path in SECRETS:
    try:
        with open(path, "rb") as handle:
            handle.read(100)
        leaks.append(path)
    except OSError:
        pass
for path in SECRETS:
    try:
        with open(path, "ab") as handle:
            handle.write(b"tampered")
        leaks.append("wrote " + path)
    except OSError:
        pass
# Notebooks and databases anywhere in sight that hold this exercise's hidden tests.
for top in ["."] + [d for d in glob.glob("/*") if d not in ("/proc", "/sys", "/dev", "/usr")]:
    for folder, _, files in os.walk(top):
        for name in files:
            if name.endswith((".ipynb", ".db")):
                path = os.path.join(folder, name)
                try:
                    with open(path, "rb") as handle:
                        text = handle.read()
                except OSError:
                    continue
                if b"BEGIN HIDDEN TESTS" in text and b"revenue_concentration" in text:
                    leaks.append(path)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2).close()
    leaks.append("network")
except OSError:
    pass
try:  # a device node of the first disk would let it mount the host's files
    os.mknod("/tmp/disk", 0o600 | stat.S_IFBLK, os.makedev(8, 0))
    leaks.append("mknod")
except OSError:
    pass
print("LEAKED: " + ", ".join(leaks) if leaks else "nothing leaked")
"""


def master_solutions(master: Path) -> dict[str, str]:
    """The master's answer cells by grade id, with the solution markers removed."""
    nb = nbformat.read(master, as_version=4)
    answers = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            lines = [line for line in cell.source.splitlines() if "### " not in line]
            answers[meta["grade_id"]] = "\n".join(lines)
    return answers


def write_notebook(release: Path, answers: dict[str, str], dest: Path) -> Path:
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id].strip("\n")
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


def write_submissions(master: Path, release: Path, folder: Path, secrets: list[str]) -> None:
    """Write ``folder/<student>/foundations.ipynb`` for every student of ``EXPECTED``.

    Parameters
    ----------
    master, release : Path
        The master and the student version of ``foundations.ipynb``.
    folder : Path
        The submissions folder to fill.
    secrets : list of str
        Paths the snooping submission tries to read and write.
    """
    right = {**master_solutions(master), "q5_written": WRITTEN_ANSWER}
    name = "foundations.ipynb"
    variants = {
        "correct": right,
        "wrong": {**right, "q1_answer": WRONG_Q1, "q4_answer": WRONG_Q4},
        "loop": {**right, "q2_answer": INFINITE_LOOP},
        "flood": {**right, "q3_answer": PRINT_FLOOD},
        "membomb": {**right, "q1_answer": MEMORY_BOMB},
        "killer": {**right, "q2_answer": KILL_KERNEL},
        "exiter": {**right, "q4_answer": EXIT_KERNEL},
        "snoop": {**right, "q1_answer": SNOOP.format(secrets=secrets) + right["q1_answer"]},
    }
    for student, answers in variants.items():
        write_notebook(release, answers, folder / student / name)
    write_notebook(release, {}, folder / "blank" / name)
    (folder / "master").mkdir(parents=True)
    (folder / "master" / name).write_bytes(master.read_bytes())
    (folder / "misnamed").mkdir(parents=True)
    (folder / "misnamed" / "Foundations (1).ipynb").write_bytes(release.read_bytes())
    (folder / "broken").mkdir(parents=True)
    text = release.read_text(encoding="utf-8")
    (folder / "broken" / name).write_text(re.sub(r"\}\s*$", "", text), encoding="utf-8")


# student -> (status, autograded score, words the reason must contain)
EXPECTED = {
    "master": ("graded", AUTOGRADED, ["by hand"]),
    "correct": ("graded", AUTOGRADED, ["by hand"]),
    "blank": ("graded", 0, []),
    "wrong": ("graded", AUTOGRADED - HIDDEN["q1"] - POINTS["q4"], []),
    "loop": ("timeout", AUTOGRADED - POINTS["q2"], ["q2_answer", "time limit"]),
    "flood": ("graded", AUTOGRADED - POINTS["q3"], ["q3_answer", "printed more"]),
    "membomb": ("graded", AUTOGRADED - POINTS["q1"], ["q1_answer", "out of memory"]),
    "killer": ("crashed", POINTS["q1"], ["q2_answer", "kernel died"]),
    "exiter": ("crashed", POINTS["q1"] + POINTS["q2"] + POINTS["q3"], ["q4_answer"]),
    "snoop": ("graded", AUTOGRADED, []),
    "misnamed": ("missing", 0, ["Foundations (1).ipynb"]),
    "broken": ("error", None, ["not a valid notebook"]),
}


# Answers that only wrap the workbook's own implementations (the answer key a
# student can import), each reached another way: an aliased name, a module
# alias, a dotted import. Graded as they are, they earn every point.
WRAPPED = {
    "q1_answer": """
from crmlib.analytics.concentration import revenue_concentration as _share


def revenue_concentration(transactions, top=0.2):
    return _share(transactions, top)
""",
    "q3_answer": """
from crmlib.analytics import summary as cs


def btyd_summary(transactions, end):
    weekly = cs.customer_summary(transactions, as_of=end, time_unit="W")
    return weekly[["frequency", "recency", "T"]]
""",
    "q4_answer": """
import crmlib.models.idic


def rfm_recency(transactions, end):
    lines = transactions.assign(revenue=transactions.get("revenue", 1.0))
    return crmlib.models.idic.rfm_values(lines, as_of=end)["recency_days"] / 7
""",
}
# The names each wrapped answer reaches, as the reason must give them.
WRAPPED_NAMES = {
    "q1": "crmlib.analytics.concentration.revenue_concentration",
    "q3": "crmlib.analytics.summary.customer_summary",
    "q4": "crmlib.models.idic.rfm_values",
}

# q2 fails inside pandas (a column that does not exist): its visible tests
# print a traceback through the library.
CRASH_Q2 = """
def acquired_per_month(transactions):
    return transactions.groupby("first_order_date")["customer_id"].count()
"""
