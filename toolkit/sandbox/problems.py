"""Attio's error bodies (api-notes 1.5, 1.6) as one exception the request handlers raise."""

from __future__ import annotations

from typing import Any

__all__ = ["ApiProblem", "invalid_value", "json_type_name", "not_found", "unrecognized_keys", "validation_item"]

JSON = dict[str, Any]

_TYPES = {401: "auth_error", 403: "auth_error", 429: "rate_limit_error"}


class ApiProblem(Exception):
    """An Attio error answer: HTTP status, `type`, `code`, `message` and optional extras.

    Args:
        status: the HTTP status.
        code: Attio's `code`, e.g. ``"value_not_found"``.
        message: Attio's `message`.
        validation_errors: zod-style items, for ``validation_type``.
        type: Attio's `type`; derived from the status when omitted.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        validation_errors: list[JSON] | None = None,
        type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.validation_errors = validation_errors
        self.type = type or _TYPES.get(status, "invalid_request_error")

    def body(self) -> JSON:
        """The JSON body Attio sends."""
        body: JSON = {"status_code": self.status, "type": self.type, "code": self.code, "message": self.message}
        if self.validation_errors is not None:
            body["validation_errors"] = self.validation_errors
        return body


def not_found(message: str) -> ApiProblem:
    """404 `not_found`."""
    return ApiProblem(404, "not_found", message)


def validation_item(code: str, path: list[str | int], message: str, **extra: Any) -> JSON:
    """One zod-style `validation_errors` item."""
    return {"code": code, "path": path, "message": message, **extra}


def unrecognized_keys(keys: object) -> JSON:
    """The zod item for keys an object does not allow."""
    found = sorted(keys)  # type: ignore[call-overload]
    return validation_item("unrecognized_keys", [], f"Unrecognized key(s) in object: {found}", keys=found)


def invalid_value(slug: str, errors: list[JSON]) -> ApiProblem:
    """400 `validation_type` naming the attribute, with the inner problems (api-notes 1.5)."""
    return ApiProblem(
        400,
        "validation_type",
        f'An invalid value was passed to attribute with slug "{slug}".',
        validation_errors=errors,
    )


def json_type_name(value: Any) -> str:
    """The zod name of a JSON value's type, for `received`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "unknown"
