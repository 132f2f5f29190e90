"""Stored-row conversions shared by both engines (bot/storage/rows.py)."""

from __future__ import annotations

import json
from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st

from bot.models import Match
from bot.storage.rows import matches_from, matches_json

_text = st.text(max_size=20)
_matches = st.builds(
    Match,
    entity_id=_text,
    entity_name=_text,
    kind=_text,
    severity=_text,
    alias=_text,
    text=_text,
    score=st.floats(allow_nan=False, allow_infinity=False),
    field=st.sampled_from(["title", "summary"]),
    start=st.integers(0, 10_000),
    end=st.integers(0, 10_000),
    how=st.sampled_from(["exact", "normalised", "variant", "transliterated", "fuzzy"]),
    candidates=st.lists(_text, max_size=3).map(tuple),
)


@given(st.lists(_matches, max_size=4))
def test_matches_json_is_asdicts_json_and_reads_back(matches: list[Match]) -> None:
    """The stored text is exactly what `asdict` gave before (rows already stored stay
    readable, and both engines write the same), and reads back to equal matches."""
    text = matches_json(matches)
    assert text == json.dumps([asdict(m) for m in matches], ensure_ascii=False)
    assert matches_from(text) == tuple(matches)
