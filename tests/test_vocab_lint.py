"""vocab check: every kind of defect in hand-made vocabularies is found, at the right line."""

from __future__ import annotations

from pathlib import Path

import pytest

from asr_eval.types import Term, Vocabulary
from asr_eval.vocab.lint import lint, make_report
from asr_eval.vocab.sources import load_for_lint


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def codes(findings, code):
    return [f for f in findings if f.code == code and f.engine is None]


DEFECTIVE = """term,display,aliases,sounds_like,category,priority
Zentrix Cloud,,Zentrix,,product,10
Pay Nimbus,,,,product,5
PayNimbus,,,,product,5
Zentrix Clowd,,,,product,1
Klarvo,,Zentrix,,product,1
---,,,,product,1
please connect me to the billing department right now,,,,phrase,1
Quorvi™,,,,product,1
R&D,,,,team,1
Helpzy  Desk,,,,product,1
Wellbutrin XL 150mg,,,,drug,1
Café Nimbo,,,,product,1
Tallyra,,tallyra,,product,1
Kubernetes,,Gizmo,,product,1
Okta,,,,product,1
okta,,,,product,1
"""


@pytest.fixture
def defective(tmp_path):
    vocab, load_findings = load_for_lint(write(tmp_path / "dict.csv", DEFECTIVE), "dictionary")
    return vocab, load_findings + lint([vocab])


def line_of(findings, code):
    return sorted(f.line for f in codes(findings, code))


def test_duplicate_rejected_by_loader_is_reported_not_fatal(defective):
    vocab, findings = defective
    dups = codes(findings, "duplicate")
    assert [f.line for f in dups] == [17]  # 'okta' duplicates 'Okta' (line 16)
    assert dups[0].severity == "error"
    assert "Okta" in {t.display for t in vocab.terms}  # the rest of the file still loaded


def test_near_duplicate_spacing_variant(defective):
    _, findings = defective
    assert line_of(findings, "near-duplicate") == [4]  # PayNimbus vs 'Pay Nimbus' on line 3


def test_similar_spelling(defective):
    _, findings = defective
    assert line_of(findings, "similar-spelling") == [5]


def test_alias_conflict(defective):
    _, findings = defective
    conflicts = codes(findings, "alias-conflict")
    assert [f.line for f in conflicts] == [6] and "Zentrix" in conflicts[0].message


def test_empty_entry(defective):
    _, findings = defective
    assert line_of(findings, "empty") == [7]


def test_too_long(defective):
    _, findings = defective
    assert line_of(findings, "too-long") == [8]


def test_unspeakable_character(defective):
    _, findings = defective
    f = codes(findings, "unspeakable")
    assert [x.line for x in f] == [9] and "TRADE MARK" in f[0].message


def test_symbol_spoken_as_word(defective):
    _, findings = defective
    assert line_of(findings, "symbol") == [10]


def test_whitespace(defective):
    _, findings = defective
    assert line_of(findings, "whitespace") == [11]


def test_digits_without_spoken_form(defective):
    _, findings = defective
    assert line_of(findings, "digits") == [12]


def test_diacritics_without_plain_alias(defective):
    _, findings = defective
    f = codes(findings, "diacritics")
    assert [x.line for x in f] == [13] and "Cafe Nimbo" in f[0].message


def test_redundant_alias(defective):
    _, findings = defective
    assert line_of(findings, "redundant-alias") == [14]


def test_alias_that_disagrees_with_display(defective):
    _, findings = defective
    # 'Gizmo' for Kubernetes; also 'Zentrix' for Klarvo (line 6), which is a conflict too
    assert line_of(findings, "alias-mismatch") == [6, 15]


def test_report_exit_code_follows_errors(defective):
    vocab, findings = defective
    report = make_report([vocab], findings, [])
    assert report.errors > 0 and report.exit_code == 1
    assert report.findings[0].severity == "error"  # errors listed first


def test_clean_vocabulary_has_no_findings(tmp_path):
    vocab, load = load_for_lint(write(tmp_path / "ok.csv", "term,aliases\nKlarvo,\nSLA,S.L.A.\nSiobhán Nguyen,Siobhan Nguyen\n"), "dictionary")
    report = make_report([vocab], load + lint([vocab]), [])
    assert report.findings == () and report.exit_code == 0


def test_cross_file_duplicate_and_directory_case(tmp_path):
    d, _ = load_for_lint(write(tmp_path / "d.csv", "term\nAroha Te Whata\n"), "dictionary")
    p, _ = load_for_lint(write(tmp_path / "p.csv", "first,last\nAroha,Te Whata\nchidi,okonkwo\n"), "directory")
    findings = lint([d, p])
    dup = codes(findings, "duplicate")
    assert len(dup) == 1 and dup[0].path.endswith("p.csv") and dup[0].line == 2
    assert line_of(findings, "display-case") == [3]


def test_acronym_alias_of_expansion_is_not_a_mismatch():
    v = Vocabulary("v", "v.csv", "dictionary", (Term("SLA", "acronym", "dictionary", aliases=("service level agreement",), line=2),))
    assert codes(lint([v]), "alias-mismatch") == []


def test_similar_spelling_candidates_are_every_close_pair():
    """The block-wise comparison finds exactly the pairs a loop over all pairs finds."""
    import itertools
    import random

    from rapidfuzz import fuzz

    from asr_eval.vocab.lint import SIMILAR_SPELLING, _similar_pairs

    rng = random.Random(7)
    keys = ["".join(rng.choice("abcde") for _ in range(rng.randint(3, 10))) for _ in range(500)]
    keys += [k[:-1] + "x" for k in keys[:150]] + ["", ""]
    every = [(i, j) for i, j in itertools.combinations(range(len(keys)), 2) if fuzz.ratio(keys[i], keys[j]) >= SIMILAR_SPELLING]
    found = [(i, j) for i, j in _similar_pairs(keys, block=64) if fuzz.ratio(keys[i], keys[j]) >= SIMILAR_SPELLING]
    assert found == every and every


def test_lint_of_thousands_of_terms_takes_seconds_not_minutes():
    import random
    import string
    import time

    rng = random.Random(3)
    names = dict.fromkeys("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 12))).title() for _ in range(4000))
    vocab = Vocabulary("v", "v.csv", "dictionary", tuple(Term(n, "term", "dictionary", line=i) for i, n in enumerate(names, 2)))
    start = time.perf_counter()
    lint([vocab])
    assert time.perf_counter() - start < 3.0  # a Python loop over the 8 million pairs took ~10 s
