"""``--normalizer whisper`` against the real openai-whisper ``EnglishTextNormalizer``: exact string equality.

The corpus is generated here (seeded): numbers, currency, ordinals, times,
contractions, abbreviations, British spellings, fillers, brackets, hyphens,
decimals, percentages, fractions, years, mixed case and unicode, alone and
mixed into sentences. Skipped only when openai-whisper is not installed.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asr_eval.normalize_whisper import normalize_english

UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen".split()
TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth nineth tenth eleventh twelfth "
            "thirteenth twentieth twenty-first thirty-second fortieth hundredth thousandth millionth zeroth").split()
NOUNS = "account invoice ticket order meeting customer agent refund payment plan line queue".split()
VERBS = "paid owes called booked moved sent charged refunded cancelled renewed".split()
NAMES = ("Smith O'Brien Nguyen Siobhán Małgorzata Ørsted Straße Zoë José Þór Æsa Łukasz Œuvre "
         "PayNimbus 3CX Q3 B2B iPhone15 COVID-19 Wi-Fi").split()
BRITISH = ("colour colours organise organised organisation centre centres favourite behaviour travelled "
           "cancelled licence defence programme catalogue grey cheque tyre aluminium analyse realise "
           "apologise neighbour honour labour theatre metre litre jewellery practise").split()
FILLERS = "um uh hmm mm mhm mmm erm ah".split()
CONTRACTIONS = ("won't can't let's ain't y'all wanna gotta gonna i'ma imma woulda coulda shoulda ma'am "
                "I'm you're he's she'd we'll they've isn't didn't it's that's he'd've we'd been she's gone "
                "he's got they'd done o'clock rock'n'roll").split()
TITLES = ("Mr. Mrs Dr. St. Prof. Capt. Gov. Ald. Gen. Sen. Rep. Pres. Rev. Hon. Asst. Assoc. Lt. Col. "
          "Jr. Sr. Esq. mr st dr").split()
UNICODE = ["café", "naïve", "Über", "ﬁnance", "½", "¼", "²", "①", "ℌello", "\u201cquoted\u201d",
           "\u2018single\u2019", "it\u2019s", "—", "…", "Ⅻ", "٣", "５", "€", "£", "¢", "ß", "ǅ", "ﬀ", "Ω",
           "\u00a0", "x\u0301", "Ｑ３", "№", "°C", "™", "©"]


def spoken_number(rng: random.Random) -> str:
    """A number as a speaker says it (with the shapes Whisper's rules distinguish)."""
    kind = rng.randrange(12)
    u, t = rng.choice(UNITS), rng.choice(TENS)
    sep = rng.choice([" ", "-"])
    if kind == 0:
        return u
    if kind == 1:
        return f"{t}{sep}{rng.choice(UNITS[1:10])}"
    if kind == 2:
        return f"{rng.choice(UNITS[1:10])} hundred {rng.choice(['and ', ''])}{t} {rng.choice(UNITS[1:10])}"
    if kind == 3:
        return f"{rng.choice(UNITS[1:])} {rng.choice(['thousand', 'million', 'billion', 'hundred thousand'])}"
    if kind == 4:
        return f"{u} point {' '.join(rng.choice(UNITS[:10]) for _ in range(rng.randint(1, 3)))}"
    if kind == 5:
        return f"nineteen {t}{sep}{rng.choice(UNITS[1:10])}" if rng.random() < .5 else f"twenty {rng.choice(UNITS[10:])}"
    if kind == 6:
        return " ".join(rng.choice(["one", "two", "oh", "zero", "double", "triple", "five", "nine"]) for _ in range(rng.randint(2, 6)))
    if kind == 7:
        return f"{rng.choice(['minus', 'negative', 'plus', 'positive'])} {u}"
    if kind == 8:
        return f"{rng.choice(UNITS[1:])} and a half"
    if kind == 9:
        return f"{rng.choice(['ones', 'twos', 'sixes', 'twenties', 'nineties', 'hundreds', 'thousands', 'millions'])}"
    if kind == 10:
        return f"{t} {rng.choice(ORDINALS)}"
    return f"{rng.choice(UNITS[1:])} {rng.choice(['hundred', 'thousand'])} and {u}"


def written_number(rng: random.Random) -> str:
    kind = rng.randrange(10)
    n = rng.choice([0, 1, 2, 5, 7, 10, 12, 19, 20, 21, 99, 100, 101, 250, 1000, 1999, 2024, 12345, 1000000])
    if kind == 0:
        return str(n)
    if kind == 1:
        return f"{n:,}"
    if kind == 2:
        return f"{n}.{rng.choice(['0', '00', '5', '50', '05', '25', '99', '123'])}"
    if kind == 3:
        return f"{n}{rng.choice(['st', 'nd', 'rd', 'th', 's', ' st', ' th', 's '])}"
    if kind == 4:
        return f"{rng.choice(['-', '+', ''])}{n}"
    if kind == 5:
        return f"{rng.randint(1, 12)}:{rng.choice(['00', '05', '30', '45'])}" + rng.choice(["", " am", "pm", " p.m.", " o'clock"])
    if kind == 6:
        return f"{rng.randint(1, 9)}/{rng.randint(2, 16)}"
    if kind == 7:
        return f"{rng.randint(1, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
    if kind == 8:
        return f"{rng.choice(['', '0', '00'])}{rng.randint(0, 999)}-{rng.randint(100, 9999)}"
    return f"({rng.randint(100, 999)}) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}"


def money(rng: random.Random) -> str:
    kind = rng.randrange(9)
    sym = rng.choice("$£€")
    if kind == 0:
        return f"{sym}{rng.randint(0, 999)}"
    if kind == 1:
        return f"{sym}{rng.randint(0, 99)}.{rng.randint(0, 99):02d}"
    if kind == 2:
        return f"{sym}{rng.choice(['1.5', '2', '0.5', '12', '3.25'])} {rng.choice(['million', 'billion', 'thousand', 'k', 'bn'])}"
    if kind == 3:
        return f"{spoken_number(rng)} {rng.choice(['dollars', 'dollar', 'pounds', 'euros', 'cents', 'euro', 'pound'])}"
    if kind == 4:
        return f"{spoken_number(rng)} dollars and {spoken_number(rng)} cents"
    if kind == 5:
        return f"{sym}{rng.randint(1, 99)} and {rng.randint(1, 99)} cents"
    if kind == 6:
        return f"{rng.randint(1, 99)}¢"
    if kind == 7:
        return f"{sym} {rng.randint(1, 99)}"
    return f"{rng.randint(1, 99)} {rng.choice(['dollars', 'pounds', 'euros'])}"


def percent(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return f"{rng.randint(0, 100)}%"
    if kind == 1:
        return f"{rng.randint(0, 100)}.{rng.randint(0, 9)} %"
    if kind == 2:
        return f"{spoken_number(rng)} percent"
    if kind == 3:
        return f"{spoken_number(rng)} per cent"
    return f"{rng.randint(1, 99)} per {rng.choice(['cent', 'hour', 'month'])}"


def date(rng: random.Random) -> str:
    month = rng.choice(["January", "March", "May", "June", "October", "Dec.", "Sept"])
    kind = rng.randrange(5)
    if kind == 0:
        return f"{month} {rng.randint(1, 31)}{rng.choice(['', 'st', 'th', 'rd', 'nd'])}, {rng.randint(1900, 2030)}"
    if kind == 1:
        return f"the {rng.choice(ORDINALS)} of {month} {spoken_number(rng)}"
    if kind == 2:
        return f"{rng.randint(1, 12)}/{rng.randint(1, 31)}/{rng.choice(['24', '2024', '1999'])}"
    if kind == 3:
        return "in the " + rng.choice(["1960s", "90s", "'80s", "nineteen sixties", "twenties", "two thousands"])
    return f"{rng.randint(1900, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def words(rng: random.Random, k: int) -> str:
    pool = NOUNS + VERBS + ["the", "a", "and", "to", "of", "I", "we", "it", "on", "at", "for", "with", "please"]
    return " ".join(rng.choice(pool) for _ in range(k))


def case(rng: random.Random, s: str) -> str:
    r = rng.random()
    if r < 0.15:
        return s.upper()
    if r < 0.3:
        return s.title()
    if r < 0.4:
        return "".join(c.upper() if rng.random() < .5 else c for c in s)
    return s


FRAGMENTS = {
    "numbers": lambda r: spoken_number(r),
    "digits": lambda r: written_number(r),
    "currency": money,
    "percent": percent,
    "dates": date,
    "ordinals": lambda r: f"the {r.choice(ORDINALS)} {r.choice(NOUNS)}",
    "contractions": lambda r: " ".join(r.choice(CONTRACTIONS) for _ in range(r.randint(1, 3))),
    "titles": lambda r: f"{r.choice(TITLES)} {r.choice(NAMES)}",
    "british": lambda r: " ".join(r.choice(BRITISH) for _ in range(r.randint(1, 3))),
    "fillers": lambda r: f"{r.choice(FILLERS)}, {words(r, 2)} {r.choice(FILLERS)}",
    "brackets": lambda r: r.choice(["[inaudible]", "<noise>", "(laughs)", "(", ")", "[", "<unk>", "(a) (b)", "[x (y]", "<a [b>"]),
    "hyphens": lambda r: r.choice(["e-mail", "x-ray", "follow-up", "twenty-five", "re-open", "well-known", "-", "--", "co-op", "T-shirt"]),
    "codes": lambda r: r.choice(["Q3", "Q three", "3CX", "B2B", "A1", "7-Eleven", "4G", "5G", "MP3", "R2-D2", "PS5", "H2O", "ID 12AB", "v2.0.1", "Windows 11"]),
    "fractions": lambda r: r.choice(["1/2", "3/4", "one half", "a quarter", "two thirds", "½", "¾", "1 1/2", "three and a half", "and a half"]),
    "unicode": lambda r: " ".join(r.choice(UNICODE) for _ in range(r.randint(1, 3))),
    "names": lambda r: r.choice(NAMES) + r.choice(["", "'s", "s'", ".", ","]),
    "punctuation": lambda r: r.choice([".", ",", "!", "?", "...", ";", ":", "'", '"', "&", "@", "#", "*", "/", "\\", "%", "$", ".5", "5.", "a.m."]),
}


def corpus(n: int = 1500, seed: int = 13) -> list[tuple[str, str]]:
    """(category, sentence) pairs: every category alone and mixed with the others and plain words."""
    rng = random.Random(seed)
    names = sorted(FRAGMENTS)
    out: list[tuple[str, str]] = []
    for i in range(n):
        cat = names[i % len(names)]
        parts = [FRAGMENTS[cat](rng)]
        for _ in range(rng.randint(0, 3)):
            parts.append(FRAGMENTS[rng.choice(names)](rng) if rng.random() < .5 else words(rng, rng.randint(1, 4)))
        rng.shuffle(parts)
        glue = rng.choice([" ", " ", ", ", " - ", "  "])
        s = glue.join(parts) + rng.choice(["", ".", "?", "!", " "])
        out.append((cat, case(rng, s)))
    return out


@pytest.fixture(scope="module")
def whisper_normalizer():
    normalizers = pytest.importorskip("whisper.normalizers")
    real = normalizers.EnglishTextNormalizer()
    return real, real.standardize_spellings.mapping


def test_corpus_is_big_and_covers_every_category():
    c = corpus()
    assert len(c) >= 1000
    assert len({s for _, s in c}) >= 1000  # varied, not one sentence repeated
    assert {cat for cat, _ in c} == set(FRAGMENTS)


def test_equals_openai_whisper_on_the_generated_corpus(whisper_normalizer):
    real, spellings = whisper_normalizer
    wrong = [(cat, s, real(s), normalize_english(s, spellings)) for cat, s in corpus()
             if real(s) != normalize_english(s, spellings)]
    assert not wrong, f"{len(wrong)} differ, first: {wrong[:5]}"


EDGE = [
    "", " ", "$", "%", ".", "$abc", "abc%", "minus and", "point hundred", "double", "and",
    "one and a half and a half", "and a half", "  and a half thousand", "$2.00", "$0.5", "$0 12",
    "1,2,3", "1.2.3.4", "zero point", "point five", "oh", "o o seven", "twenty oh five", "ones twos",
    "the ninth and nineth", "$5 pounds", "$5 percent", "5 per", "per cent", "minus minus five",
    "007", "1s", "1st 2nd 3rd 4th", "sixty-fourths", "hundredths of a second", "9.99 dollars",
    "nineteen hundreds", "one thousand two hundred and thirty four point five six", "twelve thirty pm",
    "I'd've", "he'd been", "they 're", "that ' s", "ℌ", "ＡＢＣ１２３", "٣ dollars", "x²", "a1b2c3",
    "3rd quarter q3 2024", "call 1-800-555-0199", "Mr.Smith", "St.Louis", "e.g. i.e. etc.",
]


@pytest.mark.parametrize("s", EDGE)
def test_equals_openai_whisper_on_edge_cases(whisper_normalizer, s):
    real, spellings = whisper_normalizer
    assert normalize_english(s, spellings) == real(s)


TOKENS = (UNITS + TENS + ORDINALS + ["hundred", "thousand", "million", "and", "a", "half", "point", "oh", "o",
          "double", "triple", "minus", "plus", "dollars", "cents", "pound", "euro", "percent", "per", "cent",
          "ones", "sixes", "twenties", "hundreds", "$5", "5", "0", "1", "2.5", "$0.50", "£3", "1st", "10s",
          "x", "the", "-", ".", ",", "%", "$", "¢", "12", "1.", "3.14", "1,000", "q3", "'s", "don't"])


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=12))
def test_equals_openai_whisper_on_random_number_talk(tokens):
    normalizers = pytest.importorskip("whisper.normalizers")
    real = _real(normalizers)
    s = " ".join(tokens)
    assert normalize_english(s, real.standardize_spellings.mapping) == real(s)


_REAL = []


def _real(normalizers):
    if not _REAL:
        _REAL.append(normalizers.EnglishTextNormalizer())
    return _REAL[0]
