import json
import os
from pathlib import Path

import pytest
import torch

from pcutlib.paths import marker_pair

REPO = Path(__file__).resolve().parent.parent


def load_tool(name: str):
    """tools/NAME.py as a module (the tools are scripts, not a package); registered in sys.modules
    while it runs, since dataclasses look their module up as the class is made."""
    import importlib.util
    import sys
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def calibration_rows() -> list[dict]:
    """Every record of the committed results/calibration.jsonl, in order."""
    return [json.loads(line) for line in (REPO / "results" / "calibration.jsonl").read_text().splitlines()]


def block_of(page: str, marker: str) -> str:
    """The text between a page's <!-- MARKER:start --> and <!-- MARKER:end --> lines."""
    start, end = marker_pair(marker)
    return page.split(start + "\n", 1)[1].split("\n" + end, 1)[0]


def sentences_of(page: str, marker: str) -> str:
    """The <!-- MARKER-sentences --> block of a page, its whitespace collapsed to single spaces."""
    return " ".join(block_of(page, f"{marker}-sentences").split())


def fixtures_dir() -> Path | None:
    """$PCUT_FIXTURES, else ../shared/fixtures beside the repository."""
    candidates = [os.environ.get("PCUT_FIXTURES"), REPO.parent / "shared" / "fixtures"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def skip_or_fail(reason: str):
    """Skip with a visible reason; where a variable requires the resource (CI), fail instead."""
    if os.environ.get("PCUT_REQUIRE_FIXTURES") == "1":
        pytest.fail(f"PCUT_REQUIRE_FIXTURES=1 but: {reason}")
    pytest.skip(reason)


def tiny_synthetic_world(folder: Path, seed: int) -> tuple[Path, dict]:
    """(root, resolved smoke config reading it): 8 synthetic videos of 4 frames at 32 px, 4
    identities, half of them held out, with their ground truth."""
    from pcutlib.config import load_config, resolve_config
    from pcutlib.data.make_synthetic import make_synthetic_dataset

    root = make_synthetic_dataset(folder, videos=8, frames=4, size=32, seed=seed, identities=4,
                                  test_fraction=0.5, progress=False)
    config = load_config(REPO / "configs" / "smoke.yaml")
    config["dataset_params"]["root_dir"] = str(root)
    return root, resolve_config(config)


@pytest.fixture(scope="session")
def fomm_reference():
    folder = fixtures_dir()
    if folder is None or not (folder / "fomm_reference_small.pt").is_file():
        skip_or_fail("FOMM reference fixtures not found: set PCUT_FIXTURES or place shared/fixtures "
                     "beside the repository")
    return torch.load(folder / "fomm_reference_small.pt", weights_only=True)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for modules of many small convolutions: on 2 shared cores, 2 OpenMP
    threads ran the probe trainings about 8x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
