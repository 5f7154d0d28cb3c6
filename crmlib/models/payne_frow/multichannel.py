"""Multichannel integration: channel mix, channel paths and switching, experience by channel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics import experience, orders
from crmlib.analytics.orders import order_table
from crmlib.data import schema as s
from crmlib.data.checks import need_columns as _need
from crmlib.errors import CRMError, DataError
from crmlib.models.payne_frow._common import (
    BEST_CHANNEL,
    BEST_VALUE,
    CSAT_ANSWERS,
    FROM_CHANNEL,
    GAP,
    MEAN_CSAT,
    MEASURE,
    NO_TOUCH,
    NPS_ANSWERS,
    ORDER_CHANNEL,
    ORDERS,
    PATH,
    SATISFIED,
    SEGMENT,
    SHARE,
    TO_CHANNEL,
    TOUCHES,
    UNASSIGNED,
    VALUE,
    _labels,
)

# =========================================================================================
# Multichannel integration
# =========================================================================================


def _need_channel(transactions: pd.DataFrame) -> None:
    if s.CHANNEL not in transactions.columns or transactions[s.CHANNEL].isna().all():
        raise DataError(
            "transactions: there is no channel column, so channels cannot be compared",
            column=s.CHANNEL,
        )


def channel_mix(
    transactions: pd.DataFrame, segment_of: pd.Series | None = None, as_of=None
) -> pd.DataFrame:
    """Share of each segment's orders placed in each channel.

    Payne & Frow's multichannel integration process starts from where each
    customer group deals with the firm (Payne & Frow 2005, *Journal of
    Marketing* 69(4); Payne & Frow 2004, "The role of multichannel
    integration in customer relationship management", *Industrial Marketing
    Management* 33(6)).

    Returns
    -------
    DataFrame
        Index segment (``"all"`` without ``segment_of``), one column per
        channel (largest overall first), shares summing to 1 per row; an
        ``orders`` column with the number of orders.
    """
    _need_channel(transactions)
    orders = order_table(transactions, as_of).dropna(subset=[s.CHANNEL])
    segment = _labels(orders[s.CUSTOMER_ID], segment_of, UNASSIGNED)
    counts = pd.crosstab(segment.rename(SEGMENT), orders[s.CHANNEL].rename(s.CHANNEL))
    counts = counts[counts.sum().sort_values(ascending=False, kind="stable").index]
    shares = counts.div(counts.sum(axis=1), axis=0)
    shares[ORDERS] = counts.sum(axis=1)
    return shares.sort_values(ORDERS, ascending=False, kind="stable")


def channel_paths(
    transactions: pd.DataFrame,
    interactions: pd.DataFrame,
    lookback_days: int = 30,
    max_touches: int = 3,
    top: int = 10,
    as_of=None,
) -> pd.DataFrame:
    """The most common channel paths in the days before a purchase.

    For each order, the customer's interactions dated from ``lookback_days``
    before the order day to the order day are put in time order, campaign
    holdouts left out (they record a contact that did not happen); repeats
    of one channel in a row count once, and the last ``max_touches`` channels
    make the path, ending in the order's channel, e.g.
    ``sms > web > [web order]``. This is the customer journey across
    channels of Payne & Frow's multichannel integration process (Payne &
    Frow 2005; Lemon & Verhoef 2016, "Understanding customer experience
    throughout the customer journey", *Journal of Marketing* 80(6)). The
    paths are what customers did before buying, not what caused the purchase.

    Returns
    -------
    DataFrame
        Columns path, order_channel, touches (channels in the path), orders
        and share (of all orders); the ``top`` most common paths.
    """
    _need_channel(transactions)
    _need(interactions, "interactions", (s.CUSTOMER_ID, s.TIMESTAMP, s.CHANNEL))
    for name, value in (("lookback_days", lookback_days), ("max_touches", max_touches)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise CRMError(f"{name} must be a whole number of at least 1, not {value!r}")
    orders = order_table(transactions, as_of).dropna(subset=[s.CHANNEL])
    orders = orders.rename_axis("_order").reset_index()
    touches = interactions.dropna(subset=[s.CHANNEL])
    if s.KIND in touches.columns:
        touches = touches.loc[touches[s.KIND] != s.KIND_CAMPAIGN_HOLDOUT]
    touches = touches[[s.CUSTOMER_ID, s.TIMESTAMP, s.CHANNEL]]
    # A customer's touches as runs of one channel in a row (a run counts once): the path of
    # an order is the last max_touches runs that reach into its window. Found by binary
    # search per order, not by pairing every order with every touch of its customer (which
    # needs orders x touches rows: billions for a household panel).
    customers = pd.Index(pd.unique(pd.concat([orders[s.CUSTOMER_ID], touches[s.CUSTOMER_ID]])))
    who = customers.get_indexer(touches[s.CUSTOMER_ID]).astype(np.int64)
    in_order = np.lexsort((touches[s.TIMESTAMP].to_numpy(), who))  # stable: ties keep file order
    touches, who = touches.iloc[in_order], who[in_order]
    day = touches[s.TIMESTAMP].dt.normalize().to_numpy("datetime64[D]").astype(np.int64)
    channel = touches[s.CHANNEL].to_numpy(object)
    new_run = np.ones(len(touches), dtype=bool)
    new_run[1:] = (who[1:] != who[:-1]) | (channel[1:] != channel[:-1])
    first = np.flatnonzero(new_run)
    last = np.append(first[1:], len(touches)) - 1
    span = np.int64(1 << 32)  # days of one customer never reach it
    run_start, run_end = who[first] * span + day[first], who[first] * span + day[last]
    run_channel = channel[first]
    order_who = customers.get_indexer(orders[s.CUSTOMER_ID]).astype(np.int64)
    order_day = orders[s.ORDER_DATE].to_numpy("datetime64[D]").astype(np.int64)
    hi = np.searchsorted(run_start, order_who * span + order_day, side="right") - 1
    lo = np.searchsorted(run_end, order_who * span + order_day - lookback_days, side="left")
    # a run can straddle a window that holds none of its touches: count only windows with a touch
    touch_key = who * span + day
    inside = np.searchsorted(touch_key, order_who * span + order_day, side="right")
    inside -= np.searchsorted(touch_key, order_who * span + order_day - lookback_days, "left")
    count = np.where((hi >= lo) & (inside > 0), hi - lo + 1, 0)
    take = np.minimum(count, max_touches)
    path_of = [list(run_channel[h - n + 1 : h + 1]) for h, n in zip(hi, take, strict=True)]
    labels, lengths = [], []
    for steps_, channel in zip(path_of, orders[s.CHANNEL], strict=True):
        labels.append(" > ".join([*(steps_ or [NO_TOUCH]), f"[{channel} order]"]))
        lengths.append(len(steps_))
    frame = pd.DataFrame(
        {PATH: labels, ORDER_CHANNEL: orders[s.CHANNEL].to_numpy(), TOUCHES: lengths}
    )
    counts = frame.groupby([PATH, ORDER_CHANNEL, TOUCHES]).size().rename(ORDERS).reset_index()
    counts[SHARE] = counts[ORDERS] / len(frame)
    counts = counts.sort_values([ORDERS, PATH], ascending=[False, True], kind="stable")
    return counts.head(top).reset_index(drop=True)


def channel_switching(transactions: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Where a customer's next order goes, given the channel of this one.

    Each pair of a customer's consecutive orders is one transition from the
    earlier order's channel to the later one's. Row shares read "of the
    orders followed by another, the share whose next order came through each
    channel": the diagonal is staying, the rest is switching (a first-order
    Markov view of channel choice, as in Pfeifer & Carraway 2000, "Modeling
    customer relationships as Markov chains", *Journal of Interactive
    Marketing* 14(2)).

    Returns
    -------
    DataFrame
        Index from_channel, columns to_channel; row shares.
    """
    _need_channel(transactions)
    orders = order_table(transactions, as_of).dropna(subset=[s.CHANNEL])
    same = orders[s.CUSTOMER_ID] == orders[s.CUSTOMER_ID].shift(-1)
    pairs = pd.DataFrame(
        {
            FROM_CHANNEL: orders[s.CHANNEL].to_numpy(),
            TO_CHANNEL: orders[s.CHANNEL].shift(-1).to_numpy(),
        }
    ).loc[same.to_numpy()]
    if pairs.empty:
        raise DataError("transactions: no customer has two orders, so nobody could switch")
    return pd.crosstab(pairs[FROM_CHANNEL], pairs[TO_CHANNEL], normalize="index")


def switching_summary(transactions: pd.DataFrame, as_of=None) -> pd.Series:
    """How multichannel the customers are.

    * ``switching_rate``: share of consecutive order pairs in different channels;
    * ``multichannel_share``: share of customers with two or more orders who
      used two or more channels;
    * ``repeat_customers``: customers with two or more orders.
    """
    _need_channel(transactions)
    orders = order_table(transactions, as_of).dropna(subset=[s.CHANNEL])
    same = orders[s.CUSTOMER_ID] == orders[s.CUSTOMER_ID].shift(-1)
    switched = orders[s.CHANNEL] != orders[s.CHANNEL].shift(-1)
    n_orders = orders.groupby(s.CUSTOMER_ID).size()
    repeaters = n_orders[n_orders >= 2].index
    channels = orders.groupby(s.CUSTOMER_ID)[s.CHANNEL].nunique().reindex(repeaters)
    return pd.Series(
        {
            "switching_rate": float(switched[same].mean()) if same.any() else np.nan,
            "multichannel_share": float((channels >= 2).mean()) if len(repeaters) else np.nan,
            "repeat_customers": float(len(repeaters)),
        }
    )


def experience_by_channel(
    tickets: pd.DataFrame | None = None,
    surveys: pd.DataFrame | None = None,
    transactions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The experience each channel gives: CSAT of its service contacts, NPS of its buyers.

    * CSAT by the channel of the service ticket (:func:`crmlib.analytics.experience.csat_table`);
    * NPS by the respondent's main purchase channel (:func:`crmlib.analytics.experience.nps_table`
      with :func:`crmlib.analytics.orders.main_channel`).

    An integrated, consistent experience across channels is the aim of Payne
    & Frow's multichannel integration process (Payne & Frow 2005, *Journal
    of Marketing* 69(4)): a channel far below the others is where it breaks
    (:func:`integration_breaks`).

    Returns
    -------
    DataFrame
        Index channel; columns csat_answers, mean_csat, satisfied (tickets),
        nps_answers, nps (surveys and purchase channels); NaN where a channel
        has no such answers.
    """
    parts = []
    if tickets is not None and len(tickets) and {s.CSAT, s.CHANNEL} <= set(tickets.columns):
        csat = experience.csat_table(tickets, by=s.CHANNEL)
        parts.append(csat[[experience.N, MEAN_CSAT, SATISFIED]].rename(columns={experience.N: CSAT_ANSWERS}))
    if (
        surveys is not None
        and len(surveys)
        and transactions is not None
        and s.CHANNEL in transactions.columns
        and transactions[s.CHANNEL].notna().any()
    ):
        table = experience.nps_table(surveys, by=orders.main_channel(transactions))
        parts.append(table[[experience.N, s.NPS]].rename(columns={experience.N: NPS_ANSWERS}))
    if not parts:
        raise DataError(
            "neither tickets with csat and channel nor surveys with purchase channels are "
            "available: the experience by channel cannot be measured"
        )
    out = pd.concat(parts, axis=1)
    out = out.drop(index=[experience.UNKNOWN], errors="ignore")
    out.index.name = s.CHANNEL
    return out


def integration_breaks(
    experience: pd.DataFrame,
    csat_gap: float = 0.3,
    nps_gap: float = 10.0,
    min_answers: int = 30,
) -> pd.DataFrame:
    """Channels whose experience lags the best channel by more than a tolerance.

    For each measure (mean CSAT, NPS), channels with at least ``min_answers``
    answers are compared with the best of them; a channel more than
    ``csat_gap`` CSAT points or ``nps_gap`` NPS points below it is where the
    multichannel experience breaks (Payne & Frow 2005). The tolerances are
    the workbook's rules of thumb: about a third of a point on a 1-5 scale
    and 10 NPS points, larger than the sampling noise of a few hundred answers.

    Returns
    -------
    DataFrame
        Columns measure, channel, value, best_channel, best_value, gap (best
        - value); empty when every channel is within the tolerance.
    """
    rows = []
    for measure, count, tolerance in (
        (MEAN_CSAT, CSAT_ANSWERS, csat_gap),
        (s.NPS, NPS_ANSWERS, nps_gap),
    ):
        if measure not in experience.columns:
            continue
        judged = experience.loc[experience[count] >= min_answers, measure].dropna()
        if len(judged) < 2:
            continue
        best = judged.idxmax()
        for channel, value in judged.items():
            gap = float(judged[best] - value)
            if gap > tolerance:
                rows.append(
                    {
                        MEASURE: measure,
                        s.CHANNEL: channel,
                        VALUE: float(value),
                        BEST_CHANNEL: best,
                        BEST_VALUE: float(judged[best]),
                        GAP: gap,
                    }
                )
    columns = [MEASURE, s.CHANNEL, VALUE, BEST_CHANNEL, BEST_VALUE, GAP]
    return pd.DataFrame(rows, columns=columns).sort_values(GAP, ascending=False, ignore_index=True)
