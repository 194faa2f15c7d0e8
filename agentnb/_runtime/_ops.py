"""Building the wire operations a driver sends (the facade never touches the stubs)."""

from __future__ import annotations

from .._proto import agentnb_pb2 as pb


def call_request(agent: str, caller: str, shape: str) -> pb.CallRequest:
    """A call without its inputs; ``shape`` is how reply receives them: "none", "one" or "list"."""
    return pb.CallRequest(agent=agent, caller=caller, no_input=shape == "none", as_list=shape == "list")


def create_op(spec: pb.AgentSpec, replace: bool) -> pb.Op:
    return pb.Op(create=pb.CreateAgentRequest(spec=spec, replace=replace))


def define_op(define: pb.DefineClassRequest) -> pb.Op:
    return pb.Op(define_class=define)


def delete_op(name: str) -> pb.Op:
    return pb.Op(delete=pb.DeleteAgentRequest(name=name))


def observe_op(agent: str, inputs: list[pb.Input]) -> pb.Op:
    return pb.Op(observe=pb.ObserveRequest(agent=agent, inputs=inputs))
