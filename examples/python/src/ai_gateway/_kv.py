"""`wasi:keyvalue@0.2.0-draft2` (store + atomics), implemented in Python.

Only what the gateway imports is defined: the store, and `increment` from
atomics (the component uses no compare-and-swap, so it does not import
`cas`/`swap`; a build that did would fail to instantiate, loudly).

The gateway keeps its response cache, shared cost totals and rate-limit
counters in key-value buckets; this host side backs them with a dict.
One `DictKeyValue` may be shared by several instances (a `threading.Lock`
guards the data), so they see one cache and one set of counters.

Resource ownership, the part that is easy to get wrong in wasmtime-py:

- `open` returns an *owned* `bucket`; the guest holds it and drops it when
  done, which runs `_drop_bucket`.
- Every method receives the bucket *borrowed*, as a `ResourceAny`. That
  borrow must be released exactly once before the host function returns,
  else the call fails with "borrow handles still remain at the end of the
  call". `ResourceAny.to_host()` releases it (it converts the handle); a
  further `drop()` on the same borrow releases the *guest's own* handle
  instead, and the guest traps later with "unknown handle index" -- which is
  what the first version of this wrapper did. So: `to_host()` once, nothing
  else.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any, Callable

import wasmtime.component as wc
from wasmtime import _ffi as ffi

KV_STORE = "wasi:keyvalue/store@0.2.0-draft2"
KV_ATOMICS = "wasi:keyvalue/atomics@0.2.0-draft2"
BUCKET_TYPE = 0xB0C4


class Err:
    """The `err` case of a `result` returned by a host function.

    wasmtime-py (50) picks the case of an untagged result by the Python
    class of the value, and an `option` ok type claims every class (its
    `none` case counts as `object`), so a plain error value for
    `result<option<list<u8>>, error>` (`bucket.get`) is taken for the ok case
    and fails to lower -- a store failure could then only trap. `Err` names
    the case explicitly; `_lower_result` below teaches wasmtime-py that.
    """

    def __init__(self, payload: Any):
        self.payload = payload


_original_lower = wc.ResultType._lower


def _lower_result(self: Any, store: Any, val: Any) -> Any:
    if isinstance(val, Err):
        if self.err is None:
            return ("err", None)
        raw = ffi.wasmtime_component_val_t()
        self.err.convert_to_c(store, val.payload, ctypes.pointer(raw))
        return ("err", ffi.wasmtime_component_val_new(ctypes.byref(raw)))
    return _original_lower(self, store, val)


if getattr(wc.ResultType._lower, "__name__", "") != "_lower_result":
    wc.ResultType._lower = _lower_result  # type: ignore[method-assign]


def _other(message: str) -> Err:
    return Err(wc.Variant("other", message))


class DictKeyValue:
    """The key-value store of one or more gateway instances, over a dict.

    `data` maps ``(bucket, key)`` to the stored bytes; tests and callers may
    read it. Counters written by `increment` are decimal ASCII, as on the
    other hosts.
    """

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], bytes] = {}
        self.lock = threading.RLock()
        self._handles: dict[int, Any] = {}
        self._next = 1
        #: Number of host calls per operation name (open, get, set, ...).
        self.calls: dict[str, int] = {}

    # -------------------------------------------------------------- linking

    def link(self, linker: wc.Linker) -> None:
        """Define both interfaces in `linker`."""
        # Linker instances are scoped: each must be closed before the next.
        with linker.root() as root:
            with root.add_instance(KV_STORE) as store_i:
                store_i.add_resource("bucket", wc.ResourceType.host(BUCKET_TYPE), self._drop_handle)
                store_i.add_func("open", self._guard("open", self._open))
                store_i.add_func("[method]bucket.get", self._guard("get", self._get))
                store_i.add_func("[method]bucket.set", self._guard("set", self._set))
                store_i.add_func("[method]bucket.delete", self._guard("delete", self._delete))
                store_i.add_func("[method]bucket.exists", self._guard("exists", self._exists))
                store_i.add_func("[method]bucket.list-keys", self._guard("list-keys", self._list_keys))
            with root.add_instance(KV_ATOMICS) as atomics_i:
                atomics_i.add_func("increment", self._guard("increment", self._increment))

    def _guard(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Count the call; a Python exception becomes the store's `other`
        error instead of a trap that would kill the instance. (Every
        function defined here returns a `result<_, error>`.)"""

        def call(store: Any, *args: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            try:
                return fn(store, *args)
            except Exception as e:  # noqa: BLE001 -- reported to the guest as a value
                return _other(f"{name}: {type(e).__name__}: {e}")

        return call

    # -------------------------------------------------------------- handles

    def _new_handle(self, value: Any, ty: int) -> wc.ResourceHost:
        with self.lock:
            rep = self._next
            self._next += 1
            self._handles[rep] = value
        return wc.ResourceHost.own(rep, ty)

    def _borrowed(self, store: Any, handle: wc.ResourceAny) -> Any:
        # Releases the borrow (see the module doc): do not also drop it.
        rep = handle.to_host(store).rep
        return self._handles[rep]

    def _drop_handle(self, _store: Any, rep: int) -> None:
        with self.lock:
            self._handles.pop(rep, None)

    # -------------------------------------------------------------- store

    def _open(self, _store: Any, name: str) -> Any:
        return self._new_handle(name, BUCKET_TYPE)

    def _get(self, store: Any, handle: Any, key: str) -> Any:
        bucket = self._borrowed(store, handle)
        with self.lock:
            return self.data.get((bucket, key))

    def _set(self, store: Any, handle: Any, key: str, value: bytes) -> Any:
        bucket = self._borrowed(store, handle)
        with self.lock:
            self.data[(bucket, key)] = bytes(value)
        return None

    def _delete(self, store: Any, handle: Any, key: str) -> Any:
        bucket = self._borrowed(store, handle)
        with self.lock:
            self.data.pop((bucket, key), None)
        return None

    def _exists(self, store: Any, handle: Any, key: str) -> Any:
        bucket = self._borrowed(store, handle)
        with self.lock:
            return (bucket, key) in self.data

    def _list_keys(self, store: Any, handle: Any, _cursor: Any) -> Any:
        bucket = self._borrowed(store, handle)
        with self.lock:
            keys = sorted(k for (b, k) in self.data if b == bucket)
        rec = wc.Record()
        setattr(rec, "keys", keys)
        setattr(rec, "cursor", None)
        return rec

    # -------------------------------------------------------------- atomics

    def _increment(self, store: Any, handle: Any, key: str, delta: int) -> Any:
        bucket = self._borrowed(store, handle)
        with self.lock:
            raw = self.data.get((bucket, key))
            try:
                current = int(raw or b"0")
            except ValueError:
                return _other(f"{key!r} does not hold a counter")
            current += delta
            self.data[(bucket, key)] = str(current).encode()
            return current
