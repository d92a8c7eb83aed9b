"""Not a test: code written against the package's public names, checked by mypy (run by
`cargo xtask ci`) so that a stub or signature that drifts from the reference fails."""

from typing import List, Optional

from llm_rotate import (
    AcquireContext, ChatResponse, ConfigurationError, ContentPart, GenerateContentRequest, HealthReport,
    LMRotate, LMRotateConfig, LMRotateError, NoAvailableKeyError, StreamChunk, __version__,
    configure, configure_from_dict, configure_from_file, lm,
)


async def reference_usage(registry: dict) -> None:
    configure(["a"], registry=registry, strategy="round_robin", priorities={"a": 1},
              fallback_chains={"smart": [{"provider": "openai", "upstream": "gpt-4o"}]})
    reply: ChatResponse = await lm.chat("smart", [{"role": "user", "content": "hi"}], provider=None, max_tokens=8,
                                        temperature=0.1, max_retries=1, top_p=0.9)
    text: str = reply.content
    tokens: int = reply.usage.total_tokens
    finish: Optional[str] = reply.finish_reason
    async for chunk in lm.chat_stream("smart", [{"role": "user", "content": "hi"}]):
        delta: str = chunk.delta
        assert isinstance(chunk, StreamChunk)
    config: LMRotateConfig = configure_from_dict(registry, ["a"], strategy="priority")
    config = configure_from_file("llm.yaml", use_keys=["a"])
    client = LMRotate(config)
    sync_reply: ChatResponse = client.chat_sync("gpt-4o", [{"role": "user", "content": "hi"}])
    gemini: ChatResponse = await client.generate_content(
        "gemini-2.5-flash", ["Summarise", ContentPart.pdf_bytes(b"%PDF")], system_instruction="Be brief",
        response_mime_type="text/plain", max_output_tokens=10, temperature=0.0, top_p=1.0, seed=1,
        thinking_budget=0, disable_automatic_function_calling=True, max_retries=0, provider="google")
    request: GenerateContentRequest = client.build_generate_request(["hi"])
    async with client.acquire("openai", model="gpt-4o") as ctx:
        assert isinstance(ctx, AcquireContext)
        key: str = ctx.key_value
        await ctx.report_success(upstream_provider=None)
    report: HealthReport = await client.health()
    states: List[str] = [k.state for k in report.keys]
    usage: dict = await client.usage_summary()
    client.reload_config(config)
    await client.close()
    version: str = __version__
    try:
        pass
    except NoAvailableKeyError as error:
        wait: Optional[float] = error.retry_in
    except ConfigurationError as error:
        where: str = error.path
    except LMRotateError as error:
        kind: str = error.kind
    del text, tokens, finish, delta, sync_reply, gemini, request, key, states, usage, version
