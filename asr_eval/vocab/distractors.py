"""Distractor terms: plausible vocabulary entries that nobody in the test set says.

A list-size sweep (and the contextual-biasing literature's protocol) mixes
them into the real vocabulary to measure how biasing degrades as the list
grows. They live with the vocabulary tools because what makes a good
distractor is a vocabulary question: it must share no word with any real
term or any reference text, so that writing one into a transcript is always
a false insertion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..fold import fold
from ..types import AsrEvalError, Term

DISTRACTORS_FILE = Path(__file__).resolve().parents[1] / "data" / "distractors.txt"
DISTRACTOR = "distractor"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", fold(text)))


def load_distractors(path: Path = DISTRACTORS_FILE) -> list[str]:
    """The shipped distractor list, in file order (``#`` lines are comments)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")]


def distractor_terms(n: int, vocabulary: Sequence[Term], texts: Iterable[str] = (),
                     candidates: Sequence[str] | None = None) -> tuple[Term, ...]:
    """The first ``n`` distractors sharing no word with the vocabulary's forms or the reference texts.

    Checked again at run time (the list was built against the bundled sets
    only) so a distractor can never be a word somebody actually said.
    """
    banned: set[str] = set()
    for text in texts:
        banned |= _words(text)
    for term in vocabulary:
        for form in (*term.written_forms, *term.sounds_like):
            banned |= _words(form)
    out: list[Term] = []
    for i, name in enumerate(candidates if candidates is not None else load_distractors()):
        if len(out) >= n:
            break
        if _words(name) & banned:
            continue
        out.append(Term(display=name, category=DISTRACTOR, source=DISTRACTOR, priority=0))
    if len(out) < n:
        raise AsrEvalError(f"only {len(out)} usable distractors for a list-size sweep point of {n}")
    return tuple(out)


def generate_distractors(n: int = 1000, seed: int = 7, exclude_texts: Iterable[str] = ()) -> list[str]:
    """Rebuild the shipped list: names from Faker's many locales plus coined product names.

    Needs ``faker`` and ``wordfreq`` (only for regenerating the file, never at
    run time). Words common in English (Zipf frequency >= 3.5; product
    suffixes such as "Hub" excepted) and any word of ``exclude_texts`` are
    skipped; seven people to every three products.
    """
    from faker import Faker
    from wordfreq import zipf_frequency

    banned: set[str] = set()
    for text in exclude_texts:
        banned |= _words(text)
    locales = ["en_IN", "pl_PL", "tr_TR", "vi_VN", "yo_NG", "ga_IE", "tw_GH", "zu_ZA", "es_MX", "pt_BR",
               "fi_FI", "nl_NL", "de_DE", "it_IT", "cs_CZ", "hu_HU", "sv_SE", "en_NG", "ro_RO", "id_ID",
               "ja_JP", "zh_CN", "fr_FR", "en_GB"]
    fakers = []
    for loc in locales:
        f = Faker(loc)
        f.seed_instance(seed)
        fakers.append(f)
    lorem = Faker("la")
    lorem.seed_instance(seed)
    suffixes = ["", "", "", " Hub", " Desk", " Sync", " Labs", " Connect", " Suite", " Flow", "", " AI"]
    suffix_words = {x.strip() for x in suffixes if x}
    seen: set[str] = set()

    def ok(name: str) -> bool:
        ws = _words(name)
        if not ws or name.casefold() in seen or ws & banned:
            return False
        coined = _words(name.split()[0]) if name.split()[-1] in suffix_words else ws
        return all(zipf_frequency(w, "en") < 3.5 for w in coined)

    def person(k: int) -> str:
        f = fakers[k % len(fakers)]
        romanized = hasattr(f, "last_romanized_name")
        first = f.first_romanized_name() if romanized else f.first_name()
        last = f.last_romanized_name() if romanized else f.last_name()
        return f"{first} {last}"

    def product(k: int) -> str:
        a, b = lorem.word(), lorem.word()
        stem = (a[: 2 + k % 3] + b[-(3 + k % 2):]).capitalize()
        return stem + suffixes[k % len(suffixes)]

    out: list[str] = []
    k = 0
    while len(out) < n:
        make = product if len(out) % 10 >= 7 else person
        for _ in range(50):
            name = make(k)
            k += 1
            if ok(name):
                break
        else:
            raise AsrEvalError("cannot generate enough distinct distractors")
        seen.add(name.casefold())
        out.append(name)
    return out
