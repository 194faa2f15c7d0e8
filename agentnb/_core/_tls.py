"""TLS for agent servers and the channels to them: certificate files, and a workshop helper.

Without TLS, the token that protects a server travels in clear HTTP/2
headers: fine on loopback, not on a network anyone else can watch. With TLS
a server presents a certificate (``cert`` and ``key``, PEM files) and
clients check it against a certificate authority (``ca``); the token and the
messages are encrypted.

For a workshop, one self-signed certificate that names every host is enough:
:func:`make_self_signed` writes it, every launcher serves it, and every
driver and server trusts it (a self-signed certificate is its own CA)::

    tls = agentnb.make_self_signed("certs", hosts=["10.0.0.5", "10.0.0.6"])
    RpcAgentServerLauncher(A, {"name": "A"}, host="10.0.0.5", tls=tls)  # on 10.0.0.5
    A(name="A").to_dist("10.0.0.5", 12001, launch_server=False, tls=agentnb.TLS(ca="certs/cert.pem"))

Only file paths travel between processes (never the key itself on a
command line). This module is core: it reads files and imports
``cryptography`` lazily, for :func:`make_self_signed` only.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pathlib
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: Hosts every certificate made by :func:`make_self_signed` names, besides those asked for.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

HOW_TO = (
    "make a certificate with agentnb.make_self_signed(folder, hosts=[...]) (or python -m "
    "agentnb.server --make-cert DIR --hosts HOST ...), serve it with --tls-cert/--tls-key "
    "(RpcAgentServerLauncher(..., tls=agentnb.TLS(cert=..., key=...))), and attach with "
    "to_dist(..., tls=agentnb.TLS(ca=...))"
)


def _path(value: str | os.PathLike[str] | None, what: str, marker: str) -> str | None:
    if value is None:
        return None
    path = pathlib.Path(value).expanduser().resolve()
    try:
        head = path.read_bytes()[:65536]
    except OSError as exc:
        raise FileNotFoundError(
            f"the TLS {what} file {path} cannot be read ({exc.strerror}); {HOW_TO}"
        ) from exc
    if b"-----BEGIN" not in head or marker.encode() not in head:
        raise ValueError(f"the TLS {what} file {path} is not a PEM {marker.lower()} (no '-----BEGIN ...')")
    return str(path)


@dataclass(frozen=True)
class TLS:
    """TLS settings: a server's certificate and key, and the CA clients trust.

    Args:
        cert: PEM certificate a server presents (servers, launchers, and
            ``to_dist`` when it launches the server).
        key: the certificate's PEM private key; given with ``cert`` or not at all.
        ca: PEM certificate(s) of the authority that signed the servers'
            certificates, which clients (drivers, and servers reading
            placeholders from each other) trust. Default: ``cert`` itself,
            right when every server shares one self-signed certificate; with
            neither, the system's trusted roots.

    Raises:
        FileNotFoundError: a file cannot be read.
        ValueError: a file is not PEM, or only one of ``cert`` and ``key`` is given.
    """

    cert: str | os.PathLike[str] | None = None
    key: str | os.PathLike[str] | None = None
    ca: str | os.PathLike[str] | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError(
                "a TLS certificate needs its key (and a key its certificate): pass both cert= and key=, "
                "or only ca= to connect to a TLS server"
            )
        object.__setattr__(self, "cert", _path(self.cert, "certificate", "CERTIFICATE"))
        object.__setattr__(self, "key", _path(self.key, "key", "PRIVATE KEY"))
        object.__setattr__(self, "ca", _path(self.ca, "CA", "CERTIFICATE"))

    @property
    def serves(self) -> bool:
        """Whether a server can serve with these settings (it has a certificate and key)."""
        return self.cert is not None

    def server_pair(self) -> tuple[bytes, bytes]:
        """The (key, certificate) PEM bytes a server presents."""
        if self.cert is None or self.key is None:
            raise ValueError(
                f"a TLS server needs a certificate and its key: TLS(cert=..., key=...); {HOW_TO}"
            )
        return pathlib.Path(self.key).read_bytes(), pathlib.Path(self.cert).read_bytes()

    def root_certificates(self) -> bytes | None:
        """The PEM certificates a client trusts (None: the system's roots)."""
        source = self.ca or self.cert
        return pathlib.Path(source).read_bytes() if source else None

    def to_dict(self) -> dict[str, str | None]:
        """The file paths, for a server's configuration (never the files' contents)."""
        return {k: None if v is None else os.fspath(v) for k, v in vars(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TLS | None:
        return None if not data else cls(data.get("cert"), data.get("key"), data.get("ca"))


def make_self_signed(folder: str | os.PathLike[str], hosts: Iterable[str] = (), days: int = 30) -> TLS:
    """Write a self-signed certificate for a workshop: ``cert.pem`` and ``key.pem`` in ``folder``.

    The certificate names every host in ``hosts`` (IP addresses and host
    names, as clients will write them in ``to_dist(host=...)``) and loopback.
    Serve it on every launcher; give ``cert.pem`` to drivers as the CA.

    Args:
        folder: where to write (made if missing); ``key.pem`` is readable by its owner only.
        hosts: the addresses and names clients use to reach the servers.
        days: how long the certificate is valid.

    Returns:
        ``TLS(cert=folder/cert.pem, key=folder/key.pem)``.
    """
    from cryptography import x509  # optional and heavy: loaded only here
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    names = list(dict.fromkeys([*hosts, *LOOPBACK_HOSTS]))
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"agentnb {names[0]}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    out = pathlib.Path(folder).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = out / "key.pem", out / "cert.pem"
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return TLS(cert=str(cert_path), key=str(key_path))


# -- the warning for traffic in clear ------------------------------------------------------

_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_cleartext(kind: str, where: str, stacklevel: int = 1) -> None:
    """Warn, once per process and kind, that a server's token will travel in clear.

    Args:
        kind: "listen" (a server binds a non-loopback address) or "connect"
            (a driver attaches to a server on another host).
        where: the address concerned.
        stacklevel: the frame the warning names, counted from the caller (1).
    """
    with _warned_lock:
        if kind in _warned:
            return
        _warned.add(kind)
    if kind == "listen":
        what = f"the agent server on {where} listens on a network address without TLS"
    else:
        what = f"the connection to the agent server at {where} does not use TLS"
    warnings.warn(
        f"agentnb: {what}: its token travels in clear HTTP/2 headers, so anyone who can see the "
        "network traffic can take it and call its agents (and run code on it if it allows code), "
        f"and messages travel unencrypted. To turn TLS on, {HOW_TO}.",
        UserWarning,
        stacklevel=stacklevel + 1,
    )
