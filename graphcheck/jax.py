"""``graphcheck.jax``: check a JAX function or Flax NNX module (the front end lives in :mod:`graphcheck.frontends.jax`).

>>> import graphcheck.jax
>>> report = graphcheck.jax.check(module, (jnp.zeros((1, 64, 1)),))
"""

from __future__ import annotations

from graphcheck.frontends.jax import DEFAULT_OPSET, check, export, framework_info, report_for

__all__ = ["check", "export", "framework_info", "report_for", "DEFAULT_OPSET"]
