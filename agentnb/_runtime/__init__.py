"""The driver's runtime: one background asyncio thread that owns every gRPC channel.

Cells and scripts use the sync facade (``agentnb._facade._dist``, ``agentnb._facade._placeholder``),
which submits coroutines here with ``run_coroutine_threadsafe``. Only this
package (and ``agentnb.server``) imports the generated stubs in ``agentnb._proto``.
"""

import os as _os

# gRPC's own (C-core) log lines, such as a failed TLS handshake, must never reach a
# notebook cell or a script's stderr; agentnb says in its own words what went wrong.
# Set here, before any module of this package (or the server) imports grpc: the
# core reads it once. A user's own setting wins.
_os.environ.setdefault("GRPC_VERBOSITY", "NONE")
_os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")
