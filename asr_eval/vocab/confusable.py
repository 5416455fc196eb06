"""Terms that sound alike, or like everyday English words (pure).

Biasing raises a term's probability wherever the audio is close to it; if two
terms sound alike the engine trades one for the other, and if a term sounds
like a common word the engine writes the term where the speaker said the word
(a false insertion). Two independent views of "sounds like" are combined:
Double Metaphone codes (coarse, spelling-based) and espeak-ng IPA compared by
normalised edit distance (finer, when espeak-ng is installed). Risk is the
phonetic similarity in [0, 1], weighted for common words by how frequent the
word is, because a frequent word offers more chances to go wrong.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from ..types import Term
from .text import spelling_key, spoken_form, words

PAIR_THRESHOLD = 0.75
WORD_THRESHOLD = 0.75
COMMON_ZIPF = 4.0  # the term itself is an everyday word
ZIPF_SCALE = 6.0  # Zipf 6 (about 1 in 1,000 words) counts as fully frequent

_IPA_NOISE = re.compile(r"[ˈˌːˑ\-‿|_ ]")

Metaphone = Callable[[str], tuple[str, str]]


def ipa_key(ipa: str) -> str:
    """IPA without stress, length and word boundaries: accents move stress, not identity."""
    return _IPA_NOISE.sub("", ipa)


def metaphone_key(text: str, metaphone: Metaphone) -> tuple[str, str]:
    codes = [metaphone(w) for w in words(text)]
    return " ".join(c[0] for c in codes), " ".join(c[1] or c[0] for c in codes)


def phonetic_similarity(a_ipa: str | None, b_ipa: str | None, a_mp: tuple[str, str], b_mp: tuple[str, str]) -> float:
    """1.0 for identical sounds; IPA edit similarity when known, else Metaphone agreement."""
    a_codes = {c.replace(" ", "") for c in a_mp if c}
    b_codes = {c.replace(" ", "") for c in b_mp if c}
    mp_match = bool(a_codes & b_codes)
    mp_sim = 1.0 if mp_match else Levenshtein.normalized_similarity(a_mp[0].replace(" ", ""), b_mp[0].replace(" ", ""))
    if a_ipa and b_ipa:
        ipa_sim = Levenshtein.normalized_similarity(ipa_key(a_ipa), ipa_key(b_ipa))
        return max(ipa_sim, (ipa_sim + mp_sim) / 2) if mp_match else ipa_sim
    return mp_sim


@dataclass(frozen=True)
class Pair:
    kind: str  # 'term-term' | 'term-word' | 'is-word'
    a: str
    b: str
    risk: float
    phonetic: float
    spelling: float
    a_ipa: str
    b_ipa: str
    a_metaphone: str
    b_metaphone: str
    note: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ConfusableReport:
    pairs: tuple[Pair, ...]
    n_terms: int
    common_words: int
    ipa: bool

    def to_dict(self) -> dict:
        return {"terms": self.n_terms, "common_words": self.common_words, "ipa": self.ipa, "pairs": [p.to_dict() for p in self.pairs]}


def confusable(
    terms: Sequence[Term],
    metaphone: Metaphone,
    common: Sequence[str],
    word_frequency: Callable[[str], float],
    phonemes: Callable[[Sequence[str]], list[str]] | None = None,
    pair_threshold: float = PAIR_THRESHOLD,
    word_threshold: float = WORD_THRESHOLD,
) -> ConfusableReport:
    """Rank risky term-term and term-word pairs. ``common`` is a frequency-ordered English word list."""
    spoken: dict[str, str] = {}
    for t in terms:
        spoken.setdefault(t.display, spoken_form(t.display, t.sounds_like))
    displays = list(spoken)
    ipa: Mapping[str, str] = dict(zip(displays, phonemes([spoken[d] for d in displays]))) if phonemes else {}
    mp = {d: metaphone_key(spoken[d], metaphone) for d in displays}
    pairs: list[Pair] = []

    for a, b in itertools.combinations(displays, 2):
        if spelling_key(a) == spelling_key(b):
            continue
        sim = phonetic_similarity(ipa.get(a), ipa.get(b), mp[a], mp[b])
        if sim >= pair_threshold:
            spell = fuzz.ratio(spelling_key(a), spelling_key(b)) / 100
            pairs.append(Pair("term-term", a, b, sim, sim, spell, ipa.get(a, ""), ipa.get(b, ""), mp[a][0], mp[b][0], "biasing one may turn the other into it"))

    # index everyday words by Metaphone code, most frequent first
    by_code: dict[str, list[str]] = {}
    for w in common:
        if not w.isalpha():
            continue
        p, s = metaphone(w)
        for code in {p, s or p}:
            if code:
                by_code.setdefault(code, []).append(w)
    candidates: dict[str, list[str]] = {}
    for d in displays:
        folded = " ".join(words(d))
        if len(words(d)) == 1 and word_frequency(folded) >= COMMON_ZIPF:
            z = word_frequency(folded)
            pairs.append(
                Pair("is-word", d, folded, min(1.0, z / ZIPF_SCALE), 1.0, 1.0, ipa.get(d, ""), ipa.get(d, ""), mp[d][0], mp[d][0], f"an everyday word (Zipf {z:.1f}): biasing it mostly changes nothing or forces its capitalisation")
            )
            continue
        found: list[str] = []
        for code in dict.fromkeys((mp[d][0].replace(" ", ""), mp[d][1].replace(" ", ""))):
            for w in by_code.get(code, [])[:5]:
                if spelling_key(w) != spelling_key(d) and w not in found:
                    found.append(w)
        candidates[d] = found
    words_needed = list(dict.fromkeys(w for ws in candidates.values() for w in ws))
    word_ipa: Mapping[str, str] = dict(zip(words_needed, phonemes(words_needed))) if phonemes and words_needed else {}
    for d, ws in candidates.items():
        best: Pair | None = None
        for w in ws:
            w_mp = metaphone_key(w, metaphone)
            sim = phonetic_similarity(ipa.get(d), word_ipa.get(w), mp[d], w_mp)
            if sim < word_threshold:
                continue
            z = word_frequency(w)
            risk = sim * min(1.0, z / ZIPF_SCALE)
            p = Pair("term-word", d, w, risk, sim, fuzz.ratio(spelling_key(d), w) / 100, ipa.get(d, ""), word_ipa.get(w, ""), mp[d][0], w_mp[0], f"sounds like the everyday word {w!r} (Zipf {z:.1f}): false-insertion risk")
            if best is None or p.risk > best.risk:
                best = p
        if best is not None:
            pairs.append(best)
    pairs.sort(key=lambda p: (-p.risk, p.kind, p.a, p.b))
    return ConfusableReport(tuple(pairs), len(displays), len(common), bool(phonemes))
