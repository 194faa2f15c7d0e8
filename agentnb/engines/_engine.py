"""What an engine adapter (:mod:`._dask`, :mod:`._ray`) and its pool (:mod:`._pool`) tell each other."""

from __future__ import annotations

from typing import Any, Protocol

from ._spec import ServerSpec


class EngineEvents(Protocol):
    """What an engine tells its pool (from any thread)."""

    def started(self, info: dict[str, Any]) -> None: ...

    def failed(self, worker: str, message: str) -> None: ...

    def lost(self, worker: str, cause: str) -> None: ...


class Engine(Protocol):
    """An engine's side of a pool: starts servers on its workers, says when one is gone."""

    kind: str
    noun: str  # what the engine calls the places it runs servers on: "worker", "node"

    def label(self) -> str: ...

    def workers(self) -> int: ...

    def start(self, spec: ServerSpec, events: EngineEvents) -> None: ...

    def stop(self) -> None: ...
