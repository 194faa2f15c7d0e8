"""A call's inputs: messages decoded at once, placeholders resolved as they become ready.

A placeholder produced on this server waits on the local result store; one
produced elsewhere is watched on the producing server (one stream per
server, shared by every call waiting on it; the task id is the capability,
so no token is needed; a server with TLS reads over TLS, trusting its CA).
Nothing holds a thread while it waits. Placeholders name their server, so a
client could name any number of them: a server reads from at most
``MAX_SERVERS`` others at once, forgetting idle ones first, and waits for at
most ``Limits.watches_per_stream`` results from any one of them.

Every wait follows the producing server's health (``_runtime._watch``): a
call whose input's server falls into trouble stops holding its agent's
mailbox, and fails, naming the agent and the server, once that server has
been unreachable for ``Timeouts.reconnect`` seconds; a server that restarted
or never made the task fails it at once. A server that failed its waiters
is forgotten (its channel closed), so unreachable addresses hold nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .._core._config import Limits, Timeouts
from .._core._errors import AgentnbError, MessageError, RemoteError
from .._core._message import Msg
from .._core._tls import TLS
from .._proto import agentnb_pb2 as pb
from .._runtime._client import ClientPool, ServerClient, status_error
from .._runtime._codec import Returned, decode_msg, decode_result, input_label
from .._runtime._items import fetch_items, item_values
from .._runtime._loop import LoopThread
from .._runtime._watch import ResultWatch
from ._mailbox import READY, Inputs
from ._store import ResultStore, StoreError

#: Other servers one server reads placeholders from at once (a channel each).
MAX_SERVERS = 1024


class Resolver:
    def __init__(
        self,
        store: ResultStore,
        address: str,
        server_id: str,
        limits: Limits,
        timeouts: Timeouts,
        tls: TLS | None = None,
    ) -> None:
        self._store = store
        self._address = address
        self._server_id = server_id
        self._limits = limits
        self._timeouts = timeouts
        self._tls = tls
        self._loop = LoopThread("agentnb-resolver")
        self._clients = ClientPool()
        self._watches: dict[str, ResultWatch] = {}

    def inputs(self, items: Any, agent: str) -> Inputs:
        """Decode a call's inputs and start resolving its placeholders (raises MessageError)."""
        count = len(items)
        if not count:
            return READY
        values: list[Msg | None] = [None] * count
        refs = []
        for i, item in enumerate(items):
            if item.WhichOneof("kind") == "ref":
                if item.ref.batch_op:
                    raise MessageError(
                        f"{input_label(i, count, agent)} names an operation of a batch (batch_op); "
                        "that is only meaningful inside a Submit"
                    )
                refs.append((i, item.ref))
            else:
                values[i] = decode_msg(item.message, input_label(i, count, agent))
        inputs = Inputs(values, len(refs))
        for i, ref in refs:
            local = self._is_local(ref)
            if ref.items:  # every reply of a mesh call, as a list
                if local:
                    self._local_items(inputs, i, ref)
                else:
                    self._loop.loop.call_soon_threadsafe(self._remote_items, inputs, i, ref)
            elif local and ref.call_key and not ref.task_id:
                self._local_key(inputs, i, ref)
            elif local:
                self._local(inputs, i, ref)
            else:
                self._loop.loop.call_soon_threadsafe(self._remote, inputs, i, ref)
        return inputs

    # -- for agents that read their inputs' streams (see ._streamed_inputs) ----------------

    def watch_ref(self, ref: pb.TaskRef, sink: Inputs) -> None:
        """Resolve one placeholder into ``sink`` (its input 0), as a call's inputs are."""
        if self._is_local(ref) and ref.call_key and not ref.task_id:
            self._local_key(sink, 0, ref)
        elif self._is_local(ref):
            self._local(sink, 0, ref)
        else:
            self._loop.loop.call_soon_threadsafe(self._remote, sink, 0, ref)

    @property
    def address(self) -> str:
        """This server's address."""
        return self._address

    @property
    def loop(self) -> LoopThread:
        return self._loop

    @property
    def reconnect(self) -> float:
        return self._timeouts.reconnect

    def client(self, address: str) -> ServerClient:
        """The client of another server (or this one), for reading pieces (on the loop)."""
        return self._clients.get(address, None, self._limits, self._timeouts, self._tls)

    def _is_local(self, ref: pb.TaskRef) -> bool:
        if ref.server_id:
            return ref.server_id == self._server_id
        return ref.address in ("", self._address)

    def _local(self, inputs: Inputs, i: int, ref: pb.TaskRef) -> None:
        try:
            self._store.on_done(ref.task_id, lambda entry: inputs.resolve(i, _value(entry.outcome, ref)))
        except StoreError as exc:
            inputs.resolve(i, _unreadable(ref, self._address, "ResultExpiredError", exc.message))

    def _local_key(self, inputs: Inputs, i: int, ref: pb.TaskRef) -> None:
        """A placeholder named by its call's key, made here: the call may not be here yet
        (it came by another link): wait for it at most ``Timeouts.reconnect`` seconds."""

        def found(entry: Any) -> None:
            try:
                self._store.on_done(entry.task_id, lambda done: inputs.resolve(i, _value(done.outcome, ref)))
            except StoreError as exc:
                inputs.resolve(i, _unreadable(ref, self._address, "ResultExpiredError", exc.message))

        try:
            remove = self._store.on_key(ref.call_key, found)
        except StoreError as exc:
            inputs.resolve(i, _unreadable(ref, self._address, "ResultExpiredError", exc.message))
            return
        wait = self._timeouts.reconnect

        def expire() -> None:
            if remove():  # it never came
                inputs.resolve(i, _unreadable(ref, self._address, "ResultExpiredError", (
                    f"no call with key {ref.call_key} arrived at this server within {wait:.0f} s"
                )))  # fmt: skip

        loop = self._loop.loop
        loop.call_soon_threadsafe(lambda: loop.call_later(wait, expire))

    def _local_items(self, inputs: Inputs, i: int, ref: pb.TaskRef) -> None:
        def done(entry: Any) -> None:
            if not entry.mesh or entry.local:
                inputs.resolve(i, _unreadable(ref, self._address, "MessageError", "it is not a mesh call's"))
            else:
                inputs.resolve(i, item_values(entry.items, ref.agent, self._address))

        try:
            self._store.on_done(ref.task_id, done)
        except StoreError as exc:
            inputs.resolve(i, _unreadable(ref, self._address, "ResultExpiredError", exc.message))

    def _remote_items(self, inputs: Inputs, i: int, ref: pb.TaskRef) -> None:
        """Read every reply of a mesh call on another server (on the loop)."""
        if ref.address not in self._watches and len(self._watches) >= MAX_SERVERS:
            self._forget_idle()
        if ref.address not in self._watches and len(self._watches) >= MAX_SERVERS:
            inputs.resolve(i, _unreadable(ref, ref.address, "ResourceExhausted", (
                f"this server already reads placeholders from {MAX_SERVERS} other servers; "
                "call again once some of those calls are done"
            )))  # fmt: skip
            return
        client = self._clients.get(ref.address, None, self._limits, self._timeouts, self._tls)
        if ref.address not in self._watches:  # counted among the servers read from
            self._watches[ref.address] = ResultWatch(client)

        async def read() -> None:
            try:
                wires = await fetch_items(client, ref.task_id, f"reading the replies of mesh {ref.agent!r}")
            except AgentnbError as exc:
                inputs.resolve(i, _unreadable(ref, ref.address, type(exc).__name__, str(exc)))
                return
            loop = asyncio.get_running_loop()  # decoding thousands of replies: off the loop
            inputs.resolve(i, await loop.run_in_executor(None, item_values, wires, ref.agent, ref.address))

        asyncio.ensure_future(read())

    def _remote(self, inputs: Inputs, i: int, ref: pb.TaskRef) -> None:
        address = ref.address
        watch = self._watches.get(address)
        if watch is None:
            if len(self._watches) >= MAX_SERVERS:
                self._forget_idle()
            if len(self._watches) >= MAX_SERVERS:
                inputs.resolve(i, _unreadable(ref, address, "ResourceExhausted", (
                    f"this server already reads placeholders from {MAX_SERVERS} other servers; "
                    "call again once some of those calls are done"
                )))  # fmt: skip
                return
            client = self._clients.get(address, None, self._limits, self._timeouts, self._tls)
            watch = self._watches[address] = ResultWatch(client)
        elif len(watch) >= self._limits.watches_per_stream:
            inputs.resolve(i, _unreadable(ref, address, "ResourceExhausted", (
                f"this server already waits for {len(watch):,} results from {address}; "
                "call again once some of those calls are done"
            )))  # fmt: skip
            return

        def deliver(result: pb.TaskResult, server_id: str) -> None:
            if result.HasField("status"):
                error = status_error(result.status, address, f"reading the reply of agent {ref.agent!r}")
                if ref.server_id and server_id and ref.server_id != server_id:
                    error = type(error)(f"{error} (the server restarted since the call was made)")
                inputs.resolve(i, _unreadable(ref, address, type(error).__name__, str(error)))
            else:
                inputs.resolve(i, _value(result.outcome, ref))

        def fail(error: AgentnbError) -> None:
            inputs.resolve(i, _unreadable(ref, address, type(error).__name__, str(error)))
            self._loop.loop.call_soon(self._forget, address, watch)

        watch.watch(ref.task_id, deliver, fail, inputs.doubt, "" if ref.task_id else ref.call_key)

    def _forget(self, address: str, watch: ResultWatch) -> None:
        """A server that failed what waited on it: close its channel unless waited on again."""
        if self._watches.get(address) is watch and not len(watch):
            del self._watches[address]
            client = self._clients.pop(address, None, self._tls)
            if client is not None:
                asyncio.ensure_future(client.close())

    def _forget_idle(self) -> None:
        """Close the channels to servers nothing waits on any more (on the loop)."""
        for address, watch in list(self._watches.items()):
            self._forget(address, watch)

    def close(self) -> None:
        async def close() -> None:
            for watch in self._watches.values():
                watch.fail_all(AgentnbError("the server is stopping"))
            await self._clients.close()

        if self._loop.started:
            try:
                self._loop.run(close(), 2.0)
            except Exception:  # noqa: BLE001 - best effort while stopping
                pass
            self._loop.stop()


def _value(outcome: pb.Outcome | None, ref: pb.TaskRef) -> Msg | RemoteError:
    assert outcome is not None
    try:
        result = decode_result(outcome, f"the reply of agent {ref.agent!r}")
    except AgentnbError as exc:
        return RemoteError(ref.agent, ref.address, type(exc).__name__, str(exc), "")
    if isinstance(result, Returned):
        return Msg(ref.agent, result.value)
    return result


def _unreadable(ref: pb.TaskRef, address: str, exc_type: str, message: str) -> RemoteError:
    return RemoteError(
        ref.agent,
        ref.address or address,
        exc_type,
        f"could not read the reply of agent {ref.agent!r}: {message}",
        "",
    )
