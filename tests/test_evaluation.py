"""Reconstruction/animation protocols on a tiny checkpoint and a tiny synthetic test set."""
import argparse
import csv
import json
import math

import pytest
import torch

from pcutlib.checkpoints.files import load_models, save_models
from pcutlib.data.datasets import FramesDataset, PairedDataset
from pcutlib.data.make_synthetic import make_synthetic_dataset
from pcutlib.evaluation import probes
from pcutlib.evaluation import protocols as evaluation
from pcutlib.inference import animate_video, reconstruct_video
from pcutlib.models.build import build_models
from pcutlib.training.device import choose_device

TINY_MODEL_PARAMS = {
    "common_params": {"num_kp": 3, "num_channels": 3, "estimate_jacobian": True},
    "kp_detector_params": {"block_expansion": 4, "max_features": 16, "num_blocks": 2, "scale_factor": 0.5},
    "generator_params": {"block_expansion": 4, "max_features": 16, "num_down_blocks": 2,
                         "num_bottleneck_blocks": 1,
                         "dense_motion_params": {"block_expansion": 4, "max_features": 16, "num_blocks": 2,
                                                 "scale_factor": 0.5}},
    "discriminator_params": {"block_expansion": 4, "max_features": 16, "num_blocks": 2},
}
IMAGE_METRICS = ("l1", "psnr", "ssim")
PROBE_METRICS = ("akd", "mkr", "akd_gt", "aed")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    # 3 identities, 6 videos: the test split holds identity 2's two videos, 6 frames each.
    return make_synthetic_dataset(tmp_path_factory.mktemp("data"), videos=6, frames=6, size=64, seed=1,
                                  identities=3, progress=False, overwrite=True)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, data_root):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("run") / "checkpoints" / "last.pt"
    config = {"model_params": TINY_MODEL_PARAMS,
              "dataset_params": {"root_dir": str(data_root), "frame_shape": [64, 64, 3]}}
    save_models(path, build_models(TINY_MODEL_PARAMS), config)
    return path


@pytest.fixture(scope="module")
def models(checkpoint):
    return load_models(checkpoint, with_discriminator=False)[0]


@pytest.fixture(scope="module")
def dataset(data_root):
    return FramesDataset(data_root, frame_shape=(64, 64, 3), is_train=False)


@pytest.fixture(scope="module")
def untrained_probes():
    torch.manual_seed(0)
    return (probes.PoseProbe(num_joints=14, channels=4).eval(),
            probes.IdentityProbe(identities=["id000", "id001"], channels=4, embedding_dim=8).eval())


def test_reconstruction_drives_the_first_frame_by_absolute_keypoints(models, dataset):
    video = dataset[0]["video"]                                            # (6,3,64,64)
    out = reconstruct_video(models, video, batch_size=4)
    assert out["prediction"].shape == video.shape
    assert out["occlusion_map"].shape == (6, 1, 32, 32)
    with torch.no_grad():  # frame 3 by hand: G(x_1, KP(x_1), KP(x_4)), keypoints used as they are
        expected = models.generator(video[:1], kp_driving=models.kp_detector(video[3:4]),
                                    kp_source=models.kp_detector(video[:1]))["prediction"]
    torch.testing.assert_close(out["prediction"][3:4], expected, atol=1e-5, rtol=1e-4)
    same = reconstruct_video(models, video, batch_size=16)["prediction"]
    torch.testing.assert_close(same, out["prediction"], atol=1e-5, rtol=1e-4)


def test_animation_moves_the_source_by_the_driving_change(models, dataset):
    """animate_video: relative motion transfer (the source keypoints moved by the driving
    keypoints' change since the first driving frame), the same in any batch size."""
    source, driving = dataset[0]["video"][2], dataset[1]["video"]                 # (3,64,64), (6,3,64,64)
    out = animate_video(models.kp_detector, models.generator, source, driving, batch_size=4)
    assert out["prediction"].shape == driving.shape and out["occlusion_map"].shape == (6, 1, 32, 32)
    assert out["kp_source"].shape == (3, 2) and out["kp_driving"].shape == (6, 3, 2)
    with torch.no_grad():   # frame 4 by hand: p_S + (p_D(4) - p_D(0)), J_D(4) J_D(0)^-1 J_S
        kp_source, kp_first, kp_now = (models.kp_detector(x) for x in (source[None], driving[:1], driving[4:5]))
        moved = {"value": kp_source["value"] + kp_now["value"] - kp_first["value"],
                 "jacobian": kp_now["jacobian"] @ torch.inverse(kp_first["jacobian"]) @ kp_source["jacobian"]}
        expected = models.generator(source[None], kp_source=kp_source, kp_driving=moved)["prediction"]
        at_first = models.generator(source[None], kp_source=kp_source, kp_driving=kp_source)["prediction"]
    torch.testing.assert_close(out["prediction"][4:5], expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out["prediction"][:1], at_first, atol=1e-5, rtol=1e-4)   # no change: source pose
    one_by_one = animate_video(models.kp_detector, models.generator, source, driving, batch_size=1)
    torch.testing.assert_close(one_by_one["prediction"], out["prediction"], atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match=r"one source image .* got \(2, 3, 64, 64\)"):
        animate_video(models.kp_detector, models.generator, driving[:2], driving)


def test_device_choice():
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device("auto") == choose_device(None) == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="'gpu' is not a device; expected auto, cpu, cuda or cuda:N"):
        choose_device("gpu")
    with pytest.raises(ValueError, match="'meta': pcut computes on cpu or cuda"):
        choose_device("meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda:1' requested but CUDA is not available"):
            choose_device("cuda:1")


def test_evaluate_reconstruction_reports_every_metric(models, dataset, untrained_probes):
    pose_probe, identity_probe = untrained_probes
    # Threshold 0: every joint of an untrained probe counts as found, so AKD/MKR are defined.
    summary, per_video = evaluation.evaluate_reconstruction(
        models, dataset, "cpu", pose_probe, identity_probe, progress=False, confidence_threshold=0.0)
    assert summary["protocol"] == "reconstruction"
    assert summary["num_videos"] == len(per_video) == 2 and summary["num_frames"] == 12
    keys = [*IMAGE_METRICS, *PROBE_METRICS] + (["lpips"] if "lpips" in summary else [])
    for key in keys + [f"baseline_{k}" for k in keys] + ["probe_akd_gt"]:
        assert math.isfinite(summary[key]), key
        for row in per_video:
            assert math.isfinite(row[key]), (key, row["name"])
    assert summary["mkr"] == 0.0
    assert summary["l1"] == pytest.approx(sum(row["l1"] for row in per_video) / 2)


def test_copy_baseline_is_the_first_frame_everywhere(models, dataset):
    summary, per_video = evaluation.evaluate_reconstruction(models, dataset, progress=False, max_videos=1)
    video = dataset[0]["video"]
    by_hand = (video - video[:1]).abs().mean().item()                      # mean |x_t - x_1|
    assert per_video[0]["baseline_l1"] == pytest.approx(by_hand, rel=1e-6)
    assert summary["baseline_l1"] == pytest.approx(by_hand, rel=1e-6)
    assert summary["num_videos"] == 1


def test_write_metrics_writes_json_and_csv(tmp_path):
    summary = {"protocol": "reconstruction", "num_videos": 2, "num_frames": 4, "l1": 0.25, "psnr": math.inf}
    per_video = [{"name": "a#1.png", "frames": 2, "l1": 0.2, "psnr": math.inf},
                 {"name": "b#2.png", "frames": 2, "l1": 0.3, "psnr": 30.0}]
    json_path, csv_path = evaluation.write_metrics(tmp_path / "run", summary, per_video)
    assert json_path == tmp_path / "run" / "metrics.json"
    document = json.loads(json_path.read_text())
    assert document["summary"]["l1"] == 0.25 and document["summary"]["psnr"] is None  # inf -> null
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["a#1.png", "b#2.png"]
    assert rows[0]["psnr"] == "" and float(rows[1]["psnr"]) == 30.0
    json_path, csv_path = evaluation.write_metrics(tmp_path / "other.json", summary, per_video)
    assert csv_path.name == "other_per_video.csv" and json_path.is_file() and csv_path.is_file()


def test_run_evaluate_writes_into_the_run_folder(checkpoint, untrained_probes, tmp_path, capsys):
    pose_path, identity_path = tmp_path / "pose.pt", tmp_path / "identity.pt"
    probes.save_probe(pose_path, untrained_probes[0])
    probes.save_probe(identity_path, untrained_probes[1])
    parser = evaluation.add_evaluate_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--checkpoint", str(checkpoint), "--max-videos", "1", "--device", "cpu",
                              "--pose-probe", str(pose_path), "--identity-probe", str(identity_path),
                              "--confidence-threshold", "0", "--no-progress"])
    assert evaluation.run_evaluate(args) == 0
    run_dir = checkpoint.parent.parent                                     # runs/<name>/
    summary = json.loads((run_dir / "metrics.json").read_text())["summary"]
    assert summary["num_videos"] == 1 and all(key in summary for key in PROBE_METRICS)
    assert (run_dir / "metrics_per_video.csv").is_file()
    assert "baseline" in capsys.readouterr().out


def test_evaluate_animation_with_probes(models, dataset, untrained_probes):
    pairs = PairedDataset(dataset, number_of_pairs=4)
    summary, per_pair = evaluation.evaluate_animation(models, pairs, "cpu", *untrained_probes, max_pairs=2,
                                                      progress=False, confidence_threshold=0.0)
    assert summary["protocol"] == "animation" and len(per_pair) == 2
    for key in ("akd", "mkr", "aed"):
        assert math.isfinite(summary[key]), key
