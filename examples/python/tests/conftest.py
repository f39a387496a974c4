"""Shared fixtures. host-test/tests/hosts.rs runs these tests against its
mock upstream and sets MOCK_URL, AI_GATEWAY_WASM, AI_GATEWAY_ALLOWLIST_WASM
and EXPECTED_SHA256; by hand, start `host-test mock` and set them."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

import pytest

import ai_gateway as ag


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set (see tests/conftest.py)", returncode=2)
    return value


@pytest.fixture(scope="session")
def mock_url() -> str:
    return _env("MOCK_URL")


@pytest.fixture(scope="session")
def wasm() -> str:
    return _env("AI_GATEWAY_WASM")


@pytest.fixture(scope="session")
def allowlist_wasm() -> str:
    return _env("AI_GATEWAY_ALLOWLIST_WASM")


class Mock:
    """The mock upstream's admin API (host-test/src/mock.rs `admin_reply`)."""

    def __init__(self, url: str):
        self.url = url

    def _admin(self, path: str, body: Any = None, method: str = "GET") -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/__mock/{path}", data=data, method="POST" if data is not None else method)
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def reset(self) -> None:
        self._admin("reset", method="POST")

    def reply(self, status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> None:
        """Queue one reply (then the mock answers by default again)."""
        text = body if isinstance(body, str) else json.dumps(body)
        self._admin("reply", {"status": status, "body": text, "headers": [list(h) for h in headers or []]})

    def requests(self) -> list[dict[str, Any]]:
        return self._admin("requests")

    def hits(self) -> int:
        return self._admin("hits")["hits"]


@pytest.fixture(scope="session")
def mock_server(mock_url: str) -> Mock:
    return Mock(mock_url)


@pytest.fixture
def mock(mock_server: Mock) -> Mock:
    mock_server.reset()
    return mock_server


@pytest.fixture
def openai(mock_url: str) -> ag.types.ProviderConfig:
    return ag.openai_provider("sk-python", f"{mock_url}/v1")


@pytest.fixture
def open_gateway(wasm: str, openai: ag.types.ProviderConfig):
    """open_gateway(**config) -> a Gateway on a new instance, with the mock's
    OpenAI provider as default unless `providers` is given."""
    opened: list[ag.Gateway] = []

    def open_(**config: Any) -> ag.Gateway:
        config = {k.replace("_", "-"): v for k, v in config.items()}
        config.setdefault("providers", [openai])
        if config["providers"]:
            config.setdefault("default-provider", config["providers"][0]["name"])
        gw = ag.Gateway.open(wasm, config)
        opened.append(gw)
        return gw

    yield open_
    for gw in opened:
        gw.close()
