"""Test sets and hypothesis files for the compare and gate tests: runs made by ``asr-eval score``, in seconds.

Three groups of six speakers read four sentences each, dense with the terms of
a small dictionary. System A recognises most terms; a B hypothesis file is A's
with chosen changes (a group whose terms it loses, a few other words), so the
true difference between A and B is known and the tests can check that the
statistics and the gate find it, and only it.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

GROUPS = ("north", "south", "west")
SPEAKERS = 6
SENTENCES = (
    "please open a ticket in Zentrix Cloud for the PayNimbus refund today",
    "the Klarvo login failed again after the Grafana alert this morning",
    "ask the team to restart PostgreSQL on Kubernetes before noon",
    "our Tallyra invoice was sent to Zentrix Cloud support yesterday",
)
TERMS = ("Zentrix Cloud", "PayNimbus", "Klarvo", "Grafana", "PostgreSQL", "Kubernetes", "Tallyra")
MISHEARD = {"Zentrix Cloud": "zen tricks cloud", "PayNimbus": "pay nimbus", "Klarvo": "clarvo", "Grafana": "grafano",
            "PostgreSQL": "post grass", "Kubernetes": "cube and eighties", "Tallyra": "tally ra"}


def clips() -> list[dict[str, str]]:
    out = []
    for g in GROUPS:
        for s in range(SPEAKERS):
            for k, text in enumerate(SENTENCES):
                out.append({"id": f"{g}-{s}-{k}", "audio": f"audio/{g}-{s}-{k}.wav", "text": text,
                            "speaker": f"{g}-spk{s}", "accent_group": g})
    return out


def write_manifest(folder: Path) -> Path:
    path = folder / "manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "audio", "text", "speaker", "accent_group"])
        w.writeheader()
        w.writerows(clips())
    return path


def write_dictionary(folder: Path, terms=TERMS, name: str = "dictionary.csv") -> Path:
    path = folder / name
    path.write_text("term,category\n" + "".join(f"{t},product\n" for t in terms), encoding="utf-8")
    return path


def hypotheses(seed: int = 1, miss_rate: float = 0.15, lose_group: str | None = None, lose_rate: float = 0.8,
               word_noise: float = 0.03, base_seed: int = 1) -> dict[str, str]:
    """clip id -> hypothesis. Term misses of A come from ``base_seed``; ``lose_group`` misses extra terms there.

    Word noise (a word dropped) comes from ``seed``, so two calls with other
    seeds differ in a few non-term words only.
    """
    base = random.Random(base_seed)
    noise = random.Random(seed)
    lose = random.Random(seed + 1000)
    out = {}
    for c in clips():
        text = c["text"]
        for t in TERMS:
            if t in text:
                missed = base.random() < miss_rate
                if lose_group == c["accent_group"] and lose.random() < lose_rate:
                    missed = True
                if missed:
                    text = text.replace(t, MISHEARD[t])
        words = [w for w in text.split() if not (noise.random() < word_noise and w.islower())]
        out[c["id"]] = " ".join(words)
    return out


def write_hyps(folder: Path, hyps: dict[str, str], condition: str = "prompt", name: str = "hyp.jsonl") -> Path:
    path = folder / name
    path.write_text("".join(json.dumps({"id": k, "text": v, "condition": condition}) + "\n" for k, v in hyps.items()),
                    encoding="utf-8")
    return path
