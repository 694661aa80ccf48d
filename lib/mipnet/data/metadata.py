"""Keypoint layouts of the supported benchmarks.

COCO, CrowdPose and OCHuman differ only in this metadata: joint names, flip pairs, body
halves, per-joint loss weights, OKS sigmas, skeleton, and which evaluator scores them.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KeypointMeta:
    """Metadata of one keypoint layout."""
    name: str
    keypoint_names: tuple
    flip_pairs: tuple
    upper_body_ids: tuple
    lower_body_ids: tuple
    joint_weights: tuple
    sigmas: tuple
    skeleton: tuple  # 0-based joint index pairs
    evaluator: str  # 'coco' or 'crowdpose'

    @property
    def num_joints(self):
        return len(self.keypoint_names)

    @property
    def sigmas_array(self):
        return np.array(self.sigmas, dtype=np.float64)

    @property
    def flip_index(self):
        """(J,) permutation that swaps left and right joints."""
        perm = np.arange(self.num_joints)
        for left, right in self.flip_pairs:
            perm[left], perm[right] = right, left
        return perm


_COCO_NAMES = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
               'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
               'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle')
_COCO_SIGMAS = tuple(s / 10.0 for s in (.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62,
                                        1.07, 1.07, .87, .87, .89, .89))
_COCO_SKELETON = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
                  (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4),
                  (3, 5), (4, 6))

COCO = KeypointMeta(
    name='coco',
    keypoint_names=_COCO_NAMES,
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    upper_body_ids=tuple(range(11)),
    lower_body_ids=tuple(range(11, 17)),
    joint_weights=(1., 1., 1., 1., 1., 1., 1., 1.2, 1.2, 1.5, 1.5, 1., 1., 1.2, 1.2, 1.5, 1.5),
    sigmas=_COCO_SIGMAS,
    skeleton=_COCO_SKELETON,
    evaluator='coco',
)

OCHUMAN = KeypointMeta(**{**COCO.__dict__, 'name': 'ochuman'})

CROWDPOSE = KeypointMeta(
    name='crowdpose',
    keypoint_names=('left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist',
                    'right_wrist', 'left_hip', 'right_hip', 'left_knee', 'right_knee',
                    'left_ankle', 'right_ankle', 'head', 'neck'),
    flip_pairs=((0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)),
    upper_body_ids=(0, 1, 2, 3, 4, 5, 12, 13),
    lower_body_ids=(6, 7, 8, 9, 10, 11),
    # Reference crowdpose_lambda.py / crowdpose.py joints_weight: shoulders 1, elbows 1.2,
    # wrists 1.5, hips 1, knees 1.2, ankles 1.5, head and neck 1.
    joint_weights=(1., 1., 1.2, 1.2, 1.5, 1.5, 1., 1., 1.2, 1.2, 1.5, 1.5, 1., 1.),
    sigmas=tuple(s / 10.0 for s in (.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89,
                                    .79, .79)),
    skeleton=((12, 13), (13, 0), (13, 1), (0, 2), (2, 4), (1, 3), (3, 5), (13, 6), (13, 7),
              (6, 8), (8, 10), (7, 9), (9, 11)),
    evaluator='crowdpose',
)

# The synthetic generator writes COCO-layout people.
SYNTHETIC = KeypointMeta(**{**COCO.__dict__, 'name': 'synthetic'})

KEYPOINT_METAS = {m.name: m for m in (COCO, CROWDPOSE, OCHUMAN, SYNTHETIC)}


def get_keypoint_meta(name):
    """Return the :class:`KeypointMeta` registered as ``name`` (coco, crowdpose, ochuman,
    synthetic); unknown names raise a ValueError listing the valid ones."""
    try:
        return KEYPOINT_METAS[name.lower()]
    except KeyError:
        raise ValueError(f'unknown dataset {name!r}; valid: {", ".join(sorted(KEYPOINT_METAS))}') \
            from None
