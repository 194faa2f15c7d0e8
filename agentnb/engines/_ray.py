"""Ray: one actor per node, pinned to it, starts the pool's servers there; new nodes get one too.

As Ray Serve pins one proxy actor per node (``NodeAffinitySchedulingStrategy(node_id,
soft=False)``, ``python/ray/serve/_private/proxy_state.py``), the pool pins one
:class:`NodeServers` actor per alive node; a watcher thread in the driver
looks at ``ray.nodes()`` every second and starts one on each node that
joined. Each actor keeps one call open (``wait_stopped``) that returns when
its servers exit; when the actor or its node dies, that call raises Ray's
own account of why ("the actor died because its node has died ..."), which
becomes the cause in the pool's errors.

The actors are owned by the driver, not detached (Serve's proxies are
detached because Serve outlives its driver; agentnb's servers must not): Ray
kills an owned actor when its owner dies, which stops its servers, and the
servers' leases stop them anyway.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from ._engine import EngineEvents
from ._spec import ServerSpec
from ._worker import WorkerServers

log = logging.getLogger("agentnb")

#: How often the driver looks for nodes that joined or died (seconds).
WATCH_EVERY = 1.0


class NodeServers:
    """The actor on one node: starts the pool's servers there and says when they stop."""

    def __init__(self, spec: ServerSpec, node_id: str) -> None:
        self._servers = WorkerServers(spec, ray.util.get_node_ip_address(), node_id)

    def __repr__(self) -> str:
        return f"<agentnb servers of pool {self._servers.spec.pool} on node {self._servers.worker[:12]}>"

    def start(self) -> list[dict[str, Any]]:
        return self._servers.start()

    def wait_stopped(self) -> str:
        """Block until one of the servers exits; says how."""
        server = self._servers.wait_any_exit(None)
        return "its server exited" if server is None else f"its server exited: {server.describe_exit()}"

    def stop(self) -> None:
        self._servers.stop()


def cause_of(error: BaseException) -> str:
    """Ray's account of why an actor died, in one line."""
    text = " ".join(str(error).split())
    found = re.search(r"(The actor died because.*)", text) or re.search(r"(The actor died.*)", text)
    return (found.group(1) if found else text)[:400]


class RayEngine:
    """A pool's servers on the nodes of the Ray cluster ``ray.init()`` connected to."""

    kind = "ray"
    noun = "node"

    def __init__(self) -> None:
        if not ray.is_initialized():
            raise RuntimeError("agentnb.servers(ray) needs a Ray cluster: call ray.init(...) first")
        self._actors: dict[str, Any] = {}  # node id -> actor
        self._waits: dict[Any, str] = {}  # wait_stopped ref -> node id
        self._lost: set[str] = set()
        self._closed = threading.Event()
        self._spec: ServerSpec | None = None
        self._events: EngineEvents | None = None
        self._thread: threading.Thread | None = None
        options: dict[str, Any] = {"num_cpus": 0, "max_concurrency": 4, "max_restarts": 0}
        self._remote: Any = ray.remote(**options)(NodeServers)

    def label(self) -> str:
        return f"Ray cluster at {ray.get_runtime_context().gcs_address}"

    def workers(self) -> int:
        return sum(1 for node in ray.nodes() if node.get("Alive"))

    def start(self, spec: ServerSpec, events: EngineEvents) -> None:
        self._spec, self._events = spec, events
        self._look()
        self._thread = threading.Thread(target=self._watch, name=f"agentnb-ray-{spec.pool}", daemon=True)
        self._thread.start()

    def _look(self) -> None:
        """Start servers on nodes that have none; report nodes Ray says died."""
        assert self._spec is not None and self._events is not None
        starting = {}
        for node in ray.nodes():
            node_id = str(node["NodeID"])
            if node.get("Alive") and node_id not in self._actors:
                actor = self._remote.options(
                    name=f"agentnb-{self._spec.pool}-{node_id[:12]}",
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                ).remote(self._spec, node_id)
                self._actors[node_id] = actor
                starting[node_id] = actor.start.remote()
            elif not node.get("Alive") and node_id in self._actors and node_id not in self._lost:
                self._lost.add(node_id)
                reason = node.get("DeathReasonMessage") or "no reason given"
                self._events.lost(node_id, f"Ray reports the node dead ({reason})")
        for node_id, ref in starting.items():
            try:
                infos = ray.get(ref, timeout=self._spec.launch + 30)
            except Exception as exc:  # noqa: BLE001 - told to the pool; the others go on
                self._events.failed(node_id, cause_of(exc))
                continue
            self._waits[self._actors[node_id].wait_stopped.remote()] = node_id
            for info in infos:
                self._events.started(info)

    def _watch(self) -> None:
        while not self._closed.is_set():
            waits = list(self._waits)
            if waits:
                done, _ = ray.wait(waits, num_returns=1, timeout=WATCH_EVERY)
                for ref in done:
                    self._stopped(ref)
            else:
                self._closed.wait(WATCH_EVERY)
            if self._closed.is_set():
                return
            try:
                self._look()
            except Exception:  # noqa: BLE001 - keep watching (a GCS hiccup)
                log.warning("agentnb: looking at the Ray cluster's nodes failed", exc_info=True)

    def _stopped(self, ref: Any) -> None:
        node_id = self._waits.pop(ref)
        try:
            cause = str(ray.get(ref, timeout=5))
        except Exception as exc:  # noqa: BLE001 - the actor died: Ray says why
            cause = cause_of(exc)
        if node_id not in self._lost and not self._closed.is_set():
            self._lost.add(node_id)
            assert self._events is not None
            self._events.lost(node_id, cause)

    def stop(self) -> None:
        """Stop the watcher, then each node's servers, then the actors (each bounded)."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join(WATCH_EVERY + 10)
        actors = [a for node_id, a in self._actors.items() if node_id not in self._lost]
        stops = [actor.stop.remote() for actor in actors]
        if stops:
            ray.wait(stops, num_returns=len(stops), timeout=15)
        for actor in self._actors.values():
            ray.kill(actor)
        self._actors.clear()
