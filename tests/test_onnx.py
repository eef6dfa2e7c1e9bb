"""ONNX export of the network and the person detector, and predict running it with onnxruntime."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from openhmr.cli import main

    folder = tmp_path_factory.mktemp("onnx")
    assert main(["export", "--onnx", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def model():
    from openhmr.predict.predictor import load_model

    return load_model(detector=None)


def _crops(model):
    from openhmr.detect.mediapipe import Detection
    from openhmr.predict.images import load_image

    images = [load_image(EXAMPLES / name) for name in ("astronaut.jpg", "camera.png")]
    boxes = [[Detection((120.0, 40.0, 260.0, 420.0), 1.0)], [Detection((150.0, 60.0, 230.0, 400.0), 1.0)]]
    return torch.cat([model.crops(image, b).images for image, b in zip(images, boxes)])


def test_the_exported_network_gives_pytorch_s_bodies(exported, model):
    """Vertices within 1 mm (measured: 0.003 mm), for one crop and for a batch."""
    description = json.loads((exported / "onnx.json").read_text())
    assert set(description["files"]) == {"hmr.onnx", "pose_detector.onnx"}
    assert description["files"]["hmr.onnx"]["outputs"]["rotations"] == ["batch", model.body.num_joints, 3]
    session = ort.InferenceSession(str(exported / "hmr.onnx"))
    crops = _crops(model)
    with torch.no_grad():
        reference = model.hmr(crops, decode="final")[-1]
        for batch in (crops[:1], crops):
            theta, camera, rotations, shape = session.run(None, {"crops": batch.numpy()})
            assert rotations.shape == (len(batch), model.body.num_joints, 3)
            ours = model.hmr.decode_theta(torch.from_numpy(theta))
            assert (ours.vertices - reference.vertices[: len(batch)]).abs().max() < 1e-3  # metres
            assert np.allclose(camera, reference.camera[: len(batch)].numpy(), atol=1e-4)
            assert np.allclose(shape, reference.shape[: len(batch)].numpy(), atol=1e-4)
    assert np.abs(reference.vertices[0].numpy() - reference.vertices[1].numpy()).max() > 0.01  # two different people


def test_the_exported_detector_matches_the_pytorch_one(exported):
    from openhmr.detect.pose_detector import detector_model_path
    from openhmr.nets.tflite import TFLiteGraph

    graph = TFLiteGraph.from_file(detector_model_path()).eval()
    images = torch.rand(3, 3, 224, 224) * 2 - 1
    with torch.no_grad():
        expected = {o.shape[-1]: o.numpy() for o in graph(images)}
    regressors, scores = ort.InferenceSession(str(exported / "pose_detector.onnx")).run(None, {"images": images.numpy()})
    assert np.allclose(regressors, expected[12], atol=1e-3) and np.allclose(scores, expected[1], atol=1e-3)


def test_predict_with_the_onnx_runtime_gives_the_same_people(exported, model, tmp_path):
    from openhmr.detect.mediapipe import Detection
    from openhmr.predict.images import load_image

    image = load_image(EXAMPLES / "astronaut.jpg")
    box = [Detection((120.0, 40.0, 260.0, 420.0), 1.0)]
    torch_people = model.predict(image, box).people
    model.use_onnx(exported)
    runs = []
    session_run = model._onnx.session.run
    model._onnx.session.run = lambda *a, **k: runs.append(1) or session_run(*a, **k)
    try:
        onnx_people = model.predict(image, box).people
    finally:
        model._onnx = None
    assert runs  # the network really ran in onnxruntime
    assert np.abs(onnx_people[0].vertices - torch_people[0].vertices).max() < 1e-3
    assert np.abs(onnx_people[0].keypoints_2d - torch_people[0].keypoints_2d).max() < 0.05  # pixels


def test_the_onnx_runtime_exports_once_into_the_cache(model, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENHMR_CACHE_DIR", str(tmp_path))
    folder = model.use_onnx()
    try:
        assert folder.parent == tmp_path / "onnx" and (folder / "hmr.onnx").is_file()
        written = (folder / "hmr.onnx").stat().st_mtime_ns
        assert model.use_onnx() == folder and (folder / "hmr.onnx").stat().st_mtime_ns == written  # reused
    finally:
        model._onnx = None
