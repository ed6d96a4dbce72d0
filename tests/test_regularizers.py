"""PriorityCut and CutMix masks, mixing, consistency loss, warm-up and the config section."""
import math

import pytest
import torch

from pcutlib.prioritycut import (RegularizerConfig, consistency_loss, count_empty_foreground, cutmix_mask, make_mask,
                                 mix_images, mix_probability, oracle_occlusion_map, prioritycut_mask,
                                 prioritycut_mask_with_stats)


def random_inputs(seed, batch=4, height=16, width=16, num_regions=4, foreground_fractions=(0.0, 0.3, 0.7, 1.0),
                  quantize=None):
    """Occlusion (B,1,h,w) and region masks whose background channel makes roughly the given
    share of pixels foreground in each sample (0.0 = empty foreground)."""
    generator = torch.Generator().manual_seed(seed)
    occlusion = torch.rand(batch, 1, height, width, generator=generator)
    if quantize:  # few distinct values -> many ties
        occlusion = torch.floor(occlusion * quantize) / quantize
    region = torch.rand(batch, num_regions, height, width, generator=generator)
    region = region / region.sum(1, keepdim=True)
    uniform = torch.rand(batch, height, width, generator=generator)
    share = torch.tensor(foreground_fractions[:batch]).view(-1, 1, 1)
    region[:, 0] = torch.where(uniform < share, 0.2, 0.8)  # background prob < 0.5 -> foreground
    return occlusion, region


def reference_mask(occlusion, region, k, threshold=0.5, foreground="region"):
    """Naive per-sample loop, written straight from the definition in docs/algorithm.md."""
    batch, _, height, width = occlusion.shape
    mask = torch.ones(batch, 1, height, width)
    for b in range(batch):
        values = occlusion[b, 0].flatten().tolist()
        is_fg = [True] * len(values) if foreground == "all" else (region[b, 0].flatten() < threshold).tolist()
        candidates = [i for i in range(len(values)) if is_fg[i]]
        n = math.ceil(k * len(candidates) / 100)
        candidates.sort(key=lambda i: (values[i], i))  # smallest occlusion, then lowest index
        for i in candidates[:n]:
            mask[b, 0, i // width, i % width] = 0
    return mask


@pytest.mark.parametrize("seed,size,k,quantize", [(0, 16, 10, None), (1, 12, 7, None), (2, 16, 33.3, 4),
                                                   (3, 9, 50, 2), (4, 16, 100, None), (5, 8, 0.5, 3)])
def test_prioritycut_matches_reference_and_invariants(seed, size, k, quantize):
    occlusion, region = random_inputs(seed, height=size, width=size, quantize=quantize)
    mask = prioritycut_mask(occlusion, region, k)
    assert mask.shape == (4, 1, size, size) and mask.dtype == occlusion.dtype
    assert torch.equal(mask, reference_mask(occlusion, region, k))
    for b in range(4):
        fg = region[b, 0] < 0.5
        selected = mask[b, 0] == 0
        assert int(selected.sum()) == math.ceil(k * int(fg.sum()) / 100)
        assert not (selected & ~fg).any(), "selected a background pixel"
        unselected_fg = fg & ~selected
        if selected.any() and unselected_fg.any():
            assert occlusion[b, 0][unselected_fg].min() >= occlusion[b, 0][selected].max()


def test_prioritycut_multiplies_first():
    # |F| = 100 pixels, k = 7: ceil(7 * 100 / 100) = 7 (ceil(7/100*100) would give 8)
    occlusion = torch.rand(1, 1, 10, 10, generator=torch.Generator().manual_seed(0))
    region = torch.zeros(1, 2, 10, 10)
    region[:, 1] = 1  # background channel 0 is 0 -> every pixel foreground
    mask = prioritycut_mask(occlusion, region, 7)
    assert int((mask == 0).sum()) == 7
    assert math.ceil(7 / 100 * 100) == 8  # the trap this test guards against


def test_prioritycut_ties_take_lowest_flat_index():
    occlusion = torch.full((2, 1, 4, 4), 0.5)
    occlusion[1, 0, 3, 3] = 0.1
    region = torch.zeros(2, 2, 4, 4)
    mask = prioritycut_mask(occlusion, region, 25)  # n = 4 of 16
    assert torch.equal((mask[0, 0] == 0).flatten().nonzero().flatten(), torch.tensor([0, 1, 2, 3]))
    assert torch.equal((mask[1, 0] == 0).flatten().nonzero().flatten(), torch.tensor([0, 1, 2, 15]))


def test_prioritycut_empty_foreground_and_k0_give_ones_and_are_counted():
    occlusion, region = random_inputs(7, foreground_fractions=(0.0, 0.5, 0.0, 0.9))
    mask, num_empty = prioritycut_mask_with_stats(occlusion, region, 20)
    assert num_empty == 2 and count_empty_foreground(region) == 2
    assert torch.all(mask[0] == 1) and torch.all(mask[2] == 1)
    assert (mask[1] == 0).any() and (mask[3] == 0).any()
    assert torch.all(prioritycut_mask(occlusion, region, 0) == 1)


def test_prioritycut_k100_selects_the_whole_foreground():
    occlusion, region = random_inputs(8)
    mask = prioritycut_mask(occlusion, region, 100)
    assert torch.equal(mask[:, 0] == 0, region[:, 0] < 0.5)


def test_prioritycut_foreground_all_and_threshold():
    occlusion, region = random_inputs(9, foreground_fractions=(0.0, 0.0, 0.0, 0.0))
    mask = prioritycut_mask(occlusion, region, 10, foreground="all")
    assert torch.equal(mask, reference_mask(occlusion, region, 10, foreground="all"))
    assert torch.all((mask == 0).flatten(1).sum(1) == math.ceil(10 * 256 / 100))
    # background probability is 0.8 everywhere here: a threshold of 0.9 makes it all foreground
    assert torch.equal(prioritycut_mask(occlusion, region, 10, foreground_threshold=0.9), mask)


def test_prioritycut_nearest_upsampling():
    occlusion, region = random_inputs(10, height=32, width=32)
    small = prioritycut_mask(occlusion, region, 15)
    assert prioritycut_mask(occlusion, region, 15, size=None).shape == (4, 1, 32, 32)
    big = prioritycut_mask(occlusion, region, 15, size=(64, 64))
    assert big.shape == (4, 1, 64, 64)
    assert torch.equal(big, small.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3))


def test_prioritycut_has_no_gradient():
    occlusion, region = random_inputs(11)
    occlusion.requires_grad_(True)
    assert not prioritycut_mask(occlusion, region, 10).requires_grad


@pytest.mark.parametrize("k", [-1, 101, 150.5])
def test_prioritycut_rejects_bad_k(k):
    occlusion, region = random_inputs(0)
    with pytest.raises(ValueError, match=str(k)):
        prioritycut_mask(occlusion, region, k)


def test_prioritycut_rejects_bad_shapes_and_options():
    occlusion, region = random_inputs(0)
    with pytest.raises(ValueError, match=r"\(4, 4, 15, 16\)"):
        prioritycut_mask(occlusion, region[:, :, :15], 10)
    with pytest.raises(ValueError, match=r"\(4, 2, 16, 16\)"):
        prioritycut_mask(occlusion.repeat(1, 2, 1, 1), region, 10)
    with pytest.raises(ValueError, match="'everything'"):
        prioritycut_mask(occlusion, region, 10, foreground="everything")
    with pytest.raises(ValueError, match="1.5"):
        prioritycut_mask(occlusion, region, 10, foreground_threshold=1.5)


def test_mix_images_takes_real_where_mask_is_one():
    generator = torch.Generator().manual_seed(0)
    real, fake = torch.rand(2, 3, 8, 8, generator=generator), torch.rand(2, 3, 8, 8, generator=generator)
    mask = (torch.rand(2, 1, 8, 8, generator=generator) > 0.5).float()
    mixed = mix_images(real, fake, mask)
    keep = mask.expand_as(real) == 1
    assert torch.equal(mixed[keep], real[keep]) and torch.equal(mixed[~keep], fake[~keep])


def is_rectangle(region):
    """True when the True pixels of (H, W) ``region`` form one axis-aligned box (or none)."""
    if not region.any():
        return True
    rows, cols = region.any(1).nonzero().flatten(), region.any(0).nonzero().flatten()
    box = torch.zeros_like(region)
    box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
    return torch.equal(box, region)


def test_cutmix_is_one_rectangle_reproducible_and_half_masked_on_average():
    masks = cutmix_mask(400, 32, 24, generator=torch.Generator().manual_seed(0))
    assert masks.shape == (400, 1, 32, 24)
    assert torch.equal(masks, cutmix_mask(400, 32, 24, generator=torch.Generator().manual_seed(0)))
    assert not torch.equal(masks, cutmix_mask(400, 32, 24, generator=torch.Generator().manual_seed(1)))
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    for m in masks[:, 0]:
        zeros = m == 0
        assert is_rectangle(zeros) or is_rectangle(~zeros), "not one box or the complement of one"
    share_generated = (masks == 0).float().mean()
    assert abs(share_generated - 0.5) < 0.05
    inverted_share = ((masks == 0).float().flatten(1).mean(1) > 0.5).float().mean()
    assert 0.2 < inverted_share < 0.8


def test_cutmix_box_area_follows_the_beta_distribution():
    """Compare with draws made straight from the U-Net GAN definition (numpy, another RNG).

    The inversion hides which side is the box, so compare min(share, 1 - share)."""
    import numpy as np
    height, width, draws = 32, 24, 2000
    rng = np.random.default_rng(0)
    reference = []
    for _ in range(draws):
        ratio = np.sqrt(1 - rng.uniform())                      # lambda ~ Beta(1, 1)
        cut_w, cut_h = int(width * ratio), int(height * ratio)
        cx, cy = rng.integers(width), rng.integers(height)
        x0, x1 = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, width)
        y0, y1 = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, height)
        share = (x1 - x0) * (y1 - y0) / (height * width)
        reference.append(min(share, 1 - share))
    masks = cutmix_mask(draws, height, width, generator=torch.Generator().manual_seed(0))
    share = (masks == 0).float().flatten(1).mean(1)
    ours = torch.minimum(share, 1 - share).mean().item()
    assert abs(ours - float(np.mean(reference))) < 0.02


def test_consistency_loss_formula():
    mixed = torch.tensor([[[[1.0, 2.0]]]])
    real = torch.tensor([[[[0.0, 5.0]]]])
    fake = torch.tensor([[[[3.0, 1.0]]]])
    mask = torch.tensor([[[[1.0, 0.0]]]])
    # target = [real_0, fake_1] = [0, 1]; errors 1 and 1
    assert consistency_loss(mixed, real, fake, mask).item() == pytest.approx(1.0)


def test_mix_probability_ramp():
    assert mix_probability(0.0, 0.5, 2.0) == 0.0
    assert mix_probability(1.0, 0.5, 2.0) == pytest.approx(0.25)
    assert mix_probability(5.0, 0.5, 2.0) == pytest.approx(0.5)
    assert mix_probability(0.0, 0.5, 0) == 0.5
    with pytest.raises(ValueError, match="1.5"):
        mix_probability(1.0, 1.5, 1.0)


def test_mixed_terms_weight_ramp():
    from pcutlib.prioritycut import mixed_terms_weight

    assert mixed_terms_weight(0.5, 0.0) == 1.0
    assert mixed_terms_weight(0.5, 2.0) == pytest.approx(0.25)
    assert mixed_terms_weight(3.0, 2.0) == 1.0
    with pytest.raises(ValueError, match="-1"):
        mixed_terms_weight(1.0, -1)
    with pytest.raises(ValueError, match="mixed_terms_warmup_epochs"):
        RegularizerConfig.from_dict({"type": "cutmix", "mixed_terms_warmup_epochs": -2})


def test_regularizer_config_validation():
    config = RegularizerConfig.from_dict({"type": "prioritycut", "top_k_percent": 7})
    assert config.top_k_percent == 7 and config.consistency_weight == 1.0
    assert RegularizerConfig.from_dict(None).type == "none"
    with pytest.raises(ValueError, match="top_k_persent"):
        RegularizerConfig.from_dict({"top_k_persent": 7})
    with pytest.raises(ValueError, match="'priority'"):
        RegularizerConfig.from_dict({"type": "priority"})
    with pytest.raises(ValueError, match="101"):
        RegularizerConfig.from_dict({"type": "prioritycut", "top_k_percent": 101})


def test_make_mask_for_each_regularizer():
    occlusion, region = random_inputs(12, height=8, width=8)
    real = torch.rand(4, 3, 16, 16)
    generated = {"occlusion_map": occlusion, "region_mask": region}
    mask, num_empty = make_mask(RegularizerConfig(type="prioritycut", top_k_percent=20), generated, real)
    assert mask.shape == (4, 1, 16, 16) and num_empty == 1
    assert torch.equal(mask, prioritycut_mask(occlusion, region, 20, size=(16, 16)))
    mask, num_empty = make_mask(RegularizerConfig(type="cutmix"), {}, real, torch.Generator().manual_seed(3))
    assert torch.equal(mask, cutmix_mask(4, 16, 16, torch.Generator().manual_seed(3))) and num_empty == 0
    with pytest.raises(ValueError, match="'none'"):
        make_mask(RegularizerConfig(), generated, real)


def test_the_oracle_mask_is_the_top_k_of_the_true_disocclusion_in_the_foreground():
    """A hand-built case: a 4x4 grid of O under 8x8 images (4 pixels a cell), the foreground the
    left half (8 cells). The truth covers cell (0, 0) fully, (1, 1) by 3 pixels and (3, 3) (outside
    the foreground) fully; O ranks the cells the other way round."""
    occlusion = torch.linspace(1, 0, 16).reshape(1, 1, 4, 4)        # most occluded: bottom right
    region = torch.zeros(1, 2, 4, 4)
    region[:, 0, :, 2:] = 1                                          # background: right half
    region[:, 1, :, :2] = 1
    truth = torch.zeros(1, 1, 8, 8)
    truth[..., 0:2, 0:2] = 1                                         # cell (0, 0), all 4 pixels
    truth[..., 2:4, 2:4] = torch.tensor([[1.0, 1.0], [1.0, 0.0]])    # cell (1, 1), 3 of 4
    truth[..., 6:8, 6:8] = 1                                         # cell (3, 3): background
    oracle = oracle_occlusion_map(truth, occlusion)
    assert oracle.shape == (1, 1, 4, 4) and 0 <= oracle.min() and oracle.max() <= 1
    # k = 25% of 8 foreground cells = 2 cells: the two dis-occluded foreground cells, whatever O says
    mask = prioritycut_mask(oracle, region, 25)
    assert (mask[0, 0] == 0).nonzero().tolist() == [[0, 0], [1, 1]]
    # k = 50% = 4 cells: those two first, then the foreground cells O calls most occluded
    mask = prioritycut_mask(oracle, region, 50)
    chosen = {tuple(z) for z in (mask[0, 0] == 0).nonzero().tolist()}
    assert chosen == {(0, 0), (1, 1), (3, 1), (3, 0)}
    # k = 12.5% = 1 cell: the fully dis-occluded one before the 3/4 one
    assert (prioritycut_mask(oracle, region, 12.5)[0, 0] == 0).nonzero().tolist() == [[0, 0]]
    generated = {"occlusion_map": occlusion, "region_mask": region, "true_disocclusion": truth}
    made, _ = make_mask(RegularizerConfig(type="oracle", top_k_percent=25), generated, torch.rand(1, 3, 8, 8))
    assert torch.equal(made, prioritycut_mask(oracle, region, 25, size=(8, 8)))
    with pytest.raises(ValueError, match="true dis-occlusion"):
        make_mask(RegularizerConfig(type="oracle"), {"occlusion_map": occlusion, "region_mask": region},
                  torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="whole multiple"):
        oracle_occlusion_map(torch.zeros(1, 1, 6, 6), occlusion)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_oracle_ranks_by_share_then_by_occlusion_as_two_stable_sorts(dtype):
    """On random 0/1 truths at 2x2 and 4x4 pixels a cell, with shares 1/c apart and O at the
    extremes 0 and 1 among them: the oracle's order is a stable sort by O followed by a stable
    sort by share (most dis-occluded first), in float32 as in bf16."""
    draw = torch.Generator().manual_seed(0)
    for factor in (2, 4):
        truth = (torch.rand(3, 1, 8 * factor, 8 * factor, generator=draw) < 0.4).float()
        occlusion = torch.rand(3, 1, 8, 8, generator=draw)
        occlusion[..., ::3] = 1.0
        occlusion[..., 1::3] = 0.0
        score = oracle_occlusion_map(truth, occlusion.to(dtype))
        share = torch.nn.functional.avg_pool2d(truth, factor).flatten(1)
        for b in range(3):
            by_occlusion = torch.argsort(occlusion.to(dtype).float().flatten(1)[b], stable=True)
            expected = by_occlusion[torch.argsort(-share[b][by_occlusion], stable=True)]
            assert torch.equal(torch.argsort(score.flatten(1)[b], stable=True), expected), (factor, b)
