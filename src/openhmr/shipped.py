"""What ships inside the package (``openhmr/weights/``): one place for the file names."""

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
SHIPPED_WEIGHTS = WEIGHTS_DIR / "openhmr_anny_blazepose_full.safetensors"


def shipped_pose_prior(body_name: str) -> Path:
    """Where the pose prior for a body model ships (it may not exist: Anny's does)."""
    return WEIGHTS_DIR / f"pose_prior_{body_name}.safetensors"
