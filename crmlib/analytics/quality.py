"""Data quality: the audit of a client's CRM data on five dimensions.

Completeness, uniqueness (duplicate people, through :mod:`crmlib.analytics.linkage`),
validity, consistency and timeliness, table by table (Batini & Scannapieco, *Data Quality:
Concepts, Methodologies and Techniques*, Springer 2006, ch. 2). Payne & Frow's information
management process reads it; so can any lesson or a consultant before a report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.analytics import linkage
from crmlib.data import schema as s
from crmlib.errors import CRMError

# --- names this module defines ------------------------------------------------------------
TABLE, DIMENSION, CHECK, ROWS, CHECKED, SCORE, KEY = (
    "table",
    "dimension",
    "check",
    "rows",
    "checked",
    "score",
    "key",
)
COMPLETENESS, UNIQUENESS, VALIDITY, CONSISTENCY, TIMELINESS = (
    "completeness",
    "uniqueness",
    "validity",
    "consistency",
    "timeliness",
)
DIMENSIONS = (COMPLETENESS, UNIQUENESS, VALIDITY, CONSISTENCY, TIMELINESS)
MAY_BE_EMPTY = frozenset(
    {
        ("tickets", s.CLOSED_AT),
        ("tickets", s.CSAT),
        ("interactions", s.CAMPAIGN_ID),
        ("cost_rates", s.CHANNEL),
        ("subscriptions", s.END_DATE),  # empty while the subscription is active
    }
)
DATE_COLUMNS = {
    "transactions": s.ORDER_DATE,
    "customers": s.SIGNUP_DATE,
    "interactions": s.TIMESTAMP,
    "tickets": s.OPENED_AT,
    "surveys": s.DATE,
    "campaigns": s.START_DATE,
}
OUT_OF_WINDOW = "after the as-of date"
FEED_TABLES = ("transactions", "customers", "interactions", "tickets", "surveys")
CUSTOMER_TABLES = ("transactions", "interactions", "tickets", "surveys", "subscriptions")


@dataclass
class DataQualityAudit:
    """A data-quality audit of every table of a client folder.

    Attributes
    ----------
    scores : DataFrame
        Index table, columns :data:`DIMENSIONS`: the score from 0 (every row
        fails) to 1 (no row fails); NaN where no check of the dimension applies.
    findings : DataFrame
        One row per check: table, dimension, check, rows (failing), checked
        (rows examined) and score.
    details : DataFrame
        The rows behind every finding: table, dimension, check, key (the
        table's key, or the file's line where it has none), source_row (the
        line in the input file). No personal data.
    duplicate_method : str
        How duplicate customers were found.
    """

    scores: pd.DataFrame
    findings: pd.DataFrame
    details: pd.DataFrame
    duplicate_method: str

    def rows(self, table: str, dimension: str) -> pd.DataFrame:
        """The rows behind the finding of ``table`` on ``dimension``.

        Returns
        -------
        DataFrame
            Columns key, source_row, check; one row per failing row and check.
        """
        if dimension not in DIMENSIONS:
            raise CRMError(f"unknown dimension {dimension!r}; dimensions: {', '.join(DIMENSIONS)}")
        if table not in self.scores.index:
            raise CRMError(
                f"the audit has no table {table!r}; tables: {', '.join(self.scores.index)}"
            )
        hit = (self.details[TABLE] == table) & (self.details[DIMENSION] == dimension)
        return self.details.loc[hit, [KEY, s.SOURCE_ROW, CHECK]].reset_index(drop=True)


def _key_column(table: str, frame: pd.DataFrame) -> str:
    key = s.TABLES[table].key
    return key if key and key in frame.columns else s.SOURCE_ROW


def _timeliness_score(age_days: float, fresh_days: int, stale_days: int) -> float:
    """1 up to ``fresh_days`` old, 0 from ``stale_days``, linear between."""
    if age_days <= fresh_days:
        return 1.0
    if age_days >= stale_days:
        return 0.0
    return 1.0 - (age_days - fresh_days) / (stale_days - fresh_days)


class _Findings:
    """Collects the checks of an audit: one summary row per check, one detail row per row hit."""

    def __init__(self):
        self.summary: list[dict] = []
        self.rows: list[pd.DataFrame] = []

    def add(self, table, dimension, check, keys, source_rows, checked, failing=None, score=None):
        """One check of ``table``: the rows it hit and the rows it examined.

        ``check`` is one label, or one label per row hit; ``failing`` (default:
        the distinct rows hit) and ``score`` (default: 1 - failing / checked)
        may be given where the rule counts otherwise.
        """
        source_rows = np.asarray(source_rows)
        if failing is None:
            failing = len(pd.unique(source_rows))
        if score is None:
            score = 1.0 - failing / checked if checked else np.nan
        self.summary.append(
            {
                TABLE: table,
                DIMENSION: dimension,
                CHECK: check if isinstance(check, str) else _summary_label(dimension),
                ROWS: int(failing),
                CHECKED: int(checked),
                SCORE: float(score),
            }
        )
        if len(source_rows):
            self.rows.append(
                pd.DataFrame(
                    {
                        TABLE: table,
                        DIMENSION: dimension,
                        CHECK: check if isinstance(check, str) else list(check),
                        KEY: pd.Series(list(keys), dtype="object"),
                        s.SOURCE_ROW: source_rows,
                    }
                )
            )

    def details(self) -> pd.DataFrame:
        columns = [TABLE, DIMENSION, CHECK, KEY, s.SOURCE_ROW]
        if not self.rows:
            return pd.DataFrame(columns=columns)
        return pd.concat(self.rows, ignore_index=True)[columns]


def _summary_label(dimension: str) -> str:
    return {
        COMPLETENESS: "empty values",
        UNIQUENESS: "duplicate records",
        VALIDITY: "rejected on loading",
    }.get(dimension, dimension)


def audit_data_quality(
    data,
    clusters: pd.DataFrame | None = None,
    link_people: bool = True,
    fresh_days: int = 31,
    stale_days: int = 365,
) -> DataQualityAudit:
    """Score every table on completeness, uniqueness, validity, consistency and timeliness.

    Payne & Frow's information management process rests on the quality of
    the customer data repository (Payne & Frow 2005, *Journal of
    Marketing* 69(4)); the five dimensions are the usual ones of data-quality
    assessment (Wang & Strong 1996, "Beyond accuracy: what data quality means
    to data consumers", *Journal of Management Information Systems* 12(4);
    Batini, Cappiello, Francalanci & Maurino 2009, "Methodologies for data
    quality assessment and improvement", *ACM Computing Surveys* 41(3)).
    Every score is ``1 - failing rows / rows checked``:

    completeness
        Rows of the table with an empty value in a column of the data
        contract, except the columns of :data:`MAY_BE_EMPTY`; over accepted rows.
    uniqueness
        Rows rejected on loading as exact copies or repeated keys (crmlib.data.io),
        and, for customers, the records beyond the first of each person
        (``records - persons``): persons come from ``clusters`` (e.g.
        :attr:`crmlib.analytics.linkage.DuplicateFinder.clusters_`), else from
        :func:`crmlib.analytics.linkage.find_duplicates` when ``link_people`` (splink),
        else only exact keys count. Over the rows read. Every record of a
        person with several is listed as a row behind the finding.
    validity
        Rows rejected on loading for any other reason (unparseable, out of
        range, malformed e-mail ...: the rejects of :mod:`crmlib.data.io`); over the
        rows read. Rows rejected only for being dated after the as-of date
        lie outside the window observed and count nowhere.
    consistency
        Rows that disagree with another table or with themselves: a customer
        id not in customers, a product not in products, a campaign not in
        campaigns, a ticket closed before it was opened, a campaign ending
        before it starts, a customer signed up after their first order, a
        record dated after the as-of date; over accepted rows.
    timeliness
        Age of the newest record against the as-of date: 1 up to
        ``fresh_days``, 0 from ``stale_days``, linear between; the row behind
        it is the newest record. Only the tables a live system feeds every
        day (:data:`FEED_TABLES`) are judged.

    Parameters
    ----------
    data : crmlib.data.io.ClientData
    clusters : DataFrame, optional
        Index customer_id with ``cluster_id``: the person of each record.
    link_people : bool, default True
    fresh_days, stale_days : int

    Returns
    -------
    DataQualityAudit
    """
    if not (0 <= fresh_days < stale_days):
        raise CRMError(
            f"fresh_days must be >= 0 and below stale_days, not {fresh_days} and {stale_days}"
        )
    when = pd.Timestamp(data.as_of).normalize()
    person_of, method = _persons(data, clusters, link_people)
    reasons = data.rejects["reason"].astype("str")
    # a row rejected for being dated after the as-of date lies outside the window: no defect
    later = reasons.str.startswith(OUT_OF_WINDOW)
    found = _Findings()
    tables = [name for name in data.tables if name in s.TABLES]
    for table in tables:
        frame = data.tables[table]
        key = _key_column(table, frame)
        mine = data.rejects["table"] == table
        read = data.reports[table].rows if table in data.reports else len(frame)
        read -= data.rejects.loc[mine & later, "row"].nunique()
        rejected = data.rejects.loc[mine & ~later]
        duplicate = rejected["reason"].astype("str").str.startswith("duplicate")

        _completeness(found, table, frame, key)
        _uniqueness(found, table, frame, key, rejected[duplicate], read, person_of)
        invalid = rejected[~duplicate]
        found.add(table, VALIDITY, invalid["reason"], [None] * len(invalid), invalid["row"], read)
        _consistency(found, data, table, frame, key, when)
        _timeliness(found, table, frame, key, when, fresh_days, stale_days)

    summary = pd.DataFrame(found.summary, columns=[TABLE, DIMENSION, CHECK, ROWS, CHECKED, SCORE])
    details = found.details()
    return DataQualityAudit(_dimension_scores(summary, details, tables), summary, details, method)


def _persons(data, clusters, link_people: bool) -> tuple[pd.Series | None, str]:
    """The person of each customer record, and how it was found."""
    if not data.has("customers"):
        return None, "exact keys only (no customers table)"
    if clusters is not None:

        if not isinstance(clusters, pd.DataFrame) or linkage.CLUSTER_ID not in clusters.columns:
            raise CRMError(
                "clusters must be a DataFrame indexed by customer_id with a cluster_id column "
                "(crmlib.analytics.linkage.DuplicateFinder.clusters_)"
            )
        return clusters[linkage.CLUSTER_ID], "the person clusters given"
    customers = data.tables["customers"]
    if link_people and {s.NAME, s.EMAIL, s.PHONE} & set(customers.columns):

        try:
            finder = linkage.find_duplicates(customers)
        except CRMError as exc:
            return None, f"exact keys only (record linkage not possible: {exc})"
        return finder.clusters_[linkage.CLUSTER_ID], (
            "splink record linkage (crmlib.analytics.linkage.find_duplicates)"
        )
    return None, "exact keys only"


def _completeness(found: _Findings, table: str, frame: pd.DataFrame, key: str) -> None:
    columns = [
        c for c in s.TABLES[table].names if c in frame.columns and (table, c) not in MAY_BE_EMPTY
    ]
    empty = frame[columns].isna()
    failing = empty.any(axis=1)
    labels = [
        "missing " + ", ".join(c for c, e in zip(columns, row, strict=True) if e)
        for row in empty.loc[failing].to_numpy()
    ]
    rows = frame.loc[failing]
    found.add(table, COMPLETENESS, labels, rows[key], rows[s.SOURCE_ROW], len(frame))


def _uniqueness(found, table, frame, key, duplicates, read, person_of) -> None:
    """Rejected copies and repeated keys; for customers also the records of one person."""
    checks = list(duplicates["reason"])
    keys = [None] * len(duplicates)  # a rejected row is not in the table: its line says where
    rows = list(duplicates["row"])
    surplus = 0
    if table == "customers" and person_of is not None:
        person = frame[s.CUSTOMER_ID].map(person_of.astype("object"))
        person = person.where(person.notna(), frame[s.CUSTOMER_ID])
        shared = person.map(person.value_counts()) > 1
        surplus = int(len(frame) - person.nunique())  # records beyond the first of each person
        checks += [f"same person as record {p}" for p in person[shared]]
        keys += list(frame.loc[shared, key])
        rows += list(frame.loc[shared, s.SOURCE_ROW])
    failing = duplicates["row"].nunique() + surplus
    found.add(table, UNIQUENESS, checks, keys, rows, read, failing=failing)


def _consistency(found, data, table: str, frame: pd.DataFrame, key: str, when) -> None:
    """Add the consistency checks that apply to ``table``, one finding per check."""
    checks = []
    if table in CUSTOMER_TABLES and data.has("customers") and s.CUSTOMER_ID in frame.columns:
        known = frame[s.CUSTOMER_ID].isin(data.tables["customers"][s.CUSTOMER_ID])
        checks.append(("customer not in customers", ~known))
    if table == "transactions" and data.has("products") and s.PRODUCT_ID in frame.columns:
        listed = frame[s.PRODUCT_ID].isin(data.tables["products"][s.PRODUCT_ID])
        checks.append(("product not in products", frame[s.PRODUCT_ID].notna() & ~listed))
    if table == "interactions" and data.has("campaigns") and s.CAMPAIGN_ID in frame.columns:
        listed = frame[s.CAMPAIGN_ID].isin(data.tables["campaigns"][s.CAMPAIGN_ID])
        checks.append(("campaign not in campaigns", frame[s.CAMPAIGN_ID].notna() & ~listed))
    if table == "tickets" and {s.OPENED_AT, s.CLOSED_AT} <= set(frame.columns):
        checks.append(("closed before opened", frame[s.CLOSED_AT] < frame[s.OPENED_AT]))
    if table == "campaigns" and {s.START_DATE, s.END_DATE} <= set(frame.columns):
        checks.append(("ends before it starts", frame[s.END_DATE] < frame[s.START_DATE]))
    if table == "customers" and s.SIGNUP_DATE in frame.columns:
        first = data.transactions.groupby(s.CUSTOMER_ID)[s.ORDER_DATE].min()
        late = frame[s.SIGNUP_DATE] > frame[s.CUSTOMER_ID].map(first)
        checks.append(("signed up after their first order", late))
    date = DATE_COLUMNS.get(table)
    if date in frame.columns:
        checks.append(("dated after the as-of date", frame[date].dt.normalize() > when))
    for name, failing in checks:
        rows = frame.loc[failing.fillna(False).astype(bool)]
        found.add(table, CONSISTENCY, name, rows[key], rows[s.SOURCE_ROW], len(frame))


def _timeliness(found, table, frame, key, when, fresh_days: int, stale_days: int) -> None:
    """The age of the newest record of a table a live system feeds every day."""
    date = DATE_COLUMNS.get(table) if table in FEED_TABLES else None
    if date not in frame.columns or frame[date].isna().all():
        return
    newest = frame[date].max()
    age = max((when - newest.normalize()).days, 0)
    rows = frame.loc[frame[date] == newest]
    found.add(
        table,
        TIMELINESS,
        f"newest record {age} days before the as-of date",
        rows[key],
        rows[s.SOURCE_ROW],
        len(frame),
        failing=len(rows),
        score=_timeliness_score(age, fresh_days, stale_days),
    )


def _dimension_scores(found: pd.DataFrame, details: pd.DataFrame, tables: list[str]):
    """Per table and dimension: 1 - rows failing any of its checks / rows checked.

    A row failing two checks counts once (the rows are those of ``details``);
    uniqueness counts the surplus records of ``found``; timeliness keeps its own score.
    """
    out = pd.DataFrame(np.nan, index=pd.Index(tables, name=TABLE), columns=list(DIMENSIONS))
    for (table, dimension), part in found.groupby([TABLE, DIMENSION], sort=False):
        checked = part[CHECKED].max()
        if dimension == TIMELINESS:
            out.loc[table, dimension] = part[SCORE].min()
            continue
        if dimension == UNIQUENESS:
            failing = part[ROWS].sum()
        else:
            mine = details[(details[TABLE] == table) & (details[DIMENSION] == dimension)]
            failing = mine[s.SOURCE_ROW].nunique()
        out.loc[table, dimension] = 1.0 - failing / checked if checked else np.nan
    return out
