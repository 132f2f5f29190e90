"""Log formats, feed/channel context and redaction (bot/logs.py, bot/redact.py).

Real loggers writing through the real handler into a StringIO; the chat
library's exception comes from a real slack_sdk client talking to the fake
Slack server, which echoes the token back in its error.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import JsonLinesStream, channel_context, feed_context, make_handler
from bot.redact import (
    DEFAULT_SECRET_ENVS,
    REDACTED,
    RedactingStream,
    Redactor,
    prescan_config,
)
from tests.fakeslack import FakeSlack

SECRET = "sEcReT-value-4711"
DISCORD_SHAPED = "MTE5NjQ2NzE0NjU2ODgzNjk4MA.GsEcRt.abcdefghijklmnopqrstuvwxyz0123"


@pytest.fixture(params=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger (and a library-like child) writing through make_handler into a buffer."""
    stream = io.StringIO()
    logger = logging.getLogger(f"bot.test_logs.{request.param}")
    handler = make_handler(request.param, Redactor([SECRET]), stream)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_redactor_replaces_values_and_token_shapes() -> None:
    redact = Redactor([SECRET, "short"])
    text = f"a {SECRET} b xoxb-12-34-abc c xapp-1-A1-x d xoxp-9-z e {DISCORD_SHAPED} f short"
    assert redact(text) == (
        f"a {REDACTED} b {REDACTED} c {REDACTED} d {REDACTED} e {REDACTED} f short"
    )  # "short" is under MIN_SECRET_LENGTH: redacting it would mangle ordinary words


def test_a_secret_containing_another_is_redacted_whole() -> None:
    assert Redactor(["abcdefgh", "abcdefgh-ijkl"])("x abcdefgh-ijkl y") == f"x {REDACTED} y"


@given(
    secret=st.text(string.ascii_letters + string.digits + "-_", min_size=6, max_size=40),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_a_secret_never_survives_redaction(secret: str, before: str, after: str) -> None:
    out = Redactor([secret]).value({"m": before + secret + after, "l": [secret]})
    assert secret not in json.dumps(out)


def test_every_field_and_traceback_is_redacted(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    try:
        raise RuntimeError(f"refused token {SECRET}")
    except RuntimeError:
        logger.exception("posting with %s failed", SECRET, extra={"detail": {"t": SECRET}})
    text = stream.getvalue()
    assert SECRET not in text
    assert text.count(REDACTED) >= 2 and "Traceback" in text  # message and exception


def test_json_lines_carry_the_required_fields_and_context() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("bot.test_logs.fields")
    handler = make_handler("json", Redactor(), stream)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        with feed_context("http://127.0.0.1/a.xml"):
            logger.warning("slow feed", extra={"seconds": 3.5})
        with channel_context("slack:C1"):
            logger.info("posted")
        logger.info("no context", extra={"channel": "console:stdout"})
    finally:
        logger.removeHandler(handler)
    first, second, third = map(json.loads, stream.getvalue().splitlines())
    assert first["time"].endswith("+00:00") and "T" in first["time"]
    assert first | {"time": ""} == {
        "time": "",
        "level": "WARNING",
        "logger": "bot.test_logs.fields",
        "message": "slow feed",
        "feed": "http://127.0.0.1/a.xml",
        "seconds": 3.5,
    }
    assert second["channel"] == "slack:C1" and "feed" not in second
    assert third["channel"] == "console:stdout"  # extra= wins; no context set here


async def test_context_reaches_tasks_and_other_loggers() -> None:
    """A line logged by another module, in a task started inside the context, names it."""
    stream = io.StringIO()
    root = logging.getLogger("libfake")
    handler = make_handler("json", Redactor(), stream)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    root.propagate = False

    async def library_work() -> None:
        logging.getLogger("libfake.http").debug("request")

    try:
        with channel_context("discord:42"):
            await asyncio.create_task(library_work())
        await asyncio.create_task(library_work())
    finally:
        root.removeHandler(handler)
    inside, outside = map(json.loads, stream.getvalue().splitlines())
    assert inside["channel"] == "discord:42" and inside["logger"] == "libfake.http"
    assert "channel" not in outside


async def test_a_slack_error_quoting_the_token_is_logged_without_it(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    """slack_sdk's SlackApiError quotes the server's answer: here, the Authorization header."""
    logger, stream = captured
    token = "xoxb-2222-3333-realLOOKINGtoken"
    async with FakeSlack(bot_token=token) as fake:
        fake.fail_next("chat.postMessage", error="invalid_auth {authorization}")
        client = AsyncWebClient(token=token, base_url=fake.api_base, retry_handlers=[])
        with pytest.raises(SlackApiError) as caught:
            await client.chat_postMessage(channel="C123", text="hi")
        assert token in str(caught.value)  # the library's own message carries it
        try:
            raise RuntimeError("delivery failed") from caught.value
        except RuntimeError:
            logger.exception("sink failed unexpectedly")
    text = stream.getvalue()
    assert token not in text and "Traceback" in text and "invalid_auth" in text


def test_streams_redact_and_json_wraps_stray_lines() -> None:
    out = io.StringIO()
    RedactingStream(out, Redactor([SECRET])).write(f"alert {SECRET}\n")
    assert out.getvalue() == f"alert {REDACTED}\n"

    err = io.StringIO()
    stream = JsonLinesStream(err, Redactor([SECRET]))
    stream.write(f"error: bad {SECRET}\nline 2: sk")
    stream.write("ipped\n")
    stream.write("no newline")
    stream.flush()
    records = [json.loads(line) for line in err.getvalue().splitlines()]
    assert [(r["level"], r["message"]) for r in records] == [
        ("ERROR", f"bad {REDACTED}"),
        ("WARNING", "line 2: skipped"),
        ("WARNING", "no newline"),
    ]


def test_prescan_reads_format_and_secret_names(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(
        '[bot]\nlog_format = "json"\n[slack]\nbot_token_env = "MY_BOT"\n'
        '[discord]\ntoken_env = "MY_DISCORD"\n'
    )
    scan = prescan_config(config)
    assert scan.log_format == "json"
    assert set(scan.secret_envs) == {*DEFAULT_SECRET_ENVS, "MY_BOT", "MY_DISCORD"}
    config.write_text('[bot]\nlog_format = "yaml"\n')  # full validation reports it
    assert prescan_config(config).log_format is None
    config.write_text("[bot\n")
    assert prescan_config(config).secret_envs == DEFAULT_SECRET_ENVS
    assert prescan_config(tmp_path / "missing.toml").log_format is None
