"""Silhouettes: the soft rasteriser against pyrender, its gradients, masks from `synth` and
for older sets, masks in training crops, and the silhouette loss."""

import numpy as np
import pytest
import torch

from openhmr.data.masks import mask_path_beside, read_mask
from openhmr.silhouette.losses import (
    MASK_RES,
    crop_silhouette,
    silhouette_loss,
    soft_iou_loss,
)
from openhmr.silhouette.soft import SoftSilhouette

SCALE = 0.85  # the training framing: the body spans about 85 % of the crop


def hard_mask(vertices: np.ndarray, faces: np.ndarray, res: int, scale: float) -> np.ndarray:
    """pyrender's mask of a weak-perspective view: a far camera with the same scale."""
    from openhmr.render import render_mesh

    focal = 1e4
    far = vertices + [0.0, 0.0, focal / (scale * res / 2)]
    K = np.array([[focal, 0, res / 2], [0, focal, res / 2], [0, 0, 1.0]])
    return render_mesh(far, faces, K, (res, res), np.zeros((res, res, 3), np.uint8), color=(1, 1, 1, 1)).max(-1) > 0


def posed(anny_body, count=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = anny_body(torch.randn(count, 3, generator=g) * 0.3, torch.randn(count, 30, 3, generator=g) * 0.3,
                    anny_body.mean_shape.expand(count, -1))
    return out.vertices


def test_the_soft_silhouette_becomes_pyrenders_mask_as_softness_goes_to_zero(anny_body):
    vertices = posed(anny_body)
    renderer = SoftSilhouette(anny_body.faces, MASK_RES)
    camera = torch.tensor([[SCALE, 0.0, 0.0]]).expand(len(vertices), 3)
    soft = crop_silhouette(renderer, vertices, camera)
    hardened = renderer.forward(renderer_points(vertices), softness=0.01) > 0.5
    ious = []
    for i, v in enumerate(vertices.numpy()):
        hard = hard_mask(v, anny_body.faces.numpy(), MASK_RES, SCALE)
        mine = hardened[i].numpy()
        ious.append((hard & mine).sum() / (hard | mine).sum())
    assert np.mean(ious) >= 0.95 and min(ious) > 0.9
    assert ((soft > 0.02) & (soft < 0.98)).float().mean() < 0.05  # soft only near the edge


def renderer_points(vertices):
    return (SCALE * vertices[..., :2] + 1) * MASK_RES / 2


def test_the_silhouette_loss_pulls_a_displaced_body_onto_its_mask(anny_body):
    vertices = posed(anny_body, count=1)
    renderer = SoftSilhouette(anny_body.faces, MASK_RES)
    target = crop_silhouette(renderer, vertices, torch.tensor([[SCALE, 0.0, 0.0]])).detach()
    camera = torch.tensor([[SCALE * 0.9, 0.1, -0.05]], requires_grad=True)  # smaller and off by 3 px
    optimiser = torch.optim.Adam([camera], lr=0.01)
    start = soft_iou_loss(crop_silhouette(renderer, vertices, camera), target).item()
    for _ in range(60):
        optimiser.zero_grad()
        loss = silhouette_loss(renderer, vertices, camera, target, torch.ones(1))
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.3 * start
    assert torch.allclose(camera.detach(), torch.tensor([[SCALE, 0.0, 0.0]]), atol=0.02)
    assert silhouette_loss(renderer, vertices, camera, target, torch.zeros(1)).item() == 0.0  # no mask, no term


@pytest.fixture(scope="module")
def masked_set(tmp_path_factory, anny_body):
    from openhmr.data.synth import generate
    from openhmr.mocap.pose_bank import PoseBank

    frames = 6
    bank = PoseBank(np.zeros((frames, 30, 3), np.float32), np.zeros((frames, 3), np.float32), np.zeros(frames, np.int64),
                    np.array(["rest"]), np.arange(frames), "anny")
    folder = tmp_path_factory.mktemp("masked")
    return generate(bank.save(folder / "bank.npz"), frames, folder / "set", seed=3, res=128, progress=False, look="plain")


def test_synth_writes_part_masks_that_match_the_image(masked_set):
    from PIL import Image

    data = np.load(masked_set)
    parts = []
    for name in data["imgname"]:
        labels = read_mask(mask_path_beside(masked_set.parent / str(name)))
        assert labels is not None and set(np.unique(labels)) <= {0, 1, 2, 3, 4}
        parts.append(set(np.unique(labels)) - {0})
    assert all(len(p) >= 3 for p in parts) and {1, 2, 3, 4} in parts  # head, torso, arms, legs drawn
    assert list(data["maskname"]) == [str(mask_path_beside(n)) for n in data["imgname"]]
    # The person's keypoints that are seen lie on the mask: the nose, the eyes and the toes sit on
    # the silhouette's edge, so within a pixel of it (a mask mirrored left-right holds 0.31).
    on_mask = []
    for name, part in zip(data["imgname"], data["part"]):
        labels = read_mask(mask_path_beside(masked_set.parent / str(name)))
        assert labels.shape == np.asarray(Image.open(masked_set.parent / str(name))).shape[:2]
        padded = np.pad(labels > 0, 1)
        near = np.max([padded[1 + dy : padded.shape[0] - 1 + dy, 1 + dx : padded.shape[1] - 1 + dx]
                       for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)  # fmt: skip
        seen = part[part[:, 2] > 0][:, :2].round().astype(int)
        inside = (seen >= 0).all(1) & (seen < labels.shape[0]).all(1)
        on_mask.extend(near[seen[inside, 1], seen[inside, 0]])
    assert len(on_mask) > 60 and np.mean(on_mask) > 0.95


def test_older_sets_get_the_same_masks_rerendered(masked_set):
    from openhmr.data.synthetic_masks import add_synthetic_masks

    data = np.load(masked_set)
    paths = [mask_path_beside(masked_set.parent / str(n)) for n in data["imgname"]]
    before = [read_mask(p) for p in paths]
    for p in paths[:3]:
        p.unlink()
    assert add_synthetic_masks(masked_set, progress=False) == (3, 3)
    after = [read_mask(p) for p in paths]
    for old, new in zip(before, after):
        agree = (old > 0) == (new > 0)
        assert agree.mean() > 0.99  # the same body; only an occluding box (not in the labels) may differ


def test_training_crops_carry_the_mask_cut_like_the_image(masked_set, anny_body):
    from openhmr.data.dataset import CropDataset
    from openhmr.data.formats import read_spin_npz
    from openhmr.data.mixing import collate

    annotations = read_spin_npz(masked_set)
    plain = CropDataset(annotations, res=224, masks=True)[0]
    assert plain["mask"].shape == (MASK_RES, MASK_RES) and plain["mask_weight"] == 1.0
    # Without augmentation the crop is the whole render: the mask is the body's projection.
    data = np.load(masked_set)
    pose = torch.from_numpy(data["pose"][:1]).view(1, -1, 3)
    out = anny_body(pose[:, 0], pose[:, 1:], torch.from_numpy(data["shape"][:1]))
    vertices = out.vertices[0] + torch.from_numpy(data["joints"][0, 0])
    pixels = vertices @ torch.from_numpy(data["cam_K"][0]).float().T
    pixels = pixels[:, :2] / pixels[:, 2:] * (MASK_RES / 128)
    projected = SoftSilhouette(anny_body.faces, MASK_RES)(pixels[None])[0] > 0.5
    served = plain["mask"] > 127
    assert (projected & served).sum() / (projected | served).sum() > 0.85
    flipped = CropDataset(annotations, res=224, masks=True, augment=True, seed=1)
    batch = collate([flipped[i] for i in range(4)] + [{"image": torch.zeros(3, 224, 224), "keypoints2d": torch.zeros(23, 3)}], 23)
    assert batch["mask"].shape == (5, MASK_RES, MASK_RES) and batch["mask_weight"].tolist()[-1] == 0.0


def test_fitting_with_a_mask_matches_girth_that_keypoints_cannot_see(anny_body):
    from openhmr.body import keypoints as kp
    from openhmr.fit import BodyParams, FitSettings, Objective, Targets, fit
    from openhmr.geometry.camera import weak_perspective_project

    rotmats = torch.eye(3).expand(1, anny_body.num_joints, 3, 3).clone()
    camera = torch.tensor([[SCALE, 0.0, 0.0]])
    heavy = anny_body.mean_shape.clone()[None]
    heavy[0, 3] = 0.95  # weight
    thin = heavy.clone()
    thin[0, 3] = 0.2
    start = BodyParams(camera, rotmats, thin)
    out = anny_body(rotmats[:, 0], rotmats[:, 1:], heavy)
    points, present = kp.convert(out.keypoints, anny_body.keypoint_names, "coco17")
    renderer = SoftSilhouette(anny_body.faces, MASK_RES)
    mask = (crop_silhouette(renderer, out.vertices, camera) > 0.5).float()
    targets = Targets(weak_perspective_project(points, camera), present.float()[None], kp.convention_names("coco17"),
                      mask, torch.ones(1))
    # A shape prior (a fifth of the default) holds the shape where the keypoints' sub-pixel
    # evidence of girth (0.4 px at most here) is all there is: an exact optimiser finds even
    # that on noiseless targets, which real keypoints never are.
    plain = {"discriminator": 0.0, "gmm": 0.0, "bend": 0.0, "shape": 0.01, "regression": 0.0}
    with_mask = Objective(anny_body, targets, start, FitSettings(**plain, silhouette=1.0, silhouette_stage="all"))
    without = Objective(anny_body, targets, start, FitSettings(**plain, silhouette=0.0))
    iou_start = with_mask.mask_iou(start).item()
    kept = fit(with_mask)
    fitted_iou = with_mask.mask_iou(kept.params).item()
    # Measured with LM: 0.943 -> 0.972-0.989 (the last digits follow the thread count).
    assert kept.accepted.all() and fitted_iou > iou_start + 0.02
    assert (kept.error_after < kept.error_before + 1.0).all()  # the keypoints stay put
    # Keypoints alone barely see the girth: the fit without the mask stays further from it.
    keypoints_only = fit(without).fitted
    assert with_mask.mask_iou(keypoints_only).item() < fitted_iou - 0.02
    # The shape stage: the pose comes from the keypoints alone, then only shape and camera
    # move towards the mask.
    staged = fit(Objective(anny_body, targets, start, FitSettings(**plain, silhouette=1.0, silhouette_stage="shape"))).fitted
    # Measured +0.003 to +0.009 with LM (the keypoint stage here bends the pose towards the
    # girth's sub-pixel trace, which leaves the mask little to gain); a broken term gains 0.
    assert with_mask.mask_iou(staged).item() > with_mask.mask_iou(keypoints_only).item() + 0.001
    assert torch.allclose(staged.rotmats, keypoints_only.rotmats, atol=1e-5)


def test_openhmr_masks_caches_mediapipe_masks_for_a_real_set_and_training_finds_them(masked_set, tmp_path, capsys):
    from openhmr.cli import main
    from openhmr.data.dataset import CropDataset
    from openhmr.data.formats import read_spin_npz
    from openhmr.data.mask_cache import MaskCache

    data = np.load(masked_set)
    photos = masked_set.parent / "photos.npz"  # the renders as a 2D-labelled set: no body parameters
    np.savez(photos, **{k: data[k] for k in ("imgname", "center", "scale", "part", "keypoint_convention")})
    work = tmp_path / "work"
    assert main(["masks", str(photos), "--work-dir", str(work), "--quiet"]) == 0
    assert "people got a MediaPipe mask" in capsys.readouterr().out
    cache = MaskCache.find(work, str(photos), len(data["imgname"]))
    assert cache is not None and (cache.confidence > 0).sum() >= 4
    served = CropDataset(read_spin_npz(photos), masks=cache)
    rendered = CropDataset(read_spin_npz(masked_set), masks=True)
    for i in np.flatnonzero(cache.confidence > 0)[:3]:
        a, b = served[int(i)]["mask"] > 127, rendered[int(i)]["mask"] > 127
        assert served[int(i)]["mask_weight"] > 0.5 and (a & b).sum() / (a | b).sum() > 0.6
