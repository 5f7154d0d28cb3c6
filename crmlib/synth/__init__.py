"""A seeded synthetic CRM company with known ground truth.

:func:`generate` builds every table of the data contract (:data:`crmlib.data.schema.TABLES`,
except ``assessment``) for a fictional UK omnichannel retailer of home and
lifestyle goods that sells through a webshop, stores and a phone service desk.
Each modelling idea the workbook teaches is planted on purpose and recorded in
:class:`SynthTruth`, so that every other module can be tested against a truth
that is known rather than against its own earlier output.

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

Profit per record (the cost-to-serve rule)
------------------------------------------
Customer profit = revenue - product cost - cost-to-serve, the cost-to-serve
allocated by activity-based costing (Kaplan & Cooper 1998; Buttle & Maklan,
*Customer Relationship Management*, Routledge, on customer portfolio
analysis). For one ``customer_id``:

``revenue``
    sum of ``transactions.revenue`` (returns are negative),
``product_cost``
    sum of ``transactions.cost`` (0 on returns),
``cost_to_serve``
    the sum over the activities below of *count x unit cost*, the unit cost
    looked up in ``cost_rates`` by (``activity``, ``channel``):

    - ``order``: one per distinct ``order_id`` among the record's lines with
      ``revenue > 0``, at those lines' ``channel``;
    - ``delivery``: one per such order, at the same ``channel``;
    - ``return``: one per line with ``revenue < 0``, at its ``channel``;
    - ``ticket``: one per row of ``tickets``, at its ``channel``;
    - ``contact``: one per row of ``interactions`` with
      ``kind == "campaign_contact"``, at its ``channel``.

    A pair absent from ``cost_rates`` costs 0 (``delivery`` has a rate for
    ``web`` only, so only web orders pay for delivery); a row whose
    ``channel`` is empty applies to the activity's channels without their
    own row (the generated table has none).

``profit = revenue - product_cost - cost_to_serve``. ``truth.records`` holds
the three parts and the profit per record; ``truth.persons`` the sums over a
person's records. ``crmlib.models.value_chain.customer_profitability`` is to apply
this same rule to client data, and is tested against this truth.

Everything is drawn from one :class:`numpy.random.Generator` seeded with
``seed``, so a seed gives the same company on every run and no global random
state is touched. Phone numbers are unique per person up to 10 million persons.

Large folders
-------------
:func:`generate` holds the whole company in memory (1 M persons: about
5 GB). :func:`write_large_folder` writes a client folder of any size (10 M
persons give about 100 M transaction lines) in memory bounded by its chunk
size, and keeps no ground truth. It simulates the persons in equal chunks,
each by the very steps of :func:`generate` (same planted parameters, same
window and ``as_of``) with its own generator, seeded by the ``i``-th child of
``numpy.random.SeedSequence(seed)``, and appends each chunk's rows to one
file per table. What the chunks share:

- one product catalogue, the one ``generate(..., seed)`` draws first, so a
  line's product, price and cost come from the one ``products`` table;
- one campaign calendar (``campaigns`` written once; a campaign's cost is its
  fixed cost plus the contacts of every chunk) and ``cost_rates``;
- the id sequences: customer, order, ticket, interaction and survey numbers
  continue from chunk to chunk at one width per id, so ids stay unique and
  sort as text (a chunk's own orders are numbered in time order);
- one phone numbering over all persons and one count of e-mail usernames, so
  that a phone number or an e-mail address still belongs to one person.

Each chunk is a company in itself: its persons only ever appear in it, so
per chunk every planted rule holds as in :func:`generate`. The defects are
planted per chunk (at least one ticket closed before it was opened in each).
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from crmlib.data.schema import (
    ACQUISITION_CHANNEL,
    ACTIVITY,
    CAMPAIGN_ID,
    CATEGORY,
    CHANNEL,
    CITY,
    CLOSED_AT,
    COST,
    COUNTRY,
    CSAT,
    CUSTOMER_ID,
    DATE,
    DATE_KIND,
    DATETIME,
    EMAIL,
    END_DATE,
    FLOAT,
    ID,
    INT,
    INTERACTION_ID,
    KIND,
    NAME,
    NEEDS,
    NPS,
    OFFER,
    OPENED_AT,
    ORDER_DATE,
    ORDER_ID,
    OUTCOME,
    PHONE,
    PRODUCT_ID,
    QUANTITY,
    RESPONSE_ID,
    REVENUE,
    SIGNUP_DATE,
    SOURCE_SYSTEM,
    START_DATE,
    TABLES,
    TARGET_SEGMENT,
    TEXT,
    TICKET_ID,
    TIMESTAMP,
    UNIT_COST,
    UNIT_COST_RATE,
    UNIT_PRICE,
)
from crmlib.errors import CRMError

# --- truth column names (the ground truth's own vocabulary) -----------------
PERSON_ID = "person_id"
NEEDS_SEGMENT = "needs_segment"
IS_WHALE = "is_whale"
IS_COST_MAGNET = "is_cost_magnet"
PREFERRED_CHANNEL = "preferred_channel"
ACQUISITION_DATE = "acquisition_date"
LAM = "lam"
P_DROPOUT = "p"
DROPOUT_DATE = "dropout_date"
ALIVE_AT_END = "alive_at_end"
N_RECORDS = "n_records"
N_ORDERS = "n_orders"
N_CAMPAIGN_ORDERS = "n_campaign_orders"
N_TICKETS = "n_tickets"
SERVICE_SCORE = "service_score"
PRODUCT_COST = "product_cost"
COST_TO_SERVE = "cost_to_serve"
PROFIT = "profit"
IS_PRIMARY = "is_primary"
NAME_VARIANT = "name_variant"
EMAIL_VARIANT = "email_variant"
PHONE_FORMAT = "phone_format"
CITY_CHANGED = "city_changed"
TABLE_COL = "table"
KEY_COL = "key"
COLUMN_COL = "column"
DEFECT_KIND = "kind"

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

from crmlib.data.schema import (  # noqa: E402  (the shared names, kept here for readers of truth)
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


@dataclass
class SynthTruth:
    """Ground truth of a synthetic company: what was planted, by whom and how.

    Attributes
    ----------
    persons : pandas.DataFrame
        One row per person: ``person_id``; ``needs_segment``; ``is_whale``;
        ``is_cost_magnet``; ``preferred_channel`` (web, store, phone);
        ``acquisition_date`` (first purchase); BG/NBD latents ``lam`` (purchase
        rate per week) and ``p`` (dropout probability after each purchase);
        ``dropout_date`` (the date of the repeat purchase after which the
        person dropped out, NaT if alive at the end) and ``alive_at_end``;
        ``n_records``; ``n_orders`` (all orders) and ``n_campaign_orders``;
        ``n_tickets``; ``service_score`` (mean true CSAT of tickets opened
        before the survey, NaN without survey or such tickets); ``nps`` (the
        survey answer, NaN without survey); ``revenue``, ``product_cost``,
        ``cost_to_serve``, ``profit`` (sums over the person's records, see the
        module's cost-to-serve rule); ``customer_id`` of the primary record.
    records : pandas.DataFrame
        One row per ``customers`` record: ``customer_id``, ``person_id``,
        ``is_primary``, ``source_system``, ``name_variant`` (original, swap,
        drop, replace, or same when a swap changed nothing), ``email_variant``
        (original, same, case, domain, missing), ``phone_format`` (index into
        :data:`PHONE_FORMATS`), ``city_changed``, ``n_orders``, ``revenue``,
        ``product_cost``, ``cost_to_serve``, ``profit`` (the rule, per record).
    bgnbd_params : dict
        The true ``r``, ``alpha``, ``a``, ``b`` and their ``time_unit``
        ("week").
    campaign_lift : pandas.DataFrame
        One row per campaign: ``campaign_id``, ``channel``, ``target_segment``,
        ``n_target``, ``n_treated``, ``n_holdout``, ``uplift`` (planted),
        ``control_prob`` and ``treated_prob`` (expected share of the target
        list that buys in the window without and with contact, averaged over
        the target list from the latent ``lam``, alive state and channel fit),
        ``lift`` (``treated_prob - control_prob``).
    campaign_orders : pandas.DataFrame
        Orders caused by campaigns (outside the BG/NBD process):
        ``order_id``, ``campaign_id``, ``person_id``, ``customer_id``.
    channel_response : pandas.DataFrame
        :data:`CHANNEL_RESPONSE`: index preferred channel, columns campaign
        channel.
    segments : pandas.DataFrame
        One row per needs segment: its share, preferred-channel mix
        (``pref_web`` ...), category mix (``cat_kitchen`` ...), tier mix
        (``tier_budget`` ...) and NPS offset.
    csat_model, nps_model, needs_model : dict
        :data:`CSAT_MODEL`, :data:`NPS_MODEL`, :data:`NEEDS_MODEL`.
    defects : pandas.DataFrame
        Planted data-quality defects: ``table``, ``key`` (the row's key value),
        ``column``, ``kind`` (``missing`` or ``closed_before_opened``).
    """

    persons: pd.DataFrame
    records: pd.DataFrame
    bgnbd_params: dict
    campaign_lift: pd.DataFrame
    campaign_orders: pd.DataFrame
    channel_response: pd.DataFrame
    segments: pd.DataFrame
    csat_model: dict
    nps_model: dict
    needs_model: dict
    defects: pd.DataFrame


@dataclass
class SynthCompany:
    """A synthetic company: its tables, its ground truth, its seed and as-of date.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        One frame per table of :data:`crmlib.data.schema.TABLES` except
        ``assessment``, with exactly that table's columns.
    truth : SynthTruth
        What was planted.
    seed : int
        The seed it was generated from.
    as_of : pandas.Timestamp
        The last day of the window.
    """

    tables: dict[str, pd.DataFrame]
    truth: SynthTruth
    seed: int
    as_of: pd.Timestamp


# --- small helpers ------------------------------------------------------------


def _str(values) -> pd.Series:
    """A pandas string Series (pyarrow backed) from any array of text."""
    return pd.Series(values, dtype="str")


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    """``prefix`` + zero-padded ``numbers`` as a string Series (fast, in pyarrow)."""
    digits = pc.utf8_lpad(
        pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0"
    )
    return _str(pc.binary_join_element_wise(prefix, digits, ""))


def _labels(labels, codes: np.ndarray) -> pd.Series:
    """Text labels by code; a negative code gives a missing value."""
    codes = np.asarray(codes, dtype=np.int64)
    arr = pa.array(codes, mask=codes < 0)
    return _str(pc.take(pa.array(list(labels), pa.string()), arr))


def _choice_rows(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category per element, from the row ``rows[i]`` of ``probs``."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(len(rows))
    out = np.empty(len(rows), dtype=np.int64)
    for r in range(probs.shape[0]):
        m = rows == r
        out[m] = np.searchsorted(cum[r], u[m], side="right")
    return out


def _width(n: int, minimum: int) -> int:
    return max(minimum, len(str(max(int(n), 1))))


@dataclass
class _Run:
    """What the chunks of a large folder share, carried from one chunk to the next.

    ``width`` (id prefix -> digits) is fixed for the whole folder, so that ids
    sort as text; ``next_id`` (id prefix -> number) is where the next chunk's
    ids start; ``first_person`` counts the persons of earlier chunks and,
    with the one ``phone_offset``, keeps phone numbers unique per person;
    ``email_seen`` (e-mail username -> persons using it so far) keeps e-mail
    addresses unique per person. See :func:`write_large_folder`.
    """

    width: dict[str, int]
    next_id: dict[str, int]
    first_person: int
    phone_offset: int
    email_seen: dict[str, int]


def _serial(prefix: str, numbers: np.ndarray, minimum: int, run: _Run | None) -> pd.Series:
    """Ids ``prefix`` + ``numbers`` (1-based within the company or chunk).

    Alone (``run`` None) the width is the digits of the count, at least
    ``minimum``; in a chunk the numbers continue the earlier chunks' at the
    folder's fixed width.
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    if run is None:
        return _ids(prefix, numbers, _width(numbers.size, minimum))
    numbers = numbers + (run.next_id[prefix] - 1)
    if numbers.size and numbers.max() >= 10 ** run.width[prefix]:
        raise RuntimeError(f"{prefix} ids overflow their {run.width[prefix]} digits")
    return _ids(prefix, numbers, run.width[prefix])


def _days(start: np.datetime64, t: np.ndarray) -> np.ndarray:
    """Dates (datetime64[us], midnight) of fractional days ``t`` since ``start``."""
    return (start + np.floor(t).astype("timedelta64[D]")).astype("datetime64[us]")


def _stamps(start: np.datetime64, t: np.ndarray) -> np.ndarray:
    """Timestamps (datetime64[us], whole seconds) of fractional days ``t`` since ``start``."""
    secs = np.floor(np.asarray(t) * 86400.0).astype(np.int64).astype("timedelta64[s]")
    return (start.astype("datetime64[s]") + secs).astype("datetime64[us]")


# --- the parts of the world ---------------------------------------------------


def _products(rng: np.random.Generator) -> dict:
    """~200 products: 25 per category, in three price tiers."""
    cat, tier, names = [], [], []
    k = 0
    for c, nouns in enumerate(_CATEGORY_NOUNS):
        for t, count in enumerate(_TIER_COUNTS):
            for _ in range(count):
                k += 1
                adj = _TIER_ADJECTIVES[t][k % len(_TIER_ADJECTIVES[t])]
                names.append(f"{adj} {nouns[k % len(nouns)]} {k:03d}")
                cat.append(c)
                tier.append(t)
    cat, tier = np.array(cat), np.array(tier)
    n = len(cat)
    price = _CATEGORY_BASE_PRICE[cat] * np.array(_TIER_PRICE)[tier] * rng.lognormal(0, 0.25, n)
    price = np.floor(price) + 0.99
    cost = np.round(price * np.array(_TIER_COST_RATIO)[tier] * rng.lognormal(0, 0.05, n), 2)
    popularity = rng.lognormal(0, 0.6, n)
    return {
        "id": _ids("P", np.arange(1, n + 1), 4),
        "cat": cat,
        "tier": tier,
        "name": names,
        "price": price,
        "cost": cost,
        "pop": popularity,
    }


def _product_probs(prod: dict) -> np.ndarray:
    """P(product | group), group = segment for ordinary persons, then whale, magnet.

    Rows 0..3: SEGMENTS; 4..7: whales of each segment; 8..11: cost magnets of
    each segment (category mix from the segment, tier mix from the group).
    """
    ncat, ntier = len(CATEGORIES), len(TIERS)
    out = np.zeros((3 * len(SEGMENTS), len(prod["cat"])))
    for g in range(3):
        for s in range(len(SEGMENTS)):
            tier_mix = TIER_MIX[s] if g == _NORMAL else TIER_MIX[len(SEGMENTS) + g - 1]
            w = np.zeros(len(prod["cat"]))
            for c in range(ncat):
                for t in range(ntier):
                    m = (prod["cat"] == c) & (prod["tier"] == t)
                    w[m] = CATEGORY_MIX[s, c] * tier_mix[t] * prod["pop"][m] / prod["pop"][m].sum()
            out[g * len(SEGMENTS) + s] = w / w.sum()
    return out


def _persons(rng: np.random.Generator, n: int, span: float) -> dict:
    """Draw each person's segment, type, channel preference and BG/NBD latents."""
    seg = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARES)
    prm = BGNBD_PARAMS
    lam = rng.gamma(prm["r"], 1.0 / prm["alpha"], size=n)
    p = rng.beta(prm["a"], prm["b"], size=n)
    t0 = rng.uniform(0.0, ACQUISITION_SHARE * span, size=n)
    whale_prob = np.minimum(WHALE_SHARE * lam / (prm["r"] / prm["alpha"]), 0.9)
    whale = rng.random(n) < whale_prob
    magnet = ~whale & (rng.random(n) < COST_MAGNET_SHARE / (1 - WHALE_SHARE))
    kind = np.where(whale, _WHALE, np.where(magnet, _MAGNET, _NORMAL))
    pref = _choice_rows(rng, PREFERRED_CHANNEL_PROBS, seg)
    pref_magnet = _choice_rows(rng, _MAGNET_PREFERRED[None, :], np.zeros(n, dtype=np.int64))
    pref = np.where(magnet, pref_magnet, pref)
    return {"n": n, "seg": seg, "lam": lam, "p": p, "t0": t0, "kind": kind, "pref": pref}


def _purchases(rng: np.random.Generator, per: dict, span: float) -> dict:
    """Simulate the BG/NBD process; return natural orders and dropout times.

    Rounds of one purchase each: every person still alive and inside the
    window draws an exponential gap (rate ``lam`` per week), buys if still
    inside the window, then drops out with probability ``p``. The first
    purchase (acquisition) is not followed by a dropout draw, as in BG/NBD.
    """
    n = per["n"]
    lam_day = per["lam"] / _WEEK
    t = per["t0"].copy()
    dropout = np.full(n, np.nan)
    persons, times = [np.arange(n)], [t.copy()]
    active = np.arange(n)
    while active.size:
        t_new = t[active] + rng.exponential(1.0, active.size) / lam_day[active]
        inside = t_new < span
        active, t_new = active[inside], t_new[inside]
        persons.append(active)
        times.append(t_new)
        t[active] = t_new
        drop = rng.random(active.size) < per["p"][active]
        dropout[active[drop]] = t_new[drop]
        active = active[~drop]
    person = np.concatenate(persons)
    first = np.zeros(person.size, dtype=bool)
    first[:n] = True
    return {"person": person, "t": np.concatenate(times), "first": first, "dropout": dropout}


def _records(
    rng: np.random.Generator, per: dict, duplicate_rate: float, run: _Run | None = None
) -> dict:
    """Primary record per person plus a second record for ``duplicate_rate`` of them."""
    n = per["n"]
    has_dup = rng.random(n) < duplicate_rate
    # the second record sits in one of the two other systems, chosen at random
    shift = rng.integers(1, 3, size=n)
    dup_sys = np.where(has_dup, (per["pref"] + shift) % 3, -1)
    dup_persons = np.flatnonzero(has_dup)
    n_rec = n + dup_persons.size
    rec_person = np.concatenate([np.arange(n), dup_persons])
    rec_sys = np.concatenate([per["pref"], dup_sys[dup_persons]])
    rec_primary = np.arange(n_rec) < n
    prim_rec = np.arange(n)
    dup_rec = np.full(n, -1)
    dup_rec[dup_persons] = np.arange(n, n_rec)
    number = rng.permutation(n_rec) + 1  # customer numbers, shuffled over systems
    return {
        "n": n_rec,
        "person": rec_person,
        "sys": rec_sys,
        "primary": rec_primary,
        "prim_rec": prim_rec,
        "dup_rec": dup_rec,
        "dup_sys": dup_sys,
        "number": number,
        "cid": _serial("C", number, 7, run),
    }


def _record_of(rec: dict, person: np.ndarray, system: np.ndarray) -> np.ndarray:
    """The record an activity lands on: the person's record in that system, else the primary."""
    return np.where(
        rec["dup_sys"][person] == system, rec["dup_rec"][person], rec["prim_rec"][person]
    )


def _order_channels(
    rng: np.random.Generator, per: dict, rec: dict, person: np.ndarray
) -> np.ndarray:
    """Channel of each order from the person's preference (and second record)."""
    pref = per["pref"][person]
    dup = rec["dup_sys"][person]
    u = rng.random(person.size)
    other = rng.integers(1, 3, size=person.size)
    loyal = ORDER_CHANNEL_LOYALTY
    ch = np.where(u < loyal, pref, (pref + other) % 3)
    has = dup >= 0
    third = 3 - pref - np.where(has, dup, 0)
    p_pref, p_dup, _ = _DUP_CHANNEL_SPLIT
    ch_dup = np.where(u < p_pref, pref, np.where(u < p_pref + p_dup, dup, third))
    return np.where(has, ch_dup, ch)


def _campaigns(rng, per, nat, span):
    """Plan the campaigns, draw target lists, arms and campaign orders."""
    n = per["n"]
    alive_until = np.where(np.isnan(nat["dropout"]), np.inf, nat["dropout"])
    order_p, order_t = [nat["person"]], [nat["t"]]
    rows, contacts, extra = [], [], []
    chan_idx = {c: i for i, c in enumerate(CAMPAIGN_CHANNELS)}
    for k, spec in enumerate(CAMPAIGNS):
        s = float(np.floor(spec.start_share * span))
        days = min(spec.days, int(span - s))
        e = s + days
        eligible = per["t0"] < s
        if spec.target in SEGMENTS:
            eligible &= per["seg"] == SEGMENTS.index(spec.target)
        elif spec.target == "lapsed":
            op, ot = np.concatenate(order_p), np.concatenate(order_t)
            before = ot < s
            last = np.full(n, -np.inf)
            np.maximum.at(last, op[before], ot[before])
            eligible &= last < s - LAPSED_DAYS
        target = np.flatnonzero(eligible & (rng.random(n) < spec.reach))
        holdout = rng.random(target.size) < HOLDOUT_SHARE
        alive = alive_until[target] > s
        p0 = np.where(alive, 1.0 - np.exp(-per["lam"][target] * days / _WEEK), 0.0)
        fit = CHANNEL_RESPONSE[per["pref"][target], chan_idx[spec.channel]]
        q = np.where(alive, np.minimum(spec.uplift * fit, 1.0), 0.0)
        p1 = 1.0 - (1.0 - p0) * (1.0 - q)
        responds = ~holdout & (rng.random(target.size) < q)
        who = target[responds]
        t_ord = s + rng.random(who.size) * days
        order_p.append(who)
        order_t.append(t_ord)
        extra.append((who, t_ord, np.full(who.size, k)))
        contacts.append((target, holdout, s + rng.random(target.size) * 0.5, s, e))
        rows.append(
            {
                "spec": spec,
                "start": s,
                "end": e,
                "n_target": target.size,
                "n_treated": int((~holdout).sum()),
                "n_holdout": int(holdout.sum()),
                "control_prob": float(p0.mean()) if target.size else np.nan,
                "treated_prob": float(p1.mean()) if target.size else np.nan,
            }
        )
    camp_orders = {
        "person": np.concatenate([x[0] for x in extra]),
        "t": np.concatenate([x[1] for x in extra]),
        "campaign": np.concatenate([x[2] for x in extra]),
    }
    return rows, contacts, camp_orders


def _names(rng, n):
    """First and last names; surnames follow a skewed (Zipf-like) frequency."""
    ranks = np.arange(1, len(_SURNAMES) + 1)
    w_last = 1.0 / ranks**0.9
    w_first = 1.0 / np.arange(1, len(_FIRST_NAMES) + 1) ** 0.5
    first = rng.choice(len(_FIRST_NAMES), size=n, p=w_first / w_first.sum())
    last = rng.choice(len(_SURNAMES), size=n, p=w_last / w_last.sum())
    sd = np.dtypes.StringDType()
    return np.array(_FIRST_NAMES, dtype=sd)[first], np.array(_SURNAMES, dtype=sd)[last]


def _typos(rng, names):
    """One typo per name: two characters swapped, one dropped or one replaced."""
    n = names.size
    length = np.strings.str_len(names)
    kind = rng.integers(0, 3, size=n)
    i = 1 + np.floor(rng.random(n) * np.maximum(length - 2, 1)).astype(np.int64)
    left = np.strings.slice(names, 0, i)
    ch = np.strings.slice(names, i, i + 1)
    nxt = np.strings.slice(names, i + 1, i + 2)
    rest1 = np.strings.slice(names, i + 1, length)
    rest2 = np.strings.slice(names, i + 2, length)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"), dtype=np.dtypes.StringDType())
    rep = letters[rng.integers(0, 26, size=n)]
    rep = np.where(rep == ch, np.where(ch == "e", "a", "e"), rep)
    swapped = np.strings.add(np.strings.add(np.strings.add(left, nxt), ch), rest2)
    dropped = np.strings.add(left, rest1)
    replaced = np.strings.add(np.strings.add(left, rep), rest1)
    out = np.where(kind == 0, swapped, np.where(kind == 1, dropped, replaced))
    return out, kind


def _phone_text(digits8, fmt):
    """Format 8-digit London numbers in the formats ``fmt`` (indices into PHONE_FORMATS)."""
    a = np.strings.slice(digits8, 0, 4)
    b = np.strings.slice(digits8, 4, 8)
    out = np.empty(digits8.size, dtype=np.dtypes.StringDType())
    for f, pattern in enumerate(PHONE_FORMATS):
        m = fmt == f
        if not m.any():
            continue
        pre, rest = pattern.split("{a}")
        mid, post = rest.split("{b}")
        out[m] = np.strings.add(
            np.strings.add(np.strings.add(np.strings.add(pre, a[m]), mid), b[m]), post
        )
    return out


def _customers(rng, per, rec, signup_t, start64, run=None):
    """The customers table and the record-level truth of the identity variants.

    In a chunk of a large folder (``run`` given) phone numbers and e-mail
    usernames continue those of the earlier chunks, and ``run.email_seen`` is
    updated with this chunk's usernames.
    """
    n, n_rec = per["n"], rec["n"]
    sd = np.dtypes.StringDType()
    first, last = _names(rng, n)
    full = np.strings.add(np.strings.add(first, " "), last)
    # e-mail: a username pattern, a rank suffix to keep it unique per person, a domain
    fl, ll = np.strings.lower(first), np.strings.lower(last)
    pattern = rng.integers(0, 4, size=n)
    initial = np.strings.slice(fl, 0, 1)
    user = np.where(
        pattern == 0,
        np.strings.add(np.strings.add(fl, "."), ll),
        np.where(
            pattern == 1,
            np.strings.add(np.strings.add(initial, "."), ll),
            np.where(
                pattern == 2, np.strings.add(fl, ll), np.strings.add(np.strings.add(fl, "_"), ll)
            ),
        ),
    )
    users = pd.Series(user.astype(object))
    rank = users.groupby(users).cumcount().to_numpy()
    if run is not None:  # persons of earlier chunks already use some usernames
        rank = rank + users.map(run.email_seen).fillna(0).to_numpy(dtype=np.int64)
        for name, count in users.value_counts().items():
            run.email_seen[name] = run.email_seen.get(name, 0) + int(count)
    suffix = np.where(rank > 0, (rank + 1).astype(sd), "")
    user = np.strings.add(user, suffix)
    domain_idx = rng.choice(len(_EMAIL_DOMAINS), size=n, p=[0.5, 0.3, 0.2])
    domains = np.array(_EMAIL_DOMAINS, dtype=sd)
    email = np.strings.add(np.strings.add(user, "@"), domains[domain_idx])
    # phone: a unique 8-digit London number per person (an affine bijection of the index)
    offset = int(rng.integers(0, 10**7))
    first_person = 0
    if run is not None:  # one mapping for the whole folder, over the persons of all chunks
        offset, first_person = run.phone_offset, run.first_person
    sub = ((first_person + np.arange(n, dtype=np.int64)) * 7_654_321 + offset) % 10**7
    lead = np.array([3, 7, 8])[rng.integers(0, 3, size=n)]
    digits8 = (lead * 10**7 + sub).astype(sd)
    city = rng.choice(len(_CITIES), size=n, p=_CITY_WEIGHTS / _CITY_WEIGHTS.sum())

    person = rec["person"]
    sys = rec["sys"]
    dup = ~rec["primary"]
    n_dup = int(dup.sum())
    # names of second records: 60 % with one typo
    rec_name = full[person]
    name_variant = np.where(rec["primary"], "original", "same").astype(object)
    dup_idx = np.flatnonzero(dup)
    typo = rng.random(n_dup) < 0.6
    typo_names, typo_kind = _typos(rng, rec_name[dup_idx[typo]])
    changed = typo_names != rec_name[dup_idx[typo]]
    rec_name[dup_idx[typo]] = typo_names
    kinds = np.array(["swap", "drop", "replace"], dtype=object)[typo_kind]
    name_variant[dup_idx[typo]] = np.where(changed, kinds, "same")
    # e-mails of second records: same, case change, other domain or missing
    rec_email = email[person]
    email_missing = np.zeros(n_rec, dtype=bool)
    email_variant = np.where(rec["primary"], "original", "same").astype(object)
    ev = rng.choice(4, size=n_dup, p=[0.4, 0.3, 0.2, 0.1])
    e_dup = rec_email[dup_idx]
    title = np.strings.add(
        np.strings.add(np.strings.title(user[person[dup_idx]]), "@"),
        domains[domain_idx[person[dup_idx]]],
    )
    cased = np.where(rng.random(n_dup) < 0.5, np.strings.upper(e_dup), title)
    other_dom = domains[(domain_idx[person[dup_idx]] + rng.integers(1, 3, size=n_dup)) % 3]
    moved_dom = np.strings.add(np.strings.add(user[person[dup_idx]], "@"), other_dom)
    e_dup = np.where(ev == 1, cased, np.where(ev == 2, moved_dom, e_dup))
    rec_email[dup_idx] = e_dup
    email_variant[dup_idx] = np.array(["same", "case", "domain", "missing"], dtype=object)[ev]
    email_missing[dup_idx] = ev == 3
    # phones: primary in a format its system favours, second record in another format
    fmt = np.empty(n_rec, dtype=np.int64)
    for s_i, fmts in enumerate(_SYSTEM_PHONE_FORMATS):
        m = sys == s_i
        fmt[m] = np.array(fmts)[rng.integers(0, len(fmts), size=int(m.sum()))]
    prim_fmt = fmt[rec["prim_rec"][person[dup_idx]]]
    fmt[dup_idx] = (prim_fmt + rng.integers(1, len(PHONE_FORMATS), size=n_dup)) % len(PHONE_FORMATS)
    rec_phone = _phone_text(digits8[person], fmt)
    # city: one in ten second records moved
    rec_city = city[person].copy()
    moved = np.zeros(n_rec, dtype=bool)
    moved[dup_idx] = rng.random(n_dup) < 0.1
    rec_city[moved] = (
        rec_city[moved] + rng.integers(1, len(_CITIES), size=int(moved.sum()))
    ) % len(_CITIES)
    acq = _choice_rows(rng, _ACQ_SOURCE_PROBS, sys)
    # defects: missing phone / city on exactly the planted share of records
    miss_phone = np.zeros(n_rec, dtype=bool)
    miss_city = np.zeros(n_rec, dtype=bool)
    miss_phone[
        rng.choice(n_rec, size=round(DEFECT_RATES["missing_phone"] * n_rec), replace=False)
    ] = True
    miss_city[
        rng.choice(n_rec, size=round(DEFECT_RATES["missing_city"] * n_rec), replace=False)
    ] = True

    order = np.argsort(rec["number"])  # customers table sorted by customer number
    df = pd.DataFrame(
        {
            CUSTOMER_ID: _take(rec["cid"], order),
            NAME: _str(rec_name[order]),
            EMAIL: _str(rec_email[order]).mask(email_missing[order]),
            PHONE: _str(rec_phone[order]).mask(miss_phone[order]),
            CITY: _labels(_CITIES, np.where(miss_city, -1, rec_city)[order]),
            COUNTRY: _labels([COUNTRY_NAME], np.zeros(n_rec, dtype=np.int64)),
            SIGNUP_DATE: _days(start64, signup_t[order]),
            ACQUISITION_CHANNEL: _labels(_ACQ_SOURCES, acq[order]),
            SOURCE_SYSTEM: _labels(SOURCE_SYSTEMS, sys[order]),
        }
    )
    variants = {
        NAME_VARIANT: name_variant,
        EMAIL_VARIANT: email_variant,
        PHONE_FORMAT: fmt,
        CITY_CHANGED: moved,
    }
    defects = [
        (_take(rec["cid"], np.flatnonzero(email_missing)), EMAIL),
        (_take(rec["cid"], np.flatnonzero(miss_phone)), PHONE),
        (_take(rec["cid"], np.flatnonzero(miss_city)), CITY),
    ]
    return df, variants, defects


# --- generate -----------------------------------------------------------------


def _check_args(n_customers, seed, start, end, duplicate_rate):
    if (
        isinstance(n_customers, bool)
        or not isinstance(n_customers, int | np.integer)
        or n_customers < 1
    ):
        raise CRMError(f"n_customers must be a positive whole number, got {n_customers!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise CRMError(f"seed must be a non-negative whole number, got {seed!r}")
    try:
        t_start, t_end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    except (ValueError, TypeError) as exc:
        raise CRMError(f"start and end must be dates (YYYY-MM-DD): {exc}") from None
    if (t_end - t_start).days + 1 < 180:
        raise CRMError(
            f"the window from {t_start.date()} to {t_end.date()} is shorter than 180 days; "
            "campaigns and repeat purchases need a longer one"
        )
    if not 0.0 <= float(duplicate_rate) < 1.0:
        raise CRMError(f"duplicate_rate must be in [0, 1), got {duplicate_rate!r}")
    return t_start, t_end


def _orders(rng, per, rec, nat, camp) -> dict:
    """All orders, natural and campaign, in time order (their number is their position + 1)."""
    person = np.concatenate([nat["person"], camp["person"]])
    t = np.concatenate([nat["t"], camp["t"]])
    campaign = np.concatenate([np.full(nat["person"].size, -1), camp["campaign"]])
    channel = _order_channels(rng, per, rec, person)
    first = np.concatenate([nat["first"], np.zeros(camp["person"].size, dtype=bool)])
    channel[first] = per["pref"][person[first]]  # the acquisition order: preferred channel
    srt = np.argsort(t, kind="stable")
    person, t, campaign, channel = person[srt], t[srt], campaign[srt], channel[srt]
    return {
        "n": person.size,
        "person": person,
        "t": t,
        "campaign": campaign,
        "channel": channel,
        "record": _record_of(rec, person, channel),
        "kind": per["kind"][person],
    }


def _lines(rng, prod, per, orders, span) -> dict:
    """Purchase lines (1 to 4 per order) and the returns among them."""
    n_lines = _choice_rows(rng, _LINES_PROBS, orders["kind"]) + 1
    order = np.repeat(np.arange(orders["n"]), n_lines)
    kind = orders["kind"][order]
    seg = per["seg"][orders["person"][order]]
    product = _choice_rows(rng, _product_probs(prod), kind * len(SEGMENTS) + seg)
    # one line per product in an order: a second draw of the same product is dropped, so that
    # no two lines are exact copies (crmlib.data.io rejects exact copies as duplicate lines)
    pair = order.astype(np.int64) * len(prod["price"]) + product
    first = np.sort(np.unique(pair, return_index=True)[1])
    order, kind, seg, product = order[first], kind[first], seg[first], product[first]
    qty = 1.0 + rng.poisson(_EXTRA_UNITS[kind]).astype(float)
    disc_row = (seg != SEGMENTS.index("price")).astype(np.int64)
    disc = np.array(DISCOUNTS)[_choice_rows(rng, _DISCOUNT_PROBS, disc_row)]
    camp_disc = np.array([c.discount for c in CAMPAIGNS] + [0.0])[orders["campaign"][order]]
    disc = np.maximum(disc, camp_disc)
    ret = np.flatnonzero(rng.random(order.size) < RETURN_PROBS[kind])
    ret_t = orders["t"][order[ret]] + rng.uniform(2.0, 30.0, size=ret.size)
    keep = ret_t < span  # a return after the window is not (yet) recorded
    return {
        "order": order,
        "product": product,
        "qty": qty,
        "revenue": np.round(prod["price"][product] * qty * (1.0 - disc), 2),
        "cost": np.round(prod["cost"][product] * qty, 2),
        "ret": ret[keep],
        "ret_t": ret_t[keep],
    }


def _ledger(orders, lines) -> dict:
    """Purchase and return lines together, sorted by date, order, purchase before return."""
    ret = lines["ret"]
    order = np.concatenate([lines["order"], lines["order"][ret]])
    t = np.concatenate([orders["t"][lines["order"]], lines["ret_t"]])
    is_ret = np.concatenate([np.zeros(lines["order"].size, bool), np.ones(ret.size, bool)])
    srt = np.lexsort((is_ret, order, np.floor(t)))
    return {
        "order": order[srt],
        "t": t[srt],
        "product": np.concatenate([lines["product"], lines["product"][ret]])[srt],
        "qty": np.concatenate([lines["qty"], -lines["qty"][ret]])[srt],
        "revenue": np.concatenate([lines["revenue"], -lines["revenue"][ret]])[srt],
        "cost": np.concatenate([lines["cost"], np.zeros(ret.size)])[srt],
        "record": orders["record"][order[srt]],
        "channel": orders["channel"][order[srt]],
    }


def _tickets(rng, per, rec, orders, lines, span) -> dict:
    """Tickets after orders and returns; resolution time drives CSAT (CSAT_MODEL)."""
    from_order = np.flatnonzero(rng.random(orders["n"]) < TICKET_PROBS[orders["kind"]])
    ret = lines["ret"]
    from_ret = np.flatnonzero(rng.random(ret.size) < _RETURN_TICKET_PROB)
    person = np.concatenate(
        [orders["person"][from_order], orders["person"][lines["order"][ret[from_ret]]]]
    )
    t = np.concatenate(
        [
            orders["t"][from_order] + rng.uniform(0.0, 10.0, size=from_order.size),
            lines["ret_t"][from_ret] + rng.uniform(0.0, 3.0, size=from_ret.size),
        ]
    )
    cat = np.concatenate(
        [
            rng.choice(4, size=from_order.size, p=[0.4, 0.3, 0.2, 0.1]),
            np.full(from_ret.size, TICKET_CATEGORIES.index("return")),
        ]
    )
    inside = t < span
    srt = np.argsort(t[inside], kind="stable")
    person, t, cat = person[inside][srt], t[inside][srt], cat[inside][srt]
    channel = _choice_rows(rng, _TICKET_CHANNEL_PROBS, per["pref"][person])
    median = np.array([CSAT_MODEL["median_hours"][c] for c in TICKET_CHANNELS])
    hours = median[channel] * rng.lognormal(0.0, CSAT_MODEL["sigma_log_hours"], size=t.size)
    close = t + hours / 24.0
    csat = CSAT_MODEL["intercept"] + CSAT_MODEL["slope_log_days"] * np.log1p(hours / 24.0)
    csat = np.clip(np.round(csat + rng.normal(0.0, CSAT_MODEL["noise_sd"], size=t.size)), 1, 5)
    closed = close < span
    answered = closed & (rng.random(t.size) < CSAT_MODEL["answer_rate"])
    # defect: a few closed tickets whose closing time was entered before the opening
    closed_idx = np.flatnonzero(closed)
    n_bad = round(DEFECT_RATES["closed_before_opened"] * closed_idx.size)
    n_bad = max(n_bad, 1) if closed_idx.size else 0
    bad = np.sort(rng.choice(closed_idx, size=n_bad, replace=False))
    close_shown = close.copy()
    close_shown[bad] = t[bad] - rng.uniform(0.05, 2.0, size=bad.size)
    return {
        "n": t.size,
        "person": person,
        "t": t,
        "category": cat,
        "channel": channel,
        "record": _record_of(rec, person, _TICKET_SYSTEM[channel]),
        "csat_true": csat,
        "closed": closed,
        "answered": answered,
        "close_shown": close_shown,
        "bad": bad,
    }


def _surveys(rng, per, tick, span) -> dict:
    """Survey answers of SURVEY_SHARE of persons: needs (NEEDS_MODEL) and NPS (NPS_MODEL)."""
    n = per["n"]
    who = np.flatnonzero(rng.random(n) < SURVEY_SHARE)
    t = rng.uniform(per["t0"][who], span)
    srt = np.argsort(t, kind="stable")
    who, t = who[srt], t[srt]
    pos = np.full(n, -1)
    pos[who] = np.arange(who.size)
    k = pos[tick["person"]]
    before = tick["t"] < np.append(t, -np.inf)[k]  # k == -1: the person was not surveyed
    total = np.bincount(k[before], weights=tick["csat_true"][before], minlength=who.size)
    count = np.bincount(k[before], minlength=who.size)
    score = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    seg = per["seg"][who]
    offset = np.array([NPS_MODEL["segment_offset"][s] for s in SEGMENTS])[seg]
    service = NPS_MODEL["service_coef"] * (score - NPS_MODEL["reference_csat"])
    nps = NPS_MODEL["intercept"] + offset + np.where(count > 0, service, 0.0)
    nps = np.clip(np.round(nps + rng.normal(0, NPS_MODEL["noise_sd"], who.size)), 0, 10)
    m = NEEDS_MODEL
    needs = rng.normal(m["other_mean"], m["other_sd"], (who.size, len(NEEDS)))
    needs[np.arange(who.size), seg] = rng.normal(m["own_mean"], m["own_sd"], who.size)
    return {
        "person": who,
        "t": t,
        "score": score,
        "nps": nps,
        "needs": np.clip(np.round(needs), 1, 5),
    }


def _interactions(rng, per, rec, orders, contacts, tick, span) -> dict:
    """Campaign contacts and holdouts, web and store visits, service calls; in time order."""
    parts = []  # dicts of equal-length arrays

    def part(record, t, channel, kind, outcome, campaign=-1):
        size = len(t)
        values = {"channel": channel, "kind": kind, "outcome": outcome, "campaign": campaign}
        parts.append(
            {"record": record, "t": t}
            | {name: np.broadcast_to(v, size) for name, v in values.items()}
        )

    # orders sorted by person, then time: a person's purchases in a window by binary search
    by_p = np.lexsort((orders["t"], orders["person"]))
    key = orders["person"][by_p] * (span + 1.0) + orders["t"][by_p]
    outcome_code = {o: i for i, o in enumerate(OUTCOMES)}
    for k, (target, holdout, t, s, e) in enumerate(contacts):
        lo = np.searchsorted(key, target * (span + 1.0) + s)
        hi = np.searchsorted(key, target * (span + 1.0) + e)
        outcome = np.where(
            holdout,
            outcome_code["not_contacted"],
            np.where(hi > lo, outcome_code["responded"], outcome_code["no_response"]),
        )
        kind = np.where(
            holdout,
            INTERACTION_KINDS.index(KIND_CAMPAIGN_HOLDOUT),
            INTERACTION_KINDS.index(KIND_CAMPAIGN_CONTACT),
        )
        channel = ALL_CHANNELS.index(CAMPAIGNS[k].channel)
        part(rec["prim_rec"][target], t, channel, kind, outcome, campaign=k)
    for chan, kind, mean_browse in ((0, KIND_WEB_VISIT, 0.5), (1, KIND_STORE_VISIT, 0.2)):
        m = orders["channel"] == chan
        person, t = orders["person"][m], orders["t"][m]
        kind_code = INTERACTION_KINDS.index(kind)
        part(_record_of(rec, person, chan), t, chan, kind_code, outcome_code["purchase"])
        n_browse = rng.poisson(mean_browse, size=person.size)
        person = np.repeat(person, n_browse)
        t = np.repeat(t, n_browse) - rng.uniform(0, 14, size=person.size)
        known = t >= per["t0"][person]  # browsing before the first purchase is anonymous
        person, t = person[known], t[known]
        part(_record_of(rec, person, chan), t, chan, kind_code, outcome_code["browse"])
    calls = np.flatnonzero(tick["channel"] == TICKET_CHANNELS.index("phone"))
    part(
        tick["record"][calls],
        tick["t"][calls],
        ALL_CHANNELS.index("phone"),
        INTERACTION_KINDS.index(KIND_SERVICE_CALL),
        outcome_code["ticket_opened"],
    )
    out = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    srt = np.argsort(out["t"], kind="stable")
    return {name: values[srt] for name, values in out.items()}


def _signup_times(rng, per, rec, orders, tick, inter, span) -> np.ndarray:
    """A primary record starts at acquisition; a second record at its first activity."""
    signup = np.full(rec["n"], np.inf)
    np.minimum.at(signup, orders["record"], orders["t"])
    np.minimum.at(signup, tick["record"], tick["t"])
    np.minimum.at(signup, inter["record"], inter["t"])
    idle = ~np.isfinite(signup)  # a second record without activity: created some day
    signup[idle] = rng.uniform(per["t0"][rec["person"][idle]], span)
    signup[rec["primary"]] = per["t0"]
    return signup


def _profit(rec, orders, lines, ledger, tick, inter) -> dict:
    """Revenue, product cost, cost-to-serve and profit per record (the module's rule)."""
    rate = {(a, c): u for a, c, u in COST_RATES}

    def rates(activity, labels):
        return np.array([rate.get((activity, c), 0.0) for c in labels])

    n_rec = rec["n"]
    revenue = np.bincount(ledger["record"], weights=ledger["revenue"], minlength=n_rec)
    cost = np.bincount(ledger["record"], weights=ledger["cost"], minlength=n_rec)
    per_order = rates(ACT_ORDER, ORDER_CHANNELS) + rates(ACT_DELIVERY, ORDER_CHANNELS)
    cts = np.bincount(orders["record"], weights=per_order[orders["channel"]], minlength=n_rec)
    ret_order = lines["order"][lines["ret"]]
    ret_rate = rates(ACT_RETURN, ORDER_CHANNELS)[orders["channel"][ret_order]]
    cts += np.bincount(orders["record"][ret_order], weights=ret_rate, minlength=n_rec)
    tick_rate = rates(ACT_TICKET, TICKET_CHANNELS)[tick["channel"]]
    cts += np.bincount(tick["record"], weights=tick_rate, minlength=n_rec)
    contact = inter["kind"] == INTERACTION_KINDS.index(KIND_CAMPAIGN_CONTACT)
    contact_rate = rates(ACT_CONTACT, ALL_CHANNELS)[inter["channel"][contact]]
    cts += np.bincount(inter["record"][contact], weights=contact_rate, minlength=n_rec)
    return {
        REVENUE: revenue,
        PRODUCT_COST: cost,
        COST_TO_SERVE: cts,
        PROFIT: revenue - cost - cts,
    }


def _take(ids: pd.Series, index: np.ndarray) -> pd.Series:
    """``ids[index]`` as a fresh string Series (fast, in pyarrow)."""
    return _str(pc.take(pa.array(ids), pa.array(np.asarray(index, dtype=np.int64))))


def _small_tables(start64, prod, camp_rows) -> dict:
    """The products, cost_rates and campaigns tables."""
    products = pd.DataFrame(
        {
            PRODUCT_ID: prod["id"],
            NAME: _str(prod["name"]),
            CATEGORY: _labels(CATEGORIES, prod["cat"]),
            UNIT_PRICE: prod["price"],
            UNIT_COST: prod["cost"],
        }
    )
    cost_rates = pd.DataFrame(
        {
            ACTIVITY: _str([a for a, _, _ in COST_RATES]),
            CHANNEL: _str([c for _, c, _ in COST_RATES]),
            UNIT_COST_RATE: [float(u) for _, _, u in COST_RATES],
        }
    )
    rate = {(a, c): u for a, c, u in COST_RATES}
    campaigns = pd.DataFrame(
        {
            CAMPAIGN_ID: _campaign_ids(),
            NAME: _str([c.name for c in CAMPAIGNS]),
            CHANNEL: _str([c.channel for c in CAMPAIGNS]),
            OFFER: _str([c.offer for c in CAMPAIGNS]),
            COST: [
                CAMPAIGN_FIXED_COST + r["n_treated"] * rate.get((ACT_CONTACT, r["spec"].channel), 0)
                for r in camp_rows
            ],
            START_DATE: _days(start64, np.array([r["start"] for r in camp_rows])),
            END_DATE: _days(start64, np.array([r["end"] - 1 for r in camp_rows])),
            TARGET_SEGMENT: _str([c.target for c in CAMPAIGNS]),
        }
    )
    return {"products": products, "cost_rates": cost_rates, "campaigns": campaigns}


def _campaign_ids() -> pd.Series:
    return _ids("CP", np.arange(1, len(CAMPAIGNS) + 1), 2)


def generate(
    n_customers: int = 5000,
    seed: int = 20261122,
    start="2023-01-01",
    end="2024-12-31",
    duplicate_rate: float = 0.05,
) -> SynthCompany:
    """Generate a synthetic omnichannel retailer with known ground truth.

    Parameters
    ----------
    n_customers : int
        Number of persons (real customers); the ``customers`` table has about
        ``n_customers * (1 + duplicate_rate)`` records. About 10 transaction
        lines per person.
    seed : int
        Seed of the one :class:`numpy.random.Generator` used throughout.
    start, end : str or date-like
        First and last day of the observation window (at least 180 days).
    duplicate_rate : float
        Share of persons with a second record in another source system.

    Returns
    -------
    SynthCompany
        Tables, truth, seed and ``as_of`` (= ``end``). See the module
        docstring for what is planted and :class:`SynthTruth` for the truth.

    Raises
    ------
    CRMError
        On a bad argument.

    Notes
    -----
    The purchase process is the BG/NBD story (Fader, Hardie & Lee 2005,
    *Marketing Science* 24(2)); profit follows the activity-based cost-to-serve
    rule in the module docstring (Kaplan & Cooper 1998).
    """
    t_start, t_end = _check_args(n_customers, seed, start, end, duplicate_rate)
    rng = np.random.default_rng(seed)
    start64, span = _window(t_start, t_end)
    prod = _products(rng)
    sim = _simulate(rng, prod, int(n_customers), span, start64, float(duplicate_rate))
    tables = {
        **_person_tables(sim, prod, start64),
        **_small_tables(start64, prod, sim["camp_rows"]),
    }
    tables = {name: tables[name][list(TABLES[name].names)] for name in TABLES if name in tables}
    money = _profit(*(sim[k] for k in ("rec", "orders", "lines", "ledger", "tick", "inter")))
    parts = ("per", "rec", "nat", "camp_rows", "orders", "tick", "surv", "variants", "defects")
    truth = _truth(start64, *(sim[k] for k in parts), money)
    return SynthCompany(tables=tables, truth=truth, seed=int(seed), as_of=t_end)


def _window(t_start: pd.Timestamp, t_end: pd.Timestamp) -> tuple[np.datetime64, float]:
    """The window's first day and its length in days (the window is ``[0, span)`` in days)."""
    return np.datetime64(t_start.date(), "D"), float((t_end - t_start).days + 1)


def _simulate(rng, prod, n, span, start64, duplicate_rate, run=None) -> dict:
    """``n`` persons and everything they do in the window, as arrays (and the customers table).

    The steps of :func:`generate`, in the order they draw from ``rng``; ``run``
    numbers the ids of a chunk of a large folder (see :func:`write_large_folder`).
    """
    per = _persons(rng, n, span)
    nat = _purchases(rng, per, span)
    rec = _records(rng, per, duplicate_rate, run)
    camp_rows, contacts, camp = _campaigns(rng, per, nat, span)
    orders = _orders(rng, per, rec, nat, camp)
    lines = _lines(rng, prod, per, orders, span)
    ledger = _ledger(orders, lines)
    tick = _tickets(rng, per, rec, orders, lines, span)
    surv = _surveys(rng, per, tick, span)
    inter = _interactions(rng, per, rec, orders, contacts, tick, span)
    signup = _signup_times(rng, per, rec, orders, tick, inter, span)
    customers, variants, defects = _customers(rng, per, rec, signup, start64, run)
    orders["id"] = _serial("O", np.arange(1, orders["n"] + 1), 9, run)
    tick["id"] = _serial("T", np.arange(1, tick["n"] + 1), 7, run)
    inter["id"] = _serial("I", np.arange(1, inter["t"].size + 1), 9, run)
    surv["id"] = _serial("S", np.arange(1, surv["t"].size + 1), 7, run)
    return {
        "per": per,
        "nat": nat,
        "rec": rec,
        "camp_rows": camp_rows,
        "orders": orders,
        "lines": lines,
        "ledger": ledger,
        "tick": tick,
        "surv": surv,
        "inter": inter,
        "customers": customers,
        "variants": variants,
        "defects": defects,
    }


def _person_tables(sim: dict, prod: dict, start64: np.datetime64) -> dict[str, pd.DataFrame]:
    """The customers, transactions, interactions, tickets and surveys tables of a simulation."""
    rec, orders, ledger = sim["rec"], sim["orders"], sim["ledger"]
    inter, tick, surv = sim["inter"], sim["tick"], sim["surv"]
    cid = rec["cid"]
    return {
        "customers": sim["customers"],
        "transactions": pd.DataFrame(
            {
                ORDER_ID: _take(orders["id"], ledger["order"]),
                CUSTOMER_ID: _take(cid, ledger["record"]),
                ORDER_DATE: _days(start64, ledger["t"]),
                PRODUCT_ID: _take(prod["id"], ledger["product"]),
                QUANTITY: ledger["qty"],
                REVENUE: ledger["revenue"],
                COST: ledger["cost"],
                CHANNEL: _labels(ORDER_CHANNELS, ledger["channel"]),
            }
        ),
        "interactions": pd.DataFrame(
            {
                INTERACTION_ID: inter["id"],
                CUSTOMER_ID: _take(cid, inter["record"]),
                TIMESTAMP: _stamps(start64, inter["t"]),
                CHANNEL: _labels(ALL_CHANNELS, inter["channel"]),
                KIND: _labels(INTERACTION_KINDS, inter["kind"]),
                CAMPAIGN_ID: _labels(list(_campaign_ids()), inter["campaign"]),
                OUTCOME: _labels(OUTCOMES, inter["outcome"]),
            }
        ),
        "tickets": pd.DataFrame(
            {
                TICKET_ID: tick["id"],
                CUSTOMER_ID: _take(cid, tick["record"]),
                OPENED_AT: _stamps(start64, tick["t"]),
                CLOSED_AT: pd.Series(_stamps(start64, tick["close_shown"])).where(tick["closed"]),
                CHANNEL: _labels(TICKET_CHANNELS, tick["channel"]),
                CATEGORY: _labels(TICKET_CATEGORIES, tick["category"]),
                CSAT: np.where(tick["answered"], tick["csat_true"], np.nan),
            }
        ),
        "surveys": pd.DataFrame(
            {
                RESPONSE_ID: surv["id"],
                CUSTOMER_ID: _take(cid, rec["prim_rec"][surv["person"]]),
                DATE: _days(start64, surv["t"]),
                NPS: surv["nps"],
                **{col: surv["needs"][:, j] for j, col in enumerate(NEEDS)},
            }
        ),
    }


def _truth(start64, per, rec, nat, camp_rows, orders, tick, surv, variants, cust_defects, money):
    """Assemble :class:`SynthTruth` from the internal arrays."""
    n, cid = per["n"], rec["cid"]
    pid = _ids("H", np.arange(1, n + 1), _width(n, 7))
    records = pd.DataFrame(
        {
            CUSTOMER_ID: cid,
            PERSON_ID: _take(pid, rec["person"]),
            IS_PRIMARY: rec["primary"],
            SOURCE_SYSTEM: _labels(SOURCE_SYSTEMS, rec["sys"]),
            NAME_VARIANT: _str(variants[NAME_VARIANT]),
            EMAIL_VARIANT: _str(variants[EMAIL_VARIANT]),
            PHONE_FORMAT: variants[PHONE_FORMAT],
            CITY_CHANGED: variants[CITY_CHANGED],
            N_ORDERS: np.bincount(orders["record"], minlength=rec["n"]),
            **money,
        }
    ).sort_values(CUSTOMER_ID, ignore_index=True)

    def by_person(values):
        return np.bincount(rec["person"], weights=values, minlength=n)

    def answer(values):
        out = np.full(n, np.nan)
        out[surv["person"]] = values
        return out

    dropout = nat["dropout"]
    is_camp = np.flatnonzero(orders["campaign"] >= 0)
    persons = pd.DataFrame(
        {
            PERSON_ID: pid,
            NEEDS_SEGMENT: _labels(SEGMENTS, per["seg"]),
            IS_WHALE: per["kind"] == _WHALE,
            IS_COST_MAGNET: per["kind"] == _MAGNET,
            PREFERRED_CHANNEL: _labels(ORDER_CHANNELS, per["pref"]),
            ACQUISITION_DATE: _days(start64, per["t0"]),
            LAM: per["lam"],
            P_DROPOUT: per["p"],
            DROPOUT_DATE: pd.Series(_days(start64, np.nan_to_num(dropout))).where(
                ~np.isnan(dropout)
            ),
            ALIVE_AT_END: np.isnan(dropout),
            N_RECORDS: np.bincount(rec["person"], minlength=n),
            N_ORDERS: np.bincount(orders["person"], minlength=n),
            N_CAMPAIGN_ORDERS: np.bincount(orders["person"][is_camp], minlength=n),
            N_TICKETS: np.bincount(tick["person"], minlength=n),
            SERVICE_SCORE: answer(surv["score"]),
            NPS: answer(surv["nps"]),
            **{name: by_person(values) for name, values in money.items()},
            CUSTOMER_ID: _take(cid, rec["prim_rec"]),
        }
    )
    camp_ids = _campaign_ids()
    lift = pd.DataFrame(
        {
            CAMPAIGN_ID: camp_ids,
            CHANNEL: _str([r["spec"].channel for r in camp_rows]),
            TARGET_SEGMENT: _str([r["spec"].target for r in camp_rows]),
            **{
                name: [r[name] for r in camp_rows]
                for name in ("n_target", "n_treated", "n_holdout", "control_prob", "treated_prob")
            },
            "uplift": [r["spec"].uplift for r in camp_rows],
        }
    )
    lift["lift"] = lift["treated_prob"] - lift["control_prob"]
    campaign_orders = pd.DataFrame(
        {
            ORDER_ID: _take(orders["id"], is_camp),
            CAMPAIGN_ID: _take(camp_ids, orders["campaign"][is_camp]),
            PERSON_ID: _take(pid, orders["person"][is_camp]),
            CUSTOMER_ID: _take(cid, orders["record"][is_camp]),
        }
    )
    channel_response = pd.DataFrame(
        CHANNEL_RESPONSE,
        index=pd.Index(ORDER_CHANNELS, name=PREFERRED_CHANNEL),
        columns=list(CAMPAIGN_CHANNELS),
    )
    seg_rows = {"share": list(SEGMENT_SHARES)}
    for j, c in enumerate(ORDER_CHANNELS):
        seg_rows[f"pref_{c}"] = PREFERRED_CHANNEL_PROBS[:, j]
    for j, c in enumerate(CATEGORIES):
        seg_rows[f"cat_{c}"] = CATEGORY_MIX[:, j]
    for j, t in enumerate(TIERS):
        seg_rows[f"tier_{t}"] = TIER_MIX[: len(SEGMENTS), j]
    seg_rows["nps_offset"] = [NPS_MODEL["segment_offset"][s] for s in SEGMENTS]
    segments = pd.DataFrame(seg_rows, index=pd.Index(SEGMENTS, name=NEEDS_SEGMENT))
    parts = [
        pd.DataFrame(
            {TABLE_COL: "customers", KEY_COL: keys, COLUMN_COL: col, DEFECT_KIND: "missing"}
        )
        for keys, col in cust_defects
    ]
    parts.append(
        pd.DataFrame(
            {
                TABLE_COL: "tickets",
                KEY_COL: _take(tick["id"], tick["bad"]),
                COLUMN_COL: CLOSED_AT,
                DEFECT_KIND: "closed_before_opened",
            }
        )
    )
    return SynthTruth(
        persons=persons,
        records=records,
        bgnbd_params=dict(BGNBD_PARAMS),
        campaign_lift=lift,
        campaign_orders=campaign_orders,
        channel_response=channel_response,
        segments=segments,
        csat_model=json.loads(json.dumps(CSAT_MODEL)),
        nps_model=json.loads(json.dumps(NPS_MODEL)),
        needs_model=dict(NEEDS_MODEL),
        defects=pd.concat(parts, ignore_index=True).astype("str"),
    )


# --- writing ----------------------------------------------------------------------


def _write_frame(df: pd.DataFrame, path: Path, fmt: str, date_only: bool = True) -> None:
    """Write one frame; CSV dates as YYYY-MM-DD, with HH:MM:SS unless ``date_only``."""
    try:
        if fmt == "csv":
            date_format = "%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M:%S"
            df.to_csv(path, index=False, encoding="utf-8", date_format=date_format)
        else:
            df.to_parquet(path, index=False)
    except OSError as exc:
        raise CRMError(f"{path.name}: cannot write the file ({exc.strerror or exc})") from None


def _make_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CRMError(f"{out.name}: cannot create the folder ({exc.strerror or exc})") from None


def _check_fmt(fmt: str) -> None:
    if fmt not in ("csv", "parquet"):
        raise CRMError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")


def write_folder(company: SynthCompany, out_dir, fmt: str = "csv") -> list[Path]:
    """Write the company's tables as a client folder.

    Parameters
    ----------
    company : SynthCompany
        From :func:`generate`.
    out_dir : str or Path
        Folder to write into (created if missing).
    fmt : {"csv", "parquet"}
        CSV is UTF-8 without index, dates as ``YYYY-MM-DD`` and timestamps as
        ``YYYY-MM-DD HH:MM:SS``.

    Returns
    -------
    list of Path
        The files written, one ``<table>.<fmt>`` per table.
    """
    _check_fmt(fmt)
    out = Path(out_dir)
    _make_dir(out)
    paths = []
    for name, df in company.tables.items():
        kinds = {c.kind for c in TABLES[name].columns}
        path = out / f"{name}.{fmt}"
        _write_frame(df, path, fmt, date_only=DATETIME not in kinds)
        paths.append(path)
    return paths


def write_truth(company: SynthCompany, out_dir, fmt: str = "csv") -> list[Path]:
    """Write the ground truth: one file per truth table and ``truth.json`` for the rest.

    The truth never goes into a client folder: a folder that already holds
    a table file (``customers.csv``, ``transactions.parquet`` ...) is refused.

    Parameters
    ----------
    company : SynthCompany
        From :func:`generate`.
    out_dir : str or Path
        Folder for the truth (created if missing).
    fmt : {"csv", "parquet"}
        Format of the truth tables.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    CRMError
        If ``out_dir`` holds client tables, or ``fmt`` is unknown.
    """
    _check_fmt(fmt)
    out = Path(out_dir)
    clash = [p.name for p in out.glob("*.*") if p.stem in TABLES] if out.is_dir() else []
    if clash:
        raise CRMError(
            f"{out.name}: refusing to write the ground truth into a client folder "
            f"(it holds {', '.join(sorted(clash))}); choose a separate folder"
        )
    _make_dir(out)
    paths, scalars = [], {"seed": company.seed, "as_of": company.as_of.date().isoformat()}
    for f in fields(company.truth):
        value = getattr(company.truth, f.name)
        if isinstance(value, pd.DataFrame):
            path = out / f"{f.name}.{fmt}"
            keep_index = f.name in ("channel_response", "segments")
            frame = value.reset_index() if keep_index else value
            _write_frame(frame, path, fmt)
            paths.append(path)
        else:
            scalars[f.name] = value
    path = out / "truth.json"
    path.write_text(json.dumps(scalars, indent=2), encoding="utf-8")
    paths.append(path)
    return paths


# --- large folders ----------------------------------------------------------------

#: Persons per chunk of :func:`write_large_folder` (about 1.5 GB of peak memory).
CHUNK_CUSTOMERS = 250_000
#: Orders, tickets and interactions per person that the fixed id widths of a large
#: folder leave room for (the generator makes about 5, 0.7 and 8 per person).
_IDS_PER_PERSON = 100
_PERSON_TABLES = ("customers", "transactions", "interactions", "tickets", "surveys")
#: Arrow type of each column kind: the types pandas writes for the frames of generate().
_ARROW_TYPES = {
    ID: pa.large_string(),
    TEXT: pa.large_string(),
    DATE_KIND: pa.timestamp("us"),
    DATETIME: pa.timestamp("us"),
    FLOAT: pa.float64(),
    INT: pa.int64(),
}


def _arrow_schema(table: str) -> pa.Schema:
    """The one Parquet schema of a table, from the data contract (never from a chunk's values)."""
    return pa.schema([(c.name, _ARROW_TYPES[c.kind]) for c in TABLES[table].columns])


class _ParquetSink:
    """Appends frames to one Parquet file: one or more row groups per frame, one schema."""

    def __init__(self, path: Path, table: str):
        self.schema = _arrow_schema(table)
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, df: pd.DataFrame) -> None:
        arrow = pa.Table.from_pandas(df, schema=self.schema, preserve_index=False)
        self.writer.write_table(arrow)

    def close(self) -> None:
        self.writer.close()


class _CsvSink:
    """Appends frames to one CSV file, header once, formatted as :func:`write_folder` does."""

    def __init__(self, path: Path, table: str):
        self.columns = list(TABLES[table].names)
        kinds = {c.kind for c in TABLES[table].columns}
        self.date_format = "%Y-%m-%d %H:%M:%S" if DATETIME in kinds else "%Y-%m-%d"
        self.file = open(path, "w", encoding="utf-8", newline="")  # closed by close()
        self.header = True

    def write(self, df: pd.DataFrame) -> None:
        df[self.columns].to_csv(
            self.file, index=False, header=self.header, date_format=self.date_format
        )
        self.header = False

    def close(self) -> None:
        self.file.close()


def write_large_folder(
    n_customers: int,
    out_dir,
    seed: int = 20261122,
    chunk_customers: int = CHUNK_CUSTOMERS,
    fmt: str = "parquet",
    start="2023-01-01",
    end="2024-12-31",
    duplicate_rate: float = 0.05,
    progress: Callable[[int, int, dict[str, int]], None] | None = None,
) -> dict[Path, int]:
    """Write a client folder of any size in bounded memory, chunk by chunk (no ground truth).

    The persons are simulated in chunks of at most ``chunk_customers`` and
    each chunk's rows are appended to one file per table, so that peak memory
    depends on the chunk size, not on ``n_customers``. The folder has the
    same files and columns as :func:`write_folder` writes; see the module
    docstring ("Large folders") for how the chunks relate to :func:`generate`.

    Parameters
    ----------
    n_customers : int
        Number of persons; about 10 transaction lines each (10 M persons give
        about 100 M lines).
    out_dir : str or Path
        The folder to create. It must not exist yet (or be empty): the files
        are written to a hidden ``.<name>.partial-…`` folder beside it, which
        is renamed to ``out_dir`` only when every table is complete, and
        removed when writing fails or is interrupted.
    seed : int
        The one seed: the product catalogue and the phone numbering come from
        ``numpy.random.default_rng(seed)``, chunk ``i`` from the ``i``-th
        child of ``numpy.random.SeedSequence(seed)``. Same arguments, same files.
    chunk_customers : int
        Persons per chunk. Chunks are of equal size (within one person).
    fmt : {"parquet", "csv"}
        Parquet: one file per table written with ``pyarrow.parquet.ParquetWriter``
        under one schema taken from the data contract, one or more row groups
        per chunk. CSV: appended chunk by chunk, header once.
    start, end : str or date-like
        First and last day of the observation window, the same for every chunk.
    duplicate_rate : float
        Share of persons with a second record in another source system.
    progress : callable, optional
        Called after each chunk as ``progress(chunk, n_chunks, rows)``, ``chunk``
        counting from 1 and ``rows`` the rows that chunk added, per table.

    Returns
    -------
    dict of Path to int
        Each file written (``<table>.<fmt>``, in the order of
        :data:`crmlib.data.schema.TABLES`) and its number of rows.

    Raises
    ------
    CRMError
        On a bad argument, when ``out_dir`` exists and is not an empty folder,
        or when a file cannot be written (e.g. the disk is full).

    Notes
    -----
    Each chunk is simulated by the same steps as :func:`generate` (the BG/NBD
    purchases of Fader, Hardie & Lee 2005, *Marketing Science* 24(2); the
    planted campaigns, service and defects of the module docstring). A
    campaign's ``cost`` is :data:`CAMPAIGN_FIXED_COST` once plus the contact
    unit cost times the contacts of all chunks.
    """
    t_start, t_end = _check_args(n_customers, seed, start, end, duplicate_rate)
    _check_fmt(fmt)
    if (
        isinstance(chunk_customers, bool)
        or not isinstance(chunk_customers, int | np.integer)
        or chunk_customers < 1
    ):
        raise CRMError(f"chunk_customers must be a positive whole number, got {chunk_customers!r}")
    out = Path(out_dir)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise CRMError(
            f"{out}: already exists and is not an empty folder; a large folder is written whole "
            "into a new one: choose another folder or remove this one"
        )
    _make_dir(out.parent)
    partial = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:12]}"
    _make_dir(partial)
    try:
        rows = _write_chunks(
            partial,
            int(n_customers),
            int(seed),
            int(chunk_customers),
            fmt,
            _window(t_start, t_end),
            float(duplicate_rate),
            progress,
        )
        if out.is_dir():
            out.rmdir()
        partial.rename(out)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise CRMError(f"{out}: cannot write the folder ({exc.strerror or exc})") from None
    except BaseException:  # an error or an interrupt: leave nothing that looks like a folder
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return {out / f"{name}.{fmt}": count for name, count in rows.items()}


def _write_chunks(folder, n, seed, chunk, fmt, window, duplicate_rate, progress) -> dict:
    """Simulate and append the chunks, then write the shared tables; rows per table."""
    start64, span = window
    shared = np.random.default_rng(seed)
    prod = _products(shared)  # the catalogue generate(..., seed) draws first
    per_person = _IDS_PER_PERSON * n
    run = _Run(
        width={
            "C": _width(2 * n, 7),  # at most two records per person
            "O": _width(per_person, 9),
            "T": _width(per_person, 7),
            "I": _width(per_person, 9),
            "S": _width(n, 7),  # at most one survey answer per person
        },
        next_id=dict.fromkeys("COTIS", 1),
        first_person=0,
        phone_offset=int(shared.integers(0, 10**7)),
        email_seen={},
    )
    n_chunks = -(-n // chunk)
    base, extra = divmod(n, n_chunks)
    sizes = [base + 1] * extra + [base] * (n_chunks - extra)
    seeds = np.random.SeedSequence(seed).spawn(n_chunks)
    sink = _ParquetSink if fmt == "parquet" else _CsvSink
    rows = dict.fromkeys(_PERSON_TABLES, 0)
    n_treated = np.zeros(len(CAMPAIGNS), dtype=np.int64)
    with ExitStack() as stack:
        sinks = {
            name: stack.enter_context(closing(sink(folder / f"{name}.{fmt}", name)))
            for name in _PERSON_TABLES
        }
        for i, (size, child) in enumerate(zip(sizes, seeds, strict=True)):
            rng = np.random.default_rng(child)
            sim = _simulate(rng, prod, size, span, start64, duplicate_rate, run)
            tables = _person_tables(sim, prod, start64)
            for name, df in tables.items():
                sinks[name].write(df)
                rows[name] += len(df)
            camp_rows = sim["camp_rows"]
            n_treated += [r["n_treated"] for r in camp_rows]
            counts = {
                "C": sim["rec"]["n"],
                "O": sim["orders"]["n"],
                "T": sim["tick"]["n"],
                "I": sim["inter"]["t"].size,
                "S": sim["surv"]["t"].size,
            }
            for prefix, count in counts.items():
                run.next_id[prefix] += count
            run.first_person += size
            chunk_rows = {name: len(df) for name, df in tables.items()}
            del sim, tables  # free this chunk before the next one is simulated
            if progress is not None:
                progress(i + 1, n_chunks, chunk_rows)
    # every chunk has the same campaign calendar; the contacts add up over the chunks
    totals = [{**r, "n_treated": int(k)} for r, k in zip(camp_rows, n_treated, strict=True)]
    for name, df in _small_tables(start64, prod, totals).items():
        with closing(sink(folder / f"{name}.{fmt}", name)) as one:
            one.write(df)
        rows[name] = len(df)
    return {name: rows[name] for name in TABLES if name in rows}
