"""sclite's alternations in reference text: ``{ a / b c / @ }``.

Why: a reference transcriber often cannot say which of several spellings was
spoken ("{ gonna / going to }"), or whether a word was said at all ("{ uh / @ }").
NIST sclite reads such a group as a choice: the alignment takes whichever
alternative costs least against the hypothesis, and ``@`` is the empty
alternative, so an optional word the hypothesis leaves out is not a deletion.
Before this module asr-eval dropped the braces and scored every alternative
as spoken words.

Syntax (as sclite writes it): ``{`` opens a group, ``/`` (a word of its own)
separates alternatives, ``}`` closes it; ``@`` alone is the empty alternative.
Braces are recognised wherever they stand (``{a / b}`` too); groups do not nest.
Outside a group ``/`` and ``@`` are ordinary text. ``parse`` returns the text as
pieces: plain strings between groups and, for each group, a tuple of its
alternatives (``""`` for ``@``). ``problem`` names what is wrong with a
malformed group, for the readers' file:line errors; ``lattice`` turns pieces
into the word network the aligner walks (``asr_eval.align.align_lattice``).

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

Piece = str | tuple[str, ...]

NULL = "@"
_BRACE = re.compile(r"([{}])")
MAX_GROUPS = 1_000          # groups in one reference
MAX_ALTERNATIVES = 64       # alternatives in one group


def has_alternatives(text: str) -> bool:
    """Could this text hold a group? (a brace anywhere; ``parse`` decides)"""
    return "{" in text or "}" in text


def _split(text: str) -> tuple[tuple[Piece, ...] | None, str | None]:
    tokens = _BRACE.sub(r" \1 ", text).split()
    pieces: list[Piece] = []
    plain: list[str] = []
    group: list[list[str]] | None = None
    groups = 0
    for tok in tokens:
        if tok == "{":
            if group is not None:
                return None, "'{' inside a group: alternations do not nest"
            groups += 1
            if groups > MAX_GROUPS:
                return None, f"more than {MAX_GROUPS} alternation groups in one reference"
            if plain:
                pieces.append(" ".join(plain))
                plain = []
            group = [[]]
        elif tok == "}":
            if group is None:
                return None, "'}' without an opening '{'"
            if any(not alt for alt in group):
                return None, "empty alternative in '{ ... }': write @ for a word that may be left out"
            alts = []
            for alt in group:
                if NULL in alt and alt != [NULL]:
                    return None, "'@' must stand alone as an alternative ('{ uh / @ }')"
                alts.append("" if alt == [NULL] else " ".join(alt))
            pieces.append(tuple(alts))
            group = None
        elif group is not None:
            if tok == "/":
                group.append([])
                if len(group) > MAX_ALTERNATIVES:
                    return None, f"more than {MAX_ALTERNATIVES} alternatives in one group"
            else:
                group[-1].append(tok)
        else:
            plain.append(tok)
    if group is not None:
        return None, "'{' without a closing '}'"
    if plain:
        pieces.append(" ".join(plain))
    return tuple(pieces), None


def parse(text: str) -> tuple[Piece, ...] | None:
    """The text as plain pieces and alternation groups; None when a group is malformed (see ``problem``)."""
    return _split(text)[0]


def problem(text: str) -> str | None:
    """What is wrong with the text's alternations, or None (also None for text without any)."""
    if not has_alternatives(text):
        return None
    return _split(text)[1]


def render(pieces: Sequence[Piece]) -> str:
    """Pieces written back in sclite's spelling: ``a { b / c d / @ } e``."""
    out = []
    for p in pieces:
        if isinstance(p, tuple):
            out.append("{ " + " / ".join(a if a else NULL for a in p) + " }")
        elif p:
            out.append(p)
    return " ".join(out)


def first_alternatives(text: str) -> str:
    """The text with each group replaced by its first alternative (braces dropped if malformed).

    For what needs one plain reading of a reference (word counts before scoring,
    excerpts); scoring itself chooses per hypothesis.
    """
    if not has_alternatives(text):
        return text
    pieces = parse(text)
    if pieces is None:
        return " ".join(_BRACE.sub(" ", text).split())
    return " ".join(x for x in ((p[0] if isinstance(p, tuple) else p) for p in pieces) if x)


@dataclass(frozen=True)
class Lattice:
    """A reference as a word network in sclite's shape: one arc per word.

    Arc 0 is the head (no word); ``words[a]`` is the arc's token, None for an
    ``@`` arc (the empty alternative); ``preds[a]`` lists the arcs that may come
    right before arc ``a`` in sclite's order of a node's incoming arcs (which
    decides ties); ``ends`` are the arcs that may end the reference.
    """

    words: tuple[str | None, ...]
    preds: tuple[tuple[int, ...], ...]
    ends: tuple[int, ...]


def lattice(pieces: Sequence[Piece], tokenize: Callable[[str], Sequence[str]]) -> Lattice:
    """The network of ``pieces``, each plain piece and each alternative split into tokens by ``tokenize``.

    An alternative that tokenises to nothing (``@``, or a filler the normaliser
    removes) is an ``@`` arc. sclite lists a join node's incoming arcs last
    alternative first, so on a tie the last alternative wins; the preds are
    kept in that order.
    """
    words: list[str | None] = [None]
    preds: list[tuple[int, ...]] = [()]
    ends: tuple[int, ...] = (0,)
    for piece in pieces:
        if isinstance(piece, str):
            for tok in tokenize(piece):
                words.append(tok)
                preds.append(ends)
                ends = (len(words) - 1,)
            continue
        new_ends: list[int] = []
        for alt in piece:
            toks = tokenize(alt) if alt else ()
            if not toks:
                words.append(None)
                preds.append(ends)
            else:
                start = ends
                for tok in toks:
                    words.append(tok)
                    preds.append(start)
                    start = (len(words) - 1,)
            new_ends.append(len(words) - 1)
        ends = tuple(new_ends)
    return Lattice(tuple(words), tuple(preds), ends)
