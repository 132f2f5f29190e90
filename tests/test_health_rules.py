"""The pure parts of health: the verdict, the poll cycle, the listen address, metric labels."""

from __future__ import annotations

import ipaddress
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import load_config
from bot.config_values import parse_listen
from bot.errors import ConfigError, FetchError, ParseError
from bot.metrics import fetch_error_kind
from bot.models import FeedState, Heartbeat
from bot.ops.health import assess, cycle_complete, tick_seconds
from bot.ops.http_status import Check, health_body

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def beat(
    *, pid: int = 42, last: float | None = 1.0, started: float = 100.0, clean: bool = False
) -> Heartbeat:
    """A heartbeat with a 2 s interval, last cycle `last` seconds before NOW."""
    return Heartbeat(
        pid=pid,
        host="box",
        started_at=NOW - timedelta(seconds=started),
        interval=2.0,
        last_cycle_at=None if last is None else NOW - timedelta(seconds=last),
        stopped_at=NOW - timedelta(seconds=0.5) if clean else None,
        clean_stop=clean,
    )


@pytest.mark.parametrize(
    ("heartbeat", "holder", "healthy", "words"),
    [
        (beat(), 42, True, "last poll cycle 1s ago"),
        (beat(last=6.0), 42, True, "last poll cycle 6s ago"),  # 3 intervals: still fine
        (beat(last=6.5), 42, False, "stale: run pid 42 is alive but no poll cycle"),
        (beat(last=None, started=3.0), 42, True, "first cycle due"),
        (beat(last=None, started=7.0), 42, False, "no poll cycle since start"),
        (beat(clean=True), None, False, "no run alive: the last run (pid 42) stopped at"),
        (beat(), None, False, "ended without a clean stop"),
        (None, None, False, "no `python -m bot run` has used this database"),
        (None, 42, False, "wrote no heartbeat"),
        (beat(pid=41), 42, False, "pid 42 holds the database but wrote no heartbeat"),
    ],
)
def test_verdict(heartbeat: Heartbeat | None, holder: int | None, healthy: bool, words: str):
    verdict = assess(heartbeat, holder, NOW)
    assert verdict.healthy is healthy
    assert words in verdict.reason
    assert "\n" not in verdict.reason


def state(due_in: float | None, disabled: str | None = None) -> FeedState:
    at = None if due_in is None else NOW + timedelta(seconds=due_in)
    return FeedState("u", "u", next_poll_at=at, disabled_reason=disabled)


@pytest.mark.parametrize(
    ("states", "complete"),
    [
        ([], True),
        ([state(None), state(30.0)], True),  # never polled yet / not due
        ([state(-5.0)], True),  # due, being polled: within the grace
        ([state(-11.0)], False),  # due and not polled for longer than a fetch may take
        ([state(-11.0, disabled="410 Gone")], True),  # a disabled feed is not polled
        ([state(3600.0), state(-1.0)], True),  # one in failure backoff does not count
    ],
)
def test_a_cycle_is_complete_when_every_due_feed_was_polled(
    states: list[FeedState], complete: bool
) -> None:
    assert cycle_complete(states, NOW, grace=10.0) is complete


def test_ticks_fit_three_times_into_the_allowed_age() -> None:
    for interval in (1.0, 2.0, 300.0, 86400.0):
        assert tick_seconds(interval) * 2 <= interval


def test_healthz_body_names_the_failing_checks() -> None:
    ok = {"database": Check(True, "writable"), "poll_loop": Check(True, "1s ago")}
    assert health_body(ok)[0] == 200 and health_body(ok)[1]["status"] == "ok"
    code, body = health_body({**ok, "chat:slack": Check(False, "not connected")})
    assert code == 503
    assert body["status"] == "failing" and body["failing"] == ["chat:slack"]


def test_fetch_error_kinds_are_a_small_fixed_set() -> None:
    assert fetch_error_kind(ParseError("u", "not a feed")) == "parse"
    assert fetch_error_kind(FetchError("u", "404", status=404)) == "http_4xx"
    assert fetch_error_kind(FetchError("u", "503", status=503)) == "http_5xx"
    assert fetch_error_kind(FetchError("u", "timed out")) == "network"


hosts = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,2}", fullmatch=True),
)


@given(hosts, st.integers(1, 65535))
def test_listen_round_trips_host_and_port(host: str, port: int) -> None:
    parsed_host, parsed_port = parse_listen(f"{host}:{port}")
    assert parsed_port == port
    if host.startswith("["):
        assert ipaddress.IPv6Address(parsed_host) == ipaddress.IPv6Address(host[1:-1])
    else:
        assert parsed_host == host


@given(st.text(max_size=30))
def test_listen_never_fails_other_than_with_value_error(text: str) -> None:
    try:
        host, port = parse_listen(text)
    except ValueError:
        return
    assert host and 1 <= port <= 65535


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("9100", "expected host:port"),
        ("127.0.0.1:0", "port 0 is outside 1-65535"),
        ("127.0.0.1:70000", "outside 1-65535"),
        ("::1:9100", "IPv6 address goes in brackets"),
        ("[1::2::3]:9100", "is not an IPv6 address"),
    ],
)
def test_a_bad_listen_value_names_file_key_and_fix(tmp_path: Path, value: str, problem: str):
    path = tmp_path / "bot.toml"
    path.write_text(textwrap.dedent(f'[bot]\nlisten = "{value}"\n'))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: bot.listen: ")
    assert problem in message
    assert 'listen = "127.0.0.1:9100"' in message


def test_listen_is_off_by_default_and_read_when_set(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text("[bot]\n")
    assert load_config(path).bot.listen is None
    path.write_text('[bot]\nlisten = "[::1]:9100"\n')
    assert load_config(path).bot.listen == ("::1", 9100)
