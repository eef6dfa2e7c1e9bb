"""Read a ``.tflite`` flatbuffer into plain Python: tensors (name, shape, constant data) and
operators (kind, inputs, outputs, options), in the file's execution order.

The PyPI ``tflite`` package parses the flatbuffer; nothing here runs TensorFlow. Constant
producers (DEQUANTIZE of fp16 weights, DENSIFY of sparse weights) are folded at read time, so
the graph that remains holds only operators that touch activations.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from openhmr.errors import OpenHMRError

# TFLite TensorType codes -> numpy dtypes (the ones these models use).
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
ACTIVATIONS = {0: None, 1: "relu", 2: "relu_n1_to_1", 3: "relu6", 4: "tanh"}
PADDINGS = {0: "same", 1: "valid"}


@dataclasses.dataclass
class Tensor:
    """One tensor of the graph: ``shape`` as stored (NHWC for images, batch 1); ``data`` holds
    the values of a constant (weights, biases, shapes), None for activations."""

    name: str
    shape: tuple[int, ...]
    data: np.ndarray | None = None


@dataclasses.dataclass
class Operator:
    """One operator: ``kind`` is TFLite's builtin name (e.g. ``CONV_2D``); ``options`` its
    builtin options as a plain dict (padding, strides, activation, …)."""

    kind: str
    inputs: list[int]
    outputs: list[int]
    options: dict


@dataclasses.dataclass
class Graph:
    tensors: dict[int, Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]


def read_tflite(path: str | Path) -> Graph:
    """The first subgraph of ``path`` with constants folded. Raises OpenHMRError for a file
    that is not a TFLite model or uses an operator this reader does not know."""
    import tflite

    path = Path(path)
    try:
        buf = path.read_bytes()
        model = tflite.Model.GetRootAsModel(buf, 0)
        graph = model.Subgraphs(0)
    except Exception as e:  # noqa: BLE001 - any parse failure is a bad file for the user
        raise OpenHMRError(f"{path} is not a readable TFLite model ({type(e).__name__}: {e}).") from None
    names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    tensors = {}
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        raw = model.Buffers(t.Buffer()).DataAsNumpy() if t.Buffer() > 0 else 0
        data = None
        if not isinstance(raw, int) and raw.size:
            if t.Type() not in _DTYPES:
                raise OpenHMRError(f"{path}: tensor {t.Name().decode()} has unsupported type code {t.Type()}.")
            values = raw.view(_DTYPES[t.Type()])
            # A sparse constant's buffer holds only its non-zero values, in traversal order.
            data = values.reshape(shape) if t.Sparsity() is None else _densify(t.Sparsity(), values, shape)
        tensors[i] = Tensor(t.Name().decode(), shape, data)
    operators = []
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
        inputs = [int(i) for i in op.InputsAsNumpy()]
        outputs = [int(i) for i in op.OutputsAsNumpy()]
        if kind in ("DEQUANTIZE", "DENSIFY") and tensors[inputs[0]].data is not None:
            tensors[outputs[0]].data = tensors[inputs[0]].data.astype(np.float32).reshape(tensors[outputs[0]].shape)
            continue
        operators.append(Operator(kind, inputs, outputs, _options(tflite, kind, op)))
    return Graph(tensors, operators, [int(i) for i in graph.InputsAsNumpy()], [int(i) for i in graph.OutputsAsNumpy()])


def _options(tflite, kind: str, op) -> dict:
    """The builtin options these models use, as a dict (empty for option-less operators)."""
    table = op.BuiltinOptions()
    if table is None:
        return {}

    def view(cls):
        x = cls()
        x.Init(table.Bytes, table.Pos)
        return x

    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):  # the two option tables share these fields
        x = view(tflite.Conv2DOptions if kind == "CONV_2D" else tflite.DepthwiseConv2DOptions)
        return {"padding": PADDINGS[x.Padding()], "stride": (x.StrideH(), x.StrideW()),
                "dilation": (x.DilationHFactor(), x.DilationWFactor()), "activation": ACTIVATIONS[x.FusedActivationFunction()]}
    if kind == "ADD":
        return {"activation": ACTIVATIONS[view(tflite.AddOptions).FusedActivationFunction()]}
    if kind == "MAX_POOL_2D":
        x = view(tflite.Pool2DOptions)
        return {"padding": PADDINGS[x.Padding()], "stride": (x.StrideH(), x.StrideW()),
                "kernel": (x.FilterHeight(), x.FilterWidth()), "activation": ACTIVATIONS[x.FusedActivationFunction()]}
    if kind == "RESIZE_BILINEAR":
        x = view(tflite.ResizeBilinearOptions)
        return {"align_corners": bool(x.AlignCorners()), "half_pixel_centers": bool(x.HalfPixelCenters())}
    if kind == "CONCATENATION":
        x = view(tflite.ConcatenationOptions)
        return {"axis": x.Axis(), "activation": ACTIVATIONS[x.FusedActivationFunction()]}
    if kind == "DEPTH_TO_SPACE":
        return {"block_size": view(tflite.DepthToSpaceOptions).BlockSize()}
    return {}


def _densify(sparsity, values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A sparse constant (TFLite's CSR-like ``SparsityParameters``) as a dense array of ``shape``.

    Each traversal dimension is DENSE (every index, ``dense_size`` of them) or SPARSE_CSR
    (segments + indices); block dimensions (``block_map``) expand into the tensor's own
    dimensions. Values are laid out in traversal order.
    """
    order = [int(i) for i in sparsity.TraversalOrderAsNumpy()]
    block_map = [int(i) for i in sparsity.BlockMapAsNumpy()] if sparsity.BlockMapLength() else []
    metas = [sparsity.DimMetadata(i) for i in range(sparsity.DimMetadataLength())]
    # Size of each traversal dimension: the tensor's dims, divided by block sizes where blocked.
    rank = len(shape)
    block_sizes = {}
    for k, dim in enumerate(block_map):
        block_sizes[dim] = metas[rank + k].DenseSize()
    dense = np.zeros(shape, dtype=np.float32)
    coords: list[tuple[list[int], int]] = [([], 0)]  # (traversal coordinates so far, flat position)
    for level, meta in enumerate(metas):
        nxt = []
        if meta.Format() == 0:  # DENSE
            size = meta.DenseSize()
            for c, pos in coords:
                nxt.extend((c + [j], pos * size + j) for j in range(size))
        else:  # SPARSE_CSR
            segments = _index_vector(meta.ArraySegmentsType(), meta.ArraySegments())
            indices = _index_vector(meta.ArrayIndicesType(), meta.ArrayIndices())
            for c, pos in coords:
                for p in range(segments[pos], segments[pos + 1]):
                    nxt.append((c + [int(indices[p])], p))
        coords = nxt
    for c, pos in coords:
        index = [0] * rank
        for level, value in enumerate(c):
            dim = order[level]
            if level < rank:
                index[dim] += value * block_sizes.get(dim, 1)
            else:
                index[block_map[level - rank]] += value
        dense[tuple(index)] = values[pos]
    return dense


def _index_vector(kind: int, table) -> np.ndarray:
    """A TFLite SparseIndexVector union (Int32 / Uint16 / Uint8 vector) as a numpy array."""
    import tflite

    cls = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}[kind]
    vec = cls()
    vec.Init(table.Bytes, table.Pos)
    return vec.ValuesAsNumpy()
