"""The OpenAPI 3.1 document, built from the endpoint list and the msgspec schemas of its bodies."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec

from mosaic.http.errors import ErrorBody
from mosaic.http.routing import Endpoint

REF_TEMPLATE = "#/components/schemas/{name}"
_PATH_PARAM = re.compile(r"{(\w+)}")
_REASONS = {
    200: "OK", 201: "Created", 204: "No content", 400: "Bad request", 401: "Unauthorized",
    402: "Insufficient credits", 403: "Forbidden (not on your plan)", 404: "Not found",
    409: "Conflict", 413: "Body too large", 422: "Unprocessable", 429: "Rate limit exceeded",
    502: "Upstream AI service error", 503: "Unavailable; retry",
}
# Path parameters named for an id hold a UUID on every route that has them (anything else is a 404).
_PATH_PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "account_id": {"type": "string", "format": "uuid"},
    "key_id": {"type": "string", "format": "uuid"},
}
_STRING: dict[str, Any] = {"type": "string"}
_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "none": [],
    "api_key_or_jwt": [{"apiKey": []}, {"jwt": []}],
    "jwt": [{"jwt": []}],
}


def _operation(endpoint: Endpoint, schema_of: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": _PATH_PARAM_SCHEMAS.get(name, _STRING)}
        for name in _PATH_PARAM.findall(endpoint.path)
    ]
    parameters += [
        {"name": q.name, "in": "query", "required": False, "schema": q.schema, "description": q.description}
        for q in endpoint.query
    ]
    success: dict[str, Any] = {"description": _REASONS.get(endpoint.status, "OK")}
    if endpoint.response is not None:
        success["content"] = {"application/json": {"schema": schema_of[endpoint.response]}}
    if endpoint.produces:
        binary = {"type": "string", "format": "binary"}
        success["content"] = {media_type: {"schema": binary} for media_type in endpoint.produces}
    responses: dict[str, Any] = {str(endpoint.status): success}
    for status in (*endpoint.errors, 500):
        responses[str(status)] = {
            "description": _REASONS.get(status, "Error"),
            "content": {"application/json": {"schema": schema_of[ErrorBody]}},
        }
    operation: dict[str, Any] = {
        "operationId": endpoint.handler.__name__,
        "summary": endpoint.summary,
        "tags": list(endpoint.tags),
        "security": _SECURITY[endpoint.auth],
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if endpoint.form is not None:
        form = {"multipart/form-data": {"schema": endpoint.form}}
        operation["requestBody"] = {"required": True, "content": form}
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema_of[endpoint.body]}},
        }
    return operation


def openapi_document(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    types: list[Any] = [ErrorBody]
    for endpoint in endpoints:
        for t in (endpoint.body, endpoint.response):
            if t is not None and t not in types:
                types.append(t)
    schemas, components = msgspec.json.schema_components(types, ref_template=REF_TEMPLATE)
    schema_of = dict(zip(types, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, schema_of)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mosaic Studio API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "us_live_… API key"},
                "jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }
