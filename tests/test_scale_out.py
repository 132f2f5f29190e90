"""Three `python -m bot run` processes on one PostgreSQL database, end to end.

The issue's multi-instance test: a local feed server with 300 feeds, the fake Discord
with three channels (both in this test's event loop, on 127.0.0.1), and three bot
processes whose configs differ only in `[bot] user_agent`. Instance 1 starts first,
so it holds the command listener (the gateway) and every channel; 2 and 3 join.
After every feed's first poll (seeded: no alerts) new matching items appear; while
instance 1 posts them, the fake stores one create and holds its answer, and the test
SIGKILLs instance 1 (its whole process group, parser worker included): the one
alert Discord has but the bot never heard about, the channels it was sending to,
the feeds it had leased and the gateway all have to pass to the survivors.

What is checked, from what the servers saw (no bot internals):
- every alert posted exactly once: one message per outbox row, distinct nonces,
  the held create answered to the survivor by its nonce (Discord's dedup);
- creates per channel never overlapped (a channel's threads count as the channel);
- feeds were spread over all instances (the feed server's log, by User-Agent) and
  no feed was fetched twice within one interval, the survivors' clean stop included;
- within 30 s of the kill: every feed fetched again by a survivor, every alert
  delivered, a survivor on the gateway; a slash command then answered exactly once;
- never two gateway sessions live at once.

Waits poll a condition with a deadline; the only time bounds asserted are the
issue's 30 s takeover guarantees. The module needs PostgreSQL: the `postgres_url`
fixture skips it with a reason when no server can be started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.fakediscord import ALERTS_CHANNEL_ID, GUILD_ID, OPS_CHANNEL_ID, FakeDiscord
from tests.feedserver import FeedServer, item
from tests.intervals import Span, overlapping

ROOT = Path(__file__).resolve().parent.parent
FEEDS = 300
INTERVAL = 10.0  # seconds; short enough for a test, long enough for a loaded machine
STALL_AT = 8  # the create whose answer the fake holds while instance 1 is killed
TAKEOVER = 30.0  # the guarantee for feeds, alerts and the gateway
START = 90.0  # generous bound on bot processes starting on a loaded 2-core machine
THIRD_CHANNEL_ID = 1_300_000_000_000_000_203
CHANNELS = (ALERTS_CHANNEL_ID, OPS_CHANNEL_ID, THIRD_CHANNEL_ID)
CREATE = re.compile(r"/channels/(\d+)/messages")
LISTENING = "this instance holds the command listener"  # bot/app_shared.py, INFO
# One distinct event per new item (no shared wording: none is a repeat of another,
# and stories stay apart); each names an entity of tests/data/watchlists/test.toml.
NEWS_TITLES = (
    "ISKP claims rocket attack on border checkpoint",
    "Tajikistan closes mountain pass after avalanche",
    "Ajit Doval meets envoys over river treaty",
    "ISKP recruiter detained at airport with forged passports",
    "Tajikistan central bank raises interest rates sharply",
    "Ajit Doval chairs cyber security review",
    "ISKP propaganda channel removed by messaging platform",
    "Tajikistan hydropower dam reaches full capacity",
    "Ajit Doval visits naval base ahead of exercises",
    "ISKP commander killed in drone strike, officials say",
    "Tajikistan wheat harvest hit by drought",
    "Ajit Doval briefs parliament committee on militancy",
)
NEW_ITEMS = len(NEWS_TITLES)  # matching items that appear after the first poll, one per feed


class HoldingDiscord(FakeDiscord):
    """The fake (which records gateway sessions, creates in flight per channel and
    interaction responses), holding the answer to the STALL_AT-th message create:
    stored and its nonce remembered, but its sender never hears back."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.create_count = 0

    async def _api(self, request: Any) -> Any:
        path = "/" + request.match_info["tail"]
        if request.method == "POST" and CREATE.fullmatch(path):
            self.create_count += 1
            if self.create_count == STALL_AT:
                self.fail_next("POST", re.escape(path), 200, after_store=True, stall=True)
        return await super()._api(request)


@dataclass
class Instance:
    name: str
    config: Path
    proc: asyncio.subprocess.Process | None = None
    killed_at: float | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.config.with_suffix(".log")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def write_config(tmp_path: Path, name: str, url: str, fake: FakeDiscord, feeds: list[str]) -> Path:
    """bot.toml as an operator writes it for every instance: only user_agent differs."""
    (tmp_path / "wl").mkdir(exist_ok=True)
    (tmp_path / "wl" / "w.toml").write_text((ROOT / "tests/data/watchlists/test.toml").read_text())
    channels = "".join(
        f'[[channels]]\nplatform = "discord"\nid = "{cid}"\nflood_cap = 0\n' for cid in CHANNELS
    )
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'[bot]\ndatabase = "{url}"\nwatchlists = "wl"\nuser_agent = "{name}"\n'
        f'interval = "{INTERVAL:g}s"\nparser_workers = 1\nallow_private_feeds = true\n'
        'timeout = "5s"\nper_host_concurrency = 8\n'
        + "".join(f'[[feeds]]\nurl = "{f}"\n' for f in feeds)
        + channels
        + '[discord]\ntoken_env = "T_DISCORD_TOKEN"\n'
        f'api_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
        f'guild_ids = ["{GUILD_ID}"]\nguild_ready_timeout = "0.1s"\n'
    )
    return config


async def start(instance: Instance, fake: FakeDiscord) -> None:
    """`python -m bot run` in a session of its own, so a kill takes its parser worker
    too (as a container stop does); stderr to a file a stray worker cannot hold open."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update(T_DISCORD_TOKEN=fake.token, PYTHONUNBUFFERED="1")
    instance.proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--config",
        str(instance.config),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=instance.log.open("ab"),
        start_new_session=True,
    )


async def until(
    what: str, condition: Callable[[], Any], deadline: float, instances: list[Instance]
) -> Any:
    """Poll `condition` (cheap, in-memory or one query) until truthy or the monotonic
    `deadline`; fail naming `what`, with the bots' last lines, if a bot died or time ran out."""
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        for inst in instances:
            if inst.killed_at is None and inst.proc and inst.proc.returncode is not None:
                pytest.fail(
                    f"{inst.name} exited while waiting for {what}:\n{inst.output()[-3000:]}"
                )
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {i.name}\n{i.output()[-2000:]}" for i in instances)
            pytest.fail(f"timed out waiting for {what}\n{tails}")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def database(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()


async def advisory_locks(conn: asyncpg.Connection) -> int:
    """Advisory locks granted in this database: the listener and channel locks."""
    return await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )


def fetched(server: FeedServer, since: float = 0.0) -> dict[str, set[str]]:
    """Per feed path, the user agents that fetched it after `since`."""
    seen: dict[str, set[str]] = {}
    for at, path, agent in server.log:
        if at > since:
            seen.setdefault(path, set()).add(agent)
    return seen


def end_held_create(fake: FakeDiscord, killed_at: float) -> Span:
    """The held create is in flight for the fake until it stops, but it was over when
    its sender died (Discord had stored it): it ends at the kill, so the survivor's
    retry of it does not count as a second create in flight."""
    channel = int(CREATE.fullmatch(fake.stalled[0])[1])  # type: ignore[index]
    (held,) = [s for s in fake.creates[channel] if s.end is None or s.end > killed_at]
    held.end = killed_at
    return held


async def test_three_instances_share_feeds_alerts_and_the_gateway_and_survive_a_kill(
    tmp_path: Path, postgres_url: str
) -> None:
    server = FeedServer()
    await server.start()
    fake = HoldingDiscord(
        create_latency=0.02,
        channels=[
            {"id": ALERTS_CHANNEL_ID, "name": "alerts"},
            {"id": OPS_CHANNEL_ID, "name": "ops"},
            {"id": THIRD_CHANNEL_ID, "name": "wire"},
        ],
    )
    await fake.start()
    paths = [f"/f/{n}.xml" for n in range(FEEDS)]
    urls = [server.feed(p, [old_item(n)]) for n, p in enumerate(paths)]
    instances = [
        Instance(name, write_config(tmp_path, name, postgres_url, fake, urls))
        for name in ("instance-1", "instance-2", "instance-3")
    ]
    first, survivors = instances[0], instances[1:]
    try:
        async with database(postgres_url) as db:
            # Instance 1 alone: it takes the listener and every channel.
            await start(first, fake)
            deadline = time.monotonic() + START
            await until(
                "instance-1 on the gateway",
                lambda: fake.live_gateway_sessions == 1,
                deadline,
                instances,
            )
            await until(
                "instance-1 holding the listener and every channel",
                lambda: _at_least(advisory_locks(db), 1 + len(CHANNELS)),
                deadline,
                instances,
            )
            await until(  # the gateway session is instance 1's
                "instance-1 saying it listens",
                lambda: LISTENING in first.output(),
                deadline,
                instances,
            )
            for inst in survivors:
                await start(inst, fake)
            await until(
                "instances 2 and 3 polling",
                lambda: {"instance-2", "instance-3"} <= {a for _, _, a in server.log},
                time.monotonic() + START,
                instances,
            )
            await until(
                "every feed's first poll",
                lambda: len(fetched(server)) == FEEDS,
                time.monotonic() + START,
                instances,
            )
            await until(
                "the first polls recorded",
                lambda: _count(db, "SELECT count(*) FROM feeds WHERE first_polled::int = 1", FEEDS),
                time.monotonic() + START,
                instances,
            )
            # New matching items, one per feed, on feeds spread over the list.
            news = {}
            for k, title in enumerate(NEWS_TITLES):
                n = k * (FEEDS // NEW_ITEMS)
                news[f"https://example.org/news/{n}-1"] = title
                server.feed(paths[n], [item(f"{n}-1", title), old_item(n)])
            expected = NEW_ITEMS * len(CHANNELS)

            # Mid-delivery: instance 1 sent STALL_AT creates, the last one is held.
            await until(
                "instance 1 posting (a create held)",
                lambda: fake.stalled,
                time.monotonic() + 3 * INTERVAL + START,
                instances,
            )
            assert first.proc is not None
            os.killpg(first.proc.pid, signal.SIGKILL)
            killed_at = first.killed_at = time.monotonic()
            await first.proc.wait()
            held = end_held_create(fake, killed_at)
            before_kill = sum(len(spans) for spans in fake.creates.values())
            assert 0 < before_kill < expected, "the kill came mid-delivery"

            # The survivors take over within 30 s: gateway, alerts, feeds.
            deadline = killed_at + TAKEOVER
            taken: dict[str, float] = {}
            await until(
                "a survivor on the gateway",
                lambda: any(
                    s.open and s.info["identified"] and s.start > killed_at
                    for s in fake.gateway_sessions
                ),
                deadline,
                instances,
            )
            taken["gateway"] = time.monotonic() - killed_at
            await until(
                "the survivor on the gateway saying so",
                lambda: sum(LISTENING in i.output() for i in survivors) == 1,
                deadline,
                instances,
            )
            await until(
                "every alert delivered",
                lambda: _count(db, "SELECT count(*) FROM outbox WHERE status = 'sent'", expected),
                deadline,
                instances,
            )
            taken["alerts"] = time.monotonic() - killed_at
            await until(
                "every feed fetched by a survivor",
                lambda: len(fetched(server, since=killed_at)) == FEEDS,
                deadline,
                instances,
            )

            taken["feeds"] = time.monotonic() - killed_at
            # A slash command reaches the one listener and is answered once.
            payload = fake.interaction("watch list", {}, permissions=0)
            await fake.dispatch("INTERACTION_CREATE", payload)
            interaction = int(payload["id"])
            await until(
                "the slash command answered",
                lambda: fake.interaction_responses[interaction],
                time.monotonic() + TAKEOVER,
                instances,
            )

            rows = await db.fetch(
                "SELECT o.id, o.channel_id, o.status, o.message_id, i.url"
                " FROM outbox o JOIN items i ON i.id = o.item_id ORDER BY o.id"
            )
            seen_urls = {r["url"] for r in await db.fetch("SELECT url FROM items")}

        # A clean stop lets the polls in flight finish (a poll outlasting the grace
        # keeps its lease): the interval check below covers the stop too.
        stopping_at = time.monotonic()
        for inst in survivors:
            assert inst.proc is not None
            inst.proc.send_signal(signal.SIGTERM)
        for inst in survivors:
            assert inst.proc is not None
            await asyncio.wait_for(inst.proc.wait(), START)
    finally:
        for inst in instances:
            if inst.proc is not None and inst.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(inst.proc.pid, signal.SIGKILL)
                await inst.proc.wait()
        await fake.stop()
        await server.stop()

    # What happened, for the report (pytest -s shows it).
    print(
        f"\nkilled after {before_kill} creates; taken over after (s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in taken.items())
        + f"; nonce hits {fake.nonce_hits}; creates {sum(map(len, fake.creates.values()))}"
    )
    # Every alert exactly once: one outbox row per new item and channel, all sent,
    # each with its own message; one message per row; the held one by its nonce.
    assert sorted((r["url"], r["channel_id"]) for r in rows) == sorted(
        (url, str(cid)) for url in news for cid in CHANNELS
    ), "alerts for exactly the new items (the first poll was seeded, not alerted)"
    assert {r["status"] for r in rows} == {"sent"}
    message_ids = [r["message_id"] for r in rows]
    assert len(set(message_ids)) == len(rows)
    # channel.send always carries a nonce; interaction answers (the slash command) do not.
    alert_messages = [m for m in fake.messages.values() if m.get("nonce") is not None]
    assert sorted(str(m["id"]) for m in alert_messages) == sorted(message_ids)
    nonces = [m["nonce"] for m in alert_messages]
    assert len(set(nonces)) == len(nonces)
    assert fake.nonce_hits >= 1, "the held create was re-sent with its nonce and deduplicated"
    retries = [s for spans in fake.creates.values() for s in spans if s.start > killed_at]
    assert held.info.get("nonce") in {s.info.get("nonce") for s in retries}
    assert set(news) <= seen_urls

    # One create at a time per channel, deployment-wide.
    by_channel: dict[int, list[Span]] = {}
    for channel, spans in fake.creates.items():
        thread = fake.threads.get(channel)
        by_channel.setdefault(int(thread["parent_id"]) if thread else channel, []).extend(spans)
    assert [pair for spans in by_channel.values() for pair in overlapping(spans)] == []

    # Feeds: spread over all three, never twice within one interval.
    per_agent: dict[str, set[str]] = {}
    times: dict[str, list[tuple[float, str]]] = {}
    for at, path, agent in server.log:
        per_agent.setdefault(agent, set()).add(path)
        times.setdefault(path, []).append((at, agent))
    spread = {agent: len(feeds) for agent, feeds in per_agent.items()}
    after_stop = sum(1 for at, _, _ in server.log if at >= stopping_at)
    print(
        f"feeds fetched per instance: {spread}; requests {len(server.log)}, "
        f"{after_stop} after SIGTERM"
    )
    assert set(spread) == {i.name for i in instances}, spread
    assert min(spread.values()) >= FEEDS // 10, f"feeds not spread: {spread}"
    too_soon = [
        (path, f"{a - killed_at:+.2f}s {who_a}", f"{b - killed_at:+.2f}s {who_b}")
        for path, fetches in times.items()
        for (a, who_a), (b, who_b) in pairwise(fetches)
        if b - a < INTERVAL - 1.0
    ]
    history = {
        path: [f"{at - killed_at:+.2f}s {who}" for at, who in times[path]]
        for path, *_ in too_soon[:2]
    }
    assert too_soon == [], f"fetched twice within one interval: {too_soon[:10]}; {history}"

    # The gateway: never two sessions at once; the command answered exactly once.
    assert fake.gateway_overlaps() == []
    assert sum(s.info["identified"] for s in fake.gateway_sessions) >= 2  # 1, then a survivor
    assert fake.interaction_responses[interaction] == 1
    assert fake.errors == []
    for inst in instances:
        assert "Traceback" not in inst.output(), f"{inst.name}:\n{inst.output()[-3000:]}"


async def _at_least(count: Any, wanted: int) -> bool:
    return (await count) >= wanted


async def _count(db: asyncpg.Connection, sql: str, wanted: int) -> bool:
    return (await db.fetchval(sql)) >= wanted


def old_item(n: int) -> dict[str, str]:
    """What feed `n` holds before the test adds news: seeded by the first poll."""
    return item(f"{n}-0", f"Harbour council meets on budget {n}")
