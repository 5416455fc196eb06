"""Whisper-style English text normalisation that never alters a vocabulary term.

Why a custom normaliser: WER is meaningless unless reference and hypothesis are
normalised identically, and the usual Whisper normaliser happily rewrites the very
words a custom-vocabulary test is about ("St. Clair" -> "saint clair", "Dr Martens"
-> "doctor martens", "O'Brien" -> "0 brien"). Here protected terms are located
first (with the scorer's matcher, ``asr_eval.matching``), set aside, and put back
in their *light* form (folded by ``asr_eval.fold``, punctuation splitting words --
the same rules every other word gets), so a term and the same term inside any
sentence normalise to the same token run.

The rules follow OpenAI Whisper's ``EnglishTextNormalizer`` (MIT licence,
https://github.com/openai/whisper, ``whisper/normalizers/english.py``) in spirit;
the implementation and word lists here are our own; numbers are read by Whisper's
own number rules (``asr_eval.normalize_whisper``, shared) with asr-eval's additions,
and British spellings from a curated list become American. ``get_normalizer``
chooses between this one, Whisper's exactly and none. See docs/normalization.md
for the rules and the table of equivalences. Bump ``NORMALIZER_VERSION`` whenever any
output can change: the version is written into every result.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable, Iterable, Mapping, Sequence

from asr_eval.fold import fold, fold_with_origins
from asr_eval.matching import PhraseIndex
from asr_eval.normalize_whisper import RULES_VERSION as WHISPER_RULES_VERSION
from asr_eval.normalize_whisper import (
    DOLLARS_AND_CENTS,
    ORDINAL_UNIT,
    WHISPER_WORDS,
    Spellings,
    digits_apart,
    join_cents,
    normalize_english,
    read_numbers,
)
from asr_eval.types import Term

# 2: one fold (asr_eval.fold); 3: Whisper's number rules and more (docs/normalization.md)
NORMALIZER_VERSION = "en-whisper-asr-eval-3"
NONE_VERSION = "none-whitespace-1"  # case- and punctuation-sensitive: text split on whitespace

# Private-use code points stand in for protected terms while the other rules run:
# they are neither letters, digits, punctuation nor symbols, so no rule touches them.
_PLACEHOLDER_BASE = 0xF0000
_PLACEHOLDER_RE = re.compile("[\U000F0000-\U000FFFFD]")

Step = Callable[[str], str]


# --------------------------------------------------------------------------- light form

_WORD_RE = re.compile(r"[^\W_]+")
_QUOTE_RE = re.compile("[\u2018\u2019\u02bc`\u00b4]")


def _light(text: str) -> str:
    """Folded, apostrophe look-alikes unified: what the word rules do to letters (``strip_marks``)."""
    s = fold(text)
    return s if s.isascii() else _QUOTE_RE.sub("'", s)


def light_tokens(text: str) -> tuple[str, ...]:
    """The rule a protected term gets: folded (``asr_eval.fold``), punctuation splits words."""
    return tuple(_WORD_RE.findall(_light(text)))


# --------------------------------------------------------------------------- word lists

FILLERS = ("um", "umm", "uh", "uhm", "uhh", "erm", "hmm", "hm", "mm", "mmm", "mhm")

# Applied in order, on lower-case text, before punctuation is removed.
CONTRACTIONS: tuple[tuple[str, str], ...] = (
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b", "can not"),
    (r"\bcannot\b", "can not"),
    (r"\blet's\b", "let us"),
    (r"\bain't\b", "aint"),
    (r"\by'all\b", "you all"),
    (r"\bwanna\b", "want to"),
    (r"\bgotta\b", "got to"),
    (r"\bgonna\b", "going to"),
    (r"\bi'ma\b", "i am going to"),
    (r"\bimma\b", "i am going to"),
    (r"\bwoulda\b", "would have"),
    (r"\bcoulda\b", "could have"),
    (r"\bshoulda\b", "should have"),
    (r"\bma'am\b", "madam"),
    # titles before names (this is what protection keeps away from vocabulary terms)
    (r"\bmr\b\.?", "mister "),
    (r"\bmrs\b\.?", "missus "),
    (r"\bdr\b\.?", "doctor "),
    (r"\bprof\b\.?", "professor "),
    (r"\bst\b\.?", "saint "),
    (r"\bjr\b\.?", "junior "),
    (r"\bsr\b\.?", "senior "),
    (r"\bcapt\b\.?", "captain "),
    (r"\bgov\b\.?", "governor "),
    (r"\bsen\b\.?", "senator "),
    (r"\brev\b\.?", "reverend "),
    (r"\blt\b\.?", "lieutenant "),
    (r"\bcol\b\.?", "colonel "),
    # clitics ("he'd been" and kin are expanded by join_apostrophes first)
    (r"n't\b", " not"),
    (r"'re\b", " are"),
    (r"'s\b", " is"),
    (r"'d\b", " would"),
    (r"'ll\b", " will"),
    (r"'t\b", " not"),
    (r"'ve\b", " have"),
    (r"'m\b", " am"),
)

# British -> American, whole words only. Curated rather than rule-based: "-ise" is
# also the ending of rise, wise, promise, expertise...
_SPELLING_STEMS = {
    "colour": "color", "flavour": "flavor", "favour": "favor", "honour": "honor",
    "humour": "humor", "labour": "labor", "neighbour": "neighbor", "rumour": "rumor",
    "savour": "savor", "vapour": "vapor", "harbour": "harbor", "endeavour": "endeavor",
    "behaviour": "behavior", "armour": "armor", "odour": "odor", "parlour": "parlor",
    "vigour": "vigor", "clamour": "clamor", "glamour": "glamor",
    "organis": "organiz", "realis": "realiz", "recognis": "recogniz", "apologis": "apologiz",
    "authoris": "authoriz", "categoris": "categoriz", "characteris": "characteriz",
    "criticis": "criticiz", "customis": "customiz", "emphasis": "emphasiz",
    "finalis": "finaliz", "initialis": "initializ", "maximis": "maximiz",
    "minimis": "minimiz", "memoris": "memoriz", "normalis": "normaliz",
    "optimis": "optimiz", "personalis": "personaliz", "prioritis": "prioritiz",
    "specialis": "specializ", "standardis": "standardiz", "summaris": "summariz",
    "synchronis": "synchroniz", "utilis": "utiliz", "visualis": "visualiz",
    "localis": "localiz", "digitis": "digitiz", "familiaris": "familiariz",
    "analys": "analyz", "paralys": "paralyz",
}
_OUR_SUFFIXES = ("", "s", "ed", "ing", "ful", "ite", "ites", "able", "less", "ed")
_ISE_SUFFIXES = ("e", "es", "ed", "ing", "er", "ers", "ation", "ations")
_SPELLINGS_EXTRA = {
    "centre": "center", "centres": "centers", "centred": "centered",
    "metre": "meter", "metres": "meters", "litre": "liter", "litres": "liters",
    "theatre": "theater", "theatres": "theaters", "fibre": "fiber", "fibres": "fibers",
    "calibre": "caliber", "sombre": "somber", "spectre": "specter",
    "catalogue": "catalog", "catalogues": "catalogs", "dialogue": "dialog",
    "dialogues": "dialogs", "analogue": "analog", "programme": "program",
    "programmes": "programs", "defence": "defense", "offence": "offense",
    "licence": "license", "licences": "licenses", "pretence": "pretense",
    "travelled": "traveled", "travelling": "traveling", "traveller": "traveler",
    "travellers": "travelers", "cancelled": "canceled", "cancelling": "canceling",
    "modelled": "modeled", "modelling": "modeling", "labelled": "labeled",
    "labelling": "labeling", "levelled": "leveled", "fuelled": "fueled",
    "signalled": "signaled", "counselling": "counseling", "jewellery": "jewelry",
    "grey": "gray", "greys": "grays", "cheque": "check", "cheques": "checks",
    "tyre": "tire", "tyres": "tires", "aluminium": "aluminum", "plough": "plow",
    "mould": "mold", "moustache": "mustache", "pyjamas": "pajamas",
    "sceptical": "skeptical", "aeroplane": "airplane", "aeroplanes": "airplanes",
    "enrol": "enroll", "enrolment": "enrollment", "fulfil": "fulfill",
    "instalment": "installment", "judgement": "judgment", "ageing": "aging",
    "practise": "practice", "practised": "practiced", "paediatric": "pediatric",
    "anaesthetic": "anesthetic", "oestrogen": "estrogen", "manoeuvre": "maneuver",
    "kerb": "curb", "draught": "draft", "storey": "story", "storeys": "stories",
    "organisation": "organization", "organisations": "organizations",
    "colours": "colors", "favourite": "favorite", "favourites": "favorites",
}


def _build_spellings() -> Mapping[str, str]:
    table: dict[str, str] = {}
    for gb, us in _SPELLING_STEMS.items():
        suffixes = _OUR_SUFFIXES if gb.endswith("our") else _ISE_SUFFIXES
        for suffix in suffixes:
            table[gb + suffix] = us + suffix
    table.update(_SPELLINGS_EXTRA)
    return table


SPELLINGS: Mapping[str, str] = _build_spellings()


# --------------------------------------------------------------------------- numbers
#
# The number reader is Whisper's (``asr_eval.normalize_whisper``), so every
# equivalence Whisper's normaliser draws ("$25.50" = "twenty-five dollars and
# fifty cents", "$1.5 million" = "one point five million dollars", "Q3" = "Q
# three") holds here too. On top of it, where Whisper's rules lose information
# or read a word as a number by accident: "oh" and "o" are zeros only next to
# another number ("one oh one", not "oh no"); "minus"/"plus" stay words; digit
# strings keep their leading zeros ("PIN 0000", "007"); "ninth" is an ordinal
# (Whisper knows only "nineth"); "a hundred" is "one hundred"; "5k" is 5000 and
# "5 bucks" "$5"; "1" and "1s" become "one"/"ones" only as whole words ("1.5"
# stays "1.5"), and a lone "1st"/"2nd" reads "first"/"second" ("at first").
# docs/normalization.md has the table of pairs.

_WHISPER_ZEROS = ("oh", "o")
_NUMBER_WORDS = WHISPER_WORDS.extended({"ninth": (ORDINAL_UNIT, 9, "th")}, keep_leading_zeros=True)
_NUMBER_WORDS.lex.pop("oh")
_NUMBER_WORDS.lex.pop("o")
for _sign in ("minus", "negative", "plus", "positive"):
    _NUMBER_WORDS.lex.pop(_sign)
# The words this normaliser writes for 1, 1s, 1st and 2nd never join a number written in digits before
# them, so normalising its own output changes nothing ("$13 one" stays, where Whisper reads "$131").
_NUMBER_WORDS = _NUMBER_WORDS.extended({}, keep_leading_zeros=True, symbol_twice=False,
                                       apart_from_digits=frozenset({"one", "ones", "first", "second"}))
_NUMBER_KINDS = frozenset(_NUMBER_WORDS.lex) - {
    "and", "per", "percent", "cent", "cents", "dollar", "dollars", "pound", "pounds", "euro", "euros"}
# A word that starts or continues a number (what "oh", "a", "k" and "bucks" need beside them).
# Cardinal words (not ordinals: "oh, first of all" is not "01st of all")
_NUMBERISH = frozenset(w for w, (k, _, _) in _NUMBER_WORDS.lex.items()
                       if w in _NUMBER_WORDS.decimals or w in _NUMBER_WORDS.multipliers) | {"double", "triple", "point"}
_NUMBER_TRIGGERS = frozenset(_NUMBER_KINDS - {"point", "double", "triple"})
_HAS_DIGIT_RE = re.compile(r"\d")
_NUMERAL_RE = re.compile(r"^\d+(\.\d+)?$")  # a written amount ("$20") is complete: "oh" after it is a word
_GLUED_K_RE = re.compile(r"(\d)k\b")
_HALF_RE = re.compile(r"\b([^\W\d_]+) and a half\b")
_ONLY_CENTS_RE = re.compile(r"[€£$]0\.([0-9]{2})\b")
_DIGIT_WORDS = frozenset("zero one two three four five six seven eight nine".split())
_WHOLE_DECIMAL_RE = re.compile(r"(?<!\S)([$£€¢]?\d+)\.0+(?!\S)")
_WHOLE_WORDS = {"1": "one", "1s": "ones", "1st": "first", "2nd": "second"}  # as words, whole tokens only


def _numberish(t: str | None) -> bool:
    return t is not None and (t in _NUMBERISH or _NUMERAL_RE.match(t) is not None)


def _half(m: re.Match) -> str:
    w = m.group(1)
    return f"{w} point five" if w in _NUMBER_WORDS.decimals or w in _NUMBER_WORDS.multipliers else m.group()


_WRITTEN_AS_WORDS = {"1": "one", "1st": "first", "2nd": "second"}
_ALIAS_WORDS = frozenset({"a", "bucks", "buck"})
_HOT_WORDS = frozenset(_NUMBER_WORDS.lex) | frozenset(_WHISPER_ZEROS) | _ALIAS_WORDS | {"half", "point", "clock"}


def _spoken_aliases(tokens: list[str]) -> list[str]:
    """Words that are numbers only beside a number: "one oh one", "a hundred", "half a million", "5 bucks".

    A written "1", "1st", "2nd" reads as its word first, so that the reader joins it
    to its neighbours just as it joins the word ("one 1st" = "one first").
    """
    if not _WRITTEN_AS_WORDS.keys().isdisjoint(tokens):
        tokens = [_WRITTEN_AS_WORDS.get(t, t) for t in tokens]
    tokens = _zeros(tokens)
    if "point" in tokens:  # Whisper's reader drops a "point" before "hundred"...: drop it first, so that
        tokens = _without_stray_points(tokens)  # a second pass sees the same neighbours ("per point cent")
    if _ALIAS_WORDS.isdisjoint(tokens):
        return tokens
    out = list(tokens)
    n = len(tokens)
    for i in [i for i, t in enumerate(tokens) if t in _ALIAS_WORDS]:
        t = tokens[i]
        prev = tokens[i - 1] if i else None
        if t == "a":
            if i + 1 < n and tokens[i + 1] in _NUMBER_WORDS.multipliers and not _numberish(prev):
                if prev == "half":
                    out[i - 1 : i + 1] = ["point", "five"]  # "half a million" is 500000
                else:
                    out[i] = "one"
        elif _numberish(prev):  # "bucks", "buck"
            out[i] = "dollars"
    return out


def _without_stray_points(tokens: list[str]) -> list[str]:
    lex, decimals = _NUMBER_WORDS.lex, _NUMBER_WORDS.decimals
    n = len(tokens)
    return [t for i, t in enumerate(tokens)
            if t != "point" or i + 1 >= n or tokens[i + 1] not in lex or tokens[i + 1] in decimals]


def _zeros(tokens: list[str]) -> list[str]:
    """A run of "oh"/"o" is zeros after a number ("nine oh", "double oh seven") or before two
    spelled digits ("oh seven seven", "oh five oh"); not in "oh, one more thing" or "o'clock".

    Only spelled digits count after the run: the number reader turns them into
    digits, so a second pass over the result sees no reason to read "oh" anew.
    """
    if _WHISPER_ZEROS[0] not in tokens and _WHISPER_ZEROS[1] not in tokens:
        return tokens
    out = list(tokens)
    n = len(tokens)
    i = 0
    while i < n:
        if tokens[i] not in _WHISPER_ZEROS:
            i += 1
            continue
        j = i
        while j < n and tokens[j] in _WHISPER_ZEROS:
            j += 1
        after = tokens[j] if j < n else None
        before = tokens[i - 1] if i else None
        then = tokens[j + 1] if j + 1 < n else None
        spelled_digits = after in _DIGIT_WORDS and (then in _DIGIT_WORDS or then in _WHISPER_ZEROS)
        if after != "clock" and (_numberish(before) or spelled_digits):
            out[i:j] = ["zero"] * (j - i)
        i = j
    return out


_DIGIT_RUN_RE = re.compile(r"(?<!\S)[0-9]+(?: [0-9]+)+(?!\S)")


def _digit_run(m: re.Match) -> str:
    """Adjacent digit groups laid out like a phone number (groups of 2-4 digits, the first may have
    one, seven digits or more in all) are one number, as when spoken: "555 0199" and "555-0199"
    read like "five five five oh one nine nine"."""
    groups = m.group().split(" ")
    if sum(map(len, groups)) >= 7 and len(groups[0]) <= 4 and all(2 <= len(g) <= 4 for g in groups[1:]):
        return "".join(groups)
    return m.group()


def _only_cents(m: re.Match) -> str:
    return f"¢{int(m.group(1))}"


def _read_numbers(tokens: list[str]) -> list[str]:
    """The number rules over the stretches of ``tokens`` that can hold a number.

    A plain word (letters only, no number word, none of "oh a half point bucks")
    is left as it is by every number rule and ends every number; no rule looks
    more than two words past a word it rewrites. So each stretch of other words,
    with two words of context either side, is read on its own, and the rest of
    the sentence is not walked again and again.
    """
    n = len(tokens)
    hot = [i for i, t in enumerate(tokens) if t in _HOT_WORDS or not t.isalpha()]
    if not hot:
        return tokens
    spans: list[list[int]] = []
    for i in hot:
        a, b = max(0, i - 2), min(n, i + 3)
        if spans and a <= spans[-1][1]:
            spans[-1][1] = b
        else:
            spans.append([a, b])
    if len(spans) == 1 and spans[0] == [0, n]:
        return _read_number_stretch(tokens)
    out: list[str] = []
    prev = 0
    for a, b in spans:
        out += tokens[prev:a]
        out += _read_number_stretch(tokens[a:b])
        prev = b
    out += tokens[prev:]
    return out


def _read_number_stretch(tokens: list[str]) -> list[str]:
    s = " ".join(tokens)
    if " and a half" in s:
        s = _HALF_RE.sub(_half, s)
    digits = _HAS_DIGIT_RE.search(s) is not None
    if digits:
        if "k" in s:
            s = _GLUED_K_RE.sub(r"\1 thousand", s)  # "5k", "$2.5k"
        s = digits_apart(s)
    s = " ".join(read_numbers(_spoken_aliases(s.split()), _NUMBER_WORDS))
    if "0." in s:
        s = _ONLY_CENTS_RE.sub(_only_cents, s)
    while "¢" in s:  # "$0 and ¢50" joined to "$0.50" is "¢50", which may join the amount before it
        joined = _ONLY_CENTS_RE.sub(_only_cents, DOLLARS_AND_CENTS.sub(join_cents, s))
        if joined == s:
            break
        s = joined
    if ".0" in s:  # "twenty point oh" is 20, as the written "20.0" reads
        s = _WHOLE_DECIMAL_RE.sub(r"\1", s)
    if " " in s and _HAS_DIGIT_RE.search(s):
        s = _DIGIT_RUN_RE.sub(_digit_run, s)
    words = s.split()
    return [_WHOLE_WORDS.get(t, t) for t in words] if not _WHOLE_WORDS.keys().isdisjoint(words) else words


# --------------------------------------------------------------------------- steps
#
# Each step maps text to text, so steps compose like jiwer's ``Compose``. The
# default chain is arranged for speed without giving up any rule: rules that look
# across spaces run on the whole text (brackets, "he'd been"), rules that stay
# inside one whitespace-separated chunk run per chunk through a cache (``word_rules``:
# fillers, contractions, titles, punctuation, diacritics), and rules over word
# sequences (numbers, spellings) run on the token list.


def lower(s: str) -> str:
    return s.lower()


_CLOCK_RE = re.compile(r"(?<![\d:.])(\d{1,2}):(\d\d)(?![\d:])")
_AREA_CODE_RE = re.compile(r"\((\d{3})\)(?=\s?\d)")
_AM_PM_RE = re.compile(r"\b([ap])\.m\b\.?")


def join_layouts(s: str) -> str:
    """Written layouts a speaker says otherwise: "3:30" -> "330" (as "three thirty" reads), an area code
    in brackets is part of the number ("(555) 123-4567", not an aside), "a.m."/"p.m." -> "am"/"pm"."""
    if ":" in s:
        s = _CLOCK_RE.sub(r"\1\2", s)
    if ")" in s:
        s = _AREA_CODE_RE.sub(r" \1 ", s)
    if ".m" in s:
        s = _AM_PM_RE.sub(r"\1m", s)
    return s


_BRACKETS_RE = re.compile(r"[<\[][^>\]]*[>\]]|\(([^)]+?)\)")


def remove_bracketed(s: str) -> str:
    """Drop annotations such as "[inaudible]", "<noise>" and "(laughs)"."""
    if "[" not in s and "<" not in s and "(" not in s:
        return s
    return _BRACKETS_RE.sub(" ", s)


_SPACE_APOS_RE = re.compile(r"\s+'")
_MULTIWORD = {
    "'d been": " had been",
    "'s been": " has been",
    "'d gone": " had gone",
    "'s gone": " has gone",
    "'d done": " had done",
    "'s got": " has got",
}
_MULTIWORD_RE = re.compile("(?:" + "|".join(_MULTIWORD) + r")\b")


def join_apostrophes(s: str) -> str:
    """Unify apostrophe characters, re-attach detached clitics ("john 's"), expand "he'd been"."""
    if not s.isascii():
        s = _QUOTE_RE.sub("'", s)
    if "'" not in s:
        return s
    s = _SPACE_APOS_RE.sub("'", s)
    return _MULTIWORD_RE.sub(lambda m: _MULTIWORD[m.group()], s)


_FILLER_RE = re.compile(r"\b(?:" + "|".join(FILLERS) + r")\b")
_FILLER_SET = frozenset(FILLERS)


def remove_fillers(s: str) -> str:
    return _FILLER_RE.sub(" ", s)


# One pass over the text: the alternatives are tried in list order at each position,
# which gives the same result as applying the rules one after another (no rule's
# output contains an apostrophe or an abbreviation another rule would rewrite).
_CONTRACTION_RE = re.compile("|".join(f"(?:{p})" for p, _ in CONTRACTIONS))
_CONTRACTION_FIXED = {re.sub(r"\\b|\\\.\?|\\", "", p): r for p, r in CONTRACTIONS}


def _contraction(m: re.Match) -> str:
    t = m.group()
    r = _CONTRACTION_FIXED.get(t) or _CONTRACTION_FIXED.get(t[:-1])
    return r if r is not None else t


def expand_contractions(s: str) -> str:
    return _CONTRACTION_RE.sub(_contraction, s)


_DIGIT_COMMA_RE = re.compile(r"(\d),(\d)")
_PERIOD_RE = re.compile(r"\.([^0-9]|$)")
_KEEP = set(".%$£€¢")


@lru_cache(maxsize=8192)
def _symbol_char(c: str) -> str:
    if c in _KEEP:
        return c
    if unicodedata.category(c)[0] in "MSP":
        return " "
    # folding may turn a compatibility form into symbols ("¼" -> "1⁄4"): space those too
    out = "".join(" " if unicodedata.category(ch)[0] in "MSP" and ch not in _KEEP else ch for ch in fold(c))
    return out or c


_ASCII_SYMBOLS = {ord(c): " " for c in "!\"#&'()*+,-/:;<=>?@[\\]^_`{|}~"}


def remove_symbols(s: str) -> str:
    """Punctuation and symbols become spaces (except . % $ and currency next to numbers); diacritics go."""
    s = _DIGIT_COMMA_RE.sub(r"\1\2", s)
    s = _PERIOD_RE.sub(r" \1", s)
    if s.isascii():
        return s.translate(_ASCII_SYMBOLS)
    return "".join(map(_symbol_char, s))


_STRAY_PREFIX_RE = re.compile(r"[.$¢€£]([^0-9]|$)")
_STRAY_SUFFIX_RE = re.compile(r"(^|[^0-9])%")
_MARKS = frozenset(".$¢€£%")


def tidy(s: str) -> str:
    """Drop currency/percent/period marks that are not attached to a number; single spaces."""
    if not _MARKS.isdisjoint(s):
        s = _STRAY_PREFIX_RE.sub(r" \1", s)
        s = _STRAY_SUFFIX_RE.sub(r"\1 ", s)
        s = _STRAY_PREFIX_RE.sub(r" \1", s)
    return " ".join(s.split())


def strip_marks(s: str) -> str:
    """Fold (``asr_eval.fold``) before the word rules, so "Dṛ" meets the rule for "dr".

    The same fold gives a protected term its light form, which is why a term and
    the same letters outside any term normalise alike ("Małgorzata" -> "malgorzata"
    either way). Decomposition can produce apostrophe look-alikes ("ŉ" -> "ʼn");
    they are unified too.
    """
    if s.isascii():
        return s
    return _QUOTE_RE.sub("'", fold(s))


@lru_cache(maxsize=1 << 17)
def _chunk_words(chunk: str) -> tuple[str, ...]:
    words = tidy(remove_symbols(expand_contractions(strip_marks(chunk)))).split()
    return tuple(w for w in words if w not in _FILLER_SET)


def word_rules(s: str) -> str:
    """Diacritics, contractions and titles, punctuation, fillers: per chunk, cached (chunks repeat)."""
    out: list[str] = []
    for c in s.split():
        out.extend(_chunk_words(c))
    return " ".join(out)


def standardize_numbers(s: str) -> str:
    tokens = s.split()
    if _NUMBER_TRIGGERS.isdisjoint(tokens) and not _HAS_DIGIT_RE.search(s):
        return s
    return " ".join(_read_numbers(tokens))


def standardize_spellings(s: str) -> str:
    tokens = s.split()
    if SPELLINGS.keys().isdisjoint(tokens):
        return s
    return " ".join([SPELLINGS.get(t, t) for t in tokens])


DEFAULT_STEPS: tuple[Step, ...] = (
    lower,
    join_layouts,
    remove_bracketed,
    join_apostrophes,
    word_rules,
    standardize_numbers,
    standardize_spellings,
    tidy,
)


def _default_chain(s: str) -> str:
    """``DEFAULT_STEPS`` fused into one pass over a token list (same output; tests compare)."""
    s = join_layouts(s.lower())
    if "[" in s or "<" in s or "(" in s:
        s = _BRACKETS_RE.sub(" ", s)
    if "'" in s or not s.isascii():
        s = join_apostrophes(s)
    words: list[str] = []
    chunk = _chunk_words
    for c in s.split():
        words.extend(chunk(c))
    out = " ".join(words)
    if not _NUMBER_TRIGGERS.isdisjoint(words) or _HAS_DIGIT_RE.search(out):
        words = _read_numbers(words)
        out = " ".join(words)
        if not _MARKS.isdisjoint(out):  # a symbol the reader put before something that is not a number
            words = tidy(out).split()
            out = " ".join(words)
    if not SPELLINGS.keys().isdisjoint(words):
        out = " ".join([SPELLINGS.get(t, t) for t in words])
    return out


def run_steps(steps: Sequence[Step], s: str) -> str:
    """Apply ``steps`` in order; the default chain runs fused."""
    if steps is DEFAULT_STEPS:
        return _default_chain(s)
    for step in steps:
        s = step(s)
    return " ".join(s.split())


# --------------------------------------------------------------------------- protection


@dataclass(frozen=True)
class Protector:
    """Finds vocabulary terms in raw text by their light tokens, with the scorer's matcher.

    The raw text is folded and split into words exactly as a term's light form is,
    and ``matching.PhraseIndex`` (the one the scorer uses) picks the runs: leftmost,
    then longest. A match is kept only if it covers whole raw characters: a fold
    that expands one character into two words ("½" -> "1⁄2") cannot be cut in half.
    """

    forms: frozenset[tuple[str, ...]] = frozenset()
    index: PhraseIndex[tuple[str, ...]] = field(
        default_factory=lambda: PhraseIndex({}), compare=False, hash=False)

    @classmethod
    def from_forms(cls, forms: Iterable[str]) -> "Protector":
        toks = {light_tokens(f) for f in forms}
        toks.discard(())
        return cls(frozenset(toks), PhraseIndex.build((t, t) for t in sorted(toks)))

    def spans(self, text: str) -> list[tuple[int, int, tuple[str, ...]]]:
        """Character spans (start, end, light tokens) of protected runs in ``text``."""
        if not self.forms:
            return []
        found = self.index.find(_WORD_RE.findall(_light(text)))
        if not found:
            return []
        if text.isascii():  # the common case: folding is lower(), one character for one
            matches = list(_WORD_RE.finditer(text.lower()))
            origin = None
        else:
            folded, origin = fold_with_origins(text)
            matches = list(_WORD_RE.finditer(_QUOTE_RE.sub("'", folded)))  # as in _light; one character for one
        if origin is None:
            return [(matches[i].start(), matches[e - 1].end(), toks) for i, e, toks in found]
        out = []
        n = len(origin) - 1
        for i, e, toks in found:
            a, b = matches[i].start(), matches[e - 1].end()
            if (a > 0 and origin[a - 1] == origin[a]) or (b < n and origin[b - 1] == origin[b]):
                continue  # starts or ends inside the fold of one raw character
            out.append((origin[a], origin[b], toks))
        return out


# --------------------------------------------------------------------------- normaliser


@dataclass(frozen=True)
class Normalizer:
    """Composable text normaliser with a protected vocabulary.

    ``steps`` run in order on text in which protected terms have been replaced by
    placeholders; the terms come back as their light tokens. ``version`` names the
    rules and is recorded in every output.
    """

    steps: tuple[Step, ...] = DEFAULT_STEPS
    version: str = NORMALIZER_VERSION
    protector: Protector = field(default_factory=Protector)
    name: str = "asr-eval"
    # a protected term comes back as its raw words (case and punctuation kept), not its light tokens
    raw_terms: bool = False

    def __call__(self, text: str) -> str:
        return self.normalize_with_sources(text)[0]

    def words(self, text: str) -> list[str]:
        s = self(text)
        return s.split() if s else []

    def normalize_with_sources(self, text: str) -> tuple[str, tuple[tuple[int, int, str], ...]]:
        """Normalised text plus, for each protected run, (first word index, word count, raw text).

        The raw text lets the scorer judge display-form accuracy (case, spelling,
        diacritics) on exactly the words that were protected.
        """
        if not text.isascii() and _PLACEHOLDER_RE.search(text):
            text = _PLACEHOLDER_RE.sub(" ", text)  # our placeholders must not come from outside
        spans = self.protector.spans(text)
        if not spans:
            return run_steps(self.steps, text), ()
        parts = []
        prev = 0
        for k, (start, end, _) in enumerate(spans):
            parts.append(text[prev:start])
            parts.append(f" {chr(_PLACEHOLDER_BASE + k)} ")
            prev = end
        parts.append(text[prev:])
        s = run_steps(self.steps, "".join(parts))
        words = s.split()
        out_words: list[str] = []
        sources: list[tuple[int, int, str]] = []
        for w in words:
            if w.isascii():
                out_words.append(w)
            elif len(w) == 1 and _PLACEHOLDER_RE.match(w):
                k = ord(w) - _PLACEHOLDER_BASE
                start, end, toks = spans[k]
                if self.raw_terms:
                    toks = tuple(text[start:end].split())
                sources.append((len(out_words), len(toks), text[start:end]))
                out_words.extend(toks)
            elif _PLACEHOLDER_RE.search(w):
                # a placeholder glued to something else (should not happen): restore in place
                for piece in re.split(r"([\U000F0000-\U000FFFFD])", w):
                    if piece and _PLACEHOLDER_RE.match(piece):
                        start, end, toks = spans[ord(piece) - _PLACEHOLDER_BASE]
                        out_words.extend(text[start:end].split() if self.raw_terms else toks)
                    elif piece:
                        out_words.append(piece)
            else:
                out_words.append(w)
        return " ".join(out_words), tuple(sources)

    def with_terms(self, forms: Iterable[str]) -> "Normalizer":
        """A normaliser protecting these written forms as well."""
        extra = Protector.from_forms(forms)
        if extra.forms <= self.protector.forms:
            return self
        return _with_forms(self, frozenset(extra.forms))


@lru_cache(maxsize=256)
def _with_forms(base: Normalizer, extra: frozenset[tuple[str, ...]]) -> Normalizer:
    forms = base.protector.forms | extra
    return replace(base, protector=Protector.from_forms(" ".join(f) for f in forms))


def protected_forms(terms: Sequence[Term]) -> list[str]:
    """Every written form of every term (display and aliases; sounds-like hints are not words to keep)."""
    return [f for t in terms for f in t.written_forms if f and f.strip()]


def make_normalizer(terms: Sequence[Term] = (), steps: Sequence[Step] | None = None) -> Normalizer:
    """The default English normaliser, protecting every written form of ``terms``."""
    return Normalizer(
        tuple(steps) if steps is not None else DEFAULT_STEPS,
        NORMALIZER_VERSION,
        Protector.from_forms(protected_forms(terms)),
    )


# --------------------------------------------------------------------------- the choice of normaliser

NORMALIZER_NAMES = ("asr-eval", "whisper", "none")


@dataclass(frozen=True)
class WhisperNormalizer:
    """``--normalizer whisper``: openai-whisper's English rules exactly (``asr_eval.normalize_whisper``).

    Nothing is protected, so WER equals what the Open ASR Leaderboard's
    normaliser gives; terms are matched after the same rules (a term's written
    forms are normalised by this very function). The protector only locates
    terms in the raw text so that display-form accuracy can still be judged: a
    term's source is kept when the normalised text has, at the term's place,
    exactly the words the term alone normalises to.
    """

    spellings: Spellings
    protector: Protector = field(default_factory=Protector)
    name: str = "whisper"

    @property
    def version(self) -> str:
        return f"{WHISPER_RULES_VERSION}+spellings-{self.spellings.source}"

    def _norm(self, text: str) -> str:
        return normalize_english(text, self.spellings.table).strip()

    def __call__(self, text: str) -> str:
        return self._norm(text)

    def words(self, text: str) -> list[str]:
        return self._norm(text).split()

    def normalize_with_sources(self, text: str) -> tuple[str, tuple[tuple[int, int, str], ...]]:
        out = self._norm(text)
        spans = self.protector.spans(text)
        if not spans:
            return out, ()
        words = out.split()
        sources: list[tuple[int, int, str]] = []
        for start, end, _ in spans:
            span = self._norm(text[start:end]).split()
            at = len(self._norm(text[:start]).split())
            if span and words[at : at + len(span)] == span:
                sources.append((at, len(span), text[start:end]))
        return out, tuple(sources)

    def with_terms(self, forms: Iterable[str]) -> "WhisperNormalizer":
        extra = Protector.from_forms(forms)
        if extra.forms <= self.protector.forms:
            return self
        both = self.protector.forms | extra.forms
        return replace(self, protector=Protector.from_forms(" ".join(f) for f in both))


# asr-eval's own British -> American list, for --normalizer whisper when openai-whisper is not installed
CURATED_SPELLINGS = Spellings("asr-eval-curated", SPELLINGS)


def get_normalizer(name: str = "asr-eval", terms: Sequence[Term] = (), *,
                   whisper_spellings: Spellings | None = None) -> "Normalizer | WhisperNormalizer":
    """The normaliser called ``name``, protecting (or, for ``whisper``, locating) every written form of ``terms``.

    - ``asr-eval``: the default, term-protecting rules of this module;
    - ``whisper``: openai-whisper's ``EnglishTextNormalizer`` exactly; its
      British -> American map is ``whisper_spellings`` (``asr_eval.whisper_spellings``
      reads openai-whisper's own), else asr-eval's curated list, and the version says which;
    - ``none``: case- and punctuation-sensitive words split on whitespace (fstalign's
      formatted WER); a protected term is cut out of the punctuation around it and
      kept as written, so "PayNimbus." still holds the term "PayNimbus".

    Every normaliser has ``name``, ``version``, ``__call__``, ``words``,
    ``normalize_with_sources`` and ``with_terms``: the scorer needs nothing else.
    """
    protector = Protector.from_forms(protected_forms(terms))
    if name == "asr-eval":
        return Normalizer(DEFAULT_STEPS, NORMALIZER_VERSION, protector)
    if name == "whisper":
        return WhisperNormalizer(whisper_spellings or CURATED_SPELLINGS, protector)
    if name == "none":
        return Normalizer((), NONE_VERSION, protector, name="none", raw_terms=True)
    raise ValueError(f"unknown normaliser {name!r}: choose one of {', '.join(NORMALIZER_NAMES)}")
