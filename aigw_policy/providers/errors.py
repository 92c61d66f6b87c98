"""Errors raised by the provider adapters (never a traceback from bad input)."""

from __future__ import annotations


class ProviderError(ValueError):
    """A provider payload could not be understood.

    ``code`` is stable (``bad-request``, ``bad-response``, ``bad-override``); ``message`` is
    lowercase, one line, user input in backticks.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
