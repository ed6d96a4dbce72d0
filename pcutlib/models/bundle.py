"""A set of networks that move and switch mode together (FOMM's and TPSMM's models)."""
from __future__ import annotations

from torch import nn


class NetworkBundle:
    """Base of a dataclass of networks: ``networks()`` names them; ``to``, ``train`` and ``eval``
    apply to each, as on one ``nn.Module``."""

    def networks(self) -> dict[str, nn.Module]:
        """{checkpoint name: module}, only the networks present."""
        raise NotImplementedError

    def to(self, device):
        for module in self.networks().values():
            module.to(device)
        return self

    def train(self, mode: bool = True):
        for module in self.networks().values():
            module.train(mode)
        return self

    def eval(self):
        return self.train(False)
