"""The control plane described in OpenAPI 3.1, made from the registries the code dispatches on:
the endpoint table (control/app.py ENDPOINTS), the actions (their signatures and docstrings) and
the fault kinds (their declared parameters and docstrings). Nothing here is written twice, so the
document cannot drift from what the emulator does.
"""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING, Any

from emulator import __version__
from emulator.control import actions
from emulator.control.faults import COMMON, KINDS, Fault, Param
from emulator.control.faults.base import REQUIRED

if TYPE_CHECKING:
    from emulator.control.app import Endpoint

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}
ERROR = {"type": "object", "properties": {"error": {"type": "string", "description": "what is wrong, in words"}},
         "required": ["error"]}
DESCRIPTION = """\
The emulator's own control plane: make things happen in the physical world (actions), inject
faults, move a virtual clock, read the journal of requests and device actions, read and put back
the device's state, play scenarios. The emulated device's HTTP API is under /api (2N's manual).

With `--control-token TOKEN` every endpoint but health, ready and the front panel's files needs
`Authorization: Bearer TOKEN`.

Request faults hit /api requests the device accepts (past its path, method, service, licence,
transport, credential and privilege checks): a Digest challenge round trip (the 401 before the
request with credentials) or a refusal is neither faulted nor counted against `times`;
`authenticated: true` hits only requests that authenticated with an account. Device faults act
once, when added. Event faults bend the delivery of events to subscription channels."""


def document(endpoints: tuple[Endpoint, ...]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        if endpoint.body == "action":
            for name in actions.ACTIONS:  # one path per action: each has its own parameters
                path = endpoint.path.replace("{name}", name)
                paths.setdefault(path, {})["post"] = _operation(endpoint, f"act_{name.replace('-', '_')}",
                                                                actions.doc_of(name), _action_body(name))
            continue
        operation = _operation(endpoint, endpoint.handler, endpoint.summary, _BODIES.get(endpoint.body))
        if "{id}" in endpoint.path:
            operation["parameters"] = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"},
                                        "description": "the fault's id"}]
        if endpoint.handler == "journal":
            operation["parameters"] = [{"name": "filters", "in": "query", "style": "form", "explode": True,
                                        "schema": {"type": "object", "additionalProperties": {"type": "string"}},
                                        "description": "any field of an entry (kind, path, status, method, account, "
                                                       "reason, ended, ...); a value ending in * matches a prefix"}]
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "helios-emulator control plane", "version": __version__, "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR, **{_fault_name(kind): _fault_schema(cls) for kind, cls in KINDS.items()}},
            "securitySchemes": {"controlToken": {"type": "http", "scheme": "bearer",
                                                 "description": "only when started with --control-token"}},
        },
    }


def _operation(endpoint: Endpoint, operation_id: str, summary: str, body: dict[str, Any] | None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id, "summary": summary.split(". ")[0][:120], "description": summary,
        "responses": {
            "200": {"description": "done", "content": {"application/json": {"schema": {}}}},
            "400": {"description": "a bad request, and why", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}},
            "401": {"description": "the control token is missing or wrong"},
        },
        "security": [{}, {"controlToken": []}],
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": body}
    return operation


def _action_body(name: str) -> dict[str, Any]:
    properties, required = {}, []
    for p in actions.params_of(name):
        schema = {"type": _JSON_TYPES[p.type], "description": p.doc}
        if p.choices is not None:
            schema["enum"] = list(p.choices)
        if p.required:
            required.append(p.name)
        else:
            schema["default"] = p.default
        properties[p.name] = schema
    return {"application/json": {"schema": {"type": "object", "properties": properties, "required": required,
                                            "additionalProperties": False}}}


def _fault_name(kind: str) -> str:
    return "Fault_" + kind


def fault_doc(cls: type[Fault]) -> str:
    """What a fault kind does: its file's docstring (one small file per kind)."""
    return " ".join((inspect.getdoc(sys.modules[cls.__module__]) or "").split())


def _fault_schema(cls: type[Fault]) -> dict[str, Any]:
    own = dict(COMMON, path=COMMON["path"]._replace(default=cls.default_path))
    properties: dict[str, Any] = {"kind": {"const": cls.kind}}
    required = ["kind"]
    for name, param in {**own, **cls.params}.items():
        properties[name] = _param_schema(param)
        if param.default is REQUIRED:
            required.append(name)
    return {"type": "object", "title": cls.kind, "description": f"({cls.scope} fault) {fault_doc(cls)}",
            "properties": properties, "required": required, "additionalProperties": False}


def _param_schema(param: Param) -> dict[str, Any]:
    kinds = param.type if isinstance(param.type, tuple) else (param.type,)
    types = sorted({_JSON_TYPES[k] for k in kinds} - ({"integer"} if float in kinds or len(kinds) > 1 else set()))
    if param.default is None:
        types.append("null")
    schema: dict[str, Any] = {"type": types[0] if len(types) == 1 else types, "description": param.doc}
    if list in kinds:
        schema["items"] = {"type": "string"}
    if param.choices is not None:
        schema["enum"] = list(param.choices)
    if param.default is not REQUIRED and param.default is not None:
        schema["default"] = param.default
    return schema


_BODIES: dict[str | None, dict[str, Any]] = {
    "fault": {"application/json": {"schema": {
        "oneOf": [{"$ref": f"#/components/schemas/{_fault_name(kind)}"} for kind in KINDS],
        "discriminator": {"propertyName": "kind",
                          "mapping": {kind: f"#/components/schemas/{_fault_name(kind)}" for kind in KINDS}}}}},
    "clock": {"application/json": {"schema": {"type": "object", "required": ["advance"], "properties": {
        "advance": {"type": "number", "minimum": 0, "description": "seconds to move the virtual clock forward"}}}}},
    "state": {"application/json": {"schema": {
        "type": "object", "description": "what GET /_emulator/state gives, or part of it: config, switches, ports "
                                         "and registrations are put back; the other keys are read-only and ignored"}}},
    "scenario": {"application/toml": {"schema": {"type": "string", "description": "a TOML timeline: name, "
                                                 "[[steps]] with at (seconds) and an action or a fault"}},
                 "application/json": {"schema": {"type": "object"}}},
}
