"""Finding names by exact lookups of their indexed forms.

Why a module of its own: these finders never score a distance (but one
consonant off in vowel-less script, looked up by deletion keys): every
window they report is a form the index holds. They run first; the fuzzy
search (fuzzy.py) only looks for entities these did not find.
"""

from __future__ import annotations

from rapidfuzz.distance import OSA

from bot.matching.alias_index import AliasIndex, ForeignForms
from bot.matching.mention import Field, Mention, make_match
from bot.matching.name_rules import (
    CACHE_LIMIT,
    DROPPABLE,
    MIN_FUZZY_CONSONANTS,
    SUBUNIT_WORDS,
    TRAILING_GENERIC,
    capitalised,
    deletions,
    join_skeleton,
)
from bot.matching.normalize import CONSONANTAL
from bot.matching.spelling import (
    LINK_WORDS,
    consonants,
    skeleton,
    stems,
    surname_stem,
    vowel_class,
    vowels_close,
)


def exact_mentions(index: AliasIndex, f: Field) -> list[Mention]:
    """Every mention an index lookup finds in a field, before any plausibility rule.

    Acronyms by their cased words; longer names by joined skeletons of one
    word and more (also without a generic last word or connecting words);
    then transliterated words, reversed person names, spelling families and
    literal risky aliases.
    """
    found: list[Mention] = []
    toks, skel, text = f.tokens, f.skel, f.text
    cased, folded = toks.cased, toks.folded
    strict, prefixes, starts = index.strict, index.prefixes, index.starts
    n = len(toks)
    strict_heads = index.strict_heads
    # Only the words that may begin a name (AliasIndex.word_bits): most words of a
    # text neither start an indexed name nor can start an acronym.
    for i in f.word_positions(index)[0]:
        # Acronyms and short aliases: the cased words, exactly. Only a word
        # that begins one (index.strict_heads) can, hyphens or not, so the
        # separator after a word is read for those alone.
        c = cased[i]
        if c in strict_heads and (c in strict or (i + 1 < n and toks.hyphen_after(i, text))):
            found.extend(strict_at(index, f, i))
        # Longer aliases: the joined skeletons of 1..k words, exactly.
        word = skel[i]
        if word not in starts or word not in prefixes:
            continue
        # The first word alone, unrolled from the loop below (most candidates
        # stop after it): joined and bare are the word itself, never dropped.
        for a in index.joined.get(word, ()):
            found.append(make_match(index.aliases[a], f, i, i + 1, 0))
        if word in index.shortened and (
            i + 1 == n or folded[i + 1] not in TRAILING_GENERIC or folded[i + 1] in SUBUNIT_WORDS
        ):
            for a in index.shortened[word]:
                found.append(make_match(index.aliases[a], f, i, i + 1, 0))
        # The loop's first step, unrolled: most words begin no longer form
        # with the next word (and the next is no connecting word), and then
        # the loop would stop at once.
        if i + 1 == n or (
            folded[i + 1] not in DROPPABLE and join_skeleton(word, skel[i + 1]) not in prefixes
        ):
            continue
        joined, bare, interior, linked = word, word, False, False
        for j in range(i + 1, min(n, i + index.max_words)):
            joined = join_skeleton(joined, skel[j])
            droppable = folded[j] in DROPPABLE
            bare_next = bare if droppable else join_skeleton(bare, skel[j])
            if joined not in prefixes and bare_next not in prefixes:
                break
            for a in index.joined.get(joined, ()):
                found.append(make_match(index.aliases[a], f, i, j + 1, 0))
            # Without its generic last word, unless another one follows
            # (Balochistan Liberation Front is not ...Liberation Army).
            if joined in index.shortened and (
                j + 1 == n
                or folded[j + 1] not in TRAILING_GENERIC
                or folded[j + 1] in SUBUNIT_WORDS
            ):
                for a in index.shortened[joined]:
                    found.append(make_match(index.aliases[a], f, i, j + 1, 0))
            # The same name with its connecting words (al, ul, e) left out.
            if droppable:
                interior = True
                linked = linked or folded[j] in LINK_WORDS
                continue
            bare = bare_next
            if interior:
                for a, words in index.noconn.get(bare, ()):
                    if words >= 3 or not linked:
                        found.append(make_match(index.aliases[a], f, i, j + 1, 0))
            else:  # the text leaves out the connecting words the alias has
                for a in index.dropped.get(bare, ()):
                    found.append(make_match(index.aliases[a], f, i, j + 1, 0))
    if toks.any_foreign():
        found.extend(foreign(index, f))
    if index.reversed:
        found.extend(reversed_names(index, f))
    if (index.surnames or index.vowel_forms) and f.word_positions(index)[1]:
        found.extend(variants(index, f))
    if index.literal:
        found.extend(literal_at(index, f))
    return found


def reversed_names(index: AliasIndex, f: Field) -> list[Mention]:
    """A person's name written family name first, after a comma: "Ahmadi, Said"."""
    toks, skel, text = f.tokens, f.skel, f.text
    n, found = len(toks), []
    # Most texts: no comma (titles), or no word that ends a reversed name.
    if "," not in text:
        return []
    for k in f.word_positions(index)[3]:
        if k + 1 >= n or toks.between(k, text).strip() != ",":
            continue
        for a in index.reversed[skel[k]]:
            alias = index.aliases[a]
            given = alias.size - 1
            end = k + 1 + given
            if end > n or tuple(skel[k + 1 : end]) != alias.skel[:-1]:
                continue
            if all(capitalised(toks.cased[x]) for x in range(k, end)):
                found.append(make_match(alias, f, k, end, 0))
    return found


def variants(index: AliasIndex, f: Field) -> list[Mention]:
    """Spelling families of names, tried only from capitalised words.

    * A person's family name with or without its Russian-era ending
      (Islam Karim = Islam Karimov, Emomali Rahmonov = Emomali Rahmon),
      the given names exactly; never for a one-word alias, so Ali is not Aliyev.
    * A name whose vowels (and Pashto sh/kh) differ: Osama bin Laden,
      Mohammed Yunus, Pukhtun, when the name has consonants enough.
    """
    toks, skel = f.tokens, f.skel
    cased, n = toks.cased, len(toks)
    found: list[Mention] = []
    cache = index.vowel_cache
    if len(cache) > CACHE_LIMIT:
        cache.clear()
    # Only words that can begin a family are visited (the VARIANT bit,
    # decided once per distinct word); the rest of a text never reaches the loop.
    for i in f.word_positions(index)[1]:
        if not capitalised(cased[i]) or toks.foreign[i]:
            continue
        word = skel[i]
        for a in index.surnames.get(surname_stem(word), ()):
            alias = index.aliases[a]
            start = i - alias.size + 1
            if word != alias.skel[-1] and start >= 0 and tuple(skel[start:i]) == alias.skel[:-1]:
                found.append(make_match(alias, f, start, i + 1, 0))
        if not index.vowel_forms:
            continue
        vowels = cache.get(word)
        if vowels is None:
            vowels = cache[word] = vowel_class(word)
        if vowels not in index.vowel_starts:
            continue
        form = vowels
        vowel_prefixes = index.vowel_prefixes
        # A vowel form matches only a name of as many words (alias.size below).
        for j in range(i, min(n, i + index.vowel_words)):
            if j > i:
                if toks.foreign[j]:
                    break
                following = cache.get(skel[j])
                if following is None:
                    following = cache[skel[j]] = vowel_class(skel[j])
                form = join_skeleton(form, following)
                # A join only lengthens the form: once no vowel form begins
                # with it, none of the longer windows can match either.
                if form not in vowel_prefixes:
                    break
            for a in index.vowel_forms.get(form, ()):
                alias = index.aliases[a]
                if alias.size == j - i + 1 and vowels_close(skel[i : j + 1], alias.skel):
                    found.append(make_match(alias, f, i, j + 1, 0))
    return found


def literal_at(index: AliasIndex, f: Field) -> list[Mention]:
    """Risky aliases with symbols (C++): the text exactly as written, word-bounded."""
    found = []
    for a, pattern in index.literal:
        alias = index.aliases[a]
        e = alias.entity
        for hit in pattern.finditer(f.text):
            found.append(
                Mention(
                    e.id,
                    e.name,
                    e.kind,
                    e.severity,
                    alias.text,
                    hit.group(),
                    100.0,
                    f.name,
                    hit.start(),
                    hit.end(),
                    "exact",
                )
            )
    return found


def strict_at(index: AliasIndex, f: Field, i: int) -> list[Mention]:
    """Acronyms starting at word i, also spelled with hyphens between letters (K-P)."""
    toks, text, found = f.tokens, f.text, []
    n = len(toks)
    for a in index.strict.get(toks.cased[i], ()):
        alias = index.aliases[a]
        j = i + alias.size
        if tuple(toks.cased[i:j]) == alias.cased:
            found.append(make_match(alias, f, i, j, 0))
    j, spelled = i, toks.cased[i]
    while j + 1 < n and toks.hyphen_after(j, text):
        j += 1
        spelled += toks.cased[j]
        for a in index.strict_joined.get(spelled, ()):
            if index.aliases[a].size != j - i + 1:
                found.append(make_match(index.aliases[a], f, i, j + 1, 0))
    return found


def foreign(index: AliasIndex, f: Field) -> list[Mention]:
    """Words transliterated from another script: case endings and missing vowels.

    Russian inflects names (Кабуле → "kabule" for Kabul), and Arabic script
    writes few vowels (پاکستان → "pkstn"): such windows are compared by
    stem and by consonants, only where every word came from another script.
    """
    toks, skel = f.tokens, f.skel
    n = len(toks)
    found: list[Mention] = []
    # Each transliterated word's stems (skeleton, consonants) and its consonants, once
    # per field (the windows below visit a word once for every start before it), from
    # a cache per distinct word on the index (news repeats its words).
    cache = index.foreign_forms
    forms: dict[int, ForeignForms] = {}
    for j in range(n):
        if toks.foreign[j]:
            folded = toks.folded[j]
            word_forms = cache.get(folded)
            if word_forms is None:
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                stem_forms = [(skeleton(stem), consonants(stem)) for stem in stems(folded)]
                word_forms = cache[folded] = (stem_forms, consonants(folded))
            forms[j] = word_forms
    for i in range(n):
        if not toks.foreign[i]:
            continue
        joined, bare = "", ""
        for j in range(i, min(n, i + index.max_words)):
            if not toks.foreign[j]:
                break
            stem_forms, word_consonants = forms[j]
            for stem_skeleton, stem_consonants in stem_forms:
                for a in index.joined.get(join_skeleton(joined, stem_skeleton), ()):
                    found.append(make_match(index.aliases[a], f, i, j + 1, 0))
                for a in index.by_consonants.get(bare + stem_consonants, ()):
                    found.append(make_match(index.aliases[a], f, i, j + 1, 0))
            joined = join_skeleton(joined, skel[j])
            bare += word_consonants
            for a in index.by_consonants.get(bare, ()):
                found.append(make_match(index.aliases[a], f, i, j + 1, 0))
            # One consonant off only for scripts that leave vowels out: in
            # Cyrillic it would let "ministerstvo" pass for "Minister Santaov".
            consonantal = toks.foreign[i] == CONSONANTAL == toks.foreign[j]
            if consonantal and len(bare) >= MIN_FUZZY_CONSONANTS - 1:
                found.extend(consonant_fuzzy(index, f, bare, i, j + 1))
    return found


def consonant_fuzzy(index: AliasIndex, f: Field, bare: str, i: int, j: int) -> list[Mention]:
    """Vowel-less script with one consonant off (नरेंद्र → "nrmdr" for Narendra)."""
    found = []
    candidates: set[int] = set()
    for key in {bare} | deletions(bare):
        candidates.update(index.consonant_variants.get(key, ()))
    for a in sorted(candidates):
        alias = index.aliases[a]
        target = index.consonant_target[a]
        distance = OSA.distance(bare, target, score_cutoff=1)
        if distance == 1:
            found.append(make_match(alias, f, i, j, 1, len(target)))
    return found
