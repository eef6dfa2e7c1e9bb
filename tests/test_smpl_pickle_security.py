"""The SMPL file reader refuses pickles that would run code. Needs no smplx: runs everywhere
(tests/test_body_smpl.py, which compares against smplx, skips without it)."""

import pickle

import pytest
from conftest import load_npz

from openhmr.body import load_body_model
from openhmr.body.smpl_file import UnsafeModelFileError


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_pkl_with_code_payload_is_refused_and_not_executed(tmp_path, smpl_npz):
    marker = tmp_path / "payload_ran"
    data = load_npz(smpl_npz)
    data["weights"] = _Payload(marker)
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(data))
    # The payload is real: plain pickle would run it.
    assert b"system" in evil.read_bytes()
    with pytest.raises(UnsafeModelFileError, match=r"refused to load (posix|os)\.system"):
        load_body_model(evil)
    assert not marker.exists()
