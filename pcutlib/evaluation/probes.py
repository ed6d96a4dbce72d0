"""Small supervised probes for the synthetic world, where the ground truth is known.

On real data FOMM's protocol measures pose with an external detector (face alignment,
a body-pose network) and identity with a recognition network (docs/algorithm.md, evaluation). The
synthetic figures have neither, but they come with exact joints and identity labels, so
we train two tiny CNNs on *real* synthetic frames and then run them on generated ones:

- ``PoseProbe``: frames -> J heatmaps -> keypoints (soft-argmax) and a confidence per
  joint; it is a detector in the sense of ``pcutlib.evaluation.metrics`` (AKD, MKR).
- ``IdentityProbe``: frames -> embedding -> identity logits; the embedding gives AED.

Both work on 64 px frames (other sizes are resized) and train in seconds on a CPU.
Saved as ``{"kind", "config", "state_dict"}`` and read back with weights_only=True.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from pcutlib.checkpoints.files import atomic_save, safe_torch_load
from pcutlib.coordinates import pixels_to_keypoints
from pcutlib.data.datasets import identity_of
from pcutlib.data.video_io import list_videos, load_keypoints, read_video
from pcutlib.evaluation.metrics import average_keypoint_distance
from pcutlib.models.blocks import DownBlock, SameBlock, UpBlock

PROBE_IMAGE_SIZE = 64
HEATMAP_STRIDE = 4             # heatmaps at 1/4 of the frame: 16x16 cells for 64 px frames
TARGET_SIGMA_PIXELS = 2.0      # width of the Gaussian heatmap target, in frame pixels
CONFIDENCE_WINDOW = 3          # confidence = heatmap mass in the best 3x3 cell window
COORDINATE_WEIGHT = 10.0       # coordinate L1 is ~0.02 when trained, the heatmap CE ~1: balance them


# ----------------------------------------------------------------------------- labelled frames

@dataclass
class LabelledFrames:
    """Frames with what is known about them.

    frames (N,3,H,W) float32 in [0,1]; keypoints (N,J,2) in [-1,1] or None; names: the
    video name of each frame (N strings, ``id<NNN>#...`` for identities).
    """
    frames: torch.Tensor
    keypoints: torch.Tensor | None
    names: list[str]

    def __len__(self) -> int:
        return len(self.frames)


def _video_items(source, split: str, frame_shape, max_videos: int | None):
    """Yield (video (T,3,H,W), keypoints (T,J,2) or None, name) from a folder or a dataset."""
    if isinstance(source, (str, Path)):

        folder = Path(source)
        if (folder / split).is_dir():
            folder = folder / split
        for path in list_videos(folder)[:max_videos]:
            frames = read_video(path, frame_shape)                        # (T,H,W,3)
            keypoints = load_keypoints(path, len(frames))
            yield (torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous(),
                   None if keypoints is None else torch.from_numpy(keypoints), path.name)
        return
    count = len(source) if max_videos is None else min(max_videos, len(source))
    for index in range(count):
        item = source[index]
        if "video" not in item:
            raise ValueError(f"dataset items need a 'video' (T,3,H,W); got keys {sorted(item)} "
                             f"(build FramesDataset with is_train=False, or pass a folder)")
        yield item["video"], item.get("keypoints"), item["name"]


def collect_frames(source, split: str = "train", frame_shape=None,
                   max_videos: int | None = None) -> LabelledFrames:
    """All frames of some videos, stacked.

    source: a LabelledFrames (returned as is); a (frames (N,3,H,W), keypoints (N,J,2))
    tuple; a dataset root or folder of videos (``root/<split>`` when present); or a
    dataset whose items hold {"video", "name", "keypoints"?} (FramesDataset, is_train=False).
    frame_shape (H,W,3) resizes folder videos. All N frames are held in memory:
    200 videos x 32 frames at 64 px take about 300 MB.
    """
    if isinstance(source, LabelledFrames):
        return source
    if isinstance(source, tuple):
        frames, keypoints = source
        return LabelledFrames(frames, keypoints, ["unknown"] * len(frames))
    videos, keypoints, names = [], [], []
    for video, points, name in _video_items(source, split, frame_shape, max_videos):
        videos.append(video)
        keypoints.append(points)
        names.extend([name] * len(video))
    if not videos:
        raise ValueError(f"no videos found in {source!r}")
    all_known = all(k is not None for k in keypoints)
    return LabelledFrames(torch.cat(videos), torch.cat(keypoints) if all_known else None, names)


def to_probe_size(frames: torch.Tensor, size: int) -> torch.Tensor:
    """(B,3,H,W) -> (B,3,size,size), bilinear and anti-aliased when shrinking."""
    if frames.dim() != 4 or frames.shape[1] != 3:
        raise ValueError(f"probes take frames (B,3,H,W), got {tuple(frames.shape)}")
    if tuple(frames.shape[2:]) == (size, size):
        return frames
    return F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


# ----------------------------------------------------------------------------- pose probe

def heatmap_grid(cells: int, image_size: int, device=None) -> torch.Tensor:
    """Frame coordinates of the heatmap cell centres: (cells, cells, 2), x first.

    Cell i covers frame pixels [s i, s i + s) with s = image_size / cells, so its centre is
    pixel s i + (s - 1)/2, at coordinate 2 (s i + (s - 1)/2) / (image_size - 1) - 1.
    """
    stride = image_size / cells
    centres = stride * torch.arange(cells, dtype=torch.float32, device=device) + (stride - 1) / 2
    pixels = torch.stack([centres.view(1, -1).expand(cells, cells),           # x varies along columns
                          centres.view(-1, 1).expand(cells, cells)], dim=-1)  # (cells, cells, 2)
    return pixels_to_keypoints(pixels, image_size, image_size)


class PoseProbe(nn.Module):
    """A small U-Net predicting one heatmap per joint.

    frames (B,3,S,S) -> {"heatmap": (B,J,S/4,S/4) softmax over cells, "value": (B,J,2) the
    soft-argmax  k_j = sum_c P_j(c) g(c)  in [-1,1] (x first), "confidence": (B,J) the
    heatmap mass in the best 3x3 cell window (1 for a sharp peak, ~9/cells^2 when flat)}.
    """
    def __init__(self, *, num_joints: int, channels: int = 16, image_size: int = PROBE_IMAGE_SIZE):
        super().__init__()
        if image_size % (2 * HEATMAP_STRIDE):
            raise ValueError(f"image_size must be divisible by {2 * HEATMAP_STRIDE}, got {image_size}")
        if num_joints < 1:
            raise ValueError(f"num_joints must be >= 1, got {num_joints}")
        self.config = {"num_joints": int(num_joints), "channels": int(channels), "image_size": int(image_size)}
        c = channels
        self.down1 = DownBlock(3, c)            # S   -> S/2
        self.down2 = DownBlock(c, 2 * c)        # S/2 -> S/4
        self.down3 = DownBlock(2 * c, 4 * c)    # S/4 -> S/8
        self.up = UpBlock(4 * c, 2 * c)         # S/8 -> S/4
        self.fuse = SameBlock(4 * c, 2 * c)     # skip concatenation at S/4
        self.head = nn.Conv2d(2 * c, num_joints, kernel_size=1)
        cells = image_size // HEATMAP_STRIDE
        self.register_buffer("grid", heatmap_grid(cells, image_size), persistent=False)  # (h,w,2)

    def forward(self, frames: torch.Tensor) -> dict:
        frames = to_probe_size(frames, self.config["image_size"])
        x2 = self.down2(self.down1(frames))                                  # (B,2c,S/4,S/4)
        x3 = self.down3(x2)                                                  # (B,4c,S/8,S/8)
        features = self.fuse(torch.cat([self.up(x3), x2], dim=1))           # (B,2c,S/4,S/4)
        logits = self.head(features)                                         # (B,J,h,w)
        batch, joints, height, width = logits.shape
        log_heatmap = F.log_softmax(logits.reshape(batch, joints, -1), dim=2).reshape(logits.shape)
        heatmap = log_heatmap.exp()                                          # sums to 1 per joint
        value = (heatmap.unsqueeze(-1) * self.grid).sum(dim=(2, 3))         # (B,J,2)
        window_mass = F.avg_pool2d(heatmap, CONFIDENCE_WINDOW, stride=1,
                                   padding=CONFIDENCE_WINDOW // 2, count_include_pad=True)
        confidence = window_mass.flatten(2).amax(dim=2) * CONFIDENCE_WINDOW ** 2  # (B,J)
        return {"heatmap": heatmap, "log_heatmap": log_heatmap, "value": value, "confidence": confidence}

    @torch.no_grad()
    def detect(self, frames: torch.Tensor, threshold: float = 0.5,
               batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
        """Detector interface of pcutlib.evaluation.metrics: frames (T,3,H,W) -> (keypoints (T,J,2), found (T,J)).

        A joint is found when its confidence >= threshold. Outputs are on the CPU.
        """
        keypoints, confidence = self.predict(frames, batch_size)
        return keypoints, confidence >= threshold

    @torch.no_grad()
    def predict(self, frames: torch.Tensor, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
        """frames (T,3,H,W) -> (keypoints (T,J,2), confidence (T,J)) on the CPU, in eval mode."""
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        values, confidences = [], []
        for start in range(0, len(frames), batch_size):
            out = self(frames[start:start + batch_size].to(device))
            values.append(out["value"].cpu())
            confidences.append(out["confidence"].cpu())
        self.train(was_training)
        return torch.cat(values), torch.cat(confidences)


def gaussian_target(keypoints: torch.Tensor, grid: torch.Tensor, sigma: float) -> torch.Tensor:
    """Target distributions over heatmap cells: P(c) ∝ exp(-||g(c) - k||^2 / (2 sigma^2)).

    keypoints (B,J,2), grid (h,w,2), sigma in coordinate units -> (B,J,h,w), each summing to 1.
    """
    squared = ((grid[None, None] - keypoints[:, :, None, None, :]) ** 2).sum(-1)  # (B,J,h,w)
    logits = -squared / (2 * sigma ** 2)
    return F.softmax(logits.flatten(2), dim=2).reshape(squared.shape)


def pose_loss(out: dict, keypoints: torch.Tensor, grid: torch.Tensor, image_size: int) -> dict:
    """Heatmap cross-entropy to a Gaussian at the true joint, plus the soft-argmax L1.

    out: PoseProbe's output; keypoints (B,J,2) true joints; grid (h,w,2) cell centres.
        CE = -mean_{b,j} sum_c T_bj(c) log P_bj(c)    (sharp peaks: the confidence means something)
        L1 = mean |k - k_true|                        (positions finer than the 4 px cells)
        loss = CE + COORDINATE_WEIGHT * L1
    """
    sigma = TARGET_SIGMA_PIXELS * 2 / (image_size - 1)                       # pixels -> coordinates
    target = gaussian_target(keypoints, grid, sigma)                         # (B,J,h,w)
    cross_entropy = -(target * out["log_heatmap"]).sum(dim=(2, 3)).mean()
    coordinate_l1 = (out["value"] - keypoints).abs().mean()
    return {"loss": cross_entropy + COORDINATE_WEIGHT * coordinate_l1,
            "cross_entropy": cross_entropy, "coordinate_l1": coordinate_l1}


def _sample_batches(count: int, batch_size: int, steps: int, seed: int):
    """Yield `steps` index tensors of size min(batch_size, count), reshuffling each pass."""
    generator = torch.Generator().manual_seed(seed)
    order, position = torch.randperm(count, generator=generator), 0
    size = min(batch_size, count)
    for _ in range(steps):
        if position + size > count:
            order, position = torch.randperm(count, generator=generator), 0
        yield order[position:position + size]
        position += size


def train_pose_probe(data, steps: int = 300, batch_size: int = 32, lr: float = 2e-3, channels: int = 16,
                     seed: int = 0, device="cpu", progress: bool = True, split: str = "train",
                     frame_shape=None, max_videos: int | None = None) -> PoseProbe:
    """Train a PoseProbe on real frames to predict their ground-truth joints.

    data: anything ``collect_frames`` takes (a dataset root, a test-mode dataset, a
    (frames (N,3,H,W), keypoints (N,J,2)) tuple, LabelledFrames). Adam (lr), `steps`
    batches. Returns the probe in eval mode with ``train_seconds`` set.
    """
    labelled = collect_frames(data, split, frame_shape, max_videos)
    if labelled.keypoints is None:
        raise ValueError("the pose probe needs ground-truth keypoints (X.keypoints.npy beside each video)")
    torch.manual_seed(seed)
    probe = PoseProbe(num_joints=labelled.keypoints.shape[1], channels=channels).to(device).train()
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr)
    start = time.perf_counter()
    bar = tqdm(_sample_batches(len(labelled), batch_size, steps, seed), total=steps,
               desc="pose probe", disable=not progress, leave=False)
    for indices in bar:
        frames = labelled.frames[indices].to(device)
        keypoints = labelled.keypoints[indices].to(device)                    # (B,J,2)
        losses = pose_loss(probe(frames), keypoints, probe.grid, probe.config["image_size"])
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizer.step()
        bar.set_postfix(ce=f"{losses['cross_entropy'].item():.3f}",
                        l1=f"{losses['coordinate_l1'].item():.4f}")
    probe.train_seconds = time.perf_counter() - start
    return probe.eval()


# ----------------------------------------------------------------------------- identity probe

def identities_of(names: list[str]) -> list[str]:
    """The identity (``data.identity_of``) of each video name ``id<NNN>#video<MMMM>...``; a name
    without '#' carries none and is an error here (a dataset would take it as its own identity)."""
    for name in names:
        if "#" not in name:
            raise ValueError(f"video name {name!r} carries no identity (expected 'id<NNN>#video<MMMM>...')")
    return [identity_of(name) for name in names]


class IdentityProbe(nn.Module):
    """A small CNN classifier over figure identities; its penultimate layer is the embedding.

    frames (B,3,S,S) -> features (B,4c,S/8,S/8) -> global max -> {"embedding": (B,D) after
    ReLU, "logits": (B,num_identities)}.
    ``identities`` lists the class names (``id<NNN>``) in label order.
    """
    def __init__(self, *, identities: list[str], channels: int = 16, embedding_dim: int = 64,
                 image_size: int = PROBE_IMAGE_SIZE):
        super().__init__()
        if len(identities) < 2:
            raise ValueError(f"an identity probe needs at least 2 identities, got {identities}")
        self.config = {"identities": list(identities), "channels": int(channels),
                       "embedding_dim": int(embedding_dim), "image_size": int(image_size)}
        c = channels
        self.features = nn.Sequential(DownBlock(3, c), DownBlock(c, 2 * c), DownBlock(2 * c, 4 * c))
        self.embed = nn.Linear(4 * c, embedding_dim)
        self.classify = nn.Linear(embedding_dim, len(identities))

    def forward(self, frames: torch.Tensor) -> dict:
        frames = to_probe_size(frames, self.config["image_size"])
        # Global *max* pooling: the identity is the figure's colours, a small part of the frame.
        # Average pooling lets the background (new in every video) dominate, and the probe
        # then fails on unseen videos of a known figure.
        pooled = self.features(frames).amax(dim=(2, 3))                      # (B,4c)
        embedding = F.relu(self.embed(pooled))                               # (B,D)
        return {"embedding": embedding, "logits": self.classify(embedding)}

    @torch.no_grad()
    def embeddings(self, frames: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """frames (T,3,H,W) -> embeddings (T,D) on the CPU, in eval mode."""
        return self._run(frames, batch_size)["embedding"]

    @torch.no_grad()
    def classify_frames(self, frames: torch.Tensor, batch_size: int = 64) -> list[str]:
        """frames (T,3,H,W) -> the predicted identity name of each frame."""
        labels = self._run(frames, batch_size)["logits"].argmax(dim=1)
        return [self.config["identities"][i] for i in labels.tolist()]

    def _run(self, frames: torch.Tensor, batch_size: int) -> dict:
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        outs = [self(frames[s:s + batch_size].to(device)) for s in range(0, len(frames), batch_size)]
        self.train(was_training)
        return {key: torch.cat([o[key].cpu() for o in outs]) for key in outs[0]}


def identity_accuracy(probe: IdentityProbe, data, split: str = "train", frame_shape=None,
                      max_videos: int | None = None) -> float:
    """Share of frames whose identity the probe names correctly (chance: 1 / #identities)."""
    labelled = collect_frames(data, split, frame_shape, max_videos)
    predicted = probe.classify_frames(labelled.frames)
    truth = identities_of(labelled.names)
    return float(np.mean([p == t for p, t in zip(predicted, truth)]))


def train_identity_probe(data, steps: int = 300, batch_size: int = 32, lr: float = 2e-3,
                         channels: int = 16, embedding_dim: int = 64, seed: int = 0, device="cpu",
                         progress: bool = True, split: str = "train", frame_shape=None,
                         max_videos: int | None = None) -> IdentityProbe:
    """Train an IdentityProbe (cross-entropy over identities parsed from video names).

    data: anything ``collect_frames`` takes, with names ``id<NNN>#...``. Returns the probe
    in eval mode with ``train_seconds`` set.
    """
    labelled = collect_frames(data, split, frame_shape, max_videos)
    names = identities_of(labelled.names)
    identities = sorted(set(names))
    index = {name: i for i, name in enumerate(identities)}
    labels = torch.tensor([index[name] for name in names])                  # (N,)
    torch.manual_seed(seed)
    probe = IdentityProbe(identities=identities, channels=channels,
                          embedding_dim=embedding_dim).to(device).train()
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr)
    start = time.perf_counter()
    bar = tqdm(_sample_batches(len(labelled), batch_size, steps, seed), total=steps,
               desc="identity probe", disable=not progress, leave=False)
    for indices in bar:
        out = probe(labelled.frames[indices].to(device))
        loss = F.cross_entropy(out["logits"], labels[indices].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        bar.set_postfix(ce=f"{loss.item():.3f}")
    probe.train_seconds = time.perf_counter() - start
    return probe.eval()


# ----------------------------------------------------------------------------- saving

PROBE_KINDS = {"pose": PoseProbe, "identity": IdentityProbe}


def save_probe(path: str | Path, probe: PoseProbe | IdentityProbe) -> None:
    """Write {"kind", "config", "state_dict"} (plain tensors and containers)."""
    kind = {PoseProbe: "pose", IdentityProbe: "identity"}.get(type(probe))
    if kind is None:
        raise ValueError(f"save_probe takes a PoseProbe or IdentityProbe, got {type(probe).__name__}")
    atomic_save({"kind": kind, "config": dict(probe.config), "state_dict": probe.state_dict()}, path)


def load_probe(path: str | Path, device="cpu", kind: str | None = None) -> PoseProbe | IdentityProbe:
    """Read a probe written by save_probe (weights_only=True); eval mode on ``device``.

    kind: "pose" or "identity" to insist on one (a mismatch is an error naming both).
    """
    state = safe_torch_load(path)
    saved = state.get("kind") if isinstance(state, dict) else None
    if saved not in PROBE_KINDS:
        raise ValueError(f"{path} is not a pcut probe (kind {saved!r}, expected one of {sorted(PROBE_KINDS)})")
    if kind is not None and saved != kind:
        raise ValueError(f"{path} holds a {saved} probe, but a {kind} probe was asked for")
    probe = PROBE_KINDS[saved](**state["config"])
    probe.load_state_dict(state["state_dict"])
    return probe.to(device).eval()


# ----------------------------------------------------------------------------- console command

def add_train_probes_arguments(parser):
    """Flags of `pcut train-probes` (trains both probes on a synthetic dataset's train/ videos)."""
    parser.add_argument("--data", type=Path, required=True, metavar="DIR",
                        help="dataset root with train/ (and test/) videos and their .keypoints.npy")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="folder for pose_probe.pt and identity_probe.pt")
    parser.add_argument("--steps", type=int, default=300, metavar="N", help="steps per probe (default: %(default)s)")
    parser.add_argument("--max-videos", type=int, default=None, metavar="N", help="use only the first N videos")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def run_train_probes(args) -> int:
    """Train and save both probes; print their training time and a check on test/ when present."""
    labelled = collect_frames(args.data, "train", (PROBE_IMAGE_SIZE, PROBE_IMAGE_SIZE, 3), args.max_videos)
    common = dict(steps=args.steps, device=args.device, progress=not args.no_progress)
    pose = train_pose_probe(labelled, **common)
    identity = train_identity_probe(labelled, **common)
    args.out.mkdir(parents=True, exist_ok=True)
    save_probe(args.out / "pose_probe.pt", pose)
    save_probe(args.out / "identity_probe.pt", identity)
    print(f"pose probe: {pose.train_seconds:.1f} s, identity probe: {identity.train_seconds:.1f} s "
          f"({len(labelled)} frames); wrote {args.out / 'pose_probe.pt'} and {args.out / 'identity_probe.pt'}")
    if (Path(args.data) / "test").is_dir():
        test = collect_frames(args.data, "test", (PROBE_IMAGE_SIZE, PROBE_IMAGE_SIZE, 3), args.max_videos)
        if test.keypoints is not None:
            keypoints, _ = pose.predict(test.frames)
            akd = average_keypoint_distance(keypoints, test.keypoints, PROBE_IMAGE_SIZE)
            print(f"pose probe on test/ (unseen figures): AKD {akd:.2f} px against the true joints")
    return 0
