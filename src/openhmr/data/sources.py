"""One way to name a labelled set on the command line or in a config: ``PATH`` or
``PATH:SPLIT``. A folder holding ``joints.mat`` is LSP / LSP-extended, a ``.json`` file COCO
keypoints, a ``.npz`` file SPIN-style annotations (openhmr's synthetic sets included)."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from openhmr.data.formats import Annotations, read_coco_json, read_spin_npz
from openhmr.errors import OpenHMRError

SPLITS = ("train", "test", "all")


def parse_source(spec: str) -> tuple[Path, str]:
    """``"../lsp:test"`` -> (Path("../lsp"), "test"); no split means ``all``."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail in SPLITS:
        return Path(head), tail
    return Path(spec), "all"


def read_annotations(spec: str, convention: str = "coco23") -> Annotations:
    """The annotations named by ``spec`` in ``convention`` (one clear sentence when unknown)."""
    path, split = parse_source(spec)
    if path.is_dir() and (path / "joints.mat").is_file():
        from openhmr.data.lsp import read_lsp

        return read_lsp(path, split, convention)
    if split != "all":
        raise OpenHMRError(f"{spec}: a split (:{split}) applies to LSP folders only.")
    if path.suffix == ".json" and path.is_file():
        return read_coco_json(path, convention)
    if path.suffix == ".npz" and path.is_file():
        return read_spin_npz(path, convention)
    if not path.exists():
        raise OpenHMRError(f"Labelled set {path} does not exist.")
    raise OpenHMRError(
        f"Cannot tell the format of {path}: give an LSP folder (with joints.mat), a COCO keypoint .json or a SPIN-style .npz."
    )


def source_slug(name: str) -> str:
    """A short file-name-safe label for a source: its folder or file name and split."""
    path, split = parse_source(name)
    stem = path.parent.name if path.name == "annotations.npz" else path.stem
    label = stem if split == "all" else f"{stem}_{split}"
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label)


def cache_key(source: str | Path, *settings) -> str:
    """A short hash of the labelled set named ``source`` (``PATH[:SPLIT]``: its label file's
    contents and the split) and of the ``settings`` that shape the cached features. Contents,
    not path or time: a data folder copied to a new machine or place keeps its caches, and an
    edited label file gets new ones."""
    path, split = parse_source(str(source))
    labels = path / "joints.mat" if path.is_dir() else path
    ident = [_content_digest(labels), split, *[str(s) for s in settings]]
    return hashlib.sha1(json.dumps(ident).encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=64)
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _content_digest(path: Path) -> str:
    """SHA-1 of the file's bytes, read once per process for each (path, size, time)."""
    stat = path.stat()
    return _file_digest(path.resolve(), stat.st_size, stat.st_mtime_ns)
