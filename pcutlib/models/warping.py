"""Warping: coordinate grids, keypoint heatmaps, local affine motion, image deformation.

Coordinates everywhere are in [-1, 1], x first, with -1 and 1 at the *centres* of the
first and last pixel: pixel i of N sits at 2i/(N-1) - 1. With that convention
``grid_sample(..., align_corners=True)`` maps an identity grid back to the image exactly,
which is how FOMM was trained (torch 1.0 behaved as align_corners=True).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def make_coordinate_grid(height: int, width: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """Pixel-centre coordinates of an image.

    Returns (H, W, 2) with ``grid[i, j] = (x_j, y_i)``, x_j = 2j/(W-1) - 1, y_i = 2i/(H-1) - 1.
    """
    if height < 2 or width < 2:
        raise ValueError(f"coordinate grid needs at least 2x2 pixels, got {height}x{width}")
    x = torch.arange(width, dtype=dtype, device=device)
    y = torch.arange(height, dtype=dtype, device=device)
    x = 2 * (x / (width - 1)) - 1
    y = 2 * (y / (height - 1)) - 1
    yy = y.view(-1, 1).expand(height, width)
    xx = x.view(1, -1).expand(height, width)
    return torch.stack([xx, yy], dim=-1)


def keypoints_to_gaussian(keypoints: torch.Tensor, height: int, width: int,
                          variance: float = 0.01) -> torch.Tensor:
    """Gaussian-like heatmap around each keypoint (FOMM's ``kp2gaussian``).

    H_k(z) = exp(-|z - p_k|^2 / (2 * variance))

    keypoints: (..., K, 2) in [-1,1]. Returns (..., K, H, W).
    """
    grid = make_coordinate_grid(height, width, keypoints.dtype, keypoints.device)  # (H, W, 2)
    difference = grid - keypoints[..., None, None, :]                             # (..., K, H, W, 2)
    return torch.exp(-0.5 * (difference ** 2).sum(-1) / variance)


def local_affine_motions(kp_source: dict, kp_driving: dict, height: int, width: int) -> torch.Tensor:
    """Backward motion for each keypoint plus an identity background motion.

    For keypoint k (FOMM eq. 4), a driving-frame point z is mapped into the source frame by
        T_k(z) = p_k^S + J_k (z - p_k^D),   J_k = J_k^S (J_k^D)^-1
    (J_k = identity when the keypoints carry no jacobians). Channel 0 is the background,
    T_0(z) = z.

    kp_*["value"]: (B, K, 2); optional kp_*["jacobian"]: (B, K, 2, 2).
    Returns (B, K+1, H, W, 2) sampling grids.
    """
    source_value, driving_value = kp_source["value"], kp_driving["value"]
    batch, num_kp, _ = driving_value.shape
    identity = make_coordinate_grid(height, width, source_value.dtype, source_value.device)  # (H, W, 2)
    relative = identity[None, None] - driving_value[:, :, None, None, :]                     # (B, K, H, W, 2)
    if "jacobian" in kp_driving:
        jacobian = kp_source["jacobian"] @ torch.inverse(kp_driving["jacobian"])             # (B, K, 2, 2)
        relative = (jacobian[:, :, None, None] @ relative.unsqueeze(-1)).squeeze(-1)
    keypoint_motions = relative + source_value[:, :, None, None, :]                          # (B, K, H, W, 2)
    background = identity[None, None].expand(batch, 1, height, width, 2)
    return torch.cat([background, keypoint_motions], dim=1)


def deform(image: torch.Tensor, grid: torch.Tensor, padding_mode: str = "zeros",
           aligned_resize: bool = False) -> torch.Tensor:
    """Backward warp: ``out[..., i, j] = image sampled at grid[:, i, j]`` (bilinear).

    image: (B, C, H, W); grid: (B, h, w, 2) in [-1,1], x first. When the grid's size
    differs from the image's, the grid is first resized bilinearly to (H, W) (FOMM's
    generator does this for feature maps), with ``align_corners=aligned_resize``: False is
    FOMM's, True TPSMM's (see ``resize_bilinear``). Returns (B, C, H, W) or (B, C, h, w)
    when the sizes already match.
    """
    if grid.shape[1:3] != image.shape[2:]:
        grid = resize_bilinear(grid.permute(0, 3, 1, 2), image.shape[2:], aligned_resize).permute(0, 2, 3, 1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)


def resize_bilinear(maps: torch.Tensor, size, aligned: bool) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, *size), bilinear; the dense motion network's flow and occlusion map
    on their way to the features' size.

    aligned=True (``align_corners=True``, TPSMM's choice) keeps pixel i of n at 2i/(n-1) - 1, the
    convention of ``make_coordinate_grid``, so an identity flow stays the identity. aligned=False
    (FOMM's ``F.interpolate`` default) zooms it: from 32 to 64 pixels a flow that moves nothing
    reads each pixel up to 0.49 px away, more the nearer the border.
    """
    return F.interpolate(maps, size=tuple(size), mode="bilinear", align_corners=aligned)


class AntiAliasDownsample(nn.Module):
    """Band-limited downsampling: Gaussian blur (sigma = (1/scale - 1)/2), then nearest.

    (B, C, H, W) -> (B, C, H*scale, W*scale). scale = 1 returns the input unchanged.
    """

    def __init__(self, channels: int, scale: float):
        super().__init__()
        if not 0 < scale <= 1:
            raise ValueError(f"downsampling scale must be in (0, 1], got {scale}")
        self.scale = scale
        sigma = (1 / scale - 1) / 2
        kernel_size = 2 * round(sigma * 4) + 1
        self.pad_before = kernel_size // 2
        self.pad_after = self.pad_before - 1 if kernel_size % 2 == 0 else self.pad_before
        position = torch.arange(kernel_size, dtype=torch.float32) - (kernel_size - 1) / 2
        gaussian_1d = torch.exp(-position ** 2 / (2 * sigma ** 2)) if sigma > 0 else torch.ones(1)
        kernel = gaussian_1d[:, None] * gaussian_1d[None, :]
        kernel = kernel / kernel.sum()
        # depthwise weight, one copy of the kernel per channel: (C, 1, k, k)
        self.register_buffer("weight", kernel.expand(channels, 1, kernel_size, kernel_size).clone())
        self.groups = channels

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if self.scale == 1:
            return image
        padding = (self.pad_before, self.pad_after, self.pad_before, self.pad_after)
        blurred = F.conv2d(F.pad(image, padding), weight=self.weight, groups=self.groups)
        return F.interpolate(blurred, scale_factor=(self.scale, self.scale))


def scale_key(scale: float) -> str:
    """Name a pyramid level as FOMM does: 1 -> "1", 0.5 -> "0.5"."""
    return str(scale)


class ImagePyramid(nn.Module):
    """Anti-aliased copies of an image at several scales.

    (B, C, H, W) -> {"prediction_<scale>": (B, C, H*scale, W*scale)} (FOMM's key names).
    """

    def __init__(self, scales, num_channels: int = 3):
        super().__init__()
        self.scales = list(scales)
        self.downs = nn.ModuleList(AntiAliasDownsample(num_channels, s) for s in self.scales)

    def forward(self, image: torch.Tensor) -> dict:
        return {f"prediction_{scale_key(s)}": down(image) for s, down in zip(self.scales, self.downs)}


class RandomTPS:
    """Random affine + thin-plate-spline warp for the equivariance losses (FOMM sec. 3.3).

    A point z is mapped to
        T(z) = A z + b + sum_i w_i U(|z - c_i|_1),   U(r) = r^2 log(r + 1e-6)
    with [A | b] = ``theta`` (B, 2, 3), control points c (1, P, P, 2) on a regular grid and
    weights w = ``control_params`` (B, 1, P*P). Build at random with :meth:`random` or from
    explicit parameters with the constructor (``control_points``/``control_params`` None =
    affine only).
    """

    def __init__(self, theta: torch.Tensor, control_points: torch.Tensor | None = None,
                 control_params: torch.Tensor | None = None):
        if theta.dim() != 3 or theta.shape[1:] != (2, 3):
            raise ValueError(f"theta must be (B, 2, 3), got {tuple(theta.shape)}")
        if (control_points is None) != (control_params is None):
            raise ValueError("give both control_points and control_params, or neither")
        self.theta = theta
        self.control_points = control_points
        self.control_params = control_params
        self.batch_size = theta.shape[0]

    @classmethod
    def random(cls, batch_size: int, sigma_affine: float, sigma_tps: float | None = None,
               points_tps: int | None = None, generator: torch.Generator | None = None,
               device=None) -> "RandomTPS":
        """theta = I + N(0, sigma_affine^2); TPS weights ~ N(0, sigma_tps^2) on a points_tps^2 grid."""
        noise = torch.randn(batch_size, 2, 3, generator=generator) * sigma_affine
        theta = noise + torch.eye(2, 3).view(1, 2, 3)
        control_points = control_params = None
        if sigma_tps is not None and points_tps is not None:
            control_points = make_coordinate_grid(points_tps, points_tps).unsqueeze(0)
            control_params = torch.randn(batch_size, 1, points_tps ** 2, generator=generator) * sigma_tps
        tps = cls(theta, control_points, control_params)
        return tps.to(device) if device is not None else tps

    def to(self, device) -> "RandomTPS":
        move = (lambda t: None if t is None else t.to(device))
        return RandomTPS(move(self.theta), move(self.control_points), move(self.control_params))

    def warp_coordinates(self, coordinates: torch.Tensor) -> torch.Tensor:
        """(B, N, 2) -> (B, N, 2): T(z) for each point (a batch of 1 broadcasts)."""
        theta = self.theta.to(coordinates.dtype).unsqueeze(1)                       # (B, 1, 2, 3)
        warped = (theta[..., :2] @ coordinates.unsqueeze(-1) + theta[..., 2:]).squeeze(-1)
        if self.control_points is not None:
            control_points = self.control_points.to(coordinates.dtype).reshape(1, 1, -1, 2)
            distances = (coordinates.unsqueeze(2) - control_points).abs().sum(-1)  # (B, N, P*P)
            radial = distances ** 2 * torch.log(distances + 1e-6)
            weights = self.control_params.to(coordinates.dtype)                     # (B, 1, P*P)
            warped = warped + (radial * weights).sum(dim=2, keepdim=True)
        return warped

    def transform_frame(self, frame: torch.Tensor) -> torch.Tensor:
        """Warp images (B, C, H, W) by T, with reflection padding."""
        batch, _, height, width = frame.shape
        grid = make_coordinate_grid(height, width, frame.dtype, frame.device).reshape(1, -1, 2)
        grid = self.warp_coordinates(grid.expand(self.batch_size, -1, -1))
        grid = grid.reshape(self.batch_size, height, width, 2)
        return F.grid_sample(frame, grid, padding_mode="reflection", align_corners=True)

    def jacobian(self, coordinates: torch.Tensor) -> torch.Tensor:
        """dT/dz at each point, by autograd: (B, N, 2) -> (B, N, 2, 2), rows = output x, y."""
        with torch.enable_grad():
            if not coordinates.requires_grad:
                coordinates = coordinates.detach().requires_grad_(True)
            warped = self.warp_coordinates(coordinates)
            grad_x, = torch.autograd.grad(warped[..., 0].sum(), coordinates, create_graph=True)
            grad_y, = torch.autograd.grad(warped[..., 1].sum(), coordinates, create_graph=True)
        return torch.stack([grad_x, grad_y], dim=-2)


def check_image(image: torch.Tensor, name: str, channels: int | None = None) -> None:
    """Raise a ValueError naming ``name`` unless image is (B, C, H, W) with ``channels`` channels."""
    if not torch.is_tensor(image) or image.dim() != 4:
        shape = tuple(image.shape) if torch.is_tensor(image) else type(image).__name__
        raise ValueError(f"{name} must be a (B, C, H, W) tensor, got {shape}")
    if channels is not None and image.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels (num_channels), got "
                         f"{image.shape[1]} in shape {tuple(image.shape)}")


def check_keypoints(kp: dict, name: str, num_kp: int | None = None, batch: int | None = None) -> None:
    """Raise a ValueError naming ``name`` unless kp is {"value": (B,K,2), "jacobian": (B,K,2,2)?}."""
    if not isinstance(kp, dict) or "value" not in kp:
        raise ValueError(f"{name} must be a dict with a 'value' tensor (B, K, 2), got {type(kp).__name__}")
    value = kp["value"]
    if value.dim() != 3 or value.shape[-1] != 2:
        raise ValueError(f"{name}['value'] must be (B, K, 2), got {tuple(value.shape)}")
    if num_kp is not None and value.shape[1] != num_kp:
        raise ValueError(f"{name}['value'] has {value.shape[1]} keypoints, the model expects "
                         f"num_kp={num_kp}")
    if batch is not None and value.shape[0] != batch:
        raise ValueError(f"{name}['value'] has batch {value.shape[0]}, the image has batch {batch}")
    if "jacobian" in kp and kp["jacobian"].shape != (*value.shape[:2], 2, 2):
        raise ValueError(f"{name}['jacobian'] must be {(*value.shape[:2], 2, 2)}, "
                         f"got {tuple(kp['jacobian'].shape)}")
