"""Running a Kaldi wav.scp command (``sox x.wav -t wav - |``) safely enough to be worth allowing.

A wav.scp line may name a program instead of a file, and Kaldi hands it to a
shell. Running it means running whatever the data folder's author wrote, so
asr-eval refuses unless ``--allow-wav-scp-commands`` is given. When allowed,
the command is still not given to a shell: it is split like a shell would
(``shlex``), a ``|`` between words chains programs the way a pipe would, and
nothing else a shell does happens (no globbing, no variables, no ``;``, no
redirection). Each run has a time limit and its output a size limit; the
output (the audio) is stored in asr-eval's cache folder under its hash.
"""

from __future__ import annotations

import os
import selectors
import shlex
import subprocess
import time
from pathlib import Path

from .base import store_audio_bytes

_SHELL_ONLY = {";", "&&", "||", "&", ">", ">>", "<", "2>", "$(", "`"}


def split_command(spec: str) -> list[list[str]]:
    """The programs of a wav.scp command, each as its argv; ValueError for what needs a shell."""
    body = spec.rstrip()
    if not body.endswith("|"):
        raise ValueError("not a command (a wav.scp command ends with '|')")
    try:
        words = shlex.split(body[:-1])
    except ValueError as exc:
        raise ValueError(f"cannot split the command: {exc}") from None
    stages: list[list[str]] = [[]]
    for w in words:
        if w == "|":
            stages.append([])
        elif w in _SHELL_ONLY:
            raise ValueError(f"the command uses {w!r}, which needs a shell; asr-eval runs programs without one")
        else:
            stages[-1].append(w)
    if any(not s for s in stages):
        raise ValueError("empty program in the command")
    return stages


def run_command(spec: str, timeout: float, max_bytes: int) -> Path:
    """Run the command's programs chained by pipes; the audio it wrote, stored in the cache folder.

    ValueError (the caller's per-utterance problem) on a failure, a timeout or
    output past ``max_bytes``; every program started is killed on the way out.
    """
    stages = split_command(spec)
    procs: list[subprocess.Popen] = []
    try:
        prev = None
        for argv in stages:
            try:
                p = subprocess.Popen(argv, stdin=prev.stdout if prev else subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
            except OSError as exc:
                raise ValueError(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
            if prev is not None:
                prev.stdout.close()  # the next program owns the pipe now
            procs.append(p)
            prev = p
        out = _read_bounded(procs[-1], timeout, max_bytes)
        for p, argv in zip(procs, stages):
            rc = p.wait(timeout=max(0.1, timeout))
            if rc != 0:
                raise ValueError(f"{argv[0]!r} exited with status {rc}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    if not out:
        raise ValueError("the command wrote no audio")
    return store_audio_bytes(out, ".wav")


def _read_bounded(proc: subprocess.Popen, timeout: float, max_bytes: int) -> bytes:
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    total = 0
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ValueError(f"the command ran longer than {timeout:g} s")
            if not sel.select(left):
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > max_bytes:
                raise ValueError(f"the command wrote more than {max_bytes} bytes")
            chunks.append(chunk)
