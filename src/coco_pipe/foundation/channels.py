"""Channel mapping: from the user's channels to the channels a foundation model takes.

Names are matched case-insensitively, with the 10-20 aliases T3/T7, T4/T8, T5/P7, T6/P8
(and an ``EEG`` prefix or ``-REF`` / ``-LE`` suffix stripped), then, by
``spec.channel_mode``, selected (``subset``), given 3-D positions from MNE's
``standard_1005`` montage or a model's position bank (``positions``, ``interpolated``),
or turned into exact bipolar derivations (``bipolar``). :func:`map_channels` returns the
result as one linear channel map (:class:`ChannelMap`);
:func:`~coco_pipe.foundation.adaptation.plan_adaptation` puts it into the plan.

Examples
--------
>>> normalize_channel_name("EEG Fp1-REF")
'FP1'
>>> match_channel("T3", {"T7": 0})
0
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .models.base import FoundationModelSpec

logger = logging.getLogger(__name__)

#: Legacy 10-20 names and their 10-10 equivalents (both directions are tried).
CHANNEL_ALIASES: dict[str, str] = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}
_ALIAS_BOTH = {**CHANNEL_ALIASES, **{v: k for k, v in CHANNEL_ALIASES.items()}}
#: The MNE montage positions are read from.
MONTAGE = "standard_1005"
_MATCH_HINT = "(case-insensitive, with T3/T7, T4/T8, T5/P7, T6/P8 aliases)"


def normalize_channel_name(name: str) -> str:
    """Upper-case a channel name and strip common decorations.

    Examples
    --------
    >>> normalize_channel_name("EEG Fp1-REF")
    'FP1'
    """
    n = str(name).strip().upper()
    n = re.sub(r"^EEG[\s_-]+", "", n)
    n = re.sub(r"[-_](REF|LE|AVG|AR)$", "", n)
    return n.strip()


def _candidates(name: str) -> list[str]:
    n = normalize_channel_name(name)
    out = [n]
    if n in _ALIAS_BOTH:
        out.append(_ALIAS_BOTH[n])
    return out


def match_channel(name: str, layout_index: dict[str, int]) -> int | None:
    """Index of ``name`` in a layout (upper-cased name -> index), exact name first, then alias.

    Examples
    --------
    >>> match_channel("t3", {"T7": 0, "CZ": 1})
    0
    """
    for cand in _candidates(name):
        if cand in layout_index:
            return layout_index[cand]
    return None


@lru_cache(maxsize=1)
def _montage_positions() -> dict[str, tuple[str, np.ndarray]]:
    """Upper-cased name -> (montage spelling, xyz in metres) for ``standard_1005``."""
    import mne

    pos = mne.channels.make_standard_montage(MONTAGE).get_positions()["ch_pos"]
    return {k.upper(): (k, np.asarray(v, dtype=float)) for k, v in pos.items()}


def montage_position(name: str) -> tuple[str, np.ndarray] | None:
    """Position of a channel in MNE's ``standard_1005`` montage (aliases tried), or None.

    Examples
    --------
    >>> spelled, xyz = montage_position("cz")
    >>> spelled, xyz.shape
    ('Cz', (3,))
    """
    table = _montage_positions()
    for cand in _candidates(name):
        if cand in table:
            return table[cand]
    return None


def _layout_index(layout: tuple[str, ...]) -> dict[str, int]:
    return {n.upper(): i for i, n in enumerate(layout)}


def channel_error_hint(spec: FoundationModelSpec) -> str:
    """``"the <model> layout (<n> channels: ...)"`` for error messages."""
    layout = spec.channel_layout or ()
    shown = ", ".join(layout[:25]) + (", ..." if len(layout) > 25 else "")
    return f"the {spec.display_name} layout ({len(layout)} channels: {shown})"


def _no_match(ch_names, where: str) -> ValueError:
    return ValueError(f"none of the channel names {list(ch_names)[:10]} match {where} {_MATCH_HINT}")


@dataclass(frozen=True)
class ChannelMap:
    """How the user's channels become the model's.

    Attributes
    ----------
    ch_names : tuple of str
        Model channels, in order (the model's spelling).
    matrix : ndarray (n_model_channels, n_user_channels) or None
        Linear map (selection, reordering, bipolar derivation); None: identity.
    positions : tuple of (x, y, z) or None
        3-D positions of ``ch_names`` where the model uses them.
    positions_source : str
        ``"mne:standard_1005"`` or the position bank's name ("" without positions).
    dropped : tuple of str
        User channels the model cannot use.
    interpolated : tuple of str
        Model channels / electrodes computed by spatial interpolation.
    """

    ch_names: tuple[str, ...]
    matrix: np.ndarray | None
    positions: tuple[tuple[float, float, float], ...] | None
    positions_source: str
    dropped: tuple[str, ...]
    interpolated: tuple[str, ...]


def _selection(sel: list[int], n_channels: int) -> np.ndarray | None:
    if sel == list(range(n_channels)):
        return None
    matrix = np.zeros((len(sel), n_channels))
    matrix[np.arange(len(sel)), sel] = 1.0
    return matrix


def map_channels(
    spec: FoundationModelSpec,
    ch_names: tuple[str, ...] | None,
    n_channels: int,
    *,
    subset_positions: bool = False,
    position_bank: Mapping[str, tuple[float, float, float]] | None = None,
    position_bank_source: str = "position-bank",
) -> ChannelMap:
    """Map the user's channels onto ``spec``'s (``spec.channel_mode``); raise when none fit.

    Parameters
    ----------
    spec : FoundationModelSpec
    ch_names : tuple of str or None
        User channel names in data order (None only with ``channel_mode="any"``).
    n_channels : int
    subset_positions : bool
        ``channel_mode="subset"``: also give the matched channels ``standard_1005`` positions.
    position_bank : mapping, optional
        Name -> (x, y, z) used instead of the MNE montage (``positions``, ``interpolated``).
    position_bank_source : str
        ``positions_source`` recorded for positions read from ``position_bank``.

    Returns
    -------
    ChannelMap

    Examples
    --------
    >>> from coco_pipe.foundation.specs import ESTIMATOR_SPECS
    >>> map_channels(ESTIMATOR_SPECS["labram"], ("Cz", "EOG"), 2).dropped
    ('EOG',)
    """
    mode = spec.channel_mode
    if mode == "any":
        names = ch_names if ch_names is not None else tuple(f"ch{i}" for i in range(n_channels))
        return ChannelMap(tuple(names), None, None, "", (), ())
    if mode == "subset":
        return _subset(spec, ch_names, n_channels, subset_positions)
    if mode in ("positions", "interpolated"):
        return _with_positions(spec, ch_names, n_channels, position_bank, position_bank_source)
    if mode == "bipolar":
        return _bipolar(spec, ch_names)
    raise ValueError(f"spec {spec.key!r}: unknown channel_mode {mode!r}")


def _subset(spec, ch_names, n_channels, subset_positions) -> ChannelMap:
    layout = spec.channel_layout or ()
    index = _layout_index(layout)
    sel: list[int] = []
    out: list[str] = []
    dropped: list[str] = []
    seen: set[int] = set()
    for i, name in enumerate(ch_names):
        j = match_channel(name, index)
        if j is None or j in seen:
            dropped.append(name)
            continue
        seen.add(j)
        sel.append(i)
        out.append(layout[j])
    if not sel:
        raise _no_match(ch_names, channel_error_hint(spec))
    positions = None
    source = ""
    if subset_positions:
        positions = []
        for n in out:
            mp = montage_position(n)
            positions.append(tuple(mp[1]) if mp else (0.0, 0.0, 0.0))
        positions, source = tuple(positions), f"mne:{MONTAGE}"
    return ChannelMap(tuple(out), _selection(sel, n_channels), positions, source, tuple(dropped), ())


def _with_positions(spec, ch_names, n_channels, position_bank, bank_source) -> ChannelMap:
    bank = {k.upper(): v for k, v in position_bank.items()} if position_bank else None
    layout_index = _layout_index(spec.channel_layout) if spec.channel_layout else None
    sel, out, positions, dropped = [], [], [], []
    n_layout_hits = 0
    for i, name in enumerate(ch_names):
        pos = None
        spelled = None
        if bank is not None:
            for cand in _candidates(name):
                if cand in bank:
                    pos, spelled = tuple(float(v) for v in bank[cand]), cand
                    break
        else:
            mp = montage_position(name)
            if mp is not None:
                spelled, pos = mp[0], tuple(float(v) for v in mp[1])
        if pos is None:
            dropped.append(name)
            continue
        if layout_index is not None:
            j = match_channel(name, layout_index)
            if j is not None:
                spelled = spec.channel_layout[j]
                n_layout_hits += 1
        sel.append(i)
        out.append(spelled)
        positions.append(pos)
    source = bank_source if bank is not None else f"mne:{MONTAGE}"
    if not sel or (layout_index is not None and n_layout_hits == 0):
        where = (
            channel_error_hint(spec)
            if layout_index is not None
            else f"the electrode positions of {source}"
        )
        raise _no_match(ch_names, where)
    if len({n.upper() for n in out}) != len(out):
        raise ValueError(f"channel names map to duplicate electrodes: {list(out)}")
    interpolated: list[str] = []
    if spec.channel_mode == "interpolated":
        have = {n.upper() for n in out}
        interpolated = [n for n in (spec.channel_layout or ()) if n.upper() not in have]
    return ChannelMap(
        tuple(out),
        _selection(sel, n_channels),
        tuple(positions),
        source,
        tuple(dropped),
        tuple(interpolated),
    )


def _bipolar(spec: FoundationModelSpec, ch_names: tuple[str, ...]) -> ChannelMap:
    """Derivation matrix (n_pairs, n_src) for a bipolar layout ``A-B``.

    Electrodes present in the data are used as they are; missing ones are spline
    interpolated (MNE, through braindecode's ChannelInterpolationLayer) from the
    channels with a known position. Errors when no electrode of the layout is present.
    """
    layout = spec.channel_layout or ()
    electrodes: list[str] = []
    for pair in layout:
        for e in pair.split("-"):
            if e.upper() not in electrodes:
                electrodes.append(e.upper())
    e_index = {e: i for i, e in enumerate(electrodes)}
    src_idx: dict[int, int] = {}
    for i, name in enumerate(ch_names):
        j = match_channel(name, e_index)
        if j is not None and j not in src_idx:
            src_idx[j] = i
    if not src_idx:
        raise ValueError(
            f"none of the channel names {list(ch_names)[:10]} match the electrodes of "
            f"{channel_error_hint(spec)} (needed: {', '.join(electrodes)}; {_MATCH_HINT[1:]}"
        )
    mono = np.zeros((len(electrodes), len(ch_names)))
    missing = [e for j, e in enumerate(electrodes) if j not in src_idx]
    dropped: list[str] = []
    if missing:
        dropped = _interpolate_missing(mono, missing, e_index, ch_names)
        logger.warning(
            "%s: electrodes %s are missing and spline-interpolated for the bipolar montage",
            spec.display_name,
            ", ".join(missing),
        )
    for j, i in src_idx.items():
        mono[j, i] = 1.0
    deriv = np.zeros((len(layout), len(electrodes)))
    for r, pair in enumerate(layout):
        a, b = pair.upper().split("-")
        deriv[r, e_index[a]] = 1.0
        deriv[r, e_index[b]] = -1.0
    return ChannelMap(tuple(layout), deriv @ mono, None, "", tuple(dropped), tuple(missing))


def _chs_info_entry(name: str, xyz: np.ndarray) -> dict:
    loc = np.zeros(12)
    loc[:3] = xyz
    return {"ch_name": name, "kind": "eeg", "loc": loc}


def _interpolate_missing(mono: np.ndarray, missing, e_index, ch_names) -> list[str]:
    """Fill the rows of ``mono`` of the ``missing`` electrodes with spline weights over the
    user's channels that have a montage position; returns the channels without one."""
    from braindecode.modules.interpolation import ChannelInterpolationLayer

    src_chs, src_cols, dropped = [], [], []
    for i, name in enumerate(ch_names):
        mp = montage_position(name)
        if mp is None:
            dropped.append(name)
            continue
        src_chs.append(_chs_info_entry(mp[0], mp[1]))
        src_cols.append(i)
    tgt_chs = [_chs_info_entry(e, montage_position(e)[1]) for e in missing]  # type: ignore[index]
    w = ChannelInterpolationLayer(src_chs, tgt_chs, mode="always", method="spline").matrix.numpy()
    for r, e in enumerate(missing):
        mono[e_index[e], src_cols] = w[r]
    return dropped


__all__ = [
    "CHANNEL_ALIASES",
    "MONTAGE",
    "ChannelMap",
    "channel_error_hint",
    "map_channels",
    "match_channel",
    "montage_position",
    "normalize_channel_name",
]
