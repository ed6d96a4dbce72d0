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

from dataclasses import dataclass, fields

import numpy as np

from pcutlib.coordinates import pixels_to_keypoints
from pcutlib.data.part_frames import part_grain_factor, stripe_factor

JOINT_NAMES = ("head", "neck", "right_shoulder", "right_elbow", "right_hand",
               "left_shoulder", "left_elbow", "left_hand", "right_hip", "right_knee",
               "right_foot", "left_hip", "left_knee", "left_foot")
BACKGROUND_MAX_CHROMA = 40.0  # in 0..255 units
FIGURE_MIN_CHROMA = 110.0
FIGURE_HEIGHT = 0.62  # of the frame height, head top to feet, before sway and scale
# Factor on the joint angles' amplitudes. At 1 an arm swings up to 100 degrees about its mean
# and a hand moves about 2.5 arm widths between two random frames: the CPU model then never
# learns arm motion (results/calibration.md); at 0.6 the hand moves about 1.5 arm widths.
LIMB_MOTION = 0.6
BACKGROUND_LABEL = 255  # label of background pixels in label maps

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
    arms swing up to 100 degrees about their mean; see LIMB_MOTION for the default);
    background_texture: standard deviation (0..255 luminance units) of a random fine-grained
    texture on the background (grain about 2 px at 64 px); 0: the smooth background. Where the
    figure uncovers a textured background, no warp can bring the texture back and a smooth
    inpainting is visibly wrong;
    background_grain_scale: factor on the grain's size (1: about 2 px at 64 px; 3: about 6 px,
    coarse enough that a small flow error in the static background costs little);
    part_grain: paint each part with an isotropic random grain fixed in its own coordinates
    (``part_grain_factor``; replaces the stripes or the shading ramp). Where a part uncovers
    another, the hidden grain is nowhere in the source: no flow can fetch it from beside, as it
    can on a flat part or along a stripe.
    """
    figure_height: float = FIGURE_HEIGHT
    texture: bool = False
    limb_width: float = 1.0
    limb_motion: float = LIMB_MOTION
    background_texture: float = 0.0
    background_grain_scale: float = 1.0
    part_grain: bool = False

    def __post_init__(self):
        if not 0.1 <= self.figure_height <= 1.0:
            raise ValueError(f"figure_height must be in [0.1, 1], got {self.figure_height}")
        if not 0.25 <= self.limb_width <= 3.0:
            raise ValueError(f"limb_width must be in [0.25, 3], got {self.limb_width}")
        if not 0.0 <= self.limb_motion <= 2.0:
            raise ValueError(f"limb_motion must be in [0, 2], got {self.limb_motion}")
        if not 0.0 <= self.background_texture <= 60.0:
            raise ValueError(f"background_texture must be in [0, 60] (luminance sd, 0..255 units), "
                             f"got {self.background_texture}")
        if not 0.5 <= self.background_grain_scale <= 8.0:
            raise ValueError(f"background_grain_scale must be in [0.5, 8] (factor on the grain size), "
                             f"got {self.background_grain_scale}")

    def record(self) -> dict:
        """{field name: value as its default's type (float, bool)}: what a dataset's meta and truth
        files hold, read back by ``from_record``."""
        return {f.name: type(f.default)(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_record(cls, record) -> "World":
        """The world a dataset's meta or truth file recorded (a mapping of field names to values,
        numpy scalars too); a field it does not hold, written before that field existed, takes its
        default."""
        return cls(**{f.name: type(f.default)(record[f.name]) for f in fields(cls) if f.name in record})


# The textured world of pretrained/synthetic-64-textured*.pt (calibration row
# small-motion+full-res-long+part-grain+grain20): grain on the background and on every part, so
# that what a moving part uncovers is nowhere in the source frame. `World()` is the flat world.
TEXTURED_WORLD = World(part_grain=True, background_texture=20.0)


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


def background_grain(video_seed: int, size: int, sd: float, scale: float = 1.0) -> np.ndarray:
    """(S,S) random grain of standard deviation `sd`: white noise low-passed by a Gaussian of
    sigma = scale * S/64 px (about 2 px grains at 64 px for scale 1), drawn from its own generator."""
    noise = np.random.default_rng([int(video_seed), 6]).normal(size=(size, size))
    f = np.fft.fftfreq(size)                                           # cycles per pixel
    sigma = scale * size / 64
    gain = np.exp(-2 * (np.pi * sigma) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    grain = np.real(np.fft.ifft2(np.fft.fft2(noise) * gain))
    return sd * grain / max(float(grain.std()), 1e-12)


def make_background(video_seed: int, size: int, stripes: bool = False, grain_sd: float = 0.0,
                    grain_scale: float = 1.0) -> np.ndarray:
    """A static (S,S,3) float background in 0..255 with chroma <= BACKGROUND_MAX_CHROMA.

    Luminance: a gradient plus three low-frequency sinusoids (0.3-1.5 cycles per frame);
    a weak tint field gives colour. `stripes` adds high-frequency stripes (period 3-5 px);
    `grain_sd` > 0 adds ``background_grain`` (World.background_texture, of size `grain_scale`). Both change the
    luminance only, so the chroma rule holds.
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
    if grain_sd > 0:
        luminance += background_grain(video_seed, size, grain_sd, grain_scale)
    tint = rng.uniform(-1, 1, size=3)
    tint = tint - tint.mean()
    tint *= BACKGROUND_MAX_CHROMA / max(np.ptp(tint), 1e-6)  # chroma of the tint: the budget
    k = 2 * np.pi * rng.uniform(0.3, 1.0) * rng.normal(size=2)
    wave = np.sin(k[0] * x + k[1] * y + rng.uniform(0, 2 * np.pi))[..., None]  # (S,S,1)
    background = luminance[..., None] + tint * (0.625 + 0.375 * wave)  # tint weight 0.25..1
    return np.clip(background, 0, 255)  # clipping can only lower the chroma


def world_background(video_seed: int, size: int, stripes: bool, world: World) -> np.ndarray:
    """``make_background`` with the world's background grain (sd and size)."""
    return make_background(video_seed, size, stripes, world.background_texture, world.background_grain_scale)


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
                       world_background(video_seed, size, stripes, world), world, draw_figure)
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
    # Light shading along each segment (1 -> 0.85), stripes or grain in the part's coordinates:
    # each keeps chroma >= FIGURE_MIN_CHROMA.
    if world.part_grain:
        shading = part_grain_factor(part_frames, size)
    else:
        shading = stripe_factor(part_frames, size) if world.texture else 1.0 - 0.15 * along
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
