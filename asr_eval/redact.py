"""Mask personal information in the excerpts a report shows.

Pure: text in, text out. Metrics are computed before any of this runs, on the
full text; redaction only changes what a reader of the report sees.

What is masked: e-mail addresses, phone numbers, long digit strings (card and
account numbers, also when spoken as digit words: "four one one one ..."),
and, when asked, the names of people in the directory. Normalised text splits
numbers into separate tokens, so the token-level function looks at runs of
digit tokens, not just single tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from .fold import fold

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
NUMBER = "[NUMBER]"
NAME = "[NAME]"

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Spoken e-mails after normalisation: "john dot smith at example dot com".
_SPOKEN_EMAIL_RE = re.compile(r"\b[\w]+(?:\s+dot\s+[\w]+)*\s+at\s+[\w]+(?:\s+dot\s+[\w]+)+\b", re.IGNORECASE)
# Phone numbers: optional +country, then groups of digits separated by space, dot, dash or parentheses,
# at least 7 digits in all.
_PHONE_RE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){1,4}(?!\w)")
# Any run of 6+ digits, allowing single spaces or dashes between digit groups, also inside
# a word ("AB12345678" is an account number too).
_DIGITS_RE = re.compile(r"\d(?:[\s-]?\d){5,}")
MIN_DIGITS = 6
MIN_PHONE_DIGITS = 7
MAX_PHONE_DIGITS = 13  # E.164 allows 15 with the country code; cards have 15-19

DIGIT_WORDS = frozenset(
    ["zero", "oh", "o", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "double", "triple"]
)


def _count_digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


@dataclass(frozen=True)
class Redactor:
    """Masks PII in free text and in aligned word lists.

    ``names``: words of directory names to mask (folded; 'Siobhan', 'Nguyen').
    ``enabled`` False makes every method the identity, so callers never branch.
    """

    enabled: bool = True
    names: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(cls, enabled: bool, name_phrases: Iterable[str] = ()) -> Redactor:
        words: set[str] = set()
        for phrase in name_phrases:
            for w in re.findall(r"[\w'-]+", fold(phrase)):
                # One-letter initials would mask every 'a'; skip them.
                if len(w) > 1:
                    words.add(w)
        return cls(enabled=enabled, names=frozenset(words))

    # ------------------------------------------------------------------ text

    def text(self, s: str | None) -> str | None:
        """Mask PII in a free-text excerpt (reference, hypothesis, prompt)."""
        if not self.enabled or not s:
            return s
        s = _EMAIL_RE.sub(EMAIL, s)
        s = _SPOKEN_EMAIL_RE.sub(EMAIL, s)
        s = _PHONE_RE.sub(self._phone, s)
        s = _DIGITS_RE.sub(NUMBER, s)
        s = self._spoken_digits(s)
        if self.names:
            s = re.sub(r"[\w'-]+", lambda m: NAME if self.is_name(m.group()) else m.group(), s)
        return s

    def is_name(self, word: str) -> bool:
        """A directory name word, or a near miss of one as ASR writes it ("Siobhanie" for "Siobhan").

        Near misses: the word starts with a name of 5+ letters, or both have 6+
        letters and are 85% similar (rapidfuzz ratio). Shorter names match only
        exactly, so that "Mark" does not mask "market".
        """
        w = fold(word).strip("'-")
        if not w or not self.names:
            return False
        if w in self.names:
            return True
        if len(w) >= 5 and any(len(n) >= 5 and w.startswith(n) for n in self.names):
            return True
        if len(w) >= 6:
            long_names = [n for n in self.names if len(n) >= 6]
            return bool(long_names) and process.extractOne(w, long_names, scorer=fuzz.ratio, score_cutoff=85) is not None
        return False

    @staticmethod
    def _phone(m: re.Match[str]) -> str:
        digits = _count_digits(m.group())
        if digits > MAX_PHONE_DIGITS:  # longer than any phone number: a card or account
            return NUMBER
        return PHONE if digits >= MIN_PHONE_DIGITS else m.group()

    def _spoken_digits(self, s: str) -> str:
        tokens = s.split(" ")
        masked = self.tokens(tokens, names=False)
        # Collapse consecutive masks into one so "[NUMBER] [NUMBER] ..." reads as one number.
        out: list[str] = []
        for t in masked:
            if t == NUMBER and out and out[-1] == NUMBER:
                continue
            out.append(t or "")
        return " ".join(out)

    # ------------------------------------------------------------------ tokens

    def tokens(self, words: Sequence[str | None], names: bool = True) -> list[str | None]:
        """Mask tokens of an aligned word list, keeping its length and its gaps (None).

        Runs of digit tokens or digit words that together hold at least
        ``MIN_DIGITS`` digits become ``[NUMBER]`` token by token, so the
        alignment columns stay in place.
        """
        if not self.enabled:
            return list(words)
        out: list[str | None] = []
        for w in words:
            if w is None:
                out.append(None)
            elif _EMAIL_RE.fullmatch(w):
                out.append(EMAIL)
            elif names and self.is_name(w):
                out.append(NAME)
            else:
                out.append(w)
        # Digit runs; gaps (None) inside a run do not break it, so a deleted digit
        # between two heard ones still belongs to the number.
        i = 0
        while i < len(out):
            if not _is_digitish(out[i]):
                i += 1
                continue
            j, digits = i, 0
            while j < len(out) and (out[j] is None or _is_digitish(out[j])):
                digits += _digit_weight(out[j])
                j += 1
            if digits >= MIN_DIGITS:
                for k in range(i, j):
                    if out[k] is not None:
                        out[k] = NUMBER
            i = j
        return out

    def term(self, display: str, source: str, index: int | None = None) -> str:
        """A term's display form; a directory name becomes a stable pseudonym."""
        if self.enabled and self.names and source == "directory":
            return f"[NAME {index}]" if index is not None else NAME
        return display


def _bare(w: str) -> str:
    return w.strip(".,;:!?()\"'").casefold()


def _is_digitish(w: str | None) -> bool:
    if w is None:
        return False
    b = _bare(w)
    return bool(b) and (b.isdigit() or b in DIGIT_WORDS)


def _digit_weight(w: str | None) -> int:
    if w is None:
        return 0
    lw = _bare(w)
    if lw.isdigit():
        return len(lw)
    if lw in ("double", "triple"):
        return 0
    return 1
