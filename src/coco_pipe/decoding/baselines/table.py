"""The baselines table read by :mod:`coco_pipe.decoding.registry` (pure data)."""

from __future__ import annotations

from .band_power import BandPowerLinear, BandPowerRidge
from .csp import CSPLDA, FilterBankCSP
from .riemann import TangentSpaceLR

__all__ = ["BASELINES"]

#: (registry name, estimator class, tasks, description): read by
#: :mod:`coco_pipe.decoding.registry`; the baselines never import the registry.
BASELINES: tuple[tuple[str, type, tuple[str, ...], str], ...] = (
    ("CSP_LDA", CSPLDA, ("classification",),
     "Band-pass 8-30 Hz, MNE CSP (log-variance), shrinkage LDA."),
    ("TangentSpace_LR", TangentSpaceLR, ("classification",),
     "Band-pass, OAS covariances, Riemannian tangent space, logistic regression."),
    ("FBCSP", FilterBankCSP, ("classification",),
     "Filter bank 4-32 Hz, CSP per band, mutual-information selection, LDA."),
    ("BandPower_LR", BandPowerLinear, ("classification",),
     "Welch log band power per channel, standardised, logistic regression."),
    ("BandPower_Ridge", BandPowerRidge, ("regression",),
     "Welch log band power per channel, standardised, ridge regression."),
)  # fmt: skip
