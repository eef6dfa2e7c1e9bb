"""People's boxes from 2D keypoint files, as the HMR and SPIN demos take them: OpenPose JSON
(``people[].pose_keypoints_2d``) or COCO JSON (``annotations[].keypoints``), and the user's
``--bbox``. A box is the tight extent of the keypoints seen; the crop adds the margin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openhmr.detect.mediapipe import MAX_PIXELS, Detection, box_from_points
from openhmr.errors import OpenHMRError
from openhmr.predict.keypoint_schema import load_keypoint_json

# OpenPose and COCO keypoint files, told apart by their number of points.
CONVENTION_BY_COUNT = {25: "openpose25", 18: "openpose18", 17: "coco17"}


OPENPOSE_SUFFIX = "_keypoints.json"


def read_keypoint_file(path: str | Path) -> dict:
    """An OpenPose or COCO keypoint JSON, read once for every image it labels; or a folder of
    OpenPose files named as OpenPose writes them (``<image stem>_keypoints.json``), each
    matched to its image by name."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob(f"*{OPENPOSE_SUFFIX}"))
        if not files:
            raise OpenHMRError(f"{path} holds no OpenPose files (<image name>{OPENPOSE_SUFFIX}).")
        return {"per_image": {f.name[: -len(OPENPOSE_SUFFIX)]: read_keypoint_file(f) for f in files}}
    return load_keypoint_json(path)


def boxes_from_keypoints(data: dict, image_name: str, width: int, height: int, min_confidence: float = 0.1) -> list[Detection]:
    """People's boxes from a keypoint file's contents (:func:`read_keypoint_file`). COCO files
    list many images: the entry whose ``file_name`` matches ``image_name`` is used; a folder
    of OpenPose files gives the image's own file (none: no boxes)."""
    if "per_image" in data:
        own = data["per_image"].get(Path(image_name).stem)
        return [] if own is None else boxes_from_keypoints(own, image_name, width, height, min_confidence)
    if "people" in data:
        people = [np.asarray(p.get("pose_keypoints_2d", []), dtype=np.float64).reshape(-1, 3) for p in data["people"]]
    else:
        ids = {img["id"] for img in data.get("images", []) if Path(img.get("file_name", "")).stem == Path(image_name).stem}
        if data.get("images") and not ids:
            return []
        people = [
            np.asarray(a["keypoints"], dtype=np.float64).reshape(-1, 3)
            for a in data["annotations"]
            if "keypoints" in a and (not ids or a.get("image_id") in ids)
        ]
    detections = []
    for points in people:
        seen = points[points[:, 2] > min_confidence]
        box = box_from_points(seen[:, :2], width, height)
        if box is not None:
            convention = CONVENTION_BY_COUNT.get(len(points))
            detections.append(Detection(box, float(np.clip(seen[:, 2].mean(), 0, 1)), points if convention else None, convention))
    return detections


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        x, y, w, h = (float(v) for v in text.split(","))
    except ValueError:
        raise OpenHMRError(f"--bbox must be x,y,w,h in pixels; got {text!r}.") from None
    if not all(abs(v) <= MAX_PIXELS for v in (x, y, w, h)):  # also false for NaN
        raise OpenHMRError(f"--bbox values must be finite pixel counts (at most {MAX_PIXELS:g} in size); got {text!r}.")
    if w <= 0 or h <= 0:
        raise OpenHMRError(f"--bbox width and height must be positive; got {text!r}.")
    return x, y, w, h


def box_outside(box: tuple[float, float, float, float], width: int, height: int) -> bool:
    """True when ``box`` (x, y, w, h) does not overlap the ``width`` x ``height`` image."""
    x, y, w, h = box
    return x >= width or y >= height or x + w <= 0 or y + h <= 0
