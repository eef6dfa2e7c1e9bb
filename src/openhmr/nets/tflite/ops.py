"""TFLite operators as PyTorch modules, on NCHW tensors.

Three TensorFlow rules that PyTorch does not share are kept here:
- 'SAME' padding may be asymmetric (the extra row and column go after, i.e. bottom / right);
- weights are stored OHWI (convolution) and 1HWC (depthwise);
- RESIZE_BILINEAR with ``half_pixel_centers`` is PyTorch's ``align_corners=False``, without
  it TensorFlow's legacy rule (source = destination · in / out), which PyTorch lacks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def activation(name: str | None, x: torch.Tensor) -> torch.Tensor:
    """A TFLite fused activation applied to ``x``."""
    if name is None:
        return x
    if name == "relu":
        return F.relu(x)
    if name == "relu6":
        return F.relu6(x)
    if name == "relu_n1_to_1":
        return x.clamp(-1.0, 1.0)
    if name == "tanh":
        return torch.tanh(x)
    raise ValueError(f"unknown fused activation {name!r}")


def same_padding(size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int], dilation=(1, 1)) -> tuple[int, int, int, int]:
    """TensorFlow's 'SAME' padding of an (H, W) input as F.pad's (left, right, top, bottom)."""
    pads = []
    for n, k, s, d in zip(size, kernel, stride, dilation):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = pads
    return (left, right, top, bottom)


class Conv2d(nn.Module):
    """CONV_2D / DEPTHWISE_CONV_2D with TF padding and a fused activation: (B, C, H, W) ->
    (B, O, H', W'). ``pad`` (left, right, top, bottom) is applied before the convolution;
    weights (O, C/groups, kh, kw) are set by the graph builder or a state dict."""

    def __init__(self, in_channels: int, out_channels: int, kernel, stride, dilation, groups: int, pad, act: str | None, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(out_channels, in_channels // groups, *kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.stride = tuple(stride)
        self.dilation = tuple(dilation)
        self.groups = groups
        self.pad = tuple(pad)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad)
        x = F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return activation(self.act, x)

    def extra_repr(self) -> str:
        o, i, kh, kw = self.weight.shape
        return f"{i * self.groups}->{o}, kernel=({kh}, {kw}), stride={self.stride}, groups={self.groups}, pad={self.pad}, act={self.act}"


class Add(nn.Module):
    """ADD of two tensors, then the fused activation. ``constants``: the shapes of operands
    that are constants of the file (slot 0 or 1), held as buffers and set by the builder."""

    def __init__(self, act: str | None, constants: dict[int, tuple[int, ...]] | None = None):
        super().__init__()
        self.act = act
        for slot, shape in (constants or {}).items():
            self.register_buffer(f"constant{int(slot)}", torch.zeros(shape))

    def forward(self, a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor:
        a = self.constant0 if a is None else a
        b = self.constant1 if b is None else b
        return activation(self.act, a + b)

    def extra_repr(self) -> str:
        return f"act={self.act}"


class Pad(nn.Module):
    """PAD with zeros; ``pad`` in F.pad's order for NCHW (left, right, top, bottom, front, back)."""

    def __init__(self, pad):
        super().__init__()
        self.pad = tuple(pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pad)

    def extra_repr(self) -> str:
        return f"pad={self.pad}"


class MaxPool2d(nn.Module):
    """MAX_POOL_2D; 'SAME' padding pads with -inf so the padding never wins."""

    def __init__(self, kernel, stride, pad, act: str | None):
        super().__init__()
        self.kernel, self.stride, self.pad, self.act = tuple(kernel), tuple(stride), tuple(pad), act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad, value=float("-inf"))
        return activation(self.act, F.max_pool2d(x, self.kernel, self.stride))

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}, pad={self.pad}"


class ResizeBilinear(nn.Module):
    """RESIZE_BILINEAR to a fixed (H, W)."""

    def __init__(self, size, align_corners: bool, half_pixel_centers: bool):
        super().__init__()
        if not (align_corners or half_pixel_centers):
            raise ValueError("TensorFlow's legacy bilinear rule (neither align_corners nor half_pixel_centers) is not supported")
        self.size = tuple(size)
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=self.align_corners)

    def extra_repr(self) -> str:
        return f"size={self.size}, align_corners={self.align_corners}"


class Reshape(nn.Module):
    """RESHAPE in TFLite's element order: a 4D input (held NCHW) is read as NHWC, and a 4D
    result is returned NCHW. ``shape`` is the target without its batch dimension."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        y = x.reshape(x.shape[0], *self.shape)
        return y.permute(0, 3, 1, 2) if y.dim() == 4 else y

    def extra_repr(self) -> str:
        return f"shape=(B, {', '.join(map(str, self.shape))})"


class Logistic(nn.Module):
    """LOGISTIC: the sigmoid."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x)


class Concatenate(nn.Module):
    """CONCATENATION along a TFLite (NHWC) axis, mapped onto NCHW for 4D tensors."""

    def __init__(self, axis: int, rank: int, act: str | None):
        super().__init__()
        axis = axis % rank
        self.axis = {0: 0, 1: 2, 2: 3, 3: 1}[axis] if rank == 4 else axis
        self.act = act

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return activation(self.act, torch.cat(xs, dim=self.axis))

    def extra_repr(self) -> str:
        return f"dim={self.axis}"


class DepthToSpace(nn.Module):
    """DEPTH_TO_SPACE with TensorFlow's channel order: output[h·r+i, w·r+j, c] =
    input[h, w, (i·r + j)·C + c] (PyTorch's pixel_shuffle orders channels (c, i, j))."""

    def __init__(self, block: int):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, ch, h, w = x.shape
        r = self.block
        x = x.view(b, r, r, ch // (r * r), h, w)  # (B, i, j, C, H, W)
        return x.permute(0, 3, 4, 1, 5, 2).reshape(b, ch // (r * r), h * r, w * r)

    def extra_repr(self) -> str:
        return f"block={self.block}"
