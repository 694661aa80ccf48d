"""Keypoint metadata pinned against the reference MIPNet dataset files."""
from mipnet.data.metadata import COCO, CROWDPOSE, get_keypoint_meta


def test_crowdpose_joint_weights_equal_the_reference():
    # Reference lib/dataset/crowdpose_lambda.py (and crowdpose.py), self.joints_weight.
    reference = [1., 1., 1.2, 1.2, 1.5, 1.5, 1., 1., 1.2, 1.2, 1.5, 1.5, 1., 1.]
    assert list(CROWDPOSE.joint_weights) == reference
    # Each limb joint weighs what the same joint weighs in COCO (COCO index = CrowdPose + 5).
    for i in range(12):
        assert CROWDPOSE.joint_weights[i] == COCO.joint_weights[i + 5], CROWDPOSE.keypoint_names[i]


def test_coco_joint_weights_equal_the_reference():
    # Reference lib/dataset/coco.py, self.joints_weight.
    reference = [1., 1., 1., 1., 1., 1., 1., 1.2, 1.2, 1.5, 1.5, 1., 1., 1.2, 1.2, 1.5, 1.5]
    assert list(get_keypoint_meta('coco').joint_weights) == reference
