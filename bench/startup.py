"""Start-up cost of the story index: stored story features (migration 9) against reading
every member's text again, and the CPU of an all-304 poll cycle.

Builds a real SQLite database of N matched story members (synthetic news-like items
from bench/story_quality.py, each ingested through storage with the story the tracker
gives it), then times, in the same run so the ratio holds on a busy machine:

- the reference: the rebuild reading every member's `profile` again from its text, as
  before features were stored (the stored features are ignored; the GC pause of
  `StoryTracker.load` applies to both lines);
- the rebuild from stored features (what `App.open` does now);
- loading the members from SQLite, which both need;
- saving the poll state of `--feeds` unchanged feeds (all a 304 writes): one after the
  other, a transaction each (as every save was before the group commit), against all at
  once, as a poll cycle saves them (now one transaction).

    python bench/startup.py [--items 20000] [--feeds 1000] [--runs 3]

Best of `--runs`; CPU seconds of this process (time.process_time).

With `--run`, the whole bot instead (bench/startup_run.py): a database seeded with
`--items` remembered items (1,000,000 for issue 13's target), `--feeds` feeds and an
`--aliases` watchlist, then `python -m bot run` timed to its first feed request, its RSS
after `--cycles` polls of every feed, and the database's bytes per item:

    python bench/startup.py --run --items 1000000 --feeds 10000 --aliases 10000 \
        [--compare /path/to/other/checkout] [--runs 2] [--database /keep/it.sqlite3]
        [--no-bytecode-cache]

The bot processes get a warmed bytecode cache of their own, as an installed bot has
(bench/bytecode.py); `--no-bytecode-cache` makes each compile bot/ at start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from story_quality import synthetic  # noqa: E402

from bot.feeds.schedule import after_success  # noqa: E402
from bot.models import FeedState, Item, Match  # noqa: E402
from bot.storage.models import IngestPlan, StoryMember  # noqa: E402
from bot.storage.sqlite import open_storage  # noqa: E402
from bot.stories import StoryTracker  # noqa: E402
from bot.stories.profile import READS  # noqa: E402

WINDOW = 48 * 3600.0
START = datetime(2026, 11, 1, tzinfo=UTC)
FEED = "https://bench.example/feed.xml"


def _match(entity: str) -> Match:
    return Match(entity, entity, "group", "medium", entity, entity, 100.0)


async def build(path: Path, n: int) -> datetime:
    """A database with n story members ingested as the poller would; returns 'now'."""
    members = synthetic(n, START, random.Random(1), "m")
    members.sort(key=lambda m: m.when or START)
    tracker = StoryTracker(WINDOW)
    now = START
    async with open_storage(path) as store:
        for i in range(0, n, 500):
            batch = members[i : i + 500]
            items = [
                Item(FEED, m.key, f"https://bench.example/{m.key}", m.title, m.summary, m.when)
                for m in batch
            ]
            entities = {it.guid: m.entities for it, m in zip(items, batch, strict=True)}
            now = batch[-1].when or now

            def plan(fresh: list[Item], entities=entities, now=now) -> list[IngestPlan]:
                plans = []
                for it in fresh:
                    matches = tuple(_match(e) for e in sorted(entities[it.guid]))
                    story = tracker.assign(it, matches, now)
                    plans.append(IngestPlan(it, matches, (), story, tracker.features(it)))
                return plans

            await store.ingest(FeedState(FEED, FEED), items, now, plan)
    return now


async def load_members(path: Path, now: datetime) -> tuple[list[StoryMember], float]:
    async with open_storage(path) as store:
        started = time.process_time()
        members = await store.story_members_since(now - timedelta(seconds=WINDOW))
        return members, time.process_time() - started


def rebuild(members: list[StoryMember], now: datetime) -> tuple[float, int, int]:
    """CPU seconds of one rebuild, the members in the index, the items read again."""
    reads = READS.items
    tracker = StoryTracker(WINDOW)
    started = time.process_time()
    tracker.load(members, now)
    return time.process_time() - started, len(tracker.index), READS.items - reads


async def save_states(path: Path, feeds: int, at_once: bool) -> float:
    """CPU seconds to save the state of `feeds` feeds after a 304, per feed."""
    states = [
        FeedState(f"https://f{n}.example/rss", f"https://f{n}.example/rss") for n in range(feeds)
    ]
    polled = [
        after_success(s, START, 300.0, etag="e", last_modified=None, body_hash="h") for s in states
    ]
    async with open_storage(path) as store:
        await asyncio.gather(*(store.save_feed_state(s) for s in states))
        started = time.process_time()
        if at_once:
            await asyncio.gather(*(store.save_feed_state(s) for s in polled))
        else:
            for s in polled:
                await store.save_feed_state(s)
        return (time.process_time() - started) / feeds


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000, help="story members stored")
    parser.add_argument("--feeds", type=int, default=1000, help="feed states saved")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--run", action="store_true", help="time `python -m bot run` instead")
    parser.add_argument("--aliases", type=int, default=10_000, help="--run: watchlist size")
    parser.add_argument("--days", type=float, default=30.0, help="--run: history's span")
    parser.add_argument("--matched", type=float, default=0.2, help="--run: matched share")
    parser.add_argument("--cycles", type=int, default=2, help="--run: polls of every feed")
    parser.add_argument(
        "--compare", action="append", default=[], help="--run: another checkout, alternately"
    )
    parser.add_argument(
        "--database", default=None, help="--run: seed this file once, then reuse it as it is"
    )
    parser.add_argument("--tmp", default=None, help="--run: where the database goes")
    parser.add_argument("--json", action="store_true", help="--run: raw results as JSON too")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="--run: the bot processes compile bot/ at each start (PYTHONDONTWRITEBYTECODE) "
        "instead of using a warmed cache of their own (bench/bytecode.py)",
    )
    args = parser.parse_args()
    if args.run:
        import startup_run

        return await asyncio.to_thread(startup_run.main, args)  # it runs its own loops
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        now = await build(path, args.items)
        size = path.stat().st_size
        members, query = await load_members(path, now)
        stripped = [replace(m, features=None) for m in members]
        old, new = [], []
        for _ in range(args.runs):  # alternately, best of each
            old.append(rebuild(stripped, now))
            new.append(rebuild(members, now))
            query = min(query, (await load_members(path, now))[1])
        one_by_one, at_once = [], []
        for _ in range(args.runs):
            one_by_one.append(await save_states(Path(tmp) / "a.sqlite3", args.feeds, False))
            at_once.append(await save_states(Path(tmp) / "b.sqlite3", args.feeds, True))
    (old_s, size_old, read_old), (new_s, size_new, read_new) = min(old), min(new)
    assert size_old == size_new
    print(f"{len(members)} story members in the window, database {size / len(members):.0f} B/item")
    print(f"  load members from SQLite:                {query:6.3f} s CPU")
    print(f"  rebuild, reading every profile (before): {old_s:6.3f} s CPU ({read_old} read)")
    print(f"  rebuild from stored features (now):      {new_s:6.3f} s CPU ({read_new} read)")
    print(f"  {old_s / new_s:.1f}x less CPU for the rebuild")
    print(f"{args.feeds} unchanged feeds' states saved (CPU per feed)")
    print(f"  a transaction each (before):             {min(one_by_one) * 1000:6.3f} ms")
    print(f"  all at once, group commit (now):         {min(at_once) * 1000:6.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
