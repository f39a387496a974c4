"""Small constructors for the values callers build most often."""

from __future__ import annotations

from typing import Optional

from . import types as t


def openai_provider(api_key: str, base_url: Optional[str] = None, name: str = "openai") -> t.ProviderConfig:
    return {"name": name, "kind": "openai", "api-key": api_key, "base-url": base_url}


def anthropic_provider(api_key: str, base_url: Optional[str] = None, name: str = "anthropic") -> t.ProviderConfig:
    return {"name": name, "kind": "anthropic", "api-key": api_key, "base-url": base_url}


def workers_ai_provider(api_token: str, account_id: str, base_url: Optional[str] = None,
                        name: str = "workers-ai") -> t.ProviderConfig:
    return {"name": name, "kind": "workers-ai", "api-key": api_token, "account-id": account_id, "base-url": base_url}


def prompt(text: str) -> t.PromptInput:
    return {"tag": "prompt", "val": text}


def messages(*pairs: tuple[t.Role, str]) -> t.MessagesInput:
    """A conversation from ``(role, content)`` pairs."""
    return {"tag": "messages", "val": [{"role": role, "content": content} for role, content in pairs]}


def tool(name: str, description: Optional[str] = None, parameters: Optional[str] = None) -> t.ToolDefinition:
    """A tool; `parameters` is its JSON Schema as JSON text."""
    return {"name": name, "description": description, "parameters": parameters}


def usage(input_tokens: int = 0, output_tokens: int = 0, *, cache_read_tokens: int = 0,
          cache_write_tokens: int = 0, reasoning_tokens: int = 0) -> t.Usage:
    return {
        "input-tokens": input_tokens,
        "output-tokens": output_tokens,
        "cache-read-tokens": cache_read_tokens,
        "cache-write-tokens": cache_write_tokens,
        "reasoning-tokens": reasoning_tokens,
    }
