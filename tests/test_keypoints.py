import pytest
import torch

from openhmr.body import keypoints as kp


@pytest.mark.parametrize("name", sorted(kp.CONVENTIONS))
def test_flip_permutation_swaps_sides_and_is_an_involution(name):
    names = kp.convention_names(name)
    perm = kp.flip_permutation(name)
    assert sorted(perm) == list(range(len(names)))
    assert [perm[p] for p in perm] == list(range(len(names)))
    for i, p in enumerate(perm):
        assert names[p] == kp.mirror_name(names[i])


def test_coco17_flip_matches_the_standard_table():
    assert kp.flip_permutation("coco17") == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def test_convention_sizes():
    sizes = {name: len(names) for name, names in kp.CONVENTIONS.items()}
    assert sizes == {"coco17": 17, "coco23": 23, "lsp14": 14, "hmr19": 19, "h36m17": 17, "smpl24": 24, "spin24": 24,
                     "mediapipe33": 33, "openpose25": 25, "openpose18": 18}
    assert kp.CONVENTIONS["hmr19"][:14] == kp.CONVENTIONS["lsp14"]
    # OpenPose's COCO-18 is BODY_25 without the mid-hip and the six foot points.
    assert set(kp.CONVENTIONS["openpose25"]) - set(kp.CONVENTIONS["openpose18"]) == {
        "pelvis_openpose", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel"}


def test_missing_landmarks_are_masked_and_zero_not_guessed():
    coco = torch.arange(17 * 2, dtype=torch.float32).view(1, 17, 2) + 1
    lsp, mask = kp.convert(coco, kp.convention_names("coco17"), "lsp14")
    names = kp.convention_names("lsp14")
    assert not mask[names.index("neck_lsp")] and not mask[names.index("head_top")]
    assert torch.all(lsp[0, names.index("head_top")] == 0)
    # right_ankle is LSP's first point and COCO's 17th.
    assert mask[0] and torch.equal(lsp[0, 0], coco[0, 16])


def test_unknown_convention_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown keypoint convention 'coco18'"):
        kp.convention_names("coco18")
