"""Products of one-size factors inside a polynomial over several sizes.

Window attention and patch grids multiply per-axis counts: Swin's windows number
``B*ceil(h/4)*ceil(w/4)``, which the algebra keeps expanded as
``B*h*w - B*h*floor(3*w/4) - B*w*floor(3*h/4) + B*floor(3*h/4)*floor(3*w/4)``. Interval bounds
lose the sign of such an expansion; its factors, each of one size, keep it. :func:`separate`
(:func:`graphcheck.symbolic.expr.separate_factors`, beside the printer that also uses it) finds
them; :func:`two_products` finds a count computed two ways.

Budget: one long division per size (each bounded by :meth:`Expr.exact_div`'s own step budget).
"""

from __future__ import annotations

from graphcheck.symbolic.expr import Expr, Mono, Sym, separate_factors

__all__ = ["separate", "two_products"]

separate = separate_factors  # one-size factors of a product (kept beside the printer, in expr)


def _per_size(m: Mono) -> dict[Sym, Expr] | None:
    """A monomial as one factor per size (its atoms grouped by the size they depend on)."""
    out: dict[Sym, Expr] = {}
    for a in m:
        syms = a.symbols()
        if len(syms) != 1:
            return None
        (s,) = syms
        out[s] = out.get(s, Expr({(): 1})) * Expr({(a,): 1})
    return out


Split = tuple[int, dict[Sym, Expr], int, dict[Sym, Expr]]


def two_products(e: Expr, limit: int = 24) -> list[Split]:
    """``(c1, A, c2, B)`` with ``e == c1*prod(A) - c2*prod(B)``, ``A`` and ``B`` one factor per size
    (the same sizes): a count computed two ways, such as Swin's ``16*ceil(h/4)*ceil(w/4)`` windows
    of 16 tokens against its ``h*w`` tokens. ``B`` is one monomial of ``e``, ``A`` the separable
    rest (:func:`separate`) after taking ``k`` times that monomial out; ``k`` is tried from the
    coefficients present (at most ``limit`` tries). Every split found, the most likely first."""
    syms = e.symbols()
    found: list[Split] = []
    if len(syms) < 2 or e.constant_term:
        return found
    coeffs = {abs(c) for _, c in e.terms}
    tries = 0
    for m, cm in e.terms:
        parts = _per_size(m)
        if parts is None or set(parts) != syms:
            continue
        for target in sorted({0, *coeffs, *(-c for c in coeffs)}):
            k = target - cm  # the monomial's coefficient in e + k*m becomes target
            if k == 0:
                continue
            tries += 1
            if tries > limit:
                return found
            sep = separate(e + Expr({m: k}))
            if sep is None:
                continue
            c1, factors = sep
            by_size: dict[Sym, Expr] = {}
            for f in factors:
                (s,) = f.symbols()
                by_size[s] = f
            if set(by_size) != syms:
                continue
            found.append((c1, by_size, k, parts))
    return found
