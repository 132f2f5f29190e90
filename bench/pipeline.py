"""End-to-end throughput benchmark of the poll pipeline against a local feed server.

What runs
---------
A separate process serves ``--feeds`` synthetic RSS 2.0 feeds of ``--items``
items each on 127.0.0.1 (a random free port, never any other address). The
feeds are generated from ``random.Random(--seed)``: news-like titles and ~40-word
summaries, of which about ``--watched-share`` (5 %) mention an entity of the
shipped ``watchlists/`` (ISKP, Tajikistan, Ajit Doval, ...), the rest generic
news that matches nothing. The server answers conditional GETs: a matching
``If-None-Match`` (or, without one, a not-older ``If-Modified-Since``) gets
304, and it counts its 200 and 304 responses.

The bot is configured as a user would (``bot.config.settings_from_dict``): a
temporary SQLite database, the shipped watchlists, ``first_poll = "all"`` on
every feed so that existing items alert, one jsonl channel writing into the
temporary directory, ``per_host_concurrency`` equal to ``max_concurrency`` so
the single local host is not the bottleneck, and ``interval = "5m"``.

What is measured
----------------
* Cycle 1 (cold): ``App.run_once()`` on an empty database: every feed is
  fetched (200), parsed in the parser processes, deduplicated, matched,
  ingested, and every alert is queued in the outbox and delivered to the
  jsonl file.
* Cycle 2 (warm): ``App.run_once()`` again: every feed answers 304, so this
  is the fixed per-poll cost (request + feed state write).

Each cycle is timed with ``time.perf_counter`` around ``run_once`` (delivery
included; opening the app is timed separately). Per cycle it reports feeds,
wall seconds, feeds/s, items parsed (``PollOutcome.items``), new items, i.e.
items that went through matching (``PollOutcome.new_items``) and their rate,
alerts queued (``PollOutcome.alerts``), alerts delivered
(``app.outbox.stats.sent``), poll errors and the server's 200/304 counts.
Memory: the peak RSS of the bot process (``getrusage(RUSAGE_SELF)``) and of
its reaped children, the parser workers (``getrusage(RUSAGE_CHILDREN)``, the
largest child, read after the pool is closed and its workers reaped, before
the feed server process is stopped, so the server is not included). With the
"fork" start method (Linux default before Python 3.14) the workers are our
children; with "forkserver" they are not and the children figure reads 0.

Run from the project root::

    python bench/pipeline.py                      # 1000 feeds x 50 items
    python bench/pipeline.py --feeds 100 --json   # quick, machine-readable

The exit status is 1 when any poll failed or the second cycle was not all
304s: the figures are then printed but should not be trusted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gzip
import hashlib
import io
import json
import logging
import multiprocessing
import pstats
import random
import resource
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from bot.app import App, CycleReport  # noqa: E402
from bot.config import Settings, settings_from_dict  # noqa: E402

WATCHLISTS = ROOT / "watchlists"
HOST = "127.0.0.1"  # the only address the feed server ever binds
SERVER_START_TIMEOUT = 120.0
REAP_TIMEOUT = 10.0

# --- synthetic news -----------------------------------------------------------

# Names exactly as the shipped watchlists spell an alias, with the entity kind.
WATCHED: tuple[tuple[str, str], ...] = (
    ("ISKP", "group"),
    ("Tehrik-i-Taliban Pakistan", "group"),
    ("Haqqani Network", "group"),
    ("Lashkar-e-Taiba", "group"),
    ("Jaish-e-Mohammed", "group"),
    ("Balochistan Liberation Army", "group"),
    ("Islamic Movement of Uzbekistan", "group"),
    ("Tajikistan", "region"),
    ("Khyber Pakhtunkhwa", "region"),
    ("North Waziristan", "region"),
    ("Balochistan", "region"),
    ("Kurram", "region"),
    ("Fergana Valley", "region"),
    ("Gorno-Badakhshan", "region"),
    ("Ajit Doval", "person"),
    ("Emomali Rahmon", "person"),
    ("Amir Khan Muttaqi", "person"),
    ("Kassym-Jomart Tokayev", "person"),
)

SUBJECTS = (
    "City council", "Central bank", "Regional hospital", "School board", "Transport ministry",
    "Tech startup", "Farmers' union", "Weather service", "Football club", "Energy regulator",
    "University researchers", "Retail chain", "Port authority", "Housing agency",
    "Film festival", "Airline", "Water utility", "Museum", "Trade union", "Health ministry",
    "Supreme court", "Parliament committee", "Chamber of commerce", "Space agency",
)  # fmt: skip
VERBS = (
    "approves", "announces", "delays", "reviews", "expands", "cuts", "launches", "defends",
    "unveils", "postpones", "criticises", "welcomes", "scraps", "extends", "debates", "backs",
)  # fmt: skip
OBJECTS = (
    "new budget plan", "rail upgrade", "water tariff", "climate targets", "hiring freeze",
    "vaccine campaign", "stadium project", "tax relief package", "flood defences",
    "broadband rollout", "pension reform", "fare increase", "recycling scheme",
    "night bus service", "teacher pay deal", "data privacy rules", "bridge repairs",
    "solar subsidy", "affordable housing target", "cycling network",
)  # fmt: skip
PLACES = (
    "Lisbon", "Ottawa", "Nairobi", "Melbourne", "Porto Alegre", "Osaka", "Rotterdam",
    "Valencia", "Calgary", "Accra", "Gdansk", "Tampere", "Auckland", "Montevideo", "Lyon",
    "Hamburg", "Cork", "Bergen", "Adelaide", "Quebec City",
)  # fmt: skip
TAILS = (
    "after {n}-hour meeting",
    "citing {n}% rise in costs",
    "first such move since {year}",
    "with vote set for {weekday}",
    "as {n} jobs hang in the balance",
    "despite {n} objections",
    "ahead of {month} deadline",
)
SENTENCES = (
    "Officials said the measure would take effect in {month} and cost about {n} million.",
    "Critics argued that the plan had been rushed through without proper consultation.",
    "The announcement came after {n} weeks of negotiations between the two sides.",
    "A spokesperson declined to comment on the timing of the decision on {weekday}.",
    "Residents have been invited to share their views at a public meeting next week.",
    "Analysts expect the change to affect around {n},000 households over the next year.",
    "Opposition members said they would ask for an independent review of the figures.",
    "The proposal still needs final approval before work can begin in {month}.",
    "Similar schemes elsewhere have had mixed results, according to a report from {year}.",
    "Local businesses said they welcomed the clarity but warned about rising costs.",
)
WATCHED_TITLES = {
    "group": (
        "{e} claims attack that killed {n} at checkpoint, {source} say",
        "Security forces arrest {n} suspected {e} members on {weekday}, {source} say",
        "Report warns of {e} recruitment drive, citing {n} cases",
    ),
    "region": (
        "Security tightened in {e} after blast wounds {n}, {source} say",
        "Curfew imposed in parts of {e} on {weekday} as {n} protesters are detained",
        "Aid convoy of {n} trucks reaches flood-hit villages in {e}, {source} say",
    ),
    "person": (
        "{e} holds talks on border security with {n}-member delegation on {weekday}",
        "{e} calls for regional cooperation after {n} attacks this year, {source} say",
        "{e} meets {n} envoys ahead of {month} summit",
    ),
}
SOURCES = ("officials", "police", "witnesses", "local media", "aid workers")
WATCHED_SENTENCES = {
    "group": "Police said {e} had claimed responsibility in a statement posted online.",
    "region": "The incident took place in {e}, where security has been tightened for weeks.",
    "person": "{e} was briefed on the situation late on {weekday}, a statement said.",
}
MONTHS = ("January", "March", "May", "July", "September", "November")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
BASE_TIME = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def _fill(rng: random.Random, template: str, entity: str = "") -> str:
    return template.format(
        e=entity,
        n=rng.randint(2, 480),
        year=rng.randint(1990, 2023),
        month=rng.choice(MONTHS),
        weekday=rng.choice(WEEKDAYS),
        source=rng.choice(SOURCES),
    )


def _generic_title(rng: random.Random) -> str:
    return (
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} in "
        f"{rng.choice(PLACES)} {_fill(rng, rng.choice(TAILS))}"
    )


@dataclass(frozen=True, slots=True)
class FeedDoc:
    body: bytes
    gzipped: bytes | None
    etag: str
    last_modified: str
    watched_items: int


def make_feed(
    rng: random.Random, n: int, items: int, watched_share: float, compress: bool
) -> FeedDoc:
    """One RSS 2.0 document; the item count mentioning a watched entity rides along."""
    entries: list[str] = []
    watched = 0
    when = BASE_TIME - timedelta(minutes=rng.randint(0, 600))
    for i in range(items):
        when -= timedelta(minutes=rng.randint(3, 90))
        sentences = [_fill(rng, s) for s in rng.sample(SENTENCES, 3)]
        if rng.random() < watched_share:
            watched += 1
            name, kind = rng.choice(WATCHED)
            if rng.random() < 0.6:  # named in the title
                title = _fill(rng, rng.choice(WATCHED_TITLES[kind]), name)
            else:  # named in the summary only
                title = _generic_title(rng)
                sentences[1] = _fill(rng, WATCHED_SENTENCES[kind], name)
        else:
            title = _generic_title(rng)
        summary = "<p>" + " ".join(sentences) + "</p>"
        slug = "-".join(title.lower().replace("'", "").split()[:6])
        entries.append(
            "<item>"
            f"<title>{escape(title)}</title>"
            f"<link>https://news{n}.example.com/{when:%Y/%m/%d}/{escape(slug)}-{i}</link>"
            f'<guid isPermaLink="false">bench-{n}-{i}</guid>'
            f"<pubDate>{format_datetime(when)}</pubDate>"
            f"<description><![CDATA[{summary}]]></description>"
            "</item>"
        )
    updated = format_datetime(BASE_TIME, usegmt=True)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>Bench News {n}</title><link>https://news{n}.example.com/</link>"
        f"<description>Synthetic feed {n}</description><lastBuildDate>{updated}</lastBuildDate>"
        + "".join(entries)
        + "</channel></rss>\n"
    ).encode()
    etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
    gzipped = gzip.compress(body, 6, mtime=0) if compress else None
    return FeedDoc(body, gzipped, etag, updated, watched)


def make_feeds(
    seed: int, feeds: int, items: int, watched_share: float, compress: bool
) -> list[FeedDoc]:
    rng = random.Random(seed)
    return [make_feed(rng, n, items, watched_share, compress) for n in range(feeds)]


# --- the feed server (its own process) ---------------------------------------------


def _not_modified(request: web.Request, doc: FeedDoc) -> bool:
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or doc.etag in tags
    ims = request.headers.get("If-Modified-Since")
    if ims:
        try:
            return parsedate_to_datetime(ims) >= parsedate_to_datetime(doc.last_modified)
        except (TypeError, ValueError):
            return False
    return False


async def _serve(docs: list[FeedDoc], sock: socket.socket, control: Connection) -> None:
    counts = {"200": 0, "304": 0, "404": 0}

    async def feed(request: web.Request) -> web.Response:
        try:
            doc = docs[int(request.match_info["n"])]
        except (ValueError, IndexError):
            counts["404"] += 1
            raise web.HTTPNotFound() from None
        headers = {"ETag": doc.etag, "Last-Modified": doc.last_modified}
        if _not_modified(request, doc):
            counts["304"] += 1
            return web.Response(status=304, headers=headers)
        counts["200"] += 1
        body = doc.body
        if doc.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = doc.gzipped
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers, content_type="application/rss+xml")

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(counts)

    app = web.Application()
    app.router.add_get(r"/feed/{n:\d+}.xml", feed)
    app.router.add_get("/_stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(control.fileno(), stop.set)  # a message or EOF from the parent
    control.send("ready")
    try:
        await stop.wait()
    finally:
        loop.remove_reader(control.fileno())
        await runner.cleanup()


def server_main(
    control: Connection,
    seed: int,
    feeds: int,
    items: int,
    watched_share: float,
    compress: bool,
) -> None:
    """Process entry point: generate the feeds, bind 127.0.0.1:0, serve until told to stop."""
    logging.getLogger("aiohttp").setLevel(logging.ERROR)
    started = time.perf_counter()
    docs = make_feeds(seed, feeds, items, watched_share, compress)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(1024)
    control.send(
        {
            "port": sock.getsockname()[1],
            "generate_seconds": time.perf_counter() - started,
            "body_bytes": sum(len(d.body) for d in docs),
            "wire_bytes": sum(len(d.gzipped or d.body) for d in docs),
            "watched_items": sum(d.watched_items for d in docs),
        }
    )
    asyncio.run(_serve(docs, sock, control))


class FeedServer:
    """Runs server_main in a child process so serving does not compete for the bot's GIL."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._control, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(
            target=server_main,
            args=(child, args.seed, args.feeds, args.items, args.watched_share, args.gzip),
            name="bench-feed-server",
            daemon=True,
        )
        self.process.start()
        child.close()
        if not self._control.poll(SERVER_START_TIMEOUT):
            self.stop()
            raise RuntimeError("the feed server did not start")
        self.info: dict[str, Any] = self._control.recv()
        if not self._control.poll(SERVER_START_TIMEOUT) or self._control.recv() != "ready":
            self.stop()
            raise RuntimeError("the feed server did not start listening")
        self.base = f"http://{HOST}:{self.info['port']}"

    def feed_url(self, n: int) -> str:
        return f"{self.base}/feed/{n}.xml"

    async def counts(self) -> dict[str, int]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.base}/_stats") as resp,
        ):
            resp.raise_for_status()
            return dict(await resp.json())

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self._control.send("stop")
            self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self._control.close()


# --- the bot side ------------------------------------------------------------------


def make_settings(tmp: Path, server: FeedServer, args: argparse.Namespace) -> Settings:
    data: dict[str, Any] = {
        "bot": {
            "database": str(tmp / "bench.sqlite3"),
            "watchlists": str(WATCHLISTS),
            "interval": "5m",
            "max_concurrency": args.concurrency,
            "per_host_concurrency": args.concurrency,
            "parser_workers": args.workers,
            "log_level": "WARNING",
        },
        "feeds": [
            {"url": server.feed_url(n), "name": f"Bench feed {n}", "first_poll": "all"}
            for n in range(args.feeds)
        ],
        # No flood cap: this measures throughput, and every alert must be delivered.
        "channels": [{"platform": "jsonl", "id": str(tmp / "alerts.jsonl"), "flood_cap": 0}],
    }
    return settings_from_dict(data, tmp / "bot.toml")


@dataclass(slots=True)
class CycleFigures:
    name: str
    feeds: int  # polled: PollOutcomes returned by run_once
    wall_seconds: float
    items_parsed: int
    new_items: int
    alerts_queued: int
    alerts_delivered: int
    errors: int
    statuses: dict[str, int]
    server_200: int
    server_304: int
    peak_rss_mib: float
    error_samples: list[str] = field(default_factory=list)
    crash: str | None = None  # run_once raised instead of returning a report
    stages: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def feeds_per_second(self) -> float:
        return self.feeds / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def new_items_per_second(self) -> float:
        return self.new_items / self.wall_seconds if self.wall_seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["feeds_per_second"] = self.feeds_per_second
        d["new_items_per_second"] = self.new_items_per_second
        return d


class StageTimes:
    """Optional (--stages): time the pipeline stages by wrapping methods of the app's objects.

    Only instance attributes of this run's objects are replaced; bot code is untouched.
    Concurrent calls overlap, so a stage's total can exceed the wall time; its mean
    and max per call show queueing (parse includes the wait for a free worker,
    ingest the wait for the storage lock, inside which matching runs).
    """

    LABELS: ClassVar[dict[str, str]] = {
        "fetch": "fetch (HTTP, incl. wait for a slot)",
        "parse": "parse (incl. wait for a worker)",
        "ingest": "ingest (incl. lock wait, matching)",
        "match": "match (per item, event loop)",
        "drain": "deliver (outbox drain)",
    }

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.total: Counter[str] = Counter()
        self.longest: Counter[str] = Counter()

    def add(self, stage: str, seconds: float) -> None:
        self.calls[stage] += 1
        self.total[stage] += seconds
        self.longest[stage] = max(self.longest[stage], seconds)

    def wrap_async(self, obj: object, attr: str, stage: str) -> None:
        original = getattr(obj, attr)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self.add(stage, time.perf_counter() - started)

        setattr(obj, attr, timed)

    def wrap_sync(self, obj: object, attr: str, stage: str) -> None:
        original = getattr(obj, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(stage, time.perf_counter() - started)

        setattr(obj, attr, timed)

    def install(self, app: App) -> None:
        self.wrap_async(app.poller.fetcher, "fetch", "fetch")
        self.wrap_async(app.poller.parsers, "parse", "parse")
        self.wrap_async(app.storage, "ingest", "ingest")
        self.wrap_sync(app.matcher, "match", "match")
        self.wrap_async(app.outbox, "drain", "drain")

    def snapshot_and_reset(self) -> dict[str, dict[str, float]]:
        out = {
            stage: {
                "calls": self.calls[stage],
                "total_seconds": self.total[stage],
                "mean_ms": 1000 * self.total[stage] / self.calls[stage],
                "max_ms": 1000 * self.longest[stage],
            }
            for stage in self.LABELS
            if self.calls[stage]
        }
        self.calls.clear()
        self.total.clear()
        self.longest.clear()
        return out


def peak_rss_mib(who: int) -> float:
    """ru_maxrss is KiB on Linux (bytes on macOS)."""
    kib = resource.getrusage(who).ru_maxrss
    if sys.platform == "darwin":
        kib //= 1024
    return kib / 1024


def figures(
    name: str,
    report: CycleReport,
    wall: float,
    delivered: int,
    before: dict[str, int],
    after: dict[str, int],
    crash: str | None,
) -> CycleFigures:
    statuses: dict[str, int] = {}
    for o in report.outcomes:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    samples = sorted({o.error for o in report.outcomes if o.status == "error" and o.error})
    return CycleFigures(
        name=name,
        feeds=len(report.outcomes),
        wall_seconds=wall,
        items_parsed=sum(o.items for o in report.outcomes),
        new_items=sum(o.new_items for o in report.outcomes),
        alerts_queued=report.alerts,
        alerts_delivered=delivered,
        errors=report.errors,
        statuses=statuses,
        server_200=after["200"] - before["200"],
        server_304=after["304"] - before["304"],
        peak_rss_mib=peak_rss_mib(resource.RUSAGE_SELF),
        error_samples=samples[:5],
        crash=crash,
    )


async def timed_cycle(
    name: str,
    app: App,
    server: FeedServer,
    profile: cProfile.Profile | None,
    stages: StageTimes | None,
) -> CycleFigures:
    before = await server.counts()
    sent = app.outbox.stats.sent
    if profile is not None:
        profile.enable()
    started = time.perf_counter()
    crash = None
    try:
        report = await app.run_once()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # we were cancelled: not the bot's doing
        crash = "run_once raised CancelledError (a poll let a cancellation escape)"
        report = CycleReport()
    except Exception as e:
        crash = f"run_once raised {type(e).__name__}: {e}"
        report = CycleReport()
    wall = time.perf_counter() - started
    if profile is not None:
        profile.disable()
    if crash:
        stray = await settle()
        crash += f"; {stray} poll tasks were still running"
    after = await server.counts()
    result = figures(name, report, wall, app.outbox.stats.sent - sent, before, after, crash)
    if stages is not None:
        result.stages = stages.snapshot_and_reset()
    return result


async def settle(timeout: float = 120.0) -> int:
    """After run_once crashed, let its orphaned poll tasks finish before the app closes."""
    stray = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if stray:
        await asyncio.wait(stray, timeout=timeout)
    return len(stray)


def count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(1 for _ in f)


def reap_children(keep: multiprocessing.Process) -> None:
    """Wait until every child but `keep` (the parser workers) has exited and been reaped."""
    deadline = time.monotonic() + REAP_TIMEOUT
    while time.monotonic() < deadline:
        # active_children() also reaps the children that have exited.
        if not [p for p in multiprocessing.active_children() if p is not keep]:
            return
        time.sleep(0.05)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = FeedServer(args)
    profile = cProfile.Profile() if args.profile else None
    stages = StageTimes() if args.stages else None
    try:
        with tempfile.TemporaryDirectory(prefix="newswatch-bench-") as tmp:
            settings = make_settings(Path(tmp), server, args)
            started = time.perf_counter()
            async with App.open(settings) as app:
                startup = time.perf_counter() - started
                if stages is not None:
                    stages.install(app)
                cold = await timed_cycle("cycle 1 (cold, 200s)", app, server, profile, stages)
                cycles = [cold]
                if not cold.crash:
                    cycles.append(
                        await timed_cycle("cycle 2 (warm, 304s)", app, server, None, stages)
                    )
            lines = count_lines(Path(tmp) / "alerts.jsonl")
        reap_children(server.process)
        children_rss = peak_rss_mib(resource.RUSAGE_CHILDREN)
    finally:
        server.stop()
    if profile is not None:
        profile.dump_stats(args.profile)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue(), file=sys.stderr)
    return {
        "config": {
            "feeds": args.feeds,
            "items": args.items,
            "concurrency": args.concurrency,
            "workers": args.workers,
            "seed": args.seed,
            "watched_share": args.watched_share,
            "gzip": args.gzip,
            "stages": args.stages,
            "start_method": multiprocessing.get_start_method(),
            "python": sys.version.split()[0],
        },
        "server": server.info,
        "startup_seconds": startup,
        "cycles": [c.as_dict() for c in cycles],
        "jsonl_lines": lines,
        "peak_rss_self_mib": peak_rss_mib(resource.RUSAGE_SELF),
        "peak_rss_children_mib": children_rss,
    }


# --- output ------------------------------------------------------------------------


def render(result: dict[str, Any]) -> str:
    cfg, srv, cycles = result["config"], result["server"], result["cycles"]
    rows: list[tuple[str, str]] = [
        ("feeds polled", "{feeds}"),
        ("wall time (s)", "{wall_seconds:.2f}"),
        ("feeds/s", "{feeds_per_second:.1f}"),
        ("items parsed", "{items_parsed}"),
        ("new items (matched)", "{new_items}"),
        ("new items matched/s", "{new_items_per_second:.1f}"),
        ("alerts queued", "{alerts_queued}"),
        ("alerts delivered", "{alerts_delivered}"),
        ("poll errors", "{errors}"),
        ("server 200 responses", "{server_200}"),
        ("server 304 responses", "{server_304}"),
        ("peak RSS so far, bot (MiB)", "{peak_rss_mib:.1f}"),
    ]
    width = max(len(label) for label, _ in rows) + 2
    col = max(14, *(len(c["name"]) + 2 for c in cycles))
    lines = [
        f"newswatch pipeline benchmark: {cfg['feeds']} feeds x {cfg['items']} items, "
        f"concurrency {cfg['concurrency']}, parser workers {cfg['workers']}, seed {cfg['seed']}",
        f"feed server: {HOST}:{srv['port']} (own process), "
        f"{srv['body_bytes'] / 2**20:.1f} MiB of RSS 2.0 XML"
        + (f" ({srv['wire_bytes'] / 2**20:.1f} MiB gzipped)" if cfg["gzip"] else "")
        + f", {srv['watched_items']} items mention a watched entity, "
        f"generated in {srv['generate_seconds']:.2f} s",
        f"python {cfg['python']}, start method {cfg['start_method']}; "
        f"App.open took {result['startup_seconds']:.2f} s",
        "",
        " " * width + "".join(c["name"].rjust(col) for c in cycles),
    ]
    for label, fmt in rows:
        lines.append(label.ljust(width) + "".join(fmt.format(**c).rjust(col) for c in cycles))
    lines += [
        "",
        "poll outcomes: " + "; ".join(f"{c['name']}: {c['statuses']}" for c in cycles),
        f"alerts written to the jsonl file: {result['jsonl_lines']}",
        f"peak RSS, bot process (RUSAGE_SELF):         {result['peak_rss_self_mib']:8.1f} MiB",
        f"peak RSS, parser workers (RUSAGE_CHILDREN):  {result['peak_rss_children_mib']:8.1f} MiB",
    ]
    if cfg["stages"]:
        lines += ["", "stage timings (--stages):"]
        header = f"  {'':36}{'calls':>8}{'total s':>10}{'mean ms':>10}{'max ms':>10}"
        for c in cycles:
            lines += [f"  {c['name']}", header]
            for stage, t in c["stages"].items():
                lines.append(
                    f"  {StageTimes.LABELS[stage]:36}{t['calls']:8d}{t['total_seconds']:10.2f}"
                    f"{t['mean_ms']:10.2f}{t['max_ms']:10.1f}"
                )
    for c in cycles:
        if c["crash"]:
            lines.append(f"{c['name']} CRASHED: {c['crash']}")
        for sample in c["error_samples"]:
            lines.append(f"error in {c['name']}: {sample}")
    return "\n".join(lines)


def problems(result: dict[str, Any]) -> list[str]:
    """What makes the figures untrustworthy (exit status 1)."""
    found = []
    feeds = result["config"]["feeds"]
    for c in result["cycles"]:
        if c["crash"]:
            found.append(f"{c['name']}: {c['crash']}")
            continue
        if c["feeds"] != feeds:
            found.append(f"{c['name']}: {c['feeds']} poll outcomes for {feeds} feeds")
        if c["errors"]:
            found.append(f"{c['name']}: {c['errors']} polls failed")
        if c["alerts_delivered"] != c["alerts_queued"]:
            found.append(
                f"{c['name']}: {c['alerts_queued']} alerts queued, {c['alerts_delivered']} "
                "delivered"
            )
    if len(result["cycles"]) < 2:
        found.append("cycle 2 was not run")
    elif result["cycles"][1]["server_304"] != feeds:
        found.append(f"cycle 2 got {result['cycles'][1]['server_304']} 304s for {feeds} feeds")
    return found


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--feeds", type=int, default=1000, help="number of feeds (default 1000)")
    p.add_argument("--items", type=int, default=50, help="items per feed (default 50)")
    p.add_argument(
        "--concurrency",
        type=int,
        default=50,
        help="bot.max_concurrency and bot.per_host_concurrency (default 50)",
    )
    p.add_argument("--workers", type=int, default=2, help="bot.parser_workers (default 2)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the feeds (default 1)")
    p.add_argument(
        "--watched-share",
        type=float,
        default=0.05,
        help="share of items mentioning a watched entity (default 0.05)",
    )
    p.add_argument("--gzip", action="store_true", help="serve gzip-compressed feeds")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument(
        "--stages",
        action="store_true",
        help="also time fetch, parse, ingest, match and delivery per call (small overhead)",
    )
    p.add_argument(
        "--profile",
        metavar="FILE",
        help="cProfile cycle 1 (event-loop thread), dump stats to FILE, print the top 30",
    )
    args = p.parse_args(argv)
    for name in ("feeds", "items", "concurrency", "workers"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if not 0.0 <= args.watched_share <= 1.0:
        p.error("--watched-share must be between 0 and 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2) if args.json else render(result))
    found = problems(result)
    for problem in found:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
