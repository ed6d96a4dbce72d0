"""Compare pcut's TPSMM training step with TPSMM's own code, side by side.

    python tools/compare_tpsmm_training.py --tpsmm-code PATH/TO/Thin-Plate-Spline-Motion-Model

needs a checkout of TPSMM's public code (yoyo-nb/Thin-Plate-Spline-Motion-Model) and the
reference fixture (``tpsmm_reference_small.pt``, found as the tests find it). Both models are
built from the fixture's ``model_params`` and loaded with its state dicts; for a few epochs
of TPSMM's schedule (dropout on and off, background before and after ``bg_start``) both run
one training forward and backward on the fixture's inputs from the same global random state,
and the script prints the largest difference of every loss and of every parameter's gradient
(after TPSMM's clipping), relative to the largest value (of that network, for gradients). The perceptual loss is left out
(weights 0): TPSMM's needs torchvision's ImageNet VGG19. torchvision itself is replaced by a
stand-in whose ``resnet18`` is pcut's ResNet-18 (the same parameter names).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import types
from pathlib import Path

import torch
from torch.nn.utils import clip_grad_norm_

from pcutlib.checkpoints.tpsmm import load_tpsmm_state_dicts
from pcutlib.models.tpsmm.build import build_tpsmm
from pcutlib.models.tpsmm.resnet import ResNet18
from pcutlib.training.tpsmm_step import background_active, clip_tpsmm_gradients, tpsmm_generate, tpsmm_losses

TRAIN_PARAMS = {"lr_generator": 2e-4, "scales": [1, 0.5, 0.25, 0.125], "dropout_epoch": 35, "dropout_maxp": 0.3,
                "dropout_startp": 0.1, "dropout_inc_epoch": 10, "bg_start": 10, "epoch_milestones": [70, 90],
                "loss_weights": {"perceptual": [0, 0, 0, 0, 0], "equivariance_value": 10, "warp_loss": 10, "bg": 10}}


def find_fixture() -> Path:
    for folder in (os.environ.get("PCUT_FIXTURES"), Path(__file__).resolve().parents[2] / "shared" / "fixtures"):
        if folder and (Path(folder) / "tpsmm_reference_small.pt").is_file():
            return Path(folder) / "tpsmm_reference_small.pt"
    raise FileNotFoundError("tpsmm_reference_small.pt not found: set PCUT_FIXTURES")


def import_tpsmm(code: Path) -> types.SimpleNamespace:
    """TPSMM's modules, with a torchvision stand-in whose resnet18 is pcut's ResNet18."""
    vision = types.ModuleType("torchvision")
    vision.models = types.SimpleNamespace(resnet18=lambda pretrained=False, num_classes=1000: ResNet18(num_classes))
    sys.modules["torchvision"] = vision
    sys.path.insert(0, str(code))
    from modules.bg_motion_predictor import BGMotionPredictor
    from modules.dense_motion import DenseMotionNetwork
    from modules.inpainting_network import InpaintingNetwork
    from modules.keypoint_detector import KPDetector
    from modules.model import GeneratorFullModel
    return types.SimpleNamespace(BGMotionPredictor=BGMotionPredictor, DenseMotionNetwork=DenseMotionNetwork,
                                 InpaintingNetwork=InpaintingNetwork, KPDetector=KPDetector,
                                 GeneratorFullModel=GeneratorFullModel)


def tpsmm_networks(tpsmm, fixture: dict) -> dict:
    params = fixture["model_params"]
    common = params["common_params"]
    networks = {"kp_detector": tpsmm.KPDetector(**common),
                "dense_motion_network": tpsmm.DenseMotionNetwork(**common, **params["dense_motion_params"]),
                "inpainting_network": tpsmm.InpaintingNetwork(**params["generator_params"], **common),
                "bg_predictor": tpsmm.BGMotionPredictor() if common.get("bg") else None}
    for name, network in networks.items():
        if network is not None:
            network.load_state_dict(fixture["state_dicts"][name])
    return networks


def their_step(tpsmm, networks: dict, train_params: dict, inputs: dict, epoch: int) -> tuple[dict, dict]:
    model = tpsmm.GeneratorFullModel(networks["kp_detector"], networks["bg_predictor"],
                                     networks["dense_motion_network"], networks["inpainting_network"], train_params)
    losses, _ = model({"source": inputs["source"], "driving": inputs["driving"]}, epoch)
    sum(losses.values()).backward()
    clip_grad_norm_(networks["kp_detector"].parameters(), max_norm=10, norm_type=math.inf)
    clip_grad_norm_(networks["dense_motion_network"].parameters(), max_norm=10, norm_type=math.inf)
    if networks["bg_predictor"] is not None and epoch >= train_params["bg_start"]:
        clip_grad_norm_(networks["bg_predictor"].parameters(), max_norm=10, norm_type=math.inf)
    grads = {f"{name}.{p}": value.grad.clone() for name, net in networks.items() if net is not None
             for p, value in net.named_parameters() if value.grad is not None}
    return {k: v.detach() for k, v in losses.items()}, grads


def our_step(networks, train_params: dict, inputs: dict, epoch: int) -> tuple[dict, dict]:
    """pcut's TPSMM generator update (``pcutlib.training.step.train_step`` with backbone: tpsmm)
    without the reconstruction term, drawing from torch's global RNG as TPSMM does."""
    source, driving = inputs["source"], inputs["driving"]
    kp_source, kp_driving = networks.kp_detector(source), networks.kp_detector(driving)
    generated = tpsmm_generate(networks, train_params, source, driving, kp_source, kp_driving, epoch,
                               torch.default_generator)
    generated.update(kp_source=kp_source, kp_driving=kp_driving)
    losses = tpsmm_losses(networks, train_params, source, driving, generated, 1.0, torch.default_generator)
    sum(losses.values()).backward()
    clip_tpsmm_gradients(networks, background_active(networks, train_params, epoch))
    grads = {f"{name}.{p}": value.grad.clone() for name, net in networks.networks().items()
             for p, value in net.named_parameters() if value.grad is not None}
    return {k: v.detach() for k, v in losses.items()}, grads


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-30))


def gradient_difference(ours: dict, theirs: dict) -> float:
    """The largest |our - their| gradient entry of each network over that network's largest
    |gradient| entry, the largest over networks. (Per tensor, a conv bias before an instance
    norm, whose true gradient is 0, would compare float noise with float noise.)"""
    worst = 0.0
    for network in {name.split(".")[0] for name in theirs}:
        names = [name for name in theirs if name.split(".")[0] == network]
        scale = max(float(theirs[name].abs().max()) for name in names)
        worst = max(worst, max(float((ours[name] - theirs[name]).abs().max()) for name in names) / max(scale, 1e-30))
    return worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tpsmm-code", type=Path, required=True, help="a checkout of TPSMM's public code")
    parser.add_argument("--epochs", type=int, nargs="+", default=[0, 5, 12, 40],
                        help="epochs to compare (dropout before 35, background from 10)")
    args = parser.parse_args(argv)
    fixture = torch.load(find_fixture(), weights_only=True)
    tpsmm = import_tpsmm(args.tpsmm_code)
    train_params = dict(TRAIN_PARAMS, transform_params=fixture["tps_params"])
    inputs = fixture["inputs"]
    worst = 0.0
    for epoch in args.epochs:
        their_networks = tpsmm_networks(tpsmm, fixture)          # built before seeding: building draws
        our_networks = load_tpsmm_state_dicts(build_tpsmm(fixture["model_params"]), fixture["state_dicts"]).train()
        torch.manual_seed(epoch)
        theirs, their_grads = their_step(tpsmm, their_networks, train_params, inputs, epoch)
        torch.manual_seed(epoch)
        ours, our_grads = our_step(our_networks, train_params, inputs, epoch)
        if sorted(theirs) != sorted(ours) or sorted(their_grads) != sorted(our_grads):
            print(f"epoch {epoch}: different losses {sorted(theirs)} vs {sorted(ours)} or gradients "
                  f"{sorted(set(their_grads) ^ set(our_grads))[:5]}")
            return 1
        loss_diffs = {k: relative_difference(ours[k], theirs[k]) for k in theirs}
        grad_diff = gradient_difference(our_grads, their_grads)
        worst = max(worst, grad_diff, *loss_diffs.values())
        print(f"epoch {epoch:>3}: " + ", ".join(f"{k} {float(theirs[k]):.6g} (rel. diff {d:.1e})"
                                              for k, d in loss_diffs.items())
              + f"; {len(their_grads)} gradients, largest rel. diff {grad_diff:.1e}")
    print(f"largest relative difference over losses and gradients: {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
