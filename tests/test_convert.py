"""CTranslate2 -> openai-whisper conversion of the bundled tiny.en weights."""

from __future__ import annotations

import numpy as np
import pytest

from asr_eval.backends.models import resolve_model
from asr_eval.backends.convert import checkpoint_path, convert, read_ct2, whisper_state_dict
from asr_eval.types import ModelError

whisper = pytest.importorskip("whisper")
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def ct2():
    return read_ct2(resolve_model("tiny.en").path / "model.bin")


def test_reader_sees_whisper_spec_and_aliases(ct2):
    assert ct2.spec_name == "WhisperSpec"
    assert ct2.aliases["decoder/projection/weight"] == "decoder/embeddings/weight"
    assert ct2.get("decoder/projection/weight") is ct2.get("decoder/embeddings/weight")


def test_state_dict_matches_openai_whisper_model_exactly(ct2):
    dims, sd = whisper_state_dict(ct2)
    model = whisper.model.Whisper(whisper.model.ModelDimensions(**dims))
    expected = model.state_dict()
    assert set(sd) == set(expected)
    for name, value in sd.items():
        assert tuple(value.shape) == tuple(expected[name].shape), name
    assert dims["n_vocab"] == 51864 and dims["n_text_ctx"] == 448 and dims["n_mels"] == 80


def test_stacked_projections_are_split_in_query_key_value_order(ct2):
    _, sd = whisper_state_dict(ct2)
    stacked = ct2.get("decoder/layer_1/self_attention/linear_0/weight").astype(np.float32)
    d = stacked.shape[1]
    assert np.array_equal(sd["decoder.blocks.1.attn.query.weight"], stacked[:d])
    assert np.array_equal(sd["decoder.blocks.1.attn.key.weight"], stacked[d : 2 * d])
    assert np.array_equal(sd["decoder.blocks.1.attn.value.weight"], stacked[2 * d :])
    kv = ct2.get("decoder/layer_0/attention/linear_1/weight").astype(np.float32)
    assert np.array_equal(sd["decoder.blocks.0.cross_attn.value.weight"], kv[d:])


def test_convert_writes_once_and_loads_in_openai_whisper(tmp_path, monkeypatch):
    monkeypatch.setenv("ASR_EVAL_CACHE", str(tmp_path))
    path = convert("tiny.en")
    assert path == checkpoint_path(resolve_model("tiny.en")) and path.is_relative_to(tmp_path)
    stamp = path.stat().st_mtime_ns
    assert convert("tiny.en") == path and path.stat().st_mtime_ns == stamp  # reused, not rewritten
    model = whisper.load_model(str(path), device="cpu")
    assert not model.is_multilingual and model.dims.n_text_layer == 4
    assert not list((tmp_path / "openai").glob("*.tmp*"))


def test_reader_rejects_files_that_are_not_ctranslate2(tmp_path):
    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"\x63\x00\x00\x00not a model at all")
    with pytest.raises(ModelError, match="unsupported CTranslate2 binary version"):
        read_ct2(bogus)


def test_models_cli_lists_converts_and_locates(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from asr_eval.cli.models import app

    monkeypatch.setenv("ASR_EVAL_CACHE", str(tmp_path))
    runner = CliRunner()
    before = {r["model"]: r for r in json.loads(runner.invoke(app, ["list", "--json"]).output)}
    assert before["tiny.en"]["installed"] and before["tiny.en"]["openai_checkpoint"] is None
    missing = runner.invoke(app, ["path", "tiny.en", "--openai"])
    assert missing.exit_code == 3 and "models convert tiny.en" in missing.output
    converted = runner.invoke(app, ["convert", "tiny.en"])
    assert converted.exit_code == 0
    path = converted.output.strip()
    assert runner.invoke(app, ["path", "tiny.en", "--openai"]).output.strip() == path
    after = {r["model"]: r for r in json.loads(runner.invoke(app, ["list", "--json"]).output)}
    assert after["tiny.en"]["openai_checkpoint"] == path
    bad = runner.invoke(app, ["convert", str(tmp_path / "nowhere")])
    assert bad.exit_code == 3 and "unknown model" in bad.output
