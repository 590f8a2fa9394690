"""The HTTPS listener's certificate: self-signed like a device's factory certificate, or the user's.

Generated with `cryptography` at first start (EC P-256: instant, so start-up stays well under a
second) with the device's name and serial number in the subject, and kept in the state directory
when there is one, so clients that pin it keep trusting it across restarts.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CERT_FILE = "https-cert.pem"
KEY_FILE = "https-key.pem"
VALID_DAYS = 3650


def generate(device_name: str, serial: str, hosts: list[str]) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CZ"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "2N TELEKOMUNIKACE a.s."),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, serial),
        x509.NameAttribute(NameOID.COMMON_NAME, device_name[:64] or serial),
    ])
    alt_names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for host in dict.fromkeys(["127.0.0.1", "::1", *hosts]):
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if host:
                alt_names.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert_pem, key_pem


def server_context(state_dir: Path | None, device_name: str, serial: str, hosts: list[str],
                   cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """TLS for the HTTPS listener: the user's certificate, the one kept in the state directory,
    or a fresh one (written to the state directory, or without one to a temporary file that is
    deleted once loaded)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if cert is not None and key is not None:
        context.load_cert_chain(cert, key)
        return context
    with contextlib.nullcontext(state_dir) if state_dir is not None else tempfile.TemporaryDirectory(prefix="helios-tls-") as folder:
        cert_path, key_path = Path(folder) / CERT_FILE, Path(folder) / KEY_FILE
        if not (cert_path.is_file() and key_path.is_file()):
            Path(folder).mkdir(parents=True, exist_ok=True)
            cert_pem, key_pem = generate(device_name, serial, hosts)
            key_path.touch(mode=0o600)
            key_path.write_bytes(key_pem)
            cert_path.write_bytes(cert_pem)
        context.load_cert_chain(cert_path, key_path)
    return context
