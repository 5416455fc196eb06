"""Decoder boosting: the trie's bonus rules, and strength 0 = no boost on real audio."""

from __future__ import annotations

import pytest

from asr_eval.backends.boost import BoostLogitFilter, BoostTrie

# A toy tokenizer: each character is a token id, a leading space is its own id.
SPACE = 1000


def encode(text: str) -> list[int]:
    return [SPACE if c == " " else ord(c) for c in text]


TRIE = BoostTrie.from_terms(["Abc", "Ax"], encode)


def test_term_starts_are_boosted_anywhere_bare_forms_only_at_the_start():
    assert TRIE.bonus_units([]) == {SPACE: 1.0, ord("A"): 1.0}
    assert TRIE.bonus_units(encode("hello")) == {SPACE: 1.0}


def test_continuations_follow_the_decoded_prefix():
    assert TRIE.bonus_units(encode("hi A")) == {SPACE: 1.0, ord("b"): 1.0, ord("x"): 1.0}
    assert TRIE.bonus_units(encode("hi Ab")) == {SPACE: 1.0, ord("c"): 1.0}
    # a finished term seals its bonus: back to the root
    assert TRIE.bonus_units(encode("hi Abc")) == {SPACE: 1.0}


def test_cancel_protects_a_term_in_progress():
    assert TRIE.state(encode("hi Ab")).pending == 3  # space, A, b
    assert TRIE.bonus_units(encode("hi Ab"), cancel=True) == {SPACE: 1.0, ord("c"): 4.0}
    assert TRIE.state(encode("hi Abc")).pending == 0
    assert TRIE.state(encode("hi Abz")).pending == 0  # abandoned


def test_filter_adds_strength_times_units_and_zero_strength_is_a_no_op():
    torch = pytest.importorskip("torch")
    tokens = torch.tensor([[7, 7] + encode(" A")])
    logits = torch.randn(1, 1100)
    before = logits.clone()
    BoostLogitFilter(TRIE, 0.0, sample_begin=2).apply(logits, tokens)
    assert torch.equal(logits, before)
    BoostLogitFilter(TRIE, 2.5, sample_begin=2).apply(logits, tokens)
    changed = {int(i) for i in torch.nonzero(logits != before)[:, 1]}
    assert changed == {SPACE, ord("b"), ord("x")}
    assert torch.allclose(logits[0, ord("b")] - before[0, ord("b")], torch.tensor(2.5))


@pytest.fixture(scope="module")
def openai_backend():
    pytest.importorskip("whisper")
    from asr_eval.backends import load_backend
    from asr_eval.types import DecodeOptions

    return load_backend("openai-whisper", options=DecodeOptions(beam_size=1))


def test_strength_zero_gives_the_unbiased_transcript(openai_backend):
    from conftest import DEMO

    from asr_eval.audio import load_audio
    from asr_eval.manifest import load_manifest
    from asr_eval.types import BiasPlan

    if not (DEMO / "manifest.csv").exists():
        pytest.skip("demo fixtures not generated")
    utt = load_manifest(DEMO / "manifest.csv").utterances[0]
    terms = ("Siobhan Nguyen", "Zentrix Cloud", "Klarvo", "OAuth")
    plans = [BiasPlan("baseline", "none", None),
             BiasPlan("boost@0", "boost", None, terms_in_force=terms, strength=0.0),
             BiasPlan("boost@6", "boost", None, terms_in_force=terms, strength=6.0)]
    none, zero, strong = openai_backend.transcribe(load_audio(utt.audio), plans)
    assert zero.text == none.text
    assert zero.extra["windows"] == none.extra["windows"]
    assert zero.extra["boost"]["strength"] == 0.0
    assert strong.text != none.text  # a real bonus changes what is decoded
