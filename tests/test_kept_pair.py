"""The revealed recipe with the warped source kept and the flow resized corner-aligned from its
first step: docs/choices.md's table and sentences against results/calibration.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import block_of, sentences_of

from pcutlib.experiments import calibration

REPO = Path(__file__).resolve().parent.parent
RECIPE = "small-motion+full-res-long+revealed-1-plain-rest"
KEPT = RECIPE + "+keep-visible+aligned"
FINE_TUNE = "+pc-warm30-pixel-head"


def calibration_rows() -> list[dict]:
    return [json.loads(line) for line in (REPO / "results" / "calibration.jsonl").read_text().splitlines()]


def seed_row(rows: list[dict], variant: str, seed: int) -> dict:
    """The latest record of ``variant`` with training seed ``seed``."""
    found = [r for r in rows if r["variant"] == variant and r.get("seed", 0) == seed]
    assert found, f"no record of {variant} seed {seed}"
    return found[-1]


def _targets_met(row: dict) -> int:
    """How many of pcut diagnose's targets a calibration record meets (all ten measured)."""
    from pcutlib.evaluation.diagnose import Diagnosis
    from pcutlib.evaluation.targets import TARGETS

    diagnosis = Diagnosis(**{k: v for k, v in row.items() if k in Diagnosis.__dataclass_fields__})
    verdicts = [target.met(diagnosis) for target in TARGETS.values()]
    assert None not in verdicts and len(verdicts) == 10
    return sum(verdicts)


def f3(value: float) -> str:
    return f"{value:.3f}"


def test_the_kept_recipe_in_choices_md_is_the_record():
    """'The warped source kept from the first step': occlusion_levers() of the revealed recipe, the
    kept recipe and their fine-tunes (seed 0), and every figure its sentences quote."""
    rows = calibration_rows()
    page = (REPO / "docs" / "choices.md").read_text()
    block = block_of(page, "occlusion-levers-revealed-kept")
    variants = [line.split(" | ")[0].lstrip("| ") for line in block.splitlines()[2:]]
    assert variants == [RECIPE, RECIPE + FINE_TUNE, KEPT, KEPT + FINE_TUNE]
    assert block == calibration.occlusion_levers(rows, variants, calibration.SILHOUETTE_COLUMNS)
    revealed, revealed_tuned, kept, tuned = (seed_row(rows, v, 0) for v in variants)
    assert kept["steps"] == revealed["steps"] == 10000 and kept["world"] == revealed["world"]
    assert kept["videos"] == revealed["videos"]
    text = sentences_of(page, "occlusion-levers-revealed-kept")
    continued = seed_row(rows, "revealed+keep-visible+aligned-100", 0)
    assert (f"In training seed 0 the blend raised the IoU in motion from {f3(revealed['silhouette_iou'])} to "
            f"{f3(kept['silhouette_iou'])} (after the fine-tune: {f3(revealed_tuned['silhouette_iou'])} to "
            f"{f3(tuned['silhouette_iou'])}), where 100 epochs with the same flags from the revealed model had left it at "
            f"{f3(continued['silhouette_iou'])}") in text
    assert (f"gives the frame back at rest at IoU {f3(kept['silhouette_iou_at_rest'])}, O at rest is "
            f"{f3(kept['occlusion_at_rest'])} ({f3(revealed['occlusion_at_rest'])} without the flags) and the reconstruction "
            f"L1 falls from {revealed['reconstruction_l1']:.4f} to {kept['reconstruction_l1']:.4f}") in text
    assert (f"The keypoints stay spread ({kept['moving_distinct_keypoints']:.2f} moving, against "
            f"{revealed['moving_distinct_keypoints']:.2f}) and the pose probe reads them more finely "
            f"({f3(kept['probe_px'])} px, against {f3(revealed['probe_px'])})") in text
    assert (f"O ranks the foreground's dis-occlusion at {f3(kept['occlusion_auc_foreground'])} with a lift of "
            f"{kept['mask_lift']:.2f} ({f3(revealed['occlusion_auc_foreground'])} and {revealed['mask_lift']:.2f}) and figure "
            f"pixels at {f3(kept['occlusion_auc_figure'])} ({f3(revealed['occlusion_auc_figure'])}): the blend leaves O's "
            f"ranking where the revealed term put it") in text
    assert abs(kept["occlusion_auc_figure"] - revealed["occlusion_auc_figure"]) < 0.01
    assert (f"The warped source's IoU, {f3(kept['warped_source_silhouette_iou'])}, is below the prediction's" in text
            and kept["warped_source_silhouette_iou"] < kept["silhouette_iou"])
    assert (f"The fine-tune's pixel head ranks the true dis-occlusion at {f3(tuned['d_pixel_auc_true_disocclusion'])} (the "
            f"revealed pair's: {f3(revealed_tuned['d_pixel_auc_true_disocclusion'])}); O at rest falls to "
            f"{f3(tuned['occlusion_at_rest'])} and figure pixels to {f3(tuned['occlusion_auc_figure'])}") in text
    assert (f"The run took {kept['minutes']:.1f} minutes on 2 cores (the revealed recipe: {revealed['minutes']:.1f}); the "
            f"fine-tune was stopped once and resumed, so its minutes are not recorded") in text
    assert tuned["minutes"] != tuned["minutes"]                             # nan: not recorded
    second, second_tuned, revealed_second = (seed_row(rows, v, 1) for v in (KEPT, KEPT + FINE_TUNE, RECIPE))
    revealed_second_tuned = seed_row(rows, RECIPE + FINE_TUNE, 1)
    assert second["steps"] == 10000 and second["videos"] == kept["videos"]
    assert (f"it ended at IoU {f3(second['silhouette_iou'])} (the revealed recipe's seed 1: "
            f"{f3(revealed_second['silhouette_iou'])}) and its keypoints collapsed to "
            f"{second['moving_distinct_keypoints']:.2f} moving ({revealed_second['moving_distinct_keypoints']:.2f}), below the "
            f"target of 8; its fine-tune ended at {f3(second_tuned['silhouette_iou'])} and "
            f"{second_tuned['moving_distinct_keypoints']:.2f}") in text
    assert second["moving_distinct_keypoints"] < 8 <= revealed_second["moving_distinct_keypoints"]
    moved = {key: [seed_row(rows, KEPT, s)[key] - seed_row(rows, RECIPE, s)[key] for s in (0, 1)]
             for key in ("silhouette_iou", "moving_distinct_keypoints", "probe_px", "occlusion_at_rest",
                         "occlusion_auc_foreground", "reconstruction_l1", "animation_l1")}
    pair = lambda key, digits: " and ".join(f"{v:+.{digits}f}" for v in moved[key])      # noqa: E731
    assert (f"the flags moved the IoU by {pair('silhouette_iou', 3)} and the moving keypoints by "
            f"{pair('moving_distinct_keypoints', 2)}; what repeated is the pose probe ({pair('probe_px', 3)} px), O at "
            f"rest ({pair('occlusion_at_rest', 3)}), O inside the foreground ({pair('occlusion_auc_foreground', 3)}), the "
            f"reconstruction L1 ({pair('reconstruction_l1', 4)}) and the animation L1 ({pair('animation_l1', 4)}, against "
            f"{kept['copy_animation_l1']:.4f} for copying the source)") in text
    assert moved["silhouette_iou"][0] > 0 > moved["silhouette_iou"][1]                  # "did not repeat"
    assert all(v < 0 for key in ("probe_px", "reconstruction_l1", "animation_l1") for v in moved[key])
    assert all(v > 0 for key in ("occlusion_at_rest", "occlusion_auc_foreground") for v in moved[key])
    met = [_targets_met(r) for r in (tuned, second_tuned, revealed_tuned, revealed_second_tuned)]
    assert f"the kept recipe's fine-tunes meet {met[0]} and {met[1]}, the revealed recipe's {met[2]} and {met[3]}" in text


def test_the_readme_kept_pair_is_what_pcut_diagnose_writes():
    """The kept pair's ingredients table and targets lines are what ``pcut diagnose`` writes and
    prints for results/diagnosis-revealed-kept*.json, the paragraph after them quotes those files,
    the revealed pair's fine-tune and the recipe's second training seed, and docs/usage.md names
    the row's minutes."""
    import re

    from pcutlib.evaluation.diagnose import Diagnosis, ingredients_markers, ingredients_table
    from pcutlib.evaluation.targets import targets_line

    readme = (REPO / "README.md").read_text()
    reconstruction, tuned, revealed_tuned = (
        Diagnosis(**json.loads((REPO / "results" / f"diagnosis-{name}.json").read_text()))
        for name in ("revealed-kept", "revealed-kept-prioritycut", "revealed-prioritycut"))
    start, end = ingredients_markers("ingredients-revealed-kept")
    assert readme.split(start + "\n", 1)[1].split("\n" + end, 1)[0] == ingredients_table(
        tuned, "synthetic-64-revealed-kept-prioritycut.pt"), "rerun the pcut diagnose commands of docs/usage.md, 'The kept pair'"
    lines = (targets_line("synthetic-64-revealed-kept.pt", reconstruction) + "\n"
             + targets_line("synthetic-64-revealed-kept-prioritycut.pt", tuned))
    assert f"```text\n{lines}\n```" in readme
    counted = re.match(r"synthetic-64-revealed-kept-prioritycut\.pt: targets met (\d+) of (\d+); missed: "
                       r"occlusion_auc_figure \S+ \(target >= 0\.75\)$", lines.splitlines()[1])
    assert counted, lines                                    # every target measured, only figure pixels missed
    met, measured = counted.groups()
    text = " ".join(readme.split())
    assert (f"So in one model trained without ground truth, O marks what must be invented inside the foreground "
            f"({tuned.occlusion_auc_foreground:.3f}, above the no-model rule's {tuned.rule_auc_foreground:.3f}), the mask's "
            f"lift is {tuned.mask_lift:.2f} and the discriminator's pixel head ranks the true dis-occlusion at "
            f"{tuned.d_pixel_auc_true_disocclusion:.3f}, with {tuned.moving_distinct_keypoints:.1f} moving keypoints, a "
            f"probe of {tuned.probe_px:.2f} px (the silhouette statistics: {tuned.silhouette_probe_px:.2f}), silhouette "
            f"IoU {tuned.silhouette_iou:.3f} and O at rest {tuned.occlusion_at_rest:.3f}: {met} of the {measured} "
            f"targets. Figure pixels miss by {0.75 - tuned.occlusion_auc_figure:.2f}.") in text
    assert (f"The revealed pair's fine-tune, the same recipe without the two flags and the same training seed, ended at "
            f"IoU {revealed_tuned.silhouette_iou:.3f}.") in text
    assert tuned.occlusion_auc_foreground > tuned.rule_auc_foreground
    rows = calibration_rows()
    row = seed_row(rows, KEPT, 0)
    assert abs(row["silhouette_iou"] - reconstruction.silhouette_iou) < 1e-3 and row["videos"] == reconstruction.videos
    second, second_tuned = (seed_row(rows, v, 1) for v in (KEPT, KEPT + FINE_TUNE))
    revealed = [seed_row(rows, RECIPE, s) for s in (0, 1)]
    revealed_tuned_met = [_targets_met(seed_row(rows, RECIPE + FINE_TUNE, s)) for s in (0, 1)]
    assert (f"The kept recipe's second training seed did not repeat the IoU's gain ({f3(second['silhouette_iou'])}; the "
            f"revealed recipe's seed 1: {f3(revealed[1]['silhouette_iou'])}) and its keypoints collapsed to "
            f"{second['moving_distinct_keypoints']:.1f} moving, so its fine-tune meets {_targets_met(second_tuned)} of the 10 "
            f"targets (the revealed recipe's two fine-tunes: {revealed_tuned_met[0]} and {revealed_tuned_met[1]}).") in text
    assert second["silhouette_iou"] < revealed[1]["silhouette_iou"] and second["moving_distinct_keypoints"] < 8
    assert (f"training seed 0 clears the IoU target ({f3(row['silhouette_iou'])}); its second seed reaches "
            f"{f3(second['silhouette_iou'])} with fewer keypoints (below)") in text
    assert row["silhouette_iou"] >= 0.85 and second["moving_distinct_keypoints"] < row["moving_distinct_keypoints"]
    kept = [row, second]
    assert (f"What repeated in both seeds: a finer probe ({f3(kept[0]['probe_px'])} and {f3(kept[1]['probe_px'])} px, against "
            f"{f3(revealed[0]['probe_px'])} and {f3(revealed[1]['probe_px'])}), O at rest {f3(kept[0]['occlusion_at_rest'])} "
            f"and {f3(kept[1]['occlusion_at_rest'])} ({f3(revealed[0]['occlusion_at_rest'])} and "
            f"{f3(revealed[1]['occlusion_at_rest'])}) and the reconstruction L1 {kept[0]['reconstruction_l1']:.4f} and "
            f"{kept[1]['reconstruction_l1']:.4f} ({revealed[0]['reconstruction_l1']:.4f} and "
            f"{revealed[1]['reconstruction_l1']:.4f})") in text
    assert all(k["probe_px"] < r["probe_px"] and k["occlusion_at_rest"] > r["occlusion_at_rest"]
               and k["reconstruction_l1"] < r["reconstruction_l1"] for k, r in zip(kept, revealed))
    usage = " ".join((REPO / "docs" / "usage.md").read_text().split())
    assert f"`{KEPT}`, {row['minutes']} min on 2 cores)" in usage
