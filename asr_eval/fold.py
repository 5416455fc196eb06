"""Diacritic and case folding: the one rule for "the same letters".

Why one rule: the normaliser, the scorer's term matcher, redaction, post-correction,
the sweep's distractor filter and the vocabulary tools all ask whether two spellings
are the same name. When each folded in its own way, "Małgorzata" was one word to the
vocabulary linter and two different ones to the normaliser, and the sweep cut it
into "ma" + "gorzata". Everything that compares spellings calls ``fold``.

The rule, in order:

1. compatibility decomposition (NFKD), so "é" becomes "e" + accent, "ﬁ" becomes
   "fi" and "²" becomes "2";
2. combining marks are dropped (the accent above);
3. case folding (``str.casefold``, which also turns "ß" into "ss"), then steps 1-2
   again for the few case folds that produce a decomposable letter;
4. Latin letters that are not "a letter plus a mark" in Unicode, so NFKD leaves them
   alone, are spelled as an English writer spells them: ł->l, ø->o, đ/ð->d, þ->th,
   æ->ae, œ->oe, ß->ss, ı->i, ħ->h, ŧ->t, ŋ->ng, and the West African ɓ ɗ ƙ ƴ ɛ ɔ
   -> b d k y e o. Whisper's English normaliser folds the same letters (its
   ``ADDITIONAL_DIACRITICS``); the table here is ours and a little longer.

Scripts other than Latin keep their letters (only their marks go): folding is for
comparing spellings, not for transliterating.

Pure: no I/O, no state besides a per-character cache.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

__all__ = ["fold", "fold_with_origins", "strip_accents", "LETTERS"]

# Letters NFKD does not decompose, in both cases (``strip_accents`` keeps case).
LETTERS: dict[str, str] = {
    "ß": "ss", "ẞ": "SS",
    "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    "ø": "o", "Ø": "O",
    "ł": "l", "Ł": "L",
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D",
    "þ": "th", "Þ": "Th",
    "ı": "i",
    "ħ": "h", "Ħ": "H",
    "ŧ": "t", "Ŧ": "T",
    "ŋ": "ng", "Ŋ": "Ng",
    "ɓ": "b", "Ɓ": "B", "ɗ": "d", "Ɗ": "D", "ƙ": "k", "Ƙ": "K", "ƴ": "y", "Ƴ": "Y",
    "ɛ": "e", "Ɛ": "E", "ɔ": "o", "Ɔ": "O",
}
_LETTERS = str.maketrans(LETTERS)


def _drop_marks(text: str, form: str) -> str:
    return "".join(c for c in unicodedata.normalize(form, text) if not unicodedata.combining(c))


def fold(text: str) -> str:
    """The spelling two texts are compared by: lower case, no diacritics (rules in the module docstring).

    ``fold(fold(x)) == fold(x)``, and folding is done character by character, so
    ``fold(a + b) == fold(a) + fold(b)``; ``fold_with_origins`` relies on that.
    """
    if text.isascii():
        return text.lower()
    s = _drop_marks(text, "NFKD").casefold()
    if not s.isascii():
        s = _drop_marks(s, "NFKD")
    return s.translate(_LETTERS)


@lru_cache(maxsize=8192)
def _fold_char(c: str) -> str:
    return fold(c)


def fold_with_origins(text: str) -> tuple[str, list[int]]:
    """``fold(text)`` and, for each of its characters, the index in ``text`` it came from.

    Folding can change the length ("ß" -> "ss", a lone combining mark -> ""), so
    code that finds something in the folded text and needs the raw characters
    back (the normaliser setting a vocabulary term aside) maps positions through
    ``origins``. It has one extra entry, ``len(text)``, so an end offset maps too.
    A raw character that folds to nothing has no entry of its own; it travels
    with the character before it.
    """
    if text.isascii():
        return text.lower(), list(range(len(text) + 1))
    pieces = [_fold_char(c) for c in text]
    folded = "".join(pieces)
    if len(folded) == len(text) and all(len(f) == 1 for f in pieces):  # one for one: origins are positions
        return folded, list(range(len(text) + 1))
    origins: list[int] = []
    for i, f in enumerate(pieces):
        origins.extend([i] * len(f))
    origins.append(len(text))
    return folded, origins


def strip_accents(text: str) -> str:
    """``text`` without diacritics but with its case: how an English model usually writes a name.

    Canonical decomposition only (NFD), so compatibility characters such as "™"
    or "²" are kept as the author wrote them; the same letter table as ``fold``,
    so ``fold(strip_accents(x)) == fold(x)``.
    """
    if text.isascii():
        return text
    return _drop_marks(text, "NFD").translate(_LETTERS)
