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
    return effect_of(holdout_counts(transactions, interactions, campaigns), default)


def holdout_counts(
    transactions: pd.DataFrame,
    interactions: pd.DataFrame | None = None,
    campaigns: pd.DataFrame | None = None,
) -> pd.DataFrame | None:
    """The campaigns kept with a random holdout, counted (:data:`HOLDOUT_COUNTS`).

    :func:`campaign_uplift`'s rows whose control is :data:`HOLDOUT`, in memory; what
    :func:`holdout_counts_query` computes on an engine over every row. None when the
    interactions cannot name campaigns (no table, or no campaign, kind or timestamp column).
    """
    needed = {s.CUSTOMER_ID, s.CAMPAIGN_ID, s.KIND, s.TIMESTAMP}
    if interactions is None or not needed <= set(interactions.columns):
        return None
    table = campaign_uplift(campaign_groups(transactions, interactions, campaigns)).reset_index()
    held = table.loc[table[CONTROL_KIND] == HOLDOUT, list(HOLDOUT_COUNTS)]
    return held.reset_index(drop=True)


def effect_of(table: pd.DataFrame | None, default: float = DEFAULT_UPLIFT) -> ActionEffect:
    """:func:`action_effect` from a table of campaign counts already made.

    ``table`` is :func:`campaign_uplift`'s, or :func:`holdout_counts_query`'s (the counts of
    the campaigns kept with a holdout, computed on an engine over every row); None or empty
    when no campaign could be measured. The pooled uplift floored at 0, else ``default``
    marked as assumed.
    """
    if not 0 <= default < 1:
        raise CRMError(f"default is an uplift between 0 and 1, not {default!r}")
    pooled = pooled_uplift(table) if table is not None and len(table) else None
    if pooled is None:
        return ActionEffect(float(default), ASSUMED)
    return ActionEffect(max(float(pooled[0]), 0.0), MEASURED, float(pooled[1]), float(pooled[2]))


#: The columns of :func:`holdout_counts_query`: what :func:`pooled_uplift` reads.
HOLDOUT_COUNTS = (
    s.CAMPAIGN_ID,
    CONTROL_KIND,
    N_TREATED,
    RESPONDERS_TREATED,
    N_CONTROL,
    RESPONDERS_CONTROL,
)


def holdout_counts_query(eng, window_days: int = 28) -> str | None:
    """The counts of :func:`campaign_uplift` for the campaigns kept with a holdout, in SQL.

    :func:`campaign_groups` and :func:`campaign_uplift` as one query on an open engine
    (:class:`crmlib.engines.Engine`), for the campaigns whose control is a random holdout:
    the only ones :func:`pooled_uplift` pools (a campaign compared with the non-contacted is
    left out here). The same groups (treated: contacted; control: kept as holdout and not
    also contacted), windows (the campaigns table's dates, else ``window_days`` from the
    first contact) and responses (a purchase, revenue >= 0, inside the window).

    Returns
    -------
    str or None
        A query with the columns :data:`HOLDOUT_COUNTS`, one row per campaign; None when
        the interactions cannot name campaigns (no table, or a column missing).
    """
    days = check_days(window_days, "window_days")
    needed = (s.CUSTOMER_ID, s.TIMESTAMP, s.KIND, s.CAMPAIGN_ID)
    if not all(eng.has("interactions", c) for c in needed):
        return None
    eng.need("transactions", (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE), "for campaign responses")
    eng.check_rows("interactions", needed)
    dated = eng.has("campaigns", s.START_DATE) and eng.has("campaigns", s.END_DATE)
    given = (
        f"SELECT {s.CAMPAIGN_ID} AS camp, CAST(CAST({s.START_DATE} AS DATE) AS TIMESTAMP) AS ws, "
        f"CAST(CAST({s.END_DATE} AS DATE) AS TIMESTAMP) AS we FROM campaigns "
        f"WHERE {s.START_DATE} IS NOT NULL AND {s.END_DATE} IS NOT NULL"
        if dated
        else "SELECT CAST(NULL AS VARCHAR) AS camp, CAST(NULL AS TIMESTAMP) AS ws, "
        "CAST(NULL AS TIMESTAMP) AS we"
    )
    return f"""
WITH arms AS (
    SELECT {s.CAMPAIGN_ID} AS camp, CAST({s.CUSTOMER_ID} AS VARCHAR) AS cid, {s.KIND} AS kind,
           "{s.TIMESTAMP}" AS ts
    FROM interactions
    WHERE {s.KIND} IN ('{KIND_CONTACT}', '{KIND_HOLDOUT}') AND {s.CAMPAIGN_ID} IS NOT NULL
),
first_contact AS (
    SELECT camp, CAST(CAST(MIN(ts) AS DATE) AS TIMESTAMP) AS ws FROM arms GROUP BY camp
),
given AS ({given}),
windows AS (
    SELECT f.camp, COALESCE(g.ws, f.ws) AS ws,
           COALESCE(g.we, f.ws + INTERVAL {days - 1} DAYS) AS we
    FROM first_contact f LEFT JOIN given g ON g.camp = f.camp
),
treated AS (SELECT DISTINCT camp, cid FROM arms WHERE kind = '{KIND_CONTACT}'),
control AS (
    SELECT DISTINCT a.camp, a.cid FROM arms a
    WHERE a.kind = '{KIND_HOLDOUT}'
      AND NOT EXISTS (SELECT 1 FROM treated t WHERE t.camp = a.camp AND t.cid = a.cid)
),
members AS (
    SELECT camp, cid, 1 AS is_treated FROM treated WHERE camp IN (SELECT camp FROM control)
    UNION ALL
    SELECT camp, cid, 0 AS is_treated FROM control
),
responded AS (
    SELECT DISTINCT m.camp, m.cid
    FROM members m
    JOIN windows w ON w.camp = m.camp
    JOIN (
        SELECT CAST({s.CUSTOMER_ID} AS VARCHAR) AS cid, CAST({s.ORDER_DATE} AS TIMESTAMP) AS od
        FROM transactions WHERE {s.REVENUE} >= 0 AND {s.ORDER_DATE} IS NOT NULL
    ) b ON b.cid = m.cid
    WHERE b.od >= w.ws AND b.od <= w.we
)
SELECT m.camp AS {s.CAMPAIGN_ID}, '{HOLDOUT}' AS {CONTROL_KIND},
       CAST(SUM(m.is_treated) AS BIGINT) AS {N_TREATED},
       CAST(SUM(CASE WHEN m.is_treated = 1 AND r.cid IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT)
           AS {RESPONDERS_TREATED},
       CAST(SUM(1 - m.is_treated) AS BIGINT) AS {N_CONTROL},
       CAST(SUM(CASE WHEN m.is_treated = 0 AND r.cid IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT)
           AS {RESPONDERS_CONTROL}
FROM members m LEFT JOIN responded r ON r.camp = m.camp AND r.cid = m.cid
GROUP BY m.camp
HAVING SUM(m.is_treated) > 0
ORDER BY m.camp
"""
