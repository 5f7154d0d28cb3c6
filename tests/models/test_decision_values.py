"""Decision values on one basis: a new customer's CLV/CAC, offers against the base's CLV.

Planted data built here (acquisition campaigns with known spend and new customers), and the
bundled sample for the offers' sum (the brief's check that offers are small against CLV).
"""

import numpy as np
import pandas as pd
import pytest

from crmlib.analytics import clv, profitability, uplift
from crmlib.analytics.summary import customer_summary
from crmlib.data import datasets
from crmlib.data import schema as s
from crmlib.models import idic
from crmlib.models import payne_frow as pf


def _pipeline():
    pipe = clv.CLVPipeline(horizon_months=12, annual_discount_rate=0.0, time_unit="W")
    pipe.beta_geo_ = clv.BetaGeo.from_params(0.243, 4.414, 0.793, 2.426)
    pipe.gamma_gamma_ = clv.GammaGamma.from_params(6.25, 3.74, 15.44)
    pipe.margin_share_, pipe.monthly_discount_rate_ = 0.5, 0.0
    pipe.cost_per_order_, pipe.mean_cost_per_order_ = None, 0.0
    return pipe


def test_new_customer_economics_divides_a_new_customers_value_by_acquisition_spend():
    days = pd.to_datetime(["2024-01-10", "2024-04-02", "2024-08-15", "2024-12-31"])
    tx = pd.DataFrame(
        {s.CUSTOMER_ID: ["a", "b", "c", "d"], s.ORDER_DATE: days, s.REVENUE: 20.0, s.COST: 12.0}
    )
    campaigns = pd.DataFrame(
        {
            s.CAMPAIGN_ID: ["A1", "R1"],
            s.COST: [200.0, 5000.0],
            s.START_DATE: pd.to_datetime(["2024-01-01", "2024-06-01"]),
            s.END_DATE: pd.to_datetime(["2024-12-31", "2024-06-30"]),
            s.OBJECTIVE: ["acquisition", "retention"],
        }
    )
    pipe = _pipeline()
    got = pf.new_customer_economics(pipe, tx, campaigns)
    value = 8.0 + pipe.new_customer_value()  # first order margin 20 - 12, then repeat purchases
    assert got.value == pytest.approx(value)
    assert got.ratio == pytest.approx(value / (200.0 / 4))  # retention spend not counted
    unknown = pf.new_customer_economics(pipe, tx, campaigns.drop(columns=s.OBJECTIVE))
    assert unknown.ratio is None and unknown.reason.endswith(".")


@pytest.mark.slow
def test_offer_values_on_the_sample_sum_far_below_the_bases_clv():
    data = datasets.load(None)
    tx = data.transactions
    summary = customer_summary(tx, as_of=data.as_of, time_unit="W")
    serve = clv.cost_per_order(profitability.customer_profitability(data))
    pipe = clv.CLVPipeline().fit(summary, cost_per_order=serve)
    base = pipe.clv(summary).clip(lower=0).sum()
    table = uplift.campaign_uplift(
        uplift.campaign_groups(tx, data.tables["interactions"], data.tables["campaigns"])
    )
    measured = uplift.pooled_uplift(table)
    offers = idic.next_best_offers(
        tx, data.tables["products"], p_alive=pipe.p_active(summary), measured_uplift=measured[0]
    )
    assert len(offers) and (offers[idic.NET_GAIN] > 0).all()
    assert offers[idic.NET_GAIN].sum() < 0.05 * base
    # no offer to a customer the model thinks is surely gone
    alive = pipe.p_active(summary)
    assert np.all(alive.reindex(offers[s.CUSTOMER_ID]).to_numpy() > 0.01)
