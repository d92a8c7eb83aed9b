"""Message and content parts: ``ContentPart``, ``ChatMessage`` and
``GenerateContentRequest``.

A part's dict form is the engine's: ``{"type": "text", "text": ...}``,
``{"type": "image_bytes", "data": <base64>, "mime_type": ...}``, ``pdf_bytes``,
``file`` (``file_uri``, ``mime_type``), ``image_url`` (``url``, ``detail``), ``audio``
(``data``, ``format``), ``tool_call`` (``id``, ``name``, ``arguments``),
``tool_result`` (``call_id``, ``content``, ``is_error``) and ``reasoning`` (``text``,
``signature``, ``redacted``, ``provider``). Messages may also be written as OpenAI
writes them (see :mod:`llm_rotate._wire`).
"""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, List, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ContentPart", "ChatMessage", "GenerateContentRequest"]

PartType = Literal[
    "text",
    "pdf_bytes",
    "image_bytes",
    "file",
    "image_url",
    "audio",
    "tool_call",
    "tool_result",
    "reasoning",
]


class ContentPart(BaseModel):
    """A multimodal input part. ``type`` is one of text, pdf_bytes, image_bytes, file
    (and image_url, audio, tool_call, tool_result, reasoning in conversations); the
    other fields (text, data, file_uri, mime_type, …) apply by type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: PartType
    text: Optional[str] = None
    data: Optional[bytes] = None
    file_uri: Optional[str] = None
    mime_type: Optional[str] = None
    url: Optional[str] = None
    detail: Optional[str] = None
    format: Optional[str] = None
    id: Optional[str] = None
    name: Optional[str] = None
    arguments: Optional[str] = None
    call_id: Optional[str] = None
    content: Optional[List["ContentPart"]] = None
    is_error: bool = False
    signature: Optional[str] = None
    redacted: Optional[str] = None
    provider: Optional[str] = None

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if value is None or (name == "is_error" and not value):
                continue
            yield name, (f"<{len(value)} bytes>" if name == "data" else value)

    @classmethod
    def text_part(cls, text: str) -> "ContentPart":
        """A text part."""
        return cls(type="text", text=text)

    @classmethod
    def pdf_bytes(cls, data: bytes) -> "ContentPart":
        """A PDF's bytes."""
        return cls(type="pdf_bytes", data=bytes(data), mime_type="application/pdf")

    @classmethod
    def image_bytes(cls, data: bytes, mime_type: Optional[str] = None) -> "ContentPart":
        """An image's bytes (``mime_type`` None: sniffed from the bytes)."""
        return cls(type="image_bytes", data=bytes(data), mime_type=mime_type)

    @classmethod
    def file(cls, file_uri: str, mime_type: str) -> "ContentPart":
        """A file by URI (a Files API URI, ``gs://`` on Vertex)."""
        return cls(type="file", file_uri=file_uri, mime_type=mime_type)

    @classmethod
    def image_url(cls, url: str, detail: Optional[str] = None) -> "ContentPart":
        """An image by ``http(s)`` or ``data:`` URL."""
        return cls(type="image_url", url=url, detail=detail)

    @classmethod
    def audio(cls, data: bytes, format: str) -> "ContentPart":
        """Audio bytes in ``format`` (``wav``, ``mp3``, …)."""
        return cls(type="audio", data=bytes(data), format=format)

    @classmethod
    def tool_call(cls, id: str, name: str, arguments: Union[str, Dict[str, Any]]) -> "ContentPart":
        """A call the model made (``arguments`` as JSON text, or a dict)."""
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return cls(type="tool_call", id=id, name=name, arguments=text)

    @classmethod
    def tool_result(cls, call_id: str, content: Union[str, List["ContentPart"]], is_error: bool = False) -> "ContentPart":
        """The result of the call ``call_id``."""
        parts = [cls.text_part(content)] if isinstance(content, str) else list(content)
        return cls(type="tool_result", call_id=call_id, content=parts, is_error=is_error)

    def to_wire(self) -> Dict[str, Any]:
        """The engine's dict form of the part."""
        out: Dict[str, Any] = {"type": self.type}
        for name in ("text", "file_uri", "mime_type", "url", "detail", "format", "id", "name",
                     "arguments", "call_id", "signature", "redacted", "provider"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.data is not None:
            out["data"] = base64.b64encode(self.data).decode("ascii")
        if self.type == "tool_result":
            out["content"] = [p.to_wire() for p in (self.content or [])]
            out["is_error"] = self.is_error
        if self.type == "reasoning":
            out.setdefault("text", "")
            out.setdefault("provider", "")
        if self.type == "text":
            out.setdefault("text", "")
        return out


class ChatMessage(BaseModel):
    """One message: a role and its content (a string, or a list of parts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant", "tool"]
    content: Union[str, List[Union[ContentPart, Dict[str, Any]]]]

    @classmethod
    def system(cls, text: str) -> "ChatMessage":
        """A system message."""
        return cls(role="system", content=text)

    @classmethod
    def user(cls, content: Union[str, List[Union[ContentPart, Dict[str, Any]]]]) -> "ChatMessage":
        """A user message."""
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: Union[str, List[Union[ContentPart, Dict[str, Any]]]]) -> "ChatMessage":
        """An assistant message."""
        return cls(role="assistant", content=content)

    @classmethod
    def tool_result(cls, call_id: str, content: Union[str, List[ContentPart]], is_error: bool = False) -> "ChatMessage":
        """The result of the tool call ``call_id``."""
        return cls(role="tool", content=[ContentPart.tool_result(call_id, content, is_error)])


class GenerateContentRequest(BaseModel):
    """The provider-neutral request ``generate_content`` builds (see
    ``LMRotate.build_generate_request``)."""

    model_config = ConfigDict(extra="allow")

    contents: List[Dict[str, Any]] = Field(default_factory=list)
    system_instruction: Optional[str] = None
    response_mime_type: Optional[str] = None
    max_output_tokens: Optional[int] = None
    temperature: Optional[float] = None
    top_p: Optional[float] = None
    seed: Optional[int] = None
    thinking_budget: Optional[int] = None
    disable_automatic_function_calling: bool = True
    extra: Dict[str, Any] = Field(default_factory=dict)
