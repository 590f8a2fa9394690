"""The device's certificate stores of cert/ca and cert/user (manual 5.20, firmware 2.42).

A client uploads CA certificates (a DER file, or PEM with one or more certificates) and user
certificates (a certificate with its private key, optionally encrypted with a password); the
device lists them with the fields of the manual's reply (fingerprint, subject, issuer, id,
startDate, endDate, protected, systemUseOnly) and deletes them by id or fingerprint. The files
are parsed with `cryptography`, so junk is refused as the device refuses it (12 on the blob).

Chosen where the manual is silent: the fingerprint is the SHA-1 of the DER certificate in lower
case hex (the manual's example, 4deea706..., is Thawte RSA CA 2018's SHA-1 thumbprint); startDate
and endDate are unix times, as every other time of the API; an upload replaces a certificate with
the same fingerprint or the same user id. The device's own internal (protected) certificates are
not listed.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes as PrivateKey
from cryptography.x509.oid import NameOID

from emulator.errors import failed, invalid, missing

MAX_CERTIFICATES = 64  # per store
MAX_ID = 40  # "@" and 1 to 40 characters

_NAME_KEYS = ((NameOID.COMMON_NAME, "CN"), (NameOID.ORGANIZATION_NAME, "O"),
              (NameOID.ORGANIZATIONAL_UNIT_NAME, "OU"), (NameOID.LOCALITY_NAME, "L"),
              (NameOID.STATE_OR_PROVINCE_NAME, "S"), (NameOID.COUNTRY_NAME, "C"))


@dataclass
class Certificate:
    der: bytes
    id: str  # "@name" the user gave, or ""
    key: bytes | None = None  # a user certificate's private key (PKCS#8 DER, never returned)

    def __post_init__(self) -> None:
        self.cert = x509.load_der_x509_certificate(self.der)
        self.fingerprint = hashlib.sha1(self.der).hexdigest()

    def describe(self) -> dict:
        """The fields of the manual's reply."""
        out: dict = {"fingerprint": self.fingerprint, "subject": _name(self.cert.subject),
                     "issuer": _name(self.cert.issuer)}
        if self.id:
            out["id"] = self.id
        out.update(startDate=int(self.cert.not_valid_before_utc.timestamp()),
                   endDate=int(self.cert.not_valid_after_utc.timestamp()), protected=False, systemUseOnly=False)
        return out


class CertStore:
    """One store: "ca" (trusted authorities) or "user" (certificates with their private keys)."""

    def __init__(self, kind: str):
        self.kind = kind
        self.certificates: list[Certificate] = []

    def find(self, ident: str) -> list[Certificate]:
        """The certificates an id names (a user id "@...", or a fingerprint); 12 `id` for none."""
        ident = ident.strip()
        found = [c for c in self.certificates if ident in (c.id, c.fingerprint) and ident]
        if not found:
            raise invalid("id")
        return found

    def delete(self, ident: str) -> None:
        for cert in self.find(ident):
            self.certificates.remove(cert)

    def add_ca(self, blob: bytes, ident: str | None) -> list[Certificate]:
        """Upload CA certificates (blob-cert: DER, or PEM with one or more)."""
        return self._add([Certificate(der, _user_id(ident)) for der in _certificates(blob)])

    def add_user(self, cert_blob: bytes, key_blob: bytes, password: str | None, ident: str | None) -> Certificate:
        """Upload a user certificate (blob-cert, its first certificate) and its private key (blob-pk,
        PEM or DER, `password` when it is encrypted); the key must belong to the certificate."""
        der = _certificates(cert_blob)[0]
        key = _private_key(key_blob, password)
        cert = x509.load_der_x509_certificate(der)
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(serialization.Encoding.DER, spki) != \
                cert.public_key().public_bytes(serialization.Encoding.DER, spki):
            raise invalid("blob-pk")
        pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
        return self._add([Certificate(der, _user_id(ident), pkcs8)])[0]

    def _add(self, new: list[Certificate]) -> list[Certificate]:
        fingerprints = {c.fingerprint for c in new}
        ids = {c.id for c in new if c.id}
        kept = [c for c in self.certificates if c.fingerprint not in fingerprints and c.id not in ids]
        if len(kept) + len(new) > MAX_CERTIFICATES:
            raise failed("too many certificates")
        self.certificates = kept + new
        return new


class Certificates:
    """The device's two stores. Configuration, but not of the factory reset: 2N resets them only
    with the network settings (config/factoryreset section=network)."""

    def __init__(self) -> None:
        self.ca = CertStore("ca")
        self.user = CertStore("user")

    def export(self) -> dict[str, list[dict[str, str]]]:
        """For the state directory: each store's certificates (DER, id, key) in base64."""
        def one(c: Certificate) -> dict[str, str]:
            out = {"der": base64.b64encode(c.der).decode(), "id": c.id}
            if c.key is not None:
                out["key"] = base64.b64encode(c.key).decode()
            return out
        return {store.kind: [one(c) for c in store.certificates] for store in (self.ca, self.user)}

    @classmethod
    def restore(cls, data: dict) -> Certificates:
        """What export() wrote; ValueError (or KeyError, TypeError) for anything else."""
        out = cls()
        for store in (out.ca, out.user):
            entries = data.get(store.kind, [])
            if len(entries) > MAX_CERTIFICATES:
                raise ValueError(f"too many {store.kind} certificates")
            store.certificates = [
                Certificate(base64.b64decode(e["der"], validate=True), _user_id(e.get("id")),
                            base64.b64decode(e["key"], validate=True) if "key" in e else None)
                for e in entries]
        return out


def _name(name: x509.Name) -> dict[str, str]:
    out = {}
    for oid, key in _NAME_KEYS:
        attributes = name.get_attributes_for_oid(oid)
        if attributes:
            out[key] = str(attributes[0].value)
    return out


def _user_id(ident: str | None) -> str:
    """A user-defined id: "@" and 1 to 40 characters (manual 5.20)."""
    if ident is None or ident == "":
        return ""
    if not ident.startswith("@") or not 2 <= len(ident) <= MAX_ID + 1 or not ident.isprintable():
        raise invalid("id")
    return ident


def _certificates(blob: bytes) -> list[bytes]:
    """The DER of every certificate in a PEM or DER file; 12 blob-cert for anything else."""
    try:
        if b"-----BEGIN" in blob:
            certs = x509.load_pem_x509_certificates(blob)
        else:
            certs = [x509.load_der_x509_certificate(blob)]
        return [c.public_bytes(serialization.Encoding.DER) for c in certs]
    except ValueError:
        raise invalid("blob-cert") from None


def _private_key(blob: bytes, password: str | None) -> PrivateKey:
    """A private key from PEM or DER; 11 `password` when it is encrypted and none was given, 12
    `password` when the one given does not open it, 12 blob-pk for anything that is not a key."""
    secret = password.encode() if password else None
    loader = serialization.load_pem_private_key if b"-----BEGIN" in blob else serialization.load_der_private_key
    try:
        return loader(blob, secret)
    except TypeError:  # encrypted and no password, or a password for a key that needs none
        if secret is None:
            raise missing("password") from None
        return _private_key(blob, None)
    except ValueError:
        raise invalid("password" if secret is not None else "blob-pk") from None
    except UnsupportedAlgorithm:
        raise invalid("blob-pk") from None
