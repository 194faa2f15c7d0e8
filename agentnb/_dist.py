"""``DistributedAgent``: an agent living in a server process, called from here.

This module keeps a distributed agent's options, its place in the session's
registry, and its start and stop. What happens to a call after it is made
belongs to the runtime (:mod:`agentnb._runtime._calls`, :mod:`._link`).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._address import host_port, is_loopback
from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from ._context import current_task
from ._errors import AgentExistsError, AgentnbError, CodeNotAcceptedError, MessageError, RemoteError
from ._html import agent_html
from ._message import Msg
from ._placeholder import Placeholder
from ._runtime._calls import Call
from ._runtime._codec import input_label, message_input
from ._runtime._link import Pending, ServerLink
from ._runtime._ops import call_request, create_op, define_op, delete_op, observe_op
from ._runtime._process import ServerProcess
from ._runtime._recipe import Recipe, code_needed
from ._runtime._session import Session, get_session
from ._tls import TLS, warn_cleartext
from ._token import TOKEN_ENV

if TYPE_CHECKING:
    from ._agent import AgentBase

log = logging.getLogger("agentnb")


@dataclass(frozen=True)
class DistOptions:
    """The arguments of ``to_dist``, checked once."""

    host: str
    port: int | None
    launch_server: bool
    local_mode: bool
    lazy_launch: bool
    token: str | None
    timeouts: Timeouts
    limits: Limits
    tls: TLS | None = None

    @classmethod
    def build(
        cls,
        host: str,
        port: int | None,
        launch_server: bool,
        local_mode: bool,
        lazy_launch: bool,
        token: str | None,
        timeouts: Timeouts | None,
        limits: Limits | None,
        tls: TLS | None = None,
    ) -> DistOptions:
        if port is not None and not (0 < int(port) < 65536):
            raise ValueError(f"port must be in 1..65535 (or None for a free port), got {port}")
        if not launch_server and port is None:
            raise ValueError(
                "to_dist(launch_server=False) attaches to a running server: pass its port "
                "(e.g. the launcher's port=12001)"
            )
        if launch_server and local_mode and not is_loopback(host):
            raise ValueError(
                f"host {host!r} is not a loopback address, but local_mode=True keeps the server "
                "on loopback; pass local_mode=False to listen on all interfaces"
            )
        if launch_server and tls is not None and not tls.serves:
            raise ValueError(
                "to_dist(launch_server=True, tls=...) starts a server that serves TLS: give it "
                "TLS(cert=..., key=...) (see agentnb.make_self_signed); TLS(ca=...) alone is for "
                "attaching with launch_server=False"
            )
        if tls is None and launch_server and not local_mode:
            warn_cleartext("listen", "0.0.0.0 (all interfaces)", stacklevel=3)
        elif tls is None and not launch_server and not is_loopback(host):
            warn_cleartext("connect", host_port(host, port or 0), stacklevel=3)
        return cls(
            host, port, launch_server, local_mode, lazy_launch, token,
            timeouts or DEFAULT_TIMEOUTS, limits or DEFAULT_LIMITS, tls,
        )  # fmt: skip


class DistributedAgent:
    """An agent in a server process. Calling it returns a :class:`Placeholder` at once.

    Calls to one agent are delivered in the order they were made, and its
    server runs them one at a time in that order (the actor guarantee).
    """

    def __init__(self, agent: AgentBase, options: DistOptions, session: Session) -> None:
        self.name = agent.name
        self.class_name = type(agent).__qualname__
        self._agent = agent
        self._recipe = Recipe(agent)
        self._options = options
        self._session = session
        self._start_lock = threading.Lock()
        self.address = ""
        self.server: ServerProcess | None = None
        self.link: ServerLink | None = None
        self._key: tuple[Any, ...] = ()
        #: Why calls to this agent cannot run (its creation failed), if they cannot.
        self.broken: AgentnbError | None = None

    @classmethod
    def create(cls, agent: AgentBase, options: DistOptions, fresh: bool = False) -> DistributedAgent:
        """The distributed version of ``agent``, reusing this session's live one if it can.

        Same class, name and address as a live agent of this session (a
        re-run notebook cell): that agent is returned, its state kept. If the
        class code or constructor arguments changed, the live agent is rebuilt
        in place (its state starts over) and a one-line notice says so.
        ``fresh=True`` stops the live one and starts anew.
        """
        session = get_session()
        kind = type(agent)
        key = (kind.__module__, kind.__qualname__, agent.name, options.host, options.port,
               options.launch_server, options.local_mode)  # fmt: skip
        with session.registry_lock:
            live = session.registry.get(key)
            if live is not None and (fresh or not live.alive()):
                session.registry.pop(key)
                if fresh:
                    live.stop()
                live = None
            if live is None:
                dist = session.registry[key] = cls(agent, options, session)
                dist._key = key
        if live is not None:
            live._adopt(agent)
            return live
        if not options.lazy_launch:
            try:
                dist._ensure_started()
            except BaseException:
                session.registry.pop(key, None)
                raise
        return dist

    def alive(self) -> bool:
        """False once the server this session launched for it has exited (never blocks)."""
        return self.server is None or not self.server.exited.is_set()

    def _adopt(self, agent: AgentBase) -> None:
        """A re-run ``to_dist``: keep the live agent, rebuilding it if its code or arguments changed."""
        recipe = Recipe(agent)
        old = self._recipe.fingerprint
        if recipe.fingerprint == old:
            log.info("reattached to the live agent %r on %s", self.name, self.address or "(lazy)")
            return
        code_changed = recipe.fingerprint.split(":")[0] != old.split(":")[0]
        self._agent, self._recipe, self.broken = agent, recipe, None
        self.class_name = type(agent).__qualname__
        if self.link is None:
            return  # lazy and not started: it will start with the new code
        self._create(replace=True)
        what = "the new code of its class" if code_changed else "new constructor arguments"
        notice(f"agentnb: rebuilt agent {self.name!r} on {self.address} with {what} (its state starts over)")

    def _shares(self, server: ServerProcess) -> bool:
        """Whether another live agent of this session uses ``server``."""
        with self._session.registry_lock:
            return any(d.server is server for d in self._session.registry.values() if d is not self)

    def stop(self) -> None:
        """Delete the agent from its server; stop the server if this session launched it for it alone."""
        session = self._session
        with session.registry_lock:
            if session.registry.get(self._key) is self:
                session.registry.pop(self._key)
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
            bind = "127.0.0.1" if opts.host == "localhost" else opts.host
            if not opts.local_mode:
                bind = "0.0.0.0"
            advertise = "127.0.0.1" if opts.host in ("localhost", "0.0.0.0") else opts.host
            server = session.launch(bind, opts.port, advertise, opts.limits, opts.timeouts, opts.tls)
            link = session.link(server.address, server.token, opts.limits, opts.timeouts, server, opts.tls)
        else:
            assert opts.port is not None
            server = None
            token = opts.token or os.environ.get(TOKEN_ENV) or None
            link = session.link(
                host_port(opts.host, opts.port), token, opts.limits, opts.timeouts, tls=opts.tls
            )
        self.address, self.server, self.link = link.address, server, link
        self._create(replace=False)
        session.follow(link)

    def _create(self, replace: bool) -> None:
        """Queue building the agent on its server (attaching if one of that name lives there)."""
        link = self.link
        assert link is not None
        if link.accepts_code is None:  # a server this session did not launch: ask once
            link.info()
        spec, define = self._recipe.spec(link.address, bool(link.accepts_code))
        if define is not None and define.class_key not in link.defined:
            link.defined.add(define.class_key)
            link.put(Pending(self.name, op=define_op(define)))
        origin, has_recipe = self._session.origin(), spec.WhichOneof("recipe") is not None

        def failed(error: BaseException) -> None:
            if isinstance(error, CodeNotAcceptedError) and not has_recipe:
                error = code_needed(self._agent, self.address)
            self._failed(error)

        def done(result: Any, server_id: str) -> None:
            self._created(result, server_id, origin)

        link.put(Pending(self.name, op=create_op(spec, replace), done=done, failed=failed))

    def _created(self, result: Any, server_id: str, origin: Any) -> None:
        created = result.created
        assert self.link is not None
        if created.created:
            build = Call(self.link, self.name, call_request(self.name, "driver", "none"), [], origin)
            build.acknowledged(result.task_id, server_id)
            build.future.add_done_callback(self._built)
            assert self.link is not None
            self.link.watch_call(build)
        elif self.server is not None and created.agent.fingerprint != self._recipe.fingerprint:
            self._failed(AgentExistsError(
                f"an agent named {self.name!r} ({created.agent.class_name}) already runs on the server "
                f"at {self.address}; give this agent another name"
            ))  # fmt: skip
        else:
            log.info("attached to the running agent %r on %s", self.name, self.address)

    def _built(self, future: Any) -> None:
        error = future.exception()
        if isinstance(error, RemoteError):  # the constructor raised (not: its outcome was lost)
            self._failed(error)

    def _failed(self, error: BaseException) -> None:
        self.broken = error if isinstance(error, AgentnbError) else RemoteError(
            self.name, self.address, type(error).__name__, str(error), ""
        )  # fmt: skip
        notice(f"agentnb: agent {self.name!r} could not be created on {self.address}: {error}")

    # -- calls -------------------------------------------------------------------------

    def __call__(self, x: Any = None) -> Placeholder:
        """Send ``x`` (a Msg, a placeholder, a list of them, or None); returns at once."""
        link = self._ensure_started()
        if self.broken is not None:
            raise self.broken
        shape, inputs = self._inputs(x)
        call = Call(
            link, self.name, call_request(self.name, _caller(), shape), inputs, self._session.origin()
        )
        link.put(Pending(self.name, call=call))
        placeholder = Placeholder(call)
        weakref.finalize(placeholder, call.drop)
        return placeholder

    def reply(self, x: Any = None) -> Placeholder:
        """The same as calling the agent (AgentScope's spelling)."""
        return self(x)

    def observe(self, x: Any) -> None:
        """Add messages to the remote agent's memory (in mailbox order); placeholders are read first."""
        link = self._ensure_started()
        items = x if isinstance(x, (list, tuple)) else [x]
        msgs = [
            item.result() if isinstance(item, Placeholder) else item for item in items if item is not None
        ]
        inputs = self._inputs(msgs)[1]
        link.put(Pending(self.name, op=observe_op(self.name, inputs), failed=_warn))

    def cancel(self) -> int:
        """Withdraw every call to this agent that has not started; returns how many."""
        return self._ensure_started().cancel_agent(self.name)

    def _inputs(self, x: Any) -> tuple[str, list[Any]]:
        """How ``reply`` receives ``x`` ("none", "one" or "list") and its inputs, encoded
        (messages) or as the calls that will produce them (placeholders)."""
        if x is None:
            return "none", []
        items = list(x) if isinstance(x, (list, tuple)) else [x]
        max_bytes = self._options.limits.max_message_bytes
        parts: list[Any] = []
        for i, item in enumerate(items):
            if isinstance(item, Placeholder):
                parts.append(item._call)
            elif isinstance(item, Msg):
                parts.append(message_input(item, i, len(items), self.name, max_bytes))
            else:
                where = input_label(i, len(items), self.name)
                raise MessageError(
                    f"{where} is a {type(item).__name__}; pass a Msg, a placeholder, a list of them, or None"
                )
        return ("list" if isinstance(x, (list, tuple)) else "one"), parts

    def _repr_html_(self) -> str:
        return agent_html(self)

    def __repr__(self) -> str:
        where = self.address or ("not started (lazy_launch)" if self._options.lazy_launch else "starting")
        return f"<DistributedAgent {self.name!r} ({self.class_name}) on {where}>"


def notice(text: str) -> None:
    """A one-line notice for the user (shown in the notebook cell that caused it)."""
    get_session().notice(text)


def _warn(error: AgentnbError) -> None:
    notice(f"agentnb: {error}")


def _caller() -> str:
    task = current_task()
    return task.agent if task is not None else "driver"
