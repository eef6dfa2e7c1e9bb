import numpy as np
import torch

from openhmr.data.mixing import (
    MixedBatches,
    MocapStream,
    collate,
    select_clips,
    split_clips,
)
from openhmr.mocap.pose_bank import PoseBank


class Fake(torch.utils.data.Dataset):
    def __init__(self, n, kind):
        self.n, self.kind = n, kind

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        s = {"image": torch.full((3, 8, 8), float(i)), "keypoints2d": torch.ones(23, 3), "source": self.kind}
        if self.kind in ("3d", "params"):
            s["keypoints3d"] = torch.ones(23, 4)
        if self.kind == "params":
            s["rotmats"] = torch.eye(3).expand(31, 3, 3).clone()
            s["shape"] = torch.full((6,), 0.5)
        return s


def bank(clips=5, frames=4):
    n = clips * frames
    return PoseBank(
        np.random.default_rng(0).normal(0, 0.2, (n, 30, 3)).astype(np.float32), np.zeros((n, 3), np.float32),
        np.repeat(np.arange(clips), frames), np.array([f"clip{c}" for c in range(clips)]), np.tile(np.arange(frames), clips), "anny",
    )  # fmt: skip


def test_batches_mix_sources_in_the_set_shares():
    sources = {"2d": (Fake(10, "2d"), 0.5), "3d": (Fake(7, "3d"), 0.3), "params": (Fake(3, "params"), 0.2)}
    batches = MixedBatches(sources, batch_size=10, num_keypoints=23)
    assert batches.counts == {"2d": 5, "3d": 3, "params": 2}
    batch = next(batches)
    assert batch["image"].shape == (10, 3, 8, 8)
    # 2D-only samples carry no 3D confidence and no parameters: the losses ignore them there.
    assert batch["keypoints3d"][:5, :, 3].sum() == 0 and batch["keypoints3d"][5:, :, 3].min() == 1
    assert batch["has_params"].tolist() == [0.0] * 8 + [1.0] * 2
    # Each source is walked through in full before repeating: 3 params samples, 2 per batch.
    fresh = MixedBatches(sources, batch_size=10, num_keypoints=23, seed=4)
    drawn = [int(v) for _ in range(3) for v in next(fresh)["image"][8:, 0, 0, 0]]
    assert sorted(drawn) == [0, 0, 1, 1, 2, 2]


def test_each_process_of_a_distributed_run_draws_its_own_batches(monkeypatch):
    """Ranks 0 and 1 draw different samples; rank 0 draws what a single process would. The
    rank comes from the launcher's environment (Lightning: NODE_RANK, LOCAL_RANK; torchrun: RANK)."""
    from openhmr.train.config import load_config
    from openhmr.train.run import process_rank

    sources = {"2d": (Fake(50, "2d"), 1.0)}

    def order(**kw):
        batches = MixedBatches(sources, batch_size=10, num_keypoints=23, seed=3, **kw)
        return [int(v) for _ in range(2) for v in next(batches)["image"][:, 0, 0, 0]]

    assert order(rank=0) == order() and order(rank=1) != order()
    assert order(rank=1, start_batch=5) != order(start_batch=5)
    config = load_config(None, ["data.poses=b", "devices=2"])
    for env, rank in (({}, 0), ({"LOCAL_RANK": "1"}, 1), ({"NODE_RANK": "1", "LOCAL_RANK": "1"}, 3), ({"RANK": "5"}, 5)):
        for key in ("RANK", "LOCAL_RANK", "NODE_RANK"):
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        assert process_rank(config) == rank, env


def test_collate_without_parameters_has_no_parameter_fields():
    batch = collate([Fake(2, "2d")[0], Fake(2, "2d")[1]], 23)
    assert "rotmats" not in batch and batch["keypoints3d"].shape == (2, 23, 4)


def test_clip_splits_are_disjoint_and_complete():
    b = bank(clips=10)
    parts = split_clips(b, {"train": 0.6, "test": 0.2, "discriminator": 0.2}, seed=1)
    names = [set(p.clip_names.tolist()) for p in parts.values()]
    assert [len(n) for n in names] == [6, 2, 2]
    assert set.union(*names) == set(b.clip_names.tolist()) and not (names[0] & names[1] or names[1] & names[2])
    assert sum(len(p) for p in parts.values()) == len(b)
    sub = select_clips(b, [3, 7])
    assert sub.clip_names.tolist() == ["clip3", "clip7"] and sorted(set(sub.clip_id.tolist())) == [0, 1]


def test_mocap_stream_gives_rotations_and_the_body_s_real_shapes(anny_body):
    stream = MocapStream(bank(), 8, anny_body.sample_shapes)
    rot, shape = next(stream)
    assert rot.shape == (8, 30, 3, 3) and shape.shape == (8, 6)
    assert torch.allclose(rot @ rot.transpose(-1, -2), torch.eye(3).expand(8, 30, 3, 3), atol=1e-5)
    assert float(shape.min()) >= 0 and float(shape.max()) <= 1
    assert torch.equal(stream.sample(5)[1], stream.sample(5)[1])  # reproducible after a resume


def test_real_shapes_come_from_a_population_not_uniform_in_the_bounds(anny_body, smpl_body):
    """Anny's population model keeps the height phenotype near its calibrated value (uniform
    draws in the box would spread it with std 0.29) and ties weight to sex; SMPL's betas are
    standard normal."""
    people = anny_body.sample_shapes(4000, torch.Generator().manual_seed(0))
    gender, weight, height = people[:, 0], people[:, 3], people[:, 4]
    assert float(height.std()) < 0.15
    assert float(torch.corrcoef(torch.stack([gender, weight]))[0, 1]) > 0.15
    betas = smpl_body.sample_shapes(4000, torch.Generator().manual_seed(0))
    assert abs(float(betas.std()) - 1.0) < 0.05 and abs(float(betas.mean())) < 0.05
