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
    best = raw
    for cand in (_folded(e), _merged(e)):
        if cand is not None and len(cand) < len(best):
            best = cand
    return best


def _merged(e: Expr) -> str | None:
    """The shortest single floor equal to ``e``, folding its other (integer-valued) terms into one of
    its floors: ``x + floor(u/d) = floor((u + d*x)/d)`` and ``x - floor(u/d) = floor((d*x - u + d - 1)/d)``.
    Canonical forms keep floors' numerators with positive remainders, so ``a - floor((3a + 1)/4)``
    stays as it is; shown merged it reads ``floor((a + 2)/4)`` (and nested floors then merge too)."""
    from graphcheck.expr import floordiv

    best: str | None = None
    for m, c in e.terms:
        if len(m) != 1 or abs(c) != 1 or not isinstance(m[0], Floor):
            continue
        fl = m[0]
        rest = Expr({mm: cc for mm, cc in e.terms if mm != m})
        if rest.is_const:
            continue  # floor(x/2) + 1 reads better as it is
        num = fl.num + rest * fl.den if c == 1 else rest * fl.den - fl.num + (fl.den - 1)
        cand = floordiv(num, fl.den)
        if len(cand.terms) > 2:
            continue
        text = _format_terms(cand)
        if best is None or len(text) < len(best):
            best = text
    return best


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
