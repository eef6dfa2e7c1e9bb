import math

import numpy as np
import pytest
import torch
from conftest import SHARED_DATA

from openhmr.cli import main
from openhmr.errors import OpenHMRError
from openhmr.geometry.rotations import axis_angle_to_matrix
from openhmr.mocap.asf_amc import euler_matrices, read_asf_amc, read_bvh
from openhmr.mocap.cmu_bank import build_pose_bank
from openhmr.mocap.pose_bank import (
    PoseBank,
    deciding_joints,
    distinct_frames,
    remove_heading,
)
from openhmr.mocap.retarget import _NO_REST_OFFSET, CMU_TO_ANNY_AXES, AnnyRetargeter

# A made-up skeleton with CMU-131 BVH joint names: (name, parent, offset, channel order).
_L = [
    ("LHipJoint", "Hips", (0, 0, 0), "ZYX"), ("LeftHip", "LHipJoint", (1.2, -1.6, 0.7), "ZYX"),
    ("LeftKnee", "LeftHip", (2.5, -6.8, 0), "ZYX"), ("LeftAnkle", "LeftKnee", (2.4, -6.5, 0), "ZYX"),
    ("LeftToe", "LeftAnkle", (0.15, -0.4, 2.2), "ZYX"),
]  # fmt: skip
_ARM = [
    ("LeftCollar", "Chest2", (0, 0, 0), "ZYX"), ("LeftShoulder", "LeftCollar", (3.4, 1.1, -0.2), "ZXY"),
    ("LeftElbow", "LeftShoulder", (5.2, 0, 0), "ZXY"), ("LeftWrist", "LeftElbow", (3.4, 0, 0), "ZXY"),
    ("lhand", "LeftWrist", (1.7, 0, 0), "ZXY"), ("LFingers", "lhand", (0.7, 0, 0), "ZXY"),
    ("LThumb", "lhand", (0.5, 0, 0.5), "ZXY"),
]  # fmt: skip
_SPINE = [
    ("lowerback", "Hips", (0, 0, 0), "ZYX"), ("Chest", "lowerback", (0.0, 2.0, -0.1), "ZYX"),
    ("Chest2", "Chest", (0, 2.0, 0.0), "ZYX"), ("lowerneck", "Chest2", (0, 0.1, 0), "ZYX"),
    ("Neck", "lowerneck", (0, 1.6, 0.1), "ZYX"), ("Head", "Neck", (0, 1.6, 0.0), "ZYX"),
]  # fmt: skip


def _mirror(rows):
    def side(n):
        for a, b in (("Left", "Right"), ("LHip", "RHip"), ("LFing", "RFing"), ("LThumb", "RThumb"), ("lhand", "rhand")):
            if n.startswith(a):
                return b + n[len(a):]
        return n

    return [(side(n), side(p), (-o[0], o[1], o[2]), c) for n, p, o, c in rows]


SKELETON = [("Hips", None, (0, 0, 0), "ZYX")] + _L + _mirror(_L) + _SPINE + _ARM + _mirror(_ARM)
LEAVES = {"LeftToe", "RightToe", "Head", "LFingers", "RFingers", "LThumb", "RThumb"}


def write_bvh(path, frames_degrees: np.ndarray, skeleton=SKELETON):
    """frames_degrees (T, N, 3) per-joint Euler angles in each joint's channel order."""
    lines = ["HIERARCHY"]

    def emit(index, depth):
        name, _, offset, order = skeleton[index]
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if depth == 0 else 'JOINT'} {name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {offset[0]} {offset[1]} {offset[2]}")
        pos = "Xposition Yposition Zposition " if depth == 0 else ""
        chans = " ".join(f"{a}rotation" for a in order)
        lines.append(f"{pad}  CHANNELS {6 if depth == 0 else 3} {pos}{chans}")
        kids = [i for i, row in enumerate(skeleton) if row[1] == name]
        for k in kids:
            emit(k, depth + 1)
        if name in LEAVES:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 0 1", pad + "  }"])
        lines.append(pad + "}")

    emit(0, 0)
    order = []

    def visit(index):
        order.append(index)
        for k in [i for i, row in enumerate(skeleton) if row[1] == skeleton[index][0]]:
            visit(k)

    visit(0)
    lines += ["MOTION", f"Frames: {len(frames_degrees)}", "Frame Time: 0.0083333"]
    for frame in frames_degrees:
        values = [1.0, 17.0, 3.0] + [v for j in order for v in frame[j]]
        lines.append(" ".join(f"{v:.6f}" for v in values))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bvh_channel_orders_and_forward_kinematics(tmp_path):
    skeleton = [("Hips", None, (0, 0, 0), "ZYX"), ("A", "Hips", (0, 2, 0), "ZXY"), ("B", "A", (1, 0, 0), "ZXY")]
    LEAVES.add("B")
    try:
        angles = np.zeros((1, 3, 3))
        angles[0, 0] = [90, 0, 0]  # root: Z 90
        angles[0, 1] = [0, 30, 45]  # A: Z 0, X 30, Y 45
        motion = read_bvh(write_bvh(tmp_path / "t.bvh", angles, skeleton))
    finally:
        LEAVES.discard("B")
    assert motion.names == ["Hips", "A", "B"] and motion.parents == [-1, 0, 1]
    rz = euler_matrices("ZYX", [90.0, 0, 0])
    a_local = euler_matrices("ZXY", [0.0, 30.0, 45.0])
    assert np.allclose(motion.rotations[0, 1], rz @ a_local)
    pos = motion.positions()[0]
    assert np.allclose(pos[0], [1.0, 17.0, 3.0])
    assert np.allclose(pos[1], pos[0] + rz @ [0, 2, 0])  # (-2, 0, 0) after Z 90
    assert np.allclose(pos[2], pos[1] + rz @ a_local @ [1, 0, 0])
    assert np.allclose(motion.end_offsets[2], [0, 0, 1])


def test_asf_amc_bone_axes_and_partial_dofs(tmp_path):
    asf = tmp_path / "07.asf"
    asf.write_text(
        ":units\n  angle deg\n:root\n   order TX TY TZ RX RY RZ\n   axis XYZ\n   position 0 0 0\n   orientation 0 0 0\n"
        ":bonedata\n  begin\n     id 1\n     name lfemur\n     direction 0 -1 0\n     length 2\n     axis 0 0 20  XYZ\n"
        "    dof rx rz\n  end\n  begin\n     id 2\n     name ltibia\n     direction 0 -1 0\n     length 3\n"
        "     axis 0 0 0  XYZ\n    dof rx\n  end\n:hierarchy\n  begin\n    root lfemur\n    lfemur ltibia\n  end\n"
    )
    amc = tmp_path / "07_01.amc"
    amc.write_text(":FULLY-SPECIFIED\n:DEGREES\n1\nroot 1 2 3 0 90 0\nlfemur 30 -10\nltibia 45\n")
    motion = read_asf_amc(asf, amc)
    root = euler_matrices("ZYX", [0.0, 90.0, 0.0])
    c = euler_matrices("ZYX", [20.0, 0.0, 0.0])
    m = euler_matrices("ZYX", [-10.0, 0.0, 30.0])  # rx 30, rz -10: values placed by declared dof
    assert np.allclose(motion.rotations[0, 1], root @ c @ m @ c.T)
    pos = motion.positions()[0]
    assert np.allclose(pos[1], [1, 2, 3])  # the femur starts at the root
    assert np.allclose(pos[2], pos[1] + motion.rotations[0, 1] @ [0, -2, 0])


@pytest.fixture(scope="module")
def retargeter(anny_body):
    return AnnyRetargeter(anny_body)


def limb_direction_error_degrees(body, retargeter, motion) -> float:
    """Largest angle between a posed Anny bone and the same source bone (rest-aligned bones)."""
    go, bp = retargeter(motion)
    with torch.no_grad():
        joints = body(go, bp).joints.double().numpy()
    src = retargeter.source_index(motion)
    source = motion.positions() @ (body.up_rotation.double().numpy() @ CMU_TO_ANNY_AXES).T
    worst = 0.0
    for k, name in enumerate(retargeter.bones):
        child = retargeter.direction_child(k)
        if name in _NO_REST_OFFSET or child is None:
            continue
        a = joints[:, child] - joints[:, k]
        b = source[:, src[child]] - source[:, src[k]]
        if np.linalg.norm(b, axis=-1).min() < 1e-9:
            continue
        cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        worst = max(worst, float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max()))
    return worst


def test_rest_frame_and_moving_frames_keep_the_sources_limb_directions(tmp_path, anny_body, retargeter):
    rng = np.random.default_rng(0)
    frames = np.zeros((3, len(SKELETON), 3))
    frames[1:] = rng.normal(scale=25.0, size=(2, len(SKELETON), 3))
    motion = read_bvh(write_bvh(tmp_path / "clip.bvh", frames))
    assert limb_direction_error_degrees(anny_body, retargeter, motion) < 0.01
    # At the source's rest frame only the rest offsets Q act: no source rotation leaks in.
    rest_only = read_bvh(write_bvh(tmp_path / "rest.bvh", frames[:1]))
    world = retargeter.world_rotations(rest_only)[0]
    assert np.allclose(world, retargeter.rest_offsets(rest_only, retargeter.source_index(rest_only)))


@pytest.mark.skipif(not (SHARED_DATA / "cmu-mocap").is_dir(), reason="../shared/data/cmu-mocap is not present")
def test_real_cmu_clips_drive_anny_with_the_sources_limb_directions(anny_body, retargeter):
    root = SHARED_DATA / "cmu-mocap"
    clips = [read_bvh(root / "bvh" / "131_01.bvh"), read_asf_amc(root / "asf-amc/02/02.asf", root / "asf-amc/02/02_01.amc")]
    for motion in clips:
        keep = np.arange(0, motion.num_frames, 97)
        motion.rotations, motion.root_positions = motion.rotations[keep], motion.root_positions[keep]
        assert limb_direction_error_degrees(anny_body, retargeter, motion) < 0.01


def test_unknown_joints_are_skipped_counted_and_too_many_fail(tmp_path, anny_body):
    good = write_bvh(tmp_path / "good.bvh", np.zeros((2, len(SKELETON), 3)))
    strange = SKELETON + [("Tail", "Hips", (0, -1, -1), "ZYX")]
    LEAVES.add("Tail")
    try:
        bad = write_bvh(tmp_path / "bad.bvh", np.zeros((2, len(strange), 3)), strange)
    finally:
        LEAVES.discard("Tail")
    bank, skipped = build_pose_bank([good, bad], anny_body, progress=False)
    assert len(skipped) == 1 and skipped[0][0] == bad and "unknown cmu-bvh joints ['Tail']" in skipped[0][1]
    assert len(bank) >= 1 and bank.clip_names.tolist() == ["good"]
    with pytest.raises(OpenHMRError, match="2 of 3 motion files could not be used"):
        build_pose_bank([good, bad, tmp_path / "missing.bvh"], anny_body, progress=False)


def test_remove_heading_faces_the_camera_and_keeps_tilt():
    yaw = torch.tensor([[0.0, 2.5, 0.0], [0.0, -1.0, 0.0]])
    assert torch.allclose(remove_heading(yaw), torch.zeros(2, 3), atol=1e-6)
    tilt = torch.tensor([[0.3, 0.0, 0.0]])
    turned = (axis_angle_to_matrix(torch.tensor([[0.0, 1.2, 0.0]])) @ axis_angle_to_matrix(tilt))
    from openhmr.geometry.rotations import matrix_to_axis_angle

    assert torch.allclose(remove_heading(matrix_to_axis_angle(turned)), tilt, atol=1e-5)


def test_near_duplicate_frames_are_dropped():
    poses = torch.zeros(10, 4, 3)
    poses[5:, 2, 0] = math.radians(3)  # below the threshold
    poses[8:, 1, 1] = math.radians(12)  # above it
    assert distinct_frames(poses, 5.0) == [0, 8]


def test_mocap_command_writes_a_bank_by_clip(tmp_path, anny_body):
    rng = np.random.default_rng(1)
    for name in ("walk_a", "walk_b"):
        write_bvh(tmp_path / f"{name}.bvh", rng.normal(scale=20.0, size=(4, len(SKELETON), 3)))
    out = tmp_path / "bank.npz"
    assert main(["mocap", str(tmp_path), "--out", str(out), "--min-degrees", "1"]) == 0
    bank = PoseBank.load(out)
    assert bank.body_model == "anny" and bank.body_pose.shape[1:] == (30, 3)
    assert sorted(bank.clip_names.tolist()) == ["walk_a", "walk_b"]
    assert set(bank.clip_id.tolist()) == {0, 1} and len(bank) == 8
    # Every pose faces the camera.
    assert np.allclose(remove_heading(torch.from_numpy(bank.global_orient)).numpy(), bank.global_orient, atol=1e-5)


def test_amass_poses_drive_smpl_upright(tmp_path, smpl_body, anny_body):
    poses = np.zeros((3, 72))
    poses[:, 0] = math.pi / 2  # AMASS bodies stand up in a z-up world: +90 deg about x
    np.savez(tmp_path / "amass_clip.npz", poses=poses, betas=np.zeros(10))
    bank, _ = build_pose_bank([tmp_path / "amass_clip.npz"], smpl_body, progress=False)
    joints = smpl_body(torch.from_numpy(bank.global_orient[:1]), torch.from_numpy(bank.body_pose[:1])).joints[0]
    names = smpl_body.joint_names
    assert float(joints[names.index("left_ankle"), 1] - joints[names.index("head"), 1]) > 1.0
    with pytest.raises(OpenHMRError, match="AMASS .npz files hold SMPL poses"):
        build_pose_bank([tmp_path / "amass_clip.npz"], anny_body, progress=False)


def test_empty_or_missing_bank_is_a_clear_error(tmp_path):
    with pytest.raises(OpenHMRError, match="make one with `openhmr mocap`"):
        PoseBank.load(tmp_path / "none.npz")
    empty = PoseBank(np.zeros((0, 30, 3)), np.zeros((0, 3)), np.zeros(0, np.int64), np.array(["x"]), np.zeros(0, np.int64), "anny")
    empty.save(tmp_path / "empty.npz")
    with pytest.raises(OpenHMRError, match="is empty"):
        PoseBank.load(tmp_path / "empty.npz")


def test_noisy_extremities_do_not_decide_distinctness(anny_body, smpl_body):
    anny_names = [anny_body.joint_names[1:][i] for i in deciding_joints(anny_body.joint_names)]
    assert "LeftUpLeg" in anny_names and "LeftHand" in anny_names
    assert not {"LeftToeBase", "LThumb", "LeftFingerBase", "RightHandFinger1"} & set(anny_names)
    smpl_names = [smpl_body.joint_names[1:][i] for i in deciding_joints(smpl_body.joint_names)]
    assert "left_wrist" in smpl_names and not {"left_hand", "right_foot"} & set(smpl_names)
    poses = torch.zeros(5, 30, 3)
    toe = anny_body.joint_names.index("LeftToeBase") - 1
    poses[1:, toe, 0] = torch.linspace(0.5, 2.0, 4)  # a toe flailing alone
    assert distinct_frames(poses, 5.0, deciding_joints(anny_body.joint_names)) == [0]


def test_poses_from_photos_keep_good_fits_and_their_mirror_images(tmp_path, anny_body, capsys):
    """`openhmr mocap --fits`: only good fits within the error join the bank, each with its
    mirror image, facing the camera; the held-out clips of the mocap stay as they were."""
    from openhmr.cli import main
    from openhmr.mocap.pose_bank import PoseBank

    rng = np.random.default_rng(0)
    pose = rng.normal(0, 0.3, (5, 31 * 3)).astype(np.float32)
    fits = tmp_path / "lsp_fits.npz"
    np.savez(fits, pose=pose, good=np.array([1, 1, 0, 1, 1]), fit_error_px=np.array([3.0, 12.0, 2.0, 9.0, 1.0]),
             body_model=np.array("anny"))
    out = tmp_path / "bank.npz"
    assert main(["mocap", "--fits", str(fits), "--max-error-px", "10", "--out", str(out)]) == 0
    bank = PoseBank.load(out)
    assert bank.clip_names.tolist() == ["lsp_fits", "lsp_fits-mirrored"]
    assert len(bank) == 6 and bank.frame[:3].tolist() == [0, 3, 4]  # good and within 10 px
    assert np.allclose(bank.body_pose[:3], pose[[0, 3, 4]].reshape(3, 31, 3)[:, 1:], atol=1e-6)
    # The mirror image of the mirrored pose is the fit again.
    back = anny_body.mirror_pose(torch.from_numpy(bank.global_orient[3:]), torch.from_numpy(bank.body_pose[3:]))[1]
    assert np.allclose(back.numpy(), bank.body_pose[:3], atol=1e-5)
    forward = axis_angle_to_matrix(torch.from_numpy(bank.global_orient).double())[:, :, 2]
    assert np.allclose(forward[:, 0].numpy(), 0.0, atol=1e-5)  # heading removed: facing the camera
    np.savez(fits, pose=pose, good=np.zeros(5), fit_error_px=np.ones(5), body_model=np.array("anny"))
    assert main(["mocap", "--fits", str(fits), "--out", str(out)]) != 0
    assert "No fit" in capsys.readouterr().err
