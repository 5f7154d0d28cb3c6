"""Implementation: the readiness actions that follow from the readiness assessment."""

from __future__ import annotations

import pandas as pd

from crmlib.analytics.assessment import ACTION, NAME, PRIORITY, RANK, STAGE, AssessmentResult
from crmlib.data import schema as s
from crmlib.errors import CRMError
from crmlib.models.payne_frow._common import (
    GAP_TO_READY,
)

# =========================================================================================
# Implementation
# =========================================================================================


def readiness_actions(result: AssessmentResult) -> pd.DataFrame:
    """Each implementation factor's stage, its distance to "ready" and the action it calls for.

    The four factors are Payne & Frow's (2006), "Customer relationship
    management: from strategy to implementation", *Journal of Marketing
    Management* 22(1-2), 135-168: CRM readiness assessment, CRM change
    management, CRM project management and employee engagement. Scores,
    stages and actions come from the ``payne_frow_readiness`` bank through
    :func:`crmlib.analytics.assessment.score`; the gap to ready is the lower bound of
    the bank's last stage minus the reality score (0 when reached).

    Returns
    -------
    DataFrame
        Index area, in priority order; columns rank, name, reality, stage,
        gap_to_ready, action (``"keep it up"`` for a factor already ready).
    """
    if not isinstance(result, AssessmentResult):
        raise CRMError("readiness_actions needs the AssessmentResult of crmlib.analytics.assessment.score")
    stages = result.bank.stages
    if not stages:
        raise CRMError(f"the '{result.bank.id}' bank has no stages, so there is no 'ready'")
    ready_at, ready = stages[-1]
    table = result.priorities[[RANK, NAME, s.REALITY, STAGE, PRIORITY, ACTION]].copy()
    table[GAP_TO_READY] = (ready_at - table[s.REALITY]).clip(lower=0.0)
    table[ACTION] = table[ACTION].where(table[STAGE] != ready, "keep it up")
    return table[[RANK, NAME, s.REALITY, STAGE, GAP_TO_READY, ACTION]]
