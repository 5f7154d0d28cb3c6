"""crmlib.models.foundations: the model chooser and the first look at the data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from crmlib import plots
from crmlib.data import schema as s
from crmlib.errors import CRMError
from crmlib.models import foundations
from crmlib.models.foundations import ClientProfile, customers_over_time


def _tx(revenue_by_customer: dict[str, list[float]], dates=None):
    rows = []
    for cid, values in revenue_by_customer.items():
        for i, v in enumerate(values):
            rows.append((cid, pd.Timestamp("2024-01-01") + pd.Timedelta(days=31 * i), v))
    return pd.DataFrame(rows, columns=[s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE])


def test_customers_over_time_counts_new_and_active():
    # a buys in Jan and Feb, b in Feb only; a return in March is not a purchase
    tx = _tx({"a": [10, 10, -5], "b": []})
    tx.loc[len(tx)] = ["b", pd.Timestamp("2024-02-10"), 7.0]
    counts = customers_over_time(tx)
    assert counts["new"].tolist() == [1, 1]
    assert counts["active"].tolist() == [1, 2]
    ax = plots.plot_customers_over_time(counts)
    assert len(ax.patches) == 2


@pytest.mark.parametrize(
    "profile, expected",
    [
        (ClientProfile(0.85, needs_complexity=2, channel_inconsistency=2), "CRM value chain"),
        (ClientProfile(0.35, needs_complexity=5, channel_inconsistency=2), "IDIC"),
        (ClientProfile(0.35, needs_complexity=2, wants_diagnostic=True), "QCi"),
        (ClientProfile(0.35, needs_complexity=2, channel_inconsistency=5), "Payne & Frow"),
    ],
)
def test_choose_model_follows_the_rule_of_thumb(profile, expected):
    rec = foundations.choose_model(profile)
    assert rec.model == expected
    assert rec.scores.index[0] == expected
    assert set(rec.reasons) == {"IDIC", "QCi", "CRM value chain", "Payne & Frow"}
    assert expected in rec.explain().splitlines()[0]


def test_choose_model_reasons_quote_the_signal():
    rec = foundations.choose_model(ClientProfile(0.65, needs_complexity=2, channel_inconsistency=2))
    assert "65.0 % of revenue" in rec.reasons["CRM value chain"]
    assert rec.scores["CRM value chain"] == pytest.approx((0.65 - 0.2) / 0.6)
    assert rec.scores["IDIC"] == pytest.approx(0.25)
    assert foundations.choose_model(ClientProfile(0.95)).scores["CRM value chain"] == 1.0  # clipped


@pytest.mark.parametrize(
    "kwargs", [{"top20_revenue_share": 1.5}, {"top20_revenue_share": 0.5, "needs_complexity": 7}]
)
def test_profile_rejects_out_of_range_answers(kwargs):
    with pytest.raises(CRMError):
        ClientProfile(**kwargs)


def test_default_weights_keep_the_rule_of_thumb_and_weights_change_the_ranking():
    profile = ClientProfile(0.8, needs_complexity=4, channel_inconsistency=2)
    # signals: value chain (0.8 - 0.2) / 0.6 = 1, IDIC (4 - 1) / 4 = 0.75, QCi 0.25,
    # Payne & Frow (2 - 1) / 4 = 0.25
    default = foundations.choose_model(profile)
    assert default.model == "CRM value chain"
    assert default.scores.to_dict() == pytest.approx(
        {"CRM value chain": 1.0, "IDIC": 0.75, "QCi": 0.25, "Payne & Frow": 0.25}
    )
    assert foundations.choose_model(profile, foundations.DEFAULT_WEIGHTS).scores.equals(
        default.scores
    )
    # IDIC's signal weighted 2: 1.5 beats 0.75
    heavier = foundations.choose_model(profile, {"IDIC": 2})
    assert heavier.model == "IDIC"
    assert heavier.scores["IDIC"] == pytest.approx(1.5)
    assert heavier.scores["CRM value chain"] == pytest.approx(1.0)  # unnamed: weight 1
    # weight 0 takes a model out of the running; QCi and Payne & Frow tie at 0.25 and
    # the tie goes to the order of the signals (QCi before Payne & Frow)
    assert foundations.choose_model(profile, {"CRM value chain": 0, "IDIC": 0}).model == "QCi"


@pytest.mark.parametrize(
    "weights, message",
    [
        ({"Porter": 1}, "not one of the models"),
        ({"IDIC": -1}, "0 or more"),
        ({"IDIC": "high"}, "0 or more"),
        ({m: 0 for m in foundations.DEFAULT_WEIGHTS}, "above 0"),
        ([1, 1, 1, 1], "mapping"),
    ],
)
def test_choose_model_rejects_bad_weights(weights, message):
    with pytest.raises(CRMError, match=message):
        foundations.choose_model(ClientProfile(0.5), weights)


def test_lifecycle_names_the_departments_and_every_value_chain_stage():
    from crmlib.models import value_chain

    ax = plots.plot_lifecycle()
    text = " ".join(t.get_text() for t in ax.texts)
    for department in ("MARKETING", "SALES", "OPERATIONS"):
        assert department in text
    for stage in value_chain.STAGES:  # lesson 03's stages, by their names there
        assert stage in text
    arrows = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    assert len(arrows) == 3  # marketing -> sales -> operations -> marketing
