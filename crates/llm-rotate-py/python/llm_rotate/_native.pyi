"""Type stubs of the native half of llm_rotate (the Rust engine)."""

from collections.abc import Awaitable
from os import PathLike
from typing import Any, Dict, List, Optional, Union

__version__: str

class LMRotateError(Exception):
    """The root of every error llm_rotate raises."""

    kind: str
    status: Optional[int]
    retry_after: Optional[float]

class ConfigurationError(LMRotateError):
    """The configuration is invalid (``path`` says where), or the call cannot be served as configured."""

    path: str
    message: str

class NoAvailableKeyError(LMRotateError):
    """No key could serve the call."""

    model: str
    providers: List[str]
    retry_in: Optional[float]

class ProviderError(LMRotateError):
    """The vendor refused the request itself (a caller's fault); it was not retried."""

    provider: str
    key_id: str

class ExhaustedError(LMRotateError):
    """Every allowed attempt failed."""

    attempts: List[Dict[str, Any]]

class StreamError(LMRotateError):
    """A stream failed after it had yielded content."""

    provider: str
    key_id: str

class Usage:
    """Token usage of a call."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cache_write_tokens: int
    def to_dict(self) -> Dict[str, int]: ...

class ToolCall:
    """A tool call the model made."""

    id: str
    name: str
    arguments: str
    def arguments_json(self) -> Any: ...

class ToolCallDelta:
    """A piece of a streamed tool call."""

    index: int
    id: Optional[str]
    name: Optional[str]
    arguments: str

class ChatResponse:
    """The answer of a call."""

    @property
    def content(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def key_id(self) -> str: ...
    @property
    def usage(self) -> Usage: ...
    @property
    def latency_ms(self) -> float: ...
    @property
    def finish_reason(self) -> Optional[str]: ...
    @property
    def tool_calls(self) -> List[ToolCall]: ...
    @property
    def reasoning(self) -> List[Dict[str, Any]]: ...
    @property
    def refusal(self) -> Optional[str]: ...
    @property
    def cost_usd(self) -> Optional[float]: ...
    @property
    def raw(self) -> Any: ...
    def message(self) -> Dict[str, Any]: ...
    def to_dict(self) -> Dict[str, Any]: ...

class StreamChunk:
    """One piece of a streamed answer."""

    @property
    def delta(self) -> str: ...
    @property
    def finish_reason(self) -> Optional[str]: ...
    @property
    def usage(self) -> Optional[Usage]: ...
    @property
    def provider(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def tool_calls(self) -> List[ToolCallDelta]: ...
    @property
    def reasoning(self) -> Optional[str]: ...
    @property
    def reasoning_signature(self) -> Optional[str]: ...
    @property
    def cost_usd(self) -> Optional[float]: ...
    def to_dict(self) -> Dict[str, Any]: ...

class ChatStream:
    """The engine's stream (wrapped by llm_rotate.ChatStream)."""

    def __aiter__(self) -> "ChatStream": ...
    def __anext__(self) -> Awaitable[StreamChunk]: ...
    def collect(self) -> Awaitable[ChatResponse]: ...
    def aclose(self) -> Awaitable[None]: ...

class AcquireContext:
    """A key borrowed with acquire(): use key_value with a vendor SDK, then report."""

    @property
    def key_value(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def key_id(self) -> str: ...
    @property
    def metadata(self) -> Dict[str, str]: ...
    @property
    def base_url(self) -> Optional[str]: ...
    @property
    def done(self) -> bool: ...
    def report_success(self, upstream_provider: Optional[str] = None) -> Awaitable[None]: ...
    def report_error(self, exc: Union[BaseException, int]) -> Awaitable[None]: ...
    def report_failure(
        self,
        status: Optional[int] = None,
        kind: Optional[str] = None,
        retry_after: Optional[float] = None,
        message: Optional[str] = None,
    ) -> Awaitable[None]: ...
    def release(self) -> None: ...

class Engine:
    def __init__(self, config: Dict[str, Any]) -> None: ...
    def chat(self, model: str, messages: List[Any],
             options: Optional[Dict[str, Any]] = None) -> Awaitable[ChatResponse]: ...
    def chat_stream(self, model: str, messages: List[Any],
                    options: Optional[Dict[str, Any]] = None) -> Awaitable[ChatStream]: ...
    def chat_sync(self, model: str, messages: List[Any], options: Optional[Dict[str, Any]] = None) -> ChatResponse: ...
    def generate_content(self, model: str, contents: List[Any],
                         options: Optional[Dict[str, Any]] = None) -> Awaitable[ChatResponse]: ...
    def generate_content_stream(self, model: str, contents: List[Any],
                                options: Optional[Dict[str, Any]] = None) -> Awaitable[ChatStream]: ...
    def generate_request(self, contents: List[Any], options: Optional[Dict[str, Any]] = None) -> Dict[str, Any]: ...
    def acquire(self, provider: str, model: Optional[str] = None) -> Awaitable[AcquireContext]: ...
    def health(self) -> Awaitable[Dict[str, Any]]: ...
    def usage_summary(self) -> Awaitable[Dict[str, Any]]: ...
    def reload_config(self, config: Dict[str, Any]) -> None: ...
    def set_key_enabled(self, key_id: str, enabled: bool) -> None: ...
    def close(self) -> Awaitable[None]: ...

def prepare_config(
    use_keys: Optional[List[str]] = None,
    registry: Optional[Dict[str, Any]] = None,
    config: Optional[Dict[str, Any]] = None,
    strategy: Optional[str] = None,
    priorities: Optional[Dict[str, int]] = None,
    fallback_chains: Optional[Dict[str, List[Dict[str, Any]]]] = None,
) -> Dict[str, Any]: ...
def load_config_file(path: Union[str, PathLike[str]], use_keys: Optional[List[str]] = None) -> Dict[str, Any]: ...
def redact_url(url: str) -> str: ...
def shutdown() -> None:
    """Stops handing answers to Python and waits for those under way (run at exit)."""
