import numpy as np
import pytest
import torch
from PIL import Image

from openhmr.data.dataset import CropDataset
from openhmr.data.formats import read_spin_npz
from openhmr.errors import OpenHMRError


def make_set(tmp_path, n=6, missing=(), corrupt=()):
    (tmp_path / "images").mkdir()
    part = np.zeros((n, 24, 3))
    for i in range(n):
        image = np.zeros((240, 320, 3), np.uint8)
        x, y = 100 + 10 * i, 120
        image[y - 4 : y + 5, x - 4 : x + 5] = [255, 0, 0]  # the left hip, painted red
        part[i, 3] = [x + 0.5, y + 0.5, 1]
        path = tmp_path / "images" / f"{i}.png"
        if i in corrupt:
            path.write_bytes(b"")
        elif i not in missing:
            Image.fromarray(image).save(path)
    np.savez(tmp_path / "set.npz", imgname=np.array([f"images/{i}.png" for i in range(n)]),
             center=np.tile([160.0, 120.0], (n, 1)), scale=np.full(n, 1.0), part=part)  # fmt: skip
    return read_spin_npz(tmp_path / "set.npz", "coco17")


def test_samples_are_crops_with_keypoints_on_their_pixels(tmp_path):
    ds = CropDataset(make_set(tmp_path), res=100)
    sample = ds[2]
    assert sample["image"].shape == (3, 100, 100) and 0 <= float(sample["image"].min()) <= 1
    hip = sample["keypoints2d"][11]  # coco17 left_hip
    x, y = ((hip[:2] + 1) * 50).long().tolist()
    assert hip[2] == 1 and sample["image"][0, y, x] > 0.9 and sample["image"][1, y, x] < 0.1


def test_augmented_samples_keep_keypoints_on_their_pixels(tmp_path):
    ds = CropDataset(make_set(tmp_path), res=100, augment=True, seed=3)
    for i in range(len(ds)):
        sample = ds[i]
        labels = sample["keypoints2d"]
        visible = torch.nonzero(labels[:, 2] > 0)
        if len(visible) == 0:
            continue  # hidden under a synthetic occluder
        (k,) = visible[0]
        x, y = ((labels[k, :2] + 1) * 50).long().tolist()
        if 0 <= x < 100 and 0 <= y < 100:
            assert sample["image"][0, y, x] > 0.6, (i, k)
        assert k in (11, 12)  # left hip, or the right hip's slot after a flip


def test_unreadable_images_are_skipped_and_counted(tmp_path):
    ds = CropDataset(make_set(tmp_path, missing=(1,), corrupt=(4,)), res=64, max_bad_fraction=0.5)
    samples = [ds[i] for i in range(len(ds))]
    assert len(samples) == 6 and len(ds.bad) == 2
    assert any("1.png" in p for p in ds.bad) and any("4.png" in p for p in ds.bad)


def test_too_many_unreadable_images_stop_with_one_sentence(tmp_path):
    ds = CropDataset(make_set(tmp_path, missing=(0, 1, 2, 3, 4)), res=64, max_bad_fraction=0.1)
    with pytest.raises(OpenHMRError, match="images could not be read"):
        for i in range(len(ds)):
            ds[i]


def test_training_seeds_change_every_augmentation_draw(tmp_path):
    """Cached augmented views of two training seeds are different crops; the plain view (no
    draw) and seed 0's own draws are what they always were (its caches stay valid)."""
    from openhmr.train.run import augmentation_seed

    ann = make_set(tmp_path)
    assert augmentation_seed(0, 1) == 1 and augmentation_seed(1, 1) != augmentation_seed(2, 1)

    def view(seed, v):
        return torch.stack([CropDataset(ann, res=64, augment=v > 0, seed=augmentation_seed(seed, v))[i]["image"] for i in range(6)])

    assert torch.equal(view(0, 0), view(1, 0))
    assert not torch.equal(view(0, 1), view(1, 1))
    assert torch.equal(view(1, 1), view(1, 1))  # and still reproducible


def test_every_seed_but_0_renders_an_experiment_of_its_own(tmp_path, monkeypatch):
    """prepare_synthetic: seed 1 gets its own clip split and renders (seed 0 keeps its paths)."""
    from openhmr.data import prepare
    from openhmr.mocap.pose_bank import PoseBank

    rendered = []
    monkeypatch.setattr("openhmr.data.synth.generate", lambda bank, num, out, seed, **_: rendered.append((out, seed)))
    bank = PoseBank(body_pose=np.zeros((6, 30, 3)), global_orient=np.zeros((6, 3)), clip_id=np.arange(6),
                    clip_names=np.array([f"c{i}" for i in range(6)]), frame=np.zeros(6, int), body_model="anny")  # fmt: skip
    bank.save(tmp_path / "bank.npz")
    zero = prepare.prepare_synthetic(tmp_path / "bank.npz", tmp_path / "data", 2, 1, seed=0, look="plain")
    one = prepare.prepare_synthetic(tmp_path / "bank.npz", tmp_path / "data", 2, 1, seed=1, look="plain")
    assert zero["train"] == tmp_path / "data" / "train" / "annotations.npz"
    assert one["train"] == tmp_path / "data" / "seed1" / "train" / "annotations.npz"
    assert [seed for _, seed in rendered] == [0, 1, 2, 3] and len({out for out, _ in rendered}) == 4


def test_turned_people_are_cut_turned_with_their_labels(tmp_path, monkeypatch):
    from openhmr.data import dataset as dataset_module

    ann = make_set(tmp_path)
    turns = np.array([0.0, 90.0, -45.0, 0.0, 30.0, 180.0])
    turned = CropDataset(ann, res=100, turns=turns)
    plain = CropDataset(ann, res=100)
    for i in range(len(ann)):
        torch.testing.assert_close(turned[i]["keypoints2d"], plain.sample_or_none(i, rotation=turns[i])["keypoints2d"])
    hip = turned[1]["keypoints2d"][11]  # turned a quarter: the red hip is still under its label
    x, y = ((hip[:2] + 1) * 50).long().tolist()
    assert turned[1]["image"][0, y, x] > 0.9 and not torch.allclose(hip, plain[1]["keypoints2d"][11])
    # Augmented crops turn by their draw and the person's turn together: the same draws with
    # and without turns put each label at the same distance from the crop's centre, elsewhere.
    augmented = CropDataset(ann, res=100, augment=True, seed=3, turns=turns)
    unturned = CropDataset(ann, res=100, augment=True, seed=3)
    for i in range(len(ann)):
        sample, same_draw = augmented[i], unturned[i]
        both = (sample["keypoints2d"][:, 2] > 0) & (same_draw["keypoints2d"][:, 2] > 0)
        a, b = sample["keypoints2d"][both, :2], same_draw["keypoints2d"][both, :2]
        torch.testing.assert_close(a.norm(dim=-1), b.norm(dim=-1), atol=1e-4, rtol=0)
        if turns[i] % 360 and len(a) and float(b.norm()) > 0.05:
            assert (a - b).norm() > 0.01, i
        seen_points = sample["keypoints2d"][sample["keypoints2d"][:, 2] > 0, :2]  # the hip (either slot after a flip)
        for x, y in ((seen_points + 1) * 50).long().tolist():
            if 0 <= x < 100 and 0 <= y < 100:
                assert sample["image"][0, y, x] > 0.6, i

    # The turns come from the upright detector on each plain crop, in the set's order.
    seen = []

    class FakeTurn:
        def __call__(self, crops):
            seen.append(crops.shape)
            return np.arange(len(crops), dtype=float) * 10

    monkeypatch.setattr("openhmr.detect.upright.UprightTurn", FakeTurn)
    found = dataset_module.upright_turns(ann, res=100, batch_size=4, progress=False)
    np.testing.assert_array_equal(found, [0, 10, 20, 30, 0, 10])
    assert seen == [(4, 100, 100, 3), (2, 100, 100, 3)]
