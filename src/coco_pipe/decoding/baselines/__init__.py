"""Classical BCI baselines, one module per family, listed in :data:`BASELINES`.

Each baseline is one scikit-learn estimator that takes 3-D epochs
``(n_windows, n_channels, n_times)``, as an array or an ``mne.Epochs``, and has **flat**
constructor parameters, so every knob is addressable from ``ClassicalModelConfig.params``
and from an Optuna search space. The estimator builds its internal
:class:`~sklearn.pipeline.Pipeline` in ``fit`` (stored as ``pipeline_``); nothing is
learned in ``__init__``, and a method called before ``fit`` raises scikit-learn's
``NotFittedError``.

Modules (registry names in :data:`BASELINES`, read by :mod:`coco_pipe.decoding.registry`):

- :mod:`.checks`: input and parameter checks, the shared ``check_data_info`` hook;
- :mod:`.epochs_pipeline`: the shared fit/predict surface of the pipeline baselines;
- :mod:`.filters`: :class:`BandPassFilter`, :class:`FilterBankSignal` (stateless);
- :mod:`.band_power`: :class:`BandPower` (stateless), ``BandPower_LR``
  (:class:`BandPowerLinear`), ``BandPower_Ridge`` (:class:`BandPowerRidge`, regression);
- :mod:`.csp`: ``CSP_LDA`` (:class:`CSPLDA`), ``FBCSP`` (:class:`FilterBankCSP`);
- :mod:`.riemann`: ``TangentSpace_LR`` (:class:`TangentSpaceLR`);
- :mod:`.ssvep_tangent_space`: ``FilterBankTS_LR`` (:class:`FilterBankTangentSpaceLR`);
- :mod:`.ssvep_cca`: ``SSVEP_CCA`` (:class:`SSVEPCCA`);
- :mod:`.erp`: ``XdawnTS_LR`` (:class:`XdawnTangentSpaceLR`);
- :mod:`.table`: :data:`BASELINES`.

Sampling frequency: the baselines that filter need ``sfreq``. Its default ``None``
means "take it from the data": from an ``mne.Epochs`` given as ``X``, or set by the
experiment from the validated input before fitting. A baseline that must filter with
neither raises a ``ValueError`` saying so.

All numerical work (filtering, covariances) runs in float64, whatever the input dtype.
The stateless steps (filtering, band power) act on each window alone and learn nothing,
so they cannot leak information across the train/test split.

Examples
--------
>>> from coco_pipe.decoding.baselines import BASELINES, CSPLDA
>>> [name for name, *_ in BASELINES][:2]
['CSP_LDA', 'TangentSpace_LR']
"""

from .band_power import DEFAULT_POWER_BANDS, BandPower, BandPowerLinear, BandPowerRidge
from .csp import CSPLDA, DEFAULT_FBCSP_BANDS, FilterBankCSP
from .erp import XdawnTangentSpaceLR
from .filters import BandPassFilter, FilterBankSignal
from .riemann import TangentSpaceLR
from .ssvep_cca import SSVEPCCA
from .ssvep_tangent_space import FilterBankTangentSpaceLR
from .table import BASELINES

__all__ = [
    "BASELINES",
    "DEFAULT_FBCSP_BANDS",
    "DEFAULT_POWER_BANDS",
    "BandPassFilter",
    "FilterBankSignal",
    "BandPower",
    "CSPLDA",
    "TangentSpaceLR",
    "FilterBankCSP",
    "BandPowerLinear",
    "BandPowerRidge",
    "FilterBankTangentSpaceLR",
    "SSVEPCCA",
    "XdawnTangentSpaceLR",
]
