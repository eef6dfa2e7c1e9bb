"""The ``photo`` look of synthetic images: outfits, light, cuts, a second person, backdrops."""

import numpy as np
import pytest
import torch

from openhmr.data import photo_effects, synth_look


@pytest.fixture(scope="module")
def regions(anny_body):
    return synth_look.BodyRegions(anny_body)


def _outfit(rng, **changes):
    import dataclasses

    return dataclasses.replace(synth_look.sample_outfit(rng, 0.3), **changes)


def test_regions_put_skin_on_hands_shoes_on_feet_and_hair_on_top(regions, anny_body):
    names = list(anny_body.joint_names)
    bone = np.array(names)[anny_body.dominant_joints().numpy()]
    region = regions.region
    assert (region[np.isin(bone, ["LeftHand", "RightHand"])] == synth_look.SKIN).all()
    assert (region[np.isin(bone, ["LeftToeBase", "RightToeBase"])] == synth_look.SHOE).all()
    top = regions.rest[:, 1] < regions.rest[:, 1].min() + 0.03  # the top 3 cm of the body
    assert np.isin(region[top], [synth_look.HAIR, synth_look.CROWN]).all()
    face = (bone == "Head") & (regions.rest[:, 2] < regions.rest[bone == "Head", 2].min() + 0.02)  # the nose's front
    assert (region[face] == synth_look.SKIN).all()


def test_sleeves_and_legs_cover_what_the_outfit_says(regions):
    rng = np.random.default_rng(0)
    region = regions.region
    bare = synth_look.vertex_colours(regions, _outfit(rng, sleeves=0, legs=0, folds=(0.0, np.zeros((6, 4)))))
    covered = synth_look.vertex_colours(regions, _outfit(np.random.default_rng(0), sleeves=2, legs=2, folds=(0.0, np.zeros((6, 4)))))
    skin = synth_look.sample_outfit(np.random.default_rng(0), 0.3).skin
    forearm, shin = region == synth_look.LOWER_SLEEVE, region == synth_look.SHIN
    assert np.allclose(bare[forearm], skin) and np.allclose(bare[shin], skin)
    assert not np.allclose(covered[forearm], skin, atol=0.02) and not np.allclose(covered[shin], skin, atol=0.02)
    # A hat colours the crown only; the face keeps its skin.
    hat = np.array([0.1, 0.9, 0.1])
    capped = synth_look.vertex_colours(regions, _outfit(np.random.default_rng(1), hat=hat))
    assert np.allclose(capped[region == synth_look.CROWN], hat)
    assert not np.allclose(capped[region == synth_look.HAIR][:1], hat)


def test_skin_tones_span_light_to_dark_and_light_has_a_temperature():
    rng = np.random.default_rng(0)
    tones = np.array([synth_look.skin_tone(rng) for _ in range(400)]).mean(1)
    assert tones.min() < 0.3 and tones.max() > 0.8
    warm, daylight, cold = (synth_look.kelvin_to_rgb(k) for k in (2800, 6600, 12000))
    assert warm[0] > warm[2] + 0.4 and np.allclose(daylight, 1.0, atol=0.05) and cold[2] > cold[0]


def test_the_light_follows_the_backdrop():
    dark = synth_look.sample_lighting(np.random.default_rng(3), np.full(3, 0.1))
    bright = synth_look.sample_lighting(np.random.default_rng(3), np.full(3, 0.7))
    assert dark.key[0] < bright.key[0] and dark.ambient.mean() < bright.ambient.mean()
    green = synth_look.sample_lighting(np.random.default_rng(3), np.array([0.2, 0.6, 0.2]))
    assert green.ambient[1] > green.ambient[0]


def test_a_cut_puts_the_hips_on_the_lower_edge(anny_body):
    from openhmr.data.synth import cut_camera
    from openhmr.geometry.camera import weak_to_translation

    out = anny_body(*anny_body.rest_parameters(1))
    keypoints, _ = out.keypoints_as("coco23")
    cam = cut_camera(out.vertices[0], keypoints[0], "hips", torch.tensor([0.8, 0.0, 0.0]))
    translation = weak_to_translation(cam[None], torch.tensor([1e5]), 224)[0]  # far away: weak perspective
    pixels = lambda p: (p[:, :2] + translation[:2]) * 1e5 / (p[:, 2:] + translation[2]) + 112
    hips = pixels(keypoints[0, [11, 12]])[:, 1].mean()
    assert abs(hips - 224) < 1.0 and abs(pixels(out.vertices[0])[:, 1].min() - 0.05 * 224) < 1.0
    ankles = pixels(keypoints[0, [15, 16]])[:, 1]
    assert (ankles > 224).all()  # below the frame: the labels will call them unseen


def test_photo_look_sets_are_labelled_like_plain_ones_and_use_the_backdrops(tmp_path, anny_body):
    from PIL import Image

    from openhmr.cli import main
    from openhmr.mocap.pose_bank import PoseBank

    rng = np.random.default_rng(0)
    bank = PoseBank(rng.normal(0, 0.15, (6, 30, 3)).astype(np.float32), np.zeros((6, 3), np.float32), np.repeat([0, 1], 3),
                    np.array(["a", "b"]), np.arange(6), "anny").save(tmp_path / "bank.npz")
    (tmp_path / "photos").mkdir()
    Image.fromarray(np.full((240, 320, 3), [200, 30, 30], np.uint8)).save(tmp_path / "photos" / "red.jpg")
    args = ["synth", "--poses", str(bank), "--num", "12", "--out", str(tmp_path / "set"), "--res", "96",
            "--backgrounds", str(tmp_path / "photos"), "--grid", str(tmp_path / "grid.png")]
    assert main(args) == 0
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape == (2 * 96, 8 * 96, 3) and not grid[96:, 4 * 96 :].any()  # 12 pictures, the rest of row 2 black
    with np.load(tmp_path / "set" / "annotations.npz") as f:
        part, S, K = f["part"], f["S"], f["cam_K"]
    projected = np.einsum("nij,nkj->nki", K, S[..., :3])
    assert np.allclose(projected[..., :2] / projected[..., 2:], part[..., :2], atol=1e-2)
    corners = [np.asarray(Image.open(tmp_path / "set" / "images" / f"{i:07d}.jpg"))[:5, :5].reshape(-1, 3).mean(0) for i in range(12)]
    red = [c[0] > c[1] + 60 and c[0] > c[2] + 60 for c in corners]
    assert sum(red) >= 8  # a few are procedural or covered, most show the red photo
    assert np.std([c[0] for c, r in zip(corners, red) if r]) > 3  # jittered, not pasted
    masks = [np.asarray(Image.open(tmp_path / "set" / "images" / f"{i:07d}.mask.png")) for i in range(12)]
    assert all((m > 0).sum() > 30 for m in masks)


@pytest.mark.parametrize("backend", ["moderngl", "pyrender"])
def test_a_person_in_front_hides_keypoints_and_mask(tmp_path, anny_body, backend):
    """A second body straight in front of the labelled one: its keypoints behind it are unseen
    and the mask keeps only what shows (moderngl draws it in the image's own pass)."""
    import dataclasses

    from openhmr.data import synth
    from openhmr.mocap.pose_bank import PoseBank

    bank = PoseBank(np.zeros((1, 30, 3), np.float32), np.zeros((1, 3), np.float32), np.zeros(1, np.int64), np.array(["a"]),
                    np.arange(1), "anny")
    rng = np.random.default_rng(0)
    shape = torch.full((6,), 0.5)
    scene = synth.sample_photo_scene(rng, bank, shape, lambda r: shape)
    front = synth.Companion(0, torch.zeros(3), shape, np.array([0.0, 0.0, -0.6]), scene.photo.outfit)
    alone = dataclasses.replace(scene, global_orient=torch.zeros(3), cam=torch.tensor([0.8, 0.0, 0.0]), focal=3000.0, occluder=None,
                                photo=dataclasses.replace(scene.photo, cut=None, companion=None))
    hidden = dataclasses.replace(alone, photo=dataclasses.replace(alone.photo, companion=front))
    renderer = synth.SynthRenderer(anny_body, 96, backend=backend)
    try:
        seen = {}
        for name, s in (("alone", alone), ("hidden", hidden)):
            vertices, kp_cam, _, pixels, K, others = synth.scenes_labels(anny_body, bank, [s], 96)[0]
            seen[name], same_pass = synth._render_image(renderer, vertices, others, K, s, pixels, kp_cam, 96, [],
                                                        tmp_path / f"{name}.jpg", tmp_path / f"{name}.vis.npy")
            seen[name + "_mask"] = synth.visible_parts(renderer, vertices, others, K)
            if backend == "moderngl":
                np.testing.assert_array_equal(same_pass, seen[name + "_mask"])
            else:
                assert same_pass is None
    finally:
        renderer.close()
    assert seen["alone"].sum() >= 15 and seen["hidden"].sum() <= 3
    assert (seen["alone_mask"] > 0).sum() > 200 and (seen["hidden_mask"] > 0).sum() < 0.1 * (seen["alone_mask"] > 0).sum()


def test_effects_blur_and_noise_only_when_drawn():
    rng = np.random.default_rng(0)
    body = np.full((32, 32, 3), 200, np.uint8)
    covered = np.zeros((32, 32), bool)
    covered[8:24, 8:24] = True
    backdrop = np.zeros((32, 32, 3), np.uint8)
    clean = photo_effects.Effects(0.0, None, 0.0, 0.0, 90)
    sharp = photo_effects.composite(body, covered, backdrop, clean, rng)
    assert sharp[16, 16, 0] == 200 and sharp[0, 0, 0] == 0 and 0 < sharp[16, 8, 0] < 200  # a soft edge only
    shaken = photo_effects.composite(body, covered, backdrop, photo_effects.Effects(0.0, (7, 0.0), 0.0, 0.0, 90), rng)
    assert shaken[16, 5, 0] > 20 and shaken[5, 16, 0] == 0  # smeared along x, not along y
    noisy = photo_effects.composite(body, covered, backdrop, photo_effects.Effects(0.0, None, 0.0, 5.0, 90), rng)
    assert 2.0 < np.std(noisy[16:20, 12:20].astype(float)) < 8.0


def test_moderngl_draws_the_same_body_as_pyrender(anny_body):
    """The fast renderer's part labels and depth agree with pyrender's on the same body and
    camera, and its lit picture is neither blank nor flat."""
    from openhmr.data.synth import SynthRenderer
    from openhmr.data.synth_look import Lighting

    out = anny_body(torch.tensor([[0.2, 0.8, 0.1]]), torch.randn(1, 30, 3, generator=torch.Generator().manual_seed(0)) * 0.3)
    vertices = out.vertices[0].numpy() + np.array([0.05, 0.1, 4.0])
    K = np.array([[150.0, 0, 60], [0, 150.0, 64], [0, 0, 1]])  # not centred: catches a flipped axis
    parts, depths, pictures = {}, {}, {}
    light = Lighting(np.full(3, 0.3), (3.0, np.array([0.3, 0.5, 1.0]), np.ones(3)), (1.0, np.array([-1.0, 0.0, 1.0]), np.ones(3)))
    for backend in ("pyrender", "moderngl"):
        renderer = SynthRenderer(anny_body, 128, backend=backend)
        try:
            parts[backend], depths[backend] = renderer.render_parts_and_depth(vertices, K)
            pictures[backend] = renderer.render_photo([(vertices, np.full((len(vertices), 3), 0.6))], K, light)[0]
        finally:
            renderer.close()
    body = parts["pyrender"] > 0
    assert body.sum() > 500
    assert (parts["moderngl"] == parts["pyrender"]).mean() > 0.995
    both = body & (parts["moderngl"] > 0)
    assert np.abs(depths["moderngl"][both] - depths["pyrender"][both]).max() < 0.01
    shade = pictures["moderngl"][body].astype(float).mean(1)
    assert shade.std() > 5 and abs(shade.mean() - pictures["pyrender"][body].astype(float).mean()) < 30


def test_workers_render_the_set_one_process_would(tmp_path):
    """`--workers 2`: two processes render alternate images; the annotations gathered after
    them match a one-process run, and so do the pictures."""
    from PIL import Image

    from openhmr.data.synth import generate
    from openhmr.mocap.pose_bank import PoseBank

    rng = np.random.default_rng(0)
    bank = PoseBank(rng.normal(0, 0.15, (6, 30, 3)).astype(np.float32), np.zeros((6, 3), np.float32), np.zeros(6, np.int64),
                    np.array(["a"]), np.arange(6), "anny").save(tmp_path / "bank.npz")
    sets = {}
    for workers in (1, 2):
        path = generate(bank, 5, tmp_path / f"w{workers}", res=64, progress=False, workers=workers)
        with np.load(path) as f:
            sets[workers] = {k: f[k] for k in ("part", "S", "pose", "shape")}
    for key in sets[1]:
        np.testing.assert_allclose(sets[2][key], sets[1][key], atol=1e-3)
    for i in range(5):
        one, two = (np.asarray(Image.open(tmp_path / f"w{w}" / "images" / f"{i:07d}.jpg")).astype(float) for w in (1, 2))
        assert np.abs(one - two).mean() < 1.0
    # A worker renders its share only (images and masks) and writes no annotations.
    generate(bank, 5, tmp_path / "part", res=64, progress=False, _part=(1, 2))
    assert sorted(p.name for p in (tmp_path / "part" / "images").glob("*.jpg")) == ["0000001.jpg", "0000003.jpg"]
    assert len(list((tmp_path / "part" / "images").glob("*.mask.png"))) == 2 and not (tmp_path / "part" / "annotations.npz").exists()
