"""Small config dataclasses whose defaults are written once (like httpx's Timeout)."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class Timeouts:
    """Deadlines, in seconds, for everything that waits.

    Attributes:
        launch: a server process must report ready within this.
        stop: each stage of stopping a server (RPC, SIGTERM, SIGKILL) waits this long.
        control: control RPCs (create, list, info, call acknowledgement).
        fetch_chunk: one long-poll for a result; a wait longer than this re-polls.
    """

    launch: float = 20.0
    stop: float = 3.0
    control: float = 15.0
    fetch_chunk: float = 30.0


@dataclass(frozen=True)
class Limits:
    """Size and retention limits of a server.

    Attributes:
        max_message_bytes: the largest encoded message a channel or server accepts.
        max_results: results kept by a server before the oldest finished ones go.
        result_ttl: seconds a finished result stays readable.
        workers: threads that run ``reply`` code on a server.
    """

    max_message_bytes: int = 16 * MiB
    max_results: int = 100_000
    result_ttl: float = 3600.0
    workers: int = 64


DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_LIMITS = Limits()
