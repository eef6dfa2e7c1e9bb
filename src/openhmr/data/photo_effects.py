"""What a camera does to a picture, for synthetic images in the ``photo`` look: backdrops
cropped from real photos with jitter, depth of field, a soft body edge, motion blur, sensor
noise (JPEG compression is the writer's quality). All functions are pure in their ``rng``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np


@dataclasses.dataclass
class Effects:
    background_blur: float  # Gaussian sigma in pixels on the backdrop only (depth of field), 0 = none
    motion: tuple[int, float] | None  # kernel length in pixels and angle (radians) of camera shake
    defocus: float  # Gaussian sigma on the whole picture, 0 = none
    noise: float  # sensor noise sigma in grey levels
    jpeg_quality: int


def sample_effects(rng: np.random.Generator) -> Effects:
    motion = (int(rng.integers(3, 10)), float(rng.uniform(0, np.pi))) if rng.random() < 0.2 else None
    return Effects(
        background_blur=float(rng.uniform(0.5, 3.0)) if rng.random() < 0.4 else 0.0,
        motion=motion,
        defocus=float(rng.uniform(0.4, 1.2)) if rng.random() < 0.15 else 0.0,
        noise=float(rng.uniform(0.0, 6.0)) if rng.random() < 0.6 else 0.0,
        jpeg_quality=int(rng.integers(40, 96)),
    )


def photo_backdrop(rng: np.random.Generator, photo: Path, res: int) -> np.ndarray:
    """(res, res, 3) uint8: a random square of ``photo`` (a third to all of its shorter side),
    flipped half the time, with brightness, contrast and saturation jitter."""
    from PIL import Image

    with Image.open(photo) as im:
        image = np.asarray(im.convert("RGB"))
    h, w = image.shape[:2]
    side = int(min(h, w) * rng.uniform(0.35, 1.0))
    y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
    crop = np.asarray(Image.fromarray(image[y : y + side, x : x + side]).resize((res, res), Image.BILINEAR), np.float32)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    grey = crop.mean(2, keepdims=True)
    crop = grey + (crop - grey) * rng.uniform(0.6, 1.3)  # saturation
    crop = (crop - crop.mean()) * rng.uniform(0.75, 1.25) + crop.mean() * rng.uniform(0.7, 1.3)  # contrast, brightness
    return np.clip(crop, 0, 255).astype(np.uint8)


def composite(body: np.ndarray, covered: np.ndarray, backdrop: np.ndarray, effects: Effects,
              rng: np.random.Generator) -> np.ndarray:
    """body (H, W, 3) uint8 where ``covered`` (H, W) bool, over ``backdrop`` (H, W, 3) uint8 ->
    (H, W, 3) uint8 through the camera's effects. The body's edge is softened by a pixel, as a
    lens and demosaicing would (a rasteriser's edge is one hard step)."""
    import cv2

    back = backdrop.astype(np.float32)
    if effects.background_blur > 0:
        back = cv2.GaussianBlur(back, (0, 0), effects.background_blur)
    alpha = cv2.GaussianBlur(covered.astype(np.float32), (0, 0), 0.6)[..., None]
    alpha = np.where(covered[..., None], np.maximum(alpha, 0.5), alpha)
    image = alpha * body.astype(np.float32) + (1.0 - alpha) * back
    if effects.motion is not None:
        length, angle = effects.motion
        kernel = np.zeros((length, length), np.float32)
        c = (length - 1) / 2
        for t in np.linspace(-c, c, 2 * length):
            kernel[int(np.rint(c + t * np.sin(angle))), int(np.rint(c + t * np.cos(angle)))] = 1.0
        image = cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
    if effects.defocus > 0:
        image = cv2.GaussianBlur(image, (0, 0), effects.defocus)
    if effects.noise > 0:
        image = image + rng.normal(0.0, effects.noise, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)
