"""A procedural world of articulated figures that trains on a laptop CPU.

Each identity is a stick-and-capsule figure (torso, head, two arms and two legs with
two segments each, hands) with its own proportions and colours; each video moves it
with smooth sinusoidal joint angles, sways it (translation, rotation, scale) in front of
a smooth, static, low-frequency background, and swings the arms in front of and behind
the torso (the draw order changes over time), so that the occlusion map has something
to learn. Ground-truth keypoints are the joint positions.

Rendering is vectorized numpy: every part is a capsule signed-distance field,
covered with a one-pixel anti-aliasing ramp, and painted back to front per frame.

Colour rule (makes keypoints checkable): background chroma (max - min of RGB) stays
<= BACKGROUND_MAX_CHROMA while every figure pixel has chroma >= FIGURE_MIN_CHROMA, so a
pixel fully covered by the figure differs from the background by at least
(FIGURE_MIN_CHROMA - BACKGROUND_MAX_CHROMA) / 2 in some channel. Every keypoint lies
inside its capsule, hence on such a pixel.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from tqdm import tqdm

from pcutlib.models.keypoints import pixels_to_keypoints
from pcutlib.data.video_io import TRUTH_SUFFIX, keypoints_path

JOINT_NAMES = ("head", "neck", "right_shoulder", "right_elbow", "right_hand",
               "left_shoulder", "left_elbow", "left_hand", "right_hip", "right_knee",
               "right_foot", "left_hip", "left_knee", "left_foot")
J = {name: i for i, name in enumerate(JOINT_NAMES)}
BACKGROUND_MAX_CHROMA = 40.0  # in 0..255 units
FIGURE_MIN_CHROMA = 110.0
FIGURE_HEIGHT = 0.62  # of the frame height, head top to feet, before sway and scale
# Factor on the joint angles' amplitudes. At 1 an arm swings up to 100 degrees about its mean
# and a hand moves about 2.5 arm widths between two random frames: the CPU model then never
# learns arm motion (results/calibration.md); at 0.6 the hand moves about 1.5 arm widths.
LIMB_MOTION = 0.6
BACKGROUND_LABEL = 255  # label of background pixels in label maps
TEXTURE_PERIOD = 0.16  # stripe period in figure units (about 6 px for a 40 px figure)
TEXTURE_LOW = 0.78  # darkest stripe: value x 0.78 keeps chroma >= 142 x 0.78 > FIGURE_MIN_CHROMA

# Parts: (name, joint a, joint b, radius field, colour field). A disc has a == b.
PARTS = (
    ("torso", "neck", "pelvis", "torso_radius", "torso"),
    ("shoulders", "right_shoulder", "left_shoulder", "arm_radius", "torso"),
    ("hips", "right_hip", "left_hip", "leg_radius", "legs"),
    ("head", "head", "head", "head_radius", "skin"),
    ("right_upper_arm", "right_shoulder", "right_elbow", "arm_radius", "arms"),
    ("right_lower_arm", "right_elbow", "right_hand", "arm_radius", "arms"),
    ("right_hand", "right_hand", "right_hand", "hand_radius", "skin"),
    ("left_upper_arm", "left_shoulder", "left_elbow", "arm_radius", "arms"),
    ("left_lower_arm", "left_elbow", "left_hand", "arm_radius", "arms"),
    ("left_hand", "left_hand", "left_hand", "hand_radius", "skin"),
    ("right_thigh", "right_hip", "right_knee", "leg_radius", "legs"),
    ("right_shin", "right_knee", "right_foot", "leg_radius", "legs"),
    ("left_thigh", "left_hip", "left_knee", "leg_radius", "legs"),
    ("left_shin", "left_knee", "left_foot", "leg_radius", "legs"),
)
PART_NAMES = tuple(p[0] for p in PARTS)
LIMB_RADII = ("arm_radius", "leg_radius", "hand_radius")     # scaled by World.limb_width
# Discs have no axis of their own: they turn with the segment they hang on.
ORIENTED_BY = {"head": ("pelvis", "neck"), "right_hand": ("right_elbow", "right_hand"),
               "left_hand": ("left_elbow", "left_hand")}


@dataclass(frozen=True)
class Identity:
    """Proportions (in figure heights) and colours (RGB 0..255) of one figure."""
    torso_length: float
    neck_length: float
    shoulder_width: float
    hip_width: float
    upper_arm: float
    lower_arm: float
    thigh: float
    shin: float
    head_radius: float
    torso_radius: float
    arm_radius: float
    leg_radius: float
    hand_radius: float
    size: float
    colours: dict


def _saturated_colour(rng: np.random.Generator) -> np.ndarray:
    """An RGB colour (0..255) with chroma >= FIGURE_MIN_CHROMA / 0.85 (see shading)."""
    hue = rng.uniform()
    saturation, value = rng.uniform(0.7, 1.0), rng.uniform(0.8, 1.0)
    k = (np.array([5.0, 3.0, 1.0]) + 6.0 * hue) % 6.0
    rgb = value - value * saturation * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return 255.0 * rgb  # chroma = 255 * value * saturation >= 142


def make_identity(identity_seed: int) -> Identity:
    """Random proportions and colours of a figure, fixed by `identity_seed`."""
    rng = np.random.default_rng([int(identity_seed), 1])
    u = lambda low, high: float(rng.uniform(low, high))  # noqa: E731
    return Identity(
        torso_length=u(0.26, 0.32), neck_length=u(0.03, 0.05),
        shoulder_width=u(0.18, 0.26), hip_width=u(0.10, 0.16),
        upper_arm=u(0.15, 0.19), lower_arm=u(0.14, 0.18),
        thigh=u(0.21, 0.25), shin=u(0.20, 0.24),
        # limbs several pixels wide at 64 px: thin limbs are hard to track for a small CPU model
        head_radius=u(0.08, 0.1), torso_radius=u(0.11, 0.14),
        arm_radius=u(0.05, 0.065), leg_radius=u(0.06, 0.075), hand_radius=u(0.065, 0.075),
        size=u(0.88, 1.12),
        colours={part: _saturated_colour(rng) for part in ("torso", "arms", "legs", "skin")},
    )


def _sinusoid(rng: np.random.Generator, t: np.ndarray, base: float, amplitude: float,
              omega: tuple[float, float] = (0.12, 0.32)) -> np.ndarray:
    """base + A sin(w t + phase) with A ~ U[amplitude/2, amplitude], w ~ U[omega] rad/frame."""
    a = rng.uniform(0.5, 1.0) * amplitude
    return base + a * np.sin(rng.uniform(*omega) * t + rng.uniform(0, 2 * np.pi))


def _direction(angle: np.ndarray, side: float) -> np.ndarray:
    """(T,) angle from straight down, positive away from the body -> (T,2) unit vectors (x, y down)."""
    return np.stack([side * np.sin(angle), np.cos(angle)], -1)


@dataclass(frozen=True)
class World:
    """What every video of a dataset shares.

    figure_height: head top to feet, as a share of the frame height (before sway and scale);
    texture: paint each part with stripes fixed in the part's own coordinates (warping then
    gets gradients inside a part, not only at its edges), else a light shading ramp;
    limb_width: factor on the arm, leg and hand radii;
    limb_motion: factor on the amplitudes of the shoulder, elbow, hip and knee angles (at 1
    arms swing up to 100 degrees about their mean; see LIMB_MOTION for the default).
    """
    figure_height: float = FIGURE_HEIGHT
    texture: bool = False
    limb_width: float = 1.0
    limb_motion: float = LIMB_MOTION

    def __post_init__(self):
        if not 0.1 <= self.figure_height <= 1.0:
            raise ValueError(f"figure_height must be in [0.1, 1], got {self.figure_height}")
        if not 0.25 <= self.limb_width <= 3.0:
            raise ValueError(f"limb_width must be in [0.25, 3], got {self.limb_width}")
        if not 0.0 <= self.limb_motion <= 2.0:
            raise ValueError(f"limb_motion must be in [0, 2], got {self.limb_motion}")


@dataclass(frozen=True)
class Motion:
    """The pose parameters of every frame of one video; angles in radians.

    shoulder, elbow_bend, hip, knee_bend: (T,2) for the right and left side (angle from
    straight down, positive away from the body; the lower limb's angle is the upper's plus
    the bend); arm_depth (T,2): > 0 means the arm is in front of the torso; sway_angle (T,)
    rotation, sway_scale (T,) scale factor around 1, sway_shift (T,2) translation in frame
    sizes. FOMM's relative animation is ``relative_motion``.
    """
    shoulder: np.ndarray
    elbow_bend: np.ndarray
    hip: np.ndarray
    knee_bend: np.ndarray
    arm_depth: np.ndarray
    sway_angle: np.ndarray
    sway_scale: np.ndarray
    sway_shift: np.ndarray

    def __len__(self) -> int:
        return len(self.sway_angle)

    def frames(self, indices) -> "Motion":
        """The motion of some frames (indices: an int array or slice)."""
        return Motion(**{name: value[indices] for name, value in self.arrays().items()})

    def arrays(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def draw_motion(video_seed: int, frames: int, limb_motion: float = LIMB_MOTION) -> Motion:
    """Smooth random motion of one video: sinusoidal joint angles, depth flips and sway.
    limb_motion scales the joint angles' amplitudes (the same seed keeps its phases)."""
    rng = np.random.default_rng([int(video_seed), 2])
    t = np.arange(frames, dtype=np.float64)
    limbs = {"shoulder": [], "elbow_bend": [], "hip": [], "knee_bend": [], "arm_depth": []}
    k = float(limb_motion)
    for _ in range(2):  # right, left
        # Shoulder angle from -60 deg (across the torso) to 140 deg (raised above the head).
        limbs["shoulder"].append(_sinusoid(rng, t, np.radians(40), k * np.radians(100)))
        limbs["elbow_bend"].append(np.abs(_sinusoid(rng, t, np.radians(30), k * np.radians(60))))
        limbs["arm_depth"].append(np.sin(rng.uniform(0.08, 0.2) * t + rng.uniform(0, 2 * np.pi)))
        limbs["hip"].append(_sinusoid(rng, t, np.radians(10), k * np.radians(25)))
        limbs["knee_bend"].append(-np.abs(_sinusoid(rng, t, np.radians(10), k * np.radians(35))))
    sway = np.random.default_rng([int(video_seed), 3])
    angle = _sinusoid(sway, t, 0.0, np.radians(12), omega=(0.05, 0.15))
    scale = _sinusoid(sway, t, 1.0, 0.08, omega=(0.05, 0.15))
    shift = np.stack([_sinusoid(sway, t, 0.0, 0.12, omega=(0.06, 0.18)),
                      _sinusoid(sway, t, 0.0, 0.05, omega=(0.06, 0.18))], -1)
    return Motion(**{k: np.stack(v, -1) for k, v in limbs.items()},
                  sway_angle=angle, sway_scale=scale, sway_shift=shift)


def relative_motion(source: Motion, source_frame: int, driving: Motion) -> Motion:
    """FOMM's relative animation, in pose space: the source frame's pose plus the change of the
    driving pose since the driving video's first frame (scale: times the ratio)."""
    base, first = source.frames(source_frame), driving.frames(0)
    moved = {name: getattr(base, name) + (getattr(driving, name) - getattr(first, name))
             for name in ("shoulder", "elbow_bend", "hip", "knee_bend", "arm_depth", "sway_angle", "sway_shift")}
    return Motion(**moved, sway_scale=base.sway_scale * driving.sway_scale / first.sway_scale)


def pose_joints(identity: Identity, motion: Motion) -> dict:
    """Joint positions in figure units (pelvis at the origin, y down): {name or "pelvis": (T,2)}."""
    frames = len(motion)
    idt = identity
    pelvis = np.zeros((frames, 2))
    neck = pelvis + np.array([0.0, -idt.torso_length])
    joints = {"pelvis": pelvis, "neck": neck,
              "head": neck + np.array([0.0, -(idt.neck_length + idt.head_radius)])}
    for index, (side_name, side) in enumerate((("right", -1.0), ("left", 1.0))):
        shoulder = neck + np.array([side * idt.shoulder_width / 2, 0.02])
        upper = motion.shoulder[:, index]
        elbow = shoulder + idt.upper_arm * _direction(upper, side)
        hand = elbow + idt.lower_arm * _direction(upper + motion.elbow_bend[:, index], side)
        hip = pelvis + np.array([side * idt.hip_width / 2, 0.0])
        thigh = motion.hip[:, index]
        knee = hip + idt.thigh * _direction(thigh, side)
        foot = knee + idt.shin * _direction(thigh + motion.knee_bend[:, index], side)
        joints.update({f"{side_name}_shoulder": shoulder, f"{side_name}_elbow": elbow,
                       f"{side_name}_hand": hand, f"{side_name}_hip": hip, f"{side_name}_knee": knee,
                       f"{side_name}_foot": foot})
    return joints


def figure_motion(identity: Identity, video_seed: int, frames: int) -> tuple[dict, np.ndarray]:
    """Joint positions in figure units and arm depths of video `video_seed`.

    Returns ({joint name or "pelvis": (T,2)}, arm_depth (T,2) for the right and left arm;
    > 0 means in front of the torso).
    """
    motion = draw_motion(video_seed, frames)
    return pose_joints(identity, motion), motion.arm_depth


def _place(joints: dict, identity: Identity, motion: Motion, size: int, world: World) -> dict:
    """Figure units -> pixel coordinates: centre, sway (rotation, scale, translation).

    Adds "_scale" (T,) pixels per figure unit and "_angle" (T,) the sway rotation.
    """
    top = identity.torso_length + identity.neck_length + 2 * identity.head_radius
    bottom = identity.thigh + identity.shin
    centre_y = (bottom - top) / 2  # the figure's vertical middle, in figure units
    scale = world.figure_height * size * identity.size / (top + bottom) * motion.sway_scale
    cos, sin = np.cos(motion.sway_angle)[:, None], np.sin(motion.sway_angle)[:, None]
    centre = (size - 1) / 2 + size * motion.sway_shift  # (T,2)
    placed = {}
    for name, p in joints.items():
        q = p - np.array([0.0, centre_y])
        rotated = np.concatenate([cos * q[:, :1] - sin * q[:, 1:], sin * q[:, :1] + cos * q[:, 1:]], -1)
        placed[name] = centre + scale[:, None] * rotated
    placed["_scale"] = scale
    placed["_angle"] = motion.sway_angle
    return placed


def make_background(video_seed: int, size: int, stripes: bool = False) -> np.ndarray:
    """A static (S,S,3) float background in 0..255 with chroma <= BACKGROUND_MAX_CHROMA.

    Luminance: a gradient plus three low-frequency sinusoids (0.3-1.5 cycles per frame);
    a weak tint field gives colour. `stripes` adds high-frequency stripes (period 3-5 px).
    """
    rng = np.random.default_rng([int(video_seed), 4])
    y, x = np.mgrid[0:size, 0:size] / max(size - 1, 1)  # (S,S) in [0,1]
    luminance = np.full((size, size), rng.uniform(110, 150))
    direction = rng.normal(size=2)
    luminance += 25 * (direction[0] * (x - 0.5) + direction[1] * (y - 0.5)) / np.linalg.norm(direction)
    for _ in range(3):
        k = rng.uniform(0.3, 1.5) * 2 * np.pi * rng.normal(size=2) / np.sqrt(2)
        luminance += rng.uniform(6, 14) * np.sin(k[0] * x + k[1] * y + rng.uniform(0, 2 * np.pi))
    if stripes:  # own generator: the rest of the background stays as without stripes
        stripe_rng = np.random.default_rng([int(video_seed), 5])
        period = stripe_rng.uniform(3, 5) / max(size - 1, 1)
        theta = stripe_rng.uniform(0, np.pi)
        luminance += 15 * np.sign(np.sin(2 * np.pi * (np.cos(theta) * x + np.sin(theta) * y) / period))
    tint = rng.uniform(-1, 1, size=3)
    tint = tint - tint.mean()
    tint *= BACKGROUND_MAX_CHROMA / max(np.ptp(tint), 1e-6)  # chroma of the tint: the budget
    k = 2 * np.pi * rng.uniform(0.3, 1.0) * rng.normal(size=2)
    wave = np.sin(k[0] * x + k[1] * y + rng.uniform(0, 2 * np.pi))[..., None]  # (S,S,1)
    background = luminance[..., None] + tint * (0.625 + 0.375 * wave)  # tint weight 0.25..1
    return np.clip(background, 0, 255)  # clipping can only lower the chroma


def _capsule_coverage(size: int, a: np.ndarray, b: np.ndarray,
                      radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Anti-aliased coverage of capsules on an SxS pixel grid, and the position along each.

    a, b (T,P,2) segment ends in pixels (x, y); radius (T,P) -> coverage (T,P,S,S) in
    [0,1] and u (T,P,S,S) in [0,1]. With p the pixel centre,
        u = clip((p - a).(b - a) / |b - a|^2, 0, 1),   d = |p - a - u (b - a)| - radius,
    and coverage = clip(0.5 - d, 0, 1): a one-pixel anti-aliasing ramp across the edge.
    """
    a, b, radius = a.astype(np.float32), b.astype(np.float32), radius.astype(np.float32)
    grid = np.arange(size, dtype=np.float32)
    ab_x, ab_y = (b - a)[..., 0, None, None], (b - a)[..., 1, None, None]  # (T,P,1,1)
    ap_x = grid[None, None, None, :] - a[..., 0, None, None]  # (T,P,1,S): varies along x
    ap_y = grid[None, None, :, None] - a[..., 1, None, None]  # (T,P,S,1): varies along y
    length2 = np.maximum(ab_x ** 2 + ab_y ** 2, 1e-12)
    u = np.clip((ap_x * ab_x + ap_y * ab_y) / length2, 0.0, 1.0)  # (T,P,S,S)
    distance = np.hypot(ap_x - u * ab_x, ap_y - u * ab_y) - radius[..., None, None]
    return np.clip(0.5 - distance, 0.0, 1.0), u


def _part_depths(arm_depth: np.ndarray) -> np.ndarray:
    """(T,2) arm depths -> (T,P) depth of every part (larger = nearer, painted later)."""
    fixed = {"hips": -0.1, "torso": 0.0, "shoulders": 0.0, "head": 0.5}
    columns = []
    for name, *_ in PARTS:
        if name in fixed:
            columns.append(np.full(len(arm_depth), fixed[name]))
        elif "arm" in name or "hand" in name:
            side = 0 if name.startswith("right") else 1
            columns.append(arm_depth[:, side] + (0.01 if "hand" in name else 0.0))
        else:  # legs behind the torso
            columns.append(np.full(len(arm_depth), -0.5))
    return np.stack(columns, -1)


@dataclass
class Rendering:
    """One rendered video and what the renderer knows about it.

    frames (T,S,S,3) uint8; keypoints (T,J,2) float32 in [-1,1] (JOINT_NAMES order);
    labels (T,S,S) uint8: index into PARTS of the part covering each pixel (the nearest part
    whose coverage is >= 0.5, in painting order), BACKGROUND_LABEL elsewhere; part_frames
    (T,P,4) float32: each part's own coordinate frame in pixels (origin x, origin y, angle,
    scale in pixels per figure unit), so that a pixel x of part p sits at the part
    coordinates R(-angle) (x - origin) / scale; paint_order (T,P): parts back to front.
    """
    frames: np.ndarray
    keypoints: np.ndarray
    labels: np.ndarray
    part_frames: np.ndarray
    paint_order: np.ndarray


def render(identity: Identity, motion: Motion, background: np.ndarray, world: World = World(),
           draw_figure: bool = True) -> Rendering:
    """Render `identity` moving by `motion` over `background` (S,S,3) float 0..255."""
    size = background.shape[0]
    placed = _place(pose_joints(identity, motion), identity, motion, size, world)
    keypoints = np.stack([placed[name] for name in JOINT_NAMES], 1)  # (T,J,2) pixels
    frames = len(motion)
    image = np.broadcast_to(background.astype(np.float32), (frames, size, size, 3))
    labels = np.full((frames, size, size), BACKGROUND_LABEL, np.uint8)
    part_frames = _part_frames(placed)
    order = np.argsort(_part_depths(motion.arm_depth), axis=1, kind="stable")  # (T,P) back to front
    if draw_figure:
        image, labels = _paint_figure(image, identity, placed, order, part_frames, world)
    return Rendering(np.round(image).astype(np.uint8), pixels_to_keypoints(keypoints, size, size).astype(np.float32),
                     labels, part_frames.astype(np.float32), order.astype(np.uint8))


def render_video(identity_seed: int, video_seed: int, frames: int = 32, size: int = 64,
                 *, stripes: bool = False, draw_figure: bool = True,
                 world: World = World()) -> tuple[np.ndarray, np.ndarray]:
    """Render one video of identity `identity_seed` moving as `video_seed` dictates.

    Returns frames (T,S,S,3) uint8 and keypoints (T,J,2) float32 in [-1,1], x first,
    pixel i of S at 2i/(S-1) - 1, joints in JOINT_NAMES order. `draw_figure=False`
    renders the background alone (same keypoints). ``render`` returns more (labels).
    """
    if frames < 1 or size < 8:
        raise ValueError(f"need frames >= 1 and size >= 8, got frames={frames}, size={size}")
    rendering = render(make_identity(identity_seed), draw_motion(video_seed, frames, world.limb_motion),
                       make_background(video_seed, size, stripes), world, draw_figure)
    return rendering.frames, rendering.keypoints


def _part_frames(placed: dict) -> np.ndarray:
    """(T,P,4) origin x, origin y, angle, scale of each part's own coordinates.

    A segment's x axis runs from its first joint to its second; a disc (head, hands) turns
    with the segment it hangs on (ORIENTED_BY)."""
    columns = []
    for name, a, b, *_ in PARTS:
        start, end = ORIENTED_BY.get(name, (a, b))
        delta = placed[end] - placed[start]
        angle = np.arctan2(delta[:, 1], delta[:, 0])
        columns.append(np.stack([placed[a][:, 0], placed[a][:, 1], angle, placed["_scale"]], -1))
    return np.stack(columns, 1)


def part_coordinates(part_frames: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pixels -> each part's own coordinates. part_frames (...,P,4), points (...,P,N,2) -> (...,P,N,2)."""
    origin, angle, scale = part_frames[..., None, :2], part_frames[..., 2, None], part_frames[..., 3, None]
    d = points - origin
    cos, sin = np.cos(angle), np.sin(angle)
    return np.stack([cos * d[..., 0] + sin * d[..., 1], -sin * d[..., 0] + cos * d[..., 1]], -1) / scale[..., None]


def part_to_pixels(part_frames: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Inverse of ``part_coordinates``: (...,P,4), (...,P,N,2) -> pixels (...,P,N,2)."""
    origin, angle, scale = part_frames[..., None, :2], part_frames[..., 2, None], part_frames[..., 3, None]
    cos, sin = np.cos(angle), np.sin(angle)
    x, y = local[..., 0] * scale, local[..., 1] * scale
    return np.stack([cos * x - sin * y, sin * x + cos * y], -1) + origin


def _texture(part_frames: np.ndarray, size: int) -> np.ndarray:
    """(T,P,S,S) value factor in [TEXTURE_LOW, 1]: stripes across each part, fixed in its own
    coordinates (period TEXTURE_PERIOD figure units, a phase per part)."""
    frames, parts = part_frames.shape[:2]
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    pixels = np.broadcast_to(np.stack([x, y], -1).reshape(1, 1, -1, 2), (frames, parts, size * size, 2))
    local = part_coordinates(part_frames, pixels)                                   # (T,P,S*S,2)
    phase = np.arange(parts)[None, :, None] * 1.7
    wave = np.cos(2 * np.pi * (local[..., 0] + 0.5 * local[..., 1]) / TEXTURE_PERIOD + phase)
    factor = 1.0 - (1.0 - TEXTURE_LOW) * (0.5 + 0.5 * wave)
    return factor.reshape(frames, parts, size, size).astype(np.float32)


def _paint_figure(image: np.ndarray, identity: Identity, placed: dict, order: np.ndarray,
                  part_frames: np.ndarray, world: World) -> tuple[np.ndarray, np.ndarray]:
    """Paint the parts back to front over image (T,S,S,3) float 0..255; returns it and the labels."""
    frames, size = image.shape[:2]
    a = np.stack([placed[p[1]] for p in PARTS], 1)  # (T,P,2)
    b = np.stack([placed[p[2]] for p in PARTS], 1)
    widths = np.array([world.limb_width if p[3] in LIMB_RADII else 1.0 for p in PARTS])
    radius = (np.array([getattr(identity, p[3]) for p in PARTS]) * widths)[None] * placed["_scale"][:, None]
    # At least 1.5 px: the pixel nearest a joint (<= 0.71 px away) is then fully covered.
    radius = np.maximum(radius, 1.5)
    coverage, along = _capsule_coverage(size, a, b, radius)
    # Light shading along each segment (1 -> 0.85), or stripes in the part's coordinates:
    # either keeps chroma >= FIGURE_MIN_CHROMA.
    shading = _texture(part_frames, size) if world.texture else 1.0 - 0.15 * along
    colours = np.stack([identity.colours[p[4]] for p in PARTS]).astype(np.float32)  # (P,3)
    labels = np.full((frames, size, size), BACKGROUND_LABEL, np.uint8)
    frame = np.arange(frames)
    for layer in range(len(PARTS)):
        part = order[:, layer]  # (T,) the part painted at this layer in each frame
        alpha = coverage[frame, part][..., None]  # (T,S,S,1)
        colour = colours[part][:, None, None, :] * shading[frame, part][..., None]  # (T,S,S,3)
        image = image + alpha * (colour - image)  # over-compositing
        labels = np.where(alpha[..., 0] >= 0.5, part[:, None, None].astype(np.uint8), labels)
    return image, labels


# ----------------------------------------------------------------------------- ground truth

def disocclusion(labels_source: np.ndarray, frames_source: np.ndarray, labels_driving: np.ndarray,
                 frames_driving: np.ndarray) -> np.ndarray:
    """True dis-occlusion of a (source, driving) pair: (S,S) bool, True at driving pixels whose
    surface point is hidden or absent in the source.

    labels_* (S,S) and frames_* (P,4) are one frame's ``Rendering.labels`` / ``part_frames``.
    A driving pixel x of part p shows the point q = T_p,driving^-1(x) of p; it is visible in the
    source when the source pixel nearest T_p,source(q) lies in the frame and shows part p. A
    background pixel (the background is static) is visible when the source shows background there.
    """
    size = labels_driving.shape[0]
    y, x = np.mgrid[0:size, 0:size]
    pixels = np.stack([x, y], -1).reshape(1, -1, 2).astype(np.float64)          # (1,S*S,2)
    parts = len(frames_driving)
    local = part_coordinates(frames_driving.astype(np.float64), np.broadcast_to(pixels, (parts, size * size, 2)))
    in_source = np.rint(part_to_pixels(frames_source.astype(np.float64), local)).astype(int)  # (P,S*S,2)
    label = labels_driving.reshape(-1).astype(int)                              # (S*S,)
    is_part = label != BACKGROUND_LABEL
    where = in_source[np.where(is_part, label, 0), np.arange(size * size)]      # (S*S,2) for part pixels
    inside = ((where >= 0) & (where < size)).all(-1)
    seen = labels_source[np.clip(where[:, 1], 0, size - 1), np.clip(where[:, 0], 0, size - 1)].astype(int)
    visible_part = inside & (seen == label)
    visible_background = labels_source.reshape(-1) == BACKGROUND_LABEL
    visible = np.where(is_part, visible_part, visible_background)
    return ~visible.reshape(size, size)


def disocclusion_from(truth: "VideoTruth", source_frame: int = 0) -> np.ndarray:
    """(T,S,S) bool: the true dis-occlusion of every frame t driven from frame ``source_frame``
    of the same video (``disocclusion`` of the pair (source_frame, t); all False at t = source_frame)."""
    frames = len(truth.labels)
    if not 0 <= source_frame < frames:
        raise ValueError(f"source_frame must be in [0, {frames}), got {source_frame}")
    return np.stack([disocclusion(truth.labels[source_frame], truth.part_frames[source_frame],
                                  truth.labels[t], truth.part_frames[t]) for t in range(frames)])


def truth_arrays(rendering: Rendering, motion: Motion, identity_seed: int, video_seed: int,
                 stripes: bool, world: World) -> dict:
    """What ``X.truth.npz`` holds for one video (see ``write_truth``)."""
    arrays = {"labels": rendering.labels, "part_frames": rendering.part_frames,
              "paint_order": rendering.paint_order,
              "identity_seed": np.int64(identity_seed), "video_seed": np.int64(video_seed),
              "stripes": np.bool_(stripes), "figure_height": np.float64(world.figure_height),
              "texture": np.bool_(world.texture), "limb_width": np.float64(world.limb_width),
              "limb_motion": np.float64(world.limb_motion)}
    arrays.update({f"motion_{name}": value for name, value in motion.arrays().items()})
    return arrays


def write_truth(path: str | Path, arrays: dict) -> None:
    """Write a compressed .npz with fixed zip timestamps (byte-identical for the same arrays)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


@dataclass
class VideoTruth:
    """The ground truth of one synthetic video, read from ``X.truth.npz``.

    labels (T,S,S) uint8 (index into PARTS, BACKGROUND_LABEL for background), part_frames
    (T,P,4), motion (Motion), and what re-renders the video: identity_seed, video_seed (its
    background and motion), stripes, world.
    """
    labels: np.ndarray
    part_frames: np.ndarray
    motion: Motion
    identity_seed: int
    video_seed: int
    stripes: bool
    world: World

    @property
    def size(self) -> int:
        return self.labels.shape[1]


def load_truth(video_path: str | Path) -> VideoTruth | None:
    """The ground truth beside a video (``X.truth.npz``), or None when there is none."""
    path = keypoints_path(video_path, TRUTH_SUFFIX)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        motion = Motion(**{f.name: arrays[f"motion_{f.name}"] for f in fields(Motion)})
        return VideoTruth(arrays["labels"], arrays["part_frames"], motion, int(arrays["identity_seed"]),
                          int(arrays["video_seed"]), bool(arrays["stripes"]),
                          World(float(arrays["figure_height"]), bool(arrays["texture"]),
                                float(arrays["limb_width"]), float(arrays["limb_motion"])))
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"cannot read ground-truth file {str(path)!r}: {error}") from error


def true_animation(source: VideoTruth, source_frame: int, driving: VideoTruth) -> Rendering:
    """What FOMM's relative animation should produce: the source video's figure and background,
    posed by ``relative_motion`` (source pose at `source_frame` plus the driving pose's change
    since the driving video's first frame). Frame 0 equals the source frame."""
    if source.size != driving.size:
        raise ValueError(f"source and driving videos differ in size: {source.size} vs {driving.size}")
    motion = relative_motion(source.motion, source_frame, driving.motion)
    return render(make_identity(source.identity_seed), motion,
                  make_background(source.video_seed, source.size, source.stripes), source.world)


# ----------------------------------------------------------------------------- dataset writer

def video_name(identity: int, video: int) -> str:
    """FOMM/VoxCeleb-style name `id<NNN>#video<MMMM>` (id_sampling groups by `id<NNN>`)."""
    return f"id{identity:03d}#video{video:04d}"


def _seed(*numbers: int) -> int:
    return int(np.random.SeedSequence([int(n) for n in numbers]).generate_state(1)[0])


def _split_identities(identities: int, test_fraction: float) -> int:
    """Number of test identities: round(fraction * identities), at least 1 of each split."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    if test_fraction == 0:
        return 0
    if identities < 2:
        raise ValueError(f"a train/test split needs identities >= 2, got {identities}")
    return min(max(1, round(test_fraction * identities)), identities - 1)


def make_synthetic_dataset(out: str | Path, videos: int = 200, frames: int = 32, size: int = 64,
                           seed: int = 0, identities: int | None = None,
                           test_fraction: float = 0.2, progress: bool = True,
                           overwrite: bool = False, stripes: bool = False,
                           world: World = World()) -> Path:
    """Write a FOMM-layout synthetic dataset and return its root `out`.

    Layout: out/train/ and out/test/ hold, per video,
      `id<NNN>#video<MMMM>.png`            T frames stacked horizontally, (S, T*S, 3) uint8;
      `id<NNN>#video<MMMM>.keypoints.npy`  the joints, (T,J,2) float32 in [-1,1];
      `id<NNN>#video<MMMM>.truth.npz`      what only a renderer knows: `labels` (T,S,S) uint8
          (the part covering each pixel, 255 = background), `part_frames` (T,P,4) (each part's
          own coordinates), `paint_order` (T,P), the pose parameters `motion_*` and the seeds
          and world that re-render it (``load_truth``, ``disocclusion``, ``true_animation``).
    out/synthetic.json records the parameters, joint and part names. Identities (default
    max(2, videos // 5)) are split between train and test, so test figures are unseen.
    Video v belongs to identity v % identities. The same arguments write byte-identical files.
    """
    out = Path(out)
    identities = max(2, videos // 5) if identities is None else int(identities)
    if videos < 1 or identities < 1 or frames < 2:
        raise ValueError(f"need videos >= 1, identities >= 1, frames >= 2; got videos={videos}, "
                         f"identities={identities}, frames={frames}")
    num_test = _split_identities(identities, test_fraction)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"output folder {str(out)!r} is not empty (pass overwrite=True, "
                                  f"or --overwrite, to replace its train/ and test/)")
        for split in ("train", "test"):
            shutil.rmtree(out / split, ignore_errors=True)
    for split in ("train", "test"):
        (out / split).mkdir(parents=True, exist_ok=True)
    test_ids = set(range(identities - num_test, identities))
    for v in tqdm(range(videos), desc="synthetic videos", disable=not progress, unit="video"):
        identity = v % identities
        identity_seed, video_seed = _seed(seed, 0, identity), _seed(seed, 1, v)
        motion = draw_motion(video_seed, frames, world.limb_motion)
        rendering = render(make_identity(identity_seed), motion, make_background(video_seed, size, stripes), world)
        path = out / ("test" if identity in test_ids else "train") / (video_name(identity, v) + ".png")
        stacked = rendering.frames.transpose(1, 0, 2, 3).reshape(size, frames * size, 3)  # (S, T*S, 3)
        # Fixed zlib settings and no metadata chunks: byte-identical output for a seed.
        iio.imwrite(path, stacked, extension=".png", compress_level=6, optimize=False)
        np.save(keypoints_path(path), rendering.keypoints)
        write_truth(keypoints_path(path, TRUTH_SUFFIX),
                    truth_arrays(rendering, motion, identity_seed, video_seed, stripes, world))
    meta = {"videos": videos, "frames": frames, "size": size, "seed": seed,
            "identities": identities, "test_identities": sorted(test_ids),
            "stripes": stripes, "figure_height": world.figure_height, "texture": world.texture,
            "limb_width": world.limb_width, "limb_motion": world.limb_motion,
            "joint_names": list(JOINT_NAMES), "part_names": list(PART_NAMES)}
    (out / "synthetic.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out


# ----------------------------------------------------------------------------- command line

def add_make_synthetic_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `pcut make-synthetic` (and data_scripts/synthetic.py)."""
    parser.add_argument("--out", type=Path, default=Path("data/synthetic-64"), metavar="DIR",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--videos", type=int, default=200, metavar="N", help="number of videos (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=32, metavar="T", help="frames per video (default: %(default)s)")
    parser.add_argument("--size", type=int, default=64, metavar="S", help="frame size in pixels (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, metavar="K", help="random seed (default: %(default)s)")
    parser.add_argument("--identities", type=int, default=None, metavar="N",
                        help="number of figures (default: max(2, videos // 5))")
    parser.add_argument("--test-fraction", type=float, default=0.2, metavar="F",
                        help="share of identities held out for test/ (default: %(default)s)")
    parser.add_argument("--stripes", action="store_true", help="high-frequency background stripes")
    parser.add_argument("--figure-height", type=float, default=FIGURE_HEIGHT, metavar="H",
                        help="figure height as a share of the frame (default: %(default)s)")
    parser.add_argument("--limb-width", type=float, default=1.0, metavar="W",
                        help="factor on the limb and hand radii (default: %(default)s)")
    parser.add_argument("--limb-motion", type=float, default=LIMB_MOTION, metavar="M",
                        help="factor on the joint angles' amplitudes (default: %(default)s)")
    parser.add_argument("--texture", action="store_true",
                        help="stripes on each body part, fixed in the part's own coordinates")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def run_make_synthetic(args: argparse.Namespace) -> int:
    """Run `make_synthetic_dataset` from parsed flags; returns the exit status (0)."""
    root = make_synthetic_dataset(args.out, videos=args.videos, frames=args.frames, size=args.size,
                                  seed=args.seed, identities=args.identities,
                                  test_fraction=args.test_fraction, progress=not args.no_progress,
                                  overwrite=args.overwrite, stripes=args.stripes,
                                  world=World(args.figure_height, args.texture, args.limb_width, args.limb_motion))
    print(f"wrote {args.videos} synthetic videos to {root}")
    return 0
