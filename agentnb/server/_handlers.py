"""The server's gRPC method handlers, registered by hand from the service descriptor.

Two things the generated ``add_AgentServerServicer_to_server`` cannot do:

* a request that does not parse (garbage bytes, a string field that is not
  UTF-8) is answered INVALID_ARGUMENT, saying what was expected, instead of
  gRPC's INTERNAL "Exception deserializing request!", a status the protocol
  does not document;
* a servicer method may answer with bytes it framed itself (see
  :mod:`agentnb._runtime._wire`): big outcomes are serialized once, when the
  reply finishes, and sent to every reader without another copy.

The servicer's methods are used as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from .._proto import agentnb_pb2 as pb

SERVICE = "agentnb.v1.AgentServer"

Behaviour = Callable[[Any, Any], Any]

_KINDS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def _serialize(response: Any) -> bytes:
    return response if isinstance(response, bytes) else response.SerializeToString()


def _refusal(method: str, request_type: type, exc: Exception) -> str:
    return (
        f"the {method} request is not a valid agentnb.v1.{request_type.__name__} message ({exc}); "
        "send requests made by agentnb's own client or by stubs of protos/agentnb/v1/agentnb.proto"
    )


def _unary(behaviour: Behaviour, method: str, request_type: Any) -> Behaviour:
    def handle(raw: bytes, context: Any) -> Any:
        try:
            request = request_type.FromString(raw)
        except (DecodeError, ValueError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, _refusal(method, request_type, exc))
        return behaviour(request, context)

    return handle


def _streamed(behaviour: Behaviour, method: str, request_type: Any) -> Behaviour:
    def parsed(raws: Iterator[bytes], context: Any) -> Iterator[Any]:
        for raw in raws:
            try:
                request = request_type.FromString(raw)
            except (DecodeError, ValueError) as exc:
                # the request stream ends here; the servicer's response stream then ends
                # with this status (the code set is what the RPC finishes with)
                context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
                context.set_details(_refusal(method, request_type, exc))
                return
            yield request

    def handle(raws: Iterator[bytes], context: Any) -> Any:
        return behaviour(parsed(raws, context), context)

    return handle


def method_handlers(servicer: Any) -> dict[str, grpc.RpcMethodHandler]:
    """A handler per RPC of the service: raw bytes in, ``servicer``'s method, bytes or messages out."""
    handlers = {}
    for method in pb.DESCRIPTOR.services_by_name["AgentServer"].methods:
        request_type = getattr(pb, method.input_type.name)
        behaviour = getattr(servicer, method.name)
        wrap = _streamed if method.client_streaming else _unary
        make = _KINDS[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = make(
            wrap(behaviour, method.name, request_type),
            request_deserializer=None,
            response_serializer=_serialize,
        )
    return handlers


def add_servicer(servicer: Any, server: grpc.Server) -> None:
    """Register ``servicer`` on ``server`` (instead of the generated ``add_..._to_server``)."""
    handlers = method_handlers(servicer)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)
