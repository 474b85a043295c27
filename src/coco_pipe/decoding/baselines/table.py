"""The baselines table read by :mod:`coco_pipe.decoding.registry` (pure data)."""

from __future__ import annotations

from .band_power import BandPowerLinear, BandPowerRidge
from .csp import CSPLDA, FilterBankCSP
from .erp import XdawnTangentSpaceLR
from .riemann import TangentSpaceLR
from .ssvep_cca import SSVEPCCA
from .ssvep_tangent_space import FilterBankTangentSpaceLR

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
    ("FilterBankTS_LR", FilterBankTangentSpaceLR, ("classification",),
     "SSVEP: band-pass per stimulus band, covariance of the stacked signal, tangent "
     "space, logistic regression (MOABB's SSVEP_TS+LR)."),
    ("SSVEP_CCA", SSVEPCCA, ("classification",),
     "SSVEP: canonical correlation with sine/cosine references at each stimulus "
     "frequency and its harmonics (MOABB's SSVEP_CCA)."),
    ("XdawnTS_LR", XdawnTangentSpaceLR, ("classification",),
     "ERP: xDAWN covariances, Riemannian tangent space, logistic regression."),
)  # fmt: skip
