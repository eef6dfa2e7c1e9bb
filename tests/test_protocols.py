"""`openhmr eval` protocols h36m-p1, h36m-p2 and 3dpw with --joint-regressor, on small files in
SPIN's layouts that the tests write themselves, with the SMPL-format test body."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from openhmr.cli import main
from openhmr.geometry.rotations import axis_angle_to_matrix
from openhmr.nets.hmr import HMR, build_hmr
from openhmr.nets.weights_io import save_weights

N = 3


class FixedHMR(HMR):
    """Predicts one fixed body for every crop: the protocols' ground-truth path is then checked
    exactly (zero error when the fixed body is the labelled one)."""

    def set_params(self, pose: torch.Tensor, shape: torch.Tensor):
        rots = self.layout.encode(axis_angle_to_matrix(pose.view(1, -1, 3)))
        self.fixed = self.layout.from_params(torch.tensor([[0.9, 0.0, 0.0]]), rots, shape[None])
        return self

    def forward(self, images, decode="all", trunk=None, frozen_blocks=None):
        return [self.decode_theta(self.fixed.expand(len(images), -1))]


def write_set(folder, pose, shape, with_keypoints=None):
    """SPIN's layout: 3DPW (imgname, center, scale, pose, shape, gender) or, given keypoints
    (N, 24, 4) in SPIN's order, H36M's (imgname, center, scale, part, S)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(N):
        Image.new("RGB", (64, 64), (100, 120, 140)).save(folder / f"{i}.jpg")
    fields = {"imgname": np.array([f"{i}.jpg" for i in range(N)]), "center": np.full((N, 2), 32.0), "scale": np.full(N, 0.3)}
    if with_keypoints is None:
        fields.update(pose=np.repeat(pose[None], N, 0), shape=np.repeat(shape[None], N, 0), gender=np.array(["m"] * N))
    else:
        fields.update(part=np.zeros((N, 24, 3)), S=with_keypoints)
    path = folder / "set.npz"
    np.savez(path, **fields)
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory, smpl_body):
    root = tmp_path_factory.mktemp("protocols")
    rng = np.random.default_rng(1)
    pose = rng.normal(0, 0.2, 72).astype(np.float32)
    pose[:3] = 0
    shape = rng.normal(0, 0.5, 10).astype(np.float32)
    vertices = int(smpl_body.faces.max()) + 1
    regressors = {}
    for name, k in (("h36m", 17), ("lsp", 14)):
        weights = rng.random((k, vertices)) * (rng.random((k, vertices)) < 0.01)
        regressors[name] = root / f"J_{name}.npy"
        np.save(regressors[name], (weights / weights.sum(1, keepdims=True)).astype(np.float32))
    torch.manual_seed(0)
    checkpoint = save_weights(build_hmr(smpl_body, backbone="resnet10t", backbone_weights=None), root / "w.safetensors")
    return root, pose, shape, regressors, checkpoint


def test_3dpw_layout_takes_its_truth_from_the_parameters(setup, smpl_body):
    from openhmr.eval.evaluate import evaluate, read_eval_set

    root, pose, shape, regressors, _ = setup
    data = read_eval_set(write_set(root / "3dpw", pose, shape), "3dpw")
    hmr = FixedHMR(smpl_body, *(lambda h: (h.encoder, h.regressor, h.layout))(build_hmr(smpl_body, "resnet10t", None)))
    exact = evaluate(hmr.set_params(torch.from_numpy(pose), torch.from_numpy(shape)), data, "3dpw",
                     joint_regressor=regressors["lsp"], progress=False)  # fmt: skip
    assert exact["mpjpe"] == pytest.approx(0, abs=0.5) and exact["pve"] == pytest.approx(0, abs=0.5)
    bent = pose.copy()
    bent[3 * 18 : 3 * 18 + 3] += [0, 0, 1.0]  # one elbow turned by a radian
    off = evaluate(hmr.set_params(torch.from_numpy(bent), torch.from_numpy(shape)), data, "3dpw",
                   joint_regressor=regressors["lsp"], progress=False)  # fmt: skip
    assert off["mpjpe"] > 5 and off["pve"] > 5


@pytest.mark.parametrize("protocol", ["h36m-p1", "h36m-p2", "3dpw"])
def test_each_protocol_runs_from_the_command_line(setup, smpl_npz, smpl_body, protocol, tmp_path, capsys):
    root, pose, shape, regressors, checkpoint = setup
    if protocol == "3dpw":
        data, regressor = write_set(root / "3dpw", pose, shape), regressors["lsp"]
    else:
        keypoints = np.concatenate([np.random.default_rng(2).normal(0, 0.3, (N, 24, 3)) + [0, 0, 4], np.ones((N, 24, 1))], -1)
        data, regressor = write_set(root / "h36m", pose, shape, with_keypoints=keypoints), regressors["h36m"]
    out = tmp_path / "eval.json"
    args = ["eval", "--checkpoint", str(checkpoint), "--body-model", str(smpl_npz), "--data", str(data),
            "--protocol", protocol, "--out", str(out)]  # fmt: skip
    assert main(args) == 1 and "--joint-regressor" in capsys.readouterr().err  # SMPL lacks the protocol's joints
    assert main([*args, "--joint-regressor", str(regressor)]) == 0
    result = json.loads(out.read_text())
    assert result["num_images"] == N
    assert (result["mpjpe"] is None) == (protocol == "h36m-p2")
    assert (result["pve"] is not None) == (protocol == "3dpw")
    # The command reports what the evaluation API (checked exactly above) gives for the same
    # network and set; Procrustes alignment can only lower the error.
    from openhmr.eval.evaluate import evaluate, read_eval_set
    from openhmr.nets.weights_io import load_hmr

    api = evaluate(load_hmr(checkpoint, smpl_body), read_eval_set(data, protocol), protocol,
                   joint_regressor=str(regressor), progress=False)  # fmt: skip
    assert result["pa_mpjpe"] == pytest.approx(api["pa_mpjpe"], abs=0.05) and result["pa_mpjpe"] > 0
    if result["mpjpe"] is not None:
        assert result["pa_mpjpe"] <= result["mpjpe"]


def test_an_unreadable_image_is_dropped_not_scored_against_a_neighbours_labels(tmp_path, anny_body):
    """Three people, the middle image unreadable: the figures must equal those of the two
    readable people alone, and the dropped image is named."""
    import dataclasses
    from pathlib import Path

    from openhmr.data.formats import Annotations
    from openhmr.eval.evaluate import evaluate_2d, format_table

    root = Path(__file__).resolve().parents[1] / "examples"
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    (tmp_path / "astronaut.jpg").write_bytes((root / "astronaut.jpg").read_bytes())
    (tmp_path / "camera.png").write_bytes((root / "camera.png").read_bytes())
    rng = np.random.default_rng(0)
    ann = Annotations(
        imgname=np.array(["astronaut.jpg", "broken.jpg", "camera.png"]),
        center=np.array([[256.0, 256.0], [100.0, 100.0], [256.0, 256.0]]),
        box_size=np.array([400.0, 50.0, 450.0]),
        keypoints2d=np.concatenate([rng.uniform(100, 400, (3, 14, 2)), np.ones((3, 14, 1))], axis=-1),
        convention="lsp14", image_root=tmp_path, person_size=np.array([300.0, 40.0, 350.0]),
    )  # fmt: skip
    readable = dataclasses.replace(ann, **{f: getattr(ann, f)[[0, 2]] for f in ("imgname", "center", "box_size", "keypoints2d", "person_size")})
    torch.manual_seed(0)
    hmr = build_hmr(anny_body).eval()
    with_broken = evaluate_2d(hmr, ann, progress=False)
    alone = evaluate_2d(hmr, readable, progress=False)
    assert with_broken["dropped"] == ["broken.jpg"] and alone["dropped"] == []
    assert with_broken["num_images"] == alone["num_images"] == 2
    for key in ("pck05", "pck10", "num_joints", "per_joint_pck10"):
        assert with_broken[key] == alone[key]
    assert "1 unreadable left out, e.g. broken.jpg" in format_table(with_broken)
