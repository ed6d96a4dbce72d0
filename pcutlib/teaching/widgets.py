"""The notebooks' sliders. Every widget is a ``*_widget`` function around a ``*_figure`` function
and has a static twin (``*_small_multiples``) that a rendered notebook shows without a kernel;
:func:`sweep_widget` moves every slider to its ends, so that the tests see an error inside a
widget callback.
"""
from __future__ import annotations

import numpy as np
import torch

from pcutlib.teaching.drawing import figure_png
from pcutlib.teaching.mixing_lesson import DEFAULT_CUTMIX_SEED, prioritycut_figure
from pcutlib.teaching.motion_lesson import region_figure
from pcutlib.teaching.warping_lesson import affine_warp_figure

WIDE_LABEL = {"description_width": "initial"}     # show the whole slider name


def _slider(description: str, value: float, low: float, high: float, step: float):
    import ipywidgets

    return ipywidgets.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                                  continuous_update=False, style=WIDE_LABEL)


def figure_widget(draw, **sliders):
    """``ipywidgets.interactive`` showing ``draw(**slider values)`` (a Figure) as a PNG.

    Uses only APIs common to ipywidgets 7 and 8. ``widget.draw`` is ``draw`` itself (tests
    call it), and ``widget.sliders`` the slider widgets by argument name.
    """
    import ipywidgets
    from IPython.display import Image, display

    def show(**values):
        display(Image(data=figure_png(draw(**values))))

    widget = ipywidgets.interactive(show, **sliders)
    widget.draw = draw
    widget.sliders = sliders
    return widget


def sweep_widget(widget, points: int = 3) -> int:
    """Call ``widget.draw`` with every slider at ``points`` values from min to max, one at a time.

    Exceptions propagate (ipywidgets itself would only print them into the output area).
    Returns the number of figures drawn.
    """
    defaults = {name: slider.value for name, slider in widget.sliders.items()}
    drawn = 0
    for name, slider in widget.sliders.items():
        for value in np.linspace(slider.min, slider.max, points):
            widget.draw(**{**defaults, name: type(slider.value)(value)})
            drawn += 1
    return drawn


def affine_warp_widget(image: torch.Tensor):
    """Sliders for p^D (x, y), rotation, scale and the jacobian entries of one keypoint."""
    return figure_widget(
        lambda **v: affine_warp_figure(image, **v),
        driving_x=_slider("p_D x", 0.0, -0.8, 0.8, 0.05), driving_y=_slider("p_D y", 0.0, -0.8, 0.8, 0.05),
        rotation=_slider("rotation (deg)", 0.0, -180.0, 180.0, 5.0), scale=_slider("scale", 1.0, 0.25, 2.0, 0.05),
        j11=_slider("J11", 1.0, -2.0, 2.0, 0.1), j12=_slider("J12", 0.0, -2.0, 2.0, 0.1),
        j21=_slider("J21", 0.0, -2.0, 2.0, 0.1), j22=_slider("J22", 1.0, -2.0, 2.0, 0.1))


def region_widget(source, driving, generated, kp_source, kp_driving):
    """A slider choosing which keypoint's motion and region to show."""
    import ipywidgets

    num_kp = kp_source["value"].shape[1]
    return figure_widget(lambda keypoint: region_figure(source, driving, generated, kp_source, kp_driving,
                                                        keypoint),
                         keypoint=ipywidgets.IntSlider(value=0, min=0, max=num_kp - 1, description="keypoint k",
                                                       continuous_update=False, style=WIDE_LABEL))


def prioritycut_widget(driving, prediction, occlusion_map, region_mask, truth: torch.Tensor | None = None):
    """Sliders for top_k_percent and foreground_threshold (and the CutMix seed); ``truth`` (H,W)
    bool, the true dis-occlusion, is outlined on the PriorityCut mix when given."""
    import ipywidgets

    return figure_widget(
        lambda **v: prioritycut_figure(driving, prediction, occlusion_map, region_mask, truth=truth, **v),
        top_k_percent=_slider("top_k_percent", 10.0, 0.0, 100.0, 1.0),
        foreground_threshold=_slider("foreground_threshold", 0.5, 0.0, 1.0, 0.05),
        cutmix_seed=ipywidgets.IntSlider(value=DEFAULT_CUTMIX_SEED, min=0, max=20, description="CutMix seed",
                                         continuous_update=False, style=WIDE_LABEL))
