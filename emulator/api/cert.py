"""Certificates (manual 5.20, firmware 2.42): cert/ca and cert/user.

GET lists a store (or the certificates `id` names: a user id "@..." or a fingerprint), PUT
uploads (multipart blob-cert, and blob-pk with an optional password for cert/user; optional `id`),
DELETE removes what `id` names. The model is emulator.device.certs.
"""

from __future__ import annotations

from emulator.api.call import Call
from emulator.device.certs import CertStore


def ca(call: Call) -> dict | None:
    return _handle(call, call.device.certificates.ca)


def user(call: Call) -> dict | None:
    return _handle(call, call.device.certificates.user)


def _handle(call: Call, store: CertStore) -> dict | None:
    params = call.params
    method = call.request.method
    if method == "GET":
        ident = params.get("id")
        certificates = store.find(ident) if ident else store.certificates
        return {"certificates": [c.describe() for c in certificates]}
    if method == "DELETE":
        store.delete(params.required("id"))
        call.device.configured()
        return None
    if store.kind == "ca":
        added = store.add_ca(params.blob("blob-cert"), params.get("id"))
    else:
        added = [store.add_user(params.blob("blob-cert"), params.blob("blob-pk"), params.get("password"),
                                params.get("id"))]
    call.device.configured()
    return {"certificates": [c.describe() for c in added]}
