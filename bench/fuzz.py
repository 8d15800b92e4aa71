"""The long fuzz run: hostile and odd models through graphcheck, each in a worker subprocess with a
per-input timeout and an address-space cap (README, "Budgets and bounds").

    python bench/fuzz.py                          # 10,000 inputs from seed 0 (about 20 min on 2 cores)
    python bench/fuzz.py --count 1 --seed 1467    # replay one input
    python bench/fuzz.py --keep bench/out/fuzz    # keep every input that fails, with its traceback
    python bench/fuzz.py --generators finding_chain mod_primes --count 300   # only these generated graphs
    python bench/fuzz.py --atheris -- -max_total_time=3600   # coverage-guided, in process (pip install atheris)

Inputs come from ``tests/fuzz/corpus.py`` (mutated protobufs and generated graphs; deterministic in
the seed); the worker (``tests/fuzz/harness.py``) checks each model, renders it as text and JSON,
explains it at random sizes (with the fix search), sometimes with onnxruntime's semantics and through
the command line. Each input ends as a report, a clean error (one line, exit 2), a traceback, a hang
(no answer within ``--timeout`` seconds) or a crash (the worker died). The summary gives the counts,
the peak resident memory of any one input and the slowest input; the exit code is 1 when any input
was a traceback, a hang or a crash.

The atheris mode feeds libFuzzer's mutations of the corpus seeds to ``graphcheck.check`` and the
renderings in this process: a GraphcheckError is the expected clean error, anything else is reported
by atheris as a crash with its input saved; libFuzzer's ``-timeout`` and ``-rss_limit_mb`` bound each
input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzz.harness import MEMORY_LIMIT, TIMEOUT, campaign  # noqa: E402


def _atheris(argv: list[str]) -> None:
    import atheris  # optional: pip install atheris

    import graphcheck
    import graphcheck.api
    import graphcheck.infer.engine
    import graphcheck.model.load
    import graphcheck.render.json
    import graphcheck.render.text  # noqa: F401  (loaded before instrumenting: the whole pipeline is covered)
    from graphcheck.errors import GraphcheckError
    from tests.fuzz.corpus import file_seeds

    atheris.instrument_all()

    corpus_dir = ROOT / "bench" / "out" / "atheris-corpus"
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(file_seeds()):
        (corpus_dir / f"seed{i}.onnx").write_bytes(data)

    def one(data: bytes) -> None:
        try:
            rep = graphcheck.check(data)
        except GraphcheckError:
            return
        str(rep)
        json.dumps(rep.to_dict())

    atheris.Setup([sys.argv[0], *argv, str(corpus_dir)], one)
    atheris.Fuzz()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0, help="the first seed (inputs are seeds seed..seed+count-1)")
    ap.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per input before it is a hang")
    ap.add_argument("--memory", type=int, default=MEMORY_LIMIT >> 20, help="the worker's address-space cap, MB")
    ap.add_argument("--keep", type=Path, help="directory for the inputs that fail (and their tracebacks)")
    ap.add_argument("--json", type=Path, help="write every outcome here")
    ap.add_argument("--atheris", action="store_true", help="coverage-guided fuzzing in process (needs atheris)")
    ap.add_argument(
        "--generators",
        nargs="+",
        metavar="NAME",
        help="only graphs from these generators of tests/fuzz/corpus.py (finding_chain, mod_primes, conv_stack, ...)",
    )
    ap.add_argument("rest", nargs="*", help="with --atheris: libFuzzer's options (after --)")
    args = ap.parse_args()
    if args.atheris:
        _atheris(args.rest)
        return 0
    t0 = time.perf_counter()
    seeds = range(args.seed, args.seed + args.count)
    if args.generators:
        import random

        from tests.fuzz import corpus
        from tests.fuzz.harness import run_inputs

        gens = [getattr(corpus, g) for g in args.generators]
        inputs = (
            (s, gens[s % len(gens)].__name__, gens[s % len(gens)](random.Random(s)).SerializeToString()) for s in seeds
        )
        stats = run_inputs(inputs, timeout=args.timeout, memory=args.memory << 20, keep=args.keep, progress=True)
    else:
        stats = campaign(seeds, timeout=args.timeout, memory=args.memory << 20, keep=args.keep, progress=True)
    wall = time.perf_counter() - t0
    print(stats.summary())
    by_family = Counter((o.family, o.kind) for o in stats.outcomes)
    for (family, kind), n in sorted(by_family.items()):
        print(f"  {family:15} {kind:10} {n}")
    times = sorted(o.seconds for o in stats.outcomes if o.kind in ("report", "error"))
    if times:
        print(f"  time per input: median {times[len(times) // 2]:.3f} s, 99th percentile "
              f"{times[int(len(times) * 0.99)]:.2f} s, max {times[-1]:.2f} s; wall {wall:.0f} s")  # fmt: skip
    for o in stats.defects:
        print(f"  {o.kind} seed {o.seed} ({o.family}): {o.detail.strip().splitlines()[-1:]}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([o.__dict__ for o in stats.outcomes]))
    return 1 if stats.defects else 0


if __name__ == "__main__":
    sys.exit(main())
