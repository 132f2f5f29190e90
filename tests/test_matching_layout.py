"""The shape of bot/matching: small modules of one idea, the Matcher facade on top.

Issue 14 asks that no module grow past ~600 lines; matcher.py had reached 942
and was split by idea (name rules, alias index, exact and fuzzy finders,
plausibility rules, the facade). These tests keep it that way: a module that
outgrows the limit, or an engine piece that reaches back up into the facade
(a circle in the making), fails here with the file named.
"""

from __future__ import annotations

import ast
from pathlib import Path

MATCHING = Path(__file__).resolve().parent.parent / "bot" / "matching"
MAX_LINES = 600

# The pieces the facade (matcher.py) puts together; none of them may import it.
ENGINE_PIECES = ("name_rules", "alias_index", "mention", "exact", "fuzzy", "plausible")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_every_matching_module_is_under_the_line_limit() -> None:
    too_long = {
        path.name: lines
        for path in sorted(MATCHING.glob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"split these modules of bot/matching (lines > {MAX_LINES}): {too_long}"


def test_the_engine_pieces_exist_and_do_not_import_the_facade() -> None:
    for name in ENGINE_PIECES:
        path = MATCHING / f"{name}.py"
        assert path.is_file(), f"bot/matching/{name}.py is missing"
        assert "bot.matching.matcher" not in imported_modules(path), (
            f"bot/matching/{name}.py imports bot.matching.matcher: the facade sits on top; "
            "import what you need from the piece that defines it"
        )


def test_the_facade_still_exports_what_callers_import() -> None:
    """Callers (bot/, tests/, bench/) import these names from bot.matching.matcher."""
    from bot.matching import matcher

    for name in ("Matcher", "is_strict", "allowed_edits", "fuzzy_score", "PERSON"):
        assert hasattr(matcher, name), f"bot.matching.matcher no longer exports {name}"
