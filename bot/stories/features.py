"""A story member's profile as stored text, so start-up loads it instead of reading the text again.

Reading an item (`profile`) is the costly part of rebuilding the story index:
about 0.4 ms an item, for every matched item within the story window, at every
start. The pipeline stores the profile with the item when it joins a story
(`dump`), and the rebuild loads it (`load`). Storage only keeps the text; what
it means is decided here.

`FORMAT` names the rules that made a profile: change it whenever `profile`
(or the words it relies on) reads an item differently, so that profiles stored
by older rules are read again from the text rather than trusted (`load` returns
None for them, and for items stored before features were kept).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from sys import intern
from typing import Any

from bot.stories.member import Member
from bot.stories.profile import Profile

#: Bump when `profile` would read a stored item differently (see the module docstring).
FORMAT = 1

_SETS = ("title", "body", "context", "names", "title_names", "places", "events")


def dump(profile: Profile) -> str:
    """The profile as compact JSON: the fields `Profile` is built from, sets sorted."""
    data: dict[str, Any] = {"v": FORMAT}
    for name in _SETS:
        data[name] = sorted(getattr(profile, name))
    data["briefing"] = profile.briefing
    data["unspecified_attack"] = profile.unspecified_attack
    data["surface"] = dict(profile.surface)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def load(text: str | None) -> Profile | None:
    """The stored profile, or None if there is none, it was made by other rules, or it is
    damaged: the caller then reads the item's text again."""
    try:
        stored = _stored(text)
        if stored is None:
            return None
        data, sets = stored
        surface = data["surface"]
        if type(surface) is not dict:
            return None
        surface = {intern(k): intern(v) for k, v in surface.items()}
        return Profile(
            **sets,
            briefing=bool(data["briefing"]),
            unspecified_attack=bool(data["unspecified_attack"]),
            surface=surface,
        )
    except (ValueError, KeyError, TypeError):
        return None


def member(
    text: str | None, key: str, story: str, when: datetime | None, entities: Iterable[str]
) -> Member | None:
    """The index's member for a stored profile, built straight from it (no `Profile` or
    `StoryItem` in between: that was most of the rebuild's time); None as for `load`."""
    try:
        stored = _stored(text)
        if stored is None:
            return None
        data, sets = stored  # the sets as `load` makes them: the same order, the same sums
        return Member.stored(
            key,
            story,
            when,
            entities,
            sets,
            bool(data["briefing"]),
            bool(data["unspecified_attack"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def _stored(text: str | None) -> tuple[dict[str, Any], dict[str, frozenset[str]]] | None:
    """The stored profile's data and word sets, or None (none, other rules' format).

    Raises ValueError, KeyError or TypeError for a damaged one (the callers' None).
    Interned: the same words recur across the thousands of profiles kept in the story
    index, and one shared string each instead of a copy per profile was a third of the
    index's memory (bench/startup.py --run).
    """
    if not text:
        return None
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("v") != FORMAT:
        return None
    return data, {name: _set(_strings(data[name])) for name in _SETS}


_EMPTY: frozenset[str] = frozenset()


def _set(words: list[str]) -> frozenset[str]:
    """The words as a set, interned; every empty one is the same (each costs 216 bytes)."""
    return frozenset(map(intern, words)) if words else _EMPTY


def _strings(value: object) -> list[str]:
    """The list as stored. Its elements are not checked one by one: that cost as much as
    the rest of loading, and only this module writes them."""
    if type(value) is not list:
        raise TypeError("not a list")
    return value
