"""Differentiate by needs: k-means segments on standardised survey needs, k by silhouette."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmlib.data import schema as s
from crmlib.data.checks import need_columns
from crmlib.errors import DataError

if TYPE_CHECKING:
    pass
from crmlib.models.idic._common import (
    NEEDS_SEGMENT,
    SEED,
)

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
        need_columns(surveys, "surveys", [s.CUSTOMER_ID, *columns], purpose="for NeedsSegmenter.fit")
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
