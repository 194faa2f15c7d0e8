"""agentnb: distributed multi-agent programs, written and watched from a notebook.

Layers, and who may import whom (tests/test_public_api.py checks it):

* core: ``_message``, ``_errors``, ``_config``, ``_events``, ``_context``,
  ``_address``, ``_token``, ``_tls``: plain data and errors every layer uses;
  they import only each other (``_tls`` loads ``cryptography`` lazily).
* ``agentnb._runtime``: the driver's async core. One background event-loop
  thread owns every gRPC channel; a call's life is owned by ``_calls`` and
  ``_link``. ``_runtime._client`` is the one place where gRPC errors become
  agentnb errors. It imports core and the stubs, never the facade.
* the facade: ``_agent``, ``_dist``, ``_placeholder``, ``_status``, ``_html``;
  cells and scripts use these. They use the runtime, never gRPC or the stubs.
* ``agentnb.server``: code that runs in a server process (``python -m
  agentnb.server``) or a launcher's threads. It hosts agents (``_agent``),
  shares the codec and clients with the runtime, and never imports the
  notebook layer.
* ``agentnb.notebook``: the kernel integration, magics and the graph. Only
  this package root imports it: in a Jupyter kernel, importing agentnb turns
  it on (output in the calling cell, reentrant asyncio).
* ``agentnb._proto``: generated stubs, imported only by ``_runtime`` and ``server``.
* ``agentnb.chat`` and ``agentnb.workshop``: public subpackages on top of the
  facade (chat agents and models, record/replay; the workshop's agents, game
  and charts). No gRPC; the server imports them only as user agent classes.
"""

from __future__ import annotations

from typing import Any as _Any

from ._agent import AgentBase
from ._config import Limits, Timeouts
from ._dist import DistributedAgent
from ._errors import (
    AgentExistsError,
    AgentnbError,
    AgentNotFoundError,
    AuthenticationError,
    CallCancelledError,
    CallInterrupted,
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
from ._hub import MsgHub, msghub
from ._message import Msg
from ._placeholder import Placeholder
from ._runtime._session import get_session as _get_session
from ._status import SessionStatus, status
from ._tls import TLS, make_self_signed
from ._version import __version__
from .notebook import _kernel as _kernel
from .notebook._graph import graph
from .server import RpcAgentServerLauncher

_kernel.install(_get_session())


def shutdown() -> None:
    """Stop every server this session launched (launchers elsewhere are left alone)."""
    _get_session().shutdown()


def load_ipython_extension(ipython: _Any) -> None:
    """``%load_ext agentnb``: the ``%agentnb`` magics (status, stop, graph)."""
    from .notebook._magics import load_ipython_extension as load  # IPython loads lazily

    load(ipython)


__all__ = [
    "AgentBase",
    "AgentExistsError",
    "AgentNotFoundError",
    "AgentnbError",
    "AuthenticationError",
    "CallCancelledError",
    "CallInterrupted",
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
    "MsgHub",
    "Placeholder",
    "ProtocolError",
    "RemoteError",
    "ResultExpiredError",
    "RpcAgentServerLauncher",
    "ServerLaunchError",
    "ServerUnavailableError",
    "SessionStatus",
    "TLS",
    "Timeouts",
    "__version__",
    "graph",
    "make_self_signed",
    "msghub",
    "shutdown",
    "status",
]
