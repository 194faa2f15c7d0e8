"""The RPCs of streaming and of the console: ``StreamResult``, ``AnswerInput``, ``PostMortem``.

A mixin of the servicer (:mod:`._servicer`), kept apart: these run in gRPC's
handler threads too, on the host's result store, console and failures.
``StreamResult`` is a capability read (the task id is enough); the other two
need the server's token, like every other RPC (the interceptor checks it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

import grpc

from .._proto import agentnb_pb2 as pb
from .._runtime._client import REASON_KEY
from ._store import StoreError, check_task_id
from ._stream import Refused, StreamSlots, stream_result


def _abort(context: Any, code: grpc.StatusCode, message: str, reason: str = "") -> NoReturn:
    context.set_trailing_metadata(((REASON_KEY, reason),) if reason else ())
    context.abort(code, message)
    raise AssertionError("unreachable")  # abort raises


def _abort_for(context: Any, exc: Exception) -> NoReturn:
    if isinstance(exc, Refused):
        _abort(context, exc.code, exc.message, exc.reason)
    if isinstance(exc, StoreError):
        code = {"bad_id": grpc.StatusCode.INVALID_ARGUMENT, "full": grpc.StatusCode.RESOURCE_EXHAUSTED}
        _abort(context, code.get(exc.reason, grpc.StatusCode.NOT_FOUND), exc.message, exc.reason)
    raise exc


class InteractiveRpcs:
    """Servicer methods for streaming replies, prompts and post-mortem debugging."""

    _host: Any
    _facts: Any
    _key_wait: float

    def __init__(self, limits: Any) -> None:
        self._stream_slots = StreamSlots(limits.waits_per_peer)

    def StreamResult(self, request: pb.StreamResultRequest, context: Any) -> Iterator[bytes]:
        responses = stream_result(
            self._host.store, self._stream_slots, self._facts.server_id, request, context, self._key_wait
        )
        try:
            yield from responses
        except (Refused, StoreError) as exc:
            _abort_for(context, exc)

    def AnswerInput(self, request: pb.AnswerInputRequest, context: Any) -> pb.AnswerInputResponse:
        try:
            check_task_id(request.task_id)
            self._host.console.answer(request.task_id, request.prompt, request.text, request.eof)
        except (Refused, StoreError) as exc:
            _abort_for(context, exc)
        return pb.AnswerInputResponse()

    def PostMortem(self, request: pb.PostMortemRequest, context: Any) -> pb.PostMortemResponse:
        try:
            check_task_id(request.task_id)
            self._host.failures.post_mortem(request.task_id, context)
        except (Refused, StoreError) as exc:
            _abort_for(context, exc)
        return pb.PostMortemResponse()
