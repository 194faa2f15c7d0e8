"""``AgentBase``: every agent is an actor with ``reply(msg) -> msg``."""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING, Any

from .._core._config import Limits, Timeouts
from .._core._message import Msg
from .._core._pieces import drain, is_stream
from .._core._tls import TLS
from .._core._token import new_token
from .._runtime._codec import set_reference_decoder
from .._runtime._process import start_early
from .._runtime._recipe import Recipe
from ._hub import heard
from ._options import DistOptions

if TYPE_CHECKING:
    from ._dist import DistributedAgent
    from ._mesh import Mesh

#: What ``reply`` receives: one message, a list of them (fan-in), or None.
Input = Msg | list[Msg] | None


class AgentBase:
    """Base class of agents. Subclasses implement :meth:`reply`.

    The constructor's arguments are recorded, so :meth:`to_dist` can rebuild
    the agent in another process.

    ``Agent(..., to_dist=True)`` (or ``to_dist={"host": ..., "port": ...}``, the
    options of :meth:`to_dist`) returns the distributed agent directly, and the
    constructor runs only on the server (AgentScope's idiom): the returned object
    is a :class:`DistributedAgent`, not an instance of the class.

    Args:
        name: the agent's name; unique per server.
        to_dist: see above; handled before the constructor runs.

    Example:
        >>> class Echo(AgentBase):
        ...     def reply(self, x=None):
        ...         return Msg(self.name, x.content)
        >>> Echo("E")(Msg("user", "hi")).content
        'hi'
    """

    _init_args: tuple[tuple[Any, ...], dict[str, Any]] | None  # None: built by a server

    #: True: a call starts as soon as its turn comes, without waiting for its placeholder
    #: inputs; each arrives as a message whose ``.stream()`` yields the producer's pieces
    #: as they come and whose fields wait for the final message (see ``reply``).
    stream_inputs: bool = False

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        to_dist = kwargs.pop("to_dist", None)
        if to_dist:
            options = {} if to_dist is True else dict(to_dist)
            name = kwargs.get("name", args[0] if args else None)
            if not isinstance(name, str) or not name:
                raise ValueError(f"an agent needs a non-empty str name, got {name!r}")
            return _distribute(Recipe(cls, name, args, kwargs), *_bind(name, options))
        self = super().__new__(cls)
        self._init_args = (args, kwargs)
        return self

    def __init__(self, name: str, to_dist: Any = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"an agent needs a non-empty str name, got {name!r}")
        self.name = name
        self.memory: list[Msg] = []

    def reply(self, x: Input = None) -> Msg:
        """Consume a message (or a list, or None) and produce one.

        A reply may stream: written as a generator, it yields pieces (``str`` or
        ``Msg``) as it makes them and returns its final ``Msg`` (or returns
        nothing: its text pieces, joined, become the final message's content).
        The caller reads them with ``p.stream()`` / ``async for chunk in p``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement reply(self, x)")

    def observe(self, x: Input) -> None:
        """Add messages to memory without replying."""
        x = _resolve(x)
        if x is None:
            return
        self.memory.extend(x if isinstance(x, list) else [x])

    def __call__(self, x: Any = None) -> Msg:
        """Run :meth:`reply`; placeholders in the input are resolved first (unless the agent
        reads streams), and a streaming reply is run to its final message."""
        reply = self.reply(x if self.stream_inputs else _resolve(x))
        if is_stream(reply):
            reply = drain(reply, self.name)
        heard(self, reply)
        return reply

    def to_dist(
        self,
        host: str = "localhost",
        port: int | None = None,
        launch_server: bool = True,
        local_mode: bool = True,
        lazy_launch: bool = False,
        *,
        token: str | None = None,
        timeouts: Timeouts | None = None,
        limits: Limits | None = None,
        tls: TLS | None = None,
        fresh: bool = False,
        placement: Any = None,
    ) -> DistributedAgent:
        """Move this agent into a gRPC server process and return its distributed version.

        Args:
            host: the server's host name or address.
            port: the server's port; None lets the OS pick a free one. An explicit
                port that is taken is an error.
            launch_server: start a server process on this machine (True), or use
                one already running at ``host:port`` (False).
            local_mode: the launched server listens on loopback only (True) or on
                all interfaces (False).
            lazy_launch: start the server at the first call instead of now.
            token: the token of a server this driver did not launch (default:
                the ``AGENTNB_TOKEN`` environment variable).
            timeouts: deadlines; see :class:`agentnb.Timeouts`.
            limits: size limits of a launched server; see :class:`agentnb.Limits`.
            tls: TLS for the connection: ``agentnb.TLS(ca=...)`` to attach to a
                server that serves TLS (``ca``: the certificate it was started
                with, if self-signed); ``TLS(cert=..., key=...)`` for a launched
                server to serve. Without it, attaching to another host or
                ``local_mode=False`` warns: the token would travel in clear.
            fresh: this session keeps one live agent per class, name and address:
                calling ``to_dist`` again (a re-run cell) returns it, state kept,
                rebuilt if its code or arguments changed. ``fresh=True`` stops
                it and starts a new one.
            placement: a pool of servers an engine runs (``pool =
                agentnb.servers(client)``; the pool spreads its agents), or one of
                its placements: ``pool.spread()``, ``pool.by_name()``,
                ``pool.on(host)``, ``pool.near(agent)``. The pool picks the server
                and brings its token and TLS, so host, port, launch_server, token
                and tls stay unset. Inside ``with pool:`` a ``to_dist()`` that
                names no server uses the pool.

        Returns:
            The distributed agent: calling it returns a placeholder message at once.
        """
        kept = getattr(self, "_init_args", None)
        if kept is None:
            raise TypeError(
                f"{self!r} was built by an agent server, which keeps no copy of its constructor "
                f"arguments, so it cannot be moved again; construct a new one instead: "
                f"{type(self).__name__}(...).to_dist(...)"
            )
        options = DistOptions.build(
            host, port, launch_server, local_mode, lazy_launch, token, timeouts, limits, tls, placement
        )
        return _distribute(Recipe(type(self), self.name, *kept), options, fresh)

    @classmethod
    def mesh(cls, n: int, **options: Any) -> Mesh:
        """``n`` agents of this class over a set of servers, made in one operation per server:
        ``Player.mesh(1000, names="P{i}", kwargs={"seed": 0}, placement=4)``. See
        :func:`agentnb.mesh` for the options."""
        from ._mesh_make import mesh  # the session and its links load on first use

        return mesh(cls, n, **options)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'name', '?')!r}>"

    def _remember_argument(self, keyword: str, value: Any) -> None:
        """Replay ``keyword=value`` when this agent is built elsewhere by ``to_dist``."""
        kept = self.__dict__.get("_init_args")
        if kept is not None:
            kept[1][keyword] = value


_DIST = "agentnb._facade._dist"

#: ``to_dist``'s signature: ``Agent(..., to_dist={...})`` binds its options to it.
_TO_DIST = inspect.signature(AgentBase.to_dist)


def _bind(name: str, given: dict[str, Any]) -> tuple[DistOptions, bool]:
    """The options of ``Agent(..., to_dist={...})``, checked against ``to_dist``'s own signature."""
    try:
        bound = _TO_DIST.bind(None, **given)
    except TypeError:
        known = ", ".join(list(_TO_DIST.parameters)[1:])
        unknown = ", ".join(sorted(set(given) - set(_TO_DIST.parameters))) or repr(given)
        raise TypeError(
            f"unknown to_dist option(s) {unknown} for agent {name!r}; agentnb's are: {known}"
        ) from None
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    del arguments["self"]
    fresh = arguments.pop("fresh")
    return DistOptions.build(**arguments), fresh


def _distribute(recipe: Recipe, options: DistOptions, fresh: bool) -> DistributedAgent:
    """Hand the agent to the session (see :func:`agentnb._facade._dist.distribute`)."""
    if _DIST not in sys.modules and options.launch_server and not options.port and not options.lazy_launch:
        # the first to_dist() of this process: its server starts while the session loads
        bind, advertise = options.server_address()
        start_early((bind, advertise, options.limits, options.tls), new_token(), options.timeouts)
    # The session and its links load here, on first use: a server loads them only
    # when one of its agents distributes another.
    from ._dist import distribute

    return distribute(recipe, options, fresh)


def _resolve(x: Any) -> Any:
    """Replace placeholders by the messages they stand for (blocking)."""
    if isinstance(x, Msg):
        return x._resolved()
    if isinstance(x, (list, tuple)):
        return [_resolve(item) for item in x]
    return x


def _from_reference(info: dict[str, Any]) -> Any:
    """The distributed agent (or mesh) a reference in a message names (attached lazily)."""
    if "mesh" in info:
        from ._mesh import from_reference as mesh_from_reference  # the session, loaded on use

        return mesh_from_reference(info)
    from ._dist import from_reference  # the session, loaded where an agent uses another

    return from_reference(info)


# Every process that hosts or makes agents loads this module, so a reference to a
# distributed agent arriving in a message always decodes to one (the session and
# its links load only then: a server whose agents never use another never loads them).
set_reference_decoder(_from_reference)
