"""Token check on every RPC but the capability reads, and refusals logged without flooding.

``FetchResult``, ``WatchResults``, ``FetchItems`` and ``StreamResult`` are the exceptions: reading a result
needs its task id, 128 random bits issued by this server that only the
call's maker and those it handed the placeholder to know. That lets a
server read a forwarded placeholder from the producing server without
holding that server's token.

A wrong or missing token gets UNAUTHENTICATED and the server keeps serving.
Refusals are logged once per peer, then at most once a minute with a count,
so a client that keeps trying cannot fill the log.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import grpc

from .._runtime._client import AUTH_KEY

log = logging.getLogger("agentnb.server")

CAPABILITY_METHODS = frozenset({
    "/agentnb.v1.AgentServer/FetchResult",
    "/agentnb.v1.AgentServer/WatchResults",
    "/agentnb.v1.AgentServer/FetchItems",
    "/agentnb.v1.AgentServer/StreamResult",
})  # fmt: skip
LOG_EVERY_S = 60.0
_PEERS = 1000  # peers remembered for throttling


class RefusalLog:
    """Logs refused peers: the first refusal, then a summary at most every ``every`` seconds."""

    def __init__(self, every: float = LOG_EVERY_S) -> None:
        self._every = every
        self._lock = threading.Lock()
        self._peers: OrderedDict[str, list[float]] = OrderedDict()  # peer -> [last logged, count since]

    def refused(self, peer: str, method: str, what: str) -> None:
        now = time.monotonic()
        message: tuple[object, ...]
        with self._lock:
            seen = self._peers.get(peer)
            if seen is None:
                self._peers[peer] = [now, 0]
                while len(self._peers) > _PEERS:
                    self._peers.popitem(last=False)
                message = ("refused %s from %s: %s token", method, peer, what)
            else:
                seen[1] += 1
                if now - seen[0] < self._every:
                    return
                message = ("refused %d more calls from %s in the last %.0f s (%s token)", seen[1], peer,
                           now - seen[0], what)  # fmt: skip
                seen[0], seen[1] = now, 0
        log.warning(*message)


class TokenInterceptor(grpc.ServerInterceptor):
    """Checks the token; ``on_token`` is told of every RPC that carried it (a sign of life of the
    driver: a leased server counts it as a renewal)."""

    def __init__(
        self, token: str, address: Callable[[], str], on_token: Callable[[], None] | None = None
    ) -> None:
        if not token:
            raise ValueError("an agent server needs a non-empty token")
        self._expected = f"Bearer {token}".encode()
        self._address = address
        self._on_token = on_token
        self.refusals = RefusalLog()

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        if details.method in CAPABILITY_METHODS:
            return continuation(details)
        got = ""
        for key, value in details.invocation_metadata or ():
            if key == AUTH_KEY:
                got = value if isinstance(value, str) else value.decode(errors="replace")
        if hmac.compare_digest(got.encode(), self._expected):
            if self._on_token is not None:
                self._on_token()
            return continuation(details)
        return self._refusal(details.method, "wrong" if got else "missing")

    def _refusal(self, method: str, what: str) -> grpc.RpcMethodHandler:
        message = f"{what} token for the agentnb server at {self._address()}"

        def refuse(request: Any, context: grpc.ServicerContext) -> None:
            self.refusals.refused(context.peer(), method, what)
            context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

        if method.endswith("/StreamEvents"):
            return grpc.unary_stream_rpc_method_handler(refuse)
        return grpc.unary_unary_rpc_method_handler(refuse)
