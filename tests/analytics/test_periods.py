"""crmlib.analytics.periods: partial periods and left-censored panels, on data made for the purpose."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib.analytics import periods
from crmlib.data import schema as s
from crmlib.errors import CRMError

P = pd.Period


def orders(rows) -> pd.DataFrame:
    """(customer, day[, revenue]) rows as transactions."""
    frame = pd.DataFrame(
        [(c, pd.Timestamp(d), *(r or [10.0])) for c, d, *r in rows],
        columns=[s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE],
    )
    return frame


def test_a_last_month_of_one_day_is_partial():
    tx = orders([("A", "2017-01-01"), ("B", "2017-06-10"), ("A", "2018-01-01")])
    cov = periods.period_coverage(tx, "M")
    assert cov.partial == (P("2018-01", "M"),)
    assert cov.days_covered(P("2018-01", "M")) == 1
    assert cov.sentence() == (
        "January 2018 (1 of its 31 days, 2018-01-01) is only partly in the data, so the "
        "per-month charts and rates leave it out."
    )


def test_a_first_month_that_starts_late_and_a_whole_year():
    late = periods.period_coverage(orders([("A", "2016-12-15"), ("A", "2017-12-31")]), "M")
    assert late.partial == (P("2016-12", "M"),)
    assert late.days_covered(P("2016-12", "M")) == 17
    assert "December 2016 (17 of its 31 days, 2016-12-15 to 2016-12-31)" in late.sentence()
    whole = periods.period_coverage(orders([("A", "2017-01-01"), ("B", "2017-12-31")]), "M")
    assert whole.partial == () and whole.sentence() == ""
    # as_of later than the last order: December is then not over
    assert periods.period_coverage(
        orders([("A", "2017-01-01"), ("B", "2017-12-20")]), "M", as_of="2017-12-20"
    ).partial == (P("2017-12", "M"),)


def test_both_ends_partial_by_quarter_and_by_week():
    tx = orders([("A", "2017-02-01"), ("B", "2018-01-01")])
    quarters = periods.period_coverage(tx, "Q")
    assert quarters.partial == (P("2017Q1", "Q"), P("2018Q1", "Q"))
    assert quarters.days_covered(P("2017Q1", "Q")) == 59  # February and March
    assert quarters.days_covered(P("2018Q1", "Q")) == 1
    assert "are only partly in the data" in quarters.sentence()
    weeks = periods.period_coverage(orders([("A", "2017-01-04"), ("B", "2017-01-29")]), "W")
    assert weeks.partial == (P("2017-01-02", "W"),)  # Wednesday to Sunday: 5 of 7 days
    assert weeks.days_covered(weeks.partial[0]) == 5
    assert "the week of 2017-01-02 (5 of its 7 days" in weeks.sentence()


def test_complete_leaves_out_the_rows_of_partial_periods():
    cov = periods.PeriodCoverage.from_dates("2016-12-15", "2018-01-01", "M")
    index = pd.date_range("2016-12-01", "2018-01-01", freq="MS")
    frame = pd.DataFrame({"new": np.arange(len(index))}, index=index)
    kept = cov.complete(frame)
    assert kept.index[0] == pd.Timestamp("2017-01-01")
    assert kept.index[-1] == pd.Timestamp("2017-12-01")
    assert len(kept) == 12


def test_bad_frequency_and_dates():
    with pytest.raises(CRMError, match="freq must be"):
        periods.PeriodCoverage.from_dates("2017-01-01", "2017-02-01", "fortnight")
    with pytest.raises(CRMError, match="end"):
        periods.PeriodCoverage.from_dates("2017-02-01", "2017-01-01", "M")


# --- left censoring --------------------------------------------------------------


def panel(existing: int, new_per_month: int, months: int = 12, start="2017-01-01"):
    """An extract of a running business: `existing` customers all buy in the first month
    (and again later); `new_per_month` newcomers arrive in each month."""
    rows = []
    first = pd.Timestamp(start)
    for i in range(existing):
        rows.append((f"E{i}", first + pd.Timedelta(days=i % 28)))
        rows.append((f"E{i}", first + pd.DateOffset(months=1 + i % (months - 1))))
    for m in range(months):
        for j in range(new_per_month):
            rows.append((f"N{m}-{j}", first + pd.DateOffset(months=m) + pd.Timedelta(days=j % 28)))
    return orders(rows)


def test_a_panel_that_starts_when_the_data_start_is_flagged():
    # 200 households already buying when the extract starts, 10 newcomers a month
    result = periods.left_censoring(panel(existing=200, new_per_month=10), "M")
    assert result.flagged
    assert result.opening == (P("2017-01", "M"),)
    assert (result.customers, result.opening_new) == (320, 210)
    assert result.share == pytest.approx(210 / 320)
    assert result.later_median == 10 and result.ratio == pytest.approx(21)
    assert result.sentence().startswith(
        "210 of the 320 customers (66%) first appear in January 2017, 21 times as many as "
        "in a typical later month: most of them were customers before the data start"
    )
    assert "cannot be measured" in result.sentence()


def test_the_ratio_alone_flags_a_long_extract():
    # five years: the first month holds a quarter of the customers, 21 times a later month
    result = periods.left_censoring(panel(existing=100, new_per_month=5, months=60), "M")
    assert result.share == pytest.approx(105 / 400)
    assert result.ratio == pytest.approx(105 / 5) and result.flagged


def test_a_steady_business_is_not_flagged():
    result = periods.left_censoring(panel(existing=0, new_per_month=20), "M")
    assert not result.flagged and result.sentence() == ""
    assert result.ratio == pytest.approx(1.0)
    # a seasonal peak three times the usual month is not censoring either
    peak = panel(existing=40, new_per_month=20)
    assert not periods.left_censoring(peak, "M").flagged


def test_an_acquisition_cohort_is_not_flagged():
    # like CDNOW: customers new in the first three months only, repeat buying later
    rows = [(f"C{m}-{j}", f"2017-0{m + 1}-{j % 28 + 1:02d}") for m in range(3) for j in range(50)]
    rows += [(f"C0-{j}", "2017-09-10") for j in range(20)]
    result = periods.left_censoring(orders(rows), "M")
    assert result.later_median == 50 and result.ratio == pytest.approx(1.0)
    assert result.share == pytest.approx(1 / 3) and not result.flagged


def test_a_partial_first_period_opens_with_the_next_one():
    tx = panel(existing=0, new_per_month=20, start="2017-01-20")
    result = periods.left_censoring(tx, "M")
    assert result.opening == (P("2017-01", "M"), P("2017-02", "M"))
    assert not result.flagged


def test_returns_do_not_make_a_customer():
    tx = panel(existing=0, new_per_month=20)
    refund = orders([("R1", "2017-03-05", -5.0)])
    assert periods.left_censoring(pd.concat([tx, refund]), "M").customers == 240


@pytest.mark.parametrize("name", ["sample", "cdnow"])
def test_the_bundled_data_are_not_left_censored(name):
    from crmlib.data import datasets

    data = datasets.load(name)
    result = periods.left_censoring(data.transactions, "M", as_of=data.as_of)
    assert not result.flagged, result
    assert periods.period_coverage(data.transactions, "M", as_of=data.as_of).partial == ()


def test_customers_over_time_marks_the_opening_period():
    from matplotlib.figure import Figure

    from crmlib.models.foundations import customers_over_time
    from crmlib.plots import plot_customers_over_time

    counts = customers_over_time(panel(existing=200, new_per_month=10))
    ax = plot_customers_over_time(counts, ax=Figure().add_subplot(), already_customers=True)
    handles, labels = ax.get_legend_handles_labels()
    marked = handles[labels.index("already customers when the data start")]
    assert [bar.get_height() for bar in marked] == [210]  # the first month only
    assert [bar.get_height() for bar in handles[labels.index("new")]] == [10] * 11
