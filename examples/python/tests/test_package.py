"""The package itself: installed from this source, compiled once."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import wasmtime.component as wc

import ai_gateway as ag

SRC = Path(__file__).resolve().parents[1] / "src" / "ai_gateway"


def digest(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.glob("*.py"))}


def test_installed_package_is_this_source():
    installed = Path(ag.__file__).resolve().parent
    assert installed != SRC, "tests must import the installed package (pip install ./examples/python)"
    assert digest(installed) == digest(SRC), "the installed package is stale: pip install ./examples/python"
    assert (installed / "py.typed").exists()


def test_component_is_compiled_once_per_process(wasm, openai, monkeypatch):
    assert ag.compiled(wasm) is ag.compiled(wasm)
    ag.Gateway.open(wasm, {"providers": [openai]})  # compiled (or loaded) by now

    def no_compiling(*_args, **_kw):
        raise AssertionError("compiled again")

    for name in ("from_file", "deserialize", "deserialize_file"):
        monkeypatch.setattr(wc.Component, name, no_compiling)
    monkeypatch.setattr(wc.Component, "__init__", no_compiling)
    started = time.perf_counter()
    for _ in range(5):
        ag.Gateway.open(wasm, {"providers": [openai]}).close()
    per_open = (time.perf_counter() - started) / 5
    # Compiling takes ~2 s on this machine kind; an open is milliseconds.
    assert per_open < 0.25, f"{per_open:.3f} s per open"
