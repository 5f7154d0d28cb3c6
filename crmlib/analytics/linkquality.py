"""How good a record linkage is: pairwise precision, recall and F1 against a known truth.

Used to check :mod:`crmlib.analytics.linkage` on planted duplicates (lesson 01, the tests).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.errors import DataError

__all__ = ["pairwise_link_quality"]


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
