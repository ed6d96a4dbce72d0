"""`pcut calibrate`: its rows (configs/recipes/calibration.yaml) resolve to the configs they say,
a bad row is refused with its name, and a row trains, is diagnosed and lands in the table."""
from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import block_of, calibration_rows, sentences_of

from pcutlib.data.synthetic import World
from pcutlib.experiments import calibration

REPO = Path(__file__).resolve().parent.parent


def test_every_row_resolves_with_the_schedule_and_its_overrides():
    recipe = calibration.calibration_recipe()
    assert len(recipe["rows"]) >= 10
    for name, row in recipe["rows"].items():
        if "finetune" in row:
            continue                                              # fine-tune rows: the next test
        config = calibration.variant_config(name, Path("data/x"), None)
        assert config["dataset_params"]["root_dir"] == "data/x" and config["train_params"]["num_workers"] == 0
        expected_epochs = row["overrides"].get("train_params.num_epochs", recipe["schedule"]["train_params.num_epochs"])
        assert config["train_params"]["num_epochs"] == expected_epochs, name
        assert isinstance(row["world"], World) and row["note"], name
    no_jacobian = calibration.variant_config("no-jacobian", Path("d"), None)
    assert no_jacobian["model_params"]["common_params"]["estimate_jacobian"] is False
    assert no_jacobian["model_params"]["generator_params"]["num_down_blocks"] == 1          # merged block
    assert calibration.variant_config("baseline", Path("d"), 3)["train_params"]["num_epochs"] == 3   # --epochs wins


def test_fine_tune_rows_are_their_base_plus_the_prioritycut_fine_tune():
    recipe = calibration.calibration_recipe()
    fine_tunes = {name: row for name, row in recipe["rows"].items() if "finetune" in row}
    assert fine_tunes
    for name, row in fine_tunes.items():
        base = calibration.variant_config(row["base"], Path("d"), None)
        config = calibration.variant_config(name, Path("d"), None)
        assert row["world"] == recipe["rows"][row["base"]]["world"]
        assert config["model_params"] == base["model_params"], name             # the base's networks
        assert config["regularizer"]["type"] == "prioritycut" and config["train_params"]["loss_weights"]["generator_gan"] > 0
        assert config["train_params"]["num_epochs"] == row["finetune"]["epochs"]
        for key, value in row["finetune"]["overrides"].items():
            section, leaf = key.rsplit(".", 1)
            assert config[section.split(".")[0]][leaf] == value, (name, key)


def test_a_bad_fine_tune_row_is_named(tmp_path, monkeypatch):
    recipe = small_recipe()
    recipe["rows"]["tuned"] = {"note": "n", "base": "nothing", "finetune": {"epochs": 1, "overrides": {}}}
    monkeypatch.chdir(fake_clone(tmp_path / "clone", recipe))
    with pytest.raises(ValueError, match=r"row 'tuned': base 'nothing' is not a training row above it"):
        calibration.calibration_recipe()
    recipe["rows"]["tuned"] = {"note": "n", "base": "tiny", "finetune": {"epochs": 1}}
    (tmp_path / "clone" / "configs" / "recipes" / "calibration.yaml").write_text(yaml.safe_dump(recipe))
    with pytest.raises(ValueError, match=r"row 'tuned': finetune \{'epochs': 1\}; expected keys \['epochs', 'overrides'\]"):
        calibration.calibration_recipe()


def test_a_continued_row_starts_from_its_base_on_its_own_world(tmp_path, monkeypatch):
    """A row {note, base, world, overrides} trains its base first, then its own config on its own
    world from the base's last checkpoint; a base that is not a training row above it is named."""
    recipe = small_recipe()
    recipe["rows"]["tiny-grained"] = {"note": "tiny's weights on a grained world", "base": "tiny",
                                 "world": {"limb_motion": 0.6, "background_texture": 20}, "overrides": {}}
    monkeypatch.chdir(fake_clone(tmp_path / "clone", recipe))
    rows = calibration.calibration_recipe()["rows"]
    assert rows["tiny-grained"]["world"] == World(background_texture=20) and rows["tiny-grained"]["base"] == "tiny"
    monkeypatch.setattr(calibration, "world_data", lambda world, seed, videos, data_dir, progress:
                        data_dir / f"{calibration.world_name(world)}-seed{seed}")
    calls = []

    def fake_train(config, run_dir, init_from=None, **kwargs):
        calls.append((config["dataset_params"]["root_dir"], Path(run_dir).name, init_from))
        Path(run_dir).mkdir(parents=True)
    monkeypatch.setattr(calibration, "train", fake_train)
    assert calibration.run_variant("tiny-grained", tmp_path / "runs", tmp_path / "data", progress=False, diagnose_it=False) == {}
    assert calls == [(str(tmp_path / "data" / "h62-m60-seed0"), "tiny", None),
                     (str(tmp_path / "data" / "h62-m60-grain20-seed0"), "tiny-grained",
                      tmp_path / "runs" / "tiny" / "checkpoints" / "last.pt")]
    config = calibration.variant_config("tiny-grained", Path("d"), None)
    assert config["regularizer"]["type"] != "prioritycut" and config["train_params"]["num_epochs"] == 1
    recipe["rows"]["twice"] = {"note": "n", "base": "tiny-grained", "world": {}, "overrides": {}}
    (tmp_path / "clone" / "configs" / "recipes" / "calibration.yaml").write_text(yaml.safe_dump(recipe))
    with pytest.raises(ValueError, match=r"row 'twice': base .tiny-grained. is not a training row above it"):
        calibration.calibration_recipe()


def test_a_started_row_continues_a_committed_checkpoint(tmp_path, monkeypatch):
    """A row {note, start, world, overrides} trains its own config from the file ``start`` names
    (no base row trains first); a start that is not a file is named."""
    recipe = small_recipe()
    recipe["rows"]["tiny-on"] = {"note": "the committed weights trained on", "start": "pretrained/start.pt",
                                 "world": {"limb_motion": 0.6}, "overrides": {"train_params.loss_weights.occlusion_revealed": 1.0}}
    clone = fake_clone(tmp_path / "clone", recipe)
    monkeypatch.chdir(clone)
    assert calibration.calibration_recipe()["rows"]["tiny-on"]["start"] == "pretrained/start.pt"
    monkeypatch.setattr(calibration, "world_data", lambda world, seed, videos, data_dir, progress:
                        data_dir / f"{calibration.world_name(world)}-seed{seed}")
    with pytest.raises(ValueError, match=r"calibration row 'tiny-on': start 'pretrained/start.pt' is not a file"):
        calibration.run_variant("tiny-on", tmp_path / "runs", tmp_path / "data", progress=False, diagnose_it=False)
    (clone / "pretrained").mkdir(exist_ok=True)
    (clone / "pretrained" / "start.pt").write_bytes(b"weights")
    calls = []

    def fake_train(config, run_dir, init_from=None, **kwargs):
        calls.append((Path(run_dir).name, init_from, config["train_params"]["loss_weights"]["occlusion_revealed"]))
        Path(run_dir).mkdir(parents=True)
    monkeypatch.setattr(calibration, "train", fake_train)
    assert calibration.run_variant("tiny-on", tmp_path / "runs", tmp_path / "data", progress=False, diagnose_it=False) == {}
    assert calls == [("tiny-on", Path("pretrained/start.pt"), 1.0)]


def test_world_names():
    assert calibration.world_name(World(limb_motion=1.0)) == "h62"
    assert calibration.world_name(World(figure_height=0.7, limb_width=1.3, limb_motion=0.6)) == "h70-w130-m60"
    assert calibration.world_name(World(figure_height=0.75, texture=True, limb_motion=1.0)) == "h75-textured"
    assert calibration.world_name(World(background_texture=20)) == "h62-m60-grain20"
    assert calibration.world_name(World(background_texture=20, background_grain_scale=3)) == "h62-m60-grain20x3"
    assert calibration.world_name(World(part_grain=True)) == "h62-m60-partgrain"


def fake_clone(folder: Path, recipe: dict) -> Path:
    """A folder that pcutlib.paths takes for a clone, holding synthetic-64 and ``recipe``."""
    (folder / "pcutlib").mkdir(parents=True)
    (folder / "pyproject.toml").write_text("")
    (folder / "configs" / "recipes").mkdir(parents=True)
    shutil.copy(REPO / "configs" / "synthetic-64.yaml", folder / "configs")
    for other in ("demo", "experiment"):                 # a fine-tune row is the demo's fine-tune variant
        shutil.copy(REPO / "configs" / "recipes" / f"{other}.yaml", folder / "configs" / "recipes")
    (folder / "configs" / "recipes" / "calibration.yaml").write_text(yaml.safe_dump(recipe))
    return folder


def small_recipe(**row) -> dict:
    return {"train_seed": 0, "check_seed": 1, "train_videos": 10, "check_videos": 6,
            "schedule": {"train_params.num_epochs": 1, "train_params.batch_size": 4},
            "rows": {"tiny": {"note": "a tiny run", "world": {"limb_motion": 0.6}, "overrides": {}, **row}}}


def test_a_bad_row_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(fake_clone(tmp_path / "clone", small_recipe(world={"limb_moton": 0.6})))
    with pytest.raises(ValueError, match=r"row 'tiny': world \{'limb_moton': 0.6\}"):
        calibration.calibration_recipe()
    (tmp_path / "clone" / "configs" / "recipes" / "calibration.yaml").write_text(
        yaml.safe_dump(small_recipe(colour="red")))
    with pytest.raises(ValueError, match=r"row 'tiny' has keys \['colour', 'note', 'overrides', 'world'\]"):
        calibration.calibration_recipe()


def test_unknown_variant_is_named(tmp_path):
    args = argparse.Namespace(variants=["baseline", "no-such-row"], runs=tmp_path, data_dir=tmp_path,
                              results=tmp_path, epochs=1, no_progress=True, device="cpu")
    with pytest.raises(ValueError, match=r"unknown calibration variants \['no-such-row'\]"):
        calibration.run_calibrate(args)


@pytest.mark.slow
def test_a_row_trains_is_diagnosed_and_tabled(tmp_path, monkeypatch):
    monkeypatch.chdir(fake_clone(tmp_path / "clone", small_recipe()))
    args = argparse.Namespace(variants=["tiny"], runs=tmp_path / "runs", data_dir=tmp_path / "data",
                              results=tmp_path / "results", epochs=None, no_progress=True, device="cpu")
    assert calibration.run_calibrate(args) == 0
    row = json.loads((tmp_path / "results" / "calibration.jsonl").read_text().splitlines()[0])
    assert row["variant"] == "tiny" and row["world"] == "h62-m60" and row["epochs"] == 1 and row["device"] == "cpu"
    assert 0 <= row["silhouette_iou"] <= 1 and row["num_keypoints"] == 10
    table = (tmp_path / "results" / "calibration.md").read_text()
    assert "| tiny | h62-m60 |" in table and "seed 0, 10 videos" in table and "seed 1 (6 videos" in table
    args.max_videos = 1
    assert calibration.run_calibrate(args) == 0           # finished: diagnosed again, not retrained
    lines = (tmp_path / "results" / "calibration.jsonl").read_text().splitlines()
    assert len(lines) == 2 and (json.loads(lines[1])["videos"], json.loads(lines[1])["max_videos"]) == (1, 1)
    assert "| tiny (1 test videos) | h62-m60 |" in (tmp_path / "results" / "calibration.md").read_text()
    args.seeds, args.max_videos = [0, 1], None            # seed 0 is the run above; seed 1 trains
    assert calibration.run_calibrate(args) == 0
    assert (tmp_path / "runs" / "tiny-seed1" / "checkpoints" / "last.pt").is_file()
    rows = [json.loads(line) for line in (tmp_path / "results" / "calibration.jsonl").read_text().splitlines()]
    assert [row["seed"] for row in rows] == [0, 0, 0, 1]
    table = (tmp_path / "results" / "calibration.md").read_text()
    assert "| tiny seed 1 | h62-m60 |" in table and "## Over training seeds" in table
    assert next(line for line in table.splitlines() if line.startswith("| tiny | 1 | 0, 1 |"))


@pytest.mark.slow
def test_a_fine_tune_row_trains_its_base_then_measures_its_discriminator(tmp_path, monkeypatch):
    recipe = small_recipe()
    recipe["rows"]["tuned"] = {"note": "tiny, then PriorityCut", "base": "tiny",
                               "finetune": {"epochs": 2, "overrides": {"train_params.discriminator_warmup_epochs": 1}}}
    monkeypatch.chdir(fake_clone(tmp_path / "clone", recipe))
    args = argparse.Namespace(variants=["tuned"], runs=tmp_path / "runs", data_dir=tmp_path / "data",
                              results=tmp_path / "results", epochs=None, no_progress=True, device="cpu")
    assert calibration.run_calibrate(args) == 0
    assert (tmp_path / "runs" / "tiny" / "checkpoints" / "last.pt").is_file()          # the base, trained first
    row = json.loads((tmp_path / "results" / "calibration.jsonl").read_text())
    assert row["variant"] == "tuned" and row["base"] == "tiny" and row["epochs"] == 2
    assert 0 <= row["d_image_auc"] <= 1 and 0 <= row["d_pixel_auc_true_disocclusion"] <= 1
    table = (tmp_path / "results" / "calibration.md").read_text()
    line = next(line for line in table.splitlines() if line.startswith("| tuned |"))
    assert f"| {row['d_image_auc']:.3f} / {row['d_pixel_auc_true_disocclusion']:.3f} |" in line


def test_a_rows_minutes_name_the_device_they_were_measured_on(tmp_path):
    """minutes.txt holds the minutes and the device; an older one, the minutes alone (a CPU's)."""
    minutes, device = calibration.minutes_of(tmp_path)                              # none yet
    assert minutes != minutes and device == "cpu"                                    # nan
    (tmp_path / "minutes.txt").write_text("12.30\n")
    assert calibration.minutes_of(tmp_path) == (12.3, "cpu")
    (tmp_path / "minutes.txt").write_text("1.42 cuda\n")
    assert calibration.minutes_of(tmp_path) == (1.42, "cuda")
    assert calibration._minutes_cell({"minutes": 1.42, "device": "cuda"}) == "1.4 on cuda"
    assert calibration._minutes_cell({"minutes": 12.3}) == "12.3"


def test_training_seeds_have_their_own_runs_and_a_spread_table():
    assert calibration.run_dir_of(Path("runs"), "tiny", 0) == Path("runs/tiny")
    assert calibration.run_dir_of(Path("runs"), "tiny", 3) == Path("runs/tiny-seed3")
    config = calibration.variant_config("small-motion+full-res", Path("data/x"), None, seed=4)
    assert config["train_params"]["seed"] == 4
    assert calibration.variant_config("small-motion+full-res", Path("data/x"), None)["train_params"]["seed"] == 0
    row = {"variant": "a", "epochs": 90, "silhouette_iou": 0.7, "distinct_keypoints": 5.0, "probe_px": 2.0,
           "occlusion_auc_foreground": 0.6, "occlusion_auc_figure": None, "mask_lift": float("nan")}
    assert calibration.seed_spread([row]) == ""                          # one seed: no spread
    rows = [row, {**row, "seed": 2, "silhouette_iou": 0.8, "occlusion_auc_foreground": 0.7},
            {**row, "variant": "b"}]
    table = calibration.seed_spread(rows)
    assert "| b |" not in table
    line = table.splitlines()[2]
    assert line.startswith("| a | 90 | 0, 2 | 5.0 (5.0-5.0) | - | 2.00 (2.00-2.00) | 0.750 (0.700-0.800) "
                           "| 0.650 (0.600-0.700) | - | - |")
    assert calibration._row_name({"variant": "a", "seed": 2}) == "a seed 2"
    assert calibration._row_name({"variant": "a"}) == "a"


def test_repeated_seeds_are_refused(tmp_path):
    args = argparse.Namespace(variants=["baseline"], runs=tmp_path, data_dir=tmp_path, results=tmp_path, epochs=1,
                              no_progress=True, device="cpu", seeds=[1, 1])
    with pytest.raises(ValueError, match=r"--seeds repeats a seed: \[1, 1\]"):
        calibration.run_calibrate(args)


def test_the_gpu_calibration_script_uses_options_that_exist():
    """tools/gpu_calibration.sh runs only where a GPU is lent: its calibrate options must parse."""
    repo = Path(__file__).resolve().parent.parent
    script = (repo / "tools" / "gpu_calibration.sh").read_text()
    parser = calibration.add_calibrate_arguments(argparse.ArgumentParser())
    worlds = parser.parse_args(["small-motion+full-res", "--worlds-only", "--no-progress"])
    assert worlds.worlds_only and "calibrate \"$@\" --worlds-only --no-progress" in script
    trained = parser.parse_args(["small-motion+full-res", "--seeds", "2", "--device", "cuda", "--results", "out",
                                 "--no-progress"])
    assert trained.seeds == [2] and trained.device == "cuda"
    assert 'calibrate "$@" --seeds "$seed" --device cuda --results "$out"' in script
    assert "rewrite_page()" in script


def test_worlds_only_makes_the_worlds_and_trains_nothing(tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(calibration, "world_data", lambda world, seed, videos, data_dir, progress:
                        made.append((seed, videos)) or data_dir / f"w{seed}")
    args = argparse.Namespace(variants=["small-motion+full-res"], runs=tmp_path / "runs", data_dir=tmp_path,
                              results=tmp_path / "results", epochs=None, no_progress=True, device="cpu",
                              seeds=None, worlds_only=True)
    assert calibration.run_calibrate(args) == 0
    recipe = calibration.calibration_recipe()
    assert made == [(recipe["train_seed"], recipe["train_videos"]), (recipe["check_seed"], recipe["check_videos"])]
    assert not (tmp_path / "runs").exists() and not (tmp_path / "results").exists()


def test_rows_measured_elsewhere_reach_the_page(tmp_path):
    """Rows appended to the record (e.g. from a GPU) appear in the rewritten page, with their
    seed and device, and the spread over seeds."""
    repo = Path(__file__).resolve().parent.parent
    rows = [json.loads(line) for line in (repo / "results" / "calibration.jsonl").read_text().splitlines()]
    base = next(row for row in rows if row["variant"] == "small-motion+full-res+motion-64")
    record = tmp_path / "calibration.jsonl"
    record.write_text("".join(json.dumps(row) + "\n" for row in
                              [*rows, {**base, "seed": 9, "device": "cuda", "minutes": 1.42}]))
    page = calibration.rewrite_page(tmp_path).read_text()
    line = next(line for line in page.splitlines() if line.startswith("| small-motion+full-res+motion-64 seed 9 |"))
    assert "| 1.4 on cuda |" in line and "## Over training seeds" in page
    spread = next(line for line in page.split("## Over training seeds")[1].splitlines()
                  if line.startswith("| small-motion+full-res+motion-64 | 90 | "))
    assert spread.split(" | ")[2].startswith("0, ") and spread.split(" | ")[2].endswith(", 9")


def test_the_occlusion_levers_in_choices_md_are_the_record():
    """docs/choices.md's occlusion-lever table is occlusion_levers() of results/calibration.jsonl,
    and its sentences quote those rows."""
    repo = Path(__file__).resolve().parent.parent
    rows = [json.loads(line) for line in (repo / "results" / "calibration.jsonl").read_text().splitlines()]
    page = (repo / "docs" / "choices.md").read_text()
    block = block_of(page, "occlusion-levers")
    variants = [line.split(" | ")[0].lstrip("| ") for line in block.splitlines()[2:]]
    assert block == calibration.occlusion_levers(rows, variants)
    latest = {row["variant"]: row for row in rows if row.get("seed", 0) == 0}
    text = " ".join(page.split("<!-- occlusion-levers-sentences:start -->", 1)[1].split()).replace("` ", "`")
    ref = latest["small-motion+full-res"]
    assert (f"O ranks its own warp's failures at AUC {ref['occlusion_auc_warp_failure']:.3f} over all pixels and "
            f"{ref['occlusion_auc_warp_failure_foreground']:.3f} inside PriorityCut's foreground") in text
    assert f"the no-model rule reaches {ref['rule_auc_warp_failure']:.3f}" in text
    assert f"only {ref['disocclusion_warp_failure_share']:.3f} of it is a warp failure" in text
    wide, deep, fine = (latest[f"small-motion+full-res+{name}"] for name in ("width-32", "bottleneck-6", "motion-64"))
    assert (f"left O where it was ({deep['occlusion_auc_foreground']:.3f} and {wide['occlusion_auc_foreground']:.3f} "
            f"inside F) and lost keypoints ({deep['moving_distinct_keypoints']:.1f} and "
            f"{wide['moving_distinct_keypoints']:.1f} moving, against {ref['moving_distinct_keypoints']:.1f})") in text
    assert (f"raised O inside F to {fine['occlusion_auc_foreground']:.3f} and lost keypoints too "
            f"({fine['moving_distinct_keypoints']:.1f})") in text
    grains = [latest[f"small-motion+full-res+{name}"]["occlusion_auc_foreground"] for name in ("grain", "grain20x3")]
    assert f"({min(grains):.3f}-{max(grains):.3f} at grain sd 20)" in text
    assert all(latest[name]["moving_distinct_keypoints"] >= latest["small-motion+full-res+grain"]["moving_distinct_keypoints"]
               for name in variants)                                # "lost the most keypoints"
    stored = json.loads((repo / "results" / "time-to-quality-seeds" / "time_to_quality.json").read_text())
    ious = [runs[-1]["silhouette_iou"] for name, runs in stored["results"].items() if name.startswith("demo seed ")]
    assert f"spans silhouette IoU {min(ious):.3f}-{max(ious):.3f} over five seeds" in text and len(ious) == 5


def _seed_range(rows: list[dict], variant: str, key: str, digits: int) -> str:
    """"min-max" of ``key`` over the latest record of each training seed of ``variant`` (seeds 0-2)."""
    latest = {row.get("seed", 0): row.get(key) for row in rows if row["variant"] == variant}
    assert sorted(latest) == [0, 1, 2], variant
    return f"{min(latest.values()):.{digits}f}-{max(latest.values()):.{digits}f}"


def test_the_textured_worlds_in_choices_md_are_the_record():
    """The paragraph on textured worlds quotes their rows and seed ranges as recorded."""
    rows = calibration_rows()
    text = " ".join((REPO / "docs" / "choices.md").read_text().split())
    latest = {row["variant"]: row for row in rows if row.get("seed", 0) == 0}
    name = "small-motion+full-res"
    parts = latest[f"{name}+part-grain"]
    assert (f"left O where it was ({parts['occlusion_auc_foreground']:.3f} inside F, "
            f"{parts['occlusion_auc_figure']:.3f} on figure pixels)") in text
    grain, longer, curriculum = (f"{name}+part-grain+grain20x3{suffix}" for suffix in ("", "-180", "-from-flat"))
    r = lambda variant, key, digits=3: _seed_range(rows, variant, key, digits)          # noqa: E731
    assert (f"O rose to {r(grain, 'occlusion_auc_foreground')} inside F (the reference: "
            f"{r(name, 'occlusion_auc_foreground')}) and ranked its own warp's failures better "
            f"({r(grain, 'occlusion_auc_warp_failure_foreground')} inside F, against "
            f"{r(name, 'occlusion_auc_warp_failure_foreground')}), but the keypoints fell to "
            f"{r(grain, 'moving_distinct_keypoints', 1)} moving (the reference: {r(name, 'moving_distinct_keypoints', 1)})") in text
    assert (f"gave {r(longer, 'moving_distinct_keypoints', 1)} moving keypoints and IoU {r(longer, 'silhouette_iou')};") in text
    assert (f"gave {r(curriculum, 'moving_distinct_keypoints', 1)} and {r(curriculum, 'silhouette_iou')}, with O at "
            f"{r(curriculum, 'occlusion_auc_foreground')} inside F and a mask lift of {r(curriculum, 'mask_lift', 2)} "
            f"(the reference: {r(name, 'mask_lift', 2)})") in text
    figures = [row["occlusion_auc_figure"] for row in rows if row["variant"] in (grain, longer, curriculum)]
    assert f"O on figure pixels stayed at {min(figures):.3f}-{max(figures):.3f} in all of them" in text
    tuned = latest[f"{curriculum}+pc-warm30"]
    shipped = json.loads((REPO / "results" / "diagnosis-prioritycut.json").read_text())
    assert (f"at chance against the true dis-occlusion ({tuned['d_pixel_auc_true_disocclusion']:.3f}; its image head "
            f"{tuned['d_image_auc']:.3f}), where the shipped fine-tune, whose base trained "
            f"{latest['small-motion+full-res-long']['steps'] / latest[name]['steps']:.1f} times longer "
            f"in the flat world, reaches {shipped['d_pixel_auc_true_disocclusion']:.3f}") in text


def test_the_fine_grain_curriculum_in_choices_md_is_the_record():
    rows = calibration_rows()
    text = " ".join((REPO / "docs" / "choices.md").read_text().split())
    fine, name = "small-motion+full-res+part-grain+grain20-from-flat", "small-motion+full-res"
    r = lambda key, digits=3: _seed_range(rows, fine, key, digits)                    # noqa: E731
    means = calibration.seed_spread(rows)
    mean = lambda variant: float(next(line for line in means.splitlines() if line.startswith(f"| {variant} |"))
                                 .split(" | ")[4].split(" ")[0])                          # noqa: E731
    textured_seeded = {row["variant"] for row in rows if "grain" in row["world"] and row.get("seed", 0) == 2}
    assert all(mean(fine) >= mean(v) for v in textured_seeded) and len(textured_seeded) >= 4
    assert (f"kept the most keypoints of the textured rows on average over seeds ({mean(fine):.1f}; "
            f"{r('moving_distinct_keypoints', 1)} moving, IoU "
            f"{r('silhouette_iou')}) and gave the best occlusion map: {r('occlusion_auc_foreground')} inside F, "
            f"where the no-model rule reaches {r('rule_auc_foreground')}") in text
    assert f"the mask lift was {r('mask_lift', 2)}, against a target of 2.5" in text
    assert (f"On figure pixels O stayed at {r('occlusion_auc_figure')}, although the model's own warp error "
            f"ranks the same pixels at {r('warp_error_auc_figure')}") in text
    latest = {row["variant"]: row for row in rows if row.get("seed", 0) == 0}
    ref = latest[name]
    assert (f"In the flat reference too the warp error ranks them at {ref['warp_error_auc_figure']:.3f} and O at "
            f"{ref['occlusion_auc_figure']:.3f}") in text
    control = latest["small-motion+full-res+part-grain+grain20-180"]
    assert (f"reached O {control['occlusion_auc_foreground']:.3f} inside F too, but "
            f"{control['moving_distinct_keypoints']:.1f} moving keypoints, IoU {control['silhouette_iou']:.3f} and a probe "
            f"of {control['probe_px']:.2f} px (the curriculum: {r('probe_px', 2)} px)") in text
    assert control["silhouette_iou"] < min(row["silhouette_iou"] for row in rows if row["variant"] == fine)
    tuned = fine + "+pc-warm30"
    t = lambda key, digits=3: _seed_range(rows, tuned, key, digits)                   # noqa: E731
    assert (f"brought the discriminator's pixel head to {t('d_pixel_auc_true_disocclusion')} against the true "
            f"dis-occlusion (target: 0.75; image head {t('d_image_auc')}), with O at "
            f"{t('occlusion_auc_foreground')} inside F and a mask lift of {t('mask_lift', 2)}; its adversarial "
            f"epochs raised animation L1 from {r('animation_l1', 4)} to {t('animation_l1', 4)} (copying the "
            f"source: {latest[tuned]['copy_animation_l1']:.4f})") in text
    assert min(row["rule_auc_foreground"] for row in rows if row["variant"] == fine) < \
        min(row["occlusion_auc_foreground"] for row in rows if row["variant"] == fine)   # "knows more than"


def test_the_readme_quotes_the_textured_world_as_recorded():
    rows = calibration_rows()
    text = " ".join((REPO / "README.md").read_text().split())
    fine = "small-motion+full-res+part-grain+grain20-from-flat"
    r = lambda key, digits=3: _seed_range(rows, fine, key, digits)                    # noqa: E731
    assert (f"`pcut calibrate {fine} --seeds 0 1 2`), O reaches {r('occlusion_auc_foreground')} inside the "
            f"foreground over three training seeds, above the no-model rule's {r('rule_auc_foreground')} there, "
            f"with {r('moving_distinct_keypoints', 1)} moving keypoints; on figure pixels it stays at "
            f"{r('occlusion_auc_figure')}") in text
    assert min(row["warp_error_auc_figure"] for row in rows if row["variant"] == fine) > \
        max(row["occlusion_auc_figure"] for row in rows if row["variant"] == fine)   # "the warp shows the wrong colour"


def test_the_full_resolution_warp_is_quoted_with_both_of_its_records():
    """The warping-resolution departure quotes the first and the latest record of its row."""
    repo = Path(__file__).resolve().parent.parent
    rows = [json.loads(line) for line in (repo / "results" / "calibration.jsonl").read_text().splitlines()]
    records = [row for row in rows if row["variant"] == "small-motion+full-res" and row.get("seed", 0) == 0]
    first, last = records[0], records[-1]
    half = [row for row in rows if row["variant"] == "small-motion"][-1]
    quote = (f"{half['distinct_keypoints']:.1f} distinct keypoints and IoU {half['silhouette_iou']:.3f} against "
             f"{first['distinct_keypoints']:.1f} and {first['silhouette_iou']:.3f} at full size "
             f"({last['distinct_keypoints']:.1f} and {last['silhouette_iou']:.3f} when that row was trained again")
    assert quote in (repo / "docs" / "choices.md").read_text()
    usage = " ".join((repo / "docs" / "usage.md").read_text().split())
    assert (f"against {first['distinct_keypoints']:.1f} and {first['silhouette_iou']:.3f} at 64x64 "
            f"({last['distinct_keypoints']:.1f} and {last['silhouette_iou']:.3f} when that row was trained again") in usage
    wide, deep = (next(r for r in reversed(rows) if r["variant"] == f"small-motion+full-res+{n}") for n in ("width-32", "bottleneck-6"))
    assert (f"ended at {wide['distinct_keypoints']:.1f} and {deep['distinct_keypoints']:.1f} distinct keypoints against "
            f"{last['distinct_keypoints']:.1f}") in (repo / "docs" / "choices.md").read_text()


def test_the_seed_ranges_in_choices_md_are_the_record():
    repo = Path(__file__).resolve().parent.parent
    rows = [json.loads(line) for line in (repo / "results" / "calibration.jsonl").read_text().splitlines()]
    text = " ".join((repo / "docs" / "choices.md").read_text().split())
    spans = []
    for variant in ("small-motion+full-res", "small-motion+full-res+motion-64"):
        latest = {row.get("seed", 0): row for row in rows if row["variant"] == variant}
        assert sorted(latest) == [0, 1, 2]
        kp = [row["distinct_keypoints"] for row in latest.values()]
        auc = [row["occlusion_auc_foreground"] for row in latest.values()]
        spans.append((min(kp), max(kp), min(auc), max(auc)))
    (k0, k1, a0, a1), (m0, m1, b0, b1) = spans
    assert (f"the reference ended at {k0:.1f}-{k1:.1f} distinct keypoints and O AUC {a0:.3f}-{a1:.3f} inside F, "
            f"and `+motion-64` at {m0:.1f}-{m1:.1f} and {b0:.3f}-{b1:.3f}") in text
    assert m1 < k0 and b0 <= a1                  # keypoints outside the range, O inside it


def test_the_long_curriculum_and_the_pixel_head_in_choices_md_are_the_record():
    """The paragraph on the curriculum from the shipped model's recipe and on the discriminator's
    levers quotes their rows (seed 0, and seeds 0-2 where a range is given)."""
    rows = calibration_rows()
    text = " ".join((REPO / "docs" / "choices.md").read_text().split())
    latest = {row["variant"]: row for row in rows if row.get("seed", 0) == 0}
    long, short = "small-motion+full-res-long", "small-motion+full-res+part-grain+grain20-from-flat"
    grain = long + "+part-grain+grain20"
    shipped = grain + "-250"
    f = lambda variant, key, digits=3: f"{latest[variant][key]:.{digits}f}"              # noqa: E731
    r = lambda variant, key, digits=3: _seed_range(rows, variant, key, digits)          # noqa: E731
    pixel = "d_pixel_auc_true_disocclusion"
    assert (f"trained again here: {f(long, 'moving_distinct_keypoints', 1)} moving keypoints, IoU "
            f"{f(long, 'silhouette_iou')}, O {f(long, 'occlusion_auc_foreground')} inside F), 90 epochs more in the same "
            f"textured world (`{grain}`) gave O {f(grain, 'occlusion_auc_foreground')} inside F, and 250 epochs "
            f"(`{shipped}`, the shipped textured model) {f(shipped, 'occlusion_auc_foreground')}, with "
            f"{f(shipped, 'moving_distinct_keypoints', 1)} moving keypoints and IoU {f(shipped, 'silhouette_iou')}; O on "
            f"figure pixels ({f(grain, 'occlusion_auc_figure')} and {f(shipped, 'occlusion_auc_figure')}; the shorter "
            f"curriculum: {r(short, 'occlusion_auc_figure')}) and the mask lift ({f(grain, 'mask_lift', 2)} and "
            f"{f(shipped, 'mask_lift', 2)}; {r(short, 'mask_lift', 2)}) moved little.") in text
    for key, tolerance in (("occlusion_auc_figure", 0.02), ("mask_lift", 0.1)):          # "moved little"
        span = [row[key] for row in rows if row["variant"] == short]
        assert all(min(span) - tolerance <= latest[v][key] <= max(span) + tolerance for v in (grain, shipped)), key
    assert (f"left it at {f(grain + '+pc-warm120', pixel)} against the true dis-occlusion (30 epochs: "
            f"{f(grain + '+pc-warm30', pixel)})") in text
    assert (f"raised it to {f(shipped + '+pc-warm30-pixel-head', pixel)} on the `-250` model (without the recipe: "
            f"{f(shipped + '+pc-warm30', pixel)}) and to {r(short + '+pc-warm30-pixel-head', pixel)} over training seeds 0-2 "
            f"of the shorter curriculum (without: {r(short + '+pc-warm30', pixel)}); its image head ended at "
            f"{r(short + '+pc-warm30-pixel-head', 'd_image_auc')} (without: {r(short + '+pc-warm30', 'd_image_auc')})") in text
    with_recipe = [row[pixel] for row in rows if row["variant"] == short + "+pc-warm30-pixel-head"]
    without = [row[pixel] for row in rows if row["variant"] == short + "+pc-warm30"]
    assert min(with_recipe) > max(without)                              # the ranges do not overlap
    textured = [v for v in latest if "grain" in latest[v]["world"] and (v.startswith(long) or "from-flat" in v)]
    motion = [latest[v] for v in [long, *textured]]           # every textured row and the flat rerun
    assert all(row["moving_distinct_keypoints"] < 8 or row["silhouette_iou"] < 0.85 for row in motion)   # "misses"


def test_the_textured_world_is_the_shipped_textured_rows_world():
    """pcutlib.data.synthetic.TEXTURED_WORLD (notebooks, docs/usage.md) is the world of the rows that
    made pretrained/synthetic-64-textured*.pt."""
    from pcutlib.data.synthetic import TEXTURED_WORLD

    rows = calibration.calibration_recipe()["rows"]
    for name in ("small-motion+full-res-long+part-grain+grain20-250",
                 "small-motion+full-res-long+part-grain+grain20-250+pc-warm30-pixel-head"):
        assert rows[name]["world"] == TEXTURED_WORLD, name
    assert calibration.world_name(TEXTURED_WORLD) == "h62-m60-grain20-partgrain"      # docs/usage.md's --data folder


def test_the_separation_rows_in_choices_md_are_the_record():
    """The paragraph on keypoint separation in the shipped recipes quotes their seed-0 rows, the
    same recipes without it, and the shipped model's own row."""
    rows = calibration_rows()
    text = " ".join((REPO / "docs" / "choices.md").read_text().split(
        "<!-- occlusion-levers-separation-sentences:start -->", 1)[1].split(
        "<!-- occlusion-levers-separation-sentences:end -->", 1)[0].split())
    latest = {row["variant"]: row for row in rows if row.get("seed", 0) == 0}
    shipped = [row for row in rows if row["variant"] == "small-motion+full-res-long" and row.get("seed") is None][-1]
    base, textured = "small-motion+full-res-long", "+part-grain+grain20-250+pc-warm30-pixel-head"
    flat, flat_without = latest[f"{base}+separation-1"], latest[base]
    tuned, tuned_without = latest[f"{base}+separation-1{textured}"], latest[f"{base}{textured}"]
    motion = lambda row: (f"{row['moving_distinct_keypoints']:.1f}", f"{row['probe_px']:.3f}",   # noqa: E731
                          f"{row['silhouette_iou']:.3f}")
    assert ("The flat model ended with {} moving keypoints, a probe of {} px and IoU {}".format(*motion(flat))
            + " (the same recipe without separation, seed 0: {}, {} px, {};".format(*motion(flat_without))
            + f" the run that became the shipped model, in its calibration row: IoU {shipped['silhouette_iou']:.3f}, "
            f"{shipped['probe_px']:.3f} px)") in text
    assert ("The textured fine-tune ended with {} moving keypoints, a probe of {} px and IoU {}".format(*motion(tuned))
            + " (without: {}, {} px, {})".format(*motion(tuned_without))) in text
    assert (f"O at {tuned['occlusion_auc_foreground']:.3f} inside F and {tuned['occlusion_auc_figure']:.3f} on figure "
            f"pixels, a mask lift of {tuned['mask_lift']:.2f} and a pixel AUC of "
            f"{tuned['d_pixel_auc_true_disocclusion']:.3f} against the true dis-occlusion (without: "
            f"{tuned_without['occlusion_auc_foreground']:.3f}, {tuned_without['occlusion_auc_figure']:.3f}, "
            f"{tuned_without['mask_lift']:.2f}, {tuned_without['d_pixel_auc_true_disocclusion']:.3f})") in text
    assert all(row["silhouette_iou"] < 0.85 and row["mask_lift"] < 2.5 for row in (flat, tuned))
    assert all(row["moving_distinct_keypoints"] >= 8 for row in (flat, tuned))


def test_the_shipped_schedule_with_separation_in_benchmarks_md_is_the_record():
    rows = calibration_rows()
    text = " ".join((REPO / "docs" / "benchmarks.md").read_text().split(
        "<!-- shipped-separation-sentences:start -->", 1)[1].split("<!-- shipped-separation-sentences:end -->", 1)[0].split())
    row = [row for row in rows if row["variant"] == "small-motion+full-res-long+separation-1" and row["seed"] == 0][-1]
    shipped = [row for row in rows if row["variant"] == "small-motion+full-res-long" and row.get("seed") is None][-1]
    assert (f"{row['steps']:,} steps in {row['minutes']} min) ended with {row['moving_distinct_keypoints']:.1f} moving "
            f"keypoints, a probe of {row['probe_px']:.3f} px and IoU {row['silhouette_iou']:.3f}, against "
            f"{shipped['probe_px']:.3f} px and {shipped['silhouette_iou']:.3f} for the run that became the shipped model") in text
    assert row["probe_px"] < shipped["probe_px"] and row["silhouette_iou"] < shipped["silhouette_iou"]


def test_the_short_separation_rows_in_choices_md_are_the_record():
    rows = calibration_rows()
    text = " ".join((REPO / "docs" / "choices.md").read_text().split(
        "<!-- occlusion-levers-separation-sentences:start -->", 1)[1].split(
        "<!-- occlusion-levers-separation-sentences:end -->", 1)[0].split())
    latest = {row["variant"]: row for row in rows if row.get("seed", 0) == 0}
    name = "small-motion+full-res"
    ref, sep, fine, fine_sep = (latest[f"{name}{suffix}"] for suffix in ("", "+separation-1", "+motion-64",
                                                                         "+motion-64+separation-1"))
    assert ref["steps"] == sep["steps"] == fine_sep["steps"] == 1800
    assert (f"it spread the keypoints ({sep['moving_distinct_keypoints']:.1f} moving, against "
            f"{ref['moving_distinct_keypoints']:.1f} without) but ended at IoU {sep['silhouette_iou']:.3f} and a probe of "
            f"{sep['probe_px']:.2f} px (without: {ref['silhouette_iou']:.3f}, {ref['probe_px']:.2f} px)") in text
    assert (f"kept {fine_sep['moving_distinct_keypoints']:.1f} moving keypoints where motion-64 alone kept "
            f"{fine['moving_distinct_keypoints']:.1f}, and O reached {fine_sep['occlusion_auc_foreground']:.3f} inside F "
            f"(motion-64 alone: {fine['occlusion_auc_foreground']:.3f}) but {fine_sep['occlusion_auc_figure']:.3f} on "
            f"figure pixels, with a probe of {fine_sep['probe_px']:.2f} px") in text


def test_the_revealed_term_rows_in_choices_md_are_the_record():
    """The revealed term's table is occlusion_levers() of its rows in REVEALED_COLUMNS, and its
    sentences quote those rows."""
    rows = calibration_rows()
    page = (REPO / "docs" / "choices.md").read_text()
    block = block_of(page, "occlusion-levers-revealed")
    variants = [line.split(" | ")[0].lstrip("| ") for line in block.splitlines()[2:]]
    assert block == calibration.occlusion_levers(rows, variants, calibration.REVEALED_COLUMNS)
    text = sentences_of(page, "occlusion-levers-revealed")
    row = {r["variant"]: r for r in rows if r.get("seed", 0) == 0}
    control, balanced, plain = (row[f"shipped+{name}-100"] for name in ("continued", "revealed-1", "revealed-1-plain"))
    light, rest = row["shipped+revealed-0.3-plain-100"], row["shipped+revealed-1-plain-rest-100"]
    tuned = row["shipped+revealed-1-plain-100+pc-warm30-pixel-head"]
    f3 = lambda value: f"{value:.3f}"   # noqa: E731
    assert (f"leave O where it was: {f3(control['occlusion_auc_foreground'])} inside the foreground, a mask lift of "
            f"{control['mask_lift']:.2f}, IoU {f3(control['silhouette_iou'])}") in text
    assert (f"O ranks the foreground's dis-occlusion at {f3(balanced['occlusion_auc_foreground'])} (balanced weighting) "
            f"or {f3(plain['occlusion_auc_foreground'])} (plain) and the mask's lift reaches {balanced['mask_lift']:.2f} "
            f"or {plain['mask_lift']:.2f}") in text
    assert all(r["occlusion_auc_foreground"] >= 0.8 and r["mask_lift"] >= 2.5 for r in (balanced, plain, rest, tuned))
    assert all(r["moving_distinct_keypoints"] >= 8.2 and r["probe_px"] < 1 for r in (balanced, plain))
    assert (f"(O at rest {f3(balanced['occlusion_at_rest'])}) and the IoU to {f3(balanced['silhouette_iou'])}; plain "
            f"weighting keeps {f3(plain['occlusion_at_rest'])} and {f3(plain['silhouette_iou'])}") in text
    assert (f"O at rest {f3(light['occlusion_at_rest'])} and IoU {f3(light['silhouette_iou'])}, with O at "
            f"{f3(light['occlusion_auc_foreground'])} inside the foreground and a lift of {light['mask_lift']:.2f}") in text
    assert (f"lifts O at rest to {f3(rest['occlusion_at_rest'])} and keeps {f3(rest['occlusion_auc_foreground'])} and "
            f"{rest['mask_lift']:.2f}, at IoU {f3(rest['silhouette_iou'])}") in text
    shifted = [row[name]["occlusion_auc_figure"] for name in variants if "revealed" in name]
    assert (f"{f3(min(shifted))}-{f3(max(shifted))} (the control: {f3(control['occlusion_auc_figure'])})") in text
    assert (f"keeps O ({f3(tuned['occlusion_auc_foreground'])}, a lift of {tuned['mask_lift']:.2f}), and its "
            f"discriminator's pixel head ranks the true dis-occlusion at {f3(tuned['d_pixel_auc_true_disocclusion'])}") in text
    assert (f"misses the IoU ({f3(tuned['silhouette_iou'])}) and O at rest ({f3(tuned['occlusion_at_rest'])}) narrowly "
            f"and figure pixels ({f3(tuned['occlusion_auc_figure'])}) widely") in text
    assert tuned["silhouette_iou"] < 0.85 and tuned["occlusion_at_rest"] < 0.95 and tuned["d_pixel_auc_true_disocclusion"] >= 0.75
    tuned_control = row["shipped+continued-100+pc-warm30-pixel-head"]
    assert (f"the same fine-tune of the control reaches {f3(tuned_control['d_pixel_auc_true_disocclusion'])} with an O "
            f"at {f3(tuned_control['occlusion_auc_foreground'])}") in text


def test_the_readme_quotes_the_revealed_term_as_recorded():
    rows = {r["variant"]: r for r in (json.loads(line) for line in
                                      (REPO / "results" / "calibration.jsonl").read_text().splitlines())
            if r.get("seed", 0) == 0}
    text = " ".join((REPO / "README.md").read_text().split())
    control, plain = rows["shipped+continued-100"], rows["shipped+revealed-1-plain-100"]
    tuned = rows["shipped+revealed-1-plain-100+pc-warm30-pixel-head"]
    assert (f"O ranks the foreground's dis-occlusion at {plain['occlusion_auc_foreground']:.3f} and the mask's lift "
            f"reaches {plain['mask_lift']:.2f} (the same 100 epochs without the term: "
            f"{control['occlusion_auc_foreground']:.3f} and {control['mask_lift']:.2f})") in text
    tuned_control = rows["shipped+continued-100+pc-warm30-pixel-head"]
    assert (f"ranks the true dis-occlusion at {tuned['d_pixel_auc_true_disocclusion']:.3f}, as the same fine-tune "
            f"without the term does ({tuned_control['d_pixel_auc_true_disocclusion']:.3f})") in text
    assert plain["videos"] == 20 and plain["world"] == "h62-m60"
    assert (f"IoU falls from {control['silhouette_iou']:.3f} to {plain['silhouette_iou']:.3f} "
            f"({tuned['silhouette_iou']:.3f} after the fine-tune)") in text
    assert all(0.55 < r["occlusion_auc_figure"] < 0.65 for r in (plain, tuned))        # "near 0.6"
    warp = rows["shipped+revealed-warp-1-plain-rest-100"]
    assert (f"lifts the label's score on figure pixels to {warp['revealed_warp_auc_figure']:.3f} (the warp error's "
            f"doing) but not O's ({warp['occlusion_auc_figure']:.3f}; one training seed)") in text


def test_the_seed_spread_quoted_beside_the_revealed_rows_is_the_record():
    """'three seeds of one calibration recipe above span up to 0.06 in O inside the foreground and
    0.2 in lift': the largest spread over the recipes trained on three seeds."""
    rows = calibration_rows()
    by_recipe = {}
    for row in rows:
        if row.get("seed") is not None and row.get("occlusion_auc_foreground") is not None:
            by_recipe.setdefault(row["variant"], {})[row["seed"]] = row
    spreads = [(max(r["occlusion_auc_foreground"] for r in seeds.values()) - min(r["occlusion_auc_foreground"] for r in seeds.values()),
                max(r["mask_lift"] for r in seeds.values()) - min(r["mask_lift"] for r in seeds.values()))
               for seeds in by_recipe.values() if len(seeds) >= 3]
    assert round(max(f for f, _ in spreads), 2) == 0.06 and round(max(lift for _, lift in spreads), 1) == 0.2
    text = " ".join((REPO / "docs" / "choices.md").read_text().split())
    assert "span up to 0.06 in O inside the foreground and 0.2 in lift" in text


def test_the_warp_error_rows_in_choices_md_are_the_record():
    """The warp-error label's table is occlusion_levers() of its two rows in LABEL_COLUMNS (they differ
    only in the flag), and its sentences quote those rows and the oracle bound of 6,000 steps."""
    rows = calibration_rows()
    page = (REPO / "docs" / "choices.md").read_text()
    block = block_of(page, "occlusion-levers-revealed-warp")
    variants = [line.split(" | ")[0].lstrip("| ") for line in block.splitlines()[2:]]
    assert variants == ["shipped+revealed-1-plain-rest-100", "shipped+revealed-warp-1-plain-rest-100"]
    assert block == calibration.occlusion_levers(rows, variants, calibration.LABEL_COLUMNS)
    text = sentences_of(page, "occlusion-levers-revealed-warp")
    row = {r["variant"]: r for r in rows if r.get("seed", 0) == 0}
    base, warp = (row[name] for name in variants)
    same = ("base", "seed", "epochs", "steps", "world", "videos")
    assert all(base.get(key) == warp.get(key) for key in same)
    f3 = lambda value: f"{value:.3f}"   # noqa: E731
    assert (f"The sum ranks figure pixels at {f3(warp['revealed_warp_auc_figure'])} (the revealed score alone: "
            f"{f3(warp['revealed_auc_figure'])}), and that gain is the warp error's: alone it reaches "
            f"{f3(warp['warp_error_auc_figure'])} there, on the model trained without the flag as well "
            f"({f3(base['warp_error_auc_figure'])}); the range map is what the sum adds inside the foreground "
            f"({f3(warp['revealed_warp_auc_foreground'])} against the warp error's {f3(warp['warp_error_auc_foreground'])})") in text
    assert warp["warp_error_auc_figure"] >= warp["revealed_warp_auc_figure"] > warp["revealed_auc_figure"]
    assert (f"O did not learn the figure pixels: {f3(warp['occlusion_auc_figure'])} (without the flag: "
            f"{f3(base['occlusion_auc_figure'])}). The rest was lower, in this one seed: "
            f"{f3(warp['occlusion_auc_foreground'])} inside the foreground, a lift of {warp['mask_lift']:.2f} and O at rest "
            f"{f3(warp['occlusion_at_rest'])} (without: {f3(base['occlusion_auc_foreground'])}, {base['mask_lift']:.2f} and "
            f"{f3(base['occlusion_at_rest'])})") in text
    assert f"(its lift {warp['revealed_warp_mask_lift']:.2f} against {warp['revealed_mask_lift']:.2f})" in text
    foreground_gap = base["occlusion_auc_foreground"] - warp["occlusion_auc_foreground"]
    lift_gap = base["mask_lift"] - warp["mask_lift"]
    assert f"The foreground difference ({foreground_gap:.3f}) is within" in text and foreground_gap < 0.06
    assert f"the lift difference ({lift_gap:.2f}) beyond their 0.2" in text and lift_gap > 0.2
    bound = json.loads((REPO / "results" / "occlusion-bound-6000" / "occlusion_bound.json").read_text())
    assert bound["steps"] == 6000 and bound["checkpoint"] == "pretrained/synthetic-64.pt"
    oracle = bound["rows"]["dense-motion trained on the truth (oracle)"]["occlusion_auc_figure"]
    assert f"true dis-occlusion for 6,000 steps, its loss still falling) reached {f3(oracle)} there" in text
    assert oracle < 0.75


def test_the_head_only_rows_in_choices_md_are_the_record():
    """'Where the IoU goes': occlusion_levers() of the control, the full-gradient row and the
    head-only row (the same start, epochs, seed and world), and sentences that quote them."""
    rows = calibration_rows()
    page = (REPO / "docs" / "choices.md").read_text()
    block = block_of(page, "occlusion-levers-revealed-head")
    variants = [line.split(" | ")[0].lstrip("| ") for line in block.splitlines()[2:]]
    assert variants[:3] == ["shipped+continued-100", "shipped+revealed-1-plain-rest-100",
                            "shipped+revealed-1-plain-rest-head-100"]
    assert block == calibration.occlusion_levers(rows, variants, calibration.REVEALED_COLUMNS)
    row = {r["variant"]: r for r in rows if r.get("seed", 0) == 0}
    control, full, head = (row[name] for name in variants[:3])
    assert all(control.get(key) == full.get(key) == head.get(key) for key in ("seed", "epochs", "steps", "world"))
    text = sentences_of(page, "occlusion-levers-revealed-head")
    intro = " ".join(page.split("**Where the IoU goes.**", 1)[1].split("<!-- occlusion-levers-revealed-head:start", 1)[0].split())
    plain = [row[name]["silhouette_iou"] for name in ("shipped+revealed-1-plain-100", "shipped+revealed-1-plain-rest-100",
                                                      "shipped+revealed-warp-1-plain-rest-100")]
    f3 = lambda value: f"{value:.3f}"   # noqa: E731
    assert f"the IoU fell from {f3(control['silhouette_iou'])} to {f3(min(plain))}-{f3(max(plain))}" in intro
    assert (f"left the IoU where the full gradient had it: {f3(head['silhouette_iou'])}, against "
            f"{f3(full['silhouette_iou'])} (without the term: {f3(control['silhouette_iou'])})") in text
    assert (f"O learned less: {f3(head['occlusion_auc_foreground'])} inside the foreground, a lift of "
            f"{head['mask_lift']:.2f} and O at rest {f3(head['occlusion_at_rest'])} (with the full gradient: "
            f"{f3(full['occlusion_auc_foreground'])}, {full['mask_lift']:.2f} and {f3(full['occlusion_at_rest'])})") in text
    assert head["occlusion_at_rest"] < full["occlusion_at_rest"]           # "the lower O at rest and the same IoU"
    shipped = [r["silhouette_iou"] for r in rows if r["variant"] == "small-motion+full-res-long" and r.get("seed") is not None]
    assert len(shipped) == 2 and f"two training seeds ended {max(shipped) - min(shipped):.3f} apart in IoU" in intro
    assert abs(head["silhouette_iou"] - full["silhouette_iou"]) < 0.005 < control["silhouette_iou"] - head["silhouette_iou"]
    assert head["occlusion_auc_foreground"] < full["occlusion_auc_foreground"]


def test_the_term_from_the_first_step_in_choices_md_is_the_record():
    """'The term from the first step': occlusion_levers() of the shipped recipe without and with the
    term (seed 0) and the fine-tune, and sentences that quote them and the recipe's seed spread."""
    rows = calibration_rows()
    page = (REPO / "docs" / "choices.md").read_text()
    block = block_of(page, "occlusion-levers-revealed-start")
    variants = [line.split(" | ")[0].lstrip("| ") for line in block.splitlines()[2:]]
    assert variants == ["small-motion+full-res-long", "small-motion+full-res-long+revealed-1-plain-rest",
                        "small-motion+full-res-long+revealed-1-plain-rest+pc-warm30-pixel-head"]
    assert block == calibration.occlusion_levers(rows, variants, calibration.REVEALED_COLUMNS)
    seeds = {r["seed"]: r for r in rows if r["variant"] == variants[0] and r.get("seed") is not None}
    control = seeds[0]
    new, tuned = ([r for r in rows if r["variant"] == name and r.get("seed", 0) == 0][-1] for name in variants[1:])
    assert control["steps"] == new["steps"] == 10000 and control["world"] == new["world"] and control["videos"] == new["videos"]
    text = sentences_of(page, "occlusion-levers-revealed-start")
    f3 = lambda value: f"{value:.3f}"   # noqa: E731
    best = max(r.get("occlusion_auc_figure") or 0 for r in rows      # kept+ rows continue the kept model: the term is on
               if "revealed" not in r["variant"] and not r["variant"].startswith("kept+"))
    later = [r for r in rows if r["variant"].startswith("kept+motion-64-warp-")]       # "but the kept model continued", set apart
    higher = [r for r in rows if (r.get("occlusion_auc_figure") or 0) > new["occlusion_auc_figure"] and r not in later
              and r.get("seed") in (0, None) and "truth" not in r["variant"]]                               # the tables' rows: seed 0 (None: before seeds)
    assert len(later) >= 4 and all(r["occlusion_auc_figure"] > new["occlusion_auc_figure"] for r in later)
    continued = sorted(r["occlusion_auc_figure"] for r in higher if r["base"] == "pretrained/synthetic-64-revealed.pt")
    kept = [r["occlusion_auc_figure"] for r in higher if r["base"] != "pretrained/synthetic-64-revealed.pt"]
    above = [r["occlusion_auc_figure"] for r in higher]
    seed_gap = abs(new["occlusion_auc_figure"] - [r for r in rows if r["variant"] == variants[1] and r.get("seed") == 1][-1]
                   ["occlusion_auc_figure"])
    assert len(continued) == 2 and [r["variant"] for r in higher if r["base"] != "pretrained/synthetic-64-revealed.pt"] == [
        variants[1] + "+keep-visible+aligned", "kept+continued-100"]   # two continuations, the kept recipe, that continued
    assert (f"did not cost the IoU: {f3(new['silhouette_iou'])}, against {f3(control['silhouette_iou'])} without it, and the "
            f"keypoints spread further ({new['moving_distinct_keypoints']:.1f} moving, against "
            f"{control['moving_distinct_keypoints']:.1f}); O at rest is {f3(new['occlusion_at_rest'])}") in text
    assert (f"at {f3(new['occlusion_auc_foreground'])} with a lift of {new['mask_lift']:.2f}, and figure pixels at "
            f"{f3(new['occlusion_auc_figure'])}, within {f3(max(above) - new['occlusion_auc_figure'])} of every other "
            f"calibration row trained without the truth above it (two of its own continuations, {' and '.join(f3(v) for v in continued)}, the same "
            f"recipe with the warped source kept, {f3(kept[0])}, and that model continued 100 epochs, {f3(kept[1])}, "
            f"below), a difference well inside what a seed moves it "
            f"({f3(seed_gap)} between this recipe's two seeds), but the kept model continued at 64x64 with the warp error "
            f"in its label (up to {f3(max(r['occlusion_auc_figure'] for r in later))}, below); the best without the term: "
            f"{f3(best)}") in text
    assert min(r["occlusion_auc_figure"] for r in later) > max(above)
    assert max(above) - new["occlusion_auc_figure"] < seed_gap / 3
    assert (f"keeps them ({f3(tuned['occlusion_auc_foreground'])}, {tuned['mask_lift']:.2f}, {f3(tuned['occlusion_auc_figure'])}) "
            f"and its pixel head ranks the true dis-occlusion at {f3(tuned['d_pixel_auc_true_disocclusion'])}") in text
    iou = abs(seeds[1]["silhouette_iou"] - seeds[0]["silhouette_iou"])
    kp = abs(seeds[1]["moving_distinct_keypoints"] - seeds[0]["moving_distinct_keypoints"])
    gain_kp = new["moving_distinct_keypoints"] - control["moving_distinct_keypoints"]
    gain_o = new["occlusion_auc_foreground"] - control["occlusion_auc_foreground"]
    assert f"two seeds ended {iou:.3f} apart in IoU and {kp:.2f} apart in moving keypoints" in text
    assert new["silhouette_iou"] - control["silhouette_iou"] < iou and gain_kp > kp and gain_o > 0.06
    assert f"the keypoints' ({gain_kp:.1f}) and O's inside the foreground ({gain_o:.3f}) are beyond what a seed moved" in text
    second = [r for r in rows if r["variant"] == variants[1] and r.get("seed") == 1][-1]   # the second training seed
    assert second["steps"] == 10000 and second["videos"] == new["videos"] and math.isnan(second["minutes"])
    assert (f"ended at {second['moving_distinct_keypoints']:.1f} moving keypoints, IoU {f3(second['silhouette_iou'])}, "
            f"O at rest {f3(second['occlusion_at_rest'])}, O inside the foreground {f3(second['occlusion_auc_foreground'])} "
            f"with a lift of {second['mask_lift']:.2f}, figure pixels {f3(second['occlusion_auc_figure'])}; the same seed "
            f"without the term: {seeds[1]['moving_distinct_keypoints']:.1f}, {f3(seeds[1]['silhouette_iou'])}, "
            f"{f3(seeds[1]['occlusion_at_rest'])}, {f3(seeds[1]['occlusion_auc_foreground'])}, {seeds[1]['mask_lift']:.2f}, "
            f"{f3(seeds[1]['occlusion_auc_figure'])}.") in text
    pairs = ((new, seeds[0]), (second, seeds[1]))
    moved = {key: [with_term[key] - without[key] for with_term, without in pairs]
             for key in ("silhouette_iou", "moving_distinct_keypoints", "occlusion_auc_foreground", "occlusion_auc_figure",
                         "occlusion_at_rest")}
    assert (f"the term moved the IoU by {moved['silhouette_iou'][0]:+.3f} and {moved['silhouette_iou'][1]:+.3f}, the moving "
            f"keypoints by {moved['moving_distinct_keypoints'][0]:+.1f} and {moved['moving_distinct_keypoints'][1]:+.1f}, O "
            f"inside the foreground by {moved['occlusion_auc_foreground'][0]:+.3f} and "
            f"{moved['occlusion_auc_foreground'][1]:+.3f}, figure pixels by {moved['occlusion_auc_figure'][0]:+.3f} and "
            f"{moved['occlusion_auc_figure'][1]:+.3f} and O at rest by {moved['occlusion_at_rest'][0]:+.3f} and "
            f"{moved['occlusion_at_rest'][1]:+.3f}: the direction of the gains in keypoints, O and figure pixels repeats, "
            f"and so does the small loss at rest") in text
    assert all(v > 0 for key in ("moving_distinct_keypoints", "occlusion_auc_foreground", "occlusion_auc_figure")
               for v in moved[key]) and all(v < 0 for v in moved["occlusion_at_rest"])
    assert min(new["occlusion_at_rest"], second["occlusion_at_rest"]) >= 0.95
    spread = {key: abs(seeds[1][key] - seeds[0][key]) for key in moved}        # what a seed moved without the term
    assert (f"under twice what the seeds moved without the term ({spread['moving_distinct_keypoints']:.2f} and "
            f"{spread['occlusion_auc_figure']:.3f}); O's inside the foreground is over four times its "
            f"{spread['occlusion_auc_foreground']:.3f} on both seeds") in text
    assert all(moved[key][1] < 2 * spread[key] for key in ("moving_distinct_keypoints", "occlusion_auc_figure"))
    assert all(v > 4 * spread["occlusion_auc_foreground"] for v in moved["occlusion_auc_foreground"])
    assert (f"The IoU's change stays within the {iou:.3f} between the seeds without the term" in text
            and max(map(abs, moved["silhouette_iou"])) < iou)
    tuned_1 = [r for r in rows if r["variant"] == variants[2] and r.get("seed") == 1][-1]
    assert (f"Seed 1's PriorityCut fine-tune (the same recipe, {tuned_1['minutes']} min) ended at O "
            f"{f3(tuned_1['occlusion_auc_foreground'])} inside the foreground, a lift of {tuned_1['mask_lift']:.2f}, figure "
            f"pixels {f3(tuned_1['occlusion_auc_figure'])} and a pixel head at {f3(tuned_1['d_pixel_auc_true_disocclusion'])} "
            f"against the true dis-occlusion, with IoU {f3(tuned_1['silhouette_iou'])}: 9 of the 10 targets of `pcut "
            f"diagnose`, all but figure pixels.") in text
    assert tuned_1["silhouette_iou"] >= 0.85 and tuned_1["mask_lift"] >= 2.5 and tuned_1["occlusion_auc_figure"] < 0.75
    assert tuned_1["d_pixel_auc_true_disocclusion"] >= 0.75 and tuned_1["occlusion_auc_foreground"] >= 0.8
    assert "stays missed in both seeds" in text and max(new["occlusion_auc_figure"], second["occlusion_auc_figure"]) < 0.75


def test_notebook_3_quotes_the_revealed_recipe_second_seed_from_the_record():
    """Notebook 3's revealed-pair section names the second training seed's IoU: the calibration row's."""
    rows = calibration_rows()
    second = [r for r in rows if r["variant"] == "small-motion+full-res-long+revealed-1-plain-rest" and r.get("seed") == 1][-1]
    notebook = json.loads((REPO / "notebooks" / "03_occlusion_and_inpainting.ipynb").read_text())
    text = " ".join(" ".join("".join(cell["source"]) for cell in notebook["cells"] if cell.get("id") == "revealed-pair-6").split())
    assert f"a second training seed of the same recipe reached {second['silhouette_iou']:.3f}" in text
    assert second["silhouette_iou"] >= 0.85
    shipped_seed = json.loads((REPO / "results" / "diagnosis-revealed.json").read_text())["silhouette_iou"]
    assert f"misses 0.85 by {0.85 - shipped_seed:.4f}" in text and shipped_seed < 0.85


def test_why_the_default_model_stays_in_choices_md_is_the_records():
    """'Why pretrained/synthetic-64.pt stays': the four occlusion-bound records name the default file
    in their commands, and the figures that the two models trade are their stored diagnoses."""
    page = (REPO / "docs" / "choices.md").read_text()
    text = sentences_of(page, "default-model")
    for folder in ("occlusion-bound", "occlusion-bound-6000", "occlusion-bound-revealed", "occlusion-bound-revealed-warp"):
        record = json.loads((REPO / "results" / folder / "occlusion_bound.json").read_text())
        assert record["checkpoint"] == "pretrained/synthetic-64.pt", folder
        assert "--checkpoint pretrained/synthetic-64.pt" in (REPO / "results" / folder / "occlusion_bound.md").read_text()
    shipped, revealed = (json.loads((REPO / "results" / f"diagnosis-{name}.json").read_text())
                         for name in ("shipped", "revealed"))
    f2, f3 = (lambda v: f"{v:.2f}"), (lambda v: f"{v:.3f}")   # noqa: E731
    assert (f"more moving keypoints ({f2(revealed['moving_distinct_keypoints'])} against "
            f"{f2(shipped['moving_distinct_keypoints'])})") in text
    assert (f"({f3(revealed['occlusion_auc_foreground'])} against {f3(shipped['occlusion_auc_foreground'])} inside the "
            f"foreground, {f3(revealed['occlusion_auc_figure'])} against {f3(shipped['occlusion_auc_figure'])} on figure pixels)") in text
    assert f"O at rest higher ({f3(shipped['occlusion_at_rest'])} against {f3(revealed['occlusion_at_rest'])}" in text
    assert f"silhouette IoU is the same within a seed's reach ({f3(shipped['silhouette_iou'])} against {f3(revealed['silhouette_iou'])};" in text
    rows = calibration_rows()
    seeds = {r["seed"]: r["silhouette_iou"] for r in rows if r["variant"] == "small-motion+full-res-long" and r.get("seed") in (0, 1)}
    assert abs(shipped["silhouette_iou"] - revealed["silhouette_iou"]) < abs(seeds[0] - seeds[1])
    assert f"two seeds of the recipe differed by {f3(abs(seeds[0] - seeds[1]))}" in text
    assert revealed["moving_distinct_keypoints"] > shipped["moving_distinct_keypoints"]


def test_the_warp_error_from_the_first_step_in_choices_md_is_the_record():
    """'The warp error from the first step': occlusion_levers() of the revealed recipe without and with
    the warp error in its label (seed 0) and the second's fine-tune, and sentences that quote them."""
    rows = calibration_rows()
    page = (REPO / "docs" / "choices.md").read_text()
    block = block_of(page, "occlusion-levers-revealed-warp-start")
    variants = [line.split(" | ")[0].lstrip("| ") for line in block.splitlines()[2:]]
    assert variants == ["small-motion+full-res-long+revealed-1-plain-rest", "small-motion+full-res-long+revealed-warp-1-plain-rest",
                        "small-motion+full-res-long+revealed-warp-1-plain-rest+pc-warm30-pixel-head"]
    assert block == calibration.occlusion_levers(rows, variants, calibration.REVEALED_COLUMNS)
    without, warp, tuned = ([r for r in rows if r["variant"] == name and r.get("seed", 0) == 0][-1] for name in variants)
    assert without["steps"] == warp["steps"] == 10000 and without["world"] == warp["world"]
    text = sentences_of(page, "occlusion-levers-revealed-warp-start")
    f1, f2, f3 = (lambda v: f"{v:.1f}"), (lambda v: f"{v:.2f}"), (lambda v: f"{v:.3f}")   # noqa: E731
    assert (f"O ranked figure pixels at {f3(warp['occlusion_auc_figure'])}, against {f3(without['occlusion_auc_figure'])} "
            f"without it, and O at rest ended at {f3(warp['occlusion_at_rest'])}") in text
    seed_rows = {(r["variant"], r["seed"]): r for r in rows if r.get("seed") in (0, 1)}
    moved = [abs(seed_rows[(v, 0)][k] - seed_rows[(v, 1)][k]) for v in ("small-motion+full-res-long", variants[0])
             for k in ("occlusion_auc_figure",)]
    fall = without["occlusion_auc_figure"] - warp["occlusion_auc_figure"]
    assert min(moved) < fall < max(moved) and (f"the fall in figure pixels ({f3(fall)}) is about what a seed moved ({f3(moved[0])} "
                                  f"without the term, {f3(moved[1])} with it)") in text
    kp_fall = without["moving_distinct_keypoints"] - warp["moving_distinct_keypoints"]
    kp_moved = abs(seed_rows[("small-motion+full-res-long", 0)]["moving_distinct_keypoints"]
                   - seed_rows[("small-motion+full-res-long", 1)]["moving_distinct_keypoints"])
    assert kp_moved < kp_fall and f"the keypoints' ({f1(kp_fall)}) barely beyond it ({f2(kp_moved)})" in text
    rest_moved = max(abs(seed_rows[(v, 0)]["occlusion_at_rest"] - seed_rows[(v, 1)]["occlusion_at_rest"])
                     for v in ("small-motion+full-res-long", variants[0]))
    assert without["occlusion_at_rest"] - warp["occlusion_at_rest"] > 10 * rest_moved and "only O at rest is far outside" in text
    assert warp["occlusion_at_rest"] < 0.95 and f"(without: {f3(without['occlusion_at_rest'])})" in text
    assert (f"ended at {f1(warp['moving_distinct_keypoints'])} (without: {f1(without['moving_distinct_keypoints'])}) and the "
            f"lift at {f2(warp['mask_lift'])} ({f2(without['mask_lift'])})") in text
    assert f"The IoU ended at {f3(warp['silhouette_iou'])} (without: {f3(without['silhouette_iou'])})" in text
    control = {r["seed"]: r["silhouette_iou"] for r in rows if r["variant"] == "small-motion+full-res-long" and r.get("seed") in (0, 1)}
    spread = abs(control[0] - control[1])
    assert abs(warp["silhouette_iou"] - without["silhouette_iou"]) < spread and f"within the {f3(spread)}" in text
    assert (f"figure pixels {f3(tuned['occlusion_auc_figure'])}, O at rest {f3(tuned['occlusion_at_rest'])}, and the pixel "
            f"head at {f3(tuned['d_pixel_auc_true_disocclusion'])}") in text
    assert warp["occlusion_auc_figure"] < without["occlusion_auc_figure"] and warp["occlusion_at_rest"] < without["occlusion_at_rest"]


def test_the_revealed_model_continued_in_choices_md_is_the_record():
    """'A model at 64x64, continued': occlusion_levers() of the continued rows with
    SILHOUETTE_COLUMNS, every figure its sentences and the README quote, and the yardsticks
    (the revealed recipe's two training seeds, its own fine-tune's pixel head)."""
    rows = calibration_rows()
    page = (REPO / "docs" / "choices.md").read_text()
    block = block_of(page, "occlusion-levers-revealed-continued")
    variants = [line.split(" | ")[0].lstrip("| ") for line in block.splitlines()[2:]]
    recipe = "small-motion+full-res-long+revealed-1-plain-rest"
    assert variants == [recipe, "revealed+continued-100", "revealed+motion-64-100", "revealed+aligned-100",
                        "revealed+motion-64-100+pc-warm30-pixel-head", "revealed+keep-visible-100",
                        "revealed+keep-visible+aligned-100"]
    assert block == calibration.occlusion_levers(rows, variants, calibration.SILHOUETTE_COLUMNS)
    row = {r["variant"]: r for r in rows if r.get("seed", 0) == 0}
    control, motion, aligned, finetune, keep, keep_aligned = (row[name] for name in variants[1:])
    continued = (control, motion, aligned, keep, keep_aligned)
    assert all(r["base"] == "pretrained/synthetic-64-revealed.pt" for r in continued)
    assert all(r[key] == control[key] for r in continued for key in ("seed", "epochs", "steps", "world"))
    f3 = lambda value: f"{value:.3f}"   # noqa: E731
    seeds = {r["seed"]: r for r in rows if r["variant"] == recipe}
    fine_tunes = {r["seed"]: r for r in rows if r["variant"] == recipe + "+pc-warm30-pixel-head"}
    text = sentences_of(page, "occlusion-levers-revealed-continued")
    assert (f"Neither of the first two levers raised the IoU: {f3(motion['silhouette_iou'])} at 64x64 and {f3(aligned['silhouette_iou'])} "
            f"corner-aligned, against {f3(control['silhouette_iou'])} for the control. The revealed recipe's two "
            f"training seeds ended {f3(abs(seeds[0]['silhouette_iou'] - seeds[1]['silhouette_iou']))} apart") in text
    assert max(motion["silhouette_iou"], aligned["silhouette_iou"]) <= control["silhouette_iou"]
    assert (f"{f3(motion['occlusion_auc_figure'])} at 64x64 and {f3(aligned['occlusion_auc_figure'])} "
            f"corner-aligned (control {f3(control['occlusion_auc_figure'])})") in text
    assert (f"(warped-source IoU {f3(motion['warped_source_silhouette_iou'])} and "
            f"{f3(aligned['warped_source_silhouette_iou'])}, control {f3(control['warped_source_silhouette_iou'])})") in text
    assert min(motion["warped_source_silhouette_iou"], aligned["warped_source_silhouette_iou"]) > (
        control["warped_source_silhouette_iou"])
    assert (f"the prediction reaches IoU {f3(aligned['silhouette_iou_at_rest'])}, below the control's "
            f"{f3(control['silhouette_iou_at_rest'])}") in text
    assert aligned["silhouette_iou_at_rest"] < control["silhouette_iou_at_rest"]
    assert f"O, {f3(aligned['occlusion_at_rest'])} on figure pixels at rest" in text
    assert (f"ranks the true dis-occlusion at {f3(finetune['d_pixel_auc_true_disocclusion'])} (the revealed pair's own "
            f"fine-tune: {f3(fine_tunes[0]['d_pixel_auc_true_disocclusion'])} and "
            f"{f3(fine_tunes[1]['d_pixel_auc_true_disocclusion'])}, two seeds)") in text
    assert (f"the 64x64 row took {motion['minutes']:.1f} minutes, the control {control['minutes']:.1f} and the "
            f"corner-aligned row {aligned['minutes']:.1f}") in text
    shipped = json.loads((REPO / "results" / "diagnosis-revealed.json").read_text())
    intro = page.split("**A model at 64x64, continued", 1)[1].split("<!-- occlusion-levers-revealed-continued:start")[0]
    intro = " ".join(intro.split())
    assert f"reconstructs a frame from itself at silhouette IoU {f3(shipped['silhouette_iou_at_rest'])}" in intro
    assert (f"has them: {f3(shipped['silhouette_iou_at_rest'])} and {f3(shipped['warped_source_silhouette_iou'])}"
            in intro)
    readme = " ".join((REPO / "README.md").read_text().split())
    assert (f"the model ended at IoU {f3(motion['silhouette_iou'])} and {f3(aligned['silhouette_iou'])}, against "
            f"{f3(control['silhouette_iou'])} for the same 100 epochs without either") in readme
    gaps = sorted(control["silhouette_iou"] - r["silhouette_iou"] for r in (motion, aligned))
    assert f"differences of {f3(gaps[0])}-{f3(gaps[1])}, not separable from seed noise" in readme
    assert f"gives the frame back at IoU {f3(aligned['silhouette_iou_at_rest'])} only" in readme
    f4 = lambda value: f"{value:.4f}"   # noqa: E731
    gap = lambda r: f3(1 - r["silhouette_iou_at_rest"])   # noqa: E731
    assert (f"narrows the IoU's gap at rest from {gap(control)} to {gap(keep)} and, with the corner-aligned resize, "
            f"{gap(keep_aligned)} (IoU {f3(keep['silhouette_iou_at_rest'])} and {f3(keep_aligned['silhouette_iou_at_rest'])}; "
            f"control {f3(control['silhouette_iou_at_rest'])}), largely by construction: O at rest rises to "
            f"{f3(keep['occlusion_at_rest'])} and {f3(keep_aligned['occlusion_at_rest'])} (control "
            f"{f3(control['occlusion_at_rest'])})") in text
    assert (f"reconstruction L1 falls to {f4(keep['reconstruction_l1'])} and {f4(keep_aligned['reconstruction_l1'])} "
            f"(control {f4(control['reconstruction_l1'])})") in text
    assert (f"The IoU in motion does not rise with it: {f3(keep['silhouette_iou'])} and "
            f"{f3(keep_aligned['silhouette_iou'])}, against {f3(control['silhouette_iou'])}") in text
    assert max(keep["silhouette_iou"], keep_aligned["silhouette_iou"]) <= control["silhouette_iou"]
    assert (f"The warped source's IoU, {f3(keep['warped_source_silhouette_iou'])} and "
            f"{f3(keep_aligned['warped_source_silhouette_iou'])}, is below the prediction's") in text
    assert all(r["warped_source_silhouette_iou"] < r["silhouette_iou"] for r in (keep, keep_aligned))
    assert f"stays where it was ({f3(keep['occlusion_auc_figure'])} and {f3(keep_aligned['occlusion_auc_figure'])})" in text
    assert (f"O ranks at {f3(keep['occlusion_auc_warp_failure_foreground'])} and "
            f"{f3(keep_aligned['occlusion_auc_warp_failure_foreground'])} (control "
            f"{f3(control['occlusion_auc_warp_failure_foreground'])})") in text
    assert (f"(the two keep-visible rows: {keep['minutes']:.1f} and {keep_aligned['minutes']:.1f})") in text
    assert (f"gives the frame back at rest at IoU {f3(keep['silhouette_iou_at_rest'])} and "
            f"{f3(keep_aligned['silhouette_iou_at_rest'])}, and the reconstruction L1 falls to {f4(keep['reconstruction_l1'])} and "
            f"{f4(keep_aligned['reconstruction_l1'])} (control {f4(control['reconstruction_l1'])}), but the IoU in motion ends at "
            f"{f3(keep['silhouette_iou'])} and {f3(keep_aligned['silhouette_iou'])}") in readme
