"""Op rules, one module per family; importing this package registers them all.

A family module holds the rules of related ops (``conv.py``: Conv, ConvTranspose and the pools),
each a pure function registered with :func:`graphcheck.infer.registry.rule`. Modules whose name
starts with ``_`` are helpers shared by the families. May import: :mod:`graphcheck.infer.registry`,
:mod:`graphcheck.infer.facts`, :mod:`graphcheck.infer.bounds`, the model's IR, the symbolic algebra.
"""

from __future__ import annotations

import importlib
import pkgutil

from graphcheck.infer.registry import _RULES


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


def rules_by_family() -> dict[str, list[tuple[str, str, list[int]]]]:
    """Family (the ops/ module) -> [(domain, op, opsets where a rule version starts)], sorted."""
    out: dict[str, list[tuple[str, str, list[int]]]] = {}
    for (dom, op), lst in sorted(_RULES.items(), key=lambda kv: (kv[0][0], kv[0][1].lower())):
        if dom == "graphcheck.internal":  # a control node after its body (graphcheck.infer.control): not an op
            continue
        family = lst[-1][1].__module__.rsplit(".", 1)[-1]
        out.setdefault(family, []).append((dom, op, [s for s, _ in lst]))
    return out


_load_all()
