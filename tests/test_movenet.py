"""openhmr.nets.tfjs_graph (TensorFlow.js graph models in PyTorch) and openhmr.detect.movenet
(MoveNet MultiPose as a detector). The model's tests skip when ``make movenet`` has not
fetched it; the reader's op tests build their own tiny graphs."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import fetched_or_skip

from openhmr.errors import OpenHMRError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
REFERENCE = Path(__file__).parent / "data" / "movenet_astronaut_tfjs.json"


def _movenet_path() -> Path:
    from openhmr.detect.movenet import movenet_files

    return fetched_or_skip(movenet_files)


def _write_graph(folder: Path, nodes: list[dict], weights: dict[str, np.ndarray], float16: bool = False) -> Path:
    """A graph-model model.json + one weight shard, as the TF.js converter lays them out."""
    specs, data = [], b""
    for name, value in weights.items():
        spec = {"name": name, "shape": list(value.shape), "dtype": "int32" if value.dtype.kind == "i" else "float32"}
        if float16 and spec["dtype"] == "float32":
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            data += value.astype(np.float16).tobytes()
        else:
            data += value.astype(np.int32 if spec["dtype"] == "int32" else np.float32).tobytes()
        specs.append(spec)
    (folder / "group1-shard1of1.bin").write_bytes(data)
    consts = [{"name": name, "op": "Const", "attr": {}} for name in weights]
    model = {"format": "graph-model", "modelTopology": {"node": [{"name": "x", "op": "Placeholder"}, *consts, *nodes]},
             "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": specs}]}  # fmt: skip
    path = folder / "model.json"
    path.write_text(json.dumps(model))
    return path


def _s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def test_a_fused_convolution_keeps_tensorflow_s_asymmetric_same_padding_and_layouts(tmp_path):
    """A 3 × 3 convolution, stride 2, 'SAME' on a 6 × 6 NHWC input pads one row and column
    after only; HWIO weights, bias and Relu6 fused; float16-quantised weights read back."""
    from openhmr.nets.tfjs_graph import TFJSGraph

    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 3, 2, 4, generator=g)  # HWIO
    b = torch.randn(4, generator=g)
    conv = {"name": "y", "op": "_FusedConv2D", "input": ["x", "w", "b"],
            "attr": {"strides": {"list": {"i": ["1", "2", "2", "1"]}}, "padding": _s("SAME"),
                     "fused_ops": {"list": {"s": [_s("BiasAdd")["s"], _s("Relu6")["s"]]}}}}  # fmt: skip
    path = _write_graph(tmp_path, [conv], {"w": w.numpy(), "b": b.numpy()}, float16=True)
    net = TFJSGraph.from_file(path, outputs=["y"])
    x = torch.randn(1, 6, 6, 2, generator=g) * 3
    (y,) = net(x)
    w16, b16 = w.half().float(), b.half().float()
    expected = F.relu6(F.conv2d(F.pad(x.permute(0, 3, 1, 2), (0, 1, 0, 1)), w16.permute(3, 2, 0, 1), b16, stride=2))
    assert y.shape == (1, 3, 3, 4)
    assert torch.allclose(y, expected.permute(0, 2, 3, 1), atol=1e-5)


def test_strided_slice_masks_top_k_and_gather_nd_follow_tensorflow(tmp_path):
    from openhmr.nets.tfjs_graph import TFJSGraph

    attr = lambda **masks: {f"{k}_mask": {"i": str(v)} for k, v in masks.items()}
    nodes = [
        # x[1, :, None]: shrink axis 0, whole axis 1, new axis after it
        {"name": "sliced", "op": "StridedSlice", "input": ["x", "begin", "end", "strides"],
         "attr": attr(begin=2, end=2, new_axis=4, shrink_axis=1)},
        {"name": "top", "op": "TopKV2", "input": ["x", "k"], "attr": {"sorted": {"b": True}}},
        {"name": "picked", "op": "GatherNd", "input": ["x", "where"]},
    ]  # fmt: skip
    weights = {"begin": np.array([1, 0, 0]), "end": np.array([2, 0, 0]), "strides": np.array([1, 1, 1]),
               "k": np.array(2), "where": np.array([[0, 2], [1, 0]])}  # fmt: skip
    net = TFJSGraph.from_file(_write_graph(tmp_path, nodes, weights), outputs=["sliced", "top:0", "top:1", "picked"])
    x = torch.tensor([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0]])
    sliced, values, indices, picked = net(x)
    assert torch.equal(sliced, x[1, :, None])
    assert torch.equal(values, torch.tensor([[3.0, 2.0], [4.0, 0.5]])) and torch.equal(indices, torch.tensor([[0, 2], [1, 0]]))
    assert torch.equal(picked, torch.tensor([2.0, 0.5]))


def test_legacy_bilinear_resize_gather_floor_mod_and_mean_follow_tensorflow(tmp_path):
    """CenterNet's ops: ResizeBilinear without half-pixel centres samples output pixel i at
    i · in / out (the last ones clamp to the edge), unlike PyTorch's bilinear; GatherV2 indexes
    one axis by a whole index tensor; FloorMod takes the divisor's sign; Mean keeps dims."""
    from openhmr.nets.tfjs_graph import TFJSGraph

    flag = lambda value: {"b": value}
    nodes = [
        {"name": "legacy", "op": "ResizeBilinear", "input": ["x", "size"],
         "attr": {"align_corners": flag(False), "half_pixel_centers": flag(False)}},
        {"name": "half", "op": "ResizeBilinear", "input": ["x", "size"],
         "attr": {"align_corners": flag(False), "half_pixel_centers": flag(True)}},
        {"name": "picked", "op": "GatherV2", "input": ["table", "where", "axis"], "attr": {"batch_dims": {"i": "0"}}},
        {"name": "mod", "op": "FloorMod", "input": ["a", "b"]},
        {"name": "mean", "op": "Mean", "input": ["x", "axes"], "attr": {"keep_dims": flag(True)}},
    ]  # fmt: skip
    weights = {"size": np.array([4, 6]), "table": np.arange(6, dtype=np.float32).reshape(2, 3),
               "where": np.array([[2, 0]]), "axis": np.array(1), "a": np.array([-3.0, 4.0], np.float32),
               "b": np.array([2.0, -3.0], np.float32), "axes": np.array([1, 2])}  # fmt: skip
    net = TFJSGraph.from_file(_write_graph(tmp_path, nodes, weights), outputs=["legacy", "half", "picked", "mod", "mean"])
    x = torch.tensor([[0.0, 10.0, 20.0], [30.0, 40.0, 50.0]]).view(1, 2, 3, 1)
    legacy, half, picked, mod, mean = net(x)
    rows = [[0, 5, 10, 15, 20, 20], [15, 20, 25, 30, 35, 35], [30, 35, 40, 45, 50, 50], [30, 35, 40, 45, 50, 50]]
    assert torch.equal(legacy[0, :, :, 0], torch.tensor(rows, dtype=torch.float32))
    assert torch.allclose(half, F.interpolate(x.permute(0, 3, 1, 2), size=(4, 6), mode="bilinear").permute(0, 2, 3, 1))
    assert not torch.allclose(half, legacy)
    assert torch.equal(picked, torch.tensor([[[2.0, 0.0]], [[5.0, 3.0]]]))
    assert torch.equal(mod, torch.tensor([1.0, -2.0]))
    assert mean.shape == (1, 1, 1, 1) and mean.item() == 25.0


def test_an_op_the_reader_lacks_is_named_when_the_file_is_read(tmp_path):
    from openhmr.nets.tfjs_graph import TFJSGraph

    path = _write_graph(tmp_path, [{"name": "y", "op": "NonMaxSuppressionV5", "input": ["x"]}], {})
    with pytest.raises(OpenHMRError, match="NonMaxSuppressionV5"):
        TFJSGraph.from_file(path, outputs=["y"])


def test_missing_movenet_files_are_one_sentence(tmp_path, monkeypatch):
    from openhmr.detect.movenet import movenet_files

    monkeypatch.setenv("OPENHMR_CACHE_DIR", str(tmp_path))
    with pytest.raises(OpenHMRError, match="make movenet"):
        movenet_files()


def test_movenet_in_pytorch_gives_tensorflow_js_s_people_on_the_astronaut():
    """The whole graph, post-processing included, against TensorFlow.js on the same input
    (scripts/tfjs_reference.js): every value of the (1, 6, 56) output within 1e-4."""
    import cv2

    from openhmr.detect.movenet import MoveNet
    from openhmr.predict.images import load_image

    net = MoveNet.from_file(_movenet_path())
    view = cv2.resize(load_image(EXAMPLES / "astronaut.jpg"), (256, 256), interpolation=cv2.INTER_AREA)
    reference = json.loads(REFERENCE.read_text())
    expected = np.array(reference["output"]).reshape(reference["shape"])[0]
    ours = net.run(view)
    assert np.abs(ours - expected).max() < 1e-4
    assert expected[0, 55] > 0.4 and (expected[1:, 55] < 0.1).all()  # one person, as the reference says


def test_movenet_finds_the_person_of_each_example_where_mediapipe_does():
    """On each bundled photo MoveNet finds one person, and MediaPipe Pose's box (the tight
    box of its landmarks) lies mostly (> 70 %) inside MoveNet's."""
    pytest.importorskip("mediapipe")
    from openhmr.detect.mediapipe import MediaPipeDetector
    from openhmr.detect.movenet import MoveNetDetector
    from openhmr.predict.images import load_image

    _movenet_path()
    ours, theirs = MoveNetDetector(), MediaPipeDetector()
    xyxy = lambda b: np.array([b[0], b[1], b[0] + b[2], b[1] + b[3]])
    for name in ("astronaut.jpg", "camera.png"):
        image = load_image(EXAMPLES / name)
        (a,), (b,) = ours(image), theirs(image)
        (x0, y0), (x1, y1) = np.maximum(xyxy(a.bbox)[:2], xyxy(b.bbox)[:2]), np.minimum(xyxy(a.bbox)[2:], xyxy(b.bbox)[2:])
        inside = max(x1 - x0, 0) * max(y1 - y0, 0) / (b.bbox[2] * b.bbox[3])
        assert inside > 0.7, (name, a.bbox, b.bbox)


def test_suppression_drops_a_tile_s_cut_off_copy_of_a_better_person():
    from openhmr.detect.movenet import MoveNetPerson, suppress

    keypoints = np.zeros((17, 3))
    whole = MoveNetPerson(0.6, np.array([0.0, 0.0, 100.0, 200.0]), keypoints)
    cut = MoveNetPerson(0.4, np.array([0.0, 0.0, 100.0, 90.0]), keypoints)  # IoU 0.45 but all inside
    other = MoveNetPerson(0.3, np.array([150.0, 0.0, 250.0, 200.0]), keypoints)
    assert suppress([cut, other, whole]) == [whole, other]


@pytest.mark.parametrize("kind", ["movenet", "crowd"])
def test_predict_with_a_movenet_detector_crops_from_movenet_s_box(kind):
    """With ``crowd`` too: CenterNet proposes her three times (0.62, 0.27 and 0.16 in its
    reference), but MoveNet found her already, so she is one person, with MoveNet's box."""
    from openhmr.detect.centernet import centernet_files
    from openhmr.detect.crowd import CrowdDetector
    from openhmr.detect.movenet import MoveNetDetector
    from openhmr.predict.images import load_image
    from openhmr.predict.predictor import load_model

    _movenet_path()
    if kind == "crowd":
        fetched_or_skip(centernet_files)
    image = load_image(EXAMPLES / "astronaut.jpg")
    model = load_model(detector=kind)
    assert type(model.detector) is {"movenet": MoveNetDetector, "crowd": CrowdDetector}[kind]
    (person,) = model.predict(image).people
    (box,) = MoveNetDetector()(image)
    assert np.allclose(person.bbox, box.bbox, atol=1e-3)
    assert box.bbox[3] > 0.9 * image.shape[0]  # she is cut off below: the box runs to the frame's edge
