"""A TFLite model as one ``torch.nn.Module``: its operators as named submodules, run in the
file's order over NCHW tensors.

>>> net = TFLiteGraph.from_file("pose_landmark_full.tflite")
>>> outputs = net(images)   # images (B, 3, 256, 256) -> the file's outputs, in its order

4D tensors are NCHW inside and out; other tensors keep TFLite's layout. The batch dimension is
free (the file says 1). Weights become ordinary parameters, so the network trains like any
other PyTorch module. The network's structure is a JSON-able ``spec``: a network saved with its
spec and state dict is rebuilt without the ``.tflite`` file (``TFLiteGraph(spec)``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from openhmr.errors import OpenHMRError
from openhmr.nets.tflite import ops
from openhmr.nets.tflite.flatbuffer import Graph, Operator, read_tflite

_MODULES = {"conv": ops.Conv2d, "add": ops.Add, "pad": ops.Pad, "max_pool": ops.MaxPool2d, "resize": ops.ResizeBilinear,
            "reshape": ops.Reshape, "logistic": ops.Logistic, "concat": ops.Concatenate, "depth_to_space": ops.DepthToSpace}  # fmt: skip
SUPPORTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "PAD", "MAX_POOL_2D", "RESIZE_BILINEAR", "RESHAPE", "LOGISTIC",
             "CONCATENATION", "DEPTH_TO_SPACE")  # fmt: skip


class TFLiteGraph(nn.Module):
    """images (B, C, H, W) -> list of the chosen tensors (by default the model's outputs; 4D
    ones NCHW). ``spec``: ``{"input": i, "outputs": [..], "layers": [{"name", "op", "args",
    "inputs", "output"}, ..]}`` as made by :func:`graph_spec`."""

    def __init__(self, spec: dict):
        super().__init__()
        self.spec = spec
        self.layers = nn.ModuleDict()
        for layer in spec["layers"]:
            if layer["op"] not in _MODULES:
                raise OpenHMRError(f"Unknown layer kind {layer['op']!r} in a network description.")
            self.layers[layer["name"]] = _MODULES[layer["op"]](**layer["args"])
        self.input_index = int(spec["input"])
        self.output_indices = [int(i) for i in spec["outputs"]]
        # Free each activation after its last reader: training keeps only what autograd needs.
        last = {}
        for step, layer in enumerate(spec["layers"]):
            for i in layer["inputs"]:
                if i is not None:
                    last[i] = step
        self._free_after = [[i for i, s in last.items() if s == step and i not in self.output_indices] for step in range(len(spec["layers"]))]

    @classmethod
    def from_file(cls, path: str | Path, outputs: list[int] | None = None) -> TFLiteGraph:
        """The model in ``path`` with its weights; ``outputs``: tensor indices to return instead
        of the model's own outputs (operators no chosen output needs are left out)."""
        graph = read_tflite(path)
        spec, state = graph_spec(graph, outputs)
        net = cls(spec)
        net.load_state_dict(state)
        return net

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.run(x, self.input_index, 0, len(self.spec["layers"]))

    def run(self, x: torch.Tensor, index: int, start: int, stop: int) -> list[torch.Tensor]:
        """Layers ``start`` to ``stop`` (exclusive) on ``x`` as tensor ``index``: the model's
        outputs when ``stop`` is the end, else the one tensor that layer ``stop - 1`` wrote.
        Starting after a :meth:`cuts` point needs nothing but that point's tensor."""
        values: dict[int, torch.Tensor] = {index: x}
        for step in range(start, stop):
            layer = self.spec["layers"][step]
            values[layer["output"]] = self.layers[layer["name"]](*[None if i is None else values[i] for i in layer["inputs"]])
            for i in self._free_after[step]:
                values.pop(i, None)
        if stop < len(self.spec["layers"]):
            return [values[self.spec["layers"][stop - 1]["output"]]]
        return [values[i] for i in self.output_indices]

    def cuts(self, op: str = "add") -> list[int]:
        """The layers (positions in ``spec["layers"]``) of kind ``op`` after which the network
        is a chain: their output is the only tensor any later layer reads from before them.
        For BlazePose's ``add`` layers these are the ends of its residual blocks. (Every layer's
        output is read later or is a model output: :func:`graph_spec` keeps no other.)"""
        live, found = {self.input_index}, []
        for step, layer in enumerate(self.spec["layers"]):
            live = (live | {layer["output"]}) - set(self._free_after[step])
            if layer["op"] == op and live == {layer["output"]}:
                found.append(step)
        return found


def graph_spec(graph: Graph, outputs: list[int] | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    """(spec, state dict) of a read TFLite graph, keeping only the operators that ``outputs``
    (default: the model's outputs) depend on."""
    outputs = list(graph.outputs if outputs is None else outputs)
    needed, kept = set(outputs), []
    for op in reversed(graph.operators):
        if op.outputs[0] in needed:
            kept.append(op)
            needed.update(i for i in op.inputs if i >= 0 and graph.tensors[i].data is None)
    kept.reverse()
    layers, state, counts = [], {}, {}
    for op in kept:
        kind, args, inputs, weights = _layer(op, graph)
        counts[kind] = counts.get(kind, 0) + 1
        name = f"{kind}_{counts[kind]:03d}"
        layers.append({"name": name, "op": kind, "args": args, "inputs": inputs, "output": op.outputs[0]})
        state.update({f"layers.{name}.{k}": v for k, v in weights.items()})
    return {"input": graph.inputs[0], "outputs": outputs, "layers": layers}, state


def _layer(op: Operator, graph: Graph) -> tuple[str, dict, list[int | None], dict[str, torch.Tensor]]:
    """One operator as (layer kind, constructor args, run-time input indices, weights)."""
    t = graph.tensors
    o = op.options
    if op.kind not in SUPPORTED:
        raise OpenHMRError(f"TFLite operator {op.kind} is not supported by openhmr's converter (supported: {', '.join(SUPPORTED)}).")
    x = t[op.inputs[0]]
    first = [op.inputs[0]]
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w = t[op.inputs[1]].data
        has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
        if op.kind == "CONV_2D":  # OHWI -> OIHW
            weight, groups = w.transpose(0, 3, 1, 2), 1
        else:  # 1HW(C·m) -> (C·m)1HW, one group per input channel
            weight, groups = w.transpose(3, 0, 1, 2), x.shape[3]
        kernel = list(weight.shape[2:])
        pad = ops.same_padding(x.shape[1:3], kernel, o["stride"], o["dilation"]) if o["padding"] == "same" else (0, 0, 0, 0)
        args = {"in_channels": x.shape[3], "out_channels": weight.shape[0], "kernel": kernel, "stride": list(o["stride"]),
                "dilation": list(o["dilation"]), "groups": groups, "pad": list(pad), "act": o["activation"], "bias": has_bias}
        weights = {"weight": _tensor(weight)}
        if has_bias:
            weights["bias"] = _tensor(t[op.inputs[2]].data)
        return "conv", args, first, weights
    if op.kind == "ADD":
        rank = max(len(t[i].shape) for i in op.inputs)
        constants, inputs, weights = {}, [], {}
        for slot, i in enumerate(op.inputs):
            if t[i].data is None:
                inputs.append(i)
                continue
            value = _constant_as_nchw(t[i].data, rank)
            constants[slot], weights[f"constant{slot}"] = list(value.shape), value
            inputs.append(None)
        return "add", {"act": o["activation"], "constants": constants}, inputs, weights
    if op.kind == "PAD":
        p = t[op.inputs[1]].data.astype(int)  # (rank, 2), NHWC
        if len(p) != 4 or p[0].any():
            raise OpenHMRError("Only PAD of NHWC images (not of the batch) is supported.")
        return "pad", {"pad": [int(v) for v in (p[2, 0], p[2, 1], p[1, 0], p[1, 1], p[3, 0], p[3, 1])]}, first, {}
    if op.kind == "MAX_POOL_2D":
        pad = ops.same_padding(x.shape[1:3], o["kernel"], o["stride"]) if o["padding"] == "same" else (0, 0, 0, 0)
        return "max_pool", {"kernel": list(o["kernel"]), "stride": list(o["stride"]), "pad": list(pad), "act": o["activation"]}, first, {}
    if op.kind == "RESIZE_BILINEAR":
        size = [int(s) for s in t[op.inputs[1]].data]
        return "resize", {"size": size, "align_corners": o["align_corners"], "half_pixel_centers": o["half_pixel_centers"]}, first, {}
    if op.kind == "RESHAPE":
        return "reshape", {"shape": list(t[op.outputs[0]].shape[1:])}, first, {}
    if op.kind == "LOGISTIC":
        return "logistic", {}, first, {}
    if op.kind == "CONCATENATION":
        return "concat", {"axis": o["axis"], "rank": len(t[op.outputs[0]].shape), "act": o["activation"]}, list(op.inputs), {}
    return "depth_to_space", {"block": o["block_size"]}, first, {}  # DEPTH_TO_SPACE


def _tensor(data: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))


def _constant_as_nchw(data: np.ndarray, rank: int) -> torch.Tensor:
    """A constant operand in the layout of the tensor it meets (NHWC -> NCHW for images)."""
    value = _tensor(data)
    if rank == 4 and value.dim() == 4:
        return value.permute(0, 3, 1, 2).contiguous()
    if rank == 4 and value.dim() == 1:  # per-channel constant
        return value.view(1, -1, 1, 1)
    return value
