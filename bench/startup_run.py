"""`python -m bot run` against a large history: start-up to the first feed request, CPU,
peak and steady RSS, database bytes per remembered item (issue 13).

Used by `python bench/startup.py --run` (see there). Seeding goes straight into SQLite in
the bot's schema (migrations applied by the bot's own storage first), so a million items
take about a minute instead of hours through `ingest`:

- `--items` remembered items spread evenly over `--days` (oldest first), each with its
  three seen keys (guid, URL, title fingerprint) as dedup stores them;
- a `--matched` share of them matched, each the member of a story, with its matches
  JSON, its stored story profile (features) and a sent alert in the outbox. Their text and
  profiles come from bench/story_quality.py's synthetic news, grouped by the real tracker,
  so the members in the story window are as the bot would have stored them;
- `--feeds` feeds imported by the operator (`added_feeds`, as `feeds import` stores them)
  with a polled state whose ETag the local feed server answers with 304, all due now;
- a watchlist of `--aliases` aliases (bench/match_speed.py's generator).

The feed server (its own process, 127.0.0.1) notes when the first request arrives and the
bot's process-tree CPU at that moment; the bench samples the tree's RSS until `--cycles`
full cycles of the feeds have been polled. Reference in the same run: `python -c pass`
and `python -c "import bot.app"` wall times.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import psutil
from bytecode import bytecode_cache, describe  # bench/, on the path as startup.py runs this
from pipeline_feeds import ChildServer

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
ETAG = '"bench"'
WINDOW = 48 * 3600.0


# --- the feed server --------------------------------------------------------------------


def serve(control: Connection) -> None:
    """Process entry point: every feed answers 304 to the ETag it was seeded with."""
    from aiohttp import web

    state: dict[str, object] = {"pid": None, "first": None, "cpu": None, "requests": 0}

    def tree_cpu(pid: int) -> float:
        try:
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return 0.0
        total = 0.0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    async def feed(request: web.Request) -> web.Response:
        if state["first"] is None:
            state["first"] = time.time()
            pid = state["pid"]
            state["cpu"] = tree_cpu(pid) if isinstance(pid, int) else None
        state["requests"] = int(state["requests"]) + 1  # type: ignore[call-overload]
        if request.headers.get("If-None-Match") == ETAG:
            return web.Response(status=304, headers={"ETag": ETAG})
        body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
        return web.Response(body=body, headers={"ETag": ETAG}, content_type="application/rss+xml")

    async def watch(request: web.Request) -> web.Response:
        state.update(pid=int(request.query["pid"]), first=None, cpu=None, requests=0)
        return web.json_response({})

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(state)

    async def main() -> None:
        sys.path.insert(0, str(ROOT / "bench"))
        from pipeline_feeds import serve_until_told

        app = web.Application()
        app.router.add_get(r"/feed/{n:\d+}.xml", feed)
        app.router.add_get("/_watch", watch)
        app.router.add_get("/_stats", stats)
        await serve_until_told(app, control)

    asyncio.run(main())


def start_feed_server() -> ChildServer:
    """The feed server above in its own process (`server.get("/_stats")` reads it)."""
    return ChildServer(serve, name="startup-feed-server", timeout=60)


# --- seeding ----------------------------------------------------------------------------


def _key(prefix: str, text: str, length: int = 24) -> str:
    return prefix + hashlib.sha1(text.encode()).hexdigest()[:length]


def story_pool(n: int, now: datetime) -> list[tuple[str, str, str, str, str | None]]:
    """(title, summary, matches JSON, story offset key, features) of n synthetic matched
    items grouped by the real tracker, oldest first."""
    sys.path.insert(0, str(ROOT / "bench"))
    from story_quality import synthetic

    from bot.models import Item, Match
    from bot.storage.rows import matches_json
    from bot.stories import StoryTracker

    start = now - timedelta(seconds=WINDOW)
    members = sorted(synthetic(n, start, random.Random(1), "m"), key=lambda m: m.when or start)
    tracker = StoryTracker(WINDOW)
    pool = []
    for m in members:
        item = Item("pool", m.key, f"https://pool/{m.key}", m.title, m.summary, m.when)
        matches = tuple(Match(e, e, "group", "medium", e, e, 100.0) for e in sorted(m.entities))
        story = tracker.assign(item, matches, m.when or start) or m.key
        pool.append((m.title, m.summary, matches_json(matches), story, tracker.features(item)))
    return pool


def write_watchlist(directory: Path, aliases: int) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from match_speed import make_watchlist
    from match_speed import write_watchlist as write

    directory.mkdir(parents=True, exist_ok=True)
    write(make_watchlist(7, aliases, set()), directory)


@dataclass
class Seeded:
    items: int
    members_in_window: int
    seconds: float


def seed(path: Path, base: str, items: int, feeds: int, days: float, matched: float) -> Seeded:
    """The database: schema by the bot's storage, rows by bulk inserts."""
    started = time.perf_counter()
    from bot.storage.sqlite import open_storage

    async def create() -> None:
        async with open_storage(path):
            pass

    asyncio.run(create())
    now = datetime.now(UTC)
    span = days * 86400.0
    window_start = now.timestamp() - WINDOW
    in_window = int(items * min(1.0, WINDOW / span))
    pool = story_pool(max(1, int(in_window * matched)), now)
    rng = random.Random(3)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous = OFF")
    urls = [f"{base}/feed/{n}.xml" for n in range(feeds)]
    db.executemany(
        "INSERT INTO added_feeds (url, name, added_by, added_at, source, first_poll) "
        "VALUES (?,?,?,?,?,?)",
        [
            (u, f"Feed {n}", "bench", now.timestamp() - span, "operator", "skip")
            for n, u in enumerate(urls)
        ],
    )
    db.executemany(
        "INSERT INTO feeds (url, fetch_url, etag, body_hash, first_polled, next_poll_at, "
        "last_success_at, items_seen) VALUES (?,?,?,?,1,?,?,?)",
        [
            (u, u, ETAG, "h", now.timestamp() - 1, now.timestamp() - 300, items // feeds)
            for u in urls
        ],
    )
    pool_at = 0
    members = 0
    stories: dict[str, tuple[str, str, float, float]] = {}
    batch = 20_000
    for first in range(0, items, batch):
        rows, seen, outbox = [], [], []
        for n in range(first, min(items, first + batch)):
            at = now.timestamp() - span + span * (n + 0.5) / items
            feed = urls[n % feeds]
            guid = f"{feed}#{n}"
            url = f"https://news{n % 997}.example/{n}/article-{rng.randrange(10**9)}"
            title, summary, mjson, story_of, feats = pool[n % len(pool)]
            is_member = rng.random() < matched
            if not is_member:
                mjson, story, feats = "[]", None, None
            elif at >= window_start and pool_at < len(pool):
                title, summary, mjson, story_of, feats = pool[pool_at]
                story = f"pool:{story_of}"
                pool_at += 1
            else:
                story = _key("guid:", guid)
            if story is not None:
                members += at >= window_start
                s = stories.get(story)
                stories[story] = (title, url, s[2] if s else at, at)
                outbox.append((n + 1, "jsonl", "alerts", mjson, "sent", 1, at, at, at))
            rows.append(
                (
                    n + 1,
                    feed,
                    guid,
                    url,
                    title,
                    summary,
                    at - 600,
                    f"Feed {n % feeds}",
                    at,
                    mjson,
                    story,
                    feats,
                )
            )
            seen.append((_key("guid:", guid), at, n + 1))
            seen.append((_key("url:", url), at, n + 1))
            seen.append((_key("title:", f"{title}{n}", 20), at, n + 1))
        db.executemany(
            "INSERT INTO items (id, feed_url, guid, url, title, summary, published, feed_name, "
            "fetched_at, matches, story, story_features) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        db.executemany("INSERT OR IGNORE INTO seen (key, first_seen, item_id) VALUES (?,?,?)", seen)
        db.executemany(
            "INSERT INTO outbox (item_id, platform, channel_id, matches, status, attempts, "
            "next_attempt_at, created_at, sent_at) VALUES (?,?,?,?,?,?,?,?,?)",
            outbox,
        )
    db.executemany(
        "INSERT OR REPLACE INTO stories (key, title, url, first_seen, last_seen) "
        "VALUES (?,?,?,?,?)",
        [(k, *v) for k, v in stories.items()],
    )
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return Seeded(items, members, time.perf_counter() - started)


def reset_feeds(path: Path, base: str | None = None) -> None:
    """Every feed due now with the server's ETag, as before the first run; with `base`,
    the feeds moved to this run's feed server (a kept database)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        if base is not None:
            old = db.execute("SELECT url FROM feeds LIMIT 1").fetchone()[0].split("/feed/")[0]
            for table in ("feeds", "added_feeds"):
                db.execute(f"UPDATE {table} SET url = replace(url, ?, ?)", (old, base))
            db.execute("UPDATE feeds SET fetch_url = url")
        db.execute("UPDATE feeds SET etag = ?, next_poll_at = ?", (ETAG, time.time() - 1))
        db.execute("DELETE FROM heartbeat")
        db.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


# --- one run ----------------------------------------------------------------------------


@dataclass
class RunResult:
    root: str
    first_request_s: float
    cpu_at_first_s: float
    peak_rss_mib: float
    steady_rss_mib: float
    steady_main_mib: float


def tree_rss(proc: psutil.Process) -> tuple[int, int]:
    """(whole tree, main process) RSS in bytes."""
    try:
        procs = [proc, *proc.children(recursive=True)]
        main = proc.memory_info().rss
    except psutil.Error:
        return 0, 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total, main


def run_bot(
    root: Path, config: Path, server: ChildServer, feeds: int, cycles: int, base: dict[str, str]
) -> RunResult:
    env = {**base, "PYTHONPATH": str(root)}
    started = time.time()
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=config.with_suffix(".log").open("ab"),
        start_new_session=True,
    )
    server.get(f"/_watch?pid={bot.pid}")
    proc = psutil.Process(bot.pid)
    peak = 0
    samples: list[tuple[int, int]] = []
    try:
        deadline = time.time() + 900
        while time.time() < deadline:
            if bot.poll() is not None:
                raise RuntimeError(f"the bot stopped: see {config.with_suffix('.log')}")
            total, main = tree_rss(proc)
            peak = max(peak, total)
            stats = server.get("/_stats")
            done = int(stats["requests"])  # type: ignore[call-overload]
            if done >= feeds * cycles:
                samples.append((total, main))
                if len(samples) >= 5:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("timed out")
    finally:
        os.killpg(bot.pid, 15)
        bot.wait(60)
    first = float(stats["first"])  # type: ignore[arg-type]
    mib = 1024 * 1024
    return RunResult(
        str(root),
        first - started,
        float(stats["cpu"]),  # type: ignore[arg-type]
        peak / mib,
        max(s[0] for s in samples) / mib,
        max(s[1] for s in samples) / mib,
    )


def reference(root: Path, code: str, base: dict[str, str], runs: int = 3) -> float:
    env = {**base, "PYTHONPATH": str(root)}
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True)
        best = min(best, time.perf_counter() - started)
    return best


def write_config(tmp: Path, database: Path, watchlists: Path, concurrency: int) -> Path:
    config = tmp / "bot.toml"
    config.write_text(
        f'[bot]\ndatabase = "{database}"\nwatchlists = "{watchlists}"\n'
        f'interval = "1m"\nmax_concurrency = {concurrency}\n'
        f'per_host_concurrency = {concurrency}\nlog_level = "WARNING"\n'
        f'[[channels]]\nplatform = "jsonl"\nid = "{tmp / "alerts.jsonl"}"\n',
        encoding="utf-8",
    )
    return config


def main(args: argparse.Namespace) -> int:
    import tempfile

    items: int = args.items
    feeds: int = args.feeds
    roots = [ROOT, *(Path(r) for r in args.compare)]
    server = start_feed_server()
    try:
        with (
            tempfile.TemporaryDirectory(dir=args.tmp) as tmp_name,
            bytecode_cache(not args.no_bytecode_cache, roots) as base,
        ):
            tmp = Path(tmp_name)
            kept = args.database is not None
            database = Path(args.database) if kept else tmp / "bench.sqlite3"
            write_watchlist(tmp / "watchlists", args.aliases)
            if kept and database.exists():
                reset_feeds(database, server.base)
                with contextlib.closing(sqlite3.connect(database)) as db:
                    items = db.execute("SELECT count(*) FROM items").fetchone()[0]
                    feeds = db.execute("SELECT count(*) FROM feeds").fetchone()[0]
                    members = db.execute(
                        "SELECT count(*) FROM items WHERE story NOT NULL AND fetched_at >= ?",
                        (time.time() - WINDOW,),
                    ).fetchone()[0]
                seeded = Seeded(items, members, 0.0)
            else:
                seeded = seed(database, server.base, items, feeds, args.days, args.matched)
            size = db_bytes(database)
            config = write_config(tmp, database, tmp / "watchlists", 50)
            results: dict[str, list[RunResult]] = {str(r): [] for r in roots}
            for _ in range(args.runs):
                for root in reversed(roots):  # alternating: the compared ones first
                    reset_feeds(database)
                    results[str(root)].append(
                        run_bot(root, config, server, feeds, args.cycles, base)
                    )
            passes = reference(ROOT, "pass", base)
            imports = {str(r): reference(r, "import bot.app", base) for r in roots}
            bytecode = describe(base)
    finally:
        server.stop()
    print(
        f"{items:,} remembered items over {args.days:g} days ({args.matched:.0%} matched), "
        f"{seeded.members_in_window:,} story members in the 48 h window, {feeds:,} feeds, "
        f"{args.aliases:,} aliases; seeded in {seeded.seconds:.0f} s"
    )
    print(f"database: {size / items:,.0f} bytes per remembered item ({size / 2**20:,.0f} MiB)")
    print(f"bot processes: {bytecode}")
    print(f"reference: python -c pass {passes:.3f} s wall (best of 3)")
    for root, runs in results.items():
        best = min(runs, key=lambda r: r.first_request_s)
        print(f"{root}: import bot.app {imports[root]:.3f} s wall (best of 3)")
        print(
            f"  start to first feed request: {best.first_request_s:.2f} s wall, "
            f"{min(r.cpu_at_first_s for r in runs):.2f} s CPU (process tree; best of {len(runs)}; "
            f"all: {', '.join(f'{r.first_request_s:.2f}' for r in runs)})"
        )
        main = min(r.steady_main_mib for r in runs)
        tree = min(r.steady_rss_mib for r in runs)
        peak = min(r.peak_rss_mib for r in runs)
        print(
            f"  RSS after {args.cycles} cycles of all-304 polls: main {main:.0f} MiB, "
            f"tree {tree:.0f} MiB; peak tree {peak:.0f} MiB"
        )
    if args.json:
        print(json.dumps({k: [asdict(r) for r in v] for k, v in results.items()}))
    return 0
