"""The exception hierarchy (defined natively) and helpers to raise its classes from
Python with the same attributes the engine sets."""

from __future__ import annotations

from ._native import (
    ConfigurationError,
    ExhaustedError,
    LMRotateError,
    NoAvailableKeyError,
    ProviderError,
    StreamError,
)

__all__ = [
    "LMRotateError",
    "ConfigurationError",
    "NoAvailableKeyError",
    "ProviderError",
    "ExhaustedError",
    "StreamError",
    "BlockingCallError",
    "configuration_error",
]


class BlockingCallError(LMRotateError, RuntimeError):
    """A blocking call (``chat_sync``) was made inside a running event loop."""


def configuration_error(path: str, message: str) -> ConfigurationError:
    """A ConfigurationError saying what is wrong and where."""
    shown = f"invalid configuration at `{path}`: {message}" if path else f"invalid configuration: {message}"
    error = ConfigurationError(shown)
    error.path = path
    error.message = message
    error.kind = "configuration"
    error.status = None
    error.retry_after = None
    return error
