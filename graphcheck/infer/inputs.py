"""The input sizes of an analysis: the user's ``--dim`` settings applied to the graph's inputs.

Every dynamic axis of a graph input becomes a symbol: its ``dim_param`` as a person wrote it
(``L``, ``batch``); a name an exporter made (``unk__68``, ``s77``) or none at all is named from the
input and axis as the front ends name them (``batch``, ``signal_len``, see
:mod:`graphcheck.model.dimnames`), the exporter's name kept as an alias. ``--dim N=1`` fixes a
symbol, ``--dim signal:1=L`` makes a fixed axis symbolic, ``--dim unk__68=L`` names a size.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from graphcheck.errors import UsageError
from graphcheck.model.dimnames import readable_names
from graphcheck.model.ir import Graph
from graphcheck.symbolic.expr import Expr, Sym, const, sym

__all__ = ["InputSizes", "input_sizes", "parse_dims"]


@dataclass(frozen=True)
class InputSizes:
    shapes: dict[str, tuple[Expr, ...] | None]  # each graph input's shape (None: rank unknown)
    addresses: dict[str, Expr]  # "input:axis" -> its size (symbol or constant)
    symbols: tuple[Sym, ...]  # the dynamic sizes, in order of first appearance
    fixed: dict[Sym, int]  # symbols the user fixed with --dim NAME=V
    user_made: tuple[Sym, ...]  # symbols the user made from fixed dims (--dim input:axis=NAME)
    aliases: dict[str, str]  # an exporter's name for a size (unk__68, s77) -> the symbol's name


def parse_dims(items: list[str]) -> dict[str, int | str]:
    """``["signal:1=L", "N=1"]`` -> ``{"signal:1": "L", "N": 1}`` (CLI --dim / --at syntax)."""
    out: dict[str, int | str] = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"expected NAME=VALUE or INPUT:AXIS=VALUE, got {item!r}")
        key, _, val = item.rpartition("=")
        key, val = key.strip(), val.strip()
        if not key or not val:
            raise UsageError(f"expected NAME=VALUE or INPUT:AXIS=VALUE, got {item!r}")
        if re.fullmatch(r"-?\d+", val):
            out[key] = int(val)
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", val):
            out[key] = val
        else:
            raise UsageError(f"{item!r}: the value must be an integer or a symbol name")
    return out


def input_sizes(graph: Graph, dims: Mapping[str, int | str]) -> InputSizes:
    """The symbols and shapes of ``graph``'s inputs under the user's ``dims`` settings."""
    used: set[str] = set()
    user_made: list[Sym] = []
    shapes: dict[str, tuple[Expr, ...] | None] = {}
    addresses: dict[str, Expr] = {}
    order: list[Sym] = []
    fixed: dict[Sym, int] = {}
    aliases: dict[str, str] = {}
    readable = readable_names(graph, {v for v in dims.values() if isinstance(v, str)})

    def renamed(key: str, alias: bool) -> Expr:
        """The size an exporter named ``key`` (or ``input:axis`` when unnamed), by its readable name
        unless the user addressed the exporter's name; the exporter's name stays an alias."""
        e = named(key) if key in dims else named(readable[key])
        s_ = e.as_sym()
        if alias and s_ is not None and s_.name != key:
            aliases[key] = s_.name
        return e

    def named(name: str) -> Expr:
        if name in dims:
            used.add(name)
            v = dims[name]
            if isinstance(v, int):
                e = sym(name)
                s = e.as_sym()
                assert s is not None
                fixed[s] = v
                return const(v)
            name = v
        e = sym(name)
        s = e.as_sym()
        assert s is not None
        if s not in order:
            order.append(s)
        return e

    for vi in graph.inputs:
        if vi.shape is None:
            shapes[vi.name] = None
            continue
        dims_out: list[Expr] = []
        for axis, spec in enumerate(vi.shape):
            addr = f"{vi.name}:{axis}"
            if addr in dims:
                used.add(addr)
                v = dims[addr]
                e = const(v) if isinstance(v, int) else named(v)
                s_ = e.as_sym()
                if s_ is not None and isinstance(spec, int) and s_ not in user_made:
                    user_made.append(s_)
            elif isinstance(spec, int) and spec >= 0:
                e = const(spec)
            elif isinstance(spec, str):
                e = renamed(spec, True) if spec in readable else named(spec)
            elif addr in readable:
                e = renamed(addr, False)
            else:
                e = named(addr)
            dims_out.append(e)
            addresses[addr] = e
        shapes[vi.name] = tuple(dims_out)
    unknown = [k for k in dims if k not in used]
    if unknown:
        known = [s.name for s in order] + list(addresses) + list(aliases)
        raise UsageError(f"unknown dimension {unknown[0]!r}; this model has: {', '.join(dict.fromkeys(known))}")
    return InputSizes(shapes, addresses, tuple(order), fixed, tuple(user_made), aliases)
