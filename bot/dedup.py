"""Is this item new? Pure functions computing the keys an item is known by.

An item is a repeat if any of its keys was seen before: the feed-scoped guid
(the feed's own identity for the entry), its canonical URL (the same article
syndicated by two feeds, or re-linked with tracking parameters), or a
fingerprint of its normalised title (the same wire story under two URLs; only
within a time window, since titles like "Daily briefing" recur).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.matching.normalize import fold
from bot.models import Item

# Query parameters that identify the click, not the article.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ocid",
        "cmpid",
        "ito",
        "at_medium",
        "at_campaign",
        "rss",
        "ref",
        "ref_src",
        "src",
        "feature",
        "smid",
        "spm",
    }
)
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hsa_", "__")

# A title must be at least this long to serve as a fingerprint: short generic
# titles ("Update", "Live") would otherwise merge unrelated items.
MIN_FINGERPRINT_WORDS = 4
TITLE_KEY_PREFIX = "title:"  # title keys recur, so only they have a window


def _is_tracking(name: str) -> bool:
    lower = name.lower()
    return lower in TRACKING_PARAMS or lower.startswith(TRACKING_PREFIXES)


# An article URL that is already in canonical form but for its scheme: lower-case
# host without port, a path of unreserved characters with no "//" and no
# trailing slash, no query, no fragment. Most feed links look like this.
_PLAIN_URL = re.compile(
    r"https?://([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(/(?:[A-Za-z0-9._~%-]+/)*[A-Za-z0-9._~%-]+|/?)"
)


def canonical_url(url: str) -> str:
    """A stable form of an article URL for duplicate detection.

    Scheme and host are lower-cased, default ports, fragments and tracking
    parameters dropped, remaining parameters sorted, a trailing slash removed.
    http and https count as the same article.

    Why a shortcut: every parsed item of a changed feed gets its keys, repeats
    included (their keys are remembered too), and urlsplit + parse_qsl cost
    ~6 µs a link. A link `_PLAIN_URL` matches whole comes out of the general
    path as "https://" + host + path (tests/test_dedup.py checks both agree).
    """
    url = url.strip()
    plain = _PLAIN_URL.fullmatch(url)
    if plain is not None:
        return f"https://{plain[1]}{plain[2] or '/'}"
    return _canonical_general(url)


def _canonical_general(url: str) -> str:
    """canonical_url for any (stripped) URL: the rules spelled out with urllib."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.strip() or "/"
    while "//" in path:
        path = path.replace("//", "/")
    if len(path) > 1:
        path = path.rstrip("/")
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    )
    return urlunsplit(("https", host, path, urlencode(query), ""))


def title_fingerprint(title: str) -> str | None:
    """A hash of the normalised title, or None when the title is too generic."""
    words = fold(title).split()
    if len(words) < MIN_FINGERPRINT_WORDS:
        return None
    return hashlib.sha1(" ".join(words).encode()).hexdigest()[:20]


def guid_key(item: Item) -> str:
    return "guid:" + hashlib.sha1(f"{item.feed_url}\n{item.guid}".encode()).hexdigest()[:24]


def url_key(item: Item) -> str | None:
    if not item.url:
        return None
    return "url:" + hashlib.sha1(canonical_url(item.url).encode()).hexdigest()[:24]


def title_key(item: Item) -> str | None:
    fp = title_fingerprint(item.title)
    return f"{TITLE_KEY_PREFIX}{fp}" if fp else None


def item_keys(item: Item) -> list[str]:
    """Every key this item is known by; the guid key always comes first."""
    return [k for k in (guid_key(item), url_key(item), title_key(item)) if k]


# -- the seen rules: what storage's sightings of keys mean (every engine calls these) --


def still_seen(sightings: Mapping[str, datetime], now: datetime, window: float) -> set[str]:
    """The keys, of those stored with when they were (last) seen, that make an item a repeat.

    Guid and URL keys count until retention prunes them; a title key only within
    `window` seconds, because titles recur ("Morning briefing") while a guid
    does not. Decided here, not in a storage engine, so every engine agrees.
    """
    window_start = now - timedelta(seconds=window)
    return {
        key
        for key, seen_at in sightings.items()
        if not key.startswith(TITLE_KEY_PREFIX) or seen_at >= window_start
    }


def split_repeats(
    items: Sequence[Item], keys_of: Sequence[list[str]], seen: set[str]
) -> tuple[list[tuple[Item, list[str]]], list[list[str]]]:
    """(new items with their keys, the keys of repeats), in feed order.

    An item is a repeat when any of its keys is seen; the same story twice in
    one batch counts once, so each item's keys are seen by the items after it.
    """
    seen = set(seen)
    new: list[tuple[Item, list[str]]] = []
    repeats: list[list[str]] = []
    for item, keys in zip(items, keys_of, strict=True):
        if seen.intersection(keys):
            repeats.append(keys)
        else:
            new.append((item, keys))
        seen.update(keys)
    return new, repeats


def slides_when_seen_again(key: str) -> bool:
    """A title key is refreshed when seen again, so its window slides with a story
    that keeps being reported; guid and URL keys keep their first sighting (retention
    counts from it)."""
    return key.startswith(TITLE_KEY_PREFIX)
