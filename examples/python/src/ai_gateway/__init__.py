"""Call the ai-gateway WebAssembly component (`workkit:ai-gateway@0.3.0`)
from Python, with wasmtime from PyPI.

WASI 0.2 and `wasi:http` come from wasmtime; `wasi:keyvalue@0.2.0-draft2`
is implemented here over a dict (`DictKeyValue`), so the response cache,
cost totals and rate limits work in-process. The component is compiled once
per process (and cached on disk by wasmtime), so opening more gateways is
cheap.

    from ai_gateway import Gateway, openai_provider, prompt
    gw = Gateway.open("ai_gateway.wasm", {"providers": [openai_provider(key)], "default-provider": "openai"})
    out = gw.run("gpt-4o-mini", prompt("Hello"))
    print(out["text"])
    for event in gw.stream("gpt-4o-mini", prompt("Tell me a story")):
        ...

Values are plain Python, typed in `ai_gateway.types`: records are dicts with
the WIT field names (kebab-case), variants ``{"tag": ..., "val": ...}``,
options None or the value. Errors raise a `GatewayError` subclass.
"""

from . import types
from ._gateway import (
    ALLOWLIST,
    API,
    COST_TRACKER,
    ROUTER,
    Allowlist,
    EventStream,
    Gateway,
    Instance,
    Router,
    Tracker,
    compiled,
    engine,
)
from ._kv import DictKeyValue
from .builders import anthropic_provider, messages, openai_provider, prompt, tool, usage, workers_ai_provider
from .errors import (
    AuthError,
    BudgetExceeded,
    GatewayError,
    GatewayTimeout,
    InstanceTrapped,
    InternalError,
    ModelNotAllowed,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "ALLOWLIST", "API", "COST_TRACKER", "ROUTER",
    "Allowlist", "EventStream", "Gateway", "Instance", "Router", "Tracker", "DictKeyValue",
    "compiled", "engine", "types",
    "anthropic_provider", "messages", "openai_provider", "prompt", "tool", "usage", "workers_ai_provider",
    "GatewayError", "AuthError", "BudgetExceeded", "GatewayTimeout", "InstanceTrapped", "InternalError",
    "ModelNotAllowed", "NotFound", "RateLimited", "ServiceUnavailable", "UpstreamError", "ValidationError",
]
