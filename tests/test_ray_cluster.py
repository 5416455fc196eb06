"""A real two-node Ray cluster on this machine: clips spread over both nodes, a node lost mid-run, a driver killed.

Two ``ray start --block`` processes, each in its own session and temp dir, on
loopback addresses (127.0.0.2 for the head, 127.0.0.3 for the second node:
Ray rewrites 127.0.0.1 to the machine's outward address, any other loopback
address it keeps). Losing a node is SIGKILL to every process of that node's
session (raylet, its workers, its agents), as a machine that loses power.
The runs go through the CLI, ``asr-eval run --executor ray --address``, as a
user would, with the real tiny.en model; every clip x condition must end up in
the cache exactly once and the outputs must equal a local run's.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("faster_whisper")

from asr_eval.evaluate import RunConfig, run_evaluation

from test_resume import real_clips, run_outputs

pytestmark = [pytest.mark.slow, pytest.mark.model]

ROOT = Path(__file__).resolve().parents[1]
HEAD_IP, NODE2_IP = "127.0.0.2", "127.0.0.3"
CLIPS = 8
CONDITIONS = 2  # baseline and dictionary
DICTIONARY = ROOT / "dictionaries" / "demo-company.csv"
START_TIMEOUT = 180  # a node joins in 10-40 s on the 2 shared cores
RUN_TIMEOUT = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    """Workers import this checkout's asr_eval; no token auth or usage stats on a throwaway loopback cluster."""
    env = dict(os.environ)
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0", **extra)
    env.pop("RAY_ADDRESS", None)
    return env


def _session_pids(sid: int) -> list[int]:
    """Every process in session ``sid``: a node's raylet, workers and agents (workers have their own group)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


class Node:
    """One ``ray start --block`` in its own session, so that killing the session kills exactly this node."""

    def __init__(self, args: list[str], temp_dir: Path, log: Path, env: dict[str, str]):
        temp_dir.mkdir(parents=True, exist_ok=True)
        ports = ["--node-manager-port", "--object-manager-port", "--metrics-export-port", "--runtime-env-agent-port",
                 "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port"]
        cmd = [shutil.which("ray") or "ray", "start", "--block", *args, "--temp-dir", str(temp_dir),
               "--object-store-memory", str(80 * 2**20), "--disable-usage-stats",
               *[x for p in ports for x in (p, str(_free_port()))]]
        self.log = log
        self.proc = subprocess.Popen(cmd, start_new_session=True, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)

    def kill(self) -> None:
        """SIGKILL every process of the node (repeated: a dying raylet may still be forking a worker)."""
        for _ in range(5):
            pids = _session_pids(self.proc.pid)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        self.proc.wait(timeout=30)

    def alive(self) -> bool:
        return self.proc.poll() is None


class Cluster:
    """A head (127.0.0.2) and a second node (127.0.0.3, custom resource ``node2``), one CPU each.

    Starting a node is retried with fresh ports (at most ``ATTEMPTS`` times): on
    the shared 2-core machine a node may miss one of Ray's start-up deadlines,
    or a port picked free may be taken before Ray binds it. That is about the
    test's machine, not what the tests check.
    """

    ATTEMPTS = 3

    def __init__(self, root: Path):
        self.root = root
        self.head: Node | None = None
        self.node2: Node | None = None
        self.port = 0
        self.address = ""
        self.failures: list[str] = []

    def env(self, **extra: str) -> dict[str, str]:
        return _env(ASR_EVAL_CACHE=str(self.root / "user-cache"), **extra)

    def start_head(self) -> None:
        for attempt in range(self.ATTEMPTS):
            self.port = _free_port()
            self.address = f"{HEAD_IP}:{self.port}"
            # the GCS declares a silent node dead after 3 missed 1 s health checks (Ray's default: 5 x 3 s), so
            # the lost actor is restarted sooner; the product relies on no particular value
            self.head = Node(["--head", "--port", str(self.port), "--node-ip-address", HEAD_IP, "--num-cpus", "1",
                              "--include-dashboard", "false", "--dashboard-port", str(_free_port())],
                             self.root / f"h{attempt}", self.root / f"head{attempt}.log",
                             self.env(RAY_health_check_period_ms="1000", RAY_health_check_failure_threshold="3"))
            if self._connect():
                return
            self.failures.append(self._logs(self.head, self.root / f"h{attempt}"))
            self.head.kill()
        pytest.fail("the head node did not start:\n" + "\n".join(self.failures))

    def _connect(self) -> bool:
        """This test process joins as a driver only to ask the GCS about nodes; it runs nothing there."""
        deadline = time.monotonic() + START_TIMEOUT
        while self.head.alive() and time.monotonic() < deadline:
            try:
                ray.init(address=self.address, include_dashboard=False, logging_level="ERROR")
                return True
            except Exception:
                if ray.is_initialized():
                    ray.shutdown()
                time.sleep(1)
        return False

    def start_node2(self) -> None:
        gone = set(self.node2_ids())  # a node killed a moment ago may not be marked dead yet
        for attempt in range(self.ATTEMPTS):
            temp = self.root / f"n{len(self.failures)}-{attempt}"
            self.node2 = Node(["--address", self.address, "--node-ip-address", NODE2_IP, "--num-cpus", "1",
                               "--resources", json.dumps({"node2": 1})], temp, temp.with_suffix(".log"), self.env())
            deadline = time.monotonic() + START_TIMEOUT
            while self.node2.alive() and time.monotonic() < deadline and not set(self.node2_ids()) - gone:
                time.sleep(1)
            if self.node2.alive() and set(self.node2_ids()) - gone:
                return
            self.failures.append(self._logs(self.node2, temp))
            self.node2.kill()
            assert self.head.alive(), "the head node died:\n" + "\n".join(self.failures)
        pytest.fail("node 2 did not join:\n" + "\n".join(self.failures))

    def alive_nodes(self) -> list[dict]:
        return [n for n in ray.nodes() if n["Alive"]]

    def node2_ids(self) -> list[str]:
        return [n["NodeID"] for n in self.alive_nodes() if "node2" in n["Resources"]]

    def node2_id(self) -> str:
        ids = self.node2_ids()
        assert len(ids) == 1, ids
        return ids[0]

    @staticmethod
    def _logs(node: Node, temp: Path) -> str:
        """The node's console and Ray's record of which of its processes exited, for a failure message."""
        parts = [f"--- {node.log.name}\n{node.log.read_text()[-2000:]}" if node.log.exists() else ""]
        for exit_log in sorted(temp.glob("session_*/logs/ray_process_exit.log")):
            parts.append(f"--- {exit_log.name}\n{exit_log.read_text()[-2000:]}")
        return "\n".join(parts)

    def teardown(self) -> None:
        for node in (self.node2, self.head):
            if node is not None:
                node.kill()


@pytest.fixture(scope="module")
def cluster():
    if ray.is_initialized():
        pytest.skip("this process is already a Ray driver")
    # a short root: Ray's unix socket paths live under it and are limited to 107 bytes
    root = Path(tempfile.mkdtemp(prefix="ae-ray-"))
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_USAGE_STATS_ENABLED")}
    os.environ.update(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")  # as the cluster was started
    c = Cluster(root)
    try:
        c.start_head()
        c.start_node2()
        yield c
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.teardown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return real_clips(tmp_path_factory.mktemp("clips"), n=CLIPS, seconds=4.0)


@pytest.fixture(scope="module")
def local_outputs(clips, tmp_path_factory):
    """The same evaluation run locally: what every cluster run must reproduce."""
    out = tmp_path_factory.mktemp("local") / "run"
    run_evaluation(clips, out, dictionary=DICTIONARY, config=RunConfig(progress=False, reports=False))
    return run_outputs(out)


@pytest.fixture
def driver(cluster, clips):
    """Start ``asr-eval run --executor ray --address`` against the cluster; killed if a test leaves it running."""
    procs: list[subprocess.Popen] = []

    def start(out: Path) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "asr_eval.cli", "run", str(clips), "-d", str(DICTIONARY), "--out", str(out),
               "--executor", "ray", "--address", cluster.address, "--ray-actors", "2", "--no-progress"]
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=cluster.env(), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, start_new_session=True))
        return procs[-1]

    yield start
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _cache_records(out: Path) -> list[dict]:
    path = out / "cache" / "transcripts.jsonl"
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").split("\n")[:-1]:  # a torn last line is not a record yet
        try:
            records.append(json.loads(line))
        except ValueError:
            pass
    return records


def _wait_for(proc: subprocess.Popen, out: Path, ready, what: str) -> list[dict]:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        records = _cache_records(out)
        if ready(records):
            return records
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {what}:\n{proc.stdout.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}")


def _finish(proc: subprocess.Popen) -> str:
    try:
        text, _ = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        text, _ = proc.communicate()
        pytest.fail(f"the run did not finish in {RUN_TIMEOUT} s:\n{text}")
    assert proc.returncode == 0, text
    return text


def _check_complete(out: Path, local_outputs: dict[str, str]) -> list[dict]:
    """Every clip x condition in the cache exactly once, nothing skipped, outputs equal to the local run's."""
    records = _cache_records(out)
    keys = [r["key"] for r in records]
    assert len(keys) == len(set(keys)) == CLIPS * CONDITIONS
    assert list(csv.DictReader(open(out / "skipped.csv", encoding="utf-8"))) == []
    assert run_outputs(out) == local_outputs
    return records


def _nodes(out: Path) -> dict[str, int]:
    """How many timing.csv rows (clip x condition) each node decoded."""
    counts: dict[str, int] = {}
    for row in csv.DictReader(open(out / "timing.csv", encoding="utf-8")):
        counts[row["node"]] = counts.get(row["node"], 0) + 1
    return counts


def test_a_killed_driver_reruns_against_the_same_cluster_and_resumes_from_the_cache(cluster, driver, local_outputs,
                                                                                      tmp_path):
    if cluster.node2 is None or not cluster.node2.alive():
        cluster.start_node2()
    out = tmp_path / "run"
    proc = driver(out)
    _wait_for(proc, out, lambda rs: len(rs) >= 4, "four transcripts were cached")
    os.killpg(proc.pid, signal.SIGKILL)  # the driver, as kill -9 or a lost login node would
    proc.wait()
    before = {r["key"]: r["record"] for r in _cache_records(out)}
    assert 4 <= len(before) < CLIPS * CONDITIONS

    _finish(driver(out))
    records = _check_complete(out, local_outputs)
    run = json.loads((out / "run.json").read_text())
    assert (run["timing"]["decoded"], run["timing"]["cached"]) == (CLIPS * CONDITIONS - len(before), len(before))
    for r in records:  # what was cached before the kill was served, not decoded again
        if r["key"] in before:
            assert r["record"] == before[r["key"]]


def test_losing_a_node_mid_run_finishes_on_the_other_with_every_clip_once(cluster, driver, local_outputs, tmp_path):
    if cluster.node2 is None or not cluster.node2.alive():
        cluster.start_node2()
    node2 = cluster.node2_id()[:12]
    assert len(cluster.alive_nodes()) == 2
    out = tmp_path / "run"
    proc = driver(out)
    # node 2 has stored a clip, so the driver is handing it its next one: kill the node with that batch in flight
    on_node2 = _wait_for(proc, out, lambda rs: any(node2 in r["record"]["node"] for r in rs), "node 2 decoded a clip")
    cluster.node2.kill()
    assert len(on_node2) < CLIPS * CONDITIONS, "node 2 was lost only after the run had decoded everything"
    _finish(proc)

    records = _check_complete(out, local_outputs)
    nodes = _nodes(out)
    assert sum(nodes.values()) == CLIPS * CONDITIONS
    assert any(f"/{NODE2_IP}/{node2}" in n for n in nodes), nodes  # both nodes decoded clips
    assert any(f"/{HEAD_IP}/" in n for n in nodes), nodes
    run = json.loads((out / "run.json").read_text())
    assert (run["timing"]["decoded"], run["timing"]["cached"]) == (CLIPS * CONDITIONS, 0)
    assert all(r["record"]["node"] for r in records)
