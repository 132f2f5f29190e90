"""Flood control: how many top-level alerts a channel may get per window (pure).

A window opens with the first top-level alert after the last one closed and
lasts `window` seconds. Up to `cap` alerts post normally; later ones are held
and, when the window ends, posted together as one summary. "High" alerts are
never held (they still count), and replies in a story's thread never count:
they don't ping the channel. Fixed windows (not sliding) mean a sustained
flood gives `cap` alerts and one summary per window, never a summary a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Admission:
    send: bool
    window_start: datetime | None  # the window this decision falls in (None: cap off)


def admit(
    now: datetime,
    window_start: datetime | None,
    posted: int,
    *,
    cap: int,
    window: float,
    severity: str,
) -> Admission:
    """May a top-level alert post now, given the window and what it already holds?"""
    if cap <= 0:
        return Admission(True, None)
    if window_start is None or now >= window_start + timedelta(seconds=window):
        window_start, posted = now, 0
    return Admission(severity == "high" or posted < cap, window_start)


def window_end(window_start: datetime | None, window: float) -> datetime | None:
    return None if window_start is None else window_start + timedelta(seconds=window)
