"""Human-readable rendering of :class:`graphcheck.expr.Expr`."""

from __future__ import annotations

from graphcheck.expr import Atom, Expr, Floor, MinMax, Mono, Sym


def _leading_negative(e: Expr) -> bool:
    for m, c in e.terms:
        if m:
            return c < 0
    return e.constant_term < 0


def _atom_str(a: Atom, neg_floor: bool = False) -> str:
    if isinstance(a, Sym):
        return a.name
    if isinstance(a, Floor):
        if neg_floor:
            return f"ceil({_paren_num(-a.num)} / {a.den})"
        return f"floor({_paren_num(a.num)} / {a.den})"
    if isinstance(a, MinMax):
        fn = "max" if a.is_max else "min"
        return f"{fn}({', '.join(format_expr(x) for x in a.args)})"
    return repr(a)  # pragma: no cover


def _paren_num(e: Expr) -> str:
    s = format_expr(e)
    return s if len(e.terms) == 1 and e.terms[0][1] > 0 else f"({s})"


def _mono_str(m: Mono, neg_floor: bool) -> str:
    parts: list[str] = []
    i = 0
    while i < len(m):
        a = m[i]
        j = i
        while j < len(m) and m[j] == a:
            j += 1
        s = _atom_str(a, neg_floor and len(m) == 1)
        if len(m) > 1 and isinstance(a, Floor | MinMax):
            s = s  # function-call syntax needs no parentheses
        parts.append(s if j - i == 1 else f"{s}^{j - i}")
        i = j
    return "*".join(parts)


def format_expr(e: Expr) -> str:
    """Render ``e``; a lone floor plus simple terms is shown folded (``floor((L - 7) / 2)``)."""
    raw = _format_terms(e)
    folded = _folded(e)
    return folded if folded is not None and len(folded) < len(raw) else raw


def _folded(e: Expr) -> str | None:
    floors = [(m, c) for m, c in e.terms if any(isinstance(a, (Floor, MinMax)) for a in m)]
    if len(floors) != 1:
        return None
    (m, c) = floors[0]
    if len(m) != 1 or abs(c) != 1 or not isinstance(m[0], Floor):
        return None
    fl = m[0]
    rest = Expr({mm: cc for mm, cc in e.terms if mm != m})
    if not rest.symbols() <= fl.num.symbols():
        return None
    if c == 1:
        return f"floor({_paren_num(fl.num + rest * fl.den)} / {fl.den})"
    return f"ceil({_paren_num(-fl.num + rest * fl.den)} / {fl.den})"


def _format_terms(e: Expr) -> str:
    if not e.terms:
        return "0"
    ordered = [t for t in e.terms if t[0]] + [t for t in e.terms if not t[0]]
    out: list[str] = []
    for idx, (m, c) in enumerate(ordered):
        neg_floor = len(m) == 1 and isinstance(m[0], Floor) and c < 0 and _leading_negative(m[0].num)
        if neg_floor:
            c = -c
        if not m:
            body = str(abs(c))
        else:
            ms = _mono_str(m, neg_floor)
            body = ms if abs(c) == 1 else f"{abs(c)}*{ms}"
        if idx == 0:
            out.append(("-" + body) if c < 0 else body)
        else:
            out.append(("- " if c < 0 else "+ ") + body)
    return " ".join(out)
