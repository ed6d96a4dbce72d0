"""Keypoint dynamics of the first training steps: when and why do keypoints collapse?

Trains synthetic-64 (with --set overrides) and every --every steps prints, on held-out
frames: distinct keypoints (pcut diagnose's definition), the mean spread of the keypoints
around their centroid, how many keypoint regions the dense motion network still uses (mean
mask mass > 0.5%), the keypoint-to-joint probe error (fit on train frames of the check world),
and the heatmap peak mass in a 3x3 window. Example:

    python tools/keypoint_dynamics.py --steps 500 --set train_params.loss_weights.equivariance_value=1
"""
import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from pcutlib.experiments.recipes import parse_assignment
from pcutlib.config import load_config, resolve_config, set_by_path
from pcutlib.data.splits import load_split
from pcutlib.evaluation.motion_measures import distinct_keypoints, linear_probe_error
from pcutlib.inference import detect_keypoints
from pcutlib.training.device import ProcessGroup
from pcutlib.training.loop import make_dataloader
from pcutlib.training.step import max_frame_gap, train_step
from pcutlib.training.trainer import build_trainer, seed_everything


def heatmap_peak_mass(detector, frames: torch.Tensor) -> float:
    """Mean over keypoints and frames of the heatmap mass in the best 3x3 window (1 = a sharp peak)."""
    image = detector.down(frames) if detector.scale_factor != 1 else frames
    logits = detector.kp(detector.predictor(image))
    batch, num_kp, height, width = logits.shape
    heatmap = F.softmax(logits.reshape(batch, num_kp, -1) / detector.temperature, 2).reshape(logits.shape)
    return float((F.avg_pool2d(heatmap, 3, 1, 1) * 9).flatten(2).amax(2).mean())


@torch.no_grad()
def snapshot(trainer, frames, joints, probe_frames, probe_joints) -> dict:
    models = trainer.models.eval()
    kp = detect_keypoints(models.kp_detector, frames)
    source = frames[:1].expand_as(frames)
    kp_source = detect_keypoints(models.kp_detector, source)
    masks = models.generator.dense_motion_network(source, kp_driving=kp, kp_source=kp_source)["region_mask"]
    probe = linear_probe_error(detect_keypoints(models.kp_detector, probe_frames)["value"], probe_joints,
                               kp["value"], joints, frames.shape[-1])
    row = {"distinct": round(distinct_keypoints(kp["value"]), 2),
           "spread": round(float(kp["value"].std(dim=1).mean()), 3),
           "regions_used": int((masks.mean(dim=(0, 2, 3))[1:] > 0.005).sum()),
           "probe_px": round(probe["probe_px"], 2), "mean_pose_px": round(probe["mean_pose_px"], 2),
           "peak_mass": round(heatmap_peak_mass(models.kp_detector, frames), 3)}
    models.train()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/synthetic-64"), help="training world")
    parser.add_argument("--check", type=Path, default=Path("data/synthetic-64-check"),
                        help="held-out world (another seed) with keypoints")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--set", type=parse_assignment, action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    config = load_config("synthetic-64")
    config["dataset_params"]["root_dir"] = str(args.data)
    config["train_params"]["num_workers"] = 0
    for key, value in args.set:
        set_by_path(config, key, value)
    config = resolve_config(config)
    seed_everything(config["train_params"]["seed"])
    trainer = build_trainer(config, torch.device("cpu"))
    test = load_split(args.check, "test", None, 10)
    train = load_split(args.check, "train", None, 30)
    frames, joints = torch.cat([f[::4] for _, f, _, _ in test]), torch.cat([j[::4] for _, _, j, _ in test])
    probe_frames = torch.cat([f[::2] for _, f, _, _ in train])
    probe_joints = torch.cat([j[::2] for _, _, j, _ in train])
    loader = make_dataloader(config, ProcessGroup())
    step, started = 0, time.perf_counter()
    while step < args.steps:
        loader.dataset.dataset.max_frame_gap = max_frame_gap(config["train_params"]["frame_gap"], step // len(loader))
        for batch in loader:
            if step % args.every == 0:
                row = snapshot(trainer, frames, joints, probe_frames, probe_joints)
                print(json.dumps({"step": step, **row, "seconds": round(time.perf_counter() - started)}), flush=True)
            train_step(trainer, batch, step / len(loader))
            step += 1
            if step >= args.steps:
                break


if __name__ == "__main__":
    main()
