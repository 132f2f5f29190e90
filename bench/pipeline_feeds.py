"""The feed side of bench/pipeline.py: synthetic news feeds and the server that serves them.

Kept apart so pipeline.py holds only the bot side and the figures. Feed `n` is a pure
function of (seed, n, generation), so the bench process can rebuild exactly the bodies
the server sent (for the feedparser reference) without asking it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import hashlib
import json
import logging
import multiprocessing
import random
import socket
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from multiprocessing.connection import Connection
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

HOST = "127.0.0.1"  # the only address the feed server ever binds
SERVER_START_TIMEOUT = 120.0

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
    """One served feed. `generation` counts how often it grew (`grow_feed`)."""

    n: int
    entries: tuple[str, ...]  # newest first, as a feed lists them
    next_index: int  # the item number the next new entry gets
    generation: int
    body: bytes
    gzipped: bytes | None
    etag: str
    last_modified: str
    watched_items: int


def make_entry(
    rng: random.Random, n: int, i: int, when: datetime, watched_share: float
) -> tuple[str, bool]:
    """One <item> with an HTML description (two paragraphs, a link, emphasis), and
    whether it names a watched entity. About 1 KB, like the issue's ~54 KB feeds of 50."""
    sentences = [_fill(rng, s) for s in rng.sample(SENTENCES, 5)]
    watched = rng.random() < watched_share
    if watched:
        name, kind = rng.choice(WATCHED)
        if rng.random() < 0.6:  # named in the title
            title = _fill(rng, rng.choice(WATCHED_TITLES[kind]), name)
        else:  # named in the summary only
            title = _generic_title(rng)
            sentences[1] = _fill(rng, WATCHED_SENTENCES[kind], name)
    else:
        title = _generic_title(rng)
    slug = "-".join(title.lower().replace("'", "").split()[:6])
    link = f"https://news{n}.example.com/{when:%Y/%m/%d}/{escape(slug)}-{i}"
    summary = (
        f"<p><strong>{escape(rng.choice(PLACES))}</strong> &mdash; "
        + " ".join(sentences[:3])
        + "</p>"
        f"<p>{sentences[3]} <em>{sentences[4]}</em></p>"
        f'<p><a href="https://news{n}.example.com/related/{i}" title="Related coverage">'
        f'Related coverage</a> | <a href="{link}#comments">Comments</a></p>'
        f'<p><img src="https://news{n}.example.com/img/{i}.jpg" alt="" width="640"/></p>'
    )
    entry = (
        "<item>"
        f"<title>{escape(title)}</title>"
        f"<link>{link}</link>"
        f'<guid isPermaLink="false">bench-{n}-{i}</guid>'
        f"<pubDate>{format_datetime(when)}</pubDate>"
        f"<author>desk{n}@news{n}.example.com (News desk {n})</author>"
        f"<category>{escape(rng.choice(SUBJECTS))}</category>"
        f"<description><![CDATA[{summary}]]></description>"
        "</item>"
    )
    return entry, watched


def render_feed(
    n: int,
    entries: tuple[str, ...],
    next_index: int,
    generation: int,
    watched: int,
    compress: bool,
) -> FeedDoc:
    updated = format_datetime(BASE_TIME + timedelta(hours=generation), usegmt=True)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>Bench News {n}</title><link>https://news{n}.example.com/</link>"
        f"<description>Synthetic feed {n}</description><lastBuildDate>{updated}</lastBuildDate>"
        + "".join(entries)
        + "</channel></rss>\n"
    ).encode()
    etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
    gzipped = gzip.compress(body, 6, mtime=0) if compress else None
    return FeedDoc(n, entries, next_index, generation, body, gzipped, etag, updated, watched)


def make_feed(seed: int, n: int, items: int, watched_share: float, compress: bool) -> FeedDoc:
    """Feed `n` as first served; the same (seed, n) always gives the same bytes, so the
    bench process can rebuild the server's bodies for the feedparser reference."""
    rng = random.Random(f"{seed}:{n}:0")
    entries: list[str] = []
    watched = 0
    when = BASE_TIME - timedelta(minutes=rng.randint(0, 600))
    for i in range(items):
        when -= timedelta(minutes=rng.randint(3, 90))
        entry, is_watched = make_entry(rng, n, i, when, watched_share)
        entries.append(entry)
        watched += is_watched
    return render_feed(n, tuple(entries), items, 0, watched, compress)


def grow_feed(doc: FeedDoc, new: int, seed: int, watched_share: float, compress: bool) -> FeedDoc:
    """`doc` with `new` newer items on top and as many of the oldest dropped (a feed keeps
    a window), a later Last-Modified and so a new ETag."""
    generation = doc.generation + 1
    rng = random.Random(f"{seed}:{doc.n}:{generation}")
    fresh: list[str] = []
    watched = 0
    when = BASE_TIME + timedelta(hours=generation)
    for k in range(new):
        entry, is_watched = make_entry(
            rng, doc.n, doc.next_index + k, when - timedelta(minutes=k), watched_share
        )
        fresh.append(entry)
        watched += is_watched
    entries = (tuple(fresh) + doc.entries)[: len(doc.entries)]
    return render_feed(doc.n, entries, doc.next_index + new, generation, watched, compress)


def make_feeds(
    seed: int, feeds: int, items: int, watched_share: float, compress: bool
) -> list[FeedDoc]:
    return [make_feed(seed, n, items, watched_share, compress) for n in range(feeds)]


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


async def serve_until_told(app: web.Application, control: Connection) -> None:
    """Serve `app` on 127.0.0.1 (a free port, sent through `control`) until any message
    or EOF arrives on `control`: the small feed servers of bench/scale.py and
    bench/startup_run.py run this in a child process."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(1024)
    await web.SockSite(runner, sock).start()
    control.send(sock.getsockname()[1])
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(control.fileno(), stop.set)
    await stop.wait()
    await runner.cleanup()


class ChildServer:
    """The parent's side of `serve_until_told`: starts `target(control, *args)` in a child
    process, learns its port, reads its JSON endpoints and stops it (bench/scale.py and
    bench/startup_run.py; the big feed server below has a protocol of its own)."""

    def __init__(
        self,
        target: Callable[..., None],
        args: tuple[Any, ...] = (),
        name: str = "bench-server",
        timeout: float = SERVER_START_TIMEOUT,
    ) -> None:
        self._control, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(
            target=target, args=(child, *args), name=name, daemon=True
        )
        self.process.start()
        child.close()
        if not self._control.poll(timeout):
            self.stop()
            raise RuntimeError("the feed server did not start")
        self.base = f"http://{HOST}:{self._control.recv()}"

    def get(self, path: str) -> dict[str, Any]:
        """The JSON answer of one of the server's own endpoints (`/_stats` …)."""
        with urllib.request.urlopen(self.base + path, timeout=30) as resp:
            return dict(json.loads(resp.read()))

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._control.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


async def _serve(
    docs: list[FeedDoc],
    sock: socket.socket,
    control: Connection,
    grow: Callable[[FeedDoc, int], FeedDoc],
) -> None:
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

    def on_control() -> None:
        """ "stop" (or EOF) ends serving; ("grow", feed numbers, n) adds n items to each."""
        try:
            message = control.recv()
        except EOFError:
            stop.set()
            return
        if message == "stop":
            stop.set()
            return
        _, numbers, new = message
        for number in numbers:
            docs[number] = grow(docs[number], new)
        control.send(sum(docs[number].watched_items for number in numbers))

    loop.add_reader(control.fileno(), on_control)
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

    def grow(doc: FeedDoc, new: int) -> FeedDoc:
        return grow_feed(doc, new, seed, watched_share, compress)

    asyncio.run(_serve(docs, sock, control, grow))


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

    def grow(self, numbers: list[int], new: int) -> int:
        """Give each feed in `numbers` `new` newer items; returns how many name a watched entity."""
        self._control.send(("grow", numbers, new))
        if not self._control.poll(SERVER_START_TIMEOUT):
            raise RuntimeError("the feed server did not answer the grow request")
        return int(self._control.recv())

    def counts(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.base}/_stats", timeout=SERVER_START_TIMEOUT) as resp:
            return dict(json.loads(resp.read()))

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self._control.send("stop")
            self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self._control.close()
