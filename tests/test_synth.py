import numpy as np
import pytest

from openhmr.cli import main
from openhmr.errors import OpenHMRError
from openhmr.mocap.pose_bank import PoseBank


@pytest.fixture(scope="module")
def bank_path(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 6
    bank = PoseBank(
        (rng.normal(0, 0.15, (n, 30, 3))).astype(np.float32), np.zeros((n, 3), np.float32), np.repeat([0, 1], 3),
        np.array(["a", "b"]), np.arange(n), "anny",
    )  # fmt: skip
    return bank.save(tmp_path_factory.mktemp("bank") / "bank.npz")


def load(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def test_synth_is_deterministic_labelled_and_resumable(tmp_path, bank_path, anny_body):
    assert main(["synth", "--poses", str(bank_path), "--num", "4", "--out", str(tmp_path / "a"), "--seed", "7", "--res", "96"]) == 0
    a = load(tmp_path / "a" / "annotations.npz")
    assert a["part"].shape == (4, 23, 3) and a["S"].shape == (4, 23, 4) and a["pose"].shape == (4, 93)
    assert a["joints"].shape == (4, 31, 3)
    assert a["imgname"].tolist() == [f"images/{i:07d}.jpg" for i in range(4)]
    assert set(np.unique(a["part"][..., 2])) <= {0.0, 1.0} and a["part"][..., 2].mean() > 0.3
    # 2D labels are the 3D keypoints projected with cam_K.
    s3 = a["S"][:, :, :3]
    projected = np.einsum("nij,nkj->nki", a["cam_K"], s3)
    assert np.allclose(projected[..., :2] / projected[..., 2:], a["part"][..., :2], atol=1e-2)
    # The same seed gives the same set; a deleted image is re-rendered identically on resume.
    images = sorted((tmp_path / "a" / "images").glob("*.jpg"))
    before = images[2].read_bytes()
    images[2].unlink()
    assert main(["synth", "--poses", str(bank_path), "--num", "4", "--out", str(tmp_path / "a"), "--seed", "7", "--res", "96"]) == 0
    assert images[2].read_bytes() == before
    again = load(tmp_path / "a" / "annotations.npz")
    for key in ("part", "S", "joints", "pose", "shape"):
        assert np.array_equal(again[key], a[key])
    assert not list((tmp_path / "a").rglob("*.part*"))  # no temporary files left
    # Phenotypes come from Anny's distribution, so ages vary.
    assert len(np.unique(a["shape"][:, 1].round(3))) == 4


def test_synth_refuses_a_bank_of_another_body(tmp_path, bank_path):
    bank = PoseBank.load(bank_path)
    bank.body_model = "smpl"
    other = bank.save(tmp_path / "smpl_bank.npz")
    from openhmr.data.synth import generate

    with pytest.raises(OpenHMRError, match="renders the Anny body"):
        generate(other, 1, tmp_path / "out", progress=False)


def test_synthetic_sets_load_as_training_crops(tmp_path, bank_path, anny_body):
    from openhmr.data.dataset import CropDataset
    from openhmr.data.formats import read_spin_npz

    assert main(["synth", "--poses", str(bank_path), "--num", "2", "--out", str(tmp_path), "--res", "64"]) == 0
    ann = read_spin_npz(tmp_path / "annotations.npz", "coco23")
    assert ann.body_model == "anny" and ann.pose.shape == (2, 93) and ann.keypoints3d.shape == (2, 23, 4)
    sample = CropDataset(ann, res=64)[0]
    raw = load(tmp_path / "annotations.npz")
    # The whole image is the crop: keypoints map to crop coordinates unchanged but for scale.
    assert np.allclose(sample["keypoints2d"][:, :2].numpy(), raw["part"][0, :, :2] / 32 - 1, atol=1e-4)


def test_photo_backgrounds_are_cropped_from_the_folder(tmp_path, bank_path, anny_body):
    from PIL import Image

    from openhmr.data.synth import generate

    (tmp_path / "photos").mkdir()
    Image.fromarray(np.full((300, 400, 3), [200, 30, 30], np.uint8)).save(tmp_path / "photos" / "red.png")
    generate(bank_path, 1, tmp_path / "out", res=64, backgrounds=tmp_path / "photos", progress=False, look="plain")
    image = np.asarray(Image.open(tmp_path / "out" / "images" / "0000000.jpg")).astype(int)
    corner = image[:6, :6].reshape(-1, 3).mean(0)
    assert abs(corner[0] - 200) < 25 and corner[1] < 60  # a red photo behind the body
    with pytest.raises(OpenHMRError, match="No .jpg/.png photos"):
        generate(bank_path, 1, tmp_path / "out2", backgrounds=tmp_path / "out2_missing", progress=False)


def test_the_renderer_starts_a_fresh_context_and_draws_the_same(anny_body):
    """OSMesa holds memory per rendered scene until its context goes: the renderer renews its
    context every ``renew_every`` renders, and a renewed context draws the same pixels."""
    from openhmr.data.synth import SynthRenderer

    renderer = SynthRenderer(anny_body, 64, renew_every=2)
    vertices = anny_body(*anny_body.rest_parameters(1)).vertices[0].numpy() + np.array([0.0, 0.0, 3.0])
    K = np.array([[40.0, 0, 32], [0, 40.0, 32], [0, 0, 1]])
    try:
        first = renderer.render_parts(vertices, K)
        contexts = [renderer.renderer]  # kept alive, so a new context cannot take an old id
        for _ in range(4):
            np.testing.assert_array_equal(renderer.render_parts(vertices, K), first)
            if renderer.renderer is not contexts[-1]:
                contexts.append(renderer.renderer)
        assert len(contexts) == 3 and (first > 0).sum() > 50  # renewed twice; the body is drawn
    finally:
        renderer.close()


def test_poses_from_photos_pose_their_share_and_join_the_discriminator_but_not_the_test(tmp_path, anny_body):
    from openhmr.data.prepare import prepare_synthetic

    rng = np.random.default_rng(1)
    mocap = PoseBank(rng.normal(0, 0.1, (9, 30, 3)).astype(np.float32), np.zeros((9, 3), np.float32), np.repeat([0, 1, 2], 3),
                     np.array(["walk", "run", "jump"]), np.arange(9), "anny").save(tmp_path / "mocap.npz")  # fmt: skip
    photos = PoseBank(rng.normal(0, 0.1, (4, 30, 3)).astype(np.float32), np.zeros((4, 3), np.float32), np.zeros(4, np.int64),
                      np.array(["lsp_fits"]), np.arange(4), "anny").save(tmp_path / "photos.npz")  # fmt: skip
    paths = prepare_synthetic(mocap, tmp_path / "work", 40, 6, res=32, progress=False, look="plain", photo_poses=photos,
                              photo_pose_share=0.5)
    with np.load(paths["train"]) as f:
        from_photos = f["clip_names"][f["clip_id"]] == "lsp_fits"
    assert 0.25 < from_photos.mean() < 0.75 and paths["train"].parent.name == "train+photos-0.5"
    with np.load(paths["test"]) as f:
        assert "lsp_fits" not in f["clip_names"][f["clip_id"]] and paths["test"].parent.name == "test"
    discriminator = PoseBank.load(paths["discriminator"])
    assert "lsp_fits" in discriminator.clip_names.tolist() and len(discriminator) == len(PoseBank.load(paths["discriminator"].parent / "discriminator.npz")) + 4


def test_a_clip_is_drawn_in_the_look_asked_for_one_scene_for_every_frame(tmp_path, bank_path, anny_body):
    """`--clip` used to ignore `--look`: a clip was always plain."""
    from PIL import Image

    from openhmr.data.synth import clip_scenes, generate

    bank = PoseBank.load(bank_path)
    for seed in range(4):
        scenes = clip_scenes(np.random.default_rng(seed), bank, anny_body.mean_shape, [0, 1, 2], look="photo")
        assert all(s.photo is not None and s.photo.cut is None and s.photo.companion is None and s.occluder is None for s in scenes)
        assert len({(s.background_seed, s.photo.light_seed, id(s.photo.outfit)) for s in scenes}) == 1
    assert all(s.photo is None for s in clip_scenes(np.random.default_rng(0), bank, anny_body.mean_shape, [0, 1], look="plain"))

    (tmp_path / "photos").mkdir()
    Image.fromarray(np.full((300, 400, 3), [200, 30, 30], np.uint8)).save(tmp_path / "photos" / "red.png")
    for look in ("photo", "plain"):
        generate(bank_path, 3, tmp_path / look, res=64, backgrounds=tmp_path / "photos", progress=False, look=look, clip="a")
    frames = [np.asarray(Image.open(tmp_path / "photo" / "images" / f"{i:07d}.jpg")).astype(int) for i in range(3)]
    assert all(np.abs(f[:6, :6] - frames[0][:6, :6]).max() <= 8 for f in frames)  # one backdrop (JPEG's rounding aside)
    plain = np.asarray(Image.open(tmp_path / "plain" / "images" / "0000000.jpg")).astype(int)
    assert np.abs(frames[0] - plain).mean() > 5  # not the plain look's picture
