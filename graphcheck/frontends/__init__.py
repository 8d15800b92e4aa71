"""The front ends: live models exported in memory, and model files of other frameworks converted.

:mod:`.contract` holds what every front end shares (size names, the exported graph and its exporter,
the report in layer names); :mod:`.keras`, :mod:`.torch` and :mod:`.jax` export live models
(public as ``graphcheck.keras``, ``graphcheck.torch``, ``graphcheck.jax``); :mod:`.files` recognizes
model files by their content (``.keras``, ``.h5``, SavedModel, ``.tflite``, ``.pt2``, else ONNX) and
gives what ``check``, ``explain`` and ``gate`` analyse, converting through :mod:`.convert` in a
worker process, with a time limit and a cache.

May import :mod:`graphcheck.api` and everything below it; imported by the public front-end
modules, the gate and the CLI. Importing this package imports no framework (TensorFlow, torch,
JAX are imported when a model is exported), and :mod:`.files` only the standard library.
"""
