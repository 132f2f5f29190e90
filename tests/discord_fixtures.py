"""Helpers to run the real discord.py client against tests.fakediscord.FakeDiscord.

Typical fixture (pytest-asyncio, asyncio_mode=auto)::

    @pytest.fixture
    async def fake_discord():
        async with checked_fake() as fake:  # FakeDiscord() + pointed_at(fake) + no errors
            yield fake

    async def test_x(fake_discord):
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1)
        async with running_client(client, fake_discord.token):
            ...  # client is READY here; it is closed on exit
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.fakediscord import FakeDiscord


@contextlib.asynccontextmanager
async def checked_fake(**options: Any) -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord with discord.py pointed at it; its `errors` must stay empty."""
    async with FakeDiscord(**options) as fake:
        with pointed_at(fake):  # restores discord.py's globals afterwards
            yield fake
        assert fake.errors == [], fake.errors


@contextlib.contextmanager
def pointed_at(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at ``fake``; restore on exit."""
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = fake.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@contextlib.asynccontextmanager
async def running_client(
    client: discord.Client, token: str, *, ready_timeout: float = 5.0
) -> AsyncIterator[discord.Client]:
    """Start ``client`` in a task, wait until it is ready, always close it on exit.

    If the client dies before becoming ready (bad token, disallowed intents, ...) its
    exception is raised here instead of a timeout.
    """
    task = asyncio.create_task(client.start(token), name="discord-client")
    ready = asyncio.create_task(client.wait_until_ready())
    try:
        done, _ = await asyncio.wait(
            {task, ready}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            task.result()  # raises the client's error
            raise RuntimeError("discord client stopped before becoming ready")
        if ready not in done:
            raise TimeoutError("discord client did not become ready")
        yield client
    finally:
        ready.cancel()
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5.0)
