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
    seed_gap = abs(revealed["silhouette_iou"] - seed_row(rows, RECIPE, 1)["silhouette_iou"])
    continued = seed_row(rows, "revealed+keep-visible+aligned-100", 0)
    assert (f"raised the IoU in motion from {f3(revealed['silhouette_iou'])} to {f3(kept['silhouette_iou'])} (after the "
            f"fine-tune: {f3(revealed_tuned['silhouette_iou'])} to {f3(tuned['silhouette_iou'])}), where the revealed "
            f"recipe's two training seeds ended {f3(seed_gap)} apart and 100 epochs with the same flags from the revealed "
            f"model left it at {f3(continued['silhouette_iou'])}") in text
    assert kept["silhouette_iou"] - revealed["silhouette_iou"] > 5 * seed_gap
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
