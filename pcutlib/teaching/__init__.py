"""What the notebooks call to draw and to set up: one module per notebook (``warping_lesson``,
``motion_lesson``, ``occlusion_lesson``, ``mixing_lesson`` for notebooks 4-5, ``training_lesson``
for notebooks 6-7), the shared ``common`` (paths, the shipped model, the synthetic world's truth),
``drawing``, ``pipeline`` and ``widgets``.

The notebooks compute with the library (``pcutlib.models``, ``pcutlib.prioritycut``,
``pcutlib.evaluation.diagnose`` for every measurement) and use this package only to *draw* and
for plumbing that would otherwise be copied between notebooks. They import it as
``from pcutlib import teaching`` and call ``teaching.<name>``: the names below are that interface.
"""
from pcutlib.teaching.common import (repository_root, config_file, shipped_model_path, github_slug,
    badge_links, model_label, load_shipped_model, synthetic_video, true_disocclusion, synthetic_frames,
    figure_labels, SHIPPED_DIAGNOSIS, PRIORITYCUT_DIAGNOSIS, shipped_diagnosis)
from pcutlib.teaching.drawing import (to_numpy_image, show_images, shared_vmax, KEYPOINT_LABEL_SIZE,
    draw_keypoints, figure_png, checkerboard, GENERATED_COLOUR, TRUTH_COLOUR, outline, mask_legend)
from pcutlib.teaching.pipeline import PIPELINE_NODES, PIPELINE_EDGES, pipeline_shapes, pipeline_figure
from pcutlib.teaching.warping_lesson import (affine_jacobian, local_affine_warp, affine_warp_figure,
    AFFINE_CASES, affine_small_multiples, tps_figure)
from pcutlib.teaching.motion_lesson import region_colours, region_figure, region_small_multiples, flow_figure
from pcutlib.teaching.occlusion_lesson import most_occluded, artifact_map
from pcutlib.teaching.mixing_lesson import (DEFAULT_CUTMIX_SEED, discriminator_maps, toy_prioritycut_inputs,
    prioritycut_counts, mixed_panel, prioritycut_figure, prioritycut_small_multiples, cutmix_figure)
from pcutlib.teaching.training_lesson import (CHANCE_LOSS, loss_figure, TRAINING_PHASES,
    notebook_training_config, FITTING_SECTIONS, shipped_model_fits, training_summary,
    compare_with_copy_baseline, pose_probe_for, read_run_metrics, metrics_table, animation_html)
from pcutlib.teaching.exercises import ExerciseNotWritten, check_exercise, fill_stubs
from pcutlib.teaching.widgets import (WIDE_LABEL, figure_widget, sweep_widget, affine_warp_widget,
    region_widget, prioritycut_widget)

__all__ = [
    "ExerciseNotWritten",
    "check_exercise",
    "fill_stubs",
    "repository_root",
    "config_file",
    "shipped_model_path",
    "github_slug",
    "badge_links",
    "model_label",
    "load_shipped_model",
    "synthetic_video",
    "true_disocclusion",
    "synthetic_frames",
    "figure_labels",
    "SHIPPED_DIAGNOSIS",
    "PRIORITYCUT_DIAGNOSIS",
    "shipped_diagnosis",
    "to_numpy_image",
    "show_images",
    "shared_vmax",
    "KEYPOINT_LABEL_SIZE",
    "draw_keypoints",
    "figure_png",
    "checkerboard",
    "GENERATED_COLOUR",
    "TRUTH_COLOUR",
    "outline",
    "mask_legend",
    "PIPELINE_NODES",
    "PIPELINE_EDGES",
    "pipeline_shapes",
    "pipeline_figure",
    "affine_jacobian",
    "local_affine_warp",
    "affine_warp_figure",
    "AFFINE_CASES",
    "affine_small_multiples",
    "tps_figure",
    "region_colours",
    "region_figure",
    "region_small_multiples",
    "flow_figure",
    "most_occluded",
    "artifact_map",
    "DEFAULT_CUTMIX_SEED",
    "discriminator_maps",
    "toy_prioritycut_inputs",
    "prioritycut_counts",
    "mixed_panel",
    "prioritycut_figure",
    "prioritycut_small_multiples",
    "cutmix_figure",
    "CHANCE_LOSS",
    "loss_figure",
    "TRAINING_PHASES",
    "notebook_training_config",
    "FITTING_SECTIONS",
    "shipped_model_fits",
    "training_summary",
    "compare_with_copy_baseline",
    "pose_probe_for",
    "read_run_metrics",
    "metrics_table",
    "animation_html",
    "WIDE_LABEL",
    "figure_widget",
    "sweep_widget",
    "affine_warp_widget",
    "region_widget",
    "prioritycut_widget",
]
