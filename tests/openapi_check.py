"""Conformance against Attio's own OpenAPI document (`tests/data/attio-openapi.yaml`).

The document is part of the repository (its header says where it came from and which version
it is), so conformance runs in every clone: no test skips for its absence, and a missing file
is an error, never a skip.

`validate_response` checks one answer, `validate_request` one request, both with openapi-core.
The document is loaded once per process (about 2 s) and mended first: several nullable fields
declare ``type: [string, "null"]`` with an `enum` that lacks null (api-notes section 9), so null
is added to every such enum. Timestamp values declare ``format: date`` yet are timestamps (their
own example says so); they are read as ``date-time``.

Error answers: the document declares only some error codes per operation, and no 401 or 429 at
all (api-notes 1.3, 1.6). An error body is therefore always checked against Attio's common
envelope (`status_code`, `type`, `code`, `message`, optional `validation_errors`), and in full
against the operation's own schema whenever that schema declares the status *and* the code.
5xx bodies are not checked: Attio's may not even be JSON.

Usage::

    from openapi_check import validate_response  # tests/ is on sys.path
    validate_response("GET", "/v2/objects/people", 200, body)
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

__all__ = [
    "SPEC_PATH",
    "ConformanceError",
    "validate_request",
    "validate_response",
]

SPEC_PATH = Path(__file__).resolve().parent / "data" / "attio-openapi.yaml"
HOST = "https://api.attio.com"

_ERROR_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "required": ["status_code", "type", "code", "message"],
    "properties": {
        "status_code": {"type": "number"},
        "type": {"type": "string", "enum": ["invalid_request_error", "auth_error", "rate_limit_error"]},
        "code": {"type": "string", "minLength": 1},
        "message": {"type": "string", "minLength": 1},
        "validation_errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "path", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "path": {"type": "array", "items": {"type": ["string", "number"]}},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


class ConformanceError(AssertionError):
    """A request or response that Attio's OpenAPI document does not allow."""


def _mend(node: Any) -> None:
    """Mend the document's two known defects in place.

    1. api-notes section 9: add None to each enum whose type allows null.
    2. Timestamp read values declare ``format: date`` although their description and example
       are full timestamps (``2023-01-01T15:00:00.000000000Z``); read them as ``date-time``.
    """
    if isinstance(node, dict):
        kind = node.get("type")
        enum = node.get("enum")
        if isinstance(enum, list) and isinstance(kind, list) and "null" in kind and None not in enum:
            enum.append(None)
        props = node.get("properties")
        if isinstance(props, dict) and (props.get("attribute_type") or {}).get("enum") == ["timestamp"]:
            value = props.get("value")
            if isinstance(value, dict) and value.get("format") == "date":
                value["format"] = "date-time"
        for child in node.values():
            _mend(child)
    elif isinstance(node, list):
        for child in node:
            _mend(child)


@lru_cache(maxsize=1)
def _spec() -> tuple[Any, dict[str, Any], list[tuple[re.Pattern[str], str, int]]]:
    import yaml
    from openapi_core import OpenAPI

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader
    _mend(document)
    # Auth is not what conformance checks (the sandbox tests it), and openapi-core cannot
    # evaluate the document's oauth2 scheme (it warns "Unsupported scheme type").
    document.pop("security", None)
    for operations in document["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    templates = []
    for template in document["paths"]:
        pattern = re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", template) + "$")
        templates.append((pattern, template, template.count("{")))
    templates.sort(key=lambda t: t[2])  # concrete segments win over parameters
    return OpenAPI.from_dict(document), document, templates


def _template(path: str) -> str | None:
    for pattern, template, _ in _spec()[2]:
        if pattern.match(path):
            return template
    return None


def _split(url: str, query: dict[str, str] | None) -> tuple[str, str]:
    parts = urlsplit(url)
    query_string = parts.query or (urlencode(query) if query else "")
    return parts.path, query_string


def _mock_request(method: str, url: str, body: Any, query: dict[str, str] | None) -> Any:
    from openapi_core.testing import MockRequest

    path, query_string = _split(url, query)
    args = dict(re.findall(r"([^&=]+)=([^&]*)", query_string)) if query_string else {}
    data = json.dumps(body).encode() if body is not None else None
    return MockRequest(HOST, method.lower(), path, args=args, data=data,
                       headers={"Authorization": "Bearer x"} if data is None else
                       {"Authorization": "Bearer x", "Content-Type": "application/json"})  # fmt: skip


def validate_request(method: str, url: str, body: Any = None, query: dict[str, str] | None = None) -> None:
    """Check a request (method, path with or without query, JSON body) against the document.

    Raises:
        ConformanceError: the document does not allow it.
    """
    openapi, _, _ = _spec()
    try:
        openapi.validate_request(_mock_request(method, url, body, query))
    except Exception as exc:  # openapi-core raises a family of its own errors
        raise ConformanceError(f"{method} {url}: request does not conform: {_describe(exc)}") from exc


def validate_response(
    method: str,
    url: str,
    status: int,
    body: Any,
    request_body: Any = None,
    query: dict[str, str] | None = None,
) -> None:
    """Check one response against the document (see the module docstring for error bodies).

    Args:
        method: the request's method.
        url: the request's path or URL (a query string is allowed).
        status: the response status.
        body: the parsed JSON response body.
        request_body: the request's JSON body (openapi-core parses the request too).
        query: query parameters, when `url` carries none.

    Raises:
        ConformanceError: the document does not allow it.
    """
    if status >= 500:
        return
    openapi, document, _ = _spec()
    path, _ = _split(url, query)
    template = _template(path)
    if template is None:
        if status == 404:
            _check_envelope(method, url, status, body)
            return
        raise ConformanceError(f"{method} {url}: no such path in the OpenAPI document")
    if status >= 400:
        _check_envelope(method, url, status, body)
        declared = (document["paths"][template].get(method.lower()) or {}).get("responses", {}).get(str(status))
        schema = ((declared or {}).get("content") or {}).get("application/json", {}).get("schema") or {}
        codes = ((schema.get("properties") or {}).get("code") or {}).get("enum") or []
        if body.get("code") not in codes:
            return  # an error the document does not list for this operation: envelope only
    from openapi_core.testing import MockResponse

    response = MockResponse(json.dumps(body).encode(), status_code=status, content_type="application/json")
    try:
        openapi.validate_response(_mock_request(method, url, request_body, query), response)
    except Exception as exc:
        raise ConformanceError(f"{method} {url} -> {status}: response does not conform: {_describe(exc)}") from exc


def _check_envelope(method: str, url: str, status: int, body: Any) -> None:
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(_ERROR_ENVELOPE).iter_errors(body), key=lambda e: list(e.path))
    if errors or body.get("status_code") != status:
        detail = "; ".join(f"{list(e.path)}: {e.message}" for e in errors) or "status_code differs from HTTP status"
        raise ConformanceError(f"{method} {url} -> {status}: not Attio's error envelope: {detail}")


def _describe(exc: BaseException) -> str:
    parts = [f"{type(exc).__name__}: {str(exc)[:300]}"]
    cause = exc.__cause__ or exc.__context__
    seen = 0
    while cause is not None and seen < 4:
        parts.append(f"{type(cause).__name__}: {str(cause)[:300]}")
        for sub in getattr(cause, "schema_errors", ()) or ():
            parts.append(f"  at {list(getattr(sub, 'absolute_path', []))}: {getattr(sub, 'message', sub)}"[:600])
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return "\n".join(parts)
