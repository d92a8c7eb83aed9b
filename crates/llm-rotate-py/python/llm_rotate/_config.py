"""The configuration models (pydantic) and the two ways to build one.

The models mirror the engine's own, field for field, with the reference's defaults;
every model refuses unknown fields. Credentials (``KeyConfig.value``, provider
``headers``) are ``SecretStr``: they never show in ``repr``, ``str`` or a plain
``model_dump()``, and reach the engine only through :func:`engine_config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_serializer

from . import _native
from ._errors import configuration_error

__all__ = [
    "DefaultsConfig",
    "FallbackEntry",
    "StateStoreConfig",
    "ProviderConfig",
    "KeyConfig",
    "ModelPrice",
    "LMRotateConfig",
    "configure_from_dict",
    "configure_from_file",
]

Strategy = Literal["round_robin", "priority", "weighted", "health_aware"]


def _reveals(info: Any) -> bool:
    return bool(isinstance(info.context, dict) and info.context.get("reveal"))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DefaultsConfig(_Model):
    """Defaults that apply to every provider unless it overrides them."""

    selection_strategy: Strategy = "health_aware"
    """How keys are chosen: round_robin | priority | weighted | health_aware."""
    max_retries: int = Field(default=3, ge=0)
    """Retries after transient failures, per plan entry."""
    cooldown_seconds: int = Field(default=60, ge=0)
    """Rest after a rate limit that named no wait."""
    quarantine_seconds: int = Field(default=300, ge=0)
    """First quarantine period (doubles on repeats, capped at 8x)."""
    max_consecutive_failures: int = Field(default=5, ge=0)
    """Transient failures in a row that quarantine a key."""
    max_transient_ejection: float = Field(default=0.5, ge=0, le=1)
    """The largest share of a provider's keys that may rest for transient faults at once."""
    request_timeout_seconds: int = Field(default=60, ge=0)
    """Time limit of one upstream request."""
    stream_idle_timeout_seconds: int = Field(default=60, ge=0)
    """Longest silence allowed inside a stream."""
    call_timeout_seconds: Optional[int] = Field(default=None, ge=0)
    """The longest a whole call may take, retries and fallback included."""
    dead_key_after_failed_probes: int = Field(default=3, ge=0)
    """Probes refused for a key's credentials that make it dead (0: never)."""
    max_wait_seconds: int = Field(default=0, ge=0)
    """How long a call waits for a key to come back when none is eligible."""
    max_waiters: int = Field(default=1024, ge=0)
    """Calls that may wait at once."""
    slow_start_seconds: int = Field(default=0, ge=0)
    """Ramp time of a key back from a rest (0: off)."""


class FallbackEntry(_Model):
    """One step of a fallback chain."""

    provider: str
    upstream: Optional[str] = None
    """The model id at that provider (defaults to the requested model)."""


class StateStoreConfig(_Model):
    """Where key health and usage live."""

    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://localhost:6379/0"
    redis_cluster: bool = False
    redis_namespace: str = "llmrotate"

    @field_serializer("redis_url")
    def _redis_url(self, url: str, info: Any) -> str:
        return url if _reveals(info) else _native.redact_url(url)

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, (_native.redact_url(value) if name == "redis_url" else value)


class ProviderConfig(_Model):
    """A provider: a vendor endpoint speaking one wire protocol (see docs/providers.md)."""

    api: Optional[str] = None
    base_url: Optional[str] = None
    headers: Dict[str, SecretStr] = Field(default_factory=dict)
    models: List[str] = Field(default_factory=list)
    aliases: Dict[str, str] = Field(default_factory=dict)
    timeout_seconds: Optional[int] = None
    stream_idle_timeout_seconds: Optional[int] = None
    priority: Optional[int] = None
    weight: Optional[int] = None
    cooldown_seconds: Optional[int] = None
    quarantine_seconds: Optional[int] = None
    max_consecutive_failures: Optional[int] = None
    max_retries: Optional[int] = None
    stream_usage: Optional[bool] = None
    default_max_tokens: Optional[int] = None
    api_version: Optional[str] = None
    inline_limit_bytes: Optional[int] = None

    @field_serializer("headers")
    def _headers(self, headers: Dict[str, SecretStr], info: Any) -> Dict[str, str]:
        if _reveals(info):
            return {k: v.get_secret_value() for k, v in headers.items()}
        return {k: str(v) for k, v in headers.items()}


class KeyConfig(_Model):
    """One API key (see docs/configuration.md)."""

    id: str
    provider: str
    value: Optional[SecretStr] = None
    """The key itself (exactly one of ``value`` and ``env``)."""
    env: Optional[str] = None
    """The environment variable holding the key, read at load time."""
    weight: int = Field(default=1, ge=0)
    priority: int = 0
    enabled: bool = True
    models: List[str] = Field(default_factory=list)
    base_url: Optional[str] = None
    rpm: Optional[int] = None
    tpm: Optional[int] = None
    rpd: Optional[int] = None
    metadata: Dict[str, str] = Field(default_factory=dict)
    quota_group: Optional[str] = None

    @field_serializer("value")
    def _value(self, value: Optional[SecretStr], info: Any) -> Optional[str]:
        if value is None:
            return None
        return value.get_secret_value() if _reveals(info) else str(value)


class ModelPrice(_Model):
    """A model's price in USD per million tokens."""

    input: float
    output: float
    cached_input: Optional[float] = None
    cache_write: Optional[float] = None
    reasoning: Optional[float] = None


class LMRotateConfig(_Model):
    """The whole configuration."""

    defaults: DefaultsConfig = Field(default_factory=lambda: DefaultsConfig())
    providers: Dict[str, ProviderConfig] = Field(default_factory=dict)
    keys: List[KeyConfig] = Field(default_factory=list)
    fallback_chains: Dict[str, List[FallbackEntry]] = Field(default_factory=dict)
    state_store: StateStoreConfig = Field(default_factory=lambda: StateStoreConfig())
    prices: Dict[str, ModelPrice] = Field(default_factory=dict)


def engine_config(config: Union[LMRotateConfig, Dict[str, Any]]) -> Dict[str, Any]:
    """The dict the engine reads: credentials in the clear, unset options left out."""
    if isinstance(config, LMRotateConfig):
        return config.model_dump(mode="json", exclude_none=True, context={"reveal": True})
    if isinstance(config, dict):
        return config
    raise TypeError(f"config must be an LMRotateConfig or a dict, not {type(config).__name__}")


def from_engine(data: Dict[str, Any]) -> LMRotateConfig:
    """The model of a config the engine built and checked."""
    try:
        return LMRotateConfig.model_validate(data)
    except ValidationError as error:  # a field the models lack: say where
        first = error.errors()[0]
        raise configuration_error(_path(first["loc"]), first["msg"]) from None


def _path(loc: Any) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def configure_from_dict(
    registry: dict,
    use_keys: List[str],
    *,
    strategy: Optional[str] = None,
    priorities: Optional[Dict[str, int]] = None,
    fallback_chains: Optional[Dict[str, List[Dict[str, str]]]] = None,
) -> LMRotateConfig:
    """Build an LMRotateConfig from a registry dict without touching the singleton."""
    if not isinstance(registry, dict):
        raise TypeError(f"registry must be a dict, not {type(registry).__name__}")
    if isinstance(use_keys, str) or not isinstance(use_keys, (list, tuple)):
        raise TypeError("use_keys must be a list of key ids")
    data = _native.prepare_config(
        list(use_keys), registry, None, strategy, priorities, _chains(fallback_chains)
    )
    return from_engine(data)


def configure_from_file(
    path: Union[str, Path],
    *,
    use_keys: Optional[List[str]] = None,
) -> LMRotateConfig:
    """Build an LMRotateConfig from a JSON, YAML or TOML file; ``use_keys`` may live in
    the file or be passed in (given here wins)."""
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path, not {type(path).__name__}")
    if use_keys is not None and (isinstance(use_keys, str) or not isinstance(use_keys, (list, tuple))):
        raise TypeError("use_keys must be a list of key ids")
    data = _native.load_config_file(str(path), None if use_keys is None else list(use_keys))
    return from_engine(data)


def _chains(chains: Any) -> Any:
    """Fallback chains with FallbackEntry models read as dicts."""
    if chains is None:
        return None
    if not isinstance(chains, dict):
        raise TypeError("fallback_chains must be a dict of model name to a list of steps")
    return {
        name: [s.model_dump(exclude_none=True) if isinstance(s, FallbackEntry) else s for s in steps]
        for name, steps in chains.items()
    }
