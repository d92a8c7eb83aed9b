"""Drives the llm-rotate gateway's Gemini routes with the official google-genai SDK.

Reads GEMINI_BASE_URL and GEMINI_API_KEY (the gateway token) from the environment,
streams a function call, sends the functionResponse turn with the model's turn as it
came (thought signature included), counts tokens, embeds two texts, and prints one JSON line of what the
SDK parsed. Exits non-zero on any mismatch.
"""

import json
import os
import sys

from google import genai
from google.genai import types

MODEL = "gemini-2.5-flash"


def main() -> int:
    client = genai.Client(api_key=os.environ["GEMINI_API_KEY"],
                          http_options=types.HttpOptions(base_url=os.environ["GEMINI_BASE_URL"]))
    weather = types.FunctionDeclaration(
        name="weather", description="Weather in a city",
        parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}})
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[weather])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    history = [types.Content(role="user", parts=[types.Part(text="Weather in Paris?")])]
    model_parts = []
    for chunk in client.models.generate_content_stream(model=MODEL, contents=history, config=config):
        for candidate in chunk.candidates or []:
            model_parts.extend(candidate.content.parts or [])
    calls = [p.function_call for p in model_parts if p.function_call]
    assert len(calls) == 1, model_parts
    signed = [p for p in model_parts if p.thought_signature]
    assert signed, "the thought signature reached the SDK"
    history.append(types.Content(role="model", parts=model_parts))
    history.append(types.Content(role="user", parts=[types.Part.from_function_response(
        name=calls[0].name, response={"result": "18 C"})]))
    second = client.models.generate_content(model=MODEL, contents=history, config=config)
    count = client.models.count_tokens(model=MODEL, contents="How many tokens is this?")
    assert count.total_tokens > 0, count
    vectors = client.models.embed_content(model="gemini-embedding-001", contents=["hello", "worlds"],
                                          config=types.EmbedContentConfig(output_dimensionality=3))
    print(json.dumps({"name": calls[0].name, "args": calls[0].args, "answer": second.text,
                      "count": count.total_tokens, "vectors": [e.values for e in vectors.embeddings]}))
    return 0


def fallback() -> int:
    """A chain whose Google entry is overloaded: an OpenAI key answers, in Gemini's shape."""
    client = genai.Client(api_key=os.environ["GEMINI_API_KEY"],
                          http_options=types.HttpOptions(base_url=os.environ["GEMINI_BASE_URL"]))
    weather = types.FunctionDeclaration(
        name="weather", description="Weather in a city",
        parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}})
    config = types.GenerateContentConfig(
        system_instruction="Be brief.",
        tools=[types.Tool(function_declarations=[weather])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    calls = []
    for chunk in client.models.generate_content_stream(model="sturdy", contents="Weather in Paris?", config=config):
        for candidate in chunk.candidates or []:
            calls.extend(p.function_call for p in (candidate.content.parts or []) if p.function_call)
    assert len(calls) == 1, calls
    plain = client.models.generate_content(model="sturdy", contents="hello")
    print(json.dumps({"name": calls[0].name, "args": calls[0].args, "text": plain.text,
                      "finish": plain.candidates[0].finish_reason.value}))
    return 0


if __name__ == "__main__":
    sys.exit(fallback() if sys.argv[1:] == ["fallback"] else main())
