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
Purchases (BG/NBD)
    Each person is acquired (first purchase) at a uniform time in the first
    ``ACQUISITION_SHARE`` of the window, draws a purchase rate
    ``lam ~ Gamma(r, alpha)`` (per week) and a dropout probability
    ``p ~ Beta(a, b)``, buys as a Poisson process with rate ``lam`` while
    alive and, after each repeat purchase, drops out for good with
    probability ``p`` (Fader, Hardie & Lee 2005, "Counting your customers the
    easy way", *Marketing Science* 24(2), sec. 2; their likelihood has
    ``P(X(t) = 0) = exp(-lam t)``: nobody drops out right after the first
    purchase, which is where the MBG/NBD differs). :data:`BGNBD_PARAMS` holds ``r``,
    ``alpha``, ``a``, ``b``. Campaign orders (below) come on top of this
    process and are listed in ``truth.campaign_orders``.
Needs segments
    Four segments (``price``, ``convenience``, ``quality``, ``service``) set
    the preferred channel, the category and price-tier mix, discounts, the
    survey needs answers (the segment's own need scored highest) and an NPS
    offset.
Whales and cost magnets
    About 5 % of persons are whales (chosen with probability proportional to
    ``lam``, which leaves the Gamma mix of ``lam`` untouched): bigger baskets
    of premium goods. About 5 % are cost magnets: one cheap line per order,
    mostly by phone, 60 % of the lines returned, a ticket with 80 % of orders.
    Together with small web orders that do not cover their delivery, this
    gives a whale curve whose top 20 % of customers earn well over 150 % of
    total profit (Kaplan & Cooper, *Cost & Effect*, Harvard Business School
    Press, 1998: the "whale curve" of cumulative customer profitability).
Returns
    A return is a line with negative quantity and revenue that repeats the
    ``order_id``, ``product_id`` and channel of the purchase line it reverses,
    dated 2 to 30 days later (returns falling after the window are not
    recorded). Its ``cost`` is 0: returned goods are written off, so the
    product cost of the original line is not recovered.
Campaigns with known lift
    Eight campaigns (:data:`CAMPAIGNS`). Each targets customers acquired before
    its start (a needs segment, everyone, or the lapsed: no order in the 180
    days before the start), a sample of them; ``HOLDOUT_SHARE`` of the target
    list is a random holdout (``interactions.kind == "campaign_holdout"``,
    not contacted), the rest is contacted (``"campaign_contact"``). A person
    alive at the start buys in the window anyway with probability
    ``1 - exp(-lam * L)`` (``L`` the window length in weeks: the Poisson
    process is memoryless); a contacted person alive at the start places an
    extra campaign order with probability ``uplift * CHANNEL_RESPONSE[their
    preferred channel, campaign channel]``. ``truth.campaign_lift`` holds the
    planted expected purchase probabilities of both arms and their
    difference. The contact's ``outcome`` is ``responded`` when the person
    bought in the window at all (what a CRM attributes; it overstates the
    lift) and ``no_response`` otherwise.
Service experience
    Tickets follow orders (and returns); resolution time is lognormal by
    channel and drives CSAT (:data:`CSAT_MODEL`); 60 % of closed tickets carry
    the answer. A survey answer's NPS falls with the person's mean true CSAT
    of tickets opened before the survey (:data:`NPS_MODEL`).
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
BGNBD_PARAMS = {"r": 0.8, "alpha": 7.0, "a": 0.8, "b": 4.0, "time_unit": "week"}
#: Share of the window (from its start) over which persons are acquired.
ACQUISITION_SHARE = 0.6
WHALE_SHARE = 0.05
COST_MAGNET_SHARE = 0.05

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
_TIER_COST_RATIO = (0.82, 0.72, 0.55)
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
TICKET_PROBS = np.array([0.06, 0.05, 0.8])
_RETURN_TICKET_PROB = 0.25
DISCOUNTS = (0.0, 0.1, 0.2, 0.3)
#: Discount mix: price segment, every other segment.
_DISCOUNT_PROBS = np.array([[0.55, 0.25, 0.15, 0.05], [0.80, 0.12, 0.06, 0.02]])

#: Activity-based unit costs (GBP) written to ``cost_rates``.
COST_RATES = (
    (ACT_ORDER, "web", 2.50),
    (ACT_ORDER, "store", 4.00),
    (ACT_ORDER, "phone", 12.00),
    (ACT_DELIVERY, "web", 7.50),
    (ACT_RETURN, "web", 12.00),
    (ACT_RETURN, "store", 5.00),
    (ACT_RETURN, "phone", 12.00),
    (ACT_TICKET, "phone", 10.00),
    (ACT_TICKET, "email", 5.00),
    (ACT_TICKET, "chat", 3.50),
    (ACT_TICKET, "store", 6.00),
    (ACT_CONTACT, "email", 0.05),
    (ACT_CONTACT, "sms", 0.09),
    (ACT_CONTACT, "post", 1.50),
    (ACT_CONTACT, "phone", 6.00),
)

#: Response multiplier by preferred channel (rows ORDER_CHANNELS) and campaign
#: channel (columns CAMPAIGN_CHANNELS): a contacted person's chance of a
#: campaign order is ``uplift`` times this.
CHANNEL_RESPONSE = np.array(
    [[1.3, 1.0, 0.6, 0.5], [0.7, 0.8, 1.3, 0.8], [0.6, 0.9, 1.1, 1.6]],
)
HOLDOUT_SHARE = 0.2
LAPSED_DAYS = 180
CAMPAIGN_FIXED_COST = 500.0


@dataclass(frozen=True)
class CampaignSpec:
    """One planted campaign.

    ``start_share`` places the start within the window (0 = first day);
    ``target`` is a needs segment, ``"all"`` or ``"lapsed"``; ``reach`` is
    the share of eligible customers put on the target list; ``uplift`` the
    chance that a contacted, alive person of average channel fit places an
    extra order; ``discount`` the discount on campaign orders.
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


CAMPAIGNS = (
    CampaignSpec("Spring price promise", "email", "10% off", "price", 0.8, 0.10, 0.1, 0.12, 21),
    CampaignSpec(
        "Free delivery week", "email", "free delivery", "convenience", 0.8, 0.08, 0.0, 0.22, 14
    ),
    CampaignSpec("Premium preview", "post", "early access", "quality", 0.8, 0.12, 0.0, 0.32, 28),
    CampaignSpec(
        "Service check-in", "phone", "personal advice", "service", 0.6, 0.15, 0.0, 0.42, 14
    ),
    CampaignSpec("Summer clearance", "sms", "30% off clearance", "all", 0.4, 0.06, 0.3, 0.55, 21),
    CampaignSpec(
        "Double points", "email", "double loyalty points", "all", 0.5, 0.05, 0.0, 0.65, 28
    ),
    CampaignSpec("We miss you", "post", "GBP 10 voucher", "lapsed", 1.0, 0.08, 0.15, 0.75, 28),
    CampaignSpec("Black Friday early access", "sms", "25% off", "all", 0.5, 0.09, 0.25, 0.90, 14),
)

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
