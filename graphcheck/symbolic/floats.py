"""Exact binary floating point on rationals, and where a model's float arithmetic on sizes is exact.

Exporters compute sizes in float (``math.ceil(h / p) * p`` becomes ``Cast -> Div -> Ceil -> Mul ->
Cast``; ``scale_factor`` with ``recompute_scale_factor`` becomes ``Floor(Cast(h) * 0.7f)``).
Everything here is exact: a float is the :class:`~fractions.Fraction` it encodes, and the runtime's
result of one IEEE 754 operation on exact operands is the exact result rounded once to the nearest
value of the format, ties to even (``FloatFormat.round``), which is what IEEE 754 requires of
``+ - * /`` and ``sqrt`` (and what onnxruntime's CPU kernels do: SSE/AVX arithmetic, no
flush-to-zero of these magnitudes).

**Values** (the elements of a float tensor computed from sizes, kept by the analysis):

* :class:`FloatSize` ``fl(e * c)``: an integer expression ``e`` of the sizes times an exact rational
  ``c``, rounded once, wherever ``pre`` holds; equal to ``e * c`` itself where ``exact`` holds too.
* :class:`FloatRange`: a constant known to lie in ``[lo, hi]`` (``Pow(15.0, 0.5)``: ``sqrt`` of a
  non-square is not an integer, the runtime holds some float within an ulp of it).

**The floor of a rounded product** (:func:`snap`). ``floor(fl(e*c))`` is not ``floor(e*c)`` in
general: ``fl(10 * 0.7f)`` is exactly 7.0 in float32 although ``10 * 0.7f = 6.99999988...``. What
holds is a statement about a nearby simple rational ``a/b``, proven below for every integer
``0 <= e <= E``. Notation: ``p`` the format's precision (24 for float32), ``x = e*c`` (exact),
``v = fl(x)``, ``y = e*a/b`` (the "intended" value), ``D = c - a/b`` (signed), ``r = b*|D|/a``.

*Lemma 1.* Every integer ``n`` with ``|n| <= 2**p`` is a value of the format; for ``x`` in the
normal range ``|fl(x) - x| <= ulp(x)/2 <= |x| * 2**-p``, below it ``|fl(x) - x| <= 2**(emin - p)``;
``fl`` is monotone and fixes every value of the format.

*Theorem.* Let ``beta = 1/b`` (floor, ceil) or ``1/(2b)`` (round half to even), and suppose
``E*|D| + max(E*c*2**-p, 2**(emin-p)) < beta`` (*) and ``E*a/b < 2**p`` (``2**(p-1)`` for round,
so that ``K`` and ``K + 1/2`` below are values). Then for
``0 <= e <= E``:

1. *y is not an integer (floor, ceil), not an integer + 1/2 (round):* ``floor(v) = floor(y)``,
   ``ceil(v) = ceil(y)``, ``round(v) = round(y)``. Proof: ``y = (e*a)/b`` is at distance at least
   ``1/b`` from every integer (at least ``1/(2b)`` from every half-integer), and
   ``|v - y| <= |v - x| + |x - y| <= max(|x|*2**-p, 2**(emin-p)) + e*|D| < beta`` by Lemma 1 and
   (*), so ``v`` lies strictly between the same two integers (half-integers) as ``y``.
2. *y = K is an integer (the half-integer case of round is the same with K + 1/2):* ``x = K + e*D``.
   ``K`` is a value (Lemma 1, ``K <= E*a/b < 2**p``) and ``|v - K| < beta <= 1``. If ``D = 0``,
   ``v = K``. Otherwise, since ``e = K*b/a``, ``|x - K| = K*r``; with ``2**j <= K < 2**(j+1)``, the
   gap from ``K`` to its neighbours is ``2**(j-p+1)`` (below a power of two ``2**(j-p)``).
   If ``r <= 2**(-p-1)``: ``|x - K| < 2**(j+1)*r <= 2**(j-p)``, under half the gap (at a power of
   two ``2**j * r <= 2**(j-p-1)``, half the gap below, a tie at worst, which goes to ``K``, whose
   significand is even): ``v = K``, exactly as if ``c`` were ``a/b``.
   If ``r > 2**-p``: ``|x - K| >= 2**j * r > 2**(j-p)``, over half the gap on either side: ``v``
   leaves ``K`` on the side of ``x`` (and stays within ``1`` of it): ``floor(v) = K - 1`` when
   ``D < 0``, ``ceil(v) = K + 1`` when ``D > 0`` (``e >= 1``), and round goes half-down / half-up.
   Between the two (``2**(-p-1) < r <= 2**-p``) the outcome depends on where ``K`` lies in its
   binade: no uniform formula, no answer (the candidate is skipped).

So ``floor(v) = floor((a*e + t)/b)`` with ``t = 0`` or ``-1``, ``ceil(v) = ceil((a*e + t)/b)`` with
``t = 0`` or ``1``, ``round(v)`` is round-half-even, -up or -down of ``a*e/b``, for ``e`` up to a
bound ``E`` computed exactly from (*). Candidates ``a/b`` are the continued-fraction convergents of
``c`` (``c`` itself among them); the one proving the largest ``E`` is kept. For ``c = 0.7f =
11744051/2**24`` that is ``7/10`` with ``t = 0`` up to ``e = 1864135``; for ``c = 1/2`` or ``1/3``
(``Div`` by 2.0 or 3.0) it is ``c`` itself up to ``e = 2**24 - 1``. Past ``E`` the analysis says
"unknown" (GC110), never a guess.

*Theorem 2 (integers added after the rounding).* Let ``c = a/b`` exactly, ``v0 = fl(e*c)`` and
``v_i = fl(v_(i-1) + k_i)`` for integers ``k_1 .. k_h`` (``n/3 + 1`` in EnCodec's padding), ``K =
k_1 + ... + k_h``, ``S = |k_1| + ... + |k_h|``, ``x = e*c + K``, ``u = 2**-p``, ``t = 2**(emin-p)``.
If ``M = E*c + S`` meets ``(1+h) * (u*M + t) < beta * (1 - (1+h)*u)`` and ``M < 2**(p-1)``, then
for ``|e| <= E``: floor, ceil and round of ``v_h`` are those of ``x``. Proof: let ``Delta`` bound
``|v_i - x_i|`` for every partial exact value ``x_i`` (each at most ``M`` in magnitude). Each of
the ``h + 1`` roundings is applied to a computed value of magnitude at most ``M + Delta`` and errs
by at most ``u*(M + Delta) + t`` (Lemma 1), so ``Delta <= (1+h)*(u*(M + Delta) + t)``, i.e.
``Delta <= (1+h)*(u*M + t) / (1 - (1+h)*u) < beta``. If ``x`` is
an integer (or, for round, an integer + 1/2), so is ``e*c`` (``K`` is an integer), which is then a
value (``|e*c| < 2**(p-1)``), and so is every partial sum: ``v_h = x`` exactly. Otherwise ``x`` is at
least ``1/b`` from every integer (``1/(2b)`` from every half-integer) and ``v_h`` stays on its side.
``tests/symbolic/test_floats.py`` checks every claim against numpy's float16 (exhaustively), float32
and float64 arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import isqrt

from graphcheck.symbolic.cond import TRUE, Cond
from graphcheck.symbolic.expr import Expr

__all__ = [
    "FloatFormat",
    "FLOAT16",
    "BFLOAT16",
    "FLOAT32",
    "FLOAT64",
    "FloatSize",
    "FloatRange",
    "Snap",
    "snap",
    "chain_limit",
    "sqrt_bounds",
    "convergents",
]


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE 754 binary format: ``p`` bits of precision (the implicit one included), normal
    exponents ``emin .. emax``."""

    name: str
    p: int
    emin: int
    emax: int
    # the runtime rounds the result of each arithmetic operation once to this format (IEEE 754).
    # False for the half formats: onnxruntime's CPU kernels compute them in float32 and round again,
    # so only results that are values of the format (exact ones) are certain
    single_rounding: bool = True

    @property
    def int_limit(self) -> int:
        """Every integer of magnitude up to this is a value of the format (``2**p``)."""
        return 1 << self.p

    @property
    def tiny(self) -> Fraction:
        """The smallest positive (subnormal) value."""
        return Fraction(1, 1 << (self.p - 1 - self.emin))

    def _exponent(self, a: Fraction) -> int:
        """``floor(log2 a)`` for ``a > 0``, at least ``emin`` (the subnormal range shares it)."""
        e = a.numerator.bit_length() - a.denominator.bit_length()
        if Fraction(2) ** e > a:
            e -= 1
        return max(e, self.emin)

    def ulp_at(self, a: Fraction) -> Fraction:
        """The spacing of the format's values in the binade of ``a > 0``."""
        return Fraction(2) ** (self._exponent(a) - self.p + 1)

    def round(self, x: Fraction) -> Fraction | None:
        """``x`` rounded to the nearest value, ties to even; None on overflow."""
        return self._round(x, "even")

    def round_dir(self, x: Fraction, up: bool) -> Fraction | None:
        """``x`` rounded toward +inf (``up``) or -inf; None on overflow."""
        return self._round(x, "up" if up else "down")

    def _round(self, x: Fraction, how: str) -> Fraction | None:
        if x == 0:
            return Fraction(0)
        a = abs(x)
        q = self.ulp_at(a)
        n = a / q
        if how == "even":
            k = round(n)  # Fraction.__round__: ties to even
        else:
            away = (how == "up") == (x > 0)  # rounding |x| up or down
            k = -(-n.numerator // n.denominator) if away else n.numerator // n.denominator
        r = k * q
        if r >= Fraction(2) ** (self.emax + 1):
            return None
        return r if x > 0 else -r

    def holds(self, x: Fraction) -> bool:
        return self.round(x) == x

    def next_up(self, x: Fraction) -> Fraction:
        """The next value above ``x`` (``x`` a value of the format)."""
        if x < 0:
            return -self.next_down(-x)
        if x == 0:
            return self.tiny
        return x + self.ulp_at(x)

    def next_down(self, x: Fraction) -> Fraction:
        if x <= 0:
            return -self.next_up(-x)
        below = x - self.tiny  # the binade just under x (x may be a power of two)
        return x - self.ulp_at(below) if below > 0 else Fraction(0)


FLOAT16 = FloatFormat("float16", 11, -14, 15, single_rounding=False)
BFLOAT16 = FloatFormat("bfloat16", 8, -126, 127, single_rounding=False)
FLOAT32 = FloatFormat("float32", 24, -126, 127)
FLOAT64 = FloatFormat("float64", 53, -1022, 1023)


@dataclass(frozen=True)
class FloatSize:
    """A float element computed from sizes: ``fl(e * c)``, the exact ``e * c`` (``e`` an integer
    expression, ``c > 0`` rational) rounded once to ``fmt``, wherever ``pre`` holds (the operands of
    that one rounding were exact there); ``e * c`` itself (a value of ``fmt``) where ``exact`` holds
    too (None: not known to be a value). With ``hops``, integers were added after that rounding
    (``ceil(L / 3 + 1)``), each sum rounded again."""

    e: Expr
    c: Fraction
    fmt: FloatFormat
    pre: Cond = TRUE
    exact: Cond | None = None
    # integers added after the rounding, each add rounded again: ``fl(...fl(fl(e*c) + k1)... + kh)``
    # with ``shift = k1 + ... + kh``, ``spread = |k1| + ... + |kh|`` and ``hops = h`` (Theorem 2)
    shift: int = 0
    spread: int = 0
    hops: int = 0

    def __str__(self) -> str:
        if self.c == 1:
            inner = str(self.e)
        elif self.c.numerator == 1:
            inner = f"({self.e}) / {self.c.denominator}"
        else:
            inner = f"({self.e}) * {self.c}"
        if self.hops:
            inner = f"{inner} + {self.shift}"
        return f"{self.fmt.name}({inner})"


@dataclass(frozen=True)
class FloatRange:
    """A float constant known only to lie in ``[lo, hi]`` (both values of ``fmt``): the result of an
    operation whose exact result is not a value of the format and whose rounding is not pinned down
    (``Pow`` is computed by the runtime's libm, within an ulp)."""

    lo: Fraction
    hi: Fraction
    fmt: FloatFormat

    def __str__(self) -> str:
        return f"{self.fmt.name} in [{float(self.lo)!r}, {float(self.hi)!r}]"


# -- the floor of a rounded product -------------------------------------------------------------


@dataclass(frozen=True)
class Snap:
    """``floor``/``ceil``/``round`` (``kind``) of ``fl(e*c)`` as a function of the integer ``e``,
    proven for ``0 <= e <= limit`` (``1 <= e`` when ``positive``): with ``n = a*e + shift``,

    * ``floor``: ``floor(n / b)``; ``ceil``: ``ceil(n / b)``;
    * ``even`` / ``half_up`` / ``half_down``: ``n / b`` rounded to the nearest integer, ties to
      even / up / down.
    """

    kind: str
    a: int
    b: int
    shift: int
    limit: int
    positive: bool

    def apply(self, e: int) -> int:
        """The proven value at ``e`` (for the tests; the analysis builds the same as an expression)."""
        n = self.a * e + self.shift
        b = self.b
        if self.kind == "floor":
            return n // b
        if self.kind == "ceil":
            return -(-n // b)
        up = (2 * n + b) // (2 * b)  # half up
        if self.kind == "half_up":
            return up
        down = -(-(2 * n - b) // (2 * b))  # half down
        if self.kind == "half_down":
            return down
        return up if up == down or up % 2 == 0 else down


def convergents(c: Fraction, max_den: int) -> list[Fraction]:
    """The continued-fraction convergents of ``c > 0`` with denominators up to ``max_den`` (``c``
    itself last when its denominator fits)."""
    out: list[Fraction] = []
    h0, h1, k0, k1 = 0, 1, 1, 0
    x = c
    for _ in range(200):
        q = x.numerator // x.denominator
        h0, h1 = h1, q * h1 + h0
        k0, k1 = k1, q * k1 + k0
        if k1 > max_den:
            break
        out.append(Fraction(h1, k1))
        frac = x - q
        if frac == 0:
            break
        x = 1 / frac
    return out


def _limit(c: Fraction, a: int, b: int, beta: Fraction, fmt: FloatFormat, top_bits: int) -> int:
    """The largest ``E`` meeting (*) and ``E*a/b < 2**top_bits`` (module docstring); -1 if none."""
    d = abs(c - Fraction(a, b))
    sub = Fraction(2) ** (fmt.emin - fmt.p)
    if sub >= beta:
        return -1
    slope = d + c * Fraction(2) ** -fmt.p  # E*|D| + E*c*2**-p < beta
    bound = beta / slope
    if d:
        bound = min(bound, (beta - sub) / d)  # E*|D| + 2**(emin-p) < beta
    e_max = -(-bound.numerator // bound.denominator) - 1  # the largest integer below bound
    top = Fraction(2**top_bits * b, a)  # E*a/b < 2**top_bits: K (floor, ceil), K + 1/2 (round) are values
    return min(e_max, -(-top.numerator // top.denominator) - 1)


def _kind(mode: str, c: Fraction, a: int, b: int, fmt: FloatFormat) -> tuple[str, int, bool] | None:
    """The formula that holds uniformly for candidate ``a/b`` (case 2 of the theorem): the kind, the
    shift and whether ``e >= 1`` is needed; None when it depends on the binade."""
    d = c - Fraction(a, b)
    r = abs(d) * b / a
    snaps = d == 0 or r <= Fraction(1, 2 ** (fmt.p + 1))
    leaves = r > Fraction(1, 2**fmt.p)
    if mode == "floor":
        if d >= 0 or snaps:
            return "floor", 0, False
        return ("floor", -1, True) if leaves else None
    if mode == "ceil":
        if d <= 0 or snaps:
            return "ceil", 0, False
        return ("ceil", 1, True) if leaves else None
    if snaps:
        return "even", 0, False
    if leaves:
        return ("half_up" if d > 0 else "half_down"), 0, False
    return None


def snap(c: Fraction, fmt: FloatFormat, mode: str) -> Snap | None:
    """How ``floor`` (``mode="floor"``), ``ceil`` or ``round`` (half to even) of ``fl(e*c)`` depends
    on the integer ``e >= 0``, for ``c > 0``: the candidate proving the largest range (module
    docstring), or None when none proves any."""
    assert c > 0 and mode in ("floor", "ceil", "round")
    if not fmt.single_rounding:
        return None
    beta_scale = 2 if mode == "round" else 1
    best: Snap | None = None
    for cand in convergents(c, fmt.int_limit):
        a, b = cand.numerator, cand.denominator
        if a == 0:
            continue
        if best is not None and (fmt.int_limit * c.denominator) // (b * c.numerator) <= best.limit:
            break  # (*) caps E below 2**p/(b*c), and later convergents have larger b
        form = _kind(mode, c, a, b, fmt)
        if form is None:
            continue
        e_max = _limit(c, a, b, Fraction(1, beta_scale * b), fmt, fmt.p - beta_scale + 1)
        if e_max < (1 if form[2] else 0):
            continue
        if best is None or e_max > best.limit:
            best = Snap(form[0], a, b, form[1], e_max, form[2])
    return best


def chain_limit(c: Fraction, fmt: FloatFormat, hops: int, spread: int, mode: str) -> int:
    """Theorem 2's largest ``E`` for ``c = a/b`` (its own denominator), ``h = hops`` integers of total
    magnitude ``S = spread`` added after the rounding (-1 if none)."""
    if not fmt.single_rounding or c <= 0:
        return -1
    beta = Fraction(1, c.denominator * (2 if mode == "round" else 1))
    k = 1 + hops
    u, t = Fraction(1, 2**fmt.p), Fraction(2) ** (fmt.emin - fmt.p)
    if k * u >= Fraction(1, 2):
        return -1
    room = (beta * (1 - k * u) / k - t) / u  # M < room
    room = min(room, Fraction(2 ** (fmt.p - 1)) - 1)  # M < 2**(p-1)
    bound = (room - spread) / c  # E*c + S <= room (strictly below the first bound: room is exclusive)
    if bound <= 0:
        return -1
    return -(-bound.numerator // bound.denominator) - 1


# -- square roots --------------------------------------------------------------------------------


def _sqrt_floor_scaled(x: Fraction, k: int) -> int:
    """``floor(sqrt(x) * 2**k)`` exactly."""
    return isqrt((x.numerator << (2 * k)) // x.denominator)


def sqrt_bounds(x: Fraction, fmt: FloatFormat) -> Fraction | tuple[Fraction, Fraction] | None:
    """``sqrt(x)`` for ``x >= 0``: the exact value when it is a value of ``fmt``, else the two values
    of ``fmt`` on either side of it (``sqrt`` of a non-square is irrational); None on overflow."""
    if x < 0:
        return None
    n, d = isqrt(x.numerator), isqrt(x.denominator)
    if n * n == x.numerator and d * d == x.denominator:
        if fmt.holds(Fraction(n, d)):
            return Fraction(n, d)
    # an approximation from below good to far more bits than the format holds, then the values
    # around it; a value of the format is never strictly between them and sqrt(x) (checked by squares)
    k = 2 * fmt.p + max(0, -(x.numerator.bit_length() - x.denominator.bit_length()) // 2) + 8
    approx = Fraction(_sqrt_floor_scaled(x, k), 1 << k)
    lo = fmt.round_dir(approx, up=False)
    if lo is None:
        return None
    while lo * lo > x:
        lo = fmt.next_down(lo)
    hi = fmt.next_up(lo)
    while hi * hi < x:
        lo, hi = hi, fmt.next_up(hi)
    return lo, hi
