"""Test-time flip (predict --flip): the mirror image's answer mirrored back, averaged."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from openhmr.body import keypoints as kp
from openhmr.geometry.rotations import axis_angle_to_matrix
from tests.conftest import random_pose

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def model():
    import openhmr

    return openhmr.load_model(detector=None)


def _mirrored_2d(points: torch.Tensor, names) -> torch.Tensor:
    """(B, K, 2) crop coordinates of the mirror image: x negated about the crop's centre, left and right swapped."""
    return (points * torch.tensor([-1.0, 1.0]))[:, kp.flip_permutation(names)]


def test_mirror_rotmats_is_mirror_pose_on_matrices(anny_body):
    g = torch.Generator().manual_seed(0)
    global_orient, body_pose, _ = random_pose(anny_body, 4, g)
    want_global, want_body = anny_body.mirror_pose(global_orient, body_pose)
    got = anny_body.mirror_rotmats(axis_angle_to_matrix(torch.cat([global_orient[:, None], body_pose], 1)))
    torch.testing.assert_close(got, axis_angle_to_matrix(torch.cat([want_global[:, None], want_body], 1)), atol=1e-5, rtol=0)
    torch.testing.assert_close(anny_body.mirror_rotmats(got), axis_angle_to_matrix(torch.cat([global_orient[:, None], body_pose], 1)),
                               atol=1e-5, rtol=0)  # fmt: skip


def test_a_body_mirrored_back_lands_on_the_mirror_image_of_its_keypoints(model):
    """What the network says about the mirrored crop, mirrored back, projects exactly where the
    mirror image of its keypoints lies (so tx's sign and the joints' reflection are right)."""
    from openhmr.nets.flip import mirrored_back

    hmr = model.hmr
    g = torch.Generator().manual_seed(1)
    global_orient, body_pose, _ = random_pose(hmr.body, 3, g)
    rotmats = axis_angle_to_matrix(torch.cat([global_orient[:, None], body_pose], 1))
    camera = torch.tensor([[0.9, 0.1, -0.05], [1.1, -0.2, 0.1], [0.8, 0.0, 0.3]])
    shape = hmr.body.mean_shape.expand(3, -1).clone()
    seen = hmr.decode_params(camera, rotmats, shape, vertices=False)
    back = hmr.decode_params(*mirrored_back(hmr, seen), vertices=False)
    names = kp.convention_names(hmr.keypoint_convention)
    # Within Anny's own left-right asymmetry (its mesh and regressor are symmetric to about 0.2 px
    # of a 224 crop here); a wrong sign of tx alone would be off by 2 s tx (0.1-0.4).
    torch.testing.assert_close(back.keypoints2d, _mirrored_2d(seen.keypoints2d, names), atol=3e-3, rtol=0)


def test_the_flipped_answer_mirrors_with_the_crop_and_differs_from_the_plain_one(model):
    """Averaged with its mirror, the answer is mirror-symmetric: on the mirrored crop it is the
    mirror image of the answer on the crop (the plain network's is not)."""
    from openhmr.nets.flip import final_answer

    image = Image.open(EXAMPLES / "camera.png").convert("RGB")
    side = min(image.size)
    crop = np.asarray(image.crop((0, 0, side, side)).resize((224, 224)), np.float32) / 255
    crops = torch.from_numpy(crop).permute(2, 0, 1)[None]
    names = kp.convention_names(model.hmr.keypoint_convention)
    with torch.no_grad():
        answer = final_answer(model.hmr, crops, flip=True)
        flipped = answer.keypoints2d
        flipped_of_mirror = final_answer(model.hmr, crops.flip(-1), flip=True).keypoints2d
        plain = final_answer(model.hmr, crops).keypoints2d
        plain_of_mirror = final_answer(model.hmr, crops.flip(-1)).keypoints2d
    torch.testing.assert_close(flipped_of_mirror, _mirrored_2d(flipped, names), atol=3e-3, rtol=0)  # the body's asymmetry
    assert (plain_of_mirror - _mirrored_2d(plain, names)).abs().max() > 0.01  # the plain network is not symmetric
    assert (flipped - plain).abs().max() > 0.005
    # predict runs the same pass
    out = model.run_crops(crops, flip=True)
    torch.testing.assert_close(out["keypoints3d"], answer.keypoints3d, atol=1e-5, rtol=0)
    assert (out["keypoints3d"] - model.run_crops(crops, flip=False)["keypoints3d"]).abs().max() > 1e-3
    torch.testing.assert_close(model.run_crops(crops)["keypoints3d"], answer.keypoints3d, atol=1e-5, rtol=0)  # the default


def test_predict_flips_by_default_and_not_with_no_flip(model, tmp_path):
    import json

    from openhmr.cli import main
    from openhmr.detect.mediapipe import Detection

    box = (40.0, 60.0, 300.0, 452.0)
    image = np.asarray(Image.open(EXAMPLES / "camera.png").convert("RGB"))
    flipped = model.predict(image, [Detection(box, 1.0)], flip=True).people[0].keypoints_2d
    plain = model.predict(image, [Detection(box, 1.0)], flip=False).people[0].keypoints_2d
    assert model.flip and np.array_equal(model.predict(image, [Detection(box, 1.0)]).people[0].keypoints_2d, flipped)
    assert np.abs(flipped[:, :2] - plain[:, :2]).max() > 0.5  # pixels
    for flag, want in (([], flipped), (["--no-flip"], plain)):
        out = tmp_path / (flag[0][2:] if flag else "default")
        assert main(["predict", str(EXAMPLES / "camera.png"), "--out", str(out), "--bbox", ",".join(map(str, box)), "--quiet", *flag]) == 0
        written = np.array(json.loads((out / "camera.json").read_text())["people"][0]["keypoints_2d"])
        np.testing.assert_allclose(written[:, :2], want[:, :2], atol=0.01)
