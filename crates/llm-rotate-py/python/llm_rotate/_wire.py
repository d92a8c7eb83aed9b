"""What callers write, turned into the engine's shapes before a call: messages as
OpenAI writes them (``tool_calls``, ``role: tool`` with ``tool_call_id``,
``image_url`` / ``input_audio`` / ``file`` parts, ``developer``), tools and tool
choices in OpenAI's or Anthropic's form, ``response_format`` (a dict, or a pydantic
model class), and ``generate_content``'s contents. A message that is already a role
and a string goes through untouched."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from ._content import ChatMessage, ContentPart

__all__ = ["messages", "chat_options", "contents", "TYPED_OPTIONS"]

TYPED_OPTIONS = frozenset(
    {
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "reasoning_effort",
        "reasoning_budget_tokens",
        "timeout",
        "max_wait",
        "affinity",
    }
)

_NEUTRAL_PARTS = frozenset(
    {"text", "pdf_bytes", "image_bytes", "file", "image_url", "audio", "tool_call", "tool_result", "reasoning"}
)
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}


def messages(items: Any) -> List[Any]:
    """The messages of a chat call in the engine's shape."""
    if isinstance(items, (str, bytes, dict)) or not hasattr(items, "__iter__"):
        raise TypeError(f"messages must be a list of messages, not {type(items).__name__}")
    out = []
    for i, message in enumerate(items):
        if type(message) is dict and len(message) == 2 and type(message.get("content")) is str and message.get("role") in ("user", "system", "assistant"):
            out.append(message)
        elif isinstance(message, dict):
            out.append(_message(message, f"messages[{i}]"))
        elif isinstance(message, ChatMessage):
            out.append(_message({"role": message.role, "content": message.content}, f"messages[{i}]"))
        else:
            raise TypeError(f"messages[{i}] must be a dict or a ChatMessage, not {type(message).__name__}")
    return out


def _message(message: Dict[str, Any], at: str) -> Dict[str, Any]:
    role = message.get("role")
    if role not in _ROLES:
        raise TypeError(f"{at}.role must be one of system, developer, user, assistant, tool, not {role!r}")
    unknown = set(message) - {"role", "content", "tool_calls", "tool_call_id", "name", "reasoning_content", "refusal"}
    if unknown:
        raise TypeError(f"{at}: unknown field `{sorted(unknown)[0]}`")
    parts = _parts(message.get("content"), f"{at}.content")
    if role == "tool":
        call_id = message.get("tool_call_id")
        if call_id is None:
            if all(p.get("type") == "tool_result" for p in parts) and parts:
                return {"role": "tool", "content": parts}
            raise TypeError(f"{at}: a tool message needs `tool_call_id`")
        if not isinstance(call_id, str):
            raise TypeError(f"{at}.tool_call_id must be a str")
        return {"role": "tool", "content": [{"type": "tool_result", "call_id": call_id, "content": parts, "is_error": False}]}
    for j, call in enumerate(message.get("tool_calls") or []):
        parts.append(_tool_call(call, f"{at}.tool_calls[{j}]"))
    return {"role": _ROLES[role], "content": parts}


def _parts(content: Any, at: str) -> List[Dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise TypeError(f"{at} must be a str or a list of parts, not {type(content).__name__}")
    return [_part(p, f"{at}[{k}]") for k, p in enumerate(content)]


def _part(part: Any, at: str) -> Dict[str, Any]:
    if isinstance(part, ContentPart):
        return part.to_wire()
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, dict):
        raise TypeError(f"{at} must be a dict or a ContentPart, not {type(part).__name__}")
    kind = part.get("type")
    if kind == "image_url":
        image = part.get("image_url", part.get("url"))
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str):
            raise TypeError(f"{at}.image_url.url must be a str")
        detail = image.get("detail") if isinstance(image, dict) else part.get("detail")
        data = _data_url(url)
        if data is not None:
            return {"type": "image_bytes", "data": data[1], "mime_type": data[0]}
        out = {"type": "image_url", "url": url}
        if detail is not None:
            out["detail"] = detail
        return out
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        return {"type": "audio", "data": audio.get("data"), "format": audio.get("format")}
    if kind == "file" and isinstance(part.get("file"), dict):
        file = part["file"]
        data = _data_url(file.get("file_data") or "")
        if data is None:
            raise TypeError(f"{at}.file: only inline `file_data` (a data: URL) can be carried to every vendor")
        key = "pdf_bytes" if data[0] == "application/pdf" else "image_bytes"
        return {"type": key, "data": data[1], "mime_type": data[0]}
    if kind in _NEUTRAL_PARTS:
        if kind == "tool_result" and isinstance(part.get("content"), (str, list)):
            part = dict(part, content=_parts(part["content"], f"{at}.content"))
        return part
    raise TypeError(f"{at}: unknown part type {kind!r}")


def _data_url(url: str) -> Optional[tuple]:
    if not url.startswith("data:") or ";base64," not in url:
        return None
    head, data = url[5:].split(";base64,", 1)
    return head or "application/octet-stream", data


def _tool_call(call: Any, at: str) -> Dict[str, Any]:
    if not isinstance(call, dict):
        raise TypeError(f"{at} must be a dict")
    function = call.get("function", call)
    name, arguments = function.get("name"), function.get("arguments", "{}")
    if not isinstance(name, str) or not isinstance(call.get("id"), str):
        raise TypeError(f"{at} needs an `id` and a `function.name`")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {"type": "tool_call", "id": call["id"], "name": name, "arguments": arguments}


def _tool(tool: Any, at: str) -> Dict[str, Any]:
    if not isinstance(tool, dict):
        raise TypeError(f"{at} must be a dict")
    spec = tool.get("function", tool) if tool.get("type", "function") == "function" else None
    if spec is None or not isinstance(spec.get("name"), str):
        raise TypeError(f"{at} must be a function tool with a `name`")
    out: Dict[str, Any] = {"name": spec["name"]}
    if spec.get("description") is not None:
        out["description"] = spec["description"]
    out["parameters"] = spec.get("parameters", spec.get("input_schema", {"type": "object", "properties": {}}))
    if spec.get("strict") is not None:
        out["strict"] = spec["strict"]
    return out


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if choice == "any":
        return "required"
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name") or choice.get("tool")
        if isinstance(name, str):
            return {"tool": name}
        if choice.get("type") in ("auto", "none"):
            return choice["type"]
        if choice.get("type") == "any":
            return "required"
    raise TypeError(f"tool_choice must be 'auto', 'none', 'required' or a named function, not {choice!r}")


def _response_format(fmt: Any) -> Any:
    if isinstance(fmt, type) and hasattr(fmt, "model_json_schema"):
        return {"type": "json_schema", "name": fmt.__name__, "schema": fmt.model_json_schema()}
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        raise TypeError("response_format must be {'type': 'text' | 'json_object' | 'json_schema', ...} or a pydantic model class")
    if fmt["type"] == "json_schema" and isinstance(fmt.get("json_schema"), dict):
        inner = fmt["json_schema"]
        out = {"type": "json_schema", "name": inner.get("name", "response"), "schema": inner.get("schema", {})}
        if inner.get("strict") is not None:
            out["strict"] = inner["strict"]
        return out
    return fmt


def chat_options(kwargs: Dict[str, Any], **named: Any) -> Optional[Dict[str, Any]]:
    """The options of a call: its ``named`` arguments that are set, the typed options
    out of its ``**kwargs``, and the rest of them as ``extra``."""
    options: Dict[str, Any] = {name: value for name, value in named.items() if value is not None}
    if not kwargs:
        return options or None
    extra: Dict[str, Any] = {}
    for name, value in kwargs.items():
        if name not in TYPED_OPTIONS:
            extra[name] = value
        elif value is None:
            continue
        elif name == "tools":
            options["tools"] = [_tool(t, f"tools[{i}]") for i, t in enumerate(value)]
        elif name == "tool_choice":
            options["tool_choice"] = _tool_choice(value)
        elif name == "response_format":
            options["response_format"] = _response_format(value)
        else:
            options[name] = value
    if extra:
        options["extra"] = extra
    return options


def contents(items: Any) -> List[Dict[str, Any]]:
    """The contents of a ``generate_content`` call: strings, parts and
    ``{"role", "parts"}`` dicts."""
    if isinstance(items, (str, ContentPart, dict)):
        items = [items]
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            out.append({"parts": [{"type": "text", "text": item}]})
        elif isinstance(item, ContentPart):
            out.append({"parts": [item.to_wire()]})
        elif isinstance(item, dict) and "parts" in item:
            parts = [_part(p, f"contents[{i}].parts[{k}]") for k, p in enumerate(item["parts"])]
            entry: Dict[str, Any] = {"parts": parts}
            if item.get("role") is not None:
                entry["role"] = item["role"]
            out.append(entry)
        else:
            raise TypeError(f"contents[{i}] must be a str, a ContentPart or a {{'role', 'parts'}} dict, not {type(item).__name__}")
    return out

