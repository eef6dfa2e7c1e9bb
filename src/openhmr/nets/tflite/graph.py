"""A TFLite model as one ``torch.nn.Module``: its operators as named submodules, run in the
file's order over NCHW tensors.

>>> net = TFLiteGraph.from_file("pose_landmark_full.tflite")
>>> outputs = net(images)   # images (B, 3, 256, 256) -> the file's outputs, in its order

4D tensors are NCHW inside and out; other tensors keep TFLite's layout. The batch dimension is
free (the file says 1). Weights become ordinary parameters, so the network trains like any
other PyTorch module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from openhmr.errors import OpenHMRError
from openhmr.nets.tflite import ops
from openhmr.nets.tflite.flatbuffer import Graph, Operator, read_tflite

SUPPORTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "PAD", "MAX_POOL_2D", "RESIZE_BILINEAR", "RESHAPE", "LOGISTIC",
             "CONCATENATION", "DEPTH_TO_SPACE")  # fmt: skip


class TFLiteGraph(nn.Module):
    """images (B, C, H, W) -> list of the model's outputs (4D ones NCHW)."""

    def __init__(self, graph: Graph, name: str = "tflite"):
        super().__init__()
        self.name = name
        self.layers = nn.ModuleDict()
        # (layer name, input tensor indices (None where the layer holds a constant), output index)
        self.plan: list[tuple[str, list[int | None], int]] = []
        kinds: dict[str, int] = {}
        for op in graph.operators:
            module, inputs = _build(op, graph)
            short = op.kind.lower().replace("_2d", "")
            kinds[short] = kinds.get(short, 0) + 1
            key = f"{short}_{kinds[short]:03d}"
            self.layers[key] = module
            self.plan.append((key, inputs, op.outputs[0]))
        self.input_index = graph.inputs[0]
        self.output_indices = list(graph.outputs)
        self.output_names = [graph.tensors[i].name for i in graph.outputs]
        self.input_shape = graph.tensors[self.input_index].shape  # NHWC as the file says
        # Free each activation after its last reader: training keeps only what autograd needs.
        last = {}
        for step, (_, inputs, _) in enumerate(self.plan):
            for i in inputs:
                if i is not None:
                    last[i] = step
        self._free_after = [[i for i, s in last.items() if s == step and i not in self.output_indices] for step in range(len(self.plan))]

    @classmethod
    def from_file(cls, path: str | Path) -> TFLiteGraph:
        return cls(read_tflite(path), Path(path).stem)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        values: dict[int, torch.Tensor] = {self.input_index: x}
        for step, (key, inputs, output) in enumerate(self.plan):
            values[output] = self.layers[key](*[None if i is None else values[i] for i in inputs])
            for i in self._free_after[step]:
                values.pop(i, None)
        return [values[i] for i in self.output_indices]


def _build(op: Operator, graph: Graph) -> tuple[nn.Module, list[int | None]]:
    """The module for one operator and the tensor indices it reads at run time."""
    t = graph.tensors
    o = op.options
    if op.kind not in SUPPORTED:
        raise OpenHMRError(f"TFLite operator {op.kind} is not supported by openhmr's converter (supported: {', '.join(SUPPORTED)}).")
    x = t[op.inputs[0]]
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w = t[op.inputs[1]].data
        bias = t[op.inputs[2]].data if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        if op.kind == "CONV_2D":  # OHWI -> OIHW
            weight, groups = w.transpose(0, 3, 1, 2), 1
        else:  # 1HW(C·m) -> (C·m)1HW, one group per input channel
            weight, groups = w.transpose(3, 0, 1, 2), x.shape[3]
        kernel = weight.shape[2:]
        pad = ops.same_padding(x.shape[1:3], kernel, o["stride"], o["dilation"]) if o["padding"] == "same" else (0, 0, 0, 0)
        return ops.Conv2d(weight, bias, o["stride"], o["dilation"], groups, pad, o["activation"]), [op.inputs[0]]
    if op.kind == "ADD":
        constants, inputs = {}, []
        other_rank = max(len(t[i].shape) for i in op.inputs)
        for slot, i in enumerate(op.inputs):
            if t[i].data is not None:
                constants[slot] = _constant_as_nchw(t[i].data, other_rank)
                inputs.append(None)
            else:
                inputs.append(i)
        return ops.Add(o["activation"], constants), inputs
    if op.kind == "PAD":
        p = t[op.inputs[1]].data.astype(int)  # (rank, 2), NHWC
        if len(p) != 4 or p[0].any():
            raise OpenHMRError("Only PAD of NHWC images (not of the batch) is supported.")
        return ops.Pad((p[2, 0], p[2, 1], p[1, 0], p[1, 1], p[3, 0], p[3, 1])), [op.inputs[0]]
    if op.kind == "MAX_POOL_2D":
        pad = ops.same_padding(x.shape[1:3], o["kernel"], o["stride"]) if o["padding"] == "same" else (0, 0, 0, 0)
        return ops.MaxPool2d(o["kernel"], o["stride"], pad, o["activation"]), [op.inputs[0]]
    if op.kind == "RESIZE_BILINEAR":
        size = tuple(int(s) for s in t[op.inputs[1]].data)
        return ops.ResizeBilinear(size, o["align_corners"], o["half_pixel_centers"]), [op.inputs[0]]
    if op.kind == "RESHAPE":
        return ops.Reshape(t[op.outputs[0]].shape[1:]), [op.inputs[0]]
    if op.kind == "LOGISTIC":
        return ops.Logistic(), [op.inputs[0]]
    if op.kind == "CONCATENATION":
        return ops.Concatenate(o["axis"], len(t[op.outputs[0]].shape), o["activation"]), list(op.inputs)
    return ops.DepthToSpace(o["block_size"]), [op.inputs[0]]  # DEPTH_TO_SPACE


def _constant_as_nchw(data: np.ndarray, rank: int) -> torch.Tensor:
    """A constant operand in the layout of the tensor it meets (NHWC -> NCHW for images)."""
    value = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
    if rank == 4 and value.dim() == 4:
        return value.permute(0, 3, 1, 2).contiguous()
    if rank == 4 and value.dim() == 1:  # per-channel constant
        return value.view(1, -1, 1, 1)
    return value
