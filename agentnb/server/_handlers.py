"""The server's gRPC method handlers, registered by hand from the service descriptor.

Two things the generated ``add_AgentServerServicer_to_server`` cannot do:

* a request that does not parse (garbage bytes, a string that is not UTF-8)
  is answered INVALID_ARGUMENT, saying what was expected, instead of gRPC's
  INTERNAL "Exception deserializing request";
* a servicer method may answer with bytes it framed itself (see
  :mod:`agentnb._runtime._wire`): big outcomes are serialized once, when the
  reply finishes, and sent to every reader without another copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from .._proto import agentnb_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["AgentServer"]


def _serialize(response: Any) -> bytes:
    return response if isinstance(response, bytes) else response.SerializeToString()


def _parse(cls: Any, raw: bytes, context: grpc.ServicerContext) -> Any:
    try:
        return cls.FromString(raw)
    except (DecodeError, ValueError) as exc:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"the request is not a valid agentnb.v1.{cls.__name__} ({exc}); is the client an agentnb client?",
        )


def _unary(behaviour: Callable[..., Any], cls: Any) -> Callable[[bytes, grpc.ServicerContext], Any]:
    def handle(raw: bytes, context: grpc.ServicerContext) -> Any:
        return behaviour(_parse(cls, raw, context), context)

    return handle


def _streaming(
    behaviour: Callable[..., Any], cls: Any
) -> Callable[[Iterator[bytes], grpc.ServicerContext], Any]:
    def requests(raws: Iterator[bytes]) -> Iterator[Any]:
        for raw in raws:
            try:
                yield cls.FromString(raw)
            except (DecodeError, ValueError):
                return  # a malformed message ends what the client sends

    def handle(raws: Iterator[bytes], context: grpc.ServicerContext) -> Any:
        return behaviour(requests(raws), context)

    return handle


def service_handler(servicer: Any) -> grpc.GenericRpcHandler:
    """Every RPC of ``agentnb.v1.AgentServer``, served by ``servicer``'s methods of the same names."""
    handlers = {}
    for method in SERVICE.methods:
        cls = getattr(pb, method.input_type.name)
        behaviour = getattr(servicer, method.name)
        if method.client_streaming:
            handlers[method.name] = grpc.stream_stream_rpc_method_handler(
                _streaming(behaviour, cls), response_serializer=_serialize
            )
        elif method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _unary(behaviour, cls), response_serializer=_serialize
            )
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _unary(behaviour, cls), response_serializer=_serialize
            )
    return grpc.method_handlers_generic_handler(SERVICE.full_name, handlers)
