"""The synthetic images' renderer: one Anny body's scenes drawn with moderngl on EGL
(:mod:`openhmr.gl_render`) or pyrender on OSMesa, in the ``plain`` and ``photo`` looks of
:mod:`openhmr.data.synth`, and its part labels. Create it inside the process that draws."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from openhmr.body.anny_body import AnnyBody
from openhmr.data import synth_look
from openhmr.errors import OpenHMRError

if TYPE_CHECKING:
    from openhmr.data.synth import Scene

_PART_OF_BONE = {  # colour groups: 0 skin, 1 top, 2 bottom, 3 shoes
    "Hips": 2, "LHipJoint": 2, "RHipJoint": 2, "LeftUpLeg": 2, "RightUpLeg": 2, "LeftLeg": 2, "RightLeg": 2,
    "LeftFoot": 3, "RightFoot": 3, "LeftToeBase": 3, "RightToeBase": 3,
    "LowerBack": 1, "Spine": 1, "Spine1": 1, "LeftShoulder": 1, "RightShoulder": 1, "LeftArm": 1, "RightArm": 1,
}  # fmt: skip


PART_CODE_STEP = 40  # part k is drawn in grey level 40 (k + 1): far apart, read back by rounding


RENDERERS = ("moderngl", "pyrender")


class SynthRenderer:
    """Renders scenes of one Anny body; create it inside the worker process. ``backend``:
    ``moderngl`` (EGL, :mod:`openhmr.gl_render`: fixed buffers, several times faster) or
    ``pyrender`` (OSMesa; the renderer of the first sets)."""

    # OSMesa keeps about 3.6 MB per rendered scene inside its context, although pyrender
    # deletes each mesh's buffers (measured with pyrender-maintained 1.0.1, PyOpenGL 3.1.10:
    # a process had grown to 19.8 GB after 4,300 renders); a fresh context every so often frees it.
    # pyrender only: moderngl releases its buffers after each draw (flat memory over 600 scenes).
    RENEW_EVERY = 200

    def __init__(self, body: AnnyBody, res: int, renew_every: int = RENEW_EVERY, backend: str = "pyrender"):
        import os

        from openhmr.body.parts import face_parts, vertex_parts

        if backend not in RENDERERS:
            raise OpenHMRError(f"Unknown renderer {backend!r}; choose one of {', '.join(RENDERERS)}.")
        self.body, self.res = body, res
        dominant = body.dominant_joints()
        self.part = np.array([_PART_OF_BONE.get(body.joint_names[int(b)], 0) for b in dominant])
        self.face_part = face_parts(body)  # for the part masks
        self.vertex_code = ((vertex_parts(body) + 1) * PART_CODE_STEP).astype(np.uint8)  # a face's is its first vertex's
        self.regions = synth_look.BodyRegions(body)  # skin, hair, clothes: the ``photo`` look
        self.renew_every, self.renders = renew_every, 0
        self.gl = self.renderer = None
        if backend == "moderngl":
            from openhmr.gl_render import GLRenderer

            try:
                self.gl = GLRenderer(body.faces.numpy(), res, num_vertices=len(self.part))
            except Exception as e:  # noqa: BLE001 - moderngl raises plain Exceptions when EGL is missing
                raise OpenHMRError(f"moderngl could not open an EGL context ({e}); install Mesa's EGL "
                                   "(`apt-get install libegl1 libgl1-mesa-dri`) or use the pyrender renderer.") from None
            return
        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
        import pyrender

        self.pyrender = pyrender
        self.renderer = pyrender.OffscreenRenderer(res, res)

    def _draw(self, scene, **kwargs):
        """Render ``scene``; every ``renew_every`` renders the GL context starts afresh."""
        if self.renders and self.renders % self.renew_every == 0:
            self.renderer.delete()
            self.renderer = self.pyrender.OffscreenRenderer(self.res, self.res)
        self.renders += 1
        return self.renderer.render(scene, **kwargs)

    def render(self, vertices: np.ndarray, K: np.ndarray, scene_params: Scene) -> tuple[np.ndarray, np.ndarray]:
        """Camera-frame vertices (V, 3) -> colour (res, res, 3) uint8 and depth (res, res), 0 = empty."""
        import trimesh

        from openhmr.render import light_pose

        colours = scene_params.colours[self.part]
        if scene_params.stripes is not None:
            # Clothes-like texture: stripes across the clothed parts, along the body's height.
            frequency, phase = scene_params.stripes
            band = np.sign(np.sin(frequency * vertices[:, 1] + phase))
            colours = np.where((self.part > 0)[:, None], colours * (0.8 + 0.2 * band[:, None]), colours)
        if self.gl is not None:
            intensity, direction = scene_params.light
            return self.gl.draw([(vertices, colours, None)], K, np.full(3, 0.35), [(intensity, direction, np.ones(3))])[:2]
        pr = self.pyrender
        gl_vertices = vertices * np.array([1.0, -1.0, -1.0])
        mesh = trimesh.Trimesh(gl_vertices, self.body.faces.numpy(), process=False)
        mesh.visual.vertex_colors = (np.c_[np.clip(colours, 0, 1), np.ones(len(colours))] * 255).astype(np.uint8)
        scene = pr.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=[0.35, 0.35, 0.35])
        scene.add(pr.Mesh.from_trimesh(mesh, smooth=True))
        scene.add(pr.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2], K[1, 2], zfar=1e4), pose=np.eye(4))
        intensity, direction = scene_params.light
        gl_direction = direction * np.array([1.0, -1.0, -1.0])
        scene.add(pr.DirectionalLight(intensity=intensity), pose=light_pose(gl_direction))
        colour, depth = self._draw(scene)
        return colour[..., :3], depth

    def render_photo(self, people: list[tuple[np.ndarray, np.ndarray]], K: np.ndarray,
                     lighting: synth_look.Lighting) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``people``: (camera-frame vertices (V, 3), vertex colours (V, 3) in [0, 1]) each, the
        labelled person first -> colour (res, res, 3) uint8, depth (res, res) (0 = empty) under
        key, fill and ambient light, and (moderngl only; else None) the labelled person's part
        labels where they show (:meth:`render_parts`, minus what the others hide)."""
        import trimesh

        from openhmr.render import light_pose

        if self.gl is not None:
            coded = [(v, c, self.vertex_code if k == 0 else None) for k, (v, c) in enumerate(people)]
            colour, depth, codes = self.gl.draw(coded, K, lighting.ambient, [lighting.key, lighting.fill])
            return colour, depth, np.rint(codes / PART_CODE_STEP).astype(np.uint8)
        pr = self.pyrender
        scene = pr.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=lighting.ambient)
        for vertices, colours in people:
            mesh = trimesh.Trimesh(vertices * np.array([1.0, -1.0, -1.0]), self.body.faces.numpy(), process=False)
            mesh.visual.vertex_colors = (np.c_[np.clip(colours, 0, 1), np.ones(len(colours))] * 255).astype(np.uint8)
            scene.add(pr.Mesh.from_trimesh(mesh, smooth=True))
        scene.add(pr.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2], K[1, 2], zfar=1e4), pose=np.eye(4))
        for intensity, direction, colour in (lighting.key, lighting.fill):
            scene.add(pr.DirectionalLight(color=colour, intensity=intensity), pose=light_pose(direction * np.array([1.0, -1.0, -1.0])))
        colour, depth = self._draw(scene)
        return colour[..., :3], depth, None

    def render_parts(self, vertices: np.ndarray, K: np.ndarray) -> np.ndarray:
        """Camera-frame vertices (V, 3) -> part labels (res, res) uint8: 0 background, 1 + the
        index in :data:`openhmr.body.parts.PART_NAMES` (flat colours, no lighting)."""
        return self.render_parts_and_depth(vertices, K)[0]

    def render_parts_and_depth(self, vertices: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`render_parts` and the depth buffer (res, res), 0 = empty."""
        import trimesh

        if self.gl is not None:
            _, depth, codes = self.gl.draw([(vertices, np.zeros_like(vertices), self.vertex_code)], K, np.zeros(3), [], lit=False)
            return np.rint(codes / PART_CODE_STEP).astype(np.uint8), depth

        pr = self.pyrender
        mesh = trimesh.Trimesh(vertices * np.array([1.0, -1.0, -1.0]), self.body.faces.numpy(), process=False)
        codes = (self.face_part + 1) * PART_CODE_STEP
        mesh.visual.face_colors = np.c_[codes, codes, codes, np.full_like(codes, 255)].astype(np.uint8)
        scene = pr.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=[1.0, 1.0, 1.0])
        scene.add(pr.Mesh.from_trimesh(mesh, smooth=False))
        scene.add(pr.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2], K[1, 2], zfar=1e4), pose=np.eye(4))
        colour, depth = self._draw(scene, flags=pr.RenderFlags.FLAT)
        labels = np.rint(colour[..., 0] / PART_CODE_STEP).astype(np.uint8)
        return np.where(depth > 0, labels, 0).astype(np.uint8), depth

    def close(self):
        if self.gl is not None:
            self.gl.close()
        else:
            self.renderer.delete()
