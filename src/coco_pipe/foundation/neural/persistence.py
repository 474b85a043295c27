"""A fitted NeuralDecoder as a self-describing folder, and as a pickle.

Both go through one *bundle*: ``coco_pipe_model.json``'s content (config, classes,
sfreq, channel names, input shape, weights, checkpoint manifest) plus named tensor sets
(``head``, ``model``, ``base_model``, ``adapter_weights``, ``backbone_buffers``) and the
peft ``adapter_config``. :meth:`PersistenceMixin.save` writes a bundle to files,
:meth:`PersistenceMixin.load` reads one back, and pickling carries the bundle in the
estimator's state instead of the network, which is rebuilt on unpickling (braindecode's
parametrized layers cannot be pickled, and a 4-bit base is re-quantised from its weights
source, as on loading). A round trip predicts exactly as the original on the same device.

Examples
--------
>>> est.save("run/model")  # doctest: +SKIP
>>> NeuralDecoder.load("run/model").predict(X)  # doctest: +SKIP
>>> pickle.loads(pickle.dumps(est)).predict(X)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...decoding.configs.neural import NeuralFineTuneConfig
from ..placement import make_placement, seeded_rng
from .assembly import assemble, build_source, count_params

__all__ = ["MODEL_FILE", "FORMAT", "PersistenceMixin", "write_json", "library_versions"]

MODEL_FILE = "coco_pipe_model.json"
FORMAT = "coco_pipe.neural/1"
ADAPTER_CONFIG_KEY = "adapter_config"
#: tensor set -> file name in a saved folder (``files`` in coco_pipe_model.json)
TENSOR_FILES = {
    "model": "model.safetensors",
    "head": "head.safetensors",
    "base_model": "base_model.safetensors",
    "adapter_weights": "adapter_model.safetensors",
    "backbone_buffers": "backbone_buffers.safetensors",
}
#: attributes rebuilt from the bundle (never pickled as objects)
_REBUILT = ("network_", "_source", "_base_state", "_lora_config", "_lora_layers",
            "_quantized_layers")  # fmt: skip


def library_versions() -> dict[str, str]:
    """Versions of the libraries the network was built with (those imported)."""
    out = {}
    for name in ("torch", "braindecode", "peft", "bitsandbytes", "transformers"):
        mod = sys.modules.get(name)
        if mod is not None:
            out[name] = str(getattr(mod, "__version__", "?"))
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically (temporary name, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default))
    tmp.replace(path)
    return path


def _save_tensors(path: Path, tensors: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
    tmp.replace(path)


def _upgrade_config(data: dict[str, Any]) -> dict[str, Any]:
    """Configs saved before ``precompute_embeddings`` existed: their ``cache_embeddings``
    meant "precompute in memory" and the disk cache was used only with a ``cache_dir``."""
    if "precompute_embeddings" in data:
        return data
    data = dict(data)
    old = bool(data.pop("cache_embeddings", True))
    data["precompute_embeddings"] = old
    data["cache_embeddings"] = (
        old and data.get("cache_dir") is not None and data.get("train_mode") == "frozen"
    )
    return data


class PersistenceMixin:
    """``save`` / ``save_adapter`` / ``load`` and pickling of a fitted NeuralDecoder."""

    def _bundle(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict | None]:
        """(meta, tensor sets, adapter config) of the fitted model."""
        cfg = self.config_
        net = self.network_
        tensors: dict[str, dict[str, Any]] = {}
        adapter_config = None
        mode = cfg.train_mode
        if self._source.scratch or mode == "full":
            tensors["model"] = net.state_dict()
        else:
            tensors["head"] = net.head.state_dict()
            if self._base_state is not None:
                tensors["base_model"] = self._base_state
            if mode in ("lora", "qlora"):
                from ..peft_utils import adapter_config_dict, adapter_state_dict

                adapter_config = adapter_config_dict(self._lora_config)
                tensors["adapter_weights"] = adapter_state_dict(net.backbone)
                buffers = dict(net.backbone.named_buffers())
                if buffers:
                    tensors["backbone_buffers"] = buffers
        files = {key: TENSOR_FILES[key] for key in tensors}
        if adapter_config is not None:
            files[ADAPTER_CONFIG_KEY] = "adapter_config.json"
        classes = getattr(self, "classes_", None)
        meta = {
            "format": FORMAT,
            "config": cfg.model_dump(mode="json"),
            "task": self.task,
            "classes": classes.tolist() if classes is not None else None,
            "classes_dtype": str(classes.dtype) if classes is not None else None,
            "sfreq": self.sfreq_,
            "ch_names": list(self.ch_names_) if self.ch_names_ is not None else None,
            "unit": self.unit,
            "n_channels": self.n_channels_in_,
            "n_times": self.n_times_in_,
            "n_outputs": self.n_outputs_,
            "y_mean": self.y_mean_,
            "y_std": self.y_std_,
            "seed": self.seed_,
            "random_state": self.random_state,
            "adapt_scale": self._source.adapter.scale if self._source.scratch else None,
            "weights": self._source.weights_tags,
            "weights_digest": self._source.weights_digest,
            "fingerprint": self._source.fingerprint,
            "precompute_embeddings": self.precomputed_embeddings_,
            "checkpoint": self.get_checkpoint_manifest(),
            "files": files,
            "libraries": library_versions(),
        }
        return meta, tensors, adapter_config

    def save(self, directory: str | Path) -> Path:
        """Write the fitted model to a self-describing folder.

        Contents: ``coco_pipe_model.json`` (config, classes, sfreq, channel names, input
        shape, weights, checkpoint manifest), ``head.safetensors``; ``lora``/``qlora``:
        ``adapter_config.json`` + ``adapter_model.safetensors`` (peft) and
        ``backbone_buffers.safetensors``; ``full`` and scratch nets: ``model.safetensors``;
        random-init backbones also ``base_model.safetensors`` (the unadapted weights, as
        nothing else could rebuild them). Files are written atomically.

        Examples
        --------
        >>> clf.save("run/adapter")  # doctest: +SKIP
        >>> NeuralDecoder.load("run/adapter").predict(X)  # doctest: +SKIP
        """
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta, tensors, adapter_config = self._bundle()
        for key, values in tensors.items():
            _save_tensors(directory / TENSOR_FILES[key], values)
        if adapter_config is not None:
            write_json(directory / meta["files"][ADAPTER_CONFIG_KEY], adapter_config)
        write_json(directory / MODEL_FILE, meta)
        self._saved_paths = sorted({*getattr(self, "_saved_paths", []), str(directory)})
        return directory

    def save_adapter(self, directory: str | Path) -> Path:
        """Save the LoRA adapter (peft layout) with the head and a ``coco_pipe_model.json``
        describing how to rebuild the backbone; ``lora``/``qlora`` only.

        Examples
        --------
        >>> clf.save_adapter("adapter/")  # doctest: +SKIP
        """
        self._check_fitted()
        if self.config_.train_mode not in ("lora", "qlora"):
            raise ValueError(
                f"save_adapter needs train_mode 'lora' or 'qlora', got {self.config_.train_mode!r}; "
                "use save()"
            )
        return self.save(directory)

    @classmethod
    def load(cls, directory: str | Path, *, device: str | None = None):
        """Rebuild a fitted decoder from a folder written by :meth:`save` / :meth:`save_adapter`.

        The backbone is rebuilt from its weights source (or the saved random-init base
        weights), quantised again for ``qlora``, the adapter and head are loaded; the
        result predicts exactly as the saved model on the same device.

        Raises
        ------
        FileNotFoundError
            When ``directory`` holds no ``coco_pipe_model.json``.
        ValueError
            When the rebuilt backbone's weights digest differs from the saved one.

        Examples
        --------
        >>> est = NeuralDecoder.load("adapter/")  # doctest: +SKIP
        """
        from safetensors.torch import load_file

        directory = Path(directory)
        path = directory / MODEL_FILE
        if not path.exists():
            raise FileNotFoundError(
                f"{str(directory)!r} holds no {MODEL_FILE}; not a saved NeuralDecoder"
            )
        meta = json.loads(path.read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} has format {meta.get('format')!r}, expected {FORMAT!r}")
        cfg = NeuralFineTuneConfig.model_validate(_upgrade_config(meta["config"]))
        if device is not None:
            cfg = cfg.model_copy(update={"device": cfg.device.model_copy(update={"device": device})})
        tensors: dict[str, dict[str, Any]] = {}
        adapter_config = None
        for key, name in meta["files"].items():
            if key == ADAPTER_CONFIG_KEY:
                adapter_config = json.loads((directory / name).read_text())
            else:
                tensors[key] = load_file(str(directory / name))
        ch_names = tuple(meta["ch_names"]) if meta["ch_names"] else None
        est = cls(sfreq=meta["sfreq"], ch_names=ch_names, task=meta["task"],
                  random_state=meta["random_state"], quiet=True, unit=meta.get("unit", "V"),
                  **{name: getattr(cfg, name) for name in cls._config_fields()})  # fmt: skip
        est.config_ = cfg
        est.sfreq_, est.ch_names_ = meta["sfreq"], ch_names
        est.n_channels_in_, est.n_times_in_ = int(meta["n_channels"]), int(meta["n_times"])
        est.n_outputs_ = int(meta["n_outputs"])
        est.seed_ = int(meta["seed"])
        est._rebuild(meta, tensors, adapter_config,
                     make_placement(cfg.device.device, cfg.device.precision).device)  # fmt: skip
        est.y_mean_, est.y_std_ = float(meta["y_mean"]), float(meta["y_std"])
        if meta["classes"] is not None:
            dtype = meta["classes_dtype"] if meta["classes_dtype"] != "object" else object
            est.classes_ = np.asarray(meta["classes"], dtype=dtype)
        est.precomputed_embeddings_ = bool(
            meta.get("precompute_embeddings", meta.get("use_cached_embeddings"))
        )
        est.cache_stats_ = {}
        est.history_ = []
        est.failed_ = False
        est.failure_reason_ = ""
        ck = meta.get("checkpoint", {})
        est.best_epoch_, est.best_value_ = ck.get("best_epoch"), ck.get("best_value")
        est.weights_epoch_ = ck.get("weights_epoch")
        est._train_diag, est._input_diag = {}, {}
        est._saved_paths = [str(directory)]
        return est

    def _rebuild(self, meta: dict, tensors: dict, adapter_config: dict | None, device) -> None:
        """Build the network described by a bundle on ``device`` and load its tensors."""
        cfg = self.config_
        scale = meta.get("adapt_scale")
        with seeded_rng(int(meta["seed"])):
            source = build_source(
                cfg, sfreq=meta["sfreq"], ch_names=meta["ch_names"], n_channels=meta["n_channels"],
                n_times=meta["n_times"], n_out=meta["n_outputs"],
                scale=scale if scale is not None else 1.0, X_train=None,
                seed=int(meta["seed"]), unit=meta.get("unit", "V"),
            )  # fmt: skip
            if (
                not source.scratch and "base_model" not in tensors and meta.get("weights_digest")
                and source.weights_digest and source.weights_digest != meta["weights_digest"]
            ):  # fmt: skip
                raise ValueError(
                    f"the rebuilt backbone's weights digest {source.weights_digest} differs from "
                    f"the saved {meta['weights_digest']}; the weights source changed since the "
                    "model was saved"
                )
            adapter = None
            if adapter_config is not None:
                adapter = (adapter_config, tensors["adapter_weights"])
            asm = assemble(cfg, source, n_out=meta["n_outputs"], device=device,
                           base_state=tensors.get("base_model"), adapter=adapter)  # fmt: skip
        network = asm.network
        with torch.no_grad():
            if "model" in tensors:
                network.load_state_dict(tensors["model"], strict=True)
            if "head" in tensors:
                network.head.load_state_dict(tensors["head"], strict=True)
            for name, value in tensors.get("backbone_buffers", {}).items():
                network.backbone.get_buffer(name).copy_(value)
        network.to(device).eval()
        self._adopt(asm, source, device)
        self.n_params_, self.n_trainable_params_ = count_params(network)

    def _adopt(self, asm, source, device) -> None:
        """Set the attributes that describe the built network (those pickling rebuilds)."""
        self.network_ = asm.network
        self._source = source
        self._base_state = asm.base_state
        self._lora_config = asm.lora_config
        self._lora_layers = asm.lora_layers
        self._quantized_layers = asm.quantized_layers
        self.device_ = str(device)

    # ------------------------------------------------------------------ pickling

    def __getstate__(self):
        state = dict(super().__getstate__())
        if "network_" in state:
            for key in _REBUILT:
                state.pop(key, None)
            state["_neural_bundle"] = self._bundle()
        return state

    def __setstate__(self, state):
        state = dict(state)
        bundle = state.pop("_neural_bundle", None)
        super().__setstate__(state)
        if bundle is not None:
            meta, tensors, adapter_config = bundle
            self._rebuild(meta, tensors, adapter_config, _available(self.device_))


def _available(device: str):
    """``device`` when this machine has it, else the CPU (a model fitted on a GPU
    unpickled on a CPU-only machine)."""
    dev = torch.device(device)
    if dev.type == "cuda" and (
        not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()
    ):
        return torch.device("cpu")
    return dev
