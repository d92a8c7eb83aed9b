"""llm_rotate: spread LLM traffic over many API keys and providers, on the Rust engine.

Everything below is exported from the top-level package::

    from llm_rotate import (
        configure, lm, LMRotate, LMRotateConfig,
        configure_from_dict, configure_from_file,
        AcquireContext, HealthReport, ContentPart, GenerateContentRequest,
        ConfigurationError, LMRotateError, NoAvailableKeyError, __version__,
    )
"""

import atexit as _atexit

from . import _native
from ._native import (
    AcquireContext,
    ChatResponse,
    StreamChunk,
    ToolCall,
    ToolCallDelta,
    Usage,
    __version__,
)
from ._errors import (
    BlockingCallError,
    ConfigurationError,
    ExhaustedError,
    LMRotateError,
    NoAvailableKeyError,
    ProviderError,
    StreamError,
)
from ._config import (
    DefaultsConfig,
    FallbackEntry,
    KeyConfig,
    LMRotateConfig,
    ModelPrice,
    ProviderConfig,
    StateStoreConfig,
    configure_from_dict,
    configure_from_file,
)
from ._content import ChatMessage, ContentPart, GenerateContentRequest
from ._client import ChatStream, HealthReport, KeyHealth, LMRotate, ProviderHealth, StoreHealth
from ._singleton import configure, lm

# no engine thread may be inside Python while the interpreter finalizes
_atexit.register(_native.shutdown)

__all__ = [
    "configure",
    "lm",
    "LMRotate",
    "LMRotateConfig",
    "configure_from_dict",
    "configure_from_file",
    "AcquireContext",
    "HealthReport",
    "KeyHealth",
    "ProviderHealth",
    "StoreHealth",
    "ContentPart",
    "ChatMessage",
    "GenerateContentRequest",
    "ChatResponse",
    "StreamChunk",
    "ChatStream",
    "Usage",
    "ToolCall",
    "ToolCallDelta",
    "DefaultsConfig",
    "FallbackEntry",
    "StateStoreConfig",
    "KeyConfig",
    "ProviderConfig",
    "ModelPrice",
    "LMRotateError",
    "ConfigurationError",
    "NoAvailableKeyError",
    "ProviderError",
    "ExhaustedError",
    "StreamError",
    "BlockingCallError",
    "__version__",
]
