import pytest
import timm
import torch
from conftest import random_pose

from openhmr.errors import OpenHMRError
from openhmr.nets.discriminator import Discriminator
from openhmr.nets.encoder import _shipped_lite0_state, build_encoder
from openhmr.nets.hmr import HMR
from openhmr.nets.regressor import IEFRegressor
from openhmr.nets.theta import MeanParams, ThetaLayout, mean_body_pose

TINY_BACKBONE = "resnet10t"  # small and fast; tests do not need pretrained features


def tiny_hmr(body, rotation="axis_angle", mean_params=None):
    layout = ThetaLayout.for_body(body, rotation)
    encoder = build_encoder(TINY_BACKBONE, weights=None)
    mean = (mean_params or MeanParams.default(body)).theta(layout)
    return HMR(body, encoder, IEFRegressor(encoder.feature_dim, mean), layout)


@pytest.fixture(params=["anny", "smpl"])
def body(request, anny_body, smpl_body):
    return anny_body if request.param == "anny" else smpl_body


def test_theta_sizes():
    assert ThetaLayout(24, 10).dim == 85  # HMR's SMPL vector
    assert ThetaLayout(24, 10, "6d").dim == 3 + 24 * 6 + 10
    assert ThetaLayout(31, 6).dim == 3 + 31 * 3 + 6


@pytest.mark.parametrize("rotation", ["axis_angle", "6d"])
def test_hmr_output_shapes(body, rotation):
    hmr = tiny_hmr(body, rotation).eval()
    with torch.no_grad():
        preds = hmr(torch.rand(2, 3, 224, 224))
    assert len(preds) == 3
    v = body.faces.max() + 1
    for p in preds:
        assert p.theta.shape == (2, hmr.layout.dim)
        assert p.camera.shape == (2, 3) and p.shape.shape == (2, body.shape_dim)
        assert p.rotmats.shape == (2, body.num_joints, 3, 3)
        assert p.vertices.shape == (2, v, 3) and p.joints3d.shape == (2, body.num_joints, 3)
        assert p.keypoints3d.shape == (2, 23, 3) and p.keypoints2d.shape == (2, 23, 2)


def test_training_decodes_keypoints_without_the_mesh(anny_body):
    """Without a silhouette loss training reads no vertices: the mesh-free decode gives the same
    keypoints and joints (Anny's folded shortcut) and no mesh."""
    hmr = tiny_hmr(anny_body).eval()
    images = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        full = hmr(images, decode="final")[-1]
        light = hmr(images, decode="final", vertices=False)[-1]
    assert light.vertices is None and full.vertices is not None
    assert torch.allclose(light.keypoints2d, full.keypoints2d, atol=1e-5)
    assert torch.allclose(light.joints3d, full.joints3d, atol=1e-6)


def test_mixed_precision_decodes_the_body_in_fp32(smpl_body):
    """bf16 autocast (``precision=bf16-mixed``) runs the encoder and regressor in bf16, but the
    rotations, body and projection stay fp32: they agree with the fp32 decode of the same θ."""
    hmr = tiny_hmr(smpl_body, "6d").eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = hmr(torch.rand(2, 3, 224, 224))[-1]
    with torch.no_grad():
        exact = hmr.decode_theta(mixed.theta.float())
    assert mixed.keypoints2d.dtype == mixed.vertices.dtype == torch.float32
    assert torch.allclose(mixed.keypoints2d, exact.keypoints2d, atol=1e-4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = smpl_body(*random_pose(smpl_body, 2, torch.Generator().manual_seed(1)))
    assert out.vertices.dtype == torch.float32


def test_decode_final_skips_the_mesh_of_earlier_iterations(anny_body):
    hmr = tiny_hmr(anny_body).eval()
    with torch.no_grad():
        preds = hmr(torch.rand(1, 3, 224, 224), decode="final")
    assert preds[0].vertices is None and preds[1].vertices is None
    assert preds[2].vertices is not None


@pytest.mark.parametrize("name, expected", [("anny", 32), ("smpl", 25)])
def test_discriminator_output_count(name, expected, anny_body, smpl_body):
    body = anny_body if name == "anny" else smpl_body
    disc = Discriminator(body.num_body_joints, body.shape_dim)
    scores = disc(torch.eye(3).expand(5, body.num_body_joints, 3, 3), torch.zeros(5, body.shape_dim))
    assert disc.num_outputs == expected and scores.shape == (5, expected)


def test_discriminator_joint_heads_are_per_joint():
    disc = Discriminator(23, 10)
    rot = torch.eye(3).expand(1, 23, 3, 3).clone()
    base = disc(rot, torch.zeros(1, 10))
    rot[0, 5] = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    changed = (disc(rot, torch.zeros(1, 10)) - base).abs()[0] > 0
    # Joint 5 moves its own head and the full-pose head only.
    assert changed[:23].tolist() == [i == 5 for i in range(23)]
    assert changed[23] and not changed[24]


def test_regressor_is_iterative_and_starts_at_the_mean():
    mean = torch.randn(85)
    reg = IEFRegressor(16, mean, iterations=3).eval()
    last = reg.mlp[-1]
    assert last.weight.abs().max() < 0.01  # Xavier with gain 0.01
    torch.nn.init.zeros_(last.weight)
    thetas = reg(torch.randn(4, 16))
    assert len(thetas) == 3 and all(torch.equal(t, mean.expand(4, -1)) for t in thetas)


def test_regressor_mlp_is_not_affine():
    """Without its ReLUs the MLP would be affine: r(f1 + f2) - r(f2) == r(f1) - r(0) for any f."""
    torch.manual_seed(0)

    def gap(reg):
        for layer in reg.mlp:
            if isinstance(layer, torch.nn.Linear):
                torch.nn.init.normal_(layer.weight, std=0.2)
        mlp = reg.mlp.eval()
        f1, f2, zero = torch.randn(2, 24), torch.randn(2, 24), torch.zeros(2, 24)
        with torch.no_grad():
            return float(((mlp(f1 + f2) - mlp(f2)) - (mlp(f1) - mlp(zero))).abs().max())

    assert gap(IEFRegressor(16, torch.zeros(8))) > 1e-2


def test_outputs_are_valid_by_construction(anny_body, smpl_body):
    """Any raw θ gives a positive camera scale; Anny's shape stays in its box, SMPL's betas do not."""
    for body in (anny_body, smpl_body):
        layout = ThetaLayout.for_body(body)
        raw = torch.randn(64, layout.dim) * 50
        camera, _, shape = layout.to_params(raw)
        assert (camera[:, 0] > 0).all()
        low, high = body.shape_bounds
        inside = ((shape >= low) & (shape <= high)).all()
        assert bool(inside) == (body.name == "anny")
        # from_params inverts to_params for valid values
        camera, rots, shape = layout.to_params(torch.randn(4, layout.dim))
        again = layout.to_params(layout.from_params(camera, rots, shape))
        assert torch.allclose(again[0], camera, atol=1e-5) and torch.allclose(again[2], shape, atol=1e-4)


def test_weights_of_the_older_format_are_one_sentence(tmp_path, anny_body):
    import json

    from safetensors.torch import save_file

    from openhmr.nets.weights_io import load_hmr

    old = tmp_path / "old.safetensors"
    save_file({"x": torch.zeros(1)}, str(old), metadata={"openhmr": json.dumps({"format": "openhmr-hmr-1"})})
    with pytest.raises(OpenHMRError, match="older openhmr"):
        load_hmr(old, anny_body)


def test_mean_theta_reproduces_the_mean_pose(anny_body):
    bank = torch.zeros(5, anny_body.num_body_joints, 3)
    bank[:, 2, 0] = 0.6  # every frame bends one joint
    params = MeanParams.from_pose_bank(anny_body, bank)
    assert torch.allclose(params.body_pose[2], torch.tensor([0.6, 0.0, 0.0]), atol=1e-6)
    for rotation in ("axis_angle", "6d"):
        hmr = tiny_hmr(anny_body, rotation, params).eval()
        torch.nn.init.zeros_(hmr.regressor.mlp[-1].weight)
        with torch.no_grad():
            pred = hmr(torch.rand(1, 3, 224, 224))[-1]
            expected = anny_body(torch.zeros(1, 3), params.body_pose[None], params.shape[None])
        assert torch.allclose(pred.vertices, expected.vertices, atol=1e-5)
        assert torch.allclose(pred.camera, torch.tensor([[0.9, 0.0, 0.0]]))


def test_mean_of_rotations_is_a_rotation_mean():
    poses = torch.zeros(2, 3, 3)
    poses[0, :, 2], poses[1, :, 2] = 0.2, 0.6
    assert torch.allclose(mean_body_pose(poses)[:, 2], torch.full((3,), 0.4), atol=1e-6)


def test_shipped_lite0_weights_classify_a_real_photo():
    skimage_data = pytest.importorskip("skimage.data")
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    model.load_state_dict(_shipped_lite0_state(model), strict=True)
    image = torch.from_numpy(skimage_data.chelsea()).permute(2, 0, 1)[None].float() / 255
    image = torch.nn.functional.interpolate(image, size=(224, 224), mode="bilinear", antialias=True)
    with torch.no_grad():
        probs = model((image - 0.5) / 0.5).softmax(-1)[0]
    # Chelsea is a tabby: ImageNet's domestic-cat classes are 281-285.
    assert int(probs.argmax()) in range(281, 286) and float(probs[281:286].sum()) > 0.8


def test_default_encoder_uses_the_shipped_weights():
    encoder = build_encoder()
    expected = _shipped_lite0_state(encoder.backbone)["conv_stem.weight"]
    assert encoder.feature_dim == 1280 and torch.equal(encoder.backbone.conv_stem.weight, expected)


def test_encoder_weights_from_a_local_file(tmp_path):
    from safetensors.torch import save_file

    source = build_encoder(TINY_BACKBONE, weights=None)
    state = {f"module.{k}": v for k, v in source.backbone.state_dict().items()}
    save_file(state, tmp_path / "w.safetensors")
    loaded = build_encoder(TINY_BACKBONE, weights=tmp_path / "w.safetensors")
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(source.eval()(x), loaded.eval()(x))
    with pytest.raises(OpenHMRError, match="do not fit backbone"):
        build_encoder("resnet18", weights=tmp_path / "w.safetensors")
    with pytest.raises(OpenHMRError, match="not found"):
        build_encoder(TINY_BACKBONE, weights=tmp_path / "missing.pth")


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(OpenHMRError, match="Unknown backbone 'resnet-fifty'"):
        build_encoder("resnet-fifty", weights=None)


def test_hmrs_resnet50_backbone_builds_offline():
    encoder = build_encoder("resnet50", weights=None)
    assert encoder.feature_dim == 2048
    with torch.no_grad():
        assert encoder.eval()(torch.rand(1, 3, 224, 224)).shape == (1, 2048)


def test_dropout_setting_reaches_the_regressor_and_only_acts_in_training(anny_body):
    """`dropout` (a training setting) is the regressor's: 0 makes two training-mode passes agree,
    HMR's 0.5 makes them differ; in eval mode neither drops anything."""
    from openhmr.nets.hmr import build_hmr
    from openhmr.train.config import TrainConfig

    for p, differ in ((0.0, False), (0.5, True)):
        regressor = build_hmr(anny_body, TINY_BACKBONE, None, dropout=p).regressor.train()
        features = torch.rand(2, regressor.mlp[0].in_features - regressor.mean_theta.shape[0])
        first, second = regressor(features)[-1], regressor(features)[-1]
        assert (not torch.equal(first, second)) == differ
        regressor.eval()
        assert torch.equal(regressor(features)[-1], regressor(features)[-1])
    with pytest.raises(ValueError, match="dropout"):
        TrainConfig(dropout=1.0)
