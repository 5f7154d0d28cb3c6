"""The foundations lesson: the four CRM models side by side, a model chooser,
and a first look at a client's data (revenue concentration, customers over time).

The chooser encodes a rule of thumb from practice, taught with its reasoning
rather than as law (see ``notebooks/00_foundations.ipynb``):

- revenue carried by a few customers → Buttle's CRM value chain (portfolio and
  profitability analysis first);
- complex, individual needs → Peppers & Rogers' IDIC;
- a scored diagnostic of current practice wanted → the QCi model (CMAT);
- inconsistency across departments and channels → Payne & Frow.

Sources: Peppers, D. & Rogers, M., *Managing Customer Relationships*, Wiley,
ch. 4-5; Woodcock, N., Stone, M. & Foss, B., *The Customer Management
Scorecard*, Kogan Page, 2003; Buttle, F. & Maklan, S., *Customer Relationship
Management: Concepts and Technologies*, Routledge; Payne, A. & Frow, P. (2005),
"A strategic framework for customer relationship management", Journal of
Marketing 69(4), 167-176.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmlib.data import schema as s
from crmlib.errors import CRMError

MODELS = pd.DataFrame(
    [
        {
            "model": "IDIC",
            "authors": "Peppers & Rogers",
            "steps": "Identify → Differentiate → Interact → Customize",
            "asks": "Do we know each customer, their value and needs, and act on it one by one?",
            "suits": "complex, individual needs; enough data to tell customers apart",
            "lesson": "01_idic.ipynb",
        },
        {
            "model": "QCi",
            "authors": "Woodcock, Stone & Foss (QCi)",
            "steps": "8 areas scored on intention and reality (CMAT)",
            "asks": "How good is our customer management practice, against best practice?",
            "suits": "a scored, benchmarked diagnostic of current practice",
            "lesson": "02_qci.ipynb",
        },
        {
            "model": "CRM value chain",
            "authors": "Buttle",
            "steps": "portfolio analysis → intimacy → network → value proposition → "
            "relationship management, on 5 supporting conditions",
            "asks": "Which customers create value, and how do we serve them profitably?",
            "suits": "revenue and profit concentrated in a few customers",
            "lesson": "03_value_chain.ipynb",
        },
        {
            "model": "Payne & Frow",
            "authors": "Payne & Frow",
            "steps": "strategy → value creation → multichannel integration → "
            "information management → performance assessment",
            "asks": "Is the customer experience consistent across every department and channel?",
            "suits": "many departments and channels that must act as one",
            "lesson": "04_payne_frow.ipynb",
        },
    ]
).set_index("model")


@dataclass
class ClientProfile:
    """What the chooser looks at.

    Parameters
    ----------
    top20_revenue_share : float
        Share of revenue from the top 20 % of customers (0-1); see
        :func:`revenue_concentration`.
    needs_complexity : int
        1 (uniform, simple needs) to 5 (complex, individual needs).
    wants_diagnostic : bool
        The client asks for a scored assessment of current practice.
    channel_inconsistency : int
        1 (one consistent experience) to 5 (departments and channels act apart).
    """

    top20_revenue_share: float
    needs_complexity: int = 3
    wants_diagnostic: bool = False
    channel_inconsistency: int = 3

    def __post_init__(self):
        if not 0 <= self.top20_revenue_share <= 1:
            raise CRMError("top20_revenue_share must be a share between 0 and 1")
        for name in ("needs_complexity", "channel_inconsistency"):
            if getattr(self, name) not in (1, 2, 3, 4, 5):
                raise CRMError(f"{name} must be a whole number from 1 to 5")


@dataclass
class Recommendation:
    """The chooser's answer: the model, each model's score and the reasons."""

    model: str
    scores: pd.Series
    reasons: dict[str, str] = field(default_factory=dict)

    def explain(self) -> str:
        lines = [f"Recommended: {self.model}"]
        for model in self.scores.index:
            lines.append(f"- {model} ({self.scores[model]:.2f}): {self.reasons[model]}")
        return "\n".join(lines)


# An even spread gives the top 20 % of customers 20 % of revenue; Pareto's
# 80 % is the classic concentrated case. The score rises linearly between them.
EVEN_SHARE, PARETO_SHARE = 0.2, 0.8

#: The weight of each model's signal in its score: equal by default. A consultant who
#: trusts one signal more (say, the interview's needs question) raises its weight.
DEFAULT_WEIGHTS = {"CRM value chain": 1.0, "IDIC": 1.0, "QCi": 1.0, "Payne & Frow": 1.0}


def model_signals(profile: ClientProfile) -> pd.Series:
    r"""The signal in [0, 1] that calls for each model (before weighting).

    - value chain: :math:`x_{VC} = \min(1, \max(0, (c - 0.2) / (0.8 - 0.2)))`, with
      :math:`c` the top-20 % revenue share (0.2 is an even spread, 0.8 Pareto's case);
    - IDIC: :math:`x_{IDIC} = (n - 1) / 4`, with :math:`n` the needs complexity (1-5);
    - QCi: :math:`x_{QCi} = 1` when a scored diagnostic is wanted, else 0.25 (it is
      always a useful baseline);
    - Payne & Frow: :math:`x_{PF} = (i - 1) / 4`, with :math:`i` the channel
      inconsistency (1-5).

    Returns
    -------
    Series
        Indexed by model name, in the order above.
    """
    share = profile.top20_revenue_share
    return pd.Series(
        {
            "CRM value chain": float(
                np.clip((share - EVEN_SHARE) / (PARETO_SHARE - EVEN_SHARE), 0, 1)
            ),
            "IDIC": (profile.needs_complexity - 1) / 4,
            "QCi": 1.0 if profile.wants_diagnostic else 0.25,
            "Payne & Frow": (profile.channel_inconsistency - 1) / 4,
        }
    )


def _check_weights(weights) -> pd.Series:
    if not isinstance(weights, Mapping):
        raise CRMError("weights must be a mapping of model name to weight, e.g. {'IDIC': 2}")
    unknown = [m for m in weights if m not in DEFAULT_WEIGHTS]
    if unknown:
        raise CRMError(
            f"weights: {unknown[0]!r} is not one of the models ({', '.join(DEFAULT_WEIGHTS)})"
        )
    out = pd.Series(DEFAULT_WEIGHTS, dtype="float64")
    for model, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
            raise CRMError(f"weights: {model!r} must be a number of 0 or more, got {weight!r}")
        out[model] = float(weight)
    if out.sum() <= 0:
        raise CRMError("weights: at least one model needs a weight above 0")
    return out


def choose_model(profile: ClientProfile, weights: Mapping | None = None) -> Recommendation:
    r"""Recommend a CRM model from a client profile, with the reasoning.

    Each model :math:`m` scores its weighted signal,
    :math:`\text{score}_m = w_m \, x_m`, with :math:`x_m` from
    :func:`model_signals` and :math:`w_m` from ``weights`` (default
    :data:`DEFAULT_WEIGHTS`: all 1, so the score is the signal). The highest
    score wins; ties go to the order of :func:`model_signals`. This is the rule
    of thumb of the foundations lesson (a rule from practice, not a published
    model), not a law: the reasons say why.

    Parameters
    ----------
    profile : ClientProfile
    weights : mapping of str to float, optional
        Weights replacing the default for the models named, e.g. ``{"IDIC": 2}``;
        models not named keep weight 1. 0 takes a model out of the running.

    Raises
    ------
    CRMError
        An unknown model name, a negative or non-numeric weight, or all weights 0.
    """
    w = _check_weights(DEFAULT_WEIGHTS if weights is None else weights)
    share = profile.top20_revenue_share
    scores = (model_signals(profile) * w).to_dict()
    reasons = {
        "CRM value chain": f"the top 20 % of customers bring {share * 100:.1f} % of revenue: "
        + (
            "a few customers carry the business, so start from portfolio and profitability"
            if share >= 0.6
            else "revenue is not very concentrated"
        ),
        "IDIC": f"needs complexity {profile.needs_complexity}/5: "
        + (
            "individual needs reward identifying and customising one by one"
            if profile.needs_complexity >= 4
            else "needs are fairly uniform"
        ),
        "QCi": "a scored, benchmarked diagnostic was asked for"
        if profile.wants_diagnostic
        else "no scored diagnostic asked for (still a useful baseline)",
        "Payne & Frow": f"channel inconsistency {profile.channel_inconsistency}/5: "
        + (
            "departments and channels must be integrated into one experience"
            if profile.channel_inconsistency >= 4
            else "channels already act fairly consistently"
        ),
    }
    ranked = pd.Series(scores).sort_values(ascending=False, kind="stable")
    return Recommendation(ranked.index[0], ranked, {m: reasons[m] for m in ranked.index})


def customers_over_time(transactions: pd.DataFrame, freq: str = "M") -> pd.DataFrame:
    """New and active customers per period.

    A customer is *new* in the period of their first purchase and *active* in
    every period with a purchase (returns are not purchases).

    Returns
    -------
    DataFrame indexed by period start, columns ``new`` and ``active``.
    """
    purchases = transactions.loc[transactions[s.REVENUE] >= 0, [s.CUSTOMER_ID, s.ORDER_DATE]]
    period = purchases[s.ORDER_DATE].dt.to_period(freq)
    active = purchases.groupby(period)[s.CUSTOMER_ID].nunique()
    first = purchases.groupby(s.CUSTOMER_ID)[s.ORDER_DATE].min().dt.to_period(freq)
    new = first.value_counts().reindex(active.index, fill_value=0)
    out = pd.DataFrame({"new": new, "active": active})
    out.index = out.index.to_timestamp()
    out.index.name = "period"
    return out
