"""Offscreen rendering with pyrender (OSMesa by default; EGL where PYOPENGL_PLATFORM says so).

Inputs are in openhmr's camera frame (x right, y down, z forward, OpenCV); pyrender looks
down -z with y up, so vertices are flipped on y and z before rendering. Create renderers
inside each worker process: a GL context does not survive a fork.
"""

from __future__ import annotations

import os

import numpy as np

SKIN = (0.65, 0.74, 0.86, 1.0)


def render_mesh(
    vertices: np.ndarray,
    faces: np.ndarray,
    K: np.ndarray,
    image_size: tuple[int, int],
    background: np.ndarray | None = None,
    color: tuple[float, float, float, float] = SKIN,
) -> np.ndarray:
    """Render a mesh seen by the pinhole camera ``K`` (a GL context made for this call).

    vertices (V, 3) camera frame metres, faces (F, 3), K (3, 3), image_size (width, height),
    background (H, W, 3) uint8 or None for white. Returns (H, W, 3) uint8.
    """
    renderer = MeshRenderer()
    try:
        return renderer(vertices, faces, K, image_size, background, color)
    finally:
        renderer.close()


def viewport_side(width: int, height: int) -> int:
    """The square viewport a picture of ``width`` x ``height`` is drawn in: the next power of
    two from 256 up, so that photos of many sizes share one GL context (OSMesa cannot resize
    one: a new size is a new context, about 0.2 s)."""
    side = 256
    while side < max(width, height):
        side *= 2
    return side


class MeshRenderer:
    """:func:`render_mesh` keeping one GL context for many frames (making one costs about
    0.2 s on OSMesa). The first context is the first picture's size (a video's frames all fit
    it exactly); a picture that does not fit, or would fill under a quarter of it, gets a new
    square one (:func:`viewport_side`) that photos of similar sizes then share, each drawn in
    its top-left corner and cut out (a 2048² viewport drew a 1920 x 1080 frame 1.2-1.6 x
    slower than an exact one, two runs with the cores shared). Create it in the process that renders, and close it."""

    def __init__(self):
        self._renderer = None
        self._made_one = False  # the first context is the first picture's size

    def _fits(self, width: int, height: int) -> bool:
        """The current context holds the picture and is no larger than four times it or than
        the square a new one would be (so that context is never replaced by its own size)."""
        r = self._renderer
        if r is None or r.viewport_width < width or r.viewport_height < height:
            return False
        return r.viewport_width * r.viewport_height <= max(4 * width * height, viewport_side(width, height) ** 2)

    def __call__(self, vertices, faces, K, image_size, background=None, color=SKIN) -> np.ndarray:
        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
        import pyrender
        import trimesh

        width, height = image_size
        gl_vertices = np.asarray(vertices, dtype=np.float64) * np.array([1.0, -1.0, -1.0])
        mesh = trimesh.Trimesh(gl_vertices, np.asarray(faces), process=False)
        material = pyrender.MetallicRoughnessMaterial(metallicFactor=0.1, roughnessFactor=0.7, baseColorFactor=color)
        scene = pyrender.Scene(bg_color=[1.0, 1.0, 1.0, 0.0], ambient_light=[0.35, 0.35, 0.35])
        scene.add(pyrender.Mesh.from_trimesh(mesh, material=material, smooth=True))
        camera = pyrender.IntrinsicsCamera(fx=float(K[0, 0]), fy=float(K[1, 1]), cx=float(K[0, 2]), cy=float(K[1, 2]), zfar=1e3)
        scene.add(camera, pose=np.eye(4))
        for direction in ([0.0, -1.0, 1.0], [1.0, 1.0, 1.0], [-1.0, 0.5, 0.5]):
            scene.add(pyrender.DirectionalLight(intensity=2.5), pose=light_pose(np.array(direction)))
        if not self._fits(width, height):
            self.close()
            side = viewport_side(width, height)
            self._renderer = pyrender.OffscreenRenderer(*((side, side) if self._made_one else (width, height)))
            self._made_one = True
        # The intrinsics place pixel (u, v) at the same pixel of the larger viewport.
        color_buffer, depth = (buffer[:height, :width] for buffer in self._renderer.render(scene))
        # The depth buffer is the coverage mask (OSMesa gives no alpha channel).
        covered = (depth > 0)[..., None]
        base = np.full((height, width, 3), 255, np.uint8) if background is None else background
        return np.where(covered, color_buffer[..., :3], base).astype(np.uint8)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.delete()
            self._renderer = None


def light_pose(towards: np.ndarray) -> np.ndarray:
    """A pose whose -z axis points along ``towards`` (pyrender lights shine down -z)."""
    z = -towards / np.linalg.norm(towards)
    x = np.cross([0.0, 1.0, 0.0], z)
    x = x / np.linalg.norm(x) if np.linalg.norm(x) > 1e-6 else np.array([1.0, 0.0, 0.0])
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    return pose
