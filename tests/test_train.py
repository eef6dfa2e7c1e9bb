"""Training: configuration, regimes, feature caching, checkpoints, the end-to-end run."""

import json

import numpy as np
import pytest
import torch

from openhmr.cli import main
from openhmr.errors import OpenHMRError
from openhmr.mocap.pose_bank import PoseBank
from openhmr.train.config import load_config
from openhmr.train.features import Without3D, labelled_subset


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """A tiny synthetic experiment: a 3-clip bank, 16 training and 8 test images (plain look:
    a few steps must visibly learn from them)."""
    from openhmr.data.prepare import prepare_synthetic

    root = tmp_path_factory.mktemp("experiment")
    rng = np.random.default_rng(0)
    n = 9
    bank = PoseBank(
        rng.normal(0, 0.15, (n, 30, 3)).astype(np.float32), np.zeros((n, 3), np.float32), np.repeat([0, 1, 2], 3),
        np.array(["a", "b", "c"]), np.arange(n), "anny",
    )  # fmt: skip
    bank_path = bank.save(root / "bank.npz")
    paths = prepare_synthetic(bank_path, root / "data", num_train=16, num_test=8, progress=False, look="plain")
    return root, bank_path, paths


def test_config_reads_overrides_and_refuses_mistakes(tmp_path):
    config = load_config(None, ["data.poses=bank.npz", "regime=unpaired", "steps=12", "data.augment=false", "lr=3e-4"])
    assert (config.regime, config.steps, config.data.augment, config.lr) == ("unpaired", 12, False, 3e-4)
    assert config.fraction_3d == 0.0 and config.uses_discriminator
    assert load_config(None, ["data.poses=b", "regime=2d-only"]).uses_discriminator is False
    toml = tmp_path / "c.toml"
    toml.write_text('regime = "partial"\nlabelled_fraction = 0.25\n[data]\nposes = "bank.npz"\nnum_train = 7\n')
    config = load_config(toml, ["labelled_fraction=0.5"])
    assert (config.fraction_3d, config.data.num_train) == (0.5, 7)
    with pytest.raises(OpenHMRError, match="Setting regime: input should be 'paired'"):
        load_config(None, ["data.poses=b", "regime=semi"])
    with pytest.raises(OpenHMRError, match="Unknown setting stepz; did you mean steps"):
        load_config(None, ["stepz=3"])
    with pytest.raises(OpenHMRError, match="Setting steps: input should be a valid integer"):
        load_config(None, ["data.poses=b", "steps=many"])
    with pytest.raises(OpenHMRError, match="No training data"):
        load_config(None, [])
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(OpenHMRError, match="not valid json"):
        load_config(bad)


def test_partial_labels_keep_exactly_the_chosen_share():
    keep = labelled_subset(200, 0.1, seed=3)
    assert keep.sum() == 20
    assert (labelled_subset(200, 0.1, seed=3) == keep).all()
    samples = [{"keypoints2d": torch.zeros(2, 3), "keypoints3d": torch.ones(2, 4), "rotmats": torch.eye(3), "shape": torch.zeros(1)}]
    data = Without3D(samples * 200, keep)
    with_3d = [i for i in range(200) if "keypoints3d" in data[i]]
    assert with_3d == np.flatnonzero(keep).tolist()
    assert all("rotmats" not in data[i] and "keypoints2d" in data[i] for i in range(200) if not keep[i])


def test_training_crops_carry_parameters_that_reproduce_their_labels(experiment, anny_body):
    """Parameters served with a crop (also rotated and flipped) pose the body onto that crop's
    3D keypoints: the parameter loss and the keypoint loss agree."""
    from openhmr.data.augment import Augmentation
    from openhmr.data.dataset import CropDataset
    from openhmr.data.formats import read_spin_npz
    from openhmr.eval.metrics import pelvis_aligned

    _, _, paths = experiment
    ann = read_spin_npz(paths["train"])
    dataset = CropDataset(ann, augment=True, mirror_pose=anny_body.mirror_pose)
    hips = 11, 12  # coco23 left_hip, right_hip
    for i, aug in enumerate([Augmentation(), Augmentation(rotation=30.0, flip=True), Augmentation(flip=True)]):
        sample = _sample_with(dataset, i, aug)
        out = anny_body(sample["rotmats"][None, 0], sample["rotmats"][None, 1:], sample["shape"][None])
        keypoints, _ = out.keypoints_as("coco23")
        labels = sample["keypoints3d"][None, :, :3]
        gap = (pelvis_aligned(keypoints, hips) - pelvis_aligned(labels, hips)).norm(dim=-1).max()
        assert gap < 0.01, (aug, float(gap))


def _sample_with(dataset, i, aug):
    from unittest import mock

    from PIL import Image

    with Image.open(dataset.ann.image_root / str(dataset.ann.imgname[i])) as im:
        image = np.asarray(im.convert("RGB"))
    with mock.patch("openhmr.data.dataset.Augmentation.sample", return_value=aug):
        return dataset._sample(i, image)


def test_encoder_split_matches_the_whole_backbone():
    from openhmr.nets.encoder import build_encoder

    encoder = build_encoder().eval()
    images = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        whole = encoder(images)
        for k in (None, 3, 5):
            assert torch.allclose(encoder.head(encoder.trunk(images, k), k), whole, atol=1e-5)
    with pytest.raises(OpenHMRError, match="cannot be split"):
        build_encoder("resnet18", weights=None).trunk(images, 2)


def test_train_checkpoint_resume_and_eval_end_to_end(experiment, tmp_path, monkeypatch):
    """openhmr train -> checkpoints -> --resume -> openhmr eval, on the tiny experiment."""
    from safetensors.torch import load_file

    root, bank_path, paths = experiment
    out = tmp_path / "run"
    common = [f"data.poses={bank_path}", f"data.work_dir={root / 'data'}", "data.synth_look=plain", "data.num_train=16", "data.num_test=8",
              "batch_size=8", "checkpoint_every=2", f"out_dir={out}", "progress=false", "regime=partial",
              "labelled_fraction=0.5", "lr_schedule=cosine"]  # fmt: skip
    from openhmr.data.formats import read_spin_npz
    from openhmr.eval.evaluate import evaluate
    from openhmr.train.run import build_training

    # The network as training starts it (same seed): the baseline a short run must beat.
    untrained, loader, _ = build_training(load_config(None, [*common, "steps=4"]))
    baseline = evaluate(untrained.hmr, read_spin_npz(paths["test"]), "synth", progress=False)
    # supervise=all: every IEF iteration is decoded and enters the losses (final: only the last).
    batch = next(iter(loader))
    assert [p.keypoints2d is not None for p in untrained.forward_batch(batch)] == [False, False, True]
    assert untrained.forward_batch(batch)[-1].vertices is None  # no silhouette loss: no mesh decoded
    every, _, _ = build_training(load_config(None, [*common, "steps=4", "supervise=all", "dropout=0.0"]))
    assert all(p.keypoints2d is not None for p in every.forward_batch(batch))
    # The dropout setting reaches the regressor built for training (HMR's 0.5 by default).
    assert untrained.hmr.regressor.mlp[2].p == 0.5 and every.hmr.regressor.mlp[2].p == every.hmr.regressor.mlp[5].p == 0.0
    # crop_margin reaches the network and its crops: on the plain (unaugmented) view, the
    # same people with each keypoint 1.3 / 1.5 as far from the crop's centre.
    plain = {m: build_training(load_config(None, [*common, "steps=4", "data.views=1", f"crop_margin={m}"])) for m in (1.3, 1.5)}
    narrow, wide = (next(iter(plain[m][1]))["keypoints2d"] for m in (1.3, 1.5))
    assert untrained.hmr.crop_margin == plain[1.3][0].hmr.crop_margin == 1.3 and plain[1.5][0].hmr.crop_margin == 1.5
    torch.testing.assert_close(wide[..., :2], narrow[..., :2] * 1.3 / 1.5)
    assert narrow[..., :2].abs().amax() > 0.5  # the keypoints spread over the crop, so the test has teeth
    # upright=true reaches the network and its crops: every person turned by the detector's
    # turn (here a fixed quarter), found once per source and then read from the work dir.
    found = []
    monkeypatch.setattr("openhmr.data.dataset.upright_turns", lambda ann, *a, **k: found.append(len(ann)) or np.full(len(ann), 90.0))
    turned = [build_training(load_config(None, [*common, "steps=4", "data.views=1", "upright=true"])) for _ in range(2)]
    assert turned[0][0].hmr.upright and not plain[1.3][0].hmr.upright and len(found) == 1
    quarter = next(iter(turned[1][1]))["keypoints2d"]
    torch.testing.assert_close(quarter[..., :2].norm(dim=-1), narrow[..., :2].norm(dim=-1), atol=1e-4, rtol=0)
    assert (quarter[..., :2] - narrow[..., :2]).abs().amax() > 0.5
    assert main(["train", *common, "steps=4"]) == 0
    assert sorted(p.name for p in (out / "weights").iterdir()) == [
        "step_0000002.discriminator.safetensors", "step_0000002.safetensors",
        "step_0000004.discriminator.safetensors", "step_0000004.safetensors"]
    first = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert first["global_step"] == 8  # two optimiser steps per batch: encoder and discriminator
    before = load_file(out / "weights" / "step_0000004.safetensors")

    assert main(["train", *common, "steps=6", "--resume", str(out / "checkpoints" / "last.ckpt")]) == 0
    resumed = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == 12
    adam = resumed["optimizer_states"][0]["state"]
    assert int(next(iter(adam.values()))["step"]) == 6  # the optimiser's state went on, not restarted
    assert resumed["lr_schedulers"][0]["last_epoch"] == 6  # and so did the cosine schedule
    after = load_file(out / "model.safetensors")
    assert not torch.equal(before["regressor.mlp.0.weight"], after["regressor.mlp.0.weight"])
    assert not any(k.startswith("body.") for k in after)
    # The discriminator travels beside the weights (fitting's realism prior) and reloads.
    from openhmr.nets.weights_io import discriminator_path, load_discriminator

    disc = load_discriminator(discriminator_path(out / "model.safetensors"), untrained.hmr.body)
    assert not torch.equal(disc.full_pose[4].weight, untrained.discriminator.full_pose[4].weight.half().float())  # trained
    assert disc(torch.eye(3).expand(2, disc.num_body_joints, 3, 3), untrained.hmr.body.mean_shape.expand(2, -1)).shape == (2, disc.num_outputs)
    assert (out / "logs").is_dir() and any((out / "logs").iterdir())

    result = tmp_path / "eval.json"
    assert main(["eval", "--checkpoint", str(out / "model.safetensors"), "--data", str(paths["test"]),
                 "--poses", str(bank_path), "--out", str(result)]) == 0  # fmt: skip
    metrics = json.loads(result.read_text())
    assert metrics["num_images"] == 8
    for key in ("mpjpe", "pa_mpjpe", "pve", "pck05", "pck10", "monster_rate"):
        assert metrics[key] is not None and np.isfinite(metrics[key]), key
    assert metrics["pa_mpjpe"] <= metrics["mpjpe"] and metrics["pck05"] <= metrics["pck10"]
    # Six steps on 16 images already move the held-out test clips' joints and 2D keypoints closer.
    assert metrics["mpjpe"] < baseline["mpjpe"] - 5 and metrics["pck10"] > baseline["pck10"], (baseline, metrics)
    assert set(metrics["per_joint_mpjpe"]) >= {"left_hip", "nose", "right_ankle"}
    # Without --out the JSON lands in the working folder, never beside the checkpoint.
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "--checkpoint", str(out / "model.safetensors"), "--data", str(paths["test"])]) == 0
    assert (tmp_path / "model.eval-synth.json").is_file() and not list(out.glob("*.eval-*"))
    # --flip scores the mirrored pass predict runs by default: other numbers, recorded as such.
    assert main(["eval", "--checkpoint", str(out / "model.safetensors"), "--data", str(paths["test"]), "--flip",
                 "--out", str(tmp_path / "flip.json")]) == 0  # fmt: skip
    flipped = json.loads((tmp_path / "flip.json").read_text())
    assert flipped["flip"] and not metrics["flip"] and flipped["mpjpe"] != metrics["mpjpe"]


def test_a_missing_resume_file_is_one_sentence(experiment, tmp_path, capsys):
    root, bank_path, _ = experiment
    code = main(["train", f"data.poses={bank_path}", f"data.work_dir={root / 'data'}", "data.synth_look=plain", "data.num_train=16",
                 "data.num_test=8", f"out_dir={tmp_path}", "--resume", str(tmp_path / "nope.ckpt")])  # fmt: skip
    assert code == 1 and "does not exist" in capsys.readouterr().err


def test_the_feature_cache_keeps_each_sample_s_labels(tmp_path):
    """Cached samples carry the trunk output and exactly the labels their crop had; a sample
    without parameters stays without them (has_params 0), whatever its position."""
    from openhmr.train.features import build_feature_cache

    class Trunk(torch.nn.Module):
        def trunk(self, images, frozen_blocks):
            return images.mean(dim=(2, 3)) * frozen_blocks

    g = torch.Generator().manual_seed(0)
    samples = []
    for i in range(5):
        s = {"image": torch.rand(3, 8, 8, generator=g), "keypoints2d": torch.rand(4, 3, generator=g)}
        if i >= 2:  # parameters appear only from the second batch on
            s.update(keypoints3d=torch.rand(4, 4, generator=g), rotmats=torch.eye(3).expand(2, 3, 3) * i, shape=torch.full((6,), float(i)))
        samples.append(s)
    expected = [{k: v.clone() for k, v in s.items()} for s in samples]
    path = tmp_path / "cache.safetensors"
    cache = build_feature_cache(Trunk(), samples, 2, path, batch_size=2, progress=False)
    reread = build_feature_cache(Trunk(), [], 2, path)  # the file is reused, not rebuilt
    for data in (cache, reread):
        for i, want in enumerate(expected):
            got = data[i]
            assert torch.allclose(got["trunk"], (want["image"].mean(dim=(1, 2)) * 2).half().float())
            assert torch.equal(got["keypoints2d"], want["keypoints2d"])
            if i >= 2:
                assert torch.equal(got["rotmats"], want["rotmats"]) and torch.equal(got["shape"], want["shape"])
                assert torch.equal(got["keypoints3d"], want["keypoints3d"])
            else:
                assert "rotmats" not in got and float(got["keypoints3d"][:, 3].abs().sum()) == 0.0


def test_real_photos_fill_their_share_of_every_batch(experiment, tmp_path):
    """data.real adds 2D-only photos (here a tiny LSP folder) as `real_share` of each batch,
    from several cached views per image; the synthetic half keeps its 3D labels."""
    from test_lsp import people, write_lsp

    from openhmr.train.run import build_training

    root, bank_path, _ = experiment
    lsp = write_lsp(tmp_path / "lsp", people(6), extended=False)
    # The experiment's rendered images are reused (same work_dir): only the feature caches are new.
    config = load_config(None, [f"data.poses={bank_path}", f"data.work_dir={root / 'data'}", "data.synth_look=plain", "data.num_train=16",
                                "data.num_test=8", "batch_size=8", "regime=paired", f"data.real={lsp},{lsp}:train",
                                "data.real_share=0.25", "data.views=3", "progress=false"])  # fmt: skip
    module, loader, _ = build_training(config)
    real = loader.dataset.batches.sources["real"][0]
    assert len(real) == 2 * 6 * 3  # two sources, six people, three views each
    views = [real[i]["trunk"] for i in (0, 6, 12)]  # one person's three views differ (augmented)
    assert not torch.equal(views[0], views[1]) and not torch.equal(views[1], views[2])
    batch = next(iter(loader))
    assert batch["trunk"].shape[0] == 8
    has3d = batch["keypoints3d"][..., 3].sum(1) > 0
    assert has3d.tolist() == [True] * 6 + [False] * 2
    assert batch["has_params"].tolist() == [1.0] * 6 + [0.0] * 2


def test_resume_survives_a_torn_checkpoint_write(experiment, tmp_path, caplog):
    """What a kill during a checkpoint write leaves (a 0-byte last.ckpt, temporary files) does
    not stop a resume: leftovers are removed, the newest readable checkpoint is used, and the
    run ends with loadable final weights of the right step, in ordinary file permissions."""
    import os

    root, bank_path, _ = experiment
    out = tmp_path / "run"
    common = [f"data.poses={bank_path}", f"data.work_dir={root / 'data'}", "data.synth_look=plain", "data.num_train=16", "data.num_test=8",
              "batch_size=8", "checkpoint_every=2", f"out_dir={out}", "progress=false", "regime=2d-only"]  # fmt: skip
    assert main(["train", *common, "steps=4"]) == 0
    ckpts = out / "checkpoints"
    (ckpts / "last.ckpt").write_bytes(b"")  # torn write
    (ckpts / "step_0000004.ckpt").write_bytes(b"PK\x03\x04 truncated")
    leftover = ckpts / ".last.ckpt.abc123.part.ckpt"
    leftover.write_bytes(b"x" * 100)
    (out / "model.safetensors").unlink()
    assert main(["train", *common, "steps=6", "--resume", str(ckpts / "last.ckpt")]) == 0
    assert not leftover.exists()
    assert "resuming from" in caplog.text and "step_0000002.ckpt" in caplog.text
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["global_step"] == 6  # 2 lost steps, not 4
    assert_weights_are_the_checkpoint_s(out / "model.safetensors", ckpts / "last.ckpt")
    assert os.stat(out / "model.safetensors").st_mode & 0o044
    # Killed after its last step, before the final weights: resuming at the end writes them.
    (out / "model.safetensors").unlink()
    assert main(["train", *common, "steps=6", "--resume", str(ckpts / "last.ckpt")]) == 0
    assert_weights_are_the_checkpoint_s(out / "model.safetensors", ckpts / "last.ckpt")


def assert_weights_are_the_checkpoint_s(weights, checkpoint):
    """The safetensors file holds exactly the checkpoint's network (no body buffers), in float16."""
    from safetensors.torch import load_file

    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    network = {k[4:]: v for k, v in state.items() if k.startswith("hmr.") and not k.startswith("hmr.body.")}
    saved = load_file(weights)
    assert set(saved) == set(network) and network
    for name, value in network.items():
        assert torch.equal(saved[name], value.half() if value.is_floating_point() else value), name


def test_resume_takes_a_run_folder_and_completes_what_a_kill_left(experiment, tmp_path, caplog):
    """--resume RUN_FOLDER: a kill between the final two writes gets its discriminator back; a
    kill before the first checkpoint starts afresh on the prepared data instead of refusing."""
    import shutil

    root, bank_path, _ = experiment
    out = tmp_path / "run"
    common = [f"data.poses={bank_path}", f"data.work_dir={root / 'data'}", "data.synth_look=plain", "data.num_train=16", "data.num_test=8",
              "batch_size=8", "checkpoint_every=2", f"out_dir={out}", "progress=false", "regime=unpaired", "steps=2"]  # fmt: skip
    assert main(["train", *common]) == 0
    discriminator = out / "model.discriminator.safetensors"
    discriminator.unlink()
    assert main(["train", *common, "--resume", str(out)]) == 0
    assert discriminator.is_file()
    shutil.rmtree(out / "checkpoints")
    (out / "model.safetensors").unlink()
    assert main(["train", *common, "--resume", str(out)]) == 0
    assert "holds no checkpoint yet" in caplog.text
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4  # 2 steps, 2 optimisers
    assert (out / "model.safetensors").is_file()


def test_an_unreadable_resume_file_is_one_sentence_and_creates_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"")
    out = tmp_path / "never"
    code = main(["train", "data.poses=bank.npz", f"out_dir={out}", "--resume", str(bad)])
    err = capsys.readouterr().err
    assert code == 1 and "not a readable training checkpoint" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.slow
def test_training_killed_with_sigkill_resumes_and_finishes(experiment, tmp_path):
    """A real `openhmr train` process is SIGKILLed twice (after its first checkpoint, and as
    soon as a later one starts to be written); each resume loses at most one interval and the
    run ends with loadable final weights."""
    import signal
    import subprocess
    import sys
    import time

    from safetensors.torch import load_file

    root, bank_path, _ = experiment
    out = tmp_path / "run"
    ckpts = out / "checkpoints"
    command = [sys.executable, "-m", "openhmr.cli", "train", f"data.poses={bank_path}", f"data.work_dir={root / 'data'}", "data.synth_look=plain",
               "data.num_train=16", "data.num_test=8", "batch_size=8", "checkpoint_every=2", f"out_dir={out}",
               "progress=false", "regime=2d-only", "steps=12"]  # fmt: skip

    def run_until(condition, resume=None):
        process = subprocess.Popen(command + (["--resume", str(resume)] if resume else []), stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while process.poll() is None and not condition() and time.time() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def saved_steps():
        return sorted(int(p.stem.split("_")[1]) for p in ckpts.glob("step_*.ckpt")) if ckpts.is_dir() else []

    run_until(lambda: bool(saved_steps()))
    first = saved_steps()[-1]
    run_until(lambda: any(ckpts.glob(".*.part*")) or saved_steps()[-1] > first + 2, resume=ckpts / "last.ckpt")
    second = saved_steps()[-1]
    assert second >= first
    done = subprocess.run(command + ["--resume", str(ckpts / "last.ckpt")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["global_step"] == 12
    assert load_file(out / "model.safetensors") and not list(ckpts.glob(".*.part*"))


def test_the_silhouette_loss_trains_on_the_masks_synth_wrote(experiment, tmp_path):
    from openhmr.silhouette.losses import silhouette_loss
    from openhmr.train.run import build_training

    root, bank_path, _ = experiment
    config = load_config(None, [f"data.poses={bank_path}", f"data.work_dir={root / 'data'}", "data.synth_look=plain", "data.num_train=16",
                                "data.num_test=8", "batch_size=8", "regime=paired", "data.views=1", "loss_silhouette=10",
                                f"out_dir={tmp_path}", "progress=false"])  # fmt: skip
    module, loader, _ = build_training(config)
    batch = next(iter(loader))
    assert batch["mask"].shape == (8, 64, 64) and (batch["mask_weight"] == 1).all()
    assert (batch["mask"].flatten(1).float().mean(1) > 5).all()  # every crop shows its body's mask
    final = module.forward_batch(batch)[-1]
    loss = silhouette_loss(module.silhouette, final.vertices, final.camera, batch["mask"], batch["mask_weight"])
    loss.backward()
    assert 0 < loss.item() < 1
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.hmr.regressor.parameters())


def test_two_processes_draw_different_batches_and_keep_one_set_of_weights(experiment, tmp_path):
    """A 2-process DDP run on CPU (gloo), as a cluster would launch it: each rank trains on
    batches of its own, and gradient averaging keeps the two networks identical."""
    import subprocess
    import sys
    from pathlib import Path

    root, bank_path, _ = experiment
    record = tmp_path / "record"
    overrides = [f"data.poses={bank_path}", f"data.work_dir={root / 'data'}", "data.synth_look=plain", "data.num_train=16", "data.num_test=8",
                 "batch_size=4", "steps=3", "checkpoint_every=100", f"out_dir={tmp_path / 'run'}", "progress=false",
                 "accelerator=cpu", "devices=2", "strategy=ddp_find_unused_parameters_true"]  # fmt: skip
    probe = Path(__file__).with_name("ddp_probe.py")
    done = subprocess.run([sys.executable, str(probe), str(record), *overrides], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"record.rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert len(ranks[0]["batches"]) == len(ranks[1]["batches"]) == 3
    assert all(a != b for a, b in zip(ranks[0]["batches"], ranks[1]["batches"]))  # every step, different samples
    assert ranks[0]["weights"] == ranks[1]["weights"]


def test_feature_caches_follow_the_labels_contents_not_their_place_or_time(tmp_path):
    """A data folder copied to another machine (new path, new file times) keeps its caches;
    an edited label file, or another split or setting, gets new ones."""
    import os
    import shutil

    from openhmr.data.sources import cache_key

    first = tmp_path / "a" / "people.json"
    first.parent.mkdir()
    first.write_text('{"annotations": [1, 2, 3]}')
    copy = tmp_path / "b" / "people.json"
    copy.parent.mkdir()
    shutil.copy(first, copy)
    os.utime(copy, (1_000_000, 1_000_000))
    assert cache_key(copy, "blazepose-full", 0) == cache_key(first, "blazepose-full", 0)
    assert cache_key(f"{first}:train", "blazepose-full", 0) != cache_key(f"{first}:test", "blazepose-full", 0)
    assert cache_key(first, "blazepose-full", 1) != cache_key(first, "blazepose-full", 0)
    copy.write_text('{"annotations": [1, 2, 4]}')
    assert cache_key(copy, "blazepose-full", 0) != cache_key(first, "blazepose-full", 0)
