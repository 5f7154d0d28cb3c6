"""The planted parameters of the synthetic company: vocabularies, rates, models.

Every value :mod:`crmlib.synth.world` and :mod:`crmlib.synth.simulate` draw
from is declared here; what they plant:

What is planted
---------------
Persons and records
    A *person* is a real customer; a *record* is a row of ``customers``. Every
    person has a primary record in the source system of their preferred
    channel; a share ``duplicate_rate`` of persons also has a second record in
    another source system (``webshop``, ``store`` or ``service_desk``) whose
    name may carry one typo (two characters swapped, one dropped or one
    replaced), whose e-mail may differ in case or domain (or be missing) and
    whose phone number is written in another of seven formats; one in ten
    moved city. Surnames follow a skewed frequency list, so distinct persons
    share names: a name alone is not an identity (Peppers & Rogers, *Managing
    Customer Relationships*, ch. 4: "Identify").
Acquisition (steady, seasonal)
    Persons are acquired (first purchase) over the whole window at a steady
    rate with a seasonal pattern: the density of a day is proportional to its
    calendar month's weight in :data:`ACQUISITION_SEASON` (a summer dip, a
    November-December peak), so new customers per quarter repeat year on
    year. The window opens on the firm's first day of trading under its
    CRM: every customer in the data was acquired in it.
Purchases (BG/NBD)
    Each person draws a purchase rate ``lam ~ Gamma(r, alpha)`` (per week)
    and a dropout probability ``p ~ Beta(a, b)``, buys as a Poisson process
    with rate ``lam`` while alive and, after each repeat purchase, drops out
    for good with probability ``p`` (Fader, Hardie & Lee 2005, "Counting your
    customers the easy way", *Marketing Science* 24(2), sec. 2; their
    likelihood has ``P(X(t) = 0) = exp(-lam t)``: nobody drops out right after
    the first purchase, which is where the MBG/NBD differs).
    :data:`BGNBD_PARAMS` holds ``r``, ``alpha``, ``a``, ``b``. Campaign orders
    (below) come on top of this process and are listed in
    ``truth.campaign_orders``. The process runs :data:`FUTURE_DAYS` past the
    window; that future year is kept out of the tables and summed per person
    as the planted future margin.
Customer wallet (Perlich et al. 2007)
    A person's annual wallet (spend on the category with all firms) is driven
    by observable features (``customers.household_size``, city, acquisition
    source) with noise, and their share of wallet ``s`` is Beta distributed;
    the purchase rate is ``lam = s * G``, the wallet ``52.18 * G * v`` (``v``
    the expected order value of the person's group), so the expected spend
    with the firm while alive is ``s * wallet`` and ``lam`` keeps its Gamma
    law (:data:`WALLET_MODEL`; Perlich, Rosset, Lawrence & Zadrozny 2007,
    "High-quantile modeling for customer wallet estimation and other
    applications", *KDD '07*). The growable customers are those alive at
    the end among the top :data:`GROWABLE_SHARE` of the alive by unrealised
    wallet ``wallet * (1 - s)``.
Needs segments
    Four segments (``price``, ``convenience``, ``quality``, ``service``) set
    the preferred channel, the category and price-tier mix, discounts, the
    survey needs answers (the segment's own need scored highest) and an NPS
    offset.
Whales and cost magnets
    About 5 % of persons are whales (chosen with probability proportional to
    ``lam``, which leaves the Gamma mix of ``lam`` untouched): bigger baskets
    of premium goods. About 7 % are cost magnets: one cheap line per order,
    mostly by phone, 60 % of the lines returned, a ticket with 90 % of orders.
    Together with small web orders that do not cover their delivery, this
    gives a whale curve (Kaplan & Cooper, *Cost & Effect*, Harvard Business
    School Press, 1998: cumulative customer profitability) whose top 20 % of
    customers earn about 95 % of total profit, peaking above 110 %, with
    about 30 % of customers loss-making.
Returns and suppliers
    A return is a line with negative quantity and revenue that repeats the
    ``order_id``, ``product_id`` and channel of the purchase line it reverses,
    dated 2 to 30 days later (returns falling after the window are not
    recorded). Its ``cost`` is 0: returned goods are written off, so the
    product cost of the original line is not recovered. Each product has a
    supplier (``products.supplier``, :data:`SUPPLIERS`); a line's chance of
    return is ``RETURN_PROBS[group]`` times its supplier's
    :data:`SUPPLIER_RETURN_FACTOR`: Keystone Imports, which supplies every
    category, has its products returned three times as often as the others.
Costs
    Gross margins of 35-57 % by price tier, and activity-based unit costs
    (:data:`COST_RATES`) at which 15-35 % of customers lose money after
    cost-to-serve. Acquisition campaigns (``objective`` acquisition), one per
    programme of :data:`ACQUISITION_PROGRAMMES` and calendar quarter, cost
    :data:`ACQUISITION_COST` per new customer of the sources they pay for: a
    blended cost per acquisition of about 30 GBP against a first-order
    margin of about 18 GBP after picking and delivery and a next-12-months
    margin of a new customer of about 45-60 GBP.
Campaigns with planted uplift
    Eight contact campaigns (:data:`CAMPAIGNS`, objective retention or
    development). Each targets customers acquired before its start (a needs
    segment, everyone, or the lapsed: no order in the 180 days before the
    start), a sample of them; ``HOLDOUT_SHARE`` of the target list is a random
    holdout (``interactions.kind == "campaign_holdout"``, outcome
    ``not_contacted``), the rest is contacted (``"campaign_contact"``). A
    person alive at the start buys in the window anyway with probability
    ``p0 = 1 - exp(-lam * L)`` (``L`` the window length in weeks: the Poisson
    process is memoryless); a contacted person alive at the start places an
    extra campaign order with probability ``q = c * CHANNEL_RESPONSE[their
    preferred channel, campaign channel]``, ``c`` set so that the expected
    incremental response over the target list, ``mean(q * (1 - p0))``, is
    the campaign's planted ``uplift`` (0 to 8 points, over a holdout base of
    about 2-11 %). ``truth.campaign_lift`` holds the planted uplift, the
    base rate and the expected purchase probabilities of both arms. The
    contact's ``outcome`` is ``responded`` when the person bought in the
    window at all (what a CRM attributes; it overstates the uplift) and
    ``no_response`` otherwise.
Service experience
    Tickets follow orders (and returns); resolution time is lognormal by
    channel and drives CSAT (:data:`CSAT_MODEL`); 60 % of closed tickets carry
    the answer. A survey answer's NPS falls with the person's mean true CSAT
    of tickets opened before the survey (:data:`NPS_MODEL`).
Subscriptions (shifted-beta-geometric churn)
    :data:`SUBSCRIPTION_SHARE` of persons take out a paid "plus" membership
    (free delivery) on one of two monthly plans (:data:`SUBSCRIPTION_PLANS`),
    starting on a day drawn uniformly from their first purchase to
    :data:`SUBSCRIPTION_JOIN_DAYS` later (at the latest the window's last
    day). Each subscriber draws a churn probability
    ``theta ~ Beta(alpha, beta)`` of their plan, constant per month, and renews
    at the end of each paid month with probability ``1 - theta`` (Fader &
    Hardie 2007, "How to project customer retention", *Journal of Interactive
    Marketing* 21(1): the shifted-beta-geometric). ``end_date`` is the last
    day of the last paid month, empty when the subscription is still active
    at the end of the window. Drawn from a random stream of its own
    (``numpy.random.default_rng([seed, SUBSCRIPTION_STREAM])``), so that every
    other table of a seed is the same with or without it;
    ``truth.subscription_plans`` holds each plan's ``alpha``, ``beta`` and
    subscribers. The membership does not change the purchases.
Data-quality defects
    Missing phone and city on a few percent of records (and the missing
    e-mails of second records) and a few tickets closed before they were
    opened, all listed in ``truth.defects``. Every empty value of
    ``customers`` is listed there; an empty ``closed_at`` (ticket still open
    at the end) or ``csat`` (not answered) is not a defect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crmlib.data.schema import (
    ACT_CONTACT,
    ACT_DELIVERY,
    ACT_ORDER,
    ACT_RETURN,
    ACT_TICKET,
    KIND_CAMPAIGN_CONTACT,
    KIND_CAMPAIGN_HOLDOUT,
    KIND_SERVICE_CALL,
    KIND_STORE_VISIT,
    KIND_WEB_VISIT,
)

# --- vocabularies of values ------------------------------------------------
SEGMENTS = ("price", "convenience", "quality", "service")
SEGMENT_SHARES = (0.35, 0.25, 0.20, 0.20)
ORDER_CHANNELS = ("web", "store", "phone")
#: source system of each order channel (same position as ORDER_CHANNELS)
SOURCE_SYSTEMS = ("webshop", "store", "service_desk")
CAMPAIGN_CHANNELS = ("email", "sms", "post", "phone")
TICKET_CHANNELS = ("phone", "email", "chat", "store")
#: source system (index into SOURCE_SYSTEMS) that records a ticket of each channel
_TICKET_SYSTEM = np.array([2, 2, 0, 1])
TICKET_CATEGORIES = ("delivery", "product", "billing", "account", "return")
#: Ticket channel (columns TICKET_CHANNELS) by preferred channel (rows ORDER_CHANNELS).
_TICKET_CHANNEL_PROBS = np.array(
    [[0.1, 0.4, 0.5, 0.0], [0.4, 0.1, 0.0, 0.5], [0.85, 0.15, 0.0, 0.0]]
)
#: Every channel an interaction may carry; ORDER_CHANNELS come first, in their order.
ALL_CHANNELS = ("web", "store", "phone", "email", "sms", "post", "chat")


INTERACTION_KINDS = (
    KIND_CAMPAIGN_CONTACT,
    KIND_CAMPAIGN_HOLDOUT,
    KIND_WEB_VISIT,
    KIND_STORE_VISIT,
    KIND_SERVICE_CALL,
)
OUTCOMES = ("responded", "no_response", "not_contacted", "purchase", "browse", "ticket_opened")

# --- planted parameters ----------------------------------------------------
#: True BG/NBD parameters; ``lam`` is a rate per week (Fader, Hardie & Lee 2005).
BGNBD_PARAMS = {"r": 0.8, "alpha": 5.5, "a": 0.8, "b": 4.0, "time_unit": "week"}
#: Relative acquisition rate by calendar month (January first): steady all year,
#: a summer dip and a November-December peak; persons are born over the whole
#: window with a density proportional to their day's month weight.
ACQUISITION_SEASON = (1.0, 0.9, 1.0, 1.0, 0.95, 0.8, 0.75, 0.75, 0.95, 1.05, 1.4, 1.5)
#: Days simulated after the last observed day and kept out of the tables: the
#: planted future margin (``truth.persons.future_margin_12m``) is measured there.
FUTURE_DAYS = 365
WHALE_SHARE = 0.05
COST_MAGNET_SHARE = 0.07

#: Preferred channel (web, store, phone) by needs segment; cost magnets: 30 % web, 70 % phone.
PREFERRED_CHANNEL_PROBS = np.array(
    [[0.65, 0.30, 0.05], [0.75, 0.15, 0.10], [0.35, 0.55, 0.10], [0.25, 0.45, 0.30]]
)
_MAGNET_PREFERRED = np.array([0.3, 0.0, 0.7])
#: Share of orders in the preferred channel (the rest split evenly); a person
#: with a second record splits orders 55 % preferred, 40 % the second record's
#: channel, 5 % the third.
ORDER_CHANNEL_LOYALTY = 0.8
_DUP_CHANNEL_SPLIT = (0.55, 0.40, 0.05)

CATEGORIES = (
    "kitchen",
    "home",
    "textiles",
    "electronics",
    "garden",
    "beauty",
    "toys",
    "sports",
)
_CATEGORY_BASE_PRICE = np.array([14.0, 16.0, 15.0, 34.0, 15.0, 8.0, 10.0, 19.0])
_CATEGORY_NOUNS = (
    ("Saucepan", "Kettle", "Knife Set", "Mixing Bowl", "Toaster"),
    ("Lamp", "Mirror", "Vase", "Clock", "Shelf"),
    ("Duvet", "Towel Set", "Cushion", "Throw", "Curtains"),
    ("Headphones", "Speaker", "Charger", "Smart Plug", "Radio"),
    ("Planter", "Hose", "Pruner", "Bird Feeder", "Lantern"),
    ("Hand Cream", "Shampoo", "Soap Set", "Face Mask", "Perfume"),
    ("Puzzle", "Board Game", "Plush Bear", "Building Set", "Kite"),
    ("Yoga Mat", "Water Bottle", "Dumbbells", "Backpack", "Tennis Balls"),
)
#: Category mix of purchases by needs segment (rows SEGMENTS, columns CATEGORIES).
CATEGORY_MIX = np.array(
    [
        [0.15, 0.10, 0.15, 0.05, 0.10, 0.15, 0.20, 0.10],
        [0.20, 0.15, 0.10, 0.15, 0.05, 0.15, 0.10, 0.10],
        [0.15, 0.20, 0.10, 0.25, 0.10, 0.05, 0.05, 0.10],
        [0.10, 0.15, 0.15, 0.15, 0.15, 0.10, 0.10, 0.10],
    ]
)
TIERS = ("budget", "standard", "premium")
_TIER_COUNTS = (8, 11, 6)  # products per category and tier: 25 per category, 200 in all
_TIER_PRICE = (0.5, 1.0, 2.5)
_TIER_COST_RATIO = (0.65, 0.55, 0.43)
_TIER_ADJECTIVES = (("Basic", "Value", "Everyday"), ("Classic", "Home", "Select"), ("Premium",))
#: Price-tier mix by customer group: rows SEGMENTS for ordinary persons, then whale, cost magnet.
TIER_MIX = np.array(
    [
        [0.60, 0.35, 0.05],
        [0.30, 0.50, 0.20],
        [0.10, 0.40, 0.50],
        [0.25, 0.50, 0.25],
        [0.10, 0.35, 0.55],
        [0.80, 0.20, 0.00],
    ]
)
#: Lines per order (1, 2, 3, 4) for ordinary persons, whales, cost magnets.
_LINES_PROBS = np.array([[0.5, 0.3, 0.15, 0.05], [0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 0.0, 0.0]])
#: Extra units per line: quantity = 1 + Poisson(mean) (ordinary, whale, cost magnet).
_EXTRA_UNITS = np.array([0.15, 1.5, 0.0])
#: Probability that a purchase line is returned (ordinary, whale, cost magnet).
RETURN_PROBS = np.array([0.05, 0.04, 0.6])
#: Probability that an order leads to a ticket (ordinary, whale, cost magnet); a return: 0.25.
TICKET_PROBS = np.array([0.06, 0.05, 0.9])
_RETURN_TICKET_PROB = 0.25
DISCOUNTS = (0.0, 0.1, 0.2, 0.3)
#: Discount mix: price segment, every other segment.
_DISCOUNT_PROBS = np.array([[0.55, 0.25, 0.15, 0.05], [0.80, 0.12, 0.06, 0.02]])

#: Activity-based unit costs (GBP) written to ``cost_rates``: picking and
#: packing an order, a parcel to the customer (web orders only), handling a
#: return, a service ticket, and one campaign contact (creative, list and
#: sending: about 0.3-2 GBP for e-mail and SMS, more for post and phone).
COST_RATES = (
    (ACT_ORDER, "web", 1.50),
    (ACT_ORDER, "store", 1.00),
    (ACT_ORDER, "phone", 6.00),
    (ACT_DELIVERY, "web", 4.50),
    (ACT_RETURN, "web", 8.00),
    (ACT_RETURN, "store", 3.00),
    (ACT_RETURN, "phone", 8.00),
    (ACT_TICKET, "phone", 8.00),
    (ACT_TICKET, "email", 4.00),
    (ACT_TICKET, "chat", 3.00),
    (ACT_TICKET, "store", 5.00),
    (ACT_CONTACT, "email", 0.30),
    (ACT_CONTACT, "sms", 0.45),
    (ACT_CONTACT, "post", 1.80),
    (ACT_CONTACT, "phone", 6.00),
)

#: Response multiplier by preferred channel (rows ORDER_CHANNELS) and campaign
#: channel (columns CAMPAIGN_CHANNELS): a contacted person's chance of a
#: campaign order is proportional to this (scaled to the campaign's planted uplift).
CHANNEL_RESPONSE = np.array(
    [[1.3, 1.0, 0.6, 0.5], [0.7, 0.8, 1.3, 0.8], [0.6, 0.9, 1.1, 1.6]],
)
HOLDOUT_SHARE = 0.2
LAPSED_DAYS = 180
CAMPAIGN_FIXED_COST = 500.0


@dataclass(frozen=True)
class CampaignSpec:
    """One planted contact campaign (objective retention or development).

    ``start_share`` places the start within the window (0 = first day);
    ``target`` is a needs segment, ``"all"`` or ``"lapsed"``; ``reach`` is
    the share of eligible customers put on the target list; ``uplift`` the
    planted incremental response rate: the expected share of the target list
    that buys in the campaign window when contacted, less the share that buys
    when held out (the holdout's share is the base rate, set by the BG/NBD
    process); ``discount`` the discount on campaign orders; ``objective`` one
    of :data:`crmlib.data.schema.OBJECTIVES`.
    """

    name: str
    channel: str
    offer: str
    target: str
    reach: float
    uplift: float
    discount: float
    start_share: float
    days: int
    objective: str


# fmt: off
_CAMPAIGN_TABLE = (
    # name, channel, offer, target, reach, uplift, discount, start_share, days, objective
    ("Spring price promise", "email", "10% off", "price", 1.0, 0.03, 0.1, 0.30, 10, "development"),
    ("Free delivery week", "email", "free delivery", "convenience", 1.0, 0.05, 0.0, 0.38, 7,
     "development"),
    ("Premium preview", "post", "early access", "quality", 1.0, 0.06, 0.0, 0.46, 10,
     "development"),
    ("Service check-in", "phone", "personal advice", "service", 0.8, 0.08, 0.0, 0.54, 7,
     "retention"),
    ("Summer clearance", "sms", "30% off clearance", "all", 0.5, 0.02, 0.3, 0.62, 7,
     "development"),
    ("Double points", "email", "double loyalty points", "all", 0.5, 0.0, 0.0, 0.72, 10,
     "retention"),
    ("We miss you", "post", "GBP 10 voucher", "lapsed", 1.0, 0.04, 0.15, 0.80, 14, "retention"),
    ("Black Friday early access", "sms", "25% off", "all", 0.5, 0.07, 0.25, 0.935, 7,
     "development"),
)
# fmt: on
CAMPAIGNS = tuple(CampaignSpec(*row) for row in _CAMPAIGN_TABLE)

#: Acquisition programmes, one ``campaigns`` row each per calendar quarter of
#: the window (objective ``acquisition``, no contacts with customers: the
#: audience is prospects): name, campaign channel, the acquisition sources
#: (``customers.acquisition_channel``) whose new customers it pays for. Its
#: cost is the planted cost per new customer of each source
#: (:data:`ACQUISITION_COST`) times the persons first buying in that quarter
#: through that source; walk-in and phone-in customers cost nothing (organic),
#: so the blended cost per acquisition (all acquisition spend / all new
#: customers) is below the paid sources' rates.
ACQUISITION_PROGRAMMES = (
    ("Paid search and social", "web", ("search", "social")),
    ("Prospect mailing", "post", ("direct_mail",)),
    ("Refer a friend", "email", ("referral",)),
)
#: Planted cost per new customer (GBP) by acquisition source: paid search and
#: social media, a prospect mailing, a refer-a-friend voucher; organic sources 0.
ACQUISITION_COST = {
    "search": 45.0,
    "social": 35.0,
    "direct_mail": 60.0,
    "referral": 20.0,
    "walk_in": 0.0,
    "phone_in": 0.0,
}

#: CSAT of a ticket, a planted assumption (no published model): resolution time
#: in hours is ``median_hours[channel] * lognormal(0, sigma_log_hours)``;
#: ``round(intercept + slope_log_days * ln(1 + resolution_days) + N(0, noise_sd))``
#: clipped to 1..5; ``answer_rate`` of closed tickets carry the answer.
CSAT_MODEL = {
    "intercept": 5.2,
    "slope_log_days": -1.4,
    "noise_sd": 0.7,
    "answer_rate": 0.6,
    "median_hours": dict(zip(TICKET_CHANNELS, (4.0, 48.0, 6.0, 24.0), strict=True)),
    "sigma_log_hours": 1.3,
}
#: NPS answer (the 0..10 "would you recommend" question of Reichheld 2003,
#: "The one number you need to grow", HBR 81(12)); the link to service is a
#: planted assumption:
#: ``round(intercept + segment_offset + service_coef * (service_score - reference_csat)
#: + N(0, noise_sd))`` clipped to 0..10, the service term only for a person
#: with a ticket opened before the survey (``service_score`` = mean true CSAT).
NPS_MODEL = {
    "intercept": 7.4,
    "service_coef": 1.6,
    "reference_csat": 4.0,
    "noise_sd": 1.3,
    "segment_offset": dict(zip(SEGMENTS, (-0.5, 0.0, 0.3, -0.2), strict=True)),
}
SURVEY_SHARE = 0.4
#: Needs answers: the segment's own need ~ N(own_mean, own_sd), the others
#: ~ N(other_mean, other_sd), rounded and clipped to 1..5.
NEEDS_MODEL = {"own_mean": 4.4, "own_sd": 0.6, "other_mean": 2.6, "other_sd": 0.9}
#: Data-quality defects: share of records without phone, without city, and of
#: closed tickets whose ``closed_at`` was entered before ``opened_at``.
DEFECT_RATES = {"missing_phone": 0.03, "missing_city": 0.02, "closed_before_opened": 0.005}

_FIRST_NAMES = (
    "Oliver George Harry Jack Jacob Noah Charlie Thomas Oscar William James Leo Alfie Henry "
    "Joshua Freddie Archie Ethan Isaac Alexander Joseph Edward Samuel Max Daniel Arthur Lucas "
    "Mohammed Logan Theo Amelia Olivia Isla Emily Poppy Ava Isabella Jessica Lily Sophie Grace "
    "Sophia Mia Evie Ruby Ella Scarlett Isabelle Chloe Sienna Freya Phoebe Charlotte Daisy "
    "Alice Florence Eva Sofia Millie Lucy Priya Aisha Fatima Zara Ananya Wei Mei Chen Siobhan Niamh"
).split()
_SURNAMES = (
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson "
    "Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson "
    "Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen "
    "James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook "
    "Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson "
    "Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali "
    "Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell "
    "Barker Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Ahmed Fletcher Walsh Kaur"
).split()
_CITIES = (
    "London Birmingham Manchester Leeds Glasgow Liverpool Bristol Sheffield Edinburgh Leicester "
    "Cardiff Nottingham Newcastle Brighton Southampton Oxford Cambridge York Belfast Aberdeen"
).split()
_CITY_WEIGHTS = np.array(
    [30, 8, 8, 6, 6, 5, 5, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1.5, 1.5, 1], dtype=float
)
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
#: The seven phone formats; ``{a}`` and ``{b}`` are the two halves of the
#: 8-digit London number (020 area code).
PHONE_FORMATS = (
    "+44 20 {a} {b}",
    "020 {a} {b}",
    "(020) {a}-{b}",
    "020{a}{b}",
    "+4420{a}{b}",
    "0044 20 {a} {b}",
    "020-{a}-{b}",
)
#: Phone formats each source system tends to use (webshop, store, service_desk).
_SYSTEM_PHONE_FORMATS = ((0, 4), (1, 3), (2, 5, 6))
_ACQ_SOURCES = ("search", "social", "referral", "direct_mail", "walk_in", "phone_in")

# --- customer wallet (Perlich, Rosset, Lawrence & Zadrozny 2007) --------------------
#: Household sizes 1..6 and their shares (UK households, ONS Families and
#: Households 2023: about 29 % one person, 35 % two, 16 % three, 13 % four, 7 % five
#: or more).
HOUSEHOLD_SIZES = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
HOUSEHOLD_SHARES = (0.29, 0.35, 0.16, 0.13, 0.05, 0.02)
#: The wallet model (a planted assumption). A person's annual wallet (what they
#: spend on the category with all firms, GBP, revenue basis) is
#: ``W = 52.18 * G * v``: ``v`` the expected net revenue of one order of the
#: person's group (segment, whale, cost magnet), ``G ~ Gamma(r + share_b, alpha)``
#: (rate per week, BG/NBD ``r`` and ``alpha``) ranked by the latent score
#: ``rho * z + sqrt(1 - rho**2) * N(0, 1)`` (a Gaussian-rank copula), ``z`` the
#: standardised feature score ``hh_coef * ln(household_size) + city effect +
#: acquisition-source effect``. The share of wallet is ``s ~ Beta(r, share_b)``,
#: independent of ``G``, and the purchase rate is ``lam = s * G``, which is
#: ``Gamma(r, alpha)`` exactly (a beta-gamma product), so the BG/NBD process keeps
#: its planted parameters and the expected annual spend with the firm while
#: alive is ``52.18 * lam * v = s * W``.
WALLET_MODEL = {
    "share_b": 1.2,
    "rho": 0.75,
    "hh_coef": 1.0,
    "city_effect": {
        "London": 0.35,
        "Oxford": 0.3,
        "Cambridge": 0.3,
        "Brighton": 0.2,
        "Edinburgh": 0.2,
        "Bristol": 0.1,
        "Belfast": -0.1,
        "Glasgow": -0.1,
        "Liverpool": -0.1,
    },
    "source_effect": {
        "search": 0.0,
        "social": -0.2,
        "referral": 0.15,
        "direct_mail": 0.25,
        "walk_in": 0.0,
        "phone_in": 0.1,
    },
}
WEEKS_PER_YEAR = 365.25 / 7.0
#: Share of alive persons (by unrealised wallet ``W * (1 - s)``) planted as growable.
GROWABLE_SHARE = 0.2

# --- suppliers (the partner dimension) ---------------------------------------------
#: Suppliers of the catalogue and each one's factor on the chance that a line
#: of its products is returned; Keystone Imports (cheap imports across
#: categories) is the planted supplier whose products come back most.
SUPPLIERS = (
    "Albion Homewares",
    "Northfield Textiles",
    "Brightline Electricals",
    "Greenway Outdoor",
    "Meadow & Co",
    "Keystone Imports",
)
SUPPLIER_RETURN_FACTOR = (1.0, 1.1, 1.2, 0.9, 0.8, 3.0)
#: Supplier mix by category (rows CATEGORIES, columns SUPPLIERS).
_SUPPLIER_MIX = np.array(
    [
        [0.70, 0.00, 0.10, 0.00, 0.00, 0.20],  # kitchen
        [0.65, 0.10, 0.00, 0.05, 0.00, 0.20],  # home
        [0.05, 0.75, 0.00, 0.00, 0.00, 0.20],  # textiles
        [0.00, 0.00, 0.80, 0.00, 0.00, 0.20],  # electronics
        [0.05, 0.00, 0.00, 0.75, 0.00, 0.20],  # garden
        [0.00, 0.00, 0.00, 0.00, 0.85, 0.15],  # beauty
        [0.00, 0.10, 0.05, 0.00, 0.65, 0.20],  # toys
        [0.00, 0.10, 0.00, 0.55, 0.15, 0.20],  # sports
    ]
)
#: Marketing source of a record by the channel of its system (web, store, phone).
_ACQ_SOURCE_PROBS = np.array(
    [
        [0.45, 0.30, 0.15, 0.10, 0.00, 0.00],
        [0.00, 0.00, 0.25, 0.15, 0.60, 0.00],
        [0.00, 0.00, 0.15, 0.35, 0.00, 0.50],
    ]
)
COUNTRY_NAME = "United Kingdom"
_NORMAL, _WHALE, _MAGNET = 0, 1, 2
_WEEK = 7.0


@dataclass(frozen=True)
class PlanSpec:
    """One planted subscription plan: its price per period and its sBG churn.

    ``share`` is the plan's share of the subscribers; each subscriber's churn
    probability per period is ``theta ~ Beta(alpha, beta)`` (Fader & Hardie
    2007), so the plan's mean churn in the first period is
    ``alpha / (alpha + beta)``.
    """

    plan: str
    price: float
    period: str
    share: float
    alpha: float
    beta: float


#: Share of persons with a subscription (one each).
SUBSCRIPTION_SHARE = 0.25
#: The two monthly "plus" plans (free delivery): "plus" (churn in the first month 17 %,
#: falling with tenure as the likely churners leave) and "plus family" (13 %, its
#: subscribers more alike: alpha + beta larger).
SUBSCRIPTION_PLANS = (
    PlanSpec("plus", 4.99, "month", 0.65, 0.5, 2.5),
    PlanSpec("plus family", 8.99, "month", 0.35, 0.9, 6.0),
)
#: A subscriber joins on a day drawn uniformly from their first purchase to this many days
#: later (or to the end of the window, when that comes first).
SUBSCRIPTION_JOIN_DAYS = 120.0
#: Second word of the seed of the subscriptions' own random stream.
SUBSCRIPTION_STREAM = 7
