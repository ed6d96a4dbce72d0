"""tools/occlusion_curve.py: which checkpoints it diagnoses, how it counts a chain of runs' epochs,
that stored diagnoses are read rather than recomputed, and its figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_tool

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tool():
    return load_tool("occlusion_curve")


def make_run(root: Path, name: str, epochs: list[int]) -> Path:
    """A run folder with empty checkpoints/epoch-N.pt files (the tool only reads their names here)."""
    folder = root / name / "checkpoints"
    folder.mkdir(parents=True)
    for epoch in epochs:
        (folder / f"epoch-{epoch}.pt").write_bytes(b"")
    return root / name


def fields(value: float) -> dict:
    return {"occlusion_auc_figure": value, "occlusion_at_rest": 0.96, "mask_lift": 2.6, "silhouette_iou": 0.87,
            "rule_auc_figure": 0.58, "rule_mask_lift": 1.3}


def test_every_multiple_and_the_last_epoch(tool, tmp_path):
    run = make_run(tmp_path, "a", [10, 20, 30, 40, 50, 55])
    assert tool.epochs_to_diagnose(run, 20) == [20, 40, 55]
    assert tool.epochs_to_diagnose(run, 5) == [10, 20, 30, 40, 50, 55]
    with pytest.raises(ValueError, match="got 0"):
        tool.epochs_to_diagnose(run, 0)
    with pytest.raises(FileNotFoundError, match="no epoch-N.pt"):
        tool.epochs_to_diagnose(make_run(tmp_path, "empty", []), 10)


def test_a_chain_counts_on_and_reads_stored_diagnoses(tool, tmp_path):
    """The second run's epoch 20 sits at 300 + 20; every point comes from the stored JSON (the empty
    checkpoints would fail to load), so an interrupted call resumes without diagnosing again."""
    first, second = make_run(tmp_path, "first", [100, 200, 300]), make_run(tmp_path, "second", [20, 40])
    out = tmp_path / "out"
    stored = {"start.json": 0.69, "first/epoch-100.json": 0.71, "first/epoch-200.json": 0.72,
              "first/epoch-300.json": 0.73, "second/epoch-20.json": 0.74, "second/epoch-40.json": 0.75}
    for name, value in stored.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(json.dumps(fields(value)))
    points = tool.curve_points([first, second], [100, 20], tmp_path / "no-world", out, start=tmp_path / "start.pt",
                               progress=False)
    assert [(p["run"], p["epoch"], p["at"]) for p in points][1:] == [
        ("first", 100, 100), ("first", 200, 200), ("first", 300, 300), ("second", 20, 320), ("second", 40, 340)]
    assert [p["occlusion_auc_figure"] for p in points] == list(stored.values())
    with pytest.raises(ValueError, match="2 runs, 1 steps"):
        tool.curve_points([first, second], [20], tmp_path, out)
    line = tool.last_run_line(points)                         # the second run's own two marks: too few
    assert line is None
    third = make_run(tmp_path, "third", [20, 40, 60])
    for epoch, value in ((20, 0.751), (40, 0.752), (60, 0.753)):
        (out / "third" / f"epoch-{epoch}.json").parent.mkdir(exist_ok=True)
        (out / "third" / f"epoch-{epoch}.json").write_text(json.dumps(fields(value)))
    points = tool.curve_points([first, second, third], [100, 20, 20], tmp_path, out, progress=False)
    line = tool.last_run_line(points)
    assert points[-1]["at"] == 400 and line.slope == pytest.approx(0.00005) and line.intercept == pytest.approx(0.751 - 0.00005 * 360)
    figure = tool.draw_curve(points, tmp_path / "curve.png", marks={210: "lr x0.1"}, fit=True)
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000


def test_a_mark_without_a_whole_epoch_is_refused(tool, tmp_path):
    with pytest.raises(SystemExit, match="expected EPOCH:LABEL"):
        tool.main([str(tmp_path), "--every", "10", "--data", str(tmp_path), "--out", str(tmp_path), "--mark", "lr drop"])
