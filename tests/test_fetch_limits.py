"""The fetcher's request limits, counted at a real local server.

`bot.max_concurrency` and `bot.per_host_concurrency` count requests in flight:
trusted and untrusted (chat-added, guarded) feeds together, and a request waits
for its slot before its `timeout` starts. These tests pin those semantics; they
are why bot/feeds/fetch.py keeps its semaphores rather than aiohttp's
`TCPConnector(limit=…, limit_per_host=…)`, which counts connections per session
(two sessions: twice the limit) and times out requests queued for a connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import pytest
from aiohttp import web

from bot.config import BotSettings
from bot.feeds.fetch import Fetcher
from tests.feedserver import item, rss

BODY = rss([item(1, "hello")])


class GateServer:
    """Holds every request until the test releases it; counts requests in flight."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.hold_seconds = 0.0  # for a slow server: answer after this long, no gate
        self._changed = asyncio.Condition()
        self._gate = asyncio.Semaphore(0)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.port}/feed{n}.xml"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for _ in range(100):
            self._gate.release()
        if self._runner:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        async with self._changed:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self._changed.notify_all()
        try:
            if self.hold_seconds:
                await asyncio.sleep(self.hold_seconds)  # a slow feed server, not a sync point
            else:
                await self._gate.acquire()
        finally:
            self.in_flight -= 1
        return web.Response(body=BODY, content_type="application/rss+xml")

    async def wait_in_flight(self, n: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight >= n)

    def release_one(self) -> None:
        self._gate.release()


@pytest.fixture
async def gate_server() -> AsyncIterator[GateServer]:
    server = GateServer()
    await server.start()
    yield server
    await server.stop()


def settings(tmp_path, **kw) -> BotSettings:
    return BotSettings(database=tmp_path / "db", watchlists=tmp_path, **{"timeout": 10.0, **kw})


async def drain(server: GateServer, tasks: Iterable[asyncio.Task[object]], limit: int) -> None:
    """Release the held requests one at a time, each once `limit` are in flight.

    While a released fetch completes, the event loop runs everything else: a
    request the limit did not hold back reaches the server and is counted.
    """
    pending = set(tasks)
    while pending:
        await server.wait_in_flight(min(limit, len(pending)))
        server.release_one()
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            assert task.result().status == 200  # type: ignore[attr-defined]


async def test_per_host_limit_caps_requests_in_flight(gate_server: GateServer, tmp_path) -> None:
    async with Fetcher(settings(tmp_path, per_host_concurrency=2)) as f:
        tasks = [asyncio.create_task(f.fetch(gate_server.url(n))) for n in range(6)]
        await drain(gate_server, tasks, limit=2)
    assert gate_server.most_in_flight == 2


async def test_global_limit_counts_trusted_and_chat_added_feeds_together(
    gate_server: GateServer, tmp_path
) -> None:
    """Chat-added feeds go through their own (guarded) session, yet share the one limit."""
    bot = settings(tmp_path, max_concurrency=2, per_host_concurrency=10, allow_private_feeds=True)
    async with Fetcher(bot) as f:
        tasks = [
            asyncio.create_task(f.fetch(gate_server.url(n), untrusted=n % 2 == 1)) for n in range(6)
        ]
        await drain(gate_server, tasks, limit=2)
    assert gate_server.most_in_flight == 2


async def test_waiting_for_a_slot_is_not_part_of_the_timeout(
    gate_server: GateServer, tmp_path
) -> None:
    """A feed queued behind a slow one on its host is not failed as timed out.

    Each request takes 60 % of the timeout, one at a time: the second is answered
    at 120 % of the timeout after it was asked for, and still succeeds.
    """
    gate_server.hold_seconds = 0.6
    async with Fetcher(settings(tmp_path, per_host_concurrency=1, timeout=1.0)) as f:
        results = await asyncio.gather(*(f.fetch(gate_server.url(n)) for n in range(2)))
    assert [r.status for r in results] == [200, 200]
    assert gate_server.most_in_flight == 1
