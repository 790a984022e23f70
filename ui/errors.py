"""The API's error: an HTTP status and a message a person can act on (never a stack trace)."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    def __init__(self, status: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or {}  # more for programs (e.g. a template's problems)
