"""Which clips a shard of a job array processes: stable assignment by id hash."""

from __future__ import annotations

import hashlib


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """'i/n' with 0 <= i < n (job-array index first)."""
    if not spec:
        return None
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like i/n (e.g. 0/4), got {spec!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {spec!r}: need 0 <= i < n")
    return i, n


def in_shard(utt_id: str, shard: tuple[int, int] | None) -> bool:
    """Stable assignment by id hash, so adding clips does not reshuffle the other shards."""
    if shard is None:
        return True
    i, n = shard
    return int(hashlib.sha1(utt_id.encode("utf-8")).hexdigest(), 16) % n == i
