"""What the compiled matcher's stale-build guard costs at every start-up, and the A/B of matching.

bot/matching/compiled.py runs once per process, before any matching module is
imported: it reads the build manifest and hashes the compiled modules' sources
(README, "Performance: the compiled matcher"). This prints its CPU time in a
fresh interpreter (best of --runs; json, hashlib and logging are imported first,
as the bot imports them anyway), then, with --match, the matching throughput of
this build against NEWSWATCH_PURE_PYTHON=1 (the .py sources), alternating, CPU
time, on bench/match_speed.py's corpus.

    python bench/matcher_guard.py [--runs 7] [--match] [--items 5000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

GUARD = """
import importlib.util, json, hashlib, logging, pathlib, sys, time
path = sys.argv[1]
t0 = time.process_time()
spec = importlib.util.spec_from_file_location("guard_probe", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t1 = time.process_time()
module.guard(module.HERE)
t2 = time.process_time()
print(t1 - t0, t2 - t1, module.forced_reason)
"""

MATCH = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("match_speed", sys.argv[1])
bench = importlib.util.module_from_spec(spec)
sys.modules["match_speed"] = bench
spec.loader.exec_module(bench)
from bot.matching.compiled import status
from bot.matching.matcher import Matcher
n = int(sys.argv[2])
drafts, vocab = bench.make_drafts(7, n)
entities = bench.make_watchlist(7, 10_000, vocab.all_words())
items = bench.plant(drafts, entities, 7, 10_000)
matcher = Matcher(entities)
for item in items[:200]:
    matcher.match_text(item.title, item.summary)
best = float("inf")
for _ in range(3):
    t = time.process_time()
    for item in items:
        matcher.match_text(item.title, item.summary)
    best = min(best, time.process_time() - t)
print(status(), "|", round(n / best))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--match", action="store_true", help="also A/B matching throughput")
    parser.add_argument("--items", type=int, default=5000)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    guard = str(ROOT / "bot" / "matching" / "compiled.py")
    runs = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", GUARD, guard],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split(maxsplit=2)
        runs.append((float(out[0]), float(out[1]), out[2].strip()))
    load, check = min(r[0] for r in runs[1:] or runs), min(r[1] for r in runs[1:] or runs)
    print(
        f"stale-build guard, CPU, best of {args.runs} fresh interpreters (bytecode cached): "
        f"import {load * 1e3:.2f} ms + check {check * 1e3:.2f} ms "
        f"(forced: {runs[-1][2]})"
    )
    if not args.match:
        return
    print(f"matching, 10,000 aliases, {args.items:,} items, CPU, best of 3 passes, alternating:")
    speed = str(ROOT / "bench" / "match_speed.py")
    for _ in range(3):
        for pure in ("", "1"):
            run_env = {**env, "NEWSWATCH_PURE_PYTHON": pure} if pure else env
            out = subprocess.run(
                [sys.executable, "-c", MATCH, speed, str(args.items)],
                env=run_env,
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout.strip()
            name, rate = out.rsplit("|", 1)
            print(f"  {name.strip():<50} {int(rate):>8,} items/s")


if __name__ == "__main__":
    main()
