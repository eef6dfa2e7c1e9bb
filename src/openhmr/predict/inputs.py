"""What ``openhmr predict`` reads: image files, folders (searched recursively) and videos
(frames sampled). Every input becomes a stream of named frames."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from openhmr.predict.images import ImageError, check_image_header, load_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".avif"}
# Photo formats Pillow cannot decode: named as skipped in a folder rather than silently passed over.
UNREADABLE_PHOTO_SUFFIXES = {".heic", ".heif", ".jxl"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


def expand_inputs(inputs: list[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """(files to read, [(input, reason)] for inputs that cannot be read). Folders give their
    images and videos, sorted; a file named directly is always tried, whatever its suffix.
    Image headers are checked here, before any model loads, so bad inputs are reported at once."""
    files, missing = [], []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            unreadable = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in UNREADABLE_PHOTO_SUFFIXES)
            missing += [(str(p), f"{p.suffix.lstrip('.').upper()} photos cannot be read; convert to JPEG or PNG") for p in unreadable]
            if not found and not unreadable:
                missing.append((item, "folder holds no image or video"))
            candidates = found
        elif path.exists():
            candidates = [path]
        elif path.is_symlink():
            missing.append((item, "a broken or looping symbolic link"))
            continue
        else:
            missing.append((item, "no such file or folder"))
            continue
        for candidate in candidates:
            problem = None if is_video(candidate) else _image_header_problem(candidate)
            if problem:
                missing.append((str(candidate), problem))
            else:
                files.append(candidate)
    return files, missing


def _image_header_problem(path: Path) -> str | None:
    """Why ``path`` is not a usable image (only its header is read), or None."""
    try:
        check_image_header(path)
    except ImageError as e:
        return str(e)
    return None


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def video_frames(path: Path, every: int, notice: Callable[[str], None] | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """(name, RGB frame) for every ``every``-th frame; names are ``<stem>_f<index>``.
    ``notice`` hears, in one sentence, of a video that ends before the frames it declares."""
    import cv2

    from openhmr.quiet import quiet_native_stderr

    with quiet_native_stderr():  # FFmpeg's own lines ("moov atom not found") before ours
        capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ImageError("not a video OpenCV can read")
    declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    try:
        index = 0
        while True:
            # grab() advances without decoding: only the frames kept are decoded (retrieve).
            # Decoder complaints about a damaged file are FFmpeg's; the notice below is ours.
            with quiet_native_stderr():
                grabbed = capture.grab()
                ok, frame = capture.retrieve() if grabbed and index % every == 0 else (False, None)
            if not grabbed:
                break
            if ok:  # only kept frames are retrieved
                yield f"{path.stem}_f{index:06d}", frame[..., ::-1].copy()
            index += 1
        if index == 0:
            raise ImageError("video has no readable frames")
        if notice is not None and index < declared:
            notice(f"{path}: read {index} of the {declared} frames it declares (the file ends early)")
    finally:
        capture.release()


def frames(path: Path, every: int = 10, notice: Callable[[str], None] | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """All frames of one input: an image gives one, named by its stem."""
    if is_video(path):
        yield from video_frames(path, every, notice)
    else:
        yield path.stem, load_image(path)
