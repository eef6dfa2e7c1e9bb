"""openhmr: a 3D human (keypoints, joints, mesh, camera) from one photo."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("openhmr")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
