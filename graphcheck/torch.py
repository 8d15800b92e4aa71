"""``graphcheck.torch``: check a live PyTorch module (the front end lives in :mod:`graphcheck.frontends.torch`).

>>> import graphcheck.torch
>>> report = graphcheck.torch.check(module, (torch.randn(2, 1, 64),))
"""

from __future__ import annotations

from graphcheck.frontends.torch import (
    DYNAMO_OPSET,
    LEGACY_OPSET,
    check,
    default_dynamic_axes,
    dynamic_spec,
    export,
    framework_info,
    report_for,
)

__all__ = [
    "check",
    "export",
    "framework_info",
    "report_for",
    "default_dynamic_axes",
    "dynamic_spec",
    "DYNAMO_OPSET",
    "LEGACY_OPSET",
]
