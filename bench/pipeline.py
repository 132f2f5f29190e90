"""End-to-end cost of the poll pipeline against a local feed server (issue 13's table).

What runs
---------
A separate process serves ``--feeds`` synthetic RSS 2.0 feeds of ``--items``
items each on 127.0.0.1 (a random free port, never any other address). Feed
``n`` is generated from ``random.Random(f"{seed}:{n}:0")``: news-like titles,
HTML descriptions of about 1 KB (paragraphs, emphasis, links, an image), an
author and a category, so 50 items make ~57 KB like the issue's feeds; about
``--watched-share`` (5 %) of the items mention an entity of the shipped
``watchlists/``. The server answers conditional GETs: a matching
``If-None-Match`` (or, without one, a not-older ``If-Modified-Since``) gets
304, and it counts its 200 and 304 responses. Told to, it "grows" feeds: 5 newer
items on top, the 5 oldest dropped, a later Last-Modified and a new ETag.

The bot is configured as a user would: a temporary SQLite database, the shipped
watchlists, ``first_poll = --first-poll`` ("all": existing items alert) on every
feed, one jsonl channel without flood cap, ``per_host_concurrency`` equal to
``max_concurrency`` so the single local host is not the bottleneck.

The four cycles
---------------
1. first poll: every feed is new (200), parsed, deduplicated, matched, stored;
   alerts are queued and delivered to the jsonl file.
2. nothing changed: every feed answers 304.
3. every 10th feed (10 %) gained 5 items; the rest answer 304.
4. every feed gained 5 items.

Two modes
---------
* In process (default): ``App.open`` once, then ``App.run_once()`` per cycle.
  CPU is that of this process plus its live and reaped children but the feed
  server (psutil), i.e. the bot and its parser workers. ``--stages`` times the
  stages per call: fetch, parse, ingest (dedup + store, which runs match and
  stories inside the storage lock), match, stories, outbox drain and sink.
  ``--profile PREFIX`` cProfiles each cycle (event-loop thread).
* ``--subprocess``: each cycle is ``python -m bot once --config bot.toml``, as
  the issue measured. CPU is the ``getrusage(RUSAGE_CHILDREN)`` delta around
  the subprocess: interpreter start-up, imports, watchlist loading, the cycle and
  the parser workers (reaped by the bot) included. ``--profile PREFIX`` runs it
  under ``python -m cProfile`` (the bot's main process; workers not profiled).

In the same run, after the cycles, it parses up to ``--reference-feeds`` of
the cycle-1 bodies with ``feedparser.parse`` and with a bare
``lxml.etree.fromstring`` and prints CPU per feed; "x feedparser" is a cycle's
CPU per feed divided by feedparser's, so the ratio holds on a noisy machine.

Run from the project root::

    python bench/pipeline.py --subprocess             # the issue's table, 1000 feeds
    python bench/pipeline.py --stages                 # in process, per-stage breakdown
    python bench/pipeline.py --quick                  # 4 feeds x 10 items smoke run

The exit status is 1 when any poll failed, a cycle crashed, or a cycle did not
get the 200s and 304s its feed changes call for: the figures are then printed
but should not be trusted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import logging
import multiprocessing
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402
import lxml.etree  # noqa: E402
import psutil  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # pipeline_feeds, when imported

from bytecode import bytecode_cache  # noqa: E402
from bytecode import describe as describe_bytecode  # noqa: E402
from pipeline_feeds import (  # noqa: E402
    HOST,
    FeedServer,
    make_feeds,
)

from bot.app import App, CycleReport  # noqa: E402
from bot.config import Settings, settings_from_dict  # noqa: E402

WATCHLISTS = ROOT / "watchlists"
REAP_TIMEOUT = 10.0

# --- the bot side ------------------------------------------------------------------


def config_data(tmp: Path, server: FeedServer, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "bot": {
            "database": str(tmp / "bench.sqlite3"),
            "watchlists": str(WATCHLISTS),
            "interval": "5m",
            "max_concurrency": args.concurrency,
            "per_host_concurrency": args.concurrency,
            "parser_workers": args.workers,
            # INFO: `once` then logs its "cycle done: ..." line, which --subprocess reads.
            "log_level": "INFO" if args.subprocess else "WARNING",
        },
        "feeds": [
            {"url": server.feed_url(n), "name": f"Bench feed {n}", "first_poll": args.first_poll}
            for n in range(args.feeds)
        ],
        # No flood cap: this measures throughput, and every alert must be delivered.
        "channels": [{"platform": "jsonl", "id": str(tmp / "alerts.jsonl"), "flood_cap": 0}],
    }


def make_settings(tmp: Path, server: FeedServer, args: argparse.Namespace) -> Settings:
    return settings_from_dict(config_data(tmp, server, args), tmp / "bot.toml")


def toml_text(data: dict[str, Any]) -> str:
    """The two-level config above as TOML (a JSON string or number is valid TOML here)."""
    lines: list[str] = []
    for section, value in data.items():
        tables = value if isinstance(value, list) else [value]
        for table in tables:
            lines.append(f"[[{section}]]" if isinstance(value, list) else f"[{section}]")
            lines += [f"{key} = {json.dumps(v)}" for key, v in table.items()]
            lines.append("")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class CycleSpec:
    """One of the issue's four cycles; before it, every `grow_every`-th feed gains items."""

    name: str
    grow_every: int  # 0: no feed changes

    def grown(self, feeds: int) -> list[int]:
        return list(range(0, feeds, self.grow_every)) if self.grow_every else []


NEW_ITEMS = 5
CYCLES = (
    CycleSpec("first poll (all new)", 0),
    CycleSpec("nothing changed (304)", 0),
    CycleSpec(f"10 % of feeds +{NEW_ITEMS} items", 10),
    CycleSpec(f"every feed +{NEW_ITEMS} items", 1),
)


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
    cpu_seconds: float = 0.0  # the bot's whole process tree, see the module docstring
    expected_200: int = 0  # feeds whose body changed before this cycle
    error_samples: list[str] = field(default_factory=list)
    crash: str | None = None  # run_once raised instead of returning a report
    stages: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def feeds_per_second(self) -> float:
        return self.feeds / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def new_items_per_second(self) -> float:
        return self.new_items / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def cpu_ms_per_feed(self) -> float:
        return 1000 * self.cpu_seconds / self.feeds if self.feeds else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cpu_ms_per_feed"] = self.cpu_ms_per_feed
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
        "ingest": "dedup+store (incl. lock, match, stories)",
        "match": "match (per item, event loop)",
        "stories": "stories (per new item)",
        "drain": "outbox (drain, incl. sink)",
        "sink": "sink (jsonl write per alert)",
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

    def wrap_matcher(self, app: App) -> None:
        """Time Matcher.match. A mypyc-compiled Matcher's methods cannot be replaced on
        the instance, so the poller gets each poll's matcher behind a timing proxy."""
        current = app.poller.matcher

        class Timed:
            def __init__(self, matcher: object) -> None:
                self.matcher = matcher

            def __getattr__(self, name: str) -> Any:
                return getattr(self.matcher, name)

        def timed() -> Any:
            proxy = Timed(current())
            self.wrap_sync(proxy, "match", "match")
            return proxy

        app.poller.matcher = timed

    def install(self, app: App) -> None:
        self.wrap_async(app.poller.fetcher, "fetch", "fetch")
        self.wrap_async(app.poller.parsers, "parse", "parse")
        self.wrap_async(app.storage, "ingest", "ingest")
        self.wrap_matcher(app)
        self.wrap_sync(app.stories, "assign", "stories")
        self.wrap_async(app.outbox, "drain", "drain")
        for sink in app.sinks.values():
            self.wrap_async(sink, "deliver", "sink")

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


def tree_cpu_seconds(exclude: int | None) -> float:
    """User+system CPU of this process, its reaped children and its live ones (the parser
    workers) but `exclude` (the feed server, reaped only at the end)."""
    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in me.children(recursive=True):
        if child.pid == exclude:
            continue
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            c = child.cpu_times()
            total += c.user + c.system
    return total


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
    spec: CycleSpec,
    number: int,
    app: App,
    server: FeedServer,
    args: argparse.Namespace,
    stages: StageTimes | None,
) -> CycleFigures:
    grown = spec.grown(args.feeds)
    if grown:
        server.grow(grown, NEW_ITEMS)
    before = server.counts()
    sent = app.outbox.stats.sent
    profile = cProfile.Profile() if args.profile else None
    cpu_before = tree_cpu_seconds(server.process.pid)
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
        profile.dump_stats(profile_path(args.profile, number))
    cpu = tree_cpu_seconds(server.process.pid) - cpu_before
    if crash:
        stray = await settle()
        crash += f"; {stray} poll tasks were still running"
    after = server.counts()
    result = figures(spec.name, report, wall, app.outbox.stats.sent - sent, before, after, crash)
    result.cpu_seconds = cpu
    result.expected_200 = len(grown) if number > 1 else args.feeds
    if stages is not None:
        result.stages = stages.snapshot_and_reset()
    return result


def profile_path(prefix: str, number: int) -> Path:
    return Path(f"{prefix}-cycle{number}.prof")


CYCLE_DONE = re.compile(
    r"cycle done: (\d+) feeds polled, (\d+) with errors, (\d+) alerts queued, (\d+) delivered"
)


def subprocess_cycle(
    spec: CycleSpec, number: int, config: Path, server: FeedServer, args: argparse.Namespace
) -> CycleFigures:
    """One `python -m bot once --config ...`: CPU is the getrusage(RUSAGE_CHILDREN) delta,
    i.e. the bot and its parser workers once reaped, start-up and shutdown included."""
    grown = spec.grown(args.feeds)
    if grown:
        server.grow(grown, NEW_ITEMS)
    before = server.counts()
    command = [sys.executable]
    if args.profile:
        command += ["-m", "cProfile", "-o", str(profile_path(args.profile, number))]
    command += ["-m", "bot", "once", "--config", str(config)]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=getattr(args, "bot_env", None),
    )
    wall = time.perf_counter() - started
    after_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after_usage.ru_utime - usage.ru_utime) + (after_usage.ru_stime - usage.ru_stime)
    after = server.counts()
    done = CYCLE_DONE.search(proc.stdout + proc.stderr)
    crash = None
    if proc.returncode != 0 or done is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        crash = f"`bot once` exited {proc.returncode} without its summary: {' | '.join(tail)}"
    polled, errors, queued, delivered = (int(g) for g in done.groups()) if done else (0, 0, 0, 0)
    return CycleFigures(
        name=spec.name,
        feeds=polled,
        wall_seconds=wall,
        items_parsed=-1,  # not reported by `once`
        new_items=-1,
        alerts_queued=queued,
        alerts_delivered=delivered,
        errors=errors,
        statuses={},
        server_200=after["200"] - before["200"],
        server_304=after["304"] - before["304"],
        peak_rss_mib=peak_rss_mib(resource.RUSAGE_CHILDREN),
        cpu_seconds=cpu,
        expected_200=len(grown) if number > 1 else args.feeds,
        crash=crash,
    )


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


async def run_in_process(
    args: argparse.Namespace, server: FeedServer, tmp: Path
) -> tuple[float, list[CycleFigures]]:
    stages = StageTimes() if args.stages else None
    settings = make_settings(tmp, server, args)
    started = time.perf_counter()
    cycles: list[CycleFigures] = []
    async with App.open(settings) as app:
        startup = time.perf_counter() - started
        if stages is not None:
            stages.install(app)
        for number, spec in enumerate(CYCLES[: args.cycles], 1):
            cycles.append(await timed_cycle(spec, number, app, server, args, stages))
            if cycles[-1].crash:
                break
    return startup, cycles


def run_subprocesses(args: argparse.Namespace, server: FeedServer, tmp: Path) -> list[CycleFigures]:
    config = tmp / "bot.toml"
    config.write_text(toml_text(config_data(tmp, server, args)), encoding="utf-8")
    cycles: list[CycleFigures] = []
    for number, spec in enumerate(CYCLES[: args.cycles], 1):
        cycles.append(subprocess_cycle(spec, number, config, server, args))
        if cycles[-1].crash:
            break
    return cycles


def parser_reference(args: argparse.Namespace) -> dict[str, float]:
    """CPU per feed of feedparser.parse and of a bare lxml parse on the bodies the server
    sent in cycle 1 (rebuilt from the same seed), measured now, in this process."""
    count = min(args.feeds, args.reference_feeds)
    bodies = [d.body for d in make_feeds(args.seed, count, args.items, args.watched_share, False)]
    started = time.process_time()
    for body in bodies:
        feedparser.parse(body)
    feedparser_seconds = time.process_time() - started
    safe = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    started = time.process_time()
    for body in bodies:
        lxml.etree.fromstring(body, safe)
    lxml_seconds = time.process_time() - started
    return {
        "feeds": count,
        "body_kib": sum(len(b) for b in bodies) / count / 1024,
        "feedparser_ms_per_feed": 1000 * feedparser_seconds / count,
        "lxml_ms_per_feed": 1000 * lxml_seconds / count,
    }


@contextlib.contextmanager
def bot_bytecode(args: argparse.Namespace) -> Iterator[None]:
    """The `python -m bot once` processes' environment (args.bot_env): a warmed bytecode
    cache of their own unless --no-bytecode-cache, as a deployed install has."""
    with bytecode_cache(not args.no_bytecode_cache, [ROOT]) as env:
        args.bot_env = env
        yield


def run(args: argparse.Namespace) -> dict[str, Any]:
    server = FeedServer(args)
    startup: float | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="newswatch-bench-") as tmp_name:
            tmp = Path(tmp_name)
            if args.subprocess:
                with bot_bytecode(args):
                    cycles = run_subprocesses(args, server, tmp)
            else:
                startup, cycles = asyncio.run(run_in_process(args, server, tmp))
            lines = count_lines(tmp / "alerts.jsonl")
        reap_children(server.process)
        children_rss = peak_rss_mib(resource.RUSAGE_CHILDREN)
    finally:
        server.stop()
    reference = parser_reference(args)
    if args.profile:
        for number in range(1, len(cycles) + 1):
            out = io.StringIO()
            path = profile_path(args.profile, number)
            pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(args.profile_top)
            print(f"=== {path}: {cycles[number - 1].name}\n{out.getvalue()}", file=sys.stderr)
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
            "subprocess": args.subprocess,
            "cycles": args.cycles,
            "first_poll": args.first_poll,
            "start_method": multiprocessing.get_start_method(),
            "no_pyc": sys.dont_write_bytecode,
            "bytecode": describe_bytecode(getattr(args, "bot_env", None)),
            "python": sys.version.split()[0],
        },
        "server": server.info,
        "startup_seconds": startup,
        "cycles": [c.as_dict() for c in cycles],
        "reference": reference,
        "jsonl_lines": lines,
        "peak_rss_self_mib": peak_rss_mib(resource.RUSAGE_SELF),
        "peak_rss_children_mib": children_rss,
    }


# --- output ------------------------------------------------------------------------


ROWS: tuple[tuple[str, str], ...] = (
    ("feeds polled", "{feeds}"),
    ("CPU seconds (process tree)", "{cpu_seconds:.2f}"),
    ("CPU ms per feed", "{cpu_ms_per_feed:.2f}"),
    ("x feedparser (CPU per feed)", "{x_feedparser:.2f}"),
    ("wall time (s)", "{wall_seconds:.2f}"),
    ("feeds/s", "{feeds_per_second:.1f}"),
    ("items parsed", "{items_parsed}"),
    ("new items (matched)", "{new_items}"),
    ("alerts queued", "{alerts_queued}"),
    ("alerts delivered", "{alerts_delivered}"),
    ("poll errors", "{errors}"),
    ("server 200 responses", "{server_200}"),
    ("server 304 responses", "{server_304}"),
    ("peak RSS so far (MiB)", "{peak_rss_mib:.1f}"),
)


def render(result: dict[str, Any]) -> str:
    cfg, srv, cycles, ref = (
        result["config"],
        result["server"],
        result["cycles"],
        result["reference"],
    )
    fp_ms = ref["feedparser_ms_per_feed"]
    for c in cycles:
        c["x_feedparser"] = c["cpu_ms_per_feed"] / fp_ms if fp_ms else 0.0
    width = max(len(label) for label, _ in ROWS) + 2
    col = max(14, *(len(c["name"]) + 2 for c in cycles))
    mode = (
        "each cycle a separate `python -m bot once` (CPU: RUSAGE_CHILDREN delta, start-up included)"
        if cfg["subprocess"]
        else "in process (CPU: bot + parser workers); "
        f"App.open took {result['startup_seconds']:.2f} s"
    )
    lines = [
        f"newswatch pipeline benchmark: {cfg['feeds']} feeds x {cfg['items']} items, "
        f"concurrency {cfg['concurrency']}, parser workers {cfg['workers']}, seed {cfg['seed']}, "
        f"first_poll {cfg['first_poll']}",
        f"feed server: {HOST}:{srv['port']} (own process), "
        f"{srv['body_bytes'] / 2**20:.1f} MiB of RSS 2.0 XML"
        + (f" ({srv['wire_bytes'] / 2**20:.1f} MiB gzipped)" if cfg["gzip"] else "")
        + f", {srv['watched_items']} items mention a watched entity, "
        f"generated in {srv['generate_seconds']:.2f} s",
        f"python {cfg['python']}, start method {cfg['start_method']}, {cfg['bytecode']}; {mode}",
        f"reference, same run, {ref['feeds']} bodies of {ref['body_kib']:.1f} KiB: "
        f"feedparser.parse {fp_ms:.2f} ms CPU per feed, lxml.etree.fromstring "
        f"{ref['lxml_ms_per_feed']:.2f} ms",
        "",
        " " * width + "".join(c["name"].rjust(col) for c in cycles),
    ]
    for label, fmt in ROWS:
        cells = ["-" if fmt.format(**c).startswith("-1") else fmt.format(**c) for c in cycles]
        lines.append(label.ljust(width) + "".join(cell.rjust(col) for cell in cells))
    lines += [
        "",
        "| cycle | CPU seconds | CPU per feed | wall seconds | x feedparser |",
        "|---|---|---|---|---|",
    ]
    for c in cycles:
        lines.append(
            f"| {c['name']} | {c['cpu_seconds']:.1f} | {c['cpu_ms_per_feed']:.2f} ms "
            f"| {c['wall_seconds']:.1f} | {c['x_feedparser']:.2f} |"
        )
    lines += [
        "",
        f"alerts written to the jsonl file: {result['jsonl_lines']}",
        f"peak RSS, bench process (RUSAGE_SELF):       {result['peak_rss_self_mib']:8.1f} MiB",
        f"peak RSS, largest child (RUSAGE_CHILDREN):   {result['peak_rss_children_mib']:8.1f} MiB",
    ]
    if not cfg["subprocess"]:
        lines.insert(
            -3, "poll outcomes: " + "; ".join(f"{c['name']}: {c['statuses']}" for c in cycles)
        )
    if cfg["stages"]:
        lines += ["", "stage timings (--stages):"]
        header = f"  {'':42}{'calls':>8}{'total s':>10}{'mean ms':>10}{'max ms':>10}"
        for c in cycles:
            lines += [f"  {c['name']}", header]
            for stage, t in c["stages"].items():
                lines.append(
                    f"  {StageTimes.LABELS[stage]:42}{t['calls']:8d}{t['total_seconds']:10.2f}"
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
        if (c["server_200"], c["server_304"]) != (c["expected_200"], feeds - c["expected_200"]):
            found.append(
                f"{c['name']}: {c['server_200']} 200s and {c['server_304']} 304s, expected "
                f"{c['expected_200']} and {feeds - c['expected_200']}"
            )
    if len(result["cycles"]) < result["config"]["cycles"]:
        found.append(f"only {len(result['cycles'])} cycles ran")
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
        metavar="PREFIX",
        help="cProfile every cycle (the bot's main process; not the parser workers) into "
        "PREFIX-cycleN.prof and print the top entries by own time on stderr",
    )
    p.add_argument("--profile-top", type=int, default=25, help="entries printed per profile")
    p.add_argument(
        "--subprocess",
        action="store_true",
        help="run each cycle as `python -m bot once --config ...` (as issue 13 measured); "
        "--stages needs the default in-process mode",
    )
    p.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="--subprocess: no bytecode cache for the bot processes (each compiles bot/ again "
        "under PYTHONDONTWRITEBYTECODE); default: a warmed cache of their own (bench/bytecode.py)",
    )
    p.add_argument(
        "--cycles", type=int, default=len(CYCLES), help=f"run the first N cycles (1-{len(CYCLES)})"
    )
    p.add_argument(
        "--first-poll",
        choices=("all", "skip"),
        default="all",
        help="first_poll of every feed: all (alert existing items, default) or skip",
    )
    p.add_argument(
        "--reference-feeds",
        type=int,
        default=200,
        help="bodies parsed for the feedparser/lxml reference (default 200)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke size for CI: 4 feeds x 10 items, 1 parser worker (overrides those options)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.feeds, args.items, args.workers, args.concurrency = 4, 10, 1, 4
    if args.subprocess and args.stages:
        p.error("--stages times this process's objects: leave out --subprocess")
    if not 1 <= args.cycles <= len(CYCLES):
        p.error(f"--cycles must be between 1 and {len(CYCLES)}")
    for name in ("feeds", "items", "concurrency", "workers", "reference_feeds"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0.0 <= args.watched_share <= 1.0:
        p.error("--watched-share must be between 0 and 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else render(result))
    found = problems(result)
    for problem in found:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
