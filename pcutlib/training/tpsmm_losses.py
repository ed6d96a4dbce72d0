"""TPSMM's training objective, besides the perceptual pyramid it shares with FOMM
(``losses.PerceptualPyramidLoss``): as TPSMM's code computes it (``modules/model.py``,
``GeneratorFullModel``; docs/tpsmm.md, training).

    L = L_perceptual + L_equivariance + L_warp + L_bg

- equivariance: the driving frame warped by a random TPS (``tps.RandomTPS``, reflection
  padding), its keypoints detected and mapped back by that TPS, against the driving frame's
  keypoints: w mean |kp(D) - T(kp(T(D)))|. Keypoints only: TPSMM has no jacobians.
- warp: the driving frame's encoder maps times the occlusion masks (``get_encode``, detached)
  against the warped and occluded source maps the inpainting network decoded from, level by
  level: w sum_l mean |E_l(D) O_l - W_l(E_l(S)) O_l|.
- background: the background motion from source to driving composed with the one from
  driving to source should be the identity: w mean |I - A(S, D) A(D, S)|, from epoch
  ``bg_start`` on (before it the background does not move and the predictor does not train).
- TPS dropout: until ``dropout_epoch`` each TPS's contribution map is dropped with a
  probability rising with the epoch (``tps_dropout_probability``).

Each function returns named scalar tensors already multiplied by their weight, so that the
step sums and logs them one by one, with TPSMM's names.
"""
from __future__ import annotations

import torch

from pcutlib.models.tpsmm.tps import RandomTPS


def tps_dropout_probability(epoch: int, dropout_epoch: int, dropout_maxp: float, dropout_startp: float,
                            dropout_inc_epoch: int) -> float | None:
    """The TPS dropout probability of an epoch: None (no dropout) from ``dropout_epoch`` on, else

        p = min(epoch / dropout_inc_epoch * dropout_maxp + dropout_startp, dropout_maxp)

    TPSMM's formula, kept: the slope is maxp / inc_epoch, not (maxp - startp) / inc_epoch, so p
    reaches maxp before epoch inc_epoch (vox-256: 0.1, 0.13, ..., 0.3 from epoch 7 to 34).
    """
    if dropout_inc_epoch <= 0:
        raise ValueError(f"dropout_inc_epoch must be positive, got {dropout_inc_epoch}")
    if epoch >= dropout_epoch:
        return None
    return min(epoch / dropout_inc_epoch * dropout_maxp + dropout_startp, dropout_maxp)


def tps_equivariance_loss(kp_detector, driving: torch.Tensor, kp_driving: torch.Tensor, transform_params: dict,
                          weight: float, generator: torch.Generator | None = None) -> tuple[dict, dict]:
    """TPSMM's equivariance loss. driving (B, 3, H, W); kp_driving (B, N, 2) the driving frame's
    ``"value"``; transform_params {sigma_affine, sigma_tps, points_tps}; the random TPS is drawn
    from ``generator`` (None: torch's global RNG, as TPSMM). Returns ({"equivariance_value":
    w mean |kp_D - T(kp(T(D)))|}, {"transformed_frame", "transformed_kp"})."""
    transform = RandomTPS.random(driving.shape[0], generator=generator, **transform_params).to(driving.device)
    transformed_frame = transform.transform_frame(driving)                          # (B, 3, H, W)
    transformed_kp = kp_detector(transformed_frame)["value"]                       # (B, N, 2)
    mapped_back = transform.warp_coordinates(transformed_kp)
    value = weight * (kp_driving - mapped_back).abs().mean()
    return {"equivariance_value": value}, {"transformed_frame": transformed_frame, "transformed_kp": transformed_kp}


def warp_loss(inpainting_network, driving: torch.Tensor, generated: dict, weight: float) -> dict:
    """TPSMM's warp loss: ``get_encode(driving, generated["occlusion_maps"])`` (fine to coarse, detached)
    against ``generated["warped_encoder_maps"]`` (coarse to fine), one mean absolute difference
    per level, summed. Returns {"warp_loss": w sum_l mean |.|}."""
    encoded = inpainting_network.get_encode(driving, generated["occlusion_maps"])
    decoded = generated["warped_encoder_maps"]
    if len(encoded) != len(decoded):
        raise ValueError(f"get_encode gave {len(encoded)} maps and the generator {len(decoded)} warped maps")
    value = sum((e - d).abs().mean() for e, d in zip(encoded, reversed(decoded)))
    return {"warp_loss": weight * value}


def background_loss(bg_predictor, source: torch.Tensor, driving: torch.Tensor, bg_param: torch.Tensor,
                    weight: float) -> dict:
    """TPSMM's background loss: bg_param = A(source, driving) (B, 3, 3) composed with
    A(driving, source) should be the identity. Returns {"bg": w mean |I - A(S,D) A(D,S)|}."""
    reverse = bg_predictor(driving, source)                                          # (B, 3, 3)
    product = bg_param @ reverse
    eye = torch.eye(3, dtype=product.dtype, device=product.device)
    return {"bg": weight * (eye - product).abs().mean()}
