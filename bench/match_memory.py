"""How much memory the matcher's per-word caches add to a bot that runs for weeks.

A long-running bot meets an endless vocabulary (names, places, typos); every cache
of per-word results is bounded (bot/matching/name_rules.py, normalize.py), and this
prints what they cost when full. It builds the 10,000-alias matcher of
bench/match_speed.py, matches the bench's news items (the common words), then texts
of fresh synthetic names and places until every cache has cycled, and prints RSS
after each stage and each cache's size. Issue 13's budget: steady RSS <= 250 MB with
10,000 feeds, 10,000 aliases and 1 million remembered items (bench/startup.py --run
measures the rest).

    python bench/match_memory.py [--aliases 10000] [--texts 60000]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import match_speed as ms  # noqa: E402

from bot.matching.matcher import Matcher  # noqa: E402

MIB = 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aliases", type=int, default=10_000)
    parser.add_argument("--texts", type=int, default=60_000, help="texts of 12 fresh words")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    gc.collect()
    start = ms.rss_bytes() or 0
    entities = ms.make_watchlist(args.seed, args.aliases, set())
    drafts, _ = ms.make_drafts(args.seed, 3000)
    items = ms.plant(drafts, entities, args.seed, args.aliases)
    gc.collect()
    before = ms.rss_bytes() or 0
    matcher = Matcher(entities)
    gc.collect()
    built = ms.rss_bytes() or 0
    for item in items:
        matcher.match_text(item.title, item.summary)
    gc.collect()
    common = ms.rss_bytes() or 0
    rng = random.Random(args.seed)
    for _ in range(args.texts):
        words = [
            ms.synth_last(rng).capitalize() if rng.random() < 0.5 else ms.synth_place(rng)
            for _ in range(12)
        ]
        matcher.match_text(" ".join(words) + ".")
    gc.collect()
    full = ms.rss_bytes() or 0
    print(f"matcher of {matcher.alias_count:,} aliases; RSS (MiB) at start {start / MIB:.0f}")
    print(f"  the bench's items and watchlist made: {before / MIB:.0f}")
    print(
        f"  matcher built:                        {built / MIB:.0f} (+{(built - before) / MIB:.0f})"
    )
    grew = (common - built) / MIB
    print(f"  {len(items):,} news items matched:       {common / MIB:.0f} (+{grew:.0f})")
    print(
        f"  {args.texts:,} texts of fresh words:      {full / MIB:.0f} "
        f"(+{(full - common) / MIB:.0f}: the per-word caches when full)"
    )
    index = matcher._index  # a bench may look inside
    # dir(), not vars(): a mypyc-compiled index has no __dict__.
    attrs = {k: getattr(index, k) for k in dir(index) if not k.startswith("__")}
    sizes = {k: len(v) for k, v in attrs.items() if isinstance(v, dict) and len(v) > 1000}
    print("  cache sizes:", ", ".join(f"{k} {v:,}" for k, v in sorted(sizes.items())))


if __name__ == "__main__":
    main()
