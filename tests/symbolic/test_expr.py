"""Exact dimension expressions: canonical forms and exact evaluation."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from graphcheck.symbolic.expr import ceildiv, const, emax, emin, floordiv, mod, product, sym

L = sym("L")
H = sym("H")
s_L = L.as_sym()
s_H = H.as_sym()


def test_cancellation_and_canonical_forms() -> None:
    assert L - (L - 6) == 6
    assert floordiv(L - 9, 2) + 1 == floordiv(L - 7, 2)
    assert floordiv(floordiv(L, 2), 2) == floordiv(L, 4)
    assert floordiv(floordiv(L - 3, 2) + 1 - 3, 2) + 1 == floordiv(L + 1, 4) - 1
    assert floordiv(2 * L + 4, 6) == floordiv(L + 2, 3)
    assert floordiv(L * 4, 2) == 2 * L
    assert mod(L * 32, 32) == 0
    assert (L - 6) * 32 == 32 * L - 192
    assert emin(L, L + 3) == L and emax(L, L + 3) == L + 3
    assert emax(const(3), const(7)) == 7


def test_exact_division_of_polynomials() -> None:
    numel = product([sym("N"), L, const(32)])
    assert numel.exact_div(sym("N")) == 32 * L
    assert numel.exact_div(64) is None
    assert (L * H * 6).exact_div(3) == L * H * 2


def test_display() -> None:
    assert str(floordiv(L - 9, 2) + 1) == "floor((L - 7) / 2)"
    assert str(ceildiv(L, 2)) == "ceil(L / 2)"
    assert str(L - 6) == "L - 6"
    assert str(64 * H * L) in ("64*H*L", "64*L*H")


def test_evaluation_uses_floor_semantics_for_negatives() -> None:
    e = floordiv(L - 9, 2) + 1
    assert e.evaluate({s_L: 8}) == 0  # floor(-1/2) + 1 = -1 + 1
    assert e.evaluate({s_L: 6}) == -1
    assert ceildiv(L - 9, 2).evaluate({s_L: 8}) == 0


def test_big_integers_are_exact() -> None:
    big = 2**62 + 12345
    e = floordiv(3 * L + 1, 7)
    assert e.evaluate({s_L: big}) == (3 * big + 1) // 7


@st.composite
def exprs(draw: st.DrawFn, depth: int = 3):  # type: ignore[no-untyped-def]
    if depth == 0:
        return draw(st.sampled_from([L, H, const(draw(st.integers(-20, 20)))]))
    kind = draw(st.sampled_from(["add", "sub", "mul", "floor", "ceil", "mod", "min", "max", "leaf"]))
    a = draw(exprs(depth - 1))
    if kind == "leaf":
        return a
    if kind in ("floor", "ceil", "mod"):
        d = draw(st.integers(1, 9))
        return {"floor": floordiv, "ceil": ceildiv, "mod": mod}[kind](a, d)
    b = draw(exprs(depth - 1))
    return {"add": a + b, "sub": a - b, "mul": a * b, "min": emin(a, b), "max": emax(a, b)}[kind]


def _ref(e, env):  # type: ignore[no-untyped-def]
    return e.evaluate(env)


@settings(max_examples=300, deadline=None)
@given(exprs(), st.integers(1, 10**6), st.integers(1, 10**6))
def test_simplification_preserves_value(e, lv, hv) -> None:  # type: ignore[no-untyped-def]
    # Rebuild the expression through substitution (which re-simplifies every node) and compare.
    env = {s_L: lv, s_H: hv}
    rebuilt = e.subs({s_L: L + 0, s_H: H})
    assert rebuilt.evaluate(env) == e.evaluate(env)
    # substituting constants folds to the same number
    assert e.subs({s_L: lv, s_H: hv}).value == e.evaluate(env)


def test_floor_identities_against_python() -> None:
    rnd = random.Random(0)
    for _ in range(2000):
        a, b, d = rnd.randint(-50, 50), rnd.randint(-50, 50), rnd.randint(1, 12)
        x = rnd.randint(1, 10**9)
        e = floordiv(a * L + b, d)
        assert e.evaluate({s_L: x}) == (a * x + b) // d
        c = ceildiv(a * L + b, d)
        assert c.evaluate({s_L: x}) == -((-(a * x + b)) // d)
        m = mod(a * L + b, d)
        assert m.evaluate({s_L: x}) == (a * x + b) % d


def _eval_text(text: str, lv: int, hv: int) -> int:
    """Evaluate a displayed formula with exact integer floor/ceil (``floor(a / d)`` -> ``a // d``)."""
    import ast

    tree = ast.parse(text.replace("^", "**"), mode="eval")

    class Exact(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            self.generic_visit(node)
            assert isinstance(node.func, ast.Name)
            if node.func.id in ("floor", "ceil"):
                (arg,) = node.args
                assert isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Div)
                if node.func.id == "floor":
                    return ast.BinOp(arg.left, ast.FloorDiv(), arg.right)
                neg = ast.BinOp(ast.UnaryOp(ast.USub(), arg.left), ast.FloorDiv(), arg.right)
                return ast.UnaryOp(ast.USub(), neg)
            return node

    fixed = ast.fix_missing_locations(Exact().visit(tree))
    return int(eval(compile(fixed, "<formula>", "eval"), {"min": min, "max": max, "L": lv, "H": hv}))  # noqa: S307


def test_display_merges_terms_into_one_floor() -> None:
    a = floordiv(L + 3, 6)
    assert str(a - floordiv(3 * a + 1, 4)) == "floor((L + 15) / 24)"  # tf2onnx SAME-pool chains
    assert str(L - floordiv(L, 2)) == "ceil(L / 2)"
    assert str(floordiv(L, 2) + 1) == "floor(L / 2) + 1"  # a constant is not folded in


@settings(max_examples=400, deadline=None)
@given(exprs(), st.integers(-1000, 10**6), st.integers(-1000, 10**6))
def test_displayed_formula_has_the_same_value(e, lv, hv) -> None:  # type: ignore[no-untyped-def]
    """What a finding prints is the expression: evaluated with exact floor/ceil, it gives the same number."""
    assert _eval_text(str(e), lv, hv) == e.evaluate({s_L: lv, s_H: hv}), str(e)


def test_long_division_of_polynomials() -> None:
    f = floordiv(L, 4)
    assert (32 * f + 32).exact_div(f + 1) == 32  # a CRNN's Reshape(-1): 32*(f + 1) elements over f + 1 rows
    assert ((H + 1) * (L - 3) * 7).exact_div(L - 3) == 7 * H + 7
    assert (f * f - 1).exact_div(f + 1) == f - 1
    assert ((H + 1) * (L - 3) + 1).exact_div(L - 3) is None  # a remainder: not exact
    assert (H * L).exact_div(H + L) is None
    assert (6 * H + 4).exact_div(3 * H + 2) == 2
    assert (6 * H + 3).exact_div(4 * H + 2) is None  # 3/2 is not an integer quotient


@settings(max_examples=300, deadline=None)
@given(exprs(2), exprs(2), st.integers(1, 10**4), st.integers(1, 10**4))
def test_long_division_is_exact(a, b, lv, hv) -> None:  # type: ignore[no-untyped-def]
    """Whatever divides, divides exactly: (a*b)/b gives a quotient q with q*b == a*b, equal in value."""
    prod = a * b
    q = prod.exact_div(b)
    if b == 0:
        assert q is None
        return
    assert q is not None and q * b == prod
    env = {s_L: lv, s_H: hv}
    bv = b.evaluate(env)
    if bv:
        assert q.evaluate(env) == prod.evaluate(env) // bv
