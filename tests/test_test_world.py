"""tools/test_world.py: the shipped PriorityCut fine-tunes on a world no setting was chosen on. The
README's table and sentences against results/test-world/, and the test world's seed kept out of
everything else."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import block_of, load_tool

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tool():
    return load_tool("test_world")


def test_the_readme_table_is_the_stored_diagnoses(tool):
    """The README's test-world block is what ``python tools/test_world.py --from-json`` writes, and
    results/test-world/test_world.md holds the same table."""
    text = tool.table(tool.stored_diagnoses())
    assert block_of((REPO / "README.md").read_text(), "test-world") == text
    assert text in (REPO / "results" / "test-world" / "test_world.md").read_text()


def test_the_stored_diagnoses_are_of_the_test_world(tool):
    """Every stored test-world diagnosis covers 20 held-out videos, as the validation world's do, and
    measured all ten targets; the silhouette-statistics probe, a property of the world's figures, is one
    value in every test record and another in the validation records (a fingerprint of the world)."""
    stored = tool.stored_diagnoses()
    for worlds in stored.values():
        assert worlds["test"]["videos"] == worlds["validation"]["videos"] == 20
        assert tool.targets_met(worlds["test"]).endswith("of 10")
    test = {worlds["test"]["silhouette_probe_px"] for worlds in stored.values()}
    validation = {worlds["validation"]["silhouette_probe_px"] for worlds in stored.values()}
    assert len(test) == len(validation) == 1 and test != validation


def test_the_validation_world_is_the_calibrations_check_world(tool):
    """The README calls data/synthetic-64-check (pcut make-synthetic --videos 100 --seed 1, default world)
    the calibration's check world: the calibration recipe's rows in that world draw it with seed 1 and
    100 videos from the same World."""
    from pcutlib.data.synthetic import World
    from pcutlib.experiments.calibration import calibration_recipe, world_name

    recipe = calibration_recipe()
    assert recipe["check_seed"] == 1 and recipe["check_videos"] == tool.TEST_WORLD_VIDEOS
    kept = recipe["rows"]["small-motion+full-res-long+revealed-1-plain-rest+keep-visible+aligned"]["world"]
    assert kept == World() and world_name(kept) == "h62-m60"
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "the same world as the calibration's `data/calibration-h62-m60-seed1`" in readme


def test_a_test_world_of_another_seed_is_refused(tool, tmp_path):
    """make_test_world keeps a world made with the test seed and refuses one made with another."""
    (tmp_path / "synthetic.json").write_text(json.dumps({"seed": 1}))
    with pytest.raises(SystemExit, match="was made with seed 1"):
        tool.make_test_world(tmp_path, progress=False)


def test_the_test_seed_is_read_by_nothing_else(tool):
    """A setting chosen on the test world would make it a validation set: its seed stands only in
    the tool, its own record and this test."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    texts = {name: (REPO / name).read_text(errors="ignore") for name in tracked
             if (REPO / name).is_file() and (REPO / name).suffix in {".py", ".md", ".yaml", ".yml", ".ipynb", ".sh", ".toml"}}
    seed = str(tool.TEST_WORLD_SEED)
    found = sorted(set(name for name, text in texts.items() if seed in text)
                   - {"tools/test_world.py", "results/test-world/test_world.md"})
    assert found == [], f"the test world's seed {seed} appears in {found}"
    path = tool.TEST_WORLD.relative_to(REPO).as_posix()
    found = sorted(set(name for name, text in texts.items() if path in text)
                   - {"tools/test_world.py", "docs/usage.md", "tests/test_test_world.py"})
    assert found == [], f"the test world {path} is named in {found}: keep it for tools/test_world.py alone"


def test_the_table_counts_targets_from_a_diagnosis(tool):
    """targets_met on the stored validation record of the kept fine-tune (9 of 10, figure pixels
    missed), then with figure pixels moved above their target and the IoU below and above its own."""
    fields = json.loads((REPO / "results" / "diagnosis-revealed-kept-prioritycut.json").read_text())
    assert tool.targets_met(fields) == "9 of 10"
    fields = dict(fields, occlusion_auc_figure=0.76, silhouette_iou=0.5)
    assert tool.targets_met(fields) == "9 of 10"
    fields["silhouette_iou"] = 0.9
    assert tool.targets_met(fields) == "10 of 10"


def test_the_readme_sentences_quote_the_test_world(tool):
    """The paragraph under the table: each pair's count and the figures it names, from the stored files."""
    from pcutlib.evaluation.diagnose import Diagnosis
    from pcutlib.evaluation.targets import target_verdicts

    text = " ".join((REPO / "README.md").read_text().split())
    stored = tool.stored_diagnoses()
    kept = stored["kept"]
    revealed = stored["revealed"]["test"]
    first = stored["first"]["test"]
    missed = lambda fields: sorted(name for name, met in target_verdicts(Diagnosis(**fields)).items() if met is False)  # noqa: E731
    assert missed(kept["test"]) == missed(kept["validation"]) == ["occlusion_auc_figure"]
    assert (f"On the test world the kept pair's fine-tune meets {tool.targets_met(kept['test']).split()[0]} of the 10 "
            f"targets, as on the validation world; the one it misses, figure pixels, stands at "
            f"{kept['test']['occlusion_auc_figure']:.3f} there ({kept['validation']['occlusion_auc_figure']:.3f} on the "
            f"validation world).") in text
    assert missed(revealed) == ["animation_l1", "occlusion_auc_figure"]
    assert missed(stored["revealed"]["validation"]) == ["occlusion_auc_figure", "silhouette_iou"]     # "swapped"
    assert revealed["silhouette_iou"] >= 0.85
    assert (f"The revealed pair's fine-tune meets {tool.targets_met(revealed).split()[0]} there too, with one miss swapped: "
            f"its IoU clears 0.85 ({revealed['silhouette_iou']:.3f}) and its animation L1 does not "
            f"({revealed['animation_l1'] / revealed['copy_animation_l1']:.3f} of copying the source's, against at most "
            f"0.6).") in text
    assert tool.targets_met(stored["revealed"]["validation"]).startswith("8 ")
    assert f"The first shipped pair meets {tool.targets_met(first).split()[0]}." in text
    base = stored["kept (no fine-tune)"]
    assert all(missed(fields) == ["d_pixel_auc_true_disocclusion", "occlusion_auc_figure"] for fields in base.values())
    assert (f"The kept model before its fine-tune meets {tool.targets_met(base['test']).split()[0]} on both worlds: all "
            f"but figure pixels ({base['test']['occlusion_auc_figure']:.3f} on the test world) and the discriminator's "
            f"pixel head, which is at chance ({base['test']['d_pixel_auc_true_disocclusion']:.3f}) until the fine-tune "
            f"trains it.") in text
    assert tool.targets_met(base["validation"]) == tool.targets_met(base["test"])
    assert abs(base["test"]["d_pixel_auc_true_disocclusion"] - 0.5) < 0.05
    assert all(fields["occlusion_auc_figure"] < 0.75 for worlds in stored.values() for fields in worlds.values())
    moved = {name: max(abs(worlds["test"][name] - worlds["validation"][name]) for worlds in stored.values())
             for name in ("occlusion_auc_foreground", "occlusion_auc_figure", "silhouette_iou", "occlusion_at_rest",
                          "d_pixel_auc_true_disocclusion")}
    first_validation = stored["first"]["validation"]["occlusion_auc_foreground"]
    assert (f"With 4 figures a world, the same model's AUCs and IoU move by up to {max(moved.values()):.2f} between the two "
            f"worlds (the first pair's O inside the foreground: {first_validation:.3f} and "
            f"{first['occlusion_auc_foreground']:.3f})") in text
    for world in ("data/synthetic-64-check", "data/synthetic-64-test"):
        identities = json.loads((REPO / world / "synthetic.json").read_text()) if (REPO / world).exists() else None
        if identities is not None:                    # "5 of each of 4 figures never trained on"
            assert len(identities["test_identities"]) == 4 and identities["videos"] == 100


def test_models_diagnoses_only_the_named_ones_and_keeps_the_others(tool, tmp_path, monkeypatch):
    """``--models kept`` diagnoses the kept fine-tune alone (here a stand-in that returns its validation
    record with one figure changed), rewrites its JSON, leaves the other models' stored JSON as it was and
    writes the table of all of them into the page's block."""
    out = tmp_path / "test-world"
    out.mkdir()
    for model, (checkpoint, validation) in tool.MODELS.items():
        (out / f"{Path(checkpoint).stem}.json").write_text((REPO / validation).read_text())
    before = {path.name: path.read_text() for path in out.glob("*.json")}
    asked = []

    def stand_in(checkpoint, progress=True):
        asked.append(Path(checkpoint).name)
        fields = json.loads((REPO / "results" / "diagnosis-revealed-kept-prioritycut.json").read_text())
        return dict(fields, silhouette_iou=0.5)

    monkeypatch.setattr(tool, "OUT", out)
    monkeypatch.setattr(tool, "make_test_world", lambda progress=True: tool.TEST_WORLD)
    monkeypatch.setattr(tool, "diagnose_on_test_world", stand_in)
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- test-world:start -->\nold\n<!-- test-world:end -->\nafter\n")
    assert tool.main(["--models", "kept", "--readme", str(page), "--no-progress"]) == 0
    assert asked == ["synthetic-64-revealed-kept-prioritycut.pt"]
    after = {path.name: path.read_text() for path in out.glob("*.json")}
    changed = sorted(name for name in after if after[name] != before[name])
    assert changed == ["synthetic-64-revealed-kept-prioritycut.json"]
    assert json.loads(after[changed[0]])["silhouette_iou"] == 0.5
    assert block_of(page.read_text(), "test-world") == tool.table(tool.stored_diagnoses())
    assert "| 0.500 |" in page.read_text() and page.read_text().startswith("before\n")
    with pytest.raises(SystemExit):
        tool.main(["--models", "another", "--readme", str(page)])
