"""Video -> motion: following a person, smoothing, the CMU BVH round trip and `predict --bvh`."""

import json

import numpy as np
import pytest
import roma
import torch

from openhmr.cli import main
from openhmr.detect.mediapipe import Detection
from openhmr.mocap.asf_amc import read_bvh
from openhmr.mocap.cmu_bvh import BodyMotion, camera_to_bvh, from_bvh_motion
from openhmr.mocap.pose_bank import PoseBank
from openhmr.motion.smooth import smooth_positions, smooth_rotations
from openhmr.motion.track import Follower
from openhmr.motion.video import pose_frames, write_bvh_file

FPS = 30.0


def random_motion(body, frames=6, seed=0) -> BodyMotion:
    g = torch.Generator().manual_seed(seed)
    rotmats = roma.rotvec_to_rotmat(torch.randn(frames, body.num_joints, 3, generator=g) * 0.6)
    translation = torch.tensor([0.1, 0.2, 3.0]) + 0.05 * torch.randn(frames, 3, generator=g)
    return BodyMotion(rotmats, translation, torch.rand(6, generator=g), FPS, np.ones(frames, bool))


def test_a_written_bvh_reads_back_to_the_same_rotations_and_body(tmp_path, anny_body):
    motion = random_motion(anny_body)
    path = tmp_path / "m.bvh"
    shift = write_bvh_file(anny_body, motion, path)
    read = read_bvh(path)
    assert read.names == [anny_body.joint_names[j] for j in _depth_first(anny_body.parents)]
    assert read.num_frames == motion.num_frames and abs(read.fps - FPS) < 1e-3
    rotmats, translation = from_bvh_motion(anny_body, read, shift)
    degrees = roma.rotmat_geodesic_distance(rotmats, motion.rotmats.double()).rad2deg()
    assert degrees.max() < 0.1
    back = BodyMotion(rotmats.float(), translation.float(), motion.shape, FPS, motion.found)
    vertices, joints = pose_frames(anny_body, motion)
    vertices_back, _ = pose_frames(anny_body, back)
    assert (vertices_back - vertices).norm(dim=-1).max() < 1e-4  # metres
    # The BVH's own forward kinematics (what Blender shows) puts the joints where the body has them.
    fk = read.positions()[:, [read.names.index(n) for n in anny_body.joint_names]] + shift
    expected = joints.double().numpy() @ camera_to_bvh(anny_body).T * 100.0
    assert np.abs(fk - expected).max() < 0.05  # centimetres


def _depth_first(parents, joint=0):
    return [joint] + [j for kid in (k for k, p in enumerate(parents) if p == joint) for j in _depth_first(parents, kid)]


def test_the_bvh_is_a_cmu_motion_that_openhmr_mocap_reads(tmp_path, anny_body):
    from openhmr.mocap.cmu_bank import build_pose_bank

    motion = random_motion(anny_body, frames=4, seed=1)
    motion.shape = anny_body.mean_shape.clone()  # the retargeter's default body
    write_bvh_file(anny_body, motion, tmp_path / "m.bvh")
    bank, skipped = build_pose_bank([tmp_path / "m.bvh"], anny_body, 0.0, None)
    assert not skipped and len(bank) == 4
    local = roma.rotvec_to_rotmat(torch.from_numpy(bank.body_pose).double())
    assert roma.rotmat_geodesic_distance(local, motion.rotmats[:, 1:].double()).rad2deg().max() < 0.1


def box(x, y, w, h):
    return Detection((x, y, w, h), 1.0)


def test_the_follower_starts_with_the_largest_person_and_keeps_to_them():
    follow = Follower(min_iou=0.1, patience=2)
    assert follow([box(0, 0, 10, 10), box(100, 0, 50, 80)]).bbox == (100, 0, 50, 80)
    # Someone larger walks in: the follower stays with the overlapping box.
    assert follow([box(0, 0, 200, 200), box(104, 2, 50, 80)]).bbox == (104, 2, 50, 80)
    assert follow([box(300, 300, 20, 20)]) is None  # only someone else: not our person
    assert follow([]) is None
    assert follow([box(300, 300, 20, 20)]) is None
    assert follow([box(300, 300, 20, 20), box(0, 0, 5, 5)]).bbox == (300, 300, 20, 20)  # lost: start again


def test_smoothing_removes_noise_follows_a_slow_swing_and_strength_zero_is_the_identity():
    t = torch.arange(90) / FPS
    angle = 0.8 * torch.sin(2 * torch.pi * 0.5 * t)  # a slow swing, 0.5 Hz
    truth = roma.rotvec_to_rotmat(torch.stack([angle, 0.3 * angle, torch.zeros_like(angle)], -1))[:, None]
    noisy = roma.rotvec_to_rotmat(roma.rotmat_to_rotvec(truth) + 0.05 * torch.randn(90, 1, 3, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(smooth_rotations(noisy, FPS, 0.0), noisy)
    smooth = smooth_rotations(noisy, FPS, 0.5)
    error = lambda r: roma.rotmat_geodesic_distance(r, truth).mean()
    assert error(smooth) < 0.5 * error(noisy)
    clean = smooth_rotations(truth, FPS, 0.5)  # zero phase: a clean ±46° swing is not delayed, barely damped
    assert roma.rotmat_geodesic_distance(clean, truth).max().rad2deg() < 10.0
    positions = torch.stack([t, torch.sin(t), torch.zeros_like(t)], -1)
    assert (smooth_positions(positions, FPS, 0.5) - positions).abs().max() < 0.01


def test_smoothing_damps_a_motion_about_as_much_at_10_frames_a_second_as_at_30():
    """The cut-off is in Hz whatever the frame rate: the same 1 Hz swing keeps nearly the same
    amplitude at 10 and 30 fps (One-Euro's approximate smoothing factor kept 0.51 at 10 fps
    against 0.76 at 30, halving a 10 fps clip's true motion)."""
    kept = {}
    for fps in (10, 30):
        t = torch.arange(6 * fps, dtype=torch.float64) / fps
        swing = torch.stack([0.1 * torch.sin(2 * torch.pi * t), torch.zeros_like(t), torch.zeros_like(t)], -1)[:, None]
        middle = slice(len(t) // 4, 3 * len(t) // 4)  # away from the clip's ends
        kept[fps] = float(smooth_positions(swing, fps, 0.5)[middle, 0, 0].abs().max() / 0.1)
    assert 0.6 < kept[10] < kept[30] < 0.9
    assert kept[10] > 0.8 * kept[30]


@pytest.fixture(scope="module")
def swing_bank(tmp_path_factory, anny_body):
    """A 30-frame clip of swinging arms and legs, as a pose bank (one clip)."""
    frames = 30
    phase = torch.sin(2 * torch.pi * torch.arange(frames) / frames)
    body_pose = torch.zeros(frames, anny_body.num_body_joints, 3)
    names = anny_body.joint_names[1:]
    for joint, sign in (("LeftUpLeg", 1), ("RightUpLeg", -1), ("LeftArm", -1), ("RightArm", 1)):
        body_pose[:, names.index(joint), 0] = 0.5 * sign * phase
    bank = PoseBank(body_pose.numpy(), np.zeros((frames, 3), np.float32), np.zeros(frames, np.int64),
                    np.array(["swing"]), np.arange(frames), "anny")
    return bank.save(tmp_path_factory.mktemp("swing") / "bank.npz")


def test_predict_bvh_on_a_synthetic_clip_writes_a_smooth_motion(tmp_path, swing_bank, anny_body):
    clip = tmp_path / "clip"
    assert main(["synth", "--poses", str(swing_bank), "--num", "30", "--out", str(clip), "--clip", "swing", "--res", "256"]) == 0
    truth = np.load(clip / "annotations.npz")
    assert float(truth["fps"]) == FPS and np.allclose(truth["pose"][:, 3:].reshape(30, -1, 3)[:, 1, 0],
                                                        np.load(swing_bank)["body_pose"][:, 1, 0], atol=1e-6)
    out = tmp_path / "out"
    assert main(["predict", str(clip / "clip.mp4"), "--out", str(out), "--bvh", "--quiet"]) == 0
    read = read_bvh(out / "clip.bvh")
    assert read.num_frames == 30 and abs(read.fps - FPS) < 1e-3 and read.names[:3] == ["Hips", "LHipJoint", "LeftUpLeg"]
    doc = json.loads((out / "clip_motion.json").read_text())
    assert doc["num_frames"] == 30 and sum(doc["found"]) >= 27 and doc["bvh"] == "clip.bvh"
    assert doc["frames_lost"] == 30 - sum(doc["found"])
    assert (out / "clip_overlay.webm").stat().st_size > 1000

    # The written motion is the smoothed one, smoother than the raw estimate, and it still swings.
    pose = torch.tensor(doc["pose"])
    rotmats = roma.rotvec_to_rotmat(pose)
    smoothed = BodyMotion(rotmats, torch.tensor(doc["translation"]), torch.tensor(doc["shape"]), FPS, np.ones(30, bool))
    _, joints = pose_frames(anny_body, smoothed)
    rel = (joints - joints[:, :1]).numpy()
    acc = np.linalg.norm(rel[2:] - 2 * rel[1:-1] + rel[:-2], axis=-1).mean()
    ankle = anny_body.joint_names.index("LeftFoot")
    true_rel = truth["joints"] - truth["joints"][:, :1]
    # The foot still swings back and forth (depth), by at least half the true 8 cm: 6.4 cm on
    # photo backdrops (../shared present), 4.9 cm on plain ones (a clone without it).
    assert np.ptp(rel[:, ankle, 2]) > 0.5 * np.ptp(true_rel[:, ankle, 2])
    true_acc = np.linalg.norm(true_rel[2:] - 2 * true_rel[1:-1] + true_rel[:-2], axis=-1).mean()
    assert acc < 3 * true_acc  # about as smooth as the true motion
    assert np.linalg.norm(rel - true_rel, axis=-1).mean() < 0.2  # metres, hips aligned

    # The file re-read poses the body where the JSON's motion has it.
    rotmats_back, translation_back = from_bvh_motion(anny_body, read, np.array(doc["bvh_root_shift_cm"]))
    back = BodyMotion(rotmats_back.float(), translation_back.float(), smoothed.shape, FPS, smoothed.found)
    vertices, _ = pose_frames(anny_body, smoothed)
    assert (pose_frames(anny_body, back)[0] - vertices).norm(dim=-1).max() < 1e-3  # metres (JSON rounding)


def test_bvh_flags_are_checked(tmp_path, capsys):
    image = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(image)
    with pytest.raises(SystemExit) as e:
        main(["predict", str(image), "--out", str(tmp_path), "--bvh", "--smoothing", "2"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["predict", str(image), "--out", str(tmp_path), "--bvh", "--video-step", "3"])
    assert e.value.code == 2
    assert main(["predict", str(image), "--out", str(tmp_path), "--bvh", "--bbox", "0,0,64,64", "--quiet"]) == 1
    assert "--bvh needs a video" in capsys.readouterr().err


def test_an_unknown_clip_is_named(tmp_path, swing_bank, capsys):
    assert main(["synth", "--poses", str(swing_bank), "--num", "3", "--out", str(tmp_path), "--clip", "walk"]) == 1
    assert "no clip 'walk'" in capsys.readouterr().err
