"""The normaliser: hand-written cases, idempotence, and term protection over the demo vocabularies."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asr_eval.normalize import (
    DEFAULT_STEPS,
    NORMALIZER_VERSION,
    Normalizer,
    lower,
    make_normalizer,
    remove_symbols,
)
from asr_eval.types import Term

ROOT = Path(__file__).resolve().parent.parent

CASES = [
    ("Hello, World!", "hello world"),
    ("  many   spaces\tand\nlines ", "many spaces and lines"),
    ("Um, I think, uh, yes. Hmm.", "i think yes"),
    ("I'm sure it's fine; we'll see, won't we?", "i am sure it is fine we will see will not we"),
    ("He'd been there, she's gone.", "he had been there she has gone"),
    ("I can't and I cannot", "i can not and i can not"),
    ("Gonna wanna gotta", "going to want to got to"),
    ("Dr. Smith met Mr Jones on St. Mark's", "doctor smith met mister jones on saint mark is"),
    ("The colour of the organisation's centre", "the color of the organization is center"),
    ("They travelled to the theatre", "they traveled to the theater"),
    ("twenty five", "25"),
    ("one hundred and five", "105"),
    ("two thousand three hundred", "2300"),
    ("nineteen eighty four", "1984"),
    ("one oh one", "101"),
    ("three point five", "3.5"),
    ("twenty five dollars", "$25"),
    ("five percent", "5%"),
    ("5 per cent", "5%"),
    ("1,000 people", "1000 people"),
    ("the twenty first century", "the 21st century"),
    ("fourth floor", "4th floor"),
    ("at first, a second", "at first a second"),  # ambiguous ordinals stay words
    ("no one knows, the one", "no one knows the one"),
    ("the 1 and only", "the one and only"),
    ("[inaudible] hello (laughs) <noise>", "hello"),
    ("Café naïve Über", "cafe naive uber"),
    ("x-ray e-mail", "x ray e mail"),
    ("\u201cQuoted\u201d \u2018it\u2019s\u2019", "quoted it is"),
    ("The end.", "the end"),
    ("costs $5.50 today.", "costs $5.50 today"),
    ("", ""),
    ("...", ""),
]


@pytest.mark.parametrize("raw,expected", CASES)
def test_hand_written_cases(raw, expected):
    assert make_normalizer()(raw) == expected


def test_version_and_words():
    n = make_normalizer()
    assert n.version == NORMALIZER_VERSION
    assert n.words("Hello, world") == ["hello", "world"]
    assert n.words("um") == []


def test_steps_compose():
    only_case_and_punct = Normalizer((lower, remove_symbols), "case-punct-1")
    assert only_case_and_punct("Dr. Smith's 25") == "dr smith s 25"
    assert only_case_and_punct.version == "case-punct-1"


PROTECT = [
    Term("St. Clair", "place", "dictionary"),
    Term("Dr Martens", "product", "dictionary"),
    Term("O'Brien", "person", "directory"),
    Term("Siobhán Nguyen", "person", "directory", aliases=("Siobhan Nguyen",)),
    Term("Windows 11", "product", "dictionary"),
    Term("first call resolution", "jargon", "dictionary"),
]


@pytest.mark.parametrize("raw,expected", [
    ("I live on St. Clair Avenue", "i live on st clair avenue"),
    ("St. Mark's is near St. Clair", "saint mark is is near st clair"),
    ("Buy Dr Martens from Dr. Jones", "buy dr martens from doctor jones"),
    ("Ask O'Brien", "ask o brien"),
    ("SIOBHAN NGUYEN called", "siobhan nguyen called"),
    ("running Windows 11 twenty", "running windows 11 20"),
    ("our first call resolution rate", "our first call resolution rate"),
])
def test_terms_are_protected(raw, expected):
    assert make_normalizer(PROTECT)(raw) == expected


def test_sources_name_the_raw_words_of_each_protected_run():
    text, sources = make_normalizer(PROTECT).normalize_with_sources("Call Siobhán  Nguyen at St. Clair.")
    assert text == "call siobhan nguyen at st clair"
    assert sources == ((1, 2, "Siobhán  Nguyen"), (4, 2, "St. Clair"))


# --------------------------------------------------------------------------- properties

WORDS = [
    "Hello", "um", "uh", "Dr.", "St", "Mr", "it's", "won't", "he'd", "been", "twenty", "one", "oh", "five",
    "hundred", "and", "thousand", "first", "point", "dollars", "percent", "per", "cent", "1", "25", "3.5",
    "$5", "50%", "colour", "organise", "café", "x-ray", "O'Brien", "[noise]", "(laughs)", ",", ".", "?", "'s",
    "St. Clair", "Dr Martens", "Windows 11", "first call resolution", "Siobhán", "Nguyen", "£", "€20", "'",
]
texts = st.lists(st.sampled_from(WORDS), max_size=14).map(" ".join) | st.text(max_size=40)


@settings(max_examples=500, deadline=None)
@given(texts)
def test_normalising_twice_equals_once(text):
    for n in (make_normalizer(), make_normalizer(PROTECT)):
        once = n(text)
        assert n(once) == once
        assert once == " ".join(once.split())


# --------------------------------------------------------------------------- demo vocabularies


def demo_terms() -> tuple[Term, ...]:
    from asr_eval.vocab import load_dictionary, load_directory

    paths = [ROOT / "dictionaries" / "demo-company.csv", ROOT / "dictionaries" / "demo-directory.csv"]
    if not all(p.exists() for p in paths):
        pytest.skip("demo dictionaries not present")
    return load_dictionary(paths[0]).terms + load_directory(paths[1]).terms


CONTEXTS = [
    "{}",
    "We spoke to {} yesterday.",
    "Dr. Smith said {}, twenty times!",
    "Um, {}'s update is on St. Mark's road",
    "one {} two",
    "({}) [{}]",
]


def test_normaliser_never_alters_a_demo_term():
    terms = demo_terms()
    n = make_normalizer(terms)
    assert len(terms) > 40
    for term in terms:
        for form in term.written_forms:
            alone = n(form).split()
            assert alone, form
            for ctx in CONTEXTS:
                words = n(ctx.replace("{}", form, 1).replace("{}", "x")).split()
                if ctx.startswith("("):
                    continue  # bracketed asides are dropped with their contents, by design
                k = len(alone)
                assert any(words[i : i + k] == alone for i in range(len(words) - k + 1)), (form, ctx, words)
            # only case, diacritics and punctuation may change
            assert " ".join(alone) == light(form)


def light(form: str) -> str:
    """Folded (lower case, diacritics off), punctuation to spaces: all a term may undergo."""
    from asr_eval.fold import fold

    return " ".join("".join(c if c.isalnum() else " " for c in fold(form)).split())


@settings(max_examples=500, deadline=None)
@given(texts)
def test_fused_default_chain_equals_its_steps(text):
    from asr_eval.normalize import _default_chain

    stepwise = text
    for step in DEFAULT_STEPS:
        stepwise = step(stepwise)
    assert _default_chain(text) == " ".join(stepwise.split())


# --------------------------------------------------------------------------- one fold, one matcher


@pytest.mark.parametrize("raw,expected", [
    ("Straße", "strasse"),
    ("Małgorzata Krawczyk", "malgorzata krawczyk"),
    ("Ørsted and Æsir", "orsted and aesir"),
    ("Đorđe in ŁÓDŹ", "dorde in lodz"),
    ("İstanbul", "istanbul"),
    ("Çağla Yıldız", "cagla yildiz"),
    ("José Luis Ibáñez", "jose luis ibanez"),
    ("Minh Phạm", "minh pham"),
])
def test_letters_without_a_decomposition_are_folded(raw, expected):
    assert make_normalizer()(raw) == expected


def test_a_protected_term_folds_like_the_same_letters_outside_it():
    terms = [Term("Małgorzata Krawczyk", "person", "directory"), Term("Straße", "place", "dictionary")]
    n = make_normalizer(terms)
    text, sources = n.normalize_with_sources("Ask MAŁGORZATA KRAWCZYK about the STRASSE, not Małgorzata.")
    assert text == "ask malgorzata krawczyk about the strasse not malgorzata"
    assert sources == ((1, 2, "MAŁGORZATA KRAWCZYK"), (5, 1, "STRASSE"))
    assert make_normalizer()("Ask MAŁGORZATA KRAWCZYK about the STRASSE") == "ask malgorzata krawczyk about the strasse"


def test_a_fold_that_expands_one_character_is_never_cut_by_protection():
    n = make_normalizer([Term("4 apples", "x", "dictionary")])
    assert n("¾ apples") == make_normalizer()("¾ apples") == "3 4 apples"  # not "4 apples" with the 3 lost
    assert n.normalize_with_sources("¾ apples")[1] == ()


# Words the normaliser changes only by folding and punctuation, so protection (on raw
# text) and scoring (on normalised words) see the same token sequence.
STABLE = ["alpha", "Bravo", "charlie", "delta", "Straße", "STRASSE", "Małgorzata", "malgorzata", "Ørsted",
          "Siobhán", "SIOBHAN", "Nguyen", "O'Brien", "x-ray", "Ibáñez", "İstanbul"]
PUNCT = ["", "", ",", ".", "!", "?"]
phrases = st.lists(st.sampled_from(STABLE), min_size=1, max_size=3).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(
    forms=st.lists(phrases, min_size=1, max_size=6),
    words=st.lists(st.tuples(st.sampled_from(STABLE), st.sampled_from(PUNCT)), max_size=16),
)
def test_protection_and_scoring_find_the_same_terms(forms, words):
    from asr_eval.scoring import build_term_index

    terms = [Term(f, "x", "dictionary") for f in dict.fromkeys(forms)]
    n = make_normalizer(terms)
    text = " ".join(w + p for w, p in words)
    normalised, sources = n.normalize_with_sources(text)
    protected = [(start, start + count) for start, count, _ in sources]
    scored = [(s, e) for s, e, _ in build_term_index(terms, n).find(normalised.split())]
    assert protected == scored
