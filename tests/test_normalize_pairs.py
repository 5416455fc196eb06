"""Equivalences a contact-centre transcript is full of: the default normaliser must make equal
every pair Whisper's English normaliser makes equal, and keep vocabulary terms whole.

Run as a script to print the table of docs/normalization.md:
``python tests/test_normalize_pairs.py`` (a test checks the document holds the same table).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asr_eval.normalize import make_normalizer  # noqa: E402
from asr_eval.types import Term  # noqa: E402
from asr_eval.whisper_spellings import normalizer_for  # noqa: E402

# (category, written form, spoken or other form)
PAIRS: list[tuple[str, str, str]] = [
    # currency
    ("currency", "$25.50", "twenty-five dollars and fifty cents"),
    ("currency", "$25", "twenty five dollars"),
    ("currency", "$5.99", "five dollars and ninety nine cents"),
    ("currency", "$5.99", "five ninety nine"),
    ("currency", "£40", "forty pounds"),
    ("currency", "€12.50", "twelve euros fifty cents"),
    ("currency", "50 cents", "fifty cents"),
    ("currency", "$0.50", "fifty cents"),
    ("currency", "$1,200", "twelve hundred dollars"),
    ("currency", "$2", "2 dollars"),
    ("currency", "$100", "a hundred dollars"),
    ("currency", "$100", "one hundred dollars"),
    ("currency", "$3", "three bucks"),
    ("currency", "$2.00", "two dollars"),
    ("currency", "$0.05", "five cents"),
    # scaled amounts
    ("scaled", "$1.5 million", "one point five million dollars"),
    ("scaled", "$2 billion", "two billion dollars"),
    ("scaled", "$20 million", "twenty million dollars"),
    ("scaled", "1.5 million", "one point five million"),
    ("scaled", "3 thousand", "three thousand"),
    ("scaled", "1,000,000", "one million"),
    ("scaled", "2.5 million", "two and a half million"),
    ("scaled", "2.5k", "two thousand five hundred"),
    ("scaled", "$10k", "ten thousand dollars"),
    ("scaled", "500,000", "half a million"),
    # ordinals
    ("ordinal", "1st place", "first place"),
    ("ordinal", "2nd floor", "second floor"),
    ("ordinal", "3rd time", "third time"),
    ("ordinal", "the 4th", "the fourth"),
    ("ordinal", "21st", "twenty first"),
    ("ordinal", "the 32nd", "the thirty-second"),
    ("ordinal", "12th", "twelfth"),
    ("ordinal", "100th", "hundredth"),
    ("ordinal", "9th", "ninth"),
    ("ordinal", "the 1st", "the first"),
    # times
    ("time", "5pm", "five pm"),
    ("time", "10 am", "ten am"),
    ("time", "10 am", "ten a.m."),
    ("time", "9 o'clock", "nine o'clock"),
    ("time", "3:30", "three thirty"),
    ("time", "7:45", "seven forty-five"),
    ("time", "12:00", "twelve o'clock"),
    ("time", "3:30", "half past three"),
    ("time", "10:05", "ten oh five"),
    # percentages
    ("percent", "50%", "fifty percent"),
    ("percent", "12.5%", "twelve point five percent"),
    ("percent", "5%", "5 per cent"),
    ("percent", "100%", "one hundred percent"),
    ("percent", "0.5%", "zero point five percent"),
    ("percent", "50%", "fifty per cent"),
    # alphanumeric codes
    ("code", "Q3", "Q three"),
    ("code", "Q3", "q 3"),
    ("code", "3CX", "three CX"),
    ("code", "4G", "four G"),
    ("code", "MP3", "MP three"),
    ("code", "A1", "A one"),
    ("code", "7-Eleven", "seven eleven"),
    ("code", "Windows 11", "Windows eleven"),
    ("code", "PS5", "PS five"),
    ("code", "B2B", "B to B"),
    ("code", "AB12CD", "A B one two C D"),
    # spelled digits
    ("digits", "account 4471", "account four four seven one"),
    ("digits", "room 12", "room twelve"),
    ("digits", "55", "double five"),
    ("digits", "777", "triple seven"),
    ("digits", "101", "one oh one"),
    ("digits", "zip 90210", "zip nine oh two one oh"),
    ("digits", "PIN 0000", "PIN zero zero zero zero"),
    ("digits", "007", "double oh seven"),
    ("digits", "1 2 3", "one two three"),
    # phone numbers
    ("phone", "call 911", "call nine one one"),
    ("phone", "extension 204", "extension two oh four"),
    ("phone", "(555) 123-4567", "555 123 4567"),
    ("phone", "555-0199", "five five five oh one nine nine"),
    ("phone", "1-800-555-0199", "one eight hundred five five five oh one nine nine"),
    ("phone", "1-800-555-0199", "one eight oh oh five five five oh one nine nine"),
    ("phone", "0207 946 0018", "oh two oh seven nine four six oh oh one eight"),
    ("phone", "555-0199", "555 0199"),
    # dates
    ("date", "March 3rd", "March third"),
    ("date", "1999", "nineteen ninety nine"),
    ("date", "2024", "twenty twenty four"),
    ("date", "2005", "two thousand five"),
    ("date", "2005", "two thousand and five"),
    ("date", "the 1990s", "the nineteen nineties"),
    ("date", "the 90s", "the nineties"),
    ("date", "March 3", "March third"),
    ("date", "12/25/2024", "December twenty fifth twenty twenty four"),
]

# Vocabulary terms Whisper's rules would rewrite; the default keeps them whole.
TERMS = [Term("Q3 Insights", "product", "dictionary"), Term("PayNimbus", "product", "dictionary"),
         Term("3CX", "product", "dictionary"), Term("St. Clair", "place", "dictionary"),
         Term("Dr Martens", "product", "dictionary"), Term("O'Brien", "person", "directory"),
         Term("First Direct", "company", "dictionary"), Term("Windows 11", "product", "dictionary")]


def whisper() -> object:
    """Whisper's rules (with its own spelling map when openai-whisper is installed; no pair needs it)."""
    return normalizer_for("whisper")


def table() -> list[tuple[str, str, str, str, str, str, str]]:
    """(category, a, b, whisper a, whisper b, asr-eval a, asr-eval b) for every pair."""
    w, d = whisper(), make_normalizer()
    return [(cat, a, b, w(a), w(b), d(a), d(b)) for cat, a, b in PAIRS]


def markdown() -> str:
    def cell(s: str) -> str:
        return "`" + s.replace("|", "\\|") + "`" if s else "(empty)"

    def same(x: str, y: str) -> str:
        return "equal" if x == y else "differ"

    rows = table()
    n_w = sum(wa == wb for _, _, _, wa, wb, _, _ in rows)
    n_d = sum(da == db for _, _, _, _, _, da, db in rows)
    both = sum(wa == wb and da == db for _, _, _, wa, wb, da, db in rows)
    lines = [f"Of {len(rows)} pairs, Whisper's normaliser makes {n_w} equal and asr-eval's {n_d} "
             f"({both} of Whisper's {n_w} among them).", "",
             "| # | kind | A | B | Whisper: A / B | | asr-eval: A / B | |",
             "|---|---|---|---|---|---|---|---|"]
    for i, (cat, a, b, wa, wb, da, db) in enumerate(rows, 1):
        lines.append(f"| {i} | {cat} | {cell(a)} | {cell(b)} | {cell(wa)} / {cell(wb)} | {same(wa, wb)} "
                     f"| {cell(da)} / {cell(db)} | {same(da, db)} |")
    return "\n".join(lines)


def test_there_are_enough_pairs_of_every_kind():
    assert len(PAIRS) >= 60
    kinds = {c for c, _, _ in PAIRS}
    assert kinds == {"currency", "scaled", "ordinal", "time", "percent", "code", "digits", "phone", "date"}


@pytest.mark.parametrize("cat,a,b", PAIRS, ids=[f"{c}:{a}" for c, a, _ in PAIRS])
def test_default_is_never_weaker_than_whisper(cat, a, b):
    w, d = whisper(), make_normalizer()
    if w(a) == w(b):
        assert d(a) == d(b), (d(a), d(b))


def test_the_default_also_makes_these_equal_where_whisper_does_not():
    """Pairs where asr-eval goes further than Whisper (each is in the table)."""
    d = make_normalizer()
    for a, b in [("PIN 0000", "PIN zero zero zero zero"), ("007", "double oh seven"),
                 ("555-0199", "five five five oh one nine nine"), ("9th", "ninth"),
                 ("$100", "a hundred dollars")]:
        assert d(a) == d(b), (a, b, d(a), d(b))


@pytest.mark.parametrize("text,term,whisper_keeps_it", [
    ("our Q3 Insights report", "q3 insights", False),      # Whisper: "q 3 insights"
    ("pay with PayNimbus today", "paynimbus", True),
    ("the 3CX phone system", "3cx", False),                 # Whisper: "3 cx"
    ("ring First Direct first", "first direct", False),     # Whisper: "1st direct"
    ("upgrade to Windows 11 now", "windows 11", True),
    ("meet me at St. Clair", "st clair", False),            # Whisper: "saint clair"
    ("Dr Martens for O'Brien", "dr martens", False),        # Whisper: "doctor martens"
    ("Dr Martens for O'Brien", "o brien", False),           # Whisper: "0 brien"
])
def test_terms_survive_the_default(text, term, whisper_keeps_it):
    assert f" {term} " in f" {make_normalizer(TERMS)(text)} "
    assert (f" {term} " in f" {whisper()(text)} ") == whisper_keeps_it  # why protection matters


def test_the_document_holds_this_table():
    doc = (ROOT / "docs" / "normalization.md").read_text(encoding="utf-8")
    assert markdown() in doc, "docs/normalization.md is out of date: python tests/test_normalize_pairs.py"


if __name__ == "__main__":
    print(markdown())
