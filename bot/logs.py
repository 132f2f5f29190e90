"""Log output: today's readable lines, or one JSON object per line for a log shipper.

Which feed or chat channel a line is about is carried by context variables,
set where that work runs (the per-feed poll, the per-channel outbox worker
and digest), and copied onto every record by ContextFilter: lines logged by
other modules inside that work (fetch, parse, the chat sinks, the libraries
they call) carry `feed` / `channel` too, without each call passing them.
Tasks started inside the context inherit it (asyncio copies the context).

The JSON formatter is a few lines over json.dumps rather than
python-json-logger: we need an exact field set (`time` as ISO 8601 with
offset, `exc`, the context fields) and every string redacted before it is
encoded, which is as much code around that library as without it.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.redact import Redactor

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
TEXT_DATEFMT = "%H:%M:%S"

#: The URL of the feed being polled, and the "platform:id" of the channel being served.
current_feed: contextvars.ContextVar[str | None] = contextvars.ContextVar("feed", default=None)
current_channel: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "channel", default=None
)

#: Attributes every LogRecord has: anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


@contextlib.contextmanager
def _set(var: contextvars.ContextVar[str | None], value: str) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def feed_context(url: str) -> contextlib.AbstractContextManager[None]:
    """Lines logged inside (and in tasks started inside) are about feed `url`."""
    return _set(current_feed, url)


def channel_context(key: str) -> contextlib.AbstractContextManager[None]:
    """Lines logged inside are about chat channel `key` ("platform:id")."""
    return _set(current_channel, key)


class ContextFilter(logging.Filter):
    """Copies the current feed/channel onto each record (unless `extra=` set them).

    On the handler, not a logger: a logger's filters miss records that
    propagate from other loggers (aiohttp, discord, slack_sdk).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("feed", current_feed), ("channel", current_channel)):
            value = var.get()
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """Today's human-readable line, redacted after formatting (message, args, traceback)."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(TEXT_FORMAT, TEXT_DATEFMT)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, exc, feed, channel, extras."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            fields["exc"] = record.exc_text
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in fields:
                fields[name] = value
        return json.dumps(self.redact.value(_plain(fields)), ensure_ascii=False, default=str)


def _plain(value: Any) -> Any:
    """`extra=` values as JSON can hold them: anything else becomes its str()."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def json_line(level: str, logger: str, message: str) -> str:
    """A JSON log line for text written outside logging (error lines printed by main)."""
    record = logging.LogRecord(logger, logging.getLevelName(level), "", 0, message, None, None)
    record.levelname = level
    return JsonFormatter(Redactor()).format(record)


class JsonLinesStream:
    """Under log_format = "json", turns anything written to stderr outside logging
    (main's "error: …" lines, `match`'s skipped lines, Python's warnings) into
    JSON lines, so every line on stderr parses. A line is written once it is
    complete; "error: " / "warning: " prefixes become the level.
    """

    def __init__(self, stream: TextIO, redact: Redactor) -> None:
        self.stream = stream
        self.redact = redact
        self._partial = ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def _emit(self, line: str) -> None:
        if not line.strip():
            return
        level = "WARNING"
        for prefix, named in (("error: ", "ERROR"), ("warning: ", "WARNING")):
            if line.startswith(prefix):
                line, level = line[len(prefix) :], named
        self.stream.write(self.redact(json_line(level, "bot", line)) + "\n")
        self.stream.flush()

    def flush(self) -> None:
        if self._partial:
            line, self._partial = self._partial, ""
            self._emit(line)
        self.stream.flush()

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def make_handler(log_format: str, redact: Redactor, stream: TextIO) -> logging.Handler:
    """A handler writing `log_format` lines to `stream`, redacted, with feed/channel context."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter(redact) if log_format == "json" else TextFormatter(redact))
    return handler


def configure_logging(log_format: str, redact: Redactor, stream: TextIO | None = None) -> None:
    """Make the root logger's only handler one from make_handler, on stderr.

    Third-party loggers (aiohttp, discord, slack_sdk) propagate to it, so
    their lines, DEBUG request logs included, are formatted and redacted too.
    """
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(make_handler(log_format, redact, stream or sys.stderr))
    logging.captureWarnings(True)  # warnings.warn() through the same handler
