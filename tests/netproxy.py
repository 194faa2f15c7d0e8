"""A TCP proxy for tests: forwards to a server, and can cut every connection and refuse new ones."""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class TcpProxy:
    """Listens on 127.0.0.1 (a free port) and forwards to ``target``.

    ``cut()`` closes every open connection and refuses new ones (they are
    accepted and closed at once) until ``resume()``: what a dropped network
    looks like to both ends.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._accepting = threading.Event()
        self._accepting.set()
        self._closed = False
        self.cuts = 0
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._accepting.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                self._close(s)

    def _close(self, s: socket.socket) -> None:
        with self._lock:
            self._open.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def cut(self) -> None:
        """Drop every connection and refuse new ones until :meth:`resume`."""
        self._accepting.clear()
        self.cuts += 1
        with self._lock:
            sockets = list(self._open)
        for s in sockets:
            self._close(s)

    def resume(self) -> None:
        self._accepting.set()

    def close(self) -> None:
        self._listener.close()
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
