"""openhmr.detect.centernet (CenterNet as people proposals) and openhmr.detect.crowd (MoveNet
plus the proposals it confirms). The model's tests skip when ``make movenet`` has not fetched
it; the crowd detector's rule is tested on stand-ins for both networks."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import fetched_or_skip

from openhmr.errors import OpenHMRError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
REFERENCE = Path(__file__).parent / "data" / "centernet_astronaut_tfjs.json"


def _centernet_path() -> Path:
    from openhmr.detect.centernet import centernet_files

    return fetched_or_skip(centernet_files)


def test_missing_centernet_files_are_one_sentence(tmp_path, monkeypatch):
    from openhmr.detect.centernet import centernet_files

    monkeypatch.setenv("OPENHMR_CACHE_DIR", str(tmp_path))
    with pytest.raises(OpenHMRError, match="make movenet"):
        centernet_files()


def test_centernet_in_pytorch_gives_tensorflow_js_s_detections_on_the_astronaut():
    """The whole graph (its legacy upsampling, squeeze-excite means and top-100 gather included)
    against TensorFlow.js on the same input (scripts/tfjs_reference.js): boxes within 0.001
    pixel and scores within 1e-5 for every one of the 100 rows, classes equal."""
    import cv2

    from openhmr.detect.centernet import CenterNet
    from openhmr.predict.images import load_image

    net = CenterNet.from_file(_centernet_path())
    image = load_image(EXAMPLES / "astronaut.jpg")
    view = cv2.resize(image, (512, 512), interpolation=cv2.INTER_AREA)
    reference = json.loads(REFERENCE.read_text())
    expected = np.array(reference["output"]).reshape(reference["shape"])[0]
    ours = net.run(view)
    assert np.abs(ours[:, :4] - expected[:, :4]).max() < 1e-3
    assert np.abs(ours[:, 4] - expected[:, 4]).max() < 1e-5
    assert np.array_equal(ours[:, 5], expected[:, 5])
    (best, box), *_ = net.find(image)
    assert best > 0.5 and box[3] > 0.95 * image.shape[0]  # she runs out of the frame below


class _StandIns:
    """MoveNet that finds ``whole`` on the full image and, on each later (smaller) view, the
    next answer of ``looks``; CenterNet that proposes ``proposals``."""

    def __init__(self, shape, whole, proposals, looks):
        self.shape, self.whole, self.proposals, self.looks, self.views = shape, whole, proposals, list(looks), []

    def find(self, image):
        if image.shape == self.shape and not self.views:
            self.views.append(None)
            return list(self.whole)
        self.views.append(image.shape)
        return self.looks.pop(0)


def test_the_crowd_detector_keeps_the_proposals_movenet_confirms_on_a_closer_look():
    """A proposal is looked at with context first, then closer, and kept when one look finds
    somebody where it was proposed; none is looked at where MoveNet found somebody already."""
    from openhmr.detect.crowd import LOOK_MARGINS, CrowdDetector, look_around
    from openhmr.detect.movenet import MoveNetPerson

    shape = (400, 400, 3)
    person = lambda score, box: MoveNetPerson(score, np.array(box, float), np.zeros((17, 3)))

    def seen_in(proposal, look: int, shift=(2, 3), keypoint=7.0):
        """MoveNet's answer in the look-th view of proposal: somebody at its box (view pixels) + shift."""
        x0, y0, *_ = look_around(proposal[1], 400, 400, LOOK_MARGINS[look])
        found = person(0.2, proposal[1] - [x0, y0, x0, y0] + [*shift, *shift])
        found.keypoints[:, :2] = keypoint
        return found, np.array([x0, y0])

    found = person(0.6, [10, 10, 110, 210])
    again = (0.7, np.array([12.0, 8, 112, 205]))  # found already: no look
    small = (0.4, np.array([200.0, 50, 260, 170]))  # confirmed on the first look
    closer = (0.35, np.array([60.0, 300, 100, 380]))  # confirmed on the second
    empty = (0.3, np.array([300.0, 300, 350, 390]))  # nobody there
    elsewhere = (0.25, np.array([150.0, 250, 190, 330]))  # somebody, but not where proposed
    small_seen, small_origin = seen_in(small, 0)
    closer_seen, closer_origin = seen_in(closer, 1, keypoint=5.0)
    beside = [seen_in(elsewhere, look, shift=(45, 0))[0] for look in (0, 1)]
    looks = [[small_seen], [], [closer_seen], [], [], [beside[0]], [beside[1]]]
    stand_ins = _StandIns(shape, [found], [again, small, closer, empty, elsewhere], looks)
    detector = object.__new__(CrowdDetector)
    detector.movenet, detector.centernet = stand_ins, type("CenterNet", (), {"find": lambda self, image: stand_ins.proposals})()

    people = detector.people(np.zeros(shape, np.uint8))
    assert [p.score for p in people] == [0.6, 0.4, 0.35]
    assert people[0] is found
    assert np.array_equal(people[1].box, small[1]) and np.array_equal(people[2].box, closer[1])  # CenterNet's box and score,
    assert np.allclose(people[1].keypoints[:, :2], 7 + small_origin)  # MoveNet's keypoints, in the image
    assert np.allclose(people[2].keypoints[:, :2], 5 + closer_origin)
    assert len(stand_ins.views) == 8 and not stand_ins.looks  # the whole image, then 1 + 2 + 2 + 2 looks
    sides = [v[0] for v in stand_ins.views[1:]]
    assert sides[1] < 400 and sides[2] < sides[1]  # each look a view of its own, the second closer
