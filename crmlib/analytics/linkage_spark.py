"""Duplicate clusters on Spark, scored, clustered and written by Spark: no pair reaches the driver.

:class:`crmlib.analytics.linkage.DuplicateFinder` collects its scored pairs into pandas
(``pairs_``, ``clusters_``), which a lesson needs and a cluster's driver cannot afford for a
large customers table: ~100 k records give millions of scored pairs. :func:`write_clusters`
trains the same model in DuckDB in this process (the customers are read here anyway; the
model is a few m and u probabilities and a prior; splink's training on Spark runs hundreds of
small queries, 15 minutes and more for 100 k records on two cores against about 30 s in
DuckDB), then scores every candidate pair with it in Spark, keeps the links (pairs at or above
the threshold), clusters them by connected components in Spark (:func:`_components`, each
cluster named by its smallest record id, as :func:`crmlib.analytics.linkage._clusters` names
it) and writes the clusters from Spark. Only the trained model reaches the driver's JVM.
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
)
from crmlib.data import schema as s
from crmlib.spark import spark_session


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
        As for :func:`crmlib.spark.spark_session`.
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
    from splink import Linker, SparkAPI

    finder = DuplicateFinder(threshold=threshold, seed=seed, engine="duckdb", **settings)
    path = str(Path(path))
    with finder.trained(customers) as (frame, trainer):
        model = None if trainer is None else trainer.misc.save_model_to_json()
        scoring = None if trainer is None else _trained_settings(finder, frame, model)
    # a session of its own: splink's tables, and as many shuffle partitions as the
    # cluster has cores (Spark's 200 cost more in task start-up than 100 k records do)
    spark = spark_session(spark_master).newSession()
    cores = spark.sparkContext.defaultParallelism
    spark.conf.set("spark.sql.shuffle.partitions", str(cores))
    if scoring is None:  # fewer than two records: nothing to link
        alone = _clusters(frame["unique_id"], pd.DataFrame(columns=_PAIRS), threshold)
        spark.createDataFrame(alone.reset_index()).write.mode("overwrite").parquet(path)
        return finder, len(alone)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pyspark on pandas 3
        records = spark.createDataFrame(frame)
    # on the executors, cut from the driver: a small table made from pandas is a local
    # relation that Spark's optimiser would otherwise evaluate in the driver, query by query
    # (2 M rows and 1 GB of the driver's heap for 100 k records)
    records = records.repartition(cores).localCheckpoint()
    api = SparkAPI(
        spark_session=spark, break_lineage_method="persist", num_partitions_on_repartition=cores
    )
    with _captured_splink_log(finder.log_):
        linker = Linker(api.register(records), scoring, log_level=None)
        # only the links: the pairs below the threshold are for review (``pairs_``), not
        # for the clusters, and would be most of what Spark scores, keeps and clusters
        predictions = linker.inference.predict(threshold)
        links = predictions.as_spark_dataframe().select(
            F.col("unique_id_l").alias("a"), F.col("unique_id_r").alias("b"), MATCH_PROBABILITY
        )
        links = links.where(F.col(MATCH_PROBABILITY) >= threshold).localCheckpoint()
    ends = links.select("a", MATCH_PROBABILITY).unionByName(
        links.select(F.col("b").alias("a"), MATCH_PROBABILITY)
    )
    strongest = ends.groupBy("a").agg(F.max(MATCH_PROBABILITY).alias(MATCH_PROBABILITY))
    labels = _components(links.select("a", "b"))
    (
        records.select(F.col("unique_id").alias("a"))
        .join(labels, "a", "left")
        .withColumn(CLUSTER_ID, F.coalesce(F.col("label"), F.col("a")))
        .withColumn(CLUSTER_SIZE, F.count(F.lit(1)).over(Window.partitionBy(CLUSTER_ID)))
        .join(strongest, "a", "left")
        .select(
            F.col("a").alias(s.CUSTOMER_ID),
            CLUSTER_ID,
            CLUSTER_SIZE,
            F.col(MATCH_PROBABILITY).cast("double"),
        )
        .write.mode("overwrite")
        .parquet(path)
    )
    spark.catalog.clearCache()  # splink's tables, persisted on the executors
    return finder, ds.dataset(path, format="parquet").count_rows()


def _components(pairs):
    """The connected components of linked records, in Spark: (``a``, ``label``) per record.

    ``label`` is the smallest record id of the record's component (the cluster id
    :func:`crmlib.analytics.linkage._clusters` gives). Minimum-label propagation:
    each round, a record takes the smallest label among itself and its neighbours, so
    that after as many rounds as the longest shortest path in a component, every record
    holds the component's minimum; a round that changes no label ends it (Hirschberg,
    Chandra & Sarwate 1979, "Computing connected components on parallel computers",
    *Communications of the ACM* 22(8), 461-464). Only linked records take part: the others
    are clusters of one. Each round is cut from the last (``localCheckpoint``), so that
    the plan does not grow.
    """
    from pyspark.sql import functions as F  # noqa: N812

    edges = pairs.unionByName(pairs.select(F.col("b").alias("a"), F.col("a").alias("b")))
    edges = edges.localCheckpoint()
    labels = edges.groupBy("a").agg(F.least(F.first("a"), F.min("b")).alias("label"))
    labels = labels.localCheckpoint()
    while True:
        around = (
            edges.join(labels.select(F.col("a").alias("b"), F.col("label").alias("near")), "b")
            .groupBy("a")
            .agg(F.min("near").alias("near"))
        )
        new = labels.join(around, "a").select("a", F.least("label", "near").alias("label"))
        new = new.localCheckpoint()
        if new.join(labels.withColumnRenamed("label", "old"), "a").where("label <> old").isEmpty():
            return new
        labels = new


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
