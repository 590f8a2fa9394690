"""cert/ca and cert/user (manual 5.20, firmware 2.42) over real HTTP, with certificates made here."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


from emulator.settings import parse_user
from support import form

PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER
START = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
END = datetime.datetime(2034, 1, 1, tzinfo=datetime.UTC)
STORE_LIMIT = 64  # certificates a store keeps (emulator.device.certs)


def name(cn: str, **more: str) -> x509.Name:
    oids = {"O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "C": NameOID.COUNTRY_NAME,
            "L": NameOID.LOCALITY_NAME, "S": NameOID.STATE_OR_PROVINCE_NAME}
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] +
                     [x509.NameAttribute(oids[k], v) for k, v in more.items()])


def certificate(subject: x509.Name, key, issuer: x509.Name | None = None, signer=None) -> x509.Certificate:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(START).not_valid_after(END)
            .sign(signer or key, hashes.SHA256()))


@pytest.fixture(scope="module")
def pki():
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate(name("Door CA", O="Example", C="CZ"), ca_key)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = certificate(name("Other CA"), other_key)
    user_key = ec.generate_private_key(ec.SECP256R1())
    user = certificate(name("intercom.example.com", OU="Doors"), user_key, ca.subject, ca_key)
    return {"ca": ca, "other": other, "user": user, "user_key": user_key, "other_key": other_key}


def sha1(cert: x509.Certificate) -> str:
    return hashlib.sha1(cert.public_bytes(DER)).hexdigest()


def key_pem(key, password: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, encryption)


async def put(api, path: str, **fields):
    params = {"id": fields.pop("id")} if "id" in fields else None
    return await api.request("PUT", path, params=params, data=form(**fields))


async def test_ca_upload_list_and_delete(api, pki):
    reply = await put(api, "/api/cert/ca", id="@doors", **{"blob-cert": pki["ca"].public_bytes(PEM)})
    [entry] = reply.result["certificates"]
    assert entry == {"fingerprint": sha1(pki["ca"]), "subject": {"CN": "Door CA", "O": "Example", "C": "CZ"},
                     "issuer": {"CN": "Door CA", "O": "Example", "C": "CZ"}, "id": "@doors",
                     "startDate": int(START.timestamp()), "endDate": int(END.timestamp()),
                     "protected": False, "systemUseOnly": False}
    # DER works too, and without an id there is none.
    assert "id" not in (await put(api, "/api/cert/ca", **{"blob-cert": pki["other"].public_bytes(DER)}
                               )).result["certificates"][0]
    listed = (await api.get("/api/cert/ca")).result["certificates"]
    assert [c["fingerprint"] for c in listed] == [sha1(pki["ca"]), sha1(pki["other"])]
    assert (await api.get("/api/cert/ca", id="@doors")).result["certificates"] == [entry]
    assert (await api.get("/api/cert/ca", id=sha1(pki["other"]))).result["certificates"][0]["subject"] == {
        "CN": "Other CA"}
    assert (await api.request("DELETE", "/api/cert/ca", params={"id": "@doors"})).json == {"success": True}
    assert (await api.request("DELETE", "/api/cert/ca", params={"id": sha1(pki["other"])})).json == {"success": True}
    assert (await api.get("/api/cert/ca")).result == {"certificates": []}
    assert (await api.request("DELETE", "/api/cert/ca", params={"id": "@doors"})).error["param"] == "id"
    assert (await api.request("DELETE", "/api/cert/ca")).error == {
        "code": 11, "param": "id", "description": "missing mandatory parameter"}


async def test_a_pem_bundle_is_several_certificates_and_uploading_again_replaces(api, pki):
    bundle = pki["ca"].public_bytes(PEM) + pki["other"].public_bytes(PEM)
    assert len((await put(api, "/api/cert/ca", **{"blob-cert": bundle})).result["certificates"]) == 2
    await put(api, "/api/cert/ca", id="@again", **{"blob-cert": pki["ca"].public_bytes(PEM)})
    listed = (await api.get("/api/cert/ca")).result["certificates"]
    assert sorted((c["fingerprint"], c.get("id")) for c in listed) == sorted(
        [(sha1(pki["other"]), None), (sha1(pki["ca"]), "@again")])


async def test_user_certificate_with_its_key(api, pki):
    reply = await put(api, "/api/cert/user", id="@client", **{
        "blob-cert": pki["user"].public_bytes(PEM), "blob-pk": key_pem(pki["user_key"])})
    entry = reply.result["certificates"][0]
    assert (entry["subject"], entry["issuer"]) == ({"CN": "intercom.example.com", "OU": "Doors"},
                                                   {"CN": "Door CA", "O": "Example", "C": "CZ"})
    assert (await api.get("/api/cert/user")).result["certificates"] == [entry]
    assert (await api.get("/api/cert/ca")).result["certificates"] == []  # a store of its own
    # An encrypted key with its password, as DER.
    der_key = pki["user_key"].private_bytes(DER, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"s3cret"))
    reply = await api.request("PUT", "/api/cert/user", data=form(**{
        "blob-cert": pki["user"].public_bytes(DER), "blob-pk": der_key, "password": "s3cret"}))
    assert reply.result["certificates"][0]["fingerprint"] == sha1(pki["user"])


CA_JUNK = [
    ({}, {}, 11, "blob-cert"),
    ({"blob-cert": b"not a certificate"}, {}, 12, "blob-cert"),
    ({"blob-cert": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, {}, 12, "blob-cert"),
    ({"blob-cert": "ca"}, {"id": "no-at"}, 12, "id"),
    ({"blob-cert": "ca"}, {"id": "@" + "x" * 41}, 12, "id"),
]
USER_JUNK = [
    ({"blob-cert": "user"}, {}, 11, "blob-pk"),
    ({"blob-cert": "user", "blob-pk": b"junk"}, {}, 12, "blob-pk"),
    ({"blob-cert": "user", "blob-pk": "other key"}, {}, 12, "blob-pk"),  # not the certificate's key
    ({"blob-cert": "user", "blob-pk": "encrypted key"}, {}, 11, "password"),
    ({"blob-cert": "user", "blob-pk": "encrypted key"}, {"password": "wrong"}, 12, "password"),
    ({"blob-cert": b"junk", "blob-pk": "key"}, {}, 12, "blob-cert"),
]


@pytest.mark.parametrize("path, fields, params, code, param", [("/api/cert/ca", *case) for case in CA_JUNK] +
                         [("/api/cert/user", *case) for case in USER_JUNK])
async def test_junk_is_refused_and_changes_nothing(api, pki, path, fields, params, code, param):
    named = {"ca": pki["ca"].public_bytes(PEM), "user": pki["user"].public_bytes(PEM),
             "key": key_pem(pki["user_key"]), "other key": key_pem(pki["other_key"]),
             "encrypted key": key_pem(pki["user_key"], b"right")}
    data = {k: named[v] if isinstance(v, str) else v for k, v in fields.items()}
    reply = await api.request("PUT", path, params=params, data=form(**data) if data else form(note="x"))
    assert reply.error["code"] == code and reply.error["param"] == param, reply.json
    assert (await api.get(path)).result == {"certificates": []}


async def test_the_store_is_bounded(api, pki):
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(STORE_LIMIT + 1)]
    bundle = b"".join(certificate(name(f"CA {i}"), k).public_bytes(PEM) for i, k in enumerate(keys))
    reply = await put(api, "/api/cert/ca", **{"blob-cert": bundle})
    assert reply.error == {"code": 14, "description": "too many certificates"}
    assert (await api.get("/api/cert/ca")).result == {"certificates": []}


async def test_system_privilege_firmware_2_42_and_configuration_changed(make_emulator, make_client, pki):
    emu = await make_emulator(users=[parse_user("admin:2n"), parse_user("door:pw:switch-control")])
    assert (await make_client(emu, user=("door", "pw")).get("/api/cert/ca")).error["code"] == 10
    api = make_client(emu)
    channel = (await api.get("/api/log/subscribe", filter="ConfigurationChanged")).result["id"]
    await put(api, "/api/cert/ca", **{"blob-cert": pki["ca"].public_bytes(PEM)})
    assert [e["event"] for e in (await api.get("/api/log/pull", id=channel)).result["events"]] == [
        "ConfigurationChanged"]
    assert (await api.post("/api/cert/ca", data={})).error["code"] == 3  # GET, PUT, DELETE
    old = make_client(await make_emulator(profile="vario-2.15"))
    assert (await old.get("/api/cert/ca")).error["code"] == 2
