"""Formatted tokens: the display text as a reader sees it, for formatted WER.

Why a second metric beside the normalised WER: normalisation forgives case and
punctuation by design, so a display transcript that writes "paynimbus" for
"PayNimbus" or drops every comma scores as well as a perfect one. Rev's
fstalign reports a *formatted* WER next to the plain one (``--use-case
--use-punctuation``: a word's case counts, and each punctuation mark is a
token of its own, "good morning . welcome !"); asr-eval does the same on the
raw reference and hypothesis. Definition (docs/normalization.md):

* Text is split on whitespace; case is kept.
* Punctuation (Unicode category P*) at either end of a word is split off, each
  mark a token of its own; a run of the same mark ("...", "!!", "--") is one token.
  Punctuation inside a word stays in it ("e-mail", "don't", "U.S", "3.5", "9:30").
* Unicode's classes decide what is punctuation: symbols are not ("$25",
  "+44", "20°C" stay whole), while "%" and "#" are ("50%" is "50" and "%").
* Typographic variants of one mark are one mark (curly and straight
  apostrophes and quotes, the ellipsis character and "..."), and text is
  compared in Unicode NFC, so "é" typed two ways is one letter.
* Bracketed annotations (``[inaudible]``, ``<unk>``, ``[Music]``) are not
  display words: they are dropped on both sides, as the normaliser drops them.

Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata

FORMATTED_VERSION = "fstalign-case-punct-1"

_SAME_MARK = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2026": "...",
})
# ASCII's punctuation marks (Unicode category P*): ASCII words are split with str.strip.
_ASCII_P = "".join(c for c in map(chr, range(33, 127)) if unicodedata.category(c)[0] == "P")
_ANNOTATION = re.compile(r"\[[^\[\]]*\]|<[^<>\s]*>")


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "P"


def _split_word(word: str, out: list[str]) -> None:
    """Append the word's leading marks, its core and its trailing marks."""
    if word.isascii():
        i = len(word) - len(word.lstrip(_ASCII_P))
        j = len(word.rstrip(_ASCII_P)) if i < len(word) else i
        if i:
            _runs(word[:i], out)
        if i < j:
            out.append(word[i:j])
        if j < len(word):
            _runs(word[j:], out)
        return
    i, j = 0, len(word)
    while i < j and _is_punct(word[i]):
        i += 1
    while j > i and _is_punct(word[j - 1]):
        j -= 1
    _runs(word[:i], out)
    if i < j:
        out.append(word[i:j])
    _runs(word[j:], out)


def _runs(marks: str, out: list[str]) -> None:
    k = 0
    while k < len(marks):
        e = k + 1
        while e < len(marks) and marks[e] == marks[k]:
            e += 1
        out.append(marks[k:e])
        k = e


def formatted_tokens(text: str) -> list[str]:
    """The formatted tokens of ``text`` (module docstring): case kept, punctuation marks as tokens."""
    if not text:
        return []
    if not text.isascii():
        text = unicodedata.normalize("NFC", text).translate(_SAME_MARK)
    if "[" in text or "<" in text:
        text = _ANNOTATION.sub(" ", text)
    out: list[str] = []
    for word in text.split():
        if word.isalnum():
            out.append(word)
        else:
            _split_word(word, out)
    return out


def is_punctuation(token: str) -> bool:
    """A token made of punctuation marks only (how formatted errors are split into words and marks)."""
    return bool(token) and all(_is_punct(c) for c in token)
