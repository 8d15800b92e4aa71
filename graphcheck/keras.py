"""``graphcheck.keras``: check a live Keras 3 model (the front end lives in :mod:`graphcheck.frontends.keras`).

>>> import graphcheck.keras
>>> report = graphcheck.keras.check(model)       # a built keras.Model (TensorFlow backend)
"""

from __future__ import annotations

from graphcheck.frontends.keras import DEFAULT_OPSET, check, export, framework_info, report_for, symbolic_axes

__all__ = ["check", "export", "framework_info", "report_for", "symbolic_axes", "DEFAULT_OPSET"]
