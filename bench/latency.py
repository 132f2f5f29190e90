"""Alert latency: from the poll that first sees an item to the chat API receiving its alert.

Issue 13's target is p99 <= 1 s when not rate-limited. This measures it on the
real delivery path of a running bot: the Slack sink (slack_sdk over HTTP) posting
to the repo's local fake of Slack (tests/fakeslack.py, 127.0.0.1 only), woken by
the outbox as `bot run` wakes it, with a real SQLite database and the shipped
watchlists.

What runs
---------
* A feed server on 127.0.0.1 (tests/feedserver.py) serves ``--feeds`` feeds:
  one "target" feed that gains one item naming a watched entity per round, and
  ``--busy`` feeds that gain ``--busy-items`` unwatched items per round (load:
  fetch, parse, dedup and storage work of other feeds during the measured poll).
* The bot: ``App.open`` with one Slack channel (flood cap off), and the
  outbox's delivery loop running as in ``bot run`` (``Outbox.run``).
* Each round polls the target feed and the busy feeds at once
  (``App.poll_feed``, what a feed's schedule calls), and takes

    t0 = just before the target feed's poll starts (its fetch included),
    t1 = when the fake Slack handles the ``chat.postMessage`` of that alert

  on the same monotonic clock (one process). Rounds are spaced so the sink's
  own pacing (one post per second per channel, Slack's limit) never delays a
  post: the target is "when not rate-limited".

It prints p50, p90, p99 and max over ``--alerts`` alerts. Timings are noisy on a
shared machine; nothing here is asserted by the tests (tests/test_bench_latency.py
only runs ``--quick`` and checks that every alert arrived).

Run from the project root::

    python bench/latency.py                   # 60 alerts, 20 busy feeds (~1.5 min)
    python bench/latency.py --quick           # 5 alerts, CI smoke
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.app import App  # noqa: E402
from bot.config import settings_from_dict  # noqa: E402
from tests.fakeslack import FakeSlack  # noqa: E402
from tests.feedserver import FeedServer, item  # noqa: E402

CHANNEL = "C0LATENCY"
WATCHED_NAME = "Haqqani Network"  # an alias of the shipped watchlists/groups.toml
log = logging.getLogger("bench.latency")
PACE = 1.05  # seconds between rounds: the Slack sink posts at most ~1/s per channel
TOKEN_ENV = ("BENCH_SLACK_BOT", "BENCH_SLACK_APP", "BENCH_SLACK_SECRET")


class TimedSlack(FakeSlack):
    """The fake Slack, noting when each chat.postMessage arrives (monotonic clock)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.arrivals: list[tuple[float, str]] = []

    def _timed_post(self, params: dict[str, Any]) -> dict[str, Any]:
        self.arrivals.append((time.monotonic(), json.dumps(params, default=str)))
        return FakeSlack._chat_post_message(self, params)

    _METHODS: ClassVar[dict[str, Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]]] = {
        **FakeSlack._METHODS,
        "chat.postMessage": _timed_post,  # type: ignore[dict-item]
    }


def settings(tmp: Path, server: FeedServer, fake: FakeSlack, args: argparse.Namespace) -> Any:
    feeds = [{"url": server.url("/target.xml"), "name": "Target"}] + [
        {"url": server.url(f"/busy/{n}.xml"), "name": f"Busy {n}"} for n in range(args.busy)
    ]
    data = {
        "bot": {
            "database": str(tmp / "latency.sqlite3"),
            "watchlists": str(ROOT / "watchlists"),
            "parser_workers": args.workers,
            "allow_private_feeds": True,
            "log_level": "WARNING",
        },
        "feeds": [{"interval": "5m", "first_poll": "all", **f} for f in feeds],
        "channels": [{"platform": "slack", "id": CHANNEL, "flood_cap": 0}],
        "slack": {
            "bot_token_env": TOKEN_ENV[0],
            "app_token_env": TOKEN_ENV[1],
            "signing_secret_env": TOKEN_ENV[2],
            "api_base": fake.api_base,
        },
    }
    return settings_from_dict(data, tmp / "bot.toml")


def busy_items(feed: int, round_: int, count: int) -> list[dict[str, str]]:
    """Unwatched filler: `count` items per round, the newest 50 served."""
    out = []
    for r in range(max(0, round_ - 50 // max(count, 1)), round_ + 1):
        for k in range(count):
            out.append(
                item(
                    f"b{feed}-{r}-{k}",
                    f"Council debates budget line {feed} {r} {k}",
                    "<p>The <b>regional council</b> met to discuss roads, schools "
                    "and the water supply for the coming year.</p>" * 3,
                )
            )
    return out[-50:]


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    server = FeedServer()
    await server.start()
    fake = TimedSlack(channels={CHANNEL: "alerts"})
    await fake.start()
    for name, value in zip(
        TOKEN_ENV, (fake.bot_token, fake.app_token, fake.signing_secret), strict=True
    ):
        os.environ[name] = value
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        os.environ.pop(proxy, None)  # slack_sdk reads these and ignores NO_PROXY
    target: list[dict[str, str]] = [item("t-0", "Weather outlook for the weekend", "Mild.")]
    server.feed("/target.xml", target)
    for n in range(args.busy):
        server.feed(f"/busy/{n}.xml", busy_items(n, 0, args.busy_items))
    latencies: list[float] = []
    missing = 0
    try:
        with tempfile.TemporaryDirectory(prefix="newswatch-latency-") as tmp:
            async with App.open(settings(Path(tmp), server, fake, args)) as app:
                stop = asyncio.Event()
                delivery = asyncio.create_task(app.outbox.run(stop, app.health))
                feeds = list(app.feeds.values())
                await asyncio.gather(*(app.poll_feed(f) for f in feeds))  # first poll
                for round_ in range(1, args.alerts + 1):
                    started = time.monotonic()
                    marker = f"zq{round_:05d}"
                    target.insert(
                        0, item(f"t-{round_}", f"{WATCHED_NAME} statement {marker}", "Said.")
                    )
                    server.feed("/target.xml", target[:50])
                    for n in range(args.busy):
                        server.feed(f"/busy/{n}.xml", busy_items(n, round_, args.busy_items))
                    seen_before = len(fake.arrivals)
                    t0 = time.monotonic()
                    outcomes = await asyncio.gather(*(app.poll_feed(f) for f in feeds))
                    log.debug("target poll: %s", outcomes[0])
                    try:
                        arrival = await fake.wait_for(
                            lambda m=marker, s=seen_before: next(
                                (t for t, text in fake.arrivals[s:] if m in text), None
                            ),
                            timeout=args.timeout,
                        )
                        latencies.append(arrival - t0)
                    except (TimeoutError, AssertionError):
                        missing += 1
                    rest = PACE - (time.monotonic() - started)
                    if rest > 0:
                        await asyncio.sleep(rest)  # the sink's rate limit, not synchronisation
                stop.set()
                await delivery
    finally:
        await fake.stop()
        await server.stop()
    return {
        "alerts": args.alerts,
        "received": len(latencies),
        "missing": missing,
        "busy_feeds": args.busy,
        "busy_items": args.busy_items,
        **summary(latencies),
    }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def summary(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {}
    return {
        "p50_s": percentile(latencies, 50),
        "p90_s": percentile(latencies, 90),
        "p99_s": percentile(latencies, 99),
        "max_s": max(latencies),
        "mean_s": statistics.fmean(latencies),
    }


def render(result: dict[str, Any]) -> str:
    lines = [
        f"alert latency, poll start -> fake Slack chat.postMessage: {result['received']} of "
        f"{result['alerts']} alerts received, {result['busy_feeds']} busy feeds "
        f"(+{result['busy_items']} items each per round) polled alongside",
    ]
    if result["received"]:
        lines.append(
            "p50 {p50_s:.3f} s   p90 {p90_s:.3f} s   p99 {p99_s:.3f} s   "
            "max {max_s:.3f} s   mean {mean_s:.3f} s".format(**result)
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--alerts", type=int, default=60, help="alerts measured (default 60)")
    p.add_argument("--busy", type=int, default=20, help="feeds changing alongside (default 20)")
    p.add_argument("--busy-items", type=int, default=5, help="new items per busy feed per round")
    p.add_argument("--workers", type=int, default=2, help="bot.parser_workers (default 2)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one alert")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--quick", action="store_true", help="5 alerts, 3 busy feeds, 1 worker")
    args = p.parse_args(argv)
    if args.quick:
        args.alerts, args.busy, args.workers = 5, 3, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=os.environ.get("BENCH_LOG", "WARNING"))
    result = asyncio.run(measure(args))
    print(json.dumps(result) if args.json else render(result))
    return 0 if result["received"] == result["alerts"] else 1


if __name__ == "__main__":
    sys.exit(main())
