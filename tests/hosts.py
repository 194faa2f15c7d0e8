"""Other hosts on this machine: network namespaces joined to this one by a veth pair."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


def _ip_tc(*args: str, netns: str = "") -> None:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    subprocess.run([*prefix, "tc", *args], check=True, capture_output=True, text=True, timeout=30)


@dataclass
class Host:
    """A network namespace with one address (``ip``), reachable from here at ``peer``."""

    name: str
    ip: str
    peer: str
    here: str = ""  # the veth end in this namespace
    there: str = ""  # the veth end in the host's

    def cut(self) -> None:
        """Drop every packet between here and the host, silently (no reset, no refusal):
        a cable pulled, as both ends see it."""
        _ip_tc("qdisc", "add", "dev", self.here, "root", "blackhole")
        _ip_tc("qdisc", "add", "dev", self.there, "root", "blackhole", netns=self.name)

    def mend(self) -> None:
        subprocess.run(["tc", "qdisc", "del", "dev", self.here, "root"], capture_output=True, timeout=30)
        subprocess.run(
            ["ip", "netns", "exec", self.name, "tc", "qdisc", "del", "dev", self.there, "root"],
            capture_output=True,
            timeout=30,
        )

    def popen(self, argv: list[str], **kwargs: object) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONPATH=HERE)
        return subprocess.Popen(["ip", "netns", "exec", self.name, *argv], env=env, text=True, **kwargs)  # type: ignore[call-overload]


class Hosts:
    """Makes ``count`` hosts (network namespaces) and removes them on exit.

    Raises:
        OSError: namespaces cannot be made here (not root, no iproute2, ...).
    """

    def __init__(self, count: int = 1) -> None:
        self.count = count
        self.hosts: list[Host] = []
        self._tag = f"{os.getpid() % 10000}"

    def __enter__(self) -> list[Host]:
        try:
            for i in range(self.count):
                name, here, there = f"anb{self._tag}h{i}", f"anb{self._tag}a{i}", f"anb{self._tag}b{i}"
                net = f"10.{200 + i}.{os.getpid() % 250}"
                _ip("netns", "add", name)
                self.hosts.append(Host(name, f"{net}.2", f"{net}.1", here, there))
                _ip("link", "add", here, "type", "veth", "peer", "name", there)
                _ip("link", "set", there, "netns", name)
                _ip("addr", "add", f"{net}.1/24", "dev", here)
                _ip("link", "set", here, "up")
                _ip("-n", name, "addr", "add", f"{net}.2/24", "dev", there)
                _ip("-n", name, "link", "set", there, "up")
                _ip("-n", name, "link", "set", "lo", "up")
        except (subprocess.CalledProcessError, FileNotFoundError, PermissionError) as exc:
            self.__exit__(None, None, None)
            detail = getattr(exc, "stderr", "") or str(exc)
            raise OSError(f"cannot make network namespaces here: {detail.strip()}") from exc
        return self.hosts

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for i, host in enumerate(self.hosts):
            subprocess.run(["ip", "link", "del", f"anb{self._tag}a{i}"], capture_output=True, timeout=30)
            subprocess.run(["ip", "netns", "del", host.name], capture_output=True, timeout=30)


def one_host() -> Iterator[Host]:
    """One other host for a module's tests (a fixture's body); skips them where none can be made."""
    try:
        with Hosts(1) as hosts:
            yield hosts[0]
    except OSError as exc:
        pytest.skip(str(exc))


def start_launcher(
    host: Host, token_file: str, agent_class: str, kwargs: str, *extra: str
) -> tuple[subprocess.Popen[str], str]:
    """A launcher process on ``host``; returns it and the address it listens on."""
    proc = host.popen(
        [sys.executable, "-m", "agentnb.server", "--host", host.ip, "--port", "0", "--token-file", token_file,
         "--agent-class", agent_class, "--agent-kwargs", kwargs, *extra],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if "listening on" in line and line.startswith("agentnb server"):
            return proc, line.split("listening on ")[1].split()[0]
    proc.wait(10)
    raise AssertionError(f"the launcher on {host.name} exited ({proc.returncode}) before listening")


class Subnet:
    """Makes ``count`` hosts (network namespaces) on one bridge, so they reach each other and
    this namespace (the bridge's address, ``peer``), and removes them on exit.

    Raises:
        OSError: namespaces or bridges cannot be made here.
    """

    def __init__(self, count: int = 2) -> None:
        self.count = count
        self.hosts: list[Host] = []
        tag = os.getpid() % 10000
        self._bridge = f"anb{tag}br"
        self._net = f"10.199.{os.getpid() % 250}"
        self._names = [(f"anb{tag}n{i}", f"anb{tag}v{i}", f"anb{tag}w{i}") for i in range(count)]

    def __enter__(self) -> list[Host]:
        try:
            _ip("link", "add", self._bridge, "type", "bridge")
            _ip("addr", "add", f"{self._net}.1/24", "dev", self._bridge)
            _ip("link", "set", self._bridge, "up")
            for i, (name, here, there) in enumerate(self._names):
                _ip("netns", "add", name)
                self.hosts.append(Host(name, f"{self._net}.{i + 2}", f"{self._net}.1"))
                _ip("link", "add", here, "type", "veth", "peer", "name", there)
                _ip("link", "set", there, "netns", name)
                _ip("link", "set", here, "master", self._bridge)
                _ip("link", "set", here, "up")
                _ip("-n", name, "addr", "add", f"{self._net}.{i + 2}/24", "dev", there)
                _ip("-n", name, "link", "set", there, "up")
                _ip("-n", name, "link", "set", "lo", "up")
        except (subprocess.CalledProcessError, FileNotFoundError, PermissionError) as exc:
            self.__exit__(None, None, None)
            detail = getattr(exc, "stderr", "") or str(exc)
            raise OSError(f"cannot make network namespaces on a bridge here: {detail.strip()}") from exc
        return self.hosts

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for name, here, _ in self._names:
            subprocess.run(["ip", "link", "del", here], capture_output=True, timeout=30)
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", self._bridge], capture_output=True, timeout=30)
