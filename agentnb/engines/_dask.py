"""Dask: a worker plugin starts the pool's servers on every worker, those that join later included.

``Client.register_plugin`` hands the plugin (and with it the pool's token)
to the scheduler, which runs ``setup`` on every worker now and on every
worker that joins later, and ``teardown`` when the plugin is unregistered.
Each worker announces its servers on the pool's event topic
(``Worker.log_event``; the driver subscribes with ``Client.subscribe_topic``).
When the scheduler removes a worker it publishes that on the worker's own
topic, with the stimulus that caused it: the pool learns which servers are
lost and why. Works the same with any cluster behind the client: a
``LocalCluster``, ``dask worker`` processes on other hosts, dask-jobqueue
(SLURM, PBS, SGE), dask-kubernetes or dask-gateway.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from distributed import Client, Worker
from distributed.comm import get_address_host
from distributed.diagnostics.plugin import WorkerPlugin

from ._engine import EngineEvents
from ._spec import ServerSpec
from ._worker import WorkerServers

log = logging.getLogger("agentnb")

#: What the scheduler's stimulus ids for a removed worker mean (by prefix).
CAUSES = (
    ("worker-close", "the worker closed"),
    ("handle-worker-cleanup", "the worker's connection to the scheduler broke (its process died?)"),
    ("worker-handle-scheduler-connection-broken", "the worker's connection to the scheduler broke"),
    ("check-worker-ttl", "the worker missed its heartbeats"),
    ("heartbeat", "the worker missed its heartbeats"),
    ("retire-workers", "the worker was retired (scaled down)"),
    ("nanny", "the worker's nanny restarted or stopped it"),
)


def cause_of(message: dict[str, Any]) -> str:
    """A readable cause for the scheduler's remove-worker event."""
    stimulus = str(message.get("stimulus_id", "") or "")
    for prefix, meaning in CAUSES:
        if stimulus.startswith(prefix):
            return f"the Dask scheduler removed the worker: {meaning} ({stimulus})"
    return f"the Dask scheduler removed the worker ({stimulus or 'no reason given'})"


class AgentnbPlugin(WorkerPlugin):  # type: ignore[misc]
    """Starts a pool's agent servers on a worker; stops them at teardown (or when the worker dies).

    Args:
        spec: the pool's spec, token included (never shown by ``repr``).
    """

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.name = spec.topic
        self._servers: WorkerServers | None = None

    def __repr__(self) -> str:
        return f"<agentnb worker plugin for pool {self.spec.pool}>"

    async def setup(self, worker: Worker) -> None:
        servers = self._servers = WorkerServers(self.spec, get_address_host(worker.address), worker.address)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.run_in_executor(None, servers.start)
        except Exception as exc:  # noqa: BLE001 - told to the driver, the worker carries on
            log.warning("agentnb: could not start the agent servers of pool %s: %s", self.spec.pool, exc)
            failed = {"action": "failed", "worker": worker.address, "error": str(exc)}
            worker.log_event(self.spec.topic, failed)
            return
        for info in infos:
            worker.log_event(self.spec.topic, {"action": "started", **info})

    async def teardown(self, worker: Worker) -> None:
        servers, self._servers = self._servers, None
        if servers is not None:
            await asyncio.get_running_loop().run_in_executor(None, servers.stop)


class DaskEngine:
    """A pool's servers on the workers of a ``dask.distributed.Client``."""

    kind = "dask"
    noun = "worker"

    def __init__(self, client: Client) -> None:
        if getattr(client, "asynchronous", False):
            raise TypeError(
                "agentnb.servers() needs a synchronous dask.distributed.Client (Client(...), not "
                "Client(..., asynchronous=True))"
            )
        self.client = client
        self._spec: ServerSpec | None = None
        self._events: EngineEvents | None = None
        self._topics: list[str] = []
        self._lock = threading.Lock()

    def label(self) -> str:
        return f"Dask scheduler {self.client.scheduler.address}"

    def workers(self) -> int:
        return len(self.client.scheduler_info()["workers"])

    def start(self, spec: ServerSpec, events: EngineEvents) -> None:
        self._spec, self._events = spec, events
        self._subscribe(spec.topic, self._on_pool_event)
        self.client.register_plugin(AgentnbPlugin(spec), name=spec.topic)

    def _subscribe(self, topic: str, handler: Any) -> None:
        with self._lock:
            self._topics.append(topic)
        self.client.subscribe_topic(topic, handler)

    def _on_pool_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """A worker started its servers (or could not); on the client's event loop."""
        _, message = event
        assert self._events is not None
        if message.get("action") == "failed":
            self._events.failed(str(message.get("worker")), str(message.get("error")))
        elif message.get("action") == "started":
            worker = str(message["worker"])
            with self._lock:
                known = worker in self._topics
            if not known:  # the scheduler says on the worker's own topic when it removes it
                self._subscribe(worker, lambda event, worker=worker: self._on_worker_event(worker, event))
            self._events.started(message)

    def _on_worker_event(self, worker: str, event: tuple[float, dict[str, Any]]) -> None:
        _, message = event
        if isinstance(message, dict) and message.get("action") == "remove-worker":
            assert self._events is not None
            self._events.lost(worker, cause_of(message))

    def stop(self) -> None:
        """Unregister the plugin (its teardown stops the servers) and the subscriptions."""
        with self._lock:
            topics, self._topics = self._topics, []
        client = self.client
        if client.status not in ("running", "connecting"):
            return  # the client is closed: the servers stop when their leases lapse
        for topic in topics:
            try:
                client.unsubscribe_topic(topic)
            except ValueError:
                pass
        if self._spec is not None:
            client.unregister_worker_plugin(self._spec.topic)
