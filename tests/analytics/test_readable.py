import numpy as np
import pandas as pd

from crmlib.analytics.readable import readable


def test_names_in_words_and_values_formatted_absent_as_na():
    frame = pd.DataFrame(
        {
            "unit_cost": [1234.0, 0.4567, np.nan],
            "last_seen": [pd.Timestamp("2024-03-05"), pd.NaT, pd.Timestamp("2024-01-01")],
            "nps": [None, "x", "y"],
        },
        index=pd.Index(["a_b", "c", "d"], name="cost_driver"),
    )
    shown = readable(frame, labels={"nps": "NPS"})
    assert list(shown.columns) == ["unit cost", "last seen", "NPS"]
    assert shown.index.name == "cost driver" and list(shown.index) == ["a b", "c", "d"]
    assert shown["unit cost"].tolist() == ["1,234", "0.46", "n/a"]
    assert shown["last seen"].tolist() == ["2024-03-05", "n/a", "2024-01-01"]
    assert shown["NPS"].tolist() == ["n/a", "x", "y"]
