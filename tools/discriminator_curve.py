"""A run's discriminator on held-out frames, checkpoint by checkpoint (epoch-N.pt, then last.pt).

    python tools/discriminator_curve.py runs/experiment/finetune/unet-seed0 [RUN ...] [--data data/synthetic-64]

Prints per checkpoint ``discriminator_quality``'s image AUC / decoder pixel AUC on PriorityCut
masks / on CutMix boxes (0.5 = chance), on the test split of --data, each checkpoint's
generator making the generated frames. With ``pcut experiment``'s discriminator warm-up it shows
how far the discriminator got alone and what the adversarial epochs did to it.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch

from pcutlib.checkpoints.files import load_models
from pcutlib.data.splits import load_split
from pcutlib.evaluation.discriminator_quality import discriminator_quality
from pcutlib.prioritycut import RegularizerConfig


def checkpoints_of(run: Path) -> list[Path]:
    """epoch-N.pt in epoch order, then last.pt."""
    folder = run / "checkpoints"
    epochs = sorted(folder.glob("epoch-*.pt"), key=lambda p: int(re.findall(r"\d+", p.stem)[0]))
    if not epochs and not (folder / "last.pt").is_file():
        raise FileNotFoundError(f"{str(folder)!r} holds no epoch-N.pt or last.pt")
    return epochs + ([folder / "last.pt"] if (folder / "last.pt").is_file() else [])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders holding checkpoints/")
    parser.add_argument("--data", type=Path, default=Path("data/synthetic-64"), help="world whose test split is used")
    parser.add_argument("--frames-per-video", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_flush_denormal(True)
    videos = [video for _, video, _, _ in load_split(args.data, "test")]
    print("image AUC / pixel AUC on PriorityCut masks / on CutMix boxes, held-out frames")
    for run in args.runs:
        cells = []
        for path in checkpoints_of(run):
            models, state = load_models(path, with_discriminator=True)
            if models.discriminator is None:
                raise ValueError(f"{path} holds no discriminator")
            regularizer = RegularizerConfig.from_dict(state["config"].get("regularizer"))
            q = discriminator_quality(models, videos, regularizer, max_frames_per_video=args.frames_per_video)
            cells.append(f"{path.stem} {q['d_image_auc']:.2f}/{q['d_pixel_auc_prioritycut']:.2f}/"
                         f"{q['d_pixel_auc_cutmix']:.2f}")
        print(f"{run.name}: " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
