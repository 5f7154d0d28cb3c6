"""Record linkage: one customer once the records of one person are linked.

The workbook's one definition of *a customer* across source systems (IDIC's Identify task,
Payne & Frow's information management and the pipeline use it): :func:`find_duplicates`
(a :class:`DuplicateFinder`) links the records of one person across source systems with
splink's Fellegi-Sunter model (Fellegi & Sunter 1969, "A theory for record linkage", *JASA*
64(328)): blocking rules choose the candidate pairs, u probabilities are estimated from random
pairs, m probabilities by expectation maximisation, and pairs above a match probability are
clustered (connected components). :func:`merge_customers` turns the clusters into one golden
record per person and applies the id map to every table. :func:`crmlib.analytics.linkquality.pairwise_link_quality` scores
clusters against a known truth. :func:`identify` is the one Identify step of every lesson and
of ``crm report``: it links the records (or reads the links :func:`write_finder` saved) and,
when they come from several source systems or hold duplicates, returns the data on persons;
:func:`buyers` is the one definition of a customer (a person with a purchase by the as-of date).

Personal data (names, e-mails, phones) is used to match records and is never put into a
message, a returned table of pairs or a chart; :func:`mask` hides it for the few masked
examples a lesson may show.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import shutil
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

if TYPE_CHECKING:
    from crmlib.data.io import ClientData
from crmlib.data.checks import describe_rows, need_columns, row_labels

# --- columns the linkage adds (derived, not in crmlib.data.schema) ----------------------------
CLUSTER_ID = "cluster_id"
CLUSTER_SIZE = "cluster_size"
MATCH_PROBABILITY = "match_probability"
MATCH_WEIGHT = "match_weight"
CUSTOMER_ID_L = "customer_id_l"
CUSTOMER_ID_R = "customer_id_r"
RECORDS = "records"
SOURCE_SYSTEMS = "source_systems"
SEED = 20240401  # the one declared seed of the linkage's random steps (u sampling)


def normalise_email(values: pd.Series) -> pd.Series:
    """E-mail addresses trimmed and lower-cased; empty ones missing.

    The domain part of an address is case-insensitive (RFC 5321, sec. 2.4),
    and in practice mail providers treat the local part so too: ``Ann@X.com``
    and ``ann@x.com`` are one address.
    """
    return _lower_trimmed(values)


def _lower_trimmed(values: pd.Series) -> pd.Series:
    text = values.astype("str").str.strip().str.lower()
    return text.mask(values.isna() | (text == ""))


def normalise_phone(values: pd.Series, country_code: str = "44") -> pd.Series:
    """Phone numbers as digits in one national form.

    Digits only; a number written internationally (``+`` or ``00`` first)
    loses that prefix, and the home ``country_code`` is then dropped; a
    national number loses its trunk ``0``. So ``+44 20 7946 0018``,
    ``0044 20 7946 0018`` and ``(020) 7946-0018`` all become ``2079460018``
    (ITU-T E.164 numbering; the trunk prefix 0 is the UK's and most of Europe's).
    A foreign number keeps its country code. Fewer than 6 digits: missing.
    """
    raw = values.astype("str").str.strip()
    international = raw.str.startswith("+") | raw.str.startswith("00")
    digits = raw.str.replace(r"\D", "", regex=True)
    digits = digits.where(~raw.str.startswith("00"), digits.str.slice(2))
    home = international & digits.str.startswith(country_code)
    digits = digits.where(~home, digits.str.slice(len(country_code)))
    digits = digits.where(international, digits.str.replace(r"^0", "", regex=True))
    return digits.mask(values.isna() | (digits.str.len() < 6))


def _name_parts(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """First and last word of a name: lower case, accents and punctuation removed."""

    def clean(text):
        if not isinstance(text, str):
            return None
        folded = unicodedata.normalize("NFKD", text)
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
        words = re.sub(r"[^a-z' -]", " ", folded).replace("-", " ").split()
        return words or None

    words = values.map(clean, na_action="ignore")
    first = words.map(lambda w: w[0] if isinstance(w, list) else None)
    last = words.map(lambda w: w[-1] if isinstance(w, list) and len(w) > 1 else None)
    return first, last


def mask(values: pd.Series) -> pd.Series:
    """Personal data masked for display: the first character of each word, then ``*``.

    ``Ann Smith`` becomes ``A** S****``; in an e-mail only the first
    character of the local part is kept (``a***@example.com``); in a phone
    number only the last two digits (``*********18``).
    """

    def one(text):
        if not isinstance(text, str):
            return text
        if "@" in text:
            user, _, domain = text.partition("@")
            return user[:1] + "*" * max(len(user) - 1, 1) + "@" + domain
        digits = re.sub(r"\D", "", text)
        if len(digits) >= 6 and len(digits) >= len(text.replace(" ", "")) - 3:
            return "*" * (len(digits) - 2) + digits[-2:]
        return " ".join(w[:1] + "*" * (len(w) - 1) for w in text.split())

    return values.map(one)


@contextmanager
def _captured_splink_log(messages: list[str]):
    """Collect splink's log messages into ``messages`` instead of printing them."""
    logger = logging.getLogger("splink")
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage().strip())
    saved = logger.level, logger.propagate, list(logger.handlers)
    for h in saved[2]:
        logger.removeHandler(h)
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        for h in saved[2]:
            logger.addHandler(h)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


#: Starting m probabilities per comparison level (closest level first, "else" last):
#: EM re-estimates every level it observes; a level it never observes keeps its
#: start instead of carrying no evidence. E.g. pairs blocked on phone are almost
#: all true matches, so "first names differ" is rarely seen there.
M_START = {
    "email": [0.80, 0.15, 0.05],
    "phone": [0.90, 0.10],
    "name": [0.70, 0.20, 0.07, 0.03],
    "city": [0.85, 0.15],
}


class DuplicateFinder:
    """Find the records of one person across source systems (splink, DuckDB backend).

    The Fellegi-Sunter model (Fellegi & Sunter 1969) scores a candidate pair
    of records by the sum of the log Bayes factors log2(m/u) of its
    comparison levels, where m = P(level | same person) and u = P(level |
    different persons), plus the prior log odds of a match; the match
    probability is the logistic of that sum. The comparisons, each on a
    normalised column (:func:`normalise_email`, :func:`normalise_phone`, the
    first and last word of the name):

    - e-mail: exact match, else the same address before the ``@`` (a person
      who changed provider), else different;
    - phone: exact match of the national digits;
    - first name, surname: exact, Jaro-Winkler >= 0.92, >= 0.80, else;
    - city: exact.

    Candidate pairs come from blocking rules (same e-mail, same phone, same
    e-mail user name, same surname and first initial, same first name and
    city). u is estimated from random pairs; m by expectation maximisation,
    starting from :data:`M_START`, on pairs blocked on phone and then on
    surname and first initial (each comparison is trained in a session that
    does not block on it); the prior from the pairs that share an e-mail, or
    a phone and a surname, assuming these find 80 % of the true matches
    (:func:`_prior_match_probability`).
    Records linked at ``threshold`` or above are clustered by connected
    components. On planted duplicates this set-up scores F1 0.99-1.0, where
    splink's default comparisons over-link (F1 0.85): an e-mail user name
    mostly repeats the person's name, so the two must not count twice.

    Parameters
    ----------
    threshold : float, default 0.9
        Match probability at or above which two records are the same person.
    review_floor : float, default 0.01
        Pairs scored at or above this are kept in ``pairs_`` (for review of
        the grey zone below ``threshold``).
    max_pairs : float, default 2e6
        Random pairs sampled to estimate u.
    country_code : str, default "44"
        The home country's calling code, for :func:`normalise_phone`.
    seed : int
        Seed of the random sampling of pairs. When all pairs of records number
        no more than ``max_pairs``, u is counted on every pair instead (exact,
        with no sample that could differ between engines).
    engine : {"duckdb", "pandas", "spark"}
        splink's backend: DuckDB in this process ("pandas", the workbook's
        in-memory engine, means the same here), or Spark
        (:func:`crmlib.spark.spark_session`, for a cluster). Both find the
        same links on the same records (tests/test_engines.py); u of the fuzzy
        name levels may differ by a few per cent, because DuckDB's
        Jaro-Winkler function and splink's Java one differ on some names.
    spark_master : str, optional
        For ``engine="spark"``: the cluster's master URL.

    Attributes
    ----------
    pairs_ : pandas.DataFrame
        ``customer_id_l``, ``customer_id_r``, ``match_probability``,
        ``match_weight`` and each comparison's own weight ``mw_<comparison>``
        = log2(m / u) of the pair's level (0 when a value is missing), so that
        ``match_weight`` = log2(prior / (1 - prior)) + the sum of the ``mw_``
        columns; no personal data.
    clusters_ : pandas.DataFrame
        One row per record, indexed by ``customer_id``: ``cluster_id`` (the
        cluster's smallest customer id), ``cluster_size`` and
        ``match_probability`` (the strongest link to another record of its
        cluster; missing for a record alone).
    parameters_ : pandas.DataFrame
        The trained model: ``comparison``, ``level``, ``m``, ``u`` and
        ``bayes_factor`` (m / u) per comparison level.
    probability_two_random_records_match_ : float
        The prior the match weights use: the estimate from deterministic rules, as
        splink's training left it (an EM session can move it on a small table).
    n_records_ : int
    log_ : list of str
        splink's warnings during training (e.g. a level never observed).

    References
    ----------
    Fellegi, I. P., & Sunter, A. B. (1969). A theory for record linkage.
    Journal of the American Statistical Association, 64(328), 1183-1210.
    Linacre, R., et al. (2022). Splink: Free software for probabilistic record
    linkage at scale. International Journal of Population Data Science, 7(3).
    """

    def __init__(
        self,
        threshold: float = 0.9,
        review_floor: float = 0.01,
        max_pairs: float = 2e6,
        country_code: str = "44",
        seed: int = SEED,
        engine: str = "duckdb",
        spark_master: str | None = None,
    ):
        self.threshold = threshold
        self.review_floor = review_floor
        self.max_pairs = max_pairs
        self.country_code = country_code
        self.seed = seed
        self.engine = engine
        self.spark_master = spark_master

    def _prepare(self, customers: pd.DataFrame) -> pd.DataFrame:
        need_columns(customers, "customers", (s.CUSTOMER_ID,), purpose="for find_duplicates")
        present = [
            c for c in (s.NAME, s.EMAIL, s.PHONE) if c in customers and customers[c].notna().any()
        ]
        if not present:
            raise DataError(
                "find_duplicates: the customers table needs at least one of the columns "
                f"{s.NAME}, {s.EMAIL}, {s.PHONE} to compare records",
                file="customers",
                column=s.NAME,
            )
        ids = customers[s.CUSTOMER_ID].astype("str")
        if customers[s.CUSTOMER_ID].isna().any():
            raise DataError(
                "find_duplicates: customers.customer_id is empty in "
                + describe_rows(customers, customers[s.CUSTOMER_ID].isna()),
                file="customers",
                row=row_labels(customers, customers[s.CUSTOMER_ID].isna()),
                column=s.CUSTOMER_ID,
            )
        repeated = ids.duplicated().to_numpy()
        if repeated.any():
            raise DataError(
                f"find_duplicates: customers.customer_id repeats in {describe_rows(customers, repeated)}; "
                "each record needs its own id",
                file="customers",
                row=row_labels(customers, repeated),
                column=s.CUSTOMER_ID,
            )
        frame = pd.DataFrame({"unique_id": ids.to_numpy()})
        if s.NAME in present:
            first, last = _name_parts(customers[s.NAME])
            frame["first_name"] = first.to_numpy()
            frame["surname"] = last.to_numpy()
        if s.EMAIL in present:
            email = normalise_email(customers[s.EMAIL])
            frame["email"] = email.to_numpy()
            frame["email_user"] = email.str.split("@").str[0].to_numpy()
        if s.PHONE in present:
            frame["phone"] = normalise_phone(customers[s.PHONE], self.country_code).to_numpy()
        if s.CITY in customers:
            frame["city"] = _lower_trimmed(customers[s.CITY]).to_numpy()
        frame = frame.astype(object)
        return frame.where(frame.notna(), None)

    def _settings(self, frame: pd.DataFrame):
        import splink.comparison_level_library as cll
        import splink.comparison_library as cl
        from splink import SettingsCreator, block_on

        has = set(frame.columns)
        comparisons, rules = [], []
        if "email" in has:
            email = cl.CustomComparison(
                output_column_name="email",
                comparison_levels=[
                    cll.NullLevel("email"),
                    cll.ExactMatchLevel("email"),
                    cll.ExactMatchLevel("email_user"),
                    cll.ElseLevel(),
                ],
            )
            comparisons.append(email.configure(m_probabilities=M_START["email"]))
            rules += [block_on("email"), block_on("email_user")]
        if "phone" in has:
            comparisons.append(cl.ExactMatch("phone").configure(m_probabilities=M_START["phone"]))
            rules.append(block_on("phone"))
        if "first_name" in has:
            comparisons += [
                cl.JaroWinklerAtThresholds(column, [0.92, 0.8]).configure(
                    m_probabilities=M_START["name"]
                )
                for column in ("first_name", "surname")
            ]
            rules.append(block_on("surname", "substr(first_name, 1, 1)"))
            if "city" in has:
                rules.append(block_on("first_name", "city"))
        if "city" in has:
            comparisons.append(cl.ExactMatch("city").configure(m_probabilities=M_START["city"]))
        return SettingsCreator(
            link_type="dedupe_only",
            comparisons=comparisons,
            blocking_rules_to_generate_predictions=rules,
            retain_matching_columns=False,
            retain_intermediate_calculation_columns=True,  # keeps each comparison's weight
        )

    def fit(self, customers: pd.DataFrame) -> DuplicateFinder:
        """Train the match model on the customers table and cluster its records.

        Parameters
        ----------
        customers : pandas.DataFrame
            ``customer_id`` and any of ``name``, ``email``, ``phone``, ``city``.

        Returns
        -------
        self

        Raises
        ------
        crmlib.errors.DataError
            No ``customer_id``, none of name / e-mail / phone, or a repeated
            or empty id.
        """
        with self.trained(customers) as (frame, linker):
            scored = None if linker is None else linker.inference.predict(self.review_floor)
            pairs = None if scored is None else _pairs(scored.as_pandas_dataframe())
        empty = [CUSTOMER_ID_L, CUSTOMER_ID_R, MATCH_PROBABILITY, MATCH_WEIGHT]
        self.pairs_ = (pd.DataFrame(columns=empty) if pairs is None else pairs).reset_index(
            drop=True
        )
        self.clusters_ = _clusters(frame["unique_id"], self.pairs_, self.threshold)
        return self

    @contextmanager
    def trained(self, customers: pd.DataFrame):
        """Train the match model; yield splink's trained linker, open in its backend.

        :meth:`fit` up to scoring the pairs, for a caller that scores them elsewhere
        (:func:`crmlib.analytics.linkage_spark.write_clusters`). Sets ``n_records_``,
        ``log_``, ``parameters_`` and the prior.

        Yields
        ------
        (frame, linker)
            The prepared records (pandas: ``unique_id``, normalised columns) and
            splink's ``Linker`` (``None`` for fewer than two records).
        """
        if not 0 < self.threshold < 1:
            raise CRMError(f"threshold is a match probability in (0, 1), not {self.threshold}")
        frame = self._prepare(customers)
        self.n_records_ = len(frame)
        self.log_ = []
        self.parameters_ = pd.DataFrame(columns=["comparison", "level", "m", "u", "bayes_factor"])
        self.probability_two_random_records_match_ = float("nan")
        if len(frame) < 2:
            yield frame, None
            return
        from splink import Linker, block_on
        from splink.internals.exceptions import EMTrainingException

        self.probability_two_random_records_match_ = _prior_match_probability(frame)
        settings = self._settings(frame)
        settings.probability_two_random_records_match = self.probability_two_random_records_match_
        n = len(frame)
        every_pair = n * (n - 1) / 2 <= self.max_pairs
        with (
            _captured_splink_log(self.log_),
            _splink_backend(self.engine, self.spark_master) as db_api,
        ):
            linker = Linker(db_api.register(frame), settings, log_level=None)
            training = linker.training
            training.estimate_u_using_random_sampling(
                max_pairs=self.max_pairs,
                seed=self.seed,
                min_count_per_level=None if every_pair else 100,
                num_chunks=1 if every_pair else 10,
            )
            # an EM session trains the comparisons its blocking rule does not use
            present = {"email", "phone", "first_name", "surname", "city"} & set(frame.columns)
            sessions = [
                (label, rule)
                for key, label, rule, blocked in (
                    ("phone", "phone", block_on("phone"), {"phone"}),
                    (
                        "surname",
                        "surname and first initial",
                        block_on("surname", "substr(first_name, 1, 1)"),
                        {"surname", "first_name"},
                    ),
                    ("email_user", "e-mail user name", block_on("email_user"), {"email"}),
                )
                if key in frame.columns and present - blocked
            ]
            for label, rule in sessions[:2]:
                try:
                    training.estimate_parameters_using_expectation_maximisation(rule)
                except EMTrainingException:  # no pair shares the key: keep the m starts
                    self.log_.append(f"m not re-estimated on pairs of the same {label}: none")
            model = linker.misc.save_model_to_json()
            self.parameters_ = _parameters(model, linker)
            # the prior the weights are scored with: training may move it from the start above
            self.probability_two_random_records_match_ = float(
                model["probability_two_random_records_match"]
            )
            yield frame, linker


def _pairs(predictions: pd.DataFrame) -> pd.DataFrame:
    """splink's scored pairs as ``pairs_``: ids, probability, weights; strongest first."""
    weights = [c for c in predictions.columns if c.startswith("mw_")]
    pairs = predictions[["unique_id_l", "unique_id_r", MATCH_PROBABILITY, MATCH_WEIGHT, *weights]]
    pairs = pairs.rename(columns={"unique_id_l": CUSTOMER_ID_L, "unique_id_r": CUSTOMER_ID_R})
    return pairs.sort_values(MATCH_PROBABILITY, ascending=False)


@contextmanager
def _splink_backend(engine: str, spark_master: str | None):
    """splink's database API for an engine, released at the end of the block."""
    from crmlib.engines import check_engine, duckdb_connection
    from crmlib.spark import spark_session

    if check_engine(engine) in ("pandas", "duckdb"):  # splink has no pandas backend
        from splink import DuckDBAPI

        # the workbook's memory limit, spilling past it, as every DuckDB the workbook opens:
        # DuckDB's own default is 80 % of the machine
        con, spill = duckdb_connection(kind="splink")
        try:
            yield DuckDBAPI(connection=con)
        finally:
            con.close()
            shutil.rmtree(spill, ignore_errors=True)
        return
    from splink import SparkAPI

    # the session is the process's, shared by later steps: not stopped here
    yield SparkAPI(spark_session=spark_session(spark_master), break_lineage_method="persist")


DETERMINISTIC_RECALL = 0.8  # share of true matches assumed to share an e-mail, or phone and surname


def _prior_match_probability(frame: pd.DataFrame) -> float:
    """P(two random records match): deterministic pairs / recall / all pairs, at most 0.5.

    The deterministic pairs share an e-mail, or a phone and a surname (a key
    held by more than 50 records identifies nobody and is ignored); they are
    assumed to be :data:`DETERMINISTIC_RECALL` of the true matches (splink's
    ``estimate_probability_two_random_records_match`` method). Without any,
    one pair is assumed, so that the prior stays above 0.
    """
    pairs = set()
    for columns in (["email"], ["phone", "surname"]):
        if not set(columns) <= set(frame.columns):
            continue
        keyed = frame[["unique_id", *columns]].dropna()
        size = keyed.groupby(columns)["unique_id"].transform("size")
        keyed = keyed[(size > 1) & (size <= 50)]
        both = keyed.merge(keyed, on=columns)
        both = both[both["unique_id_x"] < both["unique_id_y"]]
        pairs |= set(zip(both["unique_id_x"], both["unique_id_y"], strict=True))
    n = len(frame)
    return float(min(max(len(pairs), 1) / DETERMINISTIC_RECALL / (n * (n - 1) / 2), 0.5))


def _parameters(model: dict, linker=None) -> pd.DataFrame:
    """m, u and Bayes factor of every comparison level the model scores with.

    A level whose u the training could not estimate (no random pair reached it, as an exact
    e-mail match among a few thousand records) has no u in the saved model; splink then
    scores it with its default u, which the fitted ``linker``'s levels give. ``u_default``
    says where that is so.
    """
    used = {}  # (comparison, level) -> the u splink scores with, defaults included
    if linker is not None:
        for comparison in linker._settings_obj.comparisons:  # splink 4's settings of the fit
            for level in comparison.comparison_levels:
                if not level.is_null_level:
                    used[(comparison.output_column_name, level.label_for_charts)] = (
                        level.u_probability
                    )
    rows = []
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            name, label = comparison["output_column_name"], level["label_for_charts"]
            m, u = level.get("m_probability"), level.get("u_probability")
            default = u is None and used.get((name, label)) is not None
            u = used[(name, label)] if default else u
            rows.append(
                {
                    "comparison": name,
                    "level": label,
                    "m": m,
                    "u": u,
                    "bayes_factor": m / u if m is not None and u else np.nan,
                    "u_default": default,
                }
            )
    return pd.DataFrame(rows)


def _clusters(ids: pd.Series, pairs: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Connected components of the links at or above ``threshold`` (scipy.sparse.csgraph)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ids = pd.Index(ids.astype("str"), name=s.CUSTOMER_ID)
    links = pairs[pairs[MATCH_PROBABILITY] >= threshold]
    left = ids.get_indexer(links[CUSTOMER_ID_L].astype("str"))
    right = ids.get_indexer(links[CUSTOMER_ID_R].astype("str"))
    n = len(ids)
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    out = pd.DataFrame({"component": component}, index=ids)
    out[CLUSTER_ID] = out.index.to_series().groupby(out["component"]).transform("min")
    out[CLUSTER_SIZE] = out.groupby("component")["component"].transform("size")
    strongest = pd.concat(
        [
            links[[CUSTOMER_ID_L, MATCH_PROBABILITY]].set_axis([s.CUSTOMER_ID, "p"], axis=1),
            links[[CUSTOMER_ID_R, MATCH_PROBABILITY]].set_axis([s.CUSTOMER_ID, "p"], axis=1),
        ]
    )
    best = strongest.groupby(s.CUSTOMER_ID)["p"].max()
    out[MATCH_PROBABILITY] = best.reindex(out.index).astype(float)
    return out[[CLUSTER_ID, CLUSTER_SIZE, MATCH_PROBABILITY]]


def find_duplicates(
    customers: pd.DataFrame, threshold: float = 0.9, seed: int = SEED, **settings
) -> DuplicateFinder:
    """Link the records of each person in the customers table.

    Fits a :class:`DuplicateFinder` (see there for the model). Use its
    ``clusters_`` with :func:`merge_customers` and its ``pairs_`` to review
    the links.

    Parameters
    ----------
    customers : pandas.DataFrame
        The customers table.
    threshold : float, default 0.9
        Match probability at or above which two records are one person.
    seed : int
        Seed of the random pairs used to estimate u.
    **settings
        Other :class:`DuplicateFinder` settings.

    Returns
    -------
    DuplicateFinder
        Fitted: ``pairs_``, ``clusters_``, ``parameters_``.
    """
    return DuplicateFinder(threshold=threshold, seed=seed, **settings).fit(customers)


@dataclasses.dataclass
class MergedCustomers:
    """The result of :func:`merge_customers`.

    Attributes
    ----------
    data : crmlib.data.io.ClientData
        The client data with one customers row per person and every table's
        ``customer_id`` replaced by the person's golden id.
    golden : pandas.DataFrame
        The golden records (also ``data.tables["customers"]``), with
        ``records`` (how many records were merged) and ``source_systems``.
    id_map : pandas.Series
        Golden ``customer_id`` of every original record id.
    """

    data: ClientData
    golden: pd.DataFrame
    id_map: pd.Series


def merge_customers(data: ClientData, clusters: pd.DataFrame) -> MergedCustomers:
    """One golden record per person, and the id map applied to every table.

    Survivorship rule (how master-data tools build a golden record): the
    records of a cluster are ordered by ``signup_date`` (oldest first; then
    by id) and the oldest record survives: its ``customer_id`` becomes the
    person's id and its values are kept; a value missing on it is taken from
    the next record in that order that has one. Every table with a
    ``customer_id`` column (transactions, interactions, tickets, surveys ...)
    is relabelled with the map; ids without a customers row stay as they are.

    Parameters
    ----------
    data : crmlib.data.io.ClientData
        With a ``customers`` table.
    clusters : pandas.DataFrame
        ``DuplicateFinder.clusters_``: ``cluster_id`` indexed by customer id.

    Returns
    -------
    MergedCustomers
    """
    if not data.has("customers"):
        raise DataError("merge_customers: the client data has no customers table", file="customers")
    if not isinstance(clusters, pd.DataFrame) or CLUSTER_ID not in clusters:
        raise DataError("merge_customers: clusters must be DuplicateFinder.clusters_")
    customers = data.tables["customers"].copy()
    customers[s.CUSTOMER_ID] = customers[s.CUSTOMER_ID].astype("str")
    id_map = person_ids(customers, clusters)
    customers["_person"] = customers[s.CUSTOMER_ID].map(id_map)
    order = [c for c in (s.SIGNUP_DATE, s.CUSTOMER_ID) if c in customers]
    customers = customers.sort_values(order, na_position="last", kind="stable")
    groups = customers.groupby("_person", sort=False)
    golden = groups.first()  # the first non-missing value of each column, oldest first
    golden[RECORDS] = groups.size()
    if s.SOURCE_SYSTEM in customers:
        systems = customers[["_person", s.SOURCE_SYSTEM]].dropna().drop_duplicates()
        systems = systems.sort_values(["_person", s.SOURCE_SYSTEM])
        golden[SOURCE_SYSTEMS] = systems.groupby("_person")[s.SOURCE_SYSTEM].agg("+".join)
    golden = golden.reset_index(drop=True).sort_values(s.CUSTOMER_ID, ignore_index=True)
    columns = [c for c in data.tables["customers"].columns if c in golden] + [
        c for c in (RECORDS, SOURCE_SYSTEMS) if c in golden
    ]
    golden = golden[columns]
    tables = {}
    for name, table in data.tables.items():
        if name == "customers":
            tables[name] = golden
        elif s.CUSTOMER_ID in table.columns:
            ids = table[s.CUSTOMER_ID].astype("str")
            tables[name] = table.assign(**{s.CUSTOMER_ID: ids.map(id_map).fillna(ids)})
        else:
            tables[name] = table
    return MergedCustomers(dataclasses.replace(data, tables=tables), golden, id_map)


def person_ids(customers: pd.DataFrame, clusters: pd.DataFrame) -> pd.Series:
    """Each customer record's person: the id of the record that survives in its cluster.

    The survivorship rule of :func:`merge_customers`, written once: the records of a
    cluster ordered by ``signup_date`` (oldest first, missing last), then by id; the first
    one's ``customer_id`` is the person's. A record in no cluster is its own person.

    Parameters
    ----------
    customers : pandas.DataFrame
        ``customer_id`` (unique) and, when known, ``signup_date``.
    clusters : pandas.DataFrame
        ``DuplicateFinder.clusters_``: ``cluster_id`` indexed by customer id.

    Returns
    -------
    pandas.Series
        The person's ``customer_id`` (text), indexed by each record's ``customer_id`` (text).
    """
    frame = customers[[c for c in (s.CUSTOMER_ID, s.SIGNUP_DATE) if c in customers]].copy()
    frame[s.CUSTOMER_ID] = frame[s.CUSTOMER_ID].astype("str")
    cluster = frame[s.CUSTOMER_ID].map(clusters[CLUSTER_ID].astype("str"))
    frame["_cluster"] = cluster.fillna(frame[s.CUSTOMER_ID]).astype("str")
    order = [c for c in (s.SIGNUP_DATE, s.CUSTOMER_ID) if c in frame]
    frame = frame.sort_values(order, na_position="last", kind="stable")
    person = frame.groupby("_cluster", sort=False)[s.CUSTOMER_ID].transform("first")
    ids = pd.Index(frame[s.CUSTOMER_ID], name=s.CUSTOMER_ID)
    return pd.Series(person.to_numpy(), index=ids, name=s.CUSTOMER_ID)


# --- the one identify step: records -> persons, for every lesson and the report ---------------
#: Files a fitted :class:`DuplicateFinder` is written to (ids, weights and the model; no personal data).
FINDER_FILES = ("clusters.csv", "pairs.csv", "parameters.csv", "model.json")


def write_finder(finder: DuplicateFinder, folder) -> Path:
    """Write a fitted finder's clusters, pairs, parameters and prior to ``folder``.

    Only record ids, match probabilities and weights are written: no name, e-mail or phone.
    :func:`read_finder` reads it back, so that the report links the records once and every
    lesson reuses the links (:func:`identify` with ``saved``).
    """
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    finder.clusters_.to_csv(folder / "clusters.csv")
    finder.pairs_.to_csv(folder / "pairs.csv", index=False)
    finder.parameters_.to_csv(folder / "parameters.csv", index=False)
    model = {
        "threshold": finder.threshold,
        "n_records": int(finder.n_records_),
        "probability_two_random_records_match": finder.probability_two_random_records_match_,
        "log": list(finder.log_),
    }
    (folder / "model.json").write_text(json.dumps(model, indent=1), encoding="utf-8")
    return folder


def read_finder(folder) -> DuplicateFinder:
    """A fitted :class:`DuplicateFinder` as :func:`write_finder` left it in ``folder``."""
    import json

    folder = Path(folder)
    missing = [name for name in FINDER_FILES if not (folder / name).is_file()]
    if missing:
        raise CRMError(
            f"{folder.name}: no saved record linkage here (missing {', '.join(missing)})"
        )
    model = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    finder = DuplicateFinder(threshold=model["threshold"])
    ids = {s.CUSTOMER_ID: str, CLUSTER_ID: str, CUSTOMER_ID_L: str, CUSTOMER_ID_R: str}
    finder.clusters_ = pd.read_csv(folder / "clusters.csv", dtype=ids, index_col=s.CUSTOMER_ID)
    finder.pairs_ = pd.read_csv(folder / "pairs.csv", dtype=ids)
    finder.parameters_ = pd.read_csv(folder / "parameters.csv")
    finder.n_records_ = int(model["n_records"])
    finder.probability_two_random_records_match_ = float(
        model["probability_two_random_records_match"]
    )
    finder.log_ = list(model["log"])
    return finder


def buyers(data: ClientData) -> pd.Index:
    """The workbook's one definition of *a customer*: an id with a purchase by the as-of date.

    A purchase is a transaction line with revenue >= 0 on or before ``data.as_of``
    (:func:`crmlib.analytics.orders.purchase_lines`). On data that :func:`identify` linked,
    the ids are persons; every lesson's count of customers is ``len(buyers(data))``.
    """
    from crmlib.analytics.orders import purchase_lines

    bought, _ = purchase_lines(data.transactions, data.as_of)
    return pd.Index(bought[s.CUSTOMER_ID].astype(str).unique(), name=s.CUSTOMER_ID)


@dataclasses.dataclass
class Identity:
    """What :func:`identify` did: records, persons, and the customers the lessons count.

    Attributes
    ----------
    records, persons : int or None
        Customer records compared and the persons they belong to (None: nothing to link).
    source_systems : tuple of str
        The customers table's source systems.
    linked : bool
        True when the data were relabelled onto persons (several source systems, or
        duplicate records found).
    customers : int
        Customers by the workbook's one definition (:func:`buyers`), on the returned data.
    finder : DuplicateFinder or None
        The fitted (or read) match model.
    merged : MergedCustomers or None
        The golden records and the id map, when the data were linked.
    """

    records: int | None
    persons: int | None
    source_systems: tuple[str, ...]
    linked: bool
    customers: int
    finder: DuplicateFinder | None = None
    merged: MergedCustomers | None = None

    @property
    def duplicate_records(self) -> int:
        return 0 if self.records is None else self.records - self.persons

    def sentence(self) -> str:
        """One sentence a lesson prints: what a customer is here."""
        tail = f"{self.customers:,} customers (persons with a purchase by the as-of date)"
        if self.records is None:
            return f"No customer records to link: a customer is a customer id; {tail}."
        systems = (
            f" from {len(self.source_systems)} source systems"
            if len(self.source_systems) > 1
            else ""
        )
        if not self.linked:
            return (
                f"{self.records:,} customer records{systems}, no duplicates found: one record is "
                f"one person; {tail}."
            )
        return (
            f"Linked persons: {self.records:,} customer records{systems} belong to "
            f"{self.persons:,} persons ({self.duplicate_records:,} duplicate records merged); "
            f"every figure counts persons: {tail}."
        )


def identify(
    data: ClientData,
    saved=None,
    threshold: float = 0.9,
    engine: str = "duckdb",
    spark_master: str | None = None,
) -> tuple[ClientData, Identity]:
    """Identify, once: the client data on linked persons, and what was linked.

    IDIC's Identify task (Peppers & Rogers) for every lesson: the customers table's records
    are linked with :func:`find_duplicates` (or the links saved by :func:`write_finder` are
    read from ``saved``, as ``crm report`` does to link once for all lessons). When the
    records come from more than one source system, or duplicate records are found, the
    records of each person are merged (:func:`merge_customers`) and every table points at
    persons; otherwise the data are returned unchanged. Without a customers table with a
    name, e-mail or phone, a customer is a customer id.

    Parameters
    ----------
    data : crmlib.data.io.ClientData
    saved : str or Path, optional
        A folder written by :func:`write_finder` for these data's customers table.
    threshold : float, default 0.9
        Match probability at which two records are one person (when not ``saved``).
    engine, spark_master
        splink's backend (:class:`DuplicateFinder`).

    Returns
    -------
    (ClientData, Identity)

    Raises
    ------
    crmlib.errors.CRMError
        ``saved`` holds no linkage, or one of other records than the customers table's.
    """
    customers = data.table("customers")
    comparable = customers is not None and any(
        c in customers and customers[c].notna().any() for c in (s.NAME, s.EMAIL, s.PHONE)
    )
    if not comparable:
        return data, Identity(None, None, (), False, len(buyers(data)))
    if saved is not None:
        finder = read_finder(saved)
        ids = set(customers[s.CUSTOMER_ID].astype(str))
        if set(finder.clusters_.index.astype(str)) != ids:
            raise CRMError(
                f"{Path(saved).name}: the saved record linkage is of other customer records "
                "than these data's; run without it"
            )
    else:
        finder = find_duplicates(
            customers, threshold=threshold, engine=engine, spark_master=spark_master
        )
    systems = ()
    if s.SOURCE_SYSTEM in customers:
        systems = tuple(sorted(customers[s.SOURCE_SYSTEM].dropna().astype(str).unique()))
    records, persons = len(finder.clusters_), int(finder.clusters_[CLUSTER_ID].nunique())
    merged = None
    if records > persons or len(systems) > 1:
        merged = merge_customers(data, finder.clusters_)
        data = merged.data
    identity = Identity(
        records, persons, systems, merged is not None, len(buyers(data)), finder, merged
    )
    return data, identity
