"""NeuralFineTuneConfig: model keys, the defaults of scratch networks and qlora, and the
embedding switches (precompute in memory vs the disk cache)."""

from __future__ import annotations

import pytest

from coco_pipe.decoding.configs import NeuralFineTuneConfig
from coco_pipe.decoding.configs.neural import _SCRATCH_KEYS
from coco_pipe.foundation.scratch import SCRATCH_SPECS


def test_scratch_config_defaults_and_model_key_validation():
    cfg = NeuralFineTuneConfig(model_key="deep4")
    assert (cfg.weights, cfg.train_mode) == ("random", "full")
    with pytest.raises(ValueError, match="weights must be 'random'"):
        NeuralFineTuneConfig(model_key="eegnet", weights="pretrained")
    with pytest.raises(ValueError, match="train_mode must be 'full'"):
        NeuralFineTuneConfig(model_key="eegnet", train_mode="lora")
    with pytest.raises(ValueError, match="unknown model_key 'eegnett'.*cbramod.*eegnet"):
        NeuralFineTuneConfig(model_key="eegnett")
    assert set(_SCRATCH_KEYS) == set(SCRATCH_SPECS)
    assert NeuralFineTuneConfig(model_key="cbramod", train_mode="qlora").quantization.enabled
    with pytest.raises(ValueError, match="needs quantization.enabled=True"):
        NeuralFineTuneConfig(
            model_key="cbramod", train_mode="qlora", quantization={"enabled": False}
        )
    with pytest.raises(ValueError, match="only used with train_mode='qlora'"):
        NeuralFineTuneConfig(model_key="cbramod", train_mode="lora", quantization={"enabled": True})


def test_cache_embeddings_means_the_disk_cache_as_for_frozen_backbones():
    from coco_pipe.decoding.configs import FoundationEmbeddingModelConfig

    neural = NeuralFineTuneConfig(model_key="cbramod")
    embed = FoundationEmbeddingModelConfig(model_key="cbramod")
    # same name, same meaning, same default: no disk cache unless asked for
    assert neural.cache_embeddings is embed.cache_embeddings is False
    assert neural.cache_dir is embed.cache_dir is None
    assert neural.precompute_embeddings  # the in-memory precompute has its own switch
    assert NeuralFineTuneConfig(model_key="cbramod", cache_embeddings=True).cache_embeddings
    with pytest.raises(ValueError, match="cache_embeddings=True caches a frozen backbone"):
        NeuralFineTuneConfig(model_key="cbramod", train_mode="lora", cache_embeddings=True)
    with pytest.raises(ValueError, match="set precompute_embeddings=True or cache_embeddings=False"):
        NeuralFineTuneConfig(model_key="cbramod", cache_embeddings=True, precompute_embeddings=False)
