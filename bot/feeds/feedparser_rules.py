"""feedparser's reading rules that the fast path uses, without importing feedparser.

Why: the fast path (bot/feeds/fastparse.py) reads dates, relative links and "is
this RSS title HTML?" with feedparser's own rules, so both paths give the same
items. Importing feedparser for them ran its whole package (its SAX parser, HTTP
client, sanitiser, nine date parsers with their regular expressions): 38 ms of
CPU in every parser process a `once` starts, about 3 % of a cycle of 1,000 feeds
with a tenth changed (bench/pipeline_ab.py). So:

* Dates: feedparser tries its date handlers in order and the first two, W3DTF and
  RFC 822, read nearly every feed date. Those two are loaded here from feedparser's
  own files (they import nothing but `datetime`), not copied, so they are exactly
  the installed version's. A date neither reads goes to feedparser's `_parse_date`
  (imported then), which tries them again and then the rest, in its order.
* Links and "looks like HTML": the few lines of feedparser's `_urljoin`,
  `make_safe_absolute_uri` and `looks_like_html`, and the two tables they read,
  copied below under feedparser's licence.

tests/test_feedparser_rules.py holds each against feedparser itself (the handler
order, the tables, arbitrary input), so an upgrade that changes them fails there;
the entry digests (bot/feeds/entry_digests.py) cover this file and feedparser's
version, so entries read by other rules are read again.

The copied parts: Copyright 2010-2025 Kurt McKee <contactme@kurtmckee.org>,
Copyright 2002-2008 Mark Pilgrim. All rights reserved. Redistribution and use in
source and binary forms, with or without modification, are permitted provided
that the following conditions are met: redistributions of source code must retain
the above copyright notice, this list of conditions and the following disclaimer;
redistributions in binary form must reproduce the above copyright notice, this
list of conditions and the following disclaimer in the documentation and/or other
materials provided with the distribution. THIS SOFTWARE IS PROVIDED BY THE
COPYRIGHT HOLDERS AND CONTRIBUTORS 'AS IS' AND ANY EXPRESS OR IMPLIED WARRANTIES,
INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND
FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT
OWNER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL,
EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT
OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT,
STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY
OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""

from __future__ import annotations

import html.entities
import importlib.util
import re
import time
import urllib.parse
from collections.abc import Callable
from functools import cache
from pathlib import Path

DateHandler = Callable[[str], "time.struct_time | None"]

#: feedparser's first date handlers, in the order it tries them (datetimes/__init__.py
#: registers each at the front: the last registered is tried first).
FIRST_HANDLERS = (("w3dtf.py", "_parse_date_w3dtf"), ("rfc822.py", "_parse_date_rfc822"))

# feedparser/urls.py
ACCEPTABLE_URI_SCHEMES = (
    "file", "ftp", "gopher", "h323", "hdl", "http", "https", "imap", "magnet",
    "mailto", "mms", "news", "nntp", "prospero", "rsync", "rtsp", "rtspu",
    "sftp", "shttp", "sip", "sips", "snews", "svn", "svn+ssh", "telnet",
    "wais",
    # Additional common-but-unofficial schemes
    "aim", "callto", "cvs", "facetime", "feed", "git", "gtalk", "irc", "ircs",
    "irc6", "itms", "mms", "msnim", "skype", "ssh", "smb", "svn", "ymsg",
)  # fmt: skip

_urifixer = re.compile("^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")

# feedparser/sanitizer.py: _HTMLSanitizer.acceptable_elements
ACCEPTABLE_ELEMENTS = frozenset(
    "a abbr acronym address area article aside audio b big blockquote br button canvas "
    "caption center cite code col colgroup command datagrid datalist dd del details dfn "
    "dialog dir div dl dt em event-source fieldset figcaption figure font footer form "
    "h1 h2 h3 h4 h5 h6 header hr i img input ins kbd keygen label legend li m map menu "
    "meter multicol nav nextid noscript ol optgroup option output p pre progress q s "
    "samp section select small sound source spacer span strike strong sub sup table "
    "tbody td textarea tfoot th thead time tr tt u ul var video".split()
)


def urljoin(base: str, uri: str) -> str:
    """feedparser.urls._urljoin."""
    uri = _urifixer.sub(r"\1\3", uri)
    try:
        uri = urllib.parse.urljoin(base, uri)
    except ValueError:
        uri = ""
    return uri


def make_safe_absolute_uri(base: str, rel: str | None = None) -> str:
    """feedparser.urls.make_safe_absolute_uri."""
    if not base:
        return rel or ""
    if not rel:
        try:
            scheme = urllib.parse.urlparse(base)[0]
        except ValueError:
            return ""
        if not scheme or scheme in ACCEPTABLE_URI_SCHEMES:
            return base
        return ""
    uri = urljoin(base, rel)
    if uri.strip().split(":", 1)[0] not in ACCEPTABLE_URI_SCHEMES:
        return ""
    return uri


def looks_like_html(s: str) -> bool:
    """feedparser.mixin._FeedParserMixin.looks_like_html."""
    # must have a close tag or an entity reference to qualify
    if not (re.search(r"</(\w+)>", s) or re.search(r"&#?\w+;", s)):
        return False
    # all tags must be in a restricted subset of valid HTML tags
    if any(t for t in re.findall(r"</?(\w+)", s) if t.lower() not in ACCEPTABLE_ELEMENTS):
        return False
    # all entities must have been defined as valid HTML entities
    return not any(e for e in re.findall(r"&(\w+);", s) if e not in html.entities.entitydefs)


def _load_handler(file: str, function: str) -> DateHandler | None:
    """One of feedparser's date handlers, executed from its own file under a name of
    ours; None if feedparser is not laid out (or written) so that this works."""
    spec = importlib.util.find_spec("feedparser")  # finds, does not import, the package
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datetimes" / file
    module_spec = importlib.util.spec_from_file_location(f"bot.feeds._feedparser_{path.stem}", path)
    if module_spec is None or module_spec.loader is None:
        return None
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except (ImportError, OSError, SyntaxError):  # moved, or now imports its package
        return None
    handler = getattr(module, function, None)
    return handler if callable(handler) else None


@cache
def first_handlers() -> tuple[DateHandler, ...] | None:
    """feedparser's W3DTF and RFC 822 handlers (FIRST_HANDLERS), loaded once a process;
    None if either cannot be loaded (then every date goes to feedparser itself)."""
    handlers = tuple(_load_handler(file, function) for file, function in FIRST_HANDLERS)
    if any(h is None for h in handlers):
        return None
    return tuple(h for h in handlers if h is not None)


def parse_date(text: str) -> time.struct_time | None:
    """feedparser.datetimes._parse_date: the same tuple (or None) for every string.

    Its first two handlers run here; only a date neither reads imports feedparser.
    """
    if not text:
        return None
    handlers = first_handlers()
    if handlers is not None:
        for handler in handlers:
            try:
                parsed = handler(text)
            except (KeyError, OverflowError, ValueError, AttributeError):
                continue
            if parsed and len(parsed) == 9:
                return parsed
    from feedparser.datetimes import _parse_date  # the rarer formats, in feedparser's order

    result: time.struct_time | None = _parse_date(text)
    return result
