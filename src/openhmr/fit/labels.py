"""``openhmr fit-labels``: pseudo-3D labels for 2D-labelled photos (SPIN / EFT style).

Every person of the given sets is cropped at its labelled box, regressed by the network and
refined on its human 2D labels. The output is a SPIN-style ``.npz`` with the fields of the
synthetic sets (``imgname, center, scale, part`` (the human labels), ``S`` (the fit's 3D
keypoints), ``pose, shape, has_smpl``) plus ``fit_error_px`` (crop pixels, 224² crop),
``fit_accepted`` and ``good``: a fit is good when it was accepted and its error is at most
``max_error_px``; only good fits carry 3D (``has_smpl``, ``S`` confidence), as in SPIN and EFT.

An upright network (trained on crops turned upright, :mod:`openhmr.nets.upright`) starts each
fit from its answer on the crop turned upright (MediaPipe's person detector on the crop finds
the turn, as in ``predict --refine fit``), turned back; the fit itself is in the plain crop.

Work is cut into chunks of people written to ``OUT.parts/`` as they finish: a killed run
resumes where it stopped. Chunks run in parallel worker processes; an unreadable image skips
its person (counted), never the run.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from openhmr.body import keypoints as kp
from openhmr.data.formats import SPIN_SCALE_PX
from openhmr.errors import OpenHMRError
from openhmr.fit.objective import FitSettings
from openhmr.geometry.rotations import matrix_to_axis_angle
from openhmr.io import atomic_path
from openhmr.shipped import SHIPPED_WEIGHTS

CONVENTION = "coco23"

# Fitting to human labels in batches of 16, L-BFGS keeps more fits than Levenberg-Marquardt
# (predict's default, 3× faster for one person): on LSP train 926 of 1,000 accepted, 884
# good, against 795 and 766 (LM's fits more often end less real to the discriminator), at
# 3.1 against 4.3 people per second (batches amortise L-BFGS's many evaluations).
LABEL_DEFAULTS = ("optimiser=lbfgs",)


@dataclasses.dataclass(frozen=True)
class LabelJob:
    sources: tuple[str, ...]
    checkpoint: str | None
    mode: str = "fit"
    batch_size: int = 16
    max_error_px: float = 10.0
    settings: tuple[str, ...] = ()  # FitSettings overrides, "key=value"

    def fit_settings(self) -> FitSettings:
        """The fit's settings: :data:`LABEL_DEFAULTS`, then this job's overrides."""
        return FitSettings.parse([*LABEL_DEFAULTS, *self.settings])


_WORKER: dict = {}


def checkpoint_of(job: LabelJob) -> str:
    return job.checkpoint or str(SHIPPED_WEIGHTS)


def _worker_init(job: LabelJob) -> None:
    """Each worker process: one thread, its own model and priors, the sets read once."""
    from openhmr.body import load_body_model
    from openhmr.data.sources import read_annotations
    from openhmr.detect.upright import UprightTurn
    from openhmr.fit.refine import Priors, Refiner
    from openhmr.nets.weights_io import load_hmr, read_metadata

    torch.set_num_threads(1)
    settings = job.fit_settings()
    checkpoint = checkpoint_of(job)
    arch, _ = read_metadata(checkpoint)
    body = load_body_model(arch["body_model"])
    hmr = load_hmr(checkpoint, body)
    _WORKER.update(
        job=job, body=body, refiner=Refiner(hmr, job.mode, Priors.for_checkpoint(checkpoint, body), settings),
        annotations=[read_annotations(s, CONVENTION) for s in job.sources],
        turn=UprightTurn() if starts_turned(job) else None,
    )


def starts_turned(job: LabelJob) -> bool:
    """Whether the job's fits start from the network's answer on crops turned upright: ``fit``
    with a network trained on them (``eft`` tunes the network on the plain crop)."""
    from openhmr.nets.weights_io import read_metadata

    return job.mode == "fit" and bool(read_metadata(checkpoint_of(job))[0].get("upright", False))


def _fit_chunk(task: tuple[int, int, int, str]) -> tuple[str, int, int]:
    """People [start, stop) of source ``s`` -> a part file; returns (path, fitted, unreadable)."""
    from openhmr.data.dataset import CropDataset
    from openhmr.fit.targets import Targets

    s, start, stop, part = task
    job, body, refiner = _WORKER["job"], _WORKER["body"], _WORKER["refiner"]
    ann = _WORKER["annotations"][s]
    dataset = CropDataset(ann, margin=refiner.hmr.crop_margin)  # the network starts each fit: its framing
    rows: dict[str, list] = {k: [] for k in ("index", "pose", "shape", "S", "fit_error_px", "fit_accepted")}
    bad = 0
    names = kp.convention_names(CONVENTION)
    for first in range(start, stop, job.batch_size):
        idx = list(range(first, min(first + job.batch_size, stop)))
        samples = [dataset.sample_or_none(i) for i in idx]
        bad += sum(x is None for x in samples)
        kept = [(i, x) for i, x in zip(idx, samples) if x is not None]
        if not kept:
            continue
        crops = torch.stack([x["image"] for _, x in kept])
        labels = torch.stack([x["keypoints2d"] for _, x in kept])
        start = None
        if _WORKER["turn"] is not None:  # an upright network: its answer on the turned crops, turned back
            turned, angles = dataset.turned([i for i, _ in kept], crops, _WORKER["turn"])
            start = refiner.estimate(turned, angles=torch.from_numpy(angles))
        result = refiner(crops, Targets(labels[..., :2], labels[..., 2], names), start=start)
        params = result.params
        with torch.no_grad():
            out = body(params.rotmats[:, 0], params.rotmats[:, 1:], params.shape)
        points, mask = kp.convert(out.keypoints, body.keypoint_names, CONVENTION)
        rows["index"] += [i for i, _ in kept]
        rows["pose"].append(matrix_to_axis_angle(params.rotmats).flatten(1).numpy())
        rows["shape"].append(params.shape.numpy())
        rows["S"].append(torch.cat([points, mask.float().expand(len(kept), -1)[..., None]], -1).numpy())
        rows["fit_error_px"].append(result.error_after.numpy())
        rows["fit_accepted"].append(result.accepted.numpy())
    arrays = {k: (np.asarray(v) if k == "index" else (np.concatenate(v) if v else np.zeros((0,)))) for k, v in rows.items()}
    arrays["unreadable"] = np.asarray(bad)
    with atomic_path(part) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return part, len(rows["index"]), bad


def fit_labels(job: LabelJob, out: str | Path, workers: int = 1, chunk: int = 64, progress: bool = True) -> dict:
    """Run ``job`` into ``out`` (.npz); returns counts ``{"people", "fitted", "good", "unreadable"}``."""
    from tqdm import tqdm

    from openhmr.data.sources import read_annotations
    from openhmr.nets.weights_io import read_metadata

    out = Path(out)
    body_model = read_metadata(checkpoint_of(job))[0]["body_model"]  # fails fast on a bad checkpoint
    annotations = [read_annotations(s, CONVENTION) for s in job.sources]  # and on a bad source
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    for leftover in [*parts.glob(".*.part*"), *out.parent.glob(f".{out.name}.*.part*")]:  # a killed write's
        leftover.unlink(missing_ok=True)
    # Parts are reused only by the same job (a resumed run), never mixed with another's: a job
    # is what it reads (labels, images, weights), not the paths it was given, and the fit
    # settings in force, defaults included (a new default optimiser is another job).
    recorded = parts / "job.json"
    settings = dataclasses.asdict(job.fit_settings())
    this = json.dumps({**dataclasses.asdict(job), "chunk": chunk, "content": job_fingerprint(job, annotations),
                       "fit_settings": settings, "starts_turned": starts_turned(job)}, sort_keys=True)  # fmt: skip
    if recorded.is_file() and recorded.read_text() != this:
        raise OpenHMRError(
            f"{parts} holds the parts of a different fit-labels run ({_what_differs(recorded.read_text(), this)}); "
            "delete it or choose another --out."
        )
    with atomic_path(recorded) as tmp:
        tmp.write_text(this)
    tasks = [
        (s, a, min(a + chunk, len(ann)), str(parts / f"source{s}_{a:07d}.npz"))
        for s, ann in enumerate(annotations) for a in range(0, len(ann), chunk)
    ]
    todo = [t for t in tasks if not Path(t[3]).is_file()]
    people = sum(len(a) for a in annotations)
    bar = tqdm(total=people, initial=people - sum(t[2] - t[1] for t in todo), desc="fit-labels", unit="person", disable=not progress)
    if workers <= 1:
        _worker_init(job)
        for task in todo:
            _fit_chunk(task)
            bar.update(task[2] - task[1])
    elif todo:
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch or GL state
        with context.Pool(workers, initializer=_worker_init, initargs=(job,)) as pool:
            sizes = {t[3]: t[2] - t[1] for t in todo}
            for part, _, _ in pool.imap_unordered(_fit_chunk, todo):
                bar.update(sizes[part])
    bar.close()
    return _merge(job, annotations, tasks, out, body_model)


def job_fingerprint(job: LabelJob, annotations) -> dict[str, str]:
    """SHA-256 of what a job reads: each source's labels (names, boxes, keypoints) and its
    image files' names, sizes and modification times; and the weights file's bytes."""
    import hashlib

    fingerprint = {}
    for source, ann in zip(job.sources, annotations):
        digest = hashlib.sha256()
        for array in (ann.imgname.astype(str), ann.center, ann.box_size, ann.keypoints2d):
            digest.update(np.ascontiguousarray(array).tobytes())
        for name in ann.imgname:
            path = ann.image_root / str(name)
            stat = path.stat() if path.is_file() else None
            digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}" .encode() if stat else f"{name}:missing".encode())
        fingerprint[f"labels and images of {source}"] = digest.hexdigest()
    with open(checkpoint_of(job), "rb") as f:
        fingerprint["weights"] = hashlib.file_digest(f, "sha256").hexdigest()
    return fingerprint


def _what_differs(old: str, new: str) -> str:
    """Which part of a recorded job differs from this one, in words."""
    try:
        before, after = json.loads(old), json.loads(new)
    except ValueError:
        return "its record is unreadable"
    changed = [k for k in before.get("content", {}) if before["content"][k] != after["content"].get(k)]
    if changed and {k: v for k, v in before.items() if k != "content"} == {k: v for k, v in after.items() if k != "content"}:
        return "the " + " and the ".join(changed) + " changed since"
    return "other sources or settings"


def _merge(job: LabelJob, annotations, tasks, out: Path, body_model: str) -> dict:
    fields: dict[str, list] = {k: [] for k in ("imgname", "center", "scale", "part", "S", "pose", "shape", "fit_error_px", "fit_accepted", "source")}
    unreadable = 0
    for s, _, _, part in tasks:
        ann = annotations[s]
        with np.load(part, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
        unreadable += int(data["unreadable"])
        index = data["index"].astype(int)
        if len(index) == 0:
            continue
        fields["imgname"].append(np.array([str((ann.image_root / str(n)).resolve()) for n in ann.imgname[index]]))
        fields["center"].append(ann.center[index])
        fields["scale"].append(ann.box_size[index] / SPIN_SCALE_PX)
        fields["part"].append(ann.keypoints2d[index])
        fields["source"].append(np.array([job.sources[s]] * len(index)))
        for k in ("S", "pose", "shape", "fit_error_px", "fit_accepted"):
            fields[k].append(data[k])
    if not fields["imgname"]:
        raise OpenHMRError("No person could be fitted: every image was unreadable.")
    arrays = {k: np.concatenate(v) for k, v in fields.items()}
    good = arrays["fit_accepted"].astype(bool) & (arrays["fit_error_px"] <= job.max_error_px)
    arrays["S"][..., 3] *= good[:, None]
    arrays.update(good=good, has_smpl=good.astype(np.float64), body_model=np.array(body_model),
                  keypoint_convention=np.array(CONVENTION), max_error_px=np.array(job.max_error_px))
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return {"people": int(sum(len(a) for a in annotations)), "fitted": len(good), "good": int(good.sum()), "unreadable": unreadable}

