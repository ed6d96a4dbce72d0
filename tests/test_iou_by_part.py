"""tools/iou_by_part.py: models' silhouette IoU lost by body part, side by side. The tool on a tiny
world, then docs/benchmarks.md's block and sentences against the stored run."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from conftest import block_of, tiny_synthetic_world

REPO = Path(__file__).resolve().parent.parent
STORED = REPO / "results" / "iou-by-part" / "iou_by_part.json"


def load_tool():
    spec = importlib.util.spec_from_file_location("iou_by_part", REPO / "tools" / "iou_by_part.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool():
    return load_tool()


def test_two_models_on_a_tiny_world_give_tables_a_plot_and_a_page_block(tool, tmp_path):
    from pcutlib.checkpoints.files import save_models
    from pcutlib.models.build import build_models

    root, config = tiny_synthetic_world(tmp_path / "world", seed=5)
    checkpoints = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        checkpoints.append(tmp_path / f"model-{seed}.pt")
        save_models(checkpoints[-1], build_models(config["model_params"]).eval(), config)
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- parts:start -->\nold\n<!-- parts:end -->\n<!-- parts-sentences:start -->\n"
                    "<!-- parts-sentences:end -->\nafter\n")
    out = tmp_path / "out"
    assert tool.main(["--models", f"a={checkpoints[0]}", f"b={checkpoints[1]}", "--data", str(root), "--out", str(out),
                      "--readme", str(page), "--marker", "parts", "--no-progress"]) == 0
    document = json.loads((out / "iou_by_part.json").read_text())
    assert list(document["models"]) == ["a", "b"] and document["command"].startswith("python tools/iou_by_part.py --models")
    for row in document["models"].values():
        loss = row["silhouette_loss_by_part"]
        assert sum(r["missed"] + r["ghost"] for r in loss["parts"].values()) == pytest.approx(1 - loss["pooled_iou"])
    text = tool.tables(document["models"])
    assert (out / "iou_by_part.md").read_text() == f"{text}\n\n{tool.sentences(document['models'])}\n"
    assert text.startswith("| part | a | b |") and "| all: 1 - pooled IoU |" in text and "| left_hand |" in text
    assert block_of(page.read_text(), "parts") == text and (out / "iou_by_part.png").stat().st_size > 10_000
    assert block_of(page.read_text(), "parts-sentences") == tool.sentences(document["models"])
    assert tool.sentences(document["models"]).startswith("a: IoU ")
    again = tmp_path / "again"
    assert tool.main(["--from-json", str(out / "iou_by_part.json"), "--out", str(again)]) == 0
    assert (again / "iou_by_part.md").read_text() == (out / "iou_by_part.md").read_text()


def test_a_malformed_model_or_a_missing_checkpoint_is_refused_by_name(tool, tmp_path, capsys):
    with pytest.raises(SystemExit):
        tool.main(["--models", "no-equals-sign"])
    assert "expected NAME=CHECKPOINT" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main(["--models", f"a={tmp_path / 'nothing.pt'}"])
    assert f"no checkpoint at {tmp_path / 'nothing.pt'}" in capsys.readouterr().err


def test_the_docs_block_and_sentences_are_the_stored_run(tool):
    """docs/benchmarks.md's iou-by-part tables and sentences are what the stored run's --from-json
    writes; the shipped model's column is results/diagnosis-shipped.json's (the same code on the
    same world); every model was diagnosed on the check world's 20 held-out videos."""
    document = json.loads(STORED.read_text())
    page = (REPO / "docs" / "benchmarks.md").read_text()
    rerun = "rerun: python tools/iou_by_part.py --from-json results/iou-by-part/iou_by_part.json --readme docs/benchmarks.md"
    assert block_of(page, "iou-by-part") == tool.tables(document["models"]), rerun
    assert block_of(page, "iou-by-part-sentences") == tool.sentences(document["models"]), rerun
    assert (STORED.parent / "iou_by_part.md").read_text().startswith(tool.tables(document["models"]))
    assert document["data"] == "data/synthetic-64-check"
    assert all(row["videos"] == 20 for row in document["models"].values())
    shipped = json.loads((REPO / "results" / "diagnosis-shipped.json").read_text())
    assert document["models"]["shipped"]["checkpoint"] == "pretrained/synthetic-64.pt"
    for key in ("silhouette_iou", "silhouette_loss_by_part", "nearest_keypoint_px"):
        assert document["models"]["shipped"][key] == shipped[key], key
