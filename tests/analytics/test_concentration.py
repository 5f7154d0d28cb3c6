"""The one top-k rule and the one concentration curve (crmlib.analytics.concentration)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib import plots
from crmlib.analytics import concentration
from crmlib.data import schema as s
from crmlib.errors import CRMError
from crmlib.plots.foundations import LORENZ_POINTS


def _tx(revenue_by_customer: dict[str, list[float]]):
    rows = []
    for cid, values in revenue_by_customer.items():
        for i, v in enumerate(values):
            rows.append((cid, pd.Timestamp("2024-01-01") + pd.Timedelta(days=31 * i), v))
    return pd.DataFrame(rows, columns=[s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE])


@pytest.mark.parametrize(
    "n, share, expected",
    [
        (10, 0.2, 2),  # exact
        (11, 0.2, 3),  # 2.2 -> 3: at least 20 % of the customers
        (4, 0.2, 1),  # 0.8 -> 1: never an empty top group
        (10, 0.3, 3),  # 0.3 x 10 is 3.0000000000000004 in floating point: still 3
        (5000, 0.2, 1000),
        (7, 1.0, 7),
    ],
)
def test_top_count_is_the_ceiling_of_share_times_n(n, share, expected):
    assert concentration.top_count(n, share) == expected


def test_top_mask_marks_exactly_the_top_count_with_ties_in_index_order():
    values = pd.Series([5.0, 9.0, 5.0, 1.0, 5.0], index=list("abcde"))
    mask = concentration.top_mask(values, 0.4)  # ceil(2.0) = 2: b (9), then a (first 5)
    assert mask[mask].index.tolist() == ["a", "b"]
    with pytest.raises(CRMError, match="top share"):
        concentration.top_count(10, 0)


def test_the_headline_group_is_the_group_behind_the_share():
    # 11 customers: the top 20 % is 3 customers, and the share is theirs
    values = pd.Series([100.0, 50.0, 25.0] + [5.0] * 8, index=[f"c{i}" for i in range(11)])
    share = concentration.top_share(values, 0.2)
    assert share == pytest.approx(175 / 215)
    assert values[concentration.top_mask(values, 0.2)].sum() / values.sum() == pytest.approx(share)


def test_revenue_concentration_hand_example():
    # 10 customers: one brings 910, nine bring 10 each: total 1000
    tx = _tx({"w": [900, 10], **{f"c{i}": [10] for i in range(9)}})
    assert concentration.revenue_concentration(tx, top=0.1) == pytest.approx(0.91)
    # top 20 % = 2 customers = 910 + 10
    assert concentration.revenue_concentration(tx, top=0.2) == pytest.approx(0.92)
    assert concentration.revenue_concentration(tx, top=1.0) == pytest.approx(1.0)
    even = _tx({f"c{i}": [10] for i in range(10)})
    assert concentration.revenue_concentration(even, 0.2) == pytest.approx(0.2)


def test_lorenz_curve_and_its_plot():
    tx = _tx({"a": [60], "b": [30], "c": [10]})
    curve = concentration.revenue_curve(tx)
    np.testing.assert_allclose(curve[concentration.VALUE_SHARE], [0, 0.6, 0.9, 1.0])
    ax = plots.plot_lorenz_curve(curve)
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), [0, 0.6, 0.9, 1.0])


def test_a_long_lorenz_curve_is_drawn_through_fewer_points_on_the_curve():
    # 100,000 customers, customer i bringing i + 1: the curve is known at every point
    n = 100_000
    revenue = np.arange(n, 0, -1, dtype=float)
    share = np.r_[0.0, np.cumsum(revenue) / revenue.sum()]
    curve = pd.DataFrame(
        {concentration.CUSTOMER_SHARE: np.arange(n + 1) / n, concentration.VALUE_SHARE: share}
    )
    line = plots.plot_lorenz_curve(curve).get_lines()[0]
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    assert len(x) == LORENZ_POINTS
    assert (x[0], y[0], x[-1], y[-1]) == (0.0, 0.0, 1.0, 1.0)
    # every point drawn lies on the curve: y = 1 - (1 - x)^2 here, up to the step 1/n
    np.testing.assert_allclose(y, 1 - (1 - x) ** 2, atol=2 / n)
    assert np.all(np.diff(x) > 0)
