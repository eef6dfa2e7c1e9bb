"""What a ``--keypoints`` file may hold, as JSON Schema: OpenPose (``people[].pose_keypoints_2d``)
or COCO (``annotations[].keypoints``, optional ``images[]``). A file is checked whole before any
image is read, so a malformed one costs one sentence, not a traceback halfway through a run."""

from __future__ import annotations

import json
from pathlib import Path

from openhmr.errors import OpenHMRError

# x, y, confidence per point; bools are not numbers to jsonschema, NaN never gets this far.
_POINTS = {"type": "array", "items": {"type": "number"}, "minItems": 3}
_ID = {"type": ["integer", "string"]}

OPENPOSE_SCHEMA = {
    "type": "object",
    "required": ["people"],
    "properties": {
        "people": {
            "type": "array",
            "items": {"type": "object", "required": ["pose_keypoints_2d"], "properties": {"pose_keypoints_2d": _POINTS}},
        }
    },
}

COCO_SCHEMA = {
    "type": "object",
    "required": ["annotations"],
    "properties": {
        "annotations": {
            "type": "array",
            "items": {"type": "object", "properties": {"keypoints": _POINTS, "image_id": _ID}},
        },
        "images": {
            "type": "array",
            "items": {"type": "object", "required": ["id", "file_name"], "properties": {"id": _ID, "file_name": {"type": "string"}}},
        },
    },
}


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def load_keypoint_json(path: Path) -> dict:
    """The checked contents of one OpenPose or COCO keypoint file; OpenHMRError naming the file
    and the first bad place otherwise."""
    try:
        data = json.loads(path.read_text(), parse_constant=_reject_constant)
    except (OSError, ValueError) as e:
        raise OpenHMRError(f"Cannot read keypoint file {path} ({e}).") from None
    if isinstance(data, dict) and "people" in data:
        schema, top, field, kind = OPENPOSE_SCHEMA, "people", "pose_keypoints_2d", "OpenPose"
    elif isinstance(data, dict) and "annotations" in data:
        schema, top, field, kind = COCO_SCHEMA, "annotations", "keypoints", "COCO"
    else:
        raise OpenHMRError(f"{path} is neither OpenPose JSON (people[].pose_keypoints_2d) nor COCO JSON (annotations[].keypoints).")
    _check_schema(data, schema, path, kind)
    # What JSON Schema cannot say: whole points.
    for i, values in enumerate(entry.get(field, []) for entry in data[top]):
        if len(values) % 3:
            raise OpenHMRError(
                f"Keypoint file {path}: {top}[{i}].{field} holds {len(values)} numbers, not x, y, confidence per point "
                "(a multiple of 3)."
            )
    return data


def _check_schema(data, schema: dict, path: Path, kind: str) -> None:
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".") or "the top level"
        raise OpenHMRError(f"Keypoint file {path} is not valid {kind} JSON: at {where}, {error.message}.")
