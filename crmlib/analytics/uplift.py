"""Campaign uplift: incremental response over a holdout, and the expected value of an offer.

One definition for QCi's "measuring the effect" and IDIC's next best offers:

- :func:`campaign_groups`: who was in each campaign's treated and control group, and who
  bought inside its window;
- :func:`campaign_uplift`: uplift = response rate of the treated - response rate of the
  control group, with Newcombe's interval (:func:`crmlib.analytics.intervals.proportion_difference_ci`);
- :func:`offer_value`: P(alive) x uplift x margin - cost of the contact.

Uplift (incremental response) rather than the treated group's response rate is the
quantity a contact changes: Radcliffe & Surry (2011), "Real-world uplift modelling with
significance-based uplift trees", Stochastic Solutions white paper; Lo (2002), "The true
lift model", *SIGKDD Explorations* 4(2), 78-86.

On a :func:`crmlib.synth.generate` result ``company``::

    t = company.tables
    groups = campaign_groups(t["transactions"], t["interactions"], t["campaigns"])
    table = campaign_uplift(groups)   # compare with company.truth.campaign_lift
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.analytics.experience import CI_HIGH, CI_LOW, GROUP
from crmlib.analytics.intervals import proportion_difference_ci
from crmlib.analytics.lapse import check_days
from crmlib.analytics.orders import purchase_lines as _purchases
from crmlib.data import schema as s
from crmlib.data.checks import need_columns as _need
from crmlib.errors import CRMError

# --- names this module defines ---------------------------------------------
KIND_CONTACT, KIND_HOLDOUT = s.KIND_CAMPAIGN_CONTACT, s.KIND_CAMPAIGN_HOLDOUT
TREATED, CONTROL = "treated", "control"
RESPONDED = "responded"
WINDOW_START, WINDOW_END = "window_start", "window_end"
CONTROL_KIND = "control_kind"
HOLDOUT, NOT_CONTACTED = "holdout", "not contacted"
N_TREATED, N_CONTROL = "n_treated", "n_control"
RESPONDERS_TREATED, RESPONDERS_CONTROL = "responders_treated", "responders_control"
RATE_TREATED, RATE_CONTROL = "rate_treated", "rate_control"
LIFT = "lift"  # the difference of response rates, treated - control
INCREMENTAL = "incremental_responders"
OFFER_VALUE = "offer_value"

UPLIFT_COLUMNS = (
    CONTROL_KIND,
    N_TREATED,
    RESPONDERS_TREATED,
    RATE_TREATED,
    N_CONTROL,
    RESPONDERS_CONTROL,
    RATE_CONTROL,
    LIFT,
    CI_LOW,
    CI_HIGH,
    INCREMENTAL,
)


def _campaign_windows(
    interactions: pd.DataFrame, campaigns: pd.DataFrame | None, window_days: int
) -> pd.DataFrame:
    """Start and end (inclusive) of each campaign's response window."""
    first = interactions.groupby(s.CAMPAIGN_ID)[s.TIMESTAMP].min().dt.normalize()
    windows = pd.DataFrame(
        {WINDOW_START: first, WINDOW_END: first + pd.Timedelta(days=window_days - 1)}
    )
    if campaigns is not None and {s.START_DATE, s.END_DATE} <= set(campaigns.columns):
        dated = campaigns.dropna(subset=[s.START_DATE, s.END_DATE]).drop_duplicates(s.CAMPAIGN_ID)
        dated = dated.set_index(s.CAMPAIGN_ID)
        known = windows.index.intersection(dated.index)
        windows.loc[known, WINDOW_START] = dated.loc[known, s.START_DATE].dt.normalize()
        windows.loc[known, WINDOW_END] = dated.loc[known, s.END_DATE].dt.normalize()
    return windows


def campaign_groups(
    transactions: pd.DataFrame,
    interactions: pd.DataFrame,
    campaigns: pd.DataFrame | None = None,
    window_days: int = 28,
) -> pd.DataFrame:
    """Who was in each campaign's treated and control group, and who responded by buying.

    * Treated: customers with an interaction of kind ``campaign_contact`` for
      the campaign. Control: customers with kind ``campaign_holdout`` (a
      random holdout kept from the contact), not also contacted. A campaign
      without a holdout is compared with the *non-contacted* customers: those
      with a purchase before its window who got neither. That comparison is
      biased whenever the contacted were chosen (by segment, by value), so the
      lift table says which control was used.
    * Response: a purchase (revenue >= 0) dated inside the campaign window,
      ``start_date`` to ``end_date`` inclusive from the campaigns table, else
      ``window_days`` days from the campaign's first contact. A window still
      open on the last order date understates the responses of both groups.

    Returns
    -------
    DataFrame
        One row per (campaign, customer): campaign_id, customer_id, group
        (``treated`` / ``control``), control_kind (``holdout`` / ``not
        contacted``), responded (bool), window_start, window_end.
    """
    _need(interactions, "interactions", (s.CUSTOMER_ID, s.TIMESTAMP, s.KIND, s.CAMPAIGN_ID))
    days = check_days(window_days, "window_days")
    bought, _ = _purchases(transactions)
    arms = interactions.loc[
        interactions[s.KIND].isin([KIND_CONTACT, KIND_HOLDOUT])
        & interactions[s.CAMPAIGN_ID].notna(),
        [s.CAMPAIGN_ID, s.CUSTOMER_ID, s.KIND, s.TIMESTAMP],
    ]
    columns = [
        s.CAMPAIGN_ID,
        s.CUSTOMER_ID,
        GROUP,
        CONTROL_KIND,
        RESPONDED,
        WINDOW_START,
        WINDOW_END,
    ]
    if arms.empty:
        return pd.DataFrame(columns=columns)
    windows = _campaign_windows(arms, campaigns, days)
    treated = arms.loc[arms[s.KIND] == KIND_CONTACT, [s.CAMPAIGN_ID, s.CUSTOMER_ID]]
    treated = treated.drop_duplicates().assign(**{GROUP: TREATED})
    holdout = arms.loc[
        arms[s.KIND] == KIND_HOLDOUT, [s.CAMPAIGN_ID, s.CUSTOMER_ID]
    ].drop_duplicates()
    contacted = pd.MultiIndex.from_frame(treated[[s.CAMPAIGN_ID, s.CUSTOMER_ID]])
    holdout = holdout.loc[~pd.MultiIndex.from_frame(holdout).isin(contacted)]
    holdout = holdout.assign(**{GROUP: CONTROL, CONTROL_KIND: HOLDOUT})
    parts = [treated, holdout]
    for campaign in treated[s.CAMPAIGN_ID].unique():
        if (holdout[s.CAMPAIGN_ID] == campaign).any():
            continue
        start = windows.at[campaign, WINDOW_START]
        earlier = bought.loc[bought[s.ORDER_DATE] < start, s.CUSTOMER_ID].unique()
        reached = arms.loc[arms[s.CAMPAIGN_ID] == campaign, s.CUSTOMER_ID].unique()
        others = np.setdiff1d(earlier.astype(object), reached.astype(object))
        parts.append(
            pd.DataFrame(
                {
                    s.CAMPAIGN_ID: campaign,
                    s.CUSTOMER_ID: others,
                    GROUP: CONTROL,
                    CONTROL_KIND: NOT_CONTACTED,
                }
            )
        )
    groups = pd.concat(parts, ignore_index=True)
    kind = groups.groupby(s.CAMPAIGN_ID)[CONTROL_KIND].first()  # NaN: no control at all
    groups[CONTROL_KIND] = groups[s.CAMPAIGN_ID].map(kind)
    groups = groups.join(windows, on=s.CAMPAIGN_ID)
    # a response: any purchase of the customer inside the campaign's window
    joined = groups[[s.CAMPAIGN_ID, s.CUSTOMER_ID, WINDOW_START, WINDOW_END]].merge(
        bought[[s.CUSTOMER_ID, s.ORDER_DATE]], on=s.CUSTOMER_ID
    )
    inside = joined.loc[
        (joined[s.ORDER_DATE] >= joined[WINDOW_START])
        & (joined[s.ORDER_DATE] <= joined[WINDOW_END])
    ]
    hit = pd.MultiIndex.from_frame(inside[[s.CAMPAIGN_ID, s.CUSTOMER_ID]].drop_duplicates())
    groups[RESPONDED] = pd.MultiIndex.from_frame(groups[[s.CAMPAIGN_ID, s.CUSTOMER_ID]]).isin(hit)
    return groups[columns].sort_values([s.CAMPAIGN_ID, GROUP], ignore_index=True, kind="stable")


def campaign_uplift(
    responses: pd.DataFrame, level: float = 0.95, method: str = "newcombe"
) -> pd.DataFrame:
    """Uplift of each campaign: response rate of the treated minus that of the control group.

    ``lift = x_t / n_t - x_c / n_c`` with its confidence interval from
    :func:`crmlib.analytics.intervals.proportion_difference_ci` (Newcombe 1998,
    *Statistics in Medicine* 17, 873-890, by default). It is the incremental
    response of the "true lift" / uplift literature (Lo 2002, *SIGKDD
    Explorations* 4(2); Radcliffe & Surry 2011): the treated group's response
    rate alone also counts customers who would have bought anyway.

    Parameters
    ----------
    responses : DataFrame
        From :func:`campaign_groups`.
    level : float, default 0.95
    method : {"newcombe", "wald"}

    Returns
    -------
    DataFrame
        Index campaign_id; columns control_kind, n_treated, responders_treated,
        rate_treated, n_control, responders_control, rate_control, lift, ci_low,
        ci_high, incremental_responders (lift x n_treated). Campaigns lacking a
        treated or a control customer are left out.
    """
    _need(responses, "campaign responses", (s.CAMPAIGN_ID, GROUP, RESPONDED, CONTROL_KIND))
    rows = []
    for campaign, part in responses.groupby(s.CAMPAIGN_ID, sort=True):
        t = part.loc[part[GROUP] == TREATED, RESPONDED]
        c = part.loc[part[GROUP] == CONTROL, RESPONDED]
        if t.empty or c.empty:
            continue
        lift, low, high = proportion_difference_ci(
            int(t.sum()), len(t), int(c.sum()), len(c), level=level, method=method
        )
        rows.append(
            {
                s.CAMPAIGN_ID: campaign,
                CONTROL_KIND: part[CONTROL_KIND].iloc[0],
                N_TREATED: len(t),
                RESPONDERS_TREATED: int(t.sum()),
                RATE_TREATED: float(t.mean()),
                N_CONTROL: len(c),
                RESPONDERS_CONTROL: int(c.sum()),
                RATE_CONTROL: float(c.mean()),
                LIFT: lift,
                CI_LOW: low,
                CI_HIGH: high,
                INCREMENTAL: lift * len(t),
            }
        )
    return pd.DataFrame(rows, columns=[s.CAMPAIGN_ID, *UPLIFT_COLUMNS]).set_index(s.CAMPAIGN_ID)


def offer_value(p_alive, uplift, margin, contact_cost):
    """Expected value of one offer to one customer: P(alive) x uplift x margin - contact cost.

    ::

        value = P(alive) * uplift * margin - cost of the contact

    A dead customer cannot respond, so the incremental response a campaign
    test measured (the uplift, :func:`campaign_uplift`) is weighted by the
    probability the customer is still active (BG/NBD P(alive), Fader, Hardie &
    Lee 2008 note "Computing P(alive) using the BG/NBD model"); the margin is
    what one incremental purchase leaves. The cost is paid whether or not the
    customer responds. This is the expected-profit rule of targeted marketing
    (Bult & Wansbeek 1995, "Optimal selection for direct mail", *Marketing
    Science* 14(4), 378-394) with the response probability replaced by the
    incremental one (Lo 2002).

    Parameters
    ----------
    p_alive, uplift, margin, contact_cost : float or array-like
        Broadcast together; p_alive in [0, 1]; uplift may be negative.

    Returns
    -------
    float or numpy.ndarray or pandas.Series
        Like the broadcast inputs (a Series when ``p_alive`` is one).
    """
    p = np.asarray(p_alive, dtype=float)
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise CRMError("offer_value: p_alive must be probabilities between 0 and 1")
    value = p * np.asarray(uplift, dtype=float) * np.asarray(margin, dtype=float) - np.asarray(
        contact_cost, dtype=float
    )
    if isinstance(p_alive, pd.Series):
        return pd.Series(value, index=p_alive.index, name=OFFER_VALUE)
    return value if value.ndim else float(value)


def pooled_uplift(table: pd.DataFrame, level: float = 0.95) -> tuple[float, float, float] | None:
    """Uplift over all campaigns measured against a random holdout, with its interval.

    The treated and control counts of the campaigns whose control is a
    holdout (:data:`HOLDOUT`; a "not contacted" control is biased by who was
    chosen) are added up, and :func:`crmlib.analytics.intervals.proportion_difference_ci`
    (Newcombe 1998) gives the difference of the pooled response rates and its
    interval. None when no campaign has a holdout.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`campaign_uplift`.
    level : float, default 0.95

    Returns
    -------
    (uplift, low, high) or None
    """
    _need(
        table,
        "campaign uplift",
        (CONTROL_KIND, N_TREATED, RESPONDERS_TREATED, N_CONTROL, RESPONDERS_CONTROL),
    )
    held = table.loc[table[CONTROL_KIND] == HOLDOUT]
    if held.empty:
        return None
    return proportion_difference_ci(
        int(held[RESPONDERS_TREATED].sum()),
        int(held[N_TREATED].sum()),
        int(held[RESPONDERS_CONTROL].sum()),
        int(held[N_CONTROL].sum()),
        level=level,
    )


#: The incremental response assumed when no campaign of the client was measured against a
#: holdout: an assumption, and every figure that uses it says so (source :data:`ASSUMED`).
DEFAULT_UPLIFT = 0.02

MEASURED, ASSUMED = "measured", "assumed"


@dataclass(frozen=True)
class ActionEffect:
    """The incremental response a CRM action is credited with, and where it comes from.

    Attributes
    ----------
    uplift : float
        Extra share of the customers an action moves (0.043: 4.3 points).
    source : {"measured", "assumed"}
    low, high : float or None
        The 95 % interval of a measured uplift.
    """

    uplift: float
    source: str
    low: float | None = None
    high: float | None = None

    def describe(self) -> str:
        """One sentence for a client."""
        if self.source == MEASURED:
            return (
                f"{self.uplift:.1%} incremental response, measured over the client's campaign "
                f"holdouts (95 % interval {self.low:.1%} to {self.high:.1%})"
            )
        return (
            f"{self.uplift:.1%} incremental response, assumed: no campaign of the client "
            "was measured against a holdout"
        )


def action_effect(
    transactions: pd.DataFrame,
    interactions: pd.DataFrame | None = None,
    campaigns: pd.DataFrame | None = None,
    default: float = DEFAULT_UPLIFT,
) -> ActionEffect:
    """The one effect every valued recommendation and offer uses.

    The pooled uplift over the client's campaigns with a random holdout
    (:func:`pooled_uplift`: treated minus holdout response rate, Newcombe
    interval), floored at 0: what contacting customers has been shown to add
    over not contacting them (Radcliffe 2007, "Using control groups to target
    on predicted lift", *Direct Marketing Analytics Journal*). Without
    interactions that name campaigns, or without a campaign that kept a
    holdout, ``default``, marked as assumed.

    Parameters
    ----------
    transactions : pandas.DataFrame
    interactions, campaigns : pandas.DataFrame, optional
    default : float, default :data:`DEFAULT_UPLIFT`

    Returns
    -------
    ActionEffect
    """
    if not 0 <= default < 1:
        raise CRMError(f"default is an uplift between 0 and 1, not {default!r}")
    needed = {s.CAMPAIGN_ID, s.KIND, s.TIMESTAMP}
    pooled = None
    if interactions is not None and needed <= set(interactions.columns):
        table = campaign_uplift(campaign_groups(transactions, interactions, campaigns))
        pooled = pooled_uplift(table) if len(table) else None
    if pooled is None:
        return ActionEffect(float(default), ASSUMED)
    return ActionEffect(max(float(pooled[0]), 0.0), MEASURED, float(pooled[1]), float(pooled[2]))
