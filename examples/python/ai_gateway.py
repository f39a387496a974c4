"""Call the ai-gateway WebAssembly component from Python.

Uses the `wasmtime` package from PyPI (component model support): WASI 0.2
and wasi:http come from wasmtime (`add_wasip2`, `add_wasi_http`);
`wasi:keyvalue@0.2.0-draft2` is implemented here over a dict, so the
response cache, cost totals and rate limits work in-process.

    gw = Gateway.open("ai_gateway.wasm", {"providers": [openai_provider(key)], "default-provider": "openai"})
    out = gw.run("gpt-4o-mini", prompt("Hello"))
    print(out["text"])
    for event in gw.stream("gpt-4o-mini", prompt("Tell me a story")):
        ...

Values cross the boundary as plain Python: records are dicts with the WIT
field names (kebab-case), variants are {"tag": ..., "val": ...}, options are
None or the value. `GatewayError` carries the WIT `gateway-error`.
"""

from __future__ import annotations

import threading
from typing import Any, Iterator

import wasmtime
import wasmtime.component as wc

API = "workkit:ai-gateway/api@0.1.0"
KV_STORE = "wasi:keyvalue/store@0.2.0-draft2"
KV_ATOMICS = "wasi:keyvalue/atomics@0.2.0-draft2"
BUCKET_TYPE = 1


class GatewayError(Exception):
    """The component's `gateway-error`: `kind` is the case, `detail` its payload."""

    def __init__(self, kind: str, detail: Any):
        self.kind = kind
        self.detail = detail
        message = detail.get("message") if isinstance(detail, dict) else detail
        super().__init__(f"{kind}: {message}")


# ------------------------------------------------------------ value mapping


def _lower(value: Any, ty: Any) -> Any:
    """Plain Python -> what wasmtime-py expects for `ty`: records from dicts
    (WIT field names), variants from {"tag", "val"} -- as `Variant` when the
    type is tagged, else the bare payload (wasmtime-py tells the cases of an
    untagged variant apart by their Python type)."""
    if isinstance(ty, wc.RecordType):
        rec = wc.Record()
        for name, field_ty in ty.fields:
            setattr(rec, name, _lower(value.get(name) if isinstance(value, dict) else getattr(value, name), field_ty))
        return rec
    if isinstance(ty, wc.OptionType):
        return None if value is None else _lower(value, ty.payload)
    if isinstance(ty, wc.ListType):
        if isinstance(ty.element, wc.U8):
            return bytes(value)
        return [_lower(v, ty.element) for v in value]
    if isinstance(ty, wc.TupleType):
        return tuple(_lower(v, t) for v, t in zip(value, ty.elements))
    if isinstance(ty, wc.VariantType):
        cases = dict(ty._cases())
        tag = value["tag"]
        if tag not in cases:
            raise ValueError(f"{tag!r} is not one of {sorted(cases)}")
        payload_ty = cases[tag]
        payload = None if payload_ty is None else _lower(value.get("val"), payload_ty)
        return wc.Variant(tag, payload) if ty._tagged() else payload
    return value


def _from_wit(value: Any) -> Any:
    if isinstance(value, wc.Record):
        return {k: _from_wit(v) for k, v in value.__dict__.items()}
    if isinstance(value, wc.Variant):
        return {"tag": value.tag, "val": _from_wit(value.payload)}
    if isinstance(value, list):
        return [_from_wit(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_from_wit(v) for v in value)
    return value


def _error(value: Any) -> GatewayError:
    e = _from_wit(value)
    return GatewayError(e["tag"], e.get("val"))


# ------------------------------------------------------------ wasi:keyvalue


class DictKeyValue:
    """`wasi:keyvalue` (store + atomics) over an in-memory dict, thread-safe."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], bytes] = {}
        self.lock = threading.Lock()
        self._buckets: dict[int, str] = {}
        self._next = 1

    def link(self, linker: wc.Linker) -> None:
        # Linker instances are scoped: each must be closed before the next.
        with linker.root() as root:
            with root.add_instance(KV_STORE) as store_i:
                store_i.add_resource("bucket", wc.ResourceType.host(BUCKET_TYPE), self._drop)
                store_i.add_func("open", self._open)
                store_i.add_func("[method]bucket.get", self._get)
                store_i.add_func("[method]bucket.set", self._set)
                store_i.add_func("[method]bucket.delete", self._delete)
                store_i.add_func("[method]bucket.exists", self._exists)
                store_i.add_func("[method]bucket.list-keys", self._list_keys)
            with root.add_instance(KV_ATOMICS) as atomics_i:
                atomics_i.add_func("increment", self._increment)

    def _drop(self, _store: Any, rep: int) -> None:
        self._buckets.pop(rep, None)

    def _name(self, store: Any, handle: Any) -> str:
        # A borrowed handle must be dropped before the call returns.
        rep = handle.to_host(store).rep
        handle.drop(store)
        return self._buckets[rep]

    def _open(self, _store: Any, name: str) -> Any:
        rep = self._next
        self._next += 1
        self._buckets[rep] = name
        return wc.ResourceHost.own(rep, BUCKET_TYPE)

    def _get(self, store: Any, handle: Any, key: str) -> Any:
        bucket = self._name(store, handle)
        with self.lock:
            return self.data.get((bucket, key))

    def _set(self, store: Any, handle: Any, key: str, value: bytes) -> Any:
        bucket = self._name(store, handle)
        with self.lock:
            self.data[(bucket, key)] = bytes(value)
        return None

    def _delete(self, store: Any, handle: Any, key: str) -> Any:
        bucket = self._name(store, handle)
        with self.lock:
            self.data.pop((bucket, key), None)
        return None

    def _exists(self, store: Any, handle: Any, key: str) -> Any:
        bucket = self._name(store, handle)
        with self.lock:
            return (bucket, key) in self.data

    def _list_keys(self, store: Any, handle: Any, _cursor: Any) -> Any:
        bucket = self._name(store, handle)
        with self.lock:
            keys = sorted(k for (b, k) in self.data if b == bucket)
        rec = wc.Record()
        setattr(rec, "keys", keys)
        setattr(rec, "cursor", None)
        return rec

    def _increment(self, store: Any, handle: Any, key: str, delta: int) -> Any:
        bucket = self._name(store, handle)
        with self.lock:
            current = int(self.data.get((bucket, key), b"0") or b"0")
            current += delta
            self.data[(bucket, key)] = str(current).encode()
            return current


# ------------------------------------------------------------ the gateway


class Gateway:
    """One component instance with one opened gateway."""

    def __init__(self, store: wasmtime.Store, instance: wc.Instance, handle: Any, kv: DictKeyValue):
        self._store = store
        self._instance = instance
        self._handle = handle
        self.kv = kv

    @classmethod
    def open(cls, wasm_path: str, config: dict, kv: DictKeyValue | None = None) -> "Gateway":
        engine = wasmtime.Engine()
        component = wc.Component.from_file(engine, wasm_path)
        linker = wc.Linker(engine)
        linker.add_wasip2()
        linker.add_wasi_http()
        kv = kv or DictKeyValue()
        kv.link(linker)
        store = wasmtime.Store(engine)
        wasi = wasmtime.WasiConfig()
        wasi.inherit_stderr()
        store.set_wasi(wasi)
        store.set_wasi_http()
        instance = linker.instantiate(store, component)
        gw = cls(store, instance, None, kv)
        gw._handle = gw._call("open", full_config(config))
        return gw

    def _func(self, name: str) -> wc.Func:
        api = self._instance.get_export_index(self._store, API)
        idx = self._instance.get_export_index(self._store, name, api)
        func = self._instance.get_func(self._store, idx) if idx is not None else None
        if func is None:
            raise KeyError(f"{API} exports no {name}")
        return func

    def _call(self, name: str, *args: Any) -> Any:
        func = self._func(name)
        params = func.type(self._store).params
        lowered = [a if isinstance(a, (wc.ResourceAny, wc.ResourceHost)) else _lower(a, ty) for a, (_, ty) in zip(args, params)]
        result = func(self._store, *lowered)
        func.post_return(self._store)
        if isinstance(result, wc.Variant) and result.tag in ERROR_TAGS and name != "[method]event-stream.next":
            raise _error(result)
        return result

    def run(self, model: str, input: dict, options: dict | None = None) -> dict:
        out = self._call("[method]gateway.run", self._handle, model, input, run_options(options))
        return _from_wit(out)

    def stream(self, model: str, input: dict, options: dict | None = None) -> Iterator[dict]:
        """Yield stream events until (and including) the terminal one."""
        stream = self._call("[method]gateway.stream", self._handle, model, input, run_options(options))
        try:
            while True:
                event = self._call("[method]event-stream.next", stream)
                if event is None:
                    return
                yield _from_wit(event)
        finally:
            stream.drop(self._store)

    def providers(self) -> list[str]:
        return self._call("[method]gateway.providers", self._handle)

    def close(self) -> None:
        self._handle.drop(self._store)


ERROR_TAGS = {
    "validation", "auth", "not-found", "rate-limited", "timeout", "service-unavailable",
    "upstream", "budget-exceeded", "model-not-allowed", "internal",
}

# ------------------------------------------------------------ builders

PROVIDER_FIELDS = ["name", "kind", "api-key", "base-url", "account-id", "wire-format", "api-version", "headers"]
CONFIG_FIELDS = [
    "providers", "default-provider", "cf-gateway", "router", "retry", "chains", "cache", "cost",
    "rate-limits", "allowlist", "logging", "timeout-ms", "attempt-timeouts",
]
OPTION_FIELDS = [
    "provider", "timeout-ms", "response-format", "tools", "tool-choice", "max-tokens", "temperature",
    "top-p", "stop", "reasoning-effort", "extra-body", "headers", "retry", "fallback", "cache",
    "cache-key", "caller",
]
LISTS = {"headers", "tools", "stop", "chains", "providers"}


def _complete(fields: list[str], given: dict) -> dict:
    unknown = set(given) - set(fields)
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    return {f: given.get(f, [] if f in LISTS else None) for f in fields}


def full_config(config: dict) -> dict:
    c = _complete(CONFIG_FIELDS, config)
    c["providers"] = [_complete(PROVIDER_FIELDS, p) for p in c["providers"]]
    return c


def run_options(options: dict | None) -> dict | None:
    return None if options is None else _complete(OPTION_FIELDS, options)


def openai_provider(api_key: str, base_url: str | None = None, name: str = "openai") -> dict:
    return {"name": name, "kind": "openai", "api-key": api_key, "base-url": base_url}


def anthropic_provider(api_key: str, base_url: str | None = None, name: str = "anthropic") -> dict:
    return {"name": name, "kind": "anthropic", "api-key": api_key, "base-url": base_url}


def prompt(text: str) -> dict:
    return {"tag": "prompt", "val": text}


def messages(*pairs: tuple[str, str]) -> dict:
    return {
        "tag": "messages",
        "val": [
            {"role": role, "content": content, "cache-control": None, "tool-calls": [], "tool-call-id": None}
            for role, content in pairs
        ],
    }


def tool(name: str, description: str, parameters: str) -> dict:
    return {"name": name, "description": description, "parameters": parameters}
