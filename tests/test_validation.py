"""Every value a user hands in is checked before work starts, with one sentence: training
configs (file and overrides), keypoint files, --bbox / --focal, and weights files' metadata
and tensors. One table per kind; each row is a mistake a user made and the sentence it gets."""

import json

import pytest
import torch

from openhmr.cli import main
from openhmr.errors import OpenHMRError
from openhmr.train.config import load_config

DATA = '\n[data]\nposes = "bank.npz"\n'

CONFIG_FILES = [  # (TOML text, expected message; None: accepted)
    ('frozen_blocks = 6' + DATA, None),
    ('devices = 1' + DATA, None),
    ('lr = 1' + DATA, None),
    ('steps = "many"' + DATA, "Setting steps: input should be a valid integer; got 'many'"),
    ('lr = "fast"' + DATA, "Setting lr: input should be a valid number"),
    ('data = 5', "Setting data must be a section"),
    ('batch_size = 2.5' + DATA, "Setting batch_size: input should be a valid integer; got 2.5"),
    (DATA + 'views = "2"', "Setting data.views: input should be a valid integer; got '2'"),
    ('views = 2' + DATA, "Setting views belongs in the [data] section: data.views"),
    ('stepz = 3' + DATA, "Unknown setting stepz; did you mean steps?"),
    (DATA + 'num_tran = 5', "Unknown setting data.num_tran; did you mean data.num_train?"),
    ('lr = nan' + DATA, "Setting lr: input should be a finite number"),
    ('steps = 0' + DATA, "Setting steps: input should be greater than or equal to 1"),
    ('frozen_blocks = "six"' + DATA, "Setting frozen_blocks: string should match pattern"),
    ('devices = 1.5' + DATA, "Setting devices: input should be a valid string"),
    ('regime = "semi"' + DATA, "Setting regime: input should be 'paired', 'partial', 'unpaired' or '2d-only'"),
    ('progress = "yes"' + DATA, "Setting progress: input should be a valid boolean"),
    (DATA + 'truncation = 1.5', "Setting data.truncation: input should be less than or equal to 1"),
]


@pytest.mark.parametrize("text, message", CONFIG_FILES)
def test_config_files_are_checked_whole(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    if message is None:
        config = load_config(path)
        assert isinstance(config.devices, str) and isinstance(config.frozen_blocks, str) and isinstance(config.lr, float)
        return
    with pytest.raises(OpenHMRError) as error:
        load_config(path)
    assert message in str(error.value)


def test_json_config_that_is_a_list_is_one_sentence(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("[1, 2]")
    with pytest.raises(OpenHMRError, match="must hold settings .* not a list"):
        load_config(path)


OVERRIDES = [
    (["devices=2"], None),
    (["data.views=x"], "Setting data.views: input should be a valid integer; got 'x'"),
    (["lr=inf"], "Setting lr: input should be a finite number"),
    (["progress=maybe"], "Setting progress: input should be a valid boolean"),
    (["data=5"], "Setting data is a section"),
    (["seed=-1"], "Setting seed: input should be greater than or equal to 0"),
]


@pytest.mark.parametrize("overrides, message", OVERRIDES)
def test_overrides_are_checked_like_file_values(overrides, message):
    if message is None:
        assert load_config(None, ["data.poses=b", *overrides]).devices == "2"
        return
    with pytest.raises(OpenHMRError) as error:
        load_config(None, ["data.poses=b", *overrides])
    assert message in str(error.value)


def test_a_bad_config_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "lr=fast", "data.poses=b.npz", f"out_dir={out}"]) == 1
    assert "Setting lr" in capsys.readouterr().err
    assert not out.exists()


KEYPOINT_FILES = [  # (file text, expected message)
    ('{"people":[{"pose_keypoints_2d":[1,2,3,4]}]}', "people[0].pose_keypoints_2d holds 4 numbers, not x, y, confidence"),
    ('{"people":5}', "at people, 5 is not of type 'array'"),
    ('{"people":[null]}', "at people[0], None is not of type 'object'"),
    ('{"people":[{"pose_keypoints_2d":[1,"a",3]}]}', "at people[0].pose_keypoints_2d[1], 'a' is not of type 'number'"),
    ('{"people":[{"pose_keypoints_2d":[1,true,3]}]}', "at people[0].pose_keypoints_2d[1], True is not of type 'number'"),
    ('{"people":[{"face":[]}]}', "'pose_keypoints_2d' is a required property"),
    ('{"annotations":[{"keypoints":[1,2]}]}', "at annotations[0].keypoints, [1, 2] is too short"),
    ('{"annotations":[{"keypoints":[1,2,3,4,5,6,7]}]}', "annotations[0].keypoints holds 7 numbers"),
    ('{"annotations":[],"images":[{"id":1}]}', "'file_name' is a required property"),
    ('{"people":[{"pose_keypoints_2d":[1,NaN,3]}]}', "NaN is not a number JSON allows"),
    ('{"people":[{"pose_keypoints_2d":[1,Infinity,3]}]}', "Infinity is not a number JSON allows"),
    ('[1,2,3]', "is neither OpenPose JSON"),
    ('{"peop', "Cannot read keypoint file"),
]


@pytest.mark.parametrize("text, message", KEYPOINT_FILES)
def test_keypoint_files_are_refused_whole_before_any_work(tmp_path, capsys, text, message):
    keypoints = tmp_path / "k.json"
    keypoints.write_text(text)
    image = tmp_path / "missing.jpg"  # never read: the keypoint file is checked first
    assert main(["predict", str(image), "--keypoints", str(keypoints), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag, message", [
    ("--bbox=nan,nan,10,10", "--bbox values must be finite"),
    ("--bbox=0,0,inf,inf", "--bbox values must be finite"),
    ("--bbox=0,0,1e300,10", "--bbox values must be finite"),
    ("--bbox=0,0,-5,10", "--bbox width and height must be positive"),
])
def test_bbox_must_be_finite_pixels(tmp_path, capsys, flag, message):
    assert main(["predict", str(tmp_path / "x.jpg"), flag, "--out", str(tmp_path / "o")]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flag", [["--video-step", "0"], ["--batch-size", "0"], ["--video-step", "-2"]])
def test_counts_below_one_are_refused_not_replaced_by_a_default(tmp_path, capsys, flag):
    assert main(["predict", str(tmp_path / "x.jpg"), *flag, "--out", str(tmp_path / "o")]) == 1
    assert "--batch-size and --video-step must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["inf", "nan", "1e300", "0", "-3"])
def test_focal_must_be_a_plausible_pixel_length(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as code:
        main(["predict", str(tmp_path / "x.jpg"), "--focal", value, "--out", str(tmp_path / "o")])
    assert code.value.code == 2
    assert "--focal: must be a focal length in pixels" in capsys.readouterr().err


# Weights files: the shipped file with one thing changed.
def _rewrite(tmp_path, arch_change=None, tensor_change=None, raw_meta=None):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from openhmr.shipped import SHIPPED_WEIGHTS

    with safe_open(str(SHIPPED_WEIGHTS), framework="pt") as f:
        meta = dict(f.metadata())
    tensors = load_file(str(SHIPPED_WEIGHTS))
    arch = json.loads(meta["openhmr"])
    if arch_change:
        arch_change(arch)
    meta["openhmr"] = json.dumps(arch)
    if raw_meta:
        meta.update(raw_meta)
    if tensor_change:
        tensor_change(tensors)
    path = tmp_path / "w.safetensors"
    save_file(tensors, str(path), metadata=meta)
    return path


def _first_layer(arch):
    return arch["encoder_spec"]["layers"][0]


WEIGHTS = [  # (metadata change, raw metadata, expected message)
    (lambda a: a.update(iterations=10**9), None, "iterations: Input should be less than or equal to 20"),
    (lambda a: a.pop("rotation"), None, "rotation: Field required"),
    (lambda a: a.update(num_joints="41"), None, "num_joints: Input should be a valid integer"),
    (lambda a: a.update(relu=False), None, "relu: Input should be True"),
    (lambda a: a.update(backbone="no_such_net"), None, "backbone: Value error, unknown backbone"),
    (lambda a: a.update(keypoint_convention="coco99"), None, "unknown keypoint convention"),
    (lambda a: a.update(encoder_inputs=["elbows"]), None, "encoder inputs must be some of"),
    (lambda a: a.update(encoder_spec=None), None, "a BlazePose backbone needs its encoder_spec"),
    (lambda a: _first_layer(a).update(inputs=[123456]), None, "reads tensor 123456, which no earlier layer writes"),
    (lambda a: _first_layer(a)["args"].update(out_channels=10**9), None, "a layer size is beyond"),
    (lambda a: _first_layer(a).update(op="eval"), None, "Input should be 'conv'"),
    (None, {"openhmr": "{not json"}, "metadata that is not JSON"),
    (None, {"openhmr": "[1]"}, "metadata that is not a JSON object"),
]


@pytest.mark.parametrize("arch_change, raw_meta, message", WEIGHTS)
def test_weights_metadata_is_checked_before_a_network_is_built(tmp_path, arch_change, raw_meta, message):
    from openhmr.nets.weights_io import read_metadata

    path = _rewrite(tmp_path, arch_change, raw_meta=raw_meta)
    with pytest.raises(OpenHMRError) as error:
        read_metadata(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_a_wrongly_shaped_or_missing_tensor_is_named(tmp_path, anny_body):
    from openhmr.nets.weights_io import load_hmr

    def reshape(tensors):
        name = next(k for k in tensors if k.startswith("regressor."))
        tensors[name] = torch.zeros(7, 5, dtype=tensors[name].dtype)
        reshape.name = name

    path = _rewrite(tmp_path, tensor_change=reshape)
    with pytest.raises(OpenHMRError, match=rf"{reshape.name} has shape \[7, 5\], the network's is"):
        load_hmr(path, anny_body)
    path = _rewrite(tmp_path, tensor_change=lambda t: t.pop(reshape.name))
    with pytest.raises(OpenHMRError, match=rf"missing \['{reshape.name}'\]"):
        load_hmr(path, anny_body)
    path = _rewrite(tmp_path, tensor_change=lambda t: t.update(extra=torch.zeros(3)))
    with pytest.raises(OpenHMRError, match=r"unexpected \['extra'\]"):
        load_hmr(path, anny_body)


@pytest.mark.parametrize("command, message", [
    (["body", "--out", "{file}"], "--out {file} is a file, not a folder."),
    (["synth", "--poses", "b.npz", "--num", "2", "--out", "{file}"], "--out {file} is a file, not a folder."),
    (["mocap", "x.bvh", "--out", "{file}/bank.npz"], "--out's folder {file} is a file, not a folder."),
    (["fit-labels", "x:test", "--out", "{file}/p.npz"], "--out's folder {file} is a file, not a folder."),
    (["pose-prior", "b.npz", "--out", "{file}/p.safetensors"], "--out's folder {file} is a file, not a folder."),
    (["eval", "--checkpoint", "w.safetensors", "--data", "x", "--out", "{folder}"], "--out {folder} is a folder; give a file name."),
    (["train", "data.poses=b", "out_dir={file}"], "out_dir {file} is a file, not a folder."),
])
def test_every_command_refuses_an_unwritable_output_before_work(tmp_path, capsys, command, message):
    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    fill = {"file": str(blocker), "folder": str(tmp_path)}
    assert main([part.format(**fill) for part in command]) == 1
    assert capsys.readouterr().err.strip() == "openhmr: error: " + message.format(**fill)
