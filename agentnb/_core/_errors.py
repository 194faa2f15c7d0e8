"""agentnb's exceptions: one root, a small tree.

Every error agentnb raises derives from :class:`AgentnbError`, and where a
builtin means the same thing the error subclasses it too, so ``except
TimeoutError`` and ``except ConnectionError`` keep working::

    AgentnbError
    ├── ServerLaunchError (RuntimeError)      a server process did not start
    ├── ServerUnavailableError (ConnectionError)  a server cannot be reached
    ├── AuthenticationError (PermissionError) wrong or missing token
    ├── CodeNotAcceptedError (PermissionError)  code shipped to a server that refuses it
    ├── AgentNotFoundError (LookupError)      no agent of that name on that server
    ├── AgentExistsError (ValueError)         an agent of that name already exists
    ├── ResultExpiredError (LookupError)      the result store dropped a result
    ├── MessageError (ValueError)             a message that cannot travel
    │   └── MessageTooLargeError              ... because it is over the size limit
    ├── CallTimeoutError (TimeoutError)       a result was not ready in time
    ├── CallCancelledError                    a call was withdrawn before it ran
    ├── ProtocolError (RuntimeError)          any other transport failure
    ├── GraphvizError (RuntimeError)          graphviz could not lay the graph out
    │   └── GraphvizMissingError              ... because it is not installed
    └── RemoteError                           a remote ``reply`` raised

Not an error: :class:`CallInterrupted` (a ``KeyboardInterrupt``) is what
stopping a wait raises; the call it waited for goes on.

Exceptions cross process boundaries, so each passes all its constructor
arguments positionally to ``super().__init__`` and pickles round-trip.
"""

from __future__ import annotations


class AgentnbError(Exception):
    """The root of every error agentnb raises."""


class ServerLaunchError(AgentnbError, RuntimeError):
    """A server process did not start; the message holds its exit code and log tail."""


class ServerUnavailableError(AgentnbError, ConnectionError):
    """A server cannot be reached (not started, crashed, or the network is down)."""


class AuthenticationError(AgentnbError, PermissionError):
    """A server refused the token (wrong or missing)."""


class CodeNotAcceptedError(AgentnbError, PermissionError):
    """A class had to be shipped as code to a server that does not accept code."""


class AgentNotFoundError(AgentnbError, LookupError):
    """No agent of that name lives on that server."""


class AgentExistsError(AgentnbError, ValueError):
    """An agent of that name already lives on that server."""


class ResultExpiredError(AgentnbError, LookupError):
    """A result was evicted from the server's bounded store (or never existed)."""


class MessageError(AgentnbError, ValueError):
    """A message cannot travel: its content is not JSON-compatible data or bytes."""


class MessageTooLargeError(MessageError):
    """A message is larger than the size limit of the channel or server."""


class CallTimeoutError(AgentnbError, TimeoutError):
    """A result was not ready before the caller's timeout."""


class CallInterrupted(KeyboardInterrupt):
    """The user stopped waiting for a reply (Ctrl-C, the notebook's stop button); the call goes on.

    A KeyboardInterrupt, so it stops what it interrupted; it says where the call
    is and how to withdraw it, in one short message.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def _render_traceback_(self) -> list[str]:
        """IPython hook: the message alone, not a traceback through agentnb's internals."""
        return [f"KeyboardInterrupt: {self}"]


class CallCancelledError(AgentnbError):
    """A call was withdrawn (``placeholder.cancel()``, ``agent.cancel()``) before it started,
    or a streaming reply (or one waiting for an answer) was stopped.

    A call withdrawn before it ran has nothing remote to show: a cell shows the message alone.
    """

    def _render_traceback_(self) -> list[str]:
        """IPython hook: the message alone (the call never ran: no remote traceback)."""
        return [f"CallCancelledError: {self}"]


class ProtocolError(AgentnbError, RuntimeError):
    """Any other failure of the transport."""


class GraphvizError(AgentnbError, RuntimeError):
    """Graphviz could not lay the graph out (missing, failed or too slow)."""


class GraphvizMissingError(GraphvizError):
    """The graphviz program is not on PATH."""


class RemoteError(AgentnbError):
    """A distributed agent's ``reply`` raised.

    Attributes:
        agent: the agent's name.
        address: ``host:port`` of its server.
        exc_type: the remote exception's type name.
        remote_message: ``str()`` of the remote exception.
        remote_traceback: the remote traceback, formatted.
        task_id: the task that raised ("" if unknown): ``%agentnb debug`` asks
            its server for a post-mortem debugger on its frames.
    """

    def __init__(
        self,
        agent: str,
        address: str,
        exc_type: str,
        remote_message: str,
        remote_traceback: str = "",
        task_id: str = "",
    ) -> None:
        super().__init__(agent, address, exc_type, remote_message, remote_traceback, task_id)
        self.task_id = task_id
        self.agent = agent
        self.address = address
        self.exc_type = exc_type
        self.remote_message = remote_message
        self.remote_traceback = remote_traceback
        if remote_traceback and hasattr(self, "add_note"):  # a script's traceback shows it too
            self.add_note(f"Remote traceback ({agent} on {address}):\n{remote_traceback.rstrip()}")

    def __str__(self) -> str:
        return f"agent {self.agent!r} on {self.address} raised {self.exc_type}: {self.remote_message}"

    def _render_traceback_(self) -> list[str]:
        """IPython hook: show the remote traceback in the cell."""
        lines = [f"RemoteError: {self}"]
        if self.remote_traceback.strip():  # none for failures that did not come from running code
            lines += ["", f"Remote traceback ({self.agent} on {self.address}):"]
            lines.extend(self.remote_traceback.rstrip().splitlines())
        return lines
