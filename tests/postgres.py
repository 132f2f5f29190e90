"""A throwaway PostgreSQL server for the tests, and fresh databases on it.

The PostgreSQL engine is tested against a real server, never a mock. Either the
environment names one (NEWSWATCH_TEST_POSTGRES: an admin URL; `.ci/run` starts
one for the whole run with `.ci/postgres`), or `start_server()` starts a private
one from the binaries on the machine (initdb/pg_ctl on PATH or under
/usr/lib/postgresql/*/bin) in a temp directory, listening on 127.0.0.1 only,
with `trust` authentication and durability off (fsync=off: a test server loses
nothing worth keeping). PostgreSQL refuses to run as root, so as root the data
directory is given to the unprivileged `postgres` user and the server runs as it.

Tests connect as the role `newswatch`, which is not a superuser (the issue: the
bot's role need not be one) but may create databases; each test gets its own
database owned by it, so tests and xdist workers never see each other's rows.

A server started for a test run is stopped by the fixture's teardown, and, should
pytest be killed before that (a timeout, Ctrl-C twice), by a small watchdog process
that stops it once the starting process is gone: no server outlives its run.

Command line (used by .ci/postgres):
    python -m tests.postgres start STATE_FILE   # prints the admin URL
    python -m tests.postgres stop STATE_FILE
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

ADMIN_ENV = "NEWSWATCH_TEST_POSTGRES"
REQUIRE_ENV = "NEWSWATCH_REQUIRE_POSTGRES"
ROLE = "newswatch"
ROLE_PASSWORD = "newswatch"  # ignored by a trust server; used by one that checks passwords
RUN_AS = "postgres"  # the OS user the server runs as when we are root
SETTINGS = (
    "listen_addresses=127.0.0.1",
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "shared_buffers=32MB",
    "max_connections=300",
    "log_min_messages=warning",
)


class NoPostgres(Exception):
    """No server binaries here: the PostgreSQL tests cannot run."""


def find_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: PATH first, else the newest /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not candidates:
        return None

    def version(path: str) -> float:
        try:
            return float(Path(path).parent.parent.name)
        except ValueError:
            return 0.0

    return Path(max(candidates, key=version)).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run `coro` to completion on a loop of its own, in a thread of its own, so that
    sync fixtures can use asyncpg whatever event loop the test itself runs on."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class PostgresServer:
    """A PostgreSQL server the tests may use: its admin URL, and its directory if we
    started it (None for one named by the environment)."""

    admin_url: str
    directory: Path | None = None
    bin_dir: Path | None = None

    # -- databases for tests ----------------------------------------------------

    def url_for(self, database: str) -> str:
        """The URL the bot uses for `database`: the unprivileged role, same server."""
        parts = urlsplit(self.admin_url)
        host = parts.hostname or "127.0.0.1"
        port = f":{parts.port}" if parts.port else ""
        netloc = f"{ROLE}:{ROLE_PASSWORD}@{host}{port}"
        return urlunsplit(("postgresql", netloc, "/" + quote(database), "", ""))

    def prepare(self) -> None:
        """Create the role tests connect as (once per server; racing workers are fine)."""
        run_coroutine(self._prepare())

    async def _prepare(self) -> None:
        import asyncpg

        con = await asyncpg.connect(self.admin_url)
        try:
            # Two xdist workers may both try: a lock makes the check-then-create whole.
            async with con.transaction():
                await con.execute("SELECT pg_advisory_xact_lock(7150015)")
                exists = await con.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", ROLE)
                if not exists:
                    await con.execute(
                        f"CREATE ROLE {ROLE} LOGIN CREATEDB NOSUPERUSER PASSWORD '{ROLE_PASSWORD}'"
                    )
        finally:
            await con.close()

    def create_database(self) -> tuple[str, str]:
        """A new empty database owned by the test role: (name, URL)."""
        name = f"nw_test_{uuid.uuid4().hex[:16]}"
        run_coroutine(self._admin(f'CREATE DATABASE "{name}" OWNER {ROLE}'))
        return name, self.url_for(name)

    def drop_database(self, name: str) -> None:
        # FORCE: a test that failed may have left connections open.
        run_coroutine(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    async def _admin(self, sql: str) -> None:
        import asyncpg

        con = await asyncpg.connect(self.admin_url)
        try:
            await con.execute(sql)
        finally:
            await con.close()

    # -- stopping -----------------------------------------------------------------

    def stop(self) -> None:
        """Stop a server we started and delete its directory (a no-op otherwise)."""
        if self.directory is None or self.bin_dir is None:
            return
        data = self.directory / "data"
        if (data / "postmaster.pid").exists():
            _run_as_owner(
                [str(self.bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                check=False,
            )
        shutil.rmtree(self.directory, ignore_errors=True)


def _as_server_user(argv: Sequence[str]) -> list[str]:
    """PostgreSQL refuses root: as root, run the command as the `postgres` user."""
    if os.geteuid() != 0:
        return list(argv)
    if shutil.which("runuser"):
        return ["runuser", "-u", RUN_AS, "--", *argv]
    return ["su", RUN_AS, "-s", "/bin/sh", "-c", " ".join(_shell_quote(a) for a in argv)]


def _shell_quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def _run_as_owner(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        _as_server_user(argv), capture_output=True, text=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({result.returncode}): {result.stderr or result.stdout}"
        )
    return result


def start_server(owner_pid: int | None = None) -> PostgresServer:
    """Start a private throwaway server (raises NoPostgres without the binaries).

    With `owner_pid`, a watchdog stops the server when that process has ended.
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise NoPostgres(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under "
            "/usr/lib/postgresql/*/bin; install postgresql-15, or set "
            f"{ADMIN_ENV} to the admin URL of a running server"
        )
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(RUN_AS)
        except KeyError as e:
            raise NoPostgres(
                f"running as root, and there is no '{RUN_AS}' user to run the server as"
            ) from e
    # Under /tmp, not $TMPDIR: the server's user must reach it (root's own temp dir may
    # be closed to it), and its socket path must stay under the 107-byte limit.
    directory = Path(tempfile.mkdtemp(prefix="newswatch-pg-", dir=_short_tmp()))
    server = PostgresServer("", directory, bin_dir)
    try:
        if os.geteuid() == 0:
            os.chown(directory, user.pw_uid, user.pw_gid)
        data = directory / "data"
        _run_as_owner(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ]
        )
        for attempt in range(5):
            port = free_port()
            options = " ".join(
                f"-c {s}"
                for s in (*SETTINGS, f"port={port}", f"unix_socket_directories={directory}")
            )
            result = _run_as_owner(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(directory / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                check=False,
            )
            if result.returncode == 0:
                server.admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
                if owner_pid is not None:
                    _watch(owner_pid, directory, bin_dir)
                return server
            if attempt == 4:
                log = (directory / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"pg_ctl start failed: {result.stderr}\n{log}")
        raise AssertionError("unreachable")
    except BaseException:
        server.stop()
        raise


def _watch(owner_pid: int, directory: Path, bin_dir: Path) -> None:
    """Start the watchdog: a process of its own session, so it outlives a killed pytest."""
    subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.postgres",
            "watch",
            str(owner_pid),
            str(directory),
            str(bin_dir),
        ],
        cwd=Path(__file__).resolve().parent.parent,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _short_tmp() -> str | None:
    return "/tmp" if os.path.isdir("/tmp") else None


def server_from_environment() -> PostgresServer | None:
    url = os.environ.get(ADMIN_ENV, "").strip()
    return PostgresServer(url) if url else None


def _main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "watch":
        owner, directory, bin_dir = int(argv[1]), Path(argv[2]), Path(argv[3])
        # Polls once a second: a background guard, not test synchronisation.
        while _alive(owner) and directory.exists():
            time.sleep(1.0)
        if directory.exists():
            PostgresServer("", directory, bin_dir).stop()
        return 0
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.postgres start|stop STATE_FILE", file=sys.stderr)
        return 2
    command, state = argv[0], Path(argv[1])
    if command == "start":
        try:
            server = start_server()
        except NoPostgres as e:
            print(f"cannot start PostgreSQL: {e}", file=sys.stderr)
            return 1
        state.write_text(
            json.dumps(
                {
                    "admin_url": server.admin_url,
                    "directory": str(server.directory),
                    "bin_dir": str(server.bin_dir),
                }
            )
        )
        print(server.admin_url)
        return 0
    if not state.exists():
        return 0
    saved = json.loads(state.read_text())
    PostgresServer(saved["admin_url"], Path(saved["directory"]), Path(saved["bin_dir"])).stop()
    state.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
