"""graphcheck: the exact set of input sizes an ONNX model accepts, and why the others fail."""

from __future__ import annotations

__version__ = "0.1.0"
