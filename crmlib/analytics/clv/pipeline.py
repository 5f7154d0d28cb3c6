"""The one CLV pipeline every lesson uses: a purchase model + Gamma-Gamma + margin + discounting.

:class:`CLVPipeline` fits the purchase model (BG/NBD,
:class:`~crmlib.analytics.clv.beta_geo.BetaGeo`, or Pareto/NBD,
:class:`~crmlib.analytics.clv.pareto_nbd.ParetoNBD`, set or chosen on a
calibration/holdout split of the transactions) and the spend model
(:class:`~crmlib.analytics.clv.gamma_gamma.GammaGamma`) on a customer summary,
learns the margin share, and gives each customer's discounted CLV with
:func:`~crmlib.analytics.clv.value.customer_lifetime_value`.
The choices are made once, here:

- the purchase model is BG/NBD unless told otherwise; ``purchase_model="auto"``
  fits both on the transactions up to ``holdout_weeks`` (26) before the as-of
  date and keeps the one that predicts each customer's purchases in those
  last weeks best (:func:`~crmlib.analytics.clv.holdout.choose_purchase_model`),
  so every lesson that fits the pipeline on the same data gets the same model;
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

    summary = customer_summary(data.transactions, as_of=data.as_of, time_unit="W")
    serve = cost_per_order(customer_profitability(data))
    model = CLVPipeline(purchase_model="auto").fit(
        summary, cost_per_order=serve, transactions=data.transactions, as_of=data.as_of
    )
    clv = model.clv(summary)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.analytics.clv.base import Estimator
from crmlib.analytics.clv.beta_geo import BetaGeo
from crmlib.analytics.clv.gamma_gamma import GammaGamma
from crmlib.analytics.clv.holdout import (
    ModelChoice,
    calibration_holdout_split,
    choose_purchase_model,
)
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

#: The purchase_model settings of CLVPipeline: a model, or "auto" (chosen on a holdout).
BGNBD, PARETO_NBD, AUTO = "bgnbd", "pareto_nbd", "auto"
#: Each model setting's name, as choose_purchase_model and the reports name it.
PURCHASE_MODELS = {BGNBD: "BG/NBD", PARETO_NBD: "Pareto/NBD"}
HOLDOUT_WEEKS = 26  # the holdout of purchase_model="auto": the last half year

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
    """Customer lifetime value from a purchase model and Gamma-Gamma, with an explicit horizon and rate.

    ``fit`` fits :class:`BetaGeo` and :class:`ParetoNBD` on every customer of
    the summary and :class:`GammaGamma` on the repeat buyers with positive
    spend; the purchase model (``purchase_model``: BG/NBD, Pareto/NBD or the
    one chosen on a holdout) gives the expected purchases E[Y] and P(alive),
    and :meth:`clv` is :func:`customer_lifetime_value` at the monthly discount
    rate d = (1 + annual rate)**(1/12) - 1 on the summary's margin share
    (total margin / total revenue, 1 without costs)::

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
    purchase_model : {"bgnbd", "pareto_nbd", "auto"}, default "bgnbd"
        The model of expected purchases and P(alive): BG/NBD (Fader, Hardie &
        Lee 2005a), Pareto/NBD (Schmittlein, Morrison & Colombo 1987), or
        "auto": the one of the two with the lower per-customer mean absolute
        error on a holdout of the last ``holdout_weeks`` of the transactions
        given to :meth:`fit` (:func:`choose_purchase_model`; Fader, Hardie &
        Lee 2005a, section 4), refitted on the whole summary.
    holdout_weeks : int, default 26
        The holdout of "auto"; the calibration period must be at least as
        long, else the BG/NBD is kept and ``purchase_choice_`` says why.

    Attributes
    ----------
    beta_geo_ : BetaGeo
    pareto_nbd_ : ParetoNBD
        Both fitted on the whole summary; the Pareto/NBD also gives
        :meth:`p_active` whatever the purchase model.
    gamma_gamma_ : GammaGamma
    purchase_model_ : str
        The purchase model used: ``"BG/NBD"`` or ``"Pareto/NBD"``.
    purchase_estimator_ : BetaGeo or ParetoNBD
        That model, fitted (``beta_geo_`` or ``pareto_nbd_``).
    purchase_choice_ : str
        Why, in one sentence.
    model_choice_ : ModelChoice or None
        The holdout comparison of "auto" (None otherwise, or when there was
        too little history for one).
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
        self,
        horizon_months: int = 12,
        annual_discount_rate: float = 0.10,
        time_unit: str = "W",
        purchase_model: str = BGNBD,
        holdout_weeks: int = HOLDOUT_WEEKS,
    ):
        self.horizon_months = horizon_months
        self.annual_discount_rate = annual_discount_rate
        self.time_unit = time_unit
        self.purchase_model = purchase_model
        self.holdout_weeks = holdout_weeks

    def fit(
        self, summary: pd.DataFrame, cost_per_order=None, transactions=None, as_of=None
    ) -> CLVPipeline:
        """Fit the models on a customer summary (:func:`crmlib.analytics.summary.customer_summary`).

        Parameters
        ----------
        summary : pandas.DataFrame
        cost_per_order : pandas.Series or float, optional
            Cost-to-serve of one order, per customer (:func:`cost_per_order`)
            or one figure for all; a customer missing from the Series is
            charged the mean of the others. None: CLV before cost-to-serve.
        transactions : pandas.DataFrame, optional
            The order lines the summary was made from; needed by
            ``purchase_model="auto"`` (the holdout split), unused otherwise.
        as_of : date-like, optional
            The summary's as-of date, the end of the holdout of "auto";
            default the last order date of ``transactions``.

        Returns
        -------
        CLVPipeline
            ``self``, fitted.

        Raises
        ------
        crmlib.errors.CRMError
            An unknown ``purchase_model``, or "auto" without transactions.
        crmlib.errors.DataError
            The summary is not a valid BTYD summary (see :meth:`BetaGeo.fit`),
            or fewer than three customers bought again with positive spend.
        """
        if self.purchase_model not in (*PURCHASE_MODELS, AUTO):
            raise CRMError(
                f"purchase_model must be one of {', '.join(map(repr, [*PURCHASE_MODELS, AUTO]))}, "
                f"not {self.purchase_model!r}"
            )
        if self.purchase_model == AUTO and transactions is None:
            raise CRMError(
                "CLVPipeline(purchase_model='auto') chooses on the transactions: "
                "call fit(summary, transactions=..., as_of=...)"
            )
        beta_geo = BetaGeo().fit(summary)
        spenders = summary[(summary[s.FREQUENCY] > 0) & (summary[s.MONETARY_VALUE] > 0)]
        if len(spenders) < _MIN_SPENDERS:
            raise DataError(
                f"CLVPipeline: only {len(spenders)} customer(s) bought more than once; the "
                "Gamma-Gamma spend model needs repeat buyers"
            )
        gamma_gamma = GammaGamma().fit(spenders)
        self.beta_geo_, self.gamma_gamma_ = beta_geo, gamma_gamma
        self.pareto_nbd_ = ParetoNBD().fit(summary)
        if self.purchase_model == AUTO:
            self.model_choice_, self.purchase_choice_ = self._choose(transactions, as_of)
            self.purchase_model_ = (
                self.model_choice_.chosen if self.model_choice_ is not None else "BG/NBD"
            )
        else:
            self.model_choice_ = None
            self.purchase_model_ = PURCHASE_MODELS[self.purchase_model]
            self.purchase_choice_ = (
                f"{self.purchase_model_} is the purchase model as set, not chosen on a holdout."
            )
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

    def refit(self, summary: pd.DataFrame, cost_per_order=None) -> CLVPipeline:
        """The same pipeline fitted on another summary, with the purchase model this fit used.

        A report at scale chooses the purchase model on a sample's holdout and fits it on
        every customer's summary (:func:`crmlib.pipeline.at_scale`): the horizon, discount
        rate and time unit are this pipeline's, the purchase model is
        :attr:`purchase_model_`, not chosen again.

        Parameters
        ----------
        summary : pandas.DataFrame
            A customer summary in this pipeline's time unit.
        cost_per_order : pandas.Series or float, optional
            As for :meth:`fit`.

        Returns
        -------
        CLVPipeline
            A new pipeline, fitted; ``purchase_choice_`` says where the choice came from.
        """
        chosen = {label: key for key, label in PURCHASE_MODELS.items()}[self.purchase_model_]
        other = CLVPipeline(
            self.horizon_months, self.annual_discount_rate, self.time_unit, chosen, self.holdout_weeks
        ).fit(summary, cost_per_order=cost_per_order)
        other.purchase_choice_ = f"{self.purchase_model_}, as chosen before: {self.purchase_choice_}"
        return other

    def _choose(self, transactions: pd.DataFrame, as_of) -> tuple[ModelChoice | None, str]:
        """The holdout comparison of "auto" and its sentence; (None, why) when there is none."""
        if not isinstance(transactions, pd.DataFrame) or s.ORDER_DATE not in transactions:
            raise DataError(
                "CLVPipeline: the transactions must be a table with an order_date column",
                column=s.ORDER_DATE,
            )
        weeks = int(self.holdout_weeks)
        dates = pd.to_datetime(transactions[s.ORDER_DATE])
        end = pd.Timestamp(dates.max() if as_of is None else as_of).normalize()
        calibration_end = end - pd.Timedelta(weeks=weeks)
        kept = "the BG/NBD purchase model is kept"
        if dates.min() > calibration_end - pd.Timedelta(weeks=weeks):
            return None, (
                f"No holdout comparison, {kept}: the purchases start less than {2 * weeks} weeks "
                f"before {end.date()}, too short a history to fit on {weeks} weeks and check "
                f"on the next {weeks}."
            )
        try:
            split = calibration_holdout_split(transactions, calibration_end, end, self.time_unit)
            choice = choose_purchase_model(
                split,
                transactions=transactions,
                calibration_end=calibration_end,
                time_unit=self.time_unit,
            )
        except CRMError as exc:  # e.g. too few repeat buyers before the holdout
            return None, f"No holdout comparison, {kept}: {exc}"
        return choice, f"On a holdout of the last {weeks} weeks, {choice.reason}"

    @property
    def purchase_estimator_(self) -> BetaGeo | ParetoNBD:
        """The fitted purchase model the CLV uses (``beta_geo_`` or ``pareto_nbd_``).

        Raises
        ------
        crmlib.errors.NotFittedError
            Before :meth:`fit`.
        """
        return self._purchases()

    def _purchases(self):
        """The fitted purchase model: BG/NBD or Pareto/NBD, as set or chosen."""
        if self.purchase_model == AUTO:
            name = self._require_fitted("purchase_model_")
        else:
            name = PURCHASE_MODELS.get(self.purchase_model)
        if name == PURCHASE_MODELS[PARETO_NBD]:
            return self._require_fitted("pareto_nbd_")
        return self._require_fitted("beta_geo_")

    def _costs(self, index: pd.Index) -> np.ndarray:
        cost = self.cost_per_order_
        if cost is None:
            return np.zeros(len(index))
        if isinstance(cost, pd.Series):
            return cost.reindex(index.astype(str)).fillna(self.mean_cost_per_order_).to_numpy()
        return np.full(len(index), float(cost))

    def p_alive(self, summary: pd.DataFrame) -> pd.Series:
        """Each customer's probability of being alive under the purchase model.

        The probability the CLV rests on: CLV = P(alive) x the CLV of a customer
        who is alive (:meth:`BetaGeo.p_alive`, :meth:`ParetoNBD.p_alive`). In
        the BG/NBD a customer can drop out only after a repeat purchase, so a
        one-time buyer is alive with probability 1, however long ago they
        bought (Fader, Hardie & Lee 2005a); to decide whom to target, use
        :meth:`p_active`.
        """
        model = self._purchases()
        alive = model.p_alive(summary[s.FREQUENCY], summary[s.RECENCY], summary[s.T])
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
        self._require_fitted("pareto_nbd_")
        alive = self.pareto_nbd_.p_alive(summary[s.FREQUENCY], summary[s.RECENCY], summary[s.T])
        return pd.Series(np.asarray(alive, dtype=float), index=summary.index, name="p_active")

    def expected_purchases(self, summary: pd.DataFrame, horizon_months=None) -> pd.Series:
        """Each customer's expected purchases over the horizon, not discounted: E[Y(H) | x, t_x, T].

        The purchase model's conditional expectation (:meth:`BetaGeo.expected_purchases`,
        Fader, Hardie & Lee 2005a, eq. 10; :meth:`ParetoNBD.expected_purchases`,
        Schmittlein, Morrison & Colombo 1987, eq. 22) at t = H months in the
        summary's time unit (a month is 30 days, :data:`PERIODS_PER_MONTH`).
        """
        model = self._purchases()
        horizon = self.horizon_months if horizon_months is None else horizon_months
        t = horizon * PERIODS_PER_MONTH[self.time_unit]
        purchases = model.expected_purchases(
            t,
            summary[s.FREQUENCY].to_numpy(dtype=float),
            summary[s.RECENCY].to_numpy(dtype=float),
            summary[s.T].to_numpy(dtype=float),
        )
        return pd.Series(
            np.asarray(purchases, dtype=float), index=summary.index, name="expected_purchases"
        )

    def expected_revenue(self, summary: pd.DataFrame, horizon_months=None) -> pd.Series:
        """Expected spend over the horizon, not discounted: E[Y(H)] x E[spend | x, m]."""
        purchases = self.expected_purchases(summary, horizon_months)
        spend = self.gamma_gamma_.expected_spend(
            summary[s.FREQUENCY].to_numpy(dtype=float),
            summary[s.MONETARY_VALUE].fillna(0.0).to_numpy(dtype=float),
        )
        return (purchases * np.asarray(spend)).rename("expected_revenue")

    def new_customer_value(self, first_order_margin: float = 0.0, horizon_months=None) -> float:
        """Expected discounted value of a customer acquired today.

        ::

            value = first order margin
                    + sum over m = 1 .. H of (margin share * E[M] - c)
                      * (E[X(m months)] - E[X(m - 1 months)]) / (1 + d)**m

        with E[X(t)] the purchase model's expected repeat purchases of a new
        customer (BG/NBD: Fader, Hardie & Lee 2005a, "Counting your customers
        the easy way", *Marketing Science* 24(2), eq. 9 in the note's numbering
        used here, :meth:`BetaGeo.expected_purchases_new`, with the Gaussian
        hypergeometric function 2F1; Pareto/NBD: Schmittlein, Morrison &
        Colombo 1987, eq. 17, :meth:`ParetoNBD.expected_purchases_new`), E[M] = p v / (q - 1) the Gamma-Gamma
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
        model = self._purchases()
        horizon = self.horizon_months if horizon_months is None else horizon_months
        p, q, v = (self.gamma_gamma_.params_[k] for k in ("p", "q", "v"))
        if q <= 1:
            raise DataError(
                "CLVPipeline: the Gamma-Gamma q is at most 1, so mean spend is infinite"
            )
        per_order = self.margin_share_ * p * v / (q - 1.0) - self.mean_cost_per_order_
        months = np.arange(0, int(horizon) + 1) * PERIODS_PER_MONTH[self.time_unit]
        cumulative = np.asarray(model.expected_purchases_new(months), dtype=float)
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
        model = self._purchases()
        horizon = self.horizon_months if horizon_months is None else horizon_months
        annual = self.annual_discount_rate if annual_discount_rate is None else annual_discount_rate
        rate = annual_to_monthly_rate(annual)
        value = customer_lifetime_value(
            model,
            self.gamma_gamma_,
            summary,
            horizon=horizon,
            time_unit=self.time_unit,
            discount_rate=rate,
            margin=self.margin_share_,
        )
        if self.cost_per_order_ is None:
            return value
        purchases = discounted_expected_purchases(model, summary, horizon, self.time_unit, rate)
        return (value - self._costs(summary.index) * purchases).rename(value.name)

    @property
    def summary_(self) -> pd.DataFrame:
        """The parameter tables of the purchase model and Gamma-Gamma, one under the other.

        Raises
        ------
        crmlib.errors.NotFittedError
            Before :meth:`fit`.
        """
        model = self._purchases()
        name = "Pareto/NBD" if isinstance(model, ParetoNBD) else "BG/NBD"
        return pd.concat(
            {name: model.summary_, "Gamma-Gamma": self.gamma_gamma_.summary_}, names=[MODEL]
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
