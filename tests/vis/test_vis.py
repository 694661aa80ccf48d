"""Drawing: skeleton pixels, per-pose colours, secondary-instance style, debug images."""
import numpy as np
import pytest
import torch

from mipnet.config import load_config
from mipnet.data import IMAGENET_MEAN, IMAGENET_STD
from mipnet.data.metadata import COCO, CROWDPOSE, OCHUMAN
from mipnet import vis


def _pose(num_joints, offset):
    """(J, 3) joints on a diagonal-ish pattern well inside a 200x200 image, confidence 1."""
    j = np.arange(num_joints)
    return np.stack([30 + 8 * j + offset, 30 + 6 * (j % 5) + 2 * offset,
                     np.ones(num_joints)], axis=1)


@pytest.mark.parametrize('meta', [COCO, CROWDPOSE, OCHUMAN], ids=lambda m: m.name)
def test_draw_pose_marks_joints_and_limbs(meta):
    img = np.zeros((200, 200, 3), np.uint8)
    kpts = _pose(meta.num_joints, 0)
    color = vis.pose_color(0)
    vis.draw_pose(img, kpts, meta.skeleton, color, radius=3)
    for x, y, _ in kpts:
        assert tuple(img[int(y), int(x)]) == color
    a, b = meta.skeleton[0]
    mid = (kpts[a, :2] + kpts[b, :2]) / 2
    assert img[int(round(mid[1])), int(round(mid[0]))].any()


def test_two_poses_get_different_colours_and_secondary_is_hollow():
    poses = [{'keypoints': _pose(17, 0), 'instance': 0, 'score': 0.9, 'box': [20, 20, 160, 80]},
             {'keypoints': _pose(17, 40), 'instance': 1, 'score': 0.4}]
    blank = np.zeros((200, 200, 3), np.uint8)
    out = vis.draw_poses(blank, poses, COCO.skeleton, kpt_thre=0.0)
    assert not blank.any(), 'input image must not be modified'
    c0, c1 = vis.pose_color(0), vis.pose_color(1)
    assert c0 != c1
    x0, y0 = poses[0]['keypoints'][16, :2].astype(int)
    assert tuple(out[y0, x0]) == c0
    # Hollow marker of the secondary pose: the ring has its colour, the centre stays dark
    # where no limb passes (joint 16 has no limb to the right of it).
    img = np.zeros((200, 200, 3), np.uint8)
    vis.draw_pose(img, np.array([[100.0, 100.0, 1.0]]), None, c1, secondary=True, radius=8)
    assert not img[100, 100].any()
    assert (img == np.array(c1, np.uint8)).all(axis=2).any()


def test_low_confidence_joints_are_smaller_or_hidden():
    img_hi = np.zeros((100, 100, 3), np.uint8)
    img_lo = np.zeros((100, 100, 3), np.uint8)
    vis.draw_pose(img_hi, np.array([[50.0, 50.0, 1.0]]), None, (0, 0, 255), radius=10)
    vis.draw_pose(img_lo, np.array([[50.0, 50.0, 0.1]]), None, (0, 0, 255), radius=10)
    assert img_hi.any(axis=2).sum() > img_lo.any(axis=2).sum() > 0
    img = np.zeros((100, 100, 3), np.uint8)
    vis.draw_pose(img, np.array([[50.0, 50.0, 0.1]]), None, (0, 0, 255), kpt_thre=0.2)
    assert not img.any()


def test_heatmap_grid_shape():
    crops = np.zeros((2, 64, 48, 3), np.uint8)
    grid = vis.heatmap_grid(crops, np.random.rand(2, 3, 5, 16, 12).astype(np.float32))
    assert grid.shape == (2 * 3 * 48, 6 * 36, 3)


def test_save_debug_images_writes_four_files(tmp_path, tiny_cfg_file):
    cfg = load_config(tiny_cfg_file, ['DEBUG.DEBUG', 'True', 'DEBUG.SAVE_BATCH_IMAGES_GT', 'True',
                                      'DEBUG.SAVE_BATCH_IMAGES_PRED', 'True',
                                      'DEBUG.SAVE_HEATMAPS_GT', 'True',
                                      'DEBUG.SAVE_HEATMAPS_PRED', 'True'])
    b, n, j = 3, 2, 17
    # A mid-grey RGB crop after the dataset's normalisation.
    images = torch.from_numpy(((0.5 - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32))
    images = images.view(1, 3, 1, 1).expand(b, 3, 64, 64).contiguous()
    joints = torch.rand(b, n, j, 3) * 60
    joints[..., 2] = 0
    meta = {'joints': joints, 'joints_vis': torch.ones(b, n, j, 3)}
    target = torch.rand(b, n, j, 16, 16)
    prefix = str(tmp_path / 'deep' / 'dir' / 'train_e0_s0')
    written = vis.save_debug_images(cfg, images, meta, target, torch.rand(b, 1, j, 16, 16),
                                    prefix)
    for suffix in ('_gt.jpg', '_pred.jpg', '_hm_gt.jpg', '_hm_pred.jpg'):
        assert (tmp_path / 'deep' / 'dir' / f'train_e0_s0{suffix}').stat().st_size > 0
    assert len(written) == 4
    crops = vis.denormalize_images(images, color_rgb=True)
    assert np.abs(crops.astype(int) - 128).max() <= 1


def test_save_debug_images_respects_flags(tmp_path, tiny_cfg_file):
    cfg = load_config(tiny_cfg_file, ['DEBUG.DEBUG', 'True', 'DEBUG.SAVE_HEATMAPS_PRED', 'True'])
    written = vis.save_debug_images(
        cfg, torch.zeros(1, 3, 64, 64), {'joints': torch.zeros(1, 2, 17, 3),
                                         'joints_vis': torch.zeros(1, 2, 17, 3)},
        torch.zeros(1, 2, 17, 16, 16), torch.zeros(1, 2, 17, 16, 16), str(tmp_path / 'x'))
    assert [p.rsplit('/', 1)[-1] for p in written] == ['x_hm_pred.jpg']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['x_hm_pred.jpg']


def test_draw_annotations_zooms_and_marks_every_labelled_joint():
    from mipnet.vis import draw_annotations
    image = np.zeros((20, 30, 3), np.uint8)
    keypoints = [0.0] * 51
    keypoints[0:3] = [5, 5, 2]          # visible joint: filled
    keypoints[3:6] = [20, 10, 1]        # occluded joint: hollow
    ann = {'bbox': [2, 2, 24, 14], 'keypoints': keypoints}
    drawn = draw_annotations(image, [ann], [], zoom=2)
    assert drawn.shape == (40, 60, 3) and not image.any()      # a new, enlarged image
    visible = (np.array([5, 5]) + 0.5) * 2 - 0.5
    occluded = (np.array([20, 10]) + 0.5) * 2 - 0.5
    assert drawn[int(round(visible[1])), int(round(visible[0]))].any()
    assert not drawn[int(round(occluded[1])), int(round(occluded[0]))].any()
    assert drawn[int(round(occluded[1])), int(round(occluded[0])) + 3].any()


def _crowded_poses(index):
    """A crowded synthetic scene (OCHuman-like: every person's box at IoU >= 0.5 with
    another's) with MIPNet-like poses: per box the person (k=0) and the next person (k=1)."""
    from mipnet.data.synthetic import OCHUMAN_LIKE
    from mipnet.data.synthetic.scene import render_image
    image, people = render_image(0, 'val', index, (256, 192), OCHUMAN_LIKE)
    poses = []
    for k in (0, 1):
        for b, person in enumerate(people):
            kpts = people[(b + k) % len(people)]['keypoints'].copy()
            kpts[:, 2] = (kpts[:, 2] > 0) * (0.9 - 0.3 * k)
            poses.append({'keypoints': kpts + [2.0 * k, 0, 0], 'instance': k,
                          'score': 0.9 - 0.5 * k - 0.03 * b, 'box': person['bbox']})
    return image, poses


@pytest.mark.parametrize('index', range(4))
@pytest.mark.parametrize('scale', [1.0, None, 3.0])
def test_labels_never_cover_each_other_on_a_crowded_image(index, scale):
    image, poses = _crowded_poses(index)
    assert len(poses) >= 4
    scale = vis.draw_scale(image.shape) if scale is None else scale
    labels = [f'b{i % (len(poses) // 2)} k={p["instance"]} {p["score"]:.2f}'
              for i, p in enumerate(poses)]
    out, rects = vis.draw_poses(image, poses, COCO.skeleton, kpt_thre=0.1, labels=labels,
                                scale=scale, return_layout=True)
    h, w = out.shape[:2]
    assert (h, w) == (round(192 * scale), round(256 * scale))
    assert len(rects) == len(poses)
    for i, (x0, y0, x1, y1) in enumerate(rects):
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        # the label is there: its background has the pose's colour
        assert (out[y0 + 1, x0:x1] == np.array(vis.pose_color(i), np.uint8)).all(axis=1).mean() > 0.3
        for x2, y2, x3, y3 in rects[i + 1:]:
            assert not (x0 < x3 and x2 < x1 and y0 < y3 and y2 < y1), 'labels overlap'


def test_layout_moves_a_colliding_label_beside_its_box():
    # Boxes with the same top-left corner: the second label goes to its right end, the
    # third (a box as narrow as its label) below its box.
    rects = vis.layout_labels([[50, 60, 150, 160], [50, 60, 190, 140], [50, 60, 90, 100]],
                              [[40, 12]] * 3, (200, 200))
    assert rects[0] == (50, 48, 90, 60)          # above its box, left-aligned
    assert rects[1] == (150, 48, 190, 60)        # above its box, right-aligned
    assert rects[2] == (50, 100, 90, 112)        # below its box
    # An image too small for two labels: the second overlaps least, inside the image.
    rects = vis.layout_labels([[0, 0, 10, 10]] * 2, [[40, 12]] * 2, (40, 12))
    assert rects == [(0, 0, 40, 12), (0, 0, 40, 12)]


def test_draw_scale_upscales_small_images_for_drawing_only():
    assert vis.draw_scale((192, 256, 3)) == pytest.approx(512 / 192)
    assert vis.draw_scale((600, 800, 3)) == 1.0
    pose = {'keypoints': np.array([[10.0, 20.0, 1.0], [30.0, 40.0, 1.0]]), 'instance': 0}
    out = vis.draw_poses(np.zeros((50, 60, 3), np.uint8), [pose], None, scale=3.0,
                         draw_boxes=False, labels=[''])
    assert out.shape == (150, 180, 3)
    for x, y in ((10, 20), (30, 40)):  # joints at the pixel centres of the 3x drawing
        assert tuple(out[int((y + 0.5) * 3 - 0.5), int((x + 0.5) * 3 - 0.5)]) == vis.pose_color(0)
    with pytest.raises(ValueError, match='scale must be positive'):
        vis.draw_poses(np.zeros((5, 5, 3), np.uint8), [], None, scale=0)


def test_legend_has_an_entry_for_instance_1():
    image, poses = _crowded_poses(0)
    plain = vis.draw_poses(image, poses, COCO.skeleton, scale=2.0)
    one = vis.draw_poses(image, poses, COCO.skeleton, scale=2.0, legend=[0])
    two = vis.draw_poses(image, poses, COCO.skeleton, scale=2.0, legend=[0, 1])
    assert plain.shape[0] < one.shape[0] <= two.shape[0]
    assert (two[:plain.shape[0]] == plain).all()  # the legend goes under the picture
    strip_one, strip_two = one[plain.shape[0]:], two[plain.shape[0]:]
    # the k=1 entry adds ink: a hollow marker sample and its text
    assert (strip_two < 128).sum() > (strip_one < 128).sum() + 200
