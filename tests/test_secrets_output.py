"""Every command, run as a user runs it with tokens set, never shows a token.

Real `python -m bot` processes against the fake Slack and Discord servers and
the local feed server, in both log formats and with -v (DEBUG: the chat
libraries log requests and responses). The fakes echo the token back in an
error body, so the chat libraries' exceptions and debug lines carry it; the
test greps every byte of stdout and stderr. Under json, every stderr line
must also be a JSON object with the required fields, naming its feed or
channel when it is about one.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.discord_fixtures import checked_fake
from tests.fakediscord import ALERTS_CHANNEL_ID, FakeDiscord
from tests.fakeslack import FakeSlack
from tests.feedserver import FeedServer, item
from tests.story_items import DOVAL

ROOT = Path(__file__).resolve().parent.parent
NEWS = "C0123ABCD"
GUARD = 120.0  # seconds: a hung bot fails the test instead of hanging it
#: Recognisable fakes. The Discord one has no token shape, so only the
#: environment-variable redaction can catch it; the Slack ones also match the pattern.
DISCORD_TOKEN = "dsc-FAKE-do-not-leak-8c1f2e9d7a"
SLACK_BOT = "xoxb-1111-2222-FAKEdoNOTleak"
SLACK_APP = "xapp-1-A123-3333-FAKEdoNOTleak"
SIGNING_SECRET = "sign-FAKE-do-not-leak-5b6e"
SECRETS = (DISCORD_TOKEN, SLACK_BOT, SLACK_APP, SIGNING_SECRET)
REQUIRED = ("time", "level", "logger", "message")


@dataclass
class Output:
    command: str
    code: int
    out: str
    err: str


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeSlack, FakeDiscord]]:
    slack = FakeSlack(channels={NEWS: "news"}, bot_token=SLACK_BOT, app_token=SLACK_APP)
    async with slack as s, checked_fake(token=DISCORD_TOKEN) as d:
        yield s, d


def write_config(tmp_path: Path, slack: FakeSlack, discord: FakeDiscord, feed: str) -> Path:
    (tmp_path / "wl").mkdir()
    (tmp_path / "wl" / "w.toml").write_text((ROOT / "tests/data/watchlists/test.toml").read_text())
    config = tmp_path / "bot.toml"
    config.write_text(
        '[bot]\ndatabase = "db.sqlite3"\nwatchlists = "wl"\nparser_workers = 1\n'
        'allow_private_feeds = true\ntimeout = "5s"\n'
        f'[[feeds]]\nurl = "{feed}"\nname = "Wire-Feed"\nfirst_poll = "all"\ninterval = "1h"\n'
        f'[[channels]]\nplatform = "slack"\nid = "{NEWS}"\n'
        f'[[channels]]\nplatform = "discord"\nid = "{ALERTS_CHANNEL_ID}"\n'
        '[[channels]]\nplatform = "console"\n'
        '[slack]\nbot_token_env = "T_SLACK_BOT"\napp_token_env = "T_SLACK_APP"\n'
        f'api_base = "{slack.api_base}"\n'
        '[discord]\ntoken_env = "T_DISCORD_TOKEN"\n'
        f'api_base = "{discord.api_base}"\ngateway_url = "{discord.gateway_url}"\n'
        'guild_ready_timeout = "0.1s"\n'
    )
    return config


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update(
        T_SLACK_BOT=SLACK_BOT,
        T_SLACK_APP=SLACK_APP,
        T_DISCORD_TOKEN=DISCORD_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        PYTHONUNBUFFERED="1",
    )
    return env


async def start(tmp_path: Path, name: str, args: list[str], stdin: bool = False):
    """The bot with its output in files (a DEBUG run must never block on a full pipe)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        env=environment(),
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=(tmp_path / f"{name}.out").open("wb"),
        stderr=(tmp_path / f"{name}.err").open("wb"),
    )


def output(tmp_path: Path, name: str, code: int) -> Output:
    return Output(
        name,
        code,
        (tmp_path / f"{name}.out").read_text(),
        (tmp_path / f"{name}.err").read_text(),
    )


async def command(tmp_path: Path, name: str, args: list[str], stdin: str = "") -> Output:
    proc = await start(tmp_path, name, args, stdin=bool(stdin))
    await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), GUARD)
    assert proc.returncode is not None
    return output(tmp_path, name, proc.returncode)


async def run_until_delivered(
    tmp_path: Path, args: list[str], slack: FakeSlack, discord: FakeDiscord
) -> Output:
    """`run` until both chat channels got an alert (after a refusal echoing the token)."""
    proc = await start(tmp_path, "run", args)
    exited = asyncio.ensure_future(proc.wait())
    try:
        for fake, delivered in (
            (slack, lambda: slack.posted(NEWS)),
            (discord, lambda: discord.messages_in(ALERTS_CHANNEL_ID)),
        ):
            exited.add_done_callback(lambda _, f=fake: f._notify())  # an early exit wakes us
            await fake.wait_for(lambda d=delivered: d() or exited.done(), timeout=GUARD)  # type: ignore[misc]
            assert not exited.done(), (tmp_path / "run.err").read_text()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(exited, GUARD)
    return output(tmp_path, "run", proc.returncode or 0)


def echo_tokens_in_errors(slack: FakeSlack, discord: FakeDiscord) -> None:
    """The first post to each platform is refused with the request's credentials in the body."""
    slack.fail_next("chat.postMessage", error="invalid_auth {authorization}")
    discord.fail_next(
        "POST",
        r"/channels/\d+/messages",
        400,
        body={"message": f"bad Authorization: Bot {DISCORD_TOKEN}", "code": 50035, "errors": {}},
    )


async def every_command(
    tmp_path: Path, slack: FakeSlack, discord: FakeDiscord, log_format: str, feed: str
) -> list[Output]:
    config = write_config(tmp_path, slack, discord, feed)
    common = ["--config", str(config), "-v"]
    fmt = ["--log-format", log_format]
    echo_tokens_in_errors(slack, discord)
    outputs = [await run_until_delivered(tmp_path, ["run", *common, *fmt], slack, discord)]
    line = json.dumps({"id": 1, "title": f"ISKP leak {SLACK_BOT} {DISCORD_TOKEN}"})
    for name, args, stdin in [
        ("once", ["once", *common, *fmt], ""),
        ("check", ["check", *common, *fmt], ""),
        ("check-quiet", ["check", "--config", str(config), *fmt], ""),
        ("match", ["match", *common, *fmt, "--html"], f"{line}\nnot json\n"),
        ("backtest", ["backtest", *common, *fmt, "--term", "ISKP"], ""),
        (
            "digest-dry",
            ["digest", *common, *fmt, "--dry-run", "--chart", str(tmp_path / "d.png")],
            "",
        ),
        ("digest", ["digest", *common, *fmt, "--channel", f"slack:{NEWS}"], ""),
        ("export", ["watchlists", "export", *common, *fmt], ""),
    ]:
        outputs.append(await command(tmp_path, name, args, stdin))
    return outputs


def assert_no_secret(outputs: list[Output]) -> None:
    for o in outputs:
        for secret in SECRETS:
            for stream, text in (("stdout", o.out), ("stderr", o.err)):
                assert secret not in text, f"{o.command}: {secret} in {stream}:\n{text}"


@pytest.fixture
def feed(feed_server: FeedServer) -> str:
    return feed_server.feed("/a.xml", [item(1, "ISKP claims attack"), DOVAL])


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_command_shows_a_token(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeDiscord], feed: str, log_format: str
) -> None:
    slack, discord = fakes
    outputs = await every_command(tmp_path, slack, discord, log_format, feed)
    codes = {o.command: o.code for o in outputs}
    assert codes == {
        "run": 0,
        "once": 0,
        "check": 0,
        "check-quiet": 0,
        "match": 1,  # the "not json" line
        "backtest": 0,
        "digest-dry": 0,
        "digest": 0,
        "export": 0,
    }, "\n".join(o.err[-2000:] for o in outputs)
    assert_no_secret(outputs)
    everything = "".join(o.out + o.err for o in outputs)
    # The leaks were there to hide: the refusals quoted the tokens, and match echoed them.
    assert everything.count("[redacted]") >= 3
    assert slack.calls("chat.postMessage")[0]["token"] == SLACK_BOT
    # Stored errors reach chat (the digest lists delivery problems): none carries a token.
    posted = json.dumps([slack.posted(), list(discord.messages.values())])
    assert not [secret for secret in SECRETS if secret in posted]
    if log_format == "json":
        for o in outputs:
            assert_json_lines(o)
        records = [json.loads(line) for line in outputs[0].err.splitlines()]
        assert any("/a.xml" in r.get("feed", "") for r in records)
        # Lines the chat libraries log while the outbox serves a channel name it too.
        library = {r.get("channel") for r in records if not r["logger"].startswith("bot")}
        assert {f"slack:{NEWS}", f"discord:{ALERTS_CHANNEL_ID}"} <= library


def assert_json_lines(o: Output) -> None:
    """Every stderr line is an object with the required fields; feed and channel lines name them."""
    for line in o.err.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert all(isinstance(record.get(k), str) for k in REQUIRED), line
        assert record["time"].endswith("+00:00"), line
        if not record["logger"].startswith("bot"):
            continue  # a library's debug dump of the whole guild is not about one channel
        message = record["message"]
        if "Wire-Feed" in message or "/a.xml" in message:
            assert "/a.xml" in record.get("feed", ""), f"{o.command}: no feed in {line}"
        if NEWS in message or str(ALERTS_CHANNEL_ID) in message:
            assert record.get("channel") in (f"slack:{NEWS}", f"discord:{ALERTS_CHANNEL_ID}"), (
                f"{o.command}: no channel in {line}"
            )


def run_check(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "check", "--config", str(tmp_path / "bot.toml"), *args],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=GUARD,
    )


def plain_config(tmp_path: Path, extra_bot: str = "") -> None:
    """A config whose [slack] no channel uses: reading it logs a warning first thing."""
    (tmp_path / "wl").mkdir()
    (tmp_path / "wl" / "w.toml").write_text((ROOT / "tests/data/watchlists/test.toml").read_text())
    (tmp_path / "bot.toml").write_text(
        f'[bot]\ndatabase = "db.sqlite3"\nwatchlists = "wl"\nlog_format = "json"\n{extra_bot}'
        '[[channels]]\nplatform = "console"\n[slack]\nbot_token_env = "T_SLACK_BOT"\n'
    )


def test_json_from_the_first_line_when_the_config_warns(tmp_path: Path) -> None:
    plain_config(tmp_path)
    done = run_check(tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    first = json.loads(lines[0])
    assert first["level"] == "WARNING" and "[slack] is configured" in first["message"]
    assert all(json.loads(line)["message"] for line in lines)
    assert "OK" in done.stdout  # the check's summary stays readable, on stdout


def test_config_errors_are_json_lines_under_json(tmp_path: Path) -> None:
    plain_config(tmp_path, 'interval = 5\nlog_level = "LOUD"\n')
    done = run_check(tmp_path)
    assert done.returncode == 2
    records = [json.loads(line) for line in done.stderr.splitlines()]
    errors = [r for r in records if r["level"] == "ERROR"]
    assert any("bot.log_level" in r["message"] for r in errors), records
    assert all(set(REQUIRED) <= set(r) for r in records)


def test_the_flag_wins_over_the_file(tmp_path: Path) -> None:
    plain_config(tmp_path)
    done = run_check(tmp_path, "--log-format", "text")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("warning") or " WARNING " in done.stderr.splitlines()[0]
    with pytest.raises(ValueError):
        json.loads(done.stderr.splitlines()[0])


def test_an_invalid_log_format_is_a_config_error(tmp_path: Path) -> None:
    plain_config(tmp_path)
    config = tmp_path / "bot.toml"
    config.write_text(config.read_text().replace('"json"', '"yaml"'))
    done = run_check(tmp_path)
    assert done.returncode == 2
    assert "bot.log_format" in done.stderr and "use one of text, json" in done.stderr
