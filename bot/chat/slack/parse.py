"""Slack slash-command text → a call of bot.commands (pure parsing, usage text for mistakes).

Which sub-commands exist, which are slow and the usage text come from
bot.command_catalogue; this module only reads each command's arguments out of
Slack's free text (`/watch add Wilayat Khurasan to iskp as group`), one reader
per catalogue command (a test checks there is exactly one for each).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.command_catalogue import GROUPS, KINDS, find, slack_usage
from bot.commands import Caller, CommandError, Commands, Reply

# `help` and every mistake answer with this, generated from the catalogue.
USAGE = {group.name: slack_usage(group) for group in GROUPS}

Action = Callable[[Caller], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Parsed:
    action: Action | None  # None: show `help`
    slow: bool = False  # answer through response_url after the ack


class UsageError(CommandError):
    pass


def _usage(group: str, problem: str = "") -> UsageError:
    return UsageError(f"{problem}\n{USAGE[group]}".strip())


def parse(group: str, text: str, commands: Commands) -> Parsed:
    """`group` is "watch", "feeds" or "digest"; `text` what followed the command."""
    words = text.strip().split()
    if not words or words[0].lower() == "help":
        return Parsed(None)
    sub, rest = words[0].lower(), words[1:]
    raw = text.strip()[len(words[0]) :].strip()
    command = find(group, sub)
    if command is None:
        raise _usage(group, f"Unknown subcommand `{sub}`.")
    action = READERS[command.handler](rest, raw, commands)
    if action is None:
        raise _usage(group, f"Wrong arguments for `{sub}`.")
    return Parsed(action, slow=command.slow)


# Each reader turns the words after the sub-command into a call of its handler,
# or None when they do not fit (the caller answers with the usage text).
Reader = Callable[[list[str], str, Commands], Action | None]

_ADD = re.compile(
    r"^(?P<term>.+?)(?:\s+to\s+(?P<entity>[a-z0-9_-]+))?(?:\s+as\s+(?P<kind>[a-z]+))?$",
    re.IGNORECASE,
)


def _watch_add(rest: list[str], raw: str, c: Commands) -> Action:
    m = _ADD.match(raw)
    if not m:
        raise _usage("watch", "Say what to watch.")
    term, entity, kind = m["term"], m["entity"], m["kind"]
    if kind is not None and kind.lower() not in KINDS:
        raise _usage("watch", f"Unknown kind `{kind}`.")
    return lambda who: c.watch_add(who, term, entity, kind.lower() if kind else None)


def _watch_remove(rest: list[str], raw: str, c: Commands) -> Action | None:
    return (lambda who: c.watch_remove(who, raw)) if rest else None


def _watch_list(rest: list[str], raw: str, c: Commands) -> Action | None:
    if len(rest) > 2:
        return None
    kind = next((w for w in rest if not w.isdigit()), None)
    page = next((int(w) for w in rest if w.isdigit()), 1)
    return lambda who: c.watch_list(who, kind, page)


def _watch_test(rest: list[str], raw: str, c: Commands) -> Action | None:
    if not rest:
        return None
    days = 7.0
    term = raw
    if len(rest) > 1 and rest[-1].isdigit():
        days, term = float(rest[-1]), " ".join(rest[:-1])
    return lambda who: c.watch_test(who, term, days)


def _watch_mute(rest: list[str], raw: str, c: Commands) -> Action | None:
    if not 1 <= len(rest) <= 2:
        return None
    return lambda who: c.watch_mute(who, rest[0], rest[1] if len(rest) > 1 else None)


def _watch_unmute(rest: list[str], raw: str, c: Commands) -> Action | None:
    return (lambda who: c.watch_unmute(who, rest[0])) if len(rest) == 1 else None


def _link(word: str) -> str:
    """Slack wraps links as <url> or <url|text>."""
    return word.strip("<>").split("|")[0]


def _feeds_add(rest: list[str], raw: str, c: Commands) -> Action | None:
    if not rest:
        return None
    url, name = _link(rest[0]), " ".join(rest[1:]) or None
    return lambda who: c.feeds_add(who, url, name)


def _feeds_remove(rest: list[str], raw: str, c: Commands) -> Action | None:
    return (lambda who: c.feeds_remove(who, _link(rest[0]))) if len(rest) == 1 else None


def _feeds_list(rest: list[str], raw: str, c: Commands) -> Action | None:
    return None if rest else c.feeds_list


def _feeds_status(rest: list[str], raw: str, c: Commands) -> Action | None:
    return None if rest else c.feeds_status


def _digest_now(rest: list[str], raw: str, c: Commands) -> Action:
    return c.digest_now


READERS: dict[str, Reader] = {
    "watch_add": _watch_add,
    "watch_remove": _watch_remove,
    "watch_list": _watch_list,
    "watch_test": _watch_test,
    "watch_mute": _watch_mute,
    "watch_unmute": _watch_unmute,
    "feeds_add": _feeds_add,
    "feeds_remove": _feeds_remove,
    "feeds_list": _feeds_list,
    "feeds_status": _feeds_status,
    "digest_now": _digest_now,
}
