"""Optional TensorBoard logging of a training run (``pcut train --tensorboard``).

``log.jsonl`` stays the source of truth; this mirrors it for people who watch runs in
TensorBoard: every logged step's losses and the learning rates, and at the end of each
epoch images of the driving frames, predictions, occlusion maps and, on mixed steps, the
mask M and the mixed image. Needs the ``tensorboard`` package (``pip install
"pcutlib[tensorboard]"``); events go to ``<run>/tensorboard/``.
"""
from __future__ import annotations

from pathlib import Path


class TensorBoardWriter:
    """A thin wrapper around ``torch.utils.tensorboard.SummaryWriter`` for the training loop."""

    def __init__(self, log_dir: str | Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise RuntimeError("--tensorboard needs the tensorboard package: pip install \"pcutlib[tensorboard]\" "
                               "(log.jsonl is written either way)") from error
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def scalars(self, step: int, losses: dict, optimizers: dict) -> None:
        """losses {name: float} under loss/, each optimizer's current learning rate under lr/."""
        for name, value in losses.items():
            self.writer.add_scalar(f"loss/{name}", value, step)
        for name, optimizer in optimizers.items():
            self.writer.add_scalar(f"lr/{name}", optimizer.param_groups[0]["lr"], step)

    def epoch_images(self, epoch: int, batch: dict, generated: dict, mixing, count: int = 4) -> None:
        """Image grids of the epoch's last batch: (N,C,H,W) tensors in [0,1], first ``count`` samples."""
        images = {"driving": batch["driving"], "prediction": generated.get("prediction"),
                  "occlusion_map": generated.get("occlusion_map"), "mask": mixing.mask,
                  "mixed_image": mixing.mixed_image}
        for name, tensor in images.items():
            if tensor is not None:
                self.writer.add_images(f"epoch/{name}", tensor[:count].detach().float().cpu().clamp(0, 1), epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

