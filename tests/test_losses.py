import pytest
import torch
from test_nets import tiny_hmr

from openhmr.body import keypoints as kp
from openhmr.nets.discriminator import Discriminator
from openhmr.train import losses

COCO23 = kp.convention_names("coco23")
HIPS = (COCO23.index("left_hip"), COCO23.index("right_hip"))
FLIP = kp.flip_permutation("coco23")


def labels(batch, generator):
    k2 = torch.rand(batch, 23, 3, generator=generator) * 2 - 1
    k2[..., 2] = (torch.rand(batch, 23, generator=generator) > 0.2).float()
    k3 = torch.randn(batch, 23, 4, generator=generator) * 0.3
    k3[..., 3] = 1.0
    return k2, k3


def test_adversarial_losses_follow_hmr():
    fake = torch.tensor([[0.0, 1.0], [2.0, 1.0]])
    real = torch.tensor([[1.0, 0.0], [1.0, 2.0]])
    assert float(losses.encoder_adversarial_loss(fake)) == pytest.approx(((1 + 1) / 2) + 0)
    assert float(losses.discriminator_loss(real, fake)) == pytest.approx((0 + 1) + (4 / 2 + 2 / 2))


def test_keypoint_loss_is_visibility_weighted_l1(rng):
    pred = torch.zeros(1, 23, 2)
    target = torch.zeros(1, 23, 3)
    target[0, 0] = torch.tensor([0.5, -0.5, 1.0])  # visible, off by 0.5 in x and y
    target[0, 1] = torch.tensor([9.0, 9.0, 0.0])  # invisible: ignored however wrong
    assert float(losses.keypoint_2d_loss(pred, target)) == pytest.approx(0.5)


def assert_second_sample_ignored(loss_fn, pred, *rest):
    """Same value as on the first sample alone, and exactly zero gradient for the second."""
    pred = pred.clone().requires_grad_(True)
    both = loss_fn(pred, *rest)
    first = loss_fn(pred[:1], *(r[:1] if r.dim() > 0 and r.shape[0] == 2 else r for r in rest))
    assert torch.isfinite(both) and torch.allclose(both, first, rtol=1e-6, atol=0)
    (grad,) = torch.autograd.grad(both, pred)
    assert torch.all(grad[1] == 0) and grad[0].abs().sum() > 0


def test_unlabelled_samples_contribute_exactly_zero(rng):
    k2, k3 = labels(2, rng)
    k2[1, :, 2] = 0
    k2[1, :, :2] = float("nan")  # an unlabelled sample may carry garbage
    k3[1, :, 3] = 0
    k3[1, :, :3] = float("nan")
    assert_second_sample_ignored(losses.keypoint_2d_loss, torch.randn(2, 23, 2, generator=rng), k2)
    assert_second_sample_ignored(
        lambda p, t: losses.keypoint_3d_loss(p, t, *HIPS), torch.randn(2, 23, 3, generator=rng), k3
    )
    shp, gt_shp = torch.randn(2, 6, generator=rng), torch.randn(2, 6, generator=rng)
    gt_rot = torch.randn(2, 31, 3, 3, generator=rng)
    gt_rot[1] = float("nan")
    has = torch.tensor([1.0, 0.0])
    assert_second_sample_ignored(
        lambda r, g, h: losses.params_loss(r, shp[: r.shape[0]], g, gt_shp[: r.shape[0]], h),
        torch.randn(2, 31, 3, 3, generator=rng),
        gt_rot,
        has,
    )
    # A batch with no labels at all gives zero and finite gradients.
    pred2 = torch.randn(1, 23, 2, requires_grad=True)
    none = losses.keypoint_2d_loss(pred2, k2[1:])
    none.backward()
    assert float(none.detach()) == 0.0 and torch.isfinite(pred2.grad).all()


def test_landmarks_the_model_lacks_are_masked(rng):
    k2, _ = labels(1, rng)
    pred = torch.randn(1, 23, 2, generator=rng)
    mask = torch.ones(23, dtype=torch.bool)
    mask[5] = False
    pred_moved = pred.clone()
    pred_moved[0, 5] += 100.0
    assert torch.equal(losses.keypoint_2d_loss(pred, k2, mask), losses.keypoint_2d_loss(pred_moved, k2, mask))


def test_losses_are_symmetric_under_flipping_predictions_and_labels(rng):
    k2, k3 = labels(3, rng)
    pred2, pred3 = torch.randn(3, 23, 2, generator=rng), torch.randn(3, 23, 3, generator=rng)
    flip2 = torch.tensor([-1.0, 1.0, 1.0])
    flip3 = torch.tensor([-1.0, 1.0, 1.0, 1.0])
    assert torch.allclose(
        losses.keypoint_2d_loss(pred2, k2),
        losses.keypoint_2d_loss(pred2[:, FLIP] * flip2[:2], k2[:, FLIP] * flip2),
    )
    assert torch.allclose(
        losses.keypoint_3d_loss(pred3, k3, *HIPS),
        losses.keypoint_3d_loss(pred3[:, FLIP] * flip2, k3[:, FLIP] * flip3, *HIPS),
    )


def test_mirrored_prediction_of_the_flipped_labels_scores_the_same(anny_body, rng):
    # Through the body model: mirror θ (pose rule, tx -> -tx) and flip the labels; Anny is
    # left/right symmetric to a few millimetres, so the losses agree closely.
    hmr = tiny_hmr(anny_body).eval()
    go = torch.randn(2, 3, generator=rng) * 0.3
    bp = torch.randn(2, 30, 3, generator=rng) * 0.3
    cam = torch.tensor([[0.9, 0.1, -0.05], [1.1, -0.2, 0.1]])
    shape = torch.full((2, 6), 0.5)
    theta = hmr.layout.join(cam, torch.cat([go[:, None], bp], 1), shape)
    mgo, mbp = anny_body.mirror_pose(go, bp)
    mirrored = hmr.layout.join(cam * torch.tensor([1.0, -1.0, 1.0]), torch.cat([mgo[:, None], mbp], 1), shape)
    k2, k3 = labels(2, rng)
    flipped2 = k2[:, FLIP] * torch.tensor([-1.0, 1.0, 1.0])
    flipped3 = k3[:, FLIP] * torch.tensor([-1.0, 1.0, 1.0, 1.0])
    with torch.no_grad():
        a, b = hmr.decode_theta(theta), hmr.decode_theta(mirrored)
    assert losses.keypoint_2d_loss(b.keypoints2d, flipped2) == pytest.approx(
        float(losses.keypoint_2d_loss(a.keypoints2d, k2)), rel=1e-2
    )
    assert losses.keypoint_3d_loss(b.keypoints3d, flipped3, *HIPS) == pytest.approx(
        float(losses.keypoint_3d_loss(a.keypoints3d, k3, *HIPS)), rel=1e-2
    )


@pytest.mark.parametrize("term", ["keypoints2d", "keypoints3d", "params", "adversarial"])
def test_every_loss_reaches_the_encoder(anny_body, rng, term):
    hmr = tiny_hmr(anny_body).train()
    disc = Discriminator(anny_body.num_body_joints, anny_body.shape_dim)
    k2, k3 = labels(2, rng)
    batch = {
        "keypoints2d": k2,
        "keypoints3d": k3,
        "rotmats": torch.eye(3).expand(2, 31, 3, 3),
        "shape": torch.full((2, 6), 0.3),
        "has_params": torch.ones(2),
    }
    only = losses.LossWeights(**{k: float(k == term) for k in ("keypoints2d", "keypoints3d", "params", "adversarial")})
    preds = hmr(torch.rand(2, 3, 224, 224))
    out = losses.encoder_losses(preds, batch, hmr.keypoint_mask, hmr.hip_indices, only, disc, supervise="all")
    out["total"].backward()
    assert float(out[term].detach()) > 0
    grad = hmr.encoder.backbone.conv1[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0
