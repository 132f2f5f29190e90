"""Feed-URL guard: syntax, address policy, and the connect-time checks inside aiohttp.

No test needs network access or real DNS: name lookups go to an injected fake,
literal IPs need no lookup, and the aiohttp tests only talk to a server on
127.0.0.1 reached as "localhost" (from /etc/hosts).
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import AsyncIterator, Iterable
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from bot.errors import BotError
from bot.feeds.guard import (
    MAX_URL_LENGTH,
    BlockedAddressError,
    GuardedResolver,
    UnsafeURLError,
    check_url_syntax,
    guarded_connector,
    resolve_public,
)

# ----------------------------------------------------------- check_url_syntax


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://example.com/feed.xml", "https://example.com/feed.xml"),
        ("http://example.com", "http://example.com/"),
        ("HTTPS://News.Example.COM/rss?x=1#top", "https://news.example.com/rss?x=1#top"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("http://example.com:/a", "http://example.com/a"),
        ("https://bücher.de/feed", "https://xn--bcher-kva.de/feed"),
        ("https://例え.jp/", "https://xn--r8jz45g.jp/"),
        ("http://example.com./", "http://example.com./"),
        ("http://8.8.8.8/", "http://8.8.8.8/"),
        ("http://[2001:4860:4860:0:0:0:0:8888]:8443/", "http://[2001:4860:4860::8888]:8443/"),
        # Numeric IPv4 spellings become the dotted quad the OS would connect to.
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://0x7f000001/", "http://127.0.0.1/"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://017700000001/", "http://127.0.0.1/"),
        ("http://127.1/", "http://127.0.0.1/"),
        ("http://１２７.０.０.１/", "http://127.0.0.1/"),  # full-width digits, NFKC
        ("https://example.com/ünïcode-päth", "https://example.com/ünïcode-päth"),
    ],
)
def test_accepted_urls_are_normalised(url: str, normalised: str) -> None:
    assert check_url_syntax(url) == normalised
    assert check_url_syntax(normalised) == normalised


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.com/feed.xml", "only http:// and https://"),
        ("file:///etc/passwd", "not file:"),
        ("javascript:alert(1)", "not javascript:"),
        ("gopher://example.com/", "not gopher:"),
        ("data:text/xml,<rss/>", "not data:"),
        ("example.com/feed", "no scheme"),
        ("//example.com/feed", "no scheme"),
        ("", "no scheme"),
        ("http://", "no host"),
        ("http:///feed", "no host"),
        ("http:example.com/feed", "no host"),
        ("http://:8080/feed", "no host"),
        ("http://user:pass@example.com/", "user name or password"),
        ("http://user@example.com/", "user name or password"),
        ("http://example.com@127.0.0.1/", "user name or password"),
        ("http://example.com:0/", "port 0 is out of range"),
        ("http://example.com:65536/", "port 65536 is out of range"),
        ("http://example.com:99999/", "out of range"),
        ("http://example.com:123456/", "not a port number"),
        ("http://example.com:http/", "not a port number"),
        ("http://example.com:-1/", "not a port number"),
        ("http://example.com:+80/", "not a port number"),
        ("http://example.com:８０/", "not a port number"),  # full-width digits
        ("http://example.com:80:80/", "not a port number"),
        ("http://::1/", "no host name"),  # IPv6 needs brackets
        ("http://exa mple.com/", "U+0020"),
        ("http://example.com/a b", "U+0020"),
        (" http://example.com/", "position 1"),
        ("http://example.com/\n", "U+000A"),
        ("http://example.com/\t", "U+0009"),
        ("http://example.com/\x00", "U+0000"),
        ("http://example.com/\x7f", "U+007F"),
        ("http://exam\u200bple.com/", "U+200B"),  # zero-width space
        ("http://example.com/\u202e", "U+202E"),  # right-to-left override
        ("http://example.com/\u3000", "U+3000"),  # ideographic space
        ("http://example.com/" + "a" * MAX_URL_LENGTH, "limit is 2048"),
        ("http://example.com\\@127.0.0.1/", "backslash"),
        ("http://[::1/", "not a well-formed"),
        ("http://[example.com]/", "not a well-formed"),
        ("http://[fe80::1%25eth0]/", "zone"),
        ("http://256.0.0.1/", "not a valid IPv4"),
        ("http://1.2.3.4.5/", "not a valid IPv4"),
        ("http://09.0.0.1/", "not a valid IPv4"),
        ("http://4294967296/", "not a valid IPv4"),
        ("http://1..1/", "not a valid IPv4"),
        ("http://exa_mple..com/", "not a valid host name"),
        ("http://exa%6dple.com/", "not a valid host name"),
        ("http://exa<mple.com/", "not a valid host name"),
        ("http://" + "a" * 64 + ".com/", "not a valid host name"),
        ("http://ex／ample.com/", "not a well-formed"),  # full-width solidus: NFKC "/"
    ],
)
def test_refused_urls_say_why(url: str, says: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        check_url_syntax(url)
    assert says in str(caught.value)


def test_length_limit_is_inclusive() -> None:
    base = "http://example.com/"
    url = base + "a" * (MAX_URL_LENGTH - len(base))
    assert check_url_syntax(url) == url
    with pytest.raises(UnsafeURLError):
        check_url_syntax(url + "a")


def test_error_is_a_bot_error_that_survives_pickling() -> None:
    with pytest.raises(BotError) as caught:
        check_url_syntax("ftp://example.com/")
    error = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(error, UnsafeURLError)
    assert str(error) == str(caught.value)
    assert error.url == "ftp://example.com/"


def test_messages_do_not_echo_huge_or_invisible_urls() -> None:
    with pytest.raises(UnsafeURLError) as caught:
        check_url_syntax("ftp://x/" + "\u202e" + "a" * 5000)
    assert len(str(caught.value)) < 300
    assert "\u202e" not in str(caught.value)


_URL_CHARS = st.sampled_from(
    [
        *"abcxyzAZ019-._~:/?#[]@!$&'()*+,;=% \\\t\n\x00\x7f",
        "ü",
        "例",
        "\u200b",
        "１",
        "．",
        "／",
        "％",
        "ß",
        "\ud800",
        "0x",
        "::",
        "%25",
    ]
)
_URLISH = st.builds(
    lambda scheme, rest: scheme + "".join(rest),
    st.sampled_from(["http://", "https://", "HTTP://", "http:", "ftp://", "", "http://[", "//"]),
    st.lists(_URL_CHARS, max_size=40),
)


@given(st.text(max_size=300) | _URLISH)
def test_syntax_check_raises_only_unsafe_url_error(text: str) -> None:
    with contextlib.suppress(UnsafeURLError):
        check_url_syntax(text)


@given(_URLISH | st.from_regex(r"\Ahttps?://[^/]{0,30}(/.*)?\Z"))
def test_accepted_urls_mean_the_same_to_aiohttp(text: str) -> None:
    """What we checked is what aiohttp (via yarl) will connect to; normalising is idempotent."""
    try:
        normalised = check_url_syntax(text)
    except UnsafeURLError:
        return
    assert check_url_syntax(normalised) == normalised
    parts = urlsplit(normalised)
    parsed = URL(normalised)
    assert parsed.raw_host == parts.hostname
    assert parsed.port == (parts.port or {"http": 80, "https": 443}[parts.scheme])


# ------------------------------------------------------------- resolve_public


def fake_dns(table: dict[str, list[str]]):
    """An async resolver over a fixed table; unknown names fail like getaddrinfo does."""

    async def resolve(host: str) -> Iterable[str]:
        if host not in table:
            raise OSError(-2, "Name or service not known")
        return table[host]

    return resolve


def no_dns():
    """A resolver that fails the test if called: literal IPs must not be looked up."""

    async def resolve(host: str) -> Iterable[str]:
        raise AssertionError(f"looked up {host!r}")

    return resolve


@pytest.mark.parametrize(
    "addresses",
    [
        ["93.184.216.34"],
        ["1.1.1.1", "8.8.8.8"],
        ["2606:4700::1111"],
        ["151.101.1.69", "2a04:4e42::261"],
        ["::ffff:8.8.8.8"],  # mapped public: connects to 8.8.8.8
    ],
)
async def test_public_addresses_pass(addresses: list[str]) -> None:
    dns = fake_dns({"feeds.example.com": addresses})
    got = await resolve_public("https://feeds.example.com/rss", resolver=dns)
    assert got == addresses


async def test_duplicate_answers_are_reported_once() -> None:
    dns = fake_dns({"feeds.example.com": ["1.1.1.1", "1.1.1.1"]})
    assert await resolve_public("https://feeds.example.com/", resolver=dns) == ["1.1.1.1"]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456:789a::1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("100.100.100.200", "carrier-grade NAT"),  # Alibaba Cloud metadata
        ("fec0::1", "site-local"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:10.1.2.3", "IPv4-mapped private"),
        ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
        ("64:ff9b::a9fe:a9fe", "NAT64-embedded link-local"),
        ("2002:7f00:1::", "6to4-embedded loopback"),
        ("::7f00:1", "reserved"),  # deprecated IPv4-compatible form
        ("192.0.0.192", "special-purpose"),  # Oracle Cloud metadata
        ("192.0.2.10", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("2001:db8::1", "documentation"),
    ],
)
async def test_each_non_public_class_is_refused_naming_the_address(address: str, kind: str) -> None:
    dns = fake_dns({"intranet.example": [address]})
    with pytest.raises(UnsafeURLError) as caught:
        await resolve_public("http://intranet.example/feed", resolver=dns)
    message = str(caught.value)
    assert kind in message
    assert address.split("%")[0] in message
    assert caught.value.address == address.split("%")[0]
    assert "intranet.example resolves to" in message


async def test_one_bad_address_among_good_ones_refuses_the_host() -> None:
    dns = fake_dns({"mixed.example": ["93.184.216.34", "10.0.0.1", "1.1.1.1"]})
    with pytest.raises(UnsafeURLError, match=r"10\.0\.0\.1"):
        await resolve_public("http://mixed.example/", resolver=dns)


async def test_allow_private_lets_loopback_through() -> None:
    dns = fake_dns({"localhost": ["127.0.0.1", "::1"]})
    got = await resolve_public("http://localhost:8080/", allow_private=True, resolver=dns)
    assert got == ["127.0.0.1", "::1"]
    with pytest.raises(UnsafeURLError, match="loopback"):
        await resolve_public("http://localhost:8080/", resolver=dns)


async def test_allow_private_does_not_relax_syntax() -> None:
    with pytest.raises(UnsafeURLError, match="not file:"):
        await resolve_public("file:///etc/passwd", allow_private=True, resolver=no_dns())


async def test_name_that_does_not_resolve() -> None:
    with pytest.raises(UnsafeURLError, match=r"cannot resolve nowhere\.example: Name or service"):
        await resolve_public("https://nowhere.example/", resolver=fake_dns({}))


async def test_empty_answer_counts_as_unresolvable() -> None:
    with pytest.raises(UnsafeURLError, match="cannot resolve"):
        await resolve_public("https://empty.example/", resolver=fake_dns({"empty.example": []}))


async def test_garbage_from_the_resolver_is_refused() -> None:
    dns = fake_dns({"odd.example": ["not-an-ip"]})
    with pytest.raises(UnsafeURLError, match="not an IP address"):
        await resolve_public("https://odd.example/", resolver=dns)


async def test_resolver_sees_the_punycode_name() -> None:
    seen: list[str] = []

    async def dns(host: str) -> list[str]:
        seen.append(host)
        return ["1.1.1.1"]

    await resolve_public("https://Bücher.DE/feed", resolver=dns)
    assert seen == ["xn--bcher-kva.de"]


@pytest.mark.parametrize(
    ("url", "address", "kind"),
    [
        ("http://127.0.0.1/", "127.0.0.1", "loopback"),
        ("http://[::1]/", "::1", "loopback"),
        ("http://2130706433/", "127.0.0.1", "loopback"),
        ("http://0x7f000001/", "127.0.0.1", "loopback"),
        ("http://0x7f.1/", "127.0.0.1", "loopback"),
        ("http://0177.0.0.1:8080/", "127.0.0.1", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254", "cloud metadata"),
        ("http://0xa9fea9fe/latest/meta-data", "169.254.169.254", "cloud metadata"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("http://[::ffff:a9fe:a9fe]/", "::ffff:169.254.169.254", "IPv4-mapped link-local"),
        ("http://0.0.0.0:8000/", "0.0.0.0", "unspecified"),
        ("http://0/", "0.0.0.0", "unspecified"),
        ("http://[::]/", "::", "unspecified"),
        ("http://10.1.2.3/", "10.1.2.3", "private"),
        ("http://１２７.０.０.１/", "127.0.0.1", "loopback"),
    ],
)
async def test_literal_ips_are_refused_without_dns(url: str, address: str, kind: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        await resolve_public(url, resolver=no_dns())
    assert f"{address} is a" in str(caught.value) or f"{address} is an" in str(caught.value)
    assert kind in str(caught.value)
    assert caught.value.address == address


async def test_literal_ips_with_allow_private_and_public_literals() -> None:
    assert await resolve_public("http://2130706433/", allow_private=True, resolver=no_dns()) == [
        "127.0.0.1"
    ]
    assert await resolve_public("http://[2606:4700::1111]/", resolver=no_dns()) == [
        "2606:4700::1111"
    ]


# ----------------------------------------------- connect-time guard in aiohttp


@pytest.fixture
async def local_port() -> AsyncIterator[int]:
    """A tiny aiohttp server on 127.0.0.1 only; the tests reach it as "localhost"."""

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="feed")

    app = web.Application()
    app.router.add_get("/ok", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def _get(connector: aiohttp.BaseConnector, url: str) -> str:
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
        session.get(url) as resp,
    ):
        assert resp.status == 200
        return await resp.text()


async def test_guarded_resolver_refuses_localhost(local_port: int) -> None:
    resolver = GuardedResolver()
    connector = aiohttp.TCPConnector(resolver=resolver)
    with pytest.raises(aiohttp.ClientConnectorError) as caught:
        await _get(connector, f"http://localhost:{local_port}/ok")
    await resolver.close()
    blocked = caught.value.os_error
    assert isinstance(blocked, BlockedAddressError)
    assert isinstance(blocked, UnsafeURLError)
    assert "localhost resolves to 127.0.0.1, a loopback address" in str(blocked)
    assert "loopback" in str(caught.value)


async def test_guarded_resolver_allows_localhost_when_private_allowed(local_port: int) -> None:
    resolver = GuardedResolver(allow_private=True)
    connector = aiohttp.TCPConnector(resolver=resolver)
    assert await _get(connector, f"http://localhost:{local_port}/ok") == "feed"
    await resolver.close()


async def test_guarded_resolver_refuses_numeric_forms_the_os_would_map(local_port: int) -> None:
    # aiohttp hands "0x7f.1" to the resolver; getaddrinfo turns it into 127.0.0.1.
    connector = aiohttp.TCPConnector(resolver=GuardedResolver())
    with pytest.raises(aiohttp.ClientConnectorError) as caught:
        await _get(connector, f"http://0x7f.1:{local_port}/ok")
    assert isinstance(caught.value.os_error, BlockedAddressError)


async def test_guarded_resolver_wraps_a_given_resolver() -> None:
    class Fixed(aiohttp.abc.AbstractResolver):
        closed = False

        async def resolve(self, host, port=0, family=0):  # type: ignore[no-untyped-def]
            return [
                {
                    "hostname": host,
                    "host": "10.9.8.7",
                    "port": port,
                    "family": 2,
                    "proto": 6,
                    "flags": 0,
                }
            ]

        async def close(self) -> None:
            Fixed.closed = True

    guarded = GuardedResolver(resolver=Fixed())
    with pytest.raises(BlockedAddressError, match=r"10\.9\.8\.7, a private address"):
        await guarded.resolve("rebound.example", 80)
    allowed = await GuardedResolver(allow_private=True, resolver=Fixed()).resolve("x", 80)
    assert allowed[0]["host"] == "10.9.8.7"
    await guarded.close()
    assert Fixed.closed


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_guarded_connector_refuses_literal_ips_and_names(local_port: int, host: str) -> None:
    # A literal IP never reaches the resolver; the socket factory still sees it.
    with pytest.raises(aiohttp.ClientConnectorError) as caught:
        await _get(guarded_connector(), f"http://{host}:{local_port}/ok")
    assert isinstance(caught.value.os_error, BlockedAddressError)
    assert "127.0.0.1" in str(caught.value.os_error)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_guarded_connector_allows_private_when_asked(local_port: int, host: str) -> None:
    connector = guarded_connector(allow_private=True)
    assert await _get(connector, f"http://{host}:{local_port}/ok") == "feed"
