"""Native libraries (FFmpeg inside OpenCV, TFLite and absl inside MediaPipe) write straight to
file descriptor 2, past Python's ``sys.stderr``; their lines would come before, and confuse,
the one sentence openhmr says about the same input."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native code writes on file descriptor 2 inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)
