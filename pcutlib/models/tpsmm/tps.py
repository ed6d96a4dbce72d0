"""Thin-plate splines as TPSMM computes them (``modules/util.py``, class ``TPS``).

A thin-plate spline maps a point z to
    T(z) = A z + b + sum_i w_i U(|z - c_i|^2),   U(s) = s log(s + 1e-9)
i.e. U(r) = r^2 log(r^2 + 1e-9) of the Euclidean distance r; FOMM's equivariance warp
(``pcutlib.models.warping.RandomTPS``) uses U(r) = r^2 log(r + 1e-6) of the L1 distance instead.

Two uses, two classes:

* :class:`KeypointTPS` (TPSMM eq. 2): K transformations, each fitted to 5 keypoint pairs.
* :class:`RandomTPS`: a random warp for the equivariance loss.

Both return sampling grids: they map points of the frame being generated (the driving
frame) to where to read in the other one (backward warping), which is why
``KeypointTPS`` is fitted from driving keypoints to source keypoints.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from pcutlib.models.warping import make_coordinate_grid

REGULARISATION = 0.01   # TPSMM adds 0.01 I to the whole TPS system matrix
LOG_EPS = 1e-9


def tps_kernel(squared_distance: torch.Tensor) -> torch.Tensor:
    """U as a function of the squared distance s = r^2: s log(s + 1e-9). Any shape."""
    return squared_distance * torch.log(squared_distance + LOG_EPS)


class KeypointTPS:
    """K thin-plate splines, each through n = 5 control points (TPSMM eq. 2).

    Spline k maps driving keypoints onto source keypoints: T_k(p_ki^D) ~ p_ki^S. With the
    driving keypoints c_i = p_ki^D as control points, the parameters solve
        (L + 0.01 I) [w; a] = [p^S; 0],   L = [[U(|c_i - c_j|^2), P], [P^T, 0]],  P = [c_i, 1]
    and T_k(z) = a^T [z; 1] + sum_i w_i U(|z - c_i|^2).

    TPSMM quirk, kept: the 0.01 goes onto the whole (n+3) x (n+3) diagonal, the three zero
    rows of the side conditions (sum w_i = 0, sum w_i c_i = 0) included. It keeps the system
    solvable when keypoints coincide, but the side conditions then hold only approximately:
    T_k passes near, not through, the keypoints, and equal driving and source keypoints do not
    give the identity (the affine part is off by a few percent and the bending reaches the order
    of 0.1 in [-1, 1] coordinates far from the keypoints). ``regularisation=0`` gives the paper's
    exact interpolation. The system is solved with ``torch.linalg.solve``; TPSMM multiplies by
    the inverse, the same solution with more float32 rounding.

    kp_driving, kp_source: (B, K, n, 2) in [-1, 1]. Attributes: ``theta`` (B, K, 2, 3) = [A | b],
    ``control_points`` (B, K, n, 2) (the driving keypoints), ``control_params`` (B, K, n, 2) = w.
    """

    def __init__(self, kp_driving: torch.Tensor, kp_source: torch.Tensor,
                 regularisation: float = REGULARISATION):
        if kp_driving.dim() != 4 or kp_driving.shape[-1] != 2 or kp_driving.shape != kp_source.shape:
            raise ValueError(f"keypoints must both be (B, K, n, 2), got {tuple(kp_driving.shape)} "
                             f"and {tuple(kp_source.shape)}")
        batch, num_tps, n, _ = kp_driving.shape
        squared = ((kp_driving[:, :, :, None] - kp_driving[:, :, None, :]) ** 2).sum(-1)   # (B, K, n, n)
        homogeneous = torch.cat([kp_driving, torch.ones_like(kp_driving[..., :1])], dim=-1)  # (B, K, n, 3)
        zeros = kp_driving.new_zeros(batch, num_tps, 3, 3)
        system = torch.cat([torch.cat([tps_kernel(squared), homogeneous], dim=3),
                            torch.cat([homogeneous.transpose(2, 3), zeros], dim=3)], dim=2)  # (B, K, n+3, n+3)
        system = system + regularisation * torch.eye(n + 3, dtype=system.dtype, device=system.device)
        target = torch.cat([kp_source, kp_source.new_zeros(batch, num_tps, 3, 2)], dim=2)    # (B, K, n+3, 2)
        params = torch.linalg.solve(system, target)                                          # (B, K, n+3, 2)
        self.theta = params[:, :, n:].transpose(2, 3)                                        # (B, K, 2, 3)
        self.control_points = kp_driving
        self.control_params = params[:, :, :n]

    def warp_coordinates(self, coordinates: torch.Tensor) -> torch.Tensor:
        """(B, N, 2) or (1, N, 2) points -> (B, K, N, 2): T_k(z) for every spline k."""
        theta = self.theta.to(coordinates.dtype)
        affine = coordinates[:, None] @ theta[..., :2].transpose(2, 3) + theta[..., None, :, 2]   # (B, K, N, 2)
        difference = coordinates[:, None, None] - self.control_points[:, :, :, None].to(coordinates.dtype)
        radial = tps_kernel((difference ** 2).sum(-1))                                       # (B, K, n, N)
        return affine + radial.transpose(2, 3) @ self.control_params.to(coordinates.dtype)

    def grid(self, height: int, width: int) -> torch.Tensor:
        """The K sampling grids over an H x W frame: (B, K, H, W, 2)."""
        points = make_coordinate_grid(height, width, self.theta.dtype, self.theta.device).reshape(1, -1, 2)
        batch, num_tps = self.theta.shape[:2]
        return self.warp_coordinates(points).reshape(batch, num_tps, height, width, 2)


class RandomTPS:
    """A random warp for TPSMM's equivariance loss: one thin-plate spline per sample,
        T(z) = A z + b + sum_i w_i U(|z - c_i|^2)
    with [A | b] = ``theta`` (B, 2, 3), control points on a regular P x P grid
    (``control_points`` (1, P, P, 2)) and scalar weights w = ``control_params`` (B, 1, P*P).

    TPSMM quirk (as in FOMM), kept: each w_i is one number added to x and y alike, so the
    non-affine part moves points along the diagonal only.
    """

    def __init__(self, theta: torch.Tensor, control_points: torch.Tensor, control_params: torch.Tensor):
        if theta.dim() != 3 or theta.shape[1:] != (2, 3):
            raise ValueError(f"theta must be (B, 2, 3), got {tuple(theta.shape)}")
        if control_points.shape[-1] != 2 or control_params.shape != (theta.shape[0], 1, control_points[..., 0].numel()):
            raise ValueError(f"control_points must be (1, P, P, 2) and control_params (B, 1, P*P); got "
                             f"{tuple(control_points.shape)} and {tuple(control_params.shape)}")
        self.theta = theta
        self.control_points = control_points
        self.control_params = control_params

    @classmethod
    def random(cls, batch_size: int, sigma_affine: float, sigma_tps: float, points_tps: int,
               generator: torch.Generator | None = None) -> "RandomTPS":
        """theta = [I | 0] + N(0, sigma_affine^2); weights ~ N(0, sigma_tps^2) on a points_tps^2 grid
        (TPSMM's ``transform_params``). Drawn on the CPU from ``generator`` (None: torch's global RNG)."""
        theta = torch.eye(2, 3) + sigma_affine * torch.randn(batch_size, 2, 3, generator=generator)
        control_points = make_coordinate_grid(points_tps, points_tps).unsqueeze(0)
        control_params = sigma_tps * torch.randn(batch_size, 1, points_tps ** 2, generator=generator)
        return cls(theta, control_points, control_params)

    def to(self, device) -> "RandomTPS":
        return RandomTPS(self.theta.to(device), self.control_points.to(device), self.control_params.to(device))

    def warp_coordinates(self, coordinates: torch.Tensor) -> torch.Tensor:
        """(B, N, 2) or (1, N, 2) points -> (B, N, 2): T(z)."""
        theta = self.theta.to(coordinates.dtype)[:, None]                                   # (B, 1, 2, 3)
        affine = (theta[..., :2] @ coordinates.unsqueeze(-1)).squeeze(-1) + theta[..., 2]   # (B, N, 2)
        control_points = self.control_points.to(coordinates.dtype).reshape(1, 1, -1, 2)
        radial = tps_kernel(((coordinates[:, :, None] - control_points) ** 2).sum(-1))       # (B, N, P*P)
        return affine + (radial * self.control_params.to(coordinates.dtype)).sum(dim=2, keepdim=True)

    def grid(self, height: int, width: int) -> torch.Tensor:
        """The sampling grid over an H x W frame (TPSMM's ``transform_frame``): (B, H, W, 2)."""
        points = make_coordinate_grid(height, width, self.theta.dtype, self.theta.device).reshape(1, -1, 2)
        return self.warp_coordinates(points).reshape(self.theta.shape[0], height, width, 2)

    def transform_frame(self, frame: torch.Tensor) -> torch.Tensor:
        """The frame (B, C, H, W) read at T(z): (B, C, H, W), reflection padding, align_corners=True."""
        grid = self.grid(frame.shape[2], frame.shape[3]).to(frame.dtype)
        return F.grid_sample(frame, grid, mode="bilinear", padding_mode="reflection", align_corners=True)
