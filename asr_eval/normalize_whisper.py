"""OpenAI Whisper's ``EnglishTextNormalizer``, rule for rule, so WER compares with published numbers.

Why: the Open ASR Leaderboard and most papers score English with openai-whisper's
normaliser (``whisper/normalizers/english.py``, ``basic.py``, ``english.json``;
MIT licence). A user who wants to put asr-eval's WER beside those numbers needs
that normaliser's output exactly, quirks included ("ninth" stays a word while
"nineth" becomes "9th"; "$2.00" becomes "$2"; "point" before "hundred" vanishes).
This module is our own implementation of the same behaviour, tested for string
equality against the real one on generated sentences (tests/test_normalize_whisper.py).

It is deliberately *not* term-protecting: protection would change the text and
with it the WER the leaderboard would report. Vocabulary terms are normalised by
the same function, which keeps term matching consistent (see docs/normalization.md).

The British -> American spelling map is data, not rules: the real map is read
from the installed openai-whisper package by ``asr_eval.whisper_spellings`` (an
I/O module) and passed in; without it the caller passes asr-eval's curated list
and the version string says so.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping

RULES_VERSION = "whisper-english-20250625"  # the openai-whisper release whose rules this reproduces


@dataclass(frozen=True)
class Spellings:
    """A British -> American word map and where it came from (named in the normaliser's version)."""

    source: str
    table: Mapping[str, str] = field(compare=False, hash=False, repr=False)

# --------------------------------------------------------------------------- text rules

_BRACKETED = re.compile(r"[<\[][^>\]]*[>\]]")
_PARENTHESISED = re.compile(r"\(([^)]+?)\)")
_FILLERS = re.compile(r"\b(hmm|mm|mhm|mmm|uh|um)\b")
_SPACE_BEFORE_APOSTROPHE = re.compile(r"\s+'")

# Whole-word rewrites, applied one after another over the whole text, in this order.
_WORD_REWRITES: tuple[tuple[str, str], ...] = (
    ("won't", "will not"), ("can't", "can not"), ("let's", "let us"), ("ain't", "aint"),
    ("y'all", "you all"), ("wanna", "want to"), ("gotta", "got to"), ("gonna", "going to"),
    ("i'ma", "i am going to"), ("imma", "i am going to"), ("woulda", "would have"),
    ("coulda", "could have"), ("shoulda", "should have"), ("ma'am", "madam"),
    # abbreviated titles (the trailing space is Whisper's)
    ("mr", "mister "), ("mrs", "missus "), ("st", "saint "), ("dr", "doctor "), ("prof", "professor "),
    ("capt", "captain "), ("gov", "governor "), ("ald", "alderman "), ("gen", "general "),
    ("sen", "senator "), ("rep", "representative "), ("pres", "president "), ("rev", "reverend "),
    ("hon", "honorable "), ("asst", "assistant "), ("assoc", "associate "), ("lt", "lieutenant "),
    ("col", "colonel "), ("jr", "junior "), ("sr", "senior "), ("esq", "esquire "),
)
# Clitic rewrites: the clitic must end a word but may start anywhere.
_CLITIC_REWRITES: tuple[tuple[str, str], ...] = (
    ("'d been", " had been"), ("'s been", " has been"), ("'d gone", " had gone"),
    ("'s gone", " has gone"), ("'d done", " had done"), ("'s got", " has got"),
    ("n't", " not"), ("'re", " are"), ("'s", " is"), ("'d", " would"), ("'ll", " will"),
    ("'t", " not"), ("'ve", " have"), ("'m", " am"),
)
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    *((re.compile(r"\b" + re.escape(w) + r"\b"), r) for w, r in _WORD_REWRITES),
    *((re.compile(re.escape(c) + r"\b"), r) for c, r in _CLITIC_REWRITES),
)
# A cheap test for whether any rewrite can apply: each needs one of these substrings.
_REWRITE_TRIGGERS = frozenset(w for w, _ in _WORD_REWRITES if "'" not in w) | {"'"}

_DIGIT_COMMA = re.compile(r"(\d),(\d)")
_PERIOD_NOT_DECIMAL = re.compile(r"\.([^0-9]|$)")
_KEEP = frozenset(".%$¢€£")
# letters NFKD leaves whole, spelled out as Whisper's basic normaliser does
_LETTERS = {"œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ẞ": "SS",
            "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "th", "ł": "l", "Ł": "L"}
_STRAY_PREFIX = re.compile(r"[.$¢€£]([^0-9])")
_STRAY_PERCENT = re.compile(r"([^0-9])%")
_SPACES = re.compile(r"\s+")


def _char(c: str) -> str:
    if c in _KEEP:
        return c
    if c in _LETTERS:
        return _LETTERS[c]
    cat = unicodedata.category(c)
    if cat == "Mn":
        return ""
    return " " if cat[0] in "MSP" else c


def strip_symbols(s: str) -> str:
    """NFKD; combining marks dropped, other marks/symbols/punctuation to spaces, except ``. % $ ¢ € £``."""
    s = unicodedata.normalize("NFKD", s)
    return "".join(map(_char, s))


def _rewrite(s: str) -> str:
    if not any(t in s for t in _REWRITE_TRIGGERS):
        return s
    for pattern, replacement in _REWRITES:
        s = pattern.sub(replacement, s)
    return s


# --------------------------------------------------------------------------- numbers

# token kinds
(_ZERO, _ONE, _ONE_SUFFIXED, _TEN, _TEN_SUFFIXED, _MULTIPLIER, _MULTIPLIER_SUFFIXED,
 _SIGN, _CURRENCY, _PERCENT, _PER, _AND, _REPEAT, _POINT) = range(14)

_ONES = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_POWERS = ("thousand million billion trillion quadrillion quintillion sextillion septillion octillion "
           "nonillion decillion").split()
_SIGNS = {"minus": "-", "negative": "-", "plus": "+", "positive": "+"}
_CURRENCIES = {"pound": "£", "pounds": "£", "euro": "€", "euros": "€", "dollar": "$", "dollars": "$",
               "cent": "¢", "cents": "¢"}
_PREFIX_CHARS = frozenset(_SIGNS.values()) | frozenset(_CURRENCIES.values())


def _ordinal_of(name: str, n: int) -> tuple[str, str]:
    """Whisper's ordinal spelling of a unit word: a few by hand, the rest by adding "th" ("h" after t)."""
    special = {1: ("first", "st"), 2: ("second", "nd"), 3: ("third", "rd"), 5: ("fifth", "th"), 12: ("twelfth", "th")}
    if n in special:
        return special[n]
    return (name + "h" if name.endswith("t") else name + "th"), "th"


def _lexicon() -> dict[str, tuple[int, object, str]]:
    """word -> (kind, value, suffix). When a word could be two kinds, the kind tried first wins."""
    entries: list[tuple[str, tuple[int, object, str]]] = []
    entries += [(w, (_ZERO, 0, "")) for w in ("o", "oh", "zero")]
    entries += [(w, (_ONE, n, "")) for n, w in enumerate(_ONES, 1)]
    entries += [("sixes" if w == "six" else w + "s", (_ONE_SUFFIXED, n, "s")) for n, w in enumerate(_ONES, 1)]
    entries += [("zeroth", (_ONE_SUFFIXED, 0, "th"))]
    for n, w in enumerate(_ONES, 1):
        word, suffix = _ordinal_of(w, n)
        entries.append((word, (_ONE_SUFFIXED, n, suffix)))
    entries += [(w, (_TEN, 10 * n, "")) for n, w in enumerate(_TENS, 2)]
    entries += [(w.replace("y", "ies"), (_TEN_SUFFIXED, 10 * n, "s")) for n, w in enumerate(_TENS, 2)]
    entries += [(w.replace("y", "ieth"), (_TEN_SUFFIXED, 10 * n, "th")) for n, w in enumerate(_TENS, 2)]
    multipliers = {"hundred": 100, **{w: 1000 ** k for k, w in enumerate(_POWERS, 1)}}
    entries += [(w, (_MULTIPLIER, m, "")) for w, m in multipliers.items()]
    entries += [(w + "s", (_MULTIPLIER_SUFFIXED, m, "s")) for w, m in multipliers.items()]
    entries += [(w + "th", (_MULTIPLIER_SUFFIXED, m, "th")) for w, m in multipliers.items()]
    entries += [(w, (_SIGN, sym, "")) for w, sym in _SIGNS.items()]
    entries += [(w, (_CURRENCY, sym, "")) for w, sym in _CURRENCIES.items()]
    entries += [("per", (_PER, "%", "")), ("percent", (_PERCENT, "%", ""))]
    entries += [("and", (_AND, 0, "")), ("double", (_REPEAT, 2, "")), ("triple", (_REPEAT, 3, "")),
                ("point", (_POINT, 0, ""))]
    out: dict[str, tuple[int, object, str]] = {}
    for word, entry in entries:
        if word not in out or entry[0] < out[word][0]:
            out[word] = entry
    return out


class NumberWords:
    """A number lexicon and the word sets the reader derives from it (Whisper's, or an extension of it)."""

    def __init__(self, lexicon: Mapping[str, tuple[int, object, str]], keep_leading_zeros: bool = False,
                 apart_from_digits: frozenset[str] = frozenset(), symbol_twice: bool = True) -> None:
        self.lex = dict(lexicon)
        self.multipliers = frozenset(w for w, (k, _, _) in self.lex.items() if k == _MULTIPLIER)
        self.decimals = frozenset(w for w, (k, _, _) in self.lex.items() if k in (_ZERO, _ONE, _TEN))
        self.unit_or_zero = frozenset(w for w, (k, _, _) in self.lex.items() if k in (_ZERO, _ONE))
        # "007" stays "007" (a code) instead of becoming 7, as Whisper makes it
        self.keep_leading_zeros = keep_leading_zeros
        # Whisper reads "20 one" as 21; these words start a new number after one written in digits
        self.apart_from_digits = apart_from_digits
        # Whisper reads "$20 percent" as "$20%" and "$20 pounds" as "£20"; without this the word stays
        self.symbol_twice = symbol_twice

    def extended(self, extra: Mapping[str, tuple[int, object, str]], keep_leading_zeros: bool,
                 apart_from_digits: frozenset[str] = frozenset(), symbol_twice: bool = True) -> "NumberWords":
        return NumberWords({**self.lex, **extra}, keep_leading_zeros, apart_from_digits, symbol_twice)


WHISPER_WORDS = NumberWords(_lexicon())
ORDINAL_UNIT = _ONE_SUFFIXED  # the kind of "first" ... "nineteenth", for lexicon extensions
_NUMERAL = re.compile(r"^\d+(\.\d+)?$")
_SIGNED_NUMERAL = re.compile(r"^[-+£€$¢]?\d+(\.\d+)?$")



_AND_A_HALF = re.compile(r"\band\s+a\s+half\b")
_LETTER_DIGIT = re.compile(r"([a-z])([0-9])")
_DIGIT_LETTER = re.compile(r"([0-9])([a-z])")
_DIGIT_SUFFIX = re.compile(r"([0-9])\s+(st|nd|rd|th|s)\b")
DOLLARS_AND_CENTS = re.compile(r"([€£$])([0-9]+) (?:and )?¢([0-9]{1,2})\b")
_ONLY_CENTS = re.compile(r"[€£$]0.([0-9]{1,2})\b")
_LONE_ONE = re.compile(r"\b1(s?)\b")


def _fraction(s: object) -> Fraction | None:
    try:
        return Fraction(s)  # type: ignore[arg-type]
    except (ValueError, TypeError, ZeroDivisionError):
        return None


def halves(s: str, words: NumberWords = WHISPER_WORDS) -> str:
    """"<number> and a half" -> "<number> point five"; text between the halves is kept as Whisper keeps it."""
    pieces = _AND_A_HALF.split(s)
    kept: list[str] = []
    last = len(pieces) - 1
    for i, piece in enumerate(pieces):
        if not piece.strip():
            continue  # an empty stretch drops its "and a half" too, as in Whisper
        kept.append(piece)
        if i < last:
            word = piece.split()[-1]
            kept.append("point five" if word in words.decimals or word in words.multipliers else "and a half")
    return " ".join(kept)


def digits_apart(s: str) -> str:
    """Digits and letters are separate words ("q3" -> "q 3"), except ordinal and plural endings ("3rd", "1990s")."""
    s = _LETTER_DIGIT.sub(r"\1 \2", s)
    s = _DIGIT_LETTER.sub(r"\1 \2", s)
    return _DIGIT_SUFFIX.sub(r"\1\2", s)


def _join(value: object, n: int, prev_kind: int | None, big: int) -> object:
    """``value`` followed by the number ``n`` (a unit below ``big``, or a ten): added or written after it."""
    if isinstance(value, str) or prev_kind == _ONE:
        if prev_kind == _TEN and n < 10 and isinstance(value, str) and value.endswith("0"):
            return value[:-1] + str(n)
        return f"{value}{n}"
    assert isinstance(value, int)
    return value + n if value % big == 0 else f"{value}{n}"


class _NumberReader:
    """One pass over the words, as Whisper's ``EnglishNumberNormalizer.process_words`` makes it.

    State: the number being read (``value``: an int, or a string once digits have
    been written side by side or a decimal point seen) and a sign or currency
    symbol waiting to be written before it (``prefix``).
    """

    __slots__ = ("value", "prefix", "out", "words")

    def __init__(self, words: NumberWords = WHISPER_WORDS) -> None:
        self.words = words
        self.value: object = None
        self.prefix: str | None = None
        self.out: list[str] = []

    def emit(self, item: object) -> None:
        text = str(item)
        if self.prefix is not None:
            text = self.prefix + text
        self.out.append(text)
        self.value = None
        self.prefix = None

    def flush(self) -> None:
        if self.value is not None:
            self.emit(self.value)

    def read(self, words: list[str]) -> list[str]:
        n = len(words)
        skip = False
        lex = self.words.lex
        for i, word in enumerate(words):
            if skip:
                skip = False
                continue
            prev = words[i - 1] if i else None
            nxt = words[i + 1] if i + 1 < n else None
            prev_kind = lex[prev][0] if prev in lex else None
            nxt_numeric = nxt is not None and _NUMERAL.match(nxt) is not None
            if self._numeral(word):
                continue
            entry = lex.get(word)
            if entry is None:
                self.flush()
                self.emit(word)
                continue
            kind, amount, suffix = entry
            if (word in self.words.apart_from_digits and self.value is not None
                    and prev is not None and _SIGNED_NUMERAL.match(prev)):
                self.flush()
            elif (_CURRENCY <= kind <= _PER and self.prefix is not None and self.value is not None
                    and not self.words.symbol_twice):
                self.flush()  # "$20 dollars", "$20 percent" keep their word: the number has its symbol
            value = self.value
            if kind == _ZERO:
                self.value = f"{value or ''}0"
            elif kind in (_ONE, _ONE_SUFFIXED):
                assert isinstance(amount, int)
                joined = amount if value is None else _join(value, amount, prev_kind, 10 if amount < 10 else 100)
                if kind == _ONE:
                    self.value = joined
                else:
                    self.emit(f"{joined}{suffix}")
            elif kind in (_TEN, _TEN_SUFFIXED):
                assert isinstance(amount, int)
                if value is None:
                    joined: object = amount
                elif isinstance(value, str):
                    joined = f"{value}{amount}"
                else:
                    joined = _join(value, amount, None, 100)
                if kind == _TEN:
                    self.value = joined
                else:
                    self.emit(f"{joined}{suffix}")
            elif kind == _MULTIPLIER:
                assert isinstance(amount, int)
                self._multiply(amount)
            elif kind == _MULTIPLIER_SUFFIXED:
                assert isinstance(amount, int)
                self._multiply_suffixed(amount, suffix)
            elif kind == _SIGN:
                self.flush()
                if nxt in lex or nxt_numeric:
                    self.prefix = str(amount)
                else:
                    self.emit(word)
            elif kind == _CURRENCY:
                if value is not None:
                    self.prefix = str(amount)
                    self.emit(value)
                else:
                    self.emit(word)
            elif kind == _PERCENT:
                if value is not None:
                    self.emit(f"{value}%")
                else:
                    self.emit(word)
            elif kind == _PER:
                if value is None:
                    self.emit(word)
                elif nxt == "cent":
                    self.emit(f"{value}%")
                    skip = True
                else:
                    self.emit(value)
                    self.emit(word)
            elif nxt not in lex and not nxt_numeric:  # "and", "double", "triple", "point" before a non-number
                self.flush()
                self.emit(word)
            elif kind == _AND:
                if prev not in self.words.multipliers:  # "and" after hundred/thousand/... is dropped
                    self.flush()
                    self.emit(word)
            elif kind == _REPEAT:
                if nxt in self.words.unit_or_zero:
                    digit = lex[nxt][1] if lex[nxt][0] == _ONE else 0
                    self.value = f"{value or ''}{str(digit) * int(amount)}"  # type: ignore[call-overload]
                    skip = True
                else:
                    self.flush()
                    self.emit(word)
            elif kind == _POINT:
                if nxt in self.words.decimals or nxt_numeric:
                    self.value = f"{value or ''}."
        self.flush()
        return self.out

    def _numeral(self, word: str) -> bool:
        """Digits (with an optional sign or currency symbol in front): read them and say so."""
        signed = word[0] in _PREFIX_CHARS
        digits = word[1:] if signed else word
        if not _NUMERAL.match(digits):
            return False
        f = _fraction(digits)
        if f is None:  # too many digits for int(); Whisper itself fails here
            self.flush()
            self.emit(word)
            return True
        value = self.value
        if value is not None:
            if isinstance(value, str) and value.endswith("."):
                self.value = value + word  # decimals, and the parts of an IP address
                return True
            self.emit(value)
        if signed:
            self.prefix = word[0]
        if f.denominator != 1 or (self.words.keep_leading_zeros and digits[0] == "0" and len(digits) > 1):
            self.value = digits
        else:
            self.value = f.numerator
        return True

    def _multiply(self, m: int) -> None:
        value = self.value
        if value is None:
            self.value = m
        elif isinstance(value, str) or value == 0:
            f = _fraction(value)
            if f is not None and (f * m).denominator == 1:
                self.value = (f * m).numerator
            else:
                self.emit(value)
                self.value = m
        else:
            assert isinstance(value, int)
            self.value = value // 1000 * 1000 + value % 1000 * m

    def _multiply_suffixed(self, m: int, suffix: str) -> None:
        value = self.value
        if value is None:
            self.emit(f"{m}{suffix}")
        elif isinstance(value, str):
            f = _fraction(value)
            if f is not None and (f * m).denominator == 1:
                self.emit(f"{(f * m).numerator}{suffix}")
            else:
                self.emit(value)
                self.emit(f"{m}{suffix}")
        else:
            assert isinstance(value, int)
            self.emit(f"{value // 1000 * 1000 + value % 1000 * m}{suffix}")


def read_numbers(words: list[str], lexicon: NumberWords = WHISPER_WORDS) -> list[str]:
    """One pass of the number reader over a word list.

    A word that is neither a number word nor digits ends any number and is
    written as it is; for its neighbours it is the same as the start or end of
    the text. So only the runs of number words and digits go through the reader,
    which keeps plain talk cheap.
    """
    lex = lexicon.lex
    out: list[str] = []
    run: list[str] = []
    signs = _PREFIX_CHARS
    numeral = _SIGNED_NUMERAL.match
    for w in words:
        if w in lex or ((w[0].isdigit() or w[0] in signs) and numeral(w)):
            run.append(w)
            continue
        if run:
            out += _NumberReader(lexicon).read(run)
            run = []
        out.append(w)
    if run:
        out += _NumberReader(lexicon).read(run)
    return out


def join_cents(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(2)}.{int(m.group(3)):02d}"


def _only_cents(m: re.Match[str]) -> str:
    return f"¢{int(m.group(1))}"


def numbers(s: str) -> str:
    """Spelled-out numbers to digits, currency and percent words to symbols (Whisper's number rules)."""
    s = digits_apart(halves(s))
    s = " ".join(read_numbers(s.split()))
    s = DOLLARS_AND_CENTS.sub(join_cents, s)
    s = _ONLY_CENTS.sub(_only_cents, s)
    return _LONE_ONE.sub(r"one\1", s)


# --------------------------------------------------------------------------- the normaliser


def normalize_english(s: str, spellings: Mapping[str, str]) -> str:
    """Whisper's English normalisation of ``s`` with this British -> American map.

    The result is byte for byte what ``whisper.normalizers.EnglishTextNormalizer``
    returns when ``spellings`` is its ``english.json``, a stray leading or trailing
    space included (callers that split into words do not care).
    """
    s = s.lower()
    s = _BRACKETED.sub("", s)
    s = _PARENTHESISED.sub("", s)
    s = _FILLERS.sub("", s)
    s = _SPACE_BEFORE_APOSTROPHE.sub("'", s)
    s = _rewrite(s)
    s = _DIGIT_COMMA.sub(r"\1\2", s)
    s = _PERIOD_NOT_DECIMAL.sub(r" \1", s)
    s = strip_symbols(s)
    s = numbers(s)
    s = " ".join([spellings.get(w, w) for w in s.split()])
    s = _STRAY_PREFIX.sub(r" \1", s)
    s = _STRAY_PERCENT.sub(r"\1 ", s)
    return _SPACES.sub(" ", s)
