"""The OpenAPI 3.1 document of the HTTP/JSON API, derived from the services' descriptors."""

# Derived so that it describes exactly what the .proto says: the Connect protocol's unary calls,
# POST /<package>.<Service>/<Method> with the request message as JSON, in proto3's JSON mapping.

from collections.abc import Iterable
from importlib.metadata import version
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor, ServiceDescriptor

TITLE = "苏州具身智能机器人产业政策 免申即享平台 API"

_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
_INT32 = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_FIXED32,
}
# proto3's JSON mapping writes 64-bit integers as decimal strings (JavaScript's numbers lose
# digits past 2^53); amounts in fen are among them.
_INT64 = {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}

_ERROR = {
    "type": "object",
    "description": "A Connect error: the code, a message, and details such as a"
    " google.rpc.BadRequest whose `debug.fieldViolations` name each bad field.",
    "properties": {
        "code": {"type": "string", "examples": ["invalid_argument", "permission_denied"]},
        "message": {"type": "string"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "value": {"type": "string", "contentEncoding": "base64"},
                    "debug": {"type": "object"},
                },
            },
        },
    },
    "required": ["code"],
}


# Well-known types have their own JSON mapping (proto3 JSON): a Timestamp is an RFC 3339 string.
_WELL_KNOWN: dict[str, dict[str, str]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
}


def _ref(descriptor: Descriptor) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{descriptor.full_name}"}


def _field(field: FieldDescriptor, pending: list[Descriptor]) -> dict[str, Any]:
    """One field's schema; a message it names is queued for the components."""
    if field.message_type is not None:
        message = field.message_type
        if message.GetOptions().map_entry:
            value = _field(message.fields_by_name["value"], pending)
            return {"type": "object", "additionalProperties": value}
        if message.full_name in _WELL_KNOWN:
            schema: dict[str, Any] = dict(_WELL_KNOWN[message.full_name])
        else:
            pending.append(message)
            schema = _ref(message)
    elif field.enum_type is not None:
        schema = {"type": "string", "enum": [v.name for v in field.enum_type.values]}
    elif field.type in _INT32:
        schema = {"type": "integer", "format": "int32"}
    elif field.type in _SCALARS:
        schema = dict(_SCALARS[field.type])
    else:
        schema = dict(_INT64)
    if field.is_repeated:
        return {"type": "array", "items": schema}
    return schema


def _message(descriptor: Descriptor, pending: list[Descriptor]) -> dict[str, Any]:
    properties = {f.json_name: _field(f, pending) for f in descriptor.fields}
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    oneofs = [o for o in descriptor.oneofs if not o.name.startswith("_")]
    if oneofs:
        schema["description"] = "; ".join(
            f"at most one of {', '.join(f.json_name for f in o.fields)}" for o in oneofs
        )
    return schema


def _components(roots: Iterable[Descriptor]) -> dict[str, Any]:
    """Every message reachable from the roots, by full name."""
    schemas: dict[str, Any] = {}
    pending = list(roots)
    while pending:
        descriptor = pending.pop()
        if descriptor.full_name not in schemas:
            schemas[descriptor.full_name] = _message(descriptor, pending)
    schemas["connect.Error"] = _ERROR
    return schemas


def _operation(method: Any, public: bool) -> dict[str, Any]:
    service = method.containing_service
    json = "application/json"
    return {
        "operationId": f"{service.name}_{method.name}",
        "tags": [service.name],
        "security": [] if public else [{"bearer": []}],
        "requestBody": {"required": True, "content": {json: {"schema": _ref(method.input_type)}}},
        "responses": {
            "200": {"description": "OK", "content": {json: {"schema": _ref(method.output_type)}}},
            "default": {
                "description": "A Connect error",
                "content": {json: {"schema": {"$ref": "#/components/schemas/connect.Error"}}},
            },
        },
    }


def document(services: Iterable[ServiceDescriptor], public: frozenset[str]) -> dict[str, Any]:
    """The OpenAPI document of the unary methods of `services`; the methods named in
    `public` (full names, `pkg.Service/Method`) need no token."""
    paths: dict[str, Any] = {}
    roots: list[Descriptor] = []
    for service in services:
        for method in service.methods:
            if method.client_streaming or method.server_streaming:
                continue
            name = f"{service.full_name}/{method.name}"
            paths[f"/{name}"] = {"post": _operation(method, name in public)}
            roots += [method.input_type, method.output_type]
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": version("suzhou-subsidy")},
        "paths": paths,
        "components": {
            "schemas": _components(roots),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A session token (IdentityService/CreateSession) or a"
                    " machine token issued to a feed or an auditor",
                }
            },
        },
    }
