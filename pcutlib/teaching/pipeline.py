"""The pipeline diagram of notebook 2: FOMM's boxes labelled with the shapes of a real forward pass,
so that it stays true when the model changes.
"""
from __future__ import annotations

import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# (x, y, text, notebooks that teach it), in the diagram's own units (x 0..14, y 0..4.4).
PIPELINE_NODES = {
    "source": (0.8, 3.7, "source S", (1, 2)),
    "driving": (0.8, 0.7, "driving D", (1, 2)),
    "kp_detector": (3.1, 2.2, "keypoint detector\nheatmaps -> p_k, J_k", (2,)),
    "dense_motion": (6.1, 2.2, "dense motion\nT_k(z) = p^S + J_k (z - p^D)\nregions R, occlusion O", (1, 2, 3)),
    "generator": (9.1, 2.2, "generator: encode S,\nwarp by T, multiply by O,\ndecode (inpaint)", (3,)),
    "prediction": (11.3, 3.7, "prediction G", (3, 7)),
    "mask": (11.3, 0.7, "mask M (1 = real pixel)\nPriorityCut: top-k% by O\nCutMix: a random box", (4, 5)),
    "unet": (13.4, 2.2, "U-Net discriminator\none logit per image\n+ one per pixel", (4, 5, 6)),
}


PIPELINE_EDGES = [  # (from, to, arc)
    ("source", "kp_detector", 0.0), ("driving", "kp_detector", 0.0), ("kp_detector", "dense_motion", 0.0),
    ("source", "dense_motion", -0.2), ("source", "generator", -0.2), ("dense_motion", "generator", 0.0),
    ("generator", "prediction", 0.0), ("dense_motion", "mask", 0.15), ("driving", "mask", 0.08),
    ("prediction", "mask", 0.0), ("mask", "unet", 0.0), ("prediction", "unet", 0.0), ("driving", "unet", 0.12),
]


def pipeline_shapes(models, image_size: int = 64) -> dict:
    """What each box of the pipeline diagram returns, from one forward pass of ``models`` on a
    blank batch of 1: the names and shapes the library really gives (so the diagram stays true)."""
    image = torch.zeros(1, 3, image_size, image_size)
    with torch.no_grad():
        kp = models.kp_detector(image)
        out = models.generator(image, kp_source=kp, kp_driving=kp)
        shape = lambda name, tensor: f"{name} {tuple(tensor.shape)}"                     # noqa: E731
        outputs = {"kp_detector": [shape(k, v) for k, v in kp.items()],
                   "dense_motion": [shape(k, out[k]) for k in ("deformation", "region_mask", "occlusion_map")
                                    if k in out],
                   "generator": [shape("prediction", out["prediction"])],
                   "mask": [shape("M", out["prediction"][:, :1])]}
        discriminator = getattr(models, "discriminator", None)
        if discriminator is not None and hasattr(discriminator, "up_blocks"):         # the U-Net one
            verdict = discriminator(out["prediction"])
            outputs["unet"] = [shape("logit", verdict["logit"]), shape("pixel_logits", verdict["pixel_logits"])]
    return {name: "\n".join(lines) for name, lines in outputs.items()}


def pipeline_figure(highlight=(), models=None, image_size: int = 64) -> Figure:
    """FOMM + PriorityCut as boxes and arrows; the boxes a notebook teaches in colour.

    highlight: notebook numbers (e.g. ``(5,)``) whose parts are coloured; models: a
    ``pcutlib.models.build.Models`` to write under each box what it returns, with shapes, from one
    forward pass (:func:`pipeline_shapes`).
    """
    outputs = pipeline_shapes(models, image_size) if models is not None else {}
    highlight = {int(n) for n in (highlight if isinstance(highlight, (tuple, list, set)) else (highlight,))}
    figure = Figure(figsize=(12.5, 3.9))
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.3, 14.9)
    ax.set_ylim(-0.6, 4.35)
    ax.axis("off")
    boxes = {}
    for name, (x, y, text, notebooks) in PIPELINE_NODES.items():
        lit = bool(highlight & set(notebooks)) or not highlight
        width, height = (1.3, 0.5) if "\n" not in text else (2.55, 0.95)
        patch = FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.04",
                               facecolor="#ffe9a8" if lit else "#f0f0f0", edgecolor="black" if lit else "#aaaaaa",
                               linewidth=1.2 if lit else 0.8, zorder=2)
        ax.add_patch(patch)
        ax.text(x, y, text, ha="center", va="center", fontsize=8, color="black" if lit else "#777777", zorder=3)
        if name in outputs:
            ax.text(x, y - height / 2 - 0.08, outputs[name], ha="center", va="top", fontsize=6.5,
                    color="#1f4e9c", zorder=3)
        boxes[name] = patch
    for start, end, arc in PIPELINE_EDGES:
        ax.add_patch(FancyArrowPatch(posA=PIPELINE_NODES[start][:2], posB=PIPELINE_NODES[end][:2],
                                     patchA=boxes[start], patchB=boxes[end], arrowstyle="-|>", mutation_scale=10,
                                     connectionstyle=f"arc3,rad={arc}", linewidth=0.9, color="#555555", zorder=1))
    ax.text(11.3, -0.5, "mixed = M * D + (1 - M) * G  ->  U-Net D", ha="center", fontsize=7.5, family="monospace")
    if highlight:
        numbers = sorted(highlight)
        which = (f"notebook {numbers[0]} takes" if len(numbers) == 1
                 else f"notebooks {', '.join(map(str, numbers[:-1]))} and {numbers[-1]} take")
        ax.text(-0.2, 4.2, f"coloured: what {which} apart (one box per notebook)"
                + ("; blue: what each box returns (shapes from the loaded model)" if outputs else ""),
                fontsize=8, va="top")
    return figure
