"""Inputs to results on disk: the loop of ``openhmr predict`` over files, frames and people
(``--bvh``'s loop over videos is :func:`openhmr.motion.video.motions_from_videos`).

For each image (or every ``video_step``-th video frame) the people come from, in order of
precedence, the user's ``--bbox``, a keypoint file, or the detector; each person is predicted,
and the frame's results are written. Inputs that give nothing are reported and skipped, and
the run goes on. :func:`predict_files_in_workers` shares the files among worker processes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
import warnings
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from openhmr.detect.mediapipe import Detection
from openhmr.io import WriteError
from openhmr.predict.images import ImageError
from openhmr.predict.inputs import frames
from openhmr.predict.keypoint_boxes import box_outside, boxes_from_keypoints
from openhmr.predict.outputs import write_outputs
from openhmr.predict.predictor import Model, load_model
from openhmr.render import MeshRenderer


@dataclasses.dataclass
class PredictJob:
    """What to do with every input. ``bbox`` (x, y, w, h) pixels: the one person of every
    input; ``keypoints``: a read keypoint file (:func:`read_keypoint_file`) to take boxes
    from; neither: the model's detector."""

    out_dir: Path
    bbox: tuple[float, float, float, float] | None = None
    keypoints: dict | None = None
    focal: float | None = None
    refine: str | None = None
    save_mesh: str | None = None
    side_view: bool = False
    video_step: int = 10
    smoothing: float = 0.5
    progress: bool = True


Report = Callable[[str, str, str], None]  # (what happened: "skipped" or "failed", input, reason)


def _boxes(model: Model, job: PredictJob, path: Path, image) -> list[Detection]:
    height, width = image.shape[:2]
    if job.bbox:
        return [Detection(job.bbox, 1.0)]
    if job.keypoints is not None:
        return boxes_from_keypoints(job.keypoints, path.name, width, height)
    return model.detect(image)


def predict_files(model: Model, files: list[Path], job: PredictJob, report: Report, renderer: MeshRenderer | None = None) -> int:
    """Every image and sampled video frame of ``files`` -> ``job.out_dir``; returns the number
    of frames with results. Each input or frame that gives none is passed to ``report``.
    ``renderer``: the overlays' GL context, kept by the caller (default: one for this call)."""
    faces = model.body.faces.cpu().numpy()
    done, used_stems = 0, set()
    own = renderer is None
    renderer = MeshRenderer() if own else renderer  # one GL context for every overlay of the run
    with warnings.catch_warnings(), contextlib.closing(renderer) if own else contextlib.nullcontext():
        warnings.simplefilter("once")
        for path in tqdm(files, desc="predict", unit="input", disable=not job.progress):
            try:
                notice = functools.partial(report, "notice", str(path))
                for name, image in frames(path, job.video_step, notice=notice):
                    label = f"{path} ({name})" if name != path.stem else str(path)
                    height, width = image.shape[:2]
                    if job.bbox and box_outside(job.bbox, width, height):
                        report("skipped", label, f"--bbox lies outside the {width}x{height} image")
                        continue
                    boxes = _boxes(model, job, path, image)
                    if not boxes:
                        report("skipped", label, "no person found")
                        continue
                    stem = name
                    while stem in used_stems:  # same name from another folder: keep both
                        stem += "_"
                    used_stems.add(stem)
                    prediction = model.predict(image, boxes, job.focal, name=str(path), refine=job.refine)
                    write_outputs(job.out_dir, stem, image, prediction, faces, job.save_mesh, job.side_view, renderer)
                    done += 1
            except ImageError as e:
                report("skipped", str(path), str(e))
            except WriteError as e:  # its partial files are gone (write_outputs); the run goes on
                report("failed", str(path), str(e))
    return done


# One worker's model and job (:func:`predict_files_in_workers`).
_WORKER: dict = {}


def _worker_init(load_args: dict, job: PredictJob) -> None:
    """Each worker process: one thread (a photo's steps are many small operations: two
    processes of one thread each go about twice as fast as one of two), its own model."""
    import os

    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    os.environ["LP_NUM_THREADS"] = "1"  # Mesa's software rasteriser, read when the GL context is made
    _WORKER.update(model=load_model(**load_args), job=dataclasses.replace(job, progress=False),
                   renderer=MeshRenderer())  # one GL context for the worker's life: making one costs about 0.2 s


def _predict_group(files: list[Path]) -> tuple[int, int, list[tuple[str, str, str]]]:
    """A worker's share: ``files`` predicted; returns (inputs, frames written, what was reported)."""
    reports: list[tuple[str, str, str]] = []
    done = predict_files(_WORKER["model"], files, _WORKER["job"], lambda *event: reports.append(event), _WORKER["renderer"])
    return len(files), done, reports


def output_group(path: Path) -> str:
    """Inputs whose results could take the same names (``<stem>`` or ``<stem>_f<index>``, made
    unique by :func:`predict_files` within one call) share this key, so one worker gets them all."""
    return re.sub(r"_f\d{6}$", "", path.stem)


def predict_files_in_workers(load_args: dict, files: list[Path], job: PredictJob, report: Report, workers: int) -> int:
    """:func:`predict_files` with the files shared among ``workers`` processes, each loading
    the model with ``load_model(**load_args)``; reports reach ``report`` as each group ends."""
    import multiprocessing

    groups: dict[str, list[Path]] = {}
    for path in files:
        groups.setdefault(output_group(path), []).append(path)
    done = 0
    # Fresh interpreters: no forked torch threads or GL state (a GL context does not survive a fork).
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_worker_init, initargs=(load_args, job)) as pool, \
            tqdm(total=len(files), desc="predict", unit="input", disable=not job.progress) as bar:  # fmt: skip
        for inputs, group_done, reports in pool.imap_unordered(_predict_group, list(groups.values())):
            done += group_done
            for event in reports:
                report(*event)
            bar.update(inputs)
        pool.close()  # let the workers end on their own (terminating them leaks their semaphores)
        pool.join()
    return done
