"""Writing a model back out: a copy of the file with new shapes spliced in at the wire level.

The writer (:func:`write_annotated`) never parses the model: the file is memory-mapped and its
bytes are copied to the output in spans, except for the few messages it changes, which are
re-encoded here by hand:

* in a graph: the ``value_info`` entries of the values given a shape (rewritten in place when the
  file has one, appended otherwise), the declared types of its ``output`` entries and, on request,
  of its ``input`` entries (the other fields of those messages, dims' denotations included, are
  kept), and the nodes holding a subgraph that is itself edited (the extension point for the
  bodies of If/Loop/Scan: :attr:`GraphEdit.subgraphs`, keyed by the node's position in its graph);
* in the model: the graph's length prefix and the ``metadata_props`` entries whose key starts
  with the prefix asked (replaced by the new ones).

Initializers, nodes and everything else are copied byte for byte: weights are never read into
Python objects, and external data references are kept as they are (the external files are never
opened). Writing costs about what copying the file costs.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from graphcheck.errors import GraphcheckError, ModelLoadError, UsageError
from graphcheck.model.load import _fields

__all__ = ["DimValue", "TensorShape", "GraphEdit", "Written", "write_annotated"]

DimValue = int | str | None  # a fixed size, a dim_param, or unset (an empty Dimension message)

# field numbers (onnx.proto)
_MODEL_GRAPH, _MODEL_METADATA = 7, 14
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_INPUT, _GRAPH_OUTPUT, _GRAPH_VALUE_INFO = 1, 5, 11, 12, 13
_TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 13, 14
_NODE_OUTPUT, _NODE_ATTRIBUTE = 2, 5
_ATTR_NAME, _ATTR_G, _ATTR_GRAPHS = 1, 6, 11
_VI_NAME, _VI_TYPE, _VI_DOC = 1, 2, 3
_TYPE_TENSOR = 1
_TENSOR_ELEM, _TENSOR_SHAPE = 1, 2
_SHAPE_DIM = 1
_DIM_VALUE, _DIM_PARAM, _DIM_DENOTATION = 1, 2, 3


@dataclass(frozen=True)
class TensorShape:
    """A tensor value's type as written: element type (0: the file's, or none), dims and a note
    (the ValueInfoProto's ``doc_string``: why a dim is left unset)."""

    elem_type: int
    dims: tuple[DimValue, ...]
    doc: str = ""


@dataclass(frozen=True)
class GraphEdit:
    """What to write into one graph (the main graph, or a subgraph body).

    ``shapes``: value name -> shape, written for the values this graph's nodes produce (as
    ``value_info``) and for its outputs (their declared type); names it does not produce are
    ignored. ``inputs``: graph inputs whose declared type is replaced (kept otherwise).
    ``subgraphs``: ``(node position, attribute name, index)`` -> the edit of that node's body
    (``index`` 0 for a GRAPH attribute, the position in the list for GRAPHS).
    """

    shapes: Mapping[str, TensorShape] = field(default_factory=dict)
    inputs: Mapping[str, TensorShape] = field(default_factory=dict)
    subgraphs: Mapping[tuple[int, str, int], GraphEdit] = field(default_factory=dict)


@dataclass
class Written:
    """What one graph got: the values given a shape (node outputs, then graph outputs), and the
    same for each edited subgraph, by its key."""

    value_info: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    subgraphs: dict[tuple[int, str, int], Written] = field(default_factory=dict)
    produced: list[str] = field(default_factory=list)  # every value the graph's nodes produce
    external: list[str] = field(default_factory=list)  # the files its initializers' data is in (relative paths)
    inputs: list[str] = field(default_factory=list)  # the inputs whose declared type was replaced


# ---------------------------------------------------------------------------
# encoding


def _uvarint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 fields: two's complement, ten bytes
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(fnum: int, payload: bytes) -> bytes:
    """A length-delimited field: key, length, payload."""
    return _uvarint(fnum << 3 | 2) + _uvarint(len(payload)) + payload


def _vint(fnum: int, v: int) -> bytes:
    return _uvarint(fnum << 3) + _uvarint(v)


def _text(fnum: int, s: str) -> bytes:
    return _ld(fnum, s.encode("utf-8"))


def _dim(d: DimValue, denotation: bytes = b"") -> bytes:
    body = b""
    if isinstance(d, int) and not isinstance(d, bool):
        body = _vint(_DIM_VALUE, d)
    elif isinstance(d, str) and d:
        body = _text(_DIM_PARAM, d)
    return body + denotation


def _tensor_type(shape: TensorShape, elem_type: int, denotations: list[bytes] | None) -> bytes:
    dens = denotations if denotations is not None and len(denotations) == len(shape.dims) else None
    dims = b"".join(_ld(_SHAPE_DIM, _dim(d, dens[i] if dens else b"")) for i, d in enumerate(shape.dims))
    body = (_vint(_TENSOR_ELEM, elem_type) if elem_type else b"") + _ld(_TENSOR_SHAPE, dims)
    return _ld(_TYPE_TENSOR, body)


def _value_info(name: str, shape: TensorShape) -> bytes:
    body = _text(_VI_NAME, name) + _ld(_VI_TYPE, _tensor_type(shape, shape.elem_type, None))
    if shape.doc:
        body += _text(_VI_DOC, shape.doc)
    return body


# ---------------------------------------------------------------------------
# reading what is rewritten (small messages only: value infos, node headers)


def _spans(buf: memoryview, pos: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, field start, value, field end) for each field: the start is where
    the field's key begins, so a field is copied whole as ``buf[start:end]``; the value is a
    varint's value, or where a length-delimited field's payload starts (it ends at the field's end)."""
    start = pos
    for fnum, wt, a, b in _fields(buf, pos, end):
        yield fnum, wt, start, a, b
        start = b


def _string(buf: memoryview, a: int, b: int) -> str:
    return bytes(buf[a:b]).decode("utf-8", errors="replace")


def _first_string(buf: memoryview, a: int, b: int, fnum: int) -> str:
    for f, wt, _, va, vb in _spans(buf, a, b):
        if f == fnum and wt == 2:
            return _string(buf, va, vb)
    return ""


def _rewrite_type(buf: memoryview, a: int, b: int, shape: TensorShape) -> bytes | None:
    """A TypeProto's bytes with its tensor shape replaced by ``shape`` (its element type kept when
    ``shape`` has none, each dim's denotation kept when the rank is unchanged); None when the type
    is not a tensor type (a sequence, map, optional or sparse tensor: left alone)."""
    out = bytearray()
    found = False
    for f, wt, fs, va, vb in _spans(buf, a, b):
        if f != _TYPE_TENSOR or wt != 2:
            out += buf[fs:vb]
            continue
        found = True
        elem = 0
        dens: list[bytes] = []
        for tf, twt, _, ta, tb in _spans(buf, va, vb):
            if tf == _TENSOR_ELEM and twt == 0:
                elem = ta
            elif tf == _TENSOR_SHAPE and twt == 2:
                for sf, swt, _, sa, sb in _spans(buf, ta, tb):
                    if sf == _SHAPE_DIM and swt == 2:
                        den = b""
                        for df, dwt, dfs, _, dvb in _spans(buf, sa, sb):
                            if df == _DIM_DENOTATION and dwt == 2:
                                den = bytes(buf[dfs:dvb])
                        dens.append(den)
        out += _tensor_type(shape, shape.elem_type or elem, dens)
    return bytes(out) if found else None


def _rewrite_value_info(buf: memoryview, a: int, b: int, shape: TensorShape) -> bytes | None:
    """A ValueInfoProto's bytes with its type's shape replaced (None: not a tensor, left alone)."""
    out = bytearray()
    done = False
    for f, wt, fs, va, vb in _spans(buf, a, b):
        if f == _VI_TYPE and wt == 2 and not done:
            t = _rewrite_type(buf, va, vb, shape)
            if t is None:
                return None
            out += _ld(_VI_TYPE, t)
            done = True
        elif f == _VI_DOC and shape.doc:
            continue  # replaced by the note below
        else:
            out += buf[fs:vb]
    if not done:  # no type at all: write one
        out += _ld(_VI_TYPE, _tensor_type(shape, shape.elem_type, None))
    if shape.doc:
        out += _text(_VI_DOC, shape.doc)
    return bytes(out)


# ---------------------------------------------------------------------------
# the rewrite: a message becomes a list of pieces (spans of the source, or new bytes)


Piece = tuple[int, int] | bytes  # a span of the source (copied as is), or new bytes


def _length(pieces: list[Piece]) -> int:
    return sum(p[1] - p[0] if isinstance(p, tuple) else len(p) for p in pieces)


def _keep(pieces: list[Piece], a: int, b: int) -> None:
    """Copy ``source[a:b]``: one span with the previous one when they touch."""
    last = pieces[-1] if pieces else None
    if isinstance(last, tuple) and last[1] == a:
        pieces[-1] = (last[0], b)
    else:
        pieces.append((a, b))


def _wrap(fnum: int, pieces: list[Piece]) -> list[Piece]:
    """A length-delimited field around ``pieces``."""
    return [_uvarint(fnum << 3 | 2) + _uvarint(_length(pieces)), *pieces]


def _external(buf: memoryview, a: int, b: int) -> str | None:
    """An initializer's external data file (its ``location``), None when its data is in the file."""
    external = False
    location = ""
    for f, wt, _, va, vb in _spans(buf, a, b):
        if f == _TENSOR_DATA_LOCATION and wt == 0:
            external = va == 1
        elif f == _TENSOR_EXTERNAL_DATA and wt == 2 and _first_string(buf, va, vb, 1) == "location":
            for ef, ewt, _, ea, eb in _spans(buf, va, vb):
                if ef == 2 and ewt == 2:
                    location = _string(buf, ea, eb)
    return location if external else None


def _graph(buf: memoryview, pos: int, end: int, edit: GraphEdit, written: Written) -> list[Piece]:
    produced = written.produced
    outputs: set[str] = set()
    nodes = 0
    for f, wt, _, va, vb in _spans(buf, pos, end):
        if wt != 2:
            continue
        if f == _GRAPH_NODE:
            nodes += 1
            for nf, nwt, _, na, nb in _spans(buf, va, vb):
                if nf == _NODE_OUTPUT and nwt == 2 and nb > na:
                    produced.append(_string(buf, na, nb))
        elif f == _GRAPH_OUTPUT:
            outputs.add(_first_string(buf, va, vb, _VI_NAME))
        elif f == _GRAPH_INITIALIZER:
            where = _external(buf, va, vb)
            if where is not None and where not in written.external:
                written.external.append(where)
    by_node: dict[int, dict[tuple[int, str, int], GraphEdit]] = {}
    for k, e in edit.subgraphs.items():
        if not 0 <= k[0] < nodes:
            raise UsageError(f"no node at position {k[0]} in the graph to edit")
        by_node.setdefault(k[0], {})[k] = e
    shapes = edit.shapes
    todo = {n: shapes[n] for n in produced if n in shapes and n not in outputs}
    done: set[str] = set()
    pieces: list[Piece] = []
    node_pos = -1
    for f, wt, fs, va, vb in _spans(buf, pos, end):
        new: bytes | None = None
        if wt == 2 and f == _GRAPH_NODE:
            node_pos += 1
            subs = by_node.get(node_pos)
            if subs:
                pieces.extend(_wrap(_GRAPH_NODE, _node(buf, va, vb, node_pos, subs, written)))
                continue
        elif wt == 2 and f in (_GRAPH_INPUT, _GRAPH_OUTPUT, _GRAPH_VALUE_INFO):
            name = _first_string(buf, va, vb, _VI_NAME)
            table = edit.inputs if f == _GRAPH_INPUT else (shapes if f == _GRAPH_OUTPUT else todo)
            shape = table.get(name)
            if shape is not None:
                new = _rewrite_value_info(buf, va, vb, shape)
                if f == _GRAPH_VALUE_INFO:
                    del todo[name]  # rewritten in place, or not a tensor (a sequence...): left alone
                    if new is not None:
                        written.value_info.append(name)
                        done.add(name)
                elif f == _GRAPH_OUTPUT and new is not None:
                    written.outputs.append(name)
                elif f == _GRAPH_INPUT and new is not None:
                    written.inputs.append(name)
            elif f == _GRAPH_VALUE_INFO and name in shapes and (name in outputs or name in done):
                continue  # a graph output's (its declared type is what counts), or a second entry of a value
        if new is None:
            _keep(pieces, fs, vb)
        else:
            pieces.append(_ld(f, new))
    for name, shape in todo.items():
        pieces.append(_ld(_GRAPH_VALUE_INFO, _value_info(name, shape)))
        written.value_info.append(name)
    return pieces


def _node(
    buf: memoryview, pos: int, end: int, node_pos: int, subs: Mapping[tuple[int, str, int], GraphEdit], written: Written
) -> list[Piece]:
    pieces: list[Piece] = []
    seen: set[tuple[int, str, int]] = set()
    for f, wt, fs, va, vb in _spans(buf, pos, end):
        if f == _NODE_ATTRIBUTE and wt == 2:
            name = _first_string(buf, va, vb, _ATTR_NAME)
            if any(k[1] == name for k in subs):
                pieces.extend(_wrap(_NODE_ATTRIBUTE, _attribute(buf, va, vb, node_pos, name, subs, written, seen)))
                continue
        _keep(pieces, fs, vb)
    left = set(subs) - seen
    if left:
        k = min(left)
        raise UsageError(f"node {k[0]} has no subgraph {k[1]!r}[{k[2]}] to edit")
    return pieces


def _attribute(
    buf: memoryview,
    pos: int,
    end: int,
    node_pos: int,
    name: str,
    subs: Mapping[tuple[int, str, int], GraphEdit],
    written: Written,
    seen: set[tuple[int, str, int]],
) -> list[Piece]:
    pieces: list[Piece] = []
    index = 0
    for f, wt, fs, va, vb in _spans(buf, pos, end):
        if wt == 2 and f in (_ATTR_G, _ATTR_GRAPHS):
            key = (node_pos, name, index if f == _ATTR_GRAPHS else 0)
            if f == _ATTR_GRAPHS:
                index += 1
            sub = subs.get(key)
            if sub is not None:
                seen.add(key)
                w = written.subgraphs.setdefault(key, Written())
                pieces.extend(_wrap(f, _graph(buf, va, vb, sub, w)))
                continue
        _keep(pieces, fs, vb)
    return pieces


def _model(
    buf: memoryview, edit: GraphEdit, metadata: Mapping[str, str], replace_prefix: str, written: Written
) -> list[Piece]:
    pieces: list[Piece] = []
    graphs = 0
    for f, wt, fs, va, vb in _spans(buf, 0, len(buf)):
        if f == _MODEL_GRAPH and wt == 2:
            graphs += 1
            pieces.extend(_wrap(_MODEL_GRAPH, _graph(buf, va, vb, edit, written)))
            continue
        if f == _MODEL_METADATA and wt == 2 and replace_prefix:
            if _first_string(buf, va, vb, 1).startswith(replace_prefix):
                continue
        _keep(pieces, fs, vb)
    if graphs != 1:
        raise ModelLoadError("not an ONNX model (no graph found)" if not graphs else "more than one graph field")
    for k, v in metadata.items():
        pieces.append(_ld(_MODEL_METADATA, _text(1, k) + _text(2, v)))
    return pieces


# ---------------------------------------------------------------------------
# entry point

_BIG = 1 << 20  # spans of the source from this size on are copied by the kernel (sendfile), not through Python


def _emit(fd: int, buf: memoryview, pieces: list[Piece], src_fd: int | None) -> None:
    """Write the pieces to ``fd``: new bytes and small spans gathered in chunks, large spans of the
    source file copied by the kernel where it can (as ``shutil.copyfile`` does)."""
    chunk = bytearray()

    def flush() -> None:
        view = memoryview(chunk)
        done = 0
        while done < len(view):
            done += os.write(fd, view[done:])
        view.release()
        chunk.clear()

    for p in pieces:
        if isinstance(p, bytes):
            chunk += p
        else:
            a, b = p
            if b - a >= _BIG and src_fd is not None and hasattr(os, "sendfile"):
                flush()
                while a < b:
                    n = os.sendfile(fd, src_fd, a, b - a)
                    if n <= 0:
                        raise OSError("the source file ended early")
                    a += n
            else:
                chunk += buf[a:b]
        if len(chunk) >= _BIG:
            flush()
    flush()


def write_annotated(
    source: str | os.PathLike[str] | bytes,
    out: str | os.PathLike[str],
    edit: GraphEdit,
    metadata: Mapping[str, str] | None = None,
    replace_prefix: str = "",
) -> Written:
    """Write ``source`` (a model file or its bytes) to ``out`` with ``edit`` applied to its main
    graph and ``metadata`` added to its ``metadata_props`` (entries whose key starts with
    ``replace_prefix`` dropped first). ``out`` may be ``source`` itself: the copy is written next to
    it and moved over it at the end."""
    written = Written()
    if isinstance(source, bytes | bytearray | memoryview):
        err = _write(memoryview(source), None, "<bytes>", out, edit, metadata or {}, replace_prefix, written)
    else:
        path = os.fspath(source)
        try:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size == 0:
                    raise ModelLoadError(f"{path}: empty file, not an ONNX model")
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    mv = memoryview(mm)
                    try:
                        err = _write(mv, f.fileno(), path, out, edit, metadata or {}, replace_prefix, written)
                    finally:
                        mv.release()
        except FileNotFoundError:
            raise ModelLoadError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise ModelLoadError(f"{path}: is a directory, not an ONNX model") from None
        except PermissionError:
            raise ModelLoadError(f"{path}: permission denied") from None
    if err is not None:
        raise err
    return written


def _write(
    buf: memoryview,
    src_fd: int | None,
    source: str,
    out: str | os.PathLike[str],
    edit: GraphEdit,
    metadata: Mapping[str, str],
    replace_prefix: str,
    written: Written,
) -> GraphcheckError | None:
    """Write the copy; a failure is returned, not raised, so that no slice of the source's memory
    map outlives this call (a traceback would hold them, and the map could not be closed)."""
    try:
        pieces = _model(buf, edit, metadata, replace_prefix, written)
    except UsageError as exc:
        return UsageError(str(exc))
    except Exception as exc:  # a truncated or malformed message in a part read or rewritten
        msg = str(exc) or type(exc).__name__
        return ModelLoadError(f"{source}: not a valid ONNX model ({msg})")
    target = os.fspath(out)
    folder = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".graphcheck-", suffix=".onnx.tmp", dir=folder)
    except OSError as exc:
        return UsageError(f"{target}: cannot write ({exc.strerror or exc})")
    try:
        with os.fdopen(fd, "wb", buffering=0) as f:
            _emit(f.fileno(), buf, pieces, src_fd)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, target)
    except OSError as exc:
        os.unlink(tmp)
        return UsageError(f"{target}: cannot write ({exc.strerror or exc})")
    except BaseException:
        os.unlink(tmp)
        raise
    return None
