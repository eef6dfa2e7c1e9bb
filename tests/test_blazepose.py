"""BlazePose as HMR's encoder: what it feeds the regressor, checkpoints that carry it, errors."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from openhmr.errors import OpenHMRError
from openhmr.nets import blazepose
from openhmr.nets.encoder import build_encoder

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _astronaut(res: int = 224) -> torch.Tensor:
    image = Image.open(EXAMPLES / "astronaut.jpg").convert("RGB")
    side = min(image.size)
    image = image.crop(((image.width - side) // 2, 0, (image.width - side) // 2 + side, side)).resize((res, res), Image.BILINEAR)
    return torch.from_numpy(np.asarray(image, np.float32) / 255).permute(2, 0, 1)[None]


@pytest.fixture(scope="module")
def encoder():
    return build_encoder("blazepose-full").eval()


def test_features_hold_the_trunk_and_the_landmark_heads(encoder):
    images = _astronaut(256)
    with torch.no_grad():
        features = encoder(images)
        out = encoder.landmarks(images)
    c = encoder.landmarks.feature_channels
    assert features.shape == (1, encoder.feature_dim) == (1, c * 4 + 39 * 5 + 39 * 3 + 1)
    points = features[0, c * 4 : c * 4 + 39 * 5].view(39, 5)
    torch.testing.assert_close(points[:, :2], out.landmarks[0, :, :2] / 128 - 1)
    assert float(features[0, -1]) > 0.5  # the pose score: a person is there
    # The astronaut's face is in the upper part of the crop, her hips below it (y down).
    nose, hips = points[0, 1], points[23:25, 1].mean()
    assert nose < 0 and hips > nose


def test_224_crops_are_resized_to_the_networks_256(encoder):
    with torch.no_grad():
        small = encoder(_astronaut(224))
        native = encoder(_astronaut(256))
    c = encoder.landmarks.feature_channels
    # Face and shoulders, in the frame (her arms and legs are outside it: guesses either way).
    xy = lambda f: f[0, c * 4 : c * 4 + 39 * 5].view(39, 5)[:13, :2]
    assert (xy(small) - xy(native)).abs().max() < 0.03  # under 4 px of 256


def test_a_checkpoint_carries_the_converted_encoder(tmp_path, anny_body, monkeypatch):
    from openhmr.nets.hmr import build_hmr
    from openhmr.nets.weights_io import load_hmr, save_weights

    hmr = build_hmr(anny_body, backbone="blazepose-full").eval()
    torch.nn.init.normal_(hmr.regressor.mlp[-1].weight, std=0.01)
    path = save_weights(hmr, tmp_path / "w.safetensors")

    def no_file(variant):
        raise AssertionError("loading a checkpoint must not need the .tflite file")

    monkeypatch.setattr(blazepose, "landmark_model_path", no_file)
    loaded = load_hmr(path, anny_body)
    images = _astronaut()
    with torch.no_grad():
        a, b = hmr(images, decode="final")[-1], loaded(images, decode="final")[-1]
    assert (a.joints3d - b.joints3d).abs().max() < 2e-3  # float16 storage: the same body within 2 mm
    assert (a.joints3d - hmr.body(*hmr.body.rest_parameters(1)).joints).abs().max() > 0.01  # not the rest pose


def test_a_network_trained_upright_is_run_upright_unless_told_otherwise(tmp_path, anny_body):
    from openhmr.nets.hmr import build_hmr
    from openhmr.nets.weights_io import load_hmr, save_weights
    from openhmr.predict.predictor import load_model

    plain = save_weights(build_hmr(anny_body, backbone="blazepose-full"), tmp_path / "plain.safetensors")
    turned = save_weights(build_hmr(anny_body, backbone="blazepose-full", upright=True), tmp_path / "upright.safetensors")
    assert (load_hmr(plain, anny_body).upright, load_hmr(turned, anny_body).upright) == (False, True)
    assert load_model(turned, detector=None).upright and not load_model(plain, detector=None).upright
    assert not load_model(turned, detector=None, upright=False).upright


def test_missing_heavy_file_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENHMR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(blazepose.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(OpenHMRError, match="make blazepose-heavy"):
        blazepose.landmark_model_path("heavy")


def test_cached_blocks_and_the_rest_make_the_whole_network(encoder):
    images = torch.cat([_astronaut(), _astronaut().flip(-1)])
    with torch.no_grad():
        whole = encoder(images)
        assert encoder.num_blocks == 20
        for blocks, shape in ((10, (2, 288, 4, 4)), (20, (2, 288, 2, 2))):
            trunk = encoder.trunk(images, blocks)
            assert trunk.shape == shape
            torch.testing.assert_close(encoder.head(trunk, blocks), whole, rtol=0, atol=0)
    frozen = {id(p) for p in encoder.trunk_parameters(10)}
    rest = [p for p in encoder.parameters() if id(p) not in frozen]
    assert 0 < len(rest) < len(frozen)
    # The rest trains: its layers get gradients from the features, the trunk's could not.
    trunk = encoder.trunk(images, 10).detach()
    encoder.head(trunk, 10).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in rest)
    encoder.zero_grad(set_to_none=True)
    with pytest.raises(OpenHMRError, match="1-20"):
        encoder.trunk(images, 21)


def test_the_encoders_trainable_layers_learn_at_their_own_rate(tmp_path, anny_body):
    from openhmr.nets.hmr import build_hmr
    from openhmr.train.config import load_config
    from openhmr.train.module import HMRTraining

    config = load_config(None, ["data.poses=x.npz", "backbone=blazepose-full", "frozen_blocks=18", "lr=1e-3", "encoder_lr_scale=0.1"])
    training = HMRTraining(config, build_hmr(anny_body, "blazepose-full", dropout=0.0), mocap=None)
    encoder_optimiser = training.configure_optimizers()[0]  # constant rate: the optimisers alone
    rest, encoder = encoder_optimiser.param_groups
    assert (rest["lr"], encoder["lr"]) == (1e-3, pytest.approx(1e-4))
    trainable = {id(p) for p in training.hmr.encoder.parameters() if p.requires_grad}
    assert {id(p) for p in encoder["params"]} == trainable and trainable
    assert {id(p) for p in rest["params"]} == {id(p) for p in training.hmr.regressor.parameters()}


def test_chosen_inputs_zero_the_other_groups_and_travel_with_the_weights(tmp_path, anny_body):
    from openhmr.nets.hmr import build_hmr
    from openhmr.nets.weights_io import load_hmr, read_metadata, save_weights

    hmr = build_hmr(anny_body, backbone="blazepose-full", encoder_inputs=("landmarks", "score")).eval()
    with torch.no_grad():
        features = hmr.encoder(_astronaut())[0]
    c4 = hmr.encoder.landmarks.feature_channels * 4
    assert not features[:c4].any() and not features[c4 + 195 : -1].any()  # trunk and world zeroed
    assert features[c4 : c4 + 195].abs().sum() > 0 and features[-1] > 0.5
    path = save_weights(hmr, tmp_path / "w.safetensors")
    assert read_metadata(path)[0]["encoder_inputs"] == ["landmarks", "score"]
    assert torch.equal(load_hmr(path, anny_body).encoder.input_mask, hmr.encoder.input_mask)


def test_encoder_inputs_are_checked_before_anything_runs():
    from openhmr.train.config import load_config

    with pytest.raises(OpenHMRError, match="encoder_inputs must be"):
        load_config(None, ["data.poses=x.npz", "backbone=blazepose-full", "encoder_inputs=trunk,elbows"])
    with pytest.raises(OpenHMRError, match="BlazePose encoders"):
        load_config(None, ["data.poses=x.npz", "encoder_inputs=trunk"])


def test_landmark_feedback_shows_each_iteration_its_2d_error(tmp_path, anny_body):
    """With feedback, IEF iteration k sees (landmark - projected keypoint) x visibility and the
    visibility, per keypoint of the convention: the body of θ(k) against the encoder's own
    landmarks. It travels with the weights; encoders without landmarks refuse it."""
    from openhmr.nets.hmr import build_hmr
    from openhmr.nets.weights_io import load_hmr, save_weights
    from openhmr.train.config import load_config

    torch.manual_seed(0)
    hmr = build_hmr(anny_body, backbone="blazepose-full", feedback=True).eval()
    features = hmr.encoder(_astronaut())
    landmarks = hmr.landmark_reader(features)
    names = hmr.keypoint_names
    # The reader takes BlazePose's own points: its left wrist is MediaPipe landmark 15.
    raw = features[0, hmr.encoder.landmark_offset : hmr.encoder.landmark_offset + 39 * 5].view(39, 5)
    assert torch.allclose(landmarks[0, names.index("left_wrist")], raw[15, [0, 1, 3]])
    assert landmarks[0, names.index("left_small_toe")].abs().sum() == 0  # MediaPipe has no small toe
    seen = []
    hmr.regressor.mlp[0].register_forward_pre_hook(lambda _, inputs: seen.append(inputs[0][:, -69:].detach().clone()))
    with torch.no_grad():
        predictions = hmr(_astronaut(), decode="all")
    for k in (1, 2):  # iterations after the first see the body the previous one made
        error = (landmarks[..., :2] - predictions[k - 1].keypoints2d) * landmarks[..., 2:]
        assert torch.allclose(seen[k].view(1, -1, 3)[..., :2], error, atol=1e-5)
        assert torch.allclose(seen[k].view(1, -1, 3)[..., 2], landmarks[..., 2])
    path = save_weights(hmr, tmp_path / "w.safetensors")
    again = load_hmr(path, anny_body)
    with torch.no_grad():
        assert torch.allclose(again(_astronaut(), decode="final")[-1].keypoints2d, predictions[-1].keypoints2d, atol=1e-3)
    with pytest.raises(OpenHMRError, match="needs a BlazePose encoder"):
        load_config(None, ["data.poses=b", "feedback=true", "backbone=lite0"])
    with pytest.raises(OpenHMRError, match="needs the landmarks"):
        load_config(None, ["data.poses=b", "feedback=true", "backbone=blazepose-full", "encoder_inputs=trunk"])
