"""The Python API: ``model = openhmr.load_model(); result = model.predict(image)``.

A person's box -> square crop (224²) -> HMR -> body model -> the crop's weak-perspective
camera turned into a full-image perspective camera (CLIFF-style; focal length by default the
image diagonal in pixels, principal point at the image centre) -> 3D joints and mesh in that
camera's frame, 2D keypoints as the projection of the body's COCO-17 landmarks.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from openhmr.body import keypoints as kp
from openhmr.body import load_body_model
from openhmr.body.base import BodyModel
from openhmr.detect.crowd import CrowdDetector
from openhmr.detect.mediapipe import Detection, MediaPipeDetector, crop_rgb
from openhmr.detect.movenet import MoveNetDetector
from openhmr.detect.people import BlazePoseDetector
from openhmr.detect.upright import UprightTurn
from openhmr.errors import OpenHMRError
from openhmr.fit import FitSettings, FullImageCamera, Priors, Refiner
from openhmr.geometry.camera import CROP_RES, crop_cam_to_full, intrinsics
from openhmr.geometry.crop import crop_matrix, warp_image
from openhmr.geometry.rotations import matrix_to_axis_angle
from openhmr.nets.flip import final_answer
from openhmr.nets.upright import turned_back
from openhmr.nets.weights_io import load_hmr
from openhmr.predict.crops import Crops
from openhmr.predict.images import load_image
from openhmr.predict.refinement import coco17_confidence, evidence_targets
from openhmr.shipped import SHIPPED_WEIGHTS

log = logging.getLogger(__name__)
# What a person is made of: the HMRPrediction fields that _people reads.
PERSON_FIELDS = ("camera", "rotmats", "shape", "vertices", "joints3d", "keypoints3d")


@dataclasses.dataclass
class Person:
    """One person, everything in image pixels or the full-image camera frame (metres)."""

    bbox: tuple[float, float, float, float]
    score: float
    keypoints_2d: np.ndarray  # (17, 3) x, y, confidence (1: the body has the landmark)
    joints_3d: np.ndarray  # (J, 3)
    vertices: np.ndarray  # (V, 3)
    weak_perspective: np.ndarray  # (3,) s, tx, ty of the crop
    translation: np.ndarray  # (3,)
    K: np.ndarray  # (3, 3)
    pose: np.ndarray  # (J, 3) axis-angle, global orientation first
    shape: np.ndarray  # (S,)
    refined: bool = False  # refinement asked for and kept (see openhmr.fit)
    reprojection_error_px: tuple[float, float] | None = None  # before, after refinement (image pixels)


@dataclasses.dataclass
class Prediction:
    image: str
    width: int
    height: int
    body_model: str
    checkpoint: str
    people: list[Person]
    joint_names: tuple[str, ...]

    def to_dict(self, mesh_files: list[str | None] | None = None) -> dict:
        """The JSON document ``openhmr predict`` writes."""
        meshes = mesh_files or [None] * len(self.people)
        return {
            "image": self.image,
            "width": self.width,
            "height": self.height,
            "body_model": self.body_model,
            "checkpoint": self.checkpoint,
            "people": [
                {
                    "bbox": [round(v, 2) for v in p.bbox],
                    "score": round(p.score, 4),
                    "keypoints_2d": _rounded(p.keypoints_2d, 2),
                    "keypoint_names": list(kp.convention_names("coco17")),
                    "joints_3d": _rounded(p.joints_3d, 5),
                    "joint_names": list(self.joint_names),
                    "camera": {
                        "weak_perspective": _rounded(p.weak_perspective, 5),
                        "translation": _rounded(p.translation, 5),
                        "focal_length": round(float(p.K[0, 0]), 3),
                        "principal_point": _rounded(p.K[:2, 2], 3),
                        "K": _rounded(p.K, 4),
                    },
                    "pose": _rounded(p.pose, 5),
                    "shape": _rounded(p.shape, 5),
                    "mesh": mesh,
                    "refined": p.refined,
                    **({} if p.reprojection_error_px is None else {"reprojection_error_px": {
                        "before": round(p.reprojection_error_px[0], 2), "after": round(p.reprojection_error_px[1], 2)}}),
                }
                for p, mesh in zip(self.people, meshes)
            ],
        }


def _rounded(values: np.ndarray, decimals: int):
    """Nested lists of float64s rounded for JSON (float32s would print their binary noise)."""
    return np.round(np.asarray(values, dtype=np.float64), decimals).tolist()


DETECTORS = ("mediapipe", "blazepose", "movenet", "crowd")


class Model:
    """A trained HMR with its body model and (optionally) a person detector."""

    def __init__(self, hmr, body: BodyModel, checkpoint: str, device: str = "cpu", detector="mediapipe", batch_size: int = 16,
                 upright: bool = False, flip: bool = True):
        self.hmr = hmr.to(device).eval()
        self.upright = upright  # see openhmr.detect.upright and openhmr.nets.upright
        self.flip = flip  # see openhmr.nets.flip
        self._turn = None  # the UprightTurn, made on first use
        self.body = body
        self.checkpoint = checkpoint
        self.device = device
        self.batch_size = batch_size
        self._detector_choice = detector
        self._detector = None
        self._refiners: dict = {}
        self._priors = None
        self._onnx = None  # an OnnxNetwork running the network instead of PyTorch (use_onnx)
        self.fit_settings: FitSettings | None = None  # None: the defaults (docs/fitting.md)
        # COCO-17 is a subset of the network's keypoints (COCO-23): no second body pass needed.
        index, mask = kp.mapping(hmr.keypoint_names, "coco17")
        self.coco17_index = index
        self.coco17_mask = mask & hmr.keypoint_mask.cpu().index_select(0, index)

    def optimise_for_cpu(self) -> None:
        """Trace and freeze the encoder for inference (batch norm folded into the convolutions,
        oneDNN layouts): same outputs to float precision, faster on CPU. Crops must be 224²."""
        encoder = self.hmr.encoder.eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # TorchScript is in maintenance, still the CPU fast path
            traced = torch.jit.trace(encoder, torch.rand(2, 3, CROP_RES, CROP_RES, device=self.device), check_trace=False)
            self.hmr.encoder = torch.jit.optimize_for_inference(torch.jit.freeze(traced))

    def use_onnx(self, folder: str | Path | None = None, threads: int | None = None) -> Path:
        """Run the network (encoder + regressor, up to θ) with onnxruntime from now on; the
        body, the camera and refinement stay in PyTorch. ``folder``: files written by
        :func:`openhmr.predict.onnx.export_onnx` (default: this network's, exported once into
        the cache). Returns the folder used."""
        from openhmr.predict.onnx import OnnxNetwork, cached_export

        folder = Path(folder) if folder else cached_export(self)
        self._onnx = OnnxNetwork(folder, threads)
        return folder

    @property
    def detector(self):
        """The person detector, created on first use: "mediapipe" (MediaPipe Pose),
        "blazepose" (its PyTorch rebuild, :class:`openhmr.detect.people.BlazePoseDetector`) or
        "movenet" (MoveNet MultiPose, :class:`openhmr.detect.movenet.MoveNetDetector`) or "crowd"
        (MoveNet plus the CenterNet proposals it confirms, :class:`openhmr.detect.crowd.CrowdDetector`);
        None when unavailable (whole-image fallback)."""
        if self._detector is None and self._detector_choice in DETECTORS:
            try:
                kinds = {"mediapipe": MediaPipeDetector, "blazepose": BlazePoseDetector, "movenet": MoveNetDetector,
                         "crowd": CrowdDetector}
                self._detector = kinds[self._detector_choice]()
            except OpenHMRError as e:
                warnings.warn(f"No person detector ({e}); without --bbox the whole image is used.", stacklevel=2)
                self._detector_choice = None
        return self._detector

    def detect(self, image: np.ndarray) -> list[Detection]:
        detector = self.detector
        if detector is None:
            height, width = image.shape[:2]
            warnings.warn("No detector and no box: using the whole image as the person's box.", stacklevel=2)
            return [Detection((0.0, 0.0, float(width), float(height)), 0.0)]
        return detector(image)

    def crops(self, image: np.ndarray, boxes: list[Detection], focal_length: float | None = None, upright: bool | None = None) -> Crops:
        """The people of ``boxes`` cut from ``image`` (H, W, 3) uint8: square crops of
        CROP_RES² around each box, its longer side times the network's ``crop_margin`` (as it
        was trained: a box that is the tight extent of the person's landmarks is then framed
        as the training crops were). ``upright`` (default: the model's setting): each crop cut
        again, turned so the person stands upright (:meth:`turned`)."""
        centres = np.array([[x + w / 2, y + h / 2] for x, y, w, h in (d.bbox for d in boxes)])
        sizes = np.array([max(w, h) * self.hmr.crop_margin for _, _, w, h in (d.bbox for d in boxes)])
        plain = Crops(_tensor(_cut(image, centres, sizes)), centres, sizes, boxes, (image.shape[1], image.shape[0]), focal_length)
        return self.turned(image, plain) if (self.upright if upright is None else upright) else plain

    def turned(self, image: np.ndarray, crops: Crops) -> Crops:
        """Unturned ``crops`` of ``image`` cut again, each turned so its person stands upright
        (MediaPipe's person detector on the crop finds the turn: :mod:`openhmr.detect.upright`)."""
        if self._turn is None:
            self._turn = UprightTurn()
        angles = self._turn(crop_rgb(crops.images))
        images = _tensor(_cut(image, crops.centres, crops.sizes, angles))
        return dataclasses.replace(crops, images=images, angles=angles)

    @torch.no_grad()
    def run_crops(self, crops: torch.Tensor, flip: bool | None = None):
        """HMR's final iteration for (B, 3, 224, 224) crops, in chunks of ``batch_size``;
        ``flip`` (default: the model's setting): averaged with its answer on the mirrored crops."""
        flip = self.flip if flip is None else flip
        network = None if self._onnx is None else (lambda images: self.hmr.decode_theta(self._onnx(images).to(self.device), body=False))
        outs = [final_answer(self.hmr, chunk.to(self.device), flip, network) for chunk in crops.split(self.batch_size)]
        return {f: torch.cat([getattr(o, f) for o in outs]).cpu() for f in PERSON_FIELDS}

    def people_from_crops(self, crops: Crops, refine: str | None = None, flip: bool | None = None,
                          turned: Crops | None = None) -> list[Person]:  # fmt: skip
        """The people of ``crops``: what :meth:`predict` does after cropping (``flip``: see
        :meth:`run_crops`). With ``refine``, ``crops`` must be unturned (the fit works in their
        camera); ``refine="fit"`` starts from the network's answer on ``turned`` (the same people
        turned upright, :meth:`turned`) when given, else on ``crops``."""
        if refine is None:
            return _people(self._answer(crops, flip), crops, self.coco17_index, self.coco17_mask)
        if crops.angles is not None:
            raise OpenHMRError("Refinement fits in the unturned crop's camera: cut the crops with upright=False "
                               "and pass the turned ones as turned=.")
        return self._refined_people(crops, refine, self.flip if flip is None else flip, turned)

    def _answer(self, crops: Crops, flip: bool | None) -> dict[str, torch.Tensor]:
        """The network's outputs (PERSON_FIELDS, batch B) on ``crops``, in the unturned crop's frame."""
        out = self.run_crops(crops.images, flip)
        return out if crops.angles is None else turned_back(out, torch.from_numpy(crops.angles))

    def refiner(self, mode: str):
        """The :class:`openhmr.fit.Refiner` for ``mode`` ("fit" or "eft"), priors loaded once."""
        if mode not in self._refiners:
            self._priors = self._priors or Priors.for_checkpoint(self.checkpoint, self.body)
            self._refiners[mode] = Refiner(self.hmr, mode, self._priors, self.fit_settings)
        return self._refiners[mode]

    def _refined_people(self, crops: Crops, mode: str, flip: bool, turned: Crops | None) -> list[Person]:
        targets = evidence_targets(crops, self.detector)
        camera = FullImageCamera(crops.centres_t, crops.sizes_t, crops.image_sizes, crops.focal)
        start = None
        if turned is not None and mode == "fit":  # the upright network's answer, turned back
            start = self.refiner(mode).estimate(turned.images.to(self.device), flip, torch.from_numpy(turned.angles))
        result = self.refiner(mode)(crops.images.to(self.device), targets, camera, flip, start)
        with torch.no_grad():
            decoded = self.hmr.decode_params(result.params.camera, result.params.rotmats, result.params.shape)
        out = {f: getattr(decoded, f).cpu() for f in PERSON_FIELDS}
        people = _people(out, crops, self.coco17_index, self.coco17_mask)
        confidence = coco17_confidence(targets) * self.coco17_mask
        to_image = crops.sizes_t / CROP_RES
        for i, person in enumerate(people):
            person.refined = bool(result.accepted[i])
            person.keypoints_2d[:, 2] = confidence[i].numpy()
            if targets.confidence[i].max() > 0:
                person.reprojection_error_px = (float(result.error_before[i] * to_image[i]), float(result.error_after[i] * to_image[i]))
        return people

    @torch.no_grad()
    def predict(self, image, boxes: list[Detection] | None = None, focal_length: float | None = None, name: str | None = None,
                refine: str | None = None, upright: bool | None = None, flip: bool | None = None) -> Prediction:
        """``image``: a path or an (H, W, 3) uint8 RGB array; ``boxes``: people's boxes
        (default: detected); ``refine``: None, "fit" or "eft" (fit each body to its 2D
        evidence, see :mod:`openhmr.fit`); ``upright``: turn each crop upright first (default:
        the model's setting; ``refine="fit"`` fits in the unturned crop, from the answer on the
        turned one; ``eft`` tunes the network on the unturned crop); ``flip``: average the
        answer with the one on the mirrored crop (default: the model's setting; see
        :mod:`openhmr.nets.flip`; ``refine="fit"`` starts from that answer). Returns a
        :class:`Prediction` (``.to_dict()`` for JSON)."""
        if isinstance(image, (str, Path)):
            name = name or str(image)
            image = load_image(image)
        image = np.ascontiguousarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise OpenHMRError(f"Expected an (H, W, 3) uint8 RGB array; got {image.shape} {image.dtype}.")
        height, width = image.shape[:2]
        boxes = self.detect(image) if boxes is None else boxes
        people: list[Person] = []
        if boxes:
            turn = self.upright if upright is None else upright
            if refine is None:
                people = self.people_from_crops(self.crops(image, boxes, focal_length, turn), None, flip)
            else:  # the fit works in the unturned crop's camera, from the network's answer on the turned one
                plain = self.crops(image, boxes, focal_length, False)
                people = self.people_from_crops(plain, refine, flip, self.turned(image, plain) if turn and refine == "fit" else None)
        return Prediction(name or "<array>", width, height, self.body.name, self.checkpoint, people, self.body.joint_names)


def _cut(image: np.ndarray, centres: np.ndarray, sizes: np.ndarray, angles: np.ndarray | None = None) -> np.ndarray:
    """(B, CROP_RES, CROP_RES, 3) uint8: square crops of ``image`` at ``centres`` (B, 2) with
    sides ``sizes`` (B,), turned by ``angles`` (B,) degrees when given."""
    turns = np.zeros(len(centres)) if angles is None else angles
    return np.stack([warp_image(image, crop_matrix(c, s, CROP_RES, rotation=float(a)), CROP_RES) for c, s, a in zip(centres, sizes, turns)])


def _tensor(crops: np.ndarray) -> torch.Tensor:
    """(B, R, R, 3) uint8 -> (B, 3, R, R) float in [0, 1]."""
    return torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255


@torch.no_grad()
def _people(out: dict, crops: Crops, coco17_index, coco17_mask) -> list[Person]:
    """The network's outputs ``out`` (fields of PERSON_FIELDS, batch B) for ``crops`` as
    people in the full image's camera."""
    n, focal, size = len(crops), crops.focal, crops.image_sizes
    translation = crop_cam_to_full(out["camera"], crops.centres_t, crops.sizes_t, size, focal)
    K = intrinsics(focal, size / 2)
    coco = out["keypoints3d"].index_select(1, coco17_index) + translation[:, None]
    pixels = coco @ K.transpose(-1, -2)
    pixels = pixels[..., :2] / pixels[..., 2:]
    confidence = coco17_mask.float().expand(n, -1)[..., None]
    pose = matrix_to_axis_angle(out["rotmats"])
    return [
        Person(
            bbox=det.bbox, score=det.score,
            keypoints_2d=torch.cat([pixels[i], confidence[i]], dim=-1).numpy(),
            joints_3d=(out["joints3d"][i] + translation[i]).numpy(),
            vertices=(out["vertices"][i] + translation[i]).numpy(),
            weak_perspective=out["camera"][i].numpy(), translation=translation[i].numpy(), K=K[i].numpy(),
            pose=pose[i].numpy(), shape=out["shape"][i].numpy(),
        )
        for i, det in enumerate(crops.boxes)
    ]


def load_model(
    checkpoint: str | Path | None = None,
    body_model: str | Path = "anny",
    device: str = "cpu",
    detector: str | None = "mediapipe",
    batch_size: int = 16,
    runtime: str = "torch",
    upright: bool | None = None,
    flip: bool = True,
) -> Model:
    """A ready :class:`Model`. ``checkpoint``: a weights .safetensors (default: the shipped
    Anny model); ``body_model``: "anny" or an SMPL file; ``detector``: "mediapipe",
    "blazepose" (MediaPipe's pipeline rebuilt in PyTorch: every person in one pass),
    "movenet" (MoveNet MultiPose: up to six people in one pass; ``make movenet``), "crowd"
    (MoveNet plus the CenterNet proposals MoveNet confirms on a closer look: more people in
    crowded photos, slower; ``make movenet``) or None;
    ``runtime``: "torch" or "onnx" (the network through onnxruntime, see :meth:`Model.use_onnx`);
    ``upright``: cut each person a second time, turned upright (MediaPipe's person detector
    on the crop finds the turn; see :mod:`openhmr.detect.upright`; default: as the network was
    trained); ``flip`` (default): average
    each answer with the one on the mirrored crop (:mod:`openhmr.nets.flip`; twice the
    network's time; closer on every set measured, see the README)."""
    if runtime not in ("torch", "onnx"):
        raise OpenHMRError(f"runtime must be 'torch' or 'onnx', got {runtime!r}.")
    if detector is not None and detector not in DETECTORS:
        raise OpenHMRError(f"detector must be one of {', '.join(DETECTORS)} or None, got {detector!r}.")
    if checkpoint is None:
        if not SHIPPED_WEIGHTS.exists():
            raise OpenHMRError(f"No checkpoint given and none shipped at {SHIPPED_WEIGHTS}; pass --checkpoint FILE.")
        checkpoint = SHIPPED_WEIGHTS
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise OpenHMRError(f"--device {device} asked for, but PyTorch sees no CUDA GPU here; use --device cpu.")
    body = load_body_model(body_model)
    hmr = load_hmr(checkpoint, body)
    model = Model(hmr, body, str(checkpoint), device, detector, batch_size, hmr.reads_upright(upright), flip)  # Model moves hmr, body included
    if runtime == "onnx":
        model.use_onnx()
    return model
