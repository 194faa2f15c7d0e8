"""TLS: the seed's two-machine program over TLS, certificates, warnings, and what a sniffer sees."""

from __future__ import annotations

import ipaddress
import os
import pathlib
import socket
import stat
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator

import pytest
from agents import Echo, Turns
from hosts import Host, Hosts
from raw import cli_server

import agentnb
from agentnb import TLS, Event, Msg, RpcAgentServerLauncher, ServerUnavailableError, Timeouts
from agentnb._core._connection import RUNTIME_ENV
from agentnb._runtime._session import get_session

pytestmark = pytest.mark.timeout(120)
HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> TLS:
    """One self-signed certificate for the two "machines" 127.0.0.2 and 127.0.0.3."""
    return agentnb.make_self_signed(tmp_path_factory.mktemp("certs"), hosts=["127.0.0.2", "127.0.0.3"])


@pytest.fixture
def fresh_warnings(monkeypatch) -> None:
    """Each warning of agentnb._core._tls shows again (they show once per process)."""
    monkeypatch.setattr("agentnb._core._tls._warned", set())


def refs_seen(agent: str) -> tuple[list[Event], threading.Event]:
    seen: list[Event] = []
    arrived = threading.Event()

    def listen(event: Event) -> None:
        if event.kind == "queued" and event.agent == agent:
            seen.append(event)
            arrived.set()

    get_session().subscribe(listen)
    return seen, arrived


def test_the_two_machine_program_runs_over_tls_with_a_generated_certificate(
    certs: TLS, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls_args = ("--tls-cert", str(certs.cert), "--tls-key", str(certs.key), "--token", "two-machines")
    with (
        cli_server("--host", "127.0.0.2", "--agent-class", "agents:Turns", "--agent-kwargs", '{"name": "A"}',
                   *tls_args) as machine_a,
        cli_server("--host", "127.0.0.3", "--agent-class", "agents:Turns", "--agent-kwargs", '{"name": "B"}',
                   *tls_args) as machine_b,
    ):  # fmt: skip
        ca = TLS(ca=certs.cert)
        port_a, port_b = (int(m.address.rsplit(":", 1)[1]) for m in (machine_a, machine_b))
        a = Turns(name="A").to_dist(
            host="127.0.0.2", port=port_a, launch_server=False, token="two-machines", tls=ca
        )
        b = Turns(name="B").to_dist(
            host="127.0.0.3", port=port_b, launch_server=False, token="two-machines", tls=ca
        )
        seen, arrived = refs_seen("B")
        x = None
        while x is None or x.content != "exit":
            x = a(x)
            x = b(x)
        assert x.name == "B"
        assert a.link.info().tls and b.link.info().tls
        assert machine_a.wait_log(", TLS)")  # it says so when it starts
        # B's server read A's reply from A's server itself, over TLS (a reference, not relayed)
        assert arrived.wait(30)
        assert any(
            ref.agent == "A" and ref.address.startswith("127.0.0.2:") for e in seen for ref in e.inputs
        )
        # a driver elsewhere (it cannot read this machine's connection files, which name
        # the CA) and without the CA cannot attach, and is told why
        monkeypatch.setenv(RUNTIME_ENV, str(tmp_path))
        with pytest.raises(ServerUnavailableError, match="TLS"):
            Echo(name="A").to_dist(
                host="127.0.0.2", port=port_a, launch_server=False, token="two-machines",
                timeouts=Timeouts(control=2, reconnect=2),
            )  # fmt: skip


def test_a_certificate_that_does_not_name_the_host_dialled_is_reported_as_such(tmp_path) -> None:
    elsewhere = agentnb.make_self_signed(tmp_path / "certs", hosts=["127.0.0.2"])
    tls_args = ("--tls-cert", str(elsewhere.cert), "--tls-key", str(elsewhere.key), "--token", "named")
    with cli_server("--host", "127.0.0.3", "--agent-class", "agents:Echo", "--agent-kwargs", '{"name": "A"}',
                    *tls_args) as server:  # fmt: skip
        port = int(server.address.rsplit(":", 1)[1])
        with pytest.raises(ServerUnavailableError) as caught:
            Echo(name="A").to_dist(
                host="127.0.0.3", port=port, launch_server=False, token="named", tls=TLS(ca=elsewhere.cert),
                timeouts=Timeouts(control=2, reconnect=2),
            )  # fmt: skip
    message = str(caught.value)
    assert f"127.0.0.3:{port}" in message
    assert "certificate does not name the host that was dialled" in message
    assert "needs to_dist(..., tls=" not in message  # tls= was passed: not the advice to give


def test_a_server_launched_by_to_dist_serves_tls_and_gets_its_key_path_privately(certs: TLS) -> None:
    e = Echo(name="E").to_dist(tls=certs)
    assert e(Msg("user", "over tls")).content == "over tls"
    assert e.link.info().tls
    with open(f"/proc/{e.server.pid}/cmdline", "rb") as f:
        assert b"key.pem" not in f.read()  # the handshake carried it, on stdin
    plain = Echo(name="P").to_dist()  # no TLS: its reply reaches E's server relayed by the driver
    assert e(plain(Msg("user", "mixed"))).content == "mixed"


def test_make_cert_writes_a_private_key_and_a_certificate_naming_the_hosts(tmp_path) -> None:
    from cryptography import x509

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentnb.server",
            "--make-cert",
            str(tmp_path),
            "--hosts",
            "10.1.2.3",
            "lab.test",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "--tls-cert" in result.stderr and "TLS(ca=" in result.stderr
    assert stat.S_IMODE(os.stat(tmp_path / "key.pem").st_mode) == 0o600
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.1.2.3") in names.get_values_for_type(x509.IPAddress)
    assert {"lab.test", "localhost"} <= set(names.get_values_for_type(x509.DNSName))


def test_tls_settings_are_checked_when_made(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="make_self_signed"):
        TLS(ca=tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ValueError, match="not a PEM"):
        TLS(ca=tmp_path / "junk.pem")
    with pytest.raises(ValueError, match="needs its key"):
        TLS(cert=tmp_path / "junk.pem")
    with pytest.raises(ValueError, match="TLS\\(cert=..., key=...\\)"):
        Echo(name="E").to_dist(tls=TLS())


def test_listening_beyond_loopback_without_tls_warns_once_saying_what_is_exposed(
    fresh_warnings: None, certs: TLS
) -> None:
    with pytest.warns(UserWarning, match="token travels in clear HTTP/2 headers") as caught:
        with RpcAgentServerLauncher(Echo, {"name": "E"}, host="0.0.0.0", token="t"):
            pass
    (message,) = [str(w.message) for w in caught if "agentnb:" in str(w.message)]
    assert "run code on it if it allows code" in message and "make_self_signed" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process; and never with TLS or on loopback
        with RpcAgentServerLauncher(Echo, {"name": "E"}, host="0.0.0.0", token="t"):
            pass
        with RpcAgentServerLauncher(Echo, {"name": "E"}, host="127.0.0.1", token="t"):
            pass


def test_a_driver_warns_when_its_token_would_cross_a_network_in_clear(fresh_warnings: None) -> None:
    with pytest.warns(UserWarning, match="listens on a network address without TLS"):
        Echo(name="E").to_dist(local_mode=False)
    with pytest.warns(UserWarning, match="connection to the agent server at 10.9.9.9:1 does not use TLS"):
        Echo(name="R").to_dist(host="10.9.9.9", port=1, launch_server=False, lazy_launch=True)


# -- what a sniffer on the network sees ----------------------------------------------------


class Sniffer:
    """Captures every frame on one network interface (a raw AF_PACKET socket)."""

    def __init__(self, interface: str) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
        self.sock.bind((interface, 0))
        self.sock.settimeout(0.2)
        self.frames: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.frames.append(self.sock.recv(65535))
            except TimeoutError:
                continue
            except OSError:
                return

    def stop(self) -> bytes:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        return b"".join(self.frames)


@pytest.fixture(scope="module")
def other_host() -> Iterator[tuple[Host, str]]:
    """A host in a network namespace, and the interface its traffic crosses here."""
    hosts = Hosts(1)
    try:
        with hosts as made:
            yield made[0], f"anb{hosts._tag}a0"
    except OSError as exc:
        pytest.skip(f"the sniffing test needs network namespaces (root and iproute2): {exc}")


def sniff_a_session(host: Host, interface: str, tls: TLS | None) -> tuple[bytes, bytes]:
    """Run a launcher on ``host`` and call it from here: every byte seen on the wire, and the token."""
    token = "sniff-me-" + os.urandom(8).hex()
    args = ["--host", host.ip, "--port", "0", "--token", token, "--agent-class", "agents:Echo",
            "--agent-kwargs", '{"name": "R"}']  # fmt: skip
    if tls is not None:
        args += ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
    proc = host.popen([sys.executable, "-m", "agentnb.server", *args], stderr=subprocess.PIPE)
    try:
        port = 0
        for line in proc.stderr:
            if "listening on" in line:
                port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
                break
        assert port, f"the launcher on {host.name} did not start"
        try:
            sniffer = Sniffer(interface)
        except PermissionError as exc:
            pytest.skip(f"raw sockets are not allowed here: {exc}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # in clear on purpose
            r = Echo(name="R").to_dist(
                host=host.ip, port=port, launch_server=False, token=token,
                tls=None if tls is None else TLS(ca=tls.cert),
            )  # fmt: skip
        assert r(Msg("user", "payload-in-the-clear")).content == "payload-in-the-clear"
        agentnb.shutdown()  # close the links: every frame of the session has crossed
        wire = sniffer.stop()
    finally:
        proc.terminate()
        proc.wait(10)
    assert len(wire) > 1000, "the sniffer saw no traffic"
    return wire, token.encode()


def test_a_sniffer_sees_the_token_without_tls_and_nothing_with_it(other_host, tmp_path) -> None:
    host, interface = other_host
    wire, token = sniff_a_session(host, interface, None)
    assert token in wire and b"payload-in-the-clear" in wire  # the sniffer works
    tls = agentnb.make_self_signed(tmp_path / "certs", hosts=[host.ip])
    wire, token = sniff_a_session(host, interface, tls)
    assert token not in wire and b"sniff-me-" not in wire
    assert b"payload-in-the-clear" not in wire
