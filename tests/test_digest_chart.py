"""bot.digest.chart: a valid PNG of the expected size, the same bytes for the same input."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from PIL import Image, ImageFont

from bot.digest import chart
from bot.digest.chart import COLOURS, day_label, render_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DAYS = [date(2026, 11, 19) + timedelta(days=n) for n in range(7)]
SERIES = [
    ("ISKP", [1, 4, 2, 8, 5, 7, 3]),
    ("Tajikistan", [0, 1, 0, 2, 3, 1, 0]),
    ("Kabul", [2, 2, 2, 2, 2, 2, 2]),
]
HOSTILE = [
    ("😀🔥 Daesh 🏴", [0, 1, 2, 3, 4, 5, 6]),
    ("الدولة الإسلامية – ولاية خراسان", [6, 5, 4, 3, 2, 1, 0]),  # RTL
    ("x" * 500, [1, 1, 1, 1, 1, 1, 1]),
    ("line\nbreak\x00\x1b[31mred\u202eevil", [2, 0, 2, 0, 2, 0, 2]),
    ("", [0, 0, 0, 0, 0, 0, 9]),
]


def open_png(data: bytes) -> Image.Image:
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    return image


@pytest.mark.parametrize(("width", "height"), [(800, 400), (640, 320), (1200, 500), (200, 150)])
def test_a_valid_png_of_the_requested_size(width: int, height: int) -> None:
    image = open_png(render_chart(DAYS, SERIES, width=width, height=height))
    assert image.size == (width, height)


def test_default_size() -> None:
    assert open_png(render_chart(DAYS, SERIES)).size == (800, 400)


def test_same_input_same_bytes() -> None:
    assert render_chart(DAYS, SERIES) == render_chart(DAYS, [(n, list(c)) for n, c in SERIES])


def test_different_input_different_bytes() -> None:
    assert render_chart(DAYS, SERIES) != render_chart(DAYS, SERIES[:2])


def test_each_entity_has_its_own_colour() -> None:
    image = open_png(render_chart(DAYS, SERIES)).convert("RGB")
    colours = {rgb for _, rgb in image.getcolors(maxcolors=1 << 20)}
    for colour in COLOURS[: len(SERIES)]:
        assert colour in colours
    assert COLOURS[len(SERIES)] not in colours


def test_only_the_top_five_are_drawn() -> None:
    herat, kunduz, mazar = (
        ("Herat", [0] * 6 + [1]),
        ("Kunduz", [9] + [0] * 6),
        ("Mazar", [1] * 4 + [0] * 3),
    )
    six = [*SERIES, herat, kunduz, mazar]
    iskp, tajikistan, kabul = SERIES
    # By 7-day total: 30, 14, 9, 7, 4; Herat (1) is left out.
    assert render_chart(DAYS, six) == render_chart(DAYS, [iskp, kabul, kunduz, tajikistan, mazar])
    assert render_chart(DAYS, six) != render_chart(DAYS, [iskp, kabul, kunduz, tajikistan, herat])


def test_hostile_names_still_render() -> None:
    image = open_png(render_chart(DAYS, HOSTILE))
    assert image.size == (800, 400)


def test_without_freetype_the_bitmap_font_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow without FreeType (or older than 10.1) has only a Latin-1 bitmap font."""
    bitmap = ImageFont.load_default_imagefont()

    def load_default(size: float | None = None) -> ImageFont.ImageFont:
        if size is not None:
            raise TypeError("load_default() got an unexpected keyword argument 'size'")
        return bitmap

    monkeypatch.setattr(ImageFont, "load_default", load_default)  # chart imports it late
    image = open_png(render_chart(DAYS, [*HOSTILE[:3], ("Ünïcødé Ω", [1] * 7)]))
    assert image.size == (800, 400)


@pytest.mark.parametrize(
    "series",
    [
        [],  # nothing to draw: axes only
        [("ISKP", [0] * 7)],
        [("ISKP", [10_000, 0, 0, 0, 0, 0, 1])],
    ],
)
def test_edge_values(series: list[tuple[str, list[int]]]) -> None:
    assert open_png(render_chart(DAYS, series)).size == (800, 400)


def test_a_single_day() -> None:
    assert open_png(render_chart(DAYS[:1], [("ISKP", [3])])).size == (800, 400)


@pytest.mark.parametrize(
    ("days", "series", "kw", "match"),
    [
        (DAYS, [("ISKP", [1, 2])], {}, "2 counts for 7 days"),
        ([], [], {}, "at least one day"),
        (DAYS, SERIES, {"width": 100}, "at least"),
        (DAYS, SERIES, {"height": 100}, "at least"),
    ],
)
def test_bad_input(days, series, kw, match) -> None:
    with pytest.raises(ValueError, match=match):
        render_chart(days, series, **kw)


def test_day_labels_are_english_weekday_and_day() -> None:
    assert [day_label(d) for d in DAYS[:3]] == ["Thu 19", "Fri 20", "Sat 21"]


def test_ticks_are_round_numbers() -> None:
    assert chart._ticks(0) == [0, 1]
    assert chart._ticks(3) == [0, 1, 2, 3]
    assert chart._ticks(8) == [0, 2, 4, 6, 8]
    assert chart._ticks(9) == [0, 2, 4, 6, 8, 10]
    assert chart._ticks(23) == [0, 5, 10, 15, 20, 25]
    assert chart._ticks(10_000) == [0, 2000, 4000, 6000, 8000, 10000]
