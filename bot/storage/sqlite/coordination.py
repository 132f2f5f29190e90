"""Coordination on SQLite: one instance per database, so nothing to divide.

bot/storage/runlock.py already refuses a second `run` on the same file, so
every lock is this process's at once, and no other instance ever announces a
change. The App checks `shared` and keeps its single-instance loops.
"""

from __future__ import annotations

from collections.abc import Callable


class CoordinationRepository:
    """bot/storage/coordination.py for the embedded engine: every lock granted."""

    @property
    def shared(self) -> bool:
        return False

    async def try_lock(self, name: str) -> bool:
        return True

    async def unlock(self, name: str) -> None:
        return None

    async def holds_lock(self, name: str) -> bool:
        return True

    async def join_running(self) -> None:
        return None

    async def leave_running(self) -> bool:
        """One `run` per file (bot/storage/runlock.py): the stopping one is the last."""
        return True

    def subscribe(self, topic: str, callback: Callable[[], None]) -> None:
        """No other instance writes to this file, so there is nothing to hear."""
        return None
