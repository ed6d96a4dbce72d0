"""An exponential moving average of the generator's weights (``train_params.ema_decay``).

After every generator update, each averaged network (every network but the discriminator: the
keypoint detector and generator; TPSMM's four) moves toward the trained one:

    theta_avg <- d_n * theta_avg + (1 - d_n) * theta               (parameters)
    b_avg     <- b                                                 (buffers: batch-norm statistics)
    d_n = min(decay, (1 + n) / (10 + n))                          (n: updates so far)

The ramp of d_n (as TensorFlow's ExponentialMovingAverage with num_updates) keeps the first
updates from leaving the average near the random start: at decay 0.998 a plain average would
still hold 55% of the start after 300 steps.

The trained weights keep training as before; the averages only read them. A checkpoint keeps
the averages beside the networks (``"weight_average": {name: state dict}``), and loading a
model for evaluation, fine-tuning or shipping takes the averaged weights
(``checkpoints.files.network_states``); so the held-out discriminator figures of such a
checkpoint score its discriminator (trained against the trained generator) on the averaged
generator's frames. decay 0 (the default) keeps no average.
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
        self.decay, self.updates = decay, 0
        self.averages = {name: copy.deepcopy(module).eval().requires_grad_(False) for name, module in networks.items()}

    def current_decay(self) -> float:
        """d_n of the next update (module doc)."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, networks: dict[str, nn.Module]) -> None:
        """One step of the average toward ``networks`` (the same names and shapes)."""
        decay = self.current_decay()
        for name, average in self.averages.items():
            trained = networks[name]
            for kept, current in zip(average.parameters(), trained.parameters()):
                kept.lerp_(current.detach(), 1 - decay)
            for kept, current in zip(average.buffers(), trained.buffers()):
                kept.copy_(current)

        self.updates += 1

    def state_dicts(self) -> dict[str, dict]:
        """{name: the average's state dict}, and "updates": n (a checkpoint's "weight_average")."""
        return {**{name: average.state_dict() for name, average in self.averages.items()},
                "updates": torch.tensor(self.updates)}

    def load_state_dicts(self, states: dict) -> None:
        for name, average in self.averages.items():
            average.load_state_dict(states[name], strict=True)
        self.updates = int(states.get("updates", 0))
