"""Check a JAX function or Flax module: exported by jax2onnx in memory, answered in its module paths.

>>> import graphcheck.jax
>>> report = graphcheck.jax.check(model, (jnp.zeros((1, 64, 1)),))    # a flax.nnx.Module, or a function
>>> report.valid                                                      # 'x_len >= 38   (batch: any >= 1)'
>>> report.diagnostics[0].layer, report.diagnostics[0].layer_type
('conv_a', 'Conv')

``fn`` is called as ``fn(*example_args)``; ``example_args`` are arrays or ``jax.ShapeDtypeStruct``\\ s
(only their shapes and dtypes are used). ``dynamic`` says which sizes are dynamic and their names:
``{1: "L"}`` (one input), ``[{0: "N", 1: "L"}, None]`` (per input) or ``{"signal": {1: "L"}}`` (by
input name). Without it, every float input of rank >= 3 gets a dynamic batch (axis 0) and dynamic
spatial axes (1 .. rank-2: Flax is channels last), a rank-2 integer input (token ids) both axes, any
other input its batch; the names come from the input (``batch``, ``x_len``, ``image_h``/``image_w``).
Input names default to ``fn``'s parameter names (``__call__``'s for a module).

Findings name the Flax NNX submodules by their path (``block.conv``, ``layers.0``): while exporting,
each submodule's call runs through a frame named after its path, and jax2onnx's per-node JAX
traceback (``JAX2ONNX_ENABLE_STACKTRACE_METADATA``) says which frames a node came from; the node
then carries ``pkg.graphcheck.layer``. A function that closes over a module names it too when the
module is passed as ``module=``.

**Fallback.** When jax2onnx cannot trace with symbolic sizes (a shape-polymorphism error), the
function is exported at the example's sizes and the asked axes are analysed as their symbols all
the same (GC108 says so; constants the trace baked in then show as pinned sizes).
jax, flax and jax2onnx are imported only when ``check`` is called (``pip install 'graphcheck[jax]'``).
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import sysconfig
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from graphcheck.errors import GraphcheckError, UsageError
from graphcheck.frontends.contract import (
    Attempt,
    Exported,
    FrontendReport,
    Specialized,
    check_semantics,
    dim_name,
    frontend_report,
    missing,
    normalize_dims,
    plain_config,
)
from graphcheck.model.layers import LAYER_KEY, FrameworkInfo, LayerInfo

if TYPE_CHECKING:
    import onnx

__all__ = ["check", "export", "framework_info", "report_for", "DEFAULT_OPSET"]

DEFAULT_OPSET = 21

# the attributes of Flax modules that decide sizes
CONFIG_KEYS = (
    "kernel_size",
    "strides",
    "padding",
    "input_dilation",
    "kernel_dilation",
    "feature_group_count",
    "in_features",
    "out_features",
    "num_embeddings",
    "features",
    "window_shape",
    "num_heads",
    "qkv_features",
)

_SCOPE = "<graphcheck-module:"
_SCOPE_RE = re.compile(r"<graphcheck-module:([^>]*)>")
_TRACE_KEYS = ("pkg.jax2onnx.jax_traceback", "pkg.jax2onnx.stacktrace", "pkg.jax2onnx.callsite", "pkg.jax2onnx.plugin")
_LOGGERS = ("jax2onnx", "jax", "absl", "onnx_ir")


def _import() -> tuple[Any, Any, Any]:
    try:
        import jax
        import jax2onnx
    except ImportError as exc:
        raise missing("jax", "jax, flax and jax2onnx", "jax", exc) from None
    nnx: Any = None
    try:
        from flax import nnx
    except ImportError:  # plain JAX functions need no Flax
        pass
    return jax, jax2onnx, nnx


@contextmanager
def _quiet_and_traced() -> Iterator[None]:
    """jax2onnx's per-node JAX tracebacks on, its log lines and warnings off, meanwhile."""
    env = {"JAX2ONNX_ENABLE_STACKTRACE_METADATA": "1", "JAX2ONNX_STACKTRACE_DETAIL": "full"}
    saved_env = {k: os.environ.get(k) for k in env}
    saved_levels = {name: logging.getLogger(name).level for name in _LOGGERS}
    os.environ.update(env)
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


# --------------------------------------------------------------------------- modules and names


def _root_module(fn: Any, module: Any, nnx: Any) -> Any:
    """The Flax NNX module whose submodules name the findings: ``module=``, ``fn`` itself, or the
    module a bound method or ``functools.partial`` carries."""
    if nnx is None:
        return None
    for cand in (module, fn, getattr(fn, "__self__", None), getattr(fn, "func", None)):
        if isinstance(cand, nnx.Module):
            return cand
    for arg in getattr(fn, "args", ()) or ():
        if isinstance(arg, nnx.Module):
            return arg
    return None


def _submodules(root: Any, nnx: Any) -> list[tuple[str, Any]]:
    out = []
    for path, node in nnx.iter_graph(root):
        if path and isinstance(node, nnx.Module):
            out.append((".".join(str(p) for p in path), node))
    return out


def framework_info(root: Any, name: str = "") -> FrameworkInfo:
    """Each Flax NNX submodule's class and size-relevant attributes, by its path (``block.conv``)."""
    _, _, nnx = _import()
    layers: dict[str, LayerInfo] = {}
    if root is not None and nnx is not None:
        for path, mod in _submodules(root, nnx):
            attrs = {k: getattr(mod, k) for k in CONFIG_KEYS if hasattr(mod, k)}
            layers[path] = LayerInfo(type(mod).__name__, plain_config(attrs, CONFIG_KEYS))
    return FrameworkInfo("jax", layers, name or (type(root).__name__ if root is not None else ""))


@contextmanager
def _scoped_calls(root: Any, nnx: Any) -> Iterator[None]:
    """Each submodule's ``__call__`` runs through a frame whose file is ``<graphcheck-module:PATH>``
    meanwhile (its class swapped for a subclass; restored afterwards)."""
    swapped: list[tuple[Any, type]] = []
    try:
        for path, mod in _submodules(root, nnx) if root is not None else []:
            cls: Any = type(mod)
            meta: Any = type(cls)  # nnx's metaclass
            src = "def __call__(self, *args, **kwargs):\n    return _base.__call__(self, *args, **kwargs)\n"
            scope: dict[str, Any] = {}
            exec(compile(src, f"{_SCOPE}{path}>", "exec"), {"_base": cls}, scope)
            sub = meta(cls.__name__, (cls,), {"__call__": scope["__call__"], "__module__": cls.__module__})
            object.__setattr__(mod, "__class__", sub)
            swapped.append((mod, cls))
        yield
    finally:
        for mod, cls in swapped:
            object.__setattr__(mod, "__class__", cls)


def _name_nodes(proto: onnx.ModelProto) -> None:
    """Each node's innermost module path (from its JAX traceback) as ``pkg.graphcheck.layer``; the
    bulky traceback metadata dropped."""
    graphs = [proto.graph, *(f for f in proto.functions)]
    for g in graphs:
        for node in g.node:
            props = list(node.metadata_props)
            trace = next((p.value for p in props if p.key == "pkg.jax2onnx.jax_traceback"), "")
            m = _SCOPE_RE.search(trace)  # innermost frame first
            del node.metadata_props[:]
            for p in props:
                if p.key not in _TRACE_KEYS:
                    node.metadata_props.add(key=p.key, value=p.value)
            if m:
                node.metadata_props.add(key=LAYER_KEY, value=m.group(1))


# --------------------------------------------------------------------------- the dynamic spec


def _params(fn: Any) -> list[str]:
    target = fn.__call__ if not inspect.isfunction(fn) and not inspect.ismethod(fn) and callable(fn) else fn
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds]


def _shapes(jax: Any, example_args: Sequence[Any]) -> list[tuple[tuple[int, ...], Any]]:
    out = []
    for a in example_args:
        shape, dtype = getattr(a, "shape", None), getattr(a, "dtype", None)
        if shape is None or dtype is None:
            raise UsageError(f"example_args: expected arrays or jax.ShapeDtypeStruct, got {type(a).__name__}")
        out.append((tuple(int(d) for d in shape), jax.numpy.dtype(dtype)))
    return out


def _default_axes(shape: tuple[int, ...], integer: bool, floating: bool) -> list[int]:
    rank = len(shape)
    if rank == 0:
        return []
    if floating and rank >= 3:
        return [0, *range(1, rank - 1)]
    if integer and rank == 2:
        return [0, 1]
    return [0]


def dynamic_spec(
    names: Sequence[str], shapes: Sequence[tuple[tuple[int, ...], Any]], dynamic: Any = None
) -> list[dict[int, str]]:
    """Per input, the dynamic axes and their names (see the module doc for the forms of ``dynamic``)."""
    per_input: list[Any]
    if dynamic is None:
        out = []
        for name, (shape, dtype) in zip(names, shapes):
            integer, floating = dtype.kind in "iu", dtype.kind in "fc"
            axes = _default_axes(shape, integer, floating)
            out.append({a: dim_name(name, a, len(shape), integer) for a in axes})
        return out
    if isinstance(dynamic, Mapping) and dynamic and all(isinstance(k, str) for k in dynamic):
        unknown = [k for k in dynamic if k not in names]
        if unknown:
            raise UsageError(f"no input named {unknown[0]!r}: the inputs are {', '.join(names)}")
        per_input = [dynamic.get(n) for n in names]
    elif isinstance(dynamic, Mapping):
        if len(names) != 1:
            raise UsageError("with several inputs, dynamic is a list (one entry per input) or a dict by input name")
        per_input = [dynamic]
    elif isinstance(dynamic, list | tuple):
        if len(dynamic) != len(names):
            raise UsageError(f"dynamic has {len(dynamic)} entries for {len(names)} inputs")
        per_input = list(dynamic)
    else:
        raise UsageError("dynamic is {axis: name}, a list of them per input, or a dict by input name")
    out = []
    for name, (shape, dtype), axes in zip(names, shapes, per_input):
        rank = len(shape)
        spec: dict[int, str] = {}
        items = axes.items() if isinstance(axes, Mapping) else ((a, None) for a in (axes or ()))
        for a, v in items:
            if not isinstance(a, int) or not -rank <= a < rank:
                raise UsageError(f"input {name!r} has rank {rank}: no axis {a!r}")
            nm = v if v is not None else dim_name(name, a % rank, rank, dtype.kind in "iu")
            if not isinstance(nm, str) or not nm.isidentifier():
                raise UsageError(f"a dynamic size's name must be an identifier, got {nm!r}")
            spec[a % rank] = nm
        out.append(spec)
    return out


# --------------------------------------------------------------------------- export


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0].rstrip(".") if lines else type(exc).__name__


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _user_frame(exc: BaseException) -> str:
    """The innermost frame of the traceback outside installed packages, the standard library and
    graphcheck: ``model.py:12 in __call__: if x.shape[1] > 32:``."""
    graphcheck_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the package, not only frontends/
    skip = (sysconfig.get_paths()["stdlib"] + os.sep, graphcheck_dir + os.sep)
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = os.path.abspath(frame.filename)
        if path.startswith(skip) or f"{os.sep}site-packages{os.sep}" in path or frame.filename.startswith("<"):
            continue
        rel = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path
        line = (frame.line or "").strip()
        return f"{rel}:{frame.lineno} in {frame.name}" + (f": {line}" if line else "")
    return ""


def export(
    fn: Any,
    example_args: Any,
    *,
    dynamic: Any = None,
    input_names: Sequence[str] | None = None,
    module: Any = None,
    opset: int | None = None,
    name: str = "",
) -> Exported:
    """``fn`` as jax2onnx exports it (in memory), its sizes named, its Flax modules mapped to nodes."""
    jax, jax2onnx, nnx = _import()
    args = tuple(example_args) if isinstance(example_args, list | tuple) else (example_args,)
    shapes = _shapes(jax, args)
    if input_names is not None:
        names = list(input_names)
        if len(names) != len(args):
            raise UsageError(f"input_names has {len(names)} names for {len(args)} example inputs")
    else:
        params = _params(fn)
        names = params[: len(args)] if len(params) >= len(args) else [f"input_{i}" for i in range(len(args))]
    spec = dynamic_spec(names, shapes, dynamic)
    root = _root_module(fn, module, nnx)
    model_name = name or (type(root).__name__ if root is not None else getattr(fn, "__name__", "") or "jax_model")
    target = opset or DEFAULT_OPSET
    versions = f"jax2onnx {_version(jax2onnx)}, jax {jax.__version__}, opset {target}"
    symbolic = [
        jax.ShapeDtypeStruct(tuple(axes.get(a, d) for a, d in enumerate(shape)), dtype)
        for (shape, dtype), axes in zip(shapes, spec)
    ]
    fixed = [jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in shapes]
    attempts: list[Attempt] = []
    proto = None
    relaxed: dict[str, str] = {}
    failure: tuple[str, str] | None = None  # the symbolic trace's error and the user's line
    for label, inputs in (("jax2onnx (symbolic sizes)", symbolic), ("jax2onnx (the example's sizes)", fixed)):
        try:
            with _quiet_and_traced(), _scoped_calls(root, nnx):
                proto = jax2onnx.to_onnx(fn, inputs, input_names=names, model_name=model_name, opset=target)
        except Exception as exc:
            attempts.append(Attempt(label, f"failed: {_reason(exc)}"))
            failure = failure or (_first_line(exc), _user_frame(exc))
            continue
        attempts.append(Attempt(label, "used"))
        if inputs is fixed:
            relaxed = {f"{n}:{a}": sym for n, axes in zip(names, spec) for a, sym in axes.items()}
        break
    if proto is None:
        raise GraphcheckError(f"jax2onnx could not export {model_name}: {attempts[0].outcome[8:]}")
    _name_nodes(proto)
    guard, where = failure or ("", "")
    specialized = tuple(
        Specialized(sym, n, a, shapes[i][0][a], "jax2onnx", guard, where)
        for i, (n, axes) in enumerate(zip(names, spec))
        for a, sym in axes.items()
        if relaxed
    )
    label = next(a.exporter for a in attempts if a.outcome == "used")
    return Exported(
        proto,
        framework_info(root, model_name),
        f"{label}, {versions}",
        tuple(attempts),
        specialized,
        relaxed,
    )


def _version(mod: Any) -> str:
    v = getattr(mod, "__version__", None)
    if v:
        return str(v)
    try:
        from importlib.metadata import version

        return version(mod.__name__)
    except Exception:
        return "?"


def check(
    fn: Any,
    example_args: Any,
    *,
    dynamic: Any = None,
    input_names: Sequence[str] | None = None,
    module: Any = None,
    opset: int | None = None,
    dims: Mapping[str, int | str] | Sequence[str] | None = None,
    semantics: str = "spec",
) -> FrontendReport:
    """Analyse a JAX function or Flax NNX module; findings name its submodules (``d.layer == "conv_a"``).

    ``example_args``: the positional arguments of ``fn`` (arrays or ``jax.ShapeDtypeStruct``).
    ``dynamic``: which axes are dynamic and their names (module doc). ``module``: the Flax module
    whose submodules name the findings when ``fn`` is a function around it. ``dims`` fixes or
    renames sizes as in :func:`graphcheck.check`.
    """
    check_semantics(semantics)
    dmap = normalize_dims(dims)
    exported = export(fn, example_args, dynamic=dynamic, input_names=input_names, module=module, opset=opset)
    return frontend_report(exported, dmap, semantics=semantics)


# the analysis of an export from :func:`export` (what :func:`check` returns): the front ends' shared step
report_for = frontend_report
