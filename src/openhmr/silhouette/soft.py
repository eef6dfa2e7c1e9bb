"""A differentiable soft silhouette of a projected mesh, by splatting.

Each vertex carries a third of the projected area of its faces and is splatted onto the
mask grid with a normalised Gaussian of ``sigma`` pixels. The sum D over a closed surface is
about 2 inside the silhouette (front and back both project there), about 1 on its edge and 0
outside, so ``sigmoid((D - 1) / softness)`` is the silhouette: as ``softness`` goes to 0 it
becomes the hard mask with its edge where the blurred coverage is half, i.e. at the true edge.
Gradients reach the vertices through the splat positions and the areas. At 64² a body's
vertices lie a fraction of a pixel apart, so the splats leave no holes.

Shapes: vertices (B, V, 2) in mask pixels (x right, y down; pixel centres at i + 0.5);
result (B, R, R) in [0, 1].
"""

from __future__ import annotations

import math

import torch


class SoftSilhouette(torch.nn.Module):
    """Soft silhouettes of meshes with triangle list ``faces`` (F, 3) at ``res``² pixels."""

    def __init__(self, faces: torch.Tensor, res: int = 64, sigma: float = 0.4, softness: float = 0.1):
        super().__init__()
        self.register_buffer("faces", faces.long(), persistent=False)
        self.res, self.sigma, self.softness = res, sigma, softness
        radius = max(1, math.ceil(2.5 * sigma))
        x = torch.arange(-radius, radius + 1, dtype=torch.float32)
        kernel = torch.exp(-x.square() / (2 * sigma**2))
        self.register_buffer("kernel", kernel / kernel.sum(), persistent=False)  # (2r + 1,), separable

    def vertex_areas(self, points: torch.Tensor) -> torch.Tensor:
        """(B, V, 2) -> (B, V): a third of the projected area (pixels²) of each vertex's faces."""
        a, b, c = (points[:, self.faces[:, k]] for k in range(3))
        ab, ac = b - a, c - a
        area = 0.5 * (ab[..., 0] * ac[..., 1] - ab[..., 1] * ac[..., 0]).abs()  # (B, F)
        per_vertex = torch.zeros(points.shape[:2], dtype=points.dtype, device=points.device)
        for k in range(3):
            per_vertex = per_vertex.index_add(1, self.faces[:, k], area / 3)
        return per_vertex

    def coverage(self, points: torch.Tensor) -> torch.Tensor:
        """D (B, R, R): the vertices' areas splatted bilinearly onto the pixel centres, then
        blurred by the Gaussian (≈ 2 inside a closed mesh, ≈ 1 on its edge)."""
        batch = points.shape[0]
        res, pad = self.res, self.kernel.numel() // 2
        areas = self.vertex_areas(points)
        centred = points - 0.5  # pixel centres at integers
        base = centred.detach().floor()
        frac = centred - base  # (B, V, 2), carries the gradient
        base = base.long()
        size = res + 2 * pad  # a border catches splats just outside, so edges are not distorted
        total = torch.zeros(batch * size * size, dtype=points.dtype, device=points.device)
        offset = torch.arange(batch, device=points.device)[:, None] * size * size
        for dx in (0, 1):
            for dy in (0, 1):
                wx = frac[..., 0] if dx else 1 - frac[..., 0]
                wy = frac[..., 1] if dy else 1 - frac[..., 1]
                x, y = base[..., 0] + dx + pad, base[..., 1] + dy + pad
                inside = (x >= 0) & (x < size) & (y >= 0) & (y < size)
                index = (y.clamp(0, size - 1) * size + x.clamp(0, size - 1) + offset).flatten()
                total = total.index_add(0, index, (areas * wx * wy * inside).flatten())
        grid = total.view(batch, 1, size, size)
        k = self.kernel.to(points.dtype)
        grid = torch.nn.functional.conv2d(grid, k.view(1, 1, 1, -1))
        grid = torch.nn.functional.conv2d(grid, k.view(1, 1, -1, 1))
        return grid[:, 0]

    def forward(self, points: torch.Tensor, softness: float | None = None) -> torch.Tensor:
        softness = self.softness if softness is None else softness
        return torch.sigmoid((self.coverage(points) - 1.0) / softness)


def crop_to_mask_pixels(points: torch.Tensor, res: int) -> torch.Tensor:
    """Crop coordinates in [-1, 1] (B, V, 2), HMR's weak-perspective output, -> mask pixels."""
    return (points + 1.0) * (res / 2.0)
