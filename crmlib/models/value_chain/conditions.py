"""Supporting conditions: the assessed conditions that hold each primary stage back."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics.assessment import HOLDS_BACK, NAME
from crmlib.data import schema as s
from crmlib.errors import CRMError
from crmlib.models.value_chain._common import (
    CONDITIONS,
    REALITY_MEAN,
    WEAKEST,
    WEAKEST_REALITY,
)

# =========================================================================================
# Supporting conditions
# =========================================================================================


def conditions_by_stage(result) -> pd.DataFrame:
    """The supporting conditions that hold back each primary stage, with their scores.

    Each area (supporting condition) of the ``value_chain`` question bank
    names the primary stages it holds back (``holds_back``; the workbook's
    reading of Buttle & Maklan's model). Per primary stage: the conditions
    that bear on it, the mean of their reality scores, and the weakest of
    them: the condition to fix first for that stage.

    Parameters
    ----------
    result : crmlib.analytics.assessment.AssessmentResult
        The scored ``value_chain`` assessment.

    Returns
    -------
    DataFrame
        Index the primary stage id; columns name, conditions (names, weakest
        first), mean_reality, weakest_condition, weakest_reality.
    """
    stages = result.bank.primary_stages
    if not stages:
        raise CRMError(f"the '{result.bank.id}' bank has no primary stages to tie conditions to")
    rows = []
    for stage_id, stage_name in stages.items():
        held = result.areas[[stage_id in ids for ids in result.areas[HOLDS_BACK]]]
        held = held.sort_values(s.REALITY, kind="stable", na_position="last")
        scored = held.dropna(subset=[s.REALITY])
        rows.append(
            {
                "stage": stage_id,
                NAME: stage_name,
                CONDITIONS: ", ".join(held[NAME]),
                REALITY_MEAN: float(scored[s.REALITY].mean()) if len(scored) else np.nan,
                WEAKEST: scored[NAME].iloc[0] if len(scored) else None,
                WEAKEST_REALITY: float(scored[s.REALITY].iloc[0]) if len(scored) else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("stage")
