"""Formatting shared by chat adapters: matched spans highlighted, excerpts cut cleanly."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.models import Match


def cut(text: str, limit: int, mend: Callable[[str], str] = lambda s: s) -> str:
    """Shorten to `limit` characters at a word boundary, with an ellipsis.

    `mend` repairs what the cut may have split in a platform's escaping (a
    trailing backslash on Discord, half an `&entity;` on Slack).
    """
    if len(text) <= limit:
        return text
    text = text[: limit - 1]
    space = text.rfind(" ")
    if space > limit // 2:
        text = text[:space]
    return mend(text) + "…"


def spans_in(matches: Iterable[Match], field: str) -> list[tuple[int, int]]:
    """Merged, sorted character spans of the matches found in one field."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((m.start, m.end) for m in matches if m.field == field):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(
    text: str,
    spans: list[tuple[int, int]],
    before: str,
    after: str,
    escape: Callable[[str], str] = lambda s: s,
) -> str:
    """Wrap each span in before/after markers; every other piece goes through `escape`.

    Escaping piece by piece keeps hostile text from closing our markers.
    """
    out, pos = [], 0
    for start, end in spans:
        if start < pos or end > len(text):
            continue
        out += [escape(text[pos:start]), before, escape(text[start:end]), after]
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def excerpt(
    text: str, spans: list[tuple[int, int]], width: int
) -> tuple[str, list[tuple[int, int]]]:
    """At most `width` characters of text around its first span, with spans re-based.

    Cut at word boundaries with an ellipsis, so a long summary still shows why
    it matched.
    """
    if len(text) <= width:
        return text, spans
    first = spans[0][0] if spans else 0
    start = max(0, min(first - width // 3, len(text) - width))
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    end = min(len(text), start + width - 2)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    prefix = "…" if start else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - start
    kept = [(s + shift, e + shift) for s, e in spans if s >= start and e <= end]
    return prefix + text[start:end] + suffix, kept
