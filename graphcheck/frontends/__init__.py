"""The front ends: live models exported in memory, and model files of other frameworks converted.

:mod:`.contract` holds what every front end shares (size names, the exported graph and its exporter,
the report in layer names); :mod:`.keras`, :mod:`.torch` and :mod:`.jax` export live models
(public as ``graphcheck.keras``, ``graphcheck.torch``, ``graphcheck.jax``); :mod:`.formats` recognizes
model files by their content (``.keras``, ``.h5``, SavedModel, ``.tflite``, ``.pt2``, else ONNX);
:mod:`.files` gives what ``check``, ``explain`` and ``gate`` analyse, converting in worker processes
under a time limit (:mod:`.workers` runs :mod:`.convert`), with a cache.

May import :mod:`graphcheck.api` and everything below it; imported by the public front-end
modules, the gate and the CLI. Importing this package imports no framework (TensorFlow, torch,
JAX are imported when a model is exported); :mod:`.files`, :mod:`.formats` and :mod:`.workers`
import only the standard library.
"""
