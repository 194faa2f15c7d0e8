"""``DistributedAgent``: an agent living in a server process, called from here.

This module keeps a distributed agent's options, its place in the session's
registry, and its start and stop. What happens to a call after it is made
belongs to the runtime (:mod:`agentnb._runtime._calls`, :mod:`._link`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from .._core import _connection as connection
from .._core._address import host_port, is_loopback
from .._core._context import current_task
from .._core._errors import (
    AgentExistsError,
    AgentnbError,
    CodeNotAcceptedError,
    MessageError,
    RemoteError,
    ServerUnavailableError,
)
from .._core._message import Msg
from .._core._token import TOKEN_ENV
from .._runtime._calls import Call
from .._runtime._codec import decode_result, encode_value, fill_msg, input_label, register_reference
from .._runtime._link import ServerLink
from .._runtime._ops import ATTRIBUTES, call_request, delete_op, method_request
from .._runtime._outbox import Pending
from .._runtime._process import ServerProcess
from .._runtime._recipe import Recipe, code_needed
from .._runtime._registry import AgentKey
from .._runtime._session import Session, get_session
from ._html import agent_html
from ._hub import heard
from ._options import DistOptions
from ._placeholder import Placeholder
from ._runs import note_call

log = logging.getLogger("agentnb")


def distribute(recipe: Recipe, options: DistOptions, fresh: bool = False) -> DistributedAgent:
    """The distributed agent for ``recipe`` (see :meth:`agentnb.AgentBase.to_dist`)."""
    return DistributedAgent.create(recipe, options, fresh)


class DistributedAgent:
    """An agent in a server process. Calling it returns a :class:`Placeholder` at once.

    Calls to one agent are delivered in the order they were made, and its
    server runs them one at a time in that order (the actor guarantee).
    """

    def __init__(self, recipe: Recipe, options: DistOptions, session: Session, key: AgentKey) -> None:
        self.name = recipe.name
        self.class_name = recipe.cls.__qualname__
        self._recipe = recipe
        self._options = options
        self._session = session
        self._start_lock = threading.Lock()
        self.address = ""
        self.server: ServerProcess | None = None
        self.link: ServerLink | None = None
        self._key = key  # its place in the session's registry
        #: Why calls to this agent cannot run (its creation failed), if they cannot.
        self.broken: AgentnbError | None = None
        self._replace = False  # fresh=True: rebuild an agent of that name found on its server
        self._origin: Any = None  # the cell that (re)built it: notices about that go there

    @classmethod
    def create(cls, recipe: Recipe, options: DistOptions, fresh: bool = False) -> DistributedAgent:
        """The distributed version of ``recipe``'s agent, reusing this session's live one if it can.

        Naming rules: within one run (a script, or one execution of a notebook
        cell) every ``to_dist`` makes its own agent (on its own server when no
        port is given; two of the same name on one server is an error). A
        re-run cell finds the live agents its previous run made, in the same
        order (same class, name and address): they are returned, state kept;
        if the class code or constructor arguments changed, the live agent is
        rebuilt in place and a one-line notice says so. ``fresh=True`` stops
        (or, on a launcher, rebuilds) the live one and starts anew.
        """
        session = get_session()
        kind = recipe.cls
        key = session.agent_key(AgentKey(
            kind.__module__, kind.__qualname__, recipe.name, options.host, options.port,
            options.launch_server, options.local_mode,
        ))  # fmt: skip
        dist, made, replaced = session.registry.claim(
            key, lambda live: not fresh and live.alive(), lambda: cls(recipe, options, session, key)
        )
        assert isinstance(dist, DistributedAgent)
        if not made:
            dist._adopt(recipe)
            return dist
        if replaced is not None and fresh:
            replaced.stop()
        dist._replace = fresh
        if not options.lazy_launch:
            try:
                dist._ensure_started()
            except BaseException:
                session.registry.remove(key, dist)
                raise
        return dist

    def alive(self) -> bool:
        """False once the server this session launched for it has exited (never blocks)."""
        return self.server is None or not self.server.exited.is_set()

    def _adopt(self, recipe: Recipe) -> None:
        """A re-run ``to_dist``: keep the live agent, rebuilding it if its code or arguments changed."""
        old = self._recipe.fingerprint
        if recipe.fingerprint == old:
            log.info("reattached to the live agent %r on %s", self.name, self.address or "(lazy)")
            return
        code_changed = recipe.fingerprint.split(":")[0] != old.split(":")[0]
        self._recipe, self.broken = recipe, None
        self.class_name = recipe.cls.__qualname__
        if self.link is None:
            return  # lazy and not started: it will start with the new code
        self._create(replace=True)
        what = "the new code of its class" if code_changed else "new constructor arguments"
        notice(f"agentnb: rebuilt agent {self.name!r} on {self.address} with {what} (its state starts over)")

    def _shares(self, server: ServerProcess) -> bool:
        """Whether another live agent of this session uses ``server``."""
        return any(d.server is server for d in self._session.registry.agents() if d is not self)

    def stop(self) -> None:
        """Delete the agent from its server; stop the server if this session launched it for it alone."""
        session = self._session
        session.registry.remove(self._key, self)
        if self.link is None:
            return
        if self.server is not None and not self._shares(self.server):
            session.stop_server(self.server)
        elif self.alive():
            self.link.put(Pending(self.name, op=delete_op(self.name)))

    # -- start ---------------------------------------------------------------------

    def _ensure_started(self) -> ServerLink:
        link = self.link
        if link is None:
            with self._start_lock:
                if self.link is None:
                    self._start()
                link = self.link
        assert link is not None
        return link

    def _start(self) -> None:
        opts, session = self._options, self._session
        if opts.launch_server:
            bind, advertise = opts.server_address()
            server = session.launch(bind, opts.port, advertise, opts.limits, opts.timeouts, opts.tls)
            link = session.link(server.address, server.token, opts.limits, opts.timeouts, server, opts.tls)
        else:
            assert opts.port is not None
            server = None
            found = connection.find(opts.host, opts.port)  # a launcher of this user on this machine
            # its Unix socket, for a launcher reached on loopback (another address may be another
            # host that shares this file system, as network namespaces do)
            unix = str(found.get("unix") or "") if found is not None and is_loopback(opts.host) else ""
            link = session.link(
                host_port(opts.host, opts.port), self._token(found), opts.limits, opts.timeouts, tls=opts.tls,
                unix=unix,
            )  # fmt: skip
        self.address, self.server, self.link = link.address, server, link
        self._create(replace=self._replace)
        session.follow(link)

    def _token(self, found: dict[str, Any] | None) -> str | None:
        """The token of a server this session did not launch: ``token=``, else the connection
        file of a launcher of this user on this machine (``found``), else ``AGENTNB_TOKEN``."""
        opts = self._options
        if opts.token:
            return opts.token
        if found is not None and found.get("token"):
            return str(found["token"])
        return os.environ.get(TOKEN_ENV) or None

    def _create(self, replace: bool) -> None:
        """Queue building the agent on its server (attaching if one of that name lives there)."""
        link = self.link
        assert link is not None
        if link.accepts_code is None:  # a server this session did not launch: ask once
            link.info()
        exclusive = self.server is not None  # on our own server, the name must be new (or replaced)
        op, key = self._recipe.create_op(link.address, bool(link.accepts_code), replace, exclusive)
        if key is not None and key not in link.defined:
            link.defined.add(key)
            link.put(Pending(self.name, op=self._recipe.define_op(link.address), failed=_define_failed(link)))
        origin, has_recipe = self._session.origin(), op.create.spec.WhichOneof("recipe") is not None
        self._origin = origin  # where what is said about its creation goes

        def failed(error: AgentnbError) -> AgentnbError:
            if isinstance(error, CodeNotAcceptedError) and not has_recipe:
                error = code_needed(self._recipe, self.address)
            elif isinstance(error, AgentExistsError):  # exclusive: on a server of this session
                error = AgentExistsError(
                    f"an agent named {self.name!r} already runs on the server at {self.address}, made "
                    "earlier by this session; give each agent its own name"
                )
            return self._failed(error)

        def done(result: Any, server_id: str) -> None:
            self._created(result, origin)

        link.put(Pending(self.name, op=op, done=done, failed=failed))

    def _created(self, result: Any, origin: Any) -> None:
        created = result.created
        assert self.link is not None
        if created.created:  # its constructor runs first in its mailbox: hear how that went
            self._session.remember_origin(result.task_id, origin)  # where its prints go
            self.link.watch_outcome(result.task_id, self.name, self._built)
        elif self.server is not None:  # a server of this session: another agent of ours has the name
            self._failed(AgentExistsError(
                f"an agent named {self.name!r} ({created.agent.class_name}) already runs on the server "
                f"at {self.address}, made earlier by this session; give each agent its own name"
            ))  # fmt: skip
        else:
            self._attached(created.agent)

    def _attached(self, info: Any) -> None:
        """Say what attaching to an agent that was there already means, when it matters."""
        where = f"agent {self.name!r} on {self.address}"
        if self._recipe.attach_only:
            return
        if info.fingerprint and info.fingerprint != self._recipe.fingerprint:
            notice(
                f"agentnb: {where} was built with other constructor arguments or class code than this "
                "to_dist's; it is used as it is (to_dist(..., fresh=True) rebuilds it with yours)",
                self._origin,
            )
        elif info.calls:
            notice(
                f"agentnb: attached to the running {where}, which has answered {info.calls} call(s) "
                "already: its state carries over (to_dist(..., fresh=True) starts it over)",
                self._origin,
            )

    def _built(self, outcome: Any) -> None:
        if outcome.WhichOneof("result") == "failure":
            error = decode_result(outcome, f"the constructor of agent {self.name!r}")
            if isinstance(error, RemoteError):
                self._failed(error)

    def _failed(self, error: BaseException) -> AgentnbError:
        if self.link is not None and self.link.closing:  # the session stopped first: say that, once
            error = ServerUnavailableError(
                f"agent {self.name!r} was not created on {self.address}: the session was shut down "
                "(agentnb.shutdown()) before its server had built it; run its to_dist() again"
            )
            self.broken = error
            notice(f"agentnb: {error}", self._origin)
            return error
        self.broken = error if isinstance(error, AgentnbError) else RemoteError(
            self.name, self.address, type(error).__name__, str(error), ""
        )  # fmt: skip
        notice(f"agentnb: agent {self.name!r} could not be created on {self.address}: {error}", self._origin)
        return self.broken

    # -- calls -------------------------------------------------------------------------

    def __call__(self, x: Any = None) -> Placeholder:
        """Send ``x`` (a Msg, a placeholder, a list of them, or None); returns at once."""
        link = self._ensure_started()
        if self.broken is not None:
            raise self.broken
        call = self._call(link, x, self._session.origin())
        link.put(Pending(self.name, call=call))
        placeholder = Placeholder(call)  # which releases the result when it goes
        heard(self, placeholder)
        return placeholder

    def reply(self, x: Any = None) -> Placeholder:
        """The same as calling the agent (AgentScope's spelling)."""
        return self(x)

    def observe(self, x: Any) -> None:
        """Add messages to the remote agent's memory, in mailbox order; returns at once.

        Placeholders are added once their replies exist (the server reads them
        from the servers that produce them, as for a call).
        """
        link = self._ensure_started()
        items = [item for item in (x if isinstance(x, (list, tuple)) else [x]) if item is not None]
        if not items:
            return
        call = self._call(link, items, None)
        call.when_resolved(lambda: _warn_if_failed(call))
        link.put(Pending(self.name, call=call, observe=True))

    def cancel(self) -> int:
        """Withdraw every call to this agent that has not started; returns how many."""
        return self._ensure_started().cancel_agent(self.name)

    # -- the agent's own methods and attributes, run there --------------------------------

    def __getattr__(self, name: str) -> Any:
        """Public methods and attributes of the agent's class run on its server (blocking).

        ``d.memory`` reads the remote agent's memory; ``d.summarize(3)`` calls its
        method there, in mailbox order with its calls, and returns the value.
        Private names raise AttributeError at once, without I/O (IPython probes
        ``_repr_html_`` and friends); a public name the class does not have is
        looked up once among the attributes the agent's constructor set.
        """
        recipe: Recipe | None = self.__dict__.get("_recipe")
        if recipe is None or name.startswith("_"):
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        if not _public_attribute(recipe.cls, name) and name not in self._instance_attributes():
            raise AttributeError(
                f"{type(self).__name__} {self.name!r} has no attribute {name!r} "
                f"(neither has its agent, of class {recipe.cls.__qualname__})"
            )
        if callable(getattr(recipe.cls, name, None)):
            return RemoteMethod(self, name)
        return self._run_method(name, (), {})

    def _instance_attributes(self) -> frozenset[str]:
        """The public attributes the remote agent's constructor set (asked once)."""
        names = self.__dict__.get("_names")
        if names is None:
            names = self.__dict__["_names"] = frozenset(self._run_method(ATTRIBUTES, (), {}))
        return names

    def _run_method(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        link = self._ensure_started()
        if self.broken is not None:
            raise self.broken
        arguments = encode_value(
            {"args": list(args), "kwargs": kwargs}, f"the arguments of {self.name}.{name}()"
        )
        request = method_request(self.name, _caller(), name, arguments)
        call = Call(link, self.name, request, [], self._session.origin())
        note_call(call)
        link.put(Pending(self.name, call=call))
        try:
            return call.result()
        finally:
            call.drop()

    def _call(self, link: ServerLink, x: Any, origin: Any) -> Call:
        """A call taking ``x``: its messages encoded in place now (bad ones raise here), the
        placeholders among them as slots filled when it is sent."""
        shape = "none" if x is None else "list" if isinstance(x, (list, tuple)) else "one"
        request = call_request(self.name, _caller(), shape)
        items = [] if x is None else list(x) if isinstance(x, (list, tuple)) else [x]
        max_bytes = self._options.limits.max_message_bytes
        producers, size = [], 0
        for i, item in enumerate(items):
            slot = request.inputs.add()
            if isinstance(item, Placeholder):
                producers.append((i, item.call))
            elif isinstance(item, Msg):
                size += fill_msg(slot.message, item, max_bytes, input_label(i, len(items), self.name))
            else:
                where = input_label(i, len(items), self.name)
                raise MessageError(
                    f"{where} is a {type(item).__name__}; pass a Msg, a placeholder, a list of them, or None"
                )
        call = Call(link, self.name, request, producers, origin, size)
        note_call(call)  # a call made inside ``with agentnb.run(...)`` is that run's
        return call

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (as a constructor argument shipped to a server), it travels as a reference."""
        return (from_reference, (_reference(self), self._recipe.cls))

    def _repr_html_(self) -> str:
        state = "not started" if not self.address else "running" if self.alive() else "server exited"
        pid = self.server.pid if self.server is not None else None
        return agent_html(self.name, self.class_name, self.address, pid, state)

    def __repr__(self) -> str:
        where = self.address or ("not started (lazy_launch)" if self._options.lazy_launch else "starting")
        return f"<DistributedAgent {self.name!r} ({self.class_name}) on {where}>"


class RemoteMethod:
    """A public method of a distributed agent: calling it runs it on the agent's server."""

    def __init__(self, agent: DistributedAgent, name: str) -> None:
        self.agent, self.name = agent, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.agent._run_method(self.name, args, kwargs)

    def __repr__(self) -> str:
        return f"<remote method {self.name} of {self.agent!r}>"


#: What an agent has on its instances without its class saying so.
INSTANCE_ATTRIBUTES = frozenset({"memory"})


def _public_attribute(cls: type, name: str) -> bool:
    return name in INSTANCE_ATTRIBUTES or any(
        name in vars(klass) for klass in cls.__mro__ if klass is not object
    )


class UnknownAgent:
    """The class of a referenced agent whose class is not imported here (it still replies)."""


def _reference(agent: DistributedAgent) -> dict[str, Any]:
    """How a distributed agent travels: where it lives and how to call it (a reference)."""
    link = agent._ensure_started()
    cls = agent._recipe.cls
    return {"address": link.address, "name": agent.name, "token": link.token or "",
            "class": f"{cls.__module__}:{cls.__qualname__}"}  # fmt: skip


def from_reference(info: dict[str, Any], cls: type | None = None) -> DistributedAgent:
    """The agent a reference names, attached lazily (no I/O until it is used)."""
    host, _, port = str(info["address"]).rpartition(":")
    if cls is None:
        module, _, qualname = str(info.get("class", "")).partition(":")
        found: Any = sys.modules.get(module)  # never import a module a message names
        for part in qualname.split(".") if found is not None else ():
            found = getattr(found, part, None)
        cls = found if isinstance(found, type) else UnknownAgent
    name = str(info["name"])
    recipe = Recipe(cls, name, (), {"name": name}, attach_only=True)
    options = DistOptions.build(host.strip("[]"), int(port), launch_server=False, lazy_launch=True,
                                token=info.get("token") or None)  # fmt: skip
    return distribute(recipe, options)


def notice(text: str, origin: Any = None) -> None:
    """A one-line notice for the user, shown in the notebook cell ``origin`` names (the one
    that caused it; None: the current one)."""
    get_session().notice(text, origin)


def _define_failed(link: ServerLink) -> Callable[[AgentnbError], None]:
    """What a failed class definition says: nothing when the session closed the link (the
    agent's own creation says it then), else a warning (the agent's creation fails too)."""

    def failed(error: AgentnbError) -> None:
        if not link.closing:
            log.warning("agentnb: %s", error)

    return failed


def _warn_if_failed(call: Call) -> None:
    error = call.error
    if error is not None:
        notice(f"agentnb: an observation failed: {error}")


def _caller() -> str:
    task = current_task()
    return task.agent if task is not None else "driver"


register_reference(DistributedAgent, _reference)
