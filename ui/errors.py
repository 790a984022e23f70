"""The API's error: an HTTP status and a message a person can act on (never a stack trace)."""

from __future__ import annotations


class APIError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
