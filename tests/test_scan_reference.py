"""scan() made cheaper must stay byte-identical to the scan it replaced.

The reference below is the per-word implementation as it was before the
throughput work (issue 13): kept here, not in bot/, so the fast version is
always compared with the plain one on arbitrary text.
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching import normalize, unicode_marks
from bot.matching.normalize import (
    _APOSTROPHES,
    _ASCII_WORD,
    _POSSESSIVE,
    Tokens,
    _ascii,
    _script_class,
    scan,
)

# scan()'s word of any script, as the bot defines it (compiled there only when needed).
_WORD = re.compile(normalize._WORD_PATTERN)
_REFERENCE_ASCII_TEXT_WORD = re.compile(r"[A-Za-z0-9]+(?:['`][A-Za-z0-9]+)*|&")


def reference_scan(text: str) -> Tokens:
    """scan() as it was: one match object and one Python step per word."""
    if text.isascii():
        spans = [m.span() for m in _REFERENCE_ASCII_TEXT_WORD.finditer(text)]
        cased = [text[a:b] for a, b in spans]
        folded = [w.lower() for w in cased]
        if "&" in text or "'" in text or "`" in text:
            for k, w in enumerate(cased):
                if w == "&":
                    cased[k] = folded[k] = "and"
                elif "'" in w or "`" in w:
                    cased[k] = _APOSTROPHES.sub("", _POSSESSIVE.sub("", w))
                    folded[k] = cased[k].lower()
        return Tokens(folded, cased, [a for a, _ in spans], [b for _, b in spans], [0] * len(spans))
    out = Tokens()
    for m in _WORD.finditer(text):
        word = m.group()
        if word == "&":
            out.add("and", m.start(), m.end())
            continue
        word = _APOSTROPHES.sub("", _POSSESSIVE.sub("", word))
        if word.isascii():
            out.add(word, m.start(), m.end())
            continue
        ascii_word = _ascii(word)
        foreign = _script_class(word)
        if ascii_word.isalnum():
            out.add(ascii_word, m.start(), m.end(), foreign)
            continue
        for part in _ASCII_WORD.findall(ascii_word):
            out.add(part, m.start(), m.end(), foreign)
    return out


def _rows(t: Tokens) -> tuple[object, ...]:
    return t.rows()


# Characters scan() treats specially, over-represented so hypothesis meets them:
# apostrophes of all kinds, possessive s/S, "&", hyphens, newlines (the fast path
# joins words by newline), accents, combining marks, Cyrillic, Arabic, Devanagari,
# ligatures and full-width forms that NFKC rewrites, digits and underscores, white
# space str.split knows beyond ASCII, and a digit that is no ASCII digit.
_TRICKY = "aAsSzZ09_'’‘ʼ`&- \n\t.,«»éüçÅ\u0301\u0308ДжаКабулеپاکستانकिशनﬁＡ１ß\xa0\u3000\x1c²“—()·"
_TRICKY_TEXT = st.text(alphabet=st.sampled_from(_TRICKY), max_size=60)
_ASCII_TEXT = st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=80)
# ASCII only, dense in what ascii_words treats specially: apostrophes, "&", and the
# control characters str.split counts as whitespace (\x1c-\x1f) beside those it does not.
_ASCII_TRICKY_TEXT = st.text(
    alphabet=st.sampled_from("aAsS09'`&- \n\x1c\x1f\x00\x7f.,_"), max_size=60
)


@settings(derandomize=True, database=None, max_examples=300)
@given(st.one_of(st.text(max_size=80), _TRICKY_TEXT, _ASCII_TEXT, _ASCII_TRICKY_TEXT))
def test_scan_equals_reference_on_arbitrary_text(text: str) -> None:
    assert _rows(scan(text)) == _rows(reference_scan(text))


@settings(derandomize=True, database=None, max_examples=500)
@given(st.one_of(st.text(max_size=80), _TRICKY_TEXT, _ASCII_TRICKY_TEXT))
def test_words_are_the_word_pattern_s_matches(text: str) -> None:
    """Splitting at white space first, and searching only pieces with punctuation,
    finds exactly the words the pattern finds in the whole text."""
    assert normalize.words(text) == _WORD.findall(text)


@settings(derandomize=True, database=None, max_examples=500)
@given(st.one_of(_ASCII_TEXT, _ASCII_TRICKY_TEXT))
def test_ascii_words_are_the_word_pattern_s_matches(text: str) -> None:
    """The translate-and-split tokenizer finds exactly the regular expression's words."""
    assert normalize.ascii_words(text) == _REFERENCE_ASCII_TEXT_WORD.findall(text)


def test_scan_equals_reference_on_news_like_text() -> None:
    """The cases each fast path rewrites, spelled out (hypothesis may meet them late)."""
    for text in (
        "",
        "&",
        "Rahmon's & Karimov`s party's RAHMON'S rock'n'roll's a's",
        "Trade & Development\nline two & three",
        "Соглашение «Кабуле» & Rahmon’s visit to پاکستان",
        "Toká\u0301yev's ﬁnance Ｔａｌｉｂａｎ's",
        "Lashkar-e-Taiba, N Waziristan",
    ):
        assert _rows(scan(text)) == _rows(reference_scan(text)), text


def test_scan_caches_the_work_per_distinct_word_of_non_ascii_text() -> None:
    """News repeats its words: transliterating each occurrence again was the cost."""
    text = "Правительство Кабуле: правительство Кабуле, Dushanbé"
    scan(text)
    words = _WORD.findall(text)
    assert all(w in normalize._FORMS for w in words)
    cached = dict(normalize._FORMS)
    assert _rows(scan(text)) == _rows(reference_scan(text))
    assert cached == normalize._FORMS  # nothing worked out again


def test_non_ascii_word_cache_stays_bounded() -> None:
    for k in range(normalize.TEXT_WORD_CACHE + 500):
        scan(f"Кабул{k}é and Dushanbé")
        assert len(normalize._FORMS) <= normalize.TEXT_WORD_CACHE + 1
    assert _rows(scan("Кабул7é Dushanbé")) == _rows(reference_scan("Кабул7é Dushanbé"))


_NO_UNDERSCORE = st.text(
    alphabet=st.one_of(st.sampled_from(_TRICKY.replace("_", "")), st.characters()), max_size=80
).filter(lambda t: "_" not in t)


@settings(derandomize=True, database=None, max_examples=300)
@given(_NO_UNDERSCORE)
def test_word_runs_find_what_the_word_pattern_finds(text: str) -> None:
    """The character loop words() uses for a piece with punctuation finds exactly _WORD's
    words (and with "_" in the text too)."""
    assert normalize.word_runs(text) == _WORD.findall(text)
    assert normalize.word_runs(text + "_x_" + text) == _WORD.findall(text + "_x_" + text)


def test_the_stored_mark_class_is_what_unicodedata_says() -> None:
    """The class kept as data (start-up cost) must be this Python's, range for range."""
    assert unicode_marks.mark_class() == unicode_marks.computed_mark_class()
    if unicodedata.unidata_version == unicode_marks.UNIDATA_VERSION:
        assert unicode_marks.computed_mark_class() == unicode_marks.MARKS


@settings(derandomize=True, database=None, max_examples=300)
@given(st.one_of(st.text(max_size=80), _TRICKY_TEXT, _ASCII_TEXT, _ASCII_TRICKY_TEXT))
def test_between_is_the_text_between_two_tokens(text: str) -> None:
    """Tokens.between (offsets found only when asked) is the text between two tokens."""
    toks = scan(text)
    for k in range(len(toks) - 1):
        assert toks.between(k, text) == text[toks.ends[k] : toks.starts[k + 1]]
