"""TFLite -> PyTorch: operator semantics, and parity with the LiteRT interpreter on the same
files (BlazePose full and the pose detector from the mediapipe wheel; heavy when cached)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from openhmr.errors import OpenHMRError
from openhmr.nets.blazepose import BlazePoseLandmarks, landmark_model_path
from openhmr.nets.tflite import TFLiteGraph, graph_spec, ops, read_tflite

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _photos(size: int) -> np.ndarray:
    """(2, size, size, 3) float32 in [0, 1]: square centre crops of the bundled photos."""
    out = []
    for name in ("astronaut.jpg", "camera.png"):
        image = Image.open(EXAMPLES / name).convert("RGB")
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        out.append(np.asarray(image.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR), np.float32) / 255)
    return np.stack(out)


def _litert(path: Path, batch: np.ndarray) -> dict[int, np.ndarray]:
    """Reference outputs by tensor index, one image at a time (the files say batch 1)."""
    interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    results: dict[int, list] = {}
    for image in batch:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None])
        interpreter.invoke()
        for d in interpreter.get_output_details():
            results.setdefault(d["index"], []).append(interpreter.get_tensor(d["index"])[0])
    return {k: np.stack(v) for k, v in results.items()}


def _ours(net: TFLiteGraph, batch: np.ndarray) -> dict[int, np.ndarray]:
    with torch.no_grad():
        outs = net(torch.from_numpy(batch).permute(0, 3, 1, 2))
    return {i: (o.permute(0, 2, 3, 1) if o.dim() == 4 else o).numpy() for i, o in zip(net.output_indices, outs)}


@pytest.mark.parametrize("variant", ["full", "heavy"])
def test_blazepose_matches_litert_on_real_photos(variant):
    try:
        path = landmark_model_path(variant)
    except OpenHMRError as e:  # heavy comes from npm (`make blazepose-heavy`); full always ships
        pytest.skip(str(e))
    batch = _photos(256)
    ref = _litert(path, batch)
    net = TFLiteGraph.from_file(path).eval()
    ours = _ours(net, batch)
    sizes = {int(np.prod(v.shape[1:])): k for k, v in ref.items()}
    landmarks, world, flag = sizes[195], sizes[117], sizes[1]
    xy = lambda a: a.reshape(-1, 39, 5)[..., :2]
    assert np.abs(xy(ours[landmarks]) - xy(ref[landmarks])).max() < 0.05  # crop pixels
    assert np.abs(ours[world] - ref[world]).max() < 1e-4  # metres: 0.1 mm
    assert np.abs(ours[flag] - ref[flag]).max() < 1e-4
    assert ref[flag].min() > 0.5  # a person is in both photos: the comparison is on real poses
    heatmaps = next(k for k, v in ref.items() if v.shape[1:] == (64, 64, 39))
    assert np.abs(ours[heatmaps] - ref[heatmaps]).max() < 1e-2 * np.abs(ref[heatmaps]).max()


def test_pose_detector_matches_litert():
    """The detector uses DENSIFY (sparse weights), DEPTH_TO_SPACE and CONCATENATION too."""
    path = landmark_model_path("full").parents[1] / "pose_detection" / "pose_detection.tflite"
    batch = _photos(224) * 2 - 1  # the detector reads [-1, 1]
    ref = _litert(path, batch)
    ours = _ours(TFLiteGraph.from_file(path).eval(), batch)
    for k, value in ref.items():
        assert ours[k].shape == value.shape
        assert np.abs(ours[k] - value).max() < 1e-5 * np.abs(value).max() + 1e-3


def test_pruned_landmark_network_keeps_the_heads_and_drops_the_decoder():
    path = landmark_model_path("full")
    whole = TFLiteGraph.from_file(path).eval()
    net = BlazePoseLandmarks.from_file(path).eval()
    assert len(net.graph.layers) < len(whole.layers) - 20  # segmentation / heatmap decoder gone
    images = torch.from_numpy(_photos(256)).permute(0, 3, 1, 2)
    with torch.no_grad():
        out = net(images)
        full = dict(zip(whole.output_indices, whole(images)))
    sizes = {int(np.prod(v.shape[1:])): v for v in full.values()}
    assert torch.equal(out.landmarks.flatten(1), sizes[195])
    assert torch.equal(out.world.flatten(1), sizes[117])
    assert out.features.shape == (2, net.feature_channels, 2, 2)


def test_a_network_rebuilt_from_its_spec_needs_no_file():
    spec, state = graph_spec(read_tflite(landmark_model_path("full")))
    rebuilt = TFLiteGraph(spec)
    assert all(not p.detach().any() for p in rebuilt.parameters())  # structure only, then weights
    rebuilt.load_state_dict(state)
    images = torch.from_numpy(_photos(256)).permute(0, 3, 1, 2)
    with torch.no_grad():
        expected = TFLiteGraph.from_file(landmark_model_path("full"))(images)
        for a, b in zip(rebuilt(images), expected):
            assert torch.equal(a, b)


def test_same_padding_is_asymmetric_like_tensorflow():
    # 256 -> 128 with a 3x3 stride-2 kernel: TF pads 0 before and 1 after.
    assert ops.same_padding((256, 256), (3, 3), (2, 2)) == (0, 1, 0, 1)
    assert ops.same_padding((7, 7), (3, 3), (1, 1)) == (1, 1, 1, 1)
    assert ops.same_padding((8, 8), (2, 2), (2, 2)) == (0, 0, 0, 0)


def test_depth_to_space_follows_tensorflows_channel_order():
    rng = np.random.default_rng(0)
    nhwc = rng.normal(size=(1, 3, 4, 8)).astype(np.float32)  # block 2: 8 channels -> 2
    expected = np.zeros((1, 6, 8, 2), np.float32)
    for h in range(3):
        for w in range(4):
            for i in range(2):
                for j in range(2):
                    expected[0, h * 2 + i, w * 2 + j] = nhwc[0, h, w, (i * 2 + j) * 2 : (i * 2 + j) * 2 + 2]
    out = ops.DepthToSpace(2)(torch.from_numpy(nhwc).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(out, expected)


def test_reshape_reads_images_in_nhwc_order():
    nhwc = torch.arange(2 * 2 * 3 * 4, dtype=torch.float32).reshape(2, 2, 3, 4)
    out = ops.Reshape([24])(nhwc.permute(0, 3, 1, 2))
    assert torch.equal(out, nhwc.reshape(2, 24))


def test_files_that_are_not_models_are_one_sentence(tmp_path):
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(OpenHMRError, match="not a readable TFLite model"):
        read_tflite(bad)
