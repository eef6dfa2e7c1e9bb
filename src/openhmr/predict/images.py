"""Reading untrusted images: one clear reason for anything that is not a usable photo.

Pixels land upright (EXIF orientation applied) as RGB uint8 whatever the file's mode:
grayscale, palette, RGBA / LA (composited over white), CMYK, 16-bit and 32-bit integer or
float images (scaled to 8 bits). Size is checked from the header before decoding, so a
decompression bomb is refused without being decoded.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from openhmr.errors import OpenHMRError

MAX_PIXELS = 80_000_000  # larger images are refused before decoding (decompression bombs)
MIN_SIDE = 32  # smaller images cannot show a person at any useful size


class ImageError(OpenHMRError):
    """An input that cannot be used, with the reason as its message."""


def check_image_header(path: str | Path, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse, from the file's header alone (cheap: nothing decoded), what cannot be a usable
    photo: no file, an empty file, not an image, too many pixels, too small. Raises :class:`ImageError`."""
    import stat

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ImageError("a broken symbolic link" if path.is_symlink() else "no such file") from None
    except OSError as e:  # a symbolic link loop, a folder that cannot be entered
        raise ImageError(f"cannot be opened ({e.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ImageError("not a regular file (a pipe, device or socket)")
    if info.st_size == 0:
        raise ImageError("empty file (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                width, height = im.size
        except UnidentifiedImageError:
            raise ImageError("not an image, or a format Pillow cannot read") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ImageError(f"refused as a decompression bomb ({e})") from None
        except (OSError, SyntaxError, ValueError) as e:
            raise ImageError(f"truncated or corrupt ({e})") from None
    if width * height > max_pixels:
        raise ImageError(
            f"{width}x{height} is {width * height / 1e6:.0f} megapixels, over the limit of "
            f"{max_pixels / 1e6:.0f} (a decompression bomb, or a photo to downscale first)"
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"too small ({width}x{height} pixels; at least {MIN_SIDE} on each side)")


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """``path`` -> (H, W, 3) uint8 RGB, upright. Raises :class:`ImageError` with the reason."""
    from PIL import Image, ImageOps

    check_image_header(path, max_pixels)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                im.load()
                im = ImageOps.exif_transpose(im)
                rgb = to_rgb(im)
        except (OSError, SyntaxError, ValueError) as e:  # PIL reports truncation and corruption so
            raise ImageError(f"truncated or corrupt ({e})") from None
    if min(rgb.shape[:2]) < MIN_SIDE:  # EXIF rotation keeps the sides; checked again for safety
        raise ImageError(f"too small ({rgb.shape[1]}x{rgb.shape[0]} pixels; at least {MIN_SIDE} on each side)")
    return rgb


def to_rgb(im) -> np.ndarray:
    """A PIL image of any mode -> (H, W, 3) uint8."""
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") else max(float(values.max()), 1.0)
        gray = np.clip(values / top * 255.0, 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)
