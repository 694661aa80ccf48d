import pytest
import torch

from mipnet.losses import JointsMSELoss, JointsOHKMMSELoss, multi_instance_loss


def _example():
    # 2 boxes, 2 joints, 1x2 heatmaps.
    out = torch.tensor([[[[1., 0.]], [[0., 2.]]], [[[0., 0.]], [[1., 1.]]]])
    tgt = torch.tensor([[[[1., 1.]], [[0., 0.]]], [[[0., 0.]], [[0., 1.]]]])
    w = torch.tensor([[[1.], [1.]], [[1.], [0.]]])
    return out, tgt, w


def test_joints_mse_by_hand():
    out, tgt, w = _example()
    # Box 0: joint0 0.5*mean((0,1)^2)=0.25, joint1 0.5*mean((0,4))=1.0 -> 0.625
    # Box 1: joint0 0, joint1 masked -> 0 ; unmasked: joint1 0.5*mean(1,0)=0.25 -> 0.125
    loss = JointsMSELoss(use_target_weight=True)
    torch.testing.assert_close(loss.per_sample(out, tgt, w), torch.tensor([0.625, 0.0]))
    torch.testing.assert_close(loss(out, tgt, w), torch.tensor(0.3125))
    unmasked = JointsMSELoss(use_target_weight=False)
    torch.testing.assert_close(unmasked.per_sample(out, tgt, w), torch.tensor([0.625, 0.125]))


def test_ohkm_keeps_hardest_joints():
    out, tgt, w = _example()
    loss = JointsOHKMMSELoss(use_target_weight=True, topk=1)
    torch.testing.assert_close(loss.per_sample(out, tgt, w), torch.tensor([1.0, 0.0]))


def test_multi_instance_loss_by_hand():
    out, tgt, w = _example()
    # Instance 0 of box 0 = example box 0, instance 1 = example box 1; box 1 the reverse.
    o = torch.stack([out, out.flip(0)])          # (B=2, K=2, J, h, w)
    t = torch.stack([tgt, tgt.flip(0)])
    ww = torch.stack([w, w.flip(0)])
    loss = multi_instance_loss(JointsMSELoss(True), o, t, ww)
    torch.testing.assert_close(loss, torch.tensor((0.625 + 0 + 0 + 0.625) / 4))
    # Instance k is compared with instance k's target: a perfect prediction scores 0,
    # and the same prediction against the swapped instances is penalised.
    assert multi_instance_loss(JointsMSELoss(True), t, t, ww) == 0
    swapped = multi_instance_loss(JointsMSELoss(False), t, t.flip(1), ww)
    # Every box: joint0 0.5*mean(1, 1) = 0.5, joint1 0.5*mean(0, 1) = 0.25 -> 0.375.
    torch.testing.assert_close(swapped, torch.tensor(0.375))


def test_multi_instance_loss_instance_weights_by_hand():
    out, tgt, w = _example()
    o = torch.stack([out, out.flip(0)])          # per-sample losses [[0.625, 0], [0, 0.625]]
    t = torch.stack([tgt, tgt.flip(0)])
    ww = torch.stack([w, w.flip(0)])
    crit = JointsMSELoss(True)
    # Instance 0 of box 1 is wrong: instance means (0.3125, 0.3125) -> weights do not matter.
    torch.testing.assert_close(multi_instance_loss(crit, o, t, ww, [1.0, 0.5]),
                               torch.tensor(0.3125))
    # Only instance 1 wrong (box 0 and 1): means (0, 0.625); weights 2:1 -> 0.625 / 3.
    o2 = torch.stack([tgt, out.flip(0)]).transpose(0, 1)
    t2 = torch.stack([tgt, tgt.flip(0)]).transpose(0, 1)
    w2 = torch.stack([w, w.flip(0)]).transpose(0, 1)
    per_instance = [crit(o2[:, i], t2[:, i], w2[:, i]).item() for i in range(2)]
    assert per_instance[0] == 0 and per_instance[1] > 0
    torch.testing.assert_close(multi_instance_loss(crit, o2, t2, w2, [2.0, 1.0]),
                               torch.tensor(per_instance[1] / 3))
    # Equal weights are the plain mean; zero weight ignores that instance.
    torch.testing.assert_close(multi_instance_loss(crit, o2, t2, w2, [1.0, 1.0]),
                               multi_instance_loss(crit, o2, t2, w2))
    assert multi_instance_loss(crit, o2, t2, w2, [1.0, 0.0]) == 0
    with pytest.raises(ValueError, match='3 instance weights for 2 instances'):
        multi_instance_loss(crit, o2, t2, w2, [1.0, 1.0, 1.0])


def test_loss_in_float32_under_half_inputs():
    out, tgt, w = _example()
    loss = JointsMSELoss(True)(out.half(), tgt, w)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(0.3125)
