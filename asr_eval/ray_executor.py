"""Transcription on Ray: one backend (one model) per actor, results streamed to the driver.

Only decoding moves to the cluster. Plans, cache keys and the transcript store
stay in the driver, and each actor runs the very function the local executor
runs (``transcribe.decode_jobs``), so a Ray run resumes from, and writes to, the
same store as a local one and produces the same transcripts.

Workers read audio from the paths in the manifest, so on a multi-node cluster
the audio must be on a filesystem every node sees (as it must for the driver).
Needs the optional extra: ``pip install 'asr-eval[ray]'`` (plain ``ray``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from .transcribe import Job, JobResult, decode_jobs
from .types import AsrEvalError, ModelError


@dataclass(frozen=True)
class BackendSpec:
    """How an actor builds its backend: ``factory`` is 'module:callable', called with ``kwargs``.

    A spec (not a live backend) is shipped, so each actor loads its own model
    next to its own GPU.
    """

    factory: str = "asr_eval.backends:load_backend"
    args: tuple[Any, ...] = ("faster-whisper",)
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        module, _, name = self.factory.partition(":")
        return getattr(importlib.import_module(module), name)(*self.args, **dict(self.kwargs))


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise AsrEvalError("--executor ray needs Ray: pip install 'asr-eval[ray]' (or pip install ray)") from None
    return ray


class _Worker:
    """Actor body: holds one backend and decodes batches of jobs with it.

    Runs two threads (``max_concurrency=2``) so that ``where`` answers while a
    batch decodes: the driver tells a busy actor from one Ray is still
    restarting by whether it answers. Only one ``decode`` is ever in flight per
    actor, so the backend itself is used by one thread at a time.
    """

    def __init__(self, spec: BackendSpec):
        self.node = _node_label()  # set again on every restart, on whichever node Ray chose
        self.backend = spec.build()
        self.backend.load()  # load failures surface when the actor starts, not mid-run

    def where(self) -> str:
        return self.node

    def describe(self) -> dict[str, Any]:
        return self.backend.describe()

    def info(self) -> dict[str, Any]:
        return {"name": self.backend.name, "model_id": self.backend.model_id}

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)

    def prompt_budget(self, method: str) -> int:
        return self.backend.prompt_budget(method)

    def decode(self, jobs: Sequence[Job]) -> list[JobResult]:
        return decode_jobs(self.backend, jobs, self.node)


def _node_label() -> str:
    """'host/ip/ray-node-id': the host and address say where, the node id tells apart two nodes on one host."""
    import socket

    import ray

    node_id = ray.get_runtime_context().get_node_id() or ""
    return f"{socket.gethostname()}/{ray.util.get_node_ip_address()}/{node_id[:12]}"


class RayBackendProxy:
    """The driver's view of the actors' backend: tokenizer and description come from a live actor.

    The driver needs ``count_tokens``/``prompt_budget`` (token budgets) and
    ``describe()`` (cache keys, run.json) but no model of its own; asking an
    actor keeps the description exactly the one the decoding engine reports
    (device included). It is a whole ``Transcriber`` so the driver can hold it
    where it would hold a local backend, but decoding happens only in actors.
    """

    def __init__(self, ray: Any, executor: "RayExecutor", batch_size: int = 1):
        self._ray = ray
        self._executor = executor
        self.batch_size = batch_size
        actor = executor.any_actor()
        info = ray.get(actor.info.remote())
        self.name = info["name"]
        self.model_id = info["model_id"]
        self._describe = ray.get(actor.describe.remote())
        self._tokens: dict[str, int] = {}

    def count_tokens(self, text: str) -> int:
        if text not in self._tokens:
            self._tokens[text] = self._ray.get(self._executor.any_actor().count_tokens.remote(text))
        return self._tokens[text]

    def prompt_budget(self, method: str) -> int:
        return self._ray.get(self._executor.any_actor().prompt_budget.remote(method))

    def describe(self) -> dict[str, Any]:
        return dict(self._describe)

    def load(self) -> None:
        """Nothing to load in the driver: each actor loaded its model when it started."""

    def transcribe(self, audio: Any, plans: Any) -> Any:
        raise AsrEvalError("the Ray proxy backend does not decode in the driver; use RayExecutor.run")

    def transcribe_batch(self, audios: Any, plans: Any) -> Any:
        raise AsrEvalError("the Ray proxy backend does not decode in the driver; use RayExecutor.run")


def _actor_alive(ray: Any, actor: Any) -> bool:
    try:
        ray.get(actor.where.remote(), timeout=30)
        return True
    except Exception:
        return False


# Fault tolerance (docs/scale.md, "Ray", "Losing a node"). Ray restarts a dead actor
# (its process crashed, or its node was lost) up to MAX_RESTARTS times, on any node
# with room, and re-sends the calls it had not answered: a lost batch is decoded
# again by the restarted actor and reaches the driver once. Retries are unbounded
# (-1) because until the GCS declares a node dead (by default 5 missed health checks 3 s apart)
# every retry meets "actor temporarily unavailable" and a bounded count runs out
# before the restart; a call still fails once its actor is out of restarts.
MAX_RESTARTS = 3
MAX_TASK_RETRIES = -1
POLL_SECONDS = 5.0     # how often the driver checks on batches slow to come back
PING_SECONDS = 5.0     # an actor that does not answer `where` within this is being restarted (or lost)
RESTART_TIMEOUT = 600.0  # give up on an actor Ray has not managed to restart in this long


class RayExecutor:
    """A pool of actors, each with its own backend; jobs go out in batches, results stream back.

    ``address``: an existing cluster ('auto', 'ray://host:10001', 'host:6379');
    None starts a local Ray instance with ``num_cpus`` CPUs. ``actors``: how
    many backends to run (default: one per GPU on cuda, else one per
    ``cpus_per_actor`` CPUs). Each actor reserves ``num_gpus`` (1 on cuda) so
    Ray places one model per GPU, and actors are spread over the nodes
    (``SPREAD``) so that losing one node loses as few of them as possible.
    """

    def __init__(
        self,
        spec: BackendSpec,
        *,
        address: str | None = None,
        actors: int = 0,
        batch_size: int = 1,
        device: str = "cpu",
        num_cpus: int | None = None,
        cpus_per_actor: float = 1.0,
        runtime_env: Mapping[str, Any] | None = None,
        restart_timeout: float = RESTART_TIMEOUT,
    ):
        ray = _import_ray()
        self.ray = ray
        self._started = False
        self.actors: list[Any] = []
        self.restart_timeout = restart_timeout
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True}
            if runtime_env:
                kwargs["runtime_env"] = dict(runtime_env)
            if address:
                ray.init(address=address, **kwargs)
            else:  # "local": a new instance even where `ray start` left one to auto-join (use --address auto for that)
                ray.init(address="local", num_cpus=num_cpus, **kwargs)
            self._started = True
        resources = ray.cluster_resources()
        gpus = 1 if device == "cuda" or (device == "auto" and resources.get("GPU", 0) >= 1) else 0
        if device == "cuda" and resources.get("GPU", 0) < 1:
            self.shutdown()
            raise ModelError("--device cuda with --executor ray: the Ray cluster reports no GPU")
        if cpus_per_actor > resources.get("CPU", 0):
            self.shutdown()
            raise ModelError(f"each Ray actor would reserve {cpus_per_actor:g} CPUs (--cpu-threads) but the Ray "
                             f"cluster has {resources.get('CPU', 0):g}; lower --cpu-threads")
        if actors <= 0:
            actors = int(resources.get("GPU", 0)) if gpus else max(1, int(resources.get("CPU", 1) // cpus_per_actor))
        self.size = actors
        self.batch_size = max(1, batch_size)
        self._spec = spec
        self._remote = ray.remote(
            num_cpus=cpus_per_actor, num_gpus=gpus, max_restarts=MAX_RESTARTS, max_task_retries=MAX_TASK_RETRIES,
            max_concurrency=2, scheduling_strategy="SPREAD",
        )(_Worker)
        try:
            self._fill()
            self.backend = RayBackendProxy(ray, self, self.batch_size)
        except Exception as exc:
            self.shutdown()
            raise ModelError(f"Ray actors could not load the backend: {_cause(exc)}") from None

    def _fill(self) -> None:
        """Start actors up to the pool's size (again after a run released its idle ones)."""
        while len(self.actors) < self.size:
            self.actors.append(self._remote.remote(self._spec))

    def any_actor(self) -> Any:
        self._fill()
        return self.actors[0]

    def run(self, jobs: Sequence[Job]) -> Iterator[JobResult]:
        """Keep every actor busy with one batch in flight; yield results as batches finish.

        A batch whose actor dies is sent again by Ray to the restarted actor
        (see the module constants). Once no batch is left to hand out, an
        actor that stops answering is being restarted: the idle actors are
        released, so that their CPUs or GPU can take it when its node is gone
        and the cluster is full. A batch that fails for good (its actor out of
        restarts, or not restarted within ``restart_timeout``, or the task
        raised) fails its clips, reported like any failed clip; what is already
        stored survives, so a rerun retries just those clips.
        """
        from .transcribe import _failure

        ray = self.ray
        if jobs:
            self._fill()
        batches = [list(jobs[k : k + self.batch_size]) for k in range(0, len(jobs), self.batch_size)]
        pending: dict[Any, tuple[Any, list[Job]]] = {}
        idle = list(self.actors)
        silent: dict[Any, tuple[float, Any]] = {}  # actor -> (first unanswered ping, that ping)
        while batches or pending:
            if batches and not idle and not pending:
                raise ModelError("every Ray actor has died; the clips decoded so far are stored, rerun to resume")
            while batches and idle:
                actor = idle.pop()
                batch = batches.pop(0)
                pending[actor.decode.remote(batch)] = (actor, batch)
            done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
            if not done:
                self._check_silent(pending, idle, silent)
                continue
            for ref in done:
                actor, batch = pending.pop(ref)
                silent.pop(actor, None)
                try:
                    results = ray.get(ref)
                except Exception as exc:  # actor out of restarts, or the task raised: these clips fail, the run goes on
                    cause = _cause(exc)
                    yield from (_failure(job, RuntimeError(f"Ray task failed: {cause}")) for job in batch)
                    if _actor_alive(ray, actor):
                        idle.append(actor)
                    else:
                        self._drop(actor)
                    continue
                idle.append(actor)
                yield from results

    def _check_silent(self, pending: dict[Any, tuple[Any, list[Job]]], idle: list[Any],
                      silent: dict[Any, tuple[float, Any]]) -> None:
        """Batches are slow to come back: is any of their actors being restarted?

        A busy actor answers ``where`` at once (it has a second thread). One that
        does not is down, and Ray is restarting it where there is room. After a
        lost node, on a full cluster, there is room only once other actors let
        go, so idle actors (there are some only when no batch is left to hand
        out) are released. An actor still silent after ``restart_timeout`` is
        given up: killing it fails its batch, and the run ends without it.
        """
        import time

        ray = self.ray
        now = time.monotonic()
        pings = {actor: (silent.get(actor) or (now, actor.where.remote())) for actor, _ in pending.values()}
        answered, _ = ray.wait([p for _, p in pings.values()], num_returns=len(pings), timeout=PING_SECONDS)
        answered_set = set(answered)
        for actor, (since, ping) in pings.items():
            if ping in answered_set:
                silent.pop(actor, None)
                continue
            silent[actor] = (since, ping)
            if now - since > self.restart_timeout:
                ray.kill(actor, no_restart=True)  # its pending call now fails with the actor's death
        if silent and idle:
            for actor in idle:
                self._drop(actor)
                ray.kill(actor, no_restart=True)
            idle.clear()

    def _drop(self, actor: Any) -> None:
        if actor in self.actors:
            self.actors.remove(actor)

    def shutdown(self) -> None:
        """Release the actors, and Ray itself if this executor started it."""
        for actor in getattr(self, "actors", []):
            self.ray.kill(actor)
        self.actors = []
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
            self._started = False

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _cause(exc: BaseException) -> str:
    """The root error of a Ray actor failure, without Ray's wrapper traceback."""
    cause = getattr(exc, "cause", None) or exc.__cause__
    return str(cause) if cause else str(exc).splitlines()[-1]
