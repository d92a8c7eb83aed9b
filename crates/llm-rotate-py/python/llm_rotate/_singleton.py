"""The module-level singleton: ``configure()`` once, then ``lm`` everywhere."""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, cast

from . import _native
from ._client import LMRotate
from ._config import LMRotateConfig, _chains, engine_config, from_engine
from ._errors import configuration_error

__all__ = ["configure", "lm"]

_lock = threading.Lock()
_instance: Optional[LMRotate] = None


def configure(
    use_keys: Optional[List[str]] = None,
    *,
    registry: Optional[dict] = None,
    config: Optional[LMRotateConfig] = None,
    strategy: Optional[str] = None,
    priorities: Optional[Dict[str, int]] = None,
    fallback_chains: Optional[Dict[str, List[Dict[str, str]]]] = None,
) -> None:
    """Initialise the module-level lm singleton. Must be called once, before the first
    use of lm. Provide either config= or registry= + use_keys=. Built-in providers are
    merged automatically. Calling twice raises ConfigurationError."""
    global _instance
    if use_keys is not None and (isinstance(use_keys, str) or not isinstance(use_keys, (list, tuple))):
        raise TypeError("use_keys must be a list of key ids")
    if registry is not None and not isinstance(registry, dict):
        raise TypeError(f"registry must be a dict, not {type(registry).__name__}")
    if config is not None and not isinstance(config, (LMRotateConfig, dict)):
        raise TypeError(f"config must be an LMRotateConfig, not {type(config).__name__}")
    with _lock:
        if _instance is not None:
            raise configuration_error("", "llm_rotate.configure() was already called in this process")
        data = _native.prepare_config(
            None if use_keys is None else list(use_keys),
            registry,
            None if config is None else engine_config(config),
            strategy,
            priorities,
            _chains(fallback_chains),
        )
        model = from_engine(data)
        _instance = LMRotate(model)


def _current() -> LMRotate:
    instance = _instance
    if instance is None:
        raise configuration_error("", "llm_rotate.configure(...) has not been called yet")
    return instance


def _reset() -> None:
    """Forgets the singleton (for tests)."""
    global _instance
    with _lock:
        _instance = None


class _LM:
    """A proxy to the configured singleton LMRotate instance, with the same methods."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(_current(), name)

    def __repr__(self) -> str:
        instance = _instance
        return "lm(<not configured>)" if instance is None else f"lm({instance!r})"

    def __dir__(self) -> List[str]:
        return [n for n in dir(LMRotate) if not n.startswith("_")]


#: Typed as LMRotate so editors and type checkers see its methods.
lm: LMRotate = cast(LMRotate, _LM())
