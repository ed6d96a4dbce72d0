"""benchmarks/time_to_quality.py: recipes trained with wall-clock marks, each mark diagnosed."""
import json
import math
import statistics
import sys

import pytest
from conftest import REPO, block_of, sentences_of

from pcutlib.experiments.recipes import read_recipe

sys.path.insert(0, str(REPO / "benchmarks"))
import time_to_quality as T  # noqa: E402


def test_thresholds_read_the_first_mark_that_reaches_them():
    rows = [{"minutes": minutes, "epoch": epoch, "step": 20 * epoch, "silhouette_iou": iou}
            for minutes, epoch, iou in ((2.5, 20, 0.7), (5.0, 40, 0.82), (7.5, 60, None), (10.0, 80, 0.86))]
    assert T.first_reaching(rows, "silhouette_iou", 0.80) == 5.0
    assert T.first_reaching(rows, "silhouette_iou", 0.85) == 10.0
    assert math.isnan(T.first_reaching(rows, "silhouette_iou", 0.9))
    assert "| r | 5.0 | 10.0 | not reached |" in T.table({"r": rows})
    assert T.cpu_bf16() == T.native_bf16(T.torch.device("cpu"))[1] and "bf16" in T.cpu_bf16()


def test_a_run_is_compared_row_by_row_with_a_reference_recipe_on_the_same_seed(tmp_path, capsys):
    """--against: each seeded row's last mark beside the reference recipe's on the same seed, as
    "value (change)"; a seed the reference lacks is refused by name, and --against needs --from-json."""
    def mark(iou, probe):
        return {"minutes": 8.0, "epoch": 120, "silhouette_iou": iou, "warped_source_silhouette_iou": iou - 0.01,
                "silhouette_iou_at_rest": 0.93, "probe_px": probe, "moving_distinct_keypoints": 10.0}
    reference = {"base seed 0": [mark(0.5, 9.0), mark(0.81, 0.94)], "base seed 4": [mark(0.83, 0.93)]}
    results = {"lever seed 0": [mark(0.79, 0.96)], "lever seed 4": [mark(0.84, 0.90)], "unseeded": [mark(0.1, 1.0)]}
    text = T.against_table(results, reference, "base")
    lines = text.splitlines()
    assert lines[0] == ("| row | epochs | trained (min) | IoU | the warped source | at rest | probe px | "
                        "moving keypoints |")
    assert lines[2] == "| base seed 0 (reference) | 120 | 8.0 | 0.810 | 0.800 | 0.930 | 0.94 | 10.00 |"
    assert lines[4] == ("| lever seed 0 | 120 | 8.0 | 0.790 (-0.020) | 0.780 (-0.020) | 0.930 (+0.000) | "
                        "0.96 (+0.02) | 10.00 (+0.00) |")
    assert lines[5].startswith("| lever seed 4 | 120 | 8.0 | 0.840 (+0.010) |") and len(lines) == 6
    with pytest.raises(ValueError, match="the reference run has no row 'base seed 4'; it has base seed 0"):
        T.against_table(results, {"base seed 0": reference["base seed 0"]}, "base")
    stored, other = tmp_path / "run.json", tmp_path / "reference.json"
    stored.write_text(json.dumps({"results": results}))
    other.write_text(json.dumps({"results": reference}))
    page = tmp_path / "page.md"
    page.write_text("<!-- levers:start -->\nold\n<!-- levers:end -->\n")
    assert T.main(["--from-json", str(stored), "--against", str(other), "base", "--readme", str(page),
                   "--marker", "levers"]) == 0
    assert block_of(page.read_text(), "levers") == text
    with pytest.raises(SystemExit):
        T.parse_arguments(["--against", str(other), "base"])
    assert "give it with --from-json" in capsys.readouterr().err


def test_every_recipe_is_a_valid_config():
    recipe = read_recipe("time_to_quality")
    for name, entry in recipe["recipes"].items():
        config = T.recipe_config("synthetic-64", REPO / "data" / "synthetic-64", entry["overrides"])
        for key, value in entry["overrides"].items():
            section, *rest = key.split(".")
            found = config[section]
            for part in rest:
                found = found[part]
            assert found == value, (name, key)
    with pytest.raises(ValueError, match="train_params.lr_generatr"):
        T.recipe_config("synthetic-64", REPO / "data", {"train_params.lr_generatr": 1.0})


@pytest.mark.slow
def test_the_quick_benchmark_marks_trains_diagnoses_and_plots(tmp_path, capsys):
    out = tmp_path / "out"
    assert T.main(["--quick", "--runs", str(tmp_path / "runs"), "--out", str(out), "--minutes", "0.05",
                   "--every", "0.01", "--recipes", "demo", "bf16-auto"]) == 0
    document = json.loads((out / "time_to_quality.json").read_text())
    assert list(document["results"]) == ["demo", "bf16-auto"] and document["check_seed"] == 1
    for rows in document["results"].values():
        assert rows and all(0 <= row["silhouette_iou"] <= 1 for row in rows)
        minutes = [row["minutes"] for row in rows]
        assert minutes == sorted(minutes) and [row["epoch"] for row in rows] == sorted({r["epoch"] for r in rows})
    assert (out / "time_to_quality.png").stat().st_size > 10_000
    assert "min to silhouette iou 0.85" in (out / "time_to_quality.md").read_text()
    printed = capsys.readouterr().out
    assert "CPU bf16:" in printed and "mixed_precision auto -> " in printed       # the recipe's choice, logged
    page = tmp_path / "README.md"                     # --from-json rewrites the outputs and the README block
    page.write_text(f"before\n{T.MARKERS[0]}\nold\n{T.MARKERS[1]}\nafter\n")
    again = tmp_path / "again"
    assert T.main(["--from-json", str(out / "time_to_quality.json"), "--out", str(again), "--readme", str(page)]) == 0
    assert (again / "time_to_quality.md").read_text() == (out / "time_to_quality.md").read_text()
    block = page.read_text().split(T.MARKERS[0] + "\n", 1)[1].split("\n" + T.MARKERS[1], 1)[0]
    assert block == T.threshold_table(document["results"]) and page.read_text().endswith("after\n")


def test_the_plot_draws_where_the_iou_is_lost_for_the_marks_that_measured_it(tmp_path):
    """The silhouette IoU panel: one line per row, plus the warped-source (dotted) and at-rest
    (dash-dot) lines of the rows whose marks have them (marks stored before the split have none);
    the marks' table gains the two columns only where a mark measured them."""
    mark = {"minutes": 1.0, "epoch": 5, "step": 100, "silhouette_iou": 0.8, "moving_distinct_keypoints": 9, "probe_px": 1.0,
            "occlusion_auc_foreground": 0.7}
    split = {"warped_source_silhouette_iou": 0.78, "silhouette_iou_at_rest": 0.93}
    results = {"old seed 0": [mark, {**mark, "minutes": 2.0}],
               "new seed 0": [{**mark, **split}, {**mark, **split, "minutes": 2.0}]}
    iou_panel = T.plot(results, tmp_path / "plot.png").axes[0]
    styles = [(line.get_linestyle(), tuple(line.get_ydata())) for line in iou_panel.get_lines()]
    assert (":", (0.78, 0.78)) in styles and ("-.", (0.93, 0.93)) in styles
    assert [s[0] for s in styles].count("-") == 2 and [s[0] for s in styles].count("--") == 1   # rows; target
    assert [s[0] for s in styles].count(":") == 1                     # the old row has no split
    labels = [text.get_text() for text in iou_panel.get_legend().get_texts()]
    assert "the warped source alone" in labels and "at rest (driving = source)" in labels
    header = [line for line in T.table(results).split("\n") if line.startswith("| recipe | minutes")][0]
    assert header.endswith("| IoU: the warped source alone | IoU: at rest (driving = source) |")
    assert "| old seed 0 | 1.0 |" in T.table(results) and "IoU: the warped" not in T.table({"old seed 0": results["old seed 0"]})


@pytest.mark.slow
def test_the_benchmark_trains_each_recipe_once_per_seed(tmp_path):
    out = tmp_path / "out"
    assert T.main(["--quick", "--runs", str(tmp_path / "runs"), "--out", str(out), "--minutes", "0.02",
                   "--every", "0.01", "--recipes", "demo", "--seeds", "3", "4"]) == 0
    document = json.loads((out / "time_to_quality.json").read_text())
    assert list(document["results"]) == ["demo seed 3", "demo seed 4"]
    for seed in (3, 4):                                         # each row trained with its own seed
        assert f"seed: {seed}\n" in (tmp_path / "runs" / f"demo-seed-{seed}" / "config.yaml").read_text()
    # --resume keeps the stored rows and trains only the missing seed
    assert T.main(["--quick", "--runs", str(tmp_path / "runs2"), "--out", str(out), "--minutes", "0.02",
                   "--every", "0.01", "--recipes", "demo", "--seeds", "3", "4", "5", "--resume"]) == 0
    resumed = json.loads((out / "time_to_quality.json").read_text())
    assert list(resumed["results"]) == ["demo seed 3", "demo seed 4", "demo seed 5"]
    assert resumed["results"]["demo seed 3"] == document["results"]["demo seed 3"]
    assert sorted(path.name for path in (tmp_path / "runs2").iterdir() if path.name.startswith("demo")) == ["demo-seed-5"]


def test_resume_refuses_rows_measured_on_another_machine(tmp_path):
    stored = {"cpu_bf16": "no native bf16", "threads": 16, "device": "cpu", "check_seed": 1, "results": {"demo": []}}
    (tmp_path / "time_to_quality.json").write_text(json.dumps(stored))
    now = {**stored, "threads": 2, "results": {}}
    with pytest.raises(ValueError, match=r"'threads': \(16, 2\)"):
        T.resumed_rows(tmp_path / "time_to_quality.json", now)
    said, same = [], {**now, "threads": 16, "command": "python benchmarks/time_to_quality.py --resume"}
    stored["command"] = "python benchmarks/time_to_quality.py --seeds 1"
    stored["results"] = {"demo seed 1": [1], "demo seed 3": [3]}
    (tmp_path / "time_to_quality.json").write_text(json.dumps(stored))
    assert T.resumed_rows(tmp_path / "time_to_quality.json", same, ["demo seed 3"], said.append) == {"demo seed 1": [1]}
    assert "training again: demo seed 3" in said[-1] and same["command"].startswith("python benchmarks/time_to_quality.py "
                                                                                   "--seeds 1; resumed by ")
    with pytest.raises(ValueError, match="no such row"):
        T.resumed_rows(tmp_path / "time_to_quality.json", dict(same), ["demo seed 9"])
    assert T.resumed_rows(tmp_path / "missing.json", now, [], said.append) == {} and "every row trains" in said[-1]
    with pytest.raises(SystemExit):
        T.parse_arguments(["--retrain", "demo seed 3"])


def test_the_benchmark_refuses_a_repeated_seed():
    with pytest.raises(SystemExit):
        T.parse_arguments(["--seeds", "2", "2"])
    assert T.run_name("demo", None) == "demo" and T.run_name("demo", 2) == "demo seed 2"


@pytest.mark.slow
def test_the_demo_spread_runs_the_demo_per_seed_and_counts_the_targets_met(tmp_path):
    import demo_spread as S

    out = tmp_path / "out"
    assert S.main(["--quick", "--seeds", "3", "4", "--runs", str(tmp_path / "runs"), "--out", str(out),
                   "--set", "train_params.loss_weights.keypoint_separation=0.25"]) == 0
    document = json.loads((out / "demo_spread.json").read_text())
    assert [run["seed"] for run in document["runs"]] == [3, 4]
    assert "--set train_params.loss_weights.keypoint_separation=0.25" in document["command"]
    for run in document["runs"]:
        assert run["overrides"] == {"train_params.loss_weights.keypoint_separation": 0.25}
        assert set(run["figures"]) == set(run["met"]) == set(S.TARGET_KEYS)
        assert run["met"]["minutes"] == (run["figures"]["minutes"] <= run["targets"]["minutes"])
        assert "demo pcut" in run["diagnoses"]
    for seed in (3, 4):                                         # each seed trained its own run, with that seed
        config = (tmp_path / "runs" / f"seed-{seed}" / "smoke-reconstruction" / "config.yaml").read_text()
        assert f"seed: {seed}\n" in config and "keypoint_separation: 0.25\n" in config
    assert all((out / f"seed-{seed}-animation_keypoints.png").stat().st_size > 1000 for seed in (3, 4))
    text = (out / "demo_spread.md").read_text()
    met = sum(all(run["met"].values()) for run in document["runs"])
    assert f"Every target met in {met} of 2 runs (seeds 3, 4)." in text and "| silhouette IoU | >= " in text


def test_demo_spread_refuses_a_repeated_seed_and_a_set_without_a_value(capsys):
    import demo_spread as S

    with pytest.raises(SystemExit):
        S.parse_arguments(["--seeds", "1", "1"])
    with pytest.raises(SystemExit):
        S.parse_arguments(["--set", "train_params.region_dropout"])
    assert "--set expects key=value, got 'train_params.region_dropout'" in capsys.readouterr().err


def test_the_weight_average_figures_in_the_docs_are_the_stored_run():
    """docs/choices.md quotes the end of each recipe of results/time-to-quality-demo-schedule
    (silhouette IoU to 3 digits, moving keypoints to 2): each quoted figure is the stored one."""
    stored = json.loads((REPO / "results" / "time-to-quality-demo-schedule" / "time_to_quality.json").read_text())
    end = {name: rows[-1] for name, rows in stored["results"].items()}
    text = " ".join((REPO / "docs" / "choices.md").read_text().split())
    assert (f"240 epochs ended at silhouette IoU {end['demo-240']['silhouette_iou']:.3f} and "
            f"{end['demo-240']['moving_distinct_keypoints']:.2f} moving keypoints") in text
    assert (f"decay 0.998 at {end['demo-240-ema']['silhouette_iou']:.3f} and "
            f"{end['demo-240-ema']['moving_distinct_keypoints']:.2f}") in text
    assert f"({end['demo']['silhouette_iou']:.3f} after the demo's 120 epochs)" in text
    assert f"({end['demo']['moving_distinct_keypoints']:.2f} there)" in text


def test_demo_spread_from_json_rewrites_table_and_page_block_without_training(tmp_path):
    import demo_spread as S

    targets = {"l1_below_copy_percent": 30, "moving_distinct_keypoints": 6, "silhouette_iou": 0.75, "minutes": 20}
    runs = []
    for seed, (l1, keypoints, iou, minutes) in enumerate([(42.0, 7.9, 0.79, 9.5), (38.0, 5.5, 0.76, 10.5)]):
        figures = {"l1_below_copy_percent": l1, "moving_distinct_keypoints": keypoints, "silhouette_iou": iou,
                   "minutes": minutes}
        met = {key: (value <= targets[key]) if key == "minutes" else value >= targets[key]
               for key, value in figures.items()}
        runs.append({"seed": seed, "figures": figures, "targets": targets, "met": met, "diagnoses": {}})
    stored = tmp_path / "stored.json"
    stored.write_text(json.dumps({"command": "python benchmarks/demo_spread.py --seeds 0 1", "runs": runs}))
    page = tmp_path / "page.md"
    page.write_text(f"before\n{S.MARKERS[0]}\nold\n{S.MARKERS[1]}\nafter\n")
    assert S.main(["--from-json", str(stored), "--out", str(tmp_path / "out"), "--readme", str(page)]) == 0
    table = S.spread(runs)
    assert page.read_text() == f"before\n{S.MARKERS[0]}\n{table}\n{S.MARKERS[1]}\nafter\n"
    assert "| moving distinct keypoints | >= 6 | 5.5 | 6.7 | 7.9 | 1 of 2 |" in table
    assert "Every target met in 1 of 2 runs (seeds 0, 1)." in table
    assert (tmp_path / "out" / "demo_spread.md").read_text().startswith(
        "# The demo over seeds\n\nWritten by `python benchmarks/demo_spread.py --seeds 0 1`.")
    second = tmp_path / "second.json"                 # a spread run in parts: merged, seeds once, one recipe
    second.write_text(json.dumps({"command": "python benchmarks/demo_spread.py --seeds 2",
                                  "runs": [{**runs[0], "seed": 2}]}))
    assert S.main(["--from-json", str(stored), str(second), "--out", str(tmp_path / "merged"), "--readme", str(page),
                   "--marker", "demo-spread"]) == 0
    document = json.loads((tmp_path / "merged" / "demo_spread.json").read_text())
    assert [run["seed"] for run in document["runs"]] == [0, 1, 2] and "Every target met in 2 of 3 runs" in page.read_text()
    assert document["command"].endswith("; the parts: python benchmarks/demo_spread.py --seeds 0 1; "
                                         "python benchmarks/demo_spread.py --seeds 2")
    with pytest.raises(ValueError, match=r"seeds \[0, 1\] are in more than one"):
        S.main(["--from-json", str(stored), str(stored), "--out", str(tmp_path / "twice")])
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"command": "x", "runs": [{**runs[0], "seed": 5, "overrides": {"a": 1}}]}))
    with pytest.raises(ValueError, match="other overrides"):
        S.main(["--from-json", str(stored), str(other), "--out", str(tmp_path / "mixed")])


def test_the_training_marks_reach_the_budget_when_it_is_no_multiple_of_the_interval():
    assert T.training_marks(6, 2.5) == [2.5, 5.0, 6]
    assert T.training_marks(5, 2.5) == [2.5, 5.0]
    assert T.training_marks(1, 2.5) == [1]
    with pytest.raises(ValueError, match="--every 0"):
        T.training_marks(6, 0)


def test_the_seed_spread_counts_the_seeds_whose_last_mark_reaches_each_goal():
    def rows(iou, keypoints):
        return [{"minutes": 2.5, "epoch": 50, "silhouette_iou": 0.1, "moving_distinct_keypoints": 1, "probe_px": 9.0},
                {"minutes": 5.0, "epoch": 120, "silhouette_iou": iou, "moving_distinct_keypoints": keypoints,
                 "probe_px": 1.0}]
    results = {"demo seed 0": rows(0.86, 8.2), "demo seed 1": rows(0.80, 6.5), "demo seed 2": rows(0.60, 3.0),
               "lr seed 0": rows(0.76, 6.0)}
    spread = T.seed_spread_table(results, [("demo", 0.75, 6), ("shipped", 0.85, 8)])
    assert "| demo | 3 | 0.753 (0.600-0.860) | 5.90 (3.00-8.20) | 1.00 (1.00-1.00) | 120 (120-120) | 2 of 3 | 1 of 3 |" in spread
    assert "| lr | 1 | 0.760 (0.760-0.760) |" in spread and spread.endswith("| 1 of 1 | 0 of 1 |")
    assert T.seed_spread_table({"demo": rows(0.9, 9)}, [("demo", 0.75, 6)]) == ""
    assert T.recipe_of("occlusion-warmup-20 seed 4") == "occlusion-warmup-20"


def test_the_seed_spread_in_the_docs_is_the_stored_run():
    """docs/benchmarks.md shows results/time-to-quality-seeds' spread table as the benchmark
    writes it, and its sentences quote the stored ends."""
    stored = json.loads((REPO / "results" / "time-to-quality-seeds" / "time_to_quality.json").read_text())
    page = (REPO / "docs" / "benchmarks.md").read_text()
    block = page.split("<!-- time-to-quality-seeds:start -->\n", 1)[1].split("\n<!-- time-to-quality-seeds:end -->", 1)[0]
    assert block == T.seed_spread_table(stored["results"], T.goals()), \
        "rerun: python benchmarks/time_to_quality.py --from-json results/time-to-quality-seeds/time_to_quality.json"
    ends = {}
    for name, rows in stored["results"].items():
        ends.setdefault(T.recipe_of(name), []).append(rows[-1])
    text = " ".join(page.split())
    low = ends["lr-5e-4"]
    assert (f"every seed ended at silhouette IoU {min(e['silhouette_iou'] for e in low):.3f} or more and a probe "
            f"of at most {max(e['probe_px'] for e in low):.2f} px") in text
    demo = ends["demo"]
    assert (f"(the demo's worst: {min(e['silhouette_iou'] for e in demo):.3f} and "
            f"{max(e['probe_px'] for e in demo):.2f} px)") in text
    keypoints = [e["moving_distinct_keypoints"] for e in low]
    assert f"from {min(keypoints):.2f} to {max(keypoints):.2f}" in text
    epochs = [e["epoch"] for e in ends["occlusion-warmup-20"]]
    assert f"ended at epochs {min(epochs)}-{max(epochs)} of 120" in text
    gen = {name: rows[-1] for name, rows in stored["results"].items() if T.recipe_of(name) == "generator-5e-4"}
    assert (f"ended at IoU {gen['generator-5e-4 seed 2']['silhouette_iou']:.3f} and "
            f"{gen['generator-5e-4 seed 2']['moving_distinct_keypoints']:.2f} moving keypoints on seed 2 and "
            f"{gen['generator-5e-4 seed 4']['silhouette_iou']:.3f} and "
            f"{gen['generator-5e-4 seed 4']['moving_distinct_keypoints']:.2f} on seed 4") in text


def test_the_separation_run_in_the_docs_is_the_stored_run():
    """docs/benchmarks.md shows results/time-to-quality-separation's spread table as the benchmark
    writes it, and its sentences quote the stored ends beside the demo's."""
    stored = json.loads((REPO / "results" / "time-to-quality-separation" / "time_to_quality.json").read_text())
    demo_runs = json.loads((REPO / "results" / "time-to-quality-seeds" / "time_to_quality.json").read_text())
    page = (REPO / "docs" / "benchmarks.md").read_text()
    block = block_of(page, "time-to-quality-separation")
    assert block == T.seed_spread_table(stored["results"], T.goals()), \
        "rerun: python benchmarks/time_to_quality.py --from-json results/time-to-quality-separation/time_to_quality.json"
    text = sentences_of(page, "time-to-quality-separation")
    ends = {int(name.rsplit(" ", 1)[1]): rows[-1] for name, rows in stored["results"].items()
            if T.recipe_of(name) == "separation-1"}
    demo = {int(name.rsplit(" ", 1)[1]): rows[-1] for name, rows in demo_runs["results"].items()
            if T.recipe_of(name) == "demo"}
    assert sorted(ends) == sorted(demo) == [0, 1, 2, 3, 4] and all(end["epoch"] == 120 for end in ends.values())

    def span(rows, key, digits):
        values = [row[key] for row in rows.values()]
        return f"{min(values):.{digits}f}" + (" to " if key == "moving_distinct_keypoints" else "-") + \
            f"{max(values):.{digits}f}"
    assert f"every seed ended with {span(ends, 'moving_distinct_keypoints', 2)} moving distinct keypoints" in text
    assert all(end["distinct_keypoints"] == end["moving_distinct_keypoints"] for end in ends.values())
    assert f"the demo's recipe ended with {span(demo, 'moving_distinct_keypoints', 2)} over the same five seeds" in text
    assert (f"IoU ended at {span(ends, 'silhouette_iou', 3)} and the probe at {span(ends, 'probe_px', 2)} px (the "
            f"demo's: {span(demo, 'silhouette_iou', 3)} and {span(demo, 'probe_px', 2)} px)") in text
    assert (f"it reached IoU {ends[2]['silhouette_iou']:.3f} and {ends[4]['silhouette_iou']:.3f}") in text
    assert all(demo[seed]["moving_distinct_keypoints"] < 6 or demo[seed]["silhouette_iou"] < 0.75 for seed in (2, 4))
    met = [seed for seed, end in ends.items() if end["silhouette_iou"] >= 0.75 and end["moving_distinct_keypoints"] >= 6]
    assert f"It met the demo's two targets on {len(met)} of 5 seeds" in text
    missed = [seed for seed in ends if seed not in met]
    assert missed == [0] and f"seed 0 had all its keypoints and missed the IoU at {ends[0]['silhouette_iou']:.3f}" in text
    assert max(end["silhouette_iou"] for end in ends.values()) < 0.85
    every_row = [rows[-1] for run in ("time-to-quality-seeds", "time-to-quality-seeds-avx512")
                 for rows in json.loads((REPO / "results" / run / "time_to_quality.json").read_text())["results"].values()]
    failed = [row for row in every_row if row["silhouette_iou"] < 0.75 or row["moving_distinct_keypoints"] < 6]
    assert failed and all(row["distinct_keypoints"] == row["moving_distinct_keypoints"] for row in failed)
    assert "no earlier lever met them on more than 2" in text
    for run in ("time-to-quality-seeds", "time-to-quality-seeds-avx512"):
        met_by = {}
        for name, rows in json.loads((REPO / "results" / run / "time_to_quality.json").read_text())["results"].items():
            end = rows[-1]
            met_by.setdefault(T.recipe_of(name), []).append(end["silhouette_iou"] >= 0.75
                                                            and end["moving_distinct_keypoints"] >= 6)
        assert all(sum(values) <= 2 for values in met_by.values()), met_by


def test_gpu_peaks_name_the_chip_and_refuse_an_unknown_precision():
    import gpu_peaks as G
    assert G.chip_of("NVIDIA H200") == "H200" and G.chip_of("NVIDIA A100-SXM4-80GB") == "A100"
    assert G.peak_tflops("NVIDIA H100 80GB HBM3", "tf32") == 494.7
    assert G.peak_tflops("Tesla T4", "bf16") is None
    assert G.chip_of("NVIDIA H100 PCIe") is None and G.chip_of("NVIDIA H100 NVL") is None
    with pytest.raises(ValueError, match="precision 'fp8': expected bf16, tf32 or fp32"):
        G.peak_tflops("NVIDIA H200", "fp8")


def test_the_gpu_paragraph_is_the_stored_run():
    """docs/benchmarks.md's H200 table is the stored logs' rows, and its sentences quote them."""
    import train_step as S
    logs = REPO / "results" / "gpu-h200"
    text_of = {name: (logs / name).read_text() for name in ("train_step.log", "train_step_b64.log")}
    rows = S.read_rows(text_of["train_step.log"] + text_of["train_step_b64.log"])
    page = (REPO / "docs" / "benchmarks.md").read_text()
    block = page.split("<!-- gpu-h200:start -->\n```console\n", 1)[1].split("```\n<!-- gpu-h200:end -->", 1)[0]
    stored = [line.rstrip() for log in text_of.values() for line in log.splitlines()
              if line.startswith(("setup", "synthetic-64", "vox-256"))]
    assert block.splitlines() == [stored[0]] + [line for line in stored if not line.startswith("setup")]
    sentences = " ".join(page.split("<!-- gpu-h200-sentences:start -->", 1)[1].split("<!-- gpu-h200-sentences:end -->")[0].split())

    def row(setup, size, batch, regularizer, step):
        return next(r for r in rows if (r["setup"], r["size"], r["batch"], r["regularizer"], r["step"])
                    == (setup, size, batch, regularizer, step))
    small, large = row("synthetic-64", 64, 8, "none", "optimized"), row("synthetic-64", 64, 64, "none", "optimized")
    assert (f"took {small['ms_per_step']:.0f} ms at batch 8 and {large['ms_per_step']:.0f} ms at batch 64" in sentences
            and f"({small['samples_per_s']:.0f} against {large['samples_per_s']:.0f} samples/s), at "
                f"{small['peak_share']:.2f}% and {large['peak_share']:.2f}% of the TF32 peak" in sentences)
    vox = row("vox-256 FOMM", 128, 4, "none", "optimized")
    assert f"took {vox['ms_per_step']:.0f} ms ({vox['peak_share']:.2f}% of the peak)" in sentences
    bf16 = [r["samples_per_s"] / row(r["setup"], r["size"], r["batch"], r["regularizer"], "optimized")["samples_per_s"]
            for r in rows if r["step"] == "bf16"]
    assert f"its rows ran at {min(bf16):.2f}-{max(bf16):.2f}x the optimized float32 step" in sentences
    assert not any(r["size"] == 256 for r in rows) and "The vox-256 setup at 256 px did not print" in sentences
    training = (logs / "time_to_quality_training.log").read_text().splitlines()[-1].split()
    minutes, samples = float(training[1]), float(training[7])
    cpu = json.loads((REPO / "results" / "time-to-quality" / "time_to_quality.json").read_text())["results"]["demo"][-1]
    assert cpu["step"] == int(training[6].rstrip(",")) == 2400
    assert (f"trained in {minutes:.2f} minutes on the H200, at {samples:.1f} samples/s, against "
            f"{cpu['minutes']:.2f} minutes on 2 CPU cores") in sentences
    assert f"{cpu['minutes'] / minutes:.1f} times faster" in sentences


def test_the_readme_quotes_the_gpu_run():
    """The README's GPU sentence carries the figures docs/benchmarks.md's H200 paragraph carries."""
    text = " ".join((REPO / "README.md").read_text().split())
    docs = " ".join((REPO / "docs" / "benchmarks.md").read_text().split())
    for figure in ("trained in 2.87 minutes", "against 5.38 minutes", "took 41 ms at batch 8 and 42 ms at batch 64",
                   "0.08% and 0.62% of the TF32 peak"):
        assert figure in docs
    assert ("trained in 2.87 minutes (5.38 on the 2 cores above), and a synthetic-64 step took the same time at "
            "batch 64 as at batch 8 (42 and 41 ms, at 0.62% and 0.08% of the GPU's TF32 peak)") in text


def test_the_gpu_session_script_asks_for_what_the_benchmarks_have():
    """benchmarks/gpu_session.sh (run only where a GPU is lent) names recipes, setups and sizes
    that exist, so a lent session's minutes are not lost to a typo."""
    import shlex

    import torch
    import train_step as S
    script = (REPO / "benchmarks" / "gpu_session.sh").read_text().replace("\\\n", " ")
    commands = {line.split()[3]: shlex.split(line.split("2>&1")[0])[4:] for line in script.splitlines()
                if line.startswith("timeout ")}
    assert set(commands) == {"benchmarks/train_step.py", "benchmarks/time_to_quality.py"}
    quality = T.parse_arguments(commands["benchmarks/time_to_quality.py"])
    assert quality.device == "cuda" and quality.recipes[0] == "demo" and len(quality.recipes) == 3
    step = S.build_parser().parse_args(commands["benchmarks/train_step.py"])
    assert step.device == "cuda" and step.rounds >= 3
    assert any(row[0] in step.setups and row[1]["dataset_params"]["frame_shape"][0] in step.sizes
               for row in S.setups(torch.device("cuda"), step.batch_size, quick=False))


def test_the_usage_page_quotes_the_demos_seed_range():
    """docs/usage.md's reason for calibrating over seeds is the stored demo spread."""
    stored = json.loads((REPO / "results" / "time-to-quality-seeds" / "time_to_quality.json").read_text())
    ious = [rows[-1]["silhouette_iou"] for name, rows in stored["results"].items() if T.recipe_of(name) == "demo"]
    text = " ".join((REPO / "docs" / "usage.md").read_text().split())
    assert len(ious) == 5 and f"between silhouette IoU {min(ious):.3f} and {max(ious):.3f} over five training seeds" in text


def test_the_second_seed_run_in_the_docs_is_the_stored_run():
    """docs/benchmarks.md shows results/time-to-quality-seeds-avx512's spread as the benchmark writes
    it, and its sentences quote the stored ends of both seed runs."""
    stored = json.loads((REPO / "results" / "time-to-quality-seeds-avx512" / "time_to_quality.json").read_text())
    first = json.loads((REPO / "results" / "time-to-quality-seeds" / "time_to_quality.json").read_text())
    page = (REPO / "docs" / "benchmarks.md").read_text()
    marker = "time-to-quality-seeds-avx512"
    block = page.split(f"<!-- {marker}:start -->\n", 1)[1].split(f"\n<!-- {marker}:end -->", 1)[0]
    assert block == T.seed_spread_table(stored["results"], T.goals())
    assert stored["cpu_bf16"] != first["cpu_bf16"]                 # why --resume refused
    ends = {name: rows[-1] for name, rows in stored["results"].items()}
    assert all(end["epoch"] == 120 for end in ends.values())
    text = " ".join(page.split(f"<!-- {marker}-sentences:start -->", 1)[1].split()).replace("` ", "`")
    (_, iou, kp), = [goal for goal in T.goals() if goal[0] == "the demo's first targets"]
    for recipe in ("generator-5e-4", "warmup-10"):
        met = sum(end["silhouette_iou"] >= iou and end["moving_distinct_keypoints"] >= kp
                  for name, end in ends.items() if T.recipe_of(name) == recipe)
        assert met == 2
    assert "on 2 of 5 seeds" in text and "also met them on 2 of 5" in text
    for seed in (2, 4):
        here, there = ends[f"generator-5e-4 seed {seed}"], first["results"][f"generator-5e-4 seed {seed}"][-1]
        assert (f"{here['silhouette_iou']:.3f} and {here['moving_distinct_keypoints']:.2f}" in text
                and f"against {there['silhouette_iou']:.3f} and {there['moving_distinct_keypoints']:.2f}" in text)
    assert f"ended with {ends['warmup-10 seed 2']['moving_distinct_keypoints']:.2f} moving keypoints" in text


def test_the_seed_0_rows_in_the_docs_are_the_stored_runs():
    """docs/benchmarks.md's seed-0 block is --seed-rows of the four stored runs, and its sentences
    quote their ends."""
    names = ("separation", "separation-180", "fast-separation", "small-batch")
    documents = [json.loads((REPO / "results" / f"time-to-quality-{n}" / "time_to_quality.json").read_text())
                 for n in names]
    rows = T.seed_rows(documents, 0)
    page = (REPO / "docs" / "benchmarks.md").read_text()
    assert block_of(page, "time-to-quality-seed-0") == T.threshold_table(rows), \
        "rerun: python benchmarks/time_to_quality.py --seed-rows 0 <the four JSONs> --readme docs/benchmarks.md " \
        "--marker time-to-quality-seed-0"
    text = sentences_of(page, "time-to-quality-seed-0")
    last = {T.recipe_of(name): marks[-1] for name, marks in rows.items()}

    def quoted(recipe):
        return f"{last[recipe]['silhouette_iou']:.3f}", f"{last[recipe]['minutes']:.1f} min"
    rate = lambda r: last[r]["step"] / last[r]["minutes"]     # noqa: E731
    assert f"about {rate('batch-4-separation-1') / rate('separation-1'):.1f} times the steps a minute" in text
    assert "ended at IoU {} after 120 epochs ({})".format(*quoted("batch-4-separation-1")) in text
    assert "against {} at 8 frames ({})".format(*quoted("separation-1")) in text
    assert "{} after 180 epochs of 8 ({})".format(*quoted("separation-1-180")) in text
    assert (f"failed (IoU {last['batch-2-separation-1']['silhouette_iou']:.3f}, probe "
            f"{last['batch-2-separation-1']['probe_px']:.2f} px)") in text
    assert f"ended at {last['cosine-2e-3-separation-1']['silhouette_iou']:.3f}" in text
    assert last["cosine-2e-3-separation-1"]["moving_distinct_keypoints"] == 10
    assert "300 epochs of 8 frames ended at {} ({})".format(*quoted("separation-1-300")) in text
    mark = rows["batch-4-separation-1-240 seed 0"][-2]
    assert "240 epochs of 4 at {} ({}; {:.3f} at its {:.1f}-minute mark)".format(
        *quoted("batch-4-separation-1-240"), mark["silhouette_iou"], mark["minutes"]) in text
    assert all(mark["silhouette_iou"] < 0.85 for marks in rows.values() for mark in marks) and "No row reached 0.85" in text
    from pcutlib.experiments.demo import demo_recipe
    spread = {name: {run["seed"]: run for run in json.loads(
        (REPO / "results" / f"demo-spread-{name}" / "demo_spread.json").read_text())["runs"]}
        for name in ("batch-4-240", "separation-120")}
    iou = {name: {seed: f"{run['figures']['silhouette_iou']:.3f}" for seed, run in runs.items()}
           for name, runs in spread.items()}
    span = lambda name, key, digits: "{:.{d}f}-{:.{d}f}".format(     # noqa: E731
        min(r["figures"][key] for r in spread[name].values()), max(r["figures"][key] for r in spread[name].values()),
        d=digits)
    assert f"It ended at silhouette IoU {span('batch-4-240', 'silhouette_iou', 3)}, against " \
           f"{span('separation-120', 'silhouette_iou', 3)} for the demo with `separation-1`" in text
    assert f"seed 0 rose from {iou['separation-120'][0]} to {iou['batch-4-240'][0]}" in text
    assert (f"seeds 1 and 2 fell from {iou['separation-120'][1]} and {iou['separation-120'][2]} to "
            f"{iou['batch-4-240'][1]} and {iou['batch-4-240'][2]}") in text
    assert (f"each run took {span('batch-4-240', 'minutes', 1)} minutes instead of "
            f"{span('separation-120', 'minutes', 1)}") in text
    assert demo_recipe()["overrides"]["train_params.loss_weights.keypoint_separation"] == 1.0
    assert "train_params.batch_size" not in demo_recipe()["overrides"]
    assert "The demo keeps `separation-1`" in text


def test_seed_rows_refuse_runs_of_another_machine_or_a_row_stored_twice():
    one = {"command": "a", "cpu_bf16": "x", "threads": 2, "device": "cpu", "check_seed": 1,
           "results": {"r seed 0": [{"minutes": 1.0}], "r seed 1": [{"minutes": 1.0}]}}
    assert list(T.seed_rows([one], 0)) == ["r seed 0"]
    with pytest.raises(ValueError, match="threads"):
        T.seed_rows([one, {**one, "command": "b", "threads": 1, "results": {}}], 0)
    with pytest.raises(ValueError, match="stored in two"):
        T.seed_rows([one, {**one, "command": "b"}], 0)
    with pytest.raises(ValueError, match="no row of training seed 7"):
        T.seed_rows([one], 7)


def test_stored_spreads_are_scored_against_todays_targets():
    """An older run (no animation figure) gets it from its PriorityCut diagnosis; the table counts
    the runs that met each target and all of them."""
    import demo_spread as S

    targets = {"l1_below_copy_percent": 30, "animation_l1_below_copy_percent": 40, "moving_distinct_keypoints": 8,
               "silhouette_iou": 0.85, "minutes": 15}
    old = {"seed": 3, "figures": {"l1_below_copy_percent": 35.0, "moving_distinct_keypoints": 9.0,
                                  "silhouette_iou": 0.86, "minutes": 14.0},
           "diagnoses": {"demo pcut": {"animation_l1": 0.03, "copy_animation_l1": 0.05}}}
    scored = S.rescored(old, targets)
    assert math.isclose(scored["figures"]["animation_l1_below_copy_percent"], 40.0)
    assert all(scored["met"].values())
    slow = {**old, "figures": {**old["figures"], "minutes": 16.0, "animation_l1_below_copy_percent": 20.0}}
    assert S.rescored(slow, targets)["met"] == {**scored["met"], "minutes": False,
                                                "animation_l1_below_copy_percent": False}
    row = S.recipes_table({"two runs": [old, slow]}, targets).splitlines()[2]
    assert row.startswith("| two runs | 2 of 2 (35-35) | 1 of 2 (20-40) |") and row.endswith("| 1 of 2 |")


def documented_run(folder: str) -> tuple[dict, str]:
    """(results of results/FOLDER/time_to_quality.json, the sentences of docs/benchmarks.md's FOLDER
    block), after checking that the block is the run's threshold table."""
    results = json.loads((REPO / "results" / folder / "time_to_quality.json").read_text())["results"]
    page = (REPO / "docs" / "benchmarks.md").read_text()
    assert block_of(page, folder) == T.threshold_table(results), \
        f"rerun: python benchmarks/time_to_quality.py --from-json results/{folder}/time_to_quality.json " \
        f"--out results/{folder} --readme docs/benchmarks.md --marker {folder}"
    return results, sentences_of(page, folder)


def steps_per_minute(last: dict, recipe: str, seeds=(0, 4)) -> float:
    """A recipe's steps a minute at its last mark, averaged over the training seeds."""
    return sum(last[f"{recipe} seed {s}"]["step"] / last[f"{recipe} seed {s}"]["minutes"] for s in seeds) / len(seeds)


def test_the_narrow_networks_in_the_docs_are_the_stored_run():
    """docs/benchmarks.md's narrow-network block is the threshold table of
    results/time-to-quality-narrow/, and its sentences quote that run (and every stored run's marks)."""
    results, text = documented_run("time-to-quality-narrow")
    last = {name: marks[-1] for name, marks in results.items()}
    rate = lambda recipe: steps_per_minute(last, recipe)  # noqa: E731
    iou = lambda name, mark=-1: f"{results[name][mark]['silhouette_iou']:.3f}"  # noqa: E731
    assert f"took {rate('separation-1-narrow') / rate('separation-1'):.2f} times the steps a minute" in text
    assert all(last[f"{r} seed {s}"]["epoch"] == 120 for r in ("separation-1", "separation-1-narrow") for s in (0, 4))
    assert (f"ended at IoU {iou('separation-1-narrow seed 0')} and {iou('separation-1-narrow seed 4')} (seeds 0 and 4), "
            f"against {iou('separation-1 seed 0')} and {iou('separation-1 seed 4')} at full width") in text
    narrow, full = ([results[f"{r} seed {s}"][-1]["silhouette_iou"] for s in (0, 4)] for r in ("separation-1-narrow", "separation-1"))
    assert (narrow[0] - full[0]) * (narrow[1] - full[1]) < 0                   # "neither width ... better on both seeds"
    assert f"at full width ({float(iou('separation-1-narrow seed 0')) - float(iou('separation-1 seed 0')):+.3f} and " \
           f"{float(iou('separation-1-narrow seed 4')) - float(iou('separation-1 seed 4')):+.3f})" in text
    long = [f"separation-1-narrow-240 seed {s}" for s in (0, 4)]
    assert (f"ended at {iou(long[0])} and {iou(long[1])} after {last[long[0]]['minutes']:.1f} and "
            f"{last[long[1]]['minutes']:.1f} min") in text
    assert all(abs(results[name][1]["minutes"] - 6) < 0.1 for name in (*long, "separation-1 seed 0", "separation-1 seed 4"))
    assert (f"at 6 minutes it led on seed 0 ({iou(long[0], 1)} against {iou('separation-1 seed 0', 1)} at full width) and "
            f"trailed on seed 4 ({iou(long[1], 1)} against {iou('separation-1 seed 4', 1)})") in text
    assert results[long[0]][1]["silhouette_iou"] > results["separation-1 seed 0"][1]["silhouette_iou"]
    assert results[long[1]][1]["silhouette_iou"] < results["separation-1 seed 4"][1]["silhouette_iou"]
    assert min(m["moving_distinct_keypoints"] for m in last.values()) >= 9.99 and "ended with at least 9.99" in text
    every = [mark for path in (REPO / "results").glob("time-to-quality*/time_to_quality.json")
             for marks in json.loads(path.read_text())["results"].values() for mark in marks]
    assert len(every) > 100 and not any(m["silhouette_iou"] >= 0.85 for m in every if m["minutes"] <= 15)
    assert "No mark of any stored time-to-quality run" in text


def test_the_resolution_curriculum_in_the_docs_is_the_stored_run():
    """docs/benchmarks.md's curriculum block is the threshold table of results/time-to-quality-curriculum/,
    and its sentences quote that run."""
    results, text = documented_run("time-to-quality-curriculum")
    last = {name: marks[-1] for name, marks in results.items()}
    rate = lambda recipe: steps_per_minute(last, recipe)  # noqa: E731
    assert f"took {rate('separation-1-32px-60') / rate('separation-1'):.1f} times the steps a minute" in text
    iou = lambda name: f"{last[name]['silhouette_iou']:.3f}"  # noqa: E731
    minutes = lambda name: f"{last[name]['minutes']:.1f}"  # noqa: E731
    assert (f"(IoU {iou('separation-1-32px-60 seed 0')} after {minutes('separation-1-32px-60 seed 0')} min, against "
            f"{iou('separation-1 seed 0')} after {minutes('separation-1 seed 0')} min)") in text
    assert f"ended at {iou('separation-1-32px-60 seed 4')}, against {iou('separation-1 seed 4')}" in text
    first = {name: marks[0] for name, marks in results.items()}
    speeds = [f"{first[f'{r} seed {s}']['samples_per_s']:.{d}f}" for r, d in (("separation-1-32px-210", 0), ("separation-1", 1))
              for s in (0, 4)]
    assert f"trained {speeds[0]} and {speeds[1]} samples a second, against {speeds[2]} and {speeds[3]}" in text
    assert first["separation-1-32px-210 seed 0"]["epoch"] <= 125                      # "almost all at 32 px" (120 epochs)
    ratio = sum(first[f"separation-1 seed {s}"]["samples_per_s"] / first[f"separation-1-32px-210 seed {s}"]["samples_per_s"]
                for s in (0, 4)) / 2
    assert 0.3 < ratio < 0.4 and "about a third of the time" in text
    rest = [last[f"{r} seed 4"]["occlusion_at_rest"] for r in ("separation-1-32px-60", "separation-1-32px-210")]
    assert (f"near 0.4 ({rest[0]:.3f} and {rest[1]:.3f}; the demo's recipe: "
            f"{last['separation-1 seed 4']['occlusion_at_rest']:.3f})") in text
    assert all(abs(r - 0.4) < 0.05 for r in rest)
    assert all(first[f"{r} seed 4"]["occlusion_at_rest"] < 0.45 for r in ("separation-1-32px-60", "separation-1-32px-210"))
    assert f"lower on both seeds ({iou('separation-1-32px-210 seed 0')} and {iou('separation-1-32px-210 seed 4')})" in text
    assert all(last[f"separation-1-32px-210 seed {s}"]["silhouette_iou"] < last[f"separation-1 seed {s}"]["silhouette_iou"]
               for s in (0, 4))
    least = min(m["moving_distinct_keypoints"] for m in last.values())
    assert f"at least {least:.2f} moving keypoints" in text
    assert all(m["silhouette_iou"] < 0.85 for marks in results.values() for m in marks)


def test_training_without_region_dropout_in_the_docs_is_the_stored_run():
    """docs/benchmarks.md's no-dropout block is the threshold table of results/time-to-quality-no-dropout/,
    and its sentences quote it beside the separation-1 rows of the curriculum run."""
    results, text = documented_run("time-to-quality-no-dropout")
    before = json.loads((REPO / "results" / "time-to-quality-curriculum" / "time_to_quality.json").read_text())["results"]
    new = {s: results[f"separation-1-no-dropout seed {s}"][-1] for s in (0, 4)}
    old = {s: before[f"separation-1 seed {s}"][-1] for s in (0, 4)}
    assert all(new[s]["epoch"] == old[s]["epoch"] == 120 for s in (0, 4))
    f3 = lambda v: f"{v:.3f}"  # noqa: E731
    assert (f"seed 0 ended at IoU {f3(new[0]['silhouette_iou'])} (with it: {f3(old[0]['silhouette_iou'])}) and seed 4 at "
            f"{f3(new[4]['silhouette_iou'])} (with it: {f3(old[4]['silhouette_iou'])})") in text
    deltas = [new[s]["silhouette_iou"] - old[s]["silhouette_iou"] for s in (0, 4)]
    assert deltas[0] * deltas[1] < 0 and f"{deltas[0]:+.3f} and {deltas[1]:+.3f}" in text
    assert (f"ended {f3(abs(new[0]['silhouette_iou'] - new[4]['silhouette_iou']))} apart instead of "
            f"{f3(abs(old[0]['silhouette_iou'] - old[4]['silhouette_iou']))}") in text
    assert all(T.first_reaching(results[f"separation-1-no-dropout seed {s}"], "silhouette_iou", 0.80) <= 6.1 for s in (0, 4))
    assert all(m["moving_distinct_keypoints"] >= 9.995 for m in new.values()) and "kept 10.00 moving" in text
    assert all(m["silhouette_iou"] < 0.85 for marks in results.values() for m in marks) and "neither reached 0.85" in text


def test_two_spreads_are_compared_paired_by_training_seed(capsys):
    """--paired: each seed's difference candidate - reference, its paired t-interval, the primary
    figure (silhouette IoU) left out of Holm's correction; seeds run by one spread only are left
    out, and two spreads with no seed in common are refused by name."""
    import demo_spread as S

    def run(seed, iou, minutes):
        figures = {"l1_below_copy_percent": 40.0, "animation_l1_below_copy_percent": 41.0,
                   "moving_distinct_keypoints": 10.0, "silhouette_iou": iou, "minutes": minutes}
        return {"seed": seed, "figures": figures}

    reference = [run(s, 0.80, 6.0) for s in range(5)]
    candidate = [run(s, 0.80 + 0.01 * (s + 1), 6.0 + 0.1 * s) for s in range(4)] + [run(9, 0.5, 1.0)]
    rows = {row["key"]: row for row in S.paired_rows(reference, candidate)}
    iou = rows["silhouette_iou"]
    assert iou["seeds"] == [0, 1, 2, 3] and iou["differences"] == pytest.approx([0.01, 0.02, 0.03, 0.04])
    assert iou["mean"] == pytest.approx(0.025) and iou["low"] < 0.025 < iou["high"] and iou["p_adjusted"] == iou["p"]
    assert math.isnan(rows["moving_distinct_keypoints"]["p"])           # no difference varies: no test
    assert math.isnan(rows["minutes"]["p"]) and iou["detectable"] > 0     # no machine recorded: minutes not tested
    table = S.paired_table(list(rows.values()))
    assert table.splitlines()[2].startswith("| silhouette IoU (primary) | 0: +0.01, 1: +0.02")
    assert "| wall time (min), machines differ or unrecorded" in table          # no run recorded its machine
    machine = {"device": "CPU X", "bf16": "none", "threads": 2}
    same = S.paired_rows([{**r, "machine": machine} for r in reference], [{**r, "machine": machine} for r in candidate])
    assert "| wall time (min) |" in S.paired_table(same)
    tested = {row["key"]: row for row in same}
    assert tested["minutes"]["p_adjusted"] >= tested["minutes"]["p"] > 0            # one machine: minutes in the family
    sd, n = tested["minutes"]["sd"], tested["minutes"]["n"]
    from pcutlib.experiments.seed_statistics import minimum_detectable_difference
    assert tested["minutes"]["detectable"] == pytest.approx(minimum_detectable_difference(sd, n, alpha=0.05 / 4))
    drifted = {row["key"]: row for row in S.paired_rows([{**r, "machine": machine} for r in reference],
                                                         [{**r, "machine": machine} for r in candidate], sessions_differ=True)}
    assert math.isnan(drifted["minutes"]["p"])                         # other sessions: minutes described only
    assert "| wall time (min), other sessions of one machine kind: not the recipe's alone |" in \
        S.paired_table(list(drifted.values()))
    with pytest.raises(SystemExit):
        S.parse_arguments(["--from-json", "a.json", "--sessions-differ"])
    assert "--sessions-differ describes two spreads of --paired" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"no training seed in common: reference \[0, 1, 2, 3, 4\], candidate \[9\]"):
        S.paired_rows(reference, [run(9, 0.5, 1.0)])
    with pytest.raises(SystemExit):
        S.parse_arguments(["--paired", "a.json", "b.json", "--readme", "page.md"])
    assert "--paired with --readme needs --marker NAME" in capsys.readouterr().err


def stored_spread(folder: str) -> dict:
    """results/FOLDER/demo_spread.json: {"command", "runs"}."""
    return json.loads((REPO / "results" / folder / "demo_spread.json").read_text())


def documented_spread(name: str, runs: list[dict]) -> tuple[dict, list[dict], str]:
    """For docs/benchmarks.md's NAME blocks: checks that NAME is ``spread(runs)`` and NAME-paired the
    paired table against results/demo-spread-separation-120-rerun/ (the recipe before region
    dropout until epoch 40); returns (the paired rows by key, the reference runs,
    NAME's sentences)."""
    import demo_spread as S

    page = (REPO / "docs" / "benchmarks.md").read_text()
    reference = stored_spread("demo-spread-separation-120-rerun")["runs"]
    assert block_of(page, name) == S.spread(runs)
    rows = {row["key"]: row for row in S.paired_rows(reference, runs)}
    assert block_of(page, f"{name}-paired") == S.paired_table(list(rows.values()))
    return rows, reference, sentences_of(page, name)


def test_the_demo_spread_without_region_dropout_in_the_docs_is_the_stored_run():
    """docs/benchmarks.md: the no-dropout spread's table and its paired table against the demo's
    spread are what demo_spread.py writes from the stored runs, and the sentences quote them."""
    runs = stored_spread("demo-spread-no-dropout")["runs"]
    assert all(run["overrides"]["train_params.region_dropout"]["max"] == 0 for run in runs)
    rows, reference, text = documented_spread("demo-spread-no-dropout", runs)
    iou = rows["silhouette_iou"]
    change = dict(zip(iou["seeds"], iou["differences"]))
    assert (f"moved by {iou['mean']:+.3f} on average, 95% interval [{iou['low']:+.3f}, {iou['high']:+.3f}]: "
            f"seed 0 rose by {change[0]:.3f} and seed 1 fell by {-change[1]:.3f}") in text
    assert max(abs(change[s]) for s in (2, 3, 4)) < 0.012 and "other three moved by less than 0.012" in text
    seed_1 = next(run for run in runs if run["seed"] == 1)
    assert (f"still moved ({seed_1['figures']['moving_distinct_keypoints']:.1f} of 10), but its keypoint-to-joint probe "
            f"error was {seed_1['diagnoses']['demo pcut']['probe_px']:.2f} px") in text
    assert f"only {seed_1['figures']['animation_l1_below_copy_percent']:.1f}% below copying" in text
    assert max(run["figures"]["silhouette_iou"] for run in runs + reference) < 0.85
    assert "Every run of both spreads stayed below IoU 0.85." in text
    lacking = 0.85 - statistics.median(run["figures"]["silhouette_iou"] for run in reference)
    assert f"detect a mean IoU difference of {iou['detectable']:.3f} with 80% power" in text
    assert f"about five times the {lacking:.3f} between the demo's median IoU and 0.85" in text
    assert 4.5 < iou["detectable"] / lacking < 5.5
    minutes = lambda spread: [run["figures"]["minutes"] for run in spread]   # noqa: E731
    assert f"took {min(minutes(runs)):.1f}-{max(minutes(runs)):.1f} minutes against " \
           f"{min(minutes(reference)):.2f}-{max(minutes(reference)):.2f}" in text
    assert "demo keeps its region dropout as the default: without it one seed in five lost the body" in text
    from pcutlib.experiments.demo import demo_recipe
    assert demo_recipe()["overrides"]["train_params.region_dropout"]["max"] > 0


def test_the_demo_spread_with_a_shorter_region_dropout_in_the_docs_is_the_stored_run():
    """docs/benchmarks.md: the spread with region dropout for 40 epochs is the merge of its two parts,
    its tables are what demo_spread.py writes, and the sentences quote them and the adoption rule."""
    import demo_spread as S

    parts = [stored_spread("demo-spread-dropout-40"), stored_spread("demo-spread-dropout-40-seeds-2-4")]
    merged = stored_spread("demo-spread-dropout-40-five-seeds")
    assert merged["runs"] == parts[0]["runs"] + parts[1]["runs"]
    assert sorted(run["seed"] for run in merged["runs"]) == [0, 1, 2, 3, 4]
    assert all(run["overrides"]["train_params.region_dropout"]["until_epoch"] == 40 for run in merged["runs"])
    rows, reference, text = documented_spread("demo-spread-dropout-40", merged["runs"])
    iou = rows["silhouette_iou"]
    change = dict(zip(iou["seeds"], iou["differences"]))
    assert (f"moved by {iou['mean']:+.3f} on average, 95% interval [{iou['low']:+.3f}, {iou['high']:+.3f}]"
            f" (p {iou['p']:.2g})") in text
    assert f"from {min(change.values()):+.3f} to {max(change.values()):+.3f}" in text
    met = lambda runs, key: sum(S.rescored(run, S.demo_recipe()["targets"])["met"][key] for run in runs)  # noqa: E731
    passes = (iou["mean"] > 0 and min(change.values()) > -0.02
              and all(met(merged["runs"], key) >= met(reference, key) for key in S.TARGET_KEYS))
    assert ("It meets the rule." if passes else "It does not meet the rule.") in text
    assert max(run["figures"]["silhouette_iou"] for run in merged["runs"]) < 0.85 and "None reached 0.85" in text
    assert all(d > 0 for d in change.values()) and "every seed rose" in text
    without = {run["seed"]: run for run in stored_spread("demo-spread-no-dropout")["runs"]}
    assert change[1] > 0 and without[1]["figures"]["silhouette_iou"] < 0.6       # seed 1 lost the body without it
    animation = [met(spread, "animation_l1_below_copy_percent") for spread in (merged["runs"], reference)]
    assert f"met in {animation[0]} runs instead of {animation[1]}" in text
    curriculum = json.loads((REPO / "results" / "time-to-quality-curriculum" / "time_to_quality.json").read_text())["results"]
    for seed in (0, 4):                  # the same recipe and seed gave the same model on both machines
        here = curriculum[f"separation-1 seed {seed}"][-1]["silhouette_iou"]
        there = next(run for run in reference if run["seed"] == seed)["diagnoses"]["demo recon"]["silhouette_iou"]
        assert abs(here - there) < 5e-4 and f"{there:.3f}" in text
    assert iou["low"] < 0 and "the interval includes 0" in text
    assert f"the median change is {statistics.median(change.values()):+.3f}" in text
    animation_row = rows["animation_l1_below_copy_percent"]
    assert (f"did not move ({animation_row['mean']:+.2f} points, [{animation_row['low']:+.2f}, "
            f"{animation_row['high']:+.2f}])") in text and animation_row["low"] < 0 < animation_row["high"]
    before, after = ({r["seed"]: r["figures"]["animation_l1_below_copy_percent"] for r in spread}
                     for spread in (reference, merged["runs"]))
    crossed = [s for s in change if (before[s] >= 40) != (after[s] >= 40)]
    assert crossed == [0] and f"only seed 0 crossed 40%, from {before[0]:.1f}% to {after[0]:.1f}%" in text
    from pcutlib.experiments.demo import demo_recipe           # taken by the demo
    assert demo_recipe()["overrides"]["train_params.region_dropout"] == merged["runs"][0]["overrides"]["train_params.region_dropout"]
    assert "`configs/recipes/demo.yaml` has taken it" in text
    choices = " ".join((REPO / "docs" / "choices.md").read_text().split())
    assert (f"over five whole demo runs every seed's silhouette IoU rose, by {min(change.values()):.3f} to "
            f"{max(change.values()):.3f}") in choices


def test_where_the_demo_loses_its_iou_while_it_trains_is_the_stored_run():
    """docs/benchmarks.md's time-to-quality-iou-split sentences quote the stored marks of the demo's
    reconstruction phase (results/time-to-quality-iou-split/) and the shipped model's diagnosis."""
    from pcutlib.config import load_config
    from pcutlib.experiments.demo import demo_recipe

    stored = json.loads((REPO / "results" / "time-to-quality-iou-split" / "time_to_quality.json").read_text())
    rows = [stored["results"][f"separation-1-dropout-40 seed {seed}"] for seed in (0, 4)]
    recipe = read_recipe("time_to_quality")["recipes"]["separation-1-dropout-40"]["overrides"]
    assert recipe == demo_recipe()["overrides"]                     # the demo's recipe today
    text = sentences_of((REPO / "docs" / "benchmarks.md").read_text(), "time-to-quality-iou-split")
    after = [next(row for row in marks if row["epoch"] > 72) for marks in rows]   # the first drop: epoch 72
    assert load_config("synthetic-64")["train_params"]["epoch_milestones"][0] == 72
    assert "from the first mark after it (epochs {} and {}) to the end (epoch 120) it rose by {:.3f} and {:.3f}".format(
        after[0]["epoch"], after[1]["epoch"], *(marks[-1]["silhouette_iou"] - row["silhouette_iou"]
                                               for marks, row in zip(rows, after))) in text
    assert all(0 <= marks[-1]["silhouette_iou"] - row["silhouette_iou"] < 0.005 for marks, row in zip(rows, after))
    end = [marks[-1] for marks in rows]
    assert all(row["epoch"] == 120 for row in end)
    assert ("the warped source alone reached {:.3f} and {:.3f}, and the generator at rest {:.3f} and {:.3f}".format(
        end[0]["warped_source_silhouette_iou"], end[1]["warped_source_silhouette_iou"],
        end[0]["silhouette_iou_at_rest"], end[1]["silhouette_iou_at_rest"])) in text
    shipped = json.loads((REPO / "results" / "diagnosis-shipped.json").read_text())
    assert (f"The shipped model, at IoU {shipped['silhouette_iou']:.3f} after 500 epochs, reaches "
            f"{shipped['warped_source_silhouette_iou']:.3f} and {shipped['silhouette_iou_at_rest']:.3f}") in text
    assert all(row["warped_source_silhouette_iou"] < shipped["warped_source_silhouette_iou"]
               and row["silhouette_iou_at_rest"] < shipped["silhouette_iou_at_rest"] for row in end)


def test_the_late_learning_rate_drops_in_the_docs_are_the_stored_run():
    """docs/benchmarks.md's time-to-quality-late-drops sentences quote the last marks of both stored
    runs of seeds 0 and 4 (later drops against the demo's recipe), and the recipe differs only there."""

    recipes = read_recipe("time_to_quality")["recipes"]
    late, demo = (recipes[name]["overrides"] for name in ("separation-1-dropout-40-late-drops", "separation-1-dropout-40"))
    assert {k: v for k, v in late.items() if k != "train_params.epoch_milestones"} == demo
    assert late["train_params.epoch_milestones"] == [96, 112]
    end = {}
    for name, folder in (("late", "time-to-quality-late-drops"), ("demo", "time-to-quality-iou-split")):
        results = json.loads((REPO / "results" / folder / "time_to_quality.json").read_text())["results"]
        recipe = "separation-1-dropout-40" + ("-late-drops" if name == "late" else "")
        end[name] = [results[f"{recipe} seed {seed}"][-1] for seed in (0, 4)]
        assert all(row["epoch"] == 120 for row in end[name])
    text = sentences_of((REPO / "docs" / "benchmarks.md").read_text(), "time-to-quality-late-drops")
    figure = lambda name, key: [row[key] for row in end[name]]              # noqa: E731
    assert "Seed 0 ended at IoU {:.3f} instead of {:.3f} and seed 4 at {:.3f} instead of {:.3f}".format(
        figure("late", "silhouette_iou")[0], figure("demo", "silhouette_iou")[0],
        figure("late", "silhouette_iou")[1], figure("demo", "silhouette_iou")[1]) in text
    changes = [a - b for a, b in zip(figure("late", "silhouette_iou"), figure("demo", "silhouette_iou"))]
    assert changes[0] > 0 > changes[1] and abs(changes[0] + changes[1]) < 0.002 and "one up, one down by as much" in text
    assert "The generator at rest gained on both seeds ({:.3f} and {:.3f}, against {:.3f} and {:.3f})".format(
        *figure("late", "silhouette_iou_at_rest"), *figure("demo", "silhouette_iou_at_rest")) in text
    assert all(a > b for a, b in zip(figure("late", "silhouette_iou_at_rest"), figure("demo", "silhouette_iou_at_rest")))
    warped = figure("late", "warped_source_silhouette_iou"), figure("demo", "warped_source_silhouette_iou")
    assert f"the warped source only on seed 0 ({warped[0][0]:.3f} on both, against {warped[1][0]:.3f} and " \
           f"{warped[1][1]:.3f})" in text
    assert f"{warped[0][0]:.3f}" == f"{warped[0][1]:.3f}" and warped[0][0] > warped[1][0] and warped[0][1] < warped[1][1]
    assert "The later drops are not taken" in text


def test_the_six_levers_in_the_docs_are_the_stored_run():
    """docs/benchmarks.md's time-to-quality-levers blocks are the stored run's threshold table and its
    rows beside the demo's recipe (results/time-to-quality-kept/); each lever is the demo's recipe
    with its own keys only, and the sentences quote the stored marks and the seed-to-seed spread."""
    from statistics import NormalDist

    import demo_spread as S

    results, text = documented_run("time-to-quality-levers")
    reference = json.loads((REPO / "results" / "time-to-quality-kept" / "time_to_quality.json").read_text())["results"]
    page = (REPO / "docs" / "benchmarks.md").read_text()
    assert block_of(page, "time-to-quality-levers-against") == T.against_table(results, reference, "separation-1-dropout-40")
    recipes = read_recipe("time_to_quality")["recipes"]
    demo = recipes["separation-1-dropout-40"]["overrides"]
    own = {"beta1-0.9": {"train_params.adam_beta1": 0.9},
           "equivariance-10": {"train_params.loss_weights.equivariance_value": 10,
                               "train_params.loss_weights.equivariance_jacobian": 10},
           "kp-15": {"model_params.common_params.num_kp": 15},
           "decoder-32": {"model_params.generator_params.block_expansion": 32},
           "motion-64px-narrow": {"model_params.generator_params.dense_motion_params.scale_factor": 1.0,
                                  "model_params.generator_params.dense_motion_params.block_expansion": 8},
           "frame-gap-40": {"train_params.frame_gap": {"start": 4, "end": 31, "ramp_epochs": 40}}}
    for lever, keys in own.items():
        assert recipes[f"separation-1-dropout-40-{lever}"]["overrides"] == {**demo, **keys}, lever
    assert all(rows[-1]["epoch"] == 120 for rows in results.values())
    assert all(mark["silhouette_iou"] < 0.85 for rows in results.values() for mark in rows)
    assert "No mark of any lever reached IoU 0.85" in text

    def end(lever, seed):
        return results[f"separation-1-dropout-40-{lever} seed {seed}"][-1]

    def base(seed):
        return reference[f"separation-1-dropout-40 seed {seed}"][-1]

    def change(lever, seed, key="silhouette_iou"):
        return end(lever, seed)[key] - base(seed)[key]

    fell = [lever for lever in own if change(lever, 0) < 0]
    assert fell == ["beta1-0.9", "equivariance-10", "kp-15", "decoder-32"]
    assert all(f"separation-1-dropout-40-{lever} seed 4" not in results for lever in fell[1:])   # stopped after seed 0
    assert (f"Adam's first moment at 0.9 by {-change('beta1-0.9', 0):.3f} (and by {-change('beta1-0.9', 4):.3f} "
            f"on seed 4)") in text
    assert (f"equivariance weights of 10 by {-change('equivariance-10', 0):.3f} (probe "
            f"{end('equivariance-10', 0)['probe_px']:.2f} px against {base(0)['probe_px']:.2f})") in text
    assert (f"15 keypoints by {-change('kp-15', 0):.3f} (probe {end('kp-15', 0)['probe_px']:.2f} px, "
            f"{end('kp-15', 0)['moving_distinct_keypoints']:.2f} moving keypoints of 15)") in text
    assert (f"the wide decoder by {-change('decoder-32', 0):.3f}, in {end('decoder-32', 0)['minutes']:.1f} minutes "
            f"instead of {base(0)['minutes']:.1f}, though it gained at rest "
            f"({end('decoder-32', 0)['silhouette_iou_at_rest']:.3f} against {base(0)['silhouette_iou_at_rest']:.3f})") in text
    assert change("decoder-32", 0, "silhouette_iou_at_rest") > 0
    motion = [change("motion-64px-narrow", seed) for seed in (0, 4)]
    ratio = sum(end("motion-64px-narrow", s)["minutes"] for s in (0, 4)) / sum(base(s)["minutes"] for s in (0, 4))
    assert (f"rose on seed 0 ({motion[0]:+.3f}) and fell on seed 4 ({motion[1]:+.3f}), and its 120 epochs took "
            f"{end('motion-64px-narrow', 0)['minutes']:.1f} and {end('motion-64px-narrow', 4)['minutes']:.1f} "
            f"minutes, {ratio:.1f} times the reference's") in text
    gap = [change("frame-gap-40", seed) for seed in (0, 4)]
    assert all(g > 0 for g in gap)
    assert (f"rose on both seeds, to {end('frame-gap-40', 0)['silhouette_iou']:.3f} and "
            f"{end('frame-gap-40', 4)['silhouette_iou']:.3f} ({gap[0]:+.3f} and {gap[1]:+.3f}), in about the "
            f"reference's minutes ({end('frame-gap-40', 0)['minutes']:.1f} and {end('frame-gap-40', 4)['minutes']:.1f}, "
            f"against {base(0)['minutes']:.1f} and {base(4)['minutes']:.1f}), its probe finer on seed 0 "
            f"({end('frame-gap-40', 0)['probe_px']:.2f} px against {base(0)['probe_px']:.2f})") in text
    assert all(abs(end("frame-gap-40", s)["minutes"] / base(s)["minutes"] - 1) < 0.1 for s in (0, 4))
    # the power of one seed: the spread of per-seed differences between the two region-dropout demo spreads
    merged = stored_spread("demo-spread-dropout-40-five-seeds")["runs"]
    rows = {row["key"]: row for row in S.paired_rows(stored_spread("demo-spread-separation-120-rerun")["runs"], merged)}
    spread = statistics.stdev(rows["silhouette_iou"]["differences"])
    median = statistics.median(run["figures"]["silhouette_iou"] for run in merged)
    assert f"the per-seed IoU differences have a standard deviation of {spread:.3f}" in text
    assert f"the demo's median run ({median:.3f}) past 0.85" in text and median < 0.85 < median + 0.04
    assert (f"about {NormalDist().cdf(-0.04 / spread):.0%} of the time (normal approximation), and one that lifted "
            f"it by 0.01 about {NormalDist().cdf(-0.01 / spread):.0%} of the time") in text
    assert all(g < spread for g in gap) and "the curriculum's two gains are smaller than that spread" in text
    readme = " ".join((REPO / "README.md").read_text().split())
    assert (f"none reached IoU 0.85 at any mark; only the curriculum rose on both seeds tried ({gap[0]:+.3f} and "
            f"{gap[1]:+.3f})") in readme
    assert [lever for lever in own if f"separation-1-dropout-40-{lever} seed 4" in results
            and change(lever, 0) > 0 and change(lever, 4) > 0] == ["frame-gap-40"]
    # the curriculum's five-seed demo spread, seeds 0 and 1 so far, against the demo's recipe of today
    candidate = {run["seed"]: run["figures"] for run in stored_spread("demo-spread-frame-gap-40")["runs"]}
    today = {run["seed"]: run["figures"] for run in merged}
    assert sorted(candidate) == [0, 1]
    assert all(run["overrides"]["train_params.frame_gap"] == own["frame-gap-40"]["train_params.frame_gap"]
               for run in stored_spread("demo-spread-frame-gap-40")["runs"])
    iou = [candidate[s]["silhouette_iou"] for s in (0, 1)]
    assert (f"IoU ended at {iou[0]:.3f} and {iou[1]:.3f}, against {today[0]['silhouette_iou']:.3f} and "
            f"{today[1]['silhouette_iou']:.3f} with the demo's recipe "
            f"({iou[0] - today[0]['silhouette_iou']:+.3f} and {iou[1] - today[1]['silhouette_iou']:+.3f})") in text
    assert max(iou) < 0.85
    assert (f"seed 1's animation L1 ended {candidate[1]['animation_l1_below_copy_percent']:.1f}% below copying the "
            f"source (the demo's recipe: {today[1]['animation_l1_below_copy_percent']:.1f}%, the target 40%)") in text
    assert candidate[1]["animation_l1_below_copy_percent"] < 40 <= today[1]["animation_l1_below_copy_percent"]
    assert (f"Seed 0's {candidate[0]['minutes']:.1f} minutes are not the recipe's" in text
            and f"seed 1 took {candidate[1]['minutes']:.1f} minutes (the demo's recipe: {today[1]['minutes']:.1f})" in text)


def test_the_demo_recipe_before_and_after_on_the_avx2_kind_is_the_stored_run():
    """docs/benchmarks.md's time-to-quality-before-after-avx2 block is the stored run's threshold
    table; its two recipes are synthetic-64 as it is and the demo's reconstruction phase today, the
    run was on a CPU without native bf16, and the sentences quote its last marks and, for the step
    time, the same recipe's seed-0 run on the AVX512-BF16 kind (results/time-to-quality-kept/)."""
    from pcutlib.experiments.demo import demo_recipe

    folder = "time-to-quality-before-after-avx2"
    results, text = documented_run(folder)
    stored = json.loads((REPO / "results" / folder / "time_to_quality.json").read_text())
    assert "no AMX or AVX512-BF16" in stored["cpu_bf16"] and stored["threads"] == 2 and stored["check_seed"] == 1
    recipes = read_recipe("time_to_quality")["recipes"]
    assert list(results) == ["demo", "separation-1-dropout-40"]
    assert recipes["demo"]["overrides"] == {}
    assert recipes["separation-1-dropout-40"]["overrides"] == demo_recipe()["overrides"]
    before, after = (results[name][-1] for name in results)
    assert all(14.5 < row["minutes"] < 15.5 for row in (before, after))
    assert before["epoch"] < 120 == after["epoch"]
    assert (f"`demo` stopped at epoch {before['epoch']} and `separation-1-dropout-40` at epoch "
            f"{after['epoch']}, its last") in text
    seconds = lambda row: 60 * row["minutes"] / row["step"]               # noqa: E731
    kept = json.loads((REPO / "results" / "time-to-quality-kept" / "time_to_quality.json").read_text())
    fast = kept["results"]["separation-1-dropout-40 seed 0"][-1]
    assert "avx512_bf16" in kept["cpu_bf16"] and fast["epoch"] == 120
    assert (f"{seconds(after):.2f} s a step against {seconds(fast):.2f} s on the AVX512-BF16 kind, where its "
            f"120 epochs took {fast['minutes']:.1f} minutes") in text
    for name, row in (("`demo`", before), ("today's recipe", after)):
        assert (f"{name} at IoU {row['silhouette_iou']:.3f} with {row['moving_distinct_keypoints']:.2f} moving "
                f"distinct keypoints (probe {row['probe_px']:.2f} px)") in text
    assert before["copy_silhouette_iou"] == after["copy_silhouette_iou"]          # the same held-out videos
    assert (f"copying the source scores IoU {after['copy_silhouette_iou']:.3f} and the mean pose "
            f"{after['mean_pose_px']:.2f} px") in text
    reached = {name: (T.first_reaching(rows, "moving_distinct_keypoints", 8),
                      T.first_reaching(rows, "silhouette_iou", 0.80)) for name, rows in results.items()}
    assert math.isnan(reached["demo"][0]) and math.isnan(reached["demo"][1])
    keypoints, iou = reached["separation-1-dropout-40"]
    assert keypoints == results["separation-1-dropout-40"][0]["minutes"] and iou == after["minutes"]
    assert (f"held 8 moving keypoints from its first mark ({keypoints:.1f} minutes) and reached IoU 0.80 only "
            f"at its last; the old one reached neither, and neither reached IoU 0.85") in text
    assert all(mark["silhouette_iou"] < 0.85 for rows in results.values() for mark in rows)
    assert f"today's recipe on the AVX512-BF16 kind ended at IoU {fast['silhouette_iou']:.3f}" in text


def avx2_demo_reference() -> dict:
    """The demo recipe's last marks on the kind without native bf16, by training seed: seed 0 from
    results/time-to-quality-before-after-avx2 (the run the replay reproduced), seeds 2-4 the demo
    spread's reconstruction models as results/iou-by-part diagnosed them."""
    parts = json.loads((REPO / "results" / "iou-by-part" / "iou_by_part.json").read_text())["models"]
    before = json.loads((REPO / "results" / "time-to-quality-before-after-avx2" / "time_to_quality.json").read_text())
    return {0: before["results"]["separation-1-dropout-40"][-1], **{seed: parts[f"demo seed {seed}"] for seed in (2, 3, 4)}}


def test_the_wider_separation_kernel_on_four_seeds_is_the_stored_run():
    """docs/benchmarks.md's time-to-quality-sigma-avx2 block is the stored run's threshold table (the
    demo's recipe with keypoint_separation_sigma 0.2, seeds 0 and 4, then 2 and 3 resumed, on a CPU
    without native bf16); its sentences pair each seed's last mark with the demo's recipe on the
    same kind (seed 0: the before/after run; seeds 2-4: the demo spread's reconstruction models, as
    results/iou-by-part diagnosed them) and quote the paired t-interval and detectable change."""
    from pcutlib.experiments.demo import demo_recipe
    from pcutlib.experiments.seed_statistics import minimum_detectable_difference, paired_t

    folder = "time-to-quality-sigma-avx2"
    results, text = documented_run(folder)
    stored = json.loads((REPO / "results" / folder / "time_to_quality.json").read_text())
    assert "no AMX or AVX512-BF16" in stored["cpu_bf16"] and stored["threads"] == 2 and stored["check_seed"] == 1
    assert "resumed by" in stored["command"]
    recipe = "separation-1-dropout-40-sigma-0.2"
    assert read_recipe("time_to_quality")["recipes"][recipe]["overrides"] == {
        **demo_recipe()["overrides"], "train_params.keypoint_separation_sigma": 0.2}
    seeds = (0, 2, 3, 4)
    assert sorted(results) == sorted(f"{recipe} seed {seed}" for seed in seeds)
    last = {seed: results[f"{recipe} seed {seed}"][-1] for seed in seeds}
    assert all(row["epoch"] == 120 for row in last.values())                  # each schedule ran to its end
    parts = json.loads((REPO / "results" / "iou-by-part" / "iou_by_part.json").read_text())["models"]
    reference = {seed: row["silhouette_iou"] for seed, row in avx2_demo_reference().items()}
    assert reference[0] == pytest.approx(parts["demo seed 0"]["silhouette_iou"], abs=5e-4)   # one model, two commands
    differences = [last[seed]["silhouette_iou"] - reference[seed] for seed in seeds]
    paired = paired_t(differences)
    detectable = minimum_detectable_difference(paired["sd"], len(seeds))
    best = max(mark["silhouette_iou"] for rows in results.values() for mark in rows)
    assert best < 0.85
    ious = ", ".join(f"{last[seed]['silhouette_iou']:.3f}" for seed in seeds)
    assert (f"wider kernel ended its 120 epochs at IoU {ious} "
            f"(seeds 0, 2, 3 and 4) against {', '.join(f'{reference[s]:.3f}' for s in seeds)}: changes of "
            f"{', '.join(f'{d:+.3f}' for d in differences)}, a mean of {paired['mean']:+.3f} (95% t-interval "
            f"[{paired['low']:+.3f}, {paired['high']:+.3f}], p = {paired['p']:.3f}, four seeds), where "
            f"{detectable:.3f} is the smallest change these seeds detect with 80% power at their spread. No mark of "
            f"any seed reached IoU 0.85 (the best: {best:.3f}).") in text



SCREENS = {  # folder: (recipe, its override beside the demo's, the run's --minutes)
    "time-to-quality-moving-avx2": ("separation-1-dropout-40-moving-100",
                                    {"train_params.loss_weights.pixel_pyramid_moving": 100}, 18),
    "time-to-quality-pyramid-4-avx2": ("separation-1-dropout-40-pyramid-4",
                                       {"train_params.scales": [1, 0.5, 0.25, 0.125]}, 21),
}


@pytest.mark.parametrize("folder", list(SCREENS))
def test_a_screened_lever_on_seed_0_is_the_stored_run(folder):
    """docs/benchmarks.md's block of each lever screened on seed 0 alone (the moving-pixel weight, the
    fourth pyramid scale) is the stored run's threshold table, and its sentences set the last mark,
    stopped by the run's budget, beside the demo recipe's run on the same CPU kind."""
    from pcutlib.config import load_config
    from pcutlib.experiments.demo import demo_recipe

    recipe, override, minutes = SCREENS[folder]
    results, text = documented_run(folder)
    stored = json.loads((REPO / "results" / folder / "time_to_quality.json").read_text())
    assert "no AMX or AVX512-BF16" in stored["cpu_bf16"] and stored["threads"] == 2 and stored["check_seed"] == 1
    assert f"--minutes {minutes} " in stored["command"] and "resumed" not in stored["command"]
    assert read_recipe("time_to_quality")["recipes"][recipe]["overrides"] == {**demo_recipe()["overrides"], **override}
    assert list(results) == [f"{recipe} seed 0"]
    rows = results[f"{recipe} seed 0"]
    last, near = rows[-1], rows[-2]
    before = json.loads((REPO / "results" / "time-to-quality-before-after-avx2" / "time_to_quality.json").read_text())
    reference = before["results"]["separation-1-dropout-40"]
    ref_last, ref_near = reference[-1], reference[-2]
    seconds = lambda row: 60 * row["minutes"] / row["step"]               # noqa: E731
    assert ref_last["epoch"] == 120 and ref_near["epoch"] == 96 and last["step"] == 20 * last["epoch"]
    assert (f"Seed 0 stopped at epoch {last['epoch']} of 120, where its {minutes}-minute budget ended: "
            f"{seconds(last):.3f} s a step, against {seconds(ref_last):.3f} s") in text
    assert f"(120 epochs in {ref_last['minutes']:.1f} minutes" in text
    train = load_config(REPO / "configs" / "synthetic-64.yaml")["train_params"]
    last_rate = train["lr_generator"] * 0.1 ** len(train["epoch_milestones"])
    assert train["num_epochs"] == 120 and max(train["epoch_milestones"]) < last["epoch"]
    missed = ["no", "one", "two", "three", "four", "five", "six"][120 - last["epoch"]]
    assert f"missed {missed} epochs at the last rate, {last_rate:.0e}".replace("e-05", "e-5") in text
    assert (f"It ended at IoU {last['silhouette_iou']:.3f} against the demo recipe's {ref_last['silhouette_iou']:.3f} "
            f"at epoch 120 (at epochs {near['epoch']} and {ref_near['epoch']}: {near['silhouette_iou']:.3f} and "
            f"{ref_near['silhouette_iou']:.3f}), its pose probe at {last['probe_px']:.2f} px against "
            f"{ref_last['probe_px']:.2f}, the warped source alone at {last['warped_source_silhouette_iou']:.3f} "
            f"against {ref_last['warped_source_silhouette_iou']:.3f}, the generator at rest at "
            f"{last['silhouette_iou_at_rest']:.3f} against {ref_last['silhouette_iou_at_rest']:.3f}.") in text
    assert last["silhouette_iou"] < ref_last["silhouette_iou"] and "It fell, so seed 4 was stopped" in text
    assert all(mark["silhouette_iou"] < 0.85 for mark in rows)
    page = " ".join((REPO / "docs" / "benchmarks.md").read_text().split())        # the hands' share the first
    assert "(33-40% of each model's gap)" in page and "the hands, 33-40% of each demo model's gap above" in page  # quotes


def test_the_fourth_scale_run_follows_the_moving_weight_run():
    """The pyramid-4 sentences quote the moving weight's seconds a step, the run just before it."""
    moving = json.loads((REPO / "results" / "time-to-quality-moving-avx2" / "time_to_quality.json").read_text())
    last = moving["results"]["separation-1-dropout-40-moving-100 seed 0"][-1]
    text = sentences_of((REPO / "docs" / "benchmarks.md").read_text(), "time-to-quality-pyramid-4-avx2")
    assert f"and {60 * last['minutes'] / last['step']:.3f} s in the moving weight's run just before it" in text
    assert "1.48 px against 1.14" in read_recipe("time_to_quality")["recipes"]["separation-1-dropout-40-pyramid-4"]["note"]
    assert f"{last['probe_px']:.2f}" == "1.48"


def test_the_demo_recipe_replays_on_the_avx2_kind():
    """docs/benchmarks.md's time-to-quality-replay-avx2 block: the demo's recipe on seed 0 trained again
    on the kind without native bf16 ends with every diagnose figure of the earlier run's last mark
    (the screens' reference) equal; its sentences quote the count, the figures, the clocks and the
    screens' changes."""
    folder = "time-to-quality-replay-avx2"
    results, text = documented_run(folder)
    stored = json.loads((REPO / "results" / folder / "time_to_quality.json").read_text())
    assert "no AMX or AVX512-BF16" in stored["cpu_bf16"] and stored["threads"] == 2
    last = results["separation-1-dropout-40 seed 0"][-1]
    before = json.loads((REPO / "results" / "time-to-quality-before-after-avx2" / "time_to_quality.json").read_text())
    reference = before["results"]["separation-1-dropout-40"][-1]
    clock = {"minutes", "mark", "samples_per_s"}
    assert set(last) == set(reference) and last["epoch"] == reference["epoch"] == 120
    equal = [key for key in reference if key not in clock and last[key] == reference[key]]
    assert len(equal) == len(reference) - len(clock)
    seconds = lambda row: 60 * row["minutes"] / row["step"]               # noqa: E731
    assert (f"every one of the {len(equal)} figures diagnose stores for the last mark equal, to the last stored digit, "
            f"to those of `results/time-to-quality-before-after-avx2/` (IoU {last['silhouette_iou']:.3f}, probe "
            f"{last['probe_px']:.2f} px, warped source {last['warped_source_silhouette_iou']:.3f}, at rest "
            f"{last['silhouette_iou_at_rest']:.3f}); only the clock differed: {last['minutes']:.1f} minutes against "
            f"{reference['minutes']:.1f} ({seconds(last):.3f} s a step against {seconds(reference):.3f})") in text
    changes = [results_of[f"{recipe} seed 0"][-1]["silhouette_iou"] - reference["silhouette_iou"]
               for results_of, recipe in ((documented_run(f)[0], SCREENS[f][0]) for f in SCREENS)]
    assert all(change < 0 for change in changes)
    assert f"the two screens' seed-0 changes ({changes[0]:.3f} and {changes[1]:.3f})" in text


def test_the_two_scale_pyramid_is_the_stored_run():
    """docs/benchmarks.md's time-to-quality-pyramid-2-avx2 block is the stored run's threshold table (the
    demo's recipe with the pixel pyramid at scales 1 and 0.5 on the kind without native bf16); its
    sentences pair each stored seed's last mark with the demo's recipe on that kind (seed 0: the run
    the replay reproduced; seeds 2-4: the demo spread's reconstruction models as results/iou-by-part
    diagnosed them)."""
    from pcutlib.experiments.demo import demo_recipe

    folder = "time-to-quality-pyramid-2-avx2"
    results, text = documented_run(folder)
    stored = json.loads((REPO / "results" / folder / "time_to_quality.json").read_text())
    assert "no AMX or AVX512-BF16" in stored["cpu_bf16"] and stored["threads"] == 2 and stored["check_seed"] == 1
    recipe = "separation-1-dropout-40-pyramid-2"
    assert read_recipe("time_to_quality")["recipes"][recipe]["overrides"] == {
        **demo_recipe()["overrides"], "train_params.scales": [1, 0.5]}
    seeds = [int(name.rsplit(" ", 1)[1]) for name in results]
    assert seeds[:2] == [0, 4] and all(name == f"{recipe} seed {seed}" for name, seed in zip(results, seeds))
    last = {seed: results[f"{recipe} seed {seed}"][-1] for seed in seeds}
    assert all(row["epoch"] == 120 for row in last.values())
    reference = avx2_demo_reference()
    before = json.loads((REPO / "results" / "time-to-quality-before-after-avx2" / "time_to_quality.json").read_text())
    listed = lambda rows, key, form="{:.3f}": ", ".join(form.format(rows[s][key]) for s in seeds)  # noqa: E731
    names = " and ".join(str(s) for s in seeds) if len(seeds) == 2 else ", ".join(map(str, seeds[:-1])) + f" and {seeds[-1]}"
    changes = {s: last[s]["silhouette_iou"] - reference[s]["silhouette_iou"] for s in seeds}
    assert (f"the two scales ended their 120 epochs at IoU {listed(last, 'silhouette_iou')} (seeds {names}) against "
            f"{listed(reference, 'silhouette_iou')}: changes of {', '.join(f'{changes[s]:+.3f}' for s in seeds)}. "
            f"The warped source alone ended at {listed(last, 'warped_source_silhouette_iou')} against "
            f"{listed(reference, 'warped_source_silhouette_iou')}, the generator at rest at "
            f"{listed(last, 'silhouette_iou_at_rest')} against {listed(reference, 'silhouette_iou_at_rest')}.") in text
    if len(seeds) >= 3:
        from pcutlib.experiments.seed_statistics import minimum_detectable_difference, paired_t

        paired = paired_t(list(changes.values()))
        detectable = minimum_detectable_difference(paired["sd"], len(seeds))
        count = {3: "three", 4: "four"}[len(seeds)]
        assert (f"Over the {count} seeds the mean change is {paired['mean']:+.3f} (95% t-interval [{paired['low']:+.3f}, "
                f"{paired['high']:+.3f}], p = {paired['p']:.3f}), where {detectable:.3f} is the smallest change {count} "
                f"seeds of this spread detect with 80% power.") in text
        page = " ".join((REPO / "docs" / "benchmarks.md").read_text().split())
        verdict = "not yet evidence" if paired["low"] > 0 else "not evidence"
        assert f"Bonferroni correction makes that p = {min(1.0, 3 * paired['p']):.2f}: {verdict}" in page
        assert ("interval excludes zero, narrowly" in page) == (paired["low"] > 0)
        assert ("brought it to include zero" in page) == (paired["low"] <= 0)
        if len(seeds) == 4:
            ends = [row["silhouette_iou"] for row in last.values()]
            theirs = [reference[s]["silhouette_iou"] for s in seeds]
            top = max(seeds, key=lambda s: reference[s]["silhouette_iou"])
            assert top == 3 and changes[3] < 0 and all(changes[s] > 0 for s in seeds if s != 3)
            first = paired_t([changes[s] for s in seeds[:3]])
            assert first["low"] > 0 and (f"Over seeds 0, 4 and 2 the interval had excluded zero ({first['low']:+.3f} to "
                                         f"{first['high']:+.3f}, p {first['p']:.3f}); seed 3") in page
            assert (f"Seed 3, the demo recipe's best of the four, fell by {-changes[3]:.3f}: the two scales ended every seed "
                    f"between {min(ends):.3f} and {max(ends):.3f}, where the demo's recipe spread from "
                    f"{min(theirs):.3f} to {max(theirs):.3f}.") in page
            assert stored["command"].count("resumed by") == 2
    zero = results[f"{recipe} seed 0"]
    passed = next(mark for mark in zero if mark["silhouette_iou"] >= 0.80)
    ref_rows = before["results"]["separation-1-dropout-40"]
    assert next(mark for mark in ref_rows if mark["silhouette_iou"] >= 0.80) is ref_rows[-1]
    assert (f"Seed 0 passed IoU 0.80 at its {passed['minutes']:.1f}-minute mark (epoch {passed['epoch']}), where the "
            f"demo recipe's run passed it only at its last (epoch 120, {ref_rows[-1]['minutes']:.1f} minutes)") in text
    best = max(mark["silhouette_iou"] for rows in results.values() for mark in rows)
    assert best < 0.85 and f"reached 0.85 (the best: {best:.3f})" in text
    assert all(changes[s] > 0 for s in (0, 4, 2))
