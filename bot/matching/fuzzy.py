"""Finding names by spelling distance, from anchor words.

Why a module of its own: fuzzy matching is the costly and risky part. Each
alias's rarest distinctive words (and their one-letter deletions) are its
anchors in the index; only windows around a text word that hits an anchor
are scored, so the cost hardly grows with the watchlist, and each window must
start like the alias, not cross a full stop, stay within the alias's edit
budget and keep its direction words and numbers.
"""

from __future__ import annotations

from rapidfuzz.distance import OSA

from bot.matching.alias_index import Alias, AliasIndex, Hit
from bot.matching.mention import Field, Mention, make_match
from bot.matching.name_rules import (
    BREAK,
    DIRECTIONS,
    GENERIC_WORDS,
    MAX_INSERTED,
    capitalised,
    join_skeletons,
    same_start,
    signature,
)
from bot.matching.normalize import Tokens
from bot.matching.resolve import better


def fuzzy(index: AliasIndex, f: Field, skip: set[str]) -> list[Mention]:
    """The best fuzzy mention per entity not in `skip`, from windows around anchor hits."""
    best: dict[str, Mention] = {}
    tried: set[tuple[int, int, int, int]] = set()
    toks, skel = f.tokens, f.skel
    cased, folded, heads, n = toks.cased, toks.folded, f.word_heads(), len(skel)
    # Only words with the FUZZY bit (decided once per distinct word) have hits.
    for i in f.word_positions(index)[2]:
        right = heads[i + 1] if i + 1 < n else None
        right_up = right is not None and capitalised(cased[i + 1])
        left = heads[i - 1] if i > 0 else None
        left_up = left is not None and capitalised(cased[i - 1])
        for hit in index.hits_of(skel[i]):
            # neighbours_fit over the first letters the Hit carries: the word after
            # the anchor must start like the alias's next word, or be capitalised (a
            # middle name), or be absent from the alias; the word before must start
            # like one of the alias's one or two words before the anchor, or be
            # capitalised before a last word. (Tested here for every hit: cheaper,
            # even when the text repeats its contexts, than a cache of the hits that
            # pass per anchor and neighbours, which first had to be filled.)
            after, before = hit.after, hit.before
            if after is not None and (
                right is None or not (right_up or right == after or not right or not after)
            ):
                continue
            if before is not None and (
                left is None
                or not (left in before or not left or "" in before or (hit.last and left_up))
            ):
                continue
            alias = hit.alias
            if alias.entity.id in skip:
                continue
            pos, size = hit.pos, alias.size
            # The windows without inserted words, from the shapes the Hit carries.
            for off, span in hit.shapes:
                _try_window(index, hit, f, heads, i + off, i + off + span, 0, tried, best)
            if size >= 2:
                # The first inserted word gap_windows would check: most anchors
                # have none that can be a name, so no call is made for them.
                start = i - pos if pos < size - 1 else i - pos - 1
                if (
                    start >= 0
                    and start + size < n
                    and capitalised(cased[start + size - 1])
                    and folded[start + size - 1] not in GENERIC_WORDS
                    and folded[start + size - 1] not in DIRECTIONS
                ):
                    for start, end, gap in gap_windows(alias, i, pos, toks):
                        _try_window(index, hit, f, heads, start, end, gap, tried, best)
    return list(best.values())


def _try_window(
    index: AliasIndex,
    hit: Hit,
    f: Field,
    heads: list[str],
    start: int,
    end: int,
    gap: int,
    tried: set[tuple[int, int, int, int]],
    best: dict[str, Mention],
) -> None:
    """Score one window of `hit`'s alias (once per alias and window) and keep the
    entity's best mention in `best`.

    verify's first tests come inlined: the window starts (and, word for word, ends)
    like the alias, and a window of one or two words is not too long or too short for
    the alias's edit budget (two skeletons join to their summed length, or one less).
    They depend on the window alone, so they come before `tried`.
    """
    skel = f.skel
    if start < 0 or end > len(skel):
        return
    alias = hit.alias
    first, final = hit.first, hit.final
    if first and heads[start] and heads[start] != first:
        return
    picked = end - start - gap  # the words verify compares
    if picked == alias.size and final and heads[end - 1] and heads[end - 1] != final:
        return
    length, allowed = len(alias.joined), alias.allowed
    if picked == 1:
        if abs(len(skel[start]) - length) > allowed:
            return
    elif picked == 2:
        both = len(skel[start]) + len(skel[end - 1])
        if both - 1 - length > allowed or length - both > allowed:
            return
    key = (hit.index, start, end, gap)
    if key in tried:
        return
    tried.add(key)
    m = verify(index, alias, f, start, end, gap)
    if m is not None:
        current = best.get(m.entity_id)
        if current is None or better(m, current):
            best[m.entity_id] = m


def windows(alias: Alias, i: int, pos: int, toks: Tokens) -> list[tuple[int, int, int]]:
    """Text windows (start, end, inserted words) that could hold `alias`, anchored at i."""
    size, n = alias.size, len(toks)
    out = []
    # The alias's own length, or one word fewer when the text joins two of
    # its words (Hizbul for Hizb ul). A text that splits a word the alias
    # joins is only accepted exactly: "Khan now" must not be "Khano".
    for length in (size, size - 1):
        if length < 1:
            continue
        for start in {i - pos, i - pos + (size - length)}:
            if 0 <= start <= i < start + length <= n:
                out.append((start, start + length, 0))
    if size >= 2:  # a middle name inside: first words, inserted words, last word
        out.extend(gap_windows(alias, i, pos, toks))
    return out


def gap_windows(alias: Alias, i: int, pos: int, toks: Tokens) -> list[tuple[int, int, int]]:
    """The windows of `windows` with inserted words (a middle name), for aliases of 2+ words."""
    size, n = alias.size, len(toks)
    out = []
    if size >= 2:
        # Each further gap widens the window by one word on the same side, so
        # once it leaves the text or takes in a word that is no name, wider
        # gaps fail too: check only the word each gap adds, and stop there.
        cased, folded = toks.cased, toks.folded
        for gap in range(1, MAX_INSERTED + 1):
            if pos < size - 1:
                start = i - pos
                k = start + size - 2 + gap  # the inserted word this gap adds
            else:
                start = i - pos - gap
                k = start + size - 1
            end = start + size + gap
            if start < 0 or end > n:
                break
            # Inserted words must look like names: capitalised, not generic.
            if not (
                capitalised(cased[k])
                and folded[k] not in GENERIC_WORDS
                and folded[k] not in DIRECTIONS
            ):
                break
            out.append((start, end, gap))
    return out


def verify(
    index: AliasIndex, alias: Alias, f: Field, start: int, end: int, gap: int
) -> Mention | None:
    """The window's match if it is within the alias's edit budget and keeps its directions."""
    toks, skel = f.tokens, f.skel
    picked = [*range(start, end - 1 - gap), end - 1] if gap else list(range(start, end))
    # Word by word, a variant starts like the alias (cheap, so first).
    if len(picked) == alias.size:
        for k, w in zip(picked, alias.skel, strict=True):
            if not same_start(skel[k], w):
                return None
    elif not same_start(skel[start], alias.skel[0]):
        return None
    candidate = join_skeletons(skel[k] for k in picked)
    if abs(len(candidate) - len(alias.joined)) > alias.allowed:
        return None
    # OSA counts a swap of two letters as one edit (Nangrahar / Nangarhar).
    distance = OSA.distance(candidate, alias.joined, score_cutoff=alias.allowed)
    if distance > alias.allowed:
        return None
    if signature([toks.folded[k] for k in picked]) != alias.signature:
        return None
    # A name does not run across a full stop, comma or bracket. Tested last: it reads
    # the punctuation between words, which needs the words' offsets, and most
    # windows fail the tests above.
    text = f.text
    for k in range(start, end - 1):
        if BREAK.search(toks.between(k, text)):
            return None
    return make_match(alias, f, start, end, distance)


def neighbours_fit(alias: Alias, pos: int, i: int, toks: Tokens, skel: list[str]) -> bool:
    """A quick necessary condition before any window is scored.

    fuzzy() applies this rule inline, over the first letters each Hit carries,
    to save a call per candidate; this function is its readable form, and
    tests/test_match_prefilter.py checks the two agree.

    The words next to the anchor must start like the alias's words next to
    it, be a capitalised inserted name (a middle name), or hold a joined pair
    of the alias's words (Hizbul for Hizb ul).
    """
    size, n = alias.size, len(skel)
    if pos + 1 < size:
        if i + 1 >= n:
            return False
        if not (same_start(skel[i + 1], alias.skel[pos + 1]) or toks.cased[i + 1][:1].isupper()):
            return False
    if pos > 0:
        if i < 1:
            return False
        left = skel[i - 1]
        if not (
            same_start(left, alias.skel[pos - 1])
            or (pos > 1 and same_start(left, alias.skel[pos - 2]))
            or (pos == size - 1 and toks.cased[i - 1][:1].isupper())
        ):
            return False
    return True
