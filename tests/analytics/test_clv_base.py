"""The one base of the maximum-likelihood CLV models: settings and known parameters."""

from __future__ import annotations

import pytest

from crmlib.analytics.clv import BetaGeo, BetaGeoBetaBinom, GammaGamma, ParetoNBD, ShiftedBetaGeo
from crmlib.errors import CRMError


@pytest.mark.parametrize(
    ("model", "tol", "penalized"),
    [
        (BetaGeo, 1e-7, True),
        (ParetoNBD, 1e-7, True),
        (GammaGamma, 1e-7, True),
        (BetaGeoBetaBinom, 1e-8, False),
        (ShiftedBetaGeo, 1e-8, False),
    ],
)
def test_settings_and_their_defaults(model, tol, penalized):
    default = model()
    assert (default.tol, default.maxiter) == (tol, 1000)
    assert hasattr(default, "penalizer") is penalized
    if penalized:
        assert default.penalizer == 0.0
        set_ = model(penalizer=0.5, tol=1e-5, maxiter=20)
        assert (set_.penalizer, set_.tol, set_.maxiter) == (0.5, 1e-5, 20)
    else:
        set_ = model(tol=1e-5, maxiter=20)
        assert (set_.tol, set_.maxiter) == (1e-5, 20)
    assert GammaGamma(correlation_threshold=0.5).correlation_threshold == 0.5


def test_from_params_by_position_by_name_or_both():
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert BetaGeo.from_params(0.243, 4.414, 0.793, 2.426).params_ == published
    assert BetaGeo.from_params(**published).params_ == published
    assert BetaGeo.from_params(0.243, 4.414, a=0.793, b=2.426).params_ == published
    assert ShiftedBetaGeo.from_params(alpha=0.704, beta=1.182).params_ == {
        "alpha": 0.704,
        "beta": 1.182,
    }
    for bad, message in [
        (lambda: BetaGeo.from_params(0.2, 4.0, 0.8), "missing: b"),
        (lambda: BetaGeo.from_params(0.2, 4.0, 0.8, 2.0, 1.0), "has 4 parameters"),
        (lambda: BetaGeo.from_params(0.2, 4.0, 0.8, b=2.0, s=1.0), "unknown: s"),
        (lambda: BetaGeo.from_params(0.2, 4.0, 0.8, 2.0, r=1.0), "given twice: r"),
        (lambda: ParetoNBD.from_params(r=-1, alpha=1, s=1, beta=1), "r must be a positive"),
        (lambda: GammaGamma.from_params(1.0, float("inf"), 1.0), "Gamma-Gamma parameter q"),
    ]:
        with pytest.raises(CRMError, match=message):
            bad()
