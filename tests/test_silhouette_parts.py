"""pcutlib.evaluation.silhouette_parts: the IoU's loss split by body part, on hand-made frames."""
import pytest
import torch

from pcutlib.data.synthetic import BACKGROUND_LABEL, JOINT_NAMES, PART_NAMES
from pcutlib.evaluation import silhouette_parts as S

TORSO, LEFT_HAND = PART_NAMES.index("torso"), PART_NAMES.index("left_hand")


def frame_with(*blocks) -> torch.Tensor:
    """(1,3,8,8) grey frame with saturated red 2x2 blocks at the given (row, column) corners."""
    frame = torch.full((1, 3, 8, 8), 0.5)
    for row, column in blocks:
        frame[:, 0, row:row + 2, column:column + 2] = 1.0
    return frame


def labels_with(**blocks) -> torch.Tensor:
    """(1,8,8) uint8 label map: background, with each named part's 2x2 block at its corner."""
    labels = torch.full((1, 8, 8), BACKGROUND_LABEL, dtype=torch.uint8)
    for name, (row, column) in blocks.items():
        labels[:, row:row + 2, column:column + 2] = PART_NAMES.index(name)
    return labels


def test_a_hand_left_at_its_source_place_is_charged_as_missed_and_as_a_ghost():
    """The torso is drawn where it is; the hand stays where the source had it: 4 hand pixels missed,
    4 ghost pixels charged to the source's hand, a union of 12, so 1 - IoU = 8/12."""
    driving = frame_with((0, 0), (4, 4))
    predicted = frame_with((0, 0), (4, 0))
    driving_labels = labels_with(torso=(0, 0), left_hand=(4, 4))
    source_labels = labels_with(torso=(0, 0), left_hand=(4, 0))
    loss = S.iou_loss_by_part(predicted, driving, driving_labels, source_labels, warped=predicted)
    assert loss["pooled_iou"] == pytest.approx(4 / 12)
    hand, torso = loss["parts"]["left_hand"], loss["parts"]["torso"]
    assert hand == {"missed": pytest.approx(4 / 12), "ghost": pytest.approx(4 / 12), "pixels": 4,
                    "missed_share": 1.0, "warp_missed_share": 1.0}
    assert torso["missed"] == torso["ghost"] == 0 and torso["missed_share"] == 0.0 and torso["pixels"] == 4
    assert set(loss["parts"]) == {"torso", "left_hand"}                 # parts with no pixel are left out


def test_rim_pixels_and_blur_get_their_own_rows_and_every_row_adds_up_to_the_lost_iou():
    """A figure pixel labelled background (the anti-aliased rim) is "edge"; a ghost where the source
    shows background too is "neither_frame"; the rows' shares add up to 1 - the pooled IoU."""
    driving = frame_with((0, 0))
    driving[:, 0, 0, 2] = 1.0                                             # rim pixel, label background
    predicted = frame_with((0, 0), (6, 6))                               # a blot on the background
    labels = labels_with(torso=(0, 0))
    loss = S.iou_loss_by_part(predicted, driving, labels, labels)
    assert loss["parts"]["edge"]["missed"] == pytest.approx(1 / 9) and loss["parts"]["edge"]["pixels"] == 1
    assert loss["parts"]["neither_frame"]["ghost"] == pytest.approx(4 / 9)
    assert loss["parts"]["neither_frame"]["pixels"] == 0
    assert loss["parts"]["torso"]["warp_missed_share"] is None            # no warped frames given
    generator = torch.Generator().manual_seed(0)
    noisy = (predicted + 0.4 * torch.rand(4, 3, 8, 8, generator=generator)).clamp(0, 1)
    loss = S.iou_loss_by_part(noisy, driving.expand(4, -1, -1, -1), labels.expand(4, -1, -1),
                              labels.expand(4, -1, -1))
    total = sum(row["missed"] + row["ghost"] for row in loss["parts"].values())
    assert total == pytest.approx(1 - loss["pooled_iou"], abs=1e-12)


def test_bad_shapes_labels_and_empty_frames_are_refused_by_name():
    frame, labels = frame_with((0, 0)), labels_with(torso=(0, 0))
    with pytest.raises(ValueError, match=r"label maps \(N,H,W\) expected, got .*\(1, 4, 4\)"):
        S.iou_loss_by_part(frame, frame, labels[:, :4, :4], labels)
    wrong = labels.clone()
    wrong[0, 7, 0], wrong[0, 7, 1] = len(PART_NAMES), 20          # one past the last part, and 20; 255 stays
    with pytest.raises(ValueError, match=rf"labels \[{len(PART_NAMES)}, 20\] are neither a part .* nor the "
                                         rf"background \({BACKGROUND_LABEL}\)"):
        S.iou_loss_by_part(frame, frame, wrong, labels)
    grey = torch.full((1, 3, 8, 8), 0.5)
    with pytest.raises(ValueError, match="no figure pixel"):
        S.iou_loss_by_part(grey, grey, labels, labels)


def test_each_joint_gets_its_distance_to_the_nearest_keypoint_in_pixels():
    """Joints on a line, one keypoint 2 px right of joint 0 and one on joint 5: at 65 px
    (32 px per [-1,1] unit) joint 0 is 2 px from a keypoint, joint 5 is 0 px, joint 13 is far."""
    joints = torch.zeros(2, len(JOINT_NAMES), 2)
    joints[:, :, 0] = torch.linspace(-0.9, 0.9, len(JOINT_NAMES))
    keypoints = torch.stack([joints[:, 0] + torch.tensor([2 / 32, 0.0]), joints[:, 5]], dim=1)   # (2,2,2)
    nearest = S.nearest_keypoint_px(keypoints, joints, image_size=65)
    assert list(nearest) == list(JOINT_NAMES)
    assert nearest[JOINT_NAMES[0]] == pytest.approx(2.0) and nearest[JOINT_NAMES[5]] == pytest.approx(0.0, abs=1e-9)
    assert nearest[JOINT_NAMES[13]] == pytest.approx(float(joints[0, 13, 0] - joints[0, 5, 0]) * 32)
    with pytest.raises(ValueError, match="joints: 14 expected"):
        S.nearest_keypoint_px(keypoints, joints[:, :3], image_size=65)
    with pytest.raises(ValueError, match="one N expected"):
        S.nearest_keypoint_px(keypoints[:1], joints, image_size=65)
