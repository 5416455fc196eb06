"""The transcription loop: store-first planning, batching, failure isolation.

Also home of ``FakeTranscriber`` and ``make_fixture``, the plumbing stand-ins
the other scale tests (resume, shard+merge, Ray) import: a deterministic
engine whose transcript is a function of the audio bytes and the plan, so any
lost, duplicated or mis-keyed transcript shows up as a changed output.
"""

from __future__ import annotations

import csv
import hashlib
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest

from asr_eval.backends.base import Transcriber
from asr_eval.transcribe import Job, LocalExecutor, decode_jobs, transcribe
from asr_eval.cache import TranscriptStore
from asr_eval.types import BiasPlan, Condition, DecodeResult, Term, Utterance

WORDS = ("please", "call", "stella", "zentrix", "cloud", "klarvo", "invoice", "ticket", "refund", "today")


class FakeTranscriber:
    """Deterministic Transcriber: words picked by hashing the audio and the plan text.

    It shares no work between clips: ``transcribe_batch`` decodes them one by one.
    """

    name = "fake"
    batch_size = 1

    def __init__(self, beam_size: int = 5, model: str = "fake-1", delay: float = 0.0, fail_on: str | None = None):
        self.beam_size = beam_size
        self.model = model
        self.delay = delay
        self.fail_on = fail_on  # audio whose first sample rounds to this string fails (plumbing tests)
        self.calls: list[int] = []  # clips per backend call

    @property
    def model_id(self) -> str:
        return self.model

    def load(self) -> None:
        pass

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prompt_budget(self, method: str) -> int:
        return 50

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "decode": {"beam_size": self.beam_size}}

    def _text(self, audio: np.ndarray, plan: BiasPlan) -> str:
        h = hashlib.sha256(audio.tobytes() + (plan.text or "").encode() + self.model.encode() + bytes([self.beam_size]))
        words = [WORDS[b % len(WORDS)] for b in h.digest()[:6]]
        if plan.text:  # biasing "helps": the first biased term is heard
            words[2] = plan.text.split(",")[0].strip().lower()
        return " ".join(words)

    def transcribe(self, audio: np.ndarray, plans: Sequence[BiasPlan]) -> list[DecodeResult]:
        self.calls.append(1)
        if self.fail_on is not None and f"{audio[0]:.6f}" == self.fail_on:
            raise RuntimeError("decoder exploded")
        time.sleep(self.delay * len(plans))
        return [DecodeResult(self._text(audio, p), {"beam": self.beam_size}) for p in plans]

    def transcribe_batch(self, audios: Sequence[np.ndarray], plans: Sequence[Sequence[BiasPlan]]) -> list[list[DecodeResult]]:
        return [self.transcribe(a, ps) for a, ps in zip(audios, plans)]


class BatchingFake(FakeTranscriber):
    """Decodes a whole batch in one call (as faster-whisper does), so ``calls`` shows how clips were grouped."""

    def transcribe_batch(self, audios: Sequence[np.ndarray], plans: Sequence[Sequence[BiasPlan]]) -> list[list[DecodeResult]]:
        self.calls.append(len(audios))
        if self.fail_on is not None and any(f"{a[0]:.6f}" == self.fail_on for a in audios):
            raise RuntimeError("decoder exploded")
        return [[DecodeResult(self._text(a, p), {"beam": self.beam_size}) for p in ps] for a, ps in zip(audios, plans)]


def make_fixture(folder: Path, n: int = 6, seconds: float = 0.3) -> dict[str, Path]:
    """n distinct short noise clips, a manifest over them and a 3-term dictionary."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1234)
    rows = []
    for i in range(n):
        wav = folder / f"clip{i:03d}.wav"
        sf.write(wav, (rng.standard_normal(int(16000 * seconds)) * 0.05).astype(np.float32), 16000, subtype="FLOAT")
        rows.append({"audio": wav.name, "text": f"please call stella about zentrix cloud ticket {i}",
                     "speaker": f"spk{i % 3}", "accent_group": ("us", "scottish", "indian")[i % 3]})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    dictionary = folder / "dictionary.csv"
    dictionary.write_text("term,category\nZentrix Cloud,product\nKlarvo,product\nStella,name\n", encoding="utf-8")
    return {"manifest": manifest, "dictionary": dictionary}


def _utterances(folder: Path, n: int) -> list[Utterance]:
    from asr_eval.manifest import load_manifest

    return list(load_manifest(make_fixture(folder, n)["manifest"]).utterances)


PLANS = {
    "baseline": BiasPlan("baseline", "none", None),
    "dictionary": BiasPlan("dictionary", "prompt", "Zentrix Cloud, Klarvo", ("Zentrix Cloud", "Klarvo")),
}


def test_fake_implements_the_protocol():
    assert isinstance(FakeTranscriber(), Transcriber)


def test_second_pass_decodes_nothing_and_returns_the_same(tmp_path):
    utts = _utterances(tmp_path / "a", 5)
    backend = FakeTranscriber()
    with TranscriptStore(tmp_path / "cache.jsonl") as store:
        first, s1 = transcribe(utts, PLANS, backend, store)
    with TranscriptStore(tmp_path / "cache.jsonl") as store:
        second, s2 = transcribe(utts, PLANS, backend, store)
    assert (s1.decoded, s1.cached) == (10, 0)
    assert (s2.decoded, s2.cached) == (0, 10)
    assert {k: v.text for k, v in first.items()} == {k: v.text for k, v in second.items()}


def test_batched_executor_groups_clips_and_matches_sequential(tmp_path):
    utts = _utterances(tmp_path / "a", 7)
    seq_backend, bat_backend = BatchingFake(), BatchingFake()
    with TranscriptStore(tmp_path / "seq.jsonl") as store:
        seq, _ = transcribe(utts, PLANS, seq_backend, store, batch_size=1)
    with TranscriptStore(tmp_path / "bat.jsonl") as store:
        bat, _ = transcribe(utts, PLANS, bat_backend, store, batch_size=3)
    assert bat_backend.calls == [3, 3, 1]
    assert {k: v.text for k, v in seq.items()} == {k: v.text for k, v in bat.items()}
    assert [k for k in seq] == [k for k in bat]  # manifest order, whatever the decoding order


def test_one_failing_clip_in_a_batch_costs_only_itself(tmp_path):
    utts = _utterances(tmp_path / "a", 4)
    import soundfile as sf

    bad = f"{sf.read(utts[1].audio, dtype='float32')[0][0]:.6f}"
    backend = BatchingFake(fail_on=bad)
    with TranscriptStore(tmp_path / "c.jsonl") as store:
        out, stats = transcribe(utts, PLANS, backend, store, batch_size=4)
    assert stats.failed == 1 and "decoder exploded" in stats.problems[0].problem
    assert {u for u, _ in out} == {u.id for u in utts} - {utts[1].id}


def test_unreadable_audio_is_a_problem_not_a_crash(tmp_path):
    utts = _utterances(tmp_path / "a", 3)
    Path(utts[0].audio).unlink()
    with TranscriptStore(tmp_path / "c.jsonl") as store:
        out, stats = transcribe(utts, PLANS, FakeTranscriber(), store)
    assert stats.failed == 1 and utts[0].id in stats.problems[0].problem
    assert len(out) == 2 * len(PLANS)


def test_corrected_condition_keeps_the_raw_hypothesis(tmp_path):
    pytest.importorskip("asr_eval.correct")
    utts = _utterances(tmp_path / "a", 2)
    conds = [Condition("baseline", "none"),
             Condition("dictionary", "prompt", (Term("Zentrix Cloud", "product", "dictionary"),), correct=0.8)]
    with TranscriptStore(tmp_path / "c.jsonl") as store:
        out, _ = transcribe(utts, PLANS, FakeTranscriber(), store, conditions=conds)
    t = out[(utts[0].id, "dictionary")]
    assert "uncorrected" in t.extra and t.extra["correct_threshold"] == 0.8


def test_decode_jobs_shares_seconds_in_proportion_to_audio(tmp_path):
    utts = _utterances(tmp_path / "a", 3)
    results = decode_jobs(BatchingFake(), [Job(u, tuple(PLANS.values())) for u in utts])
    assert all(r.problem is None and len(r.results) == 2 for r in results)
    assert all(r.audio_seconds == pytest.approx(0.3) for r in results)
    assert list(LocalExecutor(FakeTranscriber(), 2).run([Job(u, (PLANS["baseline"],)) for u in utts]))[2].job.utt == utts[2]


def test_progress_bar_counts_cached_and_decoded_clips(tmp_path, capsys):
    utts = _utterances(tmp_path / "a", 3)
    with TranscriptStore(tmp_path / "c.jsonl") as store:
        transcribe(utts[:1], PLANS, FakeTranscriber(), store)
        transcribe(utts, PLANS, FakeTranscriber(), store, progress=True)  # one cached, two decoded
    shown = capsys.readouterr().out
    assert "3/3 clips" in shown and "0.000/0.000 h audio" in shown


def test_plans_equal_but_for_their_name_are_decoded_once(tmp_path):
    from asr_eval.transcribe import transcribe
    from asr_eval.cache import TranscriptStore

    utts = _utterances(tmp_path / "a", 2)
    plans = {
        "baseline": BiasPlan("baseline", "none", None),
        "correct@0.8": BiasPlan("correct@0.8", "none", None),  # post-correction points decode like the baseline
        "dictionary": PLANS["dictionary"],
    }
    fake = FakeTranscriber()
    with TranscriptStore(tmp_path / "s.jsonl") as store:
        out, stats = transcribe(utts, plans, fake, store)
    assert stats.decoded == 2 * 2 and stats.cached == 0
    assert all(out[(u.id, "baseline")].text == out[(u.id, "correct@0.8")].text for u in utts)
    assert out[(utts[0].id, "correct@0.8")].plan.condition == "correct@0.8"
