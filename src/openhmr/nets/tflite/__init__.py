"""TFLite -> PyTorch: read a ``.tflite`` flatbuffer and build a plain ``torch.nn.Module``."""

from openhmr.nets.tflite.flatbuffer import read_tflite
from openhmr.nets.tflite.graph import TFLiteGraph, graph_spec

__all__ = ["TFLiteGraph", "graph_spec", "read_tflite"]
