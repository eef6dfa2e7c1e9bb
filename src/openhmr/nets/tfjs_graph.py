"""A TensorFlow.js graph model (``model.json`` + weight shards) run by PyTorch.

>>> net = TFJSGraph.from_file("movenet-multipose.json")   # or centernet.json
>>> (people,) = net(image)   # image (1, H, W, 3), the graph's own input; its outputs, in order

An interpreter of the graph's TensorFlow ops, node by node in the file's topological order,
with TensorFlow's semantics (NHWC tensors, 'SAME' padding that may be asymmetric, int32 shape
arithmetic as int64 here). Convolution weights become parameters in PyTorch's layout; every
other constant is a buffer. Only the ops the models we use need are implemented; an unknown
one is a clear error when the file is read, not when it runs. Weights quantised to float16
(as the TF.js converter writes them) are read back as float32.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from openhmr.errors import OpenHMRError
from openhmr.nets.blazepose import cache_dir
from openhmr.nets.tflite.ops import activation, same_padding

_DTYPES = {"DT_FLOAT": torch.float32, "DT_INT32": torch.int64, "DT_BOOL": torch.bool}


def read_tfjs_graph(path: str | Path) -> tuple[list[dict], dict[str, np.ndarray], list[str]]:
    """The graph's nodes, its weights by name (float16-quantised ones as float32) and its
    signature's output names (the last node's when it has none)."""
    path = Path(path)
    model = json.loads(path.read_text())
    if model.get("format") != "graph-model":
        raise OpenHMRError(f"{path} is not a TensorFlow.js graph model (format {model.get('format')!r}).")
    weights = {}
    for group in model["weightsManifest"]:
        data = b"".join((path.parent / name).read_bytes() for name in group["paths"])
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"], dtype=np.int64))
            quantised = spec.get("quantization", {}).get("dtype")
            stored = np.dtype(quantised if quantised == "float16" else {"float32": np.float32, "int32": np.int32}[spec["dtype"]])
            if quantised not in (None, "float16"):
                raise OpenHMRError(f"{path}: weights quantised to {quantised} are not supported.")
            values = np.frombuffer(data, dtype=stored, count=count, offset=offset).reshape(spec["shape"])
            weights[spec["name"]] = values.astype(np.float32 if spec["dtype"] == "float32" else np.int64)
            offset += count * stored.itemsize
    nodes = model["modelTopology"]["node"]
    unknown = sorted({n["op"] for n in nodes} - set(_OPS) - {"Const", "Placeholder"})
    if unknown:
        raise OpenHMRError(f"{path} uses TensorFlow ops this reader lacks: {', '.join(unknown)}.")
    inline = [n["name"] for n in nodes if n["op"] == "Const" and n["name"] not in weights]
    if inline:
        raise OpenHMRError(f"{path}: constants without weights (inline values are not supported): {', '.join(inline[:3])}.")
    outputs = [spec["name"] for spec in model.get("signature", {}).get("outputs", {}).values()] or [nodes[-1]["name"]]
    return nodes, weights, outputs


def fetched_graph(folder: str, name: str, what: str) -> Path:
    """``cache_dir()/folder/name``, a graph ``make movenet`` puts in the cache (its weights beside
    it); one sentence naming ``what`` when it is missing."""
    path = cache_dir() / folder / name
    if not path.is_file():
        raise OpenHMRError(f"{what} is not in {path.parent}: fetch it once with `make movenet` (npm).")
    return path


def _attr(node: dict, key: str, default=None):
    """A node attribute as a Python value (ints, floats, bools, strings, int lists)."""
    value = node.get("attr", {}).get(key)
    if value is None:
        return default
    if "list" in value:
        items = value["list"]
        if "i" in items:
            return [int(i) for i in items["i"]]
        return [base64.b64decode(s).decode() for s in items.get("s", [])]
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "type" in value:
        return value["type"]
    return default


class TFJSGraph(nn.Module):
    """The graph's input tensor -> a list of the chosen nodes' outputs (default: the graph's
    ``signature`` outputs)."""

    def __init__(self, nodes: list[dict], weights: dict[str, np.ndarray], outputs: list[str]):
        super().__init__()
        self.nodes = [n for n in nodes if n["op"] not in ("Const", "Placeholder")]
        self.input_name = next(n["name"] for n in nodes if n["op"] == "Placeholder")
        self.outputs = outputs
        # Convolution filters as parameters in PyTorch's layout (HWIO -> OIHW; depthwise HWCM ->
        # (C·M)1HW); every other constant a buffer as stored.
        filters = {n["input"][1]: "Depthwise" in n["op"] for n in self.nodes if n["op"] in _CONVOLUTIONS}
        self.constant_names: dict[str, str] = {}
        self.params = nn.ParameterDict()
        for i, (name, value) in enumerate(weights.items()):
            key = self.constant_names[name] = f"c{i}"
            tensor = torch.from_numpy(value.copy())
            if name in filters:
                w = tensor.permute(2, 3, 0, 1).reshape(-1, 1, *tensor.shape[:2]) if filters[name] else tensor.permute(3, 2, 0, 1)
                self.params[key] = nn.Parameter(w.contiguous(), requires_grad=False)
            else:
                self.register_buffer(key, tensor)

    @classmethod
    def from_file(cls, path: str | Path, outputs: list[str] | None = None) -> TFJSGraph:
        nodes, weights, signature = read_tfjs_graph(path)
        return cls(nodes, weights, outputs or signature)

    def constant(self, name: str) -> torch.Tensor:
        key = self.constant_names[name]
        return self.params[key] if key in self.params else getattr(self, key)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        values: dict[str, torch.Tensor | tuple] = {self.input_name: x}

        def read(ref: str) -> torch.Tensor:
            name, _, index = ref.partition(":")
            if name in self.constant_names:
                return self.constant(name)
            value = values[name]
            return value[int(index or 0)] if isinstance(value, tuple) else value

        for node in self.nodes:
            inputs = [read(ref) for ref in node["input"] if not ref.startswith("^")]  # "^name": control only
            values[node["name"]] = _OPS[node["op"]](node, *inputs)
        return [read(name) for name in self.outputs]


# --- ops: (node, *inputs) -> tensor or tuple of tensors ---------------------------------------


def _conv(node: dict, x: torch.Tensor, w: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
    """Conv2D / DepthwiseConv2dNative and their fused forms, on NHWC; w already OIHW."""
    stride = _attr(node, "strides", [1, 1, 1, 1])[1:3]
    dilation = (_attr(node, "dilations") or [1, 1, 1, 1])[1:3]
    padding = _attr(node, "padding", "VALID")
    y = x.permute(0, 3, 1, 2)
    if padding == "SAME":
        y = F.pad(y, same_padding(tuple(y.shape[2:]), tuple(w.shape[2:]), tuple(stride), tuple(dilation)))
    elif padding != "VALID":
        raise OpenHMRError(f"padding {padding!r} of {node['name']} is not supported.")
    groups = y.shape[1] if "Depthwise" in node["op"] else 1
    y = F.conv2d(y, w, None, tuple(stride), 0, tuple(dilation), groups)
    for op, arg in zip(_attr(node, "fused_ops", []), [*rest, None]):
        if op == "BiasAdd":
            y = y + arg.view(1, -1, 1, 1)
        elif op in ("Relu", "Relu6"):
            y = activation(op.lower(), y)  # the TFLite builder's fused activations
        else:
            raise OpenHMRError(f"fused op {op!r} of {node['name']} is not supported.")
    return y.permute(0, 2, 3, 1)


def _strided_slice(node: dict, x: torch.Tensor, begin: torch.Tensor, end: torch.Tensor, strides: torch.Tensor) -> torch.Tensor:
    if _attr(node, "ellipsis_mask", 0):
        raise OpenHMRError(f"StridedSlice {node['name']} with an ellipsis is not supported.")
    masks = {k: _attr(node, f"{k}_mask", 0) for k in ("begin", "end", "new_axis", "shrink_axis")}
    index = []
    for i, (b, e, s) in enumerate(zip(begin.tolist(), end.tolist(), strides.tolist())):
        bit = 1 << i
        if masks["new_axis"] & bit:
            index.append(None)
        elif masks["shrink_axis"] & bit:
            index.append(int(b))
        else:
            if s <= 0:
                raise OpenHMRError(f"StridedSlice {node['name']} with stride {s} is not supported.")
            index.append(slice(None if masks["begin"] & bit else b, None if masks["end"] & bit else e, s))
    return x[tuple(index)]


def _resize_bilinear(node: dict, x: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    if _attr(node, "align_corners", False):
        raise OpenHMRError(f"ResizeBilinear {node['name']} with aligned corners is not supported.")
    height, width = size.tolist()
    if _attr(node, "half_pixel_centers", False):
        y = F.interpolate(x.permute(0, 3, 1, 2), size=(height, width), mode="bilinear", align_corners=False)
        return y.permute(0, 2, 3, 1)
    # TensorFlow's legacy sampling (PyTorch has no mode for it): output pixel i reads the input at
    # i · in / out, with no half-pixel shift, its right neighbour clamped at the edge.
    rows, row_weights = _legacy_samples(height, x.shape[1])
    cols, col_weights = _legacy_samples(width, x.shape[2])
    y = x[:, rows[0]] + (x[:, rows[1]] - x[:, rows[0]]) * row_weights.view(1, -1, 1, 1)
    return y[:, :, cols[0]] + (y[:, :, cols[1]] - y[:, :, cols[0]]) * col_weights.view(1, 1, -1, 1)


def _legacy_samples(size_out: int, size_in: int) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    """(left, right) input indices (size_out,) each and the right one's weight (size_out,)."""
    where = torch.arange(size_out, dtype=torch.float32) * (size_in / size_out)
    left = where.floor().long().clamp(max=size_in - 1)
    return (left, (left + 1).clamp(max=size_in - 1)), where - left


def _gather(node: dict, params: torch.Tensor, indices: torch.Tensor, axis: torch.Tensor) -> torch.Tensor:
    """GatherV2 without batch dimensions: params' axis indexed by every entry of indices."""
    if _attr(node, "batch_dims", 0):
        raise OpenHMRError(f"GatherV2 {node['name']} with batch dimensions is not supported.")
    axis = int(axis) % params.dim()
    picked = torch.index_select(params, axis, indices.reshape(-1).long())
    return picked.reshape(*params.shape[:axis], *indices.shape, *params.shape[axis + 1 :])


def _max_pool(node: dict, x: torch.Tensor) -> torch.Tensor:
    kernel, stride = _attr(node, "ksize")[1:3], _attr(node, "strides")[1:3]
    y = x.permute(0, 3, 1, 2)
    if _attr(node, "padding") == "SAME":
        y = F.pad(y, same_padding(tuple(y.shape[2:]), tuple(kernel), tuple(stride)), value=float("-inf"))
    return F.max_pool2d(y, tuple(kernel), tuple(stride)).permute(0, 2, 3, 1)


def _gather_nd(node: dict, params: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    depth = indices.shape[-1]
    return params[tuple(indices[..., i].long() for i in range(depth))]


def _top_k(node: dict, x: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    values, indices = torch.topk(x, int(k), dim=-1, sorted=True)
    return values, indices


def _select(node: dict, condition: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # TF's Select: a vector condition picks whole rows of higher-rank a and b.
    if condition.dim() == 1 and a.dim() > 1:
        condition = condition.view(-1, *([1] * (a.dim() - 1)))
    return torch.where(condition, a, b)


def _reduce(fn: Callable) -> Callable:
    def op(node: dict, x: torch.Tensor, axes: torch.Tensor) -> torch.Tensor:
        dims = [int(a) % x.dim() for a in axes.reshape(-1).tolist()]
        keep = _attr(node, "keep_dims", False)
        for d in sorted(dims, reverse=True):
            x = fn(x, d, keep)
        return x

    return op


def _binary(fn: Callable) -> Callable:
    return lambda node, a, b: fn(a, b)


def _unary(fn: Callable) -> Callable:
    return lambda node, a: fn(a)


_CONVOLUTIONS = ("_FusedConv2D", "Conv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative")
_OPS: dict[str, Callable] = {
    **{op: _conv for op in _CONVOLUTIONS},
    "Identity": _unary(lambda a: a),
    "Cast": lambda node, a: a.to(_DTYPES[_attr(node, "DstT")]),
    "Sigmoid": _unary(torch.sigmoid),
    "Abs": _unary(torch.abs),
    "Exp": _unary(torch.exp),
    "Reciprocal": _unary(torch.reciprocal),
    "Relu": _unary(F.relu),
    "Relu6": _unary(F.relu6),
    "AddV2": _binary(torch.add),
    "Add": _binary(torch.add),
    "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul),
    "RealDiv": _binary(torch.div),
    "FloorDiv": _binary(lambda a, b: torch.div(a, b, rounding_mode="floor")),
    "FloorMod": _binary(torch.remainder),  # the divisor's sign, as TensorFlow's
    "Minimum": _binary(torch.minimum),
    "Maximum": _binary(torch.maximum),
    "SquaredDifference": _binary(lambda a, b: (a - b).square()),
    "Less": _binary(torch.lt),
    "Greater": _binary(torch.gt),
    "GreaterEqual": _binary(torch.ge),
    "Equal": _binary(torch.eq),
    "LogicalAnd": _binary(torch.logical_and),
    "AddN": lambda node, *xs: torch.stack(xs).sum(0),
    "Shape": lambda node, a: torch.tensor(a.shape, dtype=torch.int64),
    "Size": lambda node, a: torch.tensor(a.numel(), dtype=torch.int64),
    "Reshape": lambda node, a, shape: a.reshape(shape.tolist()),
    "Squeeze": lambda node, a: a.squeeze(tuple(_attr(node, "squeeze_dims") or range(a.dim()))),
    "ExpandDims": lambda node, a, axis: a.unsqueeze(int(axis)),
    "Pack": lambda node, *xs: torch.stack(xs, dim=_attr(node, "axis", 0)),
    "Unpack": lambda node, a: tuple(a.unbind(_attr(node, "axis", 0))),
    "Split": lambda node, axis, a: tuple(a.chunk(_attr(node, "num_split"), dim=int(axis))),
    "ConcatV2": lambda node, *xs: torch.cat(xs[:-1], dim=int(xs[-1])),
    "Tile": lambda node, a, multiples: a.repeat(multiples.tolist()),
    "Fill": lambda node, dims, value: torch.full(dims.tolist(), value.item(), dtype=value.dtype),
    "Range": lambda node, start, limit, delta: torch.arange(int(start), int(limit), int(delta)),
    "StridedSlice": _strided_slice,
    "ResizeBilinear": _resize_bilinear,
    "MaxPool": _max_pool,
    "GatherNd": _gather_nd,
    "GatherV2": _gather,
    "TopKV2": _top_k,
    "Select": _select,
    "SelectV2": lambda node, c, a, b: torch.where(c, a, b),
    "ArgMax": lambda node, a, axis: a.argmax(int(axis)),
    "Max": _reduce(lambda x, d, keep: x.amax(d, keepdim=keep)),
    "Sum": _reduce(lambda x, d, keep: x.sum(d, keepdim=keep)),
    "Mean": _reduce(lambda x, d, keep: x.mean(d, keepdim=keep)),
}
