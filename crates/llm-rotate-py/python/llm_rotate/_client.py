"""``LMRotate``, the orchestrator: the reference's methods over the native engine.

Every coroutine hands the call to the engine's own threads and awaits an asyncio future,
so the event loop never blocks and concurrent calls from one loop run side by side;
cancelling the awaiting task cancels the upstream request.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Optional, Union

from pydantic import BaseModel, ConfigDict

from . import _native, _wire
from ._config import LMRotateConfig, engine_config
from ._content import GenerateContentRequest
from ._errors import BlockingCallError

__all__ = ["LMRotate", "HealthReport", "ChatStream"]


class _Report(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class StoreHealth(_Report):
    """The state store's health."""

    backend: str
    connected: bool


class ProviderHealth(_Report):
    """One provider's keys."""

    name: str
    total_keys: int
    available_keys: int


class KeyHealth(_Report):
    """One key's health (never its value)."""

    key_id: str
    provider: str
    state: str
    available_in_ms: Optional[int] = None
    consecutive_failures: int = 0
    requests: int = 0
    failures: int = 0
    last_error: Optional[str] = None
    latency_ms_ewma: Optional[float] = None


class HealthReport(_Report):
    """Snapshot of per-key / per-provider health returned by health()."""

    generated_at: str
    strategy: str
    store: StoreHealth
    providers: List[ProviderHealth]
    keys: List[KeyHealth]


class ChatStream:
    """A streamed answer: ``async for chunk in lm.chat_stream(...)``. The call starts on
    the first iteration (or ``await``); ``collect()`` gives the whole answer as the
    unstreamed call would, and ``aclose()`` (or leaving ``async with``) ends it."""

    __slots__ = ("_open", "_native")

    def __init__(self, open_: Any) -> None:
        self._open = open_
        self._native: Any = None

    async def _started(self) -> Any:
        if self._native is None:
            self._native = await self._open()
        return self._native

    def __aiter__(self) -> "ChatStream":
        return self

    async def __anext__(self) -> _native.StreamChunk:
        native = self._native if self._native is not None else await self._started()
        return await native.__anext__()

    def __await__(self) -> Any:
        async def started() -> "ChatStream":
            await self._started()
            return self

        return started().__await__()

    async def collect(self) -> _native.ChatResponse:
        """The whole answer as one ChatResponse (for a stream not yet read from)."""
        return await (await self._started()).collect()

    async def aclose(self) -> None:
        """Ends the stream and closes its upstream connection."""
        if self._native is not None:
            await self._native.aclose()

    async def __aenter__(self) -> "ChatStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


def _no_running_loop(name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise BlockingCallError(
        f"{name}() blocks, and was called inside a running event loop; use `await lm.chat(...)` there"
    )


class LMRotate:
    """The orchestrator. Construct it with an LMRotateConfig."""

    __slots__ = ("_engine", "_config")
    _config: Optional[LMRotateConfig]

    def __init__(self, config: LMRotateConfig) -> None:
        self._engine = _native.Engine(engine_config(config))
        self._config = config if isinstance(config, LMRotateConfig) else None

    @classmethod
    def _on_engine(cls, engine: Any, config: Optional[LMRotateConfig] = None) -> "LMRotate":
        self = cls.__new__(cls)
        self._engine = engine
        self._config = config
        return self

    def __repr__(self) -> str:
        keys = len(self._config.keys) if self._config is not None else "?"
        return f"LMRotate(keys={keys})"

    async def chat(
        self,
        model: str,
        messages: List[Any],
        *,
        provider: Optional[str] = None,
        max_tokens: Optional[int] = None,
        temperature: Optional[float] = None,
        max_retries: Optional[int] = None,
        **kwargs: Any,
    ) -> _native.ChatResponse:
        """One chat call, rotated, retried and fallen back as configured. ``**kwargs``
        reach the vendor as body fields (``tools``, ``tool_choice``,
        ``response_format``, ``reasoning_effort`` … are understood and translated)."""
        return await self._engine.chat(
            model, _wire.messages(messages), _chat_options(provider, max_tokens, temperature, max_retries, kwargs)
        )

    def chat_stream(
        self,
        model: str,
        messages: List[Any],
        *,
        provider: Optional[str] = None,
        max_tokens: Optional[int] = None,
        temperature: Optional[float] = None,
        max_retries: Optional[int] = None,
        **kwargs: Any,
    ) -> ChatStream:
        """A streamed chat call: ``async for chunk in lm.chat_stream(...)``. A key that
        fails before the first chunk is failed over like an unstreamed call."""
        wire = _wire.messages(messages)
        options = _chat_options(provider, max_tokens, temperature, max_retries, kwargs)
        engine = self._engine
        return ChatStream(lambda: engine.chat_stream(model, wire, options))

    def chat_sync(
        self,
        model: str,
        messages: List[Any],
        *,
        provider: Optional[str] = None,
        max_tokens: Optional[int] = None,
        temperature: Optional[float] = None,
        max_retries: Optional[int] = None,
        **kwargs: Any,
    ) -> _native.ChatResponse:
        """``chat`` for code with no event loop; inside a running loop it raises
        BlockingCallError."""
        _no_running_loop("chat_sync")
        return self._engine.chat_sync(
            model, _wire.messages(messages), _chat_options(provider, max_tokens, temperature, max_retries, kwargs)
        )

    @staticmethod
    def _generate_options(named: Dict[str, Any], kwargs: Dict[str, Any]) -> Dict[str, Any]:
        """The options dict of a ``generate_content`` call: its named arguments that are
        set, ``timeout``, and the other ``**kwargs`` as ``extra``."""
        options = {k: v for k, v in named.items() if v is not None}
        if "timeout" in kwargs:
            options["timeout"] = kwargs.pop("timeout")
        if kwargs:
            options["extra"] = kwargs
        return options

    async def generate_content(
        self,
        model: str,
        contents: list,
        *,
        system_instruction: Optional[str] = None,
        response_mime_type: Optional[str] = None,
        max_output_tokens: Optional[int] = None,
        temperature: Optional[float] = None,
        top_p: Optional[float] = None,
        seed: Optional[int] = None,
        thinking_budget: Optional[int] = None,
        disable_automatic_function_calling: bool = True,
        max_retries: Optional[int] = None,
        provider: Optional[str] = None,
        **kwargs: Any,
    ) -> _native.ChatResponse:
        """Google AI Studio + Vertex only: Gemini's multimodal call (PDFs, images,
        files). Any other provider is a ConfigurationError before any network call."""
        named = _named(locals())
        return await self._engine.generate_content(
            model, _wire.contents(contents), self._generate_options(named, kwargs)
        )

    def generate_content_stream(
        self,
        model: str,
        contents: list,
        *,
        system_instruction: Optional[str] = None,
        response_mime_type: Optional[str] = None,
        max_output_tokens: Optional[int] = None,
        temperature: Optional[float] = None,
        top_p: Optional[float] = None,
        seed: Optional[int] = None,
        thinking_budget: Optional[int] = None,
        disable_automatic_function_calling: bool = True,
        max_retries: Optional[int] = None,
        provider: Optional[str] = None,
        **kwargs: Any,
    ) -> ChatStream:
        """``generate_content``, streamed: ``async for chunk in lm.generate_content_stream(...)``."""
        named = _named(locals())
        wire, options = _wire.contents(contents), self._generate_options(named, kwargs)
        engine = self._engine
        return ChatStream(lambda: engine.generate_content_stream(model, wire, options))

    def build_generate_request(self, contents: list, **options: Any) -> GenerateContentRequest:
        """The provider-neutral request ``generate_content`` would send for ``contents``
        and the same keyword arguments (nothing is sent)."""
        named = {k: options.pop(k) for k in list(options) if k in _GENERATE_NAMED}
        data = self._engine.generate_request(_wire.contents(contents), self._generate_options(named, options))
        return GenerateContentRequest.model_validate(data)

    @asynccontextmanager
    async def acquire(self, provider: str, *, model: Optional[str] = None) -> AsyncIterator[_native.AcquireContext]:
        """Borrow a raw key to use a vendor SDK directly while still reporting outcomes
        back to the health machine: ``async with lm.acquire("openai") as ctx:``. An
        exception carrying an HTTP status (a vendor SDK's error), a timeout or a
        connection error that leaves the block unreported is reported for you; leaving
        it cleanly without a report records nothing."""
        if not isinstance(provider, str):
            raise TypeError(f"provider must be a str, not {type(provider).__name__}")
        context = await self._engine.acquire(provider, model)
        try:
            yield context
        except BaseException as error:
            if not context.done:
                fields = failure_of(error)
                if fields is not None:
                    context.report_failure(**fields)
            raise
        finally:
            context.release()

    async def health(self) -> HealthReport:
        """Snapshot of per-key / per-provider health."""
        return HealthReport.model_validate(await self._engine.health())

    async def usage_summary(self) -> dict:
        """Requests, successes, failures and tokens: total, by provider, key and model."""
        return await self._engine.usage_summary()

    def reload_config(self, config: LMRotateConfig) -> None:
        """Swap in a new config atomically; calls in flight finish on the old one and
        the health of keys whose id survives is kept."""
        self._engine.reload_config(engine_config(config))
        self._config = config if isinstance(config, LMRotateConfig) else None

    def set_key_enabled(self, key_id: str, enabled: bool) -> None:
        """Turn a key on or off at run time."""
        self._engine.set_key_enabled(key_id, enabled)

    async def close(self) -> None:
        """Flush pending store writes and close pools; later calls raise LMRotateError."""
        await self._engine.close()

    async def __aenter__(self) -> "LMRotate":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _chat_options(
    provider: Optional[str],
    max_tokens: Optional[int],
    temperature: Optional[float],
    max_retries: Optional[int],
    kwargs: Dict[str, Any],
) -> Optional[Dict[str, Any]]:
    """The engine's options of a chat call: the reference's named arguments and ``**kwargs``."""
    return _wire.chat_options(
        kwargs, provider=provider, max_tokens=max_tokens, temperature=temperature, max_retries=max_retries
    )


def _named(arguments: Dict[str, Any]) -> Dict[str, Any]:
    """The named ``generate_content`` arguments among a call's ``locals()``."""
    return {name: arguments[name] for name in _GENERATE_NAMED}


_GENERATE_NAMED = frozenset(
    {
        "system_instruction",
        "response_mime_type",
        "max_output_tokens",
        "temperature",
        "top_p",
        "seed",
        "thinking_budget",
        "disable_automatic_function_calling",
        "max_retries",
        "provider",
    }
)


def failure_of(error: BaseException) -> Optional[Dict[str, Any]]:
    """What an exception says about a key: its HTTP status (vendor SDKs' ``status_code``,
    google-genai's ``code``, httpx's ``response.status_code``), ``retry-after``, or an
    llm_rotate error's kind; None for an exception that says nothing about the key."""
    if isinstance(error, asyncio.CancelledError):
        return None
    if isinstance(error, int) and not isinstance(error, bool):
        return {"status": error}
    message = str(error)[:500] or type(error).__name__
    if isinstance(error, _native.LMRotateError):
        return {"status": getattr(error, "status", None), "kind": getattr(error, "kind", None),
                "retry_after": getattr(error, "retry_after", None), "message": message}
    response = getattr(error, "response", None)
    status = None
    for value in (getattr(error, "status_code", None), getattr(error, "status", None),
                  getattr(error, "code", None), getattr(response, "status_code", None)):
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
            status = value
            break
    retry_after = _retry_after(getattr(response, "headers", None))
    if status is not None:
        return {"status": status, "retry_after": retry_after, "message": message}
    name = type(error).__name__.lower()
    if "timeout" in name or isinstance(error, TimeoutError):
        return {"kind": "timeout", "message": message}
    if "connect" in name or isinstance(error, ConnectionError):
        return {"kind": "network", "message": message}
    return None


def _retry_after(headers: Any) -> Optional[float]:
    if headers is None or not hasattr(headers, "get"):
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(float(value) * scale, 0.0)
            except (TypeError, ValueError):
                continue
    return None
