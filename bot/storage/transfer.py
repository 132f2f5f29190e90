"""Copy a SQLite deployment's state into an empty PostgreSQL database (`python -m bot migrate`).

The two schemas have the same tables and columns by name (bot/storage/postgres/
migrations.py mirrors bot/storage/sqlite/migrations.py), so the copy is generic:
every table the SQLite file holds goes to the table of the same name, column by
column *by name*. A table or column present in one engine and not the other is a
bug in the schemas, refused before anything is written rather than dropped.

All of it happens in one PostgreSQL transaction, with the target's tables locked
against writers: the target is either the whole copy, counts verified, or left
untouched. Rows go through COPY (asyncpg's `copy_records_to_table`), in batches
read from one SQLite read transaction, so the copy is a consistent snapshot and
memory stays flat however big the database. Tables are filled parents first
(foreign keys read from the target's catalogue), and every identity sequence is
moved past the largest copied id, so the instances that take over allocate new
ids after the old ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config_values import database_label
from bot.errors import StorageError

if TYPE_CHECKING:
    import asyncpg

#: Rows per COPY batch: big enough that COPY's per-call cost vanishes, small enough
#: that a batch of long item texts stays a few megabytes.
BATCH_ROWS = 5000
#: PostgreSQL's own bookkeeping, not state to copy.
TARGET_ONLY_TABLES = frozenset({"schema_version"})
#: Columns copied as NULL: a lease belongs to a live instance polling that feed,
#: and none is live while `migrate` holds the SQLite file.
NOT_CARRIED = {"feeds": frozenset({"lease_owner", "lease_until"})}

#: Called as batches go in: (table, rows copied so far, rows in the table).
Progress = Callable[[str, int, int], None]


class TransferError(StorageError):
    """The copy was refused or failed; the target was left as it was."""


@dataclass(frozen=True, slots=True)
class TableCopy:
    table: str
    source_rows: int
    target_rows: int
    seconds: float


@dataclass(frozen=True, slots=True)
class TransferReport:
    tables: tuple[TableCopy, ...]
    seconds: float
    nul_removed: int = 0  # text values that held NUL characters, which PostgreSQL refuses

    @property
    def rows(self) -> int:
        return sum(t.target_rows for t in self.tables)


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    convert: Callable[[Any], Any]  # SQLite value -> what asyncpg's COPY wants for its type


async def copy_sqlite_to_postgres(
    source: Path, target: str, progress: Progress | None = None
) -> TransferReport:
    """Copy every table of the SQLite file `source` into the empty database `target`.

    `source` is first opened as the bot opens it (refused if not ours, migrated
    to this version's schema); `target` gets this version's schema if it has
    none. Raises TransferError when the target holds any row, when the schemas
    differ, or when a count does not match after the copy (nothing is kept then).
    """
    from bot.storage.postgres import open_postgres
    from bot.storage.sqlite import open_storage as open_sqlite

    if not source.is_file():
        raise TransferError(f"{source}: no such SQLite file")
    async with open_sqlite(source):
        pass  # refuses a foreign or newer file, migrates an older one
    started = time.monotonic()
    reader = sqlite3.connect(
        f"{source.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
    )
    try:
        reader.execute("BEGIN")  # one read transaction: every table from one snapshot
        async with open_postgres(target) as storage, storage._transaction() as con:
            copier = _Copier(reader, con, database_label(target), progress)
            tables = await copier.run()
        return TransferReport(tables, time.monotonic() - started, copier.nul_removed)
    finally:
        with contextlib.suppress(sqlite3.Error):
            reader.close()


class _Copier:
    """One copy: SQLite read transaction in, one PostgreSQL transaction out."""

    def __init__(
        self,
        reader: sqlite3.Connection,
        con: asyncpg.Connection,
        where: str,
        progress: Progress | None,
    ) -> None:
        self.reader = reader
        self.con = con
        self.where = where
        self.progress = progress
        self.nul_removed = 0

    async def run(self) -> tuple[TableCopy, ...]:
        source = self._source_columns()
        target = await self._target_columns()
        # Lock before looking: an instance started on the target meanwhile waits
        # for the commit instead of writing between the emptiness check and the copy.
        names = ", ".join(_quote(t) for t in sorted(target))
        await self.con.execute(f"LOCK TABLE {names} IN EXCLUSIVE MODE")
        await self._refuse_non_empty(target)
        _refuse_differences(source, target)
        copies = []
        for table in await self._parents_first(target):
            copies.append(await self._copy_table(table, source[table], target[table]))
        await self._advance_sequences()
        return tuple(copies)

    # -- the two schemas -------------------------------------------------------------

    def _source_columns(self) -> dict[str, list[str]]:
        tables = [
            r[0]
            for r in self.reader.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            t: [r[1] for r in self.reader.execute(f"PRAGMA table_info({_quote(t)})")]
            for t in tables
        }

    async def _target_columns(self) -> dict[str, dict[str, str]]:
        """Table -> column -> type name, for the tables of the current schema."""
        rows = await self.con.fetch(
            "SELECT c.table_name, c.column_name, c.data_type "
            "FROM information_schema.columns c JOIN information_schema.tables t "
            "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
            "ORDER BY c.table_name, c.ordinal_position"
        )
        columns: dict[str, dict[str, str]] = {}
        for table, column, data_type in rows:
            if table not in TARGET_ONLY_TABLES:
                columns.setdefault(table, {})[column] = data_type
        return columns

    async def _refuse_non_empty(self, target: dict[str, dict[str, str]]) -> None:
        filled = []
        for table in sorted(target):
            if await self.con.fetchval(f"SELECT EXISTS (SELECT 1 FROM {_quote(table)})"):
                rows = await self.con.fetchval(f"SELECT count(*) FROM {_quote(table)}")
                filled.append(f"{table} ({rows:,} rows)")
        if filled:
            raise TransferError(
                f"{self.where}: the target database is not empty ({', '.join(filled)}); "
                "migrate copies only into a new, empty database — create one "
                "(createdb -O USER DBNAME) and point --to at it"
            )

    async def _parents_first(self, target: dict[str, dict[str, str]]) -> list[str]:
        """The tables in an order where every foreign key's parent comes first."""
        edges = await self.con.fetch(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text "
            "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE c.contype = 'f' AND n.nspname = current_schema()"
        )
        parents: dict[str, set[str]] = {t: set() for t in target}
        for child, parent in edges:
            child, parent = child.strip('"'), parent.strip('"')
            if child in parents and parent in parents and child != parent:
                parents[child].add(parent)
        order: list[str] = []
        while parents:
            ready = sorted(t for t, p in parents.items() if not p - set(order))
            if not ready:  # a cycle of foreign keys: not in our schema
                raise TransferError(f"{self.where}: foreign keys form a cycle among {parents}")
            order.extend(ready)
            for t in ready:
                del parents[t]
        return order

    # -- copying -----------------------------------------------------------------------

    async def _copy_table(self, table: str, source: list[str], target: dict[str, str]) -> TableCopy:
        started = time.monotonic()
        carried = [c for c in source if c not in NOT_CARRIED.get(table, ())]
        columns = [_Column(c, self._converter(table, c, target[c])) for c in carried]
        total = self.reader.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()[0]
        cursor = self.reader.execute(
            f"SELECT {', '.join(_quote(c) for c in carried)} FROM {_quote(table)}"
        )
        done = 0
        while batch := await asyncio.to_thread(cursor.fetchmany, BATCH_ROWS):
            records = [
                tuple(col.convert(v) for col, v in zip(columns, row, strict=True)) for row in batch
            ]
            await self.con.copy_records_to_table(table, records=records, columns=carried)
            done += len(records)
            if self.progress:
                self.progress(table, done, total)
        copied = int(await self.con.fetchval(f"SELECT count(*) FROM {_quote(table)}"))
        if copied != total:
            raise TransferError(
                f"{self.where}: {table}: {copied:,} rows arrived of {total:,}; nothing was kept"
            )
        return TableCopy(table, total, copied, time.monotonic() - started)

    def _converter(self, table: str, column: str, data_type: str) -> Callable[[Any], Any]:
        """What a SQLite value becomes for a PostgreSQL column of `data_type`.

        SQLite's types are only affinities, so a value is checked, not trusted: an
        integer column must hold whole numbers, a text column no NUL character
        (PostgreSQL's text cannot hold one; it is removed and counted).
        """
        where = f"{table}.{column}"

        def integer(v: Any) -> Any:
            if v is None or type(v) is int:
                return v
            if isinstance(v, float) and v.is_integer():
                return int(v)
            raise TransferError(f"{self.where}: {where} holds {v!r}, not a whole number")

        def real(v: Any) -> Any:
            if v is None or type(v) is float:
                return v
            if isinstance(v, int):
                return float(v)
            raise TransferError(f"{self.where}: {where} holds {v!r}, not a number")

        def text(v: Any) -> Any:
            if v is None:
                return v
            if isinstance(v, bytes):
                try:
                    v = v.decode("utf-8")
                except UnicodeDecodeError:
                    raise TransferError(f"{self.where}: {where} holds bytes, not text") from None
            v = v if isinstance(v, str) else str(v)
            if "\x00" in v:
                self.nul_removed += 1
                return v.replace("\x00", "")
            return v

        def boolean(v: Any) -> Any:
            return v if v is None else bool(v)

        if data_type in ("bigint", "integer", "smallint"):
            return integer
        if data_type in ("double precision", "real", "numeric"):
            return real
        if data_type == "boolean":
            return boolean
        return text

    async def _advance_sequences(self) -> None:
        """Every identity/serial sequence past the largest id copied (or at 1 if none)."""
        rows = await self.con.fetch(
            "SELECT table_name, column_name, "
            "pg_get_serial_sequence(quote_ident(table_name), column_name) "
            "FROM information_schema.columns WHERE table_schema = current_schema()"
        )
        for table, column, sequence in rows:
            if sequence is None:
                continue
            await self.con.execute(
                f"SELECT setval($1, coalesce((SELECT max({_quote(column)}) "
                f"FROM {_quote(table)}), 0) + 1, false)",
                sequence,
            )


def _refuse_differences(source: dict[str, list[str]], target: dict[str, dict[str, str]]) -> None:
    """Both engines must have the same tables and columns (bar NOT_CARRIED ones)."""
    problems = [f"table {t} only in SQLite" for t in sorted(set(source) - set(target))]
    problems += [f"table {t} only in PostgreSQL" for t in sorted(set(target) - set(source))]
    for table in sorted(set(source) & set(target)):
        skip = NOT_CARRIED.get(table, frozenset())
        mine, theirs = set(source[table]) - skip, set(target[table]) - skip
        problems += [f"column {table}.{c} only in SQLite" for c in sorted(mine - theirs)]
        problems += [f"column {table}.{c} only in PostgreSQL" for c in sorted(theirs - mine)]
    if problems:
        raise TransferError(
            "the SQLite and PostgreSQL schemas differ, so nothing was copied: "
            + "; ".join(problems)
            + " — a bug in this version of the bot, please report it"
        )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def summary_lines(report: TransferReport) -> Iterable[str]:
    """The table of counts `migrate` prints: one line per table, then the total."""
    width = max([len(t.table) for t in report.tables] + [5])
    yield f"{'table':<{width}}  {'SQLite':>10}  {'PostgreSQL':>10}"
    for t in report.tables:
        yield f"{t.table:<{width}}  {t.source_rows:>10,}  {t.target_rows:>10,}"
    total = sum(t.source_rows for t in report.tables)
    yield f"{'total':<{width}}  {total:>10,}  {report.rows:>10,}"
