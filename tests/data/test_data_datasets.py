"""Datasets on the real COCO / CrowdPose / OCHuman fixtures: items, pairing, flips, targets."""
import gzip
import json
import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mipnet.config import ConfigError
from mipnet.data import DATASETS, IMAGENET_MEAN, IMAGENET_STD, build_dataset
from mipnet.data.metadata import get_keypoint_meta
from mipnet.data.transforms import affine_transform_points, get_affine_transform

# Train with geometry fixed (no scale/rotation/half-body jitter) so positions are predictable.
NO_JITTER = ('DATASET.SCALE_FACTOR', 0.0, 'DATASET.ROT_FACTOR', 0,
             'DATASET.PROB_HALF_BODY', 0.0)


def _check_item(item, n, j, size=(64, 64), hm=(16, 16)):
    image, target, weight, meta = item
    assert image.dtype == torch.float32 and image.shape == (3, size[1], size[0])
    assert target.dtype == torch.float32 and target.shape == (n, j, hm[1], hm[0])
    assert weight.dtype == torch.float32 and weight.shape == (n, j, 1)
    assert set(meta) == {'image', 'image_id', 'ann_id', 'center', 'scale', 'rotation', 'score',
                         'joints', 'joints_vis', 'instance_valid', 'index'}
    assert isinstance(meta['image'], str) and isinstance(meta['image_id'], int)
    assert isinstance(meta['ann_id'], int) and isinstance(meta['rotation'], float)
    assert isinstance(meta['score'], float)
    for key, shape in (('center', (2,)), ('scale', (2,)), ('joints', (n, j, 3)),
                       ('joints_vis', (n, j, 3)), ('instance_valid', (n,))):
        assert meta[key].dtype == np.float32 and meta[key].shape == shape, key
    assert meta['instance_valid'][0] == 1
    # Normalised image: raw pixels are back in [0, 1].
    raw = image.numpy() * IMAGENET_STD[:, None, None] + IMAGENET_MEAN[:, None, None]
    assert raw.min() >= -1e-4 and raw.max() <= 1 + 1e-4


@pytest.mark.parametrize('name', ['coco', 'crowdpose', 'ochuman'])
@pytest.mark.parametrize('is_train', [True, False])
def test_build_fixture_datasets_gt(name, is_train, fixture_cfg, raw_annotations):
    cfg = fixture_cfg(name)
    ds = build_dataset(cfg, is_train)
    assert type(ds) is DATASETS[name] and ds.meta is get_keypoint_meta(name)
    assert ds.box_source == 'ground-truth boxes' and ds.num_instances == 2
    assert ds.annotation_file.endswith('.json') and ds.skipped_images == 0
    # One record per person with keypoints (all fixture boxes are clean, non-crowd people).
    _, anns = raw_annotations(name)
    assert len(ds) == sum(a['num_keypoints'] > 0 for a in anns) == len(ds.db)
    np.random.seed(0)
    random.seed(0)
    for i in range(len(ds)):
        _check_item(ds[i], 2, cfg.MODEL.NUM_JOINTS)
    batch = next(iter(DataLoader(ds, batch_size=3, shuffle=False)))
    assert batch[1].shape == (3, 2, cfg.MODEL.NUM_JOINTS, 16, 16)
    assert batch[3]['joints'].shape == (3, 2, cfg.MODEL.NUM_JOINTS, 3)
    assert len(batch[3]['image']) == 3


@pytest.mark.parametrize('name', ['coco', 'crowdpose'])
def test_build_fixture_datasets_detections(name, fixtures_dir, fixture_cfg):
    folder, det_file = {'coco': ('coco', 'test_coco_det_AP_H_56.json'),
                        'crowdpose': ('crowdpose', 'test_crowdpose_det_AP_40.json')}[name]
    dets = json.loads((fixtures_dir / folder / det_file).read_text())
    thre = 0.5
    expected = [d for d in dets if d['category_id'] == 1 and d['score'] >= thre]
    cfg = fixture_cfg(name, 'TEST.IMAGE_THRE', thre, det=True)
    ds = build_dataset(cfg, False)
    assert ds.box_source == f'detections from {fixtures_dir / folder / det_file}'
    assert len(ds) == len(expected) > 0
    nj = cfg.MODEL.NUM_JOINTS
    for i in (0, len(ds) - 1):
        item = ds[i]
        _check_item(item, 2, nj)
        _, target, weight, meta = item
        assert meta['ann_id'] == -1 and meta['image_id'] == expected[i]['image_id']
        assert meta['score'] == pytest.approx(expected[i]['score'])
        np.testing.assert_array_equal(meta['instance_valid'], [1, 0])
        assert not target.any() and not weight.any()
        x, y, w, h = expected[i]['bbox']
        np.testing.assert_allclose(meta['center'], [x + w / 2, y + h / 2], rtol=1e-6)
        np.testing.assert_allclose(meta['scale'], [max(w, h) / 200 * 1.25] * 2, rtol=1e-5)
    # Training always uses ground-truth boxes, whatever TEST.USE_GT_BBOX says.
    assert build_dataset(cfg, True).box_source == 'ground-truth boxes'


def test_val_center_scale_and_joints_by_hand(fixture_cfg, raw_annotations):
    """COCO ann 442619: bbox [280.79, 44.73, 218.7, 346.68] in a 640x425 image."""
    ds = build_dataset(fixture_cfg('coco', 'MODEL.IMAGE_SIZE', '[48, 64]',
                                   'MODEL.HEATMAP_SIZE', '[12, 16]'), False)
    idx = next(i for i, r in enumerate(ds.db) if r['ann_id'] == 442619)
    image, target, weight, meta = ds[idx]
    assert image.shape == (3, 64, 48) and target.shape == (2, 17, 16, 12)
    # clipped box: x1=280.79, y1=44.73, w=min(639, 280.79+217.7)-280.79=217.7, h=345.68;
    # center = (280.79 + 108.85, 44.73 + 172.84); aspect 0.75 -> w = 345.68 * 0.75.
    np.testing.assert_allclose(meta['center'], [389.64, 217.57], rtol=1e-6)
    np.testing.assert_allclose(meta['scale'], [345.68 * 0.75 / 200 * 1.25, 345.68 / 200 * 1.25],
                               rtol=1e-6)
    assert meta['rotation'] == 0 and meta['score'] == 1 and meta['image_id'] == 785
    assert meta['image'].endswith('000000000785.jpg')
    _, anns = raw_annotations('coco')
    kps = np.array(next(a for a in anns if a['id'] == 442619)['keypoints']).reshape(17, 3)
    trans = get_affine_transform(meta['center'], meta['scale'], 0, (48, 64))
    expected = affine_transform_points(kps[:, :2], trans)
    inside = (expected[:, 0] >= 0) & (expected[:, 0] < 48) & (expected[:, 1] >= 0) & \
        (expected[:, 1] < 64) & (kps[:, 2] > 0)
    np.testing.assert_array_equal(meta['joints_vis'][0, :, 0], inside.astype(np.float32))
    np.testing.assert_allclose(meta['joints'][0, inside, :2], expected[inside], atol=1e-3)
    # Only person in the image: slot 1 repeats instance 0.
    np.testing.assert_array_equal(meta['instance_valid'], [1, 0])
    np.testing.assert_array_equal(meta['joints'][1], meta['joints'][0])
    assert torch.equal(target[1], target[0])


@pytest.mark.parametrize('name, train_follows', [('coco', False), ('crowdpose', True),
                                                 ('ochuman', True)])
def test_scale_thre_pads_the_boxes_where_the_reference_reads_it(name, train_follows,
                                                                 fixture_cfg):
    """TEST.SCALE_THRE (default 1.25) enlarges every evaluation box, and the training boxes
    of CrowdPose / OCHuman; COCO training keeps 1.25 (the reference's coco_lambda.py)."""
    plain = {train: build_dataset(fixture_cfg(name), train) for train in (False, True)}
    wide = {train: build_dataset(fixture_cfg(name, 'TEST.SCALE_THRE', 1.5), train)
            for train in (False, True)}
    for train in (False, True):
        factor = 1.5 / 1.25 if train_follows or not train else 1.0
        assert [r['ann_id'] for r in wide[train].db] == [r['ann_id'] for r in plain[train].db]
        for a, b in zip(plain[train].db, wide[train].db):
            np.testing.assert_allclose(b['scale'], a['scale'] * factor, rtol=1e-6)
            np.testing.assert_array_equal(b['center'], a['center'])


def test_scale_thre_pads_detection_boxes(fixtures_dir, fixture_cfg):
    ds = build_dataset(fixture_cfg('coco', 'TEST.SCALE_THRE', 1.0, 'TEST.IMAGE_THRE', 0.0,
                                   det=True), False)
    dets = [d for d in json.loads((fixtures_dir / 'coco' / 'test_coco_det_AP_H_56.json')
                                  .read_text()) if d['category_id'] == 1]
    x, y, w, h = dets[0]['bbox']
    # A square input (64x64): the padded box is max(w, h) wide, not enlarged further.
    np.testing.assert_allclose(ds.db[0]['scale'], [max(w, h) / 200] * 2, rtol=1e-5)
    with pytest.raises(ConfigError, match='TEST.SCALE_THRE = 0.0 must be a positive number'):
        fixture_cfg('coco', 'TEST.SCALE_THRE', 0.0)


# Other people by increasing squared distance of clipped-box centers, computed by hand from
# test_coco.json (people without keypoints, e.g. 1202706 in image 40083, do not count).
COCO_NEAREST = {
    437295: [467657, 543117, 533949, 531914],   # d2 ~ 11.7k, 46.8k, 68.4k, 119k
    531914: [533949, 467657, 437295, 543117],
    543117: [437295, 467657, 533949, 531914],
    460541: [1717641, 488308, 1724673],
    488308: [1717641, 460541, 1724673],
    1724673: [460541, 1717641, 488308],
    230195: [198196],                            # 1202706 (no keypoints) is nearer but skipped
    442619: [],
}


def test_pairing_nearest_other_person(fixture_cfg):
    ds = build_dataset(fixture_cfg('coco', 'MODEL.NUM_INSTANCES', 5), True)
    by_ann = {r['ann_id']: r for r in ds.db}
    joints0 = {r['ann_id']: r['joints'][0] for r in ds.db}
    for ann_id, others in COCO_NEAREST.items():
        rec = by_ann[ann_id]
        n_real = 1 + len(others)
        assert rec['instance_ann_ids'] == [ann_id] + others + [ann_id] * (5 - n_real)
        np.testing.assert_array_equal(rec['instance_valid'],
                                      [1.] * n_real + [0.] * (5 - n_real))
        for k, other in enumerate(others, start=1):
            np.testing.assert_array_equal(rec['joints'][k], joints0[other])
        for k in range(n_real, 5):
            np.testing.assert_array_equal(rec['joints'][k], rec['joints'][0])


@pytest.mark.parametrize('name,pairs', [
    ('crowdpose', {123803: 147481, 147481: 123803, 127068: 129014, 129014: 127068}),
    ('ochuman', {2: 3, 3: 2, 4: 5, 5: 4, 1: None}),
])
def test_pairing_crowdpose_ochuman(name, pairs, fixture_cfg):
    ds = build_dataset(fixture_cfg(name), False)
    for rec in ds.db:
        other = pairs[rec['ann_id']]
        assert rec['instance_ann_ids'][1] == (other if other else rec['ann_id'])
        assert rec['instance_valid'][1] == (1 if other else 0)


def test_pairing_at_scale_crowdpose_val(fixtures_dir, fixture_cfg):
    """The complete CrowdPose val annotations (2,000 images): pairing against brute force."""
    path = fixtures_dir / 'crowdpose' / 'crowdpose_val.json.gz'
    cfg = fixture_cfg('crowdpose', 'MODEL.NUM_INSTANCES', 3,
                      'DATASET.TEST_ANNOTATION_FILE', str(path))
    ds = build_dataset(cfg, False)
    with gzip.open(path, 'rt') as f:
        data = json.load(f)
    sizes = {im['id']: (im['width'], im['height']) for im in data['images']}
    people = {}
    for a in data['annotations']:
        if a['category_id'] != 1 or a.get('iscrowd', 0) or not any(a['keypoints'][2::3]):
            continue
        x, y, w, h = a['bbox']
        width, height = sizes[a['image_id']]
        x1, y1 = max(0, x), max(0, y)
        x2, y2 = min(width - 1, x1 + max(0, w - 1)), min(height - 1, y1 + max(0, h - 1))
        if x2 >= x1 and y2 >= y1 and (x2 - x1) * (y2 - y1) > 0:
            people.setdefault(a['image_id'], []).append((a['id'], (x1 + x2) / 2, (y1 + y2) / 2))
    assert len(ds) == sum(len(v) for v in people.values()) > 7900
    rng = np.random.default_rng(0)
    for i in rng.choice(len(ds), 300, replace=False):
        rec = ds.db[i]
        mine = next(p for p in people[rec['image_id']] if p[0] == rec['ann_id'])
        others = sorted((p for p in people[rec['image_id']] if p[0] != mine[0]),
                        key=lambda p: (p[1] - mine[1]) ** 2 + (p[2] - mine[2]) ** 2)
        d2 = [(p[1] - mine[1]) ** 2 + (p[2] - mine[2]) ** 2 for p in others]
        got = rec['instance_ann_ids'][1:1 + len(others)]
        for k, ann_id in enumerate(got):
            # the chosen k-th neighbour is at the k-th smallest distance (ties allowed)
            p = next(p for p in others if p[0] == ann_id)
            assert (p[1] - mine[1]) ** 2 + (p[2] - mine[2]) ** 2 == pytest.approx(d2[k],
                                                                                  abs=1e-2)


def test_secondary_instance_outside_crop_repeats_instance0(fixture_cfg):
    # COCO 1724673 is a small person at the far left; its nearest other person (460541)
    # lies entirely outside its crop, so slot 1 falls back to instance 0.
    ds = build_dataset(fixture_cfg('coco'), False)
    idx = next(i for i, r in enumerate(ds.db) if r['ann_id'] == 1724673)
    assert ds.db[idx]['instance_valid'][1] == 1        # genuine before cropping
    _, target, weight, meta = ds[idx]
    np.testing.assert_array_equal(meta['instance_valid'], [1, 0])
    np.testing.assert_array_equal(meta['joints'][1], meta['joints'][0])
    assert torch.equal(target[1], target[0]) and torch.equal(weight[1], weight[0])
    # Overlapping people keep a genuine second instance with different joints.
    idx = next(i for i, r in enumerate(ds.db) if r['ann_id'] == 460541)
    _, target, _, meta = ds[idx]
    np.testing.assert_array_equal(meta['instance_valid'], [1, 1])
    assert (meta['joints_vis'][1, :, 0] > 0).sum() > 3
    assert not torch.equal(target[1], target[0])


def _targets_peak_at_joints(item, image_size=(64, 64), heatmap_size=(16, 16)):
    _, target, weight, meta = item
    stride = np.array(image_size) / np.array(heatmap_size)
    vis = meta['joints_vis'][..., 0] > 0
    assert np.array_equal(weight[..., 0].numpy() > 0, vis)
    assert not target[~torch.from_numpy(vis)].any()       # invisible joints: empty maps
    n_peaks = 0
    for n, j in zip(*np.nonzero(vis)):
        x, y = meta['joints'][n, j, :2]
        assert 0 <= x < image_size[0] and 0 <= y < image_size[1]
        mu = (int(x / stride[0] + 0.5), int(y / stride[1] + 0.5))
        if mu[0] < heatmap_size[0] and mu[1] < heatmap_size[1]:
            hm = target[n, j].numpy()
            assert hm[mu[1], mu[0]] == 1.0 and hm.max() == 1.0
            n_peaks += 1
    return n_peaks


@pytest.mark.parametrize('name', ['coco', 'crowdpose', 'ochuman'])
def test_train_targets_peak_at_transformed_joints(name, fixture_cfg, raw_annotations):
    ds = build_dataset(fixture_cfg(name, 'DATASET.PROB_HALF_BODY', 0.3), True)
    images, anns = raw_annotations(name)
    kps = {a['id']: np.array(a['keypoints'], dtype=np.float64).reshape(-1, 3) for a in anns}
    np.random.seed(1)
    random.seed(1)
    peaks = 0
    for i in range(len(ds)):
        item = ds[i]
        peaks += _targets_peak_at_joints(item)
        meta = item[3]
        # Instance 0 joints = the annotation pushed through the sample's own affine matrix
        # (mirrored first when the sample was flipped).
        raw = kps[ds.db[i]['ann_id']].copy()
        width = images[meta['image_id']]['width']
        trans = get_affine_transform(meta['center'], meta['scale'], meta['rotation'], (64, 64))
        vis0 = meta['joints_vis'][0, :, 0] > 0
        plain = affine_transform_points(raw[:, :2], trans)
        mirrored = raw.copy()
        mirrored[:, 0] = width - 1 - mirrored[:, 0]
        mirrored = affine_transform_points(mirrored[ds.meta.flip_index, :2], trans)
        ok_plain = np.allclose(meta['joints'][0, vis0, :2], plain[vis0], atol=1e-3)
        ok_flip = np.allclose(meta['joints'][0, vis0, :2], mirrored[vis0], atol=1e-3)
        assert ok_plain or ok_flip
        # labelled-invisible joints stay invisible
        src_vis = raw[:, 2] > 0 if ok_plain else raw[ds.meta.flip_index, 2] > 0
        assert not (vis0 & ~src_vis).any()
    assert peaks > 0


@pytest.mark.parametrize('name', ['coco', 'crowdpose', 'ochuman'])
def test_flip_swaps_left_right_of_every_instance(name, fixture_cfg, monkeypatch):
    ds = build_dataset(fixture_cfg(name, *NO_JITTER, 'DATASET.FLIP', True), True)
    perm = ds.meta.flip_index
    assert ds.meta.flip_pairs and (perm != np.arange(len(perm))).any()
    n_checked = 0
    for i in range(len(ds)):
        monkeypatch.setattr(random, 'random', lambda: 0.99)   # no rotation, no flip
        plain = ds[i]
        monkeypatch.setattr(random, 'random', lambda: 0.0)    # (zero) rotation, flip
        flipped = ds[i]
        monkeypatch.undo()
        mp, mf = plain[3], flipped[3]
        np.testing.assert_array_equal(mf['instance_valid'], mp['instance_valid'])
        for n in range(ds.num_instances):
            # joint j of the flipped crop is joint perm[j] of the plain crop, mirrored:
            # x_f = W - x_p (HRNet's flip maps x -> width - 1 - x in the source image).
            vis_p = mp['joints_vis'][n, perm, 0]
            vis_f = mf['joints_vis'][n, :, 0]
            both = (vis_p > 0) & (vis_f > 0)
            assert both.sum() >= (vis_p > 0).sum() - 1
            np.testing.assert_allclose(mf['joints'][n, both, 0],
                                       64 - mp['joints'][n, perm, 0][both], atol=1e-3)
            np.testing.assert_allclose(mf['joints'][n, both, 1],
                                       mp['joints'][n, perm, 1][both], atol=1e-3)
            n_checked += both.sum()
        # the crop itself is mirrored the same way: column u of the flipped crop samples
        # the source point of column W - u of the plain crop
        diff = (flipped[0][:, :, 1:] - plain[0].flip(-1)[:, :, :-1]).abs()
        assert diff.mean() < 0.02
        _targets_peak_at_joints(flipped)
    assert n_checked > 20


def test_flip_left_shoulder_becomes_right(fixture_cfg, monkeypatch):
    # COCO joints 5/6 are left/right shoulder: after a flip, the new left shoulder is the old
    # right shoulder mirrored.
    ds = build_dataset(fixture_cfg('coco', *NO_JITTER), True)
    idx = next(i for i, r in enumerate(ds.db) if r['ann_id'] == 437295)
    monkeypatch.setattr(random, 'random', lambda: 0.99)
    plain = ds[idx][3]['joints']
    monkeypatch.setattr(random, 'random', lambda: 0.0)
    flipped = ds[idx][3]['joints']
    for n in range(2):
        np.testing.assert_allclose(flipped[n, 5, :2], [64 - plain[n, 6, 0], plain[n, 6, 1]],
                                   atol=1e-3)
        np.testing.assert_allclose(flipped[n, 6, :2], [64 - plain[n, 5, 0], plain[n, 5, 1]],
                                   atol=1e-3)


def test_half_body_centers_on_body_half(fixture_cfg):
    cfg = fixture_cfg('coco', 'DATASET.SCALE_FACTOR', 0.0, 'DATASET.ROT_FACTOR', 0,
                      'DATASET.FLIP', False, 'DATASET.PROB_HALF_BODY', 1.0)
    ds = build_dataset(cfg, True)
    idx = next(i for i, r in enumerate(ds.db) if r['ann_id'] == 442619)   # 17 visible joints
    rec = ds.db[idx]
    j0 = rec['joints'][0, :, :2]
    upper = j0[list(ds.meta.upper_body_ids)].mean(0)
    lower = j0[list(ds.meta.lower_body_ids)].mean(0)
    seen = set()
    for seed in range(8):
        np.random.seed(seed)
        random.seed(seed)
        meta = ds[idx][3]
        if np.allclose(meta['center'], upper, atol=1e-3):
            seen.add('upper')
        elif np.allclose(meta['center'], lower, atol=1e-3):
            seen.add('lower')
        else:
            raise AssertionError(f'center {meta["center"]} is neither half-body center')
        assert meta['scale'][1] < rec['scale'][1]
    assert seen == {'upper', 'lower'}


def test_seeded_samples_are_reproducible(fixture_cfg):
    ds = build_dataset(fixture_cfg('ochuman', 'DATASET.PROB_HALF_BODY', 0.5), True)
    out = []
    for _ in range(2):
        np.random.seed(3)
        random.seed(3)
        out.append([ds[i] for i in range(len(ds))])
    for a, b in zip(*out):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        np.testing.assert_array_equal(a[3]['joints'], b[3]['joints'])


def test_color_order_and_joint_weights(fixture_cfg):
    rgb = build_dataset(fixture_cfg('crowdpose', 'DATASET.COLOR_RGB', True,
                                    'LOSS.USE_DIFFERENT_JOINTS_WEIGHT', True), False)[0]
    bgr = build_dataset(fixture_cfg('crowdpose', 'DATASET.COLOR_RGB', False), False)[0]
    m, s = IMAGENET_MEAN[:, None, None], IMAGENET_STD[:, None, None]
    raw_rgb = rgb[0].numpy() * s + m
    raw_bgr = bgr[0].numpy() * s + m
    np.testing.assert_allclose(raw_rgb[::-1], raw_bgr, atol=1e-5)
    jw = np.array(get_keypoint_meta('crowdpose').joint_weights, dtype=np.float32)
    np.testing.assert_allclose(rgb[2][..., 0].numpy(), bgr[2][..., 0].numpy() * jw, rtol=1e-6)
    assert torch.equal(rgb[1], bgr[1])


def test_select_data_matches_hrnet_rule(fixture_cfg):
    all_recs = build_dataset(fixture_cfg('coco'), True).db
    selected = build_dataset(fixture_cfg('coco', 'DATASET.SELECT_DATA', True), True).db
    expected = []
    for rec in all_recs:
        vis = rec['joints_vis'][0, :, 0] > 0
        num_vis = vis.sum()
        jc = rec['joints'][0, vis, :2].mean(0)
        area = rec['scale'][0] * rec['scale'][1] * 200 ** 2
        ks = np.exp(-np.sum((jc - rec['center']) ** 2) / (0.2 ** 2 * 2 * area))
        if ks > 0.2 / 16 * num_vis + 0.45 - 0.2 / 16:
            expected.append(rec['ann_id'])
    assert [r['ann_id'] for r in selected] == expected
    assert 0 < len(expected) < len(all_recs)


def test_num_instances_three_on_crowdpose(fixture_cfg):
    ds = build_dataset(fixture_cfg('crowdpose', 'MODEL.NUM_INSTANCES', 3), False)
    _check_item(ds[0], 3, 14)
    rec = ds.db[0]
    np.testing.assert_array_equal(rec['instance_valid'], [1, 1, 0])   # two people per image


def test_dataloader_workers(fixture_cfg):
    ds = build_dataset(fixture_cfg('ochuman'), True)
    loader = DataLoader(ds, batch_size=5, num_workers=1, shuffle=False)
    image, target, weight, meta = next(iter(loader))
    assert image.shape == (5, 3, 64, 64) and target.shape == (5, 2, 17, 16, 16)
    assert meta['instance_valid'].shape == (5, 2) and meta['image_id'].tolist() == [1, 2, 2, 3, 3]


@pytest.mark.parametrize('name', ['coco', 'crowdpose', 'ochuman'])
def test_evaluation_items_carry_only_what_inference_reads(name, fixture_cfg):
    from mipnet.data.targets import normalize_crops
    cfg = fixture_cfg(name, 'DATASET.COLOR_RGB', True)
    full = build_dataset(cfg, False)
    lean = build_dataset(cfg, False, device_targets=True)
    for i in range(len(full)):
        image, _, _, meta = full[i]
        crop, lean_meta = lean[i]
        assert crop.dtype == torch.uint8
        assert torch.equal(normalize_crops(crop[None], True)[0], image)
        assert set(lean_meta) == {'image', 'image_id', 'center', 'scale', 'score', 'index'}
        for key in ('image', 'image_id', 'score', 'index'):
            assert lean_meta[key] == meta[key]
        for key in ('center', 'scale'):
            assert lean_meta[key].dtype == np.float32
            np.testing.assert_array_equal(lean_meta[key], meta[key])
