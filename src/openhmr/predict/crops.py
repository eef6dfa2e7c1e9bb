"""The people of one image, cut out for the network: what every step after cropping reads."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from openhmr.detect.mediapipe import Detection


@dataclasses.dataclass
class Crops:
    """``images`` (B, 3, R, R) in [0, 1], cut at box ``centres`` (B, 2) with square sides
    ``sizes`` (B,) in image pixels, from the ``boxes`` (B) of an image of ``image_size``
    (width, height); ``focal_length`` in pixels (None: the image diagonal); ``angles`` (B,)
    degrees when each crop was turned upright (:mod:`openhmr.detect.upright`), else None."""

    images: torch.Tensor
    centres: np.ndarray
    sizes: np.ndarray
    boxes: list[Detection]
    image_size: tuple[int, int]
    focal_length: float | None = None
    angles: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.boxes)

    @property
    def focal(self) -> torch.Tensor:
        """(B,) the focal length in pixels of every crop's camera."""
        return torch.full((len(self),), float(self.focal_length or np.hypot(*self.image_size)))

    @property
    def image_sizes(self) -> torch.Tensor:
        """(B, 2) the image's (width, height) for every crop."""
        return torch.tensor([self.image_size], dtype=torch.float32).expand(len(self), 2)

    @property
    def centres_t(self) -> torch.Tensor:
        return torch.as_tensor(self.centres).float()

    @property
    def sizes_t(self) -> torch.Tensor:
        return torch.as_tensor(self.sizes).float()

    def __getitem__(self, index: slice) -> Crops:
        """The first people, e.g. ``crops[:n]``."""
        return Crops(self.images[index], self.centres[index], self.sizes[index], self.boxes[index], self.image_size,
                     self.focal_length, None if self.angles is None else self.angles[index])  # fmt: skip
