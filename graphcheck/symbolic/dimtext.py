"""The grammar of the dims ``graphcheck annotate`` writes, and an evaluator for it.

A symbolic dim (an ONNX ``dim_param``) written by graphcheck is an exact integer expression over
the model inputs' own dim names, in this grammar (the text graphcheck prints)::

    dim      :=  sum
    sum      :=  product (("+" | "-") product)*
    product  :=  unary (("*" | "%") unary)*
    unary    :=  "-" unary | power
    power    :=  atom ("^" INT)?
    atom     :=  INT | NAME | "(" sum ")"
              |  "floor" "(" sum "/" sum ")" | "ceil" "(" sum "/" sum ")"
              |  "min" "(" sum ("," sum)+ ")" | "max" "(" sum ("," sum)+ ")"
    NAME     :=  [A-Za-z_][A-Za-z0-9_]*        (a name followed by "(" is a function)

Integers are exact and unbounded; ``floor(a / b)`` and ``ceil(a / b)`` divide exactly and round
down / up; ``a % b`` is ``a - b*floor(a / b)`` (never negative for ``b > 0``); ``a^k`` is a power by
a non-negative integer constant; ``*`` and ``%`` bind tighter than ``+`` and ``-`` and associate to
the left, as in Python. A dim that is exactly one of the inputs' dim names is that size, whatever
characters the name holds (exporters' names are not always identifiers). A size decided by the data
(NonZero, NonMaxSuppression, Unique, ...) is a name of its own, ``data_<what>_<n>``, listed with the
node it comes from in the model's ``metadata_props`` (``graphcheck.data.<name>``).

``evaluate("floor((L - 6) / 2) + 1", {"L": 20})`` gives 8; ``names(text)`` the names a dim reads.
No ``eval``: the text is parsed by the recursive-descent parser below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DimSyntaxError", "Dim", "parse", "names", "evaluate"]

_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_]*)|(\S))")
_FUNCS = {"floor": 2, "ceil": 2, "min": 0, "max": 0}  # the division functions take "a / b"
MAX_LENGTH = 1 << 16  # characters of a dim text parsed (graphcheck's own stay far below)
MAX_NESTING = 200  # parentheses and calls nested in one another


class DimSyntaxError(ValueError):
    """The text is not a dim of the grammar."""


@dataclass(frozen=True)
class Dim:
    """A parsed dim: ``op`` is ``"int"``, ``"name"``, ``"+"``, ``"-"``, ``"*"``, ``"%"``, ``"neg"``,
    ``"^"``, ``"floor"``, ``"ceil"``, ``"min"`` or ``"max"``; ``args`` its operands (an int or a name
    for the leaves)."""

    op: str
    args: tuple[object, ...]

    def names(self) -> frozenset[str]:
        if self.op == "name":
            return frozenset((str(self.args[0]),))
        out: frozenset[str] = frozenset()
        for a in self.args:
            if isinstance(a, Dim):
                out |= a.names()
        return out

    def evaluate(self, sizes: Mapping[str, int]) -> int:
        op, args = self.op, self.args
        if op == "int":
            return int(args[0])  # type: ignore[call-overload]
        if op == "name":
            name = str(args[0])
            if name not in sizes:
                raise KeyError(name)
            return int(sizes[name])
        vals = [a.evaluate(sizes) for a in args if isinstance(a, Dim)]
        if op == "neg":
            return -vals[0]
        if op == "^":
            return vals[0] ** int(args[1])  # type: ignore[call-overload]
        if op == "min":
            return min(vals)
        if op == "max":
            return max(vals)
        a, b = vals
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            raise ZeroDivisionError(f"{op} by zero")
        if op == "%":
            return a % b
        if op == "floor":
            return a // b
        return -(-a // b)  # ceil


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_LENGTH:
            raise DimSyntaxError(f"a dim of {len(text)} characters (at most {MAX_LENGTH})")
        self.text = text
        self.toks: list[tuple[str, str]] = []
        pos = 0
        for m in _TOKEN.finditer(text):
            if m.group(1) is not None:
                self.toks.append(("int", m.group(1)))
            elif m.group(2) is not None:
                self.toks.append(("name", m.group(2)))
            else:
                self.toks.append(("op", m.group(3)))
            pos = m.end()
        if text[pos:].strip():
            raise DimSyntaxError(f"unexpected text {text[pos:]!r} in {text!r}")
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, op: str) -> bool:
        t = self.peek()
        if t is not None and t == ("op", op):
            self.i += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.take(op):
            t = self.peek()
            got = t[1] if t is not None else "the end"
            raise DimSyntaxError(f"expected {op!r}, got {got!r} in {self.text!r}")

    def dim(self) -> Dim:
        d = self.sum()
        if self.peek() is not None:
            raise DimSyntaxError(f"unexpected {self.peek()[1]!r} in {self.text!r}")  # type: ignore[index]
        return d

    def sum(self) -> Dim:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise DimSyntaxError(f"nested more than {MAX_NESTING} deep")
        d = self.product()
        while True:
            if self.take("+"):
                d = Dim("+", (d, self.product()))
            elif self.take("-"):
                d = Dim("-", (d, self.product()))
            else:
                self.depth -= 1
                return d

    def product(self) -> Dim:
        d = self.unary()
        while True:
            if self.take("*"):
                d = Dim("*", (d, self.unary()))
            elif self.take("%"):
                d = Dim("%", (d, self.unary()))
            else:
                return d

    def unary(self) -> Dim:
        if self.take("-"):
            return Dim("neg", (self.unary(),))
        d = self.atom()
        if self.take("^"):
            t = self.peek()
            if t is None or t[0] != "int":
                raise DimSyntaxError(f"'^' takes an integer exponent in {self.text!r}")
            self.i += 1
            d = Dim("^", (d, int(t[1])))
        return d

    def atom(self) -> Dim:
        t = self.peek()
        if t is None:
            raise DimSyntaxError(f"unexpected end of {self.text!r}")
        kind, text = t
        self.i += 1
        if kind == "int":
            return Dim("int", (int(text),))
        if kind == "name":
            if not self.take("("):
                return Dim("name", (text,))
            if text not in _FUNCS:
                raise DimSyntaxError(f"unknown function {text!r} in {self.text!r}")
            if _FUNCS[text] == 2:
                num = self.sum()
                self.expect("/")
                den = self.sum()
                self.expect(")")
                return Dim(text, (num, den))
            args = [self.sum()]
            while self.take(","):
                args.append(self.sum())
            self.expect(")")
            if len(args) < 2:
                raise DimSyntaxError(f"{text} takes two or more arguments in {self.text!r}")
            return Dim(text, tuple(args))
        if text == "(":
            d = self.sum()
            self.expect(")")
            return d
        raise DimSyntaxError(f"unexpected {text!r} in {self.text!r}")


def parse(text: str) -> Dim:
    """Parse a dim of the grammar (raises :class:`DimSyntaxError`)."""
    return _Parser(text).dim()


def names(text: str, known: Mapping[str, object] | frozenset[str] | set[str] = frozenset()) -> frozenset[str]:
    """The names a dim reads (a text equal to one of ``known`` is that one name)."""
    if text in known:
        return frozenset((text,))
    return parse(text).names()


def evaluate(text: str, sizes: Mapping[str, int]) -> int:
    """The value of a dim at ``sizes`` (name -> size); raises KeyError for a name not given."""
    if text in sizes:
        return int(sizes[text])
    return parse(text).evaluate(sizes)
