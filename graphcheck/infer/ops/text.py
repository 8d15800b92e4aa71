"""Strings and text features: StringSplit, StringNormalizer, StringConcat, RegexFullMatch,
TfIdfVectorizer, ImageDecoder.

Exact where the spec fixes the size: StringConcat broadcasts (GC003), RegexFullMatch keeps the
shape, TfIdfVectorizer maps ``[C]`` to ``[max(ngram_indexes) + 1]`` and ``[N, C]`` to
``[N, max(ngram_indexes) + 1]``, StringNormalizer without stop words keeps the shape of its
``[C]`` or ``[1, C]`` input. Sizes decided by the data get a fresh unknown (GC104): StringSplit's
substring count, StringNormalizer's count after removing stop words, ImageDecoder's height and width.
"""

from __future__ import annotations

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._common import broadcast
from graphcheck.infer.ops._xutil import BOOL, INT64, STRING, UINT8, require_eq
from graphcheck.infer.registry import Invalid, OpContext, rule
from graphcheck.symbolic.expr import const

FLOAT = 1


@rule("StringSplit", since=20)
def string_split(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if ctx.attr_int("maxsplit", 1) < 0 and "maxsplit" in ctx.node.attrs:
        raise Invalid("maxsplit must be >= 0")
    n = ctx.fresh("substrings")
    ctx.note("GC104", "StringSplit: the number of substrings (the last axis of Y) depends on the strings")
    return [Fact((*x, n), STRING), Fact(x, INT64)]


@rule("StringNormalizer", since=10)
def string_normalizer(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if len(x) == 2:
        require_eq(ctx, x[0], const(1), "GC010", "input axis 0", "StringNormalizer takes [C] or [1, C]")
    elif len(x) != 1:
        raise Invalid(f"StringNormalizer takes a [C] or [1, C] input, got rank {len(x)}")
    action = ctx.attr_str("case_change_action", "NONE")
    if action not in ("NONE", "LOWER", "UPPER"):
        raise Invalid(f"unknown case_change_action {action!r}")
    if not ctx.attr("stopwords"):
        return [Fact(x, STRING)]
    kept = ctx.fresh("kept_strings")
    ctx.note("GC104", "StringNormalizer: the number of strings left after removing stop words depends on the data")
    return [Fact((*x[:-1], kept), STRING)]


@rule("StringConcat", since=20)
def string_concat(ctx: OpContext) -> list[Fact]:
    return [Fact(broadcast(ctx, [ctx.shape(0), ctx.shape(1)]), STRING)]


@rule("RegexFullMatch", since=20)
def regex_full_match(ctx: OpContext) -> list[Fact]:
    return [Fact(ctx.shape(0), BOOL)]


@rule("TfIdfVectorizer", since=9)
def tfidf_vectorizer(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if len(x) not in (1, 2):
        raise Invalid(f"TfIdfVectorizer takes a [C] or [N, C] input, got rank {len(x)}")
    idx = ctx.attr_ints("ngram_indexes")
    if not idx:
        raise Invalid("TfIdfVectorizer needs ngram_indexes")
    if min(idx) < 0:
        raise Invalid("ngram_indexes must be >= 0")
    width = const(max(idx) + 1)
    return [Fact((width,) if len(x) == 1 else (x[0], width), FLOAT)]


_CHANNELS = {"RGB": 3, "BGR": 3, "Grayscale": 1}


@rule("ImageDecoder", since=20)
def image_decoder(ctx: OpContext) -> list[Fact]:
    s = ctx.shape(0)
    if len(s) != 1:
        raise Invalid(f"ImageDecoder takes a 1-D encoded stream, got rank {len(s)}")
    fmt = ctx.attr_str("pixel_format", "RGB")
    if fmt not in _CHANNELS:
        raise Invalid(f"unknown pixel_format {fmt!r}")
    h, w = ctx.fresh("image_height"), ctx.fresh("image_width")
    ctx.note("GC104", "ImageDecoder: the image's height and width depend on the encoded data")
    return [Fact((h, w, const(_CHANNELS[fmt])), UINT8)]
