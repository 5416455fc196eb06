"""--synonyms FILE: accepted equivalent spellings, applied symmetrically after normalisation."""

from __future__ import annotations

import csv
import json

import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr_eval.normalize import make_normalizer
from asr_eval.scoring import build_term_index, score_many, score_utterance
from asr_eval.synonyms import SynonymNormalizer, apply_synonyms, parse_synonyms
from asr_eval.synonyms_load import SYNONYM_LIMITS, load_synonyms
from asr_eval.types import InputError, Term

from conftest import tone

HOUSE = ["# house style", "", "ok|okay", "e-mail|email", "healthcare|health care", "login | log in"]


def _norm(lines=HOUSE):
    return SynonymNormalizer(make_normalizer(), parse_synonyms(lines, "syn.txt", "ab" * 32))


def test_sets_are_read_with_their_lines():
    syn = parse_synonyms(HOUSE, "syn.txt")
    assert [(s.forms, s.line) for s in syn.sets] == [(("ok", "okay"), 3), (("e-mail", "email"), 4),
                                                     (("healthcare", "health care"), 5), (("login", "log in"), 6)]


@pytest.mark.parametrize("lines, line, words", [
    (["ok|okay", "okay|alright"], 2, "already in the set on line 1"),
    (["ok|okay", "OKAY|fine"], 2, "already in the set on line 1"),  # case does not make another form
    (["ok||okay"], 1, "empty form"),
    (["ok|"], 1, "empty form"),
    (["ok|ok"], 1, "two different forms"),
    (["just one"], 1, "separated by '|'"),
    (["|".join(["w"] * 2) + "|" + " ".join(["x"] * 17)], 1, "more than 16 words"),
])
def test_bad_lines_are_errors_with_file_and_line(lines, line, words):
    with pytest.raises(InputError) as e:
        parse_synonyms(lines, "syn.txt")
    assert e.value.line == line and words in str(e.value) and "syn.txt" in str(e.value)


def test_forms_that_meet_after_normalisation_are_an_error():
    # "E-Mail" and "e mail" both normalise to "e mail": two sets cannot claim the same words
    with pytest.raises(InputError) as e:
        _norm(["E-Mail|email", "e mail|electronic mail"])
    assert e.value.line == 2 and "line 1" in str(e.value)
    with pytest.raises(InputError, match="normalises to nothing"):
        _norm(["um|uh huh"])


def test_applied_to_both_sides_so_either_form_matches_either():
    norm = _norm()
    pairs = [("OK, send the e-mail", "okay send the email"), ("Our healthcare plan", "our health care plan"),
             ("please log-in now", "please login now"), ("health care and healthcare", "healthcare and health care")]
    plain = make_normalizer()
    for (r, h), s, b in zip(pairs, score_many(pairs, [], norm), score_many(pairs, [], plain)):
        assert s.words.errors == 0, (r, h, s.ref_norm, s.hyp_norm)
        assert b.words.errors > 0
    # the first form of the set is what both sides are written as
    assert norm("Our health care plan, OK?") == "our healthcare plan ok"


def test_leftmost_longest_and_word_positions():
    syn = parse_synonyms(["health care|healthcare", "care|caring"], "s")
    index = SynonymNormalizer(make_normalizer(), syn)._index
    words, starts = apply_synonyms(index, "the health care and care plan".split())
    assert words == ["the", "health", "care", "and", "care", "plan"]
    words, starts = apply_synonyms(index, "the healthcare and caring plan".split())
    assert words == ["the", "health", "care", "and", "care", "plan"] and starts == [0, 1, 3, 4, 5, 6]


def test_terms_still_found_and_display_form_judged_after_a_rewrite():
    norm = _norm()
    index = build_term_index([Term("PayNimbus", category="product", source="dictionary")], norm)
    s = score_utterance("okay, PayNimbus health care", "ok PayNimbus healthcare", index, norm)
    (event,) = s.terms
    assert (event.outcome, event.display_exact, s.words.errors) == ("hit", True, 0)
    # the hypothesis' words moved (two became one before the term): the term's source moved with them
    s = score_utterance("health care by PayNimbus", "healthcare by PayNimbus", index, norm)
    assert s.terms[0].display_exact is True and s.terms[0].hyp_start == 2


def test_version_names_the_file_so_results_never_mix():
    a, b = _norm(), SynonymNormalizer(make_normalizer(), parse_synonyms(["ok|okay"], "s", "cd" * 32))
    base = make_normalizer().version
    assert a.version.startswith(base + "+synonyms-abab") and a.version != b.version != base
    assert a.with_terms(["PayNimbus"]).version == a.version


def test_loader_records_path_hash_and_sets(tmp_path):
    p = tmp_path / "syn.txt"
    p.write_text("\ufeff" + "\n".join(HOUSE) + "\n", encoding="utf-8")
    syn = load_synonyms(p)
    import hashlib

    assert syn.info() == {"path": str(p.resolve()), "sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "sets": 4}
    p.write_text("ok|" + "x" * (SYNONYM_LIMITS.max_line_chars + 1), encoding="utf-8")
    with pytest.raises(InputError, match="longer than"):
        load_synonyms(p)
    p.write_bytes(b"ok|okay\n\xff\n")
    with pytest.raises(InputError, match="not UTF-8") as e:
        load_synonyms(p)
    assert e.value.line == 2
    with pytest.raises(InputError, match="not found"):
        load_synonyms(tmp_path / "missing.txt")


def _score_setup(tmp_path):
    for i in range(2):
        sf.write(tmp_path / f"c{i}.wav", tone(0.3), 16000)
    (tmp_path / "m.csv").write_text("id,audio,text,speaker,accent_group\n"
                                    "u0,c0.wav,OK send the e-mail,s1,us\n"
                                    "u1,c1.wav,our healthcare plan,s2,us\n")
    with open(tmp_path / "h.jsonl", "w") as f:
        for uid, text in (("u0", "okay send the email"), ("u1", "our health care plan")):
            f.write(json.dumps({"id": uid, "text": text, "condition": "baseline"}) + "\n")
    (tmp_path / "syn.txt").write_text("\n".join(HOUSE) + "\n")


def test_score_cli_with_synonyms(tmp_path):
    from asr_eval.cli import app

    _score_setup(tmp_path)
    runs = {}
    for name, extra in (("plain", []), ("syn", ["--synonyms", str(tmp_path / "syn.txt")])):
        out = tmp_path / name
        r = CliRunner().invoke(app, ["score", str(tmp_path / "m.csv"), "--hyp", str(tmp_path / "h.jsonl"),
                                     "--out", str(out), *extra])
        assert r.exit_code == 0, r.output
        rows = list(csv.DictReader(open(out / "utterances.csv", encoding="utf-8")))
        runs[name] = (sum(int(x["subs"]) + int(x["dels"]) + int(x["ins"]) for x in rows),
                      json.loads((out / "run.json").read_text(encoding="utf-8")))
    assert runs["plain"][0] > 0 and runs["syn"][0] == 0
    assert runs["plain"][1]["synonyms"] is None
    info = runs["syn"][1]["synonyms"]
    assert info["sets"] == 4 and info["path"] == str((tmp_path / "syn.txt").resolve()) and len(info["sha256"]) == 64
    assert runs["syn"][1]["normalizer"] == runs["plain"][1]["normalizer"] + "+synonyms-" + info["sha256"][:16]


def test_score_cli_bad_synonyms_file_is_one_line_error(tmp_path):
    from asr_eval.cli import app

    _score_setup(tmp_path)
    (tmp_path / "syn.txt").write_text("ok|okay\nokay|fine\n")
    r = CliRunner().invoke(app, ["score", str(tmp_path / "m.csv"), "--hyp", str(tmp_path / "h.jsonl"),
                                 "--out", str(tmp_path / "o"), "--synonyms", str(tmp_path / "syn.txt")])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "syn.txt:2" in r.output and "already in the set on line 1" in r.output
