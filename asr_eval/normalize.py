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
the implementation and word lists here are our own and deliberately simpler
(numbers become digits; British spellings from a curated list become American).
See docs/scoring.md for the rule list. Bump ``NORMALIZER_VERSION`` whenever any
output can change: the version is written into every result.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Mapping, Sequence

from asr_eval.fold import fold, fold_with_origins
from asr_eval.matching import PhraseIndex
from asr_eval.types import Term

NORMALIZER_VERSION = "en-whisper-asr-eval-2"  # 2: one fold (asr_eval.fold); see docs/scoring.md

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

_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_ORDINAL_UNITS = {
    "first": (1, "st"), "second": (2, "nd"), "third": (3, "rd"), "fourth": (4, "th"),
    "fifth": (5, "th"), "sixth": (6, "th"), "seventh": (7, "th"), "eighth": (8, "th"),
    "ninth": (9, "th"), "tenth": (10, "th"), "eleventh": (11, "th"), "twelfth": (12, "th"),
    "thirteenth": (13, "th"), "fourteenth": (14, "th"), "fifteenth": (15, "th"),
    "sixteenth": (16, "th"), "seventeenth": (17, "th"), "eighteenth": (18, "th"),
    "nineteenth": (19, "th"),
    **{w[:-1] + "ieth": (v, "th") for w, v in _TENS.items()},
}
_CURRENCY = {"dollar": "$", "dollars": "$", "pound": "£", "pounds": "£", "euro": "€", "euros": "€"}
_NUMBER_WORDS = set(_UNITS) | set(_TENS) | {"hundred"} | set(_SCALES)
_NUMBER_ANY = frozenset(_NUMBER_WORDS | set(_ORDINAL_UNITS))


class _NumberParser:
    """Turns runs of spelled-out numbers into digits.

    Adjacent numbers in one run are written together ("nineteen eighty four" ->
    "1984", "one oh one" -> "101"), as Whisper does for years and codes. A lone
    "one" stays a word ("no one", "the one"), and a lone digit "1" becomes "one"
    so both spellings meet.
    """

    def __call__(self, tokens: list[str]) -> list[str]:
        if "1" in tokens:
            tokens = ["one" if t == "1" else t for t in tokens]
        out: list[str] = []
        i, n = 0, len(tokens)
        while i < n:
            t = tokens[i]
            if t not in _NUMBER_ANY and not t[:1].isdigit():
                out.append(t)
                i += 1
                continue
            if t in _NUMBER_WORDS:
                j, text = self._run(tokens, i)
                if text == "1" and j == i + 1:
                    out.append("one")
                else:
                    out.append(text)
                i = j
                continue
            if t in _ORDINAL_UNITS and t not in ("first", "second"):
                value, suffix = _ORDINAL_UNITS[t]
                out.append(f"{value}{suffix}")
                i += 1
                continue
            if t.isdigit() and i + 1 < n and tokens[i + 1] in _SCALES and len(t) < 16:
                out.append(str(int(t) * _SCALES[tokens[i + 1]]))
                i += 2
                continue
            out.append(t)
            i += 1
        if _SYMBOL_WORDS.isdisjoint(out):
            return out
        return self._symbols(out)

    def _run(self, tokens: list[str], i: int) -> tuple[int, str]:
        """Parse from tokens[i]; returns (next index, digits)."""
        pieces: list[str] = []
        total = cur = 0
        last: str | None = None  # kind of the previous token in the current number
        have = False
        scale_cap = 10**15
        n = len(tokens)

        def close() -> None:
            nonlocal total, cur, last, have, scale_cap
            if have:
                pieces.append(str(total + cur))
            total = cur = 0
            last = None
            have = False
            scale_cap = 10**15

        while i < n:
            t = tokens[i]
            if t in ("oh", "o") and (have or pieces) and i + 1 < n and tokens[i + 1] in _UNITS and _UNITS[tokens[i + 1]] < 10:
                close()
                pieces.append("0")
                i += 1
                continue
            if t in _UNITS:
                u = _UNITS[t]
                if not (last is None or (last == "tens" and u < 10) or last in ("hundred", "scale")):
                    close()
                cur += u
                last, have = "unit", True
            elif t in _TENS:
                if last not in (None, "hundred", "scale"):
                    close()
                cur += _TENS[t]
                last, have = "tens", True
            elif t == "hundred":
                if last == "unit" and 0 < cur < 10:
                    cur *= 100
                elif last is None:
                    cur = 100
                else:
                    close()
                    cur = 100
                last, have = "hundred", True
            elif t in _SCALES:
                s = _SCALES[t]
                if last in ("unit", "tens", "hundred") and s < scale_cap:
                    total += cur * s
                    cur = 0
                    scale_cap = s
                else:
                    close()
                    total = s
                    scale_cap = s
                last, have = "scale", True
            elif t == "and" and last in ("hundred", "scale") and i + 1 < n and (tokens[i + 1] in _UNITS or tokens[i + 1] in _TENS):
                pass
            elif t == "point" and have and i + 1 < n and tokens[i + 1] in _UNITS and _UNITS[tokens[i + 1]] < 10:
                close()
                digits = []
                i += 1
                while i < n and tokens[i] in _UNITS and _UNITS[tokens[i]] < 10:
                    digits.append(str(_UNITS[tokens[i]]))
                    i += 1
                pieces[-1] = pieces[-1] + "." + "".join(digits)
                continue
            elif t in _ORDINAL_UNITS and last in ("tens", "hundred", "scale") and (last != "tens" or _ORDINAL_UNITS[t][0] < 10):
                value, suffix = _ORDINAL_UNITS[t]
                cur += value
                pieces.append(str(total + cur))
                pieces[-1] += suffix
                total = cur = 0
                last, have = None, False
                i += 1
                break
            else:
                break
            i += 1
        close()
        return i, "".join(pieces)

    @staticmethod
    def _symbols(tokens: list[str]) -> list[str]:
        out: list[str] = []
        i, n = 0, len(tokens)
        while i < n:
            t = tokens[i]
            nxt = tokens[i + 1] if i + 1 < n else None
            if _is_number(t) and nxt in _CURRENCY:
                out.append(_CURRENCY[nxt] + t)
                i += 2
                continue
            if _is_number(t) and nxt == "percent":
                out.append(t + "%")
                i += 2
                continue
            if _is_number(t) and nxt == "per" and i + 2 < n and tokens[i + 2] == "cent":
                out.append(t + "%")
                i += 3
                continue
            out.append(t)
            i += 1
        return out


_NUMBER_RE = re.compile(r"^\d+(\.\d+)?$")


def _is_number(t: str) -> bool:
    return t[:1].isdigit() and _NUMBER_RE.match(t) is not None


_SYMBOL_WORDS = frozenset(_CURRENCY) | {"percent", "per"}


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


_NUMBERS = _NumberParser()
_HAS_DIGIT_RE = re.compile(r"\d")


def standardize_numbers(s: str) -> str:
    tokens = s.split()
    if _NUMBER_TRIGGERS.isdisjoint(tokens) and not _HAS_DIGIT_RE.search(s):
        return s
    return " ".join(_NUMBERS(tokens))


def standardize_spellings(s: str) -> str:
    tokens = s.split()
    if SPELLINGS.keys().isdisjoint(tokens):
        return s
    return " ".join([SPELLINGS.get(t, t) for t in tokens])


_NUMBER_TRIGGERS = frozenset(_NUMBER_WORDS | set(_ORDINAL_UNITS))

DEFAULT_STEPS: tuple[Step, ...] = (
    lower,
    remove_bracketed,
    join_apostrophes,
    word_rules,
    standardize_numbers,
    standardize_spellings,
    tidy,
)


def _default_chain(s: str) -> str:
    """``DEFAULT_STEPS`` fused into one pass over a token list (same output; tests compare)."""
    s = s.lower()
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
        words = _NUMBERS(words)
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
                sources.append((len(out_words), len(toks), text[start:end]))
                out_words.extend(toks)
            elif _PLACEHOLDER_RE.search(w):
                # a placeholder glued to something else (should not happen): restore in place
                for piece in re.split(r"([\U000F0000-\U000FFFFD])", w):
                    if piece and _PLACEHOLDER_RE.match(piece):
                        out_words.extend(spans[ord(piece) - _PLACEHOLDER_BASE][2])
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
    return Normalizer(base.steps, base.version, Protector.from_forms(" ".join(f) for f in forms))


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
