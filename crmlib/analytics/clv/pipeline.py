"""The one CLV pipeline every lesson uses: BG/NBD + Gamma-Gamma + margin + discounting.

:class:`CLVPipeline` fits the purchase model (:class:`~crmlib.analytics.clv.beta_geo.BetaGeo`)
and the spend model (:class:`~crmlib.analytics.clv.gamma_gamma.GammaGamma`) on a
customer summary, learns the margin share, and gives each customer's
discounted CLV with :func:`~crmlib.analytics.clv.value.customer_lifetime_value`.
The choices are made once, here:

- the time unit is weeks unless told otherwise (``recency`` and ``T`` of the summary);
- Gamma-Gamma is fitted on the repeat buyers with positive mean spend;
- the margin is one share for all customers: total margin / total revenue of
  the summary, clipped to [0, 1], and 1 (CLV of revenue) when the summary
  has no margin;
- an annual discount rate is turned into a monthly one by compounding,
  d = (1 + annual)**(1/12) - 1 (:func:`~crmlib.analytics.clv.value.annual_to_monthly_rate`);
- with the client's cost rates, each customer's cost-to-serve per order to date
  (:func:`cost_per_order`, from :func:`crmlib.analytics.profitability.customer_profitability`)
  is charged on every expected future purchase, so CLV is margin *after*
  cost-to-serve and can be negative; without cost rates it is gross margin (or
  revenue), and ``clv_basis_`` says which.

On a :func:`crmlib.synth.generate` result (or any client data ``data``)::

    summary = customer_summary(data.transactions, time_unit="W")
    serve = cost_per_order(customer_profitability(data))
    clv = CLVPipeline().fit(summary, cost_per_order=serve).clv(summary)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics.clv.base import Estimator
from crmlib.analytics.clv.beta_geo import BetaGeo
from crmlib.analytics.clv.gamma_gamma import GammaGamma
from crmlib.analytics.clv.pareto_nbd import ParetoNBD
from crmlib.analytics.clv.value import (
    PERIODS_PER_MONTH,
    annual_to_monthly_rate,
    customer_lifetime_value,
    discounted_expected_purchases,
)
from crmlib.analytics.costs import COST_TO_SERVE
from crmlib.data import schema as s
from crmlib.errors import CRMError, DataError

MODEL = "model"  # the first index level of CLVPipeline.summary_

_MIN_SPENDERS = 3  # repeat buyers with positive spend the Gamma-Gamma fit needs at least

#: What a CLV is worth in, by what the data allow (``CLVPipeline.clv_basis_``).
BASIS_REVENUE = "revenue"
BASIS_MARGIN = "margin"
BASIS_AFTER_SERVE = "margin after cost-to-serve"


def cost_per_order(profitability: pd.DataFrame) -> pd.Series:
    """Each customer's activity-based cost-to-serve per order to date.

    ``cost_to_serve / orders`` of :func:`crmlib.analytics.profitability.customer_profitability`
    (Kaplan & Cooper 1998, *Cost & Effect*, ch. 10: orders, deliveries,
    returns, tickets and campaign contacts priced by the client's cost
    rates), for the customers with at least one order. All of a customer's
    cost-to-serve is attributed to their orders: the future cost is assumed
    to follow their purchases as it did in the past.

    Returns
    -------
    pandas.Series
        Named ``cost_to_serve``, index customer_id; empty when the table has
        no cost-to-serve (no cost rates).
    """
    for column in (COST_TO_SERVE, s.ORDERS):
        if column not in profitability:
            raise DataError(
                f"cost_per_order: the profitability table has no {column!r} column", column=column
            )
    orders = profitability[s.ORDERS].astype(float)
    serve = profitability[COST_TO_SERVE].astype(float)
    known = (orders > 0) & serve.notna()
    return (serve[known] / orders[known]).rename(COST_TO_SERVE)


def margin_share(summary: pd.DataFrame) -> float:
    """The margin kept per unit of spend the spend model predicts, clipped to [0, 1].

    Gamma-Gamma predicts the value of a purchase occasion before returns (the
    summary's ``monetary_value``), so the share is total margin (net of
    returns and product cost) / total ``gross_revenue`` (purchases before
    returns); a summary without ``gross_revenue`` uses its net ``revenue``.
    Without product cost the share is revenue kept after returns (net /
    gross). 1.0 when the summary has neither, or no positive total.
    """
    gross = s.GROSS_REVENUE if s.GROSS_REVENUE in summary else s.REVENUE
    if gross not in summary:
        return 1.0
    base = float(summary[gross].sum())
    if base <= 0:
        return 1.0
    if s.MARGIN in summary and summary[s.MARGIN].notna().any():
        kept = float(summary[s.MARGIN].sum())
    elif s.REVENUE in summary:
        kept = float(summary[s.REVENUE].sum())
    else:
        return 1.0
    return float(np.clip(kept / base, 0.0, 1.0))


class CLVPipeline(Estimator):
    """Customer lifetime value from BG/NBD and Gamma-Gamma, with an explicit horizon and rate.

    ``fit`` fits :class:`BetaGeo` on every customer of the summary and
    :class:`GammaGamma` on the repeat buyers with positive spend; :meth:`clv`
    is :func:`customer_lifetime_value` at the monthly discount rate
    d = (1 + annual rate)**(1/12) - 1 on the summary's margin share (total
    margin / total revenue, 1 without costs)::

        CLV = sum over m = 1 .. H of
              margin share * E[spend] * (E[Y(m months)] - E[Y(m - 1 months)]) / (1 + d)**m

    Parameters
    ----------
    horizon_months : int, default 12
        H, the number of months ahead.
    annual_discount_rate : float, default 0.10
        The cost of capital, a year.
    time_unit : {"W", "D"}, default "W"
        The unit of recency and T in the summary.

    Attributes
    ----------
    beta_geo_ : BetaGeo
    gamma_gamma_ : GammaGamma
    activity_model_ : ParetoNBD
        Fitted on the same summary for :meth:`p_active` only.
    margin_share_ : float
        Total margin / total revenue of the fitted summary, in [0, 1]; 1
        when the summary has no margin (CLV of revenue).
    cost_per_order_ : pandas.Series, float or None
        The cost-to-serve per order given to :meth:`fit` (None: not charged).
    mean_cost_per_order_ : float
    clv_basis_ : str
        ``"margin after cost-to-serve"``, ``"margin"`` (no cost rates) or
        ``"revenue"`` (no product cost either).
    monthly_discount_rate_ : float
    summary_ : pandas.DataFrame
        Both models' parameter tables, indexed by (``model``, ``parameter``).

    References
    ----------
    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). RFM and CLV: Using
    iso-value curves for customer base analysis. Journal of Marketing
    Research, 42(4), 415-430.
    """

    def __init__(
        self, horizon_months: int = 12, annual_discount_rate: float = 0.10, time_unit: str = "W"
    ):
        self.horizon_months = horizon_months
        self.annual_discount_rate = annual_discount_rate
        self.time_unit = time_unit

    def fit(self, summary: pd.DataFrame, cost_per_order=None) -> CLVPipeline:
        """Fit both models on a customer summary (:func:`crmlib.analytics.summary.customer_summary`).

        Parameters
        ----------
        summary : pandas.DataFrame
        cost_per_order : pandas.Series or float, optional
            Cost-to-serve of one order, per customer (:func:`cost_per_order`)
            or one figure for all; a customer missing from the Series is
            charged the mean of the others. None: CLV before cost-to-serve.

        Returns
        -------
        CLVPipeline
            ``self``, fitted.

        Raises
        ------
        crmlib.errors.DataError
            The summary is not a valid BTYD summary (see :meth:`BetaGeo.fit`),
            or fewer than three customers bought again with positive spend.
        """
        beta_geo = BetaGeo().fit(summary)
        spenders = summary[(summary[s.FREQUENCY] > 0) & (summary[s.MONETARY_VALUE] > 0)]
        if len(spenders) < _MIN_SPENDERS:
            raise DataError(
                f"CLVPipeline: only {len(spenders)} customer(s) bought more than once; the "
                "Gamma-Gamma spend model needs repeat buyers"
            )
        gamma_gamma = GammaGamma().fit(spenders)
        self.beta_geo_, self.gamma_gamma_ = beta_geo, gamma_gamma
        self.activity_model_ = ParetoNBD().fit(summary)
        self.margin_share_ = margin_share(summary)
        self.monthly_discount_rate_ = annual_to_monthly_rate(self.annual_discount_rate)
        has_margin = s.MARGIN in summary and summary[s.MARGIN].notna().any()
        self.cost_per_order_ = _check_cost(cost_per_order)
        if self.cost_per_order_ is None:
            self.clv_basis_ = BASIS_MARGIN if has_margin else BASIS_REVENUE
            self.mean_cost_per_order_ = 0.0
        else:
            self.clv_basis_ = BASIS_AFTER_SERVE if has_margin else "revenue after cost-to-serve"
            cost = self.cost_per_order_
            self.mean_cost_per_order_ = float(cost.mean()) if isinstance(cost, pd.Series) else cost
        return self

    def _costs(self, index: pd.Index) -> np.ndarray:
        cost = self.cost_per_order_
        if cost is None:
            return np.zeros(len(index))
        if isinstance(cost, pd.Series):
            return cost.reindex(index.astype(str)).fillna(self.mean_cost_per_order_).to_numpy()
        return np.full(len(index), float(cost))

    def p_alive(self, summary: pd.DataFrame) -> pd.Series:
        """Each customer's BG/NBD probability of being alive (:meth:`BetaGeo.p_alive`).

        The probability the CLV rests on: CLV = P(alive) x the CLV of a customer
        who is alive. In the BG/NBD a customer can drop out only after a repeat
        purchase, so a one-time buyer is alive with probability 1, however long
        ago they bought (Fader, Hardie & Lee 2005a); to decide whom to target,
        use :meth:`p_active`.
        """
        self._require_fitted("beta_geo_")
        alive = self.beta_geo_.p_alive(summary[s.FREQUENCY], summary[s.RECENCY], summary[s.T])
        return pd.Series(np.asarray(alive, dtype=float), index=summary.index, name="p_alive")

    def p_active(self, summary: pd.DataFrame) -> pd.Series:
        """Each customer's probability of still being a customer, for targeting decisions.

        The Pareto/NBD P(alive) (Schmittlein, Morrison & Colombo 1987, eq. 11;
        :meth:`ParetoNBD.p_alive`), fitted on the same summary: unlike the
        BG/NBD's, it lets a one-time buyer have left (on the bundled sample the
        one-time buyers average 0.23 against the BG/NBD's 1), while for repeat
        buyers the two agree closely (correlation 0.99 on the sample). The
        growth potential (:mod:`crmlib.analytics.wallet`) and the offers'
        expected value weight by it and test it against their threshold.
        """
        self._require_fitted("activity_model_")
        alive = self.activity_model_.p_alive(summary[s.FREQUENCY], summary[s.RECENCY], summary[s.T])
        return pd.Series(np.asarray(alive, dtype=float), index=summary.index, name="p_active")

    def expected_revenue(self, summary: pd.DataFrame, horizon_months=None) -> pd.Series:
        """Expected spend over the horizon, not discounted: E[Y(H)] x E[spend | x, m]."""
        self._require_fitted("beta_geo_")
        horizon = self.horizon_months if horizon_months is None else horizon_months
        x = summary[s.FREQUENCY].to_numpy(dtype=float)
        t = horizon * PERIODS_PER_MONTH[self.time_unit]
        purchases = self.beta_geo_.expected_purchases(
            t, x, summary[s.RECENCY].to_numpy(dtype=float), summary[s.T].to_numpy(dtype=float)
        )
        spend = self.gamma_gamma_.expected_spend(
            x, summary[s.MONETARY_VALUE].fillna(0.0).to_numpy(dtype=float)
        )
        return pd.Series(
            np.asarray(purchases) * np.asarray(spend), index=summary.index, name="expected_revenue"
        )

    def new_customer_value(self, first_order_margin: float = 0.0, horizon_months=None) -> float:
        """Expected discounted value of a customer acquired today.

        ::

            value = first order margin
                    + sum over m = 1 .. H of (margin share * E[M] - c)
                      * (E[X(m months)] - E[X(m - 1 months)]) / (1 + d)**m

        with E[X(t)] the BG/NBD expected repeat purchases of a new customer
        (Fader, Hardie & Lee 2005a, "Counting your customers the easy way",
        *Marketing Science* 24(2), eq. 9 in the note's numbering used here,
        :meth:`BetaGeo.expected_purchases_new`, with the Gaussian
        hypergeometric function 2F1), E[M] = p v / (q - 1) the Gamma-Gamma
        population mean spend per purchase (Fader, Hardie & Lee 2005b,
        *Journal of Marketing Research* 42(4), eq. 4 with x = 0), c the mean
        cost-to-serve per order of the fitted customers (0 without cost rates)
        and d the monthly discount rate. The first order is received today.

        Parameters
        ----------
        first_order_margin : float, default 0
            What a first order leaves (e.g.
            :func:`crmlib.analytics.acquisition.first_order_margin`), after its
            cost-to-serve when the CLV is.
        horizon_months : int, optional
            Default the pipeline's horizon.
        """
        self._require_fitted("beta_geo_")
        horizon = self.horizon_months if horizon_months is None else horizon_months
        p, q, v = (self.gamma_gamma_.params_[k] for k in ("p", "q", "v"))
        if q <= 1:
            raise DataError(
                "CLVPipeline: the Gamma-Gamma q is at most 1, so mean spend is infinite"
            )
        per_order = self.margin_share_ * p * v / (q - 1.0) - self.mean_cost_per_order_
        months = np.arange(0, int(horizon) + 1) * PERIODS_PER_MONTH[self.time_unit]
        cumulative = np.asarray(self.beta_geo_.expected_purchases_new(months), dtype=float)
        step = np.diff(cumulative) / (1.0 + self.monthly_discount_rate_) ** np.arange(
            1, int(horizon) + 1
        )
        return float(first_order_margin) + per_order * float(step.sum())

    def clv(
        self, summary: pd.DataFrame, horizon_months=None, annual_discount_rate=None
    ) -> pd.Series:
        """CLV of each customer of ``summary``, optionally at another horizon or rate.

        With a cost per order given to :meth:`fit`, each expected purchase
        also costs the customer's cost-to-serve per order::

            CLV = sum over m of (margin share * E[spend] - c_i) * dE[Y]_m / (1 + d)**m

        so a customer whose orders cost more to serve than they leave has a
        negative CLV (Peppers & Rogers' "below zero").

        Returns
        -------
        pandas.Series
            Named ``clv``, indexed like ``summary``.

        Raises
        ------
        crmlib.errors.NotFittedError
            Before :meth:`fit`.
        """
        self._require_fitted("beta_geo_")
        horizon = self.horizon_months if horizon_months is None else horizon_months
        annual = self.annual_discount_rate if annual_discount_rate is None else annual_discount_rate
        rate = annual_to_monthly_rate(annual)
        value = customer_lifetime_value(
            self.beta_geo_,
            self.gamma_gamma_,
            summary,
            horizon=horizon,
            time_unit=self.time_unit,
            discount_rate=rate,
            margin=self.margin_share_,
        )
        if self.cost_per_order_ is None:
            return value
        purchases = discounted_expected_purchases(
            self.beta_geo_, summary, horizon, self.time_unit, rate
        )
        return (value - self._costs(summary.index) * purchases).rename(value.name)

    @property
    def summary_(self) -> pd.DataFrame:
        """The parameter tables of both models, one under the other.

        Raises
        ------
        crmlib.errors.NotFittedError
            Before :meth:`fit`.
        """
        self._require_fitted("beta_geo_")
        return pd.concat(
            {"BG/NBD": self.beta_geo_.summary_, "Gamma-Gamma": self.gamma_gamma_.summary_},
            names=[MODEL],
        )


def _check_cost(cost):
    if cost is None:
        return None
    if isinstance(cost, pd.Series):
        values = cost.astype(float)
        if values.empty:
            return None
        if not np.isfinite(values.to_numpy()).all() or (values < 0).any():
            raise CRMError("cost_per_order must be finite and not negative for every customer")
        values.index = values.index.astype(str)
        return values
    if not (np.isfinite(cost) and cost >= 0):
        raise CRMError(f"cost_per_order must be a cost of at least 0, not {cost!r}")
    return float(cost)
