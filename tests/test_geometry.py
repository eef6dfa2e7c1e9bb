import math

import pytest
import roma
import torch

from openhmr.geometry import alignment, camera, rotations


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rotation_round_trips(dtype):
    rotvec = roma.random_rotvec(64, dtype=dtype)
    rotvec = rotvec * (0.99 * math.pi / rotvec.norm(dim=-1, keepdim=True).clamp(min=math.pi))
    matrix = rotations.axis_angle_to_matrix(rotvec)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    assert torch.allclose(rotations.matrix_to_axis_angle(matrix), rotvec, atol=tol)
    sixd = rotations.matrix_to_sixd(matrix)
    assert sixd.shape == (64, 6)
    assert torch.allclose(rotations.sixd_to_matrix(sixd), matrix, atol=tol)


def test_sixd_of_any_vector_is_a_rotation():
    m = rotations.sixd_to_matrix(torch.randn(10, 6))
    assert torch.allclose(m @ m.transpose(-1, -2), torch.eye(3).expand(10, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(m), torch.ones(10), atol=1e-5)


def test_weak_perspective_is_hmrs_formula():
    points = torch.tensor([[[0.2, -0.5, 3.0], [-0.1, 0.4, -1.0]]])
    cam = torch.tensor([[0.8, 0.1, -0.2]])
    expected = torch.tensor([[[0.8 * 0.3, 0.8 * -0.7], [0.0, 0.8 * 0.2]]])
    assert torch.allclose(camera.weak_perspective_project(points, cam), expected)


def test_projected_point_lands_where_a_pinhole_puts_it():
    K = camera.intrinsics(torch.tensor([500.0]), torch.tensor([[320.0, 240.0]]))
    point = torch.tensor([[[0.3, -0.2, 4.0]]])
    translation = torch.tensor([[0.1, 0.0, 1.0]])
    u, v = camera.perspective_project(point, translation, K)[0, 0]
    assert math.isclose(float(u), 320 + 500 * 0.4 / 5.0, rel_tol=1e-6)
    assert math.isclose(float(v), 240 + 500 * -0.2 / 5.0, rel_tol=1e-6)


def test_crop_and_image_coordinates_round_trip():
    centre, size = torch.tensor([[400.0, 300.0]]), torch.tensor([180.0])
    crop = torch.rand(1, 10, 2) * 2 - 1
    pixels = camera.crop_to_image(crop, centre, size)
    assert torch.allclose(camera.image_to_crop(pixels, centre, size), crop, atol=1e-6)
    corner = camera.crop_to_image(torch.tensor([[[-1.0, 1.0]]]), centre, size)
    assert torch.allclose(corner, torch.tensor([[[310.0, 390.0]]]))


def _full_setup():
    cam = torch.tensor([[0.9, 0.05, -0.1], [1.2, -0.2, 0.3]])
    centre = torch.tensor([[700.0, 420.0], [150.0, 600.0]])
    size = torch.tensor([300.0, 120.0])
    image = torch.tensor([[1280.0, 720.0], [640.0, 960.0]])
    focal = torch.tensor([1500.0, 800.0])
    return cam, centre, size, image, focal


def test_full_image_camera_reproduces_the_crop_projection_at_root_depth():
    cam, centre, size, image, focal = _full_setup()
    points = torch.randn(2, 7, 3) * 0.3
    points[..., 2] = 0  # exact for points at the root's depth
    crop_xy = camera.weak_perspective_project(points, cam)
    expected = camera.crop_to_image(crop_xy, centre, size)
    translation = camera.crop_cam_to_full(cam, centre, size, image, focal)
    K = camera.intrinsics(focal, image / 2)
    assert torch.allclose(camera.perspective_project(points, translation, K), expected, atol=1e-3)


def test_weak_to_translation_is_the_crop_sized_special_case():
    cam = torch.tensor([[0.9, 0.05, -0.1]])
    focal, res = torch.tensor([5000.0]), 224
    t = camera.weak_to_translation(cam, focal, res)
    assert torch.allclose(t, torch.tensor([[0.05, -0.1, 2 * 5000.0 / (224 * 0.9)]]))
    same = camera.crop_cam_to_full(
        cam, torch.tensor([[112.0, 112.0]]), torch.tensor([224.0]), torch.tensor([[224.0, 224.0]]), focal
    )
    assert torch.allclose(t, same)


def test_procrustes_recovers_a_known_similarity():
    source = torch.randn(3, 17, 3, dtype=torch.float64)
    rotation = roma.random_rotmat(3, dtype=torch.float64)
    scale = torch.tensor([0.5, 1.0, 2.5], dtype=torch.float64)
    shift = torch.randn(3, 3, dtype=torch.float64)
    target = scale[:, None, None] * source @ rotation.transpose(-1, -2) + shift[:, None]
    s, r, t = alignment.similarity_transform(source, target)
    assert torch.allclose(s, scale) and torch.allclose(r, rotation) and torch.allclose(t, shift)
    assert torch.allclose(alignment.procrustes_align(source, target), target, atol=1e-10)


def test_procrustes_leaves_only_non_rigid_error():
    target = torch.randn(1, 14, 3, dtype=torch.float64)
    noisy = target + 0.01 * torch.randn_like(target)
    moved = 3.0 * noisy @ roma.random_rotmat(1, dtype=torch.float64).transpose(-1, -2) + 5.0
    error = (alignment.procrustes_align(moved, target) - target).norm(dim=-1).mean()
    assert error < 0.02
