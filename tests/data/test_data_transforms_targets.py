"""Hand-checked values for the affine transforms, flip_back and heatmap targets."""
import numpy as np
import pytest

from mipnet.data.targets import generate_heatmaps
from mipnet.data.transforms import (affine_transform_points, flip_back, flip_joints,
                                    get_affine_transform)


# ------------------------------------------------------------------ get_affine_transform
def test_affine_known_crop():
    # A 128x128 px box (scale 0.64 * 200) around (100, 100) onto 64x64: x' = (x - 100)/2 + 32.
    trans = get_affine_transform(np.array([100., 100.]), np.array([0.64, 0.64]), 0, (64, 64))
    np.testing.assert_allclose(trans, [[0.5, 0, -18], [0, 0.5, -18]], atol=1e-5)
    pts = affine_transform_points([[36., 36.], [100., 100.], [164., 164.]], trans)
    np.testing.assert_allclose(pts, [[0, 0], [32, 32], [64, 64]], atol=1e-4)


def test_affine_known_crop_non_square():
    # Box 192x256 px (scale (0.96, 1.28)) around (50, 60) onto (w, h) = (48, 64): factor 1/4.
    trans = get_affine_transform(np.array([50., 60.]), np.array([0.96, 1.28]), 0, (48, 64))
    np.testing.assert_allclose(trans, [[0.25, 0, 24 - 12.5], [0, 0.25, 32 - 15]], atol=1e-5)


def test_affine_rotation_90():
    # rot = 90: the point 64 px right of the center goes to the top-center of the output,
    # the point 64 px below goes to the right-center: x' = (y - 100)/2 + 32,
    # y' = -(x - 100)/2 + 32.
    c, s = np.array([100., 100.]), np.array([0.64, 0.64])
    trans = get_affine_transform(c, s, 90, (64, 64))
    np.testing.assert_allclose(trans, [[0, 0.5, -18], [-0.5, 0, 82]], atol=1e-5)
    pts = affine_transform_points([[164., 100.], [100., 164.], [100., 100.]], trans)
    np.testing.assert_allclose(pts, [[32, 0], [64, 32], [32, 32]], atol=1e-4)
    inv = get_affine_transform(c, s, 90, (64, 64), inv=True)
    np.testing.assert_allclose(affine_transform_points(pts, inv),
                               [[164, 100], [100, 164], [100, 100]], atol=1e-3)


# ----------------------------------------------------------------------------- flips
def test_flip_back_hand_values():
    # (B=1, J=3, h=1, w=3); joints 0 and 1 are a left/right pair, joint 2 is central.
    hm = np.array([[[[1, 2, 3]], [[4, 5, 6]], [[7, 8, 9]]]], dtype=np.float32)
    out = flip_back(hm, ((0, 1),))
    np.testing.assert_array_equal(out, [[[[6, 5, 4]], [[3, 2, 1]], [[9, 8, 7]]]])
    np.testing.assert_array_equal(hm[0, 0, 0], [1, 2, 3])  # input untouched


def test_flip_joints_hand_values():
    joints = np.array([[[10., 5., 0.], [30., 6., 0.], [20., 7., 0.]]])
    vis = np.array([[[1., 1., 0.], [0., 0., 0.], [1., 1., 0.]]])
    j, v = flip_joints(joints, vis, 100, ((0, 1),))
    np.testing.assert_array_equal(j[0, :, :2], [[69, 6], [89, 5], [79, 7]])
    np.testing.assert_array_equal(v[0, :, 0], [0, 1, 1])


# ------------------------------------------------------------------------- heatmaps
E = np.exp


def test_heatmap_joint_at_grid_corner():
    # image 64x64, heatmap 16x16 (stride 4), sigma 2: joint at pixel (0, 0) -> mu = (0, 0).
    t, w = generate_heatmaps(np.array([[0., 0., 0.]]), np.ones((1, 3)), (64, 64), (16, 16), 2)
    assert t.shape == (1, 16, 16) and t.dtype == np.float32
    assert w.shape == (1, 1) and w.dtype == np.float32 and w[0, 0] == 1
    assert t[0, 0, 0] == 1
    assert t[0, 0, 1] == pytest.approx(E(-1 / 8), rel=1e-6)      # 0.8825
    assert t[0, 1, 1] == pytest.approx(E(-2 / 8), rel=1e-6)      # 0.7788
    assert t[0, 0, 6] == pytest.approx(E(-36 / 8), rel=1e-5)     # edge of the 13-cell window
    assert t[0, 6, 6] == pytest.approx(E(-72 / 8), rel=1e-5)
    assert t[0, 0, 7] == 0 and t[0, 7, 0] == 0                    # outside the window
    assert np.count_nonzero(t) == 7 * 7


def test_heatmap_joint_at_far_corner_and_just_outside():
    # (62, 61) -> mu = (int(15.5 + .5), int(15.25 + .5)) = (16, 15): peak one cell off the grid
    # to the right, still weighted 1 because the window reaches into the grid.
    t, w = generate_heatmaps(np.array([[62., 61.]]), np.ones((1,)), (64, 64), (16, 16), 2)
    assert w[0, 0] == 1
    assert t[0].max() == pytest.approx(E(-1 / 8), rel=1e-6)
    assert t[0, 15, 15] == pytest.approx(E(-1 / 8), rel=1e-6)
    assert t[0, 15, 10] == pytest.approx(E(-36 / 8), rel=1e-5)
    assert t[0, 15, 9] == 0


def test_heatmap_joint_off_grid_and_truncation():
    joints = np.array([[-40., 8.], [-18., 8.], [8., 100.]])
    t, w = generate_heatmaps(joints, np.ones((3, 3)), (64, 64), (16, 16), 2)
    # x = -40 -> mu_x = int(-9.5) = -9, window [-15, -2): no overlap -> weight 0, empty map.
    assert w[0, 0] == 0 and not t[0].any()
    # x = -18 -> mu_x = int(-4.5 + .5) = -4 (truncation, not floor), window [-10, 3).
    assert w[1, 0] == 1
    assert t[1, 2, 0] == pytest.approx(E(-16 / 8), rel=1e-6)
    assert t[1, 2, 2] == pytest.approx(E(-36 / 8), rel=1e-5)
    assert t[1, 2, 3] == 0
    # y = 100 -> mu_y = 25, window [19, 32) below the 16-row grid -> weight 0.
    assert w[2, 0] == 0 and not t[2].any()


def test_heatmap_invisible_weighs_zero_and_joint_weights():
    joints = np.array([[32., 32.], [20., 40.]])
    vis = np.array([[0., 0., 0.], [1., 1., 0.]])
    t, w = generate_heatmaps(joints, vis, (64, 64), (16, 16), 2, joint_weights=[1.5, 1.2])
    assert w[0, 0] == 0 and not t[0].any()
    assert w[1, 0] == pytest.approx(1.2)
    assert t[1, 10, 5] == 1 and np.unravel_index(t[1].argmax(), (16, 16)) == (10, 5)


def _hrnet_reference(joints, vis, image_size, heatmap_size, sigma):
    """HRNet's JointsDataset.generate_target loop, for comparison."""
    num_joints = len(joints)
    target_weight = np.ones((num_joints, 1), dtype=np.float32)
    target_weight[:, 0] = vis
    target = np.zeros((num_joints, heatmap_size[1], heatmap_size[0]), dtype=np.float32)
    tmp_size = sigma * 3
    for j in range(num_joints):
        stride = np.array(image_size) / np.array(heatmap_size)
        mu_x = int(joints[j][0] / stride[0] + 0.5)
        mu_y = int(joints[j][1] / stride[1] + 0.5)
        ul = [int(mu_x - tmp_size), int(mu_y - tmp_size)]
        br = [int(mu_x + tmp_size + 1), int(mu_y + tmp_size + 1)]
        # HRNet tests br < 0; a window ending exactly at the grid edge weighs 0 here.
        if ul[0] >= heatmap_size[0] or ul[1] >= heatmap_size[1] or br[0] <= 0 or br[1] <= 0:
            target_weight[j] = 0
            continue
        size = 2 * tmp_size + 1
        x = np.arange(0, size, 1, np.float32)
        y = x[:, np.newaxis]
        x0 = y0 = size // 2
        g = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma ** 2))
        g_x = max(0, -ul[0]), min(br[0], heatmap_size[0]) - ul[0]
        g_y = max(0, -ul[1]), min(br[1], heatmap_size[1]) - ul[1]
        img_x = max(0, ul[0]), min(br[0], heatmap_size[0])
        img_y = max(0, ul[1]), min(br[1], heatmap_size[1])
        if target_weight[j] > 0.5:
            target[j][img_y[0]:img_y[1], img_x[0]:img_x[1]] = g[g_y[0]:g_y[1], g_x[0]:g_x[1]]
    return target, target_weight


@pytest.mark.parametrize('sigma', [1, 2, 3])
def test_heatmaps_match_hrnet_loop_batched(sigma):
    rng = np.random.default_rng(sigma)
    joints = rng.uniform(-30, 220, size=(3, 17, 2))          # (N, J, 2), some off the grid
    vis = (rng.uniform(size=(3, 17)) > 0.2).astype(np.float32)
    t, w = generate_heatmaps(joints, vis, (192, 256), (48, 64), sigma)
    assert t.shape == (3, 17, 64, 48) and w.shape == (3, 17, 1)
    for n in range(3):
        rt, rw = _hrnet_reference(joints[n], vis[n], (192, 256), (48, 64), sigma)
        np.testing.assert_array_equal(w[n], rw)
        np.testing.assert_allclose(t[n], rt, rtol=1e-6, atol=1e-7)
