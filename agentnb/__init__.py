"""agentnb: distributed multi-agent programs, written and watched from a notebook.

Layers, and who may import whom (a module may import from the layers below it):

* the public facade: the small top-level modules (``_message``, ``_agent``,
  ``_dist``, ``_placeholder``, ``_errors``, ``_config``); cells and scripts use
  these. They never touch gRPC objects directly.
* ``agentnb._runtime``: the driver's async core. One background event-loop
  thread owns every gRPC channel; the facade submits coroutines to it.
  ``_runtime._client`` is the one place where gRPC errors become agentnb errors.
* ``agentnb.server``: code that runs in a server process (``python -m
  agentnb.server``) or in a launcher's thread. It shares the codec and client
  (for server-to-server fetches) with the runtime, and never imports the
  notebook layer.
* ``agentnb._proto``: generated stubs, imported only by ``_runtime`` and ``server``.
"""

from __future__ import annotations

from typing import Any as _Any

__version__ = "0.1.0"

from ._agent import AgentBase
from ._config import Limits, Timeouts
from ._dist import DistributedAgent
from ._errors import (
    AgentExistsError,
    AgentnbError,
    AgentNotFoundError,
    AuthenticationError,
    CallTimeoutError,
    CodeNotAcceptedError,
    GraphvizError,
    GraphvizMissingError,
    MessageError,
    MessageTooLargeError,
    ProtocolError,
    RemoteError,
    ResultExpiredError,
    ServerLaunchError,
    ServerUnavailableError,
)
from ._events import Event, InputRef
from ._message import Msg
from ._placeholder import Placeholder
from ._runtime._session import get_session as _get_session
from ._status import SessionStatus, status
from .server import RpcAgentServerLauncher


def shutdown() -> None:
    """Stop every server this session launched (launchers elsewhere are left alone)."""
    _get_session().shutdown()


def load_ipython_extension(ipython: _Any) -> None:
    """``%load_ext agentnb``: the ``%agentnb`` magics (status, stop, graph)."""
    from .notebook._magics import load_ipython_extension as load

    load(ipython)


def graph(**options: _Any) -> _Any:
    """The live dataflow graph of this session's calls, as a notebook widget.

    Needs the ``notebook`` extra (ipywidgets; graphviz's ``dot`` for the
    drawing). See :func:`agentnb.notebook._graph.graph` for the options.
    """
    from .notebook._graph import graph as _graph

    return _graph(**options)


__all__ = [
    "AgentBase",
    "AgentExistsError",
    "AgentNotFoundError",
    "AgentnbError",
    "AuthenticationError",
    "CallTimeoutError",
    "CodeNotAcceptedError",
    "DistributedAgent",
    "Event",
    "GraphvizError",
    "GraphvizMissingError",
    "InputRef",
    "Limits",
    "MessageError",
    "MessageTooLargeError",
    "Msg",
    "Placeholder",
    "ProtocolError",
    "RemoteError",
    "ResultExpiredError",
    "RpcAgentServerLauncher",
    "ServerLaunchError",
    "ServerUnavailableError",
    "SessionStatus",
    "Timeouts",
    "__version__",
    "graph",
    "shutdown",
    "status",
]
