"""``openhmr synth``: labelled images of Anny bodies driven by real motion capture.

Every image is a pure function of (seed, index): pose from the bank, phenotype from Anny's
shape distribution (children to elderly), a turn about the vertical and a small tilt, a
weak-perspective camera with focal jitter (sometimes pushing the body past the border), and
one of two looks. ``plain`` (the first sets): clothes-like colours per body part, one light,
a procedural or photographic background, sometimes an occluding box. ``photo``: skin tones,
hair, clothes with sleeves and patterns (:mod:`openhmr.data.synth_look`), key + fill +
ambient light matched to a real backdrop, wide to tele lenses and camera pitch, cuts at the
knees, hips or chest, a second person beside, behind or in front, and the camera's blur,
noise and JPEG (:mod:`openhmr.data.photo_effects`). So an interrupted run resumes by
skipping the images already on disk (their labels are recomputed, without rendering), and no
half-written image ever exists (atomic writes). Labels follow SPIN's fields (see
:func:`generate`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import torch

from openhmr.body.anny_body import AnnyBody
from openhmr.data import photo_effects, synth_look
from openhmr.data.synth_renderer import RENDERERS, SynthRenderer
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
    # The ``photo`` look's extras (it leaves colours, stripes and light unused); None: ``plain``.
    photo: PhotoLook | None = None


LOOKS = ("plain", "photo")
# The development data's backdrops (the README's data section), used when present and no
# folder is named; relative to the working folder, like the other data paths.
DEFAULT_BACKGROUNDS = "../shared/data/backgrounds"


def default_backgrounds() -> str | None:
    """:data:`DEFAULT_BACKGROUNDS` when that folder exists, else None (procedural backdrops)."""
    return DEFAULT_BACKGROUNDS if Path(DEFAULT_BACKGROUNDS).is_dir() else None


CUTS = {"knees": (13, 14), "hips": (11, 12), "chest": (5, 6, 11, 12)}  # COCO-23 keypoints whose mean height is cut


@dataclasses.dataclass
class Companion:
    """A second person in the picture: beside, behind or partly in front of the labelled one."""

    pose_index: int
    global_orient: torch.Tensor  # (3,)
    shape: torch.Tensor  # (6,)
    offset: np.ndarray  # (3,) metres from the labelled person's root, camera axes
    outfit: synth_look.Outfit


@dataclasses.dataclass
class PhotoLook:
    outfit: synth_look.Outfit
    light_seed: int  # the lighting is drawn at render time, matched to the backdrop
    effects: photo_effects.Effects
    cut: str | None  # a key of CUTS: the frame's lower edge at that height of the body
    companion: Companion | None
    procedural_backdrop: bool  # True: a gradient even when photos are given


def sample_scene(rng: np.random.Generator, bank: PoseBank, shape: torch.Tensor, pick=None) -> Scene:
    """A scene in the ``plain`` look; ``pick(rng)`` chooses the bank index (default: uniform)."""
    yaw = rng.uniform(-np.pi, np.pi)
    tilt = rng.normal(0.0, np.radians(8.0), 2)
    turn = axis_angle_to_matrix(torch.tensor([tilt[0], yaw, tilt[1]], dtype=torch.float32))
    index = int(rng.integers(len(bank))) if pick is None else pick(rng)
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


def sample_photo_scene(rng: np.random.Generator, bank: PoseBank, shape: torch.Tensor, other_shape, pick=None) -> Scene:
    """A scene in the ``photo`` look; ``other_shape(rng)`` draws a second person's shape,
    ``pick(rng)`` a bank index (default: uniform)."""
    pick = pick or (lambda r: int(r.integers(len(bank))))
    yaw = rng.uniform(-np.pi, np.pi)
    pitch, roll = rng.normal(np.radians(5.0), np.radians(12.0)), rng.normal(0.0, np.radians(4.0))
    turn = axis_angle_to_matrix(torch.tensor([pitch, yaw, roll], dtype=torch.float32))
    index = pick(rng)
    global_orient = matrix_to_axis_angle(turn @ axis_angle_to_matrix(torch.from_numpy(bank.global_orient[index])))
    cam = torch.tensor([rng.uniform(0.7, 1.0), *rng.normal(0.0, 0.06, 2)], dtype=torch.float32)
    focal = float(np.exp(rng.uniform(np.log(250.0), np.log(5000.0))))  # wide (about 24 mm) to tele
    cut = str(rng.choice(list(CUTS), p=[0.4, 0.35, 0.25])) if rng.random() < 0.2 else None
    occluder = None
    if rng.random() < 0.15:
        x, y = rng.uniform(0.0, 0.8, 2)
        occluder = (x, y, x + rng.uniform(0.1, 0.35), y + rng.uniform(0.1, 0.35))
    companion = None
    if rng.random() < 0.15:
        where = rng.choice(["beside", "behind", "front"])
        side = rng.choice([-1.0, 1.0])
        dx, dz = {"beside": (rng.uniform(0.45, 0.9), rng.uniform(0.0, 0.6)), "behind": (rng.uniform(0.0, 0.7), rng.uniform(1.0, 4.0)),
                  "front": (rng.uniform(0.35, 0.6), -rng.uniform(0.4, 0.9))}[where]
        other = pick(rng)
        other_turn = axis_angle_to_matrix(torch.tensor([0.0, rng.uniform(-np.pi, np.pi), 0.0], dtype=torch.float32))
        other_shape_ = other_shape(rng)
        companion = Companion(other, matrix_to_axis_angle(other_turn @ axis_angle_to_matrix(torch.from_numpy(bank.global_orient[other]))),
                              other_shape_, np.array([side * dx, rng.normal(0.0, 0.05), dz]),
                              synth_look.sample_outfit(rng, float(other_shape_[1])))
    photo = PhotoLook(synth_look.sample_outfit(rng, float(shape[1])), int(rng.integers(2**31)), photo_effects.sample_effects(rng),
                      cut, companion, bool(rng.random() < 0.15))
    return Scene(index, global_orient, shape, cam, focal, np.zeros((4, 3)), None, (0.0, np.zeros(3)), int(rng.integers(2**31)),
                 occluder, photo)


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


def scenes_labels(body: AnnyBody, bank: PoseBank, scenes: list[Scene], res: int) -> list[tuple]:
    """For each scene: vertices, keypoints and joints (camera frame, translated), pixel
    keypoints, K, and the second person's vertices (or None); the bodies posed in one batch
    (about ten times faster per body than one at a time)."""
    def posed(people):
        with torch.no_grad():
            return body(torch.stack([p.global_orient for p in people]),
                        torch.from_numpy(np.stack([bank.body_pose[p.pose_index] for p in people])),
                        torch.stack([p.shape for p in people]))

    out = posed(scenes)
    keypoints, _ = out.keypoints_as(KEYPOINTS)
    companions = [s.photo.companion for s in scenes if s.photo is not None and s.photo.companion is not None]
    others = iter(posed(companions).vertices if companions else [])
    labels = []
    for k, scene in enumerate(scenes):
        cam = scene.cam
        if scene.photo is not None and scene.photo.cut is not None:
            cam = cut_camera(out.vertices[k], keypoints[k], scene.photo.cut, cam)
        translation = weak_to_translation(cam[None], torch.tensor([scene.focal]), res)[0]
        K = intrinsics(torch.tensor(scene.focal), torch.tensor([res / 2, res / 2]))
        kp_cam = keypoints[k] + translation
        pixels = perspective_project(kp_cam[None], torch.zeros(1, 3), K[None])[0]
        other = None
        if scene.photo is not None and scene.photo.companion is not None:  # its root offset from the labelled person's
            other = next(others) + translation + torch.from_numpy(scene.photo.companion.offset).float()
        labels.append((out.vertices[k] + translation, kp_cam, out.joints[k] + translation, pixels, K, other))
    return labels


def cut_camera(vertices: torch.Tensor, keypoints: torch.Tensor, cut: str, cam: torch.Tensor) -> torch.Tensor:
    """The weak-perspective camera (3,) that frames the body (root-relative ``vertices`` (V, 3),
    ``keypoints`` (23, 3)) from the top of the head, 5 % below the upper edge, down to the
    height of ``cut`` (a key of :data:`CUTS`) at the lower edge, as a photo cut there would;
    ``cam`` unchanged when that height is not below the head (people upside down)."""
    top = float(vertices[:, 1].min())
    bottom = float(keypoints[list(CUTS[cut]), 1].mean())
    if bottom - top < 0.2:
        return cam
    # pixel = (s (y + ty) + 1) res / 2 at the root's depth: the top at 0.05 res, the cut at res.
    s = 1.9 / (bottom - top)
    return torch.stack([torch.tensor(s), cam[1], torch.tensor(-0.9 / s - top)]).float()


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


def clip_scenes(rng: np.random.Generator, bank: PoseBank, shape: torch.Tensor, indices: list[int], look: str = "plain") -> list[Scene]:
    """One scene (camera, body, clothes, light, background, and in the ``photo`` look the
    outfit, backdrop and camera effects) for consecutive bank frames ``indices``: the frames of
    a video clip. Never truncated, never occluded, one person."""
    if look == "photo":
        first = sample_photo_scene(rng, bank, shape, lambda _: shape)
        first = dataclasses.replace(first, photo=dataclasses.replace(first.photo, cut=None, companion=None))
    else:
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
    look: str = "photo",
    extra_poses: str | Path | None = None,
    extra_share: float = 0.3,
    renderer: str = "moderngl",
    workers: int = 1,
    _part: tuple[int, int] | None = None,
) -> Path:
    """Render ``num`` images into ``out/images`` and write ``out/annotations.npz`` with
    ``imgname, center, scale, part (N, 23, 3)`` pixels + visibility and ``S (N, 23, 4)``
    camera-frame metres + confidence, both COCO-23 (``keypoint_convention``), ``joints (N, 31,
    3)`` the rig's joints, ``pose (N, 31 * 3)`` (global orientation first), ``shape (N, 6)``,
    ``has_smpl`` (here: has body-model parameters), ``cam_K (N, 3, 3)``, ``body_model``,
    ``clip_id``, ``clip_names``, and ``maskname``: each image's part mask beside it
    (``images/<n>.mask.png``, one byte per pixel: 0 background, 1 + the part's index in
    :data:`openhmr.body.parts.PART_NAMES`; the occluder cut out).

    ``renderer``: ``moderngl`` (default) or ``pyrender``, recorded as ``renderer``. ``workers``:
    processes that render (one GL context and one thread each); the labels are then gathered
    here. (``_part``: (k, n), the worker that renders every n-th image from the k-th and writes
    no annotations.)
    ``look``: ``photo`` (default) or ``plain`` (see the module's docstring); ``backgrounds``
    a folder of photos without people to crop backdrops from (the ``photo`` look still draws
    15 % procedural ones). ``extra_poses``: a second bank (e.g. poses from photos, see
    :mod:`openhmr.mocap.photo_poses`) that poses ``extra_share`` of the images; its clips
    follow those of ``poses`` in ``clip_names``.

    ``clip`` (a clip name of the bank, or its number): instead, a video of ``num`` consecutive
    frames of that clip (every ``clip_step``-th bank frame) in one scene, also written as
    ``out/clip.mp4`` at ``fps``; the annotations gain ``fps``. The clip is drawn in ``look`` too."""
    from tqdm import tqdm

    if look not in LOOKS:
        raise OpenHMRError(f"Unknown look {look!r}; choose one of {', '.join(LOOKS)}.")
    if renderer not in RENDERERS:
        raise OpenHMRError(f"Unknown renderer {renderer!r}; choose one of {', '.join(RENDERERS)}.")
    bank = PoseBank.load(poses)
    pick = None
    if extra_poses is not None and extra_share > 0:
        extra = PoseBank.load(extra_poses)
        if extra.body_model != bank.body_model:
            raise OpenHMRError(f"{extra_poses} holds {extra.body_model} poses, {poses} {bank.body_model} ones.")
        main_count, extra_count = len(bank), len(extra)
        bank = PoseBank.concatenate([bank, extra])

        def pick(rng: np.random.Generator) -> int:
            return main_count + int(rng.integers(extra_count)) if rng.random() < extra_share else int(rng.integers(main_count))
    if bank.body_model != "anny":
        raise OpenHMRError(f"{poses} holds {bank.body_model} poses; the generator renders the Anny body.")
    photos = []
    if backgrounds:
        photos = sorted(p for p in Path(backgrounds).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not photos:
            raise OpenHMRError(f"No .jpg/.png photos under {backgrounds}.")
    body = AnnyBody()

    def sampled_shape(rng: np.random.Generator) -> torch.Tensor:
        # Anny's population model, through the body's pool of people drawn once (drawing one
        # person from the model itself rebuilt its distributions: 12 ms an image).
        return body.sample_shapes(1, torch.Generator().manual_seed(int(rng.integers(2**31))))[0].float()

    if clip is None:
        def scene_of(i: int) -> Scene:
            rng = np.random.default_rng([seed, i])
            if look == "photo":
                return sample_photo_scene(rng, bank, sampled_shape(rng), sampled_shape, pick)
            return sample_scene(rng, bank, sampled_shape(rng), pick)
    else:
        rng = np.random.default_rng([seed])
        scenes = clip_scenes(rng, bank, sampled_shape(rng), clip_frames(bank, clip, num, clip_step), look)
        scene_of = scenes.__getitem__
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    if workers > 1 and clip is None and _part is None and not all(
        (out / "images" / f).exists() for i in range(num) for f in (f"{i:07d}.jpg", f".{i:07d}.vis.npy", f"{i:07d}.mask.png")
    ):
        _render_in_workers({"poses": poses, "num": num, "out": out, "seed": seed, "res": res, "backgrounds": backgrounds,
                            "progress": progress, "look": look, "extra_poses": extra_poses, "extra_share": extra_share,
                            "renderer": renderer}, workers)  # fmt: skip
    indices = range(num) if _part is None else range(_part[0], num, _part[1])
    drawer = None
    fields: dict[str, list] = {k: [] for k in ("imgname", "maskname", "part", "S", "joints", "pose", "shape", "cam_K", "clip_id")}
    try:
        bar = tqdm(total=len(indices), desc="synth" if _part is None else f"synth worker {_part[0] + 1}/{_part[1]}", unit="img",
                   disable=not progress)
        for i, scene, (vertices, kp_cam, joints, pixels, K, others) in _labelled_scenes(body, bank, scene_of, indices, res):
            bar.update()
            name, mask_name = f"images/{i:07d}.jpg", f"images/{i:07d}.mask.png"
            # Visibility needs the depth buffer, so it is stored (before the image) for resuming.
            vis_path = out / "images" / f".{i:07d}.vis.npy"
            labels = None  # the part labels, when the image's own pass drew them
            if (out / name).exists() and vis_path.exists():
                vis = np.load(vis_path)
            else:
                drawer = drawer or SynthRenderer(body, res, backend=renderer)
                vis, labels = _render_image(drawer, vertices, others, K, scene, pixels, kp_cam, res, photos, out / name, vis_path)
            if not (out / mask_name).exists():
                drawer = drawer or SynthRenderer(body, res, backend=renderer)
                labels = visible_parts(drawer, vertices, others, K) if labels is None else labels
                write_mask(out / mask_name, labels, scene.occluder)
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
        bar.close()
    finally:
        if drawer is not None:
            drawer.close()
    if _part is not None:
        return out
    arrays = {k: np.asarray(v) for k, v in fields.items()}
    arrays.update(
        center=np.full((num, 2), res / 2.0),
        scale=np.full(num, res / 200.0),
        has_smpl=np.ones(num),
        body_model=np.array("anny"),
        keypoint_convention=np.array(KEYPOINTS),
        renderer=np.array(renderer),
        clip_names=bank.clip_names,
    )
    if clip is not None:
        arrays["fps"] = np.array(float(fps))
        write_video(out / "clip.mp4", [out / n for n in fields["imgname"]], fps)
    path = out / "annotations.npz"
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


LABEL_BATCH = 32  # scenes whose bodies are posed together


def _labelled_scenes(body: AnnyBody, bank: PoseBank, scene_of, indices: range, res: int):
    """(index, scene, its labels from :func:`scenes_labels`) for the images ``indices``, posed in batches of :data:`LABEL_BATCH`."""
    for start in range(0, len(indices), LABEL_BATCH):
        batch = indices[start : start + LABEL_BATCH]
        scenes = [scene_of(i) for i in batch]
        yield from zip(batch, scenes, scenes_labels(body, bank, scenes, res))


def _render_in_workers(settings: dict, workers: int) -> None:
    """:func:`generate`'s images (and masks) rendered by ``workers`` processes, each with every
    ``workers``-th image; started fresh (spawn), as a GL context does not survive a fork."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_render_part, args=(settings, (k, workers))) for k in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise OpenHMRError(f"{len(failed)} of {workers} synth workers failed (exit codes {failed}); rerun the same command to resume.")


def _render_part(settings: dict, part: tuple[int, int]) -> None:
    # One thread per worker, Mesa's rasteriser included (it starts one per core by default, so
    # n workers oversubscribed the cores n times over).
    os.environ["LP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    generate(**{**settings, "progress": settings["progress"] and part[0] == 0}, _part=part)


def _render_image(renderer: SynthRenderer, vertices, others, K, scene: Scene, pixels, kp_cam, res: int, photos: list[Path],
                  image_path: Path, vis_path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Render, composite and write one image and its keypoint visibility; returns it (K,) and
    the visible part labels (res, res) when the renderer drew them in the same pass (else None)."""
    from PIL import Image

    quality, labels = 92, None
    if scene.photo is None:
        colour, depth = renderer.render(vertices.numpy(), K.numpy(), scene)
        image = np.where((depth > 0)[..., None], colour, background(scene.background_seed, res, photos))
        if scene.occluder is not None:
            x0, y0, x1, y1 = (np.array(scene.occluder) * res).astype(int).tolist()
            image[y0:y1, x0:x1] = np.random.default_rng(scene.background_seed).uniform(0, 255, 3).astype(np.uint8)
    else:
        image, depth, labels = _render_photo(renderer, vertices, others, K, scene, res, photos)
        quality = scene.photo.effects.jpeg_quality
    vis = visibility(pixels.numpy(), kp_cam[:, 2].numpy(), depth, scene, res)
    with atomic_path(vis_path) as tmp, open(tmp, "wb") as f:
        np.save(f, vis)
    with atomic_path(image_path) as tmp:
        Image.fromarray(image.astype(np.uint8)).save(tmp, format="JPEG", quality=quality)
    return vis, labels


def _render_photo(renderer: SynthRenderer, vertices, others, K, scene: Scene, res: int, photos: list[Path]):
    """The ``photo`` look: (res, res, 3) uint8 image, the depth (res, res) of everyone drawn, and
    the labelled person's visible part labels (or None: see :meth:`SynthRenderer.render_photo`)."""
    look = scene.photo
    rng = np.random.default_rng(scene.background_seed)
    if photos and not look.procedural_backdrop:
        backdrop = photo_effects.photo_backdrop(rng, photos[int(rng.integers(len(photos)))], res)
    else:
        backdrop = background(scene.background_seed, res, [])
    lighting = synth_look.sample_lighting(np.random.default_rng(look.light_seed), backdrop.reshape(-1, 3).mean(0) / 255.0)
    people = [(vertices.numpy(), synth_look.vertex_colours(renderer.regions, look.outfit))]
    if others is not None:
        people.append((others.numpy(), synth_look.vertex_colours(renderer.regions, look.companion.outfit)))
    colour, depth, labels = renderer.render_photo(people, K.numpy(), lighting)
    covered = depth > 0
    if scene.occluder is not None:  # an object in front: a patch of another backdrop
        x0, y0, x1, y1 = (np.array(scene.occluder) * res).astype(int).tolist()
        patch = photo_effects.photo_backdrop(rng, photos[int(rng.integers(len(photos)))], res) if photos else \
            np.broadcast_to(rng.uniform(0, 255, 3).astype(np.uint8), (res, res, 3))
        colour, covered = colour.copy(), covered.copy()
        colour[y0:y1, x0:x1], covered[y0:y1, x0:x1] = patch[y0:y1, x0:x1], True
    return photo_effects.composite(colour, covered, backdrop, look.effects, rng), depth, labels


def visible_parts(renderer: SynthRenderer, vertices: torch.Tensor, others: torch.Tensor | None, K: torch.Tensor) -> np.ndarray:
    """(res, res) uint8 part labels of the person (vertices (V, 3)) where no second person
    (``others`` (V, 3) or None) stands in front."""
    labels, depth = renderer.render_parts_and_depth(vertices.numpy(), K.numpy())
    if others is not None:
        _, in_front = renderer.render_parts_and_depth(others.numpy(), K.numpy())
        labels[(in_front > 0) & (in_front < depth)] = 0
    return labels


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
