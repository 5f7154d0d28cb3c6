"""The metric catalogue: every headline figure a lesson hands the report, declared once.

A lesson records its headline figures by key (:func:`crmlib.results.record`);
the key must be declared here as a :class:`Metric`: a label a client can
read, a unit, a one-line definition and its source. The report, the summary
lesson and any table a lesson shows format a value from its unit with
:func:`format_value`, so that a share reads "42.0 %" wherever it appears.

Units (:data:`UNITS`):

- ``currency``: money in the client's currency, "1,234" with no currency given,
  "€1,234" for ``EUR``, "USD 1,234" for a code without a symbol of its own
  (:func:`currency_prefix`); the data contract holds no currency, so the
  report takes it as a parameter;
- ``share``: a fraction, shown as a percentage, "42.0 %";
- ``count``: a whole number, "1,234";
- ``days`` and ``months``: a duration, "37 days", "12 months";
- ``score``: a number on the scale its definition names, "3.4";
- ``ratio``: a multiple of one quantity by another, "2.35×";
- ``text``: a name or category, shown as recorded.

A value may also be a mapping (e.g. customers per segment): each of its
values is formatted in the metric's unit.

To add a figure: declare its :class:`Metric` in :data:`CATALOGUE` (key as
the lesson records it), then record it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from crmlib.errors import CRMError

CURRENCY, SHARE, COUNT, DAYS, MONTHS, SCORE, RATIO, TEXT = (
    "currency",
    "share",
    "count",
    "days",
    "months",
    "score",
    "ratio",
    "text",
)
UNITS = (CURRENCY, SHARE, COUNT, DAYS, MONTHS, SCORE, RATIO, TEXT)
#: Decimals shown per unit, unless the metric says otherwise.
DECIMALS = {CURRENCY: 0, SHARE: 1, SCORE: 1, RATIO: 2}
#: How an absent value (None, NaN) is shown.
ABSENT = "n/a"
#: Columns of :func:`table`.
KEY, LABEL, UNIT, VALUE, DEFINITION = "key", "label", "unit", "value", "definition"

_LORENZ = "Lorenz (1905), Publications of the American Statistical Association 9(70)"
_IDIC = "Peppers & Rogers, Managing Customer Experience and Relationships (Wiley)"
_BTYD = (
    "Fader, Hardie & Lee (2005), Marketing Science 24(2) (BG/NBD); "
    "Fader & Hardie (2013), The Gamma-Gamma model of monetary value"
)
_QCI = "Woodcock, Stone & Foss (2003), The Customer Management Scorecard (Kogan Page)"
_CHAIN = "Buttle & Maklan (2019), Customer Relationship Management, 4th ed. (Routledge)"
_ABC = "Kaplan & Cooper (1998), Cost & Effect (Harvard Business School Press)"
_PF = "Payne & Frow (2005), Journal of Marketing 69(4)"
_GUPTA = "Gupta & Lehmann (2003), Journal of Interactive Marketing 17(1)"
_SETTING = (
    "Fader & Hardie (2009), Journal of Interactive Marketing 23(1) "
    "(contractual and non-contractual settings)"
)
_SBG = (
    "Fader & Hardie (2007), Journal of Interactive Marketing 21(1) (sBG); "
    "Fader & Hardie (2010), Marketing Science 29(1) (DERL)"
)
_RECOMMENDED = "crmlib.models.foundations (lesson 00's model chooser)"


@dataclass(frozen=True)
class Metric:
    """A headline figure: what a value recorded under ``key`` means and how it is shown.

    Parameters
    ----------
    key : str
        The name a lesson records the value under.
    label : str
        What a client reads beside the value.
    unit : str
        One of :data:`UNITS`.
    definition : str
        One line: how the value is computed.
    source : str
        Where the definition comes from (publication, or the lesson and function).
    decimals : int, optional
        Decimals shown; default per unit (:data:`DECIMALS`).
    meaning : str, optional
        What the figure tells a client, in one plain sentence (a headline tile's
        line under the value); default the definition (:attr:`plain`).
    """

    key: str
    label: str
    unit: str
    definition: str
    source: str
    decimals: int | None = None
    meaning: str = ""

    @property
    def plain(self) -> str:
        """The figure's one-line meaning for a client: :attr:`meaning`, else the definition."""
        return self.meaning or self.definition

    def __post_init__(self):
        if self.unit not in UNITS:
            raise CRMError(
                f"metric {self.key!r}: unit {self.unit!r} is not one of {', '.join(UNITS)}"
            )


_METRICS = (
    # customers and revenue (several lessons)
    Metric(
        "customers",
        "Customers",
        COUNT,
        "Customers by the one definition of every lesson: persons (customer records linked "
        "across source systems) with at least one purchase up to the as-of date.",
        "crmlib.analytics.linkage.buyers",
        meaning="People who bought at least once by the as-of date, each counted once.",
    ),
    Metric(
        "linked_customers",
        "Customers who bought, once duplicate records are linked",
        COUNT,
        "Distinct persons with at least one order line, after the records of the same "
        "person are linked (lesson 01's customer summary).",
        _IDIC + " (Identify); crmlib.models.idic",
    ),
    Metric(
        "portfolio_customers",
        "Customers in the profitability analysis",
        COUNT,
        "Every customer of the customers table and every customer with an order line or a "
        "costed activity (ticket, contact) up to the as-of date.",
        "crmlib.analytics.profitability.customer_profitability",
    ),
    Metric(
        "orders",
        "Orders",
        COUNT,
        "Distinct orders placed by the customers, returns included.",
        "crmlib.analytics.summary.customer_summary",
    ),
    Metric(
        "net_revenue",
        "Net revenue",
        CURRENCY,
        "Sum of the revenue of every order line, returns (negative lines) subtracted.",
        "transactions.revenue (data contract)",
        meaning="Everything the customers paid, less what they returned.",
    ),
    Metric(
        "net_revenue_per_customer",
        "Net revenue per customer",
        CURRENCY,
        "Net revenue divided by the number of customers.",
        "crmlib.analytics.summary.customer_summary",
        decimals=2,
    ),
    Metric(
        "repeat_customer_share",
        "Repeat customers",
        SHARE,
        "Share of customers who bought on at least two different days (BTYD frequency > 0).",
        _BTYD,
        meaning="Customers who came back to buy on another day.",
    ),
    Metric(
        "top_20pct_revenue_share",
        "Revenue from the top 20 % of customers",
        SHARE,
        "Share of net revenue from the 20 % of customers with the highest revenue "
        "(one point of the Lorenz curve).",
        _LORENZ,
        meaning="How much of the revenue the best fifth of the customers bring.",
    ),
    # 00 foundations
    Metric(
        "recommended_model",
        "CRM model recommended for these data",
        TEXT,
        "The model the model chooser of lesson 00 recommends from the client's data and goals.",
        _RECOMMENDED,
    ),
    # 01 IDIC
    Metric(
        "records",
        "Customer records",
        COUNT,
        "Rows of the customers table, before records of the same person are linked.",
        _IDIC + " (Identify)",
    ),
    Metric(
        "persons",
        "Customers once duplicate records are linked",
        COUNT,
        "Distinct persons after record linkage of the customers table.",
        "Fellegi & Sunter (1969), Journal of the American Statistical Association 64(328)",
    ),
    Metric(
        "duplicate_rate",
        "Duplicate customer records",
        SHARE,
        "(records - persons) / records: the share of records that repeat a person.",
        "Fellegi & Sunter (1969); crmlib.models.idic",
    ),
    Metric(
        "clv_horizon_months",
        "Lifetime value horizon",
        MONTHS,
        "How far ahead customer lifetime value looks.",
        "lesson 01 parameter clv_horizon_months",
    ),
    Metric(
        "total_clv",
        "Lifetime value of the customer base",
        CURRENCY,
        "Sum over customers of expected purchases (BG/NBD) x (expected spend (Gamma-Gamma) "
        "x margin share - cost-to-serve per order, when the client has cost rates) over the "
        "horizon, discounted monthly.",
        _BTYD + "; " + _ABC,
        meaning=(
            "What today's customers are expected to bring in margin, after the cost of "
            "serving them, discounted to today."
        ),
    ),
    Metric(
        "customer_setting",
        "Customer setting",
        TEXT,
        "non-contractual (purchases only: a customer's leaving is never observed), contractual "
        "(every customer holds a subscription: leaving is the end of a contract) or both.",
        _SETTING + "; crmlib.analytics.contractual.customer_setting",
    ),
    Metric(
        "active_subscribers",
        "Active subscriptions",
        COUNT,
        "Subscriptions started by the as-of date with no end date, or one after it.",
        "crmlib.analytics.contractual.contractual_value",
    ),
    Metric(
        "contractual_clv",
        "Lifetime value of the active subscribers",
        CURRENCY,
        "Sum over active subscriptions of price per period x discounted expected residual "
        "lifetime (DERL, shifted-beta-geometric fitted per plan on its survivor counts; the "
        "next renewal counted now, the annual discount rate per billing period); revenue.",
        _SBG,
    ),
    Metric(
        "subscriber_retention_12m",
        "Subscribers still subscribed in 12 months",
        SHARE,
        "Expected share of the active subscriptions still held in twelve months, "
        "S(n + k) / S(n) of the plan's shifted-beta-geometric model for a subscription held n "
        "periods (k = 12 monthly, 1 yearly periods), averaged over the plans valued.",
        _SBG,
    ),
    Metric(
        "clv_basis",
        "Lifetime value measured on",
        TEXT,
        "margin after cost-to-serve when the client has cost rates, margin when the "
        "transactions carry a product cost, otherwise revenue.",
        "crmlib.analytics.clv.CLVPipeline",
    ),
    Metric(
        "mvc_clv_share",
        "Lifetime value held by the most valuable customers",
        SHARE,
        "Share of the positive lifetime value (summed over customers with a CLV above 0) "
        "held by the most valuable customers (MVC).",
        _IDIC + " (Differentiate: MVC, MGC, BZ)",
    ),
    Metric(
        "mgc_customers",
        "Most growable customers",
        COUNT,
        "Customers outside the MVC and BZ classes, likely still active (Pareto/NBD P(alive) "
        "at least the threshold), with the largest expected gap between their wallet (90th "
        "percentile of spend given their own features) and expected spend (MGC).",
        _IDIC + " (Differentiate: MVC, MGC, BZ); Perlich, Rosset, Lawrence & Zadrozny "
        "(2007), KDD '07 (customer wallet by high-quantile regression)",
    ),
    Metric(
        "bz_customers",
        "Below-zero customers",
        COUNT,
        "Customers whose lifetime value after cost-to-serve is below zero: expected to "
        "cost more than they bring (BZ).",
        _IDIC + " (Differentiate: MVC, MGC, BZ)",
    ),
    Metric(
        "rfm_segments",
        "Customers per RFM segment",
        COUNT,
        "Customers per segment of recency, number of orders and monetary value (RFM).",
        "Hughes (1994), Strategic Database Marketing (Probus); crmlib.models.idic",
    ),
    Metric(
        "needs_segments",
        "Needs segments",
        COUNT,
        "Needs segments among the surveyed customers: each respondent's highest-rated need "
        "('mixed' on a tie), the one needs segmentation of every lesson.",
        "crmlib.analytics.segments.needs_segments",
    ),
    Metric(
        "best_response_channel",
        "Channel with the highest campaign response",
        TEXT,
        "The channel whose campaign contacts have the highest response rate.",
        _IDIC + " (Interact)",
    ),
    Metric(
        "offers",
        "Next best offers",
        COUNT,
        "Offers with a positive expected value (P(alive) x uplift x margin - contact cost).",
        _IDIC + " (Customize)",
    ),
    Metric(
        "mgc_expected_gap",
        "Growth potential of the most growable customers",
        CURRENCY,
        "Sum over the MGC of P(alive) x max(wallet - expected spend, 0) x margin share over "
        "the horizon, discounted.",
        "Perlich, Rosset, Lawrence & Zadrozny (2007), KDD '07; " + _BTYD,
    ),
    Metric(
        "offer_value_total",
        "Expected value of the next best offers",
        CURRENCY,
        "Sum over offers of P(alive) x uplift x margin - contact cost.",
        "Lo (2002), SIGKDD Explorations 4(2) (incremental response); " + _BTYD,
    ),
    Metric(
        "offer_uplift",
        "Incremental response used for offers",
        SHARE,
        "Response rate of contacted minus holdout customers over all campaigns with a "
        "holdout; an assumed default when none has one (see offer_uplift_source).",
        "Newcombe (1998), Statistics in Medicine 17 (interval); Lo (2002)",
    ),
    Metric(
        "offer_uplift_source",
        "Where the offers' uplift comes from",
        TEXT,
        "measured (campaign holdouts) or assumed (a stated default).",
        "crmlib.models.idic.next_best_offers",
    ),
    # 02 QCi
    Metric(
        "lapsed_days",
        "Inactivity after which a customer counts as lapsed",
        DAYS,
        "The one lapse rule of every lesson: no purchase for more than this many days; "
        "unless set for the client, the 90 % quantile of the gaps between a customer's "
        "consecutive purchase days (crmlib.analytics.lapse).",
        "Wübben & von Wangenheim (2008), Journal of Marketing 72(3)",
    ),
    Metric(
        "churn_rate",
        "Lapsed customers",
        SHARE,
        "Share of the customers the lapse rule can judge whose last purchase lies "
        "more than the lapse days before the as-of date.",
        "Wübben & von Wangenheim (2008), Journal of Marketing 72(3)",
        meaning="Customers who have not bought for longer than the lapse rule allows.",
    ),
    Metric(
        "repeat_rate",
        "Customers who bought again",
        SHARE,
        "Share of customers with a purchase on a later day than their first (BTYD frequency > 0).",
        _BTYD,
    ),
    Metric(
        "overall_intention",
        "Customer management as intended (% of best practice)",
        SCORE,
        "Weighted mean over the eight QCi areas of the intention answers, 0 to 100.",
        _QCI,
    ),
    Metric(
        "overall_reality",
        "Customer management in practice (% of best practice)",
        SCORE,
        "Weighted mean over the eight QCi areas of the reality answers, 0 to 100.",
        _QCI,
        meaning="How customer management is practised, scored against best practice.",
    ),
    Metric(
        "benchmark_position",
        "Position against the published benchmarks",
        TEXT,
        "Where the overall reality score falls among the published CMAT benchmarks.",
        _QCI,
    ),
    Metric(
        "first_priority",
        "First area to improve",
        TEXT,
        "The area with the lowest reality among the most heavily weighted.",
        _QCI,
    ),
    Metric(
        "campaigns_measured",
        "Campaigns measured",
        COUNT,
        "Campaigns with a target and a control group to compare.",
        "crmlib.models.qci",
    ),
    Metric(
        "campaigns_with_lift",
        "Campaigns with a proven lift",
        COUNT,
        "Campaigns whose 95 % interval of the lift in response rate lies above zero.",
        "Newcombe (1998), Statistics in Medicine 17 (method 10)",
    ),
    Metric(
        "nps",
        "Net Promoter Score",
        SCORE,
        "% promoters (9-10) minus % detractors (0-6) among survey answers, -100 to 100.",
        "Reichheld (2003), Harvard Business Review 81(12)",
    ),
    Metric(
        "cost_to_serve_per_revenue",
        "Cost to serve, as a share of revenue",
        SHARE,
        "Activity-based cost of serving the customers divided by their net revenue.",
        _ABC,
    ),
    # 03 CRM value chain
    Metric(
        "profit_basis",
        "Customer profit measured on",
        TEXT,
        "profit (revenue less product cost and cost to serve) when the data hold a cost, "
        "otherwise revenue.",
        "crmlib.analytics.profitability.profit_basis",
    ),
    Metric(
        "total_profit",
        "Customer profit, all customers",
        CURRENCY,
        "Sum over customers of revenue less product cost and activity-based cost to serve.",
        _ABC,
        meaning="What the customers earned after product cost and the cost of serving them.",
    ),
    Metric(
        "top_20pct_profit_share",
        "Profit from the top 20 % of customers",
        SHARE,
        "Share of total profit earned by the 20 % of customers with the highest profit.",
        _CHAIN,
    ),
    Metric(
        "whale_peak_share",
        "Peak of the whale curve",
        SHARE,
        "Highest cumulative profit of the most profitable customers as a share of total "
        "profit; above 100 % when the others lose money.",
        _ABC,
    ),
    Metric(
        "loss_making_share",
        "Customers who lose money",
        SHARE,
        "Share of customers with a profit below zero.",
        _ABC,
    ),
    Metric(
        "profit_gini",
        "Concentration of profit (Gini, 0 to 1)",
        SCORE,
        "Gini coefficient of the customers' absolute profit: 0 = equal, near 1 = one "
        "customer carries everything.",
        "Gini (1912), Variabilità e mutabilità",
        decimals=2,
    ),
    Metric(
        "quadrants",
        "Customers per profitability quadrant",
        COUNT,
        "Customers per quadrant of net price and cost to serve.",
        "Shapiro, Rangan, Moriarty & Ross (1987), Harvard Business Review 65(5)",
    ),
    Metric(
        "costly_to_serve",
        "Costly-to-serve customers",
        COUNT,
        "Loss-making customers whose cost to serve per order is at least twice the median "
        "(the costly-to-serve tail of the whale curve).",
        _ABC,
    ),
    Metric(
        "thin_knowledge_share",
        "Valuable customers the client knows little about",
        SHARE,
        "Share of the most valuable customers with an incomplete profile or no survey.",
        _CHAIN + " (customer portfolio analysis, customer intimacy)",
    ),
    Metric(
        "lifecycle_stages",
        "Customers per lifecycle stage",
        COUNT,
        "Customers per stage (new, active, at risk, lapsed, won back) on the as-of date.",
        _CHAIN + " (relationship management)",
    ),
    Metric(
        "revenue_sources",
        "Revenue of the last 12 months, by source",
        CURRENCY,
        "Net revenue split into acquisition, retention, development and win-back.",
        "Blattberg, Getz & Thomas (2001), Customer Equity (Harvard Business School Press)",
    ),
    Metric(
        "weakest_condition",
        "Weakest supporting condition",
        TEXT,
        "The supporting condition of the value chain with the lowest assessed practice.",
        _CHAIN + " (supporting conditions)",
    ),
    # 04 Payne & Frow
    Metric(
        "largest_segment",
        "Largest customer segment",
        TEXT,
        "The segment with the most customers.",
        _PF + " (strategy development)",
    ),
    Metric(
        "strategy_quadrant",
        "CRM strategy position",
        TEXT,
        "Quadrant of the CRM strategy matrix from customer information and individualisation.",
        _PF + " (strategy development)",
    ),
    Metric(
        "information_score",
        "Customer information (0 to 1)",
        SCORE,
        "Mean of the signals of how much the client knows about each customer.",
        _PF + " (CRM strategy matrix)",
        decimals=2,
    ),
    Metric(
        "individualisation_score",
        "Individualisation (0 to 1)",
        SCORE,
        "Mean of the signals of how far offers and contacts are tailored to the customer.",
        _PF + " (CRM strategy matrix)",
        decimals=2,
    ),
    Metric(
        "retention_rate",
        "Customers retained from one year to the next",
        SHARE,
        "Share of last year's customers who bought again this year.",
        _GUPTA,
    ),
    Metric(
        "margin_multiple",
        "Margin multiple",
        RATIO,
        "r / (1 + d - r): a customer's value as a multiple of one year's margin, with "
        "retention r and discount rate d.",
        _GUPTA,
    ),
    Metric(
        "customer_equity",
        "Customer equity",
        CURRENCY,
        "Current customers x annual margin per customer x margin multiple.",
        _GUPTA,
    ),
    Metric(
        "value_of_one_retention_point",
        "Value of one more point of retention",
        CURRENCY,
        "One more point of P(alive) for every current customer: sum of 0.01 x CLV / P(alive) "
        "over customers with a positive CLV (the same 12-month CLV after cost-to-serve as "
        "every recommendation).",
        _GUPTA + "; " + _BTYD,
    ),
    Metric(
        "clv_to_cac",
        "Lifetime value per acquisition cost",
        RATIO,
        "Expected value of a new customer (BG/NBD new-customer expectation x Gamma-Gamma "
        "mean spend x margin - cost-to-serve, discounted over the horizon, plus the first "
        "order) divided by acquisition-campaign spend per new customer; absent when the "
        "data hold no or partial acquisition spend (see clv_to_cac_note).",
        "Fader, Hardie & Lee (2005), Marketing Science 24(2); Farris et al. (2010), "
        "Marketing Metrics, ch. 5; " + _PF + " (value creation)",
    ),
    Metric(
        "new_customer_value",
        "Expected value of a new customer",
        CURRENCY,
        "First order's margin plus the discounted expected margin after cost-to-serve of a "
        "new customer's repeat purchases over the horizon (BG/NBD E[X(t)] x Gamma-Gamma mean).",
        "Fader, Hardie & Lee (2005), Marketing Science 24(2), E[X(t)]; " + _BTYD,
    ),
    Metric(
        "clv_to_cac_note",
        "Why there is no CLV/CAC",
        TEXT,
        "One sentence on what the data lack for an acquisition cost (absent when there is one).",
        "crmlib.analytics.acquisition.acquisition_spend",
    ),
    Metric(
        "channel_breaks",
        "Channels whose experience lags the best",
        COUNT,
        "Channel and measure (CSAT, NPS) pairs more than a tolerance below the best channel.",
        _PF + " (multichannel integration)",
    ),
    Metric(
        "weakest_data_quality",
        "Weakest data-quality check",
        TEXT,
        "The table and quality dimension with the lowest share of rows passing.",
        "Wang & Strong (1996), Journal of Management Information Systems 12(4)",
    ),
    Metric(
        "weakest_data_quality_score",
        "Rows passing the weakest data-quality check",
        SHARE,
        "Share of rows that pass the weakest check.",
        "Wang & Strong (1996), Journal of Management Information Systems 12(4)",
    ),
    Metric(
        "red_kpis",
        "KPIs in the red",
        COUNT,
        "Scorecard KPIs below target by more than the amber band.",
        _PF + " (performance assessment)",
    ),
    Metric(
        "kpi_status",
        "KPI status",
        TEXT,
        "Each scorecard KPI against its target: green, amber or red.",
        _PF + " (performance assessment)",
    ),
    Metric(
        "readiness_stage",
        "Readiness to implement CRM",
        TEXT,
        "The overall stage of the implementation-readiness assessment.",
        "Payne & Frow (2006), Journal of Marketing Management 22",
    ),
    # 05 client summary
    Metric(
        "value_at_stake",
        "Value at stake",
        CURRENCY,
        "Incremental expected margin of acting on a recommendation over its stated horizon "
        "(12 months by default), discounted, from the same CLV (after cost-to-serve) and "
        "wallet models; same-kind recommendations over the same customers are merged, each "
        "customer counted once (shown beside each recommendation, not recorded as a figure).",
        "crmlib.results.recommendations",
        meaning="What acting on a recommendation adds in margin over its horizon.",
    ),
    Metric(
        "lessons_with_results",
        "Sections with results",
        COUNT,
        "Sections of this report that handed over their results.",
        "crmlib.results.load",
    ),
    Metric(
        "recommendations_ranked",
        "Recommendations ranked",
        COUNT,
        "Recommendations of all sections after merging overlapping ones, ranked by value at stake.",
        "crmlib.results.recommendations",
    ),
    Metric(
        "suppressed_cells",
        "Table cells blanked to protect customers",
        COUNT,
        "Segment-table cells describing fewer customers than the threshold, blanked.",
        "Hundepool et al. (2012), Statistical Disclosure Control (Wiley), ch. 5",
    ),
    # customer-base models (issue 18)
    Metric(
        "purchase_model",
        "Purchase model of the lifetime value",
        TEXT,
        "The model of each customer's expected purchases and chance of being alive in the "
        "lifetime value: BG/NBD or Pareto/NBD, the one that predicted each customer's purchases "
        "in the last 26 weeks best (lowest mean absolute error) when fitted on the weeks before.",
        "Fader, Hardie & Lee (2005), Marketing Science 24(2) (holdout validation, BG/NBD); "
        "Schmittlein, Morrison & Colombo (1987), Management Science 33(1) (Pareto/NBD); "
        "crmlib.analytics.clv.CLVPipeline",
    ),
    Metric(
        "subscriber_horizon_margin",
        "Margin of the active subscribers over the horizon",
        CURRENCY,
        "Sum over active subscriptions of margin share x price x the renewals expected in the "
        "horizon (survival of the plan's shifted-beta-geometric model at the subscription's "
        "tenure), each discounted monthly at the end of its month: the basis of the value at "
        "stake.",
        _SBG + "; crmlib.analytics.contractual.horizon_payments",
    ),
)

#: Every declared metric, by key.
CATALOGUE: dict[str, Metric] = {m.key: m for m in _METRICS}
if len(CATALOGUE) != len(_METRICS):  # pragma: no cover - a key declared twice
    raise CRMError("a metric key is declared twice in crmlib.analytics.metrics")


def get(key: str) -> Metric:
    """The metric declared under ``key``.

    Raises
    ------
    crmlib.errors.CRMError
        ``key`` is not declared: the message names it and where to declare it.
    """
    try:
        return CATALOGUE[key]
    except (KeyError, TypeError):
        raise CRMError(
            f"{key!r} is not a declared metric: declare it (label, unit, definition, source) "
            "in CATALOGUE in crmlib/analytics/metrics.py before recording it"
        ) from None


def is_absent(value) -> bool:
    """True for None, NaN and pandas' missing values."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or mapping
        return False


#: Currencies written with their own symbol; any other ISO 4217 code is written before the
#: amount ("USD 1,234": a bare "$" reads as TeX in a page with formulas).
CURRENCY_SYMBOLS = {"EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}


def currency_prefix(currency: str | None) -> str:
    """What a money amount starts with: "€" for ``EUR``, "USD " for ``USD``, "" for none.

    Parameters
    ----------
    currency : str or None
        An ISO 4217 code (any case), a symbol such as "£", or ""/None for none.
    """
    code = (currency or "").strip()
    if not code:
        return ""
    if len(code) == 3 and code.isalpha():
        code = code.upper()
        return CURRENCY_SYMBOLS.get(code, f"{code} ")
    return code


def format_money(value, currency: str | None = "", digits: int = 0) -> str:
    """A money amount as a client reads it: "€1,234", "-€56", "USD 1,234"; absent → "n/a"."""
    if is_absent(value):
        return ABSENT
    value = float(value)
    sign = "-" if round(value, digits) < 0 else ""
    return f"{sign}{currency_prefix(currency)}{abs(value):,.{digits}f}"


def format_value(key_or_metric, value, currency: str = "") -> str:
    """A value as a client reads it, formatted from its metric's unit.

    Parameters
    ----------
    key_or_metric : str or Metric
        The metric, or its key in :data:`CATALOGUE`.
    value : number, str, mapping or None
        The value as recorded; a mapping is formatted item by item.
    currency : str, default ""
        The client's currency: an ISO 4217 code ("EUR") or a symbol
        (:func:`currency_prefix`); none by default, as the data contract holds
        no currency.

    Returns
    -------
    str
        E.g. share 0.42 → "42.0 %", currency 1234 → "1,234" ("€1,234" for EUR),
        count → "1,234", days 37 → "37 days", score 3.44 → "3.4",
        ratio 2.345 → "2.35×"; an absent value → "n/a".

    Raises
    ------
    crmlib.errors.CRMError
        An undeclared key, or a number where the unit needs one and the value
        is not.
    """
    metric = key_or_metric if isinstance(key_or_metric, Metric) else get(key_or_metric)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {format_value(metric, v, currency)}" for k, v in value.items())
    if is_absent(value):
        return ABSENT
    if metric.unit == TEXT:
        return str(value)
    if isinstance(value, (bool, str)) or not _is_real(value):
        raise CRMError(f"{metric.key}: a {metric.unit} needs a number, not {value!r}")
    value = float(value)
    digits = metric.decimals if metric.decimals is not None else DECIMALS.get(metric.unit, 0)
    if metric.unit == SHARE:
        return f"{value * 100:,.{digits}f} %"
    if metric.unit == CURRENCY:
        return format_money(value, currency, digits)
    if metric.unit == COUNT:
        return f"{round(value):,}"
    if metric.unit in (DAYS, MONTHS):
        n = round(value)
        return f"{n:,} {metric.unit if n != 1 else metric.unit[:-1]}"
    if metric.unit == RATIO:
        return f"{value:,.{digits}f}×"
    return f"{value:,.{digits}f}"  # score


def _is_real(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def table(values: Mapping, currency: str = "") -> pd.DataFrame:
    """Figures as a client reads them: one row per key, label and formatted value.

    Parameters
    ----------
    values : mapping of str to value
        Figures by metric key (each must be declared).
    currency : str, default ""
        See :func:`format_value`.

    Returns
    -------
    pandas.DataFrame
        Index ``label``; columns ``value`` (formatted), ``unit`` and
        ``definition``, in the order of ``values``.
    """
    rows = [
        {
            LABEL: get(key).label,
            VALUE: format_value(key, value, currency),
            UNIT: get(key).unit,
            DEFINITION: get(key).definition,
        }
        for key, value in values.items()
    ]
    return pd.DataFrame(rows, columns=[LABEL, VALUE, UNIT, DEFINITION]).set_index(LABEL)
