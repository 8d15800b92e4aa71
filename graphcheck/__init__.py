"""graphcheck: the exact set of input sizes an ONNX model accepts, and why the others fail.

>>> import graphcheck
>>> report = graphcheck.check("model.onnx")          # or an onnx.ModelProto
>>> report.valid                                      # 'L >= 9   (N: any >= 1)'
>>> report.accepts({"L": 5})                          # False
>>> report.at({"L": 5}).first_failure                 # the first failing node, numbers filled in
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Union

from graphcheck.errors import GraphcheckError, ModelLoadError, UsageError

if TYPE_CHECKING:
    import onnx

    from graphcheck.report import Report

__version__ = "0.1.0"

__all__ = ["check", "GraphcheckError", "ModelLoadError", "UsageError", "__version__"]

ModelLike = Union[str, "os.PathLike[str]", bytes, "onnx.ModelProto"]


def check(
    model: ModelLike,
    dims: Mapping[str, int | str] | Sequence[str] | None = None,
    *,
    semantics: str = "spec",
) -> Report:
    """Analyse a model: a path, serialized bytes, or an in-memory ``onnx.ModelProto``.

    ``dims`` fixes or renames sizes: ``{"N": 1}`` fixes a symbol, ``{"signal:1": "L"}`` makes a
    fixed dimension symbolic ("which lengths would this model accept?"); the CLI's
    ``["N=1", "signal:1=L"]`` form is accepted too. ``semantics="ort"`` reproduces
    onnxruntime where it deviates from the ONNX spec (its pools truncate toward zero).
    """
    from graphcheck.infer import analyze, parse_dims
    from graphcheck.load import load
    from graphcheck.report import Report

    if semantics not in ("spec", "ort"):
        raise UsageError(f"semantics must be 'spec' or 'ort', got {semantics!r}")
    if dims is None:
        dmap: dict[str, int | str] = {}
    elif isinstance(dims, Mapping):
        dmap = dict(dims)
    else:
        dmap = parse_dims(list(dims))
    graph = load(model)
    name = os.fspath(model) if isinstance(model, str | os.PathLike) else graph.source
    return Report(analyze(graph, dmap, semantics), name)
