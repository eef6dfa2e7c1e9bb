from pathlib import Path

import numpy as np
import pytest
import torch

from openhmr.body import keypoints as kp
from openhmr.data.augment import (
    Augmentation,
    augment_3d,
    augment_keypoints,
    jitter_colour,
)
from openhmr.geometry.camera import intrinsics, perspective_project, weak_to_translation
from openhmr.geometry.crop import transform_points, warp_image
from openhmr.render import render_mesh

FLIP = kp.flip_permutation("coco17")


def random_augmentations(n, seed=0):
    rng = np.random.default_rng(seed)
    return [Augmentation.sample(rng, rotation_prob=1.0) for _ in range(n)]


def test_flip_twice_is_the_identity():
    rng = np.random.default_rng(1)
    points = np.concatenate([rng.uniform(0, 1, (17, 2)) * 2 - 1, np.ones((17, 1))], axis=1)
    flip_in_crop = Augmentation(flip=True).crop_matrix(np.array([112.0, 112.0]), 224, 224)
    crop_px = (points[:, :2] + 1) * 112
    once = augment_keypoints(np.c_[crop_px, points[:, 2]], flip_in_crop, 224, FLIP)
    twice = augment_keypoints(np.c_[(once[:, :2] + 1) * 112, once[:, 2]], flip_in_crop, 224, FLIP)
    assert np.allclose(twice, points)
    joints = torch.randn(17, 4)
    go = torch.tensor([0.3, -0.8, 0.2])
    j1, g1 = augment_3d(joints, go, Augmentation(flip=True), FLIP)
    j2, g2 = augment_3d(j1, g1, Augmentation(flip=True), FLIP)
    assert torch.allclose(j2, joints, atol=1e-6) and torch.allclose(g2, go, atol=1e-6)


@pytest.mark.parametrize("aug", random_augmentations(4))
def test_keypoints_stay_on_the_same_pixels_after_crop_and_rotation(aug):
    # Paint a distinct colour at each keypoint, crop, and read the colours back at the
    # keypoints' new places.
    rng = np.random.default_rng(2)
    image = np.zeros((480, 640, 3), np.uint8)
    grid = np.stack(np.meshgrid(np.arange(4) * 50.0, np.arange(3) * 50.0), -1).reshape(-1, 2)
    points = np.array([245.0, 165.0]) + grid + rng.uniform(-10, 10, (12, 2))  # squares never touch
    colours = rng.integers(60, 255, (12, 3))
    for (x, y), c in zip(points, colours):
        image[int(y) - 6 : int(y) + 7, int(x) - 6 : int(x) + 7] = c
    centre = points.mean(0)
    matrix = aug.crop_matrix(centre, 300.0, 224)
    crop = warp_image(image, matrix, 224)
    moved = transform_points(np.floor(points) + 0.5, matrix)
    for (x, y), c in zip(moved, colours):
        if 2 <= x < 222 and 2 <= y < 222:
            assert np.abs(crop[int(y), int(x)].astype(int) - c).max() <= 2


def test_crop_rotation_matches_the_camera_roll_of_3d_joints():
    rng = np.random.default_rng(3)
    joints = np.c_[rng.normal(0, 0.4, (17, 2)), np.full(17, 10.0)]  # one depth: exact projection
    K = intrinsics(torch.tensor([1000.0]), torch.tensor([[320.0, 240.0]]))
    pixels = perspective_project(torch.tensor(joints)[None].float(), torch.zeros(1, 3), K)[0].numpy()
    for aug in random_augmentations(3, seed=4):
        matrix = Augmentation(rotation=aug.rotation, flip=aug.flip).crop_matrix(np.array([320.0, 240.0]), 200.0, 224)
        crop = augment_keypoints(np.c_[pixels, np.ones(17)], matrix, 224, FLIP if aug.flip else None)
        rolled, _ = augment_3d(torch.tensor(joints).float(), None, Augmentation(rotation=aug.rotation, flip=aug.flip), FLIP)
        # The crop spans 200 px = 200 / 1000 * 10 m = 2 m at the joints' depth.
        assert np.allclose(crop[:, :2], rolled[:, :2].numpy(), atol=1e-4)


def test_mirrored_pose_renders_as_the_mirrored_image(anny_body):
    g = torch.Generator().manual_seed(5)
    go = torch.tensor([[0.2, 0.9, -0.1]])
    bp = torch.randn(1, anny_body.num_body_joints, 3, generator=g) * 0.3
    cam = torch.tensor([[0.9, 0.1, -0.05]])
    mgo, mbp = anny_body.mirror_pose(go, bp)
    mcam = cam * torch.tensor([1.0, -1.0, 1.0])
    K = intrinsics(torch.tensor(5000.0), torch.tensor([64.0, 64.0])).numpy()

    def silhouette(g_o, b_p, c):
        with torch.no_grad():
            v = anny_body(g_o, b_p).vertices[0]
        t = weak_to_translation(c, torch.tensor([5000.0]), 128)[0]
        return (render_mesh((v + t).numpy(), anny_body.faces.numpy(), K, (128, 128)) < 250).any(-1)

    original, mirrored = silhouette(go, bp, cam), silhouette(mgo, mbp, mcam)
    flipped = original[:, ::-1]
    iou = (flipped & mirrored).sum() / (flipped | mirrored).sum()
    assert iou > 0.95


def test_colour_jitter_scales_channels_and_clips():
    image = np.full((4, 4, 3), 200, np.uint8)
    out = jitter_colour(image, Augmentation(colour=(0.5, 1.0, 1.5)))
    assert out[0, 0].tolist() == [100, 200, 255]


def test_occluder_hides_the_keypoints_under_it():
    from openhmr.data.augment import occlude

    image = np.zeros((100, 100, 3), np.uint8)
    image[:50] = 200
    points = np.array([[-0.5, -0.5, 1.0], [0.5, 0.5, 1.0]])  # pixels (25, 25) and (75, 75)
    out, vis = occlude(image, points, Augmentation(occluder=(0.1, 0.1, 0.4, 0.4)))
    assert vis[:, 2].tolist() == [0.0, 1.0]
    assert out[25, 25].tolist() == [100, 100, 100] and out[75, 75].tolist() == [0, 0, 0]


def test_truncated_crops_end_like_a_photo_and_keep_every_label():
    """A whole-body person cut at the hips: the crop frames what is left (a detector's box),
    black below the cut, and the legs' labels stay, running out of the frame."""
    from openhmr.body import keypoints as kp
    from openhmr.data.dataset import CropDataset
    from openhmr.data.formats import Annotations
    from openhmr.data.truncate import cut_row

    names = kp.convention_names("coco17")
    y = {"nose": 40, "left_eye": 38, "right_eye": 38, "left_ear": 40, "right_ear": 40, "left_shoulder": 70,
         "right_shoulder": 70, "left_elbow": 110, "right_elbow": 110, "left_wrist": 150, "right_wrist": 150,
         "left_hip": 160, "right_hip": 160, "left_knee": 230, "right_knee": 230, "left_ankle": 300, "right_ankle": 300}  # fmt: skip
    points = np.array([[100 + (10 if n.startswith("left") else -10), y[n], 1.0] for n in names])
    image = np.full((340, 200, 3), 200, np.uint8)
    ann = Annotations(imgname=np.array(["x.png"]), center=np.array([[100.0, 170.0]]), box_size=np.array([340.0]),
                      keypoints2d=points[None], keypoints3d=None, convention="coco17", image_root=Path("."))  # fmt: skip
    assert cut_row(points, "coco17", "hips") == 160
    plain = CropDataset(ann, res=64, augment=True, seed=0)
    cut = CropDataset(ann, res=64, augment=True, seed=0, truncation=1.0)
    for seed in range(12):  # some draw cuts at the hips: check every draw's invariants
        cut.seed = plain.seed = seed
        a, b = plain._sample(0, image), cut._sample(0, image)
        k = b["keypoints2d"].numpy()
        if Augmentation.sample(np.random.default_rng([seed, 0, 0])).occluder is None:  # the occluder hides points
            assert (k[:, 2] == 1).all()  # no label lost
        spread = lambda s: np.ptp(s["keypoints2d"].numpy()[:, 1])
        assert spread(b) > spread(a) * 1.15  # the box is smaller than the whole person's
    ankles = k[[names.index("left_ankle"), names.index("right_ankle")], 1]
    assert (ankles > 1.0).all()  # the feet lie below the frame


def test_truncation_blanks_below_the_cut():
    from openhmr.data.truncate import blank_below, truncated_box

    image = np.full((10, 4, 3), 255, np.uint8)
    out = blank_below(image, 6.2)
    assert out[:7].min() == 255 and out[7:].max() == 0
    points = np.array([[1.0, 1.0, 1], [3.0, 2.0, 1], [2.0, 5.0, 1], [2.0, 9.0, 1], [0.0, 8.0, 0]])
    centre, size = truncated_box(points, 6.0, 1.0)
    np.testing.assert_allclose(centre, [2.0, 3.5])  # x from the points above, y down to the cut
    assert size == 5.0
