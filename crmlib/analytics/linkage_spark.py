"""Duplicate clusters on Spark, scored, clustered and written by Spark: no pair reaches the driver.

:class:`crmlib.analytics.linkage.DuplicateFinder` collects its scored pairs into pandas
(``pairs_``, ``clusters_``), which a lesson needs and a cluster's driver cannot afford for a
large customers table: ~100 k records give millions of scored pairs. :func:`write_clusters`
trains the same model in DuckDB in this process (the customers are read here anyway; the
model is a few m and u probabilities and a prior; splink's training on Spark runs hundreds of
small queries, 15 minutes and more for 100 k records on two cores against about 30 s in
DuckDB), then scores every candidate pair with it in Spark, clusters the links by connected
components in Spark (``cluster_pairwise_predictions_at_threshold``, each cluster named by its
smallest record id, as :func:`crmlib.analytics.linkage._clusters` names it) and writes the
clusters from Spark. Only the trained model reaches the driver's JVM.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from crmlib.analytics.linkage import (
    CLUSTER_ID,
    CLUSTER_SIZE,
    MATCH_PROBABILITY,
    SEED,
    DuplicateFinder,
    _captured_splink_log,
    _clusters,
    _splink_backend,
)
from crmlib.data import schema as s
from crmlib.engines import spark_session


def write_clusters(
    customers: pd.DataFrame,
    path,
    threshold: float = 0.9,
    seed: int = SEED,
    spark_master: str | None = None,
    **settings,
) -> tuple[DuplicateFinder, int]:
    """Link the customers' records on Spark and write one row per record to Parquet.

    The model of :func:`crmlib.analytics.linkage.find_duplicates` (trained in
    DuckDB), the pairs scored and clustered in Spark, and the columns of its ``clusters_``:
    ``customer_id``, ``cluster_id`` (the cluster's smallest customer id),
    ``cluster_size`` and ``match_probability`` (the strongest link at or above
    ``threshold`` to another record; missing for a record alone).

    Parameters
    ----------
    customers : pandas.DataFrame
        ``customer_id`` and any of ``name``, ``email``, ``phone``, ``city``
        (the records to compare, read by the caller).
    path : path
        The Parquet output: a folder of part files written by Spark.
    threshold : float, default 0.9
    seed : int
    spark_master : str, optional
        As for :func:`crmlib.engines.spark_session`.
    **settings
        Other :class:`DuplicateFinder` settings.

    Returns
    -------
    (DuplicateFinder, int)
        The finder with ``parameters_``, the prior, ``n_records_`` and
        ``log_`` (no ``pairs_`` or ``clusters_``: they stay in Spark), and the
        number of rows written (read from the Parquet footers).
    """
    import pyarrow.dataset as ds
    from pyspark.sql import Window
    from pyspark.sql import functions as F  # noqa: N812
    from splink import Linker

    finder = DuplicateFinder(threshold=threshold, seed=seed, engine="duckdb", **settings)
    path = str(Path(path))
    with finder.trained(customers) as (frame, trainer):
        model = None if trainer is None else trainer.misc.save_model_to_json()
        scoring = None if trainer is None else _trained_settings(finder, frame, model)
    spark = spark_session(spark_master)
    if scoring is None:  # fewer than two records: nothing to link
        alone = _clusters(frame["unique_id"], pd.DataFrame(columns=_PAIRS), threshold)
        spark.createDataFrame(alone.reset_index()).write.mode("overwrite").parquet(path)
        return finder, len(alone)
    with _captured_splink_log(finder.log_), _splink_backend("spark", spark_master) as api:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # pyspark on pandas 3
            linker = Linker(api.register(frame), scoring, log_level=None)
        predictions = linker.inference.predict(finder.review_floor)
        clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=threshold
        ).as_spark_dataframe()
        links = predictions.as_spark_dataframe().where(F.col(MATCH_PROBABILITY) >= threshold)
        ends = links.select(F.col("unique_id_l").alias("id"), MATCH_PROBABILITY).unionByName(
            links.select(F.col("unique_id_r").alias("id"), MATCH_PROBABILITY)
        )
        strongest = ends.groupBy("id").agg(F.max(MATCH_PROBABILITY).alias(MATCH_PROBABILITY))
        (
            clustered.select(F.col("unique_id").alias("id"), CLUSTER_ID)
            .withColumn(CLUSTER_SIZE, F.count(F.lit(1)).over(Window.partitionBy(CLUSTER_ID)))
            .join(strongest, "id", "left")
            .select(
                F.col("id").alias(s.CUSTOMER_ID),
                CLUSTER_ID,
                CLUSTER_SIZE,
                F.col(MATCH_PROBABILITY).cast("double"),
            )
            .write.mode("overwrite")
            .parquet(path)
        )
    return finder, ds.dataset(path, format="parquet").count_rows()


def _trained_settings(finder: DuplicateFinder, frame: pd.DataFrame, model: dict):
    """The finder's comparisons and rules with the trained m, u and prior of ``model``.

    ``model`` is splink's saved model of the same settings (``save_model_to_json``):
    its comparisons come in the same order, each level's m and u in level order,
    the null level left out (it carries no evidence).
    """
    scoring = finder._settings(frame)
    for comparison, trained in zip(scoring.comparisons, model["comparisons"], strict=True):
        levels = [lv for lv in trained["comparison_levels"] if not lv.get("is_null_level")]
        comparison.configure(
            m_probabilities=[lv.get("m_probability") for lv in levels],
            u_probabilities=[lv.get("u_probability") for lv in levels],
        )
    scoring.probability_two_random_records_match = model["probability_two_random_records_match"]
    return scoring


_PAIRS = ["customer_id_l", "customer_id_r", MATCH_PROBABILITY]
