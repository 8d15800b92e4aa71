"""Check a live PyTorch module: exported by torch.onnx in memory, answered in its module names.

>>> import graphcheck.torch
>>> report = graphcheck.torch.check(module, (torch.randn(2, 1, 64),))
>>> report.valid                                   # 'x_len >= 9   (batch: any >= 1)'
>>> report.diagnostics[0].layer, report.diagnostics[0].layer_type
('conv_in', 'Conv1d')

``exporter="dynamo"`` (the default, as in torch.onnx) exports with ``torch.export`` at opset 18;
``exporter="legacy"`` uses the TorchScript tracer at opset 17. Nothing is written to disk.

Without a dynamic spec, every float input of rank >= 3 gets a dynamic batch (axis 0) and dynamic
spatial axes (2 and up; the channels, axis 1, stay fixed), a rank-2 integer input (token ids)
has both axes dynamic, any other input only its batch. The dynamo exporter gets
``torch.export.Dim.DYNAMIC`` for those axes: named ``Dim``\\ s with bounds make ``torch.export``
fail on some models (ceil-mode pools) and torch.onnx then silently exports a fixed size. Where
``torch.export`` refuses ``Dim.DYNAMIC`` because tracing pins a size (Flatten -> Linear, a learned
position table added to the sequence), the default spec is retried with ``Dim.AUTO``: the ONNX
input stays symbolic, torch.export's pinned range goes into the metadata, and the check reports
what the exported graph accepts (torch.export may have baked the example's size into it).
Generated size names (``s77``, ``x_dynamic_axes_1``) are renamed from the input names
(``batch``, ``x_len``, ``image_h``/``image_w``, ``x_3``); names the user gave are kept.
torch is imported only when ``check`` is called (``pip install 'graphcheck[torch]'``).
"""

from __future__ import annotations

import inspect
import io
import logging
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from graphcheck._frontend import (
    check_semantics,
    dim_name,
    missing,
    normalize_dims,
    plain_config,
    rename_input_dims,
)
from graphcheck.errors import GraphcheckError, UsageError
from graphcheck.model.layers import FrameworkInfo, LayerInfo

if TYPE_CHECKING:
    import onnx

    from graphcheck.api import Report

__all__ = ["check", "export", "framework_info", "report_for", "default_dynamic_axes", "DYNAMO_OPSET", "LEGACY_OPSET"]

DYNAMO_OPSET = 18  # the dynamo exporter's lowest opset (asking 17 exports 18 and fails to convert)
LEGACY_OPSET = 17

# the module attributes that decide sizes
CONFIG_KEYS = (
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "ceil_mode",
    "count_include_pad",
    "output_padding",
    "padding_mode",
    "groups",
    "in_channels",
    "out_channels",
    "in_features",
    "out_features",
    "num_embeddings",
    "embedding_dim",
    "output_size",
    "scale_factor",
    "size",
    "normalized_shape",
    "num_features",
    "embed_dim",
    "num_heads",
    "batch_first",
    "start_dim",
    "end_dim",
    "input_size",
    "hidden_size",
)

# names torch makes up for dynamic sizes: torch.export's symbols, the legacy exporter's axis names
_GENERATED = re.compile(r"^(s\d+|.*_dynamic_axes_\d+)$")
_LOGGERS = ("torch.onnx", "torch.export", "torch._export", "torch.fx", "torch._dynamo", "onnxscript")


@contextmanager
def _quiet() -> Iterator[None]:
    """The exporters' warnings and log lines off meanwhile (levels restored afterwards)."""
    saved = {name: logging.getLogger(name).level for name in _LOGGERS}
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _import() -> Any:
    try:
        import torch  # the real torch: imports are absolute, this module is graphcheck.torch
    except ImportError as exc:
        raise missing("torch", "torch", "torch", exc) from None
    return torch


def framework_info(module: Any) -> FrameworkInfo:
    """Each submodule's class and size-relevant attributes, by its dotted path (``enc.0.conv``)."""
    layers: dict[str, LayerInfo] = {}
    for name, mod in module.named_modules():
        if not name:
            continue
        attrs = {k: getattr(mod, k) for k in CONFIG_KEYS if hasattr(mod, k)}
        layers[name] = LayerInfo(type(mod).__name__, plain_config(attrs, CONFIG_KEYS))
    return FrameworkInfo("torch", layers, type(module).__name__)


def _input_names(module: Any, n: int, given: Sequence[str] | None) -> list[str]:
    if given is not None:
        names = list(given)
        if len(names) != n:
            raise UsageError(f"input_names has {len(names)} names for {n} example inputs")
        return names
    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [
        p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if len(positional) >= n:
        return positional[:n]
    return [f"input_{i}" for i in range(n)]


def default_dynamic_axes(example_inputs: Sequence[Any], names: Sequence[str]) -> list[dict[int, str]]:
    """The axes made dynamic when the user gives no spec (see the module doc), with their names."""
    torch = _import()
    out: list[dict[int, str]] = []
    for name, x in zip(names, example_inputs):
        if not isinstance(x, torch.Tensor) or x.dim() == 0:
            out.append({})
            continue
        rank = x.dim()
        integer = not (x.is_floating_point() or x.is_complex())
        if x.is_floating_point() and rank >= 3:
            axes = [0, *range(2, rank)]
        elif integer and rank == 2:
            axes = [0, 1]
        else:
            axes = [0]
        out.append({a: _namer(name, a, rank, integer) for a in axes})
    return out


def _namer(name: str, axis: int, rank: int, integer: bool) -> str:
    """Channels-first names: (N, C, L) -> ``x_len``; (N, C, H, W) -> ``x_h``, ``x_w``."""
    return dim_name(name, axis, rank, integer, channels_first=True)


def export(
    module: Any,
    example_inputs: Any,
    *,
    dynamic_shapes: Any = None,
    dynamic_axes: Mapping[str, Any] | None = None,
    exporter: str = "dynamo",
    opset: int | None = None,
    input_names: Sequence[str] | None = None,
) -> onnx.ModelProto:
    """The module as torch.onnx exports it (in memory), its generated size names renamed."""
    import onnx

    torch = _import()
    if exporter not in ("dynamo", "legacy"):
        raise UsageError(f"exporter must be 'dynamo' or 'legacy', got {exporter!r}")
    args = tuple(example_inputs) if isinstance(example_inputs, list | tuple) else (example_inputs,)
    names = _input_names(module, len(args), input_names)
    defaults = default_dynamic_axes(args, names)
    was_training = bool(getattr(module, "training", False))
    module.eval()
    try:
        with _quiet():
            if exporter == "dynamo":
                proto = _export_dynamo(torch, module, args, names, dynamic_shapes, dynamic_axes, defaults, opset)
            else:
                if dynamic_shapes is not None:
                    raise UsageError("the legacy exporter takes dynamic_axes, not dynamic_shapes")
                if dynamic_axes is None:
                    dynamic_axes = {n: axes for n, axes in zip(names, defaults) if axes}
                buf = io.BytesIO()
                torch.onnx.export(
                    module,
                    args,
                    buf,
                    dynamo=False,
                    input_names=names,
                    dynamic_axes=dict(dynamic_axes),
                    opset_version=opset or LEGACY_OPSET,
                )
                proto = onnx.load_model_from_string(buf.getvalue())
    except GraphcheckError:
        raise
    except Exception as exc:
        raise GraphcheckError(
            f"torch.onnx.export ({exporter}) failed for {type(module).__name__}: {_reason(exc)}"
        ) from exc
    finally:
        module.train(was_training)
    rename_input_dims(proto, _namer, lambda p: _GENERATED.match(p) is not None)
    _warn_specialized(proto, names, dynamic_shapes, dynamic_axes, defaults)
    return proto


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SPECIALIZED = ("inferred a static shape", "Constraints violated", "specialized")


def _reason(exc: BaseException) -> str:
    """The root cause of an export failure in one line (torch wraps it in pages of advice)."""
    root: BaseException = exc
    while root.__cause__ is not None:
        root = root.__cause__
    lines = [ln.strip(" -") for ln in _ANSI.sub("", str(root)).splitlines() if ln.strip(" -")]
    if not lines:
        return type(root).__name__
    text = lines[0]
    if text.endswith(":") and len(lines) > 1:
        text = f"{text} {lines[1]}"
    return text


def _export_dynamo(
    torch: Any,
    module: Any,
    args: tuple[Any, ...],
    names: list[str],
    dynamic_shapes: Any,
    dynamic_axes: Mapping[str, Any] | None,
    defaults: list[dict[int, str]],
    opset: int | None,
) -> onnx.ModelProto:
    """torch.export + torch.onnx; with our default spec, Dim.AUTO where Dim.DYNAMIC is refused.

    ``Dim.DYNAMIC`` makes torch.export fail when tracing pins a size (a Flatten -> Linear, a
    learned position table added to the sequence). With the default spec the export is retried
    with ``Dim.AUTO``: the ONNX input stays symbolic and torch.export's pinned range is recorded
    in the metadata (``range_constraints``), which the check compares with the exact valid set.
    """

    def run(shapes: Any) -> onnx.ModelProto:
        program = torch.onnx.export(
            module,
            args,
            dynamo=True,
            input_names=names,
            dynamic_shapes=shapes,
            dynamic_axes=dynamic_axes,
            opset_version=opset or DYNAMO_OPSET,
            external_data=False,
            verbose=False,
        )
        if program is None:
            raise GraphcheckError("torch.onnx.export returned no program")
        return program.model_proto

    if dynamic_shapes is not None or dynamic_axes is not None:
        return run(dynamic_shapes)
    dim = torch.export.Dim
    try:
        return run(tuple({a: dim.DYNAMIC for a in axes} or None for axes in defaults))
    except Exception as exc:
        if not any(key in _reason(exc) for key in _SPECIALIZED):
            raise
    return run(tuple({a: dim.AUTO for a in axes} or None for axes in defaults))


def _asked_dynamic(
    names: Sequence[str], dynamic_shapes: Any, dynamic_axes: Mapping[str, Any] | None, defaults: list[dict[int, str]]
) -> dict[str, set[int]]:
    asked: dict[str, set[int]] = {}
    if dynamic_axes is not None:
        for name, axes in dynamic_axes.items():
            asked[name] = set(axes.keys() if isinstance(axes, Mapping) else axes)
        return asked
    if isinstance(dynamic_shapes, Mapping):
        specs: list[Any] = [dynamic_shapes.get(n) for n in names]
    elif isinstance(dynamic_shapes, list | tuple):
        specs = list(dynamic_shapes)
    else:
        specs = [d for d in defaults]
    for name, spec in zip(names, specs):
        if isinstance(spec, Mapping):
            asked[name] = {a for a, v in spec.items() if v is not None}
        elif isinstance(spec, list | tuple):
            asked[name] = {a for a, v in enumerate(spec) if v is not None}
    return asked


def _warn_specialized(
    proto: onnx.ModelProto,
    names: Sequence[str],
    dynamic_shapes: Any,
    dynamic_axes: Mapping[str, Any] | None,
    defaults: list[dict[int, str]],
) -> None:
    """torch.onnx silently fixes a size torch.export could not keep dynamic: say so."""
    try:
        asked = _asked_dynamic(names, dynamic_shapes, dynamic_axes, defaults)
    except Exception:
        return
    for vi in proto.graph.input:
        axes = asked.get(vi.name)
        if not axes:
            continue
        dims = vi.type.tensor_type.shape.dim
        fixed = [(a, dims[a].dim_value) for a in sorted(axes) if a < len(dims) and dims[a].HasField("dim_value")]
        if fixed:
            what = ", ".join(f"axis {a} = {v}" for a, v in fixed)
            warnings.warn(
                f"torch.onnx exported input {vi.name!r} with {what} although it was asked to be dynamic "
                "(torch.export specialized it); the check covers the exported model",
                stacklevel=3,
            )


def check(
    module: Any,
    example_inputs: Any,
    *,
    dynamic_shapes: Any = None,
    dynamic_axes: Mapping[str, Any] | None = None,
    exporter: str = "dynamo",
    opset: int | None = None,
    input_names: Sequence[str] | None = None,
    dims: Mapping[str, int | str] | Sequence[str] | None = None,
    semantics: str = "spec",
) -> Report:
    """Analyse a PyTorch module; findings name its submodules (``d.layer == "conv_in"``).

    ``example_inputs``: a tensor or a tuple of tensors (positional arguments of ``forward``).
    ``dynamic_shapes`` (dynamo) / ``dynamic_axes`` (either exporter) are passed to
    ``torch.onnx.export`` as given; without them the defaults of the module doc apply.
    ``input_names`` default to ``forward``'s parameter names. ``dims`` fixes or renames sizes as
    in :func:`graphcheck.check`.
    """
    check_semantics(semantics)
    dmap = normalize_dims(dims)
    proto = export(
        module,
        example_inputs,
        dynamic_shapes=dynamic_shapes,
        dynamic_axes=dynamic_axes,
        exporter=exporter,
        opset=opset,
        input_names=input_names,
    )
    return report_for(proto, framework_info(module), dmap, semantics=semantics)


def report_for(
    proto: onnx.ModelProto,
    info: FrameworkInfo,
    dims: Mapping[str, int | str] | Sequence[str] | None = None,
    *,
    semantics: str = "spec",
) -> Report:
    """The analysis of an already exported model (from :func:`export`) with the live module's layers."""
    from graphcheck.api import Report
    from graphcheck.infer.engine import analyze
    from graphcheck.model.load import from_proto

    check_semantics(semantics)
    return Report(analyze(from_proto(proto), normalize_dims(dims), semantics), info.model_name, framework=info)
