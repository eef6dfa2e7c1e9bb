import json

import numpy as np
import pytest
from conftest import SHARED_DATA

from openhmr.body import keypoints as kp
from openhmr.data.formats import read_coco_json, read_spin_npz
from openhmr.errors import OpenHMRError

COCO23 = kp.convention_names("coco23")
SPIN24 = kp.convention_names("spin24")


def write_spin(path, n=3, nan_row=None):
    rng = np.random.default_rng(0)
    part = np.concatenate([rng.uniform(0, 400, (n, 24, 2)), np.ones((n, 24, 1))], axis=-1)
    s = np.concatenate([rng.normal(0, 0.3, (n, 24, 3)), np.ones((n, 24, 1))], axis=-1)
    if nan_row is not None:
        part[nan_row, 5, 0] = np.nan
    np.savez(
        path, imgname=np.array([f"images/im{i}.jpg" for i in range(n)]), center=rng.uniform(100, 300, (n, 2)),
        scale=np.full(n, 1.5), part=part, S=s, pose=np.zeros((n, 72)), shape=np.zeros((n, 10)), has_smpl=np.ones(n),
    )  # fmt: skip
    return part, s


def test_spin_npz_maps_its_joints_by_name(tmp_path):
    part, s = write_spin(tmp_path / "lsp.npz")
    ann = read_spin_npz(tmp_path / "lsp.npz", "coco23")
    assert len(ann) == 3 and ann.keypoints2d.shape == (3, 23, 3) and ann.keypoints3d.shape == (3, 23, 4)
    for name in ("left_hip", "right_wrist", "nose", "left_ear"):
        assert np.allclose(ann.keypoints2d[:, COCO23.index(name)], part[:, SPIN24.index(name)])
    # SPIN has no foot points: invisible, not guessed.
    assert np.all(ann.keypoints2d[:, COCO23.index("left_heel"), 2] == 0)
    assert np.allclose(ann.box_size, 300.0)
    assert ann.image_root == tmp_path and ann.imgname[0] == "images/im0.jpg"
    assert ann.pose.shape == (3, 72) and np.all(ann.has_params == 1) and ann.body_model == "smpl"


def test_non_finite_labels_become_invisible_and_are_counted(tmp_path):
    write_spin(tmp_path / "bad.npz", nan_row=1)
    ann = read_spin_npz(tmp_path / "bad.npz", "lsp14")
    assert ann.keypoints2d[1, 5].tolist() == [0.0, 0.0, 0.0]
    assert ann.problems == {"non-finite 2D keypoints": 1}
    assert np.isfinite(ann.keypoints2d).all()


def test_spin_npz_with_wrong_part_shape_is_a_clear_error(tmp_path):
    np.savez(tmp_path / "x.npz", imgname=np.array(["a"]), center=np.zeros((1, 2)), scale=np.ones(1), part=np.zeros((1, 14, 3)))
    with pytest.raises(OpenHMRError, match=r"expected \(1, 24, 3\) in the spin24 order"):
        read_spin_npz(tmp_path / "x.npz")


def _coco_file(path, people):
    images = [{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480}]
    annotations = []
    for i, (bbox, count, crowd) in enumerate(people):
        k = np.zeros((17, 3))
        k[:count, 0], k[:count, 1], k[:count, 2] = 100 + np.arange(count), 200 + np.arange(count), 2
        annotations.append({"id": i + 1, "image_id": 1, "category_id": 1, "bbox": bbox, "iscrowd": crowd,
                            "num_keypoints": count, "keypoints": k.ravel().tolist(), "area": 1.0})  # fmt: skip
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}))
    return path


def test_coco_json_keeps_labelled_people_and_counts_bad_boxes(tmp_path):
    path = _coco_file(
        tmp_path / "coco.json",
        [([50, 60, 100, 200], 12, 0), ([50, 60, 100, 200], 17, 1), ([10, 10, 50, 50], 0, 0),
         ([5000, 5000, 40, 40], 5, 0), ([300, 100, 80, 160], 3, 0)],
    )  # fmt: skip
    ann = read_coco_json(path, "coco17")
    assert len(ann) == 2  # crowd, unlabelled and off-image people are out
    assert ann.problems == {"boxes outside the image or degenerate": 1}
    assert np.allclose(ann.center[0], [100, 160]) and np.isclose(ann.box_size[0], 240)
    assert ann.keypoints2d[0, :12, 2].tolist() == [1.0] * 12 and ann.keypoints2d[0, 12:, 2].sum() == 0


def test_too_many_bad_boxes_fail_in_one_sentence(tmp_path):
    path = _coco_file(tmp_path / "coco.json", [([5000, 5000, 40, 40], 5, 0), ([-900, 10, 40, 40], 5, 0), ([50, 60, 100, 200], 12, 0)])
    with pytest.raises(OpenHMRError, match="2 of 3 people have boxes outside their image"):
        read_coco_json(path)


@pytest.mark.skipif(not (SHARED_DATA / "images").is_dir(), reason="../shared/data/images is not present")
def test_reads_the_real_coco_annotation():
    ann = read_coco_json(SHARED_DATA / "images" / "coco_000000000785.json", "coco23")
    assert len(ann) == 1 and ann.imgname[0] == "coco_000000000785.jpg"
    assert ann.keypoints2d[0, :17, 2].sum() >= 10
    assert ann.keypoints2d[0, 17:, 2].sum() == 0  # COCO-17 has no feet
