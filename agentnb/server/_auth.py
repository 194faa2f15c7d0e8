"""Token check on every RPC.

``FetchResult`` is the one exception: reading a result needs the task id, a
128-bit random value only the call's maker and those it handed the
placeholder to know. That lets a server read a forwarded placeholder from the
producing server without holding that server's token.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from .._runtime._client import AUTH_KEY

log = logging.getLogger("agentnb.server")

CAPABILITY_METHODS = frozenset({"/agentnb.v1.AgentServer/FetchResult"})


class TokenInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str, address: Callable[[], str]) -> None:
        if not token:
            raise ValueError("an agent server needs a non-empty token")
        self._expected = f"Bearer {token}".encode()
        self._address = address

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        if details.method in CAPABILITY_METHODS:
            return await continuation(details)
        got = ""
        for key, value in details.invocation_metadata or ():
            if key == AUTH_KEY:
                got = value if isinstance(value, str) else value.decode()
        if hmac.compare_digest(got.encode(), self._expected):
            return await continuation(details)
        log.warning("refused %s: %s token", details.method, "wrong" if got else "missing")
        return self._refusal(details.method, "wrong" if got else "missing")

    def _refusal(self, method: str, what: str) -> grpc.RpcMethodHandler:
        message = f"{what} token for the agentnb server at {self._address()}"

        async def refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

        if method.endswith("/StreamEvents"):
            return grpc.unary_stream_rpc_method_handler(refuse)
        return grpc.unary_unary_rpc_method_handler(refuse)
