"""The fault suite: hostile and broken inputs through the real CLI, one table row per fault.

Every case runs ``python -m asr_eval.cli`` in a subprocess (``harness.cli``) and
asserts the exit code, that each error/warning is one stderr line naming the
file (and line) and the problem, that no traceback is printed, that nothing is
written outside ``--out`` and the cache, that no temporary file is left behind,
and that the good rows of the same run are still scored.

Exit codes (the issue's spec): 0 ok; 1 asr-eval error; 2 bad input; 3 model
problem; 4 output folder locked; 5 finished but some rows were rejected, clips
failed or lacked a hypothesis (skipped.csv lists each); 6 an operating-system
error on a path.

Cases waiting for a fix carry ``xfail(strict=True)`` (``pending``: an issue-12
fix not yet merged; ``finding``: a failure nobody owns yet): when the fix lands
they XPASS, the suite fails, and the marker comes off.

Manifest, hypothesis and output-folder faults use ``score`` (no model), vocabulary
faults ``vocab check``, and audio faults one ``run`` of the bundled tiny.en model
over every fault clip at once (``test_audio_clip``), so the model loads once.
The corpus is written by ``corpus.py`` into each test's temporary folder.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import pytest

from . import corpus as C
from .harness import NUMBA_CACHE, PKG, Result, cli, common_checks

# --------------------------------------------------------------------------- helpers


def pending(item: str):
    """A case waiting for an issue-12 fix not yet on main: it XPASSes, and fails the suite, the day the fix lands.

    None is pending today (every fix of the issue is merged); the table of
    docs/security.md says which cases were xfail before the merges.
    """
    return pytest.mark.xfail(strict=True, reason=f"issue 12: {item} pending")


def finding(what: str):
    """A failure on main that no fix of issue 12 covers: reported to the lead, no owner yet."""
    return pytest.mark.xfail(strict=True, reason=f"new finding, no owner yet: {what}")




def names(path: Path, line: int | None = None, *words: str) -> str:
    """A regex for one stderr line naming ``path`` (by file name), ``line`` and every word of the problem."""
    pat = re.escape(path.name) + (rf":{line}\b" if line is not None else "")
    return "".join(f"(?=.*{w})" for w in words) + f"(?i:.*{pat})"


def utterance_ids(out: Path) -> dict[str, dict[str, str]]:
    path = out / "utterances.csv"
    if not path.exists():
        return {}
    return {r["utt_id"]: r for r in csv.DictReader(open(path, encoding="utf-8"))}


def skipped_rows(out: Path) -> list[dict[str, str]]:
    path = out / "skipped.csv"
    return list(csv.DictReader(open(path, encoding="utf-8"))) if path.exists() else []


@dataclass
class Spec:
    """What one case runs and expects beyond its exit code."""

    args: list
    out: Path | None
    lines: Sequence[str] = ()                 # each regex must match one stderr line
    scored: Sequence[str] = ()                # ids that utterances.csv must hold
    check: Callable[[Result], None] | None = None
    max_seconds: float | None = None
    drop_root: bool = False
    timeout: float = 180
    hold_lock: bool = False
    one_line: bool = True                     # check that a fatal error stands on one line
    env: dict | None = None
    fsize: int | None = None                  # RLIMIT_FSIZE: the disk fills up after this many bytes a file


@dataclass
class Case:
    id: str
    build: Callable[[Path], Spec]
    rc: int | tuple[int, ...] | None          # None: any non-zero
    marks: tuple = ()
    what: str = ""


GOOD = tuple(C.GOOD_TEXT)


def score_args(manifest: Path, hyp: Path | Sequence[Path], out: Path, *extra: object) -> list:
    hyps = [hyp] if isinstance(hyp, Path) else list(hyp)
    return ["score", manifest, *[a for h in hyps for a in ("--hyp", h)], "--out", out, *extra]


def score_case(extra_rows: Sequence[dict] = (), extra_hyps: Sequence[dict] = (), lines=(), scored=GOOD, check=None,
               drop_hyps: Sequence[str] = (), **kw) -> Callable[[Path], Spec]:
    def build(tmp: Path) -> Spec:
        m, h = C.score_inputs(tmp, extra_rows, extra_hyps)
        if drop_hyps:
            kept = [ln for ln in h.read_text(encoding="utf-8").splitlines() if json.loads(ln)["id"] not in drop_hyps]
            h.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")
        out = tmp / "out"
        return Spec(score_args(m, h, out), out, [pat(m, h) if callable(pat) else pat for pat in lines], scored,
                    check, **kw)

    return build


def prior_score_run(tmp: Path, out: Path) -> None:
    """A finished run folder at ``out`` (made before the case's own command, outside its write check)."""
    m, h = C.score_inputs(tmp / "prior")
    r = cli(tmp / "prior", score_args(m, h, out))
    assert r.rc == 0, r.describe()


# --------------------------------------------------------------------------- manifest rows (score)


WRONG_TYPES = {4: ("bad1", "text", C.row("bad1", 12345)),
               5: ("bad2", "text", C.row("bad2", ["a", "list"])),
               6: ("bad3", "speaker", C.row("bad3", "hello there", speaker={"name": "x"}))}


def _wrong_types_check(res: Result) -> None:
    scored = utterance_ids(res.out)
    for line, (uid, field_name, _) in WRONG_TYPES.items():
        assert uid not in scored, f"{uid} (line {line}, wrong type of {field_name!r}) was scored"
        rows = [s for s in skipped_rows(res.out) if s.get("line") == str(line)]
        assert rows and field_name in rows[0]["problem"], (line, skipped_rows(res.out))


def _missing_hyp_check(res: Result) -> None:
    row = utterance_ids(res.out).get("ok3")
    assert row is not None, "the clip without a hypothesis must be scored as an empty hypothesis"
    assert int(row["dels"]) == int(row["ref_words"]) > 0 and int(row["hits"]) == 0, row
    assert any("ok3" in s["problem"] for s in skipped_rows(res.out)), skipped_rows(res.out)


def _rejected_row_check(res: Result) -> None:
    assert "bad1" not in utterance_ids(res.out)
    assert not res.lines(r"not in the manifest"), "the row's own error, not 'id not in the manifest', must be shown"


def _manifest_not_utf8(tmp: Path) -> Spec:
    m, h = C.score_inputs(tmp)
    with open(m, "ab") as f:
        f.write(b'{"id": "bad1", "audio": "x.wav", "text": "caf\xe9 \xff", "speaker": "s", "accent_group": "g"}\n')
    return Spec(score_args(m, h, tmp / "out"), tmp / "out", [names(m, 4, "UTF-8")])


def _manifest_nul(tmp: Path) -> Spec:
    m = C.write_csv(tmp / "manifest.csv", ("id", "audio", "text", "speaker", "accent_group"),
                    [(r["id"], r["audio"], r["text"], r["speaker"], r["accent_group"]) for r in C.good_rows()]
                    + [("bad1", "bad1.wav", "hello\x00world", "s", "g")])
    h = C.write_jsonl(tmp / "hyp.jsonl", [*C.good_hyps(), {"id": "bad1", "text": "hello world", "condition": "baseline"}])

    def check(res: Result) -> None:
        for f in ("utterances.csv", "trn/ref.trn"):
            p = tmp / "out" / f
            assert not p.exists() or b"\x00" not in p.read_bytes(), f"a NUL byte reached {f}"

    return Spec(score_args(m, h, tmp / "out"), tmp / "out", [names(m, 5, "NUL|control")], GOOD, check)


def _markup_group_crash(tmp: Path) -> Spec:
    rows = [C.row("mk1", "hello there", speaker="[/]", group="[/]"), C.row("mk2", "good morning", group="[bold")]
    hyps = [{"id": "mk1", "text": "hello there", "condition": "baseline"},
            {"id": "mk2", "text": "good morning", "condition": "baseline"}]
    m, h = C.score_inputs(tmp, rows, hyps)
    out = tmp / "out"

    def check(res: Result) -> None:
        assert "[/]" in res.stdout and "[bold" in res.stdout, "group names must be printed literally\n" + res.describe()

    return Spec(score_args(m, h, out), out, (), (*GOOD, "mk1", "mk2"), check)


def _yaml_syntax_error(tmp: Path) -> Path:
    p = tmp / "broken.yaml"
    p.write_text("terms:\n  - term: Klarvo\n  - term: [unclosed\n  - term: Zentrix\n")
    return p


def _jsonl_long_line(target: str) -> Callable[[Path], Spec]:
    def build(tmp: Path) -> Spec:
        m, h = C.score_inputs(tmp)
        big = json.dumps({"id": "bad1", "audio": "x.wav", "text": "a " * (9 * 1024**2), "speaker": "s",
                          "accent_group": "g", "condition": "baseline"})
        with open(m if target == "manifest" else h, "a", encoding="utf-8") as f:
            f.write(big + "\n")
        return Spec(score_args(m, h, tmp / "out"), tmp / "out", [names(m if target == "manifest" else h, 4, "long|limit|larger|characters|bytes")])

    return build


def _csv_huge_field(tmp: Path) -> Spec:
    m = C.write_csv(tmp / "manifest.csv", ("id", "audio", "text", "speaker", "accent_group"),
                    [(r["id"], r["audio"], r["text"], r["speaker"], r["accent_group"]) for r in C.good_rows()]
                    + [("bad1", "bad1.wav", "word " * 100_000, "s", "g")])
    h = C.write_jsonl(tmp / "hyp.jsonl", C.good_hyps())
    return Spec(score_args(m, h, tmp / "out"), tmp / "out", [names(m, 5, "field|limit|larger|long")])


def _sparse_manifest(tmp: Path) -> Spec:
    m = C.sparse_file(tmp / "huge.jsonl", 5 * 1024**3, b'{"id": "a", "audio": "a.wav", "text": "a b", "speaker": "s", "accent_group": "g"}\n')
    h = C.write_jsonl(tmp / "hyp.jsonl", C.good_hyps())
    return Spec(score_args(m, h, tmp / "out"), tmp / "out", [names(m, None, "bytes|large|limit")], (), timeout=60)


def _trn_long_line(tmp: Path) -> Spec:
    m, _ = C.score_inputs(tmp)
    trn = tmp / "baseline.trn"
    with open(trn, "w", encoding="utf-8") as f:
        for uid, text in C.GOOD_TEXT.items():
            f.write(f"{text.lower()} (spk-{uid})\n")
        f.write("word " * (4 * 1024**2) + "(spk-bad1)\n")
    return Spec(score_args(m, trn, tmp / "out"), tmp / "out", [names(trn, 4, "long|limit|larger|characters")])


def _hyp_text_number(tmp: Path) -> Spec:
    m, h = C.score_inputs(tmp, extra_hyps=[{"id": "ok1", "text": 12345, "condition": "other"}])
    return Spec(score_args(m, h, tmp / "out"), tmp / "out", [names(h, 4, "string")])


# --------------------------------------------------------------------------- injection payloads (score)


def _injection(tmp: Path) -> Spec:
    rows = [C.row("inj_html", f"{C.SCRIPT} please reset {C.IMG} now", speaker="<i>spk9</i>", group="<b>grp</b>"),
            C.row("inj_rich", f"{C.RICH} hello there", speaker="[bold]spk[/]", group="[red]grp[/]"),
            C.row("@SUM(1+1)", f"{C.FORMULAS[0]} call me back", speaker=C.FORMULAS[1], group=C.FORMULAS[3])]
    hyps = [{"id": "inj_html", "text": f"{C.SCRIPT} please reset now", "condition": "baseline"},
            {"id": "inj_rich", "text": f"hello {C.RICH}", "condition": "baseline"},
            {"id": "@SUM(1+1)", "text": f"{C.FORMULAS[2]} call me back", "condition": "baseline"}]
    m, h = C.score_inputs(tmp, rows, hyps)
    d = C.dictionary_csv(tmp / "dict.csv", [("Klarvo", "", "", "", "product", 1),
                                            (C.SCRIPT, "", C.IMG, "", "<b>cat</b>", 1),
                                            ("[bold]Zentrix[/]", "", "", "", "[red]x[/]", 1)])
    out = tmp / "out"

    def check(res: Result) -> None:
        for report in ("report.html", "report.md"):
            text = (out / report).read_text(encoding="utf-8")
            for payload in (C.SCRIPT, C.IMG, "<b>cat</b>", "<b>grp</b>", "<i>spk9</i>"):
                assert payload not in text, f"unescaped {payload!r} in {report}"
        ids = utterance_ids(out)
        assert {"inj_html", "inj_rich", "@SUM(1+1)"} <= set(ids), sorted(ids)

    return Spec(score_args(m, h, out, "--dictionary", d), out, (), (*GOOD, "inj_html", "inj_rich"), check)


def _markup_paths_warning(tmp: Path) -> Spec:
    folder = tmp / "[bold]in["  # with the file name below the path reads '.../[bold]in[/] m.jsonl'
    folder.mkdir()
    m, h = C.score_inputs(folder, [C.row("warn1", "hello there", speaker="")],
                          [{"id": "warn1", "text": "hello there", "condition": "baseline"}], manifest_name="] m.jsonl")
    out = tmp / "[red]out[" / "]"

    def check(res: Result) -> None:
        assert "[red]out[/]" in res.stderr, "the --out path with markup was not printed literally\n" + res.describe()

    return Spec(score_args(m, h, out), out, [r"(?=.*warning).*" + re.escape("[bold]in[/] m.jsonl:4")], GOOD, check)


def _markup_paths_error(tmp: Path) -> Spec:
    folder = tmp / "[bold]in["
    folder.mkdir()
    m, h = C.score_inputs(folder, manifest_name="] m.jsonl")
    with open(m, "a", encoding="utf-8") as f:
        f.write("{not json [/]\n")
    return Spec(score_args(m, h, tmp / "out"), tmp / "out", [r"^error: .*" + re.escape("[bold]in[/] m.jsonl:4: ")])


# --------------------------------------------------------------------------- output folder


def _out_foreign(force: bool) -> Callable[[Path], Spec]:
    def build(tmp: Path) -> Spec:
        m, h = C.score_inputs(tmp)
        out = tmp / "mine"
        (out / "data").mkdir(parents=True)
        (out / "notes.txt").write_text("my notes\n")
        (out / "data" / "keep.csv").write_text("a,b\n1,2\n")
        (out / "summary.csv").write_text("not asr-eval's\n")

        def check(res: Result) -> None:
            assert (out / "notes.txt").read_text() == "my notes\n"
            assert (out / "data" / "keep.csv").read_text() == "a,b\n1,2\n"
            if not force:
                assert (out / "summary.csv").read_text() == "not asr-eval's\n", "refused, yet a file was replaced"
                assert not (out / "run.json").exists()

        args = score_args(m, h, out, *(["--force"] if force else []))
        lines = () if force else [r"(?i)(?=.*(not an asr-eval|--force)).*" + re.escape(out.name)]
        return Spec(args, out, lines, GOOD if force else (), check)

    return build


def _out_previous_run(lock: bool) -> Callable[[Path], Spec]:
    def build(tmp: Path) -> Spec:
        out = tmp / "out"
        prior_score_run(tmp, out)
        m, h = C.score_inputs(tmp)
        lines = [r"(?i)(?=.*in use).*" + re.escape(out.name)] if lock else ()
        return Spec(score_args(m, h, out), out, lines, () if lock else GOOD, hold_lock=lock)

    return build


def _out_is_file(tmp: Path) -> Spec:
    m, h = C.score_inputs(tmp)
    out = tmp / "out.txt"
    out.write_text("a file, not a folder\n")
    return Spec(score_args(m, h, out), out, [r"^error: " + re.escape(str(out)) + r"\b"],
                check=lambda res: None if out.read_text() == "a file, not a folder\n" else pytest.fail("file changed"))


def _out_parent_is_file(tmp: Path) -> Spec:
    m, h = C.score_inputs(tmp)
    (tmp / "afile").write_text("x\n")
    out = tmp / "afile" / "out"
    return Spec(score_args(m, h, out), out, [r"^error: .*" + re.escape("afile")])


def _out_disk_full(tmp: Path) -> Spec:
    m, h = C.score_inputs(tmp)
    out = tmp / "out"
    # ASR_EVAL_PURE_PYTHON: numba's own cache writes (a pending leak of their own) must not hit the limit first
    return Spec(score_args(m, h, out), out, [r"^error: " + re.escape(str(out)) + r"/\S+: "],
                env={"ASR_EVAL_PURE_PYTHON": "1"}, fsize=16_000)


def _out_file_is_folder(tmp: Path) -> Spec:
    out = tmp / "out"
    prior_score_run(tmp, out)
    (out / "utterances.csv").unlink()
    (out / "utterances.csv").mkdir()
    m, h = C.score_inputs(tmp)
    return Spec(score_args(m, h, out), out, [r"^error: " + re.escape(str(out / "utterances.csv"))])


def _out_readonly(tmp: Path) -> Spec:
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: a read-only folder cannot be made")
    m, h = C.score_inputs(tmp)
    out = tmp / "ro"
    out.mkdir()
    out.chmod(0o555)
    return Spec(score_args(m, h, out), out, [r"^error: " + re.escape(str(out))], drop_root=True)


# --------------------------------------------------------------------------- vocabularies (vocab check / score)


def _vocab(build_file: Callable[[Path], Path], lines_for: Callable[[Path], Sequence[str]], *extra: str,
           max_seconds: float | None = None, timeout: float = 120, check=None, one_line: bool = True) -> Callable[[Path], Spec]:
    def build(tmp: Path) -> Spec:
        f = build_file(tmp)
        return Spec(["vocab", "check", f, *extra], None, lines_for(f), (), check, max_seconds, timeout=timeout,
                    one_line=one_line)

    return build


def _bomb_terms(tmp: Path) -> Path:
    return C.yaml_bomb(tmp / "bomb.yaml")


def _bomb_aliases(tmp: Path) -> Path:
    p = C.yaml_bomb(tmp / "bomb_aliases.yaml")
    lines = p.read_text().splitlines()
    lines[-1] = "terms: [{term: lol, aliases: *a8}, {term: lul, sounds_like: *a8}]"
    p.write_text("\n".join(lines) + "\n")
    return p


def _yaml_huge_scalar(tmp: Path) -> Path:
    p = tmp / "huge.yaml"
    p.write_text("terms:\n  - term: Klarvo\n  - term: " + "x" * 2_000_000 + "\n", encoding="utf-8")
    return p


def _vocab_csv_huge_field(tmp: Path) -> Path:
    return C.dictionary_csv(tmp / "huge.csv", [("Klarvo", "", "", "", "product", 1),
                                               ("x" * 200_000, "", "", "", "product", 1)])


def _yaml_python_tag(tmp: Path) -> Path:
    p = tmp / "tag.yaml"
    p.write_text(f'- Klarvo\n- !!python/object/apply:os.system ["touch {tmp}/pwned"]\n')
    return p


def _python_tag_check(res: Result) -> None:
    assert not any(p.endswith("/pwned") for p in res.changed), "a YAML tag ran a command"
    assert re.search(r"tag\.yaml:2\b", res.output), f"line 2 (the tag) not named\n{res.describe()}"


def _vocab_not_utf8(tmp: Path) -> Path:
    p = tmp / "latin1.csv"
    p.write_bytes(b"term,category\nKlarvo,product\nCaf\xe9 Zentrix,product\n")
    return p


def _invisible(tmp: Path) -> Path:
    return C.dictionary_csv(tmp / "invisible.csv", [(f"Klar{C.ZWSP}vo", "", "", "", "product", 1),
                                                    (f"{C.RLO}Zentrix Cloud", "", "", "", "product", 1),
                                                    ("Tallyra", "", "", "", "product", 1)])


def _malformed_rows(tmp: Path) -> Path:
    p = tmp / "malformed.csv"
    p.write_text("term,display,aliases,sounds_like,category,priority\n"
                 "Klarvo,,,,product,1\n"
                 "Zentrix,,,,product,high\n"       # 3: priority not an integer
                 "Tallyra,,,,product,1,extra,cells\n"  # 4: more cells than the header
                 ",,,,product,1\n"                  # 5: no term
                 "PayNimbus,,,,product,2.5\n",      # 6: priority not an integer
                 encoding="utf-8")
    return p


def _malformed_check(res: Result) -> None:
    for line in (3, 4, 5, 6):
        assert re.search(rf"malformed\.csv:{line}\b|\"line\": {line}\b", res.output), f"line {line} not reported\n" + res.describe()


def _malformed_json_check(res: Result) -> None:
    doc = json.loads(res.stdout)
    text = json.dumps(doc)
    for line in (3, 4, 5, 6):
        assert re.search(rf"\"line\": {line}\b|malformed\.csv:{line}\b", text), f"line {line} missing from the JSON"


def _invisible_check(res: Result) -> None:
    doc = json.loads(res.stdout)
    text = json.dumps(doc, ensure_ascii=True).lower()
    for code in ("200b", "202e"):
        assert code in text or ("invisible" in text or "zero-width" in text or "bidi" in text), \
            f"U+{code.upper()} not reported by vocab check\n{res.stdout[:3000]}"


def _invisible_stripped(tmp: Path) -> Spec:
    m, h = C.score_inputs(tmp)
    d = _invisible(tmp)
    out = tmp / "out"

    def check(res: Result) -> None:
        snap = (out / "vocabulary.json").read_text(encoding="utf-8")
        assert C.ZWSP not in snap and C.RLO not in snap and "\\u200b" not in snap and "\\u202e" not in snap, snap[:2000]
        assert "Klarvo" in snap and "Zentrix Cloud" in snap

    return Spec(score_args(m, h, out, "--dictionary", d), out, (), GOOD, check)


# --------------------------------------------------------------------------- the table

CASES: list[Case] = [
    # control
    Case("clean_score", score_case(), 0, what="three good rows"),
    # manifest rows
    Case("jsonl_wrong_value_types", score_case([r for _, _, r in WRONG_TYPES.values()],
                                               lines=[(lambda ln, f: lambda m, h: names(m, ln, f))(ln, f)
                                                      for ln, (_, f, _) in WRONG_TYPES.items()],
                                               check=_wrong_types_check), 5,
         what='"text": 12345, "text": [..], "speaker": {..}'),
    Case("punctuation_only_reference", score_case([C.row("bad1", "?! ... —")], [{"id": "bad1", "text": "hello", "condition": "baseline"}],
                                                  lines=[lambda m, h: names(m, 4)]), 5),
    Case("rejected_row_with_hypothesis", score_case([C.row("bad1", "   ")], [{"id": "bad1", "text": "hello", "condition": "baseline"}],
                                                    lines=[lambda m, h: names(m, 4, "empty")], check=_rejected_row_check),
         5),
    Case("duplicate_id", score_case([C.row("ok1", "a second ok1")], lines=[lambda m, h: names(m, 4, "duplicate")]),
         5),
    Case("missing_hypotheses", score_case(drop_hyps=("ok3",), lines=[lambda m, h: names(h, None, "ok3")],
                                          check=_missing_hyp_check),
         5),
    Case("manifest_not_utf8", _manifest_not_utf8, 2),
    Case("manifest_nul_byte", _manifest_nul, (2, 5)),
    Case("manifest_jsonl_line_too_long", _jsonl_long_line("manifest"), 2),
    Case("manifest_csv_field_too_long", _csv_huge_field, 2),
    Case("manifest_file_too_large", _sparse_manifest, 2),
    # hypotheses
    Case("hyp_jsonl_line_too_long", _jsonl_long_line("hyp"), 2),
    Case("hyp_trn_line_too_long", _trn_long_line, 2),
    Case("hyp_text_number", _hyp_text_number, 2),
    # injection and markup
    Case("html_markup_formula_payloads", _injection, 0),
    Case("markup_in_paths_warning", _markup_paths_warning, 0),
    Case("markup_in_paths_error", _markup_paths_error, 2),
    Case("markup_in_group_names", _markup_group_crash, 0),
    # output folder
    Case("out_previous_run", _out_previous_run(False), 0),
    Case("out_locked", _out_previous_run(True), 4),
    Case("out_foreign_folder", _out_foreign(False), 2),
    Case("out_foreign_folder_force", _out_foreign(True), 0),
    Case("out_is_a_file", _out_is_file, 6),
    Case("out_parent_is_a_file", _out_parent_is_file, 6),
    Case("out_read_only", _out_readonly, 6),
    Case("out_disk_full", _out_disk_full, 6, what="RLIMIT_FSIZE: a write fails with EFBIG"),
    Case("out_output_name_is_a_folder", _out_file_is_folder, 6,
         what="a rerun where utterances.csv has become a folder: the rename fails"),
    # vocabularies. The time bound covers the whole command, interpreter start-up and the CLI's imports
    # included (about 2 s on a busy 2-core machine): an expanded bomb (9^9 items) would take minutes and
    # gigabytes, so 5 s still tells a refused bomb from an expanded one without failing on a loaded host.
    Case("yaml_bomb_terms", _vocab(_bomb_terms, lambda f: [names(f, None)], max_seconds=5.0, timeout=30), 2),
    Case("yaml_bomb_aliases", _vocab(_bomb_aliases, lambda f: [names(f, None)], max_seconds=5.0, timeout=30), 2),
    Case("yaml_scalar_too_long", _vocab(_yaml_huge_scalar, lambda f: [names(f, None, "long|limit|large|characters")], timeout=60),
         2),
    Case("vocab_csv_field_too_long", _vocab(_vocab_csv_huge_field, lambda f: [names(f, 3, "field|limit|larger|long")]), 2),
    Case("yaml_python_tag", _vocab(_yaml_python_tag, lambda f: (), check=_python_tag_check), 1,
         what="a finding on line 2 (the tag constructs nothing): nothing runs"),
    Case("yaml_syntax_error_one_line", _vocab(_yaml_syntax_error, lambda f: [names(f, None)]), 2),
    Case("vocab_not_utf8", _vocab(_vocab_not_utf8, lambda f: [names(f, 3, "UTF-8")]), 2),
    Case("vocab_invisible_reported", _vocab(_invisible, lambda f: (), "--json", check=_invisible_check), 1),
    Case("vocab_invisible_stripped", _invisible_stripped, 0),
    Case("vocab_malformed_rows_all_reported", _vocab(_malformed_rows, lambda f: (), check=_malformed_check), 1),
    Case("vocab_malformed_rows_json", _vocab(_malformed_rows, lambda f: (), "--json", check=_malformed_json_check), 1),
]




# --------------------------------------------------------------------------- running the table

WORKERS = int(os.environ.get("ASR_EVAL_FAULT_WORKERS", "2"))


def _run_case(case: Case, tmp: Path, warm_cache: Path):
    """Build the case's inputs and run its command; returns (spec, result) or the exception building raised."""
    try:
        spec = case.build(tmp)
        lock = None
        if spec.hold_lock:
            lock = open(spec.out / ".asr-eval.lock", "a+")
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            res = cli(tmp, spec.args, out=spec.out, cache_seed=warm_cache, drop_root=spec.drop_root, timeout=spec.timeout,
                      env=spec.env, fsize=spec.fsize)
        finally:
            if lock is not None:
                lock.close()
        return spec, res
    except BaseException as exc:  # pytest.skip and friends included: re-raised in the case's own test
        return exc


@pytest.fixture(scope="module")
def table_results(request, tmp_path_factory, warm_cache) -> dict[str, object]:
    """Every selected case of the table, run up front ``WORKERS`` at a time (each is one short subprocess)."""
    from concurrent.futures import ThreadPoolExecutor

    chosen = [item.callspec.params["case"] for item in request.session.items
              if getattr(item, "originalname", "") == "test_fault" and hasattr(item, "callspec")]
    tmps = {c.id: tmp_path_factory.mktemp(c.id[:40]) for c in chosen}
    with ThreadPoolExecutor(max(1, WORKERS)) as pool:
        done = pool.map(lambda c: (c.id, _run_case(c, tmps[c.id], warm_cache)), chosen)
        return dict(done)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_fault(case: Case, table_results: dict) -> None:
    got = table_results[case.id]
    if isinstance(got, BaseException):
        raise got
    spec, res = got
    if case.rc is None:
        assert res.rc > 0, f"exit {res.rc}, want a refusal (non-zero)\n{res.describe()}"
    else:
        want = case.rc if isinstance(case.rc, tuple) else (case.rc,)
        assert res.rc in want, f"exit {res.rc}, want {' or '.join(map(str, want))}\n{res.describe()}"
    common_checks(res)
    if spec.one_line:
        assert_one_line_messages(res)
    for pat in spec.lines:
        assert res.lines(pat), f"no stderr line matches {pat!r}\n{res.describe()}"
    if spec.scored:
        got_ids = utterance_ids(spec.out)
        missing = [i for i in spec.scored if i not in got_ids]
        assert not missing, f"good rows not scored: {missing}\n{res.describe()}"
    if spec.max_seconds is not None:
        assert res.seconds < spec.max_seconds, f"took {res.seconds:.1f} s\n{res.describe()}"
    if spec.check is not None:
        spec.check(res)


def assert_one_line_messages(res: Result) -> None:
    """A command that stops on an error prints it as one line, the last one, and only one."""
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    err = [ln for ln in lines if ln.startswith("error:")]
    assert len(err) <= 1, f"more than one 'error:' line\n{res.describe()}"
    if err and res.rc not in (0, 5):
        assert lines[-1] == err[0], f"the error does not stand on one (last) line\n{res.describe()}"


# --------------------------------------------------------------------------- one audio run over every fault clip

AUDIO = C.AUDIO_CASES


@pytest.fixture(scope="module")
def audio_run(tmp_path_factory, warm_cache):
    """``asr-eval run`` with the bundled tiny.en over every clip of the audio corpus (the model loads once)."""
    tmp = tmp_path_factory.mktemp("audio")
    manifest = C.write_audio_corpus(tmp)
    out = tmp / "out"
    res = cli(tmp, ["run", manifest, "--out", out, "--condition", "baseline", "--no-progress"], out=out, cache_seed=warm_cache,
              timeout=900)
    return manifest, res


@pytest.mark.model
@pytest.mark.slow
def test_audio_run(audio_run) -> None:
    """The run as a whole: exit 5 (some clips rejected), nothing outside --out and the cache, good clips scored."""
    manifest, res = audio_run
    assert res.rc == 5, res.describe()
    common_checks(res)
    ids = utterance_ids(res.out)
    assert {"good1", "good2"} <= set(ids), res.describe()
    html = (res.out / "report.html").read_text(encoding="utf-8")
    assert C.SCRIPT not in html and "<b>x</b>" not in html, "unescaped markup from the manifest in report.html"


def _audio_params():
    out = []
    for i, c in enumerate(AUDIO):
        marks = [pytest.mark.model, pytest.mark.slow]
        if c.pending:
            marks.append(pending(c.pending))
        out.append(pytest.param(c, i + 2, id=c.id, marks=marks))
    return out


@pytest.mark.parametrize("clip,line", _audio_params())
def test_audio_clip(audio_run, clip: C.AudioCase, line: int) -> None:
    """Each clip is scored, or listed in skipped.csv on its manifest line with a clear reason and one stderr line."""
    manifest, res = audio_run
    scored = utterance_ids(res.out)
    skipped = [s for s in skipped_rows(res.out) if s.get("line") == str(line)]
    if clip.expect == "scored":
        assert clip.id in scored, f"{clip.id} not scored; skipped.csv says {skipped}\n{res.describe()}"
        assert not skipped, skipped
        return
    assert clip.id not in scored, f"{clip.id} ({clip.file}) was scored; it must be rejected"
    assert skipped, f"{clip.id} not in skipped.csv\n{skipped_rows(res.out)}"
    assert re.search(clip.reason, skipped[0]["problem"], re.I), skipped[0]
    mine = [ln for ln in res.stderr.splitlines() if re.search(rf":{line}: (error|warning):|:{line}:.*\b(error|warning)\b", ln)]
    assert mine and re.search(clip.reason, mine[0], re.I), f"no one-line stderr message for line {line}\n{res.describe()}"


@pytest.mark.model
@pytest.mark.slow
def test_outside_paths_cannot_probe(audio_run) -> None:
    """A path outside the set is refused with the same words whether or not its target exists."""
    manifest, res = audio_run
    by_line = {s["line"]: s["problem"] for s in skipped_rows(res.out)}
    line = {c.id: i + 2 for i, c in enumerate(AUDIO)}
    secret = str(manifest.parent.parent / "secret")

    def masked(uid: str) -> str:
        text = by_line.get(str(line[uid]), f"<{uid} not in skipped.csv>")
        return re.sub(r"outside\.wav|missing\.wav", "FILE", text.replace(secret, "SECRET"))

    assert masked("outside_dotdot") == masked("outside_dotdot_missing")
    assert masked("outside_absolute") == masked("outside_absolute_missing")


def _outside_run(tmp: Path, warm_cache: Path, *flags: str):
    manifest = C.write_audio_corpus(tmp, [c for c in AUDIO if c.id in ("tenth_second", "outside_dotdot",
                                                                         "outside_absolute", "outside_symlink")])
    out = tmp / "out"
    flags = tuple(f.replace("{secret}", str(tmp / "secret")) for f in flags)
    return cli(tmp, ["run", manifest, "--out", out, "--condition", "baseline", "--no-progress", *flags],
               out=out, cache_seed=warm_cache, timeout=600)


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize("flags", [("--allow-outside-paths",), ("--audio-root", "{secret}")], ids=["allow_outside_paths", "audio_root"])
def test_outside_paths_allowed(tmp_path, warm_cache, flags) -> None:
    """``--allow-outside-paths`` accepts every outside path; ``--audio-root DIR`` adds DIR to the allowed folders."""
    res = _outside_run(tmp_path, warm_cache, *flags)
    assert res.rc == 0, res.describe()
    common_checks(res)
    assert {"tenth_second", "outside_dotdot", "outside_absolute", "outside_symlink"} <= set(utterance_ids(res.out))


# --------------------------------------------------------------------------- a damaged transcript cache


@pytest.mark.model
@pytest.mark.slow
def test_damaged_cache_recovers_with_one_warning(tmp_path, warm_cache) -> None:
    manifest = C.write_audio_corpus(tmp_path, [c for c in AUDIO if c.id in ("tenth_second", "silence")])
    out = tmp_path / "out"
    args = ["run", manifest, "--out", out, "--condition", "baseline", "--no-progress"]
    first = cli(tmp_path, args, out=out, cache_seed=warm_cache, timeout=600)
    assert first.rc == 0, first.describe()
    store = out / "cache" / "transcripts.jsonl"
    good = store.read_bytes().splitlines(keepends=True)
    # garbage between records, a record cut in half mid-file, binary noise, and a torn last line
    damaged = (b"not json at all\n" + good[0] + good[1][: len(good[1]) // 2] + b"\n"
               + b"\x00\xff\xfe garbage\n" + b"".join(good[1:]) + b'{"key": "torn')
    store.write_bytes(damaged)
    res = cli(tmp_path, args, out=out, cache_seed=warm_cache, timeout=600)
    assert res.rc == 0, res.describe()
    common_checks(res)
    assert {"tenth_second", "silence"} <= set(utterance_ids(out))
    warn = [ln for ln in res.stderr.splitlines() if "transcripts.jsonl" in ln and re.search(r"warning", ln, re.I)]
    assert len(warn) == 1, f"want one warning naming the cache file\n{res.describe()}"
    assert re.search(r"\b[34]\b", warn[0]), f"the warning must count the damaged lines skipped (3, 4 with the torn tail): {warn[0]}"


# --------------------------------------------------------------------------- nothing written outside --out and the cache


@pytest.fixture(scope="module")
def fresh_install(tmp_path_factory):
    """``score`` from a copy of the package with no compiled caches, an empty HOME and an empty asr-eval cache."""
    tmp = tmp_path_factory.mktemp("fresh-install")
    copy = tmp / "install"
    shutil.copytree(PKG, copy / "asr_eval", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
    m, h = C.score_inputs(tmp)
    out = tmp / "out"
    res = cli(tmp, score_args(m, h, out), out=out, cwd=copy, pythonpath=copy)
    assert res.rc == 0, res.describe()
    return copy, res


def test_no_jit_cache_under_the_package(fresh_install) -> None:
    """numba's ``*.nbi``/``*.nbc`` go to the asr-eval cache, never into the package (a shared install may be read-only)."""
    copy, res = fresh_install
    written = sorted(str(p.relative_to(copy)) for p in copy.rglob("*") if NUMBA_CACHE.search(p.name))
    assert not written, f"numba cache files written into the package: {written[:5]}"
    assert any(NUMBA_CACHE.search(p.name) for p in res.cache.rglob("*")), "the kernels were not cached in the cache folder"
    assert not res.written_outside(), res.written_outside()


def test_nothing_under_home(fresh_install) -> None:
    """Nothing is written under $HOME (matplotlib's font cache included): only --out and ASR_EVAL_CACHE."""
    _, res = fresh_install
    leaked = [p for p in res.changed if p.startswith(str(res.home) + "/")]
    assert not leaked, f"written under $HOME: {leaked[:5]}"
    assert (res.cache / "matplotlib").is_dir(), sorted(p.name for p in res.cache.iterdir())


def _long_folder(tmp: Path) -> Path:
    folder = tmp / ("a-rather-long-folder-name-" * 3)
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("kind", ["fatal_error", "row_problem"])
def test_messages_not_wrapped_without_a_terminal(tmp_path, warm_cache, kind) -> None:
    """With stderr a pipe (a service's log) and no COLUMNS, each long message still stands on one line."""
    folder = _long_folder(tmp_path)
    out = tmp_path / "out"
    if kind == "fatal_error":
        m = folder / "manifest.jsonl"
        m.write_text("{not json\n")
        res = cli(tmp_path, ["score", m, "--hyp", m, "--out", out], out=out, cache_seed=warm_cache, columns=None)
        assert res.rc == 2, res.describe()
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and f"{m}:1: " in lines[0], res.describe()
    else:
        m, h = C.score_inputs(folder, [C.row("ok1", "a second ok1 with a long reference " * 3)])
        res = cli(tmp_path, score_args(m, h, out), out=out, cache_seed=warm_cache, columns=None)
        assert res.rc == 5, res.describe()
        assert [ln for ln in res.stderr.splitlines() if f"{m}:4: error: duplicate id" in ln], res.describe()
