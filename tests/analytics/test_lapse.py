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
