"""Exceptions shared across graphcheck, and how text from a file is printed."""

from __future__ import annotations

import re


class GraphcheckError(Exception):
    """Base class for errors reported to the user as one line (CLI exit code 2)."""


class ModelLoadError(GraphcheckError):
    """The model file cannot be read as an ONNX model."""


class UsageError(GraphcheckError):
    """A user-supplied option is malformed (a bad --dim or --at, an unknown symbol)."""


class TooComplex(Exception):
    """The solver cannot give an exact answer within its limits (reported as unknown, never as valid)."""


# characters a terminal acts on rather than shows: C0/C1 controls (a newline, ESC starting an escape
# sequence), DEL, line/paragraph separators and the bidirectional overrides that reorder a line
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` from a file (a path, a node or input name) as one line that prints as it is:
    control characters escaped the way Python writes them (``\\n``, ``\\x1b``, ``\\u202e``)."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
