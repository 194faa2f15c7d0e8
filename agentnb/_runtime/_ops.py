"""Building the wire operations a driver sends (the facade never touches the stubs)."""

from __future__ import annotations

from .._proto import agentnb_pb2 as pb

#: The method a driver calls to learn an agent's public instance attributes (names only).
ATTRIBUTES = "__agentnb_attributes__"


def call_request(agent: str, caller: str, shape: str) -> pb.CallRequest:
    """A call without its inputs; ``shape`` is how reply receives them: "none", "one" or "list"."""
    return pb.CallRequest(agent=agent, caller=caller, no_input=shape == "none", as_list=shape == "list")


def method_request(agent: str, caller: str, method: str, args_json: str) -> pb.CallRequest:
    """A call of one of the agent's public methods (in mailbox order, like reply)."""
    return pb.CallRequest(agent=agent, caller=caller, no_input=True, method=method, args_json=args_json)


def delete_op(name: str) -> pb.Op:
    return pb.Op(delete=pb.DeleteAgentRequest(name=name))
