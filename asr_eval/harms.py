"""Harms beyond term insertions: what a transcript does wrong that WER and term counts hide.

Users of Whisper prompts and hotwords meet four failures far more often than a
falsely inserted term, and each has its own shape, so each is found here from
the same inputs the scorer already has (normalised words, the word alignment,
the raw hypothesis and the prompt of the condition):

* **output on non-speech**: a clip whose reference is empty by design
  (silence, line noise, hold music, DTMF, a cough) that got any words. Such a
  clip has no reference words, so it cannot enter WER; it gets its own counts.
* **prompt echo**: the decoder copies its prompt. A run of at least
  ``ECHO_MIN_WORDS`` consecutive prompt words, or of ``ECHO_MIN_TERMS`` whole
  vocabulary terms in prompt order, written where the reference does not have
  that run.
* **repetition loop**: the same 1-6-word n-gram written over and over
  (``LOOP_MIN_COPIES``), more times in a row than the reference says it, or a
  stretch of text that compresses like Whisper's own loop detector says text
  should not (gzip ratio above ``GZIP_RATIO``).
* **dropped tail**: the hypothesis ends early. The reference words deleted
  after the last correctly recognised word, when there are at least
  ``TAIL_MIN_WORDS`` of them and at least ``TAIL_MIN_SHARE`` of the reference.

Every harm is counted per clip (``HARM_FIELDS``, appended to
``asr_eval.counts.Counts``) so that it is summed, bootstrapped and compared
between conditions like WER, and described by ``HarmEvent`` values that say
where in the clip it happened (what was echoed, where the loop starts, what was
dropped) for the report's utterance view.

Pure: no I/O. Thresholds are module constants, written into every run's
provenance by the caller (``THRESHOLDS``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

# Prompt echo. Three prompt words in a row almost never come out of speech by
# chance unless the speaker said them (and then the reference has them); two
# whole terms back to back in the prompt's order is the list itself leaking,
# even when each term is one word ("Kubernetes Postgres").
ECHO_MIN_WORDS = 3
ECHO_MIN_TERMS = 2

# Repetition loops. People do say one word three times ("no no no", "bye bye
# bye"), so a single word needs four copies in a row; a phrase of 2-6 words said
# three times running is rare in speech and is the shape of Whisper's loop
# ("I'm sorry. I'm sorry. I'm sorry."). Either way the hypothesis must repeat
# it more often than the reference does, so a repetition that was said is
# never a loop.
LOOP_MAX_N = 6
LOOP_MIN_COPIES = {1: 4}  # n-gram length -> copies needed; default below
LOOP_DEFAULT_COPIES = 3
# Whisper's compression_ratio_threshold: a decoded window whose text gzips
# better than 2.4:1 is treated as a loop and decoded again. Whisper applies it
# per 30 s window, whose text is at most ~120 words; ordinary English over a
# whole long transcript compresses towards 2.4 by itself (asr-eval's README,
# 2,000 words: 2.38), so the ratio is taken over windows of GZIP_WINDOW words,
# half-overlapping so a loop across a boundary is not split.
GZIP_RATIO = 2.4
GZIP_WINDOW = 120
GZIP_MIN_BYTES = 48  # below this zlib's own overhead decides the ratio
LONG_LOOP_MAX_N = 64  # a gzip-flagged loop longer than 6 words is looked for up to this period

# Dropped tail. One or two words lost at the end are ordinary (a trailing
# "okay", a mumbled last word); three or more and at least a fifth of what was
# said means the transcript stopped early, not that a word was misheard.
TAIL_MIN_WORDS = 3
TAIL_MIN_SHARE = 0.2

# Bounds: a hypothesis from elsewhere can be any length. Echo and loop search
# look at the first MAX_WORDS words; an event quotes at most MAX_QUOTE words.
MAX_WORDS = 50_000
MAX_QUOTE = 40

NONSPEECH, ECHO, LOOP, TAIL = "nonspeech_output", "prompt_echo", "loop", "dropped_tail"
KINDS = (NONSPEECH, ECHO, LOOP, TAIL)

#: The ``Counts`` fields this module fills, in their order at the end of ``Counts``.
HARM_FIELDS = ("ns_clips", "ns_output_clips", "ns_words", "echo_clips", "echo_words",
               "loop_clips", "loop_words", "tail_clips", "tail_words")

THRESHOLDS = {
    "echo_min_words": ECHO_MIN_WORDS, "echo_min_terms": ECHO_MIN_TERMS, "loop_max_n": LOOP_MAX_N,
    "loop_min_copies_1gram": LOOP_MIN_COPIES[1], "loop_min_copies": LOOP_DEFAULT_COPIES,
    "gzip_ratio": GZIP_RATIO, "gzip_window_words": GZIP_WINDOW, "tail_min_words": TAIL_MIN_WORDS,
    "tail_min_share": TAIL_MIN_SHARE,
}


@dataclass(frozen=True)
class HarmEvent:
    """One harm in one clip, located on the normalised words.

    ``hyp_start``/``hyp_len`` are hypothesis word positions (the echoed run, the
    whole loop, the words written on non-speech), ``ref_start``/``ref_len``
    reference word positions (the dropped tail). ``text`` quotes the words
    concerned (at most ``MAX_QUOTE``); ``words`` is what the event adds to its
    word count (echoed words, surplus loop words, dropped words, words on
    non-speech). ``detail`` says in words why it is a harm.
    """

    kind: str
    words: int
    text: str
    detail: str
    hyp_start: int | None = None
    hyp_len: int = 0
    ref_start: int | None = None
    ref_len: int = 0
    prompt_start: int | None = None  # echo: where the run starts in the prompt's words
    ngram: str | None = None  # loop: the repeated unit
    copies: int | None = None  # loop: how many times in a row
    gzip_ratio: float | None = None  # loop: the highest window ratio, when that is what found it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HarmEvent:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class ClipHarms:
    """The harm counts of one clip (``HARM_FIELDS`` order) and the events behind them."""

    counts: tuple[int, ...]
    events: tuple[HarmEvent, ...]

    def as_dict(self) -> dict[str, int]:
        return dict(zip(HARM_FIELDS, self.counts))


NO_HARMS = ClipHarms((0,) * len(HARM_FIELDS), ())


@dataclass(frozen=True)
class PromptWords:
    """A condition's prompt as normalised words, with the term each word belongs to.

    ``term_of[i]`` is the index of the prompt term holding word ``i`` (-1 when
    the terms are unknown); ``term_span[t]`` the (first, end) words of term ``t``.
    """

    words: tuple[str, ...]
    term_of: tuple[int, ...]
    term_span: tuple[tuple[int, int], ...]

    def whole_terms(self, start: int, end: int) -> int:
        """How many terms lie wholly within prompt words [start, end)."""
        return sum(1 for a, b in self.term_span if start <= a and b <= end and b > a)


def prompt_words(text: str | None, terms: Sequence[str], words: Callable[[str], Sequence[str]]) -> PromptWords | None:
    """The prompt of a plan as ``words`` (the scorer's normaliser) splits it; None without a prompt.

    ``terms`` are the plan's terms in force, in prompt order: when the prompt is
    those terms joined (as ``asr_eval.bias`` writes it), each word knows its
    term; otherwise the text is split on commas, which is how a prompt lists
    terms.
    """
    if not text or not text.strip():
        return None
    parts = list(terms) if terms and _joined(text, terms) else [p for p in text.split(",") if p.strip()]
    out: list[str] = []
    term_of: list[int] = []
    spans: list[tuple[int, int]] = []
    for t, part in enumerate(parts):
        ws = list(words(part))
        spans.append((len(out), len(out) + len(ws)))
        out.extend(ws)
        term_of.extend([t] * len(ws))
    if not out:
        return None
    return PromptWords(tuple(out), tuple(term_of), tuple(spans))


def _joined(text: str, terms: Sequence[str]) -> bool:
    """Is ``text`` the terms joined by commas (whatever the spacing)?"""
    return [p.strip() for p in text.split(",")] == [t.strip() for t in terms] or ", ".join(terms) == text


# --------------------------------------------------------------------------- non-speech clips

#: How a manifest's ``speech`` column says a clip holds no speech.
SPEECH_FALSE = frozenset({"false", "0", "no"})
SPEECH_TRUE = frozenset({"true", "1", "yes"})


def speech_value(raw: Any) -> bool | None:
    """A ``speech`` cell as a bool; None when empty or absent. ValueError names what it got otherwise."""
    if raw is None or isinstance(raw, bool):
        return raw
    key = str(raw).strip().lower()
    if not key:
        return None
    if key in SPEECH_FALSE:
        return False
    if key in SPEECH_TRUE:
        return True
    raise ValueError(f"field 'speech' must be true or false (or 1/0, yes/no), got {raw!r}")


def is_nonspeech(meta: Mapping[str, Any]) -> bool:
    """Does an utterance's metadata mark it as a clip with no speech (``speech`` false)?"""
    try:
        return speech_value(meta.get("speech")) is False
    except ValueError:
        return False


# --------------------------------------------------------------------------- one clip


def clip_harms(
    ref_words: Sequence[str],
    hyp_words: Sequence[str],
    ops: str,
    hyp_text: str,
    prompt: PromptWords | None = None,
    nonspeech: bool = False,
) -> ClipHarms:
    """Every harm of one scored clip.

    ``ref_words``/``hyp_words`` are the normalised words the alignment ``ops``
    (``align.Alignment.ops``: C, S, D, I per column) was computed on;
    ``hyp_text`` is the raw hypothesis (the gzip ratio is Whisper's, on raw
    text); ``prompt`` the condition's prompt words (None: nothing to echo);
    ``nonspeech`` marks a clip whose reference is empty by design. For such a
    clip the alignment is not needed (every word is an insertion).
    """
    ref_words = tuple(ref_words)
    hyp_words = tuple(hyp_words[:MAX_WORDS])
    events: list[HarmEvent] = []
    ns_clips = ns_out = ns_words = 0
    if nonspeech:
        ns_clips = 1
        if hyp_words:
            ns_out, ns_words = 1, len(hyp_words)
            events.append(HarmEvent(NONSPEECH, len(hyp_words), _quote(hyp_words),
                                    f"{len(hyp_words)} word{'s' if len(hyp_words) != 1 else ''} written on a clip "
                                    "with no speech", hyp_start=0, hyp_len=len(hyp_words)))
        ref_words = ()
        hyp_ops = "I" * len(hyp_words)
    else:
        hyp_ops = ops.replace("D", "")[:len(hyp_words)]
    echoes = find_echoes(ref_words, hyp_words, hyp_ops, prompt) if prompt is not None else []
    loops = find_loops(ref_words, hyp_words, hyp_text)
    tail = None if nonspeech else find_dropped_tail(ref_words, ops)
    events += echoes + loops + ([tail] if tail else [])
    counts = (
        ns_clips, ns_out, ns_words,
        int(bool(echoes)), sum(e.words for e in echoes),
        int(bool(loops)), sum(e.words for e in loops),
        int(tail is not None), tail.words if tail else 0,
    )
    return ClipHarms(counts, tuple(events))


def _quote(words: Sequence[str]) -> str:
    return " ".join(words[:MAX_QUOTE]) + (" …" if len(words) > MAX_QUOTE else "")


# --------------------------------------------------------------------------- prompt echo


def _contains(seq: tuple[str, ...], run: tuple[str, ...]) -> bool:
    n = len(run)
    return any(seq[i:i + n] == run for i in range(len(seq) - n + 1))


def find_echoes(ref_words: Sequence[str], hyp_words: Sequence[str], hyp_ops: str,
                prompt: PromptWords) -> list[HarmEvent]:
    """Runs of the prompt copied into the hypothesis that the reference does not hold.

    At each hypothesis word the longest run matching consecutive prompt words is
    taken; words at its ends that the alignment counts as correct are speech,
    not echo, and are trimmed off; what remains is an echo when it is long
    enough (``ECHO_MIN_WORDS`` words or ``ECHO_MIN_TERMS`` whole terms) and is
    not a run the reference itself contains. ``hyp_ops`` is the op of each
    hypothesis word (C, S or I).
    """
    ref = tuple(ref_words)
    hyp = tuple(hyp_words)
    pw = prompt.words
    at: dict[str, list[int]] = {}
    for j, w in enumerate(pw):
        at.setdefault(w, []).append(j)
    out: list[HarmEvent] = []
    i, n = 0, len(hyp)
    while i < n:
        best_len, best_j = 0, -1
        for j in at.get(hyp[i], ()):
            k = 0
            while i + k < n and j + k < len(pw) and hyp[i + k] == pw[j + k]:
                k += 1
            if k > best_len:
                best_len, best_j = k, j
        if best_len < 2:
            i += 1
            continue
        a, b = i, i + best_len
        while a < b and hyp_ops[a:a + 1] == "C":
            a += 1
        while b > a and hyp_ops[b - 1:b] == "C":
            b -= 1
        p0, p1 = best_j + (a - i), best_j + (b - i)
        run = hyp[a:b]
        terms = prompt.whole_terms(p0, p1)
        if (len(run) >= ECHO_MIN_WORDS or terms >= ECHO_MIN_TERMS) and not _contains(ref, run):
            what = f"{terms} whole prompt term{'s' if terms != 1 else ''}" if terms >= ECHO_MIN_TERMS else \
                f"{len(run)} consecutive prompt words"
            out.append(HarmEvent(ECHO, len(run), _quote(run),
                                 f"{what} in prompt order, not in the reference (prompt words {p0 + 1}-{p1})",
                                 hyp_start=a, hyp_len=len(run), prompt_start=p0))
            i += best_len
        else:
            i += 1
    return out


# --------------------------------------------------------------------------- loops


def _copies(words: tuple[str, ...], i: int, n: int) -> int:
    """How many times words[i:i+n] occurs back to back from i."""
    unit = words[i:i + n]
    c = 1
    while words[i + c * n:i + (c + 1) * n] == unit:
        c += 1
    return c


def _max_run(words: tuple[str, ...], unit: tuple[str, ...]) -> int:
    """The most consecutive copies of ``unit`` anywhere in ``words``."""
    n, best, i = len(unit), 0, 0
    while i <= len(words) - n:
        if words[i:i + n] == unit:
            c = _copies(words, i, n)
            best = max(best, c)
            i += c * n
        else:
            i += 1
    return best


def gzip_ratio(text: str) -> float:
    """Whisper's compression ratio: UTF-8 bytes over zlib-compressed bytes."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def max_gzip_ratio(words: Sequence[str]) -> float:
    """The highest gzip ratio over half-overlapping windows of ``GZIP_WINDOW`` words (0 for short text)."""
    best = 0.0
    step = GZIP_WINDOW // 2
    for lo in range(0, max(1, len(words) - step), step):
        chunk = " ".join(words[lo:lo + GZIP_WINDOW])
        if len(chunk.encode("utf-8")) >= GZIP_MIN_BYTES:
            best = max(best, gzip_ratio(chunk))
    return best


def _scan(ref: tuple[str, ...], hyp: tuple[str, ...], periods: range,
          min_copies: Callable[[int], int]) -> list[tuple[int, int, int, int]]:
    """(start, n, copies, reference copies) of each loop, leftmost first, the shortest period at each start."""
    out = []
    i = 0
    while i < len(hyp):
        for n in periods:
            if i + 2 * n > len(hyp):
                break
            c = _copies(hyp, i, n)
            if c >= min_copies(n):
                rc = _max_run(ref, hyp[i:i + n])
                if c > rc:
                    out.append((i, n, c, rc))
                    i += n * c - 1
                    break
        i += 1
    return out


def find_loops(ref_words: Sequence[str], hyp_words: Sequence[str], hyp_text: str) -> list[HarmEvent]:
    """Repetition loops: an n-gram (1-6 words) repeated back to back, or text that gzips like a loop.

    The gzip ratio is Whisper's, on the raw hypothesis words in windows. When it
    flags a loop that no short n-gram explains, the repeated unit is looked for
    up to ``LONG_LOOP_MAX_N`` words (two copies are enough at that length), so
    the report can still say where the loop starts.
    """
    ref, hyp = tuple(ref_words), tuple(hyp_words)
    found = _scan(ref, hyp, range(1, LOOP_MAX_N + 1), lambda n: LOOP_MIN_COPIES.get(n, LOOP_DEFAULT_COPIES))
    raw = hyp_text.split()[:MAX_WORDS]
    ratio = max_gzip_ratio(raw)
    flagged = ratio > GZIP_RATIO
    if flagged and not found:
        found = _scan(ref, hyp, range(LOOP_MAX_N + 1, LONG_LOOP_MAX_N + 1), lambda n: 2)
    out = []
    for i, n, c, rc in found:
        unit = hyp[i:i + n]
        surplus = n * (c - max(rc, 1))
        said = f"; the reference says it {rc} time{'s' if rc != 1 else ''} in a row" if rc else ""
        out.append(HarmEvent(LOOP, surplus, _quote(hyp[i:i + n * c]),
                             f"'{_quote(unit)}' written {c} times in a row from word {i + 1}{said}",
                             hyp_start=i, hyp_len=n * c, ngram=" ".join(unit), copies=c,
                             gzip_ratio=round(ratio, 3) if flagged else None))
    if flagged and not out:
        out.append(HarmEvent(LOOP, 0, _quote(raw), f"the text compresses {ratio:.2f}:1 (Whisper's loop threshold is "
                                                   f"{GZIP_RATIO}) but no repeated run was located",
                             gzip_ratio=round(ratio, 3)))
    return out


# --------------------------------------------------------------------------- dropped tail


def find_dropped_tail(ref_words: Sequence[str], ops: str) -> HarmEvent | None:
    """The reference words deleted after the last correctly recognised word, when the hypothesis stopped early.

    The tail is every alignment column after the last C (all of them when
    nothing was recognised); its deletions are the words the hypothesis never
    reached. A substituted word there was heard, if wrongly, so it is quoted but
    not counted.
    """
    n_ref = len(ref_words)
    if not n_ref:
        return None
    last = ops.rfind("C")
    tail = ops[last + 1:]
    dropped = tail.count("D")
    if dropped < TAIL_MIN_WORDS or dropped < TAIL_MIN_SHARE * n_ref:
        return None
    first_ref = len(ops[:last + 1].replace("I", ""))  # reference words up to and including the last hit
    words = tuple(ref_words[first_ref:])
    share = dropped / n_ref
    return HarmEvent(TAIL, dropped, _quote(words),
                     f"{dropped} of {n_ref} reference words ({share:.0%}) deleted after the last recognised word"
                     + (f" '{ref_words[first_ref - 1]}'" if first_ref else " (nothing was recognised)"),
                     ref_start=first_ref, ref_len=len(words))
