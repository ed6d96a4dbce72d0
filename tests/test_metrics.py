"""Metrics against values computed by hand on tiny tensors."""
import math

import numpy as np
import pytest
import torch

from pcutlib.evaluation import metrics


def constant(value: float, frames: int = 2, size: int = 16) -> torch.Tensor:
    return torch.full((frames, 3, size, size), value)


def test_l1_of_constant_images():
    assert metrics.l1(constant(0.25), constant(0.75)) == pytest.approx(0.5)
    # Half the frames differ by 0.2, half by 0: mean 0.1.
    pred = torch.cat([constant(0.2, 1), constant(0.0, 1)])
    assert metrics.l1(pred, constant(0.0)) == pytest.approx(0.1)


def test_psnr_of_known_mse():
    # |difference| = 0.1 everywhere: MSE = 0.01, PSNR = 10 log10(1 / 0.01) = 20 dB.
    assert metrics.psnr(constant(0.6), constant(0.5)) == pytest.approx(20.0)
    # data_range 255 with the same MSE in 0..255 units: 10 log10(255^2 / 0.01).
    assert metrics.psnr(constant(0.6), constant(0.5), data_range=255) == pytest.approx(
        10 * math.log10(255 ** 2 / 0.01))
    # MSE pooled over frames: errors 0.1 and 0 -> MSE 0.005 -> 23.01 dB (not inf).
    pred = torch.cat([constant(0.6, 1), constant(0.5, 1)])
    assert metrics.psnr(pred, constant(0.5)) == pytest.approx(10 * math.log10(1 / 0.005))
    assert metrics.psnr(constant(0.5), constant(0.5)) == math.inf


def test_ssim_of_an_image_with_itself_is_one_and_drops_with_noise():
    image = torch.rand(3, 3, 64, 64)
    assert metrics.ssim(image, image) == pytest.approx(1.0, abs=1e-6)
    noisy = (image + 0.3 * torch.randn_like(image)).clamp(0, 1)
    assert metrics.ssim(noisy, image) < 0.9


def test_ssim_refuses_frames_smaller_than_its_window():
    with pytest.raises(ValueError, match="at least 11x11"):
        metrics.ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))


def test_image_metrics_name_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3, 16, 16\) vs \(1, 3, 16, 16\)"):
        metrics.l1(constant(0.0, 2), constant(0.0, 1))
    with pytest.raises(ValueError, match="got pred"):
        metrics.psnr(torch.rand(3, 16, 16), torch.rand(3, 16, 16))


def test_lpips_is_optional():
    if metrics.lpips_available():
        image = torch.rand(2, 3, 64, 64)
        assert metrics.lpips_distance(image, image) == pytest.approx(0.0, abs=1e-4)
    else:
        with pytest.raises(RuntimeError, match=r'pip install -e "\.\[vision\]"'):
            metrics.lpips_distance(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))


def test_average_keypoint_distance_in_pixels():
    # 2 frames x 2 joints on a 5x5 image: one pixel step = 0.5 in [-1,1] coordinates.
    real = np.zeros((2, 2, 2), dtype=np.float32)
    pred = real.copy()
    pred[0, 0] = [0.5 * 3, 0.5 * 4]  # 3 px right, 4 px down: distance 5 px
    pred[1, 1] = [0.5, 0.0]          # 1 px
    # Mean over the 4 keypoints: (5 + 0 + 0 + 1) / 4.
    assert metrics.average_keypoint_distance(pred, real, 5) == pytest.approx(1.5)
    # Only keypoints found in both count: drop (0,0) from pred and (1,0) from real.
    pred_found = np.array([[False, True], [True, True]])
    real_found = np.array([[True, True], [False, True]])
    assert metrics.average_keypoint_distance(pred, real, 5, pred_found, real_found) == pytest.approx(0.5)
    # Non-square frames: x scales with W, y with H. (H, W) = (3, 9): 1.0 in x = 4 px, in y = 1 px.
    assert metrics.average_keypoint_distance(torch.tensor([[[1.0, 1.0]]]), torch.zeros(1, 1, 2),
                                             (3, 9)) == pytest.approx(math.hypot(4, 1))
    assert math.isnan(metrics.average_keypoint_distance(pred, real, 5, np.zeros((2, 2), bool)))


def test_missing_keypoint_rate():
    real_found = np.array([[True, True, False], [True, False, False]])  # 3 found in real
    pred_found = np.array([[True, False, True], [False, False, True]])  # 2 of them missing
    assert metrics.missing_keypoint_rate(pred_found, real_found) == pytest.approx(2 / 3)
    assert math.isnan(metrics.missing_keypoint_rate(pred_found, np.zeros((2, 3), bool)))
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.missing_keypoint_rate(pred_found[:1], real_found)


def test_average_euclidean_distance():
    real = torch.zeros(2, 3)
    pred = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]])  # distances 5 and 1
    assert metrics.average_euclidean_distance(pred, real) == pytest.approx(3.0)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        metrics.average_euclidean_distance(pred, real[:, :2])


def test_face_alignment_adapter_explains_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_face_alignment(name, *args, **kwargs):
        if name == "face_alignment":
            raise ImportError("No module named 'face_alignment'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_face_alignment)
    with pytest.raises(RuntimeError, match="face-alignment"):
        metrics.face_alignment_detector()
