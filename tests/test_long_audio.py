"""Audio longer than one 30 s window, with a full 223-token bias list (real model)."""

import csv

import numpy as np
import pytest

from asr_eval.audio import load_audio
from asr_eval.backends.faster_whisper import FasterWhisperBackend
from asr_eval.backends.whisper_rules import PROMPT_BUDGET, split_windows
from asr_eval.bias import plan_for
from asr_eval.types import Condition
from asr_eval.vocab import load_dictionary, load_directory

from conftest import DEMO, ROOT

pytestmark = pytest.mark.model


@pytest.mark.parametrize("method", ["prompt", "hotwords"])
def test_full_budget_bias_list_on_long_audio_decodes_every_window(method):
    rows = list(csv.DictReader(open(DEMO / "manifest.csv", encoding="utf-8")))
    rows = [r for r in rows if r["accent_group"].startswith("us-neural")][:15]
    audio = np.concatenate([load_audio(DEMO / r["audio"]) for r in rows])
    assert len(split_windows(audio)) >= 3  # > 60 s
    backend = FasterWhisperBackend()
    terms = load_dictionary(ROOT / "dictionaries/demo-company.csv").terms + load_directory(ROOT / "dictionaries/demo-directory.csv").terms
    plan = plan_for(Condition("both", method, terms), backend.count_tokens, backend.prompt_budget(method))
    assert PROMPT_BUDGET - 10 <= plan.tokens <= PROMPT_BUDGET and plan.terms_dropped
    (result,) = backend.transcribe(audio, [plan])
    windows = result.extra["windows"]
    assert len(windows) == len(split_windows(audio))
    assert all(w["prompt_tokens"] <= 448 // 2 + 4 for w in windows)  # the bias list and carried text share the prompt half
    assert len(result.text.split()) > 60
