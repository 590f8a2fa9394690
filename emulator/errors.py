"""The one error type of the emulator: a 2N API error with the manual's code and description.

The device model raises it too (an unknown switch is an invalid parameter value wherever it is
found), so it lives outside both `device/` and `api/` and imports neither.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from enum import IntEnum


class ErrorCode(IntEnum):
    """Error codes of the 2N HTTP API, each with the manual's exact description."""

    description: str

    def __new__(cls, value: int, description: str) -> ErrorCode:
        member = int.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member

    NOT_SUPPORTED = 1, "function is not supported"
    INVALID_PATH = 2, "invalid request path"
    INVALID_METHOD = 3, "invalid request method"
    DISABLED = 4, "function is disabled"
    LICENSED = 5, "function is licensed"
    INVALID_CONNECTION = 7, "invalid connection type"
    INVALID_AUTH_METHOD = 8, "invalid authentication method"
    AUTH_REQUIRED = 9, "authorisation required"
    INSUFFICIENT_PRIVILEGES = 10, "insufficient user privileges"
    MISSING_PARAMETER = 11, "missing mandatory parameter"
    INVALID_PARAMETER = 12, "invalid parameter value"
    PARAMETER_TOO_BIG = 13, "parameter data too big"
    PROCESSING_ERROR = 14, "unspecified processing error"
    NO_DATA = 15, "no data available"
    # Newer firmware only (py2n knows them); never raised by a 2.15 profile.
    PARAMETER_COLLISION = 17, "parameter collision"


class ApiError(Exception):
    """A request failed the way the device reports it: `{"success": false, "error": {...}}`.

    `reason` says why in words for the journal and the log (never on the wire: the device's reply
    is the same whatever the reason); without one, the description and the parameter say it."""

    def __init__(self, code: ErrorCode, param: str | None = None, description: str | None = None,
                 reason: str | None = None):
        super().__init__(f"{int(code)} {description or code.description}" + (f" ({param})" if param else ""))
        self.code = code
        self.param = param
        self.description = description or code.description
        self._reason = reason

    @property
    def reason(self) -> str:
        if self._reason is not None:
            return self._reason
        return self.description + (f": {self.param}" if self.param else "")

    def envelope(self) -> dict:
        error: dict = {"code": int(self.code)}
        if self.param is not None:
            error["param"] = self.param
        error["description"] = self.description
        return {"success": False, "error": error}


def missing(param: str) -> ApiError:
    return ApiError(ErrorCode.MISSING_PARAMETER, param)


def invalid(param: str) -> ApiError:
    return ApiError(ErrorCode.INVALID_PARAMETER, param)


def failed(description: str) -> ApiError:
    """Code 14 with the free-text description newer firmware uses ("session not found", ...)."""
    return ApiError(ErrorCode.PROCESSING_ERROR, description=description)


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` for a misspelt name (of a key, a parameter, an action), or nothing."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.7)
    return f"; did you mean {close[0]!r}?" if close else ""
