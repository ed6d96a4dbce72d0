"""Can a fresh discriminator tell this generator's frames from real ones, and how fast?

Trains a fresh U-Net discriminator alone (the generator frozen) on real and reconstructed
frames of a training world, and prints its held-out image AUC (``metrics.roc_auc`` of the
encoder logit, real vs generated, 0.5 = chance) every few steps, for each setting named:

    python tools/discriminator_probe.py --checkpoint runs/calibration/small-motion+full-res-long/checkpoints/last.pt \
        --settings sn-lr2e-4 nosn-lr2e-4 --steps 400

Frames: every training video (up to --train-videos) and every held-out video of --test-data
reconstructed from its first frame; frames 2.. of each give a (real, generated) pair
(``discriminator_quality.held_out_frames``). A step: --batch-size real and as many generated frames, BCE on the
encoder logit and every decoder pixel (``losses.unet_discriminator_loss``), Adam (betas
0.5/0.999 unless the setting says otherwise). The figures behind the experiment's choice of no
spectral norm (``adversarial.discriminator_spectral_norm`` in configs/recipes/experiment.yaml; results/experiment-recipe.md) came from this script.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from pcutlib.checkpoints.files import load_models
from pcutlib.data.splits import load_split
from pcutlib.evaluation.discriminator_quality import batched, held_out_frames, real_fake_auc
from pcutlib.models.unet_discriminator import UNetDiscriminator
from pcutlib.training import losses as L

# name: spectral norm, learning rate, Adam betas, batch size (real frames a step)
SETTINGS = {
    "sn-lr2e-4": dict(sn=True, lr=2e-4),
    "sn-lr1e-3": dict(sn=True, lr=1e-3),
    "nosn-lr1e-4": dict(sn=False, lr=1e-4),
    "nosn-lr2e-4": dict(sn=False, lr=2e-4),
    "nosn-lr5e-4": dict(sn=False, lr=5e-4),
    "nosn-lr1e-3": dict(sn=False, lr=1e-3),
    "nosn-lr2e-4-batch16": dict(sn=False, lr=2e-4, batch_size=16),
    "nosn-lr2e-4-beta0": dict(sn=False, lr=2e-4, betas=(0.0, 0.99)),
}


@torch.no_grad()
def frame_pairs(models, root: Path, split: str, max_videos: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(real, generated) frames (N,3,H,W): frames 2.. of each video, reconstructed from its first."""
    frames = held_out_frames(models, [video for _, video, _, _ in load_split(root, split, max_videos=max_videos)], None)
    return frames["real"], frames["fake"]


@torch.no_grad()
def image_auc(discriminator, real: torch.Tensor, fake: torch.Tensor, batch: int = 64) -> float:
    discriminator.eval()
    logit = lambda x: discriminator(x)["logit"]  # noqa: E731
    auc = real_fake_auc(batched(logit, real, batch), batched(logit, fake, batch))
    discriminator.train()
    return auc


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="the generator to judge (a pcut checkpoint)")
    parser.add_argument("--train-data", type=Path, default=Path("data/synthetic-64"))
    parser.add_argument("--test-data", type=Path, default=Path("data/synthetic-64-check"))
    parser.add_argument("--train-videos", type=int, default=120)
    parser.add_argument("--test-videos", type=int, default=40)
    parser.add_argument("--settings", nargs="+", default=["sn-lr2e-4", "nosn-lr2e-4"], choices=list(SETTINGS))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=100, help="print the held-out AUC every this many steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_flush_denormal(True)
    models, _ = load_models(args.checkpoint, with_discriminator=False)
    started = time.perf_counter()
    train_real, train_fake = frame_pairs(models, args.train_data, "train", args.train_videos)
    test_real, test_fake = frame_pairs(models, args.test_data, "test", args.test_videos)
    print(f"{len(train_real)} training and {len(test_real)} held-out frame pairs "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    size = train_real.shape[-1]
    for name in args.settings:
        setting = SETTINGS[name]
        torch.manual_seed(args.seed)
        discriminator = UNetDiscriminator(num_channels=3, block_expansion=16, max_features=128,
                                          spectral_norm=setting["sn"], image_size=size)
        optimizer = torch.optim.Adam(discriminator.parameters(), lr=setting["lr"],
                                     betas=setting.get("betas", (0.5, 0.999)))
        draws, batch = torch.Generator().manual_seed(args.seed), setting.get("batch_size", 8)
        started, curve = time.perf_counter(), [f"0: {image_auc(discriminator, test_real, test_fake):.3f}"]
        for step in range(1, args.steps + 1):
            index = torch.randint(len(train_real), (batch,), generator=draws)
            out = discriminator(torch.cat([train_real[index], train_fake[index]]))
            real = {k: v[:batch] for k, v in out.items() if k != "features"}
            fake = {k: v[batch:] for k, v in out.items() if k != "features"}
            loss = sum(L.unet_discriminator_loss(real, fake).values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step % args.every == 0:
                curve.append(f"{step}: {image_auc(discriminator, test_real, test_fake):.3f}")
        print(f"{name:22s} held-out image AUC by step  {'  '.join(curve)}  "
              f"(last loss {loss.item():.3f}, {time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
