"""Each engine's custom-vocabulary input format and documented limits (pure).

One builder per engine turns the terms into exactly the entries that
``vocab export`` writes, and checks those entries (not the raw terms) against
the limits in ``asr_eval/data/engine_limits.json`` (read by :func:`sources.load_limits`): a limit is about what the
engine receives. ``vocab check --engine X`` runs the same builder, so a
vocabulary that passes the check exports without surprises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from ..bias import bias_text, fit_terms
from ..fold import strip_accents
from ..types import Term, Vocabulary
from .findings import ERROR, WARNING, Finding
from .text import is_acronym, spelling_key

ENGINES = ("whisper", "deepgram", "assemblyai", "azure", "google", "aws")
CountTokens = Callable[[str], int]


@dataclass(frozen=True)
class Located:
    """A term with the file it came from (findings must name file and line)."""

    term: Term
    path: str


@dataclass(frozen=True)
class EnginePlan:
    """What one engine would receive: entries, the rendered file, and what is wrong with them."""

    engine: str
    entries: tuple[Any, ...]
    text: str
    findings: tuple[Finding, ...]
    dropped: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)


def located(vocabularies: Sequence[Vocabulary]) -> list[Located]:
    """Dictionary terms before directory terms, the order of the combined run condition."""
    ordered = sorted(vocabularies, key=lambda v: v.kind != "dictionary")
    return [Located(t, v.path) for v in ordered for t in v.terms]


def _finding(engine: str, severity: str, code: str, message: str, item: Located | None = None, path: str = "") -> Finding:
    if item is None:
        return Finding(severity, code, message, path, None, None, engine)
    return Finding(severity, code, message, item.path, item.term.line, item.term.display, engine)


def _first_path(items: Sequence[Located]) -> str:
    return ", ".join(dict.fromkeys(i.path for i in items))


# --------------------------------------------------------------------------- whisper


def whisper(items: Sequence[Located], limits: Mapping[str, Any], count_tokens: CountTokens | None) -> EnginePlan:
    budget = int(limits["prompt_tokens"])
    if count_tokens is None:
        f = _finding("whisper", WARNING, "no-tokenizer", "no Whisper tokenizer available: prompt budget not checked", path=_first_path(items))
        return EnginePlan("whisper", (), "", (f,))
    by_term = {id(i.term): i for i in items}
    kept, dropped, _ = fit_terms([i.term for i in items], count_tokens, budget)
    findings: list[Finding] = []
    too_big = [t for t in dropped if count_tokens(t.display) > budget]
    for t in too_big:
        findings.append(_finding("whisper", ERROR, "term-over-budget", f"{count_tokens(t.display)} tokens alone, more than the whole {budget}-token prompt", by_term[id(t)]))
    rest = [t for t in dropped if t not in too_big]
    if rest:
        names = ", ".join(t.display for t in rest[:8]) + (f" and {len(rest) - 8} more" if len(rest) > 8 else "")
        first = by_term[id(rest[0])]
        findings.append(
            _finding("whisper", WARNING, "dropped", f"{len(rest)} of {len(items)} terms do not fit the {budget}-token prompt / hotwords after higher-priority ones and would be dropped: {names} (see vocab budget)", first)
        )
    paths = list(dict.fromkeys(i.path for i in items))
    if len(paths) > 1:  # a run also has one condition per file: check each alone
        for path in paths:
            own = [i for i in items if i.path == path]
            _, own_dropped, _ = fit_terms([i.term for i in own], count_tokens, budget)
            fits = [t for t in own_dropped if count_tokens(t.display) <= budget]
            if fits:
                names = ", ".join(t.display for t in fits[:8]) + (f" and {len(fits) - 8} more" if len(fits) > 8 else "")
                findings.append(
                    _finding("whisper", WARNING, "dropped", f"even in a condition with only this file's terms, {len(fits)} of {len(own)} do not fit the {budget}-token prompt / hotwords: {names}", by_term[id(fits[0])])
                )
    text = bias_text(kept)
    return EnginePlan("whisper", tuple(t.display for t in kept), text, tuple(findings), tuple(t.display for t in dropped))


# --------------------------------------------------------------------------- deepgram


def deepgram(items: Sequence[Located], limits: Mapping[str, Any], count_tokens: CountTokens | None) -> EnginePlan:
    entries = list(dict.fromkeys(i.term.display for i in items))
    findings: list[Finding] = []
    path = _first_path(items)
    if len(entries) > limits["max_terms"]:
        findings.append(_finding("deepgram", ERROR, "too-many", f"{len(entries)} keyterms > {limits['max_terms']}", path=path))
    if count_tokens is not None:
        tokens = sum(count_tokens(e) for e in entries)
        if tokens > limits["max_tokens"]:
            findings.append(
                _finding("deepgram", ERROR, "tokens", f"about {tokens} tokens (estimated with the Whisper tokenizer; Deepgram's is not public) > {limits['max_tokens']}", path=path)
            )
    text = json.dumps({"keyterm": entries}, ensure_ascii=False, indent=2) + "\n"
    return EnginePlan("deepgram", tuple(entries), text, tuple(findings))


# --------------------------------------------------------------------------- assemblyai

_ASSEMBLY_DROP = re.compile(r"[^\w\s']|_")


def assemblyai_form(display: str) -> str:
    """AssemblyAI's formatting guidelines: no punctuation but apostrophes, acronym letters joined."""
    words = []
    for w in display.split():
        if is_acronym(w):
            words.append(w.replace(".", ""))
        else:
            words.append(_ASSEMBLY_DROP.sub(" ", w))
    return re.sub(r"\s+", " ", " ".join(words)).strip()


def assemblyai(items: Sequence[Located], limits: Mapping[str, Any], count_tokens: CountTokens | None) -> EnginePlan:
    entries: list[str] = []
    findings: list[Finding] = []
    for item in items:
        form = assemblyai_form(item.term.display)
        if not form:
            findings.append(_finding("assemblyai", ERROR, "empty", "nothing left after removing punctuation", item))
            continue
        n = len(form.split())
        if n > limits["max_words_per_term"]:
            findings.append(_finding("assemblyai", ERROR, "too-many-words", f"{n} words > {limits['max_words_per_term']}", item))
        if any(c.isdigit() for c in form):
            findings.append(_finding("assemblyai", WARNING, "digits", "write numbers in spoken form ('iphone seven', not 'iphone 7')", item))
        if form not in entries:
            entries.append(form)
    words = sum(len(e.split()) for e in entries)  # AssemblyAI counts every word of a phrase against the limit
    if words > limits["max_words"]:
        findings.append(_finding("assemblyai", ERROR, "too-many",
                                 f"{words} words in {len(entries)} phrases > {limits['max_words']} "
                                 "(each word of a multi-word phrase counts)", path=_first_path(items)))
    text = json.dumps({"word_boost": entries, "boost_param": "default"}, ensure_ascii=False, indent=2) + "\n"
    return EnginePlan("assemblyai", tuple(entries), text, tuple(findings))


# --------------------------------------------------------------------------- azure


def azure(items: Sequence[Located], limits: Mapping[str, Any], count_tokens: CountTokens | None) -> EnginePlan:
    entries = list(dict.fromkeys(i.term.display for i in items))
    findings: list[Finding] = []
    if len(entries) > limits["max_terms"]:
        findings.append(_finding("azure", ERROR, "too-many", f"{len(entries)} phrases > {limits['max_terms']}", path=_first_path(items)))
    return EnginePlan("azure", tuple(entries), "".join(e + "\n" for e in entries), tuple(findings))


# --------------------------------------------------------------------------- google


def google(
    items: Sequence[Located], limits: Mapping[str, Any], count_tokens: CountTokens | None, boost: float | None = None
) -> EnginePlan:
    lo, hi = limits["boost_min_exclusive"], limits["boost_max"]  # 0 < boost <= 20: a zero boost does nothing
    findings: list[Finding] = []
    path = _first_path(items)
    if boost is not None and not lo < boost <= hi:
        findings.append(_finding("google", ERROR, "boost", f"phrase-set boost {boost:g} outside ({lo}, {hi}]", path=path))
    phrases: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in items:
        value = item.term.display
        if value in seen:
            continue
        seen.add(value)
        phrase: dict[str, Any] = {"value": value}
        raw = item.term.meta.get("boost")
        if raw not in (None, ""):
            try:
                b = float(raw)
            except (TypeError, ValueError):
                findings.append(_finding("google", ERROR, "boost", f"boost {raw!r} is not a number", item))
            else:
                if not lo < b <= hi:
                    findings.append(_finding("google", ERROR, "boost", f"boost {b:g} outside ({lo}, {hi}]", item))
                phrase["boost"] = b
        if len(value) > limits["max_chars_per_term"]:
            findings.append(_finding("google", ERROR, "too-long", f"{len(value)} characters > {limits['max_chars_per_term']}", item))
        phrases.append(phrase)
    total = sum(len(p["value"]) for p in phrases)
    if len(phrases) > limits["max_terms"]:
        findings.append(_finding("google", ERROR, "too-many", f"{len(phrases)} phrases > {limits['max_terms']}", path=path))
    if total > limits["max_total_chars"]:
        findings.append(_finding("google", ERROR, "too-many-chars", f"{total} characters in all > {limits['max_total_chars']}", path=path))
    body: dict[str, Any] = {"phrases": phrases}
    if boost is not None:
        body["boost"] = boost
    return EnginePlan("google", tuple(p["value"] for p in phrases), json.dumps(body, ensure_ascii=False, indent=2) + "\n", tuple(findings))


# --------------------------------------------------------------------------- aws

_AWS_PHRASE_OK = re.compile(r"^[A-Za-z'.\-]+$")


def aws_phrase(form: str) -> str | None:
    """The table's Phrase column: words joined by hyphens, acronym letters dotted, no digits.

    Returns None when the form has digits (AWS wants them spelled out by the author).
    """
    if any(c.isdigit() for c in form):
        return None
    parts = []
    for word in re.split(r"[\s\-]+", strip_accents(form).strip()):
        if not word:
            continue
        if is_acronym(word):
            parts.append("".join(c + "." for c in word if c.isalpha()))
        else:
            parts.append(re.sub(r"[^A-Za-z'.]", "", word) or word)
    return "-".join(parts)


def aws(items: Sequence[Located], limits: Mapping[str, Any], count_tokens: CountTokens | None) -> EnginePlan:
    rows: list[tuple[str, str, str, str]] = []
    findings: list[Finding] = []
    seen: set[str] = set()
    max_chars = limits["max_chars_per_term"]
    for item in items:
        term = item.term
        made = 0
        for form in term.written_forms:
            phrase = aws_phrase(form)
            if phrase is None or phrase.casefold() in seen:
                made += phrase is not None
                continue
            if not _AWS_PHRASE_OK.match(phrase):
                bad = "".join(sorted({c for c in phrase if not _AWS_PHRASE_OK.match(c)}))
                findings.append(_finding("aws", ERROR, "charset", f"Phrase {phrase!r} has characters outside the English character set: {bad!r}", item))
                continue
            if len(phrase) > max_chars or len(term.display) > max_chars:
                findings.append(_finding("aws", ERROR, "too-long", f"entry longer than {max_chars} characters", item))
                continue
            seen.add(phrase.casefold())
            # a formatting variant ('Pay Nimbus') or the spoken form of a display with
            # digits ('Zentrix three sixty') is shown as the display form; another
            # accepted form ('Zentrix' for 'Zentrix Cloud') keeps its own spelling
            spoken_only = aws_phrase(term.display) is None
            shown = term.display if spoken_only or spelling_key(form) == spelling_key(term.display) else form
            rows.append((phrase, "", "", shown))
            made += 1
        if not made:
            findings.append(_finding("aws", ERROR, "digits", "Phrase cannot contain digits: add an alias with the numbers spelled out", item))
    text = "Phrase\tSoundsLike\tIPA\tDisplayAs\n" + "".join("\t".join(r) + "\n" for r in rows)
    size = len(text.encode("utf-8"))
    if size > limits["max_file_bytes"]:
        findings.append(_finding("aws", ERROR, "file-size", f"table is {size} bytes > {limits['max_file_bytes']}", path=_first_path(items)))
    return EnginePlan("aws", tuple(rows), text, tuple(findings))


BUILDERS: dict[str, Callable[..., EnginePlan]] = {
    "whisper": whisper,
    "deepgram": deepgram,
    "assemblyai": assemblyai,
    "azure": azure,
    "google": google,
    "aws": aws,
}


def plan(engine: str, items: Sequence[Located], limits: Mapping[str, Mapping[str, Any]], count_tokens: CountTokens | None, **options: Any) -> EnginePlan:
    if engine not in BUILDERS:
        raise ValueError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    return BUILDERS[engine](items, limits[engine], count_tokens, **options)
