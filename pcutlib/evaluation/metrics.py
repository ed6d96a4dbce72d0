"""Image, keypoint and identity metrics of the FOMM evaluation protocol (docs/algorithm.md, evaluation).

Image metrics take frames in [0,1], shaped (T,3,H,W) (a video) or (B,3,H,W) (a batch),
prediction first, and return one Python float for the whole tensor:
    L1   = mean |pred - real|                     over all pixels, channels and frames
    PSNR = 10 log10(data_range^2 / MSE),          MSE over all pixels, channels and frames
    SSIM = mean over frames of SSIM (Gaussian window 11, sigma 1.5; Wang et al. 2004)
    LPIPS (optional, AlexNet features; needs torchvision + the `lpips` package)

Keypoint and identity metrics accept detections from *any* detector, so the same
functions serve our synthetic probes (``pcutlib.evaluation.probes``), face alignment for faces, and
a body-pose detector for Tai-Chi. The interface of a detector:

    detector(frames (T,3,H,W) in [0,1]) -> (keypoints (T,J,2), found (T,J) bool)

keypoints in [-1,1], x first, pixel i of N at 2i/(N-1) - 1 (``pcutlib.coordinates``); ``found``
is False where the detector saw no keypoint (its coordinates are then ignored). A body-
pose detector (OpenPose, MMPose, ...) is adapted by converting its pixel coordinates
``(x_px, y_px)`` to ``2 x_px / (W-1) - 1`` (same for y with H) and its per-joint scores to
``found = score >= threshold``. Identity embedders map frames (T,3,H,W) to (T,D).
    AKD = mean ||k_pred - k_real||_2 in pixels over keypoints found in both frames
    MKR = #(found in real and missing in pred) / #(found in real)
    AED = mean over frames of ||e_pred - e_real||_2

The ``*_per_frame`` functions score each frame on its own, as FOMM's evaluation code
(AliaksandrSiarohin/pose-evaluation) does before it averages over all frames of all videos;
each returns a (T,) float64 array with NaN where a frame has nothing to score (see
``pcutlib.evaluation.protocols.fomm_frame_metrics`` for the averages and their names).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_msssim import ssim as ssim_pytorch

from pcutlib.coordinates import keypoints_to_pixels, pixels_to_keypoints

LPIPS_INSTALL_HINT = ('LPIPS needs the `lpips` package and a torchvision that matches your torch build: '
                      'install torchvision for your platform (see README), then `pip install -e ".[vision]"`')
FACE_ALIGNMENT_INSTALL_HINT = ('face alignment needs the `face-alignment` package (and torchvision): install '
                               'torchvision for your platform (see README), then `pip install -e ".[vision]"`')

Detector = Callable[[torch.Tensor], "tuple[torch.Tensor, torch.Tensor]"]


# ----------------------------------------------------------------------------- ranking

def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve of ``scores`` for boolean ``labels`` (Mann-Whitney, ties halved).

    nan when one class is empty.
    """
    scores, labels = scores.flatten().double(), labels.flatten().bool()
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return math.nan
    order = torch.argsort(scores)
    sorted_scores = scores[order]
    _, inverse, counts = torch.unique(sorted_scores, return_inverse=True, return_counts=True)
    mean_rank = torch.cumsum(counts, 0).double() - (counts.double() - 1) / 2      # tied ranks averaged
    ranks = torch.empty_like(scores)
    ranks[order] = mean_rank[inverse]
    rank_sum = ranks[labels].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


# ----------------------------------------------------------------------------- image metrics

def check_frames(pred: torch.Tensor, real: torch.Tensor) -> None:
    """Both (N,3,H,W) with the same shape; raise ValueError naming the bad shapes otherwise."""
    if pred.dim() != 4 or real.dim() != 4:
        raise ValueError(f"frames must be (T,3,H,W) or (B,3,H,W), got pred {tuple(pred.shape)} "
                         f"and real {tuple(real.shape)}")
    if pred.shape != real.shape:
        raise ValueError(f"pred and real frames differ in shape: {tuple(pred.shape)} vs {tuple(real.shape)}")


def percent_below(value: float, baseline: float) -> float:
    """How far ``value`` lies below ``baseline``, in percent of the baseline (negative: above)."""
    return 100 * (1 - value / baseline)


def l1(pred: torch.Tensor, real: torch.Tensor) -> float:
    """Mean absolute difference over all pixels, channels and frames. pred, real (T,3,H,W)."""
    check_frames(pred, real)
    return float((pred.double() - real.double()).abs().mean())


def psnr(pred: torch.Tensor, real: torch.Tensor, data_range: float = 1.0) -> float:
    """PSNR = 10 log10(data_range^2 / MSE), MSE over all pixels and frames (inf when equal).

    Pooling the MSE over the whole video (rather than averaging per-frame PSNRs) keeps the
    value finite when some frames match exactly, e.g. frame 0 of the copy-source baseline.
    """
    check_frames(pred, real)
    if data_range <= 0:
        raise ValueError(f"data_range must be > 0, got {data_range}")
    mse = float(((pred.double() - real.double()) ** 2).mean())
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range ** 2 / mse)


SSIM_WINDOW = 11  # Wang et al.'s Gaussian window (sigma 1.5); fits 64 px frames easily


def ssim(pred: torch.Tensor, real: torch.Tensor, data_range: float = 1.0,
         window: int = SSIM_WINDOW) -> float:
    """Mean SSIM over frames (pytorch_msssim.ssim, Gaussian window ``window``, sigma 1.5).

    pytorch_msssim filters without padding and silently skips the smoothing along a side
    shorter than the window, so frames must be at least ``window`` pixels on each side.
    (Its MS-SSIM needs sides > 160 px for window 11: too large for 64 px frames.)
    """
    check_frames(pred, real)
    if window % 2 != 1:
        raise ValueError(f"the SSIM window must be odd, got {window}")
    if min(pred.shape[2:]) < window:
        raise ValueError(f"SSIM with window {window} needs frames of at least {window}x{window} pixels, "
                         f"got {tuple(pred.shape[2:])}")
    value = ssim_pytorch(pred.float(), real.float(), data_range=data_range, win_size=window,
                         size_average=True)
    return float(value)


def _gaussian_window(window: int, sigma: float = 1.5) -> torch.Tensor:
    """1-D Gaussian weights (window,), summing to 1, centred on the middle tap."""
    taps = torch.arange(window, dtype=torch.float64) - window // 2
    weights = torch.exp(-taps ** 2 / (2 * sigma ** 2))
    return weights / weights.sum()


def ssim_map(pred: torch.Tensor, real: torch.Tensor, data_range: float = 1.0,
             window: int = SSIM_WINDOW) -> torch.Tensor:
    """SSIM at each pixel, channels averaged: pred, real (T,3,H,W) -> (T, H-w+1, W-w+1), w = window.

    Wang et al. (2004) with Gaussian statistics (sigma 1.5) over valid windows, the formula
    and filtering of pytorch_msssim (so ``ssim_map(...).mean()`` equals :func:`ssim`):
        SSIM = (2 mu_p mu_r + C1)(2 sigma_pr + C2) / ((mu_p^2 + mu_r^2 + C1)(sigma_p^2 + sigma_r^2 + C2)),
        C1 = (0.01 R)^2, C2 = (0.03 R)^2, R = data_range.
    Map pixel (i, j) is the window centred on image pixel (i + w//2, j + w//2).
    """
    check_frames(pred, real)
    if window % 2 != 1 or min(pred.shape[2:]) < window:
        raise ValueError(f"the SSIM window must be odd and fit the frames, got window {window} for frames "
                         f"{tuple(pred.shape[2:])}")
    weights = _gaussian_window(window).to(pred.device)
    channels = pred.shape[1]
    rows = weights.view(1, 1, window, 1).expand(channels, 1, window, 1)
    columns = weights.view(1, 1, 1, window).expand(channels, 1, 1, window)
    blur = lambda x: F.conv2d(F.conv2d(x, rows, groups=channels), columns, groups=channels)  # noqa: E731
    p, r = pred.double(), real.double()
    mu_p, mu_r = blur(p), blur(r)                                              # (T,3,H',W')
    var_p, var_r = blur(p * p) - mu_p ** 2, blur(r * r) - mu_r ** 2
    covariance = blur(p * r) - mu_p * mu_r
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    value = ((2 * mu_p * mu_r + c1) * (2 * covariance + c2)) / ((mu_p ** 2 + mu_r ** 2 + c1) * (var_p + var_r + c2))
    return value.mean(dim=1)                                                   # (T,H',W')


def lpips_available() -> bool:
    """Whether the optional `lpips` package (and its torchvision) can be imported."""
    try:
        import lpips  # noqa: F401
    except Exception:  # ImportError, or a torchvision that does not match torch
        return False
    return True


@lru_cache(maxsize=2)
def _lpips_network(net: str, device: str):
    """The LPIPS network, built once per (net, device)."""
    import lpips

    return lpips.LPIPS(net=net, verbose=False).to(device).eval()


@torch.no_grad()
def lpips_distance(pred: torch.Tensor, real: torch.Tensor, net: str = "alex", batch_size: int = 32) -> float:
    """Mean LPIPS (Zhang et al. 2018) over frames; pred, real (T,3,H,W) in [0,1].

    Raises RuntimeError with the install command when `lpips` is not importable.
    """
    check_frames(pred, real)
    if not lpips_available():
        raise RuntimeError(LPIPS_INSTALL_HINT)
    network = _lpips_network(net, str(pred.device))
    distances = []
    for start in range(0, len(pred), batch_size):
        # LPIPS expects [-1,1]: x -> 2x - 1
        a = pred[start:start + batch_size].float() * 2 - 1
        b = real[start:start + batch_size].float() * 2 - 1
        distances.append(network(a, b).flatten().double().cpu())      # (b,)
    return float(torch.cat(distances).mean())


# ----------------------------------------------------------------------------- keypoint metrics

def _as_array(value) -> np.ndarray:
    """A tensor (any device) or array-like -> numpy array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _check_keypoints(pred_kp: np.ndarray, real_kp: np.ndarray) -> None:
    if pred_kp.ndim < 2 or pred_kp.shape[-1] != 2 or pred_kp.shape != real_kp.shape:
        raise ValueError(f"keypoints must both be (T,J,2) of the same shape, got pred {pred_kp.shape} "
                         f"and real {real_kp.shape}")


def _found_flags(found, shape: tuple, name: str) -> np.ndarray:
    """found (T,J) booleans, or all True when None."""
    if found is None:
        return np.ones(shape, dtype=bool)
    found = _as_array(found).astype(bool)
    if found.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (the keypoints without their last axis), "
                         f"got {found.shape}")
    return found


def _in_pixels(keypoints, image_size) -> np.ndarray:
    """(...,2) coordinates in [-1,1] -> float64 pixel positions (``keypoints_to_pixels``).

    image_size: an int (square frames) or (H, W).
    """
    height, width = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)
    return keypoints_to_pixels(_as_array(keypoints).astype(np.float64), height, width)


def average_keypoint_distance(pred_kp, real_kp, image_size, pred_found=None, real_found=None) -> float:
    """AKD: mean Euclidean distance in pixels between corresponding keypoints.

    pred_kp, real_kp (T,J,2) in [-1,1] (tensors or arrays); image_size int or (H, W);
    pred_found, real_found (T,J) booleans (None = all found). Only keypoints found in both
    count:  AKD = sum_{t,j} m_tj ||p_tj - r_tj||_2 / sum_{t,j} m_tj, m = pred_found & real_found.
    NaN when no keypoint is found in both.
    """
    pred_kp, real_kp = _as_array(pred_kp), _as_array(real_kp)
    _check_keypoints(pred_kp, real_kp)
    both = (_found_flags(pred_found, pred_kp.shape[:-1], "pred_found")
            & _found_flags(real_found, real_kp.shape[:-1], "real_found"))
    if not both.any():
        return math.nan
    distance = np.linalg.norm(_in_pixels(pred_kp, image_size) - _in_pixels(real_kp, image_size), axis=-1)
    return float(distance[both].mean())


def missing_keypoint_rate(pred_found, real_found) -> float:
    """MKR: share of keypoints found in the real frame but missing in the generated one.

    pred_found, real_found (T,J) booleans.  MKR = #(real & ~pred) / #(real); NaN when the
    real frames have no keypoint at all.
    """
    pred_found = _as_array(pred_found).astype(bool)
    real_found = _as_array(real_found).astype(bool)
    if pred_found.shape != real_found.shape:
        raise ValueError(f"pred_found and real_found differ in shape: {pred_found.shape} vs {real_found.shape}")
    total = int(real_found.sum())
    if total == 0:
        return math.nan
    return float((real_found & ~pred_found).sum() / total)


def average_euclidean_distance(pred_embedding, real_embedding) -> float:
    """AED: mean over frames of ||e_pred - e_real||_2; embeddings (T,D) (tensors or arrays)."""
    pred_embedding = _as_array(pred_embedding).astype(np.float64)
    real_embedding = _as_array(real_embedding).astype(np.float64)
    if pred_embedding.ndim != 2 or pred_embedding.shape != real_embedding.shape:
        raise ValueError(f"embeddings must both be (T,D) of the same shape, got pred {pred_embedding.shape} "
                         f"and real {real_embedding.shape}")
    return float(np.linalg.norm(pred_embedding - real_embedding, axis=-1).mean())


# ----------------------------------------------------------------------------- per frame (FOMM's pose-evaluation)

PSNR_CAP_DB = 100.0   # per-frame PSNR of identical frames (MSE 0) is infinite: capped so that means stay finite


def l1_per_frame(pred: torch.Tensor, real: torch.Tensor) -> np.ndarray:
    """(T,3,H,W) x 2 -> (T,): mean |pred - real| of each frame (pose-evaluation's cmp.py on pixels)."""
    check_frames(pred, real)
    return (pred.double() - real.double()).abs().flatten(1).mean(1).cpu().numpy()


def psnr_per_frame(pred: torch.Tensor, real: torch.Tensor, data_range: float = 1.0) -> np.ndarray:
    """(T,3,H,W) x 2 -> (T,): 10 log10(R^2 / MSE_t) per frame, at most PSNR_CAP_DB (MSE_t = 0)."""
    check_frames(pred, real)
    mse = ((pred.double() - real.double()) ** 2).flatten(1).mean(1).cpu().numpy()
    floor = data_range ** 2 / 10 ** (PSNR_CAP_DB / 10)
    return 10 * np.log10(data_range ** 2 / np.maximum(mse, floor))


def ssim_per_frame(pred: torch.Tensor, real: torch.Tensor, data_range: float = 1.0) -> np.ndarray:
    """(T,3,H,W) x 2 -> (T,): the mean of each frame's SSIM map (:func:`ssim_map`)."""
    return ssim_map(pred, real, data_range).flatten(1).mean(1).cpu().numpy()


def keypoint_distance_per_frame(pred_kp, real_kp, image_size, pred_found=None, real_found=None) -> np.ndarray:
    """(T,J,2) x 2 -> (T,): per frame, the mean Euclidean distance in pixels over the keypoints
    found in both frames; NaN for a frame with none found in both. Inputs as
    :func:`average_keypoint_distance`."""
    pred_kp, real_kp = _as_array(pred_kp), _as_array(real_kp)
    _check_keypoints(pred_kp, real_kp)
    both = (_found_flags(pred_found, pred_kp.shape[:-1], "pred_found")
            & _found_flags(real_found, real_kp.shape[:-1], "real_found"))                # (T,J)
    distance = np.linalg.norm(_in_pixels(pred_kp, image_size) - _in_pixels(real_kp, image_size), axis=-1)
    counts = both.sum(axis=1)
    total = np.where(both, distance, 0.0).sum(axis=1)
    return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)


def missing_keypoints_per_frame(pred_found, real_found) -> np.ndarray:
    """(T,J) x 2 -> (T,): per frame, #(found in real & missing in pred) / #(found in real);
    NaN for a frame whose real image has no keypoint."""
    pred_found = _as_array(pred_found).astype(bool)
    real_found = _as_array(real_found).astype(bool)
    if pred_found.shape != real_found.shape or pred_found.ndim != 2:
        raise ValueError(f"pred_found and real_found must both be (T,J), got {pred_found.shape} and "
                         f"{real_found.shape}")
    counts = real_found.sum(axis=1)
    missing = (real_found & ~pred_found).sum(axis=1)
    return np.where(counts > 0, missing / np.maximum(counts, 1), np.nan)


def embedding_difference_per_frame(pred_embedding, real_embedding) -> np.ndarray:
    """(T,D) x 2 -> (T,): mean over the D dimensions of |e_pred - e_real|, per frame: what
    pose-evaluation's cmp.py computes for AED (a mean absolute difference, not a Euclidean norm)."""
    pred_embedding = _as_array(pred_embedding).astype(np.float64)
    real_embedding = _as_array(real_embedding).astype(np.float64)
    if pred_embedding.ndim != 2 or pred_embedding.shape != real_embedding.shape:
        raise ValueError(f"embeddings must both be (T,D) of the same shape, got pred {pred_embedding.shape} "
                         f"and real {real_embedding.shape}")
    return np.abs(pred_embedding - real_embedding).mean(axis=1)


# ----------------------------------------------------------------------------- external detectors

def face_alignment_detector(device: str = "cpu", num_landmarks: int = 68) -> Detector:
    """A detector for faces (the 68 landmarks of Bulat & Tzimiropoulos' face-alignment).

    Returns ``detect(frames (T,3,H,W) in [0,1]) -> (keypoints (T,68,2) in [-1,1], found (T,68))``.
    A frame without a detected face has all landmarks missing; with several faces the
    first is taken. Imports face_alignment lazily; raises RuntimeError with the install
    command when it is missing.
    """
    try:
        import face_alignment
    except Exception as error:
        raise RuntimeError(f"{FACE_ALIGNMENT_INSTALL_HINT} ({type(error).__name__}: {error})") from None
    landmarks_type = getattr(face_alignment.LandmarksType, "TWO_D", None) or face_alignment.LandmarksType._2D
    aligner = face_alignment.FaceAlignment(landmarks_type, flip_input=False, device=device)

    def detect(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        height, width = frames.shape[2:]
        keypoints = torch.zeros(len(frames), num_landmarks, 2)
        found = torch.zeros(len(frames), num_landmarks, dtype=torch.bool)
        images = (frames.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()  # (T,H,W,3)
        for t, image in enumerate(images):
            faces = aligner.get_landmarks(image)
            if not faces:
                continue
            pixels = torch.as_tensor(np.asarray(faces[0])[:, :2], dtype=torch.float32)  # (68,2) x, y
            keypoints[t] = pixels_to_keypoints(pixels, height, width)
            found[t] = True
        return keypoints, found

    return detect
