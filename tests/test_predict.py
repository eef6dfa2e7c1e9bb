"""openhmr predict: the API, the outputs, and every kind of bad input."""

import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from openhmr.cli import main
from tests.conftest import SHARED_DATA

PHOTO = SHARED_DATA / "images" / "coco_000000000785.jpg"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, anny_body):
    """An untrained network's weights: enough for the pipeline, cheap to make."""
    from openhmr.nets.hmr import build_hmr
    from openhmr.nets.weights_io import save_weights

    torch.manual_seed(0)
    return save_weights(build_hmr(anny_body, backbone_weights=None), tmp_path_factory.mktemp("ckpt") / "w.safetensors")


def person_photo(width=320, height=240) -> np.ndarray:
    """A photo-like array (no person detector is needed with a box)."""
    rng = np.random.default_rng(0)
    base = np.linspace(40, 200, width)[None, :, None] + rng.normal(0, 8, (height, width, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def test_api_prediction_is_consistent_with_the_crop_camera(checkpoint, anny_body):
    """Joints lie in front of the camera and the 2D keypoints (perspective projection of the
    3D landmarks in the full image) match the network's weak-perspective keypoints mapped from
    the crop back into the image."""
    import openhmr
    from openhmr.detect.mediapipe import Detection
    from openhmr.geometry.camera import crop_to_image

    model = openhmr.load_model(checkpoint, detector=None)
    image = person_photo()
    box = Detection((100.0, 20.0, 90.0, 200.0), 1.0)
    result = model.predict(image, [box])
    assert (result.width, result.height) == (320, 240) and len(result.people) == 1
    person = result.people[0]
    assert person.joints_3d.shape == (anny_body.num_joints, 3) and (person.joints_3d[:, 2] > 0).all()
    assert person.vertices.shape[0] == int(anny_body.faces.max()) + 1
    crops = model.crops(image, [box])
    with torch.no_grad():
        final = model.hmr(crops.images, decode="final")[-1]
    weak = crop_to_image(final.keypoints2d, crops.centres_t, crops.sizes_t)
    weak17 = weak[0].index_select(0, model.coco17_index).numpy()
    gap = np.abs(person.keypoints_2d[:, :2] - weak17).max()
    assert gap < 0.03 * 200 * 1.3, gap  # under 3% of the crop: perspective vs weak perspective
    doc = result.to_dict()
    assert len(doc["people"][0]["keypoints_2d"]) == 17 and len(doc["people"][0]["keypoint_names"]) == 17
    K = np.array(doc["people"][0]["camera"]["K"])
    assert K[0, 0] == pytest.approx(np.hypot(320, 240), abs=1e-3) and K[:2, 2].tolist() == [160.0, 120.0]


def _write_inputs(folder):
    """Good images in every mode and bad files of every kind; returns (good stems, bad names)."""
    folder.mkdir()
    rgb = person_photo()
    Image.fromarray(rgb).save(folder / "rgb.jpg")
    Image.fromarray(rgb).convert("L").save(folder / "gray.png")
    Image.fromarray(rgb).convert("RGBA").save(folder / "rgba.png")
    Image.fromarray(rgb).convert("P").save(folder / "palette.png")
    Image.fromarray(rgb).convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(folder / "sixteen.png")
    rotated = Image.fromarray(person_photo(300, 200))
    exif = rotated.getexif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90°: upright it is 200 wide, 300 high
    rotated.save(folder / "exif.jpg", exif=exif)
    good = {"rgb", "gray", "rgba", "palette", "cmyk", "sixteen", "exif"}
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_text("not an image at all")
    (folder / "random.png").write_bytes(np.random.default_rng(1).bytes(3000))
    whole = (folder / "rgb.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    Image.new("1", (12000, 8000)).save(folder / "bomb.png")  # 96 megapixels, a few kB on disk
    Image.fromarray(rgb[:12, :12]).save(folder / "tiny.png")
    bad = {"empty.png": "empty file", "notes.jpg": "not an image", "random.png": "not an image",
           "truncated.jpg": "truncated", "bomb.png": "decompression bomb", "tiny.png": "too small"}  # fmt: skip
    return good, bad


def test_bad_inputs_are_named_and_skipped_while_the_rest_goes_on(tmp_path, checkpoint, capsys):
    good, bad = _write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    code = main(["predict", str(tmp_path / "in"), str(tmp_path / "missing.jpg"), "--out", str(out),
                 "--checkpoint", str(checkpoint), "--no-detector", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    for name, reason in bad.items():
        line = next((ln for ln in err.splitlines() if name in ln), "")
        assert line.startswith("skipped") and reason in line, (name, err)
    assert "missing.jpg: no such file" in err
    written = {p.name for p in out.iterdir()}
    assert written == {f"{s}.json" for s in good} | {f"{s}_overlay.png" for s in good}  # nothing partial, no temp files
    exif = json.loads((out / "exif.json").read_text())
    assert (exif["width"], exif["height"]) == (200, 300)  # predictions on the upright image
    with Image.open(out / "exif_overlay.png") as im:
        assert im.size == (200, 300)
    box = exif["people"][0]["bbox"]
    assert box == [0.0, 0.0, 200.0, 300.0]


def test_all_good_inputs_exit_zero_with_meshes_and_side_views(tmp_path, checkpoint):
    import trimesh

    Image.fromarray(person_photo()).save(tmp_path / "a.png")
    out = tmp_path / "out"
    code = main(["predict", str(tmp_path / "a.png"), "--out", str(out), "--checkpoint", str(checkpoint),
                 "--bbox", "100,20,90,200", "--save-mesh", "ply", "--side-view", "--quiet"])  # fmt: skip
    assert code == 0
    doc = json.loads((out / "a.json").read_text())
    assert doc["people"][0]["mesh"] == "a_person0.ply" and doc["people"][0]["bbox"] == [100, 20, 90, 200]
    mesh = trimesh.load(out / "a_person0.ply", process=False)
    assert np.allclose(mesh.vertices.mean(axis=0), np.array(doc["people"][0]["joints_3d"]).mean(axis=0), atol=0.3)
    with Image.open(out / "a_side.png") as side:
        pixels = np.asarray(side.convert("RGB"))
    body = (pixels < 250).any(axis=2)  # the side view: the body on a white page
    rows, cols = np.flatnonzero(body.any(axis=1)), np.flatnonzero(body.any(axis=0))
    assert 0.02 < body.mean() < 0.6  # a figure, not a speck or a filled frame
    assert rows[-1] - rows[0] > 0.5 * body.shape[0]  # framed to most of the height, as side_view frames it
    assert abs((cols[0] + cols[-1]) / 2 - body.shape[1] / 2) < 0.1 * body.shape[1]  # centred


def test_a_checkpoint_of_another_body_model_or_a_missing_smpl_file_is_one_sentence(tmp_path, checkpoint, smpl_npz, capsys):
    Image.fromarray(person_photo()).save(tmp_path / "a.png")
    common = [str(tmp_path / "a.png"), "--out", str(tmp_path / "out"), "--checkpoint", str(checkpoint), "--quiet"]
    assert main(["predict", *common, "--body-model", str(smpl_npz)]) == 1
    assert "was trained for the anny body" in capsys.readouterr().err
    assert main(["predict", *common, "--body-model", str(tmp_path / "SMPL_NEUTRAL.pkl")]) == 1
    err = capsys.readouterr().err
    assert "SMPL_NEUTRAL.pkl" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "a.json").exists()


def test_boxes_from_openpose_and_coco_keypoint_files(tmp_path, checkpoint):
    from openhmr.predict.keypoint_boxes import boxes_from_keypoints, read_keypoint_file

    openpose = tmp_path / "a_keypoints.json"
    points = [100, 50, 0.9, 150, 250, 0.8, 0, 0, 0.0]  # a point with zero confidence is ignored
    openpose.write_text(json.dumps({"people": [{"pose_keypoints_2d": points}]}))
    (box,) = boxes_from_keypoints(read_keypoint_file(openpose), "a.png", 320, 240)
    assert box.bbox == pytest.approx((100.0, 50.0, 50.0, 190.0))  # the seen points' extent, clipped at the bottom
    coco = tmp_path / "coco.json"
    coco.write_text(json.dumps({
        "images": [{"id": 7, "file_name": "a.png"}, {"id": 8, "file_name": "b.png"}],
        "annotations": [{"image_id": 8, "keypoints": [10, 10, 2, 20, 30, 2]},
                        {"image_id": 7, "keypoints": [100, 50, 2, 150, 250, 1, 0, 0, 0]}]}))  # fmt: skip
    (box,) = boxes_from_keypoints(read_keypoint_file(coco), "a.png", 320, 240)
    assert box.bbox == pytest.approx((100.0, 50.0, 50.0, 190.0))
    assert boxes_from_keypoints(read_keypoint_file(coco), "c.png", 320, 240) == []
    Image.fromarray(person_photo()).save(tmp_path / "a.png")
    assert main(["predict", str(tmp_path / "a.png"), "--keypoints", str(openpose), "--out", str(tmp_path / "o"),
                 "--checkpoint", str(checkpoint), "--quiet"]) == 0  # fmt: skip
    assert json.loads((tmp_path / "o" / "a.json").read_text())["people"][0]["bbox"] == pytest.approx([100, 50, 50, 190])


def test_a_folder_of_openpose_files_is_matched_to_images_by_name(tmp_path, checkpoint, capsys):
    from openhmr.predict.keypoint_boxes import boxes_from_keypoints, read_keypoint_file

    folder = tmp_path / "openpose"
    folder.mkdir()
    for stem, x in (("a", 100), ("b", 20)):
        points = [x, 50, 0.9, x + 50, 200, 0.8]
        (folder / f"{stem}_keypoints.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": points}]}))
    data = read_keypoint_file(folder)
    assert boxes_from_keypoints(data, "b.png", 320, 240)[0].bbox == pytest.approx((20.0, 50.0, 50.0, 150.0))
    assert boxes_from_keypoints(data, "elsewhere/c.png", 320, 240) == []
    images = tmp_path / "images"
    images.mkdir()
    for stem in ("a", "b", "c"):
        Image.fromarray(person_photo()).save(images / f"{stem}.png")
    code = main(["predict", str(images), "--keypoints", str(folder), "--out", str(tmp_path / "o"),
                 "--checkpoint", str(checkpoint), "--quiet"])  # fmt: skip
    assert code == 1 and "c.png: no person found" in capsys.readouterr().err  # c has no keypoint file
    for stem, x in (("a", 100), ("b", 20)):
        assert json.loads((tmp_path / "o" / f"{stem}.json").read_text())["people"][0]["bbox"][0] == x


def test_video_frames_are_sampled_one_result_each(tmp_path, checkpoint):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for _ in range(7):
        writer.write(person_photo()[..., ::-1])
    writer.release()
    out = tmp_path / "out"
    assert main(["predict", str(path), "--out", str(out), "--checkpoint", str(checkpoint), "--bbox", "100,20,90,200",
                 "--video-step", "3", "--quiet"]) == 0  # fmt: skip
    assert sorted(p.name for p in out.glob("*.json")) == ["clip_f000000.json", "clip_f000003.json", "clip_f000006.json"]


def test_the_detector_finds_the_person_in_a_real_photo_and_no_one_in_an_empty_one(tmp_path, checkpoint, capsys):
    pytest.importorskip("mediapipe")
    if not PHOTO.exists():
        pytest.skip(f"shared photo absent: {PHOTO}")
    Image.fromarray(np.full((240, 320, 3), 128, np.uint8)).save(tmp_path / "empty_room.png")
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["predict", str(PHOTO), str(tmp_path / "empty_room.png"), "--out", str(out),
                     "--checkpoint", str(checkpoint), "--quiet"])  # fmt: skip
    assert code == 1 and "empty_room.png: no person found" in capsys.readouterr().err
    doc = json.loads((out / f"{PHOTO.stem}.json").read_text())
    labels = json.loads(PHOTO.with_suffix(".json").read_text())
    x, y, w, h = max(labels["annotations"], key=lambda a: a["area"])["bbox"]
    px, py, pw, ph = doc["people"][0]["bbox"]
    overlap = max(0, min(x + w, px + pw) - max(x, px)) * max(0, min(y + h, py + ph) - max(y, py))
    # The detected box spans the landmarks (joints), the labelled one the whole silhouette.
    assert overlap / (w * h) > 0.7
    assert x < px + pw / 2 < x + w and y < py + ph / 2 < y + h
    assert not (out / "empty_room.json").exists()


def test_the_traced_cpu_encoder_predicts_what_the_module_does(checkpoint):
    import openhmr
    from openhmr.detect.mediapipe import Detection

    model = openhmr.load_model(checkpoint, detector=None)
    image = person_photo()
    boxes = [Detection((100.0, 20.0, 90.0, 200.0), 1.0), Detection((20.0, 30.0, 60.0, 150.0), 1.0)]
    eager = model.predict(image, boxes)
    model.optimise_for_cpu()
    traced = model.predict(image, boxes)
    for a, b in zip(eager.people, traced.people):
        assert np.abs(a.joints_3d - b.joints_3d).max() < 1e-3
        assert np.abs(a.keypoints_2d - b.keypoints_2d).max() < 0.5


@pytest.mark.parametrize("focal", ["-100", "0", "abc"])
def test_a_focal_length_that_is_not_positive_is_a_usage_error(tmp_path, focal, capsys):
    Image.fromarray(person_photo()).save(tmp_path / "a.png")
    with pytest.raises(SystemExit) as exit_:
        main(["predict", str(tmp_path / "a.png"), "--out", str(tmp_path / "out"), "--focal", focal])
    assert exit_.value.code == 2 and "--focal" in capsys.readouterr().err


def test_inputs_are_checked_before_any_model_loads(tmp_path, capsys):
    """A text file named .jpg and an empty folder are reported at once: the checkpoint named
    here does not exist, so reaching the model would be a different error."""
    (tmp_path / "notes.jpg").write_text("not a photo")
    (tmp_path / "empty").mkdir()
    code = main(["predict", str(tmp_path / "notes.jpg"), str(tmp_path / "empty"), "--out", str(tmp_path / "out"),
                 "--checkpoint", str(tmp_path / "missing.safetensors"), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "No readable image or video" in err and "missing.safetensors" not in err
    assert "notes.jpg: not an image" in err and "folder holds no image" in err


def test_a_failed_write_costs_one_input_and_leaves_no_partial_files(tmp_path, checkpoint, capsys):
    for name in ("a", "b"):
        Image.fromarray(person_photo()).save(tmp_path / f"{name}.png")
    out = tmp_path / "out"
    (out / "a.json").mkdir(parents=True)  # an output name taken by a folder
    code = main(["predict", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--out", str(out),
                 "--checkpoint", str(checkpoint), "--bbox", "100,20,90,200", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert f"failed {tmp_path / 'a.png'}: Cannot write {out / 'a.json'}: a folder of that name is in the way." in err
    assert {p.name for p in out.iterdir()} == {"a.json", "b.json", "b_overlay.png"}  # a's overlay removed, no temp files


def test_a_full_disk_is_one_line_per_input_not_a_traceback(tmp_path, checkpoint):
    import resource
    import subprocess
    import sys

    for name in ("a", "b"):
        Image.fromarray(person_photo()).save(tmp_path / f"{name}.png")
    out = tmp_path / "out"
    limit = 20_000  # bytes: the overlays (~100 KB) cannot be written

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-m", "openhmr", "predict", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--out", str(out),
         "--checkpoint", str(checkpoint), "--bbox", "100,20,90,200", "--quiet"],
        capture_output=True, text=True, timeout=600, preexec_fn=small_files,
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed")]
    assert len(failed) == 2 and all("File too large" in line for line in failed)
    assert list(out.iterdir()) == []


def test_an_unwritable_out_is_refused_before_any_model_loads(tmp_path, capsys):
    Image.fromarray(person_photo()).save(tmp_path / "a.png")
    (tmp_path / "taken").write_text("a file")
    code = main(["predict", str(tmp_path / "a.png"), "--out", str(tmp_path / "taken"),
                 "--checkpoint", str(tmp_path / "missing.safetensors")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and f"--out {tmp_path / 'taken'} is a file, not a folder." in err and "missing" not in err


def test_damaged_videos_and_unreadable_formats_get_one_line_each(tmp_path, checkpoint, capfd):
    """A truncated MP4 (no index): the skip line alone, no FFmpeg line before it. A truncated
    AVI: its frames up to the damage, and a notice of how many. HEIC in a folder: named as
    skipped. AVIF: read."""
    import cv2

    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    for suffix, fourcc in ((".mp4", "mp4v"), (".avi", "MJPG")):
        whole = tmp_path / f"whole{suffix}"
        writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*fourcc), 10, (160, 120))
        for _ in range(30):
            writer.write(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
        writer.release()
        data = whole.read_bytes()
        (folder / f"cut{suffix}").write_bytes(data[: int(len(data) * 0.6)])
    (folder / "phone.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    Image.fromarray(person_photo()).save(folder / "photo.avif")
    capfd.readouterr()
    code = main(["predict", str(folder), "--out", str(tmp_path / "out"), "--checkpoint", str(checkpoint),
                 "--bbox", "10,10,100,100", "--video-step", "5", "--quiet"])  # fmt: skip
    err = capfd.readouterr().err.splitlines()
    assert code == 1
    assert f"skipped {folder / 'cut.mp4'}: not a video OpenCV can read" in err
    assert any(line == f"skipped {folder / 'phone.heic'}: HEIC photos cannot be read; convert to JPEG or PNG" for line in err)
    notice = next(line for line in err if line.startswith("notice:"))
    read = int(notice.split("read ")[1].split(" of")[0])
    assert 0 < read < 30 and notice.endswith("of the 30 frames it declares (the file ends early)")
    assert not any("moov" in line or "mjpeg" in line or "overread" in line for line in err), err
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert "photo.json" in written and len([n for n in written if n.startswith("cut_f") and n.endswith(".json")]) == len(range(0, read, 5))


def test_pipes_and_symbolic_link_loops_are_named_not_read(tmp_path):
    """A FIFO would block a reader forever; a link loop is not 'missing'. Both get a reason."""
    import os

    from openhmr.predict.inputs import expand_inputs

    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "a.jpg").symlink_to(tmp_path / "b.jpg")
    (tmp_path / "b.jpg").symlink_to(tmp_path / "a.jpg")
    files, skipped = expand_inputs([str(tmp_path / "pipe.jpg"), str(tmp_path / "a.jpg")])
    assert files == [] and dict(skipped) == {
        str(tmp_path / "pipe.jpg"): "not a regular file (a pipe, device or socket)",
        str(tmp_path / "a.jpg"): "a broken or looping symbolic link",
    }


def test_one_gl_context_draws_photos_of_several_sizes_where_the_camera_puts_them():
    """predict_files keeps one MeshRenderer for a folder: the first picture gets a context of its
    own size, a larger one a square context that later pictures of similar sizes share, cut
    from its corner; each must still show a sphere exactly where the pinhole camera projects it
    (a corner anchored wrongly shifts the disc)."""
    import roma  # noqa: F401  (imported before any GL context: importing it, and so triton, after one crashed the process)
    import trimesh

    from openhmr.render import MeshRenderer

    sphere = trimesh.creation.icosphere(4, 0.3)
    renderer = MeshRenderer()
    contexts = []
    try:
        for (width, height), centre in (((300, 200), (0.1, -0.05, 3.0)), ((400, 500), (-0.2, 0.3, 2.5)),
                                        ((350, 420), (0.15, 0.1, 2.8)), ((320, 240), (0.0, 0.0, 3.0)), ((270, 150), (0.0, 0.1, 3.2))):  # fmt: skip
            K = np.array([[450.0, 0.0, width / 2 + 20], [0.0, 450.0, height / 2 - 10], [0.0, 0.0, 1.0]])
            picture = renderer(sphere.vertices + centre, sphere.faces, K, (width, height))
            contexts.append(renderer._renderer)
            assert picture.shape == (height, width, 3)
            covered = (picture < 250).any(-1)
            x, y, z = centre
            u, v = K[0, 0] * x / z + K[0, 2], K[1, 1] * y / z + K[1, 2]
            radius = K[0, 0] * 0.3 / np.sqrt(z**2 - 0.3**2)  # the sphere's outline, nearly a disc here
            rows, cols = np.mgrid[:height, :width]
            disc = (cols + 0.5 - u) ** 2 + (rows + 0.5 - v) ** 2 < radius**2
            assert (covered & disc).sum() / (covered | disc).sum() > 0.95
    finally:
        renderer.close()
    assert (contexts[0].viewport_width, contexts[0].viewport_height) == (300, 200)  # exact: a video's frames
    assert contexts[1] is not contexts[0] and contexts[1].viewport_width == contexts[1].viewport_height == 512
    assert contexts[2] is contexts[1] and contexts[3] is contexts[1] and contexts[4] is contexts[1]  # similar sizes share it


def test_worker_processes_write_what_one_process_writes_and_keep_same_named_inputs_apart(tmp_path, checkpoint, capsys):
    """--workers shares a folder among processes: every result is the one process's (same
    boxes, same keypoints), two inputs named alike in different folders both keep their files
    (such inputs go to one worker, which names the second a_), and a broken input is reported."""
    for folder, shift in (("one", 0), ("two", 30), ("three", 60)):
        (tmp_path / "in" / folder).mkdir(parents=True)
        Image.fromarray(np.roll(person_photo(), shift, axis=1)).save(tmp_path / "in" / folder / "a.png")
    Image.fromarray(person_photo()).save(tmp_path / "in" / "b.png")
    (tmp_path / "in" / "broken.png").write_bytes(b"not a png")
    common = [str(tmp_path / "in"), "--checkpoint", str(checkpoint), "--bbox", "100,20,90,200", "--quiet"]
    assert main(["predict", *common, "--out", str(tmp_path / "single")]) == 1
    single_err = capsys.readouterr().err
    assert main(["predict", *common, "--out", str(tmp_path / "workers"), "--workers", "2"]) == 1
    assert "broken.png" in capsys.readouterr().err and "broken.png" in single_err
    names = sorted(p.name for p in (tmp_path / "single").glob("*.json"))
    assert names == ["a.json", "a_.json", "a__.json", "b.json"]
    assert sorted(p.name for p in (tmp_path / "workers").glob("*.json")) == names
    for name in names:
        one, two = (json.loads((tmp_path / run / name).read_text())["people"][0] for run in ("single", "workers"))
        assert one["bbox"] == two["bbox"]
        assert np.allclose(one["keypoints_2d"], two["keypoints_2d"], atol=1e-3)
    with pytest.raises(SystemExit) as usage:
        main(["predict", *common, "--out", str(tmp_path / "bad"), "--workers", "0"])
    assert usage.value.code == 2 and "--workers must be at least 1" in capsys.readouterr().err


def test_a_network_trained_on_wider_crops_is_run_on_them_in_predict_and_in_eval(tmp_path, anny_body):
    """crop_margin travels in the weights; predict and evaluation then cut the same pixels
    for a person (eval from the labelled joints, predict from their tight box), and a network
    of the stored margin sees a narrower crop. Older files without the field read as 1.3."""
    import openhmr
    from openhmr.detect.mediapipe import Detection
    from openhmr.errors import OpenHMRError
    from openhmr.eval.evaluate import evaluate_2d, read_eval_set
    from openhmr.nets.hmr import build_hmr
    from openhmr.nets.weights_io import load_hmr, read_metadata, save_weights
    from openhmr.predict.images import load_image
    from tests.test_lsp import people, write_lsp

    folder = write_lsp(tmp_path / "lsp", people(1, seed=3) + [100, 60, 0], False, size=(320, 240))
    Image.fromarray(person_photo()).save(folder / "images" / "im0001.jpg")
    ann = read_eval_set(str(folder), "lsp")
    image = load_image(folder / "images" / "im0001.jpg")
    side = float(ann.person_size[0])
    box = Detection((*(ann.center[0] - side / 2), side, side), 1.0)  # the tight box of the labelled joints

    def eval_crop(model):
        seen = []
        hook = model.hmr.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
        evaluate_2d(model.hmr, ann, "lsp", progress=False)
        hook.remove()
        return seen[0][0]

    torch.manual_seed(0)
    crops = {}
    for margin in (1.3, 1.5):
        path = save_weights(build_hmr(anny_body, backbone_weights=None, crop_margin=margin), tmp_path / f"m{margin}.safetensors")
        model = openhmr.load_model(path, detector=None)
        assert model.hmr.crop_margin == margin and read_metadata(path)[0]["crop_margin"] == margin
        predicted = model.crops(image, [box])
        assert predicted.sizes[0] == pytest.approx(side * margin)
        crops[margin] = eval_crop(model)
        torch.testing.assert_close(crops[margin], predicted.images[0], atol=1e-6, rtol=0)
    assert (crops[1.3] - crops[1.5]).abs().mean() > 0.01  # the margin changes what the network sees

    from safetensors.torch import load_file, save_file

    arch, extra = read_metadata(path)
    for value, expected in ((None, 1.3), (10.0, None)):
        changed = {k: v for k, v in arch.items() if k != "crop_margin"} | ({} if value is None else {"crop_margin": value})
        save_file(load_file(str(path)), str(tmp_path / "edited.safetensors"), {"openhmr": json.dumps(changed), "extra": json.dumps(extra)})
        if expected is None:
            with pytest.raises(OpenHMRError, match="crop_margin"):
                load_hmr(tmp_path / "edited.safetensors", anny_body)
        else:
            assert load_hmr(tmp_path / "edited.safetensors", anny_body).crop_margin == expected


def test_turned_outputs_come_back_where_the_unturned_crop_sees_the_body(anny_body):
    """A body as crops turned by 35° and −120° see it, turned back: its parameters decode to keypoints
    that lie where the unturned crop of the same box sees the turned crop's points (the
    matrices of openhmr.geometry.crop), and every returned field agrees with that body."""
    from openhmr.geometry.crop import crop_matrix, transform_points
    from openhmr.geometry.rotations import axis_angle_to_matrix
    from openhmr.nets.hmr import build_hmr
    from openhmr.nets.upright import turned_back

    hmr = build_hmr(anny_body, backbone_weights=None)
    torch.manual_seed(0)
    rotmats = axis_angle_to_matrix(torch.randn(2, anny_body.num_joints, 3) * 0.3)
    camera = torch.tensor([[0.9, 0.05, -0.1], [1.1, -0.08, 0.12]])
    shape = anny_body.mean_shape.expand(2, -1)
    turned = hmr.decode_params(camera, rotmats, shape)
    angles = torch.tensor([35.0, -120.0])
    fields = {f: getattr(turned, f) for f in ("camera", "rotmats", "shape", "vertices", "joints3d", "keypoints3d", "keypoints2d")}
    back = turned_back(fields, angles)
    again = hmr.decode_params(back["camera"], back["rotmats"], back["shape"])
    centre, side, res = np.array([300.0, 200.0]), 250.0, 224
    for i, a in enumerate(angles.tolist()):
        pixels = (turned.keypoints2d[i].double().numpy() + 1) * res / 2  # in the turned crop
        in_image = transform_points(pixels, np.linalg.inv(crop_matrix(centre, side, res, rotation=a)))
        expected = transform_points(in_image, crop_matrix(centre, side, res)) / (res / 2) - 1
        np.testing.assert_allclose(again.keypoints2d[i].numpy(), expected, atol=1e-4)
        np.testing.assert_allclose(back["keypoints2d"][i].numpy(), expected, atol=1e-4)
    for name in ("keypoints3d", "joints3d", "vertices"):
        torch.testing.assert_close(back[name], getattr(again, name), atol=1e-4, rtol=0)
    assert (again.keypoints2d - turned.keypoints2d).abs().max() > 0.1  # the turn is not a no-op


def test_upright_crops_follow_a_person_turned_on_their_side():
    """The bundled cameraman and the same photo turned 90°: with upright crops the keypoints
    turn with the photo (each pass cuts him upright), much closer than without them."""
    from pathlib import Path

    import openhmr
    from openhmr.detect.mediapipe import Detection

    image = np.asarray(Image.open(Path(__file__).resolve().parents[1] / "examples" / "camera.png").convert("RGB"))
    width = image.shape[1]
    side = 452.0
    box = Detection((40.0 + 150 - side / 2, 60.0, side, side), 1.0)  # square about his box's centre
    turned = np.ascontiguousarray(np.rot90(image))  # counter-clockwise: pixel (x, y) goes to (y, width - 1 - x)
    x, y = box.bbox[0], box.bbox[1]
    turned_box = Detection((y, width - x - side, side, side), 1.0)
    gaps = {}
    for upright in (True, False):
        model = openhmr.load_model(detector=None, upright=upright)
        first = model.predict(image, [box]).people[0].keypoints_2d[:, :2]
        second = model.predict(turned, [turned_box]).people[0].keypoints_2d[:, :2]
        back = np.stack([width - 1 - second[:, 1], second[:, 0]], axis=1)  # into the first photo's pixels
        gaps[upright] = np.linalg.norm(back - first, axis=1).mean() / side
    # Measured: 0.068 against 0.130 of the box (the detector's turn moved 96° for the photo's 90°).
    assert gaps[True] < 0.09 and gaps[True] < 0.7 * gaps[False], gaps


def test_evaluation_turns_crops_upright_as_predict_does(tmp_path):
    """evaluate_2d(upright=True) runs the network on the very crop predict --upright cuts."""
    from pathlib import Path

    import openhmr
    from openhmr.detect.mediapipe import Detection
    from openhmr.eval.evaluate import evaluate_2d, read_eval_set
    from openhmr.predict.images import load_image
    from tests.test_lsp import write_lsp

    turned = Image.open(Path(__file__).resolve().parents[1] / "examples" / "camera.png").convert("RGB").rotate(60)
    points = np.full((1, 14, 3), 1.0)
    points[0, :, :2] = (190, 286)
    points[0, 0, :2], points[0, 1, :2] = (40, 60), (340, 500)  # the joints' extent: his box
    folder = write_lsp(tmp_path / "lsp", points, False, size=turned.size)
    turned.save(folder / "images" / "im0001.jpg")
    ann = read_eval_set(str(folder), "lsp")
    image = load_image(folder / "images" / "im0001.jpg")
    side = float(ann.person_size[0])
    model = openhmr.load_model(detector=None, upright=True)
    cut = model.crops(image, [Detection((*(ann.center[0] - side / 2), side, side), 1.0)])
    seen = []
    hook = model.hmr.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    evaluate_2d(model.hmr, ann, "lsp", progress=False, upright=True)
    hook.remove()
    assert abs(cut.angles[0]) > 20  # the photo was turned: so is the crop
    torch.testing.assert_close(seen[-1][0], cut.images[0], atol=1e-6, rtol=0)
