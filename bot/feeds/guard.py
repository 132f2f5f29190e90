"""Checks on feed URLs that chat users add, so the bot cannot be aimed at its own network.

A feed URL typed into chat is an instruction to make an HTTP request from the
bot's host. Without checks, anyone in the chat could make the bot fetch
``http://169.254.169.254/latest/meta-data`` (cloud credentials),
``http://localhost:9200/`` or a router's admin page and read the answer back as
"feed items" (server-side request forgery, SSRF).

There are three layers, because each one alone has a hole:

* `check_url_syntax` rejects URLs that are not plain http(s) web addresses and
  returns one normalised form. Callers must store and fetch *that* string, so the
  host we checked is the host aiohttp connects to (no parser disagreements over
  ``user@host``, backslashes, ``0x7f.1`` or full-width digits).
* `resolve_public` is the check at the moment a user adds a feed: it resolves the
  host and refuses it if any address is not public, giving the user a clear
  reason. It cannot protect later fetches: DNS answers change (DNS rebinding) and
  a public feed may redirect to a private address.
* `GuardedResolver` and `guarded_socket_factory` (both wired by
  `guarded_connector`) repeat the address check inside aiohttp at connect time,
  for every request including each redirect hop, so what is checked is exactly
  what is connected to.

What the connect-time layer does not cover: requests sent through an HTTP proxy
(the proxy resolves the target, we only see the proxy's address), and
``socket_factory`` needs aiohttp >= 3.12. aiohttp does not pass literal-IP hosts
(``http://127.0.0.1/``, ``http://[::1]/``) to the resolver at all, which is why
the socket factory exists: it sees the final socket address of every connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import idna  # a dependency of yarl, hence always installed with aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from bot.errors import BotError

__all__ = [
    "MAX_URL_LENGTH",
    "BlockedAddressError",
    "GuardedResolver",
    "UnsafeURLError",
    "check_url_syntax",
    "guarded_connector",
    "guarded_socket_factory",
    "non_public_reason",
    "resolve_public",
]

MAX_URL_LENGTH = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# An injectable name lookup: host name in, IP address strings out.
Resolver = Callable[[str], Awaitable[Iterable[str]]]

_SCHEMES = {"http": 80, "https": 443}
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
_PORT = re.compile(r"[0-9]{1,5}")
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
# WHATWG URL rule: a host whose last label is a number is an IPv4 address or invalid.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
_HEX_PART = re.compile(r"0[xX][0-9a-fA-F]*")
_OCT_PART = re.compile(r"0[0-7]+")
_DEC_PART = re.compile(r"0|[1-9][0-9]*")

_NOT_PUBLIC_HINT = "the bot only fetches feeds from public internet addresses"


class UnsafeURLError(BotError):
    """A feed URL the bot refuses to fetch; the message is shown to the chat user.

    `url` is what the user gave, `address` the offending IP address if there
    was one (so callers can log it without parsing the message).
    """

    def __init__(self, message: str, *, url: str | None = None, address: str | None = None):
        self.url = url
        self.address = address
        super().__init__(f"{_show(url)}: {message}" if url is not None else message)


class BlockedAddressError(UnsafeURLError, OSError):
    """Raised inside aiohttp's connect path when a host resolves to a non-public address.

    It is an OSError because that is what aiohttp turns into
    `aiohttp.ClientConnectorError` (available as ``e.os_error``), so existing
    "cannot connect" handling keeps working; it is also an UnsafeURLError so a
    caller can tell "refused by policy" (permanent) from "network trouble".
    """

    def __init__(self, message: str, *, url: str | None = None, address: str | None = None):
        super().__init__(message, url=url, address=address)
        # ClientConnectorError's text shows os_error.strerror.
        self.strerror = str(self)


def _show(url: str) -> str:
    """The URL as it may appear in a chat message: short and without invisible characters."""
    if len(url) <= 100 and url.isprintable():
        return url
    return repr(url[:100]) + ("…" if len(url) > 100 else "")


# --------------------------------------------------------------------- syntax


def check_url_syntax(url: str) -> str:
    """Return the normalised form of a user-supplied feed URL, or raise UnsafeURLError.

    Accepted: http/https only, a host name or IP literal, no ``user:pass@``
    (it hides the real host from a human reader), port 1-65535 if given, at most
    `MAX_URL_LENGTH` characters, no whitespace, control or invisible formatting
    characters, no backslashes (browsers read ``\\`` as ``/``, Python does not).

    Normalised: scheme and host lower-case, international host names
    punycode-encoded, numeric IPv4 spellings (``2130706433``, ``0x7f.1``,
    ``127.1``) rewritten as dotted quads, IPv6 compressed, default port dropped,
    empty path made ``/``. Fetch the returned string, not the input.
    """
    if not isinstance(url, str):
        raise UnsafeURLError("a feed address must be text")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURLError(
            f"the address is {len(url)} characters long; the limit is {MAX_URL_LENGTH}", url=url
        )
    for position, char in enumerate(url):
        if char.isspace() or unicodedata.category(char) in _BAD_CATEGORIES:
            raise UnsafeURLError(
                f"the address contains a space or invisible character (U+{ord(char):04X})"
                f" at position {position + 1}; copy the address again without it",
                url=url,
            )
    if "\\" in url:
        raise UnsafeURLError("the address contains a backslash; web addresses use /", url=url)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise UnsafeURLError("this is not a well-formed web address", url=url) from None
    if parts.scheme not in _SCHEMES:
        if not parts.scheme:
            problem = "the address has no scheme; write it as https://…"
        else:
            problem = f"only http:// and https:// feeds are supported, not {parts.scheme}:"
        raise UnsafeURLError(problem, url=url)
    if not parts.netloc:
        raise UnsafeURLError("the address has no host name", url=url)
    if "@" in parts.netloc:
        raise UnsafeURLError(
            "addresses with a user name or password (user:pass@host) are not accepted", url=url
        )
    host, port = _split_host_port(parts.netloc, url)
    netloc = host if port is None or port == _SCHEMES[parts.scheme] else f"{host}:{port}"
    normalised = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, parts.fragment))
    if len(normalised) > MAX_URL_LENGTH:
        raise UnsafeURLError(
            f"the address is longer than {MAX_URL_LENGTH} characters once encoded", url=url
        )
    return normalised


def _split_host_port(netloc: str, url: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` into the normalised host (IPv6 in brackets) and the port."""
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise UnsafeURLError("the [ around the IPv6 address is not closed", url=url)
        literal, rest = netloc[1:end], netloc[end + 1 :]
        if "%" in literal:
            raise UnsafeURLError("IPv6 zone identifiers (%…) are not accepted", url=url)
        try:
            host = f"[{ipaddress.IPv6Address(literal).compressed}]"
        except ValueError:
            raise UnsafeURLError(f"[{literal}] is not a valid IPv6 address", url=url) from None
    else:
        name, colon, port_text = netloc.partition(":")
        rest = colon + port_text
        host = _normalise_name(name, url)
    if not rest or rest == ":":  # RFC 3986 allows an empty port
        return host, None
    port_text = rest[1:]
    if not rest.startswith(":") or not _PORT.fullmatch(port_text):
        raise UnsafeURLError(f"{rest!r} after the host is not a port number", url=url)
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise UnsafeURLError(f"port {port} is out of range (1–65535)", url=url)
    return host, port


def _normalise_name(name: str, url: str) -> str:
    """Lower-case or punycode a host name; rewrite numeric IPv4 forms as dotted quads."""
    if not name:
        raise UnsafeURLError("the address has no host name", url=url)
    if name.isascii():
        name = name.lower()
    else:
        try:
            # UTS 46 mapping, as yarl (and so aiohttp) does: full-width digits
            # become ASCII here, so the IPv4 check below must come after it.
            name = idna.encode(name, uts46=True).decode("ascii")
        except (UnicodeError, ValueError):
            raise UnsafeURLError(
                f"{name!r} is not a valid international host name", url=url
            ) from None
    ipv4 = _legacy_ipv4(name, url)
    if ipv4 is not None:
        return str(ipv4)
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    if len(name) > 254 or not all(_LABEL.fullmatch(label) for label in labels):
        raise UnsafeURLError(f"{name!r} is not a valid host name", url=url)
    return name


def _legacy_ipv4(host: str, url: str) -> ipaddress.IPv4Address | None:
    """Parse IPv4 the way browsers and inet_aton do: 1-4 parts, decimal, 0-octal or 0x-hex.

    None means "a domain name". Python's ipaddress accepts only dotted quads,
    yet ``getaddrinfo("0x7f.1")`` connects to 127.0.0.1, so these must be caught.
    """
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    if not _NUMERIC_LABEL.fullmatch(labels[-1]):
        return None
    invalid = UnsafeURLError(f"{host!r} is not a valid IPv4 address", url=url)
    if len(labels) > 4:
        raise invalid
    numbers = []
    for label in labels:
        if _HEX_PART.fullmatch(label):
            numbers.append(int(label[2:] or "0", 16))
        elif _OCT_PART.fullmatch(label):
            numbers.append(int(label, 8))
        elif _DEC_PART.fullmatch(label):
            numbers.append(int(label))
        else:
            raise invalid
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        raise invalid
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


# ------------------------------------------------------------ address policy

# IANA special-purpose registries, spelled out so the verdict does not depend on
# the Python patch release (ipaddress's is_private/is_global lists changed in
# 3.11.10, 3.12.4 and 3.13). Order matters: the first match names the reason.
_V4_RULES = [
    (ipaddress.IPv4Network(net), why)
    for net, why in [
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "unspecified ('this network')"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.169.254/32", "link-local (cloud metadata service)"),
        ("169.254.0.0/16", "link-local"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "shared carrier-grade NAT"),
        ("192.0.0.0/24", "special-purpose"),
        ("192.0.2.0/24", "documentation"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("198.18.0.0/15", "benchmarking"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    ]
]
_V6_RULES = [
    (ipaddress.IPv6Network(net), why)
    for net, why in [
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fd00:ec2::254/128", "private (cloud metadata service)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("fc00::/7", "private"),
        ("ff00::/8", "multicast"),
        ("64:ff9b:1::/48", "private"),
        ("100::/64", "discard-only"),
        ("2001:db8::/32", "documentation"),
        ("2001::/23", "special-purpose"),
        ("::/8", "reserved"),
    ]
]
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def non_public_reason(ip: IPAddress) -> str | None:
    """Why the bot must not connect to `ip` ("loopback", "private", …), or None if public.

    IPv6 addresses that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, NAT64
    ``64:ff9b::a.b.c.d``, 6to4 ``2002:AABB:CCDD::``) are judged by that address
    too, because the packets end up there.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(int(ip))  # drop any %scope
        if ip in _MAPPED:
            inner = non_public_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
            return f"IPv4-mapped {inner}" if inner else None
        for kind, embedded in (
            ("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None),
            ("6to4", ip.sixtofour),
        ):
            inner = non_public_reason(embedded) if embedded is not None else None
            if inner:
                return f"{kind}-embedded {inner}"
    rules = _V4_RULES if isinstance(ip, ipaddress.IPv4Address) else _V6_RULES
    for network, why in rules:
        if ip in network:
            return why
    # Safety net for ranges IANA adds later that a newer Python already knows.
    if ip.is_private or ip.is_reserved or ip.is_multicast or not ip.is_global:
        return "non-public"
    return None


def _display(ip: IPAddress) -> str:
    """Text for an address; IPv4-mapped IPv6 keeps its dotted tail so people recognise it."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"::ffff:{ip.ipv4_mapped}"
    return str(ip)


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _refusal(address: str, host: str | None, url: str | None) -> UnsafeURLError | None:
    """The error to raise for one resolved address, or None if the bot may connect to it."""
    ip = _parse_ip(address)
    if ip is None:
        return UnsafeURLError(
            f"{host or 'the host'} resolved to {address!r}, which is not an IP address",
            url=url,
            address=address,
        )
    why = non_public_reason(ip)
    if why is None:
        return None
    article = "an" if why[0] in "aeiouIAEIOU" else "a"
    shown = _display(ip)
    subject = f"{shown} is" if host in (None, str(ip)) else f"{host} resolves to {shown},"
    return UnsafeURLError(
        f"{subject} {article} {why} address; {_NOT_PUBLIC_HINT}", url=url, address=shown
    )


# --------------------------------------------------------------- resolution


async def _system_resolve(host: str) -> list[str]:
    """All addresses getaddrinfo gives for `host` (no AI_ADDRCONFIG: check every family)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve_public(
    url: str, *, allow_private: bool = False, resolver: Resolver | None = None
) -> list[str]:
    """Resolve the URL's host and return its addresses; raise UnsafeURLError if any is not public.

    Meant for the moment a user adds a feed, to answer with a clear reason. The
    URL goes through `check_url_syntax` first. IP literals (including numeric
    forms such as ``http://2130706433/``) are judged without any lookup. One bad
    address refuses the whole host: a client may connect to any of them.

    `allow_private` is for deployments that deliberately watch intranet feeds.
    `resolver` replaces the system lookup (tests inject a fake so they never
    touch DNS): an async callable taking a host name and returning IP strings.

    This does not make later fetches safe (DNS answers change, servers
    redirect); fetch through `guarded_connector` for that.
    """
    normalised = check_url_syntax(url)
    host = urlsplit(normalised).hostname or ""
    literal = _parse_ip(host)
    if literal is not None:
        addresses = [_display(literal)]
    else:
        try:
            found = await (resolver or _system_resolve)(host)
        except OSError as e:  # socket.gaierror and friends
            reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
            raise UnsafeURLError(f"cannot resolve {host}: {reason}", url=url) from None
        addresses = list(dict.fromkeys(found))
        if not addresses:
            raise UnsafeURLError(f"cannot resolve {host}: no addresses found", url=url)
    if not allow_private:
        for address in addresses:
            error = _refusal(address, host, url)
            if error is not None:
                raise error
    return addresses


# ------------------------------------------------------ connect-time guards


def _blocked(address: str, host: str | None) -> BlockedAddressError | None:
    error = _refusal(address, host, None)
    return BlockedAddressError(str(error), address=error.address) if error else None


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses hosts resolving to any non-public address.

    Covers every *name* aiohttp resolves through the connector: the first
    request, each redirect hop and each re-resolution after the DNS cache
    expires, so rebinding a name to 127.0.0.1 after `resolve_public` approved it
    does not help. The check runs on the very addresses aiohttp then connects to.

    Not covered: literal-IP hosts (``http://10.0.0.1/``), which aiohttp never
    sends to a resolver; use `guarded_connector`, whose socket factory catches
    them. The refusal is a `BlockedAddressError` (an OSError), which aiohttp
    raises as `aiohttp.ClientConnectorDNSError` (a ClientConnectorError).

    aiohttp does not close resolvers it did not create; call `close()` (or use
    `guarded_connector`, where the default inner resolver needs no closing).
    """

    def __init__(
        self, *, allow_private: bool = False, resolver: AbstractResolver | None = None
    ) -> None:
        self.allow_private = allow_private
        self._inner = resolver  # created lazily: DefaultResolver needs a running loop

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = DefaultResolver()
        results = await self._inner.resolve(host, port, family)
        if not self.allow_private:
            for result in results:
                error = _blocked(result["host"], host)
                if error is not None:
                    raise error
        return results

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


def guarded_socket_factory(
    *, allow_private: bool = False
) -> Callable[[tuple[int, int, int, str, tuple[object, ...]]], socket.socket]:
    """A TCPConnector ``socket_factory`` that refuses to create sockets to non-public addresses.

    aiohttp calls it with the final address of every connection attempt, literal
    IPs included, which the resolver never sees. Anything that is not a plain IP
    address (e.g. ``2130706433`` left for the OS to interpret) is refused too.
    """

    def factory(addr_info: tuple[int, int, int, str, tuple[object, ...]]) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        if not allow_private:
            error = _blocked(str(sockaddr[0]), None)
            if error is not None:
                raise error
        return socket.socket(family=family, type=type_, proto=proto)

    return factory


def guarded_connector(*, allow_private: bool = False, **kwargs: object) -> aiohttp.TCPConnector:
    """A TCPConnector with both connect-time guards; other keyword arguments go to TCPConnector.

    Must be called with an event loop running, like TCPConnector itself.
    """
    return aiohttp.TCPConnector(
        resolver=GuardedResolver(allow_private=allow_private),
        socket_factory=guarded_socket_factory(allow_private=allow_private),
        **kwargs,  # type: ignore[arg-type]
    )
