"""``python -m agentnb.server``: run an agent server in the foreground.

Two ways in:

* From a shell (or a launcher script) on any machine::

      python -m agentnb.server --host 0.0.0.0 --port 12001 \\
          --agent-class mypkg.agents:A --agent-kwargs '{"name": "A"}'

  The token comes from ``--token``, ``--token-file`` or ``AGENTNB_TOKEN``;
  without one a fresh token is made and printed. ``--tls-cert``/``--tls-key``
  serve TLS (``--make-cert DIR --hosts HOST ...`` writes a self-signed pair
  and exits); ``--allow-module MOD`` restricts the modules agent classes may
  be imported from.

* From a driver (``to_dist``), with ``--handshake``: the configuration,
  token included, arrives as one JSON line on stdin (never on the command
  line, where other users could read it); the server answers with one
  ``AGENTNB_READY {...}`` line on stdout, and exits when stdin closes, i.e.
  when the driver dies.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

from .._core._config import DEFAULT_LIMITS, Limits
from .._core._errors import ServerLaunchError
from .._core._tls import TLS, make_self_signed
from .._core._token import resolve_token
from ._app import AgentServer, ServerConfig

READY = "AGENTNB_READY"
#: Exit code of a server that could not start (the driver shows its log tail).
EXIT_START_FAILED = 3


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m agentnb.server", description="Run an agentnb agent server.")
    p.add_argument("--host", default="localhost", help="address to listen on (default: localhost)")
    p.add_argument("--port", type=int, default=0, help="port (default: 0, a free port)")
    p.add_argument("--agent-class", help="an agent to create at start, as module:Class")
    p.add_argument("--agent-kwargs", default="{}", help="its keyword arguments, as JSON")
    p.add_argument("--token", help="the secret token (default: AGENTNB_TOKEN)")
    p.add_argument("--token-file", help="read the token from this file")
    p.add_argument("--allow-code", action="store_true", help="accept cloudpickled agent classes")
    p.add_argument(
        "--allow-module",
        action="append",
        metavar="MOD",
        help="import agent classes only from this module or its submodules (repeatable; default: any)",
    )
    p.add_argument("--tls-cert", metavar="PEM", help="serve TLS with this certificate (with --tls-key)")
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    p.add_argument(
        "--tls-ca",
        metavar="PEM",
        help="CA this server trusts when it reads placeholders from other servers (default: --tls-cert)",
    )
    p.add_argument(
        "--make-cert",
        metavar="DIR",
        help="write a self-signed cert.pem and key.pem for --hosts into DIR, then exit",
    )
    p.add_argument("--hosts", nargs="*", default=[], help="with --make-cert: the hosts clients connect to")
    p.add_argument("--max-message-bytes", type=int, default=DEFAULT_LIMITS.max_message_bytes)
    p.add_argument("--handshake", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.tls_ca and not args.tls_cert:
        p.error("--tls-ca needs --tls-cert and --tls-key (a server without TLS reads without TLS)")
    return args


def _make_cert(folder: str, hosts: list[str]) -> int:
    tls = make_self_signed(folder, hosts)
    print(
        f"agentnb: wrote {tls.cert} and {tls.key} (for {', '.join(hosts) or 'loopback'}).\n"
        f"Serve them: python -m agentnb.server --tls-cert {tls.cert} --tls-key {tls.key} ...\n"
        f"Attach from a driver: to_dist(..., tls=agentnb.TLS(ca={str(tls.cert)!r}))",
        file=sys.stderr,
    )
    return 0


def _config_from_args(args: argparse.Namespace) -> ServerConfig:
    token, generated = resolve_token(args.token, args.token_file)
    host = "127.0.0.1" if args.host == "localhost" else args.host
    return ServerConfig(
        host=host,
        port=args.port,
        token=token,
        accepts_code=args.allow_code,
        limits=Limits(max_message_bytes=args.max_message_bytes),
        agent_class=args.agent_class,
        agent_kwargs=json.loads(args.agent_kwargs),
        allowed_modules=args.allow_module,
        own_process=True,
        connection_file=True,
        token_given=not generated,
        tls=TLS(args.tls_cert, args.tls_key, args.tls_ca) if args.tls_cert else None,
        unix=True,
    )


def _config_from_handshake() -> tuple[ServerConfig, int]:
    line = sys.stdin.readline()
    if not line:
        raise SystemExit("agentnb server: no configuration on stdin (started without a driver?)")
    data = json.loads(line)
    for entry in reversed(data.get("sys_path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    config = ServerConfig(
        host=data["host"],
        port=data["port"],
        token=data["token"],
        accepts_code=data["accepts_code"],
        advertise_host=data.get("advertise_host"),
        limits=Limits(**data.get("limits", {})),
        own_process=True,
        trace=bool(data.get("trace", False)),
        tls=TLS.from_dict(data.get("tls")),
        unix=bool(data.get("unix", False)),
    )
    return config, int(data["parent_pid"])


def _die_with_parent(parent_pid: int, on_exit: Callable[[], object]) -> None:
    """Exit when the driver dies: the parent-death signal, and EOF on stdin."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before we could watch it
        os._exit(0)

    def watch() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        on_exit()

    threading.Thread(target=watch, name="agentnb-parent-watch", daemon=True).start()


def _serve(config: ServerConfig, parent_pid: int | None) -> int:
    server = AgentServer(config)
    try:
        server.start()
    except ServerLaunchError as exc:
        print(f"agentnb server: {exc}", file=sys.stderr)
        return EXIT_START_FAILED
    # A handler only sets a flag: one that took a lock (threading.Event.set) could deadlock
    # with the main thread it interrupts inside that lock's wait, and the server would never
    # exit (seen when the parent-death SIGTERM came while the loop below waited).
    signalled: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _: signalled.append(signum))
    if parent_pid is not None:
        _die_with_parent(parent_pid, server.request_stop)
        ready = {
            "address": server.address,
            "port": server.port,
            "pid": os.getpid(),
            "server_id": server.server_id,
            "unix": server.unix,
        }
        sys.__stdout__.write(f"{READY} {json.dumps(ready)}\n")  # type: ignore[union-attr]
        sys.__stdout__.flush()  # type: ignore[union-attr]
        os.dup2(2, 1)  # later prints go to the log, never into the handshake pipe
    else:
        print(server.announcement(), file=sys.stderr, flush=True)
    while not signalled and not server.wait_for_stop_request(0.2):  # wake to see signals
        pass
    # a reply stuck in user code must not keep the process alive: bound the stop.
    # A driver's server stops at once (its driver is gone or done with it).
    threading.Timer(5.0, os._exit, args=(0,)).start()
    server.stop(grace=0.2 if parent_pid is not None else 1.0)
    return 0


def main(argv: list[str] | None = None) -> None:
    """The ``agentnb-server`` console script and ``python -m agentnb.server``, alike."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as ``python -m`` does: agent classes in this folder import
    args = _parse(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if args.make_cert:
        os._exit(_make_cert(args.make_cert, args.hosts))
    if args.handshake:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the driver stops us
        config, parent_pid = _config_from_handshake()
        code = _serve(config, parent_pid)
    else:
        try:
            config = _config_from_args(args)
        except (OSError, ValueError) as exc:  # unreadable TLS or token files, bad JSON
            print(f"agentnb server: {exc}", file=sys.stderr)
            os._exit(EXIT_START_FAILED)
        code = _serve(config, None)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # worker threads may be blocked in user code; do not wait for them


if __name__ == "__main__":
    main()
