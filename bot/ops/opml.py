"""OPML 2.0 in and out: the feed lists other readers import and export.

Reading is done on untrusted files (downloaded from another reader, a blog, a
colleague), so the parser expands no entities, loads no DTD, fetches nothing
from the network, and the file is size-capped before parsing; a document that
declares entities at all is refused, since an OPML list never needs them and
"billion laughs" bombs are built from them. Writing escapes every attribute
through lxml, so a feed title with `&`, quotes or `<` re-imports unchanged.

Pure functions over bytes and plain data: the import/export commands
(bot/ops/feed_transfer.py) do the fetching and storing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

from lxml import etree

from bot.errors import OpmlError
from bot.safe_xml import hardened_parser

#: Far above any real subscription list (10,000 feeds are about 2 MB of OPML).
MAX_OPML_BYTES = 10 * 1024 * 1024

# Characters XML 1.0 cannot carry at all, even escaped: dropped from exported text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


# Entity declarations, looked for before parsing in the encodings an XML file may use:
# refused outright, with a message, rather than left to libxml2's amplification guard.
_ENTITY_MARKERS = tuple("<!ENTITY".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be"))


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One outline with an `xmlUrl`: a feed to subscribe to."""

    url: str  # xmlUrl, stripped of surrounding spaces
    title: str  # text or title attribute; "" when neither is given
    html_url: str  # htmlUrl; "" when not given
    line: int  # where the outline is in the file, for messages


def read_opml(path: Path, max_bytes: int = MAX_OPML_BYTES) -> list[OpmlFeed]:
    """The feeds listed in an OPML file, in document order; OpmlError if unreadable."""
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise OpmlError(f"{path}: no such file — give the path of an .opml file") from None
    except IsADirectoryError:
        raise OpmlError(f"{path}: is a folder — give the path of an .opml file") from None
    except OSError as e:
        raise OpmlError(f"{path}: cannot read the file ({e.strerror})") from None
    if len(data) > max_bytes:
        raise OpmlError(
            f"{path}: larger than {max_bytes // (1024 * 1024)} MB, far more than any feed list — "
            "is it really an OPML file? Split it, or check what was exported"
        )
    return parse_opml(data, str(path))


def parse_opml(data: bytes, source: str) -> list[OpmlFeed]:
    """The feeds of an OPML document: every outline with an `xmlUrl`, nested ones too.

    Outlines without `xmlUrl` are folders (categories) and are walked, not listed.
    Attribute names are matched without regard to case (`xmlurl` is common).
    """
    if any(marker in data for marker in _ENTITY_MARKERS):
        raise _entities_refused(source)
    parser = hardened_parser()  # libxml2's own depth and size limits stay on
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        raise OpmlError(
            f"{source}: line {e.lineno}: not well-formed XML ({e.msg}) — "
            "export the list again from the other reader"
        ) from None
    if root is None:
        raise OpmlError(f"{source}: the file is empty — export the list again")
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise _entities_refused(source)
    if not isinstance(root.tag, str) or etree.QName(root).localname.lower() != "opml":
        raise OpmlError(
            f"{source}: not an OPML file (the document is <{root.tag}>, not <opml>) — "
            "give the feed list exported from a reader (File > Export OPML)"
        )
    body = next((c for c in root if _local(c) == "body"), None)
    if body is None:
        raise OpmlError(f"{source}: the OPML has no <body> — export the list again")
    feeds: list[OpmlFeed] = []
    for outline in body.iter():
        if _local(outline) != "outline":
            continue
        attrs = {str(k).lower(): str(v) for k, v in outline.attrib.items()}
        url = attrs.get("xmlurl", "").strip()
        if not url:
            continue
        title = (attrs.get("text") or attrs.get("title") or "").strip()
        feeds.append(OpmlFeed(url, title, attrs.get("htmlurl", "").strip(), outline.sourceline))
    return feeds


def _entities_refused(source: str) -> OpmlError:
    return OpmlError(
        f"{source}: the file declares XML entities (<!ENTITY …>), which OPML never needs "
        "and XML bombs are made of; refusing to read it — export the list again"
    )


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname.lower() if isinstance(element.tag, str) else ""


@dataclass(frozen=True, slots=True)
class ExportFeed:
    """A feed as `feeds export` writes it."""

    url: str
    title: str
    html_url: str | None = None


def xml_safe(text: str) -> str:
    """Text XML 1.0 can carry: control characters a feed title may hold are dropped."""
    return _NOT_XML.sub("", text)


def opml_document(feeds: Iterable[ExportFeed], title: str, created: datetime) -> bytes:
    """An OPML 2.0 document (UTF-8, with its XML declaration) listing `feeds`."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = xml_safe(title)
    etree.SubElement(head, "dateCreated").text = format_datetime(created)
    body = etree.SubElement(root, "body")
    for feed in feeds:
        name = xml_safe(feed.title or feed.url)
        outline = etree.SubElement(body, "outline", type="rss", text=name, title=name)
        outline.set("xmlUrl", xml_safe(feed.url))
        if feed.html_url:
            outline.set("htmlUrl", xml_safe(feed.html_url))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def export_feeds(
    configured: Sequence[tuple[str, str]],
    added: Sequence[tuple[str, str, str | None]],
    page_links: dict[str, str | None],
) -> list[ExportFeed]:
    """bot.toml's feeds (url, name) then added ones (url, name, html_url), each once.

    An imported feed keeps the web page its OPML gave (an operator's list wins a
    round trip); otherwise it is the channel link a poll found (`page_links`).
    """
    out: list[ExportFeed] = []
    seen: set[str] = set()
    for url, name in configured:
        if url not in seen:
            seen.add(url)
            out.append(ExportFeed(url, name, page_links.get(url)))
    for url, name, html_url in added:
        if url not in seen:
            seen.add(url)
            out.append(ExportFeed(url, name, html_url or page_links.get(url)))
    return out
