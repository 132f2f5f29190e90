"""The digest's chart: mentions per day over the last 7 days, one line per top entity.

Rendered with Pillow into PNG bytes: no display, no matplotlib, no files. The
same input gives the same bytes (no timestamps or random colours), so a retried
post uploads an identical attachment and tests can compare outputs.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Pillow is imported when a chart is drawn, not at every start-up
    from PIL import ImageDraw, ImageFont

    Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

TITLE = "Mentions per day, last 7 days"
MAX_SERIES = 5
MAX_NAME_CHARS = 40

# Okabe–Ito colours: distinguishable with the common kinds of colour blindness.
COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 114, 178),  # blue
    (213, 94, 0),  # vermillion
    (0, 158, 115),  # bluish green
    (204, 121, 167),  # reddish purple
    (230, 159, 0),  # orange
)
_INK = (40, 40, 40)
_GRID = (225, 225, 225)
_AXIS = (120, 120, 120)
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Drawn at twice the size and scaled down: Pillow's lines have no anti-aliasing.
_SCALE = 2


def render_chart(
    days: Sequence[date],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    width: int = 800,
    height: int = 400,
) -> bytes:
    """PNG bytes of a line chart: one point per day in `days`, one line per series.

    `series` pairs an entity's name with its counts per day (same length as
    `days`); only the `MAX_SERIES` largest by total are drawn, largest first in
    the legend, so a busy week stays readable. Names are untrusted text: drawn as they are,
    on one line, cut to fit the legend.
    """
    if width < 200 or height < 150:
        raise ValueError("the chart needs at least 200×150 pixels")
    if not days:
        raise ValueError("the chart needs at least one day")
    for name, counts in series:
        if len(counts) != len(days):
            raise ValueError(f"{len(counts)} counts for {len(days)} days in series {name!r}")
    from PIL import Image, ImageDraw

    # Stable: ties keep the caller's order, so the caller decides how they break.
    top = sorted(series, key=lambda s: -sum(s[1]))[:MAX_SERIES]

    w, h = width * _SCALE, height * _SCALE
    image = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(image)
    small = _font(11 * _SCALE)
    big = _font(14 * _SCALE)

    pad = 10 * _SCALE
    draw.text((pad, pad), TITLE, font=big, fill=_INK)
    legend_width = min(w // 3, 200 * _SCALE) if top else 0
    peak = max((max(counts, default=0) for _, counts in top), default=0)
    ticks = _ticks(peak)
    label_width = max(draw.textlength(str(t), font=small) for t in ticks)

    left = pad + int(label_width) + 6 * _SCALE
    right = w - pad - legend_width
    top_y = pad + 30 * _SCALE
    bottom = h - pad - 20 * _SCALE
    _draw_axes(draw, days, ticks, (left, top_y, right, bottom), small)
    # The busiest entity last, so its line is on top where lines cross.
    for index, (_, counts) in reversed(list(enumerate(top))):
        _draw_series(draw, counts, ticks[-1], (left, top_y, right, bottom), COLOURS[index])
    if top:
        _draw_legend(draw, [name for name, _ in top], (right + pad, top_y), w - pad, small)

    image = image.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def day_label(day: date) -> str:
    """ "Thu 19": English, whatever the process locale, so output is reproducible."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day}"


def _font(size: int) -> Font:
    """Pillow's bundled font at `size` (Pillow ≥ 10.1 with FreeType), else its bitmap font."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # older Pillow, or built without FreeType
        return ImageFont.load_default()


def _ticks(peak: int) -> list[int]:
    """0 up to a round number ≥ `peak`, in 1/2/5×10ⁿ steps, at most 6 ticks."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if -(-max(peak, 1) // (step * factor)) <= 5:
                size = step * factor
                top = -(-max(peak, 1) // size) * size
                return list(range(0, top + 1, size))
        step *= 10


def _x(index: int, count: int, left: int, right: int) -> float:
    """Days sit in the middle of equal slots, so a single day is centred."""
    slot = (right - left) / count
    return left + slot * (index + 0.5)


def _y(value: int, top_value: int, top: int, bottom: int) -> float:
    return bottom - (bottom - top) * value / top_value


def _draw_axes(
    draw: ImageDraw.ImageDraw,
    days: Sequence[date],
    ticks: Sequence[int],
    box: tuple[int, int, int, int],
    font: Font,
) -> None:
    left, top, right, bottom = box
    for tick in ticks:
        y = _y(tick, ticks[-1], top, bottom)
        draw.line([(left, y), (right, y)], fill=_GRID, width=_SCALE)
        label = str(tick)
        x = left - 6 * _SCALE - draw.textlength(label, font=font)
        _, label_top, _, label_bottom = draw.textbbox((0, 0), label, font=font)
        draw.text((x, y - (label_top + label_bottom) / 2), label, font=font, fill=_INK)
    draw.line([(left, top), (left, bottom), (right, bottom)], fill=_AXIS, width=_SCALE)
    for index, day in enumerate(days):
        x = _x(index, len(days), left, right)
        label = day_label(day)
        tx = x - draw.textlength(label, font=font) / 2
        draw.text((tx, bottom + 5 * _SCALE), label, font=font, fill=_INK)


def _draw_series(
    draw: ImageDraw.ImageDraw,
    counts: Sequence[int],
    top_value: int,
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int],
) -> None:
    left, top, right, bottom = box
    points = [
        (_x(i, len(counts), left, right), _y(n, top_value, top, bottom))
        for i, n in enumerate(counts)
    ]
    if len(points) > 1:
        draw.line(points, fill=colour, width=3 * _SCALE, joint="curve")
    r = 4 * _SCALE
    for x, y in points:
        draw.ellipse([(x - r, y - r), (x + r, y + r)], fill=colour)


def _draw_legend(
    draw: ImageDraw.ImageDraw,
    names: Sequence[str],
    origin: tuple[int, int],
    limit: int,
    font: Font,
) -> None:
    x, y = origin
    box = 10 * _SCALE
    for index, name in enumerate(names):
        draw.rectangle([(x, y + 2 * _SCALE), (x + box, y + 2 * _SCALE + box)], fill=COLOURS[index])
        text = _fit(_one_line(name, font), font, draw, limit - (x + box + 6 * _SCALE))
        draw.text((x + box + 6 * _SCALE, y), text, font=font, fill=_INK)
        y += 20 * _SCALE


def _is_ft(font: Font) -> bool:
    from PIL import ImageFont

    return isinstance(font, ImageFont.FreeTypeFont)


def _ellipsis(font: Font) -> str:
    return "…" if _is_ft(font) else "..."


def _one_line(name: str, font: Font) -> str:
    """The name on one line: control characters (newlines included) become spaces.

    The bitmap fallback font only knows Latin-1; other characters become "?"
    there rather than failing the whole digest.
    """
    cleaned = "".join(" " if unicodedata.category(c) == "Cc" else c for c in name)
    cleaned = re.sub(r"\s+", " ", cleaned).strip() or "?"
    if not _is_ft(font):
        cleaned = cleaned.encode("latin-1", "replace").decode("latin-1")
    if len(cleaned) > MAX_NAME_CHARS:
        cleaned = cleaned[: MAX_NAME_CHARS - 1].rstrip() + _ellipsis(font)
    return cleaned


def _fit(text: str, font: Font, draw: ImageDraw.ImageDraw, width: float) -> str:
    """Cut `text` with an ellipsis until it fits in `width` pixels."""
    ellipsis = _ellipsis(font)
    if draw.textlength(text, font=font) <= width:
        return text
    while len(text) > 1 and draw.textlength(text + ellipsis, font=font) > width:
        text = text[:-1]
    return text.rstrip() + ellipsis
