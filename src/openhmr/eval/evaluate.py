"""Evaluation: MPJPE, PA-MPJPE, PVE, 2D PCK, per-joint errors and the monster rate of an HMR
on a labelled set, under a named protocol.

Protocols (3D joints in millimetres, pelvis = mid-hip, aligned before measuring):
  synth    openhmr's synthetic sets: COCO-23 keypoints, MPJPE and PA-MPJPE, PVE from parameters
  h36m-p1  Human3.6M, 17 H36M joints, MPJPE and PA-MPJPE
  h36m-p2  Human3.6M, 17 H36M joints, PA-MPJPE only
  3dpw     3DPW, 14 LSP joints, MPJPE and PA-MPJPE (PVE when the file holds SMPL parameters)
  lsp      real photos with 2D labels (LSP, LSP-extended): PCK@0.05 / @0.1 of the person's box
  coco     COCO keypoint JSON: the same PCK, on the 17 COCO keypoints
PCK on real photos counts the labelled joints the network predicts (for Anny: LSP's 12 limb
and hip joints; neck and head top have no Anny counterpart), a hit being a 2D error under
t x the longer side of the person's box (the labelled box, or the labelled joints' extent).
A body model that lacks a protocol's joints needs a joint regressor from vertices (for SMPL
and H36M: the user's ``J_regressor_h36m.npy``, shape (17, V)).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from openhmr.body import keypoints as kp
from openhmr.data.dataset import CropDataset
from openhmr.data.formats import Annotations, read_spin_npz
from openhmr.detect.upright import UprightTurn
from openhmr.errors import OpenHMRError
from openhmr.eval.metrics import joint_errors, mid_hip, pck
from openhmr.geometry.camera import crop_to_image
from openhmr.geometry.rotations import axis_angle_to_matrix
from openhmr.mocap.pose_bank import PoseBank
from openhmr.nets.flip import final_answer
from openhmr.nets.hmr import HMR
from openhmr.nets.upright import turned_back


@dataclasses.dataclass(frozen=True)
class Protocol:
    convention: str
    report_mpjpe: bool = True


PROTOCOLS = {
    "synth": Protocol("coco23"),
    "h36m-p1": Protocol("h36m17"),
    "h36m-p2": Protocol("h36m17", report_mpjpe=False),
    "3dpw": Protocol("lsp14"),
}
PROTOCOLS_2D = {"lsp": "lsp14", "coco": "coco17"}


def read_joint_regressor(path: str | Path, num_vertices: int, num_joints: int) -> torch.Tensor:
    """(K, V) from a ``.npy`` file (no pickles)."""
    try:
        matrix = np.load(Path(path), allow_pickle=False)
    except (OSError, ValueError) as e:
        raise OpenHMRError(f"Cannot read joint regressor {path} ({e}); it must be a .npy array of shape (K, V).") from None
    if matrix.shape != (num_joints, num_vertices):
        raise OpenHMRError(f"Joint regressor {path} has shape {matrix.shape}; expected ({num_joints}, {num_vertices}).")
    return torch.from_numpy(matrix).float()


@torch.no_grad()
def evaluate(
    hmr: HMR,
    annotations: Annotations,
    protocol: str = "synth",
    batch_size: int = 32,
    joint_regressor: str | Path | None = None,
    monster_bank: PoseBank | None = None,
    progress: bool = True,
    upright: bool | None = None,
    flip: bool = False,
) -> dict:
    """Metrics of ``hmr`` on ``annotations`` (read in the protocol's convention); ``upright``:
    on crops turned upright as ``predict --upright`` cuts them (:mod:`openhmr.detect.upright`;
    default: as the network was trained); ``flip``:
    averaged with the answer on the mirrored crops, as ``predict --flip``. Returns
    ``{"mpjpe", "pa_mpjpe", "pve", "pck05", "pck10", "monster_rate", "per_joint_mpjpe",
    "monster_rate_shape", "monster_rate_joints", "num_images", "dropped", "protocol"}`` (mm and
    fractions; a metric that cannot be measured is None; ``dropped``: unreadable images, left
    out of every figure)."""
    from tqdm import tqdm

    if protocol not in PROTOCOLS:
        raise OpenHMRError(f"Unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}.")
    spec = PROTOCOLS[protocol]
    if annotations.convention != spec.convention:
        raise OpenHMRError(f"Annotations are in {annotations.convention}; protocol {protocol} needs {spec.convention}.")
    body = hmr.body
    params_known = (
        annotations.pose is not None and annotations.body_model == body.name and annotations.shape is not None
    )
    if annotations.keypoints3d is None and not params_known:
        raise OpenHMRError(
            f"The evaluation set has no 3D joints (SPIN field 'S') and no {body.name} parameters (pose, shape) to make them from."
        )
    names = kp.convention_names(spec.convention)
    hips = names.index("left_hip"), names.index("right_hip")
    regressor = None
    if joint_regressor is not None:
        regressor = read_joint_regressor(joint_regressor, int(body.faces.max()) + 1, len(names))
    _, model_mask = kp.mapping(body.keypoint_names, spec.convention)
    if regressor is None and not bool(model_mask[list(hips)].all()):
        raise OpenHMRError(f"The {body.name} body has no hips in {spec.convention}; pass a joint regressor file.")
    if regressor is None and protocol != "synth" and not bool(model_mask.all()):
        missing = [n for n, m in zip(names, model_mask.tolist()) if not m]
        raise OpenHMRError(
            f"The {body.name} body lacks {', '.join(missing)} of protocol {protocol}; pass --joint-regressor "
            f"FILE (for SMPL and H36M: J_regressor_h36m.npy, shape ({len(names)}, V))."
        )
    dataset = CropDataset(annotations, augment=False, margin=hmr.crop_margin)  # cropped as the network was trained
    turn = UprightTurn() if hmr.reads_upright(upright) else None
    was_training = hmr.training
    hmr.eval()
    pred3d, gt3d, pred2d, gt2d, rotmats, shapes, vertex_errors = [], [], [], [], [], [], []
    hmr_index, hmr_mask = kp.mapping(kp.convention_names(hmr.keypoint_convention), spec.convention)
    dropped: list[str] = []
    for start in tqdm(range(0, len(dataset), batch_size), desc="evaluating", unit="batch", disable=not progress):
        indices, samples = _readable(dataset, range(start, min(start + batch_size, len(dataset))), dropped)
        if not indices:
            continue
        final = final_prediction(hmr, dataset, indices, samples, turn, flip)
        if regressor is not None:
            points = torch.einsum("kv,bvc->bkc", regressor, final.vertices)
        elif spec.convention == hmr.keypoint_convention:
            points = final.keypoints3d  # the network already decoded them
        else:
            out = body(final.rotmats[:, 0], final.rotmats[:, 1:], final.shape)
            points, _ = out.keypoints_as(spec.convention)
        pred3d.append(points)
        if annotations.keypoints3d is not None:
            gt3d.append(torch.stack([s["keypoints3d"] for s in samples]))
        # 2D: the network's own keypoints, re-indexed into the protocol's convention.
        p2d = final.keypoints2d.index_select(1, hmr_index) if bool(hmr_mask.any()) else None
        pred2d.append(p2d)
        gt2d.append(torch.stack([s["keypoints2d"] for s in samples]))
        rotmats.append(final.rotmats[:, 1:])
        shapes.append(final.shape)
        if params_known:
            pose = torch.from_numpy(np.asarray(annotations.pose[indices], dtype=np.float32)).view(len(indices), -1, 3)
            gt_rot = axis_angle_to_matrix(pose)
            gt_shape = torch.from_numpy(np.asarray(annotations.shape[indices], dtype=np.float32))
            gt_out = body(gt_rot[:, 0], gt_rot[:, 1:], gt_shape)
            if regressor is not None:
                gt_kp = torch.einsum("kv,bvc->bkc", regressor, gt_out.vertices)
            else:
                gt_kp, _ = gt_out.keypoints_as(spec.convention)
            if annotations.keypoints3d is None:  # ground truth from the parameters (3DPW's layout)
                gt3d.append(torch.cat([gt_kp, torch.ones_like(gt_kp[..., :1])], dim=-1))
            pv = final.vertices - mid_hip(points, hips)
            gv = gt_out.vertices - mid_hip(gt_kp, hips)
            vertex_errors.append((pv - gv).norm(dim=-1).mean(dim=1))
    hmr.train(was_training)
    _check_some_left(dataset, dropped)

    pred3d, gt3d = torch.cat(pred3d), torch.cat(gt3d)
    conf = gt3d[..., 3] > 0
    if regressor is None:
        conf = conf & model_mask[None]
    conf = conf & (conf[:, hips[0]] & conf[:, hips[1]])[:, None]  # no pelvis, no alignment
    errors, mpjpe, pa = joint_errors(pred3d, gt3d[..., :3], conf.float(), hips)
    per_joint = {
        name: round(float(errors[:, k][conf[:, k]].mean() * 1000), 1) for k, name in enumerate(names) if bool(conf[:, k].any())
    }
    result = {
        "protocol": protocol,
        "num_images": len(dataset) - len(dropped),
        "dropped": dropped,
        "mpjpe": round(float(mpjpe.mean() * 1000), 1) if spec.report_mpjpe and len(mpjpe) else None,
        "pa_mpjpe": round(float(pa.mean() * 1000), 1) if len(pa) else None,
        "pve": round(float(torch.cat(vertex_errors).mean() * 1000), 1) if vertex_errors else None,
        "per_joint_mpjpe": per_joint,
    }
    result.update(_pck(pred2d, gt2d, hmr_mask))
    result.update(monster_rate=None, monster_rate_shape=None, monster_rate_joints=None)
    if monster_bank is not None:
        from openhmr.eval.monsters import monster_kinds

        bad_shape, bad_joint = monster_kinds(torch.cat(rotmats), torch.cat(shapes), monster_bank, body.shape_low, body.shape_high)
        result["monster_rate"] = round(float((bad_shape | bad_joint).mean()), 4)
        result["monster_rate_shape"] = round(float(bad_shape.mean()), 4)
        result["monster_rate_joints"] = round(float(bad_joint.mean()), 4)
    return result


def final_prediction(hmr: HMR, dataset: CropDataset, indices: list[int], samples: list[dict], upright: UprightTurn | None,
                     flip: bool = False):  # fmt: skip
    """HMR's final iteration on the people ``indices`` (their plain ``samples``); with an
    ``upright`` turn: on their crops turned upright, the outputs turned back (the unturned
    crop's frame, where the labels are); with ``flip``: averaged with the answer on the mirrored
    crops (:mod:`openhmr.nets.flip`), as ``predict --flip`` runs it."""
    images = torch.stack([s["image"] for s in samples])
    if upright is None:
        return final_answer(hmr, images, flip)
    turned, angles = dataset.turned(indices, images, upright)
    final = final_answer(hmr, turned, flip)
    fields = {f.name: getattr(final, f.name) for f in dataclasses.fields(final)}
    return dataclasses.replace(final, **turned_back(fields, torch.from_numpy(angles)))


def _readable(dataset: CropDataset, indices, dropped: list[str]) -> tuple[list[int], list[dict]]:
    """The people of ``indices`` whose image reads, each with its own sample (never a
    neighbour's, as ``dataset[i]`` would serve); the others' image paths go to ``dropped``."""
    kept, samples = [], []
    for i in indices:
        sample = dataset.sample_or_none(i)
        if sample is None:
            dropped.append(str(dataset.ann.imgname[i]))
        else:
            kept.append(i)
            samples.append(sample)
    return kept, samples


def _check_some_left(dataset: CropDataset, dropped: list[str]) -> None:
    if len(dropped) == len(dataset):
        raise OpenHMRError(f"No image of the evaluation set could be read (e.g. {dropped[0]}); check {dataset.ann.image_root}.")


def _pck(pred2d: list, gt2d: list, mask: torch.Tensor) -> dict:
    if any(p is None for p in pred2d):
        return {"pck05": None, "pck10": None}
    pred, gt = torch.cat(pred2d), torch.cat(gt2d)
    visible = (gt[..., 2] > 0) & mask[None]
    if not bool(visible.any()):
        return {"pck05": None, "pck10": None}
    return {f"pck{name}": round(pck(pred, gt[..., :2], visible, t), 4) for name, t in (("05", 0.05), ("10", 0.1))}


@torch.no_grad()
def evaluate_2d(hmr: HMR, annotations: Annotations, protocol: str = "lsp", batch_size: int = 32, progress: bool = True,
                upright: bool | None = None, flip: bool = False) -> dict:
    """PCK of ``hmr``'s projected keypoints on real photos with 2D labels (``upright``, ``flip``:
    as in :func:`evaluate`). Returns
    ``{"pck05", "pck10", "per_joint_pck05", "per_joint_pck10", "facing", "facing_people",
    "num_images", "dropped", "num_joints", "protocol"}`` (``dropped``: the images that could not
    be read, left out of every figure); the threshold unit is ``annotations.person_size``.
    ``facing``: the share of people with both shoulders labelled whose predicted shoulders are
    in the labelled left-right order (a body turned the wrong way round swaps them)."""
    from tqdm import tqdm

    names = kp.convention_names(PROTOCOLS_2D[protocol])
    if annotations.convention != PROTOCOLS_2D[protocol]:
        raise OpenHMRError(f"Annotations are in {annotations.convention}; protocol {protocol} needs {PROTOCOLS_2D[protocol]}.")
    if annotations.person_size is None:
        raise OpenHMRError("The evaluation set has no person box sizes: PCK needs them (LSP folders and COCO JSON carry them).")
    index, mask = kp.mapping(kp.convention_names(hmr.keypoint_convention), names)
    dataset = CropDataset(annotations, augment=False, margin=hmr.crop_margin)  # cropped as the network was trained
    turn = UprightTurn() if hmr.reads_upright(upright) else None
    was_training = hmr.training
    hmr.eval()
    pred, kept, dropped = [], [], []
    for start in tqdm(range(0, len(dataset), batch_size), desc="evaluating", unit="batch", disable=not progress):
        indices, samples = _readable(dataset, range(start, min(start + batch_size, len(dataset))), dropped)
        if indices:
            kept.extend(indices)
            pred.append(final_prediction(hmr, dataset, indices, samples, turn, flip).keypoints2d.index_select(1, index))
    hmr.train(was_training)
    _check_some_left(dataset, dropped)
    kept = np.asarray(kept)  # predictions are paired with these people's labels and boxes only
    crops = dataset.ann  # the boxes as cropped
    pixels = crop_to_image(torch.cat(pred).double(), torch.from_numpy(crops.center[kept]), torch.from_numpy(crops.box_size[kept]))
    gt = torch.from_numpy(annotations.keypoints2d[kept])
    distance = (pixels - gt[..., :2]).norm(dim=-1) / torch.from_numpy(annotations.person_size[kept])[:, None]
    counted = (gt[..., 2] > 0) & mask[None]
    result = {"protocol": protocol, "num_images": len(kept), "dropped": dropped, "num_joints": int(counted.sum())}
    result.update(_facing(pixels, gt, mask, names))
    for label, t in (("05", 0.05), ("10", 0.1)):
        hit = (distance < t) & counted
        result[f"pck{label}"] = round(float(hit.sum() / counted.sum().clamp(min=1)), 4)
        result[f"per_joint_pck{label}"] = {
            n: round(float(hit[:, k].sum() / counted[:, k].sum()), 4) for k, n in enumerate(names) if bool(counted[:, k].any())
        }
    return result


def _facing(pixels: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, names: tuple[str, ...]) -> dict:
    """Share of people whose predicted shoulders (N, K, 2 pixels) keep the labelled (N, K, 3)
    left-right order; over people with both shoulders labelled (None without them)."""
    if "left_shoulder" not in names or "right_shoulder" not in names:
        return {"facing": None, "facing_people": 0}
    left, right = names.index("left_shoulder"), names.index("right_shoulder")
    if not (bool(mask[left]) and bool(mask[right])):
        return {"facing": None, "facing_people": 0}
    both = (gt[:, left, 2] > 0) & (gt[:, right, 2] > 0)
    labelled = torch.sign(gt[both, right, 0] - gt[both, left, 0])
    predicted = torch.sign(pixels[both, right, 0] - pixels[both, left, 0])
    people = int(both.sum())
    return {"facing": round(float((labelled == predicted).float().mean()), 4) if people else None, "facing_people": people}


def read_eval_set(path: str | Path, protocol: str) -> Annotations:
    """The set at ``path`` in the protocol's convention (2D protocols: ``PATH[:SPLIT]`` as in
    :func:`openhmr.data.sources.read_annotations`)."""
    if protocol in PROTOCOLS_2D:
        from openhmr.data.sources import read_annotations

        return read_annotations(str(path), PROTOCOLS_2D[protocol])
    return read_spin_npz(path, convention=PROTOCOLS[protocol].convention)


def format_table(result: dict) -> str:
    rows = [(k, result.get(k)) for k in ("mpjpe", "pa_mpjpe", "pve", "pck05", "pck10", "monster_rate", "monster_rate_shape", "monster_rate_joints")]
    units = {"mpjpe": "mm", "pa_mpjpe": "mm", "pve": "mm"}
    if result["protocol"] in PROTOCOLS_2D:
        rows = [(k, result.get(k)) for k in ("pck05", "pck10", "facing", "num_joints")]
    dropped = result.get("dropped") or []
    skipped = f" ({len(dropped)} unreadable left out, e.g. {dropped[0]})" if dropped else ""
    lines = [f"protocol {result['protocol']}, {result['num_images']} images{skipped}", f"{'metric':<22}value"]
    for name, value in rows:
        lines.append(f"{name:<22}{'n/a' if value is None else value} {units.get(name, '')}".rstrip())
    return "\n".join(lines)
