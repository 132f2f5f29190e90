"""Coordination: how several instances sharing one database divide the work.

One aggregate of the storage interface (bot/storage/base.py joins them). On
SQLite there is only ever one `run` per database (bot/storage/runlock.py), so
every lock is granted at once and no other instance sends notifications. On
PostgreSQL the locks are session advisory locks held on one dedicated
connection for the process's lifetime: PostgreSQL frees them the moment that
connection ends, so a SIGKILLed instance's locks pass to a survivor without any
clean-up, and no lock outlives its holder.

Names used by the bot (keep them stable: two versions of the bot in one
deployment must agree):

- ``listener``: the instance that holds the chat platforms' command connections
  (the Discord gateway, Slack Socket Mode).
- ``channel:<platform>:<id>``: the one instance sending to that channel, so its
  alerts leave in order and one create at a time.
- ``running``: held *shared* by every `run` while it lives (`join_running`), so a
  `run` stopping cleanly can tell whether it is the last one (`leave_running`): only
  the last marks the deployment's heartbeat stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

# Topics another instance announces after a commit (PostgreSQL LISTEN/NOTIFY).
OUTBOX_CHANGED = "outbox"  # alerts, summaries or digests were queued
TERMS_CHANGED = "terms"  # chat terms, removed aliases, mutes or added feeds changed


class Coordination(Protocol):
    @property
    def shared(self) -> bool:
        """True when other instances may run on this database (PostgreSQL)."""
        ...

    async def try_lock(self, name: str) -> bool:
        """Take the named lock unless another live instance holds it; True if held now.

        Taking a lock this process already holds returns True. A lock is kept until
        `unlock`, or until this process dies or loses its database connection.
        """
        ...

    async def unlock(self, name: str) -> None:
        """Give the lock up (nothing happens if it is not held)."""
        ...

    async def holds_lock(self, name: str) -> bool:
        """Still held: False once the connection that held it was lost, since another
        instance may hold it now (a caller must then stop acting as its holder)."""
        ...

    async def join_running(self) -> None:
        """Count this process among the running instances (a shared hold on ``running``)
        until `leave_running` or its session ends. Taking it again is a no-op; a lost
        session loses it, so callers repeat this from time to time."""
        ...

    async def leave_running(self) -> bool:
        """Stop counting as running; True when no other instance runs (then ``running``
        is held exclusively until `unlock("running")` or the session ends, so an instance
        starting meanwhile counts itself only after this one's stop is recorded)."""
        ...

    def subscribe(self, topic: str, callback: Callable[[], None]) -> None:
        """Call `callback` (on the event loop) whenever another instance announces
        `topic` (OUTBOX_CHANGED, TERMS_CHANGED). Announcements are hints: a missed
        one is caught up by the periodic checks, so callers must not depend on them."""
        ...
