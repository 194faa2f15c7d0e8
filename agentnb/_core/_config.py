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
        control: control RPCs (create, list, info, the acknowledgement of a batch of calls).
        fetch_chunk: one long-poll for a result; a wait longer than this re-polls.
        reconnect: how long a call waits for a server that cannot be reached
            (restarting, or the network is down) before it fails.
    """

    launch: float = 20.0
    stop: float = 3.0
    control: float = 15.0
    fetch_chunk: float = 30.0
    reconnect: float = 15.0


@dataclass(frozen=True)
class Limits:
    """Size, retention and concurrency limits of a server. Every store is bounded.

    Attributes:
        max_message_bytes: the largest encoded message a channel or server accepts.
        max_results: results (finished or not) a server keeps; the oldest finished go first.
        result_bytes: bytes of finished results a server keeps; past it the oldest go
            first, read or not (a reader is told the result expired).
        result_ttl: seconds a finished result stays readable.
        event_history: events a server keeps for drivers that follow (or resume) its feed.
        event_history_bytes: bytes of those events; the oldest go first.
        output_bytes_per_call: printed text carried with a call's outcome (the
            live feed shows all of it; beyond this the outcome says how much was cut).
        workers: most replies running at once on a server (more wait their turn);
            a reply that hangs holds one, never the others.
        waits_per_peer: concurrent ``FetchResult`` waits one client may hold.
        watches_per_stream: task ids one ``WatchResults`` stream may watch at once.
        ops_per_batch: operations in one ``Submit``.
        shm_threshold: requests and outcomes bigger than this many bytes, sent between
            processes of one host, go through shared memory instead of the gRPC stream
            (0: never); see ``agentnb/_runtime/_shm.py``.
        answer_wait: seconds a reply's ``input()`` (or a debugger prompt) waits for
            its answer; then it reads end of file (``input()`` raises EOFError).
        failures_kept: failed calls whose frames a server keeps for a post-mortem
            debugger (``%agentnb debug``), the latest ones.

    ``waits_per_peer`` also bounds the ``StreamResult`` streams one client holds
    open at once; a streaming reply's pieces count towards ``max_message_bytes``
    (all of a call's pieces together) and, once it is done, towards ``result_bytes``.
    """

    max_message_bytes: int = 16 * MiB
    max_results: int = 200_000
    result_bytes: int = 256 * MiB
    result_ttl: float = 3600.0
    event_history: int = 20_000
    event_history_bytes: int = 16 * MiB
    output_bytes_per_call: int = 1 * MiB
    workers: int = 1024
    waits_per_peer: int = 64
    watches_per_stream: int = 200_000
    ops_per_batch: int = 20_000
    shm_threshold: int = 1 * MiB
    answer_wait: float = 3600.0
    failures_kept: int = 8


DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_LIMITS = Limits()
