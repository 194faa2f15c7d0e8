"""``AgentBase``: every agent is an actor with ``reply(msg) -> msg``."""

from __future__ import annotations

from typing import Any

from ._config import Limits, Timeouts
from ._dist import DistributedAgent, distribute
from ._hub import heard
from ._message import Msg
from ._placeholder import Placeholder
from ._runtime._recipe import Recipe
from ._tls import TLS

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

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        to_dist = kwargs.pop("to_dist", None)
        if to_dist:
            options = {} if to_dist is True else dict(to_dist)
            name = kwargs.get("name", args[0] if args else None)
            if not isinstance(name, str) or not name:
                raise ValueError(f"an agent needs a non-empty str name, got {name!r}")
            return distribute(Recipe(cls, name, args, kwargs), **options)
        self = super().__new__(cls)
        self._init_args = (args, kwargs)
        return self

    def __init__(self, name: str, to_dist: Any = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"an agent needs a non-empty str name, got {name!r}")
        self.name = name
        self.memory: list[Msg] = []

    def reply(self, x: Input = None) -> Msg:
        """Consume a message (or a list, or None) and produce one."""
        raise NotImplementedError(f"{type(self).__name__} must implement reply(self, x)")

    def observe(self, x: Input) -> None:
        """Add messages to memory without replying."""
        x = _resolve(x)
        if x is None:
            return
        self.memory.extend(x if isinstance(x, list) else [x])

    def __call__(self, x: Any = None) -> Msg:
        """Run :meth:`reply`; placeholders in the input are resolved first."""
        reply = self.reply(_resolve(x))
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

        Returns:
            The distributed agent: calling it returns a placeholder message at once.
        """
        return distribute(
            Recipe.of(self),
            host=host, port=port, launch_server=launch_server, local_mode=local_mode,
            lazy_launch=lazy_launch, token=token, timeouts=timeouts, limits=limits, tls=tls, fresh=fresh,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'name', '?')!r}>"

    def _remember_argument(self, keyword: str, value: Any) -> None:
        """Replay ``keyword=value`` when this agent is built elsewhere by ``to_dist``."""
        kept = self.__dict__.get("_init_args")
        if kept is not None:
            kept[1][keyword] = value


def _resolve(x: Any) -> Any:
    """Replace placeholders by the messages they stand for (blocking)."""
    if isinstance(x, Placeholder):
        return x.result()
    if isinstance(x, (list, tuple)):
        return [_resolve(item) for item in x]
    return x
