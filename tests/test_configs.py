"""What to check before renting a GPU: every shipped config of a real dataset builds, trains,
checkpoints and resumes at its NATIVE frame size on the CPU.

The configs are listed from ``configs/`` (every ``*.yaml`` except those of the synthetic world
and the smoke config, ``NOT_REAL_DATA``), so a new config is checked without editing this file.
Per config, on a tiny dataset written here at the config's frame_shape (random-noise PNG strips
in FOMM's layout, ``train/`` and ``test/``), with the networks exactly as configured (sizes,
widths, losses, discriminator), and only these changes:

- ``train_params.perceptual_weights: random``: no VGG19 download (the same cost as ImageNet's);
- ``num_workers: 0``, ``batch_size: 1``, ``num_repeats: 1``, ``num_epochs: 1`` (then 2): one
  step per epoch on the one training video;
- a config with a regularizer mixes on every step (``mix_probability: 1``, no warm-up), so that
  its mask and mixed discriminator terms run at native size too (they would not in 2 steps);
- ``root_dir`` points at the tiny dataset.

One epoch is trained with ``pcutlib.training.loop.train``, then the run is resumed to epoch 2
(``resume=True``); the log must continue (steps increase, losses finite, epoch 1's rows kept) and
the last checkpoint must load (``load_models``). 25-83 s per config on 2 cores (two steps of
about 10 s are the floor at native size), so the native-size test is ``slow``: the full suite in
CI runs it. A config whose networks, losses and regularizer another config already trains at its
frame size is left out of it (``COVERED_AT_NATIVE_SIZE``, each with the keys where the two differ,
checked by a fast test); the full suite trains every other config there.
"""
from __future__ import annotations

import fnmatch
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from pcutlib.checkpoints.files import load_models
from pcutlib.config import load_config, resolve_config
from pcutlib.data.video_io import save_strip_png
from pcutlib.training.loop import train

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"
# configs that are not of a real dataset (glob patterns on the file's stem)
NOT_REAL_DATA = ("synthetic-64*", "smoke*")
TRAIN_VIDEOS, TEST_VIDEOS, FRAMES_PER_VIDEO = 1, 1, 3
# random VGG19 weights are chosen on purpose here (no download)
pytestmark = pytest.mark.filterwarnings("ignore:VGG19 with RANDOM weights")


def real_dataset_configs() -> list[str]:
    """Names (file stems) of the shipped configs of a real dataset, sorted."""
    stems = sorted(path.stem for path in CONFIGS.glob("*.yaml"))
    return [stem for stem in stems if not any(fnmatch.fnmatch(stem, pattern) for pattern in NOT_REAL_DATA)]


REAL_DATA_CONFIGS = real_dataset_configs()
# Configs left out of the slow native-size run (CI time): each names the config that trains at
# native size in its place and the only keys where the two differ once ``tiny_run_config`` has run
# (test_a_config_left_out_differs_from_its_stand_in_only_in_the_keys_it_names checks them). Every
# such key is one where the frame size does not enter, or one whose code another config trains at
# native size (the reason says which); every left-out config still loads in the listing test (the
# TPSMM ones also build in tests/test_backbones.py).
DATA_KEYS = {"dataset_params.pairs_list", "dataset_params.id_sampling"}
SCHEDULE_KEYS = {"train_params.checkpoint_freq", "train_params.epoch_milestones"}
COVERED_AT_NATIVE_SIZE = {
    "tpsmm-taichi-256": ("tpsmm-vox-256", {"dataset_params.pairs_list", "train_params.bg_start",
                                           "train_params.dropout_maxp", "train_params.dropout_startp"},
                         "the same networks, other data and schedule"),
    "tpsmm-vox-adv-256": ("tpsmm-vox-256", {"model_params.discriminator_params.sn",
                                            "train_params.loss_weights.generator_gan"},
                          "bair-256 and mgif-256 train this patch discriminator (spectral norm, no keypoints) at native size"),
    "tpsmm-vox-cutmix-256": ("tpsmm-vox-prioritycut-256", {"regularizer.type"}, "boxes instead of PriorityCut as masks"),
    "taichi-256": ("vox-256", {"dataset_params.pairs_list", "model_params.discriminator_params.sn"},
                   "at generator_gan 0 the discriminator is built but never trained"),
    "taichi-adv-256": ("vox-adv-256", {"dataset_params.pairs_list", "train_params.lr_kp_detector"},
                       "other data; the keypoint detector's rate 0 freezes it"),
    "vox-cutmix-256": ("vox-prioritycut-256", {"regularizer.type"}, "boxes instead of PriorityCut as masks"),
    "taichi-cutmix-256": ("vox-prioritycut-256", {"dataset_params.pairs_list", "regularizer.type"},
                          "other data; boxes as masks"),
    "taichi-prioritycut-256": ("vox-prioritycut-256", {"dataset_params.pairs_list"}, "other data"),
    "bair-cutmix-256": ("vox-prioritycut-256", DATA_KEYS | SCHEDULE_KEYS | {"regularizer.type"},
                        "other data and schedule; boxes as masks"),
    "bair-prioritycut-256": ("vox-prioritycut-256", DATA_KEYS | SCHEDULE_KEYS, "other data and schedule"),
}
NATIVE_SIZE_CONFIGS = [name for name in REAL_DATA_CONFIGS if name not in COVERED_AT_NATIVE_SIZE]


def write_tiny_dataset(root: Path, frame_shape: list[int], seed: int = 0) -> Path:
    """A FOMM-layout dataset under ``root``: ``train/`` and ``test/`` holding TRAIN_VIDEOS and
    TEST_VIDEOS videos of FRAMES_PER_VIDEO random-noise frames of ``frame_shape`` (H, W, 3), each
    a horizontal PNG strip named ``idNN#<split>NN.png`` (one identity per video, so id_sampling
    visits every video). Returns ``root``."""
    height, width, channels = frame_shape
    if channels != 3:
        raise ValueError(f"the tiny dataset writes RGB frames, got frame_shape {frame_shape}")
    generator = torch.Generator().manual_seed(seed)
    for split, count in (("train", TRAIN_VIDEOS), ("test", TEST_VIDEOS)):
        for number in range(count):
            frames = torch.rand(FRAMES_PER_VIDEO, 3, height, width, generator=generator)  # (T,3,H,W)
            save_strip_png(frames, root / split / f"id{number:02d}#{split}{number:02d}.png")
    return root


def tiny_run_config(name: str, data_root: Path) -> dict:
    """Config ``name`` as shipped, reading ``data_root``, changed only as the module docstring says."""
    config = load_config(CONFIGS / f"{name}.yaml")
    config["dataset_params"]["root_dir"] = str(data_root)
    config["train_params"].update(perceptual_weights="random", num_workers=0, batch_size=1, num_repeats=1,
                                  num_epochs=1)
    if config["regularizer"]["type"] != "none":
        config["regularizer"].update(mix_probability=1.0, mix_warmup_epochs=0.0)
    return resolve_config(config)


def read_log(run_dir: Path) -> list[dict]:
    """The rows of run_dir/log.jsonl."""
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if line.strip()]


LOG_FIELDS = ("step", "epoch", "mixed", "empty_foreground", "seconds")


def check_losses_finite(rows: list[dict]) -> None:
    """Every loss of every row is a finite number (and there is at least one loss per row)."""
    for row in rows:
        losses = {key: value for key, value in row.items() if key not in LOG_FIELDS}
        assert losses, f"log row without losses: {row}"
        bad = {key: value for key, value in losses.items() if not math.isfinite(value)}
        assert not bad, f"step {row['step']}: non-finite losses {bad}"


def flat_keys(config: dict, prefix: str = "") -> dict:
    """{"a.b.c": value} for every leaf of a nested config."""
    leaves = {}
    for key, value in config.items():
        leaves.update(flat_keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return leaves


@pytest.mark.parametrize("name", sorted(COVERED_AT_NATIVE_SIZE))
def test_a_config_left_out_differs_from_its_stand_in_only_in_the_keys_it_names(name, tmp_path):
    """A config left out of the native-size run trains what its stand-in trains there: the same
    frame shape and, as the native-size test changes both, the same values in every key but the
    ones COVERED_AT_NATIVE_SIZE names for it (the data folder aside), no more and no fewer."""
    stand_in, keys, reason = COVERED_AT_NATIVE_SIZE[name]
    assert name in REAL_DATA_CONFIGS and stand_in in NATIVE_SIZE_CONFIGS and reason
    left_out, trained = (flat_keys(tiny_run_config(n, tmp_path)) for n in (name, stand_in))
    differing = {key for key in left_out.keys() | trained.keys() if left_out.get(key) != trained.get(key)}
    assert differing == keys, f"{name} against {stand_in}: differs in {sorted(differing)}, named {sorted(keys)}"


def test_the_real_dataset_configs_are_found_and_load():
    """The listing finds the shipped real-data configs, and each loads with a square RGB frame_shape."""
    assert REAL_DATA_CONFIGS, f"no config of a real dataset in {CONFIGS}"
    for name in REAL_DATA_CONFIGS:
        frame_shape = load_config(CONFIGS / f"{name}.yaml")["dataset_params"]["frame_shape"]
        assert len(frame_shape) == 3 and frame_shape[2] == 3, f"{name}: frame_shape {frame_shape}"


@pytest.fixture
def run_dir(tmp_path):
    """tmp_path/run, its checkpoints deleted after the test: a native-size training checkpoint
    weighs about 0.7-0.95 GB and a run writes three, which pytest would keep for its last three
    sessions (some 30 GB for the configs of today)."""
    yield tmp_path / "run"
    shutil.rmtree(tmp_path / "run" / "checkpoints", ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", NATIVE_SIZE_CONFIGS)
def test_config_trains_checkpoints_and_resumes_at_native_size(name, tmp_path, run_dir):
    frame_shape = load_config(CONFIGS / f"{name}.yaml")["dataset_params"]["frame_shape"]
    config = tiny_run_config(name, write_tiny_dataset(tmp_path / "data", frame_shape))
    assert config["dataset_params"]["frame_shape"] == frame_shape

    train(config, run_dir, device="cpu", progress=False)
    first = read_log(run_dir)
    assert [row["epoch"] for row in first] == [1] * TRAIN_VIDEOS
    check_losses_finite(first)
    if config["train_params"]["loss_weights"]["generator_gan"] != 0:
        assert any(key.startswith("disc_") for key in first[0]), f"no discriminator loss in {sorted(first[0])}"
    if config["regularizer"]["type"] != "none":
        assert all(row["mixed"] for row in first), "the regularizer did not mix"

    config["train_params"]["num_epochs"] = 2
    train(config, run_dir, device="cpu", progress=False, resume=True)
    rows = read_log(run_dir)
    assert rows[:len(first)] == first, "the resume rewrote epoch 1's log rows"
    steps = [row["step"] for row in rows]
    assert steps == list(range(1, 2 * TRAIN_VIDEOS + 1)), f"steps {steps}"
    assert [row["epoch"] for row in rows[len(first):]] == [2] * TRAIN_VIDEOS
    check_losses_finite(rows)

    models, checkpoint = load_models(run_dir / "checkpoints" / "last.pt")
    assert (checkpoint["epoch"], checkpoint["step"]) == (2, steps[-1])
    assert checkpoint["config"]["dataset_params"]["frame_shape"] == frame_shape
    assert checkpoint["config"]["model_params"] == load_config(CONFIGS / f"{name}.yaml")["model_params"]
    assert (run_dir / "checkpoints" / "epoch-2.pt").is_file()
    parameters = [p for module in models.networks().values() for p in module.parameters()]
    assert parameters and all(torch.isfinite(p).all() for p in parameters)
