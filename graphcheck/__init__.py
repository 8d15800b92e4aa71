"""graphcheck: the exact set of input sizes an ONNX model accepts, and why the others fail.

>>> import graphcheck
>>> report = graphcheck.check("model.onnx")          # or an onnx.ModelProto
>>> report.valid                                      # 'L >= 9   (N: any >= 1)'
>>> report.accepts({"L": 5})                          # False
>>> report.at({"L": 5}).first_failure                 # the first failing node, numbers filled in

Importing the package is cheap: ``check`` and ``Report`` (from :mod:`graphcheck.api`) are
imported on first use, so ``graphcheck --version`` or ``graphcheck rule`` never load onnx.
The layers, bottom to top: ``symbolic`` <- ``model`` <- ``infer`` <- ``report`` <- ``render``
<- ``api`` <- ``frontends`` <- ``keras``/``torch``/``jax``/``gate`` <- ``cli`` (see README, "How it is built").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphcheck.errors import GraphcheckError, ModelLoadError, UsageError
from graphcheck.version import __version__

if TYPE_CHECKING:
    from graphcheck.api import Report, check

__all__ = ["check", "Report", "GraphcheckError", "ModelLoadError", "UsageError", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("check", "Report"):
        from graphcheck import api

        return getattr(api, name)
    raise AttributeError(f"module 'graphcheck' has no attribute {name!r}")
