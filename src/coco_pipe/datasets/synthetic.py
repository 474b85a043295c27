"""Synthetic motor-imagery EEG with a planted, documented class effect.

The data made here are **synthetic**: no recording of any person is involved. They
exist so that every part of coco-pipe (classical pipelines, foundation-model
backbones, cross-validation, tracking) can be run and tested offline on data whose
ground truth is known. See :func:`make_motor_imagery` for exactly what is planted.
"""

from __future__ import annotations

import logging
import numbers
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import fft as sp_fft

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_CH_NAMES", "CLASS_NAMES", "make_motor_imagery", "load_default"]

#: The 19 channels of the international 10-20 system (modern names T7/T8/P7/P8).
DEFAULT_CH_NAMES: tuple[str, ...] = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz",
    "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2",
)  # fmt: skip

#: Class names in label order: ``y == 0`` is ``left_hand``, ``1`` ``right_hand``, ``2`` ``feet``.
CLASS_NAMES: tuple[str, ...] = ("left_hand", "right_hand", "feet")

# --- the signal model, in microvolts and metres (documented in make_motor_imagery) ---
_BACKGROUND_UV = 11.0  # RMS of the spatially mixed 1/f background at a channel
_SENSOR_NOISE_UV = 1.0  # RMS of independent white sensor noise
_MU_UV = 10.0  # RMS of each sensorimotor mu source (at its own position)
_BETA_UV = 5.0  # RMS of each sensorimotor beta source
_POSTERIOR_ALPHA_UV = 6.0  # RMS of the (uninformative) posterior alpha source
_MU_CZ_SCALE = 0.6  # the midline (foot area) rhythm is weaker than the hand areas
_ERD_DEPTH = 0.6  # fractional drop of contralateral mu/beta amplitude at effect_size=1
_ERD_IPSI = 0.25  # ipsilateral ERD, as a fraction of the contralateral one
_MRCP_UV = 6.0  # peak of the slow negative potential at its source, effect_size=1
_MRCP_IPSI = 0.35  # ipsilateral MRCP, as a fraction of the contralateral one
_SOURCE_WIDTH_M = 0.035  # Gaussian spatial falloff (sigma) of the motor sources
_MIXING_WIDTH_M = 0.04  # Gaussian falloff of the background volume conduction
_N_BACKGROUND_SOURCES_PER_CH = 2
_MIN_SFREQ = 60.0  # the beta band (18-26 Hz) must lie below Nyquist
_MRCP_END_S = 3.4  # the slow potential returns to baseline around this time
# premotor/SMA-like sites of the slow potential (left, right, midline): anterior to the
# mu/beta sources, so that its power does not cancel the ERD in power-based pipelines
_MRCP_SITES = ("FC3", "FC4", "FCz")
_PINK_KNEE_HZ = 3.0  # the 1/f spectrum is flat below this frequency


def _montage_name() -> str:
    """Name of MNE's standard 10-20 montage (renamed ``colin27_1020`` in MNE 1.13)."""
    import mne

    builtin = mne.channels.get_builtin_montages()
    return "colin27_1020" if "colin27_1020" in builtin else "standard_1020"


def _make_montage():
    import mne

    return mne.channels.make_standard_montage(_montage_name())


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _spectral_noise(
    rng: np.random.Generator, shape: tuple[int, ...], amp: np.ndarray, n_times: int
) -> np.ndarray:
    """Gaussian noise with amplitude spectrum ``amp`` (broadcast on the last axis), unit variance.

    ``amp`` has ``n_times // 2 + 1`` bins (or a leading shape that broadcasts against
    ``shape``). The DC and Nyquist bins are zeroed; the output is scaled by the
    analytic variance so that its expected variance is 1 at every sample.
    """
    n_freqs = n_times // 2 + 1
    amp = np.array(amp, dtype=np.float64, copy=True)
    amp[..., 0] = 0.0
    if n_times % 2 == 0:
        amp[..., -1] = 0.0
    power = np.sum(amp**2, axis=-1, keepdims=True)
    scale = n_times / (2.0 * np.sqrt(np.maximum(power, 1e-30)))
    amp = (amp * scale).astype(np.float32)
    # real and imaginary parts interleaved: one draw, viewed as complex64
    z = rng.standard_normal((*shape, 2 * n_freqs), dtype=np.float32).view(np.complex64)
    z *= amp
    return sp_fft.irfft(z, n=n_times, axis=-1).astype(np.float32, copy=False)


def _gaussian_pattern(ch_pos: np.ndarray, src_pos: np.ndarray, width: float) -> np.ndarray:
    """Gaussian falloff with distance: (n_sources, n_channels), 1 at the source itself."""
    d2 = np.sum((src_pos[:, None, :] - ch_pos[None, :, :]) ** 2, axis=-1)
    return np.exp(-d2 / (2.0 * width**2))


def _validate(
    n_subjects: Any,
    n_epochs_per_class: Any,
    sfreq: Any,
    tmin: Any,
    tmax: Any,
    ch_names: Any,
    n_classes: Any,
    effect_size: Any,
    random_state: Any,
) -> tuple[list[str], int]:
    def _pos_int(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")

    _pos_int("n_subjects", n_subjects)
    _pos_int("n_epochs_per_class", n_epochs_per_class)
    if isinstance(n_classes, bool) or n_classes not in (2, 3):
        raise ValueError(
            f"n_classes must be 2 (left_hand, right_hand) or 3 (+ feet), got {n_classes!r}"
        )
    for name, value in (("sfreq", sfreq), ("tmin", tmin), ("tmax", tmax)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if sfreq < _MIN_SFREQ:
        raise ValueError(
            f"sfreq must be >= {_MIN_SFREQ} Hz so that the beta band (18-26 Hz) lies below "
            f"Nyquist, got {sfreq!r}"
        )
    n_times = int(round((tmax - tmin) * sfreq))
    if n_times < 8:
        raise ValueError(
            f"tmax - tmin must span at least 8 samples at sfreq={sfreq}; got tmin={tmin!r}, "
            f"tmax={tmax!r} ({n_times} samples)"
        )
    if (
        isinstance(effect_size, bool)
        or not isinstance(effect_size, numbers.Real)
        or not np.isfinite(effect_size)
        or effect_size < 0
    ):
        raise ValueError(f"effect_size must be a finite number >= 0, got {effect_size!r}")
    if not (
        random_state is None
        or isinstance(random_state, np.random.Generator)
        or (isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool))
    ):
        raise ValueError(
            "random_state must be None, an int or a numpy.random.Generator, "
            f"got {type(random_state).__name__}"
        )

    if ch_names is None:
        names = list(DEFAULT_CH_NAMES)
    else:
        if isinstance(ch_names, str) or not all(isinstance(c, str) for c in ch_names):
            raise ValueError(f"ch_names must be a list of channel-name strings, got {ch_names!r}")
        names = list(ch_names)
        if not names:
            raise ValueError("ch_names must name at least one channel, got an empty list")
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise ValueError(f"ch_names must be unique; repeated: {dup}")
        known = set(_make_montage().ch_names)
        unknown = [c for c in names if c not in known]
        if unknown:
            raise ValueError(
                f"ch_names {unknown} are not in the standard 10-20 montage "
                f"({_montage_name()}); the signal model needs channel positions. "
                "Use 10-20/10-10 names such as 'C3', 'FC1', 'CP4'."
            )
    return names, n_times


def make_motor_imagery(
    n_subjects: int = 6,
    n_epochs_per_class: int = 30,
    sfreq: float = 250.0,
    tmin: float = 0.0,
    tmax: float = 4.0,
    ch_names: list[str] | None = None,
    n_classes: int = 2,
    effect_size: float = 1.0,
    random_state: int | np.random.Generator | None = 0,
    return_epochs: bool = True,
):
    """Make a SYNTHETIC multi-subject motor-imagery EEG data set with a planted effect.

    **These data are simulated.** They imitate a cue-based motor-imagery experiment
    (imagine moving the left hand, the right hand or the feet for a few seconds after
    a cue at ``t = 0``) so that pipelines can be run and tested offline against a
    known ground truth. Nothing here was recorded from a person; results on it say
    nothing about real EEG beyond "the pipeline can find a planted effect".

    What every epoch contains (amplitudes in µV before the subject gain; all are
    scaled to volts on output; every channel ends up with roughly 10-20 µV RMS):

    1. **Background**: 1/f^alpha ("pink") noise (flat below 3 Hz, alpha drawn per
       subject in [1.0, 1.5]) from ``2 * n_channels`` independent sources at random
       scalp positions, mixed to the channels with a Gaussian falloff of distance
       (sigma 4 cm) so that nearby channels correlate as under volume conduction;
       ~11 µV RMS per channel, plus 1 µV white sensor noise.
    2. **Sensorimotor rhythms** from three sources at C3 (left hand area), C4 (right
       hand area) and Cz (foot area, 0.6x weaker), each spread over the scalp by a
       Gaussian falloff of distance (sigma 3.5 cm, computed from the 10-20
       positions): a mu/alpha rhythm (~10 µV RMS at the source, peak at the
       subject's alpha frequency in [8.5, 12] Hz) and a beta rhythm (~5 µV RMS,
       peak in [18, 26] Hz).
    3. **Posterior alpha** (~6 µV RMS around POz, the subject's alpha frequency):
       realistic, and uninformative about the class.

    The planted class effect (all of it is multiplied by ``effect_size``; with
    ``effect_size=0`` nothing depends on the label, so no model should beat chance):

    - **ERD** (event-related desynchronisation): from ~0.5 s to ~3.5 s after the cue
      the mu and beta amplitude of the contralateral source drops by 60 % (power by
      ~85 %): ``left_hand`` -> C4, ``right_hand`` -> C3, ``feet`` -> Cz; the other
      hand source drops by a quarter of that. Power-based pipelines (CSP + LDA,
      Riemannian tangent space) find this.
    - **MRCP**: a slow, phase-locked negative potential (readiness-potential-like
      shift: onset ~0.4 s, plateau, back to baseline by ~3.4 s; -6 µV at its
      source) from premotor/SMA-like sources at FC3 / FC4 / FCz: contralateral at
      full size, ipsilateral at 35 % (``feet``: FCz, 20 % on both sides). Linear
      models on the raw samples find this. (Its sources sit anterior to the
      mu/beta sources so that its added power does not cancel the ERD.)

    Both effects vary from trial to trial (amplitude, ERD depth and a ~80 ms latency
    jitter). Subjects differ in overall gain (x0.8-1.25), noise level (x0.85-1.15),
    1/f exponent, alpha and beta peak frequency, a ~0.5 cm shift of all motor sources
    and in how strongly they express the effect (x0.7-1.3), so subject-grouped
    cross-validation is harder than shuffled cross-validation. With the defaults and
    5-fold ``GroupKFold`` on ``Subject``, logistic regression on the raw samples
    scores about 0.85 balanced accuracy, CSP(4) + LDA about 0.9 (0.75-0.9 over seeds).

    Parameters
    ----------
    n_subjects : int
        Number of simulated subjects (``sub-01``, ``sub-02``, ...).
    n_epochs_per_class : int
        Epochs per class and subject (classes are balanced within each subject).
    sfreq : float
        Sampling frequency in Hz (at least 60 Hz).
    tmin, tmax : float
        Epoch start and (exclusive) end in seconds relative to the cue;
        ``n_times = int(round((tmax - tmin) * sfreq))``. Effects start after 0 s.
    ch_names : list of str, optional
        Channels to simulate; names of the standard 10-20/10-10 montage. Default: the
        19 channels of the 10-20 system (:data:`DEFAULT_CH_NAMES`). The effect is
        strongest on channels near C3, C4 and Cz.
    n_classes : {2, 3}
        ``2``: left_hand, right_hand; ``3``: also feet.
    effect_size : float
        Multiplies the planted ERD and MRCP (``0`` = no effect). Values above ~2
        saturate the ERD (amplitude drop capped at 95 %).
    random_state : int, numpy.random.Generator or None
        Seed; the same seed gives the same data bit for bit.
    return_epochs : bool
        ``True``: an :class:`mne.EpochsArray`; ``False``: plain arrays (see Returns).

    Returns
    -------
    epochs : mne.EpochsArray
        If ``return_epochs``. Data in volts; ``info`` has a standard 10-20 montage
        (channel positions) and a description saying the data are synthetic;
        ``event_id`` is ``{"left_hand": 1, "right_hand": 2}`` (+ ``"feet": 3``);
        ``metadata`` has columns ``Subject`` (``"sub-01"``...), ``Trial`` (0-based
        index within the subject) and ``Label`` (the class name).
    X, y, metadata, info : tuple
        If not ``return_epochs``: ``X`` float32 (n_epochs, n_channels, n_times) in
        volts; ``y`` int64 labels ``0..n_classes-1`` in :data:`CLASS_NAMES` order;
        ``metadata`` as above; ``info`` a dict with keys ``sfreq``, ``ch_names``,
        ``tmin``, ``event_id``, ``montage`` and ``description``.

    Raises
    ------
    ValueError
        For an invalid parameter (checked before any data are generated).

    Examples
    --------
    >>> epochs = make_motor_imagery(n_subjects=2, n_epochs_per_class=5)
    >>> epochs.get_data().shape
    (20, 19, 1000)
    >>> sorted(epochs.event_id)
    ['left_hand', 'right_hand']
    >>> X, y, meta, info = make_motor_imagery(n_subjects=2, n_epochs_per_class=5,
    ...                                       return_epochs=False)
    >>> X.dtype, y[:4].tolist(), list(meta.columns)  # doctest: +SKIP
    (dtype('float32'), [1, 0, 0, 1], ['Subject', 'Trial', 'Label'])
    """
    names, n_times = _validate(
        n_subjects, n_epochs_per_class, sfreq, tmin, tmax, ch_names, n_classes,
        effect_size, random_state,
    )  # fmt: skip
    sfreq = float(sfreq)
    tmin = float(tmin)
    effect_size = float(effect_size)
    montage = _make_montage()
    all_pos = montage.get_positions()["ch_pos"]
    ch_pos = np.array([all_pos[c] for c in names], dtype=np.float64)
    motor_pos = np.array([all_pos["C3"], all_pos["C4"], all_pos["Cz"]], dtype=np.float64)
    mrcp_pos = np.array([all_pos[c] for c in _MRCP_SITES], dtype=np.float64)
    posterior_pos = np.asarray(all_pos["POz"], dtype=np.float64)[None, :]

    rng = np.random.default_rng(random_state)
    subject_rngs = rng.spawn(n_subjects)
    times = tmin + np.arange(n_times) / sfreq
    freqs = sp_fft.rfftfreq(n_times, 1.0 / sfreq)
    n_per_subject = n_epochs_per_class * n_classes
    logger.info(
        "Simulating synthetic motor imagery: %d subjects x %d epochs, %d channels x %d samples",
        n_subjects, n_per_subject, len(names), n_times,
    )  # fmt: skip

    X = np.empty((n_subjects * n_per_subject, len(names), n_times), dtype=np.float32)
    y = np.empty(n_subjects * n_per_subject, dtype=np.int64)
    for s, srng in enumerate(subject_rngs):
        sl = slice(s * n_per_subject, (s + 1) * n_per_subject)
        y[sl], X[sl] = _simulate_subject(
            srng, n_epochs_per_class, n_classes, effect_size, times, freqs, sfreq,
            ch_pos, motor_pos, mrcp_pos, posterior_pos,
        )  # fmt: skip

    X *= np.float32(1e-6)  # microvolts -> volts
    subjects = np.repeat([f"sub-{s + 1:02d}" for s in range(n_subjects)], n_per_subject)
    metadata = pd.DataFrame(
        {
            "Subject": subjects,
            "Trial": np.tile(np.arange(n_per_subject), n_subjects),
            "Label": np.asarray(CLASS_NAMES)[y],
        }
    )
    event_id = {CLASS_NAMES[k]: k + 1 for k in range(n_classes)}
    description = (
        f"SYNTHETIC motor-imagery EEG made by coco_pipe.datasets.make_motor_imagery "
        f"(n_subjects={n_subjects}, n_epochs_per_class={n_epochs_per_class}, "
        f"n_classes={n_classes}, effect_size={effect_size}, random_state="
        f"{random_state if not isinstance(random_state, np.random.Generator) else 'Generator'}); "
        "planted: contralateral mu/beta ERD and a lateralised slow negative potential"
    )
    if not return_epochs:
        info = {
            "sfreq": sfreq,
            "ch_names": names,
            "tmin": tmin,
            "event_id": event_id,
            "montage": _montage_name(),
            "description": description,
        }
        return X, y, metadata, info

    import mne

    info = mne.create_info(names, sfreq, ch_types="eeg")
    info.set_montage(montage, verbose=False)
    info["description"] = description
    events = np.column_stack(
        [np.arange(len(y)) * n_times, np.zeros(len(y), dtype=int), y + 1]
    ).astype(int)
    return mne.EpochsArray(
        X.astype(np.float64),
        info,
        events=events,
        tmin=tmin,
        event_id=event_id,
        metadata=metadata,
        verbose=False,
    )


def _simulate_subject(
    rng: np.random.Generator,
    n_epochs_per_class: int,
    n_classes: int,
    effect_size: float,
    times: np.ndarray,
    freqs: np.ndarray,
    sfreq: float,
    ch_pos: np.ndarray,
    motor_pos: np.ndarray,
    mrcp_pos: np.ndarray,
    posterior_pos: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One subject's labels and data (microvolts), label-independent noise drawn first."""
    n_ch = len(ch_pos)
    n_times = len(times)
    n_ep = n_epochs_per_class * n_classes

    # subject traits
    gain = rng.uniform(0.8, 1.25)
    noise_level = rng.uniform(0.85, 1.15)
    pink_alpha = rng.uniform(1.0, 1.5)
    alpha_peak = rng.uniform(8.5, 12.0)
    beta_peak = rng.uniform(18.0, 26.0)
    responsiveness = rng.uniform(0.7, 1.3)
    shift = rng.normal(0.0, 0.005, size=motor_pos.shape)  # ~0.5 cm per axis
    src_pattern = _gaussian_pattern(ch_pos, motor_pos + shift, _SOURCE_WIDTH_M)  # (3, ch)
    src_pattern[2] *= _MU_CZ_SCALE

    # labels: balanced, shuffled
    y = rng.permutation(np.repeat(np.arange(n_classes), n_epochs_per_class))

    # 1) background: pink sources at random scalp positions, smoothly mixed
    n_bg = _N_BACKGROUND_SOURCES_PER_CH * n_ch
    bg_pos = ch_pos[rng.integers(0, n_ch, size=n_bg)] + rng.normal(0.0, 0.015, size=(n_bg, 3))
    mixing = _gaussian_pattern(ch_pos, bg_pos, _MIXING_WIDTH_M).T  # (ch, n_bg)
    mixing /= np.linalg.norm(mixing, axis=1, keepdims=True)
    pink_amp = 1.0 / np.maximum(freqs, _PINK_KNEE_HZ) ** (pink_alpha / 2.0)
    bg = _spectral_noise(rng, (n_ep, n_bg), pink_amp, n_times)
    data = np.einsum("cs,est->ect", mixing.astype(np.float32), bg, optimize=True)
    data *= np.float32(_BACKGROUND_UV * noise_level)
    data += rng.standard_normal(data.shape, dtype=np.float32) * np.float32(
        _SENSOR_NOISE_UV * noise_level
    )

    # 2) + 3) rhythms: per-trial jittered peak frequency, narrowband Gaussian spectra
    def band(peak: float, width: float, n_src: int) -> np.ndarray:
        peaks = peak + rng.normal(0.0, 0.3, size=(n_ep, 1, 1))
        amp = np.exp(-((freqs - peaks) ** 2) / (2.0 * width**2))
        return _spectral_noise(rng, (n_ep, n_src), amp, n_times)  # (ep, src, t)

    mu = band(alpha_peak, 1.0, 3) * np.float32(_MU_UV)
    beta = band(beta_peak, 2.0, 3) * np.float32(_BETA_UV)
    post = band(alpha_peak, 1.0, 1) * np.float32(_POSTERIOR_ALPHA_UV)
    post_pattern = _gaussian_pattern(ch_pos, posterior_pos, 0.05)

    # planted effects: per-trial jitter drawn for all trials (label-independent draws)
    latency = rng.normal(0.0, 0.08, size=n_ep)
    erd_jitter = np.clip(rng.normal(1.0, 0.3, size=n_ep), 0.0, None)
    mrcp_jitter = rng.lognormal(0.0, 0.3, size=n_ep)
    strength = effect_size * responsiveness

    # ERD envelope: ~0.5 s to ~3.5 s after the cue
    t = times[None, :] - latency[:, None]
    window = _sigmoid((t - 0.5) / 0.1) * _sigmoid((3.5 - t) / 0.15)  # (ep, t)
    # weights of ERD on (C3, C4, Cz) per class: left_hand -> C4, right_hand -> C3, feet -> Cz
    erd_weights = np.array(
        [[_ERD_IPSI, 1.0, 0.0], [1.0, _ERD_IPSI, 0.0], [_ERD_IPSI, _ERD_IPSI, 1.0]]
    )[y]  # (ep, 3)
    depth = np.clip(_ERD_DEPTH * strength * erd_jitter[:, None] * erd_weights, 0.0, 0.95)
    envelope = 1.0 - depth[:, :, None] * window[:, None, :]  # (ep, 3, t)
    rhythms = (mu + beta) * envelope.astype(np.float32)
    data += np.einsum("sc,est->ect", src_pattern.astype(np.float32), rhythms, optimize=True)
    data += post_pattern.T[None, :, :].astype(np.float32) * post

    # MRCP: slow negative shift, onset ~0.4 s, back to baseline by ~3.4 s
    shape = _sigmoid((t - 0.4) / 0.15) * _sigmoid((_MRCP_END_S - t) / 0.3)  # (ep, t)
    mrcp_weights = np.array([[_MRCP_IPSI, 1.0, 0.0], [1.0, _MRCP_IPSI, 0.0], [0.2, 0.2, 1.0]])[y]
    topo = mrcp_weights @ _gaussian_pattern(ch_pos, mrcp_pos + shift, _SOURCE_WIDTH_M)  # (ep, ch)
    amp = -_MRCP_UV * strength * mrcp_jitter
    data += (amp[:, None, None] * topo[:, :, None] * shape[:, None, :]).astype(np.float32)

    data *= np.float32(gain)
    return y, data


def load_default(kind: Literal["epochs", "arrays"] = "epochs"):
    """The default SYNTHETIC data set used by the main job and most tests.

    Same as :func:`make_motor_imagery` with its defaults: 6 subjects x 60 epochs (30
    left_hand + 30 right_hand), 19 channels of the 10-20 system, 250 Hz, 0-4 s
    (1000 samples), ``effect_size=1.0``, ``random_state=0``. Generated afresh on each
    call (deterministic, well under 2 s).

    Parameters
    ----------
    kind : {"epochs", "arrays"}
        ``"epochs"``: an :class:`mne.EpochsArray`; ``"arrays"``: the tuple
        ``(X, y, metadata, info)`` of ``make_motor_imagery(return_epochs=False)``.

    Examples
    --------
    >>> X, y, meta, info = load_default("arrays")
    >>> X.shape, info["sfreq"], meta["Subject"].nunique()
    ((360, 19, 1000), 250.0, 6)
    """
    if kind not in ("epochs", "arrays"):
        raise ValueError(f"kind must be 'epochs' or 'arrays', got {kind!r}")
    return make_motor_imagery(return_epochs=(kind == "epochs"))
