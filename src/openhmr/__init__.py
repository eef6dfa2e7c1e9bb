"""openhmr: a 3D human (keypoints, joints, mesh, camera) from one photo."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("openhmr")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"


def load_model(checkpoint=None, body_model="anny", device="cpu", detector="mediapipe", batch_size=16, runtime="torch", upright=False,
               flip=True):  # fmt: skip
    """A ready model: ``load_model().predict(image_or_path)`` (see :mod:`openhmr.predict.predictor`)."""
    from openhmr.predict.predictor import load_model as _load

    return _load(checkpoint, body_model, device, detector, batch_size, runtime, upright, flip)
