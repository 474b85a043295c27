"""The surface every foundation model shares: its spec row and the hooks of its quirks.

Each model of :data:`~coco_pipe.foundation.specs.ESTIMATOR_SPECS` has one module
``coco_pipe/foundation/models/<key>.py`` (braindecode's one-file-per-architecture with a
shared mixin is the example). The module holds:

- ``SPEC``: its :class:`FoundationModelSpec` row (facts: class, hub repository, sfreq,
  channels, patches, units, poolings, LoRA targets, ...);
- ``MODEL``: an instance of a :class:`FoundationModel` subclass whose methods are the
  model's quirks: the braindecode constructor arguments, how features are pulled out,
  extra buffers, offline construction, adaptation extras, checkpoint preparation.

Shared code (``architecture``, ``backbones``, ``adaptation``, ``hf``, ``weights``,
``embedder``, ``cache``, ``listing``) calls these hooks and never compares a model key.
The defaults below are what most braindecode foundation models need, so a model module
overrides only what differs. Adding a model means writing one module and adding its
name to :data:`coco_pipe.foundation.models.MODEL_MODULES`.

Nothing here imports torch at import time (the spec table is read by the configs and by
``list_foundation_models()`` without torch); hooks that need it import it inside.

Examples
--------
>>> from coco_pipe.foundation.models import get_model
>>> model = get_model("cbramod")
>>> model.spec.display_name
'CBraMod'
>>> model.subset_positions
False
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

#: An :class:`~coco_pipe.foundation.adaptation.AdaptationPlan` (or the config-backed plan of
#: the hugging_face backend): ``ch_names``, ``positions``, ``n_channels``, ``n_times``,
#: ``sfreq``, ``positions_source`` and ``chs_info()``. Not imported here: the model modules
#: sit below the adaptation code.
Plan = Any

#: ``train_mode`` values every model supports today.
ALL_TRAIN_MODES: tuple[str, ...] = ("frozen", "full", "lora", "qlora")
#: Loaders that can build every model.
ALL_BACKENDS: tuple[str, ...] = ("braindecode", "hugging_face")

#: (tokens (B, L, D) or None, class token (B, D) or None, pooled (B, D) or None)
Features = tuple["torch.Tensor | None", "torch.Tensor | None", "torch.Tensor | None"]


@dataclass(frozen=True)
class CheckpointLayout:
    """One published layout of a model's weights whose names differ from braindecode's.

    The shared loader (:func:`coco_pipe.foundation.weights.load_weights`) recognises it
    from the file(s) and applies it before the model's own ``load_state_dict`` (which
    still applies braindecode's ``mapping`` and torch's load hooks). Pure data: regular
    expressions, no torch.

    Attributes
    ----------
    name : str
        What the layout is (shown in the load report), e.g. ``"official labram-base.pth"``.
    source : str
        Where it is published.
    markers : tuple of str
        Regular expressions; a single checkpoint file is in this layout when each one
        matches (``re.search``) at least one of its tensor names.
    files : tuple of (str, str)
        For releases of several files (or files in subfolders): ``(path inside the
        release folder, prefix added to its tensor names)``. A folder holding every one
        of these paths is read as this layout.
    rename : tuple of (str, str)
        ``(pattern, replacement)`` applied with ``re.sub`` to each tensor name; the first
        pattern that matches a name (``re.match``) renames it, the others are skipped.
    drop : tuple of (str, str)
        ``(pattern, why)``: tensors of the release with no place in braindecode's model
        (pretraining heads, legacy buffers); matched with ``re.match`` on the names
        before renaming, ignored and listed in the load report with ``why``.

    Examples
    --------
    >>> layout = CheckpointLayout("demo", markers=(r"^student\\.",),
    ...                           rename=((r"^student\\.", ""),))
    >>> layout.name
    'demo'
    """

    name: str
    source: str = ""
    markers: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    rename: tuple[tuple[str, str], ...] = ()
    drop: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FoundationModelSpec:
    """Facts about one foundation model and how coco-pipe drives it.

    Attributes
    ----------
    key : str
        Model key used in configs (``model_key``); the name of its module in
        :mod:`coco_pipe.foundation.models`.
    display_name : str
        Human name (e.g. ``"LaBraM"``).
    braindecode_class : str
        Class name in :mod:`braindecode.models`.
    interpolated_class : str or None
        Interpolated* variant in braindecode (channels interpolated onto the
        model's canonical layout), when one exists.
    hub_repo : str or None
        Hugging Face repository of the pretrained weights.
    emb_dim : int
        Embedding dimension with ``pooling="mean"`` at default size.
    sfreq : float
        Sampling frequency the model was pretrained at (inputs are resampled to it).
    n_chans : int or None
        Fixed channel count the model requires (None: any).
    channel_layout : tuple of str or None
        Canonical channel order when the model needs one (interpolated onto).
    needs_channel_names : bool
        Whether channel names are required (channel embeddings / positions).
    interpolate_channels : bool
        Whether inputs are interpolated onto ``channel_layout``.
    patch_size : int or None
        ``n_times`` is cropped/padded to a multiple of this.
    min_times, max_times : int or None
        Window length bounds in samples at ``sfreq``.
    default_n_times : int
        Window length used when building the model for an input of unknown length.
    amplitude_scale : float
        Factor applied to inputs given in volts (e.g. 1e6 for microvolts).
    poolings : tuple of str
        Supported pooling modes.
    train_modes : tuple of str
        Allowed ``train_mode`` values.
    backends : tuple of str
        Backends that can load it.
    lora_target_modules : tuple of str
        Default LoRA target module names.
    small_kwargs : dict
        Constructor kwargs for a small model used in the tests.
    reference : str
        Paper / pretraining data, one line.
    channel_mode : str
        How the user's channels reach the model:

        - ``"any"``: any channels, in the user's order; names not needed.
        - ``"subset"``: channels matched by name (10-20 aliases, case-insensitive)
          into ``channel_layout``; the model gets the matched subset (its
          channel/position embeddings are indexed by name); others are dropped.
        - ``"positions"``: any channel with a known 3-D position (MNE's
          ``standard_1005`` montage, or the model's own position bank).
        - ``"interpolated"``: the ``interpolated_class`` projects the user's
          channels (positions from ``standard_1005``) onto ``channel_layout``.
        - ``"bipolar"``: ``channel_layout`` holds bipolar derivations ``A-B``,
          computed exactly from the monopolar electrodes A and B (missing
          electrodes are spline-interpolated from the others).
    patch_stride : int or None
        With ``patch_size``: overlapping patches, valid lengths are
        ``patch_size + k * patch_stride`` (None: multiples of ``patch_size``).
    normalization : str
        Per-window normalization after the unit change, as in pretraining:
        ``"none"``, ``"zscore_clip"`` (per channel z-score, clipped at
        +-15 SD), ``"minmax"`` (whole window to [-1, 1]) or ``"quantile95"``
        (per channel, divided by the 95th percentile of ``|x|``).
    hub_filename : str or None
        Weight file inside ``hub_repo`` when the repository holds several.
    needs_n_outputs : bool
        Whether the braindecode constructor needs ``n_outputs`` (a throw-away
        head of size 1 is built then replaced by ``nn.Identity``).
    license : str
        Licence of the pretrained weights (SPDX identifier where there is one, or
        ``"unknown"`` with the reason), shown by ``list_foundation_models()``, carried
        into model cards and registry tags.
    license_forbids_derivatives : bool
        The weights' licence does not allow distributing adapted versions (e.g.
        CC BY-ND); promoting a fine-tuned adapter of it warns.
    checkpoint_layouts : tuple of CheckpointLayout
        Published layouts other than braindecode's names (authors' release files),
        recognised and remapped by the loader.

    Examples
    --------
    >>> from coco_pipe.foundation.specs import ESTIMATOR_SPECS
    >>> ESTIMATOR_SPECS["labram"].channel_mode
    'subset'
    """

    key: str
    display_name: str
    braindecode_class: str
    interpolated_class: str | None
    hub_repo: str | None
    emb_dim: int
    sfreq: float
    n_chans: int | None
    channel_layout: tuple[str, ...] | None
    needs_channel_names: bool
    interpolate_channels: bool
    patch_size: int | None
    min_times: int | None
    max_times: int | None
    default_n_times: int
    amplitude_scale: float
    poolings: tuple[str, ...]
    train_modes: tuple[str, ...]
    backends: tuple[str, ...]
    lora_target_modules: tuple[str, ...]
    small_kwargs: dict[str, Any] = field(default_factory=dict)
    reference: str = ""
    channel_mode: str = "any"
    patch_stride: int | None = None
    normalization: str = "none"
    hub_filename: str | None = None
    needs_n_outputs: bool = True
    license: str = "unknown"
    license_forbids_derivatives: bool = False
    checkpoint_layouts: tuple[CheckpointLayout, ...] = ()


def as_tokens(features: torch.Tensor) -> torch.Tensor:
    """``(B, ..., D)`` features as ``(B, L, D)`` tokens (every middle axis is a token axis)."""
    return features.reshape(features.shape[0], -1, features.shape[-1])


class FoundationModel:
    """A foundation model's quirks, as hooks with the defaults most models need.

    Subclasses set :attr:`spec` and override the hooks that differ. Every hook is
    called by shared code with the objects it already has (the adaptation plan, the
    braindecode model, the :class:`~coco_pipe.foundation.architecture.FoundationBackboneModule`),
    so a model's module never needs to know who calls it.

    Attributes
    ----------
    spec : FoundationModelSpec
        The model's row of ``ESTIMATOR_SPECS``.
    subset_positions : bool
        With ``channel_mode="subset"``: also give the matched channels 3-D positions
        (MNE's ``standard_1005``) in the plan, for models that read ``chs_info`` locations.
    positions_buffer : bool
        Give the backbone module a non-persistent ``channel_positions`` buffer
        (``plan.positions``, shape (n_channels, 3)) that :meth:`features` reads.
    derived_buffers : tuple of (str, str)
        ``(name, why)`` of persistent buffers of the braindecode model computed from its
        config (e.g. the channel ids of the user's montage): rebuilt for the user's data,
        never copied from a checkpoint (the checkpoint's copy is ignored and reported).

    Examples
    --------
    >>> from coco_pipe.foundation.models import get_model
    >>> get_model("labram").spec.patch_size
    200
    """

    spec: ClassVar[FoundationModelSpec]
    subset_positions: ClassVar[bool] = False
    positions_buffer: ClassVar[bool] = False
    derived_buffers: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key={self.spec.key!r})"

    # ------------------------------------------------------------------ adaptation
    def position_bank(self) -> tuple[str, Mapping[str, tuple[float, float, float]]] | None:
        """``(source name, {channel name: (x, y, z)})`` used instead of MNE's montage for
        ``channel_mode="positions"``; None (default): MNE's ``standard_1005``."""
        return None

    def check_plan(self, plan: Plan, weights: str) -> None:
        """Warn about a plan that works but may not match pretraining (default: nothing).

        Called once per built backbone, after the weights are resolved.
        """

    # ------------------------------------------------------------------ building
    def constructor_kwargs(self, plan: Plan) -> dict[str, Any]:
        """Signal arguments of the braindecode constructor beyond ``n_times``, ``sfreq``
        and ``n_outputs`` (default: ``n_chans``); user ``model_kwargs`` come on top."""
        return {"n_chans": plan.n_channels}

    @contextlib.contextmanager
    def constructing(self) -> Iterator[None]:
        """Context around the braindecode constructor (default: none), e.g. to keep it
        offline."""
        yield

    def register_buffers(self, module: nn.Module, plan: Plan) -> None:
        """Add the non-persistent buffers :meth:`features` reads to ``module`` (a
        ``FoundationBackboneModule``); default: ``channel_positions`` when
        :attr:`positions_buffer` is set."""
        if self.positions_buffer:
            import torch

            pos = torch.tensor(plan.positions, dtype=torch.float32)
            module.register_buffer("channel_positions", pos, persistent=False)

    # ------------------------------------------------------------------ features
    def features(self, module: nn.Module, x: torch.Tensor) -> Features:
        """Tokens, class token and/or pooled features of adapted windows ``x`` (B, C, T).

        ``module`` is the ``FoundationBackboneModule``: the braindecode model is
        ``module.model`` (head removed), its channel names ``module.ch_names``.
        Default: ``model(x, return_features=True)["features"]``, every axis between
        batch and feature being tokens.
        """
        return as_tokens(module.model(x, return_features=True)["features"]), None, None

    # ------------------------------------------------------------------ checkpoints
    def prepare_checkpoint(
        self, state: dict[str, torch.Tensor], model: nn.Module
    ) -> dict[str, torch.Tensor]:
        """A checkpoint's tensors, under braindecode's names, before they are loaded into
        ``model`` (default: as read).

        Called after the spec's :class:`CheckpointLayout` (if one matched) renamed them:
        the place for tensors whose shape depends on the pretraining window or channel
        set (adapted the way the model's forward uses them, or a clear error), and for
        conversions a rename table cannot express.
        """
        return state


__all__ = [
    "ALL_BACKENDS",
    "ALL_TRAIN_MODES",
    "CheckpointLayout",
    "Features",
    "as_tokens",
    "FoundationModel",
    "FoundationModelSpec",
]
