"""Heatmap decoding on synthetic Gaussians at known positions."""
import cv2
import numpy as np
import pytest
import torch

from mipnet.data.metadata import get_keypoint_meta
from mipnet.data.transforms import flip_back, transform_preds
from mipnet.evaluation import (flip_average, gaussian_blur_heatmaps, get_final_preds,
                               get_max_preds)

H, W = 64, 48  # heatmap height, width
YS, XS = np.mgrid[0:H, 0:W].astype(np.float64)


def gaussian(x, y, sigma=2.0):
    return np.exp(-((XS - x) ** 2 + (YS - y) ** 2) / (2 * sigma ** 2)).astype(np.float32)


def identity_box(batch=1):
    """center/scale whose inverse affine is the identity: 1 heatmap px = 1 image px."""
    center = np.tile([[W / 2, H / 2]], (batch, 1))
    scale = np.tile([[W / 200, H / 200]], (batch, 1))
    return center, scale


def heatmaps_at(points, sigma=2.0):
    return np.stack([gaussian(x, y, sigma) for x, y in points])[None]


@pytest.mark.parametrize('mode', ['quarter', 'dark', None, 'none', False])
def test_integer_peaks_are_exact(mode):
    if mode == 'dark':
        # DARK's zero-padded blur makes peaks near the border asymmetric: interior only
        points = [(20, 30), (12, 9), (35, 52), (24, 32), (30, 11)]
    else:
        points = [(20, 30), (5, 7), (40, 60), (0, 0), (47, 63)]
    preds, maxvals = get_final_preds(heatmaps_at(points), *identity_box(), post_process=mode)
    assert preds.shape == (1, 5, 2) and maxvals.shape == (1, 5, 1)
    np.testing.assert_array_equal(preds[0], np.array(points, dtype=np.float32))
    np.testing.assert_allclose(maxvals[0, :, 0], 1.0)


def test_quarter_shift_direction():
    # peak at (20.3, 30.7): argmax (20, 31); right neighbour higher -> x + .25, upper
    # neighbour (y=30) higher -> y - .25
    points = [(20.3, 30.7), (10.6, 12.4), (1.3, 30.0), (20.3, 1.2)]
    preds, _ = get_final_preds(heatmaps_at(points), *identity_box(), post_process='quarter')
    np.testing.assert_allclose(preds[0, 0], [20.25, 30.75])
    np.testing.assert_allclose(preds[0, 1], [10.75, 12.25])
    # no shift unless 1 < px < w-1 and 1 < py < h-1 (px = 1 / py = 1 here)
    np.testing.assert_allclose(preds[0, 2], [1.0, 30.0])
    np.testing.assert_allclose(preds[0, 3], [20.0, 1.0])
    plain, _ = get_final_preds(heatmaps_at(points), *identity_box(), post_process=None)
    np.testing.assert_allclose(plain[0, 0], [20.0, 31.0])


@pytest.mark.parametrize('point', [(20.3, 30.7), (10.45, 12.2), (30.9, 50.1), (24.77, 8.31)])
def test_dark_recovers_subpixel_peak(point):
    preds, _ = get_final_preds(heatmaps_at([point]), *identity_box(), post_process='dark')
    assert np.abs(preds[0, 0] - np.array(point)).max() < 0.05


def test_blur_matches_dark_reference():
    """Per-map zero-padded cv2.GaussianBlur(11x11, sigma 0) + max renormalisation."""
    rng = np.random.default_rng(0)
    hm = rng.random((2, 3, H, W)).astype(np.float32)
    ours = gaussian_blur_heatmaps(hm, 11)
    for b in range(2):
        for j in range(3):
            padded = np.zeros((H + 10, W + 10), np.float32)
            padded[5:-5, 5:-5] = hm[b, j]
            ref = cv2.GaussianBlur(padded, (11, 11), 0)[5:-5, 5:-5]
            ref = ref * (hm[b, j].max() / ref.max())
            np.testing.assert_allclose(ours[b, j], ref, rtol=1e-6, atol=1e-7)


def test_nonpositive_maximum_is_masked():
    hm = heatmaps_at([(20, 30), (10, 10)])
    hm[0, 1] = -1.0
    hm[0, 1, 5, 7] = -0.5
    preds, maxvals = get_final_preds(hm, *identity_box(), post_process=None)
    np.testing.assert_array_equal(preds[0, 1], [0, 0])  # coords zeroed before mapping
    assert maxvals[0, 1, 0] == pytest.approx(-0.5)


def test_mapping_back_to_image_coordinates():
    # box: center (300, 200), scale (1.2, 1.6) -> 240 x 320 px over a 48 x 64 heatmap,
    # 5 image px per heatmap px: (x, y) -> (300 + 5 (x - 24), 200 + 5 (y - 32))
    hm = heatmaps_at([(10, 20), (24, 32), (47, 0)])
    preds, _ = get_final_preds(hm, np.array([[300.0, 200.0]]), np.array([[1.2, 1.6]]),
                               post_process=None)
    np.testing.assert_allclose(preds[0], [[230, 140], [300, 200], [415, 40]], atol=1e-3)


def test_vectorised_mapping_equals_transform_preds():
    rng = np.random.default_rng(1)
    b = 16
    hm = rng.random((b, 17, H, W)).astype(np.float32)
    center = rng.uniform(50, 600, (b, 2))
    scale = rng.uniform(0.3, 3.0, (b, 2))
    preds, _ = get_final_preds(hm, center, scale, post_process=None)
    coords, _ = get_max_preds(hm)
    ref = np.stack([transform_preds(coords[i], center[i], scale[i], [W, H]) for i in range(b)])
    np.testing.assert_allclose(preds, ref, atol=1e-3)


def test_torch_input_and_dtypes():
    hm = heatmaps_at([(20.3, 30.7), (5, 9)])
    box = identity_box()
    ref, ref_val = get_final_preds(hm, *box, post_process='dark')
    out, out_val = get_final_preds(torch.from_numpy(hm), *box, post_process='dark')
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(out_val, ref_val)
    assert ref.dtype == np.float32
    half, _ = get_final_preds(torch.from_numpy(hm).half(), *box, post_process='quarter')
    assert half.dtype == np.float32
    dbl, _ = get_final_preds(hm.astype(np.float64), *box, post_process='quarter')
    assert dbl.dtype == np.float64
    with pytest.raises(ValueError, match='post_process'):
        get_final_preds(hm, *box, post_process='median')
    with pytest.raises(ValueError):
        get_final_preds(hm[0], *box)


def test_flip_back_and_average():
    """Heatmaps of the flipped image, flipped back and averaged with the originals."""
    meta = get_keypoint_meta('coco')
    rng = np.random.default_rng(2)
    pts = np.stack([rng.integers(8, W - 11, 17), rng.integers(8, H - 8, 17)], 1).astype(float)
    original = heatmaps_at(pts)
    # what a perfect network predicts on the mirrored image: joint j sits where the
    # mirror of its left/right partner is
    perm = meta.flip_index
    flipped_pred = heatmaps_at([(W - 1 - pts[perm[j], 0], pts[perm[j], 1]) for j in range(17)])
    np.testing.assert_allclose(flip_back(flipped_pred, meta.flip_pairs), original, atol=1e-6)
    avg = flip_average(original, flipped_pred, meta.flip_pairs)
    preds, _ = get_final_preds(avg, *identity_box(), post_process='quarter')
    np.testing.assert_allclose(preds[0], pts)

    # a flipped prediction 2 px further right: the average peaks half way (+1 px)
    shifted = heatmaps_at([(W - 1 - pts[perm[j], 0] - 2, pts[perm[j], 1]) for j in range(17)])
    preds, _ = get_final_preds(flip_average(original, shifted, meta.flip_pairs),
                               *identity_box(), post_process='dark')
    np.testing.assert_allclose(preds[0], pts + [1, 0], atol=0.05)
    # HRNet's SHIFT_HEATMAP moves the flipped-back maps one pixel right
    preds, _ = get_final_preds(flip_average(original, shifted, meta.flip_pairs, shift=True),
                               *identity_box(), post_process='dark')
    np.testing.assert_allclose(preds[0], pts + [1.5, 0], atol=0.05)
