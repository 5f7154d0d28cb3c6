"""IDIC: Identify, Differentiate, Interact, Customize.

The four tasks of Peppers & Rogers' one-to-one relationship model (Don
Peppers & Martha Rogers, *Managing Customer Relationships: A Strategic
Framework*, Wiley, 2nd ed. 2011, ch. 4-5 for Identify and Differentiate; the
later chapters for Interact and Customize), each as tested code the lesson
``notebooks/01_idic.ipynb`` calls after showing its formula once.

Identify
    :func:`find_duplicates` (a :class:`DuplicateFinder`) links the records of
    one person across source systems with splink's Fellegi-Sunter model
    (Fellegi & Sunter 1969, "A theory for record linkage", *JASA* 64(328)):
    blocking rules choose the candidate pairs, u probabilities are estimated
    from random pairs, m probabilities by expectation maximisation, and pairs
    above a match probability are clustered (connected components).
    :func:`merge_customers` turns the clusters into one golden record per
    person and applies the id map to every table. :func:`pairwise_link_quality`
    scores clusters against a known truth.
Differentiate
    By value and by needs. :func:`rfm_values` and :func:`rfm_scores` (RFM
    quantile scores, Hughes, *Strategic Database Marketing*, 1994) with the
    named segments of :data:`RFM_SEGMENTS`; CLV from BG/NBD + Gamma-Gamma
    (:class:`crmlib.analytics.clv.CLVPipeline`) and :func:`value_tiers`;
    :class:`NeedsSegmenter` (k-means on standardised survey needs, k by
    silhouette); :func:`value_needs_portfolio` (MVC, MGC, BZ).
Interact
    :func:`campaign_responses`, :func:`response_rates` and :func:`engagement`
    describe the interactions table; :class:`ChannelPropensity` learns each
    customer's propensity per channel with a Beta-Binomial update from a
    population prior (Gelman et al., *Bayesian Data Analysis*, 3rd ed. 2013,
    sec. 2.4 and 5.3), one interaction at a time (:meth:`ChannelPropensity.history`).
Customize
    :func:`category_associations` (support, confidence, lift of "customers who
    bought A also bought B": Agrawal, Imielinski & Swami 1993; Brin et al.
    1997) and :func:`next_best_offers`, which adds segment rules and keeps an
    offer only when its expected value gain covers its cost.

Personal data (names, e-mails, phones) is used to match records and is never
put into a message, a returned table of pairs or a chart; :func:`mask` hides
it for the few masked examples a lesson may show.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import unicodedata
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

if TYPE_CHECKING:
    from crmlib.data.io import ClientData

# --- columns this module adds (not in crmlib.data.schema: derived, like crmlib.analytics.clv's) ---------
CLUSTER_ID = "cluster_id"
CLUSTER_SIZE = "cluster_size"
MATCH_PROBABILITY = "match_probability"
MATCH_WEIGHT = "match_weight"
CUSTOMER_ID_L = "customer_id_l"
CUSTOMER_ID_R = "customer_id_r"
RECORDS = "records"
SOURCE_SYSTEMS = "source_systems"

RECENCY_DAYS = "recency_days"
MONETARY = "monetary"
R_SCORE, F_SCORE, M_SCORE = "r_score", "f_score", "m_score"
RFM_CELL = "rfm_cell"
RFM_SEGMENT = "rfm_segment"
VALUE_TIER = "value_tier"
NEEDS_SEGMENT = "needs_segment"
ACTUAL_VALUE = "actual_value"
POTENTIAL_VALUE = "potential_value"
UNREALISED_VALUE = "unrealised_value"
HISTORICAL_VALUE = "historical_value"
VALUE_CLASS = "value_class"

SUCCESS = "success"
TRIALS = "trials"
SUCCESSES = "successes"
ALPHA, BETA = "alpha", "beta"
MEAN, LOWER, UPPER = "mean", "lower", "upper"
STEP = "step"
CONTACTS = "contacts"
RESPONSES = "responses"
RATE = "rate"

ANTECEDENT, CONSEQUENT = "antecedent", "consequent"
CUSTOMERS_A, CUSTOMERS_B, CUSTOMERS_AB = "customers_a", "customers_b", "customers_ab"
SUPPORT, CONFIDENCE, LIFT = "support", "confidence", "lift"
RANK, KIND_OF_OFFER, EXPECTED_GAIN, NET_GAIN, REASON = (
    "rank",
    "kind",
    "expected_gain",
    "net_gain",
    "reason",
)

# --- values -------------------------------------------------------------------------------
MVC, MGC, BZ, OTHER = "MVC", "MGC", "BZ", "other"
VALUE_CLASSES = (MVC, MGC, OTHER, BZ)
NO_SURVEY = "no survey"
CONTACT_KIND = "campaign_contact"  # interactions.kind of a campaign contact
RESPONDED = ("responded",)  # interactions.outcome values counted as a response
SEED = 20240401  # the one declared seed of this module's random steps

_MAX_LISTED = 5


def _rows(frame: pd.DataFrame, bad) -> str:
    """'N row(s) (e.g. ...)' naming the file's lines when known (crmlib.data.io's source_row)."""
    bad = np.asarray(bad, dtype=bool)
    labels = list(frame[s.SOURCE_ROW][bad] if s.SOURCE_ROW in frame else frame.index[bad])
    shown = ", ".join(str(x) for x in labels[:_MAX_LISTED])
    return f"{len(labels)} row(s) (e.g. {shown}{', ...' if len(labels) > _MAX_LISTED else ''})"


def _need_columns(frame, columns, what: str, table: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"{what} needs the {table} table as a DataFrame, not {type(frame).__name__}"
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{what}: the {table} table has no column(s) {', '.join(missing)}",
            file=table,
            column=missing[0],
        )


# =========================================================================================
# Identify
# =========================================================================================


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
        (:func:`crmlib.engines.spark_session`, for a cluster). Both find the
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
        The prior.
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
        _need_columns(customers, (s.CUSTOMER_ID,), "find_duplicates", "customers")
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
                + _rows(customers, customers[s.CUSTOMER_ID].isna()),
                file="customers",
                column=s.CUSTOMER_ID,
            )
        repeated = ids.duplicated().to_numpy()
        if repeated.any():
            raise DataError(
                f"find_duplicates: customers.customer_id repeats in {_rows(customers, repeated)}; "
                "each record needs its own id",
                file="customers",
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
        if not 0 < self.threshold < 1:
            raise CRMError(
                f"threshold is a match probability between 0 and 1, not {self.threshold}"
            )
        frame = self._prepare(customers)
        self.n_records_ = len(frame)
        self.log_ = []
        pairs = pd.DataFrame(
            columns=[CUSTOMER_ID_L, CUSTOMER_ID_R, MATCH_PROBABILITY, MATCH_WEIGHT]
        )
        self.parameters_ = pd.DataFrame(columns=["comparison", "level", "m", "u", "bayes_factor"])
        self.probability_two_random_records_match_ = float("nan")
        if len(frame) >= 2:
            with _captured_splink_log(self.log_):
                pairs = self._link(frame)
        self.pairs_ = pairs.reset_index(drop=True)
        self.clusters_ = _clusters(frame["unique_id"], self.pairs_, self.threshold)
        return self

    def _link(self, frame: pd.DataFrame) -> pd.DataFrame:
        from splink import Linker, block_on
        from splink.internals.exceptions import EMTrainingException

        self.probability_two_random_records_match_ = _prior_match_probability(frame)
        settings = self._settings(frame)
        settings.probability_two_random_records_match = self.probability_two_random_records_match_
        db_api, close = _splink_backend(self.engine, self.spark_master)
        n = len(frame)
        every_pair = n * (n - 1) / 2 <= self.max_pairs
        try:
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
            predictions = linker.inference.predict(threshold_match_probability=self.review_floor)
            pairs = predictions.as_pandas_dataframe()
            model = linker.misc.save_model_to_json()
        finally:
            close()
        self.parameters_ = _parameters(model)
        keep = [
            "unique_id_l",
            "unique_id_r",
            MATCH_PROBABILITY,
            MATCH_WEIGHT,
            *[c for c in pairs.columns if c.startswith("mw_")],
        ]
        pairs = pairs[keep].rename(
            columns={"unique_id_l": CUSTOMER_ID_L, "unique_id_r": CUSTOMER_ID_R}
        )
        return pairs.sort_values(MATCH_PROBABILITY, ascending=False)


def _splink_backend(engine: str, spark_master: str | None):
    """splink's database API for an engine, and how to release it."""
    from crmlib.engines import check_engine, spark_session

    if check_engine(engine) in ("pandas", "duckdb"):  # splink has no pandas backend
        from splink import DuckDBAPI

        api = DuckDBAPI()
        return api, api.duckdb_con.close
    from splink import SparkAPI

    api = SparkAPI(spark_session=spark_session(spark_master), break_lineage_method="persist")
    return api, lambda: None  # the session is the process's, shared by later steps


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


def _parameters(model: dict) -> pd.DataFrame:
    rows = []
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            rows.append(
                {
                    "comparison": comparison["output_column_name"],
                    "level": level["label_for_charts"],
                    "m": m,
                    "u": u,
                    "bayes_factor": m / u if m is not None and u else np.nan,
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


def pairwise_link_quality(predicted: pd.Series, truth: pd.Series) -> dict:
    """Precision, recall and F1 of the record pairs put together, against a known truth.

    A pair of records is *predicted* when both are in one cluster and *true*
    when both belong to one entity. With n_g records in group g, a grouping
    holds sum C(n_g, 2) pairs; the correct pairs are those of the groups of
    (cluster, entity) combined (Christen, *Data Matching*, Springer 2012,
    sec. 7.3: pairwise precision, recall and F-measure).

    Parameters
    ----------
    predicted : pandas.Series
        Cluster of each record, indexed by record id (e.g.
        ``finder.clusters_["cluster_id"]``).
    truth : pandas.Series
        True entity of each record, indexed by record id.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``predicted_pairs``, ``true_pairs``,
        ``correct_pairs`` (precision or recall is 1.0 when there is nothing to
        find or nothing was linked).
    """
    common = predicted.index.intersection(truth.index)
    if len(common) == 0:
        raise DataError("pairwise_link_quality: the predicted and true record ids do not overlap")
    frame = pd.DataFrame(
        {"p": predicted.reindex(common).to_numpy(), "t": truth.reindex(common).to_numpy()}
    )

    def n_pairs(sizes):
        sizes = np.asarray(sizes, dtype=float)
        return float((sizes * (sizes - 1) / 2).sum())

    found = n_pairs(frame.groupby("p").size())
    true = n_pairs(frame.groupby("t").size())
    correct = n_pairs(frame.groupby(["p", "t"]).size())
    precision = correct / found if found else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "predicted_pairs": int(found),
        "true_pairs": int(true),
        "correct_pairs": int(correct),
    }


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
    cluster = clusters[CLUSTER_ID].astype("str")
    customers["_cluster"] = (
        customers[s.CUSTOMER_ID].map(cluster).fillna(customers[s.CUSTOMER_ID]).astype("str")
    )
    order = [c for c in (s.SIGNUP_DATE, s.CUSTOMER_ID) if c in customers]
    customers = customers.sort_values(order, na_position="last", kind="stable")
    groups = customers.groupby("_cluster", sort=False)
    golden = groups.first()  # the first non-missing value of each column, oldest first
    golden[RECORDS] = groups.size()
    if s.SOURCE_SYSTEM in customers:
        systems = customers[["_cluster", s.SOURCE_SYSTEM]].dropna().drop_duplicates()
        systems = systems.sort_values(["_cluster", s.SOURCE_SYSTEM])
        golden[SOURCE_SYSTEMS] = systems.groupby("_cluster")[s.SOURCE_SYSTEM].agg("+".join)
    id_map = customers.set_index(s.CUSTOMER_ID)["_cluster"].map(golden[s.CUSTOMER_ID])
    id_map.name = s.CUSTOMER_ID
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


# =========================================================================================
# Differentiate: RFM
# =========================================================================================

#: Named RFM segments on the recency (R) and frequency (F) scores, 1 (worst) to 5
#: (best): ``segment: (R from, R to, F from, F to)``. The common practitioner
#: "RFM segment map"; names are convention, not theory. The ranges cover the
#: 5 x 5 grid once.
RFM_SEGMENTS = pd.DataFrame(
    [
        ("champions", 5, 5, 4, 5, "bought recently, buy often"),
        ("loyal", 3, 4, 4, 5, "buy often, fairly recently"),
        ("potential loyalists", 4, 5, 2, 3, "recent, a few purchases"),
        ("new customers", 5, 5, 1, 1, "first purchase very recently"),
        ("promising", 4, 4, 1, 1, "recent, one purchase"),
        ("need attention", 3, 3, 3, 3, "middle of the road"),
        ("about to sleep", 3, 3, 1, 2, "fading, few purchases"),
        ("can't lose them", 1, 2, 5, 5, "bought most often, long ago"),
        ("at risk", 1, 2, 3, 4, "bought often, long ago"),
        ("hibernating", 1, 2, 1, 2, "few purchases, long ago"),
    ],
    columns=[RFM_SEGMENT, "r_from", "r_to", "f_from", "f_to", "description"],
)


def rfm_values(transactions: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Recency, frequency and monetary value of each customer.

    - ``recency_days``: days from the last purchase to ``as_of`` (RFM
      recency: time *since* the last purchase; not BTYD recency, which is
      last - first purchase);
    - ``frequency``: number of orders (distinct order ids among purchases;
      purchase days without order ids);
    - ``monetary``: net revenue (returns subtracted).

    Built on :func:`crmlib.analytics.summary.customer_summary`.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer_id.
    """
    from crmlib.analytics.summary import customer_summary

    summary = customer_summary(transactions, as_of=as_of)
    end = pd.Timestamp(as_of) if as_of is not None else summary[s.LAST_PURCHASE].max()
    return pd.DataFrame(
        {
            RECENCY_DAYS: (end.normalize() - summary[s.LAST_PURCHASE]).dt.days.astype(float),
            s.FREQUENCY: summary[s.ORDERS].astype(float),
            MONETARY: summary[s.REVENUE].astype(float),
        },
        index=summary.index,
    )


def quantile_cuts(values, bins: int = 5) -> np.ndarray:
    """The ``bins - 1`` inner quantiles of ``values``: cut points for equal-count bins.

    Quantiles at 1/bins, 2/bins, ... with linear interpolation (numpy's
    default, as :func:`pandas.qcut`).
    """
    if isinstance(bins, bool) or not float(bins).is_integer() or bins < 2:
        raise CRMError(f"bins is a whole number of at least 2, not {bins!r}")
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise DataError("quantile_cuts: no values to cut")
    return np.quantile(values, np.arange(1, int(bins)) / int(bins))


def score(values, cuts, higher_is_better: bool = True) -> pd.Series:
    """Scores 1 to len(cuts) + 1 from ascending cut points.

    A value's bin is the number of cut points strictly below it, so the bins
    are (c[i-1], c[i]], closed on the right as :func:`pandas.qcut`'s: with
    quantile cuts the bins hold equal counts when values are not tied; tied
    values always share a score (so a score may be skipped). The score is
    bin + 1, or len(cuts) + 1 - bin when lower values are better (recency).
    """
    cuts = np.asarray(cuts, dtype=float)
    if cuts.ndim != 1 or cuts.size == 0 or not np.all(np.isfinite(cuts)):
        raise CRMError("cut points must be a non-empty list of numbers")
    if np.any(np.diff(cuts) < 0):
        raise CRMError(f"cut points must be in ascending order, not {cuts.tolist()}")
    index = values.index if isinstance(values, pd.Series) else None
    bins = np.searchsorted(cuts, np.asarray(values, dtype=float), side="left")
    scores = bins + 1 if higher_is_better else cuts.size + 1 - bins
    return pd.Series(scores.astype(int), index=index)


def rfm_segment(r_score, f_score, bins: int = 5, rules: pd.DataFrame = RFM_SEGMENTS) -> pd.Series:
    """Named segment of each (R, F) score pair by the rule table.

    Scores on another scale than 1-5 are mapped onto it first:
    1 + round((score - 1) * 4 / (bins - 1)).
    """
    r = pd.Series(r_score)
    f = pd.Series(f_score, index=r.index)
    if bins != 5:
        r = 1 + ((r - 1) * 4 / (bins - 1)).round().astype(int)
        f = 1 + ((f - 1) * 4 / (bins - 1)).round().astype(int)
    out = pd.Series(pd.NA, index=r.index, dtype="str")
    for rule in rules.itertuples(index=False):
        hit = r.between(rule.r_from, rule.r_to) & f.between(rule.f_from, rule.f_to) & out.isna()
        out[hit] = getattr(rule, RFM_SEGMENT)
    return out


def rfm_scores(values: pd.DataFrame, bins: int = 5, cuts: dict | None = None) -> pd.DataFrame:
    """RFM scores, cell and named segment of each customer.

    Parameters
    ----------
    values : pandas.DataFrame
        From :func:`rfm_values`.
    bins : int, default 5
        Quantile bins (5: quintiles) where ``cuts`` does not give cut points.
    cuts : dict, optional
        Ascending cut points per measure, e.g. ``{"recency_days": [30, 90, 180,
        365], "frequency": [1, 2, 4, 8], "monetary": [...]}``; a measure left
        out is cut at its quantiles. Each list must have ``bins - 1`` points.

    Returns
    -------
    pandas.DataFrame
        ``values`` plus ``r_score``, ``f_score``, ``m_score`` (5 = best:
        most recent, most frequent, highest spend), ``rfm_cell`` (e.g. "545")
        and ``rfm_segment`` (:data:`RFM_SEGMENTS`, on R and F).

    References
    ----------
    Hughes, A. M. (1994). Strategic Database Marketing. Probus (RFM quintile
    scoring).
    """
    _need_columns(values, (RECENCY_DAYS, s.FREQUENCY, MONETARY), "rfm_scores", "RFM values")
    cuts = dict(cuts or {})
    unknown = set(cuts) - {RECENCY_DAYS, s.FREQUENCY, MONETARY}
    if unknown:
        raise CRMError(
            f"rfm_scores: unknown measure(s) {', '.join(sorted(unknown))} in cuts; "
            f"use {RECENCY_DAYS}, {s.FREQUENCY}, {MONETARY}"
        )
    used = {}
    for measure in (RECENCY_DAYS, s.FREQUENCY, MONETARY):
        given = cuts.get(measure)
        if given is None:
            used[measure] = quantile_cuts(values[measure], bins)
        else:
            used[measure] = np.asarray(given, dtype=float)
            if used[measure].size != bins - 1:
                raise CRMError(
                    f"rfm_scores: {measure} needs {bins - 1} cut points for {bins} scores, "
                    f"not {used[measure].size}"
                )
    out = values.copy()
    out[R_SCORE] = score(values[RECENCY_DAYS], used[RECENCY_DAYS], higher_is_better=False)
    out[F_SCORE] = score(values[s.FREQUENCY], used[s.FREQUENCY])
    out[M_SCORE] = score(values[MONETARY], used[MONETARY])
    out[RFM_CELL] = out[R_SCORE].astype(str) + out[F_SCORE].astype(str) + out[M_SCORE].astype(str)
    out[RFM_SEGMENT] = rfm_segment(out[R_SCORE], out[F_SCORE], bins=bins)
    return out


# =========================================================================================
# Differentiate: value
# =========================================================================================


def value_tiers(values: pd.Series, top: float = 0.2, middle: float = 0.3) -> pd.Series:
    """Tiers by rank of value: the top ``top`` share, the next ``middle``, the rest.

    Ranks are taken largest first; ties are broken by the order of the
    index. Labels read e.g. "top 20 %", "next 30 %", "bottom 50 %".
    """
    if not (0 < top < 1 and 0 <= middle < 1 and top + middle <= 1):
        raise CRMError(f"top and middle are shares with top + middle <= 1, not {top}, {middle}")
    values = pd.Series(values, dtype=float)
    share = values.rank(ascending=False, method="first") / len(values)
    labels = (
        f"top {top:.0%}".replace("%", " %"),
        f"next {middle:.0%}".replace("%", " %"),
        f"bottom {1 - top - middle:.0%}".replace("%", " %"),
    )
    tier = np.where(share <= top, labels[0], np.where(share <= top + middle, labels[1], labels[2]))
    return pd.Series(pd.Categorical(tier, categories=labels), index=values.index, name=VALUE_TIER)


# =========================================================================================
# Differentiate: needs
# =========================================================================================


class NeedsSegmenter:
    """Needs segments from survey answers: k-means on standardised answers, k by silhouette.

    Each customer's answers (the mean when they answered more than once) are
    standardised (z-scores per question), k-means is fitted for every k in
    ``k_values`` and the k with the highest mean silhouette width is kept
    (Rousseeuw 1987). Each segment is named after its highest centre
    question (``need_price`` gives "price"; a repeated name gets " 2").

    Parameters
    ----------
    k_values : iterable of int, default range(2, 9)
    columns : tuple of str, default :data:`crmlib.data.schema.NEEDS`
    n_init : int, default 10
        k-means restarts.
    seed : int

    Attributes
    ----------
    labels_ : pandas.Series
        Segment name of each customer (index customer_id).
    k_ : int
    silhouette_ : pandas.Series
        Mean silhouette width by k.
    centres_ : pandas.DataFrame
        Segment centres in the answers' own units, one row per segment.

    References
    ----------
    Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the
    interpretation and validation of cluster analysis. Journal of
    Computational and Applied Mathematics, 20, 53-65.
    Wedel, M., & Kamakura, W. A. (2000). Market Segmentation: Conceptual and
    Methodological Foundations (2nd ed.). Kluwer.
    """

    def __init__(self, k_values=range(2, 9), columns=s.NEEDS, n_init: int = 10, seed: int = SEED):
        self.k_values = k_values
        self.columns = columns
        self.n_init = n_init
        self.seed = seed

    def fit(self, surveys: pd.DataFrame) -> NeedsSegmenter:
        """Fit on the surveys table (customer_id and the needs columns)."""
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score
        from threadpoolctl import threadpool_limits

        columns = list(self.columns)
        _need_columns(surveys, [s.CUSTOMER_ID, *columns], "NeedsSegmenter.fit", "surveys")
        answers = surveys.dropna(subset=columns).groupby(s.CUSTOMER_ID)[columns].mean()
        ks = [int(k) for k in self.k_values if 2 <= int(k) < len(answers)]
        if not ks:
            raise DataError(
                f"NeedsSegmenter.fit: {len(answers)} customer(s) with complete needs answers are "
                "too few to compare segmentations"
            )
        spread = answers.std(ddof=0).replace(0, 1.0)
        z = ((answers - answers.mean()) / spread).to_numpy()
        scores, fits = {}, {}
        # one thread: on a few thousand rows, thread start-up costs more than it saves
        with threadpool_limits(1):
            for k in ks:
                model = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.seed).fit(z)
                fits[k] = model
                scores[k] = float(silhouette_score(z, model.labels_))
        self.silhouette_ = pd.Series(scores, name="silhouette").rename_axis("k")
        self.k_ = int(self.silhouette_.idxmax())
        model = fits[self.k_]
        centres = pd.DataFrame(
            model.cluster_centers_ * spread.to_numpy() + answers.mean().to_numpy(), columns=columns
        )
        names, seen = [], {}
        for row in centres.itertuples(index=False):
            base = columns[int(np.argmax(row))].removeprefix("need_")
            seen[base] = seen.get(base, 0) + 1
            names.append(base if seen[base] == 1 else f"{base} {seen[base]}")
        centres.index = pd.Index(names, name=NEEDS_SEGMENT)
        self.centres_ = centres
        self.labels_ = pd.Series(
            np.asarray(names)[model.labels_], index=answers.index, name=NEEDS_SEGMENT
        )
        return self


# =========================================================================================
# Differentiate: the value x needs portfolio
# =========================================================================================


def value_needs_portfolio(
    actual_value: pd.Series,
    historical_value: pd.Series,
    needs_segment: pd.Series | None = None,
    mvc_share: float = 0.2,
    mgc_share: float = 0.2,
    potential_quantile: float = 0.9,
) -> pd.DataFrame:
    """Peppers & Rogers' value classes of each customer, with actual and potential value.

    - actual value: the customer's CLV (future margin, discounted);
    - potential value: the ``potential_quantile`` (default the 90th
      percentile) of actual value among customers of the same needs segment
      ("what a similar customer is worth under the best strategy"); customers
      without a segment form the group "no survey";
    - unrealised value = max(potential - actual, 0);
    - classes, in this order: **BZ** (below zero) when historical value
      (margin to date, after returns) is negative; **MVC** (most valuable)
      the top ``mvc_share`` by actual value; **MGC** (most growable) the top
      ``mgc_share`` of all customers by unrealised value among the rest;
      else "other".

    Parameters
    ----------
    actual_value, historical_value : pandas.Series
        Indexed by customer_id (the portfolio covers ``actual_value``'s index).
    needs_segment : pandas.Series, optional
    mvc_share, mgc_share : float
    potential_quantile : float

    Returns
    -------
    pandas.DataFrame
        ``actual_value``, ``historical_value``, ``needs_segment``,
        ``potential_value``, ``unrealised_value``, ``value_class``.

    References
    ----------
    Peppers, D., & Rogers, M. (2011). Managing Customer Relationships (2nd
    ed.), ch. 5: actual and potential value; MVCs, MGCs and BZs.
    """
    for name, share in (("mvc_share", mvc_share), ("mgc_share", mgc_share)):
        if not 0 <= share < 1:
            raise CRMError(f"{name} is a share between 0 and 1, not {share}")
    if not 0 < potential_quantile <= 1:
        raise CRMError(f"potential_quantile is between 0 and 1, not {potential_quantile}")
    actual = pd.Series(actual_value, dtype=float)
    out = pd.DataFrame({ACTUAL_VALUE: actual})
    out[HISTORICAL_VALUE] = pd.Series(historical_value, dtype=float).reindex(out.index)
    needs = needs_segment.reindex(out.index) if needs_segment is not None else None
    out[NEEDS_SEGMENT] = needs.astype("str").fillna(NO_SURVEY) if needs is not None else NO_SURVEY
    out[POTENTIAL_VALUE] = out.groupby(NEEDS_SEGMENT)[ACTUAL_VALUE].transform(
        lambda v: v.quantile(potential_quantile)
    )
    out[UNREALISED_VALUE] = (out[POTENTIAL_VALUE] - out[ACTUAL_VALUE]).clip(lower=0.0)
    n = len(out)
    value_class = pd.Series(OTHER, index=out.index, dtype="str")
    below_zero = out[HISTORICAL_VALUE] < 0
    value_class[below_zero] = BZ
    rank_actual = out[ACTUAL_VALUE].rank(ascending=False, method="first")
    value_class[(rank_actual <= mvc_share * n) & ~below_zero] = MVC
    rest = value_class == OTHER
    rank_gap = out.loc[rest, UNREALISED_VALUE].rank(ascending=False, method="first")
    value_class[rank_gap.index[rank_gap <= mgc_share * n]] = MGC
    out[VALUE_CLASS] = pd.Categorical(value_class, categories=VALUE_CLASSES)
    return out


# =========================================================================================
# Interact
# =========================================================================================


def campaign_responses(
    interactions: pd.DataFrame, contact_kind: str = CONTACT_KIND, responded=RESPONDED
) -> pd.DataFrame:
    """Campaign contacts as Bernoulli trials: one row per contact, ``success`` = responded.

    Parameters
    ----------
    interactions : pandas.DataFrame
        The interactions table.
    contact_kind : str, default "campaign_contact"
        ``kind`` of a contact (holdout rows, visits and calls are not contacts).
    responded : tuple of str, default ("responded",)
        ``outcome`` values that count as a response.

    Returns
    -------
    pandas.DataFrame
        customer_id, timestamp, channel, campaign_id, success (bool).
    """
    _need_columns(
        interactions, (s.CUSTOMER_ID, s.TIMESTAMP, s.CHANNEL, s.KIND, s.OUTCOME),
        "campaign_responses", "interactions",
    )  # fmt: skip
    contacts = interactions[interactions[s.KIND] == contact_kind]
    out = pd.DataFrame(
        {
            s.CUSTOMER_ID: contacts[s.CUSTOMER_ID].astype("str"),
            s.TIMESTAMP: contacts[s.TIMESTAMP],
            s.CHANNEL: contacts[s.CHANNEL].astype("str"),
            s.CAMPAIGN_ID: (
                contacts[s.CAMPAIGN_ID] if s.CAMPAIGN_ID in contacts else pd.Series(dtype="str")
            ),
            SUCCESS: contacts[s.OUTCOME].isin(list(responded)),
        }
    )
    return out.sort_values([s.TIMESTAMP, s.CUSTOMER_ID], ignore_index=True)


def _jeffreys(successes, trials, level: float = 0.9):
    """Jeffreys interval: quantiles of Beta(k + 1/2, n - k + 1/2), with the lower limit 0
    when k = 0 and the upper limit 1 when k = n (Brown, Cai & DasGupta 2001, sec. 4.1.2)."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    tail = (1 - level) / 2
    lower = np.where(k == 0, 0.0, stats.beta.ppf(tail, k + 0.5, n - k + 0.5))
    upper = np.where(k == n, 1.0, stats.beta.ppf(1 - tail, k + 0.5, n - k + 0.5))
    return lower, upper


def response_rates(responses: pd.DataFrame, by) -> pd.DataFrame:
    """Contacts, responses and response rate per group, with a 90 % Jeffreys interval.

    Parameters
    ----------
    responses : pandas.DataFrame
        From :func:`campaign_responses`, optionally with added columns (e.g.
        a segment) to group by.
    by : str or list of str
        E.g. ``"channel"``, ``"campaign_id"``, ``["needs_segment", "channel"]``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``by``: ``contacts``, ``responses``, ``rate``, ``lower``,
        ``upper``.

    References
    ----------
    Brown, L. D., Cai, T. T., & DasGupta, A. (2001). Interval estimation for
    a binomial proportion. Statistical Science, 16(2), 101-133.
    """
    by = [by] if isinstance(by, str) else list(by)
    _need_columns(responses, [*by, SUCCESS], "response_rates", "responses")
    grouped = responses.groupby(by, observed=True)[SUCCESS]
    out = pd.DataFrame({CONTACTS: grouped.size(), RESPONSES: grouped.sum().astype(int)})
    out[RATE] = out[RESPONSES] / out[CONTACTS]
    out[LOWER], out[UPPER] = _jeffreys(out[RESPONSES], out[CONTACTS])
    return out


def engagement(interactions: pd.DataFrame) -> pd.DataFrame:
    """Interactions by kind and channel: how many, with how many customers, per customer."""
    _need_columns(interactions, (s.CUSTOMER_ID, s.KIND, s.CHANNEL), "engagement", "interactions")
    grouped = interactions.groupby([s.KIND, s.CHANNEL], observed=True)[s.CUSTOMER_ID]
    out = pd.DataFrame({"interactions": grouped.size(), "customers": grouped.nunique()})
    out["per_customer"] = out["interactions"] / out["customers"]
    return out.sort_values("interactions", ascending=False)


def order_channel_choices(transactions: pd.DataFrame) -> pd.DataFrame:
    """Each order as a choice among channels: one trial per order and channel.

    An order placed through channel c is a success for c and a failure for
    every other channel seen in the data, so that the per-channel
    Beta-Binomial of :class:`ChannelPropensity` learns "the share of this
    customer's orders that come through c" (the marginal of a
    Dirichlet-multinomial choice, Gelman et al. 2013, sec. 3.4). Purchases
    only; lines of one order (order_id, else customer, day and channel) count once.

    Returns
    -------
    pandas.DataFrame
        customer_id, timestamp (the order date), channel, success.
    """
    _need_columns(
        transactions, (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, s.CHANNEL),
        "order_channel_choices", "transactions",
    )  # fmt: skip
    lines = transactions[(transactions[s.REVENUE] >= 0) & transactions[s.CHANNEL].notna()]
    key = (
        [s.ORDER_ID]
        if s.ORDER_ID in lines and lines[s.ORDER_ID].notna().all()
        else [s.CUSTOMER_ID, s.ORDER_DATE, s.CHANNEL]
    )
    orders = lines.drop_duplicates(key)[[s.CUSTOMER_ID, s.ORDER_DATE, s.CHANNEL]]
    channels = sorted(orders[s.CHANNEL].astype("str").unique())
    chosen = orders[s.CHANNEL].astype("str").to_numpy()
    n = len(orders)
    out = pd.DataFrame(
        {
            s.CUSTOMER_ID: np.repeat(orders[s.CUSTOMER_ID].astype("str").to_numpy(), len(channels)),
            s.TIMESTAMP: np.repeat(orders[s.ORDER_DATE].to_numpy(), len(channels)),
            s.CHANNEL: np.tile(channels, n),
        }
    )
    out[SUCCESS] = np.repeat(chosen, len(channels)) == out[s.CHANNEL].to_numpy()
    # stable: each order's trials stay together, in channel order
    return out.sort_values([s.TIMESTAMP, s.CUSTOMER_ID], kind="stable", ignore_index=True)


DEFAULT_PRIOR_STRENGTH = 2.0  # alpha + beta when the population cannot tell it


def fit_beta_prior(successes, trials) -> tuple[float, float]:
    """Beta(alpha, beta) prior of a rate from a population of units (empirical Bayes).

    Written as mean m = alpha / (alpha + beta) and strength S = alpha + beta
    (the prior is worth S observations): m is the pooled rate sum k / sum n;
    S maximises the marginal likelihood of the units' counts, in which each
    unit's k successes out of n are Beta-Binomial(n, m S, (1 - m) S) once its
    own rate is integrated out (Gelman et al. 2013, sec. 5.3; Casella 1985,
    "An introduction to empirical Bayes data analysis", *The American
    Statistician* 39(2)). S is searched in [0.5, 1000]. Only units with two
    or more trials carry information on S; with fewer than two of them, or
    when their rates all agree, S cannot be learned and is set to
    :data:`DEFAULT_PRIOR_STRENGTH`. A pooled rate of exactly 0 or 1 is moved
    half a trial inwards, so that the prior stays proper.

    Returns
    -------
    (alpha, beta) : tuple of float
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    keep = n > 0
    k, n = k[keep], n[keep]
    if n.size == 0:
        raise DataError("fit_beta_prior: no trials to learn a prior from")
    total = n.sum()
    mean = float(np.clip(k.sum(), 0.5, total - 0.5) / total) if total > 1 else 0.5
    informative = n >= 2
    rates = k[informative] / n[informative]
    if informative.sum() < 2 or np.ptp(rates) == 0:
        strength = DEFAULT_PRIOR_STRENGTH
    else:
        rows = pd.DataFrame({"k": k[informative], "n": n[informative]}).value_counts()
        kk = rows.index.get_level_values("k").to_numpy(dtype=float)
        nn = rows.index.get_level_values("n").to_numpy(dtype=float)
        weight = rows.to_numpy(dtype=float)

        def negative_loglik(log_strength):
            S = np.exp(log_strength)
            return -float(weight @ stats.betabinom.logpmf(kk, nn, mean * S, (1 - mean) * S))

        result = optimize.minimize_scalar(
            negative_loglik, bounds=(np.log(0.5), np.log(1000.0)), method="bounded"
        )
        strength = float(np.exp(result.x))
    return mean * strength, (1 - mean) * strength


class ChannelPropensity:
    """Each customer's propensity per channel, learned one interaction at a time.

    For customer i and channel c the propensity theta_ic has a Beta(alpha_c,
    beta_c) prior, the same for every customer, learned from the whole
    population (:func:`fit_beta_prior`). Each interaction is a Bernoulli
    trial; after k successes in n trials the posterior is (Gelman et al.
    2013, sec. 2.4, conjugate Beta-Binomial)::

        theta_ic | data ~ Beta(alpha_c + k, beta_c + n - k)
        posterior mean = (alpha_c + k) / (alpha_c + beta_c + n)

    a weighted mean of the prior mean and the customer's own rate k/n, in
    which the customer's own data weigh more with every interaction.

    Parameters
    ----------
    prior : dict, optional
        ``{channel: (alpha, beta)}``; default: learned from the population.
    level : float, default 0.9
        Probability of the credible intervals (equal tails).

    Attributes
    ----------
    prior_ : pandas.DataFrame
        ``alpha``, ``beta``, ``mean`` per channel.
    posterior_ : pandas.DataFrame
        Indexed by (customer_id, channel): ``trials``, ``successes``,
        ``alpha``, ``beta``, ``mean``, ``lower``, ``upper``.

    References
    ----------
    Gelman, A., Carlin, J. B., Stern, H. S., Dunson, D. B., Vehtari, A., &
    Rubin, D. B. (2013). Bayesian Data Analysis (3rd ed.). CRC Press.
    """

    def __init__(self, prior: dict | None = None, level: float = 0.9):
        self.prior = prior
        self.level = level

    def fit(self, events: pd.DataFrame) -> ChannelPropensity:
        """Learn the prior and every customer's posterior from trials.

        Parameters
        ----------
        events : pandas.DataFrame
            customer_id, channel, success (bool); e.g. from
            :func:`campaign_responses` or :func:`order_channel_choices`.
        """
        _need_columns(events, (s.CUSTOMER_ID, s.CHANNEL, SUCCESS), "ChannelPropensity", "events")
        if len(events) == 0:
            raise DataError("ChannelPropensity.fit: there are no interactions to learn from")
        grouped = events.groupby([s.CUSTOMER_ID, s.CHANNEL], observed=True)[SUCCESS]
        counts = pd.DataFrame({TRIALS: grouped.size(), SUCCESSES: grouped.sum().astype(int)})
        prior = {}
        for channel, part in counts.groupby(level=s.CHANNEL):
            if self.prior is not None and channel in self.prior:
                prior[channel] = tuple(map(float, self.prior[channel]))
            else:
                prior[channel] = fit_beta_prior(part[SUCCESSES], part[TRIALS])
        self.prior_ = pd.DataFrame.from_dict(prior, orient="index", columns=[ALPHA, BETA])
        self.prior_.index.name = s.CHANNEL
        self.prior_[MEAN] = self.prior_[ALPHA] / (self.prior_[ALPHA] + self.prior_[BETA])
        self.posterior_ = self._posterior(counts)
        return self

    def _posterior(self, counts: pd.DataFrame) -> pd.DataFrame:
        channel = counts.index.get_level_values(s.CHANNEL)
        a0 = self.prior_[ALPHA].reindex(channel).to_numpy()
        b0 = self.prior_[BETA].reindex(channel).to_numpy()
        out = counts.copy()
        out[ALPHA] = a0 + counts[SUCCESSES].to_numpy()
        out[BETA] = b0 + (counts[TRIALS] - counts[SUCCESSES]).to_numpy()
        out[MEAN] = out[ALPHA] / (out[ALPHA] + out[BETA])
        tail = (1 - self.level) / 2
        out[LOWER] = special.betaincinv(out[ALPHA], out[BETA], tail)
        out[UPPER] = special.betaincinv(out[ALPHA], out[BETA], 1 - tail)
        return out

    def posterior_mean(self) -> pd.DataFrame:
        """Customers x channels; a channel a customer was never tried in gets the prior mean."""
        table = self.posterior_[MEAN].unstack(s.CHANNEL)
        return table.fillna(self.prior_[MEAN])

    def preferred_channel(self, min_trials: int = 5) -> pd.Series:
        """The channel with the highest posterior mean, for customers with enough trials.

        A customer qualifies with at least ``min_trials`` trials in some channel
        (for :func:`order_channel_choices`: at least that many orders).
        """
        trials = self.posterior_[TRIALS].groupby(level=s.CUSTOMER_ID).max()
        means = self.posterior_mean().loc[trials.index[trials >= min_trials]]
        return means.idxmax(axis=1).rename("preferred_channel")

    def history(self, events: pd.DataFrame, customer_id) -> pd.DataFrame:
        """One customer's posterior in every channel after each of their interactions.

        Step 0 is the prior. Each later step is one interaction: a run of
        events at the same time in different channels (one order of
        :func:`order_channel_choices`, a trial in every channel) or a single
        event (a campaign contact), in time order.

        Returns
        -------
        pandas.DataFrame
            One row per step and channel: ``step``, ``timestamp``,
            ``event_channel`` and ``event_success`` (the channel chosen or
            contacted, and whether it succeeded), then ``channel``, ``alpha``,
            ``beta``, ``mean``, ``lower``, ``upper``.
        """
        if not hasattr(self, "prior_"):
            raise CRMError("this ChannelPropensity is not fitted yet: call fit(events) first")
        mine = events[events[s.CUSTOMER_ID].astype("str") == str(customer_id)]
        if s.TIMESTAMP in mine:
            mine = mine.sort_values(s.TIMESTAMP, kind="stable")
        alpha, beta = self.prior_[ALPHA].to_dict(), self.prior_[BETA].to_dict()
        tail = (1 - self.level) / 2
        rows = []

        def snapshot(step, when, channel, success):
            for c in self.prior_.index:
                rows.append(
                    {
                        STEP: step,
                        s.TIMESTAMP: when,
                        "event_channel": channel,
                        "event_success": success,
                        s.CHANNEL: c,
                        ALPHA: alpha[c],
                        BETA: beta[c],
                        MEAN: alpha[c] / (alpha[c] + beta[c]),
                        LOWER: float(special.betaincinv(alpha[c], beta[c], tail)),
                        UPPER: float(special.betaincinv(alpha[c], beta[c], 1 - tail)),
                    }
                )

        snapshot(0, pd.NaT, None, None)
        step, block = 0, []
        records = mine.to_dict("records") + [None]  # None closes the last block
        for record in records:
            new_step = record is None or (
                block
                and (
                    record.get(s.TIMESTAMP) != block[0].get(s.TIMESTAMP)
                    or record[s.CHANNEL] in {r[s.CHANNEL] for r in block}
                )
            )
            if new_step and block:
                step += 1
                for r in block:
                    if r[s.CHANNEL] in alpha:
                        alpha[r[s.CHANNEL]] += bool(r[SUCCESS])
                        beta[r[s.CHANNEL]] += not bool(r[SUCCESS])
                hits = [r for r in block if r[SUCCESS]]
                shown = hits[0] if len(block) > 1 and len(hits) == 1 else block[0]
                snapshot(step, block[0].get(s.TIMESTAMP), shown[s.CHANNEL], bool(shown[SUCCESS]))
                block = []
            if record is not None:
                block.append(record)
        return pd.DataFrame(rows)


# =========================================================================================
# Customize
# =========================================================================================


def _purchases_with_category(transactions, products) -> pd.DataFrame:
    _need_columns(
        transactions, (s.CUSTOMER_ID, s.PRODUCT_ID, s.REVENUE), "category_associations",
        "transactions",
    )  # fmt: skip
    _need_columns(products, (s.PRODUCT_ID, s.CATEGORY), "category_associations", "products")
    category = products.drop_duplicates(s.PRODUCT_ID).set_index(s.PRODUCT_ID)[s.CATEGORY]
    lines = transactions[transactions[s.REVENUE] > 0]
    out = pd.DataFrame(
        {
            s.CUSTOMER_ID: lines[s.CUSTOMER_ID].astype("str").to_numpy(),
            s.CATEGORY: lines[s.PRODUCT_ID].map(category).to_numpy(),
            s.MARGIN: (
                lines[s.REVENUE] - lines[s.COST].fillna(0.0)
                if s.COST in lines
                else lines[s.REVENUE]
            ).to_numpy(),
        }
    )
    return out.dropna(subset=[s.CATEGORY])


def category_associations(transactions: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Customers who bought category A also bought B: support, confidence, lift.

    Over the N customers with a purchase, with n_A the customers who bought
    A and n_AB those who bought both::

        support(A -> B)    = n_AB / N
        confidence(A -> B) = n_AB / n_A          (P(B | A))
        lift(A -> B)       = confidence / (n_B / N)   (> 1: A makes B likelier)

    Parameters
    ----------
    transactions, products : pandas.DataFrame
        Purchase lines (positive revenue) and the catalogue's categories.

    Returns
    -------
    pandas.DataFrame
        One row per ordered pair A != B bought together by at least one
        customer: ``antecedent``, ``consequent``, ``customers_a``,
        ``customers_b``, ``customers_ab``, ``support``, ``confidence``, ``lift``.

    References
    ----------
    Agrawal, R., Imielinski, T., & Swami, A. (1993). Mining association rules
    between sets of items in large databases. SIGMOD '93, 207-216.
    Brin, S., Motwani, R., Ullman, J. D., & Tsur, S. (1997). Dynamic itemset
    counting and implication rules for market basket data. SIGMOD '97.
    """
    bought = _purchases_with_category(transactions, products)[[s.CUSTOMER_ID, s.CATEGORY]]
    bought = bought.drop_duplicates()
    n = bought[s.CUSTOMER_ID].nunique()
    per_category = bought.groupby(s.CATEGORY).size()
    both = bought.merge(bought, on=s.CUSTOMER_ID, suffixes=("_a", "_b"))
    both = both[both[f"{s.CATEGORY}_a"] != both[f"{s.CATEGORY}_b"]]
    out = (
        both.groupby([f"{s.CATEGORY}_a", f"{s.CATEGORY}_b"])
        .size()
        .rename(CUSTOMERS_AB)
        .reset_index()
        .rename(columns={f"{s.CATEGORY}_a": ANTECEDENT, f"{s.CATEGORY}_b": CONSEQUENT})
    )
    out[CUSTOMERS_A] = out[ANTECEDENT].map(per_category)
    out[CUSTOMERS_B] = out[CONSEQUENT].map(per_category)
    out[SUPPORT] = out[CUSTOMERS_AB] / n
    out[CONFIDENCE] = out[CUSTOMERS_AB] / out[CUSTOMERS_A]
    out[LIFT] = out[CONFIDENCE] / (out[CUSTOMERS_B] / n)
    columns = [ANTECEDENT, CONSEQUENT, CUSTOMERS_A, CUSTOMERS_B, CUSTOMERS_AB]
    return out[[*columns, SUPPORT, CONFIDENCE, LIFT]].sort_values(
        [LIFT, CONFIDENCE], ascending=False, ignore_index=True
    )


#: Illustrative segment rules for :func:`next_best_offers`: who gets which offer,
#: the response rate assumed and the cost of one offer (GBP). Edit them for a client.
SEGMENT_OFFERS = pd.DataFrame(
    [
        (RFM_SEGMENT, "champions", "early access to new ranges", 0.25, 1.0),
        (RFM_SEGMENT, "at risk", "win-back voucher", 0.10, 5.0),
        (RFM_SEGMENT, "can't lose them", "personal call from the service team", 0.20, 6.0),
        (RFM_SEGMENT, "new customers", "welcome series", 0.15, 0.5),
        (NEEDS_SEGMENT, "price", "price-drop alerts", 0.08, 0.1),
        (NEEDS_SEGMENT, "convenience", "free delivery on the next order", 0.12, 3.0),
        (NEEDS_SEGMENT, "quality", "premium range preview", 0.10, 1.0),
        (NEEDS_SEGMENT, "service", "personal advice appointment", 0.12, 4.0),
    ],
    columns=["segment_column", "segment", "offer", "response_rate", "cost"],
)


def next_best_offers(
    transactions: pd.DataFrame,
    products: pd.DataFrame,
    segments: pd.DataFrame | None = None,
    rules: pd.DataFrame = SEGMENT_OFFERS,
    offer_cost: float = 0.5,
    n_offers: int = 2,
    min_lift: float = 1.0,
) -> pd.DataFrame:
    """Up to ``n_offers`` offers per customer whose expected value gain covers their cost.

    Two sources of offers:

    - cross-sell: for a category B the customer has not bought, the
      association A -> B (:func:`category_associations`) with the highest
      confidence among the categories A they have bought and lift above
      ``min_lift``; expected gain = confidence x the mean margin of a
      purchase line in B (an upper bound of what the offer adds: some would
      buy B anyway); cost = ``offer_cost``;
    - segment rules (:data:`SEGMENT_OFFERS`): a customer whose
      ``segments[segment_column]`` equals ``segment`` gets the rule's offer;
      expected gain = the rule's response rate x the customer's mean margin
      per order; cost = the rule's cost.

    The budget rule keeps an offer only when expected gain >= cost; the
    offers left are ranked by net gain = expected gain - cost.

    Parameters
    ----------
    transactions, products : pandas.DataFrame
    segments : pandas.DataFrame, optional
        Indexed by customer_id, with the columns the rules name (e.g.
        ``rfm_segment``, ``needs_segment``).
    rules : pandas.DataFrame
        ``segment_column``, ``segment``, ``offer``, ``response_rate``, ``cost``.
    offer_cost : float, default 0.5
        Cost of one cross-sell offer (e.g. an e-mail with a voucher's expected cost).
    n_offers : int, default 2
    min_lift : float, default 1.0

    Returns
    -------
    pandas.DataFrame
        customer_id, rank, offer, kind ("cross-sell" or "segment"),
        expected_gain, cost, net_gain, reason (text).
    """
    if isinstance(n_offers, bool) or not float(n_offers).is_integer() or n_offers < 1:
        raise CRMError(f"n_offers is a whole number of at least 1, not {n_offers!r}")
    lines = _purchases_with_category(transactions, products)
    associations = category_associations(transactions, products)
    associations = associations[associations[LIFT] > min_lift]
    line_margin = lines.groupby(s.CATEGORY)[s.MARGIN].mean()
    bought = lines[[s.CUSTOMER_ID, s.CATEGORY]].drop_duplicates()
    candidates = bought.merge(associations, left_on=s.CATEGORY, right_on=ANTECEDENT)
    owned = pd.MultiIndex.from_frame(bought)
    new = ~pd.MultiIndex.from_arrays([candidates[s.CUSTOMER_ID], candidates[CONSEQUENT]]).isin(
        owned
    )
    candidates = candidates[new].sort_values(
        [CONFIDENCE, LIFT, ANTECEDENT], ascending=[False, False, True]
    )
    best = candidates.drop_duplicates([s.CUSTOMER_ID, CONSEQUENT])
    cross = pd.DataFrame(
        {
            s.CUSTOMER_ID: best[s.CUSTOMER_ID].to_numpy(),
            "offer": ("cross-sell: " + best[CONSEQUENT].astype(str)).to_numpy(),
            KIND_OF_OFFER: "cross-sell",
            EXPECTED_GAIN: (
                best[CONFIDENCE] * best[CONSEQUENT].map(line_margin).astype(float)
            ).to_numpy(),
            "cost": float(offer_cost),
            REASON: (
                "bought "
                + best[ANTECEDENT].astype(str)
                + "; "
                + (best[CONFIDENCE] * 100).round().astype(int).astype(str)
                + " % of "
                + best[ANTECEDENT].astype(str)
                + " buyers also bought "
                + best[CONSEQUENT].astype(str)
                + " (lift "
                + best[LIFT].round(2).astype(str)
                + ")"
            ).to_numpy(),
        }
    )
    parts = [cross]
    if segments is not None and len(rules):
        order_margin = _margin_per_order(transactions)
        for rule in rules.itertuples(index=False):
            if rule.segment_column not in segments:
                continue
            who = segments.index[segments[rule.segment_column].astype("str") == rule.segment]
            who = who.astype("str")
            gain = rule.response_rate * order_margin.reindex(who).fillna(0.0).to_numpy()
            parts.append(
                pd.DataFrame(
                    {
                        s.CUSTOMER_ID: who,
                        "offer": rule.offer,
                        KIND_OF_OFFER: "segment",
                        EXPECTED_GAIN: gain,
                        "cost": float(rule.cost),
                        REASON: f"{rule.segment_column} is {rule.segment}: assumed response "
                        f"{rule.response_rate:.0%} x the customer's margin per order",
                    }
                )
            )
    offers = pd.concat([p for p in parts if len(p)] or [cross], ignore_index=True)
    offers = offers[offers[EXPECTED_GAIN] >= offers["cost"]].copy()
    offers[NET_GAIN] = offers[EXPECTED_GAIN] - offers["cost"]
    offers = offers.sort_values([s.CUSTOMER_ID, NET_GAIN, "offer"], ascending=[True, False, True])
    offers[RANK] = offers.groupby(s.CUSTOMER_ID).cumcount() + 1
    offers = offers[offers[RANK] <= n_offers]
    columns = [s.CUSTOMER_ID, RANK, "offer", KIND_OF_OFFER, EXPECTED_GAIN, "cost", NET_GAIN, REASON]
    return offers[columns].reset_index(drop=True)


def _margin_per_order(transactions: pd.DataFrame) -> pd.Series:
    """Mean margin (revenue - cost; revenue without costs) per order of each customer."""
    from crmlib.analytics.summary import customer_summary

    summary = customer_summary(transactions)
    value = summary[s.MARGIN].fillna(summary[s.REVENUE])
    per_order = value / summary[s.ORDERS].where(summary[s.ORDERS] > 0)
    per_order.index = per_order.index.astype("str")
    return per_order
