"""Check a live Keras 3 model: exported through tf2onnx in memory, answered in its layer names.

>>> import graphcheck.keras
>>> report = graphcheck.keras.check(model)       # a built keras.Model (TensorFlow backend)
>>> report.valid                                  # 'signal_len >= 9   (batch: any >= 1)'
>>> report.diagnostics[0].layer, report.diagnostics[0].layer_type
('conv_a', 'Conv1D')

The model is exported with ``tf2onnx.convert.from_keras`` and a signature built from its inputs
(dynamic dims stay dynamic), nothing is written to disk. Functional and Sequential models with an
``Input`` give their inputs themselves, any number of them; a subclassed model (or a Sequential
built without an ``Input``) gives the shapes it was built or called with, whose batch and spatial
axes are then made dynamic (the channels, last, stay fixed), or ``inputs=`` says it: ``keras.Input``
tensors, ``tf.TensorSpec`` objects, example arrays (their batch and spatial axes made dynamic) or
shapes. tf2onnx names the dynamic sizes ``unk__N``; they never reach the report: they are renamed
from the input names, ``batch`` for axis 0 (shared by all inputs), ``signal_len`` for the steps of
a ``(batch, steps, channels)`` input, ``image_h``/``image_w`` for a 4-D one, ``name_<axis>``
otherwise (an input Keras named ``keras_tensor_3`` is named after the ``call`` parameter, or
``input``). Findings name the axes in Keras' terms (a ``Conv1D``'s ``length``, not the ``width
(axis 3)`` of tf2onnx's NCHW conv).
TensorFlow and tf2onnx are imported only when ``check`` is called (``pip install 'graphcheck[keras]'``).
"""

from __future__ import annotations

import inspect
import logging
import os
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from graphcheck.errors import GraphcheckError, UsageError
from graphcheck.frontends.contract import (
    Attempt,
    Exported,
    FrontendReport,
    check_semantics,
    dim_name,
    frontend_report,
    missing,
    mute_stderr,
    normalize_dims,
    plain_config,
    rename_input_dims,
    symbolic_axes,
)
from graphcheck.model.layers import FrameworkInfo, LayerInfo

__all__ = ["check", "export", "framework_info", "report_for", "symbolic_axes", "DEFAULT_OPSET"]

DEFAULT_OPSET = 17

# the parts of a layer's get_config() that decide sizes
CONFIG_KEYS = (
    "kernel_size",
    "strides",
    "padding",
    "dilation_rate",
    "pool_size",
    "data_format",
    "filters",
    "units",
    "groups",
    "output_padding",
    "depth_multiplier",
    "size",
    "cropping",
    "target_shape",
    "dims",
    "input_dim",
    "output_dim",
    "num_heads",
    "key_dim",
    "value_dim",
    "axis",
    "keepdims",
    "interpolation",
)

GENERATED = re.compile(r"^unk__\d+$")
_LOGGERS = ("tensorflow", "tf2onnx", "absl", "keras", "h5py")


@contextmanager
def quiet() -> Iterator[None]:
    """TensorFlow's and tf2onnx's log lines off while exporting (levels restored afterwards)."""
    saved = {name: logging.getLogger(name).level for name in _LOGGERS}
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def frameworks() -> tuple[Any, Any, Any]:
    # C++ log lines (oneDNN notices, absl) are read from the environment when TensorFlow loads
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with quiet():
            import keras
            import tensorflow as tf
            import tf2onnx
    except ImportError as exc:
        raise missing("keras", "tensorflow and tf2onnx", "keras", exc) from None
    return keras, tf, tf2onnx


def _walk(layer: Any) -> Iterator[Any]:
    """Every layer inside a model: nested models and Sequentials, wrapped layers (Bidirectional...)."""
    seen: set[int] = set()
    stack = list(reversed(list(getattr(layer, "layers", []) or [])))
    while stack:
        lay = stack.pop()
        if id(lay) in seen:
            continue
        seen.add(id(lay))
        yield lay
        inner = list(getattr(lay, "layers", []) or [])
        for attr in ("layer", "forward_layer", "backward_layer"):
            sub = getattr(lay, attr, None)
            if sub is not None and hasattr(sub, "get_config"):
                inner.append(sub)
        stack.extend(reversed(inner))


def framework_info(model: Any) -> FrameworkInfo:
    """Each Keras layer's class and size-relevant configuration, by layer name."""
    layers: dict[str, LayerInfo] = {}
    for lay in _walk(model):
        kind = type(lay).__name__
        if kind == "InputLayer":
            continue
        try:
            cfg = lay.get_config()
        except Exception:  # a custom layer without get_config
            cfg = {}
        layers.setdefault(lay.name, LayerInfo(kind, plain_config(cfg, CONFIG_KEYS)))
    return FrameworkInfo("keras", layers, str(getattr(model, "name", "") or ""))


_AUTO_NAME = re.compile(r"^(keras_tensor|input_layer|input)(_\d+)?$")


def _route(model: Any, why: str) -> str:
    """Why the model is traced as a tf.function, for the "exported by" line."""
    cls = type(model).__name__
    what = "a Keras 3 Sequential's" if cls == "Sequential" else "this model's"
    if cls not in ("Sequential", "Functional", "Model"):
        what = f"a subclassed model's ({cls})"
    return f"from_keras cannot read {what} output names ({why}): its call is traced as a tf.function"


def _call_params(model: Any) -> list[str]:
    try:
        params = list(inspect.signature(model.call).parameters.values())
    except (AttributeError, TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds and p.name not in ("training", "mask")]


def _input_name(given: str | None, i: int, params: Sequence[str], n: int) -> str:
    """An input's name: Keras' own, unless it is one Keras made up (``keras_tensor_3``)."""
    if given and not _AUTO_NAME.match(given):
        return given
    if i < len(params) and params[i] != "inputs":  # a subclassed model's call(self, signal)
        return params[i]
    return "input" if n == 1 else f"input_{i}"


def _dynamic_default(shape: Sequence[int | None], integer: bool) -> list[int | None]:
    """Batch and spatial axes dynamic (channels last stay), both axes of rank-2 token ids."""
    rank = len(shape)
    if rank >= 3 and not integer:
        axes = {0, *range(1, rank - 1)}
    elif rank == 2 and integer:
        axes = {0, 1}
    else:
        axes = {0}
    return [None if a in axes else d for a, d in enumerate(shape)]


def _spec_of(item: Any, tf: Any, name: str) -> Any:
    """One entry of ``inputs=``: a keras.Input, a tf.TensorSpec, an example array or a shape."""
    if isinstance(item, tf.TensorSpec):
        return tf.TensorSpec(item.shape, item.dtype, name=item.name or name)
    if isinstance(item, list | tuple) and all(d is None or isinstance(d, int) for d in item):
        return tf.TensorSpec(tuple(item), tf.float32, name=name)  # a shape, None where dynamic
    shape = getattr(item, "shape", None)
    dtype = getattr(item, "dtype", None)
    if shape is None or dtype is None:
        raise UsageError(f"inputs: expected keras.Input, tf.TensorSpec, an array or a shape, got {type(item).__name__}")
    dtype = tf.as_dtype(getattr(dtype, "name", dtype) if not isinstance(dtype, str) else dtype)
    dims = [None if d is None else int(d) for d in tuple(shape)]
    own = getattr(item, "name", None)
    if type(item).__name__ == "KerasTensor":  # keras.Input: its own dynamic dims and name
        return tf.TensorSpec(tuple(dims), dtype, name=own if own and not _AUTO_NAME.match(own) else name)
    return tf.TensorSpec(tuple(_dynamic_default(dims, dtype.is_integer)), dtype, name=name)  # an example


def _signature(model: Any, tf: Any, dynamic: Collection[str] = (), inputs: Any = None) -> tuple[Any, ...]:
    """TensorSpecs from ``inputs=``, ``model.inputs`` or the shapes a subclassed model was built with;
    the axes named in ``dynamic`` (``"signal:1"``) made None."""
    params = _call_params(model)
    specs: list[Any] = []
    if inputs is not None:
        items = list(inputs) if isinstance(inputs, list | tuple) and not _is_shape(inputs) else [inputs]
        specs = [_spec_of(it, tf, _input_name(None, i, params, len(items))) for i, it in enumerate(items)]
    else:
        try:
            tensors = list(model.inputs)
        except (AttributeError, ValueError):
            tensors = []
        for i, t in enumerate(tensors):
            name = _input_name(getattr(t, "name", None), i, params, len(tensors))
            specs.append(tf.TensorSpec(tuple(t.shape), t.dtype, name=name))
        if not specs:
            built = getattr(model, "_build_shapes_dict", None) or {}
            shapes = [tuple(v) for v in built.values() if isinstance(v, list | tuple)]
            for i, shape in enumerate(shapes):
                name = _input_name(None, i, params, len(shapes))
                specs.append(tf.TensorSpec(tuple(_dynamic_default(list(shape), False)), tf.float32, name=name))
    if not specs:
        raise GraphcheckError(
            f"Keras model {getattr(model, 'name', '')!r} has no symbolic inputs: build it on keras.Input(...), "
            "call it once, or pass inputs=[keras.Input(...)]"
        )
    out: list[Any] = []
    for t in specs:
        dims = [None if f"{t.name}:{axis}" in dynamic else d for axis, d in enumerate(t.shape)]
        out.append(tf.TensorSpec(tuple(dims), t.dtype, name=t.name))
    return tuple(out)


def _is_shape(x: Any) -> bool:
    return isinstance(x, tuple) and all(d is None or isinstance(d, int) for d in x)


def export(model: Any, opset: int | None = None, dynamic: Collection[str] = (), inputs: Any = None) -> Exported:
    """The model as tf2onnx exports it (in memory), its dynamic sizes renamed (see module doc).

    ``dynamic`` lists input axes (``"signal:1"``) to export as dynamic although the model was built
    for a fixed size (``keras.Input((64, 1))``): "which lengths would this model accept?".
    ``inputs``: the model's inputs when it cannot say them itself (a subclassed model).
    """
    keras, tf, tf2onnx = frameworks()
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise GraphcheckError(
            f"graphcheck.keras exports through tf2onnx, which needs the TensorFlow backend, not {backend}"
        )
    spec = _signature(model, tf, dynamic, inputs)
    target = opset or DEFAULT_OPSET
    versions = f"tf2onnx {tf2onnx.__version__}, TensorFlow {tf.__version__}, Keras {keras.__version__}, opset {target}"
    attempts: list[Attempt] = []
    proto = None
    # from_keras reads the model's output names, which Keras 3 does not always keep for a Sequential
    # or a subclassed model (KeyError 'keras_tensor_2'); the same call traced as a tf.function has
    # the same ops and name scopes
    for label, convert in (
        ("tf2onnx.convert.from_keras", lambda: tf2onnx.convert.from_keras(model, input_signature=spec, opset=target)),
        ("tf2onnx.convert.from_function", lambda: _from_function(model, spec, tf, tf2onnx, target)),
    ):
        try:
            with quiet(), mute_stderr():
                proto, _ = convert()
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            # from_keras failing is the route, not a fallback: from_function traces the same call
            attempts.append(Attempt(label, f"failed: {type(exc).__name__}: {first}", expected=not attempts))
            continue
        attempts.append(Attempt(label, "used"))
        versions = f"{label} ({versions})".replace("tf2onnx.convert.", "tf2onnx ", 1)
        if len(attempts) > 1:  # say why, where the exporter is named
            versions += f"; {_route(model, attempts[0].outcome[8:])}"
        break
    if proto is None:
        raise GraphcheckError(f"tf2onnx could not export Keras model {model.name!r}: {attempts[0].outcome[8:]}")
    rename_input_dims(proto, dim_name, lambda p: GENERATED.match(p) is not None, tie_batch=True)
    return Exported(proto, framework_info(model), versions, tuple(attempts))


def _from_function(model: Any, spec: tuple[Any, ...], tf: Any, tf2onnx: Any, opset: int) -> Any:
    """The model's call traced as a tf.function with the signature, converted by tf2onnx."""
    params = _call_params(model)
    positional = len(spec) > 1 and len(params) >= len(spec) and params[0] != "inputs"

    def call(*xs: Any) -> Any:
        if len(xs) == 1:
            return model(xs[0], training=False)
        return model(*xs, training=False) if positional else model(list(xs), training=False)

    return tf2onnx.convert.from_function(tf.function(call, input_signature=spec), input_signature=spec, opset=opset)


def check(
    model: Any,
    dims: Mapping[str, int | str] | Sequence[str] | None = None,
    opset: int | None = None,
    *,
    inputs: Any = None,
    semantics: str = "spec",
) -> FrontendReport:
    """Analyse a built Keras model; findings name its layers (``d.layer == "conv_a"``).

    ``dims`` fixes or renames sizes as in :func:`graphcheck.check` (``{"batch": 1}``); an axis the
    model was built for a fixed size of, named as ``{"signal:1": "L"}``, is exported as dynamic and
    analysed as ``L`` (which lengths would the model accept?). ``opset`` is tf2onnx's target opset
    (default 17). ``inputs``: see the module doc (needed only for a model that was never called).
    """
    check_semantics(semantics)
    dmap = normalize_dims(dims)
    return frontend_report(export(model, opset, symbolic_axes(dmap), inputs), dmap, semantics=semantics)


# the analysis of an export from :func:`export` (what :func:`check` returns): the front ends' shared step
report_for = frontend_report
