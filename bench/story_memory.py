"""Memory and rebuild CPU of the story index (issue 13): bytes per member, CPU per member.

Builds N synthetic story members (bench/story_quality.py's news-like items, grouped by
the real tracker, each with the stored profile the poller keeps), then rebuilds a
tracker from them as the warm-up does (bot/app_warmup.py: `StoryTracker.loading` in
slices over rows it lets go of) and prints:

- the index's memory: what tracemalloc counts as allocated by the rebuild and still
  held once the rows are gone (the members, postings, rarity counts, the time heap),
  divided by the members;
- the rebuild's CPU (time.process_time, tracemalloc off), best of `--runs`.

Each measurement runs in a fresh process; with `--compare CHECKOUT` (e.g. a checkout of
the code before) the same runs alternate between the two, so the ratio holds on a busy
machine:

    python bench/story_memory.py [--members 13400] [--runs 3] [--compare /path/to/main]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import gc, json, random, sys, time, tracemalloc
from datetime import UTC, datetime
root, n, trace = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
sys.path[:0] = [root, root + "/bench"]
from story_quality import synthetic
from bot.models import Item, Match
from bot.storage.models import StoryMember
from bot.stories import StoryTracker
from bot.stories.tracker import draining

WINDOW = 48 * 3600.0
start = datetime(2026, 11, 1, tzinfo=UTC)
items = sorted(synthetic(n, start, random.Random(1), "m"), key=lambda m: m.when)
tracker = StoryTracker(WINDOW)
stored = []
for m in items:
    item = Item("https://feed.example/x.xml", m.key, "https://news.example/" + m.key,
                m.title, m.summary, m.when)
    matches = tuple(Match(e, e, "group", "medium", e, e, 100.0) for e in sorted(m.entities))
    story = tracker.assign(item, matches, m.when)
    stored.append([m.key, m.title, m.summary, m.when.timestamp(), story, sorted(m.entities),
                   tracker.features(item)])
del tracker, items
text = json.dumps(stored)  # what storage holds: read back below, as a rebuild reads it
del stored
gc.collect()
if trace:
    tracemalloc.start()
before = tracemalloc.get_traced_memory()[0] if trace else 0
started = time.process_time()
rows = []
for key, title, summary, ts, story, entities, feats in json.loads(text):
    when = datetime.fromtimestamp(ts, UTC)
    item = Item("https://feed.example/x.xml", key, "https://news.example/" + key, title,
                summary, when)
    rows.append(StoryMember(item, when, story, frozenset(entities), feats))
read = time.process_time() - started
rebuilt = StoryTracker(WINDOW)
started = time.process_time()
for _ in rebuilt.loading(draining(rows), when, 100):
    pass
cpu = time.process_time() - started
del rows
gc.collect()
held = tracemalloc.get_traced_memory()[0] - before if trace else 0
print(json.dumps({"members": len(rebuilt.index), "cpu": cpu, "bytes": held}))
"""


def measure(root: Path, members: int, trace: bool) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), str(members), "1" if trace else "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--members", type=int, default=13_400, help="story members")
    parser.add_argument("--runs", type=int, default=3, help="CPU runs per checkout (best)")
    parser.add_argument("--compare", default=None, help="another checkout, run alternately")
    args = parser.parse_args()
    roots = [ROOT] + ([Path(args.compare).resolve()] if args.compare else [])
    memory = {r: measure(r, args.members, trace=True) for r in roots}
    cpu: dict[Path, list[float]] = {r: [] for r in roots}
    for _ in range(args.runs):
        for r in reversed(roots):  # alternately, the compared one first
            cpu[r].append(measure(r, args.members, trace=False)["cpu"])
    print(f"story index rebuilt from {args.members:,} synthetic members with stored profiles")
    for r in roots:
        m = memory[r]
        best = min(cpu[r])
        print(
            f"{r}: {m['members']:,.0f} members, index {m['bytes'] / 2**20:.1f} MiB "
            f"({m['bytes'] / m['members']:,.0f} bytes a member, tracemalloc); rebuild "
            f"{best:.3f} CPU s ({best / m['members'] * 1e6:.0f} µs a member, best of "
            f"{args.runs}: {', '.join(f'{c:.3f}' for c in cpu[r])})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
