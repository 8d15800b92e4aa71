"""Exact element arithmetic on known small tensor values, shared by the element-wise and reduce rules.

A value element (:data:`graphcheck.infer.facts.Val`) is an :class:`Expr` (an integer, possibly symbolic)
or a :class:`Fraction` (a float constant, exactly). Every helper returns ``None`` when the result
cannot be known exactly, never an approximation:

* integer tensors: ``+ - *`` on Exprs; a constant result outside the element type's range is
  dropped (the runtime wraps); division truncates toward zero (ONNX ``Div``), Python-style
  ``Mod`` needs a constant divisor;
* float tensors: one operation on constants gives the exact result rounded once to the element
  type (IEEE 754, what the runtime computes; the half formats, computed in float32 and rounded
  again, keep only exact results); elements computed from sizes are ``fl(e * c)``
  (:mod:`graphcheck.infer.ops._floats`), exact within conditions the node that turns them into
  integers states (GC110);
* comparisons give 0/1 only when decidable for every size (symbols are >= 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

from graphcheck.infer.facts import Fact, Val
from graphcheck.infer.ops import _floats as F
from graphcheck.infer.registry import current_assume
from graphcheck.symbolic.cond import ge
from graphcheck.symbolic.expr import Expr, ceildiv, const, emax, emin, floordiv
from graphcheck.symbolic.expr import mod as emod
from graphcheck.symbolic.floats import BFLOAT16 as BF16_FORMAT
from graphcheck.symbolic.floats import FLOAT16 as F16_FORMAT
from graphcheck.symbolic.floats import FLOAT32, FLOAT64, FloatFormat, FloatRange, FloatSize, sqrt_bounds

SMALL = 4096  # element count up to which values are kept

FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL = 1, 2, 3, 4, 5, 6, 7, 8, 9
FLOAT16, DOUBLE, UINT32, UINT64, BFLOAT16 = 10, 11, 12, 13, 16

# (precision bits incl. the implicit one, minimum normal exponent, maximum exponent)
FLOAT_FORMATS: dict[int, tuple[int, int, int]] = {
    FLOAT: (24, -126, 127),
    DOUBLE: (53, -1022, 1023),
    FLOAT16: (11, -14, 15),
    BFLOAT16: (8, -126, 127),
}
INT_RANGES: dict[int, tuple[int, int]] = {
    UINT8: (0, 255),
    INT8: (-128, 127),
    UINT16: (0, 65535),
    INT16: (-32768, 32767),
    INT32: (-(2**31), 2**31 - 1),
    INT64: (-(2**63), 2**63 - 1),
    UINT32: (0, 2**32 - 1),
    UINT64: (0, 2**64 - 1),
    BOOL: (0, 1),
}
WIDE_INTS = frozenset({INT32, INT64, UINT32, UINT64})  # symbolic sizes are taken to fit these
FORMATS: dict[int, FloatFormat] = {FLOAT: FLOAT32, DOUBLE: FLOAT64, FLOAT16: F16_FORMAT, BFLOAT16: BF16_FORMAT}

DTYPE_NAMES: dict[str, int] = {
    "FLOAT": 1, "UINT8": 2, "INT8": 3, "UINT16": 4, "INT16": 5, "INT32": 6, "INT64": 7, "STRING": 8,
    "BOOL": 9, "FLOAT16": 10, "DOUBLE": 11, "UINT32": 12, "UINT64": 13, "COMPLEX64": 14,
    "COMPLEX128": 15, "BFLOAT16": 16,
}  # fmt: skip

ZERO = const(0)
ONE = const(1)

BinOp = Callable[[Val, Val], "Val | None"]


def kind(dtype: int) -> str:
    """``"int"``, ``"float"`` or ``""`` (unknown / not numeric)."""
    if dtype in INT_RANGES:
        return "int"
    if dtype in FLOAT_FORMATS:
        return "float"
    return ""


# -- float formats ----------------------------------------------------------------------------


def round_float(x: Fraction, dtype: int) -> Fraction | None:
    """``x`` rounded to the nearest value of float type ``dtype`` (ties to even); None on overflow."""
    fmt = FORMATS.get(dtype)
    return None if fmt is None else fmt.round(x)


def fits_float(x: Fraction, dtype: int) -> bool:
    return round_float(x, dtype) == x


def round_once(x: Fraction, dtype: int) -> Fraction | None:
    """The runtime's result of one arithmetic operation whose exact result is ``x``: rounded once
    (float32, float64: IEEE 754); the half formats round twice, so only an exact ``x`` is sure."""
    fmt = FORMATS.get(dtype)
    if fmt is None:
        return None
    r = fmt.round(x)
    return r if r == x or fmt.single_rounding else None


def floaty(v: Val) -> bool:
    """An element computed from sizes in a float tensor (or a bare symbolic integer there)."""
    return isinstance(v, FloatSize | FloatRange) or (isinstance(v, Expr) and not v.is_const)


# -- value conversions ------------------------------------------------------------------------


def as_int_expr(v: Val) -> Expr | None:
    """An element as an integer Expr (whole-number Fractions included)."""
    if isinstance(v, Expr):
        return v
    if isinstance(v, Fraction):
        return const(int(v)) if v.denominator == 1 else None
    return None


def as_frac(v: Val) -> Fraction | None:
    """A constant element as a Fraction."""
    if isinstance(v, Expr):
        return Fraction(v.value) if v.is_const else None
    return v if isinstance(v, Fraction) else None


def sign_ge0(d: Expr) -> bool | None:
    """Whether ``d >= 0`` for every size that meets the conditions upstream (``None``: not decided);
    by inspection first."""
    if d.is_const:
        return d.value >= 0
    if d.nonneg():
        return True
    if (-d - 1).nonneg():
        return False
    if d.has_opaque():
        return None
    # monotone in every size: the extreme is at all sizes 1
    up = d.nondecreasing()
    if up or (-d).nondecreasing():
        at_one = d.evaluate({s: 1 for s in d.symbols()})
        if up and at_one >= 0:
            return True
        if not up and at_one < 0:
            return False
    # wherever the conditions upstream hold (inside a rule), decided exactly or by factors
    return current_assume().decide(ge(d, 0))


def truth(v: Val) -> bool | None:
    """The boolean meaning of an element (nonzero), when known."""
    if isinstance(v, FloatSize | FloatRange):
        eq0 = F.compare(v, Fraction(0))[0]
        return None if eq0 is None else not eq0
    if isinstance(v, Expr):
        if v.is_const:
            return v.value != 0
        if sign_ge0(v - 1) or sign_ge0(-v - 1):
            return True
        return None
    return v != 0


def bool_val(b: bool | None) -> Expr | None:
    return None if b is None else (ONE if b else ZERO)


def fit_int(e: Expr, dtype: int) -> Expr | None:
    """``e`` if it is in range for integer type ``dtype`` (constants checked, symbolic only in wide types)."""
    rng = INT_RANGES.get(dtype)
    if rng is None:
        return e if dtype == 0 else None  # unknown element type: integer values pass unchecked
    if e.is_const:
        return e if rng[0] <= e.value <= rng[1] else None
    if dtype not in WIDE_INTS:
        return None
    if rng[0] == 0 and not e.nonneg():
        return None
    return e


def fit(v: Val | None, dtype: int) -> Val | None:
    """Keep ``v`` only if type ``dtype`` holds it exactly."""
    if v is None:
        return None
    k = kind(dtype)
    if isinstance(v, FloatSize | FloatRange):
        return v if k == "float" and v.fmt == FORMATS[dtype] else None
    if k == "int":
        e = as_int_expr(v)
        return None if e is None else fit_int(e, dtype)
    if k == "float":
        if isinstance(v, Expr):
            if v.is_const:
                return v if fits_float(Fraction(v.value), dtype) else None
            return F.from_int(v, FORMATS[dtype])  # fl(v): exact while |v| <= 2**p
        return v if fits_float(v, dtype) else None
    if dtype == 0 and isinstance(v, Expr):
        return v  # unknown element type: only integer results that int and float arithmetic agree on
    return None


# -- integer division ---------------------------------------------------------------------------


def trunc_div(a: Expr, b: Expr) -> Expr | None:
    """``trunc(a / b)`` exactly, or None (a divisor that may be zero or is symbolic and does not divide)."""
    if b.is_const:
        k = b.value
        if k == 0:
            return None
        if a.is_const:
            n = abs(a.value) // abs(k)
            return const(n if (a.value >= 0) == (k > 0) else -n)
        if k < 0:
            inner = trunc_div(a, const(-k))
            return None if inner is None else -inner
        s = sign_ge0(a)
        if s is True:
            return floordiv(a, k)
        if s is False:
            return ceildiv(a, k)
        return emax(floordiv(a, k), emin(0, ceildiv(a, k)))
    q = a.exact_div(b)
    if q is not None and (b.positive_trivially() or (-b).positive_trivially() or _nonzero(b)):
        return q
    return None


def _nonzero(b: Expr) -> bool:
    """``b`` keeps one sign away from zero wherever the conditions upstream hold."""
    return sign_ge0(b - 1) is True or sign_ge0(-b - 1) is True


def floor_mod(a: Expr, b: Expr) -> Expr | None:
    """``a - floor(a/b)*b`` (sign of the divisor) for a constant non-zero divisor."""
    if not b.is_const or b.value == 0:
        return None
    return emod(a, b.value)


def trunc_mod(a: Expr, b: Expr) -> Expr | None:
    """``a - trunc(a/b)*b`` (sign of the dividend, C fmod)."""
    if not b.is_const:
        return None
    q = trunc_div(a, b)
    return None if q is None else a - q * b


def frac_trunc(x: Fraction) -> int:
    return int(x)  # Fraction.__int__ truncates toward zero


# -- element operations by element kind ------------------------------------------------------------


def _num_pair(a: Val, b: Val) -> tuple[Expr, Expr] | tuple[Fraction, Fraction] | None:
    """Both as Exprs when both are whole numbers, else both as Fractions, else None."""
    ea, eb = as_int_expr(a), as_int_expr(b)
    if ea is not None and eb is not None:
        return ea, eb
    fa, fb = as_frac(a), as_frac(b)
    if fa is not None and fb is not None:
        return fa, fb
    return None


def compare(a: Val, b: Val) -> tuple[bool | None, bool | None]:
    """``(a == b, a > b)`` each when decidable for every size."""
    if isinstance(a, FloatSize | FloatRange) or isinstance(b, FloatSize | FloatRange):
        return _compare_float(a, b)
    fa, fb = as_frac(a), as_frac(b)
    if fa is not None and fb is not None:
        return fa == fb, fa > fb
    ea, eb = as_int_expr(a), as_int_expr(b)
    if ea is not None and eb is not None:
        d = ea - eb
        if d.is_const:
            return d.value == 0, d.value > 0
        gt = sign_ge0(d - 1)
        lt = sign_ge0(-d - 1)
        if gt or lt:
            return False, bool(gt)
        return None, (False if sign_ge0(-d) else None)
    # a symbolic integer against a non-integral constant (or the other way around)
    if ea is not None and fb is not None:
        return False, sign_ge0(ea - (fb.numerator // fb.denominator) - 1)
    if eb is not None and fa is not None:
        return False, sign_ge0(-(fa.numerator // -fa.denominator) - eb - 1)  # ceil(fa) - 1 - eb >= 0
    return None, None


def _compare_float(a: Val, b: Val) -> tuple[bool | None, bool | None]:
    """Comparisons with a float computed from sizes: only against a constant."""
    if isinstance(a, FloatSize | FloatRange):
        k = as_frac(b)
        return (None, None) if k is None else F.compare(a, k)
    k = as_frac(a)
    if k is None or not isinstance(b, FloatSize | FloatRange):
        return None, None
    eq_, gt_ = F.compare(b, k)  # k > b  <=>  not (b > k) and not (b == k)
    if gt_ is True or eq_ is True:
        return eq_, False
    return eq_, (True if gt_ is False and eq_ is False else None)


def vmax(a: Val, b: Val) -> Val | None:
    if isinstance(a, FloatSize | FloatRange) or isinstance(b, FloatSize | FloatRange):
        fmt = a.fmt if isinstance(a, FloatSize | FloatRange) else b.fmt  # type: ignore[union-attr]
        return F.binary("Max", a, b, fmt)
    pair = _num_pair(a, b)
    if pair is None:
        return None
    x, y = pair
    if isinstance(x, Expr) and isinstance(y, Expr):
        s = sign_ge0(x - y)
        return x if s else y if s is False else emax(x, y)
    _, gt = compare(a, b)
    if gt is None:
        return None
    return a if gt else b


def vmin(a: Val, b: Val) -> Val | None:
    if isinstance(a, FloatSize | FloatRange) or isinstance(b, FloatSize | FloatRange):
        fmt = a.fmt if isinstance(a, FloatSize | FloatRange) else b.fmt  # type: ignore[union-attr]
        return F.binary("Min", a, b, fmt)
    pair = _num_pair(a, b)
    if pair is None:
        return None
    x, y = pair
    if isinstance(x, Expr) and isinstance(y, Expr):
        s = sign_ge0(x - y)
        return y if s else x if s is False else emin(x, y)
    _, gt = compare(a, b)
    if gt is None:
        return None
    return b if gt else a


def _fpow(x: Fraction, n: int) -> Fraction | None:
    if n < 0 and x == 0:
        return None
    if abs(n) > 64 or (x.numerator.bit_length() + x.denominator.bit_length()) * abs(n) > 4096:
        return None
    return x**n


def arith(op: str, dtype: int, fmod: int = 0) -> BinOp:
    """The exact element function of binary ``op`` on a tensor of element type ``dtype``."""
    k = kind(dtype)

    def add(a: Val, b: Val) -> Val | None:
        pair = _num_pair(a, b)
        if pair is None:
            return None
        x, y = pair
        if op == "Add":
            r: Val = x + y  # type: ignore[operator]
        elif op == "Sub":
            r = x - y  # type: ignore[operator]
        else:
            r = x * y  # type: ignore[operator]
        if k == "float":
            rf = as_frac(r)
            return None if rf is None else round_once(rf, dtype)
        return fit(r, dtype)

    def div(a: Val, b: Val) -> Val | None:
        if not k:  # unknown element type: only quotients that are exact either way
            ea, eb = as_int_expr(a), as_int_expr(b)
            if ea is None or eb is None or not (eb.is_const or eb.positive_trivially()) or eb == 0:
                return None
            return ea.exact_div(eb)
        if k == "int":
            ea, eb = as_int_expr(a), as_int_expr(b)
            if ea is None or eb is None:
                return None
            q = trunc_div(ea, eb)
            return None if q is None else fit_int(q, dtype)
        fa, fb = as_frac(a), as_frac(b)
        if fb is not None:
            if fb == 0:
                return None
            if fa is not None:
                return round_once(fa / fb, dtype)
            ea = as_int_expr(a)
            if ea is None:
                return None
            q = (ea * fb.denominator).exact_div(fb.numerator)  # a / (p/q) = a*q / p
            return None if q is None else fit(q, dtype)
        ea, eb = as_int_expr(a), as_int_expr(b)
        if ea is None or eb is None:
            return None
        q = ea.exact_div(eb)
        if q is None or not (eb.positive_trivially() or (-eb).positive_trivially() or _nonzero(eb)):
            return None
        return fit(q, dtype)

    def mod(a: Val, b: Val) -> Val | None:
        if k == "float":
            fa, fb = as_frac(a), as_frac(b)
            if fa is None or fb is None or fb == 0:
                ea, eb = as_int_expr(a), as_int_expr(b)
                if ea is None or eb is None:
                    return None
                r = floor_mod(ea, eb) if not fmod else trunc_mod(ea, eb)
                return None if r is None else fit(r, dtype)
            q = fa / fb
            n = (q.numerator // q.denominator) if not fmod else frac_trunc(q)
            return fit(fa - n * fb, dtype)
        ea, eb = as_int_expr(a), as_int_expr(b)
        if ea is None or eb is None:
            return None
        r = floor_mod(ea, eb) if not fmod else trunc_mod(ea, eb)
        return None if r is None else fit_int(r, dtype)

    def power(a: Val, b: Val) -> Val | None:
        nb = as_int_expr(b)
        if nb is None or not nb.is_const:
            fa, fb = as_frac(a), as_frac(b)
            if k == "float" and fa is not None and fb is not None and fb.denominator == 2 and fa >= 0:
                return _half_power(fa, fb, dtype)  # Pow(64.0, 0.5): a square root
            return None
        n = nb.value
        if n > 64:
            return None
        ea = as_int_expr(a)
        if ea is not None and n >= 0 and (ea.is_const or n <= 8):
            if ea.is_const and ea.value.bit_length() * n > 256:
                return None
            r = ONE
            for _ in range(n):
                r = r * ea
            return fit(r, dtype)
        if k == "int":
            return None  # negative integer exponents: implementation-defined
        fa = as_frac(a)
        if fa is None:
            return None
        p = _fpow(fa, n)
        return None if p is None else _libm(p, dtype)

    def gt(a: Val, b: Val) -> Val | None:
        return bool_val(compare(a, b)[1])

    def lt(a: Val, b: Val) -> Val | None:
        return bool_val(compare(b, a)[1])

    def ge(a: Val, b: Val) -> Val | None:
        g = compare(b, a)[1]
        return bool_val(None if g is None else not g)

    def le(a: Val, b: Val) -> Val | None:
        g = compare(a, b)[1]
        return bool_val(None if g is None else not g)

    def equal(a: Val, b: Val) -> Val | None:
        return bool_val(compare(a, b)[0])

    def land(a: Val, b: Val) -> Val | None:
        ta, tb = truth(a), truth(b)
        if ta is False or tb is False:
            return ZERO
        return None if ta is None or tb is None else ONE

    def lor(a: Val, b: Val) -> Val | None:
        ta, tb = truth(a), truth(b)
        if ta is True or tb is True:
            return ONE
        return None if ta is None or tb is None else ZERO

    def lxor(a: Val, b: Val) -> Val | None:
        ta, tb = truth(a), truth(b)
        return None if ta is None or tb is None else bool_val(ta != tb)

    def bitwise(a: Val, b: Val) -> Val | None:
        fa, fb = as_frac(a), as_frac(b)
        if fa is None or fb is None or fa.denominator != 1 or fb.denominator != 1:
            return None
        x, y = int(fa), int(fb)
        r = x & y if op == "BitwiseAnd" else x | y if op == "BitwiseOr" else x ^ y
        return fit_int(const(r), dtype)

    table: dict[str, BinOp] = {
        "Add": add, "Sub": add, "Mul": add, "Div": div, "Mod": mod, "Pow": power,
        "Greater": gt, "Less": lt, "GreaterOrEqual": ge, "LessOrEqual": le, "Equal": equal,
        "And": land, "Or": lor, "Xor": lxor, "BitwiseAnd": bitwise, "BitwiseOr": bitwise, "BitwiseXor": bitwise,
        "Max": vmax, "Min": vmin,
    }  # fmt: skip
    fn = table[op]
    if k != "float":
        return fn
    fmt = FORMATS[dtype]

    def floatwise(a: Val, b: Val) -> Val | None:
        """Elements computed from sizes go to their own exact arithmetic."""
        if not (isinstance(a, FloatSize | FloatRange) or isinstance(b, FloatSize | FloatRange)):
            if floaty(a) or floaty(b):  # a bare symbolic integer in a float tensor: fl(e)
                if op in _COMPARE:
                    return fn(a, b)
                a, b = (fit(v, dtype) if floaty(v) else v for v in (a, b))  # type: ignore[assignment]
                if a is None or b is None:
                    return None
            else:
                return fn(a, b)
        if op in _COMPARE:
            return fn(a, b)
        for x, other, swap in ((a, b, False), (b, a, True)):
            if isinstance(x, FloatRange):
                kf = as_frac(other)
                return None if kf is None else F.range_binary(op, x, kf, swap)
        return F.binary(op, a, b, fmt, fmod)

    return floatwise


_COMPARE = frozenset({"Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Equal"})


def _libm(x: Fraction, dtype: int) -> Val | None:
    """The result of the runtime's ``pow``: exact when ``x`` is a value of the format (every libm
    returns those), else known to within an ulp (``pow`` is not correctly rounded everywhere)."""
    fmt = FORMATS.get(dtype)
    if fmt is None:
        return None
    r = fmt.round(x)
    if r is None:
        return None
    if r == x:
        return r
    if not fmt.single_rounding:
        return None
    lo, hi = fmt.round_dir(x, up=False), fmt.round_dir(x, up=True)
    if lo is None or hi is None:
        return None
    return FloatRange(fmt.next_down(lo), fmt.next_up(hi), fmt)


def _half_power(a: Fraction, b: Fraction, dtype: int) -> Val | None:
    """``a ** (n/2)`` for a constant ``a >= 0``: ``sqrt(a**n)``, exact when the root is a value of the
    format, else within an ulp of the irrational root (``int(15 ** 0.5)`` is 3: never an integer)."""
    fmt = FORMATS.get(dtype)
    n = b.numerator
    if fmt is None or abs(n) > 64 or (a == 0 and n < 0):
        return None
    base = _fpow(a, n)
    if base is None:
        return None
    root = sqrt_bounds(base, fmt)
    if root is None:
        return None
    if isinstance(root, Fraction):
        return root
    if not fmt.single_rounding:
        return None
    return FloatRange(fmt.next_down(root[0]), fmt.next_up(root[1]), fmt)


def bitshift(dtype: int, left: bool) -> BinOp:
    rng = INT_RANGES.get(dtype)

    def fn(a: Val, b: Val) -> Val | None:
        fa, fb = as_frac(a), as_frac(b)
        if rng is None or fa is None or fb is None or fa.denominator != 1 or fb.denominator != 1:
            return None
        x, s = int(fa), int(fb)
        bits = (rng[1] - rng[0]).bit_length()
        if s < 0 or s >= bits:
            return const(-1 if (x < 0 and not left) else 0)
        if not left:
            return const(x >> s)
        r = (x << s) & ((1 << bits) - 1)
        if rng[0] < 0 and r > rng[1]:
            r -= 1 << bits
        return const(r)

    return fn


# -- sums and products in float (any evaluation order) ------------------------------------------------


def _two_adic(x: Fraction) -> int | None:
    """The exponent of the lowest set bit of a dyadic rational (None if not dyadic)."""
    d = x.denominator
    if d & (d - 1):
        return None
    n = abs(x.numerator)
    low = (n & -n).bit_length() - 1 if n else 0
    return low - (d.bit_length() - 1)


def float_sum_exact(vals: Sequence[Fraction], dtype: int) -> bool:
    """True when every partial sum, in any order, is exactly representable (so the runtime's sum is exact)."""
    fmt = FLOAT_FORMATS.get(dtype)
    if fmt is None:
        return False
    p, emin_, emax_ = fmt
    nz = [v for v in vals if v != 0]
    if not nz:
        return True
    lows = [_two_adic(v) for v in nz]
    if any(lo is None for lo in lows):
        return False
    q = min(lo for lo in lows if lo is not None)
    bound = sum(abs(v) for v in nz)
    return q >= emin_ - p + 1 and bound / Fraction(2) ** q <= 2**p and bound < Fraction(2) ** (emax_ + 1)


def fold_sum(vals: Sequence[Val], dtype: int, square: bool = False, absolute: bool = False) -> Val | None:
    """The exact sum (of squares / absolute values) of ``vals`` as the runtime computes it, or None."""
    k = kind(dtype)
    ints = [as_int_expr(v) for v in vals]
    if all(e is not None for e in ints):
        total = ZERO
        consts: list[Fraction] = []
        for e in ints:
            assert e is not None
            if absolute and not sign_ge0(e):
                e = emax(e, -e)
            t = e * e if square else e
            total = total + t
            if t.is_const:
                consts.append(Fraction(t.value))
        if k == "float" and total.is_const and not float_sum_exact(consts, dtype):
            return None
        return fit(total, dtype)
    if k != "float":
        return None
    fr: list[Fraction] = []
    for v in vals:
        f = as_frac(v)
        if f is None:
            return None
        if absolute:
            f = abs(f)
        if square:
            f = f * f
            if not fits_float(f, dtype):
                return None
        fr.append(f)
    if not float_sum_exact(fr, dtype):
        return None
    return fit(sum(fr, Fraction(0)), dtype)


def float_prod_exact(vals: Sequence[Fraction], dtype: int) -> bool:
    """True when every partial product, in any order, is exactly representable."""
    fmt = FLOAT_FORMATS.get(dtype)
    if fmt is None:
        return False
    p, emin_, emax_ = fmt
    mant, hi, lo = 1, 0, 0
    for v in vals:
        if v == 0:
            continue
        low = _two_adic(v)
        if low is None:
            return False
        odd = abs(v) / Fraction(2) ** low
        assert odd.denominator == 1
        m = odd.numerator
        mant *= m
        top = low + m.bit_length() - 1  # 2**top <= |v| < 2**(top + 1)
        hi += max(0, top + 1)
        lo += min(0, low)
    return mant.bit_length() <= p and hi <= emax_ + 1 and lo >= emin_ - p + 1


def fold_prod(vals: Sequence[Val], dtype: int) -> Val | None:
    """The exact product of ``vals`` as the runtime computes it, or None."""
    k = kind(dtype)
    ints = [as_int_expr(v) for v in vals]
    if all(e is not None for e in ints):
        total = ONE
        consts: list[Fraction] = []
        for e in ints:
            assert e is not None
            total = total * e
            if e.is_const:
                consts.append(Fraction(e.value))
        if k == "float" and len(consts) == len(ints) and not float_prod_exact(consts, dtype):
            return None
        return fit(total, dtype)
    if k != "float":
        return None
    fr: list[Fraction] = []
    for v in vals:
        f = as_frac(v)
        if f is None:
            return None
        fr.append(f)
    if not float_prod_exact(fr, dtype):
        return None
    total_f = Fraction(1)
    for f in fr:
        total_f *= f
    return fit(total_f, dtype)


def fold(fn: BinOp, vals: Sequence[Val]) -> Val | None:
    acc: Val | None = vals[0]
    for v in vals[1:]:
        if acc is None:
            return None
        acc = fn(acc, v)
    return acc


# -- broadcasting of values -------------------------------------------------------------------------


def small_shape(shape: Sequence[Expr]) -> tuple[int, ...] | None:
    """The shape as ints if it is constant and small enough to carry values."""
    out: list[int] = []
    n = 1
    for d in shape:
        if not d.is_const:
            return None
        v = d.value
        out.append(v)
        n *= v
    return tuple(out) if 0 <= n <= SMALL else None


def numel(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def bindex(out: Sequence[int], shape: Sequence[int]) -> list[int]:
    """For each element of the broadcast shape ``out`` (row-major), the index into a tensor of ``shape``."""
    shape = (1,) * (len(out) - len(shape)) + tuple(shape)
    if tuple(shape) == tuple(out):
        return list(range(numel(out)))
    strides = [0] * len(shape)
    acc = 1
    for i in range(len(shape) - 1, -1, -1):
        strides[i] = acc if shape[i] != 1 else 0
        acc *= shape[i]
    idx = [0]
    for axis, n in enumerate(out):
        st = strides[axis]
        idx = [base + j * st for base in idx for j in range(n)]
    return idx


def broadcast_values(
    out_shape: Sequence[Expr],
    facts: Sequence[Fact],
    fn: Callable[..., Val | None],
    shapes: Sequence[Sequence[int]] | None = None,
) -> tuple[Val, ...] | None:
    """Apply ``fn`` element-wise over broadcast inputs; None unless every input value and result is known.

    ``shapes`` overrides the input shapes used for the index mapping (legacy axis-aligned broadcasting).
    """
    out = small_shape(out_shape)
    if out is None:
        return None
    vals: list[tuple[Val, ...]] = []
    idxs: list[list[int]] = []
    for j, f in enumerate(facts):
        if f.value is None or f.shape is None:
            return None
        s = small_shape(f.shape) if shapes is None else tuple(shapes[j])
        if s is None or len(f.value) != numel(s):
            return None
        vals.append(f.value)
        idxs.append(bindex(out, s))
    res: list[Val] = []
    n = numel(out)
    for i in range(n):
        r = fn(*[v[ix[i]] for v, ix in zip(vals, idxs)])
        if r is None:
            return None
        res.append(r)
    return tuple(res)


def map_values(f: Fact, fn: Callable[[Val], Val | None]) -> tuple[Val, ...] | None:
    if f.value is None:
        return None
    out: list[Val] = []
    for v in f.value:
        r = fn(v)
        if r is None:
            return None
        out.append(r)
    return tuple(out)
