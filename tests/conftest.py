import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """Jobs run in-process with one worker set one torch thread (as each worker process
    does); later tests must not inherit it (the astronaut's fit differs with the count)."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def anny_body():
    from openhmr.body import load_body_model

    return load_body_model("anny")


@pytest.fixture(scope="session")
def smpl_npz(tmp_path_factory) -> Path:
    from smpl_fixture import write_smpl_like_npz

    return write_smpl_like_npz(tmp_path_factory.mktemp("smpl") / "SMPL_TEST.npz", seed=3)


@pytest.fixture(scope="session")
def smpl_body(smpl_npz):
    from openhmr.body import load_body_model

    return load_body_model(smpl_npz)


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(0)


def random_pose(body, batch, generator, scale=0.4):
    """Random axis-angle (B, 3), (B, J-1, 3) and a shape within the model's bounds."""
    go = torch.randn(batch, 3, generator=generator) * scale
    bp = torch.randn(batch, body.num_body_joints, 3, generator=generator) * scale
    lo, hi = body.shape_bounds
    shape = lo + (hi - lo) * torch.rand(batch, body.shape_dim, generator=generator)
    return go, bp, shape


def load_npz(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def fetched_or_skip(find):
    """find() -> the path of a file ``make`` fetches; the test skips with its sentence when missing."""
    from openhmr.errors import OpenHMRError

    try:
        return find()
    except OpenHMRError as e:
        pytest.skip(str(e))
