"""Coordination on PostgreSQL: named locks and change announcements between instances.

Implements bot/storage/coordination.py on the connection's dedicated session
(`self._coord`), never on the pool: a session advisory lock belongs to the
session that took it, and LISTEN hears only on the session that ran it.

- A lock is `pg_try_advisory_lock(key)`, the key a stable 64-bit hash of the
  name, so every instance (and every version of the bot) maps a name to the same
  lock. PostgreSQL frees all of a session's locks when it ends: a SIGKILLed
  instance's locks pass to a survivor with no clean-up. Advisory locks stack
  (taking one twice needs two unlocks), so names already held are remembered
  and not taken again.
- The session is kept honest: `holds_lock` asks the server (one `SELECT 1` with a
  short timeout); a session that fails or does not answer is terminated by us, so
  its locks certainly end with it, and every name is reported lost. The next
  call opens a new session (re-LISTENing every subscribed topic).
- The server is told to probe the session with TCP keepalives, so if the host of
  an instance vanishes (power, network) its locks are freed in about 25 s instead
  of the operating system's default two hours.
- An announcement is `pg_notify('newswatch_<topic>', '')` sent inside the
  announcing transaction (connection.py `notify`): PostgreSQL delivers it at the
  commit, never for a rolled-back change. An instance hears its own announcements
  too; they are hints (see the protocol), so a spare wake-up costs one cheap check.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bot.errors import StorageError
from bot.storage.postgres.connection import (
    CONNECT_ERRORS,
    CONNECT_TIMEOUT,
    NOTIFY_CHANNELS,
    PostgresConnection,
)

log = logging.getLogger(__name__)

RUNNING = "running"  # bot/storage/coordination.py: every `run` holds it shared
_RUNNING_SHARED = "running (shared)"  # how `held` records the shared hold

LOCK_NAMESPACE = b"newswatch-bot lock:"  # keeps our keys apart from other programs' locks
PING_TIMEOUT = 3.0  # seconds a live session has to answer holds_lock's check
# Seconds between reconnect attempts while the server is unreachable: the App tries
# every channel's lock every few seconds, and each try need not wait for a timeout.
RECONNECT_PAUSE = 2.0
TOPICS = {channel: topic for topic, channel in NOTIFY_CHANNELS.items()}
# Server-side keepalive of the coordination session: idle 10 s, then 5 probes 3 s apart.
KEEPALIVE = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 3, "tcp_keepalives_count": 5}

# What a lost or unreachable session raises: the connection is given up and reopened.
# (InternalClientError: a statement sent while the server's "terminating connection"
# is still being read: "another operation is in progress".)
SESSION_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
    StorageError,
)


def lock_key(name: str) -> int:
    """The advisory lock key of a name: the first 8 bytes of its namespaced SHA-256,
    as the signed 64-bit integer PostgreSQL takes."""
    digest = hashlib.sha256(LOCK_NAMESPACE + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass
class _CoordinationState:
    """What this process knows about its coordination session (one per storage)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one statement at a time
    held: set[str] = field(default_factory=set)  # lock names taken on the current session
    callbacks: dict[str, list[Callable[[], None]]] = field(default_factory=dict)
    listening: set[str] = field(default_factory=set)  # topics LISTENed on the session
    configured: bool = False  # keepalives set on the current session
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    closed: bool = False
    reconnect_at: float = 0.0  # loop time before which no new session is tried
    unreachable: bool = False  # the last reconnect failed (logged once per outage)


class CoordinationRepository(PostgresConnection):
    """Named locks and announcements shared by every instance on the database."""

    _coordination_state: _CoordinationState | None = None

    @property
    def _coordination(self) -> _CoordinationState:
        state = self._coordination_state
        if state is None:
            state = self._coordination_state = _CoordinationState()
        return state

    @property
    def shared(self) -> bool:
        return True

    async def try_lock(self, name: str) -> bool:
        state = self._coordination
        async with state.lock:
            coord = await self._live_coord()
            if coord is None:
                return False
            if name in state.held:
                return True

            async def take() -> bool:
                got = await coord.fetchval(
                    "SELECT pg_try_advisory_lock($1)", lock_key(name), timeout=PING_TIMEOUT
                )
                if got:
                    state.held.add(name)
                return bool(got)

            return bool(await self._to_the_end(take(), f"taking lock {name!r}"))

    async def unlock(self, name: str) -> None:
        state = self._coordination
        async with state.lock:
            if name not in state.held:
                return
            coord = self._coord
            if coord is None or coord.is_closed():
                state.held.discard(name)
                return

            async def release() -> bool:
                await coord.fetchval(
                    "SELECT pg_advisory_unlock($1)", lock_key(name), timeout=PING_TIMEOUT
                )
                state.held.discard(name)
                return True

            await self._to_the_end(release(), f"releasing lock {name!r}")

    async def holds_lock(self, name: str) -> bool:
        state = self._coordination
        async with state.lock:
            if name not in state.held:
                return False
            coord = self._coord
            if coord is None or coord.is_closed():
                self._lose_session("checking locks", None)
                return False

            async def ping() -> bool:
                await coord.fetchval("SELECT 1", timeout=PING_TIMEOUT)
                return True

            await self._to_the_end(ping(), "checking locks")
            return name in state.held

    async def join_running(self) -> None:
        state = self._coordination
        async with state.lock:
            coord = await self._live_coord()
            if coord is None or _RUNNING_SHARED in state.held:
                return

            async def take() -> bool:
                # Waits (briefly) only while a stopping instance records its stop.
                await coord.fetchval(
                    "SELECT pg_advisory_lock_shared($1)", lock_key(RUNNING), timeout=PING_TIMEOUT
                )
                state.held.add(_RUNNING_SHARED)
                return True

            await self._to_the_end(take(), "counting this instance as running")

    async def leave_running(self) -> bool:
        state = self._coordination
        async with state.lock:
            coord = await self._live_coord()
            if coord is None:
                return False  # cannot tell: the others' next beat says they run

            async def leave() -> bool:
                if _RUNNING_SHARED in state.held:
                    await coord.fetchval(
                        "SELECT pg_advisory_unlock_shared($1)",
                        lock_key(RUNNING),
                        timeout=PING_TIMEOUT,
                    )
                    state.held.discard(_RUNNING_SHARED)
                last = await coord.fetchval(
                    "SELECT pg_try_advisory_lock($1)", lock_key(RUNNING), timeout=PING_TIMEOUT
                )
                if last:
                    state.held.add(RUNNING)
                return bool(last)

            return bool(await self._to_the_end(leave(), "leaving the running instances"))

    def subscribe(self, topic: str, callback: Callable[[], None]) -> None:
        """Register `callback` at once; the LISTEN runs in a task, and every later
        coordination call (try_lock, holds_lock) first makes sure it has run."""
        if topic not in NOTIFY_CHANNELS:
            raise ValueError(f"unknown coordination topic {topic!r}")
        state = self._coordination
        state.callbacks.setdefault(topic, []).append(callback)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the first coordination call listens
        task = loop.create_task(self._listen_now())
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)

    async def close(self) -> None:
        """Stop listening and reconnecting, then close the connections (which frees
        every lock this process holds)."""
        state = self._coordination
        state.closed = True
        tasks = list(state.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        state.held.clear()
        await super().close()

    # -- the session ----------------------------------------------------------------

    async def _listen_now(self) -> None:
        async with self._coordination.lock:
            await self._live_coord()

    async def _live_coord(self) -> Any | None:
        """The coordination session, reopened if it was lost, keepalives set and every
        subscribed topic listened to; None if the server cannot be reached now.
        Call with the state's lock held."""
        state = self._coordination
        if state.closed:
            return None
        coord = self._coord
        if coord is None or coord.is_closed():
            self._lose_session("using the session", None)
            loop = asyncio.get_running_loop()
            if loop.time() < state.reconnect_at:
                return None  # a reconnect just failed: each lock call need not wait on another
            try:
                coord = await self._reopen_coord()
            except CONNECT_ERRORS as e:
                state.reconnect_at = loop.time() + RECONNECT_PAUSE
                if not state.unreachable:
                    log.warning("coordination: cannot reconnect to the database (%s)", e)
                state.unreachable = True
                return None
            if state.unreachable:
                log.info("coordination: reconnected to the database")
            state.unreachable = False
        try:
            if not state.configured:
                settings = "; ".join(f"SET {k} = {int(v)}" for k, v in KEEPALIVE.items())
                await coord.execute(settings, timeout=PING_TIMEOUT)
                state.configured = True
            for topic in state.callbacks:
                if topic not in state.listening:
                    await coord.add_listener(NOTIFY_CHANNELS[topic], self._dispatch)
                    state.listening.add(topic)
        except SESSION_ERRORS as e:
            self._lose_session("setting the session up", e)
            return None
        return coord

    async def _to_the_end(self, work: Coroutine[Any, Any, bool], doing: str) -> bool:
        """Run one statement on the session (and record its effect) to its end, even if
        our caller is cancelled meanwhile: a statement cut short would leave unknown
        whether the server took or freed the lock. A session error loses the session
        (ending it frees whatever it held) and answers False."""
        task = asyncio.ensure_future(work)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait([task])  # bounded by PING_TIMEOUT
            if not task.cancelled() and task.exception() is not None:
                self._lose_session(doing, task.exception())
            raise
        except SESSION_ERRORS as e:
            self._lose_session(doing, e)
            return False

    async def _reopen_coord(self) -> Any:
        """A new coordination session in place of a lost one."""
        self._coord = await asyncpg.connect(self._url, timeout=CONNECT_TIMEOUT)
        return self._coord

    def _lose_session(self, doing: str, error: BaseException | None) -> None:
        """Give the session up: terminate it (so its locks surely end) and forget what
        it held and listened to; the next call opens a new one."""
        state = self._coordination
        if state.held:
            names = sorted(state.held)
            more = f" and {len(names) - 5} more" if len(names) > 5 else ""
            log.warning(
                "coordination: lost the database session while %s (%s); giving up locks %s%s",
                doing,
                error or "connection closed",
                ", ".join(names[:5]),
                more,
            )
        state.held.clear()
        state.listening.clear()
        state.configured = False
        coord = self._coord
        if coord is not None and not coord.is_closed():
            coord.terminate()

    def _dispatch(self, _connection: Any, _pid: int, channel: str, _payload: str) -> None:
        """asyncpg's listener: run the topic's callbacks (already on the event loop)."""
        topic = TOPICS.get(channel, channel)
        for callback in list(self._coordination.callbacks.get(topic, ())):
            try:
                callback()
            except Exception:
                log.exception("coordination: a %r subscriber failed", topic)
