"""Interact: campaign contacts and their outcomes, response rates, engagement, channel propensity."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from crmlib.analytics.intervals import (
    jeffreys_interval,
)
from crmlib.data import schema as s
from crmlib.data.checks import need_columns
from crmlib.errors import CRMError, DataError

if TYPE_CHECKING:
    pass
from crmlib.analytics.orders import order_table
from crmlib.models.idic._common import (
    ALPHA,
    BETA,
    CONTACT_KIND,
    CONTACTS,
    LOWER,
    MEAN,
    RATE,
    RESPONDED,
    RESPONSES,
    STEP,
    SUCCESS,
    SUCCESSES,
    TRIALS,
    UPPER,
)

# =========================================================================================
# Interact
# =========================================================================================


def contact_outcomes(
    interactions: pd.DataFrame, contact_kind: str = CONTACT_KIND, responded=RESPONDED
) -> pd.DataFrame:
    """Campaign contacts as Bernoulli trials: one row per contact, ``success`` = its recorded
    outcome is a response (the channel's own record; QCi's
    :func:`crmlib.analytics.uplift.campaign_groups` measures purchases against a control group instead).

    Parameters
    ----------
    interactions : pandas.DataFrame
        The interactions table.
    contact_kind : str, default "campaign_contact"
        ``kind`` of a contact (holdout rows, visits and calls are not contacts).
    responded : tuple of str, default ("responded",)
        ``outcome`` values that count as a response.

    Returns
    -------
    pandas.DataFrame
        customer_id, timestamp, channel, campaign_id, success (bool).
    """
    need_columns(interactions, "interactions", (s.CUSTOMER_ID, s.TIMESTAMP, s.CHANNEL, s.KIND, s.OUTCOME), purpose="for contact_outcomes")  # fmt: skip
    contacts = interactions[interactions[s.KIND] == contact_kind]
    out = pd.DataFrame(
        {
            s.CUSTOMER_ID: contacts[s.CUSTOMER_ID].astype("str"),
            s.TIMESTAMP: contacts[s.TIMESTAMP],
            s.CHANNEL: contacts[s.CHANNEL].astype("str"),
            s.CAMPAIGN_ID: (
                contacts[s.CAMPAIGN_ID] if s.CAMPAIGN_ID in contacts else pd.Series(dtype="str")
            ),
            SUCCESS: contacts[s.OUTCOME].isin(list(responded)),
        }
    )
    return out.sort_values([s.TIMESTAMP, s.CUSTOMER_ID], ignore_index=True)


def response_rates(responses: pd.DataFrame, by) -> pd.DataFrame:
    """Contacts, responses and response rate per group, with a 90 % Jeffreys interval.

    Parameters
    ----------
    responses : pandas.DataFrame
        From :func:`contact_outcomes`, optionally with added columns (e.g.
        a segment) to group by.
    by : str or list of str
        E.g. ``"channel"``, ``"campaign_id"``, ``["needs_segment", "channel"]``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``by``: ``contacts``, ``responses``, ``rate``, ``lower``,
        ``upper``.

    References
    ----------
    Brown, L. D., Cai, T. T., & DasGupta, A. (2001). Interval estimation for
    a binomial proportion. Statistical Science, 16(2), 101-133.
    """
    by = [by] if isinstance(by, str) else list(by)
    need_columns(responses, "responses", [*by, SUCCESS], purpose="for response_rates")
    grouped = responses.groupby(by, observed=True)[SUCCESS]
    out = pd.DataFrame({CONTACTS: grouped.size(), RESPONSES: grouped.sum().astype(int)})
    out[RATE] = out[RESPONSES] / out[CONTACTS]
    out[LOWER], out[UPPER] = jeffreys_interval(out[RESPONSES], out[CONTACTS])
    return out


def engagement(interactions: pd.DataFrame) -> pd.DataFrame:
    """Interactions by kind and channel: how many, with how many customers, per customer."""
    need_columns(interactions, "interactions", (s.CUSTOMER_ID, s.KIND, s.CHANNEL), purpose="for engagement")
    grouped = interactions.groupby([s.KIND, s.CHANNEL], observed=True)[s.CUSTOMER_ID]
    out = pd.DataFrame({"interactions": grouped.size(), "customers": grouped.nunique()})
    out["per_customer"] = out["interactions"] / out["customers"]
    return out.sort_values("interactions", ascending=False)


def order_channel_choices(transactions: pd.DataFrame) -> pd.DataFrame:
    """Each order as a choice among channels: one trial per order and channel.

    An order placed through channel c is a success for c and a failure for
    every other channel seen in the data, so that the per-channel
    Beta-Binomial of :class:`ChannelPropensity` learns "the share of this
    customer's orders that come through c" (the marginal of a
    Dirichlet-multinomial choice, Gelman et al. 2013, sec. 3.4). Purchases
    only; lines of one order (order_id, else customer, day and channel) count once.

    Returns
    -------
    pandas.DataFrame
        customer_id, timestamp (the order date), channel, success.
    """
    need_columns(transactions, "transactions", (s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE, s.CHANNEL), purpose="for order_channel_choices")  # fmt: skip
    orders = order_table(transactions).dropna(subset=[s.CHANNEL])  # crmlib.analytics.orders
    channels = sorted(orders[s.CHANNEL].astype("str").unique())
    chosen = orders[s.CHANNEL].astype("str").to_numpy()
    n = len(orders)
    out = pd.DataFrame(
        {
            s.CUSTOMER_ID: np.repeat(orders[s.CUSTOMER_ID].astype("str").to_numpy(), len(channels)),
            s.TIMESTAMP: np.repeat(orders[s.ORDER_DATE].to_numpy(), len(channels)),
            s.CHANNEL: np.tile(channels, n),
        }
    )
    out[SUCCESS] = np.repeat(chosen, len(channels)) == out[s.CHANNEL].to_numpy()
    # stable: each order's trials stay together, in channel order
    return out.sort_values([s.TIMESTAMP, s.CUSTOMER_ID], kind="stable", ignore_index=True)


DEFAULT_PRIOR_STRENGTH = 2.0  # alpha + beta when the population cannot tell it


def fit_beta_prior(successes, trials) -> tuple[float, float]:
    """Beta(alpha, beta) prior of a rate from a population of units (empirical Bayes).

    Written as mean m = alpha / (alpha + beta) and strength S = alpha + beta
    (the prior is worth S observations): m is the pooled rate sum k / sum n;
    S maximises the marginal likelihood of the units' counts, in which each
    unit's k successes out of n are Beta-Binomial(n, m S, (1 - m) S) once its
    own rate is integrated out (Gelman et al. 2013, sec. 5.3; Casella 1985,
    "An introduction to empirical Bayes data analysis", *The American
    Statistician* 39(2)). S is searched in [0.5, 1000]. Only units with two
    or more trials carry information on S; with fewer than two of them, or
    when their rates all agree, S cannot be learned and is set to
    :data:`DEFAULT_PRIOR_STRENGTH`. A pooled rate of exactly 0 or 1 is moved
    half a trial inwards, so that the prior stays proper.

    Returns
    -------
    (alpha, beta) : tuple of float
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    keep = n > 0
    k, n = k[keep], n[keep]
    if n.size == 0:
        raise DataError("fit_beta_prior: no trials to learn a prior from")
    total = n.sum()
    mean = float(np.clip(k.sum(), 0.5, total - 0.5) / total) if total > 1 else 0.5
    informative = n >= 2
    rates = k[informative] / n[informative]
    if informative.sum() < 2 or np.ptp(rates) == 0:
        strength = DEFAULT_PRIOR_STRENGTH
    else:
        rows = pd.DataFrame({"k": k[informative], "n": n[informative]}).value_counts()
        kk = rows.index.get_level_values("k").to_numpy(dtype=float)
        nn = rows.index.get_level_values("n").to_numpy(dtype=float)
        weight = rows.to_numpy(dtype=float)

        def negative_loglik(log_strength):
            S = np.exp(log_strength)
            return -float(weight @ stats.betabinom.logpmf(kk, nn, mean * S, (1 - mean) * S))

        result = optimize.minimize_scalar(
            negative_loglik, bounds=(np.log(0.5), np.log(1000.0)), method="bounded"
        )
        strength = float(np.exp(result.x))
    return mean * strength, (1 - mean) * strength


class ChannelPropensity:
    """Each customer's propensity per channel, learned one interaction at a time.

    For customer i and channel c the propensity theta_ic has a Beta(alpha_c,
    beta_c) prior, the same for every customer, learned from the whole
    population (:func:`fit_beta_prior`). Each interaction is a Bernoulli
    trial; after k successes in n trials the posterior is (Gelman et al.
    2013, sec. 2.4, conjugate Beta-Binomial)::

        theta_ic | data ~ Beta(alpha_c + k, beta_c + n - k)
        posterior mean = (alpha_c + k) / (alpha_c + beta_c + n)

    a weighted mean of the prior mean and the customer's own rate k/n, in
    which the customer's own data weigh more with every interaction.

    Parameters
    ----------
    prior : dict, optional
        ``{channel: (alpha, beta)}``; default: learned from the population.
    level : float, default 0.9
        Probability of the credible intervals (equal tails).

    Attributes
    ----------
    prior_ : pandas.DataFrame
        ``alpha``, ``beta``, ``mean`` per channel.
    posterior_ : pandas.DataFrame
        Indexed by (customer_id, channel): ``trials``, ``successes``,
        ``alpha``, ``beta``, ``mean``, ``lower``, ``upper``.

    References
    ----------
    Gelman, A., Carlin, J. B., Stern, H. S., Dunson, D. B., Vehtari, A., &
    Rubin, D. B. (2013). Bayesian Data Analysis (3rd ed.). CRC Press.
    """

    def __init__(self, prior: dict | None = None, level: float = 0.9):
        self.prior = prior
        self.level = level

    def fit(self, events: pd.DataFrame) -> ChannelPropensity:
        """Learn the prior and every customer's posterior from trials.

        Parameters
        ----------
        events : pandas.DataFrame
            customer_id, channel, success (bool); e.g. from
            :func:`contact_outcomes` or :func:`order_channel_choices`.
        """
        need_columns(events, "events", (s.CUSTOMER_ID, s.CHANNEL, SUCCESS), purpose="for ChannelPropensity")
        if len(events) == 0:
            raise DataError("ChannelPropensity.fit: there are no interactions to learn from")
        grouped = events.groupby([s.CUSTOMER_ID, s.CHANNEL], observed=True)[SUCCESS]
        counts = pd.DataFrame({TRIALS: grouped.size(), SUCCESSES: grouped.sum().astype(int)})
        prior = {}
        for channel, part in counts.groupby(level=s.CHANNEL):
            if self.prior is not None and channel in self.prior:
                prior[channel] = tuple(map(float, self.prior[channel]))
            else:
                prior[channel] = fit_beta_prior(part[SUCCESSES], part[TRIALS])
        self.prior_ = pd.DataFrame.from_dict(prior, orient="index", columns=[ALPHA, BETA])
        self.prior_.index.name = s.CHANNEL
        self.prior_[MEAN] = self.prior_[ALPHA] / (self.prior_[ALPHA] + self.prior_[BETA])
        self.posterior_ = self._posterior(counts)
        return self

    def _posterior(self, counts: pd.DataFrame) -> pd.DataFrame:
        channel = counts.index.get_level_values(s.CHANNEL)
        a0 = self.prior_[ALPHA].reindex(channel).to_numpy()
        b0 = self.prior_[BETA].reindex(channel).to_numpy()
        out = counts.copy()
        out[ALPHA] = a0 + counts[SUCCESSES].to_numpy()
        out[BETA] = b0 + (counts[TRIALS] - counts[SUCCESSES]).to_numpy()
        out[MEAN] = out[ALPHA] / (out[ALPHA] + out[BETA])
        tail = (1 - self.level) / 2
        out[LOWER] = special.betaincinv(out[ALPHA], out[BETA], tail)
        out[UPPER] = special.betaincinv(out[ALPHA], out[BETA], 1 - tail)
        return out

    def posterior_mean(self) -> pd.DataFrame:
        """Customers x channels; a channel a customer was never tried in gets the prior mean."""
        table = self.posterior_[MEAN].unstack(s.CHANNEL)
        return table.fillna(self.prior_[MEAN])

    def preferred_channel(self, min_trials: int = 5) -> pd.Series:
        """The channel with the highest posterior mean, for customers with enough trials.

        A customer qualifies with at least ``min_trials`` trials in some channel
        (for :func:`order_channel_choices`: at least that many orders).
        """
        trials = self.posterior_[TRIALS].groupby(level=s.CUSTOMER_ID).max()
        means = self.posterior_mean().loc[trials.index[trials >= min_trials]]
        return means.idxmax(axis=1).rename("preferred_channel")

    def history(self, events: pd.DataFrame, customer_id) -> pd.DataFrame:
        """One customer's posterior in every channel after each of their interactions.

        Step 0 is the prior. Each later step is one interaction: a run of
        events at the same time in different channels (one order of
        :func:`order_channel_choices`, a trial in every channel) or a single
        event (a campaign contact), in time order.

        Returns
        -------
        pandas.DataFrame
            One row per step and channel: ``step``, ``timestamp``,
            ``event_channel`` and ``event_success`` (the channel chosen or
            contacted, and whether it succeeded), then ``channel``, ``alpha``,
            ``beta``, ``mean``, ``lower``, ``upper``.
        """
        if not hasattr(self, "prior_"):
            raise CRMError("this ChannelPropensity is not fitted yet: call fit(events) first")
        mine = events[events[s.CUSTOMER_ID].astype("str") == str(customer_id)]
        if s.TIMESTAMP in mine:
            mine = mine.sort_values(s.TIMESTAMP, kind="stable")
        alpha, beta = self.prior_[ALPHA].to_dict(), self.prior_[BETA].to_dict()
        tail = (1 - self.level) / 2
        rows = []

        def snapshot(step, when, channel, success):
            for c in self.prior_.index:
                rows.append(
                    {
                        STEP: step,
                        s.TIMESTAMP: when,
                        "event_channel": channel,
                        "event_success": success,
                        s.CHANNEL: c,
                        ALPHA: alpha[c],
                        BETA: beta[c],
                        MEAN: alpha[c] / (alpha[c] + beta[c]),
                        LOWER: float(special.betaincinv(alpha[c], beta[c], tail)),
                        UPPER: float(special.betaincinv(alpha[c], beta[c], 1 - tail)),
                    }
                )

        snapshot(0, pd.NaT, None, None)
        step, block = 0, []
        records = mine.to_dict("records") + [None]  # None closes the last block
        for record in records:
            new_step = record is None or (
                block
                and (
                    record.get(s.TIMESTAMP) != block[0].get(s.TIMESTAMP)
                    or record[s.CHANNEL] in {r[s.CHANNEL] for r in block}
                )
            )
            if new_step and block:
                step += 1
                for r in block:
                    if r[s.CHANNEL] in alpha:
                        alpha[r[s.CHANNEL]] += bool(r[SUCCESS])
                        beta[r[s.CHANNEL]] += not bool(r[SUCCESS])
                hits = [r for r in block if r[SUCCESS]]
                shown = hits[0] if len(block) > 1 and len(hits) == 1 else block[0]
                snapshot(step, block[0].get(s.TIMESTAMP), shown[s.CHANNEL], bool(shown[SUCCESS]))
                block = []
            if record is not None:
                block.append(record)
        return pd.DataFrame(rows)
