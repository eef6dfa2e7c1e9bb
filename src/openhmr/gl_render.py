"""Offscreen mesh drawing with moderngl on EGL: the synthetic images' fast path.

pyrender on OSMesa builds a scene, a trimesh and its normals for every picture; this draws the
same triangles with one GL context, per-vertex colours under ambient and directional lights
(Lambert, as pyrender's lights divided by π, written in sRGB) into colour, metric depth and
flat per-face codes (the part labels) in one pass. Inputs in openhmr's camera frame (x right, y down, z
forward, OpenCV). Mesa's llvmpipe runs it on the CPU where no GPU is present. Create it inside
the process that draws (a GL context does not survive a fork).
"""

from __future__ import annotations

import numpy as np

_VERTEX = """
#version 330
uniform vec4 intrinsics;  // fx, fy, cx, cy
uniform vec2 size;        // width, height
uniform vec2 clip;        // near, far
in vec3 position;
in vec3 normal;
in vec3 colour;
in float code;
out vec3 v_normal;
out vec3 v_colour;
out float v_depth;
flat out float v_code;  // a face's code is its first vertex's (the provoking vertex)
void main() {
    float z = position.z;
    float u = intrinsics.x * position.x + intrinsics.z * z;  // pixel x times z
    float v = intrinsics.y * position.y + intrinsics.w * z;
    float a = (clip.y + clip.x) / (clip.y - clip.x), b = -2.0 * clip.y * clip.x / (clip.y - clip.x);
    // Row 0 of the picture is the top: image y grows down, GL's upward, so y is negated.
    gl_Position = vec4(2.0 * u / size.x - z, -(2.0 * v / size.y - z), a * z + b, z);
    v_normal = normal;
    v_colour = colour;
    v_depth = z;
    v_code = code;
}
"""

_FRAGMENT = """
#version 330
uniform vec3 ambient;
uniform vec3 light_dir[2];    // the direction each light travels, camera frame
uniform vec3 light_colour[2]; // colour times intensity / pi
uniform int lit;
in vec3 v_normal;
in vec3 v_colour;
in float v_depth;
flat in float v_code;
layout(location = 0) out vec4 out_colour;
layout(location = 1) out float out_depth;
layout(location = 2) out vec4 out_code;
void main() {
    vec3 shade = vec3(1.0);
    if (lit == 1) {
        vec3 n = normalize(v_normal);
        if (!gl_FrontFacing) n = -n;
        shade = ambient;
        for (int i = 0; i < 2; ++i) shade += light_colour[i] * max(dot(n, -light_dir[i]), 0.0);
    }
    vec3 linear = clamp(v_colour * shade, 0.0, 1.0);
    // Lit pictures leave in sRGB (gamma 2.2), as pyrender writes them; labels stay exact.
    out_colour = vec4(lit == 1 ? pow(linear, vec3(1.0 / 2.2)) : linear, 1.0);
    out_depth = v_depth;
    out_code = vec4(v_code / 255.0, 0.0, 0.0, 1.0);
}
"""


class VertexNormals:
    """Smooth normals of meshes with the faces ``faces`` (F, 3): each vertex's is the
    area-weighted mean of its faces' normals, summed by a sparse vertex-face matrix (a few
    milliseconds for Anny, against about 20 for a scatter-add in torch)."""

    def __init__(self, faces: np.ndarray, num_vertices: int):
        import scipy.sparse

        self.faces = np.asarray(faces, np.int64)
        rows = self.faces.reshape(-1)
        cols = np.repeat(np.arange(len(self.faces)), 3)
        self.incidence = scipy.sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(num_vertices, len(self.faces)))

    def __call__(self, vertices: np.ndarray) -> np.ndarray:
        """vertices (V, 3) -> unit normals (V, 3) float32."""
        v = np.asarray(vertices, np.float32)
        a, b, c = v[self.faces[:, 0]], v[self.faces[:, 1]], v[self.faces[:, 2]]
        normals = self.incidence @ np.cross(b - a, c - a)
        return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


class GLRenderer:
    """Draws meshes of one topology (``faces`` (F, 3)) into ``res`` × ``res`` pictures."""

    NEAR, FAR = 0.05, 1e4

    def __init__(self, faces: np.ndarray, res: int, num_vertices: int | None = None):
        import moderngl

        self.ctx = moderngl.create_standalone_context(backend="egl")
        self.res, self.faces = res, np.ascontiguousarray(faces, dtype=np.int32)
        self.normals = VertexNormals(self.faces, num_vertices or int(self.faces.max()) + 1)
        self.program = self.ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        attachments = [self.ctx.renderbuffer((res, res), 4), self.ctx.renderbuffer((res, res), 1, dtype="f4"),
                       self.ctx.renderbuffer((res, res), 4)]  # colour, depth in metres, face codes
        self.fbo = self.ctx.framebuffer(attachments, self.ctx.depth_renderbuffer((res, res)))
        self.ctx.enable(moderngl.DEPTH_TEST)
        self.ctx.provoking_vertex = moderngl.FIRST_VERTEX_CONVENTION
        self.index = self.ctx.buffer(self.faces.tobytes())

    def _set_camera(self, K: np.ndarray) -> None:
        self.program["intrinsics"].value = (float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]))
        self.program["size"].value = (float(self.res), float(self.res))
        self.program["clip"].value = (self.NEAR, self.FAR)

    def draw(self, people: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]], K: np.ndarray, ambient: np.ndarray,
             lights: list[tuple[float, np.ndarray, np.ndarray]], lit: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``people``: (vertices (V, 3), vertex colours (V, 3) in [0, 1], vertex codes (V,) 0-255 or
        None for 0) each; ``lights``: up to two (intensity, direction the light travels (3,), colour
        (3,)); ``lit=False`` draws the colours as they are. -> colour (res, res, 3) uint8 (sRGB
        when lit), depth (res, res) in metres along z (0 = empty), and codes (res, res) uint8:
        the code of each seen face's first vertex (0 = empty)."""
        self._set_camera(K)
        self.program["lit"].value = int(lit)
        self.program["ambient"].value = tuple(float(a) for a in ambient)
        padded = list(lights) + [(0.0, np.array([0.0, 0.0, 1.0]), np.zeros(3))] * (2 - len(lights))
        self.program["light_dir"].value = [tuple(float(x) for x in d / np.linalg.norm(d)) for _, d, _ in padded]
        self.program["light_colour"].value = [tuple(float(x) for x in c * i / np.pi) for i, _, c in padded]
        self.fbo.use()
        self.fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        for vertices, colours, codes in people:
            normals = self.normals(vertices) if lit else np.zeros_like(vertices)
            codes = np.zeros(len(vertices)) if codes is None else codes
            data = np.ascontiguousarray(np.c_[vertices, normals, colours, codes], dtype=np.float32)
            buffer = self.ctx.buffer(data.tobytes())
            vao = self.ctx.vertex_array(self.program, [(buffer, "3f 3f 3f 1f", "position", "normal", "colour", "code")], self.index)
            vao.render()
            vao.release()
            buffer.release()
        colour = np.frombuffer(self.fbo.read(components=3, attachment=0), np.uint8).reshape(self.res, self.res, 3)
        depth = np.frombuffer(self.fbo.read(components=1, attachment=1, dtype="f4"), np.float32).reshape(self.res, self.res)
        codes = np.frombuffer(self.fbo.read(components=1, attachment=2), np.uint8).reshape(self.res, self.res)
        # GL's first row is the bottom one.
        return colour[::-1].copy(), depth[::-1].copy(), codes[::-1].copy()

    def close(self) -> None:
        self.ctx.release()
