"""Throughput of 1, 2 and 3 `python -m bot run` instances on one PostgreSQL (issue 15).

What runs
---------
A feed server in its own process serves ``--feeds`` synthetic news feeds (the
generator of bench/pipeline_feeds.py: ~1 KB HTML items, ~5 % naming a watched
entity) on 127.0.0.1 only, ``--items`` items each. Every feed changes all the
time: a conditional GET carrying the ETag the server sent last (the bot polled
this feed before) first gets ``--new`` newer items on top, so every poll after a
feed's first is a 200 with new items to parse, deduplicate, match and store.
It counts, per User-Agent, the polls it answered and the new items it served.

For each round (``--instances``, default ``1,2,3``) the bench creates a fresh
database on one PostgreSQL server and starts that many identical
``python -m bot run --config FILE`` processes, configs differing only in
``[bot] user_agent`` (scale-1, scale-2, ...), all feeds due every
``--interval`` (default 1 s: always more work than an instance can do, so a
round measures capacity, not the schedule). ``[bot] per_host_concurrency`` is
``max_concurrency`` so the one local host is not the limit. After a warm-up
(every feed's first poll, which only seeds, and every instance polling) it
measures ``--seconds`` of steady state:

* feeds polled per second: the server's answered polls, all instances;
* items ingested per second: rows added to the ``items`` table;
* bot CPU ms per poll: CPU of every instance's process tree (parser workers
  included) divided by the polls; PostgreSQL CPU ms per poll likewise (its
  server process tree, when the bench started the server itself);
* cores busy: CPU seconds per second of the instances, PostgreSQL and the feed
  server together: near the machine's core count, the round was CPU-bound;
* speed-up: polls per second over the 1-instance round's, measured in the same
  run on the same machine (the reference, 1.00x).

``--sqlite`` adds a reference row: one instance on a SQLite file (its default
engine; SQLite allows one ``run`` per database).

PostgreSQL: without ``--database`` the bench starts a throwaway server the way
the tests do (tests/postgres.py: initdb/pg_ctl from PATH or
/usr/lib/postgresql/*/bin, a temp directory, 127.0.0.1, durability settings off
as for the tests) and stops it at the end; ``--database URL`` names a running
server's admin (superuser) URL instead. Either way each round gets a fresh
database owned by the unprivileged role ``newswatch``, dropped after.

Run from the project root (no installation needed)::

    python bench/scale.py                      # 1,000 feeds, 1/2/3 instances (~4 min)
    python bench/scale.py --sqlite             # plus the SQLite 1-instance reference
    python bench/scale.py --quick              # smoke size (tests/test_bench_scale.py)

Figures from a machine with fewer cores than instances + PostgreSQL + the feed
server show contention, not the design's limit: the header prints the core count.
The exit status is 1 (figures printed, not to be trusted) when an instance died,
a round polled nothing, or an instance never polled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # pipeline_feeds

import psutil  # noqa: E402
from aiohttp import web  # noqa: E402
from pipeline_feeds import (  # noqa: E402
    ChildServer,
    FeedDoc,
    grow_feed,
    make_feeds,
    serve_until_told,
)

WATCHLISTS = ROOT / "watchlists"
START_TIMEOUT = 180.0  # instances starting and every feed's first poll, on a loaded machine
STOP_TIMEOUT = 60.0


# --- the feed server (its own process) ---------------------------------------------


def serve(control: Connection, seed: int, feeds: int, items: int, new: int, share: float) -> None:
    """Process entry point: feeds that change on every poll after the first."""
    docs: list[FeedDoc] = make_feeds(seed, feeds, items, share, False)
    stats: dict[str, dict[str, int]] = {}
    polled: set[int] = set()  # feeds polled since the last reset (a round's first polls)

    async def feed(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n >= len(docs):
            raise web.HTTPNotFound()
        agent = stats.setdefault(request.headers.get("User-Agent", "?"), {"polls": 0, "new": 0})
        agent["polls"] += 1
        polled.add(n)
        if request.headers.get("If-None-Match") == docs[n].etag:
            # Polled before: there is always something new since.
            docs[n] = grow_feed(docs[n], new, seed, share, False)
            agent["new"] += new
        doc = docs[n]
        headers = {"ETag": doc.etag, "Last-Modified": doc.last_modified}
        return web.Response(body=doc.body, headers=headers, content_type="application/rss+xml")

    async def stats_view(_: web.Request) -> web.Response:
        return web.json_response({"agents": stats, "feeds": len(polled)})

    async def reset(_: web.Request) -> web.Response:
        """A new round: its instances' counts and first polls start from zero."""
        stats.clear()
        polled.clear()
        return web.json_response({})

    async def main() -> None:
        app = web.Application()
        app.router.add_get(r"/feed/{n:\d+}.xml", feed)
        app.router.add_get("/_stats", stats_view)
        app.router.add_get("/_reset", reset)
        await serve_until_told(app, control)

    asyncio.run(main())


class FeedServer(ChildServer):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(
            serve,
            (args.seed, args.feeds, args.items, args.new, args.watched_share),
            name="scale-feed-server",
            timeout=START_TIMEOUT,
        )

    def url(self, n: int) -> str:
        return f"{self.base}/feed/{n}.xml"

    def stats(self) -> dict[str, Any]:
        """{"agents": {user agent: {"polls", "new"}}, "feeds": distinct feeds polled}."""
        return self.get("/_stats")

    def reset(self) -> None:
        self.get("/_reset")


# --- PostgreSQL ----------------------------------------------------------------------


@contextlib.contextmanager
def postgres_server(url: str | None) -> Iterator[tuple[Any, int | None]]:
    """The server the rounds run on, and its postmaster's pid when the bench started it
    (its CPU is then measured). Uses the tests' helper (tests/postgres.py): the bot's
    role there is `newswatch`, not a superuser, as in a real deployment."""
    from tests.postgres import PostgresServer, start_server

    if url is not None:
        server = PostgresServer(url)
        server.prepare()
        yield server, None
        return
    server = start_server(owner_pid=os.getpid())  # stopped even if the bench is killed
    try:
        server.prepare()
        assert server.directory is not None
        pid_file = server.directory / "data" / "postmaster.pid"
        yield server, int(pid_file.read_text().split()[0])
    finally:
        server.stop()


async def _fetchval(url: str, sql: str) -> Any:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def items_stored(database: str) -> int:
    if database.startswith(("postgresql://", "postgres://")):
        return int(asyncio.run(_fetchval(database, "SELECT count(*) FROM items")))
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM items").fetchone()[0])


# --- the instances -------------------------------------------------------------------


def write_config(tmp: Path, name: str, database: str, server: FeedServer, args: Any) -> Path:
    feeds = "".join(
        f'[[feeds]]\nurl = "{server.url(n)}"\nfirst_poll = "skip"\n' for n in range(args.feeds)
    )
    config = tmp / f"{name}.toml"
    config.write_text(
        f'[bot]\ndatabase = "{database}"\nwatchlists = "{WATCHLISTS}"\n'
        f'user_agent = "{name}"\ninterval = "{args.interval}"\n'
        f"max_concurrency = {args.concurrency}\nper_host_concurrency = {args.concurrency}\n"
        f'parser_workers = {args.workers}\nlog_level = "WARNING"\n'
        f"{feeds}"
        f'[[channels]]\nplatform = "jsonl"\nid = "{tmp / "alerts.jsonl"}"\nflood_cap = 0\n',
        encoding="utf-8",
    )
    return config


def start_instance(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=config.with_suffix(".log").open("ab"),
        start_new_session=True,  # a stop takes its parser workers too
    )


def log_tail(config: Path) -> str:
    """The end of an instance's log, without the per-feed 'impolite interval' warnings."""
    text = config.with_suffix(".log").read_text(errors="replace")
    return "\n".join(line for line in text.splitlines() if "impolite" not in line)[-2000:]


def tree_cpu(pid: int | None) -> float:
    """User+system CPU seconds of a process and its live descendants."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            t = proc.cpu_times()
            total += t.user + t.system
    return total


@dataclass
class Round:
    label: str
    instances: int
    engine: str
    seconds: float = 0.0
    polls: int = 0
    new_items: int = 0
    items: int = 0
    bot_cpu: float = 0.0
    pg_cpu: float | None = None
    server_cpu: float = 0.0  # the feed server's, for the cores busy in total
    per_instance: dict[str, int] | None = None
    problem: str | None = None

    @property
    def polls_per_second(self) -> float:
        return self.polls / self.seconds if self.seconds else 0.0

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    def ms_per_poll(self, cpu: float | None) -> float | None:
        return None if cpu is None or not self.polls else 1000 * cpu / self.polls


def measure(
    label: str,
    engine: str,
    database: str,
    count: int,
    server: FeedServer,
    args: Any,
    pg_pid: int | None,
) -> Round:
    """Start `count` instances on `database`, warm up, measure `args.seconds`, stop them."""
    result = Round(label, count, engine)
    with tempfile.TemporaryDirectory(prefix="newswatch-scale-") as tmp_name:
        tmp = Path(tmp_name)
        names = [f"scale-{k + 1}" for k in range(count)]
        configs = [write_config(tmp, name, database, server, args) for name in names]
        server.reset()
        procs = [start_instance(c) for c in configs]
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:  # warm-up: every instance polls, every feed has had its first poll
                stats = server.stats()
                mine = {n: stats["agents"].get(n, {}).get("polls", 0) for n in names}
                # ... and every first poll's items are stored (the seeds, feeds x items).
                if (
                    all(mine.values())
                    and stats["feeds"] == args.feeds
                    and items_stored(database) >= args.feeds * args.items
                ):
                    break
                dead = [c for c, p in zip(configs, procs, strict=True) if p.poll() is not None]
                if dead or time.monotonic() > deadline:
                    culprit = dead[0] if dead else configs[0]
                    result.problem = f"{culprit.stem} failed to start or poll: " + log_tail(culprit)
                    return result
                time.sleep(0.5)
            time.sleep(args.settle)
            before = server.stats()["agents"]
            items_before = items_stored(database)
            cpu_before = sum(tree_cpu(p.pid) for p in procs)
            pg_before = tree_cpu(pg_pid)
            server_before = tree_cpu(server.process.pid)
            started = time.monotonic()
            time.sleep(args.seconds)
            result.seconds = time.monotonic() - started
            after = server.stats()["agents"]
            result.bot_cpu = sum(tree_cpu(p.pid) for p in procs) - cpu_before
            result.server_cpu = tree_cpu(server.process.pid) - server_before
            result.pg_cpu = tree_cpu(pg_pid) - pg_before if pg_pid else None
            result.items = items_stored(database) - items_before
            result.per_instance = {
                n: after.get(n, {}).get("polls", 0) - before.get(n, {}).get("polls", 0)
                for n in names
            }
            result.polls = sum(result.per_instance.values())
            result.new_items = sum(
                after.get(n, {}).get("new", 0) - before.get(n, {}).get("new", 0) for n in names
            )
            dead = [c.stem for c, p in zip(configs, procs, strict=True) if p.poll() is not None]
            if dead:
                result.problem = f"{dead} died during the measurement"
            elif not all(result.per_instance.values()):
                result.problem = f"an instance polled nothing: {result.per_instance}"
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    return result


def run(args: argparse.Namespace) -> list[Round]:
    rounds: list[Round] = []
    server = FeedServer(args)
    try:
        if args.sqlite:
            with tempfile.TemporaryDirectory(prefix="newswatch-scale-db-") as tmp:
                db = str(Path(tmp) / "scale.sqlite3")
                rounds.append(measure("SQLite, 1 instance", "sqlite", db, 1, server, args, None))
        with postgres_server(args.database) as (pg, pg_pid):
            for count in args.instances:
                name, url = pg.create_database()  # fresh for each round
                try:
                    label = f"PostgreSQL, {count} instance{'s' if count > 1 else ''}"
                    rounds.append(measure(label, "postgres", url, count, server, args, pg_pid))
                finally:
                    pg.drop_database(name)
    finally:
        server.stop()
    return rounds


def render(rounds: list[Round], args: argparse.Namespace) -> str:
    reference = next((r for r in rounds if r.engine == "postgres" and r.instances == 1), None)
    base = reference.polls_per_second if reference and reference.polls else 0.0
    lines = [
        f"# bench/scale.py: {args.feeds} feeds x {args.items} items, +{args.new} new items "
        f"per poll, interval {args.interval}, {args.seconds:g} s measured per round",
        f"# {os.cpu_count()} CPU cores for the instances, PostgreSQL and the feed server; "
        f"parser_workers = {args.workers} per instance; Python {sys.version.split()[0]}; "
        f"load average {args.load:.1f} before the run",
        "",
        "| deployment | feeds polled/s | items ingested/s | bot CPU ms/poll "
        "| PostgreSQL CPU ms/poll | cores busy | polls per instance "
        "| vs PostgreSQL, 1 instance |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rounds:
        pg = r.ms_per_poll(r.pg_cpu)
        bot = r.ms_per_poll(r.bot_cpu)
        share = " / ".join(str(v) for v in (r.per_instance or {}).values()) or "-"
        ratio = f"{r.polls_per_second / base:.2f}x" if base else "-"
        busy = (r.bot_cpu + (r.pg_cpu or 0.0) + r.server_cpu) / r.seconds if r.seconds else 0.0
        lines.append(
            f"| {r.label} | {r.polls_per_second:.1f} | {r.items_per_second:.1f} "
            f"| {'-' if bot is None else f'{bot:.1f}'} | {'-' if pg is None else f'{pg:.1f}'} "
            f"| {busy:.2f} | {share} | {ratio} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--feeds", type=int, default=1000, help="number of feeds (default 1000)")
    p.add_argument("--items", type=int, default=20, help="items per feed (default 20)")
    p.add_argument("--new", type=int, default=5, help="new items per poll (default 5)")
    p.add_argument(
        "--instances",
        default="1,2,3",
        help="comma-separated instance counts, one round each (default 1,2,3)",
    )
    p.add_argument("--seconds", type=float, default=20.0, help="measured per round (default 20)")
    p.add_argument("--settle", type=float, default=3.0, help="wait after the warm-up (default 3 s)")
    p.add_argument("--interval", default="1s", help="bot.interval of every feed (default 1s)")
    p.add_argument("--concurrency", type=int, default=50, help="max_concurrency (default 50)")
    p.add_argument("--workers", type=int, default=1, help="parser_workers per instance (1)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the feeds (default 1)")
    p.add_argument("--watched-share", type=float, default=0.05, help="default 0.05")
    p.add_argument("--database", help="an admin postgresql:// URL (default: a throwaway server)")
    p.add_argument("--sqlite", action="store_true", help="add the SQLite 1-instance row")
    p.add_argument("--json", action="store_true", help="print the rounds as JSON")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke size: 200 feeds, 1 and 2 instances, 5 s rounds (overrides those options)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.feeds, args.items, args.seconds, args.settle = 200, 10, 5.0, 1.0
        args.instances = "1,2"
    try:
        args.instances = [int(n) for n in str(args.instances).split(",")]
    except ValueError:
        p.error("--instances takes numbers separated by commas, such as 1,2,3")
    if not args.instances or min(args.instances) < 1:
        p.error("--instances must be at least 1")
    if args.new < 1 or args.new > args.items:
        p.error("--new must be between 1 and --items")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.load = os.getloadavg()[0]
    rounds = run(args)
    if args.json:
        print(json.dumps([{**r.__dict__} for r in rounds], indent=2))
    else:
        print(render(rounds, args))
    problems = [f"{r.label}: {r.problem}" for r in rounds if r.problem]
    problems += [f"{r.label}: nothing polled" for r in rounds if not r.polls and not r.problem]
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
