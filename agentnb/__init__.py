"""agentnb: distributed multi-agent programs, written and watched from a notebook.

Layers, bottom up, and who may import whom (tests/test_public_api.py checks
it, type-only imports included, against the lists below):

* ``agentnb._core``: plain data and errors every layer and process uses
  (messages, errors, config, events, addresses, tokens, TLS). Imports only itself.
* ``agentnb._proto``: generated stubs, imported only by ``_runtime`` and ``server``.
* ``agentnb._runtime``: the driver's async core. One background event-loop
  thread owns every gRPC channel; a call's life is owned by ``_calls``;
  ``_client`` is the one place where gRPC errors become agentnb errors.
  Imports core and the stubs.
* ``agentnb._facade``: what cells and scripts use (``AgentBase``, ``to_dist``,
  placeholders, status). On the runtime; never gRPC or the stubs.
* ``agentnb.server``: code that runs in a server process (``python -m
  agentnb.server``) or a launcher's threads. Imports core, the stubs, the
  runtime's codec and clients, and the facade's ``AgentBase`` (the base of
  the agents it hosts); never the rest of the facade or the notebook layer.
* ``agentnb.notebook``: the kernel integration, magics and the graph
  (``notebook/graph``). On the facade; switched on at first use inside a
  Jupyter kernel (output in the calling cell, reentrant asyncio).
* ``agentnb.engines``: agent servers hosted by Dask or Ray (``agentnb.servers``):
  the driver's pool and the code that runs on the engines' workers. On the
  facade and the runtime; imports Dask or Ray only when given one of theirs.
* ``agentnb.chat``: chat agents and models, record and replay; on the facade.
* ``agentnb.workshop``: the workshop's agents, game and charts; on the facade
  and the notebook layer.

Importing ``agentnb`` defines names and does nothing else: each public name is
loaded on first use (a server process loads only what its agents need).
"""

from __future__ import annotations

import importlib as _importlib
import sys as _sys
import typing as _typing

if _typing.TYPE_CHECKING:
    from ._core._config import Limits, Timeouts
    from ._core._errors import (
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
    from ._core._events import Event, InputRef
    from ._core._message import Msg
    from ._core._tls import TLS, make_self_signed
    from ._core._version import __version__
    from ._facade._agent import AgentBase
    from ._facade._dist import DistributedAgent
    from ._facade._hub import MsgHub, msghub
    from ._facade._mesh import Mesh
    from ._facade._mesh_make import mesh
    from ._facade._mesh_replies import MeshReplies
    from ._facade._placeholder import Placeholder
    from ._facade._runs import Run, run
    from ._facade._status import SessionStatus, shutdown, status
    from ._facade._user import UserAgent
    from .engines import ServerPool, servers
    from .notebook.graph._graph import graph
    from .server import RpcAgentServerLauncher

#: Where each public name lives; it is imported on first use.
_EXPORTS = {
    "AgentBase": "agentnb._facade._agent",
    "AgentExistsError": "agentnb._core._errors",
    "AgentNotFoundError": "agentnb._core._errors",
    "AgentnbError": "agentnb._core._errors",
    "AuthenticationError": "agentnb._core._errors",
    "CallCancelledError": "agentnb._core._errors",
    "CallInterrupted": "agentnb._core._errors",
    "CallTimeoutError": "agentnb._core._errors",
    "CodeNotAcceptedError": "agentnb._core._errors",
    "DistributedAgent": "agentnb._facade._dist",
    "Event": "agentnb._core._events",
    "GraphvizError": "agentnb._core._errors",
    "GraphvizMissingError": "agentnb._core._errors",
    "InputRef": "agentnb._core._events",
    "Limits": "agentnb._core._config",
    "Mesh": "agentnb._facade._mesh",
    "MeshReplies": "agentnb._facade._mesh_replies",
    "MessageError": "agentnb._core._errors",
    "MessageTooLargeError": "agentnb._core._errors",
    "Msg": "agentnb._core._message",
    "MsgHub": "agentnb._facade._hub",
    "Placeholder": "agentnb._facade._placeholder",
    "ProtocolError": "agentnb._core._errors",
    "RemoteError": "agentnb._core._errors",
    "ResultExpiredError": "agentnb._core._errors",
    "RpcAgentServerLauncher": "agentnb.server",
    "Run": "agentnb._facade._runs",
    "ServerLaunchError": "agentnb._core._errors",
    "ServerPool": "agentnb.engines",
    "ServerUnavailableError": "agentnb._core._errors",
    "SessionStatus": "agentnb._facade._status",
    "TLS": "agentnb._core._tls",
    "Timeouts": "agentnb._core._config",
    "UserAgent": "agentnb._facade._user",
    "__version__": "agentnb._core._version",
    "graph": "agentnb.notebook.graph._graph",
    "make_self_signed": "agentnb._core._tls",
    "mesh": "agentnb._facade._mesh_make",
    "msghub": "agentnb._facade._hub",
    "run": "agentnb._facade._runs",
    "servers": "agentnb.engines",
    "shutdown": "agentnb._facade._status",
    "status": "agentnb._facade._status",
}

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
    "Mesh",
    "MeshReplies",
    "MessageError",
    "MessageTooLargeError",
    "Msg",
    "MsgHub",
    "Placeholder",
    "ProtocolError",
    "RemoteError",
    "ResultExpiredError",
    "RpcAgentServerLauncher",
    "Run",
    "ServerLaunchError",
    "ServerPool",
    "ServerUnavailableError",
    "SessionStatus",
    "TLS",
    "Timeouts",
    "UserAgent",
    "__version__",
    "graph",
    "make_self_signed",
    "mesh",
    "msghub",
    "run",
    "servers",
    "shutdown",
    "status",
]


def __getattr__(name: str) -> _typing.Any:
    """A public name, imported on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agentnb' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    _switch_on_in_a_kernel()
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


def _switch_on_in_a_kernel() -> None:
    """Inside a Jupyter kernel, the first use of agentnb turns the notebook layer on."""
    if "ipykernel" in _sys.modules and "agentnb.notebook._kernel" not in _sys.modules:
        from .notebook import _kernel  # only in a kernel: scripts and servers never load it

        _kernel.switch_on()


def load_ipython_extension(ipython: _typing.Any) -> None:
    """``%load_ext agentnb``: the ``%agentnb`` magics (status, stop, graph)."""
    _switch_on_in_a_kernel()
    from .notebook._magics import load_ipython_extension as load  # IPython loads lazily

    load(ipython)
