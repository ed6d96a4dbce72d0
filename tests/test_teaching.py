"""pcutlib.teaching: the functions behind the notebooks' figures and sliders, and the URL tool.

Every widget of the notebooks is built here in-process and each slider is moved to its
ends (``sweep_widget``), so an exception in a widget callback fails a test instead of
landing silently in a widget's output area.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_tool
from matplotlib.figure import Figure

from pcutlib import teaching
from pcutlib.config import load_config
from pcutlib.models.build import build_models
from pcutlib.prioritycut import prioritycut_mask

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pair():
    """A source/driving pair of the synthetic world and a random smoke-sized model's output on it."""
    config = load_config("smoke")
    models = build_models(config["model_params"]).eval()
    video, _ = teaching.synthetic_frames(identity=1, video=2, frames=6, size=32)
    source, driving = video[:1], video[5:6]
    with torch.no_grad():
        kp_source, kp_driving = models.kp_detector(source), models.kp_detector(driving)
        generated = models.generator(source, kp_driving=kp_driving, kp_source=kp_source)
    return {"source": source, "driving": driving, "kp_source": kp_source, "kp_driving": kp_driving,
            "generated": generated, "models": models}


def test_affine_warp_widget_survives_every_slider():
    widget = teaching.affine_warp_widget(teaching.checkerboard(32))
    assert teaching.sweep_widget(widget) == 3 * 8
    assert set(widget.sliders) == {"driving_x", "driving_y", "rotation", "scale", "j11", "j12", "j21", "j22"}


def test_region_widget_survives_every_keypoint(pair):
    widget = teaching.region_widget(pair["source"], pair["driving"], pair["generated"], pair["kp_source"],
                                    pair["kp_driving"])
    assert widget.sliders["keypoint"].max == pair["kp_source"]["value"].shape[1] - 1
    teaching.sweep_widget(widget, points=pair["kp_source"]["value"].shape[1])
    with pytest.raises(ValueError, match="keypoint must be in"):
        widget.draw(keypoint=99)


def test_prioritycut_widget_survives_every_slider(pair):
    generated = pair["generated"]
    widget = teaching.prioritycut_widget(pair["driving"], generated["prediction"], generated["occlusion_map"],
                                         generated["region_mask"])
    assert teaching.sweep_widget(widget, points=5) == 15


def test_prioritycut_figure_changes_with_top_k(pair):
    generated = pair["generated"]
    draw = lambda k: teaching.figure_png(teaching.prioritycut_figure(           # noqa: E731
        pair["driving"], generated["prediction"], generated["occlusion_map"], generated["region_mask"],
        top_k_percent=k, foreground_threshold=1.0))
    assert draw(10) != draw(60)


def test_local_affine_warp_lands_on_the_source_keypoint():
    # T(p^D) = p^S: the output pixel at p^D shows the source pixel at p^S
    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, 1, 3] = 1.0                                        # the source pixel at (x=0.5, y=-0.5)
    warped, grid = teaching.local_affine_warp(image, (0.5, -0.5), (-0.5, 0.5),
                                              teaching.affine_jacobian(rotation_degrees=40, scale=1.3))
    assert torch.allclose(grid[3, 1], torch.tensor([0.5, -0.5]), atol=1e-6)
    assert float(warped[0, 0, 3, 1]) == pytest.approx(1.0, abs=1e-5)


def test_most_occluded_takes_the_lowest_share():
    occlusion = torch.arange(16.0).reshape(1, 1, 4, 4) / 16                       # distinct values
    chosen = teaching.most_occluded(occlusion, (4, 4), percent=25)
    assert chosen.sum() == 4 and bool(chosen[0, 0, 0].all())                      # the first row: lowest O
    with pytest.raises(ValueError, match="percent"):
        teaching.most_occluded(occlusion, (4, 4), percent=0)


def test_affine_jacobian():
    assert torch.allclose(teaching.affine_jacobian(90, 2.0), torch.tensor([[0.0, -2.0], [2.0, 0.0]]), atol=1e-6)
    assert torch.allclose(teaching.affine_jacobian(0, 1.0, 1, 2, 3, 4), torch.tensor([[1.0, 2.0], [3.0, 4.0]]))


def test_toy_prioritycut_counts_follow_the_formula():
    occlusion, regions = teaching.toy_prioritycut_inputs(size=10)
    for k in (0, 7, 10, 25, 50, 100):
        counts = teaching.prioritycut_counts(occlusion, regions, k)
        assert counts["n"] == counts["generated_pixels"] == -(-counts["foreground"] * k // 100)
    # the selected pixels are the most occluded foreground ones
    mask = prioritycut_mask(occlusion, regions, 25)[0, 0]
    foreground = regions[0, 0] < 0.5
    assert occlusion[0, 0][mask == 0].max() <= occlusion[0, 0][(mask == 1) & foreground].min()


def test_figures_for_the_other_notebooks(pair, tmp_path):
    generated, models = pair["generated"], pair["models"]
    image = pair["source"]
    figures = [teaching.tps_figure(image), teaching.flow_figure(generated["deformation"][0], image),
               teaching.cutmix_figure(pair["driving"], generated["prediction"]),
               teaching.show_images(teaching.discriminator_maps(models.discriminator,
                                                                {"real": pair["driving"]}), colorbar=True)]
    for figure in figures:
        assert isinstance(figure, Figure) and teaching.figure_png(figure).startswith(b"\x89PNG")
    tps_panels = figures[0].axes
    assert len(tps_panels) == 3 and all(ax.get_images() for ax in tps_panels)   # image, grid, warped image
    shown = tps_panels[0].get_images()[0].get_array()
    assert np.allclose(shown, teaching.to_numpy_image(image), atol=1e-6)      # the source itself, unwarped
    flow_arrows = [c for c in figures[1].axes[0].collections if hasattr(c, "U")]
    assert flow_arrows and flow_arrows[0].U.size == (generated["deformation"].shape[1] // 2) ** 2   # every 2nd pixel
    error, occluded = teaching.artifact_map(generated["prediction"], pair["driving"], generated["occlusion_map"],
                                            most_occluded_percent=10)
    assert error.shape == occluded.shape == (1, 1, 32, 32) and occluded.dtype == torch.bool
    assert 103 <= int(occluded.sum()) < 200                       # 10 % of 1024 pixels (ties may add some)
    html = teaching.animation_html({"a": torch.rand(3, 3, 8, 8), "b": torch.rand(3, 3, 8, 8)})
    assert "<script" in html


def test_loss_figure_and_metrics_table(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"step": s, "epoch": 1, "pixel_pyramid": 1 / s, "disc_unet_encoder": 1.5,
                                       "mixed": 0, "empty_foreground": 0, "seconds": 0.1}) + "\n"
                           for s in range(1, 6)))
    figure = teaching.loss_figure(log, smoothing=2)
    panels = {ax.get_title(): ax for ax in figure.axes if ax.get_title()}
    assert sorted(panels) == ["disc_unet_encoder", "pixel_pyramid"]        # one panel per loss, no bookkeeping
    raw, smoothed = panels["pixel_pyramid"].get_lines()[:2]
    assert list(raw.get_ydata()) == [1 / s for s in range(1, 6)]
    assert smoothed.get_ydata()[0] == (1 + 1 / 2) / 2                       # the moving average over 2 steps
    chance = [line for line in panels["disc_unet_encoder"].get_lines() if line.get_linestyle() == "--"]
    assert len(chance) == 1 and chance[0].get_ydata()[0] == 2 * math.log(2)   # the D term's chance level
    assert not [line for line in panels["pixel_pyramid"].get_lines() if line.get_linestyle() == "--"]
    run = tmp_path / "runs" / "a-run"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"summary": {"l1": 0.05, "baseline_l1": 0.09, "psnr": 20.0},
                                                  "per_video": []}))
    summaries = teaching.read_run_metrics(tmp_path / "runs")
    table = teaching.metrics_table(summaries)
    assert list(summaries) == ["a-run"] and "0.0500" in table and "0.0900" in table and "ssim" not in table


def test_paths_and_links(tmp_path):
    assert teaching.repository_root() == REPO
    assert teaching.config_file("smoke") == REPO / "configs" / "smoke.yaml"
    with pytest.raises(FileNotFoundError, match="known configs"):
        teaching.config_file("no-such-config")
    links = teaching.badge_links("https://github.com/someone/pcut.git", "05_prioritycut.ipynb")
    assert links["colab"] == "https://colab.research.google.com/github/someone/pcut/blob/main/notebooks/05_prioritycut.ipynb"
    assert links["binder"] == "https://mybinder.org/v2/gh/someone/pcut/main?urlpath=lab/tree/notebooks/05_prioritycut.ipynb"
    with pytest.raises(ValueError, match="GitHub repository URL"):
        teaching.github_slug("https://example.org/pcut")


def test_set_repository_url_rewrites_every_link(tmp_path):
    tool = load_tool("set_repository_url")
    copy = tmp_path / "repo"
    (copy / "notebooks").mkdir(parents=True)
    for path in (REPO / "notebooks").glob("*.ipynb"):
        shutil.copy(path, copy / "notebooks" / path.name)
    shutil.copy(REPO / "REPOSITORY_URL", copy / "REPOSITORY_URL")
    (copy / "README.md").write_text("# pcut\n<!-- badges -->\nold\n<!-- /badges -->\ntext\n")
    url = "https://github.com/new-owner/new-name"
    changes = tool.planned_changes(url, copy)
    assert set(changes) == {copy / "REPOSITORY_URL", copy / "README.md",
                            *(copy / "notebooks" / p.name for p in (REPO / "notebooks").glob("*.ipynb"))}
    for path, text in changes.items():
        path.write_text(text)
    assert tool.planned_changes(url, copy) == {}
    readme = (copy / "README.md").read_text()
    assert "gh/new-owner/new-name/main?urlpath=lab/tree/notebooks/01_warping.ipynb" in readme and "old" not in readme
    notebook = (copy / "notebooks" / "05_prioritycut.ipynb").read_text()
    assert 'repository = \\"https://github.com/new-owner/new-name\\"' in notebook
    assert "OWNER" not in notebook and "github/new-owner/new-name/blob/main/notebooks/05_prioritycut.ipynb" in notebook


# --------------------------------------------------------------------------- notebook helpers

def test_pipeline_figure_labels_come_from_the_models(pair):
    shapes = teaching.pipeline_shapes(pair["models"], image_size=32)
    assert "value (1, 3, 2)" in shapes["kp_detector"] and "jacobian (1, 3, 2, 2)" in shapes["kp_detector"]
    assert "occlusion_map (1, 1, 16, 16)" in shapes["dense_motion"] and "region_mask (1, 4, 16, 16)" in shapes["dense_motion"]
    assert shapes["unet"] == "logit (1,)\npixel_logits (1, 1, 32, 32)"
    for figure in (teaching.pipeline_figure(highlight=5, models=pair["models"], image_size=32),
                   teaching.pipeline_figure()):
        assert teaching.figure_png(figure).startswith(b"\x89PNG")


def test_static_twins_of_the_widgets(pair):
    generated = pair["generated"]
    truth = torch.zeros(32, 32, dtype=torch.bool)
    truth[10:20, 10:20] = True
    figures = [teaching.affine_small_multiples(teaching.checkerboard(32)),
               teaching.region_small_multiples(pair["driving"], generated, pair["kp_driving"]),
               teaching.prioritycut_small_multiples(pair["driving"], generated["prediction"],
                                                    generated["occlusion_map"], generated["region_mask"], truth=truth),
               teaching.prioritycut_figure(pair["driving"], generated["prediction"], generated["occlusion_map"],
                                           generated["region_mask"], truth=truth)]
    for figure in figures:
        assert teaching.figure_png(figure).startswith(b"\x89PNG")


def test_default_cutmix_seed_is_a_plain_box():
    from pcutlib.prioritycut import cutmix_mask

    mask = cutmix_mask(1, 64, 64, generator=torch.Generator().manual_seed(teaching.DEFAULT_CUTMIX_SEED))[0, 0]
    generated = mask == 0
    assert 0.1 < float(generated.float().mean()) < 0.5                     # a box, neither tiny nor most of it
    rows, columns = generated.any(1).nonzero(), generated.any(0).nonzero()
    box = generated[rows.min():rows.max() + 1, columns.min():columns.max() + 1]
    assert bool(box.all())                                                 # not inverted: M = 0 inside a box


def test_true_disocclusion_and_synthetic_video():
    rendering = teaching.synthetic_video(identity=1, video=2, frames=6, size=32)
    frames, joints = teaching.synthetic_frames(identity=1, video=2, frames=6, size=32)
    assert torch.equal(rendering.video, frames) and torch.equal(rendering.joints, joints)
    truth = teaching.true_disocclusion(rendering, 0, [0, 5])
    assert truth.shape == (2, 32, 32) and truth.dtype == torch.bool
    assert not truth[0].any()                                              # a frame hides nothing from itself


def test_loss_figure_draws_chance_lines(tmp_path):
    import math

    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"step": s, "epoch": 1, "disc_unet_encoder": 1.4, "seconds": 0.1}) + "\n"
                           for s in range(1, 4)))
    figure = teaching.loss_figure(log)
    levels = [line.get_ydata()[0] for line in figure.axes[0].get_lines() if line.get_linestyle() == "--"]
    assert levels == [pytest.approx(2 * math.log(2))]


def test_notebook_training_config_is_the_readme_finetune(tmp_path):
    config = teaching.notebook_training_config("synthetic-64", data_root=tmp_path)
    train_params = config["train_params"]
    assert train_params["num_epochs"] == 6 and train_params["epoch_milestones"] == []
    assert train_params["lr_generator"] == train_params["lr_kp_detector"] == 5e-5
    assert train_params["region_dropout"]["max"] == 0 and train_params["loss_weights"]["generator_gan"] == 1
    assert config["regularizer"]["type"] == "prioritycut" and config["dataset_params"]["root_dir"] == str(tmp_path)
    reconstruction = teaching.notebook_training_config("smoke", phase="reconstruction", epochs=None,
                                                       regularizer="cutmix", overrides={"train_params.batch_size": 3})
    assert reconstruction["regularizer"]["type"] == "cutmix" and reconstruction["train_params"]["batch_size"] == 3
    with pytest.raises(ValueError, match="unknown config key"):
        teaching.notebook_training_config("smoke", overrides={"train_params.lr_gnerator": 1e-4})
    with pytest.raises(ValueError, match="phase"):
        teaching.notebook_training_config("smoke", phase="adversarial")
    assert "lr generator 5e-05" in teaching.training_summary(config)


def test_compare_with_copy_baseline_warns_above_it():
    assert teaching.compare_with_copy_baseline({"l1": 0.03, "baseline_l1": 0.04}) == pytest.approx(0.75)
    with pytest.warns(UserWarning, match="not below copying the source"):
        assert teaching.compare_with_copy_baseline({"l1": 0.05, "baseline_l1": 0.04}) > 1


def test_shared_vmax_ignores_a_few_extreme_pixels():
    maps = torch.zeros(2, 100)
    maps[0, :50] = 0.2
    maps[1, 0] = 1.0                                                       # one outlier of 200 pixels
    assert teaching.shared_vmax(maps[0], maps[1]) == pytest.approx(0.2)


def test_the_departures_box_of_notebooks_2_3_5_is_what_the_calibration_recorded(tmp_path):
    """The box of the shipped model's departures from FOMM's recipe stands in notebooks 2, 3 and 5
    exactly as ``departures_table`` writes it from the configs and results/calibration.jsonl
    (rerun tools/write_departures.py after a calibration row or a config changes)."""
    import json
    import shutil

    from pcutlib.teaching.departures import DEPARTURES, DEPARTURES_MARKERS, departures_table, write_departures

    table = departures_table()
    assert len(table.splitlines()) == 2 + len(DEPARTURES)
    assert "small-motion+full-res-long" in table and "VGG19 perceptual pyramid" in table
    for name in ("02_keypoints_and_dense_motion", "03_occlusion_and_inpainting", "05_prioritycut"):
        copy = tmp_path / f"{name}.ipynb"
        shutil.copy(REPO / "notebooks" / f"{name}.ipynb", copy)
        assert not write_departures(copy), f"{name}: the departures box is stale; run python tools/write_departures.py"
        cells = json.loads(copy.read_text())["cells"]
        assert sum(DEPARTURES_MARKERS[0] in "".join(c["source"]) for c in cells) == 1
    plain = tmp_path / "plain.ipynb"
    plain.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": ["no markers"]}]}))
    with pytest.raises(ValueError, match="expected one markdown cell with <!-- departures:start -->"):
        write_departures(plain)


@torch.no_grad()
def test_video_occlusion_strata_scores_the_models_own_o_and_the_rule():
    """teaching.video_occlusion_strata (notebook 3) is occlusion_auc_strata of 1 - O, upsampled, and
    of the no-model rule, over the frames of one video driven from its source frame."""
    import torch.nn.functional as F

    from pcutlib.checkpoints.pretrained import load_pretrained
    from pcutlib.evaluation.metrics import roc_auc
    from pcutlib.evaluation.occlusion_truth import frame_difference_rule

    models, _ = load_pretrained(REPO / "pretrained" / "synthetic-64-textured.pt")
    rendering = teaching.synthetic_video(3, 7, frames=6, world=teaching.TEXTURED_WORLD)
    strata = teaching.video_occlusion_strata(models, rendering, source_frame=2)
    video = rendering.video
    kp = models.kp_detector(video)
    out = models.generator(video[2:3].expand(6, -1, -1, -1), kp_driving=kp,
                           kp_source={k: v[2:3].expand(6, *v.shape[1:]) for k, v in kp.items()})
    others = [0, 1, 3, 4, 5]
    truth = teaching.true_disocclusion(rendering, 2, others)
    occlusion = F.interpolate(out["occlusion_map"][others], size=(64, 64), mode="bilinear", align_corners=False)[:, 0]
    assert strata["O"]["pooled"] == pytest.approx(roc_auc(1 - occlusion, truth), abs=1e-6)
    assert strata["rule"]["pooled"] == pytest.approx(roc_auc(frame_difference_rule(video[others], video[2]), truth), abs=1e-6)
    assert strata["O"]["videos"] == 1 and 0 < strata["composition"]["rate"] < 1
    assert strata["O"]["foreground"] > strata["rule"]["foreground"]     # the textured model beats the rule in F here
    with pytest.raises(ValueError, match="source_frame must be in \\[0, 6\\), got 6"):
        teaching.video_occlusion_strata(models, rendering, source_frame=6)
