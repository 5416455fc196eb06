"""Per-clip biasing lists: the manifest's context_terms, per-clip plans and scoring, and the distractor protocol."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest
import soundfile as sf
from conftest import DEMO, ROOT

from asr_eval.bias import (
    CONTEXT,
    CONTEXT_DICTIONARY,
    ClipPlans,
    _fit_exact,
    build_conditions,
    clip_sequence,
    fit_terms,
    make_plans,
)
from asr_eval.cache import TranscriptStore
from asr_eval.context import (
    MAX_TERM_CHARS,
    ManifestLists,
    ProtocolDraw,
    ProtocolLists,
    parse_context_terms,
)
from asr_eval.evaluate import RunConfig, evaluate, load_inputs
from asr_eval.manifest import load_manifest
from asr_eval.normalize import make_normalizer
from asr_eval.runfolder import iter_plans, load_run
from asr_eval.scoring import build_term_index
from asr_eval.transcribe import decode_missing
from asr_eval.types import BiasPlan, Condition, DecodeResult, Term, Utterance, Vocabulary


def T(display: str, priority: int = 0, source: str = "dictionary") -> Term:
    return Term(display, "product", source, priority=priority)


class WordFake:
    """Deterministic plumbing transcriber: writes the reference-free words 'we heard' plus its prompt's first term.

    Tokens are words, so budgets are easy to reason about. Records every plan it decodes.
    """

    name = "fake"
    batch_size = 1

    def __init__(self, budget: int = 12):
        self.budget = budget
        self.decoded: list[BiasPlan] = []

    def load(self) -> None:
        pass

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prompt_budget(self, method: str) -> int:
        return self.budget

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": "word-fake"}

    def transcribe(self, audio: np.ndarray, plans: Sequence[BiasPlan]) -> list[DecodeResult]:
        self.decoded.extend(plans)
        return [DecodeResult("we heard " + (p.text.split(",")[0].strip() if p.text else "nothing")) for p in plans]

    def transcribe_batch(self, audios, plans):
        return [self.transcribe(a, ps) for a, ps in zip(audios, plans)]


def _wav(path: Path, seconds: float = 0.5, freq: float = 440.0) -> Path:
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(path, (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 16000)
    return path


def _manifest(tmp: Path, rows: list[dict[str, str]], name: str = "manifest.csv") -> Path:
    path = tmp / name
    cols = ["id", "audio", "text", "speaker", "accent_group", "context_terms"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return path


def _utt(uid: str, text: str = "hello", terms: tuple[str, ...] = (), audio: str = "a.wav") -> Utterance:
    return Utterance(uid, audio, text, "spk", "g", {"context_terms": terms} if terms else {})


# --------------------------------------------------------------------------- parsing the column


def test_context_terms_parse_pipes_json_and_fold_repeats():
    assert parse_context_terms("Zentrix Cloud| Siobhan  Nguyen ||zentrix cloud") == ("Zentrix Cloud", "Siobhan Nguyen")
    assert parse_context_terms(["Klarvo", "Małgorzata", "MALGORZATA"]) == ("Klarvo", "Małgorzata")
    assert parse_context_terms('["a|b", "c"]') == ("a|b", "c")  # a JSON list in a CSV cell keeps its pipes
    assert parse_context_terms("") == () and parse_context_terms(None) == ()


@pytest.mark.parametrize("value, message", [
    (["ok", 3], "item 2 must be a string"),
    ({"a": 1}, "must be a list of strings"),
    ("[not json", "not a JSON list"),
    (["x" * (MAX_TERM_CHARS + 1)], "characters long"),
    ([f"t{i}" for i in range(5002)], "more than 5000 terms"),
])
def test_context_terms_parse_errors(value, message):
    with pytest.raises(ValueError, match=message):
        parse_context_terms(value)


def test_manifest_reads_context_terms_and_rejects_a_bad_row_alone(tmp_path):
    _wav(tmp_path / "a.wav")
    path = tmp_path / "m.jsonl"
    rows = [
        {"id": "u1", "audio": "a.wav", "text": "hello there", "speaker": "s", "accent_group": "g",
         "context_terms": ["Zentrix", "Klarvo"]},
        {"id": "u2", "audio": "a.wav", "text": "hello there", "speaker": "s", "accent_group": "g",
         "context_terms": [1, 2]},
        {"id": "u3", "audio": "a.wav", "text": "hello there", "speaker": "s", "accent_group": "g",
         "context_terms": "Acme|Quorvi"},
        {"id": "u4", "audio": "a.wav", "text": "hello there", "speaker": "s", "accent_group": "g"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    m = load_manifest(path)
    got = {u.id: u.meta.get("context_terms") for u in m.utterances}
    assert got == {"u1": ("Zentrix", "Klarvo"), "u3": ("Acme", "Quorvi"), "u4": None}
    (problem,) = m.problems
    assert (problem.path, problem.line) == (str(path), 2) and "item 1 must be a string" in problem.problem


# --------------------------------------------------------------------------- conditions and plans


def test_context_conditions_only_when_clips_carry_lists():
    d = Vocabulary("d", "d.csv", "dictionary", (T("Klarvo"),))
    assert [c.name for c in build_conditions(d, None)] == ["baseline", "dictionary"]
    conds = build_conditions(d, None, context=True)
    assert [c.name for c in conds] == ["baseline", "dictionary", CONTEXT, CONTEXT_DICTIONARY]
    assert conds[2].terms == () and conds[3].terms == (T("Klarvo"),)
    assert [c.name for c in build_conditions(None, None, context=True)] == ["baseline", CONTEXT]


def test_clip_sequence_puts_the_clip_list_first_and_offers_a_term_once():
    dictionary = [T("Alpha", 5), T("Bravo"), T("Charlie", 9)]
    own = [T("delta"), T("bravo", source="context"), T("Echo", 3)]
    seq = clip_sequence(own, dictionary)
    # own list in priority order (Echo first), then the dictionary in priority order without the repeated Bravo
    assert [t.display for t in seq] == ["Echo", "delta", "bravo", "Charlie", "Alpha"]
    # the protocol's shuffled list keeps its own order
    assert [t.display for t in clip_sequence(own, (), ordered=True)] == ["delta", "bravo", "Echo"]


def test_each_clip_is_fitted_to_the_budget_on_its_own():
    dictionary = Vocabulary("d", "d.csv", "dictionary", tuple(T(f"Dict{i}") for i in range(10)))
    conds = build_conditions(dictionary, None, context=True)
    lists = ManifestLists(dictionary.terms)
    fake = WordFake(budget=4)  # four words
    plans = make_plans(conds, fake, {c.name: lists for c in conds if c.kind == "context"})
    assert isinstance(plans, ClipPlans) and plans.per_clip == (CONTEXT, CONTEXT_DICTIONARY)
    long = _utt("long", terms=("Ann Lee", "Bo Chan", "Cy Dunn"))
    short = _utt("short", terms=("Zed",))
    none = _utt("none")
    p_long, p_short, p_none = plans.for_clip(long), plans.for_clip(short), plans.for_clip(none)
    # 'Ann Lee, Bo Chan' is four words: the third name does not fit this clip's budget
    assert p_long[CONTEXT].terms_in_force == ("Ann Lee", "Bo Chan") and p_long[CONTEXT].terms_dropped == ("Cy Dunn",)
    assert p_long[CONTEXT].tokens == 4 and p_long[CONTEXT].budget == 4
    # the short clip's own term first, then the dictionary fills the rest of its budget
    assert p_short[CONTEXT_DICTIONARY].terms_in_force == ("Zed", "Dict0", "Dict1", "Dict2")
    assert len(p_short[CONTEXT_DICTIONARY].terms_dropped) == 7
    # no list: the context condition decodes as the baseline does (same plan, so one shared decode)
    assert p_none[CONTEXT].method == "none" and p_none[CONTEXT].text is None
    assert {k: v for k, v in p_none[CONTEXT].to_dict().items() if k != "condition"} == \
           {k: v for k, v in p_none["baseline"].to_dict().items() if k != "condition"}
    # the fixed conditions keep one plan for every clip
    assert p_long["dictionary"] == p_short["dictionary"] == plans["dictionary"]


def test_incremental_fit_is_the_exact_first_fit():
    rng = random.Random(3)
    words = ["Zentrix", "Cloud", "S.L.A.", "O'Neil", "3M", "Ní", "Q&A", "e.g.", "AT&T"]
    terms = [T(" ".join(rng.sample(words, rng.randint(1, 3))), rng.randint(0, 2)) for _ in range(300)]
    additive = lambda s: len(s.split())  # noqa: E731
    not_additive = lambda s: (len(s) + 2) // 3  # noqa: E731  (a tokenizer the shortcut does not hold for)
    for count in (additive, not_additive):
        for budget in (5, 40, 223):
            seq = rng.sample(terms, 120)
            assert fit_terms(seq, count, budget, presorted=True) == _fit_exact(seq, count, budget)


# --------------------------------------------------------------------------- transcription and the cache


def test_cache_keys_differ_per_clip_list_and_equal_lists_share_a_decode(tmp_path):
    audio = str(_wav(tmp_path / "a.wav"))
    conds = build_conditions(None, None, context=True)
    plans = make_plans(conds, WordFake(), {CONTEXT: ManifestLists()})

    def decode(utts: list[Utterance]) -> tuple[WordFake, Any, dict[str, list[str]]]:
        fake = WordFake()
        with TranscriptStore(tmp_path / "cache.jsonl") as store:
            stored, stats = decode_missing(utts, plans, fake, store)
            return fake, stats, {utt.id: [t.text for t in ts] for utt, ts in stored}

    fake, stats, got = decode([_utt("u1", terms=("Ann Lee",), audio=audio), _utt("u2", terms=("Bo Chan",), audio=audio)])
    assert sorted(p.text or "" for p in fake.decoded) == ["", "", "Ann Lee", "Bo Chan"]
    assert got == {"u1": ["we heard nothing", "we heard Ann Lee"], "u2": ["we heard nothing", "we heard Bo Chan"]}
    # the key is the audio and the clip's plan, not the clip's id: another clip with u1's list and audio is served
    fake, stats, got = decode([_utt("u3", terms=("Ann Lee",), audio=audio)])
    assert fake.decoded == [] and stats.cached == 2 and got == {"u3": ["we heard nothing", "we heard Ann Lee"]}
    # a new list on the same audio: only its own plan is decoded
    fake, stats, got = decode([_utt("u4", terms=("Cy Dunn", "Ann Lee"), audio=audio)])
    assert [p.text for p in fake.decoded] == ["Cy Dunn, Ann Lee"] and stats.cached == 1
    # read back, each transcript carries its own clip's plan
    fake, stats, got = decode([_utt("u1", terms=("Ann Lee",), audio=audio), _utt("u2", terms=("Bo Chan",), audio=audio)])
    assert fake.decoded == [] and got["u2"] == ["we heard nothing", "we heard Bo Chan"]


# --------------------------------------------------------------------------- a run with per-clip lists


def _context_run(tmp_path: Path, fake: WordFake) -> tuple[Path, Any]:
    a, b = _wav(tmp_path / "a.wav"), _wav(tmp_path / "b.wav", freq=300.0)
    dict_path = tmp_path / "dict.csv"
    dict_path.write_text("term,category\nKlarvo,product\nZentrix,product\n", encoding="utf-8")
    man = _manifest(tmp_path, [
        {"id": "c1", "audio": a.name, "text": "we heard Ann Lee about Klarvo", "speaker": "s1", "accent_group": "g1",
         "context_terms": "Ann Lee|Bo Chan|Cy Dunn|Di Eve|Ed Fox"},
        {"id": "c2", "audio": b.name, "text": "we heard Zentrix", "speaker": "s2", "accent_group": "g2",
         "context_terms": ""},
    ])
    out = tmp_path / "run"
    outcome = evaluate(load_inputs(man, dictionary=dict_path), out, config=RunConfig(progress=False, reports=False),
                       backend=fake)
    return out, outcome


def test_run_records_per_clip_plans_and_scores_against_each_clip_list(tmp_path):
    out, outcome = _context_run(tmp_path, WordFake(budget=6))
    assert outcome.scored == 2
    run = load_run(out)
    info = {c["name"]: c for c in run.run["conditions"]}
    assert set(info) == {"baseline", "dictionary", CONTEXT, CONTEXT_DICTIONARY}
    plans = {(u, p.condition): (p, n) for u, p, n in iter_plans(out)}
    assert set(plans) == {("c1", CONTEXT), ("c1", CONTEXT_DICTIONARY), ("c2", CONTEXT), ("c2", CONTEXT_DICTIONARY)}
    p, offered = plans[("c1", CONTEXT)]
    assert p.terms_in_force == ("Ann Lee", "Bo Chan", "Cy Dunn") and p.terms_dropped == ("Di Eve", "Ed Fox")
    assert offered == 5
    assert plans[("c2", CONTEXT)][0].method == "none" and plans[("c2", CONTEXT_DICTIONARY)][1] == 2
    assert info[CONTEXT]["per_clip"] == {"clips": 2, "offered": 5, "in_force": 3, "dropped": 2,
                                        "clips_with_dropped": 1, "tokens_max": 6, "file": "plans.jsonl"}
    # 'Ann Lee' is no vocabulary term, yet it is a term of clip c1 in every condition (baseline included):
    # its words are biased words there, and in force only where c1's own plan put it
    ann = {t["condition"]: t for t in run.terms if t["term"] == "Ann Lee"}
    assert set(ann) == {"baseline", "dictionary", CONTEXT, CONTEXT_DICTIONARY}
    assert ann[CONTEXT]["outcome"] == "hit" and ann[CONTEXT]["in_force"] is True
    assert ann["baseline"]["outcome"] == "miss" and ann["baseline"]["in_force"] is False
    assert not any(t["term"] == "Ann Lee" and t["utt_id"] == "c2" for t in run.terms)
    c1 = {r["condition"]: r for r in run.utterances if r["utt_id"] == "c1"}
    assert int(c1["baseline"]["b_ref"]) == 3  # 'ann lee' + 'klarvo'
    assert int(c1[CONTEXT]["b_hits"]) == 2
    # the vocabulary snapshot keeps every listed term, so plans.jsonl reads back as terms
    snap = json.loads((out / "vocabulary.json").read_text(encoding="utf-8"))
    names = {snap["terms"][i]["display"] for i in snap["clip_terms"]}
    assert {"Ann Lee", "Ed Fox"} <= names


def test_rerun_with_per_clip_lists_decodes_nothing(tmp_path):
    out, first = _context_run(tmp_path, WordFake(budget=6))
    fake = WordFake(budget=6)
    out, again = _context_run(tmp_path, fake)
    assert first.decoded == 6  # c2 has no list: its context plan is the baseline's, decoded once
    assert fake.decoded == [] and again.decoded == 0 and again.cached == 2 * 4  # clips x conditions


def test_sharded_context_runs_merge_into_the_unsharded_run(tmp_path):
    from asr_eval.merge import merge_runs

    a, b = _wav(tmp_path / "a.wav"), _wav(tmp_path / "b.wav", freq=300.0)
    man = _manifest(tmp_path, [
        {"id": f"c{i}", "audio": (a if i % 2 else b).name, "text": "we heard Ann Lee", "speaker": f"s{i}",
         "accent_group": "g", "context_terms": ["Ann Lee|Bo Chan", "Bo Chan", "", "Cy Dunn|Ann Lee"][i]}
        for i in range(4)])
    inputs = load_inputs(man)

    def run(out: Path, shard: str | None = None) -> None:
        evaluate(inputs, out, config=RunConfig(progress=False, reports=False, shard=shard), backend=WordFake())

    run(tmp_path / "one")
    run(tmp_path / "s0", "0/2")
    run(tmp_path / "s1", "1/2")
    merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "merged", manifest=man, reports=False)
    for name in ("utterances.csv", "terms.csv", "plans.jsonl"):
        assert (tmp_path / "merged" / name).read_text() == (tmp_path / "one" / name).read_text(), name


# --------------------------------------------------------------------------- the distractor protocol


def _draw(seed: int = 0, max_n: int = 50) -> ProtocolDraw:
    vocab = tuple(T(x) for x in ("Klarvo", "Zentrix", "PayNimbus", "Tallyra"))
    pool = tuple(Term(f"Distractor{i}", "distractor", "distractor") for i in range(80))
    return ProtocolDraw(build_term_index(vocab, make_normalizer(vocab + pool)), pool, max_n, seed)


def test_protocol_lists_are_own_terms_plus_seeded_nested_distractors():
    u = _utt("x1", text="Klarvo beat Zentrix and Klarvo again")
    draw = _draw()
    own, distractors = draw.draw(u)
    assert [t.display for t in own] == ["Klarvo", "Zentrix"]
    assert not {t.display for t in own} & {t.display for t in distractors}
    lists = {n: ProtocolLists(draw, n).terms_for(u) for n in (0, 10, 50)}
    assert [len(v) for v in lists.values()] == [2, 12, 52]
    assert {t.display for t in lists[10]} < {t.display for t in lists[50]}  # nested: a larger N only adds
    # reproducible: a fresh draw (another process, order or shard) gives the same lists
    assert ProtocolLists(_draw(), 50).terms_for(u) == lists[50]
    assert ProtocolLists(_draw(seed=1), 50).terms_for(u) != lists[50]
    # each clip its own draw
    assert ProtocolLists(draw, 50).terms_for(_utt("x2", text=u.text)) != lists[50]
    with pytest.raises(ValueError, match="only 82 distractor candidates"):
        _draw(max_n=83).draw(u)


@pytest.mark.slow
def test_protocol_sweep_reports_own_terms_dropped_by_the_budget(tmp_path):
    from asr_eval.sweep import run_sweep

    rows = [r for r in csv.DictReader(open(DEMO / "manifest.csv", encoding="utf-8"))][:4]
    for r in rows:
        r["audio"] = str(DEMO / r["audio"])
    man = tmp_path / "m.csv"
    with open(man, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    dictionary, directory = ROOT / "dictionaries" / "demo-company.csv", ROOT / "dictionaries" / "demo-directory.csv"

    def sweep(out: Path) -> Any:
        return run_sweep(man, out, dictionary=dictionary, directory=directory, strengths=(), distractors=(0, 20, 200),
                         config=RunConfig(progress=False, reports=False), backend=WordFake(budget=30),
                         allow_outside_paths=True)

    res = sweep(tmp_path / "s1")
    got = {r.condition: r for r in res.context_rows if r.group == "ALL"}
    assert list(got) == ["baseline", "context-prompt+0", "context-prompt+20", "context-prompt+200"]
    n0, n20, n200 = got["context-prompt+0"], got["context-prompt+20"], got["context-prompt+200"]
    assert n0.own_terms == n200.own_terms > 0 and n0.own_terms_dropped == 0
    assert n200.own_terms_dropped > 0 and n200.own_dropped_refs > 0
    assert n0.offered < n20.offered < n200.offered and n200.offered == n0.offered + 200 * n200.plans
    # the B-words are the words of each clip's own terms: the same in every condition
    assert len({r.counts.b_ref for r in got.values()}) == 1
    md = (tmp_path / "s1" / "context.md").read_text(encoding="utf-8")
    assert f"| context-prompt+200 | 200 |" in md and f"{n200.own_terms_dropped}/{n200.own_terms}" in md
    assert (tmp_path / "s1" / "context.png").stat().st_size > 0
    # seeded: a second sweep writes the same table
    sweep(tmp_path / "s2")
    assert (tmp_path / "s2" / "context.csv").read_text() == (tmp_path / "s1" / "context.csv").read_text()


# --------------------------------------------------------------------------- the real model


@pytest.mark.model
def test_real_model_decodes_each_clip_under_its_own_list(tmp_path):
    """tiny.en on three demo clips, each offered its own names: the prompt is each clip's, and it helps."""
    from asr_eval.backends import load_backend

    wanted = {"us-neural-s01": "Siobhan Nguyen|Zentrix Cloud|Klarvo|OAuth",
              "us-neural-s03": "Saoirse Ní Bhraonáin|Tallyra|warm transfer",
              "us-neural-s02": "Chidi Okonkwo|PayNimbus|SLA|chargeback"}
    rows = [r for r in csv.DictReader(open(DEMO / "manifest.csv", encoding="utf-8")) if r["id"] in wanted]
    man = _manifest(tmp_path, [{"id": r["id"], "audio": str(DEMO / r["audio"]), "text": r["text"],
                                "speaker": r["speaker"], "accent_group": r["accent_group"],
                                "context_terms": wanted[r["id"]]} for r in rows])
    backend = load_backend("faster-whisper", model="tiny.en", compute_type="int8")
    out = tmp_path / "run"
    inputs = load_inputs(man, allow_outside_paths=True)
    outcome = evaluate(inputs, out, config=RunConfig(progress=False, reports=False), backend=backend)
    assert outcome.scored == 3
    run = load_run(out)
    for utt_id, plan, offered in iter_plans(out):
        assert plan.terms_in_force == tuple(wanted[utt_id].split("|")) and offered == len(plan.terms_in_force)
        assert plan.tokens == backend.count_tokens(plan.text) <= plan.budget == 223
    recall = {}
    for cond in ("baseline", CONTEXT):
        ts = [t for t in run.terms if t["condition"] == cond and t["outcome"] in ("hit", "partial", "miss")]
        recall[cond] = sum(t["outcome"] == "hit" for t in ts) / len(ts)
    assert recall[CONTEXT] > recall["baseline"]
