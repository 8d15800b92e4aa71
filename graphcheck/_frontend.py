"""What the Keras and PyTorch front ends share: size names, dim renaming, layer configurations.

An exporter names the dynamic sizes it cannot name itself: tf2onnx ``unk__67``, torch.export
``s77``, the legacy torch exporter ``input_dynamic_axes_1``. The front ends give them the names a
person would use, from the input's name and the axis: axis 0 is ``batch``; the steps axis of a
``(batch, steps, channels)`` input is ``signal_len``; a 4-D input's spatial axes are ``image_h`` and
``image_w``; other axes ``name_<axis>``. The renaming is done on the ``ModelProto`` before the
analysis, everywhere the exporter wrote the symbol (inputs, outputs, value infos and torch.export's
declared ranges), so a size the exporter tied across inputs stays tied.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from graphcheck.errors import GraphcheckError, UsageError

if TYPE_CHECKING:
    import onnx

__all__ = [
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


def _ident(name: str) -> str:
    """An input name as the stem of a symbol name (letters, digits, underscores)."""
    s = re.sub(r"\W+", "_", name).strip("_")
    if not s:
        return "input"
    return s if not s[0].isdigit() else f"x{s}"


def dim_name(input_name: str, axis: int, rank: int, integer: bool = False, channels_first: bool = False) -> str:
    """The name of a dynamic size: ``batch``, ``signal_len``, ``image_h``/``image_w``, ``x_3``.

    Axis 0 is the batch. The spatial axes are 1 .. rank-2 (Keras, channels last) or 2 .. rank-1
    (``channels_first``, PyTorch): one is a length (``_len``), two are ``_h`` and ``_w``. The second
    axis of a rank-2 integer input (token ids) is a length too; any other axis is ``_<axis>``.
    """
    stem = _ident(input_name)
    if axis == 0:
        return "batch"
    if rank == 2 and axis == 1 and integer:
        return f"{stem}_len"
    first = 2 if channels_first else 1
    spatial = axis - first
    if rank >= 3 and 0 <= spatial < rank - 2:
        if rank == 3:
            return f"{stem}_len"
        if rank == 4:
            return f"{stem}_h" if spatial == 0 else f"{stem}_w"
    return f"{stem}_{axis}"


_INT_ELEM_TYPES = {2, 3, 4, 5, 6, 7, 12, 13}  # onnx.TensorProto uint8..int64, uint32, uint64


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
) -> dict[str, str]:
    """Give the exporter's generated size names readable ones, in place; returns old -> new.

    ``renamable(dim_param)`` says which names are the exporter's own (``unk__67``, ``s77``); a
    dimension with neither a value nor a name is named too. A symbol is renamed everywhere it
    occurs, after its first occurrence in the inputs. ``tie_batch`` gives every input's axis 0
    the one name ``batch`` (Keras: a model's inputs share the batch); otherwise a second input's
    distinct batch symbol is ``<input>_batch``.
    """
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
            if tie_batch and base == "batch":
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
