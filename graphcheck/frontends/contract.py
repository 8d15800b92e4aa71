"""What the Keras and PyTorch front ends share: size names, dim renaming, layer configurations.

An exporter names the dynamic sizes it cannot name itself: tf2onnx ``unk__67``, torch.export
``s77``, the legacy torch exporter ``input_dynamic_axes_1``. The front ends give them the names a
person would use, from the input's name and the axis: axis 0 is ``batch``; the steps axis of a
``(batch, steps, channels)`` input is ``signal_len``; a 4-D input's spatial axes are ``image_h`` and
``image_w``; other axes ``name_<axis>``. The renaming is done on the ``ModelProto`` before the
analysis, everywhere the exporter wrote the symbol (inputs, outputs, value infos and torch.export's
declared ranges), so a size the exporter tied across inputs stays tied.

The contract every front end follows (``graphcheck.keras``, ``graphcheck.torch``, ``graphcheck.jax``):

1. **export** the live model in memory into an :class:`Exported`: the ``ModelProto``, the framework's
   layer names and configurations (:class:`~graphcheck.model.layers.FrameworkInfo`, the name map),
   which exporter produced the graph and every exporter tried before it (:class:`Attempt`);
2. **symbol names**: a size the user named keeps that name (``"L"``, ``Dim("L")``); every other
   dynamic size is named from its input (:func:`dim_name`); an exporter's generated names
   (``unk__68``, ``s77``) never reach the report;
3. **fallbacks**: when an exporter fails, or fixes a size the user asked to be dynamic, the next
   exporter of the front end's chain is tried; a size no exporter kept dynamic is analysed as the
   user's symbol all the same (the fixed axis made symbolic, as ``--dim input:axis=NAME`` does) and
   reported as a GC108 finding naming the source line the framework gave (:class:`Specialized`);
4. **report**: :func:`frontend_report` returns a :class:`FrontendReport`, the report of
   :func:`graphcheck.check` plus ``exporter``/``attempts``, the exporter findings, and axis names in
   the framework's terms (a Keras ``Conv1D``'s steps are its ``length``).
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from graphcheck.api import Report
from graphcheck.errors import GraphcheckError, UsageError
from graphcheck.model.dimnames import INT_ELEM_TYPES, dim_name, ident
from graphcheck.model.layers import FrameworkInfo, LayerInfo
from graphcheck.report.diagnostics import Diagnostic, exporter_diagnostic

if TYPE_CHECKING:
    import onnx

    from graphcheck.infer.engine import Analysis

__all__ = [
    "Attempt",
    "Specialized",
    "Exported",
    "Converted",
    "FrontendReport",
    "frontend_report",
    "file_report",
    "provenance_dict",
    "converted_from_dict",
    "rename_values",
    "symbolic_axes",
    "fixed_asked_axes",
    "normalize_dims",
    "check_semantics",
    "dim_name",
    "rename_input_dims",
    "plain_config",
    "missing",
    "mute_stderr",
]

RANGE_KEY = "pkg.torch.export.ExportedProgram.range_constraints"


def missing(frontend: str, packages: str, extra: str, exc: BaseException) -> GraphcheckError:
    """The one-line error when a front end's framework is not installed."""
    what = getattr(exc, "name", None) or str(exc)
    return GraphcheckError(
        f"graphcheck.{frontend} needs {packages} ({what} is not importable): pip install 'graphcheck[{extra}]'"
    )


@contextmanager
def mute_stderr() -> Iterator[None]:
    """File descriptor 2 to /dev/null meanwhile: C++ log lines (TensorFlow's grappler) included.

    Exceptions still propagate; the front ends turn them into one-line errors.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (embedded interpreters): nothing to mute
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def check_semantics(semantics: str) -> None:
    if semantics not in ("spec", "ort"):
        raise UsageError(f"semantics must be 'spec' or 'ort', got {semantics!r}")


def normalize_dims(dims: Mapping[str, int | str] | Sequence[str] | None) -> dict[str, int | str]:
    """``{"batch": 1}`` or the CLI's ``["batch=1", "signal:1=L"]`` as one mapping."""
    from graphcheck.infer.engine import parse_dims

    if dims is None:
        return {}
    if isinstance(dims, Mapping):
        return dict(dims)
    if isinstance(dims, str):
        return parse_dims([dims])
    return parse_dims(list(dims))


_ident = ident
_INT_ELEM_TYPES = INT_ELEM_TYPES


def _input_dims(model: onnx.ModelProto) -> list[tuple[str, int, list[onnx.TensorShapeProto.Dimension]]]:
    inits = {t.name for t in model.graph.initializer}
    out = []
    for vi in model.graph.input:
        if vi.name in inits or not vi.type.HasField("tensor_type"):
            continue
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            continue
        out.append((vi.name, tt.elem_type, list(tt.shape.dim)))
    return out


def rename_input_dims(
    model: onnx.ModelProto,
    namer: Callable[[str, int, int, bool], str],
    renamable: Callable[[str], bool],
    tie_batch: bool = False,
    keep: Mapping[tuple[str, int], str] | None = None,
) -> dict[str, str]:
    """Give the exporter's generated size names readable ones, in place; returns old -> new.

    ``renamable(dim_param)`` says which names are the exporter's own (``unk__67``, ``s77``); a
    dimension with neither a value nor a name is named too. A symbol is renamed everywhere it
    occurs, after its first occurrence in the inputs. ``tie_batch`` gives every input's axis 0
    the one name ``batch`` (Keras: a model's inputs share the batch); otherwise a second input's
    distinct batch symbol is ``<input>_batch``. ``keep`` maps ``(input, axis)`` to a name the user
    gave: used as it is (two axes the user gave one name share it).
    """
    keep = keep or {}
    taken = {d.dim_param for _, _, dims in _input_dims(model) for d in dims if d.dim_param}
    taken |= {
        d.dim_param
        for vi in model.graph.output
        if vi.type.HasField("tensor_type")
        for d in vi.type.tensor_type.shape.dim
        if d.dim_param
    }
    mapping: dict[str, str] = {}
    used: set[str] = {t for t in taken if not renamable(t)}

    def fresh(base: str, input_name: str) -> str:
        name = base
        if name in used and base == "batch":
            name = f"{_ident(input_name)}_batch"
        k = 2
        stem = name
        while name in used:
            name = f"{stem}_{k}"
            k += 1
        used.add(name)
        return name

    for input_name, elem_type, dims in _input_dims(model):
        rank = len(dims)
        integer = elem_type in _INT_ELEM_TYPES
        for axis, d in enumerate(dims):
            if d.HasField("dim_value"):
                continue
            old = d.dim_param
            if old and (not renamable(old) or old in mapping):
                continue  # the user's own name, or a symbol already named at its first occurrence
            base = namer(input_name, axis, rank, integer)
            if (input_name, axis) in keep:
                name = keep[(input_name, axis)]
                used.add(name)
            elif tie_batch and base == "batch":
                used.add(base)
                name = base
            else:
                name = fresh(base, input_name)
            if old:
                mapping[old] = name
            else:
                d.dim_param = name
    if mapping:
        _apply(model, mapping)
    return mapping


def _apply(model: onnx.ModelProto, mapping: Mapping[str, str]) -> None:
    pattern = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)) + r")\b")

    def sub(text: str) -> str:
        return pattern.sub(lambda m: mapping[m.group(1)], text)

    for vis in (model.graph.input, model.graph.output, model.graph.value_info):
        for vi in vis:
            if not vi.type.HasField("tensor_type"):
                continue
            for d in vi.type.tensor_type.shape.dim:
                if d.dim_param:
                    d.dim_param = sub(d.dim_param)
    # torch.export's declared ranges name the same symbols ({s77: VR[1, int_oo], ...})
    for props in (model.metadata_props, model.graph.metadata_props):
        for p in props:
            if p.key == RANGE_KEY:
                p.value = sub(p.value)


def rename_values(model: onnx.ModelProto, mapping: Mapping[str, str]) -> None:
    """Rename graph values (inputs, outputs, node inputs/outputs, value infos) in place: ``old -> new``."""
    if not mapping:
        return
    g = model.graph
    for vis in (g.input, g.output, g.value_info):
        for vi in vis:
            vi.name = mapping.get(vi.name, vi.name)
    for t in g.initializer:
        t.name = mapping.get(t.name, t.name)
    for node in g.node:
        for i, name in enumerate(node.input):
            if name in mapping:
                node.input[i] = mapping[name]
        for i, name in enumerate(node.output):
            if name in mapping:
                node.output[i] = mapping[name]


def symbolic_axes(dims: Mapping[str, int | str]) -> list[str]:
    """The ``input:axis`` keys that ``dims`` makes symbolic (exported as dynamic)."""
    return [k for k, v in dims.items() if isinstance(v, str) and re.fullmatch(r".+:\d+", k)]


def plain_value(v: object) -> object:
    """A configuration value as plain data: ints, floats, strings, bools, tuples of them, or None."""
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, list | tuple):
        return tuple(plain_value(x) for x in v)
    try:
        return int(v)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return repr(v)


def plain_config(items: Mapping[str, object], keys: Sequence[str]) -> dict[str, object]:
    """The size-relevant subset of a layer's configuration, as plain data."""
    return {k: plain_value(items[k]) for k in keys if k in items}


# --------------------------------------------------------------------------- the shared contract


@dataclass(frozen=True)
class Attempt:
    """One exporter tried: ``"dynamo (Dim.DYNAMIC)"`` and what came of it (``"used"``, the reason not)."""

    exporter: str
    outcome: str
    # a failure that is the exporter's known route for this kind of model and changes nothing in what is
    # analysed (tf2onnx's from_keras on a Keras 3 Sequential, whose call from_function traces the same):
    # said in the "exported by" line, not a GC109 finding
    expected: bool = False


@dataclass(frozen=True)
class Specialized:
    """A size the user asked to be dynamic that an exporter fixed, and where the framework says why."""

    symbol: str  # the size's name in the report ("L")
    input: str
    axis: int
    value: int  # the size it was fixed to (the example's)
    exporter: str  # which exporter fixed it ("torch.export (Dim.DYNAMIC)")
    guard: str = ""  # the condition that fixed it, in the report's names ("Eq(L - 10, 54)")
    where: str = ""  # the source line ("model.py:12 in forward: if x.shape[2] == 64") or ""
    layer: str = ""  # the layer the framework was in when it fixed it ("features.2"), when known
    layer_type: str = ""  # its class ("MaxPool1d")


@dataclass(frozen=True, eq=False)
class Exported:
    """What a front end's export step hands to the analysis (see the module doc)."""

    proto: onnx.ModelProto
    info: FrameworkInfo  # the name map: layer names, classes and configurations
    exporter: str  # the exporter that produced the analysed graph, with versions
    attempts: tuple[Attempt, ...] = ()
    specialized: tuple[Specialized, ...] = ()
    relaxed: Mapping[str, str] = field(default_factory=dict)  # {"signal:2": "L"}: fixed axes analysed as symbols


@dataclass(frozen=True, eq=False)
class Converted:
    """A model file of another framework converted to ONNX (:mod:`graphcheck.frontends.files`): the
    converted file (in the conversion cache) and, as for :class:`Exported`, how it was made."""

    path: str  # the converted ONNX file
    source: str  # the user's file ("model.keras")
    what: str  # "Keras 3 model"
    info: FrameworkInfo
    exporter: str
    attempts: tuple[Attempt, ...] = ()
    specialized: tuple[Specialized, ...] = ()
    relaxed: Mapping[str, str] = field(default_factory=dict)


def provenance_dict(exported: Exported) -> dict[str, object]:
    """What :class:`Converted` needs besides the ONNX file, as JSON-ready data (the converter's output)."""
    return {
        "exporter": exported.exporter,
        "attempts": [[a.exporter, a.outcome] for a in exported.attempts],
        "specialized": [asdict(s) for s in exported.specialized],
        "relaxed": dict(exported.relaxed),
        "info": {
            "framework": exported.info.framework,
            "model_name": exported.info.model_name,
            "layers": {name: [lay.kind, dict(lay.config)] for name, lay in exported.info.layers.items()},
        },
    }


def _tuples(v: object) -> object:
    """JSON's lists back into the tuples :func:`plain_value` makes."""
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


def converted_from_dict(d: Mapping[str, Any], path: str, source: str, what: str) -> Converted:
    """The inverse of :func:`provenance_dict`, for the converted file at ``path``."""
    info = d["info"]
    layers = {
        str(name): LayerInfo(str(kind), {str(k): _tuples(v) for k, v in config.items()})
        for name, (kind, config) in info["layers"].items()
    }
    return Converted(
        path,
        source,
        what,
        FrameworkInfo(str(info["framework"]), layers, str(info["model_name"])),
        str(d["exporter"]),
        tuple(Attempt(str(e), str(o)) for e, o in d["attempts"]),
        tuple(Specialized(**s) for s in d["specialized"]),
        {str(k): str(v) for k, v in d["relaxed"].items()},
    )


def fixed_asked_axes(proto: onnx.ModelProto, asked: Mapping[str, Mapping[int, str]]) -> dict[tuple[str, int], int]:
    """The axes asked to be dynamic that the exported graph has fixed: (input, axis) -> size."""
    out: dict[tuple[str, int], int] = {}
    for vi in proto.graph.input:
        axes = asked.get(vi.name)
        if not axes or not vi.type.HasField("tensor_type"):
            continue
        dims = vi.type.tensor_type.shape.dim
        for a in axes:
            if 0 <= a < len(dims) and dims[a].HasField("dim_value"):
                out[(vi.name, a)] = dims[a].dim_value
    return out


def _specialized_finding(s: Specialized, used: str) -> Diagnostic:
    where = f" at {s.where}" if s.where else ""
    guard = f" (guard {s.guard}{where})" if s.guard else where
    msg = (
        f"{s.exporter} fixed {s.symbol} ({s.input}:{s.axis}, asked dynamic) to {s.value}{guard}; "
        f"the analysed graph is {used}'s"
    )
    fix = (
        f"sizes other than {s.value} may take another path in the Python code: remove the dependence on the "
        f"size there, or declare {s.symbol} static"
    )
    return replace(
        exporter_diagnostic("GC108", msg, symbols=(s.symbol,), fix=fix), layer=s.layer, layer_type=s.layer_type
    )


class FrontendReport(Report):
    """The report of a live model: :class:`graphcheck.api.Report` plus the exporter that produced the
    graph (``exporter``), every exporter tried (``attempts``), GC108/GC109 exporter findings, and axis
    names in the framework's layout."""

    def __init__(
        self,
        analysis: Analysis,
        name: str = "",
        framework: FrameworkInfo | None = None,
        exported: Exported | Converted | None = None,
    ) -> None:
        super().__init__(analysis, name, framework)
        self.exported = exported

    @property
    def exporter(self) -> str:
        """Which exporter produced the analysed graph (``"torch.onnx legacy (TorchScript) ..."``)."""
        return self.exported.exporter if self.exported is not None else ""

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        return self.exported.attempts if self.exported is not None else ()

    @functools.cached_property
    def diagnostics(self) -> list[Diagnostic]:  # type: ignore[override]
        base = super().diagnostics
        out = [self._framework_axes(d) for d in base]
        if self.exported is None:
            return out
        used = next((a.exporter for a in self.exported.attempts if a.outcome == "used"), self.exported.exporter)
        extra = [_specialized_finding(s, used) for s in self.exported.specialized]
        failed = [a for a in self.exported.attempts if a.outcome.startswith("failed") and not a.expected]
        if failed and not self.exported.specialized:
            tried = "; ".join(f"{a.exporter} {a.outcome}" for a in failed)
            extra.append(exporter_diagnostic("GC109", f"{tried}; the analysed graph is {used}'s"))
        return extra + out

    def _framework_axes(self, d: Diagnostic) -> Diagnostic:
        if not d.node or not d.what:
            return d
        what = self.layers.axis_label(d.node, d.what)
        if what == d.what:
            return d
        return replace(d, what=what, message=d.message.replace(d.what, what))


def frontend_report(
    exported: Exported,
    dims: Mapping[str, int | str] | Sequence[str] | None = None,
    *,
    semantics: str = "spec",
) -> FrontendReport:
    """The analysis of an exported live model, in its layer names (the last step of every front end)."""
    from graphcheck.infer.engine import analyze
    from graphcheck.model.load import from_proto

    check_semantics(semantics)
    dmap = {**exported.relaxed, **normalize_dims(dims)}
    analysis = analyze(from_proto(exported.proto), dmap, semantics)
    return FrontendReport(analysis, exported.info.model_name, framework=exported.info, exported=exported)


def file_report(
    converted: Converted,
    dims: Mapping[str, int | str] | Sequence[str] | None = None,
    *,
    semantics: str = "spec",
    progress: Callable[[int, int], None] | None = None,
) -> FrontendReport:
    """The analysis of a converted model file, named after the user's file, in its layer names."""
    from graphcheck.infer.engine import analyze
    from graphcheck.model.load import load

    check_semantics(semantics)
    dmap = {**converted.relaxed, **normalize_dims(dims)}
    analysis = analyze(load(converted.path), dmap, semantics, progress)
    return FrontendReport(analysis, converted.source, framework=converted.info, exported=converted)
