"""Write the two trainings of `pcut demo` as config files, so that their by-hand commands are one
line each: configs/synthetic-64-demo.yaml (synthetic-64 with the demo recipe's overrides, its
reconstruction phase) and configs/synthetic-64-prioritycut.yaml (its PriorityCut fine-tune,
``pcutlib.experiments.demo.finetune_config`` of the former, 6 epochs). tests/test_config.py checks
the files still equal what the demo computes; rerun this after changing configs/synthetic-64.yaml
or configs/recipes/demo.yaml:

    python tools/write_finetune_config.py
"""
from pathlib import Path

import yaml

from pcutlib.config import load_config, resolve_config
from pcutlib.experiments.demo import demo_overrides, demo_recipe, finetune_config
from pcutlib.experiments.recipes import apply_overrides

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
OUT = CONFIGS / "synthetic-64-prioritycut.yaml"
DEMO_OUT = CONFIGS / "synthetic-64-demo.yaml"
DEMO_HEADER = """\
# The reconstruction phase of `pcut demo`: synthetic-64 with the overrides of configs/recipes/demo.yaml
# (keypoint separation at weight 1, region dropout until epoch 40):
#   pcut train --config synthetic-64-demo --name recon
# Written by tools/write_finetune_config.py (do not edit by hand: tests/test_config.py checks it).
"""
HEADER = """\
# The PriorityCut fine-tune of `pcut demo`: synthetic-64 with the U-Net discriminator, the
# adversarial term on, PriorityCut at k = 10, 6 epochs at lr 5e-5 (generator, keypoints) and
# 2e-4 (discriminator), no learning-rate drops, no region dropout, the demo's keypoint separation. Start it from a
# reconstruction run:
#   pcut train --config synthetic-64-prioritycut --name pcut --init-from runs/recon/checkpoints/last.pt
# Written by tools/write_finetune_config.py from pcutlib.experiments.demo.finetune_config (do not edit by
# hand: tests/test_config.py checks the two agree).
"""


def demo_config() -> dict:
    """synthetic-64 with the demo recipe's overrides, as ``pcut demo`` trains it."""
    config = load_config("synthetic-64")
    return resolve_config(apply_overrides(config, demo_overrides("synthetic-64", say=lambda _: None)))


def main() -> None:
    reconstruction = demo_config()
    DEMO_OUT.write_text(DEMO_HEADER + yaml.safe_dump(reconstruction, sort_keys=False))
    print(f"wrote {DEMO_OUT}")
    config = finetune_config(reconstruction, demo_recipe()["finetune_epochs"], None)
    OUT.write_text(HEADER + yaml.safe_dump(config, sort_keys=False))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
