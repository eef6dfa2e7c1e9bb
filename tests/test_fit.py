"""openhmr.fit: the objective, the fitter and its acceptance rule, EFT, the pose prior, and
the fit-labels / pose-prior commands."""

import json

import numpy as np
import pytest
import torch

from openhmr.body import keypoints as kp
from openhmr.cli import main
from openhmr.errors import OpenHMRError
from openhmr.fit import (
    BodyParams,
    FitSettings,
    FullImageCamera,
    Objective,
    Targets,
    fit,
)
from openhmr.fit.pose_prior import PosePrior, fit_pose_prior
from openhmr.geometry.camera import weak_perspective_project
from openhmr.geometry.rotations import axis_angle_to_matrix


def true_and_start(body, seed=0, batch=3):
    """A posed batch (the truth) and a perturbed copy (the start a network would give)."""
    g = torch.Generator().manual_seed(seed)
    orient = torch.randn(batch, 3, generator=g) * 0.2
    pose = torch.randn(batch, body.num_body_joints, 3, generator=g) * 0.15
    shape = body.mean_shape.expand(batch, -1).clone()
    camera = torch.tensor([[0.9, 0.05, -0.1]]).expand(batch, 3).clone()
    truth = BodyParams(camera, axis_angle_to_matrix(torch.cat([orient[:, None], pose], 1)), shape)
    noisy = torch.cat([orient[:, None], pose], 1) + torch.randn(batch, body.num_joints, 3, generator=g) * 0.15
    start = BodyParams(camera * torch.tensor([1.1, 1.0, 1.0]) + torch.tensor([0.0, 0.03, 0.02]), axis_angle_to_matrix(noisy), shape)
    return truth, start


def targets_of(body, params: BodyParams, convention="coco23") -> Targets:
    out = body(params.rotmats[:, 0], params.rotmats[:, 1:], params.shape)
    points, mask = kp.convert(out.keypoints, body.keypoint_names, convention)
    xy = weak_perspective_project(points, params.camera)
    return Targets(xy, mask.float().expand(len(xy), -1).clone(), kp.convention_names(convention))


PLAIN = dict(discriminator=0.0, gmm=0.0, bend=0.0, shape=0.0, regression=0.001)


def test_fitting_recovers_the_keypoints_a_body_made(anny_body):
    truth, start = true_and_start(anny_body)
    settings = FitSettings(**PLAIN)
    objective = Objective(anny_body, targets_of(anny_body, truth), start, settings)
    result = fit(objective)
    assert result.accepted.all()
    assert (result.error_before > 5).all() and (result.error_after < 2.0).all(), (result.error_before, result.error_after)
    assert (result.params.camera[:, 0] > 0).all()
    # Adam gets there too, more slowly: the engine is not tied to one optimiser.
    adam = FitSettings(**PLAIN, optimiser="adam", iterations=150)
    assert (fit(Objective(anny_body, targets_of(anny_body, truth), start, adam)).error_after < 3.0).all()


def test_fitting_works_for_an_smpl_body_with_unbounded_betas(smpl_body):
    truth, start = true_and_start(smpl_body)
    truth.shape = torch.full_like(truth.shape, 0.5)  # betas away from the start's zeros
    settings = FitSettings(**PLAIN)
    targets = targets_of(smpl_body, truth, "coco17")
    result = fit(Objective(smpl_body, targets, start, settings))
    assert result.accepted.all() and (result.error_after < 0.25 * result.error_before).all()


def test_a_fit_that_cannot_improve_keeps_the_network_s_estimate(anny_body):
    truth, _ = true_and_start(anny_body)
    settings = FitSettings(**PLAIN)
    result = fit(Objective(anny_body, targets_of(anny_body, truth), truth, settings))
    assert not result.accepted.any()
    assert torch.equal(result.params.rotmats, truth.rotmats) and torch.equal(result.params.camera, truth.camera)


def test_a_fit_the_discriminator_finds_less_real_is_refused(anny_body):
    """The literature's trap: better 2D, worse body. A judge that prefers the start refuses."""
    truth, start = true_and_start(anny_body)

    class PrefersTheStart(torch.nn.Module):
        def forward(self, body_rotmats, shape):  # 1 at the start's pose, lower the further away
            # LM asks about many trial poses per person at once, each person's in a row.
            starts = start.rotmats[:, 1:].repeat_interleave(len(body_rotmats) // len(start.rotmats), 0)
            return 1 - (body_rotmats - starts).square().flatten(1).sum(1, keepdim=True)

    settings = FitSettings(**{**PLAIN, "discriminator": 1e-6})
    result = fit(Objective(anny_body, targets_of(anny_body, truth), start, settings, discriminator=PrefersTheStart()))
    assert (result.error_after == result.error_before).all() and not result.accepted.any()
    assert (result.realism_after == result.realism_before).all()
    assert torch.equal(result.params.rotmats, start.rotmats)


@pytest.mark.parametrize("optimiser, iterations", [("lm", 15), ("lbfgs", 40)])
def test_a_person_s_fit_is_the_same_alone_and_in_a_batch_of_16(optimiser, iterations):
    """Every person has their own LM damping, or L-BFGS history and line search, and stopping test. Checked in
    float64, so that the comparison sees coupling rather than rounding: batched kernels round
    differently from single ones, and an unconverged L-BFGS trajectory amplifies any
    difference (in float64 1e-16 grows to about 1e-11 in 40 iterations; in float32 people
    alone and in a batch end 0.06 px apart on average after the default 150, as a different
    thread count does; docs/fitting.md). With the one shared line search this replaced, the
    first person ended 2.8 px apart here."""
    from openhmr.body import load_body_model
    from openhmr.fit.pose_prior import PosePrior
    from openhmr.nets.discriminator import Discriminator
    from openhmr.shipped import shipped_pose_prior

    body = load_body_model("anny", dtype=torch.float64)
    truth, start = true_and_start(body, batch=16)
    start = BodyParams(start.camera.double(), start.rotmats.double(), start.shape.double())
    targets = targets_of(body, BodyParams(truth.camera.double(), truth.rotmats.double(), truth.shape.double()))
    prior = PosePrior.load(shipped_pose_prior("anny"))
    for name in ("means", "precisions", "log_weights", "hinge_axes"):
        setattr(prior, name, getattr(prior, name).double())
    torch.manual_seed(0)
    judge = Discriminator(body.num_body_joints, body.shape_dim).double()
    settings = FitSettings(optimiser, iterations=iterations, discriminator=0.3, gmm=0.002, bend=1.0, shape=0.05, regression=0.003)

    def fitted_keypoints(people: slice) -> torch.Tensor:
        part = Targets(targets.points[people], targets.confidence[people], targets.names)
        some = BodyParams(start.camera[people], start.rotmats[people], start.shape[people])
        objective = Objective(body, part, some, settings, discriminator=judge, pose_prior=prior)
        return objective.keypoints2d(fit(objective).fitted) * 112  # crop pixels

    together = fitted_keypoints(slice(None))
    assert (together - targets.points * 112).norm(dim=-1).mean() < 2.0  # the fit did its work
    for i in (0, 7, 15):
        alone = fitted_keypoints(slice(i, i + 1))[0]
        assert (alone - together[i]).norm(dim=-1).max() < 1e-4, i  # measured: 4e-8 px at most


def test_targets_in_another_convention_reach_the_body_by_name(anny_body):
    """MediaPipe's heels and foot tips land on the body's heels and big toes; names it lacks
    (mouth, fingers) are ignored; hips count less than the rest."""
    truth, start = true_and_start(anny_body, batch=1)
    t = targets_of(anny_body, truth, "coco23")
    points, mask = kp.convert(torch.cat([t.points, t.confidence[..., None]], -1), t.names, "mediapipe33")
    mp = Targets(points[..., :2], points[..., 2], kp.convention_names("mediapipe33"))
    objective = Objective(anny_body, mp, start, FitSettings(hip_weight=0.3))
    names = mp.names
    for name in ("left_heel", "right_big_toe", "nose"):
        assert objective.used[0, names.index(name)] == 1
    assert objective.used[0, names.index("mouth_left")] == 0 and objective.used[0, names.index("left_pinky")] == 0
    assert objective.weight[0, names.index("left_hip")] == pytest.approx(0.3)
    assert mask.sum() == len({"left_heel", "right_heel", "left_big_toe", "right_big_toe"} | set(kp.convention_names("coco17")))


def test_the_full_image_camera_agrees_with_the_crop_camera_for_a_centred_box(anny_body):
    truth, _ = true_and_start(anny_body, batch=2)
    out = anny_body(truth.rotmats[:, 0], truth.rotmats[:, 1:], truth.shape)
    centre, size = torch.tensor([[320.0, 240.0]] * 2), torch.tensor([300.0, 300.0])
    camera = FullImageCamera(centre, size, torch.tensor([[640.0, 480.0]] * 2), torch.tensor([1e6, 1e6]))  # far: no perspective
    assert torch.allclose(camera.project(out.keypoints, truth.camera), weak_perspective_project(out.keypoints, truth.camera), atol=1e-3)


def test_the_pose_prior_prefers_bank_poses_and_knows_which_way_knees_bend(tmp_path, anny_body):
    g = torch.Generator().manual_seed(0)
    j = anny_body.num_body_joints
    knee = anny_body.joint_names.index("LeftLeg") - 1
    poses = torch.randn(400, j, 3, generator=g) * 0.05
    poses[:, knee, 0] = torch.rand(400, generator=g) * 1.5  # knees bend one way about x
    prior = fit_pose_prior(poses.numpy(), anny_body.joint_names, "anny", components=2)
    assert (prior.nll(poses[:50]) < prior.nll(poses[:50] + 0.5)).all()
    straight, backwards = torch.zeros(1, j, 3), torch.zeros(1, j, 3)
    backwards[0, knee, 0] = -0.8
    assert prior.hyperextension(straight) == 0 and prior.hyperextension(backwards) == pytest.approx(0.64, rel=0.05)

    path = prior.save(tmp_path / "prior.safetensors")
    again = PosePrior.load(path)
    assert torch.equal(again.nll(poses[:5]), prior.nll(poses[:5]))
    with pytest.raises(OpenHMRError, match="Cannot read pose prior .*openhmr pose-prior"):
        PosePrior.load(tmp_path / "missing.safetensors")


def test_the_pose_prior_as_residuals_is_the_max_mixture_nll(anny_body):
    """The least-squares form (whitened offset of the nearest component, and its weight's
    shortfall) must square-sum to SMPLify's max-mixture NLL, written out directly here."""
    from openhmr.shipped import shipped_pose_prior

    prior = PosePrior.load(shipped_pose_prior("anny"))
    poses = torch.randn(64, anny_body.num_body_joints, 3, generator=torch.Generator().manual_seed(0)) * 0.4
    x = poses.flatten(1)[:, None] - prior.means
    per_component = 0.5 * torch.einsum("bcd,cde,bce->bc", x, prior.precisions, x) - prior.log_weights
    direct = per_component.min(1).values + prior.log_weights.max()
    assert torch.allclose(prior.nll(poses), direct, rtol=1e-4, atol=1e-3)
    assert prior.nll_residuals(poses).shape == (64, prior.means.shape[1] + 1)


def test_the_shipped_pose_prior_matches_the_anny_rig(anny_body):
    from openhmr.shipped import shipped_pose_prior

    prior = PosePrior.load(shipped_pose_prior("anny"))
    prior.check_body(anny_body)
    hinges = [anny_body.joint_names[i + 1] for i in prior.hinge_index.tolist()]
    assert sorted(hinges) == ["LeftForeArm", "LeftLeg", "RightForeArm", "RightLeg"]
    assert prior.nll(torch.zeros(1, anny_body.num_body_joints, 3)) < prior.nll(torch.full((1, anny_body.num_body_joints, 3), 0.6))


@pytest.fixture(scope="module")
def small_hmr(anny_body):
    from openhmr.nets.hmr import build_hmr

    torch.manual_seed(0)
    return build_hmr(anny_body, backbone_weights=None).eval()


def test_eft_moves_toward_the_targets_and_restores_the_network(small_hmr, anny_body):
    from openhmr.fit import Refiner

    crop = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    refiner = Refiner(small_hmr, "eft", settings=FitSettings(**PLAIN))
    start = refiner.estimate(crop)
    truth = BodyParams(start.camera * 1.15, start.rotmats, start.shape)  # a larger person than estimated
    weights = {k: v.clone() for k, v in small_hmr.state_dict().items()}
    grads = {n: p.requires_grad for n, p in small_hmr.named_parameters()}
    result = refiner(crop, targets_of(anny_body, truth))
    assert result.accepted.all() and (result.error_after < 0.5 * result.error_before).all()
    assert all(torch.equal(v, small_hmr.state_dict()[k]) for k, v in weights.items())
    assert grads == {n: p.requires_grad for n, p in small_hmr.named_parameters()}
    assert not small_hmr.training


def test_refined_prediction_reports_its_errors_and_follows_the_keypoints(tmp_path, small_hmr, anny_body):
    """predict(refine="fit") with an OpenPose file as evidence: the person moves onto it."""
    from openhmr.detect.mediapipe import Detection
    from openhmr.predict.keypoint_boxes import boxes_from_keypoints
    from openhmr.predict.predictor import Model

    model = Model(small_hmr, anny_body, str(tmp_path / "none.safetensors"), detector=None)
    image = np.full((240, 320, 3), 128, np.uint8)
    plain = model.predict(image, boxes=boxes_from_keypoints(_openpose_box(), "x.jpg", 320, 240))
    coco = plain.people[0].keypoints_2d.copy()
    target = coco.copy()
    target[:, 0] += 12  # the evidence: the same body 12 px to the right
    openpose = np.zeros((25, 3))
    index, mask = kp.mapping(kp.convention_names("coco17"), "openpose25")
    openpose[mask.numpy()] = np.c_[target[index[mask].numpy(), :2], np.ones(int(mask.sum()))]
    # Same box (so the same crop and network estimate), with the evidence attached to it.
    box = boxes_from_keypoints(_openpose_box(), "x.jpg", 320, 240)[0]
    boxes = [Detection(box.bbox, box.score, openpose, "openpose25")]
    before = model.predict(image, boxes=boxes)
    refined = model.predict(image, boxes=boxes, refine="fit")
    person = refined.to_dict()["people"][0]
    assert person["refined"] is True
    assert person["reprojection_error_px"]["after"] < 0.3 * person["reprojection_error_px"]["before"]
    moved = refined.people[0].keypoints_2d[:, 0] - before.people[0].keypoints_2d[:, 0]
    assert np.allclose(before.people[0].keypoints_2d[:, :2], coco[:, :2], atol=1e-3)
    assert 8 < np.median(moved) < 14, (person["reprojection_error_px"], moved)  # onto the evidence
    assert before.to_dict()["people"][0]["refined"] is False and "reprojection_error_px" not in before.to_dict()["people"][0]


def test_an_upright_network_s_fit_starts_from_its_answer_on_the_turned_crop(tmp_path, small_hmr, anny_body, monkeypatch):
    """predict(refine="fit") on a network read upright: the fit works in the unturned crop, and
    starts from the network's answer on the crop turned upright (here by a fixed 90°), rolled
    back by Rz(90°): not from its answer on the unturned crop."""
    from openhmr.fit import Refiner
    from openhmr.geometry.rotations import axis_angle_to_matrix
    from openhmr.nets.flip import final_answer
    from openhmr.predict.keypoint_boxes import boxes_from_keypoints
    from openhmr.predict.predictor import Model

    model = Model(small_hmr, anny_body, str(tmp_path / "none.safetensors"), detector=None, upright=True)
    model._turn = lambda crops: np.full(len(crops), 90.0)  # what MediaPipe's detector would find, fixed
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    boxes = boxes_from_keypoints(_openpose_box(), "x.jpg", 320, 240)
    seen = []
    call = Refiner.__call__
    monkeypatch.setattr(Refiner, "__call__", lambda self, crops, *a, **k: seen.append((crops, a, k)) or call(self, crops, *a, **k))
    model.predict(image, boxes=boxes, refine="fit")
    crops, args, _ = seen[0]
    start = args[3]
    torch.testing.assert_close(crops, model.crops(image, boxes, upright=False).images)  # the fit's camera: unturned
    with torch.no_grad():
        turned = final_answer(small_hmr, model.crops(image, boxes, upright=True).images, True)
        plain = final_answer(small_hmr, crops, True)
    roll = axis_angle_to_matrix(torch.tensor([[0.0, 0.0, np.pi / 2]]))
    torch.testing.assert_close(start.rotmats[:, 0], roll @ turned.rotmats[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(start.rotmats[:, 1:], turned.rotmats[:, 1:])
    torch.testing.assert_close(start.camera[:, 1:], (roll[:, :2, :2] @ turned.camera[:, 1:, None])[..., 0], atol=1e-6, rtol=0)
    assert (start.rotmats[:, 0] - plain.rotmats[:, 0]).abs().max() > 0.1  # not the unturned crop's answer


def test_refine_without_any_evidence_is_a_usage_error(tmp_path, capsys):
    image = tmp_path / "x.png"
    image.write_bytes(b"")
    with pytest.raises(SystemExit) as exit_:
        main(["predict", str(image), "--out", str(tmp_path / "out"), "--refine", "fit", "--no-detector"])
    assert exit_.value.code == 2 and "--no-detector" in capsys.readouterr().err


def _openpose_box() -> dict:
    points = np.zeros((25, 3))
    points[:, :2] = [[100 + 120 * (i % 5) / 4, 30 + 180 * (i // 5) / 4] for i in range(25)]
    points[:, 2] = 1
    return {"people": [{"pose_keypoints_2d": points.ravel().tolist()}]}


def test_fit_labels_writes_pseudo_3d_resumes_and_skips_unreadable_images(tmp_path, capsys):
    """Three people (one of them on a broken image) -> a SPIN-style file training can read."""
    from PIL import Image

    from openhmr.data.dataset import CropDataset
    from openhmr.data.sources import read_annotations

    rng = np.random.default_rng(0)
    for name in ("a.jpg", "b.jpg"):
        Image.fromarray(rng.integers(0, 255, (200, 160, 3), dtype=np.uint8)).save(tmp_path / name)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    part = np.zeros((3, 23, 3))
    part[:, :17, :2] = rng.uniform(40, 150, (3, 17, 2))
    part[:, :17, 2] = 1
    np.savez(tmp_path / "set.npz", imgname=np.array(["a.jpg", "broken.jpg", "b.jpg"]), center=np.full((3, 2), 90.0),
             scale=np.full(3, 0.8), part=part, keypoint_convention=np.array("coco23"))  # fmt: skip
    out = tmp_path / "pseudo.npz"
    args = ["fit-labels", str(tmp_path / "set.npz"), "--out", str(out), "--chunk", "2", "--quiet", "--max-error-px", "1000"]
    assert main(args) == 0
    counts = json.loads(capsys.readouterr().out.splitlines()[0])
    with np.load(out) as f:
        data = {k: f[k] for k in f.files}
    # "good" is what the file says: accepted fits within --max-error-px.
    good = int((data["fit_accepted"].astype(bool) & (data["fit_error_px"] <= 1000)).sum())
    assert counts == {"people": 3, "fitted": 2, "good": good, "unreadable": 1}
    assert data["pose"].shape == (2, 31 * 3) and data["S"].shape == (2, 23, 4) and data["fit_error_px"].shape == (2,)
    assert np.array_equal(data["has_smpl"] > 0, data["good"]) and np.array_equal(data["part"], part[[0, 2]])

    ann = read_annotations(str(out))
    assert ann.body_model == "anny" and len(ann) == 2
    sample = CropDataset(ann)[0]
    assert ("rotmats" in sample) == bool(data["good"][0])

    # Rerunning finds every part done: nothing is refitted (a part's time stamp stays).
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "pseudo.npz.parts").glob("source*.npz")}
    assert main(args) == 0
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}
    # A different job into the same output is refused rather than mixed in.
    assert main([*args[:-2], "--max-error-px", "5"]) == 1
    assert "different fit-labels run" in capsys.readouterr().err
    # So is the same command after a default fit setting changed (a new release's optimiser).
    from openhmr.fit.objective import ITERATIONS

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(ITERATIONS["lbfgs"], "iterations", 7)  # fit-labels fits with L-BFGS
        assert main(args) == 1
    assert "different fit-labels run" in capsys.readouterr().err
    # The same paths with new labels are a different job too: old fits are never kept for them.
    np.savez(tmp_path / "set.npz", imgname=np.array(["a.jpg", "broken.jpg", "b.jpg"]), center=np.full((3, 2), 91.0),
             scale=np.full(3, 0.8), part=part, keypoint_convention=np.array("coco23"))  # fmt: skip
    (tmp_path / "pseudo.npz.parts" / ".source0_0000000.npz.x1.part.npz").write_bytes(b"half")  # a killed write's
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"the labels and images of {tmp_path / 'set.npz'} changed since" in err
    assert not list((tmp_path / "pseudo.npz.parts").glob(".*.part*"))
    # So is a fitting setting that does not exist or does not parse, before any work starts.
    for bad in ("sigma=3", "iterations=many"):
        assert main([*args, "--fit", bad]) == 1
        assert "Fit setting" in capsys.readouterr().err


def test_fit_labels_with_an_upright_network_starts_each_fit_from_its_answer_on_the_turned_crop(tmp_path, small_hmr, anny_body, monkeypatch):
    """As predict does (test above): the fit is in the plain crop and starts from the network's
    answer on the crop turned upright (a fixed 90° here), turned back by Rz(90°)."""
    from PIL import Image

    from openhmr.data.dataset import CropDataset
    from openhmr.data.sources import read_annotations
    from openhmr.fit import Refiner, labels
    from openhmr.geometry.rotations import axis_angle_to_matrix

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (200, 160, 3), dtype=np.uint8)).save(tmp_path / "a.jpg")
    part = np.zeros((2, 23, 3))
    part[:, :17, :2] = rng.uniform(40, 150, (2, 17, 2))
    part[:, :17, 2] = 1
    np.savez(tmp_path / "set.npz", imgname=np.array(["a.jpg", "a.jpg"]), center=np.array([[80.0, 100.0], [90.0, 95.0]]),
             scale=np.full(2, 0.8), part=part, keypoint_convention=np.array("coco23"))  # fmt: skip
    ann = read_annotations(str(tmp_path / "set.npz"), labels.CONVENTION)
    refiner = Refiner(small_hmr, "fit", settings=labels.LabelJob(("x",), None, settings=("iterations=2",)).fit_settings())
    job = labels.LabelJob((str(tmp_path / "set.npz"),), None)
    monkeypatch.setattr(labels, "_WORKER", {"job": job, "body": anny_body, "refiner": refiner, "annotations": [ann],
                                            "turn": lambda crops: np.full(len(crops), 90.0)})  # fmt: skip
    seen = []
    call = Refiner.__call__
    monkeypatch.setattr(Refiner, "__call__", lambda self, crops, *a, **k: seen.append((crops, k)) or call(self, crops, *a, **k))
    labels._fit_chunk((0, 0, 2, str(tmp_path / "part.npz")))

    (crops, kwargs), plain_set = seen[0], CropDataset(ann, margin=small_hmr.crop_margin)
    torch.testing.assert_close(crops, torch.stack([plain_set.sample_or_none(i)["image"] for i in range(2)]))  # fit: plain crops
    turned = refiner.estimate(torch.stack([plain_set.sample_or_none(i, rotation=90.0)["image"] for i in range(2)]))
    plain = refiner.estimate(crops)
    start, roll = kwargs["start"], axis_angle_to_matrix(torch.tensor([[0.0, 0.0, np.pi / 2]]))
    torch.testing.assert_close(start.rotmats[:, 0], roll @ turned.rotmats[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(start.camera[:, 1:], (roll[:, :2, :2] @ turned.camera[:, 1:, None])[..., 0], atol=1e-6, rtol=0)
    assert (start.rotmats[:, 0] - plain.rotmats[:, 0]).abs().max() > 0.1  # not the plain crop's answer
    # The shipped network was trained upright: its fits start turned; eft tunes on the plain crop.
    assert labels.starts_turned(labels.LabelJob(("x",), None)) and not labels.starts_turned(labels.LabelJob(("x",), None, "eft"))


def test_fit_settings_parse_overrides_with_their_types():
    settings = FitSettings.parse(["iterations=40", "discriminator=0.5", "optimiser=adam"])
    assert (settings.iterations, settings.discriminator, settings.optimiser) == (40, 0.5, "adam")
    assert FitSettings.parse([]) == FitSettings()
    with pytest.raises(ValueError, match="lbfgs"):
        FitSettings.parse(["optimiser=sgd"])


def test_pose_prior_command_fits_a_bank_of_the_right_body(tmp_path, anny_body, capsys):
    from openhmr.mocap.pose_bank import PoseBank

    n = 200
    g = np.random.default_rng(0)
    bank = PoseBank(g.normal(0, 0.1, (n, anny_body.num_body_joints, 3)).astype(np.float32), np.zeros((n, 3), np.float32),
                    np.zeros(n, np.int64), np.array(["clip"]), np.arange(n), "anny")  # fmt: skip
    bank.save(tmp_path / "bank.npz")
    assert main(["pose-prior", str(tmp_path / "bank.npz"), "--out", str(tmp_path / "p.safetensors"), "--components", "2"]) == 0
    PosePrior.load(tmp_path / "p.safetensors").check_body(anny_body)
    bank.body_model = "smpl"
    bank.save(tmp_path / "smpl_bank.npz")
    assert main(["pose-prior", str(tmp_path / "smpl_bank.npz"), "--out", str(tmp_path / "q.safetensors")]) == 1
    assert "--body-model" in capsys.readouterr().err


def test_fit_labels_fits_with_lbfgs_unless_told_otherwise():
    """fit-labels' default optimiser is L-BFGS (it keeps more fits to human labels); a
    --fit setting still overrides it, and predict's default stays Levenberg-Marquardt."""
    from openhmr.fit.labels import LabelJob

    assert LabelJob(("x",), None).fit_settings().optimiser == "lbfgs"
    assert LabelJob(("x",), None).fit_settings().iterations == 150  # L-BFGS's own count
    assert LabelJob(("x",), None, settings=("optimiser=lm",)).fit_settings().optimiser == "lm"
    assert FitSettings().optimiser == "lm"
