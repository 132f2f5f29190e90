"""bot.toml parsed once at start, though two readers need it before and after logging.

Why a module of its own: the log set-up reads the config first (bot/redact.py's
prescan: log format, secrets to hide) and the config loader (bot/config_values.py's
read_toml) reads the same bytes again; each sits on one side of the other's imports,
so the parse they share is kept here, below both.
"""

from __future__ import annotations

from typing import Any

#: A parse made before the config is loaded, handed to the loader (`hand_over_toml`).
_handed_over: tuple[bytes, dict[str, Any]] | None = None


def hand_over_toml(raw: bytes, data: dict[str, Any]) -> None:
    """Keep `data`, parsed from `raw`, for the next `read_toml` of the same bytes.

    Why: the log set-up reads bot.toml before the config is loaded (bot/redact.py's
    prescan) and the loader read the same bytes again: ~6 ms of CPU at every start
    with 1,000 feeds. Handed over once: the loader takes it (and may change it), and
    a file changed in between does not match and is parsed again.
    """
    global _handed_over
    _handed_over = (raw, data)


def take_handed_over(raw: bytes) -> dict[str, Any] | None:
    """The parse handed over for exactly these bytes, once; None otherwise."""
    global _handed_over
    handed, _handed_over = _handed_over, None
    return handed[1] if handed is not None and handed[0] == raw else None
