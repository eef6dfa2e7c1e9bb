"""``openhmr synth``: labelled images of Anny bodies driven by real motion capture.

Every image is a pure function of (seed, index): pose from the bank, phenotype from Anny's
shape distribution (children to elderly), a turn about the vertical and a small tilt, a
weak-perspective camera with focal jitter (sometimes pushing the body past the border),
clothes-like colours per body part, a procedural or photographic background, and sometimes
an occluding box. So an interrupted run resumes by skipping the images already on disk
(their labels are recomputed, without rendering), and no half-written image ever exists
(atomic writes). Labels follow SPIN's fields (see :func:`generate`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from openhmr.body.anny_body import AnnyBody
from openhmr.errors import OpenHMRError
from openhmr.geometry.camera import (
    CROP_RES,
    intrinsics,
    perspective_project,
    weak_to_translation,
)
from openhmr.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from openhmr.io import atomic_path
from openhmr.mocap.pose_bank import PoseBank

KEYPOINTS = "coco23"
# A keypoint counts as seen when no surface lies more than this in front of it (metres):
# regressed joints sit inside the body, about half a limb's thickness below the skin.
VISIBILITY_SLACK = 0.12

_PART_OF_BONE = {  # colour groups: 0 skin, 1 top, 2 bottom, 3 shoes
    "Hips": 2, "LHipJoint": 2, "RHipJoint": 2, "LeftUpLeg": 2, "RightUpLeg": 2, "LeftLeg": 2, "RightLeg": 2,
    "LeftFoot": 3, "RightFoot": 3, "LeftToeBase": 3, "RightToeBase": 3,
    "LowerBack": 1, "Spine": 1, "Spine1": 1, "LeftShoulder": 1, "RightShoulder": 1, "LeftArm": 1, "RightArm": 1,
}  # fmt: skip


PART_CODE_STEP = 40  # part k is drawn in grey level 40 (k + 1): far apart, read back by rounding


@dataclasses.dataclass
class Scene:
    """Everything one image depends on."""

    pose_index: int
    global_orient: torch.Tensor  # (3,) camera axes
    shape: torch.Tensor  # (6,)
    cam: torch.Tensor  # (3,) weak perspective
    focal: float  # crop pixels
    colours: np.ndarray  # (4, 3) per part, in [0, 1]
    stripes: tuple[float, float] | None  # frequency (per metre) and phase of striped clothes
    light: tuple[float, np.ndarray]  # intensity, direction (3,) the light travels, camera axes
    background_seed: int
    occluder: tuple[float, float, float, float] | None  # x0, y0, x1, y1 in [0, 1]


def sample_scene(rng: np.random.Generator, bank: PoseBank, shape: torch.Tensor) -> Scene:
    yaw = rng.uniform(-np.pi, np.pi)
    tilt = rng.normal(0.0, np.radians(8.0), 2)
    turn = axis_angle_to_matrix(torch.tensor([tilt[0], yaw, tilt[1]], dtype=torch.float32))
    index = int(rng.integers(len(bank)))
    global_orient = matrix_to_axis_angle(turn @ axis_angle_to_matrix(torch.from_numpy(bank.global_orient[index])))
    spread = 0.35 if rng.random() < 0.1 else 0.08  # one image in ten is truncated at the border
    cam = torch.tensor([rng.uniform(0.75, 1.0), *rng.normal(0.0, spread, 2)], dtype=torch.float32)
    skin = np.array([0.95, 0.8, 0.7]) * rng.uniform(0.35, 1.0)
    colours = np.vstack([skin, rng.uniform(0.05, 0.95, (3, 3))])
    stripes = (float(rng.uniform(8.0, 30.0)), float(rng.uniform(0, 2 * np.pi))) if rng.random() < 0.4 else None
    direction = np.array([rng.normal(0, 0.5), rng.normal(0.5, 0.5), 1.0])  # from the camera side, mostly above
    light = (float(rng.uniform(2.0, 4.5)), direction / np.linalg.norm(direction))
    occluder = None
    if rng.random() < 0.25:
        x, y = rng.uniform(0.0, 0.8, 2)
        occluder = (x, y, x + rng.uniform(0.1, 0.4), y + rng.uniform(0.1, 0.4))
    focal = float(rng.uniform(1000.0, 5000.0))
    return Scene(index, global_orient, shape, cam, focal, colours, stripes, light, int(rng.integers(2**31)), occluder)


def background(seed: int, res: int, photos: list[Path]) -> np.ndarray:
    """(res, res, 3) uint8: a random crop of a photo, or a noisy two-colour gradient."""
    rng = np.random.default_rng(seed)
    if photos:
        from PIL import Image

        with Image.open(photos[int(rng.integers(len(photos)))]) as im:
            image = np.asarray(im.convert("RGB"))
        h, w = image.shape[:2]
        side = int(min(h, w) * rng.uniform(0.3, 1.0))
        y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
        return np.asarray(Image.fromarray(image[y : y + side, x : x + side]).resize((res, res)))
    a, b = rng.uniform(0, 255, (2, 3))
    t = np.linspace(0.0, 1.0, res)[:, None, None]
    if rng.random() < 0.5:
        t = t.transpose(1, 0, 2)
    noise = rng.normal(0.0, 12.0, (res, res, 1))
    return np.clip(a + (b - a) * t + noise, 0, 255).astype(np.uint8)


class SynthRenderer:
    """Renders scenes of one Anny body with pyrender; create it inside the worker process."""

    # OSMesa keeps about 3.6 MB per rendered scene inside its context, although pyrender
    # deletes each mesh's buffers (measured with pyrender-maintained 1.0.1, PyOpenGL 3.1.10:
    # a process had grown to 19.8 GB after 4,300 renders); a fresh context every so often frees it.
    RENEW_EVERY = 200

    def __init__(self, body: AnnyBody, res: int, renew_every: int = RENEW_EVERY):
        import os

        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
        import pyrender

        self.pyrender = pyrender
        self.body, self.res = body, res
        from openhmr.body.parts import face_parts

        dominant = body.dominant_joints()
        self.part = np.array([_PART_OF_BONE.get(body.joint_names[int(b)], 0) for b in dominant])
        self.face_part = face_parts(body)  # for the part masks
        self.renderer = pyrender.OffscreenRenderer(res, res)
        self.renew_every, self.renders = renew_every, 0

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

        pr = self.pyrender
        colours = scene_params.colours[self.part]
        if scene_params.stripes is not None:
            # Clothes-like texture: stripes across the clothed parts, along the body's height.
            frequency, phase = scene_params.stripes
            band = np.sign(np.sin(frequency * vertices[:, 1] + phase))
            colours = np.where((self.part > 0)[:, None], colours * (0.8 + 0.2 * band[:, None]), colours)
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

    def render_parts(self, vertices: np.ndarray, K: np.ndarray) -> np.ndarray:
        """Camera-frame vertices (V, 3) -> part labels (res, res) uint8: 0 background, 1 + the
        index in :data:`openhmr.body.parts.PART_NAMES` (flat colours, no lighting)."""
        import trimesh

        pr = self.pyrender
        mesh = trimesh.Trimesh(vertices * np.array([1.0, -1.0, -1.0]), self.body.faces.numpy(), process=False)
        codes = (self.face_part + 1) * PART_CODE_STEP
        mesh.visual.face_colors = np.c_[codes, codes, codes, np.full_like(codes, 255)].astype(np.uint8)
        scene = pr.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=[1.0, 1.0, 1.0])
        scene.add(pr.Mesh.from_trimesh(mesh, smooth=False))
        scene.add(pr.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2], K[1, 2], zfar=1e4), pose=np.eye(4))
        colour, depth = self._draw(scene, flags=pr.RenderFlags.FLAT)
        labels = np.rint(colour[..., 0] / PART_CODE_STEP).astype(np.uint8)
        return np.where(depth > 0, labels, 0).astype(np.uint8)

    def close(self):
        self.renderer.delete()


def scene_labels(body: AnnyBody, bank: PoseBank, scene: Scene, res: int):
    """Vertices, keypoints and joints (camera frame, translated), pixel keypoints, K."""
    with torch.no_grad():
        out = body(scene.global_orient[None], torch.from_numpy(bank.body_pose[scene.pose_index])[None], scene.shape[None])
    translation = weak_to_translation(scene.cam[None], torch.tensor([scene.focal]), res)[0]
    keypoints, _ = out.keypoints_as(KEYPOINTS)
    K = intrinsics(torch.tensor(scene.focal), torch.tensor([res / 2, res / 2]))
    kp_cam = keypoints[0] + translation
    pixels = perspective_project(kp_cam[None], torch.zeros(1, 3), K[None])[0]
    return out.vertices[0] + translation, kp_cam, out.joints[0] + translation, pixels, K


def visibility(pixels: np.ndarray, depths: np.ndarray, depth_map: np.ndarray | None, scene: Scene, res: int) -> np.ndarray:
    """1 where a keypoint is inside the image, not behind the surface, and not under the occluder."""
    inside = (pixels >= 0).all(1) & (pixels < res).all(1)
    seen = inside.copy()
    if depth_map is not None:
        for k in np.flatnonzero(inside):
            surface = depth_map[int(pixels[k, 1]), int(pixels[k, 0])]
            seen[k] = surface == 0 or depths[k] <= surface + VISIBILITY_SLACK
    if scene.occluder is not None:
        x0, y0, x1, y1 = (np.array(scene.occluder) * res).tolist()
        under = (pixels[:, 0] >= x0) & (pixels[:, 0] < x1) & (pixels[:, 1] >= y0) & (pixels[:, 1] < y1)
        seen &= ~under
    return seen.astype(np.float32)


def clip_scenes(rng: np.random.Generator, bank: PoseBank, shape: torch.Tensor, indices: list[int]) -> list[Scene]:
    """One scene (camera, body, clothes, light, background) for consecutive bank frames
    ``indices``: the frames of a video clip. Never truncated, never occluded."""
    first = sample_scene(rng, bank, shape)
    first = dataclasses.replace(first, cam=torch.tensor([0.85, 0.0, 0.0]), occluder=None)
    # The turn sample_scene gave the body, kept for every frame.
    turn = axis_angle_to_matrix(first.global_orient) @ axis_angle_to_matrix(torch.from_numpy(bank.global_orient[first.pose_index])).T
    return [
        dataclasses.replace(first, pose_index=int(i),
                            global_orient=matrix_to_axis_angle(turn @ axis_angle_to_matrix(torch.from_numpy(bank.global_orient[i]))))
        for i in indices
    ]


def generate(
    poses: str | Path,
    num: int,
    out: str | Path,
    seed: int = 0,
    res: int = CROP_RES,
    backgrounds: str | Path | None = None,
    progress: bool = True,
    clip: str | None = None,
    clip_step: int = 1,
    fps: float = 30.0,
) -> Path:
    """Render ``num`` images into ``out/images`` and write ``out/annotations.npz`` with
    ``imgname, center, scale, part (N, 23, 3)`` pixels + visibility and ``S (N, 23, 4)``
    camera-frame metres + confidence, both COCO-23 (``keypoint_convention``), ``joints (N, 31,
    3)`` the rig's joints, ``pose (N, 31 * 3)`` (global orientation first), ``shape (N, 6)``,
    ``has_smpl`` (here: has body-model parameters), ``cam_K (N, 3, 3)``, ``body_model``,
    ``clip_id``, ``clip_names``, and ``maskname``: each image's part mask beside it
    (``images/<n>.mask.png``, one byte per pixel: 0 background, 1 + the part's index in
    :data:`openhmr.body.parts.PART_NAMES`; the occluder cut out).

    ``clip`` (a clip name of the bank, or its number): instead, a video of ``num`` consecutive
    frames of that clip (every ``clip_step``-th bank frame) in one scene, also written as
    ``out/clip.mp4`` at ``fps``; the annotations gain ``fps``."""
    from anny.shape_distribution import SimpleShapeDistribution
    from tqdm import tqdm

    bank = PoseBank.load(poses)
    if bank.body_model != "anny":
        raise OpenHMRError(f"{poses} holds {bank.body_model} poses; the generator renders the Anny body.")
    photos = []
    if backgrounds:
        photos = sorted(p for p in Path(backgrounds).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not photos:
            raise OpenHMRError(f"No .jpg/.png photos under {backgrounds}.")
    body = AnnyBody()
    distribution = SimpleShapeDistribution(body.anny)

    def sampled_shape(rng: np.random.Generator) -> torch.Tensor:
        with torch.random.fork_rng():
            torch.manual_seed(int(rng.integers(2**31)))
            _, sampled = distribution.sample(1)
        return torch.tensor([float(sampled[k][0]) for k in body.anny.phenotype_labels], dtype=torch.float32)

    if clip is None:
        def scene_of(i: int) -> Scene:
            rng = np.random.default_rng([seed, i])
            return sample_scene(rng, bank, sampled_shape(rng))
    else:
        rng = np.random.default_rng([seed])
        scenes = clip_scenes(rng, bank, sampled_shape(rng), clip_frames(bank, clip, num, clip_step))
        scene_of = scenes.__getitem__
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    renderer = None
    fields: dict[str, list] = {k: [] for k in ("imgname", "maskname", "part", "S", "joints", "pose", "shape", "cam_K", "clip_id")}
    try:
        for i in tqdm(range(num), desc="synth", unit="img", disable=not progress):
            scene = scene_of(i)
            vertices, kp_cam, joints, pixels, K = scene_labels(body, bank, scene, res)
            name, mask_name = f"images/{i:07d}.jpg", f"images/{i:07d}.mask.png"
            # Visibility needs the depth buffer, so it is stored (before the image) for resuming.
            vis_path = out / "images" / f".{i:07d}.vis.npy"
            if (out / name).exists() and vis_path.exists():
                vis = np.load(vis_path)
            else:
                renderer = renderer or SynthRenderer(body, res)
                vis = _render_image(renderer, vertices, K, scene, pixels, kp_cam, res, photos, out / name, vis_path)
            if not (out / mask_name).exists():
                renderer = renderer or SynthRenderer(body, res)
                write_mask(out / mask_name, renderer.render_parts(vertices.numpy(), K.numpy()), scene.occluder)
            fields["imgname"].append(name)
            fields["maskname"].append(mask_name)
            fields["part"].append(np.c_[pixels.numpy(), vis])
            fields["S"].append(np.c_[kp_cam.numpy(), np.ones(len(kp_cam))])
            fields["joints"].append(joints.numpy())
            pose = torch.cat([scene.global_orient[None], torch.from_numpy(bank.body_pose[scene.pose_index])])
            fields["pose"].append(pose.reshape(-1).numpy())
            fields["shape"].append(scene.shape.numpy())
            fields["cam_K"].append(K.numpy())
            fields["clip_id"].append(int(bank.clip_id[scene.pose_index]))
    finally:
        if renderer is not None:
            renderer.close()
    arrays = {k: np.asarray(v) for k, v in fields.items()}
    arrays.update(
        center=np.full((num, 2), res / 2.0),
        scale=np.full(num, res / 200.0),
        has_smpl=np.ones(num),
        body_model=np.array("anny"),
        keypoint_convention=np.array(KEYPOINTS),
        clip_names=bank.clip_names,
    )
    if clip is not None:
        arrays["fps"] = np.array(float(fps))
        write_video(out / "clip.mp4", [out / n for n in fields["imgname"]], fps)
    path = out / "annotations.npz"
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def _render_image(renderer: SynthRenderer, vertices, K, scene: Scene, pixels, kp_cam, res: int, photos: list[Path],
                  image_path: Path, vis_path: Path) -> np.ndarray:
    """Render, composite and write one image and its keypoint visibility; returns it (K,)."""
    from PIL import Image

    colour, depth = renderer.render(vertices.numpy(), K.numpy(), scene)
    vis = visibility(pixels.numpy(), kp_cam[:, 2].numpy(), depth, scene, res)
    image = np.where((depth > 0)[..., None], colour, background(scene.background_seed, res, photos))
    if scene.occluder is not None:
        x0, y0, x1, y1 = (np.array(scene.occluder) * res).astype(int).tolist()
        image[y0:y1, x0:x1] = np.random.default_rng(scene.background_seed).uniform(0, 255, 3).astype(np.uint8)
    with atomic_path(vis_path) as tmp, open(tmp, "wb") as f:
        np.save(f, vis)
    with atomic_path(image_path) as tmp:
        Image.fromarray(image.astype(np.uint8)).save(tmp, format="JPEG", quality=92)
    return vis


def write_mask(path: Path, labels: np.ndarray, occluder: tuple[float, float, float, float] | None) -> Path:
    """The part labels (H, W) uint8 as a PNG, with the occluding box (if any) cut out: the
    mask shows the person as the image does."""
    from PIL import Image

    labels = labels.copy()
    if occluder is not None:
        height, width = labels.shape
        x0, y0, x1, y1 = (np.array(occluder) * [width, height, width, height]).astype(int).tolist()
        labels[y0:y1, x0:x1] = 0
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(labels, dtype=np.uint8)).save(tmp, format="PNG")
    return path


def clip_frames(bank: PoseBank, clip: str, num: int, step: int) -> list[int]:
    """Bank indices of ``num`` consecutive frames (every ``step``-th) of the clip named (or numbered) ``clip``."""
    names = [str(n) for n in bank.clip_names]
    if clip in names:
        clip_id = names.index(clip)
    elif clip.isdigit() and int(clip) < len(names):
        clip_id = int(clip)
    else:
        raise OpenHMRError(f"The pose bank has no clip {clip!r}; its clips: {', '.join(names[:8])}{' ...' if len(names) > 8 else ''}.")
    indices = np.flatnonzero(bank.clip_id == clip_id)
    indices = indices[np.argsort(bank.frame[indices], kind="stable")][::step]
    if len(indices) < num:
        raise OpenHMRError(f"Clip {names[clip_id]!r} has {len(indices)} frames at step {step}; {num} asked for.")
    return indices[:num].tolist()


def write_video(path: Path, images: list[Path], fps: float) -> Path:
    """The images, in order, as an MPEG-4 video (OpenCV's codec that every OpenCV reads)."""
    import cv2

    first = cv2.imread(str(images[0]))
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (first.shape[1], first.shape[0]))
        try:
            for image in images:
                writer.write(cv2.imread(str(image)))
        finally:
            writer.release()
    return path
