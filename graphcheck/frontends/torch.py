"""Check a live PyTorch module: exported by torch.onnx in memory, answered in its module names.

>>> import graphcheck.torch
>>> report = graphcheck.torch.check(module, (torch.randn(2, 1, 64),))
>>> report.valid                                   # 'x_len >= 9   (batch: any >= 1)'
>>> report.diagnostics[0].layer, report.diagnostics[0].layer_type
('conv_in', 'Conv1d')
>>> report.exporter                                # which exporter produced the analysed graph
'torch.onnx dynamo (torch.export, Dim.DYNAMIC), torch 2.13.0, opset 18'

``exporter="dynamo"`` (the default, as in torch.onnx) exports with ``torch.export`` at opset 18;
``exporter="legacy"`` uses the TorchScript tracer at opset 17. Nothing is written to disk.

**Which sizes are dynamic.** ``dynamic_axes`` (``{"signal": {0: "N", 2: "L"}}`` or
``{"signal": [0, 2]}``) and ``dynamic_shapes`` (keyed by ``forward``'s parameter names, or a tuple
in argument order; each input a ``{axis: spec}`` dict or a per-axis tuple, each spec a name
``"L"``, a ``torch.export.Dim("L", min=..., max=...)``, ``Dim.DYNAMIC``/``Dim.AUTO``, or
``None``/``Dim.STATIC`` for a fixed axis) are accepted by both exporters. A size the user named
keeps the name. Without a spec, every float input of rank >= 3 gets a dynamic batch (axis 0) and
dynamic spatial axes (2 and up; the channels, axis 1, stay fixed), a rank-2 integer input (token
ids) both axes, any other input only its batch; their names come from the input (``batch``,
``x_len``, ``image_h``/``image_w``, ``x_3``).

**Fallbacks.** torch.export specializes a size when tracing needs its value (a branch on
``x.shape``, an op without symbolic-size support such as ``MaxPool1d`` in torch 2.13, a Flatten
before a Linear): ``Dim.DYNAMIC`` then fails ("inferred a static shape of 64") and ``Dim.AUTO``
silently fixes the size (the ONNX input may stay symbolic, but torch.export's declared range is
``[64, 64]`` and constants may be baked in). The dynamo chain is therefore: the user's own ``Dim``
objects (when there are any), ``Dim.DYNAMIC``, ``Dim.AUTO``, then the legacy TorchScript exporter;
the first graph that keeps every asked axis dynamic is analysed (``exporter="legacy"`` tries the
legacy exporter first, then the dynamo chain). When none does, the least specialized graph is
analysed with the fixed axes made symbolic again (what ``--dim signal:2=L`` does on a file). Every
specialization is a GC108 finding with the guard and the source line torch gave; a failed exporter
is a GC109 finding with its reason; ``report.exporter`` says which produced the analysed graph.

Findings name submodules by their path (``features.3``) for both exporters: the dynamo exporter
records ``pkg.torch.onnx.name_scopes``, the legacy one writes scopes into node names.
torch is imported only when ``check`` is called (``pip install 'graphcheck[torch]'``).
"""

from __future__ import annotations

import inspect
import io
import linecache
import logging
import os
import re
import sys
import sysconfig
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphcheck.errors import GraphcheckError, UsageError
from graphcheck.frontends.contract import (
    RANGE_KEY,
    Attempt,
    Exported,
    FrontendReport,
    Specialized,
    check_semantics,
    dim_name,
    fixed_asked_axes,
    frontend_report,
    missing,
    normalize_dims,
    plain_config,
    rename_input_dims,
    rename_values,
)
from graphcheck.model.layers import FrameworkInfo, LayerInfo

if TYPE_CHECKING:
    import onnx

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
GENERATED = re.compile(r"^(s\d+|.*_dynamic_axes_\d+)$")
_LOGGERS = (
    "torch",
    "torch.onnx",
    "torch.export",
    "torch._export",
    "torch.fx",
    "torch._dynamo",
    "torch._guards",
    "onnxscript",
)
_SHAPES_LOGGER = "torch.fx.experimental.symbolic_shapes"


@contextmanager
def quiet() -> Iterator[None]:
    """The exporters' warnings and log lines off meanwhile (levels restored afterwards)."""
    saved = {name: logging.getLogger(name).level for name in _LOGGERS}
    for name in _LOGGERS:  # an export that fails logs its error too: the front end says it in one line
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def import_torch() -> Any:
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


def _forward_params(module: Any) -> list[str]:
    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds]


def _input_names(module: Any, n: int, given: Sequence[str] | None) -> list[str]:
    if given is not None:
        names = list(given)
        if len(names) != n:
            raise UsageError(f"input_names has {len(names)} names for {n} example inputs")
        return names
    positional = _forward_params(module)
    if len(positional) >= n:
        return positional[:n]
    return [f"input_{i}" for i in range(n)]


def default_dynamic_axes(example_inputs: Sequence[Any], names: Sequence[str]) -> list[dict[int, str]]:
    """The axes made dynamic when the user gives no spec (see the module doc), with their names."""
    torch = import_torch()
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
        out.append({a: channels_first_name(name, a, rank, integer) for a in axes})
    return out


def channels_first_name(name: str, axis: int, rank: int, integer: bool) -> str:
    """Channels-first names: (N, C, L) -> ``x_len``; (N, C, H, W) -> ``x_h``, ``x_w``."""
    return dim_name(name, axis, rank, integer, channels_first=True)


# --------------------------------------------------------------------------- the dynamic spec


@dataclass(frozen=True)
class _Axis:
    name: str  # the symbol's name in the report
    dim: Any = None  # the user's torch.export.Dim (a named Dim with its bounds), kept for torch.export
    named: bool = False  # the user gave the name (kept as it is: two axes named alike are one size)


def _hint(torch: Any, v: Any) -> str | None:
    """``"DYNAMIC"``, ``"AUTO"`` or ``"STATIC"`` for torch.export's Dim hints, else None."""
    hint_type = getattr(torch.export.dynamic_shapes, "_DimHint", None)
    if hint_type is None or not isinstance(v, hint_type):
        return None
    return str(getattr(v, "type", v)).rsplit(".", 1)[-1].upper().strip(")").split("(")[-1]


def _axis_spec(torch: Any, v: Any, default: str) -> _Axis | None:
    """One axis of a user's spec: None (fixed), or the name it is known by and the user's Dim."""
    if v is None:
        return None
    if isinstance(v, str):
        if not v.isidentifier():
            raise UsageError(f"a dynamic size's name must be an identifier, got {v!r}")
        return _Axis(v, named=True)
    hint = _hint(torch, v)
    if hint is not None:
        return None if hint == "STATIC" else _Axis(default)
    name = getattr(v, "__name__", None)
    if isinstance(name, str) and hasattr(v, "min") and hasattr(v, "max"):
        return _Axis(name, v, named=True)  # torch.export.Dim("L", min=..., max=...)
    raise UsageError(f"a dynamic axis is a name, a torch.export.Dim or None, got {v!r}")


def dynamic_spec(
    example_inputs: Sequence[Any],
    names: Sequence[str],
    dynamic_shapes: Any = None,
    dynamic_axes: Mapping[str, Any] | None = None,
    params: Sequence[str] = (),
) -> dict[str, dict[int, _Axis]]:
    """The user's ``dynamic_axes`` or ``dynamic_shapes`` (or the defaults) as input -> axis -> name.

    ``dynamic_shapes`` may be keyed by ``forward``'s parameter names (``params``) or by the input
    names; ``dynamic_axes`` by the input names.
    """
    torch = import_torch()
    if dynamic_shapes is not None and dynamic_axes is not None:
        raise UsageError("give dynamic_shapes or dynamic_axes, not both")
    ranks = {n: (x.dim() if isinstance(x, torch.Tensor) else 0) for n, x in zip(names, example_inputs)}
    integer = {n: isinstance(x, torch.Tensor) and not x.is_floating_point() for n, x in zip(names, example_inputs)}
    per_input: dict[str, Any] = {}
    if dynamic_axes is not None:
        if not isinstance(dynamic_axes, Mapping):
            raise UsageError("dynamic_axes maps input names to axes: {'signal': {0: 'N', 2: 'L'}}")
        per_input = dict(dynamic_axes)
    elif dynamic_shapes is not None:
        if isinstance(dynamic_shapes, Mapping):
            by_param = dict(zip(params, names))
            per_input = {by_param.get(str(k), str(k)): v for k, v in dynamic_shapes.items()}
        elif isinstance(dynamic_shapes, list | tuple):
            if len(dynamic_shapes) != len(names):
                raise UsageError(f"dynamic_shapes has {len(dynamic_shapes)} entries for {len(names)} example inputs")
            per_input = dict(zip(names, dynamic_shapes))
        else:
            raise UsageError("dynamic_shapes is a dict by input name or a tuple in argument order")
    else:
        defaults = default_dynamic_axes(example_inputs, names)
        return {n: {a: _Axis(nm) for a, nm in axes.items()} for n, axes in zip(names, defaults)}
    unknown = [k for k in per_input if k not in ranks]
    if unknown:
        raise UsageError(
            f"no input named {unknown[0]!r}: the inputs are {', '.join(names)} "
            "(outputs need no dynamic axes: their sizes are inferred)"
        )
    out: dict[str, dict[int, _Axis]] = {}
    for name, axes in per_input.items():
        rank = ranks[name]
        if axes is None:
            continue
        if isinstance(axes, Mapping):
            items = list(axes.items())
        elif isinstance(axes, list | tuple):
            if dynamic_axes is not None:  # dynamic_axes' list form: the dynamic axes themselves
                items = [(a, None) for a in axes]
            else:  # dynamic_shapes' tuple form: one spec per axis
                items = [(a, v) for a, v in enumerate(axes) if v is not None]
        else:
            raise UsageError(f"the dynamic axes of {name!r} are a dict {{axis: name}} or a list")
        spec: dict[int, _Axis] = {}
        for a, v in items:
            if not isinstance(a, int) or not -rank <= a < rank:
                raise UsageError(f"input {name!r} has rank {rank}: no axis {a!r}")
            axis = a % rank
            default = channels_first_name(name, axis, rank, integer[name])
            got = _Axis(default) if v is None and dynamic_axes is not None else _axis_spec(torch, v, default)
            if got is not None:
                spec[axis] = got
        out[name] = spec
    return out


# --------------------------------------------------------------------------- specializations


_Spec = Mapping[str, Mapping[int, "_Axis"]]


@dataclass(frozen=True)
class _Guard:
    expr: str  # "Eq(s53, 64)"
    where: str  # the innermost user line: "model.py:8 in forward: if x.shape[2] == 64:" (or "")
    layer: str = ""  # the innermost submodule whose forward was running ("features.2")
    layer_type: str = ""  # its class ("MaxPool1d")


class _ShapeLog(logging.Handler):
    """torch.export's symbolic-shape log while tracing: which symbol is which input axis, and the
    guard that fixed a symbol to a constant (the last guard added before its replacement), with
    where the Python code was when torch added it (the innermost submodule and the user's line)."""

    _CREATE = re.compile(r"create_symbol (s\d+) = -?\d+ for L\['(\w+)'\]\.size\(\)\[(\d+)\]")
    _GUARD = re.compile(r"(?:eval|runtime_assert) (.+?) \[guard added\]")
    _FIXED = re.compile(r"set_replacement (s\d+) = (-?\d+) ")

    def __init__(self, module: Any, torch_dir: str) -> None:
        super().__init__(logging.INFO)
        self.paths = {id(m): name for name, m in module.named_modules()}
        # the frames that are not the user's: torch, the standard library (logging), graphcheck
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # graphcheck/
        self.skip = (torch_dir, sysconfig.get_paths()["stdlib"] + os.sep, here + os.sep)
        self.symbols: dict[str, tuple[str, int]] = {}  # s53 -> (forward parameter, axis)
        self.fixed: dict[str, tuple[int, _Guard | None]] = {}
        self._last: _Guard | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
            if m := self._CREATE.search(msg):
                self.symbols.setdefault(m.group(1), (m.group(2), int(m.group(3))))
            elif m := self._GUARD.search(msg):
                self._last = _Guard(m.group(1), *self._where())
            elif m := self._FIXED.search(msg):
                self.fixed.setdefault(m.group(1), (int(m.group(2)), self._last))
        except Exception:  # a log format this code does not know: no location, never an error
            return

    def _where(self) -> tuple[str, str, str]:
        """(``net.py:14 in forward: return self.fc(...)``, ``features.2``, ``MaxPool1d``): the innermost
        line outside torch, and the innermost submodule whose forward is running."""
        layer, kind, line = "", "", ""
        frame = sys._getframe()
        while frame is not None and not (layer and line):
            code = frame.f_code
            if not layer and code.co_name == "forward":
                owner = frame.f_locals.get("self")
                path = self.paths.get(id(owner))
                if path:
                    layer, kind = path, type(owner).__name__
            filename = os.path.abspath(code.co_filename)
            if not line and not filename.startswith(self.skip) and not code.co_filename.startswith("<"):
                text = (linecache.getline(code.co_filename, frame.f_lineno) or "").strip()
                line = f"{_shown(filename)}:{frame.f_lineno} in {code.co_name}" + (f": {text}" if text else "")
            frame = frame.f_back  # type: ignore[assignment]
        return line, layer, kind


def _shown(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


@contextmanager
def _shape_log(handler: _ShapeLog) -> Iterator[None]:
    """torch.export's symbolic-shape log records go to ``handler`` only meanwhile (not printed)."""
    log = logging.getLogger(_SHAPES_LOGGER)
    saved = (log.level, log.propagate, list(log.handlers))
    for h in saved[2]:
        log.removeHandler(h)
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]
        for h in saved[2]:
            log.addHandler(h)


def _probe_guards(torch: Any, module: Any, args: tuple[Any, ...], names: list[str], spec: _Spec) -> _ShapeLog:
    """Trace once more with Dim.DYNAMIC (torch.export, non-strict) to learn which guard fixed which size."""
    handler = _ShapeLog(module, os.path.dirname(os.path.abspath(torch.__file__)) + os.sep)
    shapes = tuple({a: torch.export.Dim.DYNAMIC for a in spec.get(n, {})} or None for n in names)
    try:
        with quiet(), _shape_log(handler):
            torch.export.export(module, args, dynamic_shapes=shapes, strict=False)
    except Exception:
        pass  # the specialization is the expected failure; the log has what is needed
    return handler


# --------------------------------------------------------------------------- the exporters

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
    if text.endswith(("!", ":")) and len(lines) > 1:
        text = f"{text} {lines[1]}"
    return text


@dataclass(frozen=True)
class _Result:
    proto: onnx.ModelProto | None
    label: str
    error: str = ""
    pinned: tuple[tuple[str, int, int], ...] = ()  # (input, axis, value) asked dynamic, fixed


def _ranges(proto: onnx.ModelProto) -> dict[str, tuple[int, int | None]]:
    from graphcheck.model.exporter_meta import torch_ranges

    meta = {p.key: p.value for p in proto.metadata_props}
    meta.update({p.key: p.value for p in proto.graph.metadata_props})
    return torch_ranges({RANGE_KEY: meta[RANGE_KEY]} if RANGE_KEY in meta else {})


def _pinned(proto: onnx.ModelProto, spec: Mapping[str, Mapping[int, _Axis]]) -> tuple[tuple[str, int, int], ...]:
    """The asked axes the export fixed: a fixed ONNX dim, or torch.export's declared range [v, v]."""
    asked = {n: {a: ax.name for a, ax in axes.items()} for n, axes in spec.items()}
    out = dict(fixed_asked_axes(proto, asked))
    ranges = _ranges(proto)
    for vi in proto.graph.input:
        for a in asked.get(vi.name, {}):
            dims = vi.type.tensor_type.shape.dim
            if a < len(dims) and dims[a].dim_param in ranges:
                lo, hi = ranges[dims[a].dim_param]
                if hi is not None and lo == hi:
                    out[(vi.name, a)] = hi
    return tuple((n, a, v) for (n, a), v in sorted(out.items()))


def _run_dynamo(
    torch: Any,
    module: Any,
    args: tuple[Any, ...],
    names: list[str],
    spec: Mapping[str, Mapping[int, _Axis]],
    mode: str,
    opset: int | None,
) -> _Result:
    """One torch.export + torch.onnx export; ``mode``: ``"user"`` (the user's Dims), ``"DYNAMIC"``, ``"AUTO"``."""
    dim = torch.export.Dim

    def one(axis: _Axis) -> Any:
        if mode == "user" and axis.dim is not None:
            return axis.dim
        return dim.AUTO if mode == "AUTO" else dim.DYNAMIC

    shapes = tuple({a: one(ax) for a, ax in spec.get(n, {}).items()} or None for n in names)
    label = "torch.onnx dynamo (torch.export, " + ("the user's Dims" if mode == "user" else f"Dim.{mode}") + ")"
    try:
        with quiet():
            program = torch.onnx.export(
                module,
                args,
                dynamo=True,
                input_names=names,
                dynamic_shapes=shapes,
                opset_version=opset or DYNAMO_OPSET,
                external_data=False,
                verbose=False,
            )
    except Exception as exc:
        return _Result(None, label, _reason(exc))
    if program is None:
        return _Result(None, label, "torch.onnx.export returned no program")
    proto = program.model_proto
    return _Result(proto, label, pinned=_pinned(proto, spec))


def _run_legacy(
    torch: Any,
    module: Any,
    args: tuple[Any, ...],
    names: list[str],
    spec: Mapping[str, Mapping[int, _Axis]],
    opset: int | None,
) -> _Result:
    import onnx

    label = "torch.onnx legacy (TorchScript)"
    axes = {n: {a: ax.name for a, ax in spec[n].items()} for n in names if spec.get(n)}
    buf = io.BytesIO()
    try:
        with quiet():
            torch.onnx.export(
                module,
                args,
                buf,
                dynamo=False,
                input_names=names,
                dynamic_axes=axes,
                opset_version=opset or LEGACY_OPSET,
            )
    except Exception as exc:
        return _Result(None, label, _reason(exc))
    proto = onnx.load_model_from_string(buf.getvalue())
    _name_outputs(proto)
    return _Result(proto, label, pinned=_pinned(proto, spec))


def _name_outputs(proto: onnx.ModelProto) -> None:
    """The legacy exporter names outputs by value number (``13``): ``output``, ``output_1``, ..."""
    outs = [o for o in proto.graph.output if o.name.isdigit()]
    taken = {o.name for o in proto.graph.output} | {i.name for i in proto.graph.input}
    mapping: dict[str, str] = {}
    for k, o in enumerate(outs):
        new = "output" if len(outs) == 1 else f"output_{k}"
        if new in taken:
            continue
        mapping[o.name] = new
    rename_values(proto, mapping)


def export(
    module: Any,
    example_inputs: Any,
    *,
    dynamic_shapes: Any = None,
    dynamic_axes: Mapping[str, Any] | None = None,
    exporter: str = "dynamo",
    opset: int | None = None,
    input_names: Sequence[str] | None = None,
    fallback: bool = True,
) -> Exported:
    """The module as torch.onnx exports it (in memory), sizes named, through the fallback chain.

    ``fallback=False`` keeps to the exporter asked (for dynamo: its Dim specs one after the other).
    """
    torch = import_torch()
    if exporter not in ("dynamo", "legacy"):
        raise UsageError(f"exporter must be 'dynamo' or 'legacy', got {exporter!r}")
    args = tuple(example_inputs) if isinstance(example_inputs, list | tuple) else (example_inputs,)
    names = _input_names(module, len(args), input_names)
    params = _forward_params(module)
    spec = dynamic_spec(args, names, dynamic_shapes, dynamic_axes, params)
    has_user_dims = any(ax.dim is not None for axes in spec.values() for ax in axes.values())
    dynamo_modes = (["user"] if has_user_dims else []) + ["DYNAMIC", "AUTO"]
    chain: list[tuple[str, str]] = [("dynamo", m) for m in dynamo_modes]
    chain = [("legacy", ""), *chain] if exporter == "legacy" else [*chain, ("legacy", "")]
    if not fallback:
        chain = [c for c in chain if c[0] == exporter]
    results: list[_Result] = []
    was_training = bool(getattr(module, "training", False))
    module.eval()
    try:
        for kind, mode in chain:
            if kind == "dynamo":
                r = _run_dynamo(torch, module, args, names, spec, mode, opset)
            else:
                r = _run_legacy(torch, module, args, names, spec, opset)
            results.append(r)
            if r.proto is not None and not r.pinned:
                break
    finally:
        module.train(was_training)
    exported = [r for r in results if r.proto is not None]
    if not exported:
        first = results[0]
        raise GraphcheckError(f"torch.onnx.export ({exporter}) failed for {type(module).__name__}: {first.error}")
    chosen = min(exported, key=lambda r: len(r.pinned))  # the first that keeps the most axes dynamic
    assert chosen.proto is not None
    proto = chosen.proto
    wanted = {(n, a): ax.name for n, axes in spec.items() for a, ax in axes.items()}
    rename_input_dims(
        proto,
        lambda n, a, r, i: wanted.get((n, a)) or channels_first_name(n, a, r, i),
        lambda p: GENERATED.match(p) is not None,
        keep={(n, a): ax.name for n, axes in spec.items() for a, ax in axes.items() if ax.named},
    )
    asked = {n: {a: ax.name for a, ax in axes.items()} for n, axes in spec.items()}
    relaxed = {f"{n}:{a}": wanted[(n, a)] for n, a in fixed_asked_axes(proto, asked)}
    attempts = tuple(Attempt(r.label, "used" if r is chosen else _outcome(r)) for r in results)
    specialized: tuple[Specialized, ...] = ()
    if any(r.label.startswith("torch.onnx dynamo") and (r.pinned or _is_specialization(r.error)) for r in results):
        module.eval()
        try:
            log = _probe_guards(torch, module, args, names, spec)
        finally:
            module.train(was_training)
        specialized = _specializations(log, results, names, params, wanted)
    return Exported(
        proto,
        framework_info(module),
        f"{chosen.label}, torch {torch.__version__.split('+')[0]}, opset {_opset(proto)}",
        attempts,
        specialized,
        relaxed,
    )


def _is_specialization(error: str) -> bool:
    return any(key in error for key in _SPECIALIZED)


def _outcome(r: _Result) -> str:
    if r.proto is None:
        return f"failed: {r.error}"
    fixed = ", ".join(f"{n}:{a} = {v}" for n, a, v in r.pinned)
    return f"specialized {fixed}"


def _opset(proto: onnx.ModelProto) -> int:
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)


def _specializations(
    log: _ShapeLog,
    results: Sequence[_Result],
    names: Sequence[str],
    params: Sequence[str],
    wanted: Mapping[tuple[str, int], str],
) -> tuple[Specialized, ...]:
    """Each asked axis torch.export fixed, with its guard in the report's names and its source line."""
    by_param = dict(zip(params, names))
    sym_names = {s: wanted.get((by_param.get(p, p), a), s) for s, (p, a) in log.symbols.items()}
    pattern = re.compile(r"\bs\d+\b")
    out: dict[tuple[str, int], Specialized] = {}
    for s, (value, guard) in log.fixed.items():
        if s not in log.symbols:
            continue
        p, axis = log.symbols[s]
        name = by_param.get(p, p)
        if (name, axis) not in wanted:
            continue
        expr = pattern.sub(lambda m: sym_names.get(m.group(0), m.group(0)), guard.expr) if guard else ""
        out.setdefault(
            (name, axis),
            Specialized(
                wanted[(name, axis)],
                name,
                axis,
                value,
                "torch.export",
                expr,
                guard.where if guard else "",
                guard.layer if guard else "",
                guard.layer_type if guard else "",
            ),
        )
    # a fixed axis whose guard was not logged (another torch version's log format): still reported
    for r in results:
        for name, axis, value in r.pinned:
            if r.label.startswith("torch.onnx dynamo") and (name, axis) not in out:
                out[(name, axis)] = Specialized(wanted[(name, axis)], name, axis, value, "torch.export")
    return tuple(out.values())


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
    fallback: bool = True,
) -> FrontendReport:
    """Analyse a PyTorch module; findings name its submodules (``d.layer == "features.3"``).

    ``example_inputs``: a tensor or a tuple of tensors (positional arguments of ``forward``).
    ``dynamic_shapes`` / ``dynamic_axes``: which sizes are dynamic and their names, for either
    exporter (see the module doc); without them the defaults apply. ``input_names`` default to
    ``forward``'s parameter names. ``dims`` fixes or renames sizes as in :func:`graphcheck.check`.
    ``fallback=False``: no other exporter than the one asked (for dynamo, the user's Dims,
    ``Dim.DYNAMIC`` and ``Dim.AUTO`` are still tried in turn).
    """
    check_semantics(semantics)
    dmap = normalize_dims(dims)
    exported = export(
        module,
        example_inputs,
        dynamic_shapes=dynamic_shapes,
        dynamic_axes=dynamic_axes,
        exporter=exporter,
        opset=opset,
        input_names=input_names,
        fallback=fallback,
    )
    return frontend_report(exported, dmap, semantics=semantics)


# the analysis of an export from :func:`export` (what :func:`check` returns): the front ends' shared step
report_for = frontend_report
