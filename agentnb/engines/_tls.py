"""TLS for a pool: the driver makes a certificate authority, each worker a certificate for its address.

Workers join with addresses nobody knows in advance (a pod's IP, a SLURM
node), so no single certificate can name them all: with ``tls=True`` the
driver makes a private CA for the pool, which travels to the workers with the
token, and each worker issues its server a certificate for the address it
advertises. The driver and the servers trust that CA alone.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pathlib
import tempfile
from typing import Any

from .._core._tls import TLS

DAYS = 30


def _name(text: str) -> Any:
    from cryptography import x509  # heavy: loaded only for TLS pools
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _pem_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def make_ca(pool: str) -> tuple[bytes, bytes]:
    """A new certificate authority for one pool: (certificate PEM, key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = _name(f"agentnb pool {pool} CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def issue(ca_cert: bytes, ca_key: bytes, host: str) -> tuple[bytes, bytes]:
    """A server certificate for ``host`` (and loopback), signed by the pool's CA: (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    issuer = x509.load_pem_x509_certificate(ca_cert)
    signer = serialization.load_pem_private_key(ca_key, password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for item in dict.fromkeys([host, "127.0.0.1", "localhost"]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(item)))
        except ValueError:
            names.append(x509.DNSName(item))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"agentnb server {host}"))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(signer, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def write(folder: str | None, cert: bytes | None, key: bytes | None, ca: bytes) -> TLS:
    """Write PEM files into a private folder (made if ``folder`` is None) and return their TLS."""
    out = pathlib.Path(folder or tempfile.mkdtemp(prefix="agentnb-tls-"))  # mode 0700
    paths: dict[str, str | None] = {"cert": None, "key": None}
    for name, data in (("cert", cert), ("key", key)):
        if data is not None:
            paths[name] = _private(out / f"{name}.pem", data)
    return TLS(cert=paths["cert"], key=paths["key"], ca=_private(out / "ca.pem", ca))


def _private(path: pathlib.Path, data: bytes) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return str(path)
