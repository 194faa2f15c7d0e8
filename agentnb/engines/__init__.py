"""Agent servers hosted by the engines people already run: Dask and Ray.

``agentnb.servers(engine)`` asks an engine to start agentnb servers on its
workers (a Dask worker plugin; one Ray actor pinned to each node), and
returns a :class:`~agentnb.engines._pool.ServerPool` to place agents on:
``to_dist(placement=pool)``. Dask and Ray are optional (``agentnb[dask]``,
``agentnb[ray]``): neither is imported unless an engine of that kind is
passed.
"""

from __future__ import annotations

import sys
from typing import Any

from .._core._config import Limits, Timeouts
from ._engine import Engine
from ._pool import ServerPool
from ._spec import LEASE

__all__ = ["ServerPool", "servers"]


def servers(
    engine: Any,
    per_worker: int = 1,
    respawn: bool = False,
    *,
    tls: bool = False,
    limits: Limits | None = None,
    timeouts: Timeouts | None = None,
    lease: float = LEASE,
) -> ServerPool:
    """Start agent servers on every worker of an engine; returns the pool to place agents on.

    Args:
        engine: a ``dask.distributed.Client`` (whatever cluster is behind it:
            ``LocalCluster``, ``dask worker`` on other hosts, dask-jobqueue,
            dask-kubernetes, dask-gateway), or the ``ray`` module after ``ray.init(...)``.
        per_worker: servers on each Dask worker (each Ray node).
        respawn: when a worker or node is lost, rebuild its agents from their
            constructor arguments on the servers left (their state starts over);
            otherwise their calls fail, naming the agent, the host and the cause.
            Placements may say otherwise for their agents (``pool.spread(respawn=True)``).
        tls: encrypt every connection: the driver makes a certificate authority
            for the pool and each worker a certificate for its address.
        limits: the servers' limits (see :class:`agentnb.Limits`).
        timeouts: deadlines (see :class:`agentnb.Timeouts`).
        lease: a server whose driver has not renewed its lease for this many
            seconds stops (the driver renews every second), so servers never
            outlive the driver, even one killed with ``kill -9``.

    Returns:
        The pool, once every current worker has its servers. It starts servers
        on workers that join later, and stops them all with ``pool.close()``,
        at the end of ``with pool:``, with ``agentnb.shutdown()``, or when the
        driver dies.

    Example:
        >>> client = Client(LocalCluster(n_workers=2))          # doctest: +SKIP
        >>> pool = agentnb.servers(client)                        # doctest: +SKIP
        >>> a = Worker(name="A").to_dist(placement=pool)          # doctest: +SKIP
    """
    return ServerPool(_engine(engine), per_worker, respawn, tls, limits, timeouts, lease)


def _engine(engine: Any) -> Engine:
    """The engine adapter for ``engine``, importing only the engine's own package."""
    module = type(engine).__module__ or ""
    if module.split(".")[0] == "distributed":
        from ._dask import DaskEngine  # Dask is optional: imported only when a client is passed

        return DaskEngine(engine)
    if engine is not None and engine is sys.modules.get("ray"):
        from ._ray import RayEngine  # Ray is optional: imported only when ray is passed

        return RayEngine()
    raise TypeError(
        "agentnb.servers() takes a dask.distributed.Client (pip install 'agentnb[dask]') or the ray "
        f"module after ray.init(...) (pip install 'agentnb[ray]'); got {type(engine).__name__}"
    )
