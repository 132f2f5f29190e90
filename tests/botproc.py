"""A real `python -m bot …` subprocess whose output tests wait on, line by line.

Two reader threads drain stdout and stderr as they come (a bot that logs a
lot must never block on a full pipe), and tests wait for a line to appear
rather than sleeping. The timeout is a guard against a hung test, never the
thing a test measures.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUARD = 60.0  # seconds before a wait gives up: a failure, not a measurement


class BotProcess:
    def __init__(self, *args: str, cwd: Path = ROOT) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.pid = self.proc.pid
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self._open = 2
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._drain, args=(stream, lines), daemon=True).start()

    def _drain(self, stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._changed:
                lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._open -= 1
            self._changed.notify_all()

    def wait_for(self, pattern: str, stream: str = "err", count: int = 1) -> list[str]:
        """Block until `count` lines of stdout or stderr match `pattern`; fail if the bot ends."""
        lines = self.out if stream == "out" else self.err
        regex = re.compile(pattern)

        def matching() -> list[str]:
            return [line for line in lines if regex.search(line)]

        with self._changed:
            done = self._changed.wait_for(
                lambda: len(matching()) >= count or self._open == 0, GUARD
            )
            found = matching()
        assert done and len(found) >= count, (
            f"no {count} lines matching {pattern!r} in {stream}; the bot said:\n"
            + "".join(self.err[-40:])
        )
        return found

    def stop(self, sig: int = 15) -> int:
        """Send `sig` and wait for the exit and the end of its output; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(GUARD)
        finally:
            self.proc.kill()
        with self._changed:
            self._changed.wait_for(lambda: self._open == 0, GUARD)
        return code

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    @property
    def stdout(self) -> str:
        return "".join(self.out)
