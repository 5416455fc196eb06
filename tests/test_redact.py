"""Redaction of personal information in report excerpts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from asr_eval.redact import EMAIL, NAME, NUMBER, PHONE, Redactor

sys.path.insert(0, str(Path(__file__).parent))
from test_report import make_run

from asr_eval.report import write_reports

R = Redactor.build(True, ["Siobhán Nguyen", "Chidi Okonkwo", "J Smith"])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mail john.smith+x@example.co.uk now", f"mail {EMAIL} now"),
        ("john dot smith at example dot com", EMAIL),
        ("call +1 (555) 123-4567 today", f"call {PHONE} today"),
        ("call 555 123 4567.", f"call {PHONE}."),
        ("card 4111 1111 1111 1111 ok", f"card {NUMBER} ok"),
        ("account 12345678", f"account {NUMBER}"),
        ("account four one one two three five six seven please", f"account {NUMBER} please"),
        ("order 2024 costs 150 dollars", "order 2024 costs 150 dollars"),  # short numbers stay
        ("one two three", "one two three"),
        ("Siobhan Nguyen and chidi okonkwo", f"{NAME} {NAME} and {NAME} {NAME}"),
        ("smith j", f"{NAME} j"),  # one-letter initials are not masked
    ],
)
def test_text(text: str, expected: str) -> None:
    assert R.text(text) == expected


def test_tokens_keep_alignment_columns() -> None:
    words = ["card", "4", "1", None, "1", "1", "2", "3", "ok", "siobhan", None]
    out = R.tokens(words)
    assert len(out) == len(words)
    assert out == ["card", NUMBER, NUMBER, None, NUMBER, NUMBER, NUMBER, NUMBER, "ok", NAME, None]
    assert R.tokens(["4", "1", "ok", "1"]) == ["4", "1", "ok", "1"]  # too few digits in a run


def test_disabled_is_identity() -> None:
    off = Redactor(enabled=False)
    s = "mail a@b.com 4111111111111111 Siobhan"
    assert off.text(s) == s and off.tokens(s.split()) == s.split()
    assert off.term("Siobhan Nguyen", "directory", 1) == "Siobhan Nguyen"


def test_directory_terms_become_pseudonyms() -> None:
    assert R.term("Siobhan Nguyen", "directory", 3) == "[NAME 3]"
    assert R.term("Klarvo", "dictionary", None) == "Klarvo"


def test_reports_never_show_pii_but_metrics_are_unchanged(tmp_path: Path) -> None:
    secret = "mail jane.doe@example.com or 555-867-5309 card 4111111111111111"
    plain = make_run(tmp_path / "plain", extra_text=secret)
    red = make_run(tmp_path / "red", extra_text=secret)
    write_reports(plain, n_boot=100)
    write_reports(red, n_boot=100, redact=True, redact_names=True)
    for name in ("report.md", "report.html", "report.json"):
        text = (red / name).read_text(encoding="utf-8")
        for leak in ("jane.doe@example.com", "867-5309", "4111111111111111", "Siobhan", "siobhan", "nguyen"):
            assert leak not in text, (name, leak)
        assert "redact" in text.lower()
    assert "jane.doe@example.com" in (plain / "report.html").read_text(encoding="utf-8")
    assert "Redaction was off" in (plain / "report.md").read_text(encoding="utf-8")
    a = json.loads((plain / "report.json").read_text(encoding="utf-8"))
    b = json.loads((red / "report.json").read_text(encoding="utf-8"))
    assert a["summary"] == b["summary"] and a["comparisons"] == b["comparisons"]
    assert b["redaction"] == {**b["redaction"], "enabled": True, "names": True}
    assert (plain / "summary.csv").read_text() == (red / "summary.csv").read_text()


def test_names_from_the_directory_file_are_masked_too(tmp_path: Path) -> None:
    """Names that are not terms of this run (only in the directory file) are masked as well."""
    directory = Path(__file__).resolve().parents[1] / "dictionaries" / "demo-directory.csv"
    if not directory.exists():
        pytest.skip("demo directory not present")
    d = make_run(tmp_path / "r", extra_text="ask Chidi Okonkwo or Priya", directory=str(directory))
    write_reports(d, n_boot=50, redact_names=True)
    for name in ("report.md", "report.html", "report.json"):
        text = (d / name).read_text(encoding="utf-8")
        for leak in ("Chidi", "Okonkwo", "Priya"):
            assert leak not in text, (name, leak)


from hypothesis import given, settings
from hypothesis import strategies as hs

_TOKEN = hs.one_of(hs.none(), hs.sampled_from(["4", "12", "one", "two", "oh", "call", "me", "siobhan", "a@b.co"]),
                   hs.from_regex(r"[0-9]{1,5}", fullmatch=True))


@settings(max_examples=200, deadline=None)
@given(hs.lists(_TOKEN, max_size=30))
def test_tokens_keep_shape_and_leave_no_long_number(words) -> None:
    out = R.tokens(words)
    assert len(out) == len(words)
    assert [w is None for w in out] == [w is None for w in words]
    # No run of digit tokens (gaps ignored) holding 6+ digits survives.
    run = 0
    for w in out:
        if w is None:
            continue
        run = run + len(w) if w.isdigit() else 0
        assert run < 6
    assert "siobhan" not in out and "a@b.co" not in out


@settings(max_examples=200, deadline=None)
@given(hs.text(alphabet="0123456789 -+().abc@", max_size=60))
def test_text_leaves_no_long_digit_run(text) -> None:
    import re

    assert not re.search(r"\d(?:[\s-]?\d){5,}", R.text(text))


def test_near_misses_of_names_are_masked_but_short_names_only_exactly() -> None:
    r = Redactor.build(True, ["Siobhan Nguyen", "Mark Raghunathan"])
    assert r.text("transfer to Siobhanie now") == f"transfer to {NAME} now"
    assert r.text("ask Raghunatan") == f"ask {NAME}"  # one letter dropped by the ASR
    assert r.text("Mark the market") == f"{NAME} the market"


def test_names_come_from_the_run_snapshot_even_after_the_directory_file_changed(tmp_path: Path) -> None:
    """A run's own vocabulary snapshot decides which names are masked, not today's directory file."""
    from asr_eval.evaluate import RunConfig, run_evaluation

    from test_executor import FakeTranscriber, make_fixture

    fx = make_fixture(tmp_path / "data", n=3)
    people = tmp_path / "data" / "people.csv"
    people.write_text("first,last\nChidi,Okonkwo\nPriya,Raman\n", encoding="utf-8")
    out = tmp_path / "out"
    run_evaluation(fx["manifest"], out, directory=people, config=RunConfig(progress=False, reports=False),
                   backend=FakeTranscriber())
    people.write_text("first,last\nSomebody,Else\n", encoding="utf-8")  # changed after the run
    from asr_eval.report.model import directory_names
    from asr_eval.runfolder import load_run

    names, problem = directory_names(load_run(out))
    assert problem is None
    assert {"Chidi", "Okonkwo", "Priya", "Raman"} <= set(names) and "Somebody" not in names


def test_an_old_run_folder_without_a_snapshot_masks_only_names_seen_and_says_so(tmp_path: Path) -> None:
    """A report reads its run folder only: no directory file named in run.json is opened."""
    from asr_eval.report.model import directory_names
    from asr_eval.runfolder import VOCABULARY_FILE, load_run

    people = tmp_path / "people.csv"
    people.write_text("first,last\nChidi,Okonkwo\n", encoding="utf-8")
    d = make_run(tmp_path / "r", extra_text="ask Chidi Okonkwo", directory=str(people))
    (d / VOCABULARY_FILE).unlink()  # as written before snapshots existed
    names, problem = directory_names(load_run(d))
    assert "Chidi" not in names and problem and "no vocabulary snapshot" in problem
