"""list_foundation_models() renders ESTIMATOR_SPECS row by row."""

from __future__ import annotations

from coco_pipe import list_foundation_models as top_level
from coco_pipe.foundation.listing import list_foundation_models
from coco_pipe.foundation.specs import ESTIMATOR_SPECS

REQUIRED = [
    "Model",
    "Hub repo",
    "Emb. dim",
    "sfreq",
    "Channels",
    "Interpolation",
    "Train modes",
    "Backend",
    "License",
]


def test_lists_all_eight_models_with_the_required_columns():
    df = list_foundation_models()
    assert set(REQUIRED) <= set(df.columns)
    assert sorted(df["Model"]) == sorted(ESTIMATOR_SPECS) and len(df) == 8
    assert top_level().equals(df)


def test_rows_are_rendered_from_the_specs():
    df = list_foundation_models().set_index("Model")
    for key, s in ESTIMATOR_SPECS.items():
        row = df.loc[key]
        assert row["Hub repo"] == s.hub_repo
        assert row["Emb. dim"] == s.emb_dim and row["sfreq"] == s.sfreq
        assert row["Train modes"] == ", ".join(s.train_modes)
        assert row["Backend"] == ", ".join(s.backends)
        if s.channel_mode == "interpolated":
            assert row["Interpolation"] == s.interpolated_class
        if s.n_chans:
            assert str(s.n_chans) in row["Channels"]
    assert df.loc["cbramod", "Channels"] == "any"
    assert df.loc["labram", "Interpolation"] == "no"


def test_seed_import_paths_still_list_the_models():
    from coco_pipe.decoding import list_foundation_models as from_decoding
    from coco_pipe.decoding._specs import ESTIMATOR_SPECS as seed_specs
    from coco_pipe.decoding.foundation_models import list_foundation_models as from_seed_path

    assert seed_specs is ESTIMATOR_SPECS
    for lister in (from_decoding, from_seed_path, top_level):
        assert list(lister()["Model"]) == list(ESTIMATOR_SPECS)


def test_licences_are_listed_and_a_no_derivatives_licence_has_a_note():
    from coco_pipe.foundation.specs import licence_note

    df = list_foundation_models().set_index("Model")
    assert df.loc["luna", "License"] == "CC-BY-ND-4.0"
    assert df.loc["labram", "License"] == df.loc["cbramod", "License"] == "MIT"
    assert df.loc["eegpt", "License"] == "Apache-2.0"
    assert all(isinstance(v, str) and v for v in df["License"])
    assert "official labram-base.pth" in df.loc["labram", "Layouts"]
    forbid = {k for k, s in ESTIMATOR_SPECS.items() if s.license_forbids_derivatives}
    assert forbid == {"luna"}
    assert "forbids distributing derivatives" in licence_note("luna")
    assert all(licence_note(k) is None for k in ESTIMATOR_SPECS if k not in forbid)
    assert licence_note("eegnet") is None  # scratch networks: no pretrained weights
