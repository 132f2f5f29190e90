"""The matcher's output on bench/match_speed.py's generated corpus, pinned in a golden file.

Why: speeding up loading and matching (issue 13) must not change a single
match. bench/match_speed.py generates news and watchlists from a seed, so the
same seed gives the same text on every machine; the golden file holds every
match the matcher found on it before the speed work (one line per match:
item, field, entity, alias, quoted text, offsets, score, how). Regenerate it
only for a deliberate change of matching rules:
``python tests/test_match_golden.py > tests/data/match_golden/seed7.txt``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.matching.alias_index import all_prefixes
from bot.matching.matcher import Matcher
from bot.matching.name_rules import join_skeleton, join_skeletons
from bot.matching.normalize import letter_count
from bot.models import Entity

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "match_golden" / "seed7.txt"
SEED = 7
ITEMS = 1_500
SIZES = (1_000, 10_000)


def _bench() -> object:
    """bench/match_speed.py as a module (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("match_speed", ROOT / "bench" / "match_speed.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("match_speed", module)
    spec.loader.exec_module(module)
    return module


def match_lines() -> list[str]:
    """Every match on the generated corpus, one line each, for every watchlist size."""
    bench: object = _bench()
    drafts, vocab = bench.make_drafts(SEED, ITEMS)  # type: ignore[attr-defined]
    blocked = vocab.all_words()
    lines = []
    for size in SIZES:
        entities = bench.make_watchlist(SEED, size, blocked)  # type: ignore[attr-defined]
        items = bench.plant(drafts, entities, SEED, size)  # type: ignore[attr-defined]
        matcher = Matcher(entities)
        for n, item in enumerate(items):
            for m in matcher.match_text(item.title, item.summary):
                lines.append(
                    f"{size} {n} {m.field} {m.entity_id} {m.alias!r} {m.text!r} "
                    f"{m.start}-{m.end} {m.score} {m.how}"
                )
    return lines


def test_matches_on_the_bench_corpus_are_unchanged() -> None:
    expected = GOLDEN.read_text(encoding="utf-8").splitlines()
    got = match_lines()
    assert len(got) == len(expected)
    assert got == expected


if __name__ == "__main__":
    print("\n".join(match_lines()))


def test_loading_and_indexing_scan_each_phrase_once(tmp_path: Path) -> None:
    """Load + index build tokenise each alias once, not once per check (issue 13:
    2.8 s for 10,000 aliases, most of it the same scan repeated five times), and
    compute its forms once (alias_forms.forms), which the warnings and the index share."""
    from bot.matching.alias_forms import forms
    from bot.matching.normalize import phrase_words
    from bot.matching.watchlists import load_watchlists

    rows = []
    for k in range(40):
        rows.append(
            f'[[entity]]\nid = "e{k}"\nname = "Zarobod Kharpur {k}"\nkind = "group"\n'
            f'aliases = ["Lashkar-e-Hilal {k}", "TN{k}X", "Tashbulak Nusrat {k}"]\n'
        )
    (tmp_path / "w.toml").write_text("\n".join(rows), encoding="utf-8")
    phrase_words.cache_clear()
    forms.cache_clear()
    Matcher(load_watchlists(tmp_path))
    assert phrase_words.cache_info().misses == 40 * 4  # the name and three aliases
    info = forms.cache_info()
    assert info.misses == 40 * 4
    assert info.hits >= 40 * 4  # the index reads each (the warnings made them)


@given(st.text())
def test_letter_count_is_the_number_of_alphanumeric_characters(text: str) -> None:
    """letter_count (a regex, for speed) counts what str.isalnum counts, in any script."""
    assert letter_count(text) == sum(c.isalnum() for c in text)


@given(st.lists(st.text(alphabet="abkhl-1", max_size=5), max_size=6))
def test_join_skeletons_merges_doubled_letters_at_seams_only(words: list[str]) -> None:
    expected = ""
    for w in words:
        expected = join_skeleton(expected, w)
    assert join_skeletons(words) == expected


def test_vowel_less_script_matches_whether_or_not_latin_text_came_first() -> None:
    """The consonant keys for vowel-less script are built on first use (not with the
    index): a matcher that saw Latin text first finds the same as a fresh one."""
    entities = [Entity("modi", "Narendra Modi", "person"), Entity("kabul", "Kabul", "region")]
    text = "नरेंद्र मोदी ने कहा"
    fresh = Matcher(entities).match_text(text)
    used = Matcher(entities)
    assert [m.entity_id for m in used.match_text("Kabul talks")] == ["kabul"]
    assert used.match_text(text) == fresh
    assert [(m.entity_id, m.how, m.text) for m in fresh] == [("modi", "fuzzy", "नरेंद्र मोदी")]


def test_index_build_leaves_the_vowel_less_keys_for_later() -> None:
    """Building the index for Latin-script desks skips the consonant deletion keys."""
    index = Matcher([Entity("modi", "Narendra Modi", "person")])._index
    assert index._consonant_variants is None
    assert index.consonant_variants["nrndrmd"] == [0]


@given(st.sets(st.text(alphabet="abc", max_size=6)))
def test_all_prefixes_is_every_beginning_of_every_form(forms: set[str]) -> None:
    expected = {form[:k] for form in forms for k in range(1, len(form) + 1)}
    assert all_prefixes(forms) == expected
