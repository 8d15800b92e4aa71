"""Exceptions shared across graphcheck."""

from __future__ import annotations


class GraphcheckError(Exception):
    """Base class for errors reported to the user as one line (CLI exit code 2)."""


class ModelLoadError(GraphcheckError):
    """The model file cannot be read as an ONNX model."""


class UsageError(GraphcheckError):
    """A user-supplied option is malformed (a bad --dim or --at, an unknown symbol)."""


class TooComplex(Exception):
    """The solver cannot give an exact answer within its limits (reported as unknown, never as valid)."""
