"""The room's own certificate authority and the HTTPS certificate of the room's host (``roomctl tls init``).

Tablets, the admin and the facilities pages reach roomctl over the LAN; with ``[server] tls_cert`` and
``tls_key`` set they do so over HTTPS. The room CA is made once; a tablet trusts it by installing
``ca.crt`` (see README, "HTTPS on the LAN"). The same CA can sign the MQTT broker's certificate (``[mqtt]
ca_file``), so the ESPHome reader checks the broker with it too. Keys are written readable by their owner only.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from roomctl.errors import ConflictError, ValidationError

log = logging.getLogger(__name__)

CA_DAYS = 3650
"""The room CA lives ten years (it is installed on every tablet once)."""
SERVER_DAYS = 825
"""A host certificate lives at most 825 days (what Apple devices accept)."""
CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY = "ca.crt", "ca.key", "server.crt", "server.key"


@dataclass(frozen=True)
class TlsFiles:
    """Where ``roomctl tls init`` wrote the CA and the host's certificate."""

    ca_cert: Path
    ca_key: Path
    cert: Path
    key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.chmod(0o644)


def _names(host: str, extra: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for name in [host, *extra]:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            if not name or len(name) > 253 or any(c.isspace() for c in name):
                raise ValidationError(f"{name!r} is not a host name or an IP address", field="host") from None
            names.append(x509.DNSName(name))
    return names


def init_tls(directory: Path, host: str, *, now: datetime, room_name: str, also: list[str] | None = None,
             replace: bool = False) -> TlsFiles:  # fmt: skip
    """Make the room CA (unless it exists) and a certificate for ``host`` (and ``also``) signed by it.

    Raises:
        ConflictError: A host certificate exists and ``replace`` is false.
        ValidationError: A name is not a host name or IP address.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / CA_CERT, directory / CA_KEY, directory / SERVER_CERT, directory / SERVER_KEY)
    if files.cert.exists() and not replace:
        raise ConflictError(f"{files.cert} exists; give --replace to make a new host certificate")
    names = _names(host, also or [])
    if files.ca_cert.exists() and files.ca_key.exists():
        ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        loaded = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_key = loaded
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"roomctl room CA ({room_name})"[:64])])
        ca_cert = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        _write_key(files.ca_key, ca_key)
        _write_cert(files.ca_cert, ca_cert)
        log.info("room CA made: %s", files.ca_cert)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64])]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    _write_key(files.key, key)
    _write_cert(files.cert, cert)
    log.info("host certificate for %s made: %s", ", ".join([host, *(also or [])]), files.cert)
    return files
