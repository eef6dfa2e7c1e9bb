import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import random_pose

from openhmr.geometry.rotations import axis_angle_to_matrix

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_sizes_and_tables(anny_body):
    body = anny_body
    assert body.name == "anny"
    assert body.num_joints == 31 and len(body.parents) == 31 and body.parents[0] == -1
    assert body.joint_names[:3] == ("Hips", "LHipJoint", "LeftUpLeg")
    assert body.shape_dim == 6
    lo, hi = body.shape_bounds
    assert torch.equal(lo, torch.zeros(6)) and torch.equal(hi, torch.ones(6))
    assert body.faces.shape == (27420, 3)
    assert int(body.faces.max()) == 13717
    perm = body.joint_flip_permutation
    assert body.joint_names[perm[body.joint_names.index("LeftUpLeg")]] == "RightUpLeg"
    assert body.joint_names[perm[body.joint_names.index("LThumb")]] == "RThumb"


def test_output_shapes_and_dtype(anny_body, rng):
    out = anny_body(*random_pose(anny_body, 3, rng))
    assert out.vertices.shape == (3, 13718, 3) and out.vertices.dtype == torch.float32
    assert out.joints.shape == (3, 31, 3)
    assert out.keypoints.shape == (3, len(anny_body.keypoint_names), 3)
    coco, mask = out.keypoints_as("coco23")
    assert coco.shape == (3, 23, 3) and bool(mask.all())
    lsp, mask = out.keypoints_as("lsp14")
    assert mask.tolist() == [True] * 12 + [False, True]  # LSP's neck is not an Anny landmark


def test_identity_orientation_stands_upright_facing_the_camera(anny_body):
    out = anny_body()
    names = anny_body.keypoint_names
    k = out.keypoints[0]
    at = lambda n: k[names.index(n)]
    # y points down: the head is above (smaller y) the ankles by about a body height.
    assert 1.3 < float(at("left_ankle")[1] - at("head_top")[1]) < 2.0
    # z points away from the camera: the nose is nearer than the back of the pelvis.
    assert float(at("nose")[2]) < float(at("pelvis")[2]) - 0.05
    # Facing the camera, the subject's left is on the image's right (+x).
    assert float(at("left_shoulder")[0]) > float(at("right_shoulder")[0]) + 0.2
    # The root joint sits at the origin.
    assert torch.allclose(out.joints[0, 0], torch.zeros(3), atol=1e-6)


def test_identity_pose_is_annys_rest_mesh(anny_body):
    out = anny_body()
    raw = anny_body.anny(phenotype_kwargs=torch.full((1, 6), 0.5))
    rest = raw["rest_vertices"][0] - raw["rest_bone_poses"][0, 0, :3, 3]
    assert torch.allclose(out.vertices[0], rest @ anny_body.up_rotation.T, atol=1e-5)


def test_global_orientation_rotates_about_the_root_in_camera_axes(anny_body, rng):
    _, body_pose, shape = random_pose(anny_body, 2, rng)
    rotvec = torch.tensor([[0.3, -1.2, 0.4], [2.0, 0.1, -0.5]])
    base = anny_body(None, body_pose, shape)
    turned = anny_body(rotvec, body_pose, shape)
    expected = base.joints @ axis_angle_to_matrix(rotvec).transpose(1, 2)
    assert torch.allclose(turned.joints, expected, atol=1e-5)


def test_mirrored_pose_gives_the_mirrored_body(anny_body, rng):
    go, bp, shape = random_pose(anny_body, 4, rng, scale=0.3)
    out = anny_body(go, bp, shape)
    mgo, mbp = anny_body.mirror_pose(go, bp)
    mirrored = anny_body(mgo, mbp, shape)
    flip = torch.tensor([-1.0, 1.0, 1.0])
    # Anny's rig and mesh are left/right symmetric to a few millimetres; a wrong mirroring
    # rule (sign or permutation) is off by decimetres.
    expected_joints = out.joints[:, anny_body.joint_flip_permutation] * flip
    assert (mirrored.joints - expected_joints).abs().max() < 5e-3
    expected_kp = out.keypoints[:, anny_body.keypoint_flip_permutation] * flip
    assert (mirrored.keypoints - expected_kp).abs().max() < 5e-3
    # Mirroring twice is the identity.
    ggo, gbp = anny_body.mirror_pose(mgo, mbp)
    assert torch.allclose(ggo, go, atol=1e-6) and torch.allclose(gbp, bp, atol=1e-6)


def test_rotation_matrices_and_axis_angle_agree(anny_body, rng):
    go, bp, shape = random_pose(anny_body, 2, rng)
    a = anny_body(go, bp, shape)
    b = anny_body(axis_angle_to_matrix(go), axis_angle_to_matrix(bp), shape)
    assert torch.allclose(a.vertices, b.vertices, atol=1e-6)


def test_gradients_reach_pose_and_shape(anny_body, rng):
    go, bp, shape = random_pose(anny_body, 2, rng)
    for t in (go, bp, shape):
        t.requires_grad_(True)
    out = anny_body(go, bp, shape)
    (out.vertices.square().sum() + out.keypoints.sum()).backward()
    for t in (go, bp, shape):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_shape_changes_the_body(anny_body):
    child = anny_body(shape=torch.tensor([[0.5, 0.0, 0.5, 0.5, 0.5, 0.5]]))
    adult = anny_body(shape=torch.tensor([[0.5, 0.8, 0.5, 0.5, 0.5, 0.5]]))
    height = lambda o: float(o.vertices[0, :, 1].max() - o.vertices[0, :, 1].min())
    assert height(child) < 0.8 * height(adult)


def test_bad_parameter_shapes_are_clear_errors(anny_body):
    with pytest.raises(ValueError, match=r"body_pose must have shape \(1, 30, 3\)"):
        anny_body(None, torch.zeros(1, 23, 3))
    with pytest.raises(ValueError, match=r"shape must have shape \(1, 6\)"):
        anny_body(shape=torch.zeros(1, 10))


_OFFLINE_SCRIPT = textwrap.dedent(
    """
    import socket
    def refuse(*args, **kwargs):
        raise OSError("network blocked by the test")
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    import torch
    from openhmr.body import load_body_model
    body = load_body_model("anny")
    out = body(torch.zeros(1, 3), torch.zeros(1, 30, 3), torch.full((1, 6), 0.5))
    print("vertices", tuple(out.vertices.shape))
    """
)


def _run_offline(env_extra, timeout):
    import os

    env = dict(os.environ, **env_extra)
    return subprocess.run(
        [sys.executable, "-c", _OFFLINE_SCRIPT], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_works_with_the_network_blocked(anny_body):
    # anny_body has filled the rig cache; the subprocess must load and run with no network.
    result = _run_offline({}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "vertices (1, 13718, 3)" in result.stdout


@pytest.mark.slow
def test_first_build_works_with_the_network_blocked(tmp_path):
    # An empty cache forces Anny to build the rig from its shipped assets (about two minutes).
    result = _run_offline({"ANNY_CACHE_DIR": str(tmp_path)}, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "vertices (1, 13718, 3)" in result.stdout


def test_keypoints_without_the_mesh_are_the_mesh_s_keypoints(anny_body):
    """The fitting shortcut (surface keypoints folded into the skinning) gives the keypoints
    and joints of the full mesh, for random poses and people, and their gradients."""
    g = torch.Generator().manual_seed(4)
    go, bp, shape = random_pose(anny_body, 3, g, scale=0.5)
    shape = shape.requires_grad_(True)
    fast = anny_body(go, bp, shape, vertices=False)
    full = anny_body(go, bp, shape)
    assert fast.vertices is None
    assert torch.allclose(fast.keypoints, full.keypoints, atol=1e-5)
    assert torch.allclose(fast.joints, full.joints, atol=1e-6)
    (grad_fast,) = torch.autograd.grad(fast.keypoints.sum(), shape)
    (grad_full,) = torch.autograd.grad(full.keypoints.sum(), shape)
    assert torch.allclose(grad_fast, grad_full, rtol=1e-4, atol=1e-3)  # float32 sums in another order


def test_keypoints_without_gradients_mix_each_distinct_shape_once_and_agree(anny_body):
    """Without gradients the shortcut mixes each distinct shape once and hands it to every
    row that has it (a fit's Jacobian poses ~100 copies of one body): the same keypoints as
    the path with gradients, which mixes every row, whatever order the shapes come in."""
    g = torch.Generator().manual_seed(5)
    go, bp, shape = random_pose(anny_body, 7, g, scale=0.5)
    shape = shape[torch.tensor([2, 0, 2, 1, 0, 2, 1])]  # three people, repeated and shuffled
    with torch.no_grad():
        deduplicated = anny_body(go, bp, shape, vertices=False)
    every_row = anny_body(go, bp, shape.clone().requires_grad_(True), vertices=False)
    assert torch.allclose(deduplicated.keypoints, every_row.keypoints, atol=1e-6)
    assert torch.allclose(deduplicated.joints, every_row.joints, atol=1e-6)
    assert not torch.allclose(deduplicated.keypoints[0], deduplicated.keypoints[2], atol=1e-3)  # poses differ per row
