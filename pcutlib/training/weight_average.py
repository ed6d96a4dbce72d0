"""An exponential moving average of the generator's weights (``train_params.ema_decay``).

After every generator update, each averaged network (every network but the discriminator: the
keypoint detector and generator; TPSMM's four) moves toward the trained one:

    theta_avg <- decay * theta_avg + (1 - decay) * theta          (parameters)
    b_avg     <- b                                                 (buffers: batch-norm statistics)

The trained weights keep training as before; the averages only read them. A checkpoint keeps
the averages beside the networks (``"weight_average": {name: state dict}``), and loading a
model for evaluation, fine-tuning or shipping takes the averaged weights
(``checkpoints.files.network_states``). decay 0 (the default) keeps no average.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn


class WeightAverage:
    """Averaged copies of ``networks`` ({name: module}), moved by ``update``."""

    def __init__(self, networks: dict[str, nn.Module], decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"train_params.ema_decay must be in (0, 1) to average (0: off), got {decay}")
        self.decay = decay
        self.averages = {name: copy.deepcopy(module).eval().requires_grad_(False) for name, module in networks.items()}

    @torch.no_grad()
    def update(self, networks: dict[str, nn.Module]) -> None:
        """One step of the average toward ``networks`` (the same names and shapes)."""
        for name, average in self.averages.items():
            trained = networks[name]
            for kept, current in zip(average.parameters(), trained.parameters()):
                kept.lerp_(current.detach(), 1 - self.decay)
            for kept, current in zip(average.buffers(), trained.buffers()):
                kept.copy_(current)

    def state_dicts(self) -> dict[str, dict]:
        return {name: average.state_dict() for name, average in self.averages.items()}

    def load_state_dicts(self, states: dict[str, dict]) -> None:
        for name, average in self.averages.items():
            average.load_state_dict(states[name], strict=True)
