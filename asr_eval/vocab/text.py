"""Spelling keys used to compare vocabulary entries, and the rule for invisible characters (pure).

Built on ``asr_eval.fold``, the fold the normaliser and scorer use, so the
linter's "same term" is the scorer's "same term". The loaders remove invisible
characters with ``remove_invisible`` and ``vocab check`` reports them with
``invisible_characters``: one rule, so what the linter flags is exactly what a
run removes.
"""

from __future__ import annotations

import re
import unicodedata

from ..fold import fold

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_WORDS = re.compile(r"[^\W_]+")


# Control (Cc: tab, BEL...), format (Cf: zero-width space and joiners, bidi overrides and isolates,
# soft hyphen, BOM) and line/paragraph separators (Zl, Zp). None is ever written by a speech
# engine; in a prompt they are noise or, for bidi controls, text that reads differently than it is.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def is_invisible(ch: str) -> bool:
    return unicodedata.category(ch) in INVISIBLE_CATEGORIES


def invisible_characters(text: str) -> list[str]:
    """The distinct invisible characters in ``text``, in code point order."""
    return sorted({c for c in text if is_invisible(c)})


def remove_invisible(text: str) -> str:
    """``text`` without invisible characters; those that separate words (tab, U+2028...) become a space."""
    if not any(is_invisible(c) for c in text):
        return text
    return "".join((" " if c.isspace() else "") if is_invisible(c) else c for c in text)


def describe_characters(chars: list[str] | str) -> str:
    """Each character as ``'\\u200b' (ZERO WIDTH SPACE)``: a reader cannot see it, so name it."""
    return ", ".join(f"{c!r} ({unicodedata.name(c, 'U+%04X' % ord(c))})" for c in chars)


def spelling_key(text: str) -> str:
    """Case, spacing, punctuation and diacritics removed: 'Pay-Nimbus' == 'paynimbus'."""
    return _NON_ALNUM.sub("", fold(text))


def words(text: str) -> list[str]:
    """Folded words, punctuation splitting them ('El-Amrani' -> ['el', 'amrani'])."""
    return _WORDS.findall(fold(text))


def is_acronym(text: str) -> bool:
    """'SLA', 'S.L.A.', 'PCI DSS' (upper-case letter runs of 2-6) but not 'Klarvo'."""
    parts = [p for p in re.split(r"[\s\-]+", text.strip()) if p]
    if not parts:
        return False
    for p in parts:
        letters = p.replace(".", "")
        if not (2 <= len(letters) <= 6 and letters.isalpha() and letters.isupper()) and not (
            len(letters) == 1 and letters.isupper() and p.endswith(".")
        ):
            return False
    return True


LETTER_NAMES = dict(zip(
    "abcdefghijklmnopqrstuvwxyz",
    "ay bee see dee ee eff gee aitch eye jay kay ell em en oh pee cue ar ess tee you vee double-you ex why zee".split(),
))


def spoken_form(display: str, sounds_like: tuple[str, ...] = ()) -> str:
    """How a term is said: the author's first sounds-like hint, else acronyms as letter names."""
    if sounds_like:
        return sounds_like[0]
    out = []
    for w in display.split():
        if is_acronym(w):
            out.extend(LETTER_NAMES[c] for c in w.lower() if c in LETTER_NAMES)
        else:
            out.append(w)
    return " ".join(out)
