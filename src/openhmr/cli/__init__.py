"""The ``openhmr`` command: a thin layer over the Python API, one module per command. Each
module adds its parser and imports what its command needs when it runs, so that
``openhmr --help`` answers at once.

Exit codes: 0 success, 1 a problem with the user's input (explained in one sentence),
2 a usage error (bad flags).
"""

from __future__ import annotations

import argparse
import errno
import sys

from openhmr import __version__
from openhmr.cli import (
    body,
    eval,
    export,
    fit_labels,
    masks,
    mocap,
    pose_prior,
    predict,
    serve,
    synth,
    train,
)
from openhmr.errors import OpenHMRError

COMMANDS = (body, mocap, synth, predict, train, eval, serve, export, fit_labels, pose_prior, masks)  # in the help's order


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openhmr",
        description="Recover a 3D human (keypoints, joints, mesh, camera) from one photo.",
    )
    parser.add_argument("--version", action="version", version=f"openhmr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


# The machine, not openhmr: full disk, read-only or missing folder, no permission.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR, errno.EEXIST,
                       errno.EDQUOT, errno.EFBIG, errno.ENAMETOOLONG, errno.ELOOP}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    if getattr(args, "check", None):
        args.check(args, parser)
    try:
        return args.run(args)
    except OpenHMRError as e:
        print(f"openhmr: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("openhmr: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        if e.errno not in _ENVIRONMENT_ERRNOS:
            raise
        print(f"openhmr: error: cannot use {e.filename or 'a file'}: {e.strerror}.", file=sys.stderr)
        return 1
