"""One component instance and the resources it exports."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Iterator, Optional, cast

import wasmtime
import wasmtime.component as wc

from . import types as t
from ._kv import DictKeyValue
from ._values import lift, lower, split_result
from .errors import GatewayError, InstanceTrapped

PACKAGE = "workkit:ai-gateway"
VERSION = "0.3.0"
API = f"{PACKAGE}/api@{VERSION}"
ROUTER = f"{PACKAGE}/router@{VERSION}"
COST_TRACKER = f"{PACKAGE}/cost-tracker@{VERSION}"
ALLOWLIST = f"{PACKAGE}/model-allowlist@{VERSION}"

# ------------------------------------------------------------ compile once

_lock = threading.Lock()
_engine: Optional[wasmtime.Engine] = None
_components: dict[tuple[str, int, int], wc.Component] = {}


def engine() -> wasmtime.Engine:
    """The process's one `Engine`. Its compiled code is also cached on disk
    (wasmtime's cache, `~/.cache/wasmtime` by default) so a new process
    skips compiling too; set ``AI_GATEWAY_WASMTIME_CACHE=0`` to turn that
    off, or to the path of a wasmtime cache TOML file to configure it."""
    global _engine
    with _lock:
        if _engine is None:
            config = wasmtime.Config()
            setting = os.environ.get("AI_GATEWAY_WASMTIME_CACHE", "1")
            if setting not in ("0", ""):
                config.cache = True if setting == "1" else setting
            _engine = wasmtime.Engine(config)
        return _engine


def compiled(wasm_path: str | os.PathLike[str]) -> wc.Component:
    """The compiled component at `wasm_path`, compiled at most once per
    process (per file version: a rebuilt file is compiled again)."""
    path = os.path.realpath(wasm_path)
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    eng = engine()
    with _lock:
        found = _components.get(key)
    if found is not None:
        return found
    component = wc.Component.from_file(eng, path)
    with _lock:
        return _components.setdefault(key, component)


def default_wasm() -> str:
    """``$AI_GATEWAY_WASM``, the component path when none is given."""
    path = os.environ.get("AI_GATEWAY_WASM")
    if not path:
        raise ValueError("no component path given and AI_GATEWAY_WASM is not set")
    return path


# ------------------------------------------------------------ the instance


class Instance:
    """One instance of `ai-gateway.wasm` (or of the standalone allowlist
    component, which exports only `model-allowlist`).

    Calls into one instance are sequential (a lock serializes threads). A
    trap kills the instance: the call raises `InstanceTrapped`, and so does
    every later call, instead of wasmtime's bare "cannot enter component
    instance".
    """

    def __init__(self, wasm_path: str | os.PathLike[str] | None = None, kv: DictKeyValue | None = None,
                 *, inherit_stderr: bool = True):
        self.path = Path(wasm_path or default_wasm())
        component = compiled(self.path)
        eng = engine()
        linker = wc.Linker(eng)
        linker.add_wasip2()
        linker.add_wasi_http()
        self.kv = kv if kv is not None else DictKeyValue()
        self.kv.link(linker)
        self.store = wasmtime.Store(eng)
        wasi = wasmtime.WasiConfig()
        if inherit_stderr:
            wasi.inherit_stderr()
        self.store.set_wasi(wasi)
        self.store.set_wasi_http()
        self._instance = linker.instantiate(self.store, component)
        self._funcs: dict[tuple[str, str], tuple[wc.Func, list[Any], Any]] = {}
        self._lock = threading.RLock()
        self._trapped: Optional[BaseException] = None

    def _func(self, interface: str, name: str) -> tuple[wc.Func, list[Any], Any]:
        key = (interface, name)
        found = self._funcs.get(key)
        if found is None:
            iface = self._instance.get_export_index(self.store, interface)
            idx = self._instance.get_export_index(self.store, name, iface) if iface is not None else None
            func = self._instance.get_func(self.store, idx) if idx is not None else None
            if func is None:
                raise LookupError(f"{self.path.name} exports no {interface}#{name}")
            fty = func.type(self.store)
            found = (func, [ty for _, ty in fty.params], fty.result)
            self._funcs[key] = found
        return found

    def call(self, interface: str, name: str, *args: Any) -> Any:
        """Call an export with plain-Python arguments (see `_values`) and
        return its plain-Python result. A `result` whose error is returned
        raises `GatewayError` (of the subclass for its case)."""
        with self._lock:
            if self._trapped is not None:
                raise InstanceTrapped(f"this instance trapped earlier ({self._trapped}); open a new one") from self._trapped
            func, params, result_ty = self._func(interface, name)
            if len(args) != len(params):
                raise TypeError(f"{name} takes {len(params)} arguments, got {len(args)}")
            lowered = [lower(a, ty, f"{name}[{i}]") for i, (a, ty) in enumerate(zip(args, params))]
            try:
                result = func(self.store, *lowered)
                func.post_return(self.store)
            except wasmtime.WasmtimeError as e:
                self._trapped = e
                raise InstanceTrapped(f"{name} trapped: {e}") from e
        if isinstance(result_ty, wc.ResultType):
            ok, payload = split_result(result, result_ty)
            if not ok:
                raise GatewayError.from_wit(lift(payload, result_ty.err))
            return None if result_ty.ok is None else lift(payload, result_ty.ok)
        return None if result_ty is None else lift(result, result_ty)

    def drop(self, handle: wc.ResourceAny) -> None:
        """Drop an owned resource handle (runs the guest's destructor)."""
        with self._lock:
            if self._trapped is None:
                handle.drop(self.store)

    # ------------------------------------------------------------ api

    def open_gateway(self, config: t.GatewayConfig) -> "Gateway":
        """`api.open`: validate `config` and open a gateway."""
        return Gateway(self, self.call(API, "open", config))

    # ------------------------------------------------------------ router

    def create_router(self, config: t.RouterConfig) -> "Router":
        """`router.create-router` (seed `createRouter`)."""
        return Router(self, self.call(ROUTER, "create-router", config))

    # ------------------------------------------------------------ cost tracker

    def open_tracker(self, config: t.CostConfig) -> "Tracker":
        """`cost-tracker.open-tracker` (seed `createCostTracker`)."""
        return Tracker(self, self.call(COST_TRACKER, "open-tracker", config))

    def price(self, pricing: t.ModelPricing, usage: t.Usage) -> int:
        """`cost-tracker.price`: micro-USD of `usage` at `pricing`."""
        return cast(int, self.call(COST_TRACKER, "price", pricing, usage))

    # ------------------------------------------------------------ allowlist

    def create_model_allowlist(self, config: t.AllowlistConfig) -> "Allowlist":
        """`model-allowlist.create-model-allowlist` (seed `createModelAllowlist`)."""
        return Allowlist(self, self.call(ALLOWLIST, "create-model-allowlist", config))

    def is_allowed_model(self, config: t.AllowlistConfig, provider: str, model: str) -> bool:
        """`model-allowlist.is-allowed-model` (seed `isAllowedModel`)."""
        return cast(bool, self.call(ALLOWLIST, "is-allowed-model", config, provider, model))


# ------------------------------------------------------------ resources


class _Resource:
    """An owned handle to a resource of the instance. `close()` drops it
    (also on leaving a `with` block); using it afterwards is a `ValueError`."""

    _interface = ""
    _resource = ""

    def __init__(self, instance: Instance, handle: wc.ResourceAny):
        self.instance = instance
        self._handle: Optional[wc.ResourceAny] = handle

    def _method(self, name: str, *args: Any) -> Any:
        if self._handle is None:
            raise ValueError(f"this {self._resource} is closed")
        return self.instance.call(self._interface, f"[method]{self._resource}.{name}", self._handle, *args)

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            self.instance.drop(handle)

    @property
    def closed(self) -> bool:
        return self._handle is None

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


class EventStream(_Resource):
    """`event-stream`: iterate it for `StreamEvent`s, ending with exactly one
    ``done`` or ``error`` event (an ``error`` event is yielded, not raised).

    When the terminal event has been delivered the stream reads its `trace`
    and `attempts` and closes itself, so a plain ``for`` loop leaks nothing
    and both stay readable afterwards. Leaving the loop early? Use ``with``
    or `close()`: dropping the stream cancels the upstream request.
    """

    _interface = API
    _resource = "event-stream"

    def __init__(self, instance: Instance, handle: wc.ResourceAny):
        super().__init__(instance, handle)
        self._final: Optional[tuple[list[t.LogRecord], list[t.Attempt]]] = None

    def __iter__(self) -> Iterator[t.StreamEvent]:
        return self

    def __next__(self) -> t.StreamEvent:
        if self._handle is None:
            raise StopIteration
        event = self._method("next")
        if event is None:
            self._finish()
            raise StopIteration
        if event["tag"] in ("done", "error"):
            self._finish()
        return cast(t.StreamEvent, event)

    def try_next(self) -> t.PollEvent:
        """`try-next`: an event if one is ready without blocking."""
        if self._handle is None:
            return {"tag": "finished", "val": None}
        event = cast(t.PollEvent, self._method("try-next"))
        if event["tag"] == "finished" or (event["tag"] == "ready" and event["val"] and event["val"]["tag"] in ("done", "error")):
            self._finish()
        return event

    def _finish(self) -> None:
        if self._final is None and self._handle is not None:
            self._final = (self._method("trace"), self._method("attempts"))
        self.close()

    def trace(self) -> list[t.LogRecord]:
        """The stream's log records (complete after the terminal event)."""
        return self._final[0] if self._final is not None else cast(list[t.LogRecord], self._method("trace"))

    def attempts(self) -> list[t.Attempt]:
        """The upstream attempts made to open the stream (empty on a cache replay)."""
        return self._final[1] if self._final is not None else cast(list[t.Attempt], self._method("attempts"))


class Gateway(_Resource):
    """A configured gateway (`api.gateway`).

    ``Gateway.open(wasm, config)`` makes its own `Instance`; to share an
    instance (and its key-value store) with a router, tracker or other
    gateways, use ``Instance(wasm).open_gateway(config)``.
    """

    _interface = API
    _resource = "gateway"

    @classmethod
    def open(cls, wasm_path: str | os.PathLike[str] | None, config: t.GatewayConfig,
             kv: DictKeyValue | None = None) -> "Gateway":
        """A new instance of the component at `wasm_path` (default
        ``$AI_GATEWAY_WASM``) with one gateway opened on `config`."""
        return Instance(wasm_path, kv).open_gateway(config)

    @property
    def kv(self) -> DictKeyValue:
        """The key-value store of this gateway's instance."""
        return self.instance.kv

    def run(self, model: str, input: t.AiInput, options: t.RunOptions | None = None) -> t.AiOutput:
        return cast(t.AiOutput, self._method("run", model, input, options))

    def stream(self, model: str, input: t.AiInput, options: t.RunOptions | None = None) -> EventStream:
        """Start a stream (raises `GatewayError` when it fails before its
        first event); iterate the result for its events."""
        return EventStream(self.instance, self._method("stream", model, input, options))

    def run_fallback(self, entries: list[t.FallbackEntry], input: t.AiInput,
                     options: t.RunOptions | None = None) -> t.AiOutput:
        """Cloudflare Universal Endpoint fallback (needs `cf-gateway`)."""
        return cast(t.AiOutput, self._method("run-fallback", entries, input, options))

    def embed(self, model: str, input: list[str], options: t.EmbedOptions | None = None) -> t.EmbedOutput:
        return cast(t.EmbedOutput, self._method("embed", model, input, options))

    def count_tokens(self, model: str, input: t.AiInput, options: t.RunOptions | None = None) -> int:
        """Input tokens of this call, counted by the provider (Anthropic only)."""
        return cast(int, self._method("count-tokens", model, input, options))

    def providers(self) -> list[str]:
        return cast(list[str], self._method("providers"))

    def default_provider(self) -> Optional[str]:
        return cast(Optional[str], self._method("default-provider"))

    def resolve_provider(self, model: str, provider: str | None = None) -> str:
        return cast(str, self._method("resolve-provider", model, provider))

    def is_cached(self, model: str, input: t.AiInput, options: t.RunOptions | None = None) -> bool:
        return cast(bool, self._method("is-cached", model, input, options))

    def invalidate(self, model: str, input: t.AiInput, options: t.RunOptions | None = None) -> bool:
        """Remove the cache entry of this exact call; whether one existed."""
        return cast(bool, self._method("invalidate", model, input, options))

    def costs(self) -> t.CostTotals:
        return cast(t.CostTotals, self._method("costs"))

    def budget(self) -> t.BudgetStatus:
        return cast(t.BudgetStatus, self._method("budget"))

    def reset_costs(self) -> None:
        self._method("reset-costs")


class Router(_Resource):
    """`router.router`."""

    _interface = ROUTER
    _resource = "router"

    def resolve(self, model: str) -> Optional[str]:
        return cast(Optional[str], self._method("resolve", model))


class Tracker(_Resource):
    """`cost-tracker.tracker`."""

    _interface = COST_TRACKER
    _resource = "tracker"

    def record_usage(self, model: str, usage: t.Usage) -> int:
        """Add one call's usage; returns its cost in micro-USD."""
        return cast(int, self._method("record-usage", model, usage))

    def totals(self) -> t.CostTotals:
        return cast(t.CostTotals, self._method("totals"))

    def check_budget(self, budget_micro_usd: int) -> t.BudgetStatus:
        return cast(t.BudgetStatus, self._method("check-budget", budget_micro_usd))

    def reset(self) -> None:
        self._method("reset")


class Allowlist(_Resource):
    """`model-allowlist.allowlist`."""

    _interface = ALLOWLIST
    _resource = "allowlist"

    def is_allowed(self, provider: str, model: str) -> bool:
        return cast(bool, self._method("is-allowed", provider, model))
