"""Mesh calls in the driver: one call per server, one cheap reply per agent.

A call of a mesh is one :class:`~._calls.Call` per server (its request says
``mesh``), sent, ordered and acknowledged as any call. Each agent's reply is
an *item* of it on its server, under the call's task id with the agent's
index in the last 8 hex digits (see ``server/_mesh_store.py``), so:

* nothing is made per agent until someone asks for one agent's reply: then
  an :class:`ItemCall` (a Call that is never sent) is acknowledged when its
  mesh call is, and watched like any call;
* reading every reply streams them from each server (``FetchItems``) and
  decodes them in the reader's thread (:func:`gather_items`);
* an in-process mesh call (made by code running inside the server that
  hosts the mesh) has no link: its items settle straight from the server's
  store through a :class:`LocalLink`.

An item keeps its mesh call's result on the server while it, or a call that
takes it as input, may still need it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from .._core._config import Timeouts
from .._core._errors import AgentnbError, CallTimeoutError, RemoteError
from .._core._message import Msg
from .._proto import agentnb_pb2 as pb
from ._calls import Call
from ._codec import Returned, decode_result, encode_value, fill_msg
from ._items import fetch_items
from ._local import LocalMeshCall
from ._output import WhenDone

#: The request of a call that is never sent (an item is read through its mesh call).
UNSENT = pb.CallRequest()
#: Waits with no deadline still end (in chunks of this many seconds they would re-poll).
FOREVER = 365 * 24 * 3600.0
#: An in-process reply is never sent: no byte budget applies to it.
FOREVER_BYTES = 1 << 62


def item_id(task_id: str, k: int) -> str:
    """The task id of the ``k``-th reply (from 0) of the mesh call ``task_id`` on its server."""
    return f"{task_id[:24]}{k + 1:08x}"


def mesh_request(mesh: str, caller: str, shape: str, each: bool) -> pb.CallRequest:
    """A mesh call without its inputs (``each``: one input per agent, in the mesh's order)."""
    return pb.CallRequest(
        agent=mesh, caller=caller, mesh=True, each=each, no_input=shape == "none", as_list=shape == "list"
    )


class ItemCall(Call):
    """The reply of one agent of a mesh call: acknowledged with its mesh call, watched alone.

    Its mesh call's result stays on the server while the item, or a call that
    takes it as input, is alive (they count as the mesh call's consumers).
    """

    __slots__ = ("parent",)

    def __init__(self, parent: Call, k: int, agent: str) -> None:
        super().__init__(parent.link, agent, UNSENT, [], parent.origin)
        self.parent = parent
        parent.add_consumer()  # this item
        parent.when_acked(lambda: self._parent_acked(k))

    def _parent_acked(self, k: int) -> None:
        parent = self.parent
        if not parent.acked:
            self.fail(parent.error or AgentnbError(f"the call of agent {self.agent!r} was not sent"))
            return
        self.acknowledged(item_id(parent.task_id, k), parent.server_id)
        self.link.watch(self)

    def add_consumer(self) -> None:
        super().add_consumer()
        self.parent.add_consumer()

    def consumer_done(self) -> None:
        super().consumer_done()
        self.parent.consumer_done()

    def drop(self) -> None:
        if not self.released:
            super().drop()
            self.parent.consumer_done()


def gather_items(call: Call, timeout: float | None) -> list[bytes]:
    """Every reply of a mesh call on one server (serialized outcomes), waiting at most
    ``timeout`` seconds (CallTimeoutError) for the call to be sent and its replies."""
    wait = FOREVER if timeout is None else timeout
    if not call.acked_or_wait(wait):
        if call.error is not None:
            raise call.error
        raise CallTimeoutError(f"mesh {call.agent!r} on {call.link.address}: the call was not sent within "
                               f"{timeout} s; it goes on")  # fmt: skip
    link: Any = call.link
    what = f"reading the replies of mesh {call.agent!r}"
    try:
        return link.loop.run(fetch_items(link.client, call.task_id, what), wait)
    except TimeoutError:
        raise CallTimeoutError(
            f"mesh {call.agent!r} on {link.address}: not every reply came within {timeout} s; the call "
            "goes on (gather again to keep waiting)"
        ) from None
    except AgentnbError as exc:
        raise link.explain(exc) from None


class LocalLink:
    """The link of replies produced in this process (an in-process mesh call's items): they
    settle from the server's store, so there is nothing to send, fetch or release."""

    def __init__(self, address: str, timeouts: Timeouts) -> None:
        self.address = address
        self.timeouts = timeouts

    def steal(self, call: Call) -> bool:
        return False

    def cancel(self, call: Call) -> bool:
        return False

    def send_now(self, call: Call, wait: float) -> pb.CallResponse:
        raise AssertionError("a reply made in this process is never sent")

    def fetch_now(self, call: Call, timeout: float | None) -> pb.Outcome:
        raise AssertionError("a reply made in this process is never withheld")

    def fetch_soon(self, call: Call) -> None:
        pass

    def flush_soon(self) -> None:
        pass

    def watch(self, call: Call) -> None:
        pass

    def release(self, task_id: str, big: bool = False) -> None:
        pass

    def explain(self, error: AgentnbError, agent: str = "") -> AgentnbError:
        return error

    def show_output(self, task_id: str, agent: str, outcome: pb.Outcome) -> None:
        pass  # (its server's event feed carried it)

    def remember_origin(self, task_id: str, origin: Any) -> None:
        pass

    def remember_key(self, key: str, task_id: str) -> None:
        pass

    def output_after(self, task_id: str, producers: Sequence[WhenDone]) -> None:
        pass  # (its calls' prints are the server's own)

    def feed_state(self, task_id: str) -> str | None:
        return None

    def later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        timer = threading.Timer(delay, fn, args)
        timer.daemon = True
        timer.start()


def local_item(local: LocalMeshCall, link: LocalLink, k: int, agent: str) -> Call:
    """The reply of the ``k``-th agent of an in-process mesh call, as a call that settles itself."""
    call = Call(link, agent, UNSENT, [], None)
    call.acknowledged(item_id(local.task_id, k), local.server_id)

    def arrived(value: Any) -> None:
        if isinstance(value, RemoteError):
            call.fail(value)
            return
        outcome = pb.Outcome()
        if isinstance(value, Msg):
            fill_msg(outcome.reply, value, FOREVER_BYTES, f"the reply of agent {agent!r}")
        else:
            outcome.value_json = encode_value(value, f"the value of agent {agent!r}")
        call.take(outcome)

    local.when_item(k, arrived)
    return call


def as_message(value: Any, mesh: str) -> Msg:
    """An in-process mesh call's reply as a message (its failure raised; a method's value
    travels as a message from the mesh)."""
    if isinstance(value, RemoteError):
        raise value
    return value if isinstance(value, Msg) else Msg(mesh, value)


def decode_items(
    wires: list[bytes],
    task_id: str,
    name_of: Callable[[int], str],
    show: Callable[[str, str, pb.Outcome], None] | None,
    keep_errors: bool,
) -> list[Any]:
    """The replies of one server's share of a mesh call, in order: a Msg each (a method's
    value for a method call); what they printed is shown first (``show``). A failed agent's
    RemoteError is raised, or (``keep_errors``) put in its place."""
    out: list[Any] = []
    for k, wire in enumerate(wires):
        outcome = pb.Outcome.FromString(wire)
        if show is not None and (outcome.output or outcome.output_cut):
            show(item_id(task_id, k), name_of(k), outcome)
        result: Any
        try:
            result = decode_result(outcome, f"the reply of agent {name_of(k)!r}")
        except AgentnbError as exc:
            result = exc
        if isinstance(result, AgentnbError):
            if not keep_errors:
                raise result
            out.append(result)
        else:
            out.append(result.value if isinstance(result, Returned) else result)
    return out


def message_of(wire: bytes, mesh: str) -> Msg:
    """One reply of a mesh call as a message (its failure raised)."""
    result = decode_result(pb.Outcome.FromString(wire), f"a reply of mesh {mesh!r}")
    if isinstance(result, RemoteError):
        raise result
    return Msg(mesh, result.value) if isinstance(result, Returned) else result
