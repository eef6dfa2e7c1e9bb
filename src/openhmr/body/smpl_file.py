"""Reading SMPL model files (.npz, official .pkl) safely, without chumpy.

A pickle can run any code it names. :class:`ArrayOnlyUnpickler` admits only what SMPL files
need to rebuild arrays (numpy arrays and dtypes, scipy sparse matrices, chumpy ``Ch``
wrappers) and refuses every other global, so a crafted file cannot execute anything. The
sparse and chumpy objects become inert stand-ins that only hold their state; the arrays are
rebuilt from that state here.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse

from openhmr.errors import OpenHMRError

SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
NUM_VERTICES = 6890
NUM_JOINTS = 24
NUM_FACES = 13776

WHERE_TO_GET_SMPL = (
    "SMPL files cannot be redistributed: register at https://smpl.is.tue.mpg.de, download "
    "'SMPL for Python', and pass the path of a model file (for example "
    "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl, or an .npz holding the same arrays) as the "
    "body model, e.g. `--body-model ~/models/smpl/SMPL_NEUTRAL.pkl`."
)


class UnsafeModelFileError(OpenHMRError):
    """A model file asked the unpickler for something other than array data."""


class _Inert:
    """Stand-in for a pickled object: stores its constructor arguments and state, runs nothing."""

    def __init__(self, *args, **kwargs):
        self.args = args
        self.state = None

    def __setstate__(self, state):
        self.state = state


class _ChumpyArray(_Inert):
    """chumpy.ch.Ch: its array lives in the state's ``x``."""


class _SparseMatrix(_Inert):
    """scipy.sparse matrix: rebuilt from ``data``, ``indices``, ``indptr``, ``_shape``."""


def _reconstruct(cls, base, state):
    """copyreg._reconstructor for admitted stand-ins only (``cls`` came from find_class)."""
    if not (isinstance(cls, type) and issubclass(cls, _Inert)):
        raise UnsafeModelFileError(f"refused to rebuild an object of type {cls!r}")
    return cls()


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """What protocol-2 pickles call as ``_codecs.encode`` to rebuild bytes; latin1 only."""
    if encoding.replace("-", "").lower() != "latin1":
        raise UnsafeModelFileError(f"refused the codec {encoding!r}")
    return text.encode("latin1")


_NUMPY_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}
_SPARSE_MODULES = {"scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse.csr", "scipy.sparse._csr"}


class ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only array-data globals; anything else raises."""

    def find_class(self, module: str, name: str):
        if (module, name) in _NUMPY_GLOBALS:
            # numpy 2 renamed numpy.core to numpy._core; old pickles name the former.
            core = getattr(np, "_core", None) or np.core
            target = core.multiarray if module.endswith("multiarray") else np
            return getattr(target, name)
        if module in ("copy_reg", "copyreg") and name == "_reconstructor":
            return _reconstruct
        if module == "_codecs" and name == "encode":
            return _latin1_bytes
        if module in ("__builtin__", "builtins") and name == "object":
            return object
        if module == "chumpy.ch" and name == "Ch":
            return _ChumpyArray
        if module in _SPARSE_MODULES and name in ("csc_matrix", "csr_matrix"):
            return _SparseMatrix
        raise UnsafeModelFileError(
            f"refused to load {module}.{name}: SMPL files hold only array data, and this one "
            "asks to run other code"
        )


def _to_array(value, key: str, path: Path) -> np.ndarray:
    if isinstance(value, _ChumpyArray):
        state = value.state if isinstance(value.state, dict) else {}
        if "x" not in state:
            raise OpenHMRError(f"{path}: cannot read {key!r}: a chumpy object without data.")
        value = state["x"]
    if isinstance(value, _SparseMatrix):
        s = value.state if isinstance(value.state, dict) else {}
        try:
            value = scipy.sparse.csc_matrix((s["data"], s["indices"], s["indptr"]), shape=s["_shape"])
        except (KeyError, ValueError) as e:
            raise OpenHMRError(f"{path}: cannot read sparse array {key!r} ({e}).") from None
    if scipy.sparse.issparse(value):
        value = value.toarray()
    if not isinstance(value, np.ndarray):
        raise OpenHMRError(f"{path}: {key!r} is not an array (got {type(value).__name__}).")
    return value


def _read_pickle(path: Path) -> dict:
    data = path.read_bytes()
    try:
        # Official files were written by Python 2: latin1 keeps their byte strings intact.
        obj = ArrayOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except UnsafeModelFileError as e:
        raise UnsafeModelFileError(f"{path}: {e}. Use an official SMPL file.") from None
    except Exception as e:  # noqa: BLE001 - any parse failure is a bad file to the user
        raise OpenHMRError(f"{path}: not a readable SMPL .pkl file ({type(e).__name__}: {e}).") from None
    if not isinstance(obj, dict):
        raise OpenHMRError(f"{path}: an SMPL .pkl must hold a dict of arrays.")
    return obj


def _read_npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise OpenHMRError(f"{path}: not a readable SMPL .npz file ({e}).") from None


def expected_shapes(num_betas: int) -> dict[str, tuple[int, ...]]:
    """Array shapes of an SMPL file; -1 where any size is allowed."""
    return {
        "v_template": (NUM_VERTICES, 3),
        "shapedirs": (NUM_VERTICES, 3, num_betas),
        "posedirs": (NUM_VERTICES, 3, 9 * (NUM_JOINTS - 1)),
        "J_regressor": (NUM_JOINTS, NUM_VERTICES),
        "weights": (NUM_VERTICES, NUM_JOINTS),
        "kintree_table": (2, NUM_JOINTS),
        "f": (NUM_FACES, 3),
    }


def load_smpl_arrays(path: str | Path, num_betas: int = 10) -> dict[str, np.ndarray]:
    """Read and validate an SMPL model file.

    Returns float64 ``v_template (6890, 3)``, ``shapedirs (6890, 3, S)`` with
    ``S = min(num_betas, file's)``, ``posedirs (6890, 3, 207)``, ``J_regressor (24, 6890)``,
    ``weights (6890, 24)``, int64 ``kintree_table (2, 24)`` and ``f (13776, 3)``.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise OpenHMRError(f"SMPL model file not found: {path}. {WHERE_TO_GET_SMPL}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        raw = _read_npz(path)
    elif suffix == ".pkl":
        raw = _read_pickle(path)
    else:
        raise OpenHMRError(f"{path}: an SMPL model must be a .pkl or .npz file.")

    arrays = {}
    file_betas = None
    for key, shape in expected_shapes(num_betas).items():
        if key not in raw:
            raise OpenHMRError(f"{path}: missing array {key!r}; is this an SMPL model file?")
        arr = _to_array(raw[key], key, path)
        if key == "shapedirs" and arr.ndim == 3 and arr.shape[:2] == shape[:2]:
            file_betas = arr.shape[2]
            arr = arr[:, :, : min(num_betas, file_betas)]
            shape = arr.shape[:2] + (min(num_betas, file_betas),)
        if tuple(arr.shape) != tuple(shape):
            raise OpenHMRError(
                f"{path}: array {key!r} has shape {tuple(arr.shape)}, expected {tuple(shape)}."
            )
        arrays[key] = arr
    if file_betas is None or file_betas < 1:
        raise OpenHMRError(f"{path}: 'shapedirs' holds no shape directions.")

    parents = tuple(int(p) if p < NUM_JOINTS else -1 for p in arrays["kintree_table"][0])
    parents = (-1,) + parents[1:]
    if parents != SMPL_PARENTS:
        raise OpenHMRError(
            f"{path}: 'kintree_table' parents {parents} are not SMPL's {SMPL_PARENTS}."
        )
    out = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items() if k not in ("kintree_table", "f")}
    out["kintree_table"] = np.asarray(arrays["kintree_table"], dtype=np.int64)
    out["f"] = np.asarray(arrays["f"], dtype=np.int64)
    for key, arr in out.items():
        if not np.all(np.isfinite(arr)):
            raise OpenHMRError(f"{path}: array {key!r} holds non-finite values.")
    return out
