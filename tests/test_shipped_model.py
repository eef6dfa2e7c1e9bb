"""The shipped weights (src/openhmr/weights/): they load, and give sane people on a bundled
real photo and good ones on fresh renders of the synthetic generator."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from openhmr.data.pose_bank import PoseBank

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# MediaPipe Pose's landmarks on examples/camera.png (an independent labeller, rounded pixels):
# nose, left eye, right eye, left ear, right ear.
CAMERAMAN = np.array([[247, 170], [251, 152], [237, 152], [231, 144], [203, 143]], float)


@pytest.fixture(scope="module")
def shipped():
    import openhmr

    return openhmr.load_model(detector=None)


def test_the_shipped_model_gives_a_valid_upright_cameraman(shipped):
    """Validity on a real photo: bounded shape, positive scale, body in front of the camera,
    face on his face, head above hips. An untrained network passes this too (its mean body
    stands upright in the box); accuracy is the next test's job."""
    from openhmr.predict.detect import Detection

    image = np.asarray(Image.open(EXAMPLES / "camera.png").convert("RGB"))
    box = (40.0, 60.0, 300.0, 452.0)  # the cameraman, head to the image's bottom edge
    (person,) = shipped.predict(image, [Detection(box, 1.0)]).people
    assert shipped.hmr.layout.bounded_shape and ((person.shape >= 0) & (person.shape <= 1)).all()
    assert person.weak_perspective[0] > 0 and (person.joints_3d[:, 2] > 0).all()  # in front of the camera
    points = person.keypoints_2d[:, :2]
    # Face within 15 % of the box of MediaPipe's face landmarks (measured: 5-12 %); head above hips.
    face = np.linalg.norm(points[:5] - CAMERAMAN[:5], axis=1) / max(box[2:])
    assert (face < 0.15).all(), face
    assert points[:5, 1].max() < points[11:13, 1].min()


def test_the_shipped_model_recovers_fresh_synthetic_people(shipped, tmp_path):
    """Eight new renders of moderate random poses: the shipped model must place their
    keypoints well (PCK@0.1 of the box; measured 0.87) and far better than an untrained
    network (0.35)."""
    from openhmr.data.formats import read_spin_npz
    from openhmr.data.synth import generate
    from openhmr.nets.hmr import build_hmr
    from openhmr.train.evaluate import evaluate

    rng = np.random.default_rng(5)
    n = 8
    bank = PoseBank(rng.normal(0, 0.2, (n, 30, 3)).astype(np.float32), np.zeros((n, 3), np.float32), np.zeros(n, int),
                    np.array(["random"]), np.arange(n), "anny")  # fmt: skip
    generate(bank.save(tmp_path / "bank.npz"), n, tmp_path / "set", seed=3, progress=False)
    data = read_spin_npz(tmp_path / "set" / "annotations.npz")
    trained = evaluate(shipped.hmr, data, "synth", progress=False)
    torch.manual_seed(0)
    untrained = evaluate(build_hmr(shipped.body).eval(), data, "synth", progress=False)
    assert trained["pck10"] > 0.7 and trained["pck10"] > untrained["pck10"] + 0.2, (trained, untrained)
