"""Evaluation metrics, the monster rate and network weight files."""

import math

import numpy as np
import pytest
import torch

from openhmr.errors import OpenHMRError
from openhmr.eval.metrics import joint_errors, pck, person_extent
from openhmr.eval.monsters import monster_kinds
from openhmr.geometry.rotations import axis_angle_to_matrix
from openhmr.mocap.pose_bank import PoseBank


def test_mpjpe_ignores_translation_and_pa_ignores_similarity():
    g = torch.Generator().manual_seed(0)
    gt = torch.randn(4, 10, 3, generator=g)
    weights = torch.ones(4, 10)
    hips = (0, 1)
    _, mpjpe, pa = joint_errors(gt + torch.tensor([0.3, -0.2, 5.0]), gt, weights, hips)
    assert mpjpe.abs().max() < 1e-6 and pa.abs().max() < 1e-5
    rotation = axis_angle_to_matrix(torch.tensor([0.0, 0.7, 0.2]))
    moved = 1.3 * gt @ rotation.T + 2.0
    _, mpjpe, pa = joint_errors(moved, gt, weights, hips)
    assert mpjpe.min() > 0.1 and pa.abs().max() < 1e-4
    # One joint off by 10 cm, unweighted elsewhere: MPJPE counts only weighted joints.
    off = gt.clone()
    off[:, 5, 0] += 0.1
    weights[:, 7] = 0
    errors, mpjpe, _ = joint_errors(off, gt, weights, hips)
    assert torch.allclose(mpjpe, torch.full((4,), 0.1 / 9), atol=1e-6)
    assert torch.allclose(errors[:, 5], torch.full((4,), 0.1), atol=1e-6)


def test_pck_is_a_fraction_of_the_person_not_of_the_crop():
    """A person 0.5 tall in a crop 2 wide: errors are measured against 0.5, the person's box
    (their visible points' extent), never the crop; an invisible point does not widen it."""
    gt = torch.tensor([[[0.0, 0.0], [0.0, 0.5], [0.2, 0.25], [0.1, 0.1], [9.0, 9.0]]])
    pred = gt.clone()
    pred[0, :4, 0] += torch.tensor([0.0, 0.02, 0.04, 0.2])  # 0, 0.04, 0.08, 0.4 of the person
    visible = torch.tensor([[True, True, True, True, False]])
    assert pck(pred, gt, visible, 0.05) == pytest.approx(2 / 4)
    assert pck(pred, gt, visible, 0.1) == pytest.approx(3 / 4)
    # Per crop (side 2) the same errors would score 3/4 at 0.05.
    assert person_extent(gt, visible).tolist() == [0.5]
    lonely = torch.tensor([[True, False, False, False, False]])
    assert torch.isnan(person_extent(gt, lonely)).all()


def test_monsters_are_twisted_joints_or_impossible_shapes(anny_body):
    rng = np.random.default_rng(0)
    poses = rng.normal(0, 0.2, (50, anny_body.num_body_joints, 3)).astype(np.float32)
    bank = PoseBank(poses, np.zeros((50, 3), np.float32), np.zeros(50, int), np.array(["a"]), np.arange(50), "anny")
    low, high = anny_body.shape_low, anny_body.shape_high
    rotmats = axis_angle_to_matrix(torch.from_numpy(poses[:4]))
    shape = ((low + high) / 2).expand(4, -1).clone()
    twisted = rotmats.clone()
    twisted[1, 3] = twisted[1, 3] @ axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.radians(120)]))
    shape[2, 0] = high[0] + 0.5 * (high[0] - low[0])
    bad_shape, bad_joint = monster_kinds(twisted, shape, bank, low, high)
    assert (bad_shape | bad_joint).tolist() == [False, True, True, False]
    assert bad_shape.tolist() == [False, False, True, False] and bad_joint.tolist() == [False, True, False, False]


def test_weights_round_trip_and_refuse_other_bodies(tmp_path, anny_body, smpl_body):
    from openhmr.nets.hmr import build_hmr
    from openhmr.nets.weights_io import load_hmr, save_weights

    hmr = build_hmr(anny_body, backbone_weights=None).eval()
    path = save_weights(hmr, tmp_path / "w.safetensors", {"step": 3})
    assert path.stat().st_size < 15e6  # float16 on disk
    loaded = load_hmr(path, anny_body)
    images = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        a, b = hmr(images, decode="final")[-1], loaded(images, decode="final")[-1]
    assert (a.theta - b.theta).abs().max() < 2e-3  # float16 storage
    with pytest.raises(OpenHMRError, match="trained for the anny body"):
        load_hmr(path, smpl_body)
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 40)
    with pytest.raises(OpenHMRError, match="not a readable"):
        load_hmr(tmp_path / "junk.safetensors", anny_body)
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(OpenHMRError, match="not written by openhmr"):
        load_hmr(tmp_path / "other.safetensors", anny_body)


def test_facing_counts_people_whose_shoulders_keep_the_labelled_order():
    from openhmr.body import keypoints as kp
    from openhmr.eval.evaluate import _facing

    names = kp.convention_names("lsp14")
    left, right = names.index("left_shoulder"), names.index("right_shoulder")
    gt = torch.zeros(4, len(names), 3, dtype=torch.float64)
    gt[:, left] = torch.tensor([60.0, 10.0, 1.0])  # seen from the front: left shoulder on the image's right
    gt[:, right] = torch.tensor([40.0, 10.0, 1.0])
    gt[3, right, 2] = 0  # one person's right shoulder unlabelled: not counted
    pred = gt[..., :2].clone()
    pred[1, [left, right]] = pred[1, [right, left]]  # the second person turned the wrong way round
    mask = torch.ones(len(names), dtype=torch.bool)
    assert _facing(pred, gt, mask, names) == {"facing": round(2 / 3, 4), "facing_people": 3}
    mask[left] = False  # a model without shoulders cannot be scored
    assert _facing(pred, gt, mask, names)["facing"] is None
