"""One lapse rule (crmlib.analytics.lapse), used by QCi's churn and the value chain's lifecycle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib.analytics import lapse
from crmlib.data import schema as s
from crmlib.errors import CRMError
from crmlib.models import qci
from crmlib.models import value_chain as vc

AS_OF = pd.Timestamp("2024-12-31")
# last purchases 10, 100, 180, 181 and 400 days before the as-of date; first ones long before
LAST = {"a": 10, "b": 100, "c": 180, "d": 181, "e": 400}
TX = pd.DataFrame(
    [(c, AS_OF - pd.Timedelta(days=700), 5.0) for c in LAST]
    + [(c, AS_OF - pd.Timedelta(days=d), 5.0) for c, d in LAST.items()],
    columns=[s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE],
)
LAPSED = {"d", "e"}  # more than 180 days: 181 and 400; exactly 180 is not lapsed


def test_the_rule_by_hand():
    days = pd.Series(LAST)
    assert set(days[lapse.is_lapsed(days)].index) == LAPSED
    np.testing.assert_array_equal(lapse.is_lapsed([180, 181], after=180), [False, True])
    with pytest.raises(CRMError, match="whole number"):
        lapse.check_days(1.5)


def test_qci_churn_and_the_value_chain_lifecycle_agree_on_who_has_lapsed():
    churned = qci.churn_status(TX, as_of=AS_OF)[qci.CHURNED]
    assert set(churned[churned].index) == LAPSED
    stages = vc.lifecycle_stages(TX, at=AS_OF)
    assert set(stages[stages == vc.LAPSED].index) == LAPSED
    assert set(stages[stages == vc.AT_RISK].index) == {"b", "c"}  # 90 < days <= 180


def _two_purchases(gaps: dict[str, int]) -> pd.DataFrame:
    rows = []
    for customer, gap in gaps.items():
        rows += [(customer, AS_OF - pd.Timedelta(days=500), 5.0)]
        rows += [(customer, AS_OF - pd.Timedelta(days=500 - gap), 5.0)]
    return pd.DataFrame(rows, columns=[s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE])


def test_the_default_rule_is_derived_from_the_gaps_between_purchases():
    # 95 repeat gaps of 30 days and 5 of 200: 90 % of the gaps are at most 30 days
    gaps = {f"c{i}": 30 for i in range(95)} | {f"s{i}": 200 for i in range(5)}
    rule = lapse.lapse_rule(_two_purchases(gaps), as_of=AS_OF)
    assert (rule.days, rule.basis, rule.gaps) == (30, "data", 100)
    assert "more than 30 days" in rule.sentence() and "100 gaps" in rule.sentence()
    # 80 gaps of 10 days and 20 of 45: the 90 % quantile lies in the long ones
    gaps = {f"c{i}": 10 for i in range(80)} | {f"s{i}": 45 for i in range(20)}
    assert lapse.lapse_rule(_two_purchases(gaps), as_of=AS_OF).days == 45


def test_a_client_rule_and_the_fallback():
    tx = _two_purchases({f"c{i}": 30 for i in range(10)})  # 10 gaps: too few to derive a rule
    rule = lapse.lapse_rule(tx, as_of=AS_OF)
    assert (rule.days, rule.basis) == (lapse.LAPSED_AFTER_DAYS, "default")
    assert lapse.lapse_rule(tx, days=120).days == 120
    assert lapse.lapse_rule(tx, days=120).basis == "parameter"
    with pytest.raises(CRMError, match="lapsed_days"):
        lapse.lapse_rule(tx, days=0)


def test_purchase_days_merge_a_day_and_leave_out_returns_and_later_days():
    tx = pd.DataFrame(
        {
            s.CUSTOMER_ID: ["a", "a", "a", "a", "a"],
            s.ORDER_DATE: pd.to_datetime(
                ["2024-01-01 09:00", "2024-01-01 17:00", "2024-01-11 00:00", "2024-01-20 00:00", "2025-02-01 00:00"]
            ),
            s.REVENUE: [5.0, 5.0, 5.0, -5.0, 5.0],
        }
    )
    days = lapse.purchase_days(tx, as_of=AS_OF)
    assert days[s.ORDER_DATE].dt.strftime("%m-%d").tolist() == ["01-01", "01-11"]
    assert days[lapse.GAP].tolist()[1] == 10 and np.isnan(days[lapse.GAP].iloc[0])


def test_the_quantile_of_counted_gaps_is_numpys_on_the_gaps_written_out():
    rng = np.random.default_rng(7)
    for n in (1, 2, 7, 100, 5_001):
        gaps = rng.geometric(0.02, size=n)
        counts = pd.Series(gaps).value_counts().sort_index()
        for q in (0.0, 0.1, 0.5, 0.9, 0.95, 1.0):
            assert lapse._counted_quantile(counts, q) == pytest.approx(np.quantile(gaps, q), abs=1e-9)


def test_the_gaps_counted_in_sql_are_the_gaps_of_purchase_days(tmp_path):
    from crmlib.engines import Engine

    # planted: a buys on days 0, 10, 10 (one day), 40 and returns on 50; b on 0 and 30; c once
    start = AS_OF - pd.Timedelta(days=100)
    rows = [("a", 0, 5.0), ("a", 10, 5.0), ("a", 10, 2.0), ("a", 40, 5.0), ("a", 50, -5.0)]
    rows += [("b", 0, 5.0), ("b", 30, 5.0), ("c", 5, 5.0), ("b", 101, 5.0)]  # b's last: after as-of
    tx = pd.DataFrame(
        [(c, start + pd.Timedelta(days=d), r) for c, d, r in rows],
        columns=[s.CUSTOMER_ID, s.ORDER_DATE, s.REVENUE],
    )
    expected = {10: 1, 30: 2}  # a: 10 and 30; b: 30
    assert lapse.gap_counts(tx, as_of=AS_OF).to_dict() == expected
    with Engine("duckdb", tx) as eng:
        counted = eng.sql(lapse.gap_counts_query(eng, AS_OF))
    assert dict(zip(counted[lapse.GAP], counted[lapse.GAPS], strict=True)) == expected


def test_the_rule_from_every_customers_gap_counts_is_the_rule_from_their_rows():
    gaps = {f"c{i}": 10 for i in range(80)} | {f"s{i}": 45 for i in range(20)}
    tx = _two_purchases(gaps)
    counts = lapse.gap_counts(tx, as_of=AS_OF)
    # a sample of ten customers alone would fall back to the default; their gap counts do not
    sample = tx[tx[s.CUSTOMER_ID].isin([f"c{i}" for i in range(10)])]
    rule = lapse.lapse_rule(sample, as_of=AS_OF, gaps=counts)
    assert (rule.days, rule.basis, rule.gaps) == (45, "data", 100)
    assert lapse.lapse_rule(sample, as_of=AS_OF).basis == "default"
