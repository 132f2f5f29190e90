"""A SIGKILL mid-delivery posts nothing twice: real `python -m bot` processes, fake Slack
and fake Discord.

The fake stores the message and then holds the HTTP response; the test kills
the bot while the request is pending (Slack has the message, the bot never
heard back), starts it again, and counts the messages in the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.discord_fixtures import checked_fake
from tests.fakediscord import ALERTS_CHANNEL_ID, FakeDiscord
from tests.fakeslack import FakeSlack
from tests.feedserver import FeedServer, item
from tests.story_items import BORDER, DOVAL_MOSCOW, FLOODS, KUNDUZ_A, KUNDUZ_B

ROOT = Path(__file__).resolve().parent.parent
NEWS = "C0123ABCD"
START = 120.0  # generous bound on a bot process getting as far as its first post


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels={NEWS: "news"}) as fake:
        yield fake


def write_config(
    tmp_path: Path,
    fake: FakeSlack | None,
    feeds: list[str],
    extra_bot: str = "",
    chat: str = "",
) -> Path:
    """bot.toml for local feeds and one channel: Slack's (`fake`) unless `chat` is given."""
    (tmp_path / "wl").mkdir(exist_ok=True)
    (tmp_path / "wl" / "w.toml").write_text((ROOT / "tests/data/watchlists/test.toml").read_text())
    feed_tables = "".join(
        f'[[feeds]]\nurl = "{url}"\nfirst_poll = "all"\ninterval = "1h"\n' for url in feeds
    )
    config = tmp_path / "bot.toml"
    config.write_text(
        '[bot]\ndatabase = "db.sqlite3"\nwatchlists = "wl"\nparser_workers = 1\n'
        f'allow_private_feeds = true\ntimeout = "5s"\n{extra_bot}\n'
        f"{feed_tables}"
        + (
            chat
            if fake is None
            else f'[[channels]]\nplatform = "slack"\nid = "{NEWS}"\n'
            '[slack]\nbot_token_env = "T_SLACK_BOT"\napp_token_env = "T_SLACK_APP"\n'
            f'api_base = "{fake.api_base}"\n'
        )
    )
    return config


async def start_bot(
    config: Path, fake: FakeSlack | FakeDiscord, command: str
) -> asyncio.subprocess.Process:
    """The bot in a session of its own, so a kill can take its parser workers too (as a
    container stop does); its stderr goes to a file a stray worker cannot hold open."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    if isinstance(fake, FakeSlack):
        env.update(T_SLACK_BOT=fake.bot_token, T_SLACK_APP=fake.app_token)
    else:
        env.update(T_DISCORD_TOKEN=fake.token)
    env["PYTHONUNBUFFERED"] = "1"
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        command,
        "--config",
        str(config),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=(config.parent / f"{command}.log").open("ab"),
        start_new_session=True,
    )


async def kill_while_stalled(
    config: Path, fake: FakeSlack | FakeDiscord, command: str = "once"
) -> None:
    """Run the bot until the fake holds a stored post's response, then SIGKILL it."""
    stalled = len(fake.stalled)
    proc = await start_bot(config, fake, command)
    exited = asyncio.ensure_future(proc.wait())
    exited.add_done_callback(lambda _: fake._notify())  # wake wait_for on an early exit
    try:
        await fake.wait_for(lambda: len(fake.stalled) > stalled or exited.done(), timeout=START)
        assert not exited.done(), (config.parent / f"{command}.log").read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # no cleanup, no outbox update
        await exited


async def run_once(config: Path, fake: FakeSlack | FakeDiscord) -> str:
    log = config.parent / "once.log"
    log.unlink(missing_ok=True)
    proc = await start_bot(config, fake, "once")
    await proc.wait()
    text = log.read_text()
    assert proc.returncode == 0, text
    return text


def outbox(config: Path) -> list[tuple[str, str | None]]:
    with sqlite3.connect(config.parent / "db.sqlite3") as db:
        return db.execute("SELECT status, message_id FROM outbox ORDER BY id").fetchall()


async def test_alert_killed_while_slack_answers_is_posted_once(
    tmp_path: Path, fake: FakeSlack, feed_server: FeedServer
) -> None:
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack")])
    config = write_config(tmp_path, fake, [url])
    fake.fail_next("chat.postMessage", stall_after_store=True)
    await kill_while_stalled(config, fake)
    assert len(fake.posted(NEWS)) == 1  # Slack has it; the bot died before hearing so

    await run_once(config, fake)
    (message,) = fake.posted(NEWS)
    assert outbox(config) == [("sent", message["ts"])]
    assert fake.calls("conversations.history")  # the restart looked before posting
    assert fake.errors == []


async def test_thread_reply_killed_while_slack_answers_is_posted_once(
    tmp_path: Path, fake: FakeSlack, feed_server: FeedServer
) -> None:
    a = feed_server.feed("/a.xml", [KUNDUZ_A])
    b = feed_server.feed("/b.xml", [KUNDUZ_B])
    config = write_config(tmp_path, fake, [a, b])  # one story told by two feeds
    fake.fail_next("chat.postMessage", stall_after_store=True, when=lambda p: p.get("thread_ts"))
    await kill_while_stalled(config, fake)
    await run_once(config, fake)
    (parent,) = [m for m in fake.posted(NEWS) if m["metadata"]["event_payload"]["outbox_id"] == 1]

    replies = [m for m in fake.posted(NEWS) if m.get("thread_ts") == parent["ts"]]
    assert len(fake.posted(NEWS)) == 2 and len(replies) == 2  # the parent and one reply
    (reply,) = [m for m in replies if m["ts"] != parent["ts"]]
    assert outbox(config) == [("sent", parent["ts"]), ("sent", reply["ts"])]
    assert fake.calls("conversations.replies")
    assert fake.errors == []


async def test_summary_killed_while_slack_answers_is_posted_once(
    tmp_path: Path, fake: FakeSlack, feed_server: FeedServer
) -> None:
    # A cap of one: the later two alerts are held, and the window (1s) ends at once.
    url = feed_server.feed("/a.xml", [FLOODS, DOVAL_MOSCOW, BORDER])
    config = write_config(tmp_path, fake, [url], 'flood_cap = 1\nflood_window = "1s"')
    fake.fail_next(
        "chat.postMessage",
        stall_after_store=True,
        when=lambda p: "newswatch_summary" in json.dumps(p.get("metadata")),
    )
    await kill_while_stalled(config, fake, "run")
    await run_once(config, fake)
    messages = fake.posted(NEWS)
    summaries = [m for m in messages if m["metadata"]["event_type"] == "newswatch_summary"]
    assert len(messages) == 2 and len(summaries) == 1
    assert {status for status, _ in outbox(config)} == {"sent"}
    assert fake.errors == []


async def test_discord_alert_killed_while_discord_answers_is_posted_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Discord needs no look-up: the retry carries the same nonce (enforce_nonce)."""
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack")])
    async with checked_fake() as fake:
        chat = (
            f'[[channels]]\nplatform = "discord"\nid = "{ALERTS_CHANNEL_ID}"\n'
            '[discord]\ntoken_env = "T_DISCORD_TOKEN"\n'
            f'api_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
            'guild_ready_timeout = "0.1s"\n'
        )
        config = write_config(tmp_path, None, [url], chat=chat)
        fake.fail_next("POST", r"/channels/\d+/messages", 200, after_store=True, stall=True)
        await kill_while_stalled(config, fake)
        await run_once(config, fake)
        (message,) = fake.messages_in(ALERTS_CHANNEL_ID)
        assert outbox(config) == [("sent", str(message["id"]))]
        assert fake.nonce_hits == 1  # the restart's post was answered with the first one
