"""openhmr.detect: MediaPipe's person detector, regions and landmark step rebuilt in PyTorch,
checked piece by piece and against MediaPipe Pose itself on real photos."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from openhmr.detect.pose_detector import ssd_anchors, weighted_nms
from openhmr.detect.pose_landmarks import refine_on_heatmaps
from openhmr.detect.regions import Region, body_region
from openhmr.geometry.crop import transform_points

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LSP_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "lsp" / "images"


def _rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_anchors_cover_the_three_strides_in_the_network_s_order():
    anchors = ssd_anchors()
    assert anchors.shape == (2254, 2)  # 28² · 2 + 14² · 2 + 7² · 6
    assert torch.allclose(anchors[0], torch.tensor([0.5 / 28, 0.5 / 28])) and torch.equal(anchors[0], anchors[1])
    assert torch.allclose(anchors[2], torch.tensor([1.5 / 28, 0.5 / 28]))
    assert torch.allclose(anchors[1568], torch.tensor([0.5 / 14, 0.5 / 14]))
    assert torch.allclose(anchors[-1], torch.tensor([6.5 / 7, 6.5 / 7]))


def test_weighted_nms_merges_overlaps_by_score_and_keeps_the_rest():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [3, 3, 3, 3]], dtype=float)  # the last has no area
    points = boxes[:, None, :2].repeat(2, 1)
    merged = weighted_nms(np.array([0.9, 0.6, 0.7, 0.95]), boxes, points)
    assert [round(s, 2) for s, _, _ in merged] == [0.95, 0.9, 0.7]  # the degenerate box stands alone, and ends
    _, box, pts = merged[1]
    assert np.allclose(box, [0.4, 0, 10.4, 10]) and np.allclose(pts[0], [0.4, 0])  # (0.9 · 0 + 0.6 · 1) / 1.5
    assert np.allclose(merged[2][1], boxes[2])


def test_a_body_region_stands_the_body_up_whichever_way_it_lies():
    upright = body_region(np.array([100.0, 200.0]), np.array([100.0, 100.0]))
    assert (upright.x, upright.y, upright.size) == (100.0, 200.0, 250.0) and upright.rotation == pytest.approx(0.0)
    lying = body_region(np.array([100.0, 200.0]), np.array([180.0, 200.0]))  # head to the right
    assert lying.rotation == pytest.approx(math.pi / 2)
    # The crop's top centre lies from the hips towards the scale point, for any direction.
    for angle in np.linspace(-3, 3, 7):
        hips, head = np.array([50.0, 60.0]), np.array([50.0, 60.0]) + 40 * np.array([math.cos(angle), math.sin(angle)])
        region = body_region(hips, head)
        top = region.to_image(np.array([128.0, 0.0]), 256)
        assert np.allclose((top - hips) / np.linalg.norm(top - hips), (head - hips) / 40, atol=1e-6)


def test_region_crops_and_points_share_one_map():
    region = Region(120.0, 80.0, 90.0, 0.7)
    crop_points = np.array([[0.0, 0.0], [256.0, 0.0], [40.0, 200.0]])
    image_points = region.to_image(crop_points, 256)
    assert np.allclose(transform_points(image_points, region.matrix(256)), crop_points, atol=1e-3)
    # The crop's pixel (0, 0) reads the region's top-left corner (MediaPipe's convention).
    image = np.zeros((200, 300, 3), np.uint8)
    x, y = np.round(region.to_image(np.zeros(2), 256)).astype(int)  # its top-left corner
    image[y - 1 : y + 2, x - 1 : x + 2] = 255
    assert region.crop(image, 256)[:3, :3].max() > 0 and region.crop(image, 256)[-3:, -3:].max() == 0


def test_heatmap_refinement_moves_confident_points_to_the_peak_s_corner_mean():
    heatmaps = torch.full((1, 2, 64, 64), -20.0)
    heatmaps[0, 0, 10, 20] = heatmaps[0, 0, 10, 21] = 20.0  # a confident peak between cells 20 and 21
    heatmaps[0, 1, 30, 30] = -0.1  # a peak just under 0.5: the point stays
    xy = torch.tensor([[[82.0, 41.0], [121.0, 121.0]]])
    out = refine_on_heatmaps(xy, heatmaps)
    assert torch.allclose(out[0, 0], torch.tensor([20.5 * 4, 10 * 4.0]), atol=1e-4)  # cell indices × 4: corners, not centres
    assert torch.equal(out[0, 1], xy[0, 1])
    far = refine_on_heatmaps(torch.tensor([[[300.0, 10.0], [-5.0, 10.0]]]), heatmaps)  # outside the map: untouched
    assert torch.equal(far, torch.tensor([[[300.0, 10.0], [-5.0, 10.0]]]))


@pytest.fixture(scope="module")
def finder():
    pytest.importorskip("mediapipe")
    from openhmr.detect.people import PeopleFinder

    return PeopleFinder()


def test_one_batched_pass_finds_what_single_images_find(finder):
    images = [_rgb(EXAMPLES / "astronaut.jpg"), _rgb(EXAMPLES / "camera.png")]
    assert finder.find([]) == []
    together = finder.find(images)
    for image, people in zip(images, together):
        alone = finder.find([image])[0]
        assert len(people) == len(alone) == 1
        a, b = people[0].region, alone[0].region
        assert abs(a.x - b.x) < 0.01 and abs(a.y - b.y) < 0.01 and abs(a.size - b.size) < 0.01
        # Batched convolutions round differently, and a point near a heatmap cell's edge can
        # take the next window (MediaPipe's refinement is discontinuous): measured 0.03-0.2 px
        # at most on these photos, a few thousandths typically.
        distance = np.linalg.norm(people[0].landmarks[:, :2] - alone[0].landmarks[:, :2], axis=1)
        assert np.median(distance) < 0.05 and distance.max() < 1.0


def test_the_astronaut_s_region_continues_below_the_frame(finder):
    """A chest-up photo: the detector still says where the whole body would be."""
    image = _rgb(EXAMPLES / "astronaut.jpg")
    person = finder.find([image])[0][0]
    corners = person.region.to_image(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), 1)
    assert corners[:, 1].max() > 1.5 * image.shape[0]
    nose, hips = person.landmarks[0, :2], person.landmarks[[23, 24], :2].mean(0)
    assert 0 < nose[1] < image.shape[0] / 2 and hips[1] > image.shape[0]  # head in the photo, hips below it


@pytest.mark.skipif(not LSP_IMAGES.is_dir(), reason="../shared/data/real/lsp is absent (real photos)")
def test_landmarks_match_mediapipe_pose_on_real_photos(finder):
    """Detector + region + landmark network give MediaPipe Pose's own landmarks (same image,
    its best person). The landmark network is very sensitive to its region on hard photos (a
    1 px shift of the region moves the astronaut's landmarks 6 px), so the check is on
    ordinary ones: the first 30 LSP test photos."""
    import mediapipe as mp

    pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, min_detection_confidence=0.5)
    medians = []
    for i in range(1001, 1031):
        image = _rgb(LSP_IMAGES / f"im{i}.jpg")
        height, width = image.shape[:2]
        theirs = pose.process(image).pose_landmarks
        ours = finder.find([image])[0]
        assert (theirs is None) == (not ours), i  # the same photos have nobody
        if theirs is not None:
            reference = np.array([(p.x * width, p.y * height) for p in theirs.landmark])
            medians.append(np.median(np.linalg.norm(ours[0].landmarks[:, :2] - reference, axis=1)))
    assert len(medians) >= 20
    assert np.median(medians) < 0.5 and np.mean(np.array(medians) < 1.0) >= 0.9, np.round(medians, 2)


def test_the_tracker_follows_a_moving_person_with_one_detection(finder):
    """MediaPipe's video mode: the next region from this frame's auxiliary landmarks; the
    detector only at the start and after a frame without the person."""
    from openhmr.detect.tracking import RegionTracker

    photo = _rgb(EXAMPLES / "astronaut.jpg")

    def shifted(pixels: int) -> np.ndarray:
        frame = np.zeros_like(photo)
        frame[:, pixels:] = photo[:, : photo.shape[1] - pixels]
        return frame

    tracker = RegionTracker(finder)
    faces = []
    for step in range(5):
        people = tracker(shifted(6 * step))
        assert len(people) == 1
        faces.append(people[0].landmarks[:11, 0].mean())  # nose, eyes, ears, mouth
    assert tracker.stats.detector_runs == 1 and tracker.stats.lost_frames == 0
    # The face moved 24 px and the landmarks follow it, every step. Each frame's region differs,
    # and on this chest-up photo the landmarks are sensitive to it: measured 19.7-22.0 px in
    # all, 2-8 px a step, with one and two threads.
    assert np.all(np.diff(faces) > 0) and abs((faces[-1] - faces[0]) - 24) < 8
    assert tracker(np.zeros_like(photo)) == [] and tracker.stats.lost_frames == 1
    assert len(tracker(photo)) == 1 and tracker.stats.detector_runs == 3  # lost: the detector looks again


@pytest.mark.skipif(not LSP_IMAGES.is_dir(), reason="../shared/data/real/lsp is absent (real photos)")
def test_person_masks_match_mediapipe_pose_s_segmentation():
    """The landmark network's segmentation, put back on the image through the region, is
    MediaPipe Pose's person mask (measured: IoU 0.99 median over 17 LSP photos)."""
    import mediapipe as mp

    from openhmr.detect.people import PeopleFinder

    finder = PeopleFinder(masks=True)
    pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True)
    ious = []
    for i in range(1001, 1013):
        image = _rgb(LSP_IMAGES / f"im{i}.jpg")
        theirs = pose.process(image).segmentation_mask
        ours = finder.find([image])[0]
        if theirs is None or not ours:
            continue
        assert ours[0].mask.shape == image.shape[:2]
        a, b = ours[0].mask > 0.5, np.asarray(theirs) > 0.5
        ious.append((a & b).sum() / (a | b).sum())
    assert len(ious) >= 8 and np.median(ious) > 0.97 and min(ious) > 0.9, np.round(ious, 3)


def test_predict_with_the_pytorch_detector_finds_and_refines_like_mediapipe():
    """``load_model(detector="blazepose")``: the same box as MediaPipe Pose's on the astronaut,
    and refinement fits to the rebuilt pipeline's landmarks and mask on the crop."""
    pytest.importorskip("mediapipe")
    from openhmr.predict.predictor import load_model

    image = _rgb(EXAMPLES / "astronaut.jpg")
    ours = load_model(detector="blazepose")
    theirs = load_model(detector="mediapipe")
    from openhmr.detect.people import BlazePoseDetector

    assert isinstance(ours.detector, BlazePoseDetector)
    (a,), (b,) = ours.detect(image), theirs.detect(image)
    x0, y0 = max(a.bbox[0], b.bbox[0]), max(a.bbox[1], b.bbox[1])
    x1, y1 = min(a.bbox[0] + a.bbox[2], b.bbox[0] + b.bbox[2]), min(a.bbox[1] + a.bbox[3], b.bbox[1] + b.bbox[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    assert inter / (a.bbox[2] * a.bbox[3] + b.bbox[2] * b.bbox[3] - inter) > 0.9
    assert a.keypoint_convention == "mediapipe33" and a.keypoints.shape == (33, 3)
    # The astronaut's fit ends near the realism check's edge, where float rounding decides:
    # the discriminator's score falls from the start's 0.4887 to 0.4807-0.4908 (one thread or
    # two, LM's λ trials one at a time or batched; 0.4781 for the batched trials with one
    # thread). Slack keeps this test on the pipeline; the acceptance rule has its own tests.
    from openhmr.fit import FitSettings

    ours.fit_settings = FitSettings(realism_tolerance=0.02)
    refined = ours.predict(image, refine="fit").people[0]
    assert refined.refined and refined.reprojection_error_px[1] < refined.reprojection_error_px[0] / 2
    marks, mask = ours.detector.landmarks_and_mask(image)
    assert marks.shape == (33, 3) and mask.shape == image.shape[:2] and 0.05 < (mask > 0.5).mean() < 0.9
