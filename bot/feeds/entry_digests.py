"""Digests of feed entries: what lets a changed feed read only its changed entries.

Why a module of its own: the digest's rules (what it covers, how it is stored)
are shared by the fast path that computes it (bot/feeds/fastparse.py), the
parse result that carries it (bot/feeds/parse.py) and the feed state that
stores it (`FeedState.entry_digests`). Each digest is 12 bytes of BLAKE2b in
base64, 16 characters: 800 bytes for a feed of 50 entries; a changed entry
colliding with one of a feed's ~50 known digests is a 2^-90 event.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib.util
import re
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

DIGEST_CHARS = 16  # base64 of a 12-byte BLAKE2b digest: what one entry adds to the feed row


def _source_digest() -> bytes:
    """The source of the modules that turn an entry into an Item, read once at import.

    At import, not at first use: a worker forked later reads the files as they are
    then, and a deployment that replaced them under a running bot must not label
    entries read by the old code with the new code's version. Read by path, so
    this module imports none of them (no import circle).
    """
    h = hashlib.blake2b(b"entry-digest-1", digest_size=16)
    here = Path(__file__)
    for name in ("fastparse.py", "feedparser_rules.py", "parse.py", "html_text.py", here.name):
        try:
            h.update(here.with_name(name).read_bytes())
        except OSError:  # no source to read (a frozen build): its name stands
            h.update(name.encode())
    return h.digest()


_SOURCES = _source_digest()


@cache
def code_version() -> bytes:
    """What the reading code is: entries of a feed read by other code are read again.

    The parsing modules' source (`_SOURCES`) and feedparser's version (its date
    handlers and link rules are used, bot/feeds/feedparser_rules.py). A version
    constant someone must remember to bump would let an upgrade that reads
    entries differently keep skipping them.
    """
    return hashlib.blake2b(_SOURCES + feedparser_version().encode(), digest_size=16).digest()


_VERSION_LINE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def feedparser_version() -> str:
    """The installed feedparser's `__version__`, read from its file, not imported: the
    fast path does not import feedparser (38 ms a process); "" if it cannot be read."""
    spec = importlib.util.find_spec("feedparser")  # finds, does not import, the package
    if spec is None or spec.origin is None:
        return ""
    try:
        found = _VERSION_LINE.search(Path(spec.origin).read_text("utf-8"))
    except (OSError, UnicodeError):
        return ""
    return found.group(1) if found else ""


def entry_digest(context: bytes, element: etree._Element) -> str:
    """A short digest of an entry element with the context it is read in."""
    h = hashlib.blake2b(context, digest_size=12)
    h.update(etree.tostring(element, with_tail=False))
    return base64.b64encode(h.digest()).decode("ascii")


class EntryDigester:
    """`entry_digest` for the entries of one document, whose contexts share a start.

    The same digests, cheaper: a hash fed each distinct context once is copied for
    each entry, and the digest is encoded without base64's Python wrapper. A changed
    feed's 50 entries are all digested to find its new ones; this was a fifth of
    such a document's parse (bench/parse_speed.py).
    """

    def __init__(self, context: bytes) -> None:
        self._context = context
        self._started: dict[bytes, Any] = {}  # context suffix -> hash fed the context

    def __call__(self, suffix: bytes, element: etree._Element) -> str:
        started = self._started.get(suffix)
        if started is None:
            started = self._started[suffix] = hashlib.blake2b(
                self._context + suffix, digest_size=12
            )
        h = started.copy()
        h.update(etree.tostring(element, with_tail=False))
        return binascii.b2a_base64(h.digest(), newline=False).decode("ascii")


def split_digests(text: str) -> frozenset[str]:
    """The digests of a stored `FeedState.entry_digests` (16-character chunks)."""
    return frozenset(text[i : i + DIGEST_CHARS] for i in range(0, len(text), DIGEST_CHARS))
