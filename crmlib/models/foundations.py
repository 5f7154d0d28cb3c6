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
ch. 4-5; Woodcock, N., Starkey, M. & Stone, M., *The Customer Management
Scorecard*, Kogan Page, 2003; Buttle, F. & Maklan, S., *Customer Relationship
Management: Concepts and Technologies*, Routledge; Payne, A. & Frow, P. (2005),
"A strategic framework for customer relationship management", Journal of
Marketing 69(4), 167-176.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmlib.analytics.concentration import revenue_concentration
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
            "authors": "Woodcock, Starkey & Stone (QCi)",
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


def choose_model(profile: ClientProfile) -> Recommendation:
    """Recommend a CRM model from a client profile, with the reasoning.

    Each model gets a score in [0, 1] from the signal that calls for it:

    - value chain: (top-20 % revenue share − 0.2) / (0.8 − 0.2), clipped;
    - IDIC: (needs complexity − 1) / 4;
    - QCi: 1 when a scored diagnostic is wanted, else 0.25 (it is always a
      useful baseline);
    - Payne & Frow: (channel inconsistency − 1) / 4.

    The highest score wins; ties go to the order above. This is the rule of
    thumb of the foundations lesson, not a law: the reasons say why.
    """
    share = profile.top20_revenue_share
    scores = {
        "CRM value chain": float(np.clip((share - EVEN_SHARE) / (PARETO_SHARE - EVEN_SHARE), 0, 1)),
        "IDIC": (profile.needs_complexity - 1) / 4,
        "QCi": 1.0 if profile.wants_diagnostic else 0.25,
        "Payne & Frow": (profile.channel_inconsistency - 1) / 4,
    }
    reasons = {
        "CRM value chain": f"the top 20 % of customers bring {share:.0%} of revenue: "
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


def profile_from_data(transactions: pd.DataFrame, **answers) -> ClientProfile:
    """A :class:`ClientProfile` whose revenue concentration is measured from the
    data; the other signals come from the interview (``answers``)."""
    return ClientProfile(top20_revenue_share=revenue_concentration(transactions), **answers)
