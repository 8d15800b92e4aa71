"""Check a live Keras 3 model: exported through tf2onnx in memory, answered in its layer names.

>>> import graphcheck.keras
>>> report = graphcheck.keras.check(model)       # a built keras.Model (TensorFlow backend)
>>> report.valid                                  # 'signal_len >= 9   (batch: any >= 1)'
>>> report.diagnostics[0].layer, report.diagnostics[0].layer_type
('conv_a', 'Conv1D')

The model is exported with ``tf2onnx.convert.from_keras`` and a signature built from
``model.inputs`` (dynamic dims stay dynamic), nothing is written to disk. tf2onnx names the
dynamic sizes ``unk__N``; they are renamed from the Keras input names: ``batch`` for axis 0,
``signal_len`` for the steps of a ``(batch, steps, channels)`` input, ``image_h``/``image_w`` for
a 4-D one, ``name_<axis>`` otherwise. TensorFlow and tf2onnx are imported only when ``check`` is
called (``pip install 'graphcheck[keras]'``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from graphcheck._frontend import (
    check_semantics,
    dim_name,
    missing,
    mute_stderr,
    normalize_dims,
    plain_config,
    rename_input_dims,
)
from graphcheck.errors import GraphcheckError
from graphcheck.model.layers import FrameworkInfo, LayerInfo

if TYPE_CHECKING:
    import onnx

    from graphcheck.api import Report

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

_UNK = re.compile(r"^unk__\d+$")
_LOGGERS = ("tensorflow", "tf2onnx", "absl", "keras", "h5py")


@contextmanager
def _quiet() -> Iterator[None]:
    """TensorFlow's and tf2onnx's log lines off while exporting (levels restored afterwards)."""
    saved = {name: logging.getLogger(name).level for name in _LOGGERS}
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _import() -> tuple[Any, Any, Any]:
    # C++ log lines (oneDNN notices, absl) are read from the environment when TensorFlow loads
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with _quiet():
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


def _signature(model: Any, tf: Any, dynamic: Collection[str] = ()) -> tuple[Any, ...]:
    """TensorSpecs from ``model.inputs``; the axes named in ``dynamic`` (``"signal:1"``) made None."""
    try:
        inputs = list(model.inputs)
    except (AttributeError, ValueError):
        inputs = []
    if not inputs:
        raise GraphcheckError(
            f"Keras model {getattr(model, 'name', '')!r} has no symbolic inputs: "
            "build it on keras.Input(...) (a functional or Sequential model with an Input) first"
        )
    specs = []
    for i, t in enumerate(inputs):
        name = getattr(t, "name", None) or f"input_{i}"
        shape = [None if f"{name}:{axis}" in dynamic else d for axis, d in enumerate(t.shape)]
        specs.append(tf.TensorSpec(tuple(shape), t.dtype, name=name))
    return tuple(specs)


def export(model: Any, opset: int | None = None, dynamic: Collection[str] = ()) -> onnx.ModelProto:
    """The model as tf2onnx exports it (in memory), its dynamic sizes renamed (see module doc).

    ``dynamic`` lists input axes (``"signal:1"``) to export as dynamic although the model was built
    for a fixed size (``keras.Input((64, 1))``): "which lengths would this model accept?".
    """
    keras, tf, tf2onnx = _import()
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise GraphcheckError(
            f"graphcheck.keras exports through tf2onnx, which needs the TensorFlow backend, not {backend}"
        )
    spec = _signature(model, tf, dynamic)
    try:
        with _quiet(), mute_stderr():
            proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset or DEFAULT_OPSET)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise GraphcheckError(f"tf2onnx could not export Keras model {model.name!r}: {first}") from exc
    rename_input_dims(proto, dim_name, lambda p: _UNK.match(p) is not None, tie_batch=True)
    return proto


def check(
    model: Any,
    dims: Mapping[str, int | str] | Sequence[str] | None = None,
    opset: int | None = None,
    *,
    semantics: str = "spec",
) -> Report:
    """Analyse a built Keras model; findings name its layers (``d.layer == "conv_a"``).

    ``dims`` fixes or renames sizes as in :func:`graphcheck.check` (``{"batch": 1}``); an axis the
    model was built for a fixed size of, named as ``{"signal:1": "L"}``, is exported as dynamic and
    analysed as ``L`` (which lengths would the model accept?). ``opset`` is tf2onnx's target opset
    (default 17).
    """
    check_semantics(semantics)
    dmap = normalize_dims(dims)
    return report_for(export(model, opset, symbolic_axes(dmap)), framework_info(model), dmap, semantics=semantics)


def symbolic_axes(dims: Mapping[str, int | str]) -> list[str]:
    """The ``input:axis`` keys that ``dims`` makes symbolic (exported as dynamic)."""
    return [k for k, v in dims.items() if isinstance(v, str) and re.fullmatch(r".+:\d+", k)]


def report_for(
    proto: onnx.ModelProto,
    info: FrameworkInfo,
    dims: Mapping[str, int | str] | Sequence[str] | None = None,
    *,
    semantics: str = "spec",
) -> Report:
    """The analysis of an already exported model (from :func:`export`) with the live model's layers."""
    from graphcheck.api import Report
    from graphcheck.infer.engine import analyze
    from graphcheck.model.load import from_proto

    check_semantics(semantics)
    return Report(analyze(from_proto(proto), normalize_dims(dims), semantics), info.model_name, framework=info)
