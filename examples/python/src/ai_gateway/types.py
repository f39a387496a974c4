"""Types of the values that cross the boundary, one per WIT record/variant of
`workkit:ai-gateway@0.3.0` (wit/types.wit, wit/gateway.wit; read the `///`
there for what each field means).

They are `TypedDict`s keyed by the WIT field names (kebab-case), so values
stay plain dicts -- what the component's own types describe -- and a type
checker still sees every field. Records the caller *builds* are
``total=False`` with the fields the WIT requires marked `Required`: a field
left out is `None` (an `option`) or empty (a `list`). Records the component
*returns* always carry every field.

Variants are ``{"tag": case, "val": payload}``; enums are their case name.
`tests/test_types.py` checks each of these against the component's types, so
they cannot drift from the WIT unnoticed.
"""


from typing import Literal, Optional, Required, TypedDict, Union

# ------------------------------------------------------------------ enums

ErrorKind = Literal[
    "validation", "auth", "not-found", "rate-limited", "timeout", "service-unavailable",
    "upstream", "budget-exceeded", "model-not-allowed", "internal",
]
Role = Literal["system", "user", "assistant", "tool"]
CacheControl = Literal["ephemeral"]
ReasoningEffort = Literal["low", "medium", "high"]
CacheMode = Literal["read-write", "bypass", "refresh"]
ProviderKind = Literal[
    "openai", "anthropic", "workers-ai", "custom",
    # 0.3.0
    "gemini", "vertex", "vertex-anthropic", "bedrock", "azure-openai",
    "groq", "mistral", "deepseek", "xai", "openrouter", "together", "fireworks",
    "perplexity", "cerebras", "ollama", "vllm",
]
WireFormat = Literal["openai", "anthropic", "workers-ai", "gemini", "bedrock"]
KeyAuth = Literal["provider-default", "bearer"]
RateLimitScope = Literal["global", "provider", "model", "caller"]
LogLevel = Literal["debug", "info", "warn", "error"]
LogEvent = Literal["request", "retry", "response", "error"]

# ------------------------------------------------------------------ shared records

Usage = TypedDict("Usage", {
    "input-tokens": int,
    "output-tokens": int,
    "cache-read-tokens": int,
    "cache-write-tokens": int,
    "reasoning-tokens": int,
})

Attempt = TypedDict("Attempt", {
    "provider": str,
    "model": str,
    "status": Optional[int],
    "duration-ms": int,
    "error": Optional[ErrorKind],
})

ToolCall = TypedDict("ToolCall", {
    "id": str,
    "name": str,
    "arguments": str,
    "raw-arguments": Optional[str],
})

# ------------------------------------------------------------------ errors

UpstreamDetail = TypedDict("UpstreamDetail", {
    "message": str,
    "provider": Optional[str],
    "status": Optional[int],
    "code": Optional[str],
    "body": Optional[str],
    "retry-after-ms": Optional[int],
    "retryable": bool,
    "attempts": list[Attempt],
})

TimeoutDetail = TypedDict("TimeoutDetail", {"message": str, "attempts": list[Attempt]})

BudgetDetail = TypedDict("BudgetDetail", {"spent-micro-usd": int, "budget-micro-usd": int})

ModelRef = TypedDict("ModelRef", {"provider": str, "model": str})


class GatewayErrorValue(TypedDict):
    """`gateway-error`; `val` is a str (validation), an `UpstreamDetail`
    (auth, not-found, rate-limited, service-unavailable, upstream), a
    `TimeoutDetail`, a `BudgetDetail`, a `ModelRef`, or an optional str
    (internal)."""

    tag: ErrorKind
    val: Union[str, UpstreamDetail, TimeoutDetail, BudgetDetail, ModelRef, None]


# ------------------------------------------------------------------ input

ImageDetail = Literal["auto", "low", "high"]

Media = TypedDict("Media", {"media-type": str, "base64": str})


class ImageSource(TypedDict):
    """``{"tag": "url", "val": url}`` or ``{"tag": "inline", "val": Media}``."""

    tag: Literal["url", "inline"]
    val: Union[str, Media]


TextPart = TypedDict("TextPart", {
    "text": Required[str],
    "cache-control": Optional[CacheControl],
}, total=False)

ImagePart = TypedDict("ImagePart", {
    "source": Required[ImageSource],
    "detail": Optional[ImageDetail],
    "cache-control": Optional[CacheControl],
}, total=False)

DocumentPart = TypedDict("DocumentPart", {
    "document": Required[Media],
    "title": Optional[str],
    "cache-control": Optional[CacheControl],
}, total=False)

ReasoningBlock = TypedDict("ReasoningBlock", {
    "text": str,
    "signature": Optional[str],
    "redacted": Optional[str],
})


class TextContentPart(TypedDict):
    tag: Literal["text"]
    val: TextPart


class ImageContentPart(TypedDict):
    tag: Literal["image"]
    val: ImagePart


class DocumentContentPart(TypedDict):
    tag: Literal["document"]
    val: DocumentPart


class ReasoningContentPart(TypedDict):
    tag: Literal["reasoning"]
    val: ReasoningBlock


ContentPart = Union[TextContentPart, ImageContentPart, DocumentContentPart, ReasoningContentPart]


class TextContent(TypedDict):
    tag: Literal["text"]
    val: str


class PartsContent(TypedDict):
    tag: Literal["parts"]
    val: list[ContentPart]


#: A message's content: a plain ``str`` (the shortcut for
#: ``{"tag": "text", "val": ...}``), or ``{"tag": "parts", "val": [...]}``.
Content = Union[str, TextContent, PartsContent]

Message = TypedDict("Message", {
    "role": Required[Role],
    "content": Required[Content],
    "cache-control": Optional[CacheControl],
    "tool-calls": list[ToolCall],
    "tool-call-id": Optional[str],
}, total=False)


class PromptInput(TypedDict):
    tag: Literal["prompt"]
    val: str


class MessagesInput(TypedDict):
    tag: Literal["messages"]
    val: list[Message]


AiInput = Union[PromptInput, MessagesInput]

# ------------------------------------------------------------------ options

JsonSchemaFormat = TypedDict("JsonSchemaFormat", {
    "name": Required[str],
    "schema": Required[str],
    "strict": Required[bool],
    "description": Optional[str],
}, total=False)


class ResponseFormat(TypedDict, total=False):
    """``{"tag": "text" | "json"}`` or ``{"tag": "json-schema", "val": JsonSchemaFormat}``."""

    tag: Required[Literal["text", "json", "json-schema"]]
    val: JsonSchemaFormat


class ToolChoice(TypedDict, total=False):
    """``{"tag": "auto" | "none" | "required"}`` or ``{"tag": "named", "val": name}``."""

    tag: Required[Literal["auto", "none", "required", "named"]]
    val: str


class ToolDefinition(TypedDict, total=False):
    name: Required[str]
    description: Optional[str]
    parameters: Optional[str]


RetryPolicy = TypedDict("RetryPolicy", {
    "max-attempts": Required[int],
    "retry-on": list[ErrorKind],
    "initial-backoff-ms": Required[int],
    "max-backoff-ms": Required[int],
    "max-retry-after-ms": Required[int],
}, total=False)


class FallbackEntry(TypedDict):
    provider: str
    model: str


class FallbackChain(TypedDict, total=False):
    entries: list[FallbackEntry]
    on: list[ErrorKind]


RunOptions = TypedDict("RunOptions", {
    "provider": Optional[str],
    "timeout-ms": Optional[int],
    "response-format": Optional[ResponseFormat],
    "tools": list[ToolDefinition],
    "tool-choice": Optional[ToolChoice],
    "max-tokens": Optional[int],
    "temperature": Optional[float],
    "top-p": Optional[float],
    "stop": list[str],
    "reasoning-effort": Optional[ReasoningEffort],
    "extra-body": Optional[str],
    "headers": list[tuple[str, str]],
    "retry": Optional[RetryPolicy],
    "fallback": Optional[FallbackChain],
    "cache": Optional[CacheMode],
    "cache-key": Optional[str],
    "caller": Optional[str],
    "parallel-tool-calls": Optional[bool],
    "presence-penalty": Optional[float],
    "frequency-penalty": Optional[float],
    "logit-bias": list[tuple[int, int]],
    "seed": Optional[int],
    "logprobs": Optional[bool],
    "top-logprobs": Optional[int],
    "end-user": Optional[str],
    "metadata": list[tuple[str, str]],
    "service-tier": Optional[str],
    "request-id": Optional[str],
}, total=False)

EmbedOptions = TypedDict("EmbedOptions", {
    "provider": Optional[str],
    "dimensions": Optional[int],
    "timeout-ms": Optional[int],
}, total=False)

# ------------------------------------------------------------------ output

LogRecord = TypedDict("LogRecord", {
    "level": LogLevel,
    "event": LogEvent,
    "timestamp-ms": int,
    "operation": str,
    "provider": Optional[str],
    "model": str,
    "duration-ms": int,
    "usage": Optional[Usage],
    "cost-micro-usd": Optional[int],
    "attempts": int,
    "cached": bool,
    "error": Optional[str],
    "prompt": Optional[str],
    "request-id": Optional[str],
})


class FinishReason(TypedDict):
    """``{"tag": "stop" | "length" | "tool-calls" | "content-filter", "val": None}``
    or ``{"tag": "other", "val": reason}``."""

    tag: Literal["stop", "length", "tool-calls", "content-filter", "other"]
    val: Optional[str]


TopLogprob = TypedDict("TopLogprob", {"token": str, "logprob": float, "bytes": Optional[bytes]})

TokenLogprob = TypedDict("TokenLogprob", {
    "token": str,
    "logprob": float,
    "bytes": Optional[bytes],
    "top": list[TopLogprob],
})

AiOutput = TypedDict("AiOutput", {
    "text": str,
    "reasoning": Optional[str],
    "reasoning-blocks": list[ReasoningBlock],
    "refusal": Optional[str],
    "logprobs": list[TokenLogprob],
    "tool-calls": list[ToolCall],
    "usage": Optional[Usage],
    "provider": str,
    "model": str,
    "finish-reason": Optional[FinishReason],
    "raw": Optional[str],
    "cached": bool,
    "cost-micro-usd": Optional[int],
    "attempts": list[Attempt],
    "trace": list[LogRecord],
})

StreamDone = TypedDict("StreamDone", {
    "usage": Optional[Usage],
    "finish-reason": Optional[FinishReason],
    "provider": str,
    "model": str,
    "cached": bool,
    "cost-micro-usd": Optional[int],
})


class TextEvent(TypedDict):
    tag: Literal["text", "reasoning", "reasoning-signature", "reasoning-redacted", "refusal"]
    val: str


class LogprobsEvent(TypedDict):
    tag: Literal["logprobs"]
    val: list[TokenLogprob]


class ToolUseEvent(TypedDict):
    tag: Literal["tool-use"]
    val: ToolCall


class DoneEvent(TypedDict):
    tag: Literal["done"]
    val: StreamDone


class ErrorEvent(TypedDict):
    tag: Literal["error"]
    val: GatewayErrorValue


StreamEvent = Union[TextEvent, ToolUseEvent, LogprobsEvent, DoneEvent, ErrorEvent]


class PollEvent(TypedDict):
    """``{"tag": "ready", "val": StreamEvent}``, ``{"tag": "pending"}`` or ``{"tag": "finished"}``
    (``val`` None for the last two)."""

    tag: Literal["ready", "pending", "finished"]
    val: Optional[StreamEvent]


class EmbedOutput(TypedDict):
    embeddings: list[list[float]]
    usage: Optional[Usage]
    provider: str
    model: str


# ------------------------------------------------------------------ config

ProviderConfig = TypedDict("ProviderConfig", {
    "name": Required[str],
    "kind": Required[ProviderKind],
    "api-key": Optional[str],
    "base-url": Optional[str],
    "account-id": Optional[str],
    "wire-format": Optional[WireFormat],
    "api-version": Optional[str],
    "headers": list[tuple[str, str]],
    "region": Optional[str],
    "project": Optional[str],
    "resource-name": Optional[str],
    "aws-credentials": Optional["AwsCredentials"],
    "key-auth": Optional[KeyAuth],
}, total=False)

AwsCredentials = TypedDict("AwsCredentials", {
    "access-key-id": Required[str],
    "secret-access-key": Required[str],
    "session-token": Optional[str],
}, total=False)

CfGatewayConfig = TypedDict("CfGatewayConfig", {
    "account-id": Required[str],
    "gateway-id": Required[str],
    "auth-token": Optional[str],
    "cache-ttl": Optional[int],
    "skip-cache": Required[bool],
}, total=False)


class Route(TypedDict):
    pattern: str
    provider: str


class RouterConfig(TypedDict, total=False):
    routes: list[Route]
    fallback: Optional[str]


class NamedChain(TypedDict):
    name: str
    chain: FallbackChain


CacheConfig = TypedDict("CacheConfig", {
    "bucket": Required[str],
    "ttl-seconds": Required[int],
    "namespace": Optional[str],
    "streams": Required[bool],
}, total=False)

ModelPricing = TypedDict("ModelPricing", {
    "model": Required[str],
    "input": Required[int],
    "output": Required[int],
    "cache-read": Optional[int],
    "cache-write": Optional[int],
    "reasoning": Optional[int],
}, total=False)

CostConfig = TypedDict("CostConfig", {
    "pricing": list[ModelPricing],
    "budget-micro-usd": Optional[int],
    "bucket": Optional[str],
    "key-prefix": Optional[str],
}, total=False)

RateLimit = TypedDict("RateLimit", {
    "name": Required[str],
    "scope": Required[RateLimitScope],
    "window-seconds": Required[int],
    "max-requests": Optional[int],
    "max-tokens": Optional[int],
}, total=False)


class RateLimitConfig(TypedDict, total=False):
    bucket: Required[str]
    limits: list[RateLimit]


LoggingConfig = TypedDict("LoggingConfig", {
    "level": LogLevel,
    "stderr": bool,
    "include-prompts": bool,
})

AttemptTimeouts = TypedDict("AttemptTimeouts", {
    "connect-ms": Optional[int],
    "first-byte-ms": Optional[int],
    "between-bytes-ms": Optional[int],
}, total=False)


class ModelMatcher(TypedDict):
    """``{"tag": "exact" | "prefix", "val": text}``."""

    tag: Literal["exact", "prefix"]
    val: str


class ProviderModels(TypedDict, total=False):
    provider: Required[str]
    models: list[ModelMatcher]


AllowlistConfig = list[ProviderModels]

GatewayConfig = TypedDict("GatewayConfig", {
    "providers": list[ProviderConfig],
    "default-provider": Optional[str],
    "cf-gateway": Optional[CfGatewayConfig],
    "router": Optional[RouterConfig],
    "retry": Optional[RetryPolicy],
    "chains": list[NamedChain],
    "cache": Optional[CacheConfig],
    "cost": Optional[CostConfig],
    "rate-limits": Optional[RateLimitConfig],
    "allowlist": Optional[AllowlistConfig],
    "logging": Optional[LoggingConfig],
    "timeout-ms": Optional[int],
    "attempt-timeouts": Optional[AttemptTimeouts],
}, total=False)

# ------------------------------------------------------------------ cost

ModelTotals = TypedDict("ModelTotals", {
    "model": str,
    "requests": int,
    "usage": Usage,
    "cost-micro-usd": int,
})

CostTotals = TypedDict("CostTotals", {
    "requests": int,
    "usage": Usage,
    "cost-micro-usd": int,
    "by-model": list[ModelTotals],
})

BudgetStatus = TypedDict("BudgetStatus", {
    "spent-micro-usd": int,
    "budget-micro-usd": int,
    "remaining-micro-usd": int,
    "exceeded": bool,
})
