"""The PriorityCut experiment's measurements and statistics: paired bootstrap verdicts, the
artifact metrics and mask precision against the true dis-occlusion, FOMM's per-frame
averaging, discriminator AUCs, and `pcut experiment --quick` end to end."""
import csv
import json
import math
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, tiny_synthetic_world

from pcutlib.cli import main
from pcutlib.config import load_config
from pcutlib.data.splits import load_split
from pcutlib.data.synthetic_truth import disocclusion_from
from pcutlib.evaluation import artifacts, bootstrap, metrics
from pcutlib.evaluation import protocols as evaluation
from pcutlib.evaluation.discriminator_quality import discriminator_quality, held_out_frames
from pcutlib.evaluation.occlusion_truth import discriminator_auc_against_truth
from pcutlib.experiments import comparison, demo, experiment_options, recipes, report, runs, seed_statistics
from pcutlib.models.build import build_models
from pcutlib.prioritycut import RegularizerConfig

pytestmark = pytest.mark.usefixtures("one_thread")
ADVERSARIAL = recipes.experiment_recipe()["adversarial"]


# ----------------------------------------------------------------------------- bootstrap

def paired_data(shift: float, seeds: int = 5, videos: int = 30, seed: int = 0):
    """Reference values with a per-seed and a per-video effect; the variant = reference + shift + noise."""
    rng = np.random.default_rng(seed)
    reference = 0.05 + rng.normal(0, 0.01, (seeds, 1)) + rng.normal(0, 0.02, (1, videos))
    variant = reference + shift + rng.normal(0, 0.002, (seeds, videos))
    return variant, reference


def test_a_clear_shift_is_better_and_the_interval_holds_the_true_difference():
    variant, reference = paired_data(shift=-0.003)
    delta, low, high = bootstrap.paired_bootstrap(variant, reference, resamples=2000, seed=0)
    true_difference = float((variant - reference).mean())
    assert low <= true_difference <= high and low < delta < high
    assert high < 0
    assert bootstrap.compare("l1", variant, reference, lower_is_better=True).verdict == "better"
    assert bootstrap.compare("ssim", variant, reference, lower_is_better=False).verdict == "worse"


def test_identical_data_and_noise_alone_detect_no_difference():
    variant, reference = paired_data(shift=0.0)
    same = bootstrap.compare("l1", reference, reference.copy(), lower_is_better=True)
    assert (same.difference, same.low, same.high) == (0.0, 0.0, 0.0)
    assert same.verdict == "no difference detected"
    noise = bootstrap.compare("l1", variant, reference, lower_is_better=True)
    assert noise.low < 0 < noise.high and noise.verdict == "no difference detected"
    assert (noise.seeds, noise.videos) == (5, 30)


def test_bootstrap_is_seeded_weighted_and_skips_missing_values():
    variant, reference = paired_data(shift=0.01, seeds=3, videos=8)
    once, again = (bootstrap.paired_bootstrap(variant, reference, seed=3) for _ in range(2))
    assert once == again
    weights = np.ones_like(variant)
    weights[:, 0] = 9.0                                         # video 0 weighs 9 times the others
    delta, _, _ = bootstrap.paired_bootstrap(variant, reference, weights, weights)
    assert delta == pytest.approx(((variant - reference) * weights).sum() / weights.sum())
    holes = variant.copy()
    holes[0, 1] = np.nan                                        # a missing value weighs nothing
    kept = np.ones_like(variant)
    kept[0, 1] = 0
    assert bootstrap.paired_bootstrap(holes, reference, None, kept)[0] == pytest.approx(
        ((variant - reference) * kept).sum() / kept.sum())
    assert math.isnan(bootstrap.paired_bootstrap(np.full((2, 2), np.nan), np.zeros((2, 2)))[0])


def test_bootstrap_errors_name_the_bad_value():
    with pytest.raises(ValueError, match=r"must pair the same seeds and videos"):
        bootstrap.paired_bootstrap(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"resamples must be a positive int, got 0"):
        bootstrap.paired_bootstrap(np.zeros((2, 3)), np.zeros((2, 3)), resamples=0)
    with pytest.raises(ValueError, match=r"\(seeds, videos\) array, got shape \(3,\)"):
        bootstrap.paired_bootstrap(np.zeros(3), np.zeros(3))
    assert bootstrap.verdict(math.nan, math.nan, True) == "not measured"


def test_variant_groups_and_the_config_of_every_setting():
    assert recipes.expand_variants(["main"]) == recipes.variant_groups()["main"]
    assert recipes.expand_variants(["unet", "ablations", "unet"]) == ["unet", *recipes.variant_groups()["ablations"]]
    assert {"prioritycut-k5", "prioritycut-k30", "prioritycut-k50", "prioritycut-k10-all",
            "prioritycut-k10-ones-fake", "prioritycut-k10-unetgan-weights"} <= set(recipes.variant_groups()["ablations"])
    with pytest.raises(ValueError, match="'prioritycut-k7'"):
        recipes.expand_variants(["prioritycut-k7"])
    base = load_config(REPO / "configs" / "synthetic-64.yaml")
    for name, variant in recipes.experiment_recipe()["variants"].items():
        for setting in recipes.SETTINGS:
            config = recipes.experiment_config(base, variant, setting, 3 if setting == "finetune" else None, 7)
            blocks = config["model_params"]["discriminator_params"]["num_blocks"]
            weights = config["train_params"]["loss_weights"]
            assert weights["feature_matching"] == [ADVERSARIAL["feature_matching"]] * blocks, (name, setting)
            assert weights["generator_gan"] == ADVERSARIAL["generator_gan"]
            assert config["train_params"]["seed"] == 7
            assert config["regularizer"]["type"] == variant["regularizer"]
            assert config["model_params"]["discriminator_params"]["sn"] is ADVERSARIAL["discriminator_spectral_norm"]
            assert (config["train_params"]["discriminator_steps_per_generator_step"]
                    == ADVERSARIAL["discriminator_steps_per_generator_step"])
            mixing = variant["regularizer"] != "none"
            assert (config["regularizer"]["consistency_weight"] == ADVERSARIAL["consistency_weight"]) is mixing, name
            assert (config["regularizer"]["mixed_terms_warmup_epochs"]
                    == (ADVERSARIAL["mixed_terms_warmup_epochs"] if mixing else 0.0)), name
    ones_fake = recipes.experiment_config(base, recipes.variant("prioritycut-k10-ones-fake"), "finetune", 3, 0)
    assert ones_fake["regularizer"]["all_ones_masks"] == "fake"
    weights = recipes.experiment_config(base, recipes.variant("cutmix-unetgan-weights"), "finetune", 3, 0)
    assert weights["regularizer"]["mixed_round_weights"] == "unetgan"
    for name in ("cutmix", "prioritycut-k10", "oracle-prioritycut-k10"):
        mixing = recipes.experiment_config(base, recipes.variant(name), "finetune", 3, 0)["regularizer"]
        assert {key: mixing[key] for key in ("mix_probability", "mixed_round_weights", "mixed_pixel_weighting",
                                                 "decoder_plain_terms")} == {
            key: ADVERSARIAL[key] for key in ("mix_probability", "mixed_round_weights", "mixed_pixel_weighting",
                                              "decoder_plain_terms")}, name
    tune = recipes.experiment_config(base, recipes.variant("prioritycut-k10"), "finetune", 3, 0)
    scratch = recipes.experiment_config(base, recipes.variant("prioritycut-k10"), "scratch", None, 0)
    assert tune["train_params"]["num_epochs"] == 3 and tune["train_params"]["lr_generator"] == 5.0e-5
    assert tune["train_params"]["discriminator_warmup_epochs"] == 0
    warmed = recipes.experiment_config(base, recipes.variant("prioritycut-k10"), "finetune", 3, 0, 20)
    assert warmed["train_params"]["num_epochs"] == 23 and warmed["train_params"]["discriminator_warmup_epochs"] == 20
    # a shared warm-up alone (no adversarial epochs) keeps one discriminator step: the key means nothing there
    warmup_only = recipes.experiment_config(base, recipes.variant("unet"), "finetune", 0, 0, 20)
    assert warmup_only["train_params"]["discriminator_steps_per_generator_step"] == 1
    assert scratch["train_params"]["discriminator_warmup_epochs"] == 0      # adversarial from the first step
    # from scratch: the reconstruction recipe (epochs, learning rates, milestones, region dropout)
    for key in ("num_epochs", "lr_generator", "epoch_milestones", "region_dropout"):
        assert scratch["train_params"][key] == base["train_params"][key], key
    assert scratch["regularizer"]["mix_warmup_epochs"] == pytest.approx(0.25 * base["train_params"]["num_epochs"])
    with pytest.raises(ValueError, match="'warm'"):
        recipes.experiment_config(base, recipes.variant("unet"), "warm", 3, 0)

# ----------------------------------------------------------------------------- artifact metrics

def test_results_name_the_command_that_makes_them_again():
    import argparse

    parser = experiment_options.add_experiment_arguments(argparse.ArgumentParser())

    def command(*argv):
        args = experiment_options.resolve_arguments(parser.parse_args(list(argv)))
        return [experiment_options.reproducing_command(args, setting) for setting in args.settings]

    assert command("--setting", "finetune") == ["pcut experiment --setting finetune"]
    assert command("--quick") == ["pcut experiment --quick --setting finetune", "pcut experiment --quick --setting scratch"]
    assert command("--setting", "finetune", "--init-from", "runs/x/last.pt", "--seeds", "0", "1", "--warmup-epochs",
                   "3", "--variants", "unet", "--scratch-epochs", "9") == \
        ["pcut experiment --setting finetune --init-from runs/x/last.pt --warmup-epochs 3 --seeds 0 1 --variants unet"]


def test_the_fine_tune_start_is_committed_and_a_missing_one_says_how_it_was_made(tmp_path):
    """The default start of setting (a) is the committed float16 reconstruction, so records made on
    any machine share its digest; a missing start is an error naming the commands that made it
    (only --quick trains its own); the scratch setting's reconstruction row is its own run's."""
    import argparse

    parser = experiment_options.add_experiment_arguments(argparse.ArgumentParser())
    args = experiment_options.resolve_arguments(parser.parse_args([]))
    assert args.init_from == Path("pretrained/synthetic-64-reconstruction.pt")
    assert (REPO / args.init_from).is_file(), "the fine-tune start is not committed"
    # the scratch setting's reconstruction row is synthetic-64 as the scratch runs train it, which the
    # demo's first step no longer is (its recipe adds keypoint separation): its own run folder and command
    demo_args = demo.add_demo_arguments(argparse.ArgumentParser()).parse_args([])
    row = runs.reconstruction_row(args, "scratch")
    assert row != demo.reconstruction_dir(demo_args.runs, demo_args.config) / "checkpoints" / "last.pt"
    assert demo.demo_recipe()["overrides"] and "--config synthetic-64 " in runs.SCRATCH_RECONSTRUCTION_COMMAND
    assert row == Path("runs") / runs.SCRATCH_RECONSTRUCTION_COMMAND.split("--name ")[1] / "checkpoints" / "last.pt"
    args.init_from = tmp_path / "missing.pt"
    with pytest.raises(FileNotFoundError, match="pcut export-pretrained --checkpoint"):
        runs.ensure_start(args, {}, {"finetune": ["unet-seed2"]}, progress=False)
    runs.ensure_start(args, {}, {"finetune": []}, progress=False)           # nothing to train: no start needed
    args.records_only = True
    runs.ensure_start(args, {}, {"finetune": ["unet-seed2"]}, progress=False)


def test_the_tables_cover_the_design_s_seeds_whatever_seeds_train_now():
    """--seeds chooses what trains now; the tables, the planned count and the verdicts cover the
    design's seeds (SETTING_SEEDS) and any other seed asked for, read from their records."""
    import argparse

    parser = experiment_options.add_experiment_arguments(argparse.ArgumentParser())

    def seeds(*argv):
        args = experiment_options.resolve_arguments(parser.parse_args(list(argv)))
        return comparison.seeds_of(args, args.settings[0]), comparison.plan_seeds(args, args.settings[0])

    assert seeds("--setting", "finetune", "--seeds", "3") == ([3], list(range(12)))
    assert seeds("--setting", "scratch", "--seeds", "14") == ([14], [*range(6), 14])
    assert seeds("--setting", "scratch") == (list(range(6)), list(range(6)))
    assert seeds("--quick", "--setting", "finetune") == ([0, 1], [0, 1])


def test_the_tables_cover_the_design_s_variants_whatever_variants_train_now():
    """--variants chooses what trains now (a session may train two variants of a seed); the
    tables, the planned count and the verdicts cover the design's variants, read from their
    records, so that a subset without a comparison pair still ends in tables."""
    import argparse

    parser = experiment_options.add_experiment_arguments(argparse.ArgumentParser())
    main_variants = recipes.variant_groups()["main"]

    def planned(*argv):
        args = experiment_options.resolve_arguments(parser.parse_args(list(argv)))
        return comparison.plan_variants(args, args.settings[0]), comparison.planned_runs(args, args.settings[0])

    assert planned("--setting", "scratch", "--variants", "unet", "oracle-prioritycut-k10") == (main_variants, 5 * 6)
    assert planned("--setting", "finetune", "--variants", "prioritycut-k30") == ([*main_variants, "prioritycut-k30"],
                                                                                6 * 12)
    assert planned("--quick", "--setting", "finetune") == (["unet", "prioritycut-k10", "oracle-prioritycut-k10"], 3 * 2)


def test_mask_precision_is_one_for_the_truth_and_chance_is_the_base_rate():
    truth = torch.zeros(2, 8, 8, dtype=torch.bool)
    truth[0, 2:4, 2:6] = True                                    # 8 dis-occluded pixels in frame 0
    truth[1, 0, :4] = True                                       # 4 in frame 1
    mask = (~truth).float()[:, None]                             # generated exactly at the truth
    result = artifacts.mask_precision(mask, truth)
    assert result["mask_precision"] == 1.0 and result["mask_precision_weight"] == 12
    assert result["mask_chance"] == pytest.approx((8 * 8 / 64 + 4 * 4 / 64) / 12)
    shifted = torch.ones(2, 1, 8, 8)
    shifted[0, 0, 2:4, 4:8] = 0                                  # half on the truth
    assert artifacts.mask_precision(shifted, truth)["mask_precision"] == 0.5
    foreground = torch.zeros(2, 8, 8, dtype=torch.bool)
    foreground[:, :4] = True                                     # the top half: all of the truth
    inside = artifacts.mask_precision(mask, truth, foreground)
    assert inside["mask_chance_foreground"] == pytest.approx((8 * 8 / 32 + 4 * 4 / 32) / 12)
    assert inside["mask_chance_foreground"] == pytest.approx(2 * inside["mask_chance"])
    empty = artifacts.mask_precision(torch.ones(2, 1, 8, 8), truth, foreground)
    assert math.isnan(empty["mask_precision"]) and empty["mask_precision_weight"] == 0
    assert math.isnan(empty["mask_chance_foreground"])
    with pytest.raises(ValueError, match=r"mask must be \(N,1,H,W\)"):
        artifacts.mask_precision(torch.ones(2, 8, 8), truth)


def test_artifact_metrics_split_the_error_at_the_true_disocclusion():
    real = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    truth = torch.zeros(2, 16, 16, dtype=torch.bool)
    truth[:, 6:10, 6:10] = True
    pred = real.clone()
    pred[:, :, 6:10, 6:10] += 0.25                               # wrong only where the body uncovers
    row = artifacts.artifact_metrics(pred, real, truth)
    assert row["l1_disoccluded"] == pytest.approx(0.25) and row["l1_disoccluded_weight"] == 32
    assert row["l1_visible"] == 0.0 and row["l1_visible_weight"] == 2 * 256 - 32
    assert row["ssim_disoccluded"] < 1 and row["ssim_disoccluded_weight"] == 32   # 6x6 map: all 16 inside
    assert row["ssim_visible"] < 1                               # windows near the square see it too
    assert artifacts.artifact_metrics(real, real, truth)["ssim_visible"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"disoccluded must be a bool \(N,H,W\)"):
        artifacts.artifact_metrics(pred, real, truth.float())


def test_ssim_map_averages_to_the_ssim_metric():
    generator = torch.Generator().manual_seed(1)
    real = torch.rand(3, 3, 24, 24, generator=generator)
    pred = (real + 0.1 * torch.randn(3, 3, 24, 24, generator=generator)).clamp(0, 1)
    assert metrics.ssim_map(pred, real).shape == (3, 14, 14)
    assert float(metrics.ssim_map(pred, real).mean()) == pytest.approx(metrics.ssim(pred, real), abs=1e-5)
    assert metrics.ssim_per_frame(pred, real).mean() == pytest.approx(metrics.ssim(pred, real), abs=1e-5)


# ----------------------------------------------------------------------------- FOMM's per-frame metrics

def test_fomm_metrics_average_over_all_frames_not_per_video():
    """Video a: 1 frame with L1 0.4; video b: 3 frames with L1 0 (pixels differ by exactly the L1)."""
    real_a, real_b = torch.zeros(1, 3, 16, 16), torch.zeros(3, 3, 16, 16)
    rows = [{"name": "a", "l1": metrics.l1(real_a + 0.4, real_a), **evaluation.fomm_frame_metrics(real_a + 0.4, real_a)},
            {"name": "b", "l1": metrics.l1(real_b, real_b), **evaluation.fomm_frame_metrics(real_b, real_b)}]
    assert rows[0]["l1_fomm_weight"] == 1 and rows[1]["l1_fomm_weight"] == 3
    assert evaluation.weighted_mean(rows, "l1_fomm") == pytest.approx(0.4 / 4)      # FOMM: all 4 frames
    assert evaluation.weighted_mean(rows, "l1") == pytest.approx(0.4 / 2)           # pcut: per video first
    assert evaluation.weighted_mean(rows, "psnr_fomm") == pytest.approx((10 * math.log10(1 / 0.16) + 3 * 100) / 4)


def test_per_frame_keypoint_and_identity_distances():
    real = np.zeros((2, 3, 2))
    pred = real.copy()
    pred[0, :, 0] = 2 / 63                                       # frame 0: every keypoint 1 px to the right
    found = np.array([[True, True, False], [False, False, False]])
    real_found = np.array([[True, True, True], [False, True, True]])
    distance = metrics.keypoint_distance_per_frame(pred, real, 64, found, real_found)
    assert distance[0] == pytest.approx(1.0) and math.isnan(distance[1])          # frame 1: none in both
    assert metrics.missing_keypoints_per_frame(found, real_found).tolist() == [pytest.approx(1 / 3), 1.0]
    difference = metrics.embedding_difference_per_frame(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]]))
    assert difference.tolist() == [2.0]                          # mean |e - e'| (cmp.py), not the norm


# ----------------------------------------------------------------------------- discriminator quality

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_synthetic_world(tmp_path_factory.mktemp("experiment-data"), seed=3)


@pytest.mark.parametrize("kind", ["unet", "patch"])
def test_discriminator_quality_of_an_untrained_model_is_in_the_unit_interval(tiny, kind):
    root, config = tiny
    params = config["model_params"]
    if kind == "patch":
        params = {**params, "discriminator_params": {**params["discriminator_params"], "kind": "patch",
                                                     "num_blocks": 2, "use_kp": True}}
    torch.manual_seed(0)
    models = build_models(params).eval()
    videos = [frames for _, frames, _, _ in load_split(root, "test")]
    quality = discriminator_quality(models, videos, RegularizerConfig(top_k_percent=30.0), max_frames_per_video=2)
    assert quality["d_frames"] == 2 * len(videos)
    assert 0 <= quality["d_image_auc"] <= 1
    pixel = [quality["d_pixel_auc_prioritycut"], quality["d_pixel_auc_cutmix"]]
    if kind == "unet":
        assert all(0 <= auc <= 1 for auc in pixel)
    else:
        assert all(math.isnan(auc) for auc in pixel)             # no pixel head
    models.discriminator = None
    with pytest.raises(ValueError, match="with_discriminator=True"):
        discriminator_quality(models, videos)


def test_discriminator_quality_scores_the_pixel_head_against_the_true_disocclusion(tiny):
    """d_pixel_auc_true_disocclusion is the decoder's fake score on the same generated frames,
    ranked against those frames' truth; without the truth of every video it is NaN."""
    root, config = tiny
    torch.manual_seed(0)
    models = build_models(config["model_params"]).eval()
    test = load_split(root, "test")
    videos = [frames for _, frames, _, _ in test]
    truths = [disocclusion_from(truth, 0) for _, _, _, truth in test]
    quality = discriminator_quality(models, videos, max_frames_per_video=3, truths=truths)
    frames = held_out_frames(models, videos, 3, truths)
    with torch.no_grad():
        logits = models.discriminator(frames["fake"])["pixel_logits"]
    assert quality["d_pixel_auc_true_disocclusion"] == pytest.approx(
        discriminator_auc_against_truth(logits, frames["truth"]), abs=1e-9)
    assert frames["truth"].shape == (len(frames["fake"]), *videos[0].shape[2:]) and frames["truth"].any()
    assert math.isnan(discriminator_quality(models, videos, max_frames_per_video=3,
                                            truths=[None] * len(videos))["d_pixel_auc_true_disocclusion"])


def test_evaluate_test_videos_gives_every_claim_metric(tiny):
    root, config = tiny
    torch.manual_seed(0)
    models = build_models(config["model_params"], with_discriminator=False).eval()
    test = load_split(root, "test")
    rows = artifacts.evaluate_test_videos(models, test, RegularizerConfig(top_k_percent=30.0))
    copy = artifacts.evaluate_test_videos(None, test)
    assert [r["name"] for r in rows] == [path.name for path, *_ in test]
    for key in ("l1_disoccluded", "l1_visible", "ssim_visible", "mask_precision", "mask_chance", "animation_l1",
                "l1_fomm", "l1"):
        assert all(0 <= row[key] <= 1 for row in rows), key
    assert "mask_precision" not in copy[0]                       # copying has no occlusion map
    video = test[0][1]
    assert copy[0]["l1_fomm"] == pytest.approx(float((video - video[:1]).abs().mean()), rel=1e-6)


# ----------------------------------------------------------------------------- the command

@pytest.mark.slow
def test_experiment_quick_runs_the_whole_pipeline_and_resumes(tmp_path, capsys):
    quick = tmp_path / "quick"
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- results:start -->\nold\n<!-- results:end -->\n\n## after\n")
    front = tmp_path / "FRONT.md"                  # the repository's README: the verdict table only
    front.write_text("# y\n\n<!-- verdict:start -->\nold\n<!-- verdict:end -->\n")
    command = ["experiment", "--quick", "--runs", str(quick), "--no-progress", "--device", "cpu"]
    assert main([*command, "--readme", str(readme), str(front)]) == 0
    variants = ["unet", "prioritycut-k10", "oracle-prioritycut-k10"]
    for setting, init in (("finetune", runs.INIT), ("scratch", runs.INIT_SCRATCH)):
        results = quick / "results" / f"experiment-{setting}"
        for name in ("experiment.md", "experiment.csv", "experiment_runs.csv", "experiment_comparisons.csv",
                     "seed_differences.png", "metrics_vs_k.png", "artifacts.png", "section.md"):
            assert (results / name).is_file(), (setting, name)
        assert sorted(p.name for p in (results / "runs").iterdir()) == sorted(
            [f"{v}-seed{s}.json" for v in variants for s in (0, 1)] + ["reference-copy.json", "reference-init.json"])
        record = json.loads((results / "runs" / "prioritycut-k10-seed1.json").read_text())
        assert len(record["per_video"]) == 4 and "l1_disoccluded" in record["per_video"][0]
        assert 0 <= record["summary"]["d_image_auc"] <= 1 and "d_pixel_auc_true_disocclusion" in record["summary"]
        assert record["made_from"]["config"]["train_params"]["seed"] == 1 and record["minutes"] > 0
        assert (record["start"] is None) == (setting == "scratch")
        markdown = (results / "experiment.md").read_text()
        assert init in markdown and runs.COPY in markdown and "D image AUC" in markdown
        assert "hierarchical bootstrap" in markdown and "upper bound" in markdown
        with open(results / "experiment_comparisons.csv", newline="") as f:
            comparisons = list(csv.DictReader(f))
        assert {(c["variant"], c["reference"]) for c in comparisons} == {
            ("prioritycut-k10", "unet"), ("prioritycut-k10", "oracle-prioritycut-k10")}
        with open(results / "experiment_runs.csv", newline="") as f:
            by_run = {(row["variant"], row["seed"]): row for row in csv.DictReader(f)}
        for c in comparisons:          # a seed counts only where both of its runs pass the gate
            passing = [s for s in ("0", "1") if all(
                seed_statistics.run_gate({k: float(v) if v else math.nan for k, v in by_run[(name, s)].items()
                                          if k.startswith("d_")}) is None for name in (c["variant"], c["reference"]))]
            assert c["seeds"].split() == passing and int(c["left_out"]) == 2 - len(passing), c
    text = readme.read_text()
    assert "old" not in text and text.endswith("<!-- results:end -->\n\n## after\n")
    assert "Setting (a)" in text and "Setting (b)" in text
    assert "](quick/results/experiment-scratch/artifacts.png)" in text
    verdicts = front.read_text()
    assert "old" not in verdicts and "| (a) fine-tune, flat world: 6 of 6 runs recorded | prioritycut-k10 − " \
        "oracle-prioritycut-k10 | " in verdicts and "(b) from scratch, flat world: 6 of 6 runs recorded" in verdicts
    assert re.search(r"\| \(a\) fine-tune, flat world \| [0-9.]+ \| [0-9.]+ \| – \| [0-9.]+ \| – \| [0-9.]+ \| "
                     r"[0-9.]+ \| \d of 6 \|", verdicts), verdicts     # where it ends: copy, start, the variants run
    scratch_log = (quick / "scratch" / "unet-seed0" / "log.jsonl").read_text().splitlines()
    assert "gen_unet_encoder" in json.loads(scratch_log[0])                  # adversarial from the first step
    assert "feature_matching" in json.loads(scratch_log[0])
    # an interrupted run (its record and finished mark gone) continues from its last epoch
    last = quick / "finetune" / "unet-seed0" / "checkpoints" / "last.pt"
    trained = last.stat().st_mtime_ns
    (quick / "finetune" / "unet-seed0" / "experiment_run.json").unlink()      # as if killed after the last epoch
    (quick / "results" / "experiment-finetune" / "runs" / "unet-seed0.json").unlink()
    capsys.readouterr()
    assert main(command) == 0
    out = capsys.readouterr().out
    assert "fine-tuning" not in out and "training from scratch" not in out
    assert "continuing unet-seed0" in out and last.stat().st_mtime_ns == trained
    # on a machine with the records alone (no run folder, no checkpoint): nothing trains, the tables stay
    tables = {s: (quick / "results" / f"experiment-{s}" / "experiment_runs.csv").read_text() for s in ("finetune", "scratch")}
    assert (quick / "finetune" / "reconstruction-start").is_dir() and not (quick / "reconstruction-start").exists()
    for folder in ("finetune", "scratch", "reconstruction", "probes"):        # the references are scored under each setting's folder
        shutil.rmtree(quick / folder)
    assert main(command) == 0
    out = capsys.readouterr().out
    assert "finetune: 0 of 6 runs to train" in out and "scratch: 0 of 6 runs to train" in out
    assert not re.search(r"^(fine-tuning|training from scratch|continuing) \S+$", out, re.M)
    assert "missing: training it" not in out
    assert not (quick / "finetune").exists() and not (quick / "reconstruction").exists()
    assert all((quick / "results" / f"experiment-{s}" / "experiment_runs.csv").read_text() == tables[s] for s in tables)
    # --records-only with a seed that has no record: nothing trains, the tables say how many runs they hold
    assert main([*command, "--records-only", "--seeds", "0", "1", "2", "--setting", "finetune"]) == 0
    out = capsys.readouterr().out
    assert "finetune: 6 of 9 runs recorded; --records-only leaves out the others (unet-seed2," in out
    assert not (quick / "finetune").exists()
    assert "These tables hold the 6 of 9 planned runs" in (quick / "results" / "experiment-finetune" / "experiment.md").read_text()


def test_the_artifacts_grid_outlines_the_true_disocclusion(tiny, tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    from pcutlib.checkpoints.files import save_models
    from pcutlib.data.synthetic_truth import disocclusion_from

    root, config = tiny
    path, video, _, truth = load_split(root, "test")[0]
    disoccluded = disocclusion_from(truth, 0)
    frames = report.artifact_frames(len(video))
    assert all(0 < f < len(video) for f in frames)
    outlines = []
    contour = Axes.contour
    monkeypatch.setattr(Axes, "contour", lambda ax, z, *a, **k: outlines.append(np.asarray(z)) or contour(ax, z, *a, **k))
    torch.manual_seed(0)
    checkpoint = tmp_path / "model.pt"
    save_models(checkpoint, build_models(config["model_params"]), config)
    report.plot_artifacts({"model": checkpoint}, video, path.name, tmp_path / "grid.png", disoccluded=disoccluded)
    assert (tmp_path / "grid.png").is_file()
    shown = [f for f in frames if disoccluded[f].any() and not disoccluded[f].all()]
    assert shown and len(outlines) == 2 * len(shown)                          # driving and model columns
    assert all(np.array_equal(o, disoccluded[f].astype(float)) for o, f in zip(outlines, shown * 2))


def test_a_shorter_shared_warmup_is_continued_not_retrained(tmp_path):
    base = load_config(REPO / "configs" / "synthetic-64.yaml")
    short = recipes.experiment_config(base, recipes.variant("unet"), "finetune", 0, 3, 60)
    longer = recipes.experiment_config(base, recipes.variant("unet"), "finetune", 0, 3, 150)
    run = tmp_path / "unet-warmup-seed3"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"")
    done = {"training_version": runs.TRAINING_VERSION, "init_from": "start.pt", "config": short}
    (run / "experiment_started.json").write_text(json.dumps(done, default=str))
    (run / "experiment_run.json").write_text(json.dumps(done, default=str))
    began = (run / "experiment_run.json").stat().st_mtime - 120                 # the short warm-up took 2 min
    os.utime(run / "experiment_started.json", (began, began))
    other_seed = recipes.experiment_config(base, recipes.variant("unet"), "finetune", 0, 4, 150)
    assert not runs.extend_shorter_warmup(run, other_seed, Path("start.pt"))      # not the same run
    assert not runs.extend_shorter_warmup(run, longer, Path("other.pt"))
    assert (run / "experiment_run.json").is_file()
    assert runs.extend_shorter_warmup(run, longer, Path("start.pt"))
    assert not (run / "experiment_run.json").exists()
    started = json.loads((run / "experiment_started.json").read_text())
    assert started["config"]["train_params"]["num_epochs"] == 150
    assert started["config"]["train_params"]["discriminator_warmup_epochs"] == 150
    took = time.time() - (run / "experiment_started.json").stat().st_mtime        # dated back: both parts count
    assert 119 <= took < 300


def test_a_run_recorded_before_a_config_key_existed_is_still_finished(tmp_path):
    """A key added later reads back at its default (the old behaviour): the finished run is
    reused, not trained again; a key whose value differs still counts as another run."""
    base = load_config(REPO / "configs" / "synthetic-64.yaml")
    config = recipes.experiment_config(base, recipes.variant("unet"), "finetune", 6, 2, 150)
    run = tmp_path / "unet-seed2"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"")
    older = json.loads(json.dumps(runs.run_record(config, Path("start.pt"))))
    del older["config"]["regularizer"]["mixed_terms_warmup_epochs"]            # recorded before the key
    (run / "experiment_run.json").write_text(json.dumps(older))
    assert runs.read_run_record(run / "experiment_run.json") == runs.run_record(config, Path("start.pt"))
    assert runs.ensure_trained(config, run, Path("start.pt"), "cpu", False) == run / "checkpoints" / "last.pt"
    older["config"]["regularizer"]["mixed_terms_warmup_epochs"] = 2.0
    (run / "experiment_run.json").write_text(json.dumps(older))
    assert runs.read_run_record(run / "experiment_run.json") != runs.run_record(config, Path("start.pt"))


def test_a_run_record_round_trips_and_says_why_it_is_stale(tmp_path):
    from pcutlib.experiments import run_records

    base = load_config(REPO / "configs" / "synthetic-64.yaml")
    config = recipes.experiment_config(base, recipes.variant("cutmix"), "finetune", 6, 2, 150)
    start = tmp_path / "start.pt"
    start.write_bytes(b"weights")
    made_from = runs.run_record(config, start)
    path = run_records.run_record_path(tmp_path / "results", "finetune", "cutmix", 2)
    summary = {"l1_disoccluded": 0.0712345678, "d_image_auc": math.nan, "source": "x.pt@1"}
    rows = [{"name": "v0", "l1_disoccluded": 0.07, "ssim": float("inf")}]
    run_records.write_record(path, made_from, run_records.file_digest(start), ["v0"], 3.25, summary, rows)
    assert path == tmp_path / "results" / "experiment-finetune" / "runs" / "cutmix-seed2.json"
    said = []
    record = run_records.read_record(path, made_from, ["v0"], say=said.append)
    assert said == [] and record["minutes"] == 3.25 and record["start"] == run_records.file_digest(start)
    assert record["summary"]["l1_disoccluded"] == 0.07123457 and math.isnan(record["summary"]["d_image_auc"])
    assert record["summary"]["source"] == "x.pt@1" and math.isnan(record["per_video"][0]["ssim"])
    other = runs.run_record(recipes.experiment_config(base, recipes.variant("cutmix"), "finetune", 6, 3, 150), start)
    assert run_records.read_record(path, other, ["v0"], say=said.append) is None
    assert run_records.read_record(path, made_from, ["v0", "v1"], say=said.append) is None
    assert said == ["cutmix-seed2.json: recorded with another config; made again",
                    "cutmix-seed2.json: recorded with other held-out videos; made again"]
    # another machine: the same run with other paths for the start checkpoint and the data
    moved = recipes.experiment_config({**base, "dataset_params": {**base["dataset_params"], "root_dir": "/x/world"}},
                                      recipes.variant("cutmix"), "finetune", 6, 2, 150)
    assert run_records.read_record(path, runs.run_record(moved, Path("/elsewhere/start.pt")), ["v0"]) is not None
    assert run_records.read_record(path, made_from, ["v0"], say=said.append, start="0" * 16) is None
    assert run_records.read_record(path, made_from, ["v0"], say=said.append, scoring={"quality_frames": 4}) is None
    assert "another starting checkpoint" in said[2] and "other scoring settings" in said[3]
    assert run_records.read_record(tmp_path / "none.json", made_from, ["v0"], say=said.append) is None
    assert len(said) == 4                                                     # a missing record says nothing


def test_the_results_page_states_the_design_and_the_recipe_as_they_are():
    """docs/results.md writes the design and the recipe out in prose above the generated section:
    each figure there is the one the command uses (design's seeds, FULL_DEFAULTS' epochs, the
    experiment recipe's weights)."""
    from pcutlib.experiments import design

    text = " ".join((REPO / "docs" / "results.md").read_text().split())
    adversarial, defaults = recipes.experiment_recipe()["adversarial"], experiment_options.FULL_DEFAULTS
    fine, scratch = design.setting_plan("finetune"), design.setting_plan("scratch")
    expected = [
        f"seeds {fine['seeds'][0]}-{fine['seeds'][-1]} (seeds {' and '.join(map(str, fine['tuning_seeds']))} chose",
        f"so {fine['planned_seeds']} count", f"a warm-up of {defaults['warmup_epochs']} epochs",
        f"then {defaults['epochs']} adversarial epochs",
        f"seeds {scratch['seeds'][0]}-{scratch['seeds'][-1]} (seed {scratch['tuning_seeds'][0]} was seen",
        f"so {scratch['planned_seeds']} count",
        f"adversarial term at {adversarial['generator_gan']:g}, feature matching at "
        f"{adversarial['feature_matching']:g} and {adversarial['discriminator_steps_per_generator_step']} "
        f"discriminator updates", f"consistency loss at {adversarial['consistency_weight']:g}",
        f"over their first {adversarial['mixed_terms_warmup_epochs']:g} epochs of mixing"]
    textured = design.setting_plan("finetune-textured")
    expected += [f"Seeds {textured['seeds'][0]}-{textured['seeds'][-1]}, all counted",
                 f"its image gate is {textured['min_auc']:g}", f"and {textured['min_auc']:g} in the textured world",
                 f"`{experiment_options.TEXTURED_DEFAULTS['init_from']}`", "image AUCs of 0.50-0.74"]
    assert textured["planned_seeds"] == len(textured["seeds"]) and "0.50-0.74" in textured["history"]
    assert [phrase for phrase in expected if phrase not in text] == []


def test_the_textured_world_has_its_own_start_design_and_folders(tmp_path):
    """--world textured: its own data and committed start, design 'finetune-textured' (10 seeds, no
    tuning seed, the image gate whose reason the calibration records carry), its own folders; the
    scratch setting has no design there; an existing dataset of another world is an error."""
    import argparse

    from pcutlib.data.make_synthetic import make_synthetic_dataset
    from pcutlib.data.synthetic import TEXTURED_WORLD
    from pcutlib.experiments import design
    from pcutlib.experiments.shipped_model import ensure_synthetic_data

    parser = experiment_options.add_experiment_arguments(argparse.ArgumentParser())
    args = experiment_options.resolve_arguments(parser.parse_args(["--setting", "finetune", "--world", "textured"]))
    assert args.data == Path("data/synthetic-64-textured")
    assert args.init_from == Path("pretrained/synthetic-64-textured.pt") and (REPO / args.init_from).is_file()
    assert experiment_options.design_of(args, "finetune") == "finetune-textured"
    assert comparison.plan_seeds(args, "finetune") == list(range(10))
    assert experiment_options.reproducing_command(args, "finetune") == "pcut experiment --setting finetune --world textured"
    assert runs.warmup_dir(args, 3) == Path("runs/experiment/finetune-textured/unet-warmup-seed3")
    with pytest.raises(ValueError, match="--world textured: only --setting finetune"):
        experiment_options.resolve_arguments(parser.parse_args(["--world", "textured"]))
    plan = design.setting_plan("finetune-textured")
    assert plan["tuning_seeds"] == () and plan["planned_seeds"] == 10 and plan["min_auc"] == design.TEXTURED_MIN_AUC
    # the gate's reason, as the design's history states it: the textured calibration fine-tunes' image AUCs
    textured = [row["d_image_auc"] for row in map(json.loads, (REPO / "results" / "calibration.jsonl").open())
                if "partgrain" in row["world"] and row.get("d_image_auc") is not None]
    low, high = min(textured), max(textured)
    assert f"{low:.2f}-{high:.2f}" == "0.50-0.74" and f"{low:.2f}-{high:.2f}" in plan["history"]
    assert design.TEXTURED_MIN_AUC < design.MIN_AUC
    flat = make_synthetic_dataset(tmp_path / "flat", videos=2, frames=3, size=32, identities=2, test_fraction=0.5,
                                  progress=False)
    with pytest.raises(ValueError, match="expected a dataset of World"):
        ensure_synthetic_data(flat, world=TEXTURED_WORLD)
    assert ensure_synthetic_data(flat) == flat


def test_a_readme_page_without_markers_is_refused(tmp_path):
    from pcutlib.experiments.report import write_pages

    page = tmp_path / "notes.md"
    page.write_text("# nothing to rewrite\n")
    with pytest.raises(ValueError, match=r"--readme .*notes.md: the page has neither <!-- results:start --> nor "
                                         r"<!-- verdict:start --> markers"):
        write_pages([page], tmp_path / "results", say=lambda _: None)
    assert page.read_text() == "# nothing to rewrite\n"
