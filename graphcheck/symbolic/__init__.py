"""The symbolic algebra: the bottom of the house; it knows nothing of ONNX.

Dimension expressions (:mod:`.expr`: integer polynomials over size symbols with floor division
by constants and min/max, and how they are printed), conditions on them (:mod:`.cond`), exact
sets of integers (:mod:`.intset`: unions of periodic intervals, and their wording), and the
solvers that turn conditions into sets (:mod:`.usolve` for one size, :mod:`.solve` for several);
:mod:`.dimtext` is the grammar expressions are written in for other tools (``graphcheck annotate``),
with its evaluator.

May import: the standard library and :mod:`graphcheck.errors`. Nothing else of graphcheck.
"""
