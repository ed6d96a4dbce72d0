"""What the notebooks call to draw and to set up: one module per notebook (``warping_lesson``,
``motion_lesson``, ``occlusion_lesson``, ``mixing_lesson`` for notebooks 4-5, ``training_lesson``
for notebooks 6-7), the shared ``common`` (paths, the shipped model, the synthetic world's truth),
``drawing``, ``pipeline`` and ``widgets``.

The notebooks compute with the library (``pcutlib.models``, ``pcutlib.prioritycut``,
``pcutlib.evaluation.diagnose`` for every measurement) and use this package only to *draw* and
for plumbing that would otherwise be copied between notebooks. They import it as
``from pcutlib import teaching`` and call ``teaching.<name>``: the names below are that interface.
"""
from pcutlib.teaching.common import (PRIORITYCUT_DIAGNOSIS, SHIPPED_DIAGNOSIS, badge_links, config_file, figure_labels,
                                     github_slug, load_shipped_model, model_label, repository_root, shipped_diagnosis,
                                     shipped_model_path, synthetic_frames, synthetic_video, true_disocclusion)
from pcutlib.teaching.drawing import (GENERATED_COLOUR, KEYPOINT_LABEL_SIZE, TRUTH_COLOUR, checkerboard, draw_keypoints,
                                      figure_png, mask_legend, outline, shared_vmax, show_images, to_numpy_image)
from pcutlib.teaching.exercises import ExerciseNotWritten, check_exercise, fill_stubs
from pcutlib.teaching.mixing_lesson import (DEFAULT_CUTMIX_SEED, cutmix_figure, discriminator_maps, mixed_panel,
                                            prioritycut_counts, prioritycut_figure, prioritycut_small_multiples,
                                            toy_prioritycut_inputs)
from pcutlib.teaching.motion_lesson import flow_figure, region_colours, region_figure, region_small_multiples
from pcutlib.teaching.occlusion_lesson import artifact_map, most_occluded
from pcutlib.teaching.pipeline import PIPELINE_EDGES, PIPELINE_NODES, pipeline_figure, pipeline_shapes
from pcutlib.teaching.training_lesson import (CHANCE_LOSS, FITTING_SECTIONS, TRAINING_PHASES, animation_html,
                                              compare_with_copy_baseline, loss_figure, metrics_table,
                                              notebook_training_config, pose_probe_for, read_run_metrics,
                                              shipped_model_fits, training_summary)
from pcutlib.teaching.warping_lesson import (AFFINE_CASES, affine_jacobian, affine_small_multiples, affine_warp_figure,
                                             local_affine_warp, tps_figure)
from pcutlib.teaching.widgets import (WIDE_LABEL, affine_warp_widget, figure_widget, prioritycut_widget, region_widget,
                                      sweep_widget)

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
