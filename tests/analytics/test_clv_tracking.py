"""The tracking chart of Fader, Hardie & Lee (2005a), figure 2, and the lesson's BTYD charts.

Hand-counted purchases on a few planted customers; on CDNOW, the published
calibration summary (2,457 repeat purchases by the end of week 39) and the
published BG/NBD parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from crmlib.analytics import clv
from crmlib.data import schema as s
from crmlib.data.datasets import load_cdnow_summary, load_cdnow_transactions
from crmlib.errors import CRMError, DataError
from crmlib.plots import clv as clv_plots

PUBLISHED_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


class _Age:
    """A stand-in purchase model whose E[X(t)] is t itself: the sum of the customers' ages."""

    def expected_purchases_new(self, t):
        return np.asarray(t, dtype=float)


def _planted() -> pd.DataFrame:
    """a: first buys day 0, again day 3, twice on day 10 (one occasion), returns on day 12;
    b: first buys day 8, again day 20; c: first buys day 16, after the calibration end."""
    day0 = pd.Timestamp("2024-01-01")
    rows = [
        ("a", 0, 10.0),
        ("a", 3, 5.0),
        ("a", 10, 5.0),
        ("a", 10, 7.0),
        ("a", 12, -5.0),
        ("b", 8, 4.0),
        ("b", 20, 6.0),
        ("c", 16, 3.0),
        ("c", 18, 3.0),
    ]
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: [r[0] for r in rows],
            s.ORDER_DATE: [day0 + pd.Timedelta(days=r[1]) for r in rows],
            s.REVENUE: [r[2] for r in rows],
        }
    )


def test_tracking_counts_repeat_occasions_and_sums_the_ages_by_hand():
    table = clv.cumulative_repeat_tracking(
        {"age": _Age()}, _planted(), "2024-01-21", calibration_end="2024-01-14"
    )
    # three whole weeks: days 0-6, 7-13, 14-20; c first bought after the calibration end
    assert table.index.tolist() == [1, 2, 3]
    # a's day 3 by week 1, a's day 10 by week 2 (the return is no purchase), b's day 20 by week 3
    assert table[clv.ACTUAL].tolist() == [1.0, 2.0, 3.0]
    # ages at the ends of days 6, 13, 20: a (6/7, 13/7, 20/7), b (0, 5/7, 12/7)
    np.testing.assert_allclose(table["age"], [6 / 7, 18 / 7, 32 / 7], rtol=1e-12)


def test_tracking_without_a_calibration_end_keeps_every_customer():
    table = clv.cumulative_repeat_tracking({"age": _Age()}, _planted(), "2024-01-21")
    assert table[clv.ACTUAL].tolist() == [1.0, 2.0, 4.0]  # c's day 18 in week 3
    np.testing.assert_allclose(table["age"], [6 / 7, 18 / 7, (20 + 12 + 4) / 7], rtol=1e-12)


def test_tracking_in_days_counts_day_by_day():
    table = clv.cumulative_repeat_tracking(
        {"age": _Age()}, _planted(), "2024-01-04", time_unit="D"
    )
    assert table.index.tolist() == [1, 2, 3, 4]
    assert table[clv.ACTUAL].tolist() == [0.0, 0.0, 0.0, 1.0]  # a's repeat purchase on day 3
    np.testing.assert_allclose(table["age"], [0.0, 1.0, 2.0, 3.0])


@pytest.fixture(scope="module")
def cdnow_tracking():
    model = clv.BetaGeo.from_params(**PUBLISHED_BG)
    table = clv.cumulative_repeat_tracking(
        {"BG/NBD": model},
        load_cdnow_transactions(),
        "1998-06-30",
        start="1997-01-01",
        calibration_end="1997-09-30",
    )
    return model, table


def test_cdnow_tracking_has_78_weeks_and_the_published_calibration_total(cdnow_tracking):
    _, table = cdnow_tracking
    assert table.index.tolist() == list(range(1, 79))
    # the published calibration summary: 2,457 repeat purchases by 1997-09-30 (end of week 39)
    assert table.loc[39, clv.ACTUAL] == load_cdnow_summary()[s.FREQUENCY].sum() == 2457
    assert table[clv.ACTUAL].is_monotonic_increasing


def test_cdnow_model_line_is_the_sum_of_the_unconditional_expectations(cdnow_tracking):
    model, table = cdnow_tracking
    published = load_cdnow_summary()
    # at the end of week 39 each customer is exactly T old (the summary's T, rounded to 0.01)
    expected = model.expected_purchases_new(published[s.T].to_numpy()).sum()
    assert table.loc[39, "BG/NBD"] == pytest.approx(expected, rel=1e-3)


def test_tracking_refuses_bad_input():
    with pytest.raises(CRMError):
        clv.cumulative_repeat_tracking({}, _planted(), "2024-01-21", time_unit="M")
    with pytest.raises(CRMError):
        clv.cumulative_repeat_tracking({}, _planted(), "2023-12-01")
    with pytest.raises(DataError):
        clv.cumulative_repeat_tracking({}, _planted().drop(columns=[s.REVENUE]), "2024-01-21")


# --- charts -----------------------------------------------------------------------------


def test_tracking_chart_draws_actual_and_each_model_with_the_calibration_mark():
    table = clv.cumulative_repeat_tracking(
        {"age": _Age(), "twice": _Twice()}, _planted(), "2024-01-21"
    )
    ax = Figure().add_subplot()
    assert clv_plots.plot_tracking(table, calibration_end=2, unit="weeks", ax=ax) is ax
    np.testing.assert_allclose(ax.lines[0].get_ydata(), table[clv.ACTUAL])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), table["age"])
    np.testing.assert_allclose(ax.lines[2].get_ydata(), table["twice"])
    assert ax.lines[3].get_xdata()[0] == 2  # the end of calibration
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["actual", "age", "twice"]


class _Twice(_Age):
    def expected_purchases_new(self, t):
        return 2 * np.asarray(t, dtype=float)


def test_conditional_expectations_chart_draws_one_line_per_model():
    summary = load_cdnow_summary().set_index(s.CUSTOMER_ID)
    split = summary.assign(**{clv.FREQUENCY_HOLDOUT: 1.0, clv.DURATION_HOLDOUT: 39.0})
    bg = clv.BetaGeo.from_params(**PUBLISHED_BG)
    pnbd = clv.ParetoNBD.from_params(r=0.5533, alpha=10.5776, s=0.6061, beta=11.6650)
    metrics = {name: clv.holdout_metrics(m, split) for name, m in {"BG": bg, "P": pnbd}.items()}
    ax = clv_plots.plot_calibration_holdout(metrics, unit="weeks")
    assert [line.get_label() for line in ax.lines] == ["actual", "BG", "P"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 1.0)
    np.testing.assert_allclose(ax.lines[2].get_ydata(), metrics["P"].by_frequency[clv.PREDICTED])


def test_colour_bar_names_a_whole_horizon_in_weeks():
    model = clv.BetaGeo.from_params(**PUBLISHED_BG)
    ax = Figure().add_subplot()
    clv_plots.plot_frequency_recency_matrix(model, T=39, t=4, unit="weeks", ax=ax)
    colourbar = ax.figure.axes[-1]
    assert colourbar.get_ylabel() == "expected purchases in the next 4 weeks"
    assert ax.get_title(loc="left") == "Expected purchases, customers 39 weeks old"


def test_clv_histogram_spreads_skewed_values_over_log_bins_with_a_money_axis():
    values = pd.Series([-20.0, 0.5, 3.0, 30.0, 300.0, 3000.0])
    ax = Figure().add_subplot()
    clv_plots.plot_clv_distribution(values, bins=6, currency="EUR", ax=ax)
    assert ax.get_xscale() == "symlog"
    counts = [patch.get_height() for patch in ax.patches]
    # on a linear axis five of six values would share the first bins; here each has its own
    assert counts == [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert ax.xaxis.get_major_formatter()(3000.0, None) == "€3,000"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["mean €552", "median €16"]


def test_rfm_money_heat_map_shows_the_currency_and_no_grid_through_the_cells():
    from crmlib.models import idic
    from crmlib.plots import idic as idic_plots

    rfm = pd.DataFrame(
        {idic.R_SCORE: [1, 2, 2], idic.F_SCORE: [1, 2, 2], idic.MONETARY: [10.0, 30.0, 50.0]}
    )
    ax = idic_plots.plot_rfm_heatmap(rfm, value=idic.MONETARY, bins=2, currency="EUR")
    assert sorted(t.get_text() for t in ax.texts if t.get_text()) == ["€10", "€40"]
    colourbar = ax.images[0].colorbar.ax
    assert colourbar.get_ylabel() == "mean net revenue"
    assert colourbar.yaxis.get_major_formatter()(1500.0, None) == "€1,500"
    assert not any(line.get_visible() for line in ax.get_xgridlines() + ax.get_ygridlines())


def test_channel_response_axis_is_in_percent_with_room_for_the_labels():
    from crmlib.models import idic
    from crmlib.plots import idic as idic_plots

    responses = pd.DataFrame(
        {s.CHANNEL: ["email", "email", "sms", "sms"], idic.SUCCESS: [True, False, False, False]}
    )
    rates = idic.response_rates(responses, s.CHANNEL)
    ax = idic_plots.plot_channel_response(rates)
    assert isinstance(ax.yaxis.get_major_formatter(), PercentFormatter)
    assert ax.yaxis.get_major_formatter().xmax == 1.0  # a rate of 0.25 reads 25 %
    assert ax.get_ylim()[1] == pytest.approx(rates[idic.UPPER].max() * 1.15)
