"""Slack slash-command text → a call of bot.commands (pure parsing, usage text for mistakes).

/watch add <term> [to <entity-id>] [as <kind>]
/watch remove <term> | list [kind] [page] | test <term> [days]
/watch mute <entity> [duration] | unmute <entity> | help
/feeds add <url> [name] | remove <url> | list | status | help
/digest now | help
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.commands import KINDS, Caller, CommandError, Commands, Reply

USAGE = {
    "watch": (
        "Usage:\n"
        "• `/watch add <term> [to <entity-id>] [as group|region|person|topic]`\n"
        "• `/watch remove <term>`\n"
        "• `/watch list [kind] [page]`\n"
        "• `/watch test <term> [days]`\n"
        "• `/watch mute <entity-id> [duration, e.g. 2h]`\n"
        "• `/watch unmute <entity-id>`"
    ),
    "feeds": (
        "Usage:\n"
        "• `/feeds add <url> [name]`\n"
        "• `/feeds remove <url>`\n"
        "• `/feeds list`\n"
        "• `/feeds status`"
    ),
    "digest": "Usage:\n• `/digest now`",
}

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
    if group == "watch":
        return _watch(sub, rest, raw, commands)
    if group == "feeds":
        return _feeds(sub, rest, commands)
    if group == "digest" and sub == "now":
        return Parsed(commands.digest_now, slow=True)
    raise _usage(group, f"Unknown subcommand `{sub}`.")


_ADD = re.compile(
    r"^(?P<term>.+?)(?:\s+to\s+(?P<entity>[a-z0-9_-]+))?(?:\s+as\s+(?P<kind>[a-z]+))?$",
    re.IGNORECASE,
)


def _watch(sub: str, rest: list[str], raw: str, c: Commands) -> Parsed:
    if sub == "add":
        m = _ADD.match(raw)
        if not m:
            raise _usage("watch", "Say what to watch.")
        term, entity, kind = m["term"], m["entity"], m["kind"]
        if kind is not None and kind.lower() not in KINDS:
            raise _usage("watch", f"Unknown kind `{kind}`.")
        return Parsed(lambda who: c.watch_add(who, term, entity, kind.lower() if kind else None))
    if sub == "remove" and rest:
        return Parsed(lambda who: c.watch_remove(who, raw))
    if sub == "list" and len(rest) <= 2:
        kind = next((w for w in rest if not w.isdigit()), None)
        page = next((int(w) for w in rest if w.isdigit()), 1)
        return Parsed(lambda who: c.watch_list(who, kind, page))
    if sub == "test" and rest:
        days = 7.0
        term = raw
        if len(rest) > 1 and rest[-1].isdigit():
            days, term = float(rest[-1]), " ".join(rest[:-1])
        return Parsed(lambda who: c.watch_test(who, term, days), slow=True)
    if sub == "mute" and 1 <= len(rest) <= 2:
        return Parsed(lambda who: c.watch_mute(who, rest[0], rest[1] if len(rest) > 1 else None))
    if sub == "unmute" and len(rest) == 1:
        return Parsed(lambda who: c.watch_unmute(who, rest[0]))
    if sub in ("add", "remove", "list", "test", "mute", "unmute"):
        raise _usage("watch", f"Wrong arguments for `{sub}`.")
    raise _usage("watch", f"Unknown subcommand `{sub}`.")


def _feeds(sub: str, rest: list[str], c: Commands) -> Parsed:
    if sub == "add" and rest:
        url = rest[0].strip("<>").split("|")[0]  # Slack wraps links as <url> or <url|text>
        name = " ".join(rest[1:]) or None
        return Parsed(lambda who: c.feeds_add(who, url, name), slow=True)
    if sub == "remove" and len(rest) == 1:
        url = rest[0].strip("<>").split("|")[0]
        return Parsed(lambda who: c.feeds_remove(who, url))
    if sub == "list" and not rest:
        return Parsed(c.feeds_list)
    if sub == "status" and not rest:
        return Parsed(c.feeds_status)
    if sub in ("add", "remove", "list", "status"):
        raise _usage("feeds", f"Wrong arguments for `{sub}`.")
    raise _usage("feeds", f"Unknown subcommand `{sub}`.")
