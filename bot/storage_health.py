"""Storage failures in the long-running loops: back off, log sparingly, recover by itself.

With the disk full or the database read-only, every loop that writes fails on
every attempt. Without care each failure is a traceback and an immediate
retry: thousands of lines a second, and a log nobody can read. Instead each
loop waits longer after each failure (`Backoff`, capped), and all loops share
one `StorageHealth` that says "failing" once, reminds at most once a
minute, and says "works again" once every loop that failed has succeeded.
Nothing is lost meanwhile: a feed whose items could not be stored keeps its
old state, so they are fetched and read again; queued alerts stay queued.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.errors import StorageError

log = logging.getLogger("bot.storage")

#: What a loop treats as "storage is not working right now".
STORAGE_FAILURES: tuple[type[BaseException], ...] = (StorageError, sqlite3.Error)

BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
REMINDER_EVERY = 60.0  # seconds between "still failing" lines
LINES_PER_MINUTE = 4  # at most this many storage lines a minute, however it flaps
DAMAGED_FIX = "restore it from a backup, or move it aside to start with a fresh database"


@dataclass(slots=True)
class Backoff:
    """One loop's wait after consecutive failures: base, 2×base, 4×base … up to cap."""

    base: float = BACKOFF_BASE
    cap: float = BACKOFF_CAP
    failures: int = 0

    def next_delay(self) -> float:
        """Count a failure; the seconds to wait before the next attempt."""
        self.failures += 1
        return min(self.cap, self.base * 2 ** min(self.failures - 1, 30))

    def reset(self) -> None:
        self.failures = 0


@dataclass(slots=True)
class StorageHealth:
    """Whether storage works, as the loops see it; decides which lines get logged.

    `where` names a loop ("polling Reuters", "delivery to console:stdout").
    Storage counts as failing while any loop's last attempt failed: a loop that
    only reads may succeed while writes fail, so one loop's success does not
    clear another's failure.
    """

    database: str
    clock: Callable[[], float] = time.monotonic
    reminder_every: float = REMINDER_EVERY
    failing: dict[str, str] = field(default_factory=dict)  # where -> last error
    failing_since: float | None = None
    failures: int = 0  # failed attempts since failing_since
    last_told: float = 0.0
    _recent: deque[float] = field(default_factory=deque)  # when the last lines were logged
    _held_back: int = 0  # lines not logged because of the per-minute bound

    def failed(self, where: str, error: BaseException) -> None:
        """A loop's storage access failed; log if storage just started failing, or remind."""
        now = self.clock()
        first = not self.failing
        self.failing[where] = describe_storage_error(error)
        self.failures += 1
        if first:
            self.failing_since = now
            self._tell(
                now,
                logging.ERROR,
                f"storage failing: {self.database}: {self.failing[where]} (while {where}); "
                "retrying with backoff, fetched items and queued alerts are kept — "
                f"{storage_advice(error)}",
            )
        elif now - self.last_told >= self.reminder_every:
            self._tell(
                now,
                logging.ERROR,
                f"storage still failing after {now - (self.failing_since or now):.0f}s "
                f"({self.failures} failed attempts, {len(self.failing)} loops waiting): "
                f"{self.database}: {self.failing[where]} — {storage_advice(error)}",
            )

    def ok(self, where: str) -> None:
        """A loop's storage access worked; log once when no loop is failing any more."""
        if where not in self.failing:
            return
        del self.failing[where]
        if self.failing:
            return
        now = self.clock()
        self._tell(
            now,
            logging.WARNING,
            f"storage works again: {self.database} after "
            f"{now - (self.failing_since or now):.0f}s and {self.failures} failed attempts; "
            "carrying on",
        )
        self.failing_since = None
        self.failures = 0

    def _tell(self, now: float, level: int, message: str) -> None:
        """Log a line unless LINES_PER_MINUTE were logged in the last minute."""
        while self._recent and now - self._recent[0] >= 60.0:
            self._recent.popleft()
        self.last_told = now
        if len(self._recent) >= LINES_PER_MINUTE:
            self._held_back += 1
            return
        if self._held_back:
            message += f" ({self._held_back} storage lines held back)"
            self._held_back = 0
        self._recent.append(now)
        log.log(level, "%s", message)


def is_busy(error: BaseException) -> bool:
    """SQLite's "database is locked": SQLITE_BUSY or SQLITE_LOCKED, any extended code
    (BUSY_RECOVERY, …); by its message where the driver gives no code."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return "locked" in str(error) or "busy" in str(error)
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def describe_storage_error(error: BaseException) -> str:
    """SQLite's message with its error code, e.g. "disk I/O error [SQLITE_IOERR_WRITE]"."""
    text = str(error) or type(error).__name__
    code = getattr(error, "sqlite_errorname", None)  # e.g. SQLITE_IOERR_WRITE
    return f"{text} [{code}]" if code else text


def storage_advice(error: BaseException) -> str:
    """What a person can do about it, from SQLite's message."""
    text = str(error).lower()
    if "full" in text:
        return "free disk space"
    if "readonly" in text or "read-only" in text:
        return "make the database file and its folder writable for the bot's user"
    if "locked" in text or "busy" in text:
        return "another program holds the database locked: close it"
    if "malformed" in text or "not a database" in text:
        return DAMAGED_FIX
    return "check that the disk has room and works, and that the database file is intact"
