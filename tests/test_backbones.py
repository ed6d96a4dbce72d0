"""The backbone switch: a config chooses FOMM or TPSMM, and every command works with both.

Config checks, TPSMM through pcut's models, trainer, checkpoints and import, PriorityCut on
TPSMM, diagnose of TPSMM's masks, and compare-backbones' schedule scaling.
"""
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO, fixtures_dir, skip_or_fail, tiny_synthetic_world

from pcutlib.checkpoints.files import load_models, save_models
from pcutlib.checkpoints.importing import checkpoint_kind, import_checkpoint
from pcutlib.config import load_config, resolve_config
from pcutlib.experiments.backbones import markdown, scaled_schedule
from pcutlib.inference import animate_video, generate_frames, reconstruct_video
from pcutlib.models.build import build_models
from pcutlib.training.state import initialise_from
from pcutlib.training.step import train_step
from pcutlib.training.trainer import build_trainer

TPSMM_CONFIGS = sorted(p.stem for p in (REPO / "configs").glob("*.yaml") if "tpsmm" in p.stem)


def tpsmm_smoke(root=None) -> dict:
    config = load_config(REPO / "configs" / "smoke-tpsmm.yaml")
    if root is not None:
        config["dataset_params"]["root_dir"] = str(root)
    return resolve_config(config)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Many small convolutions: one thread is faster on 2 shared cores."""


# ---- configuration --------------------------------------------------------------------------

@pytest.mark.parametrize("name", TPSMM_CONFIGS)
def test_tpsmm_configs_load_with_their_backbone(name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = load_config(name)
    gives_avd = "avd_network_params" in (REPO / "configs" / f"{name}.yaml").read_text()
    assert any("avd_network_params" in str(w.message) for w in caught) == gives_avd     # accepted, said ignored
    assert config["backbone"] == "tpsmm"
    assert config["train_params"]["loss_weights"]["equivariance_jacobian"] == 0      # no jacobians: off
    counts = {n: sum(p.numel() for p in m.parameters())
              for n, m in build_models(config["model_params"], backbone="tpsmm").networks().items()}
    assert counts["kp_detector"] > 11_000_000                                         # TPSMM's ResNet-18


def test_a_key_of_the_other_backbone_is_an_error_naming_it():
    smoke = yaml.safe_load((REPO / "configs" / "smoke-tpsmm.yaml").read_text())
    smoke["train_params"]["loss_weights"]["equivariance_jacobian"] = 10
    with pytest.raises(ValueError, match=r"equivariance_jacobian is 10.*backbone: tpsmm.*no jacobians"):
        resolve_config(smoke)
    fomm = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    fomm["train_params"]["bg_start"] = 3
    with pytest.raises(ValueError, match=r"bg_start is 3.*backbone: fomm"):
        resolve_config(fomm)
    fomm = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    fomm["model_params"]["common_params"]["num_tps"] = 3             # TPSMM's key in FOMM's model_params
    with pytest.raises(ValueError, match=r"unknown config key 'model_params.common_params.num_tps'"):
        resolve_config(fomm)
    with pytest.raises(ValueError, match=r"backbone.*fomm, tpsmm.*'tpsm'"):
        resolve_config({**yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text()), "backbone": "tpsm"})


def test_multi_mask_needs_four_scales():
    config = tpsmm_smoke()
    config["model_params"]["generator_params"]["num_down_blocks"] = 2
    with pytest.raises(ValueError, match=r"num_down_blocks = 3.*got 2"):
        build_models(config["model_params"], backbone="tpsmm")


# ---- models, inference, checkpoints ---------------------------------------------------------

def test_tpsmm_models_are_called_as_fomm_models():
    config = tpsmm_smoke()
    models = build_models(config["model_params"], backbone="tpsmm").eval()
    assert list(models.networks()) == ["kp_detector", "bg_predictor", "dense_motion_network", "inpainting_network",
                                       "discriminator"]
    video = torch.rand(3, 3, 32, 32)
    out = reconstruct_video(models, video)
    assert out["prediction"].shape == (3, 3, 32, 32) and out["occlusion_map"].shape == (3, 1, 32, 32)
    assert out["region_mask"].shape == (3, 3, 32, 32)                    # K + 1 contribution maps on O's grid
    assert [m.shape[-1] for m in out["occlusion_maps"]] == [4, 8, 16, 32]   # coarse to fine
    one = generate_frames(models.generator, video[:1], {"value": out_kp(models, video[:1])},
                          {"value": out_kp(models, video)}, batch_size=2)
    torch.testing.assert_close(one["prediction"], out["prediction"])       # batches join as one call
    animation = animate_video(models.kp_detector, models.generator, video[0], video)
    assert animation["kp_driving"].shape == (3, 10, 2)                      # 5 keypoints per TPS


def out_kp(models, frames):
    with torch.no_grad():
        return models.kp_detector(frames)["value"]


def test_pcut_checkpoint_of_tpsmm_round_trips(tmp_path):
    config = tpsmm_smoke()
    models = build_models(config["model_params"], backbone="tpsmm").eval()
    save_models(tmp_path / "m.pt", models, config)
    stored = torch.load(tmp_path / "m.pt", weights_only=True)
    assert {"inpainting_network", "dense_motion_network", "bg_predictor"} <= set(stored)     # TPSMM's names
    loaded, checkpoint = load_models(tmp_path / "m.pt")
    video = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(reconstruct_video(loaded, video)["prediction"],
                               reconstruct_video(models, video)["prediction"])


def test_a_checkpoint_of_the_other_backbone_is_refused_naming_both(tmp_path):
    fomm = load_config(REPO / "configs" / "smoke.yaml")
    save_models(tmp_path / "fomm.pt", build_models(fomm["model_params"]), fomm)
    trainer = build_trainer(tpsmm_smoke(), torch.device("cpu"))
    with pytest.raises(ValueError, match=r"backbone: fomm model, but this config trains backbone: tpsmm"):
        initialise_from(trainer, tmp_path / "fomm.pt")
    fomm_models = build_models(fomm["model_params"])
    torch.save({name: m.state_dict() for name, m in fomm_models.networks().items()}, tmp_path / "fomm.pth.tar")
    with pytest.raises(ValueError, match=r"FOMM's networks \(generator, ...\), but the config is backbone: tpsmm"):
        import_checkpoint(tmp_path / "fomm.pth.tar", tpsmm_smoke(), tmp_path / "x.pt")
    out = import_checkpoint(tmp_path / "fomm.pth.tar", fomm, tmp_path / "imported.pt")        # FOMM's own: fine
    assert checkpoint_kind(torch.load(out, weights_only=True)) == "pcut"


def test_tpsmm_fixture_imports_and_runs_as_the_reference(tmp_path):
    """TPSMM's state dicts of the reference fixture through `pcut import-checkpoint`, then
    through load_models: the generator gives the fixture's prediction (float32 noise)."""
    folder = fixtures_dir()
    if folder is None or not (folder / "tpsmm_reference_small.pt").is_file():
        skip_or_fail("tpsmm_reference_small.pt not found: set PCUT_FIXTURES")
    reference = torch.load(folder / "tpsmm_reference_small.pt", weights_only=True)
    torch.save({**reference["state_dicts"], "epoch": 7}, tmp_path / "tpsmm.pth.tar")
    size = reference["inputs"]["source"].shape[-1]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"backbone": "tpsmm", "model_params": reference["model_params"],
                                                     "dataset_params": {"root_dir": "x", "frame_shape": [size, size, 3]}}))
    done = subprocess.run([sys.executable, "-m", "pcutlib.cli", "import-checkpoint", "--config", str(tmp_path / "c.yaml"),
                           "--checkpoint", str(tmp_path / "tpsmm.pth.tar"), "--out", str(tmp_path / "m.pt")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    models, checkpoint = load_models(tmp_path / "m.pt")
    assert checkpoint["epoch"] == 7
    source, driving = reference["inputs"]["source"], reference["inputs"]["driving"]
    with torch.no_grad():
        out = models.generator(source, kp_source=models.kp_detector(source), kp_driving=models.kp_detector(driving),
                               bg_param=models.generator.background_motion(source, driving))
    expected = reference["outputs"]["generated"]["prediction"]
    torch.testing.assert_close(out["prediction"], expected, rtol=0, atol=1e-4 * max(1.0, float(expected.abs().max())))


# ---- training ---------------------------------------------------------------------------------

def test_prioritycut_on_tpsmm_mixes_along_the_finest_occlusion_mask():
    config = tpsmm_smoke()
    trainer = build_trainer(config, torch.device("cpu"))
    batch = {"source": torch.rand(2, 3, 32, 32), "driving": torch.rand(2, 3, 32, 32)}
    result = train_step(trainer, batch, epoch_float=1.5)
    assert result.mixing.mixed and result.mixing.mask.shape == (2, 1, 32, 32)
    from pcutlib.prioritycut import prioritycut_mask
    expected = prioritycut_mask(result.generated["occlusion_map"], result.generated["region_mask"], 30.0,
                                size=(32, 32))
    torch.testing.assert_close(result.mixing.mask, expected)
    assert {"bg", "warp_loss", "equivariance_value", "reconstruction", "gen_unet_decoder", "consistency"} <= set(result.losses)


@pytest.mark.slow
def test_pcut_train_reconstruct_and_diagnose_a_tpsmm(tmp_path):
    root, _ = tiny_synthetic_world(tmp_path / "world", seed=3)
    config = tpsmm_smoke(root)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    command = [sys.executable, "-m", "pcutlib.cli"]
    done = subprocess.run(command + ["train", "--config", str(tmp_path / "c.yaml"), "--run-dir", str(run),
                                     "--no-progress"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    last = run / "checkpoints" / "last.pt"
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert {"bg", "warp_loss"} <= set(rows[-1]) and "bg" not in rows[0]          # the background from bg_start
    for args in (["reconstruct", "--checkpoint", str(last), "--max-videos", "1", "--out", str(tmp_path / "rec")],
                 ["diagnose", "--checkpoint", str(last), "--data", str(root), "--max-videos", "2",
                  "--json", str(tmp_path / "diagnosis.json"), "--no-progress"]):
        done = subprocess.run(command + args, capture_output=True, text=True)
        assert done.returncode == 0, (args[0], done.stderr[-2000:])
    diagnosis = json.loads((tmp_path / "diagnosis.json").read_text())
    masks = diagnosis["occlusion_auc_by_mask"] if "occlusion_auc_by_mask" in diagnosis else \
        diagnosis["diagnoses"][0]["occlusion_auc_by_mask"]
    assert [m["size"] for m in masks] == [4, 8, 16, 32]


# ---- compare-backbones -----------------------------------------------------------------------

def test_schedule_scales_with_the_epochs_that_fit():
    config = load_config("synthetic-64-tpsmm")
    scaled = scaled_schedule(config, 30)
    train = scaled["train_params"]
    assert train["num_epochs"] == 30 and train["epoch_milestones"] == [18, 26]          # 72, 102 of 120
    assert (train["dropout_epoch"], train["dropout_inc_epoch"]) == (10, 2)              # 40, 10 of 120
    fomm = scaled_schedule(load_config("synthetic-64"), 60)["train_params"]
    assert fomm["epoch_milestones"] == [36, 51] and fomm["region_dropout"]["until_epoch"] == 40


def test_backbone_table_puts_baselines_beside_both():
    record = {"recipe": "r", "seconds_per_step": 0.3, "epochs": 10, "steps": 250, "train_minutes": 1.5,
              "num_keypoints": 10, "distinct_keypoints": 7.0, "silhouette_iou": 0.8, "copy_silhouette_iou": 0.4,
              "occlusion_auc": 0.6, "rule_auc": 0.95}
    table = markdown([{**record, "backbone": "fomm"},
                      {**record, "backbone": "tpsmm", "num_keypoints": 50,
                       "occlusion_auc_by_mask": [{"size": 8, "pooled": 0.5, "foreground": 0.5, "figure": 0.5}]}])
    assert "| silhouette IoU | 0.800 | 0.800 | 0.400 (copy) |" in table
    assert "| O AUC vs true dis-occlusion, pooled | 0.600 | 0.600 | 0.950 (no-model rule) |" in table
    assert "| 8x8 | 0.500 | 0.500 | 0.500 |" in table
    differing = markdown([{**record, "backbone": "fomm", "rule_auc_foreground": 0.8},
                          {**record, "backbone": "tpsmm", "rule_auc_foreground": 0.85}])
    assert "| 0.800 / 0.850 (no-model rule) |" in differing          # the rule inside each model's foreground


@pytest.mark.slow
def test_pcut_experiment_runs_on_tpsmm(tmp_path):
    """`pcut experiment --quick` with a TPSMM config: every variant trains TPSMM's networks and the
    report is written."""
    done = subprocess.run([sys.executable, "-m", "pcutlib.cli", "experiment", "--quick", "--config", "smoke-tpsmm",
                           "--setting", "finetune", "--seeds", "0", "--runs", str(tmp_path), "--no-progress", "--device", "cpu"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "results" / "experiment-finetune" / "experiment.md").is_file()
    stored = torch.load(tmp_path / "finetune" / "prioritycut-k10-seed0" / "checkpoints" / "last.pt", weights_only=True)
    assert stored["config"]["backbone"] == "tpsmm" and "inpainting_network" in stored
