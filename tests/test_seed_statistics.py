"""pcutlib.experiments.seed_statistics: seed-level intervals, Holm, power, the gate, the report."""
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from pcutlib.cli import main
from pcutlib.evaluation.bootstrap import paired_bootstrap
from pcutlib.experiments import design
from pcutlib.experiments import report as written
from pcutlib.experiments import seed_statistics as S


def test_the_paired_t_interval_covers_the_true_difference_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    covered = [S.paired_t(rng.normal(0.3, 1.0, size=5)) for _ in range(2000)]
    coverage = np.mean([r["low"] <= 0.3 <= r["high"] for r in covered])
    assert 0.93 <= coverage <= 0.97, coverage
    assert math.isnan(S.paired_t([1.0])["low"]) and math.isnan(S.paired_t([1.0, 1.0])["p"])     # no spread: no test


def _experiment(rng, seeds, videos, effect, seed_spread=1.0, video_spread=0.3):
    """(variant, reference) (S,V): a seed effect shared by the videos of a seed, on the difference."""
    reference = rng.normal(0, video_spread, size=(seeds, videos))
    seed_effect = rng.normal(0, seed_spread, size=(seeds, 1))
    variant = reference + effect + seed_effect + rng.normal(0, video_spread, size=(seeds, videos))
    return variant, reference


def test_with_5_seeds_only_the_t_interval_covers_and_the_hierarchical_bootstrap_needs_more_seeds():
    rng = np.random.default_rng(1)
    t5, crossed5, hierarchical5, hierarchical20 = [], [], [], []
    for trial in range(150):
        variant, reference = _experiment(rng, seeds=5, videos=10, effect=0.5)
        t = S.paired_t((variant - reference).mean(axis=1))
        t5.append(t["low"] <= 0.5 <= t["high"])
        _, low, high = paired_bootstrap(variant, reference, resamples=1000, seed=trial)
        crossed5.append(low <= 0.5 <= high)
        low, high = S.hierarchical_bootstrap(variant, reference, resamples=1000, seed=trial)
        hierarchical5.append(low <= 0.5 <= high)
        variant, reference = _experiment(rng, seeds=20, videos=10, effect=0.5)
        low, high = S.hierarchical_bootstrap(variant, reference, resamples=1000, seed=trial)
        hierarchical20.append(low <= 0.5 <= high)
    # measured with 300 trials: t 0.95, crossed 0.84, hierarchical 0.84 at 5 seeds, 0.94 at 20
    assert np.mean(t5) >= 0.9 and np.mean(crossed5) <= 0.9 and np.mean(hierarchical5) <= 0.9
    assert np.mean(hierarchical20) >= 0.88
    with pytest.raises(ValueError, match="seeds, videos"):
        S.hierarchical_bootstrap(variant[0], reference[0])


def test_holm_on_a_hand_made_table():
    adjusted = S.holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": math.nan})
    assert adjusted["a"] == pytest.approx(0.03) and adjusted["c"] == pytest.approx(0.06)
    assert adjusted["b"] == pytest.approx(0.06)                  # 0.04 x 1, raised to keep the order
    assert math.isnan(adjusted["d"])
    assert S.holm({"x": 0.6, "y": 0.7}) == {"x": 1.0, "y": 1.0}
    # the family as planned: 4 comparisons, of which the gate let 2 run; the 2 others count as p = 1
    fixed = S.holm({"a": 0.01, "b": 0.02, "c": math.nan, "d": math.nan}, m=4)
    assert fixed["a"] == pytest.approx(0.04) and fixed["b"] == pytest.approx(0.06) and math.isnan(fixed["c"])
    with pytest.raises(ValueError, match="m=1"):
        S.holm({"a": 0.01, "b": 0.02}, m=1)


def test_the_detectable_difference_is_found_80_percent_of_the_time():
    effect = S.minimum_detectable_difference(sd=1.0, n=5)
    rng = np.random.default_rng(2)
    rejections = np.mean([S.paired_t(rng.normal(effect, 1.0, size=5))["p"] < 0.05 for _ in range(4000)])
    assert 0.77 <= rejections <= 0.83, rejections
    assert S.minimum_detectable_difference(2.0, 5) == pytest.approx(2 * effect)
    assert math.isnan(S.minimum_detectable_difference(1.0, 1)) and math.isnan(S.minimum_detectable_difference(0.0, 5))
    # at Holm's first step over 6 comparisons the same design needs a larger difference
    assert S.minimum_detectable_difference(2.0, 5, alpha=0.05 / 6) > 1.5 * S.minimum_detectable_difference(2.0, 5)


def _runs(path, aucs):
    """A hand-made experiment_runs.csv: 4 variants x 4 seeds, prioritycut 0.01 below cutmix."""
    lines = ["variant,seed," + ",".join([S.PRIMARY] + S.SECONDARY) + ",d_image_auc,d_pixel_auc_true_disocclusion"]
    rng = np.random.default_rng(3)
    offsets = {"baseline-patch": 0.02, "unet": 0.015, "cutmix": 0.012, "prioritycut-k10": 0.002}
    for seed in range(4):
        for variant, offset in offsets.items():
            values = [0.07 + offset + rng.normal(0, 0.001)] + [0.5 + rng.normal(0, 0.01) for _ in S.SECONDARY]
            auc = aucs.get((variant, seed), 0.9)
            pixel = "" if variant == "baseline-patch" else "0.7"                # the patch D has no pixel head
            lines.append(f"{variant},{seed}," + ",".join(f"{v:.6f}" for v in values) + f",{auc},{pixel}")
    lines.append("copy the source frame,," + ",".join(["0.1"] * (1 + len(S.SECONDARY))) + ",,")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_gate_leaves_out_seeds_whose_discriminator_is_near_chance(tmp_path):
    runs = S.read_runs(_runs(tmp_path / "runs.csv", {("cutmix", 2): 0.7}))
    kept, left_out = S.per_seed_differences(runs, "prioritycut-k10", "cutmix", S.PRIMARY)
    assert sorted(kept) == [0, 1, 3] and list(left_out) == [2] and "cutmix: image AUC 0.700 < 0.8" in left_out[2]
    assert all(d < 0 for d in kept.values())


def test_the_design_detectable_difference_uses_the_planned_seeds_and_the_planned_family(tmp_path):
    runs = S.read_runs(_runs(tmp_path / "runs.csv", {("cutmix", 2): 0.7}))
    rows = S.seed_comparisons(runs, planned_seeds=10)
    row = next(r for r in rows if r["family"] == "primary" and (r["variant"], r["reference"]) == ("prioritycut-k10",
                                                                                                   "cutmix"))
    assert row["n"] == 3 and row["family_size"] == 4                      # the 4 comparisons whose variants ran
    assert row["detectable_planned"] == pytest.approx(
        S.minimum_detectable_difference(row["sd"], 10, alpha=0.05 / 4)) and row["detectable_planned"] < row["detectable"]
    # the variants planned decide the family, not the ones recorded so far: with the oracle planned
    # but not yet run, Holm's m is the 6 comparisons of the design
    planned = ["baseline-patch", "unet", "cutmix", "prioritycut-k10", design.ORACLE]
    rows = S.seed_comparisons(runs, planned_variants=planned)
    primary = [r for r in rows if r["family"] == "primary"]
    assert len(primary) == 4 and {r["family_size"] for r in primary} == {6}
    first = min(primary, key=lambda r: r["p"])
    assert first["p_holm"] == pytest.approx(min(1.0, first["p"] * 6))
    assert {r["family_size"] for r in rows if r["family"] == "secondary"} == {6 * len(S.SECONDARY)}


def test_the_folder_s_setting_chooses_the_gate_and_the_tuning_seeds(tmp_path, capsys):
    """The same records, in a folder named experiment-scratch and in one named experiment-finetune:
    from scratch seed 0 is the tuning seed and an image AUC of 0.7 passes (a discriminator beside a
    generator from the first step ends lower than one trained alone first); as a fine-tune, seeds 0
    and 1 are tuning seeds and 0.7 fails. A folder of neither setting is an error naming it."""
    reports = {}
    for setting in ("scratch", "finetune"):
        folder = tmp_path / f"experiment-{setting}"
        folder.mkdir()
        _runs(folder / "experiment_runs.csv", {("cutmix", 2): 0.7, ("cutmix", 3): 0.55})
        assert main(["seed-statistics", str(folder)]) == 0
        reports[setting] = (folder / "seed_statistics.md").read_text()
    claim = {setting: next(line for line in report.splitlines() if line.startswith("| prioritycut-k10 | cutmix |"))
             for setting, report in reports.items()}
    assert "| 2 (2) |" in claim["scratch"]       # seeds 0-3: 0 tuning, 3 (0.55) fails, 1 and 2 (0.7) count
    assert "| 0 (4) |" in claim["finetune"]      # 0 and 1 tuning, 2 (0.7) and 3 (0.55) fail
    assert "image AUC is at least 0.6 and" in reports["scratch"] and "at least 0.8 and" in reports["finetune"]
    _, left_out = S.per_seed_differences(S.read_runs(tmp_path / "experiment-scratch" / "experiment_runs.csv"),
                                         "prioritycut-k10", "cutmix", S.PRIMARY, *design.GATES["scratch"],
                                         tuning_seeds=design.TUNING_SEEDS["scratch"])
    assert sorted(left_out) == [0, 3] and "cutmix: image AUC 0.550 < 0.6" in left_out[3]
    assert "Seed 0's runs (baseline-patch, unet, cutmix) were seen before this setting's gate" in reports["scratch"]
    other = tmp_path / "my-runs"
    other.mkdir()
    _runs(other / "experiment_runs.csv", {})
    assert main(["seed-statistics", str(other)]) == 2
    assert "unknown experiment design 'my-runs'" in capsys.readouterr().err


def test_the_command_recomputes_the_committed_verdicts():
    """``pcut seed-statistics`` on the committed per-run records gives the primary verdicts that
    ``pcut experiment`` wrote beside them (section.md): the same plan (gate, tuning seeds, Holm's
    family, planned seeds) in both. Only the bootstrap column differs: the records keep no videos."""
    import argparse
    import shutil
    import tempfile

    for setting in ("finetune", "scratch", "finetune-textured"):
        committed = REPO / "results" / f"experiment-{setting}"
        with tempfile.TemporaryDirectory() as temporary:
            folder = Path(temporary) / committed.name
            folder.mkdir()
            shutil.copy(committed / "experiment_runs.csv", folder)
            S.run_seed_statistics(argparse.Namespace(results=folder, min_auc=None, min_pixel_auc=None))
            recomputed = (folder / "seed_statistics.md").read_text()

        def verdicts(text):
            table = text.split("Primary metric")[1].split("Sensitivity:")[0]
            rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ") and "---" not in line]
            return [row[:5] + row[6:] for row in rows]                        # without the bootstrap column

        assert verdicts(recomputed) == verdicts((committed / "section.md").read_text()), setting


def test_the_command_writes_the_seed_report(tmp_path, capsys):
    folder = tmp_path / "experiment-finetune"
    folder.mkdir()
    _runs(folder / "experiment_runs.csv", {})
    assert main(["seed-statistics", str(folder)]) == 0
    report = (folder / "seed_statistics.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| prioritycut-k10 | cutmix |"))
    # a folder named experiment-finetune: the fine-tune's tuning seeds 0 and 1 are left out of the verdict...
    assert "| 2 (2) |" in row and row.endswith("| no difference detected |")     # 2 seeds: too few
    assert "Seeds 0 and 1 chose the mixing recipe" in report
    # ...and counted, without the gate, in the sensitivity table below it
    sensitivity = report.split("Sensitivity:")[1]
    assert any(line.startswith("| prioritycut-k10 | cutmix | 4 |") and line.endswith("| variant better |")
               for line in sensitivity.splitlines())
    assert "| – |" in row                                               # no per-video values: no bootstrap
    assert "no finding survives the correction" in report          # the secondary metrics are all equal
    assert "wrote" in capsys.readouterr().out
    assert main(["seed-statistics", str(tmp_path)]) == 2                 # a folder without records: a usage error
    assert "experiment_runs.csv is missing" in capsys.readouterr().err


def test_the_gate_reads_each_run_the_pixel_head_and_the_start():
    runs = [{"variant": v, "seed": s, "start": "a", S.PRIMARY: 0.07 + 0.01 * (v == "cutmix"), "d_image_auc": 0.9,
             "d_pixel_auc_true_disocclusion": 0.7} for v in ("prioritycut-k10", "cutmix") for s in range(4)]
    runs[1]["d_pixel_auc_true_disocclusion"] = 0.55                      # prioritycut seed 1: pixel head near chance
    runs[6]["start"] = "b"                                                # cutmix seed 2: another reconstruction start
    runs[3]["d_pixel_auc_true_disocclusion"] = math.nan                  # a U-Net whose pixel head was not scored
    runs[4][S.PRIMARY] = math.nan                                         # cutmix seed 0: the metric not measured
    kept, left_out = S.per_seed_differences(runs, "prioritycut-k10", "cutmix", S.PRIMARY)
    assert kept == {}
    assert left_out == {0: f"{S.PRIMARY} not measured", 1: "prioritycut-k10: pixel AUC 0.550 < 0.6",
                        2: "different starting checkpoints", 3: "prioritycut-k10: pixel AUC not measured"}
    assert S.run_gate({"variant": "baseline-patch", "d_image_auc": 0.9}) is None     # no pixel head: image AUC only
    # the plain U-Net's head is not trained to point anywhere: its image AUC alone decides
    assert S.run_gate({"variant": "unet", "d_image_auc": 0.9, "d_pixel_auc_true_disocclusion": 0.5}) is None
    assert S.run_gate({"variant": "oracle-prioritycut-k10", "d_image_auc": 0.9,
                       "d_pixel_auc_true_disocclusion": 0.5}) == "pixel AUC 0.500 < 0.6"
    assert S.run_gate({"d_image_auc": math.nan}) == "image AUC not measured"
    assert S.run_gate({"d_image_auc": 0.85, "d_pixel_auc_true_disocclusion": 0.61}) is None
    assert "| 0.900 / 0.550 ✗ |" in S.gate_table(runs)


def test_seed_comparisons_give_every_family_and_the_hierarchical_bootstrap(tmp_path):
    rng = np.random.default_rng(5)
    variants = ["prioritycut-k10", "cutmix", design.ORACLE]
    runs, per_video = [], {}
    for variant in variants:
        for seed in range(5):
            shift = {"prioritycut-k10": 0.0, "cutmix": 0.01, design.ORACLE: -0.01}[variant]
            videos = [{"name": f"v{i}", S.PRIMARY: 0.07 + shift + rng.normal(0, 0.002), "l1": 0.02}
                      for i in range(6)]
            per_video.setdefault(variant, {})[seed] = videos
            for video in videos:
                video[f"{S.PRIMARY}_weight"] = 100 + 50 * int(video["name"][1:])   # dis-occluded pixels pooled
            pooled = sum(v[S.PRIMARY] * v[f"{S.PRIMARY}_weight"] for v in videos) / sum(v[f"{S.PRIMARY}_weight"]
                                                                                       for v in videos)
            runs.append({"variant": variant, "seed": seed, "start": "x", "d_image_auc": 0.9,
                         "d_pixel_auc_true_disocclusion": 0.7, S.PRIMARY: pooled, "l1": 0.02 + 0.001 * seed,
                         "psnr": 30.0})
    rows = S.seed_comparisons(runs, per_video, resamples=500)
    assert {(r["variant"], r["reference"]) for r in rows} == {("prioritycut-k10", "cutmix"), (design.ORACLE, "cutmix"),
                                                             ("prioritycut-k10", design.ORACLE)}
    primary = {(r["variant"], r["reference"]): r for r in rows if r["family"] == "primary"}
    claim = primary[("prioritycut-k10", "cutmix")]
    assert claim["n"] == 5 and claim["verdict"] == "variant better" and claim["p_holm"] >= claim["p"]
    assert claim["bootstrap_low"] < claim["mean"] < claim["bootstrap_high"] < 0
    # the bootstrap resamples the same pooled figure: with every video drawn once, it is the t-test's mean
    grid = S.per_video_grid(per_video, "prioritycut-k10", "cutmix", list(range(5)), S.PRIMARY)
    pooled = [float((w * (a - b)).sum() / w.sum()) for a, b, w in zip(*grid)]
    assert np.mean(pooled) == pytest.approx(claim["mean"], rel=1e-9)
    assert claim["family_tests"] == 3 and claim["detectable"] > S.minimum_detectable_difference(claim["sd"], 5)
    assert {r["verdict"] for r in rows if r["metric"] == "l1"} == {"not testable (no spread between seeds)"}
    assert primary[("prioritycut-k10", design.ORACLE)]["verdict"] == "variant worse"
    assert {r["family"] for r in rows if r["metric"] == "psnr"} == {"reported"}
    assert all(r["verdict"] == "reported, not counted" for r in rows if r["family"] == "reported")
    # the figure draws each seed's difference (a dot) and the t-interval (a bar) of each comparison
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    written.draw_seed_differences(ax, rows, runs)
    first = [r for r in rows if r["family"] == "primary"][0]
    top = len([r for r in rows if r["family"] == "primary"]) - 1
    dots = [x for collection in ax.collections for x, y in collection.get_offsets() if y == top]
    kept, _ = S.per_seed_differences(runs, first["variant"], first["reference"], S.PRIMARY)
    assert sorted(dots) == pytest.approx(sorted(kept.values()))
    assert any(list(line.get_xdata()) == pytest.approx([first["low"], first["high"]]) for line in ax.lines)
    written.plot_seed_differences(rows, runs, tmp_path / "seeds.png")
    assert (tmp_path / "seeds.png").read_bytes()[:4] == b"\x89PNG"
    report = S.seed_report(runs, rows)
    assert "| prioritycut-k10 | cutmix | 5 (0) |" in report and "variant better |" in report


def test_the_docs_state_the_design_s_gates():
    """docs/results.md and docs/usage.md write the gate's values out: they are design.GATES'."""
    (fine_image, fine_pixel), (scratch_image, scratch_pixel) = design.GATES["finetune"], design.GATES["scratch"]
    assert fine_pixel == scratch_pixel
    for doc in ("docs/results.md", "docs/usage.md"):
        text = " ".join((REPO / doc).read_text().split())
        assert f"{fine_image:g} in the fine-tune, {scratch_image:g} from scratch" in text, doc
        assert f"pixel AUC at least {fine_pixel:g} against the true dis-occlusion" in text, doc
