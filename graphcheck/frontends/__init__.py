"""The front ends: live models exported in memory, and model files of other frameworks converted.

:mod:`.contract` holds what every front end shares (size names, the exported graph and its exporter,
the report in layer names); :mod:`.keras`, :mod:`.torch` and :mod:`.jax` export live models
(public as ``graphcheck.keras``, ``graphcheck.torch``, ``graphcheck.jax``).

May import :mod:`graphcheck.api` and everything below it; imported by the public front-end
modules, the gate and the CLI. Importing this package imports no framework (TensorFlow, torch,
JAX are imported when a model is exported).
"""
