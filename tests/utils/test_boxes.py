import numpy as np
import pytest

from mipnet.utils.boxes import box_iou_matrix


def test_box_iou_matrix_by_hand():
    # [10,10,50,100] and [20,10,50,100] share 40x100 of a 60x100 union; the third is apart.
    iou = box_iou_matrix([[10, 10, 50, 100], [20, 10, 50, 100], [120, 10, 50, 100]])
    assert iou[0, 1] == pytest.approx(4000 / 6000)
    assert iou[1, 0] == pytest.approx(4000 / 6000)
    assert iou[0, 2] == 0 and iou[1, 2] == 0
    assert np.allclose(np.diag(iou), 1)
    assert box_iou_matrix([[0, 0, 10, 10], [5, 0, 10, 10]])[0, 1] == pytest.approx(1 / 3)


def test_box_iou_matrix_empty_and_negative_boxes():
    assert box_iou_matrix([[0, 0, 0, 0], [0, 0, 0, 0]])[0, 1] == 0  # empty union
    # A negative width counts as empty, not as a box reaching to the left.
    assert box_iou_matrix([[10, 0, -5, 10], [0, 0, 10, 10]])[0, 1] == 0
    assert box_iou_matrix(np.zeros((0, 4))).shape == (0, 0)
