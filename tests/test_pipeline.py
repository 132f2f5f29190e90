"""End to end: a real feed server, real SQLite, the real pipeline, a JSONL sink."""

from __future__ import annotations

import json
from pathlib import Path

from bot.app import App
from tests.feedserver import FeedServer, item


def alerts(tmp_path: Path) -> list[dict]:
    path = tmp_path / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_new_items_alert_exactly_once_across_polls_and_restarts(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    url = feed_server.feed(
        "/a.xml",
        [
            item(1, "ISKP claims attack near Kabul"),
            item(2, "Weather in Paris is mild today"),
        ],
    )
    settings = make_settings([{"url": url, "name": "A"}])
    async with App.open(settings) as app:
        report = await app.run_once()
        assert report.alerts == 1
        got = alerts(tmp_path)
        assert [a["title"] for a in got] == ["ISKP claims attack near Kabul"]
        assert got[0]["entities"] == ["iskp"]
        assert got[0]["feed"] == "A" and got[0]["url"] == "https://example.org/news/1"

        # The feed changes: one new matching item, one new non-matching item.
        feed_server.feed(
            "/a.xml",
            [
                item(3, "Tajikistan closes border crossing"),
                item(4, "Local bakery wins prize"),
                item(1, "ISKP claims attack near Kabul"),
                item(2, "Weather in Paris is mild today"),
            ],
        )
        report = await app.run_once()
        assert report.alerts == 1
        assert [a["title"] for a in alerts(tmp_path)][-1] == "Tajikistan closes border crossing"

    # Restart with the same database: nothing is repeated, even if the server
    # forgets its ETag.
    feed_server.routes["/a.xml"].etag = False
    async with App.open(settings) as app:
        report = await app.run_once()
        assert report.alerts == 0
    assert len(alerts(tmp_path)) == 2


async def test_etag_304_costs_no_parse_and_no_alert(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack")])
    async with App.open(make_settings([{"url": url}])) as app:
        await app.run_once()
        await app.run_once()
        await app.run_once()
        outcome = (await app.run_once()).outcomes[0]
    assert feed_server.full["/a.xml"] == 1
    assert feed_server.not_modified["/a.xml"] == 3
    assert outcome.status == "not-modified"
    assert feed_server.request_headers["/a.xml"]["If-None-Match"].startswith('"')
    assert len(alerts(tmp_path)) == 1


async def test_identical_body_without_validators_is_not_parsed_again(
    feed_server: FeedServer, make_settings
) -> None:
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack")], etag=False)
    async with App.open(make_settings([{"url": url}])) as app:
        await app.run_once()
        outcome = (await app.run_once()).outcomes[0]
    assert feed_server.full["/a.xml"] == 2
    assert outcome.status == "unchanged"


async def test_same_story_in_two_feeds_alerts_once(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    a = item(1, "ISKP claims deadly attack on checkpoint in Kabul")
    syndicated = dict(a, guid="other-guid", link=a["link"] + "?utm_source=rss&utm_medium=feed")
    retitled_url = item(99, "ISKP claims deadly attack on checkpoint in Kabul")
    url_a = feed_server.feed("/a.xml", [a])
    url_b = feed_server.feed("/b.xml", [syndicated])
    url_c = feed_server.feed("/c.xml", [retitled_url])
    settings = make_settings([{"url": url_a}, {"url": url_b}, {"url": url_c}])
    async with App.open(settings) as app:
        report = await app.run_once()
    assert report.alerts == 1
    assert len(alerts(tmp_path)) == 1


async def test_first_poll_skip_marks_existing_items_seen(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack")])
    settings = make_settings([{"url": url, "first_poll": "skip"}])
    async with App.open(settings) as app:
        assert (await app.run_once()).alerts == 0
        feed_server.feed(
            "/a.xml", [item(2, "ISKP claims second attack"), item(1, "ISKP claims attack")]
        )
        assert (await app.run_once()).alerts == 1
    assert [a["title"] for a in alerts(tmp_path)] == ["ISKP claims second attack"]


async def test_failing_feeds_never_stop_the_others(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    good = feed_server.feed("/good.xml", [item(1, "ISKP claims attack")])
    feeds = [
        {"url": good, "name": "good"},
        {"url": feed_server.set("/500.xml", status=500, body=b"oops"), "name": "500"},
        {
            "url": feed_server.set("/garbage.xml", body=b"\x00\xffnot a feed at all<<<"),
            "name": "garbage",
        },
        {"url": feed_server.set("/big.xml", stream_bytes=20_000_000), "name": "big"},
        {"url": feed_server.set("/slow.xml", hang=True), "name": "slow"},
        {"url": feed_server.set("/gone.xml", status=410), "name": "gone"},
        {"url": feed_server.url("/missing.xml"), "name": "missing"},
        {"url": "http://127.0.0.1:1/refused.xml", "name": "refused"},
    ]
    settings = make_settings(feeds, max_response_bytes="1MB", timeout="1s")
    async with App.open(settings) as app:
        report = await app.run_once()
        by_name = {f.name: o for f, o in zip(settings.feeds, report.outcomes, strict=True)}
        assert by_name["good"].alerts == 1
        for name in ("500", "garbage", "big", "slow", "gone", "missing", "refused"):
            assert by_name[name].status == "error", name
        assert "HTTP 500" in (by_name["500"].error or "")
        assert "larger than" in (by_name["big"].error or "")
        assert "timed out" in (by_name["slow"].error or "")
        assert "not" in (by_name["garbage"].error or "")
        states = app.states
        assert states[feed_server.url("/gone.xml")].disabled_reason
        assert states[feed_server.url("/500.xml")].error_count == 1
        assert states[feed_server.url("/500.xml")].next_poll_at is not None

        # The gone feed is not polled again; the others are, and back off.
        before = feed_server.requests.get("/gone.xml", 0)
        await app.run_once()
        assert feed_server.requests.get("/gone.xml", 0) == before
        assert app.states[feed_server.url("/500.xml")].error_count == 2
    assert len(alerts(tmp_path)) == 1


async def test_gzip_bomb_is_bounded(feed_server: FeedServer, make_settings) -> None:
    import gzip

    bomb = gzip.compress(b"<rss>" + b" " * 50_000_000)
    url = feed_server.set("/bomb.xml", body=bomb, headers={"Content-Encoding": "gzip"}, etag=False)
    async with App.open(make_settings([{"url": url}], max_response_bytes="1MB")) as app:
        outcome = (await app.run_once()).outcomes[0]
    assert len(bomb) < 1_000_000
    assert outcome.status == "error" and "larger than" in (outcome.error or "")


async def test_gzip_feed_is_read(feed_server: FeedServer, make_settings, tmp_path: Path) -> None:
    url = feed_server.feed("/z.xml", [item(1, "ISKP claims attack")], gzip=True)
    async with App.open(make_settings([{"url": url}])) as app:
        assert (await app.run_once()).alerts == 1


async def test_permanent_redirect_updates_the_stored_url(
    feed_server: FeedServer, make_settings
) -> None:
    new = feed_server.feed("/new.xml", [item(1, "ISKP claims attack")])
    old = feed_server.set("/old.xml", redirect_to=new, redirect_status=301)
    settings = make_settings([{"url": old}])
    async with App.open(settings) as app:
        assert (await app.run_once()).alerts == 1
        assert app.states[old].fetch_url == new
        await app.run_once()
    assert feed_server.requests["/old.xml"] == 1
    # The new address survives a restart.
    async with App.open(settings) as app:
        assert app.states[old].fetch_url == new


async def test_temporary_redirect_keeps_the_url(feed_server: FeedServer, make_settings) -> None:
    new = feed_server.feed("/new.xml", [item(1, "ISKP claims attack")])
    old = feed_server.set("/old.xml", redirect_to=new, redirect_status=302)
    async with App.open(make_settings([{"url": old}])) as app:
        assert (await app.run_once()).alerts == 1
        assert app.states[old].fetch_url == old


async def test_retry_after_is_honoured(feed_server: FeedServer, make_settings) -> None:
    url = feed_server.set("/busy.xml", status=429, headers={"Retry-After": "7200"})
    async with App.open(make_settings([{"url": url}])) as app:
        await app.run_once()
        state = app.states[url]
    assert state.next_poll_at is not None and state.last_error_at is not None
    assert (state.next_poll_at - state.last_error_at).total_seconds() >= 7200


async def test_local_file_feed(tmp_path: Path, make_settings) -> None:
    from tests.feedserver import rss

    (tmp_path / "local.rss").write_bytes(rss([item(1, "Tajikistan border talks")]))
    async with App.open(make_settings([{"url": "local.rss"}])) as app:
        assert (await app.run_once()).alerts == 1


async def test_user_agent_and_conditional_headers_are_sent(
    feed_server: FeedServer, make_settings
) -> None:
    url = feed_server.feed("/a.xml", [item(1, "news")])
    async with App.open(make_settings([{"url": url}], user_agent="TestBot/1.0")) as app:
        await app.run_once()
    assert feed_server.request_headers["/a.xml"]["User-Agent"] == "TestBot/1.0"
