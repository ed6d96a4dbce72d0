"""Configs never lie: every bad value is refused with a message naming its key, before any work."""
import pytest

from pcutlib.cli import main
from pcutlib.config import load_config, resolve_config, set_by_path
from pcutlib.yaml_files import read_yaml

# (dotted key, bad value, words the message must hold)
BAD_VALUES = [
    ("model_params.discriminator_params.sn", "False", "true or false"),
    ("train_params.channels_last", "false", "true or false"),
    ("model_params.common_params.estimate_jacobian", "no", "true or false"),
    ("train_params.epoch_milestones", 60, "must be a list"),
    ("train_params.epoch_milestones", "1", "must be a list"),
    ("train_params.epoch_milestones", [0.5], "whole number"),
    ("dataset_params.frame_shape", "big", "must be a list"),
    ("dataset_params.frame_shape", [64, 0, 3], "at least 1"),
    ("train_params.num_epochs", 1.5, "whole number"),
    ("train_params.num_epochs", 0, "at least 1"),
    ("train_params.num_epochs", -1, "at least 1"),
    ("train_params.checkpoint_freq", 0, "at least 1"),
    ("train_params.log_every", 0, "at least 1"),
    ("model_params.common_params.num_kp", 0, "at least 1"),
    ("train_params.batch_size", "8", "whole number"),
    ("train_params.lr_generator", "2e-4", "write 2.0e-4"),
    ("train_params.lr_generator", -1.0, "at least 0"),
    ("regularizer.top_k_percent", 150, "between 0 and 100"),
    ("regularizer.mix_probability", 1.5, "between 0 and 1"),
    ("regularizer.type", 3, "must be text"),
    ("train_params.scales", [1, 0.5, "x"], "list of numbers"),
    ("model_params.kp_detector_params.temperature", None, "got null"),
]


@pytest.mark.parametrize("key, value, words", BAD_VALUES, ids=[f"{k}={v!r}" for k, v, _ in BAD_VALUES])
def test_bad_value_is_refused_naming_the_key(key, value, words):
    config = load_config("synthetic-64")
    set_by_path(config, key, value)
    with pytest.raises(ValueError) as error:
        resolve_config(config)
    assert key in str(error.value) and words in str(error.value), str(error.value)


@pytest.mark.parametrize("key, value, words", BAD_VALUES[:12], ids=[f"{k}={v!r}" for k, v, _ in BAD_VALUES[:12]])
def test_cli_exits_2_with_one_line(key, value, words, capsys, tmp_path):
    import yaml
    code = main(["train", "--config", "synthetic-64", "--run-dir", str(tmp_path / "run"),
                 "--set", f"{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"])
    err = capsys.readouterr().err
    assert code == 2
    assert key in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


def test_negative_epochs_flag_exits_2(capsys, tmp_path):
    assert main(["train", "--config", "synthetic-64", "--epochs", "-1", "--run-dir", str(tmp_path / "r")]) == 2
    assert "train_params.num_epochs" in capsys.readouterr().err


def test_good_configs_still_load():
    from pcutlib.paths import config_search_path
    names = sorted({p.stem for folder in config_search_path() for p in folder.glob("*.yaml")})
    assert "synthetic-64" in names and len(names) >= 10
    for name in names:
        load_config(name)


def test_duplicate_yaml_key_is_refused_with_its_line(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("dataset_params:\n  root_dir: data/x\ntrain_params:\n  num_epochs: 3\n  batch_size: 4\n"
                    "  num_epochs: 5\n")
    with pytest.raises(ValueError, match=r"duplicate key 'num_epochs' on line 6 \(first given on line 4\)"):
        load_config(path)
    with pytest.raises(ValueError, match="duplicate key"):
        read_yaml(path)


def test_yaml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("train_params: {num_epochs: 3\n")
    with pytest.raises(ValueError, match="broken.yaml: not valid YAML"):
        load_config(path)


def test_keys_pcut_ignores_are_named_in_a_warning():
    config = load_config("synthetic-64")
    set_by_path(config, "visualizer_params.kp_size", 9)
    set_by_path(config, "model_params.discriminator_params.use_kp", True)     # patch-only, D is unet here
    with pytest.warns(UserWarning, match="visualizer_params.kp_size, .*discriminator_params.use_kp"):
        resolve_config(config)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_config(load_config("vox-256"))          # FOMM's own values: no warning


def test_feature_matching_takes_one_weight_per_discriminator_block():
    config = load_config("synthetic-64")                        # U-Net discriminator, 4 encoder blocks
    set_by_path(config, "train_params.loss_weights.feature_matching", [10, 10, 10, 10])
    assert resolve_config(config)["train_params"]["loss_weights"]["feature_matching"] == [10, 10, 10, 10]
    set_by_path(config, "train_params.loss_weights.feature_matching", [10, 10, 10])
    with pytest.raises(ValueError, match=r"feature_matching is \[10, 10, 10\] \(3 weights\).*encoder block of the "
                                         r"U-Net.*num_blocks is 4"):
        resolve_config(config)
    set_by_path(config, "train_params.loss_weights.feature_matching", [0, 0, 0])     # off: any length
    resolve_config(config)
    set_by_path(config, "model_params.discriminator_params.kind", "patch")
    set_by_path(config, "train_params.loss_weights.feature_matching", [10, 10])
    with pytest.raises(ValueError, match=r"\[10, 10\] \(2 weights\).*block of the patch"):
        resolve_config(config)


def test_an_absurd_model_is_refused_before_allocating():
    import resource

    from pcutlib.models.build import build_models

    config = load_config("synthetic-64")
    set_by_path(config, "model_params.generator_params.block_expansion", 200_000)
    set_by_path(config, "model_params.generator_params.max_features", 200_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match=r"ask for [\d.]+ billion parameters .* GiB of float32 weights"):
        build_models(resolve_config(config)["model_params"])
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 2 * 2**20     # < 2 GiB (KiB units)


def test_the_finetune_config_file_is_what_the_demo_computes():
    from pcutlib.experiments.demo import demo_overrides, demo_recipe, finetune_config
    from pcutlib.experiments.recipes import apply_overrides

    config = resolve_config(apply_overrides(load_config("synthetic-64"), demo_overrides("synthetic-64", lambda _: None)))
    expected = finetune_config(config, demo_recipe()["finetune_epochs"], None)
    assert load_config("synthetic-64-prioritycut") == expected, "rerun: python tools/write_finetune_config.py"
    assert load_config("synthetic-64-demo") == config, "rerun: python tools/write_finetune_config.py"


def test_recipe_overrides_set_dotted_keys_and_refuse_an_unknown_one():
    from pcutlib.experiments.recipes import apply_overrides

    config = resolve_config(apply_overrides(load_config("synthetic-64"), {"train_params.lr_generator": 5e-4,
                                                                          "train_params.occlusion_warmup_epochs": 20}))
    assert config["train_params"]["lr_generator"] == 5e-4 and config["train_params"]["occlusion_warmup_epochs"] == 20
    with pytest.raises(ValueError, match="lr_generatr"):
        apply_overrides(load_config("synthetic-64"), {"train_params.lr_generatr": 5e-4})


def test_the_demo_says_its_overrides_and_keeps_them_to_its_own_config(monkeypatch):
    from pcutlib.experiments import demo

    recipe = {**demo.demo_recipe(), "overrides": {"train_params.lr_generator": 5e-4}}
    monkeypatch.setattr(demo, "demo_recipe", lambda: recipe)
    said = []
    assert demo.demo_overrides(recipe["config"], said.append) == {"train_params.lr_generator": 5e-4}
    assert demo.demo_overrides("smoke", said.append) == {}
    assert "lr_generator" in said[0] and "smoke is trained as it is" in said[1]
    said.clear()
    chosen = demo.demo_overrides(recipe["config"], said.append, [("train_params.lr_generator", 2e-4),
                                                                  ("train_params.num_epochs", 7)])
    assert chosen == {"train_params.lr_generator": 2e-4, "train_params.num_epochs": 7}
    assert "replaced" in said[1] and "num_epochs=7" in said[2]
    assert demo.demo_overrides("smoke", said.append, [("train_params.num_epochs", 7)]) == {"train_params.num_epochs": 7}


def test_a_finetune_uses_the_occlusion_map_from_its_first_step_whatever_the_base_warmed_up():
    from pcutlib.experiments.recipes import apply_overrides, variant, variant_config

    base = resolve_config(apply_overrides(load_config("synthetic-64"), {"train_params.occlusion_warmup_epochs": 20}))
    finetune = variant_config(base, variant("prioritycut-k10"), 6, 0)
    assert finetune["train_params"]["occlusion_warmup_epochs"] == 0
    assert base["train_params"]["occlusion_warmup_epochs"] == 20
