"""LSP / LSP-extended readers, the source naming, and PCK on real photos (`--protocol lsp`)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from openhmr.body import keypoints as kp
from openhmr.data.sources import parse_source, read_annotations
from openhmr.errors import OpenHMRError

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def write_lsp(folder: Path, points: np.ndarray, extended: bool, size=(120, 90)) -> Path:
    """points (N, 14, 3) pixels + visibility -> an LSP (flag = occluded, (3, 14, N)) or
    LSP-extended (flag = visible, (14, 3, N)) folder with grey images."""
    from scipy.io import savemat

    (folder / "images").mkdir(parents=True)
    if extended:
        joints = points.transpose(1, 2, 0)
    else:
        flipped = points.copy()
        flipped[..., 2] = 1 - flipped[..., 2]
        joints = flipped.transpose(2, 1, 0)
    savemat(folder / "joints.mat", {"joints": joints})
    digits = 5 if extended else 4
    for i in range(len(points)):
        Image.new("RGB", size, (90, 90, 90)).save(folder / "images" / f"im{i + 1:0{digits}d}.jpg")
    return folder


def people(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = np.concatenate([rng.uniform(20, 80, (n, 14, 2)), np.ones((n, 14, 1))], axis=2)
    points[:, 0, 2] = 0  # right ankle unseen ...
    points[:, 0, :2] = (0, -26)  # ... holding nonsense, as LSP-extended does
    return points


@pytest.mark.parametrize("extended", [False, True])
def test_both_layouts_read_alike_with_visibility_the_right_way_round(tmp_path, extended):
    points = people(3)
    ann = read_annotations(str(write_lsp(tmp_path / "set", points, extended)), "lsp14")
    assert len(ann) == 3 and ann.convention == "lsp14"
    np.testing.assert_allclose(ann.keypoints2d[:, 1:], points[:, 1:])
    assert (ann.keypoints2d[:, 0, 2] == 0).all()
    # The unseen joint's nonsense coordinates do not stretch the box.
    seen = points[:, 1:, :2]
    np.testing.assert_allclose(ann.person_size, (seen.max(1) - seen.min(1)).max(1))
    np.testing.assert_allclose(ann.center, (seen.max(1) + seen.min(1)) / 2)
    assert ann.imgname[0] == ("images/im00001.jpg" if extended else "images/im0001.jpg")


def test_lsp_maps_onto_the_model_convention_by_name(tmp_path):
    points = people(2)
    ann = read_annotations(str(write_lsp(tmp_path / "lsp", points, False)), "coco23")
    coco = kp.convention_names("coco23")
    lsp = kp.convention_names("lsp14")
    np.testing.assert_allclose(ann.keypoints2d[:, coco.index("left_wrist")], points[:, lsp.index("left_wrist")])
    assert (ann.keypoints2d[:, coco.index("nose"), 2] == 0).all()  # LSP has no nose: unlabelled


def test_lsp_splits_follow_the_usual_halves(tmp_path):
    folder = write_lsp(tmp_path / "lsp", people(2000), False, size=(8, 8))
    train, test = (read_annotations(f"{folder}:{s}", "lsp14") for s in ("train", "test"))
    assert (len(train), len(test)) == (1000, 1000)
    assert (train.imgname[-1], test.imgname[0]) == ("images/im1000.jpg", "images/im1001.jpg")
    assert parse_source("a/b:test") == (Path("a/b"), "test") and parse_source("c.json") == (Path("c.json"), "all")
    with pytest.raises(OpenHMRError, match="does not exist"):
        read_annotations(str(tmp_path / "nope.json"))
    with pytest.raises(OpenHMRError, match="LSP folders only"):
        read_annotations(f"{tmp_path / 'x.npz'}:train")


class CentreHMR(torch.nn.Module):
    """Predicts every keypoint at the crop centre."""

    keypoint_convention = "coco23"
    crop_margin = 1.3
    upright = False

    def reads_upright(self, asked=None):
        return bool(asked)

    def forward(self, images, decode="final"):
        class P:
            keypoints2d = torch.zeros(len(images), 23, 2)

        return [P()]


def test_pck_counts_pixels_in_units_of_the_person_box(tmp_path):
    from openhmr.eval.evaluate import evaluate_2d, read_eval_set

    points = people(4, seed=1)
    ann = read_eval_set(str(write_lsp(tmp_path / "lsp", points, False)), "lsp")
    result = evaluate_2d(CentreHMR(), ann, "lsp", progress=False)
    names = kp.convention_names("lsp14")
    shared = [i for i, n in enumerate(names) if n in kp.convention_names("coco23")]
    gt = ann.keypoints2d[:, shared]
    distance = np.linalg.norm(gt[..., :2] - ann.center[:, None], axis=-1) / ann.person_size[:, None]
    seen = gt[..., 2] > 0
    assert result["num_joints"] == int(seen.sum()) == 4 * 11  # 12 shared joints, the ankle unseen
    assert result["pck10"] == pytest.approx(float((distance[seen] < 0.1).mean()), abs=1e-4)
    assert result["pck05"] <= result["pck10"] and "head_top" not in result["per_joint_pck05"]


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real is absent (real LSP / COCO files)")
def test_the_real_files_read_as_documented():
    lsp_test = read_annotations(f"{REAL / 'lsp'}:test", "lsp14")
    lspet = read_annotations(str(REAL / "lspet"), "lsp14")
    coco = read_annotations(str(REAL / "coco-mini" / "person_keypoints_val2017.json"), "coco17")
    assert (len(lsp_test), len(lspet)) == (1000, 10000) and len(coco) > 50
    for ann in (lsp_test, lspet):
        assert (ann.keypoints2d[..., 2] > 0).mean() > 0.8  # mostly visible: the flag is the right way round
    for ann in (lsp_test, lspet, coco):
        assert np.median(ann.person_size) > 50
    assert (ann.image_root / ann.imgname[0]).is_file()
