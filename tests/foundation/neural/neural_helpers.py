"""Constants and config helpers of the NeuralDecoder tests (imported by the test modules of
this folder)."""

from __future__ import annotations

from coco_pipe.decoding.builders import neural_decoder_params
from coco_pipe.decoding.configs import NeuralFineTuneConfig, OptimConfig, QuantizationConfig
from coco_pipe.foundation.neural import NeuralDecoder
from coco_pipe.foundation.specs import ESTIMATOR_SPECS

CHS = ["C3", "Cz", "C4", "FC3", "FC4", "CP3", "CP4", "Pz"]
SFREQ = 200.0
SCRATCH_CHS = ["C3", "Cz", "C4", "Pz"]
SCRATCH_SFREQ = 64.0  # small windows keep the tests fast; scratch_sfreq=64 skips resampling
# small variants sized for 2 s at 64 Hz
SMALL = {
    "eegnet": {"F1": 4, "D": 2, "kernel_length": 16, "pool1_kernel_size": 4, "pool2_kernel_size": 4},
    "shallow_fbcsp": {"n_filters_time": 8, "n_filters_spat": 8, "filter_time_length": 9,
                      "pool_time_length": 24, "pool_time_stride": 6},
    "deep4": {"n_filters_time": 8, "n_filters_spat": 8, "n_filters_2": 8, "n_filters_3": 8,
              "n_filters_4": 8, "filter_time_length": 5, "filter_length_2": 5, "filter_length_3": 5,
              "filter_length_4": 5, "pool_time_length": 2, "pool_time_stride": 2},
}  # fmt: skip


def cbramod_cfg(mode: str, **kw) -> NeuralFineTuneConfig:
    base = dict(
        model_key="cbramod", weights="random", train_mode=mode,
        model_kwargs=ESTIMATOR_SPECS["cbramod"].small_kwargs,
        optim=OptimConfig(epochs=2, batch_size=16, lr=1e-3),
        quantization=QuantizationConfig(enabled=mode == "qlora", compute_dtype="float32"),
    )  # fmt: skip
    base.update(kw)
    return NeuralFineTuneConfig(**base)


def scratch_cfg(key: str, epochs: int = 10, **kw) -> NeuralFineTuneConfig:
    kw = {"scratch_sfreq": SCRATCH_SFREQ, **kw}
    return NeuralFineTuneConfig(
        model_key=key, model_kwargs=SMALL[key],
        optim=OptimConfig(epochs=epochs, batch_size=16, lr=3e-3), early_stopping_patience=None, **kw,
    )  # fmt: skip


def decoder(cfg: NeuralFineTuneConfig, **kw) -> NeuralDecoder:
    """The NeuralDecoder of a config (as build_estimator maps it), with extra arguments."""
    return NeuralDecoder(**neural_decoder_params(cfg), **kw)
