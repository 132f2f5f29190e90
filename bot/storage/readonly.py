"""Read what analysts changed from chat without opening the database for writing.

`check` cross-checks the config against chat-made entities and feeds, but it
must never create, migrate or lock the database of a bot that may be running:
this opens the file read-only (SQLite URI `mode=ro`) or not at all.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bot.errors import StorageError
from bot.matching.watchlists import ChatTerm
from bot.storage.sqlite import APPLICATION_ID, MIGRATIONS

#: How long to wait for a running bot's write to finish before giving up.
BUSY_TIMEOUT = 0.5


class DatabaseBusy(StorageError):
    """A running bot holds a lock on the database right now: not a problem."""


@dataclass(frozen=True, slots=True)
class ChatState:
    """Watch terms, removed file aliases and feeds added from chat."""

    terms: tuple[ChatTerm, ...] = ()
    removed: tuple[tuple[str, str], ...] = ()
    feeds: tuple[tuple[str, str], ...] = ()  # (url, name)


def read_chat_state(path: Path) -> ChatState:
    """The chat additions stored in `path`; empty when there is no database yet.

    Raises StorageError for a file `run` would refuse too: not SQLite, another
    program's, or a schema newer than this code.
    """
    if not path.exists():
        return ChatState()
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
        ) as db:
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if app_id != APPLICATION_ID and (app_id != 0 or version != 0 or tables):
                raise StorageError(f"{path}: this SQLite file belongs to another program")
            if version > len(MIGRATIONS):
                raise StorageError(
                    f"{path}: the database has schema version {version}, newer than this "
                    f"bot knows ({len(MIGRATIONS)})"
                )

            def rows(table: str, sql: str) -> list[tuple[str, ...]]:
                return db.execute(sql).fetchall() if table in tables else []

            terms = rows("watch_terms", "SELECT entity_id, term, kind FROM watch_terms ORDER BY id")
            removed = rows("removed_terms", "SELECT entity_id, term FROM removed_terms")
            feeds = rows("added_feeds", "SELECT url, name FROM added_feeds ORDER BY added_at")
    except sqlite3.OperationalError as e:
        if "locked" in str(e) or "busy" in str(e):
            raise DatabaseBusy(f"{path}: the database is busy (is the bot running?)") from e
        raise StorageError(f"{path}: not a usable SQLite database ({e})") from e
    except sqlite3.Error as e:
        raise StorageError(f"{path}: not a usable SQLite database ({e})") from e
    return ChatState(
        tuple(ChatTerm(*t) for t in terms),
        tuple((r[0], r[1]) for r in removed),
        tuple((f[0], f[1]) for f in feeds),
    )
