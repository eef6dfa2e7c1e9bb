import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse
import torch
from conftest import load_npz, random_pose

from openhmr.body import load_body_model
from openhmr.errors import OpenHMRError
from openhmr.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

smplx = pytest.importorskip("smplx")


def smplx_reference(path, arrays, global_orient_model, body_pose, betas):
    """smplx's SMPL on the same arrays (the test oracle), in its own model frame."""
    from smplx.utils import Struct

    model = smplx.SMPL(model_path=str(path), data_struct=Struct(**arrays), num_betas=betas.shape[1])
    with torch.no_grad():
        out = model(global_orient=global_orient_model, body_pose=body_pose.flatten(1), betas=betas)
    return out.vertices, out.joints[:, :24]


def test_matches_smplx_over_random_poses_and_shapes(smpl_npz, smpl_body, rng):
    go, bp, betas = random_pose(smpl_body, 16, rng, scale=0.6)
    ours = smpl_body(go, bp, betas)
    up = smpl_body.up_rotation
    go_model = matrix_to_axis_angle(up.T @ axis_angle_to_matrix(go) @ up)
    ref_v, ref_j = smplx_reference(smpl_npz, load_npz(smpl_npz), go_model, bp, betas)
    assert (ours.vertices - ref_v @ up.T).abs().max() < 1e-5
    assert (ours.joints - ref_j @ up.T).abs().max() < 1e-5


def test_sizes_tables_and_keypoints(smpl_body, rng):
    body = smpl_body
    assert (body.name, body.num_joints, body.shape_dim) == ("smpl", 24, 10)
    assert body.faces.shape == (13776, 3)
    perm = body.joint_flip_permutation
    assert body.joint_names[perm[body.joint_names.index("left_wrist")]] == "right_wrist"
    out = body(*random_pose(body, 2, rng))
    coco, mask = out.keypoints_as("coco17")
    assert bool(mask.all())  # face points come from SMPL surface vertices
    assert torch.equal(coco[:, 0], out.vertices[:, 332])
    smpl24, mask = out.keypoints_as("smpl24")
    assert bool(mask.all()) and torch.equal(smpl24, out.joints)
    h36m, mask = out.keypoints_as("h36m17")
    assert not mask[7:11].any()  # H36M's spine/thorax/neck/head are other landmarks


def test_identity_orientation_is_upright_in_camera_frame(smpl_body):
    joints = smpl_body().joints[0]
    names = smpl_body.joint_names
    head, ankle = joints[names.index("head")], joints[names.index("left_ankle")]
    assert float(ankle[1] - head[1]) > 1.0  # y down
    assert float(joints[names.index("left_hip")][0]) > float(joints[names.index("right_hip")][0])


def test_mirror_rule_matches_smplx_convention(smpl_body, rng):
    # SPIN/HMR flip SMPL axis-angle by swapping sides and negating y and z.
    go, bp, _ = random_pose(smpl_body, 3, rng)
    mgo, mbp = smpl_body.mirror_pose(go, bp)
    sign = torch.tensor([1.0, -1.0, -1.0])
    assert torch.allclose(mgo, go * sign)
    perm = [p - 1 for p in smpl_body.joint_flip_permutation[1:]]
    assert torch.allclose(mbp, bp[:, perm] * sign)


class _FakeChumpyModule(types.ModuleType):
    pass


def _write_official_style_pkl(path, arrays):
    """A pickle shaped like the official files: sparse J_regressor, chumpy shapedirs."""
    module = _FakeChumpyModule("chumpy.ch")

    class Ch:  # pickled by reference as chumpy.ch.Ch, with its data in ``x``
        def __init__(self, x):
            self.x = x

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    module.Ch = Ch
    sys.modules.setdefault("chumpy", types.ModuleType("chumpy"))
    sys.modules["chumpy.ch"] = module
    try:
        data = dict(arrays)
        data["shapedirs"] = Ch(arrays["shapedirs"])
        data["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
        data["kintree_table"] = arrays["kintree_table"].astype(np.uint32)
        data["bs_style"] = "lbs"
        path.write_bytes(pickle.dumps(data, protocol=2))
    finally:
        del sys.modules["chumpy.ch"]
    return path


def test_reads_official_style_pkl_without_chumpy(tmp_path, smpl_npz, smpl_body, rng):
    pkl = _write_official_style_pkl(tmp_path / "SMPL_NEUTRAL.pkl", load_npz(smpl_npz))
    from_pkl = load_body_model(pkl)
    args = random_pose(smpl_body, 2, rng)
    assert torch.allclose(from_pkl(*args).vertices, smpl_body(*args).vertices, atol=1e-6)


def test_missing_file_says_where_smpl_comes_from(tmp_path):
    with pytest.raises(OpenHMRError, match="smpl.is.tue.mpg.de") as err:
        load_body_model(tmp_path / "SMPL_NEUTRAL.pkl")
    assert "not found" in str(err.value)


@pytest.mark.parametrize(
    "key, bad_shape, expected",
    [("weights", (6890, 23), r"\(6890, 24\)"), ("J_regressor", (24, 6000), r"\(24, 6890\)"),
     ("posedirs", (6890, 3, 200), r"\(6890, 3, 207\)")],
)  # fmt: skip
def test_wrong_array_shape_names_the_array_and_the_expected_shape(tmp_path, smpl_npz, key, bad_shape, expected):
    data = load_npz(smpl_npz)
    data[key] = np.zeros(bad_shape)
    path = tmp_path / "bad.npz"
    np.savez(path, **data)
    with pytest.raises(OpenHMRError, match=rf"array '{key}' has shape .* expected {expected}"):
        load_body_model(path)


def test_wrong_parents_are_refused(tmp_path, smpl_npz):
    data = load_npz(smpl_npz)
    data["kintree_table"][0, 5] = 3
    path = tmp_path / "bad_tree.npz"
    np.savez(path, **data)
    with pytest.raises(OpenHMRError, match="not SMPL's"):
        load_body_model(path)


def test_gradients_reach_pose_and_shape(smpl_body, rng):
    go, bp, betas = random_pose(smpl_body, 2, rng)
    for t in (go, bp, betas):
        t.requires_grad_(True)
    smpl_body(go, bp, betas).vertices.square().sum().backward()
    for t in (go, bp, betas):
        assert t.grad is not None and t.grad.abs().sum() > 0
