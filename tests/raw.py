"""An attacker's client: raw gRPC requests to an agent server, with any token or none.

Nothing here goes through agentnb's runtime: requests are the generated
messages (or arbitrary bytes) sent on a plain channel, and what comes back is
the status code and details, never an agentnb error.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import grpc

from agentnb._proto import agentnb_pb2 as pb

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICE = "/agentnb.v1.AgentServer/"
#: The status codes the protocol documents (protos/agentnb/v1/agentnb.proto), and OK.
DOCUMENTED = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    }
)
#: Every RPC of the service: (request type, response type, client streams, server streams).
METHODS = {
    m.name: (getattr(pb, m.input_type.name), getattr(pb, m.output_type.name), m.client_streaming,
             m.server_streaming)
    for m in pb.DESCRIPTOR.services_by_name["AgentServer"].methods
}  # fmt: skip


@dataclass
class Answer:
    code: grpc.StatusCode
    details: str
    response: bytes | None = None
    reason: str = ""


def auth(token: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token is not None else ()


class Raw:
    """Unary calls with raw bytes in and out on one channel."""

    def __init__(self, address: str, token: str | None) -> None:
        self.address = address
        self.token = token
        # a connection of its own (one peer), never shared with another channel of this process
        options = [("grpc.use_local_subchannel_pool", 1), ("grpc.max_receive_message_length", 64 * 2**20)]
        self.channel = grpc.insecure_channel(address, options=options)

    def call(
        self, method: str, request: bytes | object, token: object = "default", timeout: float = 10
    ) -> Answer:
        data = request if isinstance(request, bytes) else request.SerializeToString()  # type: ignore[attr-defined]
        stub = self.channel.unary_unary(SERVICE + method)
        meta = auth(self.token if token == "default" else token)  # type: ignore[arg-type]
        try:
            response, call = stub.with_call(data, metadata=meta, timeout=timeout)
        except grpc.RpcError as exc:
            reason = dict(exc.trailing_metadata() or ()).get("agentnb-reason", "")
            return Answer(exc.code(), exc.details() or "", None, reason)
        return Answer(grpc.StatusCode.OK, "", response)

    def close(self) -> None:
        self.channel.close()


def rss_kib(pid: int) -> int:
    """The resident set size of a process, from /proc (KiB)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


class CliServer:
    """A server process, and the lines of its stderr (read all along, so it never blocks)."""

    def __init__(self, proc: subprocess.Popen[str], address: str, first: list[str]) -> None:
        self.proc = proc
        self.address = address
        self.pid = proc.pid
        self.log: deque[str] = deque(first, maxlen=2000)
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.log.append(line)
                self._cond.notify_all()

    def wait_log(self, text: str, timeout: float = 30) -> list[str]:
        """The log lines holding ``text``, once there is one (AssertionError after ``timeout``)."""
        with self._cond:
            found = self._cond.wait_for(lambda: [line for line in self.log if text in line], timeout)
        assert found, f"no {text!r} in the server log within {timeout} s:\n{''.join(self.log)}"
        return found


@contextmanager
def cli_server(*args: str, env: dict[str, str] | None = None) -> Iterator[CliServer]:
    """``python -m agentnb.server ARGS`` (tests/ importable); stopped (SIGTERM, then kill) at exit."""
    # tests/ and this checkout's package (not whichever agentnb the interpreter has installed)
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join((HERE, os.path.dirname(HERE))), **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentnb.server", "--port", "0", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=full_env,
    )
    try:
        assert proc.stderr is not None
        address, first = "", []
        for line in proc.stderr:
            first.append(line)
            match = re.search(r"listening on (\S+) \(pid (\d+)", line)
            if match:
                address = match[1]
                break
        assert address, f"the server exited ({proc.wait(10)}) before listening: {''.join(first)}"
        yield CliServer(proc, address, first)
    finally:
        _stop(proc, proc.stderr)


def _stop(proc: subprocess.Popen[str], pipe: IO[str] | None) -> None:
    """Terminate a process (kill it if it lingers) and close the pipe we read it by."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    assert pipe is not None
    pipe.close()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` (state with no event to wait on) until true; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.005)


#: The agent of ``sized_launcher`` that reports what its server holds.
SIZES = "sizes-0d9f"
_SCENARIO = os.path.join(HERE, "scenarios", "budget_server.py")


@dataclass
class Launched:
    address: str
    port: int
    pid: int


@contextmanager
def sized_launcher(
    limits: dict[str, int], token: str, agent_class: str = "agents:Flood", name: str = "F"
) -> Iterator[Launched]:
    """A launcher process with these limits, hosting ``agent_class`` as ``name`` and ``SIZES``."""
    proc = subprocess.Popen(
        [sys.executable, _SCENARIO, json.dumps(limits), token, agent_class, name],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=HERE),
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield Launched(f"127.0.0.1:{port}", port, proc.pid)
    finally:
        _stop(proc, proc.stdout)


def sizes(raw: Raw) -> dict[str, int]:
    """What a ``sized_launcher`` server holds, asked of its ``SIZES`` agent."""
    answer = raw.call("Call", pb.CallRequest(agent=SIZES, no_input=True, wait_ms=30_000), timeout=60)
    assert answer.code == grpc.StatusCode.OK, answer
    assert answer.response is not None
    return json.loads(pb.CallResponse.FromString(answer.response).outcome.reply.content_json)
