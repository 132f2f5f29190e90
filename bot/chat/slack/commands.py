"""Answering Slack slash commands: ack within 3 seconds, reply ephemerally.

Quick commands answer in the ack itself; slow ones (a backtest, fetching a
feed) are acknowledged first and answered through `response_url`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.chat.slack.parse import USAGE, UsageError, parse
from bot.chat.slack.render import cut, escape
from bot.commands import Caller, CommandError, Commands

# Whether a user may manage, asked in the channel the command was typed in (the
# sink knows the configured managers and user group).
IsManager = Callable[[str, str], Awaitable[bool]]

REPLY_MAX = 3000


def _text(text: str) -> str:
    # Command replies quote what the user typed and feed titles (`/watch test`):
    # Slack's three escapes make every `<!channel>`, `<@U…>` and `<url|label>` text.
    return cut(escape(text), REPLY_MAX)


async def handle(
    commands: Commands, is_manager: IsManager, group: str, command: dict, ack: Any, respond: Any
) -> None:
    try:
        parsed = parse(group, command.get("text", ""), commands)
    except UsageError as e:
        await ack(response_type="ephemeral", text=_text(str(e)))
        return
    if parsed.action is None:
        await ack(response_type="ephemeral", text=USAGE[group])
        return
    user_id, channel_id = command.get("user_id", ""), command.get("channel_id", "")
    caller = Caller(
        user_id,
        await is_manager(user_id, channel_id),
        command.get("user_name", ""),
        f"slack:{channel_id}",
        # Slack re-delivers a command it thinks timed out with the same trigger_id.
        request_id=str(command.get("trigger_id", "")),
    )
    if parsed.slow:
        await ack(response_type="ephemeral", text="Working on it…")
    try:
        text = (await parsed.action(caller)).text
    except CommandError as e:
        text = str(e)
    if parsed.slow:
        await respond(response_type="ephemeral", replace_original=True, text=_text(text))
    else:
        await ack(response_type="ephemeral", text=_text(text))
