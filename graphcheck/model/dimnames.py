"""Readable names for the dynamic sizes an exporter named itself.

An exporter names the dynamic sizes it cannot name itself: tf2onnx ``unk__67``, torch.export
``s77``, the legacy torch exporter ``input_ids_dynamic_axes_1``, or no name at all. People name them
from the input and the axis: axis 0 is the ``batch``; the steps of a ``(batch, steps, channels)``
input are ``signal_len``; a 4-D input's spatial axes are ``image_h`` and ``image_w``; other axes
``name_<axis>``. The front ends (``graphcheck.keras``, ``.torch``, ``.jax``) name the sizes of the
model they export so (:func:`dim_name`); :func:`readable_names` does the same for a file exported
earlier, and the exporter's name stays an alias of the size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from graphcheck.model.ir import Graph

__all__ = ["dim_name", "ident", "exporter_made", "readable_names", "INT_ELEM_TYPES"]

# tf2onnx's unk__N, torch.export's sN, the legacy torch exporter's <input>_dynamic_axes_N
_EXPORTER_NAME = re.compile(r"^(unk__\d+|s\d+|.+_dynamic_axes_\d+)$")
INT_ELEM_TYPES = {2, 3, 4, 5, 6, 7, 12, 13}  # onnx.TensorProto uint8..int64, uint32, uint64


def exporter_made(name: str) -> bool:
    """A size name an exporter generated (``unk__68``, ``s77``, ``x_dynamic_axes_1``), not a person."""
    return _EXPORTER_NAME.match(name) is not None


def ident(name: str) -> str:
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
    stem = ident(input_name)
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


def _channels_first(graph: Graph, shape: tuple[int | str | None, ...]) -> bool:
    """The layout of an input: PyTorch exports are channels first, tf2onnx's channels last; otherwise a
    fixed axis 1 before a dynamic last axis is channels first, the reverse channels last."""
    if graph.producer.startswith("pytorch"):
        return True
    if graph.producer.startswith("tf2onnx"):
        return False
    if len(shape) >= 3 and isinstance(shape[-1], int) and not isinstance(shape[1], int):
        return False
    return True


def readable_names(graph: Graph, reserved: Iterable[str] = ()) -> dict[str, str]:
    """Readable names for the dynamic input sizes an exporter named (or left unnamed): keyed by the
    exporter's name, or by ``input:axis`` for an unnamed size. A name used on several axes (a size the
    exporter tied) gets one name, from its first axis. Names already in the graph, and ``reserved``
    (names the user gives), are never reused; a second distinct batch is ``<input>_batch``."""
    taken: set[str] = set(reserved)
    for vis in (graph.inputs, graph.outputs):
        for vi in vis:
            for d in vi.shape or ():
                if isinstance(d, str) and not exporter_made(d):
                    taken.add(d)
    out: dict[str, str] = {}
    for vi in graph.inputs:
        if vi.shape is None:
            continue
        rank = len(vi.shape)
        first = _channels_first(graph, vi.shape)
        for axis, d in enumerate(vi.shape):
            if isinstance(d, int) and d >= 0:
                continue
            key = d if isinstance(d, str) else f"{vi.name}:{axis}"
            if key in out or (isinstance(d, str) and not exporter_made(d)):
                continue
            base = dim_name(vi.name, axis, rank, vi.elem_type in INT_ELEM_TYPES, first)
            name = base
            if name in taken and base == "batch":
                name = f"{ident(vi.name)}_batch"
            stem, k = name, 2
            while name in taken:
                name = f"{stem}_{k}"
                k += 1
            taken.add(name)
            out[key] = name
    return out
