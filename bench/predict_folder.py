"""A folder of photos through ``openhmr predict``: people per second, and where the time goes.

    python bench/predict_folder.py [--data ../shared/data/real] [--limit 100] [--threads 2] [--detector mediapipe] [--workers 2]

The photos: the first ``--limit`` LSP test images (one person each). ``people_per_s`` is
:func:`openhmr.predict.jobs.predict_files` itself (what ``openhmr predict FOLDER --out DIR``
runs after loading the model: reading, finding people, the network, writing each photo's JSON
and overlay), over the people it wrote, in one process of ``--threads`` threads. Then the same
photos once more, step by step in the same process, for the split: ``read_ms``, ``detect_ms``,
``network_ms`` (``Model.predict`` given the boxes: crops, encoder, regressor, body) and
``write_ms`` (overlay + JSON), per photo. With ``--workers N``, the same folder through
:func:`openhmr.predict.jobs.predict_files_in_workers` (``openhmr predict --workers N``):
``workers_people_per_s`` counts the whole call, the workers' start (spawn, model load) included;
``workers_startup_s`` is the same call on N photos (start plus one photo each), and
``workers_people_per_s_after_startup`` the rate once they run. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def people_written(folder: str | Path) -> int:
    """People in the JSON files ``predict`` wrote to ``folder``."""
    return sum(len(json.loads(p.read_text())["people"]) for p in Path(folder).glob("*.json"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "real"), help="folder with lsp/")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--detector", default="mediapipe", choices=("mediapipe", "blazepose", "movenet"))
    parser.add_argument("--workers", type=int, default=0, help="also measure this many worker processes (default: not)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from openhmr.data.sources import read_annotations
    from openhmr.predict.images import load_image
    from openhmr.predict.jobs import PredictJob, predict_files, predict_files_in_workers
    from openhmr.predict.outputs import write_outputs
    from openhmr.predict.predictor import load_model
    from openhmr.render import MeshRenderer

    ann = read_annotations(f"{Path(args.data) / 'lsp'}:test", "lsp14")
    files = [ann.image_root / str(name) for name in ann.imgname[: args.limit]]
    model = load_model(detector=args.detector)
    model.predict(load_image(files[0]))  # detector and network loaded outside the timings
    faces = model.body.faces.cpu().numpy()
    problems: list = []

    with tempfile.TemporaryDirectory() as out:
        job = PredictJob(Path(out), progress=False)
        start = time.perf_counter()
        done = predict_files(model, files, job, lambda *problem: problems.append(problem))
        seconds = time.perf_counter() - start
        people = people_written(out)

    split = {"read": 0.0, "detect": 0.0, "network": 0.0, "write": 0.0}
    renderer = MeshRenderer()  # as predict_files keeps one
    with tempfile.TemporaryDirectory() as out, contextlib.closing(renderer):
        for i, path in enumerate(files):
            t0 = time.perf_counter()
            image = load_image(path)
            t1 = time.perf_counter()
            boxes = model.detect(image)
            t2 = time.perf_counter()
            prediction = model.predict(image, boxes, name=str(path))
            t3 = time.perf_counter()
            write_outputs(Path(out), f"{i}", image, prediction, faces, renderer=renderer)
            t4 = time.perf_counter()
            for key, value in zip(split, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                split[key] += value
    result = {"photos": len(files), "photos_with_people": done, "people": people, "threads": args.threads,
              "detector": args.detector, "seconds": round(seconds, 2), "people_per_s": round(people / seconds, 2),
              "photos_per_s": round(len(files) / seconds, 2), "problems": len(problems)}
    result.update({f"{key}_ms": round(1000 * value / len(files), 1) for key, value in split.items()})
    if args.workers > 1:
        load_args = {"detector": args.detector}
        timings = {}
        for label, some in (("startup", files[: args.workers]), ("all", files)):
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                predict_files_in_workers(load_args, some, PredictJob(Path(out), progress=False), lambda *problem: None, args.workers)
                timings[label] = time.perf_counter() - start
                timings[f"{label}_people"] = people_written(out)
        result.update(workers=args.workers, workers_seconds=round(timings["all"], 2),
                      workers_people_per_s=round(timings["all_people"] / timings["all"], 2),
                      workers_startup_s=round(timings["startup"], 2),
                      workers_people_per_s_after_startup=round(
                          (timings["all_people"] - timings["startup_people"]) / (timings["all"] - timings["startup"]), 2))
        result["workers_over_one_process"] = round(result["workers_people_per_s"] / result["people_per_s"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
